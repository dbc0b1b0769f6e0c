/*
 * gnuplot.c - what the two figure writers (plot.c: the decay figures, train_plot.c: the training
 * figures) share: reading a result CSV whole, finding a CSV column by its header, writing numbers and titles in gnuplot's
 * syntax, creating <dir>/figures/data/ and running gnuplot on a script there.
 * Not here: reading the CSV files or deciding what to draw (plot.c, train_plot.c).
 */
#include "lab/lab_internal.h"
#include "rnnlab/format.h"

#include <errno.h>
#include <fcntl.h>
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

rnnlab_status exp_plot_scan(const char *path, rnnlab_csv_scan_fn row, void *user)
{
    const int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        struct stat sb;
        char last = '\n';
        const int cut = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
                        pread(fd, &last, 1, sb.st_size - 1) == 1 && last != '\n';
        close(fd);
        if (cut)
            return rnnlab_error(RNNLAB_ERR_IO, "%s: its last line is not whole (no newline at its end): the file was cut "
                                               "mid-row (a full disk, an interrupted copy) or edited; the same rnnlab run "
                                               "(or train) command on its folder cuts it back to its last whole run",
                                path);
    }
    return rnnlab_csv_scan(path, row, user); /* says why a file that cannot be opened is not read */
}

void exp_plot_nothing(FILE *f, const char *why)
{
    fprintf(f, "[1:2] [1:2] NaN title '%s'", why); /* [1:2]: valid on log axes too */
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

rnnlab_status exp_plot_close(FILE *f, const char *path)
{
    const int bad = ferror(f) != 0;
    errno = 0;
    if (fclose(f) != 0 || bad)
        return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", path, errno ? strerror(errno) : "write error");
    return RNNLAB_OK;
}

/* 1 when path ends as a whole file of its kind does: a PNG with its IEND chunk (the PNG
 * specification, 5.6), a PDF with %%EOF in its last 1 KiB (ISO 32000-1, 7.5.5). */
static int figure_whole(const char *path, int pdf)
{
    unsigned char tail[1024];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    long n = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
        const long k = n < (long)sizeof tail ? n : (long)sizeof tail;
        n = fseek(f, -k, SEEK_END) == 0 && fread(tail, 1, (size_t)k, f) == (size_t)k ? k : 0;
    }
    fclose(f);
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    if (!pdf) return n >= 12 && !memcmp(tail + n - 12, iend, 12);
    for (long i = n - 5; i >= 0; i--)
        if (!memcmp(tail + i, "%%EOF", 5)) return 1;
    return 0;
}

rnnlab_status exp_plot_gnuplot(const char *figdir, const char *script, const char *log, const char *const *figures)
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
    rnnlab_status st = RNNLAB_OK;
    int n_bad = 0;
    for (; *figures; figures++)
        for (int pdf = 0; pdf < 2; pdf++) {
            char path[PATH_MAX + 64];
            snprintf(path, sizeof path, "%s/%s.%s", figdir, *figures, pdf ? "pdf" : "png");
            if (figure_whole(path, pdf)) continue;
            /* removed: a cut-short figure looks like a figure in a listing */
            const int gone = unlink(path) == 0 || errno == ENOENT;
            if (!n_bad++)
                st = rnnlab_error(RNNLAB_ERR_IO, "%s: gnuplot did not write it whole (a full disk? see %s/%s)%s", path,
                                  figdir, log, gone ? "; removed" : "");
        }
    if (n_bad > 1) {
        char first[PATH_MAX + 256]; /* a copy: the message is rewritten in its own buffer */
        snprintf(first, sizeof first, "%s", rnnlab_last_error());
        st = rnnlab_error(RNNLAB_ERR_IO, "%s, and %d other figure(s) too", first, n_bad - 1);
    }
    return st;
}
