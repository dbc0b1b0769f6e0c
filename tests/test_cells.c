/*
 * test_cells.c - hand-derived values for small cases: each expected value below comes from the
 * equations written beside it (derived on paper from the cell definitions in rnnlab/cell.h and the
 * loss in rnnlab/bptt.h), evaluated here with libm, never from the engine.
 */
#include "check.h"
#include "rnnlab/rnnlab.h"

#include <math.h>
#include <string.h>

static double sig(double z) { return 1 / (1 + exp(-z)); }

typedef struct tiny {
    rnnlab_model *m;
    rnnlab_bptt *ws;
} tiny;

static tiny tiny_make(rnnlab_cell_kind cell, rnnlab_activation act, rnnlab_gru_variant v, int T, rnnlab_loss_at at,
                      int truncate)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.activation = act, mc.gru_variant = v, mc.input_size = 1, mc.hidden_size = 1, mc.num_layers = 1, mc.output_size = 1;
    tiny t;
    assert_int_equal(rnnlab_model_create(&t.m, &mc), RNNLAB_OK);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 1, bc.seq_len = T, bc.loss_at = at, bc.truncate = truncate;
    assert_int_equal(rnnlab_bptt_create(&t.ws, t.m, &bc), RNNLAB_OK);
    return t;
}

static void tiny_free(tiny *t)
{
    rnnlab_bptt_free(t->ws);
    rnnlab_model_free(t->m);
}

static void set(rnnlab_model *m, const char *name, const double *v)
{
    const int i = rnnlab_model_find(m, name);
    assert_true(i >= 0);
    assert_int_equal(rnnlab_model_set(m, i, v), RNNLAB_OK);
}

static double grad(const rnnlab_model *m, const char *name, int k)
{
    double g[8];
    const int i = rnnlab_model_find(m, name);
    assert_true(i >= 0 && m->tensors[i].numel <= 8);
    rnnlab_model_get_grad(m, i, g);
    return g[k];
}

/*
 * Scalar tanh RNN, two steps, loss (y - target)^2 at the last step, h0 = 0.3 (non-zero, so that using
 * h_t instead of h_{t-1} in dU changes the answer):
 *   z_0 = w x_0 + b1 + u h0 + b2          h_0 = tanh(z_0)
 *   z_1 = w x_1 + b1 + u h_0 + b2         h_1 = tanh(z_1)
 *   y = v h_1 + c,  L = (y - tgt)^2,      g = dL/dy = 2 (y - tgt)
 *   dL/dh_1 = g v                          dz_1 = g v (1 - h_1^2)
 *   dL/dh_0 = dz_1 u                       dz_0 = dz_1 u (1 - h_0^2)
 *   dL/dh0  = dz_0 u
 *   dw = dz_1 x_1 + dz_0 x_0;  du = dz_1 h_0 + dz_0 h0;  db1 = db2 = dz_0 + dz_1
 *   dv = g h_1;  dc = g;  dx_t = dz_t w
 */
static void test_scalar_tanh_rnn_two_steps(void **state)
{
    (void)state;
    tiny t = tiny_make(RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0, 2, RNNLAB_LOSS_LAST, 0);
    const double w = 0.7, u = -1.1, b1 = 0.2, b2 = -0.05, v = 1.5, c = 0.1, x[2] = {0.9, -0.4}, h0 = 0.3, tgt = 0.25;
    set(t.m, "weight_ih_l0", &w), set(t.m, "weight_hh_l0", &u), set(t.m, "bias_ih_l0", &b1);
    set(t.m, "bias_hh_l0", &b2), set(t.m, "head_weight", &v), set(t.m, "head_bias", &c);
    rnnlab_batch bt = {x, &tgt, NULL, NULL, &h0, NULL, 0};
    double loss, dx[2], dh0;
    assert_int_equal(rnnlab_bptt_forward(t.ws, t.m, &bt, &loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(t.ws, t.m, dx, &dh0, NULL), RNNLAB_OK);

    const double hA = tanh(w * x[0] + b1 + u * h0 + b2), hB = tanh(w * x[1] + b1 + u * hA + b2);
    const double y = v * hB + c, g = 2 * (y - tgt);
    const double dz1 = g * v * (1 - hB * hB), dz0 = dz1 * u * (1 - hA * hA);
    assert_close1("loss", loss, (y - tgt) * (y - tgt), 0, 1e-14);
    assert_close1("dW", grad(t.m, "weight_ih_l0", 0), dz1 * x[1] + dz0 * x[0], 0, 1e-13);
    assert_close1("dU (uses h_{t-1})", grad(t.m, "weight_hh_l0", 0), dz1 * hA + dz0 * h0, 0, 1e-13);
    assert_close1("db_ih", grad(t.m, "bias_ih_l0", 0), dz0 + dz1, 0, 1e-13);
    assert_close1("db_hh", grad(t.m, "bias_hh_l0", 0), dz0 + dz1, 0, 1e-13);
    assert_close1("dv", grad(t.m, "head_weight", 0), g * hB, 0, 1e-13);
    assert_close1("dc", grad(t.m, "head_bias", 0), g, 0, 1e-13);
    assert_close1("dx_0", dx[0], dz0 * w, 0, 1e-13);
    assert_close1("dx_1", dx[1], dz1 * w, 0, 1e-13);
    assert_close1("dh0", dh0, dz0 * u, 0, 1e-13);
    /* the taps: |dL/dh_t| for a single unit and sample */
    const rnnlab_taps tp = rnnlab_bptt_get_taps(t.ws);
    assert_close1("tap h_1", tp.h_norm[1], fabs(g * v), 0, 1e-13);
    assert_close1("tap h_0", tp.h_norm[0], fabs(dz1 * u), 0, 1e-13);
    assert_close1("tap mean h_0", tp.h_norm_mean[0], fabs(dz1 * u), 0, 1e-13);
    tiny_free(&t);
}

/*
 * LSTM, one step, x = 0 and W = U = 0, so each gate is its bias alone; the four gate blocks get
 * distinct biases, so swapping any two blocks changes the result:
 *   i = s(bi), f = s(bf), g = tanh(bg), o = s(bo);  c = f c0 + i g;  h = o tanh(c)
 *   y = h (head weight 1, bias 0),  L = (h - tgt)^2,  gh = 2 (h - tgt)
 *   dz_o = gh tanh(c) o (1 - o);     dc = gh o (1 - tanh(c)^2)
 *   dz_i = dc g i (1 - i);  dz_f = dc c0 f (1 - f);  dz_g = dc i (1 - g^2);  dc0 = dc f
 */
static void test_lstm_gate_order(void **state)
{
    (void)state;
    tiny t = tiny_make(RNNLAB_CELL_LSTM, RNNLAB_ACT_TANH, 0, 1, RNNLAB_LOSS_LAST, 0);
    const double bias[4] = {0.5, -1.0, 0.8, 2.0}, zero4[4] = {0}, one = 1, zero = 0;
    const double bi = bias[0], bf = bias[1], bg = bias[2], bo = bias[3], c0 = 0.6, h0 = 0.0, x = 0.0, tgt = -0.2;
    set(t.m, "weight_ih_l0", zero4), set(t.m, "weight_hh_l0", zero4), set(t.m, "bias_ih_l0", bias);
    set(t.m, "bias_hh_l0", zero4), set(t.m, "head_weight", &one), set(t.m, "head_bias", &zero);
    rnnlab_batch bt = {&x, &tgt, NULL, NULL, &h0, &c0, 0};
    double loss, dc0, h, c;
    assert_int_equal(rnnlab_bptt_forward(t.ws, t.m, &bt, &loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(t.ws, t.m, NULL, NULL, &dc0), RNNLAB_OK);
    rnnlab_bptt_get_state(t.ws, 0, 0, &h, &c);

    const double i = sig(bi), f = sig(bf), g = tanh(bg), o = sig(bo), ce = f * c0 + i * g, he = o * tanh(ce);
    const double gh = 2 * (he - tgt), dc = gh * o * (1 - tanh(ce) * tanh(ce));
    const double dz[4] = {dc * g * i * (1 - i), dc * c0 * f * (1 - f), dc * i * (1 - g * g), gh * tanh(ce) * o * (1 - o)};
    assert_close1("c", c, ce, 0, 1e-15);
    assert_close1("h", h, he, 0, 1e-15);
    double db[4];
    rnnlab_model_get_grad(t.m, rnnlab_model_find(t.m, "bias_ih_l0"), db);
    assert_close("db_ih (i, f, g, o)", db, dz, 4, 0, 1e-13);
    rnnlab_model_get_grad(t.m, rnnlab_model_find(t.m, "bias_hh_l0"), db);
    assert_close("db_hh (i, f, g, o)", db, dz, 4, 0, 1e-13);
    assert_close1("dc0", dc0, dc * f, 0, 1e-13);
    const rnnlab_taps tp = rnnlab_bptt_get_taps(t.ws);
    assert_close1("tap |dL/dc_0|", tp.c_norm[0], fabs(dc), 0, 1e-13);
    tiny_free(&t);
}

/*
 * GRU, one step, the same weights in both variants (b_hn != 0 and r != 1, so they must differ):
 *   r = s(wr x + ar + ur hp + cr),  z = s(wz x + az + uz hp + cz)
 *   reset_after:  n = tanh(wn x + an + r (un hp + cn))
 *   reset_before: n = tanh(wn x + an + un (r hp) + cn)
 *   h = (1 - z) n + z hp;  y = h;  L = (h - tgt)^2;  gh = 2 (h - tgt)
 *   da_n = gh (1 - z) (1 - n^2)
 *   d b_hn: after da_n r, before da_n;   d u_n: after da_n r hp, before da_n r hp
 *   d b_hr: after da_n (un hp + cn) r (1 - r), before da_n un hp r (1 - r)
 */
static void test_gru_variants_differ_as_derived(void **state)
{
    (void)state;
    const double W[3] = {0.4, -0.3, 0.9}, U[3] = {0.7, 0.2, -0.8}, bih[3] = {0.1, -0.2, 0.3};
    const double bhh[3] = {-0.4, 0.25, 0.6}, one = 1, zero = 0, x = 0.8, hp = -0.5, tgt = 0.3;
    double h_var[2];
    for (int variant = 0; variant < 2; variant++) {
        tiny t = tiny_make(RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, (rnnlab_gru_variant)variant, 1, RNNLAB_LOSS_LAST, 0);
        set(t.m, "weight_ih_l0", W), set(t.m, "weight_hh_l0", U), set(t.m, "bias_ih_l0", bih);
        set(t.m, "bias_hh_l0", bhh), set(t.m, "head_weight", &one), set(t.m, "head_bias", &zero);
        rnnlab_batch bt = {&x, &tgt, NULL, NULL, &hp, NULL, 0};
        double loss, h, dhp;
        assert_int_equal(rnnlab_bptt_forward(t.ws, t.m, &bt, &loss), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(t.ws, t.m, NULL, &dhp, NULL), RNNLAB_OK);
        rnnlab_bptt_get_state(t.ws, 0, 0, &h, NULL);
        const double r = sig(W[0] * x + bih[0] + U[0] * hp + bhh[0]), z = sig(W[1] * x + bih[1] + U[1] * hp + bhh[1]);
        const double hn = U[2] * hp + bhh[2];
        const double n = variant == RNNLAB_GRU_RESET_AFTER ? tanh(W[2] * x + bih[2] + r * hn)
                                                           : tanh(W[2] * x + bih[2] + U[2] * (r * hp) + bhh[2]);
        const double he = (1 - z) * n + z * hp, gh = 2 * (he - tgt), dan = gh * (1 - z) * (1 - n * n);
        assert_close1("h", h, he, 0, 1e-15);
        h_var[variant] = h;
        if (variant == RNNLAB_GRU_RESET_AFTER) {
            assert_close1("d b_hn (after)", grad(t.m, "bias_hh_l0", 2), dan * r, 0, 1e-13);
            assert_close1("d b_hr (after)", grad(t.m, "bias_hh_l0", 0), dan * hn * r * (1 - r), 0, 1e-13);
            assert_close1("d b_in (after)", grad(t.m, "bias_ih_l0", 2), dan, 0, 1e-13);
        } else {
            assert_close1("d b_hn (before)", grad(t.m, "bias_hh_l0", 2), dan, 0, 1e-13);
            assert_close1("d b_hr (before)", grad(t.m, "bias_hh_l0", 0), dan * U[2] * hp * r * (1 - r), 0, 1e-13);
        }
        assert_close1("d u_n", grad(t.m, "weight_hh_l0", 2), dan * r * hp, 0, 1e-13);
        /* dL/dhp = gh z + (through r, z and n): only the z*hp path is simple; check the update-gate part via db_hz */
        assert_close1("d b_hz", grad(t.m, "bias_hh_l0", 1), gh * (hp - n) * z * (1 - z), 0, 1e-13);
        tiny_free(&t);
    }
    assert_true(fabs(h_var[0] - h_var[1]) > 1e-3);
}

/*
 * Truncated BPTT on a scalar linear RNN (identity activation, biases 0): h_t = a h_{t-1} + w x_t,
 * y_t = v h_t, loss at every step L = 1/T sum_s (y_s - tgt_s)^2, e_s = 2 (y_s - tgt_s) / T.
 * By the definition (rnnlab/bptt.h), the loss at s reaches back through steps s-k+1..s only:
 *   dL/dw   = sum_s e_s v sum_{t = max(0, s-k+1)}^{s} a^{s-t} x_t
 *   dL/da   = sum_s e_s v sum_{t = max(0, s-k+1)}^{s} a^{s-t} h_{t-1}
 *   dL/dh0  = sum_{s <= k-1} e_s v a^{s+1}
 *   tap_t   = |sum_{s = t}^{min(t+k-1, T-1)} e_s v a^{s-t}|
 * k = 1, 2, T and k > T (the last two must equal full BPTT).
 */
static void test_truncated_bptt_hand_derived(void **state)
{
    (void)state;
    enum { T = 5 };
    const double a = 0.9, w = 0.7, v = 1.3, zero = 0, h0 = 0.4;
    const double x[T] = {0.5, -1.0, 0.25, 0.8, -0.3}, tgt[T] = {0.1, -0.2, 0.3, 0.0, 0.5};
    double h[T + 1]; /* h[t+1] = state after step t, h[0] = h0 */
    h[0] = h0;
    for (int t = 0; t < T; t++) h[t + 1] = a * h[t] + w * x[t];
    double e[T];
    for (int s = 0; s < T; s++) e[s] = 2 * (v * h[s + 1] - tgt[s]) / T;
    const int ks[] = {1, 2, T, T + 3};
    double full_dw = 0;
    for (int ki = 0; ki < 4; ki++) {
        const int k = ks[ki];
        double dw = 0, da = 0, dh0 = 0, tap[T];
        for (int s = 0; s < T; s++) {
            for (int t = s - k + 1 > 0 ? s - k + 1 : 0; t <= s; t++) {
                dw += e[s] * v * pow(a, s - t) * x[t];
                da += e[s] * v * pow(a, s - t) * h[t];
            }
            if (s <= k - 1) dh0 += e[s] * v * pow(a, s + 1);
        }
        for (int t = 0; t < T; t++) {
            double g = 0;
            for (int s = t; s <= t + k - 1 && s < T; s++) g += e[s] * v * pow(a, s - t);
            tap[t] = fabs(g);
        }
        if (ki == 0) { /* k = 1: each loss sees only its own step */
            double dw1 = 0;
            for (int s = 0; s < T; s++) dw1 += e[s] * v * x[s];
            assert_close1("k=1 closed form", dw, dw1, 0, 1e-14);
        }
        tiny t = tiny_make(RNNLAB_CELL_RNN, RNNLAB_ACT_IDENTITY, 0, T, RNNLAB_LOSS_ALL, k);
        set(t.m, "weight_ih_l0", &w), set(t.m, "weight_hh_l0", &a), set(t.m, "bias_ih_l0", &zero);
        set(t.m, "bias_hh_l0", &zero), set(t.m, "head_weight", &v), set(t.m, "head_bias", &zero);
        rnnlab_batch bt = {x, tgt, NULL, NULL, &h0, NULL, 0};
        double loss, g_h0;
        assert_int_equal(rnnlab_bptt_forward(t.ws, t.m, &bt, &loss), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(t.ws, t.m, NULL, &g_h0, NULL), RNNLAB_OK);
        assert_close1("dw", grad(t.m, "weight_ih_l0", 0), dw, 1e-15, 1e-12);
        assert_close1("da", grad(t.m, "weight_hh_l0", 0), da, 1e-15, 1e-12);
        assert_close1("dh0", g_h0, dh0, 1e-15, 1e-12);
        const rnnlab_taps tp = rnnlab_bptt_get_taps(t.ws);
        assert_close("taps", tp.h_norm, tap, T, 1e-15, 1e-12);
        if (k >= T) {
            if (k == T) full_dw = dw;
            else assert_close1("k > T equals k = T", dw, full_dw, 0, 1e-15);
        }
        tiny_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_tanh_rnn_two_steps),
        cmocka_unit_test(test_lstm_gate_order),
        cmocka_unit_test(test_gru_variants_differ_as_derived),
        cmocka_unit_test(test_truncated_bptt_hand_derived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
