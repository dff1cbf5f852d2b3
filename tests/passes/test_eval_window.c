/* Unit tests for the window ops' reference evaluations (passes/eval_window.c): Conv,
 * ConvTranspose, BatchNormalization, the pools, LRN and DeformConv, folded by
 * pass_eval_node. Expected values are numpy loops written from the ONNX spec (pads,
 * strides, dilations, groups, ceil_mode, count_include_pad), independent of the C code. */
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


/* 1, 2, ..., numel(s) as float32 */
static ir_value_t *iota(ir_graph_t *g, const char *name, ir_shape_t s) {
    int64_t ne = ir_shape_numel(&s);
    float *d = malloc(sizeof(float) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) d[i] = (float)(i + 1);
    ir_value_t *v = cf32(g, name, s, d);
    free(d);
    return v;
}

static void no_fold(ir_graph_t *g, ir_node_t *n) {
    assert_int_equal(pass_eval_node(g, n), 0);
    assert_false(n->dead);
}
static void eq_f32(const ir_value_t *v, int cnt, const float *want) {
    assert_int_equal(v->dtype, IR_F32);
    assert_int_equal(ir_shape_numel(&v->shape), cnt);
    for (int i = 0; i < cnt; i++) {
        float got = ((const float *)v->data)[i];
        if (fabsf(got - want[i]) > 1e-5f * (1 + fabsf(want[i]))) fprintf(stderr, "element %d: %.9g, expected %.9g\n", i, got, want[i]);
        assert_true(fabsf(got - want[i]) <= 1e-5f * (1 + fabsf(want[i])));
    }
}
/* ---------------------------------------------------------------- Conv */
static void test_eval_conv(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("conv.onnx");
    /* 1x1x3x3 (1..9) with a 2x2 kernel [[1,2],[3,4]], pads 1, bias 0.5: 4x4 */
    ir_value_t *x = iota(g, "x", S4(1, 1, 3, 3)), *w = cf32(g, "w", S4(1, 1, 2, 2), F32S(1, 2, 3, 4));
    ir_value_t *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_CONV, "conv", 3, IN(x, w, cf32(g, "b", S1(1), F32S(0.5f))), y);
    attr_ints(g, n, "pads", 4, I64S(1, 1, 1, 1));
    fold(g, n);
    dims(y, 4, I64S(1, 1, 4, 4));
    eq_f32(y, 16, F32S(4.5, 11.5, 18.5, 9.5, 18.5, 37.5, 47.5, 21.5, 36.5, 67.5, 77.5, 33.5, 14.5, 23.5, 26.5, 9.5));
    /* grouped: 1x2x3x3 (1..18), group 2, w[0] picks the diagonal, w[1] sums the window */
    ir_value_t *yg = val(g, "yg");
    n = mk(g, IR_OP_CONV, "grouped", 2, IN(iota(g, "x2", S4(1, 2, 3, 3)), cf32(g, "w2", S4(2, 1, 2, 2), F32S(1, 0, 0, 1, 1, 1, 1, 1))), yg);
    attr_int(g, n, "group", 2);
    fold(g, n);
    dims(yg, 4, I64S(1, 2, 2, 2));
    eq_f32(yg, 8, F32S(6, 8, 12, 14, 48, 52, 60, 64));
    /* 1-D, dilation 2, SAME_UPPER (pads 1, 1) and stride 2, SAME_LOWER (pads 1, 0) */
    ir_value_t *x1 = cf32(g, "x1", S3(1, 1, 5), F32S(1, 2, 3, 4, 5)), *w1 = cf32(g, "w1", S3(1, 1, 2), F32S(1, 10));
    ir_value_t *yd = val(g, "yd"), *ys = val(g, "ys");
    n = mk(g, IR_OP_CONV, "dil", 2, IN(x1, w1), yd);
    attr_ints(g, n, "dilations", 1, I64S(2));
    attr_str(g, n, "auto_pad", "SAME_UPPER");
    fold(g, n);
    eq_f32(yd, 5, F32S(20, 31, 42, 53, 4));
    n = mk(g, IR_OP_CONV, "lower", 2, IN(x1, w1), ys);
    attr_ints(g, n, "strides", 1, I64S(2));
    attr_str(g, n, "auto_pad", "SAME_LOWER");
    fold(g, n);
    eq_f32(ys, 3, F32S(10, 32, 54));
    /* 3-D: a 2x2x2 box of ones over 1..8, pads 1 at both ends of the last axis */
    ir_value_t *y3 = val(g, "y3");
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    n = mk(g, IR_OP_CONV, "conv3d", 2, IN(iota(g, "x3", S5(1, 1, 2, 2, 2)), cf32(g, "w3", S5(1, 1, 2, 2, 2), ones)), y3);
    attr_ints(g, n, "pads", 6, I64S(0, 0, 1, 0, 0, 1));
    fold(g, n);
    dims(y3, 5, I64S(1, 1, 1, 1, 3));
    eq_f32(y3, 3, F32S(16, 36, 20));   /* the padded windows see only column 0 / column 1 */
    ir_graph_free(g);
}

/* A constant convolution above the work cap (2^24 multiply-adds) is left to the kernel. */
static void test_eval_conv_cap(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("conv_cap.onnx");
    int64_t nx = 64 * 32 * 32, nw = 64 * 64 * 3 * 3;
    float *d = calloc((size_t)(nx > nw ? nx : nw), sizeof(float));
    ir_value_t *x = cf32(g, "x", S4(1, 64, 32, 32), d), *w = cf32(g, "w", S4(64, 64, 3, 3), d);
    free(d);
    ir_node_t *n = mk(g, IR_OP_CONV, "big", 2, IN(x, w), val(g, "y"));
    attr_ints(g, n, "pads", 4, I64S(1, 1, 1, 1));
    no_fold(g, n);   /* 64*64*32*32*9 = 37.7M */
    ir_graph_free(g);
}

/* ConvTranspose stride 2: each input element stamps x * w at 2*i (overlap-free for a
 * 2x2 kernel); with a 3x3 kernel and pads 1 the overlaps add up and the border is cut. */
static void test_eval_conv_transpose(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("convt.onnx");
    ir_value_t *x = cf32(g, "x", S4(1, 1, 2, 2), F32S(1, 2, 3, 4)), *y = val(g, "y"), *y3 = val(g, "y3");
    ir_node_t *n = mk(g, IR_OP_CONV_TRANSPOSE, "convt", 2, IN(x, cf32(g, "w", S4(1, 1, 2, 2), F32S(1, 2, 3, 4))), y);
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    fold(g, n);
    dims(y, 4, I64S(1, 1, 4, 4));
    eq_f32(y, 16, F32S(1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16));
    n = mk(g, IR_OP_CONV_TRANSPOSE, "convt3", 2, IN(x, iota(g, "w3", S4(1, 1, 3, 3))), y3);
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    attr_ints(g, n, "pads", 4, I64S(1, 1, 1, 1));
    fold(g, n);
    dims(y3, 4, I64S(1, 1, 3, 3));
    eq_f32(y3, 9, F32S(5, 14, 10, 14, 36, 24, 15, 34, 20));
    /* output_padding 1 adds a row and column that only the bias reaches (plus the last
     * taps): full 4x4 + 1 = 5x5 from the 2x2 kernel, zero there before the bias */
    ir_value_t *yp = val(g, "yp");
    n = mk(g, IR_OP_CONV_TRANSPOSE, "convtp", 3, IN(x, cf32(g, "wp", S4(1, 1, 2, 2), F32S(1, 2, 3, 4)), cf32(g, "bp", S1(1), F32S(1))), yp);
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    attr_ints(g, n, "output_padding", 2, I64S(1, 1));
    fold(g, n);
    dims(yp, 4, I64S(1, 1, 5, 5));
    eq_f32(yp, 25, F32S(2, 3, 3, 5, 1, 4, 5, 7, 9, 1, 4, 7, 5, 9, 1, 10, 13, 13, 17, 1, 1, 1, 1, 1, 1));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- BatchNormalization */
static void test_eval_batch_norm(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("bn.onnx");
    ir_value_t *x = iota(g, "x", S4(1, 2, 2, 2)), *y = val(g, "y");
    ir_value_t *ins[5] = {x, cf32(g, "sc", S1(2), F32S(1, 2)), cf32(g, "b", S1(2), F32S(0, 1)), cf32(g, "mu", S1(2), F32S(2, 5)),
                          cf32(g, "var", S1(2), F32S(4, 1))};
    ir_node_t *n = mk(g, IR_OP_BATCH_NORM, "bn", 5, ins, y);
    fold(g, n);
    eq_f32(y, 8, F32S(-0.49999937500117186, 0.0, 0.49999937500117186, 0.9999987500023437, 1.0, 2.9999900000749995,
                      4.999980000149999, 6.999970000224998));
    /* training mode uses batch statistics: not this evaluation */
    n = mk(g, IR_OP_BATCH_NORM, "bn_train", 5, ins, val(g, "yt"));
    attr_int(g, n, "training_mode", 1);
    no_fold(g, n);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- pools */
static void test_eval_max_pool(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("maxpool.onnx");
    /* 4x4 (1..16), kernel 3, stride 2, ceil_mode: the second window hangs over the edge */
    ir_value_t *x = iota(g, "x", S4(1, 1, 4, 4)), *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_MAX_POOL, "mp", 1, IN(x), y);
    attr_ints(g, n, "kernel_shape", 2, I64S(3, 3));
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    attr_int(g, n, "ceil_mode", 1);
    fold(g, n);
    dims(y, 4, I64S(1, 1, 2, 2));
    eq_f32(y, 4, F32S(11, 12, 15, 16));
    /* int64, dilation 2 on 1-D: max of x[i], x[i+2] */
    ir_value_t *yi = val(g, "yi");
    n = mk(g, IR_OP_MAX_POOL, "mpi", 1, IN(ci64(g, "xi", S3(1, 1, 5), I64S(-5, 3, -1, -7, 2))), yi);
    attr_ints(g, n, "kernel_shape", 1, I64S(2));
    attr_ints(g, n, "dilations", 1, I64S(2));
    fold(g, n);
    assert_int_equal(yi->dtype, IR_I64);
    dims(yi, 3, I64S(1, 1, 3));
    const int64_t *v = yi->data;
    assert_int_equal(v[0], -1);
    assert_int_equal(v[1], 3);
    assert_int_equal(v[2], 2);
    /* with the Indices output, which is not computed here, the node stays */
    ir_node_t *m = ir_node_new(g, IR_OP_MAX_POOL, "mp_idx", 1, 2);
    m->in[0] = x;
    m->out[0] = val(g, "y2");
    m->out[1] = val(g, "idx");
    attr_ints(g, m, "kernel_shape", 2, I64S(2, 2));
    no_fold(g, m);
    ir_graph_free(g);
}

static void test_eval_average_pool(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("avgpool.onnx");
    ir_value_t *x = iota(g, "x", S4(1, 1, 3, 3)), *y0 = val(g, "y0"), *y1 = val(g, "y1");
    /* 3x3 kernel, pads 1: count_include_pad 0 divides by the taps inside, 1 by 9 */
    ir_node_t *n = mk(g, IR_OP_AVERAGE_POOL, "ap0", 1, IN(x), y0);
    attr_ints(g, n, "kernel_shape", 2, I64S(3, 3));
    attr_ints(g, n, "pads", 4, I64S(1, 1, 1, 1));
    fold(g, n);
    eq_f32(y0, 9, F32S(3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7));
    n = mk(g, IR_OP_AVERAGE_POOL, "ap1", 1, IN(x), y1);
    attr_ints(g, n, "kernel_shape", 2, I64S(3, 3));
    attr_ints(g, n, "pads", 4, I64S(1, 1, 1, 1));
    attr_int(g, n, "count_include_pad", 1);
    fold(g, n);
    eq_f32(y1, 9, F32S(1.3333333333333333, 2.3333333333333335, 1.7777777777777777, 3.0, 5.0, 3.6666666666666665,
                       2.6666666666666665, 4.333333333333333, 3.111111111111111));
    /* ceil_mode with count_include_pad: taps past the end padding are not counted */
    ir_value_t *x4 = iota(g, "x4", S4(1, 1, 4, 4)), *yc = val(g, "yc"), *ycp = val(g, "ycp");
    n = mk(g, IR_OP_AVERAGE_POOL, "apc", 1, IN(x4), yc);
    attr_ints(g, n, "kernel_shape", 2, I64S(3, 3));
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    attr_int(g, n, "ceil_mode", 1);
    attr_int(g, n, "count_include_pad", 1);
    fold(g, n);
    eq_f32(yc, 4, F32S(6, 7.5, 12, 13.5));
    n = mk(g, IR_OP_AVERAGE_POOL, "apcp", 1, IN(x4), ycp);
    attr_ints(g, n, "kernel_shape", 2, I64S(3, 3));
    attr_ints(g, n, "strides", 2, I64S(2, 2));
    attr_ints(g, n, "pads", 4, I64S(0, 0, 1, 1));
    attr_int(g, n, "ceil_mode", 1);
    attr_int(g, n, "count_include_pad", 1);
    fold(g, n);
    eq_f32(ycp, 4, F32S(6, 5, 8, 6));
    ir_graph_free(g);
}

static void test_eval_global_pools(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("gpool.onnx");
    ir_value_t *x = cf32(g, "x", S4(1, 2, 2, 2), F32S(1, -2, 3, 6, -1, -8, -3, -4)), *ya = val(g, "ya"), *ym = val(g, "ym");
    fold(g, mk(g, IR_OP_GLOBAL_AVERAGE_POOL, "gap", 1, IN(x), ya));
    dims(ya, 4, I64S(1, 2, 1, 1));
    eq_f32(ya, 2, F32S(2, -4));
    fold(g, mk(g, IR_OP_GLOBAL_MAX_POOL, "gmp", 1, IN(x), ym));
    eq_f32(ym, 2, F32S(6, -1));
    /* a NaN is passed over, as the kernel's max (select on "greater or unordered") does */
    ir_value_t *yn = val(g, "yn");
    fold(g, mk(g, IR_OP_GLOBAL_MAX_POOL, "gmp_nan", 1, IN(cf32(g, "xn", S4(1, 1, 1, 3), F32S(NAN, 2, -1))), yn));
    eq_f32(yn, 1, F32S(2));
    ir_graph_free(g);
}

static void test_eval_lp_pool(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("lppool.onnx");
    ir_value_t *x = cf32(g, "x", S4(1, 1, 3, 3), F32S(1, -2, 3, -4, 5, -6, 7, -8, 9)), *y2 = val(g, "y2"), *y3 = val(g, "y3");
    /* p = 2 (default), 2x2 kernel, end pads 1: padding adds nothing */
    ir_node_t *n = mk(g, IR_OP_LP_POOL, "lp2", 1, IN(x), y2);
    attr_ints(g, n, "kernel_shape", 2, I64S(2, 2));
    attr_ints(g, n, "pads", 4, I64S(0, 0, 1, 1));
    fold(g, n);
    eq_f32(y2, 9, F32S(6.782329983125268, 8.602325267042627, 6.708203932499369, 12.409673645990857, 14.352700094407323,
                       10.816653826391969, 10.63014581273465, 12.041594578792296, 9.0));
    n = mk(g, IR_OP_LP_POOL, "lp3", 1, IN(x), y3);
    attr_ints(g, n, "kernel_shape", 2, I64S(2, 2));
    attr_int(g, n, "p", 3);
    fold(g, n);
    eq_f32(y3, 4, F32S(5.828476683251456, 7.217652160277389, 10.14456664396954, 11.65204517503153));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- LRN */
static void test_eval_lrn(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("lrn.onnx");
    ir_value_t *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_LRN, "lrn", 1, IN(iota(g, "x", S4(1, 3, 1, 2))), y);
    attr_int(g, n, "size", 3);
    attr_float(g, n, "alpha", 0.1);
    fold(g, n);
    eq_f32(y, 6, F32S(0.8059274488676564, 1.3634632397609994, 1.679875817440657, 1.8156289292314263, 2.83253943502197,
                      2.82248603708414));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- DeformConv */
static void test_eval_deform_conv(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("deform.onnx");
    ir_value_t *x = iota(g, "x", S4(1, 1, 3, 3)), *w = cf32(g, "w", S4(1, 1, 2, 2), F32S(1, 2, 3, 4));
    /* zero offsets: exactly Conv */
    float zero[32] = {0}, off[32], mask[16];
    ir_value_t *y0 = val(g, "y0"), *y1 = val(g, "y1");
    fold(g, mk(g, IR_OP_DEFORM_CONV, "dc0", 3, IN(x, w, cf32(g, "o0", S4(1, 8, 2, 2), zero)), y0));
    dims(y0, 4, I64S(1, 1, 2, 2));
    eq_f32(y0, 4, F32S(37, 47, 67, 77));
    /* every tap shifted by (dy, dx) = (0.5, 0.25), bilinear with zero outside; the mask
     * halves tap 0 */
    for (int t = 0; t < 4; t++)
        for (int p = 0; p < 4; p++) {
            off[(t * 2) * 4 + p] = 0.5f;
            off[(t * 2 + 1) * 4 + p] = 0.25f;
            mask[t * 4 + p] = t == 0 ? 0.5f : 1.0f;
        }
    ir_value_t *ins[5] = {x, w, cf32(g, "o1", S4(1, 8, 2, 2), off), NULL, cf32(g, "m1", S4(1, 4, 2, 2), mask)};
    fold(g, mk(g, IR_OP_DEFORM_CONV, "dc1", 5, ins, y1));
    eq_f32(y1, 4, F32S(53.125, 51.375, 43.75, 40.5));
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_conv),          cmocka_unit_test(test_eval_conv_cap),
        cmocka_unit_test(test_eval_conv_transpose), cmocka_unit_test(test_eval_batch_norm),
        cmocka_unit_test(test_eval_max_pool),      cmocka_unit_test(test_eval_average_pool),
        cmocka_unit_test(test_eval_global_pools),  cmocka_unit_test(test_eval_lp_pool),
        cmocka_unit_test(test_eval_lrn),           cmocka_unit_test(test_eval_deform_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
