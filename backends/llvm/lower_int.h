/* Private to the kernel lowering (lower*.c): the per-kernel builder state and helpers.
 *
 * Every node becomes two internal functions:
 *   void kN(ptr ctx, ptr syms, ptr inputs, ptr outputs, ptr ws)   -- the wrapper
 *   void kN_body(ptr args, i64 begin, i64 end)                      -- the work
 * The wrapper hands the body to ctx->parallel_for over [0, extent) of one chosen
 * dimension, or calls it directly. The body re-derives every pointer from args, so a
 * kernel needs no captured state and any of them can run on any pool thread. */
#ifndef ONNXC_LLVM_LOWER_INT_H
#define ONNXC_LLVM_LOWER_INT_H

#include "backends/llvm/lower.h"

typedef struct lw {
    llvm_lower_t *L;
    ir_graph_t *g;
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i1, i8, i16, i32, i64, f16, bf16, f32, f64, ptr, vd;
    /* current function */
    LLVMValueRef fn;
    LLVMBasicBlockRef entry;
    LLVMValueRef a_ctx, a_syms, a_in, a_out, a_ws;   /* the five kernel arguments */
    LLVMValueRef begin, end;                          /* parallel range (body only) */
    LLVMValueRef *symv;                               /* cached sym sizes, per function */
    LLVMValueRef *dynoff;                             /* cached dyn-slot offsets, per function */
    LLVMValueRef wptr;                                /* weights bound to the workspace, per function */
    ir_node_t *node;                                  /* node being lowered, for messages */
    int kernel_id;
    const ir_value_t *pv[64];                         /* tensors passed as noalias params */
    LLVMValueRef pp[64];
    int npv;
    LLVMValueRef *wrappers;                           /* kernel wrappers and checks in schedule order */
    const ir_node_t **wnode;                          /* the node each wrapper computes */
    bool *is_check;                                   /* wrappers[i] is a data check (returns i32) */
    int n_wrappers;
    LLVMValueRef *symb;                               /* cached symbol bounds, per function */
    char **checks;                                    /* text of each data check, for NAME_data_checks */
    int n_checks;
    LLVMBasicBlockRef check_fail;                     /* the current check's failure exit */
} lw_t;

/* ---- functions and blocks */
LLVMBasicBlockRef lw_block(lw_t *k, const char *name);
LLVMValueRef lw_alloca(lw_t *k, LLVMTypeRef t, const char *name);   /* in the entry block */
LLVMValueRef lw_i64(lw_t *k, int64_t v);
/* A kernel that computes a run-time count (NonZero's) stores it for the kernels after it. */
void lw_set_runtime(lw_t *k, const ir_value_t *v, LLVMValueRef count);
/* A dim (constant or v * a symbol) as an i64 value in the current function. */
LLVMValueRef lw_dim_value(lw_t *k, ir_dim_t dim);
LLVMValueRef lw_i32(lw_t *k, int32_t v);

/* ---- loops: for (iv = lo; iv < hi; iv++) with an alloca'd counter */
typedef struct lw_loop {
    LLVMValueRef var, iv;
    LLVMBasicBlockRef head, body, latch, exit;
} lw_loop_t;
void lw_loop_begin(lw_t *k, lw_loop_t *l, LLVMValueRef lo, LLVMValueRef hi, const char *name);
void lw_loop_end(lw_t *k, lw_loop_t *l);
/* if (cond) { ... } */
typedef struct lw_if { LLVMBasicBlockRef then, done; } lw_if_t;
void lw_if_begin(lw_t *k, lw_if_t *f, LLVMValueRef cond);
void lw_if_end(lw_t *k, lw_if_t *f);

/* ---- data checks: what run-time data can break (indices out of range, integer division
 * by zero). A check is a serial function NAME_cN(ctx, syms, in, out, ws) -> i32 that
 * NAME_run calls right before the node's kernel: it reads the data the kernel would
 * trust once, outside the kernel's loops, and NAME_run returns its status
 * ONNXC_ERR_DATA | (id + 1) << 8, where NAME_data_checks[id] is `what` naming the node.
 * Between begin and end the builder is in the check function (loops and loads as in a
 * kernel); lw_check_fail_if leaves it with the status when bad is true. */
int lw_check_begin(lw_t *k, const ir_node_t *n, const char *what);
void lw_check_fail_if(lw_t *k, LLVMValueRef bad);
void lw_check_end(lw_t *k);
/* A check that bad(element) is false for every element of v. */
typedef LLVMValueRef (*lw_bad_fn)(lw_t *k, LLVMValueRef x, void *ud);
int lw_check_all(lw_t *k, const ir_node_t *n, const ir_value_t *v, const char *what, lw_bad_fn bad, void *ud);
/* Every index in ind addresses axis `axis` of data (negative ones from its end). */
int lw_check_indices(lw_t *k, const ir_node_t *n, const ir_value_t *ind, const ir_value_t *data, int axis);
/* No element of an integer divisor is 0 (floats divide by zero as IEEE says). */
int lw_check_divisor(lw_t *k, const ir_node_t *n, const ir_value_t *divisor);

/* ---- values */
LLVMTypeRef lw_type(lw_t *k, ir_dtype_t t);                 /* element type in memory and in compute */
LLVMValueRef lw_dim(lw_t *k, const ir_value_t *v, int d);    /* i64 size of dimension d */
LLVMValueRef lw_shape_dim(lw_t *k, const ir_shape_t *s, int d);
LLVMValueRef lw_numel(lw_t *k, const ir_value_t *v);
LLVMValueRef lw_base(lw_t *k, const ir_value_t *v);          /* ptr to element 0 */
LLVMValueRef lw_load(lw_t *k, const ir_value_t *v, LLVMValueRef off);   /* element at flat offset */
void lw_store(lw_t *k, const ir_value_t *v, LLVMValueRef off, LLVMValueRef x);
/* Row-major strides of v (i64 values), and of v broadcast to a shape of rank r: stride 0
 * where v's dim is 1 and the target's is not, leading dims missing from v get 0. */
void lw_strides(lw_t *k, const ir_value_t *v, LLVMValueRef *st);
void lw_bcast_strides(lw_t *k, const ir_value_t *v, const ir_value_t *target, LLVMValueRef *st);
LLVMValueRef lw_dot(lw_t *k, LLVMValueRef *idx, LLVMValueRef *st, int r);   /* sum idx*st */
LLVMValueRef lw_const_f(lw_t *k, ir_dtype_t t, double x);    /* constant of a dtype */
LLVMValueRef lw_load_scalar_f64(lw_t *k, const ir_value_t *v, int64_t i, double dflt); /* constant inputs */

/* ---- scalar arithmetic by dtype (ops.def semantics) */
LLVMValueRef lw_add(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c);
LLVMValueRef lw_mul(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c);
LLVMValueRef lw_max(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c);
LLVMValueRef lw_min(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c);
LLVMValueRef lw_abs(lw_t *k, ir_dtype_t t, LLVMValueRef x);
LLVMValueRef lw_fmath(lw_t *k, const char *intrinsic, ir_dtype_t t, LLVMValueRef x);
/* float32 exp/log/tanh/erf (f: an ir_rfn_t from ir/recipe.h) as inline code on a float
 * scalar or vector (lower_vmath.c); NULL for other functions and types. */
LLVMValueRef lw_vmath(lw_t *k, int f, LLVMValueRef x);
int lw_lower_dropout(lw_t *k, const ir_node_t *n);
/* ---- depthwise convolution (lower_dwconv.c): 2-D geometry (1-D as unit height), group
 * count G; returns 1 when the node is not one it takes (the caller falls back). */
typedef struct lw_dwconv {
    int64_t G, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw;
} lw_dwconv_t;
int lw_lower_dwconv(lw_t *k, const ir_node_t *n, const lw_dwconv_t *c);
/* ---- recipes (lower_recipe.c): in[k] are the node's inputs in the compute type
 * (lw_recipe_ctype; bool as i1), present[k] whether input k exists; lanes 0 = scalar. */
ir_dtype_t lw_recipe_ctype(ir_dtype_t t);
LLVMValueRef lw_recipe(lw_t *k, const ir_node_t *n, ir_dtype_t t, unsigned lanes, LLVMValueRef *in, const bool *present);
LLVMValueRef lw_recipe_const(lw_t *k, const ir_value_t *v, ir_dtype_t t, unsigned lanes);
LLVMValueRef lw_cast(lw_t *k, LLVMValueRef x, ir_dtype_t from, ir_dtype_t to);
/* lw_cast where either side is a low-precision dtype (lower_lowp.c), with Cast's
 * saturate and round_mode (ir/lowp.h); lw_cast itself saturates and rounds up. */
LLVMValueRef lw_cast_lowp(lw_t *k, LLVMValueRef x, ir_dtype_t from, ir_dtype_t to, bool saturate, int round_mode);
LLVMValueRef lw_call_math(lw_t *k, const char *f32name, const char *f64name, ir_dtype_t t, LLVMValueRef x);
LLVMValueRef lw_intrin(lw_t *k, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n);
LLVMValueRef lw_fmax(lw_t *k, LLVMValueRef a, LLVMValueRef b);
/* Apply a node's fused post-ops to x computed for output element idx (rank of out). */
LLVMValueRef lw_apply_post(lw_t *k, const ir_node_t *n, LLVMValueRef x, LLVMValueRef *idx);

/* ---- kernels */
/* Creates kN/kN_body; the parallel extent is dim par_dim of v (par_dim < 0: extent 1).
 * Leaves the builder in the body with k->begin/k->end set. */
void lw_kernel_begin(lw_t *k, const ir_node_t *n, const ir_value_t *v, int par_dim);
void lw_kernel_end(lw_t *k);
/* Same, with the extent the product of dims [d0, d1) of v (d0 == d1: extent 1). */
void lw_kernel_begin_range(lw_t *k, const ir_node_t *n, const ir_value_t *v, int d0, int d1);
/* Same over an iteration space that is no tensor's shape (e.g. batch x tiles x work): the
 * extent is the product of dims [d0, d1), and the element count decides whether threads
 * pay off. */
void lw_kernel_begin_shape(lw_t *k, const ir_node_t *n, const ir_shape_t *shape, int d0, int d1);

/* Emits a loop nest over out's index space; calls f for each element and stores
 * post(f(idx)). The schedule's parallel axis (node->sched->par_axis) is split by the
 * parallel range. */
typedef LLVMValueRef (*lw_elem_fn)(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud);
int lw_emit_map(lw_t *k, const ir_node_t *n, const ir_value_t *out, lw_elem_fn f, void *ud);

/* ---- op families (lower_*.c); each emits one complete kernel for n */
typedef int (*lw_lower_fn)(lw_t *k, const ir_node_t *n);
/* The lowering of op (lower_table.c); NULL when this backend has none. */
lw_lower_fn lw_lowering(ir_op_t op);
/* One function per table entry (lower_eltwise.c, lower_data.c, lower_nn.c, ...). */
int lw_lower_map(lw_t *k, const ir_node_t *n);   /* any op with a recipe */
int lw_lower_arg_max(lw_t *k, const ir_node_t *n);
int lw_lower_arg_min(lw_t *k, const ir_node_t *n);
int lw_lower_average_pool(lw_t *k, const ir_node_t *n);
int lw_lower_batch_norm(lw_t *k, const ir_node_t *n);
int lw_lower_bit_shift(lw_t *k, const ir_node_t *n);
int lw_lower_cast(lw_t *k, const ir_node_t *n);
int lw_lower_bit_cast(lw_t *k, const ir_node_t *n);
int lw_lower_concat(lw_t *k, const ir_node_t *n);
int lw_lower_constant_of_shape(lw_t *k, const ir_node_t *n);
int lw_lower_conv(lw_t *k, const ir_node_t *n);
int lw_lower_conv_transpose(lw_t *k, const ir_node_t *n);
int lw_lower_copy(lw_t *k, const ir_node_t *n);
int lw_lower_cum_sum(lw_t *k, const ir_node_t *n);
int lw_lower_cum_prod(lw_t *k, const ir_node_t *n);
int lw_lower_depth_to_space(lw_t *k, const ir_node_t *n);
int lw_lower_expand(lw_t *k, const ir_node_t *n);
int lw_lower_gather(lw_t *k, const ir_node_t *n);
int lw_lower_div(lw_t *k, const ir_node_t *n);
int lw_lower_gather_elements(lw_t *k, const ir_node_t *n);
int lw_lower_gemm(lw_t *k, const ir_node_t *n);
int lw_lower_global_average_pool(lw_t *k, const ir_node_t *n);
int lw_lower_global_max_pool(lw_t *k, const ir_node_t *n);
int lw_lower_group_norm(lw_t *k, const ir_node_t *n);
int lw_lower_hardmax(lw_t *k, const ir_node_t *n);
int lw_lower_layer_norm(lw_t *k, const ir_node_t *n);
int lw_lower_log_softmax(lw_t *k, const ir_node_t *n);
int lw_lower_lrn(lw_t *k, const ir_node_t *n);
int lw_lower_matmul(lw_t *k, const ir_node_t *n);
int lw_lower_max_pool(lw_t *k, const ir_node_t *n);
int lw_lower_mean(lw_t *k, const ir_node_t *n);
int lw_lower_mod(lw_t *k, const ir_node_t *n);
int lw_lower_nll_loss(lw_t *k, const ir_node_t *n);
int lw_lower_pad(lw_t *k, const ir_node_t *n);
int lw_lower_pow(lw_t *k, const ir_node_t *n);
int lw_lower_range(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_l1(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_l2(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_log_sum(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_log_sum_exp(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_max(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_mean(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_min(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_prod(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_sum(lw_t *k, const ir_node_t *n);
int lw_lower_reduce_sum_square(lw_t *k, const ir_node_t *n);
int lw_lower_resize(lw_t *k, const ir_node_t *n);
int lw_lower_rms_norm(lw_t *k, const ir_node_t *n);
int lw_lower_sce_loss(lw_t *k, const ir_node_t *n);
int lw_lower_shape(lw_t *k, const ir_node_t *n);
int lw_lower_size(lw_t *k, const ir_node_t *n);
int lw_lower_non_zero(lw_t *k, const ir_node_t *n);
int lw_lower_slice(lw_t *k, const ir_node_t *n);
int lw_lower_softmax(lw_t *k, const ir_node_t *n);
int lw_lower_space_to_depth(lw_t *k, const ir_node_t *n);
int lw_lower_split(lw_t *k, const ir_node_t *n);
int lw_lower_tile(lw_t *k, const ir_node_t *n);
int lw_lower_transpose(lw_t *k, const ir_node_t *n);
int lw_lower_trilu(lw_t *k, const ir_node_t *n);
/* ---- single ops (one lowering function per op) */
int lw_lower_gather_nd(lw_t *k, const ir_node_t *n);          /* lower_index.c */
int lw_lower_scatter_nd(lw_t *k, const ir_node_t *n);
int lw_lower_scatter_elements(lw_t *k, const ir_node_t *n);
int lw_lower_lp_pool(lw_t *k, const ir_node_t *n);            /* lower_lp.c */
int lw_lower_lp_norm(lw_t *k, const ir_node_t *n);

/* One op each (lower_einsum.c, lower_sample.c): the shape the op table's lowering column takes. */
int lw_lower_einsum(lw_t *k, const ir_node_t *n);
int lw_lower_grid_sample(lw_t *k, const ir_node_t *n);
int lw_lower_deform_conv(lw_t *k, const ir_node_t *n);
int lw_lower_roi_align(lw_t *k, const ir_node_t *n);
int lw_lower_rnn(lw_t *k, const ir_node_t *n);                /* lower_rnn.c: RNN, GRU, LSTM */
int lw_lower_if(lw_t *k, const ir_node_t *n);                 /* lower_ctrl.c: control flow */
int lw_lower_loop(lw_t *k, const ir_node_t *n);
int lw_lower_scan(lw_t *k, const ir_node_t *n);
/* An empty kernel for n, after its check function: NAME_run re-derives what follows from
 * the run-time count the check stored (lw_set_runtime) before the next kernel. */
void lw_add_marker(lw_t *k, const ir_node_t *n);
int lw_lower_topk(lw_t *k, const ir_node_t *n);               /* lower_select.c */
int lw_lower_onehot(lw_t *k, const ir_node_t *n);
int lw_lower_reverse_sequence(lw_t *k, const ir_node_t *n);
int lw_lower_compress(lw_t *k, const ir_node_t *n);
int lw_lower_unique(lw_t *k, const ir_node_t *n);
int lw_lower_nms(lw_t *k, const ir_node_t *n);
int lw_lower_col2im(lw_t *k, const ir_node_t *n);             /* lower_image.c */
int lw_lower_center_crop_pad(lw_t *k, const ir_node_t *n);
int lw_lower_affine_grid(lw_t *k, const ir_node_t *n);
int lw_lower_window_fn(lw_t *k, const ir_node_t *n);          /* lower_generate.c */
int lw_lower_eye_like(lw_t *k, const ir_node_t *n);
int lw_lower_dft(lw_t *k, const ir_node_t *n);                /* lower_signal.c */
int lw_lower_quant(lw_t *k, const ir_node_t *n);              /* lower_quant.c */
int lw_lower_qmatmul(lw_t *k, const ir_node_t *n);
int lw_lower_dyn_quant(lw_t *k, const ir_node_t *n);
int lw_lower_qconv(lw_t *k, const ir_node_t *n);
int lw_lower_det(lw_t *k, const ir_node_t *n);                /* lower_linalg.c */
int lw_lower_maxunpool(lw_t *k, const ir_node_t *n);

/* Register-tiled micro-kernel paths (lower_gemm.c): 0 = lowered, -1 = error,
 * 1 = not applicable (the generic loop nest in lower_nn.c is used). */
int lw_fast_conv(lw_t *k, const ir_node_t *n);
int lw_fast_gemm(lw_t *k, const ir_node_t *n);
int lw_fast_matmul(lw_t *k, const ir_node_t *n);

int lw_error(lw_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
