/* Control flow: If, Loop and Scan (docs/control-flow.md).
 *
 * Each body was compiled by the passes as a graph of its own (ir/infer_ctrl.c); here it
 * is lowered into the same module as a model of its own, NAME_n<node>_s<k>_run, with its
 * own constants, and the node becomes one serial function that calls it: If once on the
 * branch the condition picks, Loop and Scan once per iteration. The body runs in the
 * node's scratch (its last output): the body's workspace, then a second buffer for every
 * loop-carried value. Iterations alternate between the node's output and that buffer, so
 * nothing is allocated or copied per iteration; scan outputs are written by the body
 * straight into their slot of the node's output. A body's nonzero status ends the run
 * with that status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/outcode.h"
#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

/* Loops stop with ONNXC_ERR_DATA past this many iterations whatever M says: a model
 * whose loop never ends (M absent or INT64_MAX, a condition that stays true) fails
 * instead of hanging. */
#define LOOP_CAP ((int64_t)1 << 31)

static int64_t align64(int64_t x) { return (x + 63) & ~(int64_t)63; }

static int64_t nbytes(const ir_value_t *v) { return ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(v->dtype); }

/* Lowers body si of n into the module; its run function, or NULL after an error. */
static LLVMValueRef body_fn(lw_t *k, const ir_node_t *n, int si) {
    ir_graph_t *b = n->subs[si];
    char name[256], fname[300], err[512];
    snprintf(name, sizeof name, "%s_n%d_s%d", k->L->name, n->id, si);
    for (int s = 0; s < b->n_syms; s++)
        if (b->symdefs[s].kind != IR_SYM_DATA && s < b->n_caller_syms)
            return lw_error(k, "body '%s' has symbolic input shapes; not supported yet", b->name), NULL;
    unsigned char *bytes = NULL;
    size_t size = 0;
    if (out_weights_blob(b, &bytes, &size, err, sizeof err)) return lw_error(k, "body '%s': %s", b->name, err), NULL;
    llvm_lower_t L = *k->L;
    L.g = b;
    L.name = name;
    L.weights_file = false;
    L.blob = NULL;
    if (bytes) {
        LLVMValueRef init = LLVMConstStringInContext2(k->c, (const char *)bytes, size, 1);
        snprintf(fname, sizeof fname, "%s_weights", name);
        L.blob = LLVMAddGlobal(k->m, LLVMTypeOf(init), fname);
        LLVMSetInitializer(L.blob, init);
        LLVMSetGlobalConstant(L.blob, 1);
        LLVMSetLinkage(L.blob, LLVMPrivateLinkage);
        LLVMSetAlignment(L.blob, 64);
        free(bytes);
    }
    int rc = llvm_lower_graph(&L);
    ir_diags_move(&k->g->diags, &b->diags);
    if (rc) return lw_error(k, "body '%s' cannot be lowered (see above)", b->name), NULL;
    snprintf(fname, sizeof fname, "%s_run", name);
    LLVMValueRef fn = LLVMGetNamedFunction(k->m, fname);
    if (!fn) return lw_error(k, "internal error: no %s", fname), NULL;
    return fn;
}

/* Element elem of a tensor at p as the i64 a data symbol holds. */
static LLVMValueRef elem_i64(lw_t *k, LLVMValueRef p, ir_dtype_t dt, int64_t elem) {
    if (dt == IR_F32 || dt == IR_F64) {
        LLVMTypeRef ft = dt == IR_F32 ? k->f32 : k->f64;
        LLVMValueRef x = LLVMBuildLoad2(k->b, ft, LLVMBuildGEP2(k->b, ft, p, (LLVMValueRef[]){lw_i64(k, elem)}, 1, ""), "");
        if (dt == IR_F32) x = LLVMBuildFPExt(k->b, x, k->f64, "");
        return LLVMBuildBitCast(k->b, x, k->i64, "");
    }
    LLVMTypeRef et = lw_type(k, dt);
    LLVMValueRef x = LLVMBuildLoad2(k->b, et, LLVMBuildGEP2(k->b, et, p, (LLVMValueRef[]){lw_i64(k, elem)}, 1, ""), "");
    if (et == k->i64) return x;
    return ir_dtype_is_signed(dt) ? LLVMBuildSExt(k->b, x, k->i64, "") : LLVMBuildZExt(k->b, x, k->i64, "");
}

/* Calls body b (run function fn) on the given input and output pointers in workspace
 * ws; its status (i32). The body's data symbols (elements of its inputs that it uses as
 * sizes, a Slice start from the iteration number) are read from those inputs. */
static LLVMValueRef call_body(lw_t *k, LLVMValueRef fn, const ir_graph_t *b, LLVMValueRef *ins, LLVMValueRef *outs,
                              LLVMValueRef ws) {
    LLVMValueRef ia = lw_alloca(k, LLVMArrayType2(k->ptr, (uint64_t)b->n_inputs + 1), "body_in");
    LLVMValueRef oa = lw_alloca(k, LLVMArrayType2(k->ptr, (uint64_t)b->n_outputs + 1), "body_out");
    for (int i = 0; i < b->n_inputs; i++)
        LLVMBuildStore(k->b, ins[i], LLVMBuildGEP2(k->b, k->ptr, ia, (LLVMValueRef[]){lw_i64(k, i)}, 1, ""));
    for (int i = 0; i < b->n_outputs; i++)
        LLVMBuildStore(k->b, outs[i], LLVMBuildGEP2(k->b, k->ptr, oa, (LLVMValueRef[]){lw_i64(k, i)}, 1, ""));
    LLVMValueRef syms = LLVMConstNull(k->ptr);
    if (b->n_caller_syms) {
        syms = lw_alloca(k, LLVMArrayType2(k->i64, (uint64_t)b->n_caller_syms), "body_syms");
        for (int s = 0; s < b->n_caller_syms; s++) {
            const ir_sym_t *d = &b->symdefs[s];
            int idx = -1;
            for (int i = 0; i < b->n_inputs; i++)
                if (b->inputs[i] == d->input) idx = i;
            LLVMValueRef x = idx < 0 ? lw_i64(k, 0) : elem_i64(k, ins[idx], b->inputs[idx]->dtype, d->elem);
            LLVMBuildStore(k->b, x, LLVMBuildGEP2(k->b, k->i64, syms, (LLVMValueRef[]){lw_i64(k, s)}, 1, ""));
        }
    }
    LLVMTypeRef ft = LLVMFunctionType(k->i32, (LLVMTypeRef[]){k->ptr, k->ptr, k->ptr, k->ptr, k->ptr}, 5, 0);
    return LLVMBuildCall2(k->b, ft, fn, (LLVMValueRef[]){k->a_ctx, syms, ia, oa, ws}, 5, "st");
}

/* Returns st from the node's function when it is nonzero. */
static void pass_status(lw_t *k, LLVMValueRef st) {
    LLVMBasicBlockRef bad = lw_block(k, "body_failed"), ok = lw_block(k, "body_ok");
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, st, lw_i32(k, 0), ""), bad, ok);
    LLVMPositionBuilderAtEnd(k->b, bad);
    LLVMBuildRet(k->b, st);
    LLVMPositionBuilderAtEnd(k->b, ok);
}

static LLVMValueRef at(lw_t *k, LLVMValueRef base, LLVMValueRef off) {
    return LLVMBuildGEP2(k->b, k->i8, base, &off, 1, "");
}

int lw_lower_if(lw_t *k, const ir_node_t *n) {
    LLVMValueRef fns[2];
    const ir_graph_t *br[2];
    for (int j = 0; j < 2; j++) {
        const ir_attr_t *a = ir_attr_find(n, j ? "else_branch" : "then_branch");
        br[j] = n->subs[a->i];
        if (!(fns[j] = body_fn(k, n, (int)a->i))) return -1;
    }
    if (lw_check_begin(k, n, "a branch failed")) return -1;
    LLVMValueRef ws = lw_base(k, n->scratch);
    LLVMValueRef c = LLVMBuildLoad2(k->b, k->i8, lw_base(k, n->in[0]), "cond");
    LLVMBasicBlockRef bb[2] = {lw_block(k, "then"), lw_block(k, "else")};
    LLVMBuildCondBr(k->b, LLVMBuildICmp(k->b, LLVMIntNE, c, LLVMConstInt(k->i8, 0, 0), ""), bb[0], bb[1]);
    for (int j = 0; j < 2; j++) {
        LLVMPositionBuilderAtEnd(k->b, bb[j]);
        LLVMValueRef *in = NULL, *out = NULL;
        in = calloc((size_t)br[j]->n_inputs + 1, sizeof *in);
        out = calloc((size_t)br[j]->n_outputs + 1, sizeof *out);
        if (!in || !out) {
            free(in);
            free(out);
            return lw_error(k, "out of memory");
        }
        for (int i = 0; i < br[j]->n_inputs; i++) in[i] = lw_base(k, n->in[br[j]->imp_first + i]);
        for (int i = 0; i < br[j]->n_outputs; i++) out[i] = lw_base(k, n->out[i]);
        LLVMValueRef st = call_body(k, fns[j], br[j], in, out, ws);
        free(in);
        free(out);
        LLVMBuildRet(k->b, st);
    }
    /* lw_check_end needs a block to end: an empty one nothing reaches */
    LLVMPositionBuilderAtEnd(k->b, lw_block(k, "unreachable"));
    lw_check_end(k);
    return 0;
}

/* Loop and Scan: iterate the body over carried values (nc of them, entering as node
 * inputs first .. first+nc, leaving as node outputs 0 .. nc). */
typedef struct loop_bufs {
    LLVMValueRef cur[64], nxt[64], home[64];   /* allocas holding pointers; the node's outputs */
    int64_t size[64];
} loop_bufs_t;

static int carried_setup(lw_t *k, const ir_node_t *n, const ir_graph_t *b, int first_in, int first_body, int nc,
                         loop_bufs_t *lb, LLVMValueRef ws) {
    if (nc > 64) return lw_error(k, "more than 64 loop-carried values");
    int64_t off = b->ws_static;
    for (int j = 0; j < nc; j++) {
        const ir_value_t *v = b->inputs[first_body + j];
        off = align64(off);
        lb->size[j] = nbytes(v);
        lb->home[j] = lw_base(k, n->out[j]);
        LLVMBuildMemMove(k->b, lb->home[j], 1, lw_base(k, n->in[first_in + j]), 1, lw_i64(k, lb->size[j]));
        lb->cur[j] = lw_alloca(k, k->ptr, "cur");
        lb->nxt[j] = lw_alloca(k, k->ptr, "nxt");
        LLVMBuildStore(k->b, lb->home[j], lb->cur[j]);
        LLVMBuildStore(k->b, at(k, ws, lw_i64(k, off)), lb->nxt[j]);
        off += lb->size[j];
    }
    return 0;
}

static void carried_swap(lw_t *k, loop_bufs_t *lb, int nc) {
    for (int j = 0; j < nc; j++) {
        LLVMValueRef a = LLVMBuildLoad2(k->b, k->ptr, lb->cur[j], ""), b = LLVMBuildLoad2(k->b, k->ptr, lb->nxt[j], "");
        LLVMBuildStore(k->b, b, lb->cur[j]);
        LLVMBuildStore(k->b, a, lb->nxt[j]);
    }
}

static void carried_finish(lw_t *k, loop_bufs_t *lb, int nc) {
    for (int j = 0; j < nc; j++)
        LLVMBuildMemMove(k->b, lb->home[j], 1, LLVMBuildLoad2(k->b, k->ptr, lb->cur[j], ""), 1, lw_i64(k, lb->size[j]));
}

int lw_lower_loop(lw_t *k, const ir_node_t *n) {
    const ir_graph_t *b = n->subs[ir_attr_find(n, "body")->i];
    LLVMValueRef fn = body_fn(k, n, (int)ir_attr_find(n, "body")->i);
    if (!fn) return -1;
    int nc = b->n_formal - 2, ns = b->n_outputs - 1 - nc, nimp = b->n_inputs - b->n_formal;
    char what[128];
    snprintf(what, sizeof what, "the loop ran %lld iterations without ending", (long long)LOOP_CAP);
    if (lw_check_begin(k, n, what)) return -1;
    LLVMValueRef ws = lw_base(k, n->scratch);
    loop_bufs_t lb;
    if (carried_setup(k, n, b, 2, 2, nc, &lb, ws)) return -1;
    LLVMValueRef m = lw_i64(k, INT64_MAX);
    if (n->in[0]) {
        LLVMTypeRef mt = lw_type(k, n->in[0]->dtype);
        m = LLVMBuildLoad2(k->b, mt, lw_base(k, n->in[0]), "M");
        if (mt != k->i64) m = LLVMBuildSExt(k->b, m, k->i64, "");
    }
    LLVMValueRef cond = lw_alloca(k, k->i8, "cond"), iter = lw_alloca(k, k->i64, "iter"),
                 cin = lw_alloca(k, k->i8, "cond_in"), cout = lw_alloca(k, k->i8, "cond_out"),
                 iv = lw_alloca(k, k->i64, "i");
    LLVMBuildStore(k->b, n->in[1] ? LLVMBuildLoad2(k->b, k->i8, lw_base(k, n->in[1]), "") : LLVMConstInt(k->i8, 1, 0), cond);
    LLVMBuildStore(k->b, lw_i64(k, 0), iv);
    LLVMBasicBlockRef head = lw_block(k, "loop_head"), body = lw_block(k, "loop_body"), done = lw_block(k, "loop_done");
    LLVMBuildBr(k->b, head);
    LLVMPositionBuilderAtEnd(k->b, head);
    LLVMValueRef i = LLVMBuildLoad2(k->b, k->i64, iv, "i");
    LLVMValueRef go = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, i, m, ""),
                                   LLVMBuildICmp(k->b, LLVMIntNE, LLVMBuildLoad2(k->b, k->i8, cond, ""),
                                                 LLVMConstInt(k->i8, 0, 0), ""), "");
    LLVMBuildCondBr(k->b, go, body, done);
    LLVMPositionBuilderAtEnd(k->b, body);
    lw_check_fail_if(k, LLVMBuildICmp(k->b, LLVMIntSGE, i, lw_i64(k, LOOP_CAP), ""));
    LLVMBuildStore(k->b, i, iter);
    LLVMBuildStore(k->b, LLVMBuildLoad2(k->b, k->i8, cond, ""), cin);
    LLVMValueRef ins[128], outs[128];
    if (b->n_inputs > 128 || b->n_outputs > 128) return lw_error(k, "a body with more than 128 inputs or outputs");
    ins[0] = iter;
    ins[1] = cin;
    for (int j = 0; j < nc; j++) ins[2 + j] = LLVMBuildLoad2(k->b, k->ptr, lb.cur[j], "");
    for (int j = 0; j < nimp; j++) ins[b->n_formal + j] = lw_base(k, n->in[b->imp_first + j]);
    outs[0] = cout;
    for (int j = 0; j < nc; j++) outs[1 + j] = LLVMBuildLoad2(k->b, k->ptr, lb.nxt[j], "");
    for (int j = 0; j < ns; j++) {
        const ir_value_t *o = b->outputs[1 + nc + j];
        outs[1 + nc + j] = at(k, lw_base(k, n->out[nc + j]), LLVMBuildMul(k->b, i, lw_i64(k, nbytes(o)), ""));
    }
    pass_status(k, call_body(k, fn, b, ins, outs, ws));
    LLVMBuildStore(k->b, LLVMBuildLoad2(k->b, k->i8, cout, ""), cond);
    carried_swap(k, &lb, nc);
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, i, lw_i64(k, 1), ""), iv);
    LLVMBuildBr(k->b, head);
    LLVMPositionBuilderAtEnd(k->b, done);
    carried_finish(k, &lb, nc);
    if (ns) lw_set_runtime(k, n->out[nc], LLVMBuildLoad2(k->b, k->i64, iv, ""));
    lw_check_end(k);
    if (ns) lw_add_marker(k, n);
    return 0;
}

int lw_lower_scan(lw_t *k, const ir_node_t *n) {
    const ir_graph_t *b = n->subs[ir_attr_find(n, "body")->i];
    LLVMValueRef fn = body_fn(k, n, (int)ir_attr_find(n, "body")->i);
    if (!fn) return -1;
    int nsi = (int)ir_attr_int(n, "num_scan_inputs", 1), nc = b->n_formal - nsi, nso = b->n_outputs - nc,
        nimp = b->n_inputs - b->n_formal;
    if (b->n_inputs > 128 || b->n_outputs > 128) return lw_error(k, "a body with more than 128 inputs or outputs");
    const int64_t *idir = NULL, *odir = NULL;
    int nid = ir_attr_ints(n, "scan_input_directions", &idir), nod = ir_attr_ints(n, "scan_output_directions", &odir);
    if (lw_check_begin(k, n, "the body failed")) return -1;
    LLVMValueRef ws = lw_base(k, n->scratch);
    loop_bufs_t lb;
    if (carried_setup(k, n, b, 0, 0, nc, &lb, ws)) return -1;
    LLVMValueRef t = lw_dim_value(k, n->in[nc]->shape.dims[0]);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), t, "step");
    LLVMValueRef rev = LLVMBuildSub(k->b, LLVMBuildSub(k->b, t, lw_i64(k, 1), ""), l.iv, "");
    LLVMValueRef ins[128], outs[128];
    for (int j = 0; j < nc; j++) ins[j] = LLVMBuildLoad2(k->b, k->ptr, lb.cur[j], "");
    for (int j = 0; j < nsi; j++) {
        LLVMValueRef idx = nid > 0 && idir[j] ? rev : l.iv;
        ins[nc + j] = at(k, lw_base(k, n->in[nc + j]), LLVMBuildMul(k->b, idx, lw_i64(k, nbytes(b->inputs[nc + j])), ""));
    }
    for (int j = 0; j < nimp; j++) ins[b->n_formal + j] = lw_base(k, n->in[b->imp_first + j]);
    for (int j = 0; j < nc; j++) outs[j] = LLVMBuildLoad2(k->b, k->ptr, lb.nxt[j], "");
    for (int j = 0; j < nso; j++) {
        LLVMValueRef idx = nod > 0 && odir[j] ? rev : l.iv;
        outs[nc + j] = at(k, lw_base(k, n->out[nc + j]), LLVMBuildMul(k->b, idx, lw_i64(k, nbytes(b->outputs[nc + j])), ""));
    }
    pass_status(k, call_body(k, fn, b, ins, outs, ws));
    carried_swap(k, &lb, nc);
    lw_loop_end(k, &l);
    carried_finish(k, &lb, nc);
    lw_check_end(k);
    return 0;
}
