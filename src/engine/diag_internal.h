/*
 * diag_internal.h - the per-precision builds of diag.c (internal); diag_api.c dispatches.
 */
#ifndef RNNLAB_DIAG_INTERNAL_H
#define RNNLAB_DIAG_INTERNAL_H

#include "rnnlab/diag.h"

#define RNNLAB_DIAG_DECLARE(S)                                                                                  \
    long rnnlab_diag_saturation_impl##S(const rnnlab_bptt *ws, const rnnlab_model *m, int l0, int l1, int nb,  \
                                        rnnlab_saturation *out);                                               \
    rnnlab_status rnnlab_diag_jacobian_impl##S(const rnnlab_bptt *ws, const rnnlab_model *m, int l, int n_samples, \
                                               double *norm, double *log10_norm);
RNNLAB_DIAG_DECLARE(_f32)
RNNLAB_DIAG_DECLARE(_f64)
#undef RNNLAB_DIAG_DECLARE

#endif
