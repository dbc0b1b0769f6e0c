/*
 * rnnlab/runtime.h - threads and the floating-point mode, for the whole process.
 *
 * rnnlab uses one pool of OpenMP threads for its own loops and for the matrix products, which it cuts
 * into fixed tiles and hands to OpenBLAS one tile per call (OpenBLAS itself runs single-threaded; see
 * src/core/gemm.c). Results never depend on the thread count: no floating-point sum is split
 * differently for a different number of threads.
 */
#ifndef RNNLAB_RUNTIME_H
#define RNNLAB_RUNTIME_H

#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the library was built with OpenMP, 0 otherwise (NO_OMP=1). */
int rnnlab_openmp_enabled(void);

/* The number of threads the next parallel region will use (1 without OpenMP). */
int rnnlab_threads_get(void);

/* The most threads rnnlab_threads_set gives the pool: libgomp ends the process (status 1, "Thread
 * creation failed") when it cannot start a thread, as with tens of thousands of them. */
#define RNNLAB_MAX_THREADS 1024

/* Sets the thread count for rnnlab's loops and products, for the whole process (n >= 1; n < 1 is
 * taken as 1 and n > RNNLAB_MAX_THREADS as that; values above the machine's core count are allowed
 * and only oversubscribe). The default is OpenMP's: OMP_NUM_THREADS, else every core. Without
 * OpenMP this does nothing. */
void rnnlab_threads_set(int n);

/* 1 if flush-to-zero / denormals-are-zero can be set on this CPU (x86 SSE), 0 otherwise. */
int rnnlab_ftz_supported(void);

/*
 * Sets (on != 0) or clears flush-to-zero and denormals-are-zero on the calling thread and on every
 * thread of the OpenMP pool, up to rnnlab_threads_get() threads.
 * Subnormal results then become zero, which moves the step where a decay curve reaches zero; this
 * is why the mode is off by default and recorded in every manifest.
 * Errors: RNNLAB_ERR_CONFIG if on != 0 and the CPU has no such mode.
 */
rnnlab_status rnnlab_ftz_set(int on);

/* How many of the pool's threads (as rnnlab_threads_get() would use) have flush-to-zero set
 * right now, including the caller's; for tests and manifests. */
int rnnlab_ftz_count_threads(void);

/* The name of the kernels OpenBLAS runs ("Haswell", "Cooperlake", ...), for manifests and benchmarks.
 * OpenBLAS picks them when it loads, from the CPU or from the environment variable OPENBLAS_CORETYPE;
 * they set the speed of every large product and the last bits of its results (never their dependence
 * on the thread count). */
const char *rnnlab_blas_core(void);

/* NULL unless OpenBLAS runs SSE-only kernels on a CPU with AVX2 and FMA; then the value of
 * OPENBLAS_CORETYPE to set before the program starts ("SkylakeX" on a CPU with AVX-512, "Haswell" on
 * one with AVX2 and FMA). Debian's OpenBLAS 0.3.21 falls back to its Prescott (SSE3) kernels on CPU
 * models newer than itself (seen: an Intel Xeon of family 6, model 207), and its products then run
 * about 4x slower (measured here: a W1 LSTM step 11.5 -> 49.6 ms, a W2 step 175 -> 704 ms). The
 * CLI prints a warning with this value (src/cli/main.c). A static string; the caller does not free it. */
const char *rnnlab_blas_core_advice(void);

#ifdef __cplusplus
}
#endif
#endif
