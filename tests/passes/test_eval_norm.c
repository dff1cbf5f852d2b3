/* Unit tests for the reference evaluations in passes/eval_norm.c and passes/eval_sample.c:
 * small nodes with constant inputs folded by pass_eval_node. Expected values are by hand
 * or from the ONNX reference evaluator (onnx.reference, float32), noted per case. */
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


/* an absent optional input (Resize's roi / scales): a constant with no elements */
static ir_value_t *cempty(ir_graph_t *g, const char *name) {
    ir_shape_t s = S1(0);
    return ir_value_const(g, name, IR_F32, &s, NULL, 0);
}

/* node with inputs ins[0..nin) and outputs outs[0..nout) */
static ir_node_t *mkn(ir_graph_t *g, ir_op_t op, const char *name, int nin, ir_value_t **ins, int nout, ir_value_t **outs) {
    ir_node_t *n = ir_node_new(g, op, name, nin, nout);
    for (int i = 0; i < nin; i++) n->in[i] = ins[i];
    for (int i = 0; i < nout; i++) n->out[i] = outs[i];
    return n;
}
/* float32 values within tol (absolute, or relative for large values) */
static void eq_f32(const ir_value_t *v, int cnt, const float *want, double tol) {
    assert_int_equal(v->dtype, IR_F32);
    assert_int_equal(ir_shape_numel(&v->shape), cnt);
    for (int i = 0; i < cnt; i++) {
        double got = ((const float *)v->data)[i], w = want[i];
        if (!(fabs(got - w) <= tol * (fabs(w) > 1 ? fabs(w) : 1))) {
            fprintf(stderr, "%s[%d] = %.9g, expected %.9g\n", v->name, i, got, w);
            fail();
        }
    }
}
/* ---------------------------------------------------------------- normalisations */
static void test_eval_layer_rms_norm(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("ln.onnx");
    /* [1,2,3,4]: mean 2.5, var 1.25, inv = 1/sqrt(1.25 + 1e-5) = 0.894423...; scale
     * [1,2,1,1], bias [0,0,0,1] (onnx.reference LayerNormalization-17) */
    ir_value_t *x = cf32(g, "x", S2(1, 4), F32S(1, 2, 3, 4));
    ir_value_t *y = val(g, "y"), *mean = val(g, "mean"), *inv = val(g, "inv");
    ir_node_t *n = mkn(g, IR_OP_LAYER_NORM, "ln", 3, IN(x, cf32(g, "sc", S1(4), F32S(1, 2, 1, 1)), cf32(g, "b", S1(4), F32S(0, 0, 0, 1))),
                       3, IN(y, mean, inv));
    fold(g, n);
    dims(y, 2, I64S(1, 4));
    eq_f32(y, 4, F32S(-1.3416355f, -0.89442366f, 0.44721183f, 2.3416355f), 1e-6);
    dims(mean, 2, I64S(1, 1));
    eq_f32(mean, 1, F32S(2.5f), 1e-7);
    eq_f32(inv, 1, F32S(0.89442366f), 1e-6);
    /* axis 0 normalises everything; two rows of [2, 2] as one row of 4 */
    ir_value_t *y0 = val(g, "y0");
    n = mk(g, IR_OP_LAYER_NORM, "ln0", 2, IN(cf32(g, "x0", S2(2, 2), F32S(1, 2, 3, 4)), cf32(g, "sc0", S2(2, 2), F32S(1, 1, 1, 1))), y0);
    attr_int(g, n, "axis", 0);
    fold(g, n);
    eq_f32(y0, 4, F32S(-1.3416355f, -0.44721183f, 0.44721183f, 1.3416355f), 1e-6);
    /* RMSNormalization: x / sqrt(mean(x^2) + eps), mean(x^2) = 7.5; scale [1,1,1,2] */
    ir_value_t *yr = val(g, "yr");
    fold(g, mk(g, IR_OP_RMS_NORM, "rms", 2, IN(x, cf32(g, "sr", S1(4), F32S(1, 1, 1, 2))), yr));
    eq_f32(yr, 4, F32S(0.36514813f, 0.73029625f, 1.0954444f, 2.921185f), 1e-6);
    ir_graph_free(g);
}

static void test_eval_chan_norm(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("gn.onnx");
    /* InstanceNormalization over [1, 2, 2]: channel 0 [1, 3] -> -+1 (var 1), channel 1
     * [2, 6] -> -+1 (var 4), scaled [1, 2] and shifted [0, 1] */
    ir_value_t *yi = val(g, "yi");
    fold(g, mk(g, IR_OP_INSTANCE_NORM, "in", 3,
               IN(cf32(g, "xi", S3(1, 2, 2), F32S(1, 3, 2, 6)), cf32(g, "si", S1(2), F32S(1, 2)), cf32(g, "bi", S1(2), F32S(0, 1))), yi));
    eq_f32(yi, 4, F32S(-0.999995f, 0.999995f, -0.9999976f, 2.9999976f), 1e-6);
    /* GroupNormalization, 2 groups over 4 channels: [1, 2] (var 0.25) and [3, 5] (var 1);
     * per-channel scale [1,1,1,2], bias [0,0,0,1] (GroupNormalization-21) */
    ir_value_t *yg = val(g, "yg");
    ir_node_t *n = mk(g, IR_OP_GROUP_NORM, "gn", 3,
                      IN(cf32(g, "xg", S3(1, 4, 1), F32S(1, 2, 3, 5)), cf32(g, "sg", S1(4), F32S(1, 1, 1, 2)), cf32(g, "bg", S1(4), F32S(0, 0, 0, 1))), yg);
    attr_int(g, n, "num_groups", 2);
    fold(g, n);
    eq_f32(yg, 4, F32S(-0.99998f, 0.99998f, -0.999995f, 2.99999f), 1e-6);
    /* the per-group form (GroupNormalization-18): scale [1, 2], bias [0, 1] per group */
    ir_value_t *yp = val(g, "yp");
    n = mk(g, IR_OP_GROUP_NORM, "gp", 3,
           IN(cf32(g, "xp", S3(1, 4, 1), F32S(1, 2, 3, 5)), cf32(g, "sp", S1(2), F32S(1, 2)), cf32(g, "bp", S1(2), F32S(0, 1))), yp);
    attr_int(g, n, "num_groups", 2);
    fold(g, n);
    eq_f32(yp, 4, F32S(-0.99998f, 0.99998f, -0.99999f, 2.99999f), 1e-6);
    /* LpNormalization p=2 along rows: [3, 4] -> [0.6, 0.8]; a zero row stays 0 */
    ir_value_t *l2 = val(g, "l2"), *l1 = val(g, "l1");
    fold(g, mk(g, IR_OP_LP_NORM, "lp2", 1, IN(cf32(g, "x2", S2(2, 2), F32S(3, 4, 0, 0))), l2));
    eq_f32(l2, 4, F32S(0.6f, 0.8f, 0, 0), 1e-7);
    /* p=1 along axis 0: columns [3, 1] / 4 and [4, -1] / 5 */
    n = mk(g, IR_OP_LP_NORM, "lp1", 1, IN(cf32(g, "x1", S2(2, 2), F32S(3, 4, 1, -1))), l1);
    attr_int(g, n, "axis", 0);
    attr_int(g, n, "p", 1);
    fold(g, n);
    eq_f32(l1, 4, F32S(0.75f, 0.8f, 0.25f, -0.2f), 1e-7);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- losses */
static void test_eval_losses(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("loss.onnx");
    /* NLL over [3, 3] log-probs, targets [0, 2, 1] with ignore_index 1, weights [1, 2, 3]:
     * -(-1 * 1) = 1, -(-2.5 * 3) = 7.5, ignored 0; sum 8.5, mean 8.5 / (1 + 3) */
    ir_value_t *x = cf32(g, "x", S2(3, 3), F32S(-1, -2, -3, -0.5f, -1.5f, -2.5f, -2, -1, -0.1f));
    ir_value_t *t = ci64(g, "t", S1(3), I64S(0, 2, 1)), *w = cf32(g, "w", S1(3), F32S(1, 2, 3));
    const char *reds[3] = {"none", "sum", "mean"};
    const float want[3][3] = {{1, 7.5f, 0}, {8.5f}, {2.125f}};
    for (int k = 0; k < 3; k++) {
        ir_value_t *y = val(g, reds[k]);
        ir_node_t *n = mk(g, IR_OP_NLL_LOSS, reds[k], 3, IN(x, t, w), y);
        attr_str(g, n, "reduction", reds[k]);
        attr_int(g, n, "ignore_index", 1);
        fold(g, n);
        if (k == 0) dims(y, 1, I64S(3));
        else assert_int_equal(y->shape.rank, 0);
        eq_f32(y, k ? 1 : 3, want[k], 1e-7);
    }
    /* SoftmaxCrossEntropyLoss, mean, with log_prob: rows [1,2,3] and [0,0,1], targets
     * [0, 2] (onnx.reference) */
    ir_value_t *ys = val(g, "ys"), *lp = val(g, "lp");
    fold(g, mkn(g, IR_OP_SCE_LOSS, "sce", 2, IN(cf32(g, "xs", S2(2, 3), F32S(1, 2, 3, 0, 0, 1)), ci64(g, "ts", S1(2), I64S(0, 2))),
                2, IN(ys, lp)));
    eq_f32(ys, 1, F32S(1.4795253f), 1e-6);
    dims(lp, 2, I64S(2, 3));
    eq_f32(lp, 6, F32S(-2.407606f, -1.407606f, -0.40760598f, -1.5514448f, -1.5514448f, -0.55144465f), 1e-6);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- Einsum */
static ir_node_t *einsum(ir_graph_t *g, const char *name, const char *eq, int nin, ir_value_t **ins, ir_value_t *y) {
    ir_node_t *n = mk(g, IR_OP_EINSUM, name, nin, ins, y);
    attr_str(g, n, "equation", eq);
    return n;
}

static void test_eval_einsum(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("einsum.onnx");
    ir_value_t *a = cf32(g, "a", S2(2, 3), F32S(1, 2, 3, 4, 5, 6));
    ir_value_t *b = cf32(g, "b", S2(3, 3), F32S(1, 0, 2, 0, 1, 1, 1, 1, 0));
    ir_value_t *mm = val(g, "mm"), *dg = val(g, "dg"), *tr = val(g, "tr"), *bt = val(g, "bt"), *tp = val(g, "tp");
    /* a @ b = [[4, 5, 4], [10, 11, 13]] (numpy.einsum) */
    fold(g, einsum(g, "mm", "ij,jk->ik", 2, IN(a, b), mm));
    dims(mm, 2, I64S(2, 3));
    eq_f32(mm, 6, F32S(4, 5, 4, 10, 11, 13), 0);
    /* the diagonal of b, and its trace */
    fold(g, einsum(g, "dg", "ii->i", 1, IN(b), dg));
    eq_f32(dg, 3, F32S(1, 1, 0), 0);
    fold(g, einsum(g, "tr", "ii", 1, IN(b), tr));
    assert_int_equal(tr->shape.rank, 0);
    eq_f32(tr, 1, F32S(2), 0);
    /* implicit output (sorted labels) with an ellipsis batch: the same product */
    ir_value_t *a3 = cf32(g, "a3", S3(1, 2, 3), F32S(1, 2, 3, 4, 5, 6));
    fold(g, einsum(g, "bt", "...ij,jk", 2, IN(a3, b), bt));
    dims(bt, 3, I64S(1, 2, 3));
    eq_f32(bt, 6, F32S(4, 5, 4, 10, 11, 13), 0);
    /* a transpose, integer dtype */
    fold(g, einsum(g, "tp", "ij->ji", 1, IN(ci64(g, "ai", S2(2, 3), I64S(1, 2, 3, 4, 5, 6))), tp));
    dims(tp, 2, I64S(3, 2));
    assert_int_equal(tp->dtype, IR_I64);
    const int64_t want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) assert_int_equal(((const int64_t *)tp->data)[i], want[i]);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- Resize */
static void test_eval_resize(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("resize.onnx");
    g->opset = 19;
    ir_value_t *x = cf32(g, "x", S4(1, 1, 2, 2), F32S(1, 2, 3, 4)), *sc = cf32(g, "sc", S1(4), F32S(1, 1, 2, 2));
    ir_value_t *yn = val(g, "yn"), *yl = val(g, "yl"), *ya = val(g, "ya"), *yc = val(g, "yc");
    /* nearest x2 (half_pixel, round_prefer_floor): each pixel repeated 2x2 */
    fold(g, mk(g, IR_OP_RESIZE, "nearest", 3, IN(x, cempty(g, "roi"), sc), yn));
    dims(yn, 4, I64S(1, 1, 4, 4));
    eq_f32(yn, 16, F32S(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0);
    /* linear x2, half_pixel (onnx.reference) */
    ir_node_t *n = mk(g, IR_OP_RESIZE, "linear", 3, IN(x, cempty(g, "roi2"), sc), yl);
    attr_str(g, n, "mode", "linear");
    fold(g, n);
    eq_f32(yl, 16, F32S(1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4), 1e-7);
    /* linear to sizes [3, 3], align_corners: the midpoints */
    n = mk(g, IR_OP_RESIZE, "ac", 4, IN(x, cempty(g, "roi3"), cempty(g, "sc3"), ci64(g, "sz", S1(4), I64S(1, 1, 3, 3))), ya);
    attr_str(g, n, "mode", "linear");
    attr_str(g, n, "coordinate_transformation_mode", "align_corners");
    fold(g, n);
    dims(ya, 4, I64S(1, 1, 3, 3));
    eq_f32(ya, 9, F32S(1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4), 1e-7);
    /* cubic x0.5 of a 4x4 ramp (onnx.reference) */
    float ramp[16];
    for (int i = 0; i < 16; i++) ramp[i] = (float)i;
    n = mk(g, IR_OP_RESIZE, "cubic", 3, IN(cf32(g, "r", S4(1, 1, 4, 4), ramp), cempty(g, "roi4"), cf32(g, "h", S1(4), F32S(1, 1, 0.5f, 0.5f))), yc);
    attr_str(g, n, "mode", "cubic");
    fold(g, n);
    eq_f32(yc, 4, F32S(2.03125f, 4.21875f, 10.78125f, 12.96875f), 1e-6);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- GridSample, RoiAlign */
static void test_eval_grid_sample(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("gs.onnx");
    float xr[24];
    for (int i = 0; i < 24; i++) xr[i] = (float)i;
    /* X = 0..11 as [1, 1, 3, 4]; six grid points inside, on the corners and outside;
     * expected values from onnx.reference GridSample-20 unless noted */
    ir_value_t *x = cf32(g, "x", S4(1, 1, 3, 4), xr);
    ir_value_t *grid = cf32(g, "grid", S4(1, 2, 3, 2), F32S(0, 0, -1, -1, 1, 1, 0.5f, -0.25f, -1.2f, 0.3f, 1.1f, 1.5f));
    struct { const char *mode, *pad; int ac; float want[6]; } cases[] = {
        {"linear", "zeros", 0, {5.5f, 0, 2.75f, 5, 0.5799994f, 0}},
        {"nearest", "zeros", 0, {6, 0, 0, 6, 0, 0}},
        {"linear", "border", 0, {5.5f, 0, 11, 5, 5.8f, 11}},
        {"linear", "reflection", 0, {5.5f, 0, 11, 5, 5.8f, 10}},
        {"linear", "zeros", 1, {5.5f, 0, 11, 5.25f, 3.6399994f, 4.6750007f}},
        {"linear", "reflection", 1, {5.5f, 0, 11, 5.25f, 5.5f, 8.85f}},
        {"nearest", "border", 0, {6, 0, 11, 6, 4, 11}},
        {"cubic", "zeros", 0, {5.5f, -0.234375f, 2.984375f, 5.3823242f, 0.55453825f, -0.32866749f}},
        /* cubic + border clamps only the taps, as PyTorch and the kernel do: onnxruntime's
         * values (the ONNX reference also clamps the coordinate, 5.557 and 11 here) */
        {"cubic", "border", 1, {5.5f, 0, 11, 5.0039063f, 5.4467468f, 11.456277f}},
        {"cubic", "reflection", 0, {5.5f, -0.9375f, 11.9375f, 4.7128906f, 6.1161275f, 10.391878f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        snprintf(name, sizeof name, "gs_%s_%s_%d", cases[c].mode, cases[c].pad, cases[c].ac);
        ir_value_t *y = val(g, name);
        ir_node_t *n = mk(g, IR_OP_GRID_SAMPLE, name, 2, IN(x, grid), y);
        attr_str(g, n, "mode", cases[c].mode);
        attr_str(g, n, "padding_mode", cases[c].pad);
        attr_int(g, n, "align_corners", cases[c].ac);
        fold(g, n);
        dims(y, 4, I64S(1, 1, 2, 3));
        eq_f32(y, 6, cases[c].want, 1e-5);
    }
    /* 3-D: X = 0..23 as [1, 1, 2, 3, 4], trilinear */
    ir_value_t *y3 = val(g, "y3");
    fold(g, mk(g, IR_OP_GRID_SAMPLE, "gs3", 2,
               IN(cf32(g, "x3", S5(1, 1, 2, 3, 4), xr), cf32(g, "g3", S5(1, 1, 2, 2, 3), F32S(0, 0, 0, -1, -1, -1, 1, 1, 1, 0.5f, -0.25f, 0.3f))), y3));
    dims(y3, 5, I64S(1, 1, 1, 2, 2));
    eq_f32(y3, 4, F32S(11.5f, 0, 2.875f, 14.6f), 1e-5);
    ir_graph_free(g);
}

static void test_eval_roi_align(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("roi.onnx");
    g->opset = 16;
    /* X[y][x] = x + 10 y on 5x5: bilinear sampling of a ramp is exact, so a bin's average
     * is the ramp at the bin's centre (onnx.reference RoiAlign-16) */
    float xr[25];
    for (int i = 0; i < 25; i++) xr[i] = (float)(i % 5 + 10 * (i / 5));
    ir_value_t *x = cf32(g, "x", S4(1, 1, 5, 5), xr), *rois = cf32(g, "rois", S2(2, 4), F32S(0, 0, 4, 4, 1, 1, 3, 2));
    ir_value_t *bi = ci64(g, "bi", S1(2), I64S(0, 0));
    struct { const char *mode, *ctm; int ratio; float want[8]; } cases[] = {
        {"avg", "half_pixel", 2, {5.5f, 7.5f, 25.5f, 27.5f, 8.5f, 9.5f, 13.5f, 14.5f}},
        {"avg", "output_half_pixel", 2, {11, 13, 31, 33, 14, 15, 19, 20}},
        {"avg", "half_pixel", 0, {5.5f, 7.5f, 25.5f, 27.5f, 8.5f, 9.5f, 13.5f, 14.5f}},
        {"max", "output_half_pixel", 2, {5.5f, 6, 10.5f, 11, 7.875f, 8.53125f, 14.4375f, 15.09375f}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        snprintf(name, sizeof name, "roi_%s_%s_%d", cases[c].mode, cases[c].ctm, cases[c].ratio);
        ir_value_t *y = val(g, name);
        ir_node_t *n = mk(g, IR_OP_ROI_ALIGN, name, 3, IN(x, rois, bi), y);
        attr_str(g, n, "mode", cases[c].mode);
        attr_str(g, n, "coordinate_transformation_mode", cases[c].ctm);
        attr_int(g, n, "output_height", 2);
        attr_int(g, n, "output_width", 2);
        attr_int(g, n, "sampling_ratio", cases[c].ratio);
        fold(g, n);
        dims(y, 4, I64S(2, 1, 2, 2));
        eq_f32(y, 8, cases[c].want, 1e-6);
    }
    ir_graph_free(g);
}

/* Over the work budget the node is left to its kernel, not folded slowly. */
static void test_eval_norm_budget(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("big.onnx");
    /* 'ij,jk->ik' over 512^3 multiply-adds (2^27 > 2^24) */
    size_t cnt = 512 * 512;
    float *d = calloc(cnt, sizeof(float));
    assert_non_null(d);
    ir_value_t *a = cf32(g, "a", S2(512, 512), d), *y = val(g, "y");
    free(d);
    ir_node_t *n = einsum(g, "big", "ij,jk->ik", 2, IN(a, a), y);
    assert_int_equal(pass_eval_node(g, n), 0);
    assert_false(n->dead);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_layer_rms_norm),
        cmocka_unit_test(test_eval_chan_norm),
        cmocka_unit_test(test_eval_losses),
        cmocka_unit_test(test_eval_einsum),
        cmocka_unit_test(test_eval_resize),
        cmocka_unit_test(test_eval_grid_sample),
        cmocka_unit_test(test_eval_roi_align),
        cmocka_unit_test(test_eval_norm_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
