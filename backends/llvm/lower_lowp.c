/* Conversions between the low-precision dtypes (one byte per element, ir/lowp.h) and the
 * others, emitted as scalar IR: decoding is a load from a 256-entry float table built by
 * ir_lowp_to_f32; encoding emits the algorithm of ir_lowp_from_f32 (the same steps, so
 * tests/ir/test_lowp.c's reference tables vouch for both). */
#include <math.h>
#include <stdio.h>

#include "backends/llvm/lower_int.h"
#include "ir/lowp.h"

static bool small_int(ir_dtype_t t) { return t == IR_I4 || t == IR_U4 || t == IR_I2 || t == IR_U2; }

/* The int8/uint8 a small integer kind is stored as. */
static ir_dtype_t small_alias(ir_dtype_t t) { return t == IR_I4 || t == IR_I2 ? IR_I8 : IR_U8; }

static LLVMValueRef decode(lw_t *k, LLVMValueRef code, ir_dtype_t t) {
    char name[48];
    snprintf(name, sizeof name, "onnxc.lowp.%s", ir_dtype_name(t));
    LLVMTypeRef at = LLVMArrayType2(k->f32, 256);
    LLVMValueRef g = LLVMGetNamedGlobal(k->m, name);
    if (!g) {
        LLVMValueRef vals[256];
        for (int c = 0; c < 256; c++) vals[c] = LLVMConstReal(k->f32, (double)ir_lowp_to_f32(t, (uint8_t)c));
        g = LLVMAddGlobal(k->m, at, name);
        LLVMSetInitializer(g, LLVMConstArray2(k->f32, vals, 256));
        LLVMSetGlobalConstant(g, 1);
        LLVMSetLinkage(g, LLVMPrivateLinkage);
        LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    }
    LLVMValueRef idx[2] = {lw_i64(k, 0), LLVMBuildZExt(k->b, code, k->i64, "")};
    return LLVMBuildLoad2(k->b, k->f32, LLVMBuildInBoundsGEP2(k->b, at, g, idx, 2, ""), "");
}

static LLVMValueRef c32(lw_t *k, int64_t v) { return LLVMConstInt(k->i32, (unsigned long long)v, 0); }

static LLVMValueRef sel(lw_t *k, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, c, a, b, "");
}

/* float32 to a small float format (ir_lowp_from_f32's steps). */
static LLVMValueRef encode_float(lw_t *k, LLVMValueRef x, ir_dtype_t t, bool saturate) {
    LLVMBuilderRef b = k->b;
    ir_lowp_fmt_t f;
    ir_lowp_fmt(t, &f);
    if (t == IR_F4E2M1) saturate = true;
    LLVMValueRef bits = LLVMBuildBitCast(b, x, k->i32, "");
    LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, bits, c32(k, 0), "");
    LLVMValueRef sign = sel(k, neg, c32(k, f.signbit), c32(k, 0));
    LLVMValueRef e = LLVMBuildSub(b, LLVMBuildAnd(b, LLVMBuildLShr(b, bits, c32(k, 23), ""), c32(k, 0xFF), ""),
                                  c32(k, 127), "");
    e = sel(k, LLVMBuildICmp(b, LLVMIntSLT, e, c32(k, f.emin), ""), c32(k, f.emin), e);
    /* 2^(mbits - e) as float bits: exact scaling of |x| onto the mantissa grid */
    LLVMValueRef sbits = LLVMBuildShl(b, LLVMBuildSub(b, c32(k, f.mbits + 127), e, ""), c32(k, 23), "");
    LLVMValueRef a = lw_intrin(k, "llvm.fabs", k->f32, &x, 1);
    LLVMValueRef s = LLVMBuildFMul(b, a, LLVMBuildBitCast(b, sbits, k->f32, ""), "");
    LLVMValueRef q = lw_intrin(k, "llvm.roundeven", k->f32, &s, 1);
    LLVMValueRef mm[2] = {q, LLVMConstReal(k->f32, (double)(2 << f.mbits))};
    q = lw_intrin(k, "llvm.minnum", k->f32, mm, 2);   /* infinity: still an overflow below */
    LLVMValueRef mag = LLVMBuildAdd(b, LLVMBuildShl(b, LLVMBuildSub(b, e, c32(k, f.emin), ""), c32(k, f.mbits), ""),
                                    LLVMBuildFPToUI(b, q, k->i32, ""), "");
    LLVMValueRef r = LLVMBuildOr(b, sign, mag, "");
    if (f.fnuz) r = sel(k, LLVMBuildICmp(b, LLVMIntEQ, mag, c32(k, 0), ""), c32(k, 0), r);
    LLVMValueRef ovf = saturate ? LLVMBuildOr(b, sign, c32(k, f.maxcode), "")
                       : f.fnuz ? c32(k, f.ovf) : LLVMBuildOr(b, sign, c32(k, f.ovf), "");
    r = sel(k, LLVMBuildICmp(b, LLVMIntUGT, mag, c32(k, f.maxcode), ""), ovf, r);
    LLVMValueRef nan = f.fnuz ? c32(k, f.nan)
                       : LLVMBuildOr(b, c32(k, f.nan), f.nan_sign_flipped ? LLVMBuildXor(b, sign, c32(k, f.signbit), "") : sign, "");
    r = sel(k, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), nan, r);
    return LLVMBuildTrunc(b, r, k->i8, "");
}

/* float32 to float8e8m0: the exponent field, rounded by mode; NaN and infinity to 0xFF. */
static LLVMValueRef encode_e8m0(lw_t *k, LLVMValueRef x, bool saturate, ir_round_t mode) {
    LLVMBuilderRef b = k->b;
    LLVMValueRef bits = LLVMBuildBitCast(b, x, k->i32, "");
    LLVMValueRef e = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, c32(k, 23), ""), c32(k, 0xFF), "");
    LLVMValueRef up = NULL;
    if (mode == IR_ROUND_UP) {
        up = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, bits, c32(k, 0x7FFFFF), ""), c32(k, 0), "");
    } else if (mode == IR_ROUND_NEAREST) {
        LLVMValueRef g = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, bits, c32(k, 0x400000), ""), c32(k, 0), "");
        LLVMValueRef rs = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, bits, c32(k, 0x3FFFFF), ""), c32(k, 0), "");
        up = LLVMBuildAnd(b, g, LLVMBuildOr(b, rs, LLVMBuildICmp(b, LLVMIntUGT, e, c32(k, 0), ""), ""), "");
    }
    LLVMValueRef r = e;
    if (up) {
        if (saturate) up = LLVMBuildAnd(b, up, LLVMBuildICmp(b, LLVMIntNE, e, c32(k, 0xFE), ""), "");
        r = LLVMBuildAdd(b, e, LLVMBuildZExt(b, up, k->i32, ""), "");
        r = sel(k, LLVMBuildICmp(b, LLVMIntEQ, e, c32(k, 0xFF), ""), c32(k, 0xFF), r);
    }
    return LLVMBuildTrunc(b, r, k->i8, "");
}

/* An i64 to a small integer kind: its low bits. */
static LLVMValueRef wrap_small(lw_t *k, LLVMValueRef v, ir_dtype_t t) {
    v = LLVMBuildAnd(k->b, v, lw_i64(k, (1 << ir_dtype_file_bits(t)) - 1), "");
    return LLVMBuildTrunc(k->b, v, k->i8, "");
}

/* A small integer kind's byte as the int8/uint8 of the same value (int4/int2: the low
 * bits sign-extended). */
static LLVMValueRef widen_small(lw_t *k, LLVMValueRef x, ir_dtype_t t) {
    int bits = ir_dtype_file_bits(t);
    LLVMValueRef sh = LLVMConstInt(k->i8, (unsigned long long)(8 - bits), 0);
    if (t == IR_I4 || t == IR_I2) return LLVMBuildAShr(k->b, LLVMBuildShl(k->b, x, sh, ""), sh, "");
    return LLVMBuildAnd(k->b, x, LLVMConstInt(k->i8, (1u << bits) - 1, 0), "");
}

/* float32 to a small integer kind: truncated toward zero (NaN, infinities and values
 * past int64 give 0), then wrapped. */
static LLVMValueRef encode_small(lw_t *k, LLVMValueRef x, ir_dtype_t t) {
    LLVMValueRef a = lw_intrin(k, "llvm.fabs", k->f32, &x, 1);
    LLVMValueRef ok = LLVMBuildFCmp(k->b, LLVMRealOLT, a, LLVMConstReal(k->f32, 9.2e18), "");
    x = sel(k, ok, x, LLVMConstReal(k->f32, 0));
    return wrap_small(k, LLVMBuildFPToSI(k->b, x, k->i64, ""), t);
}

/* A decoded float8/float4/e8m0 value to an integer type as ml_dtypes converts it (the
 * reference's outputs): finite values truncate toward zero and wrap, infinities saturate,
 * NaN gives 0. Plain float32 keeps lw_cast's conversion. */
static LLVMValueRef float_to_int(lw_t *k, LLVMValueRef f, ir_dtype_t to) {
    LLVMTypeRef tt = lw_type(k, to);
    unsigned w = LLVMGetIntTypeWidth(tt);
    bool sgn = ir_dtype_is_signed(to);
    LLVMValueRef a = lw_intrin(k, "llvm.fabs", k->f32, &f, 1);
    LLVMValueRef fin = LLVMBuildFCmp(k->b, LLVMRealOLT, a, LLVMConstReal(k->f32, 9.2e18), "");
    LLVMValueRef v = LLVMBuildFPToSI(k->b, sel(k, fin, f, LLVMConstReal(k->f32, 0)), k->i64, "");
    if (w < 64) v = LLVMBuildTrunc(k->b, v, tt, "");
    unsigned long long maxv = sgn ? (1ull << (w - 1)) - 1 : (w == 64 ? ~0ull : (1ull << w) - 1);
    unsigned long long minv = sgn ? 1ull << (w - 1) : 0;
    LLVMValueRef inf = LLVMBuildFCmp(k->b, LLVMRealOEQ, a, LLVMConstReal(k->f32, INFINITY), "");
    LLVMValueRef neg = LLVMBuildFCmp(k->b, LLVMRealOLT, f, LLVMConstReal(k->f32, 0), "");
    LLVMValueRef sat = sel(k, neg, LLVMConstInt(tt, minv, 0), LLVMConstInt(tt, maxv, 0));
    return sel(k, inf, sat, v);
}

LLVMValueRef lw_cast_lowp(lw_t *k, LLVMValueRef x, ir_dtype_t from, ir_dtype_t to, bool saturate, int round_mode) {
    ir_round_t mode = (ir_round_t)round_mode;
    if (from == to) return x;
    if (small_int(from)) {
        x = widen_small(k, x, from);
        from = small_alias(from);
        if (!ir_dtype_is_lowp(to)) return lw_cast(k, x, from, to);
    }
    if (small_int(to) && !ir_dtype_is_lowp(from) && !ir_dtype_is_float(from)) {
        LLVMValueRef v = LLVMTypeOf(x) == k->i64 ? x
                         : from == IR_BOOL || !ir_dtype_is_signed(from) ? LLVMBuildZExt(k->b, x, k->i64, "")
                                                                        : LLVMBuildSExt(k->b, x, k->i64, "");
        return wrap_small(k, v, to);
    }
    LLVMValueRef f = ir_dtype_is_lowp(from) ? decode(k, x, from) : lw_cast(k, x, from, IR_F32);
    if (ir_dtype_is_lowp(from) && ir_dtype_is_int(to)) return float_to_int(k, f, to);
    if (!ir_dtype_is_lowp(to)) return lw_cast(k, f, IR_F32, to);
    if (small_int(to)) return encode_small(k, f, to);
    if (to == IR_F8E8M0) return encode_e8m0(k, f, saturate, mode);
    return encode_float(k, f, to, saturate);
}
