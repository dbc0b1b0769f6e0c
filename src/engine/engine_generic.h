/*
 * engine_generic.h - per-precision helpers shared by bptt.c and diag.c (internal; include
 * core/real.h and cells/cells.h first).
 */
#ifndef RNNLAB_ENGINE_GENERIC_H
#define RNNLAB_ENGINE_GENERIC_H

#include "engine/bptt_ws.h"

/* The cell options of a model. */
rnnlab_cell_opts R(rnnlab_cell_opts_of)(const rnnlab_model *m);

/* Read-only views of layer l's parameters (NULL for the options the model does not have). */
void R(rnnlab_layer_view)(const rnnlab_model *m, int l, R(rnnlab_layer) *p);

/* Layer norm's cache of layer l at step t (all NULL without layer norm). */
R(rnnlab_ln_step) R(rnnlab_ln_step_of)(const rnnlab_bptt *ws, int l, int t);

#endif
