/*
 * rnnlab/cell.h - the recurrent cells: kinds, activations, GRU variants and their names.
 *
 * Every cell computes, per layer and step, gate pre-activations from two products and two bias
 * vectors exactly as PyTorch's nn.RNN / nn.LSTM / nn.GRU (so weights and results compare directly):
 *
 *     z_t = W x_t + b_ih  +  U h_{t-1} + b_hh      W = weight_ih (G*H, I), U = weight_hh (G*H, H)
 *
 * with G gate blocks of H rows stacked in PyTorch's order:
 *
 *   rnn  (G = 1)   h_t = act(z_t)                                    (Elman 1990)
 *                  act = tanh | sigmoid | relu | leaky_relu (slope alpha for z < 0) | identity
 *                        | prelu (a learned slope a_j for z < 0, per unit; He et al. 2015)
 *   lstm (G = 4)   i, f, g, o blocks                                 (Hochreiter & Schmidhuber 1997;
 *                  i = s(z_i [+ p_i*c_{t-1}])   f = s(z_f [+ p_f*c_{t-1}])   forget gate: Gers,
 *                  g = tanh(z_g)                c_t = f*c_{t-1} + i*g         Schmidhuber & Cummins 2000)
 *                  o = s(z_o [+ p_o*c_t])       h_t = o*tanh(c_t)
 *                  [..] optional diagonal peepholes p (3, H) (Gers & Schmidhuber 2000), s = sigmoid
 *   gru  (G = 3)   r, z, n blocks, h_t = (1 - z)*n + z*h_{t-1}
 *                  reset_after (default; PyTorch/cuDNN):
 *                      n = tanh(W_n x + b_in + r*(U_n h_{t-1} + b_hn))
 *                  reset_before (Cho et al. 2014, eq. 5-8; Chung et al. 2014, eq. 5-8):
 *                      n = tanh(W_n x + b_in + U_n (r*h_{t-1}) + b_hn)
 *
 * Names are what the CLI and experiment files accept: cells "rnn", "lstm", "gru", and the
 * PyTorch-style aliases "rnn_tanh" and "rnn_relu"; activations "tanh", "sigmoid", "relu",
 * "leaky_relu", "prelu", "identity" (alias "linear"); GRU variants "reset_after", "reset_before".
 */
#ifndef RNNLAB_CELL_H
#define RNNLAB_CELL_H

#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_cell_kind {
    RNNLAB_CELL_RNN = 0, /* vanilla (Elman) RNN, G = 1 */
    RNNLAB_CELL_LSTM,    /* LSTM with forget gate, G = 4 */
    RNNLAB_CELL_GRU,     /* GRU, G = 3 */
    RNNLAB_CELL_COUNT
} rnnlab_cell_kind;

typedef enum rnnlab_activation {
    RNNLAB_ACT_TANH = 0,
    RNNLAB_ACT_SIGMOID,
    RNNLAB_ACT_RELU,
    RNNLAB_ACT_LEAKY_RELU, /* z for z > 0, alpha*z otherwise */
    RNNLAB_ACT_IDENTITY,   /* linear RNN */
    RNNLAB_ACT_PRELU,      /* z for z > 0, a_j*z otherwise, a learned slope per unit (He et al. 2015),
                              parameter prelu_slope_l{l} (H), initialised to 0.25 */
    RNNLAB_ACT_COUNT
} rnnlab_activation;

typedef enum rnnlab_gru_variant {
    RNNLAB_GRU_RESET_AFTER = 0, /* PyTorch/cuDNN: r * (U_n h + b_hn) */
    RNNLAB_GRU_RESET_BEFORE,    /* Cho et al. 2014: U_n (r * h) + b_hn */
    RNNLAB_GRU_VARIANT_COUNT
} rnnlab_gru_variant;

/* Number of gate blocks G of a cell kind (1, 4, 3); 0 for an invalid kind. */
int rnnlab_cell_gates(rnnlab_cell_kind kind);

/* Canonical names ("rnn", "lstm", "gru"; "tanh", ...; "reset_after", ...). Never NULL: invalid
 * values give "?". */
const char *rnnlab_cell_name(rnnlab_cell_kind kind);
const char *rnnlab_activation_name(rnnlab_activation act);
const char *rnnlab_gru_variant_name(rnnlab_gru_variant v);

/* The PyTorch-style label of a cell with its activation: "rnn_tanh", "rnn_relu", "rnn_sigmoid",
 * "rnn_leaky_relu", "rnn_identity", "rnn_prelu", "lstm", "gru". Never NULL. */
const char *rnnlab_cell_label(rnnlab_cell_kind kind, rnnlab_activation act);

/*
 * Parses a cell name. "rnn_tanh" and "rnn_relu" (and "rnn_<activation>" for every activation and
 * alias, "rnn_linear" for "rnn_identity" too) set
 * *act as well and return *act_set = 1; plain names leave *act untouched and set *act_set = 0.
 * act and act_set may be NULL when the caller does not want them.
 * Errors: RNNLAB_ERR_CONFIG with a message listing the accepted names; name or kind NULL:
 * RNNLAB_ERR_CONFIG ("function: argument must not be NULL", as for the two below).
 */
rnnlab_status rnnlab_cell_parse(const char *name, rnnlab_cell_kind *kind, rnnlab_activation *act,
                                int *act_set);
/* Parses an activation name (the list above; "linear" for "identity") into *act, and a GRU variant
 * name ("reset_after", "reset_before") into *v. Errors: RNNLAB_ERR_CONFIG naming the accepted
 * names. */
rnnlab_status rnnlab_activation_parse(const char *name, rnnlab_activation *act);
rnnlab_status rnnlab_gru_variant_parse(const char *name, rnnlab_gru_variant *v);

#ifdef __cplusplus
}
#endif
#endif
