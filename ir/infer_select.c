/* Inference for selection ops whose output shape comes from a constant parameter:
 * TopK (k), OneHot (depth), and ReverseSequence (same shape). The parameters are resolved
 * here once (ir_topk_params, ir_onehot_params) for the evaluator and the backends. A
 * parameter computed at run time is an error naming it, in the wording the conformance
 * runner's --bind retry recognises. */
#include <math.h>
#include <string.h>

#include "ir/infer_int.h"


int ir_topk_params(ir_graph_t *g, const ir_node_t *n, int64_t *k, int *axis) {
    const ir_value_t *x = n->in[0];
    if (n->n_in > 1 && n->in[1]) {
        const ir_value_t *kv = n->in[1];
        if (!kv->data)
            return ir_error(g, n, "input 'K' must be a constant (data-dependent shapes are not supported); "
                            "'%s' is computed at run time", vname(kv));
        if (ir_const_ints(kv, k, 1) != 1) return ir_error(g, n, "input 'K' must be a single int64");
    } else {
        *k = ir_attr_int(n, "k", -1);   /* TopK-1 */
    }
    if (ir_norm_axis(ir_attr_int(n, "axis", -1), x->shape.rank, axis))
        return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)ir_attr_int(n, "axis", -1),
                        x->shape.rank);
    ir_dim_t d = x->shape.dims[*axis];
    if (!ir_dim_is_const(d)) return ir_error(g, n, "the axis TopK selects along must have a constant size");
    if (*k < 0 || *k > d.v)
        return ir_error(g, n, "K = %lld is outside [0, %lld], the size of axis %d", (long long)*k, (long long)d.v, *axis);
    return 0;
}

int ir_infer_topk(ir_graph_t *g, ir_node_t *n) {
    int64_t k;
    int axis;
    ir_shape_t s = n->in[0]->shape;
    const ir_value_t *kv = n->n_in > 1 ? n->in[1] : NULL;
    if (kv && !kv->data) {
        /* K fed at run time (a graph input, or computed from shapes): a dim, checked to be
         * within the axis when the model runs; the kernel reads it from the output's shape */
        ir_dim_t kd;
        if (ir_norm_axis(ir_attr_int(n, "axis", -1), s.rank, &axis))
            return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)ir_attr_int(n, "axis", -1), s.rank);
        if (kv->sval && kv->n_sval == 1) {
            kd = kv->sval[0];
        } else if (kv->is_input && !kv->producer && ir_shape_numel(&kv->shape) == 1 &&
                   (kv->dtype == IR_I64 || kv->dtype == IR_I32)) {
            if (ir_dim_data(g, kv, 0, &kd)) return ir_error(g, n, "too many symbols");
        } else {
            return ir_error(g, n, "input 'K' must be a constant, a graph input or computed from shapes; '%s' is "
                            "computed from tensor values at run time", vname(kv));
        }
        if (ir_shape_check_add(g, IR_CHECK_GE, kd, ir_dim_const(0), n->name) ||
            ir_shape_check_add(g, IR_CHECK_GE, s.dims[axis], kd, n->name))
            return ir_error(g, n, "K is outside the axis it selects along");
        s.dims[axis] = kd;
    } else {
        if (ir_topk_params(g, n, &k, &axis)) return -1;
        s.dims[axis] = ir_dim_const(k);
    }
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    if (n->n_out > 1 && n->out[1]) {
        n->out[1]->dtype = IR_I64;
        n->out[1]->shape = s;
    }
    return 0;
}

int ir_onehot_params(ir_graph_t *g, const ir_node_t *n, int64_t *depth, int *axis) {
    const ir_value_t *d = n->in[1], *vals = n->in[2];
    double dv;
    if (!d->data)
        return ir_error(g, n, "input 'depth' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", vname(d));
    if (ir_const_scalar(d, &dv) || !(dv >= 1) || dv > 1e12)
        return ir_error(g, n, "depth must be one positive number");
    *depth = (int64_t)dv;
    if (ir_shape_numel(&vals->shape) != 2) return ir_error(g, n, "values '%s' must hold exactly 2 elements", vname(vals));
    int r = n->in[0]->shape.rank;
    if (r + 1 > IR_MAX_RANK) return ir_error(g, n, "indices rank %d is too large", r);
    if (ir_norm_axis(ir_attr_int(n, "axis", -1), r + 1, axis))
        return ir_error(g, n, "axis %lld is out of range for output rank %d", (long long)ir_attr_int(n, "axis", -1), r + 1);
    return 0;
}

/* indices' shape with depth inserted at axis; values' dtype */
int ir_infer_onehot(ir_graph_t *g, ir_node_t *n) {
    int64_t depth;
    int axis;
    ir_dim_t dd;
    const ir_value_t *dv = n->in[1];
    if (!dv->data && dv->is_input && !dv->producer && ir_shape_numel(&dv->shape) == 1) {
        /* depth fed at run time: a data symbol (a float one floors: floor(1 * depth)); the
         * kernel reads it from the output's shape */
        if (ir_dim_data(g, dv, 0, &dd)) return ir_error(g, n, "too many symbols");
        if (ir_dtype_is_float(dv->dtype) && ir_dim_floor_mul_f(g, ir_dim_const(1), dd, &dd))
            return ir_error(g, n, "depth must be a number");
        if (ir_shape_check_add(g, IR_CHECK_GE, dd, ir_dim_const(1), n->name)) return ir_error(g, n, "depth must be >= 1");
        int r = n->in[0]->shape.rank;
        if (r + 1 > IR_MAX_RANK) return ir_error(g, n, "indices rank %d is too large", r);
        if (ir_shape_numel(&n->in[2]->shape) != 2)
            return ir_error(g, n, "values '%s' must hold exactly 2 elements", vname(n->in[2]));
        if (ir_norm_axis(ir_attr_int(n, "axis", -1), r + 1, &axis))
            return ir_error(g, n, "axis %lld is out of range for output rank %d", (long long)ir_attr_int(n, "axis", -1), r + 1);
    } else {
        if (ir_onehot_params(g, n, &depth, &axis)) return -1;
        dd = ir_dim_const(depth);
    }
    const ir_shape_t *is = &n->in[0]->shape;
    ir_shape_t s = {.rank = is->rank + 1};
    for (int i = 0, j = 0; i < s.rank; i++) s.dims[i] = i == axis ? dd : is->dims[j++];
    n->out[0]->dtype = n->in[2]->dtype;
    n->out[0]->shape = s;
    return 0;
}

int ir_reverse_seq_params(ir_graph_t *g, const ir_node_t *n, int *batch_axis, int *time_axis) {
    const ir_value_t *x = n->in[0], *sl = n->in[1];
    int r = x->shape.rank;
    if (r < 2) return ir_error(g, n, "input must have rank >= 2, got %d", r);
    int64_t ba = ir_attr_int(n, "batch_axis", 1), ta = ir_attr_int(n, "time_axis", 0);
    if ((ba != 0 && ba != 1) || (ta != 0 && ta != 1) || ba == ta)
        return ir_error(g, n, "batch_axis %lld and time_axis %lld must be 0 and 1 in some order", (long long)ba,
                        (long long)ta);
    *batch_axis = (int)ba;
    *time_axis = (int)ta;
    if (sl->shape.rank != 1 || !ir_dim_eq(sl->shape.dims[0], x->shape.dims[ba]))
        return ir_error(g, n, "sequence_lens '%s' must have one entry per batch element", vname(sl));
    return 0;
}

int ir_infer_reverse_sequence(ir_graph_t *g, ir_node_t *n) {
    int ba, ta;
    if (ir_reverse_seq_params(g, n, &ba, &ta)) return -1;
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = n->in[0]->shape;
    return 0;
}

/* Compress: the kept positions come from the constant condition (bool, 1-D): its true
 * entries, among the first min(len(condition), axis size); no axis: over x flattened. */
int ir_compress_params(ir_graph_t *g, const ir_node_t *n, int *axis, int64_t *count) {
    const ir_value_t *x = n->in[0], *c = n->in[1];
    if (!c->data)
        return ir_error(g, n, "input 'condition' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", vname(c));
    if (c->dtype != IR_BOOL || c->shape.rank != 1) return ir_error(g, n, "condition '%s' must be a 1-D bool tensor", vname(c));
    const ir_attr_t *a = ir_attr_find(n, "axis");
    int64_t len;
    if (a) {
        if (ir_norm_axis(a->i, x->shape.rank, axis)) return ir_error(g, n, "axis %lld is out of range", (long long)a->i);
        if (!ir_dim_is_const(x->shape.dims[*axis])) return ir_error(g, n, "the compressed axis must have a constant size");
        len = x->shape.dims[*axis].v;
    } else {
        *axis = -1;
        len = ir_shape_numel(&x->shape);
        if (len < 0) return ir_error(g, n, "Compress without an axis needs a static input shape");
    }
    int64_t cn = ir_shape_numel(&c->shape);
    if (cn > len) return ir_error(g, n, "condition has %lld entries for %lld positions", (long long)cn, (long long)len);
    *count = 0;
    for (int64_t i = 0; i < cn; i++) *count += ((const uint8_t *)c->data)[i] != 0;
    return 0;
}

int ir_infer_compress(ir_graph_t *g, ir_node_t *n) {
    int axis;
    int64_t cnt = 0;
    const ir_value_t *c = n->in[1], *x = n->in[0];
    if (!c->data) {
        /* a condition known only when the model runs: the kept count is a run-time count,
         * at most the compressed axis (the buffer is sized by it) */
        if (c->dtype != IR_BOOL || c->shape.rank != 1)
            return ir_error(g, n, "condition '%s' must be a 1-D bool tensor", vname(c));
        const ir_attr_t *a = ir_attr_find(n, "axis");
        ir_shape_t s = x->shape;
        ir_dim_t bound = ir_dim_const(1);
        if (a) {
            if (ir_norm_axis(a->i, x->shape.rank, &axis)) return ir_error(g, n, "axis %lld is out of range", (long long)a->i);
            bound = s.dims[axis];
        } else {
            for (int d = 0; d < s.rank; d++)
                if (ir_dim_mul(g, bound, s.dims[d], &bound)) return ir_error(g, n, "input is too large");
            s.rank = 1;
            axis = 0;
        }
        ir_dim_t cd;
        if (ir_dim_runtime(g, n->out[0], bound, &cd)) return ir_error(g, n, "too many symbols");
        s.dims[axis] = cd;
        n->out[0]->dtype = x->dtype;
        n->out[0]->shape = s;
        return 0;
    }
    if (ir_compress_params(g, n, &axis, &cnt)) return -1;
    ir_shape_t s = n->in[0]->shape;
    if (axis < 0) s.rank = 1, axis = 0;
    s.dims[axis] = ir_dim_const(cnt);
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}

/* Unique: Y (the distinct elements, or the distinct slices along axis), indices (first
 * occurrence of each), inverse_indices (for each element or slice, its entry in Y) and
 * counts. How many are distinct is a run-time count. Its bound also reserves the kernel's
 * scratch in Y's buffer: an int64 per slice past the distinct values (see
 * backends/llvm/lower_select.c), so the bound is L * (1 + ceil(8 / element size)) + 8. */
int ir_unique_params(ir_graph_t *g, const ir_node_t *n, int *axis, ir_dim_t *len, ir_dim_t *slice) {
    const ir_value_t *x = n->in[0];
    const ir_attr_t *a = ir_attr_find(n, "axis");
    *axis = -1;
    *slice = ir_dim_const(1);
    if (x->shape.rank < 0) return ir_error(g, n, "input '%s' has an unknown rank", vname(x));
    if (a) {
        if (ir_norm_axis(a->i, x->shape.rank, axis)) return ir_error(g, n, "axis %lld is out of range", (long long)a->i);
        *len = x->shape.dims[*axis];
        for (int d = 0; d < x->shape.rank; d++)
            if (d != *axis && ir_dim_mul(g, *slice, x->shape.dims[d], slice)) return ir_error(g, n, "input is too large");
        if (ir_dim_lower_bound(g, *slice) < 1)
            return ir_error(g, n, "Unique along axis %d of %s: slices with no elements are not supported", *axis,
                            SHP(&x->shape));
    } else {
        *len = ir_dim_const(1);
        for (int d = 0; d < x->shape.rank; d++)
            if (ir_dim_mul(g, *len, x->shape.dims[d], len)) return ir_error(g, n, "input is too large");
    }
    return 0;
}

int ir_infer_unique(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    if (x->dtype == IR_STRING) return ir_error(g, n, "string inputs are not supported");
    int axis;
    ir_dim_t len, slice, bound, cnt;
    if (ir_unique_params(g, n, &axis, &len, &slice)) return -1;
    int64_t es = (int64_t)ir_dtype_size(x->dtype);
    if (es < 1) return ir_error(g, n, "dtype %s is not supported", ir_dtype_name(x->dtype));
    if (ir_dim_mul(g, len, ir_dim_const(1 + (8 + es - 1) / es), &bound) || ir_dim_add(g, bound, ir_dim_const(8), &bound) ||
        ir_dim_runtime(g, n->out[0], bound, &cnt))
        return ir_error(g, n, "input %s is too large", SHP(&x->shape));
    ir_shape_t y = {.rank = 1}, c = {.rank = 1}, inv = {.rank = 1};
    y.dims[0] = c.dims[0] = cnt;
    inv.dims[0] = len;
    if (axis >= 0) {
        y = x->shape;
        y.dims[axis] = cnt;
    }
    set_out(n, 0, x->dtype, &y);
    set_out(n, 1, IR_I64, &c);
    set_out(n, 2, IR_I64, &inv);
    set_out(n, 3, IR_I64, &c);
    return 0;
}

/* NonMaxSuppression: selected_indices [count, 3] (batch, class, box), count known when the
 * kernel has run. The bound, batches x classes x boxes rows, is one row per candidate;
 * boxes more rows follow it as the kernel's scratch (each class's sorted candidates). */
int ir_infer_nms(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *b = n->in[0], *s = n->in[1];
    if (b->shape.rank != 3 || s->shape.rank != 3)
        return ir_error(g, n, "boxes %s and scores %s must be 3-D ([batches, boxes, 4], [batches, classes, boxes])",
                        SHP(&b->shape), SHP(&s->shape));
    if (!ir_dim_is_const(b->shape.dims[2]) || b->shape.dims[2].v != 4)
        return ir_error(g, n, "boxes %s must have 4 coordinates per box", SHP(&b->shape));
    if (!ir_dim_eq(b->shape.dims[0], s->shape.dims[0]) || !ir_dim_eq(b->shape.dims[1], s->shape.dims[2]))
        return ir_error(g, n, "boxes %s and scores %s disagree on batches or boxes", SHP(&b->shape), SHP(&s->shape));
    if (s->dtype != b->dtype) return ir_error(g, n, "boxes and scores must have the same dtype");
    int64_t cpb = ir_attr_int(n, "center_point_box", 0);
    if (cpb != 0 && cpb != 1) return ir_error(g, n, "center_point_box must be 0 or 1, is %lld", (long long)cpb);
    for (int i = 2; i < n->n_in; i++) {
        const ir_value_t *v = n->in[i];
        if (v && ir_shape_is_static(&v->shape) && ir_shape_numel(&v->shape) != 1)
            return ir_error(g, n, "input %d ('%s') must hold one value, has shape %s", i, vname(v), SHP(&v->shape));
        if (v && i == 2 && v->dtype != IR_I64) return ir_error(g, n, "max_output_boxes_per_class must be int64");
        if (v && i > 2 && !ir_dtype_is_float(v->dtype)) return ir_error(g, n, "input %d ('%s') must be float", i, vname(v));
    }
    ir_dim_t bound, cnt;
    if (ir_dim_mul(g, s->shape.dims[0], s->shape.dims[1], &bound) || ir_dim_mul(g, bound, s->shape.dims[2], &bound) ||
        ir_dim_add(g, bound, s->shape.dims[2], &bound) || ir_dim_runtime(g, n->out[0], bound, &cnt))
        return ir_error(g, n, "scores %s are too large", SHP(&s->shape));
    ir_shape_t o = {.rank = 2};
    o.dims[0] = cnt;
    o.dims[1] = ir_dim_const(3);
    set_out(n, 0, IR_I64, &o);
    return 0;
}
