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

/* ---------------------------------------------------------------- Unique */
/* Three-way comparison of elements a and b of type t. */
static int cmp_el(ir_dtype_t t, const void *p, int64_t a, int64_t b) {
    if (ir_dtype_is_float(t)) {
        double x = ld_f(t, p, a), y = ld_f(t, p, b);
        return x > y ? 1 : x < y ? -1 : 0;
    }
    if (ir_dtype_is_signed(t)) {
        int64_t x = ld_i(t, p, a), y = ld_i(t, p, b);
        return x > y ? 1 : x < y ? -1 : 0;
    }
    uint64_t x = (uint64_t)ld_i(t, p, a), y = (uint64_t)ld_i(t, p, b);
    return x > y ? 1 : x < y ? -1 : 0;
}

/* slices a and b along the axis ([outer][len][inner]), compared lexicographically */
static int cmp_slice(ir_dtype_t t, const void *p, int64_t len, int64_t inner, int64_t S, int64_t a, int64_t b) {
    for (int64_t e = 0; e < S; e++) {
        int64_t o = e / inner, i = e % inner;
        int c = cmp_el(t, p, (o * len + a) * inner + i, (o * len + b) * inner + i);
        if (c) return c;
    }
    return 0;
}

/* As the kernel: first[j] is the first slice equal to j; the distinct slices are the j
 * with first[j] == j, in value order (sorted) or in order of first occurrence. */
int eval_unique(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    const ir_value_t *x = n->in[0];
    int axis = -1;
    const ir_attr_t *a = ir_attr_find(n, "axis");
    if (a && ir_norm_axis(a->i, s.r, &axis)) return 0;
    int64_t len = axis < 0 ? sh_numel(&s) : s.d[axis], inner = 1, S = axis < 0 ? 1 : sh_numel(&s) / (len ? len : 1);
    if (axis >= 0 && len == 0) S = 0;
    for (int d = axis + 1; axis >= 0 && d < s.r; d++) inner *= s.d[d];
    if (axis < 0) inner = 1;
    if (S < 1 && len > 0) return 0;
    if (!work_ok(len, len) || !work_ok(len * len, S)) return 0;
    bool sorted = ir_attr_int(n, "sorted", 1) != 0;
    int64_t *first = malloc(sizeof(int64_t) * (size_t)(len ? len : 1)), *slot = malloc(sizeof(int64_t) * (size_t)(len ? len : 1));
    if (!first || !slot) {
        free(first);
        free(slot);
        return 0;
    }
    int64_t cnt = 0;
    for (int64_t j = 0; j < len; j++) {
        first[j] = j;
        for (int64_t i = 0; i < j && first[j] == j; i++)
            if (!cmp_slice(x->dtype, x->data, len, inner, S, i, j)) first[j] = i;
        cnt += first[j] == j;
    }
    for (int64_t j = 0, seen = 0; j < len; j++) {
        if (first[j] != j) continue;
        int64_t k = 0;
        if (sorted) {
            for (int64_t i = 0; i < len; i++) k += first[i] == i && cmp_slice(x->dtype, x->data, len, inner, S, i, j) < 0;
        } else {
            k = seen++;
        }
        slot[j] = k;
    }
    sh_t ys = s, cs = {1, {cnt}}, is = {1, {len}};
    if (axis < 0) ys = cs;
    else ys.d[axis] = cnt;
    int ok = res_alloc(g, &r[0], x->dtype, &ys) && (n->n_out < 2 || !n->out[1] || res_alloc(g, &r[1], IR_I64, &cs)) &&
             (n->n_out < 3 || !n->out[2] || res_alloc(g, &r[2], IR_I64, &is)) &&
             (n->n_out < 4 || !n->out[3] || res_alloc(g, &r[3], IR_I64, &cs));
    if (ok) {
        size_t es = ir_dtype_size(x->dtype);
        int64_t outer = S / (inner ? inner : 1);
        if (r[3].buf) memset(r[3].buf, 0, sizeof(int64_t) * (size_t)cnt);
        for (int64_t j = 0; j < len; j++) {
            int64_t k = slot[first[j]];
            if (r[2].buf) ((int64_t *)r[2].buf)[j] = k;
            if (r[3].buf) ((int64_t *)r[3].buf)[k]++;
            if (first[j] != j) continue;
            if (r[1].buf) ((int64_t *)r[1].buf)[k] = j;
            for (int64_t o = 0; o < outer; o++)
                for (int64_t i = 0; i < inner; i++)
                    cp_el(r[0].buf, (o * cnt + k) * inner + i, x->data, (o * len + j) * inner + i, es);
        }
    }
    free(first);
    free(slot);
    return ok;
}

/* ---------------------------------------------------------------- NonMaxSuppression */
/* IoU of boxes p and q (4 coordinates each) > thr, in float32 as the ONNX reference
 * computes it (float64 for float64 boxes). */
#define NMS_SUPPRESS(T)                                                                                              \
    static bool nms_suppress_##T(const T *p, const T *q, int center, T thr) {                                       \
        T x1a, x1b, y1a, y1b, x2a, x2b, y2a, y2b;                                                                    \
        if (!center) {                                                                                               \
            x1a = p[1] < p[3] ? p[1] : p[3], x1b = p[1] < p[3] ? p[3] : p[1];                                        \
            x2a = q[1] < q[3] ? q[1] : q[3], x2b = q[1] < q[3] ? q[3] : q[1];                                        \
            y1a = p[0] < p[2] ? p[0] : p[2], y1b = p[0] < p[2] ? p[2] : p[0];                                        \
            y2a = q[0] < q[2] ? q[0] : q[2], y2b = q[0] < q[2] ? q[2] : q[0];                                        \
        } else {                                                                                                     \
            x1a = p[0] - p[2] / 2, x1b = p[0] + p[2] / 2, y1a = p[1] - p[3] / 2, y1b = p[1] + p[3] / 2;              \
            x2a = q[0] - q[2] / 2, x2b = q[0] + q[2] / 2, y2a = q[1] - q[3] / 2, y2b = q[1] + q[3] / 2;              \
        }                                                                                                            \
        T ix0 = x1a > x2a ? x1a : x2a, ix1 = x1b < x2b ? x1b : x2b;                                                  \
        if (ix1 <= ix0) return false;                                                                                \
        T iy0 = y1a > y2a ? y1a : y2a, iy1 = y1b < y2b ? y1b : y2b;                                                  \
        if (iy1 <= iy0) return false;                                                                                \
        T inter = (ix1 - ix0) * (iy1 - iy0);                                                                         \
        if (inter <= 0) return false;                                                                                \
        T a1 = (x1b - x1a) * (y1b - y1a), a2 = (x2b - x2a) * (y2b - y2a), uni = a1 + a2 - inter;                     \
        if (a1 <= 0 || a2 <= 0 || uni <= 0) return false;                                                            \
        return inter / uni > thr;                                                                                    \
    }
NMS_SUPPRESS(float)
NMS_SUPPRESS(double)

int eval_nms(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t bs, ss;
    if (!in_const(n, 0, &bs) || !in_const(n, 1, &ss)) return 0;
    const ir_value_t *bx = n->in[0], *sc = n->in[1];
    const ir_value_t *mo = n->n_in > 2 ? n->in[2] : NULL, *it = n->n_in > 3 ? n->in[3] : NULL,
                     *st = n->n_in > 4 ? n->in[4] : NULL;
    if (bx->dtype != IR_F32 && bx->dtype != IR_F64) return 0;
    int64_t B = ss.d[0], C = ss.d[1], N = ss.d[2];
    int64_t maxo = mo ? ld_i(mo->dtype, mo->data, 0) : 0;
    double iou = it ? ld_f(it->dtype, it->data, 0) : 0, sthr = st ? ld_f(st->dtype, st->data, 0) : 0;
    if (maxo < 0) maxo = 0;
    if (!work_ok(B * C, N * N)) return 0;
    int center = ir_attr_int(n, "center_point_box", 0) != 0;
    int64_t *order = malloc(sizeof(int64_t) * (size_t)(N ? N : 1)), *rows = malloc(sizeof(int64_t) * 3 * (size_t)(B * C * N + 1));
    if (!order || !rows) {
        free(order);
        free(rows);
        return 0;
    }
    int64_t cnt = 0;
    bool f32 = bx->dtype == IR_F32;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            const int64_t so = (b * C + c) * N;
            int64_t nc = 0;
            for (int64_t i = 0; i < N; i++)
                if (!st || (f32 ? (float)ld_f(sc->dtype, sc->data, so + i) > (float)sthr : ld_f(sc->dtype, sc->data, so + i) > sthr))
                    order[nc++] = i;
            /* by score, descending; equal scores by box index */
            for (int64_t p = 1; p < nc; p++)
                for (int64_t q = p; q > 0; q--) {
                    double sa = ld_f(sc->dtype, sc->data, so + order[q - 1]), sb = ld_f(sc->dtype, sc->data, so + order[q]);
                    if (!(sb > sa || (sb == sa && order[q] < order[q - 1]))) break;
                    int64_t t = order[q];
                    order[q] = order[q - 1];
                    order[q - 1] = t;
                }
            int64_t start = cnt;
            for (int64_t p = 0; p < nc && cnt - start < maxo; p++) {
                bool keep = true;
                for (int64_t s = start; s < cnt && keep; s++) {
                    int64_t i0 = (b * N + order[p]) * 4, i1 = (b * N + rows[3 * s + 2]) * 4;
                    if (f32) {
                        const float *d = bx->data;
                        keep = !nms_suppress_float(d + i0, d + i1, center, (float)iou);
                    } else {
                        const double *d = bx->data;
                        keep = !nms_suppress_double(d + i0, d + i1, center, iou);
                    }
                }
                if (!keep) continue;
                rows[3 * cnt] = b, rows[3 * cnt + 1] = c, rows[3 * cnt + 2] = order[p];
                cnt++;
            }
        }
    sh_t os = {2, {cnt, 3}};
    int ok = res_alloc(g, &r[0], IR_I64, &os);
    if (ok) memcpy(r[0].buf, rows, sizeof(int64_t) * 3 * (size_t)cnt);
    free(order);
    free(rows);
    return ok;
}
