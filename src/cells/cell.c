/*
 * cell.c - the table of cell kinds, activations and GRU variants: names, gate counts, parsing.
 *
 * Not here: any cell arithmetic (rnn.c, lstm.c, gru.c) or the per-precision function tables
 * (cells.h, built once per precision).
 */
#include "rnnlab/cell.h"
#include "core/internal.h"

#include <string.h>

static const struct {
    const char *name;
    int gates;
} cell_table[RNNLAB_CELL_COUNT] = {
    [RNNLAB_CELL_RNN] = {"rnn", 1},
    [RNNLAB_CELL_LSTM] = {"lstm", 4},
    [RNNLAB_CELL_GRU] = {"gru", 3},
};

static const char *const act_names[RNNLAB_ACT_COUNT] = {
    [RNNLAB_ACT_TANH] = "tanh",
    [RNNLAB_ACT_SIGMOID] = "sigmoid",
    [RNNLAB_ACT_RELU] = "relu",
    [RNNLAB_ACT_LEAKY_RELU] = "leaky_relu",
    [RNNLAB_ACT_IDENTITY] = "identity",
    [RNNLAB_ACT_PRELU] = "prelu",
};

static const char *const rnn_labels[RNNLAB_ACT_COUNT] = {
    [RNNLAB_ACT_TANH] = "rnn_tanh",
    [RNNLAB_ACT_SIGMOID] = "rnn_sigmoid",
    [RNNLAB_ACT_RELU] = "rnn_relu",
    [RNNLAB_ACT_LEAKY_RELU] = "rnn_leaky_relu",
    [RNNLAB_ACT_IDENTITY] = "rnn_identity",
    [RNNLAB_ACT_PRELU] = "rnn_prelu",
};

static const char *const variant_names[RNNLAB_GRU_VARIANT_COUNT] = {
    [RNNLAB_GRU_RESET_AFTER] = "reset_after",
    [RNNLAB_GRU_RESET_BEFORE] = "reset_before",
};

int rnnlab_cell_gates(rnnlab_cell_kind kind)
{
    return (unsigned)kind < RNNLAB_CELL_COUNT ? cell_table[kind].gates : 0;
}

const char *rnnlab_cell_name(rnnlab_cell_kind kind)
{
    return (unsigned)kind < RNNLAB_CELL_COUNT ? cell_table[kind].name : "?";
}

const char *rnnlab_activation_name(rnnlab_activation act)
{
    return (unsigned)act < RNNLAB_ACT_COUNT ? act_names[act] : "?";
}

const char *rnnlab_gru_variant_name(rnnlab_gru_variant v)
{
    return (unsigned)v < RNNLAB_GRU_VARIANT_COUNT ? variant_names[v] : "?";
}

const char *rnnlab_cell_label(rnnlab_cell_kind kind, rnnlab_activation act)
{
    if (kind == RNNLAB_CELL_RNN) return (unsigned)act < RNNLAB_ACT_COUNT ? rnn_labels[act] : "rnn_?";
    return rnnlab_cell_name(kind);
}

rnnlab_status rnnlab_activation_parse(const char *name, rnnlab_activation *act)
{
    RNNLAB_REQUIRE_PTR("rnnlab_activation_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_activation_parse", act);
    for (int a = 0; a < RNNLAB_ACT_COUNT; a++)
        if (name && strcmp(name, act_names[a]) == 0) {
            *act = (rnnlab_activation)a;
            return RNNLAB_OK;
        }
    if (name && strcmp(name, "linear") == 0) {
        *act = RNNLAB_ACT_IDENTITY;
        return RNNLAB_OK;
    }
    return rnnlab_error(RNNLAB_ERR_CONFIG,
                        "unknown activation '%s' (expected tanh, sigmoid, relu, leaky_relu, prelu or identity)",
                        name ? name : "(null)");
}

rnnlab_status rnnlab_cell_parse(const char *name, rnnlab_cell_kind *kind, rnnlab_activation *act,
                                int *act_set)
{
    RNNLAB_REQUIRE_PTR("rnnlab_cell_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_cell_parse", kind);
    if (act_set) *act_set = 0;
    for (int k = 0; k < RNNLAB_CELL_COUNT; k++)
        if (name && strcmp(name, cell_table[k].name) == 0) {
            *kind = (rnnlab_cell_kind)k;
            return RNNLAB_OK;
        }
    if (name && strncmp(name, "rnn_", 4) == 0) {
        rnnlab_activation a;
        if (strcmp(name, "rnn_linear") == 0) name = rnn_labels[RNNLAB_ACT_IDENTITY]; /* "linear" is identity's alias */
        for (int i = 0; i < RNNLAB_ACT_COUNT; i++)
            if (strcmp(name, rnn_labels[i]) == 0) {
                a = (rnnlab_activation)i;
                *kind = RNNLAB_CELL_RNN;
                if (act) *act = a;
                if (act_set) *act_set = 1;
                return RNNLAB_OK;
            }
    }
    return rnnlab_error(RNNLAB_ERR_CONFIG,
                        "unknown cell '%s' (expected rnn, lstm, gru, or rnn_tanh, rnn_relu, rnn_sigmoid, "
                        "rnn_leaky_relu, rnn_prelu, rnn_identity)",
                        name ? name : "(null)");
}

rnnlab_status rnnlab_gru_variant_parse(const char *name, rnnlab_gru_variant *v)
{
    RNNLAB_REQUIRE_PTR("rnnlab_gru_variant_parse", name);
    RNNLAB_REQUIRE_PTR("rnnlab_gru_variant_parse", v);
    for (int i = 0; i < RNNLAB_GRU_VARIANT_COUNT; i++)
        if (name && strcmp(name, variant_names[i]) == 0) {
            *v = (rnnlab_gru_variant)i;
            return RNNLAB_OK;
        }
    return rnnlab_error(RNNLAB_ERR_CONFIG, "unknown GRU variant '%s' (expected reset_after or reset_before)",
                        name ? name : "(null)");
}
