/* Inference of Einsum (ir/einsum.c) and of the sampling ops GridSample, DeformConv and
 * RoiAlign (ir/infer_sample.c). Expected shapes are what numpy.einsum, ONNX's shape
 * inference and onnxruntime give for the same cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir/infer_util.h"
#include "ir/ir.h"

static ir_graph_t *G;
static int vcount;

static int setup(void **st) {
    (void)st;
    G = ir_graph_new("t.onnx");
    vcount = 0;
    return G ? 0 : -1;
}
static int teardown(void **st) {
    (void)st;
    ir_graph_free(G);
    return 0;
}

#define C(v) ((ir_dim_t){(v), -1})
#define SY(c, s) ((ir_dim_t){(c), (s)})
#define NDIMS(...) ((int)(sizeof((ir_dim_t[]){__VA_ARGS__}) / sizeof(ir_dim_t)))
#define SHAPE(...) mk_shape((ir_dim_t[]){__VA_ARGS__}, NDIMS(__VA_ARGS__))
#define I64S(...) ((int64_t[]){__VA_ARGS__}), ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

static ir_shape_t mk_shape(const ir_dim_t *d, int rank) {
    ir_shape_t s = {.rank = rank};
    memcpy(s.dims, d, sizeof(ir_dim_t) * (size_t)rank);
    return s;
}
static const ir_shape_t SCALAR = {.rank = 0};

static ir_value_t *in(ir_dtype_t dt, ir_shape_t s) {
    char buf[32];
    snprintf(buf, sizeof buf, "v%d", vcount++);
    ir_value_t *v = ir_value_new(G, buf, dt, &s);
    assert_non_null(v);
    v->is_input = true;
    return v;
}
static ir_value_t *f32(ir_shape_t s) { return in(IR_F32, s); }

static ir_node_t *mk(ir_op_t op, const char *name, int n_in, ...) {
    ir_node_t *n = ir_node_new(G, op, name, n_in, 1);
    assert_non_null(n);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) n->in[i] = va_arg(ap, ir_value_t *);
    va_end(ap);
    char buf[32];
    snprintf(buf, sizeof buf, "v%d", vcount++);
    n->out[0] = ir_value_new(G, buf, IR_UNDEFINED, NULL);
    n->out[0]->producer = n;
    return n;
}

static void a_int(ir_node_t *n, const char *name, int64_t v) { ir_node_add_attr(G, n, name, IR_ATTR_INT)->i = v; }
static void a_str(ir_node_t *n, const char *name, const char *s) { ir_node_add_attr(G, n, name, IR_ATTR_STRING)->s = s; }
static void a_ints(ir_node_t *n, const char *name, const int64_t *v, int cnt) {
    ir_attr_t *a = ir_node_add_attr(G, n, name, IR_ATTR_INTS);
    a->ints = ir_arena_alloc(&G->arena, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
    a->n = cnt;
}

static void ok(ir_node_t *n) {
    if (ir_infer_node(G, n)) fail_msg("inference failed: %s", G->err);
}
static void err(ir_node_t *n, const char *needle) {
    assert_int_equal(ir_infer_node(G, n), -1);
    if (!strstr(G->err, needle)) fail_msg("error \"%s\" does not contain \"%s\"", G->err, needle);
}
static void expect(const ir_value_t *v, ir_dtype_t dt, ir_shape_t want) {
    char a[128], b[128];
    ir_shape_str(G, &v->shape, a, sizeof a);
    ir_shape_str(G, &want, b, sizeof b);
    if (v->dtype != dt) fail_msg("dtype %s, expected %s", ir_dtype_name(v->dtype), ir_dtype_name(dt));
    bool same = v->shape.rank == want.rank;
    for (int i = 0; same && i < want.rank; i++) same = ir_dim_eq(v->shape.dims[i], want.dims[i]);
    if (!same) fail_msg("shape %s, expected %s", a, b);
}

static ir_node_t *einsum(const char *eq, int n_in, ir_value_t *a, ir_value_t *b, ir_value_t *c) {
    ir_node_t *n = mk(IR_OP_EINSUM, "ein", n_in, a, b, c);
    a_str(n, "equation", eq);
    return n;
}

/* ---------------------------------------------------------------- Einsum */
static void test_einsum_shapes(void **st) {
    (void)st;
    int B = ir_graph_add_sym(G, "batch");
    ir_node_t *n = einsum("bij, bjk -> bik", 2, f32(SHAPE(SY(1, B), C(2), C(3))), f32(SHAPE(SY(1, B), C(3), C(4))), NULL);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, B), C(2), C(4)));
    /* implicit output: letters seen once, in ASCII order (upper case first) */
    n = einsum("jb,aj", 2, f32(SHAPE(C(3), C(5))), f32(SHAPE(C(7), C(3))), NULL);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(7), C(5)));
    n = einsum("Ab,bA", 2, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(3), C(2))), NULL);
    ok(n);
    expect(n->out[0], IR_F32, SCALAR);
    n = einsum("i,i", 2, in(IR_F64, SHAPE(C(5))), in(IR_F64, SHAPE(C(5))), NULL);
    ok(n);
    expect(n->out[0], IR_F64, SCALAR);
    /* a diagonal under an ellipsis, and the ellipsis broadcasting 1 against 4 */
    n = einsum("...ii ->...i", 1, in(IR_BF16, SHAPE(C(3), C(5), C(5))), NULL, NULL);
    ok(n);
    expect(n->out[0], IR_BF16, SHAPE(C(3), C(5)));
    n = einsum("...ij,...jk", 2, f32(SHAPE(C(2), C(1), C(3), C(4))), f32(SHAPE(C(6), C(4), C(5))), NULL);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(6), C(3), C(5)));
    n = einsum("ab,bc,cd->da", 3, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(3), C(4))), f32(SHAPE(C(4), C(5))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(5), C(2)));
    n = einsum("->", 1, in(IR_F64, SCALAR), NULL, NULL);
    ok(n);
    expect(n->out[0], IR_F64, SCALAR);

    /* the parsed labels: 'ii' maps both axes of the input to one label */
    ir_einsum_t e;
    n = einsum("ii->i", 1, f32(SHAPE(C(4), C(4))), NULL, NULL);
    assert_int_equal(ir_einsum_parse(G, n, &e), 0);
    assert_int_equal(e.n_in, 1);
    assert_int_equal(e.rank[0], 2);
    assert_int_equal(e.lab[0][0], e.lab[0][1]);
    assert_int_equal(e.out_rank, 1);
    assert_int_equal(e.out_lab[0], e.lab[0][0]);
    assert_int_equal(e.size[e.out_lab[0]].v, 4);
}

static void test_einsum_errors(void **st) {
    (void)st;
    ir_node_t *n = einsum("ij,jk->ik", 2, f32(SHAPE(C(2), C(3))), f32(SHAPE(C(4), C(5))), NULL);
    err(n, "t.onnx: node 'ein' (Einsum): equation 'ij,jk->ik': index 'j' has sizes [3] and [4]");
    n = einsum("ij->i", 1, f32(SHAPE(C(2), C(3), C(4))), NULL, NULL);
    err(n, "term 0 has 2 indices but input 'v");
    n = einsum("ij,jk", 1, f32(SHAPE(C(2), C(3))), NULL, NULL);
    err(n, "node 'ein' (Einsum): equation 'ij,jk' has more terms than the node's 1 inputs");
    n = einsum("i..j->ij", 1, f32(SHAPE(C(2), C(3))), NULL, NULL);
    err(n, "'.' must be part of an ellipsis");
    n = einsum("ij->ik", 1, f32(SHAPE(C(2), C(3))), NULL, NULL);
    err(n, "output index 'k' does not appear in any input");
    n = einsum("ij->ii", 1, f32(SHAPE(C(2), C(2))), NULL, NULL);
    err(n, "output index 'i' is repeated");
    n = einsum("i1->i", 1, f32(SHAPE(C(2), C(2))), NULL, NULL);
    err(n, "invalid character '1'");
    n = einsum("ij->i->j", 1, f32(SHAPE(C(2), C(2))), NULL, NULL);
    err(n, "more than one '->'");
    n = einsum("i,i", 2, f32(SHAPE(C(2))), in(IR_F64, SHAPE(C(2))), NULL);
    err(n, "must have the same dtype");
    n = mk(IR_OP_EINSUM, "ein_noeq", 1, f32(SHAPE(C(2))));
    err(n, "node 'ein_noeq' (Einsum): attribute 'equation' is required");
}

/* ---------------------------------------------------------------- sampling ops */
static void test_grid_sample(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_GRID_SAMPLE, "gs", 2, f32(SHAPE(C(2), C(3), C(4), C(5))), f32(SHAPE(C(2), C(6), C(7), C(2))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(6), C(7)));
    n = mk(IR_OP_GRID_SAMPLE, "gs3", 2, f32(SHAPE(C(1), C(1), C(3), C(2), C(2))), f32(SHAPE(C(1), C(2), C(4), C(2), C(3))));
    a_str(n, "mode", "nearest");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(2), C(4), C(2)));
    n = mk(IR_OP_GRID_SAMPLE, "gs_bad", 2, f32(SHAPE(C(1), C(1), C(4), C(4))), f32(SHAPE(C(1), C(2), C(2), C(3))));
    err(n, "node 'gs_bad' (GridSample): grid [1,2,2,3] must have shape (N, H1..H2, 2)");
    n = mk(IR_OP_GRID_SAMPLE, "gs_mode", 2, f32(SHAPE(C(1), C(1), C(4), C(4))), f32(SHAPE(C(1), C(2), C(2), C(2))));
    a_str(n, "mode", "area");
    err(n, "mode 'area' is not supported");
}

static void test_deform_conv(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_DEFORM_CONV, "dc", 5, f32(SHAPE(C(2), C(4), C(7), C(6))), f32(SHAPE(C(6), C(2), C(3), C(2))),
                      f32(SHAPE(C(2), C(24), C(3), C(7))), f32(SHAPE(C(6))), f32(SHAPE(C(2), C(12), C(3), C(7))));
    a_int(n, "group", 2);
    a_int(n, "offset_group", 2);
    a_ints(n, "strides", I64S(2, 1));
    a_ints(n, "dilations", I64S(2, 1));
    a_ints(n, "pads", I64S(1, 1, 2, 1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(6), C(3), C(7)));
    /* the offset must carry 2 * kH * kW channels per offset group */
    n = mk(IR_OP_DEFORM_CONV, "dc_off", 3, f32(SHAPE(C(1), C(1), C(3), C(3))), f32(SHAPE(C(1), C(1), C(2), C(2))),
           f32(SHAPE(C(1), C(4), C(2), C(2))));
    err(n, "node 'dc_off' (DeformConv): offset 'v");
    assert_non_null(strstr(G->err, "has shape [1,4,2,2], expected [1,8,2,2]"));
    n = mk(IR_OP_DEFORM_CONV, "dc_og", 3, f32(SHAPE(C(1), C(3), C(3), C(3))), f32(SHAPE(C(1), C(3), C(2), C(2))),
           f32(SHAPE(C(1), C(16), C(2), C(2))));
    a_int(n, "offset_group", 2);
    err(n, "offset_group 2 does not divide the 3 input channels");
}

static void test_roi_align(void **st) {
    (void)st;
    int R = ir_graph_add_sym(G, "rois");
    ir_node_t *n = mk(IR_OP_ROI_ALIGN, "roi", 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(SY(1, R), C(4))),
                      in(IR_I64, SHAPE(SY(1, R))));
    a_int(n, "output_height", 5);
    a_int(n, "output_width", 7);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, R), C(3), C(5), C(7)));
    n = mk(IR_OP_ROI_ALIGN, "roi_bi", 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(3))));
    err(n, "node 'roi_bi' (RoiAlign): batch_indices must have one entry per roi");
    n = mk(IR_OP_ROI_ALIGN, "roi_mode", 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(2))));
    a_str(n, "mode", "median");
    err(n, "mode 'median' is not supported");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_einsum_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_einsum_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grid_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deform_conv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roi_align, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
