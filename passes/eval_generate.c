/* Reference evaluations of the generators: window functions (ir_window_value, the same
 * double-precision formula the kernel evaluates) and EyeLike. EyeLike reads only its
 * input's shape, so it folds whenever that shape is static (pass_eval_node still wants
 * the input constant; a computed input leaves it to the kernel). */
#include "passes/eval_int.h"

int eval_window_fn(ir_graph_t *g, ir_node_t *n, res_t *r) {
    int64_t size;
    if (ir_window_size(g, n, &size)) return -1;
    ir_dtype_t t = (ir_dtype_t)ir_attr_int(n, "output_datatype", IR_F32);
    sh_t s = {1, {size}};
    if (!res_alloc(g, r, t, &s)) return 0;
    bool periodic = ir_attr_int(n, "periodic", 1) != 0;
    for (int64_t i = 0; i < size; i++) st_f(t, r->buf, i, ir_window_value(n->op, i, size, periodic));
    return 1;
}

int eval_eye_like(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!get_sh(&n->in[0]->shape, &s) || s.r != 2) return 0;
    ir_dtype_t t = (ir_dtype_t)ir_attr_int(n, "dtype", n->in[0]->dtype);
    if (!res_alloc(g, r, t, &s)) return 0;
    int64_t k = ir_attr_int(n, "k", 0);
    for (int64_t i = 0; i < s.d[0]; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < s.d[1]) st_i(t, r->buf, i * s.d[1] + j, 1);   /* the rest is zeroed */
    }
    return 1;
}
