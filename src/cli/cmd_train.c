/*
 * cmd_train.c - `rnnlab train`: train the runs of an experiment file (resuming from their
 * checkpoints), and look into or export a checkpoint.
 */
#include "cli/cli.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/experiment.h"
#include "rnnlab/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void train_help(FILE *f)
{
    fprintf(f,
            "usage: rnnlab train [OPTIONS] FILE.ini\n"
            "       rnnlab train --info CHECKPOINT\n"
            "       rnnlab train --export CHECKPOINT [--out WEIGHTS.txt]\n"
            "\n"
            "Trains every run of the experiment's grid with its [train] settings (the defaults when the file\n"
            "has no [train] section: Adam, lr 1e-3, global-norm clipping at 1, 1000 updates), evaluating on\n"
            "the task's training, validation and test splits every eval_every updates (a dataset's validation\n"
            "and test splits whole, the rest on eval_batches batches, 8 by default), and writes train.csv,\n"
            "train_layers.csv, train_probe.csv, units.csv and final_layers.csv beside the runner's files\n"
            "(README.md, Training). Each run saves <out>/checkpoints/run-<id>.ckpt every checkpoint_every\n"
            "updates and at the end; run the same command again after an interruption and every run\n"
            "continues from its checkpoint, giving the same bytes as an uninterrupted run.\n"
            "\n"
            "options (as rnnlab run):\n"
            "  --dry-run        check the file and print the expanded grid; train nothing\n"
            "  --shard K/N      train only grid points i with i %% N == K, into <out>/shard-K-of-N/\n"
            "  --fresh          discard earlier results and checkpoints in the output folder\n"
            "  --out DIR        output folder (overrides [output] dir)\n"
            "  --threads N      threads in total;  --jobs N  runs side by side (either may be auto)\n"
            "  --flush-every S  flush results to disk at most every S seconds (default 1; 0: every run)\n"
            "  --no-plot        do not draw figures;  --quiet  no progress output\n"
            "\n"
            "checkpoints:\n"
            "  --info CKPT      print what a checkpoint holds (model, optimizer, update count)\n"
            "  --export CKPT    write its weights in PyTorch's state_dict layout (text; load them with the\n"
            "                   Python of README.md) to --out FILE (default: CKPT with .txt for .ckpt)\n"
            "\n"
            "Exit status: 0 done, 1 runtime failure, 2 bad experiment file or usage, or an output folder that\n"
            "holds other results.\n");
}

static int show_info(const char *path)
{
    rnnlab_checkpoint ck;
    if (rnnlab_checkpoint_load(path, &ck)) {
        cli_error(NULL, "%s", rnnlab_last_error());
        return CLI_EXIT_FAIL;
    }
    const rnnlab_model *m = ck.model;
    const rnnlab_model_config *c = &m->cfg;
    printf("%s: rnnlab checkpoint version %d\n", path, RNNLAB_CHECKPOINT_VERSION);
    char variant[64] = ""; /* what the cell's label leaves out */
    if (c->cell == RNNLAB_CELL_GRU) snprintf(variant, sizeof variant, " (%s)", rnnlab_gru_variant_name(c->gru_variant));
    else if (c->cell == RNNLAB_CELL_LSTM && c->peephole) snprintf(variant, sizeof variant, " (peepholes)");
    else if (c->cell == RNNLAB_CELL_RNN && c->activation == RNNLAB_ACT_LEAKY_RELU)
        snprintf(variant, sizeof variant, " (slope %g)", c->leaky_alpha);
    printf("  model      %s%s, I=%d H=%d L=%d O=%d, %s, norm %s, residual %d, dropout %g\n",
           rnnlab_cell_label(c->cell, c->activation), variant, c->input_size, c->hidden_size, c->num_layers,
           c->output_size, rnnlab_dtype_name(c->dtype), rnnlab_norm_name(c->norm), c->residual, c->dropout);
    printf("  parameters %zu in %d tensors; buffers %zu\n", m->n_params, m->n_tensors, m->buffers ? m->n_buffers : 0);
    if (ck.optim)
        printf("  optimizer  %s, lr %g, %ld updates\n", rnnlab_optim_name(ck.optim->cfg.kind), ck.optim->cfg.lr,
               ck.optim->step);
    else
        printf("  optimizer  none\n");
    printf("  step       %ld\n  extra      %zu bytes (training state)\n", ck.step, ck.extra_len);
    rnnlab_train_ckpt_state ti;
    if (rnnlab_train_checkpoint_info(&ck, &ti) == RNNLAB_OK) {
        if (!ti.finished) printf("  training   in progress: %ld updates so far (rnnlab train resumes it)\n", ti.updates);
        else if (!strcmp(ti.status, "diverged"))
            printf("  training   diverged at update %ld, after %ld updates\n", ti.diverged_step, ti.updates);
        else printf("  training   %s after %ld updates\n", ti.status, ti.updates);
        if (ti.have_best) printf("  best       validation loss %.9g at update %ld\n", ti.best_valid, ti.best_step);
        if (ti.model_is_best) printf("  weights    those of update %ld, the best (restore_best)\n", ti.best_step);
        else printf("  weights    those of the last update (%ld)\n", ti.updates);
    }
    rnnlab_checkpoint_deinit(&ck);
    return CLI_EXIT_OK;
}

static int export_weights(const char *path, const char *out)
{
    char def[4200];
    if (!out) {
        const size_t n = strlen(path);
        if (n > 5 && !strcmp(path + n - 5, ".ckpt")) snprintf(def, sizeof def, "%.*s.txt", (int)(n - 5), path);
        else snprintf(def, sizeof def, "%s.txt", path);
        out = def;
    }
    /* the export replaces `out` by renaming a new file over it: never the checkpoint itself, and
       never a device, pipe or folder that happens to be named */
    struct stat so, sc;
    if (stat(out, &so) == 0) {
        if (!S_ISREG(so.st_mode)) {
            cli_error("give a file name, e.g. --out weights.txt", "--out: %s exists and is not a regular file", out);
            return CLI_EXIT_USAGE;
        }
        if (stat(path, &sc) == 0 && so.st_dev == sc.st_dev && so.st_ino == sc.st_ino) {
            cli_error("give another file name, e.g. --out weights.txt", "--out: %s is the checkpoint itself", out);
            return CLI_EXIT_USAGE;
        }
    }
    rnnlab_checkpoint ck;
    rnnlab_status st = rnnlab_checkpoint_load(path, &ck);
    if (!st) st = rnnlab_weights_export(out, ck.model);
    rnnlab_train_ckpt_state ti; /* a run that diverged keeps no model: say whose weights these are */
    if (!st && rnnlab_train_checkpoint_info(&ck, &ti) == RNNLAB_OK && ti.finished && !strcmp(ti.status, "diverged"))
        fprintf(stderr, "rnnlab: warning: this run diverged at update %ld (summary.csv keeps no model for it): the "
                        "weights written are those of update %ld, the %s before it\n", ti.diverged_step,
                ti.model_is_best ? ti.best_step : ti.updates, ti.model_is_best ? "best" : "last");
    rnnlab_checkpoint_deinit(&ck);
    if (st) {
        cli_error(NULL, "%s", rnnlab_last_error());
        return CLI_EXIT_FAIL;
    }
    printf("rnnlab: weights of %s written to %s (PyTorch state_dict names; README.md, Training)\n", path, out);
    return CLI_EXIT_OK;
}

int cmd_train(int argc, char **argv)
{
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    const char *file = NULL, *info = NULL, *exp_ck = NULL, *out_raw = NULL;
    const char *grid_opt = NULL; /* the first option of a training run given (not --out): --info and --export refuse it */
    int dry = 0, operands = 0; /* after `--`, a file named -x.ini */
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        const int at = i;
        if ((r = cli_grid_operand("train", argv[i], &operands, &file)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return train_help(stdout), CLI_EXIT_OK;
        else if ((r = cli_grid_opt(argc, argv, &i, &o, &dry)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            if (!strncmp(argv[at], "--out", 5)) out_raw = i > at ? argv[i] : argv[at] + 6; /* as typed */
            else if (!grid_opt) grid_opt = argv[at];
        } else if ((r = cli_opt(argc, argv, &i, "--info", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            info = v;
        } else if ((r = cli_opt(argc, argv, &i, "--export", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            exp_ck = v;
        } else if (cli_grid_file("train", argv[i], &file, 0) < 0)
            return CLI_EXIT_USAGE;
    }
    if (info && exp_ck) {
        cli_error("run `rnnlab train --help`", "--info and --export: one at a time");
        return CLI_EXIT_USAGE;
    }
    if ((info || exp_ck) && file) { /* the argument left over: a second checkpoint, or an experiment file */
        cli_error("run `rnnlab train --help`", "%s takes one checkpoint; unexpected argument '%s'",
                  info ? "--info" : "--export", file);
        return CLI_EXIT_USAGE;
    }
    if ((info && (grid_opt || out_raw)) || (exp_ck && grid_opt)) { /* refused, not ignored */
        cli_error("run `rnnlab train --help`", "%s: '%s' does not apply (%s)", info ? "--info" : "--export",
                  grid_opt ? grid_opt : "--out", info ? "--info takes no other option" : "--export takes only --out");
        return CLI_EXIT_USAGE;
    }
    if (info) return show_info(info);
    if (exp_ck && out_raw && out_raw[strlen(out_raw) - 1] == '/') { /* --out trims it for folders */
        cli_error("give a file name, e.g. --out weights.txt", "--out: '%s' names a folder; --export writes a file", out_raw);
        return CLI_EXIT_USAGE;
    }
    if (exp_ck) return export_weights(exp_ck, o.out_dir);
    if (!file) {
        cli_error("e.g. rnnlab train experiments/train_adding.ini", "no experiment file given");
        return CLI_EXIT_USAGE;
    }
    return cli_grid_run(file, &o, dry, 1);
}
