/*
 * data_internal.h - how a task or dataset plugs into rnnlab_dataset (internal), and the helpers the
 * loaders share: growable buffers, file reading through zlib, the libcsv row reader, the IDX reader
 * and the seeded order in which samples are drawn.
 *
 * Each task file defines one rnnlab_task_def and registers it in dataset.c's table. open() fills
 * ds->info and ds->state from the options (which dataset.c has already checked against
 * def->keys); batch() writes one batch; close() frees ds->state; show() (optional) renders one
 * sample of a batch as text for `rnnlab data show`.
 *
 * Dimension letters: T steps, B batch, I inputs, O outputs.
 */
#ifndef RNNLAB_DATA_INTERNAL_H
#define RNNLAB_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rnnlab/data.h"

/* ---------------------------------------------------------------- growable buffers */

/* A growable byte buffer. A zeroed struct is empty and valid. Grows by doubling through
 * rnnlab_malloc + copy (the allocator has no realloc), so appends are amortised O(1). */
typedef struct rnnlab_buf {
    unsigned char *data; /* (cap) owned */
    size_t len, cap;
} rnnlab_buf;

/* Makes room for `extra` more bytes. Errors: RNNLAB_ERR_NOMEM ("out of memory reading data"). */
rnnlab_status rnnlab_buf_reserve(rnnlab_buf *b, size_t extra);
rnnlab_status rnnlab_buf_append(rnnlab_buf *b, const void *p, size_t n);
/* printf-style append that keeps the buffer NUL-terminated (the NUL is not counted in len). */
rnnlab_status rnnlab_buf_printf(rnnlab_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void rnnlab_buf_deinit(rnnlab_buf *b);

/* ---------------------------------------------------------------- shared reads
 *
 * What a loader makes of a file (IDX bytes, a parsed piano roll), kept and shared read-only among
 * the datasets opened while rnnlab_dataset_cache is on (rnnlab/data.h). */

/* Makes the value for a key (reading and parsing the file); ctx is the caller's. */
typedef rnnlab_status (*rnnlab_share_load_fn)(void *ctx, void **value);

/*
 * rnnlab_share_get - the value for `key`: while sharing is on, the kept one if there is one, else
 * load's, kept for later readers (up to RNNLAB_SHARE_N values; more are not kept); with sharing
 * off, load's, the caller's alone. Either way the caller gives it back with rnnlab_share_release,
 * which frees it through drop once no reader holds it and it is not kept. key NULL: never shared
 * (a caller whose key did not fit its buffer). Errors: load's; NOMEM.
 */
rnnlab_status rnnlab_share_get(const char *key, rnnlab_share_load_fn load, void (*drop)(void *value), void *ctx,
                               void **value);
void rnnlab_share_release(void *value, void (*drop)(void *value));

/* ---------------------------------------------------------------- files (zlib) */

/* The longest CSV record (line, or lines of one quoted field) a loader accepts, in bytes. */
#define RNNLAB_CSV_MAX_RECORD (1u << 20)

/* Reads the whole of `path` into out (appending), decompressing gzip transparently (zlib reads a
 * plain file as it is). `fetch` says what to fetch and where to put it when the file is missing.
 * At most max_bytes bytes of content are accepted.
 * Errors: RNNLAB_ERR_IO "path: no such file; <fetch>", "path: is a directory", "path: truncated or
 *         corrupt gzip data (zlib: ...)", "path: larger than N bytes"; RNNLAB_ERR_NOMEM. */
rnnlab_status rnnlab_file_read_all(const char *path, const char *fetch, size_t max_bytes, rnnlab_buf *out);

/* 1 if path exists and is a regular file (or, with dir = 1, a directory). */
int rnnlab_file_exists(const char *path, int dir);

/* One CSV record, its fields copied and NUL-terminated (an embedded NUL byte is refused before
 * the callback sees the row). */
typedef struct rnnlab_csv_row {
    const char *path;
    long line;              /* 1-based line where the record starts */
    int n;                  /* number of fields */
    const char *const *field; /* (n) NUL-terminated copies, valid during the callback only */
    const size_t *len;      /* (n) their lengths */
} rnnlab_csv_row;

/* Called once per record, header included (row->line tells them apart). A status other than
 * RNNLAB_OK stops the reading and is returned by rnnlab_csv_read. */
typedef rnnlab_status (*rnnlab_csv_row_fn)(void *ctx, const rnnlab_csv_row *row);

/*
 * rnnlab_csv_read - reads `path` (.csv or .csv.gz, through zlib) with libcsv in strict mode and
 * calls fn for every record, the last one included when it has no final newline (csv_fini).
 *
 * Quoting is CSV's (RFC 4180): a quoted field is its text without the quotes, so "0.5" is the
 * number 0.5. Blank lines are skipped; spaces and tabs around an unquoted field are dropped; a
 * UTF-8 byte order mark at the start is skipped.
 * Errors: RNNLAB_ERR_IO "path: no such file; <fetch>", "path: empty file (expected a header row)",
 *         "path:line:column: malformed quoting", "path:line: longer than N bytes",
 *         "path:line:column: NUL byte in a field", gzip errors; whatever fn returns;
 *         RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_csv_read(const char *path, const char *fetch, rnnlab_csv_row_fn fn, void *ctx);

/* Field `col` of a row as a finite double (rnnlab_parse_double, C locale).
 * Errors: RNNLAB_ERR_IO "path:line:column: field 'name': 'text' is not a finite number". */
rnnlab_status rnnlab_csv_double(const rnnlab_csv_row *row, int col, const char *name, double *out);

/* Writes s (length n) into out (size >= 8) for a message: at most ~40 characters, non-printable
 * bytes as \xNN, "..." when cut. */
void rnnlab_quote_text(char *out, size_t size, const char *s, size_t n);

/* ---------------------------------------------------------------- IDX (LeCun et al.'s MNIST format) */

/* An IDX file of unsigned bytes: dims[0] items of dims[1] x ... x dims[ndim-1] bytes. */
typedef struct rnnlab_idx {
    int ndim;
    long dims[4];
    size_t item_bytes;   /* product of dims[1..ndim-1] (1 for ndim = 1) */
    unsigned char *data;  /* (dims[0] * item_bytes), inside block */
    unsigned char *block; /* the file as read, header included; read-only, shared (rnnlab_share_get) */
    void *share;          /* the shared value holding block, for rnnlab_idx_deinit */
} rnnlab_idx;

/*
 * rnnlab_idx_read - reads an IDX file (gzip or plain, through zlib): magic 0x00 0x00 0x08 ndim,
 * then ndim big-endian uint32 sizes, then the bytes.
 *
 * expect_ndim is required; expect_item (dims[1..], ndim-1 of them) is checked when not NULL.
 * Errors: RNNLAB_ERR_IO "path: bad magic number 0x...", "path: dimension k is 0", "path: truncated:
 *         expected N bytes of data, got M", "path: N bytes after the data", gzip errors, "path: no
 *         such file; <fetch>"; RNNLAB_ERR_NOMEM. Memory grows with the bytes actually read, so a
 *         header that claims huge sizes cannot make it allocate more than about twice the file.
 */
rnnlab_status rnnlab_idx_read(const char *path, const char *fetch, int expect_ndim, const long *expect_item,
                              rnnlab_idx *out);
void rnnlab_idx_deinit(rnnlab_idx *idx);

/* ---------------------------------------------------------------- tasks */

typedef struct rnnlab_task_def {
    const char *name;
    const char *summary;     /* one line */
    const char *options_doc; /* one line per option: "key = ...  what it means (default)" */
    const char *const *keys; /* accepted option keys, NULL-terminated */
    const char *shape;       /* "I=2 O=1 T=seq_len" for `rnnlab data list` */
    const char *size;        /* examples per split, or "unlimited (generated)" */
    const char *source;      /* paper or dataset, and licence for data */
    const char *data_path;   /* the default file or directory it reads, or NULL (none or path required) */
    int data_is_dir;         /* data_path is a directory */
    rnnlab_status (*open)(rnnlab_dataset *ds, const rnnlab_option *opts, int n_opts, int *bad_option);
    rnnlab_status (*batch)(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                           int *target_class, int *lengths);
    void (*close)(rnnlab_dataset *ds);
    /* Appends a rendering of sample b of a batch (layouts as rnnlab_dataset_batch) to out. NULL: the
     * generic rendering of dataset.c. */
    rnnlab_status (*show)(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                          const double *target, const int *target_class, const int *lengths);
} rnnlab_task_def;

struct rnnlab_dataset {
    const rnnlab_task_def *def;
    rnnlab_task_info info;
    uint64_t seed;
    void *state; /* owned by the task */
};

/* The generator of batch `index` of `split`: seeded from (seed, split, index) only. */
void rnnlab_data_batch_rng(const rnnlab_dataset *ds, rnnlab_split split, long index, void *rng /* rnnlab_rng* */);

/*
 * rnnlab_data_sample - which of the n examples of a split sample b of batch `index` (batch size B)
 * is. Position p = index*B + b. Train: epoch e = p / n visits every example once, in an order that
 * is a seeded pseudo-random permutation of [0, n) (a 4-round Feistel network on the next power of
 * 4 with cycle walking, keyed by (seed, e)); valid and test: p mod n, in order, so batches
 * 0..ceil(n/B)-1 cover the split once (the last one wraps around). Pure: no state, thread-safe.
 */
long rnnlab_data_sample(const rnnlab_dataset *ds, rnnlab_split split, long index, int B, int b, long n);

/* The examples of a split, or an error naming the empty split ("split valid of task X is empty"). */
rnnlab_status rnnlab_data_split_n(const rnnlab_dataset *ds, rnnlab_split split, long *n);

/* Parses "a,b,c" split fractions (each >= 0, sum 1 within 1e-9) of option `key`. */
rnnlab_status rnnlab_opt_fractions(const rnnlab_option *opts, int n, const char *key, double frac[3],
                                   int *bad_option);

/* Option lookup: the index of `key` in opts (the last one if repeated), or -1. */
int rnnlab_opt_find(const rnnlab_option *opts, int n, const char *key);

/* Typed option readers: leave *out at its default when the key is absent; on a bad value set
 * *bad_option to its index and return RNNLAB_ERR_CONFIG with "key: why". */
rnnlab_status rnnlab_opt_int(const rnnlab_option *opts, int n, const char *key, long lo, long hi, long *out,
                             int *bad_option);
rnnlab_status rnnlab_opt_double(const rnnlab_option *opts, int n, const char *key, double lo, double hi, double *out,
                                int *bad_option);
/* One of the NULL-terminated choices; *out is the index of the choice. */
rnnlab_status rnnlab_opt_choice(const rnnlab_option *opts, int n, const char *key, const char *const *choices, int *out,
                                int *bad_option);
/* The value of `key`, or def when absent (never copied: valid as long as opts). */
const char *rnnlab_opt_str(const rnnlab_option *opts, int n, const char *key, const char *def);

extern const rnnlab_task_def rnnlab_task_adding;
extern const rnnlab_task_def rnnlab_task_copy;
extern const rnnlab_task_def rnnlab_task_temporal_order;
extern const rnnlab_task_def rnnlab_task_two_sequence;
extern const rnnlab_task_def rnnlab_task_fashion_mnist;
extern const rnnlab_task_def rnnlab_task_text;
extern const rnnlab_task_def rnnlab_task_jsb_chorales;
extern const rnnlab_task_def rnnlab_task_nottingham;
extern const rnnlab_task_def rnnlab_task_musedata;
extern const rnnlab_task_def rnnlab_task_piano_midi;
extern const rnnlab_task_def rnnlab_task_csv;

#endif
