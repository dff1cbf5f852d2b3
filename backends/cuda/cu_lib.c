/* Contractions, windows, reductions and normalisations through the kernel library
 * (backends/cuda/lib/ *.cuh, embedded in every .cu): shared-memory tiled GEMM, implicit-GEMM
 * and depthwise convolution, pooling, block reductions with warp shuffles.
 *
 * A node's fused post-ops (and what the library does not compute itself: Gemm's alpha/beta
 * and C, a convolution's bias) become the epilogue functor the library's templates call
 * on every output element: a struct kK_epi whose operator()(i, acc) is printed here like a
 * one-thread-per-output kernel's tail (cu_post), with the tensors it reads as members.
 * Where the library does not take a node (another dtype than float32, a broadcast its
 * strides cannot express, 3-D windows, a Cast post-op, empty tensors), the node goes to the
 * one-thread-per-output kernel of cu_kernels.c, which computes the same thing. */
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cu_int.h"
#include "ir/infer_util.h"

#define RUN (&c->run)

/* the first nin inputs, the output and every post-op's result are float32 */
static bool all_f32(const ir_node_t *n, int nin) {
    for (int i = 0; i < n->n_in && i < nin; i++)
        if (n->in[i] && n->in[i]->dtype != IR_F32) return false;
    for (int i = 0; i < n->n_post; i++)
        if (!n->post[i].node) return false;   /* a Cast: the library stores float */
    return n->out[0]->dtype == IR_F32;
}

static int64_t prod(const ir_shape_t *s, int from, int to) {
    int64_t p = 1;
    for (int d = from; d < to; d++) p *= s->dims[d].v;
    return p;
}

/* The epilogue: `pre` (statements on acc, may be NULL), then the post-ops; the functor
 * constructor goes to ctor. The coordinates c* are those of out[0]. */
static int epilogue(cu_t *c, const ir_node_t *n, const char *pre, out_sbuf_t *ctor) {
    cu_kbegin(c);
    cu_coords(c, &n->out[0]->shape, "i", "c");
    if (pre) out_sb_printf(&c->body, "%s", pre);
    char var[32];
    if (cu_post(c, n, "acc", "c", var)) return -1;
    return cu_kend_epi(c, var, ctor);
}

/* "    OC_CHECK(<call>);" closing the launch printed so far into c->run */
static int emit(cu_t *c, out_sbuf_t *call) {
    out_sb_printf(RUN, "    OC_CHECK(%s);\n", call->p ? call->p : "cudaErrorUnknown");
    int oom = call->oom;
    free(call->p);
    c->nlib++;
    return oom ? cu_error(c, "out of memory") : 0;
}

static void addr(out_sbuf_t *b, const ir_value_t *v, bool w) {
    out_sb_printf(b, ", ");
    cu_addr(b, v, w);
}

/* ---------------------------------------------------------------- GEMM */
int cu_lib_matmul(cu_t *c, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    int ra = A->shape.rank, rb = B->shape.rank, r = Y->shape.rank;
    if (!all_f32(n, 2) || ra < 1 || rb < 1 || cu_numel(Y) == 0) return cu_lower_matmul(c, n);
    int64_t K = A->shape.dims[ra - 1].v, M = ra >= 2 ? A->shape.dims[ra - 2].v : 1, N = rb >= 2 ? B->shape.dims[rb - 1].v : 1;
    int nb = r - (ra >= 2) - (rb >= 2);
    int64_t batch = prod(&Y->shape, 0, nb), an = ra > 2 ? prod(&A->shape, 0, ra - 2) : 1,
            bn = rb > 2 ? prod(&B->shape, 0, rb - 2) : 1;
    /* one batch stride per operand: its batch dims are the output's, or all 1 */
    cuda_launch_t l;
    if (K == 0 || (an != 1 && an != batch) || (bn != 1 && bn != batch) || cuda_gemm_launch(batch, M, N, K, &l))
        return cu_lower_matmul(c, n);
    out_sbuf_t call = {0};
    if (epilogue(c, n, NULL, &call)) return -1;
    out_sbuf_t head = {0};
    out_sb_printf(&head, "oc_gemm<%d>(stream, %lldLL, %lldLL, %lldLL, %lldLL", l.cfg, (long long)batch, (long long)M,
                  (long long)N, (long long)K);
    addr(&head, A, false);
    out_sb_printf(&head, ", %lldLL, %lldLL, 1LL", (long long)(an == 1 ? 0 : M * K), (long long)(ra >= 2 ? K : 0));
    addr(&head, B, false);
    out_sb_printf(&head, ", %lldLL, %lldLL, %lldLL", (long long)(bn == 1 ? 0 : K * N), (long long)(rb >= 2 ? N : 1),
                  (long long)(rb >= 2 ? 1 : 0));
    addr(&head, Y, true);
    out_sb_printf(&head, ", %lldLL, %lldLL, %s)", (long long)(M * N), (long long)N, call.p ? call.p : "");
    free(call.p);
    return emit(c, &head);
}

int cu_lib_gemm(cu_t *c, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *C = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    if (!all_f32(n, 3) || A->shape.rank != 2 || B->shape.rank != 2 || Y->shape.rank != 2 || cu_numel(Y) == 0)
        return cu_lower_gemm(c, n);
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = Y->shape.dims[0].v, N = Y->shape.dims[1].v, K = A->shape.dims[ta ? 0 : 1].v;
    cuda_launch_t l;
    if (K == 0 || cuda_gemm_launch(1, M, N, K, &l)) return cu_lower_gemm(c, n);
    /* alpha and beta * C in the epilogue, before the post-ops */
    out_sbuf_t call = {0};
    cu_kbegin(c);
    cu_coords(c, &Y->shape, "i", "c");
    out_sbuf_t *pre = &c->body;
    if (alpha != 1.0) {
        out_sb_printf(pre, "        acc *= ");
        cu_num(pre, IR_F32, alpha);
        out_sb_printf(pre, ";\n");
    }
    if (C && beta != 0.0 && cu_numel(C) > 0) {
        out_sb_printf(pre, "        acc += ");
        if (beta != 1.0) {
            cu_num(pre, IR_F32, beta);
            out_sb_printf(pre, " * ");
        }
        out_sb_printf(pre, "p%d[", cu_p(c, C));
        cu_bcast_off(c, pre, C, 2, &Y->shape, "c");
        out_sb_printf(pre, "];\n");
    }
    char var[32];
    if (cu_post(c, n, "acc", "c", var) || cu_kend_epi(c, var, &call)) {
        free(call.p);
        return -1;
    }
    out_sbuf_t head = {0};
    out_sb_printf(&head, "oc_gemm<%d>(stream, 1LL, %lldLL, %lldLL, %lldLL", l.cfg, (long long)M, (long long)N, (long long)K);
    addr(&head, A, false);
    out_sb_printf(&head, ", 0LL, %lldLL, %lldLL", (long long)(ta ? 1 : K), (long long)(ta ? M : 1));
    addr(&head, B, false);
    out_sb_printf(&head, ", 0LL, %lldLL, %lldLL", (long long)(tb ? 1 : N), (long long)(tb ? K : 1));
    addr(&head, Y, true);
    out_sb_printf(&head, ", 0LL, %lldLL, %s)", (long long)N, call.p ? call.p : "");
    free(call.p);
    return emit(c, &head);
}

/* ---------------------------------------------------------------- windows */
/* A file-scope descriptor "libN_desc" with initializer d, printed with the kernels. */
static const char *desc(cu_t *c, const out_sbuf_t *d) {
    static char name[32];
    snprintf(name, sizeof name, "lib%d_desc", c->nlib);
    out_sb_printf(&c->kern, "static const onnxc_cu_conv2d_desc %s = %s;\n\n", name, d->p ? d->p : "{}");
    return name;
}
/* The library's 2-D descriptor for a 1-D or 2-D window (1-D: H = KH = 1). */
static bool desc2d(const ir_value_t *X, const ir_value_t *Y, const ir_window_t *w, out_sbuf_t *d) {
    int ns = w->ns;
    if (ns != 1 && ns != 2) return false;
    long long h = ns == 2 ? X->shape.dims[2].v : 1, wd = X->shape.dims[1 + ns].v;
    long long oh = ns == 2 ? Y->shape.dims[2].v : 1, ow = Y->shape.dims[1 + ns].v;
    int a = ns - 1;   /* the last axis */
    out_sb_printf(d, "{%lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL, ", (long long)X->shape.dims[0].v,
                  (long long)X->shape.dims[1].v, h, wd, (long long)Y->shape.dims[1].v, oh, ow);
    out_sb_printf(d, "%lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL, %lldLL}",
                  (long long)(ns == 2 ? w->k[0] : 1), (long long)w->k[a], (long long)(ns == 2 ? w->s[0] : 1),
                  (long long)w->s[a], (long long)(ns == 2 ? w->pb[0] : 0), (long long)w->pb[a],
                  (long long)(ns == 2 ? w->d[0] : 1), (long long)w->d[a], (long long)(w->group ? w->group : 1));
    return true;
}

int cu_lib_conv(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *W = n->in[1], *Bi = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    if (!all_f32(n, 3) || cu_numel(Y) == 0 || cu_numel(X) == 0) return cu_lower_conv(c, n);
    ir_window_t w;
    if (ir_window_params(c->g, n, &X->shape, &W->shape, &w)) return -1;
    out_sbuf_t d = {0};
    for (int s = 0; s < w.ns; s++)
        if (w.pb[s] < 0) return cu_lower_conv(c, n);
    /* the library's own choice: depthwise when group == C > 1, else the implicit GEMM
     * (per group: M = M/group, N = n*oh*ow, K = C/group*kh*kw) */
    int64_t G = w.group ? w.group : 1, Cin = X->shape.dims[1].v;
    cuda_launch_t l;
    if (!desc2d(X, Y, &w, &d) ||
        cuda_gemm_launch(G, Y->shape.dims[1].v / G, cu_numel(Y) / Y->shape.dims[1].v, Cin / G * prod(&W->shape, 2, W->shape.rank), &l)) {
        free(d.p);
        return cu_lower_conv(c, n);
    }
    out_sbuf_t call = {0};
    cu_kbegin(c);
    cu_coords(c, &Y->shape, "i", "c");
    if (Bi && cu_numel(Bi) > 0) out_sb_printf(&c->body, "        acc += p%d[c1];\n", cu_p(c, Bi));
    char var[32];
    if (cu_post(c, n, "acc", "c", var) || cu_kend_epi(c, var, &call)) {
        free(call.p), free(d.p);
        return -1;
    }
    out_sbuf_t head = {0};
    /* not the 128x128 tile: with the implicit-GEMM operand loader and a bias + clip
     * epilogue it spills under ptxas for sm_90 (mobilenet_v2); 64x64 does not */
    int cfg = G == Cin && G > 1 ? 3 : l.cfg == 0 ? 1 : l.cfg;
    out_sb_printf(&head, "oc_conv<%d>(stream, &%s", cfg, desc(c, &d));
    addr(&head, X, false);
    addr(&head, W, false);
    addr(&head, Y, true);
    out_sb_printf(&head, ", %s)", call.p ? call.p : "");
    free(call.p), free(d.p);
    return emit(c, &head);
}

int cu_lib_pool(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    bool global = n->op == IR_OP_GLOBAL_AVERAGE_POOL || n->op == IR_OP_GLOBAL_MAX_POOL;
    bool mx = n->op == IR_OP_MAX_POOL || n->op == IR_OP_GLOBAL_MAX_POOL;
    if (!all_f32(n, 1) || X->shape.rank < 3 || cu_numel(Y) == 0 || cu_numel(X) == 0 ||
        (n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE))
        return cu_lower_pool(c, n);
    out_sbuf_t call = {0}, head = {0};
    if (global) {   /* a row reduction over the spatial extent of each (n, c) */
        if (epilogue(c, n, NULL, &call)) return -1;
        int64_t outer = prod(&X->shape, 0, 2), len = prod(&X->shape, 2, X->shape.rank);
        out_sb_printf(&head, "(onnxc_cu_reduce_launch<%s>(stream, %lldLL, %lldLL, 1LL", mx ? "ONNXC_CU_RED_MAX" : "ONNXC_CU_RED_MEAN",
                      (long long)outer, (long long)len);
        addr(&head, X, false);
        addr(&head, Y, true);
        out_sb_printf(&head, ", %s), ONNXC_CHECK_LAUNCH())", call.p ? call.p : "");
        free(call.p);
        return emit(c, &head);
    }
    ir_window_t w;
    if (ir_window_params(c->g, n, &X->shape, NULL, &w)) return -1;
    bool incl = !mx && ir_attr_int(n, "count_include_pad", 0) != 0;
    for (int s = 0; s < w.ns; s++) {
        if (w.pb[s] < 0 || w.pe[s] < 0) return cu_lower_pool(c, n);
        /* the library divides by the whole window: a ceil_mode window past the padded
         * extent counts fewer, so the naive kernel takes it */
        int64_t last = (Y->shape.dims[2 + s].v - 1) * w.s[s] + (w.k[s] - 1) * w.d[s] + 1;
        if (incl && last > X->shape.dims[2 + s].v + w.pb[s] + w.pe[s]) return cu_lower_pool(c, n);
    }
    w.group = 1;
    out_sbuf_t d = {0};
    if (!desc2d(X, Y, &w, &d)) return cu_lower_pool(c, n);
    if (epilogue(c, n, NULL, &call)) {
        free(d.p);
        return -1;
    }
    out_sb_printf(&head, "onnxc_cu_pool2d_f32(stream, &%s, %s", desc(c, &d), mx ? "ONNXC_CU_POOL_MAX" : incl ? "ONNXC_CU_POOL_AVG_INCL_PAD" : "ONNXC_CU_POOL_AVG_EXCL_PAD");
    addr(&head, X, false);
    addr(&head, Y, true);
    out_sb_printf(&head, ", %s)", call.p ? call.p : "");
    free(call.p), free(d.p);
    return emit(c, &head);
}

/* ---------------------------------------------------------------- reductions */
int cu_lib_reduce(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    int r = X->shape.rank;
    if (!all_f32(n, 1) || n->n_params || r < 1 || cu_numel(Y) == 0) return cu_lower_reduce(c, n);
    bool red[IR_MAX_RANK];
    if (cu_reduce_axes(c, n, red)) return -1;
    /* X as [outer][len][inner]: the reduced axes of size > 1 must be one run [d0, d1)
     * (size-1 axes, kept or not, do not change the layout) */
    int d0 = -1, d1 = 0;
    for (int d = 0; d < r; d++)
        if (red[d] && X->shape.dims[d].v != 1) {
            if (d0 < 0) d0 = d;
            d1 = d + 1;
        }
    if (d0 < 0) d0 = 0;
    for (int d = d0; d < d1; d++)
        if (!red[d] && X->shape.dims[d].v != 1) return cu_lower_reduce(c, n);
    int64_t outer = prod(&X->shape, 0, d0), len = prod(&X->shape, d0, d1), inner = prod(&X->shape, d1, r);
    if (len == 0) return cu_lower_reduce(c, n);
    const char *kind = NULL;
    switch (n->op) {
    case IR_OP_REDUCE_SUM: kind = "ONNXC_CU_RED_SUM"; break;
    case IR_OP_REDUCE_MEAN: kind = "ONNXC_CU_RED_MEAN"; break;
    case IR_OP_REDUCE_MAX: kind = "ONNXC_CU_RED_MAX"; break;
    case IR_OP_REDUCE_MIN: kind = "ONNXC_CU_RED_MIN"; break;
    case IR_OP_REDUCE_PROD: kind = "ONNXC_CU_RED_PROD"; break;
    case IR_OP_REDUCE_SUM_SQUARE: kind = "ONNXC_CU_RED_SUMSQ"; break;
    case IR_OP_REDUCE_L1: kind = "ONNXC_CU_RED_L1"; break;
    case IR_OP_REDUCE_L2: kind = "ONNXC_CU_RED_L2"; break;
    case IR_OP_REDUCE_LOG_SUM: kind = "ONNXC_CU_RED_LOGSUM"; break;
    case IR_OP_REDUCE_LOG_SUM_EXP: kind = "ONNXC_CU_RED_LOGSUMEXP"; break;
    default: return cu_lower_reduce(c, n);
    }
    out_sbuf_t call = {0}, head = {0};
    if (epilogue(c, n, NULL, &call)) return -1;
    /* the launcher of one kind (onnxc_cu_reduce_f32 would instantiate all ten per epilogue) */
    out_sb_printf(&head, "(onnxc_cu_reduce_launch<%s>(stream, %lldLL, %lldLL, %lldLL", kind, (long long)outer, (long long)len,
                  (long long)inner);
    addr(&head, X, false);
    addr(&head, Y, true);
    out_sb_printf(&head, ", %s), ONNXC_CHECK_LAUNCH())", call.p ? call.p : "");
    free(call.p);
    return emit(c, &head);
}

int cu_lib_softmax(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    int r = X->shape.rank;
    if (!all_f32(n, 1) || n->n_post || cu_numel(X) == 0) return cu_lower_softmax(c, n);
    bool old = c->g->opset < 13;
    int axis = (int)ir_attr_int(n, "axis", old ? 1 : -1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return cu_lower_softmax(c, n);
    int64_t outer = prod(&X->shape, 0, axis), L = old ? prod(&X->shape, axis, r) : X->shape.dims[axis].v,
            inner = old ? 1 : prod(&X->shape, axis + 1, r);
    out_sbuf_t head = {0};
    out_sb_printf(&head, "onnxc_cu_softmax_f32(stream, %lldLL, %lldLL, %lldLL, %d", (long long)outer, (long long)L,
                  (long long)inner, n->op == IR_OP_LOG_SOFTMAX);
    addr(&head, X, false);
    addr(&head, Y, true);
    out_sb_printf(&head, ")");
    return emit(c, &head);
}

int cu_lib_layer_norm(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *S = n->in[1], *Bi = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    int r = X->shape.rank;
    int axis = (int)ir_attr_int(n, "axis", -1);
    if (axis < 0) axis += r;
    if (!all_f32(n, 3) || n->n_post || axis < 0 || axis >= r || cu_numel(X) == 0) return cu_lower_layer_norm(c, n);
    int64_t rows = prod(&X->shape, 0, axis), L = prod(&X->shape, axis, r);
    /* scale and bias of the full normalised shape (no broadcast); float32 statistics */
    if (cu_numel(S) != L || (Bi && cu_numel(Bi) != L)) return cu_lower_layer_norm(c, n);
    for (int i = 1; i < n->n_out && i < 3; i++)
        if (n->out[i] && n->out[i]->storage != IR_ST_NONE && n->out[i]->dtype != IR_F32) return cu_lower_layer_norm(c, n);
    out_sbuf_t head = {0};
    out_sb_printf(&head, "onnxc_cu_layernorm_f32(stream, %lldLL, %lldLL, %.9gf", (long long)rows, (long long)L,
                  ir_attr_float(n, "epsilon", 1e-5));
    addr(&head, X, false);
    addr(&head, S, false);
    if (Bi) addr(&head, Bi, false);
    else out_sb_printf(&head, ", (const float *)NULL");
    addr(&head, Y, true);
    for (int i = 1; i < 3; i++) {
        if (n->n_out > i && n->out[i] && n->out[i]->storage != IR_ST_NONE) addr(&head, n->out[i], true);
        else out_sb_printf(&head, ", (float *)NULL");
    }
    out_sb_printf(&head, ")");
    return emit(c, &head);
}
