/*
 * rnn.c - the vanilla (Elman) RNN cell, G = 1.
 *
 *     h_t = act(W x_t + b_ih + U h_{t-1} + b_hh)          (Elman 1990; PyTorch nn.RNN)
 *
 * act is tanh, sigmoid, relu, leaky_relu (alpha) or identity (a linear RNN). The cache is h_t
 * itself: every activation's derivative is a function of its output (core/ops.h).
 * Not here: the input projection W x_t + b_ih (bptt.c, one product over all steps) and dW.
 *
 * Dimensions: B batch, H hidden size; gates (B, H) is the pre-activation buffer.
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"
#include "core/ops.h"

#include <stddef.h>

/* z = gates + U h_prev + b_hh;  h = act(z) */
static void rnn_step_forward(real *h, real *c, real *gates, real *extra, const real *h_prev, const real *c_prev,
                             const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B, int H, real *scratch)
{
    (void)c, (void)extra, (void)c_prev, (void)scratch;
    const rnnlab_activation act = o->act;
    const real alpha = (real)o->alpha;
    R(rnnlab_gemm)(0, 1, B, H, H, 1, h_prev, H, p->U, H, 1, gates, H); /* gates += h_prev U^T */
#pragma omp parallel for schedule(static) if ((size_t)B * H >= RNNLAB_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        const real *z_b = gates + (size_t)b * H;
        real *h_b = h + (size_t)b * H;
        for (int j = 0; j < H; j++) h_b[j] = R(act_forward)(act, alpha, z_b[j] + p->b_hh[j]);
    }
}

/* dz = dh * act'(z) (from h);  dh_prev = dz U   [inverts h = act(z), z = ... + U h_prev] */
static void rnn_step_backward(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total, const real *dh,
                              const real *dc, const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p,
                              const rnnlab_cell_opts *o, int B, int H, real *scratch)
{
    (void)dc_prev, (void)dzh, (void)dc_total, (void)dc, (void)scratch;
    const rnnlab_activation act = o->act;
    const real alpha = (real)o->alpha;
#pragma omp parallel for schedule(static) if ((size_t)B * H >= RNNLAB_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        const real *h_b = cache->h + (size_t)b * H, *dh_b = dh + (size_t)b * H;
        real *dz_b = dzx + (size_t)b * H;
        for (int j = 0; j < H; j++) dz_b[j] = dh_b[j] * R(act_deriv_from_output)(act, alpha, h_b[j]);
    }
    R(rnnlab_gemm)(0, 0, B, H, H, 1, dzx, H, p->U, H, 0, dh_prev, H); /* dh_prev = dz U */
}

static void rnn_wgrad_hh(R(rnnlab_layer_grad) *g, const real *dZh, const real *Hprev, const real *Cprev,
                         const real *Cnext, const real *extra, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o,
                         int TB, int H)
{
    (void)Cprev, (void)Cnext, (void)extra, (void)p, (void)o;
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
