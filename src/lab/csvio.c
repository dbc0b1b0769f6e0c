/*
 * csvio.c - building CSV rows in memory and reading CSV files, both through libcsv.
 *
 * Not here: what the columns mean (experiment.c writes them, README documents them).
 */
#include "rnnlab/csvio.h"
#include "rnnlab/format.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- writing */

void rnnlab_csvbuf_free(rnnlab_csvbuf *b)
{
    if (!b) return;
    rnnlab_free(b->data);
    memset(b, 0, sizeof *b);
}

void rnnlab_csvbuf_clear(rnnlab_csvbuf *b)
{
    b->len = 0, b->fields_in_row = 0;
    if (b->data) b->data[0] = '\0';
}

static int reserve(rnnlab_csvbuf *b, size_t extra)
{
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = rnnlab_malloc(cap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    if (b->len) memcpy(d, b->data, b->len);
    rnnlab_free(b->data);
    b->data = d, b->cap = cap;
    return 1;
}

void rnnlab_csv_append(rnnlab_csvbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sep(rnnlab_csvbuf *b)
{
    if (b->fields_in_row++) rnnlab_csv_append(b, ",", 1);
}

void rnnlab_csv_text(rnnlab_csvbuf *b, const char *s)
{
    sep(b);
    const size_t n = strlen(s), need = 2 * n + 2; /* libcsv's bound: every quote doubled, two around */
    if (!reserve(b, need)) return;
    b->len += csv_write(b->data + b->len, need, s, n);
    b->data[b->len] = '\0';
}

void rnnlab_csv_num(rnnlab_csvbuf *b, double v)
{
    char tmp[40];
    sep(b);
    const int n = rnnlab_format_double(tmp, sizeof tmp, v);
    rnnlab_csv_append(b, tmp, (size_t)n);
}

void rnnlab_csv_int(rnnlab_csvbuf *b, long v)
{
    char tmp[32];
    sep(b);
    const int n = snprintf(tmp, sizeof tmp, "%ld", v);
    rnnlab_csv_append(b, tmp, (size_t)n);
}

void rnnlab_csv_empty(rnnlab_csvbuf *b) { sep(b); }

void rnnlab_csv_value(rnnlab_csvbuf *b, const char *s)
{
    double v;
    if (rnnlab_parse_double(s, &v) && isfinite(v) && !strchr(s, ' ')) {
        sep(b);
        rnnlab_csv_append(b, s, strlen(s));
    } else
        rnnlab_csv_text(b, s);
}

void rnnlab_csv_end_row(rnnlab_csvbuf *b)
{
    rnnlab_csv_append(b, "\n", 1);
    b->fields_in_row = 0;
}

/* ---------------------------------------------------------------- reading */

typedef struct reader {
    rnnlab_csv_scan_fn row;
    void *user;
    char **fields;
    int n, cap;
    long line;
    int stop; /* status returned by row(), or an allocation failure (RNNLAB_ERR_NOMEM) */
} reader;

static void on_field(void *s, size_t len, void *data)
{
    reader *r = data;
    if (r->stop) return;
    if (r->n == r->cap) {
        const int cap = r->cap ? 2 * r->cap : 32;
        char **f = rnnlab_malloc((size_t)cap * sizeof *f);
        if (!f) {
            r->stop = RNNLAB_ERR_NOMEM;
            return;
        }
        if (r->n) memcpy(f, r->fields, (size_t)r->n * sizeof *f);
        rnnlab_free(r->fields);
        r->fields = f, r->cap = cap;
    }
    char *copy = rnnlab_malloc(len + 1); /* libcsv's fields are not NUL-terminated */
    if (!copy) {
        r->stop = RNNLAB_ERR_NOMEM;
        return;
    }
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    r->fields[r->n++] = copy;
}

static void on_row(int c, void *data)
{
    (void)c;
    reader *r = data;
    r->line++;
    if (!r->stop) r->stop = r->row(r->user, r->fields, r->n, r->line);
    for (int i = 0; i < r->n; i++) rnnlab_free(r->fields[i]);
    r->n = 0;
}

/* libcsv's error in words a user can act on (its own for a parse error is "error parsing data while
 * strict checking enabled") */
static const char *csv_why(const struct csv_parser *p)
{
    const int err = csv_error((struct csv_parser *)p);
    return err == CSV_EPARSE ? "malformed CSV: a quote inside an unquoted field, or a quoted field that never ends "
                               "(a row cut short or edited?)"
                             : csv_strerror(err);
}

rnnlab_status rnnlab_csv_scan(const char *path, rnnlab_csv_scan_fn row, void *user)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL | CSV_STRICT | CSV_STRICT_FINI) != 0) { /* an unclosed quote is an error */
        fclose(f);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "%s: cannot initialise the CSV parser", path);
    }
    reader r = {row, user, NULL, 0, 0, 0, 0};
    char buf[1 << 16];
    size_t n;
    rnnlab_status st = RNNLAB_OK;
    while (!r.stop && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, on_field, on_row, &r) != n) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %s", path, r.line + 1, csv_why(&p));
            break;
        }
    if (!st && ferror(f)) st = rnnlab_error(RNNLAB_ERR_IO, "%s: read error", path);
    if (!st && !r.stop && csv_fini(&p, on_field, on_row, &r) != 0)
        st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %s", path, r.line + 1, csv_why(&p));
    for (int i = 0; i < r.n; i++) rnnlab_free(r.fields[i]);
    rnnlab_free(r.fields);
    csv_free(&p);
    fclose(f);
    if (!st && r.stop == RNNLAB_ERR_NOMEM) st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory reading", path);
    else if (!st && r.stop) st = (rnnlab_status)r.stop;
    return st;
}
