/*
 * gru.c - the GRU cell in both published variants, G = 3, gate blocks r, z, n (PyTorch's order).
 *
 *     r = s(W_r x + b_ir + U_r h_{t-1} + b_hr)                 reset gate
 *     z = s(W_z x + b_iz + U_z h_{t-1} + b_hz)                 update gate
 *     reset_after  (default; PyTorch nn.GRU, cuDNN):
 *         n = tanh(W_n x + b_in + r * (U_n h_{t-1} + b_hn))
 *     reset_before (Cho et al. 2014, eq. 5-8; the GRU of Chung et al. 2014, eq. 5-8):
 *         n = tanh(W_n x + b_in + U_n (r * h_{t-1}) + b_hn)
 *     h_t = (1 - z) * n + z * h_{t-1}                           (PyTorch's convention for z)
 *
 * s is the logistic sigmoid. With layer norm every block of the recurrent product is normalised on
 * its own (rnnlab_rec_forward), before the reset gate touches it. Cache: gates (B, 3H) hold r, z, n;
 * extra (B, H) holds the n block's recurrent contribution + b_hn (reset_after, needed for dr) or
 * r * h_{t-1} (reset_before, the input of U_n, needed for dU_n). reset_after has a separate dzh
 * (its candidate's recurrent part is scaled by r); with layer norm both variants do.
 *
 * Dimensions: B batch, H hidden size, GH = 3H.
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"
#include "core/fastmath.h"

#include <stddef.h>

/* ---------------------------------------------------------------- reset_after (PyTorch) */

static void gru_after_step_forward(real *h, real *c, real *gates, real *extra, const real *h_prev,
                                   const real *c_prev, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B,
                                   int H, real *scratch, const R(rnnlab_ln_step) *ln)
{
    (void)c, (void)c_prev, (void)o;
    const int GH = 3 * H;
    const real *bh = p->b_hh;
    /* scratch = [LN] h_prev U^T */
    R(rnnlab_rec_forward)(scratch, h_prev, p->Ut, GH, GH, 0, ln ? p->ln_hh : NULL, ln ? ln->hat : NULL, ln ? ln->rstd : NULL,
                          GH, 3, B, H);
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        real *g_b = gates + (size_t)b * GH, *hn_b = extra + (size_t)b * H, *h_b = h + (size_t)b * H;
        const real *s_b = scratch + (size_t)b * GH, *hp_b = h_prev + (size_t)b * H;
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real r = R(rnnlab_sigmoid)(g_b[j] + s_b[j] + bh[j]);
            const real z = R(rnnlab_sigmoid)(g_b[H + j] + s_b[H + j] + bh[H + j]);
            const real hn = s_b[2 * H + j] + bh[2 * H + j]; /* U_n h + b_hn */
            const real n = R(rnnlab_tanh)(g_b[2 * H + j] + r * hn);
            h_b[j] = (1 - z) * n + z * hp_b[j];
            g_b[j] = r, g_b[H + j] = z, g_b[2 * H + j] = n;
            hn_b[j] = hn;
        }
    });
}

static void gru_after_step_backward(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total,
                                    R(rnnlab_layer_grad) *g, const real *dh, const real *dc,
                                    const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p,
                                    const rnnlab_cell_opts *o, int B, int H, real *scratch)
{
    (void)dc_prev, (void)dc_total, (void)dc, (void)scratch;
    const int GH = 3 * H;
    const size_t cr = cache->one_row ? 0 : 1; /* cache rows: row b, or row 0 for all */
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        const real *g_b = cache->gates + cr * b * GH, *hn_b = cache->extra + cr * b * H;
        const real *hp_b = cache->h_prev + cr * b * H, *dh_b = dh + (size_t)b * H;
        real *dzx_b = dzx + (size_t)b * GH, *dzh_b = dzh + (size_t)b * GH, *dhp_b = dh_prev + (size_t)b * H;
        if (cache->prefetch) {
            R(rnnlab_prefetch_prev)(g_b, (size_t)B * GH, (size_t)GH);
            R(rnnlab_prefetch_prev)(hn_b, (size_t)B * H, (size_t)H);
            R(rnnlab_prefetch_prev)(hp_b, (size_t)B * H, (size_t)H);
        }
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real r = g_b[j], z = g_b[H + j], n = g_b[2 * H + j], d = dh_b[j];
            const real dan = d * (1 - z) * (1 - n * n);       /* h = (1-z)*n + ..., n = tanh(a_n) */
            const real dzz = d * (hp_b[j] - n) * z * (1 - z); /* h = n + z*(h_prev - n), z = s(z_z) */
            const real dzr = dan * hn_b[j] * r * (1 - r);     /* a_n = ... + r*hn, r = s(z_r) */
            dzx_b[j] = dzr, dzx_b[H + j] = dzz, dzx_b[2 * H + j] = dan;
            dzh_b[j] = dzr, dzh_b[H + j] = dzz, dzh_b[2 * H + j] = dan * r; /* a_n = ... + r*(U_n h + b_hn) */
            dhp_b[j] = d * z;                                               /* h = ... + z*h_prev */
        }
    });
    const R(rnnlab_ln_step) *ln = cache->ln;
    R(rnnlab_rec_backward)(dh_prev, 1, dzh, p->U, GH, o->layer_norm ? p->ln_hh : NULL, ln ? ln->hat : NULL,
                           ln ? ln->rstd : NULL, GH, 3, g && o->layer_norm ? g->dln_hh : NULL,
                           g && o->layer_norm ? g->db_hh : NULL, B, H); /* dh_prev += dzh U */
}

static void gru_after_wgrad_hh(R(rnnlab_layer_grad) *g, const real *dZx, const real *dZh, const real *Hprev, const real *Cprev,
                               const real *Cnext, const real *extra, const R(rnnlab_layer) *p,
                               const rnnlab_cell_opts *o, int TB, int H)
{
    (void)dZx, (void)Cprev, (void)Cnext, (void)extra, (void)p, (void)o;
    R(rnnlab_wgrad_hh_plain)(g->dU, dZh, Hprev, TB, 3 * H, H);
}

const R(rnnlab_cell_ops) R(rnnlab_gru_ops) = {
    .forward = gru_after_step_forward,
    .backward = gru_after_step_backward,
    .wgrad_hh = gru_after_wgrad_hh,
    .separate_dzh = 1,
    .has_c = 0,
    .has_extra = 1,
};

/* ---------------------------------------------------------------- reset_before (Cho et al. 2014) */

static void gru_before_step_forward(real *h, real *c, real *gates, real *extra, const real *h_prev,
                                    const real *c_prev, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B,
                                    int H, real *scratch, const R(rnnlab_ln_step) *ln)
{
    (void)c, (void)c_prev, (void)o;
    const int GH = 3 * H;
    const real *bh = p->b_hh;
    /* scratch[:, r z] = [LN] h_prev U_rz^T */
    R(rnnlab_rec_forward)(scratch, h_prev, p->Ut, GH, 2 * H, 0, ln ? p->ln_hh : NULL, ln ? ln->hat : NULL,
                          ln ? ln->rstd : NULL, GH, 3, B, H);
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        real *g_b = gates + (size_t)b * GH, *rh_b = extra + (size_t)b * H;
        const real *s_b = scratch + (size_t)b * GH, *hp_b = h_prev + (size_t)b * H;
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real r = R(rnnlab_sigmoid)(g_b[j] + s_b[j] + bh[j]);
            g_b[j] = r;
            g_b[H + j] = R(rnnlab_sigmoid)(g_b[H + j] + s_b[H + j] + bh[H + j]);
            rh_b[j] = r * hp_b[j]; /* r * h_prev, the input of U_n */
        }
    });
    /* scratch[:, n] = [LN] (r*h_prev) U_n^T */
    R(rnnlab_rec_forward)(scratch + 2 * H, extra, p->Ut + 2 * H, GH, H, 0, ln ? p->ln_hh + 2 * H : NULL,
                          ln ? ln->hat + 2 * H : NULL, ln ? ln->rstd + 2 : NULL, GH, 3, B, H);
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        real *g_b = gates + (size_t)b * GH, *h_b = h + (size_t)b * H;
        const real *s_b = scratch + (size_t)b * GH, *hp_b = h_prev + (size_t)b * H;
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real z = g_b[H + j];
            const real n = R(rnnlab_tanh)(g_b[2 * H + j] + s_b[2 * H + j] + bh[2 * H + j]);
            g_b[2 * H + j] = n;
            h_b[j] = (1 - z) * n + z * hp_b[j];
        }
    });
}

static void gru_before_step_backward(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total,
                                     R(rnnlab_layer_grad) *g, const real *dh, const real *dc,
                                     const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p,
                                     const rnnlab_cell_opts *o, int B, int H, real *scratch)
{
    (void)dc_prev, (void)dc_total, (void)dc;
    const int GH = 3 * H;
    const R(rnnlab_ln_step) *ln = cache->ln;
    const int lnorm = o->layer_norm;
    real *dr = lnorm ? dzh : dzx; /* the recurrent part's gradient: apart from dzx with layer norm */
    const size_t cr = cache->one_row ? 0 : 1; /* cache rows: row b, or row 0 for all */
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        const real *g_b = cache->gates + cr * b * GH;
        const real *hp_b = cache->h_prev + cr * b * H, *dh_b = dh + (size_t)b * H;
        real *dz_b = dzx + (size_t)b * GH, *dhp_b = dh_prev + (size_t)b * H;
        if (cache->prefetch) {
            R(rnnlab_prefetch_prev)(g_b, (size_t)B * GH, (size_t)GH);
            R(rnnlab_prefetch_prev)(hp_b, (size_t)B * H, (size_t)H);
        }
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real z = g_b[H + j], n = g_b[2 * H + j], d = dh_b[j];
            dz_b[2 * H + j] = d * (1 - z) * (1 - n * n);   /* h = (1-z)*n + ..., n = tanh(a_n) */
            dz_b[H + j] = d * (hp_b[j] - n) * z * (1 - z); /* h = n + z*(h_prev - n), z = s(z_z) */
            dhp_b[j] = d * z;                              /* h = ... + z*h_prev */
        }
    });
    if (lnorm)
        for (int b = 0; b < B; b++)
            for (int k = 2 * H; k < GH; k++) dzh[(size_t)b * GH + k] = dzx[(size_t)b * GH + k];
    /* d(r*h_prev) = dz_n [LN] U_n   [a_n = ... + U_n (r*h_prev)] */
    R(rnnlab_rec_backward)(scratch, 0, dr + 2 * H, p->U + (size_t)2 * H * H, H, lnorm ? p->ln_hh + 2 * H : NULL,
                           ln ? ln->hat + 2 * H : NULL, ln ? ln->rstd + 2 : NULL, GH, 3,
                           g && lnorm ? g->dln_hh + 2 * H : NULL, g && lnorm ? g->db_hh + 2 * H : NULL, B, H);
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        const real *g_b = cache->gates + cr * b * GH, *hp_b = cache->h_prev + cr * b * H;
        const real *drh_b = scratch + (size_t)b * H;
        real *dz_b = dzx + (size_t)b * GH, *dhp_b = dh_prev + (size_t)b * H;
        _Pragma("omp simd")
        for (int j = 0; j < H; j++) {
            const real r = g_b[j];
            dz_b[j] = drh_b[j] * hp_b[j] * r * (1 - r); /* rh = r*h_prev, r = s(z_r) */
            dhp_b[j] += drh_b[j] * r;                   /* rh = r*h_prev */
        }
    });
    if (lnorm)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < 2 * H; k++) dzh[(size_t)b * GH + k] = dzx[(size_t)b * GH + k];
    /* dh_prev += dz_rz [LN] U_rz */
    R(rnnlab_rec_backward)(dh_prev, 1, dr, p->U, 2 * H, lnorm ? p->ln_hh : NULL, ln ? ln->hat : NULL,
                           ln ? ln->rstd : NULL, GH, 3, g && lnorm ? g->dln_hh : NULL, g && lnorm ? g->db_hh : NULL, B,
                           H);
}

/* dU_rz += dZ_rz^T h_{t-1};  dU_n += dZ_n^T (r*h_{t-1}) */
static void gru_before_wgrad_hh(R(rnnlab_layer_grad) *g, const real *dZx, const real *dZh, const real *Hprev, const real *Cprev,
                                const real *Cnext, const real *extra, const R(rnnlab_layer) *p,
                                const rnnlab_cell_opts *o, int TB, int H)
{
    (void)dZx, (void)Cprev, (void)Cnext, (void)p, (void)o;
    const int GH = 3 * H;
    R(rnnlab_gemm_rows)(1, 0, 2 * H, H, TB, 1, dZh, GH, Hprev, H, 1, g->dU, H);
    R(rnnlab_gemm_rows)(1, 0, H, H, TB, 1, dZh + 2 * H, GH, extra, H, 1, g->dU + (size_t)2 * H * H, H);
}

const R(rnnlab_cell_ops) R(rnnlab_gru_before_ops) = {
    .forward = gru_before_step_forward,
    .backward = gru_before_step_backward,
    .wgrad_hh = gru_before_wgrad_hh,
    .separate_dzh = 0,
    .has_c = 0,
    .has_extra = 1,
};
