/*
 * io.c - what the loaders share: growable buffers, whole-file reading through zlib (gzip or plain,
 * transparently), and the CSV row reader on libcsv with line and column numbers for messages.
 *
 * Not here: any format's meaning (idx.c, text.c, music.c, csv.c).
 *
 * Every CSV goes through libcsv (strict mode), fed one physical line at a time so that each record
 * knows its line; csv_fini is always called, so a last row without a newline is still read. libcsv
 * allocates through rnnlab_malloc/rnnlab_free (csv_set_realloc_func), and a record longer than
 * RNNLAB_CSV_MAX_RECORD bytes is refused before libcsv grows its buffer past it.
 */
#include "data/data_internal.h"
#include "rnnlab/format.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---------------------------------------------------------------- buffers */

rnnlab_status rnnlab_buf_reserve(rnnlab_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) return RNNLAB_OK;
    if (extra > SIZE_MAX / 2 - b->len) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading data");
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) cap *= 2;
    unsigned char *p = rnnlab_malloc(cap);
    if (!p) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading data (%zu bytes)", cap);
    if (b->len) memcpy(p, b->data, b->len);
    rnnlab_free(b->data);
    b->data = p, b->cap = cap;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_buf_append(rnnlab_buf *b, const void *p, size_t n)
{
    rnnlab_status st = rnnlab_buf_reserve(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_buf_printf(rnnlab_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return rnnlab_error(RNNLAB_ERR_NOMEM, "formatting failed");
    rnnlab_status st = rnnlab_buf_reserve(b, (size_t)n + 1);
    if (st) return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RNNLAB_OK;
}

void rnnlab_buf_deinit(rnnlab_buf *b)
{
    rnnlab_free(b->data);
    b->data = NULL, b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- shared reads
 *
 * One table, guarded by one critical section (runs open their datasets side by side). A miss loads
 * inside it, so a second thread after the same file waits for the first read instead of reading it
 * again. Kept values no reader holds go when a new one needs their slot and when the last
 * rnnlab_dataset_cache(0) ends sharing. */

enum { RNNLAB_SHARE_N = 16 };

typedef struct share_entry {
    char *key;   /* NULL: a free slot */
    void *value;
    void (*drop)(void *value);
    int refs;    /* readers holding it */
} share_entry;

static share_entry share_table[RNNLAB_SHARE_N];
static int share_depth; /* rnnlab_dataset_cache(1) calls not yet ended */

static void share_free(share_entry *e)
{
    e->drop(e->value);
    rnnlab_free(e->key);
    memset(e, 0, sizeof *e);
}

rnnlab_status rnnlab_share_get(const char *key, rnnlab_share_load_fn load, void (*drop)(void *value), void *ctx,
                               void **value)
{
    rnnlab_status st = RNNLAB_OK;
    int done = 0;
    *value = NULL;
#pragma omp critical(rnnlab_share)
    if (share_depth > 0 && key) {
        share_entry *slot = NULL;
        for (int i = 0; i < RNNLAB_SHARE_N && !done; i++) {
            share_entry *e = &share_table[i];
            if (e->key && e->drop == drop && !strcmp(e->key, key)) *value = e->value, e->refs++, done = 1;
            else if (!e->key && !slot) slot = e;
        }
        for (int i = 0; i < RNNLAB_SHARE_N && !done && !slot; i++) /* evict a value nobody reads */
            if (share_table[i].key && share_table[i].refs == 0) share_free(&share_table[i]), slot = &share_table[i];
        if (!done && slot) {
            char *copy = rnnlab_malloc(strlen(key) + 1);
            if (!copy) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
            else if ((st = load(ctx, value))) rnnlab_free(copy);
            else *slot = (share_entry){strcpy(copy, key), *value, drop, 1};
            done = 1;
        }
    }
    if (done) return st;
    return load(ctx, value); /* sharing off, or the table full of values in use */
}

void rnnlab_share_release(void *value, void (*drop)(void *value))
{
    if (!value) return;
    int kept = 0;
#pragma omp critical(rnnlab_share)
    for (int i = 0; i < RNNLAB_SHARE_N && !kept; i++) {
        share_entry *e = &share_table[i];
        if (e->key && e->value == value) {
            kept = 1;
            if (--e->refs == 0 && share_depth == 0) share_free(e);
        }
    }
    if (!kept) drop(value);
}

void rnnlab_dataset_cache(int on)
{
#pragma omp critical(rnnlab_share)
    {
        if (on) share_depth++;
        else if (share_depth > 0 && --share_depth == 0)
            for (int i = 0; i < RNNLAB_SHARE_N; i++)
                if (share_table[i].key && share_table[i].refs == 0) share_free(&share_table[i]);
    }
}

/* ---------------------------------------------------------------- files */

int rnnlab_file_exists(const char *path, int dir)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return 0;
    return dir ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode);
}

/* Opens path for reading through zlib. */
static rnnlab_status open_gz(gzFile *out, const char *path, const char *fetch)
{
    struct stat sb;
    *out = NULL;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return rnnlab_error(RNNLAB_ERR_IO, "%s: no such file%s%s", path, fetch ? "; " : "", fetch ? fetch : "");
        return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) return rnnlab_error(RNNLAB_ERR_IO, "%s: is a directory, expected a file", path);
    if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)) /* /dev/zero: gigabytes read before a limit said no */
        return rnnlab_error(RNNLAB_ERR_IO, "%s: is a device, expected a file", path);
    gzFile gz = gzopen(path, "rb");
    if (!gz) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open (%s)", path, errno ? strerror(errno) : "zlib");
    gzbuffer(gz, 1 << 17);
    *out = gz;
    return RNNLAB_OK;
}

/* Reads up to n bytes; *got is the count. A truncated or corrupt gzip stream is an error. */
static rnnlab_status read_gz(gzFile gz, const char *path, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        const unsigned want = (unsigned)(n - *got > (1u << 30) ? (1u << 30) : n - *got);
        const int r = gzread(gz, (unsigned char *)buf + *got, want);
        if (r < 0) break;
        if (r == 0) break;
        *got += (size_t)r;
    }
    int err = Z_OK;
    const char *msg = gzerror(gz, &err);
    if (err != Z_OK && err != Z_STREAM_END)
        return rnnlab_error(RNNLAB_ERR_IO, "%s: truncated or corrupt gzip data (zlib: %s)", path,
                            err == Z_ERRNO ? strerror(errno) : msg);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_file_read_all(const char *path, const char *fetch, size_t max_bytes, rnnlab_buf *out)
{
    gzFile gz;
    rnnlab_status st = open_gz(&gz, path, fetch);
    if (st) return st;
    for (;;) {
        if ((st = rnnlab_buf_reserve(out, 1 << 16))) break;
        size_t got;
        if ((st = read_gz(gz, path, out->data + out->len, 1 << 16, &got))) break;
        out->len += got;
        if (out->len > max_bytes) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: larger than %zu bytes, the most this loader reads", path, max_bytes);
            break;
        }
        if (got < (1 << 16)) break;
    }
    gzclose(gz);
    return st;
}

/* ---------------------------------------------------------------- messages */

void rnnlab_quote_text(char *out, size_t size, const char *s, size_t n)
{
    size_t o = 0;
    const size_t shown = n > 40 ? 40 : n;
    for (size_t i = 0; i < shown && o + 8 < size; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
    }
    if (shown < n && o + 4 < size) memcpy(out + o, "...", 3), o += 3;
    out[o < size ? o : size - 1] = '\0';
}

/* ---------------------------------------------------------------- CSV rows */

/* libcsv's buffer through rnnlab_malloc: a size header in front of each block (libcsv only ever
 * reallocs and frees its entry buffer). */
typedef union csv_block_head {
    size_t size;
    max_align_t align;
} csv_block_head;

static void *csv_block_realloc(void *p, size_t n)
{
    csv_block_head *q = rnnlab_malloc(sizeof *q + n);
    if (!q) return NULL;
    q->size = n;
    if (p) {
        csv_block_head *old = (csv_block_head *)p - 1;
        memcpy(q + 1, p, old->size < n ? old->size : n);
        rnnlab_free(old);
    }
    return q + 1;
}

static void csv_block_free(void *p)
{
    if (p) rnnlab_free((csv_block_head *)p - 1);
}

typedef struct csv_reader {
    const char *path;
    rnnlab_csv_row_fn fn;
    void *ctx;
    rnnlab_status st; /* the first failure; later callbacks do nothing */
    long line;        /* the physical line being fed */
    long rec_line;    /* the line where the current record started (0: none started) */
    long records;
    size_t pending;   /* bytes fed since the last record ended */
    rnnlab_buf text;  /* the current record's fields, each NUL-terminated */
    rnnlab_buf offs;  /* (fields) size_t offsets into text */
    int nul_col;      /* first field (1-based) holding a NUL byte, or 0 */
} csv_reader;

static void csv_cb_field(void *field, size_t len, void *data)
{
    csv_reader *r = data;
    if (r->st) return;
    if (!r->rec_line) r->rec_line = r->line;
    const size_t off = r->text.len;
    if ((r->st = rnnlab_buf_append(&r->offs, &off, sizeof off))) return;
    if ((r->st = rnnlab_buf_reserve(&r->text, len + 1))) return;
    if (len) memcpy(r->text.data + r->text.len, field, len);
    if (!r->nul_col && len && memchr(field, 0, len)) r->nul_col = (int)(r->offs.len / sizeof(size_t));
    r->text.data[r->text.len + len] = '\0';
    r->text.len += len + 1;
}

static void csv_cb_record(int c, void *data)
{
    (void)c;
    csv_reader *r = data;
    r->pending = 0;
    if (r->st) return;
    const int n = (int)(r->offs.len / sizeof(size_t));
    const long line = r->rec_line ? r->rec_line : r->line;
    r->rec_line = 0;
    if (n == 0) return;
    if (r->nul_col) {
        r->st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: NUL byte in a field", r->path, line, r->nul_col);
        return;
    }
    /* the pointer and length arrays live after the offsets, in the same buffer */
    const size_t need = (size_t)n * (sizeof(char *) + sizeof(size_t));
    if ((r->st = rnnlab_buf_reserve(&r->offs, need + sizeof(char *)))) return;
    const size_t *off = (const size_t *)r->offs.data;
    unsigned char *tail = r->offs.data + r->offs.len;
    tail += (sizeof(char *) - (uintptr_t)tail % sizeof(char *)) % sizeof(char *);
    const char **field = (const char **)(void *)tail;
    size_t *len = (size_t *)(void *)(tail + (size_t)n * sizeof(char *));
    for (int i = 0; i < n; i++) {
        field[i] = (const char *)r->text.data + off[i];
        len[i] = (i + 1 < n ? off[i + 1] : r->text.len) - off[i] - 1;
    }
    const rnnlab_csv_row row = {r->path, line, n, field, len};
    r->records++;
    r->st = r->fn(r->ctx, &row);
    r->text.len = 0, r->offs.len = 0;
}

/* Feeds one piece of input (never spanning a newline) to libcsv. */
static void csv_feed(struct csv_parser *p, csv_reader *r, const unsigned char *s, size_t n)
{
    if (r->st) return;
    r->pending += n;
    if (r->pending > RNNLAB_CSV_MAX_RECORD) {
        r->st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: record longer than %u bytes (a huge line, or an unclosed quote)",
                             r->path, r->rec_line ? r->rec_line : r->line, (unsigned)RNNLAB_CSV_MAX_RECORD);
        return;
    }
    if (csv_parse(p, s, n, csv_cb_field, csv_cb_record, r) != n && !r->st) {
        const int e = csv_error(p);
        if (e == CSV_EPARSE)
            r->st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: malformed quoting (a quote inside an unquoted field, or text "
                                 "after a closing quote)",
                                 r->path, r->line, (int)(r->offs.len / sizeof(size_t)) + 1);
        else if (e == CSV_ENOMEM)
            r->st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s:%ld: out of memory reading CSV", r->path, r->line);
        else
            r->st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: CSV error: %s", r->path, r->line, csv_strerror(e));
    }
}

rnnlab_status rnnlab_csv_read(const char *path, const char *fetch, rnnlab_csv_row_fn fn, void *ctx)
{
    gzFile gz;
    rnnlab_status st = open_gz(&gz, path, fetch);
    if (st) return st;
    struct csv_parser p;
    csv_reader r = {.path = path, .fn = fn, .ctx = ctx, .line = 1};
    enum { CHUNK = 1 << 16 };
    unsigned char *chunk = rnnlab_malloc(CHUNK);
    if (!chunk || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        rnnlab_free(chunk);
        gzclose(gz);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", path);
    }
    csv_set_realloc_func(&p, csv_block_realloc);
    csv_set_free_func(&p, csv_block_free);
    csv_set_blk_size(&p, 1 << 14);
    int any = 0, cr_last = 0; /* cr_last: the previous chunk ended with CR, whose line ends unless LF follows */
    while (!r.st) {
        size_t got;
        if ((r.st = read_gz(gz, path, chunk, CHUNK, &got))) break;
        size_t a = 0;
        if (!any && got >= 3 && !memcmp(chunk, "\xef\xbb\xbf", 3)) a = 3; /* a UTF-8 byte order mark (Excel) */
        if (got) any = 1;
        if (cr_last && got && chunk[0] != '\n') r.line++;
        cr_last = 0;
        while (a < got && !r.st) { /* one physical line (or the rest of the chunk) at a time: LF, CRLF or CR */
            size_t b = a;
            while (b < got && chunk[b] != '\n' && chunk[b] != '\r') b++;
            int ends = 0;
            if (b < got && chunk[b] == '\n') b++, ends = 1;
            else if (b < got) { /* CR: CRLF ends at the LF; a CR alone ends the line (old Mac files) */
                if (b + 1 < got && chunk[b + 1] == '\n') b += 2, ends = 1;
                else if (b + 1 < got) b++, ends = 1;
                else b++, cr_last = 1; /* the chunk's last byte: the next chunk says which */
            }
            csv_feed(&p, &r, chunk + a, b - a);
            if (ends) r.line++;
            a = b;
        }
        if (got < CHUNK) break;
    }
    if (cr_last) r.line++; /* the file ended with a CR */
    if (!r.st) {
        if (r.line > 1 && r.pending == 0) r.line--; /* the file ended with a newline: no line after it */
        if (csv_fini(&p, csv_cb_field, csv_cb_record, &r) != 0 && !r.st)
            r.st = csv_error(&p) == CSV_EPARSE
                       ? rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: unclosed quote at the end of the file", path,
                                      r.rec_line ? r.rec_line : r.line)
                       : rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory reading CSV", path);
    }
    if (!r.st && (!any || r.records == 0))
        r.st = rnnlab_error(RNNLAB_ERR_IO, "%s: empty file (expected a header row)", path);
    csv_free(&p);
    rnnlab_free(chunk);
    rnnlab_buf_deinit(&r.text);
    rnnlab_buf_deinit(&r.offs);
    gzclose(gz);
    return r.st;
}

rnnlab_status rnnlab_csv_double(const rnnlab_csv_row *row, int col, const char *name, double *out)
{
    const char *s = row->field[col];
    if (rnnlab_parse_double(s, out) && isfinite(*out)) return RNNLAB_OK;
    char q[64];
    rnnlab_quote_text(q, sizeof q, s, row->len[col]);
    return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': '%s' is not a finite number", row->path, row->line,
                        col + 1, name, q);
}
