/*
 * rnnlab/optim.h - optimizers, learning-rate schedules and gradient clipping, on the model's flat
 * parameter and gradient blocks.
 *
 * Parameters, gradients and optimizer state are blocks of n = m->n_params elements with one layout
 * and the model's precision, so every optimizer is a single loop over n (STYLE.md, 5). Semantics,
 * defaults and the order of operations are PyTorch's torch.optim (2.x, the single-tensor "for-loop"
 * implementations, maximize = False, no amsgrad); the formulas are written out below with g the
 * gradient, p the parameter, t the 1-based update count and lr the step's learning rate:
 *
 *   sgd       g <- g + wd p
 *             momentum mu != 0:  b <- g                            (t = 1)
 *                                b <- mu b + (1 - dampening) g     (t > 1)
 *                                g <- g + mu b   (nesterov)   or   g <- b
 *             p <- p - lr g
 *             defaults lr 1e-3, mu 0, dampening 0, nesterov off, wd 0      (torch.optim.SGD; Sutskever,
 *             Martens, Dahl & Hinton 2013 for Nesterov momentum in this form)
 *   rmsprop   g <- g + wd p
 *             v <- alpha v + (1 - alpha) g^2
 *             centered:  a <- alpha a + (1 - alpha) g;   d = sqrt(v - a^2) + eps;   else d = sqrt(v) + eps
 *             momentum mu > 0:  b <- mu b + g / d;  p <- p - lr b;      else  p <- p - lr g / d
 *             defaults lr 1e-2, alpha 0.99, eps 1e-8, mu 0, centered off, wd 0   (torch.optim.RMSprop;
 *             Hinton, Srivastava & Swersky 2012, lecture 6e; centered: Graves 2013, eq. 38-45)
 *   adam      g <- g + wd p                                  (L2 penalty in the gradient, as torch.optim.Adam)
 *   adamw     p <- p (1 - lr wd)                             (decoupled decay, torch.optim.AdamW;
 *                                                             Loshchilov & Hutter 2019)
 *             m <- m + (1 - beta1) (g - m)                   (torch's lerp)
 *             v <- beta2 v + (1 - beta2) g^2
 *             p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *             defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0 (adam) or 1e-2 (adamw)
 *             (Kingma & Ba 2015, Algorithm 1, with eps outside the bias-corrected square root as torch)
 *
 * Weight decay applies to every parameter, biases included (one torch parameter group). The
 * arithmetic runs in the model's precision; scalar coefficients (bias corrections, 1 - alpha, ...)
 * are computed in double and rounded once, as torch passes Python floats to its kernels.
 *
 * Learning-rate schedules (closed forms of torch.optim.lr_scheduler, with `step` the number of
 * updates done before this one, torch's last_epoch when scheduler.step() follows every
 * optimizer.step()):
 *   constant   lr = base
 *   step       lr = base * gamma^floor(step / step_size)                        (StepLR)
 *   cosine     lr = eta_min + (base - eta_min) (1 + cos(pi step / t_max)) / 2    (CosineAnnealingLR's
 *              closed form; Loshchilov & Hutter 2017, SGDR eq. 5 without restarts). Past t_max the
 *              closed form rises again, as torch's does.
 *
 * Gradient clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1), once per update, on the
 * gradients of the whole minibatch:
 *   global_norm   n = ||g||_2 over every parameter; coef = max / (n + 1e-6); if coef < 1 every
 *                 gradient is multiplied by coef (torch.nn.utils.clip_grad_norm_)
 *   tensor_norm   the same rule applied to each parameter tensor on its own
 *   value         every gradient element clamped to [-max, max] (torch.nn.utils.clip_grad_value_)
 * Norms are accumulated in double, tensor by tensor in the model's order and element by element
 * in memory order, with scaling (so values near 1e-300 or 1e300 neither underflow nor overflow):
 * the same bits for any thread count.
 */
#ifndef RNNLAB_OPTIM_H
#define RNNLAB_OPTIM_H

#include <stddef.h>

#include "rnnlab/model.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- optimizers */

typedef enum rnnlab_optim_kind {
    RNNLAB_OPTIM_SGD = 0,
    RNNLAB_OPTIM_RMSPROP,
    RNNLAB_OPTIM_ADAM,
    RNNLAB_OPTIM_ADAMW,
    RNNLAB_OPTIM_COUNT
} rnnlab_optim_kind;

/* "sgd", "rmsprop", "adam", "adamw"; "?" for invalid values. */
const char *rnnlab_optim_name(rnnlab_optim_kind k);
/* Errors: RNNLAB_ERR_CONFIG listing the names. */
rnnlab_status rnnlab_optim_parse(const char *name, rnnlab_optim_kind *k);

typedef struct rnnlab_optim_config {
    rnnlab_optim_kind kind;
    double lr;           /* base learning rate, >= 0 */
    double momentum;     /* sgd, rmsprop: mu >= 0 */
    double dampening;    /* sgd */
    int nesterov;        /* sgd: needs momentum > 0 and dampening = 0 (as torch) */
    double weight_decay; /* >= 0; L2 in the gradient, or decoupled for adamw */
    double alpha;        /* rmsprop smoothing constant in [0, 1) */
    int centered;        /* rmsprop */
    double eps;          /* rmsprop, adam, adamw: >= 0 */
    double beta1, beta2; /* adam, adamw: in [0, 1) */
} rnnlab_optim_config;

/* Fills *cfg with torch's defaults for kind (listed at the top of this file). */
void rnnlab_optim_config_init(rnnlab_optim_config *cfg, rnnlab_optim_kind kind);

/* Checks the range of every field, those the kind does not use included (so a configuration is valid
 * whatever kind it is switched to), with torch's bounds. Errors: RNNLAB_ERR_CONFIG naming the field and
 * value. */
rnnlab_status rnnlab_optim_config_check(const rnnlab_optim_config *c);

#define RNNLAB_OPTIM_STATE_BLOCKS 3

/*
 * An optimizer's state: RNNLAB_OPTIM_STATE_BLOCKS blocks of n elements of the model's precision,
 * in the parameters' layout, zero until used:
 *   sgd       state[0] momentum_buffer
 *   rmsprop   state[0] square_avg, state[1] momentum_buffer, state[2] grad_avg (centered)
 *   adam(w)   state[0] exp_avg, state[1] exp_avg_sq
 * (torch's state_dict names). The fields may be read; checkpoints write and restore them.
 */
typedef struct rnnlab_optim {
    rnnlab_optim_config cfg;
    rnnlab_dtype dtype;
    size_t n;                              /* elements per block (the model's n_params) */
    long step;                             /* updates done */
    void *state[RNNLAB_OPTIM_STATE_BLOCKS]; /* (n) each, dtype, owned */
} rnnlab_optim;

/* torch's name of state block k for kind ("exp_avg", ...), or NULL when the kind does not use it. */
const char *rnnlab_optim_state_name(rnnlab_optim_kind kind, int k);

/*
 * rnnlab_optim_create - an optimizer for model m (its n_params and precision), state zero, step 0.
 *
 * Memory:  *out is owned by the caller (rnnlab_optim_free); 3 blocks of n elements.
 * Errors:  RNNLAB_ERR_CONFIG (rnnlab_optim_config_check), RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_optim_create(rnnlab_optim **out, const rnnlab_model *m, const rnnlab_optim_config *cfg);
void rnnlab_optim_free(rnnlab_optim *o);

/*
 * rnnlab_optim_step - one update of m's parameters from m's gradients with learning rate lr (the
 * schedule's value for this update; cfg.lr is only the base). Increments o->step first, so the
 * first update has t = 1.
 *
 * Memory:  allocates nothing; reads m->grads (weight decay is added to a private copy of each
 *          element, the gradient block is not changed).
 * Errors:  RNNLAB_ERR_SHAPE if m's size or precision differs from the optimizer's;
 *          RNNLAB_ERR_CONFIG for lr < 0 or not finite. Nothing is changed on error.
 */
rnnlab_status rnnlab_optim_step(rnnlab_optim *o, rnnlab_model *m, double lr);

/* ---------------------------------------------------------------- schedules */

typedef enum rnnlab_schedule_kind {
    RNNLAB_SCHEDULE_CONSTANT = 0,
    RNNLAB_SCHEDULE_STEP,
    RNNLAB_SCHEDULE_COSINE,
    RNNLAB_SCHEDULE_COUNT
} rnnlab_schedule_kind;

const char *rnnlab_schedule_name(rnnlab_schedule_kind k); /* "constant", "step", "cosine" */
rnnlab_status rnnlab_schedule_parse(const char *name, rnnlab_schedule_kind *k);

typedef struct rnnlab_schedule {
    rnnlab_schedule_kind kind;
    long step_size; /* step: updates per decay, >= 1 (default 1000) */
    double gamma;   /* step: factor, > 0 (default 0.1, torch's) */
    long t_max;     /* cosine: updates of the half period, >= 1 (default 0: the caller's total) */
    double eta_min; /* cosine: the floor, >= 0 (default 0) */
} rnnlab_schedule;

/* constant; step_size 1000, gamma 0.1, t_max 0, eta_min 0. */
void rnnlab_schedule_init(rnnlab_schedule *s);
/* Errors: RNNLAB_ERR_CONFIG naming the field (t_max must be set, >= 1, for cosine). */
rnnlab_status rnnlab_schedule_check(const rnnlab_schedule *s);

/* The learning rate of the update that follows `step` updates (step >= 0), by the closed forms at
 * the top of this file, for a schedule that rnnlab_schedule_check accepts; NaN for one it would refuse
 * (step_size or t_max below 1) or a negative step. */
double rnnlab_schedule_lr(const rnnlab_schedule *s, double base_lr, long step);

/* ---------------------------------------------------------------- clipping */

typedef enum rnnlab_clip_kind {
    RNNLAB_CLIP_NONE = 0,
    RNNLAB_CLIP_GLOBAL_NORM, /* the default of a training run */
    RNNLAB_CLIP_TENSOR_NORM,
    RNNLAB_CLIP_VALUE,
    RNNLAB_CLIP_COUNT
} rnnlab_clip_kind;

const char *rnnlab_clip_name(rnnlab_clip_kind k); /* "none", "global_norm", "tensor_norm", "value" */
rnnlab_status rnnlab_clip_parse(const char *name, rnnlab_clip_kind *k);

typedef struct rnnlab_clip_result {
    double global_norm;    /* ||g||_2 over every parameter, before clipping */
    int fired;             /* 1 if any gradient element was changed */
    int tensors_clipped;   /* tensors with a changed element */
} rnnlab_clip_result;

/*
 * rnnlab_clip_grads - measures and clips m's gradients in place (rules at the top of this file).
 *
 * Writes:  tensor_norms[i] = ||g_i||_2 before clipping for every tensor i (n_tensors values; may be
 *          NULL), and *out (may be NULL). kind = none only measures.
 * Memory:  allocates nothing.
 * Errors:  RNNLAB_ERR_CONFIG for max <= 0 or not finite (kinds other than none);
 *          RNNLAB_ERR_NUMERIC if a gradient is not finite: the message names the first such tensor,
 *          the norms are still written (inf or nan) and no gradient is changed.
 * Source:  Pascanu, Mikolov & Bengio 2013, Sec. 3.2 / Algorithm 1; torch.nn.utils.clip_grad_norm_
 *          and clip_grad_value_.
 */
rnnlab_status rnnlab_clip_grads(rnnlab_model *m, rnnlab_clip_kind kind, double max, double *tensor_norms,
                                rnnlab_clip_result *out);

/* The 2-norm of m's parameters of tensor i (double accumulation with scaling, as the gradient
 * norms); i out of range gives NAN. */
double rnnlab_param_norm(const rnnlab_model *m, int i);

#ifdef __cplusplus
}
#endif
#endif
