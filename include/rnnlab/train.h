/*
 * rnnlab/train.h - minibatch training of a model on a task, its evaluation, and the diagnostics of
 * a vanishing gradient measured after (and during) training.
 *
 * A trainer holds a model (borrowed), a dataset (borrowed), an optimizer and the workspaces of
 * three passes, all allocated once at creation: nothing is allocated per step.
 *
 *   update s (s = 1, 2, ...)   the training split's batch s-1 (a pure function of the data seed, so
 *                              every run of a sweep sees the same batches), forward and BPTT in
 *                              training mode (dropout on; dropout masks from seed and s), the
 *                              gradients clipped once for the whole minibatch, then one optimizer
 *                              step with the schedule's learning rate for s-1 updates done
 *   evaluation                 batches 0, 1, ... of a split in evaluation mode (no dropout, batch
 *                              norm's running statistics): every sequence of a finite split once
 *                              (the last batch's rows that wrap around to the split's start are not
 *                              counted) for the validation and test splits (eval_batches 0, the
 *                              default) or every split (-1, all); else eval_batches batches (default
 *                              8: the training split, a generator's endless ones): loss, accuracy, success
 *   probe                      the decay probe of the runner (rnnlab/experiment.h, [measure]) on the
 *                              current parameters: ||dL/dh_t|| for every layer and step
 *
 * Metrics of an evaluation (over every loss position of every sequence of its batches):
 *   loss          the task's loss (rnnlab/bptt.h), averaged over loss positions
 *   accuracy      xent tasks: fraction of loss positions whose largest output (the first, on ties) is
 *                 the target class; NAN for other losses
 *   success_rate  the task's per-sequence criterion (rnnlab_task_info.success_threshold): mse tasks
 *                 with a threshold: fraction of sequences whose every output at every loss position is
 *                 within the threshold of its target (adding problem: |error| < 0.04, Hochreiter &
 *                 Schmidhuber 1997 Sec. 5.4); xent tasks: fraction of sequences with every loss
 *                 position classified correctly; NAN otherwise
 *
 * Diagnostics after training (Sec. "Training" of README.md names them the five indicators):
 *   units     per unit j of layer l, over every real step of every sequence of the evaluation
 *             batches: the mean and standard deviation of h^l_j (population std), the fraction of
 *             saturated values (|h| > 0.99 for tanh RNN, LSTM and GRU; h < 0.01 or > 0.99 for the
 *             sigmoid RNN; NAN for unbounded activations) and of dead values (h == 0 exactly, relu
 *             RNN; NAN otherwise). A unit is unresponsive when its std is below unit_threshold
 *             (default 1e-3: its output hardly depends on the input).
 *   ablation  each layer in turn zeroed (ablation = zero) or reset to its initial values (reinit),
 *             everything else as trained, and the evaluation loss measured: a layer whose removal
 *             costs little learned little (the reliance on upper layers).
 */
#ifndef RNNLAB_TRAIN_H
#define RNNLAB_TRAIN_H

#include <stdint.h>

#include "rnnlab/bptt.h"
#include "rnnlab/data.h"
#include "rnnlab/diag.h"
#include "rnnlab/experiment.h"
#include "rnnlab/model.h"
#include "rnnlab/optim.h"
#include "rnnlab/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rnnlab_ablation {
    RNNLAB_ABLATION_NONE = 0,
    RNNLAB_ABLATION_ZERO,   /* the layer's parameters set to 0 */
    RNNLAB_ABLATION_REINIT, /* the layer's parameters set back to their values at initialisation */
    RNNLAB_ABLATION_COUNT
} rnnlab_ablation;

const char *rnnlab_ablation_name(rnnlab_ablation a); /* "none", "zero", "reinit" */

#define RNNLAB_TRAIN_MAX_PROBES 32

/* Where the decay probe looks (the runner's [measure] keys). */
typedef struct rnnlab_probe_config {
    rnnlab_split split;     /* default train */
    long batch_index;       /* default 0 */
    rnnlab_loss_at loss_at; /* default last */
    int truncate;           /* default 0 (full BPTT) */
} rnnlab_probe_config;

/* Training settings: the [train] keys of an experiment file (README.md, "Training"). */
typedef struct rnnlab_train_config {
    long max_steps;            /* updates, >= 1 (default 1000) */
    long eval_every;           /* evaluate after every n updates, >= 1 (default 100); also at 0 and at the end */
    int eval_batches;          /* batches per evaluation and split, >= 1 (fewer if a finite split has
                                  fewer); 0 (default): finite validation and test splits whole, 8
                                  batches of the others; -1 ("all"): every finite split whole */
    int patience;              /* early stopping after this many evaluations without a better validation
                                  loss; 0 = off (default) */
    double min_delta;          /* "better" means lower by more than this (default 0) */
    int restore_best;          /* 1 (default): the model kept (tested, diagnosed, saved) is the one of the
                                  best validation loss; 0: the last one */
    double target_loss;        /* stop once the validation loss is below it; NAN = off (default) */
    rnnlab_optim_config optim; /* default adam with torch's defaults */
    int lr_set, wd_set;        /* lr / weight_decay given explicitly (else the optimizer's default) */
    rnnlab_schedule schedule;  /* default constant; cosine's t_max 0 means max_steps */
    rnnlab_clip_kind clip;     /* default global_norm */
    double clip_max;           /* default 1 */
    int truncate;              /* truncated BPTT length for training; 0 = full (default) */
    long log_every;            /* write an update row every n updates (default 1) */
    long checkpoint_every;     /* save a checkpoint every n updates; 0 = only at the end (default 1000) */
    int n_probe_at;
    long probe_at[RNNLAB_TRAIN_MAX_PROBES]; /* updates after which the decay probe runs (0 = at initialisation) */
    rnnlab_probe_config probe;
    double unit_threshold;     /* std below which a unit is unresponsive (default 1e-3) */
    rnnlab_ablation ablation;  /* default zero */
    long slope_window;         /* updates in the loss-slope fit; 0 = max(10, max_steps / 10) (default) */
    const char *init_from;     /* weights file (PyTorch layout) to start from, or NULL; borrowed. Read by
                                  the experiment runner; rnnlab_trainer_create does not read it (a
                                  program of one's own calls rnnlab_weights_import) */
    int ftz;                   /* flush subnormals to zero in every pass (default 0) */
} rnnlab_train_config;

/* The defaults listed above. */
void rnnlab_train_config_init(rnnlab_train_config *c);

/* 1 if key is a [train] key. */
int rnnlab_train_key_known(const char *key);

/*
 * rnnlab_train_config_set - sets one [train] key from its text (README.md lists the keys). The
 * key `optimizer` keeps an lr or weight_decay given before it. Values are parsed in the C locale.
 * Errors: RNNLAB_ERR_CONFIG "why" (the caller adds file, line and key).
 */
rnnlab_status rnnlab_train_config_set(rnnlab_train_config *c, const char *key, const char *v);

/* Cross-field checks (optimizer, schedule, probe steps <= max_steps, ...). Errors: RNNLAB_ERR_CONFIG. */
rnnlab_status rnnlab_train_config_check(const rnnlab_train_config *c);

typedef struct rnnlab_trainer rnnlab_trainer;

/*
 * rnnlab_trainer_create - a trainer for model m on dataset ds with B = batch.
 *
 * seed     the dropout masks of update s come from rnnlab_seed_derive(seed, s).
 * Memory:  *out is owned by the caller (rnnlab_trainer_free); m and ds are borrowed and must
 *          outlive it. Allocates the optimizer, the batch buffers and three BPTT workspaces
 *          (training, evaluation, probe).
 * Errors:  RNNLAB_ERR_CONFIG (rnnlab_train_config_check; the task's I or O differ from the
 *          model's); RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_trainer_create(rnnlab_trainer **out, rnnlab_model *m, rnnlab_dataset *ds, int batch,
                                    const rnnlab_train_config *cfg, uint64_t seed);
void rnnlab_trainer_free(rnnlab_trainer *tr);

/* What one update did. */
typedef struct rnnlab_step_report {
    long step;                  /* this update's number (1-based) */
    double loss;                /* the minibatch's loss before the update (training mode) */
    double lr;                  /* the learning rate used */
    double grad_norm;           /* global gradient norm before clipping */
    int clip_fired;             /* 1 if clipping changed a gradient */
    const double *tensor_norms; /* (n_tensors) each tensor's gradient norm before clipping; valid until
                                   the next call */
} rnnlab_step_report;

/*
 * rnnlab_trainer_step - one update (top of this file).
 * Errors:  RNNLAB_ERR_NUMERIC when the loss or a gradient is not finite: the run has diverged, the
 *          message says where ("loss", or the tensor), the parameters are not updated and the
 *          step count does not advance; other errors from the data or the engine.
 */
rnnlab_status rnnlab_trainer_step(rnnlab_trainer *tr, rnnlab_step_report *rep);

/* Updates done so far. */
long rnnlab_trainer_steps(const rnnlab_trainer *tr);
/* The trainer's optimizer (its state may be read). */
const rnnlab_optim *rnnlab_trainer_optim(const rnnlab_trainer *tr);

typedef struct rnnlab_eval_metrics {
    double loss;         /* the task's units */
    double accuracy;     /* NAN where it does not apply */
    double success_rate; /* NAN where it does not apply */
    long positions;      /* loss positions evaluated */
    long sequences;      /* sequences evaluated */
} rnnlab_eval_metrics;

/*
 * rnnlab_trainer_evaluate - evaluates model (m itself, or another model of the same architecture
 * and precision, e.g. an ablated copy; NULL means m) on the evaluation's batches of split (above: a
 * finite split whole by default). out->sequences and out->positions count what was scored.
 * Errors:  RNNLAB_ERR_NUMERIC if the loss is not finite; data and engine errors.
 */
rnnlab_status rnnlab_trainer_evaluate(rnnlab_trainer *tr, const rnnlab_model *model, rnnlab_split split,
                                      rnnlab_eval_metrics *out);

/*
 * rnnlab_trainer_probe - the decay probe (cfg.probe) on the current parameters; *taps is valid until
 * the next probe or rnnlab_trainer_free. Errors: RNNLAB_ERR_NUMERIC (non-finite), others.
 */
rnnlab_status rnnlab_trainer_probe(rnnlab_trainer *tr, rnnlab_taps *taps);

/* Per-unit statistics (top of this file). */
typedef struct rnnlab_unit_stats {
    double mean, std;  /* of h over real steps and samples */
    double sat_frac;   /* NAN for unbounded activations */
    double dead_frac;  /* NAN except relu */
} rnnlab_unit_stats;

/*
 * rnnlab_trainer_units - per-unit statistics of every layer on the evaluation's batches of split:
 * units (L*H, layer-major) and, per layer, the saturation of rnnlab_diag_saturation over every value
 * of the samples scored, each counted once (layer_sat (L), may be NULL).
 * Memory:  allocates O(L*H) once for the accumulators.
 * Errors:  RNNLAB_ERR_NUMERIC, RNNLAB_ERR_NOMEM, data and engine errors.
 */
rnnlab_status rnnlab_trainer_units(rnnlab_trainer *tr, rnnlab_split split, rnnlab_unit_stats *units,
                                   rnnlab_saturation *layer_sat);

/*
 * rnnlab_trainer_ablate - for each layer l, the evaluation loss on split with layer l's parameters
 * (every tensor whose layer is l) zeroed or reset to those of `init` (a model of the same
 * architecture holding the initial values; needed for reinit), the rest as now: loss_ablated (L).
 * A non-finite ablated loss is written as inf, not an error.
 * Memory:  one scratch model, allocated and freed here.
 * Errors:  RNNLAB_ERR_CONFIG (reinit without init, mode none); RNNLAB_ERR_NOMEM; data errors.
 */
rnnlab_status rnnlab_trainer_ablate(rnnlab_trainer *tr, rnnlab_split split, rnnlab_ablation mode,
                                    const rnnlab_model *init, double *loss_ablated);

/*
 * rnnlab_trainer_save - writes a checkpoint (rnnlab/checkpoint.h) of the model, the optimizer and
 * the update count, with extra_len bytes of the caller's at extra (NULL with extra_len = 0 for none;
 * NULL with extra_len > 0 is refused, RNNLAB_ERR_CONFIG, as rnnlab_checkpoint_save refuses it).
 * rnnlab_trainer_restore - reads one back into this trainer: the model must have the checkpoint's
 * architecture and precision and the optimizer its settings; on success *extra (rnnlab_malloc'd,
 * caller frees; NULL if none) and *extra_len receive the caller's bytes. Continuing from a restored
 * checkpoint gives the same bits as never having stopped.
 * Errors:  RNNLAB_ERR_IO (rnnlab_checkpoint_load), RNNLAB_ERR_CONFIG for a checkpoint of another
 *          model or optimizer (the trainer is then unchanged), RNNLAB_ERR_NOMEM.
 */
rnnlab_status rnnlab_trainer_save(const rnnlab_trainer *tr, const char *path, const void *extra, size_t extra_len);
rnnlab_status rnnlab_trainer_restore(rnnlab_trainer *tr, const char *path, unsigned char **extra, size_t *extra_len);

/*
 * rnnlab_experiment_set_training - makes every run of e train (as a [train] section does), with
 * the [train] keys of the file or the defaults; for `rnnlab train` on a file without [train].
 * Errors: RNNLAB_ERR_CONFIG if a grid point's training settings are invalid.
 */
rnnlab_status rnnlab_experiment_set_training(rnnlab_experiment *e);

/* 1 if the runs of e train (a [train] key, a swept train key, or rnnlab_experiment_set_training). */
int rnnlab_experiment_trains(const rnnlab_experiment *e);

/*
 * rnnlab_train_plot - (re)draws the training figures of an output folder from its CSV alone, with
 * gnuplot, into <dir>/figures/: train_loss (loss curves by phase, one panel per setting, mean over
 * seeds), train_grad_norm (pre-clip gradient norm of each layer over training, log scale) and
 * ablation (loss increase when each layer is ablated, bars by setting). The data go to
 * figures/data/train_*.dat and the script to figures/train.gp.
 * Errors: RNNLAB_ERR_IO if train.csv is missing or unreadable, or gnuplot fails.
 */
rnnlab_status rnnlab_train_plot(const char *dir);

/* What a training run's checkpoint (<dir>/checkpoints/run-<id>.ckpt) says of its run. */
typedef struct rnnlab_train_ckpt_state {
    int finished;        /* 1: the run ended; 0: in progress (rnnlab train resumes it) */
    const char *status;  /* "running", "completed", "early_stopped", "target_reached" or "diverged" (static) */
    long updates;        /* updates done */
    long diverged_step;  /* the update that diverged (status "diverged") */
    int have_best;       /* 1 when a validation loss was measured */
    long best_step;      /* the update of the best validation loss (have_best) */
    double best_valid;   /* that loss */
    int model_is_best;   /* 1: the checkpoint's weights are those of best_step (restore_best), 0: of the last update */
} rnnlab_train_ckpt_state;

/*
 * rnnlab_train_checkpoint_info - decodes the training state that the experiment runner keeps in a
 * checkpoint's extra bytes, without the experiment file. model_is_best compares the checkpoint's
 * weights, bit for bit, with the best weights the state holds.
 * Errors: RNNLAB_ERR_CONFIG when the extra bytes are not a runner's training state (a checkpoint
 *         written by rnnlab_trainer_save directly), or are of another version or damaged.
 */
struct rnnlab_checkpoint;
rnnlab_status rnnlab_train_checkpoint_info(const struct rnnlab_checkpoint *ck, rnnlab_train_ckpt_state *out);

#ifdef __cplusplus
}
#endif
#endif
