/*
 * rnnlab/gradcheck.h - checking the engine's gradients: central finite differences in float64, and
 * the PyTorch float64 reference cases (format torchref-gradref-v1, see ../shared/reference/README.md).
 *
 * Finite differences: for every element theta of every parameter tensor, of the input x and of
 * h0 (and c0), the five-point central difference
 *     n = (L(theta - 2h) - 8 L(theta - h) + 8 L(theta + h) - L(theta + 2h)) / (12 h)
 * with h = 1e-5 * max(1, |theta|) (truncation error O(h^4), so that maps with high curvature such as
 * layer norm over a few units stay within the tolerance), compared with the analytic gradient a from
 * rnnlab_bptt_backward. An element passes when
 *     |a - n| <= atol + tol * max(|a|, |n|)            (defaults atol = 1e-8, tol = 1e-6)
 * The reported relative error is |a - n| / max(|a|, |n|) (0 when both are 0). For relu and
 * leaky_relu RNNs, an element whose +-h perturbation moves any pre-activation across 0 (the
 * activation's kink) is reported as skipped, not failed. The model's options (layer or batch norm,
 * residual connections, PReLU, dropout) are checked as they are; in training mode (bptt.training)
 * dropout's masks come from a fixed seed, the same in every evaluation, and batch norm uses the
 * batch's statistics, so the finite differences see its coupling of the samples. With truncation (1 <= k < T) the loss
 * is the truncated objective of rnnlab/bptt.h, evaluated forward only by its definition (windows
 * re-run from detached entry states), so the reference shares no code with the backward pass.
 * The gradient taps are checked too: dL/dh^l_t[b][j] by finite differences on the state itself
 * (h^l_t + eps right after step t computes it), then the two norms of bptt.h from those vectors.
 */
#ifndef RNNLAB_GRADCHECK_H
#define RNNLAB_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "rnnlab/bptt.h"
#include "rnnlab/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One compared tensor. */
typedef struct rnnlab_check_entry {
    char name[48];
    size_t n;         /* elements compared */
    size_t n_skipped; /* elements skipped (kink crossings) */
    double max_abs;   /* max |a - r| */
    double max_rel;   /* max relative error (definition above / below) */
    size_t worst;     /* index of the element with the largest relative error */
    double worst_a, worst_r; /* its two values (engine, reference) */
    size_t n_floor;   /* elements that pass only by the absolute floor (|a - r| > tol * scale) */
    double max_ref;   /* max |r|: the size of the reference values (below the floor, nothing is resolved) */
    int pass;
} rnnlab_check_entry;

typedef struct rnnlab_check_report {
    int n;
    rnnlab_check_entry *e; /* (n), owned; free with rnnlab_check_report_free */
    int all_pass;
    double loss; /* the loss of the checked case */
} rnnlab_check_report;

void rnnlab_check_report_free(rnnlab_check_report *rep);

typedef struct rnnlab_gradcheck_config {
    rnnlab_model_config model; /* dtype must be float64 */
    rnnlab_bptt_config bptt;   /* batch, seq_len, loss, loss_at, truncate */
    uint64_t seed;             /* model, data and initial states are drawn from it */
    double tol;                /* relative tolerance; default 1e-6 */
    double atol;               /* absolute floor; default 1e-8 */
    int check_taps;            /* default 1 */
    int random_lengths;        /* 1: samples get random lengths in [1, T] (padding); default 0 */
    const double *params;      /* (n_params) parameter values to check at, or NULL (default) for a
                                  PyTorch-default initialisation from seed */
} rnnlab_gradcheck_config;

/* Defaults: rnn tanh, I = 3, H = 4, L = 2, O = 2, B = 2, T = 5, mse at last, full BPTT, seed 1,
 * tolerances as above, taps checked. */
void rnnlab_gradcheck_config_init(rnnlab_gradcheck_config *cfg);

/*
 * rnnlab_gradcheck_run - builds a random model and batch from cfg->seed (PyTorch-default init;
 * x, h0, c0 and mse targets U(-1, 1); random classes or Bernoulli targets) and compares analytic
 * and finite-difference gradients, one report entry per tensor (parameters, "input", "h0", "c0",
 * "tap_h_norm", "tap_h_norm_mean").
 * Memory: rep->e is allocated; free with rnnlab_check_report_free (also on error).
 * Errors: RNNLAB_ERR_CONFIG (float32 model, bad config), RNNLAB_ERR_NOMEM, RNNLAB_ERR_NUMERIC.
 */
rnnlab_status rnnlab_gradcheck_run(const rnnlab_gradcheck_config *cfg, rnnlab_check_report *rep);

/* ---------------------------------------------------------------- PyTorch reference cases */

typedef struct rnnlab_ref_tensor {
    char name[48];
    int ndim;
    int dims[4];
    size_t numel;
    double *v; /* (numel), owned */
} rnnlab_ref_tensor;

typedef struct rnnlab_refcase {
    char cell[16]; /* rnn_tanh, rnn_relu, lstm, gru */
    int gates, input_size, hidden_size, num_layers, batch, seq_len, output_size;
    rnnlab_loss_at loss_at;
    long seed;
    int residual;                   /* weight exports: 1 when the model adds each layer's input to its output */
    rnnlab_gru_variant gru_variant; /* weight exports: reset_before for a Cho et al. 2014 GRU, else reset_after */
    int n_tensors;
    rnnlab_ref_tensor *t; /* (n_tensors), owned */
} rnnlab_refcase;

/*
 * rnnlab_refcase_load - reads one reference case file.
 * Memory: *out is owned by the caller (rnnlab_refcase_free).
 * Errors: RNNLAB_ERR_IO for an unreadable or malformed file; the message is "path:line: why".
 */
rnnlab_status rnnlab_refcase_load(const char *path, rnnlab_refcase **out);
void rnnlab_refcase_free(rnnlab_refcase *rc);

/* The tensor called name, or NULL. */
const rnnlab_ref_tensor *rnnlab_refcase_find(const rnnlab_refcase *rc, const char *name);

/*
 * rnnlab_refcase_check - loads the case's weights and data into a float64 model, runs forward and
 * backward, and compares the loss, outputs, states, every gradient and the taps (grad_h_norm,
 * grad_h_norm_mean, and for the LSTM the norms of grad_c) with the file.
 * An element passes when |a - r| <= 1e-12 + tol * |r|; the relative error is |a - r| / |r|
 * (|a - r| / 1e-300 guarded when r = 0).
 * Errors: RNNLAB_ERR_IO when a tensor the check needs is missing or has the wrong size;
 *         RNNLAB_ERR_CONFIG for an unknown cell.
 */
rnnlab_status rnnlab_refcase_check(const rnnlab_refcase *rc, double tol, rnnlab_check_report *rep);

#ifdef __cplusplus
}
#endif
#endif
