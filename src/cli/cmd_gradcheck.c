/*
 * cmd_gradcheck.c - `rnnlab gradcheck`: finite-difference checks on a random model, or the PyTorch
 * float64 reference cases. Definitions and tolerances: include/rnnlab/gradcheck.h.
 */
#include "cli/cli.h"
#include "rnnlab/gradcheck.h"

#include <stdio.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: rnnlab gradcheck --reference FILE... [--tol X]\n"
            "       rnnlab gradcheck [--cell C] [--activation A] [--variant V] [--peephole] [--alpha X]\n"
            "                        [--input I] [--hidden H] [--layers L] [--batch B] [--seq T] [--outputs O]\n"
            "                        [--truncate K] [--loss mse|xent|bernoulli] [--loss-at last|all]\n"
            "                        [--norm none|layer|batch] [--residual] [--dropout P] [--training]\n"
            "                        [--lengths] [--seed S] [--tol X] [--atol X] [--no-taps]\n"
            "\n"
            "With --reference, loads each PyTorch float64 reference case (format torchref-gradref-v1),\n"
            "recomputes it and prints the maximum absolute and relative error per tensor; an element\n"
            "passes when |a - r| <= 1e-12 + tol*|r| (default tol 1e-9).\n"
            "Otherwise builds a random float64 model (seed S) and compares every gradient (parameters,\n"
            "input, h0, c0, and the dL/dh_t taps) with central finite differences; an element passes when\n"
            "|a - n| <= atol + tol*max(|a|,|n|) (default tol 1e-6, atol 1e-8). Points where a relu\n"
            "perturbation crosses the kink are counted as skipped. ok* says how many elements passed by the\n"
            "floor atol alone; unresolved*, that every value of the tensor is below it (lower --atol, or\n"
            "shorten --seq, to resolve them). In both, NaN never passes and an infinity only against the\n"
            "same infinity.\n"
            "\n"
            "cells: rnn, lstm, gru (aliases rnn_tanh, rnn_relu, ...); activations: tanh, sigmoid, relu,\n"
            "leaky_relu, prelu, identity; GRU variants: reset_after (default), reset_before.\n"
            "--training checks training mode (dropout with fixed masks, batch norm with batch statistics).\n"
            "Defaults: --input 3 --hidden 4 --layers 2 --batch 2 --seq 5 --outputs 2 --seed 1, mse at last.\n"
            "Exit status: 0 all pass, 1 a tolerance is exceeded (or a runtime error), 2 usage error.\n");
}

/* The per-tensor table; a tensor that passes with a relative error above tol (elements near zero,
 * within the absolute floor) is marked "ok*" and explained under the table. */
static void print_report(const rnnlab_check_report *rep, double tol, double atol)
{
    int by_floor = 0, unresolved = 0;
    printf("%-36s %8s %8s %12s %12s %12s  %s\n", "tensor", "n", "skipped", "max_|ref|", "max_abs_err", "max_rel_err",
           "result");
    for (int i = 0; i < rep->n; i++) {
        const rnnlab_check_entry *e = &rep->e[i];
        const int star = e->pass && e->n_floor > 0, none = star && e->max_ref <= atol;
        by_floor |= star, unresolved |= none;
        printf("%-36s %8zu %8zu %12.3e %12.3e %12.3e  %s", e->name, e->n, e->n_skipped, e->max_ref, e->max_abs,
               e->max_rel, e->pass ? (none ? "unresolved*" : star ? "ok*" : "ok") : "FAIL");
        if (star) printf(" (%zu of %zu by the floor)", e->n_floor, e->n);
        if (!e->pass) printf(" (element %zu: engine %.17g, reference %.17g)", e->worst, e->worst_a, e->worst_r);
        putchar('\n');
    }
    if (by_floor)
        printf("* elements whose relative error is above tol %g pass only because their absolute error is within the "
               "absolute floor %g: values that small are not resolved against the reference%s\n",
               tol, atol, unresolved ? "; \"unresolved\" marks a tensor whose every value is below the floor" : "");
}

static int run_references(int n, char **files, double tol)
{
    int fails = 0;
    for (int i = 0; i < n; i++) {
        rnnlab_refcase *rc = NULL;
        rnnlab_check_report rep;
        memset(&rep, 0, sizeof rep);
        rnnlab_status st = rnnlab_refcase_load(files[i], &rc);
        if (!st) st = rnnlab_refcase_check(rc, tol, &rep);
        if (st) {
            if (strstr(rnnlab_last_error(), files[i])) cli_error(NULL, "%s", rnnlab_last_error());
            else cli_error(NULL, "%s: %s", files[i], rnnlab_last_error());
            fails++;
        } else {
            printf("== %s (%s, I=%d H=%d L=%d B=%d T=%d, loss at %s): %s\n", files[i], rc->cell, rc->input_size,
                   rc->hidden_size, rc->num_layers, rc->batch, rc->seq_len, rnnlab_loss_at_name(rc->loss_at),
                   rep.all_pass ? "pass" : "FAIL");
            print_report(&rep, tol, 1e-12);
            fails += !rep.all_pass;
        }
        rnnlab_check_report_free(&rep);
        rnnlab_refcase_free(rc);
    }
    printf("%d of %d reference case(s) passed (tol %g)\n", n - fails, n, tol);
    return fails ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_gradcheck(int argc, char **argv)
{
    rnnlab_gradcheck_config cfg;
    rnnlab_gradcheck_config_init(&cfg);
    double tol = -1;
    int ref_first = 0, ref_n = 0, alpha_given = 0;
    const char *other_opt = NULL;
    /* --cell rnn_relu names an activation too: one that --activation contradicts is refused, as in an
       experiment file; --activation and --variant belong to rnn and gru cells */
    const char *cell_name = NULL, *act_name = NULL, *variant_name = NULL;
    rnnlab_activation cell_act = RNNLAB_ACT_TANH, opt_act = RNNLAB_ACT_TANH;
    int cell_act_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long n;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(stdout);
            return CLI_EXIT_OK;
        }
        if (!strncmp(argv[i], "--", 2) && strcmp(argv[i], "--reference") && strncmp(argv[i], "--tol", 5) &&
            !other_opt)
            other_opt = argv[i]; /* the first option of the finite-difference check (refused with --reference) */
        if (!strcmp(argv[i], "--reference")) {
            ref_first = i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) i++, ref_n++;
            if (!ref_n) {
                cli_error(NULL, "--reference needs at least one file");
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        if (!strcmp(argv[i], "--peephole")) {
            cfg.model.peephole = 1;
            continue;
        }
        if (!strcmp(argv[i], "--no-taps")) {
            cfg.check_taps = 0;
            continue;
        }
        if (!strcmp(argv[i], "--lengths")) {
            cfg.random_lengths = 1;
            continue;
        }
        if (!strcmp(argv[i], "--residual")) {
            cfg.model.residual = 1;
            continue;
        }
        if (!strcmp(argv[i], "--training")) {
            cfg.bptt.training = 1;
            continue;
        }
#define INT_OPT(name, lo, hi, dst)                                                                                     \
    if ((r = cli_opt(argc, argv, &i, name, &v)) != 0) {                                                                \
        if (r < 0 || !cli_int(name, v, lo, hi, &n)) return CLI_EXIT_USAGE;                                             \
        dst = (int)n;                                                                                                  \
        continue;                                                                                                      \
    }
        INT_OPT("--input", 1, 1 << 16, cfg.model.input_size)
        INT_OPT("--hidden", 1, 1 << 16, cfg.model.hidden_size)
        INT_OPT("--layers", 1, 64, cfg.model.num_layers)
        INT_OPT("--outputs", 1, 1 << 16, cfg.model.output_size)
        INT_OPT("--batch", 1, 1 << 16, cfg.bptt.batch)
        INT_OPT("--seq", 1, 1 << 20, cfg.bptt.seq_len)
        INT_OPT("--truncate", 0, 1 << 20, cfg.bptt.truncate)
#undef INT_OPT
        rnnlab_status st = RNNLAB_OK;
        if ((r = cli_opt(argc, argv, &i, "--cell", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            cell_act_set = 0;
            st = rnnlab_cell_parse(v, &cfg.model.cell, &cell_act, &cell_act_set);
            cell_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "--activation", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_activation_parse(v, &opt_act);
            act_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "--variant", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_gru_variant_parse(v, &cfg.model.gru_variant);
            variant_name = v;
        } else if ((r = cli_opt(argc, argv, &i, "--loss", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_loss_parse(v, &cfg.bptt.loss);
        } else if ((r = cli_opt(argc, argv, &i, "--loss-at", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_loss_at_parse(v, &cfg.bptt.loss_at);
        } else if ((r = cli_opt(argc, argv, &i, "--norm", &v)) != 0) {
            if (r < 0) return CLI_EXIT_USAGE;
            st = rnnlab_norm_parse(v, &cfg.model.norm);
        } else if ((r = cli_opt(argc, argv, &i, "--dropout", &v)) != 0) {
            if (r < 0 || !cli_double("--dropout", v, &cfg.model.dropout)) return CLI_EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--alpha", &v)) != 0) {
            if (r < 0 || !cli_double("--alpha", v, &cfg.model.leaky_alpha)) return CLI_EXIT_USAGE;
            alpha_given = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--tol", &v)) != 0) {
            if (r < 0 || !cli_double("--tol", v, &tol)) return CLI_EXIT_USAGE;
            if (tol <= 0) {
                cli_error(NULL, "--tol must be > 0");
                return CLI_EXIT_USAGE;
            }
        } else if ((r = cli_opt(argc, argv, &i, "--atol", &v)) != 0) {
            if (r < 0 || !cli_double_in("--atol", v, 0, 1, &cfg.atol)) return CLI_EXIT_USAGE;
        } else if ((r = cli_opt(argc, argv, &i, "--seed", &v)) != 0) {
            unsigned long long s;
            if (r < 0 || !cli_u64("--seed", v, &s)) return CLI_EXIT_USAGE;
            cfg.seed = s;
        } else {
            cli_error("run `rnnlab gradcheck --help`", "unknown option '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
        if (st) {
            cli_error(NULL, "%s", rnnlab_last_error());
            return CLI_EXIT_USAGE;
        }
    }
    if (ref_n && other_opt) { /* a case is checked as PyTorch recorded it: its model, batch and seed */
        cli_error("--reference takes --tol only (a case's model, batch and floor of 1e-12 are in its file)",
                  "%s: an option of the finite-difference check, not of --reference", other_opt);
        return CLI_EXIT_USAGE;
    }
    if (ref_n) return run_references(ref_n, argv + ref_first, tol > 0 ? tol : 1e-9);
    if (!cli_cell_activation(cell_name, cfg.model.cell, cell_act_set, cell_act, act_name, opt_act, &cfg.model.activation))
        return CLI_EXIT_USAGE;
    if (variant_name && cfg.model.cell != RNNLAB_CELL_GRU) {
        cli_error(NULL, "--variant %s: only the gru cell has variants (the cell is %s)", variant_name,
                  rnnlab_cell_label(cfg.model.cell, cfg.model.activation));
        return CLI_EXIT_USAGE;
    }
    if (alpha_given && !(cfg.model.cell == RNNLAB_CELL_RNN && (cfg.model.activation == RNNLAB_ACT_LEAKY_RELU ||
                                                               cfg.model.activation == RNNLAB_ACT_PRELU))) {
        cli_error("give --cell rnn --activation leaky_relu (or prelu) with it", "--alpha: only the leaky_relu and prelu "
                  "activations have a slope (the cell is %s)", rnnlab_cell_label(cfg.model.cell, cfg.model.activation));
        return CLI_EXIT_USAGE;
    }
    if (tol > 0) cfg.tol = tol;
    rnnlab_status st = rnnlab_model_config_check(&cfg.model);
    if (st) { /* the library names its fields; say which option set the one at fault */
        static const char *const opt_of[][2] = {{"leaky_alpha", "--alpha"}, {"dropout", "--dropout"}};
        const char *msg = rnnlab_last_error(), *opt = NULL;
        for (size_t k = 0; k < sizeof opt_of / sizeof opt_of[0] && !opt; k++) {
            const size_t n = strlen(opt_of[k][0]);
            if (!strncmp(msg, opt_of[k][0], n) && msg[n] == ' ') opt = opt_of[k][1], msg += n + 1;
        }
        if (opt) cli_error(NULL, "%s: %s", opt, msg);
        else cli_error(NULL, "%s", msg);
        return CLI_EXIT_USAGE;
    }
    if (cfg.model.dropout > 0 && !cfg.bptt.training) {
        cli_error("add --training (dropout with fixed masks)", "--dropout %g: dropout acts in training mode only",
                  cfg.model.dropout);
        return CLI_EXIT_USAGE;
    }
    rnnlab_check_report rep;
    st = rnnlab_gradcheck_run(&cfg, &rep);
    if (st) {
        cli_error(NULL, "%s", rnnlab_last_error());
        rnnlab_check_report_free(&rep);
        return st == RNNLAB_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    const int trunc = cfg.bptt.truncate > 0 && cfg.bptt.truncate < cfg.bptt.seq_len;
    printf("gradcheck: %s%s%s, I=%d H=%d L=%d O=%d B=%d T=%d, %s loss at %s, %s, seed %llu, loss %.17g\n",
           rnnlab_cell_label(cfg.model.cell, cfg.model.activation),
           cfg.model.cell == RNNLAB_CELL_GRU ? " " : "",
           cfg.model.cell == RNNLAB_CELL_GRU ? rnnlab_gru_variant_name(cfg.model.gru_variant) : "",
           cfg.model.input_size, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.output_size, cfg.bptt.batch,
           cfg.bptt.seq_len, rnnlab_loss_name(cfg.bptt.loss), rnnlab_loss_at_name(cfg.bptt.loss_at),
           trunc ? "truncated BPTT" : "full BPTT", (unsigned long long)cfg.seed, rep.loss);
    if (trunc) printf("truncation length k = %d\n", cfg.bptt.truncate);
    char with[256] = ""; /* what the first line leaves out, when set */
    const int slope = cfg.model.cell == RNNLAB_CELL_RNN &&
                      (cfg.model.activation == RNNLAB_ACT_LEAKY_RELU || cfg.model.activation == RNNLAB_ACT_PRELU);
    if (cfg.model.norm != RNNLAB_NORM_NONE)
        snprintf(with + strlen(with), sizeof with - strlen(with), ", %s norm", rnnlab_norm_name(cfg.model.norm));
    if (cfg.model.residual) snprintf(with + strlen(with), sizeof with - strlen(with), ", residual");
    if (cfg.model.peephole) snprintf(with + strlen(with), sizeof with - strlen(with), ", peepholes");
    if (cfg.model.dropout > 0) snprintf(with + strlen(with), sizeof with - strlen(with), ", dropout %g", cfg.model.dropout);
    if (cfg.bptt.training) snprintf(with + strlen(with), sizeof with - strlen(with), ", training mode");
    if (cfg.random_lengths) snprintf(with + strlen(with), sizeof with - strlen(with), ", variable lengths");
    if (slope) snprintf(with + strlen(with), sizeof with - strlen(with), ", slope %g", cfg.model.leaky_alpha);
    if (*with) printf("with%s\n", with + 1);
    print_report(&rep, cfg.tol, cfg.atol);
    const int ok = rep.all_pass;
    printf("%s (tol %g relative, %g absolute floor)\n", ok ? "all gradients agree" : "FAILED", cfg.tol, cfg.atol);
    rnnlab_check_report_free(&rep);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
