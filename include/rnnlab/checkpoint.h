/*
 * rnnlab/checkpoint.h - saving and loading a model with its optimizer state (a versioned,
 * checksummed binary file), and exporting / importing weights in PyTorch's layout (a text file).
 *
 * Checkpoint file, version 1. Every integer is little-endian; every floating-point value is its
 * IEEE 754 bit pattern, little-endian (so a file reads back bit for bit on any machine):
 *
 *   magic        8 bytes "RNNLABCK"
 *   version      u32 (1)
 *   flags        u32 bit 0: an optimizer section follows the model
 *   length       u64 the file's size in bytes
 *   step         i64 the caller's step counter (training: updates done)
 *   rng          4 x u64 the caller's generator state (rnnlab_rng)
 *   model        i32 cell, activation, gru_variant, peephole, input_size, hidden_size, num_layers,
 *                output_size, dtype, norm, residual; f64 leaky_alpha, dropout
 *                i32 n_tensors, then per tensor: name (32 bytes, NUL-padded), i32 layer, ndim,
 *                dims[0], dims[1], u64 offset, numel; u64 n_params
 *                i32 n_buffer_tensors, the same records; u64 n_buffers
 *                params (n_params values of the model's precision: 4 or 8 bytes each)
 *                buffers (n_buffers f64)
 *   optimizer    (flag bit 0) i32 kind, nesterov, centered; f64 lr, momentum, dampening,
 *                weight_decay, alpha, eps, beta1, beta2; i64 step; u64 n;
 *                3 state blocks of n values of the model's precision
 *   extra        u64 length, then that many bytes the caller owns (training state)
 *   crc32        u32 zlib crc32 of every byte before it
 *
 * A file is refused, with a message naming it, when it is shorter than its header says
 * (truncated), does not start with the magic (not an rnnlab checkpoint), has another version, has
 * a wrong checksum (damaged), or holds a tensor table that this build's model of the stored
 * configuration does not reproduce (written by a build with another parameter layout).
 *
 * PyTorch layout (text): the reference-case format torchref-gradref-v1 of ../shared/reference
 * (rnnlab/gradcheck.h reads it), with the model's header keys and one `tensor NAME NDIM dims...`
 * block per parameter tensor (PyTorch's state_dict names: weight_ih_l0, ..., and head_weight,
 * head_bias for the Linear head's weight and bias) and per buffer, values printed with 17
 * significant digits, then `end`. README.md ("Training", PyTorch) has the Python that loads such a
 * file into torch.nn.RNN/LSTM/GRU + torch.nn.Linear and writes one back.
 */
#ifndef RNNLAB_CHECKPOINT_H
#define RNNLAB_CHECKPOINT_H

#include <stddef.h>

#include "rnnlab/model.h"
#include "rnnlab/optim.h"
#include "rnnlab/rng.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNNLAB_CHECKPOINT_VERSION 1

/* What a checkpoint holds. After rnnlab_checkpoint_load every pointer is owned by the struct
 * (rnnlab_checkpoint_deinit frees them); for rnnlab_checkpoint_save they are the caller's. */
typedef struct rnnlab_checkpoint {
    rnnlab_model *model;  /* required */
    rnnlab_optim *optim;  /* or NULL */
    long step;            /* the caller's step counter */
    rnnlab_rng rng;       /* the caller's generator state */
    unsigned char *extra; /* (extra_len) opaque bytes, or NULL */
    size_t extra_len;
} rnnlab_checkpoint;

/*
 * rnnlab_checkpoint_save - writes ck to path, atomically (a temporary file, fsync, rename), so a
 * crash leaves either the old file or the new one.
 * Errors:  RNNLAB_ERR_CONFIG if ck->model is NULL or the optimizer does not fit the model;
 *          RNNLAB_ERR_IO ("path: why"); RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_checkpoint_save(const char *path, const rnnlab_checkpoint *ck);

/*
 * rnnlab_checkpoint_load - reads path into *ck (a new model, optimizer and extra bytes).
 * Memory:  *ck owns everything it points to; free with rnnlab_checkpoint_deinit. On error *ck is
 *          zeroed.
 * Errors:  RNNLAB_ERR_IO: cannot read, truncated, not a checkpoint, wrong version, checksum
 *          mismatch, inconsistent contents (each message starts with the path);
 *          RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_checkpoint_load(const char *path, rnnlab_checkpoint *ck);

/* Frees what a loaded checkpoint owns and zeroes it; a zeroed struct is fine. */
void rnnlab_checkpoint_deinit(rnnlab_checkpoint *ck);

/* 1 if a and b have the same architecture (every configuration field but dtype) and so the same
 * parameter layout; 0 otherwise. */
int rnnlab_model_same_architecture(const rnnlab_model_config *a, const rnnlab_model_config *b);

/*
 * rnnlab_weights_export - writes m's parameters and buffers to path in PyTorch's layout (text, top
 * of this file). Errors: RNNLAB_ERR_IO.
 */
rnnlab_status rnnlab_weights_export(const char *path, const rnnlab_model *m);

/*
 * rnnlab_weights_import - sets m's parameters (and buffers) from a file in PyTorch's layout. Every
 * tensor of m must be in the file with the same shape, and the file's cell, sizes and layers must
 * be m's; gradient and data tensors of a reference case are ignored, anything else unknown is
 * refused. m is unchanged on error.
 * Errors:  RNNLAB_ERR_IO (unreadable or malformed: "path:line: why"); RNNLAB_ERR_SHAPE naming the
 *          tensor or header key that does not match; RNNLAB_ERR_NUMERIC for a non-finite value;
 *          RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_weights_import(const char *path, rnnlab_model *m);

#ifdef __cplusplus
}
#endif
#endif
