/*
 * diag.c - saturation and the Jacobian view, read from the forward cache. Compiled once per
 * precision (core/real.h). Definitions: rnnlab/diag.h.
 *
 * Dimension legend: B batch, T steps, H hidden size, G gates, GH = G*H, S the state size of the
 * Jacobian (H, or 2H for the lstm's (h, c)).
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/internal.h"
#include "engine/bptt_ws.h"
#include "engine/engine_generic.h"
#include "engine/diag_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- saturation */

void R(rnnlab_diag_saturation_impl)(const rnnlab_bptt *ws, const rnnlab_model *m, int l0, int l1,
                                    rnnlab_saturation *out)
{
    const int B = ws->B, H = ws->H, GH = ws->GH;
    const rnnlab_cell_kind cell = m->cfg.cell;
    const rnnlab_activation act = m->cfg.activation;
    const int bounded = cell != RNNLAB_CELL_RNN || act == RNNLAB_ACT_TANH || act == RNNLAB_ACT_SIGMOID;
    const int relu = cell == RNNLAB_CELL_RNN && act == RNNLAB_ACT_RELU;
    /* the sigmoid gates' blocks: lstm i, f, o = blocks 0, 1, 3 (g = 2 is the candidate); gru r, z = 0, 1
       (n = 2 is the candidate) */
    const int gate_block[3] = {0, 1, cell == RNNLAB_CELL_LSTM ? 3 : -1};
    const int n_gates = cell == RNNLAB_CELL_LSTM ? 3 : cell == RNNLAB_CELL_GRU ? 2 : 0;
    const int cand_block = 2;
    double n_units = 0, n_sat = 0, n_dead = 0, n_cand = 0, n_gate[3] = {0, 0, 0};
    for (int l = l0; l <= l1; l++)
        for (int t = 0; t < ws->Teff; t++)
            for (int b = 0; b < B; b++) {
                if (t >= ws->len[b]) continue;
                const real *h = (const real *)ws->Hs[l] + ((size_t)(t + 1) * B + b) * H;
                const real *g = (const real *)ws->gates[l] + ((size_t)t * B + b) * GH;
                for (int j = 0; j < H; j++) {
                    n_units++;
                    n_sat += fabs(h[j]) > (real)0.99;
                    n_dead += h[j] == 0;
                    for (int k = 0; k < n_gates; k++) {
                        const real v = g[gate_block[k] * H + j];
                        n_gate[k] += v < (real)0.1 || v > (real)0.9;
                    }
                    if (n_gates) n_cand += fabs(g[cand_block * H + j]) > (real)0.99;
                }
            }
    out->h = bounded && n_units ? n_sat / n_units : NAN;
    out->dead = relu && n_units ? n_dead / n_units : NAN;
    for (int k = 0; k < 3; k++) out->gate[k] = k < n_gates && n_units ? n_gate[k] / n_units : NAN;
    out->candidate = n_gates && n_units ? n_cand / n_units : NAN;
}

/* ---------------------------------------------------------------- Jacobian */

/* Largest singular value of A (S, S), row-major, by power iteration on A^T A from v (S), which is
 * updated (warm start for the next call). u (S) is scratch. */
static double R(spectral_norm)(const real *A, int S, double *v, double *u)
{
    double sigma = 0;
    for (int it = 0; it < 100; it++) {
        for (int i = 0; i < S; i++) { /* u = A v */
            double s = 0;
            for (int j = 0; j < S; j++) s += (double)A[(size_t)i * S + j] * v[j];
            u[i] = s;
        }
        double un = 0;
        for (int i = 0; i < S; i++) un += u[i] * u[i];
        un = sqrt(un);
        for (int j = 0; j < S; j++) v[j] = 0;
        for (int i = 0; i < S; i++) /* v = A^T u */
            for (int j = 0; j < S; j++) v[j] += (double)A[(size_t)i * S + j] * u[i];
        double vn = 0;
        for (int j = 0; j < S; j++) vn += v[j] * v[j];
        vn = sqrt(vn);
        if (vn == 0 || !isfinite(vn)) { /* A v = 0: restart from a fixed direction next time */
            for (int j = 0; j < S; j++) v[j] = 1 / sqrt((double)S);
            return un == 0 ? 0 : un;
        }
        for (int j = 0; j < S; j++) v[j] /= vn;
        const double next = un == 0 ? 0 : vn / un; /* ||A^T A v|| / ||A v|| -> sigma_max */
        if (it > 0 && fabs(next - sigma) <= 1e-9 * next) return next;
        sigma = next;
    }
    return sigma;
}

rnnlab_status R(rnnlab_diag_jacobian_impl)(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples,
                                           double *norm, double *log10_norm)
{
    const int B = ws->B, H = ws->H, GH = ws->GH, T = ws->T, lstm = ws->Cs != NULL;
    const int S = lstm ? 2 * H : H, nb = RNNLAB_MIN(n_samples, B);
    const rnnlab_cell_opts o = R(rnnlab_cell_opts_of)(m);
    const R(rnnlab_cell_ops) *ops = R(rnnlab_cell_ops_get)(m->cfg.cell, &o);
    const int G = ws->G, lnorm = o.layer_norm;
    R(rnnlab_layer) p;
    R(rnnlab_layer_view)(m, l, &p);
    /* buffers: replicated cache (S rows), the product's rows (dh, dc parts), outputs, scratch, and the
       replicated layer-norm cache */
    const size_t SH = (size_t)S * H, SG = (size_t)S * GH;
    const size_t n_real = 4 * SG + 10 * SH + (size_t)S * S + (lnorm ? SG + (size_t)S * G + SH + S : 0);
    real *buf = rnnlab_malloc(n_real * sizeof(real));
    double *dbuf = rnnlab_malloc((size_t)(2 * S + 2 * T) * sizeof(double));
    if (!buf || !dbuf) {
        rnnlab_free(buf), rnnlab_free(dbuf);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for the Jacobian of layer %d (S = %d)", l, S);
    }
    real *g_rep = buf, *e_rep = g_rep + SG, *h_rep = e_rep + SH, *c_rep = h_rep + SH, *hp_rep = c_rep + SH;
    real *cp_rep = hp_rep + SH, *Mh = cp_rep + SH, *Mc = Mh + SH, *Mh2 = Mc + SH, *Mc2 = Mh2 + SH;
    real *dzx = Mc2 + SH, *dzh = dzx + SG, *scr = dzh + SG, *dct = scr + SG, *A = dct + SH;
    real *lnh_rep = A + (size_t)S * S, *lnr_rep = lnh_rep + SG, *lnc_rep = lnr_rep + (size_t)S * G, *lncr_rep = lnc_rep + SH;
    R(rnnlab_ln_step) ln_rep = {lnh_rep, lnr_rep, lstm ? lnc_rep : NULL, lstm ? lncr_rep : NULL};
    double *v = dbuf, *u = v + S, *sum = u + S, *mx_log = sum + T;
    for (int t = 0; t < T; t++) sum[t] = 0, mx_log[t] = -INFINITY;
    int *count = (int *)rnnlab_calloc((size_t)T, sizeof(int));
    double *logs = rnnlab_malloc((size_t)nb * T * sizeof(double));
    if (!count || !logs) {
        rnnlab_free(buf), rnnlab_free(dbuf), rnnlab_free(count), rnnlab_free(logs);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for the Jacobian of layer %d", l);
    }
    const real *Hl = ws->Hs[l], *Cl = lstm ? ws->Cs[l] : NULL, *gl = ws->gates[l];
    const real *el = ws->extra ? ws->extra[l] : NULL;
    for (int b = 0; b < nb; b++) {
        const int Tb = ws->len[b];
        double *lg = logs + (size_t)b * T;
        for (int t = 0; t < T; t++) lg[t] = NAN;
        /* M = d s_{Tb-1} / d s_{Tb-1} = I: rows e_i, split into the h part and the c part */
        memset(Mh, 0, SH * sizeof(real));
        if (lstm) memset(Mc, 0, SH * sizeof(real));
        for (int i = 0; i < S; i++) {
            if (i < H) Mh[(size_t)i * H + i] = 1;
            else Mc[(size_t)i * H + (i - H)] = 1;
        }
        for (int j = 0; j < S; j++) v[j] = 1 / sqrt((double)S);
        double logscale = 0;
        lg[Tb - 1] = 0;
        for (int t = Tb - 1; t >= 1; t--) {
            /* M <- M J_t, J_t = d s_t / d s_{t-1}: each row of M is a cotangent of s_t */
            const size_t bh = ((size_t)t * B + b) * H;
            for (int i = 0; i < S; i++) {
                memcpy(g_rep + (size_t)i * GH, gl + ((size_t)t * B + b) * GH, (size_t)GH * sizeof(real));
                if (el) memcpy(e_rep + (size_t)i * H, el + bh, (size_t)H * sizeof(real));
                memcpy(h_rep + (size_t)i * H, Hl + bh + (size_t)B * H, (size_t)H * sizeof(real));
                memcpy(hp_rep + (size_t)i * H, Hl + bh, (size_t)H * sizeof(real));
                if (lstm) {
                    memcpy(c_rep + (size_t)i * H, Cl + bh + (size_t)B * H, (size_t)H * sizeof(real));
                    memcpy(cp_rep + (size_t)i * H, Cl + bh, (size_t)H * sizeof(real));
                }
                if (lnorm) {
                    const R(rnnlab_ln_step) src = R(rnnlab_ln_step_of)(ws, l, t);
                    memcpy(lnh_rep + (size_t)i * GH, src.hat + (size_t)b * GH, (size_t)GH * sizeof(real));
                    memcpy(lnr_rep + (size_t)i * G, src.rstd + (size_t)b * G, (size_t)G * sizeof(real));
                    if (lstm) {
                        memcpy(lnc_rep + (size_t)i * H, src.c_hat + (size_t)b * H, (size_t)H * sizeof(real));
                        lncr_rep[i] = src.c_rstd[b];
                    }
                }
            }
            const R(rnnlab_step_cache) cache = {g_rep, el ? e_rep : NULL, h_rep, lstm ? c_rep : NULL, hp_rep,
                                                lstm ? cp_rep : NULL, lnorm ? &ln_rep : NULL};
            ops->backward(Mh2, lstm ? Mc2 : NULL, dzx, dzh, lstm ? dct : NULL, NULL, Mh, lstm ? Mc : NULL, &cache, &p,
                          &o, S, H, scr);
            real *tmp = Mh;
            Mh = Mh2, Mh2 = tmp;
            if (lstm) tmp = Mc, Mc = Mc2, Mc2 = tmp;
            /* rescale so that the product never leaves the precision's range */
            double mx = 0; /* max |M|, NaN once any entry is NaN (fmax would skip it, and it was a call) */
            for (size_t k = 0; k < SH; k++) {
                const double a = fabs((double)Mh[k]);
                mx = a > mx || a != a ? a : mx;
            }
            if (lstm)
                for (size_t k = 0; k < SH; k++) {
                    const double a = fabs((double)Mc[k]);
                    mx = a > mx || a != a ? a : mx;
                }
            if (!isfinite(mx)) break; /* non-finite cache: leave the remaining steps NAN */
            if (mx > 0) {
                const real inv = (real)(1 / mx);
                for (size_t k = 0; k < SH; k++) Mh[k] *= inv;
                if (lstm)
                    for (size_t k = 0; k < SH; k++) Mc[k] *= inv;
                logscale += log10(mx);
            }
            for (int i = 0; i < S; i++) { /* A = [Mh | Mc] */
                memcpy(A + (size_t)i * S, Mh + (size_t)i * H, (size_t)H * sizeof(real));
                if (lstm) memcpy(A + (size_t)i * S + H, Mc + (size_t)i * H, (size_t)H * sizeof(real));
            }
            const double sigma = mx > 0 ? R(spectral_norm)(A, S, v, u) : 0;
            lg[t - 1] = sigma > 0 ? log10(sigma) + logscale : -INFINITY;
        }
        for (int t = 0; t < Tb; t++)
            if (!isnan(lg[t]) && lg[t] > mx_log[t]) mx_log[t] = lg[t];
    }
    /* mean over samples of 10^lg, computed around the largest term so that nothing overflows */
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < ws->len[b]; t++) {
            const double x = logs[(size_t)b * T + t];
            if (isnan(x)) continue;
            count[t]++;
            if (isfinite(mx_log[t])) sum[t] += pow(10.0, x - mx_log[t]);
        }
    for (int t = 0; t < T; t++) {
        if (!count[t]) {
            log10_norm[t] = NAN, norm[t] = NAN;
            continue;
        }
        log10_norm[t] = isfinite(mx_log[t]) ? mx_log[t] + log10(sum[t] / count[t]) : mx_log[t];
        norm[t] = pow(10.0, log10_norm[t]);
    }
    rnnlab_free(buf), rnnlab_free(dbuf), rnnlab_free(count), rnnlab_free(logs);
    return RNNLAB_OK;
}
