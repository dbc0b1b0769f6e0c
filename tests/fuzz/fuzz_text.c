/*
 * fuzz_text.c - libFuzzer target for the character-level text loader (src/data/text.c): the input
 * is the text file (plain or gzip), opened with a byte and with a UTF-8 vocabulary.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size);
    const rnnlab_option bytes[] = {{"path", path, 0}, {"seq_len", "3", 0}, {"split", "0.6,0.2,0.2", 0}};
    fuzz_open_and_use("text", bytes, 3);
    const rnnlab_option utf8[] = {{"path", path, 0}, {"seq_len", "2", 0}, {"vocab", "utf8", 0},
                                  {"split", "1,0,0", 0}};
    fuzz_open_and_use("text", utf8, 4);
    return 0;
}
