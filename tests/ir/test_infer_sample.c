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

#include "tests/ir/fixture.h"

static ir_node_t *einsum(const char *eq, int n_in, ir_value_t *a, ir_value_t *b, ir_value_t *c) {
    ir_node_t *n = mk(IR_OP_EINSUM, "ein", 1, n_in, a, b, c);
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
    n = mk(IR_OP_EINSUM, "ein_noeq", 1, 1, f32(SHAPE(C(2))));
    err(n, "node 'ein_noeq' (Einsum): attribute 'equation' is required");
}

/* ---------------------------------------------------------------- sampling ops */
static void test_grid_sample(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_GRID_SAMPLE, "gs", 1, 2, f32(SHAPE(C(2), C(3), C(4), C(5))), f32(SHAPE(C(2), C(6), C(7), C(2))));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(3), C(6), C(7)));
    n = mk(IR_OP_GRID_SAMPLE, "gs3", 1, 2, f32(SHAPE(C(1), C(1), C(3), C(2), C(2))), f32(SHAPE(C(1), C(2), C(4), C(2), C(3))));
    a_str(n, "mode", "nearest");
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(1), C(1), C(2), C(4), C(2)));
    n = mk(IR_OP_GRID_SAMPLE, "gs_bad", 1, 2, f32(SHAPE(C(1), C(1), C(4), C(4))), f32(SHAPE(C(1), C(2), C(2), C(3))));
    err(n, "node 'gs_bad' (GridSample): grid [1,2,2,3] must have shape (N, H1..H2, 2)");
    n = mk(IR_OP_GRID_SAMPLE, "gs_mode", 1, 2, f32(SHAPE(C(1), C(1), C(4), C(4))), f32(SHAPE(C(1), C(2), C(2), C(2))));
    a_str(n, "mode", "area");
    err(n, "mode 'area' is not supported");
}

static void test_deform_conv(void **st) {
    (void)st;
    ir_node_t *n = mk(IR_OP_DEFORM_CONV, "dc", 1, 5, f32(SHAPE(C(2), C(4), C(7), C(6))), f32(SHAPE(C(6), C(2), C(3), C(2))),
                      f32(SHAPE(C(2), C(24), C(3), C(7))), f32(SHAPE(C(6))), f32(SHAPE(C(2), C(12), C(3), C(7))));
    a_int(n, "group", 2);
    a_int(n, "offset_group", 2);
    a_ints(n, "strides", I64S(2, 1));
    a_ints(n, "dilations", I64S(2, 1));
    a_ints(n, "pads", I64S(1, 1, 2, 1));
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(C(2), C(6), C(3), C(7)));
    /* the offset must carry 2 * kH * kW channels per offset group */
    n = mk(IR_OP_DEFORM_CONV, "dc_off", 1, 3, f32(SHAPE(C(1), C(1), C(3), C(3))), f32(SHAPE(C(1), C(1), C(2), C(2))),
           f32(SHAPE(C(1), C(4), C(2), C(2))));
    err(n, "node 'dc_off' (DeformConv): offset 'v");
    assert_non_null(strstr(G->err, "has shape [1,4,2,2], expected [1,8,2,2]"));
    n = mk(IR_OP_DEFORM_CONV, "dc_og", 1, 3, f32(SHAPE(C(1), C(3), C(3), C(3))), f32(SHAPE(C(1), C(3), C(2), C(2))),
           f32(SHAPE(C(1), C(16), C(2), C(2))));
    a_int(n, "offset_group", 2);
    err(n, "offset_group 2 does not divide the 3 input channels");
}

static void test_roi_align(void **st) {
    (void)st;
    int R = ir_graph_add_sym(G, "rois");
    ir_node_t *n = mk(IR_OP_ROI_ALIGN, "roi", 1, 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(SY(1, R), C(4))),
                      in(IR_I64, SHAPE(SY(1, R))));
    a_int(n, "output_height", 5);
    a_int(n, "output_width", 7);
    ok(n);
    expect(n->out[0], IR_F32, SHAPE(SY(1, R), C(3), C(5), C(7)));
    n = mk(IR_OP_ROI_ALIGN, "roi_bi", 1, 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(3))));
    err(n, "node 'roi_bi' (RoiAlign): batch_indices must have one entry per roi");
    n = mk(IR_OP_ROI_ALIGN, "roi_mode", 1, 3, f32(SHAPE(C(1), C(3), C(10), C(10))), f32(SHAPE(C(2), C(4))), in(IR_I64, SHAPE(C(2))));
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
