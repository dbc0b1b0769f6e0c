/*
 * gradcheck.c - central finite differences in float64 against rnnlab_bptt_backward, for every
 * parameter, input element, initial state and gradient tap. Definitions: rnnlab/gradcheck.h.
 *
 * The finite-difference side only ever runs forward passes: rnnlab_bptt_forward for full BPTT, and
 * rnnlab_bptt_window_loss (the truncated objective by its definition) for 1 <= k < T.
 */
#include "rnnlab/gradcheck.h"
#include "rnnlab/init.h"
#include "rnnlab/rng.h"
#include "engine/bptt_internal.h"
#include "engine/check_report.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- reports */

void rnnlab_check_report_free(rnnlab_check_report *rep)
{
    if (!rep) return;
    rnnlab_free(rep->e);
    rep->e = NULL;
    rep->n = 0;
}

rnnlab_status rnnlab_report_add(rnnlab_check_report *rep, const char *name, rnnlab_check_entry **out)
{
    rnnlab_check_entry *e = rnnlab_malloc((size_t)(rep->n + 1) * sizeof *e);
    if (!e) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory in the gradient check report");
    if (rep->n) memcpy(e, rep->e, (size_t)rep->n * sizeof *e);
    rnnlab_free(rep->e);
    rep->e = e;
    *out = &e[rep->n++];
    memset(*out, 0, sizeof **out);
    snprintf((*out)->name, sizeof (*out)->name, "%s", name);
    (*out)->pass = 1;
    return RNNLAB_OK;
}

void rnnlab_report_compare(rnnlab_check_entry *e, size_t i, double a, double r, double atol, double tol,
                           int symmetric)
{
    const double d = fabs(a - r), scale = symmetric ? fmax(fabs(a), fabs(r)) : fabs(r);
    const double rel = d == 0 ? 0 : d / fmax(scale, 1e-300);
    /* an infinite value agrees only with the same infinity (else inf <= atol + tol * inf would pass
       any finite value against it); NaN with nothing */
    const int ok = isfinite(a) && isfinite(r) ? d <= atol + tol * scale : a == r;
    e->n++;
    if (ok && d > tol * scale) e->n_floor++;
    if (fabs(r) > e->max_ref) e->max_ref = fabs(r);
    if (d > e->max_abs || d != d) e->max_abs = d;
    if (e->n == 1 || rel > e->max_rel || rel != rel) {
        e->max_rel = rel;
        e->worst = i, e->worst_a = a, e->worst_r = r;
    }
    if (!ok) e->pass = 0;
}

void rnnlab_report_finish(rnnlab_check_report *rep)
{
    rep->all_pass = 1;
    for (int i = 0; i < rep->n; i++)
        if (!rep->e[i].pass) rep->all_pass = 0;
}

/* ---------------------------------------------------------------- finite differences */

void rnnlab_gradcheck_config_init(rnnlab_gradcheck_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    rnnlab_model_config_init(&cfg->model);
    cfg->model.input_size = 3, cfg->model.hidden_size = 4, cfg->model.num_layers = 2, cfg->model.output_size = 2;
    rnnlab_bptt_config_init(&cfg->bptt);
    cfg->bptt.batch = 2, cfg->bptt.seq_len = 5;
    cfg->seed = 1;
    cfg->tol = 1e-6;
    cfg->atol = 1e-8;
    cfg->check_taps = 1;
}

/* Everything one check needs; freed at done. */
typedef struct fd_ctx {
    rnnlab_model *m;
    rnnlab_bptt *ws;
    rnnlab_batch bt;
    double *x, *target, *h0, *c0, *entry_h, *entry_c;
    int *cls, *len;
    unsigned char *kink_ref;
    int windowed, k;
} fd_ctx;

/* The objective at the current parameters/data and whether it crossed a kink. */
static rnnlab_status fd_objective(fd_ctx *c, double *f, long *flips)
{
    rnnlab_status st;
    if (c->windowed) st = rnnlab_bptt_window_loss(c->ws, c->m, &c->bt, c->entry_h, c->entry_c, c->k, f);
    else st = rnnlab_bptt_forward(c->ws, c->m, &c->bt, f);
    *flips += c->kink_ref ? rnnlab_bptt_kink_flips(c->ws) : 0;
    return st;
}

/* Central difference of the objective in the direction of *v (a parameter, input or state value),
 * step h = 1e-5 * max(1, |v|); the setter writes v into wherever it lives. */
typedef void (*fd_setter)(fd_ctx *c, size_t j, double v);

static void set_param(fd_ctx *c, size_t j, double v) { rnnlab_model_param_set_at(c->m, j, v); }
static void set_x(fd_ctx *c, size_t j, double v) { c->x[j] = v; }
static void set_h0(fd_ctx *c, size_t j, double v) { c->h0[j] = v; }
static void set_c0(fd_ctx *c, size_t j, double v) { c->c0[j] = v; }

/* The five-point central difference (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h: its error is O(h^4),
 * which keeps high-curvature maps (layer norm over few units) within the tolerance where the
 * three-point one's O(h^2) would not. */
static rnnlab_status fd_diff(fd_ctx *c, fd_setter set, size_t j, double v0, double *out, int *skipped)
{
    const double h = 1e-5 * fmax(1.0, fabs(v0)), mult[4] = {-2, -1, 1, 2};
    double f[4];
    long flips = 0;
    rnnlab_status st = RNNLAB_OK;
    for (int k = 0; k < 4 && !st; k++) {
        set(c, j, v0 + mult[k] * h);
        st = fd_objective(c, &f[k], &flips);
    }
    set(c, j, v0);
    *out = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
    *skipped = flips != 0;
    return st;
}

/* Compares n analytic values with finite differences of elements get(j) set through `set`. */
static rnnlab_status fd_tensor(fd_ctx *c, rnnlab_check_report *rep, const char *name, const double *analytic,
                               const double *values, size_t n, fd_setter set, const rnnlab_gradcheck_config *cfg)
{
    rnnlab_check_entry *e;
    rnnlab_status st = rnnlab_report_add(rep, name, &e);
    for (size_t j = 0; j < n && !st; j++) {
        double num;
        int skip;
        st = fd_diff(c, set, j, values[j], &num, &skip);
        if (skip) e->n_skipped++;
        else rnnlab_report_compare(e, j, analytic[j], num, cfg->atol, cfg->tol, 1);
    }
    return st;
}

/* Norms of (B, H) vectors as bptt.h defines the taps (plain double arithmetic; FD values are O(1)). */
static void tap_norms_plain(const double *v, int B, int H, const int *len, int t, double *norm, double *mean)
{
    double tot = 0, msum = 0;
    int cnt = 0;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int j = 0; j < H; j++) s += v[(size_t)b * H + j] * v[(size_t)b * H + j];
        tot += s;
        if (t < len[b]) msum += sqrt(s), cnt++;
    }
    *norm = sqrt(tot);
    *mean = cnt ? msum / cnt : 0;
}

static rnnlab_status fd_taps(fd_ctx *c, rnnlab_check_report *rep, const rnnlab_taps *taps,
                             const rnnlab_gradcheck_config *cfg)
{
    const int L = c->m->cfg.num_layers, T = cfg->bptt.seq_len, B = cfg->bptt.batch, H = c->m->cfg.hidden_size;
    rnnlab_check_entry *en, *em;
    rnnlab_status st = rnnlab_report_add(rep, "tap_h_norm", &en);
    if (!st) st = rnnlab_report_add(rep, "tap_h_norm_mean", &em);
    if (st) return st;
    en = &rep->e[rep->n - 2];
    double *v = rnnlab_malloc((size_t)B * H * sizeof *v);
    if (!v) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory in the tap check");
    for (int l = 0; l < L && !st; l++)
        for (int t = 0; t < T && !st; t++) {
            int skipped = 0;
            for (int b = 0; b < B && !st; b++)
                for (int j = 0; j < H && !st; j++) {
                    const double eps = 1e-5 * fmax(1.0, fabs(c->entry_h[(((size_t)l * (T + 1) + t + 1) * B + b) * H + j]));
                    const double mult[4] = {-2, -1, 1, 2};
                    double f[4];
                    long flips = 0;
                    for (int k = 0; k < 4 && !st; k++) {
                        rnnlab_bptt_set_perturb(c->ws, 1, l, t, b, j, mult[k] * eps);
                        st = fd_objective(c, &f[k], &flips);
                    }
                    rnnlab_bptt_set_perturb(c->ws, 0, 0, 0, 0, 0, 0);
                    v[(size_t)b * H + j] = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * eps);
                    if (flips) skipped = 1;
                }
            if (skipped) {
                en->n_skipped++, em->n_skipped++;
                continue;
            }
            double nrm, mean;
            tap_norms_plain(v, B, H, c->len, t, &nrm, &mean);
            rnnlab_report_compare(en, (size_t)l * T + t, taps->h_norm[(size_t)l * T + t], nrm, cfg->atol, cfg->tol, 1);
            rnnlab_report_compare(em, (size_t)l * T + t, taps->h_norm_mean[(size_t)l * T + t], mean, cfg->atol,
                                  cfg->tol, 1);
        }
    rnnlab_free(v);
    return st;
}

rnnlab_status rnnlab_gradcheck_run(const rnnlab_gradcheck_config *cfg, rnnlab_check_report *rep)
{
    RNNLAB_REQUIRE_PTR("rnnlab_gradcheck_run", cfg);
    RNNLAB_REQUIRE_PTR("rnnlab_gradcheck_run", rep);
    memset(rep, 0, sizeof *rep);
    if (!(cfg->tol >= 0) || isinf(cfg->tol) || !(cfg->atol >= 0) || isinf(cfg->atol))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "tol and atol must be finite and >= 0 (got %g and %g)", cfg->tol, cfg->atol);
    if (cfg->model.dtype != RNNLAB_FLOAT64)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "gradient checks run in float64 (the model is %s)",
                            rnnlab_dtype_name(cfg->model.dtype));
    fd_ctx c;
    memset(&c, 0, sizeof c);
    double *ga = NULL, *dx = NULL, *dh0 = NULL, *dc0 = NULL, *tap_copy = NULL;
    rnnlab_status st = rnnlab_model_create(&c.m, &cfg->model);
    rnnlab_bptt_config bc = cfg->bptt;
    bc.taps = 1;
    if (!st) st = rnnlab_bptt_create(&c.ws, c.m, &bc);
    if (st) goto done;
    const int B = bc.batch, T = bc.seq_len, I = cfg->model.input_size, H = cfg->model.hidden_size;
    const int L = cfg->model.num_layers, O = cfg->model.output_size, lstm = cfg->model.cell == RNNLAB_CELL_LSTM;
    const int all = bc.loss_at == RNNLAB_LOSS_ALL;
    const size_t rows = all ? (size_t)T * B : (size_t)B, LBH = (size_t)L * B * H, ST = (size_t)L * (T + 1) * B * H;
    c.windowed = bc.truncate > 0 && bc.truncate < T;
    c.k = bc.truncate;

    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, cfg->seed);
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    if ((st = rnnlab_model_init(c.m, &ic, &rng))) goto done;
    if (cfg->params)
        for (size_t j = 0; j < c.m->n_params; j++) rnnlab_model_param_set_at(c.m, j, cfg->params[j]);
    c.x = rnnlab_malloc((size_t)T * B * I * sizeof(double));
    c.h0 = rnnlab_malloc(LBH * sizeof(double));
    c.c0 = rnnlab_malloc(LBH * sizeof(double));
    c.len = rnnlab_malloc((size_t)B * sizeof(int));
    c.entry_h = rnnlab_malloc(ST * sizeof(double));
    c.entry_c = rnnlab_malloc(ST * sizeof(double));
    c.target = rnnlab_malloc(rows * O * sizeof(double));
    c.cls = rnnlab_malloc(rows * sizeof(int));
    ga = rnnlab_malloc(c.m->n_params * sizeof(double));
    dx = rnnlab_malloc((size_t)T * B * I * sizeof(double));
    dh0 = rnnlab_malloc(LBH * sizeof(double));
    dc0 = rnnlab_malloc(LBH * sizeof(double));
    tap_copy = rnnlab_malloc(2 * (size_t)L * T * sizeof(double));
    if (!c.x || !c.h0 || !c.c0 || !c.len || !c.entry_h || !c.entry_c || !c.target || !c.cls || !ga || !dx || !dh0 ||
        !dc0 || !tap_copy) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory in the gradient check");
        goto done;
    }
    for (size_t i = 0; i < (size_t)T * B * I; i++) c.x[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < LBH; i++) c.h0[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < LBH; i++) c.c0[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < rows * O; i++)
        c.target[i] = bc.loss == RNNLAB_LOSS_BERNOULLI ? (double)(rnnlab_rng_uniform(&rng) < 0.5)
                                                       : 2 * rnnlab_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < rows; i++) c.cls[i] = (int)rnnlab_rng_below(&rng, (uint64_t)O);
    for (int b = 0; b < B; b++) c.len[b] = cfg->random_lengths ? 1 + (int)rnnlab_rng_below(&rng, (uint64_t)T) : T;
    c.bt.x = c.x, c.bt.h0 = c.h0, c.bt.c0 = lstm ? c.c0 : NULL, c.bt.lengths = c.len;
    c.bt.dropout_seed = rnnlab_seed_derive(cfg->seed, 0xd50); /* fixed masks: the same for every evaluation */
    if (bc.loss == RNNLAB_LOSS_XENT) c.bt.target_class = c.cls;
    else c.bt.target = c.target;

    /* analytic side */
    double loss;
    if ((st = rnnlab_bptt_forward(c.ws, c.m, &c.bt, &loss))) goto done;
    rep->loss = loss;
    for (int l = 0; l < L; l++)
        for (int t = -1; t < T; t++) {
            const size_t off = ((size_t)l * (T + 1) + t + 1) * B * H;
            rnnlab_bptt_get_state(c.ws, l, t, c.entry_h + off, lstm ? c.entry_c + off : NULL);
        }
    if ((st = rnnlab_bptt_backward(c.ws, c.m, dx, dh0, lstm ? dc0 : NULL))) goto done;
    for (size_t j = 0; j < c.m->n_params; j++) ga[j] = rnnlab_model_grad_at(c.m, j);
    rnnlab_taps taps = rnnlab_bptt_get_taps(c.ws);
    memcpy(tap_copy, taps.h_norm, (size_t)L * T * sizeof(double));
    memcpy(tap_copy + (size_t)L * T, taps.h_norm_mean, (size_t)L * T * sizeof(double));
    taps.h_norm = tap_copy, taps.h_norm_mean = tap_copy + (size_t)L * T;

    /* kinks: the sign of every relu/leaky_relu state in this forward */
    if (cfg->model.cell == RNNLAB_CELL_RNN &&
        (cfg->model.activation == RNNLAB_ACT_RELU || cfg->model.activation == RNNLAB_ACT_LEAKY_RELU ||
         cfg->model.activation == RNNLAB_ACT_PRELU)) {
        c.kink_ref = rnnlab_malloc((size_t)L * T * B * H);
        if (!c.kink_ref) {
            st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory in the gradient check");
            goto done;
        }
        for (int l = 0; l < L; l++)
            for (size_t i = 0; i < (size_t)T * B * H; i++)
                c.kink_ref[(size_t)l * T * B * H + i] = c.entry_h[((size_t)l * (T + 1) + 1) * B * H + i] > 0;
        rnnlab_bptt_set_kink_ref(c.ws, c.kink_ref);
    }

    /* numeric side: every parameter tensor, the input, the initial states, the taps */
    double *pv = rnnlab_malloc(c.m->n_params * sizeof(double));
    if (!pv) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory in the gradient check");
        goto done;
    }
    for (size_t j = 0; j < c.m->n_params; j++) pv[j] = rnnlab_model_param_at(c.m, j);
    for (int i = 0; i < c.m->n_tensors && !st; i++) {
        const rnnlab_tensor_info *t = &c.m->tensors[i];
        rnnlab_check_entry *e;
        st = rnnlab_report_add(rep, t->name, &e);
        for (size_t j = 0; j < t->numel && !st; j++) {
            double num;
            int skip;
            st = fd_diff(&c, set_param, t->offset + j, pv[t->offset + j], &num, &skip);
            if (skip) e->n_skipped++;
            else rnnlab_report_compare(e, j, ga[t->offset + j], num, cfg->atol, cfg->tol, 1);
        }
    }
    rnnlab_free(pv);
    if (!st) st = fd_tensor(&c, rep, "input", dx, c.x, (size_t)T * B * I, set_x, cfg);
    if (!st) st = fd_tensor(&c, rep, "h0", dh0, c.h0, LBH, set_h0, cfg);
    if (!st && lstm) st = fd_tensor(&c, rep, "c0", dc0, c.c0, LBH, set_c0, cfg);
    if (!st && cfg->check_taps) st = fd_taps(&c, rep, &taps, cfg);
    rnnlab_report_finish(rep);
done:
    rnnlab_bptt_free(c.ws);
    rnnlab_model_free(c.m);
    void *bufs[] = {c.x, c.target, c.h0, c.c0, c.entry_h, c.entry_c, c.cls, c.len, c.kink_ref, ga, dx, dh0, dc0, tap_copy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rnnlab_free(bufs[i]);
    return st;
}
