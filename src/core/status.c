/*
 * status.c - status codes, per-thread error messages, and the allocator.
 *
 * Not here: any printing. The CLI prints messages; the library only stores them.
 */
#include "rnnlab/status.h"
#include "core/internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- status and messages */

const char *rnnlab_status_str(rnnlab_status s)
{
    switch (s) {
    case RNNLAB_OK: return "ok";
    case RNNLAB_ERR_NOMEM: return "out of memory";
    case RNNLAB_ERR_SHAPE: return "shape error";
    case RNNLAB_ERR_CONFIG: return "configuration error";
    case RNNLAB_ERR_IO: return "input/output error";
    case RNNLAB_ERR_NUMERIC: return "non-finite value";
    case RNNLAB_ERR_BUSY: return "in use by another run";
    }
    return "unknown status";
}

static _Thread_local char last_msg[8192]; /* two PATH_MAX paths and their reason fit */

const char *rnnlab_last_error(void) { return last_msg; }

void rnnlab_error_clear(void) { last_msg[0] = '\0'; }

rnnlab_status rnnlab_error(rnnlab_status s, const char *fmt, ...)
{
    /* formatted aside first: an argument may be rnnlab_last_error() itself (adding context to a
     * message), and vsnprintf into the buffer it reads from is undefined */
    char tmp[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_msg, tmp, sizeof last_msg);
    return s;
}

rnnlab_status rnnlab_error_prefix(rnnlab_status s, const char *prefix)
{
    char tmp[sizeof last_msg];
    const size_t n = strlen(prefix);
    if (n + 2 < sizeof tmp) {
        memcpy(tmp, prefix, n);
        memcpy(tmp + n, ": ", 2);
        const size_t room = sizeof tmp - n - 3;
        size_t m = strlen(last_msg);
        if (m > room) m = room;
        memcpy(tmp + n + 2, last_msg, m);
        tmp[n + 2 + m] = '\0';
        memcpy(last_msg, tmp, sizeof last_msg);
    }
    return s;
}

/* ---------------------------------------------------------------- allocation */

static _Atomic long fail_after = -1; /* < 0: never fail */

void rnnlab_alloc_fail_after(long n) { atomic_store(&fail_after, n); }

static int alloc_should_fail(void)
{
    long left = atomic_load(&fail_after);
    while (left > 0 && !atomic_compare_exchange_weak(&fail_after, &left, left - 1)) {
    }
    return left == 0;
}

void *rnnlab_malloc(size_t nbytes)
{
    if (alloc_should_fail()) return NULL;
    return malloc(nbytes ? nbytes : 1);
}

void *rnnlab_calloc(size_t count, size_t size)
{
    if (alloc_should_fail()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void rnnlab_free(void *p) { free(p); }

rnnlab_status rnnlab_check_range(const char *field, double v, double lo, double hi, int hi_open)
{
    if (!isfinite(v) || v < lo || (hi_open ? v >= hi : v > hi)) {
        if (isinf(hi) && isinf(lo)) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s must be finite (got %g)", field, v);
        if (isinf(hi)) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s must be finite and >= %g (got %g)", field, lo, v);
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s must be in [%g, %g%c (got %g)", field, lo, hi, hi_open ? ')' : ']', v);
    }
    return RNNLAB_OK;
}
