/*
 * fuzz_idx.c - libFuzzer target for the IDX reader (src/data/idx.c): the input is one IDX file,
 * gzip-compressed or plain, read as 28x28 images, as labels, and as images of any size.
 */
#include "data/data_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size);
    static const long item[2] = {28, 28};
    rnnlab_idx idx;
    if (rnnlab_idx_read(path, NULL, 3, item, &idx) == RNNLAB_OK) {
        if (idx.item_bytes != 784) abort();
        unsigned sum = 0; /* touch every byte the reader promises */
        for (size_t i = 0; i < (size_t)idx.dims[0] * idx.item_bytes; i++) sum += idx.data[i];
        if (sum > 255u * (size_t)idx.dims[0] * 784) abort();
        rnnlab_idx_deinit(&idx);
    }
    volatile unsigned char last;
    if (rnnlab_idx_read(path, NULL, 3, NULL, &idx) == RNNLAB_OK) {
        last = idx.data[(size_t)idx.dims[0] * idx.item_bytes - 1];
        rnnlab_idx_deinit(&idx);
    }
    if (rnnlab_idx_read(path, NULL, 1, NULL, &idx) == RNNLAB_OK) {
        last = idx.data[idx.dims[0] - 1];
        rnnlab_idx_deinit(&idx);
    }
    (void)last;
    return 0;
}
