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
    int layer_norm;                 /* 1: layer normalisation of the recurrent products (and of c_t, lstm) */
} rnnlab_cell_opts;

/* Read-only views of one layer's parameters; options the model does not have are NULL. */
typedef struct R(rnnlab_layer) {
    const real *W;         /* (G*H, I_l) weight_ih */
    const real *U;         /* (G*H, H)   weight_hh */
    const real *Ut;        /* (H, G*H)   its transpose, which forward multiplies by (set by bptt.c) */
    const real *b_ih;      /* (G*H) */
    const real *b_hh;      /* (G*H) */
    const real *peep;      /* (3, H) LSTM peepholes p_i, p_f, p_o */
    const real *prelu;     /* (H) PReLU slopes */
    const real *ln_ih;     /* (G*H) layer-norm gains of W x */
    const real *ln_hh;     /* (G*H) layer-norm gains of U h */
    const real *ln_c_gain; /* (H) lstm: layer norm of c_t */
    const real *ln_c_bias; /* (H) */
    const real *bn_gain;   /* (G*H) batch-norm gains of W x */
    int I;                 /* I_l */
} R(rnnlab_layer);

/* The same layer's gradients (same shapes, same NULLs). */
typedef struct R(rnnlab_layer_grad) {
    real *dW, *dU, *db_ih, *db_hh, *dpeep, *dprelu, *dln_ih, *dln_hh, *dln_c_gain, *dln_c_bias, *dbn_gain;
} R(rnnlab_layer_grad);

/* Layer normalisation's per-step cache (norm = layer), written by forward, read by backward. */
typedef struct R(rnnlab_ln_step) {
    real *hat;    /* (B, G*H) the normalised recurrent product, block by block */
    real *rstd;   /* (B, G) 1 / sqrt(var + eps) of each block */
    real *c_hat;  /* (B, H) lstm: the normalised c_t */
    real *c_rstd; /* (B) */
} R(rnnlab_ln_step);

/* What backward of step t reads from the forward. */
typedef struct R(rnnlab_step_cache) {
    const real *gates;  /* (B, G*H) gate activations (rnn: the pre-activation z) */
    const real *extra;  /* (B, H) lstm tanh(c_t) (or of its normalisation); gru reset_after the recurrent
                           n contribution + b_hn, reset_before r*h_{t-1} */
    const real *h;      /* (B, H) h_t */
    const real *c;      /* (B, H) c_t (lstm) */
    const real *h_prev; /* (B, H) h_{t-1} */
    const real *c_prev; /* (B, H) c_{t-1} (lstm) */
    const R(rnnlab_ln_step) *ln; /* layer norm's cache, or NULL */
    int one_row;        /* 1: every row b reads row 0 of the arrays above (the Jacobian view's rows are
                           cotangents of one sample's state); backward only, and only with ln NULL */
    int prefetch;       /* 1: backward, row by row, also asks for the same row of step t-1 in each
                           (T, B, n) array it reads (rnnlab_prefetch_prev): set by bptt.c for t > 0
                           when the cache streams from memory; a hint, never a change of values */
} R(rnnlab_step_cache);

/* Asks for the cache lines of the row of n values one step earlier than p, in a time-major (T, B, n)
 * array: step elements (B n) before it. The reverse sweep reads a long sequence's cache from memory
 * step by step backwards, which the hardware prefetchers do not follow; asking row by row spreads
 * the requests over the step's work instead of sending them all at once (W3 LSTM, T = 10000: the
 * backward 31.4 -> 28.7 ms a pass against one burst of the whole step, best of 10 interleaved). */
static inline void R(rnnlab_prefetch_prev)(const real *p, size_t step, size_t n)
{
    const char *q = (const char *)(p - step);
    for (size_t o = 0; o < n * sizeof(real); o += 64) __builtin_prefetch(q + o, 0, 3);
}

/* Layer normalisation's epsilon (PyTorch's nn.LayerNorm and nn.BatchNorm1d default). */
#define RNNLAB_NORM_EPS 1e-5

/*
 * The recurrent product of a cell, shared by all cells: out (B, n) gets h_in (B, H) U^T for n rows of
 * U, given as the n columns of Ut = U^T (H, ldu) (beta = 1 adds, 0 overwrites). With layer normalisation (gain != NULL) each block of H units
 * of the product is normalised over its units (Ba, Kiros & Hinton 2016, eq. 15-16; per gate block,
 * so the reset_before GRU's n block, computed after r, has its own statistics) and multiplied by the
 * gain; the normalised values go to hat and 1/std to rstd. out, hat share leading dimension ld; rstd
 * has leading dimension ld_rstd (one value per block).
 */
void R(rnnlab_rec_forward)(real *out, const real *h_in, const real *Ut, int ldu, int n, int beta, const real *gain,
                           real *hat, real *rstd, int ld, int ld_rstd, int B, int H);

/*
 * Its reverse: d (B, n) holds dL/d(contribution) on entry and dL/d(h_in U^T) on exit; dh_in (B, H)
 * gets d U (beta = 1 adds). With layer normalisation, dgain and dbias (n, may be NULL) accumulate the
 * step's sums over b in sample order (so any thread count gives the same bits), and d goes through
 * the normalisation's backward: dx = rstd (dhat - mean(dhat) - hat mean(dhat hat)), dhat = d gain.
 */
void R(rnnlab_rec_backward)(real *dh_in, int beta, real *d, const real *U, int n, const real *gain, const real *hat,
                            const real *rstd, int ld, int ld_rstd, real *dgain, real *dbias, int B, int H);

/* Layer normalisation of one vector v (n) in place: v <- (v - mean) * rstd, returns rstd. */
real R(rnnlab_ln_normalize)(real *v, int n);

/* Its backward for one vector: d (n) holds dL/dhat on entry and dL/dv on exit. */
void R(rnnlab_ln_backward)(real *d, const real *hat, real rstd, int n);

/*
 * forward: one step of one layer for all B samples.
 *   in:  gates (B, G*H) holding x_t W^T + b_ih; h_prev, c_prev (B, H)
 *   out: h, c (B, H); gates overwritten with the activations backward needs; extra (B, H)
 *   scratch (B, G*H) is overwritten. c, c_prev are NULL for rnn and gru.
 *   ln: layer norm's cache for this step (NULL without layer norm).
 * backward: the reverse of forward for one step.
 *   in:  dh (B, H) the total dL/dh_t; dc (B, H) dL/dc_t through c_{t+1} (lstm; NULL otherwise)
 *   out (overwritten, not accumulated): dzx (B, G*H), dzh (B, G*H) (when the cell separates it, see
 *        rnnlab_cell_separate_dzh; otherwise dzh is not written and bptt.c uses dzx for both; with
 *        layer norm dzh is dL/d(U h), before the normalisation), dh_prev (B, H), dc_prev (B, H) and
 *        dc_total (B, H) = the total dL/dc_t (lstm), for the gradient taps.
 *   g: the gradients that are sums over steps of per-step terms (PReLU slopes, layer-norm gains,
 *      and with layer norm b_hh) are added here, sample by sample in order; NULL skips them (the
 *      Jacobian view calls backward on copies of the cache).
 *   scratch (B, G*H) is overwritten.
 * wgrad_hh: after all steps, adds dU (and dpeep) from all T*B rows.
 *   dZx (TB, G*H) the gate pre-activations' gradients (peepholes); dZh (TB, G*H) the recurrent
 *   product's (dU); Hprev (TB, H) = h_{t-1} rows; Cprev, Cnext (TB, H) = c_{t-1} and c_t rows (lstm;
 *   NULL otherwise); extra (TB, H) as cached.
 */
typedef struct R(rnnlab_cell_ops) {
    void (*forward)(real *h, real *c, real *gates, real *extra, const real *h_prev, const real *c_prev,
                    const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int B, int H, real *scratch,
                    const R(rnnlab_ln_step) *ln);
    void (*backward)(real *dh_prev, real *dc_prev, real *dzx, real *dzh, real *dc_total, R(rnnlab_layer_grad) *g,
                     const real *dh, const real *dc, const R(rnnlab_step_cache) *cache, const R(rnnlab_layer) *p,
                     const rnnlab_cell_opts *o, int B, int H, real *scratch);
    void (*wgrad_hh)(R(rnnlab_layer_grad) *g, const real *dZx, const real *dZh, const real *Hprev, const real *Cprev,
                     const real *Cnext, const real *extra, const R(rnnlab_layer) *p, const rnnlab_cell_opts *o, int TB,
                     int H);
    int separate_dzh; /* 1 if backward writes dzh apart from dzx (gru reset_after) */
    int has_c;        /* 1 for lstm */
    int has_extra;    /* 1 if forward writes extra */
} R(rnnlab_cell_ops);

/* The ops of a cell kind with its options (the GRU's two variants share one table). */
const R(rnnlab_cell_ops) *R(rnnlab_cell_ops_get)(rnnlab_cell_kind kind, const rnnlab_cell_opts *o);

/* 1 if backward writes dzh apart from dzx: the reset_after GRU, and every cell with layer norm. */
int R(rnnlab_cell_separate_dzh)(const R(rnnlab_cell_ops) *ops, const rnnlab_cell_opts *o);

/* Shared by the cells whose recurrent input is h_{t-1} for every gate block: dU += dZh^T Hprev. */
void R(rnnlab_wgrad_hh_plain)(real *dU, const real *dZh, const real *Hprev, int TB, int GH, int H);

extern const R(rnnlab_cell_ops) R(rnnlab_rnn_ops), R(rnnlab_lstm_ops), R(rnnlab_gru_ops), R(rnnlab_gru_before_ops);

#endif
