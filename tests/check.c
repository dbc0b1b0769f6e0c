/*
 * check.c - the double comparison helpers, shared-data lookup, temporary files, CLI runs, models,
 * datasets and batches of the tests.
 */
#include "check.h"

#include "rnnlab/init.h"
#include "rnnlab/rng.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

int check_close(const char *name, const double *a, const double *b, size_t n, double atol, double rtol)
{
    size_t first = n;
    double maxd = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        /* equal values pass (infinities included); otherwise both must be finite and close; NaN fails */
        const int ok = a[i] == b[i] ||
                       (isfinite(a[i]) && isfinite(b[i]) && d <= atol + rtol * fmax(fabs(a[i]), fabs(b[i])));
        if (!(d <= maxd)) maxd = d;
        if (!ok && first == n) first = i;
    }
    if (first == n) return 1;
    fprintf(stderr, "%s: first bad index %zu: %.17g vs %.17g, max difference %.3g (atol %g, rtol %g)\n", name, first,
            a[first], b[first], maxd, atol, rtol);
    return 0;
}

int check_close1(const char *name, double a, double b, double atol, double rtol)
{
    return check_close(name, &a, &b, 1, atol, rtol);
}

int check_same_bytes(const char *name, const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) {
            fprintf(stderr, "%s: bytes differ first at byte %zu of %zu\n", name, i, n);
            return 0;
        }
    return 1;
}

const char *check_shared_path(const char *sub)
{
    static char buf[4096];
    const char *root = getenv("RNNLAB_SHARED");
    if (!root || !*root) root = "../shared";
    snprintf(buf, sizeof buf, "%s/%s", root, sub);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

const char *check_tmpdir(void)
{
    static char buf[4096];
    if (buf[0]) return buf;
    const char *t = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/rnnlab-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}

void check_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

const char *check_tmp_path(const char *name)
{
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", check_tmpdir(), name);
    return buf[k];
}

char *check_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    b[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return b;
}

int check_file_has(const char *path, const char *want)
{
    char *text = check_slurp(path, NULL);
    const int has = text && strstr(text, want) != NULL;
    if (!has) fprintf(stderr, "%s does not hold '%s'; it holds:\n%.2000s\n", path, want, text ? text : "(nothing: cannot read it)");
    free(text);
    return has;
}

int check_same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = check_slurp(a, &na), *y = check_slurp(b, &nb);
    const int same = x && y && na == nb && memcmp(x, y, na) == 0;
    if (!same) fprintf(stderr, "files differ: %s (%zu bytes) and %s (%zu bytes)\n", a, na, b, nb);
    free(x), free(y);
    return same;
}

int check_same_files(const char *a, const char *b, const char *const *names)
{
    int ok = 1;
    for (int i = 0; names[i]; i++) {
        char pa[4400], pb[4400];
        snprintf(pa, sizeof pa, "%s/%s", a, names[i]), snprintf(pb, sizeof pb, "%s/%s", b, names[i]);
        ok &= check_same_file(pa, pb);
    }
    return ok;
}

pid_t check_spawn_cli(const char *log, const char *const *args)
{
    const char *bin = getenv("RNNLAB_BIN");
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        const char *argv[32];
        int n = 0;
        argv[n++] = bin;
        for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

int check_run_cli(const char *log, const char *const *args)
{
    const pid_t pid = check_spawn_cli(log, args);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

void check_need_cli(void)
{
    const char *bin = getenv("RNNLAB_BIN");
    if (bin && access(bin, X_OK) == 0) return;
    fprintf(stderr, "SKIP: set RNNLAB_BIN to the rnnlab binary (make test does)\n");
    skip();
}

void check_fill_uniform(double *v, size_t n, uint64_t seed)
{
    rnnlab_rng r;
    rnnlab_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) v[i] = 2 * rnnlab_rng_uniform(&r) - 1;
}

rnnlab_model *check_model(const rnnlab_model_config *c, uint64_t seed)
{
    rnnlab_model *m = NULL;
    assert_int_equal(rnnlab_model_create(&m, c), RNNLAB_OK);
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, seed);
    assert_int_equal(rnnlab_model_init(m, &ic, &rng), RNNLAB_OK);
    return m;
}

rnnlab_dataset *check_dataset_open(const char *name, const rnnlab_option *o, int n, uint64_t seed)
{
    rnnlab_dataset *ds = NULL;
    const rnnlab_status st = rnnlab_dataset_open(&ds, name, o, n, seed, NULL);
    if (st) fprintf(stderr, "open %s: %s\n", name, rnnlab_last_error());
    assert_int_equal(st, RNNLAB_OK);
    return ds;
}

check_batch check_batch_get(rnnlab_dataset *ds, rnnlab_split split, long index, int B)
{
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    check_batch b = {in->seq_len, B, in->input_size, in->output_size, NULL, NULL, NULL, NULL};
    b.x = malloc(sizeof(double) * b.T * B * b.I);
    b.y = malloc(sizeof(double) * b.T * B * b.O);
    b.cls = malloc(sizeof(int) * b.T * B);
    b.len = malloc(sizeof(int) * B);
    assert_int_equal(rnnlab_dataset_batch(ds, split, index, B, b.x, b.y, b.cls, b.len), RNNLAB_OK);
    return b;
}

void check_batch_free(check_batch *b) { free(b->x), free(b->y), free(b->cls), free(b->len); }

double check_batch_x(const check_batch *b, int t, int s, int i) { return b->x[((size_t)t * b->B + s) * b->I + i]; }

void check_write_bytes(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb9");
        assert_non_null(f);
        if (n) assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
    }
}

void check_put_u32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

void check_write_idx_pair(const char *dir, const char *prefix, int n, int f)
{
    char path[4300];
    const size_t isz = 16 + (size_t)n * 784;
    unsigned char *img = malloc(isz), *lab = malloc(8 + (size_t)n);
    assert_true(img && lab);
    check_put_u32(img, 0x803), check_put_u32(img + 4, (unsigned)n), check_put_u32(img + 8, 28), check_put_u32(img + 12, 28);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 784; p++) img[16 + (size_t)i * 784 + p] = (unsigned char)((i * 31 + p) % 256);
    check_put_u32(lab, 0x801), check_put_u32(lab + 4, (unsigned)n);
    for (int i = 0; i < n; i++) lab[8 + i] = (unsigned char)((i + f) % 10);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    check_write_bytes(path, img, isz, 1);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    check_write_bytes(path, lab, 8 + (size_t)n, 1);
    free(img), free(lab);
}
