/*
 * config.c - experiment files: reading them with inih (line numbers kept for messages), checking
 * every key, expanding [sweep] into the grid, and resolving one grid point into a model, an
 * initialisation, a task and seeds.
 *
 * Not here: running anything (experiment.c). Key reference: README.md, "Experiment files".
 */
#include "lab/lab_internal.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/format.h"
#include "rnnlab/rng.h"
#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---------------------------------------------------------------- the schema */

typedef enum kind {
    K_TEXT, K_PATH, K_NAME, K_BOOL, K_INT, K_DOUBLE, K_CELL, K_ACT, K_VARIANT, K_INIT, K_BIAS_INIT, K_DTYPE, K_LOSS_AT,
    K_SPLIT, K_SEED, K_AUTO_INT, K_TRAIN, K_NORM
} kind;

typedef struct keydef {
    const char *section, *key;
    kind k;
    double lo, hi; /* K_INT, K_DOUBLE, K_AUTO_INT bounds */
} keydef;

static const keydef schema[] = {
    {"experiment", "name", K_NAME, 0, 0},
    {"experiment", "description", K_TEXT, 0, 0},
    {"model", "cell", K_CELL, 0, 0},
    {"model", "activation", K_ACT, 0, 0},
    {"model", "gru_variant", K_VARIANT, 0, 0},
    {"model", "peephole", K_BOOL, 0, 0},
    {"model", "hidden_size", K_INT, 1, 65536},
    {"model", "num_layers", K_INT, 1, 64},
    {"model", "init", K_INIT, 0, 0},
    {"model", "init_ih", K_INIT, 0, 0},
    {"model", "init_hh", K_INIT, 0, 0},
    {"model", "init_bias", K_BIAS_INIT, 0, 0},
    {"model", "gain", K_DOUBLE, -1e6, 1e6},
    {"model", "identity_scale", K_DOUBLE, -1e6, 1e6},
    {"model", "normal_std", K_DOUBLE, 0, 1e6},
    {"model", "forget_bias", K_DOUBLE, -1e6, 1e6},
    {"model", "leaky_alpha", K_DOUBLE, 0, 1e6},
    {"model", "norm", K_NORM, 0, 0},
    {"model", "residual", K_BOOL, 0, 0},
    {"model", "dropout", K_DOUBLE, 0, 0.999999},
    {"model", "precision", K_DTYPE, 0, 0},
    {"model", "ftz", K_BOOL, 0, 0},
    {"task", "name", K_TEXT, 0, 0},
    {"task", "batch", K_INT, 1, 1 << 20},
    {"measure", "loss_at", K_LOSS_AT, 0, 0},
    {"measure", "truncate", K_INT, 0, 1 << 24},
    {"measure", "jacobian", K_BOOL, 0, 0},
    {"measure", "jacobian_samples", K_INT, 1, 1 << 20},
    {"measure", "jacobian_max_hidden", K_INT, 0, 1 << 20},
    {"measure", "saturation", K_BOOL, 0, 0},
    {"measure", "split", K_SPLIT, 0, 0},
    {"measure", "batch_index", K_INT, 0, 1L << 40},
    {"run", "seed", K_SEED, 0, 0},
    {"run", "threads", K_AUTO_INT, 1, 1024},
    {"run", "jobs", K_AUTO_INT, 1, 1024},
    {"output", "dir", K_PATH, 0, 0},
    {"output", "figures", K_BOOL, 0, 0},
    /* [train]: checked and applied by rnnlab_train_config_set (src/lab/train.c, README "Training") */
    {"train", "max_steps", K_TRAIN, 0, 0}, {"train", "eval_every", K_TRAIN, 0, 0}, {"train", "eval_batches", K_TRAIN, 0, 0},
    {"train", "patience", K_TRAIN, 0, 0}, {"train", "min_delta", K_TRAIN, 0, 0}, {"train", "restore_best", K_TRAIN, 0, 0},
    {"train", "target_loss", K_TRAIN, 0, 0}, {"train", "optimizer", K_TRAIN, 0, 0}, {"train", "lr", K_TRAIN, 0, 0},
    {"train", "momentum", K_TRAIN, 0, 0}, {"train", "dampening", K_TRAIN, 0, 0}, {"train", "nesterov", K_TRAIN, 0, 0},
    {"train", "weight_decay", K_TRAIN, 0, 0}, {"train", "alpha", K_TRAIN, 0, 0}, {"train", "eps", K_TRAIN, 0, 0},
    {"train", "centered", K_TRAIN, 0, 0}, {"train", "beta1", K_TRAIN, 0, 0}, {"train", "beta2", K_TRAIN, 0, 0},
    {"train", "schedule", K_TRAIN, 0, 0}, {"train", "step_size", K_TRAIN, 0, 0}, {"train", "gamma", K_TRAIN, 0, 0},
    {"train", "t_max", K_TRAIN, 0, 0}, {"train", "eta_min", K_TRAIN, 0, 0}, {"train", "clip", K_TRAIN, 0, 0},
    {"train", "clip_max", K_TRAIN, 0, 0}, {"train", "truncate", K_TRAIN, 0, 0}, {"train", "log_every", K_TRAIN, 0, 0},
    {"train", "checkpoint_every", K_TRAIN, 0, 0}, {"train", "probe_at", K_TRAIN, 0, 0},
    {"train", "unit_threshold", K_TRAIN, 0, 0}, {"train", "ablation", K_TRAIN, 0, 0},
    {"train", "slope_window", K_TRAIN, 0, 0}, {"train", "init_from", K_TRAIN, 0, 0},
};
#define N_SCHEMA ((int)(sizeof schema / sizeof schema[0]))

static const char *const sections[] = {"experiment", "model", "task", "measure", "run", "output", "sweep", "train", NULL};

static const keydef *find_key(const char *section, const char *key)
{
    for (int i = 0; i < N_SCHEMA; i++)
        if (!strcmp(schema[i].section, section) && !strcmp(schema[i].key, key)) return &schema[i];
    return NULL;
}

int exp_parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return *out = 1, 1;
        if (!strcasecmp(v, no[i])) return *out = 0, 1;
    }
    return 0;
}

int exp_parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    const long x = strtol(v, &end, 10);
    if (!*v || *end || errno) return 0;
    *out = x;
    return 1;
}

/* An experiment's (or block's) name: a folder under results/ and a CSV value, so letters, digits,
 * '_', '-' and '.', not first ('.' and '..' would put the results outside results/). */
static int name_ok(const char *v, char *why, size_t n)
{
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return snprintf(why, n, "a name may use letters, digits, '_', '-' and '.' only (got '%s')", v), 0;
    if (!*v) return snprintf(why, n, "empty name"), 0;
    if (*v == '.') return snprintf(why, n, "a name may not start with '.' (got '%s')", v), 0;
    return 1;
}

/* Checks one value against its key's kind; on failure writes why into `why`. */
static int check_value(const keydef *d, const char *v, char *why, size_t n)
{
    long l;
    double x;
    int b;
    rnnlab_status st = RNNLAB_OK;
    switch (d->k) {
    case K_TEXT: return 1;
    case K_PATH:
        if (!*v) return snprintf(why, n, "empty path"), 0;
        if (strlen(v) >= 1000) return snprintf(why, n, "path longer than 999 characters"), 0;
        return 1;
    case K_NAME: return name_ok(v, why, n);
    case K_BOOL:
        if (exp_parse_bool(v, &b)) return 1;
        return snprintf(why, n, "expected true or false (or yes/no, on/off, 1/0), got '%s'", v), 0;
    case K_INT:
        if (exp_parse_long(v, &l) && l >= d->lo && l <= d->hi) return 1;
        return snprintf(why, n, "expected an integer in [%.0f, %.0f], got '%s'", d->lo, d->hi, v), 0;
    case K_AUTO_INT:
        if (!strcmp(v, "auto") || (exp_parse_long(v, &l) && l >= d->lo && l <= d->hi)) return 1;
        return snprintf(why, n, "expected auto or an integer in [%.0f, %.0f], got '%s'", d->lo, d->hi, v), 0;
    case K_DOUBLE:
        if (rnnlab_parse_double(v, &x) && isfinite(x) && x >= d->lo && x <= d->hi) return 1;
        return snprintf(why, n, "expected a finite number in [%g, %g], got '%s'", d->lo, d->hi, v), 0;
    case K_SEED: {
        char *end;
        errno = 0;
        strtoull(v, &end, 10);
        if (*v && *v != '-' && !*end && !errno) return 1;
        return snprintf(why, n, "expected a non-negative integer seed, got '%s'", v), 0;
    }
    case K_CELL: {
        rnnlab_cell_kind c;
        st = rnnlab_cell_parse(v, &c, NULL, NULL);
        break;
    }
    case K_ACT: {
        rnnlab_activation a;
        st = rnnlab_activation_parse(v, &a);
        break;
    }
    case K_VARIANT: {
        rnnlab_gru_variant g;
        st = rnnlab_gru_variant_parse(v, &g);
        break;
    }
    case K_INIT: {
        rnnlab_init_scheme s;
        st = rnnlab_init_scheme_parse(v, &s);
        break;
    }
    case K_BIAS_INIT:
        if (!strcmp(v, "pytorch") || !strcmp(v, "zero")) return 1;
        return snprintf(why, n, "expected pytorch or zero, got '%s'", v), 0;
    case K_DTYPE: {
        rnnlab_dtype dt;
        st = rnnlab_dtype_parse(v, &dt);
        break;
    }
    case K_LOSS_AT: {
        rnnlab_loss_at a;
        st = rnnlab_loss_at_parse(v, &a);
        break;
    }
    case K_NORM: {
        rnnlab_norm nm;
        st = rnnlab_norm_parse(v, &nm);
        break;
    }
    case K_TRAIN: {
        rnnlab_train_config tc;
        rnnlab_train_config_init(&tc);
        st = rnnlab_train_config_set(&tc, d->key, v);
        break;
    }
    case K_SPLIT:
        if (!strcmp(v, "train") || !strcmp(v, "valid") || !strcmp(v, "test")) return 1;
        return snprintf(why, n, "expected train, valid or test, got '%s'", v), 0;
    }
    if (st) return snprintf(why, n, "%s", rnnlab_last_error()), 0;
    return 1;
}

/* ---------------------------------------------------------------- reading the file */

typedef struct parse_ctx {
    rnnlab_experiment *e;
    const char *p, *end; /* the unread part of e->text */
    int line;            /* line number of the line handed to inih last */
    int line_is_cont;    /* that line starts with white space (a continuation) */
    int too_long;        /* that line did not fit inih's buffer */
    int last_entry_line; /* line of the last entry stored */
    rnnlab_status st;    /* first error */
    char headers[32][48]; /* the [task.NAME] and [sweep.NAME] headers seen, to refuse empty ones */
    int header_line[32], n_headers;
} parse_ctx;

static rnnlab_status fail_at(const rnnlab_experiment *e, int line, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static rnnlab_status fail_at(const rnnlab_experiment *e, int line, const char *key, const char *fmt, ...)
{
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (key) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s:%d: %s: %s", e->path, line, key, why);
    return rnnlab_error(RNNLAB_ERR_CONFIG, "%s:%d: %s", e->path, line, why);
}


#define UNKNOWN_SECTION                                                                                    \
    "unknown section [%.*s] (sections: experiment, model, task, measure, run, output, train, sweep, and "  \
    "task.NAME / sweep.NAME for further blocks)"

/* 1 if an experiment file may have a section of this name: one of `sections`, or task.NAME /
 * sweep.NAME with NAME of letters, digits and _ (a block). */
static int section_known(const char *section)
{
    for (int i = 0; sections[i]; i++)
        if (!strcmp(section, sections[i])) return 1;
    if (strncmp(section, "task.", 5) && strncmp(section, "sweep.", 6)) return 0;
    const char *block_name = strchr(section, '.') + 1;
    int known = *block_name != '\0' && strlen(block_name) < sizeof((rnnlab_experiment *)0)->blocks[0].name;
    for (const char *q = block_name; *q && known; q++) known = isalnum((unsigned char)*q) || *q == '_';
    return known;
}

/* inih's reader: one of our lines per call, counting lines. */
static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *c = stream;
    if (c->p >= c->end) return NULL;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const size_t len = nl ? (size_t)(nl - c->p) + 1 : (size_t)(c->end - c->p);
    /* a CRLF line ending counts as the LF alone (inih would strip the CR anyway): the same limit */
    const int crlf = nl && nl > c->p && nl[-1] == '\r';
    const size_t text_len = len - (size_t)crlf;
    c->line++;
    c->line_is_cont = c->p[0] == ' ' || c->p[0] == '\t';
    c->too_long = text_len > (size_t)num - 1;
    const size_t copy = c->too_long ? (size_t)num - 1 : text_len;
    memcpy(str, c->p, copy);
    if (crlf && !c->too_long) str[copy - 1] = '\n';
    str[copy] = '\0';
    if (c->too_long && !c->st)
        c->st = fail_at(c->e, c->line, NULL,
                        "line longer than %d characters; split a long list over indented continuation lines", num - 2);
    /* section headers: inih skips an unclosed one and says nothing of an empty one */
    const char *h = str;
    while (*h == ' ' || *h == '\t') h++;
    if (*h == '[' && !c->st) {
        const char *close = strchr(h, ']');
        char name[64];
        snprintf(name, sizeof name, "%.*s", close ? (int)(close - h - 1) : 0, h + 1);
        if (!close)
            c->st = fail_at(c->e, c->line, NULL, "section header without its closing ']'");
        else if (!section_known(name)) /* with no key under it, inih never shows it to the handler */
            c->st = fail_at(c->e, c->line, NULL, UNKNOWN_SECTION, (int)(close - h - 1), h + 1);
        else if ((!strncmp(h + 1, "task.", 5) || !strncmp(h + 1, "sweep.", 6)) && c->n_headers < 32 &&
                 (size_t)(close - h - 1) < sizeof c->headers[0]) {
            snprintf(c->headers[c->n_headers], sizeof c->headers[0], "%.*s", (int)(close - h - 1), h + 1);
            c->header_line[c->n_headers++] = c->line;
        }
    }
    c->p += len;
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *c = user;
    rnnlab_experiment *e = c->e;
    if (c->st) return 1;
    const int known = section_known(section);
    if (!*section) /* a key above the first [section] header (or a file that is not an experiment file) */
        return c->st = fail_at(e, c->line, name, "a key outside any section: put it under its [section] header "
                               "(experiment, model, task, measure, run, output, train or sweep)"), 1;
    if (!known)
        return c->st = fail_at(e, c->line, NULL, UNKNOWN_SECTION, (int)strlen(section), section),
               1;
    if (strlen(section) >= sizeof e->entries[0].section)
        return c->st = fail_at(e, c->line, NULL, "section name [%s] is too long", section), 1;
    /* a continuation line adds to the value of the key just before it */
    if (c->line_is_cont && e->n_entries && c->last_entry_line == c->line - 1) {
        exp_entry *prev = &e->entries[e->n_entries - 1];
        if (!strcmp(prev->section, section) && !strcmp(prev->key, name)) {
            /* inih strips a ` ;` comment from a key's first line only: here too */
            size_t b = strlen(value);
            for (size_t k = 1; k < b; k++)
                if (value[k] == ';' && isspace((unsigned char)value[k - 1])) b = k;
            while (b && isspace((unsigned char)value[b - 1])) b--;
            if (!b) { /* only a comment: nothing to add */
                c->last_entry_line = c->line;
                return 1;
            }
            /* joined with ", ", or with " " after a line that ends in a comma already */
            const size_t a = strlen(prev->value);
            const char *sep = a && prev->value[a - 1] == ',' ? " " : ", ";
            const size_t ns = strlen(sep);
            char *v = rnnlab_malloc(a + b + 3);
            if (!v) return c->st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory"), 1;
            memcpy(v, prev->value, a);
            memcpy(v + a, sep, ns);
            memcpy(v + a + ns, value, b), v[a + ns + b] = '\0';
            rnnlab_free(prev->value);
            prev->value = v;
            c->last_entry_line = c->line;
            return 1;
        }
    }
    for (int i = 0; i < e->n_entries; i++)
        if (!strcmp(e->entries[i].section, section) && !strcmp(e->entries[i].key, name))
            return c->st = c->line_is_cont && i == e->n_entries - 1
                               ? fail_at(e, c->line, name, "an indented continuation of line %d after a blank or comment "
                                         "line: continuation lines must follow it directly", e->entries[i].line)
                               : fail_at(e, c->line, name, "given twice in [%s] (first at line %d)", section,
                                         e->entries[i].line),
                   1;
    if (strlen(name) >= sizeof e->entries[0].key)
        return c->st = fail_at(e, c->line, NULL, "key '%.40s...' is too long", name), 1;
    if (e->n_entries >= EXP_MAX_ENTRIES) /* every key is compared with those before it */
        return c->st = fail_at(e, c->line, name, "more than %d keys outside [sweep]: is this an experiment file?",
                               EXP_MAX_ENTRIES), 1;
    char *v = rnnlab_malloc(strlen(value) + 1);
    if (v && e->n_entries == e->entries_cap) { /* doubling: a copy per key would be quadratic */
        const int cap = e->entries_cap ? 2 * e->entries_cap : 32;
        exp_entry *n = rnnlab_malloc((size_t)cap * sizeof *n);
        if (!n) rnnlab_free(v), v = NULL;
        else {
            if (e->n_entries) memcpy(n, e->entries, (size_t)e->n_entries * sizeof *n);
            rnnlab_free(e->entries);
            e->entries = n, e->entries_cap = cap;
        }
    }
    if (!v) return c->st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory"), 1;
    exp_entry *en = &e->entries[e->n_entries++];
    snprintf(en->section, sizeof en->section, "%s", section);
    snprintf(en->key, sizeof en->key, "%s", name);
    strcpy(v, value);
    en->value = v;
    en->line = c->line;
    c->last_entry_line = c->line;
    return 1;
}

/* ---------------------------------------------------------------- sweep lists */

static rnnlab_status add_value(exp_dim *d, const char *v)
{
    if (d->n == d->cap) { /* doubling: a range of a million values costs a million copies, not 10^12 */
        int cap = d->cap ? 2 * d->cap : 16;
        char **n = rnnlab_malloc((size_t)cap * sizeof *n);
        if (!n) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
        if (d->n) memcpy(n, d->values, (size_t)d->n * sizeof *n);
        rnnlab_free(d->values);
        d->values = n;
        d->cap = cap;
    }
    char *copy = rnnlab_malloc(strlen(v) + 1);
    if (!copy) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    strcpy(copy, v);
    d->values[d->n++] = copy;
    return RNNLAB_OK;
}

/* How many values lo..hi:step or lo..hi*factor takes (lo <= hi), counted without overflow; stops
 * counting above limit. */
static long range_count(long lo, long hi, long step, long factor, long limit)
{
    if (!factor) {
        unsigned long span = (unsigned long)hi - (unsigned long)lo; /* exact: hi >= lo */
        unsigned long n = span / (unsigned long)step;
        return n >= (unsigned long)limit ? limit + 1 : (long)n + 1;
    }
    long n = 1;
    for (long x = lo; x <= hi / factor && n <= limit; x *= factor) n++;
    return n;
}

/* A sweep value for the duplicate check: canon is a number's or boolean's canonical form, or "s" for
 * text, which compares whole (orig). */
typedef struct sweep_item {
    char canon[64];
    const char *orig;
} sweep_item;

static int cmp_canon(const void *a, const void *b)
{
    const sweep_item *x = a, *y = b;
    const int c = strcmp(x->canon, y->canon);
    if (c || strcmp(x->canon, "s")) return c;
    return strcmp(x->orig, y->orig);
}

/* Expands "a, b, lo..hi, lo..hi:step, lo..hi*factor" into d->values. */
static rnnlab_status expand_list(const rnnlab_experiment *e, exp_dim *d, const char *text)
{
    char item[256];
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (!len) return fail_at(e, d->line, d->key, "empty item in the list '%s'", text);
        if (len >= sizeof item) return fail_at(e, d->line, d->key, "list item too long");
        memcpy(item, p, len);
        item[len] = '\0';
        const char *dots = strstr(item, "..");
        if (dots) {
            long lo, hi, step = 1, factor = 0;
            char a[64], rest[64];
            snprintf(a, sizeof a, "%.*s", (int)(dots - item), item);
            snprintf(rest, sizeof rest, "%s", dots + 2);
            char *colon = strchr(rest, ':'), *star = strchr(rest, '*');
            if (colon) *colon = '\0';
            if (star) *star = '\0';
            if (!exp_parse_long(a, &lo) || !exp_parse_long(rest, &hi) || (colon && !exp_parse_long(colon + 1, &step)) ||
                (star && !exp_parse_long(star + 1, &factor)) || (colon && star))
                return fail_at(e, d->line, d->key,
                               "bad range '%s' (write lo..hi, lo..hi:step or lo..hi*factor with integers)", item);
            if (hi < lo || step < 1 || (star && factor < 2) || (star && lo < 1))
                return fail_at(e, d->line, d->key,
                               "bad range '%s' (need lo <= hi, step >= 1, factor >= 2 and lo >= 1 for *factor)", item);
            long count = range_count(lo, hi, step, star ? factor : 0, EXP_MAX_GRID - d->n);
            if (d->n + count > EXP_MAX_GRID)
                return fail_at(e, d->line, d->key, "the list has more than %ld values (the most a grid can have)",
                               EXP_MAX_GRID);
            long x = lo;
            for (long i = 0; i < count; i++) {
                char buf[32];
                snprintf(buf, sizeof buf, "%ld", x);
                rnnlab_status st = add_value(d, buf);
                if (st) return st;
                if (i + 1 < count) x = star ? x * factor : x + step; /* never past the last value: no overflow */
            }
        } else {
            if (d->n >= EXP_MAX_GRID)
                return fail_at(e, d->line, d->key, "the list has more than %ld values (the most a grid can have)",
                               EXP_MAX_GRID);
            rnnlab_status st = add_value(d, item);
            if (st) return st;
        }
        if (!comma) break;
        p = comma + 1;
    }
    /* A value listed twice would make two identical runs (same key values, same derived seed): by
       value, not spelling, where the key's kind says what the value is (04 and 4, 1 and 1.0, 0 and
       -0, true and yes); task options are compared as written, as their data seed hashes them */
    if (d->n > 1) {
        sweep_item *it = rnnlab_malloc((size_t)d->n * sizeof *it);
        if (!it) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
        const keydef *k = strcmp(d->section, "task") ? find_key(d->section, d->key) : NULL;
        for (int i = 0; i < d->n; i++) {
            const char *v = d->values[i];
            long l;
            double x;
            int b;
            char *end;
            errno = 0;
            const unsigned long long u = strtoull(v, &end, 10);
            it[i].orig = v;
            /* a [train] key's kind is train.c's (num_keys) */
            const char tk = k && k->k == K_TRAIN ? exp_train_key_kind(d->key) : 0;
            if (k && (k->k == K_INT || k->k == K_AUTO_INT || tk == 'l' || tk == 'i') && exp_parse_long(v, &l))
                snprintf(it[i].canon, 64, "i%ld", l);
            else if (k && k->k == K_SEED && isdigit((unsigned char)v[0]) && !*end && !errno)
                snprintf(it[i].canon, 64, "u%llu", u);
            else if (k && (k->k == K_DOUBLE || tk == 'd') && rnnlab_parse_double(v, &x))
                snprintf(it[i].canon, 64, "d%.17g", x + 0.0);
            else if (k && (k->k == K_BOOL || tk == 'b') && exp_parse_bool(v, &b)) snprintf(it[i].canon, 64, "b%d", b);
            else it[i].canon[0] = 's', it[i].canon[1] = '\0';
        }
        qsort(it, (size_t)d->n, sizeof *it, cmp_canon);
        for (int i = 1; i < d->n; i++)
            if (!cmp_canon(&it[i - 1], &it[i])) {
                char dup[160];
                if (!strcmp(it[i - 1].orig, it[i].orig)) snprintf(dup, sizeof dup, "the value '%.60s' is listed twice", it[i].orig);
                else snprintf(dup, sizeof dup, "'%.60s' and '%.60s' are the same value", it[i - 1].orig, it[i].orig);
                rnnlab_free(it);
                return fail_at(e, d->line, d->key, "%s (it would make identical runs)", dup);
            }
        rnnlab_free(it);
    }
    return RNNLAB_OK;
}

/* The section of a [sweep] key: "section.key" as written, else the model or measure schema, else
 * run.seed for "seed", else a task option. */
static rnnlab_status locate_sweep_key(const rnnlab_experiment *e, const exp_entry *en, exp_dim *d)
{
    const char *dot = strchr(en->key, '.');
    if (dot) {
        snprintf(d->section, sizeof d->section, "%.*s", (int)(dot - en->key), en->key);
        snprintf(d->key, sizeof d->key, "%s", dot + 1);
        if (strcmp(d->section, "model") && strcmp(d->section, "task") && strcmp(d->section, "run") &&
            strcmp(d->section, "train"))
            return fail_at(e, en->line, en->key, "only model, task, train and run keys can be swept");
    } else if (!strcmp(en->key, "seed")) {
        snprintf(d->section, sizeof d->section, "run");
        snprintf(d->key, sizeof d->key, "seed");
    } else if (find_key("model", en->key)) {
        snprintf(d->section, sizeof d->section, "model");
        snprintf(d->key, sizeof d->key, "%s", en->key);
    } else if (find_key("train", en->key)) {
        snprintf(d->section, sizeof d->section, "train");
        snprintf(d->key, sizeof d->key, "%s", en->key);
    } else {
        snprintf(d->section, sizeof d->section, "task");
        snprintf(d->key, sizeof d->key, "%s", en->key);
    }
    if (!strcmp(d->section, "run") && strcmp(d->key, "seed"))
        return fail_at(e, en->line, en->key, "of [run], only seed can be swept");
    if (!strcmp(d->section, "model") && !find_key("model", d->key))
        return fail_at(e, en->line, en->key, "not a [model] key");
    if (!strcmp(d->section, "train") && !find_key("train", d->key))
        return fail_at(e, en->line, en->key, "not a [train] key");
    if (!strcmp(d->section, "train") && !strcmp(d->key, "probe_at"))
        return fail_at(e, en->line, en->key, "probe_at is a list itself and cannot be swept");
    snprintf(d->column, sizeof d->column, "%s", !strcmp(d->section, "task") && !strcmp(d->key, "name") ? "task" : d->key);
    d->line = en->line;
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- loading */

void rnnlab_experiment_free(rnnlab_experiment *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_entries; i++) rnnlab_free(e->entries[i].value);
    rnnlab_free(e->entries);
    for (int d = 0; d < e->n_dims; d++) {
        for (int i = 0; i < e->dims[d].n; i++) rnnlab_free(e->dims[d].values[i]);
        rnnlab_free(e->dims[d].values);
    }
    rnnlab_free(e->text);
    rnnlab_free(e);
}

static const exp_entry *get(const rnnlab_experiment *e, const char *section, const char *key)
{
    for (int i = 0; i < e->n_entries; i++)
        if (!strcmp(e->entries[i].section, section) && !strcmp(e->entries[i].key, key)) return &e->entries[i];
    return NULL;
}

static rnnlab_status read_text(rnnlab_experiment *e, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: is a directory, not an experiment file", path);
    }
    size_t cap = 1 << 14, n = 0;
    char *buf = rnnlab_malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        if (cap >= (1 << 24)) {
            fclose(f);
            rnnlab_free(buf);
            return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: larger than 16 MiB: not an experiment file", path);
        }
        char *nb = rnnlab_malloc(cap * 2);
        if (nb) memcpy(nb, buf, n);
        rnnlab_free(buf);
        buf = nb, cap *= 2;
    }
    const int err = ferror(f);
    fclose(f);
    if (!buf) return rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
    if (err) {
        rnnlab_free(buf);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        rnnlab_free(buf);
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: contains NUL bytes: not a text file", path);
    }
    /* UTF-8 only: the manifest copies the text into JSON, which must be Unicode */
    for (size_t i = 0, line = 1, col = 1; i < n;) {
        uint32_t cp;
        const int k = rnnlab_utf8_decode((const unsigned char *)buf + i, n - i, &cp);
        if (!k) {
            const unsigned byte = (unsigned char)buf[i];
            rnnlab_free(buf);
            return rnnlab_error(RNNLAB_ERR_CONFIG, "%s:%zu:%zu: not UTF-8 text (byte 0x%02x): save the file as UTF-8", path,
                                line, col, byte);
        }
        if (buf[i] == '\n') line++, col = 1;
        else col++;
        i += (size_t)k;
    }
    e->text = buf, e->text_len = n;
    e->crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf, (uInt)n);
    return RNNLAB_OK;
}

static void default_name(rnnlab_experiment *e, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(e->name, sizeof e->name, "%s", base);
    char *dot = strrchr(e->name, '.');
    if (dot && !strcmp(dot, ".ini")) *dot = '\0';
}

/* The line of a section's first key (1 when it has none), where messages about the section point. */
static int section_line(const rnnlab_experiment *e, const char *section)
{
    for (int i = 0; i < e->n_entries; i++)
        if (!strcmp(e->entries[i].section, section)) return e->entries[i].line;
    return 1;
}

static rnnlab_status load(rnnlab_experiment *e, const char *path)
{
    rnnlab_status st = read_text(e, path);
    if (st) return st;
    parse_ctx c = {.e = e, .p = e->text, .end = e->text + e->text_len, .st = RNNLAB_OK};
    const int ini_line = ini_parse_stream(read_line, &c, handler, &c);
    if (c.st) return c.st;
    if (ini_line > 0) return fail_at(e, ini_line, NULL, "syntax error (expected [section], key = value, or a comment)");
    if (ini_line < 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot be parsed (inih error %d)", path, ini_line);
    for (int k = 0; k < c.n_headers; k++) {
        int used = 0;
        for (int i = 0; i < e->n_entries && !used; i++) used = !strcmp(e->entries[i].section, c.headers[k]);
        if (!used)
            return fail_at(e, c.header_line[k], NULL, "[%s] is empty%s", c.headers[k],
                           c.headers[k][0] == 't' ? " (a block needs at least name = <task>)" : "");
    }

    /* every key outside [sweep] and [task] (and their .NAME blocks) must be in the schema with a valid value */
    char why[512];
    for (int i = 0; i < e->n_entries; i++) {
        const exp_entry *en = &e->entries[i];
        if (!strncmp(en->section, "sweep", 5) || !strncmp(en->section, "task", 4)) continue;
        const keydef *d = find_key(en->section, en->key);
        if (!d)
            return fail_at(e, en->line, en->key, "unknown key in [%s] (see README, %s)", en->section,
                           strcmp(en->section, "train") ? "Experiment files" : "Training");
        if (!check_value(d, en->value, why, sizeof why)) return fail_at(e, en->line, en->key, "%s", why);
    }

    /* blocks: [task] first, then each [task.NAME] in the order they appear */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < e->n_entries; i++) {
            const exp_entry *en = &e->entries[i];
            const int is_main = !strcmp(en->section, "task"), is_named = !strncmp(en->section, "task.", 5);
            if (pass == 0 ? !is_main : !is_named) continue;
            int known = 0;
            for (int k = 0; k < e->n_blocks && !known; k++) known = !strcmp(e->blocks[k].task_section, en->section);
            if (known) continue;
            if (e->n_blocks == EXP_MAX_BLOCKS) return fail_at(e, en->line, NULL, "at most %d blocks", EXP_MAX_BLOCKS);
            exp_block *bk = &e->blocks[e->n_blocks++];
            snprintf(bk->task_section, sizeof bk->task_section, "%s", en->section);
            snprintf(bk->name, sizeof bk->name, "%s", is_main ? "main" : en->section + 5);
        }
    if (!e->n_blocks) return fail_at(e, 1, "task.name", "the experiment needs a [task] section with name = <task>");
    /* the main block is called by its task's name, unless another block already is */
    const exp_entry *main_task = !strcmp(e->blocks[0].task_section, "task") ? get(e, "task", "name") : NULL;
    if (main_task && strlen(main_task->value) < sizeof e->blocks[0].name) {
        int clash = 0;
        for (int k = 1; k < e->n_blocks; k++) clash |= !strcmp(e->blocks[k].name, main_task->value);
        if (!clash) snprintf(e->blocks[0].name, sizeof e->blocks[0].name, "%s", main_task->value);
    }
    /* [task] takes "main" when a [task.NAME] has its task's name: a [task.main] too would make two
       blocks of one name in every row */
    for (int k = 1; k < e->n_blocks; k++)
        if (!strcmp(e->blocks[k].name, e->blocks[0].name))
            return fail_at(e, section_line(e, e->blocks[k].task_section), NULL, "[%s] has the name the [task] block takes ('%s', as "
                           "its task's name is another block's): rename one of the [task.NAME] blocks",
                           e->blocks[k].task_section, e->blocks[0].name);
    for (int k = 0; k < e->n_blocks; k++) {
        const exp_block *bk = &e->blocks[k];
        char sweep_section[48]; /* the task may be swept instead: [sweep] task.name = a, b */
        snprintf(sweep_section, sizeof sweep_section, "sweep%s", bk->task_section + 4);
        if (!get(e, bk->task_section, "name") && !get(e, sweep_section, "task.name") && !get(e, sweep_section, "name"))
            return fail_at(e, section_line(e, bk->task_section), "name", "[%s] needs name = <task>", bk->task_section);
        const exp_entry *b = get(e, bk->task_section, "batch");
        if (b && !check_value(find_key("task", "batch"), b->value, why, sizeof why))
            return fail_at(e, b->line, "batch", "%s", why);
    }

    /* [sweep] and [sweep.NAME] */
    for (int i = 0; i < e->n_entries; i++) {
        const exp_entry *en = &e->entries[i];
        if (strcmp(en->section, "sweep") && strncmp(en->section, "sweep.", 6)) continue;
        char task_section[48];
        snprintf(task_section, sizeof task_section, "task%s", en->section + 5);
        int block = -1;
        for (int k = 0; k < e->n_blocks && block < 0; k++)
            if (!strcmp(e->blocks[k].task_section, task_section)) block = k;
        if (block < 0) return fail_at(e, en->line, en->key, "[%s] has no [%s] to sweep", en->section, task_section);
        if (e->n_dims == EXP_MAX_DIMS) return fail_at(e, en->line, en->key, "at most %d swept keys", EXP_MAX_DIMS);
        exp_dim *d = &e->dims[e->n_dims++];
        if ((st = locate_sweep_key(e, en, d))) return st;
        d->block = block;
        for (int j = 0; j + 1 < e->n_dims; j++)
            if (e->dims[j].block == block && !strcmp(e->dims[j].section, d->section) && !strcmp(e->dims[j].key, d->key))
                return fail_at(e, en->line, en->key, "swept twice (also at line %d)", e->dims[j].line);
        const exp_entry *fixed = get(e, !strcmp(d->section, "task") ? task_section : d->section, d->key);
        if (fixed)
            return fail_at(e, en->line, en->key, "set in [%s] at line %d and swept here: keep one", fixed->section,
                           fixed->line);
        if ((st = expand_list(e, d, en->value))) return st;
        if (!d->n) return fail_at(e, en->line, en->key, "empty list");
        const keydef *kd = find_key(d->section, d->key);
        if (kd)
            for (int v = 0; v < d->n; v++)
                if (!check_value(kd, d->values[v], why, sizeof why)) return fail_at(e, en->line, en->key, "%s", why);
        d->col = -1;
        for (int ci = 0; ci < e->n_cols && d->col < 0; ci++)
            if (!strcmp(e->cols[ci], d->column)) d->col = ci;
        if (d->col < 0) {
            memcpy(e->cols[e->n_cols], d->column, sizeof e->cols[0]); /* both 48 bytes, NUL-terminated */
            d->col = e->n_cols++;
        }
    }
    e->grid_size = 0;
    for (int k = 0; k < e->n_blocks; k++) {
        exp_block *bk = &e->blocks[k];
        bk->first = e->grid_size, bk->size = 1;
        for (int d = 0; d < e->n_dims; d++) {
            if (e->dims[d].block != k) continue;
            if (bk->size > EXP_MAX_GRID / e->dims[d].n)
                return fail_at(e, e->dims[d].line, e->dims[d].key, "the grid would have more than %ld runs", EXP_MAX_GRID);
            bk->size *= e->dims[d].n;
        }
        if (e->grid_size > EXP_MAX_GRID - bk->size)
            return fail_at(e, 1, NULL, "the grid would have more than %ld runs", EXP_MAX_GRID);
        e->grid_size += bk->size;
    }

    /* experiment, measure, run, output settings */
    const exp_entry *en;
    default_name(e, path);
    if ((en = get(e, "experiment", "name"))) snprintf(e->name, sizeof e->name, "%s", en->value);
    else if (!name_ok(e->name, why, sizeof why))
        return fail_at(e, 1, NULL, "no [experiment] name, and the file's name does not make one: %s. Set "
                       "[experiment] name", why);
    if ((en = get(e, "experiment", "description"))) snprintf(e->description, sizeof e->description, "%s", en->value);
    snprintf(e->out_dir, sizeof e->out_dir, "results/%s", e->name);
    if ((en = get(e, "output", "dir"))) snprintf(e->out_dir, sizeof e->out_dir, "%s", en->value);
    e->figures = 1;
    if ((en = get(e, "output", "figures"))) exp_parse_bool(en->value, &e->figures);
    exp_measure *m = &e->measure;
    m->loss_at = RNNLAB_LOSS_LAST, m->truncate = 0, m->jacobian = 1, m->jacobian_samples = 4;
    m->jacobian_max_hidden = 256, m->saturation = 1, m->split = RNNLAB_SPLIT_TRAIN, m->batch_index = 0;
    long l;
    if ((en = get(e, "measure", "loss_at"))) rnnlab_loss_at_parse(en->value, &m->loss_at);
    if ((en = get(e, "measure", "truncate")) && exp_parse_long(en->value, &l)) m->truncate = (int)l;
    if ((en = get(e, "measure", "jacobian"))) exp_parse_bool(en->value, &m->jacobian);
    if ((en = get(e, "measure", "jacobian_samples")) && exp_parse_long(en->value, &l)) m->jacobian_samples = (int)l;
    if ((en = get(e, "measure", "jacobian_max_hidden")) && exp_parse_long(en->value, &l)) m->jacobian_max_hidden = (int)l;
    if ((en = get(e, "measure", "saturation"))) exp_parse_bool(en->value, &m->saturation);
    if ((en = get(e, "measure", "split")))
        m->split = !strcmp(en->value, "train") ? RNNLAB_SPLIT_TRAIN : !strcmp(en->value, "valid") ? RNNLAB_SPLIT_VALID
                                                                                                  : RNNLAB_SPLIT_TEST;
    if ((en = get(e, "measure", "batch_index")) && exp_parse_long(en->value, &l)) m->batch_index = l;
    if ((en = get(e, "run", "threads")) && exp_parse_long(en->value, &l)) e->threads = (int)l;
    if ((en = get(e, "run", "jobs")) && exp_parse_long(en->value, &l)) e->jobs = (int)l;
    for (int i = 0; i < e->n_entries; i++) e->train.on |= !strcmp(e->entries[i].section, "train");
    for (int d = 0; d < e->n_dims; d++) e->train.on |= !strcmp(e->dims[d].section, "train");

    /* every grid point must resolve; each distinct task setting is opened once to check it (with an
       init_from, each distinct task setting and architecture: the weights must fit every model) */
    char **seen = rnnlab_calloc(64, sizeof *seen);
    int n_seen = 0;
    if (!seen) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    for (long id = 0; id < e->grid_size && !st; id++) {
        exp_run r;
        if ((st = exp_resolve(e, id, &r, NULL))) break;
        char key[2048] = "";
        for (int o = 0; o < r.n_task_opts; o++)
            snprintf(key + strlen(key), sizeof key - strlen(key), "%s=%s;", r.task_opts[o].key, r.task_opts[o].value);
        snprintf(key + strlen(key), sizeof key - strlen(key), "|%s", r.task);
        if (e->train.on && r.train.init_from) {
            const rnnlab_model_config *mc = &r.model;
            snprintf(key + strlen(key), sizeof key - strlen(key), "|%d %d %d %d %g %d %d %d %d %d %g", mc->cell,
                     mc->activation, mc->gru_variant, mc->peephole, mc->leaky_alpha, mc->hidden_size, mc->num_layers,
                     mc->norm, mc->residual, (int)mc->dtype, mc->dropout);
        }
        int known = 0;
        for (int s = 0; s < n_seen && !known; s++) known = !strcmp(seen[s], key);
        if (known) continue;
        rnnlab_task_info info;
        if ((st = exp_resolve(e, id, &r, &info))) break;
        if (n_seen < 64 && (seen[n_seen] = rnnlab_malloc(strlen(key) + 1))) strcpy(seen[n_seen++], key);
    }
    for (int s = 0; s < n_seen; s++) rnnlab_free(seen[s]);
    rnnlab_free(seen);
    return st;
}

rnnlab_status rnnlab_experiment_load(rnnlab_experiment **out, const char *path)
{
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_load", out);
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_load", path);
    *out = NULL;
    rnnlab_experiment *e = rnnlab_calloc(1, sizeof *e);
    if (!e) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    snprintf(e->path, sizeof e->path, "%s", path);
    rnnlab_status st = load(e, path);
    if (st) {
        rnnlab_experiment_free(e);
        return st;
    }
    *out = e;
    return RNNLAB_OK;
}

const char *rnnlab_experiment_name(const rnnlab_experiment *e) { return e->name; }
const char *rnnlab_experiment_out_dir(const rnnlab_experiment *e) { return e->out_dir; }

int rnnlab_experiment_figures(const rnnlab_experiment *e) { return e->figures; }
int rnnlab_experiment_figures_drawn(const rnnlab_experiment *e) { return e->figures_drawn; }
long rnnlab_experiment_grid_size(const rnnlab_experiment *e) { return e->grid_size; }

/* ---------------------------------------------------------------- resolving a grid point */

unsigned long long exp_fnv1a64(const char *s)
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* One effective setting of a run: its value and where it came from. */
typedef struct setting {
    const char *section, *key, *value;
    int line;
} setting;

/* The line of the run's task option `key`, or 0 if the file does not set it. */
static int task_opt_line(const exp_run *r, const char *key)
{
    const rnnlab_option *o = exp_task_opt(r, key);
    return o ? o->line : 0;
}

const rnnlab_option *exp_task_opt(const exp_run *r, const char *key)
{
    for (int i = 0; i < r->n_task_opts; i++)
        if (!strcmp(r->task_opts[i].key, key)) return &r->task_opts[i];
    return NULL;
}

rnnlab_status exp_resolve(const rnnlab_experiment *e, long id, exp_run *r, rnnlab_task_info *task_info)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    int k = 0;
    while (k + 1 < e->n_blocks && id >= e->blocks[k + 1].first) k++;
    const exp_block *bk = &e->blocks[k];
    r->block = k;
    setting set[256];
    int n = 0;
    long rest = id - bk->first;
    const char *dim_value[EXP_MAX_DIMS] = {NULL};
    for (int d = e->n_dims - 1; d >= 0; d--) { /* the block's last swept key varies fastest */
        const exp_dim *dim = &e->dims[d];
        if (dim->block != k) continue;
        dim_value[d] = dim->values[rest % dim->n];
        rest /= dim->n;
        r->col_values[dim->col] = dim_value[d];
    }
    for (int i = 0; i < e->n_entries && n < 240; i++) {
        const exp_entry *en = &e->entries[i];
        const int task = !strcmp(en->section, bk->task_section);
        if (!strcmp(en->section, "model") || task || !strcmp(en->section, "run") || !strcmp(en->section, "train"))
            set[n++] = (setting){task ? "task" : en->section, en->key, en->value, en->line};
    }
    for (int d = 0; d < e->n_dims; d++)
        if (e->dims[d].block == k) set[n++] = (setting){e->dims[d].section, e->dims[d].key, dim_value[d], e->dims[d].line};
    /* the key columns this block does not sweep: the value its section sets, if any */
    for (int d = 0; d < e->n_dims; d++) {
        const exp_dim *dim = &e->dims[d];
        if (r->col_values[dim->col] || r->col_fixed[dim->col]) continue;
        for (int i = 0; i < n; i++)
            if (!strcmp(set[i].section, dim->section) && !strcmp(set[i].key, dim->key)) r->col_fixed[dim->col] = set[i].value;
    }

    /* model: the cell first (rnn_tanh also sets the activation), then the rest */
    rnnlab_model_config *mc = &r->model;
    rnnlab_model_config_init(mc);
    rnnlab_init_config_init(&r->init);
    snprintf(r->init_name, sizeof r->init_name, "pytorch");
    int act_line = 0, cell_act = 0, cell_line = 0;
    rnnlab_activation cell_activation = RNNLAB_ACT_TANH;
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i].section, "model") && !strcmp(set[i].key, "cell")) {
            rnnlab_cell_parse(set[i].value, &mc->cell, &cell_activation, &cell_act);
            if (cell_act) mc->activation = cell_activation;
            cell_line = set[i].line;
        }
    /* the init preset before the per-part overrides */
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i].section, "model") && !strcmp(set[i].key, "init")) {
            rnnlab_init_scheme s;
            rnnlab_init_scheme_parse(set[i].value, &s);
            rnnlab_init_config_preset(&r->init, s);
            snprintf(r->init_name, sizeof r->init_name, "%s", rnnlab_init_scheme_name(s));
        }
    int forget_line = 0, peep_line = 0, ih_line = 0;
    for (int i = 0; i < n; i++) {
        const setting *s = &set[i];
        if (strcmp(s->section, "model")) continue;
        const char *key = s->key, *v = s->value;
        double x = 0;
        long l = 0;
        int b = 0;
        rnnlab_parse_double(v, &x);
        exp_parse_long(v, &l);
        exp_parse_bool(v, &b);
        if (!strcmp(key, "activation")) {
            rnnlab_activation a;
            rnnlab_activation_parse(v, &a);
            if (cell_act && a != cell_activation)
                return fail_at(e, s->line, "activation",
                               "'%s' contradicts cell = %s (line %d): drop one of them", v,
                               rnnlab_cell_label(RNNLAB_CELL_RNN, cell_activation), cell_line);
            mc->activation = a, act_line = s->line;
        } else if (!strcmp(key, "gru_variant")) rnnlab_gru_variant_parse(v, &mc->gru_variant);
        else if (!strcmp(key, "peephole")) mc->peephole = b, peep_line = s->line;
        else if (!strcmp(key, "hidden_size")) mc->hidden_size = (int)l;
        else if (!strcmp(key, "num_layers")) mc->num_layers = (int)l;
        else if (!strcmp(key, "init_ih")) rnnlab_init_scheme_parse(v, &r->init.weight_ih), ih_line = s->line;
        else if (!strcmp(key, "init_hh")) rnnlab_init_scheme_parse(v, &r->init.weight_hh);
        else if (!strcmp(key, "init_bias")) r->init.bias = !strcmp(v, "zero") ? RNNLAB_INIT_ZERO : RNNLAB_INIT_PYTORCH;
        else if (!strcmp(key, "gain")) r->init.gain = x;
        else if (!strcmp(key, "identity_scale")) r->init.identity_scale = x;
        else if (!strcmp(key, "normal_std")) r->init.normal_std = x;
        else if (!strcmp(key, "forget_bias")) r->init.forget_bias = x, forget_line = s->line;
        else if (!strcmp(key, "leaky_alpha")) mc->leaky_alpha = x;
        else if (!strcmp(key, "norm")) rnnlab_norm_parse(v, &mc->norm);
        else if (!strcmp(key, "residual")) mc->residual = b;
        else if (!strcmp(key, "dropout")) mc->dropout = x;
        else if (!strcmp(key, "precision")) rnnlab_dtype_parse(v, &mc->dtype);
        else if (!strcmp(key, "ftz")) r->ftz = b;
    }
    (void)act_line, (void)forget_line;
    /* options that belong to another cell do not apply (a sweep over cells shares one [model]) */
    if (mc->cell != RNNLAB_CELL_LSTM) mc->peephole = 0, r->init.forget_bias = NAN;
    if (mc->cell != RNNLAB_CELL_GRU) mc->gru_variant = RNNLAB_GRU_RESET_AFTER;
    if (mc->cell != RNNLAB_CELL_RNN) mc->activation = RNNLAB_ACT_TANH;
    (void)peep_line;

    /* training: the optimizer first (it sets the defaults of the others), then the rest */
    rnnlab_train_config_init(&r->train);
    int train_line = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const setting *s = &set[i];
            if (strcmp(s->section, "train") || (pass == 0) != !strcmp(s->key, "optimizer")) continue;
            if (!train_line || s->line < train_line) train_line = s->line;
            if (rnnlab_train_config_set(&r->train, s->key, s->value))
                return fail_at(e, s->line, s->key, "%s", rnnlab_last_error());
        }
    /* an optimizer's own options: with one optimizer for the file, an option it does not have is
       refused (it would be ignored); in a sweep over optimizers (one [train] for all) each applies to
       the runs whose optimizer has it, and sgd's nesterov and dampening are cleared for the others */
    int opt_swept = 0;
    for (int d = 0; d < e->n_dims; d++)
        opt_swept |= e->dims[d].block == k && !strcmp(e->dims[d].section, "train") && !strcmp(e->dims[d].key, "optimizer");
    if (e->train.on && !opt_swept)
        for (int i = 0; i < n; i++) {
            const setting *s = &set[i];
            const unsigned own = strcmp(s->section, "train") ? 0 : exp_train_key_optims(s->key);
            if (!own || (own >> r->train.optim.kind & 1)) continue;
            char owners[64] = ""; /* "sgd and rmsprop", "rmsprop, adam and adamw" */
            int left = 0;
            for (int o = 0; o < RNNLAB_OPTIM_COUNT; o++) left += own >> o & 1;
            for (int o = 0; o < RNNLAB_OPTIM_COUNT; o++)
                if (own >> o & 1) {
                    const size_t len = strlen(owners);
                    --left;
                    snprintf(owners + len, sizeof owners - len, "%s%s", rnnlab_optim_name((rnnlab_optim_kind)o),
                             left > 1 ? ", " : left == 1 ? " and " : "");
                }
            int named = 0;
            for (int j = 0; j < n; j++) named |= !strcmp(set[j].section, "train") && !strcmp(set[j].key, "optimizer");
            return fail_at(e, s->line, s->key, "an option of %s, not of %s (this file's optimizer%s): it would be ignored",
                           owners, rnnlab_optim_name(r->train.optim.kind), named ? "" : ", the default");
        }
    if (r->train.optim.kind != RNNLAB_OPTIM_SGD) r->train.optim.nesterov = 0, r->train.optim.dampening = 0;
    if (e->train.on && rnnlab_train_config_check(&r->train)) {
        /* at the line of the key the message starts with ("probe_at: ...", "nesterov needs ..."), if set */
        const char *msg = rnnlab_last_error();
        for (int i = 0; i < n; i++) {
            const setting *s = &set[i];
            const size_t kl = strlen(s->key);
            if (!strcmp(s->section, "train") && !strncmp(msg, s->key, kl) && (msg[kl] == ' ' || msg[kl] == ':'))
                return fail_at(e, s->line, s->key, "%s", msg[kl] == ':' ? msg + kl + 2 : msg);
        }
        return fail_at(e, train_line ? train_line : 1, "train", "%s", msg);
    }

    /* task and seed */
    r->batch = 16;
    r->seed = 1;
    int batch_line = 0, seed_line = 0, name_line = 0;
    for (int i = 0; i < n; i++) {
        const setting *s = &set[i];
        if (!strcmp(s->section, "run") && !strcmp(s->key, "seed")) r->seed = strtoull(s->value, NULL, 10), seed_line = s->line;
        if (strcmp(s->section, "task")) continue;
        if (!strcmp(s->key, "name")) r->task = s->value, name_line = s->line;
        else if (!strcmp(s->key, "batch")) {
            long l = 0;
            exp_parse_long(s->value, &l);
            r->batch = (int)l, batch_line = s->line;
        } else {
            if (r->n_task_opts == EXP_MAX_TASK_OPTS) return fail_at(e, s->line, s->key, "too many task options");
            r->task_opts[r->n_task_opts++] = (rnnlab_option){s->key, s->value, s->line};
        }
    }
    (void)seed_line;

    /* seeds from the grid point's values (include/rnnlab/experiment.h); the model's is set by
       exp_set_io from the architecture's random draws only (norm, residual, dropout, init and
       precision add no draws), so runs that differ in a remedy start from the same weights */
    char canon[2048];
    int off = snprintf(canon, sizeof canon, "data|task=%s;batch=%d;", r->task, r->batch);
    /* options sorted by key, so the order they were written in does not matter */
    int order[EXP_MAX_TASK_OPTS];
    for (int i = 0; i < r->n_task_opts; i++) order[i] = i;
    for (int i = 1; i < r->n_task_opts; i++)
        for (int j = i; j > 0 && strcmp(r->task_opts[order[j - 1]].key, r->task_opts[order[j]].key) > 0; j--) {
            const int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    for (int i = 0; i < r->n_task_opts && off < (int)sizeof canon; i++)
        off += snprintf(canon + off, sizeof canon - off, "%s=%s;", r->task_opts[order[i]].key, r->task_opts[order[i]].value);
    r->data_seed = rnnlab_seed_derive(r->seed, exp_fnv1a64(canon));

    if (task_info) {
        rnnlab_dataset *ds = NULL;
        int bad = -1;
        rnnlab_status st = rnnlab_dataset_open(&ds, r->task, r->task_opts, r->n_task_opts, 0, &bad);
        if (st) {
            int line = bad >= 0 ? r->task_opts[bad].line : name_line ? name_line : 1; /* [task] or [sweep] */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", rnnlab_last_error());
            if (st == RNNLAB_ERR_CONFIG) /* which task refused an option: a file may sweep several */
                return bad >= 0 ? rnnlab_error(st, "%s:%d: %s (task %s)", e->path, line, msg, r->task)
                                : rnnlab_error(st, "%s:%d: %s", e->path, line, msg);
            if (st == RNNLAB_ERR_IO) { /* a data file missing or malformed: the file's fault, found before running */
                const char *key = bad >= 0 ? r->task_opts[bad].key : "name";
                if (bad < 0 && task_opt_line(r, "path")) line = task_opt_line(r, "path"), key = "path";
                return rnnlab_error(RNNLAB_ERR_CONFIG, "%s:%d: %s: task %s: %s", e->path, line, key, r->task, msg);
            }
            return rnnlab_error(st, "%s:%d: task %s: %s", e->path, line, r->task, msg);
        }
        *task_info = *rnnlab_dataset_info(ds);
        rnnlab_dataset_close(ds);
        mc->input_size = task_info->input_size;
        mc->output_size = task_info->output_size;
        if (e->measure.loss_at == RNNLAB_LOSS_ALL && task_info->loss_at == RNNLAB_LOSS_LAST) {
            const exp_entry *la = get(e, "measure", "loss_at");
            return fail_at(e, la ? la->line : 1, "loss_at",
                           "task %s has a target at the last step only, so the probe cannot put a loss at every step",
                           r->task);
        }
    } else {
        mc->input_size = 1, mc->output_size = 2; /* placeholders until the task is opened */
    }
    exp_set_io(r, mc->input_size, mc->output_size);

    rnnlab_status st = rnnlab_model_config_check(mc);
    if (st) { /* the library's message starts with the field at fault: point at the line that set it */
        const char *msg = rnnlab_last_error(), *key = "model";
        int line = cell_line ? cell_line : 1;
        const size_t w = strcspn(msg, " :");
        for (int i = 0; i < n; i++)
            if (!strcmp(set[i].section, "model") && strlen(set[i].key) == w && !strncmp(msg, set[i].key, w))
                line = set[i].line, key = set[i].key;
        return fail_at(e, line, key, "%s", msg);
    }
    if (task_info && r->init.weight_ih == RNNLAB_INIT_IDENTITY && mc->input_size != mc->hidden_size)
        return fail_at(e, ih_line ? ih_line : 1, "init_ih",
                       "identity needs square input blocks, but input_size %d (from the task) != hidden_size %d",
                       mc->input_size, mc->hidden_size);
    if (!r->task) return fail_at(e, 1, "task.name", "missing");
    if (e->train.on) {
        /* what would otherwise stop the run only once it started */
        const setting *trunc = NULL, *init_from = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(set[i].section, "train") && !strcmp(set[i].key, "truncate")) trunc = &set[i];
            else if (!strcmp(set[i].section, "train") && !strcmp(set[i].key, "init_from")) init_from = &set[i];
        if (init_from) snprintf(r->init_name, sizeof r->init_name, "file"); /* summary.csv's init */
        if (init_from) { /* the weights come from the file: an init key would be ignored, yet recorded */
            static const char *const init_keys[] = {"init", "init_ih", "init_hh", "init_bias", "gain",
                                                    "identity_scale", "normal_std", "forget_bias", NULL};
            for (int i = 0; i < n; i++)
                for (const char *const *ik = init_keys; *ik; ik++)
                    if (!strcmp(set[i].section, "model") && !strcmp(set[i].key, *ik))
                        return fail_at(e, set[i].line, *ik,
                                       "has no effect with init_from (line %d), whose file gives every weight: drop one "
                                       "of them", init_from->line);
            FILE *f = fopen(r->train.init_from, "rb");
            if (!f) return fail_at(e, init_from->line, "init_from", "cannot open '%s': %s", r->train.init_from, strerror(errno));
            fclose(f);
            struct stat sb;
            if (stat(r->train.init_from, &sb) != 0 || !S_ISREG(sb.st_mode))
                return fail_at(e, init_from->line, "init_from", "'%s' is not a file", r->train.init_from);
        }
        if (init_from && task_info) { /* the weights must load into this run's model: read them now */
            rnnlab_model *probe = NULL;
            rnnlab_status ist = rnnlab_model_create(&probe, mc);
            if (!ist) ist = rnnlab_weights_import(r->train.init_from, probe);
            rnnlab_model_free(probe);
            if (ist) return fail_at(e, init_from->line, "init_from", "%s", rnnlab_last_error());
        }
        if (task_info) {
            if (mc->norm == RNNLAB_NORM_BATCH && r->train.truncate > 0 && r->train.truncate < task_info->seq_len)
                return fail_at(e, trunc ? trunc->line : train_line ? train_line : 1, "truncate",
                               "batch norm couples every step of the batch, so it cannot be combined with truncated "
                               "BPTT (truncate %d < seq_len %d); use full BPTT or layer norm",
                               r->train.truncate, task_info->seq_len);
            /* one sample of one step has one value a column: x - mean = 0 (a variable-length task may
               draw a one-step sample at any batch, so batch 1 is refused for it too) */
            if (mc->norm == RNNLAB_NORM_BATCH && r->batch == 1 && (task_info->seq_len < 2 || task_info->variable_length))
                return fail_at(e, batch_line ? batch_line : name_line ? name_line : 1, "batch",
                               "batch norm in training takes each column's mean and variance over the batch's "
                               "(step, sample) values, and %s; use batch >= 2 or layer norm",
                               task_info->seq_len < 2 ? "batch 1 of one-step sequences gives one"
                                                      : "batch 1 of a variable-length task can give one (a one-step sample)");
            for (int sp = 0; sp < 3; sp++)
                if (task_info->split_size[sp] == 0) {
                    const char *key = task_opt_line(r, "split") ? "split" : task_opt_line(r, "split_column") ? "split_column" : "name";
                    const int line = strcmp(key, "name") ? task_opt_line(r, key) : name_line ? name_line : 1;
                    return fail_at(e, line, key,
                                   "the %s split of task %s is empty; training evaluates on train, valid and test",
                                   rnnlab_split_name((rnnlab_split)sp), r->task);
                }
        }
    }
    return RNNLAB_OK;
}

void exp_set_io(exp_run *r, int input_size, int output_size)
{
    rnnlab_model_config *mc = &r->model;
    mc->input_size = input_size, mc->output_size = output_size;
    char canon[512], alpha[40];
    rnnlab_format_double(alpha, sizeof alpha, mc->leaky_alpha); /* C locale: the seed must not depend on it */
    snprintf(canon, sizeof canon, "model|cell=%s;gru_variant=%s;peephole=%d;I=%d;H=%d;L=%d;O=%d;alpha=%s",
             rnnlab_cell_label(mc->cell, mc->activation), rnnlab_gru_variant_name(mc->gru_variant), mc->peephole,
             mc->input_size, mc->hidden_size, mc->num_layers, mc->output_size, alpha);
    r->model_seed = rnnlab_seed_derive(r->seed, exp_fnv1a64(canon));
}

/* ---------------------------------------------------------------- dry run */

const char *exp_column_value(const exp_run *r, const rnnlab_experiment *e, int c, int T, char *buf, size_t n)
{
    if (r->col_values[c]) return r->col_values[c];
    if (r->col_fixed[c]) return r->col_fixed[c];
    /* not set in this run's block: the value the run actually uses, for the keys that have one */
    const char *k = e->cols[c];
    const rnnlab_model_config *mc = &r->model;
    if (!strcmp(k, "seq_len") && T > 0) snprintf(buf, n, "%d", T);
    else if (!strcmp(k, "cell")) snprintf(buf, n, "%s", rnnlab_cell_label(mc->cell, mc->activation));
    else if (!strcmp(k, "init")) snprintf(buf, n, "%s", r->init_name);
    else if (!strcmp(k, "hidden_size")) snprintf(buf, n, "%d", mc->hidden_size);
    else if (!strcmp(k, "num_layers")) snprintf(buf, n, "%d", mc->num_layers);
    else if (!strcmp(k, "precision")) snprintf(buf, n, "%s", rnnlab_dtype_name(mc->dtype));
    else if (!strcmp(k, "norm")) snprintf(buf, n, "%s", rnnlab_norm_name(mc->norm));
    else if (!strcmp(k, "task") && r->task) snprintf(buf, n, "%s", r->task);
    else buf[0] = '\0'; /* does not apply */
    return buf;
}

void rnnlab_experiment_print_grid(const rnnlab_experiment *e, const rnnlab_run_options *opt, FILE *f)
{
    const char *base = opt && opt->out_dir ? opt->out_dir : e->out_dir;
    const int sn = opt && opt->shard_n > 1 ? opt->shard_n : 1, sk = sn > 1 ? opt->shard_k : 0;
    if (sk < 0 || sk >= sn) { /* as rnnlab_experiment_run refuses it */
        fprintf(f, "# %s: shard %d/%d: need 0 <= K < N; nothing would run\n", e->name, sk, sn);
        return;
    }
    fprintf(f, "# %s: %ld run(s)", e->name, e->grid_size);
    if (e->n_blocks > 1)
        for (int k = 0; k < e->n_blocks; k++)
            fprintf(f, "%s block %s: %ld", k ? "," : ";", e->blocks[k].name, e->blocks[k].size);
    char dir[PATH_MAX + 64];
    exp_shard_dir(dir, sizeof dir, base, sk, sn);
    if (sn > 1) fprintf(f, "; shard %d/%d: %ld of them", sk, sn, sk < e->grid_size ? (e->grid_size - 1 - sk) / sn + 1 : 0);
    fprintf(f, "; output %s\n", dir);
    for (long id = sk; id < e->grid_size; id += sn) {
        exp_run r;
        if (exp_resolve(e, id, &r, NULL)) continue;
        char buf[32];
        fprintf(f, "%ld", id);
        if (e->n_blocks > 1) fprintf(f, " block=%s", e->blocks[r.block].name);
        for (int c = 0; c < e->n_cols; c++) {
            const char *v = exp_column_value(&r, e, c, -1, buf, sizeof buf);
            if (strcmp(e->cols[c], "seed") && *v) fprintf(f, " %s=%s", e->cols[c], v);
        }
        fprintf(f, " seed=%llu\n", r.seed);
    }
}
