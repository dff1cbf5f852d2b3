/* Scalar recipes (ir/recipe.h) printed as C, the fused post-ops, and the element-wise
 * kernels built from them: the one place the CUDA backend learns what an element-wise op
 * computes, as lower_recipe.c is for the LLVM backend.
 *
 * Values are printed in the recipe's compute type (the node's type T; bool for logic):
 * an integer result is cast back to T after every operation, so int8 arithmetic wraps as
 * the reference does rather than computing in C's promoted int. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cu_int.h"
#include "ir/infer_util.h"
#include "ir/recipe.h"

typedef struct rp {
    cu_t *c;
    const ir_node_t *n;
    ir_dtype_t t;          /* T */
    bool fl;
    const char *const *in; /* the inputs as C expressions in the compute type */
    const bool *present;
    out_sbuf_t *b;
} rp_t;

static const char *fname(ir_rfn_t f, bool dbl) {
    static const char *const n32[IR_F_COUNT] = {
        [IR_F_EXP] = "expf", [IR_F_LOG] = "logf", [IR_F_SQRT] = "sqrtf", [IR_F_ABS] = "fabsf",
        [IR_F_FLOOR] = "floorf", [IR_F_CEIL] = "ceilf", [IR_F_ROUND] = "rintf", [IR_F_SIN] = "sinf",
        [IR_F_COS] = "cosf", [IR_F_TAN] = "tanf", [IR_F_ASIN] = "asinf", [IR_F_ACOS] = "acosf",
        [IR_F_ATAN] = "atanf", [IR_F_SINH] = "sinhf", [IR_F_COSH] = "coshf", [IR_F_ASINH] = "asinhf",
        [IR_F_ACOSH] = "acoshf", [IR_F_ATANH] = "atanhf", [IR_F_ERF] = "erff", [IR_F_TANH] = "tanhf",
        [IR_F_ISNAN] = "isnan"};
    static const char *const n64[IR_F_COUNT] = {
        [IR_F_EXP] = "exp", [IR_F_LOG] = "log", [IR_F_SQRT] = "sqrt", [IR_F_ABS] = "fabs",
        [IR_F_FLOOR] = "floor", [IR_F_CEIL] = "ceil", [IR_F_ROUND] = "rint", [IR_F_SIN] = "sin",
        [IR_F_COS] = "cos", [IR_F_TAN] = "tan", [IR_F_ASIN] = "asin", [IR_F_ACOS] = "acos",
        [IR_F_ATAN] = "atan", [IR_F_SINH] = "sinh", [IR_F_COSH] = "cosh", [IR_F_ASINH] = "asinh",
        [IR_F_ACOSH] = "acosh", [IR_F_ATANH] = "atanh", [IR_F_ERF] = "erf", [IR_F_TANH] = "tanh",
        [IR_F_ISNAN] = "isnan"};
    return dbl ? n64[f] : n32[f];
}

static int pr(const rp_t *R, const ir_rexpr_t *e);

static int bin(const rp_t *R, const ir_rexpr_t *e, const char *op, bool wrap) {
    out_sbuf_t *b = R->b;
    if (wrap) out_sb_printf(b, "(%s)", cu_comptype(R->t));
    out_sb_printf(b, "(");
    if (pr(R, e->a)) return -1;
    out_sb_printf(b, " %s ", op);
    if (pr(R, e->b)) return -1;
    out_sb_printf(b, ")");
    return 0;
}

static int call(const rp_t *R, const char *f, const ir_rexpr_t *a, const ir_rexpr_t *c) {
    out_sb_printf(R->b, "%s(", f);
    if (pr(R, a)) return -1;
    if (c) {
        out_sb_printf(R->b, ", ");
        if (pr(R, c)) return -1;
    }
    out_sb_printf(R->b, ")");
    return 0;
}

static int pr(const rp_t *R, const ir_rexpr_t *e) {
    out_sbuf_t *b = R->b;
    bool in_bool[3];
    for (int i = 0; i < 3; i++) in_bool[i] = R->present[i] && R->n->in[i] && R->n->in[i]->dtype == IR_BOOL;
    bool ibool = R->t == IR_BOOL;
    switch (e->kind) {
    case IR_R_NUM: cu_num(b, R->t, e->num); return 0;
    case IR_R_IN:
        if (!R->present[e->input] || !R->in[e->input]) return cu_error(R->c, "input %d is required", e->input);
        out_sb_printf(b, "%s", R->in[e->input]);
        return 0;
    case IR_R_OPT:
        if (R->present[e->input] && R->in[e->input]) {
            out_sb_printf(b, "%s", R->in[e->input]);
            return 0;
        }
        return pr(R, e->b);
    case IR_R_ATTR: cu_num(b, R->t, ir_attr_num(R->n, e->name, 0)); return 0;
    case IR_R_STREQ: out_sb_printf(b, "%s", ir_recipe_streq(e, R->n) ? "true" : "false"); return 0;
    case IR_R_LOWEST:
    case IR_R_HIGHEST: {
        bool hi = e->kind == IR_R_HIGHEST;
        if (R->fl) out_sb_printf(b, "(%s)(%sINFINITY)", cu_ctype(R->t), hi ? "" : "-");
        else if (ibool) out_sb_printf(b, "%s", hi ? "true" : "false");
        else {
            size_t bits = ir_dtype_size(R->t) * 8;
            bool sg = ir_dtype_is_signed(R->t);
            double v = sg ? (hi ? ldexp(1, (int)bits - 1) - 1 : -ldexp(1, (int)bits - 1)) : (hi ? ldexp(1, (int)bits) - 1 : 0);
            cu_num(b, R->t, v);
        }
        return 0;
    }
    case IR_R_SEL:
        if (e->a->kind == IR_R_STREQ) return pr(R, ir_recipe_streq(e->a, R->n) ? e->b : e->c);
        out_sb_printf(b, "(");
        if (pr(R, e->a)) return -1;
        out_sb_printf(b, " ? ");
        if (pr(R, e->b)) return -1;
        out_sb_printf(b, " : ");
        if (pr(R, e->c)) return -1;
        out_sb_printf(b, ")");
        return 0;
    case IR_R_NEG:
        out_sb_printf(b, R->fl ? "(-" : "(%s)(-", cu_comptype(R->t));
        if (pr(R, e->a)) return -1;
        out_sb_printf(b, ")");
        return 0;
    case IR_R_NOT:
        out_sb_printf(b, "(!");
        if (pr(R, e->a)) return -1;
        out_sb_printf(b, ")");
        return 0;
    case IR_R_BNOT:
        out_sb_printf(b, ibool ? "(!" : "(%s)(~", cu_comptype(R->t));
        if (pr(R, e->a)) return -1;
        out_sb_printf(b, ")");
        return 0;
    case IR_R_FN1:
        if (!R->fl) {
            switch (e->fn) {
            case IR_F_ABS:
                if (!ir_dtype_is_signed(R->t)) return pr(R, e->a);
                out_sb_printf(b, "oc_iabs(");
                if (pr(R, e->a)) return -1;
                out_sb_printf(b, ")");
                return 0;
            case IR_F_FLOOR: case IR_F_CEIL: case IR_F_ROUND: return pr(R, e->a);
            case IR_F_ISNAN: out_sb_printf(b, "false"); return 0;
            default: return cu_error(R->c, "%s() of an integer type is not supported", ir_rfn_name(e->fn));
            }
        }
        return call(R, fname(e->fn, R->t == IR_F64), e->a, NULL);
    case IR_R_MIN: return call(R, "oc_min", e->a, e->b);
    case IR_R_MAX: return call(R, "oc_max", e->a, e->b);
    case IR_R_POW:
        if (!R->fl) return cu_error(R->c, "pow() of an integer type is not supported");
        return call(R, R->t == IR_F64 ? "pow" : "powf", e->a, e->b);
    default: break;
    }
    bool boolean = ir_recipe_is_bool(e->a, in_bool);
    bool wrap = !R->fl;   /* integers and bools: back to the compute type */
    switch (e->kind) {
    case IR_R_ADD: return bin(R, e, "+", wrap);
    case IR_R_SUB: return bin(R, e, "-", wrap);
    case IR_R_MUL: return bin(R, e, "*", wrap);
    case IR_R_DIV:
        if (R->fl) return bin(R, e, "/", false);
        return call(R, "oc_idiv", e->a, e->b);
    case IR_R_AND: return bin(R, e, "&&", false);
    case IR_R_OR: return bin(R, e, "||", false);
    case IR_R_BAND: return bin(R, e, "&", !boolean || wrap);
    case IR_R_BOR: return bin(R, e, "|", !boolean || wrap);
    case IR_R_BXOR: return bin(R, e, "^", !boolean || wrap);
    case IR_R_LT: return bin(R, e, "<", false);
    case IR_R_GT: return bin(R, e, ">", false);
    case IR_R_LE: return bin(R, e, "<=", false);
    case IR_R_GE: return bin(R, e, ">=", false);
    case IR_R_EQ: return bin(R, e, "==", false);
    case IR_R_NE: return bin(R, e, "!=", false);
    default: return cu_error(R->c, "internal error: recipe node kind %d", (int)e->kind);
    }
}

/* The recipe of n in type t with inputs in[] (C expressions), appended to b. */
static int recipe(cu_t *c, const ir_node_t *n, ir_dtype_t t, const char *const *in, const bool *present, out_sbuf_t *b) {
    const char *err = NULL;
    const ir_rexpr_t *e = ir_recipe(n->op, &err);
    if (!e) return cu_error(c, "%s has no usable recipe%s%s", ir_op_name(n->op), err ? ": " : "", err ? err : "");
    if (t == IR_F16 || t == IR_BF16) return cu_error(c, "float16/bfloat16 are not supported by the CUDA backend yet");
    rp_t R = {c, n, t, ir_dtype_is_float(t), in, present, b};
    return pr(&R, e);
}

/* A constant scalar input as a literal in type t, or false. */
static bool const_lit(const ir_value_t *v, ir_dtype_t t, out_sbuf_t *b) {
    double x;
    if (!v || !v->data || ir_shape_numel(&v->shape) != 1 || v->dtype == IR_BOOL || ir_const_scalar(v, &x)) return false;
    cu_num(b, t, x);
    return true;
}

/* "(T)p3[off]" or "(p3[off] != 0)" for bools: v read at the coordinates cn* of space. */
static void load_expr(cu_t *c, out_sbuf_t *b, const ir_value_t *v, ir_dtype_t t, const ir_shape_t *space, const char *cn) {
    int k = cu_p(c, v);
    if (v->dtype == IR_BOOL) out_sb_printf(b, "(p%d[", k);
    else out_sb_printf(b, "(%s)(p%d[", cu_comptype(t), k);
    /* the same shape as the index space (a residual): the flat index itself, which every
     * caller names i; no coordinates to keep live in a library epilogue's registers */
    bool same = v->shape.rank == space->rank;
    for (int d = 0; same && d < space->rank; d++) same = v->shape.dims[d].v == space->dims[d].v;
    if (same) out_sb_printf(b, "i");
    else cu_bcast_off(c, b, v, space->rank, space, cn);
    out_sb_printf(b, v->dtype == IR_BOOL ? "] != 0)" : "])");
}

int cu_post(cu_t *c, const ir_node_t *n, const char *x, const char *cn, char *var) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    snprintf(var, 32, "%s", x);
    for (int i = 0; i < n->n_post; i++) {
        const ir_postop_t *p = &n->post[i];
        char nv[32];
        snprintf(nv, sizeof nv, "v%d", c->nv++);
        if (!p->node) {   /* Cast */
            if (!cu_ctype(p->to)) return cu_error(c, "cast to %s is not supported", ir_dtype_name(p->to));
            if (p->to == IR_BOOL) out_sb_printf(&c->body, "        bool %s = (%s != 0);\n", nv, var);
            else out_sb_printf(&c->body, "        %s %s = (%s)%s;\n", cu_ctype(p->to), nv, cu_ctype(p->to), var);
            t = p->to;
            snprintf(var, 32, "%s", nv);
            continue;
        }
        out_sbuf_t ex[3] = {{0}};
        const char *in[3] = {NULL, NULL, NULL};
        bool present[3] = {false, false, false};
        int rc = 0;
        for (int j = 0; j < p->node->n_in && j < 3; j++) {
            const ir_value_t *u = p->node->in[j];
            if (!u) continue;
            present[j] = true;
            if (j == p->self) out_sb_printf(&ex[j], "%s", var);
            else if (j == p->oidx) load_expr(c, &ex[j], u, u->dtype == IR_BOOL ? IR_BOOL : t, &out->shape, cn);
            else if (!const_lit(u, t, &ex[j])) rc = cu_error(c, "post-op input '%s' is not a constant scalar", u->name);
            in[j] = ex[j].p;
        }
        out_sbuf_t e = {0};
        if (rc == 0) rc = recipe(c, p->node, t, in, present, &e);
        if (rc == 0) {
            bool in_bool[3];
            for (int j = 0; j < 3; j++) in_bool[j] = present[j] && p->node->in[j] && p->node->in[j]->dtype == IR_BOOL;
            bool isb = ir_recipe_is_bool(ir_recipe(p->node->op, NULL), in_bool) || t == IR_BOOL;
            out_sb_printf(&c->body, "        %s %s = %s;\n", isb ? "bool" : cu_comptype(t), nv, e.p ? e.p : "0");
        }
        for (int j = 0; j < 3; j++) free(ex[j].p);
        free(e.p);
        if (rc) return -1;
        snprintf(var, 32, "%s", nv);
    }
    return 0;
}

/* Stores var (compute type of dtype `from`) into out at flat index i. */
static void store(cu_t *c, const ir_value_t *out, const char *var) {
    int k = cu_pw(c, out);
    if (out->dtype == IR_BOOL) out_sb_printf(&c->body, "        p%d[i] = (uint8_t)(%s ? 1 : 0);\n", k, var);
    else out_sb_printf(&c->body, "        p%d[i] = (%s)%s;\n", k, cu_ctype(out->dtype), var);
}

/* The kernel of an element-wise node whose head value `head` (an expression, of type
 * ht; bool when hbool) is computed at the coordinates c* of out[0]. */
static int map_kernel(cu_t *c, const ir_node_t *n, const char *head, ir_dtype_t ht, bool hbool) {
    const ir_value_t *out = n->out[0];
    out_sb_printf(&c->body, "        %s x = %s;\n", hbool ? "bool" : cu_comptype(ht), head);
    char var[32];
    if (cu_post(c, n, "x", "c", var)) return -1;
    store(c, out, var);
    return cu_kend_elems(c, cu_numel(out));
}

/* Head: the coordinates first, then the expression (it reads them). */
static void begin_coords(cu_t *c, const ir_node_t *n) { cu_coords(c, &n->out[0]->shape, "i", "c"); }

int cu_lower_map(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    const ir_rexpr_t *e = ir_recipe(n->op, NULL);
    if (!e) return cu_error(c, "%s has no recipe", ir_op_name(n->op));
    ir_dtype_t t = IR_BOOL;
    bool present[3] = {false, false, false}, in_bool[3] = {false, false, false};
    for (int j = n->n_in - 1; j >= 0; j--)
        if (n->in[j] && n->in[j]->dtype != IR_BOOL) t = n->in[j]->dtype;
    begin_coords(c, n);
    int arity = ir_recipe_arity(e), mi, xi, mo, xo;
    ir_op_arity(n->op, &mi, &xi, &mo, &xo);
    out_sbuf_t head = {0};
    int rc = 0;
    bool hb;
    if (xi <= arity) {
        out_sbuf_t ex[3] = {{0}};
        const char *in[3] = {NULL, NULL, NULL};
        for (int j = 0; j < n->n_in && j < 3; j++) {
            const ir_value_t *u = n->in[j];
            if (!u) continue;
            present[j] = true;
            in_bool[j] = u->dtype == IR_BOOL;
            if (in_bool[j] || !const_lit(u, t, &ex[j])) load_expr(c, &ex[j], u, in_bool[j] ? IR_BOOL : t, &out->shape, "c");
            in[j] = ex[j].p;
        }
        rc = recipe(c, n, t, in, present, &head);
        for (int j = 0; j < 3; j++) free(ex[j].p);
        hb = ir_recipe_is_bool(e, in_bool);
    } else {
        /* variadic (Max, Min, Sum): fold left to right through temporaries */
        out_sbuf_t a = {0};
        load_expr(c, &a, n->in[0], t, &out->shape, "c");
        out_sb_printf(&c->body, "        %s f0 = %s;\n", cu_comptype(t), a.p ? a.p : "0");
        free(a.p);
        present[0] = present[1] = true;
        for (int j = 1; j < n->n_in && rc == 0; j++) {
            out_sbuf_t bj = {0}, r = {0};
            char prev[16];
            snprintf(prev, sizeof prev, "f%d", j - 1);
            load_expr(c, &bj, n->in[j], t, &out->shape, "c");
            const char *in[3] = {prev, bj.p, NULL};
            rc = recipe(c, n, t, in, present, &r);
            if (rc == 0) out_sb_printf(&c->body, "        %s f%d = %s;\n", cu_comptype(t), j, r.p);
            free(bj.p);
            free(r.p);
        }
        out_sb_printf(&head, "f%d", n->n_in - 1);
        hb = false;
    }
    if (rc == 0) rc = map_kernel(c, n, head.p ? head.p : "0", t, hb);
    free(head.p);
    return rc;
}

int cu_lower_cast(cu_t *c, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *out = n->out[0];
    begin_coords(c, n);
    out_sbuf_t h = {0};
    int k = cu_p(c, x);
    if (out->dtype == IR_BOOL) out_sb_printf(&h, "(p%d[i] != 0)", k);
    else if (x->dtype == IR_BOOL) out_sb_printf(&h, "(%s)(p%d[i] != 0)", cu_ctype(out->dtype), k);
    else out_sb_printf(&h, "(%s)p%d[i]", cu_ctype(out->dtype), k);
    int rc = map_kernel(c, n, h.p, out->dtype, out->dtype == IR_BOOL);
    free(h.p);
    return rc;
}

int cu_lower_pow(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    begin_coords(c, n);
    out_sbuf_t a = {0}, e = {0}, h = {0};
    load_expr(c, &a, n->in[0], IR_F64, &out->shape, "c");
    load_expr(c, &e, n->in[1], IR_F64, &out->shape, "c");
    if (t == IR_F32) out_sb_printf(&h, "powf((float)%s, (float)%s)", a.p, e.p);
    else out_sb_printf(&h, "(%s)pow(%s, %s)", cu_ctype(t), a.p, e.p);
    int rc = map_kernel(c, n, h.p, t, false);
    free(a.p), free(e.p), free(h.p);
    return rc;
}

int cu_lower_mean(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    if (!ir_dtype_is_float(t)) return cu_error(c, "Mean needs a float type");
    begin_coords(c, n);
    out_sbuf_t h = {0};
    out_sb_printf(&h, "(");
    for (int j = 0; j < n->n_in; j++) {
        if (j) out_sb_printf(&h, " + ");
        load_expr(c, &h, n->in[j], t, &out->shape, "c");
    }
    out_sb_printf(&h, ") / ");
    cu_num(&h, t, n->n_in);
    int rc = map_kernel(c, n, h.p, t, false);
    free(h.p);
    return rc;
}

int cu_lower_mod(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    ir_dtype_t t = out->dtype;
    begin_coords(c, n);
    out_sbuf_t a = {0}, d = {0}, h = {0};
    load_expr(c, &a, n->in[0], t, &out->shape, "c");
    load_expr(c, &d, n->in[1], t, &out->shape, "c");
    bool fm = ir_attr_int(n, "fmod", 0) != 0;
    if (ir_dtype_is_float(t)) out_sb_printf(&h, "oc_fmod%s(%s, %s)", fm ? "" : "_py", a.p, d.p);
    else out_sb_printf(&h, "oc_imod%s(%s, %s)", fm ? "" : "_py", a.p, d.p);
    int rc = map_kernel(c, n, h.p, t, false);
    free(a.p), free(d.p), free(h.p);
    return rc;
}

int cu_lower_dropout(cu_t *c, const ir_node_t *n) {
    /* inference mode only: a copy, and an all-true mask */
    if (n->n_in > 2 && n->in[2] && !(n->in[2]->data && ((const uint8_t *)n->in[2]->data)[0] == 0))
        return cu_error(c, "Dropout in training mode is not supported by the CUDA backend yet");
    const ir_value_t *out = n->out[0];
    begin_coords(c, n);
    int k = cu_p(c, n->in[0]);
    char h[32];
    snprintf(h, sizeof h, "p%d[i]", k);
    if (n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE)
        out_sb_printf(&c->body, "        p%d[i] = 1;\n", cu_pw(c, n->out[1]));
    return map_kernel(c, n, h, out->dtype, false);
}
