/*
 * onednn_bench.c - oneDNN's RNN primitives on rnnlab's benchmark rows (issue #6), timed the way
 * `rnnlab bench` is. A contender, not part of rnnlab: built by `make bench-compare` only where
 * Debian's libdnnl-dev is installed (cc -O2 -fopenmp bench/onednn_bench.c -ldnnl -lcsv).
 *
 * Takes the options of `rnnlab bench` for one row and prints one CSV row with the same columns
 * (contender "onednn"). One training step, as in rnnlab and bench/torch_bench.py:
 *   forward   the forward_training primitive over (T, B, I) (zero initial states), then a Linear
 *             head (H -> 1) on the last step's output and the MSE loss (plain loops: O = 1)
 *   backward  the head's gradient into diff_dst_layer at the last step (zeros elsewhere), then the
 *             backward primitive (diff weights, diff bias, diff_src_layer, which oneDNN always
 *             computes)
 *   update    plain SGD w -= lr*dw on the user's weights (ldigo/ldgo), and zeroing the diff
 *             weights (oneDNN 2.x accumulates into them)
 * The primitives choose their own weight layouts (format_tag_any, as frameworks let them); the
 * user's plain weights are reordered into them every step, because SGD changes them every step.
 * Cells: vanilla RNN (tanh or relu), LSTM, and GRU as the linear-before-reset variant (PyTorch's
 * and rnnlab's default). float32 only: oneDNN's RNN primitives have no float64 (exit status 3).
 *
 * Dimension legend: T steps, B batch, I input size, H hidden size, G gates, L layers (D = 1
 * direction). oneDNN layouts: src/dst layer (T, B, C) tnc, weights (L, D, C_in, G, H) ldigo, bias
 * (L, D, G', H) ldgo with G' = G + 1 for the linear-before-reset GRU.
 */
#include <csv.h>
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        dnnl_status_t s_ = (call);                                                                                     \
        if (s_ != dnnl_success) {                                                                                      \
            fprintf(stderr, "onednn_bench: error: %s failed (status %d) at line %d\n", #call, (int)s_, __LINE__);      \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef struct opts {
    const char *workload, *cell, *activation, *precision, *taps;
    int I, H, B, T, L, threads, steps, warmup, truncate, header;
} opts;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : 0;
}

/* xorshift-style uniform in [-1, 1): the values do not matter for timing, only that they are finite */
static float uniform(unsigned long long *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}

static void usage(void)
{
    fprintf(stderr, "usage: onednn_bench --cell rnn_tanh|rnn_relu|lstm|gru --input I --hidden H --batch B --seq T\n"
                    "                    [--layers L] [--threads N] [--precision float32] [--steps S] [--warmup W]\n"
                    "                    [--workload NAME] [--header]\n");
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->workload = "custom", o->precision = "float32", o->taps = "off";
    o->L = 1, o->threads = 1, o->steps = 20, o->warmup = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--header")) {
            o->header = 1;
            continue;
        }
        if (i + 1 >= argc) return 0;
        const char *v = argv[++i];
        if (!strcmp(a, "--workload")) o->workload = v;
        else if (!strcmp(a, "--cell")) o->cell = v;
        else if (!strcmp(a, "--activation")) o->activation = v;
        else if (!strcmp(a, "--precision")) o->precision = v;
        else if (!strcmp(a, "--taps")) o->taps = v;
        else if (!strcmp(a, "--input")) o->I = atoi(v);
        else if (!strcmp(a, "--hidden")) o->H = atoi(v);
        else if (!strcmp(a, "--batch")) o->B = atoi(v);
        else if (!strcmp(a, "--seq")) o->T = atoi(v);
        else if (!strcmp(a, "--layers")) o->L = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--truncate")) o->truncate = atoi(v);
        else return 0;
    }
    return o->cell && o->I > 0 && o->H > 0 && o->B > 0 && o->T > 0 && o->L > 0 && o->threads > 0 && o->steps > 0 &&
           o->warmup >= 0;
}

/* ---------------------------------------------------------------- memory helpers */

static dnnl_memory_desc_t md_tag(int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag));
    return md;
}

static dnnl_memory_t mem_new(const dnnl_memory_desc_t *md, dnnl_engine_t eng)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

static float *mem_ptr(dnnl_memory_t m)
{
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

/* A buffer in the layout `want`: the user's own memory when the layouts agree, else a new one and a
 * reorder primitive from (to_user = 0) or to (to_user = 1) the user's memory. */
typedef struct laid {
    dnnl_memory_t mem;
    dnnl_primitive_t reorder; /* NULL when mem is the user's memory */
} laid;

static laid lay(dnnl_memory_t user, const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *want,
                dnnl_engine_t eng, int to_user)
{
    laid l = {user, NULL};
    if (dnnl_memory_desc_equal(user_md, want)) return l;
    l.mem = mem_new(want, eng);
    dnnl_primitive_desc_t rpd;
    if (to_user) CHECK(dnnl_reorder_primitive_desc_create(&rpd, want, eng, user_md, eng, NULL));
    else CHECK(dnnl_reorder_primitive_desc_create(&rpd, user_md, eng, want, eng, NULL));
    CHECK(dnnl_primitive_create(&l.reorder, rpd));
    CHECK(dnnl_primitive_desc_destroy(rpd));
    return l;
}

static void run_reorder(const laid *l, dnnl_memory_t user, dnnl_stream_t st, int to_user)
{
    if (!l->reorder) return;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, to_user ? l->mem : user}, {DNNL_ARG_TO, to_user ? user : l->mem}};
    CHECK(dnnl_primitive_execute(l->reorder, st, 2, args));
}

/* ---------------------------------------------------------------- the benchmark */

int main(int argc, char **argv)
{
    opts o;
    if (!parse(argc, argv, &o)) {
        usage();
        return 2;
    }
    if (strcmp(o.precision, "float32") && strcmp(o.precision, "f32")) {
        fprintf(stderr, "onednn_bench: skipped: oneDNN's RNN primitives have no %s\n", o.precision);
        return 3;
    }
    if (strcmp(o.taps, "off") || o.truncate > 0) {
        fprintf(stderr, "onednn_bench: skipped: oneDNN has no gradient taps or truncated BPTT\n");
        return 3;
    }
    const int lstm = !strcmp(o.cell, "lstm"), gru = !strcmp(o.cell, "gru");
    const int relu = !strcmp(o.cell, "rnn_relu") || (o.activation && !strcmp(o.activation, "relu"));
    if (!lstm && !gru && strcmp(o.cell, "rnn_tanh") && strcmp(o.cell, "rnn_relu") && strcmp(o.cell, "rnn")) {
        fprintf(stderr, "onednn_bench: skipped: no oneDNN primitive for cell %s\n", o.cell);
        return 3;
    }
    if (o.L != 1 && o.I != o.H) { /* oneDNN stacks layers with one weights_layer tensor: C_in must agree */
        fprintf(stderr, "onednn_bench: skipped: L > 1 needs I = H in one oneDNN primitive\n");
        return 3;
    }
    const int G = lstm ? 4 : gru ? 3 : 1, Gb = gru ? 4 : G;
    const int T = o.T, B = o.B, I = o.I, H = o.H, L = o.L, S = o.steps;
    omp_set_num_threads(o.threads);
    const double base_rss = peak_rss_mib();

    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));

    const dnnl_dim_t d_src[3] = {T, B, I}, d_dst[3] = {T, B, H};
    const dnnl_dim_t d_wl[5] = {L, 1, I, G, H}, d_wi[5] = {L, 1, H, G, H}, d_b[4] = {L, 1, Gb, H};
    const dnnl_memory_desc_t src_md = md_tag(3, d_src, dnnl_tnc), dst_md = md_tag(3, d_dst, dnnl_tnc);
    const dnnl_memory_desc_t wl_md = md_tag(5, d_wl, dnnl_ldigo), wi_md = md_tag(5, d_wi, dnnl_ldigo);
    const dnnl_memory_desc_t b_md = md_tag(4, d_b, dnnl_ldgo);
    const dnnl_memory_desc_t wl_any = md_tag(5, d_wl, dnnl_format_tag_any);
    const dnnl_memory_desc_t wi_any = md_tag(5, d_wi, dnnl_format_tag_any);
    const dnnl_alg_kind_t act = relu ? dnnl_eltwise_relu : dnnl_eltwise_tanh;
    const dnnl_rnn_direction_t dir = dnnl_unidirectional_left2right;

    /* forward training and backward descriptors; NULL states mean zero h0 (c0) and no h_T output */
    dnnl_rnn_desc_t fd, bd;
    if (lstm) {
        CHECK(dnnl_lstm_forward_desc_init(&fd, dnnl_forward_training, dir, &src_md, NULL, NULL, &wl_any, &wi_any, &b_md,
                                          &dst_md, NULL, NULL, 0));
        CHECK(dnnl_lstm_backward_desc_init(&bd, dnnl_backward, dir, &src_md, NULL, NULL, &wl_any, &wi_any, &b_md,
                                           &dst_md, NULL, NULL, &src_md, NULL, NULL, &wl_any, &wi_any, &b_md, &dst_md,
                                           NULL, NULL, 0));
    } else if (gru) {
        CHECK(dnnl_lbr_gru_forward_desc_init(&fd, dnnl_forward_training, dir, &src_md, NULL, &wl_any, &wi_any, &b_md,
                                             &dst_md, NULL, 0));
        CHECK(dnnl_lbr_gru_backward_desc_init(&bd, dnnl_backward, dir, &src_md, NULL, &wl_any, &wi_any, &b_md, &dst_md,
                                              NULL, &src_md, NULL, &wl_any, &wi_any, &b_md, &dst_md, NULL, 0));
    } else {
        CHECK(dnnl_vanilla_rnn_forward_desc_init(&fd, dnnl_forward_training, act, dir, &src_md, NULL, &wl_any, &wi_any,
                                                 &b_md, &dst_md, NULL, 0, 0.f, 0.f));
        CHECK(dnnl_vanilla_rnn_backward_desc_init(&bd, dnnl_backward, act, dir, &src_md, NULL, &wl_any, &wi_any, &b_md,
                                                  &dst_md, NULL, &src_md, NULL, &wl_any, &wi_any, &b_md, &dst_md, NULL,
                                                  0, 0.f, 0.f));
    }
    dnnl_primitive_desc_t fpd, bpd;
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    CHECK(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd));
    dnnl_primitive_t fwd, bwd;
    CHECK(dnnl_primitive_create(&fwd, fpd));
    CHECK(dnnl_primitive_create(&bwd, bpd));

    /* user memories (plain layouts) */
    dnnl_memory_t src = mem_new(&src_md, eng), dst = mem_new(&dst_md, eng), dsrc = mem_new(&src_md, eng);
    dnnl_memory_t ddst = mem_new(&dst_md, eng);
    dnnl_memory_t wl = mem_new(&wl_md, eng), wi = mem_new(&wi_md, eng), bias = mem_new(&b_md, eng);
    dnnl_memory_t dwl = mem_new(&wl_md, eng), dwi = mem_new(&wi_md, eng), dbias = mem_new(&b_md, eng);
    const dnnl_memory_desc_t *ws_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    dnnl_memory_t work = mem_new(ws_md, eng);
    /* the primitives' own weight layouts */
    laid wl_f = lay(wl, &wl_md, pd_md(fpd, DNNL_ARG_WEIGHTS_LAYER), eng, 0);
    laid wi_f = lay(wi, &wi_md, pd_md(fpd, DNNL_ARG_WEIGHTS_ITER), eng, 0);
    laid wl_b = lay(wl, &wl_md, pd_md(bpd, DNNL_ARG_WEIGHTS_LAYER), eng, 0);
    laid wi_b = lay(wi, &wi_md, pd_md(bpd, DNNL_ARG_WEIGHTS_ITER), eng, 0);
    laid dwl_b = lay(dwl, &wl_md, pd_md(bpd, DNNL_ARG_DIFF_WEIGHTS_LAYER), eng, 1);
    laid dwi_b = lay(dwi, &wi_md, pd_md(bpd, DNNL_ARG_DIFF_WEIGHTS_ITER), eng, 1);

    const size_t n_src = (size_t)T * B * I, n_dst = (size_t)T * B * H;
    const size_t n_wl = (size_t)L * I * G * H, n_wi = (size_t)L * H * G * H, n_b = (size_t)L * Gb * H;
    unsigned long long seed = 88172645463325252ull;
    const float k = 1.0f / (float)sqrt((double)H); /* PyTorch's U(-1/sqrt(H), 1/sqrt(H)) */
    float *x = mem_ptr(src), *h = mem_ptr(dst), *dh = mem_ptr(ddst);
    float *W = mem_ptr(wl), *U = mem_ptr(wi), *bb = mem_ptr(bias);
    float *dW = mem_ptr(dwl), *dU = mem_ptr(dwi), *db = mem_ptr(dbias);
    for (size_t i = 0; i < n_src; i++) x[i] = uniform(&seed);
    for (size_t i = 0; i < n_wl; i++) W[i] = k * uniform(&seed);
    for (size_t i = 0; i < n_wi; i++) U[i] = k * uniform(&seed);
    for (size_t i = 0; i < n_b; i++) bb[i] = k * uniform(&seed);
    float *wh = malloc((size_t)H * sizeof *wh), *dwh = malloc((size_t)H * sizeof *dwh);
    float *target = malloc((size_t)B * sizeof *target), *dy = malloc((size_t)B * sizeof *dy);
    double *t_step = malloc((size_t)S * 4 * sizeof *t_step);
    if (!wh || !dwh || !target || !dy || !t_step) {
        fprintf(stderr, "onednn_bench: error: out of memory\n");
        return 1;
    }
    double *t_fwd = t_step + S, *t_bwd = t_fwd + S, *t_upd = t_bwd + S;
    float bh = k * uniform(&seed), dbh = 0;
    for (int j = 0; j < H; j++) wh[j] = k * uniform(&seed);
    for (int b = 0; b < B; b++) target[b] = uniform(&seed);
    memset(dh, 0, n_dst * sizeof *dh);
    memset(dW, 0, n_wl * sizeof *dW), memset(dU, 0, n_wi * sizeof *dU), memset(db, 0, n_b * sizeof *db);
    const float lr = 1e-3f;

    dnnl_exec_arg_t fargs[] = {{DNNL_ARG_SRC_LAYER, src},          {DNNL_ARG_WEIGHTS_LAYER, wl_f.mem},
                               {DNNL_ARG_WEIGHTS_ITER, wi_f.mem}, {DNNL_ARG_BIAS, bias},
                               {DNNL_ARG_DST_LAYER, dst},          {DNNL_ARG_WORKSPACE, work}};
    dnnl_exec_arg_t bargs[] = {{DNNL_ARG_SRC_LAYER, src},
                               {DNNL_ARG_WEIGHTS_LAYER, wl_b.mem},
                               {DNNL_ARG_WEIGHTS_ITER, wi_b.mem},
                               {DNNL_ARG_BIAS, bias},
                               {DNNL_ARG_DST_LAYER, dst},
                               {DNNL_ARG_WORKSPACE, work},
                               {DNNL_ARG_DIFF_DST_LAYER, ddst},
                               {DNNL_ARG_DIFF_SRC_LAYER, dsrc},
                               {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_b.mem},
                               {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_b.mem},
                               {DNNL_ARG_DIFF_BIAS, dbias}};
    const int nf = (int)(sizeof fargs / sizeof *fargs), nb = (int)(sizeof bargs / sizeof *bargs);
    const size_t dwl_bytes = dnnl_memory_desc_get_size(pd_md(bpd, DNNL_ARG_DIFF_WEIGHTS_LAYER));
    const size_t dwi_bytes = dnnl_memory_desc_get_size(pd_md(bpd, DNNL_ARG_DIFF_WEIGHTS_ITER));
    if (dwl_b.reorder) memset(mem_ptr(dwl_b.mem), 0, dwl_bytes);
    if (dwi_b.reorder) memset(mem_ptr(dwi_b.mem), 0, dwi_bytes);

    for (int s = -o.warmup; s < S; s++) {
        const double t0 = now_ms();
        run_reorder(&wl_f, wl, st, 0), run_reorder(&wi_f, wi, st, 0);
        CHECK(dnnl_primitive_execute(fwd, st, nf, fargs));
        CHECK(dnnl_stream_wait(st));
        const float *h_last = h + (size_t)(T - 1) * B * H; /* head: y = wh . h_T + bh, MSE */
        double loss = 0;
        for (int b = 0; b < B; b++) {
            float y = bh;
            for (int j = 0; j < H; j++) y += wh[j] * h_last[(size_t)b * H + j];
            loss += (double)(y - target[b]) * (y - target[b]);
            dy[b] = 2 * (y - target[b]) / (float)B;
        }
        loss /= B;
        const double t1 = now_ms();
        float *dh_last = dh + (size_t)(T - 1) * B * H;
        dbh = 0;
        for (int j = 0; j < H; j++) dwh[j] = 0;
        for (int b = 0; b < B; b++) {
            dbh += dy[b];
            for (int j = 0; j < H; j++) {
                dwh[j] += dy[b] * h_last[(size_t)b * H + j];
                dh_last[(size_t)b * H + j] = dy[b] * wh[j];
            }
        }
        run_reorder(&wl_b, wl, st, 0), run_reorder(&wi_b, wi, st, 0);
        CHECK(dnnl_primitive_execute(bwd, st, nb, bargs));
        run_reorder(&dwl_b, dwl, st, 1), run_reorder(&dwi_b, dwi, st, 1);
        CHECK(dnnl_stream_wait(st));
        const double t2 = now_ms();
        for (size_t i = 0; i < n_wl; i++) W[i] -= lr * dW[i];
        for (size_t i = 0; i < n_wi; i++) U[i] -= lr * dU[i];
        for (size_t i = 0; i < n_b; i++) bb[i] -= lr * db[i];
        for (int j = 0; j < H; j++) wh[j] -= lr * dwh[j];
        bh -= lr * dbh;
        /* oneDNN 2.x accumulates into the diff weights: zero them (PyTorch's zero_grad) */
        memset(dW, 0, n_wl * sizeof *dW), memset(dU, 0, n_wi * sizeof *dU), memset(db, 0, n_b * sizeof *db);
        if (dwl_b.reorder) memset(mem_ptr(dwl_b.mem), 0, dwl_bytes);
        if (dwi_b.reorder) memset(mem_ptr(dwi_b.mem), 0, dwi_bytes);
        const double t3 = now_ms();
        if (!(loss == loss) || loss > 1e30) {
            fprintf(stderr, "onednn_bench: error: the loss is not finite\n");
            return 1;
        }
        if (s >= 0) t_step[s] = t3 - t0, t_fwd[s] = t1 - t0, t_bwd[s] = t2 - t1, t_upd[s] = t3 - t2;
    }

    const double ms = median(t_step, S), ms_min = t_step[0];
    double flop = 0;
    for (int l = 0; l < L; l++) flop += 6.0 * B * T * ((l ? H : I) + H) * G * H;
    const size_t params_bytes = (n_wl + n_wi + n_b + (size_t)H + 1) * sizeof(float);
    const size_t ws_bytes = dnnl_memory_desc_get_size(ws_md);
    const size_t scratch = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(fpd, dnnl_query_scratchpad_md, 0)) +
                           dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(bpd, dnnl_query_scratchpad_md, 0));
    const char *label = lstm ? "lstm" : gru ? "gru" : relu ? "rnn_relu" : "rnn_tanh";
    if (o.header)
        puts("\"contender\",\"workload\",\"cell\",\"input_size\",\"hidden_size\",\"layers\",\"batch\",\"seq_len\","
             "\"threads\",\"precision\",\"taps\",\"truncate\",\"steps\",\"warmup\",\"ms_median\",\"ms_min\","
             "\"ms_forward\",\"ms_backward\",\"ms_update\",\"gflop_per_step\",\"gflops\",\"peak_rss_mib\","
             "\"base_rss_mib\",\"params_bytes\",\"cache_bytes\",\"workspace_bytes\"");
    const char *text[] = {"onednn", o.workload, label};
    for (int i = 0; i < 3; i++) csv_fwrite(stdout, text[i], strlen(text[i])), putchar(',');
    printf("%d,%d,%d,%d,%d,%d,", I, H, L, B, T, o.threads);
    csv_fwrite(stdout, "float32", 7), putchar(','), csv_fwrite(stdout, "off", 3);
    printf(",0,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%zu,%zu,%zu\n", S, o.warmup, ms, ms_min,
           median(t_fwd, S), median(t_bwd, S), median(t_upd, S), flop * 1e-9, flop * 1e-9 / (ms * 1e-3),
           peak_rss_mib(), base_rss, params_bytes, ws_bytes, ws_bytes + scratch);

    /* release in reverse order of creation (the process ends here, but a harness should be clean) */
    laid *ls[] = {&wl_f, &wi_f, &wl_b, &wi_b, &dwl_b, &dwi_b};
    for (int i = 0; i < 6; i++)
        if (ls[i]->reorder) dnnl_primitive_destroy(ls[i]->reorder), dnnl_memory_destroy(ls[i]->mem);
    dnnl_memory_t ms_all[] = {src, dst, dsrc, ddst, wl, wi, bias, dwl, dwi, dbias, work};
    for (int i = 0; i < 11; i++) dnnl_memory_destroy(ms_all[i]);
    dnnl_primitive_destroy(fwd), dnnl_primitive_destroy(bwd);
    dnnl_primitive_desc_destroy(fpd), dnnl_primitive_desc_destroy(bpd);
    dnnl_stream_destroy(st), dnnl_engine_destroy(eng);
    free(wh), free(dwh), free(target), free(dy), free(t_step);
    return 0;
}
