/*
 * main.c - the rnnlab command: parses the subcommand, calls the library, reports errors, sets the
 * exit code (0 ok, 1 runtime failure, 2 usage error).
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void cli_error(const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rnnlab: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (hint) fprintf(stderr, "hint: %s\n", hint);
}

/* s as a whole is a decimal integer in [lo, hi] (strtol alone would skip blanks and stop early) */
static int int_in(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (!*s || isspace((unsigned char)*s) || *end || errno || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    if (!int_in(s, lo, hi, out)) {
        cli_error(NULL, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return 0;
    }
    return 1;
}

/* s as a whole is a finite number (read as experiment files and CSV cells are: C locale) */
static int parse_double(const char *s, double *v)
{
    return rnnlab_parse_double(s, v) && isfinite(*v);
}

int cli_double(const char *opt, const char *s, double *out)
{
    double v;
    if (!parse_double(s, &v)) {
        cli_error(NULL, "%s: expected a finite number, got '%s'", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_auto_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    long n;
    if (!strcmp(s, "auto")) return *out = -1, 1;
    if (!int_in(s, lo, hi, &n)) {
        cli_error(NULL, "%s: expected 'auto' or an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return 0;
    }
    *out = (int)n;
    return 1;
}

static char **main_argv; /* for cli_wait_policy's exec */

#if defined(__linux__) && defined(_OPENMP)
/* 1 when /proc/self/exe is the file this code was loaded from (not a dynamic loader run by hand,
 * `ld.so bin/rnnlab ...`, or an emulator, which would take the arguments as a program to run) */
static int self_exe_is_rnnlab(void)
{
    struct stat se;
    if (stat("/proc/self/exe", &se) != 0) return 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    const uintptr_t here = (uintptr_t)&self_exe_is_rnnlab;
    char line[4600];
    int same = 0;
    while (!same && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        unsigned maj, mnr;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &mnr, &ino) != 5 || here < lo || here >= hi) continue;
        same = ino == (unsigned long)se.st_ino && maj == major(se.st_dev) && mnr == minor(se.st_dev);
        break;
    }
    fclose(f);
    return same;
}
#endif

#if defined(__linux__) && defined(_OPENMP)
/* 1 when the user left the wait policy to rnnlab (neither variable set) */
static int policy_unset(void) { return !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"); }
#endif

int cli_wait_policy_env(void)
{
#if defined(__linux__) && defined(_OPENMP)
    return policy_unset() && setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
#else
    return 0;
#endif
}

void cli_wait_policy(int threads)
{
#if defined(__linux__) && defined(_OPENMP)
    if (threads < 2 || !main_argv || !policy_unset() || !self_exe_is_rnnlab() || !cli_wait_policy_env()) return;
    fflush(stdout), fflush(stderr);
    execv("/proc/self/exe", main_argv); /* returns only if it failed: then go on as we are */
    unsetenv("OMP_WAIT_POLICY");
#else
    (void)threads;
#endif
}

int cli_cell_activation(const char *cell_name, rnnlab_cell_kind cell, int cell_act_set, rnnlab_activation cell_act,
                        const char *act_name, rnnlab_activation opt_act, rnnlab_activation *act)
{
    if (cell_act_set && act_name && opt_act != cell_act) {
        cli_error("give the cell as rnn with --activation, or the activation in the cell's name alone",
                  "--activation %s contradicts --cell %s", act_name, cell_name);
        return 0;
    }
    if (act_name && cell != RNNLAB_CELL_RNN) {
        cli_error(NULL, "--activation %s: only the rnn cell takes an activation (the cell is %s)", act_name,
                  rnnlab_cell_label(cell, RNNLAB_ACT_TANH));
        return 0;
    }
    if (cell_act_set) *act = cell_act;
    else if (act_name) *act = opt_act;
    return 1;
}

int cli_folder(const char *what, const char *v, char *buf, size_t n)
{
    size_t len = strlen(v);
    while (len > 1 && v[len - 1] == '/') len--;
    if (!*v || len >= n) {
        cli_error(NULL, *v ? "%s: path too long" : "%s: empty path", what);
        return 0;
    }
    memcpy(buf, v, len), buf[len] = '\0';
    return 1;
}

int cli_double_in(const char *opt, const char *s, double lo, double hi, double *out)
{
    double v;
    if (!parse_double(s, &v) || v < lo || v > hi) {
        cli_error(NULL, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_u64(const char *opt, const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || isspace((unsigned char)*s) || *end || errno || s[0] == '-') {
        cli_error(NULL, "%s: expected a non-negative integer, got '%s'", opt, s);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_error(NULL, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "rnnlab %s - a recurrent-network sequence lab: RNN, LSTM and GRU on one BPTT engine\n"
            "\n"
            "usage: rnnlab COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  run         run an experiment file: every grid point, CSV and figures (resumable, shardable)\n"
            "  merge       combine the shards of a sharded run into one output folder\n"
            "  plot        (re)draw an output folder's figures from its CSV\n"
            "  gradcheck   check the engine's gradients (finite differences, or PyTorch reference cases)\n"
            "  data        list the tasks and datasets, or show decoded examples of one\n"
            "  train       train an experiment's runs (resumable); inspect or export a checkpoint\n"
            "  bench       time training steps (forward, BPTT, SGD) and print CSV rows; --grid standard\n"
            "  version     print the version and build\n"
            "  help        this text; `rnnlab COMMAND --help` describes a command\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure or failed check, 2 usage error\n",
            RNNLAB_VERSION);
}

static int dispatch(int argc, char **argv);

/* A descriptor 0, 1 or 2 that the caller closed would be taken by the next open(): progress lines
 * would then land in a CSV file or the journal. Each closed one is opened on /dev/null first. */
static int std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            const int n = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
            if (n != fd) return 0; /* the lowest free descriptor is fd, or /dev/null is missing */
        }
    return 1;
}

int main(int argc, char **argv)
{
    if (!std_fds_open()) return CLI_EXIT_FAIL; /* nowhere to say why: stderr is closed */
    main_argv = argv;
    int rc = dispatch(argc, argv);
    /* what went to standard output (a --dry-run grid, data show, gradcheck's table) is part of the
       result: a failed write (a full disk, a closed pipe) is a failure, not exit 0 */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        const int err = errno;
        cli_error(NULL, "writing standard output: %s", err ? strerror(err) : "write error");
        if (rc == CLI_EXIT_OK) rc = CLI_EXIT_FAIL;
    }
    return rc;
}

/* Ctrl-C, SIGTERM, SIGHUP (the terminal or ssh session closed) or SIGPIPE (`rnnlab run f.ini 2>&1 |
 * head`: the progress line's reader gone) while a grid runs ends the process, saying so first, after
 * flushing the journal lines of the runs already committed (rnnlab_experiment_interrupt), which a
 * SIGKILL would leave for the next command to redo. Async-signal-safe: one write, the flush, then the
 * signal again with its default action, so the exit status still names it. */
static int interrupt_kind; /* bit 0: the command had --fresh (running it again would start over); bit 1: it trains */
static void interrupted(int sig)
{
    /* `rnnlab run ... 2>&1 | tee log`: Ctrl-C ends tee too, and the message's write to the closed pipe
       would raise SIGPIPE and end the process before the flush (a review found it). The process is
       ending: SIGPIPE is ignored from here on (sigaction is async-signal-safe), and set back to its
       default action only to end the process by it. */
    const int saved = errno;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    (void)sigaction(SIGPIPE, &ign, NULL);
#define INTERRUPTED(what, again) "\nrnnlab: interrupted: the " what " written so far are kept; run the same command again" again "\n"
    static const char *const msg[4] = {
        INTERRUPTED("rows", " to resume"),
        INTERRUPTED("rows", " without --fresh to resume (with it, it starts over)"),
        INTERRUPTED("rows and checkpoints", " to resume"),
        INTERRUPTED("rows and checkpoints", " without --fresh to resume (with it, it starts over)"),
    };
#undef INTERRUPTED
    const ssize_t w = write(2, msg[interrupt_kind & 3], strlen(msg[interrupt_kind & 3]));
    (void)w;
    errno = saved; /* the interrupted thread may go on (a commit in progress) */
    if (rnnlab_experiment_interrupt(sig)) rnnlab_experiment_raise(sig); /* else the thread committing does */
}

static const int interrupt_sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
static struct sigaction interrupt_old[4];
static int interrupt_set[4];

void cli_interrupt_message(int fresh, int trains)
{
    interrupt_kind = (fresh ? 1 : 0) | (trains ? 2 : 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupted;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 4; k++) /* not one that is ignored (nohup, a background job's SIGINT) */
        interrupt_set[k] = sigaction(interrupt_sigs[k], NULL, &interrupt_old[k]) == 0 &&
                           interrupt_old[k].sa_handler != SIG_IGN && sigaction(interrupt_sigs[k], &sa, NULL) == 0;
}

void cli_interrupt_end(void)
{
    for (int k = 0; k < 4; k++)
        if (interrupt_set[k]) sigaction(interrupt_sigs[k], &interrupt_old[k], NULL), interrupt_set[k] = 0;
}

/* The commands that compute (run, train, bench; and --version) warn when OpenBLAS runs SSE-only kernels
 * on a CPU with AVX2 (rnnlab_blas_core_advice): every large product is then about 4x slower. Once per
 * process tree: the processes it starts (bench's grid rows) inherit RNNLAB_BLAS_WARNED. */
static void blas_kernels_warn(void)
{
    const char *advice = rnnlab_blas_core_advice(), *set = getenv("OPENBLAS_CORETYPE");
    if (!advice || getenv("RNNLAB_BLAS_WARNED")) return;
    if (set && *set)
        fprintf(stderr,
                "rnnlab: warning: OPENBLAS_CORETYPE=%s makes OpenBLAS run its %s kernels, which use SSE alone, not "
                "this CPU's AVX2 and FMA: its matrix products run about 4x slower\n"
                "hint: unset OPENBLAS_CORETYPE (OpenBLAS then picks kernels for this CPU, if it knows it), or set "
                "it to %s\n",
                set, rnnlab_blas_core(), advice);
    else
        fprintf(stderr,
                "rnnlab: warning: OpenBLAS does not know this CPU model and runs its %s kernels, which use SSE alone, "
                "not this CPU's AVX2 and FMA: its matrix products run about 4x slower\n"
                "hint: export OPENBLAS_CORETYPE=%s before running rnnlab\n",
                rnnlab_blas_core(), advice);
    setenv("RNNLAB_BLAS_WARNED", "1", 1);
}

static int dispatch(int argc, char **argv)
{
    setlocale(LC_ALL, "C"); /* numbers are always written and read in the C locale */
#if defined(__GLIBC__)
    /* A sweep creates and frees a model and its workspace per run. glibc would hand blocks above
     * 128 KiB back to the kernel (munmap, heap trims) and fault them in again for the next run,
     * (page faults are slow in a VM, and two threads of one process fault under one lock).
     * Measured, 16 W3-sized decay runs, 10 interleaved rounds: 6-9% faster on 1 and on 2 threads
     * with these. Freed memory stays with the process instead. Blocks
     * above 32 MiB (the largest mmap threshold glibc accepts: a T = 800 two-layer float64 LSTM's
     * workspace) would still be mapped afresh for every run, so mmap is off altogether (threads
     * other than the first still map what their 64 MiB heaps cannot hold): make run's experiment
     * went from 310000 page faults and 5.2 s to 55000 and 3.4 s, peak RSS 218 -> 232 MB. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_MAX, 0);
#endif
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (argc == 3 && !strcmp(argv[1], "help")) { /* `rnnlab help run` is `rnnlab run --help` */
        static char help_opt[] = "--help";
        argv[1] = argv[2], argv[2] = help_opt;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("usage: rnnlab version\n\nPrints the version, whether OpenMP is on, the thread count and the "
                   "OpenBLAS kernels in use\n(a warning follows when they are SSE-only ones). Takes no options.\n");
            return CLI_EXIT_OK;
        }
        if (argc > 2) {
            cli_error("rnnlab version takes no arguments", "unexpected argument '%s'", argv[2]);
            return CLI_EXIT_USAGE;
        }
        printf("rnnlab %s (OpenMP %s, %d threads, OpenBLAS %s kernels)\n", RNNLAB_VERSION,
               rnnlab_openmp_enabled() ? "on" : "off", rnnlab_threads_get(), rnnlab_blas_core());
        blas_kernels_warn();
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "train") || !strcmp(cmd, "bench")) blas_kernels_warn();
    if (!strcmp(cmd, "gradcheck")) return cmd_gradcheck(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return cmd_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    cli_error("run `rnnlab help` for the list of commands", "unknown command '%s'", cmd);
    return CLI_EXIT_USAGE;
}
