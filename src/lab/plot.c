/*
 * plot.c - the figures of an output folder, drawn from its CSV alone with gnuplot (PNG and PDF).
 *
 *   decay       log10 ||dL/dh_t|| of the top layer against t, mean over seeds, one line per setting
 *               (the swept keys other than seq_len and seed), one panel per sequence length
 *   decay_rate  the decay rate (summary.csv, decades per step) against sequence length, one line per
 *               setting, mean over seeds
 *   heatmap     layer x time of log10 ||dL/dh_t|| at each setting's longest sequence, one panel per setting
 *
 * The aggregated data go to <dir>/figures/data/ (.dat files) and the script to <dir>/figures/figures.gp, so
 * a figure can be restyled by editing the script and running gnuplot on it.
 * Not here: any measurement (experiment.c).
 */
#include "lab/lab_internal.h"
#include "rnnlab/csvio.h"
#include "rnnlab/format.h"
#include "core/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64

typedef struct run_info {
    long id;
    int label;   /* index into labels */
    int panel;   /* index into panels */
    double rate; /* summary decay rate */
    int top;     /* top layer */
} run_info;

typedef struct plot_data {
    /* header analysis */
    int n_keys;           /* swept key columns between run_id and seed */
    char keys[16][48];
    int seq_col;          /* which key is seq_len, or -1 */
    int col_layer, col_t, col_norm, col_rate, col_status, col_cell, col_seq; /* in the current file */
    int n_cols;           /* the current file's header fields: every row has as many */
    /* groups */
    char labels[MAX_GROUPS][160];
    int n_labels;
    long panels[MAX_GROUPS]; /* sequence lengths */
    int n_panels;
    run_info *runs;
    long n_runs, cap_runs;
    long max_t; /* largest sequence length seen: in summary.csv, or steps in decay.csv */
    int top[MAX_GROUPS][MAX_GROUPS]; /* [label][panel]: the top layer with rows, -1 none (find_tops) */
    long steps[MAX_GROUPS]; /* steps each panel's rows have (max t + 1): a swept seq_len column holds T as
                               written, which variable-length tasks pass (T + T/10) and 0 (whole pieces) means */
    int max_layers;
    /* sums of log10 norms: [label][panel][layer][t] flattened after sizes are known */
    double *sum;
    int *cnt;
    int pass; /* 0: summary, 1: decay */
    rnnlab_status err;
    const char *path; /* the file being read, for messages */
} plot_data;

/* A field that should hold a number and does not: "path:line: column: why". */
static int bad_field(const plot_data *p, long line, const char *column, const char *v)
{
    return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %s: expected a number, got '%.40s'", p->path, line, column, v);
}

/* An integer field (run_id, seq_len, layer, t). */
static int int_field(const plot_data *p, char **f, int n, int col, long line, const char *column, long *out)
{
    if (col >= n) return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %s: missing (the row is short)", p->path, line, column);
    return exp_parse_long(f[col], out) ? 0 : bad_field(p, line, column, f[col]);
}

static int group_of(char (*names)[160], int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    if (*n == MAX_GROUPS) return -1;
    snprintf(names[*n], 160, "%s", s);
    return (*n)++;
}

static run_info *find_run(plot_data *p, long id)
{
    long lo = 0, hi = p->n_runs - 1; /* runs are read in run_id order */
    while (lo <= hi) {
        const long mid = (lo + hi) / 2;
        if (p->runs[mid].id == id) return &p->runs[mid];
        if (p->runs[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* A row with another field count than the header (a damaged or edited file): RNNLAB_ERR_IO. */
static int row_width(const plot_data *p, int n, long line)
{
    return n == p->n_cols ? 0
                          : rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: %d fields where the header has %d (a damaged or edited row)",
                                         p->path, line, n, p->n_cols);
}

static int summary_row(void *user, char **f, int n, long line)
{
    plot_data *p = user;
    if (line > 1 && row_width(p, n, line)) return RNNLAB_ERR_IO;
    if (line == 1) {
        p->n_cols = n;
        const int seed = exp_plot_col(f, n, "seed");
        if (n < 2 || strcmp(f[0], "run_id") || seed < 1) return RNNLAB_ERR_IO;
        p->n_keys = 0, p->seq_col = -1;
        for (int i = 1; i < seed && p->n_keys < 16; i++) {
            if (!strcmp(f[i], "seq_len")) p->seq_col = i;
            snprintf(p->keys[p->n_keys++], 48, "%s", f[i]);
        }
        p->col_rate = exp_plot_col(f, n, "decay_rate");
        p->col_status = exp_plot_col(f, n, "status");
        p->col_cell = exp_plot_col(f, n, "cell");
        p->col_seq = p->seq_col >= 0 ? p->seq_col : exp_plot_col(f, n, "seq_len");
        return p->col_rate < 0 || p->col_seq < 0 ? RNNLAB_ERR_IO : 0;
    }
    char label[160] = "";
    for (int i = 1; i <= p->n_keys && i < n; i++) {
        if (i == p->seq_col) continue;
        double num; /* a bare number says nothing without its key: "forget_bias=3", but "lstm" */
        const int bare = rnnlab_parse_double(f[i], &num);
        snprintf(label + strlen(label), sizeof label - strlen(label), "%s%s%s%s", label[0] ? " / " : "",
                 bare ? p->keys[i - 1] : "", bare ? "=" : "", f[i]);
    }
    if (!label[0] && p->col_cell >= 0 && p->col_cell < n) snprintf(label, sizeof label, "%s", f[p->col_cell]);
    if (!label[0]) snprintf(label, sizeof label, "all runs");
    if (p->n_runs == p->cap_runs) {
        const long cap = p->cap_runs ? 2 * p->cap_runs : 256;
        run_info *r = rnnlab_malloc((size_t)cap * sizeof *r);
        if (!r) return RNNLAB_ERR_NOMEM;
        if (p->n_runs) memcpy(r, p->runs, (size_t)p->n_runs * sizeof *r);
        rnnlab_free(p->runs);
        p->runs = r, p->cap_runs = cap;
    }
    long id, T;
    int bad;
    if ((bad = int_field(p, f, n, 0, line, "run_id", &id)) || (bad = int_field(p, f, n, p->col_seq, line, "seq_len", &T)))
        return bad;
    run_info *r = &p->runs[p->n_runs++];
    r->id = id;
    r->label = group_of(p->labels, &p->n_labels, label);
    int pi = -1;
    for (int i = 0; i < p->n_panels; i++)
        if (p->panels[i] == T) pi = i;
    if (pi < 0 && p->n_panels < MAX_GROUPS) pi = p->n_panels, p->panels[p->n_panels++] = T;
    r->panel = pi;
    if (T > p->max_t) p->max_t = T;
    r->rate = NAN; /* empty for a run that diverged */
    if (p->col_rate < n && f[p->col_rate][0] && !rnnlab_parse_double(f[p->col_rate], &r->rate))
        return bad_field(p, line, "decay_rate", f[p->col_rate]);
    r->top = -1;
    return r->label < 0 || r->panel < 0 ? RNNLAB_ERR_IO : 0;
}

/* A panel's place on the decay-rate plot's (logarithmic) T axis: its T, or for T = 0 (whole
 * sequences) the steps its rows have. */
static long panel_x(const plot_data *p, int pi) { return p->panels[pi] > 0 ? p->panels[pi] : p->steps[pi]; }

/* The panels in order of their sequence length (first seen first among equal ones): a file's blocks
 * may come in any order (T = 784 after 800). */
static void panel_order(const plot_data *p, int order[MAX_GROUPS])
{
    for (int pi = 0; pi < p->n_panels; pi++) {
        int j = pi;
        for (; j > 0 && panel_x(p, order[j - 1]) > panel_x(p, pi); j--) order[j] = order[j - 1];
        order[j] = pi;
    }
}

/* The panel a setting's heat map shows: the one with the most steps among those the setting has
 * rows at (0 when it has none). */
static int heat_panel(const plot_data *p, int li);

static size_t cell_index(const plot_data *p, int label, int panel, int layer, long t)
{
    return (((size_t)label * p->n_panels + panel) * p->max_layers + layer) * (size_t)p->max_t + (size_t)t;
}

static int decay_row(void *user, char **f, int n, long line)
{
    plot_data *p = user;
    if (line > 1 && row_width(p, n, line)) return RNNLAB_ERR_IO;
    if (line == 1) {
        p->n_cols = n;
        p->col_layer = exp_plot_col(f, n, "layer");
        p->col_t = exp_plot_col(f, n, "t");
        p->col_norm = exp_plot_col(f, n, "grad_norm_h");
        return p->col_layer < 0 || p->col_t < 0 || p->col_norm < 0 ? RNNLAB_ERR_IO : 0;
    }
    long id, layer_l, t;
    int bad;
    if ((bad = int_field(p, f, n, 0, line, "run_id", &id)) || (bad = int_field(p, f, n, p->col_layer, line, "layer", &layer_l)) ||
        (bad = int_field(p, f, n, p->col_t, line, "t", &t)))
        return bad;
    if (n <= p->col_norm) return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: grad_norm_h: missing (the row is short)", p->path, line);
    double v;
    if (!rnnlab_parse_double(f[p->col_norm], &v)) return bad_field(p, line, "grad_norm_h", f[p->col_norm]);
    run_info *r = find_run(p, id);
    if (!r) return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: run_id: run %ld is not in summary.csv", p->path, line, id);
    if (t < 0 || t >= 1L << 24) /* steps, not the written T, which variable-length tasks pass */
        return rnnlab_error(RNNLAB_ERR_IO, "%s:%ld: t: %ld is not a step (0 to 2^24 - 1)", p->path, line, t);
    if (layer_l < 0 || layer_l > 1 << 20) return bad_field(p, line, "layer", f[p->col_layer]);
    const int layer = (int)layer_l;
    if (p->pass == 1) { /* first decay pass: layer counts */
        if (layer + 1 > p->max_layers) p->max_layers = layer + 1;
        if (layer > r->top) r->top = layer;
        if (t + 1 > p->max_t) p->max_t = t + 1;
        if (t + 1 > p->steps[r->panel]) p->steps[r->panel] = t + 1;
        return 0;
    }
    if (layer >= p->max_layers || t < 0 || t >= p->max_t) return 0;
    if (!(v > 0) || !isfinite(v)) return 0; /* an underflowed or non-finite norm has no log10 */
    const size_t k = cell_index(p, r->label, r->panel, layer, t);
    p->sum[k] += log10(v);
    p->cnt[k]++;
    return 0;
}

/* Each setting's top layer at each sequence length, once the sums are in: the largest layer with
 * rows there (settings may differ in depth), or -1 when it has none (every such run diverged in the
 * forward pass, or the setting does not run at that length). */
static void find_tops(plot_data *p)
{
    for (int li = 0; li < p->n_labels; li++)
        for (int pi = 0; pi < p->n_panels; pi++) {
            int top = -1;
            for (int l = p->max_layers - 1; l >= 0 && top < 0; l--)
                for (long t = 0; t < p->max_t && top < 0; t++)
                    if (p->cnt[cell_index(p, li, pi, l, t)]) top = l;
            p->top[li][pi] = top;
        }
}

static int top_layer(const plot_data *p, int li, int pi) { return p->top[li][pi]; }

static int heat_panel(const plot_data *p, int li)
{
    int best = -1;
    for (int pi = 0; pi < p->n_panels; pi++)
        if (top_layer(p, li, pi) >= 0 && (best < 0 || p->steps[pi] > p->steps[best])) best = pi;
    return best < 0 ? 0 : best;
}

static rnnlab_status write_data(const plot_data *p, const char *figdir)
{
    char path[PATH_MAX + 64];
    for (int li = 0; li < p->n_labels; li++) {
        for (int pi = 0; pi < p->n_panels; pi++) { /* decay: the setting's top layer */
            snprintf(path, sizeof path, "%s/data/decay_p%d_s%d.dat", figdir, pi, li);
            FILE *f = fopen(path, "w");
            if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            fprintf(f, "# t mean_log10_grad_norm_h (top layer)\n");
            const int top = top_layer(p, li, pi);
            for (long t = 0; t < p->max_t && top >= 0; t++) {
                const size_t k = cell_index(p, li, pi, top, t);
                if (!p->cnt[k]) continue;
                fprintf(f, "%ld ", t);
                exp_plot_num(f, p->sum[k] / p->cnt[k]);
                fputc('\n', f);
            }
            const rnnlab_status st = exp_plot_close(f, path);
            if (st) return st;
        }
        snprintf(path, sizeof path, "%s/data/rate_s%d.dat", figdir, li);
        FILE *f = fopen(path, "w");
        if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        fprintf(f, "# seq_len mean_decay_rate_decades_per_step\n");
        int order[MAX_GROUPS];
        panel_order(p, order);
        for (int oi = 0; oi < p->n_panels; oi++) {
            const int pi = order[oi];
            double s = 0;
            int c = 0;
            for (long r = 0; r < p->n_runs; r++)
                if (p->runs[r].label == li && p->runs[r].panel == pi && isfinite(p->runs[r].rate)) s += p->runs[r].rate, c++;
            if (!c) continue;
            fprintf(f, "%ld ", panel_x(p, pi));
            exp_plot_num(f, s / c);
            fputc('\n', f);
        }
        rnnlab_status st = exp_plot_close(f, path);
        if (st) return st;
        /* heat map at the setting's own longest sequence (blocks of one file run different T) */
        const int longest = heat_panel(p, li);
        snprintf(path, sizeof path, "%s/data/heat_s%d.dat", figdir, li);
        f = fopen(path, "w");
        if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        fprintf(f, "# t layer mean_log10_grad_norm_h (seq_len %ld)\n", p->panels[longest]);
        /* gnuplot's `with image` draws nothing from a grid of one row: one layer gets a second row of
           NaN (transparent), which the y range leaves out */
        for (int l = 0; l < (p->max_layers > 1 ? p->max_layers : 2); l++) {
            for (long t = 0; t < p->steps[longest]; t++) {
                const size_t k = l < p->max_layers ? cell_index(p, li, longest, l, t) : 0;
                fprintf(f, "%ld %d ", t, l);
                if (l < p->max_layers && p->cnt[k]) exp_plot_num(f, p->sum[k] / p->cnt[k]);
                else fputs("NaN", f);
                fputc('\n', f);
            }
            fputc('\n', f);
        }
        if ((st = exp_plot_close(f, path))) return st;
    }
    return RNNLAB_OK;
}

static rnnlab_status write_script(const plot_data *p, const char *figdir)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/figures.gp", figdir);
    FILE *f = fopen(path, "w");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    const int cols = p->n_panels <= 1 ? 1 : p->n_panels <= 4 ? 2 : 3, rows = (p->n_panels + cols - 1) / cols;
    const int hcols = p->n_labels <= 1 ? 1 : p->n_labels <= 4 ? 2 : 3, hrows = (p->n_labels + hcols - 1) / hcols;
    /* the decay-rate axis' tics at the sequence lengths, in order; one within 15% of the last labelled
       one (784 beside 800) gets a tic without a label, so labels do not print over each other */
    int order[MAX_GROUPS];
    long xs[MAX_GROUPS];
    panel_order(p, order);
    for (int i = 0; i < p->n_panels; i++) xs[i] = panel_x(p, order[i]);
    char tics[4096] = "";
    for (int i = 0, last = -1; i < p->n_panels; i++) {
        const int labelled = last < 0 || (double)xs[i] >= 1.15 * (double)xs[last];
        if (labelled) last = i;
        if (labelled) snprintf(tics + strlen(tics), sizeof tics - strlen(tics), "%s\"%ld\" %ld", i ? ", " : "", xs[i], xs[i]);
        else snprintf(tics + strlen(tics), sizeof tics - strlen(tics), "%s\"\" %ld", i ? ", " : "", xs[i]);
    }
    const int wide = p->n_labels > 6; /* many settings: the key beside the plot, not over the points */
    fprintf(f, "# Written by rnnlab plot from ../decay.csv and ../summary.csv; run `gnuplot figures.gp` here.\n");
    fprintf(f, "set datafile missing 'NaN'\n");
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *term = fmt ? "pdfcairo" : "pngcairo", *ext = fmt ? "pdf" : "png";
        /* integers only: a decimal point would follow the user's locale in printf */
        const int w = fmt ? 14 * cols : 560 * cols, h = fmt ? 10 * rows : 400 * rows;
        fprintf(f, "\n# ---- %s\n", ext);
        fprintf(f, fmt ? "set terminal %s noenhanced size %dcm,%dcm font ',9'\n"
                       : "set terminal %s noenhanced size %d,%d font ',10'\n",
                term, w, h);
        fprintf(f, "set output 'decay.%s'\nset multiplot layout %d,%d title 'log10 ||dL/dh_t|| (top layer, mean over seeds)'\n",
                ext, rows, cols);
        fprintf(f, "set key bottom right font ',8'\nset grid\nset xlabel 't (step)'\n"
                   "set ylabel 'log10 ||dL/dh_t||'\n");
        for (int oi = 0; oi < p->n_panels; oi++) {
            const int pi = order[oi];
            if (p->panels[pi]) fprintf(f, "set title 'T = %ld'\nplot ", p->panels[pi]);
            else fprintf(f, "set title 'whole sequences (up to %ld steps)'\nplot ", p->steps[pi]);
            int drawn = 0; /* settings without rows at this T are left out (gnuplot warns of empty files) */
            for (int li = 0; li < p->n_labels; li++) {
                if (top_layer(p, li, pi) < 0) continue;
                fprintf(f, "%s'data/decay_p%d_s%d.dat' using 1:2 with lines lw 1.5 title ", drawn++ ? ", " : "", pi, li);
                exp_plot_string(f, p->labels[li]);
            }
            if (!drawn) exp_plot_nothing(f, "no run at this T has gradient rows");
            fputc('\n', f);
        }
        fprintf(f, "unset multiplot\nset output\n");
        fprintf(f, fmt ? "set terminal %s noenhanced size %dcm,10cm font ',9'\n"
                       : "set terminal %s noenhanced size %d,460 font ',10'\n",
                term, fmt ? (wide ? 21 : 14) : (wide ? 960 : 640));
        fprintf(f, "set output 'decay_rate.%s'\nset title 'decay rate of ||dL/dh_t|| (top layer, mean over seeds)'\n"
                   "set xlabel 'sequence length T'\nset ylabel 'decay rate (decades per step)'\nset logscale x 2\nset xtics (%s)\n"
                   "set key %s font ',8'\n",
                ext, tics, wide ? "outside right top" : "top right");
        if (p->n_panels == 1) /* one sequence length: a range around it, not an empty one */
            fprintf(f, "set xrange [%ld:%ld]\n", panel_x(p, 0) / 2 > 0 ? panel_x(p, 0) / 2 : 1, 2 * panel_x(p, 0));
        fprintf(f, "plot ");
        int drawn = 0;
        for (int li = 0; li < p->n_labels; li++) {
            int rated = 0; /* a setting whose every run diverged has no rate */
            for (long r = 0; r < p->n_runs && !rated; r++) rated = p->runs[r].label == li && isfinite(p->runs[r].rate);
            if (!rated) continue;
            /* gnuplot has 8 line colours: each further 8 settings get another point shape */
            static const int shape[] = {7, 5, 9, 11, 13, 15};
            fprintf(f, "%s'data/rate_s%d.dat' using 1:2 with linespoints lw 1.5 pt %d title ", drawn++ ? ", " : "", li,
                    shape[(li / 8) % 6]);
            exp_plot_string(f, p->labels[li]);
        }
        if (!drawn) exp_plot_nothing(f, "no setting has a decay rate (every run diverged)");
        fprintf(f, "\nunset logscale x\nset xtics autofreq\nset autoscale x\nset key inside\nset output\n");
        fprintf(f, fmt ? "set terminal %s noenhanced size %dcm,%dcm font ',9'\n"
                       : "set terminal %s noenhanced size %d,%d font ',10'\n",
                term, fmt ? 14 * hcols : 560 * hcols, fmt ? 8 * hrows : 300 * hrows);
        /* NaN as a value there, not a missing point: `with image` needs the whole grid, and a NaN
           pixel (a layer the setting does not have, a step without data) is left transparent */
        fprintf(f, "unset datafile missing\n");
        fprintf(f, "set output 'heatmap.%s'\nset multiplot layout %d,%d title 'log10 ||dL/dh_t|| by layer and step (each "
                   "setting at its longest T, on its own colour scale)'\n"
                   "set xlabel 't'\nset ylabel 'layer'\nset ytics 1\nset palette rgbformulae 33,13,10\nunset key\nunset grid\n"
                   "set yrange [-0.5:%d.5]\n",
                ext, hrows, hcols, p->max_layers - 1);
        for (int li = 0; li < p->n_labels; li++) {
            const long steps = p->steps[heat_panel(p, li)];
            fprintf(f, "set xrange [-0.5:%ld]\nset title ", steps > 1 ? steps - 1 : 1);
            exp_plot_string(f, p->labels[li]);
            fprintf(f, "\nplot 'data/heat_s%d.dat' using 1:2:3 with image\n", li);
        }
        fprintf(f, "unset multiplot\nset output\nset ytics autofreq\nset grid\nset autoscale xy\n"
                   "set datafile missing 'NaN'\n");
    }
    return exp_plot_close(f, path);
}

rnnlab_status rnnlab_plot(const char *dir)
{
    RNNLAB_REQUIRE_PTR("rnnlab_plot", dir);
    plot_data *p = rnnlab_calloc(1, sizeof *p);
    if (!p) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    char path[PATH_MAX + 64], figdir[PATH_MAX];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    p->path = path;
    rnnlab_status st = exp_plot_scan(path, summary_row, p);
    if (st == RNNLAB_ERR_IO && !strstr(rnnlab_last_error(), path))
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: not an rnnlab summary.csv (columns run_id ... seed ... decay_rate)", path);
    if (!st && !p->n_runs) st = rnnlab_error(RNNLAB_ERR_IO, "%s: no runs to plot yet", path);
    snprintf(path, sizeof path, "%s/decay.csv", dir);
    if (!st) p->pass = 1, st = exp_plot_scan(path, decay_row, p);
    if (!st && (p->max_layers < 1 || p->max_t < 1))
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: no gradient rows to plot (every run diverged?)", path);
    if (!st) {
        const size_t n = (size_t)p->n_labels * p->n_panels * p->max_layers * (size_t)p->max_t;
        p->sum = rnnlab_calloc(n, sizeof(double));
        p->cnt = rnnlab_calloc(n, sizeof(int));
        if (!p->sum || !p->cnt) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory plotting");
    }
    if (!st) p->pass = 2, st = exp_plot_scan(path, decay_row, p);
    if (!st) find_tops(p);
    if (st == RNNLAB_ERR_IO && !strstr(rnnlab_last_error(), dir))
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: not an rnnlab decay.csv", path);
    if (!st) st = exp_plot_dirs(dir, figdir, sizeof figdir);
    if (!st) st = write_data(p, figdir);
    if (!st) st = write_script(p, figdir);
    static const char *const figures[] = {"decay", "decay_rate", "heatmap", NULL};
    if (!st) st = exp_plot_gnuplot(figdir, "figures.gp", "gnuplot.log", figures);
    rnnlab_free(p->runs), rnnlab_free(p->sum), rnnlab_free(p->cnt), rnnlab_free(p);
    return st;
}
