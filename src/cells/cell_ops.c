/*
 * cell_ops.c - the per-precision table lookup of cell functions, and what the cells share.
 */
#include "core/real.h"
#include "cells/cells.h"
#include "core/gemm.h"

#include <stddef.h>


const R(rnnlab_cell_ops) *R(rnnlab_cell_ops_get)(rnnlab_cell_kind kind, const rnnlab_cell_opts *o)
{
    switch (kind) {
    case RNNLAB_CELL_RNN: return &R(rnnlab_rnn_ops);
    case RNNLAB_CELL_LSTM: return &R(rnnlab_lstm_ops);
    case RNNLAB_CELL_GRU:
        return o->gru_variant == RNNLAB_GRU_RESET_BEFORE ? &R(rnnlab_gru_before_ops) : &R(rnnlab_gru_ops);
    default: return NULL;
    }
}

void R(rnnlab_wgrad_hh_plain)(real *dU, const real *dZh, const real *Hprev, int TB, int GH, int H)
{
    /* dU (GH, H) += dZh^T (GH, TB) Hprev (TB, H): one product over all steps */
    R(rnnlab_gemm)(1, 0, GH, H, TB, 1, dZh, GH, Hprev, H, 1, dU, H);
}
