/*
 * rnnlab/diag.h - what the gradient-decay experiments measure beyond the taps: decay statistics of
 * a norm series, saturation of units and gates, and the Jacobian view ||dh_T / dh_t||.
 *
 * All of it reads a workspace after rnnlab_bptt_forward (saturation, Jacobian) or a tap series
 * (decay statistics); nothing here changes the model or the workspace's results.
 */
#ifndef RNNLAB_DIAG_H
#define RNNLAB_DIAG_H

#include "rnnlab/bptt.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Decay statistics of a norm series n_t, t = 0..T-1, where t = T-1 is the step of the loss:
 *   rate, rate_first_half, rate_second_half
 *       the least-squares slope of log10 n_t against t, in decades per step, over t in [0, T),
 *       [0, T/2) and [T/2, T); only steps with a finite n_t > 0 enter the fit (NAN with fewer than
 *       two). A positive rate means the gradient shrinks going back in time (away from the loss).
 *   horizon[k], k = 0, 1, 2 for thresholds 1e-3, 1e-6, 1e-9
 *       the largest m such that n_{T-1-j} >= threshold * n_{T-1} for every j = 0..m: how many steps
 *       back the norm stays above that fraction of its value at the loss (T-1 when it never drops;
 *       0 when n_{T-1} is 0 or not finite).
 *   n_zero        steps with n_t == 0 (underflowed to zero)
 *   n_subnormal   steps with 0 < n_t < min_normal (pass FLT_MIN for float32 models, DBL_MIN for
 *                 float64: the vector's entries are subnormal in the model's precision)
 *   n_nonfinite   steps with n_t infinite or NaN
 * Source: the decay of ||dL/dh_t|| as analysed by Pascanu, Mikolov & Bengio 2013, Section 2; the
 * slope of its logarithm is the per-step rate of that exponential decay.
 */
typedef struct rnnlab_decay_stats {
    double rate, rate_first_half, rate_second_half;
    int horizon[3];
    int n_zero, n_subnormal, n_nonfinite;
} rnnlab_decay_stats;

void rnnlab_decay_stats_compute(const double *norm, int T, double min_normal, rnnlab_decay_stats *out);

/*
 * Saturation of layer l (or of all layers for l = -1) over every real step (t < length), sample
 * and unit of the last forward:
 *   h            fraction of |h| > 0.99 (cells whose h is bounded by 1: rnn tanh, lstm, gru; NAN
 *                otherwise)
 *   gate[g]      fraction of gate values outside [0.1, 0.9]; lstm g = 0, 1, 2: input, forget,
 *                output gates; gru g = 0, 1: reset, update gates; NAN where there is no such gate
 *   candidate    fraction of |candidate| > 0.99 (lstm g, gru n; NAN otherwise)
 *   dead         fraction of relu outputs exactly 0 (rnn relu only; NAN otherwise)
 * Errors: RNNLAB_ERR_CONFIG without a preceding forward; RNNLAB_ERR_SHAPE for l out of range.
 */
typedef struct rnnlab_saturation {
    double h;
    double gate[3];
    double candidate;
    double dead;
} rnnlab_saturation;

rnnlab_status rnnlab_diag_saturation(const rnnlab_bptt *ws, const rnnlab_model *m, int l, rnnlab_saturation *out);

/* The same over samples 0..n_samples-1 of the batch (1 <= n_samples <= B, else RNNLAB_ERR_SHAPE),
 * with *n_values (may be NULL) the values counted: every fraction's denominator, so that fractions of
 * several batches combine exactly as sum(fraction * n_values) / sum(n_values). For an evaluation
 * whose last batch's rows past a finite split's end repeat its first samples. */
rnnlab_status rnnlab_diag_saturation_of(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples,
                                        rnnlab_saturation *out, long *n_values);

/*
 * rnnlab_diag_jacobian - the Jacobian view of layer l (Pascanu, Mikolov & Bengio 2013, Section 2):
 * for each step t, the spectral norm of d s_{T_b - 1} / d s_t, where s is the layer's recurrent
 * state (h for rnn and gru; the concatenation (h, c) of size 2H for the lstm), T_b the sample's
 * length, and the derivative is the product of the layer's step Jacobians through the stored
 * forward pass (the input from the layer below held fixed). It is computed for the first
 * n_samples samples (fewer if the batch is smaller) and averaged over those with t < T_b.
 *
 * Method: the rows of the product are propagated backwards through each step with the cell's own
 * backward (a vector-Jacobian product per row), rescaled every step so that nothing underflows;
 * the spectral norm of each product is then found by power iteration on M^T M in the model's
 * precision (warm-started from the previous step's vector), stopped once the residual
 * |M^T M v - theta v| of the Rayleigh quotient theta is at most tol theta, tol = 1e-8 for float64
 * and 1e-5 for float32 (ten times a float residual's rounding): theta is then within tol theta of
 * an eigenvalue of M^T M, so the norm is within tol/2 relative of a singular value of the product
 * (the residual bound for symmetric matrices, Parlett 1998, Chapter 4), and power iteration makes
 * it the largest, or one within the bound of a cluster at the top (measured on matrices with set
 * spectra: at most 0.8 tol below the largest). Where the largest singular values nearly tie
 * (orthogonal init), power iteration hands over after 50 iterations to Lanczos with full
 * reorthogonalisation (Golub & Van Loan, Matrix Computations, Chapter 10; the same stopping rule,
 * at most S steps). On make run's experiment every value agrees with a fully converged iteration
 * to 6.4e-9. The product itself is formed in the model's precision.
 * Writes norm[t] (may underflow to 0 or overflow to inf for long sequences) and log10_norm[t] (the
 * same without range limits) for t = 0..T-1; t = T_b - 1 gives 1 (the identity).
 * Cost: O(T S^2 (G H + k)) per sample, S = H or 2H, k the iterations (about 10-20 on W3-sized
 * models; Lanczos adds O(S^3) where it runs); allocates O(S (G H + S)) once, outside the time loop.
 * Errors: RNNLAB_ERR_CONFIG without a preceding forward or for n_samples < 1; RNNLAB_ERR_SHAPE for
 *         l out of range; RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_diag_jacobian(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples, double *norm,
                                   double *log10_norm);

/* The step of the last forward at which a non-finite state first appeared: *layer and *t, or -1
 * for both if every state is finite. Cheap: reads the cache. */
void rnnlab_diag_first_nonfinite(const rnnlab_bptt *ws, int *layer, int *t);

#ifdef __cplusplus
}
#endif
#endif
