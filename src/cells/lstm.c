/*
 * lstm.c - the LSTM cell with forget gate and optional diagonal peepholes, G = 4.
 *
 *     [z_i z_f z_g z_o] = W x_t + b_ih + U h_{t-1} + b_hh     gate blocks in PyTorch's order i, f, g, o
 *     i = s(z_i + p_i * c_{t-1})                               input gate
 *     f = s(z_f + p_f * c_{t-1})                               forget gate (Gers, Schmidhuber & Cummins 2000)
 *     g = tanh(z_g)                                            candidate
 *     c_t = f * c_{t-1} + i * g                                (Hochreiter & Schmidhuber 1997)
 *     o = s(z_o + p_o * c_t)                                   output gate; peepholes p (3, H) are
 *     h_t = o * tanh(c_t)                                      optional (Gers & Schmidhuber 2000) and
 *                                                              absent (zero) in PyTorch's nn.LSTM
 * s is the logistic sigmoid. With layer norm (Ba, Kiros & Hinton 2016, eq. 20-22) each block of the
 * two products is normalised (bptt.c does W x, rnnlab_rec_forward U h) and h_t = o * tanh(g_c *
 * LN(c_t) + b_c). Cache: gates (B, 4H) hold i, f, g, o after forward; extra (B, H) holds tanh(c_t)
 * (or of its normalisation); c_t and c_{t-1} come from the stored cell states.
 *
 * Dimensions: B batch, H hidden size, GH = 4H.
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"
#include "core/fastmath.h"

#include <stddef.h>

/* One sample's forward, inlined with constant peep/ln flags so that each combination compiles to
 * branch-free loops the compiler vectorises. */
static RNNLAB_INLINE void R(lstm_forward_row)(real *g_b, real *c_b, real *tc_b, real *h_b, const real *cp_b, const real *bh,
                                       const real *peep, const real *cg, const real *cbias, real *ch, real *crstd,
                                       int H, const int has_peep, const int has_ln)
{
    #pragma omp simd
    for (int j = 0; j < H; j++) {
        real zi = g_b[j] + bh[j], zf = g_b[H + j] + bh[H + j];
        const real zg = g_b[2 * H + j] + bh[2 * H + j], cp = cp_b[j];
        if (has_peep) zi += peep[j] * cp, zf += peep[H + j] * cp;
        const real ig = R(rnnlab_sigmoid)(zi), fg = R(rnnlab_sigmoid)(zf), gg = R(rnnlab_tanh)(zg);
        c_b[j] = fg * cp + ig * gg; /* c_t = f*c_{t-1} + i*g */
        g_b[j] = ig, g_b[H + j] = fg, g_b[2 * H + j] = gg;
    }
    if (has_ln) { /* Ba et al. 2016, eq. 22: h = o * tanh(LN(c_t)) */
        for (int j = 0; j < H; j++) ch[j] = c_b[j];
        *crstd = R(rnnlab_ln_normalize)(ch, H);
    }
    #pragma omp simd
    for (int j = 0; j < H; j++) {
        real zo = g_b[3 * H + j] + bh[3 * H + j];
        if (has_peep) zo += peep[2 * H + j] * c_b[j];
        const real og = R(rnnlab_sigmoid)(zo);
        const real tc = R(rnnlab_tanh)(has_ln ? cg[j] * ch[j] + cbias[j] : c_b[j]);
        g_b[3 * H + j] = og;
        tc_b[j] = tc;
        h_b[j] = og * tc; /* h_t = o*tanh(c_t) */
    }
}

static void lstm_step_forward(real *h, real *c, real *gates, real *extra, const real *h_prev, const real *c_prev,
                              const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B, int H, real *scratch,
                              const R(rnnlab_ln_step) *ln)
{
    (void)scratch;
    const int GH = 4 * H;
    const real *bh = p->b_hh, *peep = o->peephole ? p->peep : NULL;
    /* gates += [LN] h_prev U^T */
    R(rnnlab_rec_forward)(gates, h_prev, p->Ut, GH, GH, 1, ln ? p->ln_hh : NULL, ln ? ln->hat : NULL, ln ? ln->rstd : NULL,
                          GH, 4, B, H);
    RNNLAB_PARALLEL_FOR((size_t)B * GH,
    for (int b = 0; b < B; b++) {
        real *g_b = gates + (size_t)b * GH, *c_b = c + (size_t)b * H, *h_b = h + (size_t)b * H;
        real *tc_b = extra + (size_t)b * H, *ch = ln ? ln->c_hat + (size_t)b * H : NULL;
        real *crstd = ln ? ln->c_rstd + b : NULL;
        const real *cp_b = c_prev + (size_t)b * H, *cg = p->ln_c_gain, *cbias = p->ln_c_bias;
        if (!peep && !ln) R(lstm_forward_row)(g_b, c_b, tc_b, h_b, cp_b, bh, peep, cg, cbias, ch, crstd, H, 0, 0);
        else if (!ln) R(lstm_forward_row)(g_b, c_b, tc_b, h_b, cp_b, bh, peep, cg, cbias, ch, crstd, H, 1, 0);
        else if (!peep) R(lstm_forward_row)(g_b, c_b, tc_b, h_b, cp_b, bh, peep, cg, cbias, ch, crstd, H, 0, 1);
        else R(lstm_forward_row)(g_b, c_b, tc_b, h_b, cp_b, bh, peep, cg, cbias, ch, crstd, H, 1, 1);
    });
}

/* The backward of one (b, j) once dL/dc_t is known: the input, forget and candidate gates and c_{t-1}. */
static RNNLAB_INLINE void R(lstm_back_gates)(real *dz_b, real *dcp_b, const real *g_b, const real *cp_b, const real *peep,
                                      real dct, int H, int j)
{
    const real ig = g_b[j], fg = g_b[H + j], gg = g_b[2 * H + j], cp = cp_b[j];
    const real dzi = dct * gg * ig * (1 - ig);  /* c = ... + i*g, i = s(z_i) */
    const real dzf = dct * cp * fg * (1 - fg);  /* c = f*c_prev + ..., f = s(z_f) */
    const real dzg = dct * ig * (1 - gg * gg);  /* g = tanh(z_g) */
    real dcp = dct * fg;                        /* c = f*c_prev + ... */
    if (peep) dcp += dzi * peep[j] + dzf * peep[H + j]; /* z_i += p_i*c_prev, z_f += p_f*c_prev */
    dz_b[j] = dzi, dz_b[H + j] = dzf, dz_b[2 * H + j] = dzg;
    dcp_b[j] = dcp;
}

/* One sample's backward without layer norm (dc may be NULL: no later step), peep constant once inlined. */
static RNNLAB_INLINE void R(lstm_backward_row)(real *dz_b, real *dcp_b, real *dct_b, const real *g_b, const real *tc_b,
                                        const real *cp_b, const real *dh_b, const real *dc_b, const real *peep, int H,
                                        const int has_peep)
{
    #pragma omp simd
    for (int j = 0; j < H; j++) {
        const real og = g_b[3 * H + j], tc = tc_b[j], d_h = dh_b[j];
        const real dzo = d_h * tc * og * (1 - og);    /* h = o*tanh(c), o = s(z_o) */
        real dct = d_h * og * (1 - tc * tc);          /* h = o*tanh(c) */
        if (dc_b) dct += dc_b[j];                     /* c_{t+1} = f*c_t + ... */
        if (has_peep) dct += dzo * peep[2 * H + j];   /* z_o += p_o*c_t */
        dz_b[3 * H + j] = dzo;
        dct_b[j] = dct;
        R(lstm_back_gates)(dz_b, dcp_b, g_b, cp_b, has_peep ? peep : NULL, dct, H, j);
    }
}

static void lstm_step_backward(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total,
                               R(rnnlab_layer_grad) *g, const real *dh, const real *dc,
                               const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o,
                               int B, int H, real *scratch)
{
    (void)scratch;
    const int GH = 4 * H;
    const real *peep = o->peephole ? p->peep : NULL;
    const R(rnnlab_ln_step) *ln = cache->ln;
    if (!ln) { /* one pass per (b, j) */
        const size_t cr = cache->one_row ? 0 : 1; /* cache rows: row b, or row 0 for all */
        RNNLAB_PARALLEL_FOR((size_t)B * GH,
        for (int b = 0; b < B; b++) {
            const real *g_b = cache->gates + cr * b * GH, *tc_b = cache->extra + cr * b * H;
            const real *cp_b = cache->c_prev + cr * b * H, *dh_b = dh + (size_t)b * H;
            const real *dc_b = dc ? dc + (size_t)b * H : NULL;
            real *dz_b = dzx + (size_t)b * GH, *dcp_b = dc_prev + (size_t)b * H, *dct_b = dc_total + (size_t)b * H;
            if (cache->prefetch) {
                R(rnnlab_prefetch_prev)(g_b, (size_t)B * GH, (size_t)GH);
                R(rnnlab_prefetch_prev)(tc_b, (size_t)B * H, (size_t)H);
                R(rnnlab_prefetch_prev)(cp_b, (size_t)B * H, (size_t)H);
            }
            if (peep) R(lstm_backward_row)(dz_b, dcp_b, dct_b, g_b, tc_b, cp_b, dh_b, dc_b, peep, H, 1);
            else R(lstm_backward_row)(dz_b, dcp_b, dct_b, g_b, tc_b, cp_b, dh_b, dc_b, peep, H, 0);
        });
    } else {
        /* with LN of c_t: dL/dy for y = gain*c_hat + bias first, then its sums, then LN's backward */
        RNNLAB_PARALLEL_FOR((size_t)B * GH,
        for (int b = 0; b < B; b++) {
            const real *g_b = cache->gates + (size_t)b * GH, *tc_b = cache->extra + (size_t)b * H;
            const real *dh_b = dh + (size_t)b * H;
            real *dz_b = dzx + (size_t)b * GH, *dy_b = dc_total + (size_t)b * H;
            _Pragma("omp simd")
            for (int j = 0; j < H; j++) {
                const real og = g_b[3 * H + j], tc = tc_b[j];
                dz_b[3 * H + j] = dh_b[j] * tc * og * (1 - og); /* h = o*tanh(y), o = s(z_o) */
                dy_b[j] = dh_b[j] * og * (1 - tc * tc);         /* h = o*tanh(y) */
            }
        });
        if (g) /* y = gain*c_hat + bias: sums over b in sample order */
            for (int b = 0; b < B; b++)
                #pragma omp simd
                for (int j = 0; j < H; j++) {
                    g->dln_c_gain[j] += dc_total[(size_t)b * H + j] * ln->c_hat[(size_t)b * H + j];
                    g->dln_c_bias[j] += dc_total[(size_t)b * H + j];
                }
        RNNLAB_PARALLEL_FOR((size_t)B * GH,
        for (int b = 0; b < B; b++) {
            const real *g_b = cache->gates + (size_t)b * GH, *cp_b = cache->c_prev + (size_t)b * H;
            const real *dc_b = dc ? dc + (size_t)b * H : NULL;
            real *dz_b = dzx + (size_t)b * GH, *dcp_b = dc_prev + (size_t)b * H, *dct_b = dc_total + (size_t)b * H;
            for (int j = 0; j < H; j++) dct_b[j] *= p->ln_c_gain[j];
            R(rnnlab_ln_backward)(dct_b, ln->c_hat + (size_t)b * H, ln->c_rstd[b], H); /* c_hat = LN(c_t) */
            _Pragma("omp simd")
            for (int j = 0; j < H; j++) {
                if (dc_b) dct_b[j] += dc_b[j];                          /* c_{t+1} = f*c_t + ... */
                if (peep) dct_b[j] += dz_b[3 * H + j] * peep[2 * H + j]; /* z_o += p_o*c_t */
                R(lstm_back_gates)(dz_b, dcp_b, g_b, cp_b, peep, dct_b[j], H, j);
            }
        });
    }
    real *d = dzx;
    if (o->layer_norm) { /* the recurrent product is normalised on its own: its gradient apart */
        for (size_t i = 0; i < (size_t)B * GH; i++) dzh[i] = dzx[i];
        d = dzh;
    }
    R(rnnlab_rec_backward)(dh_prev, 0, d, p->U, GH, o->layer_norm ? p->ln_hh : NULL, ln ? ln->hat : NULL,
                           ln ? ln->rstd : NULL, GH, 4, g && o->layer_norm ? g->dln_hh : NULL,
                           g && o->layer_norm ? g->db_hh : NULL, B, H); /* dh_prev = dz U */
}

/* dU += dZ^T h_{t-1};  dp_i += sum dz_i c_{t-1}, dp_f += sum dz_f c_{t-1}, dp_o += sum dz_o c_t */
static void lstm_wgrad_hh(R(rnnlab_layer_grad) *g, const real *dZx, const real *dZh, const real *Hprev, const real *Cprev,
                          const real *Cnext, const real *extra, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o,
                          int TB, int H)
{
    (void)extra, (void)p;
    const int GH = 4 * H;
    R(rnnlab_wgrad_hh_plain)(g->dU, dZh, Hprev, TB, GH, H);
    if (!o->peephole) return;
    /* parallel over units j; each sums its rows in row order (any thread count gives the same bits) */
    RNNLAB_PARALLEL_FOR(RNNLAB_ROWS_WORK((size_t)TB * H),
    for (int j = 0; j < H; j++) {
        real si = 0, sf = 0, so = 0;
        for (int r = 0; r < TB; r++) {
            const real *dz_r = dZx + (size_t)r * GH; /* the gates' own gradients (dZh is U h's) */
            si += dz_r[j] * Cprev[(size_t)r * H + j];
            sf += dz_r[H + j] * Cprev[(size_t)r * H + j];
            so += dz_r[3 * H + j] * Cnext[(size_t)r * H + j];
        }
        g->dpeep[j] += si, g->dpeep[H + j] += sf, g->dpeep[2 * H + j] += so;
    });
}

const R(rnnlab_cell_ops) R(rnnlab_lstm_ops) = {
    .forward = lstm_step_forward,
    .backward = lstm_step_backward,
    .wgrad_hh = lstm_wgrad_hh,
    .separate_dzh = 0,
    .has_c = 1,
    .has_extra = 1,
};
