/*
 * init.c - parameter initialisation schemes (Glorot, He, orthogonal, identity/IRNN, PyTorch's
 * default), per gate block, with gain and a single forget-gate bias. Sources: include/rnnlab/init.h.
 *
 * Every draw comes from the rng argument, in a fixed order, so a seed fixes the model.
 * Orthogonal blocks use LAPACK's dgeqrf/dorgqr from OpenBLAS on a Gaussian matrix.
 */
#include "rnnlab/init.h"
#include "core/internal.h"

#include <math.h>
#include <string.h>

/* LAPACK (Fortran interface, shipped inside OpenBLAS): QR factorisation and forming Q. */
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
             int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau, double *work,
             const int *lwork, int *info);

static const char *const scheme_names[RNNLAB_INIT_COUNT] = {
    [RNNLAB_INIT_PYTORCH] = "pytorch",
    [RNNLAB_INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [RNNLAB_INIT_GLOROT_NORMAL] = "glorot_normal",
    [RNNLAB_INIT_HE_UNIFORM] = "he_uniform",
    [RNNLAB_INIT_HE_NORMAL] = "he_normal",
    [RNNLAB_INIT_ORTHOGONAL] = "orthogonal",
    [RNNLAB_INIT_IDENTITY] = "identity",
    [RNNLAB_INIT_NORMAL] = "normal",
    [RNNLAB_INIT_ZERO] = "zero",
};

const char *rnnlab_init_scheme_name(rnnlab_init_scheme s)
{
    return (unsigned)s < RNNLAB_INIT_COUNT ? scheme_names[s] : "?";
}

rnnlab_status rnnlab_init_scheme_parse(const char *name, rnnlab_init_scheme *s)
{
    RNNLAB_REQUIRE_PTR("rnnlab_init_scheme_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_init_scheme_parse", s);
    static const struct {
        const char *alias;
        rnnlab_init_scheme s;
    } aliases[] = {
        {"default", RNNLAB_INIT_PYTORCH},          {"xavier_uniform", RNNLAB_INIT_GLOROT_UNIFORM},
        {"xavier_normal", RNNLAB_INIT_GLOROT_NORMAL}, {"kaiming_uniform", RNNLAB_INIT_HE_UNIFORM},
        {"kaiming_normal", RNNLAB_INIT_HE_NORMAL},  {"irnn", RNNLAB_INIT_IDENTITY},
    };
    for (int i = 0; name && i < RNNLAB_INIT_COUNT; i++)
        if (strcmp(name, scheme_names[i]) == 0) return *s = (rnnlab_init_scheme)i, RNNLAB_OK;
    for (size_t i = 0; name && i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) return *s = aliases[i].s, RNNLAB_OK;
    return rnnlab_error(RNNLAB_ERR_CONFIG,
                        "unknown init scheme '%s' (expected pytorch, glorot_uniform, glorot_normal, he_uniform, "
                        "he_normal, orthogonal, identity, normal or zero)",
                        name ? name : "(null)");
}

void rnnlab_init_config_init(rnnlab_init_config *cfg)
{
    cfg->weight_ih = cfg->weight_hh = cfg->bias = RNNLAB_INIT_PYTORCH;
    cfg->gain = 1;
    cfg->identity_scale = 1;
    cfg->normal_std = 0.001;
    cfg->forget_bias = NAN;
}

void rnnlab_init_config_preset(rnnlab_init_config *cfg, rnnlab_init_scheme s)
{
    switch (s) {
    case RNNLAB_INIT_PYTORCH: cfg->weight_ih = cfg->weight_hh = cfg->bias = RNNLAB_INIT_PYTORCH; break;
    case RNNLAB_INIT_ORTHOGONAL:
        cfg->weight_ih = cfg->bias = RNNLAB_INIT_PYTORCH;
        cfg->weight_hh = RNNLAB_INIT_ORTHOGONAL;
        break;
    case RNNLAB_INIT_IDENTITY:
        cfg->weight_ih = RNNLAB_INIT_NORMAL;
        cfg->weight_hh = RNNLAB_INIT_IDENTITY;
        cfg->bias = RNNLAB_INIT_ZERO;
        break;
    default:
        cfg->weight_ih = cfg->weight_hh = s;
        cfg->bias = RNNLAB_INIT_ZERO;
        break;
    }
}

/* ---------------------------------------------------------------- drawing one block */

static double uniform_pm(rnnlab_rng *rng, double a) { return a * (2 * rnnlab_rng_uniform(rng) - 1); }

/* Fills blk (rows, cols), row-major, with an orthogonal matrix: orthonormal columns if rows >= cols,
 * orthonormal rows otherwise. work holds at least rows*cols + 66*max(rows,cols) doubles. */
static rnnlab_status orthogonal_block(double *blk, int rows, int cols, rnnlab_rng *rng, double *work)
{
    const int m = rows >= cols ? rows : cols, n = rows >= cols ? cols : rows;
    double *a = work, *tau = work + (size_t)m * n, *sign = tau + n, *w = sign + n;
    int lwork = 64 * m, info = 0;
    for (size_t k = 0; k < (size_t)m * n; k++) a[k] = rnnlab_rng_normal(rng); /* column-major (m, n) */
    dgeqrf_(&m, &n, a, &m, tau, w, &lwork, &info);
    if (info != 0) return rnnlab_error(RNNLAB_ERR_NUMERIC, "orthogonal init: dgeqrf failed (info %d)", info);
    for (int j = 0; j < n; j++) sign[j] = a[(size_t)j * m + j] < 0 ? -1.0 : 1.0; /* diag(R) (Mezzadri 2007) */
    dorgqr_(&m, &n, &n, a, &m, tau, w, &lwork, &info);
    if (info != 0) return rnnlab_error(RNNLAB_ERR_NUMERIC, "orthogonal init: dorgqr failed (info %d)", info);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            /* Q is (m, n) column-major; the block is Q (rows >= cols) or Q^T */
            const int qi = rows >= cols ? r : c, qj = rows >= cols ? c : r;
            blk[(size_t)r * cols + c] = a[(size_t)qj * m + qi] * sign[qj];
        }
    return RNNLAB_OK;
}

/* Draws one (rows, cols) weight block with fan_in = cols, fan_out = rows. */
static rnnlab_status draw_block(double *blk, int rows, int cols, rnnlab_init_scheme s, const rnnlab_init_config *cfg,
                                int H, rnnlab_rng *rng, double *work)
{
    const size_t n = (size_t)rows * cols;
    const double fan_in = cols, fan_out = rows, gain = cfg->gain;
    switch (s) {
    case RNNLAB_INIT_PYTORCH:
        for (size_t k = 0; k < n; k++) blk[k] = uniform_pm(rng, 1 / sqrt((double)H));
        return RNNLAB_OK;
    case RNNLAB_INIT_GLOROT_UNIFORM:
        for (size_t k = 0; k < n; k++) blk[k] = uniform_pm(rng, gain * sqrt(6 / (fan_in + fan_out)));
        return RNNLAB_OK;
    case RNNLAB_INIT_GLOROT_NORMAL:
        for (size_t k = 0; k < n; k++) blk[k] = gain * sqrt(2 / (fan_in + fan_out)) * rnnlab_rng_normal(rng);
        return RNNLAB_OK;
    case RNNLAB_INIT_HE_UNIFORM:
        for (size_t k = 0; k < n; k++) blk[k] = uniform_pm(rng, gain * sqrt(6 / fan_in));
        return RNNLAB_OK;
    case RNNLAB_INIT_HE_NORMAL:
        for (size_t k = 0; k < n; k++) blk[k] = gain * sqrt(2 / fan_in) * rnnlab_rng_normal(rng);
        return RNNLAB_OK;
    case RNNLAB_INIT_NORMAL:
        for (size_t k = 0; k < n; k++) blk[k] = gain * cfg->normal_std * rnnlab_rng_normal(rng);
        return RNNLAB_OK;
    case RNNLAB_INIT_ZERO: memset(blk, 0, n * sizeof *blk); return RNNLAB_OK;
    case RNNLAB_INIT_IDENTITY:
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) blk[(size_t)r * cols + c] = r == c ? gain * cfg->identity_scale : 0.0;
        return RNNLAB_OK;
    case RNNLAB_INIT_ORTHOGONAL: {
        rnnlab_status st = orthogonal_block(blk, rows, cols, rng, work);
        for (size_t k = 0; k < n; k++) blk[k] *= gain;
        return st;
    }
    default: return rnnlab_error(RNNLAB_ERR_CONFIG, "invalid init scheme %d", (int)s);
    }
}

/* ---------------------------------------------------------------- the whole model */

static rnnlab_status check_config(const rnnlab_model *m, const rnnlab_init_config *cfg)
{
    if ((unsigned)cfg->weight_ih >= RNNLAB_INIT_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "init: weight_ih is not a scheme (got %d)", (int)cfg->weight_ih);
    if ((unsigned)cfg->weight_hh >= RNNLAB_INIT_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "init: weight_hh is not a scheme (got %d)", (int)cfg->weight_hh);
    if (cfg->bias != RNNLAB_INIT_PYTORCH && cfg->bias != RNNLAB_INIT_ZERO)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "init_bias must be pytorch or zero (got %s)",
                            rnnlab_init_scheme_name(cfg->bias));
    if (!isfinite(cfg->gain)) return rnnlab_error(RNNLAB_ERR_CONFIG, "gain must be finite (got %g)", cfg->gain);
    if (!isfinite(cfg->identity_scale))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "identity_scale must be finite (got %g)", cfg->identity_scale);
    if (!isfinite(cfg->normal_std) || cfg->normal_std < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "normal_std must be finite and >= 0 (got %g)", cfg->normal_std);
    if (!isnan(cfg->forget_bias)) {
        if (m->cfg.cell != RNNLAB_CELL_LSTM)
            return rnnlab_error(RNNLAB_ERR_CONFIG, "forget_bias applies to the lstm cell only (cell is %s)",
                                rnnlab_cell_name(m->cfg.cell));
        if (!isfinite(cfg->forget_bias))
            return rnnlab_error(RNNLAB_ERR_CONFIG, "forget_bias must be finite (got %g)", cfg->forget_bias);
    }
    if (cfg->weight_ih == RNNLAB_INIT_IDENTITY && m->cfg.input_size != m->cfg.hidden_size)
        return rnnlab_error(RNNLAB_ERR_CONFIG,
                            "init_ih = identity needs square blocks, but layer 0's input-to-hidden blocks are "
                            "%d x %d (input_size != hidden_size)",
                            m->cfg.hidden_size, m->cfg.input_size);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_model_init(rnnlab_model *m, const rnnlab_init_config *cfg, rnnlab_rng *rng)
{
    RNNLAB_REQUIRE_PTR("rnnlab_model_init", m);
    RNNLAB_REQUIRE_PTR("rnnlab_model_init", cfg);
    RNNLAB_REQUIRE_PTR("rnnlab_model_init", rng);
    rnnlab_status st = check_config(m, cfg);
    if (st) return st;
    const int H = m->cfg.hidden_size, G = m->G;
    const size_t maxdim = (size_t)(m->cfg.input_size > H ? m->cfg.input_size : H);
    const double k = 1 / sqrt((double)H); /* PyTorch's bound for RNN parameters and the head's fan_in = H */
    /* Each tensor (each gate block of W and U) is drawn into a double scratch and then stored, so the
       scratch is one block, not a copy of the model (W2: 10 MB that a process kept resident). The
       configuration was checked above and the scratch allocated before anything is stored, so a
       refusal leaves the parameters unchanged. */
    size_t scratch = 1;
    for (int i = 0; i < m->n_tensors; i++) {
        const rnnlab_tensor_info *t = &m->tensors[i];
        const size_t n = t->role == RNNLAB_ROLE_W || t->role == RNNLAB_ROLE_U ? (size_t)H * t->dims[1] : t->numel;
        if (n > scratch) scratch = n;
    }
    /* orthogonal_block's work for an (H, cols) block: H cols + 66 max(H, cols) doubles (not maxdim^2:
       I = 60000, H = 1 asked for 29 GB) */
    double *vals = rnnlab_malloc(scratch * sizeof *vals);
    double *work = rnnlab_malloc((scratch + 66 * maxdim) * sizeof *work);
    if (!vals || !work) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory initialising the model");
        goto done;
    }
    for (int i = 0; i < m->n_tensors && !st; i++) {
        const rnnlab_tensor_info *t = &m->tensors[i];
        double *v = vals;
        switch (t->role) {
        case RNNLAB_ROLE_W:
        case RNNLAB_ROLE_U: {
            const int cols = t->dims[1];
            const size_t bn = (size_t)H * cols;
            for (int g = 0; g < G && !st; g++) {
                st = draw_block(v, H, cols, t->role == RNNLAB_ROLE_W ? cfg->weight_ih : cfg->weight_hh, cfg, H, rng,
                                work);
                for (size_t j = 0; j < bn && !st; j++) rnnlab_model_param_set_at(m, t->offset + g * bn + j, v[j]);
            }
            continue;
        }
        case RNNLAB_ROLE_B_IH:
        case RNNLAB_ROLE_B_HH:
        case RNNLAB_ROLE_PEEPHOLE: /* biases and peepholes */
            for (size_t j = 0; j < t->numel; j++) v[j] = cfg->bias == RNNLAB_INIT_PYTORCH ? uniform_pm(rng, k) : 0.0;
            break;
        case RNNLAB_ROLE_HEAD_W:
        case RNNLAB_ROLE_HEAD_B: /* nn.Linear default */
            for (size_t j = 0; j < t->numel; j++) v[j] = uniform_pm(rng, k);
            break;
        case RNNLAB_ROLE_PRELU: /* PyTorch's nn.PReLU default (He et al. 2015) */
            for (size_t j = 0; j < t->numel; j++) v[j] = 0.25;
            break;
        case RNNLAB_ROLE_LN_C_BIAS: memset(v, 0, t->numel * sizeof *v); break;
        default: /* normalisation gains start at 1 (Ba et al. 2016; Ioffe & Szegedy 2015) */
            for (size_t j = 0; j < t->numel; j++) v[j] = 1.0;
            break;
        }
        if (m->cfg.cell == RNNLAB_CELL_LSTM && !isnan(cfg->forget_bias)) {
            /* the forget block (rows H..2H) of b_ih gets the value, that of b_hh gets 0: applied once */
            if (t->role == RNNLAB_ROLE_B_IH)
                for (int j = 0; j < H; j++) v[H + j] = cfg->forget_bias;
            if (t->role == RNNLAB_ROLE_B_HH)
                for (int j = 0; j < H; j++) v[H + j] = 0.0;
        }
        for (size_t j = 0; j < t->numel; j++) rnnlab_model_param_set_at(m, t->offset + j, v[j]);
    }
    if (!st)
        for (int i = 0; i < m->n_buffer_tensors; i++) /* running statistics start at mean 0, variance 1 */
            for (size_t j = 0; j < m->buffer_tensors[i].numel; j++)
                m->buffers[m->buffer_tensors[i].offset + j] = m->buffer_tensors[i].role == RNNLAB_ROLE_BN_VAR ? 1.0 : 0.0;
done:
    rnnlab_free(vals);
    rnnlab_free(work);
    return st;
}
