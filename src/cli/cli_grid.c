/*
 * cli_grid.c - what `rnnlab run` and `rnnlab train` share: the options that say how to go through an
 * experiment's grid, and the load / dry-run / run / report step once they are parsed.
 * Not the commands themselves (cmd_run.c, cmd_train.c), which keep their own help and extra options.
 */
#include "cli/cli.h"
#include "rnnlab/experiment.h"
#include "rnnlab/train.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_grid_opt(int argc, char **argv, int *i, rnnlab_run_options *o, int *dry)
{
    const char *v;
    int r;
    if (!strcmp(argv[*i], "--dry-run")) *dry = 1;
    else if (!strcmp(argv[*i], "--fresh")) o->fresh = 1;
    else if (!strcmp(argv[*i], "--quiet") || !strcmp(argv[*i], "-q")) o->quiet = 1;
    else if (!strcmp(argv[*i], "--no-plot")) o->plot = 0;
    else if ((r = cli_opt(argc, argv, i, "--out", &v)) != 0) {
        if (r < 0) return -1;
        static char out[4096]; /* one --out per command */
        if (!cli_folder("--out", v, out, sizeof out)) return -1;
        o->out_dir = out;
    } else if ((r = cli_opt(argc, argv, i, "--threads", &v)) != 0) { /* auto: -1, whatever [run] says */
        if (r < 0 || !cli_auto_int("--threads", v, 1, RNNLAB_MAX_THREADS, &o->threads)) return -1;
    } else if ((r = cli_opt(argc, argv, i, "--jobs", &v)) != 0) {
        if (r < 0 || !cli_auto_int("--jobs", v, 1, RNNLAB_MAX_THREADS, &o->jobs)) return -1;
    } else if ((r = cli_opt(argc, argv, i, "--flush-every", &v)) != 0) {
        if (r < 0 || !cli_double_in("--flush-every", v, 0, 86400, &o->flush_s)) return -1;
    } else if ((r = cli_opt(argc, argv, i, "--shard", &v)) != 0) {
        if (r < 0) return -1;
        /* digits '/' digits, each in range (sscanf's %d would skip blanks and wrap large numbers) */
        const char *slash = strchr(v, '/');
        char *end;
        errno = 0;
        const long k = isdigit((unsigned char)v[0]) ? strtol(v, &end, 10) : -1;
        const int k_ok = k >= 0 && end == slash && !errno;
        const long nn = k_ok && isdigit((unsigned char)slash[1]) ? strtol(slash + 1, &end, 10) : -1;
        if (!k_ok || nn < 1 || *end || errno || nn > 4096 || k >= nn) {
            cli_error("write --shard K/N with 0 <= K < N <= 4096 (what rnnlab merge combines), e.g. --shard 0/4", "--shard: bad value '%s'", v);
            return -1;
        }
        o->shard_k = (int)k, o->shard_n = (int)nn;
    } else
        return 0;
    return 1;
}

int cli_grid_operand(const char *cmd, const char *arg, int *operands, const char **file)
{
    if (*operands) return cli_grid_file(cmd, arg, file, 1) < 0 ? -1 : 1;
    if (strcmp(arg, "--")) return 0;
    *operands = 1;
    return 1;
}

int cli_grid_file(const char *cmd, const char *arg, const char **file, int operand)
{
    if (arg[0] == '-' && !operand) {
        char hint[64];
        snprintf(hint, sizeof hint, "run `rnnlab %s --help`", cmd);
        cli_error(hint, "unknown option '%s'", arg);
        return -1;
    }
    if (*file) {
        cli_error("give one experiment file", "unexpected argument '%s'", arg);
        return -1;
    }
    *file = arg;
    return 0;
}

/* s as one shell word for a command line to copy (single quotes where it has more than letters,
 * digits and _ . / - + , : @ %, and ./ before a leading -), in buf (n bytes; a word that does not fit
 * is cut). */
static const char *shell_word(const char *s, char *buf, size_t n)
{
    const int dash = s[0] == '-'; /* ./-name: not an option to the command it is pasted into */
    if (*s && !dash && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+,:@%") == strlen(s))
        return s;
    size_t k = 0;
    if (dash) buf[k++] = '.', buf[k++] = '/';
    buf[k++] = '\'';
    for (; *s && k + 6 < n; s++) {
        if (*s == '\'') memcpy(buf + k, "'\\''", 4), k += 4; /* ' ends the quote, \' is one, ' opens again */
        else buf[k++] = *s;
    }
    buf[k++] = '\'', buf[k] = '\0';
    return buf;
}

static int grid_run(const char *file, const rnnlab_run_options *o, int dry, int train)
{
    rnnlab_experiment *e = NULL;
    rnnlab_status st = rnnlab_experiment_load(&e, file);
    if (train && !st && !rnnlab_experiment_trains(e)) st = rnnlab_experiment_set_training(e);
    if (st) {
        cli_error(NULL, "%s", rnnlab_last_error());
        rnnlab_experiment_free(e);
        return st == RNNLAB_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (dry) {
        rnnlab_experiment_print_grid(e, o, stdout);
        rnnlab_experiment_free(e);
        return CLI_EXIT_OK;
    }
    struct stat sf; /* a file read again from its name: not a pipe or /dev/stdin, read once */
    if (stat(file, &sf) == 0 && S_ISREG(sf.st_mode)) cli_wait_policy(rnnlab_experiment_run_threads(e, o));
    cli_interrupt_message(o->fresh, train || rnnlab_experiment_trains(e));
    st = rnnlab_experiment_run(e, o);
    cli_interrupt_end();
    train = train || rnnlab_experiment_trains(e); /* `rnnlab run` of a file with [train] trains too */
    const char *out = o->out_dir ? o->out_dir : rnnlab_experiment_out_dir(e);
    char quoted[8300];
    const char *out_word = shell_word(out, quoted, sizeof quoted); /* in the commands to copy */
    const char *name = rnnlab_experiment_name(e), *done = train ? "trained" : "done";
    const int figures = o->plot && rnnlab_experiment_figures(e), drawn = rnnlab_experiment_figures_drawn(e);
    if (st) {
        /* rows are kept only where the folder has its journal (not when it could not be made, or was
           deleted under the sweep) */
        char jpath[8400];
        if (o->shard_n > 1) snprintf(jpath, sizeof jpath, "%s/shard-%d-of-%d/.journal", out, o->shard_k, o->shard_n);
        else snprintf(jpath, sizeof jpath, "%s/.journal", out);
        const int kept = access(jpath, F_OK) == 0;
        cli_error(st == RNNLAB_ERR_CONFIG ? NULL
                  : st == RNNLAB_ERR_BUSY ? "wait for that process to finish (or stop it), then run the same command again"
                  : !kept                 ? "fix the cause, then run the same command again"
                  : train                 ? "rows already written are kept: fix the cause, then run the same command again to resume from "
                                            "the checkpoints"
                                          : "rows already written are kept: fix the cause, then run the same "
                                            "command again to resume",
                  "%s", rnnlab_last_error());
    } else if (o->shard_n > 1) {
        printf("rnnlab: shard %d/%d of %s %s: %s/shard-%d-of-%d/\n", o->shard_k, o->shard_n, name, done, out,
               o->shard_k, o->shard_n);
        printf("rnnlab: when every shard is done: rnnlab merge %s\n", out_word);
    } else if (train) {
        printf("rnnlab: %s trained\n", name);
        printf("  CSV:         %s/train.csv, train_layers.csv, train_probe.csv, units.csv, final_layers.csv,\n", out);
        printf("               summary.csv (training columns), decay.csv and layers.csv (at initialisation)\n");
        printf("  models:      %s/checkpoints/run-<id>.ckpt (rnnlab train --export to get PyTorch weights)\n", out);
        if (drawn) printf("  figures:     %s/figures/ (train_loss, train_grad_norm, ablation; .png and .pdf)\n", out);
        else printf("  figures:     not drawn (%srnnlab plot %s draws them)\n", figures ? "see the warning above; " : "", out_word);
    } else {
        printf("rnnlab: %s done\n", name);
        printf("  CSV:     %s/decay.csv, %s/summary.csv, %s/layers.csv\n", out, out, out);
        if (drawn) printf("  figures: %s/figures/ (decay, decay_rate, heatmap; .png and .pdf)\n", out);
        else printf("  figures: not drawn (%srnnlab plot %s draws them)\n", figures ? "see the warning above; " : "", out_word);
        printf("  record:  %s/manifest.json\n", out);
    }
    rnnlab_experiment_free(e);
    return st == RNNLAB_OK ? CLI_EXIT_OK : st == RNNLAB_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int cli_grid_run(const char *file, const rnnlab_run_options *o, int dry, int train)
{
    rnnlab_dataset_cache(1); /* loading checks each task by opening its data: the runs reuse those reads */
    const int code = grid_run(file, o, dry, train);
    rnnlab_dataset_cache(0);
    return code;
}
