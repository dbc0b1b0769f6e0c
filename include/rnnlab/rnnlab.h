/*
 * rnnlab/rnnlab.h - the umbrella header of librnnlab, a recurrent-network sequence lab.
 *
 * Read the module headers in this order; each layer uses only the ones above it:
 *   status.h   status codes, error messages, allocation
 *   rng.h      the seeded generator passed to everything random
 *   runtime.h  threads and flush-to-zero
 *   cell.h     the cells (rnn, lstm, gru), activations, GRU variants
 *   model.h    an L-layer stack with a linear head: parameter layout (PyTorch's)
 *   init.h     initialisation schemes
 *   bptt.h     forward, backpropagation through time, losses, gradient taps
 *   gradcheck.h finite differences and the PyTorch reference cases
 *   diag.h     decay statistics, Jacobian spectra and the other measurements beyond the taps
 *   format.h   numbers as text in the C locale
 *   csvio.h    CSV rows through libcsv
 *   data.h     tasks and datasets by name
 *   experiment.h experiment files, sweeps and the runner
 *   optim.h    optimizers, learning-rate schedules, gradient clipping
 *   checkpoint.h model and optimizer state on disk
 *   train.h    the training loop behind [train] sections
 */
#ifndef RNNLAB_RNNLAB_H
#define RNNLAB_RNNLAB_H

#define RNNLAB_VERSION "0.1.0"

#include "rnnlab/status.h"
#include "rnnlab/rng.h"
#include "rnnlab/runtime.h"
#include "rnnlab/cell.h"
#include "rnnlab/model.h"
#include "rnnlab/init.h"
#include "rnnlab/bptt.h"
#include "rnnlab/gradcheck.h"
#include "rnnlab/diag.h"
#include "rnnlab/format.h"
#include "rnnlab/csvio.h"
#include "rnnlab/data.h"
#include "rnnlab/experiment.h"
#include "rnnlab/optim.h"
#include "rnnlab/checkpoint.h"
#include "rnnlab/train.h"

#endif
