/*
 * lab_internal.h - the experiment's in-memory form, shared by config.c (parsing, checking, grid),
 * experiment.c (running, resuming, shards), train.c, and the figure writers plot.c, train_plot.c and
 * gnuplot.c (internal).
 */
#ifndef RNNLAB_LAB_INTERNAL_H
#define RNNLAB_LAB_INTERNAL_H

#include "rnnlab/bptt.h"
#include "rnnlab/csvio.h"
#include "rnnlab/data.h"
#include "rnnlab/experiment.h"
#include "rnnlab/init.h"
#include "rnnlab/model.h"
#include "rnnlab/train.h"

#include <stdio.h>
#include <string.h>

#define EXP_MAX_DIMS 16
#define EXP_MAX_ENTRIES 4096 /* keys outside [sweep] in one experiment file */
#define EXP_MAX_TASK_OPTS 32
#define EXP_MAX_GRID 1000000L

/* One key = value line of the file (continuation lines already joined). */
typedef struct exp_entry {
    char section[48];
    char key[48];
    char *value; /* owned */
    int line;
} exp_entry;

/* One [sweep] key: the list of values it takes, expanded. */
typedef struct exp_dim {
    int block;        /* the block it sweeps */
    int col;          /* its key column (index into the experiment's cols) */
    char section[16]; /* the section the key belongs to: model, task (the block's) or run */
    char key[48];
    char column[48]; /* its CSV column: the key, "task" for task.name */
    int line;
    int n, cap;
    char **values; /* (n) of (cap), owned */
} exp_dim;

/* What a run measures ([measure]). */
typedef struct exp_measure {
    rnnlab_loss_at loss_at;  /* the decay probe's loss position (default last) */
    int truncate;            /* truncation length of the probe's BPTT (0 = full) */
    int jacobian;            /* compute ||ds_T / ds_t|| */
    int jacobian_samples;    /* samples averaged */
    int jacobian_max_hidden; /* skip the Jacobian for larger H */
    int saturation;          /* saturation statistics */
    rnnlab_split split;      /* the probe batch's split */
    long batch_index;        /* and its index */
} exp_measure;

#define EXP_MAX_BLOCKS 8

/* A block: one [task] (or [task.NAME]) with its [sweep] (or [sweep.NAME]); the experiment's grid is
 * the blocks' grids one after another. */
typedef struct exp_block {
    char name[32];         /* NAME for [task.NAME]; for [task], its task's name (or "main" if taken) */
    char task_section[48]; /* "task" or "task.NAME" */
    long first, size;      /* its run ids: first .. first + size - 1 */
} exp_block;

/* Training in the runner (train.c): on when the file has [train] keys (or `rnnlab train` says so);
 * the other fields are set by rnnlab_experiment_run for the runs it starts. */
typedef struct exp_train_ctx {
    int on;
    char dir[4200]; /* the output folder: checkpoints/ goes there */
    FILE *progress; /* per-update progress line (one run at a time only), or NULL */
    int tty, quiet, jobs;
} exp_train_ctx;

struct rnnlab_experiment {
    char path[1024];
    char *text; /* the file's bytes, NUL-terminated, owned */
    size_t text_len;
    unsigned long crc; /* zlib crc32 of the file's bytes */
    char name[128];
    char description[1024];
    char out_dir[1024];
    exp_entry *entries; /* every entry outside [sweep], owned */
    int n_entries, entries_cap; /* at most EXP_MAX_ENTRIES */
    exp_dim dims[EXP_MAX_DIMS]; /* every block's, in file order */
    int n_dims;
    exp_block blocks[EXP_MAX_BLOCKS];
    int n_blocks;
    char cols[EXP_MAX_DIMS][48]; /* the key columns: every swept key once, in file order */
    int n_cols;
    long grid_size;
    exp_measure measure;
    exp_train_ctx train;
    int threads, jobs; /* 0 = auto */
    int figures;       /* [output] figures */
    int figures_drawn; /* the last run drew them all */
};

/* One grid point, fully resolved. Strings point into the experiment (valid while it lives). */
typedef struct exp_run {
    long id;
    rnnlab_model_config model; /* input_size and output_size from the task */
    rnnlab_init_config init;
    char init_name[32];        /* the init preset's name */
    int ftz;
    const char *task;
    rnnlab_option task_opts[EXP_MAX_TASK_OPTS];
    int n_task_opts;
    int batch;
    unsigned long long seed, data_seed, model_seed;
    int block;
    const char *col_values[EXP_MAX_DIMS]; /* the swept value of each key column, NULL where this run's block
                                            does not sweep it */
    const char *col_fixed[EXP_MAX_DIMS];  /* there: the value its section sets, or NULL */
    rnnlab_train_config train; /* [train] with the sweep's values (used when the experiment trains) */
} exp_run;

/*
 * Resolves grid point id into *r: the entries with the sweep's values applied, parsed and checked.
 * With task_info non-NULL also opens the task once to learn I, O and T (and to check its options);
 * *task_info is filled. Errors: RNNLAB_ERR_CONFIG "file:line: key: why"; RNNLAB_ERR_IO.
 */
rnnlab_status exp_resolve(const rnnlab_experiment *e, long id, exp_run *r, rnnlab_task_info *task_info);

/* Run r's task option `key` (its value and line), or NULL when the file does not set it. */
const rnnlab_option *exp_task_opt(const exp_run *r, const char *key);

/* The text of key column c of run r: its swept value, else the value its section sets, else the
 * value the run uses (seq_len: the task's T, pass -1 if unknown; cell, init, hidden_size, num_layers,
 * precision, norm, task), else "" (does not apply). buf holds at least 32 bytes. */
const char *exp_column_value(const exp_run *r, const rnnlab_experiment *e, int c, int T, char *buf, size_t n);

/* Sets the run's input and output sizes (from its task) and the model seed that depends on them. */
void exp_set_io(exp_run *r, int input_size, int output_size);

/* 64-bit FNV-1a of a string (Fowler, Noll & Vo), for seed derivation. */
unsigned long long exp_fnv1a64(const char *s);

/* The key columns every CSV file starts with (run_id, [block,] the swept keys, seed), and a run's
 * values (T: the run's sequence length, for a seq_len column its block does not sweep). */
void exp_key_columns(const rnnlab_experiment *e, rnnlab_csvbuf *b);
void exp_key_values(const rnnlab_experiment *e, const exp_run *r, int T, rnnlab_csvbuf *b);

/* ---------------------------------------------------------------- training (train.c) */

/* train.csv, train_layers.csv, train_probe.csv, units.csv, final_layers.csv (named in experiment.c) */
#define EXP_TRAIN_FILES 5

/* Writes the header rows of the training files (files[EXP_TRAIN_FILES], each row ended) and appends
 * the summary's training column names to summary (its row is not ended). */
void exp_train_headers(const rnnlab_experiment *e, rnnlab_csvbuf *files, rnnlab_csvbuf *summary);

/*
 * Trains grid point r's model m (initialised, or loaded from [train] init_from; the decay probe at
 * initialisation already done) on ds,
 * resuming from <e->train.dir>/checkpoints/run-<id>.ckpt when it is there and saving it every
 * checkpoint_every updates and at the end; appends the run's rows to files[EXP_TRAIN_FILES] and its
 * training columns to summary (row not ended). A run that diverges is not an error: it is recorded.
 * Errors: RNNLAB_ERR_IO (checkpoints), RNNLAB_ERR_CONFIG (a checkpoint of another run),
 *         RNNLAB_ERR_NOMEM, data errors.
 */
rnnlab_status exp_train_run(const rnnlab_experiment *e, const exp_run *r, rnnlab_dataset *ds, rnnlab_model *m,
                            rnnlab_csvbuf *files, rnnlab_csvbuf *summary);

/* Removes the checkpoints of a results folder (--fresh): every checkpoints/run-<id>.ckpt and
 * run-<id>.ckpt.tmp, then flushes the removals to disk (exp_fsync_dir). Errors: RNNLAB_ERR_IO. */
rnnlab_status exp_train_clear(const char *dir);

/* <dir>/checkpoints/run-<id>.ckpt */
void exp_train_checkpoint_path(const char *dir, long id, char *out, size_t n);

/* The steps of a decay probe: its batch's longest sample (len (B), each at most T; T for fixed
 * lengths). Later steps are padding in every sample, with no gradient and no loss to measure from
 * (the runner's decay.csv and the trainer's train_probe.csv). */
static inline int exp_probe_steps(const int *len, int B, int T)
{
    int n = 1;
    for (int b = 0; b < B; b++) n = len[b] > n ? (len[b] < T ? len[b] : T) : n;
    return n;
}

/* The probe's loss at each sample's last step of a task with a target at every step: moves that
 * step's target (target (T, B, O) row (len[b] - 1) B + b; cls likewise) to row b, so the batch's
 * first B rows are the (B, O) targets of a last-step loss (the runner's and the trainer's probe). */
static inline void exp_probe_last_targets(const int *len, int B, int O, double *target, int *cls)
{
    for (int b = 0; b < B; b++) {
        const size_t row = (size_t)(len[b] - 1) * B + b;
        memmove(target + (size_t)b * O, target + row * O, sizeof(double) * O);
        cls[b] = cls[row];
    }
}

/* What a [train] key's value is: 'l' or 'i' a whole number, 'd' a real number, 'b' a boolean, 0 text
 * (optimizer, schedule, ...) or not a [train] key. For comparing swept values by value (config.c). */
char exp_train_key_kind(const char *key);

/* The optimizers (bit 1 << rnnlab_optim_kind) that have a [train] key as their own option (momentum:
 * sgd and rmsprop, beta1: adam and adamw, ...); 0 for a key of every optimizer or none (train.c). */
unsigned exp_train_key_optims(const char *key);

/* ---------------------------------------------------------------- values of the experiment file (config.c) */

/* true, yes, on, 1 -> 1; false, no, off, 0 -> 0. Returns 0 (and leaves *out) for anything else. */
int exp_parse_bool(const char *v, int *out);

/* A whole decimal integer that fits a long. Returns 0 (and leaves *out) otherwise; the caller checks
 * the range. */
int exp_parse_long(const char *v, long *out);

/* ---------------------------------------------------------------- shared by the runner and the trainer (experiment.c) */

/* The folder a run of shard k of n writes: base/shard-k-of-n, or base itself for n <= 1 (into out,
 * n_out bytes; cut if longer). */
void exp_shard_dir(char *out, size_t n_out, const char *base, int k, int n);

/* Creates folder path and every missing folder above it (mkdir -p). Errors: RNNLAB_ERR_IO naming the
 * folder that could not be created, or a path of PATH_MAX bytes or more. */
rnnlab_status exp_mkdirs(const char *path);

/* Flushes a folder's entries (files created, renamed or removed in it) to disk. A file system that
 * cannot flush a folder (EINVAL, ENOTSUP: some network and FUSE ones) is not an error. Errors:
 * RNNLAB_ERR_IO. */
rnnlab_status exp_fsync_dir(const char *path);

/* Appends v to the row, or an empty field when v is NaN (not measured). */
void exp_num_or_empty(rnnlab_csvbuf *b, double v);


/* Seconds on the monotonic clock (CLOCK_MONOTONIC), for elapsed times and rates. */
double exp_now_s(void);

/* Writes s seconds as MM:SS, or H:MM:SS from an hour on, into buf (n bytes); "--:--" when s is
 * negative, NaN or over 1e7 (an unknown ETA). */
void exp_hms(char *buf, size_t n, double s);

/* ---------------------------------------------------------------- figures (gnuplot.c) */

/* The index of the field named `name` among a CSV header row's n fields f, or -1. */
int exp_plot_col(char **f, int n, const char *name);

/* rnnlab_csv_scan of one of rnnlab's own result files, refused (RNNLAB_ERR_IO) when its last line has
 * no newline: a file cut mid-row (a full disk, an interrupted copy), whose last row libcsv would read
 * as whole with its last number cut short. */
rnnlab_status exp_plot_scan(const char *path, rnnlab_csv_scan_fn row, void *user);

/* The series of a plot command (written after "plot ") that has nothing to draw: an empty plot over
 * fixed ranges whose key says why (gnuplot refuses a plot of no valid points: "all points y value
 * undefined", and the figures would not be drawn). */
void exp_plot_nothing(FILE *f, const char *why);

/* Writes v to f as a plain C-locale number (rnnlab_format_double: %.17g, nan, inf, -inf). */
void exp_plot_num(FILE *f, double v);

/* Writes s to f as a gnuplot single-quoted string (each ' doubled). */
void exp_plot_string(FILE *f, const char *s);

/* Creates <dir>/figures and <dir>/figures/data (either may exist) and writes <dir>/figures into
 * figdir (n bytes). Errors: RNNLAB_ERR_IO naming the data folder. */
rnnlab_status exp_plot_dirs(const char *dir, char *figdir, size_t n);

/* Closes f, written as path: RNNLAB_ERR_IO naming path when a write or the close failed (a full
 * disk), which fprintf alone does not report. */
rnnlab_status exp_plot_close(FILE *f, const char *path);

/* Runs `gnuplot script` inside figdir, with its messages in figdir/log and its output discarded, then
 * checks that each figure named in figures (NULL-terminated, without extension) is whole as .png and
 * .pdf: gnuplot exits 0 when it cannot write one (a full disk), leaving it empty or cut short (such a
 * file is removed).
 * Errors: RNNLAB_ERR_IO when gnuplot cannot be started, is not installed (the message says how to
 * install it) or fails, or a figure is not whole (the message names the script or figure, and the log). */
rnnlab_status exp_plot_gnuplot(const char *figdir, const char *script, const char *log, const char *const *figures);

#endif
