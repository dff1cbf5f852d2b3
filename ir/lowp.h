/* Low-precision dtypes: float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), float8e8m0, float4e2m1,
 * int4/uint4, int2/uint2. Scalar conversions to and from float32 as the ONNX reference
 * (ml_dtypes) does them, and the packing of the sub-byte kinds in TensorProto data and
 * tensor files. The LLVM backend emits the same algorithms (backends/llvm/lower_lowp.c);
 * tests/ir/test_lowp.c checks both against tables the reference wrote. */
#ifndef ONNXC_IR_LOWP_H
#define ONNXC_IR_LOWP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Cast's round_mode for float8e8m0. */
typedef enum ir_round { IR_ROUND_UP = 0, IR_ROUND_DOWN = 1, IR_ROUND_NEAREST = 2 } ir_round_t;
int ir_round_parse(const char *s, ir_round_t *out);   /* 0, or -1 for an unknown mode */

/* A small float format with sign: mbits mantissa bits, smallest normal exponent emin
 * (1 - bias), the largest finite magnitude code, the sign bit, the code a NaN gets
 * (or'ed with the sign unless fnuz), the code an overflow gets without saturation
 * (likewise), and fnuz (no negative zero, NaN is the lone code 0x80). */
typedef struct ir_lowp_fmt {
    int mbits, emin;
    uint8_t maxcode, signbit, nan, ovf;
    bool fnuz, nan_sign_flipped;
} ir_lowp_fmt_t;
/* false for the kinds that are not such a format (integers, e8m0, non-lowp) */
bool ir_lowp_fmt(ir_dtype_t t, ir_lowp_fmt_t *f);
/* x as a scalar of float dtype *t (float64, float16, bfloat16; anything else becomes
 * float32, written back to *t), rounded to nearest even, into buf; returns its size. */
size_t ir_float_scalar_bytes(ir_dtype_t *t, double x, unsigned char buf[8]);

/* Bits an element takes in TensorProto data and tensor files: 4 for int4/uint4/float4e2m1,
 * 2 for int2/uint2, 8 * ir_dtype_size otherwise (0 if unknown). */
int ir_dtype_file_bits(ir_dtype_t t);
/* Bytes n elements take there: ceil(n * bits / 8); 0 on overflow of n > SIZE_MAX / 8. */
size_t ir_dtype_file_bytes(ir_dtype_t t, size_t n);
/* Packed (file) form <-> one byte per element (low bits first; unpacked, an element's
 * code is in the low bits of its byte, the others zero). src of unpack holds
 * ir_dtype_file_bytes(t, n) bytes. For kinds of 8 bits and more these copy. */
void ir_lowp_unpack(ir_dtype_t t, uint8_t *dst, const uint8_t *src, size_t n);
void ir_lowp_pack(ir_dtype_t t, uint8_t *dst, const uint8_t *src, size_t n);

/* The value of one element (its byte in the IR form). */
float ir_lowp_to_f32(ir_dtype_t t, uint8_t code);
/* float32 to the IR byte. Float formats round to nearest even; saturate clamps finite
 * overflow and infinities to the largest finite value (float4e2m1 always saturates);
 * e8m0 rounds by mode and ignores the sign; integers truncate toward zero and wrap. */
uint8_t ir_lowp_from_f32(ir_dtype_t t, float x, bool saturate, ir_round_t mode);
/* An integer to int4/uint4/int2/uint2: the low bits (wrapping, as a C cast would). */
uint8_t ir_lowp_from_i64(ir_dtype_t t, int64_t v);

#endif
