/*
 * bptt_ws.h - the workspace behind rnnlab_bptt (internal).
 *
 * Buffers marked (real) hold the model's precision and live in one allocation (block); bptt.c is
 * compiled once per precision and casts them. Dimension legend: B batch, T steps, I input size,
 * H hidden size, G gates, GH = G*H, L layers, O outputs, K = truncation length (k < T only).
 */
#ifndef RNNLAB_BPTT_WS_H
#define RNNLAB_BPTT_WS_H

#include "rnnlab/bptt.h"

struct rnnlab_bptt {
    rnnlab_bptt_config cfg;
    rnnlab_model_config mcfg; /* the model shape this workspace serves */
    int B, T, I, H, L, O, G, GH, maxIH;
    int n_tensors;
    size_t n_params;
    int windowed; /* truncated BPTT with 1 <= k < T */
    int tblock;   /* steps per time block of a full pass (>= T: one block); see time_block in bptt_api.c */

    /* ---- forward cache (real) */
    void *X;      /* (T, B, I) input */
    void **Hs;    /* L x (T+1, B, H) hidden states, row 0 = h0 */
    void **Cs;    /* L x (T+1, B, H) LSTM cell states, row 0 = c0; else NULL */
    void **gates; /* L x (T, B, GH) gate activations */
    void **Ut;    /* L x (H, GH) the recurrent weights transposed, for the forward's small products */
    void **extra; /* L x (T, B, H) cell extras (lstm tanh c; gru hn or r*h); else NULL */
    void *Y;      /* (T*B, O) at all, (B, O) at last: head outputs */
    void *Hlast;  /* (B, H) the head's input at each sample's last real step (loss at last) */
    /* options (each NULL when off) */
    void **S;      /* L x (T, B, H) residual stream S_l = h^l + (input of layer l), l >= 1 */
    void **Xd;     /* (L+1) x (T, B, H) dropped inputs of layers l >= 1 and (index L) of the head */
    unsigned char **mask; /* (L+1) x (T, B, H) dropout keep-masks, same indexing */
    void **xhat;   /* L x (T, B, GH) the normalised input product (layer or batch norm) */
    void **xrstd;  /* L x (T, B, G) layer norm: 1/std per row and block */
    void **bn_stat; /* L x (3 GH): batch norm mean, variance (biased), 1/std of this batch (or the running ones) */
    void **hhat;   /* L x (T, B, GH) layer norm of the recurrent product, per step */
    void **hrstd;  /* L x (T, B, G) */
    void **chat;   /* L x (T, B, H) lstm layer norm of c_t */
    void **crstd;  /* L x (T, B) */
    int dropout_on, residual, norm; /* the model's options as this workspace applies them */
    uint64_t dropout_seed;          /* of the last forward */

    /* ---- the batch's targets and lengths, copied by forward */
    double *target;    /* (T*B*O) or (B*O) */
    int *target_class; /* (T*B) or (B) */
    int *len;          /* (B) */
    int Teff;          /* max(len): steps beyond it are padding for every sample and never computed */
    long n_pos;        /* N, the number of loss positions */
    /* ---- rnnlab_bptt_chunked (bptt_api.c) */
    long n_pos_fixed;           /* > 0: N for the loss instead of this batch's count */
    int keep_grads;             /* 1: backward adds to the model's gradients instead of overwriting */
    double *carry_h, *carry_c;  /* (L, B, H) the states a chunk ends in; carry_c LSTM only */
    int *chunk_len;             /* (B) */

    /* ---- backward buffers (real) */
    void *dY;                                   /* like Y */
    void *dZx, *dZh; /* (tblock, B, GH) gate gradients of one time block; dZx NULL when keep_cache = 0 with one
                        block (the gates take them), dZh NULL unless the cell separates it */
    void *dHa, *dHb; /* (T, B, maxIH) ping-pong: gradient arriving from above; with one layer and a sparse head
                        (bptt_sparse_head) dHa is NULL and dHb is (T, B, I): it only takes dx */
    void *dh, *dh_next, *dc_a, *dc_b, *dc_tot;  /* (B, H) */
    void *dhead;                                /* (B, H) the head's gradient with the loss at last */
    void *scratch;                              /* (B, GH) */

    /* ---- truncated BPTT (windowed) only (real) */
    void **dZx_sum, **dZh_sum; /* L x (T, B, GH) */
    void *dZx_w, *dZh_w;       /* (K, B, GH) */
    void *dHw_a, *dHw_b;       /* (K, B, H) */
    void **dH_acc, **dC_acc;   /* L x (T, B, H) the taps' vectors, summed over windows */
    void *dh0_acc, *dc0_acc;   /* (L, B, H) */

    /* ---- taps (double) */
    double *tap_h, *tap_hm, *tap_c, *tap_cm; /* (L, T); tap_c* NULL unless LSTM */
    double *param_norm;                      /* (n_tensors) */
    double *tap_b;                           /* (4B), in a part of a split workspace with taps (L, T, 4B) */

    /* ---- state */
    int have_forward;
    int cache_consumed; /* keep_cache = 0 and a backward has run since the last forward */
    double loss;
    size_t cache_bytes, total_bytes;
    void *block; /* the one allocation holding every real buffer */

    /* ---- split into parts (bptt_api.c, split_count): rows are independent until the gradients are
       summed, so each part is a whole workspace of its own rows, run on one thread */
    int nsplit;                /* > 1: the batch's rows run as nsplit parts side by side; else 0 */
    int split_part;            /* 1: this workspace is one of those parts */
    struct rnnlab_bptt **part; /* (nsplit) */
    int *part_b0;              /* (nsplit + 1) the first batch row of each part, then B */
    void **part_grads;         /* (nsplit) each part's gradients (n_params of the model's dtype) */
    double **part_in;          /* (nsplit) each part's own rows of the batch and of dx, dh0, dc0 (split_in_layout) */
    int **part_cls;            /* (nsplit) xent classes at every step (T, B_p), else NULL */
    double *part_loss;         /* (nsplit) */
    double *tap_gather;        /* (4B) one step's per-sample tap parts in sample order */

    /* ---- checking hooks (bptt_internal.h) */
    struct { /* add eps to h^l_t[b][j] right after step t computes it */
        int on, l, t, b, j;
        double eps;
    } perturb;
    const unsigned char *kink_ref; /* (L, T, B, H) 1 where h > 0 in the reference forward, or NULL */
    long kink_flips;               /* states computed since the hook was set whose sign differs */
    int prefetch_mode;             /* rnnlab_bptt_set_prefetch: 0 by size, 1 always, -1 never */
};

/* With the loss at the last step, the head's gradient has B non-zero rows out of T*B: unless the
 * residual stream or dropout needs the whole (T, B, H) array, the top layer's sweep of a full pass
 * reads them directly, and no (T, B, H) array takes the head's gradient. */
static inline int bptt_sparse_head(const struct rnnlab_bptt *ws)
{
    return ws->cfg.loss_at == RNNLAB_LOSS_LAST && !ws->residual && !ws->dropout_on && !ws->windowed;
}

#endif
