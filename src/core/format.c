/*
 * format.c - C-locale number formatting and parsing (see rnnlab/format.h), and UTF-8 decoding
 * (core/internal.h).
 */
#include "rnnlab/format.h"
#include "core/internal.h"

#include <locale.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Switches this thread to the C locale; returns the previous locale to restore. */
static locale_t enter_c(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c(locale_t prev)
{
    if (prev) uselocale(prev);
}

static int format_with(char *buf, size_t size, double v, int digits)
{
    if (isnan(v)) return snprintf(buf, size, "nan");
    if (isinf(v)) return snprintf(buf, size, v < 0 ? "-inf" : "inf");
    locale_t prev = enter_c();
    const int n = snprintf(buf, size, "%.*g", digits, v);
    leave_c(prev);
    return n;
}

int rnnlab_format_double(char *buf, size_t size, double v) { return format_with(buf, size, v, 17); }
int rnnlab_format_float(char *buf, size_t size, double v) { return format_with(buf, size, v, 9); }

int rnnlab_format_shortest(char *buf, size_t size, double v)
{
    if (v == floor(v) && fabs(v) < 1e17) { /* a whole number as written, not 3e+02 */
        locale_t prev = enter_c();
        const int w = snprintf(buf, size, "%.0f", v);
        leave_c(prev);
        return w;
    }
    int n = 0;
    for (int digits = 1; digits <= 17; digits++) {
        n = format_with(buf, size, v, digits);
        double back;
        if (!isfinite(v) || (rnnlab_parse_double(buf, &back) && back == v)) break;
    }
    return n;
}

int rnnlab_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)s[0])) return 0; /* strtod would skip blanks and newlines */
    if (!strcmp(s, "nan") || !strcmp(s, "NaN") || !strcmp(s, "NAN")) return *out = NAN, 1;
    if (!strcmp(s, "inf") || !strcmp(s, "Inf") || !strcmp(s, "+inf")) return *out = INFINITY, 1;
    if (!strcmp(s, "-inf") || !strcmp(s, "-Inf")) return *out = -INFINITY, 1;
    locale_t prev = enter_c();
    char *end;
    const double v = strtod(s, &end);
    leave_c(prev);
    if (end == s || *end) return 0;
    /* decimal only: strtod also reads hex floats ("0x1A" = 26, "0x1p3" = 8), which a data file or an
       experiment file holding them most likely means as something else. ("infinity" and "nan(...)"
       are read; callers that need a finite value check for it.) */
    if (strpbrk(s, "xX")) return 0;
    *out = v;
    return 1;
}

int rnnlab_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    const unsigned c = p[0];
    int k;
    uint32_t v, min;
    if (c < 0x80) return *cp = c, 1;
    if (c >= 0xc2 && c <= 0xdf) k = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) k = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) k = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)k > n) return 0;
    for (int i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return k;
}
