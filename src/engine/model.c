/*
 * model.c - the L-layer stack and its head: configuration checks, the tensor table (parameter
 * layout), allocation and element access in either precision.
 *
 * Not here: initialisation (init.c) or any forward/backward arithmetic (bptt.c, cells/).
 * Layout and names: include/rnnlab/model.h.
 */
#include "rnnlab/model.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *rnnlab_dtype_name(rnnlab_dtype d)
{
    return d == RNNLAB_FLOAT32 ? "float32" : d == RNNLAB_FLOAT64 ? "float64" : "?";
}

rnnlab_status rnnlab_dtype_parse(const char *name, rnnlab_dtype *d)
{
    RNNLAB_REQUIRE_PTR("rnnlab_dtype_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_dtype_parse", d);
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
    RNNLAB_REQUIRE_PTR("rnnlab_norm_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_norm_parse", n);
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
    RNNLAB_REQUIRE_PTR("rnnlab_model_config_check", cfg);
    rnnlab_status st;
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
    if (cfg->num_layers < 1 || cfg->num_layers > 1024)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "num_layers must be between 1 and 1024 (got %d)", cfg->num_layers);
    if ((st = check_size("output_size", cfg->output_size))) return st;
    if ((unsigned)cfg->norm >= RNNLAB_NORM_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "norm: invalid value %d", (int)cfg->norm);
    if (cfg->activation == RNNLAB_ACT_PRELU && cfg->cell != RNNLAB_CELL_RNN)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "activation prelu applies to the rnn cell only (cell is %s)",
                            rnnlab_cell_name(cfg->cell));
    if (cfg->residual && cfg->num_layers < 2)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "residual connections need num_layers >= 2 (got %d)", cfg->num_layers);
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "dropout must be in [0, 1) (got %g)", cfg->dropout);
    return RNNLAB_OK;
}

static void add_tensor(rnnlab_tensor_info *table, int *count, int *role_index, const char *name, int layer,
                       rnnlab_tensor_role role, int ndim, int d0, int d1, size_t *off)
{
    rnnlab_tensor_info *t = &table[*count];
    role_index[layer * RNNLAB_ROLE_COUNT + role] = (*count)++;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->role = role;
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
    RNNLAB_REQUIRE_PTR("rnnlab_model_create", out);
    RNNLAB_REQUIRE_PTR("rnnlab_model_create", cfg);
    rnnlab_status st = rnnlab_model_config_check(cfg);
    if (st) return st;
    *out = NULL;
    rnnlab_model *m = rnnlab_calloc(1, sizeof *m);
    if (!m) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the model");
    m->cfg = *cfg;
    m->G = rnnlab_cell_gates(cfg->cell);
    const int L = cfg->num_layers, H = cfg->hidden_size, GH = m->G * H, max_per_layer = 11;
    m->tensors = rnnlab_calloc((size_t)L * max_per_layer + 2, sizeof *m->tensors);
    m->buffer_tensors = rnnlab_calloc((size_t)L * 2 + 1, sizeof *m->buffer_tensors);
    m->role_index = rnnlab_malloc((size_t)(L + 1) * RNNLAB_ROLE_COUNT * sizeof(int));
    if (!m->tensors || !m->buffer_tensors || !m->role_index) goto nomem;
    for (int i = 0; i < (L + 1) * RNNLAB_ROLE_COUNT; i++) m->role_index[i] = -1;
    size_t off = 0, boff = 0;
    char name[32];
    const int lstm = cfg->cell == RNNLAB_CELL_LSTM;
#define ADD(fmt, role, ndim, d0, d1)                                                                               \
    (snprintf(name, sizeof name, fmt, l),                                                                          \
     add_tensor(m->tensors, &m->n_tensors, m->role_index, name, l, role, ndim, d0, d1, &off))
    for (int l = 0; l < L; l++) {
        const int Il = l == 0 ? cfg->input_size : H;
        ADD("weight_ih_l%d", RNNLAB_ROLE_W, 2, GH, Il);
        ADD("weight_hh_l%d", RNNLAB_ROLE_U, 2, GH, H);
        ADD("bias_ih_l%d", RNNLAB_ROLE_B_IH, 1, GH, 1);
        ADD("bias_hh_l%d", RNNLAB_ROLE_B_HH, 1, GH, 1);
        if (cfg->peephole) ADD("weight_peephole_l%d", RNNLAB_ROLE_PEEPHOLE, 2, 3, H);
        if (cfg->activation == RNNLAB_ACT_PRELU && cfg->cell == RNNLAB_CELL_RNN)
            ADD("prelu_slope_l%d", RNNLAB_ROLE_PRELU, 1, H, 1);
        if (cfg->norm == RNNLAB_NORM_LAYER) {
            ADD("ln_ih_gain_l%d", RNNLAB_ROLE_LN_IH, 1, GH, 1);
            ADD("ln_hh_gain_l%d", RNNLAB_ROLE_LN_HH, 1, GH, 1);
            if (lstm) ADD("ln_c_gain_l%d", RNNLAB_ROLE_LN_C_GAIN, 1, H, 1), ADD("ln_c_bias_l%d", RNNLAB_ROLE_LN_C_BIAS, 1, H, 1);
        }
        if (cfg->norm == RNNLAB_NORM_BATCH) {
            ADD("bn_gain_l%d", RNNLAB_ROLE_BN_GAIN, 1, GH, 1);
            snprintf(name, sizeof name, "bn_running_mean_l%d", l);
            add_tensor(m->buffer_tensors, &m->n_buffer_tensors, m->role_index, name, l, RNNLAB_ROLE_BN_MEAN, 1, GH, 1, &boff);
            snprintf(name, sizeof name, "bn_running_var_l%d", l);
            add_tensor(m->buffer_tensors, &m->n_buffer_tensors, m->role_index, name, l, RNNLAB_ROLE_BN_VAR, 1, GH, 1, &boff);
        }
    }
#undef ADD
    add_tensor(m->tensors, &m->n_tensors, m->role_index, "head_weight", L, RNNLAB_ROLE_HEAD_W, 2, cfg->output_size, H, &off);
    add_tensor(m->tensors, &m->n_tensors, m->role_index, "head_bias", L, RNNLAB_ROLE_HEAD_B, 1, cfg->output_size, 1, &off);
    m->tensors[m->n_tensors - 2].layer = m->tensors[m->n_tensors - 1].layer = -1;
    m->n_params = off;
    m->params = rnnlab_calloc(off, rnnlab_dtype_size(cfg->dtype));
    m->grads = rnnlab_calloc(off, rnnlab_dtype_size(cfg->dtype));
    m->n_buffers = boff;
    m->buffers = rnnlab_calloc(boff ? boff : 1, sizeof(double));
    if (!m->params || !m->grads || !m->buffers) goto nomem;
    for (int i = 0; i < m->n_buffer_tensors; i++) /* running variance starts at 1 */
        if (m->buffer_tensors[i].role == RNNLAB_ROLE_BN_VAR)
            for (size_t j = 0; j < m->buffer_tensors[i].numel; j++) m->buffers[m->buffer_tensors[i].offset + j] = 1.0;
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
    rnnlab_free(m->buffer_tensors);
    rnnlab_free(m->role_index);
    rnnlab_free(m->buffers);
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

int rnnlab_model_tensor_of(const rnnlab_model *m, int l, rnnlab_tensor_role role)
{
    if (l < -1 || l >= m->cfg.num_layers || (unsigned)role >= RNNLAB_ROLE_COUNT) return -1;
    const int row = l < 0 ? m->cfg.num_layers : l;
    return m->role_index[row * RNNLAB_ROLE_COUNT + role];
}

double rnnlab_model_layer_norm(const rnnlab_model *m, int l, const double *tensor_norms)
{
    double s = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].layer == l) s += tensor_norms[i] * tensor_norms[i];
    return sqrt(s);
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

static rnnlab_status copy_out(const char *fn, const rnnlab_model *m, const void *block, int i, double *out)
{
    RNNLAB_REQUIRE_PTR(fn, m);
    RNNLAB_REQUIRE_PTR(fn, out);
    rnnlab_status st = check_index(m, i);
    if (st) return st;
    const rnnlab_tensor_info *t = &m->tensors[i];
    for (size_t j = 0; j < t->numel; j++) out[j] = elem_get(block, m->cfg.dtype, t->offset + j);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_get(const rnnlab_model *m, int i, double *out)
{
    return copy_out("rnnlab_model_get", m, m ? m->params : NULL, i, out);
}
rnnlab_status rnnlab_model_get_grad(const rnnlab_model *m, int i, double *out)
{
    return copy_out("rnnlab_model_get_grad", m, m ? m->grads : NULL, i, out);
}

rnnlab_status rnnlab_model_set(rnnlab_model *m, int i, const double *in)
{
    RNNLAB_REQUIRE_PTR("rnnlab_model_set", m);
    RNNLAB_REQUIRE_PTR("rnnlab_model_set", in);
    rnnlab_status st = check_index(m, i);
    if (st) return st;
    const rnnlab_tensor_info *t = &m->tensors[i];
    for (size_t j = 0; j < t->numel; j++) elem_set(m->params, m->cfg.dtype, t->offset + j, in[j]);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_copy_params(rnnlab_model *dst, const rnnlab_model *src)
{
    RNNLAB_REQUIRE_PTR("rnnlab_model_copy_params", dst);
    RNNLAB_REQUIRE_PTR("rnnlab_model_copy_params", src);
    const rnnlab_model_config *a = &dst->cfg, *b = &src->cfg;
    const int same = a->cell == b->cell && a->activation == b->activation && a->leaky_alpha == b->leaky_alpha &&
                     a->gru_variant == b->gru_variant && a->peephole == b->peephole && a->norm == b->norm &&
                     a->residual == b->residual && a->dropout == b->dropout &&
                     a->input_size == b->input_size && a->hidden_size == b->hidden_size &&
                     a->num_layers == b->num_layers && a->output_size == b->output_size;
    if (!same || dst->n_params != src->n_params)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "cannot copy parameters between models of different architecture");
    for (size_t j = 0; j < src->n_params; j++) elem_set(dst->params, dst->cfg.dtype, j, elem_get(src->params, src->cfg.dtype, j));
    if (dst->n_buffers) memcpy(dst->buffers, src->buffers, src->n_buffers * sizeof(double));
    return RNNLAB_OK;
}

void rnnlab_model_zero_grad(rnnlab_model *m) { memset(m->grads, 0, m->n_params * rnnlab_dtype_size(m->cfg.dtype)); }
