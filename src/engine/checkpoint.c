/*
 * checkpoint.c - checkpoints (model + optimizer + caller's bytes in a versioned, checksummed binary
 * file) and the PyTorch-layout text export and import of weights. File layouts:
 * include/rnnlab/checkpoint.h.
 *
 * Not here: what the training loop keeps in the extra bytes (src/lab/train.c).
 *
 * Every value is serialised byte by byte in little-endian order (floating-point values by their
 * IEEE 754 bit patterns), so a file reads back bit for bit whatever the host; the reader checks
 * every length against the bytes that are left before it reads, so a truncated or hostile file is
 * refused with a message rather than read out of bounds.
 */
#include "rnnlab/checkpoint.h"
#include "rnnlab/format.h"
#include "rnnlab/gradcheck.h"
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char magic[8] = {'R', 'N', 'N', 'L', 'A', 'B', 'C', 'K'};

/* ---------------------------------------------------------------- writing bytes */

typedef struct wbuf {
    unsigned char *d;
    size_t len, cap;
    int failed;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n) cap *= 2;
        unsigned char *d = rnnlab_malloc(cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        if (b->len) memcpy(d, b->d, b->len);
        rnnlab_free(b->d);
        b->d = d, b->cap = cap;
    }
    memcpy(b->d + b->len, src, n);
    b->len += n;
}

static void put_u64(wbuf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}

static void put_u32(wbuf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}

static void put_i32(wbuf *b, int v) { put_u32(b, (uint32_t)v); }

static void put_f64(wbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

/* n values of dtype d from block, each little-endian. */
static void put_block(wbuf *b, const void *block, size_t n, rnnlab_dtype d)
{
    for (size_t j = 0; j < n && !b->failed; j++) {
        if (d == RNNLAB_FLOAT32) {
            uint32_t u;
            memcpy(&u, (const float *)block + j, 4);
            put_u32(b, u);
        } else {
            uint64_t u;
            memcpy(&u, (const double *)block + j, 8);
            put_u64(b, u);
        }
    }
}

/* ---------------------------------------------------------------- reading bytes */

typedef struct rbuf {
    const unsigned char *d;
    size_t pos, len;
    const char *path;
    int short_read; /* a read went past the end */
} rbuf;

static int avail(rbuf *r, size_t n)
{
    if (r->short_read || n > r->len - r->pos) {
        r->short_read = 1;
        return 0;
    }
    return 1;
}

static uint64_t get_u64(rbuf *r)
{
    if (!avail(r, 8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->d[r->pos + i] << (8 * i);
    r->pos += 8;
    return v;
}

static uint32_t get_u32(rbuf *r)
{
    if (!avail(r, 4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->d[r->pos + i] << (8 * i);
    r->pos += 4;
    return v;
}

static int get_i32(rbuf *r) { return (int)(int32_t)get_u32(r); }

static double get_f64(rbuf *r)
{
    const uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void get_block(rbuf *r, void *block, size_t n, rnnlab_dtype d)
{
    const size_t es = rnnlab_dtype_size(d);
    if (n > (r->len - r->pos) / es) {
        r->short_read = 1;
        return;
    }
    for (size_t j = 0; j < n; j++) {
        if (d == RNNLAB_FLOAT32) {
            const uint32_t u = get_u32(r);
            memcpy((float *)block + j, &u, 4);
        } else {
            const uint64_t u = get_u64(r);
            memcpy((double *)block + j, &u, 8);
        }
    }
}

/* ---------------------------------------------------------------- model records */

int rnnlab_model_same_architecture(const rnnlab_model_config *a, const rnnlab_model_config *b)
{
    return a->cell == b->cell && a->activation == b->activation && a->leaky_alpha == b->leaky_alpha &&
           a->gru_variant == b->gru_variant && a->peephole == b->peephole && a->input_size == b->input_size &&
           a->hidden_size == b->hidden_size && a->num_layers == b->num_layers && a->output_size == b->output_size &&
           a->norm == b->norm && a->residual == b->residual && a->dropout == b->dropout;
}

static void put_tensor(wbuf *b, const rnnlab_tensor_info *t)
{
    char name[32] = {0};
    snprintf(name, sizeof name, "%s", t->name);
    put(b, name, 32);
    put_i32(b, t->layer), put_i32(b, t->ndim), put_i32(b, t->dims[0]), put_i32(b, t->dims[1]);
    put_u64(b, t->offset), put_u64(b, t->numel);
}

/* Reads one tensor record and compares it with the model's (built from the stored configuration). */
static int same_tensor(rbuf *r, const rnnlab_tensor_info *t)
{
    char name[33];
    if (!avail(r, 32)) return 0;
    memcpy(name, r->d + r->pos, 32);
    name[32] = '\0';
    r->pos += 32;
    const int layer = get_i32(r), ndim = get_i32(r), d0 = get_i32(r), d1 = get_i32(r);
    const uint64_t off = get_u64(r), numel = get_u64(r);
    return !r->short_read && !strcmp(name, t->name) && layer == t->layer && ndim == t->ndim && d0 == t->dims[0] &&
           d1 == t->dims[1] && off == t->offset && numel == t->numel;
}

/* ---------------------------------------------------------------- save */

static rnnlab_status write_atomic(const char *path, const unsigned char *data, size_t n)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return rnnlab_error(RNNLAB_ERR_IO, "%s: path too long", path);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    rnnlab_status st = RNNLAB_OK;
    while (n && !st) {
        const ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        else data += w, n -= (size_t)w;
    }
    if (!st && fsync(fd) != 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    close(fd);
    if (!st && rename(tmp, path) != 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (st) unlink(tmp);
    return st;
}

rnnlab_status rnnlab_checkpoint_save(const char *path, const rnnlab_checkpoint *ck)
{
    RNNLAB_REQUIRE_PTR("rnnlab_checkpoint_save", path);
    RNNLAB_REQUIRE_PTR("rnnlab_checkpoint_save", ck);
    const rnnlab_model *m = ck->model;
    const rnnlab_optim *o = ck->optim;
    if (!m) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: a checkpoint needs a model", path);
    if (o && (o->n != m->n_params || o->dtype != m->cfg.dtype))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: the optimizer does not belong to the model (%zu %s parameters "
                            "against the model's %zu %s)", path, o->n, rnnlab_dtype_name(o->dtype), m->n_params,
                            rnnlab_dtype_name(m->cfg.dtype));
    if (o && o->step < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: the optimizer's step is negative (%ld)", path, o->step);
    if (o) { /* what checkpoint_load would refuse is refused here, before a file is written */
        rnnlab_status sto = rnnlab_optim_config_check(&o->cfg);
        if (sto) return rnnlab_error(sto, "%s: the optimizer's settings: %s", path, rnnlab_last_error());
    }
    if (!ck->extra && ck->extra_len > 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: extra_len is %zu but extra is NULL", path, ck->extra_len);
    const rnnlab_model_config *c = &m->cfg;
    wbuf b = {0};
    put(&b, magic, 8);
    put_u32(&b, RNNLAB_CHECKPOINT_VERSION);
    put_u32(&b, o ? 1u : 0u);
    put_u64(&b, 0); /* the total length, patched below */
    put_u64(&b, (uint64_t)ck->step);
    for (int i = 0; i < 4; i++) put_u64(&b, ck->rng.s[i]);
    /* model */
    put_i32(&b, c->cell), put_i32(&b, c->activation), put_i32(&b, c->gru_variant), put_i32(&b, c->peephole);
    put_i32(&b, c->input_size), put_i32(&b, c->hidden_size), put_i32(&b, c->num_layers), put_i32(&b, c->output_size);
    put_i32(&b, c->dtype), put_i32(&b, c->norm), put_i32(&b, c->residual);
    put_f64(&b, c->leaky_alpha), put_f64(&b, c->dropout);
    put_i32(&b, m->n_tensors);
    for (int i = 0; i < m->n_tensors; i++) put_tensor(&b, &m->tensors[i]);
    put_u64(&b, m->n_params);
    put_i32(&b, m->n_buffer_tensors);
    for (int i = 0; i < m->n_buffer_tensors; i++) put_tensor(&b, &m->buffer_tensors[i]);
    put_u64(&b, m->buffers ? m->n_buffers : 0);
    put_block(&b, m->params, m->n_params, c->dtype);
    if (m->buffers) put_block(&b, m->buffers, m->n_buffers, RNNLAB_FLOAT64);
    /* optimizer */
    if (o) {
        const rnnlab_optim_config *oc = &o->cfg;
        put_i32(&b, oc->kind), put_i32(&b, oc->nesterov), put_i32(&b, oc->centered);
        put_f64(&b, oc->lr), put_f64(&b, oc->momentum), put_f64(&b, oc->dampening), put_f64(&b, oc->weight_decay);
        put_f64(&b, oc->alpha), put_f64(&b, oc->eps), put_f64(&b, oc->beta1), put_f64(&b, oc->beta2);
        put_u64(&b, (uint64_t)o->step);
        put_u64(&b, o->n);
        for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++) put_block(&b, o->state[k], o->n, o->dtype);
    }
    put_u64(&b, ck->extra ? ck->extra_len : 0);
    if (ck->extra && ck->extra_len) put(&b, ck->extra, ck->extra_len);
    if (!b.failed) {
        const uint64_t total = (uint64_t)b.len + 4;
        for (int i = 0; i < 8; i++) b.d[16 + i] = (unsigned char)(total >> (8 * i));
    }
    const uLong crc = b.failed ? 0 : crc32(crc32(0L, Z_NULL, 0), b.d, (uInt)b.len);
    put_u32(&b, (uint32_t)crc);
    rnnlab_status st = b.failed ? rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory writing the checkpoint", path)
                                : write_atomic(path, b.d, b.len);
    rnnlab_free(b.d);
    return st;
}

/* ---------------------------------------------------------------- load */

void rnnlab_checkpoint_deinit(rnnlab_checkpoint *ck)
{
    if (!ck) return;
    rnnlab_model_free(ck->model);
    rnnlab_optim_free(ck->optim);
    rnnlab_free(ck->extra);
    memset(ck, 0, sizeof *ck);
}

/* crc32 over a buffer that may exceed uInt. */
static uLong crc_of(const unsigned char *d, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n) {
        const uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, d, k);
        d += k, n -= k;
    }
    return crc;
}

static rnnlab_status read_whole(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) { /* /dev/zero would never end */
        fclose(f);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: not a regular file (a checkpoint is one)", path);
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *d = rnnlab_malloc(cap);
    while (d) {
        n += fread(d + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nd = cap < ((size_t)1 << 40) ? rnnlab_malloc(cap * 2) : NULL;
        if (nd) memcpy(nd, d, n);
        rnnlab_free(d);
        d = nd, cap *= 2;
    }
    const int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!d) return rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory reading the checkpoint", path);
    if (err) {
        rnnlab_free(d);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: %s", path,
                            err == EISDIR ? "a folder, not a checkpoint (give a run-<id>.ckpt file)" : strerror(err));
    }
    *out = d, *len = n;
    return RNNLAB_OK;
}

#define CK_FAIL(...)                                                                                             \
    do {                                                                                                         \
        st = rnnlab_error(RNNLAB_ERR_IO, __VA_ARGS__);                                                           \
        goto done;                                                                                               \
    } while (0)

rnnlab_status rnnlab_checkpoint_load(const char *path, rnnlab_checkpoint *ck)
{
    RNNLAB_REQUIRE_PTR("rnnlab_checkpoint_load", path);
    RNNLAB_REQUIRE_PTR("rnnlab_checkpoint_load", ck);
    memset(ck, 0, sizeof *ck);
    unsigned char *data = NULL;
    size_t len = 0;
    rnnlab_status st = read_whole(path, &data, &len);
    if (st) return st;
    rbuf r = {data, 0, len, path, 0};
    if (len < 8 || memcmp(data, magic, 8) != 0)
        CK_FAIL("%s: not an rnnlab checkpoint (it does not start with RNNLABCK)", path);
    r.pos = 8;
    const uint32_t version = get_u32(&r);
    if (r.short_read) CK_FAIL("%s: truncated checkpoint (%zu bytes)", path, len);
    if (version != RNNLAB_CHECKPOINT_VERSION)
        CK_FAIL("%s: checkpoint version %u; this rnnlab reads version %d", path, (unsigned)version,
                RNNLAB_CHECKPOINT_VERSION);
    const uint32_t flags = get_u32(&r);
    const uint64_t total = get_u64(&r);
    if (r.short_read) CK_FAIL("%s: truncated checkpoint (%zu bytes)", path, len);
    if (len < total) CK_FAIL("%s: truncated checkpoint (%zu of %llu bytes)", path, len, (unsigned long long)total);
    if (len > total || total < 8 + 4 + 4 + 8 + 8 + 32 + 4)
        CK_FAIL("%s: inconsistent checkpoint (%zu bytes, its header says %llu)", path, len, (unsigned long long)total);
    /* the checksum covers everything but its own last 4 bytes */
    const uLong want = (uLong)(data[len - 4] | (uint32_t)data[len - 3] << 8 | (uint32_t)data[len - 2] << 16 |
                               (uint32_t)data[len - 1] << 24);
    if (crc_of(data, len - 4) != want) CK_FAIL("%s: checksum mismatch: the file is damaged", path);
    r.len = len - 4;
    ck->step = (long)get_u64(&r);
    for (int i = 0; i < 4; i++) ck->rng.s[i] = get_u64(&r);
    rnnlab_model_config c;
    rnnlab_model_config_init(&c);
    c.cell = (rnnlab_cell_kind)get_i32(&r), c.activation = (rnnlab_activation)get_i32(&r);
    c.gru_variant = (rnnlab_gru_variant)get_i32(&r), c.peephole = get_i32(&r);
    c.input_size = get_i32(&r), c.hidden_size = get_i32(&r), c.num_layers = get_i32(&r), c.output_size = get_i32(&r);
    c.dtype = (rnnlab_dtype)get_i32(&r), c.norm = (rnnlab_norm)get_i32(&r), c.residual = get_i32(&r);
    c.leaky_alpha = get_f64(&r), c.dropout = get_f64(&r);
    if (r.short_read) CK_FAIL("%s: inconsistent checkpoint (the model section is cut short)", path);
    if (rnnlab_model_config_check(&c) != RNNLAB_OK)
        CK_FAIL("%s: the stored model configuration is invalid: %s", path, rnnlab_last_error());
    if ((st = rnnlab_model_create(&ck->model, &c))) {
        if (st != RNNLAB_ERR_NOMEM) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot rebuild the model: %s", path, rnnlab_last_error());
        goto done;
    }
    rnnlab_model *m = ck->model;
    const int nt = get_i32(&r);
    if (nt != m->n_tensors)
        CK_FAIL("%s: %d parameter tensors stored, this rnnlab's %s model has %d (written by a build with another "
                "parameter layout)",
                path, nt, rnnlab_cell_label(c.cell, c.activation), m->n_tensors);
    for (int i = 0; i < nt; i++)
        if (!same_tensor(&r, &m->tensors[i]))
            CK_FAIL("%s: stored tensor %d does not match this build's %s (written by a build with another parameter "
                    "layout, or damaged)",
                    path, i, m->tensors[i].name);
    if (get_u64(&r) != m->n_params) CK_FAIL("%s: stored parameter count differs from the model's (%zu)", path, m->n_params);
    const int nb = get_i32(&r);
    if (nb != m->n_buffer_tensors) CK_FAIL("%s: %d buffer tensors stored, the model has %d", path, nb, m->n_buffer_tensors);
    for (int i = 0; i < nb; i++)
        if (!same_tensor(&r, &m->buffer_tensors[i]))
            CK_FAIL("%s: stored buffer %d does not match this build's %s", path, i, m->buffer_tensors[i].name);
    const uint64_t n_buf = get_u64(&r);
    if (n_buf != (m->buffers ? m->n_buffers : 0)) CK_FAIL("%s: stored buffer size differs from the model's", path);
    get_block(&r, m->params, m->n_params, c.dtype);
    if (n_buf) get_block(&r, m->buffers, (size_t)n_buf, RNNLAB_FLOAT64);
    if (flags & 1u) {
        rnnlab_optim_config oc;
        memset(&oc, 0, sizeof oc);
        oc.kind = (rnnlab_optim_kind)get_i32(&r), oc.nesterov = get_i32(&r), oc.centered = get_i32(&r);
        oc.lr = get_f64(&r), oc.momentum = get_f64(&r), oc.dampening = get_f64(&r), oc.weight_decay = get_f64(&r);
        oc.alpha = get_f64(&r), oc.eps = get_f64(&r), oc.beta1 = get_f64(&r), oc.beta2 = get_f64(&r);
        const long ostep = (long)get_u64(&r);
        const uint64_t on = get_u64(&r);
        if (r.short_read) CK_FAIL("%s: truncated in the optimizer section", path);
        if (on != m->n_params) CK_FAIL("%s: the optimizer's state has %llu elements, the model %zu", path,
                                       (unsigned long long)on, m->n_params);
        if ((st = rnnlab_optim_create(&ck->optim, m, &oc))) {
            if (st != RNNLAB_ERR_NOMEM) st = rnnlab_error(RNNLAB_ERR_IO, "%s: bad optimizer settings: %s", path, rnnlab_last_error());
            goto done;
        }
        ck->optim->step = ostep;
        for (int k = 0; k < RNNLAB_OPTIM_STATE_BLOCKS; k++) get_block(&r, ck->optim->state[k], m->n_params, c.dtype);
    }
    const uint64_t xlen = get_u64(&r);
    if (r.short_read || xlen != r.len - r.pos)
        CK_FAIL("%s: inconsistent checkpoint (the extra section's length does not match the file)", path);
    if (xlen) {
        if (!(ck->extra = rnnlab_malloc((size_t)xlen))) {
            st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        memcpy(ck->extra, r.d + r.pos, (size_t)xlen);
        ck->extra_len = (size_t)xlen;
    }
done:
    rnnlab_free(data);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rnnlab_last_error());
        rnnlab_checkpoint_deinit(ck);
        rnnlab_error(st, "%s", msg);
    }
    return st;
}

/* ---------------------------------------------------------------- PyTorch layout (text) */

static void write_values(FILE *f, const double *v, size_t n)
{
    char num[40];
    for (size_t j = 0; j < n; j++) {
        rnnlab_format_double(num, sizeof num, v[j]);
        fputs(num, f);
        fputc((j + 1) % 8 == 0 || j + 1 == n ? '\n' : ' ', f);
    }
}

rnnlab_status rnnlab_weights_export(const char *path, const rnnlab_model *m)
{
    RNNLAB_REQUIRE_PTR("rnnlab_weights_export", path);
    RNNLAB_REQUIRE_PTR("rnnlab_weights_export", m);
    const rnnlab_model_config *c = &m->cfg;
    size_t max_numel = 1;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel > max_numel) max_numel = m->tensors[i].numel;
    double *v = rnnlab_malloc(max_numel * sizeof *v);
    if (!v) return rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rnnlab_free(v);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write (a new %s.tmp first): %s", path, path, strerror(errno));
    }
    const int nbuf = m->buffers ? m->n_buffer_tensors : 0;
    errno = 0; /* what a failed write leaves says why (a full disk) */
    fprintf(f, "# rnnlab weights in PyTorch's state_dict layout (torch.nn.%s + torch.nn.Linear head: head_weight,\n"
               "# head_bias). Load with the Python of README.md (Training, PyTorch). Precision of the model: %s.\n",
            c->cell == RNNLAB_CELL_LSTM ? "LSTM" : c->cell == RNNLAB_CELL_GRU ? "GRU" : "RNN", rnnlab_dtype_name(c->dtype));
    /* what a torch.nn module of the same tensors would compute differently, with nothing to make a strict
       load fail: the header says so (README.md's loader refuses such a file) */
    const int residual = c->residual && c->num_layers > 1, cho = c->cell == RNNLAB_CELL_GRU && c->gru_variant != RNNLAB_GRU_RESET_AFTER;
    if (residual || cho)
        fprintf(f, "# NOT the torch.nn.%s of these tensors: this model %s%s%s, which no torch.nn module computes.\n",
                c->cell == RNNLAB_CELL_LSTM ? "LSTM" : c->cell == RNNLAB_CELL_GRU ? "GRU" : "RNN",
                residual ? "adds each layer's input to its output (residual connections)" : "",
                residual && cho ? " and " : "", cho ? "applies the reset gate before the recurrent product (Cho et al. 2014)" : "");
    fprintf(f, "format torchref-gradref-v1\ncell %s\ngates %d\ninput_size %d\nhidden_size %d\nnum_layers %d\n"
               "output_size %d\ndtype float64\n",
            rnnlab_cell_label(c->cell, c->activation), m->G, c->input_size, c->hidden_size, c->num_layers,
            c->output_size);
    if (residual) fprintf(f, "residual 1\n");
    if (cho) fprintf(f, "gru_variant %s\n", rnnlab_gru_variant_name(c->gru_variant));
    fprintf(f, "n_tensors %d\n", m->n_tensors + nbuf);
    for (int i = 0; i < m->n_tensors + nbuf; i++) {
        const rnnlab_tensor_info *t = i < m->n_tensors ? &m->tensors[i] : &m->buffer_tensors[i - m->n_tensors];
        if (t->ndim == 2) fprintf(f, "tensor %s 2 %d %d\n", t->name, t->dims[0], t->dims[1]);
        else fprintf(f, "tensor %s 1 %d\n", t->name, t->dims[0]);
        if (i < m->n_tensors) rnnlab_model_get(m, i, v);
        write_values(f, i < m->n_tensors ? v : m->buffers + t->offset, t->numel);
    }
    fputs("end\n", f);
    const int bad = ferror(f), bad_errno = errno;
    if (fclose(f) != 0 || bad) {
        const int err = bad ? bad_errno : errno;
        rnnlab_free(v);
        unlink(tmp);
        return rnnlab_error(RNNLAB_ERR_IO, "%s: write failed: %s", tmp, err ? strerror(err) : "write error");
    }
    rnnlab_free(v);
    if (rename(tmp, path) != 0) {
        const rnnlab_status st = rnnlab_error(RNNLAB_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        unlink(tmp);
        return st;
    }
    return RNNLAB_OK;
}

/* Reference-case tensors that are data or gradients, not weights: ignored by the import. */
static int is_case_tensor(const char *name)
{
    static const char *const data[] = {"input", "target", "h0", "c0", "h", "c", "output", "loss", NULL};
    if (!strncmp(name, "grad_", 5)) return 1;
    for (int i = 0; data[i]; i++)
        if (!strcmp(name, data[i])) return 1;
    return 0;
}

rnnlab_status rnnlab_weights_import(const char *path, rnnlab_model *m)
{
    RNNLAB_REQUIRE_PTR("rnnlab_weights_import", path);
    RNNLAB_REQUIRE_PTR("rnnlab_weights_import", m);
    rnnlab_refcase *rc = NULL;
    rnnlab_status st = rnnlab_refcase_load(path, &rc);
    if (st) return st;
    const rnnlab_model_config *c = &m->cfg;
    const char *label = rnnlab_cell_label(c->cell, c->activation);
    const int nbuf = m->buffers ? m->n_buffer_tensors : 0;
    double *staged = NULL;
    if (strcmp(rc->cell, label) && !(c->cell == RNNLAB_CELL_RNN && !strcmp(rc->cell, "rnn") && c->activation == RNNLAB_ACT_TANH))
        st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: cell %s, the model is %s", path, rc->cell, label);
    else if (rc->residual && !(c->residual && c->num_layers > 1)) /* said by rnnlab's own export only */
        st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: weights of a model with residual connections; this one has none", path);
    else if (rc->gru_variant != RNNLAB_GRU_RESET_AFTER && c->gru_variant != rc->gru_variant)
        st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: weights of a %s GRU; this one is %s", path,
                          rnnlab_gru_variant_name(rc->gru_variant), rnnlab_gru_variant_name(c->gru_variant));
    else if ((rc->input_size && rc->input_size != c->input_size) || (rc->hidden_size && rc->hidden_size != c->hidden_size) ||
             (rc->num_layers && rc->num_layers != c->num_layers) || (rc->output_size && rc->output_size != c->output_size))
        st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: sizes I=%d H=%d L=%d O=%d, the model has I=%d H=%d L=%d O=%d", path,
                          rc->input_size, rc->hidden_size, rc->num_layers, rc->output_size, c->input_size, c->hidden_size,
                          c->num_layers, c->output_size);
    for (int i = 0; !st && i < rc->n_tensors; i++) {
        const char *name = rc->t[i].name;
        if (is_case_tensor(name) || rnnlab_model_find(m, name) >= 0) continue;
        int is_buf = 0;
        for (int k = 0; k < nbuf; k++) is_buf |= !strcmp(m->buffer_tensors[k].name, name);
        if (!is_buf) st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: tensor %s is not a parameter of this %s model", path, name, label);
    }
    /* stage everything first, so that m is unchanged on error */
    if (!st && !(staged = rnnlab_malloc((m->n_params + (m->buffers ? m->n_buffers : 0) + 1) * sizeof *staged)))
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; !st && i < m->n_tensors + nbuf; i++) {
        const rnnlab_tensor_info *t = i < m->n_tensors ? &m->tensors[i] : &m->buffer_tensors[i - m->n_tensors];
        const rnnlab_ref_tensor *rt = rnnlab_refcase_find(rc, t->name);
        if (!rt) {
            st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: no tensor %s (the model needs every one of its tensors)", path, t->name);
            break;
        }
        const int dims_ok = rt->ndim == t->ndim && rt->dims[0] == t->dims[0] && (t->ndim == 1 || rt->dims[1] == t->dims[1]);
        if (!dims_ok || rt->numel != t->numel) {
            st = rnnlab_error(RNNLAB_ERR_SHAPE, "%s: tensor %s has %d dims (%d x %d), the model's is %d x %d", path,
                              t->name, rt->ndim, rt->dims[0], rt->ndim > 1 ? rt->dims[1] : 1, t->dims[0], t->dims[1]);
            break;
        }
        const size_t base = i < m->n_tensors ? t->offset : m->n_params + t->offset;
        for (size_t j = 0; j < t->numel; j++) {
            if (!isfinite(rt->v[j])) {
                st = rnnlab_error(RNNLAB_ERR_NUMERIC, "%s: tensor %s element %zu is not finite", path, t->name, j);
                break;
            }
            staged[base + j] = rt->v[j];
        }
    }
    if (!st) {
        for (size_t j = 0; j < m->n_params; j++) rnnlab_model_param_set_at(m, j, staged[j]);
        if (m->buffers) memcpy(m->buffers, staged + m->n_params, m->n_buffers * sizeof(double));
    }
    rnnlab_free(staged);
    rnnlab_refcase_free(rc);
    return st;
}
