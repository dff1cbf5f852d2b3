/* Frontend tests: ModelProtos built in C, packed and loaded; every initializer encoding,
 * external data, graph structure and opset normalisation checked value by value. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_builder.h"
#include "frontend/frontend_internal.h"

/* ---------------------------------------------------------------- initializer encodings */
static void test_raw_data_f32(void **state)
{
    (void)state;
    const float w[6] = {1.5f, -2.25f, 3e-8f, 0.0f, -0.0f, 65504.0f};
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    set_raw(t, w, sizeof w);
    ir_graph_t *g = load_ok(add_model(t));
    const ir_value_t *v = val(g, "w");
    assert_int_equal(v->dtype, IR_F32);
    assert_int_equal(v->shape.rank, 2);
    assert_int_equal(v->shape.dims[0].v, 2);
    assert_int_equal(v->shape.dims[1].v, 3);
    assert_int_equal(v->data_size, sizeof w);
    assert_memory_equal(v->data, w, sizeof w);
    assert_false(v->is_input);
    /* The caller feeds only x; w is a constant. */
    assert_int_equal(g->n_inputs, 1);
    assert_string_equal(g->inputs[0]->name, "x");
    assert_int_equal(g->n_outputs, 1);
    assert_true(g->outputs[0]->is_output);
    assert_int_equal(g->opset, 13);
    assert_string_equal(g->name, "test_graph");
    const ir_node_t *n = node(g, "add0");
    assert_int_equal(n->op, IR_OP_ADD);
    assert_string_equal(n->op_type, "Add");
    assert_ptr_equal(n->in[1], v);
    assert_ptr_equal(n->out[0]->producer, n);
    assert_int_equal(n->out[0]->shape.rank, -1);
    ir_graph_free(g);
}

static void test_float_data(void **state)
{
    (void)state;
    float w[6] = {0.5f, 1, 2, 3, 4, -1e30f};
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    t->n_float_data = 6;
    t->float_data = w;
    ir_graph_t *g = load_ok(add_model(t));
    assert_memory_equal(val(g, "w")->data, w, sizeof w);
    ir_graph_free(g);
}

static void test_int32_data_int8_bool_f16(void **state)
{
    (void)state;
    int32_t raw8[6] = {-3, 127, -128, 0, 1, -1};
    Onnx__TensorProto *t = mk_tensor("w", 3, 2, D23);
    t->n_int32_data = 6;
    t->int32_data = raw8;
    mb_t *b = add_model(t);
    int32_t rawb[6] = {0, 1, 5, 0, -1, 1};
    Onnx__TensorProto *tb = add_init(b, mk_tensor("flags", 9, 2, D23));
    tb->n_int32_data = 6;
    tb->int32_data = rawb;
    /* float16 travels as its bit pattern: 1.0 = 0x3c00, -2.0 = 0xc000. */
    int32_t rawh[2] = {0x3c00, 0xc000};
    Onnx__TensorProto *th = add_init(b, mk_tensor("half", 10, 1, (int64_t[]){2}));
    th->n_int32_data = 2;
    th->int32_data = rawh;
    int32_t raw16[2] = {65535, 7};
    Onnx__TensorProto *tu = add_init(b, mk_tensor("u16", 4, 1, (int64_t[]){2}));
    tu->n_int32_data = 2;
    tu->int32_data = raw16;
    ir_graph_t *g = load_ok(b);
    const int8_t want8[6] = {-3, 127, -128, 0, 1, -1};
    assert_int_equal(val(g, "w")->dtype, IR_I8);
    assert_int_equal(val(g, "w")->data_size, 6);
    assert_memory_equal(val(g, "w")->data, want8, 6);
    const uint8_t wantb[6] = {0, 1, 1, 0, 1, 1};
    assert_int_equal(val(g, "flags")->dtype, IR_BOOL);
    assert_memory_equal(val(g, "flags")->data, wantb, 6);
    const uint16_t wanth[2] = {0x3c00, 0xc000};
    assert_int_equal(val(g, "half")->dtype, IR_F16);
    assert_memory_equal(val(g, "half")->data, wanth, 4);
    const uint16_t wantu[2] = {65535, 7};
    assert_memory_equal(val(g, "u16")->data, wantu, 4);
    /* Initializers that no one reads are still constants, never inputs. */
    assert_int_equal(g->n_inputs, 1);
    ir_graph_free(g);
}

static void test_int64_double_uint64_data(void **state)
{
    (void)state;
    int64_t w[6] = {INT64_MIN, -1, 0, 1, 1ll << 40, INT64_MAX};
    Onnx__TensorProto *t = mk_tensor("w", 7, 2, D23);
    t->n_int64_data = 6;
    t->int64_data = w;
    mb_t *b = add_model(t);
    double d[3] = {0.1, -1e300, 3.0};
    Onnx__TensorProto *td = add_init(b, mk_tensor("d", 11, 1, (int64_t[]){3}));
    td->n_double_data = 3;
    td->double_data = d;
    uint64_t u[3] = {0, 4000000000u, 17};
    Onnx__TensorProto *tu = add_init(b, mk_tensor("u32", 12, 1, (int64_t[]){3}));
    tu->n_uint64_data = 3;
    tu->uint64_data = u;
    Onnx__TensorProto *tu64 = add_init(b, mk_tensor("u64", 13, 1, (int64_t[]){3}));
    tu64->n_uint64_data = 3;
    tu64->uint64_data = u;
    ir_graph_t *g = load_ok(b);
    assert_int_equal(val(g, "w")->dtype, IR_I64);
    assert_memory_equal(val(g, "w")->data, w, sizeof w);
    assert_int_equal(val(g, "d")->dtype, IR_F64);
    assert_memory_equal(val(g, "d")->data, d, sizeof d);
    const uint32_t want32[3] = {0, 4000000000u, 17};
    assert_int_equal(val(g, "u32")->data_size, 12);
    assert_memory_equal(val(g, "u32")->data, want32, sizeof want32);
    assert_memory_equal(val(g, "u64")->data, u, sizeof u);
    ir_graph_free(g);
}

static void test_scalar_and_empty_tensors(void **state)
{
    (void)state;
    int64_t one = 42;
    Onnx__TensorProto *t = mk_tensor("w", 7, 0, NULL);
    t->n_int64_data = 1;
    t->int64_data = &one;
    mb_t *b = add_model(t);
    add_init(b, mk_tensor("empty", 1, 2, (int64_t[]){0, 5}));
    ir_graph_t *g = load_ok(b);
    assert_int_equal(val(g, "w")->shape.rank, 0);
    assert_int_equal(*(int64_t *)val(g, "w")->data, 42);
    assert_int_equal(val(g, "empty")->data_size, 0);
    assert_int_equal(val(g, "empty")->shape.dims[0].v, 0);
    ir_graph_free(g);
}


static void test_external_data(void **state)
{
    (void)state;
    make_tmpdir();
    char p[320];
    /* 16 bytes of something else first: the offset must be honoured. */
    float blob[4 + 6] = {99, 99, 99, 99, 1, 2, 3, 4, 5, 6};
    snprintf(p, sizeof p, "%s/sub", tmpdir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sub/weights.bin", tmpdir);
    write_file(p, blob, sizeof blob);
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    ext_entry(t, "location", "weights.bin");
    ext_entry(t, "offset", "16");
    ext_entry(t, "length", "24");
    mb_t *b = add_model(t);
    Onnx__TensorProto *t2 = add_init(b, mk_tensor("w2", 1, 1, (int64_t[]){4}));
    ext_entry(t2, "location", "weights.bin");
    ext_entry(t2, "length", "16");
    ir_graph_t *g = NULL;
    int rc = load_file(b, &g);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_memory_equal(val(g, "w")->data, blob + 4, 24);
    assert_memory_equal(val(g, "w2")->data, blob, 16);
    assert_string_equal(g->name, "test_graph");
    /* The data file is recorded for depfiles (onnxc -MD), once although two tensors
     * read it, spelled from the model's folder. */
    assert_int_equal(g->n_files_read, 1);
    assert_string_equal(g->files_read[0], p);
    ir_graph_free(g);

    /* A length that disagrees with the dims is refused. */
    t = mk_tensor("w", 1, 2, D23);
    ext_entry(t, "location", "weights.bin");
    ext_entry(t, "length", "40");
    assert_int_equal(load_file(add_model(t), &g), -1);
    assert_null(g);
    assert_has(err, "model.onnx: ");
    assert_has(err, "'w'");
    assert_has(err, "dims need 24");
    rm_tmpdir();
}

static void test_external_data_escape(void **state)
{
    (void)state;
    make_tmpdir();
    char p[320], q[320];
    float six[6] = {0};
    snprintf(p, sizeof p, "%s/secret.bin", tmpdir);   /* exists, but outside sub/ */
    write_file(p, six, sizeof six);
    static const char *const bad[] = {"../secret.bin", "sub/../../secret.bin", "link.bin",
                                      "/etc/passwd", "../nonexistent"};
    snprintf(q, sizeof q, "%s/sub", tmpdir);
    mkdir(q, 0700);
    snprintf(q, sizeof q, "%s/sub/link.bin", tmpdir);
    assert_int_equal(symlink(p, q), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
        ext_entry(t, "location", bad[i]);
        ir_graph_t *g = (ir_graph_t *)1;
        assert_int_equal(load_file(add_model(t), &g), -1);
        assert_null(g);
        assert_has(err, "/sub/model.onnx: ");
        assert_has(err, bad[i]);
        assert_has(err, i == 3 ? "is absolute" : "escapes the model's folder");
    }
    /* From a buffer there is no folder to read from at all. */
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    ext_entry(t, "location", "weights.bin");
    load_fail(add_model(t), "external data", "folder");
    rm_tmpdir();
}

/* A symlink that stays inside the folder: followed where openat2 can keep it inside,
 * refused where it cannot (no symlink is followed on the fallback path). The fallback
 * must still read plain files, nested folders and ".." that stays inside. */
static void test_external_data_links_both_paths(void **state)
{
    (void)state;
    for (int fallback = 0; fallback < 2; fallback++) {
        fe_test_no_openat2 = fallback;
        make_tmpdir();
        char p[320], q[320];
        float six[6] = {1, 2, 3, 4, 5, 6};
        snprintf(p, sizeof p, "%s/sub", tmpdir);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/sub/d", tmpdir);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/sub/d/w.bin", tmpdir);
        write_file(p, six, sizeof six);
        snprintf(q, sizeof q, "%s/sub/in.bin", tmpdir);
        assert_int_equal(symlink("d/w.bin", q), 0);
        static const char *const good[] = {"d/w.bin", "./d//w.bin", "d/../d/w.bin"};
        for (size_t i = 0; i < 3; i++) {
            Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
            ext_entry(t, "location", good[i]);
            ir_graph_t *g = NULL;
            int rc = load_file(add_model(t), &g);
            if (rc) fprintf(stderr, "%s: %s\n", good[i], err);
            assert_int_equal(rc, 0);
            assert_memory_equal(val(g, "w")->data, six, sizeof six);
            ir_graph_free(g);
        }
        Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
        ext_entry(t, "location", "in.bin");
        ir_graph_t *g = NULL;
        int rc = load_file(add_model(t), &g);
        if (fallback) {
            assert_int_equal(rc, -1);
            assert_has(err, "symbolic link");
        } else {
            assert_int_equal(rc, 0);
            ir_graph_free(g);
        }
        rm_tmpdir();
    }
    fe_test_no_openat2 = 0;
}

static void test_external_data_escape_fallback(void **state)
{
    fe_test_no_openat2 = 1;
    test_external_data_escape(state);
    fe_test_no_openat2 = 0;
}

static void test_load_tensor_file(void **state)
{
    (void)state;
    make_tmpdir();
    char p[320];
    int64_t v[4] = {5, -6, 7, 1ll << 50};
    Onnx__TensorProto *t = mk_tensor("in0", 7, 2, (int64_t[]){2, 2});
    t->n_int64_data = 4;
    t->int64_data = v;
    size_t n = onnx__tensor_proto__get_packed_size(t);
    uint8_t *buf = tmalloc(n);
    onnx__tensor_proto__pack(t, buf);
    snprintf(p, sizeof p, "%s/input_0.pb", tmpdir);
    write_file(p, buf, n);
    ir_graph_t *g = ir_graph_new("m.onnx");
    ir_value_t *val0 = NULL, *val1 = NULL;
    assert_int_equal(fe_load_tensor(p, g, &val0), 0);
    assert_string_equal(val0->name, "in0");
    assert_int_equal(val0->dtype, IR_I64);
    assert_int_equal(val0->shape.rank, 2);
    assert_memory_equal(val0->data, v, sizeof v);
    /* Loaded twice into one graph: the second copy gets a distinct name. */
    assert_int_equal(fe_load_tensor(p, g, &val1), 0);
    assert_string_equal(val1->name, "in0_1");
    write_file(p, buf, n - 2);   /* inside the name field */
    assert_int_equal(fe_load_tensor(p, g, &val1), -1);
    assert_null(val1);
    assert_has(err, "input_0.pb: ");
    assert_has(err, "not a valid TensorProto");
    ir_graph_free(g);
    rm_tmpdir();
}

/* ---------------------------------------------------------------- graph structure */
static void test_constant_nodes(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *c1 = add_node(b, "Constant", "c1", NULL, (const char *[]){"k", NULL});
    Onnx__AttributeProto *a = add_attr(c1, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = mk_tensor("", 1, 1, (int64_t[]){3});
    float kv[3] = {7, 8, 9};
    set_raw(a->t, kv, sizeof kv);
    Onnx__NodeProto *c2 = add_node(b, "Constant", "c2", NULL, (const char *[]){"s", NULL});
    attr_float(c2, "value_float", 0.25f);
    Onnx__NodeProto *c3 = add_node(b, "Constant", "c3", NULL, (const char *[]){"shape", NULL});
    attr_ints(c3, "value_ints", 2, (int64_t[]){3, 2});
    add_node(b, "Add", "a", (const char *[]){"x", "k", NULL}, (const char *[]){"y", NULL});
    add_node(b, "Mul", "m", (const char *[]){"y", "s", NULL}, (const char *[]){"z", NULL});
    add_node(b, "Reshape", "r", (const char *[]){"z", "shape", NULL},
             (const char *[]){"out", NULL});
    add_output(b, "out", 1);
    ir_graph_t *g = load_ok(b);
    assert_int_equal(g->n_nodes, 3);   /* Constants are values, not nodes */
    for (int i = 0; i < g->n_nodes; i++) assert_int_not_equal(g->nodes[i]->op, IR_OP_CONSTANT);
    assert_memory_equal(val(g, "k")->data, kv, sizeof kv);
    assert_int_equal(val(g, "s")->dtype, IR_F32);
    assert_int_equal(val(g, "s")->shape.rank, 0);
    assert_true(*(float *)val(g, "s")->data == 0.25f);
    const int64_t want[2] = {3, 2};
    assert_int_equal(val(g, "shape")->dtype, IR_I64);
    assert_int_equal(val(g, "shape")->shape.dims[0].v, 2);
    assert_memory_equal(val(g, "shape")->data, want, sizeof want);
    /* Topological order: a before m before r. */
    assert_string_equal(g->nodes[0]->name, "a");
    assert_string_equal(g->nodes[2]->name, "r");
    ir_graph_free(g);
}

static void test_input_also_initializer(void **state)
{
    (void)state;
    float w[6] = {1, 2, 3, 4, 5, 6};
    Onnx__TensorProto *t = mk_tensor("w", 1, 2, D23);
    set_raw(t, w, sizeof w);
    mb_t *b = add_model(t);
    add_input(b, "w", 1, 2, D23);   /* old exporters list weights as inputs too */
    ir_graph_t *g = load_ok(b);
    assert_int_equal(g->n_inputs, 1);
    assert_string_equal(g->inputs[0]->name, "x");
    assert_false(val(g, "w")->is_input);
    assert_non_null(val(g, "w")->data);
    ir_graph_free(g);
}

static void test_symbolic_dims(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    static const char *const params[] = {"N", NULL, NULL};
    GROW(b->g.input, b->g.n_input, mk_vi("x", 1, 3, (int64_t[]){-1, 3, -1}, params));
    GROW(b->g.input, b->g.n_input, mk_vi("x2", 1, 1, (int64_t[]){-1}, params));
    add_node(b, "Relu", NULL, (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", 1);
    ir_graph_t *g = load_ok(b);
    assert_int_equal(g->n_inputs, 2);
    const ir_shape_t *s = &g->inputs[0]->shape;
    assert_int_equal(s->rank, 3);
    assert_int_equal(g->n_syms, 2);   /* N shared by both inputs, plus x_dim2 */
    assert_int_equal(s->dims[0].sym, 0);
    assert_int_equal(s->dims[0].v, 1);
    assert_string_equal(g->syms[0], "N");
    assert_true(ir_dim_is_const(s->dims[1]));
    assert_int_equal(s->dims[1].v, 3);
    assert_int_equal(s->dims[2].sym, 1);
    assert_string_equal(g->syms[1], "x_dim2");
    assert_int_equal(g->inputs[1]->shape.dims[0].sym, 0);
    /* An unnamed node is named after its op and position. */
    assert_string_equal(g->nodes[0]->name, "Relu_0");
    ir_graph_free(g);
}

static void test_tensor_attr_and_optional_io(void **state)
{
    (void)state;
    mb_t *b = mb_new(13);
    add_input(b, "shape", 7, 1, (int64_t[]){2});
    Onnx__NodeProto *n = add_node(b, "ConstantOfShape", "cos", (const char *[]){"shape", NULL},
                                  (const char *[]){"y", NULL});
    Onnx__AttributeProto *a = add_attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = mk_tensor("", 1, 1, (int64_t[]){1});
    float one = 1.5f;
    set_raw(a->t, &one, 4);
    /* Dropout with its mask output skipped and an empty trailing input. */
    add_node(b, "Dropout", "d", (const char *[]){"y", "", NULL}, (const char *[]){"z", "", NULL});
    add_output(b, "z", 1);
    ir_graph_t *g = load_ok(b);
    const ir_node_t *c = node(g, "cos");
    const ir_attr_t *at = ir_attr_find(c, "value");
    assert_non_null(at);
    assert_int_equal(at->kind, IR_ATTR_TENSOR);
    assert_non_null(at->t);
    assert_false(at->t->is_input);
    assert_true(*(float *)at->t->data == 1.5f);
    assert_int_equal(g->n_inputs, 1);
    const ir_node_t *d = node(g, "d");
    assert_int_equal(d->n_in, 1);
    assert_int_equal(d->n_out, 1);
    ir_graph_free(g);
}

/* ---------------------------------------------------------------- opset normalisation */
static void test_unsqueeze11_axes(void **state)
{
    (void)state;
    mb_t *b = mb_new(11);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *n = add_node(b, "Unsqueeze", "u", (const char *[]){"x", NULL},
                                  (const char *[]){"y", NULL});
    attr_ints(n, "axes", 2, (int64_t[]){0, 3});
    Onnx__NodeProto *r = add_node(b, "ReduceMean", "rm", (const char *[]){"y", NULL},
                                  (const char *[]){"z", NULL});
    attr_ints(r, "axes", 1, (int64_t[]){-1});
    attr_int(r, "keepdims", 0);
    add_output(b, "z", 1);
    ir_graph_t *g = load_ok(b);
    const ir_node_t *u = node(g, "u");
    assert_int_equal(u->n_in, 2);
    assert_null(ir_attr_find(u, "axes"));
    const ir_value_t *ax = u->in[1];
    assert_int_equal(ax->dtype, IR_I64);
    assert_int_equal(ax->shape.rank, 1);
    assert_int_equal(ax->shape.dims[0].v, 2);
    const int64_t want[2] = {0, 3};
    assert_memory_equal(ax->data, want, sizeof want);
    assert_false(ax->is_input);
    const ir_node_t *m = node(g, "rm");
    assert_int_equal(m->n_in, 2);
    assert_int_equal(((int64_t *)m->in[1]->data)[0], -1);
    assert_int_equal(ir_attr_int(m, "keepdims", 1), 0);   /* other attributes stay */
    assert_int_equal(g->n_inputs, 1);
    ir_graph_free(g);
}

static void test_clip6_min_max(void **state)
{
    (void)state;
    mb_t *b = mb_new(6);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *c = add_node(b, "Clip", "c", (const char *[]){"x", NULL},
                                  (const char *[]){"y", NULL});
    attr_float(c, "min", 0.0f);
    attr_float(c, "max", 6.0f);
    Onnx__NodeProto *c2 = add_node(b, "Clip", "c2", (const char *[]){"y", NULL},
                                   (const char *[]){"z", NULL});
    attr_float(c2, "max", 2.5f);
    Onnx__NodeProto *c3 = add_node(b, "Clip", "c3", (const char *[]){"z", NULL},
                                   (const char *[]){"w", NULL});
    add_output(b, "w", 1);
    (void)c3;
    ir_graph_t *g = load_ok(b);
    const ir_node_t *n = node(g, "c");
    assert_int_equal(n->n_in, 3);
    assert_int_equal(n->in[1]->dtype, IR_F32);
    assert_int_equal(n->in[1]->shape.rank, 0);
    assert_true(*(float *)n->in[1]->data == 0.0f);
    assert_true(*(float *)n->in[2]->data == 6.0f);
    assert_null(ir_attr_find(n, "min"));
    assert_null(ir_attr_find(n, "max"));
    n = node(g, "c2");   /* max only: the min slot stays empty */
    assert_int_equal(n->n_in, 3);
    assert_null(n->in[1]);
    assert_true(*(float *)n->in[2]->data == 2.5f);
    assert_int_equal(node(g, "c3")->n_in, 1);
    ir_graph_free(g);
}

static void test_old_reshape_slice_split(void **state)
{
    (void)state;
    mb_t *b = mb_new(4);
    add_input(b, "x", 1, 2, D23);
    Onnx__NodeProto *r = add_node(b, "Reshape", "r", (const char *[]){"x", NULL},
                                  (const char *[]){"y", NULL});
    attr_ints(r, "shape", 2, (int64_t[]){3, 2});
    Onnx__NodeProto *s = add_node(b, "Slice", "s", (const char *[]){"y", NULL},
                                  (const char *[]){"z", NULL});
    attr_ints(s, "starts", 1, (int64_t[]){1});
    attr_ints(s, "ends", 1, (int64_t[]){3});
    Onnx__NodeProto *sp = add_node(b, "Split", "sp", (const char *[]){"z", NULL},
                                   (const char *[]){"p", "q", NULL});
    attr_ints(sp, "split", 2, (int64_t[]){1, 1});
    attr_int(sp, "axis", 0);
    add_output(b, "p", 1);
    add_output(b, "q", 1);
    ir_graph_t *g = load_ok(b);
    const ir_node_t *n = node(g, "r");
    assert_int_equal(n->n_in, 2);
    assert_int_equal(((int64_t *)n->in[1]->data)[0], 3);
    assert_int_equal(((int64_t *)n->in[1]->data)[1], 2);
    n = node(g, "s");
    assert_int_equal(n->n_in, 3);   /* no axes attribute: no axes input */
    assert_int_equal(((int64_t *)n->in[1]->data)[0], 1);
    assert_int_equal(((int64_t *)n->in[2]->data)[0], 3);
    n = node(g, "sp");
    assert_int_equal(n->n_in, 2);
    assert_int_equal(n->in[1]->data_size, 16);
    assert_int_equal(ir_attr_int(n, "axis", -1), 0);
    ir_graph_free(g);
}

static void test_softmax_legacy_axis(void **state)
{
    (void)state;
    mb_t *b = mb_new(11);
    add_input(b, "x", 1, 3, (int64_t[]){2, 3, 4});
    add_node(b, "Softmax", "sm", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    Onnx__NodeProto *l = add_node(b, "LogSoftmax", "ls", (const char *[]){"y", NULL},
                                  (const char *[]){"z", NULL});
    attr_int(l, "axis", 2);
    add_output(b, "z", 1);
    ir_graph_t *g = load_ok(b);
    /* axis=1 of a rank-3 input: flattened to 2-D, normalised, reshaped back. */
    assert_int_equal(g->n_nodes, 8);
    const ir_node_t *sm = node(g, "sm");
    assert_int_equal(ir_attr_int(sm, "axis", 0), -1);
    assert_int_equal(sm->in[0]->producer->op, IR_OP_FLATTEN);
    assert_int_equal(ir_attr_int(sm->in[0]->producer, "axis", 0), 1);
    const ir_value_t *y = val(g, "y");
    assert_int_equal(y->producer->op, IR_OP_RESHAPE);
    assert_int_equal(y->producer->in[1]->producer->op, IR_OP_SHAPE);
    /* axis 2 is y's last dim only if y's rank were known; here it is not, so it is
     * rewritten too. */
    assert_int_equal(node(g, "ls")->in[0]->producer->op, IR_OP_FLATTEN);
    ir_graph_free(g);
}

static void test_legacy_broadcast_axis(void **state)
{
    (void)state;
    mb_t *b = mb_new(6);
    add_input(b, "x", 1, 3, (int64_t[]){2, 3, 4});
    add_input(b, "bias", 1, 1, (int64_t[]){3});
    float k[3] = {1, 2, 3};
    set_raw(add_init(b, mk_tensor("k", 1, 1, (int64_t[]){3})), k, sizeof k);
    Onnx__NodeProto *n = add_node(b, "Add", "a", (const char *[]){"x", "bias", NULL},
                                  (const char *[]){"y", NULL});
    attr_int(n, "broadcast", 1);
    attr_int(n, "axis", 1);
    n = add_node(b, "Mul", "m", (const char *[]){"x", "k", NULL}, (const char *[]){"z", NULL});
    attr_int(n, "broadcast", 1);
    attr_int(n, "axis", 1);
    add_output(b, "y", 1);
    add_output(b, "z", 1);
    ir_graph_t *g = load_ok(b);
    /* bias [3] at axis 1 of [2,3,4] right-aligns as [3,1]. */
    const ir_node_t *a = node(g, "a");
    assert_null(ir_attr_find(a, "broadcast"));
    assert_null(ir_attr_find(a, "axis"));
    const ir_node_t *u = a->in[1]->producer;
    assert_non_null(u);
    assert_int_equal(u->op, IR_OP_UNSQUEEZE);
    assert_string_equal(u->in[0]->name, "bias");
    assert_int_equal(u->in[1]->data_size, 8);
    assert_int_equal(((int64_t *)u->in[1]->data)[0], 1);
    /* A constant operand is re-declared with the unit dim instead. */
    const ir_value_t *kk = node(g, "m")->in[1];
    assert_non_null(kk->data);
    assert_int_equal(kk->shape.rank, 2);
    assert_int_equal(kk->shape.dims[0].v, 3);
    assert_int_equal(kk->shape.dims[1].v, 1);
    assert_memory_equal(kk->data, k, sizeof k);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_raw_data_f32, teardown),
        cmocka_unit_test_teardown(test_float_data, teardown),
        cmocka_unit_test_teardown(test_int32_data_int8_bool_f16, teardown),
        cmocka_unit_test_teardown(test_int64_double_uint64_data, teardown),
        cmocka_unit_test_teardown(test_scalar_and_empty_tensors, teardown),
        cmocka_unit_test_teardown(test_external_data, teardown),
        cmocka_unit_test_teardown(test_external_data_escape, teardown),
        cmocka_unit_test_teardown(test_external_data_escape_fallback, teardown),
        cmocka_unit_test_teardown(test_external_data_links_both_paths, teardown),
        cmocka_unit_test_teardown(test_load_tensor_file, teardown),
        cmocka_unit_test_teardown(test_constant_nodes, teardown),
        cmocka_unit_test_teardown(test_input_also_initializer, teardown),
        cmocka_unit_test_teardown(test_symbolic_dims, teardown),
        cmocka_unit_test_teardown(test_tensor_attr_and_optional_io, teardown),
        cmocka_unit_test_teardown(test_unsqueeze11_axes, teardown),
        cmocka_unit_test_teardown(test_clip6_min_max, teardown),
        cmocka_unit_test_teardown(test_old_reshape_slice_split, teardown),
        cmocka_unit_test_teardown(test_softmax_legacy_axis, teardown),
        cmocka_unit_test_teardown(test_legacy_broadcast_axis, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
