/* ir/lowp.c against the reference: every code decoded as ml_dtypes does, and encodings of
 * representable values, midpoints (ties go to even), one ulp either side of them,
 * overflow, infinities and NaNs as onnx's reference Cast does them, with and without
 * saturation and in each e8m0 rounding mode (tables from tests/ir/gen_lowp.py). Also the
 * packing of the sub-byte kinds, odd counts included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "ir/lowp.h"
#include "tests/ir/lowp_ref.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static float f_of(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static void check_decode(ir_dtype_t t, const uint32_t *want, size_t n) {
    for (size_t c = 0; c < n; c++) {
        float got = ir_lowp_to_f32(t, (uint8_t)c), w = f_of(want[c]);
        if (isnan(w)) {
            if (!isnan(got)) fail_msg("%s code 0x%02zx: got %g, want NaN", ir_dtype_name(t), c, (double)got);
        } else if (memcmp(&got, &w, 4)) {
            fail_msg("%s code 0x%02zx: got %g, want %g", ir_dtype_name(t), c, (double)got, (double)w);
        }
    }
}

static void check_encode(ir_dtype_t t, const uint32_t *x, const uint8_t *want, size_t n, bool sat, ir_round_t mode) {
    for (size_t i = 0; i < n; i++) {
        uint8_t got = ir_lowp_from_f32(t, f_of(x[i]), sat, mode);
        if (got != want[i])
            fail_msg("%s saturate=%d mode=%d x=%.9g (0x%08x): got 0x%02x, want 0x%02x", ir_dtype_name(t), sat,
                     (int)mode, (double)f_of(x[i]), x[i], got, want[i]);
    }
}

static void test_float8(void **state) {
    (void)state;
    check_decode(IR_F8E4M3FN, dec_F8E4M3FN, N(dec_F8E4M3FN));
    check_decode(IR_F8E4M3FNUZ, dec_F8E4M3FNUZ, N(dec_F8E4M3FNUZ));
    check_decode(IR_F8E5M2, dec_F8E5M2, N(dec_F8E5M2));
    check_decode(IR_F8E5M2FNUZ, dec_F8E5M2FNUZ, N(dec_F8E5M2FNUZ));
    check_encode(IR_F8E4M3FN, x_F8E4M3FN, y_F8E4M3FN_1, N(x_F8E4M3FN), true, IR_ROUND_UP);
    check_encode(IR_F8E4M3FN, x_F8E4M3FN, y_F8E4M3FN_0, N(x_F8E4M3FN), false, IR_ROUND_UP);
    check_encode(IR_F8E4M3FNUZ, x_F8E4M3FNUZ, y_F8E4M3FNUZ_1, N(x_F8E4M3FNUZ), true, IR_ROUND_UP);
    check_encode(IR_F8E4M3FNUZ, x_F8E4M3FNUZ, y_F8E4M3FNUZ_0, N(x_F8E4M3FNUZ), false, IR_ROUND_UP);
    check_encode(IR_F8E5M2, x_F8E5M2, y_F8E5M2_1, N(x_F8E5M2), true, IR_ROUND_UP);
    check_encode(IR_F8E5M2, x_F8E5M2, y_F8E5M2_0, N(x_F8E5M2), false, IR_ROUND_UP);
    check_encode(IR_F8E5M2FNUZ, x_F8E5M2FNUZ, y_F8E5M2FNUZ_1, N(x_F8E5M2FNUZ), true, IR_ROUND_UP);
    check_encode(IR_F8E5M2FNUZ, x_F8E5M2FNUZ, y_F8E5M2FNUZ_0, N(x_F8E5M2FNUZ), false, IR_ROUND_UP);
}

static void test_float4_e8m0(void **state) {
    (void)state;
    check_decode(IR_F4E2M1, dec_F4E2M1, N(dec_F4E2M1));
    check_encode(IR_F4E2M1, x_F4E2M1, y_F4E2M1_1, N(x_F4E2M1), true, IR_ROUND_UP);
    check_encode(IR_F4E2M1, x_F4E2M1, y_F4E2M1_0, N(x_F4E2M1), false, IR_ROUND_UP);
    check_decode(IR_F8E8M0, dec_F8E8M0, N(dec_F8E8M0));
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_up_1, N(x_F8E8M0), true, IR_ROUND_UP);
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_up_0, N(x_F8E8M0), false, IR_ROUND_UP);
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_down_1, N(x_F8E8M0), true, IR_ROUND_DOWN);
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_down_0, N(x_F8E8M0), false, IR_ROUND_DOWN);
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_nearest_1, N(x_F8E8M0), true, IR_ROUND_NEAREST);
    check_encode(IR_F8E8M0, x_F8E8M0, y_F8E8M0_nearest_0, N(x_F8E8M0), false, IR_ROUND_NEAREST);
}

static void test_small_ints(void **state) {
    (void)state;
    check_encode(IR_I4, x_INT, y_I4, N(x_INT), false, IR_ROUND_UP);
    check_encode(IR_U4, x_INT, y_U4, N(x_INT), false, IR_ROUND_UP);
    check_encode(IR_I2, x_INT, y_I2, N(x_INT), false, IR_ROUND_UP);
    check_encode(IR_U2, x_INT, y_U2, N(x_INT), false, IR_ROUND_UP);
    assert_true(ir_lowp_to_f32(IR_I4, 0x08) == -8.0f);
    assert_true(ir_lowp_to_f32(IR_I4, 0x0E) == -2.0f);
    assert_true(ir_lowp_to_f32(IR_I2, 0x02) == -2.0f);
    assert_true(ir_lowp_to_f32(IR_I2, 0x01) == 1.0f);
    assert_true(ir_lowp_to_f32(IR_U4, 0x0F) == 15.0f);
}

/* Packing: low bits first; odd counts leave the last byte's high bits zero; unpack
 * leaves each code in the low bits of its byte; the two are inverse. */
static void test_packing(void **state) {
    (void)state;
    assert_int_equal(ir_dtype_file_bytes(IR_I4, 0), 0);
    assert_int_equal(ir_dtype_file_bytes(IR_I4, 3), 2);
    assert_int_equal(ir_dtype_file_bytes(IR_U2, 5), 2);
    assert_int_equal(ir_dtype_file_bytes(IR_F8E5M2, 5), 5);
    assert_int_equal(ir_dtype_file_bytes(IR_F32, 5), 20);
    /* as onnx.helper.make_tensor stores INT4 [1, -2, 7]: int32_data 225, 7 */
    const uint8_t i4[2] = {225, 7};
    uint8_t u[3], p[2];
    ir_lowp_unpack(IR_I4, u, i4, 3);
    assert_int_equal(u[0], 1);
    assert_int_equal(u[1], 0x0E);   /* -2 */
    assert_int_equal(u[2], 7);
    ir_lowp_pack(IR_I4, p, u, 3);
    assert_memory_equal(p, i4, 2);
    /* INT2 [1, -2, 1, 0, -1]: int32_data 25, 3 */
    const uint8_t i2[2] = {25, 3};
    uint8_t u2[5];
    ir_lowp_unpack(IR_I2, u2, i2, 5);
    const uint8_t want2[5] = {1, 2, 1, 0, 3};   /* 1, -2, 1, 0, -1 */
    for (int i = 0; i < 5; i++) assert_int_equal(u2[i], want2[i]);
    ir_lowp_pack(IR_I2, p, u2, 5);
    assert_memory_equal(p, i2, 2);
    for (int n = 0; n < 40; n++) {
        uint8_t src[20], mid[40], back[20];
        for (int i = 0; i < 20; i++) src[i] = (uint8_t)(i * 37 + 11);
        size_t nb = ir_dtype_file_bytes(IR_U2, (size_t)n);
        if (n % 4) src[nb - 1] &= (uint8_t)((1u << (2 * (n % 4))) - 1);   /* padding bits are zero */
        ir_lowp_unpack(IR_U2, mid, src, (size_t)n);
        for (int i = 0; i < n; i++) assert_true(mid[i] < 4);
        ir_lowp_pack(IR_U2, back, mid, (size_t)n);
        assert_memory_equal(back, src, nb);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float8),
        cmocka_unit_test(test_float4_e8m0),
        cmocka_unit_test(test_small_ints),
        cmocka_unit_test(test_packing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
