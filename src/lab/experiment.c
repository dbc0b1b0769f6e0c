/*
 * experiment.c - running an experiment's grid: one decay probe per grid point, rows committed in
 * grid order with a journal (crash-safe and resumable), runs side by side, shards and merging,
 * progress, and the manifest.
 *
 * Not here: parsing and checking the file (config.c), the figures (plot.c). Output columns:
 * README.md, "Output files".
 *
 * The journal (<out>/.journal) is the source of truth for what is done:
 *     rnnlab-journal 1 crc=<crc32 of the experiment file> grid=<runs> shard=<k>/<n> sizes=<d>,<s>,<l>[,<train files>]
 *     done <run_id> <decay.csv bytes> <summary.csv bytes> <layers.csv bytes> [<bytes of each training file>]
 *     ...
 * A run's rows are appended to the three CSV files and flushed to disk before its "done" line is
 * written and flushed, and runs are committed in grid order. On resume every CSV file is cut back
 * to the sizes of the last complete "done" line, which removes a torn last line or a run whose rows
 * were only partly written, and the runs not listed are done again.
 */
#define _GNU_SOURCE /* sync_file_range (Linux), where there is one */
#include "lab/lab_internal.h"
#include "rnnlab/csvio.h"
#include "rnnlab/diag.h"
#include "rnnlab/format.h"
#include "rnnlab/rnnlab.h"
#include "core/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* written by the Makefile into build/gen/buildinfo.c */
extern const char *const rnnlab_build_git_rev, *const rnnlab_build_cflags;

/* The decay probe's three files, then (experiments that train, train.c) the five training files. */
enum { F_DECAY, F_SUMMARY, F_LAYERS, N_BASE_FILES, N_FILES = N_BASE_FILES + EXP_TRAIN_FILES };
static const char *const file_names[N_FILES] = {"decay.csv", "summary.csv", "layers.csv", "train.csv",
                                                "train_layers.csv", "train_probe.csv", "units.csv", "final_layers.csv"};

static int n_files(const rnnlab_experiment *e) { return e->train.on ? N_FILES : N_BASE_FILES; }

/* Appends ",<s0>,<s1>..." (sep ',') or " <s0> <s1>..." (sep ' ') of the first n sizes to buf. */
static void put_sizes(char *buf, size_t cap, const long long *sizes, int n, char sep)
{
    for (int i = 0; i < n; i++) {
        const size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%lld", i || sep == ' ' ? (sep == ' ' ? " " : ",") : "", sizes[i]);
    }
}

/* Parses n sizes separated by sep after p; returns the count read (*endp, if given: where they end). */
static int get_sizes(const char *p, long long *sizes, int n, char sep, const char **endp)
{
    int k = 0;
    for (; k < n; k++) {
        const char *q = p;
        if (k && *q++ != sep) break;
        while (sep == ' ' && *q == ' ') q++;
        char *end;
        errno = 0;
        sizes[k] = strtoll(q, &end, 10);
        if (end == q || errno || sizes[k] < 0) break;
        p = end;
    }
    if (endp) *endp = p;
    return k;
}

/*
 * A journal's line for a committed run: "done ID s0 s1 ... crc=c0,c1,..." with each CSV file's size
 * and the CRC-32 (zlib's) of its whole content up to that size, header included: a resume or a merge
 * checks that the rows already there are still the ones written (a file edited by hand, even to
 * the same length, would otherwise be cut at a byte count that no longer ends its last row). Journals
 * of rnnlab 0.1.0 before this have no crc list.
 */
static void done_line(char *line, size_t cap, long id, const long long *sizes, const unsigned long *crcs, int nf)
{
    snprintf(line, cap, "done %ld", id);
    put_sizes(line, cap, sizes, nf, ' ');
    for (int i = 0; i < nf; i++) {
        const size_t len = strlen(line);
        snprintf(line + len, cap - len, "%s%08lx", i ? "," : " crc=", crcs[i]);
    }
    const size_t len = strlen(line);
    snprintf(line + len, cap - len, "\n");
}

/* The CRC-32 of the n bytes at p continued from crc (0 to start one): done_line's checksums. */
static unsigned long crc_more(unsigned long crc, const void *p, size_t n)
{
    return n ? crc32_z(crc, (const unsigned char *)p, (z_size_t)n) : crc;
}

/* Parses a done_line at p (up to its newline); 1 when it is one, with *has_crc = 0 for a line without
 * the crc list. */
static int parse_done(const char *p, long *id, long long *sizes, unsigned long *crcs, int nf, int *has_crc)
{
    int used = 0;
    const char *q;
    if (sscanf(p, "done %ld%n", id, &used) != 1 || get_sizes(p + used, sizes, nf, ' ', &q) != nf) return 0;
    *has_crc = 0;
    if (*q == '\n') return 1;
    if (strncmp(q, " crc=", 5) != 0) return 0;
    q += 5;
    for (int i = 0; i < nf; i++) {
        if (i && *q++ != ',') return 0;
        char *end;
        errno = 0;
        const unsigned long c = strtoul(q, &end, 16);
        if (end - q != 8 || errno) return 0;
        crcs[i] = c, q = end;
    }
    *has_crc = 1;
    return *q == '\n';
}

/* The CRC-32 of a file's first n bytes into *crc, and in *row_end whether byte n - 1 ends a row (or
 * the header); 0 on success, -1 (errno set) when the file cannot be read that far. */
static int file_prefix_crc(const char *path, long long n, unsigned long *crc, int *row_end)
{
    const int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    unsigned char buf[1 << 16];
    unsigned long c = 0;
    long long left = n;
    unsigned char last = '\n';
    while (left > 0) {
        const ssize_t got = read(fd, buf, (size_t)(left < (long long)sizeof buf ? left : (long long)sizeof buf));
        if (got <= 0) {
            const int err = got < 0 ? errno : EIO;
            close(fd);
            errno = err;
            return -1;
        }
        c = crc_more(c, buf, (size_t)got);
        last = buf[got - 1], left -= got;
    }
    close(fd);
    *crc = c, *row_end = n == 0 || last == '\n';
    return 0;
}

/* A journal's first line: "rnnlab-journal 1 crc=C grid=G shard=K/N sizes=a,b,c[,...]" (the header
 * sizes of the CSV files; their number tells a training sweep's files from a plain one's). */
typedef struct journal_head {
    unsigned long crc;
    long grid;
    int k, n;
    int nf; /* header sizes read */
    long long sizes[N_FILES];
} journal_head;

/* 1 when text starts with a journal header (into *h), 0 when it is not one rnnlab wrote. */
static int journal_head_parse(const char *text, journal_head *h)
{
    int used = 0;
    if (sscanf(text, "rnnlab-journal 1 crc=%lx grid=%ld shard=%d/%d sizes=%n", &h->crc, &h->grid, &h->k, &h->n, &used) != 4 ||
        !used)
        return 0;
    h->nf = get_sizes(text + used, h->sizes, N_FILES, ',', NULL);
    return 1;
}

void rnnlab_run_options_init(rnnlab_run_options *o)
{
    memset(o, 0, sizeof *o);
    o->shard_n = 1;
    o->plot = 1;
    o->flush_s = 1;
}

/* ---------------------------------------------------------------- files */

/* out = dir + "/" + name, cut to fit (paths here are far below PATH_MAX). */
static void path_join(char *out, size_t n, const char *dir, const char *name)
{
    const size_t a = strlen(dir), b = strlen(name);
    if (a + b + 2 > n) {
        out[0] = '\0';
        return;
    }
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

/* The first of a folder's nf CSV files that is there (for a folder without a journal, whose results
 * nothing may overwrite), or NULL. */
static const char *stray_result(const char *dir, int nf)
{
    char path[PATH_MAX + 64];
    for (int i = 0; i < nf; i++) {
        path_join(path, sizeof path, dir, file_names[i]);
        if (access(path, F_OK) == 0) return file_names[i];
    }
    return NULL;
}

void exp_shard_dir(char *out, size_t n_out, const char *base, int k, int n)
{
    const size_t len = strlen(base);
    if (n > 1) /* no doubled slash after a base that ends in one ("/") */
        snprintf(out, n_out, "%s%sshard-%d-of-%d", base, len && base[len - 1] == '/' ? "" : "/", k, n);
    else snprintf(out, n_out, "%s", base);
}

rnnlab_status exp_fsync_dir(const char *path)
{
    const int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    const int bad = fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP;
    const int err = errno;
    close(fd);
    return bad ? rnnlab_error(RNNLAB_ERR_IO, "%s: fsync: %s", path, strerror(err)) : RNNLAB_OK;
}

rnnlab_status exp_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (!*path) return rnnlab_error(RNNLAB_ERR_CONFIG, "the output folder is empty: name one");
    if (strlen(path) >= sizeof tmp) return rnnlab_error(RNNLAB_ERR_IO, "path too long: %.80s...", path);
    memcpy(tmp, path, strlen(path) + 1);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot create folder: %s", tmp, strerror(errno));
    return RNNLAB_OK;
}

static rnnlab_status write_all(int fd, const char *path, const char *data, size_t n)
{
    while (n) {
        const ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return rnnlab_error(RNNLAB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
        data += w, n -= (size_t)w;
    }
    return RNNLAB_OK;
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = rnnlab_malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *nb = rnnlab_malloc(cap * 2);
        if (nb) memcpy(nb, b, n);
        rnnlab_free(b);
        b = nb, cap *= 2;
    }
    fclose(f);
    if (b) b[n] = '\0';
    if (len) *len = n;
    return b;
}

/* Where CSV file i (of nf) first differs from what the journal at jpath recorded, for the message of a
 * refused resume: "; the first rows that differ are run ID's, from line A" (the file's line where the
 * bytes of the last run whose checksum still holds end; line 1, the header, for run 0, whose checksum
 * covers the header too), or "" when no run's checksum tells (a journal without checksums). */
static void locate_change(const char *jpath, const char *csv, int i, int nf, char *msg, size_t cap)
{
    msg[0] = '\0';
    char *jt = slurp(jpath, NULL);
    const int fd = open(csv, O_RDONLY);
    const char *p = jt ? strchr(jt, '\n') : NULL;
    unsigned char buf[1 << 16];
    unsigned long c = 0;
    long long at = 0, lines = 0; /* bytes and newlines read */
    for (p = p && fd >= 0 ? p + 1 : NULL; p && *p;) {
        const char *e = strchr(p, '\n');
        long id;
        long long s[N_FILES];
        unsigned long cr[N_FILES];
        int hc = 0;
        if (!e || !parse_done(p, &id, s, cr, nf, &hc) || !hc) break;
        const long long first = lines + 1;
        while (at < s[i]) {
            const ssize_t got = read(fd, buf, (size_t)(s[i] - at < (long long)sizeof buf ? s[i] - at : (long long)sizeof buf));
            if (got <= 0) break;
            c = crc_more(c, buf, (size_t)got);
            for (ssize_t k = 0; k < got; k++) lines += buf[k] == '\n';
            at += got;
        }
        if (at < s[i]) break;
        if (c != cr[i]) {
            snprintf(msg, cap, "; the first rows that differ are run %ld's, from line %lld", id, first);
            break;
        }
        p = e + 1;
    }
    if (fd >= 0) close(fd);
    rnnlab_free(jt);
}

static void iso_time(char *buf, size_t n)
{
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* appends a string literal, its length counted by the compiler */
#define APPEND_LIT(b, lit) rnnlab_csv_append((b), (lit), sizeof(lit) - 1)

static void json_string(rnnlab_csvbuf *b, const char *s)
{
    APPEND_LIT(b, "\"");
    for (; *s; s++) {
        char esc[8];
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
        else if (c == '\n') strcpy(esc, "\\n");
        else if (c == '\t') strcpy(esc, "\\t");
        else if (c == '\r') strcpy(esc, "\\r");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c);
        else esc[0] = (char)c, esc[1] = 0;
        rnnlab_csv_append(b, esc, strlen(esc));
    }
    APPEND_LIT(b, "\"");
}

/* Writes path.tmp with the n bytes and flushes it to disk; on failure removes it (a full disk keeps
 * no half-written copy). */
static rnnlab_status write_tmp(const char *path, const char *data, size_t n)
{
    char tmp[PATH_MAX + 160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    rnnlab_status st = write_all(fd, tmp, data, n);
    if (!st && fsync(fd) != 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    close(fd);
    if (st) unlink(tmp);
    return st;
}

/* Renames path.tmp (write_tmp) to path. */
static rnnlab_status rename_tmp(const char *path)
{
    char tmp[PATH_MAX + 160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    return rename(tmp, path) == 0 ? RNNLAB_OK
                                  : rnnlab_error(RNNLAB_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
}

/* path replaced by the n bytes as one step: readers see the old file or the new one, never a part. */
static rnnlab_status write_file_atomic(const char *path, const char *data, size_t n)
{
    rnnlab_status st = write_tmp(path, data, n);
    return st ? st : rename_tmp(path);
}

/* ---------------------------------------------------------------- the manifest */

static rnnlab_status write_manifest(const rnnlab_experiment *e, const char *dir, const char *kernels, const char *started,
                                    const char *ended, int threads, int jobs, int shard_k, int shard_n, long runs_done,
                                    const char *extra)
{
    rnnlab_csvbuf b = {0};
    char path[PATH_MAX + 64], num[64];
    APPEND_LIT(&b, "{\n  \"rnnlab_version\": ");
    json_string(&b, RNNLAB_VERSION);
    APPEND_LIT(&b, ",\n  \"git_revision\": ");
    json_string(&b, rnnlab_build_git_rev);
    APPEND_LIT(&b, ",\n  \"compiler\": ");
#if defined(__clang__)
    snprintf(path, sizeof path, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(path, sizeof path, "gcc %s", __VERSION__);
#else
    snprintf(path, sizeof path, "unknown");
#endif
    json_string(&b, path);
    APPEND_LIT(&b, ",\n  \"cflags\": ");
    json_string(&b, rnnlab_build_cflags);
    APPEND_LIT(&b, ",\n  \"openmp\": ");
    rnnlab_csv_append(&b, rnnlab_openmp_enabled() ? "true" : "false", rnnlab_openmp_enabled() ? 4 : 5);
    APPEND_LIT(&b, ",\n  \"blas_kernels\": "); /* they set the results' last bits */
    json_string(&b, kernels);
    snprintf(num, sizeof num, ",\n  \"threads\": %d,\n  \"jobs\": %d", threads, jobs);
    rnnlab_csv_append(&b, num, strlen(num));
    /* how waiting OpenMP threads behaved (the rnnlab command sets passive for multi-thread runs) */
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    APPEND_LIT(&b, ",\n  \"omp_wait_policy\": ");
    json_string(&b, policy ? policy : "");
    APPEND_LIT(&b, ",\n  \"gomp_spincount\": ");
    json_string(&b, spin ? spin : "");
    snprintf(num, sizeof num, ",\n  \"shard\": \"%d/%d\"", shard_k, shard_n);
    rnnlab_csv_append(&b, num, strlen(num));
    APPEND_LIT(&b, ",\n  \"experiment\": ");
    json_string(&b, e->name);
    APPEND_LIT(&b, ",\n  \"experiment_file\": ");
    json_string(&b, e->path);
    snprintf(num, sizeof num, ",\n  \"experiment_crc32\": \"%08lx\"", e->crc);
    rnnlab_csv_append(&b, num, strlen(num));
    APPEND_LIT(&b, ",\n  \"experiment_text\": ");
    json_string(&b, e->text);
    snprintf(num, sizeof num, ",\n  \"grid_size\": %ld,\n  \"runs_done\": %ld", e->grid_size, runs_done);
    rnnlab_csv_append(&b, num, strlen(num));
    /* precision and flush-to-zero: one value, or "per run" when swept */
    const char *prec = "float64", *ftz = "off";
    int prec_swept = 0, ftz_swept = 0;
    for (int d = 0; d < e->n_dims; d++) {
        prec_swept |= !strcmp(e->dims[d].key, "precision");
        ftz_swept |= !strcmp(e->dims[d].key, "ftz");
    }
    for (int i = 0; i < e->n_entries; i++) {
        if (!strcmp(e->entries[i].section, "model") && !strcmp(e->entries[i].key, "precision")) {
            rnnlab_dtype dt;
            if (!rnnlab_dtype_parse(e->entries[i].value, &dt)) prec = rnnlab_dtype_name(dt);
        }
        if (!strcmp(e->entries[i].section, "model") && !strcmp(e->entries[i].key, "ftz")) {
            const char *v = e->entries[i].value;
            ftz = !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1") ? "on" : "off";
        }
    }
    APPEND_LIT(&b, ",\n  \"precision\": ");
    json_string(&b, prec_swept ? "per run (see summary.csv)" : prec);
    APPEND_LIT(&b, ",\n  \"flush_to_zero\": ");
    json_string(&b, ftz_swept ? "per run (see summary.csv)" : ftz);
    APPEND_LIT(&b, ",\n  \"started\": ");
    json_string(&b, started);
    APPEND_LIT(&b, ",\n  \"ended\": ");
    if (ended) json_string(&b, ended);
    else APPEND_LIT(&b, "null");
    if (extra) rnnlab_csv_append(&b, extra, strlen(extra));
    APPEND_LIT(&b, "\n}\n");
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    rnnlab_status st = b.failed ? rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory writing the manifest")
                                : write_file_atomic(path, b.data, b.len);
    rnnlab_csvbuf_free(&b);
    return st;
}

/* One writer per output folder: takes <dir>/.lock (flock, without waiting) into *fd. A second
 * process (the same shard started twice, a resubmitted array task, a merge into a folder a run is
 * writing) would otherwise interleave its files with the first's. The lock goes with the process,
 * so a killed run leaves none. RNNLAB_ERR_BUSY while another process holds it. */
static rnnlab_status folder_lock(const char *dir, int *fd)
{
    char path[PATH_MAX + 64];
    path_join(path, sizeof path, dir, ".lock");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
        return rnnlab_error(RNNLAB_ERR_BUSY, "%s is in use by another rnnlab run (it holds %s)", dir, path);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_folder_read_lock(const char *dir, int *fd)
{
    RNNLAB_REQUIRE_PTR("rnnlab_folder_read_lock", dir);
    RNNLAB_REQUIRE_PTR("rnnlab_folder_read_lock", fd);
    char path[PATH_MAX + 64];
    path_join(path, sizeof path, dir, ".lock");
    *fd = open(path, O_RDONLY | O_CLOEXEC); /* none (or not ours to open): nothing of rnnlab's writes here */
    if (*fd >= 0 && flock(*fd, LOCK_SH | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return rnnlab_error(RNNLAB_ERR_BUSY, "%s is in use by an rnnlab run or merge (it holds %s): its files are "
                            "being written; try again when it has ended", dir, path);
    }
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- one run */

typedef struct run_out {
    rnnlab_csvbuf f[N_FILES];
    char desc[512]; /* for progress lines */
    rnnlab_status st;
    char err[1024];
} run_out;

/* The columns every file starts with: run_id, the swept keys (seed last). */
void exp_key_columns(const rnnlab_experiment *e, rnnlab_csvbuf *b)
{
    rnnlab_csv_text(b, "run_id");
    if (e->n_blocks > 1) rnnlab_csv_text(b, "block");
    for (int c = 0; c < e->n_cols; c++)
        if (strcmp(e->cols[c], "seed")) rnnlab_csv_text(b, e->cols[c]);
    rnnlab_csv_text(b, "seed");
}

/* T: the run's sequence length (for a seq_len column its block does not sweep) */
void exp_key_values(const rnnlab_experiment *e, const exp_run *r, int T, rnnlab_csvbuf *b)
{
    char buf[32];
    rnnlab_csv_int(b, r->id);
    if (e->n_blocks > 1) rnnlab_csv_text(b, e->blocks[r->block].name);
    for (int c = 0; c < e->n_cols; c++) {
        if (!strcmp(e->cols[c], "seed")) continue;
        const char *v = exp_column_value(r, e, c, T, buf, sizeof buf);
        if (*v) rnnlab_csv_value(b, v);
        else rnnlab_csv_empty(b);
    }
    snprintf(buf, sizeof buf, "%llu", r->seed);
    rnnlab_csv_value(b, buf);
}

/* The fixed description columns of summary.csv, skipping those already among the swept keys. */
static const char *const summary_fixed[] = {"experiment", "cell",        "activation", "gru_variant", "peephole",
                                            "init",       "forget_bias", "norm",       "residual",    "dropout",
                                            "hidden_size", "num_layers", "task",       "task_variant", "seq_len",
                                            "batch",      "precision",   "ftz",        "data_seed",   "model_seed",
                                            NULL};
static const char *const summary_measures[] = {
    "status", "diverged_phase", "diverged_layer", "diverged_t", "loss", "baseline_loss", "decay_rate",
    "decay_rate_first_half", "decay_rate_second_half", "horizon_1e3", "horizon_1e6", "horizon_1e9", "n_zero_steps",
    "n_subnormal_steps", "n_nonfinite_steps", "grad_norm_first_layer", "grad_norm_last_layer", "layer_grad_ratio",
    "sat_h", "sat_gate_i", "sat_gate_f", "sat_gate_o", "sat_gate_r", "sat_gate_z", "sat_candidate", "dead_frac", NULL};
static const char *const layer_measures[] = {
    "layer", "param_grad_norm", "decay_rate", "decay_rate_first_half", "decay_rate_second_half", "horizon_1e3",
    "horizon_1e6", "horizon_1e9", "n_zero_steps", "n_subnormal_steps", "n_nonfinite_steps", "sat_h", "sat_gate_i",
    "sat_gate_f", "sat_gate_o", "sat_gate_r", "sat_gate_z", "sat_candidate", "dead_frac", NULL};
static const char *const decay_measures[] = {"layer", "t", "lag", "grad_norm_h", "grad_norm_h_batch", "grad_norm_c",
                                             "grad_norm_c_batch", "jacobian_norm", "log10_jacobian_norm", NULL};

static int is_dim_column(const rnnlab_experiment *e, const char *c)
{
    for (int k = 0; k < e->n_cols; k++)
        if (!strcmp(e->cols[k], c)) return 1;
    return 0;
}

static void headers(const rnnlab_experiment *e, rnnlab_csvbuf *f)
{
    for (int i = 0; i < N_BASE_FILES; i++) exp_key_columns(e, &f[i]);
    for (const char *const *c = decay_measures; *c; c++) rnnlab_csv_text(&f[F_DECAY], *c);
    for (const char *const *c = summary_fixed; *c; c++)
        if (!is_dim_column(e, *c)) rnnlab_csv_text(&f[F_SUMMARY], *c);
    for (const char *const *c = summary_measures; *c; c++) rnnlab_csv_text(&f[F_SUMMARY], *c);
    if (e->train.on) exp_train_headers(e, &f[N_BASE_FILES], &f[F_SUMMARY]);
    for (const char *const *c = layer_measures; *c; c++) rnnlab_csv_text(&f[F_LAYERS], *c);
    for (int i = 0; i < N_BASE_FILES; i++) rnnlab_csv_end_row(&f[i]);
}

void exp_num_or_empty(rnnlab_csvbuf *b, double v)
{
    if (isnan(v)) rnnlab_csv_empty(b);
    else rnnlab_csv_num(b, v);
}

/* sat_gate_i, f, o (lstm) then r, z (gru), candidate, dead */
static void saturation_values(rnnlab_csvbuf *b, const rnnlab_saturation *s, rnnlab_cell_kind cell)
{
    exp_num_or_empty(b, s->h);
    for (int g = 0; g < 3; g++) exp_num_or_empty(b, cell == RNNLAB_CELL_LSTM ? s->gate[g] : NAN);
    for (int g = 0; g < 2; g++) exp_num_or_empty(b, cell == RNNLAB_CELL_GRU ? s->gate[g] : NAN);
    exp_num_or_empty(b, s->candidate);
    exp_num_or_empty(b, s->dead);
}

static void decay_values(rnnlab_csvbuf *b, const rnnlab_decay_stats *d)
{
    exp_num_or_empty(b, d->rate);
    exp_num_or_empty(b, d->rate_first_half);
    exp_num_or_empty(b, d->rate_second_half);
    for (int k = 0; k < 3; k++) rnnlab_csv_int(b, d->horizon[k]);
    rnnlab_csv_int(b, d->n_zero);
    rnnlab_csv_int(b, d->n_subnormal);
    rnnlab_csv_int(b, d->n_nonfinite);
}

static void describe(const rnnlab_experiment *e, const exp_run *r, char *buf, size_t n)
{
    size_t off = (size_t)snprintf(buf, n, "run %ld:", r->id);
    if (e->n_blocks > 1 && off < n) off += (size_t)snprintf(buf + off, n - off, " %s", e->blocks[r->block].name);
    for (int c = 0; c < e->n_cols && off < n; c++)
        if (strcmp(e->cols[c], "seed") && r->col_values[c])
            off += (size_t)snprintf(buf + off, n - off, " %s=%s", e->cols[c], r->col_values[c]);
    if (off < n) snprintf(buf + off, n - off, " seed=%llu", r->seed);
}

/* Everything one grid point needs, freed at done. */
static void do_run(const rnnlab_experiment *e, long id, run_out *out)
{
    exp_run r;
    rnnlab_model *m = NULL;
    rnnlab_bptt *ws = NULL;
    rnnlab_dataset *ds = NULL;
    double *x = NULL, *target = NULL, *jn = NULL, *jl = NULL;
    int *cls = NULL, *len = NULL;
    rnnlab_status st = exp_resolve(e, id, &r, NULL);
    describe(e, &r, out->desc, sizeof out->desc);
    if (!st) st = rnnlab_dataset_open(&ds, r.task, r.task_opts, r.n_task_opts, r.data_seed, NULL);
    if (st) goto done;
    const rnnlab_task_info info = *rnnlab_dataset_info(ds);
    exp_set_io(&r, info.input_size, info.output_size);
    const exp_measure *me = &e->measure;
    const int B = r.batch, T = info.seq_len, I = info.input_size, O = info.output_size, L = r.model.num_layers;
    const int H = r.model.hidden_size, lstm = r.model.cell == RNNLAB_CELL_LSTM;
    const int task_all = info.loss_at == RNNLAB_LOSS_ALL, probe_all = me->loss_at == RNNLAB_LOSS_ALL;
    const size_t task_rows = task_all ? (size_t)T * B : (size_t)B;
    x = rnnlab_malloc(sizeof(double) * (size_t)T * B * I);
    target = rnnlab_malloc(sizeof(double) * task_rows * O);
    cls = rnnlab_malloc(sizeof(int) * task_rows);
    len = rnnlab_malloc(sizeof(int) * (size_t)B);
    jn = rnnlab_malloc(sizeof(double) * (size_t)L * T);
    jl = rnnlab_malloc(sizeof(double) * (size_t)L * T);
    if (!x || !target || !cls || !len || !jn || !jl) {
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory for run %ld", id);
        goto done;
    }
    if ((st = rnnlab_dataset_batch(ds, me->split, me->batch_index, B, x, target, cls, len))) goto done;
    const int Tp = exp_probe_steps(len, B, T);
    if (task_all && !probe_all) exp_probe_last_targets(len, B, O, target, cls);
    if ((st = rnnlab_model_create(&m, &r.model))) goto done;
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, r.model_seed);
    if ((st = rnnlab_model_init(m, &r.init, &rng))) goto done;
    /* [train] init_from: the probe at initialisation measures the weights training starts from */
    if (e->train.on && r.train.init_from && (st = rnnlab_weights_import(r.train.init_from, m))) {
        st = rnnlab_error(st, "init_from: %s", rnnlab_last_error());
        goto done;
    }
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc);
    bc.batch = B, bc.seq_len = T, bc.loss = info.loss, bc.loss_at = me->loss_at, bc.truncate = me->truncate;
    bc.taps = 1, bc.ftz = r.ftz;
    if ((st = rnnlab_bptt_create(&ws, m, &bc))) goto done;
    const rnnlab_batch bt = {x, info.loss == RNNLAB_LOSS_XENT ? NULL : target,
                             info.loss == RNNLAB_LOSS_XENT ? cls : NULL, len, NULL, NULL, 0};

    /* the probe */
    double loss = NAN;
    const char *status = "ok", *phase = "";
    int bad_l = -1, bad_t = -1;
    rnnlab_status fst = rnnlab_bptt_forward(ws, m, &bt, &loss), bst = RNNLAB_OK;
    if (fst == RNNLAB_ERR_NUMERIC) {
        status = "diverged", phase = "forward";
        rnnlab_diag_first_nonfinite(ws, &bad_l, &bad_t);
    } else if (fst) {
        st = fst;
        goto done;
    } else {
        bst = rnnlab_bptt_backward(ws, m, NULL, NULL, NULL);
        if (bst == RNNLAB_ERR_NUMERIC) {
            status = "diverged", phase = "backward";
            const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
            for (int l = L - 1; l >= 0 && bad_l < 0; l--)
                for (int t = T - 1; t >= 0; t--)
                    if (!isfinite(tp.h_norm[(size_t)l * T + t])) {
                        bad_l = l, bad_t = t;
                        break;
                    }
            /* finite dL/dh but a weight gradient overflowed: name its layer (the head counts as the top) */
            for (int i = 0; i < m->n_tensors && bad_l < 0; i++)
                if (!isfinite(tp.param_norm[i])) bad_l = m->tensors[i].layer >= 0 ? m->tensors[i].layer : L - 1;
        } else if (bst) {
            st = bst;
            goto done;
        }
    }
    const int have_taps = fst == RNNLAB_OK;
    const rnnlab_taps tp = rnnlab_bptt_get_taps(ws);
    const int jac = have_taps && me->jacobian && H <= me->jacobian_max_hidden;
    for (int l = 0; l < L; l++) {
        if (jac && (st = rnnlab_diag_jacobian(ws, m, l, me->jacobian_samples, jn + (size_t)l * T, jl + (size_t)l * T)))
            goto done;
    }
    const double min_normal = r.model.dtype == RNNLAB_FLOAT32 ? FLT_MIN : DBL_MIN;

    /* decay.csv: one row per layer and step */
    rnnlab_csvbuf *fd = &out->f[F_DECAY];
    if (have_taps)
        for (int l = 0; l < L; l++)
            for (int t = 0; t < Tp; t++) {
                const size_t k = (size_t)l * T + t;
                exp_key_values(e, &r, T, fd);
                rnnlab_csv_int(fd, l);
                rnnlab_csv_int(fd, t);
                rnnlab_csv_int(fd, Tp - 1 - t);
                rnnlab_csv_num(fd, tp.h_norm_mean[k]);
                rnnlab_csv_num(fd, tp.h_norm[k]);
                if (lstm) rnnlab_csv_num(fd, tp.c_norm_mean[k]), rnnlab_csv_num(fd, tp.c_norm[k]);
                else rnnlab_csv_empty(fd), rnnlab_csv_empty(fd);
                if (jac) exp_num_or_empty(fd, jn[k]), exp_num_or_empty(fd, jl[k]);
                else rnnlab_csv_empty(fd), rnnlab_csv_empty(fd);
                rnnlab_csv_end_row(fd);
            }

    /* per-layer statistics */
    rnnlab_decay_stats ds_top;
    memset(&ds_top, 0, sizeof ds_top);
    ds_top.rate = ds_top.rate_first_half = ds_top.rate_second_half = NAN;
    double gfirst = NAN, glast = NAN;
    rnnlab_csvbuf *fl = &out->f[F_LAYERS];
    const int per_layer = m->cfg.peephole ? 5 : 4;
    for (int l = 0; l < L; l++) {
        double gsum = 0;
        for (int i = 0; i < per_layer; i++) {
            const double v = tp.param_norm[l * per_layer + i];
            gsum += v * v;
        }
        const double gnorm = have_taps ? sqrt(gsum) : NAN;
        if (l == 0) gfirst = gnorm;
        if (l == L - 1) glast = gnorm;
        rnnlab_decay_stats dst;
        rnnlab_decay_stats_compute(tp.h_norm_mean + (size_t)l * T, Tp, min_normal, &dst);
        if (l == L - 1) ds_top = dst;
        rnnlab_saturation sat = {NAN, {NAN, NAN, NAN}, NAN, NAN};
        if (me->saturation && (st = rnnlab_diag_saturation(ws, m, l, &sat))) goto done;
        exp_key_values(e, &r, T, fl);
        rnnlab_csv_int(fl, l);
        exp_num_or_empty(fl, gnorm);
        if (have_taps) decay_values(fl, &dst);
        else
            for (int k = 0; k < 9; k++) rnnlab_csv_empty(fl);
        saturation_values(fl, &sat, r.model.cell);
        rnnlab_csv_end_row(fl);
    }

    /* summary.csv */
    rnnlab_csvbuf *fs = &out->f[F_SUMMARY];
    exp_key_values(e, &r, T, fs);
    char v[64];
    for (const char *const *c = summary_fixed; *c; c++) {
        if (is_dim_column(e, *c)) continue;
        if (!strcmp(*c, "experiment")) rnnlab_csv_text(fs, e->name);
        else if (!strcmp(*c, "cell")) rnnlab_csv_text(fs, rnnlab_cell_label(r.model.cell, r.model.activation));
        else if (!strcmp(*c, "activation"))
            r.model.cell == RNNLAB_CELL_RNN ? rnnlab_csv_text(fs, rnnlab_activation_name(r.model.activation))
                                            : rnnlab_csv_empty(fs);
        else if (!strcmp(*c, "gru_variant"))
            r.model.cell == RNNLAB_CELL_GRU ? rnnlab_csv_text(fs, rnnlab_gru_variant_name(r.model.gru_variant))
                                            : rnnlab_csv_empty(fs);
        else if (!strcmp(*c, "peephole")) lstm ? rnnlab_csv_int(fs, r.model.peephole) : rnnlab_csv_empty(fs);
        else if (!strcmp(*c, "init")) rnnlab_csv_text(fs, r.init_name);
        else if (!strcmp(*c, "forget_bias")) exp_num_or_empty(fs, r.init.forget_bias);
        else if (!strcmp(*c, "norm")) rnnlab_csv_text(fs, rnnlab_norm_name(r.model.norm));
        else if (!strcmp(*c, "residual")) rnnlab_csv_int(fs, r.model.residual);
        else if (!strcmp(*c, "dropout")) rnnlab_csv_num(fs, r.model.dropout);
        else if (!strcmp(*c, "hidden_size")) rnnlab_csv_int(fs, H);
        else if (!strcmp(*c, "num_layers")) rnnlab_csv_int(fs, L);
        else if (!strcmp(*c, "task")) rnnlab_csv_text(fs, r.task);
        else if (!strcmp(*c, "task_variant")) info.variant[0] ? rnnlab_csv_text(fs, info.variant) : rnnlab_csv_empty(fs);
        else if (!strcmp(*c, "seq_len")) { /* as the file sets it (variable lengths run from it to T) */
            const rnnlab_option *set = exp_task_opt(&r, "seq_len");
            rnnlab_csv_int(fs, set ? strtol(set->value, NULL, 10) : T); /* checked by the task when it opened */
        }
        else if (!strcmp(*c, "batch")) rnnlab_csv_int(fs, B);
        else if (!strcmp(*c, "precision")) rnnlab_csv_text(fs, rnnlab_dtype_name(r.model.dtype));
        else if (!strcmp(*c, "ftz")) rnnlab_csv_int(fs, r.ftz);
        else if (!strcmp(*c, "data_seed")) snprintf(v, sizeof v, "%llu", r.data_seed), rnnlab_csv_value(fs, v);
        else if (!strcmp(*c, "model_seed")) snprintf(v, sizeof v, "%llu", r.model_seed), rnnlab_csv_value(fs, v);
    }
    rnnlab_csv_text(fs, status);
    phase[0] ? rnnlab_csv_text(fs, phase) : rnnlab_csv_empty(fs);
    bad_l >= 0 ? rnnlab_csv_int(fs, bad_l) : rnnlab_csv_empty(fs);
    bad_t >= 0 ? rnnlab_csv_int(fs, bad_t) : rnnlab_csv_empty(fs);
    rnnlab_csv_num(fs, loss);
    rnnlab_csv_num(fs, info.baseline);
    if (have_taps) decay_values(fs, &ds_top);
    else
        for (int k = 0; k < 9; k++) rnnlab_csv_empty(fs);
    exp_num_or_empty(fs, gfirst);
    exp_num_or_empty(fs, glast);
    exp_num_or_empty(fs, have_taps && glast > 0 ? gfirst / glast : NAN);
    rnnlab_saturation all = {NAN, {NAN, NAN, NAN}, NAN, NAN};
    if (me->saturation && (st = rnnlab_diag_saturation(ws, m, -1, &all))) goto done;
    saturation_values(fs, &all, r.model.cell);
    /* experiments with [train]: train the model now (train.c) */
    if (e->train.on && (st = exp_train_run(e, &r, ds, m, &out->f[N_BASE_FILES], fs))) goto done;
    rnnlab_csv_end_row(fs);
    for (int i = 0; i < N_FILES; i++)
        if (out->f[i].failed) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory writing the rows of run %ld", id);
done:
    out->st = st;
    if (st) snprintf(out->err, sizeof out->err, "%s", rnnlab_last_error());
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
    rnnlab_dataset_close(ds);
    rnnlab_free(x), rnnlab_free(target), rnnlab_free(cls), rnnlab_free(len), rnnlab_free(jn), rnnlab_free(jl);
}

/* ---------------------------------------------------------------- the journal */

typedef struct journal {
    int fd;
    int lock_fd; /* <out>/.lock, held (flock) while the run writes the folder */
    char path[PATH_MAX + 64];
    unsigned char *done; /* (grid_size) 1 if committed */
    long n_done;
    long long sizes[N_FILES];
    unsigned long crcs[N_FILES]; /* CRC-32 of each file's first sizes[i] bytes (done_line) */
    char *pending;       /* "done" lines of runs whose rows are written but not yet flushed (journal_sync) */
    size_t pending_len, pending_cap;
    double last_sync;    /* exp_now_s() of the last journal_sync */
    double sync_s;       /* rnnlab_run_options.flush_s */
    long long cut[N_FILES]; /* bytes a resume cut off after the journal's sizes (said, not silent) */
} journal;

/* The value of "key" in manifest.json in dir, as written (a JSON string keeps its quotes and
 * escapes; write_manifest puts one key on each line, and json_string escapes newlines), without the
 * comma after it: rnnlab_malloc'd, or NULL when there is no manifest or no such key. */
static char *manifest_field(const char *dir, const char *key)
{
    char path[PATH_MAX + 64], pat[64];
    path_join(path, sizeof path, dir, "manifest.json");
    snprintf(pat, sizeof pat, "\n  \"%s\": ", key);
    char *text = slurp(path, NULL), *out = NULL;
    const char *v = text ? strstr(text, pat) : NULL;
    if (v) {
        v += strlen(pat);
        size_t n = strcspn(v, "\n");
        if (n && v[n - 1] == ',') n--;
        if ((out = rnnlab_malloc(n + 1))) memcpy(out, v, n), out[n] = '\0';
    }
    rnnlab_free(text);
    return out;
}

/* 1 when dir holds the manifest.json of a finished command (its "ended" is a time, not null). */
static int manifest_ended(const char *dir)
{
    char *v = manifest_field(dir, "ended");
    const int ended = v && v[0] == '"';
    rnnlab_free(v);
    return ended;
}

/* The OpenBLAS kernels manifest.json in dir names ("Haswell", or a list "Haswell, SkylakeX" for
 * results made under several) into out (n bytes); "" without a manifest or that field. */
static void manifest_kernels(const char *dir, char *out, size_t n)
{
    char *v = manifest_field(dir, "blas_kernels");
    const size_t len = v ? strlen(v) : 0;
    out[0] = '\0';
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') snprintf(out, n, "%.*s", (int)(len - 2), v + 1);
    rnnlab_free(v);
}

/* Adds each kernel of names ("A" or a list "A, B") to the list (n bytes) unless it is there; 1 when
 * one was added to a list that named others. A name that does not fit is left out whole. */
static int kernels_add(char *list, size_t n, const char *names)
{
    int mixed = 0;
    for (const char *k = names; *k;) {
        const char *kq = strstr(k, ", ");
        const size_t klen = kq ? (size_t)(kq - k) : strlen(k);
        int there = 0;
        for (const char *p = list; *p && !there;) {
            const char *q = strstr(p, ", ");
            const size_t len = q ? (size_t)(q - p) : strlen(p);
            there = len == klen && !strncmp(p, k, len);
            p += len + (q ? 2 : 0);
        }
        const size_t used = strlen(list);
        if (!there && used + klen + 3 <= n) {
            mixed |= used > 0;
            snprintf(list + used, n - used, "%s%.*s", used ? ", " : "", (int)klen, k);
        }
        k += klen + (kq ? 2 : 0);
    }
    return mixed;
}

/* Opens or creates the journal and CSV files of the output folder (created and locked by the
 * caller), cutting the files back to the last complete run. fds[] are opened for appending. */
static rnnlab_status open_outputs(const rnnlab_experiment *e, const char *dir, int shard_k, int shard_n, int fresh,
                                  journal *j, int *fds)
{
    char path[PATH_MAX + 64], head[256];
    rnnlab_status st = RNNLAB_OK;
    path_join(j->path, sizeof j->path, dir, ".journal");
    j->done = rnnlab_calloc((size_t)e->grid_size, 1);
    if (!j->done) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    rnnlab_csvbuf hdr[N_FILES] = {{0}};
    headers(e, hdr);
    const int nf = n_files(e);
    long long hsizes[N_FILES];
    for (int i = 0; i < N_FILES; i++) {
        if (hdr[i].failed) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
        hsizes[i] = (long long)hdr[i].len;
    }
    snprintf(head, sizeof head, "rnnlab-journal 1 crc=%08lx grid=%ld shard=%d/%d sizes=", e->crc, e->grid_size, shard_k,
             shard_n);
    put_sizes(head, sizeof head, hsizes, nf, ',');
    strcat(head, "\n");
    const int n = (int)strlen(head);
    size_t jlen = 0;
    char *old = fresh ? NULL : slurp(j->path, &jlen);
    int resume = 0, has_crc = 0; /* has_crc: the last done line's */
    if (old) {
        const char *nl = strchr(old, '\n');
        if (!nl || strncmp(old, head, (size_t)(nl - old + 1)) != 0) {
            /* say what differs: the file's bytes, the grid, the shard, or the kind of run (the
               training files' headers are part of the sizes) */
            journal_head oh;
            char why[256];
            if (!journal_head_parse(old, &oh)) snprintf(why, sizeof why, "a run whose .journal rnnlab cannot read (damaged or not rnnlab's)");
            else if (oh.crc != e->crc)
                snprintf(why, sizeof why, "another experiment file, or another version of this one (crc32 %08lx "
                         "there, %08lx now: any edit counts, comments too)", oh.crc, e->crc);
            else if (oh.grid != e->grid_size) snprintf(why, sizeof why, "a grid of %ld runs (now %ld)", oh.grid, e->grid_size);
            else if (oh.k != shard_k || oh.n != shard_n)
                snprintf(why, sizeof why, "shard %d/%d (now %d/%d)", oh.k, oh.n, shard_k, shard_n);
            else if (oh.nf != nf)
                snprintf(why, sizeof why, "the same file run %s, or its .journal was edited",
                         e->train.on ? "without training (rnnlab run)" : "with training (rnnlab train)");
            else /* the same files, headers of other lengths: other columns */
                snprintf(why, sizeof why, "another rnnlab version, whose CSV files have other columns (or its "
                         ".journal was edited)");
            rnnlab_free(old);
            for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&hdr[i]);
            return rnnlab_error(RNNLAB_ERR_CONFIG,
                                "%s holds results of %s; refusing to mix them. Run with --fresh to start over, or set "
                                "another [output] dir (--out)",
                                dir, why);
        }
        /* every row carries the experiment's name: the same file under another name (a copy) must not
           add its rows to this folder. The name is in the folder's manifest (from the start of the
           sweep; a folder without one is not checked). */
        char *man = NULL;
        if ((man = manifest_field(dir, "experiment"))) {
            rnnlab_csvbuf want = {0};
            json_string(&want, e->name);
            const int same = !want.failed && strlen(man) == want.len && !memcmp(man, want.data, want.len);
            rnnlab_csvbuf_free(&want);
            if (!same) {
                const rnnlab_status ns = rnnlab_error(
                    RNNLAB_ERR_CONFIG, "%s holds results of the experiment named %.200s (its manifest.json); this file's "
                    "experiment is named \"%s\": refusing to mix them. Run with --fresh to start over, or set another "
                    "[output] dir (--out)", dir, man, e->name);
                rnnlab_free(man), rnnlab_free(old);
                for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&hdr[i]);
                return ns;
            }
            rnnlab_free(man);
        }
        resume = 1;
        for (int i = 0; i < N_FILES; i++) j->sizes[i] = (long long)hdr[i].len;
        /* the "done" lines; a last line without its newline is torn and ignored */
        /* runs are committed in grid order: the done lines are this shard's ids from the first on,
           each once, with sizes that never shrink; anything else is a journal changed by hand, whose
           resume would redo a run and append it out of order */
        long expect = shard_k, line_no = 1;
        for (const char *p = nl + 1; *p; line_no++) {
            const char *e2 = strchr(p, '\n');
            if (!e2) break;
            long id;
            int ok = 1;
            long long s[N_FILES];
            unsigned long c[N_FILES];
            if (!parse_done(p, &id, s, c, nf, &has_crc) || id != expect || id >= e->grid_size) ok = 0;
            for (int i = 0; i < nf && ok; i++) ok = s[i] >= j->sizes[i];
            if (!ok) {
                rnnlab_free(old);
                for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&hdr[i]);
                return rnnlab_error(RNNLAB_ERR_CONFIG, "%s:%ld: not the journal line of run %ld, which comes next in grid "
                                    "order: the journal was changed by hand. Run with --fresh to start over",
                                    j->path, line_no + 1, expect);
            }
            j->done[id] = 1, j->n_done++;
            for (int i = 0; i < nf; i++) j->sizes[i] = s[i], j->crcs[i] = has_crc ? c[i] : 0;
            expect += shard_n;
            p = e2 + 1;
        }
        rnnlab_free(old);
    } else {
        /* no journal: refuse to overwrite CSV files that are there, unless fresh */
        if (!fresh && stray_result(dir, N_FILES)) {
            for (int k = 0; k < N_FILES; k++) rnnlab_csvbuf_free(&hdr[k]);
            return rnnlab_error(RNNLAB_ERR_CONFIG,
                                "%s has results without a journal (from an older run, or a --fresh that did not finish); refusing to "
                                "overwrite them. Run with --fresh to start over",
                                dir);
        }
        /* the journal before the CSV files: a process killed in between leaves a journal without runs,
           whose files are rewritten below when the command runs again */
        j->fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0666);
        if (j->fd < 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot create: %s", j->path, strerror(errno));
        if (!st) st = write_all(j->fd, j->path, head, (size_t)n);
        if (!st && fsync(j->fd) != 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: fsync: %s", j->path, strerror(errno));
    }
    for (int i = 0; i < nf && !st; i++) {
        path_join(path, sizeof path, dir, file_names[i]);
        if (resume && j->n_done > 0) {
            struct stat sb;
            unsigned long crc = 0;
            int row_end = 0;
            if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
                st = rnnlab_error(RNNLAB_ERR_CONFIG,
                                  "%s is %s, though the journal counts %ld run(s) in it (%lld bytes): the folder was "
                                  "changed by hand (put the file back, or run with --fresh to start over)",
                                  path, stat(path, &sb) != 0 ? "missing" : "not a file", j->n_done, j->sizes[i]);
            else if ((long long)sb.st_size < j->sizes[i])
                st = rnnlab_error(RNNLAB_ERR_CONFIG,
                                  "%s is shorter than its journal says (%lld bytes, not %lld): the folder was changed "
                                  "by hand. Run with --fresh to start over",
                                  path, (long long)sb.st_size, j->sizes[i]);
            else if (file_prefix_crc(path, j->sizes[i], &crc, &row_end) != 0)
                st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            else if (!row_end || (has_crc && crc != j->crcs[i])) {
                char where[160];
                locate_change(j->path, path, i, nf, where, sizeof where);
                st = rnnlab_error(RNNLAB_ERR_CONFIG,
                                  "%s was changed after the runs in the journal wrote it (its first %lld bytes, the "
                                  "header and the rows of %ld run(s), are not the ones written%s): appending would mix "
                                  "or cut rows. Run with --fresh to start over",
                                  path, j->sizes[i], j->n_done, where);
            }
            else if (j->crcs[i] = crc, j->cut[i] = (long long)sb.st_size - j->sizes[i],
                     truncate(path, (off_t)j->sizes[i]) != 0)
                st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot cut back to %lld bytes: %s", path, j->sizes[i],
                                  strerror(errno));
            fds[i] = st ? -1 : open(path, O_WRONLY | O_APPEND);
        } else {
            /* No fsync for the header alone: the first group commit's fdatasync flushes it before any
               journal line counts it, and a crash before that leaves a journal without runs, whose
               files are rewritten here on the next command. (About 2 ms a process on this project's VM.) */
            fds[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0666);
            if (fds[i] >= 0) st = write_all(fds[i], path, hdr[i].data, hdr[i].len);
            j->sizes[i] = (long long)hdr[i].len;
            j->crcs[i] = crc_more(0, hdr[i].data, hdr[i].len);
        }
        if (!st && fds[i] < 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&hdr[i]);
    if (st) return st;
    if (resume) {
        /* rewrite the journal without a torn tail: header + the done lines we accepted, in order */
        j->fd = open(j->path, O_WRONLY | O_APPEND);
        size_t keep = 0;
        char *cur = slurp(j->path, &jlen);
        if (cur) {
            const char *last_nl = strrchr(cur, '\n');
            keep = last_nl ? (size_t)(last_nl - cur) + 1 : 0;
            rnnlab_free(cur);
        }
        if (j->fd < 0 || truncate(j->path, (off_t)keep) != 0)
            return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot repair the journal: %s", j->path, strerror(errno));
    }
    return RNNLAB_OK;
}

/* Group commit: the CSV files and the journal are flushed to disk at most every sync_s seconds (1 by
 * default; and at the end of a sweep), not after every run: a W3-sized run takes 5-15 ms and its
 * four fdatasync calls 3-5 ms, all of it serial. Rows always reach the CSV files before their journal
 * lines, so a crash or kill loses at most the last sync_s seconds' runs, which the next command cuts
 * back and redoes. Flushes the CSV files, then appends the pending journal lines and
 * flushes the journal. */
static rnnlab_status journal_sync(journal *j, const int *fds, const char *dir, int nf)
{
    j->last_sync = exp_now_s();
    /* the folder deleted (or replaced) under a running sweep: its rows go to files nobody can open.
       The journal's name must still lead to the file this process writes. */
    struct stat sb, sp;
    if (fstat(j->fd, &sb) == 0 && (stat(j->path, &sp) != 0 ? errno == ENOENT || errno == ENOTDIR
                                                           : sp.st_dev != sb.st_dev || sp.st_ino != sb.st_ino)) {
        j->pending_len = 0;
        return rnnlab_error(RNNLAB_ERR_IO, "%s is no longer the journal this sweep writes (the output folder %s was "
                                           "deleted, moved or replaced while it ran): the sweep stops; the rows it wrote "
                                           "went with the folder",
                            j->path, dir);
    }
    if (!j->pending_len) return RNNLAB_OK;
#ifdef SYNC_FILE_RANGE_WRITE
    /* Starts every file's writeback before waiting on the first: the device takes them together
     * (4 files: 1.1-1.3 ms against 1.7-2.1 ms one after the other, on this project's VM). Only a
     * hint: fdatasync below is what makes them durable, so its failure is not an error. */
    for (int i = 0; i < nf; i++) (void)sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    for (int i = 0; i < nf; i++)
        if (fdatasync(fds[i]) != 0) { /* those rows may be lost: their journal lines must never be written */
            const int err = errno;
            j->pending_len = 0;
            return rnnlab_error(RNNLAB_ERR_IO, "%s/%s: fsync: %s", dir, file_names[i], strerror(err));
        }
    rnnlab_status st = write_all(j->fd, j->path, j->pending, j->pending_len);
    if (!st && fdatasync(j->fd) != 0) st = rnnlab_error(RNNLAB_ERR_IO, "%s: fsync: %s", j->path, strerror(errno));
    j->pending_len = 0;
    return st;
}

/* ---------------------------------------------------------------- interrupts */

/* Who may touch the open journal's pending lines and files: the thread committing (commit and
 * journal_sync, between sig_lock and sig_unlock) or a signal handler (rnnlab_experiment_interrupt).
 * A handler that finds a commit in progress leaves its signal in sig_pending, and the committing
 * thread flushes and raises it when it leaves. */
enum { SIG_NONE, SIG_IDLE, SIG_BUSY, SIG_HANDLER };
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "rnnlab_experiment_interrupt needs lock-free atomic int");
static _Atomic int sig_state = SIG_NONE, sig_pending;
static journal *sig_j;
static const int *sig_fds;
static int sig_nf;

/* The pending journal lines after the CSV files, with write and fdatasync alone (a handler's). */
static void sig_flush(void)
{
    journal *j = sig_j;
    for (int i = 0; i < sig_nf; i++)
        if (fdatasync(sig_fds[i]) != 0) { /* as journal_sync */
            j->pending_len = 0;
            return;
        }
    for (size_t off = 0; off < j->pending_len;) {
        const ssize_t w = write(j->fd, j->pending + off, j->pending_len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += (size_t)w;
    }
    j->pending_len = 0;
    (void)fdatasync(j->fd);
}

void rnnlab_experiment_raise(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(sig, &dfl, NULL);
    raise(sig);
}

/* 1 when it took the journal (SIG_IDLE -> SIG_BUSY), 0 when none is open (sig_open). */
static int sig_lock(void)
{
    for (int e = SIG_IDLE; !atomic_compare_exchange_weak(&sig_state, &e, SIG_BUSY); e = SIG_IDLE) {
        if (e == SIG_NONE) return 0;
        if (e == SIG_HANDLER)
            for (;;) pause(); /* a handler flushes and then ends the process */
    }
    return 1;
}

static void sig_unlock(int locked)
{
    if (!locked) return;
    atomic_store(&sig_state, SIG_IDLE);
    const int sig = atomic_exchange(&sig_pending, 0);
    int e = SIG_IDLE;
    if (sig && atomic_compare_exchange_strong(&sig_state, &e, SIG_HANDLER)) {
        sig_flush();
        rnnlab_experiment_raise(sig);
    }
}

/* From open_outputs to closing the files: j's pending lines are flushed by an interrupt. */
static void sig_open(journal *j, const int *fds, int nf)
{
    sig_j = j, sig_fds = fds, sig_nf = nf;
    atomic_store(&sig_pending, 0);
    atomic_store(&sig_state, SIG_IDLE);
}

/* After the last journal_sync: a signal that waited for it ends the process now. */
static void sig_close(void)
{
    if (!sig_lock()) return;
    atomic_store(&sig_state, SIG_NONE);
    const int sig = atomic_exchange(&sig_pending, 0);
    if (sig) rnnlab_experiment_raise(sig);
}

int rnnlab_experiment_interrupt(int sig)
{
    const int saved = errno;
    atomic_store(&sig_pending, sig);
    int e = SIG_IDLE;
    const int mine = atomic_compare_exchange_strong(&sig_state, &e, SIG_HANDLER);
    if (mine) {
        atomic_store(&sig_pending, 0);
        sig_flush();
    }
    errno = saved;
    return mine || e == SIG_NONE;
}

/* Appends a run's rows; its journal line follows with the next journal_sync. */
static rnnlab_status commit(journal *j, const int *fds, const char *dir, long id, const run_out *o, int nf)
{
    char path[PATH_MAX + 64], line[320];
    for (int i = 0; i < nf; i++) {
        path_join(path, sizeof path, dir, file_names[i]);
        rnnlab_status st = write_all(fds[i], path, o->f[i].data ? o->f[i].data : "", o->f[i].len);
        if (st) return st;
        j->sizes[i] += (long long)o->f[i].len;
        j->crcs[i] = crc_more(j->crcs[i], o->f[i].data, o->f[i].len);
    }
    done_line(line, sizeof line, id, j->sizes, j->crcs, nf);
    const size_t n = strlen(line);
    if (j->pending_len + n > j->pending_cap) {
        const size_t cap = 2 * (j->pending_len + n) + 4096;
        char *p = rnnlab_malloc(cap);
        if (!p) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
        if (j->pending_len) memcpy(p, j->pending, j->pending_len);
        rnnlab_free(j->pending);
        j->pending = p, j->pending_cap = cap;
    }
    memcpy(j->pending + j->pending_len, line, n);
    j->pending_len += n;
    j->done[id] = 1, j->n_done++;
    return exp_now_s() - j->last_sync >= j->sync_s ? journal_sync(j, fds, dir, nf) : RNNLAB_OK;
}

/* ---------------------------------------------------------------- progress */

double exp_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void exp_hms(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    const long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

typedef struct progress {
    FILE *f;
    int tty, quiet;
    double t0, last_print;
    long total, done_before, done_now;
} progress;

static void progress_update(progress *p, const char *desc, int final)
{
    if (p->quiet) return;
    const double t = exp_now_s(), el = t - p->t0;
    const long done = p->done_before + p->done_now;
    const double eta = p->done_now ? el / p->done_now * (double)(p->total - done) : -1;
    char a[32], b[32];
    exp_hms(a, sizeof a, el), exp_hms(b, sizeof b, eta);
    if (p->tty) {
        fprintf(p->f, "\r\033[K[%ld/%ld] %.60s | %s elapsed, ETA %s", done, p->total, desc, a, b);
        if (final) fputc('\n', p->f);
        fflush(p->f);
    } else if (final || t - p->last_print >= 10) { /* the first run, every 10 s, the end */
        fprintf(p->f, "rnnlab: %ld/%ld runs done (%s elapsed, ETA %s); last: %s\n", done, p->total, a, b, desc);
        fflush(p->f);
        p->last_print = t;
    }
}

/* ---------------------------------------------------------------- the sweep */

/* Runs side by side: small models gain more from one run per core than from threads inside a run. */
static int auto_jobs(const rnnlab_experiment *e, int threads)
{
    int max_h = 0;
    for (long id = 0; id < e->grid_size; id++) {
        exp_run r;
        if (!exp_resolve(e, id, &r, NULL) && r.model.hidden_size > max_h) max_h = r.model.hidden_size;
    }
    return max_h <= 128 ? threads : 1;
}

/* The threads in total and the runs side by side: an option's number, else (0) the file's, else
 * automatic; -1 (`auto`) is automatic whatever the file says. */
static void plan_threads(const rnnlab_experiment *e, const rnnlab_run_options *opt, int *threads, int *jobs)
{
    *threads = opt->threads > 0 ? opt->threads : !opt->threads && e->threads > 0 ? e->threads : rnnlab_threads_get();
    *jobs = opt->jobs > 0 ? opt->jobs : !opt->jobs && e->jobs > 0 ? e->jobs : auto_jobs(e, *threads);
    if (*jobs > *threads) *jobs = *threads;
    /* no more side by side than the shard has runs: a one-run grid runs on every thread */
    const int sk = opt->shard_n > 1 ? opt->shard_k : 0, sn = opt->shard_n > 1 ? opt->shard_n : 1;
    const long runs = sk >= 0 && sk < sn && e->grid_size > sk ? (e->grid_size - sk + sn - 1) / sn : 1;
    if (*jobs > runs) *jobs = (int)runs;
}

int rnnlab_experiment_run_threads(const rnnlab_experiment *e, const rnnlab_run_options *opt)
{
    int threads, jobs;
    plan_threads(e, opt, &threads, &jobs);
    return jobs > 1 ? 1 : threads; /* side by side, each run is one thread (no nested regions) */
}

/* --fresh: the figures an earlier run drew (figures/ *.png *.pdf *.gp *.log, figures/data/ *.dat), so that
 * none stays beside the new results looking like theirs; other files there are left alone. */
static rnnlab_status figures_clear(const char *dir)
{
    static const char *const sub[] = {"figures", "figures/data"};
    static const char *const ext[][5] = {{".png", ".pdf", ".gp", ".log", NULL}, {".dat", NULL}};
    for (int k = 0; k < 2; k++) {
        char path[PATH_MAX + 128]; /* dir holds up to PATH_MAX + 64 */
        snprintf(path, sizeof path, "%s/%s", dir, sub[k]);
        DIR *d = opendir(path);
        if (!d) {
            if (errno == ENOENT) continue;
            return rnnlab_error(RNNLAB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        }
        rnnlab_status st = RNNLAB_OK;
        for (struct dirent *de; !st && (de = readdir(d));) {
            const size_t n = strlen(de->d_name);
            int match = 0;
            for (const char *const *x = ext[k]; *x && !match; x++)
                match = n > strlen(*x) && !strcmp(de->d_name + n - strlen(*x), *x);
            char f[PATH_MAX + 400]; /* path and a name of at most 255 bytes */
            snprintf(f, sizeof f, "%s/%s", path, de->d_name);
            if (match && unlink(f) != 0 && errno != ENOENT)
                st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot remove: %s", f, strerror(errno));
        }
        closedir(d);
        if (st) return st;
    }
    return RNNLAB_OK;
}

static rnnlab_status experiment_run(rnnlab_experiment *e, const rnnlab_run_options *opt)
{
    char dir[PATH_MAX + 64], started[32], ended[32];
    const char *base = opt->out_dir ? opt->out_dir : e->out_dir;
    const int sk = opt->shard_n > 1 ? opt->shard_k : 0, sn = opt->shard_n > 1 ? opt->shard_n : 1;
    if (sk < 0 || sk >= sn) return rnnlab_error(RNNLAB_ERR_CONFIG, "shard %d/%d: need 0 <= K < N", sk, sn);
    if (!(opt->flush_s >= 0)) return rnnlab_error(RNNLAB_ERR_CONFIG, "flush interval %g s: need 0 or more", opt->flush_s);
    exp_shard_dir(dir, sizeof dir, base, sk, sn);
    int threads, jobs;
    plan_threads(e, opt, &threads, &jobs);
    rnnlab_threads_set(threads);

    journal j = {.fd = -1, .lock_fd = -1, .sync_s = opt->flush_s};
    int fds[N_FILES];
    for (int i = 0; i < N_FILES; i++) fds[i] = -1;
    /* training runs keep their checkpoints in dir and show progress per update (one run at a time) */
    snprintf(e->train.dir, sizeof e->train.dir, "%s", dir);
    e->train.progress = opt->progress ? opt->progress : stderr, e->train.quiet = opt->quiet, e->train.jobs = jobs;
    e->train.tty = isatty(fileno(e->train.progress));
    rnnlab_status st = exp_mkdirs(dir);
    if (!st) st = folder_lock(dir, &j.lock_fd);
    /* --fresh: first the journal goes (on disk), then the checkpoints, then open_outputs starts a new
       journal. A failure or crash in between leaves results without a journal, which a plain command
       refuses (it asks for --fresh): never an empty journal beside old checkpoints that a plain
       `rnnlab train` would resume from, nor an old journal whose runs' checkpoints are gone. */
    if (!st && opt->fresh) {
        char jpath[PATH_MAX + 64];
        path_join(jpath, sizeof jpath, dir, ".journal");
        if (unlink(jpath) == 0) st = exp_fsync_dir(dir);
        else if (errno != ENOENT) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot remove: %s", jpath, strerror(errno));
        if (!st) st = exp_train_clear(dir);
        if (!st) st = figures_clear(dir);
        for (int i = n_files(e); i < N_FILES && !st; i++) { /* a training sweep's files, for a plain one */
            char f[PATH_MAX + 64];
            path_join(f, sizeof f, dir, file_names[i]);
            if (unlink(f) != 0 && errno != ENOENT) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot remove: %s", f, strerror(errno));
        }
    }
    if (!st) st = open_outputs(e, dir, sk, sn, opt->fresh, &j, fds);
    if (!st) sig_open(&j, fds, n_files(e));
    for (int i = 0; i < N_FILES && !st && !opt->quiet; i++)
        if (j.cut[i] > 0)
            fprintf(opt->progress ? opt->progress : stderr,
                    "rnnlab: %s/%s: cut %lld byte(s) after the last run in the journal (rows no journal line counts: "
                    "an interrupted run's, which runs again, or text added by hand)\n",
                    dir, file_names[i], j.cut[i]);
    j.last_sync = exp_now_s(); /* the first group commit sync_s from now, not at the first run */
    long total = 0, todo = 0;
    for (long id = sk; id < e->grid_size; id += sn) total++, todo += !(j.done && j.done[id]);
    iso_time(started, sizeof started);
    /* nothing to do in a finished folder: its record (the threads, times and merge that made it)
       stays as it is */
    const int keep_manifest = !st && todo == 0 && manifest_ended(dir);
    /* the kernels of every command that made these results: a resume under others (another CPU, or
       OPENBLAS_CORETYPE) gives rows whose last bits differ from an uninterrupted run's */
    char kernels[1024] = "", before[1024];
    if (!st && j.n_done > 0) manifest_kernels(dir, kernels, sizeof kernels);
    snprintf(before, sizeof before, "%s", kernels);
    /* this command's kernels join the list only when it runs something (or starts the folder) */
    if (!st && (todo > 0 || !kernels[0]) && kernels_add(kernels, sizeof kernels, rnnlab_blas_core()) && todo > 0)
        fprintf(opt->progress ? opt->progress : stderr,
                "rnnlab: warning: OpenBLAS runs its %s kernels here, and the %ld run(s) done before ran under %s: "
                "the last bits of results differ between kernels, so these files will not be the bytes of one "
                "uninterrupted command (manifest.json names every kernel; OPENBLAS_CORETYPE chooses them)\n",
                rnnlab_blas_core(), j.n_done, before);
    if (!st && !keep_manifest) st = write_manifest(e, dir, kernels, started, NULL, threads, jobs, sk, sn, j.n_done, NULL);
    progress pg = {opt->progress ? opt->progress : stderr, 0, opt->quiet, exp_now_s(), 0, total, total - todo, 0};
    pg.tty = isatty(fileno(pg.f));
    if (!st && !opt->quiet)
        fprintf(pg.f, "rnnlab: %s: %ld run(s)%s, %ld to do, %d thread(s), %d side by side -> %s\n", e->name, total,
                sn > 1 ? " in this shard" : "", todo, threads, jobs, dir);

    /* the grid points of this shard still to do, in grid order */
    long *ids = st ? NULL : rnnlab_malloc(sizeof(long) * (size_t)(todo ? todo : 1));
    if (!st && !ids) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    long n_ids = 0;
    for (long id = sk; !st && id < e->grid_size; id += sn)
        if (!j.done[id]) ids[n_ids++] = id;
    /* Runs finish in any order but are committed in grid order, so the files have the same bytes for
       any number of jobs: a finished run waits in `ready` until every earlier one is committed, and
       its thread goes on with the next run instead of waiting (an OpenMP `ordered` would idle it). */
    run_out **ready = st ? NULL : rnnlab_calloc((size_t)(n_ids ? n_ids : 1), sizeof *ready);
    unsigned char *finished = st ? NULL : rnnlab_calloc((size_t)(n_ids ? n_ids : 1), 1);
    if (!st && (!ready || !finished)) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    rnnlab_status shared_st = st;
    char shared_err[2048] = "";
    long next = 0;
    if (!st) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs) if (jobs > 1)
        for (long k = 0; k < n_ids; k++) {
            run_out *o = rnnlab_calloc(1, sizeof *o);
            int skip;
#pragma omp atomic read
            skip = shared_st;
            if (o && !skip) do_run(e, ids[k], o);
#pragma omp critical(rnnlab_commit)
            {
                ready[k] = o, finished[k] = 1;
                for (; next < n_ids && finished[next]; next++) {
                    run_out *r = ready[next];
                    if (!shared_st) {
                        if (!r) {
                            shared_st = RNNLAB_ERR_NOMEM;
                            snprintf(shared_err, sizeof shared_err, "out of memory");
                        } else if (r->st) {
                            shared_st = r->st;
                            snprintf(shared_err, sizeof shared_err, "%s: %s", r->desc, r->err);
                        } else {
                            const int locked = sig_lock();
                            rnnlab_status cs = commit(&j, fds, dir, ids[next], r, n_files(e));
                            sig_unlock(locked);
                            if (cs) {
                                shared_st = cs;
                                snprintf(shared_err, sizeof shared_err, "%s", rnnlab_last_error());
                            } else {
                                pg.done_now++;
                                progress_update(&pg, r->desc, 0);
                            }
                        }
                    }
                    if (r)
                        for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&r->f[i]);
                    rnnlab_free(r);
                    ready[next] = NULL;
                }
            }
        }
        st = shared_st;
        if (st) rnnlab_error(st, "%s", shared_err);
    }
    rnnlab_free(ready), rnnlab_free(finished);
    rnnlab_free(ids);
    if (j.fd >= 0) { /* the runs committed so far, whether or not the sweep stopped */
        const int locked = sig_lock();
        const rnnlab_status ss = journal_sync(&j, fds, dir, n_files(e));
        sig_unlock(locked);
        if (!st) st = ss;
    }
    sig_close();
    rnnlab_free(j.pending);
    if (pg.done_now || pg.tty) progress_update(&pg, st ? "stopped" : "done", 1);
    for (int i = 0; i < N_FILES; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (j.fd >= 0) close(j.fd);
    const long n_done = j.n_done;
    rnnlab_free(j.done);
    if (!st && !keep_manifest) {
        iso_time(ended, sizeof ended);
        st = write_manifest(e, dir, kernels, started, ended, threads, jobs, sk, sn, n_done, NULL);
    }
    if (j.lock_fd >= 0) close(j.lock_fd);
    if (st) return st;
    if (sn == 1 && opt->plot && e->figures) { /* a warning even with quiet: it is not progress */
        e->figures_drawn = 1;
        if (rnnlab_plot(dir) != RNNLAB_OK)
            e->figures_drawn = 0, fprintf(pg.f, "rnnlab: warning: figures not drawn: %s\n", rnnlab_last_error());
        if (e->train.on && rnnlab_train_plot(dir) != RNNLAB_OK)
            e->figures_drawn = 0, fprintf(pg.f, "rnnlab: warning: training figures not drawn: %s\n", rnnlab_last_error());
    }
    return RNNLAB_OK;
}

rnnlab_status rnnlab_experiment_run(rnnlab_experiment *e, const rnnlab_run_options *opt)
{
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_run", e);
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_run", opt);
    rnnlab_dataset_cache(1); /* the runs share their data files (Fashion-MNIST: read once, not per run) */
    e->figures_drawn = 0;
    const rnnlab_status st = experiment_run(e, opt);
    rnnlab_dataset_cache(0);
    return st;
}

/* ---------------------------------------------------------------- merging shards */

typedef struct shard {
    char dir[PATH_MAX + 64];
    int lock_fd; /* the shard folder's .lock, held while the merge reads it (-1: not taken) */
    char *journal;
    char *files[N_FILES];
    size_t lens[N_FILES];
} shard;

/* Refuses (RNNLAB_ERR_CONFIG) a merge into a folder whose own results are not those of the shards'
 * experiment (crc, grid): another file's, or results without a journal. */
static rnnlab_status merge_target_check(const char *dir, unsigned long crc, long grid, int nf, const size_t *header_len)
{
    char path[PATH_MAX + 64];
    path_join(path, sizeof path, dir, ".journal");
    char *old = slurp(path, NULL);
    if (old) {
        journal_head oh; /* the same file, grid and kind of run: the same header sizes */
        int ok = journal_head_parse(old, &oh) && oh.crc == crc && oh.grid == grid && oh.nf == nf;
        for (int i = 0; i < nf && ok; i++) ok = oh.sizes[i] == (long long)header_len[i];
        rnnlab_free(old);
        return ok ? RNNLAB_OK
                  : rnnlab_error(RNNLAB_ERR_CONFIG, "%s holds results of another experiment file, grid or kind of run "
                                 "(rnnlab run or train) than its shards (crc32 %08lx, %ld runs); merging would replace "
                                 "them, so nothing was written. Merge the shards in a folder of their own, or move those "
                                 "results away", dir, crc, grid);
    }
    const char *stray = stray_result(dir, N_FILES); /* a training sweep's files too */
    return stray ? rnnlab_error(RNNLAB_ERR_CONFIG, "%s has results without a journal (%s); merging would replace them, "
                                "so nothing was written. Move them away first", dir, stray)
                 : RNNLAB_OK;
}

rnnlab_status rnnlab_experiment_merge(const char *dir)
{
    RNNLAB_REQUIRE_PTR("rnnlab_experiment_merge", dir);
    /* find N from the shard folders present: one split only, or the merge would pick one silently */
    int n = 0, other = 0;
    char path[PATH_MAX + 128]; /* room for a shard folder (PATH_MAX + 64) and a file name */
    for (int cand = 2; cand <= 4096 && !other; cand++) {
        snprintf(path, sizeof path, "%s/shard-0-of-%d/.journal", dir, cand);
        if (access(path, R_OK) == 0) *(n ? &other : &n) = cand;
    }
    struct stat dsb;
    if (!n && (stat(dir, &dsb) != 0 || !S_ISDIR(dsb.st_mode)))
        return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: %s", dir, stat(dir, &dsb) != 0 ? "no such folder" : "not a folder");
    if (!n) return rnnlab_error(RNNLAB_ERR_CONFIG, "%s: no shards found (expected %s/shard-0-of-N/ from rnnlab run --shard)", dir, dir);
    if (other)
        return rnnlab_error(RNNLAB_ERR_IO, "%s holds shards of two splits (shard-0-of-%d and shard-0-of-%d); merge one: move "
                            "the other's shard folders elsewhere first", dir, n, other);
    int lock_fd = -1;
    rnnlab_status st = folder_lock(dir, &lock_fd); /* the merged files go where a run could be writing */
    shard *sh = st ? NULL : rnnlab_calloc((size_t)n, sizeof *sh);
    if (!st && !sh) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    if (st) {
        if (lock_fd >= 0) close(lock_fd);
        return st;
    }
    unsigned long crc = 0;
    long grid = -1;
    size_t header_len[N_FILES] = {0};
    int nf = N_BASE_FILES;
    for (int k = 0; k < n; k++) sh[k].lock_fd = -1;
    for (int k = 0; k < n && !st; k++) {
        exp_shard_dir(sh[k].dir, sizeof sh[k].dir, dir, k, n);
        /* a shard still being written (or started again) would change under the merge */
        if (access(sh[k].dir, F_OK) == 0 && (st = folder_lock(sh[k].dir, &sh[k].lock_fd))) break;
        snprintf(path, sizeof path, "%s/.journal", sh[k].dir);
        if (!(sh[k].journal = slurp(path, NULL))) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: missing (shard %d of %d has not run)", path, k, n);
            break;
        }
        journal_head h;
        if (!journal_head_parse(sh[k].journal, &h) || h.k != k || h.n != n || (h.nf != N_BASE_FILES && h.nf != N_FILES)) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: not a journal of shard %d of %d", path, k, n);
            break;
        }
        if (k == 0) {
            crc = h.crc, grid = h.grid, nf = h.nf;
            for (int i = 0; i < nf; i++) header_len[i] = (size_t)h.sizes[i];
        } else if (h.crc != crc || h.grid != grid || h.nf != nf) {
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: comes from a different experiment file than shard 0", path);
            break;
        }
        for (int i = 0; i < nf && !st; i++) {
            snprintf(path, sizeof path, "%s/%s", sh[k].dir, file_names[i]);
            if (!(sh[k].files[i] = slurp(path, &sh[k].lens[i]))) st = rnnlab_error(RNNLAB_ERR_IO, "%s: cannot read", path);
        }
    }
    /* every run of every shard must be done: read each shard's byte ranges per run */
    long *from = NULL; /* (grid * N_FILES * 2): start and end offsets of run id in its shard's files */
    if (!st && !(from = rnnlab_calloc((size_t)grid * N_FILES * 2, sizeof *from)))
        st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    unsigned char *seen = st ? NULL : rnnlab_calloc((size_t)grid, 1);
    if (!st && !seen) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n && !st; k++) {
        long prev[N_FILES];
        unsigned long last_crc[N_FILES];
        int has_crc = 0; /* the last accepted done line's */
        for (int i = 0; i < N_FILES; i++) prev[i] = (long)header_len[i];
        const char *p = strchr(sh[k].journal, '\n');
        while (p && *++p && !st) {
            const char *e2 = strchr(p, '\n');
            if (!e2) break;
            long id;
            long long s[N_FILES];
            unsigned long c[N_FILES];
            int hc = 0;
            if (parse_done(p, &id, s, c, nf, &hc) && id >= 0 && id < grid && id % n == k) {
                has_crc = hc;
                for (int i = 0; i < nf && !st; i++) {
                    from[(id * N_FILES + i) * 2] = prev[i], from[(id * N_FILES + i) * 2 + 1] = s[i];
                    if (s[i] > (long)sh[k].lens[i] || s[i] < prev[i]) st = rnnlab_error(RNNLAB_ERR_IO, "%s: journal and files disagree", sh[k].dir);
                    else if (s[i] > 0 && sh[k].files[i][s[i] - 1] != '\n') /* a run's rows end with a row */
                        st = rnnlab_error(RNNLAB_ERR_IO, "%s/%s was changed after the shard wrote it: run %ld's rows "
                                          "do not end where its journal says. Run that shard again with --fresh",
                                          sh[k].dir, file_names[i], id);
                    prev[i] = s[i], last_crc[i] = hc ? c[i] : 0;
                }
                seen[id] = 1;
            }
            p = e2;
        }
        for (int i = 0; i < nf && !st && has_crc; i++) /* the rows written, byte for byte (done_line) */
            if (crc_more(0, sh[k].files[i], (size_t)prev[i]) != last_crc[i])
                st = rnnlab_error(RNNLAB_ERR_IO, "%s/%s was changed after the shard wrote it (its first %ld bytes are not "
                                  "the ones written). Run that shard again with --fresh", sh[k].dir, file_names[i], prev[i]);
    }
    for (long id = 0; id < grid && !st; id++)
        if (!seen[id])
            st = rnnlab_error(RNNLAB_ERR_IO, "run %ld (shard %ld of %d) is not done yet: run that shard again to finish it",
                              id, id % n, n);
    /* results already in dir are replaced only by the same experiment's (an earlier merge, or a single
       run of the same file, whose bytes the merge reproduces): anything else stays, and nothing is written */
    if (!st) st = merge_target_check(dir, crc, grid, nf, header_len);
    /* shard 0's manifest becomes the merged one: checked before anything is written */
    char *man = NULL;
    if (!st) {
        path_join(path, sizeof path, sh[0].dir, "manifest.json");
        man = slurp(path, NULL);
        if (!man || !strrchr(man, '}'))
            st = rnnlab_error(RNNLAB_ERR_IO, "%s: missing or damaged; run shard 0 again (its runs are done: it only "
                                             "writes its manifest again)", path);
    }
    rnnlab_csvbuf out[N_FILES] = {{0}};
    rnnlab_csvbuf jr = {0};
    if (!st) {
        char line[320];
        long long hs[N_FILES];
        for (int i = 0; i < N_FILES; i++) hs[i] = (long long)header_len[i];
        snprintf(line, sizeof line, "rnnlab-journal 1 crc=%08lx grid=%ld shard=0/1 sizes=", crc, grid);
        put_sizes(line, sizeof line, hs, nf, ',');
        strcat(line, "\n");
        rnnlab_csv_append(&jr, line, strlen(line));
        unsigned long oc[N_FILES];
        for (int i = 0; i < nf; i++) {
            rnnlab_csv_append(&out[i], sh[0].files[i], header_len[i]);
            oc[i] = crc_more(0, sh[0].files[i], header_len[i]);
        }
        for (long id = 0; id < grid; id++) {
            const int k = (int)(id % n);
            for (int i = 0; i < nf; i++) {
                const long a = from[(id * N_FILES + i) * 2], b = from[(id * N_FILES + i) * 2 + 1];
                rnnlab_csv_append(&out[i], sh[k].files[i] + a, (size_t)(b - a));
                oc[i] = crc_more(oc[i], sh[k].files[i] + a, (size_t)(b - a));
            }
            long long os[N_FILES];
            for (int i = 0; i < nf; i++) os[i] = (long long)out[i].len;
            done_line(line, sizeof line, id, os, oc, nf);
            rnnlab_csv_append(&jr, line, strlen(line));
        }
        /* every file is written beside its place first (a failure removes them all: nothing written);
           then the journal goes in before the CSV files, so a merge stopped between the renames
           leaves a folder that the next merge recognises as its own (the same experiment in its
           journal) and completes, and that a resume refuses (files and journal disagree) */
        int written = 0;
        for (; written <= nf && !st; written++) {
            if (written < nf && out[written].failed) st = rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory merging");
            path_join(path, sizeof path, dir, written < nf ? file_names[written] : ".journal");
            if (!st) st = written < nf ? write_tmp(path, out[written].data, out[written].len) : write_tmp(path, jr.data, jr.len);
        }
        if (st)
            for (int i = 0; i < written - 1; i++) {
                char tmp[PATH_MAX + 160];
                path_join(path, sizeof path, dir, i < nf ? file_names[i] : ".journal");
                snprintf(tmp, sizeof tmp, "%s.tmp", path);
                unlink(tmp);
            }
        for (int i = nf; i >= 0 && !st; i--) { /* i = nf: the journal, first */
            path_join(path, sizeof path, dir, i < nf ? file_names[i] : ".journal");
            st = rename_tmp(path);
        }
        /* the manifest: shard 0's (build, experiment, times), as the whole grid: shard 0/1, every run
         * done, and how many shards it came from */
        if (!st) {
            /* the kernels of every shard (shards run on different CPUs differ in the last bits) */
            char kernels[1024] = "", one[1024];
            int mixed = 0;
            for (int k = 0; k < n; k++) {
                manifest_kernels(sh[k].dir, one, sizeof one);
                mixed |= kernels_add(kernels, sizeof kernels, one);
            }
            if (mixed)
                fprintf(stderr, "rnnlab: warning: the shards' runs were made under different OpenBLAS kernels (%s): "
                        "the last bits of results differ between kernels, so the merged files are not the bytes of "
                        "one run (manifest.json names them all)\n", kernels);
            char *end = strrchr(man, '}');
            rnnlab_csvbuf mb = {0};
            *end = '\0';
            for (char *p = man; *p;) { /* one "key": value per line */
                char *nl = strchr(p, '\n');
                const size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
                if (!strncmp(p, "  \"shard\": ", 11)) {
                    APPEND_LIT(&mb, "  \"shard\": \"0/1\",\n");
                } else if (!strncmp(p, "  \"blas_kernels\": ", 18) && kernels[0]) {
                    APPEND_LIT(&mb, "  \"blas_kernels\": ");
                    json_string(&mb, kernels);
                    APPEND_LIT(&mb, ",\n");
                } else if (!strncmp(p, "  \"runs_done\": ", 15)) {
                    snprintf(line, sizeof line, "  \"runs_done\": %ld%s", grid, nl && nl[-1] == ',' ? ",\n" : "\n");
                    rnnlab_csv_append(&mb, line, strlen(line));
                } else {
                    rnnlab_csv_append(&mb, p, len);
                }
                p += len;
            }
            while (mb.len && (mb.data[mb.len - 1] == '\n' || mb.data[mb.len - 1] == ' ')) mb.len--;
            snprintf(line, sizeof line, ",\n  \"merged_from_shards\": %d\n}\n", n);
            rnnlab_csv_append(&mb, line, strlen(line));
            snprintf(path, sizeof path, "%s/manifest.json", dir);
            st = write_file_atomic(path, mb.data, mb.len);
            rnnlab_csvbuf_free(&mb);
        }
    }
    rnnlab_free(man);
    for (int i = 0; i < N_FILES; i++) rnnlab_csvbuf_free(&out[i]);
    rnnlab_csvbuf_free(&jr);
    for (int k = 0; k < n; k++) {
        if (sh[k].lock_fd >= 0) close(sh[k].lock_fd);
        rnnlab_free(sh[k].journal);
        for (int i = 0; i < N_FILES; i++) rnnlab_free(sh[k].files[i]);
    }
    rnnlab_free(sh), rnnlab_free(from), rnnlab_free(seen);
    close(lock_fd);
    return st;
}
