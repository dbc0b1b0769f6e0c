/*
 * rnn.c - the vanilla (Elman) RNN cell, G = 1.
 *
 *     z_t = W x_t + b_ih + U h_{t-1} + b_hh,   h_t = act(z_t)      (Elman 1990; PyTorch nn.RNN)
 *     with layer norm: z_t = g_ih * LN(W x_t) + b_ih + g_hh * LN(U h_{t-1}) + b_hh (Ba et al. 2016)
 *
 * act is tanh, sigmoid, relu, leaky_relu (alpha), prelu (a learned slope a_j per unit, He et al.
 * 2015: z for z > 0, a_j z otherwise) or identity (a linear RNN). The cache is z (in gates) and h_t:
 * every fixed activation's derivative is a function of its output (tanh: 1 - y^2, sigmoid:
 * y (1 - y)); prelu's needs z. At the kink z = 0 the derivative is PyTorch's: 0 for relu, alpha for
 * leaky_relu (its backward tests z > 0).
 * Not here: the input projection W x_t + b_ih and its normalisation (bptt.c, one product over all
 * steps) and dW.
 *
 * Dimensions: B batch, H hidden size; gates (B, H).
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"
#include "core/fastmath.h"

#include <stddef.h>

/* z = gates + [LN] U h_prev + b_hh;  h = act(z) */
static void rnn_step_forward(real *h, real *c, real *gates, real *extra, const real *h_prev, const real *c_prev,
                             const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B, int H, real *scratch,
                             const R(rnnlab_ln_step) *ln)
{
    (void)c, (void)extra, (void)c_prev, (void)scratch;
    const rnnlab_activation act = o->act;
    const real alpha = (real)o->alpha;
    R(rnnlab_rec_forward)(gates, h_prev, p->Ut, H, H, 1, ln ? p->ln_hh : NULL, ln ? ln->hat : NULL, ln ? ln->rstd : NULL,
                          H, 1, B, H);
    const real *bh = p->b_hh, *slope = p->prelu;
    /* one loop per activation, so that each is branch-free and vectorises */
#define RNN_FORWARD(EXPR)                                                                                          \
    _Pragma("omp simd") for (int j = 0; j < H; j++) {                                                                                  \
        const real z = z_b[j] + bh[j];                                                                             \
        z_b[j] = z;                                                                                                \
        h_b[j] = (EXPR);                                                                                           \
    }
    RNNLAB_PARALLEL_FOR((size_t)B * H,
    for (int b = 0; b < B; b++) {
        real *z_b = gates + (size_t)b * H, *h_b = h + (size_t)b * H;
        switch (act) {
        case RNNLAB_ACT_TANH: RNN_FORWARD(R(rnnlab_tanh)(z)) break;
        case RNNLAB_ACT_SIGMOID: RNN_FORWARD(R(rnnlab_sigmoid)(z)) break;
        case RNNLAB_ACT_RELU: RNN_FORWARD(z > 0 ? z : 0) break;
        case RNNLAB_ACT_LEAKY_RELU: RNN_FORWARD(z > 0 ? z : alpha * z) break;
        case RNNLAB_ACT_PRELU: RNN_FORWARD(z > 0 ? z : slope[j] * z) break;
        default: RNN_FORWARD(z) break;
        }
    });
#undef RNN_FORWARD
}

/* dz = dh * act'(z);  da_j += dh * z (z <= 0, prelu);  dh_prev = dz [LN] U   [inverts h = act(z)] */
static void rnn_step_backward(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total,
                              R(rnnlab_layer_grad) *g, const real *dh, const real *dc,
                              const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o,
                              int B, int H, real *scratch)
{
    (void)dc_prev, (void)dc_total, (void)dc, (void)scratch;
    const rnnlab_activation act = o->act;
    const real alpha = (real)o->alpha;
    const real *slope = p->prelu;
    /* h = a z for z <= 0: da += dh z, sample by sample in order; before dz, which may go over z in
       place (keep_cache = 0) */
    const size_t cr = cache->one_row ? 0 : 1; /* cache rows: row b, or row 0 for all */
    if (act == RNNLAB_ACT_PRELU && g)
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                const real z = cache->gates[cr * b * H + j];
                if (!(z > 0)) g->dprelu[j] += dh[(size_t)b * H + j] * z;
            }
    /* dz = dh * act'(z), the derivative from the output y = act(z) (core/ops.h), one loop per activation */
#define RNN_BACKWARD(DERIV)                                                                                        \
    _Pragma("omp simd") for (int j = 0; j < H; j++) {                                                                                  \
        const real y = h_b[j], z = z_b[j];                                                                         \
        (void)y, (void)z;                                                                                          \
        dz_b[j] = dh_b[j] * (DERIV);                                                                               \
    }
    RNNLAB_PARALLEL_FOR((size_t)B * H,
    for (int b = 0; b < B; b++) {
        const real *h_b = cache->h + cr * b * H, *z_b = cache->gates + cr * b * H, *dh_b = dh + (size_t)b * H;
        real *dz_b = dzx + (size_t)b * H;
        if (cache->prefetch) {
            R(rnnlab_prefetch_prev)(h_b, (size_t)B * H, (size_t)H);
            R(rnnlab_prefetch_prev)(z_b, (size_t)B * H, (size_t)H);
        }
        switch (act) {
        case RNNLAB_ACT_TANH: RNN_BACKWARD(1 - y * y) break;
        case RNNLAB_ACT_SIGMOID: RNN_BACKWARD(y * (1 - y)) break;
        case RNNLAB_ACT_RELU: RNN_BACKWARD(y > 0 ? (real)1 : (real)0) break;
        case RNNLAB_ACT_LEAKY_RELU: RNN_BACKWARD(y > 0 ? (real)1 : alpha) break;
        case RNNLAB_ACT_PRELU: RNN_BACKWARD(z > 0 ? (real)1 : slope[j]) break;
        default: RNN_BACKWARD((real)1) break;
        }
    });
#undef RNN_BACKWARD
    real *d = dzx;
    if (o->layer_norm) { /* the recurrent part has its own gradient (normalised differently) */
        for (size_t i = 0; i < (size_t)B * H; i++) dzh[i] = dzx[i];
        d = dzh;
    }
    R(rnnlab_rec_backward)(dh_prev, 0, d, p->U, H, o->layer_norm ? p->ln_hh : NULL, cache->ln ? cache->ln->hat : NULL,
                           cache->ln ? cache->ln->rstd : NULL, H, 1, g && o->layer_norm ? g->dln_hh : NULL,
                           g && o->layer_norm ? g->db_hh : NULL, B, H); /* dh_prev = dz U */
}

static void rnn_wgrad_hh(R(rnnlab_layer_grad) *g, const real *dZx, const real *dZh, const real *Hprev, const real *Cprev,
                         const real *Cnext, const real *extra, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o,
                         int TB, int H)
{
    (void)dZx, (void)Cprev, (void)Cnext, (void)extra, (void)p, (void)o;
    R(rnnlab_wgrad_hh_plain)(g->dU, dZh, Hprev, TB, H, H);
}

const R(rnnlab_cell_ops) R(rnnlab_rnn_ops) = {
    .forward = rnn_step_forward,
    .backward = rnn_step_backward,
    .wgrad_hh = rnn_wgrad_hh,
    .separate_dzh = 0,
    .has_c = 0,
    .has_extra = 0,
};
