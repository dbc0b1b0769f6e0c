/*
 * csv.c - the user's own sequences from a CSV file (task "csv"): variable-length sequences batched
 * with padding, so that padding never changes the loss, the gradients or the taps of real steps.
 *
 * Not here: the generic CSV reading (io.c), the music layout (music.c).
 *
 * Dimensions: F feature columns (I = F), O outputs (target columns, or classes for xent), T steps
 * per batch, B batch.
 *
 * Schema (datasets/README.md has an example): one header row naming the columns, then one row per
 * time step of a sequence:
 *   id_column    the sequence a row belongs to (any text; default "id")
 *   time_column  the row's time (a number; default "t"): rows of a sequence are ordered by it,
 *                may come in any order and interleave with other sequences; two rows of one
 *                sequence with the same time are an error
 *   features     the columns fed as inputs, in the order given (comma-separated names)
 *   targets      the target columns: for mse any numbers, for bernoulli numbers in [0, 1], for
 *                xent one column of class numbers 0 .. classes-1
 *   split_column optional: train, valid or test per row (the same for every row of a sequence);
 *                without it the sequences, in the order their first rows appear, are cut by the
 *                `split` fractions (default 0.8,0.1,0.1): the first floor(0.8 S) train, ...
 * Other columns are ignored. Every used field must be a finite number (C locale; quoted numbers
 * are numbers). With loss_at = last the target is read at the last step of a sample and the
 * targets of the other rows are still checked but not used.
 * seq_len = W cuts sequences longer than W into consecutive windows of W steps (the last one
 * shorter), each its own sample; it is also the batch length T (default: the longest sequence), so
 * seq_len larger than the longest sequence only adds padding, which changes nothing (the engine
 * runs max(lengths) steps and never reads padding: rnnlab/bptt.h).
 * The loss is averaged over real steps only (bptt.h: N = the number of real loss positions).
 */
#include "data/data_internal.h"
#include "rnnlab/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_COLS 4096

typedef struct csv_rowrec {
    int seq;     /* sequence index (order of first appearance) */
    double time;
    long line;
    size_t vals; /* first of its F + O values in the value buffer */
} csv_rowrec;

typedef struct csv_sample {
    long row; /* first row (in sorted order) */
    int len;
} csv_sample;

typedef struct csv_state {
    double *vals;             /* (rows, F + O) in sorted order */
    csv_sample *samples[3];   /* (split_size[s]) */
    int F, n_targ, xent;
} csv_state;

/* What the reader keeps while going through the rows. */
typedef struct csv_reader {
    /* columns */
    int n_cols, col_id, col_time, col_split;
    int n_feat, n_targ;
    int *col_val;          /* (n_feat + n_targ) columns of the features, then the targets */
    char **val_names;      /* (n_feat + n_targ) */
    /* sequences: id text in `names` (NUL-terminated), hash table of sequence indices */
    rnnlab_buf names, name_off, seq_split; /* size_t offsets; int split per sequence (-1 unknown) */
    int *table;
    size_t table_cap;
    int n_seq;
    /* rows */
    rnnlab_buf rows, vals; /* csv_rowrec; double */
    const char *split_opt_col;
} csv_reader;

static uint64_t hash_text(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static const char *seq_name(const csv_reader *r, int i)
{
    return (const char *)r->names.data + ((const size_t *)(const void *)r->name_off.data)[i];
}

/* The index of sequence id s (n bytes), adding it if new. */
static rnnlab_status seq_index(csv_reader *r, const char *s, size_t n, int *out)
{
    if (2 * ((size_t)r->n_seq + 1) > r->table_cap) { /* grow: keep the load below 1/2 */
        const size_t cap = r->table_cap ? 2 * r->table_cap : 1024;
        int *t = rnnlab_malloc(sizeof *t * cap);
        if (!t) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading CSV");
        for (size_t i = 0; i < cap; i++) t[i] = -1;
        for (int q = 0; q < r->n_seq; q++) {
            const char *nm = seq_name(r, q);
            size_t h = (size_t)hash_text(nm, strlen(nm)) & (cap - 1);
            while (t[h] >= 0) h = (h + 1) & (cap - 1);
            t[h] = q;
        }
        rnnlab_free(r->table);
        r->table = t, r->table_cap = cap;
    }
    size_t h = (size_t)hash_text(s, n) & (r->table_cap - 1);
    for (; r->table[h] >= 0; h = (h + 1) & (r->table_cap - 1)) {
        const char *nm = seq_name(r, r->table[h]);
        if (strlen(nm) == n && memcmp(nm, s, n) == 0) return *out = r->table[h], RNNLAB_OK;
    }
    const size_t off = r->names.len;
    const int unknown = -1;
    rnnlab_status st;
    if ((st = rnnlab_buf_append(&r->names, s, n))) return st;
    if ((st = rnnlab_buf_append(&r->names, "", 1))) return st;
    if ((st = rnnlab_buf_append(&r->name_off, &off, sizeof off))) return st;
    if ((st = rnnlab_buf_append(&r->seq_split, &unknown, sizeof unknown))) return st;
    r->table[h] = r->n_seq;
    *out = r->n_seq++;
    return RNNLAB_OK;
}

static rnnlab_status csv_header(csv_reader *r, const rnnlab_csv_row *row, const char *id_name, const char *time_name)
{
    if (row->n > CSV_MAX_COLS)
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %d columns, more than %d", row->path, row->line, row->n, CSV_MAX_COLS);
    for (int c = 0; c < row->n; c++)
        for (int d = 0; d < c; d++)
            if (!strcmp(row->field[c], row->field[d])) {
                char q[64];
                rnnlab_quote_text(q, sizeof q, row->field[c], row->len[c]);
                return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: column '%s' appears twice (also column %d)", row->path,
                                    row->line, c + 1, q, d + 1);
            }
    const char *names[3] = {id_name, time_name, r->split_opt_col};
    int *cols[3] = {&r->col_id, &r->col_time, &r->col_split};
    const int n_val = r->n_feat + r->n_targ;
    for (int k = 0; k < 3 + n_val; k++) {
        const char *want = k < 3 ? names[k] : r->val_names[k - 3];
        int *slot = k < 3 ? cols[k] : &r->col_val[k - 3];
        *slot = -1;
        if (!want) continue;
        for (int c = 0; c < row->n; c++)
            if (!strcmp(row->field[c], want)) *slot = c;
        /* one column whose name holds ';' or a tab: another separator than the comma */
        const int other_sep = row->n == 1 && (strchr(row->field[0], ';') || strchr(row->field[0], '\t'));
        if (*slot < 0)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: the header has no column '%s' (named by the option %s)%s",
                                row->path, row->line, want,
                                k == 0 ? "id_column" : k == 1 ? "time_column" : k == 2 ? "split_column"
                                : k - 3 < r->n_feat ? "features" : "targets",
                                other_sep ? "; its one column holds ';' or a tab: the file must be comma-separated" : "");
    }
    r->n_cols = row->n;
    return RNNLAB_OK;
}

typedef struct csv_ctx {
    csv_reader *r;
    const char *id_name, *time_name;
} csv_ctx;

static rnnlab_status csv_row(void *vctx, const rnnlab_csv_row *row)
{
    csv_ctx *ctx = vctx;
    csv_reader *r = ctx->r;
    if (r->n_cols == 0) return csv_header(r, row, ctx->id_name, ctx->time_name);
    if (row->n != r->n_cols)
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %d fields, expected %d as in the header", row->path, row->line,
                            row->n, r->n_cols);
    rnnlab_status st;
    csv_rowrec rec = {0};
    rec.line = row->line;
    if ((st = seq_index(r, row->field[r->col_id], row->len[r->col_id], &rec.seq))) return st;
    if ((st = rnnlab_csv_double(row, r->col_time, ctx->time_name, &rec.time))) return st;
    if (r->col_split >= 0) {
        static const char *const splits[3] = {"train", "valid", "test"};
        int s = -1;
        for (int k = 0; k < 3; k++)
            if (!strcmp(row->field[r->col_split], splits[k])) s = k;
        if (s < 0) {
            char q[64];
            rnnlab_quote_text(q, sizeof q, row->field[r->col_split], row->len[r->col_split]);
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': '%s', expected train, valid or test", row->path,
                                row->line, r->col_split + 1, r->split_opt_col, q);
        }
        int *seq_split = (int *)(void *)r->seq_split.data;
        if (seq_split[rec.seq] >= 0 && seq_split[rec.seq] != s)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: sequence '%s' is in split %s here and %s on an earlier row",
                                row->path, row->line, r->col_split + 1, seq_name(r, rec.seq), splits[s],
                                splits[seq_split[rec.seq]]);
        seq_split[rec.seq] = s;
    }
    const int n_val = r->n_feat + r->n_targ;
    rec.vals = r->vals.len / sizeof(double);
    if ((st = rnnlab_buf_reserve(&r->vals, sizeof(double) * (size_t)n_val))) return st;
    double *v = (double *)(void *)(r->vals.data + r->vals.len);
    for (int k = 0; k < n_val; k++)
        if ((st = rnnlab_csv_double(row, r->col_val[k], r->val_names[k], &v[k]))) return st;
    r->vals.len += sizeof(double) * (size_t)n_val;
    return rnnlab_buf_append(&r->rows, &rec, sizeof rec);
}

static int cmp_rowrec(const void *a, const void *b)
{
    const csv_rowrec *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Splits a comma-separated list of names into r (n, names); NULL-safe free in csv_reader_free. */
static rnnlab_status parse_names(const char *list, const char *key, char ***names, int *n, int *bad, int opt_index)
{
    int count = 1;
    for (const char *p = list; *p; p++) count += *p == ',';
    char **v = rnnlab_calloc((size_t)count, sizeof *v);
    if (!v) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    *names = v, *n = count;
    const char *s = list;
    for (int k = 0; k < count; k++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && (*s == ' ' || *s == '\t')) s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len == 0) {
            *bad = opt_index;
            return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: an empty column name in '%s'", key, list);
        }
        if (!(v[k] = rnnlab_malloc(len + 1))) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
        memcpy(v[k], s, len), v[k][len] = '\0';
        for (int j = 0; j < k; j++)
            if (!strcmp(v[j], v[k])) { /* one column read twice: a typo for another most likely */
                *bad = opt_index;
                return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: column '%s' is listed twice in '%s'", key, v[k], list);
            }
        s = comma ? comma + 1 : s + len;
    }
    return RNNLAB_OK;
}

static void csv_reader_free(csv_reader *r)
{
    for (int k = 0; r->val_names && k < r->n_feat + r->n_targ; k++) rnnlab_free(r->val_names[k]);
    rnnlab_free(r->val_names), rnnlab_free(r->col_val), rnnlab_free(r->table);
    rnnlab_buf_deinit(&r->names), rnnlab_buf_deinit(&r->name_off), rnnlab_buf_deinit(&r->seq_split);
    rnnlab_buf_deinit(&r->rows), rnnlab_buf_deinit(&r->vals);
}

static void csv_close(rnnlab_dataset *ds)
{
    csv_state *s = ds->state;
    if (!s) return;
    rnnlab_free(s->vals);
    for (int k = 0; k < 3; k++) rnnlab_free(s->samples[k]);
    rnnlab_free(s);
    ds->state = NULL;
}

static const char *const csv_keys[] = {"path",    "id_column", "time_column", "features", "targets", "loss",
                                       "loss_at", "split",     "split_column", "seq_len", "classes", NULL};

/* Options that exist only after the file is read are checked in csv_finish. */
static rnnlab_status csv_finish(rnnlab_dataset *ds, csv_reader *r, const char *path, long W, long classes,
                                const double frac[3], const rnnlab_option *opts, int n, int *bad);

static rnnlab_status csv_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const losses[] = {"mse", "xent", "bernoulli", NULL}, *const ats[] = {"last", "all", NULL};
    int loss = RNNLAB_LOSS_MSE, at = RNNLAB_LOSS_LAST;
    long W = 0, classes = 0;
    double frac[3] = {0.8, 0.1, 0.1};
    rnnlab_status st;
    if ((st = rnnlab_opt_choice(opts, n, "loss", losses, &loss, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "loss_at", ats, &at, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "seq_len", 1, 1 << 20, &W, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "classes", 2, 1 << 20, &classes, bad))) return st;
    if ((st = rnnlab_opt_fractions(opts, n, "split", frac, bad))) return st;
    const char *path = rnnlab_opt_str(opts, n, "path", NULL);
    const char *feat = rnnlab_opt_str(opts, n, "features", NULL), *targ = rnnlab_opt_str(opts, n, "targets", NULL);
    const char *need = !path ? "path" : !feat ? "features" : !targ ? "targets" : NULL;
    if (need)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: the csv task needs path, features and targets (datasets/README.md "
                                               "describes the schema)",
                            need);
    if (classes && loss != RNNLAB_LOSS_XENT) {
        *bad = rnnlab_opt_find(opts, n, "classes");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "classes: only for loss = xent");
    }
    csv_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening csv");
    ds->state = s;
    s->xent = loss == RNNLAB_LOSS_XENT;
    ds->info.loss = (rnnlab_loss_kind)loss, ds->info.loss_at = (rnnlab_loss_at)at;
    csv_reader r = {0};
    char **fn = NULL, **tn = NULL;
    if (!(st = parse_names(feat, "features", &fn, &r.n_feat, bad, rnnlab_opt_find(opts, n, "features"))))
        st = parse_names(targ, "targets", &tn, &r.n_targ, bad, rnnlab_opt_find(opts, n, "targets"));
    if (!st && s->xent && r.n_targ != 1) {
        *bad = rnnlab_opt_find(opts, n, "targets");
        st = rnnlab_error(RNNLAB_ERR_CONFIG, "targets: loss = xent takes one target column of class numbers, got %d",
                          r.n_targ);
    }
    if (!st) {
        r.val_names = rnnlab_calloc((size_t)(r.n_feat + r.n_targ), sizeof *r.val_names);
        r.col_val = rnnlab_calloc((size_t)(r.n_feat + r.n_targ), sizeof *r.col_val);
        if (!r.val_names || !r.col_val) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < r.n_feat + r.n_targ && !st; k++) { /* moved: csv_reader_free frees them */
        r.val_names[k] = k < r.n_feat ? fn[k] : tn[k - r.n_feat];
        if (k < r.n_feat) fn[k] = NULL;
        else tn[k - r.n_feat] = NULL;
    }
    for (int k = 0; fn && k < r.n_feat; k++) rnnlab_free(fn[k]);
    for (int k = 0; tn && k < r.n_targ; k++) rnnlab_free(tn[k]);
    rnnlab_free(fn), rnnlab_free(tn);
    if (st) {
        if (!r.val_names) r.n_feat = r.n_targ = 0;
        csv_reader_free(&r);
        return st;
    }
    r.split_opt_col = rnnlab_opt_str(opts, n, "split_column", NULL);
    if (r.split_opt_col && rnnlab_opt_find(opts, n, "split") >= 0) {
        *bad = rnnlab_opt_find(opts, n, "split");
        csv_reader_free(&r);
        return rnnlab_error(RNNLAB_ERR_CONFIG, "split: give split fractions or a split_column, not both");
    }
    csv_ctx ctx = {&r, rnnlab_opt_str(opts, n, "id_column", "id"), rnnlab_opt_str(opts, n, "time_column", "t")};
    st = rnnlab_csv_read(path, "the csv task reads your own file: check the option path", csv_row, &ctx);
    if (!st) st = csv_finish(ds, &r, path, W, classes, frac, opts, n, bad);
    csv_reader_free(&r);
    return st;
}

static rnnlab_status csv_finish(rnnlab_dataset *ds, csv_reader *r, const char *path, long W, long classes,
                                const double frac[3], const rnnlab_option *opts, int n, int *bad)
{
    csv_state *s = ds->state;
    rnnlab_task_info *in = &ds->info;
    const int F = r->n_feat, NV = r->n_feat + r->n_targ;
    csv_rowrec *rows = (csv_rowrec *)(void *)r->rows.data;
    const long n_rows = (long)(r->rows.len / sizeof *rows);
    if (n_rows == 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: no rows after the header", path);
    qsort(rows, (size_t)n_rows, sizeof *rows, cmp_rowrec);
    const double *raw = (const double *)(void *)r->vals.data;
    /* checks per row, in sorted order: duplicate times, target values */
    double max_class = 0;
    for (long i = 0; i < n_rows; i++) {
        char num[40]; /* a value as the file wrote it */
        if (i > 0 && rows[i].seq == rows[i - 1].seq && rows[i].time == rows[i - 1].time) {
            rnnlab_format_shortest(num, sizeof num, rows[i].time);
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: sequence '%s' has two rows at time %s (lines %ld and %ld)",
                                path, rows[i].line, seq_name(r, rows[i].seq), num, rows[i - 1].line, rows[i].line);
        }
        for (int k = F; k < NV; k++) {
            const double v = raw[rows[i].vals + (size_t)k];
            const int col = r->col_val[k] + 1;
            const int not_class = s->xent && (v != floor(v) || v < 0 || v >= (classes ? (double)classes : 1048576.0));
            const int not_prob = in->loss == RNNLAB_LOSS_BERNOULLI && (v < 0 || v > 1);
            if (not_class || not_prob) {
                rnnlab_format_shortest(num, sizeof num, v);
                if (not_class)
                    return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': %s is not a class number in [0, %ld)",
                                        path, rows[i].line, col, r->val_names[k], num, classes ? classes : 1048576L);
                return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': %s, expected a probability in [0, 1]", path,
                                    rows[i].line, col, r->val_names[k], num);
            }
            if (v > max_class) max_class = v;
        }
    }
    if (s->xent && !classes) classes = max_class < 1 ? 2 : (long)max_class + 1;
    /* the values, in sorted order */
    if (!(s->vals = rnnlab_malloc(sizeof(double) * (size_t)n_rows * (size_t)NV)))
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    for (long i = 0; i < n_rows; i++) memcpy(s->vals + (size_t)i * NV, raw + rows[i].vals, sizeof(double) * (size_t)NV);
    /* sequences: their split, their rows, their windows */
    const int S = r->n_seq;
    int *seq_split = (int *)(void *)r->seq_split.data;
    if (!r->split_opt_col) {
        const long cut1 = (long)floor(frac[0] * S + 1e-9), cut2 = (long)floor((frac[0] + frac[1]) * S + 1e-9);
        for (int q = 0; q < S; q++) seq_split[q] = q < cut1 ? 0 : q < cut2 ? 1 : 2;
    }
    long longest = 0, count[3] = {0, 0, 0};
    for (long i = 0, j; i < n_rows; i = j) {
        for (j = i; j < n_rows && rows[j].seq == rows[i].seq; j++) {
        }
        if (j - i > longest) longest = j - i;
    }
    if (longest > (1 << 20))
        return rnnlab_error(RNNLAB_ERR_IO, "%s: a sequence of %ld steps; set seq_len to cut it into windows", path, longest);
    if (!W) W = longest;
    for (long i = 0, j; i < n_rows; i = j) {
        for (j = i; j < n_rows && rows[j].seq == rows[i].seq; j++) {
        }
        count[seq_split[rows[i].seq]] += (j - i + W - 1) / W;
    }
    for (int k = 0; k < 3; k++)
        if (!(s->samples[k] = rnnlab_malloc(sizeof(csv_sample) * (size_t)(count[k] ? count[k] : 1))))
            return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    long fill[3] = {0, 0, 0};
    for (long i = 0, j; i < n_rows; i = j) {
        for (j = i; j < n_rows && rows[j].seq == rows[i].seq; j++) {
        }
        const int k = seq_split[rows[i].seq];
        for (long a = i; a < j; a += W) s->samples[k][fill[k]++] = (csv_sample){a, (int)(j - a < W ? j - a : W)};
    }
    if (count[0] == 0) {
        *bad = rnnlab_opt_find(opts, n, r->split_opt_col ? "split_column" : "split");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: no sequence of %s falls in the train split (%d sequences)",
                            r->split_opt_col ? "split_column" : "split", path, S);
    }
    s->F = F, s->n_targ = r->n_targ;
    in->input_size = F;
    in->output_size = s->xent ? (int)classes : r->n_targ;
    in->seq_len = (int)W;
    in->variable_length = 1;
    for (int k = 0; k < 3; k++) in->split_size[k] = count[k];
    /* trivial baseline: a constant prediction fitted on the training loss positions */
    const int O = in->output_size, all = in->loss_at == RNNLAB_LOSS_ALL;
    double *sum = rnnlab_calloc((size_t)O, sizeof *sum), *sum2 = rnnlab_calloc((size_t)O, sizeof *sum2), npos = 0;
    if (!sum || !sum2) {
        rnnlab_free(sum), rnnlab_free(sum2);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    }
    for (long q = 0; q < count[0]; q++) {
        const csv_sample *sm = &s->samples[0][q];
        for (int t = all ? 0 : sm->len - 1; t < sm->len; t++, npos++) {
            const double *v = s->vals + (size_t)(sm->row + t) * NV + F;
            if (s->xent) sum[(int)v[0]] += 1;
            else
                for (int o = 0; o < O; o++) sum[o] += v[o], sum2[o] += v[o] * v[o];
        }
    }
    double base = 0;
    for (int o = 0; o < O; o++) {
        const double m = sum[o] / npos;
        if (s->xent) base -= m > 0 ? m * log(m) : 0;
        else if (in->loss == RNNLAB_LOSS_MSE) base += (sum2[o] / npos - m * m) / O;
        else base -= (m > 0 ? m * log(m) : 0) + (m < 1 ? (1 - m) * log(1 - m) : 0);
    }
    rnnlab_free(sum), rnnlab_free(sum2);
    in->baseline = base > 0 ? base : 0;
    snprintf(in->baseline_desc, sizeof in->baseline_desc, "%s",
             s->xent ? "the training class frequencies, ignoring the inputs: their entropy in nats"
             : in->loss == RNNLAB_LOSS_MSE
                 ? "the training mean of each target, ignoring the inputs: the training variance (mean over targets)"
                 : "each output at its training mean, ignoring the inputs: the binary entropy summed over outputs");
    snprintf(in->success_desc, sizeof in->success_desc, "loss well below the baseline (your data's own criterion)");
    snprintf(in->source, sizeof in->source, "user data: %s", path);
    snprintf(in->variant, sizeof in->variant, "%s", rnnlab_loss_name(in->loss));
    return RNNLAB_OK;
}

static rnnlab_status csv_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                               int *target_class, int *lengths)
{
    const csv_state *s = ds->state;
    long n;
    rnnlab_status st = rnnlab_data_split_n(ds, split, &n);
    if (st) return st;
    const int T = ds->info.seq_len, F = s->F, NV = s->F + s->n_targ, O = ds->info.output_size;
    const int all = ds->info.loss_at == RNNLAB_LOSS_ALL;
    memset(x, 0, sizeof(double) * (size_t)T * B * F);
    if (s->xent && target_class) memset(target_class, 0, sizeof(int) * (size_t)(all ? T : 1) * B);
    if (!s->xent && target) memset(target, 0, sizeof(double) * (size_t)(all ? T : 1) * B * O);
    for (int b = 0; b < B; b++) {
        const csv_sample *sm = &s->samples[split][rnnlab_data_sample(ds, split, index, B, b, n)];
        lengths[b] = sm->len;
        for (int t = 0; t < sm->len; t++) {
            const double *v = s->vals + (size_t)(sm->row + t) * NV;
            memcpy(x + ((size_t)t * B + b) * F, v, sizeof(double) * (size_t)F);
            if (!all && t != sm->len - 1) continue;
            const size_t pos = all ? (size_t)t * B + b : (size_t)b;
            if (s->xent) {
                if (target_class) target_class[pos] = (int)v[F];
            } else if (target) {
                memcpy(target + pos * O, v + F, sizeof(double) * (size_t)O);
            }
        }
    }
    return RNNLAB_OK;
}

const rnnlab_task_def rnnlab_task_csv = {
    .name = "csv",
    .summary = "your own sequences from a CSV file: id, time, feature and target columns by name (padding-safe)",
    .options_doc = "path = FILE          the CSV (.csv or .csv.gz; required)\n"
                   "id_column = NAME     the sequence id column (default id)\n"
                   "time_column = NAME   the time column, orders a sequence's rows (default t)\n"
                   "features = A,B,...   input columns (required)\n"
                   "targets = Y,...      target columns (required; one column of classes for xent)\n"
                   "loss = mse | xent | bernoulli   (default mse)\n"
                   "loss_at = last | all   the loss at each sample's last step or at every step (default last)\n"
                   "split = a,b,c        train,valid,test fractions of the sequences in file order (default "
                   "0.8,0.1,0.1)\n"
                   "split_column = NAME  a column of train/valid/test instead of split\n"
                   "seq_len = W          batch length; longer sequences are cut into windows of W (default the "
                   "longest)\n"
                   "classes = K          xent: number of classes (default the largest class + 1)\n",
    .keys = csv_keys,
    .shape = "I=features O=targets (xent: classes) T=seq_len (default the longest sequence)",
    .size = "your sequences (or windows)",
    .source = "your data; schema in datasets/README.md",
    .open = csv_open,
    .batch = csv_batch,
    .close = csv_close,
};
