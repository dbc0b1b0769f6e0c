/*
 * fuzz_music.c - libFuzzer target for the piano-roll loader (src/data/music.c): the input is a
 * seq,t,p21..p108,split CSV (plain or gzip), opened as whole pieces and as windows of 3 steps.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size);
    const rnnlab_option whole[] = {{"path", path, 0}};
    fuzz_open_and_use("jsb_chorales", whole, 1);
    const rnnlab_option win[] = {{"path", path, 0}, {"seq_len", "3", 0}};
    fuzz_open_and_use("nottingham", win, 2);
    return 0;
}
