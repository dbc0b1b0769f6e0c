/*
 * test_data_loaders.c - the file loaders on small files the tests write themselves: IDX
 * (Fashion-MNIST), text, polyphonic music and the user's CSV, gzip-compressed or not, and every
 * malformed case of issue #4 (truncated gzip and IDX, wrong magic numbers, ragged rows,
 * non-numeric fields, a last row without a newline, quoted numbers, NUL bytes, empty files, huge
 * lines), each refused with file:line[:column]: why. The real shared data, when present, is only
 * checked for its published sizes.
 */
#include "check.h"
#include "rnnlab/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- helpers */


/* Cuts a file to its first n bytes, or to 2/3 of its size for n = 0. */
static void truncate_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    if (n == 0) {
        fseek(f, 0, SEEK_END);
        n = (size_t)ftell(f) * 2 / 3;
        rewind(f);
    }
    unsigned char *buf = malloc(n + 1);
    const size_t got = fread(buf, 1, n, f);
    fclose(f);
    check_write_bytes(path, buf, got, 0);
    free(buf);
}

/* The dataset opened with run seed 1, as most tests here want. */
static rnnlab_dataset *open_ok(const char *name, const rnnlab_option *o, int n)
{
    return check_dataset_open(name, o, n, 1);
}

/* Opening fails with status st and a message containing `expect`. */
static void open_fails(const char *name, const rnnlab_option *o, int n, rnnlab_status st, const char *expect)
{
    rnnlab_dataset *ds = (rnnlab_dataset *)1;
    const rnnlab_status got = rnnlab_dataset_open(&ds, name, o, n, 1, NULL);
    if (got != st || !strstr(rnnlab_last_error(), expect))
        fprintf(stderr, "open %s: expected status %d with '%s', got %d: %s\n", name, (int)st, expect, (int)got,
                rnnlab_last_error());
    assert_int_equal(got, st);
    assert_non_null(strstr(rnnlab_last_error(), expect));
    assert_null(ds);
}

/* The same batch from two datasets: same bytes. */
static void same_batches(rnnlab_dataset *a, rnnlab_dataset *b, rnnlab_split split, int B)
{
    check_batch p = check_batch_get(a, split, 0, B), q = check_batch_get(b, split, 0, B);
    assert_int_equal(p.T, q.T);
    assert_true(check_same_bytes("x", p.x, q.x, sizeof(double) * p.T * B * p.I));
    assert_memory_equal(p.len, q.len, sizeof(int) * B);
    check_batch_free(&p), check_batch_free(&q);
}

/* Every allocation of opening may fail: a clean NOMEM (or success), never a crash or a leak. */
static void survives_failed_allocations(const char *name, const rnnlab_option *o, int n)
{
    int reached_ok = 0;
    for (long k = 0; k < 400 && !reached_ok; k++) {
        rnnlab_dataset *ds = NULL;
        rnnlab_alloc_fail_after(k);
        const rnnlab_status st = rnnlab_dataset_open(&ds, name, o, n, 1, NULL);
        rnnlab_alloc_fail_after(-1);
        if (st != RNNLAB_OK && st != RNNLAB_ERR_NOMEM) fprintf(stderr, "k=%ld: %s\n", k, rnnlab_last_error());
        assert_true(st == RNNLAB_OK || st == RNNLAB_ERR_NOMEM);
        reached_ok = st == RNNLAB_OK;
        rnnlab_dataset_close(ds);
    }
    assert_true(reached_ok);
}

/* ================================================================ IDX / Fashion-MNIST */

enum { N_TRAIN = 7, N_TEST = 3 };



static const char *fashion_dir(const char *name)
{
    const char *dir = check_tmp_path(name);
    mkdir(dir, 0700);
    check_write_idx_pair(dir, "train", N_TRAIN, 0);
    check_write_idx_pair(dir, "t10k", N_TEST, 5);
    return dir;
}

static void test_fashion_mnist_reads_idx(void **state)
{
    (void)state;
    const char *dir = fashion_dir("fm_ok");
    const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "2", 0}};
    rnnlab_dataset *ds = open_ok("fashion_mnist", o, 2);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->seq_len, 784);
    assert_int_equal(in->input_size, 1);
    assert_int_equal(in->output_size, 10);
    assert_int_equal(in->loss, RNNLAB_LOSS_XENT);
    assert_int_equal(in->loss_at, RNNLAB_LOSS_LAST);
    assert_int_equal(in->split_size[0], N_TRAIN - 2);
    assert_int_equal(in->split_size[1], 2);
    assert_int_equal(in->split_size[2], N_TEST);
    assert_close1("baseline", in->baseline, log(10.0), 1e-15, 0);
    /* valid and test are in order: valid = training images 5, 6; test = t10k images 0, 1, 2 */
    check_batch v = check_batch_get(ds, RNNLAB_SPLIT_VALID, 0, 2), t = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 3);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(v.cls[s], (5 + s) % 10);
        assert_int_equal(v.len[s], 784);
        for (int p = 0; p < 784; p++) assert_true(check_batch_x(&v, p, s, 0) == ((5 + s) * 31 + p) % 256 / 255.0);
    }
    for (int s = 0; s < 3; s++) {
        assert_int_equal(t.cls[s], (s + 5) % 10);
        assert_true(check_batch_x(&t, 783, s, 0) == (s * 31 + 783) % 256 / 255.0);
    }
    /* train: a shuffled epoch of images 0..4 */
    check_batch tr = check_batch_get(ds, RNNLAB_SPLIT_TRAIN, 0, 5);
    int seen[5] = {0};
    for (int s = 0; s < 5; s++) seen[tr.cls[s]]++;
    for (int c = 0; c < 5; c++) assert_int_equal(seen[c], 1);
    check_batch_free(&v), check_batch_free(&t), check_batch_free(&tr);
    char *text = NULL;
    assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TEST, 1, &text), RNNLAB_OK);
    assert_non_null(strstr(text, "label 5 (Sandal)"));
    rnnlab_free(text);
    rnnlab_dataset_close(ds);

    /* row by row: step r is image row r */
    const rnnlab_option row[] = {{"path", dir, 0}, {"mode", "row", 0}, {"valid", "0", 0}};
    ds = open_ok("fashion_mnist", row, 3);
    assert_int_equal(rnnlab_dataset_info(ds)->seq_len, 28);
    assert_int_equal(rnnlab_dataset_info(ds)->input_size, 28);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[1], 0);
    check_batch r = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 1);
    for (int step = 0; step < 28; step++) assert_true(check_batch_x(&r, step, 0, 5) == (step * 28 + 5) % 256 / 255.0);
    check_batch_free(&r);
    rnnlab_dataset_close(ds);
}

/* The first test image's pixel 0 and label, as a dataset on dir sees them. */
static void first_test_image(const char *dir, double *pixel, int *label)
{
    const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "0", 0}};
    rnnlab_dataset *ds = open_ok("fashion_mnist", o, 2);
    check_batch t = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 1);
    *pixel = check_batch_x(&t, 0, 0, 0), *label = t.cls[0];
    check_batch_free(&t);
    rnnlab_dataset_close(ds);
}

/* After the shared-reads test, pass or fail: sharing off (extra calls are ignored), so that no later
 * test reads a kept file */
static int sharing_off(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++) rnnlab_dataset_cache(0);
    return 0;
}

static void test_fashion_mnist_shared_reads(void **state)
{
    (void)state;
    const char *dir = fashion_dir("fm_cache");
    const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "2", 0}};
    rnnlab_dataset_cache(1);
    rnnlab_dataset_cache(1); /* calls nest */
    /* two datasets open at once on the same files, and one opened after both closed: the same data */
    rnnlab_dataset *a = open_ok("fashion_mnist", o, 2), *b = open_ok("fashion_mnist", o, 2);
    check_batch va = check_batch_get(a, RNNLAB_SPLIT_VALID, 0, 2), vb = check_batch_get(b, RNNLAB_SPLIT_VALID, 0, 2);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(va.cls[s], (5 + s) % 10);
        assert_int_equal(vb.cls[s], (5 + s) % 10);
        for (int p = 0; p < 784; p++) assert_true(check_batch_x(&vb, p, s, 0) == ((5 + s) * 31 + p) % 256 / 255.0);
    }
    check_batch_free(&va), check_batch_free(&vb);
    rnnlab_dataset_close(a);
    rnnlab_dataset_close(b);
    double px;
    int lab;
    first_test_image(dir, &px, &lab);
    assert_true(px == 0 && lab == 5);
    /* while sharing is on, a file is read once: a rewrite is not seen ... */
    check_write_idx_pair(dir, "t10k", N_TEST, 7);
    first_test_image(dir, &px, &lab);
    assert_int_equal(lab, 5);
    rnnlab_dataset_cache(0);
    first_test_image(dir, &px, &lab);
    assert_int_equal(lab, 5); /* still on: one rnnlab_dataset_cache(1) is left */
    /* ... until the last rnnlab_dataset_cache(0) drops the kept copies; then every open reads the file */
    rnnlab_dataset_cache(0);
    first_test_image(dir, &px, &lab);
    assert_int_equal(lab, 7);
    check_write_idx_pair(dir, "t10k", N_TEST, 2);
    first_test_image(dir, &px, &lab);
    assert_int_equal(lab, 2);
    /* a dataset still open when sharing ends keeps its copy until it closes (ASan sees the frees) */
    rnnlab_dataset_cache(1);
    a = open_ok("fashion_mnist", o, 2);
    rnnlab_dataset_cache(0);
    check_batch t = check_batch_get(a, RNNLAB_SPLIT_TEST, 0, 1);
    assert_int_equal(t.cls[0], 2);
    check_batch_free(&t);
    rnnlab_dataset_close(a);
    rnnlab_dataset_cache(0); /* unbalanced: ignored */
    first_test_image(dir, &px, &lab);
    assert_int_equal(lab, 2);
}

static void test_fashion_mnist_permutation_is_fixed_by_its_seed(void **state)
{
    (void)state;
    const char *dir = fashion_dir("fm_perm");
    const rnnlab_option p1[] = {{"path", dir, 0}, {"valid", "1", 0}, {"permute", "1", 0}, {"permute_seed", "5", 0}};
    rnnlab_dataset *a = NULL, *b = NULL, *plain = NULL;
    assert_int_equal(rnnlab_dataset_open(&a, "fashion_mnist", p1, 4, 1, NULL), RNNLAB_OK);
    assert_int_equal(rnnlab_dataset_open(&b, "fashion_mnist", p1, 4, 2, NULL), RNNLAB_OK); /* other run seed */
    assert_int_equal(rnnlab_dataset_open(&plain, "fashion_mnist", p1, 2, 1, NULL), RNNLAB_OK);
    check_batch pa = check_batch_get(a, RNNLAB_SPLIT_TEST, 0, 1), pb = check_batch_get(b, RNNLAB_SPLIT_TEST, 0, 1),
          pp = check_batch_get(plain, RNNLAB_SPLIT_TEST, 0, 1);
    assert_true(check_same_bytes("same permutation", pa.x, pb.x, sizeof(double) * 784));
    assert_true(memcmp(pa.x, pp.x, sizeof(double) * 784) != 0);
    /* a permutation: the same multiset of pixels */
    int count_a[256] = {0}, count_p[256] = {0};
    for (int p = 0; p < 784; p++) count_a[(int)lround(pa.x[p] * 255)]++, count_p[(int)lround(pp.x[p] * 255)]++;
    assert_memory_equal(count_a, count_p, sizeof count_a);
    check_batch_free(&pa), check_batch_free(&pb), check_batch_free(&pp);
    rnnlab_dataset_close(a), rnnlab_dataset_close(b), rnnlab_dataset_close(plain);
    /* without permute_seed the dataset seed draws it */
    const rnnlab_option p2[] = {{"path", dir, 0}, {"valid", "1", 0}, {"permute", "1", 0}};
    assert_int_equal(rnnlab_dataset_open(&a, "fashion_mnist", p2, 3, 1, NULL), RNNLAB_OK);
    assert_int_equal(rnnlab_dataset_open(&b, "fashion_mnist", p2, 3, 2, NULL), RNNLAB_OK);
    pa = check_batch_get(a, RNNLAB_SPLIT_TEST, 0, 1), pb = check_batch_get(b, RNNLAB_SPLIT_TEST, 0, 1);
    assert_true(memcmp(pa.x, pb.x, sizeof(double) * 784) != 0);
    check_batch_free(&pa), check_batch_free(&pb);
    rnnlab_dataset_close(a), rnnlab_dataset_close(b);
}

/* Rewrites one file of a good directory with `data` (n bytes, gzip or not) and expects `why`. */
static void fashion_bad(const char *name, const char *file, const void *data, size_t n, int gz, const char *why)
{
    const char *dir = fashion_dir(name);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (data) check_write_bytes(path, data, n, gz);
    const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "1", 0}};
    char expect[4400];
    snprintf(expect, sizeof expect, "%s: %s", path, why);
    open_fails("fashion_mnist", o, 2, RNNLAB_ERR_IO, expect);
}

static void test_fashion_mnist_refuses_malformed_idx(void **state)
{
    (void)state;
    unsigned char h[16 + 784 * 2 + 4];
    memset(h, 0, sizeof h);
    /* wrong magic numbers */
    check_put_u32(h, 0x803), check_put_u32(h + 4, 7);
    fashion_bad("fm_magic", "train-labels-idx1-ubyte.gz", h, 8 + 7, 1,
                "bad magic number 0x00000803, expected 0x00000801");
    check_put_u32(h, 0x0d03), check_put_u32(h + 4, 1), check_put_u32(h + 8, 28), check_put_u32(h + 12, 28);
    fashion_bad("fm_magic2", "t10k-images-idx3-ubyte.gz", h, 16 + 784, 1, "bad magic number 0x00000d03");
    /* sizes */
    check_put_u32(h, 0x803), check_put_u32(h + 4, 2), check_put_u32(h + 8, 27), check_put_u32(h + 12, 28);
    fashion_bad("fm_dims", "t10k-images-idx3-ubyte.gz", h, 16 + 27 * 28 * 2, 1, "dimension 1 is 27, expected 28");
    check_put_u32(h + 8, 28), check_put_u32(h + 4, 0);
    fashion_bad("fm_zero", "t10k-images-idx3-ubyte.gz", h, 16, 1, "dimension 0 is 0");
    check_put_u32(h + 4, 3); /* 3 images promised, 2 there */
    fashion_bad("fm_short", "t10k-images-idx3-ubyte.gz", h, 16 + 784 * 2, 1,
                "truncated: expected 2352 bytes of data after the header, got 1568");
    check_put_u32(h + 4, 2); /* 2 images and 4 bytes more */
    fashion_bad("fm_long", "t10k-images-idx3-ubyte.gz", h, sizeof h, 1, "4 bytes after the 1568 bytes of data");
    fashion_bad("fm_hdr", "t10k-images-idx3-ubyte.gz", h, 10, 1, "truncated: 10 bytes, shorter than the 16-byte IDX header");
    fashion_bad("fm_empty", "t10k-labels-idx1-ubyte.gz", "", 0, 0, "truncated: 0 bytes");
    /* huge sizes in the header allocate nothing big */
    check_put_u32(h + 4, 0x7fffffff);
    fashion_bad("fm_huge", "t10k-images-idx3-ubyte.gz", h, 32, 1, "the header's sizes describe more than");
    /* labels that disagree with the images */
    unsigned char lab[8 + 8] = {0};
    check_put_u32(lab, 0x801), check_put_u32(lab + 4, 8);
    fashion_bad("fm_count", "t10k-labels-idx1-ubyte.gz", lab, sizeof lab, 1, "8 labels for the 3 images");
    check_put_u32(lab + 4, 3), lab[9] = 10;
    fashion_bad("fm_label", "t10k-labels-idx1-ubyte.gz", lab, 11, 1, "label 1 is 10, expected a class in 0..9");
    /* a truncated gzip stream */
    {
        const char *dir = fashion_dir("fm_gz");
        char path[4300];
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        truncate_file(path, 0);
        const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "1", 0}};
        open_fails("fashion_mnist", o, 2, RNNLAB_ERR_IO, "truncated or corrupt gzip data");
    }
    /* compressed twice */
    {
        const char *dir = fashion_dir("fm_gz2");
        char path[4300];
        snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
        FILE *f = fopen(path, "rb");
        unsigned char buf[256];
        const size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        check_write_bytes(path, buf, n, 1);
        const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "1", 0}};
        open_fails("fashion_mnist", o, 2, RNNLAB_ERR_IO, "compressed twice");
    }
    /* a missing file and a missing directory say what to install */
    {
        const char *dir = fashion_dir("fm_missing");
        char path[4300];
        snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
        remove(path);
        const rnnlab_option o[] = {{"path", dir, 0}};
        open_fails("fashion_mnist", o, 1, RNNLAB_ERR_IO, "t10k-labels-idx1-ubyte.gz: no such file; Fashion-MNIST");
        const rnnlab_option none[] = {{"path", check_tmp_path("no_such_dir"), 0}};
        open_fails("fashion_mnist", none, 1, RNNLAB_ERR_IO, "make setup-data");
    }
    /* plain (uncompressed) IDX under the .gz name is read as it is */
    {
        const char *dir = fashion_dir("fm_plain");
        char path[4300];
        unsigned char plain[8 + N_TEST];
        check_put_u32(plain, 0x801), check_put_u32(plain + 4, N_TEST);
        for (int i = 0; i < N_TEST; i++) plain[8 + i] = (unsigned char)((i + 5) % 10);
        snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
        check_write_bytes(path, plain, sizeof plain, 0);
        const rnnlab_option o[] = {{"path", dir, 0}, {"valid", "1", 0}};
        rnnlab_dataset *ds = open_ok("fashion_mnist", o, 2);
        rnnlab_dataset_close(ds);
    }
    /* valid must leave training images */
    {
        const rnnlab_option o[] = {{"path", fashion_dir("fm_valid"), 0}, {"valid", "7", 0}};
        open_fails("fashion_mnist", o, 2, RNNLAB_ERR_CONFIG, "valid: 7 held-out images leave none");
    }
    const rnnlab_option alloc[] = {{"path", fashion_dir("fm_alloc"), 0}, {"valid", "2", 0}};
    survives_failed_allocations("fashion_mnist", alloc, 2);
}

/* ================================================================ text */

/* Sharing for encoded text: the vocabulary kind is part of what is shared (byte and utf8 differ), a
 * rewrite is unseen while sharing is on and seen after it ends. */
static void test_text_shared_reads(void **state)
{
    (void)state;
    const char *path = check_tmp_path("share.txt");
    check_write_file(path, "abcabcabcabcabcabcabcabc\xc3\xa9\n"); /* 27 bytes, 26 characters in UTF-8 */
    const rnnlab_option bytes[] = {{"path", path, 0}, {"seq_len", "2", 0}, {"split", "0.5,0.25,0.25", 0}};
    const rnnlab_option utf8[] = {{"path", path, 0}, {"seq_len", "2", 0}, {"split", "0.5,0.25,0.25", 0}, {"vocab", "utf8", 0}};
    rnnlab_dataset_cache(1);
    rnnlab_dataset *a = open_ok("text", bytes, 3), *b = open_ok("text", utf8, 4), *c = open_ok("text", bytes, 3);
    assert_int_equal(rnnlab_dataset_info(a)->input_size, 6); /* a b c 0xc3 0xa9 \n */
    assert_int_equal(rnnlab_dataset_info(b)->input_size, 5); /* a b c U+00E9 \n */
    assert_int_equal(rnnlab_dataset_info(c)->input_size, 6);
    rnnlab_dataset_close(a), rnnlab_dataset_close(b), rnnlab_dataset_close(c);
    check_write_file(path, "xyzwxyzwxyzwxyzwxyzwxyzwxyzwxyzw\n");
    a = open_ok("text", bytes, 3);
    assert_int_equal(rnnlab_dataset_info(a)->input_size, 6); /* the kept encoding */
    rnnlab_dataset_close(a);
    rnnlab_dataset_cache(0);
    a = open_ok("text", bytes, 3);
    assert_int_equal(rnnlab_dataset_info(a)->input_size, 5); /* x y z w \n */
    rnnlab_dataset_close(a);
}

static void test_text_bytes_and_windows(void **state)
{
    (void)state;
    const char *path = check_tmp_path("digits.txt");
    char text[64] = "";
    for (int k = 0; k < 4; k++) strcat(text, "0123456789");
    strcat(text, "\n"); /* 41 bytes, vocabulary \n 0..9 (11) */
    check_write_file(path, text);
    const rnnlab_option o[] = {{"path", path, 0}, {"seq_len", "4", 0}, {"split", "0.5,0.25,0.25", 0}};
    rnnlab_dataset *ds = open_ok("text", o, 3);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->input_size, 11);
    assert_int_equal(in->output_size, 11);
    assert_int_equal(in->seq_len, 4);
    assert_int_equal(in->loss, RNNLAB_LOSS_XENT);
    assert_int_equal(in->loss_at, RNNLAB_LOSS_ALL);
    assert_int_equal(in->report_bits, 1);
    /* cuts at 20 and 30: train 20 symbols -> 4 windows of 4 (+1), valid 10 -> 2, test 11 -> 2 */
    assert_int_equal(in->split_size[0], 4);
    assert_int_equal(in->split_size[1], 2);
    assert_int_equal(in->split_size[2], 2);
    /* the training text is 0..9 twice: the unigram entropy is ln 10 */
    assert_close1("baseline", in->baseline, log(10.0), 1e-12, 0);
    check_batch v = check_batch_get(ds, RNNLAB_SPLIT_VALID, 0, 2);
    for (int s = 0; s < 2; s++) /* valid starts at symbol 20 ('0'); window s starts at 20 + 4s */
        for (int t = 0; t < 4; t++) {
            const int c = (4 * s + t) % 10; /* the digit; its id is c + 1 (id 0 is \n) */
            for (int i = 0; i < 11; i++) assert_true(check_batch_x(&v, t, s, i) == (i == c + 1));
            assert_int_equal(v.cls[(size_t)t * 2 + s], (c + 1) % 10 + 1);
        }
    check_batch_free(&v);
    check_batch te = check_batch_get(ds, RNNLAB_SPLIT_TEST, 1, 1); /* test: 30..40, window 1 = "4567" -> "5678" */
    assert_int_equal(te.cls[3], 9);
    check_batch_free(&te);
    char *shown = NULL;
    assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_VALID, 1, &shown), RNNLAB_OK);
    assert_non_null(strstr(shown, "input  \"0123\""));
    assert_non_null(strstr(shown, "target \"1234\""));
    rnnlab_free(shown);
    /* batch 1 of the test split at B = 1 is window 1, as check_batch_get found it above */
    assert_int_equal(rnnlab_dataset_show_batch(ds, RNNLAB_SPLIT_TEST, 1, 1, 1, &shown), RNNLAB_OK);
    assert_non_null(strstr(shown, "test split, batch 1 of 1 sample\n"));
    assert_non_null(strstr(shown, "input  \"4567\""));
    assert_non_null(strstr(shown, "target \"5678\""));
    rnnlab_free(shown);
    /* the first of batch 0 at B = 2 is window 0, whatever B; more than B asked: B shown */
    char *b0 = NULL;
    assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TEST, 1, &b0), RNNLAB_OK);
    assert_int_equal(rnnlab_dataset_show_batch(ds, RNNLAB_SPLIT_TEST, 0, 2, 5, &shown), RNNLAB_OK);
    assert_non_null(strstr(shown, "test split, batch 0 of 2 samples\n"));
    assert_non_null(strstr(shown, "(a batch of 2 holds 2 examples: all are shown)\n"));
    assert_non_null(strstr(shown, "example 1:") && !strstr(shown, "example 2:"));
    const char *e0 = strstr(b0, "example 0:"), *e0b = strstr(shown, "example 0:");
    assert_true(e0 && e0b && !strncmp(e0, e0b, (size_t)(strstr(e0b, "example 1:") - e0b)));
    rnnlab_free(shown), rnnlab_free(b0);
    assert_int_equal(rnnlab_dataset_show_batch(ds, RNNLAB_SPLIT_TEST, -1, 2, 1, &shown), RNNLAB_ERR_CONFIG);
    assert_null(shown);
    rnnlab_dataset_close(ds);

    /* the same text gzip-compressed gives the same batches */
    const char *gzpath = check_tmp_path("digits.txt.gz");
    check_write_bytes(gzpath, text, strlen(text), 1);
    const rnnlab_option og[] = {{"path", gzpath, 0}, {"seq_len", "4", 0}, {"split", "0.5,0.25,0.25", 0}};
    rnnlab_dataset *a = open_ok("text", o, 3), *b = open_ok("text", og, 3);
    same_batches(a, b, RNNLAB_SPLIT_TRAIN, 3);
    rnnlab_dataset_close(a), rnnlab_dataset_close(b);
    survives_failed_allocations("text", o, 3);
}

static void test_text_utf8(void **state)
{
    (void)state;
    const char *path = check_tmp_path("utf8.txt");
    const char *text = "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80 caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80\n"; /* café €😀 x2 */
    check_write_file(path, text);
    const rnnlab_option u[] = {{"path", path, 0}, {"seq_len", "3", 0}, {"vocab", "utf8", 0}, {"split", "1,0,0", 0}};
    rnnlab_dataset *ds = open_ok("text", u, 4);
    /* characters: c a f é ' ' € 😀 \n -> 8; 19 characters -> (19 - 1) / 3 = 6 windows */
    assert_int_equal(rnnlab_dataset_info(ds)->input_size, 8);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], 5);
    char *shown = NULL;
    assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TRAIN, 6, &shown), RNNLAB_OK);
    assert_non_null(strstr(shown, "\xf0\x9f\x98\x80")); /* decoded back to UTF-8 */
    rnnlab_free(shown);
    rnnlab_dataset_close(ds);
    const rnnlab_option by[] = {{"path", path, 0}, {"seq_len", "3", 0}, {"split", "1,0,0", 0}};
    ds = open_ok("text", by, 3);
    assert_int_equal(rnnlab_dataset_info(ds)->input_size, 14); /* c a f ' ' \n, and 2 + 3 + 4 bytes of é € 😀 */
    rnnlab_dataset_close(ds);

    /* invalid UTF-8: line and byte column */
    const char *bad = check_tmp_path("bad_utf8.txt");
    check_write_file(bad, "fine\nab\xc3(x\n");
    const rnnlab_option ub[] = {{"path", bad, 0}, {"seq_len", "2", 0}, {"vocab", "utf8", 0}};
    char expect[4400];
    snprintf(expect, sizeof expect, "%s:2:3: invalid UTF-8 (byte 0xc3)", bad);
    open_fails("text", ub, 3, RNNLAB_ERR_IO, expect);
    static const char *const invalid[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"};
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++) { /* overlong, surrogate, > U+10FFFF, cut, stray */
        check_write_file(bad, invalid[k]);
        open_fails("text", ub, 3, RNNLAB_ERR_IO, "invalid UTF-8");
    }
    /* empty, missing, too short for the split */
    const char *empty = check_tmp_path("empty.txt");
    check_write_file(empty, "");
    const rnnlab_option e[] = {{"path", empty, 0}};
    open_fails("text", e, 1, RNNLAB_ERR_IO, "empty file");
    const rnnlab_option m[] = {{"path", check_tmp_path("missing.txt"), 0}};
    open_fails("text", m, 1, RNNLAB_ERR_IO, "no such file; this task reads any text file: for War and Peace");
    const rnnlab_option dev[] = {{"path", "/dev/zero", 0}}; /* read to the 1 GiB limit before: 3 GB, 14 s */
    open_fails("text", dev, 1, RNNLAB_ERR_IO, "/dev/zero: is a device, expected a file");
    const rnnlab_option s[] = {{"path", path, 0}, {"seq_len", "10", 0}};
    open_fails("text", s, 2, RNNLAB_ERR_CONFIG, "fewer than one window of seq_len + 1 = 11");
    const rnnlab_option none[] = {{"seq_len", "10", 0}};
    open_fails("text", none, 1, RNNLAB_ERR_CONFIG, "path: the text task needs path");
}

/* ================================================================ music */

/* Key k (MIDI 21 + k) of piece s at step t: on for k == (s*10 + t) % 88 and k == 87. */
static int key_on(int s, int t, int k) { return k == (s * 10 + t) % 88 || k == 87; }

/* Writes the music CSV of pieces with the given lengths and splits; options for odd layouts. */
typedef struct music_opts {
    int quoted;      /* every number quoted */
    int crlf;        /* \r\n line ends */
    int no_final_nl; /* no newline after the last row */
    int gz;
} music_opts;

static const char *music_file(const char *name, const int *lens, const char *const *splits, int n, music_opts mo)
{
    const char *path = check_tmp_path(name);
    size_t cap = 4096 + (size_t)n * 400 * 200, off = 0;
    char *s = malloc(cap);
    const char *nl = mo.crlf ? "\r\n" : "\n";
    off += (size_t)sprintf(s + off, "seq,t");
    for (int k = 21; k <= 108; k++) off += (size_t)sprintf(s + off, ",p%d", k);
    off += (size_t)sprintf(s + off, ",split%s", nl);
    for (int p = 0; p < n; p++)
        for (int t = 0; t < lens[p]; t++) {
            off += (size_t)sprintf(s + off, mo.quoted ? "\"%d\",\"%d\"" : "%d,%d", p, t);
            for (int k = 0; k < 88; k++) off += (size_t)sprintf(s + off, mo.quoted ? ",\"%d\"" : ",%d", key_on(p, t, k));
            off += (size_t)sprintf(s + off, ",%s%s", splits[p], nl);
        }
    if (mo.no_final_nl) off -= strlen(nl);
    check_write_bytes(path, s, off, mo.gz);
    free(s);
    return path;
}

static const int music_lens[4] = {4, 3, 5, 2};
static const char *const music_splits[4] = {"train", "valid", "test", "train"};

/* Sharing for parsed piano rolls: two datasets on one file while sharing is on see the same rows, a
 * rewrite (other piece lengths) is not seen until sharing ends, and then is. */
static void test_music_shared_reads(void **state)
{
    (void)state;
    const music_opts plain = {0, 0, 0, 0};
    const int other_lens[4] = {3, 3, 3, 3};
    const char *path = music_file("music_share.csv", music_lens, music_splits, 4, plain);
    const rnnlab_option o[] = {{"path", path, 0}};
    rnnlab_dataset_cache(1);
    rnnlab_dataset *a = open_ok("jsb_chorales", o, 1), *b = open_ok("jsb_chorales", o, 1);
    check_batch va = check_batch_get(a, RNNLAB_SPLIT_VALID, 0, 1), vb = check_batch_get(b, RNNLAB_SPLIT_VALID, 0, 1);
    assert_int_equal(va.len[0], 2);
    assert_int_equal(vb.len[0], 2);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 88; k++) assert_true(check_batch_x(&vb, t, 0, k) == key_on(1, t, k));
    check_batch_free(&va), check_batch_free(&vb);
    rnnlab_dataset_close(a), rnnlab_dataset_close(b);
    music_file("music_share.csv", other_lens, music_splits, 4, plain);
    a = open_ok("jsb_chorales", o, 1);
    assert_int_equal(rnnlab_dataset_info(a)->seq_len, 4); /* still the first file's longest piece - 1 */
    rnnlab_dataset_close(a);
    rnnlab_dataset_cache(0);
    a = open_ok("jsb_chorales", o, 1);
    assert_int_equal(rnnlab_dataset_info(a)->seq_len, 2); /* the rewrite: pieces of 3 steps */
    rnnlab_dataset_close(a);
}

static void test_music_next_step_prediction(void **state)
{
    (void)state;
    const music_opts plain = {0, 0, 0, 0};
    const char *path = music_file("music.csv", music_lens, music_splits, 4, plain);
    const rnnlab_option o[] = {{"path", path, 0}};
    rnnlab_dataset *ds = open_ok("jsb_chorales", o, 1);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->input_size, 88);
    assert_int_equal(in->output_size, 88);
    assert_int_equal(in->seq_len, 4); /* the longest piece (5 steps) - 1 */
    assert_int_equal(in->variable_length, 1);
    assert_int_equal(in->loss, RNNLAB_LOSS_BERNOULLI);
    assert_int_equal(in->loss_at, RNNLAB_LOSS_ALL);
    assert_int_equal(in->split_size[0], 2);
    assert_int_equal(in->split_size[1], 1);
    assert_int_equal(in->split_size[2], 1);
    /* the baseline: each key at its frequency over the training targets (piece 0 steps 1..3, piece 3 step 1) */
    double H = 0;
    for (int k = 0; k < 88; k++) {
        const double f = (key_on(0, 1, k) + key_on(0, 2, k) + key_on(0, 3, k) + key_on(3, 1, k)) / 4.0;
        if (f > 0 && f < 1) H -= f * log(f) + (1 - f) * log(1 - f);
    }
    assert_close1("baseline", in->baseline, H, 1e-12, 0);
    /* valid: piece 1, 3 steps -> 2 predictions; padding after them is zero */
    check_batch v = check_batch_get(ds, RNNLAB_SPLIT_VALID, 0, 1);
    assert_int_equal(v.len[0], 2);
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < 88; k++) {
            assert_true(check_batch_x(&v, t, 0, k) == (t < 2 ? key_on(1, t, k) : 0));
            assert_true(v.y[(size_t)t * 88 + k] == (t < 2 ? key_on(1, t + 1, k) : 0));
        }
    check_batch_free(&v);
    char *text = NULL;
    assert_int_equal(rnnlab_dataset_show(ds, RNNLAB_SPLIT_TEST, 1, &text), RNNLAB_OK);
    assert_non_null(strstr(text, "t=0   in: 41 108   next: 42 108"));
    rnnlab_free(text);

    /* quoted numbers, CRLF, no final newline, gzip: the same data */
    const music_opts odd[] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}, {1, 1, 1, 1}};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        const rnnlab_option oo[] = {{"path", music_file("music_odd.csv", music_lens, music_splits, 4, odd[k]), 0}};
        rnnlab_dataset *other = open_ok("nottingham", oo, 1);
        for (int s = 0; s < 3; s++) assert_int_equal(rnnlab_dataset_info(other)->split_size[s], in->split_size[s]);
        for (int s = 0; s < 3; s++) same_batches(ds, other, (rnnlab_split)s, 2);
        rnnlab_dataset_close(other);
    }
    rnnlab_dataset_close(ds);

    /* windows of 2 predictions: piece 0 (3) -> 2 + 1, piece 3 (1) -> 1; test piece 2 (4) -> 2 + 2 */
    const rnnlab_option w[] = {{"path", path, 0}, {"seq_len", "2", 0}};
    ds = open_ok("musedata", w, 2);
    assert_int_equal(rnnlab_dataset_info(ds)->seq_len, 2);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], 3);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[2], 2);
    check_batch t = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 2);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(t.len[s], 2);
        for (int k = 0; k < 88; k++) assert_true(t.y[((size_t)1 * 2 + s) * 88 + k] == key_on(2, 2 * s + 2, k));
    }
    check_batch_free(&t);
    rnnlab_dataset_close(ds);
    survives_failed_allocations("piano_midi", o, 1);
}

/* One malformed music file: row r of piece data replaced by `line`, or the whole text given. */
static void music_bad(const char *text, const char *why)
{
    const char *path = check_tmp_path("music_bad.csv");
    check_write_file(path, text);
    const rnnlab_option o[] = {{"path", path, 0}};
    char expect[4400];
    snprintf(expect, sizeof expect, "%s%s", path, why);
    open_fails("jsb_chorales", o, 1, RNNLAB_ERR_IO, expect);
}

static char *music_text(const char *const *rows, int n)
{
    char *s = malloc(65536);
    int off = sprintf(s, "seq,t");
    for (int k = 21; k <= 108; k++) off += sprintf(s + off, ",p%d", k);
    off += sprintf(s + off, ",split\n");
    for (int r = 0; r < n; r++) off += sprintf(s + off, "%s", rows[r]);
    return s;
}

/* One data row: seq, t, every key 0 but MIDI 60, split; p28 (when not NULL) replaces field p28, or
 * `raw` replaces the whole row. */
typedef struct row_spec {
    int seq, t;
    const char *split, *p28, *raw;
} row_spec;

static void row_text(char *buf, const row_spec *r)
{
    if (r->raw) {
        strcpy(buf, r->raw);
        return;
    }
    int off = sprintf(buf, "%d,%d", r->seq, r->t);
    for (int m = 21; m <= 108; m++) off += sprintf(buf + off, ",%s", m == 28 && r->p28 ? r->p28 : m == 60 ? "1" : "0");
    sprintf(buf + off, ",%s\n", r->split);
}

static void test_music_refuses_malformed_csv(void **state)
{
    (void)state;
    static const struct {
        row_spec rows[3];
        int n;
        const char *why;
    } cases[] = {
        {{{0, 0, 0, 0, "0,0,1,0\n"}}, 1, ":2: 4 fields, expected 91 as in the header"},
        {{{0, 0, "train", 0, 0}, {0, 1, "train", "abc", 0}}, 2, ":3:10: field 'p28': 'abc' is not a finite number"},
        {{{0, 0, "train", "nan", 0}}, 1, ":2:10: field 'p28': 'nan' is not a finite number"},
        {{{0, 0, "train", "2", 0}}, 1, ":2:10: field 'p28': 2, expected 0 or 1"},
        {{{1, 0, "train", 0, 0}, {0, 0, "train", 0, 0}}, 2, ":3:1: seq 0 after seq 1"},
        {{{0, 0, "train", 0, 0}, {0, 2, "train", 0, 0}}, 2, ":3:2: t = 2 after t = 0 in piece 0"},
        {{{0, 1, "train", 0, 0}}, 1, ":2:2: piece 0 starts at t = 1"},
        {{{0, 0, "train", 0, 0}, {0, 1, "test", 0, 0}}, 2, ":3:91: piece 0 changes split from train to test"},
        {{{0, 0, "training", 0, 0}}, 1, ":2:91: field 'split': 'training', expected train, valid or test"},
        {{{0, 0, "train", "1\"2", 0}}, 1, ":2:10: malformed quoting"},
        {{{0, 0, "train", "\"1\"x", 0}}, 1, ":2:10: malformed quoting"},
        {{{0, 0, "train", 0, 0}, {0, 0, 0, 0, "1,0,\"0,0\n"}}, 2, ":3: unclosed quote at the end of the file"},
        {{{0, 0, "train", "-1.5e", 0}}, 1, ":2:10: field 'p28': '-1.5e' is not a finite number"},
        {{{0, 0, "train", 0, 0}}, 1, ": every piece has a single step"},
        {{{0, 0, "train", "0x", 0}}, 1, ":2:10: field 'p28': '0x' is not a finite number"},
        {{{0, 0, "train", "1e999", 0}}, 1, ":2:10: field 'p28': '1e999' is not a finite number"},
        {{{0}}, 0, ": no rows after the header"},
        {{{0, 0, "train", 0, 0}, {0, 1, "train", 0, 0}, {0, 2, "train", "\"\"", 0}}, 3,
         ":4:10: field 'p28': '' is not a finite number"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char lines[3][1024];
        const char *rows[3];
        for (int r = 0; r < cases[c].n; r++) row_text(lines[r], &cases[c].rows[r]), rows[r] = lines[r];
        char *text = music_text(rows, cases[c].n);
        music_bad(text, cases[c].why);
        free(text);
    }
    /* the header */
    music_bad("seq,t,p21,split\n0,0,1,train\n", ":1: the header has no column 'p22'");
    music_bad("seq,seq,t\n", ":1:2: column 'seq' appears twice");
    music_bad("", ": empty file (expected a header row)");
    music_bad("\n\n", ": empty file (expected a header row)");
    /* a NUL byte inside a field: the field is not cut there */
    {
        char line[1024];
        const row_spec spec = {0, 0, "train", NULL, NULL};
        row_text(line, &spec);
        const char *rows[1] = {line};
        char *text = music_text(rows, 1);
        const size_t n = strlen(text);
        char *p = strstr(text, "\n0,0,") + 5; /* the first key of the data row */
        memmove(p + 2, p + 1, n - (size_t)(p + 1 - text) + 1);
        p[1] = '\0'; /* "0\0," */
        const char *path = check_tmp_path("music_nul.csv");
        check_write_bytes(path, text, n + 1, 0);
        const rnnlab_option o[] = {{"path", path, 0}};
        open_fails("jsb_chorales", o, 1, RNNLAB_ERR_IO, ":2:3: NUL byte in a field");
        free(text);
    }
    /* a huge line */
    {
        const size_t n = 3u << 20;
        char *head = music_text(NULL, 0), *text = malloc(n + 1);
        const size_t h = strlen(head);
        memset(text, '1', n);
        memcpy(text, head, h);
        text[n] = '\0';
        free(head);
        music_bad(text, ":2: record longer than 1048576 bytes");
        text[n - 1] = '\n', text[h] = '"'; /* an unclosed quote that swallows the rest */
        music_bad(text, ":2: record longer than 1048576 bytes");
        free(text);
    }
    /* a truncated gzip file */
    {
        const music_opts gz = {0, 0, 0, 1};
        const char *path = music_file("music_cut.csv.gz", music_lens, music_splits, 4, gz);
        truncate_file(path, 0);
        const rnnlab_option o[] = {{"path", path, 0}};
        open_fails("jsb_chorales", o, 1, RNNLAB_ERR_IO, "truncated or corrupt gzip data");
    }
    /* a missing file says where to get it */
    const rnnlab_option o[] = {{"path", check_tmp_path("no_music.csv"), 0}};
    open_fails("piano_midi", o, 1, RNNLAB_ERR_IO,
               "no such file; Piano-midi.de is in the lab's shared datasets folder as shared/datasets/music/piano_midi.csv.gz");
}

/* ================================================================ the user's CSV */

static const char *user_csv =
    "id,t,a,b,y,cls,split\n"
    "s1,2,3,30,0.3,1,train\n"
    "s2,0,5,50,0.5,0,valid\n"
    "s1,0,1,10,0.1,0,train\n"
    "s1,1,2,20,0.2,2,train\n"
    "s3,0,7,70,0.7,1,test\n"
    "s3,1,8,80,0.8,0,test\n"
    "s4,0,9,90,0.9,1,train\n";

static void test_csv_schema(void **state)
{
    (void)state;
    const char *path = check_tmp_path("user.csv");
    check_write_file(path, user_csv);
    /* regression at every step, all sequences in train */
    const rnnlab_option o[] = {{"path", path, 0},      {"features", "a, b", 0}, {"targets", "y", 0},
                               {"loss_at", "all", 0}, {"split", "1,0,0", 0}};
    rnnlab_dataset *ds = open_ok("csv", o, 5);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->input_size, 2);
    assert_int_equal(in->output_size, 1);
    assert_int_equal(in->seq_len, 3);
    assert_int_equal(in->variable_length, 1);
    assert_int_equal(in->split_size[0], 4);
    check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TRAIN, 0, 4);
    int seen = 0;
    for (int s = 0; s < 4; s++) {
        const int first = (int)check_batch_x(&b, 0, s, 0), len = b.len[s];
        const int want_len = first == 1 ? 3 : first == 5 ? 1 : first == 7 ? 2 : 1;
        assert_int_equal(len, want_len);
        seen |= 1 << first;
        for (int t = 0; t < 3; t++) { /* rows ordered by time; padding zero */
            const double a = t < len ? first + t : 0;
            assert_true(check_batch_x(&b, t, s, 0) == a);
            assert_true(check_batch_x(&b, t, s, 1) == 10 * a);
            assert_true(b.y[(size_t)t * 4 + s] == (t < len ? a / 10 : 0));
        }
    }
    assert_int_equal(seen, (1 << 1) | (1 << 5) | (1 << 7) | (1 << 9));
    check_batch_free(&b);
    /* the baseline: the variance of the training targets at every step */
    const double ys[9] = {0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9};
    double m = 0, v = 0;
    for (int k = 0; k < 7; k++) m += ys[k] / 7;
    for (int k = 0; k < 7; k++) v += (ys[k] - m) * (ys[k] - m) / 7;
    assert_close1("baseline", in->baseline, v, 1e-12, 1e-12);
    rnnlab_dataset_close(ds);

    /* classes at the last step, the split column, windows of 2 */
    const rnnlab_option c[] = {{"path", path, 0},         {"features", "b", 0},     {"targets", "cls", 0},
                               {"loss", "xent", 0},       {"split_column", "split", 0}, {"seq_len", "2", 0}};
    ds = open_ok("csv", c, 6);
    in = rnnlab_dataset_info(ds);
    assert_int_equal(in->output_size, 3); /* the largest class + 1 */
    assert_int_equal(in->seq_len, 2);
    assert_int_equal(in->split_size[0], 3); /* s1 -> 2 windows, s4 -> 1 */
    assert_int_equal(in->split_size[1], 1);
    assert_int_equal(in->split_size[2], 1);
    b = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 1);
    assert_int_equal(b.len[0], 2);
    assert_int_equal(b.cls[0], 0); /* s3's last row */
    check_batch_free(&b);
    rnnlab_dataset_close(ds);

    /* fractions over sequences in order of first appearance: s1, s2, s3 | - | s4 */
    const rnnlab_option f[] = {{"path", path, 0}, {"features", "a", 0}, {"targets", "y", 0}};
    ds = open_ok("csv", f, 3);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], 3);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[1], 0);
    assert_int_equal(rnnlab_dataset_info(ds)->split_size[2], 1);
    b = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 1);
    assert_true(check_batch_x(&b, 0, 0, 0) == 9 && b.y[0] == 0.9);
    check_batch_free(&b);
    rnnlab_dataset_close(ds);

    /* quoted numbers, CRLF, no final newline, gzip, a byte order mark: the same data */
    const char *gzpath = check_tmp_path("user.csv.gz");
    check_write_bytes(gzpath, user_csv, strlen(user_csv), 1);
    const char *odd = check_tmp_path("user_odd.csv");
    check_write_file(odd, "\"id\",\"t\",a,b,y,cls,split\r\n\"s1\",\"2\",\"3\",30,\"0.3\",1,train\r\n"
                          "s2,0,5,50,0.5,0,valid\r\ns1,0,\"1\",10,0.1,0,train\r\ns1,1,2,20,0.2,2,train\r\n"
                          "s3,0,7,70,0.7,1,test\r\n\r\ns3,1,8,80,0.8,0,test\r\n s4 ,0, 9 ,90,0.9,1,train");
    const char *bom = check_tmp_path("user_bom.csv");
    char with_bom[1024] = "\xef\xbb\xbf";
    strcat(with_bom, user_csv);
    check_write_file(bom, with_bom);
    for (int k = 0; k < 3; k++) {
        const rnnlab_option g[] = {{"path", k == 2 ? bom : k ? odd : gzpath, 0}, {"features", "a,b", 0}, {"targets", "y", 0},
                                   {"loss_at", "all", 0}, {"split", "1,0,0", 0}};
        rnnlab_dataset *a = open_ok("csv", o, 5), *other = open_ok("csv", g, 5);
        same_batches(a, other, RNNLAB_SPLIT_TRAIN, 4);
        rnnlab_dataset_close(a), rnnlab_dataset_close(other);
    }
    survives_failed_allocations("csv", c, 6);
}

static void csv_bad(const char *text, const rnnlab_option *extra, int n_extra, rnnlab_status st, const char *why)
{
    const char *path = check_tmp_path("user_bad.csv");
    check_write_file(path, text);
    rnnlab_option o[8] = {{"path", path, 0}, {"features", "a,b", 0}, {"targets", "y", 0}};
    for (int k = 0; k < n_extra; k++) o[3 + k] = extra[k];
    char expect[4400];
    snprintf(expect, sizeof expect, "%s%s", st == RNNLAB_ERR_IO && why[0] == ':' ? path : "", why);
    open_fails("csv", o, 3 + n_extra, st, expect);
}

static void test_csv_refuses_malformed_input(void **state)
{
    (void)state;
    const char *h = "id,t,a,b,y\n";
    char text[512];
#define BAD(rows, why)                                                                                                \
    do {                                                                                                              \
        snprintf(text, sizeof text, "%s%s", h, rows);                                                                 \
        csv_bad(text, NULL, 0, RNNLAB_ERR_IO, why);                                                                   \
    } while (0)
    BAD("s1,0,1,2,3\ns1,1,1,2\n", ":3: 4 fields, expected 5 as in the header");
    BAD("s1,0,1,2,3\ns1,1,1,2,3,4\n", ":3: 6 fields, expected 5 as in the header");
    BAD("s1,0,1,two,3\n", ":2:4: field 'b': 'two' is not a finite number");
    BAD("s1,0,1,2,\n", ":2:5: field 'y': '' is not a finite number");
    BAD("s1,zero,1,2,3\n", ":2:2: field 't': 'zero' is not a finite number");
    BAD("s1,0,1,2,inf\n", ":2:5: field 'y': 'inf' is not a finite number");
    BAD("s1,0,1,2,3\ns1,0,4,5,6\n", ":3: sequence 's1' has two rows at time 0 (lines 2 and 3)");
    BAD("s1,0,1,2,3\ns1,1,1,\"2\"x,3\n", ":3:4: malformed quoting");
    BAD("s1,0,1,2,3\ns1,1,\"1,2,3\n", ":3: unclosed quote at the end of the file");
    BAD("", ": no rows after the header");
    csv_bad("", NULL, 0, RNNLAB_ERR_IO, ": empty file (expected a header row)");
    csv_bad("id,t,a,y\ns,0,1,2\n", NULL, 0, RNNLAB_ERR_IO, ":1: the header has no column 'b' (named by the option features)");
    csv_bad("id,a,b,y\ns,1,2,3\n", NULL, 0, RNNLAB_ERR_IO, ":1: the header has no column 't' (named by the option time_column)");
    csv_bad("id,t,a,b,y,a\n", NULL, 0, RNNLAB_ERR_IO, ":1:6: column 'a' appears twice (also column 3)");
    /* a last row without a newline is read */
    {
        const char *path = check_tmp_path("user_nonl.csv");
        check_write_file(path, "id,t,a,b,y\ns1,0,1,2,3\ns2,0,4,5,6");
        const rnnlab_option o[] = {{"path", path, 0}, {"features", "a,b", 0}, {"targets", "y", 0}, {"split", "1,0,0", 0}};
        rnnlab_dataset *ds = open_ok("csv", o, 4);
        assert_int_equal(rnnlab_dataset_info(ds)->split_size[0], 2);
        check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TRAIN, 0, 2);
        assert_true(check_batch_x(&b, 0, 0, 0) + check_batch_x(&b, 0, 1, 0) == 5);
        assert_true(b.y[0] + b.y[1] == 9);
        check_batch_free(&b);
        rnnlab_dataset_close(ds);
    }
    /* loss-specific values */
    const rnnlab_option xent[] = {{"loss", "xent", 0}}, bern[] = {{"loss", "bernoulli", 0}},
                        classes[] = {{"loss", "xent", 0}, {"classes", "3", 0}};
    snprintf(text, sizeof text, "%ss1,0,1,2,1.5\n", h);
    csv_bad(text, xent, 1, RNNLAB_ERR_IO, ":2:5: field 'y': 1.5 is not a class number");
    snprintf(text, sizeof text, "%ss1,0,1,2,0.063107\n", h); /* as written, not %.17g's 0.063106999999999996 */
    csv_bad(text, xent, 1, RNNLAB_ERR_IO, ":2:5: field 'y': 0.063107 is not a class number");
    snprintf(text, sizeof text, "%ss1,0,1,2,3\n", h);
    csv_bad(text, classes, 2, RNNLAB_ERR_IO, ":2:5: field 'y': 3 is not a class number in [0, 3)");
    snprintf(text, sizeof text, "%ss1,0,1,2,1.5\n", h);
    csv_bad(text, bern, 1, RNNLAB_ERR_IO, ":2:5: field 'y': 1.5, expected a probability in [0, 1]");
    /* options */
    snprintf(text, sizeof text, "%ss1,0,1,2,1\n", h);
    const rnnlab_option two[] = {{"loss", "xent", 0}, {"targets", "a,y", 0}};
    csv_bad(text, two, 2, RNNLAB_ERR_CONFIG, "targets: loss = xent takes one target column");
    const rnnlab_option cls_mse[] = {{"classes", "3", 0}};
    csv_bad(text, cls_mse, 1, RNNLAB_ERR_CONFIG, "classes: only for loss = xent");
    const rnnlab_option both[] = {{"split", "1,0,0", 0}, {"split_column", "t", 0}};
    csv_bad(text, both, 2, RNNLAB_ERR_CONFIG, "split: give split fractions or a split_column, not both");
    const rnnlab_option empty_name[] = {{"features", "a,,b", 0}};
    csv_bad(text, empty_name, 1, RNNLAB_ERR_CONFIG, "features: an empty column name");
    /* line numbers with CR-only (old Mac) and CRLF line ends, a CR alone at the end of the reader's
       64 KiB chunk included (the next chunk says whether an LF follows it) */
    csv_bad("id,t,a,b,y\rs1,0,1,2,1\rs1,1,x,2,1\r", NULL, 0, RNNLAB_ERR_IO, ":3:3: field 'a'");
    csv_bad("id,t,a,b,y\r\ns1,0,1,2,1\r\ns1,1,x,2,1\r\n", NULL, 0, RNNLAB_ERR_IO, ":3:3: field 'a'");
    for (int crlf = 0; crlf < 2; crlf++) {
        static char big[70000];
        const char *eol = crlf ? "\r\n" : "\r";
        int found = 0;
        for (int pad = 0; pad < 16 && !found; pad++) { /* the first row's id padded until a line end starts at byte 65535 */
            int len = snprintf(big, sizeof big, "id,t,a,b,y%s", eol), lines = 1;
            for (int k = 0; len < 65600; k++, lines++)
                len += snprintf(big + len, sizeof big - (size_t)len, "s%05d%.*s,0,1,2,1%s", k, k ? 0 : pad, "pppppppppppppppp", eol);
            if (big[65535] != '\r') continue;
            found = 1;
            snprintf(big + len, sizeof big - (size_t)len, "s_bad,0,x,2,1%s", eol);
            char want[64];
            snprintf(want, sizeof want, ":%d:3: field 'a'", lines + 1);
            csv_bad(big, NULL, 0, RNNLAB_ERR_IO, want);
        }
        assert_true(found);
    }
    /* a file of another separator: one header column, named as such */
    csv_bad("id;t;a;b;y\ns1;0;1;2;1\n", NULL, 0, RNNLAB_ERR_IO, "its one column holds ';' or a tab: the file must be comma-separated");
    const rnnlab_option twice[] = {{"features", "a, b,a", 0}};
    csv_bad(text, twice, 1, RNNLAB_ERR_CONFIG, "features: column 'a' is listed twice in 'a, b,a'");
    const rnnlab_option no_train[] = {{"split", "0,1,0", 0}};
    csv_bad(text, no_train, 1, RNNLAB_ERR_CONFIG, "split: no sequence of");
    open_fails("csv", NULL, 0, RNNLAB_ERR_CONFIG, "path: the csv task needs path, features and targets");
    const rnnlab_option missing[] = {{"path", check_tmp_path("nope.csv"), 0}, {"features", "a", 0}, {"targets", "y", 0}};
    open_fails("csv", missing, 3, RNNLAB_ERR_IO, "nope.csv: no such file");
    /* a NUL byte, a huge line */
    {
        const char *path = check_tmp_path("user_nul.csv");
        check_write_bytes(path, "id,t,a,b,y\ns1,0,1\0002,2,3\n", 24, 0);
        const rnnlab_option o[] = {{"path", path, 0}, {"features", "a,b", 0}, {"targets", "y", 0}};
        open_fails("csv", o, 3, RNNLAB_ERR_IO, ":2:3: NUL byte in a field");
        const size_t n = 2u << 20;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        memcpy(big, "id,t,a,b,y\ns1,0,", 16);
        big[n] = '\0';
        check_write_file(path, big);
        open_fails("csv", o, 3, RNNLAB_ERR_IO, ":2: record longer than 1048576 bytes");
        free(big);
    }
#undef BAD
}

/* ================================================================ the real data, when present */

static void test_shared_music_has_the_published_splits(void **state)
{
    (void)state;
    const char *path = check_shared_path("datasets/music/jsb_chorales.csv");
    if (!path) {
        fprintf(stderr, "skipped: no shared datasets/music/jsb_chorales.csv (set RNNLAB_SHARED)\n");
        skip();
    }
    const rnnlab_option o[] = {{"path", path, 0}};
    rnnlab_dataset *ds = open_ok("jsb_chorales", o, 1);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->split_size[0], 229);
    assert_int_equal(in->split_size[1], 76);
    assert_int_equal(in->split_size[2], 77);
    assert_int_equal(in->seq_len, 159); /* the longest chorale has 160 steps */
    rnnlab_dataset_close(ds);
}

static void test_installed_fashion_mnist_has_its_sizes(void **state)
{
    (void)state;
    const int i = rnnlab_task_find("fashion_mnist");
    if (rnnlab_task_installed(i) != 1) {
        fprintf(stderr, "skipped: Fashion-MNIST is not installed (make setup-data)\n");
        skip();
    }
    rnnlab_dataset *ds = open_ok("fashion_mnist", NULL, 0);
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    assert_int_equal(in->split_size[0], 55000);
    assert_int_equal(in->split_size[1], 5000);
    assert_int_equal(in->split_size[2], 10000);
    check_batch b = check_batch_get(ds, RNNLAB_SPLIT_TEST, 0, 2); /* t10k begins with an ankle boot and a pullover */
    assert_int_equal(b.cls[0], 9);
    assert_int_equal(b.cls[1], 2);
    for (int p = 0; p < 784; p++) assert_true(check_batch_x(&b, p, 0, 0) >= 0 && check_batch_x(&b, p, 0, 0) <= 1);
    check_batch_free(&b);
    rnnlab_dataset_close(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist_reads_idx),
        cmocka_unit_test_teardown(test_fashion_mnist_shared_reads, sharing_off),
        cmocka_unit_test(test_fashion_mnist_permutation_is_fixed_by_its_seed),
        cmocka_unit_test(test_fashion_mnist_refuses_malformed_idx),
        cmocka_unit_test_teardown(test_text_shared_reads, sharing_off),
        cmocka_unit_test(test_text_bytes_and_windows),
        cmocka_unit_test(test_text_utf8),
        cmocka_unit_test_teardown(test_music_shared_reads, sharing_off),
        cmocka_unit_test(test_music_next_step_prediction),
        cmocka_unit_test(test_music_refuses_malformed_csv),
        cmocka_unit_test(test_csv_schema),
        cmocka_unit_test(test_csv_refuses_malformed_input),
        cmocka_unit_test(test_shared_music_has_the_published_splits),
        cmocka_unit_test(test_installed_fashion_mnist_has_its_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
