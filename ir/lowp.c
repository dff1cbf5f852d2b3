/* Low-precision dtype conversions and packing (see ir/lowp.h). */
#include "ir/lowp.h"

#include <math.h>
#include <string.h>

int ir_round_parse(const char *s, ir_round_t *out) {
    if (!s || !strcmp(s, "up")) *out = IR_ROUND_UP;
    else if (!strcmp(s, "down")) *out = IR_ROUND_DOWN;
    else if (!strcmp(s, "nearest")) *out = IR_ROUND_NEAREST;
    else return -1;
    return 0;
}

bool ir_lowp_fmt(ir_dtype_t t, ir_lowp_fmt_t *f) {
    switch (t) {
    /* e4m3fn: no infinity, NaN is S.1111.111, so the largest finite is 0x7E (448) */
    case IR_F8E4M3FN: *f = (ir_lowp_fmt_t){3, -6, 0x7E, 0x80, 0x7F, 0x7F, false, false}; return true;
    case IR_F8E4M3FNUZ: *f = (ir_lowp_fmt_t){3, -7, 0x7F, 0x80, 0x80, 0x80, true, false}; return true;
    /* e5m2: IEEE-like, infinity 0x7C, the reference's NaN 0x7E */
    case IR_F8E5M2: *f = (ir_lowp_fmt_t){2, -14, 0x7B, 0x80, 0x7E, 0x7C, false, false}; return true;
    case IR_F8E5M2FNUZ: *f = (ir_lowp_fmt_t){2, -15, 0x7F, 0x80, 0x80, 0x80, true, false}; return true;
    /* e2m1: no NaN or infinity; overflow saturates; ml_dtypes turns NaN into a zero of
     * the opposite sign (+NaN -> 0x8, -NaN -> 0x0), which the reference outputs carry */
    case IR_F4E2M1: *f = (ir_lowp_fmt_t){1, 0, 0x7, 0x8, 0x0, 0x7, false, true}; return true;
    default: return false;
    }
}

int ir_dtype_file_bits(ir_dtype_t t) {
    switch (t) {
    case IR_U4: case IR_I4: case IR_F4E2M1: return 4;
    case IR_U2: case IR_I2: return 2;
    default: return 8 * (int)ir_dtype_size(t);
    }
}

size_t ir_dtype_file_bytes(ir_dtype_t t, size_t n) {
    int bits = ir_dtype_file_bits(t);
    if (bits >= 8) return n > SIZE_MAX / (size_t)(bits / 8) ? 0 : n * (size_t)(bits / 8);
    size_t per = (size_t)(8 / bits);
    return n / per + (n % per != 0);
}

void ir_lowp_unpack(ir_dtype_t t, uint8_t *dst, const uint8_t *src, size_t n) {
    int bits = ir_dtype_file_bits(t);
    if (bits >= 8) {
        memcpy(dst, src, n * (size_t)(bits / 8));
        return;
    }
    int per = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)((src[i / (size_t)per] >> (bits * (int)(i % (size_t)per))) & mask);
}

void ir_lowp_pack(ir_dtype_t t, uint8_t *dst, const uint8_t *src, size_t n) {
    int bits = ir_dtype_file_bits(t);
    if (bits >= 8) {
        memcpy(dst, src, n * (size_t)(bits / 8));
        return;
    }
    int per = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    memset(dst, 0, ir_dtype_file_bytes(t, n));
    for (size_t i = 0; i < n; i++)
        dst[i / (size_t)per] |= (uint8_t)((src[i] & mask) << (bits * (int)(i % (size_t)per)));
}

float ir_lowp_to_f32(ir_dtype_t t, uint8_t code) {
    ir_lowp_fmt_t f;
    switch (t) {
    case IR_I4: case IR_I2: {   /* two's complement in the low bits */
        int bits = ir_dtype_file_bits(t);
        int v = code & ((1 << bits) - 1);
        return (float)(v >= 1 << (bits - 1) ? v - (1 << bits) : v);
    }
    case IR_U4: case IR_U2: return (float)code;
    case IR_F8E8M0: return code == 0xFF ? NAN : ldexpf(1.0f, (int)code - 127);
    default: break;
    }
    if (!ir_lowp_fmt(t, &f)) return NAN;
    if (f.fnuz && code == 0x80) return NAN;
    bool neg = code & f.signbit;
    unsigned mag = code & (unsigned)(f.signbit - 1);
    if (t == IR_F8E4M3FN && mag == 0x7F) return NAN;
    if (t == IR_F8E5M2 && mag >= 0x7C) return mag == 0x7C ? (neg ? -INFINITY : INFINITY) : NAN;
    unsigned ef = mag >> f.mbits, m = mag & ((1u << f.mbits) - 1);
    float v = ef == 0 ? ldexpf((float)m, f.emin - f.mbits)
                      : ldexpf((float)(m | (1u << f.mbits)), (int)ef - 1 + f.emin - f.mbits);
    return neg ? -v : v;
}

static uint8_t to_e8m0(float x, bool saturate, ir_round_t mode) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    unsigned e = (bits >> 23) & 0xFF;
    if (e == 0xFF) return 0xFF;
    bool up = false;
    if (mode == IR_ROUND_UP)
        up = (bits & 0x7FFFFF) != 0;
    else if (mode == IR_ROUND_NEAREST)   /* guard bit, and round, sticky or a non-zero exponent */
        up = (bits & 0x400000) && ((bits & 0x3FFFFF) || e > 0);
    if (up && !(saturate && e == 0xFE)) e++;
    return (uint8_t)e;
}

uint8_t ir_lowp_from_i64(ir_dtype_t t, int64_t v) {
    int bits = ir_dtype_file_bits(t);
    return (uint8_t)((uint64_t)v & ((1ull << bits) - 1));
}

/* Truncates toward zero and keeps the low bits. */
static uint8_t to_small_int(ir_dtype_t t, float x) {
    return ir_lowp_from_i64(t, isfinite(x) && fabsf(x) < 9.2e18f ? (int64_t)x : 0);
}

uint8_t ir_lowp_from_f32(ir_dtype_t t, float x, bool saturate, ir_round_t mode) {
    if (t == IR_F8E8M0) return to_e8m0(x, saturate, mode);
    if (t == IR_I4 || t == IR_U4 || t == IR_I2 || t == IR_U2) return to_small_int(t, x);
    ir_lowp_fmt_t f;
    if (!ir_lowp_fmt(t, &f)) return 0;
    uint32_t bits;
    memcpy(&bits, &x, 4);
    uint8_t sign = (bits >> 31) ? f.signbit : 0;
    if (isnan(x)) return f.fnuz ? f.nan : (uint8_t)(f.nan | (f.nan_sign_flipped ? sign ^ f.signbit : sign));
    if (t == IR_F4E2M1) saturate = true;
    /* The exponent of |x| (at least emin) sets the step 2^(e - mbits) between
     * representable neighbours; q = |x| / step rounded to nearest even is then the
     * mantissa with its implicit bit, and ((e - emin) << mbits) + q the magnitude code,
     * a carry into the next binade included. Scaling by powers of two is exact. */
    int e = (int)((bits >> 23) & 0xFF) - 127;
    if (e < f.emin) e = f.emin;
    float a = fabsf(x);
    float q = isinf(a) ? INFINITY : nearbyintf(ldexpf(a, f.mbits - e));
    int64_t mag = isinf(q) ? INT64_MAX : ((int64_t)(e - f.emin) << f.mbits) + (int64_t)q;
    if (mag > f.maxcode) {
        if (saturate) return (uint8_t)(sign | f.maxcode);
        return f.fnuz ? f.ovf : (uint8_t)(sign | f.ovf);
    }
    if (mag == 0 && f.fnuz) return 0;
    return (uint8_t)(sign | (uint8_t)mag);
}

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, m = x & 0x7fffff;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
    int32_t ne = (int32_t)e - 127 + 15;
    if (ne >= 31) return (uint16_t)(sign | 0x7c00);
    if (ne <= 0) {
        if (ne < -10) return (uint16_t)sign;
        m |= 0x800000;
        uint32_t shift = (uint32_t)(14 - ne);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)ne << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

size_t ir_float_scalar_bytes(ir_dtype_t *t, double x, unsigned char buf[8]) {
    float f = (float)x;
    switch (*t) {
    case IR_F64: memcpy(buf, &x, 8); return 8;
    case IR_F16: { uint16_t h = f32_to_f16(f); memcpy(buf, &h, 2); return 2; }
    case IR_BF16: {
        uint32_t u;
        memcpy(&u, &f, 4);
        uint16_t h = isnan(f) ? 0x7fc0 : (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        memcpy(buf, &h, 2);
        return 2;
    }
    default: *t = IR_F32; memcpy(buf, &f, 4); return 4;
    }
}
