/* The shape-expression simplifier (ir/sym.c): equalities it must prove, forms it must
 * keep canonical, overflow it must catch, and evaluation against plain integer math. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir/infer_util.h"
#include "fixture.h"

static int N, H, W;

static int setup_syms(void **st) {
    if (setup(st)) return -1;
    N = ir_graph_add_sym(G, "N");
    H = ir_graph_add_sym(G, "H");
    W = ir_graph_add_sym(G, "W");
    return 0;
}

static ir_dim_t add(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_add(G, a, b, &o), 0); return o; }
static ir_dim_t sub(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_sub(G, a, b, &o), 0); return o; }
static ir_dim_t mul(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_mul(G, a, b, &o), 0); return o; }
static ir_dim_t fdiv(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_floordiv(G, a, b, &o), 0); return o; }
static ir_dim_t cdiv(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_ceildiv(G, a, b, &o), 0); return o; }
static ir_dim_t mod(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_mod(G, a, b, &o), 0); return o; }
static ir_dim_t dmin(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_min(G, a, b, &o), 0); return o; }
static ir_dim_t dmax(ir_dim_t a, ir_dim_t b) { ir_dim_t o; assert_int_equal(ir_dim_max(G, a, b, &o), 0); return o; }

static void same(ir_dim_t a, ir_dim_t b) {
    if (!ir_dim_eq(a, b)) {
        char x[256], y[256];
        ir_dim_str(G, a, x, sizeof x);
        ir_dim_str(G, b, y, sizeof y);
        fail_msg("%s and %s should be the same dim", x, y);
    }
}

static void text(ir_dim_t d, const char *want) {
    char buf[256];
    ir_dim_str(G, d, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void test_polynomial_identities(void **st) {
    (void)st;
    ir_dim_t n = SY(1, N), h = SY(1, H), w = SY(1, W);
    /* commutativity, associativity, distributivity */
    same(add(n, h), add(h, n));
    same(mul(n, h), mul(h, n));
    same(add(add(n, h), w), add(n, add(h, w)));
    same(mul(mul(n, h), w), mul(n, mul(h, w)));
    same(mul(n, add(h, C(2))), add(mul(n, h), mul(n, C(2))));
    same(mul(add(n, C(1)), add(n, C(1))), add(add(mul(n, n), mul(n, C(2))), C(1)));
    /* cancellation back to constants and to plain symbols */
    same(sub(add(n, h), h), n);
    same(sub(mul(n, h), mul(h, n)), C(0));
    same(add(sub(n, C(3)), C(3)), n);
    /* content comes out as the coefficient: 2N + 4 is 2*(N + 2) */
    ir_dim_t d = add(mul(C(2), n), C(4));
    assert_int_equal(d.v, 2);
    same(d, mul(C(2), add(n, C(2))));
    text(d, "2*(N + 2)");
    text(mul(n, h), "N*H");
    text(sub(n, C(1)), "N - 1");
    /* exact division by a monomial (Reshape's -1) */
    ir_dim_t q;
    assert_int_equal(ir_dim_div_exact(G, mul(mul(n, h), C(12)), mul(h, C(4)), &q), 0);
    same(q, mul(n, C(3)));
    assert_int_equal(ir_dim_div_exact(G, add(n, C(1)), n, &q), -1);
}

static void test_division_and_friends(void **st) {
    (void)st;
    ir_dim_t n = SY(1, N), h = SY(1, H);
    same(fdiv(mul(n, C(4)), C(2)), mul(n, C(2)));
    same(fdiv(n, C(1)), n);
    same(fdiv(C(-7), C(2)), C(-4));            /* floor, not truncation */
    same(mod(C(-7), C(2)), C(1));
    same(mod(mul(n, C(6)), C(3)), C(0));
    /* (4H + 6) // 4 keeps the common factor out: (2H + 3) // 2 */
    same(fdiv(add(mul(h, C(4)), C(6)), C(4)), fdiv(add(mul(h, C(2)), C(3)), C(2)));
    /* the same expression built twice is the same symbol */
    same(fdiv(add(h, C(1)), C(2)), fdiv(add(C(1), h), C(2)));
    /* conv output size: (H + 2*1 - 3) // 2 + 1 */
    ir_dim_t conv = add(fdiv(sub(add(h, C(2)), C(3)), C(2)), C(1));
    text(conv, "(H - 1) // 2 + 1");
    same(cdiv(h, C(2)), fdiv(add(h, C(1)), C(2)));
    /* min/max decide what is provable: H >= 1, so max(H, 0) = H, min(H + 1, H) = H */
    same(dmax(h, C(0)), h);
    same(dmin(add(h, C(1)), h), h);
    same(dmin(n, h), dmin(h, n));
    ir_dim_t sel;
    assert_int_equal(ir_dim_select(G, h, C(0), C(7), h, &sel), 0);  /* H is never 0 */
    same(sel, h);
    assert_int_equal(ir_dim_select_lt(G, h, C(0), C(7), h, &sel), 0); /* H is never < 0 */
    same(sel, h);
    assert_true(ir_dim_known_ge(G, mul(n, h), n));
    assert_false(ir_dim_known_ge(G, n, h));
    assert_int_equal(ir_dim_lower_bound(G, add(mul(n, h), C(2))), 3);
}

static void test_refusals(void **st) {
    (void)st;
    ir_dim_t n = SY(1, N), o;
    /* constant overflow and zero divisors are refused, not wrapped */
    assert_int_equal(ir_dim_mul(G, C(INT64_MAX), C(2), &o), -1);
    assert_int_equal(ir_dim_add(G, C(INT64_MAX), C(1), &o), -1);
    assert_int_equal(ir_dim_mul(G, SY(INT64_MAX, N), C(2), &o), -1);
    assert_int_equal(ir_dim_floordiv(G, n, C(0), &o), -1);
    assert_int_equal(ir_dim_mod(G, n, C(0), &o), -1);
    assert_int_equal(ir_dim_floordiv(G, C(INT64_MIN), C(-1), &o), -1);
    /* an expression past the size limits is refused */
    ir_dim_t big = C(1);
    int rc = 0;
    for (int i = 0; i < 12 && rc == 0; i++) rc = ir_dim_mul(G, big, add(n, C(i + 1)), &big);
    assert_int_equal(rc, -1);
    /* shape checks: provable ones are dropped, false constant ones refused */
    int before = G->n_checks;
    assert_int_equal(ir_shape_check_add(G, IR_CHECK_EQ, mul(n, C(2)), add(n, n), "x"), 0);
    assert_int_equal(G->n_checks, before);
    assert_int_equal(ir_shape_check_add(G, IR_CHECK_EQ, C(3), C(4), "x"), -1);
    assert_int_equal(ir_shape_check_add(G, IR_CHECK_EQ, add(n, C(1)), n, "x"), -1);
    assert_int_equal(ir_shape_check_add(G, IR_CHECK_EQ, n, SY(1, H), "x"), 0);
    assert_int_equal(G->n_checks, before + 1);
}

/* Evaluation (the compile-time twin of the generated NAME_shapes) against plain math. */
static void test_eval(void **st) {
    (void)st;
    ir_dim_t n = SY(1, N), h = SY(1, H), w = SY(1, W);
    ir_dim_t e1 = add(fdiv(sub(add(h, C(2)), C(3)), C(2)), C(1));
    ir_dim_t e2 = mul(mul(n, h), w);
    ir_dim_t e3 = dmin(mod(w, C(5)), sub(h, C(1)));
    ir_dim_t e4;
    assert_int_equal(ir_dim_select(G, w, C(4), h, n, &e4), 0);
    /* keep them alive through ordering */
    ir_value_t *v = f32(SHAPE(e1, e2, e3, e4));
    (void)v;
    assert_int_equal(ir_graph_order_syms(G), 0);
    assert_int_equal(G->n_caller_syms, 3);
    e1 = v->shape.dims[0];
    e2 = v->shape.dims[1];
    e3 = v->shape.dims[2];
    e4 = v->shape.dims[3];
    for (int64_t nn = 1; nn <= 3; nn++)
        for (int64_t hh = 1; hh <= 9; hh++)
            for (int64_t ww = 1; ww <= 9; ww++) {
                int64_t vals[64] = {0};
                vals[0] = nn;
                vals[1] = hh;
                vals[2] = ww;
                assert_true(G->n_syms <= 64);
                assert_int_equal(ir_sym_eval_all(G, vals), 0);
                int64_t r;
                assert_int_equal(ir_dim_eval(G, e1, vals, &r), 0);
                assert_int_equal(r, (hh - 1) / 2 + 1);
                assert_int_equal(ir_dim_eval(G, e2, vals, &r), 0);
                assert_int_equal(r, nn * hh * ww);
                assert_int_equal(ir_dim_eval(G, e3, vals, &r), 0);
                assert_int_equal(r, (ww % 5) < hh - 1 ? ww % 5 : hh - 1);
                assert_int_equal(ir_dim_eval(G, e4, vals, &r), 0);
                assert_int_equal(r, ww == 4 ? hh : nn);
            }
    /* overflow at run time is caught */
    int64_t vals[64] = {0};
    vals[0] = INT64_MAX / 2;
    vals[1] = 4;
    vals[2] = 1;
    assert_int_equal(ir_sym_eval_all(G, vals), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_polynomial_identities, setup_syms, teardown),
        cmocka_unit_test_setup_teardown(test_division_and_friends, setup_syms, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup_syms, teardown),
        cmocka_unit_test_setup_teardown(test_eval, setup_syms, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
