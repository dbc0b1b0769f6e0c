/*
 * bptt.c - forward over T steps, backpropagation through time (full and truncated), the head and
 * losses, and the gradient taps. Compiled once per precision (core/real.h).
 *
 * Dimension legend: B batch, T steps, I input size, H hidden size, G gates, GH = G*H, L layers,
 * O outputs, TB = T*B rows, K truncation length. States are stored (T+1, B, H) with row 0 = h0, so
 * the state after step t is row t+1. Definitions of losses, truncation and taps: rnnlab/bptt.h.
 *
 * Structure (as cuDNN and oneDNN organise RNNs, and as the STYLE guide asks):
 *   forward   per time block (ws->tblock steps, bptt_api.c time_block; all T unless the gate
 *             rows outgrow the cache), layer by layer: one product for the input projections of the
 *             block's steps (gates = X W^T + b_ih), then the time loop with only the recurrent
 *             product per step.
 *   backward  full BPTT: the head's gradient for all steps, then layer by layer from the top and
 *             per time block from the last: the reverse time loop (cell backward, taps), then dW,
 *             db, dU as single products over the block's steps, and the gradient for the layer
 *             below (dZx W) as one product.
 *             truncated BPTT (k < T): for each loss step s, a window s-k+1..s through all layers;
 *             each window's pre-activation gradients are summed per step, and the weight products
 *             run once at the end. Costs O(T k) steps, as the definition requires.
 * Not here: argument checks (bptt_api.c: everything is validated before any parallel region) and
 * the cell arithmetic (cells/).
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"
#include "core/internal.h"
#include "engine/bptt_internal.h"
#include "engine/bptt_ws.h"
#include "engine/engine_generic.h"
#include "rnnlab/rng.h"

#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- views */

rnnlab_cell_opts R(rnnlab_cell_opts_of)(const rnnlab_model *m)
{
    rnnlab_cell_opts o = {m->cfg.activation, m->cfg.leaky_alpha, m->cfg.gru_variant, m->cfg.peephole,
                          m->cfg.norm == RNNLAB_NORM_LAYER};
    return o;
}

R(rnnlab_ln_step) R(rnnlab_ln_step_of)(const rnnlab_bptt *ws, int l, int t)
{
    R(rnnlab_ln_step) s = {NULL, NULL, NULL, NULL};
    if (ws->norm != RNNLAB_NORM_LAYER) return s;
    const size_t B = (size_t)ws->B, H = (size_t)ws->H, G = (size_t)ws->G;
    s.hat = (real *)ws->hhat[l] + (size_t)t * B * G * H;
    s.rstd = (real *)ws->hrstd[l] + (size_t)t * B * G;
    if (ws->chat && ws->chat[l]) s.c_hat = (real *)ws->chat[l] + (size_t)t * B * H, s.c_rstd = (real *)ws->crstd[l] + (size_t)t * B;
    return s;
}

/* Pointer to layer l's tensor of a role in a block (params or grads), or NULL. */
static void *role_ptr(const rnnlab_model *m, void *block, int l, rnnlab_tensor_role role)
{
    const int i = rnnlab_model_tensor_of(m, l, role);
    return i < 0 ? NULL : (real *)block + m->tensors[i].offset;
}

void R(rnnlab_layer_view)(const rnnlab_model *m, int l, R(rnnlab_layer) *p)
{
    void *P = m->params;
    p->W = role_ptr(m, P, l, RNNLAB_ROLE_W), p->U = role_ptr(m, P, l, RNNLAB_ROLE_U), p->Ut = NULL;
    p->b_ih = role_ptr(m, P, l, RNNLAB_ROLE_B_IH), p->b_hh = role_ptr(m, P, l, RNNLAB_ROLE_B_HH);
    p->peep = role_ptr(m, P, l, RNNLAB_ROLE_PEEPHOLE), p->prelu = role_ptr(m, P, l, RNNLAB_ROLE_PRELU);
    p->ln_ih = role_ptr(m, P, l, RNNLAB_ROLE_LN_IH), p->ln_hh = role_ptr(m, P, l, RNNLAB_ROLE_LN_HH);
    p->ln_c_gain = role_ptr(m, P, l, RNNLAB_ROLE_LN_C_GAIN), p->ln_c_bias = role_ptr(m, P, l, RNNLAB_ROLE_LN_C_BIAS);
    p->bn_gain = role_ptr(m, P, l, RNNLAB_ROLE_BN_GAIN);
    p->I = m->tensors[rnnlab_model_tensor_of(m, l, RNNLAB_ROLE_W)].dims[1];
}

static void R(layer_grad_view)(rnnlab_model *m, int l, R(rnnlab_layer_grad) *g)
{
    void *D = m->grads;
    g->dW = role_ptr(m, D, l, RNNLAB_ROLE_W), g->dU = role_ptr(m, D, l, RNNLAB_ROLE_U);
    g->db_ih = role_ptr(m, D, l, RNNLAB_ROLE_B_IH), g->db_hh = role_ptr(m, D, l, RNNLAB_ROLE_B_HH);
    g->dpeep = role_ptr(m, D, l, RNNLAB_ROLE_PEEPHOLE), g->dprelu = role_ptr(m, D, l, RNNLAB_ROLE_PRELU);
    g->dln_ih = role_ptr(m, D, l, RNNLAB_ROLE_LN_IH), g->dln_hh = role_ptr(m, D, l, RNNLAB_ROLE_LN_HH);
    g->dln_c_gain = role_ptr(m, D, l, RNNLAB_ROLE_LN_C_GAIN), g->dln_c_bias = role_ptr(m, D, l, RNNLAB_ROLE_LN_C_BIAS);
    g->dbn_gain = role_ptr(m, D, l, RNNLAB_ROLE_BN_GAIN);
}

static const real *R(head_weight)(const rnnlab_model *m) { return role_ptr(m, m->params, -1, RNNLAB_ROLE_HEAD_W); }

/* ---------------------------------------------------------------- streams between layers
 *
 * S_l, the stream layer l passes up: h^l for l = 0 (and for every l without residual connections),
 * h^l + (layer l's input stream S_{l-1}) with them (He et al. 2016; Wu et al. 2016, GNMT). Layer
 * l >= 1 multiplies W by S_{l-1}, or by its dropped copy D_l * S_{l-1} / (1 - p) in training mode
 * with dropout (Zaremba et al. 2014: between layers, not through time); the head reads S_{L-1},
 * dropped the same way. Rows are (t, b) pairs, row t*B + b.
 */

static const real *R(stream)(const rnnlab_bptt *ws, int l)
{
    return ws->residual && l >= 1 ? (const real *)ws->S[l] : (const real *)ws->Hs[l] + (size_t)ws->B * ws->H;
}

/* What layer l's W multiplies (l = L: what the head multiplies), rows (T, B, I_l). */
static const real *R(layer_input)(const rnnlab_bptt *ws, int l)
{
    if (l == 0) return ws->X;
    return ws->dropout_on ? (const real *)ws->Xd[l] : R(stream)(ws, l - 1);
}

/* The rows the head reads: (TB, H) at all, gathered (B, H) at last. */
static const real *R(head_input)(const rnnlab_bptt *ws)
{
    return ws->cfg.loss_at == RNNLAB_LOSS_ALL ? R(layer_input)(ws, ws->L) : (const real *)ws->Hlast;
}

static int head_rows(const rnnlab_bptt *ws) { return ws->cfg.loss_at == RNNLAB_LOSS_ALL ? ws->Teff * ws->B : ws->B; }

/* The keep-decision of element (l, row, j), from the seed alone (a counter-based stream), so masks are
 * the same whatever order or thread computes them. */
static int keep(uint64_t seed, int l, size_t row, int j, int H, double p)
{
    const uint64_t u = rnnlab_splitmix64(seed ^ rnnlab_splitmix64(((uint64_t)l << 48) ^ ((uint64_t)row * H + j)));
    return (double)(u >> 11) * 0x1.0p-53 >= p;
}

/* Rows [r0, r1) of S_l (residual) and of the dropped input of layer l + 1 (or of the head). */
static void R(make_streams)(rnnlab_bptt *ws, const rnnlab_model *m, int l, size_t r0, size_t r1)
{
    const int H = ws->H;
    if (ws->residual && l >= 1) {
        real *S = ws->S[l];
        const real *h = (const real *)ws->Hs[l] + (size_t)ws->B * H, *u = R(stream)(ws, l - 1);
        for (size_t i = r0 * H; i < r1 * H; i++) S[i] = h[i] + u[i];
    }
    if (ws->dropout_on) {
        const double p = m->cfg.dropout;
        const real scale = (real)(1 / (1 - p));
        const real *src = R(stream)(ws, l);
        real *dst = ws->Xd[l + 1];
        unsigned char *mk = ws->mask[l + 1];
        for (size_t r = r0; r < r1; r++)
            for (int j = 0; j < H; j++) {
                const size_t i = r * H + j;
                mk[i] = (unsigned char)keep(ws->dropout_seed, l + 1, r, j, H, p);
                dst[i] = mk[i] ? src[i] * scale : 0;
            }
    }
}

/* The reverse of dropout for rows [r0, r1): d <- D d / (1 - p), on the gradient of layer l's input. */
static void R(dropout_backward)(const rnnlab_bptt *ws, const rnnlab_model *m, int l, real *d, size_t r0, size_t r1)
{
    if (!ws->dropout_on) return;
    const real scale = (real)(1 / (1 - m->cfg.dropout));
    const unsigned char *mk = ws->mask[l];
    const int H = ws->H;
    for (size_t i = 0; i < (r1 - r0) * H; i++) d[i] = mk[r0 * H + i] ? d[i] * scale : 0;
}

/* ---------------------------------------------------------------- normalising the input product
 *
 * norm = layer (Ba, Kiros & Hinton 2016): each block of H units of a row of X W^T is normalised over
 * its units and multiplied by the gain ln_ih; norm = batch (Laurent et al. 2016): each of the G*H
 * columns is normalised over the real (t, b) rows of the batch (training) or with the running
 * statistics (evaluation) and multiplied by the gain bn_gain. b_ih is added after either.
 */

static int row_real(const rnnlab_bptt *ws, size_t r) { return (int)(r / ws->B) < ws->len[r % ws->B]; }

static void R(input_norm_forward)(rnnlab_bptt *ws, const rnnlab_model *m, int l, const R(rnnlab_layer) *p, real *Z,
                                  size_t r0, size_t r1)
{
    const int GH = ws->GH, H = ws->H, G = ws->G;
    real *xh = (real *)ws->xhat[l] + r0 * GH;
    const size_t n = r1 - r0;
    if (ws->norm == RNNLAB_NORM_LAYER) {
        real *rs = (real *)ws->xrstd[l] + r0 * G;
        RNNLAB_PARALLEL_FOR(n * GH,
        for (size_t r = 0; r < n; r++)
            for (int k = 0; k < G; k++) {
                real *v = xh + r * GH + (size_t)k * H, *z = Z + r * GH + (size_t)k * H;
                for (int j = 0; j < H; j++) v[j] = z[j];
                rs[r * G + k] = R(rnnlab_ln_normalize)(v, H);
                for (int j = 0; j < H; j++) z[j] = p->ln_ih[k * H + j] * v[j];
            });
        return;
    }
    /* batch norm: statistics over the real rows (training) or the running ones (evaluation) */
    real *mean = ws->bn_stat[l], *var = mean + GH, *rstd = var + GH;
    if (ws->cfg.training) {
        long N = 0;
        for (size_t r = r0; r < r1; r++) N += row_real(ws, r);
        RNNLAB_PARALLEL_FOR(n * GH,
        for (int c = 0; c < GH; c++) { /* each column sums its rows in row order */
            double s = 0, s2 = 0;
            for (size_t r = 0; r < n; r++)
                if (row_real(ws, r0 + r)) s += Z[r * GH + c];
            const double mu = N ? s / N : 0;
            for (size_t r = 0; r < n; r++)
                if (row_real(ws, r0 + r)) s2 += ((double)Z[r * GH + c] - mu) * ((double)Z[r * GH + c] - mu);
            mean[c] = (real)mu, var[c] = (real)(N ? s2 / N : 0);
            rstd[c] = (real)(1 / sqrt((N ? s2 / N : 0) + RNNLAB_NORM_EPS));
        });
    } else {
        const int im = rnnlab_model_tensor_of(m, l, RNNLAB_ROLE_BN_MEAN), iv = rnnlab_model_tensor_of(m, l, RNNLAB_ROLE_BN_VAR);
        const double *rm = m->buffers + m->buffer_tensors[im].offset, *rv = m->buffers + m->buffer_tensors[iv].offset;
        for (int c = 0; c < GH; c++) mean[c] = (real)rm[c], var[c] = (real)rv[c], rstd[c] = (real)(1 / sqrt(rv[c] + RNNLAB_NORM_EPS));
    }
    RNNLAB_PARALLEL_FOR(n * GH,
    for (size_t r = 0; r < n; r++) {
        const int real_row = row_real(ws, r0 + r);
        for (int c = 0; c < GH; c++) {
            const real v = real_row ? (Z[r * GH + c] - mean[c]) * rstd[c] : 0;
            xh[r * GH + c] = v;
            Z[r * GH + c] = p->bn_gain[c] * v;
        }
    });
}

/* Row-independent reverse (layer norm, or batch norm in evaluation mode) for rows [r0, r1): d holds
 * dL/d(normalised contribution) on entry and dL/d(X W^T) on exit. */
static void R(input_norm_backward_rows)(const rnnlab_bptt *ws, const R(rnnlab_layer) *p, int l, real *d, size_t r0,
                                        size_t r1)
{
    const int GH = ws->GH, H = ws->H, G = ws->G;
    const size_t n = r1 - r0;
    if (ws->norm == RNNLAB_NORM_LAYER) {
        const real *xh = (const real *)ws->xhat[l] + r0 * GH, *rs = (const real *)ws->xrstd[l] + r0 * G;
        RNNLAB_PARALLEL_FOR(n * GH,
        for (size_t r = 0; r < n; r++)
            for (int k = 0; k < G; k++) {
                real *dk = d + r * GH + (size_t)k * H;
                for (int j = 0; j < H; j++) dk[j] *= p->ln_ih[k * H + j];
                R(rnnlab_ln_backward)(dk, xh + r * GH + (size_t)k * H, rs[r * G + k], H);
            });
    } else if (ws->norm == RNNLAB_NORM_BATCH) { /* evaluation: a fixed affine map per column */
        const real *rstd = (const real *)ws->bn_stat[l] + 2 * GH;
        for (size_t r = 0; r < n; r++)
            for (int c = 0; c < GH; c++) d[r * GH + c] *= p->bn_gain[c] * rstd[c];
    }
}

/* The whole batch's reverse, with the gain's gradient: dZ (T*B rows) as above. */
static void R(input_norm_backward)(const rnnlab_bptt *ws, const R(rnnlab_layer) *p, R(rnnlab_layer_grad) *g, int l,
                                   real *dZ, size_t rows)
{
    const int GH = ws->GH;
    const real *xh = ws->xhat[l];
    real *dgain = ws->norm == RNNLAB_NORM_LAYER ? g->dln_ih : g->dbn_gain;
    RNNLAB_PARALLEL_FOR(rows * GH,
    for (int c = 0; c < GH; c++) { /* contribution = gain * xhat: each column sums its rows in order */
        real s = 0;
        for (size_t r = 0; r < rows; r++) s += dZ[r * GH + c] * xh[r * GH + c];
        dgain[c] += s;
    });
    if (ws->norm == RNNLAB_NORM_BATCH && ws->cfg.training) {
        /* dz = rstd/N (N dxh - sum dxh - xh sum(dxh xh)) over the real rows, dxh = d gain */
        const real *rstd = (const real *)ws->bn_stat[l] + 2 * GH;
        long N = 0;
        for (size_t r = 0; r < rows; r++) N += row_real(ws, r);
        RNNLAB_PARALLEL_FOR(rows * GH,
        for (int c = 0; c < GH; c++) {
            double a = 0, b = 0;
            for (size_t r = 0; r < rows; r++)
                if (row_real(ws, r)) {
                    const double dx = (double)dZ[r * GH + c] * p->bn_gain[c];
                    a += dx, b += dx * xh[r * GH + c];
                }
            a /= N ? N : 1, b /= N ? N : 1;
            for (size_t r = 0; r < rows; r++) {
                const double dx = (double)dZ[r * GH + c] * p->bn_gain[c];
                dZ[r * GH + c] = row_real(ws, r) ? (real)(rstd[c] * (dx - a - xh[r * GH + c] * b)) : 0;
            }
        });
        return;
    }
    R(input_norm_backward_rows)(ws, p, l, dZ, 0, rows);
}

/* ---------------------------------------------------------------- norms (double, scaled) */

/* ||v||_2 of n elements accumulated in double with scaling (as BLAS nrm2), so values near the
 * bottom of double's range (1e-300) do not underflow when squared. Inf gives inf, NaN gives NaN.
 * The slow path of norm_sq. */
static double R(norm2_scaled)(const real *v, size_t n)
{
    double mx = 0;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        const double a = fabs((double)v[i]);
        if (a > mx) mx = a;
        else if (a != a) nan = 1;
    }
    if (nan) return NAN;
    if (mx == 0 || isinf(mx)) return mx;
    const double inv = 1 / mx;
    double s = 0;
    if (isinf(inv)) { /* mx subnormal: scale up by a power of two first */
        for (size_t i = 0; i < n; i++) {
            const double a = ldexp((double)v[i], 600) / ldexp(mx, 600);
            s += a * a;
        }
    } else
        for (size_t i = 0; i < n; i++) {
            const double a = (double)v[i] * inv;
            s += a * a;
        }
    return mx * sqrt(s);
}

/* The sum of squares of v in double, in two steps: sumsq_lanes adds x*x into eight partial sums
 * (one AVX-512 register, with one conversion per eight floats) and returns the sum of the n % 8
 * values left over; sumsq_tree adds the partial sums as a tree, then that tail. The order is fixed
 * by n alone, never by the thread count or the vector width. (An `omp simd reduction` adds its lanes
 * one after another: a chain of 16 dependent additions per call, most of the taps' time on W3.) */
/* The sum of squares of x[j..n-1] in double, in order: what sumsq_lanes leaves over its lanes. */
static RNNLAB_INLINE double R(sumsq_tail)(const real *x, size_t j, size_t n)
{
    double tail = 0;
    for (; j < n; j++) tail += (double)x[j] * (double)x[j];
    return tail;
}

static RNNLAB_INLINE double R(sumsq_lanes)(const real *x, size_t n, double a[8])
{
    size_t j = 0;
#if defined(__AVX512F__)
    __m512d acc = _mm512_setzero_pd(); /* gcc would use two 256-bit registers and split the conversion */
    for (; j + 8 <= n; j += 8) {
#if RNNLAB_REAL_BITS == 32
        const __m512d xd = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
#else
        const __m512d xd = _mm512_loadu_pd(x + j);
#endif
        acc = _mm512_add_pd(acc, _mm512_mul_pd(xd, xd));
    }
    _mm512_storeu_pd(a, acc);
#else
    for (int k = 0; k < 8; k++) a[k] = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += (double)x[j + k] * (double)x[j + k];
#endif
    return R(sumsq_tail)(x, j, n);
}

static RNNLAB_INLINE double sumsq_tree(const double a[8], double tail)
{
    return (((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))) + tail;
}

static RNNLAB_INLINE double R(sumsq)(const real *v, size_t n)
{
    double a[8];
    const double tail = R(sumsq_lanes)(v, n, a);
    return sumsq_tree(a, tail);
}

/* 1 when sqrt(s) of a plain sum of squares is exact to double rounding: s is neither out of range
 * nor near the bottom of double's range (only a float64 model can get there: a float's square is at
 * least 2e-90 and at most 1.2e77), nor NaN. */
static RNNLAB_INLINE int R(sumsq_exact)(double s)
{
#if RNNLAB_REAL_BITS == 32
    return s <= DBL_MAX;
#else
    return s >= 1e-280 && s <= DBL_MAX; /* zero too goes to the scaled pass, which tells it from underflow */
#endif
}

/* ||v||_2 in double: sumsq when exact, the scaled two-pass nrm2 otherwise. *sq gets the sum of
 * squares when the fast path was exact, else -1 (0 for an all-zero row, which still adds exactly). */
static RNNLAB_INLINE double R(norm2_sq)(const real *v, size_t n, double *sq)
{
    const double s = R(sumsq)(v, n);
    if (R(sumsq_exact)(s)) return sqrt(*sq = s);
    const double r = R(norm2_scaled)(v, n);
    *sq = r == 0 ? 0 : -1;
    return r;
}

static double R(norm2)(const real *v, size_t n)
{
    double sq;
    return R(norm2_sq)(v, n, &sq);
}

#if defined(__AVX512F__)
/* tap_rows of 8 rows (v (8, H)) in registers: the eight rows' partial sums side by side (eight
 * independent chains of additions, where one row of W3's 32 values is a chain of four), then
 * sumsq_tree for all eight at once by transposing additions, in the tree's own order, so the bits are
 * sumsq's: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), then + tail. sq and nb never make a
 * round trip through memory between the trees and the square roots (a vector load of eight scalar
 * stores just made waits for them to retire: most of the taps' time on W3, in a profile). */
static RNNLAB_INLINE void R(tap_rows8)(const real *v, int H, double *sq, double *nb)
{
    __m512d c[8];
    for (int r = 0; r < 8; r++) c[r] = _mm512_setzero_pd();
    int j = 0;
    for (; j + 8 <= H; j += 8)
        for (int r = 0; r < 8; r++) {
#if RNNLAB_REAL_BITS == 32
            const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(v + (size_t)r * H + j));
#else
            const __m512d d = _mm512_loadu_pd(v + (size_t)r * H + j);
#endif
            c[r] = _mm512_add_pd(c[r], _mm512_mul_pd(d, d));
        }
    /* level 1, rows p, q: [p0..p3 q0..q3] + [p4..p7 q4..q7] = b_k = a_k + a_(k+4), k = 0..3 */
    __m512d s[4];
    for (int i = 0; i < 4; i++)
        s[i] = _mm512_add_pd(_mm512_shuffle_f64x2(c[2 * i], c[2 * i + 1], 0x44), _mm512_shuffle_f64x2(c[2 * i], c[2 * i + 1], 0xEE));
    /* level 2, four rows: b0 + b2 and b1 + b3 of each, in row order */
    const __m512d t0 = _mm512_add_pd(_mm512_shuffle_f64x2(s[0], s[1], 0x88), _mm512_shuffle_f64x2(s[0], s[1], 0xDD));
    const __m512d t1 = _mm512_add_pd(_mm512_shuffle_f64x2(s[2], s[3], 0x88), _mm512_shuffle_f64x2(s[2], s[3], 0xDD));
    /* level 3: (b0 + b2) + (b1 + b3), rows in the order 0 4 1 5 2 6 3 7, put back in row order */
    const __m512d u = _mm512_add_pd(_mm512_unpacklo_pd(t0, t1), _mm512_unpackhi_pd(t0, t1));
    __m512d q = _mm512_permutexvar_pd(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), u);
    if (j < H) { /* + tail; without one, adding 0 would change no bit (q >= 0 or NaN) */
        double tail[8];
        for (int r = 0; r < 8; r++) tail[r] = R(sumsq_tail)(v + (size_t)r * H, (size_t)j, (size_t)H);
        q = _mm512_add_pd(q, _mm512_loadu_pd(tail));
    }
    _mm512_storeu_pd(sq, q);
    _mm512_storeu_pd(nb, _mm512_sqrt_pd(q));
    /* sumsq_exact for all eight (NaN compares false: not exact) */
    __mmask8 exact = _mm512_cmp_pd_mask(q, _mm512_set1_pd(DBL_MAX), _CMP_LE_OQ);
#if RNNLAB_REAL_BITS == 64
    exact &= _mm512_cmp_pd_mask(q, _mm512_set1_pd(1e-280), _CMP_GE_OQ);
#endif
    if (exact != 0xFF)
        for (int r = 0; r < 8; r++)
            if (!(exact >> r & 1)) nb[r] = R(norm2_sq)(v + (size_t)r * H, (size_t)H, &sq[r]);
}
#endif

/* The taps' per-sample parts of rows 0..B-1 of one (B, H) gradient: sq[b] the sum of squares in
 * double (-1 when it is not exact, see norm2_sq) and nb[b] the sample's norm. The same values as
 * norm2_sq row by row, with the square roots in one vectorised pass. */
static void R(tap_rows)(const real *v, int B, int H, double *sq, double *nb)
{
    int b1 = 0; /* rows before b1 are done */
#if defined(__AVX512F__)
    for (; b1 + 8 <= B; b1 += 8) R(tap_rows8)(v + (size_t)b1 * H, H, sq + b1, nb + b1);
#endif
    enum { ROWS = 16 };
    for (int b0 = b1; b0 < B; b0 += ROWS) { /* each row's partial sums first, then all the trees */
        const int n = RNNLAB_MIN(ROWS, B - b0);
        double a[ROWS][8], tail[ROWS];
        for (int r = 0; r < n; r++) tail[r] = R(sumsq_lanes)(v + (size_t)(b0 + r) * H, (size_t)H, a[r]);
        for (int r = 0; r < n; r++) sq[b0 + r] = sumsq_tree(a[r], tail[r]); /* the same bits as sumsq */
    }
    for (int b = b1; b < B; b++) nb[b] = sqrt(sq[b]);
    for (int b = b1; b < B; b++)
        if (!R(sumsq_exact)(sq[b])) nb[b] = R(norm2_sq)(v + (size_t)b * H, (size_t)H, &sq[b]);
}

/* The taps of one step from its per-sample parts, in sample order (a split workspace gathers its
 * parts' rows first): the norm over the batch and the mean over real samples (t < len[b]) of the
 * per-sample norms. */
static void tap_reduce(const double *sq, const double *nb, int B, const int *len, int t, double *norm, double *mean)
{
    double s = 0, msum = 0;
    int cnt = 0, exact = 1;
    for (int b = 0; b < B; b++) exact &= sq[b] >= 0, s += sq[b]; /* s is only used when exact */
    for (int b = 0; b < B; b++)
        if (t < len[b]) msum += nb[b], cnt++;
    *mean = cnt ? msum / cnt : 0;
    if (exact && s <= DBL_MAX) {
        *norm = sqrt(s);
        return;
    }
    double mx = 0;
    for (int b = 0; b < B; b++)
        if (nb[b] > mx || nb[b] != nb[b]) mx = nb[b];
    if (!(mx > 0) || isinf(mx)) *norm = mx; /* NaN, inf or all zero */
    else { /* out of the plain sum's range: the per-sample norms scaled by the largest */
        double r = 0;
        for (int b = 0; b < B; b++) r += (nb[b] / mx) * (nb[b] / mx);
        *norm = mx * sqrt(r);
    }
}

/* Both parts of one (B, H) gradient's taps; nb2 (2B) is scratch. A part of a split workspace
 * (ws->split_part) keeps the per-sample parts of every (l, t) in ws->tap_b instead: (L, T, 4B) as
 * sq_h, nb_h, sq_c, nb_c, for the whole workspace to reduce (bptt_split_backward). */
static void R(tap_norms)(const rnnlab_bptt *ws, const real *v, int l, int t, int c_state, double *norm, double *mean)
{
    const int B = ws->B;
    double *q = ws->split_part ? ws->tap_b + ((size_t)l * ws->T + t) * 4 * B + (c_state ? 2 * B : 0) : ws->tap_b;
    R(tap_rows)(v, B, ws->H, q, q + B);
    if (!ws->split_part) tap_reduce(q, q + B, B, ws->len, t, norm, mean);
}

/* ---------------------------------------------------------------- forward */

/* U^T (H, GH) of every layer into ws->Ut: the steps' products then need no transposition. Before
 * forward_range, once per pass (serial: on two threads W2's was no faster). */
static void R(transpose_u)(rnnlab_bptt *ws, const rnnlab_model *m)
{
    for (int l = 0; l < ws->L; l++) {
        R(rnnlab_layer) p;
        R(rnnlab_layer_view)(m, l, &p);
        R(rnnlab_transpose)(p.U, ws->GH, ws->H, ws->Ut[l]);
    }
}

/* Runs steps t_lo..t_hi of every layer; Hs[l] row t_lo (and Cs) must hold the entry states, and
 * ws->Ut the transposed recurrent weights (transpose_u). */
static void R(forward_range)(rnnlab_bptt *ws, const rnnlab_model *m, int t_lo, int t_hi)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, n = t_hi - t_lo + 1;
    const size_t BH = (size_t)B * H, r0 = (size_t)t_lo * B, r1 = (size_t)(t_hi + 1) * B;
    const rnnlab_cell_opts o = R(rnnlab_cell_opts_of)(m);
    const R(rnnlab_cell_ops) *ops = R(rnnlab_cell_ops_get)(m->cfg.cell, &o);
    real *scratch = ws->scratch;
    for (int l = 0; l < ws->L; l++) {
        R(rnnlab_layer) p;
        R(rnnlab_layer_view)(m, l, &p);
        p.Ut = ws->Ut[l];
        real *Hl = ws->Hs[l], *Cl = ws->Cs ? ws->Cs[l] : NULL, *gl = ws->gates[l];
        real *el = ws->extra ? ws->extra[l] : NULL;
        const real *Xin = R(layer_input)(ws, l); /* row t*B + b: input of step t */
        real *g0 = gl + r0 * GH;
        /* gates = [norm] (X W^T) + b_ih for all steps of the range: one product (the bias added to each
           tile of it while in cache, unless a normalisation comes between) */
        if (ws->norm == RNNLAB_NORM_NONE)
            R(rnnlab_gemm_rows_bias)(0, 1, n * B, GH, p.I, 1, Xin + r0 * p.I, p.I, p.W, p.I, 0, g0, GH, p.b_ih);
        else {
            R(rnnlab_gemm_rows)(0, 1, n * B, GH, p.I, 1, Xin + r0 * p.I, p.I, p.W, p.I, 0, g0, GH);
            R(input_norm_forward)(ws, m, l, &p, g0, r0, r1);
            RNNLAB_PARALLEL_FOR(RNNLAB_ROWS_WORK((size_t)n * B * GH),
            for (int r = 0; r < n * B; r++) {
                real *g_r = g0 + (size_t)r * GH;
                for (int k = 0; k < GH; k++) g_r[k] += p.b_ih[k];
            });
        }
        for (int t = t_lo; t <= t_hi; t++) {
            const R(rnnlab_ln_step) ln = R(rnnlab_ln_step_of)(ws, l, t);
            ops->forward(Hl + (size_t)(t + 1) * BH, Cl ? Cl + (size_t)(t + 1) * BH : NULL, gl + (size_t)t * B * GH,
                         el ? el + (size_t)t * BH : NULL, Hl + (size_t)t * BH, Cl ? Cl + (size_t)t * BH : NULL, &p, &o,
                         B, H, scratch, ln.hat ? &ln : NULL);
            if (ws->kink_ref) { /* before the perturbation: its own kink is the activation's, not h's */
                const real *h = Hl + (size_t)(t + 1) * BH;
                const unsigned char *ref = ws->kink_ref + ((size_t)l * ws->T + t) * BH;
                for (size_t i = 0; i < BH; i++) ws->kink_flips += (h[i] > 0) != ref[i];
            }
            if (ws->perturb.on && ws->perturb.l == l && ws->perturb.t == t)
                Hl[(size_t)(t + 1) * BH + (size_t)ws->perturb.b * H + ws->perturb.j] += (real)ws->perturb.eps;
        }
        R(make_streams)(ws, m, l, r0, r1);
    }
}

/* Sets row 0 of every layer's states from h0/c0 (double, (L, B, H)) or zeros. */
static void R(set_initial_states)(rnnlab_bptt *ws, const double *h0, const double *c0)
{
    const size_t BH = (size_t)ws->B * ws->H;
    for (int l = 0; l < ws->L; l++) {
        real *Hl = ws->Hs[l];
        if (h0) R(rnnlab_from_double)(Hl, h0 + l * BH, BH);
        else memset(Hl, 0, BH * sizeof(real));
        if (ws->Cs) {
            if (c0) R(rnnlab_from_double)((real *)ws->Cs[l], c0 + l * BH, BH);
            else memset(ws->Cs[l], 0, BH * sizeof(real));
        }
    }
}

/* Y = head_input Wh^T + bh; at last, gathers each sample's top state at its last real step first. */
static void R(head_forward)(rnnlab_bptt *ws, const rnnlab_model *m)
{
    const int B = ws->B, H = ws->H, O = ws->O, rows = head_rows(ws);
    const real *bh = role_ptr(m, m->params, -1, RNNLAB_ROLE_HEAD_B);
    if (ws->cfg.loss_at == RNNLAB_LOSS_LAST) {
        const real *in = R(layer_input)(ws, ws->L);
        for (int b = 0; b < B; b++)
            memcpy((real *)ws->Hlast + (size_t)b * H, in + ((size_t)(ws->len[b] - 1) * B + b) * H, (size_t)H * sizeof(real));
    }
    real *Y = ws->Y;
    R(rnnlab_gemm_rows)(0, 1, rows, O, H, 1, R(head_input)(ws), H, R(head_weight)(m), H, 0, Y, O);
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < O; o++) Y[(size_t)r * O + o] += bh[o];
}

/* The loss of one output row y (O) at a position with weight w, and (if dy) its gradient. */
static double R(loss_row)(rnnlab_loss_kind kind, const real *y, const double *target, int cls, int O, double w,
                          real *dy)
{
    double l = 0;
    switch (kind) {
    case RNNLAB_LOSS_MSE: /* sum_o (y - t)^2, weight 1/(N O) */
        for (int o = 0; o < O; o++) {
            const double d = (double)y[o] - target[o];
            l += d * d;
            if (dy) dy[o] = (real)(2 * d * w / O);
        }
        return l * w / O;
    case RNNLAB_LOSS_XENT: { /* log sum_o e^{y_o} - y_cls, weight 1/N */
        double mx = -INFINITY, s = 0;
        for (int o = 0; o < O; o++) mx = fmax(mx, (double)y[o]);
        for (int o = 0; o < O; o++) s += exp((double)y[o] - mx);
        const double lse = mx + log(s);
        if (dy)
            for (int o = 0; o < O; o++) dy[o] = (real)((exp((double)y[o] - lse) - (o == cls)) * w);
        return (lse - (double)y[cls]) * w;
    }
    default: /* bernoulli: sum_o softplus(y) - t*y, weight 1/N */
        for (int o = 0; o < O; o++) {
            const double yo = y[o];
            l += fmax(yo, 0.0) + log1p(exp(-fabs(yo))) - target[o] * yo;
            if (dy) dy[o] = (real)((1 / (1 + exp(-yo)) - target[o]) * w);
        }
        return l * w;
    }
}

/* Sums the loss over the loss positions (only those at step s_only when s_only >= 0), and writes
 * dL/dY into dY when not NULL (zero at rows that are not positions). With per_sample (B) instead,
 * adds each position's loss unweighted (not divided by the positions' count) to its sample's entry. */
static double R(loss_eval)(const rnnlab_bptt *ws, int s_only, real *dY, double *per_sample)
{
    const int B = ws->B, O = ws->O, T = ws->Teff;
    const double w = per_sample ? 1.0 : 1.0 / (double)ws->n_pos;
    const real *Y = ws->Y;
    double loss = 0, *acc = &loss;
    if (dY) memset(dY, 0, (size_t)head_rows(ws) * O * sizeof(real));
    if (ws->cfg.loss_at == RNNLAB_LOSS_LAST) {
        for (int b = 0; b < B; b++) {
            if (s_only >= 0 && ws->len[b] - 1 != s_only) continue;
            if (per_sample) acc = per_sample + b;
            *acc += R(loss_row)(ws->cfg.loss, Y + (size_t)b * O, ws->target ? ws->target + (size_t)b * O : NULL,
                                ws->target_class ? ws->target_class[b] : 0, O, w, dY ? dY + (size_t)b * O : NULL);
        }
    } else {
        for (int t = 0; t < T; t++) {
            if (s_only >= 0 && t != s_only) continue;
            for (int b = 0; b < B; b++) {
                if (t >= ws->len[b]) continue;
                const size_t r = (size_t)t * B + b;
                if (per_sample) acc = per_sample + b;
                *acc += R(loss_row)(ws->cfg.loss, Y + r * O, ws->target ? ws->target + r * O : NULL,
                                    ws->target_class ? ws->target_class[r] : 0, O, w, dY ? dY + r * O : NULL);
            }
        }
    }
    return loss;
}

/* Copies targets and lengths of the batch into the workspace and counts the loss positions. */
static void copy_batch_meta(rnnlab_bptt *ws, const rnnlab_batch *bt)
{
    const int B = ws->B, T = ws->T, O = ws->O;
    ws->Teff = 1;
    for (int b = 0; b < B; b++) {
        ws->len[b] = bt->lengths ? bt->lengths[b] : T;
        if (ws->len[b] > ws->Teff) ws->Teff = ws->len[b];
    }
    /* only the first Teff steps of an all-steps target are read (a chunk's view may end there) */
    const size_t rows = ws->cfg.loss_at == RNNLAB_LOSS_ALL ? (size_t)ws->Teff * B : (size_t)B;
    if (ws->target) memcpy(ws->target, bt->target, rows * O * sizeof(double));
    if (ws->target_class) memcpy(ws->target_class, bt->target_class, rows * sizeof(int));
    long n = 0;
    for (int b = 0; b < B; b++) n += ws->cfg.loss_at == RNNLAB_LOSS_ALL ? ws->len[b] : 1;
    ws->n_pos = ws->n_pos_fixed > 0 ? ws->n_pos_fixed : n;
}

/* X = x with padded positions (t >= length) set to 0, so what the padding held never matters. */
static void R(load_input)(rnnlab_bptt *ws, const double *x)
{
    const int B = ws->B, I = ws->I;
    R(rnnlab_from_double)(ws->X, x, (size_t)ws->Teff * B * I);
    for (int t = 0; t < ws->Teff; t++)
        for (int b = 0; b < B; b++)
            if (t >= ws->len[b]) memset((real *)ws->X + ((size_t)t * B + b) * I, 0, (size_t)I * sizeof(real));
}

/* ---------------------------------------------------------------- a workspace split into parts
 *
 * (bptt_api.c, split_count.) Each part is a whole workspace of batch rows part_b0[p]..part_b0[p+1]-1;
 * the parts run side by side on the OpenMP pool, one thread each, with nothing shared until their
 * gradients are added in part order. The loss of each part is weighted by the whole batch's count of
 * loss positions (n_pos_fixed), so the parts' losses add up to the batch's.
 */

/* Copies (rows, per) blocks of n doubles with strides: dst row r = src row r (strides in doubles). */
static void copy_rows(double *dst, size_t dst_stride, const double *src, size_t src_stride, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * src_stride, n * sizeof(double));
}

static void R(split_forward)(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt)
{
    copy_batch_meta(ws, bt); /* the whole batch's lengths, Teff and count of loss positions */
    /* only the first Teff steps are read, as one workspace reads them (a chunk's view may end there) */
    const int B = ws->B, T = ws->Teff, I = ws->I, O = ws->O, L = ws->L, H = ws->H;
    const int all = ws->cfg.loss_at == RNNLAB_LOSS_ALL;
    RNNLAB_PARALLEL_PARTS(ws->nsplit,
    for (int p = 0; p < ws->nsplit; p++) {
        rnnlab_bptt *w = ws->part[p];
        const int b0 = ws->part_b0[p], Bp = w->B;
        const rnnlab_split_in in = rnnlab_bptt_split_in_layout(w);
        double *st = ws->part_in[p];
        rnnlab_batch v = *bt;
        copy_rows(st + in.x, (size_t)Bp * I, bt->x + (size_t)b0 * I, (size_t)B * I, (size_t)T, (size_t)Bp * I);
        v.x = st + in.x;
        v.lengths = bt->lengths ? bt->lengths + b0 : NULL;
        if (ws->target && all) { /* the targets the loss reads (xent: classes only), as copy_batch_meta */
            copy_rows(st + in.target, (size_t)Bp * O, bt->target + (size_t)b0 * O, (size_t)B * O, (size_t)T, (size_t)Bp * O);
            v.target = st + in.target;
        } else if (ws->target)
            v.target = bt->target + (size_t)b0 * O;
        else
            v.target = NULL;
        if (ws->target_class && all) {
            for (int t = 0; t < T; t++)
                memcpy(ws->part_cls[p] + (size_t)t * Bp, bt->target_class + (size_t)t * B + b0, (size_t)Bp * sizeof(int));
            v.target_class = ws->part_cls[p];
        } else if (ws->target_class)
            v.target_class = bt->target_class + b0;
        else
            v.target_class = NULL;
        if (bt->h0) {
            copy_rows(st + in.h0, (size_t)Bp * H, bt->h0 + (size_t)b0 * H, (size_t)B * H, (size_t)L, (size_t)Bp * H);
            v.h0 = st + in.h0;
        }
        if (bt->c0) {
            copy_rows(st + in.c0, (size_t)Bp * H, bt->c0 + (size_t)b0 * H, (size_t)B * H, (size_t)L, (size_t)Bp * H);
            v.c0 = st + in.c0;
        }
        w->n_pos_fixed = ws->n_pos;
        R(rnnlab_bptt_forward_impl)(w, m, &v, &ws->part_loss[p]); /* a non-finite loss is named below */
    });
    ws->loss = 0;
    for (int p = 0; p < ws->nsplit; p++) ws->loss += ws->part_loss[p];
}

static rnnlab_status R(backward_finish)(rnnlab_bptt *ws, const rnnlab_model *m);

static rnnlab_status R(split_backward)(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0)
{
    const int B = ws->B, T = ws->T, I = ws->I, L = ws->L, H = ws->H;
    RNNLAB_PARALLEL_PARTS(ws->nsplit,
    for (int p = 0; p < ws->nsplit; p++) {
        rnnlab_bptt *w = ws->part[p];
        const rnnlab_split_in in = rnnlab_bptt_split_in_layout(w);
        double *st = ws->part_in[p];
        rnnlab_model mp = *m; /* the same parameters, this part's own gradients */
        mp.grads = ws->part_grads[p];
        R(rnnlab_bptt_backward_impl)(w, &mp, dx ? st + in.dx : NULL, dh0 ? st + in.dh0 : NULL,
                                     dc0 && ws->Cs ? st + in.dc0 : NULL); /* non-finite: named below */
    });
    /* the gradients: the parts' sums added in part order (elements shared among the threads) */
    real *g = m->grads;
    const int keep = ws->keep_grads, P = ws->nsplit;
    RNNLAB_PARALLEL_FOR(m->n_params,
    for (size_t i = 0; i < m->n_params; i++) {
        real s = keep ? g[i] + ((const real *)ws->part_grads[0])[i] : ((const real *)ws->part_grads[0])[i];
        for (int p = 1; p < P; p++) s += ((const real *)ws->part_grads[p])[i];
        g[i] = s;
    });
    for (int p = 0; p < P; p++) { /* dx, dh0, dc0 back into the whole batch's rows */
        const rnnlab_bptt *w = ws->part[p];
        const rnnlab_split_in in = rnnlab_bptt_split_in_layout(w);
        const size_t b0 = (size_t)ws->part_b0[p], Bp = (size_t)w->B;
        const double *st = ws->part_in[p];
        if (dx) copy_rows(dx + b0 * I, (size_t)B * I, st + in.dx, Bp * I, (size_t)T, Bp * I);
        if (dh0) copy_rows(dh0 + b0 * H, (size_t)B * H, st + in.dh0, Bp * H, (size_t)L, Bp * H);
        if (dc0 && ws->Cs) copy_rows(dc0 + b0 * H, (size_t)B * H, st + in.dc0, Bp * H, (size_t)L, Bp * H);
    }
    if (ws->cfg.taps) /* each step's per-sample parts in sample order, then the same reduction as one workspace's */
        for (int l = 0; l < L; l++)
            for (int t = 0; t < T; t++) {
                for (int p = 0; p < P; p++) {
                    const rnnlab_bptt *w = ws->part[p];
                    const int Bp = w->B, b0 = ws->part_b0[p];
                    const double *q = w->tap_b + ((size_t)l * T + t) * 4 * Bp;
                    for (int k = 0; k < 4; k++)
                        memcpy(ws->tap_gather + (size_t)k * B + b0, q + (size_t)k * Bp, (size_t)Bp * sizeof(double));
                }
                const double *q = ws->tap_gather;
                const size_t i = (size_t)l * T + t;
                tap_reduce(q, q + B, B, ws->len, t, &ws->tap_h[i], &ws->tap_hm[i]);
                if (ws->tap_c) tap_reduce(q + 2 * B, q + 3 * B, B, ws->len, t, &ws->tap_c[i], &ws->tap_cm[i]);
            }
    return R(backward_finish)(ws, m);
}

rnnlab_status R(rnnlab_bptt_forward_impl)(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,
                                          double *loss)
{
    if (ws->nsplit > 1) R(split_forward)(ws, m, bt);
    else {
        copy_batch_meta(ws, bt);
        ws->dropout_seed = bt->dropout_seed;
        R(load_input)(ws, bt->x);
        R(set_initial_states)(ws, bt->h0, bt->c0);
        R(transpose_u)(ws, m);
        for (int t0 = 0; t0 < ws->Teff; t0 += ws->tblock) /* time blocks: see time_block */
            R(forward_range)(ws, m, t0, RNNLAB_MIN(t0 + ws->tblock, ws->Teff) - 1);
        R(head_forward)(ws, m);
        ws->loss = R(loss_eval)(ws, -1, NULL, NULL);
    }
    ws->have_forward = 1;
    if (loss) *loss = ws->loss;
    if (isfinite(ws->loss)) return RNNLAB_OK;
    /* name the first (step, layer) whose state is not finite */
    int l_bad, t_bad, b_bad, j_bad;
    R(rnnlab_bptt_first_nonfinite_impl)(ws, &l_bad, &t_bad, &b_bad, &j_bad);
    if (l_bad >= 0)
        return rnnlab_error(RNNLAB_ERR_NUMERIC, "non-finite hidden state at layer %d, step %d (sample %d, unit %d)",
                            l_bad, t_bad, b_bad, j_bad);
    return rnnlab_error(RNNLAB_ERR_NUMERIC, "the loss is not finite (%g) although every hidden state is", ws->loss);
}

/* ---------------------------------------------------------------- backward */

enum { TAP_NONE, TAP_NORMS, TAP_ACCUM };

#ifndef RNNLAB_PREFETCH_BYTES
#define RNNLAB_PREFETCH_BYTES (8u << 20) /* a layer's gate rows beyond this: prefetch (below, L3 holds them) */
#endif

/*
 * Reverse sweep of layer l over steps t_hi..t_lo. dHin (t - t_lo rows of (B, H)) is the gradient
 * arriving at h_t from above (head or layer l+1, through the stream); the recurrent gradient starts
 * at zero after t_hi, or with resume it continues from the sweep of the steps after t_hi (ws->dh_next
 * and *dc_io as that sweep left them: time blocks). Writes dZx/dZh rows (t - t_lo), adds the
 * per-step parameter sums (PReLU, layer norm) into the model's gradients, and leaves dL/dh_{t_lo - 1}
 * in ws->dh_next and dL/dc_{t_lo - 1} in *dc_io (LSTM). dHin NULL: the top layer under a sparse head
 * (backward_full), whose gradient is ws->dhead at each sample's last step and zero elsewhere.
 */
static void R(layer_sweep)(rnnlab_bptt *ws, rnnlab_model *m, int l, int t_lo, int t_hi, const real *dHin, real *dZx,
                           real *dZh, int tap_mode, int resume, real **dc_io)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, T = ws->T;
    const size_t BH = (size_t)B * H;
    const rnnlab_cell_opts o = R(rnnlab_cell_opts_of)(m);
    const R(rnnlab_cell_ops) *ops = R(rnnlab_cell_ops_get)(m->cfg.cell, &o);
    const int sep = R(rnnlab_cell_separate_dzh)(ops, &o);
    R(rnnlab_layer) p;
    R(rnnlab_layer_grad) g;
    R(rnnlab_layer_view)(m, l, &p);
    R(layer_grad_view)(m, l, &g);
    const real *Hl = ws->Hs[l], *Cl = ws->Cs ? ws->Cs[l] : NULL, *gl = ws->gates[l];
    const real *el = ws->extra ? ws->extra[l] : NULL;
    real *dh = ws->dh, *dh_next = ws->dh_next, *dct = ws->dc_tot;
    real *dc = ws->dc_a, *dc_prev = ws->dc_b;
    if (resume && Cl && *dc_io == dc_prev) dc = dc_prev, dc_prev = ws->dc_a;
    if (!resume) {
        memset(dh_next, 0, BH * sizeof(real));
        if (Cl) memset(dc, 0, BH * sizeof(real));
    }
    /* gate rows beyond RNNLAB_PREFETCH_BYTES stream in from memory step by step in reverse, which the
       hardware prefetchers do not follow: the cell's backward asks for step t-1's rows row by row
       while it works on step t's (cache.prefetch; below it L3 holds the rows and the hints were
       measured no better) */
    const int prefetch = ws->prefetch_mode ? ws->prefetch_mode > 0
                                           : (size_t)ws->Teff * B * GH * sizeof(real) > RNNLAB_PREFETCH_BYTES;
    for (int t = t_hi; t >= t_lo; t--) {
        if (dHin) {
            const real *in = dHin + (size_t)(t - t_lo) * BH;
            for (size_t i = 0; i < BH; i++) dh[i] = in[i] + dh_next[i]; /* total dL/dh_t */
        } else /* sparse head: dL/dh_t arrives from the head only at each sample's last step */
            for (int b = 0; b < B; b++) {
                const real *in = (const real *)ws->dhead + (size_t)b * H;
                real *d = dh + (size_t)b * H;
                const real *dn = dh_next + (size_t)b * H;
                if (t == ws->len[b] - 1)
                    for (int j = 0; j < H; j++) d[j] = in[j] + dn[j];
                else
                    for (int j = 0; j < H; j++) d[j] = 0 + dn[j]; /* the same bits as the dense sum */
            }
        if (tap_mode == TAP_NORMS)
            R(tap_norms)(ws, dh, l, t, 0, &ws->tap_h[(size_t)l * T + t], &ws->tap_hm[(size_t)l * T + t]);
        else if (tap_mode == TAP_ACCUM) {
            real *acc = (real *)ws->dH_acc[l] + (size_t)t * BH;
            for (size_t i = 0; i < BH; i++) acc[i] += dh[i];
        }
        const R(rnnlab_ln_step) ln = R(rnnlab_ln_step_of)(ws, l, t);
        const R(rnnlab_step_cache) cache = {
            .gates = gl + (size_t)t * B * GH,
            .extra = el ? el + (size_t)t * BH : NULL,
            .h = Hl + (size_t)(t + 1) * BH,
            .c = Cl ? Cl + (size_t)(t + 1) * BH : NULL,
            .h_prev = Hl + (size_t)t * BH,
            .c_prev = Cl ? Cl + (size_t)t * BH : NULL,
            .ln = ln.hat ? &ln : NULL,
            .prefetch = prefetch && t > 0 && !ln.hat,
        };
        const size_t zrow = (size_t)(t - t_lo) * B * GH;
        ops->backward(dh_next, Cl ? dc_prev : NULL, dZx + zrow, sep ? dZh + zrow : NULL, Cl ? dct : NULL, &g, dh,
                      Cl ? dc : NULL, &cache, &p, &o, B, H, ws->scratch);
        if (Cl) {
            if (tap_mode == TAP_NORMS)
                R(tap_norms)(ws, dct, l, t, 1, &ws->tap_c[(size_t)l * T + t], &ws->tap_cm[(size_t)l * T + t]);
            else if (tap_mode == TAP_ACCUM) {
                real *acc = (real *)ws->dC_acc[l] + (size_t)t * BH;
                for (size_t i = 0; i < BH; i++) acc[i] += dct[i];
            }
            real *tmp = dc;
            dc = dc_prev, dc_prev = tmp; /* dc now holds dL/dc_{t-1} through c_t */
        }
    }
    if (dc_io) *dc_io = dc;
}

/* Adds dW, db_ih, db_hh, dU (and peepholes, input-norm gains) of layer l from the pre-activation
 * gradients of rows [r0, r0 + TB) (row t*B + b; dZx and dZh point at row r0). dZx is turned in place
 * into dL/d(X W^T) (through the input norm), which the caller then multiplies by W for the layer
 * below. The input norm needs all rows at once (r0 = 0, TB = Teff * B). */
static void R(layer_wgrad)(rnnlab_bptt *ws, rnnlab_model *m, int l, real *dZx, const real *dZh, size_t r0, int TB)
{
    const int H = ws->H, GH = ws->GH;
    const rnnlab_cell_opts o = R(rnnlab_cell_opts_of)(m);
    const R(rnnlab_cell_ops) *ops = R(rnnlab_cell_ops_get)(m->cfg.cell, &o);
    R(rnnlab_layer) p;
    R(rnnlab_layer_grad) g;
    R(rnnlab_layer_view)(m, l, &p);
    R(layer_grad_view)(m, l, &g);
    if (dZh == dZx && !o.layer_norm) { /* one pass: both biases get the same sums */
        real *s = ws->scratch;            /* (B, GH) >= GH */
        R(rnnlab_colsum)(s, dZx, TB, GH, GH, 0);
        for (int j = 0; j < GH; j++) g.db_ih[j] += s[j], g.db_hh[j] += s[j];
    } else {
        R(rnnlab_colsum)(g.db_ih, dZx, TB, GH, GH, 1); /* b_ih is added after the input norm */
        if (!o.layer_norm) R(rnnlab_colsum)(g.db_hh, dZh, TB, GH, GH, 1); /* (with layer norm: summed per step) */
    }
    /* dU and peepholes before dZx changes: without layer norm dZh may be dZx itself */
    const real *Cl = ws->Cs ? (const real *)ws->Cs[l] + r0 * H : NULL; /* rows of c_{t-1} */
    const real *el = ws->extra ? (const real *)ws->extra[l] + r0 * H : NULL;
    ops->wgrad_hh(&g, dZx, dZh, (const real *)ws->Hs[l] + r0 * H, Cl, Cl ? Cl + (size_t)ws->B * H : NULL, el, &p, &o,
                  TB, H);
    if (ws->norm != RNNLAB_NORM_NONE) R(input_norm_backward)(ws, &p, &g, l, dZx, (size_t)TB);
    const real *Xin = R(layer_input)(ws, l) + r0 * p.I;
    R(rnnlab_gemm_rows)(1, 0, GH, p.I, TB, 1, dZx, GH, Xin, p.I, 1, g.dW, p.I); /* dW += dZx^T X */
}

/* dWh, dbh and the gradient arriving at the head's input rows: dHtop (TB, H), or with the loss at the
 * last step and dHtop NULL only its B non-zero rows, in ws->dhead (B, H) (see sparse_head). */
static void R(head_backward)(rnnlab_bptt *ws, rnnlab_model *m, real *dHtop)
{
    const int B = ws->B, H = ws->H, O = ws->O, rows = head_rows(ws);
    real *dY = ws->dY;
    real *dWh = role_ptr(m, m->grads, -1, RNNLAB_ROLE_HEAD_W), *dbh = role_ptr(m, m->grads, -1, RNNLAB_ROLE_HEAD_B);
    R(loss_eval)(ws, -1, dY, NULL);
    /* added to the zeroed (or, chunked, the running) gradients like every other tensor's */
    R(rnnlab_gemm_rows)(1, 0, O, H, rows, 1, dY, O, R(head_input)(ws), H, 1, dWh, H); /* dWh += dY^T Hin */
    R(rnnlab_colsum)(dbh, dY, rows, O, O, 1);
    if (ws->cfg.loss_at == RNNLAB_LOSS_ALL) {
        R(rnnlab_gemm_rows)(0, 0, rows, H, O, 1, dY, O, R(head_weight)(m), H, 0, dHtop, H); /* dHtop = dY Wh */
    } else {
        real *gb = ws->dhead; /* (B, H) */
        R(rnnlab_gemm)(0, 0, B, H, O, 1, dY, O, R(head_weight)(m), H, 0, gb, H);
        if (!dHtop) return; /* sparse_head: the sweep reads gb at each sample's last step */
        memset(dHtop, 0, (size_t)ws->Teff * B * H * sizeof(real));
        for (int b = 0; b < B; b++)
            memcpy(dHtop + ((size_t)(ws->len[b] - 1) * B + b) * H, gb + (size_t)b * H, (size_t)H * sizeof(real));
    }
    R(dropout_backward)(ws, m, ws->L, dHtop, 0, (size_t)ws->Teff * B); /* now dL/dS_{L-1} */
}

/* The gradient of layer l's input stream from the gradient of its W-input d (rows [r0, r1), in
 * place) and of its output stream dS (same rows): dS_{l-1} = D_l d + (residual ? dS_l : 0). */
static void R(input_stream_backward)(const rnnlab_bptt *ws, const rnnlab_model *m, int l, real *d, const real *dS,
                                     size_t r0, size_t r1)
{
    R(dropout_backward)(ws, m, l, d, r0, r1);
    if (ws->residual && l >= 1)
        for (size_t i = 0; i < (r1 - r0) * ws->H; i++) d[i] += dS[i];
}

static void R(backward_full)(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, TB = ws->Teff * ws->B;
    const size_t BH = (size_t)B * H;
    real *cur = ws->dHa, *other = ws->dHb;
    const int tap_mode = ws->cfg.taps ? TAP_NORMS : TAP_NONE;
    /* a one-layer model with a sparse head has no dHa: dHb takes dx (W2: 6 MiB less memory) */
    const int sparse_head = bptt_sparse_head(ws);
    R(head_backward)(ws, m, sparse_head ? NULL : cur);
    const int nblk = (ws->Teff + ws->tblock - 1) / ws->tblock;
    for (int l = ws->L - 1; l >= 0; l--) {
        /* one time block with keep_cache = 0: step t's dZ goes over step t's gates, which the cell's
           backward has read by then (each (b, j) reads its gates before writing its dZ, and no later
           step reads them); else dZx and dZh hold one block's rows */
        real *dZx = ws->dZx ? (real *)ws->dZx : (real *)ws->gates[l];
        const real *dHin = sparse_head && l == ws->L - 1 ? NULL : cur;
        R(rnnlab_layer) p;
        R(rnnlab_layer_view)(m, l, &p);
        real *dc = NULL;
        /* time blocks, last first (see time_block): the weight gradients and the input's gradient of a
           block's rows while its dZ rows are still in cache */
        for (int k = nblk - 1; k >= 0; k--) {
            const int t_lo = k * ws->tblock, t_hi = RNNLAB_MIN(t_lo + ws->tblock, ws->Teff) - 1;
            const size_t r0 = (size_t)t_lo * B, rows = (size_t)(t_hi - t_lo + 1) * B;
            real *zx = ws->dZx ? dZx : dZx + r0 * GH, *zh = ws->dZh ? (real *)ws->dZh : zx;
            R(layer_sweep)(ws, m, l, t_lo, t_hi, dHin ? dHin + r0 * H : NULL, zx, zh, tap_mode, k < nblk - 1, &dc);
            R(layer_wgrad)(ws, m, l, zx, zh, r0, (int)rows);
            if (l > 0 || dx) { /* gradient of the layer's input: dZx W, (rows, I_l) */
                real *d = other + r0 * p.I;
                R(rnnlab_gemm_rows)(0, 0, (int)rows, p.I, GH, 1, zx, GH, p.W, p.I, 0, d, p.I);
                if (l > 0) R(input_stream_backward)(ws, m, l, d, cur + r0 * H, r0, r0 + rows);
            }
        }
        if (dh0) R(rnnlab_to_double)(dh0 + l * BH, ws->dh_next, BH);
        if (dc0 && ws->Cs) R(rnnlab_to_double)(dc0 + l * BH, dc, BH);
        if (l > 0 || dx) {
            real *tmp = cur;
            cur = other, other = tmp;
        }
    }
    if (dx) {
        R(rnnlab_to_double)(dx, cur, (size_t)TB * ws->I);
        memset(dx + (size_t)TB * ws->I, 0, (size_t)(ws->T - ws->Teff) * B * ws->I * sizeof(double));
    }
}

/* Does any sample have a loss at step s? */
static int has_loss_at(const rnnlab_bptt *ws, int s)
{
    for (int b = 0; b < ws->B; b++)
        if (ws->cfg.loss_at == RNNLAB_LOSS_ALL ? s < ws->len[b] : s == ws->len[b] - 1) return 1;
    return 0;
}

static void R(backward_windowed)(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, T = ws->Teff, Ts = ws->T, L = ws->L, k = ws->cfg.truncate;
    const size_t BH = (size_t)B * H, TBGH = (size_t)T * B * GH;
    const int sep = ws->dZh != NULL;
    real *dHtop = ws->dHa;
    R(head_backward)(ws, m, dHtop);
    for (int l = 0; l < L; l++) {
        memset(ws->dZx_sum[l], 0, TBGH * sizeof(real));
        if (sep) memset(ws->dZh_sum[l], 0, TBGH * sizeof(real));
        memset(ws->dH_acc[l], 0, (size_t)T * BH * sizeof(real));
        if (ws->Cs) memset(ws->dC_acc[l], 0, (size_t)T * BH * sizeof(real));
    }
    memset(ws->dh0_acc, 0, L * BH * sizeof(real));
    if (ws->Cs) memset(ws->dc0_acc, 0, L * BH * sizeof(real));
    real *dZx_w = ws->dZx_w, *dZh_w = sep ? (real *)ws->dZh_w : dZx_w;
    for (int s = 0; s < T; s++) {
        if (!has_loss_at(ws, s)) continue;
        const int t_lo = RNNLAB_MAX(0, s - k + 1), n = s - t_lo + 1;
        real *win = ws->dHw_a, *below = ws->dHw_b;
        memset(win, 0, (size_t)n * BH * sizeof(real));
        memcpy(win + (size_t)(n - 1) * BH, dHtop + (size_t)s * BH, BH * sizeof(real)); /* only L_s enters */
        for (int l = L - 1; l >= 0; l--) {
            real *dc = NULL;
            R(layer_sweep)(ws, m, l, t_lo, s, win, dZx_w, dZh_w, TAP_ACCUM, 0, &dc);
            real *sx = (real *)ws->dZx_sum[l] + (size_t)t_lo * B * GH;
            for (size_t i = 0; i < (size_t)n * B * GH; i++) sx[i] += dZx_w[i];
            if (sep) {
                real *sh = (real *)ws->dZh_sum[l] + (size_t)t_lo * B * GH;
                for (size_t i = 0; i < (size_t)n * B * GH; i++) sh[i] += dZh_w[i];
            }
            if (t_lo == 0) { /* this window reaches step 0: its gradient enters h0 (c0) */
                real *a = (real *)ws->dh0_acc + l * BH;
                for (size_t i = 0; i < BH; i++) a[i] += ((real *)ws->dh_next)[i];
                if (ws->Cs) {
                    real *ac = (real *)ws->dc0_acc + l * BH;
                    for (size_t i = 0; i < BH; i++) ac[i] += dc[i];
                }
            }
            if (l > 0) {
                R(rnnlab_layer) p;
                R(rnnlab_layer_view)(m, l, &p);
                const size_t r0 = (size_t)t_lo * B, r1 = (size_t)(s + 1) * B;
                /* the input norm is row by row here (layer norm, or batch norm in evaluation mode): it
                   commutes with the sum over windows, so the sums above stay untransformed */
                R(input_norm_backward_rows)(ws, &p, l, dZx_w, r0, r1);
                R(rnnlab_gemm_rows)(0, 0, n * B, H, GH, 1, dZx_w, GH, p.W, H, 0, below, H); /* dh^{l-1} = dZx W */
                R(input_stream_backward)(ws, m, l, below, win, r0, r1);
                real *tmp = win;
                win = below, below = tmp;
            }
        }
    }
    for (int l = L - 1; l >= 0; l--) {
        real *sx = ws->dZx_sum[l];
        R(layer_wgrad)(ws, m, l, sx, sep ? (real *)ws->dZh_sum[l] : sx, 0, T * B);
        if (ws->cfg.taps)
            for (int t = 0; t < T; t++) {
                R(tap_norms)(ws, (real *)ws->dH_acc[l] + (size_t)t * BH, l, t, 0, &ws->tap_h[(size_t)l * Ts + t],
                             &ws->tap_hm[(size_t)l * Ts + t]);
                if (ws->Cs)
                    R(tap_norms)(ws, (real *)ws->dC_acc[l] + (size_t)t * BH, l, t, 1, &ws->tap_c[(size_t)l * Ts + t],
                                 &ws->tap_cm[(size_t)l * Ts + t]);
            }
    }
    if (dx) { /* layer_wgrad turned dZx_sum[0] into dL/d(X W^T) */
        R(rnnlab_layer) p;
        R(rnnlab_layer_view)(m, 0, &p);
        R(rnnlab_gemm_rows)(0, 0, T * B, p.I, GH, 1, ws->dZx_sum[0], GH, p.W, p.I, 0, ws->dHb, p.I);
        R(rnnlab_to_double)(dx, ws->dHb, (size_t)T * B * ws->I);
        memset(dx + (size_t)T * B * ws->I, 0, (size_t)(Ts - T) * B * ws->I * sizeof(double));
    }
    if (dh0) R(rnnlab_to_double)(dh0, ws->dh0_acc, L * BH);
    if (dc0 && ws->Cs) R(rnnlab_to_double)(dc0, ws->dc0_acc, L * BH);
}

/* The gradient norms of every tensor, and the check that the gradients are finite. */
static rnnlab_status R(backward_finish)(rnnlab_bptt *ws, const rnnlab_model *m)
{
    for (int i = 0; i < m->n_tensors; i++)
        ws->param_norm[i] = R(norm2)((const real *)m->grads + m->tensors[i].offset, m->tensors[i].numel);
    /* non-finite: name the layer and step nearest the loss where dL/dh first is, else the tensor */
    if (ws->cfg.taps)
        for (int l = ws->L - 1; l >= 0; l--)
            for (int t = ws->T - 1; t >= 0; t--)
                if (!isfinite(ws->tap_h[(size_t)l * ws->T + t]))
                    return rnnlab_error(RNNLAB_ERR_NUMERIC, "non-finite gradient dL/dh at layer %d, step %d (norm %g)",
                                        l, t, ws->tap_h[(size_t)l * ws->T + t]);
    for (int i = 0; i < m->n_tensors; i++)
        if (!isfinite(ws->param_norm[i]))
            return rnnlab_error(RNNLAB_ERR_NUMERIC, "non-finite gradient in tensor %s (norm %g)", m->tensors[i].name,
                                ws->param_norm[i]);
    return RNNLAB_OK;
}

rnnlab_status R(rnnlab_bptt_backward_impl)(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0)
{
    if (ws->nsplit > 1) return R(split_backward)(ws, m, dx, dh0, dc0);
    if (!ws->keep_grads) rnnlab_model_zero_grad(m);
    const size_t LT = (size_t)ws->L * ws->T;
    memset(ws->tap_h, 0, LT * sizeof(double)), memset(ws->tap_hm, 0, LT * sizeof(double));
    if (ws->tap_c) memset(ws->tap_c, 0, LT * sizeof(double)), memset(ws->tap_cm, 0, LT * sizeof(double));
    if (ws->split_part && ws->cfg.taps) memset(ws->tap_b, 0, LT * 4 * ws->B * sizeof(double));
    if (ws->windowed) R(backward_windowed)(ws, m, dx, dh0, dc0);
    else R(backward_full)(ws, m, dx, dh0, dc0);
    return ws->split_part ? RNNLAB_OK : R(backward_finish)(ws, m); /* the whole workspace does it */
}

/* ---------------------------------------------------------------- truncated objective (reference) */

double R(rnnlab_bptt_window_loss_impl)(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,
                                       const double *entry_h, const double *entry_c, int k)
{
    const int T = ws->T; /* entry_h strides use the full T */
    const size_t BH = (size_t)ws->B * ws->H;
    copy_batch_meta(ws, bt);
    ws->dropout_seed = bt->dropout_seed;
    R(load_input)(ws, bt->x);
    R(transpose_u)(ws, m);
    double total = 0;
    for (int s = 0; s < T; s++) {
        if (!has_loss_at(ws, s)) continue;
        const int t_lo = RNNLAB_MAX(0, s - k + 1);
        if (t_lo == 0) R(set_initial_states)(ws, bt->h0, bt->c0);
        else
            for (int l = 0; l < ws->L; l++) { /* detached entry states from the unperturbed forward */
                const size_t off = ((size_t)l * (T + 1) + t_lo) * BH;
                R(rnnlab_from_double)((real *)ws->Hs[l] + t_lo * BH, entry_h + off, BH);
                if (ws->Cs) R(rnnlab_from_double)((real *)ws->Cs[l] + t_lo * BH, entry_c + off, BH);
            }
        R(forward_range)(ws, m, t_lo, s);
        R(head_forward)(ws, m);
        total += R(loss_eval)(ws, s, NULL, NULL);
    }
    ws->have_forward = 0; /* the cache no longer matches one forward */
    return total;
}

/* ---------------------------------------------------------------- batch norm's running statistics */

void R(rnnlab_bptt_update_running_impl)(const rnnlab_bptt *ws, rnnlab_model *m, double momentum)
{
    const int GH = ws->GH;
    long N = 0;
    for (size_t r = 0; r < (size_t)ws->Teff * ws->B; r++) N += row_real(ws, r);
    for (int l = 0; l < ws->L; l++) {
        const real *mean = ws->bn_stat[l], *var = mean + GH;
        const int im = rnnlab_model_tensor_of(m, l, RNNLAB_ROLE_BN_MEAN), iv = rnnlab_model_tensor_of(m, l, RNNLAB_ROLE_BN_VAR);
        double *rm = m->buffers + m->buffer_tensors[im].offset, *rv = m->buffers + m->buffer_tensors[iv].offset;
        for (int c = 0; c < GH; c++) {
            rm[c] = (1 - momentum) * rm[c] + momentum * (double)mean[c];
            rv[c] = (1 - momentum) * rv[c] + momentum * (double)var[c] * (N > 1 ? (double)N / (N - 1) : 1.0);
        }
    }
}

/* ---------------------------------------------------------------- reading the cache */

void R(rnnlab_bptt_first_nonfinite_impl)(const rnnlab_bptt *ws, int *layer, int *t, int *b, int *j)
{
    const size_t BH = (size_t)ws->B * ws->H;
    *layer = *t = *b = *j = -1;
    if (ws->nsplit > 1) { /* the earliest (step, layer), then the lowest sample, over the parts */
        for (int p = 0; p < ws->nsplit; p++) {
            int pl, pt, pb, pj;
            R(rnnlab_bptt_first_nonfinite_impl)(ws->part[p], &pl, &pt, &pb, &pj);
            if (pl >= 0 && (*layer < 0 || pt < *t || (pt == *t && pl < *layer)))
                *layer = pl, *t = pt, *b = ws->part_b0[p] + pb, *j = pj;
        }
        return;
    }
    for (int tt = 0; tt < ws->Teff; tt++)
        for (int l = 0; l < ws->L; l++) {
            const real *h = (const real *)ws->Hs[l] + (size_t)(tt + 1) * BH;
            for (size_t i = 0; i < BH; i++)
                if (!isfinite(h[i])) {
                    *layer = l, *t = tt, *b = (int)(i / ws->H), *j = (int)(i % ws->H);
                    return;
                }
        }
}

void R(rnnlab_bptt_get_state_impl)(const rnnlab_bptt *ws, int l, int t, double *h_out, double *c_out)
{
    const size_t BH = (size_t)ws->B * ws->H;
    if (ws->nsplit > 1) { /* each part's rows are a contiguous block of (B, H) */
        for (int p = 0; p < ws->nsplit; p++) {
            const size_t o = (size_t)ws->part_b0[p] * ws->H;
            R(rnnlab_bptt_get_state_impl)(ws->part[p], l, t, h_out ? h_out + o : NULL, c_out ? c_out + o : NULL);
        }
        return;
    }
    if (h_out) R(rnnlab_to_double)(h_out, (const real *)ws->Hs[l] + (size_t)(t + 1) * BH, BH);
    if (c_out && ws->Cs) R(rnnlab_to_double)(c_out, (const real *)ws->Cs[l] + (size_t)(t + 1) * BH, BH);
}

void R(rnnlab_bptt_sample_losses_impl)(const rnnlab_bptt *ws, double *loss_b)
{
    for (int b = 0; b < ws->B; b++) loss_b[b] = 0;
    if (ws->nsplit > 1) /* each part's own samples, rows b0.. of the batch */
        for (int p = 0; p < ws->nsplit; p++) R(loss_eval)(ws->part[p], -1, NULL, loss_b + ws->part_b0[p]);
    else R(loss_eval)(ws, -1, NULL, loss_b);
}

void R(rnnlab_bptt_get_output_impl)(const rnnlab_bptt *ws, double *out)
{
    if (ws->nsplit > 1) { /* rows (t, b) of every step the part computed; 0 at steps after its longest sample */
        const int O = ws->O, all = ws->cfg.loss_at == RNNLAB_LOSS_ALL;
        for (int p = 0; p < ws->nsplit; p++) {
            const rnnlab_bptt *w = ws->part[p];
            const size_t b0 = (size_t)ws->part_b0[p], Bp = (size_t)w->B;
            for (int t = 0; t < (all ? ws->Teff : 1); t++)
                for (size_t b = 0; b < Bp; b++)
                    for (int o = 0; o < O; o++)
                        out[((size_t)t * ws->B + b0 + b) * O + o] =
                            t < w->Teff ? (double)((const real *)w->Y)[((size_t)t * Bp + b) * O + o] : 0;
        }
        return;
    }
    R(rnnlab_to_double)(out, ws->Y, (size_t)head_rows(ws) * ws->O);
}
