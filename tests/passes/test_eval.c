/* Unit tests for the constant folder's reference evaluations (passes/eval*.c): small
 * nodes with constant inputs, folded by pass_eval_node; expected values by hand or numpy. */
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
#include "passes/eval_int.h"
#include "tests/passes/builders.h"





static ir_value_t *cbool(ir_graph_t *g, const char *name, ir_shape_t s, const uint8_t *d) {
    return ir_value_const(g, name, IR_BOOL, &s, d, (size_t)ir_shape_numel(&s));
}
static ir_value_t *ci32(ir_graph_t *g, const char *name, ir_shape_t s, const int32_t *d) {
    return ir_value_const(g, name, IR_I32, &s, d, sizeof(int32_t) * (size_t)ir_shape_numel(&s));
}

static void eq_i64(const ir_value_t *v, int cnt, const int64_t *want) {
    assert_int_equal(v->dtype, IR_I64);
    assert_int_equal(ir_shape_numel(&v->shape), cnt);
    for (int i = 0; i < cnt; i++) assert_int_equal(((const int64_t *)v->data)[i], want[i]);
}
static void eq_f32(const ir_value_t *v, int cnt, const float *want) {
    assert_int_equal(v->dtype, IR_F32);
    assert_int_equal(ir_shape_numel(&v->shape), cnt);
    for (int i = 0; i < cnt; i++) assert_float_equal(((const float *)v->data)[i], want[i], 1e-6);
}

/* ---------------------------------------------------------------- reductions */
static void test_eval_reduce(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("reduce.onnx");
    int64_t x[6] = {1, 2, 3, 4, 5, 6}, ax1 = 1;
    ir_value_t *xi = ci64(g, "x", S2(2, 3), x), *a1 = ci64(g, "a1", S1(1), &ax1);
    /* ReduceProd over axes [1] (the tf2onnx Reshape-target pattern): [6, 120] */
    ir_value_t *p = val(g, "p");
    ir_node_t *n = mk(g, IR_OP_REDUCE_PROD, "prod", 2, IN(xi, a1), p);
    attr_int(g, n, "keepdims", 0);
    fold(g, n);
    dims(p, 1, I64S(2));
    eq_i64(p, 2, I64S(6, 120));
    /* keepdims (default) keeps a 1; axes from the older attribute */
    ir_value_t *s = val(g, "s");
    n = mk(g, IR_OP_REDUCE_SUM, "sum", 1, IN(xi), s);
    attr_ints(g, n, "axes", 1, I64S(0));
    fold(g, n);
    dims(s, 2, I64S(1, 3));
    eq_i64(s, 3, I64S(5, 7, 9));
    /* no axes: all of them; integer mean truncates (21 / 6 = 3) */
    ir_value_t *m = val(g, "m");
    n = mk(g, IR_OP_REDUCE_MEAN, "mean", 1, IN(xi), m);
    fold(g, n);
    dims(m, 2, I64S(1, 1));
    eq_i64(m, 1, I64S(3));
    /* noop_with_empty_axes: nothing reduced */
    ir_value_t *nz = val(g, "nz");
    n = mk(g, IR_OP_REDUCE_SUM, "noop", 1, IN(xi), nz);
    attr_int(g, n, "noop_with_empty_axes", 1);
    fold(g, n);
    dims(nz, 2, I64S(2, 3));
    eq_i64(nz, 6, x);
    /* float: Max / Min / L1 / L2 / SumSquare / LogSum / LogSumExp over axis -1 */
    float f[4] = {3, -4, 1, 2};
    ir_value_t *xf = cf32(g, "xf", S2(2, 2), f);
    int64_t am1 = -1;
    ir_value_t *am = ci64(g, "am", S1(1), &am1);
    struct { ir_op_t op; float want[2]; } fr[] = {
        {IR_OP_REDUCE_MAX, {3, 2}}, {IR_OP_REDUCE_MIN, {-4, 1}}, {IR_OP_REDUCE_L1, {7, 3}},
        {IR_OP_REDUCE_L2, {5, 2.236068f}}, {IR_OP_REDUCE_SUM_SQUARE, {25, 5}},
        {IR_OP_REDUCE_LOG_SUM, {NAN, 1.0986123f}}, {IR_OP_REDUCE_LOG_SUM_EXP, {3.000911f, 2.3132617f}},
    };
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++) {
        ir_value_t *o = val(g, "fo");
        n = mk(g, fr[i].op, "fred", 2, IN(xf, am), o);
        attr_int(g, n, "keepdims", 0);
        fold(g, n);
        dims(o, 1, I64S(2));
        float *d = o->data;
        if (isnan(fr[i].want[0])) assert_true(isnan(d[0]));   /* log(-1) */
        else assert_float_equal(d[0], fr[i].want[0], 1e-5);
        assert_float_equal(d[1], fr[i].want[1], 1e-5);
    }
    /* bool ReduceMax / ReduceMin (opset 20): any / all */
    uint8_t b[4] = {0, 1, 0, 0};
    ir_value_t *xb = cbool(g, "xb", S2(2, 2), b), *bm = val(g, "bm"), *bn = val(g, "bn");
    n = mk(g, IR_OP_REDUCE_MAX, "bmax", 2, IN(xb, am), bm);
    fold(g, n);
    assert_int_equal(bm->dtype, IR_BOOL);
    assert_int_equal(((uint8_t *)bm->data)[0], 1);
    assert_int_equal(((uint8_t *)bm->data)[1], 0);
    n = mk(g, IR_OP_REDUCE_MIN, "bmin", 1, IN(xb), bn);
    fold(g, n);
    assert_int_equal(((uint8_t *)bn->data)[0], 0);
    /* a repeated axis is an error naming the node */
    n = mk(g, IR_OP_REDUCE_SUM, "bad_axes", 2, IN(xi, ci64(g, "a11", S1(2), I64S(1, -1))), val(g, "ba"));
    assert_int_equal(pass_eval_node(g, n), -1);
    assert_non_null(strstr(g->err, "bad_axes"));
    ir_graph_free(g);
}

static void test_eval_arg_scan(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("arg.onnx");
    float f[6] = {1, 3, 3, 2, 0, 2};
    ir_value_t *xf = cf32(g, "xf", S2(2, 3), f);
    /* ArgMax along axis 1: first max [1, 0]; select_last_index [2, 2] */
    ir_value_t *a = val(g, "a"), *al = val(g, "al"), *mn = val(g, "mn");
    ir_node_t *n = mk(g, IR_OP_ARG_MAX, "argmax", 1, IN(xf), a);
    attr_int(g, n, "axis", 1);
    fold(g, n);
    dims(a, 2, I64S(2, 1));
    eq_i64(a, 2, I64S(1, 0));
    n = mk(g, IR_OP_ARG_MAX, "argmax_last", 1, IN(xf), al);
    attr_int(g, n, "axis", 1);
    attr_int(g, n, "keepdims", 0);
    attr_int(g, n, "select_last_index", 1);
    fold(g, n);
    dims(al, 1, I64S(2));
    eq_i64(al, 2, I64S(2, 2));
    /* ArgMin over axis 0 with the last tie: columns (1,2) (3,0) (3,2) -> [0, 1, 1] */
    n = mk(g, IR_OP_ARG_MIN, "argmin", 1, IN(xf), mn);
    attr_int(g, n, "keepdims", 0);
    attr_int(g, n, "select_last_index", 1);
    fold(g, n);
    eq_i64(mn, 3, I64S(0, 1, 1));
    /* Softmax / LogSoftmax / Hardmax over the last axis */
    g->opset = 13;
    ir_value_t *x3 = cf32(g, "x3", S1(3), F32S(1, 2, 3)), *sm = val(g, "sm"), *ls = val(g, "ls"), *hm = val(g, "hm");
    fold(g, mk(g, IR_OP_SOFTMAX, "softmax", 1, IN(x3), sm));
    eq_f32(sm, 3, F32S(0.09003057f, 0.24472846f, 0.66524094f));
    fold(g, mk(g, IR_OP_LOG_SOFTMAX, "logsoftmax", 1, IN(x3), ls));
    eq_f32(ls, 3, F32S(-2.4076061f, -1.407606f, -0.407606f));
    fold(g, mk(g, IR_OP_HARDMAX, "hardmax", 1, IN(xf), hm));
    eq_f32(hm, 6, F32S(0, 1, 0, 1, 0, 0));
    /* CumSum [1,2,3,4]: exclusive + reverse [9,7,4,0]; plain [1,3,6,10] on int32 axis */
    ir_value_t *xc = ci64(g, "xc", S1(4), I64S(1, 2, 3, 4)), *c = val(g, "c"), *c2 = val(g, "c2");
    int32_t zero = 0;
    ir_value_t *axc = ci32(g, "axc", S0(), &zero);
    n = mk(g, IR_OP_CUM_SUM, "cumsum_er", 2, IN(xc, axc), c);
    attr_int(g, n, "exclusive", 1);
    attr_int(g, n, "reverse", 1);
    fold(g, n);
    eq_i64(c, 4, I64S(9, 7, 4, 0));
    fold(g, mk(g, IR_OP_CUM_SUM, "cumsum", 2, IN(xc, axc), c2));
    eq_i64(c2, 4, I64S(1, 3, 6, 10));
    /* CumProd: numpy's cumprod, and the exclusive reversed form (product of the later ones) */
    ir_value_t *p = val(g, "p"), *p2 = val(g, "p2");
    fold(g, mk(g, IR_OP_CUM_PROD, "cumprod", 2, IN(xc, axc), p));
    eq_i64(p, 4, I64S(1, 2, 6, 24));
    n = mk(g, IR_OP_CUM_PROD, "cumprod_er", 2, IN(xc, axc), p2);
    attr_int(g, n, "exclusive", 1);
    attr_int(g, n, "reverse", 1);
    fold(g, n);
    eq_i64(p2, 4, I64S(24, 12, 4, 1));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- element-wise */
static void test_eval_eltwise(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("elt.onnx");
    ir_value_t *a = ci64(g, "a", S1(4), I64S(-7, 7, -7, 7)), *b = ci64(g, "b", S1(4), I64S(3, -3, -3, 3));
    /* Mod fmod=0 takes the divisor's sign (numpy), fmod=1 the dividend's (C) */
    ir_value_t *m0 = val(g, "m0"), *m1 = val(g, "m1");
    fold(g, mk(g, IR_OP_MOD, "mod0", 2, IN(a, b), m0));
    eq_i64(m0, 4, I64S(2, -2, -1, 1));
    ir_node_t *n = mk(g, IR_OP_MOD, "mod1", 2, IN(a, b), m1);
    attr_int(g, n, "fmod", 1);
    fold(g, n);
    eq_i64(m1, 4, I64S(-1, 1, -1, 1));
    /* x % 0 and x % -1 are 0, as the kernel guards them */
    ir_value_t *mz = val(g, "mz");
    fold(g, mk(g, IR_OP_MOD, "modz", 2, IN(a, ci64(g, "z", S1(4), I64S(0, -1, 0, -1))), mz));
    eq_i64(mz, 4, I64S(0, 0, 0, 0));
    /* float: mod(-7.5, 2) = 0.5, mod(7.5, -2) = -0.5; fmod -1.5, 1.5 */
    ir_value_t *fa = cf32(g, "fa", S1(2), F32S(-7.5f, 7.5f)), *fb = cf32(g, "fb", S1(2), F32S(2, -2));
    ir_value_t *f0 = val(g, "f0"), *f1 = val(g, "f1");
    fold(g, mk(g, IR_OP_MOD, "fmod0", 2, IN(fa, fb), f0));
    eq_f32(f0, 2, F32S(0.5f, -0.5f));
    n = mk(g, IR_OP_MOD, "fmod1", 2, IN(fa, fb), f1);
    attr_int(g, n, "fmod", 1);
    fold(g, n);
    eq_f32(f1, 2, F32S(-1.5f, 1.5f));
    /* BitShift on uint8: 0x81 << 1 wraps to 2; >> 7 = 1; a shift of 8 leaves 0 */
    uint8_t bx[3] = {0x81, 0x81, 0x81}, bs[3] = {1, 7, 8};
    ir_shape_t s3 = S1(3);
    ir_value_t *ux = ir_value_const(g, "ux", IR_U8, &s3, bx, 3), *us = ir_value_const(g, "us", IR_U8, &s3, bs, 3);
    ir_value_t *sl = val(g, "sl"), *sr = val(g, "sr");
    n = mk(g, IR_OP_BIT_SHIFT, "shl", 2, IN(ux, us), sl);
    attr_str(g, n, "direction", "LEFT");
    fold(g, n);
    assert_int_equal(((uint8_t *)sl->data)[0], 2);
    assert_int_equal(((uint8_t *)sl->data)[2], 0);
    n = mk(g, IR_OP_BIT_SHIFT, "shr", 2, IN(ux, us), sr);
    attr_str(g, n, "direction", "RIGHT");
    fold(g, n);
    assert_int_equal(((uint8_t *)sr->data)[0], 0x40);
    assert_int_equal(((uint8_t *)sr->data)[1], 1);
    assert_int_equal(((uint8_t *)sr->data)[2], 0);
    /* Mean broadcasts: mean([1,2], [3], [5,6]) = [3, 3.666..] */
    ir_value_t *mean = val(g, "mean");
    fold(g, mk(g, IR_OP_MEAN, "mean", 3, IN(cf32(g, "m_a", S1(2), F32S(1, 2)), cf32(g, "m_b", S1(1), F32S(3)), cf32(g, "m_c", S1(2), F32S(5, 6))), mean));
    eq_f32(mean, 2, F32S(3, 11.0f / 3));
    /* CastLike: float -> the int64 target's dtype, truncating */
    ir_value_t *cl = val(g, "cl");
    fold(g, mk(g, IR_OP_CAST_LIKE, "castlike", 2, IN(cf32(g, "cx", S1(2), F32S(1.9f, -2.7f)), a), cl));
    eq_i64(cl, 2, I64S(1, -2));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- data movement */
static void test_eval_move(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("move.onnx");
    /* Tile [1,2] x2 */
    ir_value_t *t = val(g, "t");
    fold(g, mk(g, IR_OP_TILE, "tile", 2, IN(ci64(g, "tx", S1(2), I64S(1, 2)), ci64(g, "tr", S1(1), I64S(2))), t));
    eq_i64(t, 4, I64S(1, 2, 1, 2));
    /* Pad reflect [1,2,3] by (2, 1): [3,2,1,2,3,2]; edge; constant with a value; wrap */
    ir_value_t *px = ci64(g, "px", S1(3), I64S(1, 2, 3)), *pp = ci64(g, "pp", S1(2), I64S(2, 1));
    const char *modes[4] = {"reflect", "edge", "constant", "wrap"};
    const int64_t want[4][6] = {{3, 2, 1, 2, 3, 2}, {1, 1, 1, 2, 3, 3}, {9, 9, 1, 2, 3, 9}, {2, 3, 1, 2, 3, 1}};
    int64_t nine = 9;
    for (int i = 0; i < 4; i++) {
        ir_value_t *po = val(g, "po");
        ir_node_t *n = i == 2 ? mk(g, IR_OP_PAD, "pad", 3, IN(px, pp, ci64(g, "pv", S0(), &nine)), po)
                              : mk(g, IR_OP_PAD, "pad", 2, IN(px, pp), po);
        attr_str(g, n, "mode", modes[i]);
        fold(g, n);
        eq_i64(po, 6, want[i]);
    }
    /* Trilu: lower part of a 3x3 (k = 0), upper with k = 1 */
    int64_t m9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ir_value_t *mx = ci64(g, "m9", S2(3, 3), m9), *lo = val(g, "lo"), *up = val(g, "up");
    ir_node_t *n = mk(g, IR_OP_TRILU, "tril", 1, IN(mx), lo);
    attr_int(g, n, "upper", 0);
    fold(g, n);
    eq_i64(lo, 9, I64S(1, 0, 0, 4, 5, 0, 7, 8, 9));
    int64_t one = 1;
    fold(g, mk(g, IR_OP_TRILU, "triu", 2, IN(mx, ci64(g, "k1", S0(), &one)), up));
    eq_i64(up, 9, I64S(0, 2, 3, 0, 0, 6, 0, 0, 0));
    /* Split [0..6) into sizes 1, 2, 3: every output becomes a constant */
    ir_value_t *sx = ci64(g, "sx", S1(6), I64S(0, 1, 2, 3, 4, 5));
    ir_node_t *sp = ir_node_new(g, IR_OP_SPLIT, "split", 2, 3);
    sp->in[0] = sx;
    sp->in[1] = ci64(g, "sizes", S1(3), I64S(1, 2, 3));
    ir_value_t *o[3] = {val(g, "o0"), val(g, "o1"), val(g, "o2")};
    for (int i = 0; i < 3; i++) sp->out[i] = o[i];
    fold(g, sp);
    eq_i64(o[0], 1, I64S(0));
    eq_i64(o[1], 2, I64S(1, 2));
    eq_i64(o[2], 3, I64S(3, 4, 5));
    /* Split of a [2,3] along axis 1 with num_outputs 2: chunks of 2 and 1 */
    ir_node_t *sq = ir_node_new(g, IR_OP_SPLIT, "split2", 1, 2);
    sq->in[0] = ci64(g, "s23", S2(2, 3), I64S(1, 2, 3, 4, 5, 6));
    attr_int(g, sq, "axis", 1);
    attr_int(g, sq, "num_outputs", 2);
    ir_value_t *q[2] = {val(g, "q0"), val(g, "q1")};
    sq->out[0] = q[0];
    sq->out[1] = q[1];
    fold(g, sq);
    dims(q[0], 2, I64S(2, 2));
    eq_i64(q[0], 4, I64S(1, 2, 4, 5));
    eq_i64(q[1], 2, I64S(3, 6));
    /* DepthToSpace DCR of channels 0..7 (numpy's reshape/transpose), then back */
    int64_t ch[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ir_value_t *dx = ci64(g, "dx", S4(1, 8, 1, 1), ch), *ds = val(g, "ds"), *sd = val(g, "sd");
    n = mk(g, IR_OP_DEPTH_TO_SPACE, "d2s", 1, IN(dx), ds);
    attr_int(g, n, "blocksize", 2);
    fold(g, n);
    dims(ds, 4, I64S(1, 2, 2, 2));
    eq_i64(ds, 8, I64S(0, 2, 4, 6, 1, 3, 5, 7));
    n = mk(g, IR_OP_SPACE_TO_DEPTH, "s2d", 1, IN(ds), sd);
    attr_int(g, n, "blocksize", 2);
    fold(g, n);
    dims(sd, 4, I64S(1, 8, 1, 1));
    eq_i64(sd, 8, ch);
    ir_graph_free(g);
}

static void test_eval_index(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("index.onnx");
    ir_value_t *d = ci64(g, "d", S2(2, 2), I64S(1, 2, 3, 4));
    /* GatherElements axis 1, indices [[0,0],[1,0]] -> [[1,1],[4,3]]; -1 counts from the end */
    ir_value_t *ge = val(g, "ge");
    ir_node_t *n = mk(g, IR_OP_GATHER_ELEMENTS, "ge", 2, IN(d, ci64(g, "gi", S2(2, 2), I64S(0, 0, -1, 0))), ge);
    attr_int(g, n, "axis", 1);
    fold(g, n);
    eq_i64(ge, 4, I64S(1, 1, 4, 3));
    /* GatherND [[0,0],[1,1]] -> [1, 4]; rows [[1]] -> [[3, 4]]; batch_dims 1 */
    ir_value_t *gn = val(g, "gn"), *gr = val(g, "gr"), *gb = val(g, "gb");
    fold(g, mk(g, IR_OP_GATHER_ND, "gnd", 2, IN(d, ci64(g, "ni", S2(2, 2), I64S(0, 0, 1, 1))), gn));
    eq_i64(gn, 2, I64S(1, 4));
    fold(g, mk(g, IR_OP_GATHER_ND, "gnd_row", 2, IN(d, ci64(g, "nr", S2(1, 1), I64S(1))), gr));
    dims(gr, 2, I64S(1, 2));
    eq_i64(gr, 2, I64S(3, 4));
    n = mk(g, IR_OP_GATHER_ND, "gnd_b", 2, IN(d, ci64(g, "nb", S2(2, 1), I64S(1, 0))), gb);
    attr_int(g, n, "batch_dims", 1);
    fold(g, n);
    eq_i64(gb, 2, I64S(2, 3));
    /* ScatterND add with a duplicate index: [1,2,3,4] + 10 at [1] twice, 5 at [3] */
    ir_value_t *sn = val(g, "sn");
    n = mk(g, IR_OP_SCATTER_ND, "snd", 3,
           IN(ci64(g, "sd", S1(4), I64S(1, 2, 3, 4)), ci64(g, "si", S2(3, 1), I64S(1, 1, 3)), ci64(g, "su", S1(3), I64S(10, 10, 5))), sn);
    attr_str(g, n, "reduction", "add");
    fold(g, n);
    eq_i64(sn, 4, I64S(1, 22, 3, 9));
    /* ScatterElements axis 1 (none: last write wins), and max */
    ir_value_t *se = val(g, "se"), *sm = val(g, "smx");
    ir_value_t *ei = ci64(g, "ei", S2(2, 1), I64S(1, 0)), *eu = ci64(g, "eu", S2(2, 1), I64S(-5, 7));
    n = mk(g, IR_OP_SCATTER_ELEMENTS, "sel", 3, IN(d, ei, eu), se);
    attr_int(g, n, "axis", 1);
    fold(g, n);
    eq_i64(se, 4, I64S(1, -5, 7, 4));
    n = mk(g, IR_OP_SCATTER_ELEMENTS, "sel_max", 3, IN(d, ei, eu), sm);
    attr_int(g, n, "axis", 1);
    attr_str(g, n, "reduction", "max");
    fold(g, n);
    eq_i64(sm, 4, I64S(1, 2, 7, 4));
    /* an index out of range is an error naming the node */
    n = mk(g, IR_OP_GATHER_ELEMENTS, "bad_ge", 2, IN(d, ci64(g, "bi", S2(1, 1), I64S(2))), val(g, "bg"));
    assert_int_equal(pass_eval_node(g, n), -1);
    assert_non_null(strstr(g->err, "bad_ge"));
    n = mk(g, IR_OP_SCATTER_ND, "bad_snd", 3, IN(d, ci64(g, "bsi", S2(1, 2), I64S(0, -3)), ci64(g, "bsu", S1(1), I64S(0))), val(g, "bs"));
    assert_int_equal(pass_eval_node(g, n), -1);
    assert_non_null(strstr(g->err, "bad_snd"));
    ir_graph_free(g);
}

/* The tf2onnx Einsum pattern: Shape -> Slice -> ReduceProd -> Concat -> Reshape folds
 * to a constant target, leaving the Reshape alone. */
static void test_reduce_prod_reshape_target(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("tf2onnx.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S3(2, 3, 4));
    ir_value_t *s = val(g, "s"), *sl = val(g, "sl"), *pr = val(g, "pr"), *shape = val(g, "shape"), *y = val(g, "y");
    int64_t st = 0, en = 2, ax0 = 0, last = 4;
    mk(g, IR_OP_SHAPE, "shape_of_x", 1, IN(x), s);
    mk(g, IR_OP_SLICE, "slice", 3, IN(s, ci64(g, "st", S1(1), &st), ci64(g, "en", S1(1), &en)), sl);
    mk(g, IR_OP_REDUCE_PROD, "prod", 2, IN(sl, ci64(g, "ax", S1(1), &ax0)), pr);
    ir_node_t *cc = mk(g, IR_OP_CONCAT, "concat", 2, IN(pr, ci64(g, "last", S1(1), &last)), shape);
    attr_int(g, cc, "axis", 0);
    mk(g, IR_OP_RESHAPE, "reshape", 2, IN(x, shape), y);
    output(g, y);
    pipeline_ok(g, 1);
    assert_int_equal(live(g) >= 1, 1);
    assert_non_null(shape->data);
    eq_i64(shape, 2, I64S(6, 4));
    assert_int_equal(y->shape.dims[0].v, 6);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- contractions */
static void test_eval_matmul_gemm(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("mm.onnx");
    /* [2,3] x [3,2]: [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]] */
    ir_value_t *a = ci64(g, "a", S2(2, 3), I64S(1, 2, 3, 4, 5, 6)), *b = ci64(g, "b", S2(3, 2), I64S(1, 0, 0, 1, 1, 1));
    ir_value_t *mm = val(g, "mm"), *mv = val(g, "mv");
    fold(g, mk(g, IR_OP_MATMUL, "matmul", 2, IN(a, b), mm));
    dims(mm, 2, I64S(2, 2));
    eq_i64(mm, 4, I64S(4, 5, 10, 11));
    /* matrix x vector drops the vector's unit dim: [1,2,3].[1,1,1] rows -> [6, 15] */
    fold(g, mk(g, IR_OP_MATMUL, "matvec", 2, IN(a, ci64(g, "v", S1(3), I64S(1, 1, 1))), mv));
    dims(mv, 1, I64S(2));
    eq_i64(mv, 2, I64S(6, 15));
    /* Gemm transB, alpha 2, beta 0.5, C a row: 2 * A B^T + 0.5 * [2, 4] */
    ir_value_t *fa = cf32(g, "fa", S2(2, 2), F32S(1, 2, 3, 4)), *fb = cf32(g, "fb", S2(2, 2), F32S(1, 0, 1, 1));
    ir_value_t *gm = val(g, "gm");
    ir_node_t *n = mk(g, IR_OP_GEMM, "gemm", 3, IN(fa, fb, cf32(g, "fc", S1(2), F32S(2, 4))), gm);
    attr_int(g, n, "transB", 1);
    ir_node_add_attr(g, n, "alpha", IR_ATTR_FLOAT)->f = 2.0;
    ir_node_add_attr(g, n, "beta", IR_ATTR_FLOAT)->f = 0.5;
    fold(g, n);
    /* A B^T = [[1, 3], [3, 7]] */
    eq_f32(gm, 4, F32S(3, 8, 7, 16));
    ir_graph_free(g);
}

/* Folding is bounded in total, not only per node: 12 ConstantOfShape nodes of 32 MiB
 * each (a 1 KB model asking for 384 MiB) fold until the graph's budget is spent; the rest
 * stay nodes, computed at run time. The values that did fold hold the right data. */
static void test_fold_budget(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("t");
    ir_value_t *shape = ci64(g, "shp", shp(1, 2), (int64_t[]){2048, 4096});
    int folded = 0;
    for (int i = 0; i < 12; i++) {
        char nm[32], on[32];
        snprintf(nm, sizeof nm, "cos%d", i);
        snprintf(on, sizeof on, "c%d", i);
        ir_value_t *o = val(g, on);
        ir_node_t *n = mk(g, IR_OP_CONSTANT_OF_SHAPE, nm, 1, (ir_value_t *[]){shape}, o);
        assert_int_equal(ir_infer_node(g, n), 0);
        int rc = pass_eval_node(g, n);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            folded++;
            assert_non_null(o->data);
            assert_int_equal(o->data_size, (size_t)32 << 20);
        }
    }
    assert_true(g->fold_used <= g->fold_budget);
    assert_int_equal(folded, (int)(EVAL_MAX_TOTAL_BYTES / ((int64_t)32 << 20)));
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_reduce),
        cmocka_unit_test(test_fold_budget),
        cmocka_unit_test(test_eval_arg_scan),
        cmocka_unit_test(test_eval_eltwise),
        cmocka_unit_test(test_eval_move),
        cmocka_unit_test(test_eval_index),
        cmocka_unit_test(test_eval_matmul_gemm),
        cmocka_unit_test(test_reduce_prod_reshape_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
