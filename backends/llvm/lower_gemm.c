/* Register-tiled micro-kernels for contractions (Conv, Gemm, MatMul), float32 only.
 *
 * Every contraction is seen as Y[i, j] = sum_k A(i, k) * B(k, j) (+ epilogue) with j the
 * unit-stride output axis: Gemm/MatMul columns, or a conv's flattened output pixels (A
 * is then the [OC, C*KH*KW] filter matrix and B the input, im2col'd).
 *
 * Blocking, outermost first (BLIS-like):
 *   task    (batch, column group of NT tiles of NR = 2 vectors, block of MR-row tiles):
 *           the parallel range, so small outputs still split across threads;
 *   K chunk of KC: B's chunk for the group (KC x NT*NR) stays in L2;
 *   MR-row tile, then each NR-column tile of the group: the MR x KC sliver of A is
 *           reused from L1 by the NT column tiles;
 *   micro-kernel: MR x 2 accumulators held in vector values across the chunk, A(i, k)
 *           broadcast, two vector loads of B per k, fmuladd; after the last chunk the
 *           epilogue (alpha, bias or C, post-ops) runs on the tile before it is final.
 *
 * Every size above (MR, NR, KC, NT, the task split) and the choice of B's form come from
 * the node's schedule (node->sched->tiles, passes/schedule.c), made from the target
 * description: this file lowers what the schedule decided and decides nothing itself.
 *
 * A is read where it lies (row-major filters / activations, or transposed for transA):
 * packing conv filters into [M/MR][K][MR] slivers measured only ~2% faster here.
 * B comes from one of three places (sched->tiles.bform):
 *   - memory as it is (row-major, ldb = N): MatMul/Gemm activations, 1x1 stride-1 convs;
 *   - a constant the schedule pass packed into [N/NR][K][NR] panels, for constant B
 *     (nn.Linear weights, with or without transB): contiguous and zero padded. It is the
 *     node's in[1] and lives in the weights blob like any constant; the original is gone
 *     from the blob unless something else reads it, so a weight ships once;
 *   - NT panels of KC x NR on the stack filled per chunk (im2col) for every other conv:
 *     padding, strides and dilations are handled by the packing alone; stride-1 convs
 *     whose output rows are as wide as the input's fill them with masked vector loads.
 * A node the schedule did not tile returns 1 and the generic loop nests in lower_nn.c
 * take it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/sched.h"

#define MR_CAP 16     /* the most rows of accumulators a tile may hold (arrays below) */

enum { B_DIRECT, B_PACKED, B_IM2COL };

typedef struct gm gm_t;
/* Fills the output multi-index of Y(i, j) for the post-ops. */
typedef void (*idx_fn)(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx);

typedef struct {
    int64_t C, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw;
    LLVMValueRef x;          /* input of this batch element */
    LLVMValueRef panel, ih0, iw0;
} conv_t;

struct gm {
    const ir_node_t *n;
    int vl, nr, nt, mr, kc;
    LLVMTypeRef vt;
    int64_t N, K, Ms;            /* Ms: M when static, else -1 */
    int64_t ngroups, mblocks, tpb; /* tpb: mr tiles per M block */
    LLVMValueRef M;
    LLVMValueRef a, a_rs, a_cs;  /* A(i, k) = a[i*a_rs + k*a_cs] */
    int bkind;
    LLVMValueRef bsrc, ldb;      /* DIRECT: B(0, 0); PACKED: the panels */
    conv_t *cv;                  /* IM2COL */
    LLVMValueRef y, ldy;         /* Y(i, j) = y[i*ldy + j] */
    double alpha, beta;
    LLVMValueRef bias;           /* bias[i] added per row, or NULL */
    LLVMValueRef c, c_rs, c_cs;  /* Gemm C(i, j) = c[i*c_rs + j*c_cs], or NULL */
    bool c_vec;                  /* C varies along j (c_cs == 1) */
    idx_fn mkidx;
    LLVMValueRef bidx[IR_MAX_RANK]; /* batch indices for mkidx */
    int nb;
    int64_t ow;                  /* conv: output width (p -> oh, ow) */
    int nsp;                     /* conv: spatial rank */
    bool mat_rowa;               /* MatMul: the output index has A's row dim */
    int ncol;                    /* trailing output dims that make up j */
    /* per post-op operand: 1 contiguous along j, 0 constant along j; vec_post false
     * when one is neither (then the post-ops run as a scalar loop over the tile) */
    signed char other_contig[16];
    bool vec_post;
};

/* ---------------------------------------------------------------- small helpers */
static LLVMValueRef add(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(k->b, a, b, ""); }
static LLVMValueRef mul(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(k->b, a, b, ""); }
static LLVMValueRef gep(lw_t *k, LLVMValueRef p, LLVMValueRef off) {
    return LLVMBuildGEP2(k->b, k->f32, p, &off, 1, "");
}
static LLVMValueRef smin(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, b, ""), a, b, "");
}
static LLVMValueRef i1c(lw_t *k, bool v) { return LLVMConstInt(k->i1, v, 0); }
static bool is_true(LLVMValueRef v) { return LLVMIsConstant(v) && LLVMConstIntGetZExtValue(v) == 1; }

static LLVMValueRef splat(lw_t *k, const gm_t *g, LLVMValueRef s) {
    LLVMValueRef v = LLVMBuildInsertElement(k->b, LLVMGetUndef(g->vt), s, lw_i32(k, 0), "");
    return LLVMBuildShuffleVector(k->b, v, LLVMGetUndef(g->vt), LLVMConstNull(LLVMVectorType(k->i32, (unsigned)g->vl)), "");
}

static LLVMValueRef lane_mask(lw_t *k, const gm_t *g, int valid) {
    LLVMValueRef e[64];
    for (int i = 0; i < g->vl; i++) e[i] = i1c(k, i < valid);
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
        LLVMSetAlignment(LLVMBuildStore(k->b, x, p), 4);
        return;
    }
    LLVMValueRef args[4] = {x, p, lw_i32(k, 4), lane_mask(k, g, valid)};
    intrin2(k, "llvm.masked.store", g->vt, k->ptr, args, 4);
}

static LLVMValueRef vfma(lw_t *k, const gm_t *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    return lw_intrin(k, "llvm.fmuladd", g->vt, (LLVMValueRef[]){a, b, c}, 3);
}

/* ---------------------------------------------------------------- epilogue */
/* Whether every post-op operand is, along j, either contiguous or constant. */
static void classify_post(gm_t *g) {
    const ir_node_t *n = g->n;
    const ir_value_t *out = n->out[0];
    int ro = out->shape.rank;
    g->vec_post = n->n_post <= 16;
    for (int q = 0; q < n->n_post && g->vec_post; q++) {
        const ir_value_t *o = n->post[q].other;
        if (!o) continue;
        int rv = o->shape.rank, full = 0, bc = 0;
        for (int d = ro - g->ncol; d < ro; d++) {
            ir_dim_t od = out->shape.dims[d];
            if (od.sym < 0 && od.v == 1) continue;
            int dv = d - (ro - rv);
            if (dv >= 0 && ir_dim_eq(o->shape.dims[dv], od)) full++;
            else if (dv < 0 || (o->shape.dims[dv].sym < 0 && o->shape.dims[dv].v == 1)) bc++;
            else g->vec_post = false;
        }
        if (full && bc) g->vec_post = false;
        g->other_contig[q] = full > 0;
    }
}

/* The post-ops on the vector of Y(i, jv .. jv+valid). */
static LLVMValueRef vec_post(lw_t *k, gm_t *g, LLVMValueRef x, LLVMValueRef i, LLVMValueRef jv, int valid) {
    const ir_node_t *n = g->n;
    const ir_value_t *out = n->out[0];
    LLVMValueRef idx[IR_MAX_RANK];
    bool have_idx = false;
    for (int q = 0; q < n->n_post; q++) {
        const ir_postop_t *p = &n->post[q];
        LLVMValueRef o = NULL;
        if (p->other) {
            if (!have_idx) g->mkidx(k, g, i, jv, idx);
            have_idx = true;
            LLVMValueRef st[IR_MAX_RANK];
            lw_bcast_strides(k, p->other, out, st);
            LLVMValueRef op = gep(k, lw_base(k, p->other), lw_dot(k, idx, st, out->shape.rank));
            o = g->other_contig[q] ? vload(k, g, op, valid) : splat(k, g, LLVMBuildLoad2(k->b, k->f32, op, ""));
        }
        /* the op's recipe on whole vectors (constant scalar inputs splatted) */
        LLVMValueRef in[3] = {NULL, NULL, NULL};
        bool present[3] = {false, false, false};
        for (int j = 0; j < p->node->n_in && j < 3; j++) {
            if (!p->node->in[j]) continue;
            present[j] = true;
            in[j] = j == p->self ? x : j == p->oidx ? o : lw_recipe_const(k, p->node->in[j], IR_F32, (unsigned)g->vl);
        }
        if (!(x = lw_recipe(k, p->node, IR_F32, (unsigned)g->vl, in, present))) return NULL;
    }
    return x;
}

/* ---------------------------------------------------------------- the micro-kernel */
/* Y rows [i0, i0+mr) x columns [jy, jy+w) (+)= A(i, k0 .. k0+kn) * B(0 .. kn, tile), B
 * at b with row stride g->ldb. first: Y holds nothing yet (else accumulate into it);
 * last: K is complete, so the epilogue runs. */
static int emit_tile(lw_t *k, gm_t *g, int mr, int w, LLVMValueRef i0, LLVMValueRef jy, LLVMValueRef b,
                     LLVMValueRef k0, LLVMValueRef kn, LLVMValueRef first, LLVMValueRef last) {
    int nv = (w + g->vl - 1) / g->vl;
    LLVMValueRef acc[MR_CAP][2], arow[MR_CAP];
    LLVMValueRef a_cs = g->a_cs;
    for (int r = 0; r < mr; r++) {
        for (int v = 0; v < nv; v++) {
            acc[r][v] = lw_alloca(k, g->vt, "acc");
            LLVMBuildStore(k->b, LLVMConstNull(g->vt), acc[r][v]);
        }
        arow[r] = gep(k, g->a, add(k, mul(k, add(k, i0, lw_i64(k, r)), g->a_rs), mul(k, k0, a_cs)));
    }
    bool padded = g->bkind != B_DIRECT;
    lw_loop_t lk;
    lw_loop_begin(k, &lk, lw_i64(k, 0), kn, "k");
    LLVMValueRef bv[2];
    LLVMValueRef brow = gep(k, b, mul(k, lk.iv, g->ldb));
    for (int v = 0; v < nv; v++)
        bv[v] = vload(k, g, gep(k, brow, lw_i64(k, v * g->vl)), padded ? g->vl : w - v * g->vl);
    LLVMValueRef koff = mul(k, lk.iv, a_cs);
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
                init = LLVMBuildSelect(k->b, first, init ? init : LLVMConstNull(g->vt), prev, "");
            }
            if (init) x = LLVMBuildFAdd(k->b, x, init, "");
            if (g->n->n_post && g->vec_post) {
                LLVMValueRef px = vec_post(k, g, x, i, add(k, jy, lw_i64(k, v * g->vl)), valid);
                if (!px) return -1;
                x = is_true(last) ? px : LLVMBuildSelect(k->b, last, px, x, "");
            }
            vstore(k, g, yp, x, valid);
        }
    }

    if (g->n->n_post && !g->vec_post) {
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

/* ---------------------------------------------------------------- im2col */
/* Where each column of the group starts reading; columns past N never read. */
static void im2col_setup(lw_t *k, gm_t *g, LLVMValueRef jy0) {
    conv_t *cv = g->cv;
    lw_loop_t lj;
    lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, (int64_t)g->nt * g->nr), "pj");
    LLVMValueRef p = add(k, jy0, lj.iv);
    LLVMValueRef oh = LLVMBuildSDiv(k->b, p, lw_i64(k, cv->OW), ""), ow = LLVMBuildSRem(k->b, p, lw_i64(k, cv->OW), "");
    LLVMValueRef in = LLVMBuildICmp(k->b, LLVMIntSLT, p, lw_i64(k, g->N), "");
    LLVMValueRef ih = LLVMBuildSelect(k->b, in, LLVMBuildSub(k->b, mul(k, oh, lw_i64(k, cv->sh)), lw_i64(k, cv->ph), ""),
                                      lw_i64(k, -((int64_t)1 << 30)), "");
    LLVMValueRef iw = LLVMBuildSub(k->b, mul(k, ow, lw_i64(k, cv->sw)), lw_i64(k, cv->pw), "");
    LLVMBuildStore(k->b, LLVMBuildTrunc(k->b, ih, k->i32, ""), LLVMBuildGEP2(k->b, k->i32, cv->ih0, &lj.iv, 1, ""));
    LLVMBuildStore(k->b, LLVMBuildTrunc(k->b, iw, k->i32, ""), LLVMBuildGEP2(k->b, k->i32, cv->iw0, &lj.iv, 1, ""));
    lw_loop_end(k, &lj);
}

/* panel[kk][jj] = x[c, ih0[jj] + kh*dh, iw0[jj] + kw*dw] for k = k0 + kk, 0 outside. */
static void im2col_pack(lw_t *k, gm_t *g, LLVMValueRef jy0, LLVMValueRef k0, LLVMValueRef kn) {
    conv_t *cv = g->cv;
    int64_t KK = cv->KH * cv->KW, cols = (int64_t)g->nt * g->nr;
    /* Stride 1 with rows as wide as the input's: column p reads x[c][p + const], so a
     * row of the panel is a masked vector load per vector (the mask is the padding). */
    bool affine = cv->sh == 1 && cv->sw == 1 && cv->OW == cv->W;
    lw_loop_t lk, lj;
    lw_loop_begin(k, &lk, lw_i64(k, 0), kn, "pk");
    LLVMValueRef kabs = add(k, k0, lk.iv);
    LLVMValueRef c = LLVMBuildSDiv(k->b, kabs, lw_i64(k, KK), ""), rr = LLVMBuildSRem(k->b, kabs, lw_i64(k, KK), "");
    LLVMValueRef dho = mul(k, LLVMBuildSDiv(k->b, rr, lw_i64(k, cv->KW), ""), lw_i64(k, cv->dh));
    LLVMValueRef dwo = mul(k, LLVMBuildSRem(k->b, rr, lw_i64(k, cv->KW), ""), lw_i64(k, cv->dw));
    LLVMValueRef xrow = gep(k, cv->x, mul(k, c, lw_i64(k, cv->H * cv->W)));
    /* the panel holds one [KC][NR] block per column tile, so each is read sequentially */
    LLVMValueRef prow = gep(k, cv->panel, mul(k, lk.iv, lw_i64(k, g->nr)));
    LLVMValueRef dh32 = LLVMBuildTrunc(k->b, dho, k->i32, ""), dw32 = LLVMBuildTrunc(k->b, dwo, k->i32, "");
    if (affine) {
        LLVMTypeRef iv = LLVMVectorType(k->i32, (unsigned)g->vl);
        LLVMValueRef zi = LLVMConstNull(LLVMVectorType(k->i32, (unsigned)g->vl));
        LLVMValueRef dhv = LLVMBuildShuffleVector(k->b, LLVMBuildInsertElement(k->b, LLVMGetUndef(iv), dh32, lw_i32(k, 0), ""),
                                                  LLVMGetUndef(iv), zi, "");
        LLVMValueRef dwv = LLVMBuildShuffleVector(k->b, LLVMBuildInsertElement(k->b, LLVMGetUndef(iv), dw32, lw_i32(k, 0), ""),
                                                  LLVMGetUndef(iv), zi, "");
        LLVMValueRef e[64], f[64];
        for (int l = 0; l < g->vl; l++) {
            e[l] = lw_i32(k, (int32_t)cv->H);
            f[l] = lw_i32(k, (int32_t)cv->W);
        }
        LLVMValueRef Hv = LLVMConstVector(e, (unsigned)g->vl), Wv = LLVMConstVector(f, (unsigned)g->vl);
        /* x[c][(oh + kh*dh - ph)*W + ow + kw*dw - pw] = x[c][p + (kh*dh - ph)*W + kw*dw - pw] */
        LLVMValueRef src = gep(k, xrow, add(k, jy0, add(k, mul(k, LLVMBuildSub(k->b, dho, lw_i64(k, cv->ph), ""), lw_i64(k, cv->W)),
                                                        LLVMBuildSub(k->b, dwo, lw_i64(k, cv->pw), ""))));
        for (int64_t jv = 0; jv < cols; jv += g->vl) {
            LLVMValueRef ih = LLVMBuildLoad2(k->b, iv, LLVMBuildGEP2(k->b, k->i32, cv->ih0, (LLVMValueRef[]){lw_i64(k, jv)}, 1, ""), "");
            LLVMValueRef iw = LLVMBuildLoad2(k->b, iv, LLVMBuildGEP2(k->b, k->i32, cv->iw0, (LLVMValueRef[]){lw_i64(k, jv)}, 1, ""), "");
            LLVMSetAlignment(ih, 4);
            LLVMSetAlignment(iw, 4);
            LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntULT, LLVMBuildAdd(k->b, ih, dhv, ""), Hv, ""),
                                           LLVMBuildICmp(k->b, LLVMIntULT, LLVMBuildAdd(k->b, iw, dwv, ""), Wv, ""), "");
            LLVMValueRef args[4] = {gep(k, src, lw_i64(k, jv)), lw_i32(k, 4), ok, LLVMConstNull(g->vt)};
            LLVMValueRef v = intrin2(k, "llvm.masked.load", g->vt, k->ptr, args, 4);
            int64_t po = jv / g->nr * g->kc * g->nr + jv % g->nr;
            LLVMSetAlignment(LLVMBuildStore(k->b, v, gep(k, prow, lw_i64(k, po))), 4);
        }
    } else {
        lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, cols), "pj");
        LLVMValueRef ihj = LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i32, LLVMBuildGEP2(k->b, k->i32, cv->ih0, &lj.iv, 1, ""), ""), dh32, "");
        LLVMValueRef iwj = LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i32, LLVMBuildGEP2(k->b, k->i32, cv->iw0, &lj.iv, 1, ""), ""), dw32, "");
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntULT, ihj, lw_i32(k, (int32_t)cv->H), ""),
                                       LLVMBuildICmp(k->b, LLVMIntULT, iwj, lw_i32(k, (int32_t)cv->W), ""), "");
        LLVMValueRef off = LLVMBuildSelect(k->b, ok, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, ihj, lw_i32(k, (int32_t)cv->W), ""), iwj, ""),
                                           lw_i32(k, 0), "");
        LLVMValueRef xv = LLVMBuildLoad2(k->b, k->f32, gep(k, xrow, LLVMBuildSExt(k->b, off, k->i64, "")), "");
        LLVMValueRef po = add(k, mul(k, LLVMBuildUDiv(k->b, lj.iv, lw_i64(k, g->nr), ""), lw_i64(k, (int64_t)g->kc * g->nr)),
                              LLVMBuildURem(k->b, lj.iv, lw_i64(k, g->nr), ""));
        LLVMBuildStore(k->b, LLVMBuildSelect(k->b, ok, xv, LLVMConstReal(k->f32, 0), ""), gep(k, prow, po));
        lw_loop_end(k, &lj);
    }
    lw_loop_end(k, &lk);
}

/* ---------------------------------------------------------------- the task */
static LLVMValueRef b_tile(lw_t *k, gm_t *g, LLVMValueRef grp, LLVMValueRef jy0, LLVMValueRef s, LLVMValueRef k0) {
    switch (g->bkind) {
    case B_DIRECT:
        return gep(k, g->bsrc, add(k, mul(k, k0, g->ldb), add(k, jy0, mul(k, s, lw_i64(k, g->nr)))));
    case B_PACKED: {
        LLVMValueRef jt = add(k, mul(k, grp, lw_i64(k, g->nt)), s);
        return gep(k, g->bsrc, add(k, mul(k, jt, lw_i64(k, g->K * g->nr)), mul(k, k0, lw_i64(k, g->nr))));
    }
    default:
        return gep(k, g->cv->panel, mul(k, s, lw_i64(k, (int64_t)g->kc * g->nr)));
    }
}

/* One g->mr-row (or mr-row) tile across every column tile of the group. */
static int emit_rowtile(lw_t *k, gm_t *g, int mr, LLVMValueRef i0, LLVMValueRef grp, LLVMValueRef jy0,
                        LLVMValueRef nsub, LLVMValueRef has_tail, LLVMValueRef k0, LLVMValueRef kn,
                        LLVMValueRef first, LLVMValueRef last) {
    lw_loop_t ls;
    lw_loop_begin(k, &ls, lw_i64(k, 0), nsub, "s");
    LLVMValueRef jy = add(k, jy0, mul(k, ls.iv, lw_i64(k, g->nr)));
    if (emit_tile(k, g, mr, g->nr, i0, jy, b_tile(k, g, grp, jy0, ls.iv, k0), k0, kn, first, last)) return -1;
    lw_loop_end(k, &ls);
    int tailw = (int)(g->N % g->nr);
    if (tailw) {
        lw_if_t f;
        lw_if_begin(k, &f, has_tail);
        LLVMValueRef jy = add(k, jy0, mul(k, nsub, lw_i64(k, g->nr)));
        if (emit_tile(k, g, mr, tailw, i0, jy, b_tile(k, g, grp, jy0, nsub, k0), k0, kn, first, last)) return -1;
        lw_if_end(k, &f);
    }
    return 0;
}

static int emit_task(lw_t *k, gm_t *g, LLVMValueRef grp, LLVMValueRef mb) {
    const int MR = g->mr, KC = g->kc;
    int64_t nfull = g->N / g->nr, gcols = (int64_t)g->nt * g->nr;
    LLVMValueRef jy0 = mul(k, grp, lw_i64(k, gcols));
    LLVMValueRef nsub = smin(k, lw_i64(k, g->nt), LLVMBuildSub(k->b, lw_i64(k, nfull), mul(k, grp, lw_i64(k, g->nt)), ""));
    LLVMValueRef has_tail = LLVMBuildICmp(k->b, LLVMIntEQ, grp, lw_i64(k, g->ngroups - 1), "");
    LLVMValueRef it0, it1, mtail;
    if (g->Ms >= 0) {
        it0 = mul(k, mb, lw_i64(k, g->tpb));
        it1 = smin(k, add(k, it0, lw_i64(k, g->tpb)), lw_i64(k, g->Ms / MR));
        mtail = LLVMBuildICmp(k->b, LLVMIntEQ, mb, lw_i64(k, g->mblocks - 1), "");
    } else {
        it0 = lw_i64(k, 0);
        it1 = LLVMBuildSDiv(k->b, g->M, lw_i64(k, MR), "");
        mtail = i1c(k, true);
    }
    if (g->bkind == B_IM2COL) im2col_setup(k, g, jy0);
    int64_t nchunks = (g->K + KC - 1) / KC;
    LLVMValueRef k0, kn, first, last;
    lw_loop_t lc;
    if (nchunks == 1) {
        k0 = lw_i64(k, 0);
        kn = lw_i64(k, g->K);
        first = last = i1c(k, true);
    } else {
        lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, nchunks), "kc");
        k0 = mul(k, lc.iv, lw_i64(k, KC));
        kn = smin(k, lw_i64(k, KC), LLVMBuildSub(k->b, lw_i64(k, g->K), k0, ""));
        first = LLVMBuildICmp(k->b, LLVMIntEQ, lc.iv, lw_i64(k, 0), "");
        last = LLVMBuildICmp(k->b, LLVMIntEQ, lc.iv, lw_i64(k, nchunks - 1), "");
    }
    if (g->bkind == B_IM2COL) im2col_pack(k, g, jy0, k0, kn);
    lw_loop_t li;
    lw_loop_begin(k, &li, it0, it1, "it");
    if (emit_rowtile(k, g, MR, mul(k, li.iv, lw_i64(k, MR)), grp, jy0, nsub, has_tail, k0, kn, first, last)) return -1;
    lw_loop_end(k, &li);
    if (g->Ms >= 0) {
        if (g->Ms % MR) {
            lw_if_t f;
            lw_if_begin(k, &f, mtail);
            if (emit_rowtile(k, g, (int)(g->Ms % MR), lw_i64(k, g->Ms / MR * MR), grp, jy0, nsub, has_tail, k0, kn,
                             first, last))
                return -1;
            lw_if_end(k, &f);
        }
    } else {
        lw_loop_begin(k, &li, mul(k, it1, lw_i64(k, MR)), g->M, "ir");
        if (emit_rowtile(k, g, 1, li.iv, grp, jy0, nsub, has_tail, k0, kn, first, last)) return -1;
        lw_loop_end(k, &li);
    }
    if (nchunks > 1) lw_loop_end(k, &lc);
    return 0;
}

/* Opens the kernel with the parallel range over (batch dims of y, column groups, M
 * blocks), as the schedule split it. */
static void begin_tiles(lw_t *k, gm_t *g, const ir_value_t *y, int nb) {
    classify_post(g);
    /* the iteration space: batch dims x tasks, then the work per task (for the threshold) */
    ir_shape_t space = {.rank = nb + 2};
    for (int d = 0; d < nb; d++) space.dims[d] = y->shape.dims[d];
    space.dims[nb] = ir_dim_const(g->ngroups * g->mblocks);
    int64_t work = (g->Ms > 0 ? g->Ms : 1) * g->nt * g->nr / g->mblocks * (g->K > 64 ? g->K / 64 : 1);
    space.dims[nb + 1] = ir_dim_const(work > 0 ? work : 1);
    lw_kernel_begin_shape(k, g->n, &space, 0, nb + 1);
}

/* The task loop over [begin, end); batch indices into g->bidx, then setb places the
 * per-batch pointers before the task body. */
typedef void (*setb_fn)(lw_t *k, gm_t *g, LLVMValueRef ylin, void *ud);
static int emit_tasks(lw_t *k, gm_t *g, const ir_value_t *y, setb_fn setb, void *ud) {
    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    LLVMValueRef t = lt.iv;
    LLVMValueRef mb = LLVMBuildSRem(k->b, t, lw_i64(k, g->mblocks), "mb");
    t = LLVMBuildSDiv(k->b, t, lw_i64(k, g->mblocks), "");
    LLVMValueRef grp = LLVMBuildSRem(k->b, t, lw_i64(k, g->ngroups), "grp");
    LLVMValueRef bt = LLVMBuildSDiv(k->b, t, lw_i64(k, g->ngroups), "");
    LLVMValueRef ylin = bt;
    for (int d = g->nb - 1; d >= 0; d--) {
        LLVMValueRef D = lw_dim(k, y, d);
        g->bidx[d] = LLVMBuildSRem(k->b, bt, D, "");
        bt = LLVMBuildSDiv(k->b, bt, D, "");
    }
    setb(k, g, ylin, ud);
    if (emit_task(k, g, grp, mb)) return -1;
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}

/* Everything the schedule decided; returns false when it did not tile n. */
static bool init_gm(lw_t *k, gm_t *g, const ir_node_t *n) {
    memset(g, 0, sizeof *g);
    const ir_sched_t *s = n->sched;
    if (!s || !s->tiled) return false;
    const ir_sched_tiles_t *t = &s->tiles;
    g->n = n;
    g->vl = t->vl;
    g->nr = t->nr;
    g->mr = t->mr;
    g->kc = t->kc;
    g->nt = t->nt;
    g->ngroups = t->ngroups;
    g->mblocks = t->mblocks;
    g->tpb = t->tpb;
    g->N = t->n;
    g->K = t->k;
    g->Ms = t->m;
    g->nb = t->nb;
    g->bkind = t->bform == IR_SCHED_B_PACKED ? B_PACKED : t->bform == IR_SCHED_B_IM2COL ? B_IM2COL : B_DIRECT;
    g->vt = LLVMVectorType(k->f32, (unsigned)g->vl);
    g->alpha = g->beta = 1.0;
    g->ncol = 1;
    return g->vl >= 1 && g->vl <= 16 && g->nr == 2 * g->vl && g->mr >= 1 && g->mr <= MR_CAP && g->kc >= 1 &&
           g->nt >= 1 && g->N >= 1 && g->K >= 1;
}

/* The schedule tiled a node this file cannot lower: a packed B leaves no fallback. */
static int bad_sched(lw_t *k, const ir_node_t *n) {
    return lw_error(k, "internal error: the schedule tiles this %s, but its shapes do not fit the micro-kernel",
                    ir_op_name(n->op));
}

/* ---------------------------------------------------------------- Gemm / MatMul */
static void gemm_idx(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx) {
    (void)k; (void)g;
    idx[0] = i;
    idx[1] = j;
}

static void gemm_setb(lw_t *k, gm_t *g, LLVMValueRef ylin, void *ud) { (void)k; (void)g; (void)ylin; (void)ud; }

int lw_fast_gemm(lw_t *k, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Cv = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    gm_t g;
    if (!init_gm(k, &g, n)) return 1;
    int ta = (int)ir_attr_int(n, "transA", 0);
    if (A->shape.rank != 2 || Y->shape.rank != 2 || g.nb != 0 || g.bkind == B_IM2COL) return bad_sched(k, n);
    g.alpha = ir_attr_float(n, "alpha", 1.0);
    g.beta = ir_attr_float(n, "beta", 1.0);
    bool pk = g.bkind == B_PACKED;
    begin_tiles(k, &g, Y, 0);
    g.M = lw_dim(k, Y, 0);
    g.a = lw_base(k, A);
    g.a_rs = ta ? lw_i64(k, 1) : lw_i64(k, g.K);
    g.a_cs = ta ? g.M : lw_i64(k, 1);
    g.bsrc = lw_base(k, B);
    g.ldb = lw_i64(k, pk ? g.nr : g.N);
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
    return emit_tasks(k, &g, Y, gemm_setb, NULL);
}

static void matmul_idx(lw_t *k, const gm_t *g, LLVMValueRef i, LLVMValueRef j, LLVMValueRef *idx) {
    (void)k;
    int q = 0;
    for (int d = 0; d < g->nb; d++) idx[q++] = g->bidx[d];
    if (g->mat_rowa) idx[q++] = i;
    idx[q++] = j;
}

typedef struct { LLVMValueRef abase, bbase, ybase, abs_[IR_MAX_RANK], bbs[IR_MAX_RANK]; } mm_t;

static void matmul_setb(lw_t *k, gm_t *g, LLVMValueRef ylin, void *ud) {
    mm_t *m = ud;
    g->a = gep(k, m->abase, lw_dot(k, g->bidx, m->abs_, g->nb));
    g->y = gep(k, m->ybase, mul(k, ylin, mul(k, g->M, lw_i64(k, g->N))));
    if (g->bkind == B_DIRECT) g->bsrc = gep(k, m->bbase, lw_dot(k, g->bidx, m->bbs, g->nb));
}

int lw_fast_matmul(lw_t *k, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    gm_t g;
    if (!init_gm(k, &g, n)) return 1;
    int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
    int nb = g.nb;
    if (ra < 1 || ro < 1 || nb != ro - (ra > 1) - 1 || g.bkind == B_IM2COL) return bad_sched(k, n);
    bool pk = g.bkind == B_PACKED;
    if (pk) rb = 2;   /* the panels are shared by every batch element: no batch strides */
    g.mat_rowa = ra > 1;
    begin_tiles(k, &g, Y, nb);
    g.M = ra > 1 ? lw_dim(k, A, ra - 2) : lw_i64(k, 1);
    mm_t m;
    LLVMValueRef ast[IR_MAX_RANK], bst[IR_MAX_RANK];
    lw_strides(k, A, ast);
    if (!pk) lw_strides(k, B, bst);
    for (int d = 0; d < nb; d++) {
        int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
        ir_dim_t od = Y->shape.dims[d];
        bool o1 = od.sym < 0 && od.v == 1;
        m.abs_[d] = (ra > 2 && da >= 0 && !(A->shape.dims[da].sym < 0 && A->shape.dims[da].v == 1 && !o1)) ? ast[da] : lw_i64(k, 0);
        m.bbs[d] = (rb > 2 && db >= 0 && !(B->shape.dims[db].sym < 0 && B->shape.dims[db].v == 1 && !o1)) ? bst[db] : lw_i64(k, 0);
    }
    m.abase = lw_base(k, A);
    m.bbase = lw_base(k, B);
    m.ybase = lw_base(k, Y);
    g.bsrc = pk ? lw_base(k, B) : NULL;
    g.a_rs = lw_i64(k, g.K);
    g.a_cs = lw_i64(k, 1);
    g.ldb = lw_i64(k, pk ? g.nr : g.N);
    g.ldy = lw_i64(k, g.N);
    g.mkidx = matmul_idx;
    return emit_tasks(k, &g, Y, matmul_setb, &m);
}

/* ---------------------------------------------------------------- Conv */
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

typedef struct { LLVMValueRef xb, yb; } conv_ud_t;

static void conv_setb(lw_t *k, gm_t *g, LLVMValueRef ylin, void *ud) {
    conv_ud_t *u = ud;
    conv_t *cv = g->cv;
    cv->x = gep(k, u->xb, mul(k, ylin, lw_i64(k, cv->C * cv->H * cv->W)));
    g->y = gep(k, u->yb, mul(k, ylin, lw_i64(k, g->Ms * g->N)));
    if (g->bkind == B_DIRECT) g->bsrc = cv->x;
}

int lw_fast_conv(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    gm_t g;
    if (!init_gm(k, &g, n)) return 1;
    int r = x->shape.rank, nsp = r - 2;
    if (nsp < 1 || nsp > 2 || w->shape.rank != r || y->shape.rank != r || g.nb != 1 || g.bkind == B_PACKED)
        return bad_sched(k, n);
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
        if (s[i] < 1 || dil[i] < 1) return bad_sched(k, n);
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
    bool direct = g.bkind == B_DIRECT;
    if (w->shape.dims[1].v != cv.C || g.N != cv.OH * cv.OW || g.K != cv.C * cv.KH * cv.KW ||
        g.Ms != w->shape.dims[0].v)
        return bad_sched(k, n);
    g.nsp = nsp;
    g.ncol = nsp;
    g.ow = cv.OW;
    g.cv = &cv;
    begin_tiles(k, &g, y, 1);
    g.M = lw_i64(k, g.Ms);
    g.a = lw_base(k, w);
    g.a_rs = lw_i64(k, g.K);
    g.a_cs = lw_i64(k, 1);
    g.ldb = lw_i64(k, direct ? g.N : g.nr);
    g.ldy = lw_i64(k, g.N);
    g.bias = bias ? lw_base(k, bias) : NULL;
    g.mkidx = conv_idx;
    if (!direct) {
        int64_t cols = (int64_t)g.nt * g.nr;
        cv.panel = lw_alloca(k, LLVMArrayType2(k->f32, (uint64_t)((int64_t)g.kc * cols)), "panel");
        LLVMSetAlignment(cv.panel, 64);
        cv.ih0 = lw_alloca(k, LLVMArrayType2(k->i32, (uint64_t)cols), "ih0");
        cv.iw0 = lw_alloca(k, LLVMArrayType2(k->i32, (uint64_t)cols), "iw0");
    }
    conv_ud_t u = {lw_base(k, x), lw_base(k, y)};
    return emit_tasks(k, &g, y, conv_setb, &u);
}
