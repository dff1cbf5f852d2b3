/* Reference evaluations of Col2Im, CenterCropPad and AffineGrid, over plain loops with the
 * kernels' arithmetic (backends/llvm/lower_image.c). Col2Im gathers: each image element
 * sums the column entries of every (block, kernel offset) pair that lands on it, in
 * kernel-offset order. AffineGrid's base coordinates are linspace(-1, 1, S) with
 * align_corners (-1 for S = 1, as the ONNX reference; onnxruntime gives +1 there), else
 * the pixel centres (2i + 1) / S - 1. */
#include "passes/eval_int.h"

int eval_col2im(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    ir_col2im_t p;
    if (ir_col2im_params(g, n, &p)) return -1;
    const ir_value_t *x = n->in[0];
    if (!ir_dtype_is_float(x->dtype)) return 0;
    sh_t o = {p.ns + 2, {s.d[0], p.C}};
    for (int d = 0; d < p.ns; d++) o.d[2 + d] = p.img[d];
    if (!res_alloc(g, &r[0], x->dtype, &o) || !work_ok(sh_numel(&o), p.K)) return 0;
    int64_t npix = r[0].numel / (s.d[0] * p.C);
    for (int64_t e = 0; e < r[0].numel; e++) {
        int64_t pix = e % npix, nc = e / npix, pos[IR_MAX_RANK];
        int64_t q = pix;
        for (int d = p.ns - 1; d >= 0; d--) {
            pos[d] = q % p.img[d];
            q /= p.img[d];
        }
        double acc = 0;
        for (int64_t kk = 0; kk < p.K; kk++) {
            int64_t l = 0, rem = kk, kd[IR_MAX_RANK];
            for (int d = p.ns - 1; d >= 0; d--) {
                kd[d] = rem % p.blk[d];
                rem /= p.blk[d];
            }
            bool ok = true;
            for (int d = 0; d < p.ns && ok; d++) {
                int64_t num = pos[d] + p.pb[d] - kd[d] * p.dil[d];
                ok = num >= 0 && num % p.str[d] == 0 && num / p.str[d] < p.nb[d];
                l = l * p.nb[d] + (ok ? num / p.str[d] : 0);
            }
            if (!ok) continue;
            int64_t nn = nc / p.C, c = nc % p.C;
            acc += ld_f(x->dtype, x->data, (nn * p.C * p.K + c * p.K + kk) * p.L + l);
        }
        st_f(x->dtype, r[0].buf, e, acc);
    }
    return 1;
}

int eval_center_crop_pad(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t off[IR_MAX_RANK];
    ir_shape_t os;
    if (ir_center_crop_params(g, n, off, &os)) return -1;
    const ir_value_t *x = n->in[0];
    sh_t o;
    if (!get_sh(&os, &o) || !res_alloc(g, &r[0], x->dtype, &o)) return 0;
    int64_t ist[IR_MAX_RANK];
    row_strides(&s, ist);
    size_t es = ir_dtype_size(x->dtype);
    for (int64_t e = 0; e < r[0].numel; e++) {
        int64_t rem = e, src = 0;
        bool in = true;
        for (int d = o.r - 1; d >= 0; d--) {
            int64_t i = rem % o.d[d] + off[d];
            rem /= o.d[d];
            in = in && i >= 0 && i < s.d[d];
            src += i * ist[d];
        }
        if (in) cp_el(r[0].buf, e, x->data, src, es);   /* else the zeroed arena memory */
    }
    return 1;
}

static double grid_coord(int64_t i, int64_t S, bool align) {
    if (align) return S == 1 ? -1.0 : -1.0 + 2.0 * (double)i / (double)(S - 1);
    return (2.0 * (double)i + 1.0) / (double)S - 1.0;
}

int eval_affine_grid(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t size[5];
    int ns;
    if (ir_affine_grid_params(g, n, size, &ns)) return -1;
    const ir_value_t *th = n->in[0];
    bool align = ir_attr_int(n, "align_corners", 0) != 0;
    sh_t o = {ns + 2, {size[0]}};
    for (int i = 0; i < ns; i++) o.d[1 + i] = size[2 + i];
    o.d[ns + 1] = ns;
    if (!res_alloc(g, &r[0], th->dtype, &o)) return 0;
    int64_t npos = r[0].numel / (size[0] * ns);
    for (int64_t e = 0; e < r[0].numel; e++) {
        int64_t comp = e % ns, pos = (e / ns) % npos, b = e / ns / npos;
        /* base point (x, y[, z], 1): x runs along the last spatial axis */
        double pt[4];
        int64_t rem = pos;
        for (int a = ns - 1; a >= 0; a--) {
            int64_t S = size[2 + a];
            pt[ns - 1 - a] = grid_coord(rem % S, S, align);
            rem /= S;
        }
        pt[ns] = 1.0;
        double acc = 0;
        for (int j = 0; j <= ns; j++) acc += ld_f(th->dtype, th->data, (b * ns + comp) * (ns + 1) + j) * pt[j];
        st_f(th->dtype, r[0].buf, e, acc);
    }
    return 1;
}
