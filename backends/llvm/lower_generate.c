/* Generators: window functions (the point's formula in double, ir_window_value's) and
 * EyeLike (1 where column - row == k), as maps over the output. */
#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

typedef struct { int64_t size; bool periodic; } window_t;

static LLVMValueRef dcos(lw_t *k, LLVMValueRef x) { return lw_fmath(k, "llvm.cos", IR_F64, x); }

static LLVMValueRef elem_window(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const window_t *w = ud;
    /* N = size (periodic) or size - 1: from the output's length, a constant or run-time dim */
    LLVMValueRef N = LLVMBuildSIToFP(k->b, LLVMBuildSub(k->b, lw_dim(k, n->out[0], 0), lw_i64(k, w->periodic ? 0 : 1), ""),
                                     k->f64, "");
    LLVMValueRef x = LLVMBuildFDiv(k->b, LLVMBuildFMul(k->b, LLVMBuildSIToFP(k->b, idx[0], k->f64, ""),
                                                       LLVMConstReal(k->f64, 2 * 3.14159265358979323846), ""), N, "");
    x = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, N, LLVMConstReal(k->f64, 0), ""), x,
                        LLVMConstReal(k->f64, 0.0), "");
    LLVMValueRef c1 = dcos(k, x), v;
#define C(v_) LLVMConstReal(k->f64, (v_))
    switch (n->op) {
    case IR_OP_HANN_WINDOW: v = LLVMBuildFSub(k->b, C(0.5), LLVMBuildFMul(k->b, C(0.5), c1, ""), ""); break;
    case IR_OP_HAMMING_WINDOW:
        v = LLVMBuildFSub(k->b, C(25.0 / 46.0), LLVMBuildFMul(k->b, C(1 - 25.0 / 46.0), c1, ""), "");
        break;
    default: {
        LLVMValueRef c2 = dcos(k, LLVMBuildFMul(k->b, C(2.0), x, ""));
        v = LLVMBuildFAdd(k->b, LLVMBuildFSub(k->b, C(0.42), LLVMBuildFMul(k->b, C(0.5), c1, ""), ""),
                          LLVMBuildFMul(k->b, C(0.08), c2, ""), "");
    }
    }
#undef C
    return lw_cast(k, v, IR_F64, n->out[0]->dtype);
}

int lw_lower_window_fn(lw_t *k, const ir_node_t *n) {
    window_t w = {0, ir_attr_int(n, "periodic", 1) != 0};
    return lw_emit_map(k, n, n->out[0], elem_window, &w);
}

static LLVMValueRef elem_eye(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    (void)ud;
    LLVMValueRef on = LLVMBuildICmp(k->b, LLVMIntEQ, LLVMBuildSub(k->b, idx[1], idx[0], ""),
                                    lw_i64(k, ir_attr_int(n, "k", 0)), "");
    ir_dtype_t t = n->out[0]->dtype;
    return LLVMBuildSelect(k->b, on, lw_const_f(k, t, 1), lw_const_f(k, t, 0), "");
}

int lw_lower_eye_like(lw_t *k, const ir_node_t *n) {
    ir_dtype_t t = n->out[0]->dtype;
    if (t == IR_BOOL || t == IR_F16 || t == IR_BF16)
        return lw_error(k, "EyeLike producing %s is not supported", ir_dtype_name(t));
    return lw_emit_map(k, n, n->out[0], elem_eye, NULL);
}
