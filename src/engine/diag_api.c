/*
 * diag_api.c - the public diagnostics: decay statistics of a norm series (precision-free), and the
 * checks and dispatch for saturation and the Jacobian view (diag.c). Definitions: rnnlab/diag.h.
 */
#include "engine/bptt_internal.h"
#include "engine/bptt_ws.h"
#include "engine/diag_internal.h"
#include "core/internal.h"

#include <math.h>

/* Least-squares slope of log10 n_t against t over t in [t0, t1), finite positive n_t only. */
static double log_slope(const double *n, int t0, int t1)
{
    double st = 0, sy = 0, stt = 0, sty = 0;
    int k = 0;
    for (int t = t0; t < t1; t++) {
        if (!(n[t] > 0) || !isfinite(n[t])) continue;
        const double y = log10(n[t]);
        st += t, sy += y, stt += (double)t * t, sty += t * y, k++;
    }
    if (k < 2) return NAN;
    const double den = k * stt - st * st;
    return den == 0 ? NAN : (k * sty - st * sy) / den;
}

void rnnlab_decay_stats_compute(const double *n, int T, double min_normal, rnnlab_decay_stats *out)
{
    out->rate = log_slope(n, 0, T);
    out->rate_first_half = log_slope(n, 0, T / 2);
    out->rate_second_half = log_slope(n, T / 2, T);
    const double thresholds[3] = {1e-3, 1e-6, 1e-9}, last = T > 0 ? n[T - 1] : 0;
    for (int k = 0; k < 3; k++) {
        int m = 0;
        if (last > 0 && isfinite(last)) {
            m = T - 1;
            for (int j = 0; j < T; j++)
                if (!(n[T - 1 - j] >= thresholds[k] * last)) {
                    m = j - 1;
                    break;
                }
        }
        out->horizon[k] = m;
    }
    out->n_zero = out->n_subnormal = out->n_nonfinite = 0;
    for (int t = 0; t < T; t++) {
        if (!isfinite(n[t])) out->n_nonfinite++;
        else if (n[t] == 0) out->n_zero++;
        else if (n[t] < min_normal) out->n_subnormal++;
    }
}

static rnnlab_status check(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int allow_all)
{
    if (!ws->have_forward)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "diagnostics need a forward pass first (rnnlab_bptt_forward)");
    if (ws->cache_consumed)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "diagnostics: the backward of this workspace (keep_cache = 0) "
                                               "overwrote the forward cache; run rnnlab_bptt_forward again");
    if (ws->nsplit > 1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "diagnostics need a workspace with keep_cache = 1 (this one runs its "
                                               "batch as %d parts, each with its own cache)", ws->nsplit);
    if (m->cfg.cell != ws->mcfg.cell || m->cfg.hidden_size != ws->H || m->cfg.num_layers != ws->L ||
        m->cfg.dtype != ws->mcfg.dtype)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "diagnostics: the model does not match the workspace");
    if (l < (allow_all ? -1 : 0) || l >= ws->L)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "diagnostics: layer %d out of range (L = %d)", l, ws->L);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_diag_saturation_of(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples,
                                        rnnlab_saturation *out, long *n_values)
{
    RNNLAB_REQUIRE_PTR("rnnlab_diag_saturation", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_diag_saturation", m);
    RNNLAB_REQUIRE_PTR("rnnlab_diag_saturation", out);
    rnnlab_status st = check(ws, m, l, 1);
    if (st) return st;
    if (n_samples < 1 || n_samples > ws->B)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "saturation: %d samples of a batch of %d", n_samples, ws->B);
    const int l0 = l < 0 ? 0 : l, l1 = l < 0 ? ws->L - 1 : l;
    const long n = m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_diag_saturation_impl_f32(ws, m, l0, l1, n_samples, out)
                                                  : rnnlab_diag_saturation_impl_f64(ws, m, l0, l1, n_samples, out);
    if (n_values) *n_values = n;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_diag_saturation(const rnnlab_bptt *ws, const rnnlab_model *m, int l, rnnlab_saturation *out)
{
    return rnnlab_diag_saturation_of(ws, m, l, ws ? ws->B : 1, out, NULL);
}

rnnlab_status rnnlab_diag_jacobian(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples, double *norm,
                                   double *log10_norm)
{
    RNNLAB_REQUIRE_PTR("rnnlab_diag_jacobian", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_diag_jacobian", m);
    RNNLAB_REQUIRE_PTR("rnnlab_diag_jacobian", norm);
    RNNLAB_REQUIRE_PTR("rnnlab_diag_jacobian", log10_norm);
    rnnlab_status st = check(ws, m, l, 0);
    if (st) return st;
    if (n_samples < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "jacobian_samples must be >= 1 (got %d)", n_samples);
    return m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_diag_jacobian_impl_f32(ws, m, l, n_samples, norm, log10_norm)
                                          : rnnlab_diag_jacobian_impl_f64(ws, m, l, n_samples, norm, log10_norm);
}

void rnnlab_diag_first_nonfinite(const rnnlab_bptt *ws, int *layer, int *t)
{
    int b, j;
    if (ws->mcfg.dtype == RNNLAB_FLOAT32) rnnlab_bptt_first_nonfinite_impl_f32(ws, layer, t, &b, &j);
    else rnnlab_bptt_first_nonfinite_impl_f64(ws, layer, t, &b, &j);
}
