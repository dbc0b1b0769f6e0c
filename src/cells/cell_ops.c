/*
 * cell_ops.c - the per-precision table lookup of cell functions, and what the cells share: the
 * recurrent product with its optional layer normalisation, and layer normalisation itself.
 *
 * Dimension legend: B batch, H hidden size, n rows of U used (a multiple of H), ld leading dimension.
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"

#include <math.h>
#include <stddef.h>

const R(rnnlab_cell_ops) *R(rnnlab_cell_ops_get)(rnnlab_cell_kind kind, const rnnlab_cell_opts *o)
{
    switch (kind) {
    case RNNLAB_CELL_RNN: return &R(rnnlab_rnn_ops);
    case RNNLAB_CELL_LSTM: return &R(rnnlab_lstm_ops);
    case RNNLAB_CELL_GRU:
        return o->gru_variant == RNNLAB_GRU_RESET_BEFORE ? &R(rnnlab_gru_before_ops) : &R(rnnlab_gru_ops);
    default: return NULL;
    }
}

int R(rnnlab_cell_separate_dzh)(const R(rnnlab_cell_ops) *ops, const rnnlab_cell_opts *o)
{
    return ops->separate_dzh || o->layer_norm;
}

void R(rnnlab_wgrad_hh_plain)(real *dU, const real *dZh, const real *Hprev, int TB, int GH, int H)
{
    /* dU (GH, H) += dZh^T (GH, TB) Hprev (TB, H): one product over all steps */
    R(rnnlab_gemm_rows)(1, 0, GH, H, TB, 1, dZh, GH, Hprev, H, 1, dU, H);
}

/* ---------------------------------------------------------------- layer normalisation */

/* mean and variance in double (the 1/std of a float32 vector is then exact to float32) */
real R(rnnlab_ln_normalize)(real *v, int n)
{
    double s = 0, s2 = 0;
    for (int j = 0; j < n; j++) s += v[j];
    const double mean = s / n;
    for (int j = 0; j < n; j++) s2 += ((double)v[j] - mean) * ((double)v[j] - mean);
    const real rstd = (real)(1 / sqrt(s2 / n + RNNLAB_NORM_EPS));
    for (int j = 0; j < n; j++) v[j] = (real)(((double)v[j] - mean) * rstd);
    return rstd;
}

void R(rnnlab_ln_backward)(real *d, const real *hat, real rstd, int n)
{
    /* hat = (v - mean) rstd  =>  dv = rstd (dhat - mean(dhat) - hat mean(dhat hat)) */
    double a = 0, b = 0;
    for (int j = 0; j < n; j++) a += d[j], b += (double)d[j] * hat[j];
    a /= n, b /= n;
    for (int j = 0; j < n; j++) d[j] = (real)(rstd * ((double)d[j] - a - hat[j] * b));
}

/* ---------------------------------------------------------------- the recurrent product */

void R(rnnlab_rec_forward)(real *out, const real *h_in, const real *Ut, int ldu, int n, int beta, const real *gain,
                           real *hat, real *rstd, int ld, int ld_rstd, int B, int H)
{
    if (!gain) { /* out (+)= h_in U^T */
        R(rnnlab_gemm)(0, 0, B, n, H, 1, h_in, H, Ut, ldu, beta ? 1 : 0, out, ld);
        return;
    }
    R(rnnlab_gemm)(0, 0, B, n, H, 1, h_in, H, Ut, ldu, 0, hat, ld); /* the raw product, normalised in place */
    const int blocks = n / H;
    RNNLAB_PARALLEL_FOR((size_t)B * n,
    for (int b = 0; b < B; b++)
        for (int k = 0; k < blocks; k++) {
            real *v = hat + (size_t)b * ld + (size_t)k * H, *o = out + (size_t)b * ld + (size_t)k * H;
            rstd[(size_t)b * ld_rstd + k] = R(rnnlab_ln_normalize)(v, H);
            for (int j = 0; j < H; j++) o[j] = (beta ? o[j] : 0) + gain[k * H + j] * v[j];
        });
}

void R(rnnlab_rec_backward)(real *dh_in, int beta, real *d, const real *U, int n, const real *gain, const real *hat,
                            const real *rstd, int ld, int ld_rstd, real *dgain, real *dbias, int B, int H)
{
    if (gain) {
        if (dgain || dbias) /* sums over b in sample order: the same bits for any thread count */
            for (int b = 0; b < B; b++) {
                const real *d_b = d + (size_t)b * ld, *h_b = hat + (size_t)b * ld;
                for (int r = 0; r < n; r++) {
                    if (dgain) dgain[r] += d_b[r] * h_b[r];
                    if (dbias) dbias[r] += d_b[r];
                }
            }
        const int blocks = n / H;
        RNNLAB_PARALLEL_FOR((size_t)B * n,
        for (int b = 0; b < B; b++)
            for (int k = 0; k < blocks; k++) {
                real *d_bk = d + (size_t)b * ld + (size_t)k * H;
                for (int j = 0; j < H; j++) d_bk[j] *= gain[k * H + j]; /* contribution = gain * hat */
                R(rnnlab_ln_backward)(d_bk, hat + (size_t)b * ld + (size_t)k * H, rstd[(size_t)b * ld_rstd + k], H);
            });
    }
    R(rnnlab_gemm)(0, 0, B, H, n, 1, d, ld, U, H, beta ? 1 : 0, dh_in, H); /* dh_in (+)= d U */
}
