/* Reference evaluations of TopK, OneHot and ReverseSequence, over plain loops with the
 * kernels' rules (backends/llvm/lower_select.c): TopK orders by value, ties by the lower
 * index first, in both directions (as onnxruntime and the ONNX reference do), and writes
 * the sorted order whatever 'sorted' says; OneHot counts negative indices from the end
 * of depth and leaves out-of-range ones all 'off'; ReverseSequence reverses the first
 * sequence_lens[b] steps of each batch entry (lengths clamped to the time axis). */
#include "passes/eval_int.h"

/* a comes before b in TopK's order (values va/vb at indices ia < ib or not) */
static bool topk_before(ir_dtype_t t, const void *p, int64_t a, int64_t b, bool largest) {
    int c;
    if (ir_dtype_is_float(t)) {
        double x = ld_f(t, p, a), y = ld_f(t, p, b);
        c = x > y ? 1 : x < y ? -1 : 0;
    } else if (ir_dtype_is_signed(t)) {
        int64_t x = ld_i(t, p, a), y = ld_i(t, p, b);
        c = x > y ? 1 : x < y ? -1 : 0;
    } else {
        uint64_t x = (uint64_t)ld_i(t, p, a), y = (uint64_t)ld_i(t, p, b);
        c = x > y ? 1 : x < y ? -1 : 0;
    }
    if (c == 0) return a < b;
    return largest ? c > 0 : c < 0;
}

int eval_topk(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t k;
    int axis;
    if (ir_topk_params(g, n, &k, &axis)) return -1;
    const ir_value_t *x = n->in[0];
    int64_t D = s.d[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < s.r; i++) inner *= s.d[i];
    for (int i = 0; i < axis; i++) outer *= s.d[i];
    if (!work_ok(outer * inner, D * D)) return 0;
    sh_t o = s;
    o.d[axis] = k;
    if (!res_alloc(g, &r[0], x->dtype, &o)) return 0;
    if (n->n_out > 1 && n->out[1] && !res_alloc(g, &r[1], IR_I64, &o)) return 0;
    bool largest = ir_attr_int(n, "largest", 1) != 0;
    size_t es = ir_dtype_size(x->dtype);
    for (int64_t a = 0; a < outer; a++)
        for (int64_t c = 0; c < inner; c++) {
            int64_t base = a * D * inner + c;
            /* the rank of each element is the number of elements ordered before it */
            for (int64_t i = 0; i < D; i++) {
                int64_t rank = 0, xi = base + i * inner;
                for (int64_t j = 0; j < D; j++)
                    rank += j != i && topk_before(x->dtype, x->data, base + j * inner, xi, largest);
                if (rank >= k) continue;
                int64_t oi = a * k * inner + rank * inner + c;
                cp_el(r[0].buf, oi, x->data, xi, es);
                if (r[1].buf) ((int64_t *)r[1].buf)[oi] = i;
            }
        }
    return 1;
}

int eval_onehot(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, sv;
    if (!in_const(n, 0, &s) || !in_const(n, 2, &sv)) return 0;
    int64_t depth;
    int axis;
    if (ir_onehot_params(g, n, &depth, &axis)) return -1;
    const ir_value_t *ind = n->in[0], *vals = n->in[2];
    sh_t o = {s.r + 1, {0}};
    for (int i = 0, j = 0; i < o.r; i++) o.d[i] = i == axis ? depth : s.d[j++];
    if (!res_alloc(g, &r[0], vals->dtype, &o)) return 0;
    int64_t inner = 1;
    for (int i = axis + 1; i < o.r; i++) inner *= o.d[i];
    size_t es = ir_dtype_size(vals->dtype);
    for (int64_t e = 0; e < r[0].numel; e++) {
        int64_t c = e % inner, j = (e / inner) % depth, a = e / inner / depth;
        int64_t idx = ld_i(ind->dtype, ind->data, a * inner + c);
        if (idx < 0) idx += depth;
        cp_el(r[0].buf, e, vals->data, idx == j ? 1 : 0, es);
    }
    return 1;
}

int eval_reverse_sequence(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, sl;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &sl)) return 0;
    int ba, ta;
    if (ir_reverse_seq_params(g, n, &ba, &ta)) return -1;
    const ir_value_t *x = n->in[0];
    if (!res_alloc(g, &r[0], x->dtype, &s)) return 0;
    int64_t st[IR_MAX_RANK];
    row_strides(&s, st);
    size_t es = ir_dtype_size(x->dtype);
    for (int64_t e = 0; e < r[0].numel; e++) {
        int64_t t = (e / st[ta]) % s.d[ta], b = (e / st[ba]) % s.d[ba];
        int64_t len = ld_i(n->in[1]->dtype, n->in[1]->data, b);
        len = len < 0 ? 0 : len > s.d[ta] ? s.d[ta] : len;
        int64_t src = t < len ? e + (len - 1 - 2 * t) * st[ta] : e;
        cp_el(r[0].buf, e, x->data, src, es);
    }
    return 1;
}

int eval_compress(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int axis;
    int64_t cnt = 0;
    if (ir_compress_params(g, n, &axis, &cnt)) return -1;
    const ir_value_t *x = n->in[0], *c = n->in[1];
    sh_t o = s;
    if (axis < 0) {
        o.r = 1;
        o.d[0] = sh_numel(&s);
        s = o;
        axis = 0;
    }
    int64_t D = s.d[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < s.r; i++) inner *= s.d[i];
    for (int i = 0; i < axis; i++) outer *= s.d[i];
    o.d[axis] = cnt;
    if (!res_alloc(g, r, x->dtype, &o)) return 0;
    size_t es = ir_dtype_size(x->dtype);
    int64_t cn = ir_shape_numel(&c->shape), j = 0;
    for (int64_t i = 0; i < cn; i++) {
        if (!((const uint8_t *)c->data)[i]) continue;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t q = 0; q < inner; q++) cp_el(r->buf, (a * cnt + j) * inner + q, x->data, (a * D + i) * inner + q, es);
        j++;
    }
    return 1;
}
