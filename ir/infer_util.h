/* Shape helpers shared by inference (ir/infer.c), the passes and the backends, so that
 * broadcasting, axis normalisation and window (conv/pool) arithmetic are written once. */
#ifndef ONNXC_IR_INFER_UTIL_H
#define ONNXC_IR_INFER_UTIL_H

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Numpy (multidirectional) broadcasting. Equal dims stay, a constant 1 broadcasts
 * against anything; anything else fails. Returns 0, or -1 on mismatch / unknown rank. */
int ir_broadcast_shapes(const ir_shape_t *a, const ir_shape_t *b, ir_shape_t *out);

/* axis in [-rank, rank-1] -> [0, rank-1]. Returns 0, or -1 when out of range. */
int ir_norm_axis(int64_t axis, int rank, int *out);

/* Reads a constant integer tensor (int64 or int32 data) into out[0..max).
 * Returns the element count, or -1 if v is not constant, not an integer tensor,
 * or holds more than max elements. */
int ir_const_ints(const ir_value_t *v, int64_t *out, int max);
/* A constant single-element tensor of any numeric dtype, as a double. 0 or -1. */
int ir_const_scalar(const ir_value_t *v, double *out);

/* Resolved window arithmetic of Conv, ConvTranspose, MaxPool and AveragePool: kernel,
 * strides, dilations and the effective begin/end pads (auto_pad already applied) per
 * spatial axis, plus the output spatial sizes. Backends read pads from here rather than
 * re-deriving SAME_UPPER/SAME_LOWER. x is the input (N, C, spatial...), w the weights
 * (NULL for pools). Errors are recorded with ir_error(g, n, ...). */
typedef struct ir_window {
    int ns;                                  /* spatial rank */
    int64_t group;                           /* 1 for pools */
    int64_t k[IR_MAX_RANK], s[IR_MAX_RANK], d[IR_MAX_RANK];
    int64_t pb[IR_MAX_RANK], pe[IR_MAX_RANK];
    int64_t out_pad[IR_MAX_RANK];            /* ConvTranspose output_padding */
    int64_t out[IR_MAX_RANK];                /* output spatial sizes (-1 where symbolic) */
    ir_dim_t out_d[IR_MAX_RANK];             /* output spatial sizes as dims (symbolic inputs) */
    bool ceil_mode;
} ir_window_t;
/* Slice along one axis of size dim, as Python's slice(start, end, step).indices(dim):
 * negative start/end count from the back, then both are clamped ([0, dim] for a positive
 * step, [-1, dim - 1] for a negative one). Returns the element count and sets *first to
 * the first index read. step must not be 0. Shape inference, constant folding and the
 * backends all use this one rule. */
int64_t ir_slice_range(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first);

int ir_window_params(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const ir_shape_t *w,
                     ir_window_t *out);
/* The same for ConvTranspose (output_shape, output_padding; pads shrink the output). */
int ir_window_params_transposed(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const ir_shape_t *w,
                                ir_window_t *out);

/* Resize (opset 11+): per dimension the output size, the scale the coordinate transform
 * uses, and the roi (start/end as fractions, for tf_crop_and_resize). ir/resize.c. */
typedef struct ir_resize {
    int64_t out[IR_MAX_RANK];                /* -1 where only known at run time (out_d) */
    double scale[IR_MAX_RANK], roi_start[IR_MAX_RANK], roi_end[IR_MAX_RANK];
    ir_dim_t out_d[IR_MAX_RANK];             /* output dims, symbolic for run-time sizes/scales */
    /* where the coordinate transform's scale comes from at run time: 0 scale[] (known
     * now), 1 out / in (run-time sizes, or a symbolic input with known sizes), 2 element
     * rt_elem[d] of the 'scales' input */
    int8_t rt[IR_MAX_RANK], rt_elem[IR_MAX_RANK];
    /* roi given at run time (tf_crop_and_resize): axis d's start and end are elements
     * roi_idx[d] and roi_idx[d] + n_axes of the 'roi' input */
    bool rt_roi;
    /* keep_aspect_ratio_policy with run-time sizes: the common scale num/den (rt[d] == 3),
     * kept as the node's params by inference */
    ir_dim_t aspect_num, aspect_den;
    int8_t roi_idx[IR_MAX_RANK];
    int8_t n_axes;
} ir_resize_t;
int ir_resize_params(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, ir_resize_t *out);

/* Per-op inference rules kept outside infer.c, one file per family; each sets the
 * node's output dtypes and shapes, or records an error naming the node and returns -1. */
int ir_infer_gather_nd(ir_graph_t *g, ir_node_t *n);        /* ir/infer_index.c */
int ir_infer_scatter_nd(ir_graph_t *g, ir_node_t *n);
int ir_infer_scatter_elements(ir_graph_t *g, ir_node_t *n);
int ir_infer_lp_pool(ir_graph_t *g, ir_node_t *n);          /* ir/infer_window.c */
int inf_conv(ir_graph_t *g, ir_node_t *n);                  /* ir/infer_conv.c */
int inf_conv_transpose(ir_graph_t *g, ir_node_t *n);
int inf_global_pool(ir_graph_t *g, ir_node_t *n);
int inf_pool(ir_graph_t *g, ir_node_t *n);
/* After a node's inference: the symbolic contents of its small integer output (infer_sval.c). */
void ir_prop_sval(ir_graph_t *g, ir_node_t *n);
int ir_infer_lp_norm(ir_graph_t *g, ir_node_t *n);
/* Einsum (ir/einsum.c): the equation parsed at compile time. Every distinct index is a
 * label; the dims an ellipsis stands for become labels 0..n_ell-1 (right-aligned across
 * inputs, numpy broadcasting), letters follow. A label repeated within one input (a
 * diagonal, 'ii') simply maps several axes of that input to the same label. */
#define IR_EINSUM_MAX_IN 16
#define IR_EINSUM_MAX_LABELS (52 + IR_MAX_RANK)
typedef struct ir_einsum {
    int n_labels, n_ell;
    ir_dim_t size[IR_EINSUM_MAX_LABELS];     /* extent of each label */
    int n_in;
    int rank[IR_EINSUM_MAX_IN];
    int lab[IR_EINSUM_MAX_IN][IR_MAX_RANK];  /* label of each input axis */
    int out_rank;
    int out_lab[IR_MAX_RANK];
} ir_einsum_t;
int ir_einsum_parse(ir_graph_t *g, const ir_node_t *n, ir_einsum_t *out);

/* Per-op inference functions outside infer.c (one per op, the op table's shape). */
int ir_infer_einsum(ir_graph_t *g, ir_node_t *n);
int ir_infer_grid_sample(ir_graph_t *g, ir_node_t *n);
int ir_infer_deform_conv(ir_graph_t *g, ir_node_t *n);
int ir_infer_roi_align(ir_graph_t *g, ir_node_t *n);
int ir_infer_rnn(ir_graph_t *g, ir_node_t *n);              /* ir/rnn.c: RNN, GRU, LSTM */
int ir_infer_if(ir_graph_t *g, ir_node_t *n);               /* ir/infer_ctrl.c: control flow */
int ir_infer_loop(ir_graph_t *g, ir_node_t *n);
int ir_infer_scan(ir_graph_t *g, ir_node_t *n);
int ir_ctrl_n_out(const ir_node_t *n);                       /* outputs without the scratch */

/* Selection ops (ir/infer_select.c). Each params function resolves the constant
 * parameter the output shape depends on, or records an error naming the node. */
int ir_topk_params(ir_graph_t *g, const ir_node_t *n, int64_t *k, int *axis);
int ir_onehot_params(ir_graph_t *g, const ir_node_t *n, int64_t *depth, int *axis);
int ir_reverse_seq_params(ir_graph_t *g, const ir_node_t *n, int *batch_axis, int *time_axis);
int ir_infer_topk(ir_graph_t *g, ir_node_t *n);
int ir_infer_onehot(ir_graph_t *g, ir_node_t *n);
int ir_infer_reverse_sequence(ir_graph_t *g, ir_node_t *n);
/* Compress: axis (-1: x flattened) and the number of kept positions (true entries of the
 * constant condition). */
int ir_compress_params(ir_graph_t *g, const ir_node_t *n, int *axis, int64_t *count);
int ir_infer_compress(ir_graph_t *g, ir_node_t *n);
/* Unique: axis (-1: x flattened), the number of slices compared (len) and the elements in
 * each (slice; 1 when flattened). */
int ir_unique_params(ir_graph_t *g, const ir_node_t *n, int *axis, ir_dim_t *len, ir_dim_t *slice);
int ir_infer_unique(ir_graph_t *g, ir_node_t *n);
int ir_infer_nms(ir_graph_t *g, ir_node_t *n);     /* NonMaxSuppression */

/* Image-layout ops (ir/infer_image.c). Col2Im: the block grid of each spatial axis. */
typedef struct ir_col2im {
    int ns;
    int64_t img[IR_MAX_RANK], blk[IR_MAX_RANK], dil[IR_MAX_RANK], str[IR_MAX_RANK];
    int64_t pb[IR_MAX_RANK], pe[IR_MAX_RANK];
    int64_t nb[IR_MAX_RANK];      /* blocks along each axis */
    int64_t K, L, C;              /* block elements, blocks, channels */
} ir_col2im_t;
int ir_col2im_params(ir_graph_t *g, const ir_node_t *n, ir_col2im_t *p);
/* CenterCropPad: out[i] = x[i + off] inside x, else 0 (per axis). */
int ir_center_crop_params(ir_graph_t *g, const ir_node_t *n, int64_t *off, ir_shape_t *out);
/* AffineGrid: size (N, C, spatial...) with ns = 2 or 3 spatial axes. */
int ir_affine_grid_params(ir_graph_t *g, const ir_node_t *n, int64_t *size, int *ns);
int ir_infer_col2im(ir_graph_t *g, ir_node_t *n);
int ir_infer_center_crop_pad(ir_graph_t *g, ir_node_t *n);
int ir_infer_affine_grid(ir_graph_t *g, ir_node_t *n);

/* Generators (ir/infer_generate.c): window functions and EyeLike. */
int ir_window_size(ir_graph_t *g, const ir_node_t *n, int64_t *size);
/* Point i of a HannWindow/HammingWindow/BlackmanWindow of size points, in double. */
double ir_window_value(ir_op_t op, int64_t i, int64_t size, bool periodic);
int ir_infer_window_fn(ir_graph_t *g, ir_node_t *n);
int ir_infer_eye_like(ir_graph_t *g, ir_node_t *n);

/* DFT (ir/infer_signal.c): transform along `axis` of n input points (zero-padded or cut
 * to len); the input's last dim is 1 (real) or 2 (complex). */
typedef struct ir_dft {
    int axis;
    int64_t n, len;
    bool complex_in, inverse, onesided;
    ir_shape_t out;
} ir_dft_t;
int ir_dft_params(ir_graph_t *g, const ir_node_t *n, ir_dft_t *p);
int ir_infer_dft(ir_graph_t *g, ir_node_t *n);

/* QuantizeLinear / DequantizeLinear (ir/infer_quant.c): which scale (and zero point)
 * element an input element uses: element 0, the one at its index along axis, or the one
 * at its index with the axis coordinate divided by block. */
typedef enum { IR_QUANT_TENSOR, IR_QUANT_AXIS, IR_QUANT_BLOCKED } ir_quant_mode_t;
typedef struct ir_quant {
    ir_quant_mode_t mode;
    int axis;
    int64_t block;
    ir_dtype_t out;
} ir_quant_t;
int ir_quant_params(ir_graph_t *g, const ir_node_t *n, ir_quant_t *q);
int ir_infer_quant(ir_graph_t *g, ir_node_t *n);
/* MatMulInteger / QLinearMatMul: the operands picked out of the input list (NULL when
 * absent), the reduction length and the broadcast output shape. */
typedef struct ir_qmatmul {
    const ir_value_t *a, *b, *azp, *bzp, *as, *bs, *ys, *yzp;
    int64_t K;
    ir_shape_t out;
    ir_dtype_t out_t;
} ir_qmatmul_t;
int ir_qmatmul_params(ir_graph_t *g, const ir_node_t *n, ir_qmatmul_t *p);
int ir_infer_qmatmul(ir_graph_t *g, ir_node_t *n);
/* Attention's operands in the 4-D view [batch, heads, seq, head_size] (ir/infer_attn.c):
 * from 4-D inputs, or 3-D [batch, seq, heads * head_size] with the num_heads attributes.
 * total = past + kv_seq, the keys attended. */
typedef struct ir_attention_dims {
    int rank;                              /* of Q, K, V as given: 3 or 4 */
    int64_t q_heads, kv_heads;
    ir_dim_t batch, q_seq, kv_seq, past, total, head, k_head, v_head;
} ir_attention_dims_t;
int ir_attention_dims(ir_graph_t *g, const ir_node_t *n, ir_attention_dims_t *a);
int ir_infer_attention(ir_graph_t *g, ir_node_t *n);
int ir_infer_rotary(ir_graph_t *g, ir_node_t *n);
int ir_infer_causal_conv(ir_graph_t *g, ir_node_t *n);
int ir_infer_dyn_quant(ir_graph_t *g, ir_node_t *n);
/* ConvInteger / QLinearConv: operands (NULL when absent), Conv's window, channels. */
typedef struct ir_qconv {
    const ir_value_t *x, *w, *xzp, *wzp, *xs, *ws, *ys, *yzp, *bias;
    ir_window_t win;
    int64_t M, Cg;            /* output channels, input channels per group */
    ir_shape_t out;
    ir_dtype_t out_t;
} ir_qconv_t;
int ir_qconv_params(ir_graph_t *g, const ir_node_t *n, ir_qconv_t *p);
int ir_infer_qconv(ir_graph_t *g, ir_node_t *n);

/* Det and MaxUnpool (ir/infer_linalg.c). */
int ir_infer_det(ir_graph_t *g, ir_node_t *n);
int ir_maxunpool_shape(ir_graph_t *g, const ir_node_t *n, ir_shape_t *out, ir_shape_t *inferred);
int ir_infer_maxunpool(ir_graph_t *g, ir_node_t *n);

#ifdef __cplusplus
}
#endif
#endif
