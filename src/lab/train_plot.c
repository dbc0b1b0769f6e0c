/*
 * train_plot.c - the training figures of an output folder, drawn from its CSV alone with gnuplot
 * (PNG and PDF):
 *
 *   train_loss       loss against updates: the minibatch loss (left) and the validation loss
 *                    (right), one line per setting (the swept keys but seed), mean over seeds,
 *                    log scale, the task's trivial baseline dashed
 *   train_grad_norm  log10 of each layer's pre-clip gradient norm against updates, one panel per
 *                    setting, one line per layer (the head included), mean over seeds
 *   ablation         the test-loss increase when each layer is ablated (final_layers.csv), bars
 *                    grouped by setting, mean over seeds
 *
 * Updates are gathered into at most 400 buckets of equal width per figure (a bucket's point is the
 * mean of its rows), which also smooths the minibatch loss. The data go to
 * <dir>/figures/data/train_*.dat and the script to <dir>/figures/train.gp.
 * Not here: any measurement (train.c).
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

#define TP_MAX_LABELS 32
#define TP_MAX_LAYERS 16 /* layers drawn in train_grad_norm (the head is one more) */
#define TP_BUCKETS 400

enum { PH_UPDATE, PH_VALID, N_PH };

/* What a row callback returns for a file that is not rnnlab's (a missing column, a short row): the
 * status rnnlab_train_plot turns into "not rnnlab training output" (any non-zero return stops the scan
 * with that status, so it must be an error status, not 1, which is RNNLAB_ERR_NOMEM). */
#define TP_FOREIGN RNNLAB_ERR_IO

typedef struct tp_data {
    int pass;
    /* columns of the file being read */
    int c_seed, c_step, c_phase, c_loss, c_layer, c_norm, c_inc;
    /* labels: the key columns between run_id and seed, joined */
    char labels[TP_MAX_LABELS][200];
    int n_labels;
    double baseline[TP_MAX_LABELS];
    long max_step;
    int max_layer; /* largest layer index seen (head = -1) */
    long stride;
    /* sums: [label][phase][bucket] and [label][layer + 1][bucket]: x, y, count */
    double *loss;  /* (labels, N_PH, TP_BUCKETS, 3) */
    double *gnorm; /* (labels, TP_MAX_LAYERS + 1, TP_BUCKETS, 3) */
    double abl[TP_MAX_LABELS][TP_MAX_LAYERS][2]; /* sum, count */
    int n_abl_layers;
} tp_data;

/* The row's label: its key values between run_id (column 0) and seed, space-separated. */
static int label_of(tp_data *p, char **f, int n)
{
    char lab[200] = "";
    for (int i = 1; i < p->c_seed && i < n; i++) {
        const size_t len = strlen(lab);
        snprintf(lab + len, sizeof lab - len, "%s%s", len ? " " : "", f[i]);
    }
    if (!lab[0]) snprintf(lab, sizeof lab, "all runs");
    for (int k = 0; k < p->n_labels; k++)
        if (!strcmp(p->labels[k], lab)) return k;
    if (p->n_labels == TP_MAX_LABELS) return -1;
    snprintf(p->labels[p->n_labels], sizeof p->labels[0], "%s", lab);
    p->baseline[p->n_labels] = NAN;
    return p->n_labels++;
}

static void add(double *a, double x, double y)
{
    a[0] += x, a[1] += y, a[2] += 1;
}

static int train_row(void *user, char **f, int n, long line)
{
    tp_data *p = user;
    if (line == 1) {
        p->c_seed = exp_plot_col(f, n, "seed"), p->c_step = exp_plot_col(f, n, "step"), p->c_phase = exp_plot_col(f, n, "phase");
        p->c_loss = exp_plot_col(f, n, "loss");
        return p->c_seed < 1 || p->c_step < 0 || p->c_phase < 0 || p->c_loss < 0 ? TP_FOREIGN : 0;
    }
    if (n <= p->c_loss) return TP_FOREIGN;
    const int ph = !strcmp(f[p->c_phase], "update") ? PH_UPDATE : !strcmp(f[p->c_phase], "valid") ? PH_VALID : -1;
    const long step = strtol(f[p->c_step], NULL, 10);
    double y;
    const int lab = label_of(p, f, n);
    if (ph < 0 || lab < 0 || !rnnlab_parse_double(f[p->c_loss], &y) || !isfinite(y)) return 0;
    if (p->pass == 0) {
        if (step > p->max_step) p->max_step = step;
        return 0;
    }
    const long b = step / p->stride;
    if (b < TP_BUCKETS) add(p->loss + (((size_t)lab * N_PH + ph) * TP_BUCKETS + b) * 3, (double)step, y);
    return 0;
}

static int layer_row(void *user, char **f, int n, long line)
{
    tp_data *p = user;
    if (line == 1) {
        p->c_seed = exp_plot_col(f, n, "seed"), p->c_step = exp_plot_col(f, n, "step"), p->c_layer = exp_plot_col(f, n, "layer");
        p->c_norm = exp_plot_col(f, n, "grad_norm");
        return p->c_seed < 1 || p->c_step < 0 || p->c_layer < 0 || p->c_norm < 0 ? TP_FOREIGN : 0;
    }
    if (n <= p->c_norm) return TP_FOREIGN;
    const int layer = (int)strtol(f[p->c_layer], NULL, 10), lab = label_of(p, f, n);
    const long step = strtol(f[p->c_step], NULL, 10);
    double y;
    if (lab < 0 || layer < -1 || layer >= TP_MAX_LAYERS) return 0;
    if (layer > p->max_layer) p->max_layer = layer;
    if (!rnnlab_parse_double(f[p->c_norm], &y) || !(y > 0) || !isfinite(y)) return 0;
    const long b = step / p->stride;
    if (b < TP_BUCKETS) add(p->gnorm + (((size_t)lab * (TP_MAX_LAYERS + 1) + layer + 1) * TP_BUCKETS + b) * 3, (double)step, log10(y));
    return 0;
}

static int final_row(void *user, char **f, int n, long line)
{
    tp_data *p = user;
    if (line == 1) {
        p->c_seed = exp_plot_col(f, n, "seed"), p->c_layer = exp_plot_col(f, n, "layer"), p->c_inc = exp_plot_col(f, n, "loss_increase");
        return p->c_seed < 1 || p->c_layer < 0 || p->c_inc < 0 ? TP_FOREIGN : 0;
    }
    if (n <= p->c_inc) return TP_FOREIGN;
    const int layer = (int)strtol(f[p->c_layer], NULL, 10), lab = label_of(p, f, n);
    double y;
    if (lab < 0 || layer < 0 || layer >= TP_MAX_LAYERS || !rnnlab_parse_double(f[p->c_inc], &y) || !isfinite(y)) return 0;
    p->abl[lab][layer][0] += y, p->abl[lab][layer][1] += 1;
    if (layer + 1 > p->n_abl_layers) p->n_abl_layers = layer + 1;
    return 0;
}

static int summary_row(void *user, char **f, int n, long line)
{
    tp_data *p = user;
    if (line == 1) {
        p->c_seed = exp_plot_col(f, n, "seed"), p->c_loss = exp_plot_col(f, n, "baseline_loss");
        return p->c_seed < 1 ? TP_FOREIGN : 0;
    }
    const int lab = label_of(p, f, n);
    double y;
    if (lab >= 0 && p->c_loss >= 0 && p->c_loss < n && rnnlab_parse_double(f[p->c_loss], &y)) p->baseline[lab] = y;
    return 0;
}

/* Writes data/<name> from buckets a (TP_BUCKETS x 3); returns 1 if it has a point, -1 (with an
 * RNNLAB_ERR_IO message) if it cannot be written. */
static int write_series(const char *path, const double *a, int mean_log)
{
    FILE *f = fopen(path, "w");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno)), -1;
    int any = 0;
    fprintf(f, "# step %s\n", mean_log ? "mean_log10_value" : "mean_value");
    for (int b = 0; b < TP_BUCKETS; b++) {
        const double *x = a + (size_t)b * 3;
        if (!x[2]) continue;
        exp_plot_num(f, x[0] / x[2]);
        fputc(' ', f);
        exp_plot_num(f, x[1] / x[2]);
        fputc('\n', f);
        any = 1;
    }
    return exp_plot_close(f, path) ? -1 : any;
}

static rnnlab_status write_figures(tp_data *p, const char *figdir)
{
    char path[PATH_MAX + 128];
    int has_loss[TP_MAX_LABELS][N_PH] = {{0}}, has_norm[TP_MAX_LABELS][TP_MAX_LAYERS + 1] = {{0}};
    for (int k = 0; k < p->n_labels; k++) {
        for (int ph = 0; ph < N_PH; ph++) {
            snprintf(path, sizeof path, "%s/data/train_loss_s%d_%s.dat", figdir, k, ph == PH_UPDATE ? "update" : "valid");
            const int r = write_series(path, p->loss + ((size_t)k * N_PH + ph) * TP_BUCKETS * 3, 0);
            if (r < 0) return RNNLAB_ERR_IO; /* write_series said why */
            has_loss[k][ph] = r;
        }
        for (int l = -1; l <= p->max_layer; l++) {
            snprintf(path, sizeof path, "%s/data/train_grad_s%d_l%d.dat", figdir, k, l + 1);
            const int r = write_series(path, p->gnorm + ((size_t)k * (TP_MAX_LAYERS + 1) + l + 1) * TP_BUCKETS * 3, 1);
            if (r < 0) return RNNLAB_ERR_IO; /* write_series said why */
            has_norm[k][l + 1] = r;
        }
    }
    snprintf(path, sizeof path, "%s/data/train_ablation.dat", figdir);
    FILE *f = fopen(path, "w");
    if (!f) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "# setting then the mean test-loss increase per layer 0..%d\n", p->n_abl_layers - 1);
    for (int k = 0; k < p->n_labels; k++) {
        fprintf(f, "%d", k);
        for (int l = 0; l < p->n_abl_layers; l++) {
            fputc(' ', f);
            if (p->abl[k][l][1]) exp_plot_num(f, p->abl[k][l][0] / p->abl[k][l][1]);
            else fputs("NaN", f);
        }
        fputc('\n', f);
    }
    const rnnlab_status st = exp_plot_close(f, path);
    if (st) return st;

    snprintf(path, sizeof path, "%s/train.gp", figdir);
    if (!(f = fopen(path, "w"))) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    const int cols = p->n_labels <= 1 ? 1 : p->n_labels <= 4 ? 2 : 3, rows = (p->n_labels + cols - 1) / cols;
    fprintf(f, "# Written by rnnlab from ../train.csv, ../train_layers.csv, ../final_layers.csv; run `gnuplot train.gp` here.\n"
               "set datafile missing 'NaN'\n");
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *term = fmt ? "pdfcairo" : "pngcairo", *ext = fmt ? "pdf" : "png";
        fprintf(f, "\n# ---- %s\n", ext);
        fprintf(f, fmt ? "set terminal %s noenhanced size 24cm,10cm font ',9'\n" : "set terminal %s noenhanced size 1200,460 font ',10'\n", term);
        fprintf(f, "set output 'train_loss.%s'\nset multiplot layout 1,2 title 'loss during training (mean over seeds)'\n"
                   "set logscale y\nset grid\nset key top right font ',8'\nset xlabel 'updates'\nset ylabel 'loss'\n",
                ext);
        for (int ph = 0; ph < N_PH; ph++) {
            fprintf(f, "set title '%s'\nplot ", ph == PH_UPDATE ? "minibatch (training mode)" : "validation");
            int first = 1;
            for (int k = 0; k < p->n_labels; k++) {
                if (!has_loss[k][ph]) continue;
                fprintf(f, "%s'data/train_loss_s%d_%s.dat' using 1:2 with lines lw 1.5 lc %d title ", first ? "" : ", ", k,
                        ph == PH_UPDATE ? "update" : "valid", k + 1);
                exp_plot_string(f, p->labels[k]);
                first = 0;
                if (isfinite(p->baseline[k]) && p->baseline[k] > 0) {
                    fputs(", ", f);
                    exp_plot_num(f, p->baseline[k]);
                    fprintf(f, " with lines dt 2 lc %d notitle", k + 1);
                }
            }
            if (first) exp_plot_nothing(f, "no finite loss");
            fputc('\n', f);
        }
        fprintf(f, "unset multiplot\nunset logscale y\nset output\n");
        fprintf(f, fmt ? "set terminal %s noenhanced size %dcm,%dcm font ',9'\n" : "set terminal %s noenhanced size %d,%d font ',10'\n",
                term, fmt ? 14 * cols : 560 * cols, fmt ? 9 * rows : 360 * rows);
        fprintf(f, "set output 'train_grad_norm.%s'\nset multiplot layout %d,%d title 'log10 pre-clip gradient norm by layer "
                   "(mean over seeds)'\nset ylabel 'log10 ||dL/dtheta_layer||'\n",
                ext, rows, cols);
        for (int k = 0; k < p->n_labels; k++) {
            fprintf(f, "set title ");
            exp_plot_string(f, p->labels[k]);
            fprintf(f, "\nplot ");
            int first = 1;
            for (int l = -1; l <= p->max_layer; l++) {
                if (!has_norm[k][l + 1]) continue;
                fprintf(f, "%s'data/train_grad_s%d_l%d.dat' using 1:2 with lines lw 1.5 title '%s", first ? "" : ", ", k, l + 1,
                        l < 0 ? "head" : "layer ");
                if (l >= 0) fprintf(f, "%d", l);
                fputc('\'', f);
                first = 0;
            }
            if (first) exp_plot_nothing(f, "no finite gradient norm");
            fputc('\n', f);
        }
        fprintf(f, "unset multiplot\nset output\n");
        fprintf(f, fmt ? "set terminal %s noenhanced size 16cm,10cm font ',9'\n" : "set terminal %s noenhanced size 720,460 font ',10'\n", term);
        fprintf(f, "set output 'ablation.%s'\nset title 'test-loss increase when a layer is ablated (mean over seeds)'\n"
                   "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
                   "set xlabel 'setting'\nset ylabel 'loss increase'\nset xtics rotate by -30 font ',8'\nset key top left\n",
                ext);
        if (p->n_abl_layers < 1) {
            fputs("plot ", f);
            exp_plot_nothing(f, "no layer ablated (ablation = none, or every run diverged)");
            fputc('\n', f);
        }
        else {
            fprintf(f, "set xtics (");
            for (int k = 0; k < p->n_labels; k++) {
                fprintf(f, "%s", k ? ", " : "");
                exp_plot_string(f, p->labels[k]);
                fprintf(f, " %d", k);
            }
            fprintf(f, ")\nplot ");
            for (int l = 0; l < p->n_abl_layers; l++)
                fprintf(f, "%s'data/train_ablation.dat' using %d title 'layer %d'", l ? ", " : "", l + 2, l);
            fputc('\n', f);
        }
        fprintf(f, "unset style data\nset xtics autofreq norotate\nset output\n");
    }
    return exp_plot_close(f, path);
}

rnnlab_status rnnlab_train_plot(const char *dir)
{
    RNNLAB_REQUIRE_PTR("rnnlab_train_plot", dir);
    tp_data *p = rnnlab_calloc(1, sizeof *p);
    if (!p) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    char path[PATH_MAX + 64], figdir[PATH_MAX];
    p->max_layer = -1;
    snprintf(path, sizeof path, "%s/train.csv", dir);
    rnnlab_error_clear(); /* the check below reads the message of a failed scan */
    rnnlab_status st = exp_plot_scan(path, train_row, p);
    if (!st && p->max_step < 1) st = rnnlab_error(RNNLAB_ERR_IO, "%s: no training rows to plot", path);
    p->stride = p->max_step / TP_BUCKETS + 1;
    p->pass = 1;
    p->loss = rnnlab_calloc((size_t)TP_MAX_LABELS * N_PH * TP_BUCKETS * 3, sizeof(double));
    p->gnorm = rnnlab_calloc((size_t)TP_MAX_LABELS * (TP_MAX_LAYERS + 1) * TP_BUCKETS * 3, sizeof(double));
    if (!st && (!p->loss || !p->gnorm)) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory plotting");
    if (!st) st = exp_plot_scan(path, train_row, p);
    snprintf(path, sizeof path, "%s/train_layers.csv", dir);
    if (!st) st = exp_plot_scan(path, layer_row, p);
    snprintf(path, sizeof path, "%s/final_layers.csv", dir);
    if (!st) st = exp_plot_scan(path, final_row, p);
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    if (!st) st = exp_plot_scan(path, summary_row, p);
    if (st == RNNLAB_ERR_IO && !strstr(rnnlab_last_error(), dir))
        st = rnnlab_error(RNNLAB_ERR_IO, "%s: not rnnlab training output (train.csv, train_layers.csv, final_layers.csv)", dir);
    if (!st) st = exp_plot_dirs(dir, figdir, sizeof figdir);
    if (!st) st = write_figures(p, figdir);
    static const char *const figures[] = {"train_loss", "train_grad_norm", "ablation", NULL};
    if (!st) st = exp_plot_gnuplot(figdir, "train.gp", "gnuplot-train.log", figures);
    rnnlab_free(p->loss), rnnlab_free(p->gnorm), rnnlab_free(p);
    return st;
}
