/*
 * cmd_run.c - `rnnlab run`, `rnnlab merge` and `rnnlab plot`: the experiment runner's commands.
 */
#include "cli/cli.h"
#include "rnnlab/experiment.h"
#include "rnnlab/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run_help(FILE *f)
{
    fprintf(f,
            "usage: rnnlab run [OPTIONS] FILE.ini\n"
            "\n"
            "Runs the experiment's grid (every combination of its [sweep] lists) and appends one block of\n"
            "rows per run to decay.csv, summary.csv and layers.csv in its output folder (default\n"
            "results/<name>/), then draws the figures. Interrupted runs resume where they stopped when the\n"
            "same command is run again.\n"
            "\n"
            "options:\n"
            "  --dry-run        check the file and print the expanded grid; run nothing\n"
            "  --shard K/N      run only grid points i with i %% N == K (0 <= K < N), into <out>/shard-K-of-N/;\n"
            "                   combine finished shards with `rnnlab merge <out>`\n"
            "  --fresh          discard earlier results in the output folder and start over\n"
            "  --flush-every S  flush the CSV files and the journal to disk at most every S seconds (default\n"
            "                   1; 0: after every run; at most 86400); a kill loses at most the last S\n"
            "                   seconds' runs, which the next command redoes; results have the same\n"
            "                   bytes for any S\n"
            "  --out DIR        output folder (overrides [output] dir)\n"
            "  --threads N      threads in total (default: [run] threads, else all cores; auto: all cores)\n"
            "  --jobs N         runs side by side (default: [run] jobs, else automatic: N = threads for hidden\n"
            "                   sizes <= 128, else 1; auto: automatic whatever [run] says); at most the\n"
            "                   thread count (the manifest records the jobs that ran)\n"
            "  --no-plot        do not draw figures at the end\n"
            "  --quiet          no progress output\n"
            "\n"
            "A repeated option counts with its last value.\n"
            "Exit status: 0 done, 1 runtime failure, 2 bad experiment file or usage (file:line: key: why), or an\n"
            "output folder that holds other results (another experiment's, or results without a journal).\n");
}

int cmd_run(int argc, char **argv)
{
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    const char *file = NULL;
    int dry = 0, operands = 0; /* after `--`, a file named -x.ini */
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_grid_operand("run", argv[i], &operands, &file)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return run_help(stdout), CLI_EXIT_OK;
        else if ((r = cli_grid_opt(argc, argv, &i, &o, &dry)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
        } else if (cli_grid_file("run", argv[i], &file, 0) < 0)
            return CLI_EXIT_USAGE;
    }
    if (!file) {
        cli_error("e.g. rnnlab run experiments/decay_sweep.ini", "no experiment file given");
        return CLI_EXIT_USAGE;
    }
    return cli_grid_run(file, &o, dry, 0);
}

/* 1 when the folder's runs trained (its train.csv exists) */
static int trained(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/train.csv", dir);
    return access(path, F_OK) == 0;
}

/* Draws every figure the folder's CSV supports: the decay figures, and the training ones where the
 * runs trained, holding the folder's lock shared (no run writes the files meanwhile). Returns the
 * first failure. */
static rnnlab_status draw_figures(const char *dir)
{
    int fd;
    rnnlab_status st = rnnlab_folder_read_lock(dir, &fd);
    if (!st) st = rnnlab_plot(dir);
    if (!st && trained(dir)) st = rnnlab_train_plot(dir);
    if (fd >= 0) close(fd);
    return st;
}

/* 1 when one of the arguments asks for the help (--help or -h, anywhere: `rnnlab plot DIR --help`). */
static int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

/* The one folder argument of merge and plot (trailing slashes trimmed, into static storage), or NULL
 * after printing the error: none, or more than one. */
static const char *folder_arg(const char *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') { /* no options besides --help; a folder named so can be given as ./-name */
            cli_error(NULL, "rnnlab %s: unknown option '%s'", cmd, argv[i]);
            return NULL;
        }
    if (argc != 2) {
        cli_error(NULL, argc < 2 ? "rnnlab %s: no folder given" : "rnnlab %s: one folder only, got %d arguments", cmd,
                  argc - 1);
        return NULL;
    }
    static char dir[4096];
    return cli_folder(cmd, argv[1], dir, sizeof dir) ? dir : NULL;
}

int cmd_merge(int argc, char **argv)
{
    const int help = cli_wants_help(argc, argv);
    const char *dir = help ? NULL : folder_arg("merge", argc, argv);
    if (!dir) {
        FILE *f = help ? stdout : stderr;
        fprintf(f, "usage: rnnlab merge DIR\n\nCombines DIR/shard-K-of-N/ (K = 0..N-1, from rnnlab run --shard K/N) into\n"
                   "DIR/decay.csv, summary.csv, layers.csv and manifest.json: the same bytes a single run writes.\n"
                   "Refused (exit 1, nothing written) while a run holds DIR or a shard folder (their .lock),\n"
                   "when DIR holds shards of two splits (N), or results other than these shards' own.\n");
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    rnnlab_status st = rnnlab_experiment_merge(dir);
    if (st) {
        cli_error(st == RNNLAB_ERR_BUSY ? "wait for that process to finish, then merge again"
                  : st == RNNLAB_ERR_IO ? "the shards are untouched: fix the cause, then merge again"
                                        : NULL,
                  "%s", rnnlab_last_error());
        return CLI_EXIT_FAIL;
    }
    printf("rnnlab: merged the shards into %s/ (decay.csv, summary.csv, layers.csv%s, manifest.json)\n", dir,
           trained(dir) ? " and the training CSV files" : "");
    st = draw_figures(dir);
    if (st) fprintf(stderr, "rnnlab: warning: figures not drawn: %s\n", rnnlab_last_error());
    else printf("rnnlab: figures in %s/figures/\n", dir);
    return CLI_EXIT_OK;
}

int cmd_plot(int argc, char **argv)
{
    const int help = cli_wants_help(argc, argv);
    const char *dir = help ? NULL : folder_arg("plot", argc, argv);
    if (!dir) {
        FILE *f = help ? stdout : stderr;
        fprintf(f, "usage: rnnlab plot DIR\n\n(Re)draws DIR/figures/ (decay, decay_rate, heatmap as .png and .pdf) from\n"
                   "DIR/decay.csv and DIR/summary.csv alone, with gnuplot; where DIR/train.csv exists, also\n"
                   "train_loss, train_grad_norm and ablation from the training CSV files.\n"
                   "Exit status: 0 drawn, 1 runtime failure (gnuplot missing or failing, a figure not written\n"
                   "whole, DIR being written by a run), 2 usage.\n");
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    rnnlab_status st = draw_figures(dir);
    if (st) {
        cli_error(NULL, "%s", rnnlab_last_error());
        return CLI_EXIT_FAIL;
    }
    printf("rnnlab: figures in %s/figures/ (decay, decay_rate, heatmap%s; .png and .pdf)\n", dir,
           trained(dir) ? "; train_loss, train_grad_norm, ablation" : "");
    return CLI_EXIT_OK;
}
