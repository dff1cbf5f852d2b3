/* Shape/dtype inference (ir/infer.c): tiny graphs per op family, checked against the
 * numbers ONNX's own shape inference and onnxruntime give for the same cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir/infer_util.h"
#include "ir/ir.h"
#include "ir/recipe.h"

#include "tests/ir/fixture.h"

/* ---------------------------------------------------------------- elementwise */
static void test_broadcast(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_ADD, "add0", 1, 2, f32(SHAPE(C(2), C(3), C(4))), f32(SHAPE(C(3), C(1))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(4)));
    n = mk(IR_OP_MUL, "mul0", 1, 2, f32(SHAPE(SY(1, B), C(3))), f32(SHAPE(C(1), C(3))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(3)));
    n = mk(IR_OP_SUB, "sub0", 1, 2, f32(SHAPE(C(1), C(5))), f32(SCALAR));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(5)));
    /* The message names the node, its op and both shapes. */
    n = mk(IR_OP_ADD, "add_bad", 1, 2, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(4))));
    err(n, "t.onnx: node 'add_bad' (Add): shapes [2,3] and [4] cannot be broadcast");
    n = mk(IR_OP_ADD, "add_sym", 1, 2, f32(SHAPE(SY(1, B), C(3))), f32(SHAPE(C(2), C(3))));
    err(n, "[batch,3] and [2,3]");
    n = mk(IR_OP_ADD, "add_dt", 1, 2, f32(SHAPE(C(3))), in(IR_I64, SHAPE(C(3))));
    err(n, "same dtype");
    ir_shape_t o;
    ir_shape_t a = SHAPE(C(8), C(1), C(6), C(1)), b = SHAPE(C(7), C(1), C(5));
    assert_int_equal(ir_broadcast_shapes(&a, &b, &o), 0);
    assert_int_equal(o.rank, 4);
    assert_int_equal(o.dims[0].v, 8);
    assert_int_equal(o.dims[1].v, 7);
    assert_int_equal(o.dims[2].v, 6);
    assert_int_equal(o.dims[3].v, 5);
}

static void test_elementwise_types(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_LESS, "lt", 1, 2, f32(SHAPE(C(4), C(1))), f32(SHAPE(C(3))));
    ok(n);
    expect(n->out[0], IR_BOOL, SHAPE(C(4), C(3)));
    n = mk(IR_OP_AND, "and", 1, 2, in(IR_BOOL, SHAPE(C(2))), in(IR_BOOL, SHAPE(C(2))));
    ok(n);
    expect(n->out[0], IR_BOOL, SHAPE(C(2)));
    n = mk(IR_OP_NOT, "not", 1, 1, f32(SHAPE(C(2))));
    err(n, "must be bool");
    n = mk(IR_OP_SIGMOID, "sig", 1, 1, in(IR_I64, SHAPE(C(2))));
    err(n, "floating-point");
    n = mk(IR_OP_CAST, "cast", 1, 1, f32(SHAPE(C(2), C(5))));
    a_int(n, "to", IR_I64);
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(2), C(5)));
    n = mk(IR_OP_WHERE, "where", 1, 3, in(IR_BOOL, SHAPE(C(2), C(1), C(1))), f32(SHAPE(C(3), C(1))), f32(SHAPE(C(4))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(4)));
    n = mk(IR_OP_SUM, "sum", 1, 3, f32(SHAPE(C(3))), f32(SHAPE(C(2), C(1))), f32(SCALAR));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3)));
    n = mk(IR_OP_POW, "pow", 1, 2, f32(SHAPE(C(3))), in(IR_I64, SCALAR));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    n = mk(IR_OP_PRELU, "prelu", 1, 2, f32(SHAPE(C(1), C(3), C(4), C(4))), f32(SHAPE(C(3), C(1), C(1))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(3), C(4), C(4)));
    n = mk(IR_OP_PRELU, "prelu_bad", 1, 2, f32(SHAPE(C(3), C(1))), f32(SHAPE(C(3), C(4))));
    err(n, "slope shape [3,4]");
    n = mk(IR_OP_PRELU, "prelu_rank", 1, 2, f32(SHAPE(C(3))), f32(SHAPE(C(2), C(3))));
    err(n, "slope shape [2,3] does not broadcast to input shape [3]");
    float lo = 0, hi = 6;
    n = mk(IR_OP_CLIP, "clip", 1, 3, f32(SHAPE(C(2), C(2))), cscalar(IR_F32, &lo), cscalar(IR_F32, &hi));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(2)));
    n = mk(IR_OP_DROPOUT, "drop", 2, 1, f32(SHAPE(C(2), C(7))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(7)));
    expect(n->out[1], IR_BOOL, SHAPE(C(2), C(7)));
    n = mk(IR_OP_RELU, "unknown_rank", 1, 1, f32((ir_shape_t){.rank = -1}));
    err(n, "node 'unknown_rank' (Relu): input 'v");
    assert_non_null(strstr(G->err, "unknown shape"));
}

/* ---------------------------------------------------------------- contractions, windows */
static void test_conv(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "N");
    ir_node_t *n = mk(IR_OP_CONV, "conv1", 1, 3, f32(SHAPE(C(1), C(3), C(224), C(224))),
                      f32(SHAPE(C(64), C(3), C(7), C(7))), f32(SHAPE(C(64))));
    a_ints(n, "strides", I64S(2, 2));
    a_ints(n, "pads", I64S(3, 3, 3, 3));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(64), C(112), C(112)));
    /* Depthwise with a symbolic batch; kernel_shape taken from the weights. */
    n = mk(IR_OP_CONV, "dw", 1, 2, f32(SHAPE(SY(1, B), C(32), C(112), C(112))), f32(SHAPE(C(32), C(1), C(3), C(3))));
    a_int(n, "group", 32);
    a_ints(n, "pads", I64S(1, 1, 1, 1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(32), C(112), C(112)));
    /* SAME_LOWER puts the odd padding at the start. */
    n = mk(IR_OP_CONV, "same", 1, 2, f32(SHAPE(C(1), C(3), C(7), C(6))), f32(SHAPE(C(4), C(3), C(3), C(3))));
    a_ints(n, "strides", I64S(2, 2));
    a_str(n, "auto_pad", "SAME_LOWER");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(4), C(4), C(3)));
    ir_window_t w;
    assert_int_equal(ir_window_params(G, n, &n->in[0]->shape, &n->in[1]->shape, &w), 0);
    assert_int_equal(w.pb[0], 1);
    assert_int_equal(w.pe[0], 1);
    assert_int_equal(w.pb[1], 1);
    assert_int_equal(w.pe[1], 0);
    n = mk(IR_OP_CONV, "valid", 1, 2, f32(SHAPE(C(1), C(2), C(10))), f32(SHAPE(C(5), C(2), C(3))));
    a_str(n, "auto_pad", "VALID");
    a_ints(n, "dilations", I64S(2));
    a_ints(n, "strides", I64S(3));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(5), C(2)));
    n = mk(IR_OP_CONV, "conv_c", 1, 2, f32(SHAPE(C(1), C(4), C(8), C(8))), f32(SHAPE(C(8), C(3), C(3), C(3))));
    err(n, "input channels of [1,4,8,8] do not match weight [8,3,3,3]");
    n = mk(IR_OP_CONV, "conv_b", 1, 3, f32(SHAPE(C(1), C(3), C(8), C(8))), f32(SHAPE(C(8), C(3), C(3), C(3))),
           f32(SHAPE(C(7))));
    err(n, "bias shape [7]");
    n = mk(IR_OP_CONV, "conv_k", 1, 2, f32(SHAPE(C(1), C(3), C(2), C(2))), f32(SHAPE(C(8), C(3), C(3), C(3))));
    err(n, "kernel extent 3 is larger than padded input 2");
    n = mk(IR_OP_CONV, "conv_r", 1, 2, f32(SHAPE(C(1), C(3), C(8), C(8))), f32(SHAPE(C(8), C(3), C(3))));
    err(n, "kernel rank 3 does not match input rank 4");
}

static void test_conv_transpose(void **st) {
    (void)st;
    ir_value_t *x = f32(SHAPE(C(1), C(1), C(3), C(3))), *w = f32(SHAPE(C(1), C(2), C(3), C(3)));
    ir_node_t *n = mk(IR_OP_CONV_TRANSPOSE, "ct", 1, 2, x, w);
    a_ints(n, "strides", I64S(3, 2));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(2), C(9), C(7)));
    n = mk(IR_OP_CONV_TRANSPOSE, "ct_os", 1, 2, x, w);
    a_ints(n, "strides", I64S(3, 2));
    a_ints(n, "output_shape", I64S(10, 8));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(2), C(10), C(8)));
    ir_window_t p;
    assert_int_equal(ir_window_params_transposed(G, n, &x->shape, &w->shape, &p), 0);
    assert_int_equal(p.pb[0], 0);
    assert_int_equal(p.pe[0], -1);
    n = mk(IR_OP_CONV_TRANSPOSE, "ct_op", 1, 2, x, w);
    a_ints(n, "strides", I64S(3, 2));
    a_ints(n, "output_padding", I64S(1, 1));
    a_ints(n, "pads", I64S(1, 0, 1, 0));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(2), C(8), C(8)));
    n = mk(IR_OP_CONV_TRANSPOSE, "ct_same", 1, 2, x, w);
    a_ints(n, "strides", I64S(2, 2));
    a_str(n, "auto_pad", "SAME_UPPER");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(2), C(6), C(6)));
    assert_int_equal(ir_window_params_transposed(G, n, &x->shape, &w->shape, &p), 0);
    assert_int_equal(p.pb[0], 0);
    assert_int_equal(p.pe[0], 1);
    n = mk(IR_OP_CONV_TRANSPOSE, "ct_lower", 1, 2, x, w);
    a_ints(n, "strides", I64S(2, 2));
    a_str(n, "auto_pad", "SAME_LOWER");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(2), C(6), C(6)));
    assert_int_equal(ir_window_params_transposed(G, n, &x->shape, &w->shape, &p), 0);
    assert_int_equal(p.pb[1], 1);
    assert_int_equal(p.pe[1], 0);
    n = mk(IR_OP_CONV_TRANSPOSE, "ct_g", 1, 2, f32(SHAPE(C(1), C(4), C(5))), f32(SHAPE(C(4), C(3), C(2))));
    a_int(n, "group", 2);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(6), C(6)));
}

static void test_pool(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_MAX_POOL, "mp", 2, 1, f32(SHAPE(C(1), C(64), C(112), C(112))));
    a_ints(n, "kernel_shape", I64S(3, 3));
    a_ints(n, "strides", I64S(2, 2));
    a_ints(n, "pads", I64S(1, 1, 1, 1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(64), C(56), C(56)));
    expect(n->out[1], IR_I64, SHAPE(C(1), C(64), C(56), C(56)));
    n = mk(IR_OP_MAX_POOL, "mp_ceil", 1, 1, f32(SHAPE(C(1), C(1), C(4), C(4))));
    a_ints(n, "kernel_shape", I64S(3, 3));
    a_ints(n, "strides", I64S(2, 2));
    a_int(n, "ceil_mode", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(2), C(2)));
    n = mk(IR_OP_MAX_POOL, "mp_floor", 1, 1, f32(SHAPE(C(1), C(1), C(4), C(4))));
    a_ints(n, "kernel_shape", I64S(3, 3));
    a_ints(n, "strides", I64S(2, 2));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(1), C(1)));
    /* ceil_mode drops a last window that would start in the end padding (onnxruntime: 2x2). */
    n = mk(IR_OP_AVERAGE_POOL, "ap_drop", 1, 1, f32(SHAPE(C(1), C(1), C(5), C(5))));
    a_ints(n, "kernel_shape", I64S(2, 2));
    a_ints(n, "strides", I64S(3, 3));
    a_ints(n, "pads", I64S(0, 0, 1, 1));
    a_int(n, "ceil_mode", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(2), C(2)));
    n = mk(IR_OP_AVERAGE_POOL, "ap_same", 1, 1, f32(SHAPE(C(1), C(1), C(5), C(5))));
    a_ints(n, "kernel_shape", I64S(2, 2));
    a_ints(n, "strides", I64S(2, 2));
    a_str(n, "auto_pad", "SAME_UPPER");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(3), C(3)));
    n = mk(IR_OP_AVERAGE_POOL, "ap_nok", 1, 1, f32(SHAPE(C(1), C(1), C(5), C(5))));
    err(n, "'kernel_shape' is required");
    n = mk(IR_OP_MAX_POOL, "mp_pad", 1, 1, f32(SHAPE(C(1), C(1), C(5), C(5))));
    a_ints(n, "kernel_shape", I64S(2, 2));
    a_ints(n, "pads", I64S(2, 0, 0, 0));
    err(n, "smaller than the kernel");
    int B = ir_graph_add_sym(G, "b");
    n = mk(IR_OP_GLOBAL_AVERAGE_POOL, "gap", 1, 1, f32(SHAPE(SY(1, B), C(2048), C(7), C(7))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(2048), C(1), C(1)));
}

static void test_batchnorm(void **st) {
    (void)st;
    ir_shape_t c = SHAPE(C(16));
    ir_node_t *n = mk(IR_OP_BATCH_NORM, "bn", 1, 5, f32(SHAPE(C(2), C(16), C(5), C(5))), f32(c), f32(c), f32(c), f32(c));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(16), C(5), C(5)));
    n = mk(IR_OP_BATCH_NORM, "bn_bad", 1, 5, f32(SHAPE(C(2), C(16), C(5), C(5))), f32(c), f32(c), f32(SHAPE(C(8))), f32(c));
    err(n, "input 'input_mean' has shape [8]");
}

static void test_gemm_matmul(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_GEMM, "fc", 1, 3, f32(SHAPE(SY(1, B), C(512))), f32(SHAPE(C(10), C(512))), f32(SHAPE(C(10))));
    a_int(n, "transB", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(10)));
    n = mk(IR_OP_GEMM, "fc_ta", 1, 2, f32(SHAPE(C(3), C(6))), f32(SHAPE(C(3), C(4))));
    a_int(n, "transA", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(6), C(4)));
    n = mk(IR_OP_GEMM, "fc_bad", 1, 2, f32(SHAPE(C(2), C(512))), f32(SHAPE(C(10), C(512))));
    err(n, "inner dimensions differ");
    n = mk(IR_OP_GEMM, "fc_c", 1, 3, f32(SHAPE(C(2), C(5))), f32(SHAPE(C(5), C(4))), f32(SHAPE(C(3), C(4))));
    err(n, "C shape [3,4]");

    n = mk(IR_OP_MATMUL, "mm", 1, 2, f32(SHAPE(C(2), C(1), C(3), C(4))), f32(SHAPE(C(5), C(4), C(6))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(5), C(3), C(6)));
    n = mk(IR_OP_MATMUL, "mm_bert", 1, 2, f32(SHAPE(SY(1, B), C(128), C(256))), f32(SHAPE(C(256), C(64))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(128), C(64)));
    n = mk(IR_OP_MATMUL, "mm_vl", 1, 2, f32(SHAPE(C(4))), f32(SHAPE(C(3), C(4), C(6))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3), C(6)));
    n = mk(IR_OP_MATMUL, "mm_vr", 1, 2, f32(SHAPE(C(3), C(4))), f32(SHAPE(C(4))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    n = mk(IR_OP_MATMUL, "mm_dot", 1, 2, f32(SHAPE(C(4))), f32(SHAPE(C(4))));
    ok(n);
    expect(n->out[0], IR_F32, SCALAR);
    n = mk(IR_OP_MATMUL, "mm_bad", 1, 2, f32(SHAPE(C(3), C(4))), f32(SHAPE(C(5), C(6))));
    err(n, "node 'mm_bad' (MatMul): inner dimensions differ: [3,4] x [5,6]");
    n = mk(IR_OP_MATMUL, "mm_batch", 1, 2, f32(SHAPE(C(2), C(3), C(4))), f32(SHAPE(C(3), C(4), C(5))));
    err(n, "batch dimensions");
}

/* ---------------------------------------------------------------- normalisation, reductions */
static void test_softmax_reduce_layernorm(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_SOFTMAX, "sm", 1, 1, f32(SHAPE(C(2), C(10))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(10)));
    n = mk(IR_OP_LOG_SOFTMAX, "lsm", 1, 1, f32(SHAPE(C(2), C(10))));
    a_int(n, "axis", 2);
    err(n, "axis 2 is out of range");

    ir_value_t *x = f32(SHAPE(C(2), C(3), C(4)));
    n = mk(IR_OP_REDUCE_MEAN, "rm", 1, 2, x, ci64(I64S(-1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(1)));
    n = mk(IR_OP_REDUCE_SUM, "rs", 1, 2, x, ci64(I64S(0, 2)));
    a_int(n, "keepdims", 0);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    n = mk(IR_OP_REDUCE_MAX, "rall", 1, 1, x);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(1)));
    n = mk(IR_OP_REDUCE_MAX, "rnoop", 1, 1, x);
    a_int(n, "noop_with_empty_axes", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(4)));
    /* axes from a graph input: one flag per axis in params, keepdims dims as selects */
    n = mk(IR_OP_REDUCE_MEAN, "rdyn", 1, 2, x, in(IR_I64, SHAPE(C(1))));
    ok(n);
    assert_int_equal(n->n_params, 3);
    assert_int_equal(n->out[0]->shape.rank, 3);
    assert_true(n->out[0]->shape.dims[0].sym >= 0);
    n = mk(IR_OP_REDUCE_MEAN, "rdup", 1, 2, x, ci64(I64S(1, -2)));
    err(n, "repeated");
    n = mk(IR_OP_REDUCE_MEAN, "rrange", 1, 2, x, ci64(I64S(3)));
    err(n, "axis 3 is out of range for rank 3");

    n = mk(IR_OP_LAYER_NORM, "ln", 3, 3, f32(SHAPE(SY(1, B), C(128), C(256))), f32(SHAPE(C(256))), f32(SHAPE(C(256))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(128), C(256)));
    expect(n->out[1], IR_F32, SHAPE(SY(1, B), C(128), C(1)));
    expect(n->out[2], IR_F32, SHAPE(SY(1, B), C(128), C(1)));
    n = mk(IR_OP_LAYER_NORM, "ln_bad", 1, 2, f32(SHAPE(C(2), C(8))), f32(SHAPE(C(4))));
    err(n, "Scale shape [4]");
}

/* ---------------------------------------------------------------- data movement */
static void test_flatten_reshape(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch"), T = ir_graph_add_sym(G, "seq");
    ir_node_t *n = mk(IR_OP_FLATTEN, "fl", 1, 1, f32(SHAPE(SY(1, B), C(3), C(4))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(12)));
    n = mk(IR_OP_FLATTEN, "fl0", 1, 1, f32(SHAPE(SY(1, B), C(3), C(4))));
    a_int(n, "axis", 0);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), SY(12, B)));
    n = mk(IR_OP_FLATTEN, "flneg", 1, 1, f32(SHAPE(C(2), C(3), C(4))));
    a_int(n, "axis", -1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(6), C(4)));
    n = mk(IR_OP_FLATTEN, "fl2", 1, 1, f32(SHAPE(SY(1, B), SY(1, T), C(4))));
    a_int(n, "axis", 2);
    ok(n);
    ir_dim_t bt;
    assert_int_equal(ir_dim_mul(G, SY(1, B), SY(1, T), &bt), 0);
    expect(n->out[0], IR_F32, SHAPE(bt, C(4)));

    n = mk(IR_OP_RESHAPE, "rs", 1, 2, f32(SHAPE(C(2), C(3), C(4))), ci64(I64S(0, -1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(12)));
    n = mk(IR_OP_RESHAPE, "rs_b", 1, 2, f32(SHAPE(SY(1, B), C(3), C(4))), ci64(I64S(0, -1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(12)));
    n = mk(IR_OP_RESHAPE, "rs_up", 1, 2, f32(SHAPE(SY(1, B), C(12))), ci64(I64S(-1, 3, 4)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(3), C(4)));
    /* BERT heads with batch and sequence both symbolic. */
    n = mk(IR_OP_RESHAPE, "rs_heads", 1, 2, f32(SHAPE(SY(1, B), SY(1, T), C(768))), ci64(I64S(0, 0, 12, 64)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), SY(1, T), C(12), C(64)));
    n = mk(IR_OP_RESHAPE, "rs_merge", 1, 2, f32(SHAPE(SY(1, B), SY(1, T), C(12), C(64))), ci64(I64S(0, 0, -1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), SY(1, T), C(768)));
    n = mk(IR_OP_RESHAPE, "rs_flat", 1, 2, f32(SHAPE(C(6), SY(1, B))), ci64(I64S(-1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(6, B)));
    /* [B, T, 4] -> [-1, 4] is [B*T, 4], and back with [B, T, 4] from a Shape */
    n = mk(IR_OP_RESHAPE, "rs_bt", 1, 2, f32(SHAPE(SY(1, B), SY(1, T), C(4))), ci64(I64S(-1, 4)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(bt, C(4)));
    ir_node_t *sh = mk(IR_OP_SHAPE, "sh", 1, 1, f32(SHAPE(SY(1, B), SY(1, T), C(4))));
    ok(sh);
    ir_node_t *un = mk(IR_OP_RESHAPE, "rs_back", 1, 2, n->out[0], sh->out[0]);
    ok(un);
    expect(un->out[0], IR_F32, SHAPE(SY(1, B), SY(1, T), C(4)));
    assert_int_equal(G->n_checks, 0);   /* B*T*4 == B*T*4 is proved, not checked at run time */
    n = mk(IR_OP_RESHAPE, "rs_cnt", 1, 2, f32(SHAPE(C(2), C(3))), ci64(I64S(7)));
    err(n, "cannot reshape [2,3] to [7]: element counts differ");
    n = mk(IR_OP_RESHAPE, "rs_div", 1, 2, f32(SHAPE(C(2), C(3))), ci64(I64S(4, -1)));
    err(n, "do not divide");
    n = mk(IR_OP_RESHAPE, "rs_2neg", 1, 2, f32(SHAPE(C(2), C(3))), ci64(I64S(-1, -1)));
    err(n, "more than one -1");
    /* a shape that is a graph input: its elements become data symbols, 0 copies, and the
     * element count is checked when the model runs */
    n = mk(IR_OP_RESHAPE, "rs_dyn", 1, 2, f32(SHAPE(C(2), C(3))), in(IR_I64, SHAPE(C(2))));
    ok(n);
    assert_int_equal(n->out[0]->shape.rank, 2);
    assert_true(n->out[0]->shape.dims[0].sym >= 0 && G->symdefs[n->out[0]->shape.dims[0].sym].kind == IR_SYM_SELECT);
    assert_true(G->n_checks >= 1);
    /* a shape computed from tensor values is still refused, naming the input */
    ir_node_t *comp = mk(IR_OP_ABS, "abs", 1, 1, in(IR_F32, SHAPE(C(2))));
    ok(comp);
    ir_node_t *ci = mk(IR_OP_CAST, "ci", 1, 1, comp->out[0]);
    a_int(ci, "to", IR_I64);
    ok(ci);
    n = mk(IR_OP_RESHAPE, "rs_data", 1, 2, f32(SHAPE(C(2), C(3))), ci->out[0]);
    err(n, "node 'rs_data' (Reshape): input 'shape' must be a constant, a graph input, or computed from tensor shapes");
    n = mk(IR_OP_RESHAPE, "rs_az", 1, 2, f32(SHAPE(C(0), C(3))), ci64(I64S(3, 0)));
    a_int(n, "allowzero", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3), C(0)));
}

static void test_transpose_concat_split(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_TRANSPOSE, "tr", 1, 1, f32(SHAPE(C(2), C(3), C(4))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(4), C(3), C(2)));
    n = mk(IR_OP_TRANSPOSE, "tr_p", 1, 1, f32(SHAPE(SY(1, B), C(3), C(4))));
    a_ints(n, "perm", I64S(0, 2, 1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(4), C(3)));
    n = mk(IR_OP_TRANSPOSE, "tr_bad", 1, 1, f32(SHAPE(C(2), C(3), C(4))));
    a_ints(n, "perm", I64S(0, 0, 1));
    err(n, "not a permutation");

    n = mk(IR_OP_CONCAT, "cat", 1, 3, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(2), C(5))), f32(SHAPE(C(2), C(1))));
    a_int(n, "axis", -1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(9)));
    n = mk(IR_OP_CONCAT, "cat_s", 1, 2, f32(SHAPE(SY(1, B), C(3))), f32(SHAPE(SY(1, B), C(3))));
    a_int(n, "axis", 0);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(2, B), C(3)));
    n = mk(IR_OP_CONCAT, "cat_bad", 1, 2, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(3), C(3))));
    a_int(n, "axis", 1);
    err(n, "differ outside axis 1");

    n = mk(IR_OP_SPLIT, "sp", 2, 2, f32(SHAPE(C(6), C(4))), ci64(I64S(2, 4)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(4)));
    expect(n->out[1], IR_F32, SHAPE(C(4), C(4)));
    n = mk(IR_OP_SPLIT, "sp_eq", 3, 1, f32(SHAPE(C(2), C(6))));
    a_int(n, "axis", -1);
    ok(n);
    expect(n->out[2], IR_F32, SHAPE(C(2), C(2)));
    n = mk(IR_OP_SPLIT, "sp_n", 3, 1, f32(SHAPE(C(7))));
    a_int(n, "num_outputs", 3);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    expect(n->out[1], IR_F32, SHAPE(C(3)));
    expect(n->out[2], IR_F32, SHAPE(C(1)));
    n = mk(IR_OP_SPLIT, "sp_sym", 2, 1, f32(SHAPE(SY(4, B), C(3))));
    ok(n);
    expect(n->out[1], IR_F32, SHAPE(SY(2, B), C(3)));
    n = mk(IR_OP_SPLIT, "sp_sum", 2, 2, f32(SHAPE(C(6))), ci64(I64S(2, 3)));
    err(n, "split sizes sum to 5");
    n = mk(IR_OP_SPLIT, "sp_odd", 2, 1, f32(SHAPE(C(7))));
    err(n, "does not split evenly");
}

static void test_slice(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_value_t *x = f32(SHAPE(C(10)));
    /* numpy: len(a[-1::-1]) = 10, len(a[8:1:-3]) = 3, len(a[1:]) = 9, len(a[-100:3]) = 3 */
    ir_node_t *n = mk(IR_OP_SLICE, "rev", 1, 5, x, ci64(I64S(-1)), ci64(I64S(INT64_MIN)), ci64(I64S(0)), ci64(I64S(-1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(10)));
    n = mk(IR_OP_SLICE, "neg3", 1, 5, x, ci64(I64S(8)), ci64(I64S(1)), ci64(I64S(0)), ci64(I64S(-3)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    n = mk(IR_OP_SLICE, "step3", 1, 5, x, ci64(I64S(0)), ci64(I64S(10)), ci64(I64S(0)), ci64(I64S(3)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(4)));
    n = mk(IR_OP_SLICE, "tail", 1, 3, x, ci64(I64S(1)), ci64(I64S(INT64_MAX)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(9)));
    n = mk(IR_OP_SLICE, "clamp", 1, 3, x, ci64(I64S(-100)), ci64(I64S(3)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3)));
    n = mk(IR_OP_SLICE, "empty", 1, 3, x, ci64(I64S(5)), ci64(I64S(2)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(0)));
    n = mk(IR_OP_SLICE, "step2", 1, 5, f32(SHAPE(SY(1, B), C(20))), ci64(I64S(2)), ci64(I64S(-2)), ci64(I64S(-1)),
           ci64(I64S(2)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(8)));
    n = mk(IR_OP_SLICE, "whole_sym", 1, 4, f32(SHAPE(SY(1, B), C(20))), ci64(I64S(0)), ci64(I64S(INT64_MAX)), ci64(I64S(0)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(20)));
    /* [1:] of B is B - 1 (B >= 1, so the clamps are proved), first index 1 */
    n = mk(IR_OP_SLICE, "part_sym", 1, 4, f32(SHAPE(SY(1, B), C(20))), ci64(I64S(1)), ci64(I64S(INT64_MAX)), ci64(I64S(0)));
    ok(n);
    ir_dim_t bm1;
    assert_int_equal(ir_dim_sub(G, SY(1, B), C(1), &bm1), 0);
    expect(n->out[0], IR_F32, SHAPE(bm1, C(20)));
    assert_int_equal(n->n_params, 2);
    assert_true(ir_dim_eq(n->params[0], C(1)));
    /* [-1:] of B is one element starting at B - 1 */
    n = mk(IR_OP_SLICE, "last_sym", 1, 4, f32(SHAPE(SY(1, B), C(20))), ci64(I64S(-1)), ci64(I64S(INT64_MAX)), ci64(I64S(0)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(20)));
    assert_true(ir_dim_eq(n->params[0], bm1));
    n = mk(IR_OP_SLICE, "step0", 1, 5, x, ci64(I64S(0)), ci64(I64S(3)), ci64(I64S(0)), ci64(I64S(0)));
    err(n, "step on axis 0 is 0");
    /* starts from a graph input: data symbols, clamped at run time */
    n = mk(IR_OP_SLICE, "dyn", 1, 3, x, in(IR_I64, SHAPE(C(1))), ci64(I64S(3)));
    ok(n);
    assert_true(n->out[0]->shape.dims[0].sym >= 0);
    assert_int_equal(n->n_params, x->shape.rank);
}

static void test_gather_squeeze(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_GATHER, "g1", 1, 2, f32(SHAPE(C(5), C(4), C(3))), in(IR_I64, SHAPE(C(2), C(6))));
    a_int(n, "axis", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(5), C(2), C(6), C(3)));
    int64_t i1 = -5;
    n = mk(IR_OP_GATHER, "g0", 1, 2, f32(SHAPE(C(5), C(4))), cscalar(IR_I64, &i1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(4)));
    n = mk(IR_OP_GATHER, "gneg", 1, 2, f32(SHAPE(SY(1, B), C(4))), in(IR_I32, SHAPE(C(3))));
    a_int(n, "axis", -1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(3)));
    n = mk(IR_OP_GATHER, "goob", 1, 2, f32(SHAPE(C(5), C(4))), ci64(I64S(0, 5)));
    err(n, "index 5 is out of range");
    n = mk(IR_OP_GATHER, "gax", 1, 2, f32(SHAPE(C(5), C(4))), ci64(I64S(0)));
    a_int(n, "axis", 2);
    err(n, "axis 2 is out of range");

    ir_value_t *x = f32(SHAPE(C(1), C(3), C(1), C(4)));
    n = mk(IR_OP_SQUEEZE, "sq", 1, 1, x);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3), C(4)));
    n = mk(IR_OP_SQUEEZE, "sq0", 1, 2, x, ci64(I64S(-2)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(3), C(4)));
    n = mk(IR_OP_SQUEEZE, "sq_bad", 1, 2, x, ci64(I64S(1)));
    err(n, "cannot squeeze axis 1");
    n = mk(IR_OP_UNSQUEEZE, "usq", 1, 2, f32(SHAPE(SY(1, B), C(4))), ci64(I64S(0, -1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), SY(1, B), C(4), C(1)));
    n = mk(IR_OP_UNSQUEEZE, "usq_mid", 1, 2, f32(SHAPE(C(3), C(4))), ci64(I64S(1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3), C(1), C(4)));
}

static void test_expand_tile_pad(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = mk(IR_OP_EXPAND, "ex", 1, 2, f32(SHAPE(C(3), C(1))), ci64(I64S(2, 1, 4)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(4)));
    n = mk(IR_OP_EXPAND, "ex_sym", 1, 2, f32(SHAPE(SY(1, B), C(1))), ci64(I64S(1, 5)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(5)));
    n = mk(IR_OP_EXPAND, "ex_bad", 1, 2, f32(SHAPE(C(3))), ci64(I64S(2, 4)));
    err(n, "[3] and [2,4]");
    n = mk(IR_OP_TILE, "tile", 1, 2, f32(SHAPE(SY(1, B), C(3))), ci64(I64S(2, 2)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(2, B), C(6)));
    n = mk(IR_OP_PAD, "pad", 1, 2, f32(SHAPE(C(1), C(3), C(4), C(4))), ci64(I64S(0, 0, 1, 2, 0, 0, 1, 0)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(3), C(6), C(6)));
    float zero = 0;
    n = mk(IR_OP_PAD, "pad_ax", 1, 4, f32(SHAPE(C(2), C(5))), ci64(I64S(-1, 3)), cscalar(IR_F32, &zero), ci64(I64S(-1)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(7)));
    n = mk(IR_OP_PAD, "pad_refl", 1, 2, f32(SHAPE(C(2), C(3))), ci64(I64S(0, 3, 0, 0)));
    a_str(n, "mode", "reflect");
    err(n, "too large for reflect mode");
    n = mk(IR_OP_PAD, "pad_len", 1, 2, f32(SHAPE(C(2), C(3))), ci64(I64S(0, 3)));
    err(n, "pads has 2 values, expected 4");
}

static void test_shape_constants(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_value_t *x = f32(SHAPE(SY(1, B), C(3), C(4)));
    ir_node_t *n = mk(IR_OP_SHAPE, "shape", 1, 1, x);
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(3)));
    n = mk(IR_OP_SHAPE, "shape_s", 1, 1, x);
    a_int(n, "start", -2);
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(2)));
    n = mk(IR_OP_SIZE, "size", 1, 1, x);
    ok(n);
    expect(n->out[0], IR_I64, SCALAR);

    n = mk(IR_OP_CONSTANT_OF_SHAPE, "cos", 1, 1, ci64(I64S(2, 3)));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3)));
    int64_t one = 1;
    ir_shape_t s1 = SHAPE(C(1));
    n = mk(IR_OP_CONSTANT_OF_SHAPE, "cos_i", 1, 1, ci64(I64S(4)));
    ir_node_add_attr(G, n, "value", IR_ATTR_TENSOR)->t = ir_value_const(G, "val", IR_I64, &s1, &one, 8);
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(4)));
    n = mk(IR_OP_CONSTANT_OF_SHAPE, "cos_neg", 1, 1, ci64(I64S(2, -3)));
    err(n, "negative dim -3");

    int64_t a = 0, b = 10, c = 3;
    n = mk(IR_OP_RANGE, "range", 1, 3, cscalar(IR_I64, &a), cscalar(IR_I64, &b), cscalar(IR_I64, &c));
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(4)));
    float fa = 1.0f, fb = 0.0f, fc = -0.3f;
    n = mk(IR_OP_RANGE, "range_f", 1, 3, cscalar(IR_F32, &fa), cscalar(IR_F32, &fb), cscalar(IR_F32, &fc));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(4)));
    n = mk(IR_OP_RANGE, "range_e", 1, 3, cscalar(IR_I64, &b), cscalar(IR_I64, &a), cscalar(IR_I64, &c));
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(0)));
    /* limit is a graph input: length max(ceil(limit / 3), 0), printed as max((limit + 2) // 3, 0) */
    ir_value_t *lim = in(IR_I64, SCALAR);
    n = mk(IR_OP_RANGE, "range_d", 1, 3, cscalar(IR_I64, &a), lim, cscalar(IR_I64, &c));
    ok(n);
    char buf[128];
    ir_dim_str(G, n->out[0]->shape.dims[0], buf, sizeof buf);
    char want[128];
    snprintf(want, sizeof want, "max((%s + 2) // 3, 0)", lim->name);
    assert_string_equal(buf, want);
    float ff = 2.0f;
    /* a float range with a graph-input limit: its length over the float64 values */
    n = mk(IR_OP_RANGE, "range_df", 1, 3, cscalar(IR_F32, &ff), in(IR_F32, SCALAR), cscalar(IR_F32, &ff));
    ok(n);
    assert_true(n->out[0]->shape.dims[0].sym >= 0 && G->symdefs[n->out[0]->shape.dims[0].sym].kind == IR_SYM_FRANGE);
    /* one computed from tensor values is refused */
    ir_node_t *fab = mk(IR_OP_ABS, "fabs", 1, 1, in(IR_F32, SCALAR));
    ok(fab);
    n = mk(IR_OP_RANGE, "range_dc", 1, 3, cscalar(IR_F32, &ff), fab->out[0], cscalar(IR_F32, &ff));
    err(n, "must be a constant or a graph input");
    /* Shape -> Gather -> Unsqueeze -> Concat gives a symbolic ConstantOfShape */
    ir_node_t *gi = mk(IR_OP_GATHER, "g0", 1, 2, mk(IR_OP_SHAPE, "sh0", 1, 1, x)->out[0], ci64(I64S(0)));
    ok(gi->in[0]->producer);
    ok(gi);
    ir_node_t *cc = mk(IR_OP_CONCAT, "cat", 1, 2, gi->out[0], ci64(I64S(5)));
    a_int(cc, "axis", 0);
    ok(cc);
    n = mk(IR_OP_CONSTANT_OF_SHAPE, "cos_sym", 1, 1, cc->out[0]);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(5)));

    n = mk(IR_OP_CONSTANT, "k", 1, 0);
    ir_attr_t *at = ir_node_add_attr(G, n, "value_ints", IR_ATTR_INTS);
    at->n = 5;
    ok(n);
    expect(n->out[0], IR_I64, SHAPE(C(5)));
    n = mk(IR_OP_IDENTITY, "id", 1, 1, in(IR_I32, SHAPE(C(2))));
    ok(n);
    expect(n->out[0], IR_I32, SHAPE(C(2)));
}

static void test_limits(void **st) {
    (void)st;
    /* Dims that multiply past int64 are refused rather than wrapped. */
    ir_node_t *n = mk(IR_OP_EXPAND, "big", 1, 2, f32(SHAPE(C(1), C(1))), ci64(I64S(INT64_MAX / 2, 4)));
    err(n, "overflows int64");
    n = mk(IR_OP_UNSQUEEZE, "deep", 1, 2, f32(SHAPE(C(1), C(1), C(1), C(1), C(1), C(1), C(1))), ci64(I64S(0, 1)));
    err(n, "result rank 9 exceeds 8");
    n = mk(IR_OP_RELU, "arity", 1, 0);
    err(n, "has 0 inputs");
    int ax = 0;
    assert_int_equal(ir_norm_axis(-3, 3, &ax), 0);
    assert_int_equal(ax, 0);
    assert_int_equal(ir_norm_axis(3, 3, &ax), -1);
    int64_t buf[4];
    assert_int_equal(ir_const_ints(ci64(I64S(7, 8, 9)), buf, 4), 3);
    assert_int_equal(buf[2], 9);
    assert_int_equal(ir_const_ints(in(IR_I64, SHAPE(C(3))), buf, 4), -1);
    ir_dim_t d;
    assert_int_equal(ir_dim_mul(G, SY(2, 0), C(3), &d), 0);
    assert_true(ir_dim_eq(d, SY(6, 0)));
}

/* ---------------------------------------------------------------- gather/scatter by index */
static void test_gather_scatter_nd(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    /* Output = indices.shape[:-1] ++ data.shape[batch_dims + m:] (ONNX shape inference). */
    ir_node_t *n = mk(IR_OP_GATHER_ND, "gnd", 1, 2, f32(SHAPE(C(5), C(4), C(3))), in(IR_I64, SHAPE(C(2), C(2))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3)));
    n = mk(IR_OP_GATHER_ND, "gnd_b1", 1, 2, f32(SHAPE(C(2), C(3), C(4), C(5))), in(IR_I64, SHAPE(C(2), C(6), C(2))));
    a_int(n, "batch_dims", 1);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(6), C(5)));
    n = mk(IR_OP_GATHER_ND, "gnd_sym", 1, 2, in(IR_I32, SHAPE(SY(1, B), C(3), C(4))), in(IR_I64, SHAPE(SY(1, B), C(7), C(1))));
    a_int(n, "batch_dims", 1);
    ok(n);
    expect(n->out[0], IR_I32, SHAPE(SY(1, B), C(7), C(4)));
    n = mk(IR_OP_GATHER_ND, "gnd_scalar", 1, 2, f32(SHAPE(C(5), C(4))), in(IR_I64, SHAPE(C(2))));
    ok(n);
    expect(n->out[0], IR_F32, SCALAR);
    n = mk(IR_OP_GATHER_ND, "gnd_long", 1, 2, f32(SHAPE(C(5), C(4), C(3))), in(IR_I64, SHAPE(C(2), C(4))));
    err(n, "indices' last dim 4 must be in [1, 3]");
    n = mk(IR_OP_GATHER_ND, "gnd_b_long", 1, 2, f32(SHAPE(C(2), C(4), C(3))), in(IR_I64, SHAPE(C(2), C(3))));
    a_int(n, "batch_dims", 1);
    err(n, "must be in [1, 2]");
    n = mk(IR_OP_GATHER_ND, "gnd_bdim", 1, 2, f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(3), C(1))));
    a_int(n, "batch_dims", 1);
    err(n, "batch dim 0 differs");
    n = mk(IR_OP_GATHER_ND, "gnd_brank", 1, 2, f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(2), C(1))));
    a_int(n, "batch_dims", 2);
    err(n, "batch_dims 2 must be in [0, min(data rank 2, indices rank 2))");
    n = mk(IR_OP_GATHER_ND, "gnd_q0", 1, 2, f32(SHAPE(C(2), C(4))), in(IR_I64, SCALAR));
    err(n, "indices must have rank >= 1");
    n = mk(IR_OP_GATHER_ND, "gnd_fidx", 1, 2, f32(SHAPE(C(2), C(4))), f32(SHAPE(C(1), C(1))));
    err(n, "must be int32 or int64");

    /* ScatterND: updates = indices.shape[:-1] ++ data.shape[m:]; output = data. */
    ir_value_t *d = f32(SHAPE(C(4), C(5), C(6)));
    n = mk(IR_OP_SCATTER_ND, "snd", 1, 3, d, in(IR_I64, SHAPE(C(3), C(2))), f32(SHAPE(C(3), C(6))));
    a_str(n, "reduction", "max");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(4), C(5), C(6)));
    n = mk(IR_OP_SCATTER_ND, "snd_upd", 1, 3, d, in(IR_I64, SHAPE(C(3), C(2))), f32(SHAPE(C(3), C(5))));
    err(n, "updates shape [3,5] does not match [3,6]");
    n = mk(IR_OP_SCATTER_ND, "snd_red", 1, 3, d, in(IR_I64, SHAPE(C(3), C(1))), f32(SHAPE(C(3), C(5), C(6))));
    a_str(n, "reduction", "sub");
    err(n, "reduction 'sub' is not one of");
    n = mk(IR_OP_SCATTER_ND, "snd_bool", 1, 3, in(IR_BOOL, SHAPE(C(4))), in(IR_I64, SHAPE(C(1), C(1))), in(IR_BOOL, SHAPE(C(1))));
    a_str(n, "reduction", "add");
    err(n, "needs numeric data");
    n = mk(IR_OP_SCATTER_ND, "snd_dt", 1, 3, d, in(IR_I64, SHAPE(C(1), C(3))), in(IR_F64, SHAPE(C(1))));
    err(n, "updates dtype float64 differs");
}

static void test_scatter_elements(void **st) {
    (void)st;
    ir_value_t *d = f32(SHAPE(C(3), C(4)));
    /* Along the axis indices may be longer than data; elsewhere they must fit. */
    ir_node_t *n = mk(IR_OP_SCATTER_ELEMENTS, "se", 1, 3, d, in(IR_I64, SHAPE(C(5), C(2))), f32(SHAPE(C(5), C(2))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(3), C(4)));
    n = mk(IR_OP_SCATTER_ELEMENTS, "se_wide", 1, 3, d, in(IR_I64, SHAPE(C(2), C(5))), f32(SHAPE(C(2), C(5))));
    err(n, "larger than data [3,4] in dim 1");
    n = mk(IR_OP_SCATTER_ELEMENTS, "se_ax", 1, 3, d, in(IR_I64, SHAPE(C(2), C(5))), f32(SHAPE(C(2), C(5))));
    a_int(n, "axis", -1);
    ok(n);
    n = mk(IR_OP_SCATTER_ELEMENTS, "se_ax2", 1, 3, d, in(IR_I64, SHAPE(C(2), C(2))), f32(SHAPE(C(2), C(2))));
    a_int(n, "axis", 2);
    err(n, "axis 2 is out of range for rank 2");
    n = mk(IR_OP_SCATTER_ELEMENTS, "se_rank", 1, 3, d, in(IR_I64, SHAPE(C(2))), f32(SHAPE(C(2))));
    err(n, "indices rank 1 differs from data rank 2");
    n = mk(IR_OP_SCATTER_ELEMENTS, "se_upd", 1, 3, d, in(IR_I64, SHAPE(C(2), C(2))), f32(SHAPE(C(2), C(3))));
    err(n, "updates shape [2,3] differs from indices shape [2,2]");
}

/* ---------------------------------------------------------------- Lp family */
static void test_lp(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_LP_POOL, "lpp_same", 1, 1, f32(SHAPE(C(1), C(3), C(32), C(32))));
    a_ints(n, "kernel_shape", I64S(2, 2));
    a_str(n, "auto_pad", "SAME_LOWER");
    a_int(n, "p", 4);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(3), C(32), C(32)));
    n = mk(IR_OP_LP_POOL, "lpp_s3", 1, 1, f32(SHAPE(C(1), C(3), C(32), C(32))));
    a_ints(n, "kernel_shape", I64S(5, 5));
    a_ints(n, "strides", I64S(3, 3));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(3), C(10), C(10)));
    n = mk(IR_OP_LP_POOL, "lpp_dil", 1, 1, in(IR_F64, SHAPE(C(1), C(1), C(4), C(4), C(9))));
    a_ints(n, "kernel_shape", I64S(2, 2, 3));
    a_ints(n, "dilations", I64S(2, 2, 4));
    a_ints(n, "pads", I64S(0, 0, 1, 0, 0, 2));
    ok(n);
    expect(n->out[0], IR_F64, SHAPE(C(1), C(1), C(2), C(2), C(4)));
    n = mk(IR_OP_LP_POOL, "lpp_p0", 1, 1, f32(SHAPE(C(1), C(1), C(4))));
    a_ints(n, "kernel_shape", I64S(2));
    a_int(n, "p", 0);
    err(n, "p 0 must be in [1, 1024]");
    n = mk(IR_OP_LP_POOL, "lpp_int", 1, 1, in(IR_I32, SHAPE(C(1), C(1), C(4))));
    a_ints(n, "kernel_shape", I64S(2));
    err(n, "must be a floating-point tensor");
    n = mk(IR_OP_LP_POOL, "lpp_rank", 1, 1, f32(SHAPE(C(4), C(4))));
    a_ints(n, "kernel_shape", I64S(2));
    err(n, "input must have rank >= 3");

    n = mk(IR_OP_LP_NORM, "lpn", 1, 1, f32(SHAPE(C(2), C(2), C(3))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(2), C(3)));
    n = mk(IR_OP_LP_NORM, "lpn_p3", 1, 1, f32(SHAPE(C(2), C(3))));
    a_int(n, "p", 3);
    err(n, "p 3 is not supported");
    n = mk(IR_OP_LP_NORM, "lpn_ax", 1, 1, f32(SHAPE(C(2), C(3))));
    a_int(n, "axis", -3);
    err(n, "axis -3 is out of range for rank 2");
}

/* Slice bounds follow Python's slice.indices: the one rule inference, folding and lowering share. */
static void test_slice_range(void **state) {
    (void)state;
    int64_t first;
    assert_int_equal(ir_slice_range(5, 1, 4, 1, &first), 3);
    assert_int_equal(first, 1);
    assert_int_equal(ir_slice_range(5, -2, 100, 1, &first), 2);      /* x[-2:] */
    assert_int_equal(first, 3);
    assert_int_equal(ir_slice_range(5, -1, -100, -1, &first), 5);    /* x[::-1] */
    assert_int_equal(first, 4);
    assert_int_equal(ir_slice_range(5, -100, -100, -1, &first), 0);  /* x[-100::-1] is empty */
    assert_int_equal(ir_slice_range(5, 100, 0, -2, &first), 2);      /* x[100:0:-2]: 4, 2 */
    assert_int_equal(first, 4);
    assert_int_equal(ir_slice_range(5, 0, INT64_MAX, 3, &first), 2);
    assert_int_equal(ir_slice_range(0, 0, 10, 1, &first), 0);
}

/* Every row's recipe parses, and the interpreter gives the values the spec defines. */
static void test_recipes(void **state) {
    (void)state;
    int with = 0;
    for (int op = 0; op < IR_OP_COUNT; op++) {
        const char *err = NULL;
        const ir_rexpr_t *e = ir_recipe((ir_op_t)op, &err);
        if (ir_op_recipe((ir_op_t)op)) {
            if (!e) fail_msg("%s: recipe does not parse: %s", ir_op_name((ir_op_t)op), err ? err : "?");
            with++;
        }
    }
    assert_true(with >= 60);
    ir_node_t n = {.op = ir_op_lookup("HardSigmoid")};   /* no attributes: schema defaults */
    bool nb[3] = {false, false, false}, pr[3] = {true, false, false};
    ir_rval_t in[3] = {{.f = 1.0}};
    ir_rval_t r = ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_F32, in, nb, pr);
    assert_true(r.f > 0.6999 && r.f < 0.7001);          /* 0.2 * 1 + 0.5 */
    in[0].f = 10;
    r = ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_F32, in, nb, pr);
    assert_true(r.f == 1.0);
    n.op = ir_op_lookup("Div");                           /* integer division by zero gives 0 */
    pr[1] = true;
    in[0].i = 7; in[1].i = 0;
    assert_int_equal(ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_I32, in, nb, pr).i, 0);
    in[1].i = -2;
    assert_int_equal(ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_I32, in, nb, pr).i, -3);
    n.op = ir_op_lookup("BitwiseXor");
    in[0].i = 0xF0; in[1].i = 0xFF;
    assert_int_equal(ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_U8, in, nb, pr).i, 0x0F);
    n.op = ir_op_lookup("Clip");                          /* absent bounds: the dtype's range */
    pr[1] = false;
    in[0].i = -128;
    assert_int_equal(ir_recipe_eval(ir_recipe(n.op, NULL), &n, IR_I8, in, nb, pr).i, -128);
}

/* onnxc --dim: a symbol becomes a constant everywhere and leaves g->syms, the symbols
 * after it move down one; a refusal leaves the graph as it was. */
static void test_fix_sym(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch"), T = ir_graph_add_sym(G, "seq");
    ir_value_t *x = f32(SHAPE(SY(1, B), SY(2, T), C(4)));
    ir_value_t *y = f32(SHAPE(SY(1, T)));
    assert_int_equal(ir_graph_fix_sym(G, "batch", 3), 0);
    assert_int_equal(G->n_syms, 1);
    assert_string_equal(G->syms[0], "seq");
    expect(x, IR_F32, SHAPE(C(3), SY(2, 0), C(4)));
    expect(y, IR_F32, SHAPE(SY(1, 0)));
    assert_int_equal(ir_graph_fix_sym(G, "nope", 2), -1);
    assert_non_null(strstr(G->err, "no symbolic dimension 'nope' (it has: 'seq')"));
    assert_int_equal(ir_graph_fix_sym(G, "seq", 0), -1);
    int big = ir_graph_add_sym(G, "big");
    ir_value_t *z = f32(SHAPE(SY((int64_t)1 << 40, big)));
    assert_int_equal(ir_graph_fix_sym(G, "big", (int64_t)1 << 30), -1);
    assert_non_null(strstr(G->err, "overflows"));
    expect(z, IR_F32, SHAPE(SY((int64_t)1 << 40, big)));
    assert_int_equal(G->n_syms, 2);
    assert_int_equal(ir_graph_fix_sym(G, "seq", 5), 0);
    expect(x, IR_F32, SHAPE(C(3), C(10), C(4)));
    expect(y, IR_F32, SHAPE(C(5)));
    expect(z, IR_F32, SHAPE(SY((int64_t)1 << 40, 0)));
    assert_string_equal(G->syms[0], "big");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fix_sym, setup, teardown),
        cmocka_unit_test(test_recipes),
        cmocka_unit_test(test_slice_range),
        cmocka_unit_test_setup_teardown(test_broadcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elementwise_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_transpose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batchnorm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gemm_matmul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_softmax_reduce_layernorm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flatten_reshape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transpose_concat_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gather_squeeze, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand_tile_pad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shape_constants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gather_scatter_nd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scatter_elements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
