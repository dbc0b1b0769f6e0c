/*
 * test_split.c - a training workspace that runs its batch rows as parts (rnnlab_bptt_create,
 * bptt_api.c split_count), or its steps as time blocks (rnnlab_bptt_config.time_block), computes
 * what one workspace of one block computes: the same loss, gradients, dx, dh0, dc0, taps, outputs
 * and states to rounding (float64: only the order of the sums over samples or blocks of steps
 * differs), for every cell and option a part may have, padded batches whose parts end at different
 * steps, both loss placements and all three losses; its gradients agree with central finite
 * differences of its own loss; its bytes do not depend on the thread count; the rule that chooses the
 * parts; and what refuses a split workspace.
 */
#include "check.h"
#include "rnnlab/rnnlab.h"
#include "engine/bptt_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 35, T = 7, I = 3, H = 5 };

typedef struct variant {
    const char *name;
    rnnlab_cell_kind cell;
    rnnlab_activation act;
    rnnlab_gru_variant gru;
    int peephole, L, residual;
    rnnlab_norm norm;
    rnnlab_loss_kind loss;
    rnnlab_loss_at at;
    int padded, h0;
} variant;

static const variant variants[] = {
    {"rnn tanh, mse at last", RNNLAB_CELL_RNN, RNNLAB_ACT_TANH, 0, 0, 1, 0, RNNLAB_NORM_NONE, RNNLAB_LOSS_MSE, RNNLAB_LOSS_LAST, 0, 0},
    {"rnn prelu, 2 layers, residual, padded", RNNLAB_CELL_RNN, RNNLAB_ACT_PRELU, 0, 0, 2, 1, RNNLAB_NORM_NONE, RNNLAB_LOSS_MSE, RNNLAB_LOSS_ALL, 1, 1},
    {"lstm, xent at every step, padded, h0 c0", RNNLAB_CELL_LSTM, 0, 0, 0, 1, 0, RNNLAB_NORM_NONE, RNNLAB_LOSS_XENT, RNNLAB_LOSS_ALL, 1, 1},
    {"lstm peephole, layer norm, 2 layers", RNNLAB_CELL_LSTM, 0, 0, 1, 2, 0, RNNLAB_NORM_LAYER, RNNLAB_LOSS_MSE, RNNLAB_LOSS_LAST, 1, 0},
    {"gru reset_after, bernoulli at every step", RNNLAB_CELL_GRU, 0, RNNLAB_GRU_RESET_AFTER, 0, 1, 0, RNNLAB_NORM_NONE, RNNLAB_LOSS_BERNOULLI, RNNLAB_LOSS_ALL, 0, 1},
    {"gru reset_before, xent at last, padded", RNNLAB_CELL_GRU, 0, RNNLAB_GRU_RESET_BEFORE, 0, 2, 0, RNNLAB_NORM_NONE, RNNLAB_LOSS_XENT, RNNLAB_LOSS_LAST, 1, 0},
    {"lstm peephole, 3 layers, residual, h0 c0", RNNLAB_CELL_LSTM, 0, 0, 1, 3, 1, RNNLAB_NORM_NONE, RNNLAB_LOSS_MSE, RNNLAB_LOSS_ALL, 0, 1},
};

typedef struct batch_buf {
    double *x, *y, *h0, *c0;
    int *cls, *len;
    rnnlab_batch bt;
} batch_buf;

/* Samples 0..11 (the whole first of three parts) end at step 2, others at steps 3..T-1. */
static void make_batch(const variant *v, int O, int L, batch_buf *b)
{
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 5);
    b->x = malloc(sizeof(double) * T * B * I), b->y = malloc(sizeof(double) * T * B * O);
    b->h0 = malloc(sizeof(double) * L * B * H), b->c0 = malloc(sizeof(double) * L * B * H);
    b->cls = malloc(sizeof(int) * T * B), b->len = malloc(sizeof(int) * B);
    for (int i = 0; i < T * B * I; i++) b->x[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (int i = 0; i < T * B * O; i++)
        b->y[i] = v->loss == RNNLAB_LOSS_BERNOULLI ? (rnnlab_rng_uniform(&rng) < 0.5) : 2 * rnnlab_rng_uniform(&rng) - 1;
    for (int i = 0; i < L * B * H; i++) b->h0[i] = rnnlab_rng_uniform(&rng) - 0.5, b->c0[i] = rnnlab_rng_uniform(&rng) - 0.5;
    for (int i = 0; i < T * B; i++) b->cls[i] = (int)(rnnlab_rng_uniform(&rng) * O);
    for (int i = 0; i < B; i++) b->len[i] = i < 12 ? 3 : 4 + i % (T - 3);
    /* both kinds of target, as a caller may pass: the loss reads only its own */
    rnnlab_batch bt = {.x = b->x, .target = b->y, .target_class = b->cls, .dropout_seed = 3};
    if (v->padded) bt.lengths = b->len;
    if (v->h0) bt.h0 = b->h0, bt.c0 = v->cell == RNNLAB_CELL_LSTM ? b->c0 : NULL;
    b->bt = bt;
}

static void batch_free(batch_buf *b) { free(b->x), free(b->y), free(b->h0), free(b->c0), free(b->cls), free(b->len); }

static rnnlab_model *variant_model(const variant *v, int O, rnnlab_dtype dt)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = v->cell, mc.activation = v->act, mc.gru_variant = v->gru, mc.peephole = v->peephole;
    mc.input_size = I, mc.hidden_size = H, mc.num_layers = v->L, mc.output_size = O, mc.dtype = dt;
    mc.norm = v->norm, mc.residual = v->residual;
    return check_model(&mc, 11);
}

/* A training workspace of `parts` parts whose passes run time blocks of `time_block` steps (0: auto). */
static rnnlab_bptt *variant_ws(const variant *v, const rnnlab_model *m, int parts, int time_block)
{
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss = v->loss, bc.loss_at = v->at, bc.keep_cache = 0;
    bc.time_block = time_block;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create_split(&ws, m, &bc, parts), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_split(ws), parts);
    return ws;
}

/* Everything one forward/backward pair reports, gathered in doubles. */
typedef struct outcome {
    double loss, *grads, *dx, *dh0, *dc0, *taps, *out, *state, *sample_loss;
    size_t n_grads, n_taps, n_out;
} outcome;

static void run(const variant *v, rnnlab_model *m, rnnlab_bptt *ws, const batch_buf *b, outcome *r)
{
    const int L = v->L, O = m->cfg.output_size, lstm = v->cell == RNNLAB_CELL_LSTM;
    r->n_grads = m->n_params, r->n_taps = (size_t)(lstm ? 4 : 2) * L * T + m->n_tensors;
    r->n_out = v->at == RNNLAB_LOSS_ALL ? (size_t)T * B * O : (size_t)B * O;
    r->grads = malloc(sizeof(double) * r->n_grads), r->taps = malloc(sizeof(double) * r->n_taps);
    r->dx = malloc(sizeof(double) * T * B * I), r->dh0 = malloc(sizeof(double) * L * B * H);
    r->dc0 = calloc((size_t)L * B * H, sizeof(double)), r->out = calloc(r->n_out, sizeof(double));
    r->state = calloc(4 * (size_t)B * H, sizeof(double)), r->sample_loss = malloc(sizeof(double) * B);
    assert_int_equal(rnnlab_bptt_forward(ws, m, &b->bt, &r->loss), RNNLAB_OK);
    /* each sample's loss (a sum over its positions): their sum over the positions' count is the loss */
    assert_int_equal(rnnlab_bptt_get_sample_losses(ws, r->sample_loss), RNNLAB_OK);
    double sum = 0;
    long n_pos = 0;
    for (int s = 0; s < B; s++)
        sum += r->sample_loss[s], n_pos += v->at == RNNLAB_LOSS_ALL ? (v->padded ? b->len[s] : T) : 1;
    assert_close1("sample losses", sum / (double)n_pos, r->loss, 0, 1e-13);
    assert_int_equal(rnnlab_bptt_get_output(ws, r->out), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_get_state(ws, L - 1, -1, r->state, lstm ? r->state + B * H : NULL), RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_get_state(ws, 0, 1, r->state + 2 * B * H, lstm ? r->state + 3 * B * H : NULL),
                     RNNLAB_OK);
    assert_int_equal(rnnlab_bptt_backward(ws, m, r->dx, r->dh0, lstm ? r->dc0 : NULL), RNNLAB_OK);
    for (size_t i = 0; i < m->n_params; i++) r->grads[i] = ((const double *)m->grads)[i];
    const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
    double *q = r->taps;
    memcpy(q, tp.h_norm, sizeof(double) * L * T), q += L * T;
    memcpy(q, tp.h_norm_mean, sizeof(double) * L * T), q += L * T;
    if (lstm) {
        memcpy(q, tp.c_norm, sizeof(double) * L * T), q += L * T;
        memcpy(q, tp.c_norm_mean, sizeof(double) * L * T), q += L * T;
    }
    memcpy(q, tp.param_norm, sizeof(double) * m->n_tensors);
    if (v->at == RNNLAB_LOSS_ALL && v->padded) /* rows after a sample's end hold no meaningful value */
        for (int t = 0; t < T; t++)
            for (int s = 0; s < B; s++)
                if (t >= b->len[s])
                    for (int o = 0; o < O; o++) r->out[((size_t)t * B + s) * O + o] = 0;
}

static void outcome_free(outcome *r)
{
    free(r->grads), free(r->dx), free(r->dh0), free(r->dc0), free(r->taps), free(r->out), free(r->state);
    free(r->sample_loss);
}

/* Everything two workspaces report agrees to 1e-13 (float64). */
static void assert_same_outcome(const variant *v, const outcome *r, const outcome *one)
{
    const double tol = 1e-13;
    assert_close1("loss", r->loss, one->loss, 0, tol);
    assert_close("gradients", r->grads, one->grads, one->n_grads, tol, tol);
    assert_close("dx", r->dx, one->dx, (size_t)T * B * I, tol, tol);
    assert_close("dh0", r->dh0, one->dh0, (size_t)v->L * B * H, tol, tol);
    assert_close("dc0", r->dc0, one->dc0, (size_t)v->L * B * H, tol, tol);
    assert_close("taps", r->taps, one->taps, one->n_taps, tol, tol);
    assert_close("outputs", r->out, one->out, one->n_out, tol, tol);
    assert_close("states", r->state, one->state, 4 * (size_t)B * H, tol, tol);
    assert_close("sample losses", r->sample_loss, one->sample_loss, (size_t)B, tol, tol);
}

/* For every variant: what one workspace of one block reports, against each of the n workspaces
 * make(v, m, k, i) gives (k: the variant's index, i = 0..n-1), to 1e-13. */
typedef rnnlab_bptt *(*make_ws_fn)(const variant *v, const rnnlab_model *m, size_t k, int i);

static void against_one_workspace(make_ws_fn make, int n)
{
    for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
        const variant *v = &variants[k];
        const int O = v->loss == RNNLAB_LOSS_XENT ? 3 : 2;
        printf("%s\n", v->name);
        rnnlab_model *m = variant_model(v, O, RNNLAB_FLOAT64);
        batch_buf b;
        make_batch(v, O, v->L, &b);
        outcome one, r;
        rnnlab_bptt *ws1 = variant_ws(v, m, 1, T);
        run(v, m, ws1, &b, &one);
        for (int i = 0; i < n; i++) {
            rnnlab_bptt *ws = make(v, m, k, i);
            run(v, m, ws, &b, &r);
            assert_same_outcome(v, &r, &one);
            outcome_free(&r);
            rnnlab_bptt_free(ws);
        }
        outcome_free(&one);
        rnnlab_bptt_free(ws1);
        batch_free(&b);
        rnnlab_model_free(m);
    }
}

/* Two parts or three of 11-12 rows (the first of the three ends at step 2). */
static rnnlab_bptt *parts_ws(const variant *v, const rnnlab_model *m, size_t k, int i)
{
    (void)k;
    return variant_ws(v, m, 2 + i, T);
}

static void test_parts_compute_what_one_workspace_computes(void **state)
{
    (void)state;
    against_one_workspace(parts_ws, 2);
}

/* Time blocks of 1, 2 and 3 steps (the last block shorter; with padding, blocks past the first
 * part's end at step 2), then blocks of 2 inside three parts (odd variants) or with keep_cache = 1
 * (even ones). With keep_cache = 1 the gate gradients take a block-sized buffer, with 0 and several
 * blocks too, with one block the gates: all three are compared. Layer norm keeps one block whatever
 * is asked (time_block), so it compares equal too. */
static rnnlab_bptt *blocks_ws(const variant *v, const rnnlab_model *m, size_t k, int i)
{
    if (i < 3) return variant_ws(v, m, 1, i + 1);
    if (k % 2) return variant_ws(v, m, 3, 2);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss = v->loss, bc.loss_at = v->at, bc.time_block = 2;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    return ws;
}

static void test_time_blocks_compute_what_one_block_computes(void **state)
{
    (void)state;
    against_one_workspace(blocks_ws, 4);
}

/* Dropout in training (which a split workspace refuses) with residual connections, 2 layers: time
 * blocks of 2 and 3 steps against one block, keep_cache 0 and 1, padded: the masks are read by
 * absolute row, the gradient rows relative to the block. */
static void test_time_blocks_with_dropout(void **state)
{
    (void)state;
    const rnnlab_cell_kind cells[] = {RNNLAB_CELL_RNN, RNNLAB_CELL_LSTM, RNNLAB_CELL_GRU};
    for (int c = 0; c < 3; c++)
        for (int keep = 0; keep < 2; keep++) {
            rnnlab_model_config mc;
            rnnlab_model_config_init(&mc);
            mc.cell = cells[c], mc.input_size = I, mc.hidden_size = H, mc.num_layers = 2, mc.output_size = 2;
            mc.dtype = RNNLAB_FLOAT64, mc.residual = 1, mc.dropout = 0.3;
            rnnlab_model *m = check_model(&mc, 21 + c);
            const variant v = {"dropout", cells[c], RNNLAB_ACT_TANH, 0, 0, 2, 1, RNNLAB_NORM_NONE, RNNLAB_LOSS_MSE,
                               RNNLAB_LOSS_ALL, 1, 1};
            batch_buf b;
            make_batch(&v, 2, 2, &b);
            outcome one, r;
            const int blocks[] = {T, 2, 3}; /* one block first: the reference */
            for (int i = 0; i < 3; i++) {
                rnnlab_bptt_config bc;
                rnnlab_bptt_config_init(&bc);
                bc.batch = B, bc.seq_len = T, bc.loss_at = RNNLAB_LOSS_ALL, bc.training = 1, bc.keep_cache = keep;
                bc.time_block = blocks[i];
                rnnlab_bptt *ws;
                assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
                run(&v, m, ws, &b, i ? &r : &one);
                if (i) {
                    assert_same_outcome(&v, &r, &one);
                    outcome_free(&r);
                }
                rnnlab_bptt_free(ws);
            }
            outcome_free(&one);
            batch_free(&b);
            rnnlab_model_free(m);
        }
}

/* Central differences of the split workspace's own loss (float64, eps 1e-6) for 40 parameters, with
 * one time block and with blocks of 2 steps. */
static void test_split_gradients_match_finite_differences(void **state)
{
    (void)state;
    const int pick[] = {2, 4, 1, 5};
    for (size_t k = 0; k < sizeof pick / sizeof pick[0]; k++) {
        const variant *v = &variants[pick[k]];
        const int O = v->loss == RNNLAB_LOSS_XENT ? 3 : 2;
        rnnlab_model *m = variant_model(v, O, RNNLAB_FLOAT64);
        batch_buf b;
        make_batch(v, O, v->L, &b);
        rnnlab_bptt *ws = variant_ws(v, m, 3, k < 2 ? T : 2);
        double loss;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &b.bt, &loss), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_OK);
        double *p = m->params;
        const double *g = m->grads;
        double *ga = malloc(sizeof(double) * 40), *gn = malloc(sizeof(double) * 40);
        for (int i = 0; i < 40; i++) {
            const size_t j = (size_t)i * 7919 % m->n_params;
            const double keep = p[j], eps = 1e-6;
            double lp, lm;
            ga[i] = g[j];
            p[j] = keep + eps;
            assert_int_equal(rnnlab_bptt_forward(ws, m, &b.bt, &lp), RNNLAB_OK);
            p[j] = keep - eps;
            assert_int_equal(rnnlab_bptt_forward(ws, m, &b.bt, &lm), RNNLAB_OK);
            p[j] = keep;
            gn[i] = (lp - lm) / (2 * eps);
        }
        assert_close("finite differences", ga, gn, 40, 1e-8, 1e-6);
        free(ga), free(gn);
        rnnlab_bptt_free(ws);
        batch_free(&b);
        rnnlab_model_free(m);
    }
}

/* A W1-sized LSTM splits by itself, and gives the same bytes on 1, 2 and 3 threads, float32. */
static void test_split_any_thread_count(void **state)
{
    (void)state;
    enum { BB = 40, TT = 12, II = 8, HH = 128 };
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = RNNLAB_CELL_LSTM, mc.input_size = II, mc.hidden_size = HH, mc.output_size = 2;
    mc.dtype = RNNLAB_FLOAT32;
    rnnlab_model *m = check_model(&mc, 4);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = BB, bc.seq_len = TT, bc.keep_cache = 0, bc.loss_at = RNNLAB_LOSS_ALL;
    double *x = malloc(sizeof(double) * TT * BB * II), *y = malloc(sizeof(double) * TT * BB * 2);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 8);
    for (int i = 0; i < TT * BB * II; i++) x[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (int i = 0; i < TT * BB * 2; i++) y[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    const rnnlab_batch bt = {.x = x, .target = y};
    const size_t gb = m->n_params * sizeof(float);
    unsigned char *ref = malloc(gb);
    double ref_loss = 0, ref_taps[TT];
    const int threads[] = {1, 2, 3};
    for (int k = 0; k < 3; k++) {
        rnnlab_threads_set(threads[k]);
        rnnlab_bptt *ws;
        assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_split(ws), 2);
        double loss;
        assert_int_equal(rnnlab_bptt_forward(ws, m, &bt, &loss), RNNLAB_OK);
        assert_int_equal(rnnlab_bptt_backward(ws, m, NULL, NULL, NULL), RNNLAB_OK);
        const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
        if (k == 0) {
            ref_loss = loss;
            memcpy(ref, m->grads, gb), memcpy(ref_taps, tp.h_norm, sizeof ref_taps);
        } else {
            assert_true(check_same_bytes("loss", &loss, &ref_loss, sizeof loss));
            assert_true(check_same_bytes("gradients", m->grads, ref, gb));
            assert_true(check_same_bytes("taps", tp.h_norm, ref_taps, sizeof ref_taps));
        }
        rnnlab_bptt_free(ws);
    }
    rnnlab_threads_set(1);
    free(ref), free(x), free(y);
    rnnlab_model_free(m);
}

static int auto_parts(rnnlab_cell_kind cell, int hidden, int batch, int keep_cache, int truncate, rnnlab_norm norm,
                      double dropout, int training)
{
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = cell, mc.input_size = 4, mc.hidden_size = hidden, mc.output_size = 1, mc.dtype = RNNLAB_FLOAT32;
    mc.norm = norm, mc.dropout = dropout, mc.num_layers = dropout > 0 ? 2 : 1;
    rnnlab_model *m = check_model(&mc, 1);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = batch, bc.seq_len = 10, bc.keep_cache = keep_cache, bc.truncate = truncate, bc.training = training;
    rnnlab_bptt *ws;
    assert_int_equal(rnnlab_bptt_create(&ws, m, &bc), RNNLAB_OK);
    const int n = rnnlab_bptt_split(ws);
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
    return n;
}

/* The rule (bptt_api.c, split_count): parts of 16-31 rows for training workspaces whose U fits in
 * 1 MiB; never with keep_cache, windowed truncation, batch norm, dropout in training or B < 32. */
static void test_split_rule(void **state)
{
    (void)state;
    assert_int_equal(auto_parts(RNNLAB_CELL_LSTM, 128, 32, 0, 0, RNNLAB_NORM_NONE, 0, 0), 2);
    assert_int_equal(auto_parts(RNNLAB_CELL_GRU, 32, 64, 0, 0, RNNLAB_NORM_NONE, 0, 1), 4);
    assert_int_equal(auto_parts(RNNLAB_CELL_RNN, 128, 47, 0, 0, RNNLAB_NORM_LAYER, 0.5, 0), 2);
    assert_int_equal(auto_parts(RNNLAB_CELL_LSTM, 256, 32, 0, 0, RNNLAB_NORM_NONE, 0, 0), 2); /* U = 1 MiB */
    assert_int_equal(auto_parts(RNNLAB_CELL_LSTM, 512, 64, 0, 0, RNNLAB_NORM_NONE, 0, 0), 1); /* 4 MiB: W2 */
    assert_int_equal(auto_parts(RNNLAB_CELL_LSTM, 128, 31, 0, 0, RNNLAB_NORM_NONE, 0, 0), 1);
    assert_int_equal(auto_parts(RNNLAB_CELL_LSTM, 128, 32, 1, 0, RNNLAB_NORM_NONE, 0, 0), 1);
    assert_int_equal(auto_parts(RNNLAB_CELL_RNN, 128, 32, 1, 4, RNNLAB_NORM_NONE, 0, 0), 1);
    assert_int_equal(auto_parts(RNNLAB_CELL_RNN, 128, 32, 0, 0, RNNLAB_NORM_BATCH, 0, 1), 1);
    assert_int_equal(auto_parts(RNNLAB_CELL_RNN, 128, 32, 0, 0, RNNLAB_NORM_NONE, 0.5, 1), 1);
}

/* A long sequence in chunks (rnnlab_bptt_chunked: keep_grads across chunks, carried states) on a split
 * workspace gives what it gives on one workspace; diagnostics and the window loss refuse a split one. */
static void test_split_chunked_and_refusals(void **state)
{
    (void)state;
    const variant *v = &variants[2]; /* lstm, h0 c0 */
    const int O = 3, TT = 3 * T + 2;
    rnnlab_model *m = variant_model(v, O, RNNLAB_FLOAT64);
    rnnlab_bptt *one = variant_ws(v, m, 1, 0), *two = variant_ws(v, m, 2, 0);
    double *x = malloc(sizeof(double) * TT * B * I);
    int *cls = malloc(sizeof(int) * TT * B);
    for (int i = 0; i < TT * B * I; i++) x[i] = sin(0.37 * i);
    for (int i = 0; i < TT * B; i++) cls[i] = i % O;
    const rnnlab_batch bt = {.x = x, .target_class = cls};
    double l1, l2, th1[TT], th2[TT], tc1[TT], tc2[TT];
    assert_int_equal(rnnlab_bptt_chunked(one, m, &bt, TT, &l1, th1, tc1), RNNLAB_OK);
    double *g1 = malloc(sizeof(double) * m->n_params);
    memcpy(g1, m->grads, sizeof(double) * m->n_params);
    assert_int_equal(rnnlab_bptt_chunked(two, m, &bt, TT, &l2, th2, tc2), RNNLAB_OK);
    assert_close1("chunked loss", l2, l1, 0, 1e-13);
    assert_close("chunked gradients", m->grads, g1, m->n_params, 1e-13, 1e-13);
    assert_close("chunked h taps", th2, th1, TT, 1e-13, 1e-13);
    assert_close("chunked c taps", tc2, tc1, TT, 1e-13, 1e-13);

    rnnlab_batch b7 = {.x = x, .target_class = cls};
    double loss, value;
    assert_int_equal(rnnlab_bptt_forward(two, m, &b7, &loss), RNNLAB_OK);
    rnnlab_saturation sat;
    assert_int_equal(rnnlab_diag_saturation(two, m, 0, &sat), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "keep_cache = 1"));
    assert_int_equal(rnnlab_bptt_window_loss(two, m, &b7, NULL, NULL, T, &value), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "keep_cache = 1"));
    free(x), free(cls), free(g1);
    rnnlab_bptt_free(one), rnnlab_bptt_free(two);
    rnnlab_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_compute_what_one_workspace_computes),
        cmocka_unit_test(test_time_blocks_compute_what_one_block_computes),
        cmocka_unit_test(test_time_blocks_with_dropout),
        cmocka_unit_test(test_split_gradients_match_finite_differences),
        cmocka_unit_test(test_split_any_thread_count),
        cmocka_unit_test(test_split_rule),
        cmocka_unit_test(test_split_chunked_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
