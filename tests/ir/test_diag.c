/* ir/diag: appending, the cap and its "N more" line, formatting with and without a node,
 * moving between lists, and ir_error's place in the graph's list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/diag.h"
#include "ir/ir.h"

static char *fmt(const ir_diags_t *d, int i) {
    static char buf[1024];
    ir_diag_format(&d->items[i], buf, sizeof buf);
    return buf;
}

/* What ir_diags_print writes, as one string. */
static char *printed(const ir_diags_t *d, const char *prefix) {
    static char buf[64 * 1024];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    ir_diags_print(d, f, prefix);
    fclose(f);
    return buf;
}

static void test_append_and_format(void **state) {
    (void)state;
    ir_diags_t d = {0};
    assert_false(ir_diags_has_errors(&d));
    assert_int_equal(ir_diag_add(&d, IR_SEV_ERROR, "model.onnx", "conv_17", "Conv", "kernel rank %d does not match input rank %d", 3, 4), -1);
    assert_int_equal(ir_diag_add(&d, IR_SEV_ERROR, "model.onnx", NULL, "Conv", "graph has no outputs"), -1);
    assert_int_equal(ir_diag_add(&d, IR_SEV_WARNING, "model.onnx", "n", "Relu", "odd"), 0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_errors, 2);
    assert_int_equal(ir_diags_count(&d), 3);
    assert_true(ir_diags_has_errors(&d));
    assert_string_equal(fmt(&d, 0), "model.onnx: node 'conv_17' (Conv): kernel rank 3 does not match input rank 4");
    /* an op without a node is dropped: it would name nothing */
    assert_string_equal(fmt(&d, 1), "model.onnx: graph has no outputs");
    assert_null(d.items[1].op);
    assert_string_equal(printed(&d, "onnxc"),
                        "onnxc: error: model.onnx: node 'conv_17' (Conv): kernel rank 3 does not match input rank 4\n"
                        "onnxc: error: model.onnx: graph has no outputs\n"
                        "onnxc: warning: model.onnx: node 'n' (Relu): odd\n");
    ir_diags_free(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.items);
}

static void test_format_edges(void **state) {
    (void)state;
    ir_diags_t d = {0};
    /* a name with a line break in it (from the file) still gives one line */
    ir_diag_add(&d, IR_SEV_ERROR, "m.onnx", "bad\nname", "Add", "x\ty");
    /* no file: a line a lower layer formatted whole */
    ir_diag_add(&d, IR_SEV_ERROR, "", NULL, NULL, "cannot write 'out.o': No such file");
    ir_diag_add(&d, IR_SEV_ERROR, NULL, NULL, NULL, "no file at all");
    assert_string_equal(fmt(&d, 0), "m.onnx: node 'bad?name' (Add): x?y");
    assert_string_equal(fmt(&d, 1), "cannot write 'out.o': No such file");
    assert_string_equal(fmt(&d, 2), "no file at all");
    /* clipped like snprintf, and the length wanted is returned */
    char small[8];
    size_t want = ir_diag_format(&d.items[1], small, sizeof small);
    assert_int_equal(want, strlen("cannot write 'out.o': No such file"));
    assert_string_equal(small, "cannot ");
    assert_int_equal(ir_diag_format(&d.items[1], NULL, 0), want);
    /* a NULL list takes nothing and still says "failed" */
    assert_int_equal(ir_diag_add(NULL, IR_SEV_ERROR, "m", NULL, NULL, "lost"), -1);
    ir_diags_free(&d);
}

static void test_cap_and_more_line(void **state) {
    (void)state;
    ir_diags_t d = {0};
    for (int i = 0; i < IR_DIAG_CAP + 7; i++) ir_diag_add(&d, IR_SEV_ERROR, "m.onnx", "n", "Add", "error %d", i);
    assert_int_equal(d.n, IR_DIAG_CAP);
    assert_int_equal(d.n_more, 7);
    assert_int_equal(d.n_errors, IR_DIAG_CAP + 7);
    assert_int_equal(ir_diags_count(&d), IR_DIAG_CAP + 7);
    assert_string_equal(fmt(&d, IR_DIAG_CAP - 1), "m.onnx: node 'n' (Add): error 99");
    char *out = printed(&d, "onnxc");
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, IR_DIAG_CAP + 1);
    const char *last = "onnxc: note: ... 7 more diagnostics not shown\n";
    assert_string_equal(out + strlen(out) - strlen(last), last);
    out = printed(&d, NULL);
    last = "\n... 7 more diagnostics not shown\n";
    assert_string_equal(out + strlen(out) - strlen(last), last);
    ir_diags_free(&d);
}

static void test_move(void **state) {
    (void)state;
    ir_diags_t a = {0}, b = {0};
    ir_diag_add(&a, IR_SEV_ERROR, "a.onnx", NULL, NULL, "first");
    ir_diag_add(&b, IR_SEV_ERROR, "b.onnx", "n", "Relu", "second");
    ir_diag_add(&b, IR_SEV_NOTE, "b.onnx", NULL, NULL, "third");
    ir_diags_move(&a, &b);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.n_errors, 2);
    assert_int_equal(b.n, 0);
    assert_null(b.items);
    assert_string_equal(fmt(&a, 1), "b.onnx: node 'n' (Relu): second");
    assert_string_equal(fmt(&a, 2), "b.onnx: third");
    /* past the cap a move only counts */
    for (int i = 0; i < IR_DIAG_CAP; i++) ir_diag_add(&b, IR_SEV_ERROR, "b.onnx", NULL, NULL, "e%d", i);
    ir_diags_move(&a, &b);
    assert_int_equal(a.n, IR_DIAG_CAP);
    assert_int_equal(a.n_more, 3);
    assert_int_equal(a.n_errors, 2 + IR_DIAG_CAP);
    ir_diags_free(&a);
}

/* ir_error: every call is kept, in order; g->err is the latest text. */
static void test_ir_error_appends(void **state) {
    (void)state;
    ir_graph_t *g = ir_graph_new("t.onnx");
    assert_non_null(g);
    ir_node_t *n = ir_node_new(g, IR_OP_RELU, "r1", 1, 1);
    assert_int_equal(ir_error(g, n, "first %s", "problem"), -1);
    assert_int_equal(ir_error(g, NULL, "second"), -1);
    assert_int_equal(g->diags.n, 2);
    assert_string_equal(fmt(&g->diags, 0), "t.onnx: node 'r1' (Relu): first problem");
    assert_string_equal(fmt(&g->diags, 1), "t.onnx: second");
    assert_string_equal(g->err, "t.onnx: second");
    ir_graph_free(g);   /* frees the list too (ASan build) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_format),
        cmocka_unit_test(test_format_edges),
        cmocka_unit_test(test_cap_and_more_line),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_ir_error_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
