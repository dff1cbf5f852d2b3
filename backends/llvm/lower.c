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
    case IR_F8E4M3FN: case IR_F8E4M3FNUZ: case IR_F8E5M2: case IR_F8E5M2FNUZ: case IR_U4: case IR_I4:
    case IR_F4E2M1: case IR_F8E8M0: case IR_U2: case IR_I2: return k->i8;   /* one byte per element */
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

/* The bound of symbol s (syms[n_syms + s]): what the run start computed, which sizes
 * buffers; differs from the symbol's value only for run-time counts and what follows
 * from them. */
static LLVMValueRef bound_value(lw_t *k, int s) {
    if (!k->symb[s]) {
        LLVMBuilderRef eb = LLVMCreateBuilderInContext(k->c);
        LLVMValueRef term = LLVMGetBasicBlockTerminator(k->entry);
        if (term)
            LLVMPositionBuilderBefore(eb, term);
        else
            LLVMPositionBuilderAtEnd(eb, k->entry);
        LLVMValueRef p = LLVMBuildGEP2(eb, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, k->g->n_syms + s)}, 1, "");
        k->symb[s] = LLVMBuildLoad2(eb, k->i64, p, "bound");
        LLVMDisposeBuilder(eb);
    }
    return k->symb[s];
}

static LLVMValueRef dim_bound(lw_t *k, ir_dim_t dim) {
    if (dim.sym < 0) return lw_i64(k, dim.v);
    LLVMValueRef s = bound_value(k, dim.sym);
    return dim.v == 1 ? s : LLVMBuildNSWMul(k->b, s, lw_i64(k, dim.v), "");
}

static LLVMValueRef numel_bound(lw_t *k, const ir_value_t *v) {
    LLVMValueRef n = lw_i64(k, 1);
    for (int d = 0; d < v->shape.rank; d++) n = LLVMBuildNSWMul(k->b, n, dim_bound(k, v->shape.dims[d]), "");
    return n;
}

void lw_set_runtime(lw_t *k, const ir_value_t *v, LLVMValueRef count) {
    for (int s = 0; s < k->g->n_syms; s++)
        if (k->g->symdefs[s].kind == IR_SYM_RUNTIME && k->g->symdefs[s].input == v) {
            LLVMValueRef p = LLVMBuildGEP2(k->b, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
            LLVMBuildStore(k->b, count, p);
        }
}

LLVMValueRef lw_dim(lw_t *k, const ir_value_t *v, int d) { return lw_shape_dim(k, &v->shape, d); }

LLVMValueRef lw_dim_value(lw_t *k, ir_dim_t dim) {
    if (dim.sym < 0) return lw_i64(k, dim.v);
    LLVMValueRef s = sym_value(k, dim.sym);
    if (dim.v == 1) return s;
    return LLVMBuildNSWMul(k->b, s, lw_i64(k, dim.v), "");
}

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
    LLVMValueRef n = LLVMBuildMul(k->b, numel_bound(k, v), lw_i64(k, (int64_t)ir_dtype_size(v->dtype)), "");
    n = LLVMBuildAdd(k->b, n, lw_i64(k, 63), "");
    return LLVMBuildAnd(k->b, n, lw_i64(k, ~(int64_t)63), "");
}

/* Bytes of a dyn slot: the largest of the buffers the plan put in it. */
static LLVMValueRef slot_size(lw_t *k, int slot) {
    LLVMValueRef sz = lw_i64(k, 0);
    for (int i = 0; i < k->g->n_values; i++) {
        const ir_value_t *v = k->g->values[i];
        if (v->storage != IR_ST_WORKSPACE || v->dyn_slot != slot) continue;
        LLVMValueRef b = dyn_size(k, v);
        sz = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntUGT, b, sz, ""), b, sz, "");
    }
    return sz;
}

/* The offset of a dyn slot: NAME_slots computed them once per run into all[2n + slot];
 * a kernel loads the ones it uses at its entry. */
static LLVMValueRef dyn_offset(lw_t *k, int slot) {
    if (!k->dynoff[slot]) {
        LLVMBuilderRef eb = LLVMCreateBuilderInContext(k->c);
        LLVMValueRef term = LLVMGetBasicBlockTerminator(k->entry);
        if (term)
            LLVMPositionBuilderBefore(eb, term);
        else
            LLVMPositionBuilderAtEnd(eb, k->entry);
        LLVMValueRef p = LLVMBuildGEP2(eb, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, 2 * k->g->n_syms + slot)}, 1, "");
        k->dynoff[slot] = LLVMBuildLoad2(eb, k->i64, p, "slot");
        LLVMDisposeBuilder(eb);
    }
    return k->dynoff[slot];
}

/* The payload address a --weights=file model finds in the workspace's first 64 bytes
 * (the kernels' workspace argument starts after them), loaded once per function. */
static LLVMValueRef weights_ptr(lw_t *k) {
    if (!k->wptr) {
        LLVMBasicBlockRef save = LLVMGetInsertBlock(k->b);
        LLVMValueRef term = LLVMGetBasicBlockTerminator(k->entry);
        if (term)
            LLVMPositionBuilderBefore(k->b, term);
        else
            LLVMPositionBuilderAtEnd(k->b, k->entry);
        LLVMValueRef slot = LLVMBuildGEP2(k->b, k->i8, k->a_ws, (LLVMValueRef[]){lw_i64(k, -64)}, 1, "wslot");
        k->wptr = LLVMBuildLoad2(k->b, k->ptr, slot, "weights");
        LLVMPositionBuilderAtEnd(k->b, save);
    }
    return k->wptr;
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
        if (k->L->weights_file)
            return LLVMBuildGEP2(k->b, k->i8, weights_ptr(k), (LLVMValueRef[]){lw_i64(k, v->offset)}, 1, v->name);
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
    memset(k->symb, 0, sizeof(LLVMValueRef) * (size_t)(k->g->n_syms + 1));
    memset(k->dynoff, 0, sizeof(LLVMValueRef) * (size_t)(k->g->n_dyn_slots + 1));
    k->wptr = NULL;
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

    k->wnode[k->n_wrappers] = n;
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
    /* With the weights in a file there is no global: the panels come as a parameter
     * like the rest, marked 64-byte aligned (the blob's layout aligns them). */
    const ir_value_t *aligned_panels = k->L->weights_file ? panels : NULL;
    if (k->L->weights_file) panels = NULL;
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
    unsigned align = LLVMGetEnumAttributeKindForName("align", 5);
    for (int i = 0; i < nv; i++) {
        LLVMAddAttributeAtIndex(impl, (unsigned)i + 1, LLVMCreateEnumAttribute(k->c, noalias, 0));
        if (vals[i] == aligned_panels)
            LLVMAddAttributeAtIndex(impl, (unsigned)i + 1, LLVMCreateEnumAttribute(k->c, align, 64));
    }
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

void lw_add_marker(lw_t *k, const ir_node_t *n) {
    char name[64];
    k->kernel_id++;
    snprintf(name, sizeof name, "%s_k%d", k->L->name, k->kernel_id);
    LLVMValueRef fn = LLVMAddFunction(k->m, name, kernel_type(k));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    begin_function(k, fn);
    LLVMBuildRetVoid(k->b);
    k->wnode[k->n_wrappers] = n;
    k->wrappers[k->n_wrappers++] = fn;
}

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

/* ---------------------------------------------------------------- symbols
 * i32 NAME_shapes(const i64 *syms, i64 *all): copies the caller's symbols into all[],
 * checks them (input dims in [1, 2^40], data elements in [-2^40, 2^40]), computes every
 * derived symbol in order with overflow and zero-divisor checks, checks every dim a
 * tensor uses is in [0, 2^40] and every recorded shape assertion holds. 0 or
 * ONNXC_ERR_SHAPE (2). */
static LLVMValueRef shapes_fn(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_shapes", k->L->name);
    LLVMValueRef fn = LLVMGetNamedFunction(k->m, name);
    if (fn) return fn;
    LLVMTypeRef ft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr}, 2, 0);
    return LLVMAddFunction(k->m, name, ft);
}

static LLVMValueRef ovf(lw_t *k, const char *intr, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *bad) {
    LLVMTypeRef st = LLVMStructTypeInContext(k->c, (LLVMTypeRef[]){k->i64, k->i1}, 2, 0);
    LLVMTypeRef ft = LLVMFunctionType(st, (LLVMTypeRef[]){k->i64, k->i64}, 2, 0);
    LLVMValueRef f = LLVMGetNamedFunction(k->m, intr);
    if (!f) f = LLVMAddFunction(k->m, intr, ft);
    LLVMValueRef r = LLVMBuildCall2(k->b, ft, f, (LLVMValueRef[]){a, b}, 2, "");
    *bad = LLVMBuildOr(k->b, *bad, LLVMBuildExtractValue(k->b, r, 1, ""), "");
    return LLVMBuildExtractValue(k->b, r, 0, "");
}

static LLVMValueRef sym_dim(lw_t *k, LLVMValueRef *vals, ir_dim_t d, LLVMValueRef *bad) {
    if (d.sym < 0) return lw_i64(k, d.v);
    if (d.v == 1) return vals[d.sym];
    return ovf(k, "llvm.smul.with.overflow.i64", vals[d.sym], lw_i64(k, d.v), bad);
}

static LLVMValueRef in_range(lw_t *k, LLVMValueRef v, int64_t lo, int64_t hi) {
    return LLVMBuildOr(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, v, lw_i64(k, lo), ""),
                       LLVMBuildICmp(k->b, LLVMIntSGT, v, lw_i64(k, hi), ""), "");
}

/* One derived symbol from the values before it (vals[]), into *bad on overflow. */
static LLVMValueRef derive_one(lw_t *k, const ir_sym_t *d, LLVMValueRef *vals, LLVMValueRef *badp) {
    LLVMValueRef bad = *badp, v;
    LLVMValueRef a = sym_dim(k, vals, d->a, &bad), b = sym_dim(k, vals, d->b, &bad);
    switch (d->kind) {
    case IR_SYM_ADD: v = ovf(k, "llvm.sadd.with.overflow.i64", a, b, &bad); break;
    case IR_SYM_MUL: v = ovf(k, "llvm.smul.with.overflow.i64", a, b, &bad); break;
    case IR_SYM_DIV:
    case IR_SYM_MOD: {
        /* floor semantics; a zero divisor (or INT64_MIN / -1) fails the run */
        LLVMValueRef z = LLVMBuildICmp(k->b, LLVMIntEQ, b, lw_i64(k, 0), "");
        LLVMValueRef m1 = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntEQ, b, lw_i64(k, -1), ""),
                                       LLVMBuildICmp(k->b, LLVMIntEQ, a, lw_i64(k, INT64_MIN), ""), "");
        bad = LLVMBuildOr(k->b, bad, LLVMBuildOr(k->b, z, m1, ""), "");
        LLVMValueRef sb = LLVMBuildSelect(k->b, LLVMBuildOr(k->b, z, m1, ""), lw_i64(k, 1), b, "");
        LLVMValueRef q = LLVMBuildSDiv(k->b, a, sb, ""), r = LLVMBuildSRem(k->b, a, sb, "");
        /* r != 0 && (r < 0) != (b < 0): q -= 1, r += b */
        LLVMValueRef adj = LLVMBuildAnd(
            k->b, LLVMBuildICmp(k->b, LLVMIntNE, r, lw_i64(k, 0), ""),
            LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildICmp(k->b, LLVMIntSLT, r, lw_i64(k, 0), ""),
                          LLVMBuildICmp(k->b, LLVMIntSLT, sb, lw_i64(k, 0), ""), ""),
            "");
        if (d->kind == IR_SYM_DIV)
            v = LLVMBuildSub(k->b, q, LLVMBuildZExt(k->b, adj, k->i64, ""), "");
        else
            v = LLVMBuildSelect(k->b, adj, LLVMBuildAdd(k->b, r, sb, ""), r, "");
        break;
    }
    case IR_SYM_MIN: v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, b, ""), a, b, ""); break;
    case IR_SYM_MAX: v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, a, b, ""), a, b, ""); break;
    case IR_SYM_FLOORMUL: {
        LLVMValueRef f = LLVMBuildBitCast(k->b, vals[d->b.sym], k->f64, "");
        LLVMValueRef x = LLVMBuildFMul(k->b, LLVMBuildSIToFP(k->b, a, k->f64, ""), f, "");
        x = lw_intrin(k, "llvm.floor", k->f64, &x, 1);
        /* NaN fails both comparisons */
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildFCmp(k->b, LLVMRealOGE, x, LLVMConstReal(k->f64, 0), ""),
                                       LLVMBuildFCmp(k->b, LLVMRealOLE, x, LLVMConstReal(k->f64, (double)IR_DIM_MAX), ""), "");
        bad = LLVMBuildOr(k->b, bad, LLVMBuildNot(k->b, ok, ""), "");
        v = LLVMBuildFPToSI(k->b, LLVMBuildSelect(k->b, ok, x, LLVMConstReal(k->f64, 0), ""), k->i64, "");
        break;
    }
    case IR_SYM_SELECT: {
        LLVMValueRef c = sym_dim(k, vals, d->c, &bad), e = sym_dim(k, vals, d->d, &bad);
        v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, d->elem ? LLVMIntSLT : LLVMIntEQ, a, b, ""), c, e, "");
        break;
    }
    case IR_SYM_RUNTIME: v = a; break;   /* the run start sees its bound */
    case IR_SYM_FRANGE: {
        /* operands hold float64 bits (data symbols, or constants) */
        LLVMValueRef fa = LLVMBuildBitCast(k->b, a, k->f64, ""), fb = LLVMBuildBitCast(k->b, b, k->f64, "");
        LLVMValueRef fc = LLVMBuildBitCast(k->b, sym_dim(k, vals, d->c, &bad), k->f64, "");
        LLVMValueRef x = LLVMBuildFDiv(k->b, LLVMBuildFSub(k->b, fb, fa, ""), fc, "");
        x = lw_intrin(k, "llvm.ceil", k->f64, &x, 1);
        x = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, x, LLVMConstReal(k->f64, 0), ""), x, LLVMConstReal(k->f64, 0), "");
        /* a zero delta or an infinite / NaN length fails the run */
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildFCmp(k->b, LLVMRealONE, fc, LLVMConstReal(k->f64, 0), ""),
                                       LLVMBuildFCmp(k->b, LLVMRealOLE, x, LLVMConstReal(k->f64, (double)IR_DIM_MAX), ""), "");
        bad = LLVMBuildOr(k->b, bad, LLVMBuildNot(k->b, ok, ""), "");
        v = LLVMBuildFPToSI(k->b, LLVMBuildSelect(k->b, ok, x, LLVMConstReal(k->f64, 0), ""), k->i64, "");
        break;
    }
    default: v = lw_i64(k, 0); bad = LLVMConstInt(k->i1, 1, 0); break;
    }
    *badp = bad;
    return v;
}

static void build_shapes(lw_t *k) {
    ir_graph_t *g = k->g;
    LLVMValueRef fn = shapes_fn(k);
    begin_function(k, fn);
    LLVMValueRef syms = LLVMGetParam(fn, 0), all = LLVMGetParam(fn, 1);
    start_code(k);
    LLVMValueRef *vals = calloc((size_t)g->n_syms + 1, sizeof(LLVMValueRef));
    if (!vals) {
        LLVMBuildRet(k->b, lw_i32(k, 4));
        return;
    }
    LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
    for (int s = 0; s < g->n_syms; s++) {
        const ir_sym_t *d = &g->symdefs[s];
        LLVMValueRef v;
        if (s < g->n_caller_syms) {
            LLVMValueRef p = LLVMBuildGEP2(k->b, k->i64, syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
            v = LLVMBuildLoad2(k->b, k->i64, p, g->syms[s]);
            /* a float data symbol carries the bits of a float64: FLOORMUL checks what it gives */
            /* input dims in [1, 2^40]; a data element may be anything (INT64_MAX as a slice
             * end): what is computed from it is overflow-checked and every dim range-checked */
            if (d->kind == IR_SYM_INPUT) bad = LLVMBuildOr(k->b, bad, in_range(k, v, 1, IR_DIM_MAX), "");
        } else {
            v = derive_one(k, d, vals, &bad);
        }
        vals[s] = v;
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
        LLVMBuildStore(k->b, v, p);
    }
    /* every dim a tensor uses */
    for (int i = 0; i < g->n_values; i++) {
        const ir_value_t *v = g->values[i];
        if (!v || v->storage == IR_ST_NONE) continue;
        for (int d = 0; d < v->shape.rank; d++) {
            ir_dim_t dm = v->shape.dims[d];
            if (dm.sym < 0) continue;
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) {
                const ir_value_t *u = g->values[j];
                if (!u || u->storage == IR_ST_NONE) continue;
                for (int e = 0; e < u->shape.rank && !seen; e++) seen = ir_dim_eq(u->shape.dims[e], dm);
            }
            for (int e = 0; e < d && !seen; e++) seen = ir_dim_eq(v->shape.dims[e], dm);
            if (!seen) bad = LLVMBuildOr(k->b, bad, in_range(k, sym_dim(k, vals, dm, &bad), 0, IR_DIM_MAX), "");
        }
    }
    /* a failing shape check names itself: ONNXC_ERR_SHAPE | k << 8, the first one failing,
     * NAME_shape_checks[k - 1] says which node and what */
    LLVMValueRef st = lw_i32(k, 0);
    for (int i = g->n_checks - 1; i >= 0; i--) {
        const ir_shape_check_t *c = &g->checks[i];
        LLVMValueRef a = sym_dim(k, vals, c->a, &bad), b = sym_dim(k, vals, c->b, &bad);
        LLVMValueRef ok = LLVMBuildICmp(k->b, c->kind == IR_CHECK_EQ ? LLVMIntEQ : LLVMIntSGE, a, b, "");
        st = LLVMBuildSelect(k->b, ok, st, lw_i32(k, 2 | (i + 1) << 8), "");
    }
    free(vals);
    LLVMBuildRet(k->b, LLVMBuildSelect(k->b, bad, lw_i32(k, 2), st, ""));
}

/* all[] in the entry block of the current function: every symbol's value, then (from
 * all[n_syms]) every symbol's bound, which is what sized the buffers, then (from
 * all[2 * n_syms]) the offset of every dyn slot. The caller's pointer when there are no
 * symbols. */
static LLVMValueRef all_syms(lw_t *k, LLVMValueRef syms) {
    if (k->g->n_syms == 0) return syms;
    return lw_alloca(k, LLVMArrayType2(k->i64, (uint64_t)(2 * k->g->n_syms + k->g->n_dyn_slots)), "all");
}

/* void NAME_slots(i64 *all): the dyn slots' offsets from the bounds, once per run. */
static LLVMValueRef slots_fn(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_slots", k->L->name);
    LLVMValueRef fn = LLVMGetNamedFunction(k->m, name);
    if (fn) return fn;
    fn = LLVMAddFunction(k->m, name, LLVMFunctionType(k->vd, (LLVMTypeRef[]){k->ptr}, 1, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    return fn;
}

static void build_slots(lw_t *k) {
    LLVMValueRef fn = slots_fn(k);
    begin_function(k, fn);
    k->a_syms = LLVMGetParam(fn, 0);
    start_code(k);
    LLVMValueRef off = lw_i64(k, k->g->ws_static);
    for (int s = 0; s < k->g->n_dyn_slots; s++) {
        LLVMBuildStore(k->b, off, LLVMBuildGEP2(k->b, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, 2 * k->g->n_syms + s)}, 1, ""));
        off = LLVMBuildAdd(k->b, off, slot_size(k, s), "");
    }
    LLVMBuildRetVoid(k->b);
}

static void call_slots(lw_t *k, LLVMValueRef all) {
    if (k->g->n_dyn_slots > 0)
        LLVMBuildCall2(k->b, LLVMFunctionType(k->vd, (LLVMTypeRef[]){k->ptr}, 1, 0), slots_fn(k), &all, 1, "");
}

/* all[n + s] = all[s]: after NAME_shapes, the bounds are the values. */
static void copy_bounds(lw_t *k, LLVMValueRef all) {
    int n = k->g->n_syms;
    for (int s = 0; s < n; s++) {
        LLVMValueRef v = LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, s)}, 1, ""), "");
        LLVMBuildStore(k->b, v, LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, n + s)}, 1, ""));
    }
}

static bool any_runtime(const ir_graph_t *g) {
    for (int s = 0; s < g->n_syms; s++)
        if (g->symdefs[s].kind == IR_SYM_RUNTIME) return true;
    return false;
}

/* i32 NAME_rederive(i64 *all): the derived symbols again from the values in all[] (after
 * a kernel stored a run-time count); 2 on overflow. Internal. */
static LLVMValueRef rederive_fn(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_rederive", k->L->name);
    LLVMValueRef fn = LLVMGetNamedFunction(k->m, name);
    if (fn) return fn;
    fn = LLVMAddFunction(k->m, name, LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr}, 1, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    return fn;
}

static void build_rederive(lw_t *k) {
    ir_graph_t *g = k->g;
    LLVMValueRef fn = rederive_fn(k);
    begin_function(k, fn);
    LLVMValueRef all = LLVMGetParam(fn, 0);
    start_code(k);
    LLVMValueRef *vals = calloc((size_t)g->n_syms + 1, sizeof(LLVMValueRef));
    if (!vals) {
        LLVMBuildRet(k->b, lw_i32(k, 4));
        return;
    }
    LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
    for (int s = 0; s < g->n_syms; s++) {
        const ir_sym_t *d = &g->symdefs[s];
        LLVMValueRef p = LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
        if (s < g->n_caller_syms || d->kind == IR_SYM_RUNTIME) {
            vals[s] = LLVMBuildLoad2(k->b, k->i64, p, "");
            continue;
        }
        vals[s] = derive_one(k, d, vals, &bad);
        LLVMBuildStore(k->b, vals[s], p);
    }
    free(vals);
    LLVMBuildRet(k->b, LLVMBuildSelect(k->b, bad, lw_i32(k, 2), lw_i32(k, 0), ""));
}

/* int NAME_output_dims(const int64_t *syms, const void *ws, int32_t i, int64_t *dims):
 * output i's dims after a run with this workspace (a count computed while the model ran
 * is kept in the workspace). 0, 1 (bad output index) or 2. */
static void build_output_dims(lw_t *k) {
    ir_graph_t *g = k->g;
    char name[256];
    snprintf(name, sizeof name, "%s_output_dims", k->L->name);
    LLVMTypeRef ft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr, k->i32, k->ptr}, 4, 0);
    LLVMValueRef fn = LLVMAddFunction(k->m, name, ft);
    begin_function(k, fn);
    LLVMValueRef syms = LLVMGetParam(fn, 0), ws = LLVMGetParam(fn, 1), oi = LLVMGetParam(fn, 2),
                 dims = LLVMGetParam(fn, 3);
    LLVMValueRef all = all_syms(k, syms);
    start_code(k);
    if (g->n_syms > 0) {
        LLVMTypeRef sft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr}, 2, 0);
        LLVMValueRef st = LLVMBuildCall2(k->b, sft, shapes_fn(k), (LLVMValueRef[]){syms, all}, 2, "");
        LLVMBasicBlockRef okb = lw_block(k, "ok"), badb = lw_block(k, "bad");
        LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), badb, okb);
        LLVMPositionBuilderAtEnd(k->b, badb);
        LLVMBuildRet(k->b, st);
        LLVMPositionBuilderAtEnd(k->b, okb);
        if (any_runtime(g)) {
            int j = 0;
            for (int s = 0; s < g->n_syms; s++) {
                if (g->symdefs[s].kind != IR_SYM_RUNTIME) continue;
                /* with a weights file, the plan's workspace starts 64 bytes in (the binding) */
                int64_t at = g->ws_rt_off + 8 * j++ + (k->L->weights_file ? 64 : 0);
                LLVMValueRef p = LLVMBuildGEP2(k->b, k->i8, ws, (LLVMValueRef[]){lw_i64(k, at)}, 1, "");
                LLVMValueRef v = LLVMBuildLoad2(k->b, k->i64, p, "");
                LLVMBuildStore(k->b, v, LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, s)}, 1, ""));
            }
            LLVMValueRef st2 = LLVMBuildCall2(k->b, LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr}, 1, 0), rederive_fn(k),
                                              (LLVMValueRef[]){all}, 1, "");
            LLVMBasicBlockRef ok2 = lw_block(k, "ok2");
            LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st2, lw_i32(k, 0), ""), badb, ok2);
            LLVMPositionBuilderAtEnd(k->b, ok2);
        }
    }
    LLVMBasicBlockRef badi = lw_block(k, "badi");
    LLVMValueRef sw = LLVMBuildSwitch(k->b, oi, badi, (unsigned)g->n_outputs);
    for (int i = 0; i < g->n_outputs; i++) {
        LLVMBasicBlockRef bb = lw_block(k, "out");
        LLVMAddCase(sw, lw_i32(k, i), bb);
        LLVMPositionBuilderAtEnd(k->b, bb);
        const ir_value_t *v = g->outputs[i];
        for (int d = 0; d < v->shape.rank; d++) {
            ir_dim_t dm = v->shape.dims[d];
            LLVMValueRef x = lw_i64(k, dm.v);
            if (dm.sym >= 0) {
                LLVMValueRef sv = LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, dm.sym)}, 1, ""), "");
                x = LLVMBuildMul(k->b, sv, x, "");
            }
            LLVMBuildStore(k->b, x, LLVMBuildGEP2(k->b, k->i64, dims, (LLVMValueRef[]){lw_i64(k, d)}, 1, ""));
        }
        LLVMBuildRet(k->b, lw_i32(k, 0));
    }
    LLVMPositionBuilderAtEnd(k->b, badi);
    LLVMBuildRet(k->b, lw_i32(k, 1));
}

/* Byte size of every symbolic-sized buffer plus the static region. */
static void build_workspace_size(lw_t *k) {
    char name[256];
    snprintf(name, sizeof name, "%s_workspace_size_impl", k->L->name);
    LLVMTypeRef ft = LLVMFunctionType(k->i64, (LLVMTypeRef[]){k->ptr}, 1, 0);
    LLVMValueRef impl = LLVMAddFunction(k->m, name, ft);
    LLVMSetLinkage(impl, LLVMInternalLinkage);
    begin_function(k, impl);
    k->a_syms = LLVMGetParam(impl, 0);
    start_code(k);
    /* --weights=file: the binding's 64 bytes come first. */
    int64_t head = k->L->weights_file ? 64 : 0;
    LLVMValueRef total = lw_i64(k, k->g->ws_static + head);
    if (k->g->n_dyn_slots > 0) {
        /* Totals past 2^62 (checked in double, which cannot wrap) give SIZE_MAX, which no
         * allocation satisfies; NAME_shapes has checked every dim. */
        LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
        LLVMValueRef dtot = LLVMConstReal(k->f64, (double)(k->g->ws_static + head));
        for (int s = 0; s < k->g->n_dyn_slots; s++) total = LLVMBuildAdd(k->b, total, slot_size(k, s), "");
        for (int i = 0; i < k->g->n_values; i++) {
            const ir_value_t *v = k->g->values[i];
            if (v->storage != IR_ST_WORKSPACE || v->dyn_slot < 0) continue;
            LLVMValueRef dn = LLVMConstReal(k->f64, (double)ir_dtype_size(v->dtype) + 64.0);
            for (int d = 0; d < v->shape.rank; d++)
                dn = LLVMBuildFMul(k->b, dn, LLVMBuildSIToFP(k->b, dim_bound(k, v->shape.dims[d]), k->f64, ""), "");
            dtot = LLVMBuildFAdd(k->b, dtot, dn, "");
        }
        bad = LLVMBuildOr(k->b, bad, LLVMBuildFCmp(k->b, LLVMRealOGT, dtot, LLVMConstReal(k->f64, 4611686018427387904.0), ""), "");
        total = LLVMBuildSelect(k->b, bad, lw_i64(k, -1), total, "");
    }
    LLVMBuildRet(k->b, total);

    /* size_t NAME_workspace_size(const int64_t *syms): SIZE_MAX when the symbols are bad */
    snprintf(name, sizeof name, "%s_workspace_size", k->L->name);
    LLVMValueRef fn = LLVMAddFunction(k->m, name, ft);
    begin_function(k, fn);
    LLVMValueRef syms = LLVMGetParam(fn, 0);
    LLVMValueRef all = all_syms(k, syms);
    start_code(k);
    if (k->g->n_syms > 0) {
        LLVMBasicBlockRef okb = lw_block(k, "ok"), badb = lw_block(k, "bad");
        LLVMValueRef nul = k->g->n_caller_syms ? LLVMBuildIsNull(k->b, syms, "") : LLVMConstInt(k->i1, 0, 0);
        LLVMBuildCondBr(k->b, nul, badb, okb);
        LLVMPositionBuilderAtEnd(k->b, okb);
        LLVMTypeRef sft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr}, 2, 0);
        LLVMValueRef st = LLVMBuildCall2(k->b, sft, shapes_fn(k), (LLVMValueRef[]){syms, all}, 2, "");
        LLVMBasicBlockRef good = lw_block(k, "good");
        LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), badb, good);
        LLVMPositionBuilderAtEnd(k->b, badb);
        LLVMBuildRet(k->b, lw_i64(k, -1));
        LLVMPositionBuilderAtEnd(k->b, good);
        copy_bounds(k, all);
    }
    LLVMBuildRet(k->b, LLVMBuildCall2(k->b, ft, impl, (LLVMValueRef[]){all}, 1, ""));
}

/* Loads element `elem` of graph input i as i64: int32/int64 sign-extended, float32/64
 * as the bits of its float64 value (a float data symbol). */
static LLVMValueRef input_elem(lw_t *k, int i, int64_t elem) {
    const ir_value_t *v = k->g->inputs[i];
    LLVMValueRef pp = LLVMBuildGEP2(k->b, k->ptr, k->a_in, (LLVMValueRef[]){lw_i64(k, i)}, 1, "");
    LLVMValueRef base = LLVMBuildLoad2(k->b, k->ptr, pp, "");
    if (v->dtype == IR_F32 || v->dtype == IR_F64) {
        LLVMTypeRef ft = v->dtype == IR_F32 ? k->f32 : k->f64;
        LLVMValueRef p = LLVMBuildGEP2(k->b, ft, base, (LLVMValueRef[]){lw_i64(k, elem)}, 1, "");
        LLVMValueRef x = LLVMBuildLoad2(k->b, ft, p, "");
        if (v->dtype == IR_F32) x = LLVMBuildFPExt(k->b, x, k->f64, "");
        return LLVMBuildBitCast(k->b, x, k->i64, "");
    }
    LLVMTypeRef et = v->dtype == IR_I32 ? k->i32 : k->i64;
    LLVMValueRef p = LLVMBuildGEP2(k->b, et, base, (LLVMValueRef[]){lw_i64(k, elem)}, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(k->b, et, p, "");
    return v->dtype == IR_I32 ? LLVMBuildSExt(k->b, x, k->i64, "") : x;
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
    LLVMValueRef all = all_syms(k, k->a_syms);
    start_code(k);
    ir_graph_t *g = k->g;
    LLVMBasicBlockRef fail_arg = lw_block(k, "bad_arg"), fail_ws = lw_block(k, "bad_ws"),
                      fail_shape = lw_block(k, "bad_shape");
    /* argument checks: pointers, symbols (NAME_shapes), data symbols against their
     * tensors, workspace alignment */
    LLVMValueRef bad = LLVMConstInt(k->i1, 0, 0);
    if (g->n_inputs) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_in, ""), "");
    if (g->n_outputs) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_out, ""), "");
    if (g->n_caller_syms) bad = LLVMBuildOr(k->b, bad, LLVMBuildIsNull(k->b, k->a_syms, ""), "");
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
    if (g->n_syms > 0) {
        LLVMTypeRef sft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr}, 2, 0);
        LLVMValueRef st = LLVMBuildCall2(k->b, sft, shapes_fn(k), (LLVMValueRef[]){k->a_syms, all}, 2, "");
        LLVMValueRef badsym = LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), "");
        LLVMBasicBlockRef ok2 = lw_block(k, "ok2"), fail_st = lw_block(k, "bad_shapes");
        LLVMBuildCondBr(k->b, badsym, fail_st, ok2);
        LLVMPositionBuilderAtEnd(k->b, fail_st);
        LLVMBuildRet(k->b, st);   /* NAME_shapes's status, with the failing check's number */
        LLVMPositionBuilderAtEnd(k->b, ok2);
        copy_bounds(k, all);
        call_slots(k, all);
        for (int s = 0; s < g->n_caller_syms; s++) {
            const ir_sym_t *d = &g->symdefs[s];
            if (d->kind != IR_SYM_DATA) continue;
            int idx = -1;
            for (int i = 0; i < g->n_inputs; i++)
                if (g->inputs[i] == d->input) idx = i;
            if (idx < 0) continue;
            LLVMValueRef pp = LLVMBuildGEP2(k->b, k->i64, k->a_syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, "");
            LLVMValueRef want = LLVMBuildLoad2(k->b, k->i64, pp, "");
            LLVMValueRef ne = LLVMBuildICmp(k->b, LLVMIntNE, input_elem(k, idx, d->elem), want, "");
            LLVMBasicBlockRef nx = lw_block(k, "okd");
            LLVMBuildCondBr(k->b, ne, fail_shape, nx);
            LLVMPositionBuilderAtEnd(k->b, nx);
        }
    }
    if (g->ws_static > 0 || g->n_dyn_slots > 0 || k->L->weights_file) {
        LLVMValueRef wi = LLVMBuildPtrToInt(k->b, k->a_ws, k->i64, "");
        LLVMValueRef badws = LLVMBuildOr(k->b, LLVMBuildIsNull(k->b, k->a_ws, ""),
                                         LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildAnd(k->b, wi, lw_i64(k, 63), ""),
                                                       lw_i64(k, 0), ""), "");
        LLVMBasicBlockRef ok3 = lw_block(k, "ok3");
        LLVMBuildCondBr(k->b, badws, fail_ws, ok3);
        LLVMPositionBuilderAtEnd(k->b, ok3);
    }
    LLVMBasicBlockRef fail_w = NULL;
    LLVMValueRef ws = k->a_ws;
    if (k->L->weights_file) {
        /* The binding (onnxc_weights_bind): a 64-byte aligned payload address, then the
         * hash of the weights this code was compiled with. The plan's workspace follows. */
        fail_w = lw_block(k, "bad_weights");
        LLVMValueRef wp = LLVMBuildLoad2(k->b, k->ptr, k->a_ws, "");
        LLVMValueRef hp = LLVMBuildGEP2(k->b, k->i64, k->a_ws, (LLVMValueRef[]){lw_i64(k, 1)}, 1, "");
        LLVMValueRef hv = LLVMBuildLoad2(k->b, k->i64, hp, "");
        LLVMValueRef wi = LLVMBuildPtrToInt(k->b, wp, k->i64, "");
        LLVMValueRef badw = LLVMBuildOr(k->b, LLVMBuildIsNull(k->b, wp, ""),
                                        LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildAnd(k->b, wi, lw_i64(k, 63), ""),
                                                      lw_i64(k, 0), ""), "");
        badw = LLVMBuildOr(k->b, badw,
                           LLVMBuildICmp(k->b, LLVMIntNE, hv,
                                         LLVMConstInt(k->i64, (unsigned long long)k->L->weights_hash, 0), ""), "");
        LLVMBasicBlockRef ok4 = lw_block(k, "ok4");
        LLVMBuildCondBr(k->b, badw, fail_w, ok4);
        LLVMPositionBuilderAtEnd(k->b, ok4);
        ws = LLVMBuildGEP2(k->b, k->i8, k->a_ws, (LLVMValueRef[]){lw_i64(k, 64)}, 1, "plan_ws");
    }
    LLVMTypeRef check_t = LLVMFunctionType(k->i32, p, 5, 0);
    for (int i = 0; i < k->n_wrappers; i++) {
        LLVMValueRef args[5] = {k->a_ctx, all, k->a_in, k->a_out, ws};
        if (k->is_check[i]) {
            /* a data check before its node's kernel */
            LLVMValueRef st = LLVMBuildCall2(k->b, check_t, k->wrappers[i], args, 5, "st");
            LLVMBasicBlockRef bad_data = lw_block(k, "bad_data"), next = lw_block(k, "checked");
            LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), bad_data, next);
            LLVMPositionBuilderAtEnd(k->b, bad_data);
            LLVMBuildRet(k->b, st);
            LLVMPositionBuilderAtEnd(k->b, next);
            continue;
        }
        LLVMBuildCall2(k->b, kernel_type(k), k->wrappers[i], args, 5, "");
        /* a kernel that stored a run-time count: what follows from it, before the next */
        bool rt = false;
        for (int s = 0; s < g->n_syms && !rt && k->wnode[i]; s++)
            for (int j = 0; j < k->wnode[i]->n_out; j++)
                rt |= g->symdefs[s].kind == IR_SYM_RUNTIME && g->symdefs[s].input == k->wnode[i]->out[j];
        if (rt) {
            LLVMValueRef st = LLVMBuildCall2(k->b, LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr}, 1, 0), rederive_fn(k),
                                             (LLVMValueRef[]){all}, 1, "");
            LLVMBasicBlockRef nx = lw_block(k, "okr");
            LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), fail_shape, nx);
            LLVMPositionBuilderAtEnd(k->b, nx);
        }
    }
    /* the counts for NAME_output_dims, in the plan's workspace */
    int jrt = 0;
    for (int s = 0; s < g->n_syms; s++) {
        if (g->symdefs[s].kind != IR_SYM_RUNTIME) continue;
        LLVMValueRef v = LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, all, (LLVMValueRef[]){lw_i64(k, s)}, 1, ""), "");
        LLVMBuildStore(k->b, v, LLVMBuildGEP2(k->b, k->i8, ws, (LLVMValueRef[]){lw_i64(k, g->ws_rt_off + 8 * jrt++)}, 1, ""));
    }
    LLVMBuildRet(k->b, lw_i32(k, 0));
    if (fail_w) {
        LLVMPositionBuilderAtEnd(k->b, fail_w);
        LLVMBuildRet(k->b, lw_i32(k, ONNXC_ERR_WEIGHTS));
    }
    LLVMPositionBuilderAtEnd(k->b, fail_arg);
    LLVMBuildRet(k->b, lw_i32(k, 1));
    LLVMPositionBuilderAtEnd(k->b, fail_shape);
    LLVMBuildRet(k->b, lw_i32(k, 2));
    LLVMPositionBuilderAtEnd(k->b, fail_ws);
    LLVMBuildRet(k->b, lw_i32(k, 3));
}

/* const char *const NAME_data_checks[]: the text of each data check, NULL-terminated;
 * status >> 8 of ONNXC_ERR_DATA numbers them from 1. */
/* const char *const NAME_<suffix>[]: texts[0, n) as private string constants, then NULL. */
static void build_string_table(lw_t *k, const char *suffix, char *const *texts, int n) {
    char name[256];
    LLVMValueRef *v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, ".%s.%d", suffix, i);
        LLVMValueRef str = LLVMConstStringInContext2(k->c, texts[i], strlen(texts[i]), 0);
        LLVMValueRef gv = LLVMAddGlobal(k->m, LLVMTypeOf(str), name);
        LLVMSetInitializer(gv, str);
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        v[i] = gv;
    }
    v[n] = LLVMConstPointerNull(k->ptr);
    LLVMValueRef arr = LLVMConstArray2(k->ptr, v, (uint64_t)n + 1);
    snprintf(name, sizeof name, "%s_%s", k->L->name, suffix);
    LLVMValueRef gv = LLVMAddGlobal(k->m, LLVMTypeOf(arr), name);
    LLVMSetInitializer(gv, arr);
    LLVMSetGlobalConstant(gv, 1);
    free(v);
}

/* NAME_shape_checks[]: what each run-time shape check asks, for the number
 * ONNXC_ERR_SHAPE carries. */
static void build_shape_check_table(lw_t *k) {
    ir_graph_t *g = k->g;
    char **texts = calloc((size_t)g->n_checks + 1, sizeof *texts);
    if (!texts) return;
    int n = 0;
    for (int i = 0; i < g->n_checks; i++, n++) {
        const ir_shape_check_t *c = &g->checks[i];
        char a[256], b[256], text[1024];
        ir_dim_str(g, c->a, a, sizeof a);
        ir_dim_str(g, c->b, b, sizeof b);
        snprintf(text, sizeof text, "node '%.200s': the sizes given need %s %s %s", c->what ? c->what : "?", a,
                 c->kind == IR_CHECK_EQ ? "==" : ">=", b);
        if (!(texts[i] = strdup(text))) break;
    }
    if (n == g->n_checks) build_string_table(k, "shape_checks", texts, n);
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
}

/* NAME_data_checks[]: the text of each data check, for ONNXC_ERR_DATA. */
static void build_check_table(lw_t *k) { build_string_table(k, "data_checks", k->checks, k->n_checks); }

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
    k.wnode = calloc(2 * (size_t)k.g->n_nodes + 1, sizeof(ir_node_t *));
    k.symb = calloc((size_t)k.g->n_syms + 1, sizeof(LLVMValueRef));
    if (!k.symv || !k.dynoff || !k.wrappers || !k.is_check || !k.wnode || !k.symb) {
        free(k.wnode);
        free(k.symb);
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
        if (L->progress) L->progress(L->progress_ud, "lowering nodes", i, k.g->n_nodes);
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
        build_shapes(&k);
        build_rederive(&k);
        build_slots(&k);
        build_workspace_size(&k);
        build_run(&k);
        build_output_dims(&k);
        build_check_table(&k);
        build_shape_check_table(&k);
        build_bf16_helpers(&k);
    }
    LLVMDisposeBuilder(k.b);
    free(k.symv);
    free(k.dynoff);
    free(k.wrappers);
    free(k.wnode);
    free(k.symb);
    free(k.is_check);
    for (int i = 0; i < k.n_checks; i++) free(k.checks[i]);
    free(k.checks);
    return refused ? -1 : 0;
}
