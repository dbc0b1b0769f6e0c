/*
 * test_determinism.c - the same forward/backward with 1, 2, 3, 8 and 16 threads (and twice with
 * the same count) gives byte-identical losses, gradients, input and initial-state gradients and taps,
 * in float32 and float64, for full BPTT (in time blocks) and truncated BPTT. Sizes are chosen so that the parallel loops
 * (B*G*H >= RNNLAB_OMP_MIN_WORK) and the products' tiles, shared by the threads or not, are really used; the
 * long block (T = 40 in one block: 2560 rows of 4H or 3H gates) passes the thresholds of the loops and
 * products over a block's rows too (RNNLAB_OMP_MIN_ROWS_WORK, RNNLAB_GEMM_ROWS_PAR_MNK: the bias sums
 * and additions, the input product, dU and dW).
 */
#include "check.h"
#include "rnnlab/rnnlab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct result {
    double loss;
    unsigned char *grads;
    double *dx, *dh0, *taps;
    size_t grad_bytes, nx, nh, ntap;
} result;

static void run_once(rnnlab_cell_kind cell, rnnlab_dtype dt, int truncate, int threads, int remedies, int long_block,
                     result *r)
{
    enum { B = 64, I = 32, H = 128, L = 2, O = 3 };
    const int T = long_block ? 40 : 10;
    rnnlab_threads_set(threads);
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.input_size = I, mc.hidden_size = H, mc.num_layers = L, mc.output_size = O, mc.dtype = dt;
    if (remedies) /* layer norm (or batch norm without truncation), residual connections, dropout */
        mc.norm = truncate ? RNNLAB_NORM_LAYER : RNNLAB_NORM_BATCH, mc.residual = 1, mc.dropout = 0.3;
    rnnlab_model *m;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_OK);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 77);
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_OK);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss_at = RNNLAB_LOSS_ALL, bc.truncate = truncate, bc.training = remedies;
    bc.time_block = long_block ? T : 4; /* else full BPTT in time blocks of 4, 4 and 2 steps (batch norm keeps one) */
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    double *x = malloc(sizeof(double) * T * B * I), *y = malloc(sizeof(double) * T * B * O);
    for (int i = 0; i < T * B * I; i++) x[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (int i = 0; i < T * B * O; i++) y[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    rnnlab_batch bt = {x, y, NULL, NULL, NULL, NULL, 99};
    r->nx = (size_t)T * B * I, r->nh = (size_t)L * B * H, r->ntap = 2 * (size_t)L * T + m->n_tensors;
    r->dx = malloc(sizeof(double) * r->nx);
    r->dh0 = malloc(sizeof(double) * r->nh);
    r->taps = malloc(sizeof(double) * r->ntap);
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &r->loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(ws, m, r->dx, r->dh0, NULL), RNNLAB_OK);
    r->grad_bytes = m->n_params * rnnlab_dtype_size(dt);
    r->grads = malloc(r->grad_bytes);
    memcpy(r->grads, m->grads, r->grad_bytes);
    const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
    memcpy(r->taps, tp.h_norm, sizeof(double) * L * T);
    memcpy(r->taps + L * T, tp.h_norm_mean, sizeof(double) * L * T);
    memcpy(r->taps + 2 * L * T, tp.param_norm, sizeof(double) * m->n_tensors);
    free(x), free(y);
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
}

static void result_free(result *r) { free(r->grads), free(r->dx), free(r->dh0), free(r->taps); }

static void compare_threads(rnnlab_cell_kind cell, rnnlab_dtype dt, int truncate, int remedies, int long_block)
{
    const int saved = rnnlab_threads_get(), counts[] = {1, 2, 3, 8, 16, 1};
    const int n = (int)(sizeof counts / sizeof *counts);
    result ref;
    run_once(cell, dt, truncate, counts[0], remedies, long_block, &ref);
    for (int i = 1; i < n; i++) {
        result r;
        run_once(cell, dt, truncate, counts[i], remedies, long_block, &r);
        char what[128];
        snprintf(what, sizeof what, "%s %s truncate=%d%s threads=%d vs 1", rnnlab_cell_name(cell),
                 rnnlab_dtype_name(dt), truncate, long_block ? " long block" : "", counts[i]);
        assert_true(check_same_bytes(what, &ref.loss, &r.loss, sizeof r.loss));
        assert_true(check_same_bytes(what, ref.grads, r.grads, r.grad_bytes));
        assert_true(check_same_bytes(what, ref.dx, r.dx, sizeof(double) * r.nx));
        assert_true(check_same_bytes(what, ref.dh0, r.dh0, sizeof(double) * r.nh));
        assert_true(check_same_bytes(what, ref.taps, r.taps, sizeof(double) * r.ntap));
        result_free(&r);
    }
    result_free(&ref);
    rnnlab_threads_set(saved);
}

static void test_rnn_any_thread_count(void **state)
{
    (void)state;
    compare_threads(RNNLAB_CELL_RNN, RNNLAB_FLOAT32, 0, 0, 0);
    compare_threads(RNNLAB_CELL_RNN, RNNLAB_FLOAT64, 0, 0, 0);
}

static void test_lstm_any_thread_count(void **state)
{
    (void)state;
    compare_threads(RNNLAB_CELL_LSTM, RNNLAB_FLOAT32, 0, 0, 0);
    compare_threads(RNNLAB_CELL_LSTM, RNNLAB_FLOAT64, 0, 0, 0);
    compare_threads(RNNLAB_CELL_LSTM, RNNLAB_FLOAT64, 3, 0, 0);
}

static void test_gru_any_thread_count(void **state)
{
    (void)state;
    compare_threads(RNNLAB_CELL_GRU, RNNLAB_FLOAT32, 0, 0, 0);
    compare_threads(RNNLAB_CELL_GRU, RNNLAB_FLOAT64, 0, 0, 0);
    compare_threads(RNNLAB_CELL_GRU, RNNLAB_FLOAT32, 4, 0, 0);
}

/* Layer norm / batch norm, residual connections and dropout in training mode: the same bytes too. */
static void test_remedies_any_thread_count(void **state)
{
    (void)state;
    compare_threads(RNNLAB_CELL_LSTM, RNNLAB_FLOAT32, 0, 1, 0);
    compare_threads(RNNLAB_CELL_GRU, RNNLAB_FLOAT64, 3, 1, 0);
}

/* One block of 2560 rows: the loops and products over a block's rows run on several threads. */
static void test_long_block_any_thread_count(void **state)
{
    (void)state;
    compare_threads(RNNLAB_CELL_LSTM, RNNLAB_FLOAT32, 0, 0, 1);
    compare_threads(RNNLAB_CELL_GRU, RNNLAB_FLOAT64, 0, 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_any_thread_count),
        cmocka_unit_test(test_lstm_any_thread_count),
        cmocka_unit_test(test_gru_any_thread_count),
        cmocka_unit_test(test_remedies_any_thread_count),
        cmocka_unit_test(test_long_block_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
