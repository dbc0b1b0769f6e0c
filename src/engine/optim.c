/*
 * optim.c - optimizers (SGD with momentum and Nesterov, RMSprop, Adam, AdamW), learning-rate
 * schedules and gradient clipping on the model's flat blocks. Formulas, defaults and sources:
 * include/rnnlab/optim.h.
 *
 * Not here: the training loop (src/lab/train.c) or anything that reads data.
 *
 * This file is compiled twice (GENERIC_SRC, src/core/real.h): the kernels below the first banner
 * exist once per precision (_f32, _f64); the precision-free part (names, defaults, checks,
 * schedules and the public entry points that dispatch on the model's precision) is compiled in the
 * float64 pass only.
 *
 * Legend: n elements per block (the model's n_params); p parameters, g gradients, s0..s2 the
 * optimizer's state blocks, all (n) of `real`.
 */
#include "rnnlab/optim.h"
#include "core/internal.h"
#include "core/real.h"

#include <string.h>

/* The per-precision kernels (defined below for this pass's precision, declared for both). */
#define OPTIM_DECLARE(S)                                                                                       \
    void rnnlab_optim_update##S(const rnnlab_optim_config *c, long t, double lr, size_t n, void *p,            \
                                const void *g, void *s0, void *s1, void *s2);                                  \
    void rnnlab_block_norm##S(const void *x, size_t n, double *norm);                                          \
    void rnnlab_block_scale##S(void *x, size_t n, double coef);                                                \
    long rnnlab_block_clamp##S(void *x, size_t n, double max);
OPTIM_DECLARE(_f32)
OPTIM_DECLARE(_f64)
#undef OPTIM_DECLARE

/* ================================================================ kernels (one per precision) */

/* One update of every element, in the order of torch.optim's single-tensor implementations. t is
 * the 1-based update count. Elementwise: each element has one writer, so no order questions. */
void R(rnnlab_optim_update)(const rnnlab_optim_config *c, long t, double lr, size_t n, void *p_, const void *g_,
                            void *s0_, void *s1_, void *s2_)
{
    real *p = p_, *s0 = s0_, *s1 = s1_, *s2 = s2_;
    const real *g = g_;
    const real wd = (real)c->weight_decay, rlr = (real)lr;
    switch (c->kind) {
    case RNNLAB_OPTIM_SGD: {
        /* g += wd p;  b = g (t = 1) or mu b + (1 - dampening) g;  g = g + mu b (nesterov) or b;  p -= lr g */
        const real mu = (real)c->momentum, damp = (real)(1.0 - c->dampening);
        for (size_t j = 0; j < n; j++) {
            real d = g[j];
            if (c->weight_decay != 0) d = d + wd * p[j];
            if (c->momentum != 0) {
                s0[j] = t == 1 ? d : mu * s0[j] + damp * d;
                d = c->nesterov ? d + mu * s0[j] : s0[j];
            }
            p[j] = p[j] - rlr * d;
        }
        break;
    }
    case RNNLAB_OPTIM_RMSPROP: {
        /* v = alpha v + (1 - alpha) g^2;  [a = alpha a + (1 - alpha) g;  v~ = v - a^2];  d = sqrt(v~) + eps */
        const real alpha = (real)c->alpha, one_m = (real)(1.0 - c->alpha), eps = (real)c->eps, mu = (real)c->momentum;
        for (size_t j = 0; j < n; j++) {
            real d = g[j];
            if (c->weight_decay != 0) d = d + wd * p[j];
            s0[j] = alpha * s0[j] + one_m * d * d;
            real avg;
            if (c->centered) {
                s2[j] = s2[j] + one_m * (d - s2[j]); /* torch 2.x: grad_avg.lerp_(g, 1 - alpha) */
                avg = sqrt(s0[j] - s2[j] * s2[j]) + eps;
            } else {
                avg = sqrt(s0[j]) + eps;
            }
            if (c->momentum > 0) {
                s1[j] = mu * s1[j] + d / avg; /* b = mu b + g / d;  p -= lr b */
                p[j] = p[j] - rlr * s1[j];
            } else {
                p[j] = p[j] + (-rlr * d) / avg; /* addcdiv_(g, avg, value=-lr) */
            }
        }
        break;
    }
    case RNNLAB_OPTIM_ADAM:
    case RNNLAB_OPTIM_ADAMW: {
        /* m += (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2;
         * p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - beta_k^t */
        const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
        const real w1 = (real)(1.0 - c->beta1), b2 = (real)c->beta2, w2 = (real)(1.0 - c->beta2);
        const real step_size = (real)(lr / bc1), bc2_sqrt = (real)sqrt(bc2), eps = (real)c->eps;
        const real decay = (real)(1.0 - lr * c->weight_decay);
        const int decoupled = c->kind == RNNLAB_OPTIM_ADAMW;
        for (size_t j = 0; j < n; j++) {
            real d = g[j];
            if (c->weight_decay != 0) {
                if (decoupled) p[j] = p[j] * decay; /* p *= 1 - lr wd */
                else d = d + wd * p[j];             /* g += wd p */
            }
            s0[j] = s0[j] + w1 * (d - s0[j]);
            s1[j] = s1[j] * b2 + w2 * d * d;
            const real denom = sqrt(s1[j]) / bc2_sqrt + eps;
            p[j] = p[j] + (-step_size * s0[j]) / denom; /* addcdiv_(m, denom, value=-step_size) */
        }
        break;
    }
    default:
        break;
    }
}

/* ||x||_2 accumulated in double, in memory order, scaled by the largest magnitude so that neither
 * tiny nor huge values are lost (the idea of LAPACK's dnrm2, in two passes). A non-finite element
 * gives inf or nan. */
void R(rnnlab_block_norm)(const void *x_, size_t n, double *norm)
{
    const real *x = x_;
    double amax = 0;
    for (size_t j = 0; j < n; j++) {
        const double a = fabs((double)x[j]);
        if (!(a <= amax)) amax = a; /* NaN propagates: !(nan <= amax) */
        if (amax != amax) break;
    }
    if (amax == 0 || !isfinite(amax)) {
        *norm = amax;
        return;
    }
    double ssq = 0;
    for (size_t j = 0; j < n; j++) {
        const double r = (double)x[j] / amax;
        ssq += r * r;
    }
    *norm = amax * sqrt(ssq);
}

void R(rnnlab_block_scale)(void *x_, size_t n, double coef)
{
    real *x = x_;
    const real c = (real)coef;
    for (size_t j = 0; j < n; j++) x[j] = x[j] * c;
}

/* Clamps to [-max, max]; returns how many elements changed. */
long R(rnnlab_block_clamp)(void *x_, size_t n, double max)
{
    real *x = x_;
    const real hi = (real)max, lo = -hi;
    long k = 0;
    for (size_t j = 0; j < n; j++) {
        if (x[j] > hi) x[j] = hi, k++;
        else if (x[j] < lo) x[j] = lo, k++;
    }
    return k;
}

/* ================================================================ precision-free part (float64 pass) */
#if RNNLAB_REAL_BITS == 64

#include <math.h>
#include <stdio.h>

static const char *const optim_names[RNNLAB_OPTIM_COUNT] = {"sgd", "rmsprop", "adam", "adamw"};
static const char *const schedule_names[RNNLAB_SCHEDULE_COUNT] = {"constant", "step", "cosine"};
static const char *const clip_names[RNNLAB_CLIP_COUNT] = {"none", "global_norm", "tensor_norm", "value"};

const char *rnnlab_optim_name(rnnlab_optim_kind k) { return (unsigned)k < RNNLAB_OPTIM_COUNT ? optim_names[k] : "?"; }
const char *rnnlab_schedule_name(rnnlab_schedule_kind k)
{
    return (unsigned)k < RNNLAB_SCHEDULE_COUNT ? schedule_names[k] : "?";
}
const char *rnnlab_clip_name(rnnlab_clip_kind k) { return (unsigned)k < RNNLAB_CLIP_COUNT ? clip_names[k] : "?"; }

/* The index of `name` in names[0..n-1] into *i; RNNLAB_ERR_CONFIG "unknown <what> '<name>' (expected
 * <expected>)" when it is not there or NULL. */
static rnnlab_status parse_name(const char *const *names, int n, const char *what, const char *expected,
                                const char *name, int *i)
{
    for (int j = 0; name && j < n; j++)
        if (!strcmp(names[j], name)) return *i = j, RNNLAB_OK;
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown %s '%s' (expected %s)", what, name ? name : "(null)", expected);
}

rnnlab_status rnnlab_optim_parse(const char *name, rnnlab_optim_kind *k)
{
    RNNLAB_REQUIRE_PTR("rnnlab_optim_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_optim_parse", k);
    int i = 0;
    const rnnlab_status st =
        parse_name(optim_names, RNNLAB_OPTIM_COUNT, "optimizer", "sgd, rmsprop, adam or adamw", name, &i);
    if (!st) *k = (rnnlab_optim_kind)i;
    return st;
}

rnnlab_status rnnlab_schedule_parse(const char *name, rnnlab_schedule_kind *k)
{
    RNNLAB_REQUIRE_PTR("rnnlab_schedule_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_schedule_parse", k);
    int i = 0;
    const rnnlab_status st =
        parse_name(schedule_names, RNNLAB_SCHEDULE_COUNT, "schedule", "constant, step or cosine", name, &i);
    if (!st) *k = (rnnlab_schedule_kind)i;
    return st;
}

rnnlab_status rnnlab_clip_parse(const char *name, rnnlab_clip_kind *k)
{
    RNNLAB_REQUIRE_PTR("rnnlab_clip_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_clip_parse", k);
    int i = 0;
    const rnnlab_status st =
        parse_name(clip_names, RNNLAB_CLIP_COUNT, "clipping", "none, global_norm, tensor_norm or value", name, &i);
    if (!st) *k = (rnnlab_clip_kind)i;
    return st;
}

/* ---------------------------------------------------------------- optimizers */

void rnnlab_optim_config_init(rnnlab_optim_config *cfg, rnnlab_optim_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->lr = kind == RNNLAB_OPTIM_RMSPROP ? 1e-2 : 1e-3;
    cfg->alpha = 0.99;
    cfg->eps = 1e-8;
    cfg->beta1 = 0.9, cfg->beta2 = 0.999;
    cfg->weight_decay = kind == RNNLAB_OPTIM_ADAMW ? 1e-2 : 0;
}


rnnlab_status rnnlab_optim_config_check(const rnnlab_optim_config *c)
{
    RNNLAB_REQUIRE_PTR("rnnlab_optim_config_check", c);
    rnnlab_status st;
    if ((unsigned)c->kind >= RNNLAB_OPTIM_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "optimizer: invalid value %d", (int)c->kind);
    if ((st = rnnlab_check_range("lr", c->lr, 0, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("weight_decay", c->weight_decay, 0, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("momentum", c->momentum, 0, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("dampening", c->dampening, -HUGE_VAL, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("alpha", c->alpha, 0, 1, 1))) return st;
    if ((st = rnnlab_check_range("eps", c->eps, 0, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("beta1", c->beta1, 0, 1, 1))) return st;
    if ((st = rnnlab_check_range("beta2", c->beta2, 0, 1, 1))) return st;
    if (c->nesterov && (c->kind != RNNLAB_OPTIM_SGD || c->momentum <= 0 || c->dampening != 0))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "nesterov needs the sgd optimizer, momentum > 0 and dampening = 0");
    return RNNLAB_OK;
}

const char *rnnlab_optim_state_name(rnnlab_optim_kind kind, int k)
{
    static const char *const names[RNNLAB_OPTIM_COUNT][RNNLAB_OPTIM_STATE_BLOCKS] = {
        {"momentum_buffer", NULL, NULL},
        {"square_avg", "momentum_buffer", "grad_avg"},
        {"exp_avg", "exp_avg_sq", NULL},
        {"exp_avg", "exp_avg_sq", NULL}};
    if ((unsigned)kind >= RNNLAB_OPTIM_COUNT || k < 0 || k >= RNNLAB_OPTIM_STATE_BLOCKS) return NULL;
    return names[kind][k];
}

void rnnlab_optim_free(rnnlab_optim *o)
{
    if (!o) return;
    for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++) rnnlab_free(o->state[k]);
    rnnlab_free(o);
}

rnnlab_status rnnlab_optim_create(rnnlab_optim **out, const rnnlab_model *m, const rnnlab_optim_config *cfg)
{
    RNNLAB_REQUIRE_PTR("rnnlab_optim_create", out);
    RNNLAB_REQUIRE_PTR("rnnlab_optim_create", m);
    RNNLAB_REQUIRE_PTR("rnnlab_optim_create", cfg);
    *out = NULL;
    rnnlab_status st = rnnlab_optim_config_check(cfg);
    if (st) return st;
    rnnlab_optim *o = rnnlab_calloc(1, sizeof *o);
    if (!o) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the optimizer");
    o->cfg = *cfg;
    o->dtype = m->cfg.dtype;
    o->n = m->n_params;
    for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++)
        if (!(o->state[k] = rnnlab_calloc(o->n ? o->n : 1, rnnlab_dtype_size(o->dtype)))) {
            const size_t n = o->n;
            rnnlab_optim_free(o);
            return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the optimizer's state (%zu elements)", n);
        }
    *out = o;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_optim_step(rnnlab_optim *o, rnnlab_model *m, double lr)
{
    RNNLAB_REQUIRE_PTR("rnnlab_optim_step", o);
    RNNLAB_REQUIRE_PTR("rnnlab_optim_step", m);
    if (m->n_params != o->n || m->cfg.dtype != o->dtype)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "optimizer made for %zu %s parameters, model has %zu %s", o->n,
                            rnnlab_dtype_name(o->dtype), m->n_params, rnnlab_dtype_name(m->cfg.dtype));
    if (!(lr >= 0) || !isfinite(lr)) return rnnlab_error(RNNLAB_ERR_CONFIG, "learning rate must be finite and >= 0 (got %g)", lr);
    o->step++;
    if (o->dtype == RNNLAB_FLOAT32)
        rnnlab_optim_update_f32(&o->cfg, o->step, lr, o->n, m->params, m->grads, o->state[0], o->state[1], o->state[2]);
    else
        rnnlab_optim_update_f64(&o->cfg, o->step, lr, o->n, m->params, m->grads, o->state[0], o->state[1], o->state[2]);
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- schedules */

void rnnlab_schedule_init(rnnlab_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->kind = RNNLAB_SCHEDULE_CONSTANT;
    s->step_size = 1000;
    s->gamma = 0.1;
    s->t_max = 0;
    s->eta_min = 0;
}

rnnlab_status rnnlab_schedule_check(const rnnlab_schedule *s)
{
    RNNLAB_REQUIRE_PTR("rnnlab_schedule_check", s);
    if ((unsigned)s->kind >= RNNLAB_SCHEDULE_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "schedule: invalid value %d", (int)s->kind);
    if (s->kind == RNNLAB_SCHEDULE_STEP && s->step_size < 1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "step_size must be >= 1 (got %ld)", s->step_size);
    if (s->kind == RNNLAB_SCHEDULE_STEP && (!isfinite(s->gamma) || s->gamma <= 0))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "gamma must be finite and > 0 (got %g)", s->gamma);
    if (s->kind == RNNLAB_SCHEDULE_COSINE && s->t_max < 1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "t_max must be >= 1 for the cosine schedule (got %ld)", s->t_max);
    if (!isfinite(s->eta_min) || s->eta_min < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "eta_min must be finite and >= 0 (got %g)", s->eta_min);
    return RNNLAB_OK;
}

double rnnlab_schedule_lr(const rnnlab_schedule *s, double base, long step)
{
    const double pi = 3.14159265358979323846;
    switch (s->kind) {
    case RNNLAB_SCHEDULE_STEP: /* StepLR; a schedule that rnnlab_schedule_check refuses gives NaN */
        if (s->step_size < 1 || step < 0) return NAN;
        return base * pow(s->gamma, (double)(step / s->step_size));
    case RNNLAB_SCHEDULE_COSINE:
        if (s->t_max < 1 || step < 0) return NAN;
        return s->eta_min + (base - s->eta_min) * (1 + cos(pi * (double)step / (double)s->t_max)) / 2;
    default:
        return base;
    }
}

/* ---------------------------------------------------------------- clipping */

static void block_norm(rnnlab_dtype d, const void *x, size_t n, double *norm)
{
    if (d == RNNLAB_FLOAT32) rnnlab_block_norm_f32(x, n, norm);
    else rnnlab_block_norm_f64(x, n, norm);
}

static void *elem_ptr(const rnnlab_model *m, void *block, size_t off)
{
    return (char *)block + off * rnnlab_dtype_size(m->cfg.dtype);
}

rnnlab_status rnnlab_clip_grads(rnnlab_model *m, rnnlab_clip_kind kind, double max, double *tensor_norms,
                                rnnlab_clip_result *out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_clip_grads", m);
    rnnlab_clip_result res = {0, 0, 0};
    if ((unsigned)kind >= RNNLAB_CLIP_COUNT) return rnnlab_error(RNNLAB_ERR_CONFIG, "clip: invalid value %d", (int)kind);
    if (kind != RNNLAB_CLIP_NONE && (!isfinite(max) || max <= 0))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "clip_max must be finite and > 0 (got %g)", max);
    /* pass 1: per-tensor norms and the global norm; the largest norm first, to scale the sum */
    double amax = 0, bad = 0;
    int first_bad = -1;
    for (int i = 0; i < m->n_tensors; i++) {
        double nrm;
        block_norm(m->cfg.dtype, elem_ptr(m, m->grads, m->tensors[i].offset), m->tensors[i].numel, &nrm);
        if (tensor_norms) tensor_norms[i] = nrm;
        if (!isfinite(nrm)) {
            if (first_bad < 0) first_bad = i, bad = nrm;
        } else if (nrm > amax) amax = nrm;
    }
    double ssq = 0;
    if (first_bad < 0 && amax > 0)
        for (int i = 0; i < m->n_tensors; i++) {
            double nrm;
            if (tensor_norms) nrm = tensor_norms[i];
            else block_norm(m->cfg.dtype, elem_ptr(m, m->grads, m->tensors[i].offset), m->tensors[i].numel, &nrm);
            ssq += (nrm / amax) * (nrm / amax);
        }
    res.global_norm = first_bad >= 0 ? bad : amax * sqrt(ssq);
    if (first_bad >= 0) {
        if (out) *out = res;
        return rnnlab_error(RNNLAB_ERR_NUMERIC, "the gradient of %s is not finite (norm %g)", m->tensors[first_bad].name,
                            bad);
    }
    /* pass 2: clip */
    if (kind == RNNLAB_CLIP_GLOBAL_NORM) {
        const double coef = max / (res.global_norm + 1e-6);
        if (coef < 1) {
            res.fired = 1, res.tensors_clipped = m->n_tensors;
            if (m->cfg.dtype == RNNLAB_FLOAT32) rnnlab_block_scale_f32(m->grads, m->n_params, coef);
            else rnnlab_block_scale_f64(m->grads, m->n_params, coef);
        }
    } else if (kind == RNNLAB_CLIP_TENSOR_NORM) {
        for (int i = 0; i < m->n_tensors; i++) {
            double nrm;
            if (tensor_norms) nrm = tensor_norms[i];
            else block_norm(m->cfg.dtype, elem_ptr(m, m->grads, m->tensors[i].offset), m->tensors[i].numel, &nrm);
            const double coef = max / (nrm + 1e-6);
            if (coef >= 1) continue;
            res.fired = 1, res.tensors_clipped++;
            void *g = elem_ptr(m, m->grads, m->tensors[i].offset);
            if (m->cfg.dtype == RNNLAB_FLOAT32) rnnlab_block_scale_f32(g, m->tensors[i].numel, coef);
            else rnnlab_block_scale_f64(g, m->tensors[i].numel, coef);
        }
    } else if (kind == RNNLAB_CLIP_VALUE) {
        for (int i = 0; i < m->n_tensors; i++) {
            void *g = elem_ptr(m, m->grads, m->tensors[i].offset);
            const long k = m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_block_clamp_f32(g, m->tensors[i].numel, max)
                                                          : rnnlab_block_clamp_f64(g, m->tensors[i].numel, max);
            if (k) res.fired = 1, res.tensors_clipped++;
        }
    }
    if (out) *out = res;
    return RNNLAB_OK;
}

double rnnlab_param_norm(const rnnlab_model *m, int i)
{
    if (i < 0 || i >= m->n_tensors) return NAN;
    double nrm;
    block_norm(m->cfg.dtype, elem_ptr(m, m->params, m->tensors[i].offset), m->tensors[i].numel, &nrm);
    return nrm;
}

#endif /* RNNLAB_REAL_BITS == 64 */
