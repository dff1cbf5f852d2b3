/* ModelProto -> ir_graph_t: graph structure, names, types, validation. Tensor decoding
 * lives in tensor.c and opset rewrites in normalize.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "frontend/frontend_internal.h"

/* ModelProtos over 2 GiB are invalid (protobuf's limit); big weights use external data. */
#define FE_MAX_MODEL_BYTES ((size_t)INT32_MAX)

size_t fe_test_arena_limit;

/* ---------------------------------------------------------------- errors and names */
int fe_err(fe_ctx_t *c, const char *fmt, ...)
{
    /* A node's first failure makes the rest of the conversion meaningless; what follows
     * ("conversion failed", a missing output) would only repeat it. */
    if (c->failed) return -1;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    ir_diag_addv(c->diags, IR_SEV_ERROR, c->path, c->cur_node, c->cur_node ? (c->cur_op ? c->cur_op : "?") : NULL,
                 fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t fe_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

ir_value_t *fe_map_get(const fe_ctx_t *c, const char *name)
{
    if (!c->map_cap || !name) return NULL;
    size_t m = c->map_cap - 1;
    for (size_t i = fe_hash(name) & m; c->map[i].key; i = (i + 1) & m)
        if (!strcmp(c->map[i].key, name)) return c->map[i].v;
    return NULL;
}

static void map_insert(fe_map_entry_t *map, size_t cap, ir_value_t *v)
{
    size_t m = cap - 1, i = fe_hash(v->name) & m;
    while (map[i].key && strcmp(map[i].key, v->name)) i = (i + 1) & m;
    map[i].key = v->name;
    map[i].v = v;
}

int fe_map_put(fe_ctx_t *c, ir_value_t *v)
{
    /* ir_value_new can hand back a value whose name copy failed. */
    if (!v || !v->name) return fe_err(c, "out of memory");
    if ((c->map_n + 1) * 2 > c->map_cap) {
        size_t nc = c->map_cap ? c->map_cap * 2 : 256;
        fe_map_entry_t *nm = calloc(nc, sizeof *nm);
        if (!nm) return fe_err(c, "out of memory");
        for (size_t i = 0; i < c->map_cap; i++)
            if (c->map[i].key) map_insert(nm, nc, c->map[i].v);
        free(c->map);
        c->map = nm;
        c->map_cap = nc;
    }
    map_insert(c->map, c->map_cap, v);
    c->map_n++;
    return 0;
}

const char *fe_fresh_name(fe_ctx_t *c, const char *base, const char *suffix)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%.400s%s", base, suffix);
    for (int k = 1; fe_map_get(c, buf); k++)
        snprintf(buf, sizeof buf, "%.400s%s_%d", base, suffix, k);
    const char *s = ir_arena_strdup(&c->g->arena, buf);
    if (!s) fe_err(c, "out of memory");
    return s;
}

/* The model's name becomes C symbols in generated code. */
static const char *c_ident(fe_ctx_t *c, const char *name)
{
    char buf[128];
    size_t n = 0;
    if (!name || !*name) {
        /* Fall back to the file's stem: "nets/resnet50.onnx" -> "resnet50". */
        const char *b = strrchr(c->path, '/');
        name = b ? b + 1 : c->path;
    }
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".onnx")) len -= 5;
    if (*name >= '0' && *name <= '9') buf[n++] = 'm';
    for (size_t i = 0; i < len && n + 1 < sizeof buf; i++) {
        unsigned char ch = (unsigned char)name[i];
        buf[n++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_' ? (char)ch : '_';
    }
    buf[n] = 0;
    if (!n || !strcmp(buf, "_memory_")) strcpy(buf, "model");
    return ir_arena_strdup(&c->g->arena, buf);
}

static bool default_domain(const char *d)
{
    return !d || !*d || !strcmp(d, "ai.onnx");
}

/* ---------------------------------------------------------------- unsupported ops */
#define FE_MAX_LABELS 32
#define FE_MAX_LISTED 8

static void label_of(const Onnx__NodeProto *np, char *buf, size_t n)
{
    const char *op = np->op_type ? np->op_type : "";
    if (default_domain(np->domain))
        snprintf(buf, n, "%.100s", op);
    else
        snprintf(buf, n, "%.100s.%.100s", np->domain, op);
}

static bool op_supported(const Onnx__NodeProto *np)
{
    return default_domain(np->domain) && np->op_type && fe_op_lookup(np->op_type) != IR_OP_COUNT;
}

/* One message naming every unsupported op and where it is used, so a user learns the
 * whole gap in one run. Bounded: at most FE_MAX_LABELS types, FE_MAX_LISTED names each. */
static int check_ops(fe_ctx_t *c, const Onnx__GraphProto *gp, const char **names)
{
    size_t first[FE_MAX_LABELS];
    int nl = 0, more_types = 0;
    char a[256], b[256];
    for (size_t i = 0; i < gp->n_node; i++) {
        if (op_supported(gp->node[i])) continue;
        label_of(gp->node[i], a, sizeof a);
        int k;
        for (k = 0; k < nl; k++) {
            label_of(gp->node[first[k]], b, sizeof b);
            if (!strcmp(a, b)) break;
        }
        if (k < nl) continue;
        if (nl < FE_MAX_LABELS) first[nl++] = i;
        else more_types++;
    }
    if (!nl) return 0;
    /* One diagnostic, not one per node: the list of gaps reads as one sentence. */
    char msg[IR_ERR_MAX];
    size_t len = 0, cap = sizeof msg;
#define APPEND(...) do { if (len < cap) { int w_ = snprintf(msg + len, cap - len, __VA_ARGS__); \
                          if (w_ > 0) len += (size_t)w_; } } while (0)
    for (int k = 0; k < nl; k++) {
        label_of(gp->node[first[k]], a, sizeof a);
        int count = 0;
        for (size_t i = first[k]; i < gp->n_node; i++) {
            if (op_supported(gp->node[i])) continue;
            label_of(gp->node[i], b, sizeof b);
            if (!strcmp(a, b)) count++;
        }
        APPEND("%s%s (node%s ", k ? ", " : "", a, count > 1 ? "s" : "");
        int listed = 0;
        for (size_t i = first[k]; i < gp->n_node && listed < FE_MAX_LISTED; i++) {
            if (op_supported(gp->node[i])) continue;
            label_of(gp->node[i], b, sizeof b);
            if (strcmp(a, b)) continue;
            APPEND("%s'%.200s'", listed ? ", " : "", names[i]);
            listed++;
        }
        if (count > listed) APPEND(" and %d more", count - listed);
        APPEND(")");
    }
    if (more_types) APPEND(" and %d more op types", more_types);
#undef APPEND
    return fe_err(c, "unsupported ops: %s", msg);
}

/* ---------------------------------------------------------------- types */
/* Reads a value's declared tensor type. strict: a graph input, where a missing or
 * unsupported type is an error; otherwise the type is only a hint and *dt stays
 * IR_UNDEFINED when unusable. */
static int read_type(fe_ctx_t *c, const Onnx__ValueInfoProto *vi, bool strict, ir_dtype_t *dt,
                     ir_shape_t *shape)
{
    *dt = IR_UNDEFINED;
    shape->rank = -1;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        if (!strict) return 0;
        if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
            return fe_err(c, "input '%s' has no type", vi->name);
        return fe_err(c, "input '%s' is not a tensor (sequence, map, optional and sparse "
                      "inputs are unsupported)", vi->name);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    if (!fe_dtype_supported(et, dt)) {
        *dt = IR_UNDEFINED;
        if (strict)
            return fe_err(c, "input '%s' has unsupported element type %s (%d)", vi->name,
                          fe_onnx_type_name(et), et);
        return 0;
    }
    const Onnx__TensorShapeProto *sp = tt->shape;
    /* A hint or not, a negative extent is no shape at all: say so rather than guess. */
    for (size_t k = 0; sp && k < sp->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[k];
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value < 0)
            return fe_err(c, "value '%s': dim %zu is negative (%lld)", vi->name, k,
                          (long long)d->dim_value);
    }
    if (!strict || !sp) return 0;
    if (sp->n_dim > IR_MAX_RANK)
        return fe_err(c, "input '%s': rank %zu exceeds the maximum of %d", vi->name, sp->n_dim,
                      IR_MAX_RANK);
    shape->rank = (int)sp->n_dim;
    /* Sizes the generated code can index (the run-time symbol cap is the same 2^40): a
     * dim of 2^63 - 1 only makes every shape computation downstream overflow. */
    int64_t numel = 1;
    for (size_t k = 0; k < sp->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[k];
        if (!d || d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) continue;
        if (d->dim_value > FE_MAX_DIM || __builtin_mul_overflow(numel, d->dim_value, &numel) ||
            numel > FE_MAX_DIM)
            return fe_err(c, "input '%s': dim %zu (%lld) makes the tensor larger than 2^40 "
                          "elements", vi->name, k, (long long)d->dim_value);
    }
    for (size_t k = 0; k < sp->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[k];
        char fresh[512];
        const char *sym = NULL;
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0) {
            shape->dims[k] = ir_dim_const(d->dim_value);
            continue;
        }
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
            d->dim_param && *d->dim_param) {
            sym = d->dim_param;
        } else {
            snprintf(fresh, sizeof fresh, "%.400s_dim%zu", vi->name, k);
            sym = fresh;
        }
        int s = ir_graph_add_sym(c->g, sym);
        if (s < 0) return fe_err(c, "out of memory");
        shape->dims[k].v = 1;
        shape->dims[k].sym = s;
    }
    return 0;
}

/* ---------------------------------------------------------------- attributes */
static const char *arena_bytes(fe_ctx_t *c, const ProtobufCBinaryData *b)
{
    char *s = ir_arena_alloc(&c->g->arena, b->len + 1);
    if (s && b->len) memcpy(s, b->data, b->len);
    return s;
}

static int attr_kind(const Onnx__AttributeProto *ap)
{
    if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return ap->type;
    /* IR version 1 files have no type field: infer it from the field in use. */
    if (ap->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (ap->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (ap->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (ap->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (ap->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (ap->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (ap->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (ap->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    if (ap->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static int convert_subgraph(fe_ctx_t *c, ir_node_t *n, const char *attr, const Onnx__GraphProto *gp,
                            ir_graph_t **out);
static int convert_graph_proto(fe_ctx_t *c, const Onnx__GraphProto *gp, bool have_opset);

static int convert_attr(fe_ctx_t *c, ir_node_t *n, const Onnx__AttributeProto *ap)
{
    if (!ap->name || !*ap->name) return fe_err(c, "attribute without a name");
    if (ap->ref_attr_name && *ap->ref_attr_name)
        return fe_err(c, "attribute '%s' refers to a function attribute; unsupported outside "
                      "functions", ap->name);
    int k = attr_kind(ap);
    static const ir_attr_kind_t map[] = {
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT] = IR_ATTR_FLOAT,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT] = IR_ATTR_INT,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING] = IR_ATTR_STRING,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR] = IR_ATTR_TENSOR,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS] = IR_ATTR_FLOATS,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS] = IR_ATTR_INTS,
        [ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS] = IR_ATTR_STRINGS,
    };
    switch (k) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: {
        if (n->op != IR_OP_IF && n->op != IR_OP_LOOP && n->op != IR_OP_SCAN)
            return fe_err(c, "attribute '%s' holds a subgraph; only If, Loop and Scan take one", ap->name);
        if (!ap->g) return fe_err(c, "attribute '%s' holds no graph", ap->name);
        ir_attr_t *a = ir_node_add_attr(c->g, n, ap->name, IR_ATTR_GRAPH);
        if (!a || !a->name) return fe_err(c, "out of memory");
        ir_graph_t *sub = NULL;
        if (convert_subgraph(c, n, ap->name, ap->g, &sub)) return -1;
        int idx = ir_node_add_sub(c->g, n, sub);
        if (idx < 0) {
            ir_graph_free(sub);
            return fe_err(c, "out of memory");
        }
        a->i = idx;
        return 0;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        return fe_err(c, "attribute '%s' holds a list of subgraphs (SequenceMap); unsupported",
                      ap->name);
    default:
        return fe_err(c, "attribute '%s' has unsupported type %d", ap->name, k);
    }
    ir_attr_t *a = ir_node_add_attr(c->g, n, ap->name, map[k]);
    if (!a || !a->name) return fe_err(c, "out of memory");
    ir_arena_t *ar = &c->g->arena;
    switch (a->kind) {
    case IR_ATTR_FLOAT: a->f = ap->f; break;
    case IR_ATTR_INT: a->i = ap->i; break;
    case IR_ATTR_STRING:
        if (!(a->s = arena_bytes(c, &ap->s))) return fe_err(c, "out of memory");
        break;
    case IR_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        if (!(a->floats = ir_arena_alloc(ar, sizeof(double) * ap->n_floats)))
            return fe_err(c, "out of memory");
        for (size_t i = 0; i < ap->n_floats; i++) a->floats[i] = ap->floats[i];
        break;
    case IR_ATTR_INTS:
        a->n = (int)ap->n_ints;
        if (!(a->ints = ir_arena_alloc(ar, sizeof(int64_t) * ap->n_ints)))
            return fe_err(c, "out of memory");
        if (ap->n_ints) memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
        break;
    case IR_ATTR_STRINGS:
        a->n = (int)ap->n_strings;
        if (!(a->strings = ir_arena_alloc(ar, sizeof(char *) * ap->n_strings)))
            return fe_err(c, "out of memory");
        for (size_t i = 0; i < ap->n_strings; i++)
            if (!(a->strings[i] = arena_bytes(c, &ap->strings[i])))
                return fe_err(c, "out of memory");
        break;
    case IR_ATTR_TENSOR: {
        if (!ap->t) return fe_err(c, "attribute '%s' has no tensor", ap->name);
        char base[512];
        snprintf(base, sizeof base, "%.200s_%.200s", n->name, ap->name);
        const char *vn = fe_fresh_name(c, base, "");
        if (!vn || !(a->t = fe_tensor_to_value(c, ap->t, vn))) return -1;
        if (fe_map_put(c, a->t)) return -1;
        break;
    }
    default:
        break;
    }
    return 0;
}

ir_node_t *fe_emit_node(fe_ctx_t *c, fe_node_t *fn)
{
    ir_node_t *n = ir_node_new(c->g, fn->op, fn->name, fn->n_in, fn->n_out);
    if (!n || !(n->op_type = ir_arena_strdup(&c->g->arena, fn->op_type))) {
        fe_err(c, "out of memory");
        return NULL;
    }
    for (int i = 0; i < fn->n_in; i++) n->in[i] = fn->in[i];
    for (int i = 0; i < fn->n_out; i++) {
        n->out[i] = fn->out[i];
        if (fn->out[i]) fn->out[i]->producer = n;
    }
    for (size_t i = 0; fn->np && i < fn->np->n_attribute; i++) {
        const Onnx__AttributeProto *ap = fn->np->attribute[i];
        bool drop = false;
        for (int d = 0; d < fn->n_drop && !drop; d++)
            drop = ap && ap->name && !strcmp(ap->name, fn->drop[d]);
        if (!ap || drop) continue;
        if (convert_attr(c, n, ap)) return NULL;
    }
    for (int i = 0; i < fn->n_add; i++) {
        ir_attr_t *a = ir_node_add_attr(c->g, n, fn->add_name[i], IR_ATTR_INT);
        if (!a || !a->name) {
            fe_err(c, "out of memory");
            return NULL;
        }
        a->i = fn->add_val[i];
    }
    for (int i = 0; i < fn->n_adds; i++) {
        ir_attr_t *a = ir_node_add_attr(c->g, n, fn->add_sname[i], IR_ATTR_STRING);
        if (!a || !a->name || !(a->s = ir_arena_strdup(&c->g->arena, fn->add_sval[i]))) {
            fe_err(c, "out of memory");
            return NULL;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- Constant nodes */
static ir_value_t *convert_constant(fe_ctx_t *c, const Onnx__NodeProto *np, const char *oname)
{
    if (np->n_input)
        return fe_err(c, "Constant takes no inputs, has %zu", np->n_input), NULL;
    if (np->n_attribute != 1 || !np->attribute[0] || !np->attribute[0]->name)
        return fe_err(c, "Constant needs exactly one value attribute, has %zu",
                      np->n_attribute), NULL;
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *an = ap->name;
    ir_shape_t sh = {.rank = 0};
    if (!strcmp(an, "value")) {
        if (!ap->t) return fe_err(c, "attribute 'value' has no tensor"), NULL;
        return fe_tensor_to_value(c, ap->t, oname);
    }
    if (!strcmp(an, "value_float")) {
        float f = ap->f;
        return ir_value_const(c->g, oname, IR_F32, &sh, &f, sizeof f);
    }
    if (!strcmp(an, "value_int"))
        return ir_value_const(c->g, oname, IR_I64, &sh, &ap->i, sizeof ap->i);
    if (!strcmp(an, "value_floats")) {
        sh.rank = 1;
        sh.dims[0] = ir_dim_const((int64_t)ap->n_floats);
        return ir_value_const(c->g, oname, IR_F32, &sh, ap->floats, ap->n_floats * sizeof(float));
    }
    if (!strcmp(an, "value_ints")) {
        sh.rank = 1;
        sh.dims[0] = ir_dim_const((int64_t)ap->n_ints);
        return ir_value_const(c->g, oname, IR_I64, &sh, ap->ints, ap->n_ints * sizeof(int64_t));
    }
    if (!strcmp(an, "value_string") || !strcmp(an, "value_strings"))
        return fe_err(c, "string constants are unsupported"), NULL;
    if (!strcmp(an, "sparse_value"))
        return fe_err(c, "sparse constants are unsupported"), NULL;
    return fe_err(c, "unknown Constant attribute '%s'", an), NULL;
}

/* ---------------------------------------------------------------- the graph */
static bool empty(const char *s) { return !s || !*s; }

static int define_value(fe_ctx_t *c, ir_value_t *v)
{
    if (!v) return c->failed ? -1 : fe_err(c, "out of memory");
    return fe_map_put(c, v);
}

/* Pass 1: every name a node defines, so inputs resolve whatever the node order. */
static int define_node_outputs(fe_ctx_t *c, const Onnx__NodeProto *np)
{
    bool is_const = default_domain(np->domain) && !strcmp(np->op_type, "Constant");
    if (is_const && (np->n_output != 1 || empty(np->output[0])))
        return fe_err(c, "Constant must have exactly one named output");
    for (size_t k = 0; k < np->n_output; k++) {
        const char *on = np->output[k];
        if (empty(on)) continue;
        if (fe_map_get(c, on)) return fe_err(c, "output '%s' is already defined", on);
        ir_value_t *v = is_const ? convert_constant(c, np, on)
                                 : ir_value_new(c->g, on, IR_UNDEFINED, NULL);
        if (define_value(c, v)) return -1;
    }
    return 0;
}

/* Pass 2: resolve, normalise, check arity, emit. */
static int convert_node(fe_ctx_t *c, const Onnx__NodeProto *np, const char *name)
{
    fe_node_t fn = {.np = np, .op = fe_op_lookup(np->op_type), .name = name,
                    .op_type = np->op_type};
    int n_in = (int)np->n_input, n_out = (int)np->n_output, rc = -1;
    while (n_in > 0 && empty(np->input[n_in - 1])) n_in--;
    while (n_out > 0 && empty(np->output[n_out - 1])) n_out--;
    fn.in = calloc((size_t)n_in + FE_EXTRA_IN, sizeof *fn.in);
    fn.out = calloc((size_t)n_out + 1, sizeof *fn.out);
    if (!fn.in || !fn.out) {
        fe_err(c, "out of memory");
        goto out;
    }
    for (int i = 0; i < n_in; i++) {
        if (empty(np->input[i])) continue;   /* omitted optional input */
        if (!(fn.in[i] = fe_resolve(c, np->input[i]))) {
            fe_err(c, "input '%s' is not defined (no graph input, initializer or node "
                   "produces it%s)", np->input[i], c->outer ? ", here or in an enclosing graph" : "");
            goto out;
        }
    }
    fn.n_in = n_in;
    for (int k = 0; k < n_out; k++) {
        if (!empty(np->output[k])) {
            fn.out[k] = fe_map_get(c, np->output[k]);
            continue;
        }
        /* A skipped output between used ones still needs storage. */
        const char *vn = fe_fresh_name(c, name, "_unused");
        if (!vn || define_value(c, fn.out[k] = ir_value_new(c->g, vn, IR_UNDEFINED, NULL)))
            goto out;
    }
    fn.n_out = n_out;
    if (fe_normalize(c, &fn)) goto out;
    int mi, xi, mo, xo;
    ir_op_arity(fn.op, &mi, &xi, &mo, &xo);
    if (fn.n_in < mi || fn.n_in > xi) {
        if (mi == xi) fe_err(c, "expects %d input%s, has %d", mi, mi == 1 ? "" : "s", fn.n_in);
        else fe_err(c, "expects %d to %d inputs, has %d", mi, xi, fn.n_in);
        goto out;
    }
    for (int i = 0; i < mi; i++)
        if (!fn.in[i]) {
            fe_err(c, "input %d is required but empty", i);
            goto out;
        }
    if (fn.n_out < mo || fn.n_out > xo) {
        if (mo == xo) fe_err(c, "expects %d output%s, has %d", mo, mo == 1 ? "" : "s", fn.n_out);
        else fe_err(c, "expects %d to %d outputs, has %d", mo, xo, fn.n_out);
        goto out;
    }
    ir_node_t *node = fe_emit_node(c, &fn);
    if (!node) goto out;
    char why[256];
    if (ir_node_check_attrs(node, why, sizeof why)) {
        fe_err(c, "%s", why);
        goto out;
    }
    rc = 0;
out:
    free(fn.in);
    free(fn.out);
    return rc;
}

ir_value_t *fe_resolve(fe_ctx_t *c, const char *name)
{
    ir_value_t *v = fe_map_get(c, name);
    if (v || !c->outer || c->failed) return v;
    ir_value_t *ov = fe_resolve(c->outer, name);
    if (!ov) return NULL;
    if (ov->data) {
        /* an outer constant: the subgraph gets its own copy, which it may fold */
        v = ir_value_const(c->g, ov->name, ov->dtype, &ov->shape, ov->data, ov->data_size);
        return define_value(c, v) ? NULL : v;
    }
    if (c->n_imp == c->cap_imp) {
        int nc = c->cap_imp ? 2 * c->cap_imp : 8;
        ir_value_t **a = realloc(c->imp_outer, sizeof *a * (size_t)nc), **b;
        if (a) c->imp_outer = a;
        b = a ? realloc(c->imp_inner, sizeof *b * (size_t)nc) : NULL;
        if (!b) return fe_err(c, "out of memory"), NULL;
        c->imp_inner = b;
        c->cap_imp = nc;
    }
    ir_shape_t unknown = {.rank = -1};
    v = ir_value_new(c->g, ov->name, ov->dtype, &unknown);
    if (define_value(c, v)) return NULL;
    v->is_input = true;
    c->imp_outer[c->n_imp] = ov;
    c->imp_inner[c->n_imp++] = v;
    return v;
}

/* Attribute `attr` of node n holds graph gp: converted into a graph of its own, which n
 * takes as its input values the subgraph reads from outside. */
static int convert_subgraph(fe_ctx_t *c, ir_node_t *n, const char *attr, const Onnx__GraphProto *gp,
                            ir_graph_t **out)
{
    *out = NULL;
    if (c->depth + 1 >= FE_MAX_GRAPH_DEPTH)
        return fe_err(c, "subgraphs nest more than %d deep", FE_MAX_GRAPH_DEPTH);
    char where[512];
    snprintf(where, sizeof where, "%.200s: node '%.120s' (%.40s) attribute '%.60s'", c->path, n->name,
             n->op_type ? n->op_type : "?", attr);
    fe_ctx_t *s = calloc(1, sizeof *s);
    ir_graph_t *g = s ? ir_graph_new(where) : NULL;
    if (!g) {
        free(s);
        return fe_err(c, "out of memory");
    }
    g->arena.limit = c->g->arena.limit;
    s->g = g;
    s->path = g->path;
    s->model_dir = c->model_dir;
    s->opset = c->opset;
    s->diags = c->diags;
    s->outer = c;
    s->depth = c->depth + 1;
    g->opset = c->opset;
    g->depth = s->depth;
    int rc = convert_graph_proto(s, gp, true);
    if (rc == 0) {
        g->n_formal = g->n_inputs;
        g->imp_first = n->n_in;
        ir_value_t **gi = realloc(g->inputs, sizeof *gi * (size_t)(g->n_inputs + s->n_imp + 1));
        ir_value_t **ni = ir_arena_alloc(&c->g->arena, sizeof *ni * (size_t)(n->n_in + s->n_imp + 1));
        if (gi) g->inputs = gi;
        if (!gi || !ni) {
            rc = fe_err(s, "out of memory");
        } else {
            for (int i = 0; i < s->n_imp; i++) {
                s->imp_inner[i]->index = g->n_inputs;
                g->inputs[g->n_inputs++] = s->imp_inner[i];
            }
            if (n->n_in) memcpy(ni, n->in, sizeof *ni * (size_t)n->n_in);
            for (int i = 0; i < s->n_imp; i++) ni[n->n_in + i] = s->imp_outer[i];
            n->in = ni;
            n->n_in += s->n_imp;
        }
    }
    if (rc) {
        if (!s->failed && !ir_diags_has_errors(&g->diags)) fe_err(s, "conversion failed");
        ir_diags_move(c->diags, &g->diags);
        c->failed = true;
        ir_graph_free(g);
    } else {
        *out = g;
    }
    free(s->map);
    free(s->imp_outer);
    free(s->imp_inner);
    free(s);
    return rc;
}

/* The graph now holds a copy; dropping the parsed bytes early halves peak memory on
 * big models. protobuf-c allocates them with malloc (default allocator) and skips NULL
 * fields when freeing the message. */
static void release_payload(Onnx__TensorProto *t)
{
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    free(t->float_data);
    t->float_data = NULL;
    t->n_float_data = 0;
}

static int convert_graph(fe_ctx_t *c, Onnx__ModelProto *m)
{
    const Onnx__GraphProto *gp = m->graph;
    ir_graph_t *g = c->g;
    bool have_opset = false;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        if (os && default_domain(os->domain)) {
            c->opset = os->version;
            have_opset = true;
        }
    }
    /* IR version < 3 predates opset_import and means opset 1. */
    if (!have_opset && m->has_ir_version && m->ir_version < 3) {
        c->opset = 1;
        have_opset = true;
    }
    if (have_opset && (c->opset < 1 || c->opset > FE_MAX_OPSET)) {
        return fe_err(c, "imports opset %lld of domain 'ai.onnx'; this compiler supports "
                      "versions 1 to %d", (long long)c->opset, FE_MAX_OPSET);
    }
    g->opset = c->opset;
    return convert_graph_proto(c, gp, have_opset);
}

/* One GraphProto into c->g: the model's graph or (c->outer set) a subgraph, whose inputs
 * may lack types (the owner's inference gives them) and whose nodes may read outer values. */
static int convert_graph_proto(fe_ctx_t *c, const Onnx__GraphProto *gp, bool have_opset)
{
    ir_graph_t *g = c->g;
    if (!(g->name = c_ident(c, gp->name))) return fe_err(c, "out of memory");
    if (gp->n_sparse_initializer) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[0];
        return fe_err(c, "sparse initializer '%s' is unsupported",
                      sp && sp->values && sp->values->name ? sp->values->name : "?");
    }

    /* Node names first: messages about any node must name it. */
    const char **names = calloc(gp->n_node + 1, sizeof *names);
    if (!names) return fe_err(c, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (!np || empty(np->op_type)) {
            fe_err(c, "node %zu has no op_type", i);
            goto out;
        }
        char buf[256];
        snprintf(buf, sizeof buf, "%.200s_%zu", np->op_type, i);
        names[i] = ir_arena_strdup(&g->arena, empty(np->name) ? buf : np->name);
        if (!names[i]) {
            fe_err(c, "out of memory");
            goto out;
        }
    }
    if (check_ops(c, gp, names)) goto out;
    if (!have_opset) {
        fe_err(c, "model imports no opset for the default ONNX domain");
        goto out;
    }

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t || empty(t->name)) {
            fe_err(c, "initializer %zu has no name", i);
            goto out;
        }
        if (fe_map_get(c, t->name)) {
            fe_err(c, "initializer '%s' is defined twice", t->name);
            goto out;
        }
        if (define_value(c, fe_tensor_to_value(c, t, t->name))) goto out;
        release_payload(gp->initializer[i]);
    }

    g->inputs = calloc(gp->n_input + 1, sizeof *g->inputs);   /* freed by ir_graph_free */
    g->outputs = calloc(gp->n_output + 1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs) {
        fe_err(c, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi || empty(vi->name)) {
            fe_err(c, "graph input %zu has no name", i);
            goto out;
        }
        ir_value_t *v = fe_map_get(c, vi->name);
        if (v && v->data) continue;   /* an initializer: a constant, not the caller's */
        if (v) {
            fe_err(c, "graph input '%s' is listed twice", vi->name);
            goto out;
        }
        ir_dtype_t dt;
        ir_shape_t sh;
        if (read_type(c, vi, !c->outer, &dt, &sh)) goto out;
        if (c->outer && dt == IR_UNDEFINED) sh.rank = -1;
        if (define_value(c, v = ir_value_new(g, vi->name, dt, &sh))) goto out;
        v->is_input = true;
        v->index = g->n_inputs;
        g->inputs[g->n_inputs++] = v;
    }

    for (size_t i = 0; i < gp->n_node; i++) {
        c->cur_node = names[i];
        c->cur_op = gp->node[i]->op_type;
        if (define_node_outputs(c, gp->node[i])) goto out;
    }
    c->cur_node = NULL;

    /* value_info is a dtype hint only; shapes come from inference. */
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        ir_value_t *v = vi ? fe_map_get(c, vi->name) : NULL;
        ir_dtype_t dt;
        ir_shape_t sh;
        if (!v) continue;
        if (read_type(c, vi, false, &dt, &sh)) goto out;
        if (!v->data && !v->is_input && v->dtype == IR_UNDEFINED) v->dtype = dt;
    }

    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (default_domain(np->domain) && !strcmp(np->op_type, "Constant")) continue;
        c->cur_node = names[i];
        c->cur_op = np->op_type;
        if (convert_node(c, np, names[i])) goto out;
    }
    c->cur_node = NULL;

    if (!gp->n_output) {
        fe_err(c, "graph has no outputs");
        goto out;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        ir_value_t *v = vi && vi->name ? fe_resolve(c, vi->name) : NULL;
        if (c->failed) goto out;
        if (!v) {
            fe_err(c, "graph output '%s' is not produced by any node, input or initializer",
                   vi && vi->name ? vi->name : "");
            goto out;
        }
        if (v->is_output) {
            fe_err(c, "graph output '%s' is listed twice", vi->name);
            goto out;
        }
        ir_dtype_t dt;
        ir_shape_t sh;
        if (read_type(c, vi, false, &dt, &sh)) goto out;
        if (v->dtype == IR_UNDEFINED) v->dtype = dt;
        v->is_output = true;
        g->outputs[g->n_outputs++] = v;
    }

    /* (With no nodes there is nothing to order; toposort would memcpy from NULL.) */
    if (g->n_nodes && ir_graph_toposort(g)) {
        ir_diags_move(c->diags, &g->diags);
        c->failed = true;
        goto out;
    }
    ir_graph_recount(g);
    rc = 0;
out:
    free(names);
    return rc;
}

/* owned: buf itself when the caller hands it over; freed as soon as it is parsed so the
 * file, the parsed message and the graph's copy of the weights never coexist. */
static int load_buffer(const void *buf, size_t n, void *owned, const char *path_for_messages,
                       const char *model_dir, ir_graph_t **out, ir_diags_t *diags)
{
    fe_ctx_t *c = calloc(1, sizeof *c);
    if (out) *out = NULL;
    if (!c) {
        free(owned);
        return ir_diag_add(diags, IR_SEV_ERROR, path_for_messages ? path_for_messages : "<memory>", NULL, NULL,
                           "out of memory");
    }
    c->diags = diags;
    c->path = path_for_messages ? path_for_messages : "<memory>";
    c->model_dir = model_dir;
    Onnx__ModelProto *m = NULL;
    int rc = -1;
    if (!out) {
        fe_err(c, "no output graph pointer given");
    } else if (n == 0 || !buf) {
        fe_err(c, "empty file, not an ONNX model");
    } else if (n > FE_MAX_MODEL_BYTES) {
        fe_err(c, "model is %zu bytes, over protobuf's 2 GiB limit (use external data)", n);
    } else if (fe_wire_check(c, &onnx__model_proto__descriptor, buf, n)) {
        /* refused before protobuf-c recursed or allocated: c->failed says why */
    } else if (!(m = onnx__model_proto__unpack(NULL, n, buf))) {
        fe_err(c, "not a valid ONNX model (protobuf parse failed: truncated or corrupt file?)");
    }
    free(owned);
    if (!c->failed) {
        if (!m->graph)
            fe_err(c, "not a valid ONNX model (no graph)");
        else if (!(c->g = ir_graph_new(c->path)))
            fe_err(c, "out of memory");
        else {
            c->g->arena.limit = fe_test_arena_limit;
            rc = convert_graph(c, m);
        }
    }
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    free(c->map);
    if (rc) {
        /* What the IR itself reported (ir_error on c->g) comes back with the rest. */
        bool said = c->failed || (c->g && ir_diags_has_errors(&c->g->diags));
        if (c->g) ir_diags_move(diags, &c->g->diags);
        if (!said) fe_err(c, "conversion failed");
        ir_graph_free(c->g);
    } else {
        *out = c->g;
    }
    free(c);
    return rc;
}

int frontend_load_model_buffer(const void *buf, size_t n, const char *path_for_messages,
                               const char *model_dir, ir_graph_t **out, ir_diags_t *diags)
{
    return load_buffer(buf, n, NULL, path_for_messages, model_dir, out, diags);
}

/* Reads a whole file; *dir gets its folder. */
static char *read_file(const char *path, size_t *len, char **dir, ir_diags_t *diags)
{
    const char *p = path ? path : "<null>";
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0) {
        ir_diag_add(diags, IR_SEV_ERROR, p, NULL, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        ir_diag_add(diags, IR_SEV_ERROR, p, NULL, NULL, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > FE_MAX_MODEL_BYTES) {
        ir_diag_add(diags, IR_SEV_ERROR, p, NULL, NULL,
                    "file is %lld bytes, over protobuf's 2 GiB limit (use external data)",
                    (long long)st.st_size);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n ? n : 1);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != n) {
        ir_diag_add(diags, IR_SEV_ERROR, p, NULL, NULL, "%s", buf ? "read failed" : "out of memory");
        free(buf);
        return NULL;
    }
    /* Room for "." when path has no folder part. */
    size_t pl = strlen(path);
    *dir = malloc(pl + 2);
    if (!*dir) {
        free(buf);
        ir_diag_add(diags, IR_SEV_ERROR, p, NULL, NULL, "out of memory");
        return NULL;
    }
    memcpy(*dir, path, pl + 1);
    char *slash = strrchr(*dir, '/');
    if (!slash) strcpy(*dir, ".");
    else if (slash == *dir) (*dir)[1] = 0;
    else *slash = 0;
    *len = n;
    return buf;
}

int frontend_load_model(const char *path, ir_graph_t **out, ir_diags_t *diags)
{
    if (out) *out = NULL;
    size_t n;
    char *dir, *buf = read_file(path, &n, &dir, diags);
    if (!buf) return -1;
    int rc = load_buffer(buf, n, buf, path, dir, out, diags);
    free(dir);
    return rc;
}

int frontend_load_tensor(const char *path, ir_graph_t *g, ir_value_t **out, ir_diags_t *diags)
{
    if (out) *out = NULL;
    size_t n;
    char *dir, *buf = read_file(path, &n, &dir, diags);
    if (!buf) return -1;
    fe_ctx_t *c = calloc(1, sizeof *c);
    Onnx__TensorProto *t = NULL;
    int rc = -1;
    if (!c) {
        ir_diag_add(diags, IR_SEV_ERROR, path, NULL, NULL, "out of memory");
        goto done;
    }
    c->diags = diags;
    c->path = path;
    c->model_dir = dir;
    c->g = g;
    if (!g || !out)
        fe_err(c, "no graph or output pointer given");
    else if (fe_wire_check(c, &onnx__tensor_proto__descriptor, (const uint8_t *)buf, n))
        ;
    else if (!(t = onnx__tensor_proto__unpack(NULL, n, (const uint8_t *)buf)))
        fe_err(c, "not a valid TensorProto (protobuf parse failed)");
    else {
        /* The tensor keeps its own name; a fresh one only if it has none or clashes. */
        const char *name = empty(t->name) ? "tensor" : t->name;
        if (ir_value_find(g, name)) {
            char buf2[512];
            for (int k = 1;; k++) {
                snprintf(buf2, sizeof buf2, "%.400s_%d", name, k);
                if (!ir_value_find(g, buf2)) break;
            }
            name = ir_arena_strdup(&g->arena, buf2);
        }
        if (name && (*out = fe_tensor_to_value(c, t, name))) rc = 0;
        else if (!c->failed) fe_err(c, "out of memory");
        /* A --bind tensor is an input of the compile like the model: depfiles list it. */
        if (rc == 0 && ir_graph_note_file(g, path) != 0) {
            rc = -1;
            fe_err(c, "out of memory");
        }
    }
done:
    if (t) onnx__tensor_proto__free_unpacked(t, NULL);
    free(c);
    free(buf);
    free(dir);
    return rc;
}

int frontend_bind_input(ir_graph_t *g, const char *name, const char *path)
{
    int idx = -1;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->inputs[i]->name, name) == 0) idx = i;
    if (idx < 0) return ir_error(g, NULL, "--bind: the model has no input named '%s'", name);
    ir_value_t *t = NULL;
    if (frontend_load_tensor(path, g, &t, &g->diags)) return -1;
    ir_value_t *in = g->inputs[idx];
    bool ok = t->dtype == in->dtype && t->shape.rank == in->shape.rank;
    for (int d = 0; ok && d < in->shape.rank; d++)
        ok = in->shape.dims[d].sym >= 0 || in->shape.dims[d].v == t->shape.dims[d].v;
    if (!ok) {
        char a[128], b[128];
        ir_shape_str(g, &in->shape, a, sizeof a);
        ir_shape_str(g, &t->shape, b, sizeof b);
        return ir_error(g, NULL, "--bind %s: expected %s%s, %s holds %s%s", name, ir_dtype_name(in->dtype), a, path,
                        ir_dtype_name(t->dtype), b);
    }
    /* The input becomes a constant with the file's contents and exact shape. */
    in->data = t->data;
    in->data_size = t->data_size;
    in->shape = t->shape;
    in->is_input = false;
    for (int i = idx; i + 1 < g->n_inputs; i++) g->inputs[i] = g->inputs[i + 1];
    g->n_inputs--;
    return 0;
}
