/* Frontend refusals: each bad model gets a one-line message naming the file, the node
 * where there is one, and the reason; corrupted files never crash. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend_internal.h"
#include "model_builder.h"

/* ---------------------------------------------------------------- refusals */
static void test_refuse_empty_random_truncated(void **state)
{
    (void)state;
    load_fail_buf("", 0, "empty file", (const char *)NULL);
    uint8_t junk[512];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 1103515245u + 12345u;
        junk[i] = (uint8_t)(s >> 24);
    }
    load_fail_buf(junk, sizeof junk, "not a valid ONNX model", (const char *)NULL);
    /* Truncated inside the big raw_data field. */
    float w[100] = {0};
    Onnx__TensorProto *t = mk_tensor("w", 1, 1, (int64_t[]){100});
    set_raw(t, w, sizeof w);
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 1, (int64_t[]){100});
    add_init(b, t);
    add_node(b, "Add", "a", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    size_t n;
    uint8_t *buf = pack(b, &n);
    load_fail_buf(buf, n / 2, "protobuf parse failed", (const char *)NULL);
    /* Missing file. */
    ir_graph_t *g = (ir_graph_t *)1;
    assert_int_equal(fe_load_file("/nonexistent/m.onnx", &g), -1);
    assert_null(g);
    assert_has(err, "/nonexistent/m.onnx: ");
}

static void test_refuse_unknown_ops(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Foo", "a", (const char *[]){"x", NULL}, (const char *[]){"y1", NULL});
    add_node(b, "Relu", "ok", (const char *[]){"y1", NULL}, (const char *[]){"y2", NULL});
    add_node(b, "Bar", "b", (const char *[]){"y2", NULL}, (const char *[]){"y3", NULL});
    add_node(b, "Bar", NULL, (const char *[]){"y3", NULL}, (const char *[]){"y4", NULL});
    Onnx__NodeProto *ms = add_node(b, "Relu", "ms", (const char *[]){"y4", NULL},
                                   (const char *[]){"y5", NULL});
    ms->domain = "com.microsoft";
    add_output(b, "y5", 1);
    load_fail(b, "unsupported ops: Foo (node 'a'), Bar (nodes 'b', 'Bar_3'), "
                 "com.microsoft.Relu (node 'ms')");
}

static void test_refuse_undefined_input_and_cycle(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"nope", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'r' (Relu): input 'nope' is not defined");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Add", "p", (const char *[]){"x", "q_out", NULL}, (const char *[]){"p_out", NULL});
    add_node(b, "Relu", "q", (const char *[]){"p_out", NULL}, (const char *[]){"q_out", NULL});
    add_output(b, "q_out", 1);
    load_fail(b, "cycle", "node '");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_node(b, "Relu", "r2", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'r2' (Relu): output 'y' is already defined");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "missing", 1);
    load_fail(b, "graph output 'missing' is not produced");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Add", "a", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'a' (Add): expects 2 inputs, has 1");
}

static void test_refuse_bad_initializers(void **state)
{
    (void)state;
    float w[8] = {0};
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    set_raw(t, w, 20);   /* short */
    load_fail(add_model(t), "tensor 'w': raw_data has 20 bytes, dims need 24");

    t = mk_tensor("w", 1, 2, D23);
    set_raw(t, w, 28);   /* long */
    load_fail(add_model(t), "raw_data has 28 bytes, dims need 24");

    t = mk_tensor("w", 1, 2, D23);
    t->n_float_data = 5;
    t->float_data = w;
    load_fail(add_model(t), "float_data has 5 values, dims need 6");

    /* Claims 2^60 elements with 4 floats present: refused before any allocation. */
    t = mk_tensor("w", 1, 2, (int64_t[]){1ll << 30, 1ll << 30});
    t->n_float_data = 4;
    t->float_data = w;
    load_fail(add_model(t), "float_data has 4 values, dims need 1152921504606846976");

    t = mk_tensor("w", 1, 3, (int64_t[]){1ll << 40, 1ll << 40, 1ll << 40});
    set_raw(t, w, 24);
    load_fail(add_model(t), "tensor 'w': dimensions overflow");

    t = mk_tensor("w", 1, 2, (int64_t[]){1ll << 31, 1ll << 31});
    set_raw(t, w, 24);
    load_fail(add_model(t), "tensor 'w': dimensions overflow");   /* bytes overflow */

    t = mk_tensor("w", 1, 2, (int64_t[]){2, -3});
    set_raw(t, w, 24);
    load_fail(add_model(t), "tensor 'w': negative dimension -3");

    t = mk_tensor("w", 1, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
    set_raw(t, w, 4);
    load_fail(add_model(t), "tensor 'w': rank 9 exceeds the maximum of 8");

    t = mk_tensor("w", 8, 1, (int64_t[]){1});
    load_fail(add_model(t), "tensor 'w': unsupported data type string");

    /* Inside a Constant node the message names the node. */
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *c = add_node(b, "Constant", "k", NULL, (const char *[]){"kv", NULL});
    Onnx__AttributeProto *a = add_attr(c, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = mk_tensor("", 1, 1, (int64_t[]){3});
    set_raw(a->t, w, 8);
    add_node(b, "Add", "a", (const char *[]){"x", "kv", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'k' (Constant): tensor 'kv': raw_data has 8 bytes, dims need 12");
}

static void test_refuse_unsupported_features(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *n = add_node(b, "Relu", "r", (const char *[]){"x", NULL},
                                  (const char *[]){"y", NULL});
    Onnx__AttributeProto *a = add_attr(n, "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    Onnx__GraphProto *sub = tmalloc(sizeof *sub);
    onnx__graph_proto__init(sub);
    a->g = sub;
    add_output(b, "y", 1);
    load_fail(b, "node 'r' (Relu): attribute 'body' holds a subgraph");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    n = add_node(b, "Constant", "k", NULL, (const char *[]){"s", NULL});
    a = add_attr(n, "value_string", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'k' (Constant): string constants are unsupported");

    b = mb_new(13);
    add_input(b, "x", 8, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "input 'x' has unsupported element type string (8)");

    b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    Onnx__SparseTensorProto *sp = tmalloc(sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    sp->values = mk_tensor("sw", 1, 1, (int64_t[]){0});
    GROW(b->g.sparse_initializer, b->g.n_sparse_initializer, sp);
    load_fail(b, "sparse initializer 'sw' is unsupported");

    b = mb_new(13);
    b->os.domain = "ai.onnx.ml";
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "no opset for the default ONNX domain");

    b = mb_new(11);
    add_input(b, "x", 1, 2, D23);
    add_node(b, "Unsqueeze", "u", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    load_fail(b, "node 'u' (Unsqueeze): missing required attribute 'axes'");
}

/* A model that uses most features: initializers in two encodings, a symbolic dim, a
 * Constant node, and opset-10 nodes that normalisation rewrites. */
static mb_t *rich_model(void)
{
    mb_t *b = mb_new(10);
    add_input(b, "x", 1, 2, (int64_t[]){-1, 3});
    float w[6] = {1, 2, 3, 4, 5, 6};
    set_raw(add_init(b, mk_tensor("w", 1, 2, D23)), w, sizeof w);
    Onnx__TensorProto *ts = add_init(b, mk_tensor("sh", 7, 1, (int64_t[]){2}));
    ts->n_int64_data = 2;
    ts->int64_data = tmalloc(2 * sizeof(int64_t));   /* outlives this function */
    ts->int64_data[0] = 3;
    ts->int64_data[1] = 2;
    Onnx__NodeProto *c = add_node(b, "Constant", "k", NULL, (const char *[]){"kv", NULL});
    attr_floats_one(c);
    add_node(b, "Add", "a", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    Onnx__NodeProto *cl = add_node(b, "Clip", "c", (const char *[]){"y", NULL},
                                   (const char *[]){"z", NULL});
    attr_float(cl, "min", 0);
    attr_float(cl, "max", 6);
    Onnx__NodeProto *u = add_node(b, "Unsqueeze", "u", (const char *[]){"z", NULL},
                                  (const char *[]){"uz", NULL});
    attr_ints(u, "axes", 1, (int64_t[]){0});
    add_node(b, "Mul", "m", (const char *[]){"uz", "kv", NULL}, (const char *[]){"o", NULL});
    add_node(b, "Reshape", "r", (const char *[]){"w", "sh", NULL}, (const char *[]){"o2", NULL});
    add_output(b, "o", 1);
    add_output(b, "o2", 1);
    return b;
}

/* Thousands of corrupted variants of a model that uses most features: each must load or
 * be refused with a one-line message naming the file; ASan/UBSan builds catch the rest. */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    mb_t *b = rich_model();
    size_t n;
    uint8_t *orig = pack(b, &n);
    ir_graph_t *g = load_ok(b);
    ir_graph_free(g);
    uint8_t *buf = tmalloc(n);
    uint32_t seed = 7;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, orig, n);
        size_t len = n;
        seed = seed * 1664525u + 1013904223u;
        int mode = (int)(seed >> 28) % 4;
        if (mode == 0) {
            len = (seed >> 4) % n;
        } else {
            for (int k = 0; k < 1 + (it % 4); k++) {
                seed = seed * 1664525u + 1013904223u;
                size_t at = (seed >> 8) % n;
                uint8_t flip = (uint8_t)(1u << (seed % 8));
                buf[at] = mode == 1 ? (uint8_t)(seed >> 3) : mode == 2 ? buf[at] ^ flip : 0xff;
            }
        }
        g = NULL;
        if (fe_load_buffer(buf, len, PATH, NULL, &g) == 0) {
            assert_non_null(g);
            ir_graph_free(g);
            loaded++;
        } else {
            assert_null(g);
            assert_true(strncmp(err, PATH ": ", strlen(PATH) + 2) == 0);
            assert_null(strchr(err, '\n'));
            refused++;
        }
    }
    /* Both outcomes occur, so the loop really exercised the refusal paths. */
    assert_true(loaded > 0);
    assert_true(refused > 1000);
}

/* Every arena allocation failing in turn (Lua ltests.c style): each must give a clean
 * refusal, and ASan checks nothing leaks on any of those paths. */
static void test_out_of_memory_paths(void **state)
{
    (void)state;
    mb_t *b = rich_model();
    ir_graph_t *g = load_ok(b);
    size_t need = g->arena.total;
    ir_graph_free(g);
    size_t n;
    uint8_t *buf = pack(b, &n);
    int refused = 0;
    for (size_t limit = 64; limit < need + 64 * 4; limit += 64) {
        fe_test_arena_limit = limit;
        g = NULL;
        int rc = fe_load_buffer(buf, n, PATH, NULL, &g);
        if (rc == 0) {
            assert_non_null(g);
            ir_graph_free(g);
            continue;
        }
        assert_null(g);
        assert_true(strncmp(err, PATH ": ", strlen(PATH) + 2) == 0);
        assert_has(err, "out of memory");
        refused++;
    }
    fe_test_arena_limit = 0;
    assert_true(refused > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_refuse_empty_random_truncated, teardown),
        cmocka_unit_test_teardown(test_refuse_unknown_ops, teardown),
        cmocka_unit_test_teardown(test_refuse_undefined_input_and_cycle, teardown),
        cmocka_unit_test_teardown(test_refuse_bad_initializers, teardown),
        cmocka_unit_test_teardown(test_refuse_unsupported_features, teardown),
        cmocka_unit_test_teardown(test_mutations_never_crash, teardown),
        cmocka_unit_test_teardown(test_out_of_memory_paths, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
