/*
 * test_reference.c - the PyTorch float64 reference cases of ../shared/reference (loss, outputs,
 * states, every gradient and every dL/dh_t norm agree to 1e-9 relative), a corrupted case that must
 * fail, and malformed files that must be refused with path:line messages.
 *
 * The reference files live outside the repository; when ../shared (or $RNNLAB_SHARED) is absent
 * those tests are skipped with a message. The malformed-file tests write their own files.
 */
#include "check.h"
#include "rnnlab/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const cases[] = {
    "rnn_tanh_I3_H5_L2_B4_T7_last.txt", "rnn_tanh_I3_H5_L2_B4_T7_all.txt", "rnn_relu_I3_H5_L2_B4_T7_last.txt",
    "rnn_relu_I3_H5_L2_B4_T7_all.txt",  "lstm_I3_H5_L2_B4_T7_last.txt",    "lstm_I3_H5_L2_B4_T7_all.txt",
    "gru_I3_H5_L2_B4_T7_last.txt",      "gru_I3_H5_L2_B4_T7_all.txt",
};

static const char *ref_path(const char *name)
{
    char sub[256];
    snprintf(sub, sizeof sub, "reference/%s", name);
    return check_shared_path(sub);
}

static void test_every_reference_case_agrees(void **state)
{
    (void)state;
    int run = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = ref_path(cases[i]);
        if (!p) {
            fprintf(stderr, "SKIP: %s not found (set RNNLAB_SHARED to the shared folder to run it)\n", cases[i]);
            continue;
        }
        rnnlab_refcase *rc;
        rnnlab_check_report rep;
        assert_int_equal(rnnlab_refcase_load(p, &rc), RNNLAB_OK);
        assert_int_equal(rnnlab_refcase_check(rc, 1e-9, &rep), RNNLAB_OK);
        int n_grad = 0, n_tap = 0;
        for (int e = 0; e < rep.n; e++) {
            if (!rep.e[e].pass)
                fprintf(stderr, "%s: %s: max rel %.3g (engine %.17g, reference %.17g)\n", cases[i], rep.e[e].name,
                        rep.e[e].max_rel, rep.e[e].worst_a, rep.e[e].worst_r);
            n_grad += strncmp(rep.e[e].name, "grad_", 5) == 0;
            n_tap += strstr(rep.e[e].name, "(tap)") != NULL;
        }
        assert_true(rep.all_pass);
        assert_true(n_grad >= 12); /* 8 layer tensors + head + input + h0 ... */
        assert_true(n_tap >= 2);
        rnnlab_check_report_free(&rep);
        rnnlab_refcase_free(rc);
        run++;
    }
    if (!run) skip();
}

/* Change one gradient of a real case by one part in 1e6: the check must notice. */
static void test_corrupted_case_fails(void **state)
{
    (void)state;
    const char *p = ref_path("lstm_I3_H5_L2_B4_T7_all.txt");
    if (!p) {
        fprintf(stderr, "SKIP: reference cases not found\n");
        skip();
    }
    rnnlab_refcase *rc;
    assert_int_equal(rnnlab_refcase_load(p, &rc), RNNLAB_OK);
    rnnlab_ref_tensor *t = (rnnlab_ref_tensor *)rnnlab_refcase_find(rc, "grad_weight_hh_l1");
    assert_non_null(t);
    t->v[7] *= 1 + 1e-6;
    rnnlab_check_report rep;
    assert_int_equal(rnnlab_refcase_check(rc, 1e-9, &rep), RNNLAB_OK);
    assert_false(rep.all_pass);
    for (int e = 0; e < rep.n; e++)
        if (!strcmp(rep.e[e].name, "grad_weight_hh_l1")) {
            assert_false(rep.e[e].pass);
            assert_int_equal(rep.e[e].worst, 7);
        } else
            assert_true(rep.e[e].pass);
    rnnlab_check_report_free(&rep);
    /* the file's per-element dL/dh_t are checked too (through the taps' norms): one changed entry fails */
    rnnlab_ref_tensor *gh = (rnnlab_ref_tensor *)rnnlab_refcase_find(rc, "grad_h");
    assert_non_null(gh);
    t->v[7] /= 1 + 1e-6;
    gh->v[3] *= 1 + 1e-3;
    assert_int_equal(rnnlab_refcase_check(rc, 1e-9, &rep), RNNLAB_OK);
    assert_false(rep.all_pass);
    for (int e = 0; e < rep.n; e++)
        assert_true(rep.e[e].pass == !strstr(rep.e[e].name, "from grad_h"));
    rnnlab_check_report_free(&rep);
    gh->v[3] /= 1 + 1e-3;
    /* an infinite reference value fails against the engine's finite one (|a - inf| <= tol * inf held:
       a trial saw a file with inf in it pass) */
    for (int sign = -1; sign <= 1; sign += 2) {
        const double keep = t->v[7];
        t->v[7] = sign * INFINITY;
        assert_int_equal(rnnlab_refcase_check(rc, 1e-9, &rep), RNNLAB_OK);
        assert_false(rep.all_pass);
        for (int e = 0; e < rep.n; e++) assert_true(rep.e[e].pass == !!strcmp(rep.e[e].name, "grad_weight_hh_l1"));
        rnnlab_check_report_free(&rep);
        t->v[7] = keep;
    }
    rnnlab_refcase_free(rc);
}

static void expect_refused(const char *text, const char *needle)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.txt", check_tmpdir());
    check_write_file(path, text);
    rnnlab_refcase *rc = (rnnlab_refcase *)1;
    assert_int_equal(rnnlab_refcase_load(path, &rc), RNNLAB_ERR_IO);
    assert_null(rc);
    const char *msg = rnnlab_last_error();
    if (!strstr(msg, needle) || !strstr(msg, path)) fprintf(stderr, "message '%s' lacks '%s' or the path\n", msg, needle);
    assert_non_null(strstr(msg, needle));
    assert_non_null(strstr(msg, path));
}

static void test_malformed_files_are_refused(void **state)
{
    (void)state;
    expect_refused("", "first word");
    expect_refused("format other-v2\n", "unsupported format");
    expect_refused("format torchref-gradref-v1\ncell lstm\nbogus 3\n", ":3: unknown key");
    expect_refused("format torchref-gradref-v1\ncell lstm\nhidden_size -2\n", ":3: expected a positive integer");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 1\ntensor loss 0\n", ":4: expected a number");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 1\ntensor loss 0\n0.5x\nend\n", ":5: expected a number");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 1\n# comment\ntensor v 1 3\n1 2\n", "expected a number");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 1\ntensor v 1 2\n1 2\n", "expected 'end'");
    /* a tensor count that disagrees with the tensors there, either way, is named as such */
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 2\ntensor v 1 2\n1 2\nend\n",
                   "n_tensors says 2, but the file ends after 1 tensors");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 1\ntensor v 1 2\n1 2\ntensor w 1 1\n3\nend\n",
                   "more tensors than n_tensors says");
    expect_refused("format torchref-gradref-v1\nn_tensors 0\nend\n", "no 'cell'");
    /* a key or a tensor given twice is refused at the second, not taken as its last value */
    expect_refused("format torchref-gradref-v1\ncell lstm\nhidden_size 4\nhidden_size 8\nn_tensors 0\nend\n",
                   ":4: key 'hidden_size' given twice (first on line 3)");
    expect_refused("format torchref-gradref-v1\ncell lstm\n\ncell gru\nn_tensors 0\nend\n",
                   ":4: key 'cell' given twice (first on line 2)");
    expect_refused("format torchref-gradref-v1\ncell lstm\nn_tensors 2\ntensor v 1 1\n1\ntensor v 1 1\n2\nend\n",
                   ":6: tensor name given twice (got 'v')");
    rnnlab_refcase *rc;
    assert_int_equal(rnnlab_refcase_load("/nonexistent/ref.txt", &rc), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "/nonexistent/ref.txt"));
    /* a device is refused before it is read (/dev/zero was read to the 2 GiB limit: 8 GB and a minute) */
    assert_int_equal(rnnlab_refcase_load("/dev/zero", &rc), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "/dev/zero: a device, not a reference case file"));
    assert_int_equal(rnnlab_refcase_load(check_tmpdir(), &rc), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), ": a folder, not a reference case file"));
}

/* A well-formed file missing a tensor the check needs: a clear error, not a crash. */
static void test_incomplete_case_is_an_error(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/incomplete.txt", check_tmpdir());
    check_write_file(path, "format torchref-gradref-v1\ncell rnn_tanh\ngates 1\ninput_size 1\nhidden_size 1\n"
                           "num_layers 1\nbatch 1\nseq_len 1\noutput_size 1\nloss last\nn_tensors 1\n"
                           "tensor weight_ih_l0 2 1 1\n0.5\nend\n");
    rnnlab_refcase *rc;
    assert_int_equal(rnnlab_refcase_load(path, &rc), RNNLAB_OK);
    rnnlab_check_report rep;
    assert_int_equal(rnnlab_refcase_check(rc, 1e-9, &rep), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "weight_hh_l0"));
    rnnlab_check_report_free(&rep);
    rnnlab_refcase_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_reference_case_agrees),
        cmocka_unit_test(test_corrupted_case_fails),
        cmocka_unit_test(test_malformed_files_are_refused),
        cmocka_unit_test(test_incomplete_case_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
