/* Inference for QuantizeLinear and DequantizeLinear: the scale's granularity (per tensor,
 * per axis, or blocked along an axis) and the output dtype resolved once
 * (ir_quant_params) for the evaluator and the backends. Quantized types: uint8, int8,
 * uint16, int16, int4/uint4, int2/uint2, the four float8 kinds and float4e2m1 (int32
 * input too for DequantizeLinear). As the reference does, float8 ignores the zero point
 * and float4 adds it as a float before rounding. */
#include <string.h>

#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

static bool quant_int(ir_dtype_t t) { return t == IR_U8 || t == IR_I8 || t == IR_U16 || t == IR_I16; }

/* what QuantizeLinear may produce and DequantizeLinear read */
static bool quant_type(ir_dtype_t t) {
    return quant_int(t) || t == IR_I4 || t == IR_U4 || t == IR_I2 || t == IR_U2 || t == IR_F8E4M3FN ||
           t == IR_F8E4M3FNUZ || t == IR_F8E5M2 || t == IR_F8E5M2FNUZ || t == IR_F4E2M1;
}

int ir_quant_params(ir_graph_t *g, const ir_node_t *n, ir_quant_t *q) {
    const ir_value_t *x = n->in[0], *s = n->in[1], *zp = n->n_in > 2 ? n->in[2] : NULL;
    bool quant = n->op == IR_OP_QUANTIZE_LINEAR;
    int r = x->shape.rank;
    q->block = ir_attr_int(n, "block_size", 0);
    int64_t ax = ir_attr_int(n, "axis", 1), odt = ir_attr_int(n, "output_dtype", 0);
    if (!ir_dtype_is_float(s->dtype)) return ir_error(g, n, "scale '%s' must be floating-point", vname(s));
    if (zp && !ir_shape_is_static(&zp->shape)) return ir_error(g, n, "zero point '%s' must have a static shape", vname(zp));
    int64_t sn = ir_shape_numel(&s->shape);
    if (sn < 0) return ir_error(g, n, "scale '%s' must have a static shape", vname(s));
    if (zp && (ir_shape_numel(&zp->shape) != sn || (zp->shape.rank != s->shape.rank && sn != 1)))
        return ir_error(g, n, "zero point '%s' must have the scale's shape", vname(zp));
    q->axis = 0;
    if (sn == 1 && q->block <= 0 && s->shape.rank <= 1) {
        q->mode = IR_QUANT_TENSOR;
    } else {
        if (ir_norm_axis(ax, r, &q->axis)) return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)ax, r);
        ir_dim_t d = x->shape.dims[q->axis];
        if (!ir_dim_is_const(d)) return ir_error(g, n, "the quantization axis must have a constant size");
        if (q->block > 0) {
            q->mode = IR_QUANT_BLOCKED;
            bool ok = s->shape.rank == r;
            for (int i = 0; ok && i < r; i++)
                ok = i == q->axis ? ir_dim_is_const(s->shape.dims[i]) && s->shape.dims[i].v == (d.v + q->block - 1) / q->block
                                  : ir_dim_eq(s->shape.dims[i], x->shape.dims[i]);
            if (!ok) return ir_error(g, n, "scale '%s' does not match block_size %lld along axis %d", vname(s), (long long)q->block, q->axis);
        } else {
            q->mode = IR_QUANT_AXIS;
            if (s->shape.rank != 1 || sn != d.v)
                return ir_error(g, n, "scale '%s' must have one entry per element of axis %d (%lld)", vname(s), q->axis, (long long)d.v);
        }
    }
    if (quant) {
        if (!ir_dtype_is_float(x->dtype)) return ir_error(g, n, "input must be floating-point, got %s", ir_dtype_name(x->dtype));
        q->out = zp ? zp->dtype : odt ? (ir_dtype_t)odt : IR_U8;
        if (zp && odt && odt != (int64_t)zp->dtype) return ir_error(g, n, "output_dtype %lld differs from the zero point's dtype", (long long)odt);
        if (!quant_type(q->out))
            return ir_error(g, n, "quantizing to %s is not supported (8- and 16-bit, 4- and 2-bit integers, float8, float4)",
                            odt > 0 && odt < IR_DTYPE_MAX ? ir_dtype_name(q->out) : "this type");
    } else {
        if (!quant_type(x->dtype) && x->dtype != IR_I32)
            return ir_error(g, n, "dequantizing %s is not supported (8-, 16- and 32-bit, 4- and 2-bit integers, float8, float4)",
                            x->dtype > 0 && x->dtype < IR_DTYPE_MAX ? ir_dtype_name(x->dtype) : "this type");
        if (zp && zp->dtype != x->dtype) return ir_error(g, n, "zero point '%s' must have the input's dtype", vname(zp));
        q->out = odt ? (ir_dtype_t)odt : s->dtype;
        if (!ir_dtype_is_float(q->out)) return ir_error(g, n, "output_dtype must be floating-point");
    }
    return 0;
}

int ir_infer_quant(ir_graph_t *g, ir_node_t *n) {
    ir_quant_t q;
    if (ir_quant_params(g, n, &q)) return -1;
    n->out[0]->dtype = q.out;
    n->out[0]->shape = n->in[0]->shape;
    return 0;
}

/* MatMulInteger (A, B, a_zero_point, b_zero_point) and QLinearMatMul (a, a_scale, a_zp,
 * b, b_scale, b_zp, y_scale, y_zp): A and B of rank >= 2 with numpy batch broadcasting;
 * zero points and scales per tensor. */
int ir_qmatmul_params(ir_graph_t *g, const ir_node_t *n, ir_qmatmul_t *p) {
    bool ql = n->op == IR_OP_QLINEAR_MATMUL;
    p->a = n->in[0];
    p->b = n->in[ql ? 3 : 1];
    p->azp = n->n_in > 2 ? n->in[2] : NULL;   /* input 2 in both ops */
    p->bzp = ql ? (n->n_in > 5 ? n->in[5] : NULL) : (n->n_in > 3 ? n->in[3] : NULL);
    p->as = ql ? n->in[1] : NULL;
    p->bs = ql ? n->in[4] : NULL;
    p->ys = ql ? n->in[6] : NULL;
    p->yzp = ql && n->n_in > 7 ? n->in[7] : NULL;
    const ir_value_t *a = p->a, *b = p->b;
    for (int i = 0; i < n->n_in; i++) {
        const ir_value_t *v = n->in[i];
        if (!v || v == a || v == b) continue;
        if (ir_shape_numel(&v->shape) != 1)
            return ir_error(g, n, "'%s' must hold one value (per-tensor quantization only)", vname(v));
    }
    if (!quant_int(a->dtype) || !quant_int(b->dtype) || a->dtype == IR_U16 || a->dtype == IR_I16)
        return ir_error(g, n, "inputs must be uint8 or int8, got %s and %s", ir_dtype_name(a->dtype), ir_dtype_name(b->dtype));
    if ((p->azp && p->azp->dtype != a->dtype) || (p->bzp && p->bzp->dtype != b->dtype))
        return ir_error(g, n, "zero points must have their input's dtype");
    if (ql && (!ir_dtype_is_float(p->as->dtype) || p->bs->dtype != p->as->dtype || p->ys->dtype != p->as->dtype))
        return ir_error(g, n, "scales must share one floating-point dtype");
    int ra = a->shape.rank, rb = b->shape.rank;
    if (ra < 2 || rb < 2) return ir_error(g, n, "inputs of rank 1 are not supported");
    if (!ir_dim_eq(a->shape.dims[ra - 1], b->shape.dims[rb - 2]) || !ir_dim_is_const(a->shape.dims[ra - 1]))
        return ir_error(g, n, "inner dimensions differ or are not constant");
    p->K = a->shape.dims[ra - 1].v;
    ir_shape_t ba = a->shape, bb = b->shape;
    ba.rank -= 2;
    bb.rank -= 2;
    if (ir_broadcast_shapes(&ba, &bb, &p->out)) return ir_error(g, n, "batch dimensions do not broadcast");
    p->out.dims[p->out.rank++] = a->shape.dims[ra - 2];
    p->out.dims[p->out.rank++] = b->shape.dims[rb - 1];
    p->out_t = ql ? (p->yzp ? p->yzp->dtype : a->dtype) : IR_I32;
    if (ql && !quant_int(p->out_t)) return ir_error(g, n, "y_zero_point must be uint8 or int8");
    return 0;
}

int ir_infer_qmatmul(ir_graph_t *g, ir_node_t *n) {
    ir_qmatmul_t p;
    if (ir_qmatmul_params(g, n, &p)) return -1;
    n->out[0]->dtype = p.out_t;
    n->out[0]->shape = p.out;
    return 0;
}

/* DynamicQuantizeLinear: y (uint8, x's shape), y_scale (float32 scalar), y_zero_point
 * (uint8 scalar). */
int ir_infer_dyn_quant(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    if (x->dtype != IR_F32) return ir_error(g, n, "input must be float32, got %s", ir_dtype_name(x->dtype));
    ir_shape_t sc = {.rank = 0};
    n->out[0]->dtype = IR_U8;
    n->out[0]->shape = x->shape;
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k]) {
            n->out[k]->dtype = k == 1 ? IR_F32 : IR_U8;
            n->out[k]->shape = sc;
        }
    return 0;
}

/* ConvInteger (x, w, x_zero_point, w_zero_point) and QLinearConv (x, x_scale, x_zp, w,
 * w_scale, w_zp, y_scale, y_zp, B): Conv's geometry over zero-point-shifted uint8/int8
 * operands (padding contributes 0 after the shift); w's zero point and scale per tensor
 * or per output channel. */
int ir_qconv_params(ir_graph_t *g, const ir_node_t *n, ir_qconv_t *p) {
    bool ql = n->op == IR_OP_QLINEAR_CONV;
    memset(p, 0, sizeof *p);
    p->x = n->in[0];
    p->w = n->in[ql ? 3 : 1];
    p->xzp = ql ? n->in[2] : (n->n_in > 2 ? n->in[2] : NULL);
    p->wzp = ql ? n->in[5] : (n->n_in > 3 ? n->in[3] : NULL);
    if (ql) {
        p->xs = n->in[1];
        p->ws = n->in[4];
        p->ys = n->in[6];
        p->yzp = n->in[7];
        p->bias = n->n_in > 8 ? n->in[8] : NULL;
    }
    const ir_value_t *x = p->x, *w = p->w;
    if ((x->dtype != IR_U8 && x->dtype != IR_I8) || (w->dtype != IR_U8 && w->dtype != IR_I8))
        return ir_error(g, n, "x and w must be uint8 or int8, got %s and %s", ir_dtype_name(x->dtype), ir_dtype_name(w->dtype));
    if (x->shape.rank < 3 || w->shape.rank != x->shape.rank || !ir_shape_is_static(&w->shape))
        return ir_error(g, n, "x must be (N, C, spatial...) and w (M, C/group, kernel...) with a static shape");
    if (ir_window_params(g, n, &x->shape, &w->shape, &p->win)) return -1;
    p->M = w->shape.dims[0].v;
    p->Cg = w->shape.dims[1].v;
    if (p->win.group < 1 || p->M % p->win.group || !ir_dim_is_const(x->shape.dims[1]) || x->shape.dims[1].v != p->Cg * p->win.group)
        return ir_error(g, n, "channels of x and w do not match group %lld", (long long)p->win.group);
    if (p->xzp && ir_shape_numel(&p->xzp->shape) != 1) return ir_error(g, n, "x's zero point must be one value");
    const ir_value_t *per[3] = {p->wzp, p->ws, p->bias};
    for (int i = 0; i < 3; i++) {
        int64_t c = per[i] ? ir_shape_numel(&per[i]->shape) : 1;
        if (c != 1 && c != p->M) return ir_error(g, n, "'%s' must hold one value or one per output channel", vname(per[i]));
    }
    if (ql && (ir_shape_numel(&p->xs->shape) != 1 || ir_shape_numel(&p->ys->shape) != 1 || (p->yzp && ir_shape_numel(&p->yzp->shape) != 1)))
        return ir_error(g, n, "x_scale, y_scale and y_zero_point must be one value each");
    if (p->bias && p->bias->dtype != IR_I32) return ir_error(g, n, "B must be int32");
    p->out_t = ql ? (p->yzp ? p->yzp->dtype : x->dtype) : IR_I32;
    p->out.rank = x->shape.rank;
    p->out.dims[0] = x->shape.dims[0];
    p->out.dims[1] = ir_dim_const(p->M);
    for (int i = 0; i < p->win.ns; i++) {
        if (p->win.out[i] < 1) return ir_error(g, n, "the output would be empty along spatial axis %d", i);
        p->out.dims[2 + i] = ir_dim_const(p->win.out[i]);
    }
    return 0;
}

int ir_infer_qconv(ir_graph_t *g, ir_node_t *n) {
    ir_qconv_t p;
    if (ir_qconv_params(g, n, &p)) return -1;
    n->out[0]->dtype = p.out_t;
    n->out[0]->shape = p.out;
    return 0;
}
