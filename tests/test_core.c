/*
 * test_core.c - status messages, the failing-allocation hook, the seeded generator, threads and
 * flush-to-zero on every pool thread, and the tiled transposition of core/gemm.c.
 */
#include "check.h"
#include "rnnlab/rnnlab.h"

#define RNNLAB_REAL_BITS 64
#include "core/real.h"
#include "core/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_status_messages(void **state)
{
    (void)state;
    assert_string_equal(rnnlab_status_str(RNNLAB_OK), "ok");
    assert_string_equal(rnnlab_status_str(RNNLAB_ERR_SHAPE), "shape error");
    assert_non_null(rnnlab_status_str((rnnlab_status)99));
    assert_int_equal(rnnlab_error(RNNLAB_ERR_CONFIG, "hidden_size must be >= 1 (got %d)", 0), RNNLAB_ERR_CONFIG);
    assert_string_equal(rnnlab_last_error(), "hidden_size must be >= 1 (got 0)");
    rnnlab_error_prefix(RNNLAB_ERR_CONFIG, "exp.ini:3");
    assert_string_equal(rnnlab_last_error(), "exp.ini:3: hidden_size must be >= 1 (got 0)");
    /* wrapping the last message in context, the way callers add an update number or a key */
    rnnlab_error(RNNLAB_ERR_NUMERIC, "loss is not finite (sample %d)", 2);
    rnnlab_error(RNNLAB_ERR_NUMERIC, "at update %d (%s)", 7, rnnlab_last_error());
    assert_string_equal(rnnlab_last_error(), "at update 7 (loss is not finite (sample 2))");
    /* a path as long as PATH_MAX keeps what follows it: the line, the key, the reason */
    static char path[4097];
    memset(path, 'a', 4096), path[0] = '/';
    rnnlab_error(RNNLAB_ERR_CONFIG, "%s:5: hidden_size: expected an integer", path);
    assert_int_equal(strlen(rnnlab_last_error()), 4096 + strlen(":5: hidden_size: expected an integer"));
    rnnlab_error_clear();
    assert_string_equal(rnnlab_last_error(), "");
}

static void test_alloc_fail_after(void **state)
{
    (void)state;
    rnnlab_alloc_fail_after(2);
    void *a = rnnlab_malloc(8), *b = rnnlab_malloc(8), *c = rnnlab_malloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    rnnlab_alloc_fail_after(-1);
    void *d = rnnlab_malloc(8);
    assert_non_null(d);
    rnnlab_free(a), rnnlab_free(b), rnnlab_free(d), rnnlab_free(NULL);
}

static void test_model_create_survives_every_failed_allocation(void **state)
{
    (void)state;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = RNNLAB_CELL_LSTM, mc.num_layers = 2;
    for (long n = 0; n < 10; n++) {
        rnnlab_model *m = NULL;
        rnnlab_alloc_fail_after(n);
        rnnlab_status st = rnnlab_model_create(&m, &mc);
        rnnlab_alloc_fail_after(-1);
        if (st == RNNLAB_OK) {
            assert_non_null(m);
            rnnlab_model_free(m);
            return;
        }
        assert_int_equal(st, RNNLAB_ERR_NOMEM);
        assert_null(m);
    }
    fail_msg("model creation never succeeded");
}

static void test_rng_reproducible_and_distinct(void **state)
{
    (void)state;
    rnnlab_rng a, b, c;
    rnnlab_rng_seed(&a, 42), rnnlab_rng_seed(&b, 42), rnnlab_rng_seed(&c, 43);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        const uint64_t x = rnnlab_rng_next(&a);
        assert_true(x == rnnlab_rng_next(&b));
        same_c += x == rnnlab_rng_next(&c);
    }
    assert_int_equal(same_c, 0);
}

/* Uniform U[0,1): mean 1/2, variance 1/12; normal: mean 0, variance 1. With n = 200000 draws the
 * standard error of the mean is sqrt(var/n) (6.5e-4 and 2.2e-3); 5 standard errors is the bound. */
static void test_rng_moments(void **state)
{
    (void)state;
    rnnlab_rng r;
    rnnlab_rng_seed(&r, 7);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        const double u = rnnlab_rng_uniform(&r), z = rnnlab_rng_normal(&r);
        su += u, su2 += u * u, sn += z, sn2 += z * z;
        umin = fmin(umin, u), umax = fmax(umax, u);
    }
    const double mu = su / n, vu = su2 / n - mu * mu, mn = sn / n, vn = sn2 / n - mn * mn;
    assert_true(umin >= 0 && umax < 1);
    assert_close1("uniform mean", mu, 0.5, 5 * sqrt(1.0 / 12 / n), 0);
    assert_close1("uniform variance", vu, 1.0 / 12, 5 * sqrt(1.0 / 180 / n), 0); /* var of u^2-ish: 1/180 */
    assert_close1("normal mean", mn, 0.0, 5 * sqrt(1.0 / n), 0);
    assert_close1("normal variance", vn, 1.0, 5 * sqrt(2.0 / n), 0);
}

static void test_rng_below_is_unbiased_and_in_range(void **state)
{
    (void)state;
    rnnlab_rng r;
    rnnlab_rng_seed(&r, 9);
    int count[3] = {0, 0, 0};
    const int n = 30000;
    for (int i = 0; i < n; i++) {
        const uint64_t v = rnnlab_rng_below(&r, 3);
        assert_true(v < 3);
        count[v]++;
    }
    /* binomial(n, 1/3): sd = sqrt(n * 2/9) = 81.6; 5 sd */
    for (int k = 0; k < 3; k++) assert_true(fabs(count[k] - n / 3.0) < 5 * sqrt(n * 2.0 / 9));
}

static void test_seed_derive_is_a_function_of_the_pair(void **state)
{
    (void)state;
    assert_true(rnnlab_seed_derive(1, 5) == rnnlab_seed_derive(1, 5));
    for (uint64_t i = 0; i < 200; i++)
        for (uint64_t j = i + 1; j < 200; j++) assert_true(rnnlab_seed_derive(1, i) != rnnlab_seed_derive(1, j));
    assert_true(rnnlab_seed_derive(1, 0) != rnnlab_seed_derive(2, 0));
}

static void test_ftz_on_every_thread(void **state)
{
    (void)state;
    if (!rnnlab_ftz_supported()) skip();
    const int saved = rnnlab_threads_get();
    rnnlab_threads_set(4);
    assert_int_equal(rnnlab_ftz_set(1), RNNLAB_OK);
    assert_int_equal(rnnlab_ftz_count_threads(), rnnlab_threads_get());
    /* a subnormal result is flushed on this thread */
    volatile double tiny = 1e-300, r = tiny * 1e-10;
    assert_true(r == 0.0);
    assert_int_equal(rnnlab_ftz_set(0), RNNLAB_OK);
    assert_int_equal(rnnlab_ftz_count_threads(), 0);
    r = tiny * 1e-10;
    assert_true(r > 0.0);
    rnnlab_threads_set(saved);
}

static void test_names_and_parsing(void **state)
{
    (void)state;
    rnnlab_cell_kind k;
    rnnlab_activation a = RNNLAB_ACT_SIGMOID;
    int set;
    assert_int_equal(rnnlab_cell_parse("rnn_relu", &k, &a, &set), RNNLAB_OK);
    assert_int_equal(k, RNNLAB_CELL_RNN);
    assert_int_equal(a, RNNLAB_ACT_RELU);
    assert_int_equal(set, 1);
    assert_int_equal(rnnlab_cell_parse("gru", &k, &a, &set), RNNLAB_OK);
    assert_int_equal(k, RNNLAB_CELL_GRU);
    assert_int_equal(set, 0);
    assert_int_equal(rnnlab_cell_parse("lstmx", &k, &a, &set), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "lstmx"));
    assert_string_equal(rnnlab_cell_label(RNNLAB_CELL_RNN, RNNLAB_ACT_TANH), "rnn_tanh");
    assert_int_equal(rnnlab_cell_gates(RNNLAB_CELL_LSTM), 4);
    assert_int_equal(rnnlab_cell_gates(RNNLAB_CELL_GRU), 3);
    rnnlab_gru_variant v;
    assert_int_equal(rnnlab_gru_variant_parse("reset_before", &v), RNNLAB_OK);
    assert_int_equal(v, RNNLAB_GRU_RESET_BEFORE);
    assert_int_equal(rnnlab_gru_variant_parse("before", &v), RNNLAB_ERR_CONFIG);
    rnnlab_dtype d;
    assert_int_equal(rnnlab_dtype_parse("float32", &d), RNNLAB_OK);
    assert_int_equal(d, RNNLAB_FLOAT32);
    /* a number is the whole cell: no white space around it (strtod alone would skip it in front) */
    double x = 0;
    assert_true(rnnlab_parse_double("-2.5e-3", &x) && x == -2.5e-3);
    /* nor hex: "0x1A" would be read as 26, "0x1p3" as 8 */
    const char *not_numbers[] = {"", " 1", "\t1", "\n1", "\r1", "1 ", "1\n", "1x", "--1", "0x1A", "0X10", "0x1p3", "-0x2"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof *not_numbers; i++)
        assert_int_equal(rnnlab_parse_double(not_numbers[i], &x), 0);
    /* the shortest text that reads back the same double: as a file wrote it, where %.17g is longer
       (the digits of Python's repr of each value, the shortest that reads back, in %g's form) */
    const struct {
        double v;
        const char *text;
    } shortest[] = {{0.063107, "0.063107"}, {0.1, "0.1"}, {1e300, "1e+300"}, {-0.0, "-0"}, {3, "3"},
                    {1.0 / 3, "0.3333333333333333"}, {5e-324, "5e-324"}, {NAN, "nan"},
                    {-INFINITY, "-inf"}, {0.1 + 0.2, "0.30000000000000004"}, {300, "300"}, {20, "20"},
                    {-1e16, "-10000000000000000"}}; /* whole numbers as written, not 3e+02 (a review) */
    for (size_t i = 0; i < sizeof shortest / sizeof *shortest; i++) {
        char buf[40];
        rnnlab_format_shortest(buf, sizeof buf, shortest[i].v);
        assert_string_equal(buf, shortest[i].text);
    }
}

static void test_model_layout_matches_pytorch(void **state)
{
    (void)state;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.cell = RNNLAB_CELL_GRU, mc.input_size = 3, mc.hidden_size = 5, mc.num_layers = 2, mc.output_size = 2;
    rnnlab_model *m;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_OK);
    const char *names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1",
                           "weight_hh_l1", "bias_ih_l1",   "bias_hh_l1", "head_weight", "head_bias"};
    const int rows[] = {15, 15, 15, 15, 15, 15, 15, 15, 2, 2}, cols[] = {3, 5, 1, 1, 5, 5, 1, 1, 5, 1};
    assert_int_equal(m->n_tensors, 10);
    size_t off = 0;
    for (int i = 0; i < 10; i++) {
        assert_string_equal(m->tensors[i].name, names[i]);
        assert_int_equal(m->tensors[i].dims[0], rows[i]);
        assert_int_equal(m->tensors[i].dims[1], cols[i]);
        assert_int_equal(m->tensors[i].offset, off);
        off += (size_t)rows[i] * cols[i];
    }
    assert_int_equal(m->n_params, off);
    assert_int_equal(rnnlab_model_find(m, "bias_hh_l1"), 7);
    assert_int_equal(rnnlab_model_find(m, "nope"), -1);
    rnnlab_model_free(m);
    mc.hidden_size = 0;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "hidden_size"));
    mc.hidden_size = 4, mc.peephole = 1;
    assert_int_equal(rnnlab_model_create(&m, &mc), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "peephole"));
}

/* rnnlab_transpose (U^T for the steps' products, A^T for the Jacobian view) against the definition
 * At[j][i] = A[i][j], on shapes with full 8 x 8 tiles, with edge tiles on either side, and thin ones;
 * every value distinct, and At's guard past its end untouched. */
static void test_transpose_tiles(void **state)
{
    (void)state;
    const int shapes[][2] = {{8, 16}, {13, 21}, {21, 13}, {1, 5}, {5, 1}, {64, 9}, {128, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int rows = shapes[s][0], cols = shapes[s][1];
        const size_t n = (size_t)rows * cols;
        double *A = malloc(n * sizeof *A), *At = malloc((n + 1) * sizeof *At);
        assert_non_null(A), assert_non_null(At);
        for (size_t k = 0; k < n; k++) A[k] = (double)k + 0.5;
        for (size_t k = 0; k <= n; k++) At[k] = -1;
        rnnlab_transpose_f64(A, rows, cols, At);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) assert_true(At[(size_t)j * rows + i] == A[(size_t)i * cols + j]);
        assert_true(At[n] == -1);
        free(A), free(At);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transpose_tiles),
        cmocka_unit_test(test_status_messages),
        cmocka_unit_test(test_alloc_fail_after),
        cmocka_unit_test(test_model_create_survives_every_failed_allocation),
        cmocka_unit_test(test_rng_reproducible_and_distinct),
        cmocka_unit_test(test_rng_moments),
        cmocka_unit_test(test_rng_below_is_unbiased_and_in_range),
        cmocka_unit_test(test_seed_derive_is_a_function_of_the_pair),
        cmocka_unit_test(test_ftz_on_every_thread),
        cmocka_unit_test(test_names_and_parsing),
        cmocka_unit_test(test_model_layout_matches_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
