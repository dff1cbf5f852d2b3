/* Data movement as copy kernels, and one-thread-per-output kernels for contractions,
 * windows, reductions and normalisations: correct for every shape, and the fallback for
 * the shapes the tuned library (backends/cuda/lib) refuses. Each output element is
 * computed by one thread, so a kernel's fused post-ops apply to it in the same thread
 * (cu_post), exactly as the library's epilogue functors will. Shapes are static: every
 * size and stride below is a literal in the generated source. */
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cu_int.h"
#include "ir/infer_util.h"

#define B (&c->body)

static int norm_axis(int64_t a, int r) { return (int)(a < 0 ? a + r : a); }

static void strides(const ir_value_t *v, int64_t *st) {
    int64_t s = 1;
    for (int d = v->shape.rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= v->shape.dims[d].v;
    }
}

static int const_ints(const ir_value_t *v, int64_t *out, int max) {
    return v ? ir_const_ints(v, out, max) : -2;
}

/* Ends the body of a kernel whose value `x` (compute type of out[0]) is the element at
 * flat index i (coordinates c*): post-ops, store, launch over out's elements. */
static int finish(cu_t *c, const ir_node_t *n, const ir_value_t *out, const char *x) {
    char var[32];
    if (out == n->out[0]) {
        if (cu_post(c, n, x, "c", var)) return -1;
    } else {
        snprintf(var, sizeof var, "%s", x);
    }
    int k = cu_pw(c, out);
    ir_dtype_t st = out == n->out[0] && n->n_post && !n->post[n->n_post - 1].node ? n->post[n->n_post - 1].to : out->dtype;
    (void)st;
    if (out->dtype == IR_BOOL) out_sb_printf(B, "        p%d[i] = (uint8_t)(%s ? 1 : 0);\n", k, var);
    else out_sb_printf(B, "        p%d[i] = (%s)%s;\n", k, cu_ctype(out->dtype), var);
    return cu_kend_elems(c, cu_numel(out));
}

/* x = in[offset expression], then finish. */
static int gather_finish(cu_t *c, const ir_node_t *n, const ir_value_t *in, const ir_value_t *out, out_sbuf_t *off) {
    int k = cu_p(c, in);
    out_sb_printf(B, "        %s x = p%d[%s];\n", in->dtype == IR_BOOL ? "uint8_t" : cu_comptype(in->dtype), k, off->p ? off->p : "0");
    free(off->p);
    return finish(c, n, out, in->dtype == IR_BOOL ? "(x != 0)" : "x");
}

/* ---------------------------------------------------------------- copies */
int cu_lower_copy(cu_t *c, const ir_node_t *n) {
    out_sbuf_t off = {0};
    cu_coords(c, &n->out[0]->shape, "i", "c");
    out_sb_printf(&off, "i");
    return gather_finish(c, n, n->in[0], n->out[0], &off);
}

/* offset into `in` of index ii[d] (C expressions) */
static void offset_of(out_sbuf_t *b, const ir_value_t *in, char ii[][96]) {
    int64_t st[IR_MAX_RANK];
    strides(in, st);
    out_sb_printf(b, "(0");
    for (int d = 0; d < in->shape.rank; d++)
        if (in->shape.dims[d].v != 1) out_sb_printf(b, " + (%s) * %lldLL", ii[d], (long long)st[d]);
    out_sb_printf(b, ")");
}

int cu_lower_transpose(cu_t *c, const ir_node_t *n) {
    const ir_value_t *in = n->in[0], *out = n->out[0];
    int r = in->shape.rank;
    const int64_t *perm;
    int np = ir_attr_ints(n, "perm", &perm);
    char ii[IR_MAX_RANK][96];
    cu_coords(c, &out->shape, "i", "c");
    for (int d = 0; d < r; d++) {
        int src = np == r ? (int)perm[d] : r - 1 - d;   /* out dim d reads in dim perm[d] */
        snprintf(ii[src], sizeof ii[src], "c%d", d);
    }
    out_sbuf_t off = {0};
    offset_of(&off, in, ii);
    return gather_finish(c, n, in, out, &off);
}

int cu_lower_expand(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    cu_coords(c, &out->shape, "i", "c");
    out_sbuf_t off = {0};
    cu_bcast_off(c, &off, n->in[0], out->shape.rank, &out->shape, "c");
    return gather_finish(c, n, n->in[0], out, &off);
}

int cu_lower_tile(cu_t *c, const ir_node_t *n) {
    const ir_value_t *in = n->in[0], *out = n->out[0];
    cu_coords(c, &out->shape, "i", "c");
    char ii[IR_MAX_RANK][96];
    for (int d = 0; d < in->shape.rank; d++) snprintf(ii[d], sizeof ii[d], "c%d %% %lldLL", d, (long long)in->shape.dims[d].v);
    out_sbuf_t off = {0};
    offset_of(&off, in, ii);
    return gather_finish(c, n, in, out, &off);
}

int cu_lower_slice(cu_t *c, const ir_node_t *n) {
    const ir_value_t *in = n->in[0], *out = n->out[0];
    int r = in->shape.rank;
    if (n->n_params) return cu_error(c, "Slice with run-time bounds is not supported by the CUDA backend yet");
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns = const_ints(n->in[1], starts, IR_MAX_RANK), ne = const_ints(n->in[2], ends, IR_MAX_RANK);
    int na = n->n_in > 3 ? const_ints(n->in[3], axes, IR_MAX_RANK) : -2;
    int nst = n->n_in > 4 ? const_ints(n->in[4], steps, IR_MAX_RANK) : -2;
    if (ns < 0 || ne != ns || na == -1 || nst == -1) return cu_error(c, "starts/ends/axes/steps must be constant");
    int64_t first[IR_MAX_RANK], step[IR_MAX_RANK];
    for (int d = 0; d < r; d++) first[d] = 0, step[d] = 1;
    for (int i = 0; i < ns; i++) {
        int ax = na >= 0 ? norm_axis(axes[i], r) : i;
        if (ax < 0 || ax >= r) return cu_error(c, "slice axis out of range");
        step[ax] = nst >= 0 ? steps[i] : 1;
        if (step[ax] == 0) return cu_error(c, "slice step is 0");
        ir_slice_range(in->shape.dims[ax].v, starts[i], ends[i], step[ax], &first[ax]);
    }
    cu_coords(c, &out->shape, "i", "c");
    char ii[IR_MAX_RANK][96];
    for (int d = 0; d < r; d++) snprintf(ii[d], sizeof ii[d], "%lldLL + c%d * %lldLL", (long long)first[d], d, (long long)step[d]);
    out_sbuf_t off = {0};
    offset_of(&off, in, ii);
    return gather_finish(c, n, in, out, &off);
}

int cu_lower_gather(cu_t *c, const ir_node_t *n) {
    const ir_value_t *data = n->in[0], *ind = n->in[1], *out = n->out[0];
    int r = data->shape.rank, q = ind->shape.rank;
    int ax = norm_axis(ir_attr_int(n, "axis", 0), r);
    if (ax < 0 || ax >= r) return cu_error(c, "axis out of range");
    cu_coords(c, &out->shape, "i", "c");
    int64_t ist[IR_MAX_RANK];
    strides(ind, ist);
    int ki = cu_p(c, ind);
    int64_t D = data->shape.dims[ax].v;
    out_sb_printf(B, "        int64_t g = (int64_t)p%d[0", ki);
    for (int d = 0; d < q; d++) out_sb_printf(B, " + c%d * %lldLL", ax + d, (long long)ist[d]);
    /* negative indices count from the back; out-of-range ones are clamped rather than
     * read out of bounds, as the LLVM backend does */
    out_sb_printf(B, "];\n        if (g < 0) g += %lldLL;\n        g = g < 0 ? 0 : g > %lldLL ? %lldLL : g;\n",
                  (long long)D, (long long)(D - 1), (long long)(D - 1));
    char ii[IR_MAX_RANK][96];
    for (int d = 0; d < r; d++) {
        if (d < ax) snprintf(ii[d], sizeof ii[d], "c%d", d);
        else if (d == ax) snprintf(ii[d], sizeof ii[d], "g");
        else snprintf(ii[d], sizeof ii[d], "c%d", d + q - 1);
    }
    out_sbuf_t off = {0};
    offset_of(&off, data, ii);
    return gather_finish(c, n, data, out, &off);
}

/* Concat: out element at coordinate c_axis comes from the input whose range holds it. */
int cu_lower_concat(cu_t *c, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    int r = out->shape.rank;
    int ax = norm_axis(ir_attr_int(n, "axis", 0), r);
    cu_coords(c, &out->shape, "i", "c");
    out_sb_printf(B, "        %s x;\n", cu_ctype(out->dtype));
    int64_t at = 0;
    bool first = true;
    for (int j = 0; j < n->n_in; j++) {
        const ir_value_t *in = n->in[j];
        if (!in || cu_numel(in) == 0) continue;
        int64_t len = in->shape.dims[ax].v;
        char ii[IR_MAX_RANK][96];
        for (int d = 0; d < r; d++) {
            if (d == ax) snprintf(ii[d], sizeof ii[d], "c%d - %lldLL", d, (long long)at);
            else snprintf(ii[d], sizeof ii[d], "c%d", d);
        }
        out_sbuf_t off = {0};
        offset_of(&off, in, ii);
        out_sb_printf(B, "        %sif (c%d < %lldLL) x = p%d[%s];\n", first ? "" : "else ", ax, (long long)(at + len),
                      cu_p(c, in), off.p ? off.p : "0");
        free(off.p);
        first = false;
        at += len;
    }
    if (first) out_sb_printf(B, "        x = 0;\n");
    else out_sb_printf(B, "        else x = 0;\n");
    return finish(c, n, out, out->dtype == IR_BOOL ? "(x != 0)" : "x");
}

int cu_lower_split(cu_t *c, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    int ax = norm_axis(ir_attr_int(n, "axis", 0), r);
    if (n->n_post) return cu_error(c, "fused post-ops on Split are not supported");
    int64_t at = 0;
    for (int j = 0; j < n->n_out; j++) {
        const ir_value_t *o = n->out[j];
        if (!o) continue;
        if (o->storage != IR_ST_NONE && cu_numel(o) > 0) {
            if (j) cu_kbegin(c);
            cu_coords(c, &o->shape, "i", "c");
            char ii[IR_MAX_RANK][96];
            for (int d = 0; d < r; d++) {
                if (d == ax) snprintf(ii[d], sizeof ii[d], "c%d + %lldLL", d, (long long)at);
                else snprintf(ii[d], sizeof ii[d], "c%d", d);
            }
            out_sbuf_t off = {0};
            offset_of(&off, in, ii);
            if (gather_finish(c, n, in, o, &off)) return -1;
        }
        at += o->shape.dims[ax].v;
    }
    return 0;
}

int cu_lower_pad(cu_t *c, const ir_node_t *n) {
    const ir_value_t *in = n->in[0], *out = n->out[0];
    int r = in->shape.rank;
    if (n->n_params) return cu_error(c, "Pad with run-time pads is not supported by the CUDA backend yet");
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK], pb[IR_MAX_RANK] = {0};
    int np = n->n_in > 1 && n->in[1] ? const_ints(n->in[1], pads, 2 * IR_MAX_RANK) : -1;
    if (np < 0) {
        const int64_t *pa;
        np = ir_attr_ints(n, "pads", &pa);
        if (np < 0 || np > 2 * IR_MAX_RANK) return cu_error(c, "pads must be constant");
        memcpy(pads, pa, sizeof(int64_t) * (size_t)np);
    }
    int na = n->n_in > 3 && n->in[3] ? const_ints(n->in[3], axes, IR_MAX_RANK) : -2;
    if (na == -1) return cu_error(c, "axes must be constant");
    int cnt = na >= 0 ? na : r;
    if (np != 2 * cnt) return cu_error(c, "pads has %d values for %d axes", np, cnt);
    for (int i = 0; i < cnt; i++) pb[na >= 0 ? norm_axis(axes[i], r) : i] = pads[i];
    const char *mode = ir_attr_str(n, "mode", "constant");
    int m = !strcmp(mode, "constant") ? 0 : !strcmp(mode, "edge") ? 1 : !strcmp(mode, "reflect") ? 2 : !strcmp(mode, "wrap") ? 3 : -1;
    if (m < 0) return cu_error(c, "pad mode '%s' is not supported", mode);
    cu_coords(c, &out->shape, "i", "c");
    out_sb_printf(B, "        bool outside = false;\n");
    char ii[IR_MAX_RANK][96];
    for (int d = 0; d < r; d++) {
        long long D = (long long)in->shape.dims[d].v;
        out_sb_printf(B, "        int64_t s%d = c%d - %lldLL;\n", d, d, (long long)pb[d]);
        if (m == 0) out_sb_printf(B, "        outside |= s%d < 0 || s%d >= %lldLL;\n        s%d = s%d < 0 ? 0 : s%d >= %lldLL ? %lldLL : s%d;\n", d, d, D, d, d, d, D, D - 1, d);
        else if (m == 1) out_sb_printf(B, "        s%d = s%d < 0 ? 0 : s%d >= %lldLL ? %lldLL : s%d;\n", d, d, d, D, D - 1, d);
        else if (m == 3) out_sb_printf(B, "        s%d = ((s%d %% %lldLL) + %lldLL) %% %lldLL;\n", d, d, D, D, D);
        else out_sb_printf(B, "        if (s%d < 0) s%d = -s%d;\n        if (s%d >= %lldLL) s%d = 2 * %lldLL - s%d;\n", d, d, d, d, D, d, D - 1, d);
        snprintf(ii[d], sizeof ii[d], "s%d", d);
    }
    out_sbuf_t off = {0};
    offset_of(&off, in, ii);
    int k = cu_p(c, in);
    out_sb_printf(B, "        %s x = p%d[%s];\n", cu_ctype(in->dtype), k, off.p);
    free(off.p);
    if (m == 0) {
        if (n->n_in > 2 && n->in[2] && cu_numel(n->in[2]) > 0) out_sb_printf(B, "        if (outside) x = p%d[0];\n", cu_p(c, n->in[2]));
        else out_sb_printf(B, "        if (outside) x = 0;\n");
    }
    return finish(c, n, out, out->dtype == IR_BOOL ? "(x != 0)" : "x");
}

/* ---------------------------------------------------------------- contractions */
/* acc += A(m, k) * B(k, n) over k, with A/B offsets given as expressions in k */
static int dot_finish(cu_t *c, const ir_node_t *n, int64_t K, const char *aoff, const char *boff, const ir_value_t *A,
                      const ir_value_t *Bv, const char *alpha_beta_tail) {
    const ir_value_t *out = n->out[0];
    const char *t = cu_comptype(out->dtype);
    int ka = cu_p(c, A), kb = cu_p(c, Bv);
    out_sb_printf(B, "        %s acc = 0;\n        for (int64_t k = 0; k < %lldLL; k++) acc += (%s)p%d[%s] * (%s)p%d[%s];\n", t,
                  (long long)K, t, ka, aoff, t, kb, boff);
    if (alpha_beta_tail) out_sb_printf(B, "%s", alpha_beta_tail);
    return finish(c, n, out, "acc");
}

int cu_lower_matmul(cu_t *c, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *Bv = n->in[1], *out = n->out[0];
    int ra = A->shape.rank, rb = Bv->shape.rank, r = out->shape.rank;
    if (ra < 1 || rb < 1) return cu_error(c, "MatMul of a scalar");
    int64_t K = A->shape.dims[ra - 1].v;
    int64_t Nn = rb >= 2 ? Bv->shape.dims[rb - 1].v : 1;
    cu_coords(c, &out->shape, "i", "c");
    /* out = [batch..., (m if ra >= 2), (n if rb >= 2)] */
    int nb = r - (ra >= 2) - (rb >= 2);
    int mi = ra >= 2 ? nb : -1, ni = rb >= 2 ? r - 1 : -1;
    char aoff[512], boff[512];
    int64_t ast[IR_MAX_RANK], bst[IR_MAX_RANK];
    strides(A, ast);
    strides(Bv, bst);
    int pa = snprintf(aoff, sizeof aoff, "k");
    if (mi >= 0) pa += snprintf(aoff + pa, sizeof aoff - (size_t)pa, " + c%d * %lldLL", mi, (long long)K);
    for (int d = 0; d < ra - 2; d++) {
        int od = nb - (ra - 2) + d;
        if (A->shape.dims[d].v != 1 && od >= 0)
            pa += snprintf(aoff + pa, sizeof aoff - (size_t)pa, " + c%d * %lldLL", od, (long long)ast[d]);
    }
    int pb2 = snprintf(boff, sizeof boff, rb >= 2 ? "k * %lldLL" : "k", (long long)Nn);
    if (ni >= 0) pb2 += snprintf(boff + pb2, sizeof boff - (size_t)pb2, " + c%d", ni);
    for (int d = 0; d < rb - 2; d++) {
        int od = nb - (rb - 2) + d;
        if (Bv->shape.dims[d].v != 1 && od >= 0)
            pb2 += snprintf(boff + pb2, sizeof boff - (size_t)pb2, " + c%d * %lldLL", od, (long long)bst[d]);
    }
    return dot_finish(c, n, K, aoff, boff, A, Bv, NULL);
}

int cu_lower_gemm(cu_t *c, const ir_node_t *n) {
    const ir_value_t *A = n->in[0], *Bv = n->in[1], *C = n->n_in > 2 ? n->in[2] : NULL, *out = n->out[0];
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = out->shape.dims[0].v, Nn = out->shape.dims[1].v;
    int64_t K = A->shape.dims[ta ? 0 : 1].v;
    (void)M;
    cu_coords(c, &out->shape, "i", "c");
    char aoff[128], boff[128];
    snprintf(aoff, sizeof aoff, ta ? "k * %lldLL + c0" : "c0 * %lldLL + k", (long long)(ta ? A->shape.dims[1].v : K));
    snprintf(boff, sizeof boff, tb ? "c1 * %lldLL + k" : "k * %lldLL + c1", (long long)(tb ? K : Nn));
    out_sbuf_t tail = {0};
    if (alpha != 1.0) {
        out_sb_printf(&tail, "        acc *= ");
        cu_num(&tail, out->dtype, alpha);
        out_sb_printf(&tail, ";\n");
    }
    if (C && beta != 0.0) {
        out_sb_printf(&tail, "        acc += ");
        if (beta != 1.0) {
            cu_num(&tail, out->dtype, beta);
            out_sb_printf(&tail, " * ");
        }
        out_sb_printf(&tail, "(%s)p%d[", cu_comptype(out->dtype), cu_p(c, C));
        cu_bcast_off(c, &tail, C, 2, &out->shape, "c");
        out_sb_printf(&tail, "];\n");
    }
    int rc = dot_finish(c, n, K, aoff, boff, A, Bv, tail.p);
    free(tail.p);
    return rc;
}

/* Conv, NC + ns spatial dims, groups and dilations: each thread one output element. */
int cu_lower_conv(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *W = n->in[1], *Bi = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    ir_window_t w;
    if (ir_window_params(c->g, n, &X->shape, &W->shape, &w)) return -1;
    int ns = w.ns;
    int64_t Cin = X->shape.dims[1].v, M = Y->shape.dims[1].v, G = w.group;
    int64_t cg = Cin / G, mg = M / G;
    const char *t = cu_comptype(Y->dtype);
    cu_coords(c, &Y->shape, "i", "c");
    int kx = cu_p(c, X), kw = cu_p(c, W);
    out_sb_printf(B, "        %s acc = 0;\n        int64_t g0 = c1 / %lldLL;\n", t, (long long)mg);
    out_sb_printf(B, "        for (int64_t ic = 0; ic < %lldLL; ic++) {\n", (long long)cg);
    out_sb_printf(B, "            int64_t xo = (c0 * %lldLL + g0 * %lldLL + ic)", (long long)Cin, (long long)cg);
    out_sb_printf(B, ";\n            int64_t wo = (c1 * %lldLL + ic);\n", (long long)cg);
    for (int s = 0; s < ns; s++) {
        long long xd = (long long)X->shape.dims[2 + s].v;
        out_sb_printf(B, "%*sfor (int64_t q%d = 0; q%d < %lldLL; q%d++) {\n", 12 + 4 * s, "", s, s, (long long)w.k[s], s);
        out_sb_printf(B, "%*sint64_t x%d = c%d * %lldLL - %lldLL + q%d * %lldLL;\n", 16 + 4 * s, "", s, 2 + s, (long long)w.s[s],
                      (long long)w.pb[s], s, (long long)w.d[s]);
        out_sb_printf(B, "%*sif (x%d < 0 || x%d >= %lldLL) continue;\n", 16 + 4 * s, "", s, s, xd);
    }
    /* Horner form: ((xo * H + x0) * W + x1) */
    out_sb_printf(B, "%*sint64_t xi = %.*sxo", 16 + 4 * (ns - 1), "", ns, "((((((((");
    for (int s = 0; s < ns; s++) out_sb_printf(B, " * %lldLL + x%d)", (long long)X->shape.dims[2 + s].v, s);
    out_sb_printf(B, ", wi = %.*swo", ns, "((((((((");
    for (int s = 0; s < ns; s++) out_sb_printf(B, " * %lldLL + q%d)", (long long)w.k[s], s);
    out_sb_printf(B, ";\n%*sacc += (%s)p%d[xi] * (%s)p%d[wi];\n", 16 + 4 * (ns - 1), "", t, kx, t, kw);
    for (int s = ns - 1; s >= 0; s--) out_sb_printf(B, "%*s}\n", 12 + 4 * s, "");
    out_sb_printf(B, "        }\n");
    if (Bi) out_sb_printf(B, "        acc += (%s)p%d[c1];\n", t, cu_p(c, Bi));
    return finish(c, n, Y, "acc");
}

/* ---------------------------------------------------------------- windows */
int cu_lower_pool(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    if (n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE)
        return cu_error(c, "MaxPool's Indices output is not supported by the CUDA backend yet");
    if (!ir_dtype_is_float(X->dtype)) return cu_error(c, "%s on %s is not supported", ir_op_name(n->op), ir_dtype_name(X->dtype));
    bool global = n->op == IR_OP_GLOBAL_AVERAGE_POOL || n->op == IR_OP_GLOBAL_MAX_POOL;
    bool mx = n->op == IR_OP_MAX_POOL || n->op == IR_OP_GLOBAL_MAX_POOL;
    int ns = X->shape.rank - 2;
    ir_window_t w;
    memset(&w, 0, sizeof w);
    if (global) {
        w.ns = ns;
        for (int s = 0; s < ns; s++) w.k[s] = X->shape.dims[2 + s].v, w.s[s] = 1, w.d[s] = 1;
    } else if (ir_window_params(c->g, n, &X->shape, NULL, &w)) {
        return -1;
    }
    bool incl = ir_attr_int(n, "count_include_pad", 0) != 0;
    const char *t = cu_comptype(Y->dtype);
    cu_coords(c, &Y->shape, "i", "c");
    int kx = cu_p(c, X);
    out_sb_printf(B, "        %s acc = %s;\n        int64_t cnt = 0;\n", t, mx ? "-INFINITY" : "0");
    out_sb_printf(B, "        int64_t xo = c0 * %lldLL + c1;\n", (long long)X->shape.dims[1].v);
    for (int s = 0; s < ns; s++) {
        long long xd = (long long)X->shape.dims[2 + s].v;
        out_sb_printf(B, "%*sfor (int64_t q%d = 0; q%d < %lldLL; q%d++) {\n", 8 + 4 * s, "", s, s, (long long)w.k[s], s);
        out_sb_printf(B, "%*sint64_t x%d = c%d * %lldLL - %lldLL + q%d * %lldLL;\n", 12 + 4 * s, "", s, 2 + s, (long long)w.s[s],
                      (long long)w.pb[s], s, (long long)w.d[s]);
        /* with count_include_pad, padding inside the padded extent counts; past it (ceil_mode) not */
        if (incl)
            out_sb_printf(B, "%*sif (x%d < -%lldLL || x%d >= %lldLL) continue;\n", 12 + 4 * s, "", s, (long long)w.pb[s], s,
                          xd + (long long)w.pe[s]);
        out_sb_printf(B, "%*sbool in%d = x%d >= 0 && x%d < %lldLL%s;\n", 12 + 4 * s, "", s, s, s, xd, s ? "" : "");
    }
    out_sb_printf(B, "%*sbool inside = true", 12 + 4 * (ns - 1), "");
    for (int s = 0; s < ns; s++) out_sb_printf(B, " && in%d", s);
    out_sb_printf(B, ";\n%*sif (%s) cnt++;\n", 12 + 4 * (ns - 1), "", incl ? "true" : "inside");
    out_sb_printf(B, "%*sif (inside) {\n%*sint64_t xi = %.*sxo", 12 + 4 * (ns - 1), "", 16 + 4 * (ns - 1), "", ns, "((((((((");
    for (int s = 0; s < ns; s++) out_sb_printf(B, " * %lldLL + x%d)", (long long)X->shape.dims[2 + s].v, s);
    out_sb_printf(B, ";\n%*s%s v = p%d[xi];\n", 16 + 4 * (ns - 1), "", t, kx);
    if (mx) out_sb_printf(B, "%*sacc = (v > acc || v != v) ? v : acc;\n", 16 + 4 * (ns - 1), "");
    else out_sb_printf(B, "%*sacc += v;\n", 16 + 4 * (ns - 1), "");
    out_sb_printf(B, "%*s}\n", 12 + 4 * (ns - 1), "");
    for (int s = ns - 1; s >= 0; s--) out_sb_printf(B, "%*s}\n", 8 + 4 * s, "");
    if (!mx) out_sb_printf(B, "        acc = cnt ? acc / (%s)cnt : acc;\n", t);
    return finish(c, n, Y, "acc");
}

/* ---------------------------------------------------------------- reductions */
int cu_reduce_axes(cu_t *c, const ir_node_t *n, bool *red) {
    int r = n->in[0]->shape.rank;
    for (int d = 0; d < r; d++) red[d] = false;
    int na = 0;
    const ir_value_t *ax = n->n_in > 1 ? n->in[1] : NULL;
    if (ax) {
        int64_t a[IR_MAX_RANK];
        na = const_ints(ax, a, IR_MAX_RANK);
        if (na < 0) return cu_error(c, "axes must be constant");
        for (int i = 0; i < na; i++) {
            int d = norm_axis(a[i], r);
            if (d < 0 || d >= r) return cu_error(c, "axis out of range");
            red[d] = true;
        }
    } else {
        const int64_t *axes;
        int n2 = ir_attr_ints(n, "axes", &axes);
        for (int i = 0; i < n2; i++) {
            int d = norm_axis(axes[i], r);
            if (d < 0 || d >= r) return cu_error(c, "axis out of range");
            red[d] = true;
        }
        na = n2 > 0 ? n2 : 0;
    }
    if (na == 0 && !ir_attr_int(n, "noop_with_empty_axes", 0))
        for (int d = 0; d < r; d++) red[d] = true;
    return 0;
}

int cu_lower_reduce(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    int r = X->shape.rank;
    if (n->n_params) return cu_error(c, "%s with run-time axes is not supported by the CUDA backend yet", ir_op_name(n->op));
    bool red[IR_MAX_RANK] = {false};
    if (cu_reduce_axes(c, n, red)) return -1;
    bool keep = ir_attr_int(n, "keepdims", 1) != 0;
    ir_dtype_t t = X->dtype;
    const char *ct = cu_comptype(t);
    bool fl = ir_dtype_is_float(t);
    int64_t st[IR_MAX_RANK], cnt = 1;
    strides(X, st);
    for (int d = 0; d < r; d++)
        if (red[d]) cnt *= X->shape.dims[d].v;
    cu_coords(c, &Y->shape, "i", "c");
    /* base offset from the kept coordinates */
    out_sb_printf(B, "        int64_t base = 0");
    int od = 0;
    for (int d = 0; d < r; d++) {
        if (red[d]) {
            if (keep) od++;
            continue;
        }
        out_sb_printf(B, " + c%d * %lldLL", od++, (long long)st[d]);
    }
    out_sb_printf(B, ";\n");
    int kx = cu_p(c, X);
    ir_op_t op = n->op;
    bool two_pass = op == IR_OP_REDUCE_LOG_SUM_EXP;
    /* the loop over the reduced elements: j decomposed over the reduced dims */
    out_sbuf_t loop = {0};
    out_sb_printf(&loop, "        for (int64_t j = 0; j < %lldLL; j++) {\n            int64_t jr = j, off = base;\n", (long long)cnt);
    for (int d = r - 1; d >= 0; d--) {
        if (!red[d]) continue;
        out_sb_printf(&loop, "            off += (jr %% %lldLL) * %lldLL; jr /= %lldLL;\n", (long long)X->shape.dims[d].v,
                      (long long)st[d], (long long)X->shape.dims[d].v);
    }
    out_sb_printf(&loop, "            %s v = (%s)p%d[off];\n", ct, ct, kx);
    if (two_pass) {
        out_sb_printf(B, "        %s mx = -INFINITY;\n%s            mx = (v > mx || v != v) ? v : mx;\n        }\n", ct, loop.p);
        out_sb_printf(B, "        if (isinf(mx)) mx = 0;\n");
    }
    const char *init = "0", *step = "acc += v;", *post = "";
    char pbuf[64];
    switch (op) {
    case IR_OP_REDUCE_SUM: break;
    case IR_OP_REDUCE_MEAN: snprintf(pbuf, sizeof pbuf, "acc = acc / (%s)%lld;", ct, (long long)cnt); post = pbuf; break;
    case IR_OP_REDUCE_MAX: init = fl ? "-INFINITY" : "oc_lowest(acc)"; step = fl ? "acc = (v > acc || v != v) ? v : acc;" : "acc = v > acc ? v : acc;"; break;
    case IR_OP_REDUCE_MIN: init = fl ? "INFINITY" : "oc_highest(acc)"; step = fl ? "acc = (v < acc || v != v) ? v : acc;" : "acc = v < acc ? v : acc;"; break;
    case IR_OP_REDUCE_PROD: init = "1"; step = "acc *= v;"; break;
    case IR_OP_REDUCE_L1: step = fl ? "acc += fabs(v);" : "acc += v < 0 ? -v : v;"; break;
    case IR_OP_REDUCE_L2: step = "acc += v * v;"; post = "acc = sqrt(acc);"; break;
    case IR_OP_REDUCE_SUM_SQUARE: step = "acc += v * v;"; break;
    case IR_OP_REDUCE_LOG_SUM: post = "acc = log(acc);"; break;
    case IR_OP_REDUCE_LOG_SUM_EXP: step = "acc += exp(v - mx);"; post = "acc = log(acc) + mx;"; break;
    default: free(loop.p); return cu_error(c, "internal error: not a reduction");
    }
    if (!fl && (op == IR_OP_REDUCE_L2 || op == IR_OP_REDUCE_LOG_SUM || op == IR_OP_REDUCE_LOG_SUM_EXP)) {
        free(loop.p);
        return cu_error(c, "%s of an integer type is not supported by the CUDA backend", ir_op_name(op));
    }
    out_sb_printf(B, "        %s acc = 0;\n        acc = %s;\n%s            %s\n        }\n        %s\n", ct, init, loop.p, step, post);
    free(loop.p);
    if (cnt == 0 && (op == IR_OP_REDUCE_MAX || op == IR_OP_REDUCE_MIN)) out_sb_printf(B, "        (void)0;\n");
    return finish(c, n, Y, "acc");
}

/* Softmax / LogSoftmax: a thread per (outer, inner) row, which writes all len elements;
 * post-ops are not fused here (the fusion pass does not fuse into softmax). */
int cu_lower_softmax(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *Y = n->out[0];
    if (!ir_dtype_is_float(X->dtype)) return cu_error(c, "%s on %s is not supported", ir_op_name(n->op), ir_dtype_name(X->dtype));
    if (n->n_post) return cu_error(c, "fused post-ops on softmax are not supported");
    int r = X->shape.rank;
    bool old = c->g->opset < 13, lg = n->op == IR_OP_LOG_SOFTMAX;
    int axis = norm_axis(ir_attr_int(n, "axis", old ? 1 : -1), r);
    if (axis < 0 || axis >= (r ? r : 1)) return cu_error(c, "axis out of range");
    int64_t outer = 1, L = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= X->shape.dims[d].v;
    if (old) {
        for (int d = axis; d < r; d++) L *= X->shape.dims[d].v;
    } else {
        L = r ? X->shape.dims[axis].v : 1;
        for (int d = axis + 1; d < r; d++) inner *= X->shape.dims[d].v;
    }
    const char *t = cu_comptype(X->dtype);
    int kx = cu_p(c, X), ky = cu_pw(c, Y);
    out_sb_printf(B,
                  "        int64_t base = (i / %lldLL) * %lldLL + i %% %lldLL;\n"
                  "        %s mx = -INFINITY, sum = 0;\n"
                  "        for (int64_t j = 0; j < %lldLL; j++) { %s v = p%d[base + j * %lldLL]; mx = (v > mx || v != v) ? v : mx; }\n"
                  "        for (int64_t j = 0; j < %lldLL; j++) sum += exp(p%d[base + j * %lldLL] - mx);\n"
                  "        for (int64_t j = 0; j < %lldLL; j++) {\n"
                  "            %s v = p%d[base + j * %lldLL] - mx;\n"
                  "            p%d[base + j * %lldLL] = %s;\n        }\n",
                  (long long)inner, (long long)(L * inner), (long long)inner, t, (long long)L, t, kx, (long long)inner,
                  (long long)L, kx, (long long)inner, (long long)L, t, kx, (long long)inner, ky, (long long)inner,
                  lg ? "v - log(sum)" : "exp(v) / sum");
    return cu_kend_elems(c, outer * inner);
}

int cu_lower_layer_norm(cu_t *c, const ir_node_t *n) {
    const ir_value_t *X = n->in[0], *S = n->in[1], *Bi = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    if (!ir_dtype_is_float(X->dtype)) return cu_error(c, "LayerNormalization on %s is not supported", ir_dtype_name(X->dtype));
    if (n->n_post) return cu_error(c, "fused post-ops on LayerNormalization are not supported");
    int r = X->shape.rank;
    int axis = norm_axis(ir_attr_int(n, "axis", -1), r);
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    int64_t rows = 1, L = 1;
    for (int d = 0; d < axis; d++) rows *= X->shape.dims[d].v;
    for (int d = axis; d < r; d++) L *= X->shape.dims[d].v;
    const char *t = cu_comptype(X->dtype);
    int kx = cu_p(c, X), ks = cu_p(c, S), ky = cu_pw(c, Y);
    out_sb_printf(B,
                  "        const %s *x = p%d + i * %lldLL;\n"
                  "        %s mean = 0, var = 0;\n"
                  "        for (int64_t j = 0; j < %lldLL; j++) mean += x[j];\n"
                  "        mean /= (%s)%lld;\n"
                  "        for (int64_t j = 0; j < %lldLL; j++) var += (x[j] - mean) * (x[j] - mean);\n"
                  "        var /= (%s)%lld;\n"
                  "        %s inv = (%s)1 / sqrt(var + (%s)%.17g);\n",
                  cu_ctype(X->dtype), kx, (long long)L, t, (long long)L, t, (long long)L, (long long)L, t, (long long)L, t, t, t, eps);
    /* scale and bias broadcast against the normalised dims */
    ir_shape_t ns = {.rank = r - axis};
    for (int d = axis; d < r; d++) ns.dims[d - axis] = X->shape.dims[d];
    out_sb_printf(B, "        for (int64_t j = 0; j < %lldLL; j++) {\n", (long long)L);
    cu_coords(c, &ns, "j", "c");
    out_sb_printf(B, "            p%d[i * %lldLL + j] = (x[j] - mean) * inv * p%d[", ky, (long long)L, ks);
    cu_bcast_off(c, B, S, ns.rank, &ns, "c");
    out_sb_printf(B, "]");
    if (Bi) {
        out_sb_printf(B, " + p%d[", cu_p(c, Bi));
        cu_bcast_off(c, B, Bi, ns.rank, &ns, "c");
        out_sb_printf(B, "]");
    }
    out_sb_printf(B, ";\n        }\n");
    if (n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE) out_sb_printf(B, "        p%d[i] = mean;\n", cu_pw(c, n->out[1]));
    if (n->n_out > 2 && n->out[2] && n->out[2]->storage != IR_ST_NONE) out_sb_printf(B, "        p%d[i] = inv;\n", cu_pw(c, n->out[2]));
    return cu_kend_elems(c, rows);
}
