/*
 * cli.h - shared pieces of the rnnlab command: option parsing helpers and the subcommands.
 *
 * Exit codes: 0 success, 1 runtime failure (including a failed check), 2 usage error.
 */
#ifndef RNNLAB_CLI_H
#define RNNLAB_CLI_H

#include "rnnlab/rnnlab.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Prints "rnnlab: error: <msg>" (and "hint: <hint>" when hint is not NULL) on stderr. */
void cli_error(const char *hint, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Parses a whole decimal integer in [lo, hi] for option `opt`; on failure prints the error and
 * returns 0. */
int cli_int(const char *opt, const char *s, long lo, long hi, long *out);
/* Parses a finite double for option `opt`; on failure prints the error and returns 0. */
int cli_double(const char *opt, const char *s, double *out);
/* The same, in [lo, hi] (the error names the range, as cli_int's does). */
int cli_double_in(const char *opt, const char *s, double lo, double hi, double *out);
/* `auto` (-1) or a whole number in [lo, hi] for option `opt`, as cli_int. */
int cli_auto_int(const char *opt, const char *s, long lo, long hi, int *out);
/* A folder argument as given ("dir/" names "dir": trailing slashes are trimmed) into buf (n bytes);
 * on an empty or too long path prints the error naming `what` and returns 0. */
int cli_folder(const char *what, const char *v, char *buf, size_t n);
/* Parses an unsigned 64-bit integer (seeds). */
int cli_u64(const char *opt, const char *s, unsigned long long *out);

/* --cell and --activation together (gradcheck, bench), as an experiment file takes them: an activation
 * the cell's name carries (cell_act_set: rnn_relu) and one given by --activation (act_name, parsed to
 * opt_act; NULL: not given) must agree, and only the rnn cell takes one. Sets *act; on a clash prints
 * the error and returns 0. cell_name is the --cell value as given (for the message). */
int cli_cell_activation(const char *cell_name, rnnlab_cell_kind cell, int cell_act_set, rnnlab_activation cell_act,
                        const char *act_name, rnnlab_activation opt_act, rnnlab_activation *act);

/*
 * cli_wait_policy - called before a command computes on `threads` threads per run (a bench row, the
 * runs of an experiment). OpenMP threads waiting for the next parallel region spin by default
 * (libgomp: some 300000 rounds before they sleep); with anything else running on the machine a
 * spinning thread takes the core the thread with work needs. Measured on this project's 2 cores with
 * one busy process beside: a 2-thread training run of a small GRU (H = 24, B = 32, 400 updates) took
 * 2.5-6.5 s against 0.39 s on 1 thread, and 0.54-0.57 s with OMP_WAIT_POLICY=passive (waiting threads
 * sleep); a W2 step 320-330 ms, with passive 181-215 (README, Performance: the wait policy). libgomp
 * reads the variable when it loads, before main, so with threads >= 2 and neither OMP_WAIT_POLICY
 * nor GOMP_SPINCOUNT set, this sets OMP_WAIT_POLICY=passive and starts the command again
 * (execv of /proc/self/exe with the same arguments: a few ms). Call it before the command opens or
 * writes anything. Returns only when nothing was done (or the exec failed, or /proc/self/exe is not
 * this program: a dynamic loader or emulator run by hand). The new process loads the experiment
 * again, its data included: a few tenths of a second for Fashion-MNIST, against runs that each
 * compute on several threads.
 */
void cli_wait_policy(int threads);

/* Sets OMP_WAIT_POLICY=passive in this process's environment, for the processes it starts (bench's
 * grid rows), unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set (or without OpenMP); 1 if it did. */
int cli_wait_policy_env(void);

/* Installs the SIGINT/SIGTERM/SIGHUP/SIGPIPE handler of a running grid (run, train): it flushes the
 * committed runs, says that what was written is kept (the checkpoints too when trains is set) and how
 * to resume (without --fresh when fresh is set); the process still ends by the signal. */
void cli_interrupt_message(int fresh, int trains);

/* Puts back what cli_interrupt_message replaced, once the grid has run: a signal after it (stdout's
 * reader gone while the summary is printed) is not an interrupted sweep. */
void cli_interrupt_end(void);

/* If argv[*i] is `name` or `name=VALUE`, sets *val to the value (the next argument, or after '=')
 * and returns 1; returns -1 (after printing an error) when the value is missing, 0 otherwise. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

/*
 * cli_grid_opt - parses, at argv[*i], one of the options that `rnnlab run` and `rnnlab train` share:
 * --dry-run (sets *dry), --fresh, --quiet/-q, --no-plot, --out DIR, --threads N, --jobs N and
 * --shard K/N (into *o; DIR, without trailing slashes, points into static storage).
 * Returns 1 when argv[*i] is one of them (with *i moved past a separate value), 0 when it is not,
 * and -1 after printing the error when its value is missing or bad (a usage error).
 */
int cli_grid_opt(int argc, char **argv, int *i, rnnlab_run_options *o, int *dry);

/*
 * cli_grid_file - takes an argument of `rnnlab cmd` that is none of its options: an unknown option
 * (an error whose hint names `rnnlab cmd --help`) or the experiment file, which is given once (*file
 * is NULL until then; it then points at arg). After `--` (operand 1) arg is the file even when it
 * starts with '-'. Returns 0, or -1 after printing the error (a usage error).
 */
int cli_grid_file(const char *cmd, const char *arg, const char **file, int operand);

/* `--` and what follows it in `rnnlab cmd`'s arguments: returns 1 when arg is `--` (then *operands
 * is set) or an argument after it (taken as the file by cli_grid_file), -1 after printing an error,
 * 0 for an argument before `--`, which the caller parses. */
int cli_grid_operand(const char *cmd, const char *arg, int *operands, const char **file);

/*
 * cli_grid_run - loads the experiment file, and with train turns training on when the file has no
 * [train] section; then prints the expanded grid (dry) or runs the grid with *o and says where the
 * results went (run's files, or train's when train). Errors are printed as `rnnlab: error:` lines.
 * Returns the exit code: CLI_EXIT_USAGE for a bad experiment file, CLI_EXIT_FAIL for a runtime failure.
 */
int cli_grid_run(const char *file, const rnnlab_run_options *o, int dry, int train);

int cmd_gradcheck(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
