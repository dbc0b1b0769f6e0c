/*
 * test_checkpoint.c - checkpoints read back bit for bit (model, optimizer state, step, generator,
 * extra bytes; float32 and float64), and truncated, foreign, damaged and future files are refused
 * with a message naming the file; allocation failures while loading are reported, never crash.
 * Weights in PyTorch's layout: export then import gives the same bits, a PyTorch reference case
 * (../shared/reference) imports into a matching model, and mismatches are named.
 */
#include "check.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/gradcheck.h"
#include "rnnlab/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rnnlab_model *make_model(rnnlab_cell_kind cell, rnnlab_dtype dt, int peephole, uint64_t seed)
{
    rnnlab_model_config c;
    rnnlab_model_config_init(&c);
    c.cell = cell, c.input_size = 3, c.hidden_size = 5, c.num_layers = 2, c.output_size = 2, c.dtype = dt;
    c.peephole = peephole;
    return check_model(&c, seed);
}

/* A few Adam steps with made-up gradients, so every state block holds something. */
static rnnlab_optim *trained_optim(rnnlab_model *m)
{
    rnnlab_optim_config oc;
    rnnlab_optim_config_init(&oc, RNNLAB_OPTIM_ADAM);
    rnnlab_optim *o = NULL;
    assert_int_equal(rnnlab_optim_create(&o, m, &oc), RNNLAB_OK);
    for (int k = 0; k < 3; k++) {
        for (size_t j = 0; j < m->n_params; j++) {
            const double g = sin((double)(j + 7 * k));
            if (m->cfg.dtype == RNNLAB_FLOAT32) ((float *)m->grads)[j] = (float)g;
            else ((double *)m->grads)[j] = g;
        }
        assert_int_equal(rnnlab_optim_step(o, m, 1e-2), RNNLAB_OK);
    }
    return o;
}

static void spit(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* ---------------------------------------------------------------- round trip */

static void roundtrip(rnnlab_cell_kind cell, rnnlab_dtype dt, int peephole)
{
    rnnlab_model *m = make_model(cell, dt, peephole, 42);
    rnnlab_optim *o = trained_optim(m);
    rnnlab_checkpoint ck = {m, o, 1234, {{1, 2, 3, 0xffffffffffffffffULL}}, (unsigned char *)"extra bytes", 11};
    const char *path = check_tmp_path("a.ckpt");
    assert_int_equal(rnnlab_checkpoint_save(path, &ck), RNNLAB_OK);
    rnnlab_checkpoint back;
    assert_int_equal(rnnlab_checkpoint_load(path, &back), RNNLAB_OK);
    const size_t es = rnnlab_dtype_size(dt);
    assert_true(rnnlab_model_same_architecture(&back.model->cfg, &m->cfg));
    assert_int_equal(back.model->cfg.dtype, dt);
    assert_true(check_same_bytes("params", back.model->params, m->params, m->n_params * es));
    assert_non_null(back.optim);
    assert_int_equal(back.optim->cfg.kind, RNNLAB_OPTIM_ADAM);
    assert_int_equal(back.optim->step, 3);
    for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++)
        assert_true(check_same_bytes("optimizer state", back.optim->state[k], o->state[k], m->n_params * es));
    assert_int_equal(back.step, 1234);
    assert_true(back.rng.s[3] == 0xffffffffffffffffULL && back.rng.s[0] == 1);
    assert_int_equal(back.extra_len, 11);
    assert_memory_equal(back.extra, "extra bytes", 11);
    rnnlab_checkpoint_deinit(&back);
    rnnlab_checkpoint_deinit(&back); /* a zeroed struct is fine */
    /* without optimizer and extra */
    rnnlab_checkpoint bare = {m, NULL, 0, {{0, 0, 0, 0}}, NULL, 0};
    assert_int_equal(rnnlab_checkpoint_save(path, &bare), RNNLAB_OK);
    assert_int_equal(rnnlab_checkpoint_load(path, &back), RNNLAB_OK);
    assert_null(back.optim);
    assert_null(back.extra);
    rnnlab_checkpoint_deinit(&back);
    rnnlab_optim_free(o);
    rnnlab_model_free(m);
}

static void test_checkpoint_roundtrip(void **state)
{
    (void)state;
    roundtrip(RNNLAB_CELL_LSTM, RNNLAB_FLOAT64, 1);
    roundtrip(RNNLAB_CELL_GRU, RNNLAB_FLOAT32, 0);
    roundtrip(RNNLAB_CELL_RNN, RNNLAB_FLOAT64, 0);
}

/* ---------------------------------------------------------------- refusals */

static void expect_refused(const char *path, const char *why)
{
    rnnlab_checkpoint back;
    const rnnlab_status st = rnnlab_checkpoint_load(path, &back);
    if (st != RNNLAB_ERR_IO || !strstr(rnnlab_last_error(), path) || !strstr(rnnlab_last_error(), why))
        fprintf(stderr, "expected refusal '%s', got status %d: %s\n", why, (int)st, rnnlab_last_error());
    assert_int_equal(st, RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), path));
    assert_non_null(strstr(rnnlab_last_error(), why));
    assert_null(back.model);
}

static void test_checkpoint_refusals(void **state)
{
    { /* a folder is named as such */
        rnnlab_checkpoint ck;
        assert_int_equal(rnnlab_checkpoint_load(check_tmpdir(), &ck), RNNLAB_ERR_IO);
        assert_non_null(strstr(rnnlab_last_error(), "a folder, not a checkpoint"));
    }
    (void)state;
    rnnlab_model *m = make_model(RNNLAB_CELL_GRU, RNNLAB_FLOAT64, 0, 7);
    rnnlab_optim *o = trained_optim(m);
    rnnlab_checkpoint ck = {m, o, 5, {{0, 0, 0, 0}}, (unsigned char *)"xyz", 3};
    const char *good = check_tmp_path("good.ckpt"), *bad = check_tmp_path("bad.ckpt");
    assert_int_equal(rnnlab_checkpoint_save(good, &ck), RNNLAB_OK);
    size_t n;
    char *data = check_slurp(good, &n);
    assert_non_null(data);
    assert_true(n > 0);
    /* truncated at many lengths: a prefix of a checkpoint is never accepted */
    const size_t cuts[] = {8, 11, 12, 20, 40, n / 2, n - 5, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(bad, data, cuts[i]);
        expect_refused(bad, "truncated");
    }
    spit(bad, data, 0);
    expect_refused(bad, "not an rnnlab checkpoint");
    /* foreign: a text file */
    spit(bad, "format torchref-gradref-v1\n", 27);
    expect_refused(bad, "not an rnnlab checkpoint");
    /* damaged: one bit flipped in the parameters */
    data[n / 2] ^= 0x10;
    spit(bad, data, n);
    expect_refused(bad, "checksum mismatch");
    data[n / 2] ^= 0x10;
    /* a later version */
    data[8] = 2;
    spit(bad, data, n);
    expect_refused(bad, "version 2");
    data[8] = 1;
    /* trailing bytes */
    char *longer = malloc(n + 4);
    memcpy(longer, data, n);
    memset(longer + n, 0, 4);
    spit(bad, longer, n + 4);
    expect_refused(bad, "inconsistent");
    free(longer);
    /* missing */
    rnnlab_checkpoint back;
    assert_int_equal(rnnlab_checkpoint_load(check_tmp_path("nowhere.ckpt"), &back), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "nowhere.ckpt"));
    /* the good one still loads */
    assert_int_equal(rnnlab_checkpoint_load(good, &back), RNNLAB_OK);
    rnnlab_checkpoint_deinit(&back);
    /* a checkpoint needs a model, and an optimizer that fits it */
    rnnlab_checkpoint none = {NULL, NULL, 0, {{0, 0, 0, 0}}, NULL, 0};
    assert_int_equal(rnnlab_checkpoint_save(bad, &none), RNNLAB_ERR_CONFIG);
    rnnlab_model *other = make_model(RNNLAB_CELL_LSTM, RNNLAB_FLOAT64, 0, 7);
    rnnlab_checkpoint mixed = {other, o, 0, {{0, 0, 0, 0}}, NULL, 0};
    assert_int_equal(rnnlab_checkpoint_save(bad, &mixed), RNNLAB_ERR_CONFIG);
    rnnlab_model_free(other);
    free(data);
    rnnlab_optim_free(o);
    rnnlab_model_free(m);
}

/* Every allocation of a load failing in turn: an error, never a crash or a leak (make asan). */
static void test_checkpoint_alloc_failures(void **state)
{
    (void)state;
    rnnlab_model *m = make_model(RNNLAB_CELL_LSTM, RNNLAB_FLOAT32, 1, 3);
    rnnlab_optim *o = trained_optim(m);
    rnnlab_checkpoint ck = {m, o, 5, {{0, 0, 0, 0}}, (unsigned char *)"xyz", 3};
    const char *path = check_tmp_path("alloc.ckpt");
    assert_int_equal(rnnlab_checkpoint_save(path, &ck), RNNLAB_OK);
    int ok = 0;
    for (long k = 0; k < 64 && !ok; k++) {
        rnnlab_checkpoint back;
        rnnlab_alloc_fail_after(k);
        const rnnlab_status st = rnnlab_checkpoint_load(path, &back);
        rnnlab_alloc_fail_after(-1);
        if (st == RNNLAB_OK) ok = 1;
        else assert_int_equal(st, RNNLAB_ERR_NOMEM);
        rnnlab_checkpoint_deinit(&back);
    }
    assert_true(ok);
    rnnlab_optim_free(o);
    rnnlab_model_free(m);
}

/* ---------------------------------------------------------------- PyTorch layout */

static void test_weights_export_import(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        const rnnlab_dtype dt = p ? RNNLAB_FLOAT32 : RNNLAB_FLOAT64;
        rnnlab_model *m = make_model(RNNLAB_CELL_LSTM, dt, 0, 11), *n = make_model(RNNLAB_CELL_LSTM, dt, 0, 12);
        const char *path = check_tmp_path("w.txt");
        assert_int_equal(rnnlab_weights_export(path, m), RNNLAB_OK);
        assert_int_equal(rnnlab_weights_import(path, n), RNNLAB_OK);
        assert_true(check_same_bytes("imported parameters", n->params, m->params, m->n_params * rnnlab_dtype_size(dt)));
        size_t len;
        char *text = check_slurp(path, &len);
        assert_non_null(text);
        assert_non_null(strstr(text, "format torchref-gradref-v1"));
        assert_non_null(strstr(text, "tensor weight_ih_l0 2 20 3\n"));
        assert_non_null(strstr(text, "tensor head_bias 1 2\n"));
        assert_null(strstr(text, "NOT the torch.nn"));
        assert_null(strstr(text, "\nresidual"));
        free(text);
        /* another architecture is refused with the reason, and leaves the model as it was */
        rnnlab_model *g = make_model(RNNLAB_CELL_GRU, dt, 0, 13);
        const double before = rnnlab_model_param_at(g, 0);
        assert_int_equal(rnnlab_weights_import(path, g), RNNLAB_ERR_SHAPE);
        assert_non_null(strstr(rnnlab_last_error(), "cell lstm"));
        assert_true(rnnlab_model_param_at(g, 0) == before);
        rnnlab_model_free(g);
        rnnlab_model_free(m), rnnlab_model_free(n);
    }
    /* a model whose tensors a torch.nn module would load but compute otherwise says so in the file (the
       same tensors as plain nn.GRU's: a strict load would not fail), and rnnlab reads it back */
    for (int k = 0; k < 3; k++) {
        rnnlab_model_config c;
        rnnlab_model_config_init(&c);
        c.cell = RNNLAB_CELL_GRU, c.input_size = 3, c.hidden_size = 3, c.num_layers = 2, c.output_size = 1;
        c.residual = k != 1, c.gru_variant = k ? RNNLAB_GRU_RESET_BEFORE : RNNLAB_GRU_RESET_AFTER;
        rnnlab_model *m = check_model(&c, 21), *n = check_model(&c, 22);
        const char *path = check_tmp_path("w_res.txt");
        assert_int_equal(rnnlab_weights_export(path, m), RNNLAB_OK);
        char *text = check_slurp(path, NULL);
        assert_non_null(strstr(text, "# NOT the torch.nn.GRU of these tensors"));
        assert_true(!strstr(text, "\nresidual 1\n") == !c.residual);
        assert_true(!strstr(text, "\ngru_variant reset_before\n") == !k);
        assert_true(!strstr(text, "residual connections") == !c.residual);
        assert_true(!strstr(text, "Cho et al. 2014") == !k);
        free(text);
        assert_int_equal(rnnlab_weights_import(path, n), RNNLAB_OK);
        assert_true(check_same_bytes("imported parameters", n->params, m->params, m->n_params * sizeof(double)));
        /* into a plain model (PyTorch's GRU), what the file says it was made by is refused */
        rnnlab_model_config pc = c;
        pc.residual = 0, pc.gru_variant = RNNLAB_GRU_RESET_AFTER;
        rnnlab_model *plain = check_model(&pc, 23);
        assert_int_equal(rnnlab_weights_import(path, plain), RNNLAB_ERR_SHAPE);
        assert_non_null(strstr(rnnlab_last_error(), c.residual ? "residual connections" : "reset_before GRU"));
        rnnlab_model_free(plain);
        rnnlab_model_free(m), rnnlab_model_free(n);
    }
    /* a file missing a tensor, or with a wrong shape */
    const char *bad = check_tmp_path("bad.txt");
    check_write_file(bad, "format torchref-gradref-v1\ncell rnn_tanh\ninput_size 1\nhidden_size 1\nnum_layers 1\n"
                          "output_size 1\nn_tensors 1\ntensor weight_ih_l0 2 1 1 0.5\nend\n");
    rnnlab_model_config c;
    rnnlab_model_config_init(&c);
    c.hidden_size = 1;
    rnnlab_model *m = NULL;
    assert_int_equal(rnnlab_model_create(&m, &c), RNNLAB_OK);
    assert_int_equal(rnnlab_weights_import(bad, m), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "no tensor weight_hh_l0"));
    check_write_file(bad, "format torchref-gradref-v1\ncell rnn_tanh\nn_tensors 1\ntensor weight_ih_l0 2 2 1 0.5 0.5\nend\n");
    assert_int_equal(rnnlab_weights_import(bad, m), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "weight_ih_l0"));
    check_write_file(bad, "format torchref-gradref-v1\ncell rnn_tanh\nn_tensors 1\ntensor fc.weight 1 1 0.5\nend\n");
    assert_int_equal(rnnlab_weights_import(bad, m), RNNLAB_ERR_SHAPE);
    assert_non_null(strstr(rnnlab_last_error(), "fc.weight"));
    rnnlab_model_free(m);
}

/* A PyTorch reference case (weights written by PyTorch with its own state_dict names) imports into
 * the matching rnnlab model: the layouts are the same. */
static void test_weights_import_pytorch_case(void **state)
{
    (void)state;
    const char *path = check_shared_path("reference/gru_I3_H5_L2_B4_T7_all.txt");
    if (!path) {
        fprintf(stderr, "SKIP: ../shared/reference is not there (set RNNLAB_SHARED)\n");
        skip();
    }
    rnnlab_refcase *rc = NULL;
    assert_int_equal(rnnlab_refcase_load(path, &rc), RNNLAB_OK);
    rnnlab_model_config c;
    rnnlab_model_config_init(&c);
    c.cell = RNNLAB_CELL_GRU, c.input_size = rc->input_size, c.hidden_size = rc->hidden_size;
    c.num_layers = rc->num_layers, c.output_size = rc->output_size;
    rnnlab_model *m = NULL;
    assert_int_equal(rnnlab_model_create(&m, &c), RNNLAB_OK);
    assert_int_equal(rnnlab_weights_import(path, m), RNNLAB_OK);
    double *v = malloc(sizeof(double) * m->n_params);
    for (int i = 0; i < m->n_tensors; i++) {
        const rnnlab_ref_tensor *t = rnnlab_refcase_find(rc, m->tensors[i].name);
        assert_non_null(t);
        assert_int_equal(rnnlab_model_get(m, i, v), RNNLAB_OK);
        assert_true(check_same_bytes(m->tensors[i].name, v, t->v, t->numel * sizeof(double)));
    }
    free(v);
    rnnlab_model_free(m);
    rnnlab_refcase_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_checkpoint_refusals),
        cmocka_unit_test(test_checkpoint_alloc_failures),
        cmocka_unit_test(test_weights_export_import),
        cmocka_unit_test(test_weights_import_pytorch_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
