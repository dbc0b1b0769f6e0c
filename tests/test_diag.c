/*
 * test_diag.c - the diagnostics read from the forward cache, each against a value computed without
 * the code under test:
 *   - the Jacobian view: the spectral norm of d s_{T_b - 1} / d s_t from central finite differences
 *     of forward passes (a one-layer model with the layer's weights, started from s_t, fed the
 *     layer's own inputs), its singular values from LAPACK's dgesvd, averaged over the samples;
 *   - saturation: the fractions counted from the states and from gates recomputed here from the
 *     weights and the states.
 */
#include "check.h"
#include "rnnlab/rnnlab.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS): singular values of a column-major m x n matrix */
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *info,
             size_t jobu_len, size_t jobvt_len); /* the last two: gfortran's lengths of the character arguments */

static double sigma_max(const double *J, int S)
{
    static double a[128 * 128], s[128], work[128 * 128 + 5 * 128];
    double dummy = 0;
    const int lwork = (int)(sizeof work / sizeof *work), one = 1;
    int info = 0;
    assert_true(S <= 128);
    memcpy(a, J, (size_t)S * S * sizeof(double)); /* row-major: the transpose's singular values are the same */
    dgesvd_("N", "N", &S, &S, a, &S, s, &dummy, &one, &dummy, &one, work, &lwork, &info, 1, 1);
    assert_int_equal(info, 0);
    return s[0];
}

static rnnlab_bptt *workspace(const rnnlab_model *m, int B, int T)
{
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    return ws;
}

/* Scales every weight of the layers (not the head) by k: larger weights move the Jacobians away from
 * the near-contracting products of the default init, and saturate units. */
static void scale_weights(rnnlab_model *m, double k)
{
    static double buf[1 << 15];
    for (int i = 0; i < m->n_tensors; i++) {
        const rnnlab_tensor_info *ti = &m->tensors[i];
        if (ti->layer < 0 || strncmp(ti->name, "weight_", 7) || !strncmp(ti->name, "weight_peephole", 15)) continue;
        assert_true(ti->numel <= sizeof buf / sizeof *buf);
        assert_int_equal(rnnlab_model_get(m, i, buf), RNNLAB_OK);
        for (size_t j = 0; j < ti->numel; j++) buf[j] *= k;
        assert_int_equal(rnnlab_model_set(m, i, buf), RNNLAB_OK);
    }
}

/* Layer 0's U := a random orthogonal matrix (Gram-Schmidt on Gaussian columns, twice), W scaled by k:
 * with small inputs tanh stays near its linear part, so every step's Jacobian is nearly orthogonal and
 * the singular values of the products nearly tie - the case where power iteration crawls. rnn only. */
static void set_orthogonal_recurrence(rnnlab_model *m, double k)
{
    const int H = m->cfg.hidden_size, iu = rnnlab_model_find(m, "weight_hh_l0"), iw = rnnlab_model_find(m, "weight_ih_l0");
    assert_true(m->cfg.cell == RNNLAB_CELL_RNN && H <= 64 && iu >= 0 && iw >= 0);
    static double U[64 * 64], buf[4096];
    assert_true(m->tensors[iw].numel <= sizeof buf / sizeof *buf);
    rnnlab_rng r;
    rnnlab_rng_seed(&r, 99);
    for (int i = 0; i < H * H; i++) U[i] = rnnlab_rng_normal(&r);
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < H; c++) { /* column c against columns 0..c-1, then normalised */
            for (int p = 0; p < c; p++) {
                double d = 0;
                for (int i = 0; i < H; i++) d += U[i * H + c] * U[i * H + p];
                for (int i = 0; i < H; i++) U[i * H + c] -= d * U[i * H + p];
            }
            double n = 0;
            for (int i = 0; i < H; i++) n += U[i * H + c] * U[i * H + c];
            for (int i = 0; i < H; i++) U[i * H + c] /= sqrt(n);
        }
    assert_int_equal(rnnlab_model_set(m, iu, U), RNNLAB_OK);
    assert_int_equal(rnnlab_model_get(m, iw, buf), RNNLAB_OK);
    for (size_t j = 0; j < m->tensors[iw].numel; j++) buf[j] *= k;
    assert_int_equal(rnnlab_model_set(m, iw, buf), RNNLAB_OK);
}

/* A float64 one-layer model holding layer l of m (tensors "*_l{l}" copied to "*_l0"), input size I_l. */
static rnnlab_model *layer_model(const rnnlab_model *m, int l)
{
    rnnlab_model_config c = m->cfg;
    c.num_layers = 1, c.dtype = RNNLAB_FLOAT64, c.residual = 0, c.dropout = 0;
    if (l > 0) c.input_size = m->cfg.hidden_size;
    rnnlab_model *one;
    assert_int_equal(rnnlab_model_create(&one, &c), RNNLAB_OK);
    char suffix[16], name[64];
    snprintf(suffix, sizeof suffix, "_l%d", l);
    static double buf[1 << 15];
    for (int i = 0; i < m->n_tensors; i++) {
        const rnnlab_tensor_info *ti = &m->tensors[i];
        if (ti->layer != l) continue;
        const size_t n = strlen(ti->name) - strlen(suffix);
        assert_string_equal(ti->name + n, suffix);
        snprintf(name, sizeof name, "%.*s_l0", (int)n, ti->name);
        const int k = rnnlab_model_find(one, name);
        assert_true(k >= 0);
        assert_int_equal(one->tensors[k].numel, ti->numel);
        assert_true(ti->numel <= sizeof buf / sizeof *buf);
        assert_int_equal(rnnlab_model_get(m, i, buf), RNNLAB_OK);
        assert_int_equal(rnnlab_model_set(one, k, buf), RNNLAB_OK);
    }
    return one;
}

/* sigma_max of d s_{Tb-1} / d s_t for sample b of the forward in ws (model m, layer l, inputs x (T, B, I)),
 * by central differences of forwards of the one-layer model `one` from s_t over steps t+1 .. Tb-1. */
static double fd_sigma(const rnnlab_bptt *ws, const rnnlab_model *m, rnnlab_model *one, int l, const double *x,
                       int B, int b, int Tb, int t)
{
    const int H = m->cfg.hidden_size, lstm = m->cfg.cell == RNNLAB_CELL_LSTM, S = lstm ? 2 * H : H;
    const int Il = l ? H : m->cfg.input_size, Tn = Tb - 1 - t;
    if (Tn == 0) return 1; /* the identity */
    double *hs = malloc(sizeof(double) * (size_t)B * H), *cs = malloc(sizeof(double) * (size_t)B * H);
    double *xin = malloc(sizeof(double) * (size_t)Tn * Il), *J = malloc(sizeof(double) * (size_t)S * S);
    double s0[128], sin[128], h0[64], c0[64], hT[64], cT[64], y[4] = {0};
    assert_true(S <= 128 && H <= 64 && m->cfg.output_size <= 4);
    /* s_t and the layer's inputs at steps t+1 .. Tb-1 (x, or the layer below's states) */
    assert_int_equal(rnnlab_bptt_get_state(ws, l, t, hs, lstm ? cs : NULL), RNNLAB_OK);
    for (int j = 0; j < H; j++) s0[j] = hs[(size_t)b * H + j], s0[H + j] = lstm ? cs[(size_t)b * H + j] : 0;
    for (int k = 0; k < Tn; k++) {
        if (l == 0) memcpy(xin + (size_t)k * Il, x + ((size_t)(t + 1 + k) * B + b) * Il, sizeof(double) * (size_t)Il);
        else {
            assert_int_equal(rnnlab_bptt_get_state(ws, l - 1, t + 1 + k, hs, NULL), RNNLAB_OK);
            memcpy(xin + (size_t)k * Il, hs + (size_t)b * H, sizeof(double) * (size_t)H);
        }
    }
    rnnlab_bptt *w1 = workspace(one, 1, Tn);
    const double eps = 1e-6;
    for (int col = 0; col < S; col++) {
        double sp[128], sm[128]; /* s_{Tb-1} from s_t + eps e_col and from s_t - eps e_col */
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(sin, s0, sizeof sin);
            sin[col] += sgn ? -eps : eps;
            memcpy(h0, sin, sizeof(double) * (size_t)H), memcpy(c0, sin + H, sizeof(double) * (size_t)H);
            rnnlab_batch bt = {xin, y, NULL, NULL, h0, lstm ? c0 : NULL, 0};
            double loss;
            assert_int_equal(rnnlab_bptt_forward(w1, one, &bt, &loss), RNNLAB_OK);
            assert_int_equal(rnnlab_bptt_get_state(w1, 0, Tn - 1, hT, lstm ? cT : NULL), RNNLAB_OK);
            double *out = sgn ? sm : sp;
            for (int j = 0; j < H; j++) out[j] = hT[j], out[H + j] = lstm ? cT[j] : 0;
        }
        for (int i = 0; i < S; i++) J[(size_t)i * S + col] = (sp[i] - sm[i]) / (2 * eps);
    }
    const double s = sigma_max(J, S);
    rnnlab_bptt_free(w1);
    free(hs), free(cs), free(xin), free(J);
    return s;
}

typedef struct jac_case {
    const char *name;
    rnnlab_cell_kind cell;
    rnnlab_gru_variant gru_variant;
    int H, peephole, L, n_samples;
    rnnlab_norm norm;
    rnnlab_dtype dtype;
    double scale, rtol;
    int orthogonal; /* U := a random orthogonal matrix, W scaled by `scale`: near-tied singular values */
    rnnlab_activation act; /* rnn only */
} jac_case;

static void check_jacobian(const jac_case *jc)
{
    enum { I = 3, T = 7, B = 3, O = 2 };
    const int H = jc->H;
    const int lens[B] = {T, T - 2, T - 1};
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = jc->cell, mc.gru_variant = jc->gru_variant, mc.peephole = jc->peephole, mc.norm = jc->norm;
    mc.activation = jc->act;
    mc.input_size = I, mc.hidden_size = H, mc.num_layers = jc->L, mc.output_size = O, mc.dtype = jc->dtype;
    rnnlab_model *m = check_model(&mc, 11);
    if (jc->orthogonal) set_orthogonal_recurrence(m, jc->scale);
    else scale_weights(m, jc->scale);
    /* the reference runs in float64 from the same weights (a float32 model's, converted exactly) */
    mc.dtype = RNNLAB_FLOAT64;
    rnnlab_model *m64;
    assert_int_equal(rnnlab_model_create(&m64, &mc), RNNLAB_OK);
    static double buf[1 << 15];
    for (int i = 0; i < m->n_tensors; i++) {
        assert_true(m->tensors[i].numel <= sizeof buf / sizeof *buf);
        assert_int_equal(rnnlab_model_get(m, i, buf), RNNLAB_OK);
        assert_int_equal(rnnlab_model_set(m64, i, buf), RNNLAB_OK);
    }
    double x[T * B * I], y[B * O];
    check_fill_uniform(x, T * B * I, 5), check_fill_uniform(y, B * O, 6);
    rnnlab_batch bt = {x, y, NULL, lens, NULL, NULL, 0};
    double loss;
    rnnlab_bptt *ws = workspace(m, B, T), *ws64 = workspace(m64, B, T);
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_forward(ws64, m64, &bt, &loss), RNNLAB_OK);
    const int nb = jc->n_samples < B ? jc->n_samples : B;
    for (int l = 0; l < jc->L; l++) {
        double norm[T], lg[T], want[T], want_lg[T];
        assert_int_equal(rnnlab_diag_jacobian(ws, m, l, jc->n_samples, norm, lg), RNNLAB_OK);
        rnnlab_model *one = layer_model(m64, l);
        for (int t = 0; t < T; t++) {
            double sum = 0;
            int cnt = 0;
            for (int b = 0; b < nb; b++)
                if (t < lens[b]) sum += fd_sigma(ws64, m64, one, l, x, B, b, lens[b], t), cnt++;
            want[t] = cnt ? sum / cnt : NAN, want_lg[t] = cnt ? log10(sum / cnt) : NAN;
        }
        rnnlab_model_free(one);
        printf("  %s, layer %d: norm[0] = %.6g (finite differences %.6g)\n", jc->name, l, norm[0], want[0]);
        for (int t = 0; t < T; t++) {
            if (isnan(want[t])) { /* no sample reaches step t */
                assert_true(isnan(norm[t]) && isnan(lg[t]));
                continue;
            }
            char what[96];
            snprintf(what, sizeof what, "%s layer %d jacobian_norm[t=%d]", jc->name, l, t);
            assert_close1(what, norm[t], want[t], 0, jc->rtol);
            snprintf(what, sizeof what, "%s layer %d log10_jacobian_norm[t=%d]", jc->name, l, t);
            assert_close1(what, lg[t], want_lg[t], jc->rtol, 0);
        }
        /* the products must not be trivial: the norm has to move away from 1 going back */
        assert_true(fabs(lg[0]) > 0.01);
    }
    rnnlab_bptt_free(ws), rnnlab_bptt_free(ws64);
    rnnlab_model_free(m), rnnlab_model_free(m64);
}

static void test_jacobian_matches_finite_differences(void **state)
{
    (void)state;
    const jac_case cases[] = {
        {"rnn tanh", RNNLAB_CELL_RNN, 0, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"lstm", RNNLAB_CELL_LSTM, 0, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"lstm peephole", RNNLAB_CELL_LSTM, 0, 4, 1, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"lstm layer norm", RNNLAB_CELL_LSTM, 0, 4, 0, 1, 3, RNNLAB_NORM_LAYER, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"gru", RNNLAB_CELL_GRU, RNNLAB_GRU_RESET_AFTER, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"gru cho", RNNLAB_CELL_GRU, RNNLAB_GRU_RESET_BEFORE, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"gru layer norm", RNNLAB_CELL_GRU, RNNLAB_GRU_RESET_AFTER, 4, 0, 1, 3, RNNLAB_NORM_LAYER, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        /* the first sample only; layers above the first (their input held fixed) */
        {"rnn tanh, 1 sample", RNNLAB_CELL_RNN, 0, 4, 0, 1, 1, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"lstm 2 layers", RNNLAB_CELL_LSTM, 0, 4, 0, 2, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        {"gru 2 layers", RNNLAB_CELL_GRU, RNNLAB_GRU_RESET_AFTER, 4, 0, 2, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 3, 1e-8, 0, 0},
        /* float32: the same weights; the product and the iteration run in float (tol 1e-5) */
        {"lstm float32", RNNLAB_CELL_LSTM, 0, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT32, 3, 2e-5, 0, 0},
        /* larger and odd states: every block width of the product (4, 3, 2 and 1 vectors of 16 floats
           or 8 doubles, and the leftover columns) at nonzero offsets, and an odd count of rows */
        {"rnn tanh H = 40", RNNLAB_CELL_RNN, 0, 40, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 1.5, 1e-8, 0, 0},
        {"lstm H = 52", RNNLAB_CELL_LSTM, 0, 52, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 1.5, 1e-8, 0, 0},
        {"rnn tanh H = 25", RNNLAB_CELL_RNN, 0, 25, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 2.5, 1e-8, 0, 0},
        /* piecewise-linear activations: dead units make rows of the step Jacobians zero */
        {"rnn relu", RNNLAB_CELL_RNN, 0, 6, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 2, 1e-8, 0, RNNLAB_ACT_RELU},
        {"rnn prelu", RNNLAB_CELL_RNN, 0, 6, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 2, 1e-8, 0, RNNLAB_ACT_PRELU},
        {"rnn leaky relu", RNNLAB_CELL_RNN, 0, 6, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 2, 1e-8, 0, RNNLAB_ACT_LEAKY_RELU},
        /* near-tied singular values: power iteration hands over to Lanczos */
        {"rnn tanh orthogonal", RNNLAB_CELL_RNN, 0, 24, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT64, 0.05, 1e-8, 1, 0},
        {"rnn tanh orthogonal float32", RNNLAB_CELL_RNN, 0, 24, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT32, 0.05, 2e-5, 1, 0},
        {"rnn tanh float32", RNNLAB_CELL_RNN, 0, 4, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT32, 3, 2e-5, 0, 0},
        {"lstm H = 52 float32", RNNLAB_CELL_LSTM, 0, 52, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT32, 1.5, 2e-5, 0, 0},
        {"rnn tanh H = 50 float32", RNNLAB_CELL_RNN, 0, 50, 0, 1, 3, RNNLAB_NORM_NONE, RNNLAB_FLOAT32, 1.5, 2e-5, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) check_jacobian(&cases[k]);
}

/* ---------------------------------------------------------------- saturation */

static double sigm(double z) { return 1 / (1 + exp(-z)); }

/* Counts the saturation fractions of a one-layer lstm or gru (no norm, no peepholes; PyTorch's
 * equations) or rnn, from the states of the forward and gates recomputed from the weights. */
static void expected_saturation(const rnnlab_bptt *ws, const rnnlab_model *m, const double *x, int T, int B,
                                const int *lens, rnnlab_saturation *e)
{
    const int H = m->cfg.hidden_size, I = m->cfg.input_size, G = m->G;
    const rnnlab_cell_kind cell = m->cfg.cell;
    double W[4 * 8 * 8], U[4 * 8 * 8], bi[4 * 8], bh[4 * 8], hp[3 * 8], hn[3 * 8];
    assert_true(H <= 8 && I <= 8 && B <= 3);
    assert_int_equal(rnnlab_model_get(m, rnnlab_model_find(m, "weight_ih_l0"), W), RNNLAB_OK);
    assert_int_equal(rnnlab_model_get(m, rnnlab_model_find(m, "weight_hh_l0"), U), RNNLAB_OK);
    assert_int_equal(rnnlab_model_get(m, rnnlab_model_find(m, "bias_ih_l0"), bi), RNNLAB_OK);
    assert_int_equal(rnnlab_model_get(m, rnnlab_model_find(m, "bias_hh_l0"), bh), RNNLAB_OK);
    double n = 0, sat = 0, dead = 0, cand = 0, gate[3] = {0, 0, 0};
    for (int t = 0; t < T; t++) {
        assert_int_equal(rnnlab_bptt_get_state(ws, 0, t - 1, hp, NULL), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_get_state(ws, 0, t, hn, NULL), RNNLAB_OK);
        for (int b = 0; b < B; b++) {
            if (t >= lens[b]) continue;
            const double *xt = x + ((size_t)t * B + b) * I, *h = hp + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                double zx[4], zh[4];
                for (int g = 0; g < G; g++) {
                    const int r = g * H + j;
                    zx[g] = bi[r], zh[g] = bh[r];
                    for (int k = 0; k < I; k++) zx[g] += W[(size_t)r * I + k] * xt[k];
                    for (int k = 0; k < H; k++) zh[g] += U[(size_t)r * H + k] * h[k];
                }
                const double hv = hn[(size_t)b * H + j];
                n++;
                sat += fabs(hv) > 0.99, dead += hv == 0;
                if (cell == RNNLAB_CELL_LSTM) { /* i, f, g, o */
                    const double gi = sigm(zx[0] + zh[0]), gf = sigm(zx[1] + zh[1]), go = sigm(zx[3] + zh[3]);
                    gate[0] += gi < 0.1 || gi > 0.9, gate[1] += gf < 0.1 || gf > 0.9, gate[2] += go < 0.1 || go > 0.9;
                    cand += fabs(tanh(zx[2] + zh[2])) > 0.99;
                } else if (cell == RNNLAB_CELL_GRU) { /* r, z, n with the reset after the product */
                    const double r = sigm(zx[0] + zh[0]), z = sigm(zx[1] + zh[1]);
                    gate[0] += r < 0.1 || r > 0.9, gate[1] += z < 0.1 || z > 0.9;
                    cand += fabs(tanh(zx[2] + r * zh[2])) > 0.99;
                }
            }
        }
    }
    const int lstm = cell == RNNLAB_CELL_LSTM, gru = cell == RNNLAB_CELL_GRU;
    const int relu = cell == RNNLAB_CELL_RNN && m->cfg.activation == RNNLAB_ACT_RELU;
    e->h = relu ? NAN : sat / n;
    e->dead = relu ? dead / n : NAN;
    e->gate[0] = lstm || gru ? gate[0] / n : NAN;
    e->gate[1] = lstm || gru ? gate[1] / n : NAN;
    e->gate[2] = lstm ? gate[2] / n : NAN;
    e->candidate = lstm || gru ? cand / n : NAN;
}

static void same_or_both_nan(const char *what, double a, double b)
{
    if (isnan(b)) assert_true(isnan(a));
    else assert_close1(what, a, b, 0, 1e-12);
}

static void test_saturation_counts_match(void **state)
{
    (void)state;
    enum { I = 3, H = 5, T = 9, B = 3 };
    const int lens[B] = {T, 4, T - 1};
    const struct {
        rnnlab_cell_kind cell;
        rnnlab_activation act;
    } cases[] = {{RNNLAB_CELL_RNN, RNNLAB_ACT_TANH}, {RNNLAB_CELL_RNN, RNNLAB_ACT_RELU}, {RNNLAB_CELL_LSTM, 0},
                 {RNNLAB_CELL_GRU, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        rnnlab_model_config mc;
        rnnlab_model_config_init(&mc);
        mc.cell = cases[k].cell, mc.activation = cases[k].act, mc.input_size = I, mc.hidden_size = H;
        mc.num_layers = 1, mc.output_size = 1;
        rnnlab_model *m = check_model(&mc, 21 + k);
        scale_weights(m, 6); /* many saturated units and gates, but not all */
        double x[T * B * I], y[B];
        check_fill_uniform(x, T * B * I, 7), check_fill_uniform(y, B, 8);
        rnnlab_batch bt = {x, y, NULL, lens, NULL, NULL, 0};
        double loss;
        rnnlab_bptt *ws = workspace(m, B, T);
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
        rnnlab_saturation got, want;
        assert_int_equal(rnnlab_diag_saturation(ws, m, 0, &got), RNNLAB_OK);
        expected_saturation(ws, m, x, T, B, lens, &want);
        printf("  cell %d: h %.3f dead %.3f gates %.3f %.3f %.3f candidate %.3f\n", (int)cases[k].cell, got.h, got.dead,
               got.gate[0], got.gate[1], got.gate[2], got.candidate);
        same_or_both_nan("h", got.h, want.h);
        same_or_both_nan("dead", got.dead, want.dead);
        for (int g = 0; g < 3; g++) same_or_both_nan("gate", got.gate[g], want.gate[g]);
        same_or_both_nan("candidate", got.candidate, want.candidate);
        /* the counts are not all 0 or all 1 (an lstm's h = o tanh c seldom passes 0.99) */
        const double v = cases[k].cell != RNNLAB_CELL_RNN ? got.gate[0] : cases[k].act == RNNLAB_ACT_RELU ? got.dead : got.h;
        assert_true(v > 0 && v < 1);
        rnnlab_bptt_free(ws);
        rnnlab_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobian_matches_finite_differences),
        cmocka_unit_test(test_saturation_counts_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
