/* Unit tests for QuantizeLinear / DequantizeLinear's reference evaluation
 * (passes/eval_quant.c). Expected values from the ONNX reference implementation
 * (onnx.reference, opset 21) on the same inputs: rounding half to even, saturation,
 * blocked scales with signed zero points, per-axis dequantization; MatMulInteger and
 * QLinearMatMul (requantized with a tie rounded to even: 10.5 -> 10); DynamicQuantizeLinear;
 * ConvInteger with padding (padded taps contribute 0 after the zero-point shift). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "passes/passes.h"
#include "tests/passes/builders.h"

static ir_value_t *cconst(ir_graph_t *g, const char *name, ir_dtype_t t, ir_shape_t s, const void *d) {
    return ir_value_const(g, name, t, &s, d, ir_dtype_size(t) * (size_t)ir_shape_numel(&s));
}

static void test_quantize(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("q.onnx");
    float one = 1.0f;
    uint8_t z10 = 10;
    ir_value_t *y = val(g, "y");
    fold(g, mk(g, IR_OP_QUANTIZE_LINEAR, "q", 3,
               IN(cf32(g, "x", S1(8), F32S(-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 300, -300)),
                  cconst(g, "s", IR_F32, S0(), &one), cconst(g, "z", IR_U8, S0(), &z10)), y));
    assert_int_equal(y->dtype, IR_U8);
    static const uint8_t want[] = {8, 8, 10, 10, 12, 12, 255, 0};
    assert_memory_equal(y->data, want, sizeof want);
    /* blocked along axis 1 (block 2), int8 zero points */
    int8_t zb[4] = {0, 1, -1, 2};
    ir_value_t *yb = val(g, "yb");
    ir_node_t *n = mk(g, IR_OP_QUANTIZE_LINEAR, "qb", 3,
                      IN(cf32(g, "xb", S2(2, 4), F32S(1, 2, 3, 4, -1, -2, -3, -4)), cf32(g, "sb", S2(2, 2), F32S(0.5f, 2, 1, 4)),
                         cconst(g, "zb", IR_I8, S2(2, 2), zb)), yb);
    attr_int(g, n, "axis", 1);
    attr_int(g, n, "block_size", 2);
    fold(g, n);
    assert_int_equal(yb->dtype, IR_I8);
    static const int8_t wantb[] = {2, 4, 3, 3, -2, -3, 1, 1};
    assert_memory_equal(yb->data, wantb, sizeof wantb);
    ir_graph_free(g);
}

static void test_dequantize(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("dq.onnx");
    uint8_t x[4] = {0, 100, 200, 255}, z[2] = {10, 128};
    ir_value_t *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_DEQUANTIZE_LINEAR, "dq", 3,
                      IN(cconst(g, "x", IR_U8, S2(2, 2), x), cf32(g, "s", S1(2), F32S(0.5f, 0.25f)), cconst(g, "z", IR_U8, S1(2), z)), y);
    attr_int(g, n, "axis", 0);
    fold(g, n);
    assert_int_equal(y->dtype, IR_F32);
    static const float want[] = {-5.0f, 45.0f, 18.0f, 31.75f};
    assert_memory_equal(y->data, want, sizeof want);
    /* a scale that fits no granularity is an error naming it */
    n = mk(g, IR_OP_DEQUANTIZE_LINEAR, "bad", 2, IN(cconst(g, "x2", IR_U8, S2(2, 2), x), cf32(g, "s3", S1(3), F32S(1, 2, 3))), val(g, "y2"));
    assert_int_equal(pass_eval_node(g, n), -1);
    assert_non_null(strstr(g->err, "scale 's3'"));
    ir_graph_free(g);
}

static void test_qmatmul(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("qmm.onnx");
    uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, az = 1, bz = 2, yz = 3;
    float as = 0.5f, bs = 0.25f, ys = 0.1f;
    ir_value_t *A = cconst(g, "a", IR_U8, S2(2, 2), a), *B = cconst(g, "b", IR_U8, S2(2, 2), b);
    ir_value_t *AZ = cconst(g, "az", IR_U8, S0(), &az), *BZ = cconst(g, "bz", IR_U8, S0(), &bz);
    ir_value_t *y = val(g, "y"), *q = val(g, "q");
    fold(g, mk(g, IR_OP_MATMUL_INTEGER, "mmi", 4, IN(A, B, AZ, BZ), y));
    assert_int_equal(y->dtype, IR_I32);
    static const int32_t want[] = {5, 6, 21, 26};
    assert_memory_equal(y->data, want, sizeof want);
    fold(g, mk(g, IR_OP_QLINEAR_MATMUL, "qlmm", 8,
               IN(A, cconst(g, "as", IR_F32, S0(), &as), AZ, B, cconst(g, "bs", IR_F32, S0(), &bs), BZ,
                  cconst(g, "ys", IR_F32, S0(), &ys), cconst(g, "yz", IR_U8, S0(), &yz)), q));
    assert_int_equal(q->dtype, IR_U8);
    static const uint8_t wantq[] = {9, 10, 29, 36};
    assert_memory_equal(q->data, wantq, sizeof wantq);
    ir_graph_free(g);
}

static void test_dynamic_quantize(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("dq.onnx");
    ir_node_t *n = ir_node_new(g, IR_OP_DYNAMIC_QUANTIZE_LINEAR, "dql", 1, 3);
    n->in[0] = cf32(g, "x", S1(6), F32S(0, 2, -3, -2.5f, 1.34f, 0.5f));
    for (int k = 0; k < 3; k++) n->out[k] = val(g, k == 0 ? "y" : k == 1 ? "s" : "z");
    fold(g, n);
    static const uint8_t want[] = {153, 255, 0, 26, 221, 179};
    assert_memory_equal(n->out[0]->data, want, sizeof want);
    assert_true(*(const float *)n->out[1]->data == 0.019607843831181526f);
    assert_int_equal(*(const uint8_t *)n->out[2]->data, 153);
    ir_graph_free(g);
}

static void test_conv_integer(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("ci.onnx");
    uint8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, xz = 1, wz = 1;
    ir_value_t *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_CONV_INTEGER, "ci", 4,
                      IN(cconst(g, "x", IR_U8, S4(1, 1, 3, 3), x), cconst(g, "w", IR_U8, S4(1, 1, 2, 2), w),
                         cconst(g, "xz", IR_U8, S0(), &xz), cconst(g, "wz", IR_U8, S1(1), &wz)), y);
    attr_ints(g, n, "pads", 4, I64S(1, 1, 0, 0));
    fold(g, n);
    dims(y, 4, I64S(1, 1, 3, 3));
    static const int32_t want[] = {0, 3, 8, 9, 19, 25, 21, 37, 43};
    assert_memory_equal(y->data, want, sizeof want);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_dequantize),
        cmocka_unit_test(test_qmatmul),
        cmocka_unit_test(test_dynamic_quantize),
        cmocka_unit_test(test_conv_integer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
