/*
 * omp.c - the thread count (omp_* calls; core/gemm.c also sets one thread around each OpenBLAS call
 * made outside a parallel region), keeps OpenBLAS single-threaded (rnnlab threads its products
 * itself, core/gemm.c), and sets the x86 floating-point control word (flush-to-zero) on every pool
 * thread.
 *
 * Not here: parallel loops themselves (each module writes its own `#pragma omp parallel for`).
 */
#include "rnnlab/runtime.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>
#include <stdatomic.h>
#include <strings.h>

#include "core/internal.h"
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#define MXCSR_FTZ_DAZ 0x8040u /* bit 15 flush-to-zero, bit 6 denormals-are-zero */
#endif

int rnnlab_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int rnnlab_threads_get(void)
{
#ifdef _OPENMP
    /* what a parallel region gets: OMP_THREAD_LIMIT caps the count omp_set_num_threads set */
    const int n = omp_get_max_threads(), limit = omp_get_thread_limit();
    return limit > 0 && limit < n ? limit : n;
#else
    return 1;
#endif
}

void rnnlab_threads_set(int n)
{
    if (n < 1) n = 1;
    if (n > RNNLAB_MAX_THREADS) n = RNNLAB_MAX_THREADS; /* libgomp exits the process when it cannot start one */
#ifdef _OPENMP
    rnnlab_blas_serial(); /* first: it may reset the thread count set here */
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/*
 * Debian's OpenMP build of OpenBLAS (0.3.21) takes its thread count from OMP_NUM_THREADS once at
 * start-up and does not follow omp_set_num_threads. Left at 2 it multiplies a 1-thread run's large
 * products on both cores (measured: cpu/wall 1.93), and when two of our threads call it at once from
 * inside a parallel region each call takes 6x longer than alone (a 32x64x512 product: 290 us instead
 * of 37-47 us). So OpenBLAS always runs on one thread, and core/gemm.c shares fixed tiles among ours.
 * openblas_set_num_threads(1) also sets the calling thread's OpenMP thread count to 1 (measured: our
 * tiles then ran on one thread), so the count is put back right after.
 */
void rnnlab_blas_serial(void)
{
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return;
#pragma omp critical(rnnlab_blas_serial)
    if (!atomic_load_explicit(&done, memory_order_relaxed)) {
#ifdef _OPENMP
        const int n = omp_get_max_threads();
#endif
        openblas_set_num_threads(1);
#ifdef _OPENMP
        omp_set_num_threads(n);
#endif
        atomic_store_explicit(&done, 1, memory_order_release);
    }
}

int rnnlab_par_worth(double work)
{
#ifdef _OPENMP
    return work >= RNNLAB_OMP_MIN_WORK && !omp_in_parallel() && omp_get_max_threads() > 1;
#else
    (void)work;
    return 0;
#endif
}

int rnnlab_par_team(int n)
{
#ifdef _OPENMP
    if (n < 2 || !rnnlab_par_worth(RNNLAB_OMP_MIN_WORK)) return 1;
    return RNNLAB_MIN(n, rnnlab_threads_get());
#else
    (void)n;
    return 1;
#endif
}

int rnnlab_blas_small_kernels(void)
{
    static atomic_int known = -1; /* -1 until the first call asks OpenBLAS */
    int v = atomic_load_explicit(&known, memory_order_relaxed);
    if (v < 0) {
        const char *c = rnnlab_blas_core();
        v = !strcasecmp(c, "skylakex") || !strcasecmp(c, "cooperlake") || !strcasecmp(c, "sapphirerapids");
        atomic_store_explicit(&known, v, memory_order_relaxed);
    }
    return v;
}

const char *rnnlab_blas_core(void)
{
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

const char *rnnlab_blas_core_advice(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    /* OpenBLAS's x86 kernel sets of SSE alone (its DYNAMIC_ARCH names). Those of AVX without AVX2
       (Sandybridge, Bulldozer, ...) are left alone: Sandybridge's ran a W1 LSTM step 1.1x slower than
       Haswell's here, Prescott's 4.3x. */
    static const char *const old[] = {"Katmai", "Coppermine", "Northwood",  "Prescott", "Banias",
                                      "Atom",   "Core2",      "Penryn",     "Dunnington", "Nehalem",
                                      "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat"};
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    const char *core = rnnlab_blas_core();
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        if (!strcasecmp(core, old[i]))
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                           __builtin_cpu_supports("avx512cd")
                       ? "SkylakeX"
                       : "Haswell";
#endif
    return NULL;
}

int rnnlab_ftz_supported(void)
{
#ifdef HAVE_MXCSR
    return 1;
#else
    return 0;
#endif
}

#ifdef HAVE_MXCSR
static void set_mode_here(int on)
{
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | MXCSR_FTZ_DAZ) : (csr & ~MXCSR_FTZ_DAZ));
}
static int ftz_here(void) { return (_mm_getcsr() & MXCSR_FTZ_DAZ) == MXCSR_FTZ_DAZ; }
#endif

rnnlab_status rnnlab_ftz_set(int on)
{
#ifdef HAVE_MXCSR
    set_mode_here(on);
#pragma omp parallel
    set_mode_here(on);
    return RNNLAB_OK;
#else
    if (on) return rnnlab_error(RNNLAB_ERR_CONFIG, "flush-to-zero is not supported on this CPU");
    return RNNLAB_OK;
#endif
}

int rnnlab_ftz_count_threads(void)
{
#ifdef HAVE_MXCSR
    int count = 0;
#pragma omp parallel reduction(+ : count)
    count += ftz_here();
    return count;
#else
    return 0;
#endif
}
