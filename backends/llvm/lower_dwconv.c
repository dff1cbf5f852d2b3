/* Depthwise convolution (group == input channels == output channels, float32, 1-D or 2-D):
 * one task per (image, channel) plane.
 *
 * The plane is first copied into a zero-padded buffer on the stack, split by column phase
 * for strided convolutions (phase q holds padded columns q, q+s, q+2s, ...), so that for
 * every tap (kh, kw) the inputs of consecutive output columns are consecutive floats: the
 * inner loop is then unit-stride vector loads and one FMA per tap and vector, with no
 * bounds checks, the accumulators (up to 4 vectors of a row) held in registers across all
 * KH x KW taps and the bias, activation and other operand-free post-ops applied before the
 * single store. The generic loop nest (lower_nn.c) instead walked the whole output plane
 * once per tap with a load and a store per FMA, and gathered strided inputs.
 *
 * The padding never changes between planes, so the buffer is zeroed once per task and only
 * its interior is rewritten per plane. The last block of a row (and of the rows) overlaps
 * the one before (starts at OW - block) rather than running a masked tail: recomputing
 * outputs is harmless.
 * Planes whose buffer would exceed DW_MAX_FLOATS, or rows narrower than 4, take the
 * generic path. */
#include <string.h>

#include "backends/llvm/lower_int.h"

#define DW_MAX_FLOATS (64 * 1024)   /* 256 KiB of stack per task */

static LLVMValueRef gep(lw_t *k, LLVMValueRef p, LLVMValueRef i) { return LLVMBuildGEP2(k->b, k->f32, p, &i, 1, ""); }
static LLVMValueRef iadd(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(k->b, a, b, ""); }
static LLVMValueRef imul(lw_t *k, LLVMValueRef a, int64_t b) { return LLVMBuildNSWMul(k->b, a, lw_i64(k, b), ""); }

static LLVMValueRef splat(lw_t *k, LLVMTypeRef vt, unsigned vl, LLVMValueRef s) {
    LLVMValueRef v = LLVMBuildInsertElement(k->b, LLVMGetUndef(vt), s, lw_i32(k, 0), "");
    LLVMValueRef zeros[64];
    for (unsigned i = 0; i < vl; i++) zeros[i] = lw_i32(k, 0);
    return LLVMBuildShuffleVector(k->b, v, LLVMGetUndef(vt), LLVMConstVector(zeros, vl), "");
}

/* Post-ops without a second tensor operand, on a whole vector; false when some post-op
 * needs more (then they run as a scalar pass over the plane). */
static bool post_vectorizable(const ir_node_t *n) {
    for (int q = 0; q < n->n_post; q++)
        if (!n->post[q].node || n->post[q].other) return false;
    return true;
}

static LLVMValueRef vec_post(lw_t *k, const ir_node_t *n, LLVMValueRef x, unsigned vl) {
    for (int q = 0; q < n->n_post && x; q++) {
        const ir_postop_t *p = &n->post[q];
        LLVMValueRef in[3] = {NULL, NULL, NULL};
        bool present[3] = {false, false, false};
        for (int j = 0; j < p->node->n_in && j < 3; j++) {
            if (!p->node->in[j]) continue;
            present[j] = true;
            in[j] = j == p->self ? x : lw_recipe_const(k, p->node->in[j], IR_F32, vl);
        }
        x = lw_recipe(k, p->node, IR_F32, vl, in, present);
    }
    return x;
}

int lw_lower_dwconv(lw_t *k, const ir_node_t *n, const lw_dwconv_t *c) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    if (y->dtype != IR_F32 || x->dtype != IR_F32 || w->dtype != IR_F32 || (bias && bias->dtype != IR_F32))
        return 1;
    int64_t C = x->shape.dims[1].v;
    if (c->G != C || y->shape.dims[1].v != C || c->OW < 4) return 1;
    /* vector width: the target's, narrowed until one vector fits in a row */
    unsigned vl = k->L->vector_bits ? k->L->vector_bits / 32 : 4;
    while (vl > 4 && (int64_t)vl > c->OW) vl /= 2;
    if (vl < 4 || (int64_t)vl > c->OW) return 1;
    /* U vectors per row block: the fewest loads plus FMAs over a row, blocks counted with
     * the overlapping last one (cost per tap ~ blocks x (U loads + U FMAs + 1 broadcast)) */
    int64_t U = 1, best = -1;
    for (int64_t u = 4; u >= 1; u--) {
        if (u * (int64_t)vl > c->OW) continue;
        int64_t blocks = (c->OW + u * (int64_t)vl - 1) / (u * (int64_t)vl), cost = blocks * (2 * u + 1);
        if (best < 0 || cost < best) best = cost, U = u;
    }
    int64_t VB = U * (int64_t)vl;
    /* R output rows per block share each loaded input row across the kh taps that touch
     * it; R x U accumulators stay within 12 registers */
    int64_t R = 12 / U < 4 ? 12 / U : 4;
    if (R > c->OH) R = c->OH;
    /* the padded buffer: sw phases of PH rows x PW columns */
    int64_t PH = (c->OH - 1) * c->sh + (c->KH - 1) * c->dh + 1;
    int64_t PW = c->OW + ((c->KW - 1) * c->dw) / c->sw;
    int64_t plane = PH * PW, total = plane * c->sw;
    if (total > DW_MAX_FLOATS) return 1;
    bool vpost = post_vectorizable(n);

    LLVMBuilderRef b = k->b;
    LLVMTypeRef vt = LLVMVectorType(k->f32, vl);
    lw_kernel_begin_range(k, n, y, 0, 2);
    LLVMValueRef buf = lw_alloca(k, LLVMArrayType2(k->f32, (uint64_t)total), "dwpad");
    LLVMSetAlignment(buf, 64);
    LLVMBuildMemSet(b, buf, LLVMConstInt(k->i8, 0, 0), lw_i64(k, total * 4), 64);
    LLVMValueRef xb = lw_base(k, x), yb = lw_base(k, y), wb = lw_base(k, w);
    LLVMValueRef bb = bias ? lw_base(k, bias) : NULL;

    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "plane");
    LLVMValueRef ch = LLVMBuildSRem(b, lt.iv, lw_i64(k, C), "ch");
    LLVMValueRef xp = gep(k, xb, imul(k, lt.iv, c->H * c->W));
    LLVMValueRef yp = gep(k, yb, imul(k, lt.iv, c->OH * c->OW));

    /* interior of each phase: padded row r = ih + ph, phase-q column j = (iw + pw - q) / sw */
    for (int64_t q = 0; q < c->sw; q++) {
        int64_t j_lo = c->pw - q > 0 ? (c->pw - q + c->sw - 1) / c->sw : 0;
        int64_t j_hi = (c->W - 1 + c->pw - q) >= 0 ? (c->W - 1 + c->pw - q) / c->sw + 1 : 0;
        if (j_hi > PW) j_hi = PW;
        int64_t r_lo = c->ph, r_hi = c->ph + c->H < PH ? c->ph + c->H : PH;
        int64_t ih0 = 0;
        if (r_lo < 0) { ih0 = -r_lo; r_lo = 0; }
        if (j_hi <= j_lo || r_hi <= r_lo) continue;
        lw_loop_t lr;
        lw_loop_begin(k, &lr, lw_i64(k, 0), lw_i64(k, r_hi - r_lo), "prow");
        LLVMValueRef ih = iadd(k, lr.iv, lw_i64(k, ih0));
        LLVMValueRef dst = gep(k, buf, iadd(k, imul(k, iadd(k, lr.iv, lw_i64(k, r_lo)), PW), lw_i64(k, q * plane + j_lo)));
        LLVMValueRef src = gep(k, xp, iadd(k, imul(k, ih, c->W), lw_i64(k, j_lo * c->sw + q - c->pw)));
        if (c->sw == 1) {
            LLVMBuildMemCpy(b, dst, 4, src, 4, lw_i64(k, (j_hi - j_lo) * 4));
        } else {
            lw_loop_t lj;
            lw_loop_begin(k, &lj, lw_i64(k, 0), lw_i64(k, j_hi - j_lo), "pcol");
            LLVMValueRef v = LLVMBuildLoad2(b, k->f32, gep(k, src, imul(k, lj.iv, c->sw)), "");
            LLVMBuildStore(b, v, gep(k, dst, lj.iv));
            lw_loop_end(k, &lj);
        }
        lw_loop_end(k, &lr);
    }

    LLVMValueRef b0 = bb ? LLVMBuildLoad2(b, k->f32, gep(k, bb, ch), "") : LLVMConstReal(k->f32, 0);
    LLVMValueRef bv = splat(k, vt, vl, b0);
    LLVMValueRef wrow = imul(k, ch, c->KH * c->KW);

    lw_loop_t lo, lb;
    lw_loop_begin(k, &lo, lw_i64(k, 0), lw_i64(k, (c->OH + R - 1) / R), "ohb");
    LLVMValueRef hb = imul(k, lo.iv, R), hlast = lw_i64(k, c->OH - R);
    LLVMValueRef oh0 = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, hb, hlast, ""), hlast, hb, "oh0");
    lw_loop_begin(k, &lb, lw_i64(k, 0), lw_i64(k, (c->OW + VB - 1) / VB), "owb");
    LLVMValueRef ob = imul(k, lb.iv, VB);
    LLVMValueRef last = lw_i64(k, c->OW - VB);
    LLVMValueRef ow0 = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, ob, last, ""), last, ob, "ow0");
    LLVMValueRef acc[4][4];
    for (int64_t rr = 0; rr < R; rr++)
        for (int64_t u = 0; u < U; u++) acc[rr][u] = bv;
    LLVMValueRef rbase = iadd(k, imul(k, oh0, c->sh * PW), ow0);
    /* padded input row i (relative to oh0 * sh) feeds output row rr through tap kh when
     * i = rr * sh + kh * dh */
    int64_t rows = (R - 1) * c->sh + (c->KH - 1) * c->dh + 1;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t kw = 0; kw < c->KW; kw++) {
            int64_t col = kw * c->dw, q = col % c->sw, j = col / c->sw;
            LLVMValueRef base = iadd(k, rbase, lw_i64(k, q * plane + i * PW + j));
            LLVMValueRef ld[4] = {NULL, NULL, NULL, NULL};
            for (int64_t rr = 0; rr < R; rr++) {
                int64_t d = i - rr * c->sh;
                if (d < 0 || d % c->dh || d / c->dh >= c->KH) continue;
                int64_t kh = d / c->dh;
                LLVMValueRef ws = LLVMBuildLoad2(b, k->f32, gep(k, wb, iadd(k, wrow, lw_i64(k, kh * c->KW + kw))), "");
                LLVMValueRef wsv = splat(k, vt, vl, ws);
                for (int64_t u = 0; u < U; u++) {
                    if (!ld[u]) {
                        ld[u] = LLVMBuildLoad2(b, vt, gep(k, buf, iadd(k, base, lw_i64(k, u * (int64_t)vl))), "");
                        LLVMSetAlignment(ld[u], 4);
                    }
                    acc[rr][u] = lw_intrin(k, "llvm.fmuladd", vt, (LLVMValueRef[]){wsv, ld[u], acc[rr][u]}, 3);
                }
            }
        }
    }
    for (int64_t rr = 0; rr < R; rr++) {
        LLVMValueRef orow = iadd(k, imul(k, iadd(k, oh0, lw_i64(k, rr)), c->OW), ow0);
        for (int64_t u = 0; u < U; u++) {
            LLVMValueRef v = acc[rr][u];
            if (n->n_post && vpost && !(v = vec_post(k, n, v, vl))) return -1;
            LLVMValueRef st = LLVMBuildStore(b, v, gep(k, yp, iadd(k, orow, lw_i64(k, u * (int64_t)vl))));
            LLVMSetAlignment(st, 4);
        }
    }
    lw_loop_end(k, &lb);
    lw_loop_end(k, &lo);

    if (n->n_post && !vpost) {
        /* post-ops with a second operand: a scalar pass over the finished plane */
        LLVMValueRef nn = LLVMBuildSDiv(b, lt.iv, lw_i64(k, C), "");
        lw_loop_t l1, l2;
        lw_loop_begin(k, &l1, lw_i64(k, 0), lw_i64(k, c->OH), "oh");
        lw_loop_begin(k, &l2, lw_i64(k, 0), lw_i64(k, c->OW), "ow");
        LLVMValueRef idx[4];
        int r = 0;
        idx[r++] = nn;
        idx[r++] = ch;
        if (y->shape.rank == 4) idx[r++] = l1.iv;
        idx[r++] = l2.iv;
        LLVMValueRef p = gep(k, yp, iadd(k, imul(k, l1.iv, c->OW), l2.iv));
        LLVMValueRef v = lw_apply_post(k, n, LLVMBuildLoad2(b, k->f32, p, ""), idx);
        if (!v) return -1;
        LLVMBuildStore(b, v, p);
        lw_loop_end(k, &l2);
        lw_loop_end(k, &l1);
    }
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}
