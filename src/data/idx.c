/*
 * idx.c - the IDX reader (the MNIST file format of LeCun et al.) and sequential / permuted
 * Fashion-MNIST, pixel by pixel or row by row.
 *
 * Not here: any other image set; the generic file reading (io.c).
 *
 * Dimensions: T steps (784 pixels or 28 rows), B batch, I inputs per step (1 pixel or 28), O = 10
 * classes.
 *
 * Sources: the IDX format as documented with MNIST (LeCun, Cortes & Burges,
 * yann.lecun.com/exdb/mnist); Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; MIT
 * licence), installed by Debian's dataset-fashion-mnist; the sequential pixel task (T = 784) and
 * its fixed-permutation version from Le, Jaitly & Hinton 2015 (Section 4.2) and Arjovsky, Shah &
 * Bengio 2016 (Section 4.3), there on MNIST.
 */
#include "data/data_internal.h"
#include "rnnlab/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* ================================================================ IDX */

/* The largest IDX payload accepted (bytes): far above Fashion-MNIST's 47 MB. */
#define IDX_MAX_BYTES ((size_t)1 << 31)

static rnnlab_status idx_read_file(const char *path, const char *fetch, int expect_ndim, const long *expect_item,
                                   rnnlab_idx *out)
{
    memset(out, 0, sizeof *out);
    rnnlab_buf all = {0};
    /* the header is read through the same whole-file path as the data, a chunk at a time: the
     * buffer only grows with bytes that are really there */
    rnnlab_status st = rnnlab_file_read_all(path, fetch, IDX_MAX_BYTES + 4 + 4 * 4, &all);
    if (st) goto done;
    const unsigned char *h = all.data;
    if (all.len < 4) {
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: truncated: %zu bytes, shorter than the 4-byte IDX magic number", path,
                          all.len);
        goto done;
    }
    const unsigned magic = (unsigned)h[0] << 24 | (unsigned)h[1] << 16 | (unsigned)h[2] << 8 | h[3];
    const unsigned want = 0x00000800u | (unsigned)expect_ndim;
    if (magic != want) {
        st = rnnlab_error(RNNLAB_ERR_IO,
                          "%s: bad magic number 0x%08x, expected 0x%08x (IDX, unsigned bytes, %d dimension%s)%s", path,
                          magic, want, expect_ndim, expect_ndim == 1 ? "" : "s",
                          h[0] == 0x1f && h[1] == 0x8b ? "; the file looks gzip-compressed twice" : "");
        goto done;
    }
    const size_t hdr = 4 + 4 * (size_t)expect_ndim;
    if (all.len < hdr) {
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: truncated: %zu bytes, shorter than the %zu-byte IDX header", path,
                          all.len, hdr);
        goto done;
    }
    size_t total = 1;
    out->ndim = expect_ndim;
    out->item_bytes = 1;
    for (int k = 0; k < expect_ndim; k++) {
        const unsigned char *d = h + 4 + 4 * k;
        const unsigned long v = (unsigned long)d[0] << 24 | (unsigned long)d[1] << 16 | (unsigned long)d[2] << 8 | d[3];
        if (v == 0) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: dimension %d is 0", path, k);
            goto done;
        }
        if (k > 0 && expect_item && (long)v != expect_item[k - 1]) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: dimension %d is %lu, expected %ld", path, k, v, expect_item[k - 1]);
            goto done;
        }
        if (v > IDX_MAX_BYTES / total) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: the header's sizes describe more than %zu bytes", path, IDX_MAX_BYTES);
            goto done;
        }
        total *= v;
        out->dims[k] = (long)v;
        if (k > 0) out->item_bytes *= v;
    }
    const size_t have = all.len - hdr;
    if (have < total) {
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: truncated: expected %zu bytes of data after the header, got %zu", path,
                          total, have);
        goto done;
    }
    if (have > total) {
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: %zu bytes after the %zu bytes of data the header describes", path,
                          have - total, total);
        goto done;
    }
    out->block = all.data; /* the data stay where they were read, after the header */
    out->data = all.data + hdr;
    return RNNLAB_OK;
done:
    rnnlab_buf_deinit(&all);
    rnnlab_idx_deinit(out);
    return st;
}

/* ---------------------------------------------------------------- shared reads
 *
 * While rnnlab_dataset_cache is on, an IDX file read here is kept and shared (rnnlab_share_get,
 * io.c) by every later read of the same path and expected shape: a sweep of runs on Fashion-MNIST
 * decompresses its 55 MB once, not once per run. */

typedef struct idx_load_ctx {
    const char *path, *fetch;
    int ndim;
    const long *item;
} idx_load_ctx;

static void idx_drop(void *value)
{
    rnnlab_idx *idx = value;
    rnnlab_free(idx->block);
    rnnlab_free(idx);
}

static rnnlab_status idx_load(void *ctx, void **value)
{
    const idx_load_ctx *c = ctx;
    rnnlab_idx *idx = rnnlab_calloc(1, sizeof *idx);
    if (!idx) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory reading %s", c->path);
    const rnnlab_status st = idx_read_file(c->path, c->fetch, c->ndim, c->item, idx);
    if (st) rnnlab_free(idx);
    else *value = idx;
    return st;
}

rnnlab_status rnnlab_idx_read(const char *path, const char *fetch, int expect_ndim, const long *expect_item,
                              rnnlab_idx *out)
{
    memset(out, 0, sizeof *out);
    char key[4200];
    int n = snprintf(key, sizeof key, "%d", expect_ndim);
    for (int k = 0; k + 1 < expect_ndim && n > 0 && (size_t)n < sizeof key; k++)
        n += snprintf(key + n, sizeof key - (size_t)n, ",%ld", expect_item ? expect_item[k] : 0L);
    if (n > 0 && (size_t)n < sizeof key) n += snprintf(key + n, sizeof key - (size_t)n, ":%s", path);
    const int fits = n > 0 && (size_t)n < sizeof key; /* else never shared: a cut key could match another path */
    idx_load_ctx c = {path, fetch, expect_ndim, expect_item};
    void *value;
    const rnnlab_status st = rnnlab_share_get(fits ? key : NULL, idx_load, idx_drop, &c, &value);
    if (st) return st;
    *out = *(const rnnlab_idx *)value;
    out->share = value;
    return RNNLAB_OK;
}

void rnnlab_idx_deinit(rnnlab_idx *idx)
{
    if (idx->share) rnnlab_share_release(idx->share, idx_drop);
    else rnnlab_free(idx->block);
    memset(idx, 0, sizeof *idx);
}

/* ================================================================ Fashion-MNIST
 *
 * Splits: train = the first 60000 - valid images of train-images-idx3-ubyte.gz, valid = its last
 * `valid` images (default 5000), test = the 10000 images of t10k-images-idx3-ubyte.gz. Pixels are
 * scaled to [0, 1] (byte / 255). mode = pixel: T = 784 steps of I = 1 pixel, in row-major order;
 * mode = row: T = 28 steps of I = 28 pixels (one image row per step). permute = 1 applies one fixed
 * permutation of the 784 pixels (drawn from permute_seed, by default the dataset's seed) before
 * the image is cut into steps. The label is the target at the last step (cross-entropy, 10 classes).
 */

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_FETCH                                                                                                 \
    "Fashion-MNIST comes from Debian's package dataset-fashion-mnist: run `make setup-data` (as root it runs "      \
    "`apt-get install dataset-fashion-mnist`), or set the option path to a directory holding "                     \
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "                       \
    "t10k-labels-idx1-ubyte.gz"

static const char *const fashion_labels[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                               "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

typedef struct fashion_state {
    rnnlab_idx images[2], labels[2]; /* [0] the train file, [1] t10k */
    long n_valid;
    int row;        /* mode = row */
    int perm[784];  /* pixel read at position p is perm[p] (identity without permute) */
} fashion_state;

static const char *const fashion_keys[] = {"path", "mode", "permute", "permute_seed", "valid", NULL};

static void fashion_close(rnnlab_dataset *ds)
{
    fashion_state *s = ds->state;
    if (!s) return;
    for (int f = 0; f < 2; f++) rnnlab_idx_deinit(&s->images[f]), rnnlab_idx_deinit(&s->labels[f]);
    rnnlab_free(s);
    ds->state = NULL;
}

static rnnlab_status fashion_load(fashion_state *s, const char *dir)
{
    static const char *const files[2][2] = {{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
                                            {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}};
    static const long item[2] = {28, 28};
    char path[4096];
    for (int f = 0; f < 2; f++) {
        rnnlab_status st;
        snprintf(path, sizeof path, "%s/%s", dir, files[f][0]);
        if ((st = rnnlab_idx_read(path, FASHION_FETCH, 3, item, &s->images[f]))) return st;
        snprintf(path, sizeof path, "%s/%s", dir, files[f][1]);
        if ((st = rnnlab_idx_read(path, FASHION_FETCH, 1, NULL, &s->labels[f]))) return st;
        if (s->labels[f].dims[0] != s->images[f].dims[0])
            return rnnlab_error(RNNLAB_ERR_IO, "%s: %ld labels for the %ld images of %s", path, s->labels[f].dims[0],
                                s->images[f].dims[0], files[f][0]);
        for (long i = 0; i < s->labels[f].dims[0]; i++)
            if (s->labels[f].data[i] > 9)
                return rnnlab_error(RNNLAB_ERR_IO, "%s: label %ld is %d, expected a class in 0..9", path, i,
                                    s->labels[f].data[i]);
    }
    return RNNLAB_OK;
}

static rnnlab_status fashion_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const modes[] = {"pixel", "row", NULL};
    int mode = 0;
    long permute = 0, valid = 5000, pseed = -1;
    rnnlab_status st;
    if ((st = rnnlab_opt_choice(opts, n, "mode", modes, &mode, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "permute", 0, 1, &permute, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "permute_seed", 0, (long)(~0UL >> 1), &pseed, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "valid", 0, 59999, &valid, bad))) return st;
    const char *dir = rnnlab_opt_str(opts, n, "path", FASHION_DIR);
    fashion_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory opening fashion_mnist");
    ds->state = s;
    if (!rnnlab_file_exists(dir, 1)) {
        *bad = rnnlab_opt_find(opts, n, "path");
        return rnnlab_error(RNNLAB_ERR_IO, "%s: no such directory; %s", dir, FASHION_FETCH);
    }
    if ((st = fashion_load(s, dir))) return st;
    if (valid >= s->images[0].dims[0]) {
        *bad = rnnlab_opt_find(opts, n, "valid");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "valid: %ld held-out images leave none of the %ld for training", valid,
                            s->images[0].dims[0]);
    }
    s->n_valid = valid;
    s->row = mode == 1;
    for (int p = 0; p < 784; p++) s->perm[p] = p;
    if (permute) { /* Fisher-Yates (Knuth 1969, Algorithm P) from its own generator */
        rnnlab_rng rng;
        rnnlab_rng_seed(&rng, rnnlab_seed_derive(pseed >= 0 ? (uint64_t)pseed : ds->seed, 0x7065726dULL /* "perm" */));
        for (int p = 783; p > 0; p--) {
            const int q = (int)rnnlab_rng_below(&rng, (uint64_t)p + 1), t = s->perm[p];
            s->perm[p] = s->perm[q], s->perm[q] = t;
        }
    }
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "%s%s", s->row ? "row" : "pixel", permute ? "_permuted" : "");
    in->input_size = s->row ? 28 : 1;
    in->output_size = 10;
    in->seq_len = s->row ? 28 : 784;
    in->loss = RNNLAB_LOSS_XENT, in->loss_at = RNNLAB_LOSS_LAST;
    in->baseline = log(10.0);
    snprintf(in->baseline_desc, sizeof in->baseline_desc,
             "uniform over the 10 classes (they are balanced): cross-entropy ln 10 = 2.3026 nats, accuracy 10%%");
    snprintf(in->success_desc, sizeof in->success_desc,
             "test accuracy; compare cells and inits by rank (Fashion-MNIST is harder than the MNIST of the papers)");
    snprintf(in->source, sizeof in->source,
             "Fashion-MNIST (Xiao et al. 2017, MIT licence); sequential/permuted pixels as in Le et al. 2015 Sec. 4.2");
    in->split_size[RNNLAB_SPLIT_TRAIN] = s->images[0].dims[0] - valid;
    in->split_size[RNNLAB_SPLIT_VALID] = valid;
    in->split_size[RNNLAB_SPLIT_TEST] = s->images[1].dims[0];
    return RNNLAB_OK;
}

static rnnlab_status fashion_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                                   int *target_class, int *lengths)
{
    (void)target;
    const fashion_state *s = ds->state;
    long n;
    rnnlab_status st = rnnlab_data_split_n(ds, split, &n);
    if (st) return st;
    const int f = split == RNNLAB_SPLIT_TEST;
    const long first = split == RNNLAB_SPLIT_VALID ? s->images[0].dims[0] - s->n_valid : 0;
    const int I = ds->info.input_size, T = ds->info.seq_len;
    for (int b = 0; b < B; b++) {
        const long k = first + rnnlab_data_sample(ds, split, index, B, b, n);
        const unsigned char *img = s->images[f].data + (size_t)k * 784;
        for (int p = 0; p < 784; p++) { /* position p of the sequence: step p / I, input p % I */
            const int t = p / I, i = p % I;
            x[((size_t)t * B + b) * I + i] = img[s->perm[p]] / 255.0;
        }
        if (target_class) target_class[b] = s->labels[f].data[k];
        lengths[b] = T;
    }
    return RNNLAB_OK;
}

/* 28 x 28 ASCII art of the image as the model sees it (after the permutation, if any). */
static rnnlab_status fashion_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                  const double *target, const int *target_class, const int *lengths)
{
    (void)target, (void)lengths;
    static const char shade[] = " .:-=+*#%@";
    const int I = ds->info.input_size;
    rnnlab_status st = rnnlab_buf_printf(out, "  label %d (%s)\n", target_class[b], fashion_labels[target_class[b]]);
    for (int r = 0; r < 28 && !st; r++) {
        char line[64];
        for (int c = 0; c < 28; c++) {
            const int p = r * 28 + c, t = p / I, i = p % I;
            const double v = x[((size_t)t * B + b) * I + i];
            const int k = (int)(v * 9.999);
            line[2 * c] = line[2 * c + 1] = shade[k < 0 ? 0 : k > 9 ? 9 : k];
        }
        line[56] = '\0';
        st = rnnlab_buf_printf(out, "  |%s|\n", line);
    }
    return st;
}

const rnnlab_task_def rnnlab_task_fashion_mnist = {
    .name = "fashion_mnist",
    .summary = "sequential / permuted Fashion-MNIST, pixel by pixel (T=784) or row by row (T=28) (Le et al. 2015 "
               "on Fashion-MNIST)",
    .options_doc = "path = DIR           directory of the four IDX .gz files (default " FASHION_DIR ")\n"
                   "mode = pixel | row   784 steps of 1 pixel, or 28 steps of one 28-pixel row (default pixel)\n"
                   "permute = 0 | 1      apply one fixed pixel permutation (default 0)\n"
                   "permute_seed = N     the permutation's seed (default: the dataset seed)\n"
                   "valid = N            last N training images held out for validation (default 5000)\n",
    .keys = fashion_keys,
    .shape = "I=1 O=10 T=784 (mode=row: I=28 T=28)",
    .size = "55000/5000/10000 images",
    .source = "Xiao, Rasul & Vollgraf 2017 (MIT licence), Debian dataset-fashion-mnist; task of Le et al. 2015",
    .data_path = FASHION_DIR,
    .data_is_dir = 1,
    .open = fashion_open,
    .batch = fashion_batch,
    .close = fashion_close,
    .show = fashion_show,
};
