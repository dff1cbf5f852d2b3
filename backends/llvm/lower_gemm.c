/* Register-tiled micro-kernels for contractions (Conv, Gemm, MatMul), float32 only.
 *
 * Every contraction is seen as Y[i, j] = sum_k A(i, k) * B(k, j) (+ epilogue) with
 * j the unit-stride output axis: Gemm/MatMul columns, or a conv's flattened output
 * pixels (so A is the [OC, C*KH*KW] filter matrix and B the input, im2col'd).
 * The parallel range runs over (batch, column tile); a column tile is NR = 2 vectors
 * wide, and inside it every MR-row block of Y is one micro-kernel call: MR x 2
 * accumulators held in vector values across the K loop, A(i, k) broadcast, two
 * vector loads of B per k, fmuladd, then the epilogue (alpha, bias or C, residual,
 * post-ops) before the store.
 *
 * B comes from one of three places:
 *   - memory as it is (row-major [K, N], ldb = N): MatMul/Gemm activations, 1x1 convs;
 *   - a private constant global packed at compile time into [N/NR][K][NR] panels, for
 *     constant B (nn.Linear weights, with or without transB): contiguous, zero padded,
 *     no cache-set conflicts whatever N is;
 *   - a KC x NR panel on the stack filled per column tile (im2col), for every other
 *     conv: padding, strides and dilations are handled by the packing alone.
 * Anything else returns 1 and the generic loop nests in lower_nn.c take the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llvm/lower_int.h"

#define MR 6
#define KC 256 /* im2col panel depth: KC x NR floats live on the stack */

typedef struct gm gm_t;
/* Fills the output multi-index of Y(i, j) for the post-ops. */
typedef void (*idx_fn)(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx);

struct gm {
    const ir_node_t *n;
    int vl, nr;
    LLVMTypeRef vt;
    int64_t N, K, Ms;            /* Ms: M when static, else -1 */
    LLVMValueRef M;
    LLVMValueRef a, a_rs, a_cs;  /* A(i, k) = a[i*a_rs + k*a_cs] */
    LLVMValueRef ldb;            /* B(k, j) = b[k*ldb + j], b set per tile */
    bool b_padded;               /* B rows hold NR readable columns: no masks on B */
    LLVMValueRef y, ldy;         /* Y(i, j) = y[i*ldy + j] */
    double alpha, beta;
    LLVMValueRef bias;           /* bias[i] added per row, or NULL */
    LLVMValueRef c, c_rs, c_cs;  /* Gemm C(i, j) = c[i*c_rs + j*c_cs], or NULL */
    bool c_vec;                  /* c_cs == 1: C varies along j */
    idx_fn mkidx;
    LLVMValueRef bidx[IR_MAX_RANK]; /* batch indices for mkidx */
    int nb;
    int64_t ow;                  /* conv: output width (p -> oh, ow) */
    int nsp;                     /* conv: spatial rank */
    bool mat_rowa;               /* MatMul: A has a row dim in the output index */
};

/* ---------------------------------------------------------------- small helpers */
static LLVMValueRef add(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(k->b, a, b, ""); }
static LLVMValueRef mul(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(k->b, a, b, ""); }
static LLVMValueRef gep(lw_t *k, LLVMValueRef p, LLVMValueRef off) {
    return LLVMBuildGEP2(k->b, k->f32, p, &off, 1, "");
}

static LLVMValueRef splat(lw_t *k, const gm_t *g, LLVMValueRef s) {
    LLVMValueRef v = LLVMBuildInsertElement(k->b, LLVMGetUndef(g->vt), s, lw_i32(k, 0), "");
    return LLVMBuildShuffleVector(k->b, v, LLVMGetUndef(g->vt), LLVMConstNull(LLVMVectorType(k->i32, (unsigned)g->vl)), "");
}

static LLVMValueRef lane_mask(lw_t *k, const gm_t *g, int valid) {
    LLVMValueRef e[64];
    for (int i = 0; i < g->vl; i++) e[i] = LLVMConstInt(k->i1, i < valid, 0);
    return LLVMConstVector(e, (unsigned)g->vl);
}

static LLVMValueRef intrin2(lw_t *k, const char *name, LLVMTypeRef t0, LLVMTypeRef t1, LLVMValueRef *args, int n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef ts[2] = {t0, t1};
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(k->m, id, ts, 2);
    LLVMTypeRef ft = LLVMIntrinsicGetType(k->c, id, ts, 2);
    return LLVMBuildCall2(k->b, ft, f, args, (unsigned)n, "");
}

/* Loads lanes [0, valid) of a vector at p; the rest read as zero and touch no memory. */
static LLVMValueRef vload(lw_t *k, const gm_t *g, LLVMValueRef p, int valid) {
    if (valid >= g->vl) {
        LLVMValueRef l = LLVMBuildLoad2(k->b, g->vt, p, "");
        LLVMSetAlignment(l, 4);
        return l;
    }
    LLVMValueRef args[4] = {p, lw_i32(k, 4), lane_mask(k, g, valid), LLVMConstNull(g->vt)};
    return intrin2(k, "llvm.masked.load", g->vt, k->ptr, args, 4);
}

static void vstore(lw_t *k, const gm_t *g, LLVMValueRef p, LLVMValueRef x, int valid) {
    if (valid >= g->vl) {
        LLVMValueRef s = LLVMBuildStore(k->b, x, p);
        LLVMSetAlignment(s, 4);
        return;
    }
    LLVMValueRef args[4] = {x, p, lw_i32(k, 4), lane_mask(k, g, valid)};
    intrin2(k, "llvm.masked.store", g->vt, k->ptr, args, 4);
}

static LLVMValueRef vfma(lw_t *k, const gm_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    return lw_intrin(k, "llvm.fmuladd", g->vt, (LLVMValueRef[]){a, b, c}, 3);
}

static bool is_true(LLVMValueRef v) { return LLVMIsConstant(v) && LLVMConstIntGetZExtValue(v) == 1; }

/* ---------------------------------------------------------------- the micro-kernel */
/* Y rows [i0, i0+mr) x columns [jy, jy+w) (+)= A(i, k0 .. k0+kn) * B(0 .. kn, tile), B
 * at b with row stride g->ldb. first: Y holds nothing yet (else accumulate into it);
 * last: K is complete, so the epilogue runs. */
static int emit_tile(lw_t *k, gm_t *g, int mr, int w, LLVMValueRef i0, LLVMValueRef jy, LLVMValueRef b,
                     LLVMValueRef k0, LLVMValueRef kn, LLVMValueRef first, LLVMValueRef last) {
    int nv = (w + g->vl - 1) / g->vl;
    LLVMValueRef acc[MR][4], arow[MR];
    for (int r = 0; r < mr; r++) {
        for (int v = 0; v < nv; v++) {
            acc[r][v] = lw_alloca(k, g->vt, "acc");
            LLVMBuildStore(k->b, LLVMConstNull(g->vt), acc[r][v]);
        }
        arow[r] = gep(k, g->a, add(k, mul(k, add(k, i0, lw_i64(k, r)), g->a_rs), mul(k, k0, g->a_cs)));
    }
    lw_loop_t lk;
    lw_loop_begin(k, &lk, lw_i64(k, 0), kn, "k");
    LLVMValueRef bv[4];
    LLVMValueRef brow = gep(k, b, mul(k, lk.iv, g->ldb));
    for (int v = 0; v < nv; v++)
        bv[v] = vload(k, g, gep(k, brow, lw_i64(k, v * g->vl)), g->b_padded ? g->vl : w - v * g->vl);
    LLVMValueRef koff = mul(k, lk.iv, g->a_cs);
    for (int r = 0; r < mr; r++) {
        LLVMValueRef as = splat(k, g, LLVMBuildLoad2(k->b, k->f32, gep(k, arow[r], koff), ""));
        for (int v = 0; v < nv; v++)
            LLVMBuildStore(k->b, vfma(k, g, as, bv[v], LLVMBuildLoad2(k->b, g->vt, acc[r][v], "")), acc[r][v]);
    }
    lw_loop_end(k, &lk);

    bool f1 = is_true(first);
    for (int r = 0; r < mr; r++) {
        LLVMValueRef i = add(k, i0, lw_i64(k, r));
        LLVMValueRef yrow = gep(k, g->y, add(k, mul(k, i, g->ldy), jy));
        LLVMValueRef rb = g->bias ? splat(k, g, LLVMBuildLoad2(k->b, k->f32, gep(k, g->bias, i), "")) : NULL;
        LLVMValueRef crow = g->c ? gep(k, g->c, add(k, mul(k, i, g->c_rs), mul(k, jy, g->c_cs))) : NULL;
        for (int v = 0; v < nv; v++) {
            int valid = w - v * g->vl;
            LLVMValueRef x = LLVMBuildLoad2(k->b, g->vt, acc[r][v], "");
            if (g->alpha != 1.0) x = LLVMBuildFMul(k->b, x, splat(k, g, LLVMConstReal(k->f32, g->alpha)), "");
            LLVMValueRef init = rb;
            if (crow) {
                LLVMValueRef cv = g->c_vec ? vload(k, g, gep(k, crow, lw_i64(k, v * g->vl)), valid)
                                           : splat(k, g, LLVMBuildLoad2(k->b, k->f32, crow, ""));
                if (g->beta != 1.0) cv = LLVMBuildFMul(k->b, cv, splat(k, g, LLVMConstReal(k->f32, g->beta)), "");
                init = init ? LLVMBuildFAdd(k->b, init, cv, "") : cv;
            }
            LLVMValueRef yp = gep(k, yrow, lw_i64(k, v * g->vl));
            if (!f1) {
                LLVMValueRef prev = vload(k, g, yp, valid);
                init = init ? LLVMBuildSelect(k->b, first, init, prev, "") : LLVMBuildSelect(k->b, first, LLVMConstNull(g->vt), prev, "");
            }
            if (init) x = LLVMBuildFAdd(k->b, x, init, "");
            vstore(k, g, yp, x, valid);
        }
    }

    if (g->n->n_post) {
        /* In place over the stored tile: lw_apply_post knows every post-op, and the
         * loop vectorizer handles the simple ones. */
        lw_if_t f;
        bool l1 = is_true(last);
        if (!l1) lw_if_begin(k, &f, last);
        lw_loop_t lr, lj;
        lw_loop_begin(k, &lr, lw_i64(k, 0), lw_i64(k, mr), "pr");
        lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, w), "pj");
        LLVMValueRef i = add(k, i0, lr.iv), j = add(k, jy, lj.iv);
        LLVMValueRef p = gep(k, g->y, add(k, mul(k, i, g->ldy), j));
        LLVMValueRef idx[IR_MAX_RANK];
        g->mkidx(k, g, i, j, idx);
        LLVMValueRef x = lw_apply_post(k, g->n, LLVMBuildLoad2(k->b, k->f32, p, ""), idx);
        if (!x) return -1;
        LLVMBuildStore(k->b, x, p);
        lw_loop_end(k, &lj);
        lw_loop_end(k, &lr);
        if (!l1) lw_if_end(k, &f);
    }
    return 0;
}

/* All MR-row blocks of one column tile, then the leftover rows. */
static int emit_mloop(lw_t *k, gm_t *g, int w, LLVMValueRef jy, LLVMValueRef b, LLVMValueRef k0, LLVMValueRef kn,
                      LLVMValueRef first, LLVMValueRef last) {
    LLVMValueRef nfull = g->Ms >= 0 ? lw_i64(k, g->Ms / MR) : LLVMBuildSDiv(k->b, g->M, lw_i64(k, MR), "");
    lw_loop_t li;
    lw_loop_begin(k, &li, lw_i64(k, 0), nfull, "it");
    if (emit_tile(k, g, MR, w, mul(k, li.iv, lw_i64(k, MR)), jy, b, k0, kn, first, last)) return -1;
    lw_loop_end(k, &li);
    LLVMValueRef done = mul(k, nfull, lw_i64(k, MR));
    if (g->Ms >= 0) {
        if (g->Ms % MR) return emit_tile(k, g, (int)(g->Ms % MR), w, done, jy, b, k0, kn, first, last);
        return 0;
    }
    lw_loop_begin(k, &li, done, g->M, "ir");
    if (emit_tile(k, g, 1, w, li.iv, jy, b, k0, kn, first, last)) return -1;
    lw_loop_end(k, &li);
    return 0;
}

/* Column tile jt as a full tile when it is one, else as the tail (N % NR columns). */
typedef int (*coltile_fn)(lw_t *k, gm_t *g, int w, LLVMValueRef jt, void *ud);
static int emit_coltile(lw_t *k, gm_t *g, LLVMValueRef jt, coltile_fn f, void *ud) {
    int64_t ntiles = (g->N + g->nr - 1) / g->nr;
    int tail = (int)(g->N % g->nr);
    if (!tail) return f(k, g, g->nr, jt, ud);
    if (ntiles == 1) return f(k, g, tail, jt, ud);
    LLVMBasicBlockRef bf = lw_block(k, "full"), bt = lw_block(k, "tail"), bd = lw_block(k, "tdone");
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, jt, lw_i64(k, ntiles - 1), ""), bf, bt);
    LLVMPositionBuilderAtEnd(k->b, bf);
    if (f(k, g, g->nr, jt, ud)) return -1;
    LLVMBuildBr(k->b, bd);
    LLVMPositionBuilderAtEnd(k->b, bt);
    if (f(k, g, tail, jt, ud)) return -1;
    LLVMBuildBr(k->b, bd);
    LLVMPositionBuilderAtEnd(k->b, bd);
    return 0;
}

/* Opens the kernel with the parallel range over (batch dims of y, column tiles). */
static void begin_tiles(lw_t *k, const ir_node_t *n, const ir_value_t *y, int nb, int64_t ntiles, int64_t work) {
    ir_value_t fake;
    memset(&fake, 0, sizeof fake);
    fake.dtype = y->dtype;
    fake.shape.rank = nb + 2;
    for (int d = 0; d < nb; d++) fake.shape.dims[d] = y->shape.dims[d];
    fake.shape.dims[nb] = ir_dim_const(ntiles);
    fake.shape.dims[nb + 1] = ir_dim_const(work > 0 ? work : 1);
    lw_kernel_begin_range(k, n, &fake, 0, nb + 1);
}

static void init_gm(lw_t *k, gm_t *g, const ir_node_t *n) {
    memset(g, 0, sizeof *g);
    g->n = n;
    unsigned bits = k->L->vector_bits;
    g->vl = bits >= 512 ? 16 : bits >= 256 ? 8 : 4;
    g->nr = 2 * g->vl;
    g->vt = LLVMVectorType(k->f32, (unsigned)g->vl);
    g->alpha = g->beta = 1.0;
}

/* Post-ops we can apply: everything lw_apply_post knows except a dtype change. */
static bool post_ok(const ir_node_t *n) {
    for (int i = 0; i < n->n_post; i++) {
        if (n->post[i].op == IR_OP_CAST) return false;
        if (n->post[i].other && n->post[i].other->dtype != IR_F32) return false;
    }
    return true;
}

static bool all_f32(const ir_node_t *n) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->dtype != IR_F32) return false;
    return n->out[0]->dtype == IR_F32 && post_ok(n);
}

static bool dim_static(const ir_value_t *v, int d) { return v->shape.dims[d].sym < 0; }

/* B as a private constant: [ntiles][K][NR] panels, zero padded past N. B(k, j) is
 * b[k*N + j], or b[j*K + k] when trans. */
static LLVMValueRef pack_const_b(lw_t *k, const gm_t *g, const ir_value_t *B, bool trans) {
    int64_t K = g->K, N = g->N, nr = g->nr, ntiles = (N + nr - 1) / nr;
    if (!B->data || B->data_size != (size_t)(K * N) * sizeof(float)) return NULL;
    size_t cnt = (size_t)(ntiles * K * nr);
    float *buf = calloc(cnt, sizeof(float));
    if (!buf) return NULL;
    const float *src = B->data;
    for (int64_t jt = 0; jt < ntiles; jt++)
        for (int64_t kk = 0; kk < K; kk++)
            for (int64_t jj = 0; jj < nr; jj++) {
                int64_t j = jt * nr + jj;
                if (j < N) buf[(jt * K + kk) * nr + jj] = trans ? src[j * K + kk] : src[kk * N + j];
            }
    LLVMValueRef init = LLVMConstStringInContext2(k->c, (const char *)buf, cnt * sizeof(float), 1);
    free(buf);
    char name[96];
    snprintf(name, sizeof name, "%s_k%d_bpack", k->L->name, k->kernel_id + 1);
    LLVMValueRef gv = LLVMAddGlobal(k->m, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 64);
    return gv;
}

/* ---------------------------------------------------------------- Gemm / MatMul */
typedef struct {
    LLVMValueRef b;       /* B(0, 0) for direct, or the packed panels */
    bool packed;
} mm_t;

static int mm_coltile(lw_t *k, gm_t *g, int w, LLVMValueRef jt, void *ud) {
    mm_t *m = ud;
    LLVMValueRef jy = mul(k, jt, lw_i64(k, g->nr));
    LLVMValueRef b = m->packed ? gep(k, m->b, mul(k, jt, lw_i64(k, g->K * g->nr))) : gep(k, m->b, jy);
    LLVMValueRef one = LLVMConstInt(k->i1, 1, 0);
    return emit_mloop(k, g, w, jy, b, lw_i64(k, 0), lw_i64(k, g->K), one, one);
}

static void gemm_idx(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx) {
    (void)k; (void)g;
    idx[0] = i;
    idx[1] = j;
}

int lw_fast_gemm(lw_t *k, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Cv = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    if (!all_f32(n) || A->shape.rank != 2 || B->shape.rank != 2 || Y->shape.rank != 2) return 1;
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    if (!dim_static(Y, 1) || !dim_static(A, ta ? 0 : 1)) return 1;
    gm_t g;
    init_gm(k, &g, n);
    g.N = Y->shape.dims[1].v;
    g.K = A->shape.dims[ta ? 0 : 1].v;
    if (g.N < 1 || g.K < 1) return 1;
    bool packed = B->data != NULL;
    if (!packed && tb) return 1;
    g.alpha = ir_attr_float(n, "alpha", 1.0);
    g.beta = ir_attr_float(n, "beta", 1.0);
    g.Ms = dim_static(Y, 0) ? Y->shape.dims[0].v : -1;
    mm_t m = {NULL, packed};
    LLVMValueRef pk = packed ? pack_const_b(k, &g, B, tb) : NULL;
    if (packed && !pk) return 1;
    int64_t ntiles = (g.N + g.nr - 1) / g.nr;
    begin_tiles(k, n, Y, 0, ntiles, (g.Ms > 0 ? g.Ms : 1) * g.nr * g.K / 64);
    g.M = lw_dim(k, Y, 0);
    g.a = lw_base(k, A);
    g.a_rs = ta ? lw_i64(k, 1) : lw_i64(k, g.K);
    g.a_cs = ta ? g.M : lw_i64(k, 1);
    g.ldb = packed ? lw_i64(k, g.nr) : lw_i64(k, g.N);
    g.b_padded = packed;
    g.y = lw_base(k, Y);
    g.ldy = lw_i64(k, g.N);
    if (Cv && g.beta != 0.0) {
        LLVMValueRef st[2];
        lw_bcast_strides(k, Cv, Y, st);
        g.c = lw_base(k, Cv);
        g.c_rs = st[0];
        g.c_cs = st[1];
        g.c_vec = Cv->shape.rank >= 1 && g.N > 1 && Cv->shape.dims[Cv->shape.rank - 1].sym < 0 &&
                  Cv->shape.dims[Cv->shape.rank - 1].v == g.N;
    }
    g.mkidx = gemm_idx;
    m.b = packed ? pk : lw_base(k, B);
    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    if (emit_coltile(k, &g, lt.iv, mm_coltile, &m)) return -1;
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}

static void matmul_idx(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx) {
    (void)k;
    int q = 0;
    for (int d = 0; d < g->nb; d++) idx[q++] = g->bidx[d];
    if (g->mat_rowa) idx[q++] = i;
    idx[q++] = j;
}

int lw_fast_matmul(lw_t *k, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    if (!all_f32(n)) return 1;
    int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
    if (ra < 1 || rb < 2 || ro < 1) return 1;
    if (!dim_static(A, ra - 1) || !dim_static(B, rb - 1)) return 1;
    gm_t g;
    init_gm(k, &g, n);
    g.K = A->shape.dims[ra - 1].v;
    g.N = B->shape.dims[rb - 1].v;
    if (g.N < 1 || g.K < 1) return 1;
    int nb = ro - (ra > 1) - 1;
    g.nb = nb;
    g.mat_rowa = ra > 1;
    g.Ms = ra == 1 ? 1 : dim_static(A, ra - 2) ? A->shape.dims[ra - 2].v : -1;
    /* a constant B shared by every batch is packed once */
    bool bshared = true;
    for (int d = 0; d < rb - 2; d++) bshared &= dim_static(B, d) && B->shape.dims[d].v == 1;
    bool packed = B->data != NULL && bshared;
    LLVMValueRef pk = packed ? pack_const_b(k, &g, B, false) : NULL;
    if (packed && !pk) packed = false;
    int64_t ntiles = (g.N + g.nr - 1) / g.nr;
    begin_tiles(k, n, Y, nb, ntiles, (g.Ms > 0 ? g.Ms : 1) * g.nr * g.K / 64);
    g.M = ra > 1 ? lw_dim(k, A, ra - 2) : lw_i64(k, 1);
    LLVMValueRef ast[IR_MAX_RANK], bst[IR_MAX_RANK], abs_[IR_MAX_RANK], bbs[IR_MAX_RANK];
    lw_strides(k, A, ast);
    lw_strides(k, B, bst);
    for (int d = 0; d < nb; d++) {
        int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
        ir_dim_t od = Y->shape.dims[d];
        bool o1 = od.sym < 0 && od.v == 1;
        abs_[d] = (ra > 2 && da >= 0 && !(A->shape.dims[da].sym < 0 && A->shape.dims[da].v == 1 && !o1)) ? ast[da] : lw_i64(k, 0);
        bbs[d] = (rb > 2 && db >= 0 && !(B->shape.dims[db].sym < 0 && B->shape.dims[db].v == 1 && !o1)) ? bst[db] : lw_i64(k, 0);
    }
    LLVMValueRef ab = lw_base(k, A), bb = packed ? pk : lw_base(k, B), yb = lw_base(k, Y);
    g.a_rs = lw_i64(k, g.K);
    g.a_cs = lw_i64(k, 1);
    g.ldb = packed ? lw_i64(k, g.nr) : lw_i64(k, g.N);
    g.b_padded = packed;
    g.ldy = lw_i64(k, g.N);
    g.mkidx = matmul_idx;
    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    LLVMValueRef jt = LLVMBuildSRem(k->b, lt.iv, lw_i64(k, ntiles), "jt");
    LLVMValueRef bt = LLVMBuildSDiv(k->b, lt.iv, lw_i64(k, ntiles), "");
    LLVMValueRef ylin = bt;
    for (int d = nb - 1; d >= 0; d--) {
        LLVMValueRef D = lw_dim(k, Y, d);
        g.bidx[d] = LLVMBuildSRem(k->b, bt, D, "");
        bt = LLVMBuildSDiv(k->b, bt, D, "");
    }
    g.a = gep(k, ab, lw_dot(k, g.bidx, abs_, nb));
    g.y = gep(k, yb, mul(k, ylin, mul(k, g.M, lw_i64(k, g.N))));
    mm_t m = {packed ? bb : gep(k, bb, lw_dot(k, g.bidx, bbs, nb)), packed};
    if (emit_coltile(k, &g, jt, mm_coltile, &m)) return -1;
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- Conv */
typedef struct {
    int64_t C, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw;
    bool direct;          /* 1x1, stride 1, no pad: B is the input itself */
    LLVMValueRef x;       /* input of this batch element */
    LLVMValueRef panel, ih0, iw0;
} conv_t;

static void conv_idx(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx) {
    idx[0] = g->bidx[0];
    idx[1] = i;
    if (g->nsp == 2) {
        idx[2] = LLVMBuildSDiv(k->b, j, lw_i64(k, g->ow), "");
        idx[3] = LLVMBuildSRem(k->b, j, lw_i64(k, g->ow), "");
    } else {
        idx[2] = j;
    }
}

static int conv_coltile(lw_t *k, gm_t *g, int w, LLVMValueRef jt, void *ud) {
    conv_t *cv = ud;
    LLVMValueRef jy = mul(k, jt, lw_i64(k, g->nr));
    if (cv->direct) {
        LLVMValueRef one = LLVMConstInt(k->i1, 1, 0);
        return emit_mloop(k, g, w, jy, gep(k, cv->x, jy), lw_i64(k, 0), lw_i64(k, g->K), one, one);
    }
    /* where each column's receptive field starts; columns past N never fall inside */
    lw_loop_t lj;
    lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, g->nr), "pj");
    LLVMValueRef p = add(k, jy, lj.iv);
    LLVMValueRef oh = LLVMBuildSDiv(k->b, p, lw_i64(k, cv->OW), ""), ow = LLVMBuildSRem(k->b, p, lw_i64(k, cv->OW), "");
    LLVMValueRef in = LLVMBuildICmp(k->b, LLVMIntSLT, p, lw_i64(k, g->N), "");
    LLVMValueRef ih = LLVMBuildSelect(k->b, in, LLVMBuildSub(k->b, mul(k, oh, lw_i64(k, cv->sh)), lw_i64(k, cv->ph), ""),
                                      lw_i64(k, -((int64_t)1 << 40)), "");
    LLVMValueRef iw = LLVMBuildSub(k->b, mul(k, ow, lw_i64(k, cv->sw)), lw_i64(k, cv->pw), "");
    LLVMBuildStore(k->b, ih, LLVMBuildGEP2(k->b, k->i64, cv->ih0, &lj.iv, 1, ""));
    LLVMBuildStore(k->b, iw, LLVMBuildGEP2(k->b, k->i64, cv->iw0, &lj.iv, 1, ""));
    lw_loop_end(k, &lj);

    int64_t nchunks = (g->K + KC - 1) / KC, KK = cv->KH * cv->KW;
    lw_loop_t lc;
    lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, nchunks), "kc");
    LLVMValueRef k0 = mul(k, lc.iv, lw_i64(k, KC));
    LLVMValueRef rest = LLVMBuildSub(k->b, lw_i64(k, g->K), k0, "");
    LLVMValueRef kn = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, rest, lw_i64(k, KC), ""), rest, lw_i64(k, KC), "");
    /* im2col: panel[kk][jj] = x[c, ih0[jj] + kh*dh, iw0[jj] + kw*dw], 0 outside */
    lw_loop_t lk;
    lw_loop_begin(k, &lk, lw_i64(k, 0), kn, "pk");
    LLVMValueRef kabs = add(k, k0, lk.iv);
    LLVMValueRef c = LLVMBuildSDiv(k->b, kabs, lw_i64(k, KK), ""), rr = LLVMBuildSRem(k->b, kabs, lw_i64(k, KK), "");
    LLVMValueRef dho = mul(k, LLVMBuildSDiv(k->b, rr, lw_i64(k, cv->KW), ""), lw_i64(k, cv->dh));
    LLVMValueRef dwo = mul(k, LLVMBuildSRem(k->b, rr, lw_i64(k, cv->KW), ""), lw_i64(k, cv->dw));
    LLVMValueRef xrow = gep(k, cv->x, mul(k, c, lw_i64(k, cv->H * cv->W)));
    LLVMValueRef prow = gep(k, cv->panel, mul(k, lk.iv, lw_i64(k, g->nr)));
    lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, g->nr), "pj");
    LLVMValueRef ihj = LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, cv->ih0, &lj.iv, 1, ""), ""), dho, "");
    LLVMValueRef iwj = LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, cv->iw0, &lj.iv, 1, ""), ""), dwo, "");
    LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntULT, ihj, lw_i64(k, cv->H), ""),
                                   LLVMBuildICmp(k->b, LLVMIntULT, iwj, lw_i64(k, cv->W), ""), "");
    LLVMValueRef off = LLVMBuildSelect(k->b, ok, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, ihj, lw_i64(k, cv->W), ""), iwj, ""),
                                       lw_i64(k, 0), "");
    LLVMValueRef xv = LLVMBuildLoad2(k->b, k->f32, gep(k, xrow, off), "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, ok, xv, LLVMConstReal(k->f32, 0), ""), gep(k, prow, lj.iv));
    lw_loop_end(k, &lj);
    lw_loop_end(k, &lk);
    LLVMValueRef first = LLVMBuildICmp(k->b, LLVMIntEQ, lc.iv, lw_i64(k, 0), "");
    LLVMValueRef last = LLVMBuildICmp(k->b, LLVMIntEQ, lc.iv, lw_i64(k, nchunks - 1), "");
    if (nchunks == 1) first = last = LLVMConstInt(k->i1, 1, 0);
    if (emit_mloop(k, g, w, jy, cv->panel, k0, kn, first, last)) return -1;
    lw_loop_end(k, &lc);
    return 0;
}

int lw_fast_conv(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    if (!all_f32(n)) return 1;
    int r = x->shape.rank, nsp = r - 2;
    if (nsp < 1 || nsp > 2 || w->shape.rank != r || y->shape.rank != r) return 1;
    for (int d = 1; d < r; d++)
        if (!dim_static(x, d) || !dim_static(y, d) || !dim_static(w, d)) return 1;
    if (!dim_static(w, 0) || ir_attr_int(n, "group", 1) != 1) return 1;
    conv_t cv;
    memset(&cv, 0, sizeof cv);
    const int64_t *st, *dl, *pd;
    int nst = ir_attr_ints(n, "strides", &st), ndl = ir_attr_ints(n, "dilations", &dl), npd = ir_attr_ints(n, "pads", &pd);
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    int64_t in[2], out[2], kern[2], s[2], dil[2], pb[2];
    for (int i = 0; i < nsp; i++) {
        in[i] = x->shape.dims[i + 2].v;
        out[i] = y->shape.dims[i + 2].v;
        kern[i] = w->shape.dims[i + 2].v;
        s[i] = nst == nsp ? st[i] : 1;
        dil[i] = ndl == nsp ? dl[i] : 1;
        if (s[i] < 1 || dil[i] < 1) return 1;
        pb[i] = npd == 2 * nsp ? pd[i] : 0;
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t total = (out[i] - 1) * s[i] + (kern[i] - 1) * dil[i] + 1 - in[i];
            if (total < 0) total = 0;
            pb[i] = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        } else if (strcmp(ap, "VALID") == 0) {
            pb[i] = 0;
        }
    }
    int h = nsp == 2 ? 0 : -1, wd = nsp - 1;
    cv.C = x->shape.dims[1].v;
    cv.H = h >= 0 ? in[h] : 1; cv.W = in[wd];
    cv.OH = h >= 0 ? out[h] : 1; cv.OW = out[wd];
    cv.KH = h >= 0 ? kern[h] : 1; cv.KW = kern[wd];
    cv.sh = h >= 0 ? s[h] : 1; cv.sw = s[wd];
    cv.dh = h >= 0 ? dil[h] : 1; cv.dw = dil[wd];
    cv.ph = h >= 0 ? pb[h] : 0; cv.pw = pb[wd];
    if (w->shape.dims[1].v != cv.C) return 1;
    cv.direct = cv.KH == 1 && cv.KW == 1 && cv.sh == 1 && cv.sw == 1 && cv.ph == 0 && cv.pw == 0 &&
                cv.OH == cv.H && cv.OW == cv.W;
    gm_t g;
    init_gm(k, &g, n);
    g.N = cv.OH * cv.OW;
    g.K = cv.C * cv.KH * cv.KW;
    g.Ms = w->shape.dims[0].v;
    if (g.N < 1 || g.K < 1 || g.Ms < 1) return 1;
    g.nsp = nsp;
    g.ow = cv.OW;
    g.nb = 1;
    int64_t ntiles = (g.N + g.nr - 1) / g.nr;
    begin_tiles(k, n, y, 1, ntiles, g.Ms * g.nr);
    g.M = lw_i64(k, g.Ms);
    g.a = lw_base(k, w);
    g.a_rs = lw_i64(k, g.K);
    g.a_cs = lw_i64(k, 1);
    g.ldb = lw_i64(k, cv.direct ? g.N : g.nr);
    g.b_padded = !cv.direct;
    g.ldy = lw_i64(k, g.N);
    g.bias = bias ? lw_base(k, bias) : NULL;
    g.mkidx = conv_idx;
    if (!cv.direct) {
        cv.panel = lw_alloca(k, LLVMArrayType2(k->f32, (uint64_t)KC * (uint64_t)g.nr), "panel");
        LLVMSetAlignment(cv.panel, 64);
        cv.ih0 = lw_alloca(k, LLVMArrayType2(k->i64, (uint64_t)g.nr), "ih0");
        cv.iw0 = lw_alloca(k, LLVMArrayType2(k->i64, (uint64_t)g.nr), "iw0");
    }
    LLVMValueRef xb = lw_base(k, x), yb = lw_base(k, y);
    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    LLVMValueRef jt = LLVMBuildSRem(k->b, lt.iv, lw_i64(k, ntiles), "jt");
    g.bidx[0] = LLVMBuildSDiv(k->b, lt.iv, lw_i64(k, ntiles), "n");
    cv.x = gep(k, xb, mul(k, g.bidx[0], lw_i64(k, cv.C * cv.H * cv.W)));
    g.y = gep(k, yb, mul(k, g.bidx[0], lw_i64(k, g.Ms * g.N)));
    if (emit_coltile(k, &g, jt, conv_coltile, &cv)) return -1;
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}
