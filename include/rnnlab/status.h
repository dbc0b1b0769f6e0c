/*
 * rnnlab/status.h - status codes, error messages and the allocator every module uses.
 *
 * The library never prints, exits or aborts because of bad input: a function that can fail returns
 * an rnnlab_status and leaves a message (which argument, which dimension, which layer/timestep) that
 * rnnlab_last_error() returns. Messages are per thread.
 *
 * Pointer arguments must not be NULL unless the function's comment allows it ("or NULL", "may be
 * NULL"). The functions of model.h, init.h, bptt.h, data.h, diag.h, optim.h, checkpoint.h,
 * gradcheck.h, train.h and experiment.h that return a status check theirs and return
 * RNNLAB_ERR_CONFIG with "function: argument must not be NULL"; functions that return void or a
 * value (the *_free and *_close functions, which take NULL, aside), and those of cell.h, csvio.h
 * and format.h, do not check.
 *
 * All heap memory goes through rnnlab_malloc/rnnlab_calloc/rnnlab_free so that a test can make the
 * Nth allocation fail (rnnlab_alloc_fail_after).
 */
#ifndef RNNLAB_STATUS_H
#define RNNLAB_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_status {
    RNNLAB_OK = 0,
    RNNLAB_ERR_NOMEM,   /* allocation failed */
    RNNLAB_ERR_SHAPE,   /* dimensions disagree or are out of range */
    RNNLAB_ERR_CONFIG,  /* invalid option, configuration or experiment file */
    RNNLAB_ERR_IO,      /* open/read/write failed, or a file is malformed */
    RNNLAB_ERR_NUMERIC, /* NaN or Inf where a finite value was required */
    RNNLAB_ERR_BUSY     /* another run (of another process, or of this one) holds the output folder; nothing written */
} rnnlab_status;

/* Short fixed text for a status ("ok", "out of memory", ...). Never NULL. */
const char *rnnlab_status_str(rnnlab_status s);

/* The message of the last failure on this thread ("" if none). Valid until the next failure on
 * this thread; owned by the library. */
const char *rnnlab_last_error(void);

/* Records a printf-style message for this thread and returns s, so callers can write
 * `return rnnlab_error(RNNLAB_ERR_SHAPE, "hidden_size must be >= 1 (got %d)", H);`.
 * Messages longer than 8191 bytes are truncated. An argument may be rnnlab_last_error() itself, to
 * wrap the last message in context. */
rnnlab_status rnnlab_error(rnnlab_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefixes the current message of this thread with "prefix: " (for context such as a file name)
 * and returns s. */
rnnlab_status rnnlab_error_prefix(rnnlab_status s, const char *prefix);

/* Clears this thread's message. */
void rnnlab_error_clear(void);

/* malloc/calloc/free wrappers. rnnlab_malloc(0) returns a valid unique pointer. rnnlab_free(NULL)
 * does nothing. The allocation functions return NULL on failure and do not set a message (the
 * caller knows what it was allocating). */
void *rnnlab_malloc(size_t nbytes);
void *rnnlab_calloc(size_t count, size_t size);
void rnnlab_free(void *p);

/* Test hook: the next n allocations succeed and every later one fails, until called again with
 * n < 0 (which disables the failure). Counts allocations on all threads. */
void rnnlab_alloc_fail_after(long n);

#ifdef __cplusplus
}
#endif
#endif
