/*
 * fuzz_csv.c - libFuzzer target for the user-CSV loader (task "csv", src/data/csv.c, on libcsv
 * through src/data/io.c): the input is the CSV file (plain or gzip), opened with a regression and
 * a classification schema.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(data, size);
    const rnnlab_option reg[] = {{"path", path, 0}, {"features", "a,b", 0}, {"targets", "y", 0},
                                 {"split", "0.5,0.25,0.25", 0}};
    fuzz_open_and_use("csv", reg, 4);
    const rnnlab_option cls[] = {{"path", path, 0},         {"features", "a", 0},    {"targets", "y", 0},
                                 {"loss", "xent", 0},       {"loss_at", "all", 0},   {"seq_len", "2", 0},
                                 {"split_column", "split", 0}};
    fuzz_open_and_use("csv", cls, 7);
    return 0;
}
