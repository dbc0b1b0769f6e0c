/*
 * dataset.c - the registry of tasks and datasets, option checking, the seeded batch generator, the
 * seeded order in which examples are drawn, and the generic rendering of `rnnlab data show`.
 *
 * Not here: any task (tasks.c, idx.c, text.c, music.c, csv.c) or file reading (io.c).
 */
#include "data/data_internal.h"
#include "rnnlab/format.h"
#include "rnnlab/rng.h"
#include "core/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rnnlab_task_def *const registry[] = {
    &rnnlab_task_adding,     &rnnlab_task_copy,       &rnnlab_task_temporal_order, &rnnlab_task_two_sequence,
    &rnnlab_task_fashion_mnist, &rnnlab_task_text,    &rnnlab_task_jsb_chorales,   &rnnlab_task_nottingham,
    &rnnlab_task_musedata,   &rnnlab_task_piano_midi, &rnnlab_task_csv,
};
#define N_TASKS ((int)(sizeof registry / sizeof registry[0]))

int rnnlab_task_count(void) { return N_TASKS; }
const char *rnnlab_task_name(int i) { return i >= 0 && i < N_TASKS ? registry[i]->name : "?"; }
const char *rnnlab_task_summary(int i) { return i >= 0 && i < N_TASKS ? registry[i]->summary : "?"; }
const char *rnnlab_task_options_doc(int i) { return i >= 0 && i < N_TASKS ? registry[i]->options_doc : "?"; }
const char *rnnlab_task_shape(int i) { return i >= 0 && i < N_TASKS ? registry[i]->shape : "?"; }
const char *rnnlab_task_size(int i) { return i >= 0 && i < N_TASKS ? registry[i]->size : "?"; }
const char *rnnlab_task_source(int i) { return i >= 0 && i < N_TASKS ? registry[i]->source : "?"; }
const char *rnnlab_task_data_path(int i) { return i >= 0 && i < N_TASKS ? registry[i]->data_path : NULL; }

int rnnlab_task_find(const char *name)
{
    for (int i = 0; i < N_TASKS; i++)
        if (name && strcmp(name, registry[i]->name) == 0) return i;
    return -1;
}

int rnnlab_task_installed(int i)
{
    if (i < 0 || i >= N_TASKS || !registry[i]->data_path) return -1;
    const char *p = registry[i]->data_path;
    if (registry[i]->data_is_dir || rnnlab_file_exists(p, 0)) return rnnlab_file_exists(p, registry[i]->data_is_dir);
    /* a .csv may be stored as .csv.gz (and the other way round): the loaders accept either */
    char alt[1024];
    const size_t n = strlen(p);
    if (n > 3 && strcmp(p + n - 3, ".gz") == 0) snprintf(alt, sizeof alt, "%.*s", (int)(n - 3), p);
    else snprintf(alt, sizeof alt, "%s.gz", p);
    return rnnlab_file_exists(alt, 0);
}

const char *rnnlab_split_name(rnnlab_split s)
{
    return s == RNNLAB_SPLIT_TRAIN ? "train" : s == RNNLAB_SPLIT_VALID ? "valid" : s == RNNLAB_SPLIT_TEST ? "test" : "?";
}

rnnlab_status rnnlab_split_check(rnnlab_split s)
{
    if (s != RNNLAB_SPLIT_TRAIN && s != RNNLAB_SPLIT_VALID && s != RNNLAB_SPLIT_TEST)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "invalid split %d", (int)s);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_dataset_open(rnnlab_dataset **out, const char *name, const rnnlab_option *opts, int n_opts,
                                  uint64_t seed, int *bad_option)
{
    int bad_local;
    if (!bad_option) bad_option = &bad_local;
    *bad_option = -1;
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_open", out);
    *out = NULL;
    if (n_opts < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_dataset_open: n_opts must be >= 0 (got %d)", n_opts);
    if (n_opts > 0) RNNLAB_REQUIRE_PTR("rnnlab_dataset_open", opts);
    for (int o = 0; o < n_opts; o++) {
        if (!opts[o].key || !opts[o].value) {
            *bad_option = o;
            return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_dataset_open: option %d has a NULL %s", o,
                                opts[o].key ? "value" : "key");
        }
    }
    const rnnlab_task_def *def = NULL;
    for (int i = 0; i < N_TASKS; i++)
        if (name && strcmp(name, registry[i]->name) == 0) def = registry[i];
    if (!def) {
        char list[512] = "";
        for (int i = 0; i < N_TASKS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", registry[i]->name);
        return rnnlab_error(RNNLAB_ERR_CONFIG, "task: unknown task '%s' (known: %s)", name ? name : "(null)", list);
    }
    for (int o = 0; o < n_opts; o++) {
        int known = 0;
        for (const char *const *k = def->keys; *k && !known; k++) known = strcmp(*k, opts[o].key) == 0;
        if (!known) {
            char list[512] = "";
            for (const char *const *k = def->keys; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k == def->keys ? "" : ", ", *k);
            *bad_option = o;
            return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: not an option of task %s (its options: %s)", opts[o].key,
                                def->name, list);
        }
    }
    rnnlab_dataset *ds = rnnlab_calloc(1, sizeof *ds);
    if (!ds) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening task %s", def->name);
    ds->def = def;
    ds->seed = seed;
    snprintf(ds->info.name, sizeof ds->info.name, "%s", def->name);
    ds->info.success_threshold = NAN;
    for (int s = 0; s < 3; s++) ds->info.split_size[s] = -1;
    rnnlab_status st = def->open(ds, opts, n_opts, bad_option);
    if (st) {
        rnnlab_dataset_close(ds);
        return st;
    }
    *out = ds;
    return RNNLAB_OK;
}

void rnnlab_dataset_close(rnnlab_dataset *ds)
{
    if (!ds) return;
    if (ds->def && ds->def->close) ds->def->close(ds);
    rnnlab_free(ds);
}

const rnnlab_task_info *rnnlab_dataset_info(const rnnlab_dataset *ds) { return &ds->info; }

rnnlab_status rnnlab_dataset_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x,
                                   double *target, int *target_class, int *lengths)
{
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_batch", ds);
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_batch", x);
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_batch", lengths);
    if (ds->info.loss == RNNLAB_LOSS_XENT) RNNLAB_REQUIRE_PTR("rnnlab_dataset_batch", target_class);
    else RNNLAB_REQUIRE_PTR("rnnlab_dataset_batch", target);
    if (B < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch must be >= 1 (got %d)", B);
    rnnlab_status st = rnnlab_split_check(split);
    if (st) return st;
    if (index < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch index must be >= 0 (got %ld)", index);
    return ds->def->batch(ds, split, index, B, x, target, target_class, lengths);
}

void rnnlab_data_batch_rng(const rnnlab_dataset *ds, rnnlab_split split, long index, void *rng)
{
    rnnlab_rng_seed(rng, rnnlab_seed_derive(rnnlab_seed_derive(ds->seed, (uint64_t)split + 1), (uint64_t)index));
}

/* ---------------------------------------------------------------- options */

int rnnlab_opt_find(const rnnlab_option *opts, int n, const char *key)
{
    int found = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(opts[i].key, key) == 0) found = i;
    return found;
}

rnnlab_status rnnlab_opt_int(const rnnlab_option *opts, int n, const char *key, long lo, long hi, long *out,
                             int *bad_option)
{
    const int i = rnnlab_opt_find(opts, n, key);
    if (i < 0) return RNNLAB_OK;
    char *end;
    errno = 0;
    const long v = strtol(opts[i].value, &end, 10);
    if (!opts[i].value[0] || *end || errno || v < lo || v > hi) {
        *bad_option = i;
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: expected an integer in [%ld, %ld], got '%s'", key, lo, hi,
                            opts[i].value);
    }
    *out = v;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_opt_double(const rnnlab_option *opts, int n, const char *key, double lo, double hi, double *out,
                                int *bad_option)
{
    const int i = rnnlab_opt_find(opts, n, key);
    if (i < 0) return RNNLAB_OK;
    double v;
    if (!rnnlab_parse_double(opts[i].value, &v) || !isfinite(v) || v < lo || v > hi) {
        *bad_option = i;
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: expected a number in [%g, %g], got '%s'", key, lo, hi,
                            opts[i].value);
    }
    *out = v;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_opt_choice(const rnnlab_option *opts, int n, const char *key, const char *const *choices, int *out,
                                int *bad_option)
{
    const int i = rnnlab_opt_find(opts, n, key);
    if (i < 0) return RNNLAB_OK;
    for (int c = 0; choices[c]; c++)
        if (strcmp(opts[i].value, choices[c]) == 0) return *out = c, RNNLAB_OK;
    char list[256] = "";
    for (int c = 0; choices[c]; c++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c ? ", " : "", choices[c]);
    *bad_option = i;
    return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: expected one of %s, got '%s'", key, list, opts[i].value);
}

const char *rnnlab_opt_str(const rnnlab_option *opts, int n, const char *key, const char *def)
{
    const int i = rnnlab_opt_find(opts, n, key);
    return i < 0 ? def : opts[i].value;
}

rnnlab_status rnnlab_opt_fractions(const rnnlab_option *opts, int n, const char *key, double frac[3],
                                   int *bad_option)
{
    const int i = rnnlab_opt_find(opts, n, key);
    if (i < 0) return RNNLAB_OK;
    const char *s = opts[i].value;
    double f[3] = {0, 0, 0}, sum = 0;
    int k = 0, ok = 1;
    for (;;) { /* comma-separated pieces, exactly three, blanks around them allowed */
        while (*s == ' ' || *s == '\t') s++;
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        char num[64];
        if (k == 3 || len == 0 || len >= sizeof num) {
            ok = 0;
            break;
        }
        memcpy(num, s, len), num[len] = '\0';
        if (!rnnlab_parse_double(num, &f[k]) || !isfinite(f[k]) || f[k] < 0 || f[k] > 1) {
            ok = 0;
            break;
        }
        sum += f[k++];
        if (!comma) break;
        s = comma + 1;
    }
    if (!ok || k != 3 || fabs(sum - 1) > 1e-9) {
        *bad_option = i;
        return rnnlab_error(RNNLAB_ERR_CONFIG,
                            "%s: expected three fractions train,valid,test in [0, 1] that sum to 1 (e.g. "
                            "0.9,0.05,0.05), got '%s'",
                            key, opts[i].value);
    }
    memcpy(frac, f, sizeof f);
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- the order of examples */

/* One Feistel round function: 64 mixed bits of (key, round, half). */
static uint64_t feistel_f(uint64_t key, int round, uint64_t half)
{
    return rnnlab_splitmix64(key ^ rnnlab_splitmix64(half + 0x9e3779b97f4a7c15ULL * (uint64_t)(round + 1)));
}

/* A bijection of [0, n): a balanced 4-round Feistel network on 2*hb bits (4^hb >= n), walked until
 * the value falls inside [0, n) (cycle walking, Black & Rogaway 2002). */
static uint64_t permute_index(uint64_t j, uint64_t n, uint64_t key)
{
    int hb = 0;
    while (hb < 32 && ((uint64_t)1 << (2 * hb)) < n) hb++;
    const uint64_t mask = hb ? (((uint64_t)1 << hb) - 1) : 0;
    do {
        uint64_t L = (j >> hb) & mask, R = j & mask;
        for (int r = 0; r < 4; r++) {
            const uint64_t t = L ^ (feistel_f(key, r, R) & mask);
            L = R, R = t;
        }
        j = (L << hb) | R;
    } while (j >= n);
    return j;
}

long rnnlab_data_sample(const rnnlab_dataset *ds, rnnlab_split split, long index, int B, int b, long n)
{
    if (n <= 1) return 0;
    const uint64_t p = (uint64_t)index * (uint64_t)B + (uint64_t)b, un = (uint64_t)n;
    if (split != RNNLAB_SPLIT_TRAIN) return (long)(p % un);
    const uint64_t key = rnnlab_seed_derive(rnnlab_seed_derive(ds->seed, 0x6f726465ULL /* "orde" */), p / un);
    return (long)permute_index(p % un, un, key);
}

rnnlab_status rnnlab_data_split_n(const rnnlab_dataset *ds, rnnlab_split split, long *n)
{
    *n = ds->info.split_size[split];
    if (*n == 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "split %s of task %s is empty", rnnlab_split_name(split),
                            ds->info.name);
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- show */

/* The rendering for tasks without their own: per step, the inputs, then the target. */
static rnnlab_status show_generic(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                  const double *target, const int *target_class, const int *lengths)
{
    const rnnlab_task_info *in = &ds->info;
    const int I = in->input_size, O = in->output_size, T = in->seq_len, len = lengths[b];
    const int all = in->loss_at == RNNLAB_LOSS_ALL, xent = in->loss == RNNLAB_LOSS_XENT;
    rnnlab_status st = rnnlab_buf_printf(out, "  length %d of T = %d\n", len, T);
    for (int t = 0; t < len && !st; t++) {
        st = rnnlab_buf_printf(out, "  t=%-4d x =", t);
        for (int i = 0; i < I && i < 16 && !st; i++) st = rnnlab_buf_printf(out, " %7.4f", x[((size_t)t * B + b) * I + i]);
        if (!st && I > 16) st = rnnlab_buf_printf(out, " ...");
        if (!st && all) {
            if (xent) st = rnnlab_buf_printf(out, "   class %d", target_class[(size_t)t * B + b]);
            else
                for (int o = 0; o < O && o < 8 && !st; o++)
                    st = rnnlab_buf_printf(out, "%s%.4f", o ? " " : "   target ", target[((size_t)t * B + b) * O + o]);
        }
        if (!st) st = rnnlab_buf_printf(out, "\n");
    }
    if (!st && !all) {
        if (xent) st = rnnlab_buf_printf(out, "  target class %d\n", target_class[b]);
        else {
            st = rnnlab_buf_printf(out, "  target");
            for (int o = 0; o < O && !st; o++) st = rnnlab_buf_printf(out, " %.6f", target[(size_t)b * O + o]);
            if (!st) st = rnnlab_buf_printf(out, "\n");
        }
    }
    return st;
}

/* The first n samples of batch `index` of B samples of `split`; asked is the n the caller asked for
 * (more than n: the split holds only n, each shown once); say_b: the header gives B. */
static rnnlab_status show_impl(rnnlab_dataset *ds, rnnlab_split split, long index, int B, int n, int asked, int say_b,
                               char **text)
{
    const rnnlab_task_info *in = &ds->info;
    const size_t T = (size_t)in->seq_len, I = (size_t)in->input_size, O = (size_t)in->output_size;
    const size_t tb = in->loss_at == RNNLAB_LOSS_ALL ? T * (size_t)B : (size_t)B;
    double *x = rnnlab_malloc(sizeof(double) * T * (size_t)B * I), *target = rnnlab_malloc(sizeof(double) * tb * O);
    int *cls = rnnlab_malloc(sizeof(int) * tb), *len = rnnlab_malloc(sizeof(int) * (size_t)B);
    rnnlab_buf out = {0};
    rnnlab_status st = RNNLAB_OK;
    if (!x || !target || !cls || !len) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory showing task %s", in->name);
        goto done;
    }
    if ((st = rnnlab_dataset_batch(ds, split, index, B, x, target, cls, len))) goto done;
    st = rnnlab_buf_printf(&out, "%s%s%s: I=%d O=%d T=%d, loss %s at %s; %s split, batch %ld", in->name,
                           in->variant[0] ? " " : "", in->variant, in->input_size, in->output_size, in->seq_len,
                           rnnlab_loss_name(in->loss), rnnlab_loss_at_name(in->loss_at), rnnlab_split_name(split), index);
    if (!st) st = say_b ? rnnlab_buf_printf(&out, " of %d sample%s\n", B, B == 1 ? "" : "s") : rnnlab_buf_printf(&out, "\n");
    if (!st && n < asked)
        st = say_b && n == B ? rnnlab_buf_printf(&out, "(a batch of %d holds %d example%s: all are shown)\n", B, n, n == 1 ? "" : "s")
                             : rnnlab_buf_printf(&out, "(the %s split holds %d example%s: each is shown once)\n",
                                                 rnnlab_split_name(split), n, n == 1 ? "" : "s");
    for (int b = 0; b < n && !st; b++) {
        st = rnnlab_buf_printf(&out, "example %d:\n", b);
        if (!st) st = (ds->def->show ? ds->def->show : show_generic)(ds, &out, b, B, x, target, cls, len);
    }
    if (!st) st = rnnlab_buf_printf(&out, "trivial baseline: %s (%.6g)\n", in->baseline_desc, in->baseline);
done:
    rnnlab_free(x), rnnlab_free(target), rnnlab_free(cls), rnnlab_free(len);
    if (st) {
        rnnlab_buf_deinit(&out);
        return st;
    }
    *text = (char *)out.data;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_dataset_show(rnnlab_dataset *ds, rnnlab_split split, int n, char **text)
{
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_show", text);
    *text = NULL;
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_show", ds);
    if (n < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "show: the number of examples must be >= 1 (got %d)", n);
    /* a split of fewer examples than asked: each shown once (a batch would wrap around and repeat them) */
    const long have = ds->info.split_size[split];
    const int asked = n;
    if (have > 0 && n > have) n = (int)have;
    return show_impl(ds, split, 0, n, n, asked, 0, text);
}

rnnlab_status rnnlab_dataset_show_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, int n, char **text)
{
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_show_batch", text);
    *text = NULL;
    RNNLAB_REQUIRE_PTR("rnnlab_dataset_show_batch", ds);
    if (n < 1 || B < 1 || index < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "show: need index >= 0, B >= 1 and n >= 1 (got %ld, %d, %d)", index, B, n);
    const int asked = n;
    if (n > B) n = B;
    return show_impl(ds, split, index, B, n, asked, 1, text);
}
