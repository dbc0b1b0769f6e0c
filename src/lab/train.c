/*
 * train.c - training: the [train] settings, the trainer (updates, evaluation, probes, unit
 * statistics, ablation, checkpoints) and the runner's training of one grid point (the loop with
 * evaluation, early stopping, divergence, checkpoints and resume, and the rows of train.csv,
 * train_layers.csv, train_probe.csv, units.csv, final_layers.csv and the summary's training
 * columns).
 *
 * Not here: the optimizers and clipping (src/engine/optim.c), the checkpoint format
 * (src/engine/checkpoint.c), the grid and the journal (experiment.c), the figures (train_plot.c).
 * Definitions: include/rnnlab/train.h; keys and columns: README.md, "Training".
 *
 * Legend: B batch, T steps, I input size, H hidden size, L layers, O outputs, n parameters.
 */
#include "lab/lab_internal.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/csvio.h"
#include "rnnlab/format.h"
#include "rnnlab/rng.h"
#include "rnnlab/runtime.h"
#include "core/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ================================================================ settings */

const char *rnnlab_ablation_name(rnnlab_ablation a)
{
    static const char *const names[] = {"none", "zero", "reinit"};
    return (unsigned)a < RNNLAB_ABLATION_COUNT ? names[a] : "?";
}

void rnnlab_train_config_init(rnnlab_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_steps = 1000;
    c->eval_every = 100;
    c->eval_batches = 0; /* the validation and test splits whole, 8 batches of the others */
    c->patience = 0;
    c->min_delta = 0;
    c->restore_best = 1;
    c->target_loss = NAN;
    rnnlab_optim_config_init(&c->optim, RNNLAB_OPTIM_ADAM);
    rnnlab_schedule_init(&c->schedule);
    c->clip = RNNLAB_CLIP_GLOBAL_NORM;
    c->clip_max = 1;
    c->truncate = 0;
    c->log_every = 1;
    c->checkpoint_every = 1000;
    c->probe.split = RNNLAB_SPLIT_TRAIN;
    c->probe.batch_index = 0;
    c->probe.loss_at = RNNLAB_LOSS_LAST;
    c->probe.truncate = 0;
    c->unit_threshold = 1e-3;
    c->ablation = RNNLAB_ABLATION_ZERO;
    c->slope_window = 0;
    c->init_from = NULL;
}

static const char *const train_keys[] = {
    "max_steps", "eval_every", "eval_batches", "patience", "min_delta", "restore_best", "target_loss", "optimizer",
    "lr", "momentum", "dampening", "nesterov", "weight_decay", "alpha", "eps", "centered", "beta1", "beta2",
    "schedule", "step_size", "gamma", "t_max", "eta_min", "clip", "clip_max", "truncate", "log_every",
    "checkpoint_every", "probe_at", "unit_threshold", "ablation", "slope_window", "init_from", NULL};

int rnnlab_train_key_known(const char *key)
{
    for (int i = 0; train_keys[i]; i++)
        if (!strcmp(train_keys[i], key)) return 1;
    return 0;
}

/* The numeric and boolean keys: where they go and their range. */
typedef struct num_key {
    const char *key;
    char kind;      /* 'l' long, 'i' int, 'd' double, 'b' bool */
    double lo, hi;  /* inclusive, except hi_open */
    int hi_open;
    size_t off;     /* offset in rnnlab_train_config */
} num_key;

#define TC(field) offsetof(rnnlab_train_config, field)
static const num_key num_keys[] = {
    {"max_steps", 'l', 1, 1e15, 0, TC(max_steps)},
    {"eval_every", 'l', 1, 1e15, 0, TC(eval_every)},
    {"eval_batches", 'i', 1, 1 << 20, 0, TC(eval_batches)}, /* or "all" (set_number) */
    {"patience", 'i', 0, 1 << 30, 0, TC(patience)},
    {"min_delta", 'd', 0, HUGE_VAL, 0, TC(min_delta)},
    {"restore_best", 'b', 0, 1, 0, TC(restore_best)},
    {"lr", 'd', 0, HUGE_VAL, 0, TC(optim.lr)},
    {"momentum", 'd', 0, HUGE_VAL, 0, TC(optim.momentum)},
    {"dampening", 'd', -HUGE_VAL, HUGE_VAL, 0, TC(optim.dampening)},
    {"nesterov", 'b', 0, 1, 0, TC(optim.nesterov)},
    {"weight_decay", 'd', 0, HUGE_VAL, 0, TC(optim.weight_decay)},
    {"alpha", 'd', 0, 1, 1, TC(optim.alpha)},
    {"eps", 'd', 0, HUGE_VAL, 0, TC(optim.eps)},
    {"centered", 'b', 0, 1, 0, TC(optim.centered)},
    {"beta1", 'd', 0, 1, 1, TC(optim.beta1)},
    {"beta2", 'd', 0, 1, 1, TC(optim.beta2)},
    {"step_size", 'l', 1, 1e15, 0, TC(schedule.step_size)},
    {"gamma", 'd', 0, HUGE_VAL, 0, TC(schedule.gamma)},
    {"t_max", 'l', 0, 1e15, 0, TC(schedule.t_max)},
    {"eta_min", 'd', 0, HUGE_VAL, 0, TC(schedule.eta_min)},
    {"clip_max", 'd', 0, HUGE_VAL, 0, TC(clip_max)},
    {"truncate", 'i', 0, 1 << 24, 0, TC(truncate)},
    {"log_every", 'l', 1, 1e15, 0, TC(log_every)},
    {"checkpoint_every", 'l', 0, 1e15, 0, TC(checkpoint_every)},
    {"unit_threshold", 'd', 0, HUGE_VAL, 0, TC(unit_threshold)},
    {"slope_window", 'l', 0, 1e15, 0, TC(slope_window)},
};
#undef TC

unsigned exp_train_key_optims(const char *key)
{
    enum { SGD = 1u << RNNLAB_OPTIM_SGD, RMS = 1u << RNNLAB_OPTIM_RMSPROP, ADAM = 1u << RNNLAB_OPTIM_ADAM,
           ADAMW = 1u << RNNLAB_OPTIM_ADAMW };
    static const struct {
        const char *key;
        unsigned optims;
    } own[] = {{"momentum", SGD | RMS}, {"dampening", SGD},          {"nesterov", SGD},           {"alpha", RMS},
               {"centered", RMS},       {"beta1", ADAM | ADAMW},     {"beta2", ADAM | ADAMW},     {"eps", RMS | ADAM | ADAMW}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(own[i].key, key)) return own[i].optims;
    return 0;
}

char exp_train_key_kind(const char *key)
{
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++)
        if (!strcmp(num_keys[i].key, key)) return num_keys[i].kind;
    return 0;
}

static rnnlab_status set_number(rnnlab_train_config *c, const num_key *k, const char *v)
{
    char *p = (char *)c + k->off;
    double x;
    int b;
    if (k->kind == 'b') {
        if (!exp_parse_bool(v, &b)) return rnnlab_error(RNNLAB_ERR_CONFIG, "expected true or false (or yes/no, on/off, 1/0), got '%s'", v);
        *(int *)p = b;
        return RNNLAB_OK;
    }
    if (k->kind == 'd') {
        if (!rnnlab_parse_double(v, &x) || !isfinite(x) || x < k->lo || (k->hi_open ? x >= k->hi : x > k->hi) ||
            (!strcmp(k->key, "gamma") && x == 0) || (!strcmp(k->key, "clip_max") && x == 0)) {
            if (k->hi_open) return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a number in [%g, %g), got '%s'", k->lo, k->hi, v);
            if (k->lo > -HUGE_VAL && (!strcmp(k->key, "gamma") || !strcmp(k->key, "clip_max")))
                return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a number > 0, got '%s'", v);
            if (k->lo > -HUGE_VAL) return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a number >= %g, got '%s'", k->lo, v);
            return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a number, got '%s'", v);
        }
        *(double *)p = x;
        return RNNLAB_OK;
    }
    long l;
    if (!strcmp(k->key, "eval_batches") && !strcmp(v, "all")) return *(int *)p = -1, RNNLAB_OK;
    if (!exp_parse_long(v, &l) || l < (long)k->lo || l > (long)k->hi)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "expected an integer in [%.0f, %.0f]%s, got '%s'", k->lo, k->hi,
                            !strcmp(k->key, "eval_batches") ? " or all" : "", v);
    if (k->kind == 'i') *(int *)p = (int)l;
    else *(long *)p = l;
    return RNNLAB_OK;
}

/* "0, 100, 1000" or "none" into c->probe_at. */
static rnnlab_status set_probe_at(rnnlab_train_config *c, const char *v)
{
    long at[RNNLAB_TRAIN_MAX_PROBES];
    int n_at = 0;
    if (strcmp(v, "none"))
        for (const char *p = v;;) {
            while (*p == ' ' || *p == '\t') p++;
            char item[32];
            size_t n = strcspn(p, ",");
            while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
            long l;
            if (!n || n >= sizeof item)
                return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a list of update counts such as 0, 100, 1000, got '%s'", v);
            memcpy(item, p, n);
            item[n] = '\0';
            if (!exp_parse_long(item, &l) || l < 0 || l > LONG_MAX / 4)
                return rnnlab_error(RNNLAB_ERR_CONFIG, "expected an integer >= 0 in the list, got '%s'", item);
            if (n_at == RNNLAB_TRAIN_MAX_PROBES)
                return rnnlab_error(RNNLAB_ERR_CONFIG, "at most %d probe steps", RNNLAB_TRAIN_MAX_PROBES);
            for (int i = 0; i < n_at; i++)
                if (at[i] == l) return rnnlab_error(RNNLAB_ERR_CONFIG, "step %ld listed twice", l);
            at[n_at++] = l;
            if (!(p = strchr(p, ','))) break;
            p++;
        }
    /* only a whole valid list replaces the old one */
    c->n_probe_at = n_at;
    memcpy(c->probe_at, at, sizeof(long) * (size_t)n_at);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_train_config_set(rnnlab_train_config *c, const char *key, const char *v)
{
    RNNLAB_REQUIRE_PTR("rnnlab_train_config_set", c);
    RNNLAB_REQUIRE_PTR("rnnlab_train_config_set", key);
    RNNLAB_REQUIRE_PTR("rnnlab_train_config_set", v);
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++)
        if (!strcmp(num_keys[i].key, key)) {
            rnnlab_status st = set_number(c, &num_keys[i], v);
            if (!st && !strcmp(key, "lr")) c->lr_set = 1;
            if (!st && !strcmp(key, "weight_decay")) c->wd_set = 1;
            return st;
        }
    if (!strcmp(key, "optimizer")) {
        rnnlab_optim_kind k;
        if (rnnlab_optim_parse(v, &k)) return RNNLAB_ERR_CONFIG;
        /* the optimizer's defaults, keeping what was given before it */
        const rnnlab_optim_config keep = c->optim;
        rnnlab_optim_config_init(&c->optim, k);
        rnnlab_optim_config def;
        rnnlab_optim_config_init(&def, keep.kind);
        if (c->lr_set) c->optim.lr = keep.lr;
        if (c->wd_set) c->optim.weight_decay = keep.weight_decay;
        c->optim.momentum = keep.momentum, c->optim.dampening = keep.dampening, c->optim.nesterov = keep.nesterov;
        c->optim.centered = keep.centered;
        if (keep.alpha != def.alpha) c->optim.alpha = keep.alpha;
        if (keep.eps != def.eps) c->optim.eps = keep.eps;
        if (keep.beta1 != def.beta1) c->optim.beta1 = keep.beta1;
        if (keep.beta2 != def.beta2) c->optim.beta2 = keep.beta2;
        return RNNLAB_OK;
    }
    if (!strcmp(key, "schedule")) return rnnlab_schedule_parse(v, &c->schedule.kind);
    if (!strcmp(key, "clip")) return rnnlab_clip_parse(v, &c->clip);
    if (!strcmp(key, "probe_at")) return set_probe_at(c, v);
    if (!strcmp(key, "target_loss")) {
        double x;
        if (!strcmp(v, "none")) return c->target_loss = NAN, RNNLAB_OK;
        if (!rnnlab_parse_double(v, &x) || !isfinite(x))
            return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a number or none, got '%s'", v);
        c->target_loss = x;
        return RNNLAB_OK;
    }
    if (!strcmp(key, "ablation")) {
        for (int a = 0; a < RNNLAB_ABLATION_COUNT; a++)
            if (!strcmp(v, rnnlab_ablation_name((rnnlab_ablation)a))) return c->ablation = (rnnlab_ablation)a, RNNLAB_OK;
        return rnnlab_error(RNNLAB_ERR_CONFIG, "expected none, zero or reinit, got '%s'", v);
    }
    if (!strcmp(key, "init_from")) {
        if (!*v) return rnnlab_error(RNNLAB_ERR_CONFIG, "expected a file name");
        c->init_from = v;
        return RNNLAB_OK;
    }
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown [train] key '%s' (see README, Training)", key);
}

rnnlab_status rnnlab_train_config_check(const rnnlab_train_config *c)
{
    RNNLAB_REQUIRE_PTR("rnnlab_train_config_check", c);
    rnnlab_status st;
    if (c->max_steps < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "max_steps must be >= 1 (got %ld)", c->max_steps);
    if (c->eval_every < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "eval_every must be >= 1 (got %ld)", c->eval_every);
    if (c->eval_batches < -1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "eval_batches must be >= 1, 0 (the default) or -1 (all) (got %d)", c->eval_batches);
    if (c->log_every < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "log_every must be >= 1 (got %ld)", c->log_every);
    if (c->checkpoint_every < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "checkpoint_every must be >= 0 (got %ld)", c->checkpoint_every);
    if (c->patience < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "patience must be >= 0 (got %d)", c->patience);
    if (c->truncate < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "truncate must be >= 0 (got %d)", c->truncate);
    if (c->slope_window < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "slope_window must be >= 0 (got %ld)", c->slope_window);
    if ((st = rnnlab_check_range("min_delta", c->min_delta, 0, HUGE_VAL, 0))) return st;
    if ((st = rnnlab_check_range("unit_threshold", c->unit_threshold, 0, HUGE_VAL, 0))) return st;
    if (c->restore_best != 0 && c->restore_best != 1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "restore_best must be 0 or 1 (got %d)", c->restore_best);
    if (isinf(c->target_loss))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "target_loss must be finite, or NAN for off (got %g)", c->target_loss);
    if ((st = rnnlab_split_check(c->probe.split))) return rnnlab_error_prefix(st, "probe.split");
    if (c->probe.batch_index < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "probe.batch_index must be >= 0 (got %ld)", c->probe.batch_index);
    if (c->probe.truncate < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "probe.truncate must be >= 0 (got %d)", c->probe.truncate);
    if ((st = rnnlab_optim_config_check(&c->optim))) return st;
    rnnlab_schedule s = c->schedule;
    if (s.t_max == 0) s.t_max = c->max_steps;
    if ((st = rnnlab_schedule_check(&s))) return st;
    if (c->clip != RNNLAB_CLIP_NONE && (!isfinite(c->clip_max) || c->clip_max <= 0))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "clip_max must be > 0 (got %g)", c->clip_max);
    if ((unsigned)c->clip >= RNNLAB_CLIP_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "clip is not a clipping kind (got %d)", (int)c->clip);
    if ((unsigned)c->ablation >= RNNLAB_ABLATION_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "ablation is not an ablation mode (got %d)", (int)c->ablation);
    if (c->n_probe_at < 0 || c->n_probe_at > RNNLAB_TRAIN_MAX_PROBES)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "probe_at: %d steps; from 0 to %d are allowed", c->n_probe_at,
                            RNNLAB_TRAIN_MAX_PROBES);
    for (int i = 0; i < c->n_probe_at; i++)
        if (c->probe_at[i] < 0 || c->probe_at[i] > c->max_steps)
            return rnnlab_error(RNNLAB_ERR_CONFIG, "probe_at: step %ld is outside [0, max_steps = %ld]", c->probe_at[i],
                                c->max_steps);
    return RNNLAB_OK;
}

/* ================================================================ the trainer */

struct rnnlab_trainer {
    rnnlab_train_config cfg;
    rnnlab_schedule sched; /* cfg.schedule with t_max resolved */
    rnnlab_model *m;       /* borrowed */
    rnnlab_dataset *ds;    /* borrowed */
    rnnlab_task_info info;
    uint64_t seed;
    int B, T, I, O;
    rnnlab_optim *opt;
    rnnlab_bptt *ws_train, *ws_eval, *ws_probe;
    long step;             /* updates done */
    int probe_steps;       /* the last probe's steps: its batch's longest sample (as the runner's probe) */
    /* batch buffers, allocated once */
    double *x;            /* (T, B, I) */
    double *target;       /* (T, B, O) or (B, O) */
    int *cls;             /* (T, B) or (B) */
    int *len;             /* (B) */
    double *out;          /* (T, B, O) or (B, O): head outputs */
    double *loss_b;       /* (B) each sample's loss (rnnlab_bptt_get_sample_losses) */
    double *hbuf;         /* (B, H) one state */
    double *tensor_norms; /* (n_tensors) */
};

void rnnlab_trainer_free(rnnlab_trainer *tr)
{
    if (!tr) return;
    rnnlab_optim_free(tr->opt);
    rnnlab_bptt_free(tr->ws_train), rnnlab_bptt_free(tr->ws_eval), rnnlab_bptt_free(tr->ws_probe);
    rnnlab_free(tr->x), rnnlab_free(tr->target), rnnlab_free(tr->cls), rnnlab_free(tr->len);
    rnnlab_free(tr->out), rnnlab_free(tr->loss_b), rnnlab_free(tr->hbuf), rnnlab_free(tr->tensor_norms);
    rnnlab_free(tr);
}

rnnlab_status rnnlab_trainer_create(rnnlab_trainer **out, rnnlab_model *m, rnnlab_dataset *ds, int batch,
                                    const rnnlab_train_config *cfg, uint64_t seed)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_create", out);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_create", m);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_create", ds);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_create", cfg);
    *out = NULL;
    rnnlab_status st = rnnlab_train_config_check(cfg);
    if (st) return st;
    const rnnlab_task_info *info = rnnlab_dataset_info(ds);
    if (info->input_size != m->cfg.input_size || info->output_size != m->cfg.output_size)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "the task has I = %d, O = %d but the model I = %d, O = %d",
                            info->input_size, info->output_size, m->cfg.input_size, m->cfg.output_size);
    if (batch < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch must be >= 1 (got %d)", batch);
    rnnlab_trainer *tr = rnnlab_calloc(1, sizeof *tr);
    if (!tr) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    tr->cfg = *cfg;
    tr->sched = cfg->schedule;
    if (tr->sched.t_max == 0) tr->sched.t_max = cfg->max_steps;
    tr->m = m, tr->ds = ds, tr->info = *info, tr->seed = seed;
    const int B = batch, T = info->seq_len, I = info->input_size, O = info->output_size, H = m->cfg.hidden_size;
    tr->B = B, tr->T = T, tr->I = I, tr->O = O;
    const size_t rows = (size_t)T * B; /* enough for both loss positions */
    tr->x = rnnlab_malloc(sizeof(double) * rows * I);
    tr->target = rnnlab_malloc(sizeof(double) * rows * O);
    tr->cls = rnnlab_malloc(sizeof(int) * rows);
    tr->len = rnnlab_malloc(sizeof(int) * (size_t)B);
    tr->out = rnnlab_malloc(sizeof(double) * rows * O);
    tr->loss_b = rnnlab_malloc(sizeof(double) * (size_t)B);
    tr->hbuf = rnnlab_malloc(sizeof(double) * (size_t)B * H);
    tr->tensor_norms = rnnlab_calloc((size_t)m->n_tensors + 1, sizeof(double));
    if (!tr->x || !tr->target || !tr->cls || !tr->len || !tr->out || !tr->loss_b || !tr->hbuf || !tr->tensor_norms) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the trainer's batch");
        goto fail;
    }
    if ((st = rnnlab_optim_create(&tr->opt, m, &cfg->optim))) goto fail;
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss = info->loss, bc.loss_at = info->loss_at, bc.ftz = cfg->ftz;
    bc.truncate = cfg->truncate, bc.taps = 0, bc.training = 1;
    /* nothing reads the training cache after the backward: let the backward reuse it (windowed
       truncation revisits it, so keeps it) */
    bc.keep_cache = cfg->truncate > 0 && cfg->truncate < T;
    if ((st = rnnlab_bptt_create(&tr->ws_train, m, &bc))) goto fail;
    bc.truncate = 0, bc.training = 0, bc.keep_cache = 1;
    if ((st = rnnlab_bptt_create(&tr->ws_eval, m, &bc))) goto fail;
    if (cfg->probe.loss_at == RNNLAB_LOSS_ALL && info->loss_at == RNNLAB_LOSS_LAST) {
        st = rnnlab_error(RNNLAB_ERR_CONFIG, "task %s has a target at the last step only: the probe cannot put a loss "
                                             "at every step",
                          info->name);
        goto fail;
    }
    bc.loss_at = cfg->probe.loss_at, bc.truncate = cfg->probe.truncate, bc.taps = 1;
    if ((st = rnnlab_bptt_create(&tr->ws_probe, m, &bc))) goto fail;
    *out = tr;
    return RNNLAB_OK;
fail:
    rnnlab_trainer_free(tr);
    return st;
}

long rnnlab_trainer_steps(const rnnlab_trainer *tr) { return tr->step; }
const rnnlab_optim *rnnlab_trainer_optim(const rnnlab_trainer *tr) { return tr->opt; }

static rnnlab_batch make_batch(const rnnlab_trainer *tr, uint64_t dropout_seed)
{
    const int xent = tr->info.loss == RNNLAB_LOSS_XENT;
    rnnlab_batch b = {tr->x, xent ? NULL : tr->target, xent ? tr->cls : NULL, tr->len, NULL, NULL, dropout_seed};
    return b;
}

rnnlab_status rnnlab_trainer_step(rnnlab_trainer *tr, rnnlab_step_report *rep)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_step", tr);
    rnnlab_model *m = tr->m;
    const long s = tr->step; /* updates done before this one: batch s, the schedule at s */
    rnnlab_status st = rnnlab_dataset_batch(tr->ds, RNNLAB_SPLIT_TRAIN, s, tr->B, tr->x, tr->target, tr->cls, tr->len);
    if (st) return st;
    const rnnlab_batch bt = make_batch(tr, rnnlab_seed_derive(tr->seed, (uint64_t)s));
    double loss = NAN;
    rnnlab_clip_result cr = {NAN, 0, 0};
    if (rep) *rep = (rnnlab_step_report){s + 1, NAN, NAN, NAN, 0, tr->tensor_norms};
    st = rnnlab_bptt_forward(tr->ws_train, m, &bt, &loss);
    if (rep) rep->loss = loss;
    if (st == RNNLAB_ERR_NUMERIC) return rnnlab_error(st, "loss is not finite at update %ld (%s)", s + 1, rnnlab_last_error());
    if (st) return st;
    /* batch norm: the running statistics evaluation uses, as PyTorch's BatchNorm updates them in its
       training-mode forward (momentum 0.1); a no-op for other models */
    if ((st = rnnlab_bptt_update_running_stats(tr->ws_train, m, 0.1))) return st;
    st = rnnlab_bptt_backward(tr->ws_train, m, NULL, NULL, NULL);
    if (st == RNNLAB_ERR_NUMERIC)
        return rnnlab_error(st, "gradient is not finite at update %ld (%s)", s + 1, rnnlab_last_error());
    if (st) return st;
    st = rnnlab_clip_grads(m, tr->cfg.clip, tr->cfg.clip_max, tr->tensor_norms, &cr);
    if (rep) rep->grad_norm = cr.global_norm, rep->clip_fired = cr.fired;
    if (st == RNNLAB_ERR_NUMERIC) return rnnlab_error(st, "at update %ld, %s", s + 1, rnnlab_last_error());
    if (st) return st;
    const double lr = rnnlab_schedule_lr(&tr->sched, tr->cfg.optim.lr, s);
    if (rep) rep->lr = lr;
    if ((st = rnnlab_optim_step(tr->opt, m, lr))) return st;
    tr->step++;
    return RNNLAB_OK;
}

/* Fills the trainer's batch with `index` of split for the probe or an evaluation. */
static rnnlab_status load_batch(rnnlab_trainer *tr, rnnlab_split split, long index)
{
    return rnnlab_dataset_batch(tr->ds, split, index, tr->B, tr->x, tr->target, tr->cls, tr->len);
}

/* Batches of an evaluation of split: eval_batches, or fewer when a finite split has fewer; a finite
 * split whole with eval_batches -1 (all), and with 0 (the default) for the validation and test
 * splits; else 8. */
static long eval_batch_count(const rnnlab_trainer *tr, rnnlab_split split)
{
    const long n = tr->info.split_size[split], whole = n > 0 ? (n + tr->B - 1) / tr->B : 0;
    const int all = tr->cfg.eval_batches < 0 || (tr->cfg.eval_batches == 0 && split != RNNLAB_SPLIT_TRAIN);
    long k = tr->cfg.eval_batches > 0 ? tr->cfg.eval_batches : all && n > 0 ? whole : 8;
    if (n > 0 && whole < k) k = whole;
    return k < 1 ? 1 : k;
}

/* The samples of evaluation batch k that count: all B, except in the last batch of a finite split,
 * whose rows past the split's end wrap around to its first samples (rnnlab_data_sample), which an
 * evaluation must not count twice. */
static int eval_batch_real(const rnnlab_trainer *tr, rnnlab_split split, long k)
{
    const long n = tr->info.split_size[split], left = n - k * (long)tr->B;
    return n > 0 && left < tr->B ? (int)(left > 0 ? left : 0) : tr->B;
}

/* Adds the metrics of samples 0..real-1 of the batch in the workspace (its outputs read into
 * tr->out) to the sums. */
static void score_batch(rnnlab_trainer *tr, int real, double *correct, long *n_pos, long *n_ok_seq)
{
    const int B = tr->B, O = tr->O, all = tr->info.loss_at == RNNLAB_LOSS_ALL;
    const int xent = tr->info.loss == RNNLAB_LOSS_XENT;
    const double thr = tr->info.success_threshold;
    for (int b = 0; b < real; b++) {
        const int n_t = all ? tr->len[b] : 1;
        int seq_ok = 1;
        for (int k = 0; k < n_t; k++) {
            const size_t row = all ? (size_t)k * B + b : (size_t)b;
            const double *y = tr->out + row * O;
            if (xent) {
                int best = 0;
                for (int o = 1; o < O; o++)
                    if (y[o] > y[best]) best = o;
                const int ok = best == tr->cls[row];
                *correct += ok;
                seq_ok &= ok;
            } else if (tr->info.loss == RNNLAB_LOSS_MSE && isfinite(thr)) {
                for (int o = 0; o < O; o++) seq_ok &= fabs(y[o] - tr->target[row * O + o]) < thr;
            }
        }
        *n_pos += n_t;
        *n_ok_seq += seq_ok;
    }
}

rnnlab_status rnnlab_trainer_evaluate(rnnlab_trainer *tr, const rnnlab_model *model, rnnlab_split split,
                                      rnnlab_eval_metrics *out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_evaluate", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_evaluate", out);
    rnnlab_status st0 = rnnlab_split_check(split);
    if (st0) return st0;
    const rnnlab_model *m = model ? model : tr->m;
    const long nb = eval_batch_count(tr, split);
    double loss_sum = 0, correct = 0;
    long n_pos = 0, n_seq = 0, n_ok = 0;
    *out = (rnnlab_eval_metrics){NAN, NAN, NAN, 0, 0};
    for (long k = 0; k < nb; k++) {
        const int real = eval_batch_real(tr, split, k);
        rnnlab_status st = load_batch(tr, split, k);
        if (st) return st;
        const rnnlab_batch bt = make_batch(tr, 0);
        double loss;
        st = rnnlab_bptt_forward(tr->ws_eval, m, &bt, &loss);
        if (st == RNNLAB_ERR_NUMERIC)
            return rnnlab_error(st, "%s loss is not finite (%s)", rnnlab_split_name(split), rnnlab_last_error());
        if (st) return st;
        (void)loss; /* the batch's mean; the samples that count are summed below */
        if ((st = rnnlab_bptt_get_output(tr->ws_eval, tr->out))) return st;
        if ((st = rnnlab_bptt_get_sample_losses(tr->ws_eval, tr->loss_b))) return st;
        score_batch(tr, real, &correct, &n_pos, &n_ok);
        for (int b = 0; b < real; b++) loss_sum += tr->loss_b[b]; /* each a sum over its positions */
        n_seq += real;
    }
    out->loss = loss_sum / (double)n_pos;
    out->positions = n_pos, out->sequences = n_seq;
    if (tr->info.loss == RNNLAB_LOSS_XENT) out->accuracy = correct / (double)n_pos;
    if (tr->info.loss == RNNLAB_LOSS_XENT || (tr->info.loss == RNNLAB_LOSS_MSE && isfinite(tr->info.success_threshold)))
        out->success_rate = (double)n_ok / (double)n_seq;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_trainer_probe(rnnlab_trainer *tr, rnnlab_taps *taps)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_probe", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_probe", taps);
    const rnnlab_probe_config *pc = &tr->cfg.probe;
    rnnlab_status st = load_batch(tr, pc->split, pc->batch_index);
    if (st) return st;
    const int B = tr->B, O = tr->O;
    if (tr->info.loss_at == RNNLAB_LOSS_ALL && pc->loss_at == RNNLAB_LOSS_LAST)
        exp_probe_last_targets(tr->len, B, O, tr->target, tr->cls);
    tr->probe_steps = exp_probe_steps(tr->len, B, tr->T);
    const rnnlab_batch bt = make_batch(tr, 0);
    double loss;
    if ((st = rnnlab_bptt_forward(tr->ws_probe, tr->m, &bt, &loss))) return st;
    if ((st = rnnlab_bptt_backward(tr->ws_probe, tr->m, NULL, NULL, NULL))) return st;
    *taps = rnnlab_bptt_get_taps(tr->ws_probe);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_trainer_units(rnnlab_trainer *tr, rnnlab_split split, rnnlab_unit_stats *units,
                                   rnnlab_saturation *layer_sat)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_units", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_units", units);
    rnnlab_status st0 = rnnlab_split_check(split);
    if (st0) return st0;
    const rnnlab_model_config *mc = &tr->m->cfg;
    const int L = mc->num_layers, H = mc->hidden_size;
    const long nb = eval_batch_count(tr, split);
    const int bounded = mc->cell != RNNLAB_CELL_RNN || mc->activation == RNNLAB_ACT_TANH;
    const int sigm = mc->cell == RNNLAB_CELL_RNN && mc->activation == RNNLAB_ACT_SIGMOID;
    const int relu = mc->cell == RNNLAB_CELL_RNN && mc->activation == RNNLAB_ACT_RELU;
    /* per unit: count, mean and M2 (Welford 1962), saturated and dead counts, in a fixed order */
    double *acc = rnnlab_calloc((size_t)L * H * 4, sizeof(double));
    long *cnt = rnnlab_calloc((size_t)L * H, sizeof(long));
    double *sat_n = rnnlab_calloc((size_t)L, sizeof(double)); /* the values each layer's saturation counted */
    rnnlab_status st = acc && cnt && sat_n ? RNNLAB_OK : rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    if (layer_sat)
        for (int l = 0; l < L; l++) layer_sat[l] = (rnnlab_saturation){0, {0, 0, 0}, 0, 0};
    for (long k = 0; k < nb && !st; k++) {
        if ((st = load_batch(tr, split, k))) break;
        const int real = eval_batch_real(tr, split, k); /* the samples that count */
        const rnnlab_batch bt = make_batch(tr, 0);
        double loss;
        if ((st = rnnlab_bptt_forward(tr->ws_eval, tr->m, &bt, &loss))) break;
        for (int l = 0; l < L && !st; l++) {
            if (layer_sat) { /* fractions weighted by the values counted: each value once, whatever the batch */
                rnnlab_saturation s;
                long nv = 0;
                if ((st = rnnlab_diag_saturation_of(tr->ws_eval, tr->m, l, real, &s, &nv))) break;
                const double w = (double)nv;
                rnnlab_saturation *a = &layer_sat[l];
                a->h += s.h * w, a->candidate += s.candidate * w, a->dead += s.dead * w;
                for (int g = 0; g < 3; g++) a->gate[g] += s.gate[g] * w;
                sat_n[l] += w;
            }
            for (int t = 0; t < tr->T && !st; t++) {
                if ((st = rnnlab_bptt_get_state(tr->ws_eval, l, t, tr->hbuf, NULL))) break;
                for (int b = 0; b < real; b++) {
                    if (t >= tr->len[b]) continue;
                    for (int j = 0; j < H; j++) {
                        const size_t u = (size_t)l * H + j;
                        const double h = tr->hbuf[(size_t)b * H + j];
                        double *a = acc + 4 * u;
                        const long c = ++cnt[u];
                        const double d = h - a[0];
                        a[0] += d / (double)c;
                        a[1] += d * (h - a[0]);
                        if (sigm ? (h < 0.01 || h > 0.99) : fabs(h) > 0.99) a[2] += 1;
                        if (h == 0) a[3] += 1;
                    }
                }
            }
        }
    }
    if (!st)
        for (size_t u = 0; u < (size_t)L * H; u++) {
            const double c = cnt[u] ? (double)cnt[u] : NAN;
            units[u].mean = acc[4 * u];
            units[u].std = sqrt(acc[4 * u + 1] / c);
            units[u].sat_frac = bounded || sigm ? acc[4 * u + 2] / c : NAN;
            units[u].dead_frac = relu ? acc[4 * u + 3] / c : NAN;
        }
    if (!st && layer_sat)
        for (int l = 0; l < L; l++) {
            rnnlab_saturation *a = &layer_sat[l];
            const double n = sat_n[l] > 0 ? sat_n[l] : NAN;
            a->h /= n, a->candidate /= n, a->dead /= n;
            for (int g = 0; g < 3; g++) a->gate[g] /= n;
        }
    rnnlab_free(acc), rnnlab_free(cnt), rnnlab_free(sat_n);
    return st;
}

rnnlab_status rnnlab_trainer_ablate(rnnlab_trainer *tr, rnnlab_split split, rnnlab_ablation mode,
                                    const rnnlab_model *init, double *loss_ablated)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_ablate", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_ablate", loss_ablated);
    rnnlab_status st0 = rnnlab_split_check(split);
    if (st0) return st0;
    rnnlab_model *m = tr->m;
    if (mode == RNNLAB_ABLATION_NONE || (unsigned)mode >= RNNLAB_ABLATION_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "ablation: mode must be zero or reinit");
    if (mode == RNNLAB_ABLATION_REINIT &&
        (!init || init->n_params != m->n_params || init->cfg.dtype != m->cfg.dtype ||
         !rnnlab_model_same_architecture(&init->cfg, &m->cfg)))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "ablation = reinit needs the initial model (same architecture)");
    rnnlab_model *a = NULL;
    rnnlab_status st = rnnlab_model_create(&a, &m->cfg);
    const size_t es = rnnlab_dtype_size(m->cfg.dtype);
    for (int l = 0; l < m->cfg.num_layers && !st; l++) {
        memcpy(a->params, m->params, m->n_params * es);
        if (m->buffers && a->buffers) memcpy(a->buffers, m->buffers, m->n_buffers * sizeof(double));
        for (int i = 0; i < m->n_tensors; i++) {
            const rnnlab_tensor_info *t = &m->tensors[i];
            if (t->layer != l) continue;
            char *dst = (char *)a->params + t->offset * es;
            if (mode == RNNLAB_ABLATION_ZERO) memset(dst, 0, t->numel * es);
            else memcpy(dst, (const char *)init->params + t->offset * es, t->numel * es);
        }
        rnnlab_eval_metrics em;
        st = rnnlab_trainer_evaluate(tr, a, split, &em);
        if (st == RNNLAB_ERR_NUMERIC) /* a diverging ablated model is a result (inf), not an error */
            st = RNNLAB_OK, em.loss = INFINITY, rnnlab_error_clear();
        loss_ablated[l] = em.loss;
    }
    rnnlab_model_free(a);
    return st;
}

rnnlab_status rnnlab_trainer_save(const rnnlab_trainer *tr, const char *path, const void *extra, size_t extra_len)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_save", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_save", path);
    rnnlab_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.model = tr->m, ck.optim = tr->opt, ck.step = tr->step;
    rnnlab_rng_seed(&ck.rng, tr->seed); /* the trainer draws nothing sequentially: its seed is the state */
    ck.extra = (unsigned char *)(uintptr_t)extra, ck.extra_len = extra_len; /* NULL with a length: refused there */
    return rnnlab_checkpoint_save(path, &ck);
}

static int same_optim(const rnnlab_optim_config *a, const rnnlab_optim_config *b)
{
    return a->kind == b->kind && a->lr == b->lr && a->momentum == b->momentum && a->dampening == b->dampening &&
           a->nesterov == b->nesterov && a->weight_decay == b->weight_decay && a->alpha == b->alpha &&
           a->centered == b->centered && a->eps == b->eps && a->beta1 == b->beta1 && a->beta2 == b->beta2;
}

rnnlab_status rnnlab_trainer_restore(rnnlab_trainer *tr, const char *path, unsigned char **extra, size_t *extra_len)
{
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_restore", tr);
    RNNLAB_REQUIRE_PTR("rnnlab_trainer_restore", path);
    if (extra) *extra = NULL;
    if (extra_len) *extra_len = 0;
    rnnlab_checkpoint ck;
    rnnlab_status st = rnnlab_checkpoint_load(path, &ck);
    if (st) return st;
    rnnlab_model *m = tr->m;
    if (!rnnlab_model_same_architecture(&ck.model->cfg, &m->cfg) || ck.model->cfg.dtype != m->cfg.dtype ||
        ck.model->n_params != m->n_params)
        st = rnnlab_error(RNNLAB_ERR_CONFIG, "%s: holds a %s model of another architecture or precision", path,
                          rnnlab_cell_label(ck.model->cfg.cell, ck.model->cfg.activation));
    else if (!ck.optim || !same_optim(&ck.optim->cfg, &tr->opt->cfg))
        st = rnnlab_error(RNNLAB_ERR_CONFIG, "%s: %s", path,
                          ck.optim ? "its optimizer settings differ from this run's" : "holds no optimizer state");
    if (!st) {
        const size_t es = rnnlab_dtype_size(m->cfg.dtype);
        memcpy(m->params, ck.model->params, m->n_params * es);
        if (m->buffers && ck.model->buffers) memcpy(m->buffers, ck.model->buffers, m->n_buffers * sizeof(double));
        for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++) memcpy(tr->opt->state[k], ck.optim->state[k], m->n_params * es);
        tr->opt->step = ck.optim->step;
        tr->step = ck.step;
        if (extra) *extra = ck.extra, ck.extra = NULL;
        if (extra_len) *extra_len = ck.extra_len;
    }
    rnnlab_checkpoint_deinit(&ck);
    return st;
}

/* ================================================================ the runner's training of one grid point */

enum { TF_TRAIN, TF_LAYERS, TF_PROBE, TF_UNITS, TF_FINAL };

enum { TS_RUNNING = 0, TS_COMPLETED, TS_EARLY, TS_TARGET, TS_DIVERGED };
static const char *const status_names[] = {"running", "completed", "early_stopped", "target_reached", "diverged"};

/* Everything the loop carries from update to update; saved in the checkpoint's extra bytes, so a
 * resumed run continues with the same bits. */
typedef struct tstate {
    int finished, status;
    long diverged_step;
    char diverged_what[256];
    double best_valid;
    long best_step;
    int evals_since_best;
    long n_clip, n_updates;
    double log_ratio_sum;
    long n_ratio;
    rnnlab_eval_metrics last[3]; /* train, valid, test at the last evaluation */
    rnnlab_eval_metrics best_test;
    int have_best;
    double *losses; /* (max_steps) minibatch loss of update s at [s - 1] */
    long n_losses;
    rnnlab_csvbuf rows[3]; /* train.csv, train_layers.csv, train_probe.csv rows so far */
    void *best_params;     /* (n) model precision */
    double *best_buffers;  /* (n_buffers) */
} tstate;

static void tstate_free(tstate *s)
{
    rnnlab_free(s->losses);
    for (int i = 0; i < 3; i++) rnnlab_csvbuf_free(&s->rows[i]);
    rnnlab_free(s->best_params), rnnlab_free(s->best_buffers);
}

/* ---------------------------------------------------------------- the state as bytes (little-endian) */

static void put_bytes(rnnlab_csvbuf *b, const void *p, size_t n) { rnnlab_csv_append(b, p, n); }

static void put_u64(rnnlab_csvbuf *b, uint64_t v)
{
    char x[8];
    for (int i = 0; i < 8; i++) x[i] = (char)(unsigned char)(v >> (8 * i));
    put_bytes(b, x, 8);
}

static void put_f64(rnnlab_csvbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_metrics(rnnlab_csvbuf *b, const rnnlab_eval_metrics *m)
{
    put_f64(b, m->loss), put_f64(b, m->accuracy), put_f64(b, m->success_rate);
    put_u64(b, (uint64_t)m->positions), put_u64(b, (uint64_t)m->sequences);
}

typedef struct cursor {
    const unsigned char *p;
    size_t left;
    int bad;
} cursor;

static uint64_t get_u64(cursor *c)
{
    if (c->bad || c->left < 8) return c->bad = 1, 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)c->p[i] << (8 * i);
    c->p += 8, c->left -= 8;
    return v;
}

static double get_f64(cursor *c)
{
    const uint64_t u = get_u64(c);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void get_metrics(cursor *c, rnnlab_eval_metrics *m)
{
    m->loss = get_f64(c), m->accuracy = get_f64(c), m->success_rate = get_f64(c);
    m->positions = (long)get_u64(c), m->sequences = (long)get_u64(c);
}

/* Bytes of one CSV buffer: length then text. */
static void get_rows(cursor *c, rnnlab_csvbuf *b)
{
    const uint64_t n = get_u64(c);
    if (c->bad || n > c->left) {
        c->bad = 1;
        return;
    }
    rnnlab_csvbuf_clear(b);
    rnnlab_csv_append(b, (const char *)c->p, (size_t)n);
    c->p += n, c->left -= (size_t)n;
}

static const char state_magic[8] = {'R', 'N', 'N', 'L', 'A', 'B', 'T', 'R'};

/* Identifies the run a checkpoint belongs to: the experiment file's crc, the grid point, its size. */
static void put_identity(rnnlab_csvbuf *b, const rnnlab_experiment *e, const exp_run *r, long max_steps)
{
    put_bytes(b, state_magic, 8);
    put_u64(b, 1); /* version */
    put_u64(b, (uint64_t)e->crc), put_u64(b, (uint64_t)r->id), put_u64(b, (uint64_t)e->grid_size);
    put_u64(b, (uint64_t)max_steps);
}

static void state_bytes(rnnlab_csvbuf *b, const rnnlab_experiment *e, const exp_run *r, const rnnlab_model *m,
                        long max_steps, const tstate *s)
{
    put_identity(b, e, r, max_steps);
    put_u64(b, (uint64_t)s->finished), put_u64(b, (uint64_t)s->status), put_u64(b, (uint64_t)s->diverged_step);
    put_bytes(b, s->diverged_what, sizeof s->diverged_what);
    put_f64(b, s->best_valid), put_u64(b, (uint64_t)s->best_step), put_u64(b, (uint64_t)s->evals_since_best);
    put_u64(b, (uint64_t)s->n_clip), put_u64(b, (uint64_t)s->n_updates);
    put_f64(b, s->log_ratio_sum), put_u64(b, (uint64_t)s->n_ratio);
    for (int i = 0; i < 3; i++) put_metrics(b, &s->last[i]);
    put_metrics(b, &s->best_test);
    put_u64(b, (uint64_t)s->n_losses);
    for (long i = 0; i < s->n_losses; i++) put_f64(b, s->losses[i]);
    for (int i = 0; i < 3; i++) {
        put_u64(b, s->rows[i].len);
        put_bytes(b, s->rows[i].data ? s->rows[i].data : "", s->rows[i].len);
    }
    put_u64(b, (uint64_t)s->have_best);
    if (s->have_best) {
        const size_t es = rnnlab_dtype_size(m->cfg.dtype);
        put_u64(b, m->n_params * es);
        put_bytes(b, s->best_params, m->n_params * es); /* raw: the same machine resumes it */
        const size_t nb = m->buffers ? m->n_buffers : 0;
        put_u64(b, nb);
        for (size_t i = 0; i < nb; i++) put_f64(b, s->best_buffers[i]);
    }
}

/* The state after its identity (state_bytes), from c into s; 0 if malformed. s->losses (max_steps
 * values) and s->best_params / s->best_buffers may be NULL: those parts are then skipped (losses) or
 * compared with m's parameters (best: s->have_best becomes 2 when they are the same bytes). */
static int state_body(cursor *c, const rnnlab_model *m, long max_steps, tstate *s)
{
    s->finished = (int)get_u64(c), s->status = (int)get_u64(c), s->diverged_step = (long)get_u64(c);
    if (c->bad || c->left < sizeof s->diverged_what) return 0;
    memcpy(s->diverged_what, c->p, sizeof s->diverged_what);
    s->diverged_what[sizeof s->diverged_what - 1] = '\0';
    c->p += sizeof s->diverged_what, c->left -= sizeof s->diverged_what;
    s->best_valid = get_f64(c), s->best_step = (long)get_u64(c), s->evals_since_best = (int)get_u64(c);
    s->n_clip = (long)get_u64(c), s->n_updates = (long)get_u64(c);
    s->log_ratio_sum = get_f64(c), s->n_ratio = (long)get_u64(c);
    for (int i = 0; i < 3; i++) get_metrics(c, &s->last[i]);
    get_metrics(c, &s->best_test);
    s->n_losses = (long)get_u64(c);
    if (c->bad || s->n_losses < 0 || s->n_losses > max_steps || (size_t)s->n_losses > c->left / 8) return 0;
    for (long i = 0; i < s->n_losses; i++) {
        const double v = get_f64(c);
        if (s->losses) s->losses[i] = v;
    }
    for (int i = 0; i < 3; i++) get_rows(c, &s->rows[i]);
    s->have_best = (int)get_u64(c);
    if (s->have_best) {
        const size_t es = rnnlab_dtype_size(m->cfg.dtype), nb = m->buffers ? m->n_buffers : 0;
        if (get_u64(c) != m->n_params * es || c->left < m->n_params * es) return 0;
        if (s->best_params) memcpy(s->best_params, c->p, m->n_params * es);
        else if (!memcmp(c->p, m->params, m->n_params * es)) s->have_best = 2;
        c->p += m->n_params * es, c->left -= m->n_params * es;
        if (get_u64(c) != nb) return 0;
        for (size_t i = 0; i < nb; i++) {
            const double v = get_f64(c);
            if (s->best_buffers) s->best_buffers[i] = v;
        }
    }
    for (int i = 0; i < 3; i++)
        if (s->rows[i].failed) return 0;
    return !c->bad && c->left == 0;
}

/* Reads a state written by state_bytes; 0 if it is not this run's. */
static int state_read(const unsigned char *p, size_t n, const rnnlab_experiment *e, const exp_run *r,
                      const rnnlab_model *m, long max_steps, tstate *s)
{
    rnnlab_csvbuf id = {0};
    put_identity(&id, e, r, max_steps);
    const int same = !id.failed && n >= id.len && memcmp(p, id.data, id.len) == 0;
    cursor c = {p + id.len, n - (same ? id.len : n), !same};
    rnnlab_csvbuf_free(&id);
    return same && state_body(&c, m, max_steps, s);
}

rnnlab_status rnnlab_train_checkpoint_info(const rnnlab_checkpoint *ck, rnnlab_train_ckpt_state *out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_train_checkpoint_info", ck);
    RNNLAB_REQUIRE_PTR("rnnlab_train_checkpoint_info", out);
    memset(out, 0, sizeof *out);
    const size_t id_len = 8 + 5 * 8; /* put_identity: magic, version, crc, run id, grid size, max_steps */
    if (!ck->extra || !ck->model || ck->extra_len < id_len || memcmp(ck->extra, state_magic, 8) != 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "no training state of the experiment runner in this checkpoint");
    cursor c = {ck->extra + 8, ck->extra_len - 8, 0};
    if (get_u64(&c) != 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "training state of another version");
    c.p = ck->extra + id_len - 8, c.left = 8;
    const long max_steps = (long)get_u64(&c);
    c.p = ck->extra + id_len, c.left = ck->extra_len - id_len;
    tstate s; /* no arrays: the losses are skipped and the best weights compared with the model's */
    memset(&s, 0, sizeof s);
    const int ok = state_body(&c, ck->model, max_steps, &s) && s.status >= TS_RUNNING && s.status <= TS_DIVERGED;
    for (int i = 0; i < 3; i++) rnnlab_csvbuf_free(&s.rows[i]);
    if (!ok) return rnnlab_error(RNNLAB_ERR_CONFIG, "damaged training state in this checkpoint");
    out->finished = s.finished, out->status = status_names[s.status], out->updates = s.n_updates;
    out->diverged_step = s.diverged_step, out->have_best = s.have_best != 0, out->best_step = s.best_step;
    out->best_valid = s.best_valid, out->model_is_best = s.have_best == 2;
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- columns */

static int dim_column(const rnnlab_experiment *e, const char *c)
{
    for (int k = 0; k < e->n_cols; k++)
        if (!strcmp(e->cols[k], c)) return 1;
    return 0;
}

static const char *const train_cols[] = {"step", "phase", "loss", "accuracy", "success_rate", "lr", "grad_norm",
                                         "clip_fired", "sequences", "positions", NULL};
static const char *const layer_cols[] = {"step", "layer", "grad_norm", "param_norm", NULL};
static const char *const probe_cols[] = {"step", "layer", "t", "lag", "grad_norm_h", "grad_norm_h_batch",
                                         "grad_norm_c", "grad_norm_c_batch", NULL};
static const char *const unit_cols[] = {"layer", "unit", "h_mean", "h_std", "sat_frac", "dead_frac", "unresponsive",
                                        NULL};
static const char *const final_cols[] = {"layer", "units_unresponsive", "h_std_mean", "sat_h", "sat_gate_i",
                                         "sat_gate_f", "sat_gate_o", "sat_gate_r", "sat_gate_z", "sat_candidate",
                                         "dead_frac", "ablation", "loss", "loss_ablated", "loss_increase", NULL};
/* summary.csv: description columns (skipped when swept), then measurements */
static const char *const summary_desc[] = {"optimizer", "lr", "schedule", "weight_decay", "clip", "clip_max",
                                           "max_steps", NULL};
static const char *const summary_cols[] = {
    "train_status", "diverged_step", "diverged_what", "steps", "best_step", "best_valid_loss", "final_train_loss",
    "final_valid_loss", "test_loss", "test_accuracy", "test_success_rate", "solved", "train_vs_baseline",
    "loss_slope", "loss_decreasing", "clip_fraction", "train_layer_grad_ratio", "unresponsive_units", NULL};

void exp_train_headers(const rnnlab_experiment *e, rnnlab_csvbuf *files, rnnlab_csvbuf *summary)
{
    const char *const *cols[EXP_TRAIN_FILES] = {train_cols, layer_cols, probe_cols, unit_cols, final_cols};
    for (int i = 0; i < EXP_TRAIN_FILES; i++) {
        exp_key_columns(e, &files[i]);
        for (const char *const *c = cols[i]; *c; c++) rnnlab_csv_text(&files[i], *c);
        rnnlab_csv_end_row(&files[i]);
    }
    for (const char *const *c = summary_desc; *c; c++)
        if (!dim_column(e, *c)) rnnlab_csv_text(summary, *c);
    for (const char *const *c = summary_cols; *c; c++) rnnlab_csv_text(summary, *c);
}

/* ---------------------------------------------------------------- progress */

typedef struct tprogress {
    const exp_train_ctx *ctx;
    long id;
    double t0, last;
    long step0;     /* updates done when this session started */
    double smooth;  /* exponential average of the minibatch loss */
} tprogress;

static void progress_line(tprogress *p, long step, long max_steps, double valid, int final)
{
    const exp_train_ctx *c = p->ctx;
    if (!c->progress || c->quiet || c->jobs > 1) return;
    const double t = exp_now_s();
    if (!final && t - p->last < (c->tty ? 0.25 : 10)) return;
    p->last = t;
    const double el = t - p->t0, rate = step > p->step0 && el > 0 ? (double)(step - p->step0) / el : 0;
    char eta[32], v[64] = "";
    exp_hms(eta, sizeof eta, rate > 0 ? (double)(max_steps - step) / rate : -1);
    char l[48] = ""; /* none yet on a resumed run's first line */
    if (!isnan(p->smooth)) snprintf(l, sizeof l, " loss %.4g", p->smooth);
    if (!isnan(valid)) snprintf(v, sizeof v, " (valid %.4g)", valid);
    if (c->tty)
        fprintf(c->progress, "\r\033[K[run %ld] step %ld/%ld%s%s | %.0f upd/s | ETA %s%s", p->id, step, max_steps, l, v,
                rate, eta, final ? "\n" : "");
    else
        fprintf(c->progress, "rnnlab: run %ld: step %ld/%ld%s%s | %.0f upd/s | ETA %s\n", p->id, step, max_steps, l, v,
                rate, eta);
    fflush(c->progress);
}

/* ---------------------------------------------------------------- one grid point */

void exp_train_checkpoint_path(const char *dir, long id, char *out, size_t n)
{
    snprintf(out, n, "%s/checkpoints/run-%ld.ckpt", dir, id);
}

rnnlab_status exp_train_clear(const char *dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? RNNLAB_OK : rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* every run-<id>.ckpt and torn run-<id>.ckpt.tmp, whatever the ids (a shard's are strided) */
    rnnlab_status st = RNNLAB_OK;
    int removed = 0;
    for (struct dirent *de; !st && (de = readdir(d));) {
        const char *nm = de->d_name;
        const size_t digits = strncmp(nm, "run-", 4) ? 0 : strspn(nm + 4, "0123456789");
        if (!digits || (strcmp(nm + 4 + digits, ".ckpt") && strcmp(nm + 4 + digits, ".ckpt.tmp"))) continue;
        char f[4700];
        snprintf(f, sizeof f, "%s/%s", path, nm);
        if (unlink(f) == 0) removed = 1;
        else if (errno != ENOENT) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot remove: %s", f, strerror(errno));
    }
    closedir(d);
    /* the removals on disk before the caller starts a new journal */
    return !st && removed ? exp_fsync_dir(path) : st;
}

static int probe_listed(const rnnlab_train_config *c, long s)
{
    for (int i = 0; i < c->n_probe_at; i++)
        if (c->probe_at[i] == s) return 1;
    return 0;
}

/* Least-squares slope of y against its index over the last w values (per update). */
static double slope_last(const double *y, long n, long w, double *mean)
{
    if (w > n) w = n;
    *mean = NAN;
    if (w < 3) return NAN;
    double st = 0, sy = 0, stt = 0, sty = 0;
    for (long i = n - w; i < n; i++) {
        const double t = (double)(i - (n - w)), v = y[i];
        st += t, sy += v, stt += t * t, sty += t * v;
    }
    const double k = (double)w, den = k * stt - st * st;
    *mean = sy / k;
    return den == 0 ? NAN : (k * sty - st * sy) / den;
}

typedef struct trun {
    const rnnlab_experiment *e;
    const exp_run *r;
    rnnlab_model *m;
    rnnlab_trainer *tr;
    const rnnlab_train_config *cfg;
    tstate s;
    int L, T;
    double *layer_norm; /* (L + 1) layer grad norms of the last update; [L] the head */
    double *pnorm;      /* (L + 1) */
    tprogress pg;
    char ckpt[4400];
} trun;

/* The 2-norm over each layer's tensors (the head last) of per-tensor norms v. */
static void layer_norms(const rnnlab_model *m, const double *v, double *out)
{
    const int L = m->cfg.num_layers;
    for (int l = 0; l <= L; l++) out[l] = 0;
    double amax[1025] = {0};
    for (int i = 0; i < m->n_tensors; i++) {
        const int l = m->tensors[i].layer < 0 ? L : m->tensors[i].layer;
        if (!(v[i] <= amax[l])) amax[l] = v[i];
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const int l = m->tensors[i].layer < 0 ? L : m->tensors[i].layer;
        if (amax[l] > 0 && isfinite(amax[l])) out[l] += (v[i] / amax[l]) * (v[i] / amax[l]);
    }
    for (int l = 0; l <= L; l++) out[l] = amax[l] > 0 && isfinite(amax[l]) ? amax[l] * sqrt(out[l]) : amax[l];
}

static void eval_rows(trun *t, long step, const rnnlab_eval_metrics *mt)
{
    static const char *const phases[3] = {"train", "valid", "test"};
    rnnlab_csvbuf *b = &t->s.rows[0];
    for (int i = 0; i < 3; i++) {
        exp_key_values(t->e, t->r, t->T, b);
        rnnlab_csv_int(b, step);
        rnnlab_csv_text(b, phases[i]);
        rnnlab_csv_num(b, mt[i].loss);
        exp_num_or_empty(b, mt[i].accuracy);
        exp_num_or_empty(b, mt[i].success_rate);
        rnnlab_csv_empty(b), rnnlab_csv_empty(b), rnnlab_csv_empty(b);
        rnnlab_csv_int(b, mt[i].sequences), rnnlab_csv_int(b, mt[i].positions); /* what the evaluation scored */
        rnnlab_csv_end_row(b);
    }
}

static void probe_rows(trun *t, long step, const rnnlab_taps *tp)
{
    rnnlab_csvbuf *b = &t->s.rows[2];
    const int lstm = t->m->cfg.cell == RNNLAB_CELL_LSTM, Tp = t->tr->probe_steps; /* as decay.csv's rows */
    for (int l = 0; l < tp->L; l++)
        for (int k = 0; k < Tp; k++) {
            const size_t i = (size_t)l * tp->T + k;
            exp_key_values(t->e, t->r, t->T, b);
            rnnlab_csv_int(b, step), rnnlab_csv_int(b, l), rnnlab_csv_int(b, k), rnnlab_csv_int(b, Tp - 1 - k);
            rnnlab_csv_num(b, tp->h_norm_mean[i]), rnnlab_csv_num(b, tp->h_norm[i]);
            if (lstm) rnnlab_csv_num(b, tp->c_norm_mean[i]), rnnlab_csv_num(b, tp->c_norm[i]);
            else rnnlab_csv_empty(b), rnnlab_csv_empty(b);
            rnnlab_csv_end_row(b);
        }
}

static void update_rows(trun *t, const rnnlab_step_report *rep)
{
    rnnlab_csvbuf *b = &t->s.rows[0];
    exp_key_values(t->e, t->r, t->T, b);
    rnnlab_csv_int(b, rep->step);
    rnnlab_csv_text(b, "update");
    rnnlab_csv_num(b, rep->loss);
    rnnlab_csv_empty(b), rnnlab_csv_empty(b);
    rnnlab_csv_num(b, rep->lr);
    rnnlab_csv_num(b, rep->grad_norm);
    rnnlab_csv_int(b, rep->clip_fired);
    rnnlab_csv_empty(b), rnnlab_csv_empty(b); /* sequences, positions: an evaluation's */
    rnnlab_csv_end_row(b);
    const int L = t->L;
    for (int i = 0; i < t->m->n_tensors; i++) t->pnorm[i] = rnnlab_param_norm(t->m, i);
    double pl[1025];
    layer_norms(t->m, t->pnorm, pl);
    b = &t->s.rows[1];
    for (int k = 0; k <= L; k++) {
        exp_key_values(t->e, t->r, t->T, b);
        rnnlab_csv_int(b, rep->step);
        rnnlab_csv_int(b, k < L ? k : -1);
        rnnlab_csv_num(b, t->layer_norm[k]);
        rnnlab_csv_num(b, pl[k]);
        rnnlab_csv_end_row(b);
    }
}

static rnnlab_status save_state(trun *t)
{
    rnnlab_csvbuf b = {0};
    state_bytes(&b, t->e, t->r, t->m, t->cfg->max_steps, &t->s);
    rnnlab_status st = b.failed ? rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory saving the checkpoint")
                                : rnnlab_trainer_save(t->tr, t->ckpt, b.data, b.len);
    rnnlab_csvbuf_free(&b);
    return st;
}

/* Records the divergence of update or evaluation `step`. */
static void diverged(trun *t, long step, const char *what)
{
    t->s.status = TS_DIVERGED;
    t->s.diverged_step = step;
    snprintf(t->s.diverged_what, sizeof t->s.diverged_what, "%s", what);
}

static rnnlab_status evaluate_all(trun *t, rnnlab_eval_metrics *mt, int *numeric)
{
    static const rnnlab_split splits[3] = {RNNLAB_SPLIT_TRAIN, RNNLAB_SPLIT_VALID, RNNLAB_SPLIT_TEST};
    *numeric = 0;
    for (int i = 0; i < 3; i++) {
        rnnlab_status st = rnnlab_trainer_evaluate(t->tr, NULL, splits[i], &mt[i]);
        if (st == RNNLAB_ERR_NUMERIC) return *numeric = 1, RNNLAB_OK;
        if (st) return st;
    }
    return RNNLAB_OK;
}

/* The loop: probes, evaluations, updates, checkpoints, until a stop. */
static rnnlab_status train_loop(trun *t)
{
    const rnnlab_train_config *c = t->cfg;
    tstate *s = &t->s;
    rnnlab_model *m = t->m;
    const size_t es = rnnlab_dtype_size(m->cfg.dtype);
    rnnlab_status st = RNNLAB_OK;
    while (!st) {
        const long step = rnnlab_trainer_steps(t->tr);
        if (probe_listed(c, step)) {
            rnnlab_taps tp;
            st = rnnlab_trainer_probe(t->tr, &tp);
            if (st == RNNLAB_ERR_NUMERIC) st = RNNLAB_OK; /* no rows; the next update will say it diverged */
            else if (!st) probe_rows(t, step, &tp);
        }
        if (!st && (step % c->eval_every == 0 || step == c->max_steps)) {
            rnnlab_eval_metrics mt[3];
            int numeric;
            if ((st = evaluate_all(t, mt, &numeric))) break;
            if (numeric) {
                diverged(t, step, "evaluation loss");
                break;
            }
            eval_rows(t, step, mt);
            memcpy(s->last, mt, sizeof mt);
            if (!s->have_best || mt[1].loss < s->best_valid - c->min_delta) {
                s->best_valid = mt[1].loss, s->best_step = step, s->evals_since_best = 0, s->best_test = mt[2];
                if (c->restore_best) {
                    memcpy(s->best_params, m->params, m->n_params * es);
                    if (m->buffers) memcpy(s->best_buffers, m->buffers, m->n_buffers * sizeof(double));
                }
                s->have_best = 1;
            } else {
                s->evals_since_best++;
            }
            progress_line(&t->pg, step, c->max_steps, mt[1].loss, 0);
            if (isfinite(c->target_loss) && mt[1].loss < c->target_loss) {
                s->status = TS_TARGET;
                break;
            }
            if (c->patience > 0 && s->evals_since_best >= c->patience) {
                s->status = TS_EARLY;
                break;
            }
        }
        if (st || step >= c->max_steps) {
            if (!st) s->status = TS_COMPLETED;
            break;
        }
        rnnlab_step_report rep;
        st = rnnlab_trainer_step(t->tr, &rep);
        if (st == RNNLAB_ERR_NUMERIC) {
            st = RNNLAB_OK;
            diverged(t, step + 1, rnnlab_last_error());
            break;
        }
        if (st) break;
        s->losses[s->n_losses++] = rep.loss;
        s->n_updates++;
        s->n_clip += rep.clip_fired;
        layer_norms(m, rep.tensor_norms, t->layer_norm);
        if (t->L > 1 && t->layer_norm[0] > 0 && t->layer_norm[t->L - 1] > 0 && isfinite(t->layer_norm[0]) &&
            isfinite(t->layer_norm[t->L - 1]))
            s->log_ratio_sum += log10(t->layer_norm[0] / t->layer_norm[t->L - 1]), s->n_ratio++;
        if (rep.step % c->log_every == 0 || rep.step == c->max_steps) update_rows(t, &rep);
        /* restarts at the first update of this process (a resumed run has earlier losses, not the average) */
        t->pg.smooth = s->n_losses == 1 || isnan(t->pg.smooth) ? rep.loss : 0.98 * t->pg.smooth + 0.02 * rep.loss;
        if (c->checkpoint_every > 0 && rep.step % c->checkpoint_every == 0 && rep.step < c->max_steps)
            st = save_state(t);
        progress_line(&t->pg, rep.step, c->max_steps, s->last[1].loss, 0);
        for (int i = 0; i < 3; i++)
            if (s->rows[i].failed) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for the training rows");
    }
    return st;
}

/* Units and ablation of the kept model: units.csv, final_layers.csv. */
static rnnlab_status diagnose(trun *t, const rnnlab_model *init, rnnlab_csvbuf *fu, rnnlab_csvbuf *ff, long *unresp)
{
    const rnnlab_model_config *mc = &t->m->cfg;
    const int L = mc->num_layers, H = mc->hidden_size;
    const rnnlab_train_config *c = t->cfg;
    rnnlab_unit_stats *u = rnnlab_malloc(sizeof *u * (size_t)L * H);
    rnnlab_saturation *sat = rnnlab_malloc(sizeof *sat * (size_t)L);
    double *abl = rnnlab_malloc(sizeof(double) * (size_t)L);
    rnnlab_status st = u && sat && abl ? RNNLAB_OK : rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    rnnlab_eval_metrics full = {NAN, NAN, NAN, 0, 0};
    if (!st) st = rnnlab_trainer_units(t->tr, RNNLAB_SPLIT_TEST, u, sat);
    if (!st) st = rnnlab_trainer_evaluate(t->tr, NULL, RNNLAB_SPLIT_TEST, &full);
    if (!st && c->ablation != RNNLAB_ABLATION_NONE) st = rnnlab_trainer_ablate(t->tr, RNNLAB_SPLIT_TEST, c->ablation, init, abl);
    if (st == RNNLAB_ERR_NUMERIC) st = RNNLAB_OK, full.loss = INFINITY;
    *unresp = 0;
    for (int l = 0; l < L && !st; l++) {
        long n_un = 0;
        double std_sum = 0;
        for (int j = 0; j < H; j++) {
            const rnnlab_unit_stats *x = &u[(size_t)l * H + j];
            const int un = !(x->std >= c->unit_threshold);
            n_un += un, std_sum += x->std;
            exp_key_values(t->e, t->r, t->T, fu);
            rnnlab_csv_int(fu, l), rnnlab_csv_int(fu, j);
            exp_num_or_empty(fu, x->mean), exp_num_or_empty(fu, x->std), exp_num_or_empty(fu, x->sat_frac), exp_num_or_empty(fu, x->dead_frac);
            rnnlab_csv_int(fu, un);
            rnnlab_csv_end_row(fu);
        }
        *unresp += n_un;
        const rnnlab_saturation *sl = &sat[l];
        const int lstm = mc->cell == RNNLAB_CELL_LSTM, gru = mc->cell == RNNLAB_CELL_GRU;
        exp_key_values(t->e, t->r, t->T, ff);
        rnnlab_csv_int(ff, l), rnnlab_csv_int(ff, n_un), exp_num_or_empty(ff, std_sum / H);
        exp_num_or_empty(ff, sl->h);
        for (int g = 0; g < 3; g++) exp_num_or_empty(ff, lstm ? sl->gate[g] : NAN);
        for (int g = 0; g < 2; g++) exp_num_or_empty(ff, gru ? sl->gate[g] : NAN);
        exp_num_or_empty(ff, sl->candidate), exp_num_or_empty(ff, sl->dead);
        rnnlab_csv_text(ff, rnnlab_ablation_name(c->ablation));
        rnnlab_csv_num(ff, full.loss);
        if (c->ablation != RNNLAB_ABLATION_NONE) rnnlab_csv_num(ff, abl[l]), rnnlab_csv_num(ff, abl[l] - full.loss);
        else rnnlab_csv_empty(ff), rnnlab_csv_empty(ff);
        rnnlab_csv_end_row(ff);
    }
    rnnlab_free(u), rnnlab_free(sat), rnnlab_free(abl);
    return st;
}

rnnlab_status exp_train_run(const rnnlab_experiment *e, const exp_run *r, rnnlab_dataset *ds, rnnlab_model *m,
                            rnnlab_csvbuf *files, rnnlab_csvbuf *summary)
{
    rnnlab_train_config cfg = r->train;
    cfg.probe.split = e->measure.split, cfg.probe.batch_index = e->measure.batch_index;
    cfg.probe.loss_at = e->measure.loss_at, cfg.probe.truncate = e->measure.truncate;
    cfg.ftz = r->ftz;
    const rnnlab_task_info *info = rnnlab_dataset_info(ds);
    const int L = m->cfg.num_layers;
    trun t;
    memset(&t, 0, sizeof t);
    t.e = e, t.r = r, t.m = m, t.cfg = &cfg, t.L = L, t.T = info->seq_len;
    t.pg.ctx = &e->train, t.pg.id = r->id, t.pg.t0 = exp_now_s(), t.pg.smooth = NAN;
    rnnlab_model *init = NULL;
    rnnlab_status st = RNNLAB_OK;
    unsigned char *extra = NULL;
    size_t extra_len = 0;
    const size_t es = rnnlab_dtype_size(m->cfg.dtype);
    if (L > 1024) return rnnlab_error(RNNLAB_ERR_CONFIG, "training supports at most 1024 layers");
    /* the initial values, for ablation = reinit */
    if ((st = rnnlab_model_create(&init, &m->cfg))) goto done;
    memcpy(init->params, m->params, m->n_params * es);
    if (m->buffers && init->buffers) memcpy(init->buffers, m->buffers, m->n_buffers * sizeof(double));
    t.s.losses = rnnlab_malloc(sizeof(double) * (size_t)cfg.max_steps);
    t.s.best_params = rnnlab_malloc(m->n_params * es + 1);
    t.s.best_buffers = rnnlab_malloc(sizeof(double) * (m->n_buffers + 1));
    t.layer_norm = rnnlab_calloc((size_t)L + 1, sizeof(double));
    t.pnorm = rnnlab_calloc((size_t)m->n_tensors + 1, sizeof(double));
    if (!t.s.losses || !t.s.best_params || !t.s.best_buffers || !t.layer_norm || !t.pnorm) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for run %ld's training", r->id);
        goto done;
    }
    t.s.best_valid = NAN, t.s.best_step = -1, t.s.diverged_step = -1;
    for (int i = 0; i < 3; i++) t.s.last[i] = t.s.best_test = (rnnlab_eval_metrics){NAN, NAN, NAN, 0, 0};
    const uint64_t train_seed = rnnlab_seed_derive(r->model_seed, exp_fnv1a64("train|dropout"));
    if ((st = rnnlab_trainer_create(&t.tr, m, ds, r->batch, &cfg, train_seed))) goto done;

    /* resume from this run's checkpoint, if there is one */
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/checkpoints", e->train.dir[0] ? e->train.dir : ".");
    exp_train_checkpoint_path(e->train.dir[0] ? e->train.dir : ".", r->id, t.ckpt, sizeof t.ckpt);
    if ((st = exp_mkdirs(dir))) goto done;
    if (access(t.ckpt, F_OK) == 0) {
        /* one that cannot be opened (permissions, too many open files) is not damaged: exit status 1 */
        const int fd = open(t.ckpt, O_RDONLY);
        if (fd < 0) {
            st = rnnlab_error(RNNLAB_ERR_IO, "cannot resume run %ld: %s: cannot open: %s", r->id, t.ckpt, strerror(errno));
            goto done;
        }
        close(fd);
        st = rnnlab_trainer_restore(t.tr, t.ckpt, &extra, &extra_len);
        if (!st && !state_read(extra, extra_len, e, r, m, cfg.max_steps, &t.s))
            st = rnnlab_error(RNNLAB_ERR_CONFIG, "%s belongs to another run or experiment file", t.ckpt);
        if (st) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", rnnlab_last_error());
            /* a damaged checkpoint (it opened: what failed is its content) is the folder's problem, as a
               damaged CSV file is: exit status 2 */
            st = rnnlab_error(st == RNNLAB_ERR_NOMEM ? st : RNNLAB_ERR_CONFIG,
                              "cannot resume run %ld: %s (delete it to start that run over, or use --fresh)", r->id, msg);
            goto done;
        }
        t.pg.step0 = rnnlab_trainer_steps(t.tr);
    }
    if (!t.s.finished) {
        if ((st = train_loop(&t))) goto done;
        if (t.s.status != TS_DIVERGED && cfg.restore_best && t.s.have_best) {
            memcpy(m->params, t.s.best_params, m->n_params * es);
            if (m->buffers) memcpy(m->buffers, t.s.best_buffers, m->n_buffers * sizeof(double));
        }
        t.s.finished = 1;
        if ((st = save_state(&t))) goto done;
        progress_line(&t.pg, rnnlab_trainer_steps(t.tr), cfg.max_steps, t.s.last[1].loss, 1);
    }

    /* rows: the loop's, then units and final layers */
    for (int i = 0; i < 3; i++) rnnlab_csv_append(&files[i], t.s.rows[i].data ? t.s.rows[i].data : "", t.s.rows[i].len);
    long unresp = -1;
    if (t.s.status != TS_DIVERGED && (st = diagnose(&t, init, &files[TF_UNITS], &files[TF_FINAL], &unresp))) goto done;

    /* summary columns */
    const rnnlab_eval_metrics *test = cfg.restore_best ? &t.s.best_test : &t.s.last[2];
    const int div = t.s.status == TS_DIVERGED;
    char v[64];
    for (const char *const *c = summary_desc; *c; c++) {
        if (dim_column(e, *c)) continue;
        if (!strcmp(*c, "optimizer")) rnnlab_csv_text(summary, rnnlab_optim_name(cfg.optim.kind));
        else if (!strcmp(*c, "lr")) rnnlab_csv_num(summary, cfg.optim.lr);
        else if (!strcmp(*c, "schedule")) rnnlab_csv_text(summary, rnnlab_schedule_name(cfg.schedule.kind));
        else if (!strcmp(*c, "weight_decay")) rnnlab_csv_num(summary, cfg.optim.weight_decay);
        else if (!strcmp(*c, "clip")) rnnlab_csv_text(summary, rnnlab_clip_name(cfg.clip));
        else if (!strcmp(*c, "clip_max")) cfg.clip != RNNLAB_CLIP_NONE ? rnnlab_csv_num(summary, cfg.clip_max) : rnnlab_csv_empty(summary);
        else if (!strcmp(*c, "max_steps")) rnnlab_csv_int(summary, cfg.max_steps);
    }
    rnnlab_csv_text(summary, status_names[t.s.status]);
    div ? rnnlab_csv_int(summary, t.s.diverged_step) : rnnlab_csv_empty(summary);
    div ? rnnlab_csv_text(summary, t.s.diverged_what) : rnnlab_csv_empty(summary);
    rnnlab_csv_int(summary, rnnlab_trainer_steps(t.tr));
    t.s.best_step >= 0 ? rnnlab_csv_int(summary, t.s.best_step) : rnnlab_csv_empty(summary);
    exp_num_or_empty(summary, t.s.best_valid);
    exp_num_or_empty(summary, t.s.last[0].loss);
    exp_num_or_empty(summary, t.s.last[1].loss);
    exp_num_or_empty(summary, div ? NAN : test->loss);
    exp_num_or_empty(summary, div ? NAN : test->accuracy);
    exp_num_or_empty(summary, div ? NAN : test->success_rate);
    if (isfinite(cfg.target_loss) && !div) rnnlab_csv_int(summary, test->loss < cfg.target_loss);
    else if (isfinite(cfg.target_loss)) rnnlab_csv_int(summary, 0);
    else rnnlab_csv_empty(summary);
    exp_num_or_empty(summary, info->baseline > 0 ? t.s.last[0].loss / info->baseline : NAN);
    const long w = cfg.slope_window > 0 ? cfg.slope_window : (cfg.max_steps / 10 > 10 ? cfg.max_steps / 10 : 10);
    double mean;
    const double slope = slope_last(t.s.losses, t.s.n_losses, w, &mean);
    exp_num_or_empty(summary, slope);
    if (isnan(slope)) rnnlab_csv_empty(summary);
    else rnnlab_csv_int(summary, slope * (double)(w < t.s.n_losses ? w : t.s.n_losses) < -0.01 * fabs(mean));
    exp_num_or_empty(summary, t.s.n_updates ? (double)t.s.n_clip / (double)t.s.n_updates : NAN);
    exp_num_or_empty(summary, t.s.n_ratio ? pow(10, t.s.log_ratio_sum / (double)t.s.n_ratio) : NAN);
    unresp >= 0 ? (snprintf(v, sizeof v, "%ld", unresp), rnnlab_csv_value(summary, v)) : rnnlab_csv_empty(summary);
    for (int i = 0; i < EXP_TRAIN_FILES; i++)
        if (files[i].failed) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory writing run %ld's training rows", r->id);
done:
    rnnlab_free(extra);
    rnnlab_trainer_free(t.tr);
    rnnlab_model_free(init);
    tstate_free(&t.s);
    rnnlab_free(t.layer_norm), rnnlab_free(t.pnorm);
    return st;
}

/* ---------------------------------------------------------------- experiments */

rnnlab_status rnnlab_experiment_set_training(rnnlab_experiment *e)
{
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_set_training", e);
    e->train.on = 1;
    for (long id = 0; id < e->grid_size; id++) {
        exp_run r;
        rnnlab_status st = exp_resolve(e, id, &r, NULL);
        if (st) return st;
    }
    return RNNLAB_OK;
}

int rnnlab_experiment_trains(const rnnlab_experiment *e) { return e->train.on; }
