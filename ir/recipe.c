/* Recipe parsing and interpretation (see recipe.h). Trees are built once per op from the
 * static strings in ops.def and live for the process: a few dozen small nodes in all. */
#include "ir/recipe.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fn_names[IR_F_COUNT] = {
    "exp", "log", "sqrt", "abs", "floor", "ceil", "round", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "tanh", "isnan"};

const char *ir_rfn_name(ir_rfn_t f) { return f < IR_F_COUNT ? fn_names[f] : "?"; }

typedef struct parser {
    const char *p;
    const char *err;
} parser_t;

static ir_rexpr_t *node(ir_rkind_t k, ir_rexpr_t *a, ir_rexpr_t *b, ir_rexpr_t *c) {
    ir_rexpr_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = k;
    e->a = a; e->b = b; e->c = c;
    return e;
}

static void skip(parser_t *P) { while (*P->p == ' ') P->p++; }
static bool eat(parser_t *P, const char *tok) {
    skip(P);
    size_t l = strlen(tok);
    if (strncmp(P->p, tok, l)) return false;
    /* "<" must not swallow "<=", "!" not "!=" */
    if (l == 1 && (tok[0] == '<' || tok[0] == '>' || tok[0] == '!' || tok[0] == '=') && P->p[1] == '=') return false;
    P->p += l;
    return true;
}
static ir_rexpr_t *fail(parser_t *P, const char *why) {
    if (!P->err) P->err = why;
    return NULL;
}

static ir_rexpr_t *expr(parser_t *P);

static ir_rexpr_t *primary(parser_t *P) {
    skip(P);
    if (eat(P, "(")) {
        ir_rexpr_t *e = expr(P);
        if (!eat(P, ")")) return fail(P, "')' expected");
        return e;
    }
    if (isdigit((unsigned char)*P->p) || *P->p == '.') {
        char *end;
        double v = strtod(P->p, &end);
        P->p = end;
        ir_rexpr_t *e = node(IR_R_NUM, NULL, NULL, NULL);
        if (e) e->num = v;
        return e;
    }
    if (!isalpha((unsigned char)*P->p)) return fail(P, "operand expected");
    char id[32];
    size_t l = 0;
    while ((isalnum((unsigned char)*P->p) || *P->p == '_') && l < sizeof id - 1) id[l++] = *P->p++;
    id[l] = 0;
    if (l == 1 && id[0] >= 'x' && id[0] <= 'z') {
        ir_rexpr_t *e = node(IR_R_IN, NULL, NULL, NULL);
        if (e) e->input = id[0] - 'x';
        return e;
    }
    if (!strcmp(id, "inf")) { ir_rexpr_t *e = node(IR_R_NUM, NULL, NULL, NULL); if (e) e->num = INFINITY; return e; }
    if (!strcmp(id, "lowest")) return node(IR_R_LOWEST, NULL, NULL, NULL);
    if (!strcmp(id, "highest")) return node(IR_R_HIGHEST, NULL, NULL, NULL);
    skip(P);
    if (*P->p == '(') {
        P->p++;
        ir_rexpr_t *a = expr(P), *b = NULL;
        if (eat(P, ",")) b = expr(P);
        if (!eat(P, ")")) return fail(P, "')' expected after arguments");
        if (!a) return NULL;
        if (!strcmp(id, "min") || !strcmp(id, "max") || !strcmp(id, "pow") || !strcmp(id, "opt")) {
            if (!b) return fail(P, "two arguments expected");
            if (!strcmp(id, "opt")) {
                if (a->kind != IR_R_IN) return fail(P, "opt() takes an input first");
                ir_rexpr_t *e = node(IR_R_OPT, a, b, NULL);
                if (e) e->input = a->input;
                return e;
            }
            return node(!strcmp(id, "min") ? IR_R_MIN : !strcmp(id, "max") ? IR_R_MAX : IR_R_POW, a, b, NULL);
        }
        if (b) return fail(P, "one argument expected");
        for (int f = 0; f < IR_F_COUNT; f++)
            if (!strcmp(id, fn_names[f])) {
                ir_rexpr_t *e = node(IR_R_FN1, a, NULL, NULL);
                if (e) e->fn = (ir_rfn_t)f;
                return e;
            }
        return fail(P, "unknown function");
    }
    /* attribute, possibly compared with a string literal */
    const char *save = P->p;
    if (eat(P, "==")) {
        skip(P);
        if (*P->p == '\'') {
            const char *q = strchr(P->p + 1, '\'');
            if (!q || q - P->p - 1 >= 32) return fail(P, "bad string literal");
            ir_rexpr_t *e = node(IR_R_STREQ, NULL, NULL, NULL);
            if (!e) return NULL;
            memcpy(e->name, id, l + 1);
            memcpy(e->text, P->p + 1, (size_t)(q - P->p - 1));
            P->p = q + 1;
            return e;
        }
        P->p = save;
    }
    ir_rexpr_t *e = node(IR_R_ATTR, NULL, NULL, NULL);
    if (e) memcpy(e->name, id, l + 1);
    return e;
}

static ir_rexpr_t *unary(parser_t *P) {
    if (eat(P, "-")) return node(IR_R_NEG, unary(P), NULL, NULL);
    if (eat(P, "!")) return node(IR_R_NOT, unary(P), NULL, NULL);
    return primary(P);
}

/* Binary levels, loosest last. */
typedef struct { const char *tok; ir_rkind_t kind; } binop_t;
static const binop_t lv_mul[] = {{"*", IR_R_MUL}, {"/", IR_R_DIV}, {NULL, 0}};
static const binop_t lv_add[] = {{"+", IR_R_ADD}, {"-", IR_R_SUB}, {NULL, 0}};
static const binop_t lv_cmp[] = {{"<=", IR_R_LE}, {">=", IR_R_GE}, {"<", IR_R_LT}, {">", IR_R_GT}, {NULL, 0}};
static const binop_t lv_eq[] = {{"==", IR_R_EQ}, {"!=", IR_R_NE}, {NULL, 0}};
static const binop_t lv_and[] = {{"&&", IR_R_AND}, {NULL, 0}};
static const binop_t lv_or[] = {{"||", IR_R_OR}, {NULL, 0}};
static const binop_t *const levels[] = {lv_mul, lv_add, lv_cmp, lv_eq, lv_and, lv_or};

static ir_rexpr_t *binary(parser_t *P, int level) {
    ir_rexpr_t *a = level ? binary(P, level - 1) : unary(P);
    for (;;) {
        const binop_t *hit = NULL;
        for (const binop_t *o = levels[level]; o->tok && !hit; o++)
            if (eat(P, o->tok)) hit = o;
        if (!hit) return a;
        ir_rexpr_t *b = level ? binary(P, level - 1) : unary(P);
        if (!a || !b) return fail(P, "operand expected");
        a = node(hit->kind, a, b, NULL);
    }
}

static ir_rexpr_t *expr(parser_t *P) {
    ir_rexpr_t *c = binary(P, 5);
    if (!eat(P, "?")) return c;
    ir_rexpr_t *a = expr(P);
    if (!eat(P, ":")) return fail(P, "':' expected");
    ir_rexpr_t *b = expr(P);
    if (!c || !a || !b) return fail(P, "bad conditional");
    return node(IR_R_SEL, c, a, b);
}

const ir_rexpr_t *ir_recipe(ir_op_t op, const char **err) {
    static ir_rexpr_t *cache[IR_OP_COUNT];
    static const char *errs[IR_OP_COUNT];
    if (op >= IR_OP_COUNT) return NULL;
    const char *src = ir_op_recipe(op);
    if (!src) return NULL;
    if (!cache[op] && !errs[op]) {
        parser_t P = {src, NULL};
        ir_rexpr_t *e = expr(&P);
        skip(&P);
        if (!P.err && *P.p) P.err = "unexpected text after the expression";
        if (!e && !P.err) P.err = "out of memory";
        if (P.err) errs[op] = P.err;   /* trees of a bad row are not freed: a bug to fix, once */
        else cache[op] = e;
    }
    if (err) *err = errs[op];
    return cache[op];
}

int ir_recipe_arity(const ir_rexpr_t *e) {
    if (!e) return 0;
    int n = (e->kind == IR_R_IN || e->kind == IR_R_OPT) ? e->input + 1 : 0, m;
    if ((m = ir_recipe_arity(e->a)) > n) n = m;
    if ((m = ir_recipe_arity(e->b)) > n) n = m;
    if ((m = ir_recipe_arity(e->c)) > n) n = m;
    return n;
}

bool ir_recipe_is_bool(const ir_rexpr_t *e, const bool *in_bool) {
    switch (e->kind) {
    case IR_R_IN: return in_bool[e->input];
    case IR_R_STREQ: case IR_R_NOT: case IR_R_LT: case IR_R_GT: case IR_R_LE: case IR_R_GE: case IR_R_EQ:
    case IR_R_NE: case IR_R_AND: case IR_R_OR:
        return true;
    case IR_R_FN1: return e->fn == IR_F_ISNAN;
    case IR_R_SEL: return ir_recipe_is_bool(e->b, in_bool);
    case IR_R_OPT: return in_bool[e->input];
    default: return false;
    }
}

bool ir_recipe_streq(const ir_rexpr_t *e, const ir_node_t *n) {
    const char *dflt = NULL;
    ir_attr_default(n->op, e->name, NULL, &dflt);
    const char *v = ir_attr_str(n, e->name, dflt ? dflt : "");
    return strcmp(v, e->text) == 0;
}

/* ---------------------------------------------------------------- interpreter */
static int64_t wrap(ir_dtype_t t, uint64_t v) {
    switch (t) {
    case IR_I8: return (int8_t)v;
    case IR_U8: return (uint8_t)v;
    case IR_I16: return (int16_t)v;
    case IR_U16: return (uint16_t)v;
    case IR_I32: return (int32_t)v;
    case IR_U32: return (uint32_t)v;
    case IR_BOOL: return v != 0;
    default: return (int64_t)v;
    }
}

static double fn1(ir_rfn_t f, double x) {
    switch (f) {
    case IR_F_EXP: return exp(x);
    case IR_F_LOG: return log(x);
    case IR_F_SQRT: return sqrt(x);
    case IR_F_ABS: return fabs(x);
    case IR_F_FLOOR: return floor(x);
    case IR_F_CEIL: return ceil(x);
    case IR_F_ROUND: return nearbyint(x);   /* the default rounding mode: half to even */
    case IR_F_SIN: return sin(x);
    case IR_F_COS: return cos(x);
    case IR_F_TAN: return tan(x);
    case IR_F_ASIN: return asin(x);
    case IR_F_ACOS: return acos(x);
    case IR_F_ATAN: return atan(x);
    case IR_F_SINH: return sinh(x);
    case IR_F_COSH: return cosh(x);
    case IR_F_ASINH: return asinh(x);
    case IR_F_ACOSH: return acosh(x);
    case IR_F_ATANH: return atanh(x);
    case IR_F_ERF: return erf(x);
    case IR_F_TANH: return tanh(x);
    case IR_F_ISNAN: return isnan(x);
    default: return NAN;
    }
}

static int64_t lowest_of(ir_dtype_t t) {
    switch (t) {
    case IR_I8: return INT8_MIN;
    case IR_I16: return INT16_MIN;
    case IR_I32: return INT32_MIN;
    case IR_I64: return INT64_MIN;
    default: return 0;
    }
}
static int64_t highest_of(ir_dtype_t t) {
    switch (t) {
    case IR_I8: return INT8_MAX;
    case IR_U8: case IR_BOOL: return UINT8_MAX;
    case IR_I16: return INT16_MAX;
    case IR_U16: return UINT16_MAX;
    case IR_I32: return INT32_MAX;
    case IR_U32: return UINT32_MAX;
    case IR_U64: return -1;    /* as uint64: the maximum */
    default: return INT64_MAX;
    }
}

typedef struct ev {
    const ir_node_t *n;
    ir_dtype_t t;
    bool fl, sg;
    const ir_rval_t *in;
    const bool *in_bool, *present;
} ev_t;

/* Integer comparison in the dtype's signedness. */
static int icmp(const ev_t *E, int64_t a, int64_t b) {
    if (E->sg) return a < b ? -1 : a > b;
    return (uint64_t)a < (uint64_t)b ? -1 : (uint64_t)a > (uint64_t)b;
}

static bool is_bool(const ev_t *E, const ir_rexpr_t *e) { return ir_recipe_is_bool(e, E->in_bool); }

static ir_rval_t ev(const ev_t *E, const ir_rexpr_t *e);

/* An operand as a boolean. */
static bool truth(const ev_t *E, const ir_rexpr_t *e) {
    ir_rval_t v = ev(E, e);
    if (is_bool(E, e) || !E->fl) return v.i != 0;
    return v.f != 0;
}

static ir_rval_t num(const ev_t *E, double x) {
    ir_rval_t r;
    if (E->fl) r.f = x;
    else if (isnan(x)) r.i = 0;
    else if (x >= 9223372036854775807.0) r.i = INT64_MAX;
    else if (x <= -9223372036854775808.0) r.i = INT64_MIN;
    else r.i = wrap(E->t, (uint64_t)(int64_t)x);
    return r;
}

static ir_rval_t ev(const ev_t *E, const ir_rexpr_t *e) {
    ir_rval_t r = {0}, a, b;
    switch (e->kind) {
    case IR_R_NUM: return num(E, e->num);
    case IR_R_IN: return E->in[e->input];
    case IR_R_OPT: return E->present[e->input] ? E->in[e->input] : ev(E, e->b);
    case IR_R_ATTR: return num(E, ir_attr_num(E->n, e->name, 0));
    case IR_R_STREQ: r.i = ir_recipe_streq(e, E->n); return r;
    case IR_R_LOWEST: if (E->fl) r.f = -INFINITY; else r.i = lowest_of(E->t); return r;
    case IR_R_HIGHEST: if (E->fl) r.f = INFINITY; else r.i = highest_of(E->t); return r;
    case IR_R_NOT: r.i = !truth(E, e->a); return r;
    case IR_R_AND: r.i = truth(E, e->a) && truth(E, e->b); return r;
    case IR_R_OR: r.i = truth(E, e->a) || truth(E, e->b); return r;
    case IR_R_SEL: return truth(E, e->a) ? ev(E, e->b) : ev(E, e->c);
    default: break;
    }
    a = ev(E, e->a);
    bool boolean = is_bool(E, e->a);
    if (e->kind == IR_R_NEG) {
        if (E->fl) r.f = -a.f; else r.i = wrap(E->t, 0 - (uint64_t)a.i);
        return r;
    }
    if (e->kind == IR_R_FN1) {
        if (E->fl) { if (e->fn == IR_F_ISNAN) r.i = isnan(a.f); else r.f = fn1(e->fn, a.f); return r; }
        if (e->fn == IR_F_ABS) r.i = E->sg && a.i < 0 ? wrap(E->t, 0 - (uint64_t)a.i) : a.i;
        else if (e->fn == IR_F_FLOOR || e->fn == IR_F_CEIL || e->fn == IR_F_ROUND) r = a;
        else if (e->fn == IR_F_ISNAN) r.i = 0;
        else r = num(E, fn1(e->fn, E->sg ? (double)a.i : (double)(uint64_t)a.i));
        return r;
    }
    b = ev(E, e->b);
    if (E->fl && !boolean) {
        switch (e->kind) {
        case IR_R_ADD: r.f = a.f + b.f; return r;
        case IR_R_SUB: r.f = a.f - b.f; return r;
        case IR_R_MUL: r.f = a.f * b.f; return r;
        case IR_R_DIV: r.f = a.f / b.f; return r;
        case IR_R_POW: r.f = pow(a.f, b.f); return r;
        case IR_R_MIN: r.f = a.f > b.f ? b.f : a.f; return r;
        case IR_R_MAX: r.f = a.f < b.f ? b.f : a.f; return r;
        case IR_R_LT: r.i = a.f < b.f; return r;
        case IR_R_GT: r.i = a.f > b.f; return r;
        case IR_R_LE: r.i = a.f <= b.f; return r;
        case IR_R_GE: r.i = a.f >= b.f; return r;
        case IR_R_EQ: r.i = a.f == b.f; return r;
        case IR_R_NE: r.i = a.f != b.f; return r;
        default: return r;
        }
    }
    uint64_t ua = (uint64_t)a.i, ub = (uint64_t)b.i;
    switch (e->kind) {
    case IR_R_ADD: r.i = wrap(E->t, ua + ub); return r;
    case IR_R_SUB: r.i = wrap(E->t, ua - ub); return r;
    case IR_R_MUL: r.i = wrap(E->t, ua * ub); return r;
    case IR_R_DIV:
        if (b.i == 0) r.i = 0;
        else if (E->sg) r.i = (b.i == -1) ? wrap(E->t, 0 - ua) : a.i / b.i;
        else r.i = (int64_t)(ua / ub);
        return r;
    case IR_R_POW: {
        /* integer power by squaring, wrapping like the dtype; negative exponents give 0
         * except for bases 1 and -1 */
        int64_t base = a.i, ex = b.i;
        uint64_t acc = 1, bb = (uint64_t)base;
        if (E->sg && ex < 0) { r.i = base == 1 ? 1 : base == -1 ? ((-ex) % 2 ? -1 : 1) : 0; return r; }
        for (uint64_t q = (uint64_t)ex; q; q >>= 1, bb *= bb)
            if (q & 1) acc *= bb;
        r.i = wrap(E->t, acc);
        return r;
    }
    case IR_R_MIN: r.i = icmp(E, a.i, b.i) > 0 ? b.i : a.i; return r;
    case IR_R_MAX: r.i = icmp(E, a.i, b.i) < 0 ? b.i : a.i; return r;
    case IR_R_LT: r.i = icmp(E, a.i, b.i) < 0; return r;
    case IR_R_GT: r.i = icmp(E, a.i, b.i) > 0; return r;
    case IR_R_LE: r.i = icmp(E, a.i, b.i) <= 0; return r;
    case IR_R_GE: r.i = icmp(E, a.i, b.i) >= 0; return r;
    case IR_R_EQ: r.i = a.i == b.i; return r;
    case IR_R_NE: r.i = a.i != b.i; return r;
    default: return r;
    }
}

ir_rval_t ir_recipe_eval(const ir_rexpr_t *e, const ir_node_t *n, ir_dtype_t t, const ir_rval_t *in,
                         const bool *in_bool, const bool *present) {
    ev_t E = {n, t, ir_dtype_is_float(t), ir_dtype_is_signed(t), in, in_bool, present};
    return ev(&E, e);
}
