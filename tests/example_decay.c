/*
 * example_decay.c - librnnlab from C: how ||dL/dh_t|| decays back through time in a tanh RNN and in
 * an LSTM with forget-gate bias 3, on one batch of the adding problem (T = 100, loss at the last step).
 * README.md, "Using the library from C", shows this file whole and how to build it.
 *
 * Prints CSV on stdout: cell,t,grad_h_norm,loss, where grad_h_norm = ||dL/dh_t||_2 over the batch
 * (rnnlab/bptt.h, the gradient taps) for t = 0..T-1, and loss the batch's MSE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rnnlab/rnnlab.h"

enum { B = 16, H = 32 };

/* Forward and backward of one model on batch 0 of the training split; prints its T rows. */
static rnnlab_status decay_rows(rnnlab_cell_kind cell, double forget_bias, rnnlab_dataset *ds)
{
    const rnnlab_task_info *info = rnnlab_dataset_info(ds);
    const int T = info->seq_len, I = info->input_size, O = info->output_size;
    rnnlab_model_config mc;
    rnnlab_model_config_init(&mc); /* float64, one layer */
    mc.cell = cell, mc.input_size = I, mc.hidden_size = H, mc.output_size = O;
    rnnlab_init_config ic;
    rnnlab_init_config_init(&ic); /* PyTorch's U(-1/sqrt(H), 1/sqrt(H)) */
    ic.forget_bias = forget_bias; /* NAN: leave the bias as drawn */
    rnnlab_bptt_config bc;
    rnnlab_bptt_config_init(&bc); /* full BPTT, taps on */
    bc.batch = B, bc.seq_len = T, bc.loss = info->loss, bc.loss_at = info->loss_at;

    rnnlab_model *m = NULL;
    rnnlab_bptt *ws = NULL;
    double *x = malloc(sizeof(double) * (size_t)T * B * I), *target = malloc(sizeof(double) * (size_t)B * O);
    int *lengths = malloc(sizeof(int) * B);
    rnnlab_rng rng;
    rnnlab_rng_seed(&rng, 1);
    double loss = 0;
    rnnlab_status s = !x || !target || !lengths ? RNNLAB_ERR_NOMEM : RNNLAB_OK;
    if (!s) s = rnnlab_model_create(&m, &mc);
    if (!s) s = rnnlab_model_init(m, &ic, &rng);
    if (!s) s = rnnlab_bptt_create(&ws, m, &bc);
    if (!s) s = rnnlab_dataset_batch(ds, RNNLAB_SPLIT_TRAIN, 0, B, x, target, NULL, lengths);
    if (!s) {
        const rnnlab_batch batch = {.x = x, .target = target, .lengths = lengths};
        s = rnnlab_bptt_forward(ws, m, &batch, &loss);
    }
    if (!s) s = rnnlab_bptt_backward(ws, m, NULL, NULL, NULL);
    if (!s) {
        const rnnlab_taps taps = rnnlab_bptt_get_taps(ws); /* (L, T); layer 0 here */
        for (int t = 0; t < T; t++)
            printf("%s,%d,%.17g,%.17g\n", rnnlab_cell_name(cell), t, taps.h_norm[t], loss);
    }
    rnnlab_bptt_free(ws);
    rnnlab_model_free(m);
    free(x), free(target), free(lengths);
    return s;
}

int main(void)
{
    const rnnlab_option opts[] = {{"seq_len", "100", 0}, {"length", "fixed", 0}}; /* [task] keys */
    rnnlab_dataset *ds = NULL;
    rnnlab_status s = rnnlab_dataset_open(&ds, "adding", opts, 2, 1, NULL);
    if (!s) {
        printf("cell,t,grad_h_norm,loss\n");
        s = decay_rows(RNNLAB_CELL_RNN, NAN, ds);
    }
    if (!s) s = decay_rows(RNNLAB_CELL_LSTM, 3.0, ds);
    rnnlab_dataset_close(ds);
    if (s) {
        fprintf(stderr, "example_decay: %s: %s\n", rnnlab_status_str(s), rnnlab_last_error());
        return 1;
    }
    return 0;
}
