/*
 * cells.h - the per-precision interface every cell implements (internal; include real.h first).
 *
 * Dimension legend: B batch, H hidden size, G gates (1 rnn, 4 lstm, 3 gru), I_l the layer's input
 * size, TB = T*B rows when a function works on all steps at once.
 *
 * bptt.c drives the cells: before the time loop it computes the input projections of all T steps in
 * one product, gates[t] = x_t W^T + b_ih (T*B, G*H); each step then calls forward, which adds its
 * own recurrent product and bias and overwrites gates[t] with what backward will read (the cache).
 * Backward of step t gets the total dL/dh_t (and dL/dc_t from step t+1) and writes the gradients of
 * the two pre-activation parts (dzx for the W x + b_ih part, dzh for the U h + b_hh part; they
 * differ only for the GRU's reset_after candidate) and dL/dh_{t-1}, dL/dc_{t-1}. After the loop,
 * bptt.c computes dW = dZx^T X and the bias sums as single products, and the cell's wgrad_hh adds
 * dU (and peephole gradients): the recurrent input differs between cells (r*h for reset_before).
 */
#ifndef RNNLAB_CELLS_H
#define RNNLAB_CELLS_H

#ifndef RNNLAB_REAL_H
#error "include core/real.h first"
#endif

#include "rnnlab/cell.h"

/* Options of one cell, fixed for a model. */
typedef struct rnnlab_cell_opts {
    rnnlab_activation act;          /* rnn */
    double alpha;                   /* leaky_relu slope */
    rnnlab_gru_variant gru_variant; /* gru */
    int peephole;                   /* lstm */
} rnnlab_cell_opts;

/* Read-only views of one layer's parameters. */
typedef struct R(rnnlab_layer) {
    const real *W;    /* (G*H, I_l) weight_ih */
    const real *U;    /* (G*H, H)   weight_hh */
    const real *b_ih; /* (G*H) */
    const real *b_hh; /* (G*H) */
    const real *peep; /* (3, H) LSTM peepholes p_i, p_f, p_o, or NULL */
    int I;            /* I_l */
} R(rnnlab_layer);

/* The same layer's gradients (same shapes). */
typedef struct R(rnnlab_layer_grad) {
    real *dW, *dU, *db_ih, *db_hh, *dpeep;
} R(rnnlab_layer_grad);

/* What backward of step t reads from the forward. */
typedef struct R(rnnlab_step_cache) {
    const real *gates;  /* (B, G*H) gate activations (rnn: unused) */
    const real *extra;  /* (B, H) lstm tanh(c_t); gru reset_after U_n h + b_hn, reset_before r*h_{t-1} */
    const real *h;      /* (B, H) h_t */
    const real *c;      /* (B, H) c_t (lstm) */
    const real *h_prev; /* (B, H) h_{t-1} */
    const real *c_prev; /* (B, H) c_{t-1} (lstm) */
} R(rnnlab_step_cache);

/*
 * forward: one step of one layer for all B samples.
 *   in:  gates (B, G*H) holding x_t W^T + b_ih; h_prev, c_prev (B, H)
 *   out: h, c (B, H); gates overwritten with the activations backward needs; extra (B, H)
 *   scratch (B, G*H) is overwritten. c, c_prev are NULL for rnn and gru.
 * backward: the reverse of forward for one step.
 *   in:  dh (B, H) the total dL/dh_t; dc (B, H) dL/dc_t through c_{t+1} (lstm; NULL otherwise)
 *   out (overwritten, not accumulated): dzx (B, G*H), dzh (B, G*H) (gru reset_after only; for the
 *        other cells dzh is not written and bptt.c uses dzx for both), dh_prev (B, H), dc_prev (B, H)
 *        and dc_total (B, H) = the total dL/dc_t (lstm), for the gradient taps.
 *   scratch (B, G*H) is overwritten.
 * wgrad_hh: after all steps, adds dU (and dpeep) from all T*B rows.
 *   dZh (TB, G*H); Hprev (TB, H) = h_{t-1} rows; Cprev, Cnext (TB, H) = c_{t-1} and c_t rows (lstm;
 *   NULL otherwise); extra (TB, H) as cached.
 */
typedef struct R(rnnlab_cell_ops) {
    void (*forward)(real *h, real *c, real *gates, real *extra, const real *h_prev, const real *c_prev,
                    const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B, int H, real *scratch);
    void (*backward)(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total, const real *dh,
                     const real *dc, const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p,
                     const rnnlab_cell_opts *o, int B, int H, real *scratch);
    void (*wgrad_hh)(R(rnnlab_layer_grad) *g, const real *dZh, const real *Hprev, const real *Cprev, const real *Cnext,
                     const real *extra, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int TB, int H);
    int separate_dzh; /* 1 if backward writes dzh apart from dzx (gru reset_after) */
    int has_c;        /* 1 for lstm */
    int has_extra;    /* 1 if forward writes extra */
} R(rnnlab_cell_ops);

/* The ops of a cell kind with its options (the GRU's two variants share one table). */
const R(rnnlab_cell_ops) *R(rnnlab_cell_ops_get)(rnnlab_cell_kind kind, const rnnlab_cell_opts *o);

/* Shared by the cells whose recurrent input is h_{t-1} for every gate block: dU += dZh^T Hprev. */
void R(rnnlab_wgrad_hh_plain)(real *dU, const real *dZh, const real *Hprev, int TB, int GH, int H);

extern const R(rnnlab_cell_ops) R(rnnlab_rnn_ops), R(rnnlab_lstm_ops), R(rnnlab_gru_ops), R(rnnlab_gru_before_ops);

#endif
