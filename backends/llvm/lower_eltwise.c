/* Scalar arithmetic by dtype, fused post-ops, and the element-wise kernels. */
#include <math.h>
#include <string.h>

#include "backends/llvm/lower_int.h"

LLVMValueRef lw_const_f(lw_t *k, ir_dtype_t t, double x) {
    if (ir_dtype_is_float(t)) return LLVMConstReal(lw_type(k, t), x);
    if (ir_dtype_is_signed(t)) return LLVMConstInt(lw_type(k, t), (unsigned long long)(int64_t)x, 1);
    return LLVMConstInt(lw_type(k, t), (unsigned long long)x, 0);
}

LLVMValueRef lw_intrin(lw_t *k, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(k->m, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(k->c, id, &t, 1);
    return LLVMBuildCall2(k->b, ft, f, args, (unsigned)n, "");
}

/* libm call for float/double; other float types go through float. */
LLVMValueRef lw_call_math(lw_t *k, const char *f32name, const char *f64name, ir_dtype_t t, LLVMValueRef x) {
    bool dbl = t == IR_F64;
    LLVMTypeRef ty = dbl ? k->f64 : k->f32;
    if (!dbl && t != IR_F32) x = LLVMBuildFPCast(k->b, x, k->f32, "");
    const char *name = dbl ? f64name : f32name;
    LLVMTypeRef ft = LLVMFunctionType(ty, &ty, 1, 0);
    LLVMValueRef f = LLVMGetNamedFunction(k->m, name);
    if (!f) f = LLVMAddFunction(k->m, name, ft);
    LLVMValueRef r = LLVMBuildCall2(k->b, ft, f, &x, 1, "");
    if (!dbl && t != IR_F32) r = lw_cast(k, r, IR_F32, t);
    return r;
}

static LLVMValueRef fintrin1(lw_t *k, const char *name, ir_dtype_t t, LLVMValueRef x) {
    return lw_intrin(k, name, lw_type(k, t), &x, 1);
}

LLVMValueRef lw_fmax(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    /* NaN-propagating like ONNX Runtime's max for comparisons in reductions */
    LLVMValueRef gt = LLVMBuildFCmp(k->b, LLVMRealUGT, a, b, "");
    return LLVMBuildSelect(k->b, gt, a, b, "");
}

static LLVMValueRef fsel_cmp(lw_t *k, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, p, a, b, ""), a, b, "");
}

static LLVMValueRef bool_of(lw_t *k, LLVMValueRef c) { return LLVMBuildZExt(k->b, c, k->i8, ""); }

LLVMValueRef lw_unary(lw_t *k, ir_op_t op, ir_dtype_t t, LLVMValueRef x, double alpha, double beta) {
    LLVMBuilderRef b = k->b;
    bool fl = ir_dtype_is_float(t);
    LLVMValueRef zero = lw_const_f(k, t, 0), one = lw_const_f(k, t, 1);
    switch (op) {
    case IR_OP_IDENTITY: case IR_OP_DROPOUT: case IR_OP_FLATTEN: case IR_OP_RESHAPE:
    case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE:
        return x;
    case IR_OP_RELU:
        if (fl) return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, zero, "");
        return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, zero, ""), x, zero, "");
    case IR_OP_LEAKY_RELU: {
        LLVMValueRef ax = LLVMBuildFMul(b, x, lw_const_f(k, t, alpha), "");
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGE, x, zero, ""), x, ax, "");
    }
    case IR_OP_SIGMOID: {
        LLVMValueRef e = fintrin1(k, "llvm.exp", t, LLVMBuildFNeg(b, x, ""));
        return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
    }
    case IR_OP_HARD_SIGMOID: {
        LLVMValueRef y = LLVMBuildFAdd(b, LLVMBuildFMul(b, x, lw_const_f(k, t, alpha), ""), lw_const_f(k, t, beta), "");
        y = fsel_cmp(k, LLVMRealOGT, y, zero);
        return fsel_cmp(k, LLVMRealOLT, y, one);
    }
    case IR_OP_HARD_SWISH: {
        LLVMValueRef y = LLVMBuildFAdd(b, LLVMBuildFMul(b, x, lw_const_f(k, t, 1.0 / 6), ""), lw_const_f(k, t, 0.5), "");
        y = fsel_cmp(k, LLVMRealOGT, y, zero);
        y = fsel_cmp(k, LLVMRealOLT, y, one);
        return LLVMBuildFMul(b, x, y, "");
    }
    case IR_OP_TANH: return lw_call_math(k, "tanhf", "tanh", t, x);
    case IR_OP_ERF: return lw_call_math(k, "erff", "erf", t, x);
    case IR_OP_ELU: case IR_OP_SELU: {
        double a = op == IR_OP_ELU ? alpha : alpha, g = op == IR_OP_SELU ? beta : 1.0;
        LLVMValueRef neg = LLVMBuildFMul(b, lw_const_f(k, t, a),
                                         LLVMBuildFSub(b, fintrin1(k, "llvm.exp", t, x), one, ""), "");
        LLVMValueRef y = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, neg, "");
        return g == 1.0 ? y : LLVMBuildFMul(b, y, lw_const_f(k, t, g), "");
    }
    case IR_OP_SOFTPLUS:
        return fintrin1(k, "llvm.log", t, LLVMBuildFAdd(b, fintrin1(k, "llvm.exp", t, x), one, ""));
    case IR_OP_SOFTSIGN:
        return LLVMBuildFDiv(b, x, LLVMBuildFAdd(b, one, fintrin1(k, "llvm.fabs", t, x), ""), "");
    case IR_OP_CLIP:
        if (fl) {
            if (!isinf(alpha) || alpha > 0) x = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, lw_const_f(k, t, alpha), ""), lw_const_f(k, t, alpha), x, "");
            if (!isinf(beta) || beta < 0) x = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, lw_const_f(k, t, beta), ""), lw_const_f(k, t, beta), x, "");
            return x;
        } else {
            bool s = ir_dtype_is_signed(t);
            if (!isinf(alpha)) x = LLVMBuildSelect(b, LLVMBuildICmp(b, s ? LLVMIntSLT : LLVMIntULT, x, lw_const_f(k, t, alpha), ""), lw_const_f(k, t, alpha), x, "");
            if (!isinf(beta)) x = LLVMBuildSelect(b, LLVMBuildICmp(b, s ? LLVMIntSGT : LLVMIntUGT, x, lw_const_f(k, t, beta), ""), lw_const_f(k, t, beta), x, "");
            return x;
        }
    case IR_OP_SQRT: return fintrin1(k, "llvm.sqrt", t, x);
    case IR_OP_RECIPROCAL: return LLVMBuildFDiv(b, one, x, "");
    case IR_OP_NEG: return fl ? LLVMBuildFNeg(b, x, "") : LLVMBuildNeg(b, x, "");
    case IR_OP_ABS:
        if (fl) return fintrin1(k, "llvm.fabs", t, x);
        if (!ir_dtype_is_signed(t)) return x;
        return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, zero, ""), LLVMBuildNeg(b, x, ""), x, "");
    case IR_OP_EXP: return fintrin1(k, "llvm.exp", t, x);
    case IR_OP_LOG: return fintrin1(k, "llvm.log", t, x);
    case IR_OP_FLOOR: return fl ? fintrin1(k, "llvm.floor", t, x) : x;
    case IR_OP_CEIL: return fl ? fintrin1(k, "llvm.ceil", t, x) : x;
    case IR_OP_SIN: return fintrin1(k, "llvm.sin", t, x);
    case IR_OP_COS: return fintrin1(k, "llvm.cos", t, x);
    case IR_OP_NOT: return LLVMBuildXor(b, x, LLVMConstInt(k->i8, 1, 0), "");
    case IR_OP_ROUND: return fintrin1(k, "llvm.roundeven", t, x);
    case IR_OP_TAN: return lw_call_math(k, "tanf", "tan", t, x);
    case IR_OP_ASIN: return lw_call_math(k, "asinf", "asin", t, x);
    case IR_OP_ACOS: return lw_call_math(k, "acosf", "acos", t, x);
    case IR_OP_ATAN: return lw_call_math(k, "atanf", "atan", t, x);
    case IR_OP_SINH: return lw_call_math(k, "sinhf", "sinh", t, x);
    case IR_OP_COSH: return lw_call_math(k, "coshf", "cosh", t, x);
    case IR_OP_ASINH: return lw_call_math(k, "asinhf", "asinh", t, x);
    case IR_OP_ACOSH: return lw_call_math(k, "acoshf", "acosh", t, x);
    case IR_OP_ATANH: return lw_call_math(k, "atanhf", "atanh", t, x);
    case IR_OP_IS_NAN: return bool_of(k, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""));
    case IR_OP_IS_INF: {
        /* alpha = detect_negative, beta = detect_positive */
        LLVMValueRef r = LLVMConstInt(k->i1, 0, 0);
        if (alpha != 0) r = LLVMBuildOr(b, r, LLVMBuildFCmp(b, LLVMRealOEQ, x, lw_const_f(k, t, -INFINITY), ""), "");
        if (beta != 0) r = LLVMBuildOr(b, r, LLVMBuildFCmp(b, LLVMRealOEQ, x, lw_const_f(k, t, INFINITY), ""), "");
        return bool_of(k, r);
    }
    case IR_OP_GELU: {
        LLVMValueRef half = lw_const_f(k, t, 0.5), inner;
        if (alpha != 0) { /* approximate = "tanh" */
            LLVMValueRef x3 = LLVMBuildFMul(b, LLVMBuildFMul(b, x, x, ""), x, "");
            inner = LLVMBuildFMul(b, lw_const_f(k, t, 0.7978845608028654),
                                  LLVMBuildFAdd(b, x, LLVMBuildFMul(b, x3, lw_const_f(k, t, 0.044715), ""), ""), "");
            inner = lw_call_math(k, "tanhf", "tanh", t, inner);
        } else {
            inner = lw_call_math(k, "erff", "erf", t, LLVMBuildFMul(b, x, lw_const_f(k, t, 0.7071067811865476), ""));
        }
        return LLVMBuildFMul(b, LLVMBuildFMul(b, half, x, ""), LLVMBuildFAdd(b, one, inner, ""), "");
    }
    case IR_OP_MISH: {
        LLVMValueRef sp = fintrin1(k, "llvm.log", t, LLVMBuildFAdd(b, fintrin1(k, "llvm.exp", t, x), one, ""));
        return LLVMBuildFMul(b, x, lw_call_math(k, "tanhf", "tanh", t, sp), "");
    }
    case IR_OP_THRESHOLDED_RELU:
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, lw_const_f(k, t, alpha), ""), x, zero, "");
    case IR_OP_CELU: {
        LLVMValueRef a = lw_const_f(k, t, alpha);
        LLVMValueRef e = LLVMBuildFMul(b, a, LLVMBuildFSub(b, fintrin1(k, "llvm.exp", t, LLVMBuildFDiv(b, x, a, "")), one, ""), "");
        LLVMValueRef pos = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, zero, "");
        LLVMValueRef neg = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, e, zero, ""), e, zero, "");
        return LLVMBuildFAdd(b, pos, neg, "");
    }
    case IR_OP_SHRINK: {
        /* alpha = lambd, beta = bias; integer inputs go through double */
        bool fl2 = ir_dtype_is_float(t);
        LLVMValueRef xd = fl2 ? x : lw_cast(k, x, t, IR_F64);
        ir_dtype_t tt = fl2 ? t : IR_F64;
        LLVMValueRef lo = LLVMBuildFCmp(b, LLVMRealOLT, xd, lw_const_f(k, tt, -alpha), "");
        LLVMValueRef hi = LLVMBuildFCmp(b, LLVMRealOGT, xd, lw_const_f(k, tt, alpha), "");
        LLVMValueRef r = LLVMBuildSelect(b, lo, LLVMBuildFAdd(b, xd, lw_const_f(k, tt, beta), ""),
                                         LLVMBuildSelect(b, hi, LLVMBuildFSub(b, xd, lw_const_f(k, tt, beta), ""), lw_const_f(k, tt, 0), ""), "");
        return fl2 ? r : lw_cast(k, r, IR_F64, t);
    }
    case IR_OP_SIGN:
        if (fl) {
            LLVMValueRef pos = LLVMBuildUIToFP(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), lw_type(k, t), "");
            LLVMValueRef neg = LLVMBuildUIToFP(b, LLVMBuildFCmp(b, LLVMRealOLT, x, zero, ""), lw_type(k, t), "");
            return LLVMBuildFSub(b, pos, neg, "");
        } else {
            LLVMValueRef pos = LLVMBuildZExt(b, LLVMBuildICmp(b, ir_dtype_is_signed(t) ? LLVMIntSGT : LLVMIntUGT, x, zero, ""), lw_type(k, t), "");
            LLVMValueRef neg = LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntSLT, x, zero, ""), lw_type(k, t), "");
            return ir_dtype_is_signed(t) ? LLVMBuildSub(b, pos, neg, "") : pos;
        }
    default:
        return NULL;
    }
}

LLVMValueRef lw_binary(lw_t *k, ir_op_t op, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c) {
    LLVMBuilderRef b = k->b;
    bool fl = ir_dtype_is_float(t), sg = ir_dtype_is_signed(t);
    switch (op) {
    case IR_OP_ADD: case IR_OP_SUM: return fl ? LLVMBuildFAdd(b, a, c, "") : LLVMBuildAdd(b, a, c, "");
    case IR_OP_SUB: return fl ? LLVMBuildFSub(b, a, c, "") : LLVMBuildSub(b, a, c, "");
    case IR_OP_MUL: return fl ? LLVMBuildFMul(b, a, c, "") : LLVMBuildMul(b, a, c, "");
    case IR_OP_DIV:
        if (fl) return LLVMBuildFDiv(b, a, c, "");
        {
            /* integer division by zero would trap; ONNX leaves it undefined, we give 0 */
            LLVMValueRef z = LLVMBuildICmp(b, LLVMIntEQ, c, lw_const_f(k, t, 0), "");
            LLVMValueRef safe = LLVMBuildSelect(b, z, lw_const_f(k, t, 1), c, "");
            if (sg) {
                /* INT_MIN / -1 traps too */
                LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, safe, lw_const_f(k, t, -1), "");
                LLVMValueRef q = LLVMBuildSDiv(b, a, LLVMBuildSelect(b, m1, lw_const_f(k, t, 1), safe, ""), "");
                q = LLVMBuildSelect(b, m1, LLVMBuildNeg(b, a, ""), q, "");
                return LLVMBuildSelect(b, z, lw_const_f(k, t, 0), q, "");
            }
            return LLVMBuildSelect(b, z, lw_const_f(k, t, 0), LLVMBuildUDiv(b, a, safe, ""), "");
        }
    case IR_OP_POW:
        if (fl) return lw_intrin(k, "llvm.pow", lw_type(k, t), (LLVMValueRef[]){a, c}, 2);
        return NULL; /* handled by the caller with mixed dtypes */
    case IR_OP_MAX:
        if (fl) return fsel_cmp(k, LLVMRealUGT, a, c);
        return LLVMBuildSelect(b, LLVMBuildICmp(b, sg ? LLVMIntSGT : LLVMIntUGT, a, c, ""), a, c, "");
    case IR_OP_MIN:
        if (fl) return fsel_cmp(k, LLVMRealULT, a, c);
        return LLVMBuildSelect(b, LLVMBuildICmp(b, sg ? LLVMIntSLT : LLVMIntULT, a, c, ""), a, c, "");
    case IR_OP_PRELU: {
        LLVMValueRef ax = fl ? LLVMBuildFMul(b, a, c, "") : LLVMBuildMul(b, a, c, "");
        LLVMValueRef pos = fl ? LLVMBuildFCmp(b, LLVMRealOGE, a, lw_const_f(k, t, 0), "")
                              : LLVMBuildICmp(b, LLVMIntSGE, a, lw_const_f(k, t, 0), "");
        return LLVMBuildSelect(b, pos, a, ax, "");
    }
    case IR_OP_EQUAL: return bool_of(k, fl ? LLVMBuildFCmp(b, LLVMRealOEQ, a, c, "") : LLVMBuildICmp(b, LLVMIntEQ, a, c, ""));
    case IR_OP_LESS: return bool_of(k, fl ? LLVMBuildFCmp(b, LLVMRealOLT, a, c, "") : LLVMBuildICmp(b, sg ? LLVMIntSLT : LLVMIntULT, a, c, ""));
    case IR_OP_GREATER: return bool_of(k, fl ? LLVMBuildFCmp(b, LLVMRealOGT, a, c, "") : LLVMBuildICmp(b, sg ? LLVMIntSGT : LLVMIntUGT, a, c, ""));
    case IR_OP_LESS_EQUAL: return bool_of(k, fl ? LLVMBuildFCmp(b, LLVMRealOLE, a, c, "") : LLVMBuildICmp(b, sg ? LLVMIntSLE : LLVMIntULE, a, c, ""));
    case IR_OP_GREATER_EQUAL: return bool_of(k, fl ? LLVMBuildFCmp(b, LLVMRealOGE, a, c, "") : LLVMBuildICmp(b, sg ? LLVMIntSGE : LLVMIntUGE, a, c, ""));
    case IR_OP_AND: return LLVMBuildAnd(b, a, c, "");
    case IR_OP_OR: return LLVMBuildOr(b, a, c, "");
    case IR_OP_XOR: return LLVMBuildXor(b, a, c, "");
    default: return NULL;
    }
}

LLVMValueRef lw_cast(lw_t *k, LLVMValueRef x, ir_dtype_t from, ir_dtype_t to) {
    LLVMBuilderRef b = k->b;
    LLVMTypeRef tt = lw_type(k, to);
    if (from == to) return x;
    bool ff = ir_dtype_is_float(from), tf = ir_dtype_is_float(to);
    if (to == IR_BOOL) {
        LLVMValueRef nz = ff ? LLVMBuildFCmp(b, LLVMRealUNE, x, LLVMConstReal(lw_type(k, from), 0), "")
                             : LLVMBuildICmp(b, LLVMIntNE, x, LLVMConstInt(lw_type(k, from), 0, 0), "");
        return bool_of(k, nz);
    }
    if (to == IR_BF16) {
        /* round to nearest even by hand: x86 code for fptrunc to bfloat calls a libgcc
         * helper that Debian 12's libgcc does not have */
        LLVMValueRef f = lw_cast(k, x, from, IR_F32);
        LLVMValueRef bits = LLVMBuildBitCast(b, f, k->i32, "");
        LLVMValueRef lsb = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, lw_i32(k, 16), ""), lw_i32(k, 1), "");
        LLVMValueRef r = LLVMBuildLShr(b, LLVMBuildAdd(b, bits, LLVMBuildAdd(b, lsb, lw_i32(k, 0x7fff), ""), ""), lw_i32(k, 16), "");
        LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, f, f, "");
        r = LLVMBuildSelect(b, nan, lw_i32(k, 0x7fc0), r, "");
        return LLVMBuildBitCast(b, LLVMBuildTrunc(b, r, k->i16, ""), tt, "");
    }
    if (ff && tf) return LLVMBuildFPCast(b, x, tt, "");
    if (ff) return ir_dtype_is_signed(to) ? LLVMBuildFPToSI(b, x, tt, "") : LLVMBuildFPToUI(b, x, tt, "");
    bool fs = ir_dtype_is_signed(from);
    if (tf) return fs ? LLVMBuildSIToFP(b, x, tt, "") : LLVMBuildUIToFP(b, x, tt, "");
    return LLVMBuildIntCast2(b, x, tt, fs, "");
}

LLVMValueRef lw_apply_post(lw_t *k, const ir_node_t *n, LLVMValueRef x, LLVMValueRef *idx) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    for (int i = 0; i < n->n_post; i++) {
        const ir_postop_t *p = &n->post[i];
        if (p->op == IR_OP_CAST) {
            x = lw_cast(k, x, t, p->to);
            t = p->to;
            continue;
        }
        if (p->other) {
            LLVMValueRef st[IR_MAX_RANK];
            lw_bcast_strides(k, p->other, out, st);
            LLVMValueRef o = lw_load(k, p->other, lw_dot(k, idx, st, out->shape.rank));
            x = p->swap ? lw_binary(k, p->op, t, o, x) : lw_binary(k, p->op, t, x, o);
        } else {
            x = lw_unary(k, p->op, t, x, p->alpha, p->beta);
        }
        if (!x) {
            lw_error(k, "fused post-op %s is not supported for %s", ir_op_name(p->op), ir_dtype_name(t));
            return NULL;
        }
    }
    return x;
}

/* ---------------------------------------------------------------- element-wise kernels */
static LLVMValueRef load_bcast(lw_t *k, const ir_value_t *v, const ir_value_t *out, LLVMValueRef *idx) {
    LLVMValueRef st[IR_MAX_RANK];
    lw_bcast_strides(k, v, out, st);
    return lw_load(k, v, lw_dot(k, idx, st, out->shape.rank));
}

static LLVMValueRef elem_eltwise(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
    switch (n->op) {
    case IR_OP_WHERE: {
        LLVMValueRef c = load_bcast(k, n->in[0], out, idx);
        LLVMValueRef a = load_bcast(k, n->in[1], out, idx), e = load_bcast(k, n->in[2], out, idx);
        return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntNE, c, LLVMConstInt(k->i8, 0, 0), ""), a, e, "");
    }
    case IR_OP_CAST: case IR_OP_CAST_LIKE:
        return lw_cast(k, load_bcast(k, n->in[0], out, idx), t, out->dtype);
    case IR_OP_MOD: {
        LLVMValueRef a = load_bcast(k, n->in[0], out, idx), c = load_bcast(k, n->in[1], out, idx);
        if (ir_dtype_is_float(t)) {
            LLVMValueRef r = LLVMBuildFRem(k->b, a, c, "");
            if (ir_attr_int(n, "fmod", 0)) return r;
            /* fmod = 0: numpy's mod, the result takes the divisor's sign */
            LLVMValueRef z = lw_const_f(k, t, 0);
            LLVMValueRef adj = LLVMBuildAnd(k->b, LLVMBuildFCmp(k->b, LLVMRealONE, r, z, ""),
                                            LLVMBuildXor(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, r, z, ""),
                                                         LLVMBuildFCmp(k->b, LLVMRealOLT, c, z, ""), ""), "");
            return LLVMBuildSelect(k->b, adj, LLVMBuildFAdd(k->b, r, c, ""), r, "");
        }
        LLVMValueRef z = LLVMBuildICmp(k->b, LLVMIntEQ, c, lw_const_f(k, t, 0), "");
        LLVMValueRef safe = LLVMBuildSelect(k->b, z, lw_const_f(k, t, 1), c, "");
        if (!ir_dtype_is_signed(t)) return LLVMBuildSelect(k->b, z, lw_const_f(k, t, 0), LLVMBuildURem(k->b, a, safe, ""), "");
        LLVMValueRef m1 = LLVMBuildICmp(k->b, LLVMIntEQ, safe, lw_const_f(k, t, -1), "");
        safe = LLVMBuildSelect(k->b, m1, lw_const_f(k, t, 1), safe, "");
        LLVMValueRef r = LLVMBuildSRem(k->b, a, safe, "");
        if (!ir_attr_int(n, "fmod", 0)) {
            /* Python-style: the result takes the divisor's sign */
            LLVMValueRef adj = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntNE, r, lw_const_f(k, t, 0), ""),
                                            LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildICmp(k->b, LLVMIntSLT, r, lw_const_f(k, t, 0), ""),
                                                          LLVMBuildICmp(k->b, LLVMIntSLT, safe, lw_const_f(k, t, 0), ""), ""), "");
            r = LLVMBuildSelect(k->b, adj, LLVMBuildAdd(k->b, r, safe, ""), r, "");
        }
        return LLVMBuildSelect(k->b, LLVMBuildOr(k->b, z, m1, ""), lw_const_f(k, t, 0), r, "");
    }
    case IR_OP_BIT_SHIFT: {
        LLVMValueRef a = load_bcast(k, n->in[0], out, idx), c = load_bcast(k, n->in[1], out, idx);
        unsigned bits = LLVMGetIntTypeWidth(lw_type(k, t));
        bool sg = ir_dtype_is_signed(t);
        /* A negative amount, or one of the width or more (poison in LLVM), leaves only the
         * sign fill: -1 for an arithmetic right shift of a negative value, else 0. */
        LLVMValueRef big = LLVMBuildICmp(k->b, LLVMIntUGE, c, lw_const_f(k, t, bits), "");
        bool left = strcmp(ir_attr_str(n, "direction", "LEFT"), "LEFT") == 0;
        LLVMValueRef r = left ? LLVMBuildShl(k->b, a, c, "") : sg ? LLVMBuildAShr(k->b, a, c, "") : LLVMBuildLShr(k->b, a, c, "");
        LLVMValueRef fill = lw_const_f(k, t, 0);
        if (sg && !left)
            fill = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, fill, ""), lw_const_f(k, t, -1), fill, "");
        return LLVMBuildSelect(k->b, big, fill, r, "");
    }
    case IR_OP_CLIP: {
        LLVMValueRef x = load_bcast(k, n->in[0], out, idx);
        bool fl = ir_dtype_is_float(t), sg = ir_dtype_is_signed(t);
        for (int j = 1; j <= 2; j++) {
            if (j >= n->n_in || !n->in[j]) continue;
            LLVMValueRef bound = lw_load(k, n->in[j], lw_i64(k, 0));
            LLVMValueRef c = fl ? LLVMBuildFCmp(k->b, j == 1 ? LLVMRealOLT : LLVMRealOGT, x, bound, "")
                                : LLVMBuildICmp(k->b, j == 1 ? (sg ? LLVMIntSLT : LLVMIntULT) : (sg ? LLVMIntSGT : LLVMIntUGT), x, bound, "");
            x = LLVMBuildSelect(k->b, c, bound, x, "");
        }
        return x;
    }
    case IR_OP_POW: {
        LLVMValueRef a = load_bcast(k, n->in[0], out, idx), e = load_bcast(k, n->in[1], out, idx);
        ir_dtype_t te = n->in[1]->dtype;
        /* Pow allows a different exponent dtype: compute in double unless both are the same float type */
        if (ir_dtype_is_float(t) && te == t) return lw_binary(k, IR_OP_POW, t, a, e);
        LLVMValueRef ad = lw_cast(k, a, t, IR_F64), ed = lw_cast(k, e, te, IR_F64);
        LLVMValueRef r = lw_intrin(k, "llvm.pow", k->f64, (LLVMValueRef[]){ad, ed}, 2);
        return lw_cast(k, r, IR_F64, t);
    }
    case IR_OP_SUM: case IR_OP_MEAN: case IR_OP_MAX: case IR_OP_MIN: {
        ir_op_t bop = n->op == IR_OP_MEAN ? IR_OP_ADD : n->op;
        LLVMValueRef x = load_bcast(k, n->in[0], out, idx);
        for (int j = 1; j < n->n_in; j++) x = lw_binary(k, bop, t, x, load_bcast(k, n->in[j], out, idx));
        if (n->op == IR_OP_MEAN) x = LLVMBuildFDiv(k->b, x, lw_const_f(k, t, n->n_in), "");
        return x;
    }
    default:
        break;
    }
    if (n->n_in >= 2 && n->in[1] && n->op != IR_OP_DROPOUT && n->op != IR_OP_RESHAPE && n->op != IR_OP_UNSQUEEZE &&
        n->op != IR_OP_SQUEEZE) {
        LLVMValueRef a = load_bcast(k, n->in[0], out, idx), c = load_bcast(k, n->in[1], out, idx);
        LLVMValueRef r = lw_binary(k, n->op, t, a, c);
        if (!r) lw_error(k, "op is not supported for dtype %s", ir_dtype_name(t));
        return r;
    }
    double alpha = 0, beta = 0;
    switch (n->op) {
    case IR_OP_LEAKY_RELU: alpha = ir_attr_float(n, "alpha", 0.01); break;
    case IR_OP_HARD_SIGMOID: alpha = ir_attr_float(n, "alpha", 0.2); beta = ir_attr_float(n, "beta", 0.5); break;
    case IR_OP_ELU: alpha = ir_attr_float(n, "alpha", 1.0); break;
    case IR_OP_SELU:
        alpha = ir_attr_float(n, "alpha", 1.67326319217681884765625) ;
        beta = ir_attr_float(n, "gamma", 1.05070102214813232421875);
        break;
    case IR_OP_THRESHOLDED_RELU: alpha = ir_attr_float(n, "alpha", 1.0); break;
    case IR_OP_CELU: alpha = ir_attr_float(n, "alpha", 1.0); break;
    case IR_OP_SHRINK: alpha = ir_attr_float(n, "lambd", 0.5); beta = ir_attr_float(n, "bias", 0.0); break;
    case IR_OP_GELU: alpha = strcmp(ir_attr_str(n, "approximate", "none"), "tanh") == 0; break;
    case IR_OP_IS_INF:
        alpha = (double)ir_attr_int(n, "detect_negative", 1);
        beta = (double)ir_attr_int(n, "detect_positive", 1);
        break;
    default: break;
    }
    LLVMValueRef x;
    if (n->op == IR_OP_IDENTITY || n->op == IR_OP_DROPOUT || n->op == IR_OP_FLATTEN || n->op == IR_OP_RESHAPE ||
        n->op == IR_OP_SQUEEZE || n->op == IR_OP_UNSQUEEZE) {
        /* same element count, same order: flat copy */
        LLVMValueRef st[IR_MAX_RANK];
        lw_strides(k, out, st);
        x = lw_load(k, n->in[0], lw_dot(k, idx, st, out->shape.rank));
    } else {
        x = load_bcast(k, n->in[0], out, idx);
    }
    LLVMValueRef r = lw_unary(k, n->op, t, x, alpha, beta);
    if (!r) lw_error(k, "op is not supported for dtype %s", ir_dtype_name(t));
    return r;
}

/* Dropout. In inference mode (the usual export) it is a copy with an all-true mask. When
 * training_mode is true at run time, elements are dropped with probability `ratio` using a
 * counter-based hash of (seed, index), and kept ones scaled by 1/(1-ratio). */
static int lower_dropout(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    const ir_value_t *mask = n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE ? n->out[1] : NULL;
    const ir_value_t *ratio = n->n_in > 1 ? n->in[1] : NULL, *train = n->n_in > 2 ? n->in[2] : NULL;
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t)) return lw_error(k, "Dropout needs a float type");
    if (n->n_post) return lw_error(k, "fused post-ops on Dropout are not supported");
    lw_kernel_begin(k, n, y, -1);
    LLVMValueRef tr = train ? LLVMBuildICmp(k->b, LLVMIntNE, lw_load(k, train, lw_i64(k, 0)), LLVMConstInt(k->i8, 0, 0), "")
                            : LLVMConstInt(k->i1, 0, 0);
    LLVMValueRef r = ratio ? lw_cast(k, lw_load(k, ratio, lw_i64(k, 0)), ratio->dtype, IR_F64) : LLVMConstReal(k->f64, 0.5);
    LLVMValueRef scale = LLVMBuildFDiv(k->b, LLVMConstReal(k->f64, 1.0), LLVMBuildFSub(k->b, LLVMConstReal(k->f64, 1.0), r, ""), "");
    LLVMValueRef sc = lw_cast(k, scale, IR_F64, t);
    uint64_t seed = (uint64_t)ir_attr_int(n, "seed", 0x2545F4914F6CDD1DLL);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), lw_numel(k, y), "i");
    /* splitmix64 of (seed + index) -> uniform in [0, 1) */
    LLVMValueRef z = LLVMBuildAdd(k->b, l.iv, LLVMConstInt(k->i64, seed, 0), "");
    z = LLVMBuildMul(k->b, LLVMBuildXor(k->b, z, LLVMBuildLShr(k->b, z, lw_i64(k, 30), ""), ""), LLVMConstInt(k->i64, 0xbf58476d1ce4e5b9ULL, 0), "");
    z = LLVMBuildMul(k->b, LLVMBuildXor(k->b, z, LLVMBuildLShr(k->b, z, lw_i64(k, 27), ""), ""), LLVMConstInt(k->i64, 0x94d049bb133111ebULL, 0), "");
    z = LLVMBuildXor(k->b, z, LLVMBuildLShr(k->b, z, lw_i64(k, 31), ""), "");
    LLVMValueRef u = LLVMBuildFMul(k->b, LLVMBuildUIToFP(k->b, LLVMBuildLShr(k->b, z, lw_i64(k, 11), ""), k->f64, ""),
                                   LLVMConstReal(k->f64, 1.0 / 9007199254740992.0), "");
    LLVMValueRef keep = LLVMBuildOr(k->b, LLVMBuildNot(k->b, tr, ""), LLVMBuildFCmp(k->b, LLVMRealOGE, u, r, ""), "");
    LLVMValueRef xv = lw_load(k, x, l.iv);
    LLVMValueRef kept = LLVMBuildSelect(k->b, tr, LLVMBuildFMul(k->b, xv, sc, ""), xv, "");
    lw_store(k, y, l.iv, LLVMBuildSelect(k->b, keep, kept, LLVMConstNull(lw_type(k, t)), ""));
    if (mask) lw_store(k, mask, l.iv, LLVMBuildZExt(k->b, keep, k->i8, ""));
    lw_loop_end(k, &l);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_eltwise(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    if (n->op == IR_OP_DROPOUT) return lower_dropout(k, n);
    if (n->op == IR_OP_BIT_SHIFT && !ir_dtype_is_int(n->in[0]->dtype))
        return lw_error(k, "BitShift needs an integer type, got %s", ir_dtype_name(n->in[0]->dtype));
    if (ir_dtype_is_float(n->in[0]->dtype) || n->op == IR_OP_CAST || n->op == IR_OP_CAST_LIKE || n->op == IR_OP_WHERE) {
        /* fine */
    } else {
        switch (n->op) {
        case IR_OP_SIGMOID: case IR_OP_TANH: case IR_OP_ERF: case IR_OP_SQRT: case IR_OP_EXP: case IR_OP_LOG:
        case IR_OP_SIN: case IR_OP_COS: case IR_OP_RECIPROCAL: case IR_OP_LEAKY_RELU: case IR_OP_ELU: case IR_OP_SELU:
        case IR_OP_SOFTPLUS: case IR_OP_SOFTSIGN: case IR_OP_HARD_SIGMOID: case IR_OP_HARD_SWISH: case IR_OP_MEAN:
        case IR_OP_ROUND: case IR_OP_TAN: case IR_OP_ASIN: case IR_OP_ACOS: case IR_OP_ATAN: case IR_OP_SINH:
        case IR_OP_COSH: case IR_OP_ASINH: case IR_OP_ACOSH: case IR_OP_ATANH: case IR_OP_GELU: case IR_OP_MISH:
        case IR_OP_THRESHOLDED_RELU: case IR_OP_CELU: case IR_OP_IS_NAN: case IR_OP_IS_INF:
            return lw_error(k, "%s is not supported for dtype %s", ir_op_name(n->op), ir_dtype_name(n->in[0]->dtype));
        default: break;
        }
    }
    return lw_emit_map(k, n, out, elem_eltwise, NULL);
}
