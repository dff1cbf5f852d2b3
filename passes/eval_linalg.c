/* Reference evaluations of Det and MaxUnpool, the kernels' algorithms
 * (backends/llvm/lower_linalg.c): Det by Gaussian elimination with partial pivoting in
 * double (the first largest |pivot| in the column; a zero pivot gives 0); MaxUnpool writes
 * zeros, then X's elements at their flat indices (into the unpooled block, placed at the
 * output's top-left corner) in order, skipping indices outside the block. */
#include "passes/eval_int.h"

static double det_lu(double *a, int64_t M) {
    double det = 1;
    for (int64_t c = 0; c < M; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < M; r++)
            if (fabs(a[r * M + c]) > fabs(a[p * M + c])) p = r;
        if (a[p * M + c] == 0) return 0;
        if (p != c) {
            for (int64_t j = 0; j < M; j++) {
                double t = a[c * M + j];
                a[c * M + j] = a[p * M + j];
                a[p * M + j] = t;
            }
            det = -det;
        }
        det *= a[c * M + c];
        for (int64_t r = c + 1; r < M; r++) {
            double f = a[r * M + c] / a[c * M + c];
            for (int64_t j = c; j < M; j++) a[r * M + j] -= f * a[c * M + j];
        }
    }
    return det;
}

int eval_det(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s) || s.r < 2 || s.d[s.r - 1] != s.d[s.r - 2] || !ir_dtype_is_float(n->in[0]->dtype)) return 0;
    const ir_value_t *x = n->in[0];
    int64_t M = s.d[s.r - 1];
    sh_t o = s;
    o.r -= 2;
    if (!res_alloc(g, r, x->dtype, &o) || !work_ok(r->numel, M * M * M)) return 0;
    double *a = malloc(sizeof(double) * (size_t)(M * M));
    if (!a) return 0;
    for (int64_t b = 0; b < r->numel; b++) {
        for (int64_t i = 0; i < M * M; i++) a[i] = ld_f(x->dtype, x->data, b * M * M + i);
        st_f(x->dtype, r->buf, b, det_lu(a, M));
    }
    free(a);
    return 1;
}

int eval_maxunpool(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, o, f;
    ir_shape_t os, inf;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &o)) return 0;
    if (ir_maxunpool_shape(g, n, &os, &inf)) return -1;
    const ir_value_t *x = n->in[0], *ind = n->in[1];
    if (!get_sh(&os, &o) || !get_sh(&inf, &f) || !res_alloc(g, r, x->dtype, &o)) return 0;
    int64_t ne = sh_numel(&s), nf = sh_numel(&f), ost[IR_MAX_RANK];
    row_strides(&o, ost);
    size_t es = ir_dtype_size(x->dtype);
    for (int64_t i = 0; i < ne; i++) {
        int64_t j = ld_i(IR_I64, ind->data, i), off = 0;
        if (j < 0 || j >= nf) continue;
        for (int d = f.r - 1; d >= 0; d--) {   /* j's coordinates in the unpooled block */
            off += (j % f.d[d]) * ost[d];
            j /= f.d[d];
        }
        cp_el(r->buf, off, x->data, i, es);
    }
    return 1;
}
