/*
 * rnnlab/data.h - tasks and datasets by name: the synthetic long-range tasks of the
 * vanishing-gradient literature and loaders for real data, all seeded and deterministic.
 *
 * A dataset is opened by name with string options (the [task] keys of an experiment file; each
 * task documents its own keys, and `rnnlab data list` prints them). It then hands out batches by
 * (split, index): batch i of a split is a pure function of (seed, split, i, B), so a run gets the
 * same data alone, inside a sweep, first or last, on any thread count.
 *
 * Layout of a batch, as rnnlab_bptt expects (rnnlab/bptt.h): x (T, B, I) time-major; targets
 * (B, O) when the loss is at the last step or (T, B, O) at every step; class targets (B) or (T, B);
 * lengths (B), each in [1, T], with padding after a sample's length. Padding (x, targets, classes)
 * is written as zeros; the engine never reads it, so padding never changes the loss, the gradients
 * or the taps of real steps.
 *
 * Which examples a batch holds: generators draw fresh samples from a generator seeded by (seed,
 * split, index). File-based data has a fixed number of examples per split (info.split_size): for
 * train, batch i holds positions i*B .. i*B+B-1 of an endless sequence of epochs, each epoch a
 * seeded permutation of the examples; for valid and test, positions in file order, so batches
 * 0 .. ceil(n/B)-1 cover the split once (the last one wraps around to the start).
 *
 * Losses are in the units of rnnlab/bptt.h: MSE, or nats for xent and bernoulli; info.report_bits
 * marks language modelling, where papers quote bits per character (nats / ln 2). Every task has a
 * trivial baseline (info.baseline, info.baseline_desc) that the runner reports beside the model.
 *
 * The tasks (`rnnlab data list -v` prints every option; datasets/README.md has sources, licences
 * and how to obtain each dataset):
 *
 *   adding          I=2 O=1, mse at the last step. hochreiter1997: Hochreiter & Schmidhuber 1997,
 *                   Sec. 5.4 (values U[-1,1], markers, target 0.5 + (X1+X2)/4, lengths in
 *                   [T, T+T/10]; baseline 0.0396); le2015: Le, Jaitly & Hinton 2015 Sec. 4.1 /
 *                   Arjovsky et al. 2016 Sec. 4.2 (values U[0,1], one marker per half, target the
 *                   sum; baseline 1/6). Options seq_len, variant, length.
 *   copy            I=K+2 O=K+1, xent at every step: Arjovsky, Shah & Bengio 2016 Sec. 4.1; T =
 *                   delay + 2*recall; baseline recall ln K / T = 10 ln 8 / (delay + 20). Options
 *                   delay, recall, categories.
 *   temporal_order  I=8 (6) O=4 or 8, xent at the last step: Hochreiter & Schmidhuber 1997 Exp. 6a/6b
 *                   and Pascanu, Mikolov & Bengio 2013 Sec. 4.1; baseline ln 4 or ln 8. Options
 *                   seq_len, variant, bits, length.
 *   two_sequence    I=1 O=1, mse at the last step: the 2-sequence / latch problem, Bengio, Simard &
 *                   Frasconi 1994, as Hochreiter & Schmidhuber 1997 Exp. 3a/3b/3c; baseline 0.25
 *                   (3c: 0.09). Options seq_len, info, variant, length.
 *   fashion_mnist   I=1 T=784 (mode=row: I=28 T=28) O=10, xent at the last step: sequential and
 *                   permuted pixels (Le et al. 2015 Sec. 4.2) on Fashion-MNIST (Xiao et al. 2017),
 *                   IDX files of Debian's dataset-fashion-mnist; splits 55000/5000/10000; baseline
 *                   ln 10. Options path, mode, permute, permute_seed, valid.
 *   text            I=O=V, xent at every step: character-level language modelling (Karpathy,
 *                   Johnson & Fei-Fei 2015) on any text file, byte or UTF-8 vocabulary, contiguous
 *                   split; baseline the unigram entropy. Options path (required), vocab, split,
 *                   seq_len.
 *   jsb_chorales, nottingham, musedata, piano_midi
 *                   I=O=88, bernoulli at every step: next-step prediction on the piano rolls of
 *                   Boulanger-Lewandowski, Bengio & Vincent 2012 (NLL summed over keys, Chung et al.
 *                   2014), read from the lab's CSV layout; baseline the per-key frequencies. Options
 *                   path, seq_len.
 *   csv             the user's sequences: id, time, feature and target columns chosen by name
 *                   (schema in datasets/README.md), variable length with padding, loss mse, xent or
 *                   bernoulli at the last step or every step. Options path, id_column, time_column,
 *                   features, targets, loss, loss_at, split, split_column, seq_len, classes.
 *
 * Errors of the loaders name the place: "file:line[:column]: why" for CSV and text (column = the
 * 1-based CSV field, or byte in the line for text), "file: why" for IDX and gzip. A missing data
 * file's message says what to fetch and where to put it. Loaders never crash on malformed input
 * (each has a libFuzzer target under tests/fuzz/).
 */
#ifndef RNNLAB_DATA_H
#define RNNLAB_DATA_H

#include <stdint.h>

#include "rnnlab/bptt.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_split { RNNLAB_SPLIT_TRAIN = 0, RNNLAB_SPLIT_VALID, RNNLAB_SPLIT_TEST } rnnlab_split;

/* "train", "valid", "test". */
const char *rnnlab_split_name(rnnlab_split s);

/* RNNLAB_OK for train, valid or test; RNNLAB_ERR_CONFIG "invalid split N" for any other value (check
 * before indexing by a split that came from outside). */
rnnlab_status rnnlab_split_check(rnnlab_split s);

/* One option: key and value as written, and the line it came from (0 if none) for messages. */
typedef struct rnnlab_option {
    const char *key;
    const char *value;
    int line;
} rnnlab_option;

/* What a task is, once opened with its options. */
typedef struct rnnlab_task_info {
    char name[32];             /* e.g. "adding" */
    char variant[32];          /* e.g. "hochreiter1997", or "" */
    int input_size;            /* I */
    int output_size;           /* O (classes for xent) */
    int seq_len;               /* T: the length of every batch (the longest, for variable length) */
    int variable_length;       /* 1 if samples have different lengths (batches carry lengths) */
    rnnlab_loss_kind loss;     /* the loss the task is defined with */
    rnnlab_loss_at loss_at;    /* where the loss is */
    double baseline;           /* expected loss of the trivial baseline, in the loss's units */
    char baseline_desc[160];   /* what the trivial baseline predicts */
    double success_threshold;  /* the task's own criterion (e.g. MSE below it, or |error| below it), or NAN */
    char success_desc[160];    /* the criterion in words */
    char source[200];          /* the paper or dataset it comes from */
    long split_size[3];        /* examples (sequences, windows or images) in train, valid, test; -1 for
                                  generators, which have no end */
    int report_bits;           /* 1 for language modelling: the loss is in nats per character and papers
                                  report bits per character, loss / ln 2 */
} rnnlab_task_info;

typedef struct rnnlab_dataset rnnlab_dataset;

/*
 * rnnlab_dataset_open - opens task or dataset `name` with its options.
 *
 * Memory:  *out is owned by the caller (rnnlab_dataset_close). File-based datasets are read here,
 *          whole (Fashion-MNIST: about 55 MB and half a second; MuseData about a second), so open
 *          one once per run, not per batch.
 * Options: opts[0..n_opts-1] (opts may be NULL when n_opts is 0), keys and values not NULL; a key
 *          given twice counts with its last value, so a caller may append overrides.
 * Errors:  RNNLAB_ERR_CONFIG for an unknown name, an unknown option or a bad value: the message is
 *          "key: why" and *bad_option (if not NULL) is the index of the option at fault, else -1;
 *          RNNLAB_ERR_IO for a missing or malformed file ("file:line[:column]: why", and for a missing
 *          file what to fetch and where to put it); RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_dataset_open(rnnlab_dataset **out, const char *name, const rnnlab_option *opts, int n_opts,
                                  uint64_t seed, int *bad_option);
void rnnlab_dataset_close(rnnlab_dataset *ds);

/*
 * rnnlab_dataset_cache - shares file reads among datasets. rnnlab_dataset_cache(1) turns sharing on:
 * until the matching rnnlab_dataset_cache(0), what rnnlab_dataset_open makes of a file (the bytes
 * of Fashion-MNIST's IDX images and labels, the parsed piano rolls of the music datasets, the text
 * task's encoded characters per vocabulary kind; up to 16 such) is kept after its dataset closes,
 * and every dataset opened on the same file shares that one read-only copy: a sweep decompresses
 * Fashion-MNIST's 55 MB, or parses MuseData's CSV, once instead of once per run. The files must
 * not change while sharing is on
 * (they are not read again). Calls nest; the last rnnlab_dataset_cache(0) frees the kept files no
 * open dataset uses (the others when their datasets close). Thread-safe in OpenMP builds (an OpenMP
 * critical section; a NO_OMP=1 build must call it and open datasets from one thread).
 * rnnlab_experiment_run turns it on for the length of a sweep, and `rnnlab run` from loading the
 * experiment file (which opens each task once to check it) to the end.
 */
void rnnlab_dataset_cache(int on);

/* The open dataset's shapes and kinds (I, O, T, loss, split sizes, ...). The pointer is owned by ds
 * and valid until rnnlab_dataset_close(ds); ds must not be NULL. */
const rnnlab_task_info *rnnlab_dataset_info(const rnnlab_dataset *ds);

/*
 * rnnlab_dataset_batch - writes batch `index` of `split` with B samples.
 *
 * Shapes:  x (T, B, I); target (B, O) or (T, B, O) for mse/bernoulli tasks (NULL allowed for xent
 *          tasks); target_class (B) or (T, B) for xent tasks (NULL allowed otherwise); lengths (B),
 *          always written (T for fixed-length tasks). Padding is written as zeros.
 * Memory:  allocates nothing; reads the dataset only, so several threads may draw batches from one
 *          dataset at once.
 * Errors:  RNNLAB_ERR_CONFIG for B < 1, index < 0, a NULL x or lengths, a NULL target_class for
 *          an xent task or a NULL target for the others, or a split the dataset does not have (an
 *          empty split of file-based data: "split valid of task X is empty").
 */
rnnlab_status rnnlab_dataset_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x,
                                   double *target, int *target_class, int *lengths);

/*
 * rnnlab_dataset_show - a human-readable rendering of the first n samples of batch 0 of `split`
 * (ASCII art for images, characters for text, markers and values for the synthetic tasks, the
 * piano roll for music), with their targets. For `rnnlab data show`.
 *
 * Memory:  *text is NUL-terminated, allocated with rnnlab_malloc; the caller frees it with
 *          rnnlab_free.
 * Errors:  as rnnlab_dataset_batch; RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_dataset_show(rnnlab_dataset *ds, rnnlab_split split, int n, char **text);

/*
 * rnnlab_dataset_show_batch - the same rendering of the first n (at most B) samples of batch `index`
 * of B samples of `split`: the batch rnnlab_dataset_batch(ds, split, index, B, ...) gives. Training
 * update s of a run (1-based) trains on batch s - 1 of the training split at the run's [task] batch,
 * from the dataset opened with the run's data seed (summary.csv's data_seed).
 *
 * Memory:  as rnnlab_dataset_show.
 * Errors:  RNNLAB_ERR_CONFIG for index < 0, B < 1 or n < 1; as rnnlab_dataset_batch; RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_dataset_show_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, int n, char **text);

/* ---------------------------------------------------------------- the registry */

/* Number of known tasks and datasets, and the i-th's name, one-line summary and its options'
 * documentation (multi-line text). Never NULL for 0 <= i < count. */
int rnnlab_task_count(void);
const char *rnnlab_task_name(int i);
const char *rnnlab_task_summary(int i);
const char *rnnlab_task_options_doc(int i);

/* Index of task `name`, or -1. */
int rnnlab_task_find(const char *name);

/* The i-th task's sizes ("I=2 O=1 T=seq_len"), examples per split ("55000/5000/10000 images" or
 * "unlimited (generated)"), and source with licence. Never NULL for 0 <= i < count. */
const char *rnnlab_task_shape(int i);
const char *rnnlab_task_size(int i);
const char *rnnlab_task_source(int i);

/* The file or directory the i-th task reads when no `path` option is given, or NULL (generators,
 * and loaders whose `path` is required). */
const char *rnnlab_task_data_path(int i);

/* 1 if the i-th task's default data is there, 0 if it is missing, -1 if it needs none (generators)
 * or reads only the user's file (`path` required). Checks that the file or directory exists. */
int rnnlab_task_installed(int i);

#ifdef __cplusplus
}
#endif
#endif
