/* Graph builders shared by the passes' unit tests (test_passes.c, test_eval*.c): shapes,
 * inputs/outputs, constants, nodes, attributes, and the two ways a test runs the passes
 * (the whole pipeline, or pass_eval_node on one node). Include after <cmocka.h>. */
#ifndef ONNXC_TESTS_PASSES_BUILDERS_H
#define ONNXC_TESTS_PASSES_BUILDERS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static inline ir_shape_t shp(int r, ...) {
    ir_shape_t s = {.rank = r};
    va_list ap;
    va_start(ap, r);
    for (int i = 0; i < r; i++) s.dims[i] = ir_dim_const(va_arg(ap, int64_t));
    va_end(ap);
    return s;
}
#define S0() shp(0)
#define S1(a) shp(1, (int64_t)(a))
#define S2(a, b) shp(2, (int64_t)(a), (int64_t)(b))
#define S3(a, b, c) shp(3, (int64_t)(a), (int64_t)(b), (int64_t)(c))
#define S4(a, b, c, d) shp(4, (int64_t)(a), (int64_t)(b), (int64_t)(c), (int64_t)(d))
#define S5(a, b, c, d, e) shp(5, (int64_t)(a), (int64_t)(b), (int64_t)(c), (int64_t)(d), (int64_t)(e))
#define I64S(...) (const int64_t[]){__VA_ARGS__}
#define F32S(...) (const float[]){__VA_ARGS__}
#define IN(...) (ir_value_t *[]){__VA_ARGS__}

static inline ir_value_t *input(ir_graph_t *g, const char *name, ir_dtype_t dt, ir_shape_t s) {
    ir_value_t *v = ir_value_new(g, name, dt, &s);
    v->is_input = true;
    g->inputs = realloc(g->inputs, sizeof(ir_value_t *) * (size_t)(g->n_inputs + 1));
    g->inputs[g->n_inputs++] = v;
    return v;
}

static inline void output(ir_graph_t *g, ir_value_t *v) {
    v->is_output = true;
    g->outputs = realloc(g->outputs, sizeof(ir_value_t *) * (size_t)(g->n_outputs + 1));
    g->outputs[g->n_outputs++] = v;
}

static inline ir_value_t *val(ir_graph_t *g, const char *name) { return ir_value_new(g, name, IR_UNDEFINED, NULL); }

static inline ir_value_t *ci64(ir_graph_t *g, const char *name, ir_shape_t s, const int64_t *d) {
    return ir_value_const(g, name, IR_I64, &s, d, sizeof(int64_t) * (size_t)ir_shape_numel(&s));
}
static inline ir_value_t *cf32(ir_graph_t *g, const char *name, ir_shape_t s, const float *d) {
    return ir_value_const(g, name, IR_F32, &s, d, sizeof(float) * (size_t)ir_shape_numel(&s));
}

/* node with inputs ins[0..nin) and one output */
static inline ir_node_t *mk(ir_graph_t *g, ir_op_t op, const char *name, int nin, ir_value_t **ins, ir_value_t *out) {
    ir_node_t *n = ir_node_new(g, op, name, nin, 1);
    for (int i = 0; i < nin; i++) n->in[i] = ins[i];
    n->out[0] = out;
    return n;
}

static inline void attr_int(ir_graph_t *g, ir_node_t *n, const char *name, int64_t v) {
    ir_node_add_attr(g, n, name, IR_ATTR_INT)->i = v;
}
static inline void attr_float(ir_graph_t *g, ir_node_t *n, const char *name, double v) {
    ir_node_add_attr(g, n, name, IR_ATTR_FLOAT)->f = v;
}
static inline void attr_str(ir_graph_t *g, ir_node_t *n, const char *name, const char *v) {
    ir_node_add_attr(g, n, name, IR_ATTR_STRING)->s = ir_arena_strdup(&g->arena, v);
}
static inline void attr_ints(ir_graph_t *g, ir_node_t *n, const char *name, int cnt, const int64_t *v) {
    ir_attr_t *a = ir_node_add_attr(g, n, name, IR_ATTR_INTS);
    a->ints = ir_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)cnt);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
    a->n = cnt;
}

/* live (not dead) nodes */
static inline int live(const ir_graph_t *g) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) k += !g->nodes[i]->dead;
    return k;
}

static inline void pipeline_ok(ir_graph_t *g, int opt) {
    pass_options_t o;
    pass_options_init(&o);
    o.opt_level = opt;
    o.verify = true;
    int rc = pass_run_pipeline(g, &o);
    if (rc) fprintf(stderr, "pipeline failed: %s\n", g->err);
    assert_int_equal(rc, 0);
}

/* n folds to constants (pass_eval_node) */
static inline void fold(ir_graph_t *g, ir_node_t *n) {
    int rc = pass_eval_node(g, n);
    if (rc != 1) fprintf(stderr, "%s did not fold: %s\n", n->name, rc < 0 ? g->err : "(no evaluation)");
    assert_int_equal(rc, 1);
    assert_true(n->dead);
}

static inline void dims(const ir_value_t *v, int r, const int64_t *d) {
    assert_int_equal(v->shape.rank, r);
    for (int i = 0; i < r; i++) assert_int_equal(v->shape.dims[i].v, d[i]);
}

#endif
