/* RNN, GRU and LSTM as one kernel: a loop over (direction, batch row) items, each running
 * its row's recurrence over time. Per step, every gate pre-activation is a dot product of
 * the input row with a row of W plus (except GRU's h gate) the previous hidden state with
 * a row of R; then the element-wise update of the spec's equations. The state (h, c), the
 * gate pre-activations and GRU's reset term live in stack buffers of the body, so nothing
 * is allocated at run time and items are independent (they may run on any pool thread).
 *
 * Semantics match passes/eval_rnn.c line for line: clip bounds every gate's input to its
 * activation (not LSTM's cell state before h, as in onnxruntime); steps at or past a row's
 * sequence_lens entry keep the state and leave zeros in Y; a reverse direction starts at
 * the row's last valid step; a row of length 0 gets zero Y_h and Y_c.
 *
 * Not yet on the contraction path: the input projection X.W^T of all steps is one GEMM
 * that could be hoisted out of the recurrence onto the micro-kernel, and R.h per step is
 * a GEMV per row instead of a GEMM over the batch. The dot products vectorize (reassociated
 * adds), which is enough for the sizes exported RNN layers use at batch 1. */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/rnn.h"

/* Stack buffers per item: h, c, tmp and gates*hidden elements; bounded to stay far below
 * a pool thread's stack. */
#define RNN_MAX_STACK_ELEMS ((int64_t)1 << 18)

typedef struct {
    const ir_value_t *v;   /* tensor operand (v) or stack buffer (buf) */
    LLVMValueRef buf, off;
} src_t;

typedef struct {
    ir_rnn_t p;
    ir_dtype_t t, ct;
    LLVMTypeRef cty;
    LLVMValueRef h, c, tmp, gate;   /* stack buffers */
} rk_t;

static LLVMValueRef slot(lw_t *k, rk_t *q, LLVMValueRef buf, LLVMValueRef i) {
    return LLVMBuildGEP2(k->b, q->cty, buf, &i, 1, "");
}
static LLVMValueRef ld(lw_t *k, rk_t *q, LLVMValueRef buf, LLVMValueRef i) {
    return LLVMBuildLoad2(k->b, q->cty, slot(k, q, buf, i), "");
}
static void st(lw_t *k, rk_t *q, LLVMValueRef buf, LLVMValueRef i, LLVMValueRef x) {
    LLVMBuildStore(k->b, x, slot(k, q, buf, i));
}
static LLVMValueRef tload(lw_t *k, rk_t *q, const ir_value_t *v, LLVMValueRef off) {
    return lw_cast(k, lw_load(k, v, off), v->dtype, q->ct);
}
static LLVMValueRef src_at(lw_t *k, rk_t *q, const src_t *s, LLVMValueRef i) {
    if (s->buf) return ld(k, q, s->buf, i);
    return tload(k, q, s->v, LLVMBuildNSWAdd(k->b, s->off, i, ""));
}
static LLVMValueRef add(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(k->b, a, b, ""); }
static LLVMValueRef mul(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(k->b, a, b, ""); }
static LLVMValueRef cf(rk_t *q, lw_t *k, double x) { return lw_const_f(k, q->ct, x); }
#define I64(x) lw_i64(k, (x))
#define NADD(x_, y_) LLVMBuildNSWAdd(k->b, (x_), (y_), "")
#define NMUL(x_, y_) LLVMBuildNSWMul(k->b, (x_), (y_), "")

/* init + sum_{m < len} a[m] * b[m], the adds reassociable so the loop vectorizes */
static LLVMValueRef dot(lw_t *k, rk_t *q, LLVMValueRef init, const src_t *a, const src_t *b, int64_t len) {
    LLVMValueRef acc = lw_alloca(k, q->cty, "acc");
    LLVMBuildStore(k->b, init, acc);
    lw_loop_t l;
    lw_loop_begin(k, &l, I64(0), I64(len), "m");
    LLVMValueRef s = add(k, LLVMBuildLoad2(k->b, q->cty, acc, ""), mul(k, src_at(k, q, a, l.iv), src_at(k, q, b, l.iv)));
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    LLVMBuildStore(k->b, s, acc);
    lw_loop_end(k, &l);
    return LLVMBuildLoad2(k->b, q->cty, acc, "");
}

static LLVMValueRef fsel(lw_t *k, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, pr, a, b, ""), x, y, "");
}
static LLVMValueRef tanh_of(lw_t *k, rk_t *q, LLVMValueRef x) { return lw_call_math(k, "tanhf", "tanh", q->ct, x); }
static LLVMValueRef exp_of(lw_t *k, rk_t *q, LLVMValueRef x) { return lw_fmath(k, "llvm.exp", q->ct, x); }

/* activation a of x, after clip when the node has one (ir_rnn_act_eval's arithmetic) */
static LLVMValueRef act(lw_t *k, rk_t *q, const ir_rnn_act_t *a, LLVMValueRef x, bool clip) {
    if (clip && q->p.has_clip) {
        LLVMValueRef lo = cf(q, k, -q->p.clip), hi = cf(q, k, q->p.clip);
        x = fsel(k, LLVMRealOLT, x, lo, lo, x);
        x = fsel(k, LLVMRealOGT, x, hi, hi, x);
    }
    LLVMValueRef zero = cf(q, k, 0), one = cf(q, k, 1), al = cf(q, k, a->alpha), be = cf(q, k, a->beta);
    switch (a->kind) {
    case IR_ACT_RELU: return fsel(k, LLVMRealOGT, x, zero, x, zero);
    case IR_ACT_TANH: return tanh_of(k, q, x);
    case IR_ACT_SIGMOID: return LLVMBuildFDiv(k->b, one, add(k, one, exp_of(k, q, LLVMBuildFNeg(k->b, x, ""))), "");
    case IR_ACT_AFFINE: return add(k, mul(k, al, x), be);
    case IR_ACT_LEAKY_RELU: return fsel(k, LLVMRealOGE, x, zero, x, mul(k, al, x));
    case IR_ACT_THRESHOLDED_RELU: return fsel(k, LLVMRealOGT, x, al, x, zero);
    case IR_ACT_SCALED_TANH: return mul(k, al, tanh_of(k, q, mul(k, be, x)));
    case IR_ACT_HARD_SIGMOID: {
        LLVMValueRef y = add(k, mul(k, al, x), be);
        y = fsel(k, LLVMRealOGT, y, zero, y, zero);
        return fsel(k, LLVMRealOLT, y, one, y, one);
    }
    case IR_ACT_ELU:
        return fsel(k, LLVMRealOGE, x, zero, x, mul(k, al, LLVMBuildFSub(k->b, exp_of(k, q, x), one, "")));
    case IR_ACT_SOFTSIGN: return LLVMBuildFDiv(k->b, x, add(k, one, lw_fmath(k, "llvm.fabs", q->ct, x)), "");
    case IR_ACT_SOFTPLUS: return lw_call_math(k, "log1pf", "log1p", q->ct, exp_of(k, q, x));
    }
    return x;
}

/* act[d][j] where d is a run-time direction index (0 or 1) */
static LLVMValueRef act_dir(lw_t *k, rk_t *q, LLVMValueRef d, int j, LLVMValueRef x, bool clip) {
    LLVMValueRef a0 = act(k, q, &q->p.act[0][j], x, clip);
    if (q->p.nd == 1) return a0;
    LLVMValueRef a1 = act(k, q, &q->p.act[1][j], x, clip);
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntEQ, d, I64(1), ""), a1, a0, "");
}

int lw_lower_rnn(lw_t *k, const ir_node_t *n) {
    rk_t q;
    if (ir_rnn_params(k->g, n, &q.p)) return -1;
    const ir_rnn_t *p = &q.p;
    const ir_value_t *X = n->in[0], *W = n->in[1], *R = n->in[2];
    const ir_value_t *Bv = n->n_in > 3 ? n->in[3] : NULL, *SL = n->n_in > 4 ? n->in[4] : NULL;
    const ir_value_t *H0 = n->n_in > 5 ? n->in[5] : NULL, *C0 = n->n_in > 6 ? n->in[6] : NULL;
    const ir_value_t *P = n->n_in > 7 ? n->in[7] : NULL;
    const ir_value_t *Y = n->n_out > 0 ? n->out[0] : NULL, *YH = n->n_out > 1 ? n->out[1] : NULL,
                     *YC = n->n_out > 2 ? n->out[2] : NULL;
    if (n->n_post) return lw_error(k, "fused post-ops on %s are not supported", ir_op_name(n->op));
    const int64_t I = p->input, H = p->hidden, G = p->gates, ND = p->nd;
    if (H * (G + 3) > RNN_MAX_STACK_ELEMS)
        return lw_error(k, "hidden_size %lld is too large for this kernel (state kept on the stack)", (long long)H);
    q.t = X->dtype;
    q.ct = q.t == IR_F64 ? IR_F64 : IR_F32;
    q.cty = lw_type(k, q.ct);

    ir_shape_t items = {.rank = 2};
    items.dims[0] = ir_dim_const(ND);
    items.dims[1] = p->batch;
    lw_kernel_begin_shape(k, n, &items, 0, 2);
    LLVMTypeRef arr = LLVMArrayType2(q.cty, (uint64_t)H);
    q.h = lw_alloca(k, arr, "h");
    q.c = lw_alloca(k, arr, "c");
    q.tmp = lw_alloca(k, arr, "tmp");
    q.gate = lw_alloca(k, LLVMArrayType2(q.cty, (uint64_t)(G * H)), "gate");
    LLVMValueRef S = lw_dim(k, X, p->layout ? 1 : 0), B = lw_shape_dim(k, &items, 1);

    lw_loop_t li;
    lw_loop_begin(k, &li, k->begin, k->end, "item");
    LLVMValueRef d = LLVMBuildUDiv(k->b, li.iv, B, "d"), b = LLVMBuildURem(k->b, li.iv, B, "b");
    LLVMValueRef rev = ND == 2 ? LLVMBuildICmp(k->b, LLVMIntEQ, d, I64(1), "") : LLVMConstInt(k->i1, p->reverse, 0);
    LLVMValueRef wo = NMUL(d, I64(G * H * I)), ro = NMUL(d, I64(G * H * H)), bo = NMUL(d, I64(2 * G * H));
    /* state offset (d, b, 0) of initial_h/c and Y_h/Y_c */
    LLVMValueRef so = p->layout ? NMUL(NADD(NMUL(b, I64(ND)), d), I64(H)) : NMUL(NADD(NMUL(d, B), b), I64(H));
    lw_loop_t lk;
    lw_loop_begin(k, &lk, I64(0), I64(H), "k");
    st(k, &q, q.h, lk.iv, H0 ? tload(k, &q, H0, NADD(so, lk.iv)) : cf(&q, k, 0));
    st(k, &q, q.c, lk.iv, C0 ? tload(k, &q, C0, NADD(so, lk.iv)) : cf(&q, k, 0));
    lw_loop_end(k, &lk);

    LLVMValueRef len = S;
    if (SL) {
        LLVMValueRef v = lw_load(k, SL, b);
        v = SL->dtype == IR_I64 ? v : LLVMBuildSExt(k->b, v, k->i64, "");
        v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, v, I64(0), ""), I64(0), v, "");
        len = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, v, S, ""), S, v, "len");
    }
    /* Y's element (t, d, b, 0) */
#define YOFF(tv)                                                                                                     \
    (p->layout ? NMUL(NADD(NMUL(NADD(NMUL(b, S), (tv)), I64(ND)), d), I64(H))                                       \
               : NMUL(NADD(NMUL(NADD(NMUL((tv), I64(ND)), d), B), b), I64(H)))

    lw_loop_t ls;
    lw_loop_begin(k, &ls, I64(0), len, "step");
    LLVMValueRef ti = LLVMBuildSelect(k->b, rev, LLVMBuildSub(k->b, LLVMBuildSub(k->b, len, I64(1), ""), ls.iv, ""), ls.iv, "t");
    LLVMValueRef xo = p->layout ? NMUL(NADD(NMUL(b, S), ti), I64(I)) : NMUL(NADD(NMUL(ti, B), b), I64(I));
    src_t xs = {X, NULL, xo}, hs = {NULL, q.h, NULL};

    /* gate pre-activations from the previous state; GRU's h gate gets only X here */
    int64_t nrec = p->kind == IR_RNN_GRU ? 2 * H : G * H;
    for (int part = 0; part < 2; part++) {
        int64_t j0 = part ? nrec : 0, j1 = part ? G * H : nrec;
        if (j0 == j1) continue;
        lw_loop_t lj;
        lw_loop_begin(k, &lj, I64(j0), I64(j1), "j");
        LLVMValueRef acc = cf(&q, k, 0);
        if (Bv) {
            acc = tload(k, &q, Bv, NADD(bo, lj.iv));
            if (!part) acc = add(k, acc, tload(k, &q, Bv, NADD(bo, NADD(lj.iv, I64(G * H)))));
        }
        src_t ws = {W, NULL, NADD(wo, NMUL(lj.iv, I64(I)))};
        acc = dot(k, &q, acc, &xs, &ws, I);
        if (!part) {
            src_t rs = {R, NULL, NADD(ro, NMUL(lj.iv, I64(H)))};
            acc = dot(k, &q, acc, &hs, &rs, H);
        }
        st(k, &q, q.gate, lj.iv, acc);
        lw_loop_end(k, &lj);
    }

    if (p->kind == IR_RNN_SIMPLE) {
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        st(k, &q, q.h, lk.iv, act_dir(k, &q, d, 0, ld(k, &q, q.gate, lk.iv), true));
        lw_loop_end(k, &lk);
    } else if (p->kind == IR_RNN_GRU) {
        /* tmp: Rh.h + Rbh (linear_before_reset) or r * h, both from the previous state */
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        LLVMValueRef rg = NADD(lk.iv, I64(2 * H)), v;
        if (p->lbr) {
            src_t rs = {R, NULL, NADD(ro, NMUL(rg, I64(H)))};
            v = dot(k, &q, Bv ? tload(k, &q, Bv, NADD(bo, NADD(rg, I64(G * H)))) : cf(&q, k, 0), &hs, &rs, H);
        } else {
            v = mul(k, act_dir(k, &q, d, 0, ld(k, &q, q.gate, NADD(lk.iv, I64(H))), true), ld(k, &q, q.h, lk.iv));
        }
        st(k, &q, q.tmp, lk.iv, v);
        lw_loop_end(k, &lk);
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        rg = NADD(lk.iv, I64(2 * H));
        LLVMValueRef z = act_dir(k, &q, d, 0, ld(k, &q, q.gate, lk.iv), true), pre = ld(k, &q, q.gate, rg);
        if (p->lbr) {
            LLVMValueRef r = act_dir(k, &q, d, 0, ld(k, &q, q.gate, NADD(lk.iv, I64(H))), true);
            pre = add(k, pre, mul(k, r, ld(k, &q, q.tmp, lk.iv)));
        } else {
            if (Bv) pre = add(k, pre, tload(k, &q, Bv, NADD(bo, NADD(rg, I64(G * H)))));
            src_t ts = {NULL, q.tmp, NULL}, rs = {R, NULL, NADD(ro, NMUL(rg, I64(H)))};
            pre = dot(k, &q, pre, &ts, &rs, H);
        }
        LLVMValueRef hh = act_dir(k, &q, d, 1, pre, true), hp = ld(k, &q, q.h, lk.iv);
        st(k, &q, q.h, lk.iv, add(k, mul(k, LLVMBuildFSub(k->b, cf(&q, k, 1), z, ""), hh), mul(k, z, hp)));
        lw_loop_end(k, &lk);
    } else {
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        LLVMValueRef po = NMUL(d, I64(3 * H)), zero = cf(&q, k, 0), cp = ld(k, &q, q.c, lk.iv);
#define PEEP(g) (P ? tload(k, &q, P, NADD(po, NADD(lk.iv, I64((g) * H)))) : zero)
#define GATE(g) ld(k, &q, q.gate, NADD(lk.iv, I64((g) * H)))
        LLVMValueRef ig = act_dir(k, &q, d, 0, add(k, GATE(0), mul(k, PEEP(0), cp)), true);
        LLVMValueRef fg = p->input_forget ? LLVMBuildFSub(k->b, cf(&q, k, 1), ig, "")
                                          : act_dir(k, &q, d, 0, add(k, GATE(2), mul(k, PEEP(2), cp)), true);
        LLVMValueRef cg = act_dir(k, &q, d, 1, GATE(3), true);
        LLVMValueRef cn = add(k, mul(k, fg, cp), mul(k, ig, cg));
        LLVMValueRef og = act_dir(k, &q, d, 0, add(k, GATE(1), mul(k, PEEP(1), cn)), true);
        st(k, &q, q.c, lk.iv, cn);
        st(k, &q, q.h, lk.iv, mul(k, og, act_dir(k, &q, d, 2, cn, false)));
#undef PEEP
#undef GATE
        lw_loop_end(k, &lk);
    }
    if (Y) {
        LLVMValueRef yo = YOFF(ti);
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        lw_store(k, Y, NADD(yo, lk.iv), lw_cast(k, ld(k, &q, q.h, lk.iv), q.ct, q.t));
        lw_loop_end(k, &lk);
    }
    lw_loop_end(k, &ls);

    if (Y && SL) {   /* steps past the row's length */
        lw_loop_begin(k, &ls, len, S, "pad");
        LLVMValueRef yo = YOFF(ls.iv);
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        lw_store(k, Y, NADD(yo, lk.iv), lw_const_f(k, q.t, 0));
        lw_loop_end(k, &lk);
        lw_loop_end(k, &ls);
    }
#undef YOFF
    const ir_value_t *fin[2] = {YH, YC};
    LLVMValueRef src[2] = {q.h, q.c}, empty = LLVMBuildICmp(k->b, LLVMIntEQ, len, I64(0), "");
    for (int i = 0; i < 2; i++) {
        if (!fin[i]) continue;
        lw_loop_begin(k, &lk, I64(0), I64(H), "k");
        LLVMValueRef v = LLVMBuildSelect(k->b, empty, cf(&q, k, 0), ld(k, &q, src[i], lk.iv), "");
        lw_store(k, fin[i], NADD(so, lk.iv), lw_cast(k, v, q.ct, q.t));
        lw_loop_end(k, &lk);
    }
    lw_loop_end(k, &li);
    lw_kernel_end(k);
    return 0;
}
