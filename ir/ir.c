/* IR core: arena, dtypes, graph construction, attribute lookup, toposort, verifier. */
#include "ir/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */
struct ir_arena_block {
    ir_arena_block_t *next;
    size_t size, used;
    /* data follows, 64-byte aligned */
};

#define ARENA_HDR 64
#define ARENA_BLOCK (1u << 20)

void *ir_arena_alloc(ir_arena_t *a, size_t size) {
    size = (size + 63) & ~(size_t)63;
    if (size == 0) size = 64;
    if (a->limit && a->total + size > a->limit) return NULL;
    ir_arena_block_t *b = a->head;
    if (!b || b->size - b->used < size) {
        /* Large requests get a block of their own so small allocations keep packing. */
        size_t bs = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
        if (bs > SIZE_MAX - ARENA_HDR) return NULL;
        void *mem = NULL;
        if (posix_memalign(&mem, 64, ARENA_HDR + bs) != 0) return NULL;
        b = mem;
        b->size = bs;
        b->used = 0;
        if (size > ARENA_BLOCK / 4 && a->head) {
            /* Keep the current small-allocation block at the head. */
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    char *p = (char *)b + ARENA_HDR + b->used;
    b->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

char *ir_arena_strdup(ir_arena_t *a, const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    char *p = ir_arena_alloc(a, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

void ir_arena_free(ir_arena_t *a) {
    ir_arena_block_t *b = a->head;
    while (b) {
        ir_arena_block_t *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}

/* ---------------------------------------------------------------- dtypes */
size_t ir_dtype_size(ir_dtype_t t) {
    switch (t) {
    case IR_F32: case IR_I32: case IR_U32: return 4;
    case IR_U8: case IR_I8: case IR_BOOL: return 1;
    case IR_F8E4M3FN: case IR_F8E4M3FNUZ: case IR_F8E5M2: case IR_F8E5M2FNUZ: case IR_U4: case IR_I4:
    case IR_F4E2M1: case IR_F8E8M0: case IR_U2: case IR_I2: return 1;   /* one byte per element in the IR */
    case IR_U16: case IR_I16: case IR_F16: case IR_BF16: return 2;
    case IR_I64: case IR_F64: case IR_U64: return 8;
    default: return 0;
    }
}

const char *ir_dtype_name(ir_dtype_t t) {
    switch (t) {
    case IR_F32: return "float32";
    case IR_U8: return "uint8";
    case IR_I8: return "int8";
    case IR_U16: return "uint16";
    case IR_I16: return "int16";
    case IR_I32: return "int32";
    case IR_I64: return "int64";
    case IR_STRING: return "string";
    case IR_BOOL: return "bool";
    case IR_F16: return "float16";
    case IR_F64: return "float64";
    case IR_U32: return "uint32";
    case IR_U64: return "uint64";
    case IR_BF16: return "bfloat16";
    case IR_F8E4M3FN: return "float8e4m3fn";
    case IR_F8E4M3FNUZ: return "float8e4m3fnuz";
    case IR_F8E5M2: return "float8e5m2";
    case IR_F8E5M2FNUZ: return "float8e5m2fnuz";
    case IR_U4: return "uint4";
    case IR_I4: return "int4";
    case IR_F4E2M1: return "float4e2m1";
    case IR_F8E8M0: return "float8e8m0";
    case IR_U2: return "uint2";
    case IR_I2: return "int2";
    default: return "undefined";
    }
}

bool ir_dtype_is_float(ir_dtype_t t) { return t == IR_F32 || t == IR_F64 || t == IR_F16 || t == IR_BF16; }
bool ir_dtype_is_int(ir_dtype_t t) {
    return t == IR_U8 || t == IR_I8 || t == IR_U16 || t == IR_I16 || t == IR_I32 || t == IR_I64 ||
           t == IR_U32 || t == IR_U64;
}
bool ir_dtype_is_lowp(ir_dtype_t t) { return t >= IR_F8E4M3FN && t <= IR_I2; }
bool ir_dtype_is_signed(ir_dtype_t t) {
    return t == IR_I8 || t == IR_I16 || t == IR_I32 || t == IR_I64 || ir_dtype_is_float(t);
}

/* ---------------------------------------------------------------- shapes */
bool ir_shape_is_static(const ir_shape_t *s) {
    if (s->rank < 0) return false;
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i].sym >= 0) return false;
    return true;
}

int64_t ir_shape_numel(const ir_shape_t *s) {
    if (!ir_shape_is_static(s)) return -1;
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i].v;
        if (d < 0) return -1;
        if (d != 0 && n > INT64_MAX / d) return -1;
        n *= d;
    }
    return n;
}

/* ---------------------------------------------------------------- ops */
static const struct {
    const char *name;
    int min_in, max_in, min_out, max_out;
    ir_kclass_t cls;
    const char *types, *attrs, *recipe;
} op_rows[IR_OP_COUNT] = {
#define OP(e, name, mi, xi, mo, xo, cls, inf, ev, types, attrs, recipe) \
    {name, mi, xi, mo, xo, IR_K_##cls, types, attrs, recipe},
#include "ir/ops.def"
#undef OP
};

ir_kclass_t ir_op_class(ir_op_t op) { return op < IR_OP_COUNT ? op_rows[op].cls : IR_K_CUSTOM; }
const char *ir_op_types(ir_op_t op) { return op < IR_OP_COUNT ? op_rows[op].types : ""; }
const char *ir_op_attrs(ir_op_t op) { return op < IR_OP_COUNT ? op_rows[op].attrs : ""; }
const char *ir_op_recipe(ir_op_t op) {
    return op < IR_OP_COUNT && op_rows[op].recipe[0] ? op_rows[op].recipe : NULL;
}

const char *ir_kclass_name(ir_kclass_t c) {
    static const char *names[IR_K_COUNT] = {"map", "reduce", "contraction", "window", "move", "control", "custom"};
    return c < IR_K_COUNT ? names[c] : "?";
}

const char *ir_op_name(ir_op_t op) { return op < IR_OP_COUNT ? op_rows[op].name : "?"; }

ir_op_t ir_op_lookup(const char *name) {
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(op_rows[i].name, name) == 0) return (ir_op_t)i;
    return IR_OP_COUNT;
}

void ir_op_arity(ir_op_t op, int *min_in, int *max_in, int *min_out, int *max_out) {
    if (op >= IR_OP_COUNT) {
        *min_in = *max_in = *min_out = *max_out = 0;
        return;
    }
    *min_in = op_rows[op].min_in;
    *max_in = op_rows[op].max_in;
    *min_out = op_rows[op].min_out;
    *max_out = op_rows[op].max_out;
}

/* ---------------------------------------------------------------- attributes */
const ir_attr_t *ir_attr_find(const ir_node_t *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const ir_node_t *n, const char *name, int64_t dflt) {
    const ir_attr_t *a = ir_attr_find(n, name);
    return a && a->kind == IR_ATTR_INT ? a->i : dflt;
}

double ir_attr_float(const ir_node_t *n, const char *name, double dflt) {
    const ir_attr_t *a = ir_attr_find(n, name);
    if (!a) return dflt;
    if (a->kind == IR_ATTR_FLOAT) return a->f;
    if (a->kind == IR_ATTR_INT) return (double)a->i;
    return dflt;
}

const char *ir_attr_str(const ir_node_t *n, const char *name, const char *dflt) {
    const ir_attr_t *a = ir_attr_find(n, name);
    return a && a->kind == IR_ATTR_STRING ? a->s : dflt;
}

int ir_attr_ints(const ir_node_t *n, const char *name, const int64_t **out) {
    const ir_attr_t *a = ir_attr_find(n, name);
    if (!a || a->kind != IR_ATTR_INTS) {
        *out = NULL;
        return -1;
    }
    *out = a->ints;
    return a->n;
}

/* ---------------------------------------------------------------- graph */
ir_graph_t *ir_graph_new(const char *path) {
    ir_graph_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->path = ir_arena_strdup(&g->arena, path ? path : "<model>");
    g->name = g->path;
    return g;
}

void ir_graph_free(ir_graph_t *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; g->nodes[i] && j < g->nodes[i]->n_subs; j++) ir_graph_free(g->nodes[i]->subs[j]);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->syms);
    free(g->symdefs);
    free(g->files_read);
    ir_diags_free(&g->diags);
    ir_arena_free(&g->arena);
    free(g);
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

ir_value_t *ir_value_new(ir_graph_t *g, const char *name, ir_dtype_t dt, const ir_shape_t *shape) {
    if (grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(ir_value_t *))) return NULL;
    ir_value_t *v = ir_arena_alloc(&g->arena, sizeof *v);
    if (!v) return NULL;
    v->id = g->n_values;
    v->name = ir_arena_strdup(&g->arena, name);
    if (!v->name) return NULL;
    v->dtype = dt;
    if (shape)
        v->shape = *shape;
    else
        v->shape.rank = -1;
    v->offset = -1;
    v->dyn_slot = -1;
    v->index = -1;
    g->values[g->n_values++] = v;
    return v;
}

ir_value_t *ir_value_find(ir_graph_t *g, const char *name) {
    for (int i = g->n_values - 1; i >= 0; i--)
        if (strcmp(g->values[i]->name, name) == 0) return g->values[i];
    return NULL;
}

ir_value_t *ir_value_const(ir_graph_t *g, const char *name, ir_dtype_t dt, const ir_shape_t *shape,
                           const void *data, size_t nbytes) {
    ir_value_t *v = ir_value_new(g, name, dt, shape);
    if (!v) return NULL;
    v->data = ir_arena_alloc(&g->arena, nbytes ? nbytes : 1);
    if (!v->data) return NULL;
    if (nbytes && data) memcpy(v->data, data, nbytes);
    v->data_size = nbytes;
    return v;
}

ir_node_t *ir_node_new(ir_graph_t *g, ir_op_t op, const char *name, int n_in, int n_out) {
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(ir_node_t *))) return NULL;
    ir_node_t *n = ir_arena_alloc(&g->arena, sizeof *n);
    if (!n) return NULL;
    n->id = g->n_nodes;
    n->op = op;
    char buf[64];
    if (!name || !*name) {
        snprintf(buf, sizeof buf, "%s_%d", ir_op_name(op), n->id);
        name = buf;
    }
    n->name = ir_arena_strdup(&g->arena, name);
    n->op_type = ir_op_name(op);
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = ir_arena_alloc(&g->arena, sizeof(ir_value_t *) * (size_t)(n_in > 0 ? n_in : 1));
    n->out = ir_arena_alloc(&g->arena, sizeof(ir_value_t *) * (size_t)(n_out > 0 ? n_out : 1));
    if (!n->name || !n->in || !n->out) return NULL;
    g->nodes[g->n_nodes++] = n;
    return n;
}

ir_attr_t *ir_node_add_attr(ir_graph_t *g, ir_node_t *n, const char *name, ir_attr_kind_t kind) {
    ir_attr_t *na = ir_arena_alloc(&g->arena, sizeof(ir_attr_t) * (size_t)(n->n_attrs + 1));
    if (!na) return NULL;
    if (n->n_attrs) memcpy(na, n->attrs, sizeof(ir_attr_t) * (size_t)n->n_attrs);
    n->attrs = na;
    ir_attr_t *a = &na[n->n_attrs++];
    a->name = ir_arena_strdup(&g->arena, name);
    if (!a->name) {
        n->n_attrs--;
        return NULL;
    }
    a->kind = kind;
    return a;
}

ir_postop_t *ir_node_add_post(ir_graph_t *g, ir_node_t *n) {
    ir_postop_t *np = ir_arena_alloc(&g->arena, sizeof(ir_postop_t) * (size_t)(n->n_post + 1));
    if (!np) return NULL;
    if (n->n_post) memcpy(np, n->post, sizeof(ir_postop_t) * (size_t)n->n_post);
    n->post = np;
    return &np[n->n_post++];
}

int ir_graph_note_file(ir_graph_t *g, const char *path) {
    for (int i = 0; i < g->n_files_read; i++)
        if (strcmp(g->files_read[i], path) == 0) return 0;
    const char **nf = realloc(g->files_read, sizeof(char *) * (size_t)(g->n_files_read + 1));
    if (!nf) return -1;
    g->files_read = nf;
    if (!(g->files_read[g->n_files_read] = ir_arena_strdup(&g->arena, path))) return -1;
    g->n_files_read++;
    return 0;
}

/* Symbol names for messages: "batch, seq" (or "none"). */
static void sym_list(const ir_graph_t *g, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < g->n_syms && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s'%s'", i ? ", " : "", g->syms[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    if (!g->n_syms) snprintf(buf, n, "none");
}

int ir_graph_fix_sym(ir_graph_t *g, const char *name, int64_t value) {
    int s = -1;
    for (int i = 0; i < g->n_syms; i++)
        if (strcmp(g->syms[i], name) == 0) s = i;
    if (s < 0) {
        char have[512];
        sym_list(g, have, sizeof have);
        return ir_error(g, NULL, "--dim %s: the model has no symbolic dimension '%s' (it has: %s)", name, name, have);
    }
    if (value < 1) return ir_error(g, NULL, "--dim %s=%lld: a dimension must be >= 1", name, (long long)value);
    /* Check every product first, so that a refusal leaves the graph as it was. */
    for (int i = 0; i < g->n_values; i++) {
        const ir_value_t *v = g->values[i];
        for (int d = 0; v && d < v->shape.rank; d++) {
            int64_t p;
            if (v->shape.dims[d].sym == s && __builtin_mul_overflow(v->shape.dims[d].v, value, &p))
                return ir_error(g, NULL, "--dim %s=%lld: dimension %d of '%s' overflows", name, (long long)value, d,
                                v->name ? v->name : "?");
        }
    }
    /* Substitute, then drop the symbol and renumber the later ones, so that everything
     * downstream (descriptor, header, syms[] of the entry point) sees only the rest. */
    for (int i = 0; i < g->n_values; i++) {
        ir_value_t *v = g->values[i];
        for (int d = 0; v && d < v->shape.rank; d++) {
            ir_dim_t *dm = &v->shape.dims[d];
            if (dm->sym == s)
                *dm = ir_dim_const(dm->v * value);
            else if (dm->sym > s)
                dm->sym--;
        }
    }
    for (int i = s; i + 1 < g->n_syms; i++) {
        g->syms[i] = g->syms[i + 1];
        g->symdefs[i] = g->symdefs[i + 1];
    }
    g->n_syms--;
    if (g->n_caller_syms > 0) g->n_caller_syms--;
    return 0;
}

int ir_graph_fix_input_shape(ir_graph_t *g, const char *input, int rank, const int64_t *dims) {
    ir_value_t *in = NULL;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i]->name && strcmp(g->inputs[i]->name, input) == 0) in = g->inputs[i];
    if (!in) {
        char have[1024];
        size_t k = 0;
        have[0] = 0;
        for (int i = 0; i < g->n_inputs && k < sizeof have; i++) {
            int w = snprintf(have + k, sizeof have - k, "%s'%s'", i ? ", " : "", g->inputs[i]->name);
            if (w < 0) break;
            k += (size_t)w;
        }
        return ir_error(g, NULL, "--shape %s: the model has no input '%s' (its inputs: %s)", input, input,
                        g->n_inputs ? have : "none");
    }
    if (rank < 0 || rank > IR_MAX_RANK) return ir_error(g, NULL, "--shape %s: rank %d is not 0..%d", input, rank, IR_MAX_RANK);
    for (int d = 0; d < rank; d++)
        if (dims[d] < 1) return ir_error(g, NULL, "--shape %s: dimension %d is %lld, not >= 1", input, d, (long long)dims[d]);
    char want[256];
    ir_shape_str(g, &in->shape, want, sizeof want);
    if (in->shape.rank < 0) {
        /* No shape in the model: the given one is the whole truth. */
        in->shape.rank = rank;
        for (int d = 0; d < rank; d++) in->shape.dims[d] = ir_dim_const(dims[d]);
        return 0;
    }
    if (in->shape.rank != rank)
        return ir_error(g, NULL, "--shape %s: the model's input '%s' has rank %d (%s), not %d", input, input,
                        in->shape.rank, want, rank);
    /* Static dims must agree; each symbolic one fixes its symbol, consistently. */
    int64_t val[IR_MAX_RANK];
    int sym[IR_MAX_RANK], n = 0;
    for (int d = 0; d < rank; d++) {
        ir_dim_t dm = in->shape.dims[d];
        if (dm.sym < 0) {
            if (dm.v != dims[d])
                return ir_error(g, NULL, "--shape %s: dimension %d of input '%s' is %lld (%s), not %lld",
                                input, d, input, (long long)dm.v, want, (long long)dims[d]);
            continue;
        }
        if (dm.v < 1 || dims[d] % dm.v != 0)
            return ir_error(g, NULL, "--shape %s: dimension %d of input '%s' is a multiple of %lld (%s), not %lld",
                            input, d, input, (long long)dm.v, want, (long long)dims[d]);
        int64_t v = dims[d] / dm.v;
        int k = 0;
        while (k < n && sym[k] != dm.sym) k++;
        if (k < n && val[k] != v)
            return ir_error(g, NULL, "--shape %s: input '%s' (%s) needs one size for '%s', got %lld and %lld", input,
                            input, want, g->syms[dm.sym], (long long)val[k], (long long)v);
        if (k == n) {
            sym[n] = dm.sym;
            val[n++] = v;
        }
    }
    /* Fix by name: each fix renumbers the symbols after it. */
    const char *names[IR_MAX_RANK];
    for (int k = 0; k < n; k++) names[k] = g->syms[sym[k]];
    for (int k = 0; k < n; k++)
        if (ir_graph_fix_sym(g, names[k], val[k])) return -1;
    return 0;
}

int ir_error(ir_graph_t *g, const ir_node_t *n, const char *fmt, ...) {
    char msg[IR_ERR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ir_diag_add(&g->diags, IR_SEV_ERROR, g->path, n ? n->name : NULL, n ? n->op_type : NULL, "%s", msg);
    ir_diag_t e = {IR_SEV_ERROR, g->path, n ? n->name : NULL, n ? n->op_type : NULL, msg};
    ir_diag_format(&e, g->err, sizeof g->err);
    return -1;
}

/* ---------------------------------------------------------------- toposort */
int ir_graph_toposort(ir_graph_t *g) {
    int nv = g->n_values, nn = g->n_nodes;
    for (int i = 0; i < nv; i++) g->values[i]->producer = NULL;
    for (int i = 0; i < nn; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_out; k++) {
            ir_value_t *v = n->out[k];
            if (!v) continue;
            if (v->producer) return ir_error(g, n, "output '%s' is also produced by node '%s'", v->name, v->producer->name);
            if (v->is_input || v->data) return ir_error(g, n, "output '%s' is also a graph input or initializer", v->name);
            v->producer = n;
        }
    }
    /* Kahn's algorithm over nodes; pending[i] = inputs of node i not yet available. */
    int *pending = calloc((size_t)nn + 1, sizeof(int));
    char *ready_val = calloc((size_t)nv + 1, 1);
    ir_node_t **order = malloc(sizeof(ir_node_t *) * ((size_t)nn + 1));
    int *queue = malloc(sizeof(int) * ((size_t)nn + 1));
    if (!pending || !ready_val || !order || !queue) {
        free(pending); free(ready_val); free(order); free(queue);
        return ir_error(g, NULL, "out of memory");
    }
    for (int i = 0; i < nv; i++) {
        ir_value_t *v = g->values[i];
        if (!v->producer) ready_val[v->id] = 1;
    }
    int rc = 0, nq = 0, head = 0, no = 0, live = 0;
    for (int i = 0; i < nn && rc == 0; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        live++;
        for (int k = 0; k < n->n_in; k++) {
            ir_value_t *v = n->in[k];
            if (!v) continue;
            if (!v->producer && !v->is_input && !v->data)
                rc = ir_error(g, n, "input '%s' is not defined by any node, graph input or initializer", v->name);
            else if (!ready_val[v->id])
                pending[i]++;
        }
        for (int k = 0; k < n->n_post; k++) {
            ir_value_t *v = n->post[k].other;
            if (v && !ready_val[v->id]) pending[i]++;
        }
        if (pending[i] == 0) queue[nq++] = i;
    }
    /* consumer index: value id -> list of consuming node slots (with multiplicity) */
    int *cstart = calloc((size_t)nv + 2, sizeof(int)), *cnode = NULL;
    if (!cstart) rc = ir_error(g, NULL, "out of memory");
    int total = 0;
    for (int i = 0; i < nn && rc == 0; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        for (int q = 0; q < n->n_in; q++) if (n->in[q]) cstart[n->in[q]->id + 1]++, total++;
        for (int q = 0; q < n->n_post; q++) if (n->post[q].other) cstart[n->post[q].other->id + 1]++, total++;
    }
    if (rc == 0) {
        for (int i = 0; i < nv; i++) cstart[i + 1] += cstart[i];
        cnode = malloc(sizeof(int) * ((size_t)total + 1));
        int *fill = calloc((size_t)nv + 1, sizeof(int));
        if (!cnode || !fill) rc = ir_error(g, NULL, "out of memory");
        for (int i = 0; i < nn && rc == 0; i++) {
            ir_node_t *n = g->nodes[i];
            if (n->dead) continue;
            for (int q = 0; q < n->n_in; q++) if (n->in[q]) { int id = n->in[q]->id; cnode[cstart[id] + fill[id]++] = i; }
            for (int q = 0; q < n->n_post; q++) if (n->post[q].other) { int id = n->post[q].other->id; cnode[cstart[id] + fill[id]++] = i; }
        }
        free(fill);
    }
    while (rc == 0 && head < nq) {
        ir_node_t *n = g->nodes[queue[head++]];
        order[no++] = n;
        for (int k = 0; k < n->n_out; k++) {
            ir_value_t *v = n->out[k];
            if (!v || ready_val[v->id]) continue;
            ready_val[v->id] = 1;
            for (int c = cstart[v->id]; c < cstart[v->id + 1]; c++) {
                int j = cnode[c];
                if (--pending[j] == 0) queue[nq++] = j;
            }
        }
    }
    free(cstart);
    free(cnode);
    if (rc == 0 && no != live) {
        ir_node_t *stuck = NULL;
        for (int i = 0; i < nn; i++)
            if (!g->nodes[i]->dead && pending[i] > 0) { stuck = g->nodes[i]; break; }
        rc = ir_error(g, stuck, "the graph has a cycle (this node depends on its own output)");
    }
    if (rc == 0) {
        if (no > 0) memcpy(g->nodes, order, sizeof(ir_node_t *) * (size_t)no);
        g->n_nodes = no;
        for (int i = 0; i < no; i++) g->nodes[i]->id = i;
    }
    free(pending); free(ready_val); free(order); free(queue);
    return rc;
}

void ir_graph_recount(ir_graph_t *g) {
    for (int i = 0; i < g->n_values; i++) g->values[i]->n_uses = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]) n->in[k]->n_uses++;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].other) n->post[k].other->n_uses++;
    }
}

void ir_graph_compact(ir_graph_t *g) {
    int j = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->dead) {
            for (int s = 0; s < g->nodes[i]->n_subs; s++) ir_graph_free(g->nodes[i]->subs[s]);
            g->nodes[i]->n_subs = 0;
        }
        if (!g->nodes[i]->dead) {
            g->nodes[j] = g->nodes[i];
            g->nodes[j]->id = j;
            j++;
        }
    }
    g->n_nodes = j;
}

int ir_graph_verify(ir_graph_t *g) {
    char *seen = calloc((size_t)g->n_values + 1, 1);
    if (!seen) return ir_error(g, NULL, "out of memory");
    int rc = 0;
    for (int i = 0; i < g->n_values; i++) {
        ir_value_t *v = g->values[i];
        if (!v->producer) seen[v->id] = 1;
    }
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        int mi, xi, mo, xo;
        ir_op_arity(n->op, &mi, &xi, &mo, &xo);
        if (n->op >= IR_OP_COUNT) { rc = ir_error(g, n, "invalid op"); break; }
        if (n->n_in < mi || n->n_in > xi) { rc = ir_error(g, n, "has %d inputs, expected %d to %d", n->n_in, mi, xi); break; }
        if (n->n_out < mo || n->n_out > xo) { rc = ir_error(g, n, "has %d outputs, expected %d to %d", n->n_out, mo, xo); break; }
        for (int k = 0; k < n->n_in && rc == 0; k++) {
            ir_value_t *v = n->in[k];
            if (v && !seen[v->id]) rc = ir_error(g, n, "input '%s' is used before it is defined", v->name);
        }
        for (int k = 0; k < n->n_post && rc == 0; k++) {
            ir_value_t *v = n->post[k].other;
            if (v && !seen[v->id]) rc = ir_error(g, n, "fused operand '%s' is used before it is defined", v->name);
        }
        for (int k = 0; k < n->n_out && rc == 0; k++) {
            ir_value_t *v = n->out[k];
            if (!v) continue;
            if (v->producer != n) rc = ir_error(g, n, "output '%s' has another producer", v->name);
            seen[v->id] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs && rc == 0; i++)
        if (!seen[g->outputs[i]->id]) rc = ir_error(g, NULL, "graph output '%s' is never computed", g->outputs[i]->name);
    free(seen);
    return rc;
}

int ir_node_add_sub(ir_graph_t *g, ir_node_t *n, ir_graph_t *sub) {
    ir_graph_t **ns = ir_arena_alloc(&g->arena, sizeof *ns * (size_t)(n->n_subs + 1));
    if (!ns) return -1;
    if (n->n_subs) memcpy(ns, n->subs, sizeof *ns * (size_t)n->n_subs);
    ns[n->n_subs] = sub;
    n->subs = ns;
    sub->parent = g;
    sub->owner = n;
    return n->n_subs++;
}
