/*
 * rnnlab/init.h - parameter initialisation schemes, each with its source.
 *
 * Every weight matrix is drawn per gate block: a block is the (H, I_l) or (H, H) slice of W or U
 * that feeds one gate, so fan_in = I_l (or H) and fan_out = H for every block, never the stacked
 * (G*H) rows. Schemes (names as accepted by rnnlab_init_scheme_parse):
 *
 *   pytorch         U(-k, k), k = 1/sqrt(H), for weights and biases (PyTorch nn.RNN/LSTM/GRU
 *                   reset_parameters)
 *   glorot_uniform  U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010, eq. 16)
 *   glorot_normal   N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))  (Glorot & Bengio 2010)
 *   he_uniform      U(-a, a), a = gain * sqrt(6 / fan_in)                (He et al. 2015, eq. 10)
 *   he_normal       N(0, s^2), s = gain * sqrt(2 / fan_in)               (He et al. 2015, eq. 10)
 *   orthogonal      gain * Q, Q from the QR decomposition of a Gaussian block, signs fixed by
 *                   diag(R) so that Q is Haar-distributed (Saxe, McClelland & Ganguli 2014;
 *                   Mezzadri 2007); a non-square block gets orthonormal rows or columns
 *   identity        gain * identity_scale * I, square blocks only (IRNN: Le, Jaitly & Hinton 2015)
 *   normal          N(0, s^2), s = gain * normal_std (Le et al. 2015 use 0.001 for IRNN inputs)
 *   zero            all zeros
 *
 * "gain" multiplies every weight matrix (W and U; not biases). The LSTM forget-gate bias
 * (Gers et al. 2000; Jozefowicz, Zaremba & Sutskever 2015 recommend 1) is written once: the forget
 * block of bias_ih gets the value and that of bias_hh gets 0, so the gate sees exactly the value.
 * The head (Linear) always uses PyTorch's nn.Linear default, U(-1/sqrt(H), 1/sqrt(H)).
 */
#ifndef RNNLAB_INIT_H
#define RNNLAB_INIT_H

#include "rnnlab/model.h"
#include "rnnlab/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_init_scheme {
    RNNLAB_INIT_PYTORCH = 0,
    RNNLAB_INIT_GLOROT_UNIFORM,
    RNNLAB_INIT_GLOROT_NORMAL,
    RNNLAB_INIT_HE_UNIFORM,
    RNNLAB_INIT_HE_NORMAL,
    RNNLAB_INIT_ORTHOGONAL,
    RNNLAB_INIT_IDENTITY,
    RNNLAB_INIT_NORMAL,
    RNNLAB_INIT_ZERO,
    RNNLAB_INIT_COUNT
} rnnlab_init_scheme;

typedef struct rnnlab_init_config {
    rnnlab_init_scheme weight_ih; /* input-to-hidden blocks */
    rnnlab_init_scheme weight_hh; /* recurrent blocks */
    rnnlab_init_scheme bias;      /* pytorch (U(-k,k)) or zero; other schemes are refused */
    double gain;                  /* multiplies W and U; default 1 */
    double identity_scale;        /* IRNN scale; default 1 */
    double normal_std;            /* std of the "normal" scheme; default 0.001 */
    double forget_bias;           /* LSTM forget-gate bias; NAN (default) leaves the bias scheme's */
} rnnlab_init_config;

/* The defaults: everything pytorch, gain 1, identity_scale 1, normal_std 0.001, forget_bias NAN. */
void rnnlab_init_config_init(rnnlab_init_config *cfg);

/*
 * Sets *cfg from one scheme name, as the `init` key of an experiment file does:
 *   pytorch                      everything U(-1/sqrt(H), 1/sqrt(H))
 *   glorot_*, he_*               W and U by that scheme, biases zero
 *   orthogonal                   U orthogonal; W and biases as pytorch (only the recurrent matrix
 *                                differs from the default, so a comparison isolates it)
 *   identity                     U = identity_scale * I, W ~ N(0, 0.001^2), biases zero
 *                                (Le et al. 2015, Section 3: IRNN)
 *   normal, zero                 W and U by that scheme, biases zero
 * Fields other than the three schemes are left as they are.
 */
void rnnlab_init_config_preset(rnnlab_init_config *cfg, rnnlab_init_scheme scheme);

const char *rnnlab_init_scheme_name(rnnlab_init_scheme s);
/* Also accepts "default" (= pytorch), "xavier_uniform", "xavier_normal", "kaiming_uniform",
 * "kaiming_normal", "irnn" (= identity). Errors: RNNLAB_ERR_CONFIG listing the names. */
rnnlab_status rnnlab_init_scheme_parse(const char *name, rnnlab_init_scheme *s);

/*
 * rnnlab_model_init - draws every parameter of m from rng according to cfg.
 *
 * Order of draws: layer 0 (W blocks in gate order, U blocks, b_ih, b_hh, peepholes), layer 1, ...,
 * head weight, head bias; so a seed fixes the model on any thread count.
 * Peepholes are drawn like biases (pytorch: U(-k, k); otherwise zero).
 * Errors: RNNLAB_ERR_CONFIG for identity on a non-square block (W of layer 0 when I != H), a bias
 *         scheme other than pytorch/zero, a non-finite gain, or a forget_bias on a non-LSTM;
 *         RNNLAB_ERR_NOMEM; on these the parameters are unchanged. RNNLAB_ERR_NUMERIC if LAPACK's QR
 *         fails during an orthogonal draw (it does not for a finite Gaussian matrix), after which the
 *         parameters drawn so far have been stored.
 */
rnnlab_status rnnlab_model_init(rnnlab_model *m, const rnnlab_init_config *cfg, rnnlab_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
