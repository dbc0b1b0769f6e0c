/*
 * test_gradcheck.c - central finite differences in float64 (rnnlab/gradcheck.h) for every cell,
 * every RNN activation, both GRU variants, peepholes, L in {1, 3}, T >= 5, the loss at the last step
 * and at every step, truncated BPTT with k < T, every loss, and padded batches. Every parameter,
 * input element, h0/c0 and dL/dh_t tap is compared: |a - n| <= 1e-8 + 1e-6 max(|a|, |n|).
 */
#include "check.h"
#include "rnnlab/gradcheck.h"

#include <stdio.h>

static void run_case(const char *label, const rnnlab_gradcheck_config *cfg)
{
    rnnlab_check_report rep;
    rnnlab_status st = rnnlab_gradcheck_run(cfg, &rep);
    if (st) fprintf(stderr, "%s: %s\n", label, rnnlab_last_error());
    assert_int_equal(st, RNNLAB_OK);
    size_t compared = 0, skipped = 0;
    for (int i = 0; i < rep.n; i++) {
        const rnnlab_check_entry *e = &rep.e[i];
        compared += e->n, skipped += e->n_skipped;
        if (!e->pass)
            fprintf(stderr, "%s: %s FAILED: max rel %.3g at element %zu (analytic %.17g, numeric %.17g)\n", label,
                    e->name, e->max_rel, e->worst, e->worst_a, e->worst_r);
    }
    if (skipped) fprintf(stderr, "%s: %zu point(s) on a relu kink skipped\n", label, skipped);
    assert_true(rep.all_pass);
    assert_true(compared > 0);
    assert_true(skipped * 10 < compared); /* skipping must stay the exception */
    rnnlab_check_report_free(&rep);
}

static rnnlab_gradcheck_config base(rnnlab_cell_kind cell, int L, rnnlab_loss_at at)
{
    rnnlab_gradcheck_config c;
    rnnlab_gradcheck_config_init(&c);
    c.model.cell = cell, c.model.num_layers = L, c.bptt.loss_at = at;
    c.bptt.seq_len = 5;
    return c;
}

/* Every variant v < n of a cell (the RNN's activations, the LSTM without and with peepholes, the
 * GRU's two variants), each for L = 1 and 3 and with the loss at the last step and at every step,
 * with seed seed0 + 10 v + L + at, labelled "<variant> L=<L> loss=<last|all>". */
static void run_variants(rnnlab_cell_kind cell, int n, uint64_t seed0)
{
    for (int v = 0; v < n; v++) {
        rnnlab_gradcheck_config c = base(cell, 1, RNNLAB_LOSS_LAST);
        char name[64];
        if (cell == RNNLAB_CELL_RNN) {
            c.model.activation = (rnnlab_activation)v;
            snprintf(name, sizeof name, "rnn_%s", rnnlab_activation_name(c.model.activation));
        } else if (cell == RNNLAB_CELL_LSTM) {
            c.model.peephole = v;
            snprintf(name, sizeof name, "lstm peephole=%d", v);
        } else {
            c.model.gru_variant = (rnnlab_gru_variant)v;
            snprintf(name, sizeof name, "gru %s", rnnlab_gru_variant_name(c.model.gru_variant));
        }
        for (int L = 1; L <= 3; L += 2)
            for (int at = 0; at < 2; at++) {
                c.model.num_layers = L, c.bptt.loss_at = (rnnlab_loss_at)at;
                c.seed = seed0 + (uint64_t)(10 * v + L + at);
                char label[96];
                snprintf(label, sizeof label, "%s L=%d loss=%s", name, L, at ? "all" : "last");
                run_case(label, &c);
            }
    }
}

static void test_rnn_every_activation(void **state)
{
    (void)state;
    run_variants(RNNLAB_CELL_RNN, RNNLAB_ACT_COUNT, 100);
}

static void test_lstm_with_and_without_peepholes(void **state)
{
    (void)state;
    run_variants(RNNLAB_CELL_LSTM, 2, 200);
}

static void test_gru_both_variants(void **state)
{
    (void)state;
    run_variants(RNNLAB_CELL_GRU, 2, 300);
}

/* k < T: the reference is the truncated objective evaluated forward only (rnnlab/bptt.h). */
static void test_truncated_bptt(void **state)
{
    (void)state;
    const struct {
        rnnlab_cell_kind cell;
        rnnlab_activation act;
        rnnlab_gru_variant v;
        int peep;
    } cells[] = {{RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0, 0},
                 {RNNLAB_CELL_RNN, RNNLAB_ACT_RELU, 0, 0},
                 {RNNLAB_CELL_LSTM, 0, 0, 1},
                 {RNNLAB_CELL_GRU, 0, RNNLAB_GRU_RESET_AFTER, 0},
                 {RNNLAB_CELL_GRU, 0, RNNLAB_GRU_RESET_BEFORE, 0}};
    for (size_t ci = 0; ci < sizeof cells / sizeof cells[0]; ci++)
        for (int k = 1; k <= 3; k++)
            for (int at = 0; at < 2; at++) {
                rnnlab_gradcheck_config c = base(cells[ci].cell, 3, (rnnlab_loss_at)at);
                c.model.activation = cells[ci].act, c.model.gru_variant = cells[ci].v, c.model.peephole = cells[ci].peep;
                c.bptt.seq_len = 6, c.bptt.truncate = k;
                c.seed = 400 + ci * 10 + k * 2 + at;
                char label[96];
                snprintf(label, sizeof label, "%s truncate=%d L=3 T=6 loss=%s",
                         rnnlab_cell_label(c.model.cell, c.model.activation), k, at ? "all" : "last");
                run_case(label, &c);
            }
}

static void test_losses_and_padding(void **state)
{
    (void)state;
    const rnnlab_loss_kind losses[] = {RNNLAB_LOSS_XENT, RNNLAB_LOSS_BERNOULLI, RNNLAB_LOSS_MSE};
    for (int cell = 0; cell < RNNLAB_CELL_COUNT; cell++)
        for (int li = 0; li < 3; li++)
            for (int at = 0; at < 2; at++) {
                rnnlab_gradcheck_config c = base((rnnlab_cell_kind)cell, 2, (rnnlab_loss_at)at);
                c.bptt.loss = losses[li];
                c.model.output_size = 3;
                c.bptt.batch = 3;
                c.random_lengths = 1;
                c.bptt.truncate = li == 2 ? 2 : 0;
                c.seed = 500 + cell * 10 + li * 2 + at;
                char label[96];
                snprintf(label, sizeof label, "%s loss=%s at %s, padded batch%s", rnnlab_cell_name(c.model.cell),
                         rnnlab_loss_name(c.bptt.loss), at ? "all" : "last", c.bptt.truncate ? ", truncate 2" : "");
                run_case(label, &c);
            }
}

/* The remedies of the vanishing/exploding-gradient literature, each through finite differences:
 * layer norm (Ba et al. 2016), batch norm over batch and time in training and evaluation mode
 * (Laurent et al. 2016), PReLU (He et al. 2015), residual connections, dropout between layers with
 * fixed masks (Zaremba et al. 2014), and their combinations with truncation and padding. */
static void test_remedies(void **state)
{
    (void)state;
    int k = 0;
    for (int cell = 0; cell < RNNLAB_CELL_COUNT; cell++) {
        const struct {
            rnnlab_norm norm;
            int residual, training, truncate, lengths, peep;
            double dropout;
            rnnlab_loss_at at;
        } opts[] = {
            {RNNLAB_NORM_LAYER, 0, 0, 0, 0, 1, 0, RNNLAB_LOSS_LAST},
            {RNNLAB_NORM_LAYER, 1, 1, 2, 0, 0, 0.2, RNNLAB_LOSS_ALL},
            {RNNLAB_NORM_BATCH, 0, 1, 0, 1, 0, 0, RNNLAB_LOSS_ALL},
            {RNNLAB_NORM_BATCH, 0, 0, 3, 0, 1, 0, RNNLAB_LOSS_LAST},
            {RNNLAB_NORM_NONE, 1, 0, 0, 0, 0, 0, RNNLAB_LOSS_LAST},
            {RNNLAB_NORM_NONE, 1, 1, 0, 1, 0, 0.3, RNNLAB_LOSS_ALL},
        };
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            rnnlab_gradcheck_config c = base((rnnlab_cell_kind)cell, 3, opts[i].at);
            c.model.norm = opts[i].norm, c.model.residual = opts[i].residual, c.model.dropout = opts[i].dropout;
            c.model.peephole = cell == RNNLAB_CELL_LSTM && opts[i].peep;
            if (cell == RNNLAB_CELL_GRU && (i % 2)) c.model.gru_variant = RNNLAB_GRU_RESET_BEFORE;
            if (cell == RNNLAB_CELL_RNN && (i % 3 == 1)) c.model.activation = RNNLAB_ACT_PRELU;
            c.bptt.training = opts[i].training, c.bptt.truncate = opts[i].truncate;
            c.bptt.seq_len = 6, c.bptt.batch = 3, c.random_lengths = opts[i].lengths;
            c.seed = 600 + k++;
            char label[160];
            snprintf(label, sizeof label, "%s norm=%s residual=%d dropout=%g %s truncate=%d lengths=%d",
                     rnnlab_cell_label(c.model.cell, c.model.activation), rnnlab_norm_name(c.model.norm),
                     c.model.residual, c.model.dropout, c.bptt.training ? "training" : "eval", c.bptt.truncate,
                     c.random_lengths);
            run_case(label, &c);
        }
    }
}

/* All weights and biases zero: every relu pre-activation is exactly 0, on the kink. Perturbing them
 * crosses it; those points must be reported as skipped, never as failures, and the rest must pass. */
static void test_relu_kink_points_are_skipped(void **state)
{
    (void)state;
    rnnlab_gradcheck_config c = base(RNNLAB_CELL_RNN, 1, RNNLAB_LOSS_ALL);
    c.model.activation = RNNLAB_ACT_RELU;
    double params[256] = {0};
    /* n_params for I=3, H=4, O=2: 4*3 + 4*4 + 4 + 4 + 2*4 + 2 = 46; only the head is non-zero */
    for (int j = 36; j < 46; j++) params[j] = 0.1 * (j - 40);
    c.params = params;
    c.check_taps = 0;
    rnnlab_check_report rep;
    assert_int_equal(rnnlab_gradcheck_run(&c, &rep), RNNLAB_OK);
    size_t skipped = 0;
    for (int i = 0; i < rep.n; i++) skipped += rep.e[i].n_skipped;
    assert_true(skipped > 0);
    assert_true(rep.all_pass);
    rnnlab_check_report_free(&rep);
}

static void test_refuses_float32(void **state)
{
    (void)state;
    rnnlab_gradcheck_config c;
    rnnlab_gradcheck_config_init(&c);
    c.model.dtype = RNNLAB_FLOAT32;
    rnnlab_check_report rep;
    assert_int_equal(rnnlab_gradcheck_run(&c, &rep), RNNLAB_ERR_CONFIG);
    rnnlab_check_report_free(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_every_activation),
        cmocka_unit_test(test_lstm_with_and_without_peepholes),
        cmocka_unit_test(test_gru_both_variants),
        cmocka_unit_test(test_truncated_bptt),
        cmocka_unit_test(test_losses_and_padding),
        cmocka_unit_test(test_remedies),
        cmocka_unit_test(test_relu_kink_points_are_skipped),
        cmocka_unit_test(test_refuses_float32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
