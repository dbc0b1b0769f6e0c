/*
 * check.c - the double comparison helpers, shared-data lookup and temporary files of the tests.
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int check_close(const char *name, const double *a, const double *b, size_t n, double atol, double rtol)
{
    size_t first = n;
    double maxd = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        /* equal values pass (infinities included); otherwise both must be finite and close; NaN fails */
        const int ok = a[i] == b[i] ||
                       (isfinite(a[i]) && isfinite(b[i]) && d <= atol + rtol * fmax(fabs(a[i]), fabs(b[i])));
        if (!(d <= maxd)) maxd = d;
        if (!ok && first == n) first = i;
    }
    if (first == n) return 1;
    fprintf(stderr, "%s: first bad index %zu: %.17g vs %.17g, max difference %.3g (atol %g, rtol %g)\n", name, first,
            a[first], b[first], maxd, atol, rtol);
    return 0;
}

int check_close1(const char *name, double a, double b, double atol, double rtol)
{
    return check_close(name, &a, &b, 1, atol, rtol);
}

int check_same_bytes(const char *name, const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) {
            fprintf(stderr, "%s: bytes differ first at byte %zu of %zu\n", name, i, n);
            return 0;
        }
    return 1;
}

const char *check_shared_path(const char *sub)
{
    static char buf[4096];
    const char *root = getenv("RNNLAB_SHARED");
    if (!root || !*root) root = "../shared";
    snprintf(buf, sizeof buf, "%s/%s", root, sub);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

const char *check_tmpdir(void)
{
    static char buf[4096];
    if (buf[0]) return buf;
    const char *t = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/rnnlab-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}

void check_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}
