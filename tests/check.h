/*
 * check.h - helpers shared by the CMocka tests: double comparisons, shared data, temporary files,
 * running the CLI, and the models, datasets and batches several tests build.
 *
 * cmocka 1.1.5 (Debian 12) compares floats only after casting to float and lets NaN pass, so the
 * tests compare doubles with check_close, which fails on NaN and names the first bad element.
 */
#ifndef RNNLAB_TEST_CHECK_H
#define RNNLAB_TEST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "rnnlab/data.h"
#include "rnnlab/model.h"

/* 1 if |a[i] - b[i]| <= atol + rtol * max(|a[i]|, |b[i]|) for every i (NaN never passes);
 * otherwise prints "name: first bad index i: a vs b, max difference d" and returns 0. */
int check_close(const char *name, const double *a, const double *b, size_t n, double atol, double rtol);

/* The same for one value. */
int check_close1(const char *name, double a, double b, double atol, double rtol);

/* 1 if the n bytes are equal; otherwise prints the name and first differing byte and returns 0. */
int check_same_bytes(const char *name, const void *a, const void *b, size_t n);

#define assert_close(name, a, b, n, atol, rtol) assert_true(check_close(name, a, b, n, atol, rtol))
#define assert_close1(name, a, b, atol, rtol) assert_true(check_close1(name, a, b, atol, rtol))

/* The shared folder (RNNLAB_SHARED, else ../shared) if it holds path `sub`, else NULL. The
 * returned string is static. */
const char *check_shared_path(const char *sub);

/* A fresh temporary directory for this test (static string), created under $TMPDIR or /tmp. */
const char *check_tmpdir(void);

/* Writes text to a file (aborts the test on failure). */
void check_write_file(const char *path, const char *text);

/* check_tmpdir()/name, in one of 8 static buffers used in turn: up to 8 such paths may be held at once. */
const char *check_tmp_path(const char *name);

/* A file's bytes, NUL-terminated, in a malloc'ed buffer the caller frees; NULL if it cannot be opened.
 * *n (when n is not NULL) gets the length, 0 when the file could not be read whole. */
char *check_slurp(const char *path, size_t *n);

/* 1 if the file at path holds the text want; otherwise prints what it holds (its first 2000 bytes)
 * and returns 0. For a command's log: assert_true(check_file_has(log, "...")). */
int check_file_has(const char *path, const char *want);

/* 1 if files a and b hold the same bytes; otherwise prints both names and sizes and returns 0. */
int check_same_file(const char *a, const char *b);

/* check_same_file on each of the NULL-terminated file names in folders a and b; 1 if all agree
 * (every difference is printed). */
int check_same_files(const char *a, const char *b, const char *const *names);

/* Starts `$RNNLAB_BIN args...` (args NULL-terminated, at most 30) with stdout and stderr to the file
 * log (NULL: /dev/null) and returns its process id without waiting (the caller waits for it). */
pid_t check_spawn_cli(const char *log, const char *const *args);

/* check_spawn_cli, then waits: returns its exit status, or minus the signal that ended it. */
int check_run_cli(const char *log, const char *const *args);

/* Skips the current test, saying why, unless $RNNLAB_BIN names an executable (make test sets it). */
void check_need_cli(void);

/* Writes n bytes to a new file at path, gzip-compressed when gz (aborts the test on failure). */
void check_write_bytes(const char *path, const void *data, size_t n, int gz);

/* p[0..3] = v, big-endian (IDX headers). */
void check_put_u32(unsigned char *p, unsigned v);

/* Writes dir/PREFIX-images-idx3-ubyte.gz, n 28x28 images (pixel p of image i: (i*31 + p) % 256),
 * and dir/PREFIX-labels-idx1-ubyte.gz (label of image i: (i + f) % 10): a Fashion-MNIST stand-in
 * (prefixes train and t10k). */
void check_write_idx_pair(const char *dir, const char *prefix, int n, int f);

/* v[0..n) = uniform draws in [-1, 1) from a generator seeded with seed. */
void check_fill_uniform(double *v, size_t n, uint64_t seed);

/* A model created from *c and initialised with the default rnnlab_init_config from a generator seeded
 * with seed; fails the test if either step fails. The caller frees it (rnnlab_model_free). */
rnnlab_model *check_model(const rnnlab_model_config *c, uint64_t seed);

/* Dataset `name` opened with its n options o and run seed `seed` (no info wanted); fails the test,
 * after printing the library's message, if it does not open. The caller closes it. */
rnnlab_dataset *check_dataset_open(const char *name, const rnnlab_option *o, int n, uint64_t seed);

/* One batch of a dataset in malloc'ed buffers sized from its info: x (T, B, I), y (T, B, O),
 * cls (T, B), len (B). Free with check_batch_free. */
typedef struct check_batch {
    int T, B, I, O;
    double *x, *y;
    int *cls, *len;
} check_batch;

/* Batch `index` of B samples from split `split`; fails the test if the dataset refuses it. */
check_batch check_batch_get(rnnlab_dataset *ds, rnnlab_split split, long index, int B);

/* Frees the batch's buffers (not the struct). */
void check_batch_free(check_batch *b);

/* x[t, s, i] of a batch. */
double check_batch_x(const check_batch *b, int t, int s, int i);

#endif
