/*
 * test_init.c - every initialisation scheme: bounds, variances (within 5 standard errors of the
 * formula in rnnlab/init.h), per-gate-block fans, orthogonality, identity, gain, the single forget
 * bias, determinism by seed, and refusals.
 */
#include "check.h"
#include "rnnlab/rnnlab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rnnlab_model *make(rnnlab_cell_kind cell, int I, int H, int L, const rnnlab_init_config *ic, uint64_t seed)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.input_size = I, mc.hidden_size = H, mc.num_layers = L, mc.output_size = 3;
    rnnlab_model *m;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_OK);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, seed);
    assert_int_equal(rnnlab_model_init(m, ic, &rng), RNNLAB_OK);
    return m;
}

static const double *tensor(const rnnlab_model *m, const char *name, size_t *n)
{
    const int i = rnnlab_model_find(m, name);
    assert_true(i >= 0);
    *n = m->tensors[i].numel;
    return (const double *)m->params + m->tensors[i].offset; /* float64 models */
}

/* Checks max|w| <= bound, max|w| > 0.95 bound (the bound is attained, so it is not a smaller one),
 * and mean(w^2) = bound^2/3 within 5 standard errors (sd of w^2 is bound^2 sqrt(4/45)). */
static void expect_uniform(const char *what, const double *w, size_t n, double bound)
{
    double mx = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(w[i])), s2 += w[i] * w[i];
    assert_true(mx <= bound);
    assert_true(mx > 0.95 * bound);
    const double se = bound * bound * sqrt(4.0 / 45 / n);
    assert_close1(what, s2 / n, bound * bound / 3, 5 * se, 0);
}

/* mean(w) = 0 and mean(w^2) = sd^2 within 5 standard errors (sd of w^2 is sd^2 sqrt(2)). */
static void expect_normal(const char *what, const double *w, size_t n, double sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += w[i], s2 += w[i] * w[i];
    assert_close1(what, s / n, 0, 5 * sd / sqrt((double)n), 0);
    assert_close1(what, s2 / n, sd * sd, 5 * sd * sd * sqrt(2.0 / n), 0);
}

static void test_pytorch_default_bounds(void **state)
{
    (void)state;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    const int H = 64;
    rnnlab_model *m = make(RNNLAB_CELL_LSTM, 16, H, 2, &ic, 1);
    size_t n;
    const char *names[] = {"weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1", "head_weight"};
    for (int i = 0; i < 5; i++) {
        const double *w = tensor(m, names[i], &n);
        expect_uniform(names[i], w, n, 1 / sqrt((double)H));
    }
    const double *b = tensor(m, "bias_hh_l0", &n);
    for (size_t i = 0; i < n; i++) assert_true(fabs(b[i]) <= 1 / sqrt((double)H));
    rnnlab_model_free(m);
}

/* I = 48, H = 96: a per-block Glorot bound sqrt(6/(48+96)) differs from one over the stacked LSTM
 * matrix (fan_out 4*96), which would be sqrt(6/(48+384)). */
static void test_glorot_and_he_per_gate_block(void **state)
{
    (void)state;
    const int I = 48, H = 96;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    size_t n;
    const double *w;
    rnnlab_init_config_preset(&ic, RNNLAB_INIT_GLOROT_UNIFORM);
    rnnlab_model *m = make(RNNLAB_CELL_LSTM, I, H, 1, &ic, 2);
    w = tensor(m, "weight_ih_l0", &n);
    expect_uniform("glorot_uniform W", w, n, sqrt(6.0 / (I + H)));
    w = tensor(m, "weight_hh_l0", &n);
    expect_uniform("glorot_uniform U", w, n, sqrt(6.0 / (H + H)));
    const double *b = tensor(m, "bias_ih_l0", &n);
    for (size_t i = 0; i < n; i++) assert_true(b[i] == 0.0);
    rnnlab_model_free(m);

    rnnlab_init_config_preset(&ic, RNNLAB_INIT_GLOROT_NORMAL);
    m = make(RNNLAB_CELL_LSTM, I, H, 1, &ic, 3);
    w = tensor(m, "weight_ih_l0", &n);
    expect_normal("glorot_normal W", w, n, sqrt(2.0 / (I + H)));
    w = tensor(m, "weight_hh_l0", &n);
    expect_normal("glorot_normal U", w, n, sqrt(2.0 / (H + H)));
    rnnlab_model_free(m);

    rnnlab_init_config_preset(&ic, RNNLAB_INIT_HE_UNIFORM);
    m = make(RNNLAB_CELL_GRU, I, H, 1, &ic, 4);
    w = tensor(m, "weight_ih_l0", &n);
    expect_uniform("he_uniform W", w, n, sqrt(6.0 / I));
    w = tensor(m, "weight_hh_l0", &n);
    expect_uniform("he_uniform U", w, n, sqrt(6.0 / H));
    rnnlab_model_free(m);

    rnnlab_init_config_preset(&ic, RNNLAB_INIT_HE_NORMAL);
    ic.gain = 0.5; /* the gain multiplies the standard deviation */
    m = make(RNNLAB_CELL_GRU, I, H, 1, &ic, 5);
    w = tensor(m, "weight_ih_l0", &n);
    expect_normal("he_normal W", w, n, 0.5 * sqrt(2.0 / I));
    w = tensor(m, "weight_hh_l0", &n);
    expect_normal("he_normal U", w, n, 0.5 * sqrt(2.0 / H));
    rnnlab_model_free(m);
}

/* max over i,j of |(Q^T Q)_ij - g^2 delta_ij| for the (rows, cols) block at w, columns if rows >= cols */
static double orth_error(const double *w, int rows, int cols, double g)
{
    const int n = rows >= cols ? cols : rows, len = rows >= cols ? rows : cols;
    double err = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double s = 0;
            for (int k = 0; k < len; k++)
                s += rows >= cols ? w[(size_t)k * cols + a] * w[(size_t)k * cols + b]
                                  : w[(size_t)a * cols + k] * w[(size_t)b * cols + k];
            err = fmax(err, fabs(s - (a == b ? g * g : 0)));
        }
    return err;
}

static void test_orthogonal_per_gate_block(void **state)
{
    (void)state;
    const int H = 32;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_init_config_preset(&ic, RNNLAB_INIT_ORTHOGONAL);
    ic.weight_ih = RNNLAB_INIT_ORTHOGONAL; /* also the rectangular input blocks: (32, 7) */
    rnnlab_model *m = make(RNNLAB_CELL_LSTM, 7, H, 2, &ic, 6);
    size_t n;
    for (int l = 0; l < 2; l++) {
        char name[32];
        snprintf(name, sizeof name, "weight_hh_l%d", l);
        const double *U = tensor(m, name, &n);
        for (int g = 0; g < 4; g++) assert_true(orth_error(U + (size_t)g * H * H, H, H, 1.0) < 1e-12);
        /* the stacked (4H, H) matrix is NOT orthonormal as a whole: its columns have norm^2 4 */
        assert_true(orth_error(U, 4 * H, H, 1.0) > 1.0);
    }
    const double *W = tensor(m, "weight_ih_l0", &n);
    for (int g = 0; g < 4; g++) assert_true(orth_error(W + (size_t)g * H * 7, H, 7, 1.0) < 1e-12);
    rnnlab_model_free(m);
    ic.gain = 1.5;
    m = make(RNNLAB_CELL_RNN, 3, H, 1, &ic, 7);
    assert_true(orth_error(tensor(m, "weight_hh_l0", &n), H, H, 1.5) < 1e-12);
    /* a fat block (rows < cols): orthonormal rows */
    const double *W2 = tensor(m, "weight_ih_l0", &n);
    assert_true(orth_error(W2, H, 3, 1.5) < 1e-12);
    rnnlab_model_free(m);
}

static void test_identity_irnn(void **state)
{
    (void)state;
    const int H = 16;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_init_config_preset(&ic, RNNLAB_INIT_IDENTITY);
    ic.identity_scale = 0.9;
    rnnlab_model *m = make(RNNLAB_CELL_RNN, 300, H, 1, &ic, 8);
    size_t n;
    const double *w;
    const double *U = tensor(m, "weight_hh_l0", &n);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) assert_true(U[i * H + j] == (i == j ? 0.9 : 0.0));
    w = tensor(m, "weight_ih_l0", &n);
    expect_normal("IRNN input weights", w, n, 0.001);
    const double *b = tensor(m, "bias_ih_l0", &n);
    for (size_t i = 0; i < n; i++) assert_true(b[i] == 0.0);
    rnnlab_model_free(m);
}

/* The gate sees b_ih + b_hh: the forget block must total exactly the value, not twice it. */
static void test_forget_bias_applied_once(void **state)
{
    (void)state;
    const int H = 8;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    ic.forget_bias = 1.0;
    rnnlab_model *m = make(RNNLAB_CELL_LSTM, 2, H, 2, &ic, 9);
    size_t n;
    for (int l = 0; l < 2; l++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "bias_ih_l%d", l), snprintf(b, sizeof b, "bias_hh_l%d", l);
        const double *bi = tensor(m, a, &n), *bh = tensor(m, b, &n);
        for (int j = 0; j < H; j++) assert_true(bi[H + j] + bh[H + j] == 1.0);
        for (int j = 0; j < H; j++) assert_true(bi[j] != 0.0 && fabs(bi[j]) <= 1 / sqrt((double)H)); /* input gate untouched */
    }
    rnnlab_model_free(m);
}

static void test_same_seed_same_model_any_thread_count(void **state)
{
    (void)state;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_init_config_preset(&ic, RNNLAB_INIT_ORTHOGONAL);
    const int saved = rnnlab_threads_get();
    rnnlab_threads_set(1);
    rnnlab_model *a = make(RNNLAB_CELL_GRU, 5, 40, 2, &ic, 11);
    rnnlab_threads_set(3);
    rnnlab_model *b = make(RNNLAB_CELL_GRU, 5, 40, 2, &ic, 11);
    rnnlab_model *c = make(RNNLAB_CELL_GRU, 5, 40, 2, &ic, 12);
    rnnlab_threads_set(saved);
    assert_true(check_same_bytes("params", a->params, b->params, a->n_params * sizeof(double)));
    assert_true(memcmp(a->params, c->params, a->n_params * sizeof(double)) != 0);
    rnnlab_model_free(a), rnnlab_model_free(b), rnnlab_model_free(c);
}

static void test_refusals_leave_parameters_unchanged(void **state)
{
    (void)state;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_model *m = make(RNNLAB_CELL_GRU, 3, 4, 1, &ic, 13);
    double *before = malloc(m->n_params * sizeof(double));
    memcpy(before, m->params, m->n_params * sizeof(double));
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 1);
    ic.forget_bias = 1.0;
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "forget_bias"));
    rnnlab_init_config_init(&ic);
    ic.weight_ih = RNNLAB_INIT_IDENTITY; /* (4, 3) blocks are not square */
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "square"));
    rnnlab_init_config_init(&ic);
    ic.gain = NAN;
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_ERR_CONFIG);
    assert_true(check_same_bytes("params after refusals", before, m->params, m->n_params * sizeof(double)));
    rnnlab_init_scheme s;
    assert_int_equal(rnnlab_init_scheme_parse("xavier_uniform", &s), RNNLAB_OK);
    assert_int_equal(s, RNNLAB_INIT_GLOROT_UNIFORM);
    assert_int_equal(rnnlab_init_scheme_parse("lecun", &s), RNNLAB_ERR_CONFIG);
    free(before);
    rnnlab_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pytorch_default_bounds),
        cmocka_unit_test(test_glorot_and_he_per_gate_block),
        cmocka_unit_test(test_orthogonal_per_gate_block),
        cmocka_unit_test(test_identity_irnn),
        cmocka_unit_test(test_forget_bias_applied_once),
        cmocka_unit_test(test_same_seed_same_model_any_thread_count),
        cmocka_unit_test(test_refusals_leave_parameters_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
