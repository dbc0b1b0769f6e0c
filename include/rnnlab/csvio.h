/*
 * rnnlab/csvio.h - CSV rows in memory and CSV files read back, both through libcsv.
 *
 * Every CSV rnnlab writes is built with rnnlab_csvbuf: text fields go through libcsv's quoting
 * writer (csv_write), numbers are written in the C locale with enough digits to read back exactly
 * (%.17g for double), and NaN and infinities only as nan, inf, -inf. An empty field means "does not
 * apply" (pandas reads it as NaN, R as NA). Rows end with "\n".
 */
#ifndef RNNLAB_CSVIO_H
#define RNNLAB_CSVIO_H

#include <stddef.h>

#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable text buffer of CSV rows. A zeroed struct is empty and valid. */
typedef struct rnnlab_csvbuf {
    char *data;
    size_t len, cap;
    int fields_in_row; /* fields written since the last end of row */
    int failed;        /* an allocation failed: the buffer is incomplete */
} rnnlab_csvbuf;

/* Frees b's memory and leaves it empty and valid (zeroed). */
void rnnlab_csvbuf_free(rnnlab_csvbuf *b);
/* Empties b (length 0, no row begun), keeping its memory for reuse; b->failed stays as it was. */
void rnnlab_csvbuf_clear(rnnlab_csvbuf *b);
/* Appends one field (a separating comma is added when needed). An allocation failure sets
 * b->failed and drops the field; check it before using the buffer. */
void rnnlab_csv_text(rnnlab_csvbuf *b, const char *s);  /* quoted by libcsv */
void rnnlab_csv_num(rnnlab_csvbuf *b, double v);        /* %.17g / nan / inf / -inf */
void rnnlab_csv_int(rnnlab_csvbuf *b, long v);          /* %ld */
void rnnlab_csv_empty(rnnlab_csvbuf *b);                /* "does not apply" */
/* A value as written by the user: unquoted if it reads as a finite number, quoted text otherwise. */
void rnnlab_csv_value(rnnlab_csvbuf *b, const char *s);
/* Ends the current row ("\n"); the next field starts a new row. */
void rnnlab_csv_end_row(rnnlab_csvbuf *b);
/* Appends raw bytes (another buffer's rows). */
void rnnlab_csv_append(rnnlab_csvbuf *b, const char *s, size_t n);

/*
 * rnnlab_csv_scan - parses a CSV file with libcsv in strict mode (a stray or unclosed quote is an
 * error; csv_fini is called, so a last row without a newline is read too) and calls row(user, fields, n_fields, line) for every row, the header
 * included (line is 1-based). Fields are NUL-terminated copies valid during the call. Returning
 * non-zero from row stops the read with that status.
 * Errors: RNNLAB_ERR_IO ("path: why" / "path:line: why").
 */
typedef int (*rnnlab_csv_scan_fn)(void *user, char **fields, int n_fields, long line);
rnnlab_status rnnlab_csv_scan(const char *path, rnnlab_csv_scan_fn row, void *user);

#ifdef __cplusplus
}
#endif
#endif
