/* Einsum as a direct loop nest: the map emitter walks the output, and for each output
 * element an inner nest runs over the summed labels, multiplying one element of every
 * input. A label repeated within one input (a diagonal, 'ii') adds that input's strides
 * of those axes, so diagonals need no special case. Half-precision inputs (bfloat16,
 * float16) accumulate in float32 and round once at the end, as onnxruntime does.
 *
 * This is the general, correct path; contractions big enough to matter are better
 * rewritten to MatMul (which has micro-kernels) by a pass, which is future work. */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

typedef struct {
    ir_einsum_t e;
    bool in_out[IR_EINSUM_MAX_LABELS];   /* label appears in the output */
    bool used[IR_EINSUM_MAX_LABELS];     /* label appears in some input */
    ir_dtype_t acc;                      /* accumulation dtype */
} einsum_t;

static LLVMValueRef label_extent(lw_t *k, const ir_node_t *n, const einsum_t *E, int lab) {
    /* A symbolic extent is read from an input axis that carries it. */
    for (int i = 0; i < E->e.n_in; i++)
        for (int a = 0; a < E->e.rank[i]; a++)
            if (E->e.lab[i][a] == lab && ir_dim_eq(n->in[i]->shape.dims[a], E->e.size[lab])) return lw_dim(k, n->in[i], a);
    return lw_i64(k, E->e.size[lab].v);
}

static LLVMValueRef elem_einsum(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const einsum_t *E = ud;
    const ir_einsum_t *e = &E->e;
    ir_dtype_t t = n->out[0]->dtype, at = E->acc;
    LLVMTypeRef aty = lw_type(k, at);
    bool fl = ir_dtype_is_float(at);
    LLVMValueRef lv[IR_EINSUM_MAX_LABELS] = {0};
    for (int j = 0; j < e->out_rank; j++) lv[e->out_lab[j]] = idx[j];

    LLVMValueRef acc = lw_alloca(k, aty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, at, 0), acc);
    lw_loop_t loops[IR_EINSUM_MAX_LABELS];
    int ns = 0;
    for (int l = 0; l < e->n_labels; l++) {
        if (!E->used[l] || E->in_out[l]) continue;
        lw_loop_begin(k, &loops[ns], lw_i64(k, 0), label_extent(k, n, E, l), "s");
        lv[l] = loops[ns].iv;
        ns++;
    }
    /* Output labels no input uses (only possible for ellipsis dims of width 0) index
     * nothing; give them a value so every input offset is defined. */
    for (int l = 0; l < e->n_labels; l++)
        if (!lv[l]) lv[l] = lw_i64(k, 0);

    LLVMValueRef prod = NULL;
    for (int i = 0; i < e->n_in; i++) {
        const ir_value_t *v = n->in[i];
        LLVMValueRef st[IR_MAX_RANK], off = lw_i64(k, 0);
        lw_strides(k, v, st);
        for (int a = 0; a < e->rank[i]; a++) {
            int lab = e->lab[i][a];
            ir_dim_t d = v->shape.dims[a];
            /* an ellipsis axis of extent 1 broadcasts against a longer one */
            if (ir_dim_is_const(d) && d.v == 1) continue;
            off = LLVMBuildNSWAdd(k->b, off, LLVMBuildNSWMul(k->b, lv[lab], st[a], ""), "");
        }
        LLVMValueRef x = lw_cast(k, lw_load(k, v, off), v->dtype, at);
        prod = !prod ? x : fl ? LLVMBuildFMul(k->b, prod, x, "") : LLVMBuildMul(k->b, prod, x, "");
    }
    LLVMValueRef cur = LLVMBuildLoad2(k->b, aty, acc, "");
    LLVMValueRef sum;
    if (fl) {
        sum = LLVMBuildFAdd(k->b, cur, prod, "");
        /* reassociation lets a summed inner loop vectorize */
        LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    } else {
        sum = LLVMBuildAdd(k->b, cur, prod, "");
    }
    LLVMBuildStore(k->b, sum, acc);
    for (int q = ns - 1; q >= 0; q--) lw_loop_end(k, &loops[q]);
    return lw_cast(k, LLVMBuildLoad2(k->b, aty, acc, ""), at, t);
}

int lw_lower_einsum(lw_t *k, const ir_node_t *n) {
    einsum_t E;
    memset(&E, 0, sizeof E);
    if (ir_einsum_parse(k->g, n, &E.e)) return -1;
    for (int j = 0; j < E.e.out_rank; j++) E.in_out[E.e.out_lab[j]] = true;
    for (int i = 0; i < E.e.n_in; i++)
        for (int a = 0; a < E.e.rank[i]; a++) E.used[E.e.lab[i][a]] = true;
    ir_dtype_t t = n->out[0]->dtype;
    E.acc = (t == IR_BF16 || t == IR_F16) ? IR_F32 : t;
    return lw_emit_map(k, n, n->out[0], elem_einsum, &E);
}
