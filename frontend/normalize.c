/* Opset normalisation: the IR only knows each op's newest form, so older encodings are
 * rewritten on import (attributes that later opsets turned into inputs become constant
 * inputs; legacy spellings become current ones). Passes and backends never look at
 * graph->opset to interpret a node. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend_internal.h"
#include "ir/lowp.h"

static const Onnx__AttributeProto *find_attr(const fe_node_t *fn, const char *name)
{
    for (size_t i = 0; fn->np && i < fn->np->n_attribute; i++) {
        const Onnx__AttributeProto *ap = fn->np->attribute[i];
        if (ap && ap->name && !strcmp(ap->name, name)) return ap;
    }
    return NULL;
}

static int drop_attr(fe_ctx_t *c, fe_node_t *fn, const char *name)
{
    if (fn->n_drop >= (int)(sizeof fn->drop / sizeof fn->drop[0]))
        return fe_err(c, "internal: too many attributes rewritten");
    fn->drop[fn->n_drop++] = name;
    return 0;
}

static int add_int_attr(fe_ctx_t *c, fe_node_t *fn, const char *name, int64_t v)
{
    if (fn->n_add >= (int)(sizeof fn->add_name / sizeof fn->add_name[0]))
        return fe_err(c, "internal: too many attributes added");
    fn->add_name[fn->n_add] = name;
    fn->add_val[fn->n_add++] = v;
    return 0;
}

static int add_str_attr(fe_ctx_t *c, fe_node_t *fn, const char *name, const char *v)
{
    if (fn->n_adds >= (int)(sizeof fn->add_sname / sizeof fn->add_sname[0]))
        return fe_err(c, "internal: too many attributes added");
    fn->add_sname[fn->n_adds] = name;
    fn->add_sval[fn->n_adds++] = v;
    return 0;
}

/* Puts v at input slot, padding skipped optional slots with NULL. */
static int set_input(fe_ctx_t *c, fe_node_t *fn, int slot, ir_value_t *v)
{
    if (slot >= (int)fn->np->n_input + FE_EXTRA_IN)
        return fe_err(c, "internal: input slot %d out of range", slot);
    if (slot < fn->n_in && fn->in[slot])
        return fe_err(c, "input %d is given both as an input and as an attribute", slot);
    for (int i = fn->n_in; i < slot; i++) fn->in[i] = NULL;
    fn->in[slot] = v;
    if (fn->n_in <= slot) fn->n_in = slot + 1;
    return 0;
}

static ir_value_t *new_const(fe_ctx_t *c, fe_node_t *fn, const char *what, ir_dtype_t dt,
                             int rank, int64_t len, const void *data, size_t nbytes)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "_%s", what);
    const char *name = fe_fresh_name(c, fn->name, suffix);
    if (!name) return NULL;
    ir_shape_t sh = {.rank = rank};
    if (rank == 1) sh.dims[0] = ir_dim_const(len);
    ir_value_t *v = ir_value_const(c->g, name, dt, &sh, data, nbytes);
    if (!v || fe_map_put(c, v)) {
        fe_err(c, "out of memory");
        return NULL;
    }
    return v;
}

/* An INTS attribute becomes a 1-D int64 constant input. */
static int ints_to_input(fe_ctx_t *c, fe_node_t *fn, const char *attr, int slot, bool required)
{
    const Onnx__AttributeProto *ap = find_attr(fn, attr);
    if (!ap) return required ? fe_err(c, "missing required attribute '%s'", attr) : 0;
    if (ap->n_ints == 0 && ap->has_i) {
        /* A lone int where a list belongs: accept it as a one-element list. */
        ir_value_t *v = new_const(c, fn, attr, IR_I64, 1, 1, &ap->i, sizeof ap->i);
        return v ? set_input(c, fn, slot, v) || drop_attr(c, fn, attr) : -1;
    }
    ir_value_t *v = new_const(c, fn, attr, IR_I64, 1, (int64_t)ap->n_ints, ap->ints,
                              ap->n_ints * sizeof(int64_t));
    if (!v) return -1;
    return set_input(c, fn, slot, v) || drop_attr(c, fn, attr) ? -1 : 0;
}

/* A float attribute becomes a scalar input of x's dtype (Clip/Pad bounds must match the
 * data they apply to); float32 when x's dtype is not known yet. */
static int float_to_input(fe_ctx_t *c, fe_node_t *fn, const char *attr, const char *what,
                          int slot, double val)
{
    ir_dtype_t dt = fn->n_in > 0 && fn->in[0] ? fn->in[0]->dtype : IR_UNDEFINED;
    unsigned char buf[8];
    size_t n = ir_float_scalar_bytes(&dt, val, buf);
    ir_value_t *v = new_const(c, fn, what, dt, 0, 0, buf, n);
    if (!v) return -1;
    return set_input(c, fn, slot, v) || (attr && drop_attr(c, fn, attr)) ? -1 : 0;
}

/* Softmax/LogSoftmax before opset 13 flatten to 2-D at `axis` and normalise over the
 * trailing block. That equals the new per-axis form only when axis is the last dim;
 * otherwise rewrite as Flatten -> Softmax(axis=-1) -> Reshape(Shape(x)). Constant folding
 * removes the Shape when x's shape is static. */
static int softmax_legacy(fe_ctx_t *c, fe_node_t *fn)
{
    /* Malformed nodes are left for the arity check to report. */
    if (fn->n_in != 1 || fn->n_out != 1 || !fn->in[0] || !fn->out[0]) return 0;
    const Onnx__AttributeProto *ap = find_attr(fn, "axis");
    int64_t axis = ap ? ap->i : 1;
    ir_value_t *x = fn->in[0];
    int r = x->shape.rank;
    if (axis == -1 || (r >= 0 && axis == r - 1)) {
        if (!ap) return add_int_attr(c, fn, "axis", 1);
        return 0;
    }
    ir_graph_t *g = c->g;
    const char *n_flat = fe_fresh_name(c, fn->name, "_flat");
    ir_value_t *flat = n_flat ? ir_value_new(g, n_flat, x->dtype, NULL) : NULL;
    if (!flat || fe_map_put(c, flat)) return fe_err(c, "out of memory");
    const char *n_shape = fe_fresh_name(c, fn->name, "_shape");
    ir_value_t *shp = n_shape ? ir_value_new(g, n_shape, IR_I64, NULL) : NULL;
    if (!shp || fe_map_put(c, shp)) return fe_err(c, "out of memory");
    const char *n_2d = fe_fresh_name(c, fn->name, "_2d");
    ir_value_t *s2 = n_2d ? ir_value_new(g, n_2d, fn->out[0]->dtype, NULL) : NULL;
    if (!s2 || fe_map_put(c, s2)) return fe_err(c, "out of memory");

    char nm[512];
    ir_value_t *in1[1] = {x}, *out1[1] = {flat};
    snprintf(nm, sizeof nm, "%.400s/flatten", fn->name);
    fe_node_t h = {.op = IR_OP_FLATTEN, .name = nm, .op_type = "Flatten", .in = in1, .n_in = 1,
                   .out = out1, .n_out = 1};
    if (add_int_attr(c, &h, "axis", axis) || !fe_emit_node(c, &h)) return -1;

    ir_value_t *out2[1] = {shp};
    snprintf(nm, sizeof nm, "%.400s/shape", fn->name);
    fe_node_t hs = {.op = IR_OP_SHAPE, .name = nm, .op_type = "Shape", .in = in1, .n_in = 1,
                    .out = out2, .n_out = 1};
    if (!fe_emit_node(c, &hs)) return -1;

    ir_value_t *in3[2] = {s2, shp}, *out3[1] = {fn->out[0]};
    snprintf(nm, sizeof nm, "%.400s/reshape", fn->name);
    fe_node_t hr = {.op = IR_OP_RESHAPE, .name = nm, .op_type = "Reshape", .in = in3, .n_in = 2,
                    .out = out3, .n_out = 1};
    if (!fe_emit_node(c, &hr)) return -1;

    fn->in[0] = flat;
    fn->out[0] = s2;
    if (ap && drop_attr(c, fn, "axis")) return -1;
    return add_int_attr(c, fn, "axis", -1);
}

/* Before opset 7, binary ops broadcast only with broadcast=1, and `axis` placed B's dims
 * at A's dim `axis` instead of numpy's right alignment. Without axis the two agree; with
 * it, B gains trailing 1-dims so right alignment lands it in the same place. */
static int broadcast_legacy(fe_ctx_t *c, fe_node_t *fn)
{
    const Onnx__AttributeProto *bc = find_attr(fn, "broadcast"), *ax = find_attr(fn, "axis");
    if (bc && drop_attr(c, fn, "broadcast")) return -1;
    if (!ax) return 0;
    if (drop_attr(c, fn, "axis")) return -1;
    if (!bc || !bc->i || fn->n_in != 2 || !fn->in[0] || !fn->in[1]) return 0;
    ir_value_t *a = fn->in[0], *b = fn->in[1];
    if (a->shape.rank < 0 || b->shape.rank < 0)
        return fe_err(c, "legacy broadcast with axis needs both input ranks known");
    int64_t axis = ax->i < 0 ? ax->i + a->shape.rank : ax->i;
    int64_t pad = a->shape.rank - axis - b->shape.rank;
    if (axis < 0 || pad < 0)
        return fe_err(c, "legacy broadcast axis %lld does not fit ranks %d and %d",
                      (long long)ax->i, a->shape.rank, b->shape.rank);
    if (pad == 0) return 0;
    if (b->data) {
        /* A constant is simply re-declared with the extra unit dims. */
        ir_value_t *nb = new_const(c, fn, "bcast", b->dtype, 0, 0, b->data, b->data_size);
        if (!nb) return -1;
        nb->shape = b->shape;
        for (int64_t k = 0; k < pad; k++) nb->shape.dims[nb->shape.rank++] = ir_dim_const(1);
        fn->in[1] = nb;
        return 0;
    }
    int64_t axes[IR_MAX_RANK];
    for (int64_t k = 0; k < pad; k++) axes[k] = b->shape.rank + k;
    ir_value_t *axv = new_const(c, fn, "bcast_axes", IR_I64, 1, pad, axes,
                                (size_t)pad * sizeof(int64_t));
    const char *un = fe_fresh_name(c, fn->name, "_bcast");
    ir_value_t *nb = un ? ir_value_new(c->g, un, b->dtype, NULL) : NULL;
    if (!axv || !nb || fe_map_put(c, nb)) return fe_err(c, "out of memory");
    char nm[512];
    snprintf(nm, sizeof nm, "%.400s/unsqueeze", fn->name);
    ir_value_t *ins[2] = {b, axv}, *outs[1] = {nb};
    fe_node_t h = {.op = IR_OP_UNSQUEEZE, .name = nm, .op_type = "Unsqueeze", .in = ins,
                   .n_in = 2, .out = outs, .n_out = 1};
    if (!fe_emit_node(c, &h)) return -1;
    fn->in[1] = nb;
    return 0;
}

/* PRelu-1..6 applied a 1-D slope per channel (dim 1), not by numpy alignment: a constant
 * slope [C] becomes [C, 1, ..., 1]. */
static int prelu_legacy(fe_ctx_t *c, fe_node_t *fn)
{
    if (fn->n_in != 2 || !fn->in[0] || !fn->in[1]) return 0;
    ir_value_t *x = fn->in[0], *s = fn->in[1];
    if (!s->data || s->shape.rank != 1 || x->shape.rank < 3 || s->shape.dims[0].v <= 1) return 0;
    ir_value_t *ns = new_const(c, fn, "slope", s->dtype, 0, 0, s->data, s->data_size);
    if (!ns) return -1;
    ns->shape = s->shape;
    while (ns->shape.rank < x->shape.rank - 1) ns->shape.dims[ns->shape.rank++] = ir_dim_const(1);
    fn->in[1] = ns;
    return 0;
}

/* Cast-1..5 spelled the target type as a string. */
static int cast_legacy(fe_ctx_t *c, fe_node_t *fn)
{
    const Onnx__AttributeProto *ap = find_attr(fn, "to");
    if (!ap || !ap->has_s) return 0;
    static const struct { const char *s; ir_dtype_t t; } names[] = {
        {"FLOAT", IR_F32}, {"UINT8", IR_U8}, {"INT8", IR_I8}, {"UINT16", IR_U16},
        {"INT16", IR_I16}, {"INT32", IR_I32}, {"INT64", IR_I64}, {"BOOL", IR_BOOL},
        {"FLOAT16", IR_F16}, {"DOUBLE", IR_F64}, {"UINT32", IR_U32}, {"UINT64", IR_U64},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t l = strlen(names[i].s);
        if (ap->s.len == l && !memcmp(ap->s.data, names[i].s, l))
            return drop_attr(c, fn, "to") || add_int_attr(c, fn, "to", names[i].t);
    }
    return fe_err(c, "unsupported Cast target '%.*s'", (int)(ap->s.len > 40 ? 40 : ap->s.len),
                  (const char *)ap->s.data);
}

/* Upsample (opsets 7-9, deprecated in 10) is Resize with scales and asymmetric
 * coordinates, nearest rounding down: Upsample-7's scales attribute, Upsample-9's scales
 * input (slot 1) becomes Resize's scales (slot 2, no roi). */
static int upsample_legacy(fe_ctx_t *c, fe_node_t *fn)
{
    const Onnx__AttributeProto *ap = find_attr(fn, "scales");
    if (find_attr(fn, "height_scale") || find_attr(fn, "width_scale"))
        return fe_err(c, "Upsample-1 (height_scale/width_scale) is not supported; re-export with opset >= 9");
    if (ap) {
        if (fn->n_in > 1) return fe_err(c, "Upsample has scales both as an attribute and as an input");
        ir_value_t *v = new_const(c, fn, "scales", IR_F32, 1, (int64_t)ap->n_floats, ap->floats,
                                  ap->n_floats * sizeof(float));
        if (!v || set_input(c, fn, 2, v) || drop_attr(c, fn, "scales")) return -1;
    } else {
        if (fn->n_in != 2 || !fn->in[1]) return fe_err(c, "Upsample needs its scales input");
        ir_value_t *s = fn->in[1];
        fn->in[1] = NULL;
        fn->n_in = 1;
        if (set_input(c, fn, 2, s)) return -1;
    }
    return add_str_attr(c, fn, "coordinate_transformation_mode", "asymmetric") ||
           add_str_attr(c, fn, "nearest_mode", "floor") ? -1 : 0;
}

/* Ops that older opsets spelled differently but whose meaning a current op has exactly.
 * Scatter (opset 9-10, deprecated in 11) is ScatterElements without the reduction
 * attribute, whose default 'none' is Scatter's behaviour. */
static const struct { const char *name; ir_op_t op; } legacy_ops[] = {
    {"Scatter", IR_OP_SCATTER_ELEMENTS},
    {"Upsample", IR_OP_RESIZE},
};

ir_op_t fe_op_lookup(const char *op_type)
{
    ir_op_t op = ir_op_lookup(op_type);
    for (size_t i = 0; op == IR_OP_COUNT && i < sizeof legacy_ops / sizeof legacy_ops[0]; i++)
        if (!strcmp(op_type, legacy_ops[i].name)) op = legacy_ops[i].op;
    return op;
}

int fe_normalize(fe_ctx_t *c, fe_node_t *fn)
{
    int64_t v = c->opset;
    const Onnx__AttributeProto *ap;
    switch (fn->op) {
    case IR_OP_RESHAPE:
        return v < 5 ? ints_to_input(c, fn, "shape", 1, true) : 0;
    case IR_OP_SQUEEZE:
        return v < 13 ? ints_to_input(c, fn, "axes", 1, false) : 0;
    case IR_OP_UNSQUEEZE:
        return v < 13 ? ints_to_input(c, fn, "axes", 1, true) : 0;
    case IR_OP_SPLIT:
        return v < 13 ? ints_to_input(c, fn, "split", 1, false) : 0;
    case IR_OP_REDUCE_SUM:
        return v < 13 ? ints_to_input(c, fn, "axes", 1, false) : 0;
    case IR_OP_REDUCE_MEAN: case IR_OP_REDUCE_MAX: case IR_OP_REDUCE_MIN: case IR_OP_REDUCE_PROD:
    case IR_OP_REDUCE_L1: case IR_OP_REDUCE_L2: case IR_OP_REDUCE_LOG_SUM: case IR_OP_REDUCE_LOG_SUM_EXP:
    case IR_OP_REDUCE_SUM_SQUARE:
        return v < 18 ? ints_to_input(c, fn, "axes", 1, false) : 0;
    case IR_OP_SLICE:
        if (v >= 10) return 0;
        return ints_to_input(c, fn, "starts", 1, true) || ints_to_input(c, fn, "ends", 2, true) ||
               ints_to_input(c, fn, "axes", 3, false) ? -1 : 0;
    case IR_OP_PAD:
        if (v >= 11) return 0;
        if (find_attr(fn, "pads")) {
            if (ints_to_input(c, fn, "pads", 1, true)) return -1;
        } else if (ints_to_input(c, fn, "paddings", 1, true)) {   /* Pad-1's spelling */
            return -1;
        }
        if ((ap = find_attr(fn, "value")))
            return float_to_input(c, fn, "value", "value", 2, ap->f);
        return 0;
    case IR_OP_CLIP:
        if (v >= 11) return 0;
        /* Only the bounds given become inputs; an absent min stays an empty slot. */
        if ((ap = find_attr(fn, "min")) && float_to_input(c, fn, "min", "min", 1, ap->f))
            return -1;
        if ((ap = find_attr(fn, "max")) && float_to_input(c, fn, "max", "max", 2, ap->f))
            return -1;
        return 0;
    case IR_OP_SOFTMAX: case IR_OP_LOG_SOFTMAX:
        return v < 13 ? softmax_legacy(c, fn) : 0;
    case IR_OP_CAST:
        return v < 6 ? cast_legacy(c, fn) : 0;
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: case IR_OP_POW:
    case IR_OP_AND: case IR_OP_OR: case IR_OP_XOR: case IR_OP_EQUAL: case IR_OP_LESS:
    case IR_OP_GREATER:
        return v < 7 ? broadcast_legacy(c, fn) : 0;
    case IR_OP_PRELU:
        return v < 7 ? prelu_legacy(c, fn) : 0;
    case IR_OP_RESIZE:
        return fn->op_type && !strcmp(fn->op_type, "Upsample") ? upsample_legacy(c, fn) : 0;
    case IR_OP_CONCAT:
        /* Concat-1 defaulted axis to 1; later versions require it. */
        return v < 4 && !find_attr(fn, "axis") ? add_int_attr(c, fn, "axis", 1) : 0;
    default:
        return 0;
    }
}
