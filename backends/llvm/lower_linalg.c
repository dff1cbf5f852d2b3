/* Det and MaxUnpool (passes/eval_linalg.c is the same algorithm over plain loops).
 *
 * Det: one matrix per item of the parallel range, copied into a stack buffer of doubles
 * (M <= 256, checked by inference) and reduced by Gaussian elimination with partial
 * pivoting; a zero pivot makes the determinant 0.
 *
 * MaxUnpool: one serial kernel writes zeros, then every X element at its flat index (into
 * the unpooled block, the output's top-left corner) in order; an index outside the block
 * is skipped (never written out of bounds). */
#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define I64(x) lw_i64(k, (x))

static LLVMValueRef at(lw_t *k, LLVMValueRef a, LLVMValueRef i) { return LLVMBuildGEP2(k->b, k->f64, a, &i, 1, ""); }
static LLVMValueRef ldd(lw_t *k, LLVMValueRef a, LLVMValueRef i) { return LLVMBuildLoad2(k->b, k->f64, at(k, a, i), ""); }
static LLVMValueRef rc(lw_t *k, LLVMValueRef r, LLVMValueRef c, int64_t M) {
    return LLVMBuildAdd(k->b, LLVMBuildMul(k->b, r, I64(M), ""), c, "");
}

int lw_lower_det(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    int r = x->shape.rank;
    int64_t M = x->shape.dims[r - 1].v;
    if (n->n_post) return lw_error(k, "fused post-ops on Det are not supported");
    lw_kernel_begin_shape(k, n, &y->shape, 0, y->shape.rank);
    LLVMValueRef a = lw_alloca(k, LLVMArrayType2(k->f64, (uint64_t)(M * M)), "a");
    LLVMValueRef det = lw_alloca(k, k->f64, "det"), piv = lw_alloca(k, k->i64, "piv"), alive = lw_alloca(k, k->i1, "alive");
    lw_loop_t lb, li, lc, lr, lj;
    lw_loop_begin(k, &lb, k->begin, k->end, "b");
    LLVMValueRef base = LLVMBuildMul(k->b, lb.iv, I64(M * M), "");
    lw_loop_begin(k, &li, I64(0), I64(M * M), "i");
    LLVMBuildStore(k->b, lw_cast(k, lw_load(k, x, LLVMBuildAdd(k->b, base, li.iv, "")), x->dtype, IR_F64), at(k, a, li.iv));
    lw_loop_end(k, &li);
    LLVMBuildStore(k->b, LLVMConstReal(k->f64, 1.0), det);
    LLVMBuildStore(k->b, LLVMConstInt(k->i1, 1, 0), alive);
    lw_loop_begin(k, &lc, I64(0), I64(M), "c");
    lw_if_t live;
    lw_if_begin(k, &live, LLVMBuildLoad2(k->b, k->i1, alive, ""));
    LLVMValueRef c = lc.iv;
    /* pivot: the first row with the largest |a[r][c]| */
    LLVMBuildStore(k->b, c, piv);
    lw_loop_begin(k, &lr, LLVMBuildAdd(k->b, c, I64(1), ""), I64(M), "r");
    LLVMValueRef pv = LLVMBuildLoad2(k->b, k->i64, piv, "");
    LLVMValueRef ar = lw_fmath(k, "llvm.fabs", IR_F64, ldd(k, a, rc(k, lr.iv, c, M)));
    LLVMValueRef ap = lw_fmath(k, "llvm.fabs", IR_F64, ldd(k, a, rc(k, pv, c, M)));
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, ar, ap, ""), lr.iv, pv, ""), piv);
    lw_loop_end(k, &lr);
    LLVMValueRef p = LLVMBuildLoad2(k->b, k->i64, piv, "");
    LLVMValueRef pval = ldd(k, a, rc(k, p, c, M));
    lw_if_t zero, swap, nz;
    lw_if_begin(k, &zero, LLVMBuildFCmp(k->b, LLVMRealOEQ, pval, LLVMConstReal(k->f64, 0.0), ""));
    LLVMBuildStore(k->b, LLVMConstReal(k->f64, 0.0), det);
    LLVMBuildStore(k->b, LLVMConstInt(k->i1, 0, 0), alive);
    lw_if_end(k, &zero);
    lw_if_begin(k, &nz, LLVMBuildLoad2(k->b, k->i1, alive, ""));
    lw_if_begin(k, &swap, LLVMBuildICmp(k->b, LLVMIntNE, p, c, ""));
    lw_loop_begin(k, &lj, I64(0), I64(M), "j");
    LLVMValueRef u = at(k, a, rc(k, c, lj.iv, M)), v = at(k, a, rc(k, p, lj.iv, M));
    LLVMValueRef tu = LLVMBuildLoad2(k->b, k->f64, u, ""), tv = LLVMBuildLoad2(k->b, k->f64, v, "");
    LLVMBuildStore(k->b, tv, u);
    LLVMBuildStore(k->b, tu, v);
    lw_loop_end(k, &lj);
    LLVMBuildStore(k->b, LLVMBuildFNeg(k->b, LLVMBuildLoad2(k->b, k->f64, det, ""), ""), det);
    lw_if_end(k, &swap);
    LLVMValueRef d = ldd(k, a, rc(k, c, c, M));
    LLVMBuildStore(k->b, LLVMBuildFMul(k->b, LLVMBuildLoad2(k->b, k->f64, det, ""), d, ""), det);
    lw_loop_begin(k, &lr, LLVMBuildAdd(k->b, c, I64(1), ""), I64(M), "r");
    LLVMValueRef f = LLVMBuildFDiv(k->b, ldd(k, a, rc(k, lr.iv, c, M)), d, "");
    lw_loop_begin(k, &lj, c, I64(M), "j");
    LLVMValueRef dst = at(k, a, rc(k, lr.iv, lj.iv, M));
    LLVMValueRef nv = LLVMBuildFSub(k->b, LLVMBuildLoad2(k->b, k->f64, dst, ""), LLVMBuildFMul(k->b, f, ldd(k, a, rc(k, c, lj.iv, M)), ""), "");
    LLVMBuildStore(k->b, nv, dst);
    lw_loop_end(k, &lj);
    lw_loop_end(k, &lr);
    lw_if_end(k, &nz);
    lw_if_end(k, &live);
    lw_loop_end(k, &lc);
    lw_store(k, y, lb.iv, lw_cast(k, LLVMBuildLoad2(k->b, k->f64, det, ""), IR_F64, y->dtype));
    lw_loop_end(k, &lb);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_maxunpool(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *y = n->out[0];
    ir_shape_t os, inf;
    if (ir_maxunpool_shape(k->g, n, &os, &inf)) return -1;
    if (n->n_post) return lw_error(k, "fused post-ops on MaxUnpool are not supported");
    ir_shape_t one = {.rank = 0};
    lw_kernel_begin_shape(k, n, &one, 0, 0);
    LLVMValueRef ny = lw_numel(k, y);
    lw_loop_t l;
    lw_loop_begin(k, &l, I64(0), ny, "i");
    lw_store(k, y, l.iv, LLVMConstNull(lw_type(k, y->dtype)));
    lw_loop_end(k, &l);
    lw_loop_begin(k, &l, I64(0), lw_numel(k, x), "i");
    LLVMValueRef j = lw_load(k, ind, l.iv);
    lw_if_t f;
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntULT, j, I64(ir_shape_numel(&inf)), ""));
    /* j's coordinates in the unpooled block, placed in the (possibly larger) output */
    LLVMValueRef st[IR_MAX_RANK], off = I64(0), rem = j;
    lw_strides(k, y, st);
    for (int d = inf.rank - 1; d >= 0; d--) {
        off = LLVMBuildAdd(k->b, off, LLVMBuildMul(k->b, LLVMBuildURem(k->b, rem, I64(inf.dims[d].v), ""), st[d], ""), "");
        rem = LLVMBuildUDiv(k->b, rem, I64(inf.dims[d].v), "");
    }
    lw_store(k, y, off, lw_load(k, x, l.iv));
    lw_if_end(k, &f);
    lw_loop_end(k, &l);
    lw_kernel_end(k);
    return 0;
}
