/* Expansion of composite ops into existing ones (Attention, RotaryEmbedding), done inside
 * the inference walk as soon as the node's inputs are inferred: ranks, head counts and
 * dtypes are known then, and the new nodes are inserted right after the node so the same
 * walk infers and folds them. The expansions use Reshape's 0/-1 and Shape-derived index
 * tensors rather than literal sizes, so a symbolic sequence length stays symbolic, and
 * with static shapes the index and mask arithmetic folds to constants.
 *
 * Why not ONNX's function bodies: of the ops the compiler lacked, only SwiGLU and
 * MeanVarianceNormalization have a static body in the schema; Attention, RotaryEmbedding,
 * LinearAttention and CausalConvWithState have context-dependent bodies, built by the onnx
 * C++ library per node from its attributes and input types, which a build-time export of
 * the schema cannot capture. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/lowp.h"
#include "passes/eval_int.h"

/* The expanded nodes fold instead. */
int eval_expanded(ir_graph_t *g, ir_node_t *n, res_t *r) {
    (void)g, (void)n, (void)r;
    return 0;
}

typedef struct xb {
    ir_graph_t *g;
    ir_node_t *n;     /* the node being expanded */
    int first;        /* g->n_nodes before the expansion: new nodes are [first, n_nodes) */
    int count;        /* names */
    bool fail;
} xb_t;

static ir_value_t *xb_fresh(xb_t *b) {
    if (b->fail) return NULL;
    char name[512];
    snprintf(name, sizeof name, "%.400s/x%d", b->n->name, b->count++);
    ir_value_t *v = ir_value_new(b->g, name, IR_UNDEFINED, NULL);
    if (!v) b->fail = true;
    return v;
}

/* A node of the expansion; out NULL: a fresh value. Returns the node's first output. */
static ir_value_t *xb_node(xb_t *b, ir_op_t op, int n_in, ir_value_t *const *in, ir_value_t *out) {
    if (b->fail) return NULL;
    for (int i = 0; i < n_in; i++)
        if (!in[i] && i < 1) return b->fail = true, NULL;
    if (!out && !(out = xb_fresh(b))) return NULL;
    char name[512];
    snprintf(name, sizeof name, "%.380s/%s_%d", b->n->name, ir_op_name(op), b->count++);
    ir_node_t *m = ir_node_new(b->g, op, name, n_in, 1);
    if (!m) return b->fail = true, NULL;
    for (int i = 0; i < n_in; i++) m->in[i] = in[i];
    m->out[0] = out;
    out->producer = m;
    return out;
}

static ir_value_t *xb_op(xb_t *b, ir_op_t op, int n_in, ...) {
    ir_value_t *in[8];
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in && i < 8; i++) in[i] = va_arg(ap, ir_value_t *);
    va_end(ap);
    for (int i = 0; i < n_in; i++)
        if (!in[i]) b->fail = true;
    return xb_node(b, op, n_in, in, NULL);
}

static void xb_iattr(xb_t *b, ir_value_t *v, const char *name, int64_t x) {
    if (b->fail || !v || !v->producer) return;
    ir_attr_t *a = ir_node_add_attr(b->g, v->producer, name, IR_ATTR_INT);
    if (!a || !a->name) b->fail = true;
    else a->i = x;
}

static void xb_ints_attr(xb_t *b, ir_value_t *v, const char *name, const int64_t *x, int cnt) {
    if (b->fail || !v || !v->producer) return;
    ir_attr_t *a = ir_node_add_attr(b->g, v->producer, name, IR_ATTR_INTS);
    int64_t *d = ir_arena_alloc(&b->g->arena, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    if (!a || !a->name || !d) return (void)(b->fail = true);
    memcpy(d, x, sizeof(int64_t) * (size_t)cnt);
    a->ints = d;
    a->n = cnt;
}

/* A constant int64 vector (rank 1), or a scalar when rank is 0 (cnt 1). */
static ir_value_t *xb_i64(xb_t *b, int rank, int cnt, const int64_t *x) {
    if (b->fail) return NULL;
    char name[512];
    snprintf(name, sizeof name, "%.400s/c%d", b->n->name, b->count++);
    ir_shape_t s = {.rank = rank};
    if (rank == 1) s.dims[0] = ir_dim_const(cnt);
    ir_value_t *v = ir_value_const(b->g, name, IR_I64, &s, x, sizeof(int64_t) * (size_t)cnt);
    if (!v) b->fail = true;
    return v;
}

#define I64S(...) ((const int64_t[]){__VA_ARGS__})
#define NI64(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define VEC(...) xb_i64(b, 1, NI64(__VA_ARGS__), I64S(__VA_ARGS__))
#define SCAL(x) xb_i64(b, 0, 1, I64S(x))

/* A scalar constant of a float dtype (what the reference computes in that dtype). */
static ir_value_t *xb_scalar(xb_t *b, ir_dtype_t dt, double x) {
    if (b->fail) return NULL;
    unsigned char buf[8];
    ir_float_scalar_bytes(&dt, x, buf);
    char name[512];
    snprintf(name, sizeof name, "%.400s/c%d", b->n->name, b->count++);
    ir_shape_t s = {.rank = 0};
    ir_value_t *v = ir_value_const(b->g, name, dt, &s, buf, ir_dtype_size(dt));
    if (!v) b->fail = true;
    return v;
}

static ir_value_t *xb_cast(xb_t *b, ir_value_t *v, ir_dtype_t to) {
    if (v && v->dtype == to) return v;
    ir_value_t *r = xb_op(b, IR_OP_CAST, 1, v);
    xb_iattr(b, r, "to", to);
    return r;
}

static ir_value_t *xb_reshape(xb_t *b, ir_value_t *v, ir_value_t *shape) {
    return xb_op(b, IR_OP_RESHAPE, 2, v, shape);
}

static ir_value_t *xb_transpose(xb_t *b, ir_value_t *v, const int64_t *perm, int r) {
    ir_value_t *t = xb_op(b, IR_OP_TRANSPOSE, 1, v);
    xb_ints_attr(b, t, "perm", perm, r);
    return t;
}

/* dim `axis` of v as an int64 scalar tensor (folds when the dim is static). */
static ir_value_t *xb_dim(xb_t *b, ir_value_t *v, int64_t axis) {
    ir_value_t *s = xb_op(b, IR_OP_SHAPE, 1, v);
    return xb_op(b, IR_OP_GATHER, 2, s, SCAL(axis));
}

/* dim `axis` of v as a 1-element int64 vector, times mul. */
static ir_value_t *xb_dimvec(xb_t *b, ir_value_t *v, int64_t axis, int64_t mul) {
    ir_value_t *in[3] = {xb_op(b, IR_OP_SHAPE, 1, v), VEC(axis), VEC(axis + 1)};
    ir_value_t *d = xb_node(b, IR_OP_SLICE, 3, in, NULL);
    return mul == 1 ? d : xb_op(b, IR_OP_MUL, 2, d, VEC(mul));
}

/* A Reshape target [p0, p1, p2, p3] from 1-element vectors: written out rather than with
 * -1, so that symbolic dims stay the same symbols (a -1 would be a quotient of products). */
static ir_value_t *xb_shape4(xb_t *b, ir_value_t *p0, ir_value_t *p1, ir_value_t *p2, ir_value_t *p3) {
    ir_value_t *in[4] = {p0, p1, p2, p3};
    ir_value_t *s = xb_node(b, IR_OP_CONCAT, 4, in, NULL);
    xb_iattr(b, s, "axis", 0);
    return s;
}

static ir_value_t *xb_slice(xb_t *b, ir_value_t *v, int64_t start, int64_t end, int64_t axis, int64_t step) {
    ir_value_t *in[5] = {v, VEC(start), VEC(end), VEC(axis), VEC(step)};
    return xb_node(b, IR_OP_SLICE, 5, in, NULL);
}

/* Makes `out` (an output of the expanded node) hold v: v's producer, when the expansion
 * made it, writes out directly; otherwise an Identity copies. */
static void xb_bind(xb_t *b, ir_value_t *v, ir_value_t *out) {
    if (b->fail || !out) return;
    if (!v) return (void)(b->fail = true);
    ir_node_t *p = v->producer;
    bool ours = false;
    for (int i = b->first; p && i < b->g->n_nodes; i++) ours |= b->g->nodes[i] == p;
    if (!ours || v->is_output) {
        xb_node(b, IR_OP_IDENTITY, 1, &v, out);
        return;
    }
    for (int k = 0; k < p->n_out; k++)
        if (p->out[k] == v) p->out[k] = out;
    out->producer = p;
    for (int i = b->first; i < b->g->n_nodes; i++) {
        ir_node_t *m = b->g->nodes[i];
        for (int k = 0; k < m->n_in; k++)
            if (m->in[k] == v) m->in[k] = out;
    }
    v->producer = NULL;
}

/* ---------------------------------------------------------------- Attention */
/* The additive bias [.., q_seq, total] of the mask, causal/window frontier and padding,
 * NULL when there is none. q4 and k4 are the 4-D query and (present) key. */
static ir_value_t *attention_bias(xb_t *b, const ir_attention_dims_t *a, ir_value_t *q4, ir_value_t *k4, ir_dtype_t t) {
    ir_node_t *n = b->n;
    ir_graph_t *g = b->g;
    ir_value_t *mask = n->n_in > 3 ? n->in[3] : NULL;
    ir_value_t *past = n->n_in > 4 ? n->in[4] : NULL;
    ir_value_t *nonpad = n->n_in > 6 ? n->in[6] : NULL;
    bool causal = ir_attr_int(n, "is_causal", 0) != 0;
    int64_t lw = ir_attr_int(n, "left_window_size", -1), rw = ir_attr_int(n, "right_window_size", -1);
    ir_value_t *zero = xb_scalar(b, t, 0), *ninf = xb_scalar(b, t, -INFINITY), *bias = NULL;
    if (mask) {
        ir_value_t *m = mask->dtype == IR_BOOL ? xb_op(b, IR_OP_WHERE, 3, mask, zero, ninf) : xb_cast(b, mask, t);
        ir_dim_t ml = mask->shape.dims[mask->shape.rank - 1];
        if (!ir_dim_eq(ml, a->total)) {
            /* A mask shorter than the keys (it covered only the new ones) is padded with
             * "masked" at the end. */
            if (!ir_dim_is_const(ml) || !ir_dim_is_const(a->total) || ml.v > a->total.v) {
                char s1[64], s2[64];
                ir_shape_t x = {.rank = 1, .dims = {ml}}, y = {.rank = 1, .dims = {a->total}};
                ir_shape_str(g, &x, s1, sizeof s1);
                ir_shape_str(g, &y, s2, sizeof s2);
                ir_error(g, n, "attn_mask's last dim %s does not fit the %s keys", s1, s2);
                b->fail = true;
                return NULL;
            }
            int r = mask->shape.rank;
            int64_t pads[2 * IR_MAX_RANK] = {0};
            pads[2 * r - 1] = a->total.v - ml.v;
            ir_value_t *in[3] = {m, xb_i64(b, 1, 2 * r, pads), ninf};
            m = xb_node(b, IR_OP_PAD, 3, in, NULL);
        }
        bias = m;
    }
    bool window = lw >= 0 || rw >= 0;
    ir_value_t *allowed = NULL;
    if (causal || window) {
        /* diff[i, j] = i + offset - j: causal keeps diff >= 0, the window
         * -right <= diff <= left. offset is the past length, or per batch
         * nonpad_kv_seqlen - q_seq with an external cache. */
        ir_value_t *sq = xb_dim(b, q4, 2), *sk = xb_dim(b, k4, 2);
        ir_value_t *qi = xb_op(b, IR_OP_RANGE, 3, SCAL(0), sq, SCAL(1));
        ir_value_t *kj = xb_op(b, IR_OP_RANGE, 3, SCAL(0), sk, SCAL(1));
        ir_value_t *row = xb_op(b, IR_OP_UNSQUEEZE, 2, qi, VEC(1));   /* [q, 1] */
        if (past) {
            row = xb_op(b, IR_OP_ADD, 2, row, xb_dim(b, past, 2));
        } else if (nonpad) {
            ir_value_t *off = xb_op(b, IR_OP_SUB, 2, xb_cast(b, nonpad, IR_I64), sq);    /* [B] */
            off = xb_op(b, IR_OP_UNSQUEEZE, 2, off, VEC(1, 2, 3));                     /* [B,1,1,1] */
            row = xb_op(b, IR_OP_ADD, 2, row, off);                                     /* [B,1,q,1] */
        }
        ir_value_t *diff = xb_op(b, IR_OP_SUB, 2, row, kj);
        if (causal) allowed = xb_op(b, IR_OP_GREATER, 2, diff, SCAL(-1));
        if (lw >= 0) {
            ir_value_t *c = xb_op(b, IR_OP_LESS, 2, diff, SCAL(lw + 1));
            allowed = allowed ? xb_op(b, IR_OP_AND, 2, allowed, c) : c;
        }
        if (rw >= 0) {
            ir_value_t *c = xb_op(b, IR_OP_GREATER, 2, diff, SCAL(-rw - 1));
            allowed = allowed ? xb_op(b, IR_OP_AND, 2, allowed, c) : c;
        }
    }
    if (nonpad) {
        ir_value_t *sk = xb_dim(b, k4, 2);
        ir_value_t *kj = xb_op(b, IR_OP_RANGE, 3, SCAL(0), sk, SCAL(1));
        ir_value_t *lim = xb_op(b, IR_OP_UNSQUEEZE, 2, xb_cast(b, nonpad, IR_I64), VEC(1, 2, 3));  /* [B,1,1,1] */
        ir_value_t *c = xb_op(b, IR_OP_LESS, 2, kj, lim);                                       /* [B,1,1,k] */
        allowed = allowed ? xb_op(b, IR_OP_AND, 2, allowed, c) : c;
    }
    if (allowed) {
        ir_value_t *sb = xb_op(b, IR_OP_WHERE, 3, allowed, zero, ninf);
        bias = bias ? xb_op(b, IR_OP_ADD, 2, bias, sb) : sb;
    }
    return bias;
}

static int expand_attention(xb_t *b) {
    ir_node_t *n = b->n;
    ir_graph_t *g = b->g;
    ir_attention_dims_t a;
    if (ir_attention_dims(g, n, &a)) return -1;
    ir_value_t *q = n->in[0], *k = n->in[1], *v = n->in[2];
    ir_value_t *pk = n->n_in > 4 ? n->in[4] : NULL, *pv = n->n_in > 5 ? n->in[5] : NULL;
    ir_dtype_t t = q->dtype;
    int64_t qh = a.q_heads, kvh = a.kv_heads;
    static const int64_t bhsd[4] = {0, 2, 1, 3}, kt[4] = {0, 1, 3, 2};
    if (a.rank == 3) {
        q = xb_transpose(b, xb_reshape(b, q, VEC(0, 0, qh, -1)), bhsd, 4);
        k = xb_transpose(b, xb_reshape(b, k, VEC(0, 0, kvh, -1)), bhsd, 4);
        v = xb_transpose(b, xb_reshape(b, v, VEC(0, 0, kvh, -1)), bhsd, 4);
    }
    if (pk) {
        ir_value_t *in[2] = {pk, k};
        k = xb_node(b, IR_OP_CONCAT, 2, in, NULL);
        xb_iattr(b, k, "axis", 2);
        ir_value_t *in2[2] = {pv, v};
        v = xb_node(b, IR_OP_CONCAT, 2, in2, NULL);
        xb_iattr(b, v, "axis", 2);
    }
    const ir_attr_t *sa = ir_attr_find(n, "scale");
    double scale;
    if (sa) {
        scale = sa->kind == IR_ATTR_FLOAT ? (double)(float)sa->f : (double)sa->i;
    } else {
        if (!ir_dim_is_const(a.head)) return ir_error(g, n, "the head size must be static when no scale is given");
        scale = 1.0 / sqrt((double)a.head.v);
    }
    /* Q and K are each scaled by sqrt(scale), as the spec says, against overflow. */
    ir_value_t *sq = xb_scalar(b, t, (double)(float)sqrt((double)(float)scale));
    ir_value_t *qs = xb_op(b, IR_OP_MUL, 2, q, sq);
    ir_value_t *ks = xb_transpose(b, xb_op(b, IR_OP_MUL, 2, k, sq), kt, 4);
    /* Grouped heads: query head h reads kv head h / (qh / kvh). Folding the group into the
     * row dimension ([B, kvh, rep * Sq, D]) shares each K and V head with its queries
     * without copying them. */
    bool gqa = qh != kvh;
    int64_t rep = qh / kvh;
    if (gqa) qs = xb_reshape(b, qs, xb_shape4(b, xb_dimvec(b, q, 0, 1), VEC(kvh), xb_dimvec(b, q, 2, rep), xb_dimvec(b, q, 3, 1)));
    ir_value_t *s = xb_op(b, IR_OP_MATMUL, 2, qs, ks);
    if (gqa) s = xb_reshape(b, s, xb_shape4(b, xb_dimvec(b, q, 0, 1), VEC(qh), xb_dimvec(b, q, 2, 1), xb_dimvec(b, k, 2, 1)));
    double cap = ir_attr_float(n, "softcap", 0);
    if (cap > 0) {
        ir_value_t *c = xb_scalar(b, t, cap);
        s = xb_op(b, IR_OP_MUL, 2, xb_op(b, IR_OP_TANH, 1, xb_op(b, IR_OP_DIV, 2, s, c)), c);
    }
    int64_t mode = ir_attr_int(n, "qk_matmul_output_mode", 0);
    ir_value_t *qk_out = s;
    ir_value_t *bias = attention_bias(b, &a, q, k, t);
    if (b->fail) return -1;
    if (bias) s = xb_op(b, IR_OP_ADD, 2, s, bias);
    if (mode == 2) qk_out = s;
    const ir_attr_t *pa = ir_attr_find(n, "softmax_precision");
    ir_dtype_t st = pa && pa->kind == IR_ATTR_INT ? (ir_dtype_t)pa->i : t;
    if (st != IR_F32 && st != IR_F16 && st != IR_F64 && st != IR_BF16)
        return ir_error(g, n, "softmax_precision %lld is not a float type (1, 10, 11 or 16)", (long long)st);
    ir_value_t *p = xb_op(b, IR_OP_SOFTMAX, 1, xb_cast(b, s, st));
    xb_iattr(b, p, "axis", -1);
    if (bias) {
        /* A query row with every key masked attends nothing: zeros, not 0/0. */
        ir_value_t *mx = xb_op(b, IR_OP_REDUCE_MAX, 2, bias, VEC(-1));
        ir_value_t *none = xb_op(b, IR_OP_IS_INF, 1, mx);
        xb_iattr(b, none, "detect_positive", 0);
        p = xb_op(b, IR_OP_WHERE, 3, none, xb_scalar(b, st, 0), p);
    }
    p = xb_cast(b, p, t);
    if (mode == 3) qk_out = p;
    if (v->dtype != t) p = xb_cast(b, p, v->dtype);
    if (gqa) p = xb_reshape(b, p, xb_shape4(b, xb_dimvec(b, q, 0, 1), VEC(kvh), xb_dimvec(b, q, 2, rep), xb_dimvec(b, k, 2, 1)));
    ir_value_t *y = xb_op(b, IR_OP_MATMUL, 2, p, v);
    if (gqa) y = xb_reshape(b, y, xb_shape4(b, xb_dimvec(b, q, 0, 1), VEC(qh), xb_dimvec(b, q, 2, 1), xb_dimvec(b, v, 3, 1)));
    if (a.rank == 3) y = xb_reshape(b, xb_transpose(b, y, bhsd, 4), VEC(0, 0, -1));
    xb_bind(b, y, n->out[0]);
    if (n->n_out > 1) xb_bind(b, k, n->out[1]);
    if (n->n_out > 2) xb_bind(b, v, n->out[2]);
    if (n->n_out > 3) xb_bind(b, xb_cast(b, qk_out, t), n->out[3]);
    return b->fail ? ir_error(g, n, "out of memory") : 0;
}

/* ---------------------------------------------------------------- RotaryEmbedding */
static int expand_rotary(xb_t *b) {
    ir_node_t *n = b->n;
    ir_value_t *x = n->in[0], *cosv = n->in[1], *sinv = n->in[2], *pos = n->n_in > 3 ? n->in[3] : NULL;
    int r = x->shape.rank;
    int64_t heads = ir_attr_int(n, "num_heads", 0);
    int64_t head = r == 4 ? x->shape.dims[3].v : x->shape.dims[2].v / heads;
    int64_t rot = ir_attr_int(n, "rotary_embedding_dim", 0);
    if (rot == 0) rot = head;
    int64_t half = rot / 2;
    bool inter = ir_attr_int(n, "interleaved", 0) != 0;
    /* Work in [B, H, S, D] (4-D input) or [B, S, H, D] (3-D); the caches become
     * [B, 1, S, rot/2] or [B, S, 1, rot/2]. */
    ir_value_t *xw = r == 3 ? xb_reshape(b, x, VEC(0, 0, heads, -1)) : x;
    if (pos) {
        cosv = xb_op(b, IR_OP_GATHER, 2, cosv, pos);
        sinv = xb_op(b, IR_OP_GATHER, 2, sinv, pos);
    }
    int64_t cax = r == 4 ? 1 : 2;
    cosv = xb_op(b, IR_OP_UNSQUEEZE, 2, cosv, VEC(cax));
    sinv = xb_op(b, IR_OP_UNSQUEEZE, 2, sinv, VEC(cax));
    ir_value_t *xr = rot < head ? xb_slice(b, xw, 0, rot, -1, 1) : xw;
    ir_value_t *x1 = inter ? xb_slice(b, xr, 0, rot, -1, 2) : xb_slice(b, xr, 0, half, -1, 1);
    ir_value_t *x2 = inter ? xb_slice(b, xr, 1, rot, -1, 2) : xb_slice(b, xr, half, rot, -1, 1);
    ir_value_t *re = xb_op(b, IR_OP_SUB, 2, xb_op(b, IR_OP_MUL, 2, cosv, x1), xb_op(b, IR_OP_MUL, 2, sinv, x2));
    ir_value_t *im = xb_op(b, IR_OP_ADD, 2, xb_op(b, IR_OP_MUL, 2, sinv, x1), xb_op(b, IR_OP_MUL, 2, cosv, x2));
    ir_value_t *y;
    if (inter) {
        ir_value_t *in[2] = {xb_op(b, IR_OP_UNSQUEEZE, 2, re, VEC(-1)), xb_op(b, IR_OP_UNSQUEEZE, 2, im, VEC(-1))};
        y = xb_node(b, IR_OP_CONCAT, 2, in, NULL);
        xb_iattr(b, y, "axis", -1);
        y = xb_reshape(b, y, VEC(0, 0, 0, rot));
    } else {
        ir_value_t *in[2] = {re, im};
        y = xb_node(b, IR_OP_CONCAT, 2, in, NULL);
        xb_iattr(b, y, "axis", -1);
    }
    if (rot < head) {
        ir_value_t *in[2] = {y, xb_slice(b, xw, rot, head, -1, 1)};
        y = xb_node(b, IR_OP_CONCAT, 2, in, NULL);
        xb_iattr(b, y, "axis", -1);
    }
    if (r == 3) y = xb_reshape(b, y, VEC(0, 0, -1));
    xb_bind(b, y, n->out[0]);
    return b->fail ? ir_error(b->g, n, "out of memory") : 0;
}

/* ---------------------------------------------------------------- CausalConvWithState */
static int expand_causal_conv(xb_t *b) {
    ir_node_t *n = b->n;
    ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    ir_value_t *past = n->n_in > 3 ? n->in[3] : NULL;
    int64_t k = w->shape.dims[2].v;
    ir_dim_t c = x->shape.dims[1];
    if (!ir_dim_is_const(c)) return ir_error(b->g, n, "the channel count must be static");
    ir_value_t *padded;
    if (past) {
        ir_value_t *in[2] = {past, x};
        padded = xb_node(b, IR_OP_CONCAT, 2, in, NULL);
        xb_iattr(b, padded, "axis", 2);
    } else {
        ir_value_t *in[2] = {x, VEC(0, 0, k - 1, 0, 0, 0)};
        padded = xb_node(b, IR_OP_PAD, 2, in, NULL);
    }
    ir_value_t *in[3] = {padded, w, bias};
    ir_value_t *y = xb_node(b, IR_OP_CONV, bias ? 3 : 2, in, NULL);
    xb_iattr(b, y, "group", c.v);
    if (strcmp(ir_attr_str(n, "activation", "none"), "none"))
        y = xb_op(b, IR_OP_MUL, 2, y, xb_op(b, IR_OP_SIGMOID, 1, y));
    xb_bind(b, y, n->out[0]);
    if (n->n_out > 1 && n->out[1]) {
        /* The last k-1 steps; none when k is 1 (a start past the end clamps to empty). */
        int64_t start = k > 1 ? -(k - 1) : INT64_MAX;
        xb_bind(b, xb_slice(b, padded, start, INT64_MAX, 2, 1), n->out[1]);
    }
    return b->fail ? ir_error(b->g, n, "out of memory") : 0;
}

/* ---------------------------------------------------------------- float16 in float32 */
/* Contractions, normalisations and softmax on float16/bfloat16 compute in float32 (the
 * ONNX reference and onnxruntime accumulate these in float32 too; LayerNormalization's
 * stash_type says so): the float inputs are cast up, the op runs on the float32 kernels
 * (tiled contractions, vectorised reductions), the outputs are cast back. A constant input
 * folds to float32 once, at compile time. */
static bool widen_op(ir_op_t op) {
    switch (op) {
    case IR_OP_MATMUL: case IR_OP_GEMM: case IR_OP_CONV: case IR_OP_CONV_TRANSPOSE:
    case IR_OP_LAYER_NORM: case IR_OP_RMS_NORM: case IR_OP_GROUP_NORM: case IR_OP_INSTANCE_NORM:
    case IR_OP_SOFTMAX: case IR_OP_LOG_SOFTMAX:
        return true;
    default:
        return false;
    }
}

static bool is_half(ir_dtype_t t) { return t == IR_F16 || t == IR_BF16; }

/* The node's floating inputs all have one half dtype (returned), else IR_UNDEFINED. Its
 * outputs of that dtype are cast back; others (LayerNorm's float32 statistics) stay. */
static ir_dtype_t half_node(const ir_node_t *n) {
    ir_dtype_t t = IR_UNDEFINED;
    for (int i = 0; i < n->n_in; i++) {
        const ir_value_t *v = n->in[i];
        if (!v || !ir_dtype_is_float(v->dtype)) continue;
        if (!is_half(v->dtype) || (t != IR_UNDEFINED && v->dtype != t)) return IR_UNDEFINED;
        t = v->dtype;
    }
    return t;
}

static int expand_widen(xb_t *b) {
    ir_node_t *n = b->n;
    ir_dtype_t t = half_node(n);
    if (n->n_out > 8) return 0;
    char name[512];
    snprintf(name, sizeof name, "%.380s/f32_%d", n->name, b->count++);
    ir_node_t *m = ir_node_new(b->g, n->op, name, n->n_in, n->n_out);
    if (!m) return ir_error(b->g, n, "out of memory");
    m->op_type = n->op_type;
    m->attrs = n->attrs;
    m->n_attrs = n->n_attrs;
    for (int i = 0; i < n->n_in; i++) {
        ir_value_t *v = n->in[i];
        m->in[i] = v && v->dtype == t ? xb_cast(b, v, IR_F32) : v;
    }
    /* the cast inputs were created before m: keep m after them */
    ir_node_t **nodes = b->g->nodes;
    int mi = -1;
    for (int i = b->first; i < b->g->n_nodes; i++)
        if (nodes[i] == m) mi = i;
    if (mi >= 0) {
        memmove(nodes + mi, nodes + mi + 1, sizeof *nodes * (size_t)(b->g->n_nodes - mi - 1));
        nodes[b->g->n_nodes - 1] = m;
    }
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k]) continue;
        if (!(m->out[k] = xb_fresh(b))) break;
        m->out[k]->producer = m;
        if (n->out[k]->dtype == t) {
            xb_bind(b, xb_cast(b, m->out[k], t), n->out[k]);
        } else {
            xb_bind(b, m->out[k], n->out[k]);
        }
    }
    return b->fail ? ir_error(b->g, n, "out of memory") : 0;
}

/* ---------------------------------------------------------------- ConvTranspose */
/* ConvTranspose (group 1, float32, static channels and spatial dims, pads >= 0) as a
 * contraction and a scatter-free gather: cols = Wᵀ·X ([OC·k] x C times C x L per batch
 * element, on the tiled MatMul kernel), then Col2Im sums each output position's
 * contributions (the blocks of Col2Im are exactly the input positions when stride,
 * dilation and pads are ConvTranspose's), then the bias. The direct kernel, which loops
 * over every input channel and kernel tap for each output element, stays for the rest. */
static int expand_conv_transpose(xb_t *b) {
    ir_node_t *n = b->n;
    ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    if (x->dtype != IR_F32 || x->shape.rank < 3 || x->shape.rank > 5 || ir_attr_int(n, "group", 1) != 1) return 0;
    ir_window_t p;
    if (ir_window_params_transposed(b->g, n, &x->shape, &w->shape, &p)) return -1;
    int ns = p.ns;
    int64_t C = 0, OC = 0, L = 1, kk = 1;
    if (!ir_dim_is_const(x->shape.dims[1]) || !ir_dim_is_const(w->shape.dims[1])) return 0;
    C = x->shape.dims[1].v;
    OC = w->shape.dims[1].v;
    int64_t img[IR_MAX_RANK], blk[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
    for (int i = 0; i < ns; i++) {
        ir_dim_t d = x->shape.dims[2 + i];
        if (!ir_dim_is_const(d) || p.out[i] < 1 || p.pb[i] < 0 || p.pe[i] < 0) return 0;
        int64_t span = p.d[i] * (p.k[i] - 1) + 1, ext = p.out[i] + p.pb[i] + p.pe[i];
        if (ext < span || (ext - span) / p.s[i] + 1 != d.v) return 0;   /* Col2Im's blocks are not the inputs */
        L *= d.v;
        kk *= p.k[i];
        img[i] = p.out[i];
        blk[i] = p.k[i];
        pads[i] = p.pb[i];
        pads[ns + i] = p.pe[i];
    }
    if (C < 1 || OC < 1 || L > ((int64_t)1 << 40) / (OC * kk)) return 0;
    ir_value_t *x3 = xb_reshape(b, x, VEC(0, C, L));
    ir_value_t *w2 = xb_reshape(b, w, VEC(C, OC * kk));
    ir_value_t *wt = xb_transpose(b, w2, I64S(1, 0), 2);
    ir_value_t *cols = xb_op(b, IR_OP_MATMUL, 2, wt, x3);
    ir_value_t *in[3] = {cols, xb_i64(b, 1, ns, img), xb_i64(b, 1, ns, blk)};
    ir_value_t *out = xb_node(b, IR_OP_COL2IM, 3, in, NULL);
    xb_ints_attr(b, out, "dilations", p.d, ns);
    xb_ints_attr(b, out, "strides", p.s, ns);
    xb_ints_attr(b, out, "pads", pads, 2 * ns);
    if (bias) {
        int64_t bs[IR_MAX_RANK];
        bs[0] = OC;
        for (int i = 0; i < ns; i++) bs[1 + i] = 1;
        out = xb_op(b, IR_OP_ADD, 2, out, xb_reshape(b, bias, xb_i64(b, 1, ns + 1, bs)));
    }
    xb_bind(b, out, y);
    return b->fail ? ir_error(b->g, n, "out of memory") : 0;
}

int pass_expand_node(ir_graph_t *g, int idx) {
    ir_node_t *n = g->nodes[idx];
    int (*fn)(xb_t *) = NULL;
    switch (n->op) {
    case IR_OP_ATTENTION: fn = expand_attention; break;
    case IR_OP_ROTARY_EMBEDDING: fn = expand_rotary; break;
    case IR_OP_CAUSAL_CONV_WITH_STATE: fn = expand_causal_conv; break;
    default: break;
    }
    if (!fn && widen_op(n->op) && half_node(n) != IR_UNDEFINED && n->n_post == 0) fn = expand_widen;
    if (!fn && n->op == IR_OP_CONV_TRANSPOSE && n->n_post == 0) fn = expand_conv_transpose;
    if (!fn) return 0;
    xb_t b = {.g = g, .n = n, .first = g->n_nodes};
    if (fn(&b)) return -1;
    if (g->n_nodes == b.first) return 0;   /* the expansion declined: the node stays */
    /* The new nodes go right after n, in creation order (already topological). */
    int k = g->n_nodes - b.first;
    ir_node_t **tmp = malloc(sizeof *tmp * (size_t)(k ? k : 1));
    if (!tmp) return ir_error(g, n, "out of memory");
    memcpy(tmp, g->nodes + b.first, sizeof *tmp * (size_t)k);
    memmove(g->nodes + idx + 1 + k, g->nodes + idx + 1, sizeof *tmp * (size_t)(b.first - idx - 1));
    memcpy(g->nodes + idx + 1, tmp, sizeof *tmp * (size_t)k);
    free(tmp);
    for (int i = idx; i < g->n_nodes; i++) g->nodes[i]->id = i;
    n->dead = true;
    return 1;
}
