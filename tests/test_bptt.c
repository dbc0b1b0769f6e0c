/*
 * test_bptt.c - the BPTT entry points: refusals with clear messages, non-finite values named by
 * layer and step, failed allocations, taps on/off, float32 against float64, flush-to-zero, and
 * padding that never changes real steps, and truncated BPTT in chunks against finite differences of
 * its definition.
 */
#include "check.h"
#include "engine/bptt_internal.h"
#include "rnnlab/rnnlab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rnnlab_model *model(rnnlab_cell_kind cell, rnnlab_activation act, int I, int H, int L, int O, rnnlab_dtype dt,
                           uint64_t seed)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.activation = act, mc.input_size = I, mc.hidden_size = H, mc.num_layers = L;
    mc.output_size = O, mc.dtype = dt;
    return check_model(&mc, seed);
}

static rnnlab_bptt *workspace(const rnnlab_model *m, int B, int T, rnnlab_loss_at at, int taps, int ftz)
{
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss_at = at, bc.taps = taps, bc.ftz = ftz;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    return ws;
}

static void set_scalar(rnnlab_model *m, const char *name, double v)
{
    const int i = rnnlab_model_find(m, name);
    double buf[1024];
    for (size_t j = 0; j < m->tensors[i].numel; j++) buf[j] = v;
    rnnlab_model_set(m, i, buf);
}

static void test_create_refuses_bad_options(void **state)
{
    (void)state;
    rnnlab_model *m = model(RNNLAB_CELL_LSTM, 0, 2, 3, 1, 1, RNNLAB_FLOAT64, 1);
    rnnlab_bptt_config bc;
    rnnlab_bptt *ws = (rnnlab_bptt *)1;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 0;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_CONFIG);
    assert_null(ws);
    assert_non_null(strstr(rnnlab_last_error(), "batch"));
    rnnlab_bptt_config_init(&bc);
    bc.seq_len = -1;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "seq_len"));
    rnnlab_bptt_config_init(&bc);
    bc.truncate = -2;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "truncate"));
    rnnlab_bptt_config_init(&bc);
    bc.loss = RNNLAB_LOSS_XENT; /* O = 1 */
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "output_size"));
    rnnlab_model_free(m);
    /* a workspace larger than the machine's memory and swap (256 layers of an H = 1 LSTM over 2^29
       (step, sample) rows: 7 values a row and layer in float64, about 7 TiB) is refused at once,
       not reserved and then killed by the OOM killer (a trial saw bench killed after two minutes) */
    m = model(RNNLAB_CELL_LSTM, 0, 1, 1, 256, 1, RNNLAB_FLOAT64, 1);
    rnnlab_bptt_config_init(&bc);
    bc.batch = 1 << 15, bc.seq_len = (1 << 14) - 1, bc.keep_cache = 0;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_NOMEM);
    assert_null(ws);
    assert_non_null(strstr(rnnlab_last_error(), "more than this machine's memory and swap"));
    rnnlab_model_free(m);
}

static void test_batch_refusals_name_the_element(void **state)
{
    (void)state;
    enum { B = 2, T = 3, I = 2 };
    rnnlab_model *m = model(RNNLAB_CELL_GRU, 0, I, 3, 1, 2, RNNLAB_FLOAT64, 2);
    rnnlab_bptt *ws = workspace(m, B, T, RNNLAB_LOSS_LAST, 1, 0);
    double x[T * B * I], y[B * 2];
    check_fill_uniform(x, T * B * I, 1), check_fill_uniform(y, B * 2, 2);
    rnnlab_batch bt = {NULL, y, NULL, NULL, NULL, NULL, 0};
    double loss;
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "x is required"));
    bt.x = x;
    const int bad_len[B] = {3, 0};
    bt.lengths = bad_len;
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "lengths[1] = 0"));
    bt.lengths = NULL;
    bt.target = NULL;
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "target"));
    bt.target = y;
    x[(2 * B + 1) * I + 1] = NAN; /* t = 2, b = 1, feature 1 */
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
    assert_non_null(strstr(rnnlab_last_error(), "x[t=2, b=1, 1]"));
    x[(2 * B + 1) * I + 1] = 0.5;
    /* backward before any successful forward */
    assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_ERR_CONFIG);
    /* every element is checked, and the first one not finite is named: x, target, h0 */
    char want[64];
    for (int k = 0; k < T * B * I; k++) {
        const double keep = x[k];
        x[k] = k % 2 ? INFINITY : -INFINITY;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
        snprintf(want, sizeof want, "x[t=%d, b=%d, %d] is not finite (%sinf)", k / (B * I), k / I % B, k % I,
                 k % 2 ? "" : "-");
        assert_non_null(strstr(rnnlab_last_error(), want));
        x[k] = keep;
    }
    double h0[B * 3] = {0};
    bt.h0 = h0;
    for (int k = 0; k < B * 2; k++) {
        const double keep = y[k];
        y[k] = NAN, h0[k % (B * 3)] = INFINITY;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
        snprintf(want, sizeof want, "target[0, b=%d, %d]", k / 2, k % 2);
        assert_non_null(strstr(rnnlab_last_error(), want));
        y[k] = keep;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
        snprintf(want, sizeof want, "h0[0, b=%d, %d]", k % (B * 3) / 3, k % 3);
        assert_non_null(strstr(rnnlab_last_error(), want));
        h0[k % (B * 3)] = 0;
    }
    /* with lengths, the padding past a sample's length may hold anything; its real steps may not */
    const int len[B] = {3, 2};
    bt.lengths = len;
    x[(2 * B + 1) * I] = NAN; /* t = 2 of sample 1: padding */
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
    x[(1 * B + 1) * I + 1] = INFINITY; /* t = 1 of sample 1: real */
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
    assert_non_null(strstr(rnnlab_last_error(), "x[t=1, b=1, 1]"));
    x[(2 * B + 1) * I] = x[(1 * B + 1) * I + 1] = 0.5;
    bt.lengths = NULL, bt.h0 = NULL;
    /* a model of another shape */
    rnnlab_model *other = model(RNNLAB_CELL_GRU, 0, I, 4, 1, 2, RNNLAB_FLOAT64, 2);
    assert_int_equal(rnnlab_bptt_forward(ws, other, &bt, &loss), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "does not match"));
    double h[B * 3];
    assert_int_equal(rnnlab_bptt_get_state(ws, 1, 0, h, NULL), RNNLAB_ERR_SHAPE);
    rnnlab_model_free(other);
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
}

/* relu RNN, one unit, W = 0, U = 10, biases 0, h0 = 1: h_t = 10^(t+1). In float64 the first value
 * above DBL_MAX (1.8e308) is 10^309, at t = 308; in float32 the first above FLT_MAX (3.4e38) is
 * 10^39, at t = 38. */
static void test_forward_overflow_names_layer_and_step(void **state)
{
    (void)state;
    const rnnlab_dtype dts[2] = {RNNLAB_FLOAT64, RNNLAB_FLOAT32};
    const int expect[2] = {308, 38};
    for (int d = 0; d < 2; d++) {
        enum { T = 400 };
        rnnlab_model *m = model(RNNLAB_CELL_RNN, RNNLAB_ACT_RELU, 1, 1, 1, 1, dts[d], 3);
        set_scalar(m, "weight_ih_l0", 0), set_scalar(m, "weight_hh_l0", 10), set_scalar(m, "bias_ih_l0", 0);
        set_scalar(m, "bias_hh_l0", 0);
        rnnlab_bptt *ws = workspace(m, 1, T, RNNLAB_LOSS_LAST, 1, 0);
        double x[T] = {0}, y = 0, h0 = 1, loss;
        rnnlab_batch bt = {x, &y, NULL, NULL, &h0, NULL, 0};
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_ERR_NUMERIC);
        char want[64];
        snprintf(want, sizeof want, "layer 0, step %d ", expect[d]);
        if (!strstr(rnnlab_last_error(), want)) fprintf(stderr, "got: %s\n", rnnlab_last_error());
        assert_non_null(strstr(rnnlab_last_error(), want));
        rnnlab_bptt_free(ws);
        rnnlab_model_free(m);
    }
}

/* Linear RNN, one unit, U = 10, W = 0, h0 = 0: every state is 0 (finite), y = 0, target 1, head
 * weight 1: dL/dh_{T-1} = -2 and dL/dh_{T-1-n} = -2 10^n, which first exceeds DBL_MAX at n = 308. */
static void test_backward_overflow_names_layer_and_step(void **state)
{
    (void)state;
    enum { T = 400 };
    rnnlab_model *m = model(RNNLAB_CELL_RNN, RNNLAB_ACT_IDENTITY, 1, 1, 1, 1, RNNLAB_FLOAT64, 4);
    set_scalar(m, "weight_ih_l0", 0), set_scalar(m, "weight_hh_l0", 10), set_scalar(m, "bias_ih_l0", 0);
    set_scalar(m, "bias_hh_l0", 0), set_scalar(m, "head_weight", 1), set_scalar(m, "head_bias", 0);
    rnnlab_bptt *ws = workspace(m, 1, T, RNNLAB_LOSS_LAST, 1, 0);
    double x[T] = {0}, y = 1, loss;
    rnnlab_batch bt = {x, &y, NULL, NULL, NULL, NULL, 0};
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_ERR_NUMERIC);
    char want[64];
    snprintf(want, sizeof want, "layer 0, step %d ", T - 1 - 308);
    if (!strstr(rnnlab_last_error(), want)) fprintf(stderr, "got: %s\n", rnnlab_last_error());
    assert_non_null(strstr(rnnlab_last_error(), want));
    const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
    assert_close1("tap 300 steps back", tp.h_norm[T - 1 - 300], 2e300, 0, 1e-12);
    assert_true(isinf(tp.h_norm[T - 1 - 308]));
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
}

static void test_create_survives_failed_allocations(void **state)
{
    (void)state;
    rnnlab_model *m = model(RNNLAB_CELL_LSTM, 0, 3, 4, 2, 2, RNNLAB_FLOAT64, 5);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 2, bc.seq_len = 6, bc.truncate = 2, bc.loss = RNNLAB_LOSS_XENT;
    int succeeded = 0;
    for (long n = 0; n < 60 && !succeeded; n++) {
        rnnlab_bptt *ws = NULL;
        rnnlab_alloc_fail_after(n);
        rnnlab_status st = rnnlab_bptt_create(&ws, m, &bc);
        rnnlab_alloc_fail_after(-1);
        if (st == RNNLAB_OK) succeeded = 1;
        else assert_int_equal(st, RNNLAB_ERR_NOMEM), assert_null(ws);
        rnnlab_bptt_free(ws);
    }
    assert_true(succeeded);
    rnnlab_model_free(m);
}

static void test_taps_off_same_gradients(void **state)
{
    (void)state;
    enum { B = 3, T = 7, I = 2 };
    unsigned char *g[2];
    rnnlab_model *m = model(RNNLAB_CELL_LSTM, 0, I, 5, 2, 1, RNNLAB_FLOAT64, 6);
    double x[T * B * I], y[T * B];
    check_fill_uniform(x, T * B * I, 3), check_fill_uniform(y, T * B, 4);
    rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 0};
    for (int taps = 0; taps < 2; taps++) {
        rnnlab_bptt *ws = workspace(m, B, T, RNNLAB_LOSS_ALL, taps, 0);
        double loss;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_OK);
        g[taps] = malloc(m->n_params * sizeof(double));
        memcpy(g[taps], m->grads, m->n_params * sizeof(double));
        const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
        for (int i = 0; i < 2 * T; i++) assert_true(taps ? tp.h_norm[i] > 0 : tp.h_norm[i] == 0);
        for (int i = 0; i < m->n_tensors; i++) assert_true(tp.param_norm[i] > 0);
        rnnlab_bptt_free(ws);
    }
    assert_true(check_same_bytes("grads with and without taps", g[0], g[1], m->n_params * sizeof(double)));
    free(g[0]), free(g[1]);
    rnnlab_model_free(m);
}

/* The same model in both precisions: float32 agrees with float64 to float32's precision. */
static void test_float32_agrees_with_float64(void **state)
{
    (void)state;
    enum { B = 4, T = 20, I = 3, H = 16 };
    for (int cell = 0; cell < RNNLAB_CELL_COUNT; cell++) {
        rnnlab_model *m64 = model((rnnlab_cell_kind)cell, 0, I, H, 2, 2, RNNLAB_FLOAT64, 7);
        rnnlab_model *m32 = model((rnnlab_cell_kind)cell, 0, I, H, 2, 2, RNNLAB_FLOAT32, 8);
        assert_int_equal(rnnlab_model_copy_params(m32, m64), RNNLAB_OK);
        double x[T * B * I], y[T * B * 2], l32, l64;
        check_fill_uniform(x, T * B * I, 5), check_fill_uniform(y, T * B * 2, 6);
        rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 0};
        rnnlab_bptt *w64 = workspace(m64, B, T, RNNLAB_LOSS_ALL, 1, 0), *w32 = workspace(m32, B, T, RNNLAB_LOSS_ALL, 1, 0);
        assert_int_equal(rnnlab_bptt_forward(w64, m64, &bt, &l64), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_forward(w32, m32, &bt, &l32), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(w64, m64, NULL, NULL, NULL), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(w32, m32, NULL, NULL, NULL), RNNLAB_OK);
        assert_close1("loss f32 vs f64", l32, l64, 0, 1e-5);
        double *g32 = malloc(m64->n_params * sizeof(double)), *g64 = malloc(m64->n_params * sizeof(double));
        for (size_t j = 0; j < m64->n_params; j++) g32[j] = rnnlab_model_grad_at(m32, j), g64[j] = rnnlab_model_grad_at(m64, j);
        assert_close("grads f32 vs f64", g32, g64, m64->n_params, 1e-6, 1e-3);
        free(g32), free(g64);
        rnnlab_bptt_free(w64), rnnlab_bptt_free(w32);
        rnnlab_model_free(m64), rnnlab_model_free(m32);
    }
}

/* Linear RNN, one unit, U = 1e-5, h0 = 1, no input: h_t = 1e-5^(t+1); at t = 61 that is 1e-310,
 * a subnormal double. With flush-to-zero it is 0, without it is not; the mode is cleared after. */
static void test_flush_to_zero_is_a_run_option(void **state)
{
    (void)state;
    if (!rnnlab_ftz_supported()) skip();
    enum { T = 64 };
    for (int ftz = 0; ftz < 2; ftz++) {
        rnnlab_model *m = model(RNNLAB_CELL_RNN, RNNLAB_ACT_IDENTITY, 1, 1, 1, 1, RNNLAB_FLOAT64, 9);
        set_scalar(m, "weight_ih_l0", 0), set_scalar(m, "weight_hh_l0", 1e-5), set_scalar(m, "bias_ih_l0", 0);
        set_scalar(m, "bias_hh_l0", 0);
        rnnlab_bptt *ws = workspace(m, 1, T, RNNLAB_LOSS_LAST, 1, ftz);
        double x[T] = {0}, y = 0, h0 = 1, loss, h;
        rnnlab_batch bt = {x, &y, NULL, NULL, &h0, NULL, 0};
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
        rnnlab_bptt_get_state(ws, 0, 61, &h, NULL);
        if (ftz) assert_true(h == 0.0);
        else assert_true(h > 0 && h < 2.3e-308);
        assert_int_equal(rnnlab_ftz_count_threads(), 0);
        rnnlab_bptt_free(ws);
        rnnlab_model_free(m);
    }
}

/* Samples of lengths 4, 2, 3 padded to T = 4 and to T = 10 (with different garbage in the padding):
 * the loss, every gradient, dx of real steps, and the taps of steps 0..3 are the same bits. */
static void test_padding_never_changes_real_steps(void **state)
{
    (void)state;
    enum { B = 3, I = 2, O = 2 };
    const int lens[B] = {4, 2, 3};
    for (int cell = 0; cell < RNNLAB_CELL_COUNT; cell++)
        for (int at = 0; at < 2; at++) {
            double loss[2], *grads[2], *dx[2], *taps[2];
            rnnlab_model *m = model((rnnlab_cell_kind)cell, 0, I, 5, 2, O, RNNLAB_FLOAT64, 10);
            for (int p = 0; p < 2; p++) {
                const int T = p ? 10 : 4;
                double *x = malloc(sizeof(double) * T * B * I), *y = malloc(sizeof(double) * T * B * O);
                check_fill_uniform(x, (size_t)T * B * I, 20 + p), check_fill_uniform(y, (size_t)T * B * O, 30 + p); /* padding differs */
                double xr[4 * B * I], yr[4 * B * O];
                check_fill_uniform(xr, 4 * B * I, 11), check_fill_uniform(yr, 4 * B * O, 12); /* real steps: the same in both */
                for (int t = 0; t < 4; t++)
                    for (int b = 0; b < B; b++) {
                        if (t >= lens[b]) continue;
                        for (int i = 0; i < I; i++) x[(t * B + b) * I + i] = xr[(t * B + b) * I + i];
                        for (int o = 0; o < O; o++) y[(t * B + b) * O + o] = yr[(t * B + b) * O + o];
                    }
                if (p) x[(5 * B + 0) * I] = NAN, x[(3 * B + 1) * I + 1] = NAN; /* padding is never read */
                /* at last, the target is (B, O): one per sample */
                rnnlab_batch bt = {x, at ? y : yr, NULL, lens, NULL, NULL, 0};
                rnnlab_bptt *ws = workspace(m, B, T, (rnnlab_loss_at)at, 1, 0);
                dx[p] = malloc(sizeof(double) * T * B * I);
                assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss[p]), RNNLAB_OK);
                assert_int_equal(rnnlab_bptt_backward(ws, m, dx[p], NULL, NULL), RNNLAB_OK);
                for (int t = 0; t < T; t++)
                    for (int b = 0; b < B; b++)
                        if (t >= lens[b]) memset(dx[p] + (t * B + b) * I, 0, sizeof(double) * I);
                grads[p] = malloc(sizeof(double) * m->n_params);
                memcpy(grads[p], m->grads, sizeof(double) * m->n_params);
                const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
                taps[p] = malloc(sizeof(double) * 2 * 2 * 4);
                for (int l = 0; l < 2; l++)
                    for (int t = 0; t < 4; t++)
                        taps[p][l * 4 + t] = tp.h_norm[l * T + t], taps[p][8 + l * 4 + t] = tp.h_norm_mean[l * T + t];
                free(x), free(y);
                rnnlab_bptt_free(ws);
            }
            assert_true(check_same_bytes("loss", &loss[0], &loss[1], sizeof(double)));
            assert_true(check_same_bytes("grads", grads[0], grads[1], sizeof(double) * m->n_params));
            assert_true(check_same_bytes("dx of steps 0..3", dx[0], dx[1], sizeof(double) * 4 * B * I));
            assert_true(check_same_bytes("taps of steps 0..3", taps[0], taps[1], sizeof(double) * 16));
            for (int p = 0; p < 2; p++) free(grads[p]), free(dx[p]), free(taps[p]);
            rnnlab_model_free(m);
        }
}

static rnnlab_model *model_opts(rnnlab_cell_kind cell, int L, rnnlab_norm norm, int residual, double dropout,
                                 uint64_t seed)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.input_size = 3, mc.hidden_size = 5, mc.num_layers = L, mc.output_size = 2;
    mc.norm = norm, mc.residual = residual, mc.dropout = dropout;
    return check_model(&mc, seed);
}

static rnnlab_bptt *workspace_mode(const rnnlab_model *m, int B, int T, int training, int truncate)
{
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.training = training, bc.truncate = truncate;
    rnnlab_bptt *ws = NULL;
    rnnlab_bptt_create(&ws, m, &bc);
    return ws;
}

/* Dropout is off in evaluation mode (the model computes what a model without dropout computes), and
 * in training mode its masks depend on the seed alone. */
static void test_dropout_modes_and_masks(void **state)
{
    (void)state;
    enum { B = 4, T = 6 };
    rnnlab_model *drop = model_opts(RNNLAB_CELL_GRU, 3, RNNLAB_NORM_NONE, 0, 0.5, 21);
    rnnlab_model *plain = model_opts(RNNLAB_CELL_GRU, 3, RNNLAB_NORM_NONE, 0, 0.0, 21);
    assert_true(check_same_bytes("same init with and without dropout", drop->params, plain->params,
                                 drop->n_params * sizeof(double)));
    double x[T * B * 3], y[B * 2], l_eval, l_plain, l_a, l_b, l_c;
    check_fill_uniform(x, T * B * 3, 1), check_fill_uniform(y, B * 2, 2);
    rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 1234};
    rnnlab_bptt *we = workspace_mode(drop, B, T, 0, 0), *wp = workspace_mode(plain, B, T, 0, 0);
    rnnlab_bptt *wt = workspace_mode(drop, B, T, 1, 0);
    assert_int_equal(rnnlab_bptt_forward(we, drop, &bt, &l_eval), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_forward(wp, plain, &bt, &l_plain), RNNLAB_OK);
    assert_true(check_same_bytes("evaluation mode ignores dropout", &l_eval, &l_plain, sizeof(double)));
    assert_int_equal(rnnlab_bptt_forward(wt, drop, &bt, &l_a), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_forward(wt, drop, &bt, &l_b), RNNLAB_OK);
    bt.dropout_seed = 1235;
    assert_int_equal(rnnlab_bptt_forward(wt, drop, &bt, &l_c), RNNLAB_OK);
    assert_true(check_same_bytes("the same seed, the same masks", &l_a, &l_b, sizeof(double)));
    assert_true(l_a != l_c && l_a != l_eval);
    rnnlab_bptt_free(we), rnnlab_bptt_free(wp), rnnlab_bptt_free(wt);
    rnnlab_model_free(drop), rnnlab_model_free(plain);
}

/* Batch norm's running statistics: after one training forward and an update with momentum 0.1 from
 * (mean 0, var 1), running_mean = 0.1 mean_batch and running_var = 0.9 + 0.1 var_batch N/(N-1); in
 * evaluation mode with running statistics (0, 1) the normalisation is the identity, so its loss is
 * that of the same model whose gains scale by 1/sqrt(1 + eps). */
static void test_batch_norm_running_statistics(void **state)
{
    (void)state;
    enum { B = 3, T = 4, I = 3 };
    rnnlab_model *m = model_opts(RNNLAB_CELL_RNN, 1, RNNLAB_NORM_BATCH, 0, 0, 31);
    assert_int_equal(m->n_buffer_tensors, 2);
    assert_string_equal(m->buffer_tensors[0].name, "bn_running_mean_l0");
    double x[T * B * I], y[B * 2], loss;
    check_fill_uniform(x, T * B * I, 3), check_fill_uniform(y, B * 2, 4);
    rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 0};
    rnnlab_bptt *wt = workspace_mode(m, B, T, 1, 0);
    assert_int_equal(rnnlab_bptt_forward(wt, m, &bt, &loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_update_running_stats(wt, m, 0.1), RNNLAB_OK);
    /* the batch statistics of column c of X W^T, by hand */
    const double *W = (const double *)m->params + m->tensors[rnnlab_model_find(m, "weight_ih_l0")].offset;
    const int H = 5, N = T * B;
    for (int c = 0; c < H; c++) {
        double s = 0, s2 = 0;
        for (int r = 0; r < N; r++) {
            double z = 0;
            for (int k = 0; k < I; k++) z += x[r * I + k] * W[c * I + k];
            s += z, s2 += z * z;
        }
        const double mu = s / N, var = s2 / N - mu * mu;
        assert_close1("running mean", m->buffers[c], 0.1 * mu, 1e-15, 1e-12);
        assert_close1("running var", m->buffers[H + c], 0.9 + 0.1 * var * N / (N - 1), 1e-15, 1e-12);
    }
    /* a model without batch norm into which the running (0, 1) statistics fold: W' = W / sqrt(1 + eps) */
    rnnlab_model *bn = model_opts(RNNLAB_CELL_RNN, 1, RNNLAB_NORM_BATCH, 0, 0, 32);
    rnnlab_model *pl = model_opts(RNNLAB_CELL_RNN, 1, RNNLAB_NORM_NONE, 0, 0, 32);
    double *Wp = (double *)pl->params + pl->tensors[rnnlab_model_find(pl, "weight_ih_l0")].offset;
    for (int i = 0; i < H * I; i++) Wp[i] /= sqrt(1 + 1e-5);
    rnnlab_bptt *we = workspace_mode(bn, B, T, 0, 0), *wp = workspace_mode(pl, B, T, 0, 0);
    double l_bn, l_pl;
    assert_int_equal(rnnlab_bptt_forward(we, bn, &bt, &l_bn), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_forward(wp, pl, &bt, &l_pl), RNNLAB_OK);
    assert_close1("evaluation batch norm = folded affine map", l_bn, l_pl, 0, 1e-12);
    rnnlab_bptt_free(wt), rnnlab_bptt_free(we), rnnlab_bptt_free(wp);
    rnnlab_model_free(m), rnnlab_model_free(bn), rnnlab_model_free(pl);
}

static void test_remedy_refusals(void **state)
{
    (void)state;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    rnnlab_model *m;
    mc.residual = 1; /* one layer */
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "num_layers >= 2"));
    rnnlab_model_config_init(&mc);
    mc.dropout = 1.0;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_ERR_CONFIG);
    rnnlab_model_config_init(&mc);
    mc.cell = RNNLAB_CELL_LSTM, mc.activation = RNNLAB_ACT_PRELU;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "prelu"));
    m = model_opts(RNNLAB_CELL_LSTM, 2, RNNLAB_NORM_BATCH, 0, 0, 5);
    assert_null(workspace_mode(m, 2, 8, 1, 3)); /* batch norm + truncation in training mode */
    assert_non_null(strstr(rnnlab_last_error(), "batch norm"));
    rnnlab_bptt *ok = workspace_mode(m, 2, 8, 0, 3); /* evaluation mode: fine */
    assert_non_null(ok);
    rnnlab_bptt_free(ok);
    rnnlab_model_free(m);
    /* batch norm in training over one real (step, sample) value: x - mean = 0 whatever x is, so
       nothing would be learnt; refused (as PyTorch's BatchNorm does), also when padding leaves one */
    m = model_opts(RNNLAB_CELL_GRU, 1, RNNLAB_NORM_BATCH, 0, 0, 7);
    double x[2 * 3] = {0.5, -1, 2, 0.25, 1, -0.5}, y[2] = {1, 0}, loss;
    int len1[1] = {1}, len2[1] = {2};
    rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 0};
    rnnlab_bptt *one = workspace_mode(m, 1, 1, 1, 0), *two = workspace_mode(m, 1, 2, 1, 0);
    rnnlab_bptt *eval = workspace_mode(m, 1, 1, 0, 0);
    assert_int_equal(rnnlab_bptt_forward(one, m, &bt, &loss), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "batch norm in training mode needs at least 2"));
    bt.lengths = len1;
    assert_int_equal(rnnlab_bptt_forward(two, m, &bt, &loss), RNNLAB_ERR_SHAPE);
    bt.lengths = len2;
    assert_int_equal(rnnlab_bptt_forward(two, m, &bt, &loss), RNNLAB_OK);
    bt.lengths = NULL;
    assert_int_equal(rnnlab_bptt_forward(eval, m, &bt, &loss), RNNLAB_OK); /* running statistics */
    rnnlab_bptt_free(one), rnnlab_bptt_free(two), rnnlab_bptt_free(eval);
    rnnlab_model_free(m);
    m = model_opts(RNNLAB_CELL_LSTM, 2, RNNLAB_NORM_LAYER, 1, 0, 6);
    const char *names[] = {"ln_ih_gain_l1", "ln_hh_gain_l1", "ln_c_gain_l1", "ln_c_bias_l1"};
    for (int i = 0; i < 4; i++) assert_true(rnnlab_model_find(m, names[i]) >= 0);
    const double *cg = (const double *)m->params + m->tensors[rnnlab_model_find(m, "ln_c_gain_l0")].offset;
    const double *cb = (const double *)m->params + m->tensors[rnnlab_model_find(m, "ln_c_bias_l0")].offset;
    assert_true(cg[0] == 1.0 && cb[0] == 0.0);
    rnnlab_model_free(m);
}

/* ---------------------------------------------------------------- chunked truncated BPTT */

/* The definition of rnnlab_bptt_chunked, computed independently: F(theta) = sum over chunks of the
 * chunk's loss with its entry states fixed at the values a whole-sequence forward at theta0 gives,
 * each normalised by the whole sequence's N (chunk losses come from plain forwards of the chunk,
 * normalised by the chunk's own positions, so they are rescaled by n_chunk / N). */
static double chunk_objective(const rnnlab_model *m, rnnlab_bptt *wk, const rnnlab_batch *bt, int T, int k, int B,
                              int all, const double *entry_h, const double *entry_c)
{
    const int I = m->cfg.input_size, O = m->cfg.output_size;
    const size_t LBH = (size_t)m->cfg.num_layers * B * m->cfg.hidden_size;
    double F = 0;
    int lens[16];
    for (int c = 0, t0 = 0; t0 < T; t0 += k, c++) {
        const int n = T - t0 < k ? T - t0 : k;
        if (!all && t0 + n < T) continue;
        for (int b = 0; b < B; b++) lens[b] = n;
        rnnlab_batch v = *bt;
        v.x = bt->x + (size_t)t0 * B * I;
        if (all) v.target = bt->target + (size_t)t0 * B * O;
        v.lengths = lens;
        v.h0 = entry_h + c * LBH, v.c0 = entry_c ? entry_c + c * LBH : NULL;
        double lc;
        assert_int_equal(rnnlab_bptt_forward(wk, m, &v, &lc), RNNLAB_OK);
        F += all ? lc * n / T : lc;
    }
    return F;
}

static void check_chunked_against_fd(rnnlab_cell_kind cell, int L, rnnlab_loss_at at, int T, int k)
{
    enum { B = 3, I = 2, H = 4, O = 2 };
    const int all = at == RNNLAB_LOSS_ALL, nchunks = (T + k - 1) / k;
    rnnlab_model *m = model(cell, RNNLAB_ACT_TANH, I, H, L, O, RNNLAB_FLOAT64, 11 + cell);
    double *x = malloc(sizeof(double) * T * B * I), *y = malloc(sizeof(double) * T * B * O);
    check_fill_uniform(x, (size_t)T * B * I, 5), check_fill_uniform(y, (size_t)T * B * O, 6);
    rnnlab_batch bt = {.x = x, .target = y};
    /* entry states of every chunk from one forward over the whole sequence */
    const size_t LBH = (size_t)L * B * H;
    double *eh = calloc(nchunks * LBH, sizeof(double)), *ec = calloc(nchunks * LBH, sizeof(double));
    rnnlab_bptt *wfull = workspace(m, B, T, at, 1, 0);
    double full_loss;
    assert_int_equal(rnnlab_bptt_forward(wfull, m, &bt, &full_loss), RNNLAB_OK);
    for (int c = 1; c < nchunks; c++)
        for (int l = 0; l < L; l++)
            rnnlab_bptt_get_state(wfull, l, c * k - 1, eh + c * LBH + (size_t)l * B * H,
                                  cell == RNNLAB_CELL_LSTM ? ec + c * LBH + (size_t)l * B * H : NULL);
    rnnlab_bptt *wk = workspace(m, B, k, at, 1, 0);
    double loss;
    double *tap = calloc((size_t)L * T, sizeof(double));
    assert_int_equal(rnnlab_bptt_chunked(wk, m, &bt, T, &loss, tap, NULL), RNNLAB_OK);
    /* the forward is exact: the chunks' losses add up to the whole sequence's */
    assert_true(fabs(loss - full_loss) <= 1e-13 * fabs(full_loss));
    double *g = malloc(sizeof(double) * m->n_params), *p = m->params;
    memcpy(g, m->grads, sizeof(double) * m->n_params);
    double *ech = cell == RNNLAB_CELL_LSTM ? ec : NULL;
    double worst = 0;
    for (size_t i = 0; i < m->n_params; i++) { /* central differences, h = 1e-6: error O(h^2) */
        const double p0 = p[i], h = 1e-6;
        p[i] = p0 + h;
        const double fp = chunk_objective(m, wk, &bt, T, k, B, all, eh, ech);
        p[i] = p0 - h;
        const double fm = chunk_objective(m, wk, &bt, T, k, B, all, eh, ech);
        p[i] = p0;
        /* rounding in F (|F| ~ 1, unit roundoff 1.1e-16) makes |fd error| up to ~1e-16 / h = 1e-10,
           truncation adds |F^(3)| h^2 / 6 ~ 1e-13: so 1e-8 absolute, or 1e-6 relative above 1e-2 */
        const double fd = (fp - fm) / (2 * h), err = fabs(fd - g[i]) / (fabs(fd) > 1e-2 ? fabs(fd) : 1e-2);
        if (err > worst) worst = err;
    }
    if (worst > 1e-6) fail_msg("%s L=%d %s T=%d k=%d: worst error %g (relative, or absolute / 1e-2)",
                               rnnlab_cell_name(cell), L, rnnlab_loss_at_name(at), T, k, worst);
    /* with the loss at the last step, only the last chunk carries a gradient */
    for (int t = 0; t < T; t++) {
        const int in_last = t >= (nchunks - 1) * k;
        if (!all) assert_true(in_last ? tap[(size_t)(L - 1) * T + t] > 0 : tap[(size_t)(L - 1) * T + t] == 0);
    }
    free(g), free(tap), free(eh), free(ec), free(x), free(y);
    rnnlab_bptt_free(wk), rnnlab_bptt_free(wfull), rnnlab_model_free(m);
}

static void test_chunked_matches_finite_differences(void **state)
{
    (void)state;
    check_chunked_against_fd(RNNLAB_CELL_LSTM, 2, RNNLAB_LOSS_ALL, 7, 3); /* chunks 3, 3, 1 */
    check_chunked_against_fd(RNNLAB_CELL_GRU, 1, RNNLAB_LOSS_ALL, 6, 2);
    check_chunked_against_fd(RNNLAB_CELL_RNN, 2, RNNLAB_LOSS_LAST, 8, 3);
    check_chunked_against_fd(RNNLAB_CELL_LSTM, 1, RNNLAB_LOSS_LAST, 5, 5); /* one chunk: full BPTT */
}

static void test_chunked_single_chunk_is_full_bptt(void **state)
{
    (void)state;
    enum { B = 2, I = 3, H = 5, O = 2, T = 6 };
    rnnlab_model *m = model(RNNLAB_CELL_LSTM, RNNLAB_ACT_TANH, I, H, 2, O, RNNLAB_FLOAT32, 3);
    double x[T * B * I], y[T * B * O];
    check_fill_uniform(x, sizeof x / sizeof x[0], 1), check_fill_uniform(y, sizeof y / sizeof y[0], 2);
    rnnlab_batch bt = {.x = x, .target = y};
    rnnlab_bptt *w = workspace(m, B, T, RNNLAB_LOSS_ALL, 1, 0), *wk = workspace(m, B, 8, RNNLAB_LOSS_ALL, 1, 0);
    double l1, l2;
    assert_int_equal(rnnlab_bptt_forward(w, m, &bt, &l1), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(w, m, NULL, NULL, NULL), RNNLAB_OK);
    float *g = malloc(sizeof(float) * m->n_params);
    memcpy(g, m->grads, sizeof(float) * m->n_params);
    assert_int_equal(rnnlab_bptt_chunked(wk, m, &bt, T, &l2, NULL, NULL), RNNLAB_OK);
    assert_true(l1 == l2);
    assert_memory_equal(g, m->grads, sizeof(float) * m->n_params);
    free(g), rnnlab_bptt_free(w), rnnlab_bptt_free(wk), rnnlab_model_free(m);
}

static void test_chunked_refusals(void **state)
{
    (void)state;
    rnnlab_model *m = model(RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, 1, 3, 1, 1, RNNLAB_FLOAT64, 1);
    double x[10 * 2], y[2];
    check_fill_uniform(x, 20, 1), check_fill_uniform(y, 2, 2);
    int lens[2] = {10, 9};
    rnnlab_batch bt = {.x = x, .target = y, .lengths = lens};
    rnnlab_bptt *wk = workspace(m, 2, 4, RNNLAB_LOSS_LAST, 1, 0);
    assert_int_equal(rnnlab_bptt_chunked(wk, m, &bt, 10, NULL, NULL, NULL), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "lengths[1] = 9"));
    bt.lengths = NULL;
    x[7 * 2 + 1] = NAN; /* step 7, sample 1: in chunk 1 (steps 4..7) at its step 3 */
    assert_int_equal(rnnlab_bptt_chunked(wk, m, &bt, 10, NULL, NULL, NULL), RNNLAB_ERR_NUMERIC);
    assert_non_null(strstr(rnnlab_last_error(), "chunk 1 (steps 4..7)"));
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 2, bc.seq_len = 10, bc.truncate = 4;
    rnnlab_bptt *ww;
    assert_int_equal(rnnlab_bptt_create(&ww, m, &bc), RNNLAB_OK);
    x[7 * 2 + 1] = 0;
    assert_int_equal(rnnlab_bptt_chunked(ww, m, &bt, 10, NULL, NULL, NULL), RNNLAB_ERR_CONFIG);
    rnnlab_bptt_free(ww), rnnlab_bptt_free(wk), rnnlab_model_free(m);
}

/* The taps at the top layer's last step, dL/dh = dY W_head with the loss at last, for a head weight
 * scaled to 1e-200 (the squares underflow double), 1 and 1e+100 (they overflow it): the norm must come
 * out right to double rounding. Expected: ||dY (x) w|| = s sqrt(sum_b dY_b^2) sqrt(sum_j w_j^2) for
 * W = s w, dY_b = 2 (y_b - target_b) / B (MSE, O = 1), summed without s. Batches of 8 and more take
 * the taps' 8-row path where the build has AVX-512 (B = 16, 11), hidden sizes with and without a
 * remainder of 8 values (H = 5, 13; 8, 32); float32 at scale 1. */
static void test_taps_at_extreme_scales(void **state)
{
    (void)state;
    enum { I = 2, T = 4, BMAX = 16, HMAX = 32 };
    const int shapes[][2] = {{3, 5}, {8, 8}, {16, 13}, {11, 32}};
    const double scales[] = {1e-200, 1, 1e100};
    for (int sh = 0; sh < 4; sh++)
        for (int k = 0; k < 4; k++) {
            const int B = shapes[sh][0], H = shapes[sh][1];
            const double scale = scales[k < 3 ? k : 1];
            const rnnlab_dtype dt = k < 3 ? RNNLAB_FLOAT64 : RNNLAB_FLOAT32;
            rnnlab_model *m = model(RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, I, H, 1, 1, dt, 9);
            double w[HMAX], ws_[HMAX], x[T * BMAX * I], y[BMAX], out[BMAX];
            check_fill_uniform(w, H, 4), check_fill_uniform(x, T * B * I, 5), check_fill_uniform(y, B, 6);
            for (int j = 0; j < H; j++) ws_[j] = w[j] * scale;
            rnnlab_model_set(m, rnnlab_model_find(m, "head_weight"), ws_);
            if (dt == RNNLAB_FLOAT32) /* the weights as the model holds them */
                for (int j = 0; j < H; j++) w[j] = (float)w[j];
            rnnlab_bptt *wsp = workspace(m, B, T, RNNLAB_LOSS_LAST, 1, 0);
            rnnlab_batch bt = {.x = x, .target = y};
            assert_int_equal(rnnlab_bptt_forward(wsp, m, &bt, NULL), RNNLAB_OK);
            rnnlab_bptt_get_output(wsp, out);
            const rnnlab_status st = rnnlab_bptt_backward(wsp, m, NULL, NULL, NULL);
            assert_true(st == RNNLAB_OK || k == 2); /* at 1e100 deeper gradients may overflow; the tap is what counts */
            double sdy = 0, sw = 0, mean = 0;
            for (int b = 0; b < B; b++) {
                /* dY as the engine has it: float32 rounds it (and dL/dh = dY w) once more */
                const double dy = dt == RNNLAB_FLOAT32 ? (float)(2 * ((float)out[b] - (float)y[b]) / B) : 2 * (out[b] - y[b]) / B;
                sdy += dy * dy;
                double nb = 0;
                for (int j = 0; j < H; j++) nb += dy * w[j] * dy * w[j];
                mean += sqrt(nb) / B;
            }
            for (int j = 0; j < H; j++) sw += w[j] * w[j];
            const double want = scale * sqrt(sdy) * sqrt(sw), want_mean = scale * mean;
            const double tol = dt == RNNLAB_FLOAT32 ? 1e-6 : 1e-12; /* float32: dY w rounded to float */
            const rnnlab_taps tp = rnnlab_bptt_get_taps(wsp);
            const double got = tp.h_norm[T - 1], got_mean = tp.h_norm_mean[T - 1];
            if (!(fabs(got - want) <= tol * want) || !(fabs(got_mean - want_mean) <= tol * want_mean))
                fail_msg("B %d H %d scale %g %s: h_norm %.17g (want %.17g), mean %.17g (want %.17g)", B, H, scale,
                         dt == RNNLAB_FLOAT32 ? "float32" : "float64", got, want, got_mean, want_mean);
            rnnlab_bptt_free(wsp), rnnlab_model_free(m);
        }
}

/* keep_cache = 0 writes dZ over the gates during the backward: the gradients, dx, dh0 and the taps
 * must be bit for bit those of keep_cache = 1, for every cell, variant and remedy that reads the
 * gates in its backward (PReLU's slope gradient reads z = the gates), and the consumed cache must be
 * refused afterwards. */
static void test_consumed_cache_gives_the_same_gradients(void **state)
{
    (void)state;
    enum { B = 3, T = 6 };
    struct { rnnlab_cell_kind cell; int L; rnnlab_norm norm; int peep, gru_before; rnnlab_dtype dt; int prelu; } cases[] = {
        {RNNLAB_CELL_RNN, 2, RNNLAB_NORM_NONE, 0, 0, RNNLAB_FLOAT32, 0},
        {RNNLAB_CELL_RNN, 2, RNNLAB_NORM_NONE, 0, 0, RNNLAB_FLOAT64, 1},
        {RNNLAB_CELL_LSTM, 2, RNNLAB_NORM_NONE, 1, 0, RNNLAB_FLOAT64, 0},
        {RNNLAB_CELL_LSTM, 1, RNNLAB_NORM_LAYER, 1, 0, RNNLAB_FLOAT32, 0},
        {RNNLAB_CELL_GRU, 2, RNNLAB_NORM_NONE, 0, 0, RNNLAB_FLOAT32, 0},
        {RNNLAB_CELL_GRU, 1, RNNLAB_NORM_LAYER, 0, 1, RNNLAB_FLOAT64, 0},
        {RNNLAB_CELL_GRU, 1, RNNLAB_NORM_BATCH, 0, 0, RNNLAB_FLOAT32, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rnnlab_model_config mc;
        rnnlab_model_config_init(&mc);
        mc.cell = cases[k].cell, mc.input_size = 3, mc.hidden_size = 5, mc.num_layers = cases[k].L;
        mc.output_size = 2, mc.norm = cases[k].norm, mc.peephole = cases[k].peep, mc.dtype = cases[k].dt;
        if (cases[k].gru_before) mc.gru_variant = RNNLAB_GRU_RESET_BEFORE;
        if (cases[k].prelu) mc.activation = RNNLAB_ACT_PRELU;
        rnnlab_model *m = check_model(&mc, 40 + k);
        double x[T * B * 3], y[T * B * 2], dx[2][T * B * 3], dh0[2][2 * B * 5], taps[2][2 * T];
        check_fill_uniform(x, T * B * 3, 7 + k), check_fill_uniform(y, T * B * 2, 8 + k);
        const int lens[B] = {T, 4, 1};
        rnnlab_batch bt = {.x = x, .target = y, .lengths = lens};
        const size_t gbytes = m->n_params * rnnlab_dtype_size(mc.dtype);
        void *g[2] = {malloc(gbytes), malloc(gbytes)};
        for (int keep = 0; keep < 2; keep++) {
            rnnlab_bptt_config bc;
            rnnlab_bptt_config_init(&bc);
            bc.batch = B, bc.seq_len = T, bc.loss_at = RNNLAB_LOSS_ALL, bc.keep_cache = keep, bc.training = 1;
            rnnlab_bptt *ws;
            assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
            assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, NULL), RNNLAB_OK);
            assert_int_equal(rnnlab_bptt_backward(ws, m, dx[keep], dh0[keep], NULL), RNNLAB_OK);
            memcpy(g[keep], m->grads, gbytes);
            const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
            memcpy(taps[keep], tp.h_norm, sizeof(double) * mc.num_layers * T);
            rnnlab_saturation sat;
            if (!keep) { /* consumed: a second backward and the diagnostics are refused, a forward resets */
                assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_ERR_CONFIG);
                assert_non_null(strstr(rnnlab_last_error(), "keep_cache = 0"));
                assert_int_equal(rnnlab_diag_saturation(ws, m, 0, &sat), RNNLAB_ERR_CONFIG);
                assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, NULL), RNNLAB_OK);
                assert_int_equal(rnnlab_diag_saturation(ws, m, 0, &sat), RNNLAB_OK);
            }
            rnnlab_bptt_free(ws);
        }
        assert_memory_equal(g[0], g[1], gbytes);
        assert_memory_equal(dx[0], dx[1], sizeof dx[0]);
        assert_memory_equal(dh0[0], dh0[1], sizeof(double) * mc.num_layers * B * 5);
        assert_memory_equal(taps[0], taps[1], sizeof(double) * mc.num_layers * T);
        free(g[0]), free(g[1]);
        rnnlab_model_free(m);
    }
    /* windowed truncation revisits the cache: refused */
    rnnlab_model *m = model(RNNLAB_CELL_GRU, RNNLAB_ACT_TANH, 1, 3, 1, 1, RNNLAB_FLOAT64, 1);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 2, bc.seq_len = 10, bc.truncate = 4, bc.keep_cache = 0;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_ERR_CONFIG);
    rnnlab_model_free(m);
}

/* The reverse sweep's prefetch of step t-1's cache rows (on by itself for long sequences) is a hint
 * to the CPU: forced on and forced off, every cell gives the same gradient bits. It also runs the
 * prefetching loops under the sanitizer builds, which no sequence this short would otherwise. */
static void test_prefetch_changes_no_bits(void **state)
{
    (void)state;
    enum { B = 3, T = 9 };
    struct { rnnlab_cell_kind cell; rnnlab_activation act; int peep, gru_before; rnnlab_norm norm; rnnlab_dtype dt; } cases[] = {
        {RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0, 0, RNNLAB_NORM_NONE, RNNLAB_FLOAT32},
        {RNNLAB_CELL_RNN, RNNLAB_ACT_PRELU, 0, 0, RNNLAB_NORM_NONE, RNNLAB_FLOAT64},
        {RNNLAB_CELL_LSTM, 0, 0, 0, RNNLAB_NORM_NONE, RNNLAB_FLOAT32},
        {RNNLAB_CELL_LSTM, 0, 1, 0, RNNLAB_NORM_NONE, RNNLAB_FLOAT64},
        {RNNLAB_CELL_LSTM, 0, 0, 0, RNNLAB_NORM_LAYER, RNNLAB_FLOAT64},
        {RNNLAB_CELL_GRU, 0, 0, 0, RNNLAB_NORM_NONE, RNNLAB_FLOAT64},
        {RNNLAB_CELL_GRU, 0, 0, 1, RNNLAB_NORM_NONE, RNNLAB_FLOAT32},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        rnnlab_model_config mc;
        rnnlab_model_config_init(&mc);
        mc.cell = cases[k].cell, mc.activation = cases[k].act, mc.input_size = 2, mc.hidden_size = 5;
        mc.num_layers = 2, mc.output_size = 1, mc.peephole = cases[k].peep, mc.norm = cases[k].norm;
        mc.dtype = cases[k].dt;
        if (cases[k].gru_before) mc.gru_variant = RNNLAB_GRU_RESET_BEFORE;
        rnnlab_model *m = check_model(&mc, 70 + k);
        double x[T * B * 2], y[T * B], dx[2][T * B * 2], dh0[2][2 * B * 5], dc0[2][2 * B * 5];
        check_fill_uniform(x, T * B * 2, 17 + k), check_fill_uniform(y, T * B, 18 + k);
        const int lens[B] = {T, 5, 2};
        rnnlab_batch bt = {.x = x, .target = y, .lengths = lens};
        const size_t gbytes = m->n_params * rnnlab_dtype_size(mc.dtype);
        void *g[2] = {malloc(gbytes), malloc(gbytes)};
        for (int on = 0; on < 2; on++) {
            rnnlab_bptt *ws = workspace(m, B, T, RNNLAB_LOSS_ALL, 1, 0);
            rnnlab_bptt_set_prefetch(ws, on ? 1 : -1);
            assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, NULL), RNNLAB_OK);
            assert_int_equal(rnnlab_bptt_backward(ws, m, dx[on], dh0[on], dc0[on]), RNNLAB_OK);
            memcpy(g[on], m->grads, gbytes);
            rnnlab_bptt_free(ws);
        }
        assert_memory_equal(g[0], g[1], gbytes);
        assert_memory_equal(dx[0], dx[1], sizeof dx[0]);
        assert_memory_equal(dh0[0], dh0[1], sizeof dh0[0]);
        if (mc.cell == RNNLAB_CELL_LSTM) assert_memory_equal(dc0[0], dc0[1], sizeof dc0[0]);
        free(g[0]), free(g[1]);
        rnnlab_model_free(m);
    }
}

/* A NULL where the header allows none is refused with a message naming the function and the argument
 * (rnnlab/status.h), never a crash; so is reading the states or outputs before any forward, and a
 * dataset's batch without the targets its loss needs. */
static void expect_null_refused(rnnlab_status st, const char *fn, const char *arg)
{
    char want[128];
    snprintf(want, sizeof want, "%s: %s must not be NULL", fn, arg);
    if (st != RNNLAB_ERR_CONFIG || !strstr(rnnlab_last_error(), want))
        fprintf(stderr, "expected '%s', got %d: %s\n", want, (int)st, rnnlab_last_error());
    assert_int_equal(st, RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), want));
}

static void test_null_arguments_are_refused(void **state)
{
    (void)state;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = RNNLAB_CELL_LSTM, mc.input_size = 2, mc.hidden_size = 3, mc.output_size = 1;
    rnnlab_model *m = NULL;
    expect_null_refused(rnnlab_model_create(NULL, &mc), "rnnlab_model_create", "out");
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_OK);
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 1);
    expect_null_refused(rnnlab_model_init(m, &ic, NULL), "rnnlab_model_init", "rng");
    expect_null_refused(rnnlab_model_init(NULL, &ic, &rng), "rnnlab_model_init", "m");
    ic.weight_hh = RNNLAB_INIT_COUNT;
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "weight_hh"));
    double buf[64];
    expect_null_refused(rnnlab_model_get(m, 0, NULL), "rnnlab_model_get", "out");
    expect_null_refused(rnnlab_model_get_grad(NULL, 0, buf), "rnnlab_model_get_grad", "m"); /* read m->grads first */
    expect_null_refused(rnnlab_model_set(m, 0, NULL), "rnnlab_model_set", "in");
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = 2, bc.seq_len = 3;
    rnnlab_bptt *ws = NULL;
    expect_null_refused(rnnlab_bptt_create(NULL, m, &bc), "rnnlab_bptt_create", "out");
    expect_null_refused(rnnlab_bptt_create(&ws, NULL, &bc), "rnnlab_bptt_create", "m");
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_get_state(ws, 0, 0, buf, NULL), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "no forward pass yet"));
    assert_int_equal(rnnlab_bptt_get_output(ws, buf), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "no forward pass yet"));
    const double x[3 * 2 * 2] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2}, y[2] = {0.5, -0.5};
    const rnnlab_batch bt = {.x = x, .target = y};
    double loss;
    expect_null_refused(rnnlab_bptt_forward(NULL, m, &bt, &loss), "rnnlab_bptt_forward", "ws");
    expect_null_refused(rnnlab_bptt_forward(ws, NULL, &bt, &loss), "rnnlab_bptt_forward", "m");
    assert_int_equal(rnnlab_bptt_forward(ws, m, NULL, &loss), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "the batch must not be NULL"));
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
    expect_null_refused(rnnlab_bptt_backward(NULL, m, NULL, NULL, NULL), "rnnlab_bptt_backward", "ws");
    expect_null_refused(rnnlab_bptt_backward(ws, NULL, NULL, NULL, NULL), "rnnlab_bptt_backward", "m");
    expect_null_refused(rnnlab_bptt_get_output(ws, NULL), "rnnlab_bptt_get_output", "out");
    expect_null_refused(rnnlab_bptt_get_state(ws, 0, 0, NULL, NULL), "rnnlab_bptt_get_state", "h_out");
    assert_int_equal(rnnlab_bptt_get_state(ws, 0, 2, buf, buf + 8), RNNLAB_OK);
    expect_null_refused(rnnlab_bptt_chunked(ws, m, NULL, 3, &loss, NULL, NULL), "rnnlab_bptt_chunked", "bt");
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);

    rnnlab_dataset *ds = NULL;
    const rnnlab_option opts[] = {{"delay", "5", 0}, {"recall", NULL, 0}};
    expect_null_refused(rnnlab_dataset_open(NULL, "copy", opts, 1, 1, NULL), "rnnlab_dataset_open", "out");
    expect_null_refused(rnnlab_dataset_open(&ds, "copy", NULL, 1, 1, NULL), "rnnlab_dataset_open", "opts");
    int bad = -1;
    assert_int_equal(rnnlab_dataset_open(&ds, "copy", opts, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "option 1 has a NULL value"));
    assert_int_equal(bad, 1);
    assert_int_equal(rnnlab_dataset_open(&ds, "copy", opts, -1, 1, NULL), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "n_opts must be >= 0"));
    assert_int_equal(rnnlab_dataset_open(&ds, "copy", opts, 1, 1, NULL), RNNLAB_OK); /* xent at every step */
    const rnnlab_task_info *info = rnnlab_dataset_info(ds);
    const size_t TB = (size_t)info->seq_len * 2;
    double *xs = malloc(sizeof(double) * TB * info->input_size);
    int *cls = malloc(sizeof(int) * TB), len[2];
    assert_non_null(xs), assert_non_null(cls);
    expect_null_refused(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, 2, xs, NULL, NULL, len), "rnnlab_dataset_batch",
                        "target_class");
    expect_null_refused(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, 2, NULL, NULL, cls, len), "rnnlab_dataset_batch",
                        "x");
    assert_int_equal(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, 2, xs, NULL, cls, len), RNNLAB_OK);
    free(xs), free(cls);
    rnnlab_dataset_close(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses_bad_options),
        cmocka_unit_test(test_batch_refusals_name_the_element),
        cmocka_unit_test(test_forward_overflow_names_layer_and_step),
        cmocka_unit_test(test_backward_overflow_names_layer_and_step),
        cmocka_unit_test(test_create_survives_failed_allocations),
        cmocka_unit_test(test_taps_off_same_gradients),
        cmocka_unit_test(test_float32_agrees_with_float64),
        cmocka_unit_test(test_flush_to_zero_is_a_run_option),
        cmocka_unit_test(test_padding_never_changes_real_steps),
        cmocka_unit_test(test_dropout_modes_and_masks),
        cmocka_unit_test(test_batch_norm_running_statistics),
        cmocka_unit_test(test_remedy_refusals),
        cmocka_unit_test(test_chunked_matches_finite_differences),
        cmocka_unit_test(test_chunked_single_chunk_is_full_bptt),
        cmocka_unit_test(test_chunked_refusals),
        cmocka_unit_test(test_taps_at_extreme_scales),
        cmocka_unit_test(test_consumed_cache_gives_the_same_gradients),
        cmocka_unit_test(test_prefetch_changes_no_bits),
        cmocka_unit_test(test_null_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
