/*
 * tasks.c - the synthetic long-range tasks of the vanishing-gradient literature, each citing its
 * source: the adding problem (two forms), copy memory, temporal order (two forms), and the
 * 2-sequence (latch) problem.
 *
 * Not here: anything read from a file (idx.c, text.c, music.c, csv.c).
 *
 * Each sample is drawn from the batch's generator (dataset.c: seeded by (seed, split, index)) in
 * sample order b = 0..B-1, so batches are reproducible. Dimensions: T steps (the batch length), B
 * batch, I inputs, O outputs. Every task states its trivial baseline: the expected loss of the
 * best predictor that ignores the long-range information, which the runner reports beside the
 * model's score.
 */
#include "data/data_internal.h"
#include "rnnlab/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ================================================================ adding problem
 *
 * hochreiter1997 (Hochreiter & Schmidhuber 1997, Section 5.4, Experiment 4): each step is a pair
 * (value, marker); values U[-1, 1]. Two pairs are marked 1.0: one among the first 10, one among the
 * first T/2 - 1 still unmarked. The markers of the first and last pair are -1 unless marked; if the
 * first pair is marked its value counts as 0 (X1 = 0). Target at the end: 0.5 + (X1 + X2) / 4.
 * Lengths are drawn uniformly from [T, T + T/10] ("length = variable", the paper's setting) or are
 * all T ("length = fixed", for decay probes that need the loss at one step). A sequence is solved
 * when |error| < 0.04. Trivial baseline: always predict 0.5, expected MSE
 *     E[((X1 + X2)/4)^2] = (E[X1^2] + E[X2^2]) / 16 = (0.9 * 1/3 + 1/3) / 16 = 0.0395833...
 * (X1 is 0 with probability 1/10; the values have variance 1/3).
 *
 * le2015 (Le, Jaitly & Hinton 2015, Section 4.1; placement as in Arjovsky, Shah & Bengio 2016,
 * Section 4.2): values U[0, 1]; one marker 1.0 uniformly in the first half and one in the second half;
 * target the sum of the two marked values; fixed length T. Trivial baseline: always predict 1,
 * expected MSE Var(X1 + X2) = 2/12 = 0.1667.
 */

enum { ADD_HS1997 = 0, ADD_LE2015 };

typedef struct adding_state {
    int variant;
    int variable;
    int T0; /* the T of the options: lengths in [T0, T0 + T0/10] */
} adding_state;

static const char *const adding_keys[] = {"seq_len", "variant", "length", NULL};

static rnnlab_status adding_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const variants[] = {"hochreiter1997", "le2015", NULL}, *const lengths[] = {"variable", "fixed", NULL};
    long T = -1;
    int variant = ADD_HS1997, length = 0;
    rnnlab_status st;
    if ((st = rnnlab_opt_int(opts, n, "seq_len", 2, 1 << 20, &T, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "variant", variants, &variant, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "length", lengths, &length, bad))) return st;
    if (T < 0) return rnnlab_error(RNNLAB_ERR_CONFIG, "seq_len: the adding problem needs seq_len (the length T)");
    if (variant == ADD_HS1997 && T < 24) {
        *bad = rnnlab_opt_find(opts, n, "seq_len");
        return rnnlab_error(RNNLAB_ERR_CONFIG,
                            "seq_len: the hochreiter1997 adding problem needs T >= 24 (a marker among the first 10 "
                            "and one among the first T/2 - 1), got %ld",
                            T);
    }
    if (variant == ADD_LE2015 && rnnlab_opt_find(opts, n, "length") >= 0 && length == 0) {
        *bad = rnnlab_opt_find(opts, n, "length");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "length: the le2015 adding problem has fixed length only");
    }
    adding_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    s->variant = variant;
    s->variable = variant == ADD_HS1997 && length == 0;
    s->T0 = (int)T;
    ds->state = s;
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "%s", variants[variant]);
    in->input_size = 2, in->output_size = 1;
    in->seq_len = s->variable ? (int)(T + T / 10) : (int)T;
    in->variable_length = s->variable;
    in->loss = RNNLAB_LOSS_MSE, in->loss_at = RNNLAB_LOSS_LAST;
    if (variant == ADD_HS1997) {
        in->baseline = (0.9 / 3 + 1.0 / 3) / 16;
        snprintf(in->baseline_desc, sizeof in->baseline_desc, "always predict 0.5: MSE (0.9/3 + 1/3)/16 = 0.0396");
        in->success_threshold = 0.04;
        snprintf(in->success_desc, sizeof in->success_desc, "|error| < 0.04 at the sequence end (per sample)");
        snprintf(in->source, sizeof in->source, "Hochreiter & Schmidhuber 1997, Long Short-Term Memory, Section 5.4");
    } else {
        in->baseline = 2.0 / 12;
        snprintf(in->baseline_desc, sizeof in->baseline_desc, "always predict 1: MSE Var(X1 + X2) = 1/6 = 0.1667");
        in->success_threshold = NAN;
        snprintf(in->success_desc, sizeof in->success_desc, "MSE well below the baseline 0.1667");
        snprintf(in->source, sizeof in->source,
                 "Le, Jaitly & Hinton 2015, Section 4.1; Arjovsky, Shah & Bengio 2016, Section 4.2");
    }
    return RNNLAB_OK;
}

static rnnlab_status adding_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                                  int *target_class, int *lengths)
{
    (void)target_class;
    const adding_state *s = ds->state;
    const int T = ds->info.seq_len, T0 = s->T0;
    rnnlab_rng rng;
    rnnlab_data_batch_rng(ds, split, index, &rng);
    memset(x, 0, sizeof(double) * (size_t)T * B * 2);
    for (int b = 0; b < B; b++) {
        const int len = s->variable ? T0 + (int)rnnlab_rng_below(&rng, (uint64_t)(T0 / 10 + 1)) : T;
        lengths[b] = len;
        int m1, m2; /* the marked steps; step t's (value, marker) is x[(t*B + b)*2 + {0, 1}] */
        if (s->variant == ADD_HS1997) {
            for (int t = 0; t < len; t++) x[((size_t)t * B + b) * 2] = 2 * rnnlab_rng_uniform(&rng) - 1;
            m1 = (int)rnnlab_rng_below(&rng, 10);
            const int n2 = T0 / 2 - 1; /* among the first T/2 - 1 pairs, m1 excluded */
            m2 = (int)rnnlab_rng_below(&rng, (uint64_t)(n2 - 1));
            if (m2 >= m1) m2++;
            x[(size_t)b * 2 + 1] = -1;                           /* first pair */
            x[((size_t)(len - 1) * B + b) * 2 + 1] = -1;         /* last pair */
            if (m1 == 0) x[(size_t)b * 2] = 0;                   /* X1 = 0 when the first pair is marked */
        } else {
            for (int t = 0; t < len; t++) x[((size_t)t * B + b) * 2] = rnnlab_rng_uniform(&rng);
            m1 = (int)rnnlab_rng_below(&rng, (uint64_t)(len / 2));
            m2 = len / 2 + (int)rnnlab_rng_below(&rng, (uint64_t)(len - len / 2));
        }
        x[((size_t)m1 * B + b) * 2 + 1] = 1;
        x[((size_t)m2 * B + b) * 2 + 1] = 1;
        const double X1 = x[((size_t)m1 * B + b) * 2], X2 = x[((size_t)m2 * B + b) * 2];
        target[b] = s->variant == ADD_HS1997 ? 0.5 + (X1 + X2) / 4 : X1 + X2;
    }
    return RNNLAB_OK;
}

static void free_state(rnnlab_dataset *ds) { rnnlab_free(ds->state); }

/* The two marked steps, their values and the target, then the first and last steps. */
static rnnlab_status adding_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                 const double *target, const int *target_class, const int *lengths)
{
    (void)ds, (void)target_class;
    const int len = lengths[b];
    rnnlab_status st = rnnlab_buf_printf(out, "  length %d; marked steps:", len);
    for (int t = 0; t < len && !st; t++)
        if (x[((size_t)t * B + b) * 2 + 1] == 1.0)
            st = rnnlab_buf_printf(out, " t=%d (value %.4f)", t, x[((size_t)t * B + b) * 2]);
    if (!st) st = rnnlab_buf_printf(out, "; target %.6f\n  (value, marker) by step:", target[b]);
    for (int t = 0; t < len && !st; t++) {
        if (t == 6 && len > 12) {
            st = rnnlab_buf_printf(out, " ...");
            t = len - 6;
        }
        st = rnnlab_buf_printf(out, " (%.2f,%g)", x[((size_t)t * B + b) * 2], x[((size_t)t * B + b) * 2 + 1]);
    }
    if (!st) st = rnnlab_buf_printf(out, "\n");
    return st;
}

const rnnlab_task_def rnnlab_task_adding = {
    .name = "adding",
    .summary = "the adding problem (Hochreiter & Schmidhuber 1997 Sec. 5.4; Le et al. 2015 / Arjovsky et al. 2016)",
    .options_doc = "seq_len = T          sequence length (required; >= 24 for hochreiter1997)\n"
                   "variant = hochreiter1997 | le2015   values in [-1,1], target 0.5+(X1+X2)/4 | values in [0,1], "
                   "target X1+X2 (default hochreiter1997)\n"
                   "length = variable | fixed   hochreiter1997 lengths uniform in [T, T+T/10] or all T (default "
                   "variable)\n",
    .keys = adding_keys,
    .open = adding_open,
    .batch = adding_batch,
    .close = free_state,
    .show = adding_show,
    .shape = "I=2 O=1 T=seq_len (hochreiter1997 variable: up to seq_len + seq_len/10)",
    .size = "unlimited (generated)",
    .source = "Hochreiter & Schmidhuber 1997 Sec. 5.4; Le, Jaitly & Hinton 2015 Sec. 4.1; Arjovsky et al. 2016 Sec. 4.2",
};

/* One-hot helper: x[t, b, :] = e_k (the rest of the row is already zero). */
static void one_hot(double *x, int t, int b, int B, int I, int k) { x[((size_t)t * B + b) * I + k] = 1.0; }

/* The index of the 1 in x[t, b, :] (or -1 for an all-zero row). */
static int hot_index(const double *x, int t, int b, int B, int I)
{
    for (int k = 0; k < I; k++)
        if (x[((size_t)t * B + b) * I + k] != 0) return k;
    return -1;
}

/* ================================================================ copy memory
 *
 * Arjovsky, Shah & Bengio 2016, Section 4.1 (after Hochreiter & Schmidhuber 1997): an alphabet of
 * K + 2 symbols, one-hot: 0 the blank, 1..K the data categories (K = 8), K + 1 the delimiter.
 * Input, of length delay + 2*recall (the paper: T + 20 with recall = 10): `recall` symbols drawn
 * uniformly from the K categories, delay - 1 blanks, the delimiter, `recall` blanks. Target class
 * at every step (cross-entropy averaged over steps): the blank for the first delay + recall steps,
 * then the `recall` symbols in their order. O = K + 1 (the delimiter is never a target).
 * Trivial baseline: predict the blank until the delimiter has passed, then uniform over the K
 * categories: cross-entropy recall * ln K / (delay + 2*recall) = 10 ln 8 / (T + 20).
 */

typedef struct copy_state {
    int delay, recall, K;
} copy_state;

static const char *const copy_keys[] = {"delay", "recall", "categories", NULL};

static rnnlab_status copy_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    long delay = -1, recall = 10, K = 8;
    rnnlab_status st;
    if ((st = rnnlab_opt_int(opts, n, "delay", 1, 1 << 20, &delay, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "recall", 1, 1 << 16, &recall, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "categories", 2, 1 << 10, &K, bad))) return st;
    if (delay < 0)
        return rnnlab_error(RNNLAB_ERR_CONFIG, "delay: the copy task needs delay (the T of Arjovsky et al.: the "
                                               "blanks between the symbols and their recall)");
    copy_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    s->delay = (int)delay, s->recall = (int)recall, s->K = (int)K;
    ds->state = s;
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "arjovsky2016");
    in->input_size = (int)K + 2, in->output_size = (int)K + 1;
    in->seq_len = (int)(delay + 2 * recall);
    in->loss = RNNLAB_LOSS_XENT, in->loss_at = RNNLAB_LOSS_ALL;
    in->baseline = (double)recall * log((double)K) / (double)in->seq_len;
    snprintf(in->baseline_desc, sizeof in->baseline_desc,
             "blank until the delimiter, then uniform over the %ld categories: %ld ln %ld / %d = %.6g nats", K, recall,
             K, in->seq_len, in->baseline);
    snprintf(in->success_desc, sizeof in->success_desc, "cross-entropy well below the baseline (0 is a perfect copy)");
    snprintf(in->source, sizeof in->source, "Arjovsky, Shah & Bengio 2016, Section 4.1 (copying memory problem)");
    return RNNLAB_OK;
}

static rnnlab_status copy_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x, double *target,
                                int *target_class, int *lengths)
{
    (void)target;
    const copy_state *s = ds->state;
    const int T = ds->info.seq_len, I = ds->info.input_size, R = s->recall;
    rnnlab_rng rng;
    rnnlab_data_batch_rng(ds, split, index, &rng);
    memset(x, 0, sizeof(double) * (size_t)T * B * I);
    for (int b = 0; b < B; b++) {
        lengths[b] = T;
        for (int t = 0; t < T; t++) {
            int in_sym = 0, out_sym = 0;
            if (t < R) in_sym = 1 + (int)rnnlab_rng_below(&rng, (uint64_t)s->K);
            else if (t == R + s->delay - 1) in_sym = s->K + 1;
            if (t >= s->delay + R) out_sym = hot_index(x, t - s->delay - R, b, B, I);
            one_hot(x, t, b, B, I, in_sym);
            if (target_class) target_class[(size_t)t * B + b] = out_sym;
        }
    }
    return RNNLAB_OK;
}

/* Symbols as characters: blank '_', categories '1'..'9' then 'a'.., delimiter ':'. */
static char copy_char(int k, int K)
{
    if (k == 0) return '_';
    if (k == K + 1) return ':';
    return k <= 9 ? (char)('0' + k) : k <= 35 ? (char)('a' + k - 10) : '?';
}

static rnnlab_status copy_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                               const double *target, const int *target_class, const int *lengths)
{
    (void)target;
    const copy_state *s = ds->state;
    const int T = lengths[b], I = ds->info.input_size;
    rnnlab_status st = rnnlab_buf_printf(out, "  input  ");
    for (int t = 0; t < T && !st; t++) st = rnnlab_buf_printf(out, "%c", copy_char(hot_index(x, t, b, B, I), s->K));
    if (!st) st = rnnlab_buf_printf(out, "\n  target ");
    for (int t = 0; t < T && !st; t++) st = rnnlab_buf_printf(out, "%c", copy_char(target_class[(size_t)t * B + b], s->K));
    if (!st) st = rnnlab_buf_printf(out, "\n  (_ blank, : delimiter)\n");
    return st;
}

const rnnlab_task_def rnnlab_task_copy = {
    .name = "copy",
    .summary = "copy memory: recall 10 symbols after a delay (Arjovsky, Shah & Bengio 2016 Sec. 4.1)",
    .options_doc = "delay = T            blanks between the symbols and the delimiter + 1, the paper's T (required)\n"
                   "recall = N           symbols to copy (default 10)\n"
                   "categories = K       data categories (default 8)\n",
    .keys = copy_keys,
    .shape = "I=K+2 O=K+1 T=delay+2*recall (K = categories: I=10 O=9 T=delay+20 by default)",
    .size = "unlimited (generated)",
    .source = "Arjovsky, Shah & Bengio 2016, Unitary Evolution RNNs, Section 4.1",
    .open = copy_open,
    .batch = copy_batch,
    .close = free_state,
    .show = copy_show,
};

/* ================================================================ temporal order
 *
 * hochreiter1997 (Hochreiter & Schmidhuber 1997, Section 5.6, Experiment 6a with bits = 2, 6b with
 * bits = 3): symbols E, B, a, b, c, d, X, Y (one-hot, I = 8). A sequence of length L, drawn
 * uniformly from [T, T + T/10] (length = variable, the paper's setting with T = 100) or L = T
 * (length = fixed), starts with E and ends with B; the relevant symbols X or Y sit at (1-based)
 * positions t1 in [T/10, 2T/10] and t2 in [5T/10, 6T/10] (6a), or t1 in [T/10, 2T/10], t2 in
 * [33T/100, 43T/100], t3 in [66T/100, 76T/100] (6b); T = 100 gives the paper's [10, 20], [50, 60] and
 * [10, 20], [33, 43], [66, 76]. Every other step is one of a, b, c, d. The class is the order of
 * the relevant symbols read as a binary number, X = 0, Y = 1, first symbol most significant:
 * XX, XY, YX, YY -> the paper's Q, R, S, U (0..3); 6b likewise into 8 classes. The paper counts a
 * sequence as right when every output is within 0.3 of its target.
 *
 * pascanu2013 (Pascanu, Mikolov & Bengio 2013, Section 4.1, after Martens & Sutskever 2011; as in
 * the authors' tempOrder.py and tempOrder3bit.py): symbols A, B, c, d, e, f (I = 6), fixed length
 * L = T; 0-based positions p0 in [int(0.1 L), 2 int(0.1 L)) and p1 in [int(0.5 L), int(0.5 L) +
 * int(0.1 L)) (bits = 2), or p1 from int(0.3 L) and p2 from int(0.6 L), each over int(0.1 L) steps
 * (bits = 3); values A = 0, B = 1; class v0 + 2 v1 (+ 4 v2); every other step is one of c, d, e, f.
 * A run succeeds when fewer than 1% of test sequences are misclassified.
 *
 * Both: cross-entropy on the class at the last step. Trivial baseline: the classes are equally
 * likely, so predicting uniformly costs ln 4 (bits = 2) or ln 8 (bits = 3) nats.
 */

enum { TO_HS1997 = 0, TO_PASCANU2013 };

typedef struct temporal_state {
    int variant, bits, variable, T0;
} temporal_state;

static const char *const temporal_keys[] = {"seq_len", "variant", "bits", "length", NULL};

static rnnlab_status temporal_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const variants[] = {"hochreiter1997", "pascanu2013", NULL}, *const lengths[] = {"variable", "fixed", NULL};
    long T = 100, bits = 2;
    int variant = TO_HS1997, length = 0;
    rnnlab_status st;
    if ((st = rnnlab_opt_int(opts, n, "seq_len", 1, 1 << 20, &T, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "variant", variants, &variant, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "bits", 2, 3, &bits, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "length", lengths, &length, bad))) return st;
    const long T_min = variant == TO_HS1997 ? 20 : 10;
    if (T < T_min) {
        *bad = rnnlab_opt_find(opts, n, "seq_len");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "seq_len: the %s temporal order task needs T >= %ld, got %ld",
                            variants[variant], T_min, T);
    }
    if (variant == TO_PASCANU2013 && rnnlab_opt_find(opts, n, "length") >= 0 && length == 0) {
        *bad = rnnlab_opt_find(opts, n, "length");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "length: the pascanu2013 temporal order task has fixed length only");
    }
    temporal_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    s->variant = variant, s->bits = (int)bits, s->T0 = (int)T;
    s->variable = variant == TO_HS1997 && length == 0;
    ds->state = s;
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "%s", variants[variant]);
    in->input_size = variant == TO_HS1997 ? 8 : 6;
    in->output_size = 1 << bits;
    in->seq_len = s->variable ? (int)(T + T / 10) : (int)T;
    in->variable_length = s->variable;
    in->loss = RNNLAB_LOSS_XENT, in->loss_at = RNNLAB_LOSS_LAST;
    in->baseline = log((double)(1 << bits));
    snprintf(in->baseline_desc, sizeof in->baseline_desc,
             "uniform over the %d equally likely classes: ln %d = %.4f nats, accuracy %.1f%%", 1 << bits, 1 << bits,
             in->baseline, 100.0 / (1 << bits));
    if (variant == TO_PASCANU2013) {
        in->success_threshold = 0.01;
        snprintf(in->success_desc, sizeof in->success_desc, "fraction of misclassified test sequences < 0.01");
        snprintf(in->source, sizeof in->source,
                 "Pascanu, Mikolov & Bengio 2013, Section 4.1 (after Martens & Sutskever 2011)");
    } else {
        snprintf(in->success_desc, sizeof in->success_desc,
                 "every output within 0.3 of its target at the sequence end (per sequence)");
        snprintf(in->source, sizeof in->source, "Hochreiter & Schmidhuber 1997, Section 5.6, Experiment 6%c",
                 bits == 2 ? 'a' : 'b');
    }
    return RNNLAB_OK;
}

static rnnlab_status temporal_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x,
                                    double *target, int *target_class, int *lengths)
{
    (void)target;
    const temporal_state *s = ds->state;
    const int T = ds->info.seq_len, I = ds->info.input_size, T0 = s->T0;
    rnnlab_rng rng;
    rnnlab_data_batch_rng(ds, split, index, &rng);
    memset(x, 0, sizeof(double) * (size_t)T * B * I);
    for (int b = 0; b < B; b++) {
        int pos[3], val[3], cls = 0;
        if (s->variant == TO_HS1997) { /* 1-based positions; symbols E0 B1 a2 b3 c4 d5 X6 Y7 */
            const int len = s->variable ? T0 + (int)rnnlab_rng_below(&rng, (uint64_t)(T0 / 10 + 1)) : T0;
            static const int lo_pct[2][3] = {{10, 50, 0}, {10, 33, 66}};
            for (int k = 0; k < s->bits; k++) {
                const int lo = (int)((long)T0 * lo_pct[s->bits - 2][k] / 100), hi = lo + T0 / 10;
                pos[k] = lo + (int)rnnlab_rng_below(&rng, (uint64_t)(hi - lo + 1));
                val[k] = (int)rnnlab_rng_below(&rng, 2);
                cls = 2 * cls + val[k];
            }
            lengths[b] = len;
            for (int t = 1; t <= len; t++) {
                int sym = t == 1 ? 0 : t == len ? 1 : 2 + (int)rnnlab_rng_below(&rng, 4);
                for (int k = 0; k < s->bits; k++)
                    if (t == pos[k]) sym = 6 + val[k];
                one_hot(x, t - 1, b, B, I, sym);
            }
        } else { /* 0-based positions; symbols A0 B1 c2 d3 e4 f5 */
            const int L = T0, w = (int)(L * 0.1);
            const int start[2][3] = {{w, (int)(L * 0.5), 0}, {w, (int)(L * 0.3), (int)(L * 0.6)}};
            for (int k = 0; k < s->bits; k++) {
                pos[k] = start[s->bits - 2][k] + (int)rnnlab_rng_below(&rng, (uint64_t)w);
                val[k] = (int)rnnlab_rng_below(&rng, 2);
                cls += val[k] << k;
            }
            lengths[b] = L;
            for (int t = 0; t < L; t++) {
                int sym = 2 + (int)rnnlab_rng_below(&rng, 4);
                for (int k = 0; k < s->bits; k++)
                    if (t == pos[k]) sym = val[k];
                one_hot(x, t, b, B, I, sym);
            }
        }
        if (target_class) target_class[b] = cls;
    }
    return RNNLAB_OK;
}

static rnnlab_status temporal_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                   const double *target, const int *target_class, const int *lengths)
{
    (void)target;
    const temporal_state *s = ds->state;
    const char *sym = s->variant == TO_HS1997 ? "EBabcdXY" : "ABcdef";
    const int I = ds->info.input_size;
    rnnlab_status st = rnnlab_buf_printf(out, "  ");
    for (int t = 0; t < lengths[b] && !st; t++) {
        const int k = hot_index(x, t, b, B, I);
        st = rnnlab_buf_printf(out, "%c", k >= 0 ? sym[k] : '?');
    }
    if (!st) st = rnnlab_buf_printf(out, "\n  class %d (relevant symbols %s)\n", target_class[b],
                                    s->variant == TO_HS1997 ? "X, Y in upper case" : "A, B in upper case");
    return st;
}

const rnnlab_task_def rnnlab_task_temporal_order = {
    .name = "temporal_order",
    .summary = "temporal order of 2 or 3 widely separated symbols (Hochreiter & Schmidhuber 1997 Exp. 6; Pascanu et "
               "al. 2013 Sec. 4.1)",
    .options_doc = "seq_len = T          sequence length (default 100, the paper's; >= 20 hochreiter1997, >= 10 "
                   "pascanu2013)\n"
                   "variant = hochreiter1997 | pascanu2013   E...B framed, 8 symbols | 6 symbols, fixed length "
                   "(default hochreiter1997)\n"
                   "bits = 2 | 3         relevant symbols: 4 or 8 classes (Exp. 6a / 6b) (default 2)\n"
                   "length = variable | fixed   hochreiter1997 lengths uniform in [T, T+T/10] or all T (default "
                   "variable)\n",
    .keys = temporal_keys,
    .shape = "I=8 (pascanu2013: 6) O=4 or 8 T=seq_len (variable: up to seq_len + seq_len/10)",
    .size = "unlimited (generated)",
    .source = "Hochreiter & Schmidhuber 1997 Sec. 5.6 Exp. 6; Pascanu, Mikolov & Bengio 2013 Sec. 4.1",
    .open = temporal_open,
    .batch = temporal_batch,
    .close = free_state,
    .show = temporal_show,
};

/* ================================================================ the 2-sequence (latch) problem
 *
 * Bengio, Simard & Frasconi 1994 (the 2-sequence / latch problem), in the form of Hochreiter &
 * Schmidhuber 1997, Section 5.3, Experiment 3 ("noise and signal on the same channel"): one input
 * line; two classes, each with probability 1/2. The first N (`info`) elements carry the class:
 * +1.0 for class 1, -1.0 for class 2 (3a); with Gaussian noise of mean 0 and variance 0.2 added
 * to them (3b, 3c). Every later element is Gaussian noise, mean 0, variance 0.2. Lengths are drawn
 * uniformly from [T, T + T/10] (length = variable, the paper's) or all T. Target at the sequence
 * end (MSE): 1.0 for class 1 and 0.0 for class 2 (3a, 3b); 0.8 and 0.2 in 3c, where the training
 * targets also carry Gaussian noise of variance 0.1 (valid and test targets are the noise-free
 * 0.8 / 0.2, which is what a trained net should output). A sequence is classified correctly when
 * the absolute error at its end is below 0.2 (3a, 3b).
 * Trivial baseline: always predict 0.5: MSE 0.25 (3a, 3b) or 0.09 against noise-free targets (3c;
 * 0.19 on the noisy training targets).
 */

enum { TS_3A = 0, TS_3B, TS_3C };

typedef struct twoseq_state {
    int variant, N, variable, T0;
} twoseq_state;

static const char *const twoseq_keys[] = {"seq_len", "info", "variant", "length", NULL};

static rnnlab_status twoseq_open(rnnlab_dataset *ds, const rnnlab_option *opts, int n, int *bad)
{
    static const char *const variants[] = {"3a", "3b", "3c", NULL}, *const lengths[] = {"variable", "fixed", NULL};
    long T = 100, N = 3;
    int variant = TS_3A, length = 0;
    rnnlab_status st;
    if ((st = rnnlab_opt_int(opts, n, "seq_len", 2, 1 << 20, &T, bad))) return st;
    if ((st = rnnlab_opt_int(opts, n, "info", 1, 1 << 20, &N, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "variant", variants, &variant, bad))) return st;
    if ((st = rnnlab_opt_choice(opts, n, "length", lengths, &length, bad))) return st;
    if (N >= T) {
        *bad = rnnlab_opt_find(opts, n, "info");
        return rnnlab_error(RNNLAB_ERR_CONFIG, "info: the %ld informative elements must be fewer than seq_len = %ld",
                            N, T);
    }
    twoseq_state *s = rnnlab_calloc(1, sizeof *s);
    if (!s) return rnnlab_error(RNNLAB_ERR_NOMEM, "out of memory");
    s->variant = variant, s->N = (int)N, s->T0 = (int)T, s->variable = length == 0;
    ds->state = s;
    rnnlab_task_info *in = &ds->info;
    snprintf(in->variant, sizeof in->variant, "hochreiter1997_%s", variants[variant]);
    in->input_size = 1, in->output_size = 1;
    in->seq_len = s->variable ? (int)(T + T / 10) : (int)T;
    in->variable_length = s->variable;
    in->loss = RNNLAB_LOSS_MSE, in->loss_at = RNNLAB_LOSS_LAST;
    if (variant == TS_3C) {
        in->baseline = 0.09;
        snprintf(in->baseline_desc, sizeof in->baseline_desc,
                 "always predict 0.5: MSE 0.09 against the noise-free targets 0.2/0.8 (0.19 on noisy training targets)");
        snprintf(in->success_desc, sizeof in->success_desc,
                 "output close to the noise-free target 0.2 or 0.8 (valid/test MSE well below 0.09)");
    } else {
        in->baseline = 0.25;
        snprintf(in->baseline_desc, sizeof in->baseline_desc, "always predict 0.5: MSE 0.25");
        in->success_threshold = 0.2;
        snprintf(in->success_desc, sizeof in->success_desc, "|error| < 0.2 at the sequence end (per sequence)");
    }
    snprintf(in->source, sizeof in->source,
             "Bengio, Simard & Frasconi 1994; Hochreiter & Schmidhuber 1997, Section 5.3, Experiment 3%s",
             variants[variant] + 1);
    return RNNLAB_OK;
}

static rnnlab_status twoseq_batch(rnnlab_dataset *ds, rnnlab_split split, long index, int B, double *x,
                                  double *target, int *target_class, int *lengths)
{
    (void)target_class;
    const twoseq_state *s = ds->state;
    const int T = ds->info.seq_len, T0 = s->T0;
    const double sd = sqrt(0.2);
    rnnlab_rng rng;
    rnnlab_data_batch_rng(ds, split, index, &rng);
    memset(x, 0, sizeof(double) * (size_t)T * B);
    for (int b = 0; b < B; b++) {
        const int len = s->variable ? T0 + (int)rnnlab_rng_below(&rng, (uint64_t)(T0 / 10 + 1)) : T0;
        const int cls1 = (int)rnnlab_rng_below(&rng, 2); /* 1: class 1, 0: class 2 */
        lengths[b] = len;
        for (int t = 0; t < len; t++) {
            double v = sd * rnnlab_rng_normal(&rng);
            if (t < s->N) v = (cls1 ? 1.0 : -1.0) + (s->variant == TS_3A ? 0.0 : v);
            x[(size_t)t * B + b] = v;
        }
        if (s->variant == TS_3C) {
            const double noise = sqrt(0.1) * rnnlab_rng_normal(&rng); /* drawn on every split: same stream */
            target[b] = (cls1 ? 0.8 : 0.2) + (split == RNNLAB_SPLIT_TRAIN ? noise : 0.0);
        } else {
            target[b] = cls1 ? 1.0 : 0.0;
        }
    }
    return RNNLAB_OK;
}

static rnnlab_status twoseq_show(const rnnlab_dataset *ds, rnnlab_buf *out, int b, int B, const double *x,
                                 const double *target, const int *target_class, const int *lengths)
{
    (void)target_class;
    const twoseq_state *s = ds->state;
    rnnlab_status st = rnnlab_buf_printf(out, "  length %d; informative steps 0..%d:", lengths[b], s->N - 1);
    for (int t = 0; t < s->N && t < 8 && !st; t++) st = rnnlab_buf_printf(out, " %.3f", x[(size_t)t * B + b]);
    if (!st) st = rnnlab_buf_printf(out, "\n  then noise:");
    for (int t = s->N; t < lengths[b] && t < s->N + 6 && !st; t++) st = rnnlab_buf_printf(out, " %.3f", x[(size_t)t * B + b]);
    if (!st) st = rnnlab_buf_printf(out, " ...\n  target %.4f\n", target[b]);
    return st;
}

const rnnlab_task_def rnnlab_task_two_sequence = {
    .name = "two_sequence",
    .summary = "the 2-sequence (latch) problem: noise and signal on one channel (Bengio et al. 1994; Hochreiter & "
               "Schmidhuber 1997 Exp. 3)",
    .options_doc = "seq_len = T          minimum length (default 100)\n"
                   "info = N             informative first elements (default 3)\n"
                   "variant = 3a | 3b | 3c   clean | noisy information | noisy information, targets 0.2/0.8 with "
                   "noise (default 3a)\n"
                   "length = variable | fixed   lengths uniform in [T, T+T/10] or all T (default variable)\n",
    .keys = twoseq_keys,
    .shape = "I=1 O=1 T=seq_len (variable: up to seq_len + seq_len/10)",
    .size = "unlimited (generated)",
    .source = "Bengio, Simard & Frasconi 1994; Hochreiter & Schmidhuber 1997, Section 5.3, Experiment 3",
    .open = twoseq_open,
    .batch = twoseq_batch,
    .close = free_state,
    .show = twoseq_show,
};
