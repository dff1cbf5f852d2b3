/* The fixture the inference unit tests share (test_infer.c, test_infer_sample.c): one
 * graph per test (setup/teardown), shape literals, inputs, constants, nodes with fresh
 * output values, attributes, and ok/err/expect on ir_infer_node. Include after
 * <cmocka.h>; each test file gets its own copy of the statics. */
#ifndef ONNXC_TESTS_IR_FIXTURE_H
#define ONNXC_TESTS_IR_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

static ir_graph_t *G;
static int vcount;

static inline int setup(void **st) {
    (void)st;
    G = ir_graph_new("t.onnx");
    vcount = 0;
    return G ? 0 : -1;
}
static inline int teardown(void **st) {
    (void)st;
    ir_graph_free(G);
    return 0;
}

#define C(v) ((ir_dim_t){(v), -1})
#define SY(c, s) ((ir_dim_t){(c), (s)})
#define NDIMS(...) ((int)(sizeof((ir_dim_t[]){__VA_ARGS__}) / sizeof(ir_dim_t)))
#define SHAPE(...) mk_shape((ir_dim_t[]){__VA_ARGS__}, NDIMS(__VA_ARGS__))
#define I64S(...) ((int64_t[]){__VA_ARGS__}), ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

static inline ir_shape_t mk_shape(const ir_dim_t *d, int rank) {
    ir_shape_t s = {.rank = rank};
    memcpy(s.dims, d, sizeof(ir_dim_t) * (size_t)rank);
    return s;
}
static const ir_shape_t SCALAR = {.rank = 0};

static inline const char *fresh(void) {
    static char buf[32];
    snprintf(buf, sizeof buf, "v%d", vcount++);
    return buf;
}

static inline ir_value_t *in(ir_dtype_t dt, ir_shape_t s) {
    ir_value_t *v = ir_value_new(G, fresh(), dt, &s);
    assert_non_null(v);
    v->is_input = true;
    return v;
}
static inline ir_value_t *f32(ir_shape_t s) { return in(IR_F32, s); }

static inline ir_value_t *ci64(const int64_t *vals, int n) {
    ir_shape_t s = {.rank = 1, .dims = {C(n)}};
    ir_value_t *v = ir_value_const(G, fresh(), IR_I64, &s, vals, sizeof(int64_t) * (size_t)n);
    assert_non_null(v);
    return v;
}
static inline ir_value_t *cscalar(ir_dtype_t dt, const void *p) {
    ir_value_t *v = ir_value_const(G, fresh(), dt, &SCALAR, p, ir_dtype_size(dt));
    assert_non_null(v);
    return v;
}

/* mk(op, name, n_out, n_in, inputs...): outputs start with an unknown shape. */
static inline ir_node_t *mk(ir_op_t op, const char *name, int n_out, int n_in, ...) {
    ir_node_t *n = ir_node_new(G, op, name, n_in, n_out);
    assert_non_null(n);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) n->in[i] = va_arg(ap, ir_value_t *);
    va_end(ap);
    for (int i = 0; i < n_out; i++) {
        n->out[i] = ir_value_new(G, fresh(), IR_UNDEFINED, NULL);
        n->out[i]->producer = n;
    }
    return n;
}

static inline void a_int(ir_node_t *n, const char *name, int64_t v) { ir_node_add_attr(G, n, name, IR_ATTR_INT)->i = v; }
static inline void a_str(ir_node_t *n, const char *name, const char *s) { ir_node_add_attr(G, n, name, IR_ATTR_STRING)->s = s; }
static inline void a_ints(ir_node_t *n, const char *name, const int64_t *v, int cnt) {
    ir_attr_t *a = ir_node_add_attr(G, n, name, IR_ATTR_INTS);
    a->ints = ir_arena_alloc(&G->arena, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
    a->n = cnt;
}

static inline void ok(ir_node_t *n) {
    if (ir_infer_node(G, n)) fail_msg("inference failed: %s", G->err);
}
static inline void err(ir_node_t *n, const char *needle) {
    assert_int_equal(ir_infer_node(G, n), -1);
    if (!strstr(G->err, needle)) fail_msg("error \"%s\" does not contain \"%s\"", G->err, needle);
}

static inline void expect(const ir_value_t *v, ir_dtype_t dt, ir_shape_t want) {
    char a[128], b[128];
    ir_shape_str(G, &v->shape, a, sizeof a);
    ir_shape_str(G, &want, b, sizeof b);
    if (v->dtype != dt) fail_msg("dtype %s, expected %s", ir_dtype_name(v->dtype), ir_dtype_name(dt));
    bool same = v->shape.rank == want.rank;
    for (int i = 0; same && i < want.rank; i++) same = ir_dim_eq(v->shape.dims[i], want.dims[i]);
    if (!same) fail_msg("shape %s, expected %s", a, b);
}

#endif
