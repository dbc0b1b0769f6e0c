/*
 * rnnlab/model.h - an L-layer stack of one cell type with a linear readout (head).
 *
 * Shapes (letters as everywhere in rnnlab: B batch, T steps, I input size, H hidden size,
 * G gates (1 rnn, 4 lstm, 3 gru), L layers, O outputs):
 *
 *   layer l (0-based), I_l = I for l = 0 and H above it:
 *     weight_ih_l{l}       (G*H, I_l)   W, gate blocks stacked as in PyTorch (LSTM i,f,g,o; GRU r,z,n)
 *     weight_hh_l{l}       (G*H, H)     U
 *     bias_ih_l{l}         (G*H)        b_ih
 *     bias_hh_l{l}         (G*H)        b_hh
 *     weight_peephole_l{l} (3, H)       LSTM with peepholes only: rows p_i, p_f, p_o
 *     prelu_slope_l{l}     (H)          rnn with activation prelu: the learned slopes (init 0.25)
 *     ln_ih_gain_l{l}      (G*H)        norm = layer: gains of the normalised input product (init 1)
 *     ln_hh_gain_l{l}      (G*H)        norm = layer: gains of the normalised recurrent product (init 1)
 *     ln_c_gain_l{l}       (H)          norm = layer, lstm: gain of the normalised cell state (init 1)
 *     ln_c_bias_l{l}       (H)          norm = layer, lstm: its bias (init 0)
 *     bn_gain_l{l}         (G*H)        norm = batch: gains of the batch-normalised input product (init 1)
 *   head_weight            (O, H)       y_t = head_weight h^{L-1}_t + head_bias
 *   head_bias              (O)
 * and, not learned, in the double block `buffers`: bn_running_mean_l{l}, bn_running_var_l{l} (G*H)
 * for norm = batch (init 0 and 1).
 *
 * The tensors are stored one after another, in the order above, in one block of n_params
 * elements of the model's precision (row-major); gradients use the same layout in a second block.
 * Layer l > 0 takes as input the hidden state of layer l-1 at the same step (PyTorch's
 * convention). Parameter names are PyTorch's, so a state_dict maps one to one (add "rnn." to the
 * layer tensors and rename head_* to your Linear's names).
 */
#ifndef RNNLAB_MODEL_H
#define RNNLAB_MODEL_H

#include <stddef.h>

#include "rnnlab/cell.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_dtype {
    RNNLAB_FLOAT32 = 0, /* the speed choice for training (the model's default is float64) */
    RNNLAB_FLOAT64      /* gradient checks and decay measurements */
} rnnlab_dtype;

/* "float32" / "float64"; "?" for invalid values. */
const char *rnnlab_dtype_name(rnnlab_dtype d);
/* Accepts float32, f32, float, float64, f64, double. Errors: RNNLAB_ERR_CONFIG. */
rnnlab_status rnnlab_dtype_parse(const char *name, rnnlab_dtype *d);
/* Size of one element in bytes (4 or 8). */
size_t rnnlab_dtype_size(rnnlab_dtype d);

/* Normalisation inside the cells (include/rnnlab/cell.h gives the equations). */
typedef enum rnnlab_norm {
    RNNLAB_NORM_NONE = 0,
    RNNLAB_NORM_LAYER, /* layer normalisation of each gate block's two products and of c_t (Ba, Kiros & Hinton 2016) */
    RNNLAB_NORM_BATCH, /* batch normalisation of W x over batch and time (Laurent et al. 2016, "Batch
                          normalized recurrent neural networks") with running statistics for evaluation */
    RNNLAB_NORM_COUNT
} rnnlab_norm;

/* "none", "layer", "batch"; "?" for invalid values. */
const char *rnnlab_norm_name(rnnlab_norm n);
rnnlab_status rnnlab_norm_parse(const char *name, rnnlab_norm *n);

typedef struct rnnlab_model_config {
    rnnlab_cell_kind cell;
    rnnlab_activation activation;   /* rnn only; default tanh */
    double leaky_alpha;             /* leaky_relu slope for z < 0; default 0.01 (PyTorch) */
    rnnlab_gru_variant gru_variant; /* gru only; default reset_after */
    int peephole;                   /* lstm only: 1 adds diagonal peepholes; default 0 */
    int input_size;                 /* I >= 1 */
    int hidden_size;                /* H >= 1 */
    int num_layers;                 /* L >= 1 */
    int output_size;                /* O >= 1 */
    rnnlab_dtype dtype;             /* default float64 */
    rnnlab_norm norm;               /* default none */
    int residual;                   /* 1: layers l >= 1 add their input: h^l_t + h^{l-1}_t is what the layer
                                       above (or the head) sees; needs L >= 2; default 0 (He et al. 2016) */
    double dropout;                 /* probability in [0, 1) of zeroing each element of the input of layers
                                       l >= 1 and of the head, in training mode only (Zaremba, Sutskever &
                                       Vinyals 2014: between layers, not through time); default 0 */
} rnnlab_model_config;

/* Fills *cfg with the defaults: rnn, tanh, alpha 0.01, reset_after, no peepholes, I = 1, H = 32,
 * L = 1, O = 1, float64. */
void rnnlab_model_config_init(rnnlab_model_config *cfg);

/* Checks every field (sizes from 1 to 2^20, num_layers at most 1024, enums in range, alpha finite, options that
 * do not apply to the cell left at their defaults are accepted).
 * Errors: RNNLAB_ERR_CONFIG naming the field and the bad value. */
rnnlab_status rnnlab_model_config_check(const rnnlab_model_config *cfg);

/* What a tensor is for; a layer has the first four always and the others when its options ask. */
typedef enum rnnlab_tensor_role {
    RNNLAB_ROLE_W = 0,     /* weight_ih */
    RNNLAB_ROLE_U,         /* weight_hh */
    RNNLAB_ROLE_B_IH,      /* bias_ih */
    RNNLAB_ROLE_B_HH,      /* bias_hh */
    RNNLAB_ROLE_PEEPHOLE,  /* weight_peephole */
    RNNLAB_ROLE_PRELU,     /* prelu_slope */
    RNNLAB_ROLE_LN_IH,     /* ln_ih_gain */
    RNNLAB_ROLE_LN_HH,     /* ln_hh_gain */
    RNNLAB_ROLE_LN_C_GAIN, /* ln_c_gain */
    RNNLAB_ROLE_LN_C_BIAS, /* ln_c_bias */
    RNNLAB_ROLE_BN_GAIN,   /* bn_gain */
    RNNLAB_ROLE_BN_MEAN,   /* buffer bn_running_mean */
    RNNLAB_ROLE_BN_VAR,    /* buffer bn_running_var */
    RNNLAB_ROLE_HEAD_W,    /* head_weight */
    RNNLAB_ROLE_HEAD_B,    /* head_bias */
    RNNLAB_ROLE_COUNT
} rnnlab_tensor_role;

/* One named parameter tensor inside the parameter block. */
typedef struct rnnlab_tensor_info {
    char name[32];  /* PyTorch's name, e.g. "weight_hh_l1" */
    rnnlab_tensor_role role;
    int layer;      /* 0..L-1, or -1 for the head */
    int ndim;       /* 1 or 2 */
    int dims[2];    /* rows, cols (dims[1] = 1 when ndim = 1) */
    size_t offset;  /* first element in the parameter block */
    size_t numel;   /* dims[0] * dims[1] */
} rnnlab_tensor_info;

/* A model: configuration, tensor table, parameters and gradients. Create with rnnlab_model_create
 * and free with rnnlab_model_free; the struct's fields may be read but not changed. */
typedef struct rnnlab_model {
    rnnlab_model_config cfg;
    int G;                       /* gates per cell */
    int n_tensors;
    rnnlab_tensor_info *tensors; /* (n_tensors), owned */
    size_t n_params;             /* total elements */
    void *params;                /* (n_params) of cfg.dtype, owned */
    void *grads;                 /* (n_params) of cfg.dtype, same layout, owned */
    int *role_index;             /* ((L + 1) * RNNLAB_ROLE_COUNT) tensor index by (layer, role), -1 if absent;
                                    row L is the head. Use rnnlab_model_tensor_of. */
    int n_buffer_tensors;        /* state that is not learned (batch-norm running statistics) */
    rnnlab_tensor_info *buffer_tensors; /* (n_buffer_tensors), owned; offsets into buffers */
    size_t n_buffers;            /* total elements of buffers (0 without batch norm) */
    double *buffers;             /* (n_buffers) always double, owned; saved in checkpoints */
} rnnlab_model;

/*
 * rnnlab_model_create - allocates a model with all parameters and gradients zero.
 *
 * Memory: *out is owned by the caller; free it with rnnlab_model_free.
 * Errors:  RNNLAB_ERR_CONFIG (see rnnlab_model_config_check), RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_model_create(rnnlab_model **out, const rnnlab_model_config *cfg);

/* Frees a model; NULL is allowed. */
void rnnlab_model_free(rnnlab_model *m);

/* Index of the tensor called `name`, or -1. */
int rnnlab_model_find(const rnnlab_model *m, const char *name);

/* Index of layer l's tensor with that role (l = -1 for the head), or -1 if the model has none. For
 * the buffer roles (BN_MEAN, BN_VAR) the index is into m->buffer_tensors. */
int rnnlab_model_tensor_of(const rnnlab_model *m, int l, rnnlab_tensor_role role);

/* Layer l's tensor sizes summed in quadrature: the 2-norm of all its parameter gradients, from
 * per-tensor norms (n_tensors values, e.g. rnnlab_taps.param_norm); l = -1 for the head. */
double rnnlab_model_layer_norm(const rnnlab_model *m, int l, const double *tensor_norms);

/*
 * Copy one tensor (index i) of the parameters or of the gradients out to, or in from, a double
 * array of its numel elements (converting from/to float32 where the model is float32).
 * Errors: RNNLAB_ERR_SHAPE if i is out of range.
 */
rnnlab_status rnnlab_model_get(const rnnlab_model *m, int i, double *out);
rnnlab_status rnnlab_model_set(rnnlab_model *m, int i, const double *in);
rnnlab_status rnnlab_model_get_grad(const rnnlab_model *m, int i, double *out);

/* Element j of the whole parameter block as a double, and setting it (j < n_params, unchecked). */
double rnnlab_model_param_at(const rnnlab_model *m, size_t j);
void rnnlab_model_param_set_at(rnnlab_model *m, size_t j, double v);
/* Element j of the gradient block as a double (unchecked). */
double rnnlab_model_grad_at(const rnnlab_model *m, size_t j);

/* Copies every parameter from src to dst, converting precision; both must have the same
 * architecture (everything in the config but dtype). Errors: RNNLAB_ERR_SHAPE. */
rnnlab_status rnnlab_model_copy_params(rnnlab_model *dst, const rnnlab_model *src);

/* Sets every gradient to zero. */
void rnnlab_model_zero_grad(rnnlab_model *m);

#ifdef __cplusplus
}
#endif
#endif
