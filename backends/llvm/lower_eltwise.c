/* Scalar arithmetic by dtype, fused post-ops, and the element-wise kernels. */
#include <math.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/lowp.h"
#include "ir/infer_util.h"
#include "ir/recipe.h"

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

/* Scalar arithmetic the kernels (reductions, GEMM fallbacks, Range) build on. Element-wise
 * ops themselves are lowered from their recipes (lower_recipe.c). */
LLVMValueRef lw_add(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c) {
    return ir_dtype_is_float(t) ? LLVMBuildFAdd(k->b, a, c, "") : LLVMBuildAdd(k->b, a, c, "");
}
LLVMValueRef lw_mul(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c) {
    return ir_dtype_is_float(t) ? LLVMBuildFMul(k->b, a, c, "") : LLVMBuildMul(k->b, a, c, "");
}
/* NaN-propagating for floats (select on "greater or unordered"), signedness by dtype. */
LLVMValueRef lw_max(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c) {
    if (ir_dtype_is_float(t)) return fsel_cmp(k, LLVMRealUGT, a, c);
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, ir_dtype_is_signed(t) ? LLVMIntSGT : LLVMIntUGT, a, c, ""), a, c, "");
}
LLVMValueRef lw_min(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef c) {
    if (ir_dtype_is_float(t)) return fsel_cmp(k, LLVMRealULT, a, c);
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, ir_dtype_is_signed(t) ? LLVMIntSLT : LLVMIntULT, a, c, ""), a, c, "");
}
LLVMValueRef lw_abs(lw_t *k, ir_dtype_t t, LLVMValueRef x) {
    if (ir_dtype_is_float(t)) return fintrin1(k, "llvm.fabs", t, x);
    if (!ir_dtype_is_signed(t)) return x;
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, x, lw_const_f(k, t, 0), ""), LLVMBuildNeg(k->b, x, ""), x, "");
}
/* exp, log, sqrt by intrinsic name ("llvm.exp", ...): float types only; float32 exp and
 * log inline (lower_vmath.c). */
LLVMValueRef lw_fmath(lw_t *k, const char *intrinsic, ir_dtype_t t, LLVMValueRef x) {
    int f = !strcmp(intrinsic, "llvm.exp") ? IR_F_EXP : !strcmp(intrinsic, "llvm.log") ? IR_F_LOG : -1;
    LLVMValueRef r = f >= 0 ? lw_vmath(k, f, x) : NULL;
    return r ? r : fintrin1(k, intrinsic, t, x);
}

LLVMValueRef lw_cast(lw_t *k, LLVMValueRef x, ir_dtype_t from, ir_dtype_t to) {
    LLVMBuilderRef b = k->b;
    LLVMTypeRef tt = lw_type(k, to);
    if (from == to) return x;
    if (ir_dtype_is_lowp(from) || ir_dtype_is_lowp(to)) return lw_cast_lowp(k, x, from, to, true, IR_ROUND_UP);
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
    if (ff) {
        /* float -> integer: truncate toward zero, saturating at the int64 range with NaN as
         * 0, then keep the low bits (what the constant folder's f2i + store does): never
         * the poison of a plain fptosi/fptoui out of range */
        LLVMTypeRef xt = LLVMTypeOf(x), it = k->i64, f32t = k->f32;
        if (LLVMGetTypeKind(xt) == LLVMVectorTypeKind) {
            unsigned nl = LLVMGetVectorSize(xt);
            it = LLVMVectorType(k->i64, nl);
            f32t = LLVMVectorType(k->f32, nl);
            tt = LLVMVectorType(tt, nl);
        }
        if (from == IR_F16 || from == IR_BF16) x = LLVMBuildFPExt(b, x, f32t, "");
        LLVMTypeRef ov[2] = {it, LLVMTypeOf(x)};
        unsigned id = LLVMLookupIntrinsicID("llvm.fptosi.sat", 15);
        LLVMValueRef f = LLVMGetIntrinsicDeclaration(k->m, id, ov, 2);
        LLVMValueRef v = LLVMBuildCall2(b, LLVMIntrinsicGetType(k->c, id, ov, 2), f, &x, 1, "");
        return LLVMTypeOf(v) == tt ? v : LLVMBuildTrunc(b, v, tt, "");
    }
    bool fs = ir_dtype_is_signed(from);
    if (tf) return fs ? LLVMBuildSIToFP(b, x, tt, "") : LLVMBuildUIToFP(b, x, tt, "");
    return LLVMBuildIntCast2(b, x, tt, fs, "");
}

/* Recipe inputs in the compute type: bool as i1, float16/bfloat16 widened to float. */
static LLVMValueRef to_compute(lw_t *k, LLVMValueRef x, ir_dtype_t t) {
    if (t == IR_BOOL) return LLVMBuildICmp(k->b, LLVMIntNE, x, LLVMConstInt(k->i8, 0, 0), "");
    return lw_cast(k, x, t, lw_recipe_ctype(t));
}

static LLVMValueRef from_compute(lw_t *k, LLVMValueRef x, ir_dtype_t t, bool boolean) {
    if (boolean) return bool_of(k, x);
    return lw_cast(k, x, lw_recipe_ctype(t), t);
}

LLVMValueRef lw_apply_post(lw_t *k, const ir_node_t *n, LLVMValueRef x, LLVMValueRef *idx) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    for (int i = 0; i < n->n_post; i++) {
        const ir_postop_t *p = &n->post[i];
        if (!p->node) {   /* Cast */
            x = lw_cast(k, x, t, p->to);
            t = p->to;
            continue;
        }
        LLVMValueRef in[3] = {NULL, NULL, NULL};
        bool present[3] = {false, false, false};
        for (int j = 0; j < p->node->n_in && j < 3; j++) {
            const ir_value_t *u = p->node->in[j];
            if (!u) continue;
            present[j] = true;
            if (j == p->self) {
                in[j] = to_compute(k, x, t);
            } else if (j == p->oidx) {
                LLVMValueRef st[IR_MAX_RANK];
                lw_bcast_strides(k, u, out, st);
                in[j] = to_compute(k, lw_load(k, u, lw_dot(k, idx, st, out->shape.rank)), t);
            } else {
                in[j] = lw_recipe_const(k, u, t, 0);
            }
        }
        LLVMValueRef r = lw_recipe(k, p->node, t, 0, in, present);
        if (!r) return NULL;
        x = from_compute(k, r, t, t == IR_BOOL);
    }
    return x;
}

/* ---------------------------------------------------------------- element-wise kernels */
static LLVMValueRef load_bcast(lw_t *k, const ir_value_t *v, const ir_value_t *out, LLVMValueRef *idx) {
    LLVMValueRef st[IR_MAX_RANK];
    lw_bcast_strides(k, v, out, st);
    return lw_load(k, v, lw_dot(k, idx, st, out->shape.rank));
}

/* An op with a recipe; variadic ones (Max, Min, Sum) fold it left to right. */
static LLVMValueRef elem_recipe(lw_t *k, const ir_node_t *n, LLVMValueRef *idx) {
    const ir_value_t *out = n->out[0];
    const ir_rexpr_t *e = ir_recipe(n->op, NULL);
    ir_dtype_t t = IR_BOOL;
    bool present[3] = {false, false, false}, in_bool[3] = {false, false, false};
    for (int j = n->n_in - 1; j >= 0; j--)
        if (n->in[j] && n->in[j]->dtype != IR_BOOL) t = n->in[j]->dtype;
    LLVMValueRef in[3] = {NULL, NULL, NULL};
    int arity = ir_recipe_arity(e), mi, xi, mo, xo;
    ir_op_arity(n->op, &mi, &xi, &mo, &xo);
    if (xi <= arity) {   /* not variadic */
        for (int j = 0; j < n->n_in; j++) {
            const ir_value_t *u = n->in[j];
            if (!u) continue;
            present[j] = true;
            in_bool[j] = u->dtype == IR_BOOL;
            in[j] = lw_recipe_const(k, u, t, 0);
            if (!in[j]) in[j] = to_compute(k, load_bcast(k, u, out, idx), u->dtype);
        }
        LLVMValueRef r = lw_recipe(k, n, t, 0, in, present);
        return r ? from_compute(k, r, out->dtype, ir_recipe_is_bool(e, in_bool)) : NULL;
    }
    LLVMValueRef acc = to_compute(k, load_bcast(k, n->in[0], out, idx), t);
    present[0] = present[1] = true;
    for (int j = 1; j < n->n_in; j++) {
        in[0] = acc;
        in[1] = to_compute(k, load_bcast(k, n->in[j], out, idx), t);
        if (!(acc = lw_recipe(k, n, t, 0, in, present))) return NULL;
    }
    return from_compute(k, acc, out->dtype, false);
}

static LLVMValueRef elem_cast(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
    LLVMValueRef x = load_bcast(k, n->in[0], out, idx);
    if (ir_dtype_is_lowp(t) || ir_dtype_is_lowp(out->dtype)) {
        ir_round_t mode = IR_ROUND_UP;
        ir_round_parse(ir_attr_str(n, "round_mode", "up"), &mode);
        return lw_cast_lowp(k, x, t, out->dtype, ir_attr_int(n, "saturate", 1) != 0, mode);
    }
    return lw_cast(k, x, t, out->dtype);
}
int lw_lower_cast(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_cast, NULL); }

/* BitCast: the element's bits as the output type (widths match; bool is a byte). */
static LLVMValueRef elem_bit_cast(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    LLVMValueRef x = load_bcast(k, n->in[0], out, idx);
    LLVMTypeRef tt = lw_type(k, out->dtype);
    return LLVMTypeOf(x) == tt ? x : LLVMBuildBitCast(k->b, x, tt, "");
}
int lw_lower_bit_cast(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_bit_cast, NULL); }

static LLVMValueRef elem_mod(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
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
int lw_lower_mod(lw_t *k, const ir_node_t *n) {
    if (lw_check_divisor(k, n, n->in[1])) return -1;
    return lw_emit_map(k, n, n->out[0], elem_mod, NULL);
}

/* Div is a recipe op; an integer one first checks its divisor. */
int lw_lower_div(lw_t *k, const ir_node_t *n) {
    if (lw_check_divisor(k, n, n->in[1])) return -1;
    return lw_lower_map(k, n);
}

static LLVMValueRef elem_bit_shift(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
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
int lw_lower_bit_shift(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_bit_shift, NULL); }

/* x^p for a constant p in {0, +-0.5, +-1, +-2, +-3, +-4} with multiplies, sqrt and one
 * division, as pow() gives it: sqrt(-0) + 0 is +0 and -inf gives +inf under a square root,
 * like pow(-0, 0.5) and pow(-inf, 0.5); pow(x, 0) is 1 even for NaN. NULL for other p. */
static LLVMValueRef pow_const(lw_t *k, ir_dtype_t t, LLVMValueRef x, double p) {
    LLVMBuilderRef b = k->b;
    double ap = fabs(p);
    if (p == 0) return lw_const_f(k, t, 1);
    if (ap == 0.5) {
        LLVMTypeRef ty = lw_type(k, t);
        LLVMValueRef r = LLVMBuildFAdd(b, lw_intrin(k, "llvm.sqrt", ty, &x, 1), lw_const_f(k, t, 0), "");
        LLVMValueRef ninf = LLVMBuildFCmp(b, LLVMRealOEQ, x, lw_const_f(k, t, -INFINITY), "");
        r = LLVMBuildSelect(b, ninf, lw_const_f(k, t, INFINITY), r, "");
        return p < 0 ? LLVMBuildFDiv(b, lw_const_f(k, t, 1), r, "") : r;
    }
    if (ap != 1 && ap != 2 && ap != 3 && ap != 4) return NULL;
    /* float32 x^-n goes through double: in float x^n can round to a subnormal where the
     * result is still finite, and (1/x)^n multiplies the division's error by n */
    ir_dtype_t ct = t == IR_F32 && p < -1 ? IR_F64 : t;
    if (ct != t) x = lw_cast(k, x, t, ct);
    LLVMValueRef x2 = LLVMBuildFMul(b, x, x, "");
    LLVMValueRef r = ap == 1 ? x : ap == 2 ? x2 : ap == 3 ? LLVMBuildFMul(b, x2, x, "") : LLVMBuildFMul(b, x2, x2, "");
    if (p < 0) r = LLVMBuildFDiv(b, lw_const_f(k, ct, 1), r, "");
    return ct != t ? lw_cast(k, r, ct, t) : r;
}

static LLVMValueRef elem_pow(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
    double p;
    const ir_value_t *ev = n->in[1];
    if ((t == IR_F32 || t == IR_F64) && ev->data && ir_shape_numel(&ev->shape) == 1 && ev->dtype != IR_BOOL &&
        !ir_const_scalar(ev, &p)) {
        LLVMValueRef r = pow_const(k, t, load_bcast(k, n->in[0], out, idx), p);
        if (r) return r;
    }
    LLVMValueRef a = load_bcast(k, n->in[0], out, idx), e = load_bcast(k, n->in[1], out, idx);
    ir_dtype_t te = n->in[1]->dtype;
    /* Pow allows a different exponent dtype: compute in double unless both are the same float type */
    if (ir_dtype_is_float(t) && te == t) return lw_intrin(k, "llvm.pow", lw_type(k, t), (LLVMValueRef[]){a, e}, 2);
    LLVMValueRef ad = lw_cast(k, a, t, IR_F64), ed = lw_cast(k, e, te, IR_F64);
    LLVMValueRef r = lw_intrin(k, "llvm.pow", k->f64, (LLVMValueRef[]){ad, ed}, 2);
    return lw_cast(k, r, IR_F64, t);
}
int lw_lower_pow(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_pow, NULL); }

static LLVMValueRef elem_mean(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = n->in[0]->dtype;
    LLVMValueRef x = load_bcast(k, n->in[0], out, idx);
    for (int j = 1; j < n->n_in; j++) x = lw_add(k, t, x, load_bcast(k, n->in[j], out, idx));
    return LLVMBuildFDiv(k->b, x, lw_const_f(k, t, n->n_in), "");
}
int lw_lower_mean(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_mean, NULL); }

/* Views a kernel copies (Identity, Flatten, Reshape, Squeeze, Unsqueeze once they need a
 * buffer of their own): same element count, same order. */
static LLVMValueRef elem_copy(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    const ir_value_t *out = n->out[0];
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, out, st);
    return lw_load(k, n->in[0], lw_dot(k, idx, st, out->shape.rank));
}
int lw_lower_copy(lw_t *k, const ir_node_t *n) { return lw_emit_map(k, n, n->out[0], elem_copy, NULL); }

static LLVMValueRef elem_map(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    return elem_recipe(k, n, idx);
}

/* Dropout. In inference mode (the usual export) it is a copy with an all-true mask. When
 * training_mode is true at run time, elements are dropped with probability `ratio` using a
 * counter-based hash of (seed, index), and kept ones scaled by 1/(1-ratio). */
int lw_lower_dropout(lw_t *k, const ir_node_t *n) {
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

/* Any op with a recipe: the table in lower_table.c sends them all here. */
int lw_lower_map(lw_t *k, const ir_node_t *n) {
    return lw_emit_map(k, n, n->out[0], elem_map, NULL);
}
