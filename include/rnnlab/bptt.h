/*
 * rnnlab/bptt.h - the forward pass over T steps, backpropagation through time, losses and the
 * gradient taps.
 *
 * Data layout is time-major: x (T, B, I), targets (B, O) or (T, B, O), initial states (L, B, H).
 * A step index t runs 0..T-1; "h_t" is the state AFTER step t (as in PyTorch's output), and h0 is
 * the state before step 0. Data passed in and out is double; the model's precision is used inside.
 *
 * Losses (at the loss positions P: the last real step of each sample, or every real step; N = |P|):
 *   mse        L = 1/(N*O) sum_{(t,b) in P} sum_o (y_tbo - target_tbo)^2     (PyTorch nn.MSELoss)
 *   xent       L = 1/N sum_{(t,b) in P} -log softmax(y_tb)[class_tb]          (nn.CrossEntropyLoss)
 *   bernoulli  L = 1/N sum_{(t,b) in P} sum_o [log(1 + e^{y_tbo}) - target_tbo * y_tbo]
 *              the negative log-likelihood of independent Bernoulli outputs with logits y, summed
 *              over outputs and averaged over positions (nn.BCEWithLogitsLoss(reduction='sum') / N;
 *              the per-step NLL of polyphonic music, Boulanger-Lewandowski et al. 2012, Chung et al.
 *              2014)
 * with y_tb = head_weight h^{L-1}_t[b] + head_bias. Units: nats for xent and bernoulli.
 *
 * Truncated BPTT (truncate = k >= 1, Williams & Peng 1990): the gradient of each loss term L_s (the
 * loss at step s) flows back through at most k steps, s-k+1..s. Formally, with all states entering
 * step s-k+1 held constant (detached) at their forward values,
 *      g = sum_s dL_s/dtheta |_{h_{s-k}, c_{s-k} const}
 * and likewise for x. dL/dh0 (dc0) collects the terms whose window reaches step 0 (s <= k-1).
 * A truncation length k >= T is full BPTT.
 *
 * Gradient taps, recorded during the backward pass for every layer l and step t (0..T-1), stored
 * layer by layer: h_norm[l][t] below is h_norm[l * T + t] of rnnlab_taps (and so for the others):
 *   h_norm[l][t]      = || dL/dh^l_t ||_2 over all B*H entries of the batch
 *   h_norm_mean[l][t] = (1/B_t) sum_{b real at t} || dL/dh^l_t[b, :] ||_2, B_t = samples with t < length
 *                       (0 when B_t = 0)
 *   c_norm, c_norm_mean  the same for dL/dc^l_t (LSTM only)
 *   param_norm[i]     = || dL/dtheta_i ||_2 for every parameter tensor i of the model
 * dL/dh^l_t is the total derivative with respect to h^l_t through every path: the head (top layer),
 * the layer above at the same step, and step t+1 of the same layer; dL/dc^l_t likewise through
 * c_{t+1} and h_t. Under truncation it is the sum over the loss terms whose window contains step t
 * (s in t..t+k-1) of their gradient, which is what flows back through step t. These are the
 * quantities of Pascanu, Mikolov & Bengio 2013 (Section 2) that the gradient-decay experiments plot.
 * All norms are accumulated in double whatever the model's precision.
 */
#ifndef RNNLAB_BPTT_H
#define RNNLAB_BPTT_H

#include <stddef.h>
#include <stdint.h>

#include "rnnlab/model.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_loss_kind {
    RNNLAB_LOSS_MSE = 0,
    RNNLAB_LOSS_XENT,
    RNNLAB_LOSS_BERNOULLI,
    RNNLAB_LOSS_KIND_COUNT
} rnnlab_loss_kind;

typedef enum rnnlab_loss_at {
    RNNLAB_LOSS_LAST = 0, /* one loss per sample, at its last real step */
    RNNLAB_LOSS_ALL       /* a loss at every real step */
} rnnlab_loss_at;

/* "mse", "xent", "bernoulli" / "last", "all"; parse also accepts "cross_entropy" and "bce". */
const char *rnnlab_loss_name(rnnlab_loss_kind k);
const char *rnnlab_loss_at_name(rnnlab_loss_at a);
rnnlab_status rnnlab_loss_parse(const char *name, rnnlab_loss_kind *k);
rnnlab_status rnnlab_loss_at_parse(const char *name, rnnlab_loss_at *a);

typedef struct rnnlab_bptt_config {
    int batch;              /* B >= 1 */
    int seq_len;            /* T >= 1 */
    rnnlab_loss_kind loss;  /* default mse */
    rnnlab_loss_at loss_at; /* default last */
    int truncate;           /* k >= 1 for truncated BPTT; 0 (default) for full BPTT */
    int taps;               /* 1 (default): record the gradient taps; 0: skip them */
    int ftz;                /* 1: flush subnormals to zero during forward/backward; default 0 */
    int training;           /* 1: training mode (dropout on, batch norm uses the batch's statistics and
                               updates the running ones); 0 (default): evaluation mode */
    int keep_cache;         /* 1 (default): the forward cache survives the backward, so diagnostics
                               (diag.h) can read it afterwards. 0: the backward writes each step's gate
                               gradients over the gate activations it has just consumed (as cuDNN's
                               reserve space) when the pass is one time block, saving T*B*G*H reals;
                               after a backward the workspace then refuses another backward or a
                               diagnostic until the next forward. Full BPTT only (not with windowed
                               truncation). */
    int time_block;         /* full BPTT: steps per time block, >= 0. A pass runs the input product,
                               the time loop and (backward) the weight-gradient products block by
                               block, so a long sequence's gate rows stay in cache between them; the
                               gate gradients then need only one block's rows. 0 (default): as many
                               steps as fill about 512 KiB of gate rows, or all T when that is more
                               or when such a block would hold fewer than 4 (max(I, H) + H) rows
                               (large layers: each block rereads dW and dU). Batch or layer norm
                               and windowed truncation always use one block. The values do not
                               depend on it beyond rounding (sums over blocks of steps) */
} rnnlab_bptt_config;

/* Defaults as listed above, with batch = 1 and seq_len = 1. */
void rnnlab_bptt_config_init(rnnlab_bptt_config *cfg);

/* One batch. Every pointer is read during rnnlab_bptt_forward only (targets are copied). */
typedef struct rnnlab_batch {
    const double *x;         /* (T, B, I), required */
    const double *target;    /* mse, bernoulli: (B, O) at last, (T, B, O) at all */
    const int *target_class; /* xent: (B) at last, (T, B) at all; classes in [0, O) */
    const int *lengths;      /* (B) real steps per sample in [1, T], or NULL (all T); later steps are
                                padding: their x and targets are never read (NaN is fine there), and
                                they never change the loss, the gradients or the taps of real steps.
                                Only max(lengths) steps are computed; taps and dx beyond are 0 */
    const double *h0;        /* (L, B, H) initial hidden states, or NULL for zeros */
    const double *c0;        /* (L, B, H) LSTM initial cell states, or NULL for zeros */
    uint64_t dropout_seed;   /* training mode with dropout: the masks are drawn from this seed alone, so
                                the same seed gives the same masks (finite-difference checks use this) */
} rnnlab_batch;

/* The gradient taps of the last backward pass (definitions at the top of this file). */
typedef struct rnnlab_taps {
    int L, T;
    const double *h_norm;      /* (L, T) */
    const double *h_norm_mean; /* (L, T) */
    const double *c_norm;      /* (L, T) LSTM, else NULL */
    const double *c_norm_mean; /* (L, T) LSTM, else NULL */
    const double *param_norm;  /* (n_tensors) */
} rnnlab_taps;

/* A workspace: the forward cache and the backward's buffers for one model shape and one (B, T). */
typedef struct rnnlab_bptt rnnlab_bptt;

/*
 * rnnlab_bptt_create - allocates everything a forward/backward pair needs, once.
 *
 * Memory:  *out is owned by the caller (rnnlab_bptt_free). Nothing is allocated after this: the
 *          forward and backward passes never allocate. rnnlab_bptt_bytes reports the size.
 * Threads: a training workspace (keep_cache = 0, full BPTT, no batch norm, no dropout in training)
 *          with B >= 32 and a recurrent weight of at most 1 MiB runs its batch rows as B / 16 parts,
 *          each a workspace of its own rows on one OpenMP thread, and adds the parts' gradients in
 *          part order. The parts are fixed by the shape, so results never depend on the thread
 *          count; they agree with one workspace's to rounding (the weight gradients are summed in
 *          another order). Diagnostics (diag.h) need keep_cache = 1, which never splits.
 * Errors:  RNNLAB_ERR_CONFIG for a bad option (batch, seq_len, truncate < 0, xent with O < 2,
 *          ftz on a CPU without it, keep_cache = 0 with windowed truncation), RNNLAB_ERR_NOMEM
 *          when an allocation fails or the workspace would need more than the machine's memory
 *          and swap (refused before anything is reserved: the message gives both sizes).
 */
rnnlab_status rnnlab_bptt_create(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg);
void rnnlab_bptt_free(rnnlab_bptt *ws);

/* Bytes of the forward cache (what backward reads: states, gate activations, cell extras, inputs
 * and head outputs) and of the whole workspace (cache + backward buffers + taps). */
size_t rnnlab_bptt_cache_bytes(const rnnlab_bptt *ws);
size_t rnnlab_bptt_bytes(const rnnlab_bptt *ws);

/* The configuration the workspace was created with. */
const rnnlab_bptt_config *rnnlab_bptt_get_config(const rnnlab_bptt *ws);

/*
 * rnnlab_bptt_forward - runs the model over the batch and computes the loss.
 *
 * Shapes:  see rnnlab_batch; the model must be the one (or one of the same shape as) the workspace
 *          was created for.
 * Units:   *loss as defined at the top of this file (may be NULL).
 * Memory:  fills the workspace's cache; allocates nothing.
 * Errors:  RNNLAB_ERR_SHAPE if the model does not match the workspace, lengths are out of
 *          [1, T], or batch norm in training mode has a single real (step, sample) row to take
 *          statistics over (as PyTorch's BatchNorm refuses); RNNLAB_ERR_CONFIG for a missing target or a class out of [0, O);
 *          RNNLAB_ERR_NUMERIC if x or a target is not finite (message: which element) or the loss
 *          is not finite (message: the first layer and step whose state is not finite; the cache
 *          is still filled, so the caller can inspect it).
 */
rnnlab_status rnnlab_bptt_forward(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *batch, double *loss);

/*
 * rnnlab_bptt_backward - backpropagates the loss of the last forward through time.
 *
 * Writes:  the model's gradient block (overwritten, not accumulated), the taps, and where not NULL
 *          dx (T, B, I), dh0 (L, B, H), dc0 (L, B, H) (LSTM; ignored otherwise).
 * Memory:  reads the cache of the last rnnlab_bptt_forward on this workspace; allocates nothing.
 * Errors:  RNNLAB_ERR_CONFIG if no forward preceded it; RNNLAB_ERR_NUMERIC if a gradient is not
 *          finite (message: the layer and step nearest the loss where dL/dh first is, or the
 *          tensor); all outputs are still written, so the taps show where it happened.
 * Source:  Werbos 1990 (BPTT); Williams & Peng 1990 (truncation).
 */
rnnlab_status rnnlab_bptt_backward(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0, double *dc0);

/*
 * rnnlab_bptt_chunked - truncated BPTT in consecutive chunks, with memory bounded by the chunk
 * length k instead of T: BPTT(k, k) of Williams & Peng 1990, the "carry the state, detach it every
 * k steps" training of long sequences (Sutskever 2013, Section 3.2; PyTorch's word-language-model
 * example). The workspace is created for seq_len = k with full BPTT (truncate 0); the batch holds
 * a whole sequence of T steps (any T >= 1; the last chunk may be shorter than k). Chunk c covers
 * steps ck..ck+k-1: it runs forward from the states the previous chunk ended in (bt->h0, c0 for
 * the first), and its losses backpropagate to the chunk's first step only. So
 *      g = sum_c dL_c/dtheta |_{states entering chunk c const},   L = sum_c L_c,
 * with every L_c normalised by the whole sequence's N (top of this file), so L equals the loss
 * rnnlab_bptt_forward would give on the whole sequence and the gradients of all chunks add up in
 * the model's gradient block. Unlike the windowed truncation of rnnlab_bptt_config.truncate, a
 * loss near the end of a chunk sees up to k steps back and one at its start sees one step.
 *
 * Shapes:  bt as in rnnlab_batch with seq_len T: x (T, B, I), targets at all (T, B, ...) or at
 *          last (B, ...); lengths must be NULL or all T. tap_h, tap_c: (L, T) or NULL; they
 *          receive the taps' h_norm and c_norm (LSTM) of every step (0 where no gradient flows:
 *          with the loss at last, every chunk but the last).
 * Memory:  the workspace's cache (k steps) is all that is kept; allocates nothing.
 * Dropout: chunk c draws its masks from splitmix64(dropout_seed + c) (the first from dropout_seed).
 * Batch norm (training): statistics are those of each chunk.
 * Errors:  RNNLAB_ERR_CONFIG for a windowed workspace, T < 1 or unequal lengths; otherwise those of
 *          rnnlab_bptt_forward and _backward, prefixed with the chunk and its steps.
 */
rnnlab_status rnnlab_bptt_chunked(rnnlab_bptt *ws, rnnlab_model *m, const rnnlab_batch *bt, int T, double *loss,
                                  double *tap_h, double *tap_c);

/*
 * rnnlab_bptt_update_running_stats - batch norm (norm = batch) in training mode: folds the last
 * forward's batch statistics into the model's running ones, as PyTorch's BatchNorm does in its
 * forward: running_mean = (1 - momentum) running_mean + momentum mean, and the same for the variance
 * with the unbiased batch variance (N/(N-1) times the biased one; N the real (t, b) rows). PyTorch's
 * default momentum is 0.1. A no-op for models without batch norm or in evaluation mode.
 * Errors: RNNLAB_ERR_CONFIG without a preceding forward, or momentum outside [0, 1].
 * Source: Ioffe & Szegedy 2015; Laurent et al. 2016 (over batch and time).
 */
rnnlab_status rnnlab_bptt_update_running_stats(const rnnlab_bptt *ws, rnnlab_model *m, double momentum);

/* The taps of the last backward (valid until the next backward or rnnlab_bptt_free). Without taps
 * (cfg.taps = 0), or before the first backward, the h/c arrays hold zeros; param_norm is always
 * filled by a backward. */
rnnlab_taps rnnlab_bptt_get_taps(const rnnlab_bptt *ws);

/* Copies the forward's state of layer l after step t (t = -1 gives h0) into h_out (B, H); c_out for
 * the LSTM's cell state (may be NULL; ignored for other cells). Rows of samples whose sequence ended before step t
 * hold no meaningful value (the steps after the batch's longest sample, or after the longest of a
 * part's samples (rnnlab_bptt_create), are not computed). Errors: RNNLAB_ERR_SHAPE for l or t out
 * of range; RNNLAB_ERR_CONFIG before the first forward. */
rnnlab_status rnnlab_bptt_get_state(const rnnlab_bptt *ws, int l, int t, double *h_out, double *c_out);

/* The loss of the last forward per sample: loss_b[b] (B) is the sum, over sample b's loss positions
 * (its last step, or each of its len_b steps with the loss at all), of the position's loss as the
 * forward's loss defines it, not divided by the positions' count: the forward's loss is
 * sum_b loss_b[b] / (number of positions) up to rounding. For an evaluation over a set of samples
 * that is not a whole batch (the last batch of a finite split). After a chunked pass
 * (rnnlab_bptt_chunked), the last chunk's. Errors: RNNLAB_ERR_CONFIG before the first forward. */
rnnlab_status rnnlab_bptt_get_sample_losses(const rnnlab_bptt *ws, double *loss_b);

/* Copies the head outputs of the last forward into out: (B, O) at last, (T, B, O) at all (rows after
 * a sample's last step hold no meaningful value, as for rnnlab_bptt_get_state). Errors:
 * RNNLAB_ERR_CONFIG before the first forward. */
rnnlab_status rnnlab_bptt_get_output(const rnnlab_bptt *ws, double *out);

#ifdef __cplusplus
}
#endif
#endif
