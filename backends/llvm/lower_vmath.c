/* float32 exp, log, tanh and erf as inline LLVM IR (range reduction and a polynomial), on a
 * scalar or on a vector of any width. llvm.exp and friends have no vector lowering without
 * a vector math library, so a vector of them becomes one libm call per lane (5-25 ns an
 * element here); these run at a few vector instructions an element and let the loop
 * vectorizer vectorize scalar loops that use them (Softmax, LogSumExp).
 *
 * Scalar and vector code is the same arithmetic, so a kernel's vector body and its scalar
 * tail agree bit for bit. The coefficients come from tools/fit_vmath.py (near-minimax fits
 * in float64); tests/backend/check_vmath.py sweeps every function against float64 libm.
 * Measured there (max over ~500k values each): exp 0.96 ulp, log 0.87; tanh and erf,
 * rational fits without exp, 4.7 and 5.9 ulp (relative error below 4e-7; 4.5x and 2.7x
 * faster than forms through exp at 1.3 and 2.3 ulp); with libm's behaviour
 * at the edges: exp overflows to inf and underflows through the subnormals to 0, log gives
 * -inf at 0 and NaN below, tanh and erf saturate to +-1, NaN in gives NaN out. float64
 * keeps libm. */
#include <math.h>

#include "backends/llvm/lower_int.h"
#include "ir/recipe.h"

typedef struct vm {
    lw_t *k;
    LLVMTypeRef ft, it;   /* float32 and int32, scalar or vector */
    unsigned lanes;       /* 0 for scalars */
} vm_t;

static LLVMValueRef splat(const vm_t *V, LLVMValueRef s) {
    if (!V->lanes) return s;
    LLVMValueRef v[64];
    for (unsigned i = 0; i < V->lanes && i < 64; i++) v[i] = s;
    return LLVMConstVector(v, V->lanes);
}
static LLVMValueRef cf(const vm_t *V, double x) { return splat(V, LLVMConstReal(V->k->f32, x)); }
static LLVMValueRef ci(const vm_t *V, int32_t x) { return splat(V, LLVMConstInt(V->k->i32, (unsigned long long)(int64_t)x, 1)); }

static LLVMValueRef fma3(const vm_t *V, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    return lw_intrin(V->k, "llvm.fmuladd", V->ft, (LLVMValueRef[]){a, b, c}, 3);
}
static LLVMValueRef fmul(const vm_t *V, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(V->k->b, a, b, ""); }
static LLVMValueRef fadd(const vm_t *V, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(V->k->b, a, b, ""); }
static LLVMValueRef fsub(const vm_t *V, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(V->k->b, a, b, ""); }
static LLVMValueRef fcmp(const vm_t *V, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(V->k->b, p, a, b, "");
}
static LLVMValueRef sel(const vm_t *V, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(V->k->b, c, a, b, "");
}
static LLVMValueRef as_int(const vm_t *V, LLVMValueRef x) { return LLVMBuildBitCast(V->k->b, x, V->it, ""); }
static LLVMValueRef as_float(const vm_t *V, LLVMValueRef x) { return LLVMBuildBitCast(V->k->b, x, V->ft, ""); }
static LLVMValueRef fabs1(const vm_t *V, LLVMValueRef x) { return lw_intrin(V->k, "llvm.fabs", V->ft, &x, 1); }
static LLVMValueRef copysign1(const vm_t *V, LLVMValueRef mag, LLVMValueRef sgn) {
    return lw_intrin(V->k, "llvm.copysign", V->ft, (LLVMValueRef[]){mag, sgn}, 2);
}

/* c[0] + x*(c[1] + x*(...)), Horner with fused multiply-adds where the target has them
 * (Estrin's shorter dependency chain measured no faster here and lost accuracy in tanh). */
static LLVMValueRef horner(const vm_t *V, LLVMValueRef x, const double *c, int n) {
    LLVMValueRef p = cf(V, c[n - 1]);
    for (int i = n - 2; i >= 0; i--) p = fma3(V, p, x, cf(V, c[i]));
    return p;
}

/* Cody-Waite split of ln 2: the high part has 9 significant bits, so n * LN2_HI is exact
 * for every |n| <= 150 this code produces, with or without a fused multiply-add. */
#define LN2_HI 0.693359375
#define LN2_LO (-2.12194440e-4)

/* exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2; exp(r) = 1 + r + r^2 P(r).
 * 2^n is applied as two factors 2^(n/2) 2^(n - n/2), both normal floats, so the result
 * overflows to inf and underflows gradually exactly as the true value rounds. */
static LLVMValueRef vexp(const vm_t *V, LLVMValueRef x) {
    static const double P[] = {5.000000013e-01, 1.666666653e-01, 4.166646553e-02,
                               8.333360721e-03, 1.393359759e-03, 1.985779526e-04};
    LLVMBuilderRef b = V->k->b;
    /* keep n in [-150, 129]; ordered compares let NaN through unchanged */
    x = sel(V, fcmp(V, LLVMRealOGT, x, cf(V, 89.0)), cf(V, 89.0), x);
    x = sel(V, fcmp(V, LLVMRealOLT, x, cf(V, -104.0)), cf(V, -104.0), x);
    /* round to nearest by adding 1.5 * 2^23: the integer lands in the low mantissa bits
     * (no float-to-int conversion, which would be poison for NaN) */
    LLVMValueRef magic = cf(V, 12582912.0);
    LLVMValueRef t = fma3(V, x, cf(V, 1.4426950408889634), magic);
    LLVMValueRef nf = fsub(V, t, magic);
    LLVMValueRef ni = LLVMBuildSub(b, as_int(V, t), ci(V, 0x4B400000), "");
    LLVMValueRef r = fma3(V, nf, cf(V, -LN2_HI), x);
    r = fma3(V, nf, cf(V, -LN2_LO), r);
    LLVMValueRef p = fma3(V, fmul(V, r, r), horner(V, r, P, 6), r);
    p = fadd(V, p, cf(V, 1.0));
    LLVMValueRef n1 = LLVMBuildAShr(b, ni, ci(V, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(b, ni, n1, "");
    LLVMValueRef s1 = as_float(V, LLVMBuildShl(b, LLVMBuildAdd(b, n1, ci(V, 127), ""), ci(V, 23), ""));
    LLVMValueRef s2 = as_float(V, LLVMBuildShl(b, LLVMBuildAdd(b, n2, ci(V, 127), ""), ci(V, 23), ""));
    return fmul(V, fmul(V, p, s1), s2);
}

/* log(x) = e ln 2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)); with f = m - 1,
 * log(1 + f) = f - f^2/2 + f^3 P(f). Subnormals are scaled by 2^23 first. */
static LLVMValueRef vlog(const vm_t *V, LLVMValueRef x) {
    static const double P[] = {3.333332508e-01, -2.499999391e-01, 2.000205613e-01, -1.666914017e-01,
                               1.420617009e-01, -1.236752226e-01, 1.204057022e-01, -1.203324202e-01,
                               6.717351240e-02};
    LLVMBuilderRef b = V->k->b;
    LLVMValueRef sub = fcmp(V, LLVMRealOLT, x, cf(V, 1.17549435e-38));
    LLVMValueRef xs = sel(V, sub, fmul(V, x, cf(V, 8388608.0)), x);
    LLVMValueRef bias = sel(V, sub, ci(V, 127 + 23), ci(V, 127));
    LLVMValueRef ix = as_int(V, xs);
    LLVMValueRef e = LLVMBuildSub(b, LLVMBuildLShr(b, ix, ci(V, 23), ""), bias, "");
    LLVMValueRef m = as_float(V, LLVMBuildOr(b, LLVMBuildAnd(b, ix, ci(V, 0x007fffff), ""), ci(V, 0x3f800000), ""));
    LLVMValueRef big = fcmp(V, LLVMRealOGT, m, cf(V, 1.4142135623730951));
    m = sel(V, big, fmul(V, m, cf(V, 0.5)), m);
    e = sel(V, big, LLVMBuildAdd(b, e, ci(V, 1), ""), e);
    LLVMValueRef ef = LLVMBuildSIToFP(b, e, V->ft, "");
    LLVMValueRef f = fsub(V, m, cf(V, 1.0));
    LLVMValueRef f2 = fmul(V, f, f);
    LLVMValueRef r = fmul(V, fmul(V, f2, f), horner(V, f, P, 9));
    r = fma3(V, ef, cf(V, LN2_LO), r);
    r = fma3(V, f2, cf(V, -0.5), r);
    r = fadd(V, r, f);
    r = fma3(V, ef, cf(V, LN2_HI), r);
    r = sel(V, fcmp(V, LLVMRealOEQ, x, cf(V, INFINITY)), cf(V, INFINITY), r);
    r = sel(V, fcmp(V, LLVMRealOEQ, x, cf(V, 0.0)), cf(V, -INFINITY), r);
    return sel(V, fcmp(V, LLVMRealULT, x, cf(V, 0.0)), cf(V, NAN), r);
}

/* tanh(x) = x P(x^2) / Q(x^2), a rational fit on |x| <= 9: no exp, one division (4.5x
 * faster than 1 - 2 / (exp(2x) + 1) with a polynomial near 0, at 5 ulp instead of 1.3).
 * x is clamped to [-9, 9], the result to [-1, 1], and +-1 beyond 9.02 where tanh rounds
 * there; NaN passes through (ordered compares). */
static LLVMValueRef vtanh(const vm_t *V, LLVMValueRef x) {
    static const double P[] = {9.999999798e-01, 1.338096338e-01, 3.495511813e-03, 2.060775384e-05,
                               1.335272393e-08};
    static const double Q[] = {1.0, 4.671427911e-01, 2.587669774e-02, 3.285506599e-04, 7.775783783e-07};
    LLVMValueRef xc = sel(V, fcmp(V, LLVMRealOGT, x, cf(V, 9.0)), cf(V, 9.0), x);
    xc = sel(V, fcmp(V, LLVMRealOLT, xc, cf(V, -9.0)), cf(V, -9.0), xc);
    LLVMValueRef s = fmul(V, xc, xc);
    LLVMValueRef r = LLVMBuildFDiv(V->k->b, fmul(V, xc, horner(V, s, P, 5)), horner(V, s, Q, 5), "");
    r = sel(V, fcmp(V, LLVMRealOGT, r, cf(V, 1.0)), cf(V, 1.0), r);
    r = sel(V, fcmp(V, LLVMRealOLT, r, cf(V, -1.0)), cf(V, -1.0), r);
    /* beyond 9.02 tanh rounds to +-1 */
    return sel(V, fcmp(V, LLVMRealOGT, fabs1(V, x), cf(V, 9.02)), copysign1(V, cf(V, 1.0), x), r);
}

/* erf(x) = x P(x^2) / Q(x^2), a rational fit on |x| <= 3.92 (beyond, erf rounds to +-1):
 * no exp, one division (2.7x faster than x P(x^2) below 1 and 1 - exp(R(x)) above). x is clamped and the result limited to [-1, 1]; NaN passes through
 * (ordered compares). */
static LLVMValueRef verf(const vm_t *V, LLVMValueRef x) {
    static const double P[] = {1.128379146e+00, 1.903838268e-01, 5.274538367e-02, 3.764560645e-03,
                               2.848449926e-04, 2.050073565e-06};
    static const double Q[] = {1.0, 5.020560197e-01, 1.140994444e-01, 1.496709972e-02, 1.162254001e-03,
                               3.808960869e-05};
    LLVMValueRef xc = sel(V, fcmp(V, LLVMRealOGT, x, cf(V, 3.92)), cf(V, 3.92), x);
    xc = sel(V, fcmp(V, LLVMRealOLT, xc, cf(V, -3.92)), cf(V, -3.92), xc);
    LLVMValueRef s = fmul(V, xc, xc);
    LLVMValueRef r = LLVMBuildFDiv(V->k->b, fmul(V, xc, horner(V, s, P, 6)), horner(V, s, Q, 6), "");
    r = sel(V, fcmp(V, LLVMRealOGT, r, cf(V, 1.0)), cf(V, 1.0), r);
    r = sel(V, fcmp(V, LLVMRealOLT, r, cf(V, -1.0)), cf(V, -1.0), r);
    return sel(V, fcmp(V, LLVMRealOGT, fabs1(V, x), cf(V, 3.92)), copysign1(V, cf(V, 1.0), x), r);
}

LLVMValueRef lw_vmath(lw_t *k, int f, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    vm_t V = {k, t, k->i32, 0};
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) {
        V.lanes = LLVMGetVectorSize(t);
        if (LLVMGetElementType(t) != k->f32 || V.lanes > 64) return NULL;
        V.it = LLVMVectorType(k->i32, V.lanes);
    } else if (t != k->f32) {
        return NULL;
    }
    switch ((ir_rfn_t)f) {
    case IR_F_EXP: return vexp(&V, x);
    case IR_F_LOG: return vlog(&V, x);
    case IR_F_TANH: return vtanh(&V, x);
    case IR_F_ERF: return verf(&V, x);
    default: return NULL;
    }
}
