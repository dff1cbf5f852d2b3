/* Shared by the frontend's files; not a public interface. */
#ifndef ONNXC_FRONTEND_INTERNAL_H
#define ONNXC_FRONTEND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "onnx.pb-c.h"

typedef struct fe_map_entry {
    const char *key;
    ir_value_t *v;
} fe_map_entry_t;

typedef struct fe_ctx {
    ir_graph_t *g;
    const char *path;           /* model, for messages */
    const char *model_dir;      /* NULL: external data refused */
    int64_t opset;              /* default domain */
    const char *cur_node;       /* node being converted, for messages; NULL outside nodes */
    const char *cur_op;
    bool failed;                /* the first error is reported; later ones are its echoes */
    ir_diags_t *diags;          /* the caller's list (the graph may not exist yet) */
    fe_map_entry_t *map;        /* value name -> value, open addressing */
    size_t map_cap, map_n;
    /* A subgraph's context: the enclosing graph's, for names defined outside (outer-scope
     * values); each becomes an implicit input of this graph (imp_inner[i] standing for
     * imp_outer[i], a value of the outer graph). */
    struct fe_ctx *outer;
    int depth;
    ir_value_t **imp_outer, **imp_inner;
    int n_imp, cap_imp;
} fe_ctx_t;

/* Tests set this to make the graph's arena fail past a byte count, reaching every
 * out-of-memory path; 0 (the default) means no limit. */
extern size_t fe_test_arena_limit;
/* Tests set this to 1 to take tensor.c's path for kernels without openat2. */
extern int fe_test_no_openat2;

/* Appends the first error to c->diags, about the current node if any; returns -1. */
int fe_err(fe_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

ir_value_t *fe_map_get(const fe_ctx_t *c, const char *name);
/* A name as a node input: this graph's value, else (in a subgraph) an outer one, which
 * becomes an implicit input. NULL when no enclosing graph defines it, or after fe_err. */
ir_value_t *fe_resolve(fe_ctx_t *c, const char *name);
/* Keys on v->name (arena-owned). */
int fe_map_put(fe_ctx_t *c, ir_value_t *v);
/* An arena copy of base+suffix (plus a counter if needed) that names no value yet. */
const char *fe_fresh_name(fe_ctx_t *c, const char *base, const char *suffix);

/* The newest default-domain opset whose operators the op table implements: that of the
 * onnx release the conformance list comes from (onnx 1.23 -> 28; tools/install-deps.sh
 * pins it). Newer imports are refused: a later opset may change an op's meaning.
 * Other domains' imports are not checked; a node from one is an unsupported op. */
#define FE_MAX_OPSET 28

/* wire.c: limits on what a file may ask of the parser, checked on the wire format
 * before protobuf-c unpacks it (docs: frontend/README.md, "Limits"). */
#define FE_MAX_MSG_DEPTH 100      /* nested messages: 32 subgraph levels are 96 */
#define FE_MAX_GRAPH_DEPTH 32     /* a graph inside a node attribute inside a graph ... */
#define FE_MAX_NODES 4000000      /* per graph; the largest exported LLMs have ~100k */
#define FE_MAX_VALUES 16000000    /* inputs + outputs + value_info, per graph */
#define FE_MAX_INITS 4000000
#define FE_MAX_DIM ((int64_t)1 << 40)   /* elements of a graph input, and each of its dims */
/* What protobuf-c may allocate unpacking n bytes. */
uint64_t fe_parse_budget(size_t n);
/* 0, or -1 after fe_err naming the limit or the malformed byte. */
int fe_wire_check(fe_ctx_t *c, const ProtobufCMessageDescriptor *root, const uint8_t *buf,
                  size_t n);

/* tensor.c */
/* Maps an ONNX element type to a dtype the compiler handles; false for string,
 * complex and unknown codes. */
bool fe_dtype_supported(int32_t onnx_type, ir_dtype_t *out);
const char *fe_onnx_type_name(int32_t onnx_type);   /* also for codes the IR lacks */
/* Converts t into a constant value named name (dense, row-major, host layout).
 * NULL after fe_err on bad or unsupported data. */
ir_value_t *fe_tensor_to_value(fe_ctx_t *c, const Onnx__TensorProto *t, const char *name);

/* normalize.c */
/* ir_op_lookup plus the legacy spellings the IR maps to a current op (Scatter ->
 * ScatterElements); IR_OP_COUNT if unknown. */
ir_op_t fe_op_lookup(const char *op_type);
/* A node on its way into the IR: inputs resolved, attributes still in the proto. */
typedef struct fe_node {
    const Onnx__NodeProto *np;
    ir_op_t op;
    const char *name, *op_type;
    ir_value_t **in;  int n_in;    /* room for np->n_input + FE_EXTRA_IN */
    ir_value_t **out; int n_out;
    const char *drop[8]; int n_drop;           /* proto attributes not copied */
    const char *add_name[4]; int64_t add_val[4]; int n_add;   /* int attributes added */
    const char *add_sname[4], *add_sval[4]; int n_adds;      /* string attributes added */
} fe_node_t;
#define FE_EXTRA_IN 4

/* Rewrites fn into the newest opset form (attributes that became inputs -> constant
 * inputs, legacy attribute spellings) and may add helper nodes to the graph.
 * fe_emit_node creates the IR node for fn (used for fn itself and for helpers). */
int fe_normalize(fe_ctx_t *c, fe_node_t *fn);
ir_node_t *fe_emit_node(fe_ctx_t *c, fe_node_t *fn);

#endif
