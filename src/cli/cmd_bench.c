/*
 * cmd_bench.c - `rnnlab bench`: times training steps of the engine (issue #6). Measurement only:
 * nothing here changes how the engine computes.
 *
 * Not here: the contenders (bench/torch_bench.py, bench/onednn_bench.c) and the interleaved
 * comparison (bench/compare.sh); this file gives them the grid (`--grid standard --list`).
 *
 * Dimension legend: B batch, T steps, I input size, H hidden size, G gates (1 rnn, 4 lstm, 3 gru),
 * L layers, O outputs (1 here: a Linear head with MSE at the last step, as in the contenders).
 *
 * One training step = rnnlab_bptt_forward over T steps + rnnlab_bptt_backward (full BPTT), or
 * with --truncate K rnnlab_bptt_chunked (truncated BPTT in chunks of K steps on a K-step
 * workspace), + a plain SGD update params -= lr * grads. Each step is timed with
 * CLOCK_MONOTONIC after W warm-up steps; the row gives the median and minimum of S steps, the
 * medians of the three phases, and
 *     GFLOP/s = sum_l 3 * 2 * B * T * (I_l + H) * G * H / median step time
 * (issue #6: three products of each weight matrix per step - forward, dh/dx, dW - counted whether
 * or not a contender skips dx of layer 0, so every contender is charged the same nominal work).
 * With --truncate K only the last chunk (n = T - K floor((T-1)/K) steps) has the loss and runs a
 * backward, so such a row counts sum_l 2 * B * (T + 2 n) * (I_l + H) * G * H.
 * Peak resident memory comes from getrusage (ru_maxrss, KiB on Linux); the grid runs every row
 * in a fresh process (fork + exec of this binary) so that each row's peak is its own.
 */
#include "cli/cli.h"
#include "rnnlab/format.h"

#include <cblas.h>
#include <csv.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#undef I /* OpenBLAS's cblas.h pulls in <complex.h>, which defines I; here I is the input size */

/* ---------------------------------------------------------------- the rows */

typedef struct bench_row {
    char workload[16];         /* W1, W2, W3, ... or "custom" */
    rnnlab_model_config model; /* cell, activation, I, H, L, O = 1, dtype */
    int batch, seq_len;        /* B, T */
    int threads;               /* N */
    int taps;                  /* 1: gradient taps recorded during backward */
    int truncate;              /* 0: full BPTT; k >= 1: truncated */
    int steps, warmup;         /* S timed steps after W warm-up steps */
} bench_row;

typedef struct bench_result {
    double ms_median, ms_min;                /* whole step */
    double ms_forward, ms_backward, ms_update; /* medians of the phases */
    double gflop_per_step, gflops;           /* nominal work (see top) and rate at the median */
    double peak_rss_mib, base_rss_mib;       /* ru_maxrss at the end, and before anything was allocated */
    size_t params_bytes, cache_bytes, workspace_bytes;
} bench_result;

static const char *const COLUMNS[] = {
    "contender",      "workload",     "cell",         "input_size",  "hidden_size",   "layers",
    "batch",          "seq_len",      "threads",      "precision",   "taps",          "truncate",
    "steps",          "warmup",       "ms_median",    "ms_min",      "ms_forward",    "ms_backward",
    "ms_update",      "gflop_per_step", "gflops",     "peak_rss_mib", "base_rss_mib", "params_bytes",
    "cache_bytes",    "workspace_bytes",
};
#define N_COLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])

/* Default timed steps per workload size: the standard grid takes a few minutes on 2 cores. */
static int default_steps(const bench_row *r)
{
    const double work = (double)r->batch * r->seq_len * r->model.hidden_size * r->model.hidden_size;
    return work > 1e8 ? 10 : work > 1e7 ? 20 : 50;
}

/* ---------------------------------------------------------------- timing helpers */

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

/* Median of v (n >= 1); sorts v in place. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

/* sum over layers of 3 * 2 * B * T * (I_l + H) * G * H */
static double flop_per_step(const bench_row *r)
{
    const double B = r->batch, T = r->seq_len, H = r->model.hidden_size, G = rnnlab_cell_gates(r->model.cell);
    /* steps that run a backward: all T, or with --truncate K (loss at the last step) the last chunk only
       (rnnlab_bptt_chunked skips the backward of chunks without a loss) */
    const int K = r->truncate;
    const double back = K > 0 && K < r->seq_len ? (double)(r->seq_len - K * ((r->seq_len - 1) / K)) : T;
    double f = 0;
    for (int l = 0; l < r->model.num_layers; l++) f += 2 * B * (T + 2 * back) * ((l ? H : r->model.input_size) + H) * G * H;
    return f;
}

/* ---------------------------------------------------------------- one row */

static void sgd_update(rnnlab_model *m, double lr)
{
    if (m->cfg.dtype == RNNLAB_FLOAT32) {
        float *p = m->params;
        const float *g = m->grads, a = (float)lr;
        for (size_t i = 0; i < m->n_params; i++) p[i] -= a * g[i];
    } else {
        double *p = m->params;
        const double *g = m->grads;
        for (size_t i = 0; i < m->n_params; i++) p[i] -= lr * g[i];
    }
}

/* Builds the model and workspace of row r, runs W + S steps and fills *res. */
static rnnlab_status run_row(const bench_row *r, bench_result *res)
{
    const int S = r->steps, B = r->batch, T = r->seq_len, I = r->model.input_size, O = r->model.output_size;
    rnnlab_model *m = NULL;
    rnnlab_bptt *ws = NULL;
    double *x = NULL, *target = NULL, *t_step = NULL, *t_fwd = NULL, *t_bwd = NULL, *t_upd = NULL;
    rnnlab_status st = RNNLAB_OK;
    memset(res, 0, sizeof *res);
    res->base_rss_mib = peak_rss_mib();
    rnnlab_threads_set(r->threads);

    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 1);
    rnnlab_init_config init;
    rnnlab_init_config_init(&init);
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    /* a training step: nothing reads the cache after the backward (keep_cache = 0). Truncation is
       the chunked kind a long sequence is trained with: a k-step workspace, memory bounded by k */
    const int chunked = r->truncate > 0 && r->truncate < T;
    bc.batch = B, bc.seq_len = chunked ? r->truncate : T, bc.loss = RNNLAB_LOSS_MSE, bc.loss_at = RNNLAB_LOSS_LAST;
    bc.truncate = 0, bc.taps = r->taps, bc.keep_cache = 0;

    if ((st = rnnlab_model_create(&m, &r->model)) != RNNLAB_OK) goto done;
    if ((st = rnnlab_model_init(m, &init, &rng)) != RNNLAB_OK) goto done;
    if ((st = rnnlab_bptt_create(&ws, m, &bc)) != RNNLAB_OK) goto done;
    x = malloc((size_t)T * B * I * sizeof *x);
    target = malloc((size_t)B * O * sizeof *target);
    t_step = malloc((size_t)S * 4 * sizeof *t_step);
    if (!x || !target || !t_step) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "bench: out of memory for the input batch");
        goto done;
    }
    t_fwd = t_step + S, t_bwd = t_fwd + S, t_upd = t_bwd + S;
    for (size_t i = 0; i < (size_t)T * B * I; i++) x[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    for (size_t i = 0; i < (size_t)B * O; i++) target[i] = 2 * rnnlab_rng_uniform(&rng) - 1;
    const rnnlab_batch batch = {.x = x, .target = target};

    for (int s = -r->warmup; s < S; s++) {
        double loss;
        const double t0 = now_ms();
        if (chunked) /* forward and backward interleave chunk by chunk: no separate phases */
            st = rnnlab_bptt_chunked(ws, m, &batch, T, &loss, NULL, NULL);
        else
            st = rnnlab_bptt_forward(ws, m, &batch, &loss);
        if (st != RNNLAB_OK) goto done;
        const double t1 = now_ms();
        if (!chunked && (st = rnnlab_bptt_backward(ws, m, NULL, NULL, NULL)) != RNNLAB_OK) goto done;
        const double t2 = now_ms();
        sgd_update(m, 1e-3);
        const double t3 = now_ms();
        if (s >= 0) t_step[s] = t3 - t0, t_fwd[s] = t1 - t0, t_bwd[s] = t2 - t1, t_upd[s] = t3 - t2;
    }
    res->ms_median = median(t_step, S);
    res->ms_min = t_step[0]; /* sorted by median() */
    res->ms_forward = chunked ? NAN : median(t_fwd, S);
    res->ms_backward = chunked ? NAN : median(t_bwd, S);
    res->ms_update = median(t_upd, S);
    res->gflop_per_step = flop_per_step(r) * 1e-9;
    res->gflops = res->gflop_per_step / (res->ms_median * 1e-3);
    res->params_bytes = m->n_params * rnnlab_dtype_size(m->cfg.dtype);
    res->cache_bytes = rnnlab_bptt_cache_bytes(ws);
    res->workspace_bytes = rnnlab_bptt_bytes(ws);
    res->peak_rss_mib = peak_rss_mib();
done:
    free(x), free(target), free(t_step);
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
    return st;
}

/* ---------------------------------------------------------------- CSV */

/* One text field through libcsv's quoting writer, then the separator (or newline when last). An
 * empty text field is written as nothing (a missing value). */
static void put_field(FILE *f, const char *s, int last)
{
    if (*s) csv_fwrite(f, s, strlen(s));
    fputc(last ? '\n' : ',', f);
}

/* A number as formatted by rnnlab (C locale, never needs quoting). */
static void put_text_num(FILE *f, const char *buf, int last)
{
    fputs(buf, f);
    fputc(last ? '\n' : ',', f);
}

static void put_num(FILE *f, double v, int last)
{
    char buf[40];
    rnnlab_format_double(buf, sizeof buf, v);
    put_text_num(f, buf, last);
}

/* Timings and rates: 9 significant digits (rnnlab_format_float) are more than a clock resolves,
 * and 11.7345 stays 11.7345 instead of %.17g's 11.734499999999999. */
/* A measured value; NaN (not measured, as the phases of a chunked step) is an empty field. */
static void put_meas(FILE *f, double v, int last)
{
    char buf[40] = "";
    if (v == v) rnnlab_format_float(buf, sizeof buf, v);
    put_text_num(f, buf, last);
}

static void put_header(FILE *f)
{
    for (size_t i = 0; i < N_COLUMNS; i++) put_field(f, COLUMNS[i], i + 1 == N_COLUMNS);
}

static void put_row(FILE *f, const bench_row *r, const bench_result *res)
{
    put_field(f, "rnnlab", 0);
    put_field(f, r->workload, 0);
    put_field(f, rnnlab_cell_label(r->model.cell, r->model.activation), 0);
    put_num(f, r->model.input_size, 0);
    put_num(f, r->model.hidden_size, 0);
    put_num(f, r->model.num_layers, 0);
    put_num(f, r->batch, 0);
    put_num(f, r->seq_len, 0);
    put_num(f, r->threads, 0);
    put_field(f, rnnlab_dtype_name(r->model.dtype), 0);
    put_field(f, r->taps ? "on" : "off", 0);
    put_num(f, r->truncate, 0);
    put_num(f, r->steps, 0);
    put_num(f, r->warmup, 0);
    put_meas(f, res->ms_median, 0);
    put_meas(f, res->ms_min, 0);
    put_meas(f, res->ms_forward, 0);
    put_meas(f, res->ms_backward, 0);
    put_meas(f, res->ms_update, 0);
    put_meas(f, res->gflop_per_step, 0);
    put_meas(f, res->gflops, 0);
    put_meas(f, res->peak_rss_mib, 0);
    put_meas(f, res->base_rss_mib, 0);
    put_num(f, (double)res->params_bytes, 0);
    put_num(f, (double)res->cache_bytes, 0);
    put_num(f, (double)res->workspace_bytes, 1);
}

/* mkdir -p of the directory part of path. Returns 0 on success. */
static int make_parent_dirs(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

/* Opens path for appending, or rewritten where truncate (creating its folders); writes the header
 * when the file is new or empty. With write_path, the checks are path's but the file opened (and
 * rewritten) is write_path (a grid's rows go beside the file they replace). Returns NULL after
 * printing the error, with *usage 1 where the path itself is the mistake (empty, a folder, a file of
 * other columns or with a cut last row). */
static FILE *open_out(const char *path, int truncate, int *created, int *usage, const char *write_path)
{
    *usage = 1; /* the caller's mistakes exit 2; failures to write exit 1 */
    if (!*path) {
        cli_error("give a file name, e.g. --out bench.csv", "--out: empty path");
        return NULL;
    }
    struct stat sb;
    const int exists = stat(path, &sb) == 0;
    if (created) *created = !exists;
    if (exists && S_ISDIR(sb.st_mode)) {
        cli_error("give a file in it, e.g. --out DIR/bench.csv", "--out: %s is a folder", path);
        return NULL;
    }
    /* rows go under this header only: a file of other columns is neither appended to nor rewritten,
       nor is one whose last row was cut short (appending would glue the next row onto it); a regular
       file's first and last lines are read, a device or FIFO is written to as it is */
    if (exists && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        FILE *old = fopen(path, "r");
        if (old) {
            char line[2048] = "", want[2048] = "";
            const int has_line = fgets(line, sizeof line, old) != NULL;
            FILE *mem = fmemopen(want, sizeof want - 1, "w");
            if (mem) put_header(mem), fclose(mem);
            /* a grid rewrites an earlier version's rows too (their header starts as this one does) */
            const size_t lead = strcspn(want, ",") + 1;
            if (has_line && (truncate ? strncmp(line, want, lead) != 0 : strcmp(line, want) != 0)) {
                fclose(old);
                cli_error("give another file with --out, or move this one aside",
                          "--out: %s holds other columns (its first line is not rnnlab bench's header)", path);
                return NULL;
            }
            /* the last byte; only where it is not an end of line, the lines are counted for the message */
            const int last = fseek(old, -1, SEEK_END) == 0 ? fgetc(old) : '\n';
            long lines = 1;
            if (!truncate && last != '\n') {
                rewind(old);
                for (int c; (c = fgetc(old)) != EOF;) lines += c == '\n';
            }
            fclose(old);
            if (!truncate && last != '\n') {
                cli_error("remove that line (or the file) and run again",
                          "--out: %s, line %ld: the last row has no end of line (a run stopped while writing it?); "
                          "a new row would be glued onto it",
                          path, lines);
                return NULL;
            }
        }
    }
    *usage = 0;
    if (make_parent_dirs(path) != 0) {
        cli_error(NULL, "--out: cannot create the folders of %s: %s", path, strerror(errno));
        return NULL;
    }
    if (write_path) path = write_path;
    FILE *f = fopen(path, truncate ? "w" : "a");
    if (!f) {
        cli_error(NULL, "--out: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (ftell(f) == 0) put_header(f);
    return f;
}

/* ---------------------------------------------------------------- the standard grid */

typedef struct grid_workload {
    const char *name, *cell;
    int I, H, B, T;
} grid_workload;

/* Issue #6: W1 mid-size, W2 large LSTM (GEMM bound), W3 the small models of gradient experiments. */
static const grid_workload STANDARD[] = {
    {"W1", "rnn_tanh", 32, 128, 32, 100},  {"W1", "lstm", 32, 128, 32, 100}, {"W1", "gru", 32, 128, 32, 100},
    {"W2", "lstm", 128, 512, 64, 50},      {"W3", "rnn_tanh", 1, 32, 16, 200}, {"W3", "lstm", 1, 32, 16, 200},
    {"W3", "gru", 1, 32, 16, 200},
};

/* The linear-in-T and truncation checks (issue #6 targets) on the W3 sizes, 1 thread, float32. */
static const grid_workload SCALING[] = {
    {"W3_T100", "rnn_tanh", 1, 32, 16, 100},     {"W3_T1000", "rnn_tanh", 1, 32, 16, 1000},
    {"W3_T10000", "rnn_tanh", 1, 32, 16, 10000}, {"W3_T100", "lstm", 1, 32, 16, 100},
    {"W3_T1000", "lstm", 1, 32, 16, 1000},       {"W3_T10000", "lstm", 1, 32, 16, 10000},
    {"W3_T100", "gru", 1, 32, 16, 100},          {"W3_T1000", "gru", 1, 32, 16, 1000},
    {"W3_T10000", "gru", 1, 32, 16, 10000},
};

/* The arguments that reproduce row r in a single-row run (and that the contenders accept). */
typedef struct row_args {
    char store[32][32]; /* 13 options with their values at most */
    char *argv[33];
    int argc;
} row_args;

static void args_add(row_args *a, const char *s)
{
    if (a->argc + 1 >= (int)(sizeof a->store / sizeof a->store[0])) return; /* cannot happen: 26 at most */
    snprintf(a->store[a->argc], sizeof a->store[0], "%s", s);
    a->argv[a->argc] = a->store[a->argc];
    a->argc++;
    a->argv[a->argc] = NULL;
}

static void args_int(row_args *a, const char *opt, int v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", v);
    args_add(a, opt), args_add(a, buf);
}

static void row_to_args(const bench_row *r, row_args *a)
{
    a->argc = 0;
    args_add(a, "--workload"), args_add(a, r->workload);
    args_add(a, "--cell"), args_add(a, rnnlab_cell_label(r->model.cell, r->model.activation));
    args_int(a, "--input", r->model.input_size);
    args_int(a, "--hidden", r->model.hidden_size);
    args_int(a, "--batch", r->batch);
    args_int(a, "--seq", r->seq_len);
    args_int(a, "--layers", r->model.num_layers);
    args_int(a, "--threads", r->threads);
    args_add(a, "--precision"), args_add(a, rnnlab_dtype_name(r->model.dtype));
    args_add(a, "--taps"), args_add(a, r->taps ? "on" : "off");
    if (r->truncate) args_int(a, "--truncate", r->truncate);
    args_int(a, "--steps", r->steps);
    args_int(a, "--warmup", r->warmup);
}

/* 1 when name is one of the items of the comma list, whole */
static int list_has(const char *list, const char *name)
{
    const size_t len = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strcspn(p, ",") == len && !strncmp(p, name, len)) return 1;
    return 0;
}

/* Expands grid `name` into rows (at most cap); returns the count, -1 for an unknown name, or -2
 * (after the error) when `only` (a comma list of workload names, which filters) names one the grid
 * lacks. steps/warmup < 0 keep the per-row defaults. */
static int grid_rows(const char *name, int steps, int warmup, const char *only, bench_row *rows, int cap)
{
    const int standard = !strcmp(name, "standard");
    if (!standard && strcmp(name, "scaling")) return -1;
    const grid_workload *w = standard ? STANDARD : SCALING;
    const int nw = standard ? (int)(sizeof STANDARD / sizeof *STANDARD) : (int)(sizeof SCALING / sizeof *SCALING);
    for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) { /* each name is the grid's */
        const size_t len = strcspn(p, ",");
        int known = 0;
        for (int i = 0; i < nw && !known; i++) known = strlen(w[i].name) == len && !strncmp(w[i].name, p, len);
        if (!known) {
            char names[256] = "";
            for (int i = 0; i < nw; i++) {
                int seen_before = 0; /* each name once (the grid lists it per cell) */
                for (int j = 0; j < i && !seen_before; j++) seen_before = !strcmp(w[j].name, w[i].name);
                if (!seen_before)
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", *names ? ", " : "", w[i].name);
            }
            cli_error(NULL, "--only: the %s grid has no workload '%.*s' (it has %s)", name, (int)len, p, names);
            return -2;
        }
    }
    int n = 0;
    for (int i = 0; i < nw; i++) {
        if (only && !list_has(only, w[i].name)) continue;
        /* standard: float32/float64 x 1/2 threads x taps off, and taps on at float32 (the taps
         * target). scaling: 1 thread, float32, taps off; plus truncation to k = 100 where T > 100
         * (the memory target). */
        for (int prec = 0; prec < (standard ? 2 : 1); prec++)
            for (int thr = 1; thr <= (standard ? 2 : 1); thr++)
                for (int variant = 0; variant <= 1; variant++) {
                    if (variant && (standard ? prec != 0 : w[i].T <= 100)) continue;
                    if (n == cap) return n;
                    bench_row *r = &rows[n++];
                    memset(r, 0, sizeof *r);
                    snprintf(r->workload, sizeof r->workload, "%s", w[i].name);
                    rnnlab_model_config_init(&r->model);
                    rnnlab_cell_parse(w[i].cell, &r->model.cell, &r->model.activation, NULL);
                    r->model.input_size = w[i].I, r->model.hidden_size = w[i].H;
                    r->model.num_layers = 1, r->model.output_size = 1;
                    r->model.dtype = prec ? RNNLAB_FLOAT64 : RNNLAB_FLOAT32;
                    r->batch = w[i].B, r->seq_len = w[i].T, r->threads = thr;
                    r->taps = standard && variant;
                    r->truncate = !standard && variant ? 100 : 0;
                    r->steps = steps > 0 ? steps : default_steps(r);
                    if (!standard && steps <= 0) r->steps = w[i].T >= 10000 ? 5 : w[i].T >= 1000 ? 20 : 100;
                    r->warmup = warmup >= 0 ? warmup : 3;
                }
    }
    return n;
}

/* Runs one row in a fresh process (this binary, single-row mode, appending to out), so that its
 * peak RSS is its own. Returns the child's exit status, or 1 if it could not run. */
static int run_child(const bench_row *r, const char *out)
{
    row_args a;
    row_to_args(r, &a);
    char *argv[40];
    int n = 0;
    argv[n++] = "rnnlab";
    argv[n++] = "bench";
    for (int i = 0; i < a.argc; i++) argv[n++] = a.argv[i];
    if (out) argv[n++] = "--out", argv[n++] = (char *)out;
    argv[n] = NULL;
    fflush(stdout), fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        cli_error(NULL, "fork failed: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execv("/proc/self/exe", argv); /* Linux; elsewhere rnnlab from PATH */
        execvp("rnnlab", argv);
        fprintf(stderr, "rnnlab: error: cannot run a grid row (exec of /proc/self/exe): %s\n", strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---------------------------------------------------------------- GEMM ceiling */

typedef struct gemm_shape {
    const char *name;
    int trans_a, trans_b, M, N, K, count; /* count: calls of this shape per training step */
} gemm_shape;

/* The products of one training step of a one-layer model (G gates; I, H, B, T), each here as one
 * OpenBLAS call: the input projection over all steps, T recurrent products, T dh_prev products,
 * dW and dU over all steps (dx of the first layer is not needed). W2 (G=4, I=128, H=512, B=64,
 * T=50): 3200x2048x128, 50 x 64x2048x512, 50 x 64x512x2048, 2048x128x3200, 2048x512x3200. */
static void gemm_shapes(int G, int I, int H, int B, int T, gemm_shape s[5])
{
    const int GH = G * H, TB = T * B;
    s[0] = (gemm_shape){"input_proj", 0, 1, TB, GH, I, 1};
    s[1] = (gemm_shape){"recurrent", 0, 1, B, GH, H, T};
    s[2] = (gemm_shape){"dh_prev", 0, 0, B, H, GH, T};
    s[3] = (gemm_shape){"dW", 1, 0, GH, I, TB, 1};
    s[4] = (gemm_shape){"dU", 1, 0, GH, H, TB, 1};
}

/* Median ms of one cblas_sgemm call (cblas_dgemm where dbl) of shape s, with OpenBLAS using the
 * threads already set. The operands are allocated as doubles, enough for either precision. */
static double time_gemm(const gemm_shape *s, int dbl, int reps, double *min_ms)
{
    const int M = s->M, N = s->N, K = s->K;
    const size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    double *A = malloc(na * sizeof *A), *Bm = malloc(nb * sizeof *Bm), *C = calloc(nc, sizeof *C);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!A || !Bm || !C || !t) {
        free(A), free(Bm), free(C), free(t);
        return -1;
    }
    float *As = (float *)A, *Bs = (float *)Bm, *Cs = (float *)C;
    for (size_t i = 0; i < na; i++) {
        const double v = (i % 17) * 0.01 - 0.08;
        if (dbl) A[i] = v;
        else As[i] = (float)v;
    }
    for (size_t i = 0; i < nb; i++) {
        const double v = (i % 13) * 0.01 - 0.06;
        if (dbl) Bm[i] = v;
        else Bs[i] = (float)v;
    }
    const int lda = s->trans_a ? M : K, ldb = s->trans_b ? K : N;
    const CBLAS_TRANSPOSE ta = s->trans_a ? CblasTrans : CblasNoTrans, tb = s->trans_b ? CblasTrans : CblasNoTrans;
    for (int i = -3; i < reps; i++) {
        const double t0 = now_ms();
        if (dbl) cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, A, lda, Bm, ldb, 0.0, C, N);
        else cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, As, lda, Bs, ldb, 0.0f, Cs, N);
        if (i >= 0) t[i] = now_ms() - t0;
    }
    const double med = median(t, reps);
    *min_ms = t[0];
    free(A), free(Bm), free(C), free(t);
    return med;
}

/* --sgemm / --dgemm: the step's products one by one, then their mix (see help) */
static int run_gemm(const bench_row *row, int dbl, int header, FILE *out)
{
    const int threads = row->threads;
    const rnnlab_model_config *mc = &row->model;
    rnnlab_threads_set(threads);
    openblas_set_num_threads(threads);
    static const char *const cols[] = {"contender", "shape",  "trans_a", "trans_b",   "m",
                                       "n",         "k",      "threads", "ms_median", "ms_min",
                                       "gflops",    "calls_per_step", "precision"};
    enum { NCOLS = sizeof cols / sizeof *cols };
    const char *prec = dbl ? "float64" : "float32";
    if (header)
        for (int k = 0; k < NCOLS; k++) put_field(out, cols[k], k == NCOLS - 1);
    gemm_shape shapes[5];
    gemm_shapes(rnnlab_cell_gates(mc->cell), mc->input_size, mc->hidden_size, row->batch, row->seq_len, shapes);
    double flop_total = 0, ms_total = 0;
    for (int i = 0; i < 5; i++) {
        const gemm_shape *s = &shapes[i];
        const double flop = 2.0 * s->M * s->N * s->K;
        const int reps = flop > 1e9 ? 20 : 200;
        double mn;
        const double med = time_gemm(s, dbl, reps, &mn);
        if (med < 0) {
            cli_error(NULL, "out of memory for the GEMM operands");
            return CLI_EXIT_FAIL;
        }
        flop_total += flop * s->count, ms_total += med * s->count;
        put_field(out, "openblas", 0), put_field(out, s->name, 0);
        put_num(out, s->trans_a, 0), put_num(out, s->trans_b, 0);
        put_num(out, s->M, 0), put_num(out, s->N, 0), put_num(out, s->K, 0), put_num(out, threads, 0);
        put_meas(out, med, 0), put_meas(out, mn, 0), put_meas(out, flop / (med * 1e6), 0);
        put_num(out, s->count, 0), put_field(out, prec, 1);
    }
    /* the GEMM work of one step at these rates: for W2, the ceiling of the target */
    put_field(out, "openblas", 0), put_field(out, "step_mix", 0);
    for (int k = 0; k < 5; k++) put_field(out, "", 0);
    put_num(out, threads, 0), put_meas(out, ms_total, 0), put_field(out, "", 0);
    put_meas(out, flop_total / (ms_total * 1e6), 0), put_field(out, "", 0), put_field(out, prec, 1);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- machine description */

/* The value of the first "key : value" line of /proc/cpuinfo whose key starts with `key`. */
static void cpuinfo_field(const char *key, char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *p = strchr(line, ':');
        if (strncmp(line, key, strlen(key)) != 0 || !p) continue;
        p++;
        while (*p == ' ') p++;
        snprintf(out, size, "%s", p);
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    fclose(f);
}

static void print_info(void)
{
    char model[256], family[32], number[32], flags[4096];
    cpuinfo_field("model name", model, sizeof model);
    cpuinfo_field("cpu family", family, sizeof family);
    cpuinfo_field("model\t", number, sizeof number);
    cpuinfo_field("flags", flags, sizeof flags);
    const char *isa[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512_bf16"};
    printf("cpu: %s (family %s, model %s; has", model, family, number);
    for (size_t i = 0; i < sizeof isa / sizeof *isa; i++) {
        char word[32];
        snprintf(word, sizeof word, " %s ", isa[i]);
        char padded[4100];
        snprintf(padded, sizeof padded, " %s ", flags);
        if (strstr(padded, word)) printf(" %s", isa[i]);
    }
    printf(")\n");
    printf("cores online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("openblas: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (rnnlab_openmp_enabled() && (policy || spin)) /* as given: every row runs with it */
        printf("openmp: OMP_WAIT_POLICY=%s%s%s\n", policy ? policy : "(unset)", spin ? ", GOMP_SPINCOUNT=" : "",
               spin ? spin : "");
    else if (rnnlab_openmp_enabled()) /* cli_wait_policy */
        printf("openmp: rows on 2 or more threads run with OMP_WAIT_POLICY=passive (set by rnnlab); 1-thread rows "
               "with libgomp's default\n");
    printf("rnnlab: %s, OpenMP %s, compiler %s\n", RNNLAB_VERSION, rnnlab_openmp_enabled() ? "on" : "off",
#ifdef __VERSION__
           __VERSION__
#else
           "unknown"
#endif
    );
}

/* ---------------------------------------------------------------- the command */

static void help(FILE *f)
{
    fprintf(f,
            "usage: rnnlab bench --cell C [--activation A] --input I --hidden H --batch B --seq T\n"
            "                    [--layers L] [--threads N] [--precision float32|float64] [--steps S]\n"
            "                    [--warmup W] [--taps on|off] [--truncate K] [--workload NAME]\n"
            "                    [--header] [--out FILE]\n"
            "       rnnlab bench --grid standard|scaling [--out FILE] [--steps S] [--warmup W]\n"
            "                    [--only W1,W3] [--list]\n"
            "       rnnlab bench --sgemm|--dgemm [--threads N] [--header]\n"
            "                    [--cell C --input I --hidden H --batch B --seq T]\n"
            "       rnnlab bench --info\n"
            "\n"
            "Times S training steps (forward over T steps, full BPTT - or truncated BPTT in chunks of K\n"
            "steps (rnnlab_bptt_chunked: memory bounded by K; no forward/backward split) - and a\n"
            "plain SGD update) after W warm-up steps, with a Linear head (O = 1) and MSE at the last\n"
            "step, and prints one CSV row: the settings, median and minimum ms per step, the medians of\n"
            "forward, backward and update, GFLOP/s (per step and layer 3*2*B*T*(I+H)*G*H, G = 1 rnn,\n"
            "4 lstm, 3 gru; with --truncate K, 2*B*(T+2n)*(I+H)*G*H: only the last chunk's n steps run a\n"
            "backward), peak resident memory (MiB), and the parameter, cache and workspace bytes.\n"
            "--header prints the CSV header first; --out also appends the row to FILE (with the header\n"
            "if new; missing folders are created; a file with another first line, or whose last row was\n"
            "cut short, is refused).\n"
            "\n"
            "--grid standard runs issue #6's grid: W1 rnn_tanh/lstm/gru I=32 H=128 B=32 T=100,\n"
            "W2 lstm I=128 H=512 B=64 T=50, W3 rnn_tanh/lstm/gru I=1 H=32 B=16 T=200, each at 1 and 2\n"
            "threads, float32 and float64, taps off (and on, float32). --grid scaling: W3 sizes at\n"
            "T = 100, 1000, 10000 (1 thread, float32), and T = 1000, 10000 truncated to K = 100. Every\n"
            "row runs in a fresh process; --out FILE is rewritten (unless it is not a bench CSV), by way of\n"
            "FILE.tmp, so a grid stopped or failed midway leaves FILE as it was. --list\n"
            "prints each row's options instead.\n"
            "--sgemm times OpenBLAS SGEMM (one cblas_sgemm call each, OpenBLAS on N threads) on the\n"
            "products of one training step - input projection, T recurrent and T dh_prev products, dW,\n"
            "dU - and their mix: with W2's sizes (the default) the ceiling of the W2 target; --cell,\n"
            "--input, --hidden, --batch and --seq give another row's. --dgemm: the same with DGEMM, the\n"
            "float64 ceiling. --info describes the machine.\n"
            "Defaults: --layers 1 --threads 1 --precision float32 --taps off --warmup 3, --steps 50, 20\n"
            "or 10 by size. A repeated option counts with its last value.\n");
}

/* 1 when every option in seen (as given: "--out" or "--out=x") is one of ok (NULL-ended); else
 * prints which one `mode` does not take and returns 0. */
static int takes_only(const char *mode, const char *const *ok, const char *const *seen, int nseen)
{
    for (int k = 0; k < nseen; k++) {
        const size_t n = strcspn(seen[k], "=");
        int hit = 0;
        for (const char *const *o = ok; *o && !hit; o++) hit = strlen(*o) == n && !strncmp(*o, seen[k], n);
        if (!hit) {
            cli_error("run `rnnlab bench --help`", "%s does not take %.*s", mode, (int)n, seen[k]);
            return 0;
        }
    }
    return 1;
}

/* Sets the pool to *threads; where OMP_THREAD_LIMIT allows fewer, says so and puts the count that
 * will run in *threads (the row records what ran, not what was asked). */
static void threads_available(int *threads)
{
    rnnlab_threads_set(*threads);
    const int n = rnnlab_threads_get();
    if (n < *threads) {
        fprintf(stderr, "rnnlab: warning: OMP_THREAD_LIMIT allows %d of the %d threads asked for; the row runs and "
                        "is recorded with %d\n", n, *threads, n);
        *threads = n;
    }
}

int cmd_bench(int argc, char **argv)
{
    bench_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.workload, sizeof row.workload, "custom");
    rnnlab_model_config_init(&row.model);
    row.model.dtype = RNNLAB_FLOAT32, row.model.output_size = 1;
    row.threads = 1, row.steps = -1, row.warmup = -1;
    int have_cell = 0, have[4] = {0, 0, 0, 0}, header = 0, list = 0, gemm = 0, info = 0, cell_act_set = 0;
    const char *out = NULL, *grid = NULL, *only = NULL, *cell_name = NULL, *act_name = NULL, *seen[64];
    rnnlab_activation cell_act = RNNLAB_ACT_TANH, opt_act = RNNLAB_ACT_TANH;
    int nseen = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long n;
        int r;
        rnnlab_status st = RNNLAB_OK;
        if (!strncmp(argv[i], "--", 2) && nseen < 64) seen[nseen++] = argv[i]; /* for the checks of each mode */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(argv[i], "--info")) {
            info = 1;
            continue;
        }
        if (!strcmp(argv[i], "--header")) {
            header = 1;
            continue;
        }
        if (!strcmp(argv[i], "--list")) {
            list = 1;
            continue;
        }
        if (!strcmp(argv[i], "--sgemm") || !strcmp(argv[i], "--dgemm")) {
            const int kind = argv[i][2] == 'd' ? 2 : 1;
            if (gemm && gemm != kind) {
                cli_error("run one, then the other", "--sgemm and --dgemm are two runs, not one");
                return CLI_EXIT_USAGE;
            }
            gemm = kind;
            continue;
        }
#define INT_OPT(name, lo, hi, dst, flag)                                                                               \
    if ((r = cli_opt(argc, argv, &i, name, &v)) != 0) {                                                                \
        if (r < 0 || !cli_int(name, v, lo, hi, &n)) return CLI_EXIT_USAGE;                                             \
        dst = (int)n;                                                                                                  \
        flag;                                                                                                          \
        continue;                                                                                                      \
    }
        INT_OPT("--input", 1, 1 << 16, row.model.input_size, have[0] = 1)
        INT_OPT("--hidden", 1, 1 << 16, row.model.hidden_size, have[1] = 1)
        INT_OPT("--batch", 1, 1 << 16, row.batch, have[2] = 1)
        INT_OPT("--seq", 1, 1 << 20, row.seq_len, have[3] = 1)
        INT_OPT("--layers", 1, 64, row.model.num_layers, (void)0)
        INT_OPT("--threads", 1, RNNLAB_MAX_THREADS, row.threads, (void)0)
        INT_OPT("--steps", 1, 1 << 20, row.steps, (void)0)
        INT_OPT("--warmup", 0, 1 << 20, row.warmup, (void)0)
        INT_OPT("--truncate", 0, 1 << 20, row.truncate, (void)0)
#undef INT_OPT
        if ((r = cli_opt(argc, argv, &i, "--cell", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            cell_act_set = 0;
            st = rnnlab_cell_parse(v, &row.model.cell, &cell_act, &cell_act_set);
            have_cell = 1, cell_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "--activation", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_activation_parse(v, &opt_act);
            act_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "--precision", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_dtype_parse(v, &row.model.dtype);
        } else if ((r = cli_opt(argc, argv, &i, "--taps", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            if (strcmp(v, "on") && strcmp(v, "off")) {
                cli_error(NULL, "--taps: expected on or off, got '%s'", v);
                return CLI_EXIT_USAGE;
            }
            row.taps = !strcmp(v, "on");
        } else if ((r = cli_opt(argc, argv, &i, "--workload", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            if (!*v || strlen(v) >= sizeof row.workload) {
                cli_error(NULL, "--workload: expected a name of 1 to %d characters, got '%s'", (int)sizeof row.workload - 1, v);
                return CLI_EXIT_USAGE;
            }
            snprintf(row.workload, sizeof row.workload, "%s", v);
        } else if ((r = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            out = v;
        } else if ((r = cli_opt(argc, argv, &i, "--grid", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            grid = v;
        } else if ((r = cli_opt(argc, argv, &i, "--only", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            only = v;
        } else {
            cli_error("run `rnnlab bench --help`", "unknown option '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
        if (st) {
            cli_error(NULL, "%s", rnnlab_last_error());
            return CLI_EXIT_USAGE;
        }
    }

    /* each mode takes its own options: one given to another mode is a mistake, not ignored */
    if (info) {
        static const char *const info_opts[] = {"--info", NULL};
        if (!takes_only("--info", info_opts, seen, nseen)) return CLI_EXIT_USAGE;
        print_info();
        return CLI_EXIT_OK;
    }
    if (list && out) {
        cli_error("drop --out: --list writes the rows' options to the terminal", "--list does not take --out");
        return CLI_EXIT_USAGE;
    }
    static const char *const gemm_opts[] = {"--sgemm", "--dgemm", "--threads", "--header", "--cell", "--input",
                                            "--hidden", "--batch",  "--seq",     NULL};
    static const char *const grid_opts[] = {"--grid", "--out", "--steps", "--warmup", "--only", "--list", NULL};
    static const char *const row_opts[] = {"--cell",  "--activation", "--input",   "--hidden", "--batch",
                                           "--seq",   "--layers",     "--threads", "--precision", "--steps",
                                           "--warmup", "--taps",      "--truncate", "--workload", "--header",
                                           "--out",   NULL};
    if (!takes_only(gemm == 2 ? "--dgemm" : gemm ? "--sgemm" : grid ? "--grid" : "a single row (no --grid)",
                    gemm ? gemm_opts : grid ? grid_opts : row_opts, seen, nseen))
        return CLI_EXIT_USAGE;
    /* rows timed as the runs of an experiment run (first: the new process then warns below once) */
    if (!grid) cli_wait_policy(row.threads);
    else cli_wait_policy_env(); /* the grid's rows, processes of their own, inherit it */
    threads_available(&row.threads);
    if (gemm) {
        if (!have_cell && (have[0] || have[1] || have[2] || have[3])) {
            cli_error("run `rnnlab bench --help`", "--%cgemm takes a row's sizes with its --cell only (W2's without)",
                      gemm == 2 ? 'd' : 's');
            return CLI_EXIT_USAGE;
        }
        if (!have_cell) /* W2's sizes unless a row's are given: then all of them */
            row.model.cell = RNNLAB_CELL_LSTM, row.model.input_size = 128, row.model.hidden_size = 512, row.batch = 64,
            row.seq_len = 50, have[0] = have[1] = have[2] = have[3] = 1;
        if (!have[0] || !have[1] || !have[2] || !have[3]) {
            cli_error("run `rnnlab bench --help`", "--%cgemm with --cell needs --input, --hidden, --batch and --seq too",
                      gemm == 2 ? 'd' : 's');
            return CLI_EXIT_USAGE;
        }
        return run_gemm(&row, gemm == 2, header, stdout);
    }

    if (grid) {
        bench_row rows[64];
        const int n = grid_rows(grid, row.steps, row.warmup, only, rows, 64);
        if (n == -1) {
            cli_error("the grids are: standard, scaling", "unknown grid '%s'", grid);
            return CLI_EXIT_USAGE;
        }
        if (n < 0) return CLI_EXIT_USAGE; /* --only named no workload of the grid (said there) */
        if (list) {
            for (int k = 0; k < n; k++) {
                row_args a;
                row_to_args(&rows[k], &a);
                for (int j = 0; j < a.argc; j++) printf("%s%s", a.argv[j], j + 1 < a.argc ? " " : "\n");
            }
            return CLI_EXIT_OK;
        }
        /* rewrite: the rows go to a fresh OUT.tmp (each child appends its row), which replaces OUT once
           every row is there; a grid stopped or failed midway leaves OUT as it was (a device or FIFO
           is written to as it is) */
        char tmp[PATH_MAX + 16];
        const char *dest = out;
        if (out) {
            struct stat sb;
            if ((stat(out, &sb) != 0 || S_ISREG(sb.st_mode)) && strlen(out) + 5 < sizeof tmp)
                snprintf(tmp, sizeof tmp, "%s.tmp", out), dest = tmp;
            int usage;
            FILE *f = open_out(out, 1, NULL, &usage, dest);
            if (!f) return usage ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
            if (fclose(f) != 0) {
                cli_error(NULL, "cannot write %s", dest);
                return CLI_EXIT_FAIL;
            }
        }
        put_header(stdout);
        int failed = 0;
        for (int k = 0; k < n; k++)
            if (run_child(&rows[k], dest) != 0) failed++;
        if (failed) {
            if (dest != out)
                cli_error(NULL, "%d of %d grid rows failed: %s is unchanged; the rows that ran are in %s", failed, n,
                          out, dest);
            else cli_error(NULL, "%d of %d grid rows failed", failed, n);
            return CLI_EXIT_FAIL;
        }
        if (dest != out && rename(dest, out) != 0) {
            cli_error(NULL, "--out: cannot rename %s to %s: %s", dest, out, strerror(errno));
            return CLI_EXIT_FAIL;
        }
        if (out) fprintf(stderr, "rnnlab: %d rows written to %s\n", n, out);
        return CLI_EXIT_OK;
    }

    if (!have_cell || !have[0] || !have[1] || !have[2] || !have[3]) {
        cli_error("run `rnnlab bench --help`", "bench needs --cell, --input, --hidden, --batch and --seq (or --grid)");
        return CLI_EXIT_USAGE;
    }
    if (!cli_cell_activation(cell_name, row.model.cell, cell_act_set, cell_act, act_name, opt_act, &row.model.activation))
        return CLI_EXIT_USAGE;
    if (row.truncate >= row.seq_len) {
        cli_error("leave --truncate out for full BPTT", "--truncate %d: truncated BPTT needs K below --seq %d",
                  row.truncate, row.seq_len);
        return CLI_EXIT_USAGE;
    }
    if (row.steps < 0) row.steps = default_steps(&row);
    if (row.warmup < 0) row.warmup = 3;
    rnnlab_status st = rnnlab_model_config_check(&row.model);
    if (st) {
        cli_error(NULL, "%s", rnnlab_last_error());
        return CLI_EXIT_USAGE;
    }
    FILE *f = NULL; /* opened (and its header checked) before the measurement, not after it */
    int created = 0;
    int usage;
    if (out && !(f = open_out(out, 0, &created, &usage, NULL))) return usage ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    bench_result res;
    st = run_row(&row, &res);
    if (st) {
        if (f) fclose(f);
        if (f && created) unlink(out); /* a file this row made, with its header alone */
        cli_error(NULL, "%s", rnnlab_last_error());
        return st == RNNLAB_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (header) put_header(stdout);
    put_row(stdout, &row, &res);
    if (f) {
        put_row(f, &row, &res);
        if (fclose(f) != 0) {
            cli_error(NULL, "cannot write %s", out);
            return CLI_EXIT_FAIL;
        }
    }
    return CLI_EXIT_OK;
}
