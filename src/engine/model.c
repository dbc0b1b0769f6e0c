/*
 * model.c - the L-layer stack and its head: configuration checks, the tensor table (parameter
 * layout), allocation and element access in either precision.
 *
 * Not here: initialisation (init.c) or any forward/backward arithmetic (bptt.c, cells/).
 * Layout and names: include/rnnlab/model.h.
 */
#include "rnnlab/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *rnnlab_dtype_name(rnnlab_dtype d)
{
    return d == RNNLAB_FLOAT32 ? "float32" : d == RNNLAB_FLOAT64 ? "float64" : "?";
}

rnnlab_status rnnlab_dtype_parse(const char *name, rnnlab_dtype *d)
{
    static const char *const f32[] = {"float32", "f32", "float"}, *const f64[] = {"float64", "f64", "double"};
    for (int i = 0; i < 3; i++) {
        if (name && strcmp(name, f32[i]) == 0) return *d = RNNLAB_FLOAT32, RNNLAB_OK;
        if (name && strcmp(name, f64[i]) == 0) return *d = RNNLAB_FLOAT64, RNNLAB_OK;
    }
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown precision '%s' (expected float32 or float64)",
                        name ? name : "(null)");
}

size_t rnnlab_dtype_size(rnnlab_dtype d) { return d == RNNLAB_FLOAT32 ? sizeof(float) : sizeof(double); }

const char *rnnlab_norm_name(rnnlab_norm n)
{
    return n == RNNLAB_NORM_NONE ? "none" : n == RNNLAB_NORM_LAYER ? "layer" : n == RNNLAB_NORM_BATCH ? "batch" : "?";
}

rnnlab_status rnnlab_norm_parse(const char *name, rnnlab_norm *n)
{
    for (int i = 0; i < RNNLAB_NORM_COUNT; i++)
        if (name && strcmp(name, rnnlab_norm_name((rnnlab_norm)i)) == 0) return *n = (rnnlab_norm)i, RNNLAB_OK;
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown normalisation '%s' (expected none, layer or batch)",
                        name ? name : "(null)");
}

void rnnlab_model_config_init(rnnlab_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->cell = RNNLAB_CELL_RNN;
    cfg->activation = RNNLAB_ACT_TANH;
    cfg->leaky_alpha = 0.01;
    cfg->gru_variant = RNNLAB_GRU_RESET_AFTER;
    cfg->peephole = 0;
    cfg->input_size = 1;
    cfg->hidden_size = 32;
    cfg->num_layers = 1;
    cfg->output_size = 1;
    cfg->dtype = RNNLAB_FLOAT64;
}

#define RNNLAB_MAX_DIM (1 << 20)

static rnnlab_status check_size(const char *field, int v)
{
    if (v < 1 || v > RNNLAB_MAX_DIM)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s must be between 1 and %d (got %d)", field, RNNLAB_MAX_DIM, v);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_config_check(const rnnlab_model_config *cfg)
{
    rnnlab_status st;
    if (!cfg) return rnnlab_error(RNNLAB_ERR_CONFIG, "model config is NULL");
    if ((unsigned)cfg->cell >= RNNLAB_CELL_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "cell: invalid value %d", (int)cfg->cell);
    if ((unsigned)cfg->activation >= RNNLAB_ACT_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "activation: invalid value %d", (int)cfg->activation);
    if ((unsigned)cfg->gru_variant >= RNNLAB_GRU_VARIANT_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "gru_variant: invalid value %d", (int)cfg->gru_variant);
    if (cfg->dtype != RNNLAB_FLOAT32 && cfg->dtype != RNNLAB_FLOAT64)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "precision: invalid value %d", (int)cfg->dtype);
    if (!isfinite(cfg->leaky_alpha) || cfg->leaky_alpha < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "leaky_alpha must be finite and >= 0 (got %g)", cfg->leaky_alpha);
    if (cfg->peephole && cfg->cell != RNNLAB_CELL_LSTM)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "peephole applies to the lstm cell only (cell is %s)",
                            rnnlab_cell_name(cfg->cell));
    if ((st = check_size("input_size", cfg->input_size))) return st;
    if ((st = check_size("hidden_size", cfg->hidden_size))) return st;
    if ((st = check_size("num_layers", cfg->num_layers))) return st;
    if (cfg->num_layers > 1024)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "num_layers must be at most 1024 (got %d)", cfg->num_layers);
    if ((st = check_size("output_size", cfg->output_size))) return st;
    return RNNLAB_OK;
}

static void add_tensor(rnnlab_model *m, const char *name, int layer, int ndim, int d0, int d1, size_t *off)
{
    rnnlab_tensor_info *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->layer = layer;
    t->ndim = ndim;
    t->dims[0] = d0;
    t->dims[1] = ndim == 2 ? d1 : 1;
    t->numel = (size_t)t->dims[0] * (size_t)t->dims[1];
    t->offset = *off;
    *off += t->numel;
}

rnnlab_status rnnlab_model_create(rnnlab_model **out, const rnnlab_model_config *cfg)
{
    rnnlab_status st = rnnlab_model_config_check(cfg);
    if (st) return st;
    *out = NULL;
    rnnlab_model *m = rnnlab_calloc(1, sizeof *m);
    if (!m) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the model");
    m->cfg = *cfg;
    m->G = rnnlab_cell_gates(cfg->cell);
    const int L = cfg->num_layers, H = cfg->hidden_size, GH = m->G * H, per_layer = cfg->peephole ? 5 : 4;
    m->tensors = rnnlab_calloc((size_t)L * per_layer + 2, sizeof *m->tensors);
    if (!m->tensors) goto nomem;
    size_t off = 0;
    char name[32];
    for (int l = 0; l < L; l++) {
        const int Il = l == 0 ? cfg->input_size : H;
        snprintf(name, sizeof name, "weight_ih_l%d", l), add_tensor(m, name, l, 2, GH, Il, &off);
        snprintf(name, sizeof name, "weight_hh_l%d", l), add_tensor(m, name, l, 2, GH, H, &off);
        snprintf(name, sizeof name, "bias_ih_l%d", l), add_tensor(m, name, l, 1, GH, 1, &off);
        snprintf(name, sizeof name, "bias_hh_l%d", l), add_tensor(m, name, l, 1, GH, 1, &off);
        if (cfg->peephole) snprintf(name, sizeof name, "weight_peephole_l%d", l), add_tensor(m, name, l, 2, 3, H, &off);
    }
    add_tensor(m, "head_weight", -1, 2, cfg->output_size, H, &off);
    add_tensor(m, "head_bias", -1, 1, cfg->output_size, 1, &off);
    m->n_params = off;
    m->params = rnnlab_calloc(off, rnnlab_dtype_size(cfg->dtype));
    m->grads = rnnlab_calloc(off, rnnlab_dtype_size(cfg->dtype));
    if (!m->params || !m->grads) goto nomem;
    *out = m;
    return RNNLAB_OK;
nomem:
    rnnlab_model_free(m);
    return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the model");
}

void rnnlab_model_free(rnnlab_model *m)
{
    if (!m) return;
    rnnlab_free(m->tensors);
    rnnlab_free(m->params);
    rnnlab_free(m->grads);
    rnnlab_free(m);
}

int rnnlab_model_find(const rnnlab_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

static double elem_get(const void *block, rnnlab_dtype d, size_t j)
{
    return d == RNNLAB_FLOAT32 ? (double)((const float *)block)[j] : ((const double *)block)[j];
}

static void elem_set(void *block, rnnlab_dtype d, size_t j, double v)
{
    if (d == RNNLAB_FLOAT32)
        ((float *)block)[j] = (float)v;
    else
        ((double *)block)[j] = v;
}

double rnnlab_model_param_at(const rnnlab_model *m, size_t j) { return elem_get(m->params, m->cfg.dtype, j); }
void rnnlab_model_param_set_at(rnnlab_model *m, size_t j, double v) { elem_set(m->params, m->cfg.dtype, j, v); }
double rnnlab_model_grad_at(const rnnlab_model *m, size_t j) { return elem_get(m->grads, m->cfg.dtype, j); }

static rnnlab_status check_index(const rnnlab_model *m, int i)
{
    if (i < 0 || i >= m->n_tensors)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "tensor index %d out of range (model has %d tensors)", i, m->n_tensors);
    return RNNLAB_OK;
}

static rnnlab_status copy_out(const rnnlab_model *m, const void *block, int i, double *out)
{
    rnnlab_status st = check_index(m, i);
    if (st) return st;
    const rnnlab_tensor_info *t = &m->tensors[i];
    for (size_t j = 0; j < t->numel; j++) out[j] = elem_get(block, m->cfg.dtype, t->offset + j);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_get(const rnnlab_model *m, int i, double *out) { return copy_out(m, m->params, i, out); }
rnnlab_status rnnlab_model_get_grad(const rnnlab_model *m, int i, double *out) { return copy_out(m, m->grads, i, out); }

rnnlab_status rnnlab_model_set(rnnlab_model *m, int i, const double *in)
{
    rnnlab_status st = check_index(m, i);
    if (st) return st;
    const rnnlab_tensor_info *t = &m->tensors[i];
    for (size_t j = 0; j < t->numel; j++) elem_set(m->params, m->cfg.dtype, t->offset + j, in[j]);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_copy_params(rnnlab_model *dst, const rnnlab_model *src)
{
    const rnnlab_model_config *a = &dst->cfg, *b = &src->cfg;
    const int same = a->cell == b->cell && a->activation == b->activation && a->leaky_alpha == b->leaky_alpha &&
                     a->gru_variant == b->gru_variant && a->peephole == b->peephole &&
                     a->input_size == b->input_size && a->hidden_size == b->hidden_size &&
                     a->num_layers == b->num_layers && a->output_size == b->output_size;
    if (!same || dst->n_params != src->n_params)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "cannot copy parameters between models of different architecture");
    for (size_t j = 0; j < src->n_params; j++) elem_set(dst->params, dst->cfg.dtype, j, elem_get(src->params, src->cfg.dtype, j));
    return RNNLAB_OK;
}

void rnnlab_model_zero_grad(rnnlab_model *m) { memset(m->grads, 0, m->n_params * rnnlab_dtype_size(m->cfg.dtype)); }
