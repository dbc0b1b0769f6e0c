/*
 * internal.h - declarations shared between library files but not part of the public API.
 *
 * RNNLAB_ASSERT is for internal invariants only (never for bad input, which returns a status). It
 * is on in DEBUG and test builds (-DRNNLAB_DEBUG) and prints file:line before aborting.
 * RNNLAB_OMP_MIN_WORK is the element count below which a parallel loop runs serially (its `if`
 * clause): below it, waking a second thread costs more than the loop (see README, Performance).
 */
#ifndef RNNLAB_INTERNAL_H
#define RNNLAB_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>

#ifdef RNNLAB_DEBUG
#define RNNLAB_ASSERT(cond, msg)                                                                     \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: internal error: %s (%s)\n", __FILE__, __LINE__, msg, #cond);    \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)
#else
#define RNNLAB_ASSERT(cond, msg) ((void)0)
#endif

#ifndef RNNLAB_OMP_MIN_WORK
#define RNNLAB_OMP_MIN_WORK 32768
#endif

#define RNNLAB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RNNLAB_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Sets OpenBLAS to one thread, once per process (thread-safe; core/omp.c says why). Called before
 * every OpenBLAS product and by rnnlab_threads_set. */
void rnnlab_blas_serial(void);

#endif
