/*
 * omp.c - the one file that calls omp_* functions, and sets the x86
 * floating-point control word (flush-to-zero) on every pool thread.
 *
 * Not here: parallel loops themselves (each module writes its own `#pragma omp parallel for`).
 */
#include "rnnlab/runtime.h"

#ifdef _OPENMP
#include <omp.h>
#endif
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
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void rnnlab_threads_set(int n)
{
    if (n < 1) n = 1;
#ifdef _OPENMP
    omp_set_num_threads(n); /* OpenBLAS's OpenMP build follows this too, but gemm.c keeps it serial */
#else
    (void)n;
#endif
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
