/*
 * check.h - helpers shared by the CMocka tests.
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

#include <cmocka.h>

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

#endif
