/*
 * gemm.c - the one place that calls CBLAS (OpenBLAS), plus column sums and precision copies.
 *
 * Compiled once per precision (real.h).
 *
 * Determinism: OpenBLAS's sgemm gives different bits for the same element when the product is split
 * differently (its edge kernels accumulate in another order), and its threaded dgemm also changes
 * with the thread count at large K (measured with Debian's 0.3.21 on this project's machine; see
 * README, Determinism). So rnnlab never lets OpenBLAS choose a split: a product larger than
 * RNNLAB_GEMM_SERIAL_MNK is cut into fixed tiles of tile_len() rows (or columns, whichever
 * dimension of C is longer), a layout that depends on the shape alone, and the tiles are shared
 * among the OpenMP threads. Each tile is one single-threaded OpenBLAS call: inside an active
 * parallel region Debian's OpenMP build of OpenBLAS runs on one thread by itself, and outside one
 * (products at or below the threshold, and tiles the pool does not share) blas_call sets the
 * caller's thread count to 1 around the call. The result is the same for any thread count, and
 * tests/test_determinism.c checks it byte for byte.
 */
#include "core/real.h"
#include "core/gemm.h"
#include "core/internal.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stddef.h>
#include <string.h>

/*
 * The tile length for a product whose longer side of C is cut (by rows when M >= N): a function of
 * the shape alone, so the bits never depend on the thread count. Measured with OpenBLAS 0.3.21 on
 * this project's machine (single calls, GFLOP/s at tiles of 64 / 128 / 256 rows or columns): row
 * tiles gain up to 256 (W2 dU 2048x512x3200: 138 / 152 / 168; W1 input projection 130 / 142 / 152),
 * column tiles of the per-step products do not (W1 32x512x128: 157 / 159 / 120); 64 columns keep
 * narrow products (N < 512) in two tiles or more for two threads.
 */
static int tile_len(int by_rows, int N)
{
    if (by_rows) return 256;
    return N >= 512 ? 128 : 64;
}
#define RNNLAB_GEMM_SERIAL_MNK (1 << 18)
#ifndef RNNLAB_GEMM_PAR_MNK
#define RNNLAB_GEMM_PAR_MNK (1 << 20) /* at least this many multiply-adds for tiles on several threads */
#endif
/* The same for products over a block's (step, sample) rows (rnnlab_gemm_rows): their operands are
 * activations the time loop has just written on the calling thread, or is about to read there, so a
 * tile on another core first moves its rows between the cores' caches (W3's dU, 128 x 32 x 1024,
 * took longer on two threads than on one). */
#ifndef RNNLAB_GEMM_ROWS_PAR_MNK
#define RNNLAB_GEMM_ROWS_PAR_MNK (1 << 24)
#endif
#ifndef RNNLAB_GEMM_SMALL_MNK
/* at most this many multiply-adds: gemm_small, unless OpenBLAS's kernels have a small-matrix path of
   their own, which is faster still (measured, README: Performance) */
#define RNNLAB_GEMM_SMALL_MNK (1 << 18)
#endif


static void R(blas_call)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                         const real *B, int ldb, real beta, real *C, int ldc)
{
#ifdef _OPENMP
    /* Debian's OpenMP OpenBLAS sizes its own team from the caller's OpenMP thread count at each call
       outside a parallel region (openblas_set_num_threads(1) notwithstanding; measured with
       OPENBLAS_CORETYPE=Haswell: a 128x128x32 product's bits differ between 1 and 2 threads). One
       thread here keeps every product on one thread, so the bits never depend on the count. Up to
       2^18 multiply-adds OpenBLAS stays on one thread by itself, so the per-step products skip the
       two library calls. */
    const int nt = (double)M * N * K <= RNNLAB_GEMM_SERIAL_MNK || omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt > 1) omp_set_num_threads(1);
#endif
#if RNNLAB_REAL_BITS == 32
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
#ifdef _OPENMP
    if (nt > 1) omp_set_num_threads(nt);
#endif
}

/* C[i, j0 + j] += bias[j0 + j] for rows i0..i0+m-1 and columns j0..j0+n-1 (the bias of rnnlab_gemm_rows_bias) */
static void R(add_bias)(real *C, int ldc, int i0, int m, int j0, int n, const real *bias)
{
    for (int i = i0; i < i0 + m; i++) {
        real *c = C + (size_t)i * ldc + j0;
        const real *b = bias + j0;
#pragma omp simd
        for (int j = 0; j < n; j++) c[j] += b[j];
    }
}

/* a*b + c, fused where the target has it (one rounding; the same bits on every run of one build) */
#if defined(__FMA__)
#define MADD(a, b, c) fma((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

/*
 * C (M, N) = A (M, K) B (K, N) + beta C, both untransposed, for the small products of one time step
 * (B x H times H x G*H for the models of gradient experiments), where OpenBLAS spends more on packing
 * and on zeroing C than on arithmetic. Blocks of 4 rows x SMALL_NB columns of C stay in registers
 * while k runs; each element of C sums its K terms in order k = 0..K-1, whatever the blocking.
 */
#define SMALL_NB (64 / (int)sizeof(real)) /* two AVX2 vectors */
static void R(gemm_small)(int M, int N, int K, const real *A, int lda, const real *B, int ldb, real beta, real *C,
                          int ldc)
{
    for (int i0 = 0; i0 < M; i0 += 4) {
        const int mi = RNNLAB_MIN(4, M - i0);
        for (int j0 = 0; j0 < N; j0 += SMALL_NB) {
            const int nj = RNNLAB_MIN(SMALL_NB, N - j0);
            real acc[4][SMALL_NB];
            if (mi == 4 && nj == SMALL_NB) { /* the full block: fixed trip counts the compiler unrolls */
                for (int r = 0; r < 4; r++) {
                    const real *c = C + (size_t)(i0 + r) * ldc + j0;
#pragma omp simd
                    for (int j = 0; j < SMALL_NB; j++) acc[r][j] = beta == 0 ? 0 : beta * c[j];
                }
                for (int k = 0; k < K; k++) {
                    const real *b = B + (size_t)k * ldb + j0;
                    const real a0 = A[(size_t)i0 * lda + k], a1 = A[(size_t)(i0 + 1) * lda + k];
                    const real a2 = A[(size_t)(i0 + 2) * lda + k], a3 = A[(size_t)(i0 + 3) * lda + k];
#pragma omp simd
                    for (int j = 0; j < SMALL_NB; j++) {
                        acc[0][j] = MADD(a0, b[j], acc[0][j]);
                        acc[1][j] = MADD(a1, b[j], acc[1][j]);
                        acc[2][j] = MADD(a2, b[j], acc[2][j]);
                        acc[3][j] = MADD(a3, b[j], acc[3][j]);
                    }
                }
                for (int r = 0; r < 4; r++) {
                    real *c = C + (size_t)(i0 + r) * ldc + j0;
#pragma omp simd
                    for (int j = 0; j < SMALL_NB; j++) c[j] = acc[r][j];
                }
                continue;
            }
            for (int r = 0; r < mi; r++) /* an edge block */
                for (int j = 0; j < nj; j++) acc[r][j] = beta == 0 ? 0 : beta * C[(size_t)(i0 + r) * ldc + j0 + j];
            for (int k = 0; k < K; k++)
                for (int r = 0; r < mi; r++) {
                    const real a = A[(size_t)(i0 + r) * lda + k];
                    const real *b = B + (size_t)k * ldb + j0;
                    for (int j = 0; j < nj; j++) acc[r][j] = MADD(a, b[j], acc[r][j]);
                }
            for (int r = 0; r < mi; r++)
                for (int j = 0; j < nj; j++) C[(size_t)(i0 + r) * ldc + j0 + j] = acc[r][j];
        }
    }
}

/*
 * C (M, N) = op(A) (M, K) op(B) (K, N) + beta C for K <= THIN_K: the input projection of a model
 * with a few inputs (I = 1 in the gradient experiments) and the head's products with a few outputs.
 * OpenBLAS packs both operands for a product this thin and spends far more on that than on the
 * M*N*K multiply-adds. Rows are shared among the threads; every element sums its K terms in order
 * k = 0..K-1, so the result does not depend on the thread count.
 */
#define THIN_K 8
static void R(gemm_thin)(int rows, int trans_a, int trans_b, int M, int N, int K, const real *A, int lda,
                         const real *B, int ldb, real beta, real *C, int ldc, const real *bias)
{
    const size_t sa_i = trans_a ? 1 : (size_t)lda, sa_k = trans_a ? (size_t)lda : 1;
    const size_t sb_k = trans_b ? 1 : (size_t)ldb, sb_j = trans_b ? (size_t)ldb : 1;
    const double mnk = (double)M * N * K;
    RNNLAB_PARALLEL_FOR(!rows || mnk >= RNNLAB_GEMM_ROWS_PAR_MNK ? mnk / 8.0 : 0,
    for (int i = 0; i < M; i++) {
        real *c = C + (size_t)i * ldc;
        int k0 = 0;
        if (beta == 0) { /* the first term a b + 0: the bits of MADD(a, b, +0) on a zeroed row, without zeroing it */
            const real a = A[i * sa_i];
            const real *b = B;
            if (sb_j == 1) {
                _Pragma("omp simd")
                for (int j = 0; j < N; j++) c[j] = a * b[j] + 0;
            } else
                for (int j = 0; j < N; j++) c[j] = a * b[j * sb_j] + 0;
            k0 = 1;
        } else if (beta != 1)
            for (int j = 0; j < N; j++) c[j] *= beta;
        for (int k = k0; k < K; k++) {
            const real a = A[i * sa_i + k * sa_k];
            const real *b = B + k * sb_k;
            if (sb_j == 1) {
                _Pragma("omp simd")
                for (int j = 0; j < N; j++) c[j] = MADD(a, b[j], c[j]);
            } else
                for (int j = 0; j < N; j++) c[j] = MADD(a, b[j * sb_j], c[j]);
        }
        if (bias) R(add_bias)(C, ldc, i, 1, 0, N, bias);
    });
}

/* rnnlab_gemm (rows = 0) and rnnlab_gemm_rows (rows = 1): the same tiles, shared among the threads
 * from RNNLAB_GEMM_PAR_MNK or RNNLAB_GEMM_ROWS_PAR_MNK multiply-adds on (a thin product: from an
 * eighth of its multiply-adds passing RNNLAB_OMP_MIN_WORK, and for rows from the rows threshold). */
static void R(gemm_with)(int rows, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                         int lda, const real *B, int ldb, real beta, real *C, int ldc, const real *bias)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* BLAS would still scale C by beta; do that here so the K = 0 case has one meaning */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        if (bias) R(add_bias)(C, ldc, 0, M, 0, N, bias);
        return;
    }
    const double mnk = (double)M * N * K;
    if (K <= THIN_K && alpha == 1) {
        R(gemm_thin)(rows, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, bias);
        return;
    }
    if (!trans_a && !trans_b && alpha == 1 && mnk <= RNNLAB_GEMM_SMALL_MNK && !rnnlab_blas_small_kernels()) {
        R(gemm_small)(M, N, K, A, lda, B, ldb, beta, C, ldc);
        if (bias) R(add_bias)(C, ldc, 0, M, 0, N, bias);
        return;
    }
    rnnlab_blas_serial(); /* OpenBLAS on one thread: see core/omp.c */
    if (mnk <= RNNLAB_GEMM_SERIAL_MNK) {
        R(blas_call)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        if (bias) R(add_bias)(C, ldc, 0, M, 0, N, bias);
        return;
    }
    const int by_rows = M >= N, len = by_rows ? M : N, tl = tile_len(by_rows, N), ntiles = (len + tl - 1) / tl;
    /* the tiles go to the pool only when each thread's share outweighs a region's cost (about 3 us
       here, 2 threads: a few hundred thousand multiply-adds); serial or not, the tiles are the same */
    RNNLAB_PARALLEL_FOR(mnk >= (rows ? RNNLAB_GEMM_ROWS_PAR_MNK : RNNLAB_GEMM_PAR_MNK) ? mnk : 0,
    for (int tile = 0; tile < ntiles; tile++) {
        const int lo = tile * tl, n = RNNLAB_MIN(tl, len - lo);
        if (by_rows) { /* rows lo..lo+n of C: rows of op(A) */
            R(blas_call)(trans_a, trans_b, n, N, K, alpha, trans_a ? A + lo : A + (size_t)lo * lda, lda, B, ldb, beta,
                         C + (size_t)lo * ldc, ldc);
            if (bias) R(add_bias)(C, ldc, lo, n, 0, N, bias);
        } else { /* columns lo..lo+n of C: columns of op(B) */
            R(blas_call)(trans_a, trans_b, M, n, K, alpha, A, lda, trans_b ? B + (size_t)lo * ldb : B + lo, ldb, beta,
                         C + lo, ldc);
            if (bias) R(add_bias)(C, ldc, 0, M, lo, n, bias);
        }
    });
}

void R(rnnlab_gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                    const real *B, int ldb, real beta, real *C, int ldc)
{
    R(gemm_with)(0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void R(rnnlab_gemm_rows)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                         const real *B, int ldb, real beta, real *C, int ldc)
{
    R(gemm_with)(1, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void R(rnnlab_gemm_rows_bias)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                              const real *B, int ldb, real beta, real *C, int ldc, const real *bias)
{
    R(gemm_with)(1, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void R(rnnlab_colsum)(real *out, const real *A, int rows, int cols, int lda, int accumulate)
{
    /* Columns in chunks of 64, one chunk per thread at a time, rows in order inside a chunk: the
     * reads stay contiguous, the chunk's sums stay in a local array (out might alias nothing, but the
     * compiler cannot know), and every out[j] sums its rows in row order. */
    enum { CHUNK = 64 };
    const int nchunks = (cols + CHUNK - 1) / CHUNK;
    RNNLAB_PARALLEL_FOR(RNNLAB_ROWS_WORK((size_t)rows * cols), /* the rows of a block or a batch */
    for (int c = 0; c < nchunks; c++) {
        const int j0 = c * CHUNK, n = RNNLAB_MIN(cols - j0, CHUNK);
        real acc[CHUNK];
        for (int j = 0; j < n; j++) acc[j] = accumulate ? out[j0 + j] : 0;
        for (int r = 0; r < rows; r++) {
            const real *a = A + (size_t)r * lda + j0;
            _Pragma("omp simd")
            for (int j = 0; j < n; j++) acc[j] += a[j];
        }
        for (int j = 0; j < n; j++) out[j0 + j] = acc[j];
    });
}

void R(rnnlab_transpose)(const real *A, int rows, int cols, real *At)
{
    for (int i0 = 0; i0 < rows; i0 += 8)
        for (int j0 = 0; j0 < cols; j0 += 8) {
            const int ni = RNNLAB_MIN(8, rows - i0), nj = RNNLAB_MIN(8, cols - j0);
            if (ni == 8 && nj == 8)
                for (int j = 0; j < 8; j++)
                    for (int i = 0; i < 8; i++) At[(size_t)(j0 + j) * rows + i0 + i] = A[(size_t)(i0 + i) * cols + j0 + j];
            else
                for (int j = 0; j < nj; j++)
                    for (int i = 0; i < ni; i++) At[(size_t)(j0 + j) * rows + i0 + i] = A[(size_t)(i0 + i) * cols + j0 + j];
        }
}

void R(rnnlab_from_double)(real *y, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (real)x[i];
}

void R(rnnlab_to_double)(double *y, const real *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (double)x[i];
}
