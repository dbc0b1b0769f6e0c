/*
 * gemm.c - the one place that calls CBLAS (OpenBLAS), plus column sums and precision copies.
 *
 * Compiled once per precision (real.h). OpenBLAS splits a product over rows and columns of C, never
 * over the inner dimension K, so each element's sum runs in the same order for any thread count;
 * tests/test_determinism.c checks this byte for byte.
 */
#include "core/real.h"
#include "core/gemm.h"
#include "core/internal.h"

#include <cblas.h>
#include <stddef.h>

void R(rnnlab_gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                    const real *B, int ldb, real beta, real *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* BLAS would still scale C by beta; do that here so the K = 0 case has one meaning */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
#if RNNLAB_REAL_BITS == 32
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void R(rnnlab_colsum)(real *out, const real *A, int rows, int cols, int lda, int accumulate)
{
    /* Columns in chunks of 64, one chunk per thread at a time, rows in order inside a chunk: the
     * reads stay contiguous and every out[j] sums its rows in row order. */
    const int chunk = 64, nchunks = (cols + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= RNNLAB_OMP_MIN_WORK)
    for (int c = 0; c < nchunks; c++) {
        const int j0 = c * chunk, j1 = RNNLAB_MIN(cols, j0 + chunk);
        if (!accumulate)
            for (int j = j0; j < j1; j++) out[j] = 0;
        for (int r = 0; r < rows; r++) {
            const real *A_r = A + (size_t)r * lda;
            for (int j = j0; j < j1; j++) out[j] += A_r[j];
        }
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
