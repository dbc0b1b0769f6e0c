/*
 * ops.h - elementwise activations, each a forward/backward pair (internal; include real.h first).
 *
 * The backward of each activation is written in terms of its output y where that is exact
 * (tanh: 1 - y^2, sigmoid: y (1 - y)), so caches hold outputs, not pre-activations.
 * ReLU and leaky ReLU follow PyTorch at the kink: the derivative at exactly 0 is 0 for relu and
 * alpha for leaky_relu (PyTorch's threshold_backward and leaky_relu_backward use z > 0).
 */
#ifndef RNNLAB_OPS_H
#define RNNLAB_OPS_H

#ifndef RNNLAB_REAL_H
#error "include core/real.h first"
#endif

#include "rnnlab/cell.h"

static inline real R(sigmoid)(real z) { return 1 / (1 + exp(-z)); }

/* y = act(z) */
static inline real R(act_forward)(rnnlab_activation act, real alpha, real z)
{
    switch (act) {
    case RNNLAB_ACT_TANH: return tanh(z);
    case RNNLAB_ACT_SIGMOID: return R(sigmoid)(z);
    case RNNLAB_ACT_RELU: return z > 0 ? z : 0;
    case RNNLAB_ACT_LEAKY_RELU: return z > 0 ? z : alpha * z;
    default: return z; /* identity */
    }
}

/* dact/dz from the output y = act(z); for leaky_relu with alpha > 0, y > 0 exactly when z > 0 */
static inline real R(act_deriv_from_output)(rnnlab_activation act, real alpha, real y)
{
    switch (act) {
    case RNNLAB_ACT_TANH: return 1 - y * y;
    case RNNLAB_ACT_SIGMOID: return y * (1 - y);
    case RNNLAB_ACT_RELU: return y > 0 ? 1 : 0;
    case RNNLAB_ACT_LEAKY_RELU: return y > 0 ? 1 : alpha;
    default: return 1;
    }
}

#endif
