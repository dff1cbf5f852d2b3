/* Unit tests for the passes on small hand-built graphs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/sched.h"
#include "passes/passes.h"
#include "tests/passes/builders.h"




static void run_ok(ir_graph_t *g, int (*fn)(ir_graph_t *)) {
    int rc = fn(g);
    if (rc) fprintf(stderr, "pass failed: %s\n", g->err);
    assert_int_equal(rc, 0);
}

/* ---------------------------------------------------------------- constant folding */
static void test_shape_chain_folds(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("chain.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S3(2, 3, 4));
    ir_value_t *s = val(g, "s"), *d0 = val(g, "d0"), *u = val(g, "u"), *shape = val(g, "shape"), *y = val(g, "y");
    int64_t zero = 0, axes0 = 0, minus1 = -1;
    mk(g, IR_OP_SHAPE, "shape_of_x", 1, IN(x), s);
    ir_node_t *ga = mk(g, IR_OP_GATHER, "gather", 2, IN(s, ci64(g, "idx", S0(), &zero)), d0);
    attr_int(g, ga, "axis", 0);
    mk(g, IR_OP_UNSQUEEZE, "unsq", 2, IN(d0, ci64(g, "axes", S1(1), &axes0)), u);
    ir_node_t *cc = mk(g, IR_OP_CONCAT, "concat", 2, IN(u, ci64(g, "m1", S1(1), &minus1)), shape);
    attr_int(g, cc, "axis", 0);
    ir_node_t *rs = mk(g, IR_OP_RESHAPE, "reshape", 2, IN(x, shape), y);
    output(g, y);

    run_ok(g, pass_toposort);
    run_ok(g, pass_const_fold);
    run_ok(g, pass_dce);
    assert_int_equal(live(g), 1);
    assert_ptr_equal(g->nodes[0], rs);
    assert_ptr_equal(y->producer, rs);
    assert_non_null(shape->data);
    assert_int_equal(shape->dtype, IR_I64);
    assert_int_equal(shape->shape.rank, 1);
    assert_int_equal(shape->shape.dims[0].v, 2);
    assert_int_equal(((int64_t *)shape->data)[0], 2);
    assert_int_equal(((int64_t *)shape->data)[1], -1);
    assert_int_equal(y->shape.rank, 2);
    assert_int_equal(y->shape.dims[0].v, 2);
    assert_int_equal(y->shape.dims[1].v, 12);
    /* the intermediate constants are unused now */
    assert_int_equal(s->n_uses, 0);
    assert_int_equal(shape->n_uses, 1);
    ir_graph_free(g);
}

static void test_shape_of_symbolic_input(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("sym.onnx");
    ir_shape_t xs = S3(1, 3, 4);
    xs.dims[0] = (ir_dim_t){1, ir_graph_add_sym(g, "N")};
    ir_value_t *x = input(g, "x", IR_F32, xs);
    ir_value_t *all = val(g, "all"), *tail = val(g, "tail");
    ir_node_t *n1 = mk(g, IR_OP_SHAPE, "s_all", 1, IN(x), all);
    ir_node_t *n2 = mk(g, IR_OP_SHAPE, "s_tail", 1, IN(x), tail);
    attr_int(g, n2, "start", 1);
    assert_int_equal(pass_eval_node(g, n1), 0);   /* needs the symbolic dim */
    assert_int_equal(pass_eval_node(g, n2), 1);
    assert_true(n2->dead);
    assert_int_equal(tail->shape.dims[0].v, 2);
    assert_int_equal(((int64_t *)tail->data)[0], 3);
    assert_int_equal(((int64_t *)tail->data)[1], 4);
    ir_graph_free(g);
}

static void test_eval_ops(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("eval.onnx");
    /* integer Div truncates like C, with broadcasting */
    int64_t a[4] = {-7, 7, -8, 9}, b[2] = {2, -2};
    ir_value_t *q = val(g, "q");
    ir_node_t *n = mk(g, IR_OP_DIV, "div", 2, IN(ci64(g, "a", S2(2, 2), a), ci64(g, "b", S1(2), b)), q);
    assert_int_equal(pass_eval_node(g, n), 1);
    int64_t *qd = q->data;
    assert_int_equal(qd[0], -3);
    assert_int_equal(qd[1], -3);
    assert_int_equal(qd[2], -4);
    assert_int_equal(qd[3], -4);

    /* a scalar minus a 1-element vector is a vector (the rank grows while broadcasting) */
    int64_t five = 5, two = 2;
    ir_value_t *df = val(g, "df");
    n = mk(g, IR_OP_SUB, "sub", 2, IN(ci64(g, "five", S0(), &five), ci64(g, "two", S1(1), &two)), df);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(df->shape.rank, 1);
    assert_int_equal(df->shape.dims[0].v, 1);
    assert_int_equal(((int64_t *)df->data)[0], 3);

    /* Range(1, 10, 3) = [1, 4, 7] */
    int64_t r0 = 1, r1 = 10, r2 = 3;
    ir_value_t *rg = val(g, "rg");
    n = mk(g, IR_OP_RANGE, "range", 3, IN(ci64(g, "r0", S0(), &r0), ci64(g, "r1", S0(), &r1), ci64(g, "r2", S0(), &r2)), rg);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(rg->shape.dims[0].v, 3);
    assert_int_equal(((int64_t *)rg->data)[2], 7);

    /* Slice [0..6) of [10,20,30,40,50,60] from -1 backwards step -2 -> [60,40,20] */
    int64_t sd[6] = {10, 20, 30, 40, 50, 60}, st = -1, en = INT64_MIN, ax = 0, sp = -2;
    ir_value_t *sl = val(g, "sl");
    n = mk(g, IR_OP_SLICE, "slice", 5,
           IN(ci64(g, "sd", S1(6), sd), ci64(g, "st", S1(1), &st), ci64(g, "en", S1(1), &en), ci64(g, "ax", S1(1), &ax),
              ci64(g, "sp", S1(1), &sp)),
           sl);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(sl->shape.dims[0].v, 3);
    assert_int_equal(((int64_t *)sl->data)[0], 60);
    assert_int_equal(((int64_t *)sl->data)[1], 40);
    assert_int_equal(((int64_t *)sl->data)[2], 20);

    /* Cast float -> int32 truncates; Transpose of [2,3] */
    float fv[6] = {1.9f, -1.9f, 2.5f, 3, 4, 5};
    ir_value_t *ct = val(g, "ct"), *tr = val(g, "tr");
    ir_value_t *fc = cf32(g, "fv", S2(2, 3), fv);
    n = mk(g, IR_OP_CAST, "cast", 1, IN(fc), ct);
    attr_int(g, n, "to", IR_I32);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(ct->dtype, IR_I32);
    assert_int_equal(((int32_t *)ct->data)[0], 1);
    assert_int_equal(((int32_t *)ct->data)[1], -1);
    n = mk(g, IR_OP_TRANSPOSE, "tr", 1, IN(fc), tr);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(tr->shape.dims[0].v, 3);
    assert_int_equal(tr->shape.dims[1].v, 2);
    float *td = tr->data;   /* [[1.9,3],[-1.9,4],[2.5,5]] */
    assert_true(td[1] == 3.0f && td[2] == -1.9f && td[5] == 5.0f);

    /* Where(Equal(a, -7), 100, a) and Expand to [2,2] */
    ir_value_t *eq = val(g, "eq"), *wh = val(g, "wh"), *ex = val(g, "ex");
    int64_t m7 = -7, h = 100, es[2] = {2, 2};
    ir_value_t *av = ci64(g, "a2", S2(2, 2), a);
    n = mk(g, IR_OP_EQUAL, "eq", 2, IN(av, ci64(g, "m7", S0(), &m7)), eq);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(eq->dtype, IR_BOOL);
    n = mk(g, IR_OP_WHERE, "where", 3, IN(eq, ci64(g, "h", S0(), &h), av), wh);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(((int64_t *)wh->data)[0], 100);
    assert_int_equal(((int64_t *)wh->data)[1], 7);
    n = mk(g, IR_OP_EXPAND, "expand", 2, IN(ci64(g, "b2", S1(2), b), ci64(g, "es", S1(2), es)), ex);
    assert_int_equal(pass_eval_node(g, n), 1);
    assert_int_equal(ex->shape.rank, 2);
    assert_int_equal(((int64_t *)ex->data)[2], 2);
    assert_int_equal(((int64_t *)ex->data)[3], -2);

    /* an op the evaluator lacks is left alone */
    ir_value_t *sm = val(g, "sm");
    n = mk(g, IR_OP_LRN, "lrn", 1, IN(fc), sm);
    assert_int_equal(pass_eval_node(g, n), 0);
    assert_false(n->dead);
    assert_null(sm->data);

    /* a bad Gather index is an error naming the node, not a crash */
    int64_t bad = 5;
    n = mk(g, IR_OP_GATHER, "bad_gather", 2, IN(ci64(g, "b3", S1(2), b), ci64(g, "bad", S0(), &bad)), val(g, "bg"));
    assert_int_equal(pass_eval_node(g, n), -1);
    assert_non_null(strstr(g->err, "bad_gather"));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- DCE and simplify */
static void test_dce_removes_unused_branch(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("dce.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(2, 2));
    ir_value_t *y = val(g, "y"), *z = val(g, "z"), *z2 = val(g, "z2");
    float w[4] = {1, 2, 3, 4};
    ir_value_t *wc = cf32(g, "w", S2(2, 2), w);
    mk(g, IR_OP_RELU, "keep", 1, IN(x), y);
    ir_node_t *a = mk(g, IR_OP_MUL, "unused_mul", 2, IN(x, wc), z);
    ir_node_t *b = mk(g, IR_OP_SIGMOID, "unused_sig", 1, IN(z), z2);
    output(g, y);
    run_ok(g, pass_toposort);
    assert_int_equal(wc->n_uses, 1);
    run_ok(g, pass_dce);
    assert_true(a->dead);
    assert_true(b->dead);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(g->nodes[0]->op, IR_OP_RELU);
    assert_int_equal(wc->n_uses, 0);
    ir_graph_free(g);
}

static void test_identity_simplify(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("id.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S1(8));
    ir_value_t *r = val(g, "r"), *m = val(g, "m"), *d = val(g, "d"), *y = val(g, "y"), *out = val(g, "out");
    mk(g, IR_OP_RELU, "relu", 1, IN(x), r);
    ir_node_t *inner = mk(g, IR_OP_IDENTITY, "inner_id", 1, IN(r), m);
    ir_node_t *drop = mk(g, IR_OP_DROPOUT, "drop", 1, IN(m), d);
    ir_node_t *sig = mk(g, IR_OP_SIGMOID, "sig", 1, IN(d), y);
    ir_node_t *outer = mk(g, IR_OP_IDENTITY, "out_id", 1, IN(y), out);
    output(g, out);
    run_ok(g, pass_toposort);
    run_ok(g, pass_simplify);
    assert_true(inner->dead);
    assert_true(drop->dead);
    assert_false(outer->dead);            /* writes a graph output */
    assert_ptr_equal(sig->in[0], r);
    assert_int_equal(r->n_uses, 1);
    assert_int_equal(g->n_nodes, 3);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- BatchNorm folding */
static void test_fold_batchnorm(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("bn.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S4(1, 2, 3, 3));
    float w[8] = {0.5f, -1.25f, 2.0f, 0.75f, -0.3f, 1.1f, 0.05f, -2.2f};   /* OC=2, IC=2, 2x1 kernel */
    float bias0[2] = {0.1f, -0.2f}, sc[2] = {1.5f, 0.8f}, bb[2] = {0.3f, -0.4f}, mu[2] = {0.25f, -1.0f},
          var[2] = {0.9f, 2.5f};
    double eps = 1e-3;
    ir_value_t *W = cf32(g, "W", S4(2, 2, 2, 1), w), *B = cf32(g, "B", S1(2), bias0);
    ir_value_t *c = val(g, "c"), *y = val(g, "y");
    ir_node_t *conv = mk(g, IR_OP_CONV, "conv", 3, IN(x, W, B), c);
    ir_node_t *bn = mk(g, IR_OP_BATCH_NORM, "bn", 5,
                       IN(c, cf32(g, "sc", S1(2), sc), cf32(g, "bb", S1(2), bb), cf32(g, "mu", S1(2), mu),
                          cf32(g, "var", S1(2), var)),
                       y);
    attr_float(g, bn, "epsilon", eps);
    output(g, y);
    run_ok(g, pass_toposort);
    run_ok(g, pass_fold_batchnorm);
    assert_true(bn->dead);
    assert_int_equal(g->n_nodes, 1);
    assert_ptr_equal(conv->out[0], y);
    assert_ptr_equal(y->producer, conv);
    assert_int_equal(conv->n_in, 3);
    const float *nw = conv->in[1]->data, *nb = conv->in[2]->data;
    assert_ptr_not_equal(conv->in[1], W);    /* W itself is untouched (may be shared) */
    assert_true(((float *)W->data)[0] == 0.5f);
    for (int o = 0; o < 2; o++) {
        double s = (double)sc[o] / sqrt((double)var[o] + eps);
        for (int i = 0; i < 4; i++) {
            double want = (double)w[o * 4 + i] * s;
            assert_true(fabs(nw[o * 4 + i] - want) <= 1e-6 * fabs(want) + 1e-7);
        }
        double wantb = ((double)bias0[o] - mu[o]) * s + bb[o];
        assert_true(fabs(nb[o] - wantb) <= 1e-6 * fabs(wantb) + 1e-7);
    }
    ir_graph_free(g);
}

static void test_batchnorm_without_conv_stays(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("bn2.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S4(1, 2, 2, 2));
    float p[2] = {1, 2};
    ir_value_t *r = val(g, "r"), *y = val(g, "y");
    mk(g, IR_OP_RELU, "relu", 1, IN(x), r);
    ir_node_t *bn = mk(g, IR_OP_BATCH_NORM, "bn", 5,
                       IN(r, cf32(g, "s", S1(2), p), cf32(g, "b", S1(2), p), cf32(g, "m", S1(2), p), cf32(g, "v", S1(2), p)), y);
    output(g, y);
    pipeline_ok(g, 2);
    assert_false(bn->dead);
    assert_ptr_equal(y->producer, bn);
    assert_int_equal(g->n_nodes, 2);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- fusion */
static void test_gemm_clip_leaky_fuses(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("clip.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(2, 3));
    float w[12] = {0}, six = 6, lo = -1;
    ir_value_t *gm = val(g, "gm"), *c1 = val(g, "c1"), *c2 = val(g, "c2"), *y = val(g, "y");
    ir_node_t *gemm = mk(g, IR_OP_GEMM, "gemm", 2, IN(x, cf32(g, "w", S2(4, 3), w)), gm);
    attr_int(g, gemm, "transB", 1);
    mk(g, IR_OP_CLIP, "clip_hi", 3, IN(gm, NULL, cf32(g, "six", S0(), &six)), c1);
    mk(g, IR_OP_CLIP, "clip_lo", 2, IN(c1, cf32(g, "lo", S0(), &lo)), c2);
    ir_node_t *lr = mk(g, IR_OP_LEAKY_RELU, "leaky", 1, IN(c2), y);
    attr_float(g, lr, "alpha", 0.25);
    output(g, y);
    pipeline_ok(g, 1);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(gemm->n_post, 3);
    assert_int_equal(gemm->post[0].op, IR_OP_CLIP);
    /* post-ops keep their node: Clip's constant bounds and LeakyRelu's alpha are read
     * from it by the recipe, the running value is input 0, no tensor operand */
    assert_int_equal(gemm->post[0].self, 0);
    assert_null(gemm->post[0].other);
    assert_int_equal(gemm->post[0].node->n_in, 3);
    assert_null(gemm->post[0].node->in[1]);
    assert_true(*(const float *)gemm->post[0].node->in[2]->data == 6.0f);
    assert_true(*(const float *)gemm->post[1].node->in[1]->data == -1.0f);
    assert_int_equal(gemm->post[2].op, IR_OP_LEAKY_RELU);
    assert_true(ir_attr_num(gemm->post[2].node, "alpha", 0) == 0.25);
    ir_graph_free(g);
}

static void test_conv_bias_relu_fuses(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("fuse.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S4(1, 2, 4, 4));
    float w[3 * 2 * 3 * 3], bias[3] = {1, 2, 3};
    for (int i = 0; i < 54; i++) w[i] = (float)i * 0.01f;
    ir_value_t *W = cf32(g, "W", S4(3, 2, 3, 3), w), *bc = cf32(g, "bias", S4(1, 3, 1, 1), bias);
    ir_value_t *c = val(g, "c"), *a = val(g, "a"), *y = val(g, "y");
    int64_t pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
    ir_node_t *conv = mk(g, IR_OP_CONV, "conv", 2, IN(x, W), c);
    attr_ints(g, conv, "pads", 4, pads);
    attr_ints(g, conv, "kernel_shape", 2, ks);
    mk(g, IR_OP_ADD, "add", 2, IN(c, bc), a);
    mk(g, IR_OP_RELU, "relu", 1, IN(a), y);
    output(g, y);
    pipeline_ok(g, 1);
    assert_int_equal(g->n_nodes, 1);
    assert_ptr_equal(g->nodes[0], conv);
    assert_int_equal(conv->n_post, 2);
    assert_int_equal(conv->post[0].op, IR_OP_ADD);
    assert_ptr_equal(conv->post[0].other, bc);
    assert_false(conv->post[0].swap);
    assert_int_equal(conv->post[1].op, IR_OP_RELU);
    assert_null(conv->post[1].other);
    assert_ptr_equal(conv->out[0], y);
    assert_int_equal(y->storage, IR_ST_OUTPUT);
    assert_int_equal(bc->storage, IR_ST_CONST);   /* a post-op operand is in the blob */
    assert_int_equal(W->storage, IR_ST_CONST);
    assert_int_equal(W->offset % 64, 0);
    assert_int_equal(bc->offset % 64, 0);
    assert_true(g->blob_size >= (int64_t)(sizeof w + sizeof bias));
    ir_graph_free(g);
}

static void test_opt0_does_not_fuse(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("o0.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(2, 3));
    ir_value_t *a = val(g, "a"), *y = val(g, "y");
    mk(g, IR_OP_RELU, "relu", 1, IN(x), a);
    mk(g, IR_OP_NEG, "neg", 1, IN(a), y);
    output(g, y);
    pipeline_ok(g, 0);
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(g->nodes[0]->n_post, 0);
    assert_int_equal(a->storage, IR_ST_WORKSPACE);
    ir_graph_free(g);
}

static void test_gelu_chain_fuses(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("gelu.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(2, 8));
    float sq2 = 1.4142135f, one = 1, half = 0.5f;
    ir_value_t *a = val(g, "a"), *b = val(g, "b"), *c = val(g, "c"), *d = val(g, "d"), *y = val(g, "y"), *z = val(g, "z");
    ir_node_t *div = mk(g, IR_OP_DIV, "div", 2, IN(x, cf32(g, "sq2", S0(), &sq2)), a);
    mk(g, IR_OP_ERF, "erf", 1, IN(a), b);
    mk(g, IR_OP_ADD, "add", 2, IN(b, cf32(g, "one", S0(), &one)), c);
    mk(g, IR_OP_MUL, "mul", 2, IN(x, c), d);
    mk(g, IR_OP_MUL, "mul2", 2, IN(d, cf32(g, "half", S0(), &half)), y);
    /* y is read by a node whose output is larger: the chain stops at y */
    float row[24] = {0};
    mk(g, IR_OP_ADD, "bcast_add", 2, IN(y, cf32(g, "row", S3(3, 1, 8), row)), z);
    output(g, z);
    pipeline_ok(g, 2);
    assert_ptr_equal(y->producer, div);
    assert_int_equal(div->n_post, 4);
    assert_int_equal(div->post[0].op, IR_OP_ERF);
    assert_int_equal(div->post[1].op, IR_OP_ADD);
    assert_int_equal(div->post[2].op, IR_OP_MUL);
    assert_ptr_equal(div->post[2].other, x);
    assert_true(div->post[2].swap);
    assert_int_equal(div->post[3].op, IR_OP_MUL);
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(z->producer->n_post, 0);   /* broadcasting would grow the shape */
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- memory planning */
static ir_value_t *typed(ir_graph_t *g, const char *name, ir_shape_t s) {
    ir_value_t *v = val(g, name);
    v->dtype = IR_F32;
    v->shape = s;
    return v;
}

/* Every pair of workspace buffers live at the same time must not overlap. */
static void check_no_overlap(ir_graph_t *g) {
    int nv = g->n_values;
    int *def = calloc((size_t)nv, sizeof(int)), *last = calloc((size_t)nv, sizeof(int));
    for (int i = 0; i < nv; i++) def[i] = last[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k]) def[n->out[k]->id] = last[n->out[k]->id] = i;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]) last[n->in[k]->id] = i;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].other) last[n->post[k].other->id] = i;
    }
    for (int i = 0; i < nv; i++) {
        ir_value_t *a = g->values[i];
        if (a->storage != IR_ST_WORKSPACE || a->dyn_slot >= 0) continue;
        assert_int_equal(a->offset % 64, 0);
        int64_t sa = ir_shape_numel(&a->shape) * (int64_t)ir_dtype_size(a->dtype);
        assert_true(a->offset + sa <= g->ws_static);
        for (int j = i + 1; j < nv; j++) {
            ir_value_t *b = g->values[j];
            if (b->storage != IR_ST_WORKSPACE || b->dyn_slot >= 0) continue;
            bool live_together = def[i] <= last[j] && def[j] <= last[i];
            if (!live_together) continue;
            int64_t sb = ir_shape_numel(&b->shape) * (int64_t)ir_dtype_size(b->dtype);
            bool disjoint = a->offset + sa <= b->offset || b->offset + sb <= a->offset;
            if (!disjoint) fprintf(stderr, "%s and %s overlap\n", a->name, b->name);
            assert_true(disjoint);
        }
    }
    free(def);
    free(last);
}

static void test_plan_chain_reuses(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("plan.onnx");
    const int64_t size = 256 * 4;
    ir_value_t *x = input(g, "x", IR_F32, S2(1, 256));
    ir_value_t *v[5];
    const char *names[5] = {"a", "b", "c", "d", "y"};
    ir_op_t ops[5] = {IR_OP_RELU, IR_OP_SIGMOID, IR_OP_TANH, IR_OP_RELU, IR_OP_NEG};
    ir_value_t *prev = x;
    for (int i = 0; i < 5; i++) {
        v[i] = typed(g, names[i], S2(1, 256));
        mk(g, ops[i], NULL, 1, IN(prev), v[i]);
        prev = v[i];
    }
    output(g, v[4]);
    run_ok(g, pass_toposort);
    run_ok(g, pass_plan_memory);
    assert_int_equal(x->storage, IR_ST_INPUT);
    assert_int_equal(x->index, 0);
    assert_int_equal(v[4]->storage, IR_ST_OUTPUT);
    assert_int_equal(v[4]->index, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(v[i]->storage, IR_ST_WORKSPACE);
        assert_int_equal(v[i]->dyn_slot, -1);
    }
    assert_int_equal(g->ws_static, 2 * size);
    assert_int_equal(g->ws_naive, 4 * size);
    assert_true(g->ws_static < g->ws_naive);
    assert_int_equal(g->n_dyn_slots, 0);
    check_no_overlap(g);

    char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    pass_print_plan(g, f);
    fclose(f);
    assert_non_null(strstr(buf, "workspace 2048 bytes (static) vs 4096 bytes"));
    ir_graph_free(g);
}

static void test_plan_diamond_no_overlap(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("diamond.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S1(100));
    ir_value_t *a = typed(g, "a", S1(100)), *b = typed(g, "b", S1(100)), *c = typed(g, "c", S1(300)),
               *d = typed(g, "d", S1(100)), *e = typed(g, "e", S1(50)), *y = typed(g, "y", S1(100));
    mk(g, IR_OP_RELU, "n_a", 1, IN(x), a);
    mk(g, IR_OP_SIGMOID, "n_b", 1, IN(a), b);
    mk(g, IR_OP_CONCAT, "n_c", 3, IN(b, a, b), c);
    mk(g, IR_OP_SLICE, "n_d", 1, IN(c), d);   /* shapes only matter here */
    mk(g, IR_OP_RELU, "n_e", 1, IN(b), e);
    mk(g, IR_OP_ADD, "n_y", 2, IN(d, a), y);
    output(g, y);
    output(g, e);
    run_ok(g, pass_toposort);
    run_ok(g, pass_plan_memory);
    check_no_overlap(g);
    assert_true(g->ws_static <= g->ws_naive);
    assert_int_equal(e->storage, IR_ST_OUTPUT);
    assert_int_equal(e->index, 1);
    ir_graph_free(g);
}

static void test_plan_symbolic_gets_slot(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("dyn.onnx");
    ir_shape_t s = S2(1, 16);
    s.dims[0] = (ir_dim_t){1, ir_graph_add_sym(g, "N")};
    ir_value_t *x = input(g, "x", IR_F32, s);
    ir_value_t *a = typed(g, "a", s), *b = typed(g, "b", S1(64)), *y = typed(g, "y", s);
    float k[64] = {0};
    mk(g, IR_OP_RELU, "relu", 1, IN(x), a);
    mk(g, IR_OP_NEG, "neg_static", 1, IN(cf32(g, "k", S1(64), k)), b);
    mk(g, IR_OP_NEG, "neg", 1, IN(a), y);
    output(g, y);
    output(g, b);
    run_ok(g, pass_toposort);
    run_ok(g, pass_plan_memory);
    assert_int_equal(a->storage, IR_ST_WORKSPACE);
    assert_int_equal(a->dyn_slot, 0);
    assert_int_equal(a->offset, -1);
    assert_int_equal(g->n_dyn_slots, 1);
    assert_int_equal(g->ws_static, 0);
    ir_graph_free(g);
}

static void test_plan_output_copies(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("outs.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S1(4));
    float cv[4] = {1, 2, 3, 4};
    ir_value_t *cst = cf32(g, "cst", S1(4), cv), *r = typed(g, "r", S1(4));
    mk(g, IR_OP_RELU, "relu", 1, IN(x), r);
    output(g, x);     /* a graph input */
    output(g, r);
    output(g, r);     /* the same value twice */
    output(g, cst);   /* a constant */
    run_ok(g, pass_toposort);
    run_ok(g, pass_plan_memory);
    assert_int_equal(x->storage, IR_ST_INPUT);
    for (int i = 0; i < 4; i++) {
        ir_value_t *o = g->outputs[i];
        assert_int_equal(o->storage, IR_ST_OUTPUT);
        assert_int_equal(o->index, i);
        assert_non_null(o->producer);
        assert_false(o->data != NULL);
        for (int j = 0; j < i; j++) assert_ptr_not_equal(g->outputs[j], o);
    }
    assert_ptr_equal(g->outputs[1], r);
    assert_int_equal(g->outputs[0]->producer->op, IR_OP_IDENTITY);
    assert_ptr_equal(g->outputs[0]->producer->in[0], x);
    assert_ptr_equal(g->outputs[2]->producer->in[0], r);
    assert_ptr_equal(g->outputs[3]->producer->in[0], cst);
    assert_int_equal(cst->storage, IR_ST_CONST);
    assert_string_equal(g->outputs[3]->name, "cst");
    assert_int_equal(ir_graph_verify(g), 0);
    ir_graph_free(g);
}

static void test_plan_unknown_shape_is_error(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("unk.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S1(4));
    ir_value_t *a = val(g, "a"), *y = typed(g, "y", S1(4));
    mk(g, IR_OP_RELU, "mystery", 1, IN(x), a);
    mk(g, IR_OP_NEG, "neg", 1, IN(a), y);
    output(g, y);
    run_ok(g, pass_toposort);
    assert_int_equal(pass_plan_memory(g), -1);
    assert_non_null(strstr(g->err, "node 'mystery'"));
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- schedule */
static void pipeline_for(ir_graph_t *g, const ir_target_t *t) {
    pass_options_t o;
    pass_options_init(&o);
    o.verify = true;
    o.target = t;
    int rc = pass_run_pipeline(g, &o);
    if (rc) fprintf(stderr, "pipeline failed: %s\n", g->err);
    assert_int_equal(rc, 0);
}

static int64_t al64(int64_t x) { return (x + 63) & ~(int64_t)63; }

/* y[M=64, N=40] = x[64, 48] * W^T + b with W [40, 48] (transB, like nn.Linear) */
static ir_graph_t *linear_graph(ir_value_t **w_out, ir_node_t **n_out, float *wdata) {
    ir_graph_t *g = ir_graph_new("linear.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(64, 48));
    float b[40];
    for (int i = 0; i < 40 * 48; i++) wdata[i] = (float)(i % 97) - 48.0f;
    for (int i = 0; i < 40; i++) b[i] = (float)i;
    ir_value_t *W = cf32(g, "W", S2(40, 48), wdata), *y = val(g, "y");
    ir_node_t *n = mk(g, IR_OP_GEMM, "fc", 3, IN(x, W, cf32(g, "b", S1(40), b)), y);
    attr_int(g, n, "transB", 1);
    output(g, y);
    *w_out = W;
    *n_out = n;
    return g;
}

static void check_packed(const ir_node_t *n, const ir_value_t *W, const float *w, int64_t K, int64_t N, int nr) {
    const ir_sched_t *s = n->sched;
    assert_int_equal(s->tiles.bform, IR_SCHED_B_PACKED);
    const ir_sched_pack_t *p = &s->tiles.pack;
    const ir_value_t *pk = n->in[1];
    assert_ptr_not_equal(pk, W);              /* the node reads the packed copy */
    assert_ptr_equal(p->packed, pk);
    assert_ptr_equal(p->src, W);
    assert_true(p->trans);
    assert_int_equal(p->nr, nr);
    assert_int_equal(p->kdim, K);
    assert_int_equal(p->kblock, K);
    int64_t np = (N + nr - 1) / nr;
    assert_int_equal(p->npanels, np);
    assert_int_equal(pk->shape.rank, 3);
    assert_int_equal(pk->shape.dims[0].v, np);
    assert_int_equal(pk->shape.dims[1].v, K);
    assert_int_equal(pk->shape.dims[2].v, nr);
    assert_int_equal(pk->data_size, (size_t)(np * K * nr) * sizeof(float));
    const float *d = pk->data;
    for (int64_t j = 0; j < np * nr; j++)
        for (int64_t k = 0; k < K; k++) {
            float want = j < N ? w[j * K + k] : 0.0f;   /* W is [N][K] (transB); zero padding past N */
            assert_true(d[((j / nr) * K + k) * nr + j % nr] == want);
        }
    /* the original is read by nobody: it is not in the weights, which shrank by its size */
    assert_int_equal(W->n_uses, 0);
    assert_int_equal(W->storage, IR_ST_NONE);
    assert_int_equal(pk->storage, IR_ST_CONST);
    assert_int_equal(n->in[2]->storage, IR_ST_CONST);
}

static void test_schedule_gemm_avx2(void **state) {
    (void)state;
    float w[40 * 48];
    ir_value_t *W;
    ir_node_t *n;
    ir_graph_t *g = linear_graph(&W, &n, w);
    ir_target_t t;
    ir_target_cpu(&t, 256, 32 * 1024, 512 * 1024, 2);
    assert_int_equal(t.vec_lanes, 8);
    assert_int_equal(t.vec_regs, 16);
    pipeline_for(g, &t);
    const ir_sched_t *s = n->sched;
    assert_non_null(s);
    assert_int_equal(s->cls, IR_K_CONTRACT);
    assert_true(s->tiled);
    assert_int_equal(s->space.rank, 2);
    assert_int_equal(s->space.dims[0].v, 64);
    assert_int_equal(s->space.dims[1].v, 40);
    assert_int_equal(s->par_axis, -1);        /* no batch axis: tasks are tiles */
    const ir_sched_tiles_t *ts = &s->tiles;
    assert_int_equal(ts->m, 64);
    assert_int_equal(ts->n, 40);
    assert_int_equal(ts->k, 48);
    assert_int_equal(ts->nb, 0);
    assert_int_equal(ts->vl, 8);
    assert_int_equal(ts->nr, 16);
    assert_int_equal(ts->mr, 6);              /* 12 accumulators + 2 B + 1 A = 15 of 16 registers */
    assert_int_equal(ts->kc, 128);
    assert_int_equal(ts->nt, 3);              /* 64 columns a group, but only 3 tiles of 16 */
    assert_int_equal(ts->ngroups, 1);
    /* one group gives one task: M splits into 4 blocks of ceil(10/4) = 3 row tiles */
    assert_int_equal(ts->tpb, 3);
    assert_int_equal(ts->mblocks, 4);
    check_packed(n, W, w, 48, 40, 16);
    /* packed 3 panels x 48 x 16 floats and the bias; the original 40 x 48 is gone */
    assert_int_equal(g->blob_size, al64(3 * 48 * 16 * 4) + al64(40 * 4));
    assert_true(g->blob_size < al64(40 * 48 * 4) + al64(3 * 48 * 16 * 4) + al64(40 * 4));
    ir_graph_free(g);
}

static void test_schedule_gemm_avx512(void **state) {
    (void)state;
    float w[40 * 48];
    ir_value_t *W;
    ir_node_t *n;
    ir_graph_t *g = linear_graph(&W, &n, w);
    ir_target_t t;
    ir_target_cpu(&t, 512, 48 * 1024, 1024 * 1024, 0);
    assert_int_equal(t.vec_lanes, 16);
    assert_int_equal(t.vec_regs, 32);
    pipeline_for(g, &t);
    const ir_sched_tiles_t *ts = &n->sched->tiles;
    assert_int_equal(ts->vl, 16);
    assert_int_equal(ts->nr, 32);
    assert_int_equal(ts->mr, 6);              /* capped at the measured 6 */
    assert_int_equal(ts->kc, 128);
    assert_int_equal(ts->nt, 2);              /* 64 columns = 2 tiles of 32 */
    assert_int_equal(ts->ngroups, 1);
    assert_int_equal(ts->mblocks, 4);
    check_packed(n, W, w, 48, 40, 32);
    assert_int_equal(g->blob_size, al64(2 * 48 * 32 * 4) + al64(40 * 4));
    ir_graph_free(g);
}

/* A target with few registers and small caches gets smaller tiles. */
static void test_schedule_small_target(void **state) {
    (void)state;
    float w[40 * 48];
    ir_value_t *W;
    ir_node_t *n;
    ir_graph_t *g = linear_graph(&W, &n, w);
    ir_target_t t;
    ir_target_generic(&t);
    t.vec_regs = 8;
    t.l1_bytes = 2048;
    t.l2_bytes = 64 * 1024;
    pipeline_for(g, &t);
    const ir_sched_tiles_t *ts = &n->sched->tiles;
    assert_int_equal(ts->vl, 4);
    assert_int_equal(ts->nr, 8);
    assert_int_equal(ts->mr, 2);              /* (8 - 3) / 2 */
    assert_int_equal(ts->kc, 32);             /* 32 * (2 + 8) * 4 <= 2048 * 2 / 3 */
    assert_int_equal(ts->nt, 4);              /* 64 KiB / 16 / (32 * 4) = 32 columns */
    assert_int_equal(ts->ngroups, 2);
    check_packed(n, W, w, 48, 40, 8);
    ir_graph_free(g);
}

static void test_schedule_conv_and_map(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("conv.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S4(1, 8, 10, 10));
    ir_value_t *r = input(g, "r", IR_F32, S4(1, 16, 10, 10));
    float w[16 * 8 * 9];
    for (int i = 0; i < 16 * 8 * 9; i++) w[i] = (float)i * 0.001f;
    ir_value_t *W = cf32(g, "W", S4(16, 8, 3, 3), w), *c = val(g, "c"), *y = val(g, "y");
    int64_t pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
    ir_node_t *conv = mk(g, IR_OP_CONV, "conv", 2, IN(x, W), c);
    attr_ints(g, conv, "pads", 4, pads);
    attr_ints(g, conv, "kernel_shape", 2, ks);
    ir_node_t *sig = mk(g, IR_OP_SIGMOID, "sig", 1, IN(r), val(g, "s"));
    mk(g, IR_OP_MUL, "mul", 2, IN(c, sig->out[0]), y);
    output(g, y);
    ir_target_t t;
    ir_target_cpu(&t, 256, 0, 0, 0);
    pipeline_for(g, &t);
    const ir_sched_t *s = conv->sched;
    assert_non_null(s);
    assert_int_equal(s->cls, IR_K_CONTRACT);
    assert_true(s->tiled);
    assert_int_equal(s->par_axis, 0);         /* tasks: batch x column groups */
    assert_int_equal(s->tiles.nb, 1);
    assert_int_equal(s->tiles.m, 16);
    assert_int_equal(s->tiles.n, 100);
    assert_int_equal(s->tiles.k, 72);
    assert_int_equal(s->tiles.bform, IR_SCHED_B_IM2COL);
    assert_int_equal(s->tiles.nt, 4);
    assert_int_equal(s->tiles.ngroups, 2);    /* 7 tiles of 16 columns in groups of 4 */
    assert_int_equal(s->tiles.mblocks, 2);    /* 1 x 2 tasks < 4: 2 row tiles split in 2 */
    assert_ptr_equal(conv->in[1], W);         /* filters are read where they lie */
    assert_int_equal(W->storage, IR_ST_CONST);
    /* the Sigmoid is a map split along its first non-unit axis */
    assert_non_null(sig->sched);
    assert_int_equal(sig->sched->cls, IR_K_MAP);
    assert_false(sig->sched->tiled);
    assert_int_equal(sig->sched->par_axis, 1);
    for (int i = 0; i < g->n_nodes; i++) assert_non_null(g->nodes[i]->sched);
    ir_graph_free(g);
}

/* A weight another node also reads (here a fused residual operand) stays in the blob
 * beside its packed copy; two MatMuls reading it share one packed copy. */
static void test_schedule_shared_weight(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("shared.onnx");
    ir_value_t *x = input(g, "x", IR_F32, S2(20, 20));
    ir_value_t *x2 = input(g, "x2", IR_F32, S2(3, 20));
    float w[20 * 20];
    for (int i = 0; i < 400; i++) w[i] = (float)i;
    ir_value_t *W = cf32(g, "W", S2(20, 20), w);
    ir_node_t *m1 = mk(g, IR_OP_MATMUL, "m1", 2, IN(x, W), val(g, "a"));
    ir_node_t *m2 = mk(g, IR_OP_MATMUL, "m2", 2, IN(x2, W), val(g, "b"));
    ir_node_t *add = mk(g, IR_OP_ADD, "add", 2, IN(m1->out[0], W), val(g, "y"));
    output(g, add->out[0]);
    output(g, m2->out[0]);
    ir_target_t t;
    ir_target_cpu(&t, 256, 0, 0, 0);
    pipeline_for(g, &t);
    assert_true(m1->sched->tiled && m2->sched->tiled);
    assert_int_equal(m1->sched->tiles.bform, IR_SCHED_B_PACKED);
    assert_ptr_equal(m1->in[1], m2->in[1]);   /* one packed copy */
    assert_ptr_not_equal(m1->in[1], W);
    assert_int_equal(W->n_uses, 1);           /* the Add (fused or not) still reads it */
    assert_int_equal(W->storage, IR_ST_CONST);
    assert_int_equal(m1->in[1]->storage, IR_ST_CONST);
    assert_int_equal(g->blob_size, al64(400 * 4) + al64(2 * 20 * 16 * 4));
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_chain_folds),
        cmocka_unit_test(test_shape_of_symbolic_input),
        cmocka_unit_test(test_eval_ops),
        cmocka_unit_test(test_dce_removes_unused_branch),
        cmocka_unit_test(test_identity_simplify),
        cmocka_unit_test(test_fold_batchnorm),
        cmocka_unit_test(test_batchnorm_without_conv_stays),
        cmocka_unit_test(test_conv_bias_relu_fuses),
        cmocka_unit_test(test_gemm_clip_leaky_fuses),
        cmocka_unit_test(test_opt0_does_not_fuse),
        cmocka_unit_test(test_gelu_chain_fuses),
        cmocka_unit_test(test_plan_chain_reuses),
        cmocka_unit_test(test_plan_diamond_no_overlap),
        cmocka_unit_test(test_plan_symbolic_gets_slot),
        cmocka_unit_test(test_plan_output_copies),
        cmocka_unit_test(test_plan_unknown_shape_is_error),
        cmocka_unit_test(test_schedule_gemm_avx2),
        cmocka_unit_test(test_schedule_gemm_avx512),
        cmocka_unit_test(test_schedule_small_target),
        cmocka_unit_test(test_schedule_conv_and_map),
        cmocka_unit_test(test_schedule_shared_weight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
