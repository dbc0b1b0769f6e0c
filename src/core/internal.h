/*
 * internal.h - declarations shared between library files but not part of the public API.
 *
 * RNNLAB_ASSERT is for internal invariants only (never for bad input, which returns a status). It
 * is on in DEBUG and test builds (-DRNNLAB_DEBUG) and prints file:line before aborting.
 * RNNLAB_OMP_MIN_WORK is the element count below which a parallel loop runs serially (its `if`
 * clause): below it, waking a second thread costs more than the loop (see README, Performance).
 * RNNLAB_OMP_MIN_ROWS_WORK is the same for loops over a block's (step, sample) rows, which the time
 * loop has just written on the calling thread or reads there next: sharing them first moves the rows
 * between the cores' caches (and, with the passive wait policy, wakes a sleeping thread), so only
 * large ones pay. A W3 LSTM step on 2 threads took 2.0 ms against 0.96 on 1 with the bias sums and
 * additions of its 131072-value blocks shared, and the same as on 1 thread without (README,
 * Performance). rnnlab_gemm_rows is the matching product (core/gemm.h).
 */
#ifndef RNNLAB_INTERNAL_H
#define RNNLAB_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rnnlab/status.h"

/* Returns RNNLAB_ERR_CONFIG from the calling function, with the message "fn: p must not be NULL",
 * when the pointer argument p is NULL: the public functions that return a status check the pointers
 * their header does not allow to be NULL (rnnlab/status.h). */
#define RNNLAB_REQUIRE_PTR(fn, p)                                                                    \
    do {                                                                                             \
        if (!(p)) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: %s must not be NULL", fn, #p);        \
    } while (0)

/* RNNLAB_ERR_CONFIG naming field and value unless v is finite and in [lo, hi] ([lo, hi) when hi_open);
 * an infinite hi reads "must be finite and >= lo". core/status.c. */
rnnlab_status rnnlab_check_range(const char *field, double v, double lo, double hi, int hi_open);

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
#ifndef RNNLAB_OMP_MIN_ROWS_WORK
#define RNNLAB_OMP_MIN_ROWS_WORK (1 << 20)
#endif
/* The work to hand RNNLAB_PARALLEL_FOR for a loop over a block's rows: 0 (serial) below
 * RNNLAB_OMP_MIN_ROWS_WORK. */
#define RNNLAB_ROWS_WORK(work) ((double)(work) >= RNNLAB_OMP_MIN_ROWS_WORK ? (double)(work) : 0.0)

#define RNNLAB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RNNLAB_MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * RNNLAB_PARALLEL_FOR(work, for (...) { ... }) runs the for statement on the OpenMP pool (static
 * schedule) when rnnlab_par_worth(work), else as a plain loop. An `if` clause would not do: libgomp
 * enters a region, one futex call included, even when the clause is false (1.2 us a region on one
 * thread, measured on this project's machine; a W3 step has about a thousand small loops). The
 * statement is a macro argument, so inside it write _Pragma("omp simd"), not #pragma.
 */
#define RNNLAB_PARALLEL_FOR(work, ...)                                                                       \
    do {                                                                                                    \
        if (rnnlab_par_worth((double)(work))) {                                                              \
            _Pragma("omp parallel for schedule(static)") __VA_ARGS__                                         \
        } else {                                                                                            \
            __VA_ARGS__                                                                                     \
        }                                                                                                   \
    } while (0)

/*
 * RNNLAB_PARALLEL_PARTS(n, for (...) { ... }) runs a loop of n independent parts (a split workspace's
 * batch parts, bptt.c), one thread per part at most: the team is min(n, the pool's thread count), so
 * a pool larger than n does not wake threads with nothing to do. With the whole pool woken, a W1
 * rnn_tanh step (2 parts) took 1.85-1.90 ms on 8 threads of this project's 2 cores against 1.62 on 2;
 * with this, 1.61 (README, Performance: past two cores).
 * Runs the loop plainly where rnnlab_par_worth says no (one thread, or inside a parallel region).
 */
#define RNNLAB_PARALLEL_PARTS(n, ...)                                                                        \
    do {                                                                                                    \
        const int rnnlab_team_ = rnnlab_par_team(n);                                                         \
        if (rnnlab_team_ > 1) {                                                                             \
            _Pragma("omp parallel for schedule(static) num_threads(rnnlab_team_)") __VA_ARGS__              \
        } else {                                                                                            \
            __VA_ARGS__                                                                                     \
        }                                                                                                   \
    } while (0)

/* The team for n independent parts: min(n, the pool's thread count), or 1 where a parallel loop
 * would not be worth entering (rnnlab_par_worth: one thread, or already inside a parallel region).
 * core/omp.c. */
int rnnlab_par_team(int n);

/* 1 when a loop of `work` elements should be shared among threads: work >= RNNLAB_OMP_MIN_WORK, the
 * pool has more than one thread, and the caller is not already inside a parallel region (the runner's
 * side-by-side jobs are). core/omp.c. */
int rnnlab_par_worth(double work);

/* Sets OpenBLAS to one thread, once per process (thread-safe; core/omp.c says why). Called before
 * every OpenBLAS product and by rnnlab_threads_set. */
void rnnlab_blas_serial(void);

/* 1 when the OpenBLAS kernels in use have their own small-matrix path (OpenBLAS 0.3.17+ on the
 * AVX-512 cores SkylakeX, Cooperlake, SapphireRapids: no packing for small products), so core/gemm.c
 * hands small products to OpenBLAS instead of its own register-blocked kernel. core/omp.c. */
int rnnlab_blas_small_kernels(void);

/* Decodes one UTF-8 sequence at p (n >= 1 bytes left) into *cp; returns its length (1-4), or 0 if
 * invalid (overlong forms, surrogates and values above U+10FFFF included: RFC 3629). core/format.c. */
int rnnlab_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

#endif
