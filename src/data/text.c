/*
 * text.c - character-level language modelling on any text file (Karpathy, Johnson & Fei-Fei 2015:
 * War and Peace and the Linux kernel source), with a byte or a UTF-8 vocabulary.
 *
 * Not here: word-level models, tokenisers.
 *
 * Dimensions: V the vocabulary (I = O = V, one-hot inputs), T steps per window, B batch.
 *
 * The file (plain or gzip) is read whole and turned into a sequence of symbol ids: with vocab =
 * byte a symbol is one byte, with vocab = utf8 one Unicode code point (invalid UTF-8 is refused
 * with file:line:column). The vocabulary is the symbols that occur in the file, sorted by value
 * (char-rnn's choice; War and Peace has 82 bytes). The sequence is split contiguously into train,
 * valid and test by the `split` fractions (floor of fraction * length; Karpathy et al. use 90/5/5 on
 * the kernel and 80/10/10 on War and Peace). Each split is cut into non-overlapping windows of
 * T + 1 symbols: window w feeds symbols s .. s+T-1 and asks for s+1 .. s+T (next-character
 * prediction, cross-entropy at every step, in nats; bits per character = nats / ln 2). Windows are
 * independent samples (no state carried between them).
 */
#include "data/data_internal.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TEXT_MAX_BYTES ((size_t)1 << 30)
#define TEXT_MAX_VOCAB 65535
#define TEXT_FETCH                                                                                                    \
    "this task reads any text file: for War and Peace copy shared/datasets/text/war_and_peace.txt (from the lab's "   \
    "shared datasets folder, see its PROVENANCE.md) there, or point path at it; for the Linux kernel corpus of "      \
    "Karpathy et al. 2015 run `apt-get install linux-source-6.1` and concatenate the .c and .h files of "            \
    "/usr/src/linux-source-6.1.tar.xz into that file (datasets/README.md shows the commands)"

typedef struct text_state {
    uint16_t *ids;   /* (N) symbol ids */
    long N;
    long start[3];   /* first symbol of each split */
    long len[3];     /* symbols in each split */
    int T;
    int utf8;
    uint32_t *vocab; /* (V) the byte or code point of each id */
    void *share;     /* the shared encoding ids and vocab belong to (rnnlab_share_get), or NULL: owned */
} text_state;

/* What a file holds, encoded: ids, vocab and N of a text_state, shared among the datasets opened on
 * it with the same vocabulary kind. */
typedef struct text_parsed {
    uint16_t *ids;
    uint32_t *vocab;
    long N;
} text_parsed;

static const char *const text_keys[] = {"path", "vocab", "split", "seq_len", NULL};

static void text_drop(void *value)
{
    text_parsed *p = value;
    rnnlab_free(p->ids), rnnlab_free(p->vocab), rnnlab_free(p);
}

static void text_close(rnnlab_dataset *ds)
{
    text_state *s = ds->state;
    if (!s) return;
    if (s->share) rnnlab_share_release(s->share, text_drop);
    else rnnlab_free(s->ids), rnnlab_free(s->vocab);
    rnnlab_free(s);
    ds->state = NULL;
}

/* Line and 1-based byte column of offset off in the text. */
static void line_col(const unsigned char *s, size_t off, long *line, long *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') ++*line, *col = 1;
        else ++*col;
    }
}

/* Turns the bytes into ids and the vocabulary. */
static rnnlab_status text_encode(text_state *s, const char *path, const unsigned char *buf, size_t n)
{
    rnnlab_status st = RNNLAB_OK;
    const uint32_t n_cp = s->utf8 ? 0x110000 : 256;
    uint16_t *map = rnnlab_calloc(n_cp, sizeof *map); /* code point -> id + 1 (0: absent) */
    s->ids = rnnlab_malloc(sizeof *s->ids * (n ? n : 1));
    if (!map || !s->ids) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    /* pass 1: which symbols occur (map[cp] = 1), checking the UTF-8 */
    for (size_t i = 0; i < n;) {
        uint32_t cp = buf[i];
        int k = 1;
        if (s->utf8 && !(k = rnnlab_utf8_decode(buf + i, n - i, &cp))) {
            long line, col;
            line_col(buf, i, &line, &col);
            st = rnnlab_error(RNNLAB_ERR_IO, "%s:%ld:%ld: invalid UTF-8 (byte 0x%02x); use vocab = byte for binary or "
                              "non-UTF-8 text",
                              path, line, col, buf[i]);
            goto done;
        }
        map[cp] = 1;
        i += (size_t)k;
    }
    uint32_t V = 0;
    for (uint32_t c = 0; c < n_cp; c++) V += map[c];
    if (V > TEXT_MAX_VOCAB) {
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: %u distinct characters, more than the %d this loader handles", path,
                          (unsigned)V, TEXT_MAX_VOCAB);
        goto done;
    }
    s->vocab = rnnlab_malloc(sizeof *s->vocab * (V ? V : 1));
    if (!s->vocab) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    V = 0;
    for (uint32_t c = 0; c < n_cp; c++)
        if (map[c]) s->vocab[V] = c, map[c] = (uint16_t)++V;
    /* pass 2: ids */
    long N = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = buf[i];
        const int k = s->utf8 ? rnnlab_utf8_decode(buf + i, n - i, &cp) : 1;
        s->ids[N++] = (uint16_t)(map[cp] - 1);
        i += (size_t)k;
    }
    s->N = N;
done:
    rnnlab_free(map);
    return st;
}

typedef struct text_load_ctx {
    const char *path;
    int utf8;
} text_load_ctx;

static rnnlab_status text_load(void *ctx, void **value)
{
    const text_load_ctx *c = ctx;
    text_state t = {.utf8 = c->utf8};
    rnnlab_buf raw = {0};
    rnnlab_status st = rnnlab_file_read_all(c->path, TEXT_FETCH, TEXT_MAX_BYTES, &raw);
    if (!st && raw.len == 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: empty file", c->path);
    if (!st) st = text_encode(&t, c->path, raw.data, raw.len);
    rnnlab_buf_deinit(&raw);
    text_parsed *p = st ? NULL : rnnlab_malloc(sizeof *p);
    if (!st && !p) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", c->path);
    if (st) {
        rnnlab_free(t.ids), rnnlab_free(t.vocab);
        return st;
    }
    *p = (text_parsed){t.ids, t.vocab, t.N};
    *value = p;
    return RNNLAB_OK;
}

static rnnlab_status text_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const vocabs[] = {"byte", "utf8", NULL};
    static const char *const split_names[3] = {"train", "valid", "test"};
    int vocab = 0;
    long T = 100;
    double frac[3] = {0.9, 0.05, 0.05};
    rnnlab_status st;
    if ((st = rnnlab_opt_choice(opts, n, "vocab", vocabs, &vocab, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "seq_len", 1, 1 << 20, &T, bad))) return st;
    if ((st = rnnlab_opt_fractions(opts, n, "split", frac, bad))) return st;
    const char *path = rnnlab_opt_str(opts, n, "path", NULL);
    if (!path)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "path: the text task needs path = a text file (for example "
                                               "../shared/datasets/text/war_and_peace.txt)");
    text_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening text");
    ds->state = s;
    s->T = (int)T, s->utf8 = vocab == 1;
    char share_key[4200];
    const int kn = snprintf(share_key, sizeof share_key, "text:%d:%s", s->utf8, path);
    text_load_ctx c = {path, s->utf8};
    if ((st = rnnlab_share_get(kn > 0 && (size_t)kn < sizeof share_key ? share_key : NULL, text_load, text_drop, &c,
                               &s->share)))
        return st;
    const text_parsed *tp = s->share;
    s->ids = tp->ids, s->vocab = tp->vocab, s->N = tp->N;
    const long N = s->N;
    const long cut1 = (long)floor(frac[0] * (double)N + 1e-9), cut2 = (long)floor((frac[0] + frac[1]) * (double)N + 1e-9);
    const long cuts[4] = {0, cut1 < N ? cut1 : N, cut2 < N ? cut2 : N, N};
    for (int k = 0; k < 3; k++) {
        s->start[k] = cuts[k], s->len[k] = cuts[k + 1] - cuts[k];
        ds->info.split_size[k] = s->len[k] > 0 ? (s->len[k] - 1) / T : 0;
        if (frac[k] > 0 && ds->info.split_size[k] == 0) {
            *bad = rnnlab_opt_find(opts, n, rnnlab_opt_find(opts, n, "split") >= 0 ? "split" : "seq_len");
            return rnnlab_error(RNNLAB_ERR_CONFIG,
                                "%s: the %s split of %s has %ld characters, fewer than one window of seq_len + 1 = %ld",
                                *bad >= 0 ? opts[*bad].key : "seq_len", split_names[k], path, s->len[k], T + 1);
        }
    }
    /* trivial baseline: the training set's character frequencies (a unigram model) */
    double *count = rnnlab_calloc(TEXT_MAX_VOCAB, sizeof *count);
    if (!count) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    int V = 0;
    for (long i = 0; i < N; i++)
        if (s->ids[i] + 1 > V) V = s->ids[i] + 1;
    for (long i = s->start[0]; i < s->start[0] + s->len[0]; i++) count[s->ids[i]] += 1;
    double H = 0;
    for (int v = 0; v < V; v++)
        if (count[v] > 0) H -= count[v] / (double)s->len[0] * log(count[v] / (double)s->len[0]);
    rnnlab_free(count);
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "%s", vocabs[vocab]);
    in->input_size = in->output_size = V < 2 ? 2 : V; /* xent needs O >= 2 */
    in->seq_len = (int)T;
    in->loss = RNNLAB_LOSS_XENT, in->loss_at = RNNLAB_LOSS_ALL;
    in->report_bits = 1;
    in->baseline = H;
    snprintf(in->baseline_desc, sizeof in->baseline_desc,
             "the training set's character frequencies (unigram): %.4f nats = %.4f bits per character (uniform over "
             "the %d symbols: %.4f bits)",
             H, H / log(2.0), V, log((double)V) / log(2.0));
    snprintf(in->success_desc, sizeof in->success_desc,
             "test bits per character (Karpathy et al. 2015 report about 1.1-1.3 on War and Peace and the kernel)");
    snprintf(in->source, sizeof in->source, "character-level LM, Karpathy, Johnson & Fei-Fei 2015 (file %s)", path);
    return RNNLAB_OK;
}

static rnnlab_status text_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                                int *target_class, int *lengths)
{
    (void)target;
    const text_state *s = ds->state;
    long n;
    rnnlab_status st = rnnlab_data_split_n(ds, split, &n);
    if (st) return st;
    const int T = s->T, V = ds->info.input_size;
    memset(x, 0, sizeof(double) * (size_t)T * B * V);
    for (int b = 0; b < B; b++) {
        const long w = rnnlab_data_sample(ds, split, index, B, b, n);
        const uint16_t *p = s->ids + s->start[split] + w * T;
        for (int t = 0; t < T; t++) {
            x[((size_t)t * B + b) * V + p[t]] = 1.0;
            if (target_class) target_class[(size_t)t * B + b] = p[t + 1];
        }
        lengths[b] = T;
    }
    return RNNLAB_OK;
}

/* Appends symbol id as text: printable as itself (UTF-8 encoded), newline and tab escaped. */
static rnnlab_status put_symbol(rnnlab_buf *out, const text_state *s, int id)
{
    const uint32_t c = s->vocab[id];
    if (c == '\n') return rnnlab_buf_printf(out, "\\n");
    if (c == '\t') return rnnlab_buf_printf(out, "\\t");
    if (c == '\\') return rnnlab_buf_printf(out, "\\\\");
    if (c < 32 || c == 127 || (!s->utf8 && c >= 128)) return rnnlab_buf_printf(out, "\\x%02x", (unsigned)c);
    char u[5];
    int k;
    if (c < 0x80) u[0] = (char)c, k = 1;
    else if (c < 0x800) u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3f)), k = 2;
    else if (c < 0x10000)
        u[0] = (char)(0xe0 | c >> 12), u[1] = (char)(0x80 | (c >> 6 & 0x3f)), u[2] = (char)(0x80 | (c & 0x3f)), k = 3;
    else
        u[0] = (char)(0xf0 | c >> 18), u[1] = (char)(0x80 | (c >> 12 & 0x3f)), u[2] = (char)(0x80 | (c >> 6 & 0x3f)),
        u[3] = (char)(0x80 | (c & 0x3f)), k = 4;
    u[k] = '\0';
    return rnnlab_buf_printf(out, "%s", u);
}

static rnnlab_status text_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                               const double *target, const int *target_class, const int *lengths)
{
    (void)target;
    const text_state *s = ds->state;
    const int V = ds->info.input_size, T = lengths[b];
    rnnlab_status st = rnnlab_buf_printf(out, "  input  \"");
    for (int t = 0; t < T && !st; t++)
        for (int v = 0; v < V; v++)
            if (x[((size_t)t * B + b) * V + v] != 0) {
                st = put_symbol(out, s, v);
                break;
            }
    if (!st) st = rnnlab_buf_printf(out, "\"\n  target \"");
    for (int t = 0; t < T && !st; t++) st = put_symbol(out, s, target_class[(size_t)t * B + b]);
    if (!st) st = rnnlab_buf_printf(out, "\"\n");
    return st;
}

const rnnlab_task_def rnnlab_task_text = {
    .name = "text",
    .summary = "character-level language modelling on any text file (Karpathy, Johnson & Fei-Fei 2015)",
    .options_doc = "path = FILE          the text (plain or .gz; required), e.g. "
                   "../shared/datasets/text/war_and_peace.txt\n"
                   "vocab = byte | utf8  a symbol is a byte or a Unicode character (default byte)\n"
                   "split = a,b,c        contiguous train,valid,test fractions (default 0.9,0.05,0.05)\n"
                   "seq_len = T          steps per window (default 100)\n",
    .keys = text_keys,
    .shape = "I=O=V (distinct characters) T=seq_len",
    .size = "(chars-1)/seq_len windows",
    .source = "Karpathy, Johnson & Fei-Fei 2015; War and Peace (public domain), Linux kernel (GPL-2.0)",
    .open = text_open,
    .batch = text_batch,
    .close = text_close,
    .show = text_show,
};
