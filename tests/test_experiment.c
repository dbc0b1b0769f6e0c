/*
 * test_experiment.c - the experiment runner end to end: bad experiment files (each with its own
 * file:line: key message and exit code 2), a small sweep read back with libcsv (every grid point
 * once, the summary agrees with the long file, the literature's ordering of decay rates), identical
 * files for 1 and 2 threads, a German locale, diverged runs, kill-and-resume (SIGKILL at random
 * moments), torn lines, a changed experiment file, and shards run with GNU parallel then merged.
 *
 * The CLI tests use the binary named by $RNNLAB_BIN (the Makefile sets it); they skip without it.
 */
#include "check.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/csvio.h"
#include "rnnlab/diag.h"
#include "rnnlab/experiment.h"
#include "rnnlab/format.h"
#include "rnnlab/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* The files a run writes, compared between two output folders. */
static const char *const run_files[] = {"decay.csv", "summary.csv", "layers.csv", NULL};

/* Loads ini and runs it with o (quiet, no figures), printing what failed. */
static rnnlab_status run_with(const char *ini, rnnlab_run_options *o)
{
    rnnlab_experiment *e;
    rnnlab_status st = rnnlab_experiment_load(&e, ini);
    if (st) {
        fprintf(stderr, "load: %s\n", rnnlab_last_error());
        return st;
    }
    o->quiet = 1, o->plot = 0;
    st = rnnlab_experiment_run(e, o);
    if (st) fprintf(stderr, "run: %s\n", rnnlab_last_error());
    rnnlab_experiment_free(e);
    return st;
}

/* A fresh run of ini into out with threads and jobs */
static rnnlab_status run_lib(const char *ini, const char *out, int threads, int jobs)
{
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    o.out_dir = out, o.threads = threads, o.jobs = jobs, o.fresh = 1;
    return run_with(ini, &o);
}

/* Shard K of N of ini into out (out itself when N = 1), on one thread, resuming what is there */
static rnnlab_status run_shard(const char *ini, const char *out, int k, int n)
{
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    o.out_dir = out, o.threads = 1, o.shard_k = k, o.shard_n = n;
    return run_with(ini, &o);
}

/* A small sweep: tanh RNN at the default and orthogonal init, and an LSTM with forget bias 3. */
static const char *small_sweep =
    "# test sweep\n"
    "[model]\nhidden_size = 16\nnum_layers = 2\nforget_bias = 3   ; lstm only\n"
    "[task]\nname = adding\nlength = fixed\nbatch = 8\n"
    "[measure]\njacobian_samples = 1\n"
    "[sweep]\ncell = rnn_tanh, lstm\ninit = pytorch, orthogonal\nseq_len = 40, 80\nseed = 1..2\n";

/* ---------------------------------------------------------------- bad files */

static void test_bad_experiment_files(void **state)
{
    (void)state;
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"[modle]\nhidden_size = 4\n", ":1: unknown section [modle]"},
        {"[foo]\n[task]\nname = adding\nseq_len = 30\n", ":1: unknown section [foo]"}, /* no key under it */
        /* the manifest copies the text into JSON: UTF-8 only (a Latin-1 e-acute refused, UTF-8 kept) */
        {"[experiment]\ndescription = caf\xe9\n[task]\nname = adding\nseq_len = 30\n", ":2:18: not UTF-8 text (byte 0xe9)"},
        {"# \xc3\xa9t\xc3\xa9 \xed\xa0\x80\n[task]\nname = adding\nseq_len = 30\n", ":1:7: not UTF-8 text (byte 0xed)"},
        {"hidden_size = 4\n[task]\nname = adding\n", ":1: hidden_size: a key outside any section"},
        {"[task]\nname = adding\nseq_len = 30\n[task.adding]\nname = adding\nseq_len = 40\n[task.main]\nname = adding\n"
         "seq_len = 50\n", ":8: [task.main] has the name the [task] block takes ('main'"},
        {"[model]\nresidual = true\n[task]\nname = adding\nseq_len = 40\n", ":2: residual: residual connections need"},
        {"[model]\nnum_layers = 1\n[task]\nname = adding\nseq_len = 40\n[sweep]\nresidual = false, true\n",
         ":7: residual: residual connections need"},
        {"[task]\nname = adding\n[model]\nhidden = 4\n", ":4: hidden: unknown key in [model]"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\nhidden_size = -4\n", ":5: hidden_size: expected an integer"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\nprecision = float16\n", ":5: precision: unknown precision"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\ncell = lstm, , gru\n", ":5: cell: empty item"},
        {"[task]\nname = adding\n[sweep]\nseq_len = 800..50\n", ":4: seq_len: bad range"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\ncell = lstm, gruu\n", ":5: cell: unknown cell 'gruu'"},
        {"[task]\nname = adding\nseq_len = 40\nseq_len = 50\n", ":4: seq_len: given twice"},
        {"[model]\nhidden_size = 4\n", "task.name"},
        {"[task]\nname = addition\nseq_len = 40\n", ":2: task: unknown task 'addition'"},
        {"[task]\nname = adding\nseq_len = 40\nbogus = 1\n", ":4: bogus: not an option of task adding"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\ncell = rnn_relu\nactivation = tanh\n", ":6: activation: 'tanh' contradicts"},
        {"[task]\nname = adding\n[sweep]\nseq_len = 10, 50\n", ":4: seq_len: the hochreiter1997 adding problem needs T >= 24"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\ncell = lstm\n[sweep]\ncell = gru\n", ":7: cell: set in [model] at line 5"},
        {"[task]\nname = adding\nseq_len = 40\nthis is not ini\n", ":4: syntax error"},
        {"[task]\nname = adding\nseq_len = 40\n[measure]\nloss_at = all\n", ":5: loss_at: task adding has a target at the last step only"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\ninit_ih = identity\n", ":5: init_ih: identity needs square"},
        {"[task]\nname = adding\nseq_len = 40\n[run]\nthreads = many\n", ":5: threads: expected auto"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nrun.jobs = 1, 2\n", ":5: run.jobs: of [run], only seed can be swept"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = -1\n", ":5: seed: expected a non-negative integer"},
        {"[task\nname = adding\nseq_len = 40\n", ":1: section header without its closing ']'"},
        {"[task]\nname = adding\nseq_len = 40\n[task.other]\n", ":4: [task.other] is empty"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = 1, 2,\n  3, 2\n", ":5: seed: the value '2' is listed twice"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = 1,\n\n  2\n", ":7: seed: an indented continuation of line 5"},
        {"[task]\nseq_len = 30\n[sweep]\ntask.name = adding, nosuch\n", ":4: task: unknown task 'nosuch'"},
        {"[task]\nseq_len = 30\n[sweep]\ntask.name = adding, copy\n", ":2: seq_len: not an option of task copy"},
        /* an init key beside init_from would be ignored, yet recorded in summary.csv */
        {"[model]\ncell = lstm\nforget_bias = 3\n[task]\nname = adding\nseq_len = 40\n[train]\ninit_from = w.txt\n",
         ":3: forget_bias: has no effect with init_from (line 8), whose file gives every weight"},
        /* which of the swept tasks refused a value */
        {"[task]\nvariant = le2015\nseq_len = 30\n[sweep]\ntask.name = adding, two_sequence\n",
         ":2: variant: expected one of 3a, 3b, 3c, got 'le2015' (task two_sequence)"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nnum_layers = 02, 1, 2\n", ":5: num_layers: '02' and '2' are the same value"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nforget_bias = -0, 1e0, 0\n", "'-0' and '0' are the same value"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nftz = yes, true\n", "'yes' and 'true' are the same value"},
        /* an option of another optimizer than the file's one is refused, not ignored */
        {"[task]\nname = adding\nseq_len = 40\n[train]\nmax_steps = 5\nnesterov = true\n",
         ":6: nesterov: an option of sgd, not of adam (this file's optimizer, the default)"},
        {"[task]\nname = adding\nseq_len = 40\n[train]\noptimizer = rmsprop\nbeta2 = 0.9\n",
         ":6: beta2: an option of adam and adamw, not of rmsprop (this file's optimizer)"},
        /* [train] keys by their own kinds (train.c): a real, a whole number, a boolean */
        {"[task]\nname = adding\nseq_len = 40\n[train]\nmax_steps = 5\n[sweep]\nlr = 1e-3, 0.001\n", ":7: lr: '1e-3' and '0.001' are the same value"},
        {"[task]\nname = adding\nseq_len = 40\n[train]\nmax_steps = 5\n[sweep]\neval_every = 05, 5\n", "'05' and '5' are the same value"},
        {"[task]\nname = adding\nseq_len = 40\n[train]\nmax_steps = 5\n[sweep]\ntrain.restore_best = on, 1\n", "are the same value"},
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = 0, 0x2\n", ":5: seed: "}, /* not 'the same value' */
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nvariant = "
         "hochreiter1997_but_with_a_name_long_enough_to_pass_sixty_four_characters_a,"
         "hochreiter1997_but_with_a_name_long_enough_to_pass_sixty_four_characters_b\n", "variant: expected one of"},
        /* counted before it is expanded: no overflow at the top of the range, no hour-long loop */
        {"[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = 1..9223372036854775807\n", ":5: seed: the list has more than 1000000"},
        {"[task]\nname = adding\nseq_len = 40\n[output]\ndir =\n", ":5: dir: empty path"},
        {"[task]\nname = adding\nseq_len = 40\n[model]\nnorm = batch\n[train]\ntruncate = 5\n", ":7: truncate: batch norm"},
        {"[task]\nname = adding\nseq_len = 40\n[train]\ninit_from = /nonexistent/w.txt\n", ":5: init_from: cannot open"},
    };
    const int cli = getenv("RNNLAB_BIN") != NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = check_tmp_path("bad.ini");
        check_write_file(p, cases[i].text);
        rnnlab_experiment *e = (rnnlab_experiment *)1;
        const rnnlab_status st = rnnlab_experiment_load(&e, p);
        if (st != RNNLAB_ERR_CONFIG || !strstr(rnnlab_last_error(), cases[i].expect))
            fprintf(stderr, "case %zu: status %d, message '%s', expected '%s'\n", i, st, rnnlab_last_error(), cases[i].expect);
        assert_int_equal(st, RNNLAB_ERR_CONFIG);
        assert_null(e);
        assert_non_null(strstr(rnnlab_last_error(), cases[i].expect));
        assert_non_null(strstr(rnnlab_last_error(), p)); /* the message starts with the file */
        if (cli) {
            const char *args[] = {"run", "--dry-run", p, NULL};
            assert_int_equal(check_run_cli(NULL, args), 2);
        }
    }
    /* a line too long for the parser */
    char big[600];
    snprintf(big, sizeof big, "[task]\nname = adding\nseq_len = 40\n[sweep]\nseed = %0400d\n", 1);
    const char *p = check_tmp_path("long.ini");
    check_write_file(p, big);
    rnnlab_experiment *e;
    assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), ":5: line longer than"));
    /* the longest line allowed (198 characters) is allowed with a CRLF ending too */
    char crlf[600];
    snprintf(crlf, sizeof crlf, "[task]\r\nname = adding\r\nseq_len = 40\r\n#%0197d\r\n", 0);
    p = check_tmp_path("crlf.ini");
    check_write_file(p, crlf);
    assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_OK);
    rnnlab_experiment_free(e);
    /* a missing file is an I/O error */
    assert_int_equal(rnnlab_experiment_load(&e, "/nonexistent/x.ini"), RNNLAB_ERR_IO);
    /* batch norm in training over one (step, sample) value per batch: refused at the batch's line; two
       samples are fine */
    const char *one_step = check_tmp_path("one_step.csv");
    check_write_file(one_step, "id,t,x,y\n1,0,0.5,1\n2,0,-0.5,0\n3,0,0.25,1\n4,0,1,0\n5,0,0,1\n6,0,-1,0\n7,0,2,1\n"
                               "8,0,0.75,0\n9,0,-2,1\n10,0,0.1,0\n");
    for (int b = 1; b <= 2; b++) {
        char body[5000];
        snprintf(body, sizeof body, "[model]\nnorm = batch\n[task]\nname = csv\npath = %s\nfeatures = x\ntargets = y\n"
                                    "seq_len = 1\nbatch = %d\n[train]\nmax_steps = 2\n", one_step, b);
        p = check_tmp_path("bn_one.ini");
        check_write_file(p, body);
        const rnnlab_status st = rnnlab_experiment_load(&e, p);
        if (b == 1) {
            assert_int_equal(st, RNNLAB_ERR_CONFIG);
            assert_non_null(strstr(rnnlab_last_error(), ":9: batch: batch norm in training takes"));
            assert_non_null(strstr(rnnlab_last_error(), "batch 1 of one-step sequences gives one"));
            /* variable lengths: a one-step sample may come in any batch */
            const char *var = check_tmp_path("var_steps.csv"), *pv = check_tmp_path("bn_var.ini");
            check_write_file(var, "id,t,x,y\n1,0,0.5,1\n1,1,0.25,1\n2,0,-0.5,0\n3,0,0.25,1\n3,1,1,1\n3,2,0,1\n"
                                  "4,0,1,0\n4,1,2,0\n5,0,0,1\n5,1,-1,1\n6,0,-1,0\n7,0,2,1\n7,1,2,1\n8,0,0.75,0\n"
                                  "9,0,-2,1\n9,1,-1,1\n10,0,0.1,0\n");
            snprintf(body, sizeof body, "[model]\nnorm = batch\n[task]\nname = csv\npath = %s\nfeatures = x\n"
                                        "targets = y\nbatch = 1\n[train]\nmax_steps = 2\n", var);
            check_write_file(pv, body);
            assert_int_equal(rnnlab_experiment_load(&e, pv), RNNLAB_ERR_CONFIG);
            assert_non_null(strstr(rnnlab_last_error(), ":8: batch: batch norm in training takes"));
            assert_non_null(strstr(rnnlab_last_error(), "a variable-length task can give one"));
        } else {
            if (st) fprintf(stderr, "%s\n", rnnlab_last_error());
            assert_int_equal(st, RNNLAB_OK);
            rnnlab_experiment_free(e);
        }
    }
    /* init_from is read before anything runs: a malformed file, or a folder, is the experiment file's
       error at its line, not a failure of the first run */
    const char *garbage = check_tmp_path("w_garbage.txt");
    check_write_file(garbage, "rnnlab-weights 1\ntensor weight_ih_l0 2 4 1\n0.5 -0.27abc\n");
    const char *init_targets[] = {garbage, check_tmpdir()};
    for (int k = 0; k < 2; k++) {
        char body[5000];
        snprintf(body, sizeof body, "[model]\nhidden_size = 4\n[task]\nname = adding\nseq_len = 40\n[train]\n"
                                    "init_from = %s\n", init_targets[k]);
        p = check_tmp_path("init_bad.ini");
        check_write_file(p, body);
        assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_ERR_CONFIG);
        assert_non_null(strstr(rnnlab_last_error(), ":7: init_from: "));
    }
    /* ... and must fit every architecture of the grid, not only the first */
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc);
    mc.input_size = 2, mc.hidden_size = 4, mc.output_size = 1; /* the adding problem's I and O */
    rnnlab_model *wm;
    assert_int_equal(rnnlab_model_create(&wm, &mc), RNNLAB_OK);
    const char *weights = check_tmp_path("w_h4.txt");
    assert_int_equal(rnnlab_weights_export(weights, wm), RNNLAB_OK);
    rnnlab_model_free(wm);
    for (int k = 0; k < 2; k++) {
        char body[5000];
        snprintf(body, sizeof body, "[task]\nname = adding\nseq_len = 40\n[train]\ninit_from = %s\n[sweep]\n"
                                    "hidden_size = %s\n", weights, k ? "4, 8" : "4");
        p = check_tmp_path("init_sweep.ini");
        check_write_file(p, body);
        assert_int_equal(rnnlab_experiment_load(&e, p), k ? RNNLAB_ERR_CONFIG : RNNLAB_OK);
        if (k) assert_non_null(strstr(rnnlab_last_error(), ":5: init_from: "));
        else rnnlab_experiment_free(e);
    }
    /* the name makes the folder results/<name> and a CSV value: '..' (given, or taken from a file
       named ..ini) would put the results outside results/, a newline would break the rows */
    const char *ok_text = "[task]\nname = adding\nseq_len = 40\n";
    const char *bad_names[] = {"..ini", ".ini.ini", "new\nline.ini"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        p = check_tmp_path(bad_names[i]);
        check_write_file(p, ok_text);
        assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_ERR_CONFIG);
        assert_non_null(strstr(rnnlab_last_error(), "Set [experiment] name"));
    }
    p = check_tmp_path("dots.ini");
    check_write_file(p, "[experiment]\nname = ..\n[task]\nname = adding\nseq_len = 40\n");
    assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), ":2: name: a name may not start with '.'"));
}

/* Writes text to path, loads it, and checks the grid's size and that --dry-run's listing has line. */
static void expect_grid(const char *path, const char *text, long size, const char *line)
{
    rnnlab_experiment *e;
    check_write_file(path, text);
    assert_int_equal(rnnlab_experiment_load(&e, path), RNNLAB_OK);
    assert_int_equal(rnnlab_experiment_grid_size(e), size);
    char *listing = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&listing, &n);
    rnnlab_experiment_print_grid(e, NULL, f);
    fclose(f);
    assert_non_null(strstr(listing, line));
    free(listing);
    rnnlab_experiment_free(e);
}

static void test_dry_run_expands_the_grid(void **state)
{
    (void)state;
    const char *p = check_tmp_path("grid.ini");
    check_write_file(p, "[task]\nname = adding\n[sweep]\ncell = rnn_tanh, gru\nseq_len = 30..90:30\n"
                        "seed = 1..2\n  ; a comment line\n");
    rnnlab_experiment *e;
    assert_int_equal(rnnlab_experiment_load(&e, p), RNNLAB_OK);
    assert_int_equal(rnnlab_experiment_grid_size(e), 2 * 3 * 2);
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    rnnlab_experiment_print_grid(e, NULL, f);
    fclose(f);
    assert_non_null(strstr(text, "\n0 cell=rnn_tanh seq_len=30 seed=1\n"));
    assert_non_null(strstr(text, "\n11 cell=gru seq_len=90 seed=2\n"));
    free(text);
    /* what `rnnlab run --dry-run --out elsewhere --shard 1/5` would run: ids 1, 6, 11 */
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    o.out_dir = "elsewhere", o.shard_k = 1, o.shard_n = 5;
    f = open_memstream(&text, &n);
    rnnlab_experiment_print_grid(e, &o, f);
    fclose(f);
    assert_non_null(strstr(text, "; shard 1/5: 3 of them; output elsewhere/shard-1-of-5\n1 "));
    assert_non_null(strstr(text, "\n11 cell=gru seq_len=90 seed=2\n"));
    assert_null(strstr(text, "\n0 "));
    assert_null(strstr(text, "\n2 "));
    free(text);
    assert_string_equal(rnnlab_experiment_name(e), "grid");
    assert_string_equal(rnnlab_experiment_out_dir(e), "results/grid");
    rnnlab_experiment_free(e);
    /* the task itself swept: one block, a `task` column */
    expect_grid(p, "[task]\nseq_len = 30\nlength = fixed\n[sweep]\ntask.name = adding, two_sequence\n", 2,
                "\n1 task=two_sequence seed=1\n");
    /* continuation lines after a trailing comma, with ` ;` comments, and a geometric range up to the
       largest long: 2, 4, ..., 2^62 (62 values; the next, 2^63, does not fit) */
    expect_grid(p, "[task]\nname = adding\nseq_len = 30\n[sweep]\ncell = rnn_tanh, ; the first\n  gru ; the second\n"
                   "  ; only a comment\nseed = 2..9223372036854775807*2\n", 2 * 62,
                "\n123 cell=gru seed=4611686018427387904\n");
}

/* rnnlab plot reads the CSV files strictly: a field that should be a number and is not, or an
 * unclosed quote, is reported with file:line (and nothing is drawn), not silently skipped. */
static void test_plot_refuses_damaged_csv(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("plotbad.ini"), *out = check_tmp_path("plotbad_out");
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1, 2\n");
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_OK);
    char path[4300];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    size_t n;
    char *text = check_slurp(path, &n);
    char *row3 = strchr(strchr(text, '\n') + 1, '\n') + 1; /* the second run's row: "1,..." */
    assert_true(row3[0] == '1' && row3[1] == ',');
    row3[1] = 'x'; /* "1x...": one field fewer */
    check_write_file(path, text);
    assert_int_equal(rnnlab_plot(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "summary.csv:3: "));
    assert_non_null(strstr(rnnlab_last_error(), "fields where the header has"));
    row3[0] = 'x', row3[1] = ','; /* "x,...": as many fields, not a number */
    check_write_file(path, text);
    assert_int_equal(rnnlab_plot(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "summary.csv:3: run_id: expected a number"));
    row3[0] = '1';
    check_write_file(path, text);
    free(text);
    snprintf(path, sizeof path, "%s/decay.csv", out);
    /* rows that cannot belong to the runs: a negative step, a run summary.csv lacks */
    char *decay = check_slurp(path, &n);
    const size_t decay_n = n;
    char *decay_whole = strdup(decay);
    const char *last = strstr(decay, "\n1,2,0,29,"); /* run 1 (seed 2), layer 0, its last step */
    assert_non_null(last);
    const char *edits[][2] = {{"1,2,0,-7,", "decay.csv:62: t: -7 is not a step"},
                              {"7,2,0,29,", "run_id: run 7 is not in summary.csv"},
                              {"1,2,0,29,0,", "decay.csv:62: 12 fields where the header has 11"}};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(path, "w");
        fprintf(f, "%s%s%s", decay, edits[k][0], last + strlen("\n1,2,0,29,"));
        fclose(f);
        assert_int_equal(rnnlab_plot(out), RNNLAB_ERR_IO);
        assert_non_null(strstr(rnnlab_last_error(), edits[k][1]));
    }
    check_write_file(path, decay);
    free(decay);
    FILE *f = fopen(path, "a");
    fputs("\"1,2\n", f);
    fclose(f);
    assert_int_equal(rnnlab_plot(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "decay.csv:"));
    /* a file cut mid-row: its last row would read as whole, a number cut short (a trial plotted it) */
    check_write_file(path, decay_whole);
    assert_int_equal(truncate(path, (off_t)(decay_n - 4)), 0);
    assert_int_equal(rnnlab_plot(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "decay.csv: its last line is not whole"));
    check_write_file(path, decay_whole);
    assert_int_equal(rnnlab_plot(out), RNNLAB_OK);
    free(decay_whole);
}

/* One writer per output folder: while another process holds <out>/.lock, a run refuses to start
 * (and writes nothing); once it is released, the run goes ahead. */
static void test_output_folder_is_locked(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("locked.ini"), *out = check_tmp_path("locked_out");
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n");
    char lock[4300];
    mkdir(out, 0777);
    snprintf(lock, sizeof lock, "%s/.lock", out);
    const int fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* a second open file description: as another process holds it */
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_ERR_BUSY);
    assert_non_null(strstr(rnnlab_last_error(), "in use by another rnnlab run"));
    char journal[4300];
    snprintf(journal, sizeof journal, "%s/.journal", out);
    assert_int_equal(access(journal, F_OK), -1);
    if (getenv("RNNLAB_BIN")) { /* the CLI: exit 1, and the hint says to wait, not to fix a cause */
        const char *log = check_tmp_path("locked.log");
        const char *args[] = {"run", "--quiet", "--no-plot", "--out", out, ini, NULL};
        assert_int_equal(check_run_cli(log, args), 1);
        char *text = check_slurp(log, NULL);
        assert_non_null(text);
        assert_non_null(strstr(text, "in use by another rnnlab run"));
        assert_non_null(strstr(text, "hint: wait for that process to finish"));
        assert_null(strstr(text, "fix the cause"));
        free(text);
        assert_int_equal(access(journal, F_OK), -1);
    }
    close(fd);
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_OK);
    assert_int_equal(access(journal, F_OK), 0);
    /* a reader (rnnlab plot) does not read files a run is writing: refused while the lock is held
       exclusively, and shared with another reader */
    const int held = open(lock, O_RDWR);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0);
    int rfd = 7;
    assert_int_equal(rnnlab_folder_read_lock(out, &rfd), RNNLAB_ERR_BUSY);
    assert_int_equal(rfd, -1);
    assert_non_null(strstr(rnnlab_last_error(), "in use by an rnnlab run or merge"));
    if (getenv("RNNLAB_BIN")) {
        const char *plot[] = {"plot", out, NULL};
        assert_int_equal(check_run_cli(NULL, plot), 1);
    }
    assert_int_equal(flock(held, LOCK_SH), 0);
    assert_int_equal(rnnlab_folder_read_lock(out, &rfd), RNNLAB_OK);
    assert_true(rfd >= 0);
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_ERR_BUSY); /* and no run starts while it reads */
    close(rfd), close(held);
}

/* Blocks: [task.NAME] with [sweep.NAME] add a second grid after the first; the key columns are the
 * union of the blocks' swept keys, with the block's name first, and a seq_len its block does not
 * sweep shows the task's own T. */
static void test_blocks(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("blocks.ini"), *out = check_tmp_path("blocks_out");
    check_write_file(ini, "[model]\nhidden_size = 8\n[task]\nname = adding\nlength = fixed\nbatch = 2\n"
                          "[sweep]\ncell = rnn_tanh, gru\nseq_len = 30, 40\n"
                          "[task.copy]\nname = copy\ndelay = 10\nbatch = 2\n"
                          "[sweep.copy]\ninit = pytorch, orthogonal\n");
    rnnlab_experiment *e;
    assert_int_equal(rnnlab_experiment_load(&e, ini), RNNLAB_OK);
    assert_int_equal(rnnlab_experiment_grid_size(e), 4 + 2);
    rnnlab_experiment_free(e);
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_OK);
    char path[4300];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    char *text = check_slurp(path, NULL);
    assert_non_null(strstr(text, "\"run_id\",\"block\",\"cell\",\"seq_len\",\"init\",\"seed\""));
    assert_non_null(strstr(text, "\n0,\"adding\",\"rnn_tanh\",30,\"pytorch\",1,")); /* the init it uses */
    assert_non_null(strstr(text, "\n5,\"copy\",\"rnn_tanh\",30,\"orthogonal\",1,")); /* copy: T = delay + 20 */
    free(text);
    /* a [sweep.NAME] needs its [task.NAME]; a [task.NAME] needs a name */
    const char *bad = check_tmp_path("blocks_bad.ini");
    check_write_file(bad, "[task]\nname = adding\nseq_len = 30\n[sweep.other]\ncell = gru\n");
    assert_int_equal(rnnlab_experiment_load(&e, bad), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), ":5: cell: [sweep.other] has no [task.other]"));
    check_write_file(bad, "[task]\nname = adding\nseq_len = 30\n[task.x]\nbatch = 2\n");
    assert_int_equal(rnnlab_experiment_load(&e, bad), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), ":5: name: [task.x] needs name"));
}

/* Every experiment shipped in experiments/ loads, checks and expands (the tests run from the
 * repository's root). */
static void test_shipped_experiments_are_valid(void **state)
{
    (void)state;
    const char *files[] = {"decay_sweep", "lstm_forget_bias", "init_schemes", "gru_variants", "depth"};
    if (access("experiments/decay_sweep.ini", R_OK) != 0) {
        fprintf(stderr, "SKIP: run from the repository's root to check experiments/\n");
        skip();
    }
    /* without Debian's dataset-fashion-mnist (`make setup-data`; `make test` does not install it), an
       experiment with a fashion_mnist block is checked with its path on a small stand-in */
    const char *fm = NULL;
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) {
        fm = check_tmp_path("fashion_standin");
        assert_int_equal(mkdir(fm, 0700), 0);
        check_write_idx_pair(fm, "train", 5050, 0), check_write_idx_pair(fm, "t10k", 50, 3); /* valid: 5000 */
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4300];
        snprintf(path, sizeof path, "experiments/%s.ini", files[i]);
        char *text = fm ? check_slurp(path, NULL) : NULL, *at = text ? strstr(text, "name = fashion_mnist\n") : NULL;
        if (at) {
            fprintf(stderr, "note: dataset-fashion-mnist is not installed: %s checked with path = %s\n", path, fm);
            at += strlen("name = fashion_mnist\n");
            snprintf(path, sizeof path, "%s/%s.ini", check_tmpdir(), files[i]);
            FILE *f = fopen(path, "w");
            assert_non_null(f);
            fprintf(f, "%.*spath = %s\n%s", (int)(at - text), text, fm, at);
            assert_int_equal(fclose(f), 0);
        }
        free(text);
        rnnlab_experiment *e;
        const rnnlab_status st = rnnlab_experiment_load(&e, path);
        if (st) fprintf(stderr, "%s\n", rnnlab_last_error());
        assert_int_equal(st, RNNLAB_OK);
        assert_true(rnnlab_experiment_grid_size(e) >= 2);
        assert_string_equal(rnnlab_experiment_name(e), files[i]);
        rnnlab_experiment_free(e);
    }
}

/* ---------------------------------------------------------------- a sweep read back */

typedef struct summary {
    int n_rows, bad;
    int col_cell, col_init, col_seq, col_rate, col_status;
    char cell[64][16], init[64][16];
    long seq[64], id[64];
    double rate[64];
} summary;

static int summary_row(void *user, char **f, int n, long line)
{
    summary *s = user;
    if (line == 1) {
        s->col_cell = s->col_init = s->col_seq = s->col_rate = s->col_status = -1;
        for (int i = 0; i < n; i++) {
            if (!strcmp(f[i], "cell")) s->col_cell = i;
            if (!strcmp(f[i], "init")) s->col_init = i;
            if (!strcmp(f[i], "seq_len")) s->col_seq = i;
            if (!strcmp(f[i], "decay_rate")) s->col_rate = i;
            if (!strcmp(f[i], "status")) s->col_status = i;
        }
        return 0;
    }
    const int k = s->n_rows++;
    if (k >= 64) return 1;
    s->id[k] = strtol(f[0], NULL, 10);
    snprintf(s->cell[k], 16, "%s", f[s->col_cell]);
    snprintf(s->init[k], 16, "%s", f[s->col_init]);
    s->seq[k] = strtol(f[s->col_seq], NULL, 10);
    if (!rnnlab_parse_double(f[s->col_rate], &s->rate[k])) s->bad++;
    if (strcmp(f[s->col_status], "ok")) s->bad++;
    return 0;
}

typedef struct decay_rows {
    long n;
    int top_layer_of[64];
    double norm[64][80]; /* top layer's grad_norm_h by run and t */
    int count[64];
} decay_rows;

static int decay_row(void *user, char **f, int n, long line)
{
    decay_rows *d = user;
    if (line == 1) return strcmp(f[0], "run_id") != 0 || n != 14;
    d->n++;
    const long id = strtol(f[0], NULL, 10);
    const int layer = (int)strtol(f[5], NULL, 10), t = (int)strtol(f[6], NULL, 10);
    if (id < 0 || id >= 64 || t < 0 || t >= 80) return 1;
    if (layer == 1) {
        double v;
        if (!rnnlab_parse_double(f[8], &v)) return 1;
        d->norm[id][t] = v, d->count[id]++;
    }
    return 0;
}

static double mean_rate(const summary *s, const char *cell, const char *init)
{
    double sum = 0;
    int n = 0;
    for (int k = 0; k < s->n_rows; k++)
        if (!strcmp(s->cell[k], cell) && !strcmp(s->init[k], init)) sum += s->rate[k], n++;
    return n ? sum / n : NAN;
}

static void test_small_sweep_end_to_end(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("small.ini"), *a = check_tmp_path("small_1thread"), *b = check_tmp_path("small_2threads");
    check_write_file(ini, small_sweep);
    assert_int_equal(run_lib(ini, a, 1, 1), RNNLAB_OK);
    assert_int_equal(run_lib(ini, b, 2, 2), RNNLAB_OK);
    assert_true(check_same_files(a, b, run_files)); /* any thread count, runs side by side or not: the same bytes */

    char path[4300];
    summary s;
    memset(&s, 0, sizeof s);
    snprintf(path, sizeof path, "%s/summary.csv", a);
    assert_int_equal(rnnlab_csv_scan(path, summary_row, &s), RNNLAB_OK);
    assert_int_equal(s.n_rows, 16); /* 2 cells x 2 inits x 2 lengths x 2 seeds */
    assert_int_equal(s.bad, 0);
    for (int k = 0; k < 16; k++) assert_int_equal(s.id[k], k); /* every grid point once, in order */

    decay_rows *d = calloc(1, sizeof *d);
    snprintf(path, sizeof path, "%s/decay.csv", a);
    assert_int_equal(rnnlab_csv_scan(path, decay_row, d), RNNLAB_OK);
    long expect_rows = 0;
    for (int k = 0; k < 16; k++) expect_rows += 2 * s.seq[k];
    assert_int_equal(d->n, expect_rows);
    /* the summary's decay rate is the slope of the top layer's rows of decay.csv */
    for (int k = 0; k < 16; k++) {
        assert_int_equal(d->count[k], s.seq[k]);
        rnnlab_decay_stats st;
        rnnlab_decay_stats_compute(d->norm[k], (int)s.seq[k], DBL_MIN, &st);
        assert_true(check_same_bytes("decay_rate: summary vs decay.csv", &st.rate, &s.rate[k], sizeof(double)));
    }
    free(d);
    /* the literature's ordering (Pascanu et al. 2013; Saxe et al. 2014; Gers et al. 2000): the tanh RNN
       at the default init decays faster than with orthogonal recurrent weights, which decays faster
       than an LSTM whose forget gates start open (bias 3) */
    const double tanh_def = mean_rate(&s, "rnn_tanh", "pytorch"), tanh_orth = mean_rate(&s, "rnn_tanh", "orthogonal");
    const double lstm_fb3 = mean_rate(&s, "lstm", "pytorch");
    fprintf(stderr, "decay rates (decades/step): tanh default %.4f, tanh orthogonal %.4f, lstm forget bias 3 %.4f\n",
            tanh_def, tanh_orth, lstm_fb3);
    assert_true(tanh_def > tanh_orth);
    assert_true(tanh_orth > lstm_fb3);
    assert_true(lstm_fb3 > 0);
}

/* Written under a German locale (decimal comma), the files are the same bytes and read back the same
 * doubles. The locale is built into a temporary folder with localedef (Debian's locales package). */
static void test_german_locale(void **state)
{
    (void)state;
    const char *locdir = check_tmp_path("locale");
    mkdir(locdir, 0777);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", locdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "SKIP: localedef cannot build de_DE.UTF-8 (Debian package locales)\n");
        skip();
    }
    setenv("LOCPATH", locdir, 1);
    if (!setlocale(LC_ALL, "de_DE.UTF-8")) {
        fprintf(stderr, "SKIP: de_DE.UTF-8 not usable\n");
        unsetenv("LOCPATH");
        skip();
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    assert_string_equal(probe, "0,5"); /* the locale is really in effect */
    const char *ini = check_tmp_path("de.ini"), *de = check_tmp_path("de_out"), *c = check_tmp_path("c_out");
    check_write_file(ini, "[model]\nhidden_size = 8\ngain = 0.75\n[task]\nname = adding\nlength = fixed\nbatch = 4\n"
                          "[sweep]\ncell = rnn_tanh, gru\nseq_len = 30\n");
    assert_int_equal(run_lib(ini, de, 1, 1), RNNLAB_OK);
    double v;
    assert_true(rnnlab_parse_double("0.125", &v) && v == 0.125);
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    assert_int_equal(run_lib(ini, c, 1, 1), RNNLAB_OK);
    assert_true(check_same_files(de, c, run_files));
    char path[4300];
    snprintf(path, sizeof path, "%s/summary.csv", de);
    char *text = check_slurp(path, NULL);
    assert_non_null(strstr(text, ",0.039583333333333331,")); /* the baseline loss, with a decimal point */
    free(text);
}

/* A relu RNN whose recurrent weights are 100 I explodes in the forward pass at long T (its states
 * grow a hundredfold per step from about 1e-3): that run is recorded as diverged, with the layer and
 * step, and the sweep goes on. */
static void test_diverged_runs_are_recorded(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("div.ini"), *out = check_tmp_path("div_out");
    check_write_file(ini, "[model]\ncell = rnn_relu\nhidden_size = 4\nnum_layers = 1\ninit = identity\n"
                          "identity_scale = 100\n[task]\nname = adding\nlength = fixed\nbatch = 2\n"
                          "[sweep]\nseq_len = 30, 400, 60\n");
    assert_int_equal(run_lib(ini, out, 1, 1), RNNLAB_OK);
    char path[4300];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    char *text = check_slurp(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"diverged\",\"forward\",0,"));
    int ok = 0;
    for (char *p = text; (p = strstr(p, "\"ok\"")); p++) ok++;
    assert_int_equal(ok, 2); /* the runs before and after it */
    free(text);
}

/* ---------------------------------------------------------------- kill, resume, torn lines */

static const char *resume_sweep =
    "[model]\nhidden_size = 24\nnum_layers = 2\n"
    "[task]\nname = adding\nlength = fixed\nbatch = 8\n"
    "[measure]\njacobian_samples = 1\n"
    "[sweep]\ncell = rnn_tanh, lstm, gru\nseq_len = 150, 300\nseed = 1..8\n";

static void test_kill_and_resume_gives_the_same_bytes(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("resume.ini"), *ref = check_tmp_path("resume_ref"), *out = check_tmp_path("resume_out");
    check_write_file(ini, resume_sweep);
    const char *ref_args[] = {"run", "--quiet", "--no-plot", "--threads", "2", "--out", ref, ini, NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(check_run_cli(NULL, ref_args), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* kills at random points within the first 10-25% of an uninterrupted sweep's time (this build's,
       this machine's), so that at least two land before the sweep is done */
    const double ref_us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    const char *args[] = {"run", "--quiet", "--no-plot", "--threads", "2", "--out", out, ini, NULL};
    /* the killed sweeps flush after every run (--flush-every 0): with the default of a second, every
       kill would land before the first flush, and resuming would never skip a committed run */
    char *const argv[] = {(char *)getenv("RNNLAB_BIN"), "run", "--quiet", "--no-plot", "--threads", "2", "--flush-every",
                          "0", "--out", (char *)out, (char *)ini, NULL};
    char journal[4300];
    snprintf(journal, sizeof journal, "%s/.journal", out);
    srand((unsigned)time(NULL));
    int kills = 0, most_done = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        const pid_t pid = fork();
        if (pid == 0) {
            const int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1), dup2(fd, 2);
            execv(argv[0], argv);
            _exit(127);
        }
        const long delay_us = (long)(ref_us * (0.10 + 0.15 * (double)rand() / RAND_MAX));
        usleep((useconds_t)delay_us);
        int status;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            kills++;
            char *text = check_slurp(journal, NULL); /* the runs the next command will skip */
            int done = 0;
            for (const char *q = text ? text : ""; (q = strstr(q, "\ndone ")) != NULL; q++) done++;
            free(text);
            if (done > most_done) most_done = done;
        } else
            break; /* finished before the kill */
    }
    fprintf(stderr, "killed the sweep %d time(s) (an uninterrupted one takes %.0f ms); at most %d runs committed at a kill\n",
            kills, ref_us / 1e3, most_done);
    assert_true(kills >= 2);
    assert_true(most_done >= 1);
    assert_int_equal(check_run_cli(NULL, args), 0); /* finish it */
    assert_true(check_same_files(ref, out, run_files));
    /* a torn last line and a torn journal entry are repaired on resume */
    char path[4300];
    snprintf(path, sizeof path, "%s/decay.csv", out);
    FILE *f = fopen(path, "a");
    fputs("999,\"rnn_tanh\",150,1,0,0,1", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/.journal", out);
    f = fopen(path, "a");
    fputs("done 999 12", f);
    fclose(f);
    assert_int_equal(check_run_cli(NULL, args), 0);
    assert_true(check_same_files(ref, out, run_files));
}

static void test_changed_experiment_is_refused(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("changed.ini"), *out = check_tmp_path("changed_out"), *log = check_tmp_path("changed.log");
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\n"
                          "[sweep]\nseq_len = 30, 40\n");
    const char *args[] = {"run", "--quiet", "--no-plot", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(NULL, args), 0);
    check_write_file(ini, "[model]\nhidden_size = 5\n[task]\nname = adding\nlength = fixed\nbatch = 2\n"
                          "[sweep]\nseq_len = 30, 40\n");
    assert_int_equal(check_run_cli(log, args), 2);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "--fresh"));
    assert_non_null(strstr(text, "another experiment file, or another version of this one"));
    free(text);
    const char *fresh[] = {"run", "--quiet", "--no-plot", "--fresh", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(NULL, fresh), 0);
}

static void test_bad_flush_interval_is_refused(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("flush.ini"), *out = check_tmp_path("flush_out"), *log = check_tmp_path("flush.log");
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\n[sweep]\nseq_len = 30\n");
    const char *bad[] = {"-1", "abc", "1e9", "nan", ""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *args[] = {"run", "--quiet", "--no-plot", "--flush-every", bad[k], "--out", out, ini, NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL);
        assert_non_null(text);
        assert_non_null(strstr(text, "--flush-every"));
        free(text);
    }
    const char *ok[] = {"run", "--quiet", "--no-plot", "--flush-every", "0", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(NULL, ok), 0);
}

/* Whole numbers and K/N take digits only: no blanks (strtol and %d would skip them) and nothing
 * that wraps; --out DIR/ is DIR; --dry-run shows what --out and --shard select. */
static void test_cli_numbers_and_folders(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("cli_num.ini"), *log = check_tmp_path("cli_num.log");
    check_write_file(ini, small_sweep);
    const char *bad[][2] = {{"--threads", " 1"}, {"--threads", "1 "}, {"--jobs", "0x2"},       {"--shard", " 0/2"},
                            {"--shard", "0/ 2"}, {"--shard", "4294967297/4294967299"}, {"--shard", "1/3/5"},
                            {"--shard", "1/0"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *args[] = {"run", "--dry-run", bad[k][0], bad[k][1], ini, NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL);
        assert_non_null(strstr(text, bad[k][0]));
        if (strcmp(bad[k][0], "--shard")) assert_non_null(strstr(text, "expected 'auto' or an integer")); /* both forms */
        free(text);
    }
    /* gradcheck's model options are checked by the library, whose message names its own fields */
    const char *model_opt[][2] = {{"--alpha", "-1"}, {"--dropout", "1"}};
    for (size_t k = 0; k < sizeof model_opt / sizeof *model_opt; k++) {
        const char *args[] = {"gradcheck", "--cell", "rnn_leaky_relu", model_opt[k][0], model_opt[k][1], NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL), want[64];
        snprintf(want, sizeof want, "error: %s: must be", model_opt[k][0]);
        assert_non_null(strstr(text, want));
        free(text);
    }
    /* options that would do nothing are refused, not ignored */
    const char *idle[][6] = {{"--alpha", "0.1", NULL, NULL, NULL, "only the leaky_relu and prelu activations have a slope"},
                             {"--dropout", "0.3", NULL, NULL, NULL, "dropout acts in training mode only"},
                             {"--reference", "x.txt", "--cell", "lstm", NULL, "--cell: an option of the finite-difference check"},
                             {"--reference", "x.txt", "--atol", "1e-9", NULL, "--atol: an option of the finite-difference check"}};
    for (size_t k = 0; k < sizeof idle / sizeof *idle; k++) {
        const char *args[] = {"gradcheck", idle[k][0], idle[k][1], idle[k][2], idle[k][3], NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL);
        assert_non_null(strstr(text, idle[k][5]));
        free(text);
    }
    /* arguments a command does not take are named */
    const char *extra[][5] = {{"train", "--info", "a.ckpt", "b.ckpt", "unexpected argument 'b.ckpt'"},
                              {"merge", "--bogus", NULL, NULL, "unknown option '--bogus'"},
                              {"plot", "a", "b", NULL, "one folder only"}};
    for (size_t k = 0; k < sizeof extra / sizeof *extra; k++) {
        const char *args[] = {extra[k][0], extra[k][1], extra[k][2], extra[k][3], NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL);
        assert_non_null(strstr(text, extra[k][4]));
        free(text);
    }
    /* gradcheck's cell options agree with each other, as an experiment file's must */
    const char *clash[][5] = {{"--cell", "rnn_relu", "--activation", "tanh", "contradicts --cell rnn_relu"},
                              {"--cell", "gru", "--activation", "relu", "only the rnn cell takes an activation"},
                              {"--cell", "rnn", "--variant", "reset_after", "only the gru cell has variants"}};
    for (size_t k = 0; k < sizeof clash / sizeof *clash; k++) {
        const char *args[] = {"gradcheck", clash[k][0], clash[k][1], clash[k][2], clash[k][3], NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        char *text = check_slurp(log, NULL);
        assert_non_null(strstr(text, clash[k][4]));
        free(text);
    }
    char out[4300];
    snprintf(out, sizeof out, "%s//", check_tmp_path("cli_num_out"));
    const char *dry[] = {"run", "--dry-run", "--out", out, "--shard", "1/5", ini, NULL};
    assert_int_equal(check_run_cli(log, dry), 0);
    char *text = check_slurp(log, NULL);
    char want[4400];
    snprintf(want, sizeof want, "; shard 1/5: 3 of them; output %scli_num_out/shard-1-of-5\n", check_tmp_path(""));
    assert_non_null(strstr(text, want));
    free(text);
    /* --threads auto and --jobs auto override the file's numbers: the run says it used what a file
       without them gets */
    const char *fixed = check_tmp_path("cli_auto.ini"), *free_ini = check_tmp_path("cli_free.ini");
    const char *base = "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n";
    char body[512];
    snprintf(body, sizeof body, "%s[run]\nthreads = 1\njobs = 1\n", base);
    check_write_file(fixed, body), check_write_file(free_ini, base);
    char used[2][128], out_auto[4300];
    snprintf(out_auto, sizeof out_auto, "%s", check_tmp_path("cli_auto_out"));
    const char *plain[] = {"run", "--no-plot", "--fresh", "--out", out_auto, free_ini, NULL};
    const char *autos[] = {"run", "--no-plot", "--fresh", "--threads", "auto", "--jobs", "auto", "--out", out_auto, fixed, NULL};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(check_run_cli(log, k ? autos : plain), 0);
        text = check_slurp(log, NULL);
        const char *p = strstr(text, " to do, "); /* "N thread(s), M side by side -> DIR" */
        assert_non_null(p);
        snprintf(used[k], sizeof used[k], "%.*s", (int)strcspn(p, "-"), p);
        free(text);
    }
    assert_string_equal(used[0], used[1]);
    /* a grid of one run is not run "side by side" with nothing: it gets every thread (a trial saw
       "2 side by side" and jobs 2 in the manifest) */
    const char *one_run[] = {"run", "--no-plot", "--fresh", "--threads", "2", "--out", out_auto, free_ini, NULL};
    assert_int_equal(check_run_cli(log, one_run), 0);
    assert_true(check_file_has(log, " to do, 2 thread(s), 1 side by side -> "));
    const char *root[] = {"run", "--dry-run", "--out", "/", "--shard", "1/5", ini, NULL}; /* written nowhere */
    assert_int_equal(check_run_cli(log, root), 0);
    text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "; output /shard-1-of-5\n"));
    free(text);
}

/* The heat map draws a panel for every setting, one layer or several (gnuplot's `with image` drew
 * nothing from a grid of one row, nor where NaN counted as a missing point), and the decay figure a
 * curve for every setting, each at its own top layer (settings shallower than the deepest had none). Checked by running the
 * generated figures.gp with gnuplot's SVG terminal, where each drawn image is an <image> element. */
static void test_heatmap_draws_every_panel(void **state)
{
    (void)state;
    if (system("gnuplot --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: gnuplot is not installed (Debian package gnuplot-nox)\n");
        skip();
    }
    /* every model with one layer (a grid of one row), one and two layers side by side, and two blocks
       of different T (the heat map took the longest T of all, empty for the other block) */
    const char *sweeps[3] = {"[sweep]\ncell = rnn_tanh, gru\n", "[sweep]\nnum_layers = 1, 2\ncell = rnn_tanh, gru\n",
                             "[task.other]\nname = two_sequence\nlength = fixed\nbatch = 2\nseq_len = 40\n"};
    const int panels[3] = {2, 4, 2}, curves[3] = {2, 4, 1}; /* heat-map panels; decay curves at the first T */
    for (int k = 0; k < 3; k++) {
        const char *ini = check_tmp_path("heat.ini");
        char out[4300], cmd[9000], body[512];
        snprintf(out, sizeof out, "%s", check_tmp_path("heat_out"));
        snprintf(body, sizeof body, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\n"
                                    "seq_len = 30\n%s", sweeps[k]);
        check_write_file(ini, body);
        rnnlab_experiment *e;
        assert_int_equal(rnnlab_experiment_load(&e, ini), RNNLAB_OK);
        rnnlab_run_options o;
        rnnlab_run_options_init(&o);
        o.out_dir = out, o.threads = 1, o.quiet = 1, o.fresh = 1; /* with figures */
        assert_int_equal(rnnlab_experiment_run(e, &o), RNNLAB_OK);
        rnnlab_experiment_free(e);
        snprintf(cmd, sizeof cmd,
                 "cd '%s/figures' && sed -e 's/^set terminal pngcairo.*/set terminal svg/' -e \"s/[.]png'/.svg'/\" "
                 "-e '/^# ---- pdf/,$d' figures.gp > svg.gp && gnuplot svg.gp 2>/dev/null && "
                 "test \"$(grep -c '<image' heatmap.svg)\" = %d && "
                 "test \"$(grep -o 'data/decay_p0_s[0-9]*' svg.gp | wc -l)\" = %d && test ! -s gnuplot.log && "
                 "for d in data/heat_s*.dat; do awk 'NF == 3 && $3 != \"NaN\" {n++} END {exit !n}' \"$d\" || exit 1; done",
                 out, panels[k], curves[k]); /* ... and every heat map has values, not only NaN */
        assert_int_equal(system(cmd), 0); /* a heat-map panel and a decay curve for every setting, no warning */
    }
    /* variable-length batches run past the seq_len the file gives (up to T + T/10): their rows plot */
    const char *var = check_tmp_path("heat_var.ini");
    char var_out[4300];
    snprintf(var_out, sizeof var_out, "%s", check_tmp_path("heat_var_out"));
    check_write_file(var, "[model]\nhidden_size = 4\n[task]\nname = adding\nbatch = 8\n[sweep]\nseq_len = 30, 40\n");
    assert_int_equal(run_lib(var, var_out, 1, 1), RNNLAB_OK);
    assert_int_equal(rnnlab_plot(var_out), RNNLAB_OK);
    char dat[4400]; /* the T = 40 panel's curve goes past step 39: the batch's longest sample has more */
    snprintf(dat, sizeof dat, "%s/figures/data/decay_p1_s0.dat", var_out);
    char *curve = check_slurp(dat, NULL);
    assert_non_null(curve);
    assert_non_null(strstr(curve, "\n40 "));
    free(curve);
}

/* OpenBLAS kernels older than the CPU (Debian's 0.3.21 falls back to Prescott on CPU models newer than
 * itself) make every product about 4x slower: the commands that compute say so and name the cure. */
static void test_cli_warns_of_old_blas_kernels(void **state)
{
    (void)state;
    check_need_cli();
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    const int avx2 = 0;
#endif
    const char *log = check_tmp_path("blas_warn.log");
    char cmd[8000];
    const char *cores[] = {"Prescott", "Haswell"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s '%s' --version > '%s' 2>&1", cores[i], getenv("RNNLAB_BIN"), log);
        assert_int_equal(system(cmd), 0);
        char *text = check_slurp(log, NULL), want[64];
        assert_non_null(text);
        snprintf(want, sizeof want, "OpenBLAS %s kernels)", cores[i]);
        if (!strstr(text, want)) { /* an OpenBLAS built for one CPU only ignores OPENBLAS_CORETYPE */
            printf("  (skipped %s: this OpenBLAS does not follow OPENBLAS_CORETYPE)\n", cores[i]);
            free(text);
            continue;
        }
        const int warned = strstr(text, "use SSE alone") != NULL;
        if (i == 0 && avx2) {
            assert_true(warned);
            assert_non_null(strstr(text, "warning: OPENBLAS_CORETYPE=Prescott makes OpenBLAS run its Prescott kernels"));
            assert_true(strstr(text, "or set it to SkylakeX") || strstr(text, "or set it to Haswell"));
            /* once, not once more for each grid row (a process of its own) */
            snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Prescott '%s' bench --grid scaling --only W3_T100 --steps 1 "
                                      "--warmup 0 > '%s' 2>&1", getenv("RNNLAB_BIN"), log);
            assert_int_equal(system(cmd), 0);
            free(text);
            text = check_slurp(log, NULL);
            const char *first = strstr(text, "use SSE alone");
            assert_non_null(first);
            assert_null(strstr(first + 1, "use SSE alone"));
        } else
            assert_false(warned); /* Haswell's kernels use AVX2; on a CPU without AVX2 Prescott's are right */
        free(text);
    }
}

/* The lines of path that start with prefix ("" counts them all); -1 when it cannot be read. */
static long count_lines(const char *path, const char *prefix)
{
    char *text = check_slurp(path, NULL);
    if (!text) return -1;
    long n = 0;
    for (const char *q = text; *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q))
        n += !strncmp(q, prefix, strlen(prefix));
    free(text);
    return n;
}

/* The value of column `name` in the row after the header, in the CSV text (rnnlab bench's own quoting:
 * header names in quotes, the numeric fields bare); NaN when missing. */
static double bench_column(const char *text, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", name);
    const char *h = strstr(text, "\"contender\""), *row = h ? strchr(h, '\n') : NULL;
    if (!h || !row) return NAN;
    int col = 0;
    for (const char *p = h; p < row; p++) {
        if (!strncmp(p, want, strlen(want))) {
            const char *q = row + 1;
            for (int k = 0; k < col && q; k++) q = strchr(q, ',') ? strchr(q, ',') + 1 : NULL;
            return q ? strtod(q, NULL) : NAN;
        }
        if (*p == ',') col++;
    }
    return NAN;
}

/* rnnlab bench: each mode refuses the options of another; a truncated row counts the work done (the
 * backward of the last chunk only, with the loss at the last step); --out appends under its own header
 * only; OMP_THREAD_LIMIT is recorded, not hidden. */
static void test_cli_bench(void **state)
{
    (void)state;
    check_need_cli();
    const char *log = check_tmp_path("bench.log"), *csv = check_tmp_path("bench.csv");
    const char *row[] = {"bench", "--cell", "gru", "--input", "1", "--hidden", "8", "--batch", "2", "--seq", "10"};
#define ROW row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10]
    const char *refused[][16] = {
        {"--sgemm does not take --out", "bench", "--sgemm", "--out", csv, NULL},
        {"--dgemm does not take --layers", "bench", "--dgemm", "--layers", "2", NULL},
        {"--sgemm and --dgemm are two runs", "bench", "--sgemm", "--dgemm", NULL},
        {"--sgemm takes a row's sizes with its --cell only", "bench", "--sgemm", "--hidden", "8", NULL},
        {"--dgemm with --cell needs --input, --hidden, --batch and --seq", "bench", "--dgemm", "--cell", "gru", "--hidden",
         "8", NULL},
        {"--info does not take --cell", "bench", "--info", "--cell", "gru", NULL},
        {"--list does not take --out", "bench", "--grid", "standard", "--list", "--out", csv, NULL},
        {"--grid does not take --threads", "bench", "--grid", "standard", "--threads", "2", "--list", NULL},
        {"a single row (no --grid) does not take --list", ROW, "--list", NULL},
        {"the standard grid has no workload 'W9' (it has W1, W2, W3)", "bench", "--grid", "standard", "--only", "W1,W9",
         "--list", NULL},
        {"only the rnn cell takes an activation", ROW, "--activation", "relu", NULL},
        {"truncated BPTT needs K below --seq 10", ROW, "--truncate", "10", NULL},
        {"--workload: expected a name of 1 to 15 characters", ROW, "--workload", "sixteen_letters_", NULL},
    };
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        assert_int_equal(check_run_cli(log, refused[k] + 1), 2);
        char *text = check_slurp(log, NULL);
        if (!strstr(text, refused[k][0])) fprintf(stderr, "expected '%s' in:\n%s", refused[k][0], text);
        assert_non_null(strstr(text, refused[k][0]));
        free(text);
    }
    /* GFLOP per step by hand, G = 3, I + H = 9, B = 2, T = 10: full BPTT 3 * 2 * B * T * 9 * 3 * 8 =
       25920; with K = 4 the chunks are 4, 4, 2 steps and only the last (2 steps) runs a backward:
       2 * B * (T + 2 * 2) * 9 * 3 * 8 = 12096 */
    const char *full[] = {ROW, "--steps", "2", "--warmup", "0", "--header", NULL};
    const char *trunc[] = {ROW, "--steps", "2", "--warmup", "0", "--header", "--truncate", "4", NULL};
    assert_int_equal(check_run_cli(log, full), 0);
    char *text = check_slurp(log, NULL);
    assert_true(fabs(bench_column(text, "gflop_per_step") - (25920e-9)) <= 1e-15);
    free(text);
    assert_int_equal(check_run_cli(log, trunc), 0);
    text = check_slurp(log, NULL);
    assert_true(fabs(bench_column(text, "gflop_per_step") - (12096e-9)) <= 1e-15);
    assert_true(fabs(bench_column(text, "truncate") - (4)) <= 0);
    free(text);
    /* --out: appended under one header; a file of other columns is left as it was */
    const char *append[] = {ROW, "--steps", "1", "--warmup", "0", "--out", csv, NULL};
    remove(csv);
    assert_int_equal(check_run_cli(log, append), 0);
    assert_int_equal(check_run_cli(log, append), 0);
    text = check_slurp(csv, NULL);
    int lines = 0, headers = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++) lines++;
    for (const char *p = text; (p = strstr(p, "\"contender\"")) != NULL; p++) headers++;
    assert_int_equal(lines, 3);
    assert_int_equal(headers, 1);
    free(text);
    /* a row cut short (a run stopped while writing it) is not glued onto: refused, naming the line */
    text = check_slurp(csv, NULL);
    text[strlen(text) - 5] = '\0';
    check_write_file(csv, text);
    assert_int_equal(check_run_cli(log, append), 2);
    char *msg = check_slurp(log, NULL);
    assert_non_null(strstr(msg, "line 3: the last row has no end of line"));
    free(msg);
    msg = check_slurp(csv, NULL);
    assert_string_equal(msg, text);
    free(msg), free(text);
    /* a file of other columns is left as it was, by a row and by a grid, which rewrites its own */
    const char *grid[] = {"bench", "--grid", "scaling", "--only", "W3_T100", "--steps", "1", "--warmup", "0", "--out",
                          csv, NULL};
    for (int k = 0; k < 2; k++) {
        check_write_file(csv, "a,b\n1,2\n");
        assert_int_equal(check_run_cli(log, k ? grid : append), 2);
        text = check_slurp(log, NULL);
        assert_non_null(strstr(text, "holds other columns"));
        free(text);
        text = check_slurp(csv, NULL);
        assert_string_equal(text, "a,b\n1,2\n");
        free(text);
    }
    /* a grid writes its rows beside the file and puts them in place at the end (a grid stopped midway
       left the old rows gone and part of the new: a trial); none is left beside */
    check_write_file(csv, "");
    assert_int_equal(check_run_cli(log, grid), 0);
    assert_int_equal(count_lines(csv, ""), 4); /* the header and W3_T100 of the three cells */
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", csv);
    assert_int_equal(access(tmp, F_OK), -1);
    /* ... so a grid stopped midway leaves the file as it was */
    char *before = check_slurp(csv, NULL);
    const char *slow[] = {"bench", "--grid", "standard", "--only", "W2", "--steps", "2", "--warmup", "0", "--out", csv, NULL};
    const pid_t pid = check_spawn_cli(log, slow);
    for (int w = 0; w < 3000 && count_lines(tmp, "") < 2; w++) usleep(10000); /* its first row, up to 30 s */
    kill(pid, SIGTERM);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    text = check_slurp(csv, NULL);
    assert_string_equal(text, before);
    free(text), free(before);
    /* a folder is not a file */
    const char *dir[] = {ROW, "--steps", "1", "--out", check_tmp_path(""), NULL};
    assert_int_equal(check_run_cli(log, dir), 2);
    text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "is a folder"));
    free(text);
#ifdef _OPENMP
    char cmd[8000];
    snprintf(cmd, sizeof cmd, "OMP_THREAD_LIMIT=1 '%s' bench --cell gru --input 1 --hidden 8 --batch 2 --seq 10 --steps 1 "
                              "--warmup 0 --threads 2 --header > '%s' 2>&1", getenv("RNNLAB_BIN"), log);
    assert_int_equal(system(cmd), 0);
    text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "OMP_THREAD_LIMIT allows 1 of the 2 threads"));
    assert_true(fabs(bench_column(strstr(text, "\"contender\""), "threads") - (1)) <= 0);
    free(text);
#endif
#undef ROW
}

/* A run computing on 2 threads makes waiting OpenMP threads sleep (cli_wait_policy: spinning ones took
 * the core of the thread with work whenever anything else ran); side-by-side runs, 1-thread runs and
 * a policy the user set are left alone. The manifest records what libgomp was given. */
static void test_cli_wait_policy(void **state)
{
    (void)state;
    check_need_cli();
    if (!rnnlab_openmp_enabled()) skip();
    const char *ini = check_tmp_path("policy.ini"), *log = check_tmp_path("policy.log");
    char out[4300], cmd[12000], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("policy_out"));
    snprintf(path, sizeof path, "%s/manifest.json", out);
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1..2\n");
    const struct {
        const char *env, *opts, *want;
    } cases[] = {
        {"", "--threads 2 --jobs 1", "\"omp_wait_policy\": \"passive\""},
        {"OMP_WAIT_POLICY=active", "--threads 2 --jobs 1", "\"omp_wait_policy\": \"active\""},
        {"GOMP_SPINCOUNT=1000", "--threads 2 --jobs 1", "\"omp_wait_policy\": \"\""},
        {"", "--threads 2", "\"omp_wait_policy\": \"\""}, /* two runs side by side, one thread each */
        {"", "--threads 1", "\"omp_wait_policy\": \"\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s '%s' run --quiet --no-plot --fresh %s --out '%s' '%s' > '%s' 2>&1",
                 cases[k].env, getenv("RNNLAB_BIN"), cases[k].opts, out, ini, log);
        assert_int_equal(system(cmd), 0);
        char *text = check_slurp(path, NULL);
        assert_non_null(text);
        if (!strstr(text, cases[k].want)) fprintf(stderr, "case %zu: expected %s in\n%s", k, cases[k].want, text);
        assert_non_null(strstr(text, cases[k].want));
        free(text);
    }
}

/* gradcheck says which passes the absolute floor decided: over 80 steps the earliest input and h0
 * gradients of a tanh RNN are below 1e-12, where central differences resolve nothing; a lower --atol
 * then fails them, as it should. */
static void test_cli_gradcheck_floor(void **state)
{
    (void)state;
    check_need_cli();
    const char *log = check_tmp_path("gc_floor.log");
    const char *floor[] = {"gradcheck", "--seq", "80", NULL}, *strict[] = {"gradcheck", "--seq", "80", "--atol", "1e-14", NULL};
    assert_int_equal(check_run_cli(log, floor), 0);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "of 480 by the floor)"));             /* input: some elements only */
    const char *h0 = strstr(text, "\nh0 ");
    assert_non_null(h0);
    assert_non_null(strstr(h0, "unresolved* (16 of 16 by the floor)")); /* every h0 gradient is below 1e-8 */
    free(text);
    assert_int_equal(check_run_cli(log, strict), 1);
    const char *ref[] = {"gradcheck", "--reference", "x.txt", "--atol", "1e-9", NULL};
    assert_int_equal(check_run_cli(log, ref), 2);
}

/* --fresh removes the figures an earlier run drew (they would sit beside the new results looking like
 * theirs), and nothing else of the folder's figures/; and an earlier training sweep's CSV files, which
 * `rnnlab plot` would draw beside a plain sweep's results */
static void test_fresh_clears_figures(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("fresh_fig.ini"), *log = check_tmp_path("fresh_fig.log");
    char out[4300], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("fresh_fig_out"));
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n");
    const char *first[] = {"run", "--quiet", "--no-plot", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, first), 0);
    const char *made[] = {"figures/decay.png", "figures/decay.pdf", "figures/figures.gp", "figures/gnuplot.log",
                          "figures/data/decay_p0_s0.dat", "figures/notes.txt", "train.csv", "train_layers.csv",
                          "train_probe.csv", "units.csv", "final_layers.csv"};
    snprintf(path, sizeof path, "%s/figures", out);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/figures/data", out);
    assert_int_equal(mkdir(path, 0777), 0);
    for (size_t k = 0; k < sizeof made / sizeof *made; k++) {
        snprintf(path, sizeof path, "%s/%s", out, made[k]);
        check_write_file(path, "old\n");
    }
    const char *fresh[] = {"run", "--quiet", "--no-plot", "--fresh", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, fresh), 0);
    for (size_t k = 0; k < sizeof made / sizeof *made; k++) {
        snprintf(path, sizeof path, "%s/%s", out, made[k]);
        assert_int_equal(access(path, F_OK) == 0, k == 5); /* only the user's notes stay */
    }
    /* an earlier training sweep's files (this sweep has no [train]) went too; and a folder that holds
       only such a file, without a journal, is not overwritten without --fresh */
    snprintf(path, sizeof path, "%s/.journal", out);
    assert_int_equal(unlink(path), 0);
    for (int k = 0; k < 3; k++) {
        static const char *const mine[] = {"decay.csv", "summary.csv", "layers.csv"};
        snprintf(path, sizeof path, "%s/%s", out, mine[k]);
        assert_int_equal(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/units.csv", out);
    check_write_file(path, "old\n");
    assert_int_equal(check_run_cli(log, first), 2);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "has results without a journal"));
    free(text);
}

/* Ctrl-C or SIGTERM during training: the process says that what was written is kept and how to resume,
 * and still ends by that signal (its exit status names it, as before) */
static void test_interrupt_says_how_to_resume(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("intr.ini"), *log = check_tmp_path("intr.log");
    char out[4300], csv[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("intr_out"));
    snprintf(csv, sizeof csv, "%s/train.csv", out);
    check_write_file(ini, "[model]\nhidden_size = 8\n[task]\nname = adding\nlength = fixed\nbatch = 4\nseq_len = 30\n"
                          "[train]\nmax_steps = 100000000\neval_every = 1000\n");
    const char *args[] = {"train", "--no-plot", "--threads", "1", "--out", out, ini, NULL};
    const pid_t pid = check_spawn_cli(log, args);
    for (int k = 0; k < 2000 && access(csv, F_OK) != 0; k++) usleep(10000); /* up to 20 s for it to start */
    usleep(100000);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "rnnlab: interrupted: the rows and checkpoints written so far are kept; run the same "
                                 "command again to resume"));
    free(text);
}


/* Ctrl-C, SIGTERM, SIGHUP (a closed terminal) and SIGPIPE (`| head`: the progress reader gone) keep
 * the runs already committed: their journal lines, which wait for the next group commit (a long
 * --flush-every here), are flushed before the process ends, so the journal counts
 * every row that summary.csv holds (before, it counted none, and resuming redid them all). 2 threads:
 * the signal may come to either while the other commits. With --flush-every 0 the process spends
 * most of its time inside commits, so the signal mostly finds one in progress, whose thread flushes
 * and raises it (a review's mutant without that raise hung there). With stderr a pipe whose reader
 * is gone (`2>&1 | tee log`, Ctrl-C ending tee too) the message's write raised SIGPIPE before the
 * flush (the review found it). A watchdog turns a process that never ends into a failure. */
static void test_interrupt_keeps_committed_runs(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("intr2.ini");
    check_write_file(ini, "[model]\nhidden_size = 16\n[task]\nname = adding\nlength = fixed\nbatch = 8\nseq_len = 100\n"
                          "[sweep]\ncell = lstm, gru\nseed = 1..1000\n");
    static const struct {
        int sig;
        const char *flush;
        int pipe_closed;
    } rounds[] = {{SIGINT, "1000", 0}, {SIGTERM, "1000", 0}, {SIGINT, "0", 0},  {SIGTERM, "0", 0},
                  {SIGINT, "1000", 1}, {SIGHUP, "1000", 0},  {SIGPIPE, "1000", 1}};
    for (int k = 0; k < (int)(sizeof rounds / sizeof rounds[0]); k++) {
        const int sig = rounds[k].sig;
        char out[4300], sum_path[4400], journal[4400];
        snprintf(out, sizeof out, "%s%d", check_tmp_path("intr2_out"), k);
        snprintf(sum_path, sizeof sum_path, "%s/summary.csv", out);
        snprintf(journal, sizeof journal, "%s/.journal", out);
        int p[2] = {-1, -1};
        assert_int_equal(pipe(p), 0);
        const pid_t pid = fork();
        if (pid == 0) {
            const int fd = open("/dev/null", O_WRONLY);
            if (fd < 0 || dup2(fd, 1) < 0 || dup2(rounds[k].pipe_closed ? p[1] : fd, 2) < 0) _exit(126);
            close(p[0]), close(p[1]);
            signal(SIGINT, SIG_DFL), signal(SIGPIPE, SIG_DFL), signal(SIGHUP, SIG_DFL); /* as a shell gives them */
            execl(getenv("RNNLAB_BIN"), "rnnlab", "run", "--quiet", "--no-plot", "--threads", "2", "--flush-every",
                  rounds[k].flush, "--out", out, ini, (char *)NULL);
            _exit(127);
        }
        assert_true(pid > 0);
        close(p[1]);
        for (int w = 0; w < 2000 && count_lines(sum_path, "") < 4; w++) usleep(10000); /* header + 3 runs, up to 20 s */
        close(p[0]); /* the reader goes first, as tee does */
        assert_int_equal(kill(pid, sig), 0);
        int status = 0, waited = 0;
        for (; waitpid(pid, &status, WNOHANG) == 0 && waited < 6000; waited++) usleep(10000);
        if (waited == 6000) { /* 60 s: it did not end */
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("round %d: the process did not end after the signal", k);
        }
        if (!WIFSIGNALED(status) || WTERMSIG(status) != sig)
            fail_msg("round %d: ended by %s %d, not by signal %d", k, WIFSIGNALED(status) ? "signal" : "exit",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), sig);
        const long rows = count_lines(sum_path, "") - 1, done = count_lines(journal, "done ");
        fprintf(stderr, "round %d (signal %d, --flush-every %s%s): %ld run(s), %ld in the journal\n", k, sig,
                rounds[k].flush, rounds[k].pipe_closed ? ", stderr a closed pipe" : "", rows, done);
        assert_true(rows >= 3);
        assert_int_equal(done, rows);
    }
}

/* The output folder deleted (and made again, empty) under a running sweep: its rows go to files no one
 * can open, so the sweep stops with an error that says so, and never prints "done" or "rows already
 * written are kept" (a trial saw exit 0, "done", and a folder holding only manifest.json). */
static void test_deleted_folder_stops_the_sweep(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("gone.ini"), *log = check_tmp_path("gone.log");
    char out[4300], sum_path[4400], cmd[9000];
    snprintf(out, sizeof out, "%s", check_tmp_path("gone_out"));
    snprintf(sum_path, sizeof sum_path, "%s/summary.csv", out);
    check_write_file(ini, "[model]\nhidden_size = 16\n[task]\nname = adding\nlength = fixed\nbatch = 8\nseq_len = 100\n"
                          "[sweep]\ncell = lstm, gru\nseed = 1..2000\n");
    const char *args[] = {"run", "--quiet", "--no-plot", "--threads", "1", "--flush-every", "0", "--out", out, ini, NULL};
    const pid_t pid = check_spawn_cli(log, args);
    for (int w = 0; w < 2000 && count_lines(sum_path, "") < 3; w++) usleep(10000);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", out, out);
    assert_int_equal(system(cmd), 0);
    int status = 0, waited = 0;
    for (; waitpid(pid, &status, WNOHANG) == 0 && waited < 6000; waited++) usleep(10000);
    if (waited == 6000) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the sweep went on in a deleted folder");
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    assert_true(check_file_has(log, "/.journal is no longer the journal this sweep writes"));
    char *text = check_slurp(log, NULL);
    assert_null(strstr(text, "rows already written are kept"));
    assert_null(strstr(text, "done"));
    free(text);
}

/* Results made under two OpenBLAS kernels (a resume on another CPU, shards on different nodes) differ
 * in their last bits from one command's: resume and merge warn, and manifest.json names every kernel
 * (a trial saw both take the mixture silently, the manifest naming one). Prescott and Core2 run on any
 * x86-64 CPU; an OpenBLAS that does not follow OPENBLAS_CORETYPE skips the test. */
static void test_mixed_blas_kernels_are_named(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("mixk.ini"), *log = check_tmp_path("mixk.log");
    char out[4300], path[4400], cmd[24000];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s '%s' --version > '%s' 2>&1", k ? "Core2" : "Prescott",
                 getenv("RNNLAB_BIN"), log);
        assert_int_equal(system(cmd), 0);
        char *text = check_slurp(log, NULL);
        const int followed = text && strstr(text, k ? "OpenBLAS Core2 kernels)" : "OpenBLAS Prescott kernels)");
        free(text);
        if (!followed) {
            printf("  (skipped: this OpenBLAS does not follow OPENBLAS_CORETYPE)\n");
            return;
        }
    }
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1..4\n");
    snprintf(out, sizeof out, "%s", check_tmp_path("mixk_out"));
    /* resume: all four runs under Prescott, the journal cut back to two (as a kill leaves it), the rest
       under Core2 */
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Prescott '%s' run --quiet --no-plot --out '%s' '%s' > '%s' 2>&1",
             getenv("RNNLAB_BIN"), out, ini, log);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/.journal", out);
    char *j = check_slurp(path, NULL);
    assert_non_null(j);
    char *third = strstr(j, "\ndone 2 ");
    assert_non_null(third);
    third[1] = '\0';
    check_write_file(path, j);
    free(j);
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Core2 '%s' run --quiet --no-plot --out '%s' '%s' > '%s' 2>&1",
             getenv("RNNLAB_BIN"), out, ini, log);
    assert_int_equal(system(cmd), 0);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "warning: OpenBLAS runs its Core2 kernels here, and the 2 run(s) done before ran "
                                 "under Prescott: the last bits"));
    free(text);
    snprintf(path, sizeof path, "%s/manifest.json", out);
    assert_true(check_file_has(path, "\n  \"blas_kernels\": \"Prescott, Core2\",\n"));
    /* merge: shard 0 under Prescott, shard 1 under Core2 */
    snprintf(out, sizeof out, "%s", check_tmp_path("mixk_shards"));
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s '%s' run --quiet --no-plot --shard %d/2 --out '%s' '%s' > '%s' 2>&1",
                 k ? "Core2" : "Prescott", getenv("RNNLAB_BIN"), k, out, ini, log);
        assert_int_equal(system(cmd), 0);
    }
    const char *merge[] = {"merge", out, NULL};
    assert_int_equal(check_run_cli(log, merge), 0);
    assert_true(check_file_has(log, "warning: the shards' runs were made under different OpenBLAS kernels (Prescott, Core2)"));
    snprintf(path, sizeof path, "%s/manifest.json", out);
    assert_true(check_file_has(path, "\n  \"blas_kernels\": \"Prescott, Core2\",\n"));
    /* a merge into a folder whose only result is an earlier training sweep's file (no journal) is
       refused, as run refuses it (a review found merge still took it) */
    static const char *const merged[] = {".journal", "decay.csv", "summary.csv", "layers.csv"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", out, merged[k]);
        assert_int_equal(unlink(path), 0);
    }
    snprintf(path, sizeof path, "%s/train.csv", out);
    check_write_file(path, "old\n");
    assert_int_equal(check_run_cli(log, merge), 1);
    assert_true(check_file_has(log, "has results without a journal (train.csv)"));
}

/* A folder whose journal head differs only in its files or their header lengths says which: the same
 * file run with training (rnnlab train; more files), or another rnnlab version (other columns: a
 * trial's resume of an older training folder was told it had been run without training). */
static void test_journal_head_says_what_differs(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("jhead.ini"), *log = check_tmp_path("jhead.log");
    char out[4300], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("jhead_out"));
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n");
    const char *run[] = {"run", "--quiet", "--no-plot", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, run), 0);
    const char *train[] = {"train", "--quiet", "--no-plot", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, train), 2);
    assert_true(check_file_has(log, "holds results of the same file run without training (rnnlab run)"));
    snprintf(path, sizeof path, "%s/.journal", out);
    char *j = check_slurp(path, NULL);
    assert_non_null(j);
    char *sizes = strstr(j, " sizes=");
    assert_non_null(sizes);
    const long first = strtol(sizes + 7, NULL, 10); /* decay.csv's header, one byte longer */
    char head[64];
    snprintf(head, sizeof head, " sizes=%ld", first + 1);
    const size_t old_len = (size_t)snprintf(NULL, 0, " sizes=%ld", first);
    char *edited = malloc(strlen(j) + 8);
    assert_non_null(edited);
    snprintf(edited, strlen(j) + 8, "%.*s%s%s", (int)(sizes - j), j, head, sizes + old_len);
    check_write_file(path, edited);
    free(j), free(edited);
    assert_int_equal(check_run_cli(log, run), 2);
    assert_true(check_file_has(log, "holds results of another rnnlab version, whose CSV files have other columns"));
}

/* A command with nothing to do in a finished folder leaves its manifest.json as it is (the threads,
 * times, or a merge's record that made the results: a trial saw a no-op rerun overwrite them); a
 * manifest whose command did not end (a kill before the last write) is written again; and bytes after
 * the journal's last run are cut with a word. */
static void test_nothing_to_do_keeps_the_manifest(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("keepman.ini"), *log = check_tmp_path("keepman.log");
    char out[4300], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("keepman_out"));
    snprintf(path, sizeof path, "%s/manifest.json", out);
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1..4\n");
    const char *two[] = {"run", "--quiet", "--no-plot", "--threads", "2", "--out", out, ini, NULL};
    const char *one[] = {"run", "--quiet", "--no-plot", "--threads", "1", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, two), 0);
    char *first = check_slurp(path, NULL);
    assert_non_null(first);
    assert_non_null(strstr(first, "\n  \"threads\": 2,"));
    assert_int_equal(check_run_cli(log, one), 0);
    char *again = check_slurp(path, NULL);
    assert_non_null(again);
    assert_string_equal(first, again);
    free(again);
    /* as a kill before the last write leaves it: "ended": null */
    char *cut = strstr(first, "\n  \"ended\": \"");
    assert_non_null(cut);
    strcpy(cut, "\n  \"ended\": null\n}\n");
    check_write_file(path, first);
    free(first);
    assert_int_equal(check_run_cli(log, one), 0);
    again = check_slurp(path, NULL);
    assert_non_null(again);
    assert_non_null(strstr(again, "\n  \"threads\": 1,"));
    assert_non_null(strstr(again, "\n  \"ended\": \""));
    free(again);
    /* text appended after the last committed run is cut, and said so (a trial saw it vanish silently) */
    snprintf(path, sizeof path, "%s/summary.csv", out);
    char *rows = check_slurp(path, NULL);
    assert_non_null(rows);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("junk,row\n", f);
    fclose(f);
    const char *loud[] = {"run", "--no-plot", "--threads", "1", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, loud), 0);
    assert_true(check_file_has(log, "/summary.csv: cut 9 byte(s) after the last run in the journal"));
    again = check_slurp(path, NULL);
    assert_string_equal(rows, again);
    free(rows), free(again);
}

/* Column c (0-based) of a CSV line without commas inside fields, as a number (quotes skipped). */
static double csv_num_at(const char *line, int c)
{
    for (int k = 0; k < c && line; k++) line = strchr(line, ',') ? strchr(line, ',') + 1 : NULL;
    if (!line) return NAN;
    if (*line == '"') line++;
    return strtod(line, NULL);
}

/* The index of column name in a header line, or -1. */
static int csv_col(const char *header, const char *name)
{
    int c = 0;
    for (const char *p = header; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL, c++) {
        const char *q = *p == '"' ? p + 1 : p;
        if (!strncmp(q, name, strlen(name)) && strchr(",\"\n", q[strlen(name)] ? q[strlen(name)] : '\n')) return c;
    }
    return -1;
}

/* Variable lengths (the adding task's default, lengths in [T, T + T/10]): a probe batch whose longest
 * sample is shorter than T + T/10 measured its decay from a step that is padding in every sample, with
 * grad_norm_h 0 there, every horizon 0, n_zero_steps 1 and no Jacobian (a trial found it). The probe's
 * steps now end at its batch's longest sample: at its last step (lag 0) a loss is there, the gradient
 * is not 0 and the Jacobian is the identity; and summary.csv's seq_len is the file's T. */
static void test_variable_length_probe_ends_at_the_longest_sample(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("varlen.ini"), *log = check_tmp_path("varlen.log");
    char out[4300], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("varlen_out"));
    check_write_file(ini, "[model]\nhidden_size = 4\nnum_layers = 2\n[task]\nname = adding\nseq_len = 30\nbatch = 1\n"
                          "[sweep]\nseed = 1..8\n");
    const char *args[] = {"run", "--quiet", "--no-plot", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, args), 0);
    enum { RUNS = 8, LAYERS = 2 };
    int tmax[RUNS][LAYERS];
    double lag[RUNS][LAYERS], grad[RUNS][LAYERS], jac[RUNS][LAYERS];
    for (int r = 0; r < RUNS; r++)
        for (int l = 0; l < LAYERS; l++) tmax[r][l] = -1;
    snprintf(path, sizeof path, "%s/decay.csv", out);
    char *csv = check_slurp(path, NULL);
    assert_non_null(csv);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    const int c_run = csv_col(line, "run_id"), c_l = csv_col(line, "layer"), c_t = csv_col(line, "t"),
              c_lag = csv_col(line, "lag"), c_g = csv_col(line, "grad_norm_h"), c_j = csv_col(line, "jacobian_norm");
    assert_true(c_run >= 0 && c_l >= 0 && c_t >= 0 && c_lag >= 0 && c_g >= 0 && c_j >= 0);
    while ((line = strtok_r(NULL, "\n", &save))) {
        const int r = (int)csv_num_at(line, c_run), l = (int)csv_num_at(line, c_l), t = (int)csv_num_at(line, c_t);
        assert_true(r >= 0 && r < RUNS && l >= 0 && l < LAYERS);
        if (t > tmax[r][l])
            tmax[r][l] = t, lag[r][l] = csv_num_at(line, c_lag), grad[r][l] = csv_num_at(line, c_g), jac[r][l] = csv_num_at(line, c_j);
    }
    free(csv);
    int shorter = 0;
    for (int r = 0; r < RUNS; r++)
        for (int l = 0; l < LAYERS; l++) {
            assert_true(tmax[r][l] >= 29 && tmax[r][l] <= 32); /* lengths 30..33 */
            assert_true(lag[r][l] == 0 && grad[r][l] > 0 && jac[r][l] == 1);
            shorter += l == 0 && tmax[r][l] < 32;
        }
    fprintf(stderr, "%d of %d runs' batches are shorter than T + T/10 = 33\n", shorter, RUNS);
    assert_true(shorter >= 1); /* the case in point (B = 1: each length 30..33 with probability 1/4) */
    snprintf(path, sizeof path, "%s/summary.csv", out);
    csv = check_slurp(path, NULL);
    assert_non_null(csv);
    line = strtok_r(csv, "\n", &save);
    const int c_len = csv_col(line, "seq_len"), c_h = csv_col(line, "horizon_1e3"), c_z = csv_col(line, "n_zero_steps");
    assert_true(c_len >= 0 && c_h >= 0 && c_z >= 0);
    int rows = 0;
    for (; (line = strtok_r(NULL, "\n", &save)); rows++) {
        assert_true(csv_num_at(line, c_len) == 30);
        assert_true(csv_num_at(line, c_h) >= 1);
        assert_true(csv_num_at(line, c_z) == 0);
    }
    free(csv);
    assert_int_equal(rows, RUNS);
    /* the training probe's rows (train_probe.csv) end there too (a review found them at T + T/10) */
    check_write_file(ini, "[model]\nhidden_size = 4\nnum_layers = 2\n[task]\nname = adding\nseq_len = 30\nbatch = 1\n"
                          "[train]\nmax_steps = 1\nprobe_at = 0\n[sweep]\nseed = 1..8\n");
    const char *train[] = {"train", "--quiet", "--no-plot", "--fresh", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, train), 0);
    snprintf(path, sizeof path, "%s/train_probe.csv", out);
    csv = check_slurp(path, NULL);
    assert_non_null(csv);
    line = strtok_r(csv, "\n", &save);
    const int p_run = csv_col(line, "run_id"), p_l = csv_col(line, "layer"), p_t = csv_col(line, "t"),
              p_lag = csv_col(line, "lag"), p_g = csv_col(line, "grad_norm_h");
    assert_true(p_run >= 0 && p_l >= 0 && p_t >= 0 && p_lag >= 0 && p_g >= 0);
    for (int r = 0; r < RUNS; r++)
        for (int l = 0; l < LAYERS; l++) tmax[r][l] = -1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        const int r = (int)csv_num_at(line, p_run), l = (int)csv_num_at(line, p_l), t = (int)csv_num_at(line, p_t);
        assert_true(r >= 0 && r < RUNS && l >= 0 && l < LAYERS);
        if (t > tmax[r][l]) tmax[r][l] = t, lag[r][l] = csv_num_at(line, p_lag), grad[r][l] = csv_num_at(line, p_g);
    }
    free(csv);
    shorter = 0;
    for (int r = 0; r < RUNS; r++)
        for (int l = 0; l < LAYERS; l++) {
            assert_true(tmax[r][l] >= 29 && tmax[r][l] <= 32 && lag[r][l] == 0 && grad[r][l] > 0);
            shorter += l == 0 && tmax[r][l] < 32;
        }
    assert_true(shorter >= 1);
}

/* Writes <tmp>/<name>.ini with text and trains it with the CLI (1 thread) into out = <tmp>/<name>_out
 * (cap bytes), which must succeed; output to log. */
static void train_cli(const char *name, const char *text, char *out, size_t cap, const char *log)
{
    char ini[4400];
    snprintf(ini, sizeof ini, "%s.ini", check_tmp_path(name));
    snprintf(out, cap, "%s_out", check_tmp_path(name));
    check_write_file(ini, text);
    const char *train[] = {"train", "--quiet", "--no-plot", "--threads", "1", "--out", out, ini, NULL};
    assert_int_equal(check_run_cli(log, train), 0);
}

/* train --info tells how the run ended and which update the kept weights come from: with restore_best
 * and early stopping, the update of the lowest validation loss in train.csv, not the last one */
static void test_train_info_names_the_kept_weights(void **state)
{
    (void)state;
    check_need_cli();
    const char *log = check_tmp_path("tinfo.log");
    char out[4300], path[4400], ckpt[4400];
    train_cli("tinfo", "[model]\nhidden_size = 8\ncell = gru\n[task]\nname = adding\nlength = fixed\nseq_len = 30\n"
                       "batch = 8\n[train]\nmax_steps = 400\neval_every = 50\npatience = 2\nlr = 0.5\n",
              out, sizeof out, log);
    /* the expected answer from train.csv: the validation row of the lowest loss, and the last step */
    snprintf(path, sizeof path, "%s/train.csv", out);
    char *csv = check_slurp(path, NULL);
    assert_non_null(csv);
    long best = -1, last = -1;
    double best_loss = INFINITY;
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n")) {
        long run, seed, step;
        double loss;
        char phase[16];
        if (sscanf(line, "%ld,%ld,%ld,\"%15[a-z]\",%lf", &run, &seed, &step, phase, &loss) != 5) continue;
        if (step > last) last = step;
        if (!strcmp(phase, "valid") && loss < best_loss) best_loss = loss, best = step;
    }
    free(csv);
    assert_true(best >= 0 && last > 0);
    if (best == last) printf("  (this build's run did not stop after its best update: a weaker check)\n");
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/run-0.ckpt", out);
    const char *info[] = {"train", "--info", ckpt, NULL};
    assert_int_equal(check_run_cli(log, info), 0);
    char *text = check_slurp(log, NULL), want[128];
    snprintf(want, sizeof want, " after %ld updates\n", last); /* early_stopped here (lr 0.5, patience 2) */
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "weights    those of update %ld, the best (restore_best)", best);
    assert_non_null(strstr(text, want));
    free(text);
    /* options of a training run with --info or --export are refused, not ignored (--export takes --out) */
    const char *bad[][5] = {{"train", "--info", ckpt, "--fresh", NULL}, {"train", "--info", ckpt, "--out", "x.txt"},
                            {"train", "--export", ckpt, "--threads", "2"}};
    for (int k = 0; k < 3; k++) {
        const char *args[6] = {bad[k][0], bad[k][1], bad[k][2], bad[k][3], bad[k][4], NULL};
        assert_int_equal(check_run_cli(log, args), 2);
        assert_true(check_file_has(log, "does not apply"));
    }
    /* a diverged run keeps no model: exporting its checkpoint says whose weights it writes */
    train_cli("tinfo_dv", "[model]\ncell = rnn_relu\nhidden_size = 4\n[task]\nname = adding\nseq_len = 30\nbatch = 4\n"
                          "[train]\nmax_steps = 20\neval_batches = 1\noptimizer = sgd\nlr = 1e30\nclip = none\n",
              out, sizeof out, log);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/run-0.ckpt", out);
    snprintf(path, sizeof path, "%s/w.txt", out);
    const char *exp[] = {"train", "--export", ckpt, "--out", path, NULL};
    assert_int_equal(check_run_cli(log, exp), 0);
    assert_true(check_file_has(log, "warning: this run diverged at update"));
}

/* data show -n N on a split of fewer examples shows each once and says so (a batch wraps around) */
static void test_data_show_small_split(void **state)
{
    (void)state;
    check_need_cli();
    const char *csv = check_tmp_path("show_small.csv"), *log = check_tmp_path("show_small.log");
    check_write_file(csv, "id,t,a,b,y,split\ns1,0,1,2,1,train\ns2,0,3,4,0,valid\ns3,0,5,6,1,test\n");
    char path_opt[4400];
    snprintf(path_opt, sizeof path_opt, "path=%s", csv);
    const char *args[] = {"data", "show", "csv", path_opt, "features=a,b", "targets=y", "split_column=split",
                          "--split", "valid", "-n", "5", NULL};
    assert_int_equal(check_run_cli(log, args), 0);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "(the valid split holds 1 example: each is shown once)"));
    assert_non_null(strstr(text, "example 0:"));
    assert_null(strstr(text, "example 1:"));
    free(text);
}

/* Closed standard descriptors must not become the output files (progress lines went into
 * decay.csv), and a failed write to standard output is a failure, not exit 0; nor is a figure that
 * gnuplot did not write whole. */
static void test_cli_standard_streams(void **state)
{
    (void)state;
    check_need_cli();
    const char *ini = check_tmp_path("streams.ini");
    char out[4300], cmd[24000], path[4400];
    snprintf(out, sizeof out, "%s", check_tmp_path("streams_out"));
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1..3\n");
    snprintf(cmd, sizeof cmd, "'%s' run --no-plot --fresh --out '%s' '%s' 0<&- 1>&- 2>&-", getenv("RNNLAB_BIN"), out, ini);
    assert_int_equal(system(cmd), 0);
    const char *names[] = {"decay.csv", "summary.csv", "layers.csv", ".journal", ".lock"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        char *text = check_slurp(path, NULL);
        assert_non_null(text);
        assert_null(strstr(text, "rnnlab: ")); /* no progress line, no message */
        free(text);
    }
    /* gnuplot failing: a warning (quiet or not) and no claim that the figures are there */
    char bindir[4300], log[4400];
    snprintf(bindir, sizeof bindir, "%s", check_tmp_path("fakebin"));
    snprintf(log, sizeof log, "%s/log", bindir);
    snprintf(path, sizeof path, "%s/gnuplot", bindir);
    assert_int_equal(mkdir(bindir, 0777), 0);
    check_write_file(path, "#!/bin/sh\nexit 3\n");
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(cmd, sizeof cmd, "PATH='%s':\"$PATH\" '%s' run --quiet --fresh --out '%s' '%s' > '%s' 2>&1", bindir,
             getenv("RNNLAB_BIN"), out, ini, log);
    assert_int_equal(system(cmd), 0); /* the CSV files are complete */
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "warning: figures not drawn"));
    assert_non_null(strstr(text, "figures: not drawn"));
    free(text);
    /* gnuplot exiting 0 with figures it could not write whole (a full disk: empty, or a PNG cut short
       before its IEND chunk): rnnlab plot fails and removes them, rather than saying they are there */
    check_write_file(path, "#!/bin/sh\n: > decay.png; printf '\\211PNG' > heatmap.png; printf '%%PDF-1.5' > decay.pdf\n"
                           "exit 0\n");
    snprintf(cmd, sizeof cmd, "PATH='%s':\"$PATH\" '%s' plot '%s' > '%s' 2>&1", bindir, getenv("RNNLAB_BIN"), out, log);
    const int prc = system(cmd);
    assert_true(WIFEXITED(prc) && WEXITSTATUS(prc) == 1);
    text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "figures/decay.png: gnuplot did not write it whole (a full disk? see "));
    assert_non_null(strstr(text, "; removed, and 5 other figure(s) too"));
    free(text);
    static const char *const cut[] = {"decay.png", "heatmap.png", "decay.pdf"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/figures/%s", out, cut[k]);
        assert_int_equal(access(path, F_OK), -1);
    }
    if (access("/dev/full", W_OK) == 0) {
        snprintf(cmd, sizeof cmd, "'%s' run --dry-run '%s' > /dev/full 2>/dev/null", getenv("RNNLAB_BIN"), ini);
        const int rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    }
}

/* Arguments a trial found mishandled: `--` ends the options (a file named -x.ini), `rnnlab help run`
 * is run's help and `help bogus` an unknown command (it printed the general help, exit 0), an option
 * to plot is named as unknown (not "one folder only, got 2 arguments"), and the hint to draw the
 * figures quotes a folder with a space so that it can be pasted. */
static void test_cli_argument_edges(void **state)
{
    (void)state;
    check_need_cli();
    const char *log = check_tmp_path("args.log");
    char ini[4300], out[4300], cmd[12000];
    snprintf(ini, sizeof ini, "%s/-x.ini", check_tmpdir());
    snprintf(out, sizeof out, "%s", check_tmp_path("args out"));
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n");
    char here[4096];
    assert_non_null(getcwd(here, sizeof here));
    assert_int_equal(chdir(check_tmpdir()), 0); /* the file as ./-x.ini's name alone */
    const char *dash[] = {"run", "--no-plot", "--out", out, "--", "-x.ini", NULL};
    const int dash_rc = check_run_cli(log, dash);
    const char *no_opts[] = {"run", "--no-plot", "-x.ini", NULL};
    const int no_opts_rc = check_run_cli(log, no_opts);
    assert_int_equal(chdir(here), 0);
    assert_int_equal(no_opts_rc, 2);
    char *text = check_slurp(log, NULL);
    assert_non_null(strstr(text, "unknown option '-x.ini'"));
    free(text);
    assert_int_equal(dash_rc, 0);
    const char *again[] = {"run", "--no-plot", "--out", out, ini, NULL}; /* its summary, with nothing to do */
    assert_int_equal(check_run_cli(log, again), 0);
    text = check_slurp(log, NULL);
    char want[9000];
    snprintf(want, sizeof want, "figures: not drawn (rnnlab plot '%s' draws them)", out);
    assert_non_null(strstr(text, want));
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' plot '%s' > '%s' 2>&1", getenv("RNNLAB_BIN"), out, log); /* the quoted word works */
    assert_int_equal(system(cmd) != 0, system("gnuplot --version > /dev/null 2>&1") != 0);
    const char *help_run[] = {"help", "run", NULL}, *help_bogus[] = {"help", "bogus", NULL};
    assert_int_equal(check_run_cli(log, help_run), 0);
    assert_true(check_file_has(log, "usage: rnnlab run "));
    assert_int_equal(check_run_cli(log, help_bogus), 2);
    assert_true(check_file_has(log, "unknown command 'bogus'"));
    const char *plot_opt[] = {"plot", "--quiet", out, NULL};
    assert_int_equal(check_run_cli(log, plot_opt), 2);
    assert_true(check_file_has(log, "rnnlab plot: unknown option '--quiet'"));
}

/* Every command and subcommand answers --help on stdout with its usage, exit 0 (a trial found two
 * that refused it as an unexpected argument). */
static void test_every_command_has_help(void **state)
{
    (void)state;
    check_need_cli();
    static const char *const cmds[][3] = {{"--help"},         {"run", "--help"},        {"train", "--help"},
                                          {"merge", "--help"}, {"plot", "--help"},       {"gradcheck", "--help"},
                                          {"bench", "--help"}, {"data", "--help"},       {"data", "list", "--help"},
                                          {"data", "show", "--help"}, {"version", "--help"}};
    const char *log = check_tmp_path("help.log");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *args[4] = {cmds[i][0], cmds[i][1], cmds[i][2], NULL};
        const int rc = check_run_cli(log, args);
        char *text = check_slurp(log, NULL);
        if (rc != 0 || !text || !strstr(text, "usage: rnnlab"))
            fail_msg("rnnlab %s %s %s: exit %d, output '%.200s'", cmds[i][0], cmds[i][1] ? cmds[i][1] : "",
                     cmds[i][2] ? cmds[i][2] : "", rc, text ? text : "");
        free(text);
    }
}

/* Every row carries the experiment's name: the same file under another name (a copy) does not
 * resume another name's folder, where its rows would mix with the first name's. */
static void test_resume_needs_the_same_name(void **state)
{
    (void)state;
    const char *text = "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n";
    const char *a = check_tmp_path("name_a.ini"), *b = check_tmp_path("name_b.ini");
    char out[4300];
    snprintf(out, sizeof out, "%s", check_tmp_path("name_out"));
    check_write_file(a, text), check_write_file(b, text);
    assert_int_equal(run_shard(a, out, 0, 1), RNNLAB_OK);
    assert_int_equal(run_shard(a, out, 0, 1), RNNLAB_OK); /* the same file and name: resumes (nothing left) */
    assert_int_equal(run_shard(b, out, 0, 1), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "holds results of the experiment named \"name_a\""));
    /* a journal missing a middle line (edited by hand) is refused: resuming would redo that run and
       append it after the others, a second row block with its run_id out of grid order */
    const char *three = check_tmp_path("name_three.ini");
    char body[512], journal[4400];
    snprintf(body, sizeof body, "%s[sweep]\nseed = 1..3\n", text);
    check_write_file(three, body);
    snprintf(out, sizeof out, "%s", check_tmp_path("journal_out"));
    assert_int_equal(run_shard(three, out, 0, 1), RNNLAB_OK);
    snprintf(journal, sizeof journal, "%s/.journal", out);
    char *j = check_slurp(journal, NULL);
    char *l1 = strstr(j, "\ndone 1 "), *l2 = l1 ? strstr(l1 + 1, "\ndone 2 ") : NULL;
    assert_non_null(l2);
    memmove(l1, l2, strlen(l2) + 1);
    check_write_file(journal, j);
    free(j);
    assert_int_equal(run_shard(three, out, 0, 1), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), ":3: not the journal line of run 1"));
}

/* ---------------------------------------------------------------- shards */

/* experiments/slurm-array.sh as Slurm would start it (one process per array task, the task id in
 * the environment, the submit folder the repository): the shards merge to a single run's bytes; a
 * task started again on its own resumes its shard; without the shard count it refuses. */
static void test_slurm_array_script(void **state)
{
    (void)state;
    check_need_cli();
    if (access("experiments/slurm-array.sh", R_OK) != 0 || access("bin/rnnlab", X_OK) != 0) {
        fprintf(stderr, "SKIP: run from the repository root (make check) for experiments/slurm-array.sh\n");
        skip();
    }
    const char *ini = check_tmp_path("slurm.ini"), *single = check_tmp_path("slurm_single");
    char out[4300], body[5000], cmd[9000];
    snprintf(out, sizeof out, "%s", check_tmp_path("slurm_out"));
    snprintf(body, sizeof body, "%s[output]\ndir = %s\n", small_sweep, out);
    check_write_file(ini, body);
    assert_int_equal(run_lib(ini, single, 1, 1), RNNLAB_OK);
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=%d SLURM_SUBMIT_DIR=. bash experiments/slurm-array.sh '%s' 3", k, ini);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=1 bash experiments/slurm-array.sh '%s' 3", ini);
    assert_int_equal(system(cmd), 0); /* resubmitted alone: shard 1 of 3, already done */
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=1 bash experiments/slurm-array.sh '%s' 2>/dev/null", ini);
    assert_int_not_equal(system(cmd), 0); /* no shard count: refused, not run as shard 1 of 1 */
    const char *merge[] = {"merge", out, NULL};
    assert_int_equal(check_run_cli(NULL, merge), 0);
    assert_true(check_same_files(single, out, run_files));
}

static void test_shards_with_gnu_parallel_then_merge(void **state)
{
    (void)state;
    check_need_cli();
    if (system("parallel --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: GNU parallel is not installed (Debian package parallel)\n");
        skip();
    }
    const char *ini = check_tmp_path("shards.ini"), *single = check_tmp_path("shards_single"), *sharded = check_tmp_path("shards_out");
    check_write_file(ini, small_sweep);
    assert_int_equal(run_lib(ini, single, 1, 1), RNNLAB_OK);
    char cmd[9000];
    snprintf(cmd, sizeof cmd,
             "parallel --will-cite --halt now,fail=1 -j 3 '%s' run --quiet --no-plot --threads 1 --shard {}/3 --out '%s' "
             "'%s' ::: 0 1 2 >/dev/null 2>&1",
             getenv("RNNLAB_BIN"), sharded, ini);
    assert_int_equal(system(cmd), 0);
    const char *merge[] = {"merge", sharded, NULL};
    assert_int_equal(check_run_cli(NULL, merge), 0);
    assert_true(check_same_files(single, sharded, run_files));
    /* the merged manifest speaks for the whole grid, not for shard 0 */
    char man[4300];
    snprintf(man, sizeof man, "%s/manifest.json", sharded);
    char *text = check_slurp(man, NULL);
    assert_non_null(strstr(text, "\"shard\": \"0/1\",\n"));
    assert_non_null(strstr(text, "\"runs_done\": 16,\n"));
    assert_non_null(strstr(text, "\"merged_from_shards\": 3\n}"));
    free(text);
    /* a merge with a shard missing is refused */
    const char *partial = check_tmp_path("shards_partial");
    const char *one[] = {"run", "--quiet", "--no-plot", "--shard", "1/3", "--out", partial, ini, NULL};
    assert_int_equal(check_run_cli(NULL, one), 0);
    const char *merge2[] = {"merge", partial, NULL};
    assert_int_equal(check_run_cli(NULL, merge2), 1);
}

/* A merge writes the base folder, where a run could be writing, and reads the shard folders: it
 * takes their locks too. And it needs shard 0's manifest. */
static void test_merge_waits_for_the_folder_lock(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("merge_lock.ini"), *out = check_tmp_path("merge_lock_out");
    check_write_file(ini, small_sweep);
    rnnlab_experiment *e;
    assert_int_equal(rnnlab_experiment_load(&e, ini), RNNLAB_OK);
    for (int k = 0; k < 2; k++) {
        rnnlab_run_options o;
        rnnlab_run_options_init(&o);
        o.out_dir = out, o.threads = 1, o.quiet = 1, o.plot = 0, o.shard_k = k, o.shard_n = 2;
        assert_int_equal(rnnlab_experiment_run(e, &o), RNNLAB_OK);
    }
    rnnlab_experiment_free(e);
    char lock[4300], decay[4300];
    snprintf(lock, sizeof lock, "%s/.lock", out);
    snprintf(decay, sizeof decay, "%s/decay.csv", out);
    const int fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* as a run in the base folder would hold it */
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_BUSY);
    assert_non_null(strstr(rnnlab_last_error(), "in use by another rnnlab run"));
    assert_int_equal(access(decay, F_OK), -1);
    close(fd);
    /* nor while a shard's folder is held (a shard started again would change under the merge) */
    snprintf(lock, sizeof lock, "%s/shard-1-of-2/.lock", out);
    const int fd2 = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd2 >= 0);
    assert_int_equal(flock(fd2, LOCK_EX), 0);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_BUSY);
    assert_non_null(strstr(rnnlab_last_error(), "shard-1-of-2 is in use"));
    assert_int_equal(access(decay, F_OK), -1);
    close(fd2);
    /* shard 0's manifest becomes the merged one: a damaged one is refused before anything is
       written, and running shard 0 again (its runs done) mends it */
    char man[4300];
    snprintf(man, sizeof man, "%s/shard-0-of-2/manifest.json", out);
    check_write_file(man, "");
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "missing or damaged"));
    assert_int_equal(access(decay, F_OK), -1);
    assert_int_equal(rnnlab_experiment_load(&e, ini), RNNLAB_OK);
    rnnlab_run_options o;
    rnnlab_run_options_init(&o);
    o.out_dir = out, o.threads = 1, o.quiet = 1, o.plot = 0, o.shard_k = 0, o.shard_n = 2;
    assert_int_equal(rnnlab_experiment_run(e, &o), RNNLAB_OK);
    rnnlab_experiment_free(e);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_OK);
    assert_int_equal(access(decay, F_OK), 0);
    char merged[4300];
    snprintf(merged, sizeof merged, "%s/manifest.json", out);
    char *text = check_slurp(merged, NULL);
    assert_non_null(strstr(text, "\"merged_from_shards\": 2\n}"));
    free(text);
}

/* A merge writes the base folder's results: it replaces only results of the shards' own experiment
 * (an earlier merge), never another experiment's or results without a journal, and it refuses a
 * folder with shards of two splits instead of picking one. */
static void test_merge_replaces_only_its_own_results(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("merge_own.ini"), *other = check_tmp_path("merge_other.ini");
    char out[4300];
    snprintf(out, sizeof out, "%s", check_tmp_path("merge_own_out"));
    const char *tiny = "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                       "[sweep]\nseed = 1..%d\n";
    char text[256], path[4400], journal[4400];
    snprintf(text, sizeof text, tiny, 2), check_write_file(ini, text);
    snprintf(text, sizeof text, tiny, 3), check_write_file(other, text);
    assert_int_equal(run_shard(other, out, 0, 1), RNNLAB_OK); /* another experiment's results in the base */
    for (int k = 0; k < 2; k++) assert_int_equal(run_shard(ini, out, k, 2), RNNLAB_OK);
    snprintf(path, sizeof path, "%s/decay.csv", out);
    snprintf(journal, sizeof journal, "%s/.journal", out);
    size_t n0, n1;
    char *before = check_slurp(path, &n0);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "holds results of another experiment file"));
    char *after = check_slurp(path, &n1);
    assert_true(n0 == n1 && !memcmp(before, after, n0)); /* untouched */
    free(before), free(after);
    /* results without a journal are not replaced either */
    assert_int_equal(unlink(journal), 0);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "results without a journal (decay.csv)"));
    /* an empty base: merged; merged again over its own results: the same */
    const char *names[] = {"decay.csv", "summary.csv", "layers.csv", "manifest.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        assert_int_equal(unlink(path), 0);
    }
    /* a merge that cannot write one of its files (here a folder where summary.csv.tmp goes) writes
       nothing: no CSV file in place without its journal, no copy left beside; the next merge runs */
    snprintf(path, sizeof path, "%s/summary.csv.tmp", out);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_IO);
    assert_int_equal(rmdir(path), 0);
    for (size_t i = 0; i < 3; i++) {
        char tmp[4500];
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(tmp, F_OK), -1);
    }
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_OK);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_OK);
    /* a merge stopped between its renames (a full disk, a kill) leaves its journal and some of its CSV
       files: the next merge completes it, the same bytes (a trial saw merge refuse its own partial
       output as "results without a journal" when the journal went in last) */
    char *merged[3];
    size_t merged_n[3];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        merged[i] = check_slurp(path, &merged_n[i]);
    }
    for (int i = 0; i < 2; i++) { /* the journal and layers.csv in place (its renames go journal, layers,
                                      summary, decay), decay.csv and summary.csv not yet, leftovers beside */
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof path, "%s/%s.tmp", out, names[i]);
        check_write_file(path, "torn");
    }
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_OK);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        size_t n;
        char *now = check_slurp(path, &n);
        assert_true(now && n == merged_n[i] && !memcmp(now, merged[i], n));
        free(now), free(merged[i]);
        snprintf(path, sizeof path, "%s/%s.tmp", out, names[i]);
        assert_int_equal(access(path, F_OK), -1);
    }
    /* a training sweep of the same file (rnnlab train on a file without [train]) is another kind of run */
    if (getenv("RNNLAB_BIN")) {
        char trained[4300];
        snprintf(trained, sizeof trained, "%s", check_tmp_path("merge_trained"));
        const char *train[] = {"train", "--quiet", "--no-plot", "--out", trained, ini, NULL};
        assert_int_equal(check_run_cli(NULL, train), 0);
        for (int k = 0; k < 2; k++) assert_int_equal(run_shard(ini, trained, k, 2), RNNLAB_OK);
        assert_int_equal(rnnlab_experiment_merge(trained), RNNLAB_ERR_CONFIG);
        assert_non_null(strstr(rnnlab_last_error(), "kind of run"));
    }
    /* shards of a second split beside the first: refused, whichever would have been found first */
    assert_int_equal(run_shard(ini, out, 0, 3), RNNLAB_OK);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "shards of two splits (shard-0-of-2 and shard-0-of-3)"));
}

/* Rows already written are never cut or mixed: a CSV file edited by hand after its runs were
 * committed (one byte more, which moves where the journal's size falls, or the same length with other
 * bytes) is refused on resume and by a merge, naming the file, and nothing is appended or written. */
static void test_edited_results_are_refused(void **state)
{
    (void)state;
    const char *ini = check_tmp_path("edited.ini");
    char out[4300], path[4400];
    check_write_file(ini, "[model]\nhidden_size = 4\n[task]\nname = adding\nlength = fixed\nbatch = 2\nseq_len = 30\n"
                          "[sweep]\nseed = 1..4\n");
    const char *edits[][2] = {{"\"rnn_tanh\"", "\"rnn_tanhX\""}, {"\"rnn_tanh\"", "\"rnn_tanX\""}};
    size_t n0, n1;
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s_%d", check_tmp_path("edited_out"), k);
        assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_OK);
        snprintf(path, sizeof path, "%s/summary.csv", out);
        char *text = check_slurp(path, &n0);
        char *at = strstr(text, edits[k][0]), edited[8192];
        assert_non_null(at);
        assert_true(n0 + 8 < sizeof edited);
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, edits[k][1], at + strlen(edits[k][0]));
        check_write_file(path, edited);
        assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_ERR_CONFIG);
        assert_non_null(strstr(rnnlab_last_error(), "summary.csv was changed after the runs in the journal wrote it"));
        /* run 0's CRC covers the header and its row: from line 1 */
        assert_non_null(strstr(rnnlab_last_error(), "the first rows that differ are run 0's, from line 1)"));
        char *after = check_slurp(path, &n1);
        assert_true(n1 == strlen(edited) && !memcmp(after, edited, n1)); /* untouched */
        free(text), free(after);
    }
    /* an edit in run 2's row (line 4, the header and one row a run before it) is located there */
    snprintf(out, sizeof out, "%s_located", check_tmp_path("edited_out"));
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_OK);
    snprintf(path, sizeof path, "%s/summary.csv", out);
    char *whole = check_slurp(path, &n0);
    char *line4 = whole;
    for (int k = 0; k < 3; k++) line4 = strchr(line4, '\n') + 1;
    char *comma = strchr(line4, ',');
    assert_true(comma && comma[1] != 'X');
    comma[1] = 'X'; /* the same length */
    check_write_file(path, whole);
    free(whole);
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "the first rows that differ are run 2's, from line 4)"));
    /* a file deleted, or a folder in its place, is named as such (not "shorter than its journal says") */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "summary.csv is missing, though the journal counts 4 run(s) in it"));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_ERR_CONFIG);
    assert_non_null(strstr(rnnlab_last_error(), "summary.csv is not a file, though the journal counts 4 run(s)"));
    /* a journal of rnnlab before the crc lists (done lines with sizes only) still resumes: its last
       run is redone after the files are cut back, and the files end with the same bytes */
    snprintf(out, sizeof out, "%s", check_tmp_path("edited_old_journal"));
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_OK);
    char journal[4400];
    snprintf(path, sizeof path, "%s/decay.csv", out), snprintf(journal, sizeof journal, "%s/.journal", out);
    size_t nref;
    char *want = check_slurp(path, &nref), *j = check_slurp(journal, NULL), *c;
    while ((c = strstr(strchr(j, '\n'), " crc="))) /* the done lines' lists, not the header's crc= */
        memmove(c, strchr(c, '\n'), strlen(strchr(c, '\n')) + 1);
    *(strstr(j, "\ndone 3 ") + 1) = '\0';
    check_write_file(journal, j);
    assert_int_equal(run_shard(ini, out, 0, 1), RNNLAB_OK);
    free(j);
    j = check_slurp(path, &n0);
    assert_true(n0 == nref && !memcmp(j, want, nref));
    free(j), free(want);
    /* a merge reads each shard's rows by its journal: an edited shard is refused, nothing is written */
    snprintf(out, sizeof out, "%s", check_tmp_path("edited_merge"));
    for (int k = 0; k < 2; k++) assert_int_equal(run_shard(ini, out, k, 2), RNNLAB_OK);
    snprintf(path, sizeof path, "%s/shard-1-of-2/decay.csv", out);
    size_t n;
    char *text = check_slurp(path, &n);
    char *digit = strchr(strchr(text, '\n') + 1, ',') + 1; /* the first row's second field: same length */
    *digit = *digit == 'x' ? 'y' : 'x';
    check_write_file(path, text);
    free(text);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "shard-1-of-2/decay.csv was changed after the shard wrote it"));
    /* a line the merge does not take (another grid's run id, no crc list) does not switch the check off */
    snprintf(path, sizeof path, "%s/shard-1-of-2/.journal", out);
    FILE *jf = fopen(path, "a");
    assert_non_null(jf);
    fputs("done 999 1 1 1\n", jf);
    fclose(jf);
    assert_int_equal(rnnlab_experiment_merge(out), RNNLAB_ERR_IO);
    assert_non_null(strstr(rnnlab_last_error(), "shard-1-of-2/decay.csv was changed after the shard wrote it"));
    snprintf(path, sizeof path, "%s/decay.csv", out);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_experiment_files),
        cmocka_unit_test(test_dry_run_expands_the_grid),
        cmocka_unit_test(test_output_folder_is_locked),
        cmocka_unit_test(test_plot_refuses_damaged_csv),
        cmocka_unit_test(test_shipped_experiments_are_valid),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_small_sweep_end_to_end),
        cmocka_unit_test(test_german_locale),
        cmocka_unit_test(test_diverged_runs_are_recorded),
        cmocka_unit_test(test_kill_and_resume_gives_the_same_bytes),
        cmocka_unit_test(test_bad_flush_interval_is_refused),
        cmocka_unit_test(test_changed_experiment_is_refused),
        cmocka_unit_test(test_shards_with_gnu_parallel_then_merge),
        cmocka_unit_test(test_merge_waits_for_the_folder_lock),
        cmocka_unit_test(test_cli_numbers_and_folders),
        cmocka_unit_test(test_merge_replaces_only_its_own_results),
        cmocka_unit_test(test_edited_results_are_refused),
        cmocka_unit_test(test_every_command_has_help),
        cmocka_unit_test(test_slurm_array_script),
        cmocka_unit_test(test_heatmap_draws_every_panel),
        cmocka_unit_test(test_cli_standard_streams),
        cmocka_unit_test(test_cli_warns_of_old_blas_kernels),
        cmocka_unit_test(test_cli_bench),
        cmocka_unit_test(test_cli_wait_policy),
        cmocka_unit_test(test_cli_gradcheck_floor),
        cmocka_unit_test(test_fresh_clears_figures),
        cmocka_unit_test(test_interrupt_says_how_to_resume),
        cmocka_unit_test(test_interrupt_keeps_committed_runs),
        cmocka_unit_test(test_deleted_folder_stops_the_sweep),
        cmocka_unit_test(test_variable_length_probe_ends_at_the_longest_sample),
        cmocka_unit_test(test_nothing_to_do_keeps_the_manifest),
        cmocka_unit_test(test_journal_head_says_what_differs),
        cmocka_unit_test(test_mixed_blas_kernels_are_named),
        cmocka_unit_test(test_cli_argument_edges),
        cmocka_unit_test(test_train_info_names_the_kept_weights),
        cmocka_unit_test(test_data_show_small_split),
        cmocka_unit_test(test_resume_needs_the_same_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
