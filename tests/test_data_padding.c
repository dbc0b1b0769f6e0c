/*
 * test_data_padding.c - end to end from the user-CSV loader through rnnlab_bptt in float64:
 * sequences of lengths 4, 2 and 3 batched with padding to T = 4 and to T = 10 give byte-identical
 * loss, parameter gradients, dL/dx of real steps and gradient taps of real steps, for every cell and
 * both loss positions; and the loss is the mean over real steps only.
 */
#include "check.h"
#include "rnnlab/data.h"
#include "rnnlab/rnnlab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 3, I = 2, O = 2, H = 5, L = 2 };

static const int seq_len[B] = {4, 2, 3};

/* Writes the CSV: sequence k has seq_len[k] rows (listed in reverse time order, interleaved, to
 * exercise the sorting) with features f1, f2 and targets y1, y2 drawn from a fixed generator. */
static const char *write_csv(double vals[B][4][I + O])
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/padding.csv", check_tmpdir());
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 99);
    for (int k = 0; k < B; k++)
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < I + O; v++) vals[k][t][v] = 2 * rnnlab_rng_uniform(&rng) - 1;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "seq,time,f1,f2,y1,y2\n");
    for (int t = 3; t >= 0; t--)
        for (int k = 0; k < B; k++)
            if (t < seq_len[k])
                fprintf(f, "q%d,%d,%.17g,%.17g,%.17g,%.17g\n", k, t, vals[k][t][0], vals[k][t][1], vals[k][t][2],
                        vals[k][t][3]);
    fclose(f);
    return path;
}

static rnnlab_model *make_model(rnnlab_cell_kind cell)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.input_size = I, mc.hidden_size = H, mc.num_layers = L, mc.output_size = O;
    mc.dtype = RNNLAB_FLOAT64;
    return check_model(&mc, 10 + (uint64_t)cell);
}

/* What one forward/backward on the loader's batch gives. */
typedef struct result {
    double loss;
    double *grads; /* (n_params) */
    double *dx;    /* (4, B, I): real steps only, padding zeroed */
    double taps[2 * L * 4];
    int T;
    int len[B];
} result;

static result run(const char *path, const char *T, rnnlab_loss_at at, rnnlab_model *m)
{
    const rnnlab_option o[] = {{"path", path, 0},     {"id_column", "seq", 0},           {"time_column", "time", 0},
                               {"features", "f1,f2", 0}, {"targets", "y1,y2", 0},          {"split", "1,0,0", 0},
                               {"seq_len", T, 0},     {"loss_at", at ? "all" : "last", 0}};
    rnnlab_dataset *ds = NULL;
    assert_int_equal(rnnlab_dataset_open(&ds, "csv", o, 8, 5, NULL), RNNLAB_OK);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    result r;
    r.T = in->seq_len;
    assert_int_equal(in->input_size, I);
    assert_int_equal(in->output_size, O);
    const size_t nT = (size_t)r.T;
    double *x = malloc(sizeof(double) * nT * B * I), *y = malloc(sizeof(double) * nT * B * O);
    double *dx = malloc(sizeof(double) * nT * B * I);
    assert_int_equal(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, B, x, y, NULL, r.len), RNNLAB_OK);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = r.T, bc.loss = in->loss, bc.loss_at = in->loss_at;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    rnnlab_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.x = x, bt.target = y, bt.lengths = r.len;
    assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &r.loss), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(ws, m, dx, NULL, NULL), RNNLAB_OK);
    r.grads = malloc(sizeof(double) * m->n_params);
    for (size_t j = 0; j < m->n_params; j++) r.grads[j] = rnnlab_model_grad_at(m, j);
    r.dx = calloc(4 * B * I, sizeof(double));
    for (int t = 0; t < 4; t++)
        for (int b = 0; b < B; b++)
            if (t < r.len[b]) memcpy(r.dx + (t * B + b) * I, dx + ((size_t)t * B + b) * I, sizeof(double) * I);
    const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
    for (int l = 0; l < L; l++)
        for (int t = 0; t < 4; t++)
            r.taps[l * 4 + t] = tp.h_norm[l * r.T + t], r.taps[L * 4 + l * 4 + t] = tp.h_norm_mean[l * r.T + t];
    rnnlab_bptt_free(ws);
    free(x), free(y), free(dx);
    rnnlab_dataset_close(ds);
    return r;
}

static void test_padding_to_4_or_10_gives_the_same_bits(void **state)
{
    (void)state;
    double vals[B][4][I + O];
    const char *path = write_csv(vals);
    for (int cell = 0; cell < RNNLAB_CELL_COUNT; cell++)
        for (int at = 0; at < 2; at++) {
            rnnlab_model *m = make_model((rnnlab_cell_kind)cell);
            result r4 = run(path, "4", (rnnlab_loss_at)at, m), r10 = run(path, "10", (rnnlab_loss_at)at, m);
            assert_int_equal(r4.T, 4);
            assert_int_equal(r10.T, 10);
            assert_memory_equal(r4.len, r10.len, sizeof r4.len);
            assert_true(check_same_bytes("loss", &r4.loss, &r10.loss, sizeof(double)));
            assert_true(check_same_bytes("grads", r4.grads, r10.grads, sizeof(double) * m->n_params));
            assert_true(check_same_bytes("dx of real steps", r4.dx, r10.dx, sizeof(double) * 4 * B * I));
            assert_true(check_same_bytes("taps of steps 0..3", r4.taps, r10.taps, sizeof r4.taps));
            free(r4.grads), free(r4.dx), free(r10.grads), free(r10.dx);
            rnnlab_model_free(m);
        }
}

/* With a zero head the output is 0, so the MSE is the mean of target^2 over the real loss
 * positions only: 9 steps at `all`, 3 last steps at `last` (times O outputs). */
static void test_loss_is_the_mean_over_real_steps(void **state)
{
    (void)state;
    double vals[B][4][I + O];
    const char *path = write_csv(vals);
    for (int at = 0; at < 2; at++) {
        rnnlab_model *m = make_model(RNNLAB_CELL_LSTM);
        double zeros[O * H] = {0};
        assert_int_equal(rnnlab_model_set(m, rnnlab_model_find(m, "head_weight"), zeros), RNNLAB_OK);
        assert_int_equal(rnnlab_model_set(m, rnnlab_model_find(m, "head_bias"), zeros), RNNLAB_OK);
        result r = run(path, "10", (rnnlab_loss_at)at, m);
        double sum = 0;
        int n = 0;
        for (int k = 0; k < B; k++)
            for (int t = at ? 0 : seq_len[k] - 1; t < seq_len[k]; t++, n++)
                for (int o = 0; o < O; o++) sum += vals[k][t][I + o] * vals[k][t][I + o];
        assert_int_equal(n, at ? 9 : 3);
        assert_close1("loss over real steps", r.loss, sum / (n * O), 1e-15, 1e-13);
        free(r.grads), free(r.dx);
        rnnlab_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padding_to_4_or_10_gives_the_same_bits),
        cmocka_unit_test(test_loss_is_the_mean_over_real_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
