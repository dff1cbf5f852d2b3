/* DFT as a map over the output: each (frequency or time index, real/imaginary part)
 * element is the direct sum over the input points along the axis, in double, with angles
 * from (k * t) mod L (passes/eval_signal.c is the same arithmetic). O(L^2) per signal:
 * correct for any length; a radix-2/Bluestein FFT is the next step for long transforms. */
#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define I64(x) lw_i64(k, (x))
#define D(x) LLVMConstReal(k->f64, (x))

static LLVMValueRef elem_dft(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_dft_t *p = ud;
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank, last = r - 1;
    LLVMValueRef st[IR_MAX_RANK], base = I64(0);
    lw_strides(k, x, st);
    for (int d = 0; d < last; d++)
        if (d != p->axis) base = LLVMBuildAdd(k->b, base, LLVMBuildMul(k->b, idx[d], st[d], ""), "");
    int64_t L = p->len, m = p->n < L ? p->n : L;
    bool irfft = p->inverse && p->onesided;
    int64_t nb = irfft ? (m < L / 2 + 1 ? m : L / 2 + 1) : m;
    LLVMValueRef kk = idx[p->axis], comp = LLVMBuildICmp(k->b, LLVMIntNE, idx[last], I64(0), "");
    LLVMValueRef acc = lw_alloca(k, k->f64, "acc");
    LLVMBuildStore(k->b, D(0), acc);
    lw_loop_t lt;
    lw_loop_begin(k, &lt, I64(0), I64(nb), "t");
    LLVMValueRef ang = LLVMBuildSRem(k->b, LLVMBuildMul(k->b, kk, lt.iv, ""), I64(L), "");
    LLVMValueRef th = LLVMBuildFMul(k->b, LLVMBuildSIToFP(k->b, ang, k->f64, ""), D(6.283185307179586476925286766559 / (double)L), "");
    LLVMValueRef c = lw_fmath(k, "llvm.cos", IR_F64, th), sn = lw_fmath(k, "llvm.sin", IR_F64, th);
    LLVMValueRef off = LLVMBuildAdd(k->b, base, LLVMBuildMul(k->b, lt.iv, st[p->axis], ""), "");
    LLVMValueRef re = lw_cast(k, lw_load(k, x, off), x->dtype, IR_F64);
    LLVMValueRef im = p->complex_in ? lw_cast(k, lw_load(k, x, LLVMBuildAdd(k->b, off, I64(1), "")), x->dtype, IR_F64) : D(0);
    LLVMValueRef rc = LLVMBuildFMul(k->b, re, c, ""), rs = LLVMBuildFMul(k->b, re, sn, "");
    LLVMValueRef ic = LLVMBuildFMul(k->b, im, c, ""), is = LLVMBuildFMul(k->b, im, sn, "");
    LLVMValueRef term;
    if (irfft) {
        LLVMValueRef one = LLVMBuildICmp(k->b, LLVMIntEQ, lt.iv, I64(0), "");
        if (L % 2 == 0) one = LLVMBuildOr(k->b, one, LLVMBuildICmp(k->b, LLVMIntEQ, lt.iv, I64(L / 2), ""), "");
        term = LLVMBuildFMul(k->b, LLVMBuildSelect(k->b, one, D(1), D(2), ""), LLVMBuildFSub(k->b, rc, is, ""), "");
    } else if (p->inverse) {
        term = LLVMBuildSelect(k->b, comp, LLVMBuildFAdd(k->b, ic, rs, ""), LLVMBuildFSub(k->b, rc, is, ""), "");
    } else {
        term = LLVMBuildSelect(k->b, comp, LLVMBuildFSub(k->b, ic, rs, ""), LLVMBuildFAdd(k->b, rc, is, ""), "");
    }
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, LLVMBuildLoad2(k->b, k->f64, acc, ""), term, ""), acc);
    lw_loop_end(k, &lt);
    LLVMValueRef v = LLVMBuildLoad2(k->b, k->f64, acc, "");
    if (p->inverse) v = LLVMBuildFDiv(k->b, v, D((double)L), "");
    return lw_cast(k, v, IR_F64, n->out[0]->dtype);
}

int lw_lower_dft(lw_t *k, const ir_node_t *n) {
    ir_dft_t p;
    if (ir_dft_params(k->g, n, &p)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_dft, &p);
}
