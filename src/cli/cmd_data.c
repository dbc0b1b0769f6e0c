/*
 * cmd_data.c - `rnnlab data list` (every task and dataset: shape, size, source, whether its data is
 * installed) and `rnnlab data show NAME [key=value ...]` (a few decoded examples).
 *
 * Exit codes: 0 ok, 1 runtime failure (a missing or malformed file), 2 usage (unknown task, bad
 * option).
 */
#include "cli/cli.h"
#include "rnnlab/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: rnnlab data list [-v]\n"
               "       rnnlab data show NAME [key=value ...] [--split train|valid|test] [-n N] [--seed S]\n"
               "                        [--batch K] [--batch-size B]\n"
               "\n"
               "list: every task and dataset with its shape (I inputs, O outputs, T steps), its size per split,\n"
               "its source, and whether the data it reads by default is installed; -v adds each one's sources and options.\n"
               "show: opens NAME with the options given (the keys of an experiment file's [task] section) and\n"
               "prints the first N examples (1 to 64, default 3; at most as many as the split holds) of batch 0\n"
               "of the split (default train), decoded: images as ASCII art, text as characters, symbols,\n"
               "markers and values for the synthetic tasks, and the trivial baseline. --seed is the data\n"
               "seed (default 1): a run's is summary.csv's data_seed, not the experiment's seed.\n"
               "--batch K (default 0) and --batch-size B (default 16, the [task] batch's default) show the first\n"
               "N samples (at most B) of batch K of B samples instead: training update s of a run uses batch\n"
               "s - 1 of the training split at the run's batch size and data seed.\n"
               "Exit status: 0 ok, 1 runtime error (missing or malformed data), 2 usage error.\n");
}

static const char *installed_text(int i)
{
    switch (rnnlab_task_installed(i)) {
    case 1: return "yes";
    case 0: return "NO";
    default: return rnnlab_task_data_path(i) ? "?" : "-";
    }
}

static int cmd_list(int verbose)
{
    const int n = rnnlab_task_count();
    printf("%-15s %-9s %-28s %s\n", "name", "installed", "size (train/valid/test)", "shape");
    for (int i = 0; i < n; i++) {
        printf("%-15s %-9s %-28s %s\n", rnnlab_task_name(i), installed_text(i), rnnlab_task_size(i), rnnlab_task_shape(i));
        printf("%-15s %s\n", "", rnnlab_task_summary(i));
        printf("%-15s source: %s\n", "", rnnlab_task_source(i));
        if (rnnlab_task_data_path(i))
            printf("%-15s data: %s%s\n", "", rnnlab_task_data_path(i),
                   rnnlab_task_installed(i) == 1 ? ""
                   : !strcmp(rnnlab_task_name(i), "fashion_mnist")
                       ? "  (missing: `make setup-data` installs Debian's dataset-fashion-mnist)"
                       : "  (missing: copy it from the lab's shared datasets folder, or give path=)");
        if (verbose) {
            const char *doc = rnnlab_task_options_doc(i);
            while (*doc) {
                const char *nl = strchr(doc, '\n');
                const int len = nl ? (int)(nl - doc) : (int)strlen(doc);
                printf("%-15s   %.*s\n", "", len, doc);
                doc += len + (nl != NULL);
            }
        }
    }
    printf("\ninstalled: yes / NO for the data a task reads by default; - for generators and for tasks that read "
           "only your file (path=).\n");
    return CLI_EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
    const char *name = NULL, *split_name = "train";
    long n_show = 3;
    unsigned long long seed = 1;
    long batch = -1, batch_size = -1; /* -1: not given (batch 0 of N samples) */
    rnnlab_option *opts = calloc((size_t)argc, sizeof *opts);
    int n_opts = 0, rc = CLI_EXIT_OK;
    if (!opts) {
        cli_error(NULL, "out of memory");
        return CLI_EXIT_FAIL;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            goto done;
        }
        if ((r = cli_opt(argc, argv, &i, "--split", &v))) {
            if (r < 0) goto usage;
            split_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "-n", &v))) {
            if (r < 0 || !cli_int("-n", v, 1, 64, &n_show)) goto usage;
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v))) {
            if (r < 0 || !cli_u64("--seed", v, &seed)) goto usage;
        } else if ((r = cli_opt(argc, argv, &i, "--batch", &v))) {
            if (r < 0 || !cli_int("--batch", v, 0, 1L << 40, &batch)) goto usage;
        } else if ((r = cli_opt(argc, argv, &i, "--batch-size", &v))) {
            if (r < 0 || !cli_int("--batch-size", v, 1, 1 << 20, &batch_size)) goto usage;
        } else if (argv[i][0] == '-') {
            cli_error("run `rnnlab data --help`", "unknown option '%s'", argv[i]);
            goto usage;
        } else if (!name) {
            name = argv[i];
        } else {
            char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i]) {
                cli_error("options are key=value, e.g. seq_len=100", "expected key=value, got '%s'", argv[i]);
                goto usage;
            }
            *eq = '\0';
            for (int k = 0; k < n_opts; k++)
                if (!strcmp(opts[k].key, argv[i])) { /* as an experiment file refuses a key given twice */
                    cli_error(NULL, "%s: given twice (%s and %s)", argv[i], opts[k].value, eq + 1);
                    goto usage;
                }
            if (!eq[1]) {
                cli_error("options are key=value, e.g. seq_len=100", "%s: empty value", argv[i]);
                goto usage;
            }
            opts[n_opts++] = (rnnlab_option){argv[i], eq + 1, 0};
        }
    }
    if (!name) {
        cli_error("run `rnnlab data list` for the names", "data show needs a task or dataset name");
        goto usage;
    }
    rnnlab_split split;
    if (!strcmp(split_name, "train")) split = RNNLAB_SPLIT_TRAIN;
    else if (!strcmp(split_name, "valid")) split = RNNLAB_SPLIT_VALID;
    else if (!strcmp(split_name, "test")) split = RNNLAB_SPLIT_TEST;
    else {
        cli_error(NULL, "--split: expected train, valid or test, got '%s'", split_name);
        goto usage;
    }
    rnnlab_dataset *ds = NULL;
    char *text = NULL;
    rnnlab_status st = rnnlab_dataset_open(&ds, name, opts, n_opts, seed, NULL);
    if (!st)
        st = batch < 0 && batch_size < 0
                 ? rnnlab_dataset_show(ds, split, (int)n_show, &text)
                 : rnnlab_dataset_show_batch(ds, split, batch < 0 ? 0 : batch, batch_size < 0 ? 16 : (int)batch_size,
                                             (int)n_show, &text);
    if (st) {
        const int ti = rnnlab_task_find(name);
        char hint[128];
        snprintf(hint, sizeof hint, "`rnnlab data list -v` lists the options of every task");
        cli_error(st == RNNLAB_ERR_CONFIG && ti >= 0 ? hint : NULL, "%s", rnnlab_last_error());
        rc = st == RNNLAB_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    } else {
        const rnnlab_task_info *in = rnnlab_dataset_info(ds);
        fputs(text, stdout);
        if (in->split_size[0] >= 0)
            printf("examples: train %ld, valid %ld, test %ld\n", in->split_size[0], in->split_size[1], in->split_size[2]);
        printf("source: %s\n", in->source);
    }
    rnnlab_free(text);
    rnnlab_dataset_close(ds);
done:
    free(opts);
    return rc;
usage:
    free(opts);
    return CLI_EXIT_USAGE;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "list")) {
        int verbose = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) verbose = 1;
            else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                printf("usage: rnnlab data list [-v]\n\nLists the datasets and tasks rnnlab knows; -v (--verbose) "
                       "adds each one's sources and options.\n");
                return CLI_EXIT_OK;
            } else {
                cli_error("usage: rnnlab data list [-v]", "unknown argument '%s'", argv[i]);
                return CLI_EXIT_USAGE;
            }
        }
        return cmd_list(verbose);
    }
    if (!strcmp(argv[1], "show")) return cmd_show(argc - 1, argv + 1);
    cli_error("usage: rnnlab data list | rnnlab data show NAME [key=value ...]", "unknown data command '%s'", argv[1]);
    return CLI_EXIT_USAGE;
}
