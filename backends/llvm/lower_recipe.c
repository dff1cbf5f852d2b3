/* Lowering of scalar recipes (ir/recipe.h) to LLVM IR, on scalars or on vectors: the one
 * place the LLVM backend learns what an element-wise op computes. Element-wise kernels,
 * fused epilogues of any kernel and the vector epilogue of the GEMM micro-kernel all come
 * through here, so an op defined by its recipe needs no code in this backend. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"
#include "ir/recipe.h"

typedef struct rc {
    lw_t *k;
    const ir_node_t *n;
    ir_dtype_t t;           /* the node's type T */
    bool fl, sg;
    LLVMTypeRef ct, cel;    /* compute type (scalar or vector) and its element type */
    unsigned lanes;         /* 0 for scalars */
    LLVMValueRef *in;
    const bool *present;
} rc_t;

static LLVMValueRef splat(const rc_t *R, LLVMValueRef s) {
    if (!R->lanes) return s;
    LLVMValueRef v[64];
    for (unsigned i = 0; i < R->lanes && i < 64; i++) v[i] = s;
    return LLVMConstVector(v, R->lanes);
}

static LLVMValueRef cnum(const rc_t *R, double x) {
    if (R->fl) return splat(R, LLVMConstReal(R->cel, x));
    int64_t i = isnan(x) ? 0 : x >= 9223372036854775807.0 ? INT64_MAX : x <= -9223372036854775808.0 ? INT64_MIN : (int64_t)x;
    return splat(R, LLVMConstInt(R->cel, (unsigned long long)i, 1));
}

static LLVMValueRef cbool(const rc_t *R, bool b) { return splat(R, LLVMConstInt(R->k->i1, b, 0)); }

static LLVMValueRef int_limit(const rc_t *R, bool high) {
    unsigned bits = LLVMGetIntTypeWidth(R->cel);
    unsigned long long v;
    if (R->sg) v = high ? (1ULL << (bits - 1)) - 1 : 1ULL << (bits - 1);
    else v = high ? (bits == 64 ? ~0ULL : (1ULL << bits) - 1) : 0;
    return splat(R, LLVMConstInt(R->cel, v, 0));
}

/* libm for the functions LLVM has no intrinsic for; lane by lane on vectors. */
static LLVMValueRef libm(const rc_t *R, ir_rfn_t f, LLVMValueRef x) {
    lw_t *k = R->k;
    bool dbl = R->cel == k->f64;
    char name[16];
    snprintf(name, sizeof name, "%s%s", ir_rfn_name(f), dbl ? "" : "f");
    LLVMTypeRef st = dbl ? k->f64 : k->f32;
    LLVMTypeRef ft = LLVMFunctionType(st, &st, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(k->m, name);
    if (!fn) fn = LLVMAddFunction(k->m, name, ft);
    if (!R->lanes) return LLVMBuildCall2(k->b, ft, fn, &x, 1, "");
    LLVMValueRef r = LLVMGetUndef(R->ct);
    for (unsigned l = 0; l < R->lanes; l++) {
        LLVMValueRef xl = LLVMBuildExtractElement(k->b, x, lw_i32(k, (int)l), "");
        r = LLVMBuildInsertElement(k->b, r, LLVMBuildCall2(k->b, ft, fn, &xl, 1, ""), lw_i32(k, (int)l), "");
    }
    return r;
}

static LLVMValueRef intrin1(const rc_t *R, const char *name, LLVMValueRef x) {
    return lw_intrin(R->k, name, R->ct, &x, 1);
}

static LLVMValueRef lower(const rc_t *R, const ir_rexpr_t *e);

static LLVMValueRef fn1(const rc_t *R, ir_rfn_t f, LLVMValueRef x) {
    LLVMBuilderRef b = R->k->b;
    if (!R->fl) {
        switch (f) {
        case IR_F_ABS:
            if (!R->sg) return x;
            return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, cnum(R, 0), ""), LLVMBuildNeg(b, x, ""), x, "");
        case IR_F_FLOOR: case IR_F_CEIL: case IR_F_ROUND: return x;
        case IR_F_ISNAN: return cbool(R, false);
        default:
            lw_error(R->k, "%s() of an integer type is not supported", ir_rfn_name(f));
            return NULL;
        }
    }
    if (f == IR_F_EXP || f == IR_F_LOG || f == IR_F_TANH || f == IR_F_ERF) {
        LLVMValueRef r = lw_vmath(R->k, f, x);   /* float32: inline polynomials */
        if (r) return r;
    }
    switch (f) {
    case IR_F_EXP: return intrin1(R, "llvm.exp", x);
    case IR_F_LOG: return intrin1(R, "llvm.log", x);
    case IR_F_SQRT: return intrin1(R, "llvm.sqrt", x);
    case IR_F_ABS: return intrin1(R, "llvm.fabs", x);
    case IR_F_FLOOR: return intrin1(R, "llvm.floor", x);
    case IR_F_CEIL: return intrin1(R, "llvm.ceil", x);
    case IR_F_ROUND: return intrin1(R, "llvm.roundeven", x);
    case IR_F_SIN: return intrin1(R, "llvm.sin", x);
    case IR_F_COS: return intrin1(R, "llvm.cos", x);
    case IR_F_ISNAN: return LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
    default: return libm(R, f, x);
    }
}

static LLVMValueRef cmp(const rc_t *R, ir_rkind_t kind, LLVMValueRef a, LLVMValueRef c, bool boolean) {
    LLVMBuilderRef b = R->k->b;
    if (R->fl && !boolean) {
        static const LLVMRealPredicate fp[] = {
            [IR_R_LT] = LLVMRealOLT, [IR_R_GT] = LLVMRealOGT, [IR_R_LE] = LLVMRealOLE,
            [IR_R_GE] = LLVMRealOGE, [IR_R_EQ] = LLVMRealOEQ, [IR_R_NE] = LLVMRealUNE};
        return LLVMBuildFCmp(b, fp[kind], a, c, "");
    }
    bool sg = R->sg && !boolean;
    LLVMIntPredicate p;
    switch (kind) {
    case IR_R_LT: p = sg ? LLVMIntSLT : LLVMIntULT; break;
    case IR_R_GT: p = sg ? LLVMIntSGT : LLVMIntUGT; break;
    case IR_R_LE: p = sg ? LLVMIntSLE : LLVMIntULE; break;
    case IR_R_GE: p = sg ? LLVMIntSGE : LLVMIntUGE; break;
    case IR_R_EQ: p = LLVMIntEQ; break;
    default: p = LLVMIntNE; break;
    }
    return LLVMBuildICmp(b, p, a, c, "");
}

/* Integer division as the constant folder does it: truncating, 0 for a zero divisor,
 * and no trap for INT_MIN / -1. */
static LLVMValueRef idiv(const rc_t *R, LLVMValueRef a, LLVMValueRef c) {
    LLVMBuilderRef b = R->k->b;
    LLVMValueRef z = LLVMBuildICmp(b, LLVMIntEQ, c, cnum(R, 0), "");
    LLVMValueRef safe = LLVMBuildSelect(b, z, cnum(R, 1), c, "");
    if (!R->sg) return LLVMBuildSelect(b, z, cnum(R, 0), LLVMBuildUDiv(b, a, safe, ""), "");
    LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, safe, cnum(R, -1), "");
    LLVMValueRef q = LLVMBuildSDiv(b, a, LLVMBuildSelect(b, m1, cnum(R, 1), safe, ""), "");
    q = LLVMBuildSelect(b, m1, LLVMBuildNeg(b, a, ""), q, "");
    return LLVMBuildSelect(b, z, cnum(R, 0), q, "");
}

static LLVMValueRef lower(const rc_t *R, const ir_rexpr_t *e) {
    LLVMBuilderRef b = R->k->b;
    bool in_bool[3];
    for (int i = 0; i < 3; i++) in_bool[i] = R->present[i] && R->n->in[i] && R->n->in[i]->dtype == IR_BOOL;
    switch (e->kind) {
    case IR_R_NUM: return cnum(R, e->num);
    case IR_R_IN:
        if (!R->present[e->input] || !R->in[e->input]) {
            lw_error(R->k, "input %d is required", e->input);
            return NULL;
        }
        return R->in[e->input];
    case IR_R_OPT: return R->present[e->input] && R->in[e->input] ? R->in[e->input] : lower(R, e->b);
    case IR_R_ATTR: return cnum(R, ir_attr_num(R->n, e->name, 0));
    case IR_R_STREQ: return cbool(R, ir_recipe_streq(e, R->n));
    case IR_R_LOWEST: return R->fl ? cnum(R, -INFINITY) : int_limit(R, false);
    case IR_R_HIGHEST: return R->fl ? cnum(R, INFINITY) : int_limit(R, true);
    case IR_R_SEL:
        if (e->a->kind == IR_R_STREQ)   /* a per-node constant: lower only the branch taken */
            return lower(R, ir_recipe_streq(e->a, R->n) ? e->b : e->c);
        break;
    default: break;
    }
    LLVMValueRef a = lower(R, e->a);
    if (!a) return NULL;
    switch (e->kind) {
    case IR_R_NEG: return R->fl ? LLVMBuildFNeg(b, a, "") : LLVMBuildNeg(b, a, "");
    case IR_R_NOT: case IR_R_BNOT: return LLVMBuildNot(b, a, "");
    case IR_R_FN1: return fn1(R, e->fn, a);
    default: break;
    }
    LLVMValueRef c = lower(R, e->b);
    if (!c) return NULL;
    if (e->kind == IR_R_SEL) {
        LLVMValueRef d = lower(R, e->c);
        return d ? LLVMBuildSelect(b, a, c, d, "") : NULL;
    }
    bool boolean = ir_recipe_is_bool(e->a, in_bool);
    switch (e->kind) {
    case IR_R_ADD: return R->fl ? LLVMBuildFAdd(b, a, c, "") : LLVMBuildAdd(b, a, c, "");
    case IR_R_SUB: return R->fl ? LLVMBuildFSub(b, a, c, "") : LLVMBuildSub(b, a, c, "");
    case IR_R_MUL: return R->fl ? LLVMBuildFMul(b, a, c, "") : LLVMBuildMul(b, a, c, "");
    case IR_R_DIV: return R->fl ? LLVMBuildFDiv(b, a, c, "") : idiv(R, a, c);
    case IR_R_AND: case IR_R_BAND: return LLVMBuildAnd(b, a, c, "");
    case IR_R_OR: case IR_R_BOR: return LLVMBuildOr(b, a, c, "");
    case IR_R_BXOR: return LLVMBuildXor(b, a, c, "");
    case IR_R_MIN: return LLVMBuildSelect(b, cmp(R, IR_R_GT, a, c, false), c, a, "");
    case IR_R_MAX: return LLVMBuildSelect(b, cmp(R, IR_R_LT, a, c, false), c, a, "");
    case IR_R_POW:
        if (!R->fl) { lw_error(R->k, "pow() of an integer type is not supported"); return NULL; }
        return lw_intrin(R->k, "llvm.pow", R->ct, (LLVMValueRef[]){a, c}, 2);
    default: return cmp(R, e->kind, a, c, boolean);
    }
}

ir_dtype_t lw_recipe_ctype(ir_dtype_t t) { return t == IR_F16 || t == IR_BF16 ? IR_F32 : t; }

LLVMValueRef lw_recipe(lw_t *k, const ir_node_t *n, ir_dtype_t t, unsigned lanes, LLVMValueRef *in, const bool *present) {
    const char *err = NULL;
    const ir_rexpr_t *e = ir_recipe(n->op, &err);
    if (!e) {
        lw_error(k, "%s has no usable recipe%s%s", ir_op_name(n->op), err ? ": " : "", err ? err : "");
        return NULL;
    }
    ir_dtype_t c = lw_recipe_ctype(t);
    rc_t R = {k, n, t, ir_dtype_is_float(t), ir_dtype_is_signed(t), lw_type(k, c), lw_type(k, c), lanes, in, present};
    if (c == IR_BOOL) R.cel = R.ct = k->i1;
    if (lanes) R.ct = LLVMVectorType(R.cel, lanes);
    return lower(&R, e);
}

/* A constant scalar input, as a literal in the compute type; NULL when v is not one. */
LLVMValueRef lw_recipe_const(lw_t *k, const ir_value_t *v, ir_dtype_t t, unsigned lanes) {
    if (!v || !v->data || ir_shape_numel(&v->shape) != 1 || v->dtype == IR_BOOL) return NULL;
    double x;
    if (ir_const_scalar(v, &x)) return NULL;
    ir_dtype_t c = lw_recipe_ctype(t);
    rc_t R = {k, NULL, t, ir_dtype_is_float(c), ir_dtype_is_signed(c), lw_type(k, c), lw_type(k, c), lanes, NULL, NULL};
    if (lanes) R.ct = LLVMVectorType(R.cel, lanes);
    return cnum(&R, x);
}
