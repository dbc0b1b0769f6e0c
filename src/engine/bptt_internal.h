/*
 * bptt_internal.h - the per-precision entry points behind rnnlab_bptt_* and the test hooks
 * (internal). bptt.c defines each function once per precision (_f32, _f64); bptt_api.c validates
 * arguments and dispatches on the model's precision.
 */
#ifndef RNNLAB_BPTT_INTERNAL_H
#define RNNLAB_BPTT_INTERNAL_H

#include "rnnlab/bptt.h"

#define RNNLAB_BPTT_DECLARE(S)                                                                                 \
    rnnlab_status rnnlab_bptt_forward_impl##S(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,   \
                                              double *loss);                                                   \
    rnnlab_status rnnlab_bptt_backward_impl##S(rnnlab_bptt *ws, rnnlab_model *m, double *dx, double *dh0,       \
                                               double *dc0);                                                   \
    double rnnlab_bptt_window_loss_impl##S(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,      \
                                           const double *entry_h, const double *entry_c, int k);               \
    void rnnlab_bptt_get_state_impl##S(const rnnlab_bptt *ws, int l, int t, double *h_out, double *c_out);      \
    void rnnlab_bptt_get_output_impl##S(const rnnlab_bptt *ws, double *out);                                  \
    void rnnlab_bptt_sample_losses_impl##S(const rnnlab_bptt *ws, double *loss_b);                            \
    void rnnlab_bptt_first_nonfinite_impl##S(const rnnlab_bptt *ws, int *layer, int *t, int *b, int *j);      \
    void rnnlab_bptt_update_running_impl##S(const rnnlab_bptt *ws, rnnlab_model *m, double momentum);
RNNLAB_BPTT_DECLARE(_f32)
RNNLAB_BPTT_DECLARE(_f64)
#undef RNNLAB_BPTT_DECLARE

/*
 * rnnlab_bptt_window_loss - the truncated-BPTT objective evaluated forward only, by its definition
 * (bptt.h): for every step s holding a loss, re-run steps max(0, s-k+1)..s of every layer starting
 * from the states entry_h/entry_c (L, T+1, B, H) (row t+1 = the state after step t, as recorded by
 * an earlier forward with the unperturbed model) or from the batch's h0/c0 when the window starts
 * at step 0, and add the loss term of step s. Used by the gradient checker as the finite-difference
 * reference for truncated BPTT; it shares no code with the backward pass.
 * entry_c may be NULL for cells without a cell state. The workspace's cache is overwritten.
 */
rnnlab_status rnnlab_bptt_window_loss(rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt,
                                      const double *entry_h, const double *entry_c, int k, double *value);

/* rnnlab_bptt_create with the number of parts chosen by the caller (tests): n >= 2 splits the batch
 * rows into n parts (at most B), 1 never splits, n <= 0 is the workspace's own choice. */
rnnlab_status rnnlab_bptt_create_split(rnnlab_bptt **out, const rnnlab_model *m, const rnnlab_bptt_config *cfg, int n);

/* The number of parts a workspace runs its batch rows as (1: not split). */
int rnnlab_bptt_split(const rnnlab_bptt *ws);

/* Where a part's own rows go in its staging buffer (ws->part_in[p]), in doubles: x (T, B_p, I),
 * targets at every step (T, B_p, O; none with the loss at the last step or xent), h0 and c0
 * (L, B_p, H), then dx, dh0 and dc0 for the backward to write. */
typedef struct rnnlab_split_in {
    size_t x, target, h0, c0, dx, dh0, dc0, total;
} rnnlab_split_in;
rnnlab_split_in rnnlab_bptt_split_in_layout(const rnnlab_bptt *part);

/* Test hook: from now on every forward adds eps to h^l_t[b][j] right after step t computes it
 * (before any consumer reads it); on = 0 removes the hook. */
void rnnlab_bptt_set_perturb(rnnlab_bptt *ws, int on, int l, int t, int b, int j, double eps);

/* Checking hook (not for a workspace split into parts, rnnlab_bptt_split) for relu/leaky_relu RNNs: with ref (L, T, B, H) non-NULL, every forward step compares
 * (h > 0) of each state it computes with ref and counts the differences (a pre-activation that
 * crossed the kink); rnnlab_bptt_kink_flips returns and clears the count. ref = NULL removes it. */
void rnnlab_bptt_set_kink_ref(rnnlab_bptt *ws, const unsigned char *ref);
long rnnlab_bptt_kink_flips(rnnlab_bptt *ws);

/* Test hook (not for a workspace split into parts): the reverse sweep's prefetch of the previous
 * step's cache rows (rnnlab_step_cache.prefetch) by the cache's size (mode 0, the default), always
 * (1) or never (-1). A hint to the CPU: the results are the same bits in every mode. */
void rnnlab_bptt_set_prefetch(rnnlab_bptt *ws, int mode);

/* Checks a batch against a workspace/model (shapes, lengths, targets, finiteness); used by forward
 * and by the window loss. */
rnnlab_status rnnlab_bptt_check_batch(const rnnlab_bptt *ws, const rnnlab_model *m, const rnnlab_batch *bt);

#endif
