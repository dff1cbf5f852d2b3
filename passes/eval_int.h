/* Private to the constant folder (passes/eval*.c): the result record and the small
 * helpers every evaluator shares. Kept static inline so each family file (eval.c,
 * eval_reduce.c, eval_move.c, eval_window.c, eval_norm.c, eval_sample.c) reads constants
 * the same way without exporting short names from the library. */
#ifndef ONNXC_PASSES_EVAL_INT_H
#define ONNXC_PASSES_EVAL_INT_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/infer_util.h"
#include "passes/passes.h"

#define EVAL_MAX_BYTES ((int64_t)64 << 20)
#define EVAL_MAX_TOTAL_BYTES ((int64_t)256 << 20)   /* + 2x the model's constants; res_alloc */
#define EVAL_MAX_IN 8
#define IR_EVAL_MAX_OUT 64   /* Split's most outputs (ops.def) */
/* Contractions and other compute-heavy ops fold only up to this many multiply-adds: a
 * large constant computation is rare outside weight preprocessing, and cheaper left to
 * the generated kernel than done slowly at compile time. */
#define EVAL_MAX_MACS ((int64_t)1 << 24)

/* The one budget check: *acc *= v unless the product passes EVAL_MAX_MACS (then false:
 * not foldable). Chain it over the factors of a computation's size; never overflows. */
static inline bool work_mul(int64_t *acc, int64_t v) {
    if (v < 0) return false;
    if (v == 0 || *acc == 0) {
        *acc = 0;
        return true;
    }
    if (*acc > EVAL_MAX_MACS / v) return false;
    *acc *= v;
    return true;
}

/* a * b (each >= 0) within the budget. */
static inline bool work_ok(int64_t a, int64_t b) {
    int64_t w = 1;
    return work_mul(&w, a) && work_mul(&w, b);
}

typedef struct sh {
    int r;
    int64_t d[IR_MAX_RANK];
} sh_t;

typedef struct res {
    ir_dtype_t dt;
    sh_t sh;
    void *buf;
    int64_t numel;
} res_t;

static inline bool dt_ok(ir_dtype_t t) {
    switch (t) {
    case IR_F32: case IR_F64: case IR_I8: case IR_U8: case IR_I16: case IR_U16:
    case IR_I32: case IR_U32: case IR_I64: case IR_U64: case IR_BOOL:
        return true;
    default:
        return false;
    }
}

static inline bool get_sh(const ir_shape_t *s, sh_t *o) {
    if (!ir_shape_is_static(s)) return false;
    o->r = s->rank;
    for (int i = 0; i < s->rank; i++) {
        if (s->dims[i].v < 0) return false;
        o->d[i] = s->dims[i].v;
    }
    return true;
}

static inline int64_t sh_numel(const sh_t *s) {
    int64_t n = 1;
    for (int i = 0; i < s->r; i++) {
        if (s->d[i] < 0) return -1;
        if (s->d[i] && n > INT64_MAX / s->d[i]) return -1;
        n *= s->d[i];
    }
    return n;
}

/* Float to integer without the undefined behaviour of an out-of-range conversion. */
static inline int64_t f2i(double x) {
    if (isnan(x)) return 0;
    if (x >= 9223372036854775807.0) return INT64_MAX;
    if (x <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)x;
}

static inline int64_t ld_i(ir_dtype_t t, const void *p, int64_t i) {
    switch (t) {
    case IR_F32: return f2i(((const float *)p)[i]);
    case IR_F64: return f2i(((const double *)p)[i]);
    case IR_I8: return ((const int8_t *)p)[i];
    case IR_U8: case IR_BOOL: return ((const uint8_t *)p)[i];
    case IR_I16: return ((const int16_t *)p)[i];
    case IR_U16: return ((const uint16_t *)p)[i];
    case IR_I32: return ((const int32_t *)p)[i];
    case IR_U32: return ((const uint32_t *)p)[i];
    case IR_I64: return ((const int64_t *)p)[i];
    case IR_U64: return (int64_t)((const uint64_t *)p)[i];
    default: return 0;
    }
}

static inline double ld_f(ir_dtype_t t, const void *p, int64_t i) {
    switch (t) {
    case IR_F32: return ((const float *)p)[i];
    case IR_F64: return ((const double *)p)[i];
    case IR_U64: return (double)((const uint64_t *)p)[i];
    default: return (double)ld_i(t, p, i);
    }
}

static inline void st_i(ir_dtype_t t, void *p, int64_t i, int64_t x) {
    switch (t) {
    case IR_F32: ((float *)p)[i] = (float)x; break;
    case IR_F64: ((double *)p)[i] = (double)x; break;
    case IR_I8: ((int8_t *)p)[i] = (int8_t)x; break;
    case IR_U8: ((uint8_t *)p)[i] = (uint8_t)x; break;
    case IR_BOOL: ((uint8_t *)p)[i] = x != 0; break;
    case IR_I16: ((int16_t *)p)[i] = (int16_t)x; break;
    case IR_U16: ((uint16_t *)p)[i] = (uint16_t)x; break;
    case IR_I32: ((int32_t *)p)[i] = (int32_t)x; break;
    case IR_U32: ((uint32_t *)p)[i] = (uint32_t)x; break;
    case IR_I64: ((int64_t *)p)[i] = x; break;
    case IR_U64: ((uint64_t *)p)[i] = (uint64_t)x; break;
    default: break;
    }
}

static inline void st_f(ir_dtype_t t, void *p, int64_t i, double x) {
    if (t == IR_F32) ((float *)p)[i] = (float)x;
    else if (t == IR_F64) ((double *)p)[i] = x;
    else if (t == IR_BOOL) ((uint8_t *)p)[i] = x != 0;
    else st_i(t, p, i, f2i(x));
}

/* in_const for any dtype with a size (the low-precision ones included). */
static inline bool in_const_any(const ir_node_t *n, int k, sh_t *s) {
    const ir_value_t *v = k < n->n_in ? n->in[k] : NULL;
    if (!v || !v->data || !ir_dtype_size(v->dtype) || v->dtype == IR_STRING || !get_sh(&v->shape, s)) return false;
    int64_t ne = sh_numel(s);
    return ne >= 0 && (uint64_t)ne * ir_dtype_size(v->dtype) <= v->data_size;
}

/* Input k as a constant with a static shape whose data covers it; false otherwise. */
static inline bool in_const(const ir_node_t *n, int k, sh_t *s) {
    const ir_value_t *v = k < n->n_in ? n->in[k] : NULL;
    if (!v || !v->data || !dt_ok(v->dtype) || !get_sh(&v->shape, s)) return false;
    int64_t ne = sh_numel(s);
    return ne >= 0 && (uint64_t)ne * ir_dtype_size(v->dtype) <= v->data_size;
}

/* Reads a 1-D int32/int64 constant input into out[]; returns its length or -1. */
static inline int in_ints(const ir_node_t *n, int k, int64_t *out, int cap) {
    sh_t s;
    if (!in_const(n, k, &s) || s.r > 1) return -1;
    const ir_value_t *v = n->in[k];
    if (v->dtype != IR_I64 && v->dtype != IR_I32) return -1;
    int64_t ne = sh_numel(&s);
    if (ne > cap) return -1;
    for (int64_t i = 0; i < ne; i++) out[i] = ld_i(v->dtype, v->data, i);
    return (int)ne;
}

/* res_alloc for any dtype with a size (the low-precision ones included). */
static inline bool res_alloc_any(ir_graph_t *g, res_t *r, ir_dtype_t dt, const sh_t *s) {
    r->dt = dt;
    r->sh = *s;
    r->numel = sh_numel(s);
    if (r->numel < 0 || !ir_dtype_size(dt) || dt == IR_STRING) return false;
    int64_t bytes = r->numel * (int64_t)ir_dtype_size(dt);
    if (r->numel > EVAL_MAX_BYTES || bytes > EVAL_MAX_BYTES) return false;
    if (!g->fold_budget) {
        /* All folds together: EVAL_MAX_TOTAL_BYTES plus twice the model's own constants
         * (folding transposes or casts of every weight is fine; 100 ConstantOfShape
         * nodes of 64 MiB each in a 2 KB model are not). Past it, nodes stay computed. */
        g->fold_budget = EVAL_MAX_TOTAL_BYTES;
        for (int i = 0; i < g->n_values; i++)
            if (g->values[i]->data) g->fold_budget += 2 * (int64_t)g->values[i]->data_size;
    }
    if (bytes > g->fold_budget - g->fold_used) return false;
    r->buf = ir_arena_alloc(&g->arena, (size_t)bytes);
    if (r->buf) g->fold_used += bytes;
    return r->buf != NULL;
}

static inline bool res_alloc(ir_graph_t *g, res_t *r, ir_dtype_t dt, const sh_t *s) {
    return dt_ok(dt) && res_alloc_any(g, r, dt, s);
}

static inline void row_strides(const sh_t *s, int64_t *st) {
    int64_t m = 1;
    for (int i = s->r - 1; i >= 0; i--) {
        st[i] = m;
        m *= s->d[i];
    }
}

/* Strides of in broadcast to out (numpy rules; 0 where in has a 1). */
static inline void bcast_strides(const sh_t *in, const sh_t *out, int64_t *st) {
    int off = out->r - in->r;
    int64_t m = 1;
    for (int i = out->r - 1; i >= 0; i--) {
        int j = i - off;
        if (j < 0) {
            st[i] = 0;
            continue;
        }
        st[i] = in->d[j] == 1 ? 0 : m;
        m *= in->d[j];
    }
}

static inline bool bcast_shape(const sh_t *a, const sh_t *b, sh_t *o) {
    int r = a->r > b->r ? a->r : b->r;
    if (r > IR_MAX_RANK) return false;
    sh_t t = {r, {0}};   /* o may alias a or b */
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->r), ib = i - (r - b->r);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        t.d[i] = da == 1 ? db : da;
    }
    *o = t;
    return true;
}

/* Flat offset in a tensor with strides st of out-element i (out shape s). */
static inline int64_t offset_of(const sh_t *s, int64_t i, const int64_t *st) {
    int64_t off = 0;
    for (int k = s->r - 1; k >= 0; k--) {
        int64_t d = s->d[k] ? s->d[k] : 1;
        off += (i % d) * st[k];
        i /= d;
    }
    return off;
}

/* x wrapped to integer dtype t, as a kernel computing in t would leave it. */
static inline int64_t wrap_i(ir_dtype_t t, int64_t x) {
    int64_t b = 0;
    st_i(t, &b, 0, x);
    return ld_i(t, &b, 0);
}

/* Copies element si of src to element di of dst (es bytes each). */
static inline void cp_el(void *dst, int64_t di, const void *src, int64_t si, size_t es) {
    memcpy((char *)dst + di * (int64_t)es, (const char *)src + si * (int64_t)es, es);
}

/* Evaluators outside eval.c, named in ops.def's EVAL column. Each fills r[0] (and, for
 * several outputs, r[k] for output k); 1 folded, 0 not foldable, -1 error. */
#define EVAL_FN(name) int name(ir_graph_t *g, ir_node_t *n, res_t *r);
EVAL_FN(eval_reduce_sum) EVAL_FN(eval_reduce_mean) EVAL_FN(eval_reduce_max) EVAL_FN(eval_reduce_min)
EVAL_FN(eval_reduce_prod) EVAL_FN(eval_reduce_l1) EVAL_FN(eval_reduce_l2) EVAL_FN(eval_reduce_log_sum)
EVAL_FN(eval_reduce_log_sum_exp) EVAL_FN(eval_reduce_sum_square)
EVAL_FN(eval_arg_max) EVAL_FN(eval_arg_min) EVAL_FN(eval_softmax) EVAL_FN(eval_log_softmax)
EVAL_FN(eval_hardmax) EVAL_FN(eval_cum_sum) EVAL_FN(eval_cum_prod) EVAL_FN(eval_matmul) EVAL_FN(eval_gemm)
EVAL_FN(eval_tile) EVAL_FN(eval_pad) EVAL_FN(eval_trilu) EVAL_FN(eval_gather_elements) EVAL_FN(eval_split)
EVAL_FN(eval_depth_to_space) EVAL_FN(eval_space_to_depth) EVAL_FN(eval_gather_nd) EVAL_FN(eval_scatter_nd)
EVAL_FN(eval_scatter_elements)
EVAL_FN(eval_conv) EVAL_FN(eval_conv_transpose) EVAL_FN(eval_batch_norm) EVAL_FN(eval_max_pool)
EVAL_FN(eval_average_pool) EVAL_FN(eval_global_average_pool) EVAL_FN(eval_global_max_pool)
EVAL_FN(eval_lp_pool) EVAL_FN(eval_lrn) EVAL_FN(eval_deform_conv)
/* passes/eval_norm.c, passes/eval_sample.c */
EVAL_FN(eval_layer_norm) EVAL_FN(eval_rms_norm) EVAL_FN(eval_group_norm) EVAL_FN(eval_lp_norm)
EVAL_FN(eval_nll_loss) EVAL_FN(eval_sce_loss) EVAL_FN(eval_einsum)
EVAL_FN(eval_resize) EVAL_FN(eval_grid_sample) EVAL_FN(eval_roi_align)
EVAL_FN(eval_rnn)   /* passes/eval_rnn.c */
EVAL_FN(eval_topk) EVAL_FN(eval_onehot) EVAL_FN(eval_reverse_sequence) EVAL_FN(eval_compress)   /* passes/eval_select.c */
EVAL_FN(eval_unique) EVAL_FN(eval_nms)
EVAL_FN(eval_col2im) EVAL_FN(eval_center_crop_pad) EVAL_FN(eval_affine_grid)   /* passes/eval_image.c */
EVAL_FN(eval_window_fn) EVAL_FN(eval_eye_like)   /* passes/eval_generate.c */
EVAL_FN(eval_dft)   /* passes/eval_signal.c */
EVAL_FN(eval_ctrl)   /* passes/passes.c: control flow is never folded (its bodies fold inside) */
EVAL_FN(eval_quant) EVAL_FN(eval_qmatmul) EVAL_FN(eval_dyn_quant) EVAL_FN(eval_qconv)   /* passes/eval_quant.c */
EVAL_FN(eval_det) EVAL_FN(eval_maxunpool)   /* passes/eval_linalg.c */
EVAL_FN(eval_expanded)   /* passes/expand.c */
#undef EVAL_FN

#endif
