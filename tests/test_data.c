/*
 * test_data.c - the synthetic tasks (distribution, baseline, determinism by seed) and the seeded
 * order of examples. Loaders are in test_data_loaders.c, the padding invariance in
 * test_data_padding.c.
 */
#include "check.h"
#include "rnnlab/data.h"
#include "rnnlab/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static int hot(const check_batch *b, int t, int s)
{
    int k = -1, n = 0;
    for (int i = 0; i < b->I; i++)
        if (check_batch_x(b, t, s, i) != 0) k = i, n++;
    assert_int_equal(n, 1);
    assert_true(check_batch_x(b, t, s, k) == 1.0);
    return k;
}

/* ---------------------------------------------------------------- registry and options */

static void test_registry_lists_every_task(void **state)
{
    (void)state;
    static const char *const want[] = {"adding",       "copy",       "temporal_order", "two_sequence",
                                       "fashion_mnist", "text",      "jsb_chorales",   "nottingham",
                                       "musedata",     "piano_midi", "csv"};
    assert_int_equal(rnnlab_task_count(), (int)(sizeof want / sizeof want[0]));
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const int i = rnnlab_task_find(want[k]);
        assert_true(i >= 0);
        assert_string_equal(rnnlab_task_name(i), want[k]);
        assert_true(strlen(rnnlab_task_summary(i)) > 10);
        assert_true(strlen(rnnlab_task_options_doc(i)) > 10);
        assert_true(strlen(rnnlab_task_shape(i)) > 3);
        assert_true(strlen(rnnlab_task_size(i)) > 3);
        assert_true(strlen(rnnlab_task_source(i)) > 10);
        const int inst = rnnlab_task_installed(i);
        assert_true(inst == -1 || inst == 0 || inst == 1);
        assert_int_equal(inst == -1, rnnlab_task_data_path(i) == NULL);
    }
    assert_int_equal(rnnlab_task_find("nope"), -1);
    assert_int_equal(rnnlab_task_installed(-1), -1);
    assert_string_equal(rnnlab_task_name(99), "?");
}

static void test_options_are_checked(void **state)
{
    (void)state;
    rnnlab_dataset *ds = (rnnlab_dataset *)1;
    int bad = 7;
    assert_int_equal(rnnlab_dataset_open(&ds, "nope", NULL, 0, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_null(ds);
    assert_non_null(strstr(rnnlab_last_error(), "known: adding, copy"));
    const rnnlab_option unknown[] = {{"seq_len", "30", 3}, {"seqlen", "30", 4}};
    assert_int_equal(rnnlab_dataset_open(&ds, "adding", unknown, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(rnnlab_last_error(), "seqlen: not an option of task adding"));
    const rnnlab_option badval[] = {{"delay", "ten", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "copy", badval, 1, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_int_equal(bad, 0);
    assert_non_null(strstr(rnnlab_last_error(), "delay: expected an integer"));
    assert_int_equal(rnnlab_dataset_open(&ds, "copy", NULL, 0, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "delay: the copy task needs delay"));
    const rnnlab_option variant[] = {{"variant", "pascanu2013", 0}, {"length", "variable", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "temporal_order", variant, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_int_equal(bad, 1);
    const rnnlab_option info[] = {{"seq_len", "5", 0}, {"info", "5", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "two_sequence", info, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_int_equal(bad, 1);
    const rnnlab_option frac[] = {{"path", "x", 0}, {"split", "0.5,0.5", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "text", frac, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(rnnlab_last_error(), "split: expected three fractions"));
    const rnnlab_option frac2[] = {{"path", "x", 0}, {"split", "0.5,0.6,-0.1", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "text", frac2, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    const rnnlab_option frac3[] = {{"path", "x", 0}, {"split", "0.5,0.25,0.25,0", 0}};
    assert_int_equal(rnnlab_dataset_open(&ds, "text", frac3, 2, 1, &bad), RNNLAB_ERR_CONFIG);
    /* batch arguments */
    const rnnlab_option ok[] = {{"seq_len", "30", 0}};
    ds = check_dataset_open("adding", ok, 1, 1);
    double x[66 * 2], y[2];
    int len[2];
    assert_int_equal(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, 0, x, y, NULL, len), RNNLAB_ERR_CONFIG);
    assert_int_equal(rnnlab_dataset_batch(ds, (rnnlab_split)3, 0, 1, x, y, NULL, len), RNNLAB_ERR_CONFIG);
    assert_int_equal(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, -1, 1, x, y, NULL, len), RNNLAB_ERR_CONFIG);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], -1);
    rnnlab_dataset_close(ds);
    rnnlab_dataset_close(NULL);
}

/* ---------------------------------------------------------------- adding */

static void test_adding_hochreiter1997(void **state)
{
    (void)state;
    const rnnlab_option o[] = {{"seq_len", "50", 0}};
    rnnlab_dataset *ds = check_dataset_open("adding", o, 1, 11);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->seq_len, 55);
    assert_int_equal(in->variable_length, 1);
    assert_true(fabs(in->baseline - 0.0395833333) < 1e-9);
    double mse = 0, m1_first = 0;
    int n = 0, len_seen[6] = {0};
    for (long index = 0; index < 40; index++) {
        check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TRAIN, index, 100);
        for (int s = 0; s < b.B; s++, n++) {
            const int L = b.len[s];
            assert_true(L >= 50 && L <= 55);
            len_seen[L - 50] = 1;
            int marks[2], nm = 0;
            double sum = 0;
            for (int t = 0; t < b.T; t++) {
                const double v = check_batch_x(&b, t, s, 0), m = check_batch_x(&b, t, s, 1);
                if (t >= L) { /* padding is zero */
                    assert_true(v == 0 && m == 0);
                    continue;
                }
                assert_true(v >= -1 && v <= 1);
                if (m == 1) {
                    assert_true(nm < 2);
                    marks[nm++] = t, sum += v;
                } else if (t == 0 || t == L - 1) {
                    assert_true(m == -1);
                } else {
                    assert_true(m == 0);
                }
            }
            assert_int_equal(nm, 2);
            assert_true(marks[0] < 24); /* both among the first T/2 - 1 = 24 */
            assert_true(marks[1] < 24);
            if (marks[0] == 0) m1_first++;
            assert_close1("target", b.y[s], 0.5 + sum / 4, 1e-15, 0);
            mse += (b.y[s] - 0.5) * (b.y[s] - 0.5);
        }
        check_batch_free(&b);
    }
    for (int k = 0; k < 6; k++) assert_true(len_seen[k]);
    mse /= n;
    /* the baseline, within 4 standard errors (sd of (target-0.5)^2 is about 0.045) */
    assert_true(fabs(mse - in->baseline) < 4 * 0.045 / sqrt(n));
    /* a marker on the first pair: P = 1/10 (first pick) + 9/10 * 1/23 (second pick) = 0.139 */
    assert_true(fabs(m1_first / n - 0.139) < 0.03);
    rnnlab_dataset_close(ds);
}

static void test_adding_le2015(void **state)
{
    (void)state;
    const rnnlab_option o[] = {{"seq_len", "40", 0}, {"variant", "le2015", 0}};
    rnnlab_dataset *ds = check_dataset_open("adding", o, 2, 3);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->seq_len, 40);
    assert_int_equal(in->variable_length, 0);
    assert_true(fabs(in->baseline - 1.0 / 6) < 1e-15);
    double mse = 0, mean = 0;
    int n = 0;
    for (long index = 0; index < 40; index++) {
        check_batch b = check_batch_get(ds, RNNLAB_SPLIT_VALID, index, 100);
        for (int s = 0; s < b.B; s++, n++) {
            assert_int_equal(b.len[s], 40);
            int first = 0, second = 0;
            double sum = 0;
            for (int t = 0; t < 40; t++) {
                const double v = check_batch_x(&b, t, s, 0), m = check_batch_x(&b, t, s, 1);
                assert_true(v >= 0 && v < 1);
                assert_true(m == 0 || m == 1);
                if (m == 1) *(t < 20 ? &first : &second) += 1, sum += v;
            }
            assert_int_equal(first, 1);
            assert_int_equal(second, 1);
            assert_close1("target", b.y[s], sum, 1e-15, 0);
            mse += (b.y[s] - 1) * (b.y[s] - 1), mean += b.y[s];
        }
        check_batch_free(&b);
    }
    assert_true(fabs(mean / n - 1) < 4 * sqrt(1.0 / 6 / n));
    assert_true(fabs(mse / n - 1.0 / 6) < 4 * 0.15 / sqrt(n)); /* sd of (X1+X2-1)^2 is about 0.15 */
    rnnlab_dataset_close(ds);
}

/* ---------------------------------------------------------------- determinism */

/* For every generator: the same (seed, split, index, B) gives the same bytes from a fresh dataset
 * and out of order; other seeds, splits and indices give other data. */
static void test_generators_are_deterministic_by_seed(void **state)
{
    (void)state;
    const rnnlab_option add[] = {{"seq_len", "30", 0}}, cp[] = {{"delay", "12", 0}}, to[] = {{"seq_len", "30", 0}},
                        ts[] = {{"seq_len", "20", 0}, {"variant", "3c", 0}};
    const struct {
        const char *name;
        const rnnlab_option *o;
        int n;
    } cases[] = {{"adding", add, 1}, {"copy", cp, 1}, {"temporal_order", to, 1}, {"two_sequence", ts, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rnnlab_dataset *a = check_dataset_open(cases[c].name, cases[c].o, cases[c].n, 42);
        rnnlab_dataset *b = check_dataset_open(cases[c].name, cases[c].o, cases[c].n, 42);
        rnnlab_dataset *other = check_dataset_open(cases[c].name, cases[c].o, cases[c].n, 43);
        check_batch a5 = check_batch_get(a, RNNLAB_SPLIT_TRAIN, 5, 4);
        check_batch b0 = check_batch_get(b, RNNLAB_SPLIT_TRAIN, 0, 4); /* other batches first: no hidden state */
        check_batch b5 = check_batch_get(b, RNNLAB_SPLIT_TRAIN, 5, 4);
        check_batch o5 = check_batch_get(other, RNNLAB_SPLIT_TRAIN, 5, 4);
        check_batch v5 = check_batch_get(a, RNNLAB_SPLIT_VALID, 5, 4);
        const size_t nx = sizeof(double) * a5.T * 4 * a5.I;
        assert_true(check_same_bytes(cases[c].name, a5.x, b5.x, nx));
        assert_memory_equal(a5.len, b5.len, sizeof(int) * 4);
        assert_true(memcmp(a5.x, b0.x, nx) != 0);
        assert_true(memcmp(a5.x, o5.x, nx) != 0);
        assert_true(memcmp(a5.x, v5.x, nx) != 0);
        /* sample b of a batch does not depend on the samples after it */
        check_batch a5_2 = check_batch_get(a, RNNLAB_SPLIT_TRAIN, 5, 2);
        if (a5.len[0] == a5.T) /* same T: compare the first sample's inputs */
            for (int t = 0; t < a5.T; t++)
                for (int i = 0; i < a5.I; i++) assert_true(check_batch_x(&a5, t, 0, i) == check_batch_x(&a5_2, t, 0, i));
        check_batch_free(&a5), check_batch_free(&b0), check_batch_free(&b5);
        check_batch_free(&o5), check_batch_free(&v5), check_batch_free(&a5_2);
        rnnlab_dataset_close(a), rnnlab_dataset_close(b), rnnlab_dataset_close(other);
    }
}

/* ---------------------------------------------------------------- copy */

static void test_copy_memory(void **state)
{
    (void)state;
    const rnnlab_option o[] = {{"delay", "30", 0}};
    rnnlab_dataset *ds = check_dataset_open("copy", o, 1, 5);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->seq_len, 50);
    assert_int_equal(in->input_size, 10);
    assert_int_equal(in->output_size, 9);
    assert_int_equal(in->loss, RNNLAB_LOSS_XENT);
    assert_int_equal(in->loss_at, RNNLAB_LOSS_ALL);
    assert_close1("baseline", in->baseline, 10 * log(8.0) / 50, 1e-15, 0);
    long counts[10] = {0};
    int n = 0;
    double base = 0;
    for (long index = 0; index < 20; index++) {
        check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TEST, index, 50);
        for (int s = 0; s < b.B; s++, n++) {
            assert_int_equal(b.len[s], 50);
            double loss = 0; /* the memoryless predictor's cross-entropy on this sample */
            for (int t = 0; t < 50; t++) {
                const int k = hot(&b, t, s), c = b.cls[(size_t)t * b.B + s];
                if (t < 10) assert_true(k >= 1 && k <= 8), counts[k]++;
                else if (t == 39) assert_int_equal(k, 9); /* the delimiter after delay - 1 blanks */
                else assert_int_equal(k, 0);
                if (t < 40) assert_int_equal(c, 0);
                else assert_int_equal(c, hot(&b, t - 40, s));
                loss += t < 40 ? 0 : log(8.0);
            }
            base += loss / 50;
        }
        check_batch_free(&b);
    }
    assert_close1("empirical baseline", base / n, in->baseline, 1e-12, 0);
    for (int k = 1; k <= 8; k++) /* uniform categories: 1250 each, sd 33 */
        assert_true(labs(counts[k] - 1250) < 150);
    rnnlab_dataset_close(ds);
}

/* ---------------------------------------------------------------- temporal order */

static void test_temporal_order(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++)
        for (int bits = 2; bits <= 3; bits++) {
            const rnnlab_option o[] = {{"variant", variant ? "pascanu2013" : "hochreiter1997", 0},
                                       {"bits", bits == 2 ? "2" : "3", 0}, {"seq_len", "100", 0}};
            rnnlab_dataset *ds = check_dataset_open("temporal_order", o, 3, 9);
            const rnnlab_task_info *in = rnnlab_dataset_info(ds);
            const int C = 1 << bits;
            assert_int_equal(in->output_size, C);
            assert_int_equal(in->input_size, variant ? 6 : 8);
            assert_int_equal(in->seq_len, variant ? 100 : 110);
            assert_close1("baseline", in->baseline, log((double)C), 1e-15, 0);
            long cls_count[8] = {0};
            int n = 0;
            for (long index = 0; index < 16; index++) {
                check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TRAIN, index, 100);
                for (int s = 0; s < b.B; s++, n++) {
                    const int L = b.len[s];
                    int pos[3], val[3], nr = 0;
                    for (int t = 0; t < L; t++) {
                        const int k = hot(&b, t, s);
                        if (!variant) { /* E B a b c d X Y */
                            if (t == 0) assert_int_equal(k, 0);
                            else if (t == L - 1) assert_int_equal(k, 1);
                            else if (k >= 6) assert_true(nr < bits), pos[nr] = t + 1, val[nr++] = k - 6;
                            else assert_true(k >= 2 && k <= 5);
                        } else { /* A B c d e f */
                            if (k <= 1) assert_true(nr < bits), pos[nr] = t, val[nr++] = k;
                        }
                    }
                    for (int t = L; t < b.T; t++)
                        for (int i = 0; i < b.I; i++) assert_true(check_batch_x(&b, t, s, i) == 0);
                    assert_int_equal(nr, bits);
                    int c = 0;
                    if (!variant) {
                        assert_true(L >= 100 && L <= 110);
                        static const int lo[2][3] = {{10, 50, 0}, {10, 33, 66}};
                        for (int k = 0; k < bits; k++) {
                            assert_true(pos[k] >= lo[bits - 2][k] && pos[k] <= lo[bits - 2][k] + 10);
                            c = 2 * c + val[k];
                        }
                    } else {
                        assert_int_equal(L, 100);
                        static const int lo[2][3] = {{10, 50, 0}, {10, 30, 60}};
                        for (int k = 0; k < bits; k++) {
                            assert_true(pos[k] >= lo[bits - 2][k] && pos[k] < lo[bits - 2][k] + 10);
                            c += val[k] << k;
                        }
                    }
                    assert_int_equal(b.cls[s], c);
                    cls_count[c]++;
                }
                check_batch_free(&b);
            }
            for (int c = 0; c < C; c++) /* equally likely classes */
                assert_true(fabs((double)cls_count[c] - (double)n / C) < 5 * sqrt((double)n / C));
            rnnlab_dataset_close(ds);
        }
}

/* ---------------------------------------------------------------- two-sequence */

static void test_two_sequence(void **state)
{
    (void)state;
    for (int v = 0; v < 3; v++) {
        static const char *const names[3] = {"3a", "3b", "3c"};
        const rnnlab_option o[] = {{"variant", names[v], 0}, {"seq_len", "60", 0}, {"info", "3", 0}};
        rnnlab_dataset *ds = check_dataset_open("two_sequence", o, 3, 21);
        const rnnlab_task_info *in = rnnlab_dataset_info(ds);
        assert_int_equal(in->seq_len, 66);
        assert_true(in->baseline == (v == 2 ? 0.09 : 0.25));
        for (int split = 0; split < 2; split++) {
            double noise2 = 0, info_dev2 = 0, mse = 0, target_dev2 = 0;
            long n_noise = 0, n_info = 0, n = 0;
            for (long index = 0; index < 20; index++) {
                check_batch b = check_batch_get(ds, (rnnlab_split)split, index, 100);
                for (int s = 0; s < b.B; s++, n++) {
                    assert_true(b.len[s] >= 60 && b.len[s] <= 66);
                    /* the class: from the clean target, or (3c training) from the informative steps */
                    const int clean_target = v < 2 || split == RNNLAB_SPLIT_VALID;
                    const double informative =
                        check_batch_x(&b, 0, s, 0) + check_batch_x(&b, 1, s, 0) + check_batch_x(&b, 2, s, 0);
                    const double sign = clean_target ? (b.y[s] > 0.5 ? 1 : -1) : (informative > 0 ? 1 : -1);
                    for (int t = 0; t < b.len[s]; t++) {
                        const double x = check_batch_x(&b, t, s, 0);
                        if (t < 3) {
                            if (v == 0) assert_true(x == sign);
                            info_dev2 += (x - sign) * (x - sign), n_info++;
                        } else {
                            noise2 += x * x, n_noise++;
                        }
                    }
                    const double clean = v == 2 ? (sign > 0 ? 0.8 : 0.2) : (sign > 0 ? 1.0 : 0.0);
                    if (clean_target) assert_true(b.y[s] == clean);
                    target_dev2 += (b.y[s] - clean) * (b.y[s] - clean);
                    mse += (b.y[s] - 0.5) * (b.y[s] - 0.5);
                }
                check_batch_free(&b);
            }
            assert_true(fabs(noise2 / n_noise - 0.2) < 0.01);
            if (v > 0) assert_true(fabs(info_dev2 / n_info - 0.2) < 0.03);
            if (v == 2 && split == RNNLAB_SPLIT_TRAIN) assert_true(fabs(target_dev2 / n - 0.1) < 0.02);
            if (v < 2 || split == RNNLAB_SPLIT_VALID) assert_true(fabs(mse / n - in->baseline) < 1e-12);
        }
        rnnlab_dataset_close(ds);
    }
}

/* ---------------------------------------------------------------- the order of examples */

/* A dataset with n examples: the csv task on a small file of one-row sequences. */
static rnnlab_dataset *counting_dataset(int n, uint64_t seed)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/count%d.csv", check_tmpdir(), n);
    char *text = malloc((size_t)n * 32 + 32);
    int off = sprintf(text, "id,t,v\n");
    for (int i = 0; i < n; i++) off += sprintf(text + off, "s%d,0,%d\n", i, i);
    check_write_file(path, text);
    free(text);
    const rnnlab_option o[] = {{"path", path, 0}, {"features", "v", 0}, {"targets", "v", 0}, {"split", "1,0,0", 0}};
    return check_dataset_open("csv", o, 4, seed);
}

static void test_train_order_is_a_permutation_per_epoch(void **state)
{
    (void)state;
    const int n = 37, B = 5;
    rnnlab_dataset *ds = counting_dataset(n, 3), *ds2 = counting_dataset(n, 4);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], n);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[1], 0);
    int seen[3][37] = {{0}}, order[2][37 * 3], differs = 0;
    for (int d = 0; d < 2; d++)
        for (long index = 0; index < (3 * n + B - 1) / B; index++) {
            check_batch b = check_batch_get(d ? ds2 : ds, RNNLAB_SPLIT_TRAIN, index, B);
            for (int s = 0; s < B && index * B + s < 3 * n; s++) {
                const long p = index * B + s;
                const int v = (int)check_batch_x(&b, 0, s, 0);
                order[d][p] = v;
                if (!d) seen[p / n][v]++;
            }
            check_batch_free(&b);
        }
    for (int e = 0; e < 3; e++)
        for (int v = 0; v < n; v++) assert_int_equal(seen[e][v], 1); /* each epoch visits every example once */
    for (int p = 0; p < n; p++) differs += order[0][p] != order[1][p] || order[0][p] != p;
    assert_true(differs > n / 2);                                   /* shuffled, and by the seed */
    assert_true(memcmp(order[0], order[0] + n, sizeof(int) * n) != 0); /* each epoch its own order */
    /* the empty split is refused */
    double x[8];
    int len[1];
    assert_int_equal(rnnlab_dataset_batch(ds, RNNLAB_SPLIT_VALID, 0, 1, x, x, NULL, len), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "split valid of task csv is empty"));
    rnnlab_dataset_close(ds), rnnlab_dataset_close(ds2);
}

static void test_show_renders_every_generator(void **state)
{
    (void)state;
    const rnnlab_option add[] = {{"seq_len", "30", 0}}, cp[] = {{"delay", "5", 0}}, none[] = {{"seq_len", "100", 0}};
    const struct {
        const char *name;
        const rnnlab_option *o;
        const char *expect;
    } cases[] = {{"adding", add, "marked steps"}, {"copy", cp, "target ___"}, {"temporal_order", none, "class"},
                 {"two_sequence", none, "informative steps"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rnnlab_dataset *ds = check_dataset_open(cases[c].name, cases[c].o, 1, 1);
        char *text = NULL;
        assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TRAIN, 2, &text), RNNLAB_OK);
        assert_non_null(strstr(text, "example 1:"));
        assert_non_null(strstr(text, cases[c].expect));
        assert_non_null(strstr(text, "trivial baseline"));
        rnnlab_free(text);
        assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TRAIN, 0, &text), RNNLAB_ERR_CONFIG);
        rnnlab_dataset_close(ds);
    }
}

/* Every allocation of opening (and of one batch) may fail: a clean NOMEM, never a crash or a leak. */
static void test_generators_survive_failed_allocations(void **state)
{
    (void)state;
    const rnnlab_option add[] = {{"seq_len", "30", 0}};
    int reached_ok = 0;
    for (long k = 0; k < 50 && !reached_ok; k++) {
        rnnlab_dataset *ds = NULL;
        rnnlab_alloc_fail_after(k);
        const rnnlab_status st = rnnlab_dataset_open(&ds, "adding", add, 1, 1, NULL);
        char *text = NULL;
        const rnnlab_status st2 = st ? st : rnnlab_dataset_show(ds, RNNLAB_SPLIT_TRAIN, 1, &text);
        rnnlab_alloc_fail_after(-1);
        assert_true(st2 == RNNLAB_OK || st2 == RNNLAB_ERR_NOMEM);
        reached_ok = st2 == RNNLAB_OK;
        rnnlab_free(text);
        rnnlab_dataset_close(ds);
    }
    assert_true(reached_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lists_every_task),
        cmocka_unit_test(test_options_are_checked),
        cmocka_unit_test(test_adding_hochreiter1997),
        cmocka_unit_test(test_adding_le2015),
        cmocka_unit_test(test_generators_are_deterministic_by_seed),
        cmocka_unit_test(test_copy_memory),
        cmocka_unit_test(test_temporal_order),
        cmocka_unit_test(test_two_sequence),
        cmocka_unit_test(test_train_order_is_a_permutation_per_epoch),
        cmocka_unit_test(test_show_renders_every_generator),
        cmocka_unit_test(test_generators_survive_failed_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
