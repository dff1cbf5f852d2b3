/* Kernel lowering framework: functions, loops, addressing, the run entry point. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/sched.h"
#include "runtime/onnxc_abi.h"

int lw_error(lw_t *k, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ir_error(k->g, k->node, "%s", msg);
}

LLVMValueRef lw_i64(lw_t *k, int64_t v) { return LLVMConstInt(k->i64, (unsigned long long)v, 1); }
LLVMValueRef lw_i32(lw_t *k, int32_t v) { return LLVMConstInt(k->i32, (unsigned long long)(int64_t)v, 1); }

LLVMBasicBlockRef lw_block(lw_t *k, const char *name) { return LLVMAppendBasicBlockInContext(k->c, k->fn, name); }

LLVMValueRef lw_alloca(lw_t *k, LLVMTypeRef t, const char *name) {
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(k->c);
    LLVMValueRef first = LLVMGetFirstInstruction(k->entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, k->entry);
    LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return a;
}

void lw_loop_begin(lw_t *k, lw_loop_t *l, LLVMValueRef lo, LLVMValueRef hi, const char *name) {
    l->var = lw_alloca(k, k->i64, name);
    LLVMBuildStore(k->b, lo, l->var);
    l->head = lw_block(k, "head");
    l->body = lw_block(k, "body");
    l->latch = lw_block(k, "latch");
    l->exit = lw_block(k, "exit");
    LLVMBuildBr(k->b, l->head);
    LLVMPositionBuilderAtEnd(k->b, l->head);
    LLVMValueRef i = LLVMBuildLoad2(k->b, k->i64, l->var, name);
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, i, hi, ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(k->b, l->body);
    l->iv = i;
}

void lw_loop_end(lw_t *k, lw_loop_t *l) {
    LLVMBuildBr(k->b, l->latch);
    LLVMPositionBuilderAtEnd(k->b, l->latch);
    LLVMValueRef i = LLVMBuildLoad2(k->b, k->i64, l->var, "");
    LLVMBuildStore(k->b, LLVMBuildNSWAdd(k->b, i, lw_i64(k, 1), ""), l->var);
    LLVMBuildBr(k->b, l->head);
    LLVMPositionBuilderAtEnd(k->b, l->exit);
}

void lw_if_begin(lw_t *k, lw_if_t *f, LLVMValueRef cond) {
    f->then = lw_block(k, "then");
    f->done = lw_block(k, "done");
    LLVMBuildCondBr(k->b, cond, f->then, f->done);
    LLVMPositionBuilderAtEnd(k->b, f->then);
}

void lw_if_end(lw_t *k, lw_if_t *f) {
    LLVMBuildBr(k->b, f->done);
    LLVMPositionBuilderAtEnd(k->b, f->done);
}

LLVMTypeRef lw_type(lw_t *k, ir_dtype_t t) {
    switch (t) {
    case IR_F32: return k->f32;
    case IR_F64: return k->f64;
    case IR_F16: return k->f16;
    case IR_BF16: return k->bf16;
    case IR_I8: case IR_U8: case IR_BOOL: return k->i8;
    case IR_I16: case IR_U16: return k->i16;
    case IR_I32: case IR_U32: return k->i32;
    case IR_I64: case IR_U64: return k->i64;
    default: return NULL;
    }
}

static LLVMValueRef sym_value(lw_t *k, int s) {
    if (!k->symv[s]) {
        LLVMBuilderRef eb = LLVMCreateBuilderInContext(k->c);
        /* Loaded at the end of the entry block's prologue: the entry block only holds
         * allocas and these loads, and ends with a branch we insert before. */
        LLVMValueRef term = LLVMGetBasicBlockTerminator(k->entry);
        if (term)
            LLVMPositionBuilderBefore(eb, term);
        else
            LLVMPositionBuilderAtEnd(eb, k->entry);
        LLVMValueRef p = LLVMBuildGEP2(eb, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
        k->symv[s] = LLVMBuildLoad2(eb, k->i64, p, k->g->syms[s]);
        LLVMDisposeBuilder(eb);
    }
    return k->symv[s];
}

LLVMValueRef lw_dim(lw_t *k, const ir_value_t *v, int d) { return lw_shape_dim(k, &v->shape, d); }

LLVMValueRef lw_shape_dim(lw_t *k, const ir_shape_t *shape, int d) {
    ir_dim_t dim = shape->dims[d];
    if (dim.sym < 0) return lw_i64(k, dim.v);
    LLVMValueRef s = sym_value(k, dim.sym);
    if (dim.v == 1) return s;
    return LLVMBuildNSWMul(k->b, s, lw_i64(k, dim.v), "");
}

LLVMValueRef lw_numel(lw_t *k, const ir_value_t *v) {
    LLVMValueRef n = lw_i64(k, 1);
    for (int d = 0; d < v->shape.rank; d++) n = LLVMBuildNSWMul(k->b, n, lw_dim(k, v, d), "");
    return n;
}

/* Byte size of a symbolic-sized buffer, rounded up to 64. */
static LLVMValueRef dyn_size(lw_t *k, const ir_value_t *v) {
    LLVMValueRef n = LLVMBuildMul(k->b, lw_numel(k, v), lw_i64(k, (int64_t)ir_dtype_size(v->dtype)), "");
    n = LLVMBuildAdd(k->b, n, lw_i64(k, 63), "");
    return LLVMBuildAnd(k->b, n, lw_i64(k, ~(int64_t)63), "");
}

/* Offsets of every dyn slot, computed once per function in the entry block. */
static LLVMValueRef dyn_offset(lw_t *k, int slot) {
    if (!k->dynoff[slot]) {
        LLVMBasicBlockRef save = LLVMGetInsertBlock(k->b);
        LLVMValueRef term = LLVMGetBasicBlockTerminator(k->entry);
        if (term)
            LLVMPositionBuilderBefore(k->b, term);
        else
            LLVMPositionBuilderAtEnd(k->b, k->entry);
        LLVMValueRef off = lw_i64(k, k->g->ws_static);
        for (int s = 0; s < k->g->n_dyn_slots; s++) {
            const ir_value_t *v = NULL;
            for (int i = 0; i < k->g->n_values; i++)
                if (k->g->values[i]->storage == IR_ST_WORKSPACE && k->g->values[i]->dyn_slot == s) v = k->g->values[i];
            k->dynoff[s] = off;
            if (v) off = LLVMBuildAdd(k->b, off, dyn_size(k, v), "");
        }
        LLVMPositionBuilderAtEnd(k->b, save);
    }
    return k->dynoff[slot];
}

LLVMValueRef lw_base(lw_t *k, const ir_value_t *v) {
    for (int i = 0; i < k->npv; i++)
        if (k->pv[i] == v) return k->pp[i];
    switch (v->storage) {
    case IR_ST_INPUT: {
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->ptr, k->a_in, (LLVMValueRef[]){lw_i64(k, v->index)}, 1, "");
        return LLVMBuildLoad2(k->b, k->ptr, p, v->name);
    }
    case IR_ST_OUTPUT: {
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->ptr, k->a_out, (LLVMValueRef[]){lw_i64(k, v->index)}, 1, "");
        return LLVMBuildLoad2(k->b, k->ptr, p, v->name);
    }
    case IR_ST_CONST:
        if (!k->L->blob) return LLVMConstNull(k->ptr); /* only empty constants when there is no blob */
        return LLVMBuildGEP2(k->b, k->i8, k->L->blob, (LLVMValueRef[]){lw_i64(k, v->offset)}, 1, v->name);
    case IR_ST_WORKSPACE:
        if (v->dyn_slot >= 0)
            return LLVMBuildGEP2(k->b, k->i8, k->a_ws, (LLVMValueRef[]){dyn_offset(k, v->dyn_slot)}, 1, v->name);
        return LLVMBuildGEP2(k->b, k->i8, k->a_ws, (LLVMValueRef[]){lw_i64(k, v->offset)}, 1, v->name);
    default:
        return NULL;
    }
}

LLVMValueRef lw_load(lw_t *k, const ir_value_t *v, LLVMValueRef off) {
    LLVMTypeRef t = lw_type(k, v->dtype);
    LLVMValueRef p = LLVMBuildGEP2(k->b, t, lw_base(k, v), &off, 1, "");
    return LLVMBuildLoad2(k->b, t, p, "");
}

void lw_store(lw_t *k, const ir_value_t *v, LLVMValueRef off, LLVMValueRef x) {
    LLVMTypeRef t = lw_type(k, v->dtype);
    LLVMValueRef p = LLVMBuildGEP2(k->b, t, lw_base(k, v), &off, 1, "");
    LLVMBuildStore(k->b, x, p);
}

void lw_strides(lw_t *k, const ir_value_t *v, LLVMValueRef *st) {
    LLVMValueRef s = lw_i64(k, 1);
    for (int d = v->shape.rank - 1; d >= 0; d--) {
        st[d] = s;
        s = LLVMBuildNSWMul(k->b, s, lw_dim(k, v, d), "");
    }
}

void lw_bcast_strides(lw_t *k, const ir_value_t *v, const ir_value_t *target, LLVMValueRef *st) {
    int r = target->shape.rank, rv = v->shape.rank;
    LLVMValueRef own[IR_MAX_RANK];
    lw_strides(k, v, own);
    for (int d = 0; d < r; d++) {
        int dv = d - (r - rv);
        if (dv < 0) {
            st[d] = lw_i64(k, 0);
        } else {
            ir_dim_t a = v->shape.dims[dv], b = target->shape.dims[d];
            bool one = a.sym < 0 && a.v == 1 && !(b.sym < 0 && b.v == 1);
            st[d] = one ? lw_i64(k, 0) : own[dv];
        }
    }
}

LLVMValueRef lw_dot(lw_t *k, LLVMValueRef *idx, LLVMValueRef *st, int r) {
    LLVMValueRef o = lw_i64(k, 0);
    for (int d = 0; d < r; d++) o = LLVMBuildNSWAdd(k->b, o, LLVMBuildNSWMul(k->b, idx[d], st[d], ""), "");
    return o;
}

/* ---------------------------------------------------------------- kernels */
static void begin_function(lw_t *k, LLVMValueRef fn) {
    k->fn = fn;
    k->npv = 0;
    k->entry = LLVMAppendBasicBlockInContext(k->c, fn, "entry");
    memset(k->symv, 0, sizeof(LLVMValueRef) * (size_t)(k->g->n_syms + 1));
    memset(k->dynoff, 0, sizeof(LLVMValueRef) * (size_t)(k->g->n_dyn_slots + 1));
    LLVMPositionBuilderAtEnd(k->b, k->entry);
}

/* The entry block holds the prologue (argument loads), allocas and hoisted loads, and
 * branches to "start" where the code goes. */
static void start_code(lw_t *k) {
    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(k->c, k->fn, "start");
    LLVMBuildBr(k->b, start);
    LLVMPositionBuilderAtEnd(k->b, start);
}

static LLVMTypeRef kernel_type(lw_t *k) {
    LLVMTypeRef p[5] = {k->ptr, k->ptr, k->ptr, k->ptr, k->ptr};
    return LLVMFunctionType(k->vd, p, 5, 0);
}

static void set_args5(lw_t *k, LLVMValueRef a0, LLVMValueRef a1, LLVMValueRef a2, LLVMValueRef a3, LLVMValueRef a4) {
    k->a_ctx = a0; k->a_syms = a1; k->a_in = a2; k->a_out = a3; k->a_ws = a4;
}

/* Minimum elements per parallel task before threads pay off. */
#define PAR_MIN_WORK 32768

void lw_kernel_begin_range(lw_t *k, const ir_node_t *n, const ir_value_t *v, int d0, int d1) {
    lw_kernel_begin_shape(k, n, &v->shape, d0, d1);
}

void lw_kernel_begin_shape(lw_t *k, const ir_node_t *n, const ir_shape_t *shape, int d0, int d1) {
    char name[64];
    k->kernel_id++;
    /* wrapper */
    snprintf(name, sizeof name, "%s_k%d", k->L->name, k->kernel_id);
    LLVMValueRef wrap = LLVMAddFunction(k->m, name, kernel_type(k));
    LLVMSetLinkage(wrap, LLVMInternalLinkage);
    snprintf(name, sizeof name, "%s_k%d_body", k->L->name, k->kernel_id);
    LLVMTypeRef bp[3] = {k->ptr, k->i64, k->i64};
    LLVMTypeRef body_t = LLVMFunctionType(k->vd, bp, 3, 0);
    LLVMValueRef body = LLVMAddFunction(k->m, name, body_t);
    LLVMSetLinkage(body, LLVMInternalLinkage);

    begin_function(k, wrap);
    set_args5(k, LLVMGetParam(wrap, 0), LLVMGetParam(wrap, 1), LLVMGetParam(wrap, 2), LLVMGetParam(wrap, 3),
              LLVMGetParam(wrap, 4));
    start_code(k);
    LLVMValueRef extent = lw_i64(k, 1);
    for (int d = d0; d < d1; d++) extent = LLVMBuildNSWMul(k->b, extent, lw_shape_dim(k, shape, d), "");
    LLVMTypeRef arr_t = LLVMArrayType2(k->ptr, 5);
    LLVMValueRef args = lw_alloca(k, arr_t, "args");
    LLVMValueRef av[5] = {k->a_ctx, k->a_syms, k->a_in, k->a_out, k->a_ws};
    for (int i = 0; i < 5; i++) {
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->ptr, args, (LLVMValueRef[]){lw_i64(k, i)}, 1, "");
        LLVMBuildStore(k->b, av[i], p);
    }
    bool worth = d1 > d0;
    if (worth && ir_shape_is_static(shape)) worth = ir_shape_numel(shape) >= PAR_MIN_WORK;
    if (worth) {
        /* if (ctx && ctx->parallel_for && extent > 1) ctx->parallel_for(ctx, body, args, extent) */
        LLVMBasicBlockRef chk = lw_block(k, "chk"), par = lw_block(k, "par"), ser = lw_block(k, "ser"),
                          done = lw_block(k, "done");
        LLVMValueRef has_ctx = LLVMBuildIsNotNull(k->b, k->a_ctx, "");
        LLVMBuildCondBr(k->b, has_ctx, chk, ser);
        LLVMPositionBuilderAtEnd(k->b, chk);
        LLVMValueRef pf = LLVMBuildLoad2(k->b, k->ptr, k->a_ctx, "pf");
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildIsNotNull(k->b, pf, ""),
                                       LLVMBuildICmp(k->b, LLVMIntSGT, extent, lw_i64(k, 1), ""), "");
        LLVMBuildCondBr(k->b, ok, par, ser);
        LLVMPositionBuilderAtEnd(k->b, par);
        LLVMTypeRef pft_p[4] = {k->ptr, k->ptr, k->ptr, k->i64};
        LLVMTypeRef pft = LLVMFunctionType(k->vd, pft_p, 4, 0);
        LLVMBuildCall2(k->b, pft, pf, (LLVMValueRef[]){k->a_ctx, body, args, extent}, 4, "");
        LLVMBuildBr(k->b, done);
        LLVMPositionBuilderAtEnd(k->b, ser);
        LLVMBuildCall2(k->b, body_t, body, (LLVMValueRef[]){args, lw_i64(k, 0), extent}, 3, "");
        LLVMBuildBr(k->b, done);
        LLVMPositionBuilderAtEnd(k->b, done);
    } else {
        LLVMBuildCall2(k->b, body_t, body, (LLVMValueRef[]){args, lw_i64(k, 0), extent}, 3, "");
    }
    LLVMBuildRetVoid(k->b);

    k->wrappers[k->n_wrappers++] = wrap;

    /* body */
    begin_function(k, body);
    LLVMValueRef bargs = LLVMGetParam(body, 0);
    LLVMValueRef a[5];
    for (int i = 0; i < 5; i++) {
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->ptr, bargs, (LLVMValueRef[]){lw_i64(k, i)}, 1, "");
        a[i] = LLVMBuildLoad2(k->b, k->ptr, p, "");
    }
    set_args5(k, a[0], a[1], a[2], a[3], a[4]);
    start_code(k);

    /* The body passes every tensor the node touches to kN_impl as a noalias pointer:
     * distinct values never overlap in the memory plan, and telling LLVM so lets it
     * vectorize without run-time overlap checks (smaller code, faster compiles). */
    const ir_value_t *vals[64];
    int nv = 0;
#define ADDV(x)                                                                  \
    do {                                                                         \
        const ir_value_t *x_ = (x);                                              \
        if (x_ && x_->storage != IR_ST_NONE && nv < 64) {                        \
            bool dup_ = false;                                                   \
            for (int q_ = 0; q_ < nv; q_++) dup_ |= vals[q_] == x_;              \
            if (!dup_) vals[nv++] = x_;                                          \
        }                                                                        \
    } while (0)
    /* A packed panel constant is addressed straight from the weights global instead: the
     * global's alignment then reaches the micro-kernel's vector loads (a parameter's
     * alignment is lost when the impl is inlined), and a constant cannot alias anything. */
    const ir_value_t *panels = n->sched && n->sched->tiled && n->sched->tiles.bform == IR_SCHED_B_PACKED
                                   ? n->sched->tiles.pack.packed : NULL;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] != panels) ADDV(n->in[i]);
    for (int i = 0; i < n->n_out; i++) ADDV(n->out[i]);
    for (int i = 0; i < n->n_post; i++) ADDV(n->post[i].other);
#undef ADDV
    LLVMTypeRef ip[64 + 3];
    LLVMValueRef iargs[64 + 3];
    for (int i = 0; i < nv; i++) {
        ip[i] = k->ptr;
        iargs[i] = lw_base(k, vals[i]);
    }
    ip[nv] = k->ptr;
    ip[nv + 1] = k->i64;
    ip[nv + 2] = k->i64;
    iargs[nv] = k->a_syms;
    iargs[nv + 1] = LLVMGetParam(body, 1);
    iargs[nv + 2] = LLVMGetParam(body, 2);
    LLVMTypeRef impl_t = LLVMFunctionType(k->vd, ip, (unsigned)nv + 3, 0);
    snprintf(name, sizeof name, "%s_k%d_impl", k->L->name, k->kernel_id);
    LLVMValueRef impl = LLVMAddFunction(k->m, name, impl_t);
    LLVMSetLinkage(impl, LLVMInternalLinkage);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (int i = 0; i < nv; i++)
        LLVMAddAttributeAtIndex(impl, (unsigned)i + 1, LLVMCreateEnumAttribute(k->c, noalias, 0));
    LLVMBuildCall2(k->b, impl_t, impl, iargs, (unsigned)nv + 3, "");
    LLVMBuildRetVoid(k->b);

    begin_function(k, impl);
    set_args5(k, NULL, LLVMGetParam(impl, (unsigned)nv), NULL, NULL, NULL);
    for (int i = 0; i < nv; i++) {
        k->pv[i] = vals[i];
        k->pp[i] = LLVMGetParam(impl, (unsigned)i);
    }
    k->npv = nv;
    start_code(k);
    k->begin = LLVMGetParam(impl, (unsigned)nv + 1);
    k->end = LLVMGetParam(impl, (unsigned)nv + 2);
}

void lw_kernel_end(lw_t *k) { LLVMBuildRetVoid(k->b); }

int lw_check_begin(lw_t *k, const ir_node_t *n, const char *what) {
    char name[64], text[512];
    snprintf(text, sizeof text, "node '%.300s' (%s): %s", n->name, ir_op_name(n->op), what);
    char *t = strdup(text);
    char **nc = realloc(k->checks, sizeof(char *) * (size_t)(k->n_checks + 1));
    if (!t || !nc) {
        free(t);
        if (nc) k->checks = nc;
        return lw_error(k, "out of memory");
    }
    k->checks = nc;
    k->checks[k->n_checks++] = t;
    snprintf(name, sizeof name, "%s_c%d", k->L->name, k->n_checks);
    LLVMTypeRef p[5] = {k->ptr, k->ptr, k->ptr, k->ptr, k->ptr};
    LLVMValueRef fn = LLVMAddFunction(k->m, name, LLVMFunctionType(k->i32, p, 5, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    k->is_check[k->n_wrappers] = true;
    k->wrappers[k->n_wrappers++] = fn;
    begin_function(k, fn);
    set_args5(k, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2), LLVMGetParam(fn, 3),
              LLVMGetParam(fn, 4));
    start_code(k);
    LLVMBasicBlockRef here = LLVMGetInsertBlock(k->b);
    k->check_fail = lw_block(k, "bad_data");
    LLVMPositionBuilderAtEnd(k->b, k->check_fail);
    LLVMBuildRet(k->b, lw_i32(k, ONNXC_ERR_DATA | k->n_checks << 8));
    LLVMPositionBuilderAtEnd(k->b, here);
    return 0;
}

void lw_check_fail_if(lw_t *k, LLVMValueRef bad) {
    LLVMBasicBlockRef ok = lw_block(k, "data_ok");
    LLVMBuildCondBr(k->b, bad, k->check_fail, ok);
    LLVMPositionBuilderAtEnd(k->b, ok);
}

void lw_check_end(lw_t *k) { LLVMBuildRet(k->b, lw_i32(k, 0)); }

int lw_check_all(lw_t *k, const ir_node_t *n, const ir_value_t *v, const char *what, lw_bad_fn bad, void *ud) {
    if (lw_check_begin(k, n, what)) return -1;
    /* An OR over every element with no early exit: a loop LLVM vectorises. */
    LLVMValueRef acc = lw_alloca(k, k->i8, "any_bad");
    LLVMBuildStore(k->b, LLVMConstInt(k->i8, 0, 0), acc);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), lw_numel(k, v), "chk");
    LLVMValueRef b = LLVMBuildZExt(k->b, bad(k, lw_load(k, v, l.iv), ud), k->i8, "");
    LLVMBuildStore(k->b, LLVMBuildOr(k->b, LLVMBuildLoad2(k->b, k->i8, acc, ""), b, ""), acc);
    lw_loop_end(k, &l);
    lw_check_fail_if(k, LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildLoad2(k->b, k->i8, acc, ""),
                                      LLVMConstInt(k->i8, 0, 0), ""));
    lw_check_end(k);
    return 0;
}

typedef struct { const ir_value_t *data; int axis; } index_check_t;

/* Bad index: outside [-D, D) for D the size of the data's axis (a constant, or a symbol
 * loaded once per function). */
static LLVMValueRef bad_index(lw_t *k, LLVMValueRef x, void *ud) {
    const index_check_t *c = ud;
    LLVMValueRef D = lw_dim(k, c->data, c->axis), iv = LLVMBuildSExt(k->b, x, k->i64, "");
    LLVMValueRef neg = LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), "");
    iv = LLVMBuildSelect(k->b, neg, LLVMBuildAdd(k->b, iv, D, ""), iv, "");
    return LLVMBuildICmp(k->b, LLVMIntUGE, iv, D, "");   /* one compare: iv < 0 or iv >= D */
}

int lw_check_indices(lw_t *k, const ir_node_t *n, const ir_value_t *ind, const ir_value_t *data, int axis) {
    index_check_t c = {data, axis};
    return lw_check_all(k, n, ind, "an index is out of range", bad_index, &c);
}

static LLVMValueRef bad_divisor(lw_t *k, LLVMValueRef x, void *ud) {
    (void)ud;
    return LLVMBuildICmp(k->b, LLVMIntEQ, x, LLVMConstNull(LLVMTypeOf(x)), "");
}

int lw_check_divisor(lw_t *k, const ir_node_t *n, const ir_value_t *divisor) {
    if (ir_dtype_is_float(divisor->dtype)) return 0;
    return lw_check_all(k, n, divisor, "an integer division by zero", bad_divisor, NULL);
}

void lw_kernel_begin(lw_t *k, const ir_node_t *n, const ir_value_t *v, int par_dim) {
    if (par_dim < 0)
        lw_kernel_begin_range(k, n, v, 0, 0);
    else
        lw_kernel_begin_range(k, n, v, par_dim, par_dim + 1);
}

/* ---------------------------------------------------------------- the map emitter */
int lw_emit_map(lw_t *k, const ir_node_t *n, const ir_value_t *out, lw_elem_fn f, void *ud) {
    int r = out->shape.rank;
    /* the schedule's iteration space is out[0]'s shape, split along its parallel axis */
    int p = out == n->out[0] ? n->sched->par_axis : -1;
    if (p >= r) p = -1;
    lw_kernel_begin(k, n, out, p);
    LLVMValueRef idx[IR_MAX_RANK], ost[IR_MAX_RANK];
    lw_loop_t loops[IR_MAX_RANK];
    lw_strides(k, out, ost);
    for (int d = 0; d < r; d++) {
        if (d < p || p < 0) {
            idx[d] = lw_i64(k, 0);  /* a unit dim before the parallel one (or all unit) */
            continue;
        }
        if (d == p)
            lw_loop_begin(k, &loops[d], k->begin, k->end, "i");
        else
            lw_loop_begin(k, &loops[d], lw_i64(k, 0), lw_dim(k, out, d), "i");
        idx[d] = loops[d].iv;
    }
    LLVMValueRef x = f(k, n, idx, ud);
    if (!x) return -1;
    x = lw_apply_post(k, n, x, idx);
    if (!x) return -1;
    lw_store(k, out, lw_dot(k, idx, ost, r), x);
    for (int d = r - 1; d >= 0; d--)
        if (d >= p && p >= 0) lw_loop_end(k, &loops[d]);
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- entry points */
static int lower_node(lw_t *k, ir_node_t *n) {
    k->node = n;
    if (!n->sched) return lw_error(k, "internal error: the node has no schedule (pass_schedule did not run)");
    lw_lower_fn f = lw_lowering(n->op);
    if (!f) return lw_error(k, "the LLVM backend has no lowering for %s", ir_op_name(n->op));
    return f(k, n);
}

/* Byte size of every symbolic-sized buffer plus the static region. */
static void build_workspace_size(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_workspace_size", k->L->name);
    LLVMTypeRef ft = LLVMFunctionType(k->i64, (LLVMTypeRef[]){k->ptr}, 1, 0);
    LLVMValueRef fn = LLVMAddFunction(k->m, name, ft);
    begin_function(k, fn);
    k->a_syms = LLVMGetParam(fn, 0);
    start_code(k);
    LLVMValueRef total = lw_i64(k, k->g->ws_static);
    if (k->g->n_dyn_slots > 0) {
        /* Symbols outside [1, 2^40] and totals past 2^62 (checked in double, which cannot
         * wrap) give SIZE_MAX, which no allocation satisfies. */
        LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
        for (int s = 0; s < k->g->n_syms; s++) {
            LLVMValueRef sv = sym_value(k, s);
            bad = LLVMBuildOr(k->b, bad, LLVMBuildICmp(k->b, LLVMIntSLT, sv, lw_i64(k, 1), ""), "");
            bad = LLVMBuildOr(k->b, bad, LLVMBuildICmp(k->b, LLVMIntSGT, sv, lw_i64(k, (int64_t)1 << 40), ""), "");
        }
        LLVMValueRef dtot = LLVMConstReal(k->f64, (double)k->g->ws_static);
        for (int i = 0; i < k->g->n_values; i++) {
            const ir_value_t *v = k->g->values[i];
            if (v->storage != IR_ST_WORKSPACE || v->dyn_slot < 0) continue;
            total = LLVMBuildAdd(k->b, total, dyn_size(k, v), "");
            LLVMValueRef dn = LLVMConstReal(k->f64, (double)ir_dtype_size(v->dtype) + 64.0);
            for (int d = 0; d < v->shape.rank; d++)
                dn = LLVMBuildFMul(k->b, dn, LLVMBuildSIToFP(k->b, lw_dim(k, v, d), k->f64, ""), "");
            dtot = LLVMBuildFAdd(k->b, dtot, dn, "");
        }
        bad = LLVMBuildOr(k->b, bad, LLVMBuildFCmp(k->b, LLVMRealOGT, dtot, LLVMConstReal(k->f64, 4611686018427387904.0), ""), "");
        total = LLVMBuildSelect(k->b, bad, lw_i64(k, -1), total, "");
    }
    LLVMBuildRet(k->b, total);
}

static void build_run(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_run", k->L->name);
    LLVMTypeRef p[5] = {k->ptr, k->ptr, k->ptr, k->ptr, k->ptr};
    LLVMTypeRef ft = LLVMFunctionType(k->i32, p, 5, 0);
    LLVMValueRef fn = LLVMAddFunction(k->m, name, ft);
    begin_function(k, fn);
    set_args5(k, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2), LLVMGetParam(fn, 3),
              LLVMGetParam(fn, 4));
    start_code(k);
    ir_graph_t *g = k->g;
    LLVMBasicBlockRef fail_arg = lw_block(k, "bad_arg"), fail_ws = lw_block(k, "bad_ws"),
                      fail_shape = lw_block(k, "bad_shape");
    /* argument checks: pointers, symbols in [1, 2^40], workspace alignment */
    LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
    if (g->n_inputs) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_in, ""), "");
    if (g->n_outputs) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_out, ""), "");
    if (g->n_syms) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_syms, ""), "");
    LLVMBasicBlockRef ok1 = lw_block(k, "ok1");
    LLVMBuildCondBr(k->b, bad, fail_arg, ok1);
    LLVMPositionBuilderAtEnd(k->b, ok1);
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        LLVMValueRef arr = i < g->n_inputs ? k->a_in : k->a_out;
        int j = i < g->n_inputs ? i : i - g->n_inputs;
        LLVMValueRef pp = LLVMBuildGEP2(k->b, k->ptr, arr, (LLVMValueRef[]){lw_i64(k, j)}, 1, "");
        LLVMValueRef pv = LLVMBuildLoad2(k->b, k->ptr, pp, "");
        LLVMBasicBlockRef nx = lw_block(k, "okp");
        LLVMBuildCondBr(k->b, LLVMBuildIsNull(k->b, pv, ""), fail_arg, nx);
        LLVMPositionBuilderAtEnd(k->b, nx);
    }
    LLVMValueRef badsym = LLVMConstInt(k->i1, 0, 0);
    for (int s = 0; s < g->n_syms; s++) {
        LLVMValueRef pp = LLVMBuildGEP2(k->b, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
        LLVMValueRef sv = LLVMBuildLoad2(k->b, k->i64, pp, "");
        badsym = LLVMBuildOr(k->b, badsym, LLVMBuildICmp(k->b, LLVMIntSLT, sv, lw_i64(k, 1), ""), "");
        badsym = LLVMBuildOr(k->b, badsym, LLVMBuildICmp(k->b, LLVMIntSGT, sv, lw_i64(k, (int64_t)1 << 40), ""), "");
    }
    LLVMBasicBlockRef ok2 = lw_block(k, "ok2");
    LLVMBuildCondBr(k->b, badsym, fail_shape, ok2);
    LLVMPositionBuilderAtEnd(k->b, ok2);
    if (g->ws_static > 0 || g->n_dyn_slots > 0) {
        LLVMValueRef wi = LLVMBuildPtrToInt(k->b, k->a_ws, k->i64, "");
        LLVMValueRef badws = LLVMBuildOr(k->b, LLVMBuildIsNull(k->b, k->a_ws, ""),
                                         LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildAnd(k->b, wi, lw_i64(k, 63), ""),
                                                       lw_i64(k, 0), ""), "");
        LLVMBasicBlockRef ok3 = lw_block(k, "ok3");
        LLVMBuildCondBr(k->b, badws, fail_ws, ok3);
        LLVMPositionBuilderAtEnd(k->b, ok3);
    }
    LLVMTypeRef check_t = LLVMFunctionType(k->i32, p, 5, 0);
    for (int i = 0; i < k->n_wrappers; i++) {
        LLVMValueRef args[5] = {k->a_ctx, k->a_syms, k->a_in, k->a_out, k->a_ws};
        if (!k->is_check[i]) {
            LLVMBuildCall2(k->b, kernel_type(k), k->wrappers[i], args, 5, "");
            continue;
        }
        LLVMValueRef st = LLVMBuildCall2(k->b, check_t, k->wrappers[i], args, 5, "st");
        LLVMBasicBlockRef bad_data = lw_block(k, "bad_data"), next = lw_block(k, "checked");
        LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), bad_data, next);
        LLVMPositionBuilderAtEnd(k->b, bad_data);
        LLVMBuildRet(k->b, st);
        LLVMPositionBuilderAtEnd(k->b, next);
    }
    LLVMBuildRet(k->b, lw_i32(k, 0));
    LLVMPositionBuilderAtEnd(k->b, fail_arg);
    LLVMBuildRet(k->b, lw_i32(k, 1));
    LLVMPositionBuilderAtEnd(k->b, fail_shape);
    LLVMBuildRet(k->b, lw_i32(k, 2));
    LLVMPositionBuilderAtEnd(k->b, fail_ws);
    LLVMBuildRet(k->b, lw_i32(k, 3));
}

/* const char *const NAME_data_checks[]: the text of each data check, NULL-terminated;
 * status >> 8 of ONNXC_ERR_DATA numbers them from 1. */
static void build_check_table(lw_t *k) {
    char name[256];
    LLVMValueRef *v = calloc((size_t)k->n_checks + 1, sizeof *v);
    if (!v) return;
    for (int i = 0; i < k->n_checks; i++) {
        snprintf(name, sizeof name, ".check.%d", i);
        LLVMValueRef str = LLVMConstStringInContext2(k->c, k->checks[i], strlen(k->checks[i]), 0);
        LLVMValueRef gv = LLVMAddGlobal(k->m, LLVMTypeOf(str), name);
        LLVMSetInitializer(gv, str);
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        v[i] = gv;
    }
    v[k->n_checks] = LLVMConstPointerNull(k->ptr);
    LLVMValueRef arr = LLVMConstArray2(k->ptr, v, (uint64_t)k->n_checks + 1);
    snprintf(name, sizeof name, "%s_data_checks", k->L->name);
    LLVMValueRef gv = LLVMAddGlobal(k->m, LLVMTypeOf(arr), name);
    LLVMSetInitializer(gv, arr);
    LLVMSetGlobalConstant(gv, 1);
    free(v);
}

/* LLVM lowers float->bfloat truncation to __truncsfbf2/__truncdfbf2, which Debian 12's
 * libgcc lacks. Models that use bfloat16 get weak definitions of their own, so the
 * object still links with nothing but libc and libm. */
static void build_bf16_helpers(lw_t *k) {
    bool any = false;
    for (int i = 0; i < k->g->n_values; i++) any |= k->g->values[i]->dtype == IR_BF16;
    if (!any) return;
    const char *names[2] = {"__truncsfbf2", "__truncdfbf2"};
    LLVMTypeRef from[2] = {k->f32, k->f64};
    for (int j = 0; j < 2; j++) {
        if (LLVMGetNamedFunction(k->m, names[j]) && LLVMCountBasicBlocks(LLVMGetNamedFunction(k->m, names[j]))) continue;
        LLVMTypeRef ft = LLVMFunctionType(k->bf16, &from[j], 1, 0);
        LLVMValueRef fn = LLVMGetNamedFunction(k->m, names[j]);
        if (!fn) fn = LLVMAddFunction(k->m, names[j], ft);
        LLVMSetLinkage(fn, LLVMWeakAnyLinkage);
        begin_function(k, fn);
        start_code(k);
        LLVMBuildRet(k->b, lw_cast(k, LLVMGetParam(fn, 0), j ? IR_F64 : IR_F32, IR_BF16));
    }
}

int llvm_lower_graph(llvm_lower_t *L) {
    lw_t k;
    memset(&k, 0, sizeof k);
    k.L = L;
    k.g = L->g;
    k.c = L->ctx;
    k.m = L->mod;
    k.b = LLVMCreateBuilderInContext(k.c);
    k.i1 = LLVMInt1TypeInContext(k.c);
    k.i8 = LLVMInt8TypeInContext(k.c);
    k.i16 = LLVMInt16TypeInContext(k.c);
    k.i32 = LLVMInt32TypeInContext(k.c);
    k.i64 = LLVMInt64TypeInContext(k.c);
    k.f16 = LLVMHalfTypeInContext(k.c);
    k.bf16 = LLVMBFloatTypeInContext(k.c);
    k.f32 = LLVMFloatTypeInContext(k.c);
    k.f64 = LLVMDoubleTypeInContext(k.c);
    k.ptr = LLVMPointerTypeInContext(k.c, 0);
    k.vd = LLVMVoidTypeInContext(k.c);
    k.symv = calloc((size_t)k.g->n_syms + 1, sizeof(LLVMValueRef));
    k.dynoff = calloc((size_t)k.g->n_dyn_slots + 1, sizeof(LLVMValueRef));
    /* A node has at most one kernel and one check. */
    k.wrappers = calloc(2 * (size_t)k.g->n_nodes + 1, sizeof(LLVMValueRef));
    k.is_check = calloc(2 * (size_t)k.g->n_nodes + 1, sizeof(bool));
    if (!k.symv || !k.dynoff || !k.wrappers || !k.is_check) {
        LLVMDisposeBuilder(k.b);
        free(k.symv);
        free(k.dynoff);
        free(k.wrappers);
        free(k.is_check);
        return ir_error(k.g, NULL, "out of memory");
    }
    /* A refused node is reported and skipped, so one run names every node the backend
     * cannot lower; its half-built kernel is never called, since a run with refusals
     * builds no entry points and the module is discarded. */
    int refused = 0;
    for (int i = 0; i < k.g->n_nodes; i++) {
        ir_node_t *n = k.g->nodes[i];
        if (n->dead) continue;
        int rc = 0;
        for (int j = 0; j < n->n_out && rc == 0; j++) {
            const ir_value_t *v = n->out[j];
            if (v && (v->n_uses > 0 || v->is_output) && !lw_type(&k, v->dtype))
                rc = ir_error(k.g, n, "output '%s' has dtype %s, which the LLVM backend does not support", v->name,
                              ir_dtype_name(v->dtype));
        }
        for (int j = 0; j < n->n_in && rc == 0; j++) {
            const ir_value_t *v = n->in[j];
            if (v && !lw_type(&k, v->dtype))
                rc = ir_error(k.g, n, "input '%s' has dtype %s, which the LLVM backend does not support", v->name,
                              ir_dtype_name(v->dtype));
        }
        if (rc == 0) rc = lower_node(&k, n);
        if (rc) refused++;
    }
    if (refused == 0) {
        build_workspace_size(&k);
        build_run(&k);
        build_check_table(&k);
        build_bf16_helpers(&k);
    }
    LLVMDisposeBuilder(k.b);
    free(k.symv);
    free(k.dynoff);
    free(k.wrappers);
    free(k.is_check);
    for (int i = 0; i < k.n_checks; i++) free(k.checks[i]);
    free(k.checks);
    return refused ? -1 : 0;
}
