/* The Lp family: LpPool and LpNormalization.
 *
 * LpPool: y = (sum over the window of |x|^p)^(1/p). Padding contributes nothing (zeros),
 * which is what the ONNX node tests and onnxruntime compute. (The ONNX Python reference
 * instead rescales an average that excludes padding by the full kernel size, which
 * differs at padded borders.) The geometry, auto_pad included, comes from
 * ir_window_params, the same numbers shape inference used.
 *
 * Both accumulate in double for float64 input and in float otherwise (float16/bfloat16
 * are widened), and use |x|, x*x and sqrt for p = 1 and 2, pow only beyond. */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

static ir_dtype_t acc_type(ir_dtype_t t) { return t == IR_F64 ? IR_F64 : IR_F32; }

/* |v|^p for an integer p >= 1 */
static LLVMValueRef abs_pow(lw_t *k, ir_dtype_t ct, LLVMValueRef v, int64_t p) {
    LLVMTypeRef ty = lw_type(k, ct);
    if (p == 2) return LLVMBuildFMul(k->b, v, v, "");
    LLVMValueRef a = lw_intrin(k, "llvm.fabs", ty, &v, 1);
    if (p == 1) return a;
    return lw_intrin(k, "llvm.pow", ty, (LLVMValueRef[]){a, lw_const_f(k, ct, (double)p)}, 2);
}

/* s^(1/p) */
static LLVMValueRef root_p(lw_t *k, ir_dtype_t ct, LLVMValueRef s, int64_t p) {
    LLVMTypeRef ty = lw_type(k, ct);
    if (p == 1) return s;
    if (p == 2) return lw_intrin(k, "llvm.sqrt", ty, &s, 1);
    return lw_intrin(k, "llvm.pow", ty, (LLVMValueRef[]){s, lw_const_f(k, ct, 1.0 / (double)p)}, 2);
}

/* ---------------------------------------------------------------- LpPool */
typedef struct { ir_window_t w; int64_t p; } lppool_t;

static LLVMValueRef elem_lp_pool(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const lppool_t *lp = ud;
    const ir_window_t *w = &lp->w;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype, ct = acc_type(t);
    LLVMTypeRef cty = lw_type(k, ct);
    LLVMValueRef acc = lw_alloca(k, cty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, ct, 0), acc);
    /* x is (N, C, spatial...): the (n, c) plane, then one spatial coordinate per loop */
    LLVMValueRef off = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], lw_dim(k, x, 1), ""), idx[1], "");
    LLVMValueRef valid = LLVMConstInt(k->i1, 1, 0);
    lw_loop_t lk[IR_MAX_RANK];
    for (int s = 0; s < w->ns; s++) {
        int64_t in = x->shape.dims[2 + s].v;
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, w->k[s]), "k");
        LLVMValueRef i = LLVMBuildNSWMul(k->b, idx[2 + s], lw_i64(k, w->s[s]), "");
        i = LLVMBuildNSWAdd(k->b, LLVMBuildNSWSub(k->b, i, lw_i64(k, w->pb[s]), ""),
                            LLVMBuildNSWMul(k->b, lk[s].iv, lw_i64(k, w->d[s]), ""), "");
        LLVMValueRef ok = LLVMBuildICmp(k->b, LLVMIntULT, i, lw_i64(k, in), "");
        valid = LLVMBuildAnd(k->b, valid, ok, "");
        /* a padding position reads element 0 of the row and is then discarded */
        i = LLVMBuildSelect(k->b, ok, i, lw_i64(k, 0), "");
        off = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, off, lw_i64(k, in), ""), i, "");
    }
    LLVMValueRef v = abs_pow(k, ct, lw_cast(k, lw_load(k, x, off), t, ct), lp->p);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, cty, acc, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, valid, LLVMBuildFAdd(k->b, cur, v, ""), cur, ""), acc);
    for (int s = w->ns - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    LLVMValueRef r = root_p(k, ct, LLVMBuildLoad2(k->b, cty, acc, ""), lp->p);
    return lw_cast(k, r, ct, t);
}

int lw_lower_lp_pool(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    if (!ir_dtype_is_float(x->dtype)) return lw_error(k, "LpPool on %s is not supported", ir_dtype_name(x->dtype));
    lppool_t lp;
    if (ir_window_params(k->g, n, &x->shape, NULL, &lp.w)) return -1;
    lp.p = ir_attr_int(n, "p", 2);
    if (lp.p < 1) return lw_error(k, "p must be >= 1");
    return lw_emit_map(k, n, n->out[0], elem_lp_pool, &lp);
}

/* ---------------------------------------------------------------- LpNormalization */
/* Rows along the axis: the outer dims are split across threads; per (outer, inner) pair
 * one pass sums |x|^p, a second writes x / norm. A zero norm gives 0, not NaN, as the
 * ONNX reference does (0/0 = 0). */
int lw_lower_lp_norm(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    ir_dtype_t t = x->dtype, ct = acc_type(t);
    if (!ir_dtype_is_float(t)) return lw_error(k, "LpNormalization on %s is not supported", ir_dtype_name(t));
    if (n->n_post) return lw_error(k, "fused post-ops on LpNormalization are not supported");
    int r = x->shape.rank, axis;
    if (ir_norm_axis(ir_attr_int(n, "axis", -1), r, &axis)) return lw_error(k, "axis out of range");
    int64_t p = ir_attr_int(n, "p", 2);
    if (p != 1 && p != 2) return lw_error(k, "p must be 1 or 2");
    LLVMTypeRef cty = lw_type(k, ct);
    lw_kernel_begin_range(k, n, x, 0, axis);
    LLVMValueRef L = lw_dim(k, x, axis), inner = lw_i64(k, 1);
    for (int d = axis + 1; d < r; d++) inner = LLVMBuildNSWMul(k->b, inner, lw_dim(k, x, d), "");
    LLVMValueRef sum = lw_alloca(k, cty, "sum");
    lw_loop_t lo, li, ll;
    lw_loop_begin(k, &lo, k->begin, k->end, "o");
    lw_loop_begin(k, &li, lw_i64(k, 0), inner, "in");
    LLVMValueRef base = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, LLVMBuildNSWMul(k->b, lo.iv, L, ""), inner, ""), li.iv, "");
#define AT(l) LLVMBuildNSWAdd(k->b, base, LLVMBuildNSWMul(k->b, (l), inner, ""), "")
    LLVMBuildStore(k->b, lw_const_f(k, ct, 0), sum);
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    LLVMValueRef v = abs_pow(k, ct, lw_cast(k, lw_load(k, x, AT(ll.iv)), t, ct), p);
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, LLVMBuildLoad2(k->b, cty, sum, ""), v, ""), sum);
    lw_loop_end(k, &ll);
    LLVMValueRef norm = root_p(k, ct, LLVMBuildLoad2(k->b, cty, sum, ""), p);
    LLVMValueRef zero = LLVMBuildFCmp(k->b, LLVMRealOEQ, norm, lw_const_f(k, ct, 0), "");
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    LLVMValueRef o = AT(ll.iv);
    LLVMValueRef q = LLVMBuildFDiv(k->b, lw_cast(k, lw_load(k, x, o), t, ct), norm, "");
    lw_store(k, y, o, lw_cast(k, LLVMBuildSelect(k->b, zero, lw_const_f(k, ct, 0), q, ""), ct, t));
    lw_loop_end(k, &ll);
#undef AT
    lw_loop_end(k, &li);
    lw_loop_end(k, &lo);
    lw_kernel_end(k);
    return 0;
}
