/*
 * refcase.c - the PyTorch float64 reference cases (format torchref-gradref-v1): reading a case and
 * checking the engine against every number in it. Format: ../shared/reference/README.md and
 * rnnlab/gradcheck.h.
 *
 * Not here: finite differences (gradcheck.c).
 */
#include "rnnlab/gradcheck.h"
#include "engine/check_report.h"
#include "core/internal.h"
#include "rnnlab/format.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- reading */

typedef struct tok_reader {
    const char *path;
    char *buf;
    size_t pos, len;
    int line;     /* line of the last token */
    int cur_line; /* line at pos */
} tok_reader;

/* Next whitespace-separated token outside comments; NULL at the end. Tokens are NUL-terminated in
 * place (the buffer is ours). */
static char *next_token(tok_reader *r)
{
    for (;;) {
        while (r->pos < r->len && isspace((unsigned char)r->buf[r->pos])) {
            if (r->buf[r->pos] == '\n') r->cur_line++;
            r->pos++;
        }
        if (r->pos >= r->len) return NULL;
        if (r->buf[r->pos] == '#') {
            while (r->pos < r->len && r->buf[r->pos] != '\n') r->pos++;
            continue;
        }
        char *t = r->buf + r->pos;
        r->line = r->cur_line;
        while (r->pos < r->len && !isspace((unsigned char)r->buf[r->pos])) r->pos++;
        if (r->pos < r->len) {
            if (r->buf[r->pos] == '\n') r->cur_line++;
            r->buf[r->pos++] = '\0';
        }
        return t;
    }
}

static rnnlab_status syntax(const tok_reader *r, const char *what, const char *got)
{
    return rnnlab_error(RNNLAB_ERR_IO, "%s:%d: %s (got '%s')", r->path, r->line, what, got ? got : "end of file");
}

static rnnlab_status read_long(tok_reader *r, const char *what, long lo, long hi, long *out)
{
    char *t = next_token(r), *end;
    if (!t) return syntax(r, what, NULL);
    errno = 0;
    long v = strtol(t, &end, 10);
    if (*end || end == t || errno || v < lo || v > hi) return syntax(r, what, t);
    *out = v;
    return RNNLAB_OK;
}

static rnnlab_status read_double(tok_reader *r, double *out)
{
    char *t = next_token(r);
    if (!t) return syntax(r, "expected a number", NULL);
    double v;
    if (!rnnlab_parse_double(t, &v)) return syntax(r, "expected a number", t); /* C locale, no hex */
    *out = v;
    return RNNLAB_OK;
}

void rnnlab_refcase_free(rnnlab_refcase *rc)
{
    if (!rc) return;
    for (int i = 0; i < rc->n_tensors; i++) rnnlab_free(rc->t[i].v);
    rnnlab_free(rc->t);
    rnnlab_free(rc);
}

static rnnlab_status read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb; /* a folder, or a device such as /dev/zero (read up to the limit: gigabytes) */
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
        fclose(f);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: %s, not a reference case file", path,
                            S_ISDIR(sb.st_mode) ? "a folder" : "a device");
    }
    size_t cap = 1 << 16, n = 0;
    char *b = rnnlab_malloc(cap + 1);
    rnnlab_status st = RNNLAB_OK;
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap > ((size_t)1 << 31)) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: file larger than 2 GiB", path);
            break;
        }
        char *nb = rnnlab_malloc(2 * cap + 1);
        if (nb) memcpy(nb, b, n);
        rnnlab_free(b);
        b = nb, cap *= 2;
    }
    if (!st && !b) st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (!st && ferror(f)) st = rnnlab_error(RNNLAB_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st) {
        rnnlab_free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b, *len = n;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_refcase_load(const char *path, rnnlab_refcase **out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_refcase_load", path);
    RNNLAB_REQUIRE_PTR("rnnlab_refcase_load", out);
    *out = NULL;
    tok_reader r = {path, NULL, 0, 0, 1, 1};
    rnnlab_status st = read_file(path, &r.buf, &r.len);
    if (st) return st;
    rnnlab_refcase *rc = rnnlab_calloc(1, sizeof *rc);
    if (!rc) {
        rnnlab_free(r.buf);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
    }
    char *t = next_token(&r);
    if (!t || strcmp(t, "format") != 0) st = syntax(&r, "expected 'format' as the first word", t);
    if (!st && (!(t = next_token(&r)) || strcmp(t, "torchref-gradref-v1") != 0))
        st = syntax(&r, "unsupported format (expected torchref-gradref-v1)", t);
    long n_tensors = -1, v = 0;
    /* each header key at most once: a second value would silently replace the first */
    static const char *const keys[] = {"cell",    "loss",        "dtype",    "gates",       "input_size", "hidden_size",
                                       "num_layers", "batch", "seq_len", "output_size", "residual", "gru_variant", "seed"};
    int key_line[sizeof keys / sizeof keys[0]] = {0};
    while (!st && n_tensors < 0) {
        t = next_token(&r);
        if (!t) {
            st = syntax(&r, "expected a key or n_tensors", NULL);
            break;
        }
        char key[32];
        snprintf(key, sizeof key, "%s", t);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (!strcmp(key, keys[i])) {
                if (key_line[i]) {
                    char what[96];
                    snprintf(what, sizeof what, "key '%s' given twice (first on line %d)", keys[i], key_line[i]);
                    st = syntax(&r, what, key);
                }
                key_line[i] = r.line;
            }
        if (st) break;
        if (!strcmp(key, "cell") || !strcmp(key, "loss") || !strcmp(key, "dtype")) {
            char *val = next_token(&r);
            if (!val) st = syntax(&r, "expected a value", NULL);
            else if (!strcmp(key, "cell")) snprintf(rc->cell, sizeof rc->cell, "%s", val);
            else if (!strcmp(key, "loss")) {
                if (rnnlab_loss_at_parse(val, &rc->loss_at)) st = syntax(&r, "loss must be last or all", val);
            } else if (strcmp(val, "float64") != 0) st = syntax(&r, "dtype must be float64", val);
            continue;
        }
        struct {
            const char *key;
            int *dst;
        } ints[] = {{"gates", &rc->gates},           {"input_size", &rc->input_size}, {"hidden_size", &rc->hidden_size},
                    {"num_layers", &rc->num_layers}, {"batch", &rc->batch},           {"seq_len", &rc->seq_len},
                    {"output_size", &rc->output_size}};
        int found = 0;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !found; i++)
            if (!strcmp(key, ints[i].key)) {
                found = 1;
                if (!(st = read_long(&r, "expected a positive integer", 1, 1 << 20, &v))) *ints[i].dst = (int)v;
            }
        if (found) continue;
        if (!strcmp(key, "residual")) { /* rnnlab's weight export: the model it came from (weights alike) */
            if (!(st = read_long(&r, "expected 0 or 1", 0, 1, &v))) rc->residual = (int)v;
        } else if (!strcmp(key, "gru_variant")) {
            char *val = next_token(&r);
            rnnlab_gru_variant gv;
            if (!val || rnnlab_gru_variant_parse(val, &gv)) st = syntax(&r, "expected reset_after or reset_before", val);
            else rc->gru_variant = gv;
        } else if (!strcmp(key, "seed")) st = read_long(&r, "expected an integer seed", -(1L << 62), 1L << 62, &rc->seed);
        else if (!strcmp(key, "n_tensors")) st = read_long(&r, "expected a tensor count", 0, 1 << 16, &n_tensors);
        else st = syntax(&r, "unknown key", key);
    }
    if (!st && !(rc->t = rnnlab_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *rc->t)))
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
    for (long i = 0; !st && i < n_tensors; i++) {
        rnnlab_ref_tensor *tt = &rc->t[i];
        if (!(t = next_token(&r)) || strcmp(t, "tensor") != 0) {
            char what[96]; /* 'end' early: the count in the header is the likelier mistake */
            snprintf(what, sizeof what, t && !strcmp(t, "end") ? "n_tensors says %ld, but the file ends after %ld tensors"
                                                               : "expected 'tensor' (tensor %ld of %ld)",
                     t && !strcmp(t, "end") ? n_tensors : i + 1, t && !strcmp(t, "end") ? i : n_tensors);
            st = syntax(&r, what, t);
            break;
        }
        if (!(t = next_token(&r))) {
            st = syntax(&r, "expected a tensor name", NULL);
            break;
        }
        snprintf(tt->name, sizeof tt->name, "%s", t);
        if (rnnlab_refcase_find(rc, tt->name)) { /* a second one would never be read */
            st = syntax(&r, "tensor name given twice", t);
            break;
        }
        rc->n_tensors++;
        if ((st = read_long(&r, "expected the number of dimensions (0-4)", 0, 4, &v))) break;
        tt->ndim = (int)v;
        tt->numel = 1;
        for (int d = 0; d < tt->ndim && !st; d++) {
            if (!(st = read_long(&r, "expected a dimension", 1, 1 << 24, &v))) tt->dims[d] = (int)v, tt->numel *= (size_t)v;
            if (tt->numel > ((size_t)1 << 28)) st = syntax(&r, "tensor too large", tt->name);
        }
        if (!st && !(tt->v = rnnlab_malloc(tt->numel * sizeof(double))))
            st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
        for (size_t j = 0; !st && j < tt->numel; j++) st = read_double(&r, &tt->v[j]);
    }
    if (!st && (!(t = next_token(&r)) || strcmp(t, "end") != 0))
        st = syntax(&r, t && !strcmp(t, "tensor") ? "more tensors than n_tensors says; expected 'end'" : "expected 'end' after the tensors", t);
    if (!st && !rc->cell[0]) st = rnnlab_error(RNNLAB_ERR_IO, "%s: the header has no 'cell'", path);
    rnnlab_free(r.buf);
    if (st) {
        rnnlab_refcase_free(rc);
        return st;
    }
    *out = rc;
    return RNNLAB_OK;
}

const rnnlab_ref_tensor *rnnlab_refcase_find(const rnnlab_refcase *rc, const char *name)
{
    for (int i = 0; i < rc->n_tensors; i++)
        if (strcmp(rc->t[i].name, name) == 0) return &rc->t[i];
    return NULL;
}

/* ---------------------------------------------------------------- checking */

static rnnlab_status need(const rnnlab_refcase *rc, const char *name, size_t numel, const rnnlab_ref_tensor **out)
{
    const rnnlab_ref_tensor *t = rnnlab_refcase_find(rc, name);
    if (!t) return rnnlab_error(RNNLAB_ERR_IO, "reference case has no tensor '%s'", name);
    if (t->numel != numel)
        return rnnlab_error(RNNLAB_ERR_IO, "reference tensor '%s' has %zu elements, expected %zu", name, t->numel, numel);
    *out = t;
    return RNNLAB_OK;
}

/* Compares n engine values with a reference tensor as one report entry. */
static rnnlab_status compare(rnnlab_check_report *rep, const char *name, const double *a, const double *ref, size_t n,
                             double tol)
{
    rnnlab_check_entry *e;
    rnnlab_status st = rnnlab_report_add(rep, name, &e);
    for (size_t i = 0; !st && i < n; i++) rnnlab_report_compare(e, i, a[i], ref[i], 1e-12, tol, 0);
    return st;
}

/* The taps' norms of a (LT, B, H) array of dL/dh_t (or dL/dc_t): per (layer, step) the 2-norm over all
 * B*H entries (rn) and the mean over the batch of each sample's 2-norm (rm). */
static void tap_norms(const double *v, size_t LT, int B, int H, double *rn, double *rm)
{
    const size_t BH = (size_t)B * H;
    for (size_t lt = 0; lt < LT; lt++) {
        double tot = 0, msum = 0;
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (int j = 0; j < H; j++) s += v[lt * BH + (size_t)b * H + j] * v[lt * BH + (size_t)b * H + j];
            tot += s, msum += sqrt(s);
        }
        rn[lt] = sqrt(tot), rm[lt] = msum / B;
    }
}

rnnlab_status rnnlab_refcase_check(const rnnlab_refcase *rc, double tol, rnnlab_check_report *rep)
{
    RNNLAB_REQUIRE_PTR("rnnlab_refcase_check", rc);
    RNNLAB_REQUIRE_PTR("rnnlab_refcase_check", rep);
    memset(rep, 0, sizeof *rep);
    rnnlab_status st0 = rnnlab_check_range("tol", tol, 0, HUGE_VAL, 0);
    if (st0) return st0;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    rnnlab_status st = rnnlab_cell_parse(rc->cell, &mc.cell, &mc.activation, NULL);
    if (st) return st;
    mc.input_size = rc->input_size, mc.hidden_size = rc->hidden_size, mc.num_layers = rc->num_layers;
    mc.output_size = rc->output_size, mc.dtype = RNNLAB_FLOAT64;
    if (rnnlab_cell_gates(mc.cell) != rc->gates)
        return rnnlab_error(RNNLAB_ERR_IO, "reference case: cell %s has %d gates, the file says %d", rc->cell,
                            rnnlab_cell_gates(mc.cell), rc->gates);
    rnnlab_model *m = NULL;
    rnnlab_bptt *ws = NULL;
    double *buf = NULL;
    if ((st = rnnlab_model_create(&m, &mc))) return st;
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = rc->batch, bc.seq_len = rc->seq_len, bc.loss = RNNLAB_LOSS_MSE, bc.loss_at = rc->loss_at;
    if ((st = rnnlab_bptt_create(&ws, m, &bc))) goto done;
    const int L = mc.num_layers, T = rc->seq_len, B = rc->batch, H = mc.hidden_size, I = mc.input_size;
    const int O = mc.output_size, lstm = mc.cell == RNNLAB_CELL_LSTM;
    const size_t BH = (size_t)B * H, LBH = (size_t)L * BH, rows = rc->loss_at == RNNLAB_LOSS_ALL ? (size_t)T * B : (size_t)B;
    char name[64];
    const rnnlab_ref_tensor *t;
    for (int i = 0; i < m->n_tensors && !st; i++) {
        if (!(st = need(rc, m->tensors[i].name, m->tensors[i].numel, &t))) st = rnnlab_model_set(m, i, t->v);
    }
    const rnnlab_ref_tensor *x = NULL, *target = NULL, *h0 = NULL, *c0 = NULL;
    if (!st) st = need(rc, "input", (size_t)T * B * I, &x);
    if (!st) st = need(rc, "target", rows * O, &target);
    if (!st) st = need(rc, "h0", LBH, &h0);
    if (!st && lstm) st = need(rc, "c0", LBH, &c0);
    const size_t nbuf = (size_t)T * B * I + 2 * LBH + (size_t)L * T * BH * 2 + m->n_params + rows * O;
    if (!st && !(buf = rnnlab_malloc(nbuf * sizeof(double)))) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    if (st) goto done;
    rnnlab_batch bt = {x->v, target->v, NULL, NULL, h0->v, c0 ? c0->v : NULL, 0};
    double loss;
    if ((st = rnnlab_bptt_forward(ws, m, &bt, &loss))) goto done;
    rep->loss = loss;
    if ((st = need(rc, "loss", 1, &t)) || (st = compare(rep, "loss", &loss, t->v, 1, tol))) goto done;
    if ((st = rnnlab_bptt_get_output(ws, buf)) || (st = need(rc, "output", rows * O, &t)) ||
        (st = compare(rep, "output", buf, t->v, rows * O, tol)))
        goto done;
    /* states (L, T, B, H) */
    double *hs = buf, *cs = buf + (size_t)L * T * BH;
    for (int l = 0; l < L; l++)
        for (int tt = 0; tt < T; tt++)
            rnnlab_bptt_get_state(ws, l, tt, hs + ((size_t)l * T + tt) * BH, lstm ? cs + ((size_t)l * T + tt) * BH : NULL);
    if ((st = need(rc, "h", (size_t)L * T * BH, &t)) || (st = compare(rep, "h", hs, t->v, (size_t)L * T * BH, tol)))
        goto done;
    if (lstm && ((st = need(rc, "c", (size_t)L * T * BH, &t)) || (st = compare(rep, "c", cs, t->v, (size_t)L * T * BH, tol))))
        goto done;
    /* gradients */
    double *dx = buf, *dh0 = buf + (size_t)T * B * I, *dc0 = dh0 + LBH, *g = dc0 + LBH;
    if ((st = rnnlab_bptt_backward(ws, m, dx, dh0, lstm ? dc0 : NULL))) goto done;
    for (int i = 0; i < m->n_tensors && !st; i++) {
        snprintf(name, sizeof name, "grad_%s", m->tensors[i].name);
        rnnlab_model_get_grad(m, i, g);
        if (!(st = need(rc, name, m->tensors[i].numel, &t))) st = compare(rep, name, g, t->v, m->tensors[i].numel, tol);
    }
    if (!st && !(st = need(rc, "grad_input", (size_t)T * B * I, &t))) st = compare(rep, "grad_input", dx, t->v, (size_t)T * B * I, tol);
    if (!st && !(st = need(rc, "grad_h0", LBH, &t))) st = compare(rep, "grad_h0", dh0, t->v, LBH, tol);
    if (!st && lstm && !(st = need(rc, "grad_c0", LBH, &t))) st = compare(rep, "grad_c0", dc0, t->v, LBH, tol);
    /* taps */
    const rnnlab_taps taps = rnnlab_bptt_get_taps(ws);
    const size_t LT = (size_t)L * T;
    if (!st && !(st = need(rc, "grad_h_norm", LT, &t))) st = compare(rep, "grad_h_norm (tap)", taps.h_norm, t->v, LT, tol);
    if (!st && !(st = need(rc, "grad_h_norm_mean", LT, &t)))
        st = compare(rep, "grad_h_norm_mean (tap)", taps.h_norm_mean, t->v, LT, tol);
    /* the file's dL/dh_t (and dL/dc_t) themselves: their norms, by the taps' definition, are the
       reference too, so a file whose grad_h disagrees with its own grad_h_norm fails */
    if (!st && !(st = need(rc, "grad_h", LT * BH, &t))) {
        tap_norms(t->v, LT, B, H, buf, buf + LT);
        if (!(st = compare(rep, "grad_h_norm (tap, from grad_h)", taps.h_norm, buf, LT, tol)))
            st = compare(rep, "grad_h_norm_mean (tap, from grad_h)", taps.h_norm_mean, buf + LT, LT, tol);
    }
    if (!st && lstm && !(st = need(rc, "grad_c", LT * BH, &t))) {
        tap_norms(t->v, LT, B, H, buf, buf + LT);
        if (!(st = compare(rep, "grad_c_norm (tap)", taps.c_norm, buf, LT, tol)))
            st = compare(rep, "grad_c_norm_mean (tap)", taps.c_norm_mean, buf + LT, LT, tol);
    }
    rnnlab_report_finish(rep);
done:
    rnnlab_free(buf);
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
    return st;
}
