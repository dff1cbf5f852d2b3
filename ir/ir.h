/* onnxc graph IR: typed, shaped values; nodes with an op enum and typed attributes;
 * graphs owning an arena. Depends on nothing but libc.
 *
 * Ownership: everything reachable from an ir_graph_t (values, nodes, names, attribute
 * arrays, constant data) is allocated from graph->arena; ir_graph_free releases it all. */
#ifndef ONNXC_IR_H
#define ONNXC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- arena */
typedef struct ir_arena_block ir_arena_block_t;
typedef struct ir_arena {
    ir_arena_block_t *head;
    size_t total;     /* bytes handed out, for reports */
    size_t limit;     /* 0 = no limit; allocations past it fail (tests, hostile input) */
} ir_arena_t;

void *ir_arena_alloc(ir_arena_t *a, size_t size);            /* zeroed, 64-byte aligned; NULL on failure */
char *ir_arena_strdup(ir_arena_t *a, const char *s);
void ir_arena_free(ir_arena_t *a);

/* ---------------------------------------------------------------- dtypes
 * Numbered as ONNX TensorProto.DataType so files and descriptors need no mapping. */
typedef enum ir_dtype {
    IR_UNDEFINED = 0,
    IR_F32 = 1, IR_U8 = 2, IR_I8 = 3, IR_U16 = 4, IR_I16 = 5, IR_I32 = 6, IR_I64 = 7,
    IR_STRING = 8, IR_BOOL = 9, IR_F16 = 10, IR_F64 = 11, IR_U32 = 12, IR_U64 = 13,
    IR_BF16 = 16,
    /* Low-precision kinds (ir/lowp.h). In the IR, the workspace and the ABI each element
     * takes one byte holding its code in the low bits, the others zero (int4/int2 in two's
     * complement: -2 is 0x0E), as numpy's ml_dtypes arrays hold them. Only tensor files
     * and TensorProto data pack int4/uint4/float4 two and int2/uint2 four to a byte. */
    IR_F8E4M3FN = 17, IR_F8E4M3FNUZ = 18, IR_F8E5M2 = 19, IR_F8E5M2FNUZ = 20,
    IR_U4 = 21, IR_I4 = 22, IR_F4E2M1 = 23, IR_F8E8M0 = 24, IR_U2 = 25, IR_I2 = 26,
    IR_DTYPE_MAX = 27
} ir_dtype_t;

size_t ir_dtype_size(ir_dtype_t t);        /* 0 for unsupported/unknown */
const char *ir_dtype_name(ir_dtype_t t);   /* "float32", "int64", ... */
bool ir_dtype_is_float(ir_dtype_t t);
bool ir_dtype_is_int(ir_dtype_t t);        /* signed or unsigned integers, not bool */
bool ir_dtype_is_signed(ir_dtype_t t);
bool ir_dtype_is_lowp(ir_dtype_t t);       /* one of the low-precision kinds above */

/* ---------------------------------------------------------------- shapes
 * A dimension is a constant, or a constant multiple of one symbol:
 *     value = sym < 0 ? v : v * S[sym]
 * where S holds the run-time values of the graph's symbols (graph->syms, ir/sym.c). A
 * symbol is a dim of a graph input (N, seq), an element of an integer graph input used
 * as a shape (Reshape's `shape`), or an expression over other symbols (+, *, floor-div,
 * mod, min, max, select) kept in a canonical form, so that equal expressions are the same
 * symbol and ir_dim_eq compares them. */
#define IR_MAX_RANK 8
typedef struct ir_dim {
    int64_t v;
    int32_t sym;
} ir_dim_t;

static inline ir_dim_t ir_dim_const(int64_t v) { ir_dim_t d = {v, -1}; return d; }
static inline bool ir_dim_is_const(ir_dim_t d) { return d.sym < 0; }
static inline bool ir_dim_eq(ir_dim_t a, ir_dim_t b) { return a.v == b.v && a.sym == b.sym; }

typedef struct ir_shape {
    int rank;                       /* -1 = unknown */
    ir_dim_t dims[IR_MAX_RANK];
} ir_shape_t;

bool ir_shape_is_static(const ir_shape_t *s);
/* Element count of a static shape; -1 if symbolic, unknown, or it overflows int64. */
int64_t ir_shape_numel(const ir_shape_t *s);

/* ---------------------------------------------------------------- values */
typedef enum ir_storage {
    IR_ST_NONE = 0,     /* not yet planned */
    IR_ST_INPUT,        /* graph input: index = input position */
    IR_ST_OUTPUT,       /* graph output: index = output position */
    IR_ST_CONST,        /* in the weights blob at offset */
    IR_ST_WORKSPACE,    /* in the workspace at offset (static region) or dyn_slot */
} ir_storage_t;

struct ir_node;
struct ir_sched;
struct ir_target;

typedef struct ir_value {
    int id;
    const char *name;
    ir_dtype_t dtype;
    ir_shape_t shape;
    struct ir_node *producer;   /* NULL for graph inputs and constants */
    void *data;                 /* constant contents (row-major), NULL if computed */
    size_t data_size;           /* bytes of data */
    bool is_input;              /* graph input fed by the caller */
    bool is_output;             /* graph output */
    int n_uses;                 /* consumers (incl. epilogue operands); recomputed by ir_graph_recount */
    /* The contents of a small integer tensor (rank <= 1) as dims, when inference knows them:
     * Shape's result and what is computed from it (Gather, Slice, Concat, arithmetic...),
     * so that a Reshape or Expand target computed from shapes gives symbolic dims. */
    const ir_dim_t *sval;
    int n_sval;
    /* filled by the memory planner */
    ir_storage_t storage;
    int index;                  /* input/output position */
    int64_t offset;             /* byte offset in blob / static workspace; -1 = dynamic slot */
    int dyn_slot;               /* >= 0: symbolic-sized buffer, offset computed at run start */
} ir_value_t;

/* ---------------------------------------------------------------- attributes */
typedef enum ir_attr_kind {
    IR_ATTR_INT, IR_ATTR_FLOAT, IR_ATTR_STRING, IR_ATTR_INTS, IR_ATTR_FLOATS,
    IR_ATTR_TENSOR, IR_ATTR_STRINGS, IR_ATTR_GRAPH
} ir_attr_kind_t;

typedef struct ir_attr {
    const char *name;
    ir_attr_kind_t kind;
    int64_t i;
    double f;
    const char *s;
    int64_t *ints;
    double *floats;
    const char **strings;
    int n;                      /* count for INTS/FLOATS/STRINGS */
    ir_value_t *t;              /* TENSOR: a constant value (not in graph->values) */
} ir_attr_t;

/* ---------------------------------------------------------------- ops
 * One row per op in ir/ops.def (its header comment documents the columns). */
typedef enum ir_op {
#define OP(e, name, mi, xi, mo, xo, cls, inf, ev, types, attrs, recipe) IR_OP_##e,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} ir_op_t;

/* Kernel class of an op: what fusion and the schedule decide by. */
typedef enum ir_kclass {
    IR_K_MAP,        /* element-wise with broadcasting */
    IR_K_REDUCE,     /* reductions and normalisations over axes */
    IR_K_CONTRACT,   /* Conv, ConvTranspose, Gemm, MatMul: end in a micro-kernel */
    IR_K_WINDOW,     /* sliding windows (pooling, LRN) */
    IR_K_MOVE,       /* data movement: copies, views, gathers */
    IR_K_CONTROL,    /* subgraphs */
    IR_K_CUSTOM,     /* anything else (shape queries, generators, losses) */
    IR_K_COUNT
} ir_kclass_t;

const char *ir_op_name(ir_op_t op);
/* IR_OP_COUNT if unknown. Domain "" and "ai.onnx" only. */
ir_op_t ir_op_lookup(const char *onnx_name);
void ir_op_arity(ir_op_t op, int *min_in, int *max_in, int *min_out, int *max_out);
ir_kclass_t ir_op_class(ir_op_t op);
const char *ir_kclass_name(ir_kclass_t c);
const char *ir_op_types(ir_op_t op);    /* the row's type letters ("" = unchecked) */
const char *ir_op_attrs(ir_op_t op);    /* the row's attribute schema */
const char *ir_op_recipe(ir_op_t op);   /* the scalar recipe, NULL when the op has none */

/* A post-op applied to a node's result element-wise before it is stored: the fused
 * bias / activation / residual / elementwise-chain mechanism. The running value x is
 * combined with `other` (broadcast to the node's output shape) when other != NULL:
 *     x = op(x, other)        or, if swap, op(other, x)
 * Unary ops (Relu, Sigmoid, Clip, LeakyRelu, ...) ignore other; alpha/beta carry
 * Clip min/max, LeakyRelu alpha, HardSigmoid alpha/beta, Elu alpha. */
typedef struct ir_postop {
    ir_op_t op;
    const struct ir_node *node; /* the fused node (dead, kept for its attributes and constant
                                   scalar inputs, which recipes read); NULL for Cast */
    ir_value_t *other;
    bool swap;                 /* the running value is input 1 of the fused node */
    int8_t self, oidx;         /* inputs of `node` that are the running value and `other`
                                  (-1: none); any further input is a constant scalar */
    double alpha, beta;
    ir_dtype_t to;             /* Cast target */
} ir_postop_t;

typedef struct ir_node {
    int id;
    ir_op_t op;
    const char *name;           /* never NULL: the frontend makes one up if the model has none */
    const char *op_type;        /* the ONNX op_type as written (for messages) */
    int n_in, n_out;
    ir_value_t **in;            /* in[i] == NULL: optional input omitted */
    ir_value_t **out;
    int n_attrs;
    ir_attr_t *attrs;
    int n_post;
    ir_postop_t *post;          /* fused epilogue, applied in order */
    bool dead;                  /* removed by a pass; skipped everywhere, compacted by ir_graph_compact */
    /* Run-time dims the node's kernel needs besides its tensors' shapes (a Slice's first
     * index, a Pad's leading pad), set by inference; symbols they use are kept. */
    ir_dim_t *params;
    int n_params;
    struct ir_sched *sched;     /* filled by pass_schedule (ir/sched.h); NULL before */
    /* Control flow (If/Loop/Scan, docs/control-flow.md): the subgraphs the node owns (its
     * graph attributes, in attribute order; a graph attribute's `i` indexes this), freed
     * with the graph. Each subgraph's inputs are its formal inputs, then the outer values
     * it reads (implicit inputs), which the node takes as extra inputs in the same order. */
    struct ir_graph **subs;
    int n_subs;
    struct ir_value *scratch;   /* the workspace the subgraphs run in: an extra (last) output */
} ir_node_t;

/* Attribute lookup; the default is returned when absent or of another kind. */
/* The default of attribute `name` in the op's schema (ops.def); false when it has none.
 * Numbers go to *num, strings to *str (either may be NULL). */
bool ir_attr_default(ir_op_t op, const char *name, double *num, const char **str);
/* The attribute as a number: the node's value (int or float), else the schema default,
 * else dflt. Recipes read attributes through this. */
double ir_attr_num(const ir_node_t *n, const char *name, double dflt);
/* Checks n's attributes against its op's schema: a known attribute of the wrong kind or a
 * missing required one is an error. Returns 0, or -1 with the reason in why[cap]. */
int ir_node_check_attrs(const ir_node_t *n, char *why, size_t cap);
const ir_attr_t *ir_attr_find(const ir_node_t *n, const char *name);
int64_t ir_attr_int(const ir_node_t *n, const char *name, int64_t dflt);
double ir_attr_float(const ir_node_t *n, const char *name, double dflt);
const char *ir_attr_str(const ir_node_t *n, const char *name, const char *dflt);
/* Returns count (or -1 if absent) and sets *out to the array. */
int ir_attr_ints(const ir_node_t *n, const char *name, const int64_t **out);

/* ---------------------------------------------------------------- graph */
#define IR_ERR_MAX 4096
typedef struct ir_graph {
    ir_arena_t arena;
    const char *path;           /* model file, for messages */
    const char *name;           /* C symbol-friendly model name */
    int64_t opset;              /* default-domain opset */
    ir_value_t **values; int n_values, cap_values;
    ir_node_t **nodes;   int n_nodes, cap_nodes;     /* in topological order after ir_graph_toposort */
    ir_value_t **inputs; int n_inputs;                /* caller-fed, in graph order */
    ir_value_t **outputs; int n_outputs;
    /* Symbols (ir/sym.c): names (a derived one's name is its expression) and definitions.
     * After ir_graph_order_syms the caller's (input dims, then data elements) come first,
     * [0, n_caller_syms), then the derived ones, each after its operands. */
    const char **syms;   int n_syms;
    struct ir_sym *symdefs;
    int n_caller_syms;
    bool syms_frozen;   /* set by ir_graph_order_syms: no new symbols after (the backends' view) */
    struct ir_shape_check *checks; int n_checks;      /* run-time shape assertions */
    /* Files the frontend read besides the model (external data, --bind tensors), in the
     * order first opened, each once: `onnxc -MD` lists them so a build system rebuilds
     * when one changes. */
    const char **files_read; int n_files_read;
    const struct ir_target *target; /* what pass_schedule scheduled for (ir/sched.h), arena copy */
    /* What constant folding has materialised, and may (passes/eval_int.h res_alloc): a
     * small model must not make the compiler allocate without bound. */
    int64_t fold_used, fold_budget;
    /* filled by the memory planner */
    int64_t blob_size;          /* weights blob bytes */
    int64_t ws_static;          /* static workspace bytes (offsets below this) */
    int64_t ws_naive;           /* sum of all static intermediates, for the report */
    int n_dyn_slots;            /* slots for symbolic-sized buffers, after the static region */
    int n_dyn_values;           /* symbolic-sized buffers (several may share a slot over time) */
    int64_t ws_rt_off;          /* where a run leaves its run-time counts (8 bytes each) */
    ir_diags_t diags;           /* every problem reported on this graph (ir_error), in order */
    /* Subgraphs (control flow): the node that owns this graph, its nesting depth, how many
     * of the inputs are formal (the rest are implicit outer values, the owner's inputs
     * from imp_first on), whether the passes have compiled it. */
    struct ir_graph *parent;
    const ir_node_t *owner;
    int depth, n_formal, imp_first;
    bool compiled;
    /* The pass manager's hook (passes/passes.c) that compiles a subgraph through the
     * pipeline, with the options of the graph that owns it. */
    int (*compile_sub)(struct ir_graph *parent, struct ir_graph *sub);
    const void *pass_opts;
    char err[IR_ERR_MAX];       /* the latest error's text, for tests that check one message */
} ir_graph_t;

ir_graph_t *ir_graph_new(const char *path);
void ir_graph_free(ir_graph_t *g);

ir_value_t *ir_value_new(ir_graph_t *g, const char *name, ir_dtype_t dt, const ir_shape_t *shape);
ir_value_t *ir_value_find(ir_graph_t *g, const char *name);   /* linear; frontend keeps its own map */
/* A constant value owning a copy of data (nbytes must match dtype*numel). */
ir_value_t *ir_value_const(ir_graph_t *g, const char *name, ir_dtype_t dt, const ir_shape_t *shape,
                           const void *data, size_t nbytes);
ir_node_t *ir_node_new(ir_graph_t *g, ir_op_t op, const char *name, int n_in, int n_out);
ir_attr_t *ir_node_add_attr(ir_graph_t *g, ir_node_t *n, const char *name, ir_attr_kind_t kind);
ir_postop_t *ir_node_add_post(ir_graph_t *g, ir_node_t *n);
int ir_graph_add_sym(ir_graph_t *g, const char *name);       /* returns index, existing or new */
/* Adds path to g->files_read unless already there; -1 when out of memory. */
int ir_graph_note_file(ir_graph_t *g, const char *path);
/* Makes symbol `name` the constant `value` (>= 1) in every value's shape and removes it
 * from g->syms (later symbols move down one), for `onnxc --dim` before the passes.
 * 0, or -1 with the reason in g->diags (no such symbol, value < 1, a dim overflows). */
int ir_graph_fix_sym(ir_graph_t *g, const char *name, int64_t value);
/* `onnxc --shape`: input `input` gets exactly dims[0..rank): each static dim must agree,
 * each symbolic one fixes its symbol (ir_graph_fix_sym). 0, or -1 with a reason naming
 * the input in g->diags. */
int ir_graph_fix_input_shape(ir_graph_t *g, const char *input, int rank, const int64_t *dims);

/* Appends an error about node n (NULL: the whole model) to g->diags, printed as
 * "path: node 'name' (Op): message"; also copies that text to g->err. Returns -1. */
int ir_error(ir_graph_t *g, const ir_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Topological sort of live nodes; error on a cycle or on a value with no producer
 * that is neither input nor constant. */
int ir_graph_toposort(ir_graph_t *g);
void ir_graph_recount(ir_graph_t *g);      /* recompute n_uses */
void ir_graph_compact(ir_graph_t *g);      /* drop dead nodes from the list */
/* Structural checks (arity, defined inputs, single producer, dtypes known). */
int ir_graph_verify(ir_graph_t *g);
/* Human-readable dump. */
void ir_graph_print(const ir_graph_t *g, void *file /* FILE* */);
void ir_shape_str(const ir_graph_t *g, const ir_shape_t *s, char *buf, size_t n);

/* Adds sub to n->subs; n owns it from then on. Its index, or -1 (out of memory). */
int ir_node_add_sub(ir_graph_t *g, ir_node_t *n, ir_graph_t *sub);

/* ---------------------------------------------------------------- inference
 * Per-op shape/type inference (ir/infer.c). Requires input shapes known; constant
 * inputs (value->data) may be read (e.g. Reshape's shape). Sets out[] dtype and shape. */
int ir_infer_node(ir_graph_t *g, ir_node_t *n);

#ifdef __cplusplus
}
#endif

#include "ir/sym.h"
#endif
