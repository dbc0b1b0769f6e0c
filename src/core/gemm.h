/*
 * gemm.h - matrix products for one precision (internal; include real.h first).
 *
 * Row-major: C (M, N) = alpha * op(A) op(B) + beta * C, op(X) = X or X^T as trans says, with
 * leading dimensions lda, ldb, ldc in elements. gemm.c is the one place that calls CBLAS.
 */
#ifndef RNNLAB_GEMM_H
#define RNNLAB_GEMM_H

#ifndef RNNLAB_REAL_H
#error "include core/real.h first"
#endif

#include <stddef.h>

void R(rnnlab_gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                    const real *B, int ldb, real beta, real *C, int ldc);

/* The same product over a block's (step, sample) rows: the input product X W^T of a block, the weight
 * gradients dZ^T X, and the gradients it sends below, dZ W. The same bits as rnnlab_gemm; the tiles go
 * to several threads only from RNNLAB_GEMM_ROWS_PAR_MNK multiply-adds on (gemm.c says why). */
void R(rnnlab_gemm_rows)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                         const real *B, int ldb, real beta, real *C, int ldc);

/* rnnlab_gemm_rows, then C[i, j] += bias[j] on every row (bias (N)), each tile's rows right after its
 * product while they are in cache rather than in a pass of its own over the whole block: the same
 * bits as the product followed by that pass. */
void R(rnnlab_gemm_rows_bias)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                              const real *B, int ldb, real beta, real *C, int ldc, const real *bias);

/* out[j] (+)= sum over rows r of A[r, j], A (rows, cols) with leading dimension lda; the sum over r
 * runs in row order for every j (parallel over j only, from RNNLAB_OMP_MIN_ROWS_WORK values on), so
 * it is the same for any thread count.
 * accumulate = 0 overwrites out. */
void R(rnnlab_colsum)(real *out, const real *A, int rows, int cols, int lda, int accumulate);

/* At (cols, rows) = A^T for A (rows, cols), both row-major and dense, in 8 x 8 tiles so that the
 * strided stores of a tile stay in 8 cache lines (element by element, every store of a 2048 x 512
 * matrix went to another page: 15-17 ms against 1-2). Full tiles take a loop of constant bounds,
 * which the compiler unrolls. An exact copy. */
void R(rnnlab_transpose)(const real *A, int rows, int cols, real *At);

/* y[i] = x[i] converting from double (n elements), and back. */
void R(rnnlab_from_double)(real *y, const double *x, size_t n);
void R(rnnlab_to_double)(double *y, const real *x, size_t n);

#endif
