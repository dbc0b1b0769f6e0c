/*
 * fuzz_common.h - what the libFuzzer targets share: the fuzz input written to one temporary file
 * (the loaders read files, through zlib), and a run of every split's first batch and the textual
 * rendering once a dataset opens, so that the batch code sees whatever the loader accepted.
 *
 * Built only by `make fuzz` (clang -fsanitize=fuzzer,address); see tests/fuzz/README.md.
 */
#ifndef RNNLAB_FUZZ_COMMON_H
#define RNNLAB_FUZZ_COMMON_H

#include "rnnlab/data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The path of this process's input file, rewritten with the bytes of each input. */
static inline const char *fuzz_write(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/rnnlab-fuzz-XXXXXX");
        const int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

/* Opens task `name` with the options; when it opens, draws batch 0 and 1 of every non-empty split
 * (B = 3) and the rendering of `rnnlab data show`. Loader errors are fine; crashes, leaks and
 * out-of-bounds accesses are what the fuzzer looks for. */
static inline void fuzz_open_and_use(const char *name, const rnnlab_option *opts, int n)
{
    rnnlab_dataset *ds = NULL;
    if (rnnlab_dataset_open(&ds, name, opts, n, 7, NULL) != RNNLAB_OK) return;
    const rnnlab_task_info *in = rnnlab_dataset_info(ds);
    const size_t T = (size_t)in->seq_len, B = 3;
    double *x = malloc(sizeof(double) * T * B * (size_t)in->input_size);
    double *y = malloc(sizeof(double) * T * B * (size_t)in->output_size);
    int *cls = malloc(sizeof(int) * T * B), len[3];
    if (!x || !y || !cls) abort();
    for (int s = 0; s < 3; s++) {
        if (in->split_size[s] == 0) continue;
        for (long i = 0; i < 2; i++)
            if (rnnlab_dataset_batch(ds, (rnnlab_split)s, i, (int)B, x, y, cls, len) != RNNLAB_OK) abort();
        for (size_t b = 0; b < B; b++)
            if (len[b] < 1 || (size_t)len[b] > T) abort();
    }
    char *text = NULL;
    if (in->split_size[0] != 0 && rnnlab_dataset_show(ds, RNNLAB_SPLIT_TRAIN, 2, &text) != RNNLAB_OK) abort();
    rnnlab_free(text);
    free(x), free(y), free(cls);
    rnnlab_dataset_close(ds);
}

#endif
