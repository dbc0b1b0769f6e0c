/*
 * rnnlab/experiment.h - experiment files, sweeps, and the runner that writes CSV for papers.
 *
 * An experiment file (INI, parsed with inih) describes one figure or table: a model, a task, what
 * to measure, seeds and where to write. A [sweep] section turns any model or task key into a list;
 * the experiment is the Cartesian product of those lists (the grid), first key slowest. Each grid
 * point is one run. The file format, every key and every output column are documented in
 * README.md ("Experiment files", "Output files").
 *
 * Seeds. A run's seed s comes from `seed` ([run], or swept). Its data and its model are drawn from
 *     data_seed  = rnnlab_seed_derive(s, fnv1a64("data|"  + the task's settings))
 *     model_seed = rnnlab_seed_derive(s, fnv1a64("model|" + the architecture: cell, activation,
 *                                                 GRU variant, peepholes, sizes, layers))
 * i.e. from the grid point's values, never from its position: a run gives the same numbers alone,
 * inside a sweep, first or last, in a shard, and with any thread count. Runs that share s and the
 * task see the same batch, so cells and inits are compared on the same data.
 */
#ifndef RNNLAB_EXPERIMENT_H
#define RNNLAB_EXPERIMENT_H

#include <stdio.h>

#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rnnlab_experiment rnnlab_experiment;

/*
 * rnnlab_experiment_load - reads, checks and expands an experiment file.
 *
 * Every key and every grid point is checked here, before anything runs: unknown sections or keys,
 * bad values, empty lists, impossible combinations, tasks whose data file is missing.
 * Memory:  *out is owned by the caller (rnnlab_experiment_free).
 * Errors:  RNNLAB_ERR_CONFIG with the message "file:line: key: why"; RNNLAB_ERR_IO if the file
 *          cannot be read or a task's data is missing ("what to fetch and where to put it").
 */
rnnlab_status rnnlab_experiment_load(rnnlab_experiment **out, const char *path);
void rnnlab_experiment_free(rnnlab_experiment *e);

/* The experiment's name (its [experiment] name, or the file's name without .ini). */
const char *rnnlab_experiment_name(const rnnlab_experiment *e);
/* The output folder: [output] dir, or results/<name>. */
const char *rnnlab_experiment_out_dir(const rnnlab_experiment *e);
/* Number of grid points. */
long rnnlab_experiment_grid_size(const rnnlab_experiment *e);
/* 1 if a run draws figures at its end ([output] figures, default true), else 0. */
int rnnlab_experiment_figures(const rnnlab_experiment *e);
/* 1 if the last rnnlab_experiment_run on e drew every figure it set out to (gnuplot ran and
 * succeeded), else 0 (none due: a shard, plot off, [output] figures = false; or drawing failed, which
 * the run reports as a warning but not as an error: its CSV files are complete). */
int rnnlab_experiment_figures_drawn(const rnnlab_experiment *e);

typedef struct rnnlab_run_options rnnlab_run_options;

/* Writes the expanded grid to f: a "# name: N run(s); output DIR" line, then one line per run
 * ("run_id key=value ... seed=s"). With opt (NULL: the whole grid into the experiment's folder),
 * the folder and the runs are those rnnlab_experiment_run would use: opt->out_dir, and with
 * opt->shard_n > 1 the runs i with i mod N = K, in <out>/shard-K-of-N (a K outside [0, N) gets
 * a line saying so, and nothing else). */
void rnnlab_experiment_print_grid(const rnnlab_experiment *e, const rnnlab_run_options *opt, FILE *f);

struct rnnlab_run_options {
    const char *out_dir; /* NULL: the experiment's */
    int shard_k, shard_n; /* run grid points i with i % shard_n == shard_k (0 <= k < n); n <= 1: all */
    int fresh;            /* 1: discard earlier results in the output folder and start over */
    int quiet;            /* 1: no progress output */
    int threads;          /* total threads (0: the experiment's [run] threads, else all cores; -1: all cores) */
    int jobs;             /* runs side by side (0: the experiment's [run] jobs, else automatic; -1: automatic) */
    int plot;             /* 1: draw the figures at the end (when gnuplot is there) */
    double flush_s;       /* seconds between group commits (the CSV files, then the journal, flushed to
                             disk; rnnlab_run_options_init: 1); 0: after every run. A kill loses at most
                             the runs of the last flush_s seconds, which the next command redoes */
    FILE *progress;       /* where progress goes (NULL: stderr) */
};

/* The defaults: the experiment's own folder, threads and jobs; the whole grid; resume, not fresh;
 * progress on stderr; figures drawn; a group commit every second (flush_s = 1). */
void rnnlab_run_options_init(rnnlab_run_options *o);

/*
 * rnnlab_experiment_run - runs the grid points not yet in the output folder and appends their rows.
 *
 * Files: decay.csv, summary.csv, layers.csv, manifest.json and figures/ in the output folder (with
 *        shards, in <out>/shard-K-of-N/). Each run's rows are committed together, in grid order,
 *        after the rows are on disk (fsync) and recorded in the folder's journal (.journal), so a
 *        killed sweep (SIGKILL included) resumes with the same command and ends with the same bytes
 *        as an uninterrupted one. A torn last line is cut off on resume.
 * Errors:  RNNLAB_ERR_CONFIG if the folder holds results of a different experiment file (unless
 *          fresh); RNNLAB_ERR_IO for files that cannot be written; RNNLAB_ERR_BUSY, with nothing
 *          touched, while another process runs in the same folder (its <out>/.lock is held). A run
 *          whose values diverge is not an error: it is recorded as diverged and the sweep goes on.
 */
rnnlab_status rnnlab_experiment_run(rnnlab_experiment *e, const rnnlab_run_options *opt);

/*
 * rnnlab_experiment_interrupt - for a handler of a signal that ends the process (SIGINT, SIGTERM,
 * SIGHUP, SIGPIPE): makes the runs already committed by a running rnnlab_experiment_run (their rows
 * written, their journal lines waiting for the next group commit) durable before the process ends,
 * so that resuming does not redo them.
 *
 * Async-signal-safe (lock-free atomics, write and fdatasync only). When this returns 1 (the lines
 * were flushed, or no sweep is committing in this process), end the process with
 * rnnlab_experiment_raise(sig). It returns 0 when another thread is in the middle of a commit (that
 * thread then flushes the lines as soon as the commit is whole and calls rnnlab_experiment_raise(sig)
 * itself) or another handler is flushing (and raises its signal). Install the handler with
 * SA_RESETHAND, so a second signal during the flush ends the process at once. One
 * rnnlab_experiment_run at a time per process (the state is the process's). A write or flush that
 * fails leaves those runs out of the journal: the next command redoes them (what a SIGKILL gives).
 * Errors are not reported. (The rnnlab command also ignores SIGPIPE from the signal on, so that its
 * message to a closed pipe does not end it first.)
 */
int rnnlab_experiment_interrupt(int sig);

/* rnnlab_experiment_raise - ends the process by signal sig: sets its default action (a handler may
 * have ignored it meanwhile, as rnnlab's does SIGPIPE) and raises it. Async-signal-safe; returns
 * only if sig's default action does not end the process. */
void rnnlab_experiment_raise(int sig);

/* The threads each run of rnnlab_experiment_run(e, opt) would compute on: 1 when runs go side by side
 * (jobs > 1: one thread each), else the thread count. The rnnlab command asks before running, to choose
 * OpenMP's wait policy (src/cli/main.c, cli_wait_policy). */
int rnnlab_experiment_run_threads(const rnnlab_experiment *e, const rnnlab_run_options *opt);

/*
 * rnnlab_experiment_merge - combines the complete shards shard-K-of-N (K = 0..N-1) found in dir
 * into dir/decay.csv, summary.csv, layers.csv and manifest.json, byte for byte what a single run
 * would have written.
 * Errors:  RNNLAB_ERR_CONFIG if dir is not a folder, holds no shards, or holds results other than
 *          these shards' own; RNNLAB_ERR_IO if a shard is missing or incomplete, they come from
 *          different experiment files, shard 0's manifest.json is missing or damaged (running shard 0
 *          again writes it), or a file cannot be written (every file goes beside its place first, the
 *          journal in first: nothing is put in place, or a merge run again completes it). Nothing is
 *          written on a refusal; RNNLAB_ERR_BUSY, with nothing written, while another process
 *          (a run, or another merge) holds dir/.lock or a shard folder's .lock.
 */
rnnlab_status rnnlab_experiment_merge(const char *dir);

/*
 * rnnlab_folder_read_lock - for a reader of an output folder (rnnlab plot): takes dir/.lock shared,
 * without waiting, so that no run, train or merge (which take it exclusively) writes the files while
 * they are read, and no reader reads them while one does. *fd gets the lock's descriptor, or -1 when
 * dir has no .lock that can be opened (nothing of rnnlab's writes there, or a read-only folder: the
 * caller reads without a lock); close(*fd) releases it.
 * Errors: RNNLAB_ERR_BUSY (*fd = -1) while a run, train or merge holds the folder.
 */
rnnlab_status rnnlab_folder_read_lock(const char *dir, int *fd);

/*
 * rnnlab_plot - (re)draws the figures of an output folder from its CSV alone, with gnuplot:
 * decay.png/.pdf (log10 ||dL/dh_t|| against t, one line per cell/setting, one panel per sequence
 * length), decay_rate.png/.pdf (decay rate against sequence length), heatmap.png/.pdf (layer x time).
 * Errors: RNNLAB_ERR_IO if the CSV cannot be read or gnuplot fails (the message says so).
 */
rnnlab_status rnnlab_plot(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
