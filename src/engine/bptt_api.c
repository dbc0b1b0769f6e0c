/*
 * bptt_api.c - the public rnnlab_bptt_* functions: option and shape checks (all before any
 * parallel region), the workspace's single allocation, flush-to-zero around each pass, and the
 * dispatch to the float32 or float64 build of bptt.c.
 *
 * Dimension legend as in bptt_ws.h.
 */
#include "engine/bptt_internal.h"
#include "engine/bptt_ws.h"
#include "core/internal.h"
#include "rnnlab/runtime.h"

#include "rnnlab/rng.h"

#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/sysinfo.h>
#endif
#include <unistd.h>

/* ---------------------------------------------------------------- names */

const char *rnnlab_loss_name(rnnlab_loss_kind k)
{
    static const char *const names[] = {"mse", "xent", "bernoulli"};
    return (unsigned)k < RNNLAB_LOSS_KIND_COUNT ? names[k] : "?";
}

const char *rnnlab_loss_at_name(rnnlab_loss_at a)
{
    return a == RNNLAB_LOSS_LAST ? "last" : a == RNNLAB_LOSS_ALL ? "all" : "?";
}

rnnlab_status rnnlab_loss_parse(const char *name, rnnlab_loss_kind *k)
{
    RNNLAB_REQUIRE_PTR("rnnlab_loss_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_loss_parse", k);
    static const struct {
        const char *name;
        rnnlab_loss_kind k;
    } names[] = {{"mse", RNNLAB_LOSS_MSE}, {"xent", RNNLAB_LOSS_XENT}, {"cross_entropy", RNNLAB_LOSS_XENT},
                 {"bernoulli", RNNLAB_LOSS_BERNOULLI}, {"bce", RNNLAB_LOSS_BERNOULLI}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return *k = names[i].k, RNNLAB_OK;
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown loss '%s' (expected mse, xent or bernoulli)", name ? name : "(null)");
}

rnnlab_status rnnlab_loss_at_parse(const char *name, rnnlab_loss_at *a)
{
    RNNLAB_REQUIRE_PTR("rnnlab_loss_at_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_loss_at_parse", a);
    if (name && strcmp(name, "last") == 0) return *a = RNNLAB_LOSS_LAST, RNNLAB_OK;
    if (name && strcmp(name, "all") == 0) return *a = RNNLAB_LOSS_ALL, RNNLAB_OK;
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown loss position '%s' (expected last or all)", name ? name : "(null)");
}

void rnnlab_bptt_config_init(rnnlab_bptt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 1;
    cfg->seq_len = 1;
    cfg->loss = RNNLAB_LOSS_MSE;
    cfg->loss_at = RNNLAB_LOSS_LAST;
    cfg->truncate = 0;
    cfg->taps = 1;
    cfg->ftz = 0;
    cfg->keep_cache = 1;
    cfg->time_block = 0;
}

/* ---------------------------------------------------------------- workspace */

static int separate_dzh(const rnnlab_model_config *c)
{
    return (c->cell == RNNLAB_CELL_GRU && c->gru_variant == RNNLAB_GRU_RESET_AFTER) || c->norm == RNNLAB_NORM_LAYER;
}

/*
 * How many parts a workspace's batch rows run as. Rows are independent of each other until the
 * weight gradients sum over them, so each part is a whole workspace of its own rows (forward, the
 * reverse time loop and its own weight products) that runs on one OpenMP thread, and the parts'
 * gradients are added in part order afterwards. Nothing is shared between the threads during a
 * pass: sharing each product's tiles instead passes every step's data between the cores, which costs
 * more than it gains on W1's small per-step products (README, Performance). Parts of 16 to 31 rows;
 * no split (1) when
 *   - the cache must survive the backward (keep_cache = 1: diagnostics read one workspace's cache),
 *   - windowed truncation, batch norm, or dropout in training (they couple rows or number them),
 *   - U is larger than 1 MiB: each step's products are large enough to share by tiles (W2),
 *   - B < 32.
 * A function of the shapes and options alone, never of the thread count, so the results are the same
 * on any number of threads (tests/test_split.c).
 */
static int split_count(const rnnlab_model_config *mc, const rnnlab_bptt_config *cfg, int G)
{
    const double u_bytes = (double)G * mc->hidden_size * mc->hidden_size * (double)rnnlab_dtype_size(mc->dtype);
    if (cfg->keep_cache || (cfg->truncate > 0 && cfg->truncate < cfg->seq_len) || mc->norm == RNNLAB_NORM_BATCH ||
        (cfg->training && mc->dropout > 0) || u_bytes > 1024.0 * 1024.0 || cfg->batch < 32)
        return 1;
    return cfg->batch / 16;
}

/*
 * Steps per time block of a full-BPTT pass (cfg->time_block, or 0: sized here). A long sequence's
 * (T, B, GH) gate array is far larger than the caches: the forward's input product written for all
 * T steps before the time loop, and the backward's gate gradients summed into dW, dU and the biases
 * after it, would each go through memory once more per pass. A pass instead runs its steps in
 * blocks whose gate rows (about RNNLAB_TBLOCK_BYTES, half of the L2 cache of this project's machine)
 * stay in cache between the block's products and its time loop (measured, W3 sizes at T = 10000:
 * time per step 1.26-1.33x that of T = 100 instead of 1.67-1.90x). Batch and layer norm (whose
 * backward reads all rows at once) and windowed truncation keep one block. The block length depends
 * on the shape alone, so results never depend on the thread count.
 */
#ifndef RNNLAB_TBLOCK_BYTES
#define RNNLAB_TBLOCK_BYTES (512 * 1024)
#endif
static int time_block(const rnnlab_bptt *ws, size_t es)
{
    if (ws->windowed || ws->norm != RNNLAB_NORM_NONE) return ws->T;
    if (ws->cfg.time_block > 0) return RNNLAB_MIN(ws->cfg.time_block, ws->T);
    const size_t n = (size_t)RNNLAB_TBLOCK_BYTES / ((size_t)ws->B * ws->GH * es);
    /* Each block reads and writes dW and dU once more (2 GH (I + H) values), against the 3 K GH
       values of its K = n B gate-gradient rows that stay in cache: worth it from K of about
       4 (I + H). Large layers (W2: H = 512, one step is 512 KiB of gate rows) keep one block. */
    const size_t k_min = 4 * ((size_t)RNNLAB_MAX(ws->I, ws->H) + ws->H);
    if (n * ws->B < k_min) return ws->T;
    return n >= (size_t)ws->T ? ws->T : (int)n;
}

/* The bytes of RAM and swap together (Linux sysinfo), or of RAM (sysconf); 0 when unknown. */
static double machine_memory_bytes(void)
{
#if defined(__linux__)
    struct sysinfo si;
    if (sysinfo(&si) == 0) return ((double)si.totalram + (double)si.totalswap) * (double)si.mem_unit;
#endif
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (double)pages * (double)page;
#endif
    return 0;
}

/* Carves n elements of esize bytes, 64-byte aligned, from a block; with base == NULL only counts. */
static void *carve(char *base, size_t *off, size_t n, size_t esize)
{
    void *p = base ? base + *off : NULL;
    *off += (n * esize + 63) & ~(size_t)63;
    return p;
}

/* Lays out (base != NULL) or measures (base == NULL) every real buffer; returns the total bytes and
 * sets *cache to the bytes of the forward cache. */
static size_t layout(rnnlab_bptt *ws, char *base, size_t *cache)
{
    const size_t es = rnnlab_dtype_size(ws->mcfg.dtype), B = ws->B, T = ws->T, H = ws->H, GH = ws->GH;
    const size_t BH = B * H, rows = ws->cfg.loss_at == RNNLAB_LOSS_ALL ? T * B : B;
    const int lstm = ws->mcfg.cell == RNNLAB_CELL_LSTM, extra = ws->mcfg.cell != RNNLAB_CELL_RNN;
    const int sep = separate_dzh(&ws->mcfg);
    const size_t K = ws->windowed ? (size_t)ws->cfg.truncate : 0;
    size_t off = 0;
    ws->X = carve(base, &off, T * B * ws->I, es);
    for (int l = 0; l < ws->L; l++) {
        ws->Hs[l] = carve(base, &off, (T + 1) * BH, es);
        if (lstm) ws->Cs[l] = carve(base, &off, (T + 1) * BH, es);
        ws->gates[l] = carve(base, &off, T * B * GH, es);
        ws->Ut[l] = carve(base, &off, H * GH, es);
        if (extra) ws->extra[l] = carve(base, &off, T * BH, es);
    }
    ws->Y = carve(base, &off, rows * ws->O, es);
    ws->Hlast = carve(base, &off, BH, es);
    const size_t G = (size_t)ws->G;
    for (int l = 0; l < ws->L; l++) {
        if (ws->residual && l >= 1) ws->S[l] = carve(base, &off, T * BH, es);
        if (ws->norm != RNNLAB_NORM_NONE) ws->xhat[l] = carve(base, &off, T * B * GH, es);
        if (ws->norm == RNNLAB_NORM_LAYER) {
            ws->xrstd[l] = carve(base, &off, T * B * G, es);
            ws->hhat[l] = carve(base, &off, T * B * GH, es);
            ws->hrstd[l] = carve(base, &off, T * B * G, es);
            if (lstm) ws->chat[l] = carve(base, &off, T * BH, es), ws->crstd[l] = carve(base, &off, T * B, es);
        }
        if (ws->norm == RNNLAB_NORM_BATCH) ws->bn_stat[l] = carve(base, &off, 3 * GH, es);
    }
    if (ws->dropout_on)
        for (int l = 1; l <= ws->L; l++) {
            ws->Xd[l] = carve(base, &off, T * BH, es);
            ws->mask[l] = carve(base, &off, T * BH, 1);
        }
    *cache = off;
    ws->dY = carve(base, &off, rows * ws->O, es);
    /* dZ rows of one time block (all T with one block): with keep_cache = 0 and one block the gates
       take dZ in place instead; with several, a block's dZ stays in cache and the gates are never
       written back */
    const size_t TZ = (size_t)ws->tblock;
    if (ws->cfg.keep_cache || ws->tblock < ws->T) ws->dZx = carve(base, &off, TZ * B * GH, es);
    ws->dZh = sep ? carve(base, &off, TZ * B * GH, es) : NULL;
    /* one layer with a sparse head: only dx, (T, B, I), ever passes through these (backward_full) */
    const int one_sparse = ws->L == 1 && bptt_sparse_head(ws);
    ws->dHa = one_sparse ? NULL : carve(base, &off, T * B * ws->maxIH, es);
    ws->dHb = carve(base, &off, T * B * (one_sparse ? (size_t)ws->I : (size_t)ws->maxIH), es);
    ws->dh = carve(base, &off, BH, es);
    ws->dh_next = carve(base, &off, BH, es);
    ws->dc_a = carve(base, &off, BH, es);
    ws->dc_b = carve(base, &off, BH, es);
    ws->dc_tot = carve(base, &off, BH, es);
    ws->dhead = carve(base, &off, BH, es);
    ws->scratch = carve(base, &off, B * GH, es);
    if (ws->windowed) {
        for (int l = 0; l < ws->L; l++) {
            ws->dZx_sum[l] = carve(base, &off, T * B * GH, es);
            if (sep) ws->dZh_sum[l] = carve(base, &off, T * B * GH, es);
            ws->dH_acc[l] = carve(base, &off, T * BH, es);
            if (lstm) ws->dC_acc[l] = carve(base, &off, T * BH, es);
        }
        ws->dZx_w = carve(base, &off, K * B * GH, es);
        ws->dZh_w = sep ? carve(base, &off, K * B * GH, es) : NULL;
        ws->dHw_a = carve(base, &off, K * BH, es);
        ws->dHw_b = carve(base, &off, K * BH, es);
        ws->dh0_acc = carve(base, &off, ws->L * BH, es);
        ws->dc0_acc = carve(base, &off, ws->L * BH, es);
    }
    return off;
}

void rnnlab_bptt_free(rnnlab_bptt *ws)
{
    if (!ws) return;
    rnnlab_free(ws->block);
    void **arrays[] = {ws->Hs,   ws->Cs,    ws->gates,  ws->Ut, ws->extra,   ws->dZx_sum, ws->dZh_sum, ws->dH_acc,
                       ws->dC_acc, ws->S, ws->Xd, (void **)ws->mask, ws->xhat, ws->xrstd, ws->bn_stat,
                       ws->hhat, ws->hrstd, ws->chat, ws->crstd};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) rnnlab_free(arrays[i]);
    double *doubles[] = {ws->carry_h, ws->carry_c, ws->target, ws->tap_h, ws->tap_hm, ws->tap_c, ws->tap_cm, ws->param_norm, ws->tap_b};
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) rnnlab_free(doubles[i]);
    rnnlab_free(ws->target_class);
    rnnlab_free(ws->len);
    rnnlab_free(ws->chunk_len);
    for (int p = 0; p < ws->nsplit; p++) {
        if (ws->part) rnnlab_bptt_free(ws->part[p]);
        if (ws->part_grads) rnnlab_free(ws->part_grads[p]);
        if (ws->part_in) rnnlab_free(ws->part_in[p]);
        if (ws->part_cls) rnnlab_free(ws->part_cls[p]);
    }
    void *split_arrays[] = {ws->part, ws->part_b0, ws->part_grads, ws->part_in, ws->part_cls, ws->part_loss, ws->tap_gather};
    for (size_t i = 0; i < sizeof split_arrays / sizeof split_arrays[0]; i++) rnnlab_free(split_arrays[i]);
    rnnlab_free(ws);
}

static rnnlab_status bptt_create(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg, int split);

rnnlab_split_in rnnlab_bptt_split_in_layout(const rnnlab_bptt *w)
{
    const size_t TB = (size_t)w->T * w->B, LBH = (size_t)w->L * w->B * w->H;
    rnnlab_split_in s;
    s.x = 0, s.target = TB * w->I;
    s.h0 = s.target + (w->cfg.loss_at == RNNLAB_LOSS_ALL && w->cfg.loss != RNNLAB_LOSS_XENT ? TB * w->O : 0);
    s.c0 = s.h0 + LBH, s.dx = s.c0 + LBH, s.dh0 = s.dx + TB * w->I, s.dc0 = s.dh0 + LBH, s.total = s.dc0 + LBH;
    return s;
}

/* Creates the parts of a split workspace and their staging buffers; 0 on success. */
static int split_create(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_bptt_config *cfg, int n)
{
    const size_t P = (size_t)n, es = rnnlab_dtype_size(m->cfg.dtype);
    const int all = cfg->loss_at == RNNLAB_LOSS_ALL;
    ws->part = rnnlab_calloc(P, sizeof *ws->part);
    ws->part_b0 = rnnlab_calloc(P + 1, sizeof(int));
    ws->part_grads = rnnlab_calloc(P, sizeof(void *));
    ws->part_in = rnnlab_calloc(P, sizeof(double *));
    ws->part_cls = rnnlab_calloc(P, sizeof(int *));
    ws->part_loss = rnnlab_calloc(P, sizeof(double));
    ws->tap_gather = rnnlab_calloc(4 * (size_t)ws->B, sizeof(double));
    ws->nsplit = n; /* from here on, rnnlab_bptt_free releases what exists */
    if (!ws->part || !ws->part_b0 || !ws->part_grads || !ws->part_in || !ws->part_cls || !ws->part_loss ||
        !ws->tap_gather)
        return 1;
    size_t cache = 0, total = 0;
    for (int p = 0; p <= n; p++) ws->part_b0[p] = (int)((long)p * ws->B / n);
    for (int p = 0; p < n; p++) {
        rnnlab_bptt_config pc = *cfg;
        pc.batch = ws->part_b0[p + 1] - ws->part_b0[p];
        if (bptt_create(&ws->part[p], m, &pc, 0)) return 1;
        const rnnlab_bptt *w = ws->part[p];
        const size_t n_in = rnnlab_bptt_split_in_layout(w).total;
        ws->part_grads[p] = rnnlab_calloc(m->n_params, es);
        ws->part_in[p] = rnnlab_calloc(n_in, sizeof(double));
        if (!ws->part_grads[p] || !ws->part_in[p]) return 1;
        if (cfg->loss == RNNLAB_LOSS_XENT && all &&
            !(ws->part_cls[p] = rnnlab_calloc((size_t)w->T * w->B, sizeof(int))))
            return 1;
        cache += w->cache_bytes;
        total += w->total_bytes + m->n_params * es + n_in * sizeof(double) +
                 (ws->part_cls[p] ? (size_t)w->T * w->B * sizeof(int) : 0);
    }
    ws->cache_bytes = cache;
    ws->total_bytes = total + 4 * (size_t)ws->B * sizeof(double) + P * (sizeof(void *) * 4 + sizeof(double) + sizeof(int));
    return 0;
}

/* split: -1 the workspace's own choice (split_count), 1 one workspace, n >= 2 n parts, 0 a part of a
 * split workspace (bptt_create calls itself for each). */
static rnnlab_status bptt_create(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg, int split)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_create", out);
    *out = NULL;
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_create", m);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_create", cfg);
    if (cfg->batch < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch must be >= 1 (got %d)", cfg->batch);
    if (cfg->seq_len < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "seq_len must be >= 1 (got %d)", cfg->seq_len);
    if (cfg->truncate < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "truncate must be >= 0 (0 = full BPTT; got %d)", cfg->truncate);
    if (cfg->time_block < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "time_block must be >= 0 (0 = sized for the cache; got %d)",
                            cfg->time_block);
    if ((unsigned)cfg->loss >= RNNLAB_LOSS_KIND_COUNT)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "loss: invalid value %d", (int)cfg->loss);
    if (cfg->loss_at != RNNLAB_LOSS_LAST && cfg->loss_at != RNNLAB_LOSS_ALL)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "loss_at: invalid value %d", (int)cfg->loss_at);
    if (cfg->loss == RNNLAB_LOSS_XENT && m->cfg.output_size < 2)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "the xent loss needs output_size >= 2 classes (got %d)",
                            m->cfg.output_size);
    if (cfg->ftz && !rnnlab_ftz_supported())
        return rnnlab_error(RNNLAB_ERR_CONFIG, "ftz = 1: flush-to-zero is not supported on this CPU");
    if (!cfg->keep_cache && cfg->truncate > 0 && cfg->truncate < cfg->seq_len)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "keep_cache = 0 needs full BPTT: windowed truncation (truncate %d < "
                                               "seq_len %d) revisits every step's cache",
                            cfg->truncate, cfg->seq_len);
    if (m->cfg.norm == RNNLAB_NORM_BATCH && cfg->training && cfg->truncate > 0 && cfg->truncate < cfg->seq_len)
        return rnnlab_error(RNNLAB_ERR_CONFIG,
                            "batch norm in training mode couples every step of the batch, so it cannot be combined "
                            "with truncated BPTT (truncate %d < seq_len %d); use full BPTT or layer norm",
                            cfg->truncate, cfg->seq_len);
    const rnnlab_model_config *mc = &m->cfg;
    const int H = mc->hidden_size, GH = m->G * H, maxIH = mc->input_size > H ? mc->input_size : H;
    const double rows = (double)cfg->seq_len * cfg->batch, widest = (double)(GH > maxIH ? GH : maxIH);
    if (rows * widest >= (double)INT_MAX || rows * mc->output_size >= (double)INT_MAX)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "seq_len x batch x %d = %.0f elements is too large for one product",
                            (int)widest, rows * widest);

    rnnlab_bptt *ws = rnnlab_calloc(1, sizeof *ws);
    if (!ws) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the BPTT workspace");
    ws->cfg = *cfg;
    ws->mcfg = *mc;
    ws->B = cfg->batch, ws->T = cfg->seq_len, ws->I = mc->input_size, ws->H = H, ws->L = mc->num_layers;
    ws->O = mc->output_size, ws->G = m->G, ws->GH = GH, ws->maxIH = maxIH;
    ws->n_tensors = m->n_tensors, ws->n_params = m->n_params;
    ws->windowed = cfg->truncate > 0 && cfg->truncate < cfg->seq_len;
    ws->dropout_on = cfg->training && mc->dropout > 0;
    ws->residual = mc->residual;
    ws->norm = mc->norm;
    ws->tblock = time_block(ws, rnnlab_dtype_size(mc->dtype));
    const size_t L = (size_t)ws->L, LT = L * ws->T;
    const size_t rows_t = cfg->loss_at == RNNLAB_LOSS_ALL ? (size_t)rows : (size_t)ws->B;
    ws->Hs = rnnlab_calloc(L, sizeof(void *));
    ws->gates = rnnlab_calloc(L, sizeof(void *));
    ws->Ut = rnnlab_calloc(L, sizeof(void *));
    ws->len = rnnlab_calloc((size_t)ws->B, sizeof(int));
    ws->tap_h = rnnlab_calloc(LT, sizeof(double));
    ws->tap_hm = rnnlab_calloc(LT, sizeof(double));
    ws->param_norm = rnnlab_calloc((size_t)m->n_tensors, sizeof(double));
    ws->split_part = split == 0;
    ws->tap_b = rnnlab_calloc(4 * (size_t)ws->B * (ws->split_part && cfg->taps ? LT : 1), sizeof(double));
    ws->chunk_len = rnnlab_calloc((size_t)ws->B, sizeof(int));
    ws->carry_h = rnnlab_calloc(L * ws->B * H, sizeof(double));
    int ok = ws->Hs && ws->gates && ws->Ut && ws->len && ws->tap_h && ws->tap_hm && ws->param_norm && ws->tap_b &&
             ws->chunk_len && ws->carry_h;
    if (mc->cell == RNNLAB_CELL_LSTM) {
        ok = ok && (ws->carry_c = rnnlab_calloc(L * ws->B * H, sizeof(double)));
        ws->Cs = rnnlab_calloc(L, sizeof(void *));
        ws->tap_c = rnnlab_calloc(LT, sizeof(double));
        ws->tap_cm = rnnlab_calloc(LT, sizeof(double));
        ok = ok && ws->Cs && ws->tap_c && ws->tap_cm;
    }
    if (mc->cell != RNNLAB_CELL_RNN) ok = ok && (ws->extra = rnnlab_calloc(L, sizeof(void *)));
    void ***opt_arrays[] = {&ws->S, &ws->xhat, &ws->xrstd, &ws->bn_stat, &ws->hhat, &ws->hrstd, &ws->chat, &ws->crstd};
    for (size_t i = 0; i < sizeof opt_arrays / sizeof opt_arrays[0]; i++)
        ok = ok && (*opt_arrays[i] = rnnlab_calloc(L, sizeof(void *)));
    ok = ok && (ws->Xd = rnnlab_calloc(L + 1, sizeof(void *))) && (ws->mask = rnnlab_calloc(L + 1, sizeof(void *)));
    if (cfg->loss == RNNLAB_LOSS_XENT) ok = ok && (ws->target_class = rnnlab_calloc(rows_t, sizeof(int)));
    else ok = ok && (ws->target = rnnlab_calloc(rows_t * ws->O, sizeof(double)));
    if (ws->windowed) {
        ws->dZx_sum = rnnlab_calloc(L, sizeof(void *));
        ws->dZh_sum = rnnlab_calloc(L, sizeof(void *));
        ws->dH_acc = rnnlab_calloc(L, sizeof(void *));
        ws->dC_acc = rnnlab_calloc(L, sizeof(void *));
        ok = ok && ws->dZx_sum && ws->dZh_sum && ws->dH_acc && ws->dC_acc;
    }
    const int nsplit = split < 0 ? split_count(mc, cfg, m->G) : split;
    /* the bytes of the whole batch's buffers (a split's parts add up to about as many): more than the
       machine has is refused, rather than reserved and then killed by the OOM killer */
    size_t cache = 0;
    const size_t total = ok ? layout(ws, NULL, &cache) : 0;
    if (ok) {
        const double need = (double)total, have = machine_memory_bytes();
        if (have > 0 && need > have) {
            rnnlab_bptt_free(ws);
            return rnnlab_error(RNNLAB_ERR_NOMEM,
                                "the BPTT workspace (B=%d, T=%d, H=%d, L=%d) needs %.1f GiB, more than this machine's "
                                "memory and swap (%.1f GiB): shorten T (or truncate in chunks), or lower B, H or L",
                                cfg->batch, cfg->seq_len, H, mc->num_layers, need / 1073741824.0, have / 1073741824.0);
        }
    }
    if (ok && nsplit >= 2) ok = split_create(ws, m, cfg, RNNLAB_MIN(nsplit, ws->B)) == 0;
    else if (ok) {
        ws->block = rnnlab_calloc(1, total + 64);
        if (ws->block) {
            char *base = (char *)(((uintptr_t)ws->block + 63) & ~(uintptr_t)63);
            layout(ws, base, &cache);
            ws->cache_bytes = cache;
            ws->total_bytes = total + 64 +
                              (2 * LT * (ws->tap_c ? 2 : 1) + m->n_tensors +
                               4 * (size_t)ws->B * (ws->split_part && cfg->taps ? LT : 1) +
                               L * ws->B * H * (ws->carry_c ? 2 : 1)) * sizeof(double) + 2 * (size_t)ws->B * sizeof(int);
        }
        ok = ws->block != NULL;
    }
    if (!ok) {
        rnnlab_bptt_free(ws);
        return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory allocating the BPTT workspace (B=%d, T=%d, H=%d, L=%d)",
                            cfg->batch, cfg->seq_len, H, mc->num_layers);
    }
    *out = ws;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_bptt_create(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg)
{
    return bptt_create(out, m, cfg, -1);
}

rnnlab_status rnnlab_bptt_create_split(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg, int n)
{
    return bptt_create(out, m, cfg, n >= 1 ? n : -1);
}

int rnnlab_bptt_split(const rnnlab_bptt *ws) { return ws->nsplit > 1 ? ws->nsplit : 1; }

size_t rnnlab_bptt_cache_bytes(const rnnlab_bptt *ws) { return ws->cache_bytes; }
size_t rnnlab_bptt_bytes(const rnnlab_bptt *ws) { return ws->total_bytes; }
const rnnlab_bptt_config *rnnlab_bptt_get_config(const rnnlab_bptt *ws) { return &ws->cfg; }

/* ---------------------------------------------------------------- checks */

static rnnlab_status check_model(const rnnlab_bptt *ws, const rnnlab_model *m)
{
    const rnnlab_model_config *a = &ws->mcfg, *b = &m->cfg;
    if (a->cell != b->cell || a->gru_variant != b->gru_variant || a->peephole != b->peephole || a->norm != b->norm ||
        a->residual != b->residual || a->dropout != b->dropout || a->activation != b->activation ||
        a->input_size != b->input_size || a->hidden_size != b->hidden_size || a->num_layers != b->num_layers ||
        a->output_size != b->output_size || a->dtype != b->dtype)
        return rnnlab_error(RNNLAB_ERR_SHAPE,
                            "the model (%s, I=%d, H=%d, L=%d, O=%d, %s) does not match the workspace "
                            "(%s, I=%d, H=%d, L=%d, O=%d, %s)",
                            rnnlab_cell_name(b->cell), b->input_size, b->hidden_size, b->num_layers, b->output_size,
                            rnnlab_dtype_name(b->dtype), rnnlab_cell_name(a->cell), a->input_size, a->hidden_size,
                            a->num_layers, a->output_size, rnnlab_dtype_name(a->dtype));
    return RNNLAB_OK;
}

/* The first non-finite element of a (rows, n) array whose row r is (t, b) = (r / B, r % B) when
 * time_major (rows at padded steps, t >= len[b], are skipped), or (l, b) otherwise. */
/* 1 when v[0..n-1] are all finite: x * 0 is 0 for a finite x and NaN for an infinite or NaN one
 * (no division or branch per value, so the loop vectorises) */
static int all_finite(const double *v, size_t n)
{
    double z = 0;
#pragma omp simd reduction(+ : z)
    for (size_t i = 0; i < n; i++) z += v[i] * 0.0;
    return z == 0;
}

/* rows (a, b) of n values, a = r / B, b = r % B; time-major rows past len[b] are padding, never read */
static rnnlab_status check_finite(const char *name, const double *v, size_t rows, int B, int n, int time_major,
                                  const int *len)
{
    const int pad = time_major && len;
    if (!pad && all_finite(v, rows * n)) return RNNLAB_OK; /* the usual case: one pass */
    for (size_t a = 0, r = 0; r < rows; a++)
        for (int b = 0; b < B && r < rows; b++, r++) {
            if ((pad && (int)a >= len[b]) || all_finite(v + r * n, (size_t)n)) continue;
            for (int i = 0; i < n; i++)
                if (!isfinite(v[r * n + i]))
                    return rnnlab_error(RNNLAB_ERR_NUMERIC, time_major ? "%s[t=%d, b=%d, %d] is not finite (%g)"
                                                                       : "%s[%d, b=%d, %d] is not finite (%g)",
                                        name, (int)a, b, i, v[r * n + i]);
        }
    return RNNLAB_OK;
}

rnnlab_status rnnlab_bptt_check_batch(const rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_forward", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_forward", m);
    if (!bt) return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_forward: the batch must not be NULL");
    rnnlab_status st = check_model(ws, m);
    if (st) return st;
    const int B = ws->B, T = ws->T, all = ws->cfg.loss_at == RNNLAB_LOSS_ALL;
    const size_t rows = all ? (size_t)T * B : (size_t)B;
    if (!bt->x) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch: x is required");
    if (bt->lengths)
        for (int b = 0; b < B; b++)
            if (bt->lengths[b] < 1 || bt->lengths[b] > T)
                return rnnlab_error(RNNLAB_ERR_SHAPE, "batch: lengths[%d] = %d is outside [1, %d]", b, bt->lengths[b], T);
    if (ws->cfg.loss == RNNLAB_LOSS_XENT) {
        if (!bt->target_class)
            return rnnlab_error(RNNLAB_ERR_CONFIG, "batch: the xent loss needs target_class, shape %s",
                                all ? "(T, B)" : "(B)");
        for (size_t r = 0; r < rows; r++) {
            const int b = (int)(r % B), t = all ? (int)(r / B) : 0;
            if (bt->lengths && all && t >= bt->lengths[b]) continue; /* padding: never read */
            if (bt->target_class[r] < 0 || bt->target_class[r] >= ws->O)
                return rnnlab_error(RNNLAB_ERR_CONFIG, "batch: target_class[%zu] = %d is outside [0, %d)", r,
                                    bt->target_class[r], ws->O);
        }
    } else {
        if (!bt->target)
            return rnnlab_error(RNNLAB_ERR_CONFIG, "batch: the %s loss needs target %s", rnnlab_loss_name(ws->cfg.loss),
                                all ? "(T, B, O)" : "(B, O)");
        if ((st = check_finite("target", bt->target, rows, B, ws->O, all, bt->lengths))) return st;
    }
    if ((st = check_finite("x", bt->x, (size_t)T * B, B, ws->I, 1, bt->lengths))) return st;
    if (m->cfg.norm == RNNLAB_NORM_BATCH && ws->cfg.training) { /* statistics of one value: x - mean = 0 */
        long n = 0;
        for (int b = 0; b < B && n < 2; b++) n += bt->lengths ? bt->lengths[b] : T;
        if (n < 2)
            return rnnlab_error(RNNLAB_ERR_SHAPE, "batch norm in training mode needs at least 2 real (step, sample) "
                                                  "values per column for its mean and variance; this batch has 1");
    }
    const size_t LB = (size_t)ws->L * B;
    if (bt->h0 && (st = check_finite("h0", bt->h0, LB, B, ws->H, 0, NULL))) return st;
    if (bt->c0 && ws->Cs && (st = check_finite("c0", bt->c0, LB, B, ws->H, 0, NULL))) return st;
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- passes */

rnnlab_status rnnlab_bptt_forward(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt, double *loss)
{
    rnnlab_status st = rnnlab_bptt_check_batch(ws, m, bt);
    if (st) return st;
    if (ws->cfg.ftz) rnnlab_ftz_set(1);
    ws->cache_consumed = 0;
    st = m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_bptt_forward_impl_f32(ws, m, bt, loss)
                                        : rnnlab_bptt_forward_impl_f64(ws, m, bt, loss);
    if (ws->cfg.ftz) rnnlab_ftz_set(0);
    return st;
}

rnnlab_status rnnlab_bptt_backward(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_backward", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_backward", m);
    rnnlab_status st = check_model(ws, m);
    if (st) return st;
    if (!ws->have_forward)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_backward: no forward pass to backpropagate (call "
                                               "rnnlab_bptt_forward first)");
    if (ws->cache_consumed)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_backward: this workspace (keep_cache = 0) already "
                                               "consumed its forward cache; run rnnlab_bptt_forward again");
    if (ws->cfg.ftz) rnnlab_ftz_set(1);
    st = m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_bptt_backward_impl_f32(ws, m, dx, dh0, dc0)
                                        : rnnlab_bptt_backward_impl_f64(ws, m, dx, dh0, dc0);
    ws->cache_consumed = !ws->cfg.keep_cache;
    if (ws->cfg.ftz) rnnlab_ftz_set(0);
    return st;
}

/* Ends a chunked pass: the workspace serves plain forward/backward calls again. */
static rnnlab_status chunk_end(rnnlab_bptt *ws, rnnlab_status st, int c, int t0, int n)
{
    ws->n_pos_fixed = 0, ws->keep_grads = 0;
    if (!st) return st;
    char where[64];
    snprintf(where, sizeof where, "chunk %d (steps %d..%d)", c, t0, t0 + n - 1);
    return rnnlab_error_prefix(st, where);
}

rnnlab_status rnnlab_bptt_chunked(rnnlab_bptt *ws, rnnlab_model *m, const rnnlab_batch *bt, int T, double *loss,
                                  double *tap_h, double *tap_c)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_chunked", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_chunked", m);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_chunked", bt);
    rnnlab_status st = check_model(ws, m);
    if (st) return st;
    if (ws->windowed)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_chunked: the workspace must do full BPTT over one chunk "
                                               "(create it with seq_len = k and truncate = 0)");
    if (!bt || !bt->x) return rnnlab_error(RNNLAB_ERR_CONFIG, "batch: x is required");
    if (T < 1) return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_chunked: T must be >= 1 (got %d)", T);
    const int B = ws->B, I = ws->I, O = ws->O, L = ws->L, H = ws->H, k = ws->T, all = ws->cfg.loss_at == RNNLAB_LOSS_ALL;
    if (bt->lengths)
        for (int b = 0; b < B; b++)
            if (bt->lengths[b] != T)
                return rnnlab_error(RNNLAB_ERR_CONFIG,
                                    "rnnlab_bptt_chunked: every sequence must have all T = %d steps (lengths[%d] = %d)",
                                    T, b, bt->lengths[b]);
    const size_t BH = (size_t)B * H;
    double total = 0;
    int c = 0, t0 = 0, n = 0, backwards = 0;
    ws->n_pos_fixed = all ? (long)T * B : B;
    for (; t0 < T; t0 += k, c++) {
        n = T - t0 < k ? T - t0 : k;
        const int last = t0 + n == T, has_loss = all || last;
        for (int b = 0; b < B; b++) ws->chunk_len[b] = n;
        rnnlab_batch v = *bt;
        v.x = bt->x + (size_t)t0 * B * I;
        if (all && bt->target) v.target = bt->target + (size_t)t0 * B * O;
        if (all && bt->target_class) v.target_class = bt->target_class + (size_t)t0 * B;
        v.lengths = ws->chunk_len;
        if (c > 0) v.h0 = ws->carry_h, v.c0 = ws->carry_c, v.dropout_seed = rnnlab_splitmix64(bt->dropout_seed + c);
        double lc = 0;
        if ((st = rnnlab_bptt_forward(ws, m, &v, &lc))) return chunk_end(ws, st, c, t0, n);
        if (has_loss) {
            total += lc;
            ws->keep_grads = backwards++ > 0;
            if ((st = rnnlab_bptt_backward(ws, m, NULL, NULL, NULL))) return chunk_end(ws, st, c, t0, n);
        }
        for (int l = 0; l < L; l++)
            for (int j = 0; j < n; j++) {
                if (tap_h) tap_h[(size_t)l * T + t0 + j] = has_loss ? ws->tap_h[(size_t)l * k + j] : 0;
                if (tap_c) tap_c[(size_t)l * T + t0 + j] = has_loss && ws->tap_c ? ws->tap_c[(size_t)l * k + j] : 0;
            }
        if (!last)
            for (int l = 0; l < L; l++)
                rnnlab_bptt_get_state(ws, l, n - 1, ws->carry_h + l * BH, ws->carry_c ? ws->carry_c + l * BH : NULL);
    }
    if (loss) *loss = total;
    return chunk_end(ws, RNNLAB_OK, c, t0, n);
}

rnnlab_status rnnlab_bptt_window_loss(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,
                                      const double *entry_h, const double *entry_c, int k, double *value)
{
    rnnlab_status st = rnnlab_bptt_check_batch(ws, m, bt);
    if (st) return st;
    if (ws->nsplit > 1)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "rnnlab_bptt_window_loss: needs a workspace with keep_cache = 1 (this "
                                               "one runs its batch as %d parts)", ws->nsplit);
    if (k < 1) k = ws->T;
    if (ws->cfg.ftz) rnnlab_ftz_set(1);
    *value = m->cfg.dtype == RNNLAB_FLOAT32 ? rnnlab_bptt_window_loss_impl_f32(ws, m, bt, entry_h, entry_c, k)
                                            : rnnlab_bptt_window_loss_impl_f64(ws, m, bt, entry_h, entry_c, k);
    if (ws->cfg.ftz) rnnlab_ftz_set(0);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_bptt_update_running_stats(const rnnlab_bptt *ws, rnnlab_model *m, double momentum)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_update_running_stats", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_update_running_stats", m);
    rnnlab_status st = check_model(ws, m);
    if (st) return st;
    if (!(momentum >= 0 && momentum <= 1))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "momentum must be in [0, 1] (got %g)", momentum);
    if (m->cfg.norm != RNNLAB_NORM_BATCH || !ws->cfg.training) return RNNLAB_OK;
    if (!ws->have_forward)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "update_running_stats needs a forward pass in training mode first");
    if (m->cfg.dtype == RNNLAB_FLOAT32) rnnlab_bptt_update_running_impl_f32(ws, m, momentum);
    else rnnlab_bptt_update_running_impl_f64(ws, m, momentum);
    return RNNLAB_OK;
}

void rnnlab_bptt_set_perturb(rnnlab_bptt *ws, int on, int l, int t, int b, int j, double eps)
{
    ws->perturb.on = on, ws->perturb.l = l, ws->perturb.t = t, ws->perturb.b = b, ws->perturb.j = j;
    ws->perturb.eps = eps;
    for (int p = 0; p < ws->nsplit; p++) /* the part that holds sample b, with its own row number */
        rnnlab_bptt_set_perturb(ws->part[p], on && b >= ws->part_b0[p] && b < ws->part_b0[p + 1], l, t,
                                b - ws->part_b0[p], j, eps);
}

void rnnlab_bptt_set_prefetch(rnnlab_bptt *ws, int mode) { ws->prefetch_mode = mode; }

void rnnlab_bptt_set_kink_ref(rnnlab_bptt *ws, const unsigned char *ref)
{
    ws->kink_ref = ref;
    ws->kink_flips = 0;
}

long rnnlab_bptt_kink_flips(rnnlab_bptt *ws)
{
    long n = ws->kink_flips;
    ws->kink_flips = 0;
    return n;
}

rnnlab_taps rnnlab_bptt_get_taps(const rnnlab_bptt *ws)
{
    rnnlab_taps t = {ws->L, ws->T, ws->tap_h, ws->tap_hm, ws->tap_c, ws->tap_cm, ws->param_norm};
    return t;
}

/* The getters of a forward's results (fn, for the message): RNNLAB_ERR_CONFIG before the first one. */
static rnnlab_status need_forward(const rnnlab_bptt *ws, const char *fn)
{
    return ws->have_forward ? RNNLAB_OK
                            : rnnlab_error(RNNLAB_ERR_CONFIG, "%s: no forward pass yet (call rnnlab_bptt_forward first)", fn);
}

rnnlab_status rnnlab_bptt_get_state(const rnnlab_bptt *ws, int l, int t, double *h_out, double *c_out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_state", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_state", h_out);
    rnnlab_status st = need_forward(ws, "rnnlab_bptt_get_state");
    if (st) return st;
    if (l < 0 || l >= ws->L || t < -1 || t >= ws->T)
        return rnnlab_error(RNNLAB_ERR_SHAPE, "state (layer %d, step %d) out of range (L=%d, T=%d)", l, t, ws->L, ws->T);
    if (ws->mcfg.dtype == RNNLAB_FLOAT32) rnnlab_bptt_get_state_impl_f32(ws, l, t, h_out, c_out);
    else rnnlab_bptt_get_state_impl_f64(ws, l, t, h_out, c_out);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_bptt_get_sample_losses(const rnnlab_bptt *ws, double *loss_b)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_sample_losses", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_sample_losses", loss_b);
    rnnlab_status st = need_forward(ws, "rnnlab_bptt_get_sample_losses");
    if (st) return st;
    if (ws->mcfg.dtype == RNNLAB_FLOAT32) rnnlab_bptt_sample_losses_impl_f32(ws, loss_b);
    else rnnlab_bptt_sample_losses_impl_f64(ws, loss_b);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_bptt_get_output(const rnnlab_bptt *ws, double *out)
{
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_output", ws);
    RNNLAB_REQUIRE_PTR("rnnlab_bptt_get_output", out);
    rnnlab_status st = need_forward(ws, "rnnlab_bptt_get_output");
    if (st) return st;
    if (ws->mcfg.dtype == RNNLAB_FLOAT32) rnnlab_bptt_get_output_impl_f32(ws, out);
    else rnnlab_bptt_get_output_impl_f64(ws, out);
    return RNNLAB_OK;
}
