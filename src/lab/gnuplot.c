/*
 * gnuplot.c - what the two figure writers (plot.c: the decay figures, train_plot.c: the training
 * figures) share: finding a CSV column by its header, writing numbers and titles in gnuplot's
 * syntax, creating <dir>/figures/data/ and running gnuplot on a script there.
 * Not here: reading the CSV files or deciding what to draw (plot.c, train_plot.c).
 */
#include "lab/lab_internal.h"
#include "rnnlab/format.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int exp_plot_col(char **f, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i], name)) return i;
    return -1;
}

void exp_plot_num(FILE *f, double v)
{
    char b[40];
    rnnlab_format_double(b, sizeof b, v);
    fputs(b, f);
}

void exp_plot_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

rnnlab_status exp_plot_dirs(const char *dir, char *figdir, size_t n)
{
    char datadir[PATH_MAX + 16];
    snprintf(figdir, n, "%s/figures", dir);
    snprintf(datadir, sizeof datadir, "%s/data", figdir);
    if ((mkdir(figdir, 0777) != 0 && errno != EEXIST) || (mkdir(datadir, 0777) != 0 && errno != EEXIST))
        return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot create: %s", datadir, strerror(errno));
    return RNNLAB_OK;
}

rnnlab_status exp_plot_gnuplot(const char *figdir, const char *script, const char *log)
{
    /* the child reopens stdout and stderr, which would write out its copy of what the parent has
     * buffered (a line printed before the figures would appear twice) */
    fflush(stdout), fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) return rnnlab_error(RNNLAB_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(figdir) != 0) _exit(126);
        FILE *logf = freopen(log, "w", stderr); /* without the log gnuplot still draws */
        (void)logf;
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return rnnlab_error(RNNLAB_ERR_IO, "gnuplot is not installed (Debian: apt-get install gnuplot-nox); the CSV "
                                           "files are complete, run `rnnlab plot` later");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return rnnlab_error(RNNLAB_ERR_IO, "gnuplot failed on %s/%s (see %s/%s)", figdir, script, figdir, log);
    return RNNLAB_OK;
}
