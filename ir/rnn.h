/* The recurrent ops RNN, GRU and LSTM: their attributes and input shapes resolved once
 * (ir/rnn.c), so inference, the reference evaluation (passes/eval_rnn.c) and the LLVM
 * kernel (backends/llvm/lower_rnn.c) read the same numbers and the same activation list.
 *
 * Inputs (ONNX order): X, W, R, B, sequence_lens, initial_h, initial_c (LSTM), P (LSTM).
 * Outputs: Y, Y_h, Y_c (LSTM); every one optional. Gate order within W, R and B is the
 * spec's: RNN i; GRU z, r, h; LSTM i, o, f, c (and P holds i, o, f). */
#ifndef ONNXC_IR_RNN_H
#define ONNXC_IR_RNN_H

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IR_RNN_SIMPLE, IR_RNN_GRU, IR_RNN_LSTM } ir_rnn_kind_t;

/* The activation functions the spec lists for recurrent ops. */
typedef enum {
    IR_ACT_RELU, IR_ACT_TANH, IR_ACT_SIGMOID, IR_ACT_AFFINE, IR_ACT_LEAKY_RELU, IR_ACT_THRESHOLDED_RELU,
    IR_ACT_SCALED_TANH, IR_ACT_HARD_SIGMOID, IR_ACT_ELU, IR_ACT_SOFTSIGN, IR_ACT_SOFTPLUS
} ir_act_kind_t;

typedef struct ir_rnn_act {
    ir_act_kind_t kind;
    double alpha, beta;
} ir_rnn_act_t;

typedef struct ir_rnn {
    ir_rnn_kind_t kind;
    int gates;              /* 1, 3 or 4 */
    int nd;                 /* directions: 1 or 2 */
    bool reverse;           /* direction 'reverse' (nd == 1) */
    int layout;             /* 0: X (seq, batch, in); 1: X (batch, seq, in) */
    ir_dim_t seq, batch;
    int64_t input, hidden;
    int n_act;              /* activations per direction: 1 (RNN), 2 (GRU), 3 (LSTM) */
    ir_rnn_act_t act[2][3]; /* [direction][f, g, h] */
    bool has_clip;
    double clip;
    bool input_forget;      /* LSTM: f = 1 - i */
    bool lbr;               /* GRU: linear_before_reset */
} ir_rnn_t;

/* Resolves and checks n's attributes and input shapes; errors name the node. 0 or -1. */
int ir_rnn_params(ir_graph_t *g, const ir_node_t *n, ir_rnn_t *p);
/* The activation applied to x in double precision (the reference evaluation's). */
double ir_rnn_act_eval(const ir_rnn_act_t *a, double x);

/* Flat element offsets of the layout-dependent tensors: X[t, b, i], Y[t, d, b, h] and the
 * state tensors initial_h / initial_c / Y_h / Y_c [d, b, h] (the batch-major forms when
 * layout = 1). S and B are the sequence length and batch size. */
static inline int64_t ir_rnn_x_off(int layout, int64_t S, int64_t B, int64_t I, int64_t t, int64_t b, int64_t i) {
    return (layout ? b * S + t : t * B + b) * I + i;
}
static inline int64_t ir_rnn_y_off(int layout, int64_t S, int64_t nd, int64_t B, int64_t H, int64_t t, int64_t d,
                                   int64_t b, int64_t h) {
    return (layout ? (b * S + t) * nd + d : (t * nd + d) * B + b) * H + h;
}
static inline int64_t ir_rnn_s_off(int layout, int64_t nd, int64_t B, int64_t H, int64_t d, int64_t b, int64_t h) {
    return (layout ? b * nd + d : d * B + b) * H + h;
}

#ifdef __cplusplus
}
#endif
#endif
