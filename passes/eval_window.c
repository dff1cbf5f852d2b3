/* Reference evaluations of the window ops: Conv, ConvTranspose, DeformConv, the pools
 * (Max/Average/Lp and the global ones), BatchNormalization (inference form) and LRN.
 * Semantics follow the LLVM lowerings (backends/llvm/lower_nn.c, lower_lp.c,
 * lower_sample.c) so a folded constant equals what the kernel would have computed; the
 * geometry (auto_pad, strides, dilations, ceil_mode, output_padding/output_shape) comes
 * from ir_window_params / ir_window_params_transposed, the numbers shape inference and
 * the lowering read. Float math is done in double and stored in the output dtype.
 *
 * Each is folded only while its work (multiply-adds or window taps) stays under
 * EVAL_MAX_MACS: a large constant convolution is better left to the generated kernel. */
#include "passes/eval_int.h"

/* Output spatial position o and kernel tap kk, both flat (row-major over W->out and
 * W->k), as per-axis coordinates. */
static void unflatten(const ir_window_t *W, int64_t o, int64_t kk, int64_t *oc, int64_t *kc) {
    for (int s = W->ns - 1; s >= 0; s--) {
        oc[s] = o % W->out[s];
        o /= W->out[s];
        kc[s] = kk % W->k[s];
        kk /= W->k[s];
    }
}

/* The input position that output position oc reads through tap kc of a forward window
 * (in: the input's spatial dims): its flat offset in one (n, c) plane, and true when it
 * lies inside the input. *in_pad (may be NULL) says whether it lies before the end of
 * the end padding, which is what count_include_pad counts (a ceil_mode window may reach
 * beyond it). */
static bool tap_fwd(const ir_window_t *W, const int64_t *in, const int64_t *oc, const int64_t *kc, int64_t *off,
                    bool *in_pad) {
    bool ok = true, pok = true;
    int64_t f = 0;
    for (int s = 0; s < W->ns; s++) {
        int64_t i = oc[s] * W->s[s] - W->pb[s] + kc[s] * W->d[s];
        if (i < 0 || i >= in[s]) ok = false;
        if (i >= in[s] + W->pe[s]) pok = false;
        f = f * in[s] + (i >= 0 && i < in[s] ? i : 0);
    }
    *off = f;
    if (in_pad) *in_pad = pok;
    return ok;
}

/* Spatial dims of a rank >= 3 input (N, C, spatial...) and their product. */
static int64_t spatial(const sh_t *s, int64_t *in) {
    int64_t p = 1;
    for (int i = 2; i < s->r; i++) p *= (in[i - 2] = s->d[i]);
    return p;
}

/* The output shape (N, Cout, W->out...). */
static sh_t out_shape(const sh_t *x, int64_t cout, const ir_window_t *W) {
    sh_t o = {x->r, {0}};
    o.d[0] = x->d[0];
    o.d[1] = cout;
    for (int s = 0; s < W->ns; s++) o.d[2 + s] = W->out[s];
    return o;
}

static int64_t prod(const int64_t *v, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= v[i];
    return p;
}

/* ---------------------------------------------------------------- Conv */
/* Conv and ConvTranspose read x (N, C, ...), w and an optional bias [Cout]; all float of
 * one dtype. 1 ok, 0 not foldable. */
static int conv_inputs(const ir_node_t *n, int nbias, sh_t *sx, sh_t *sw, const ir_value_t **bias) {
    if (!in_const(n, 0, sx) || !in_const(n, 1, sw) || sx->r < 3 || sw->r != sx->r) return 0;
    ir_dtype_t t = n->in[0]->dtype;
    if (!ir_dtype_is_float(t) || n->in[1]->dtype != t) return 0;
    *bias = n->n_in > nbias ? n->in[nbias] : NULL;
    sh_t sb;
    if (*bias && (!in_const(n, nbias, &sb) || (*bias)->dtype != t || sb.r != 1)) return 0;
    return 1;
}

/* y[n, m, o] = bias[m] + sum over the group's channels and the taps of x * w. */
int eval_conv(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sx, sw;
    const ir_value_t *x = n->in[0], *w = n->in[1], *b;
    if (!conv_inputs(n, 2, &sx, &sw, &b)) return 0;
    ir_window_t W;
    if (ir_window_params(g, n, &x->shape, &w->shape, &W)) return -1;
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), N = sx.d[0], C = sx.d[1], M = sw.d[0], G = W.group;
    if (G < 1 || C % G || M % G || sw.d[1] * G != C) return ir_error(g, n, "group %lld does not fit the channels", (long long)G);
    if (b && b->shape.dims[0].v != M) return ir_error(g, n, "bias does not match %lld output channels", (long long)M);
    int64_t Cg = C / G, OCg = M / G, K = prod(W.k, W.ns), OP = prod(W.out, W.ns), work = 1;
    if (!work_mul(&work, N) || !work_mul(&work, M) || !work_mul(&work, OP) || !work_mul(&work, Cg) || !work_mul(&work, K))
        return 0;
    sh_t os = out_shape(&sx, M, &W);
    ir_dtype_t t = x->dtype;
    if (!res_alloc(g, r, t, &os)) return 0;
    int64_t oc[IR_MAX_RANK], kc[IR_MAX_RANK], at = 0;
    for (int64_t bn = 0; bn < N; bn++)
        for (int64_t m = 0; m < M; m++) {
            int64_t grp = m / OCg;
            for (int64_t o = 0; o < OP; o++, at++) {
                double acc = b ? ld_f(t, b->data, m) : 0;
                for (int64_t kk = 0; kk < K; kk++) {
                    int64_t off;
                    unflatten(&W, o, kk, oc, kc);
                    if (!tap_fwd(&W, in, oc, kc, &off, NULL)) continue;
                    for (int64_t c = 0; c < Cg; c++) {
                        int64_t xi = (bn * C + grp * Cg + c) * P + off, wi = (m * Cg + c) * K + kk;
                        acc += ld_f(t, x->data, xi) * ld_f(t, w->data, wi);
                    }
                }
                st_f(t, r->buf, at, acc);
            }
        }
    return 1;
}

/* ConvTranspose as the lowering's gather over the output: y[n, m, o] sums
 * x[n, ic, i] * w[ic, m % OCg, kk] over the positions with i*s = o + pb - kk*d. The
 * weight is (C, Cout/G, k...); pb may be negative (output_shape larger than the full
 * result: zero fill). */
int eval_conv_transpose(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sx, sw;
    const ir_value_t *x = n->in[0], *w = n->in[1], *b;
    if (!conv_inputs(n, 2, &sx, &sw, &b)) return 0;
    ir_window_t W;
    if (ir_window_params_transposed(g, n, &x->shape, &w->shape, &W)) return -1;
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), N = sx.d[0], C = sx.d[1], G = W.group;
    if (G < 1 || C % G || sw.d[0] != C) return ir_error(g, n, "group %lld does not fit the channels", (long long)G);
    int64_t Cg = C / G, OCg = sw.d[1], M = OCg * G, K = prod(W.k, W.ns), OP = prod(W.out, W.ns), work = 1;
    if (b && b->shape.dims[0].v != M) return ir_error(g, n, "bias does not match %lld output channels", (long long)M);
    if (!work_mul(&work, N) || !work_mul(&work, M) || !work_mul(&work, OP) || !work_mul(&work, Cg) || !work_mul(&work, K))
        return 0;
    sh_t os = out_shape(&sx, M, &W);
    ir_dtype_t t = x->dtype;
    if (!res_alloc(g, r, t, &os)) return 0;
    int64_t oc[IR_MAX_RANK], kc[IR_MAX_RANK], at = 0;
    for (int64_t bn = 0; bn < N; bn++)
        for (int64_t m = 0; m < M; m++) {
            int64_t grp = m / OCg, ml = m % OCg;
            for (int64_t o = 0; o < OP; o++, at++) {
                double acc = b ? ld_f(t, b->data, m) : 0;
                for (int64_t kk = 0; kk < K; kk++) {
                    unflatten(&W, o, kk, oc, kc);
                    bool ok = true;
                    int64_t off = 0;
                    for (int s = 0; s < W.ns && ok; s++) {
                        int64_t num = oc[s] + W.pb[s] - kc[s] * W.d[s];
                        ok = num >= 0 && num % W.s[s] == 0 && num / W.s[s] < in[s];
                        off = off * in[s] + (ok ? num / W.s[s] : 0);
                    }
                    if (!ok) continue;
                    for (int64_t c = 0; c < Cg; c++) {
                        int64_t ic = grp * Cg + c;
                        acc += ld_f(t, x->data, (bn * C + ic) * P + off) * ld_f(t, w->data, (ic * OCg + ml) * K + kk);
                    }
                }
                st_f(t, r->buf, at, acc);
            }
        }
    return 1;
}

/* ---------------------------------------------------------------- BatchNormalization */
/* Inference form: (x - mean) * scale / sqrt(var + eps) + B per channel (axis 1). The
 * training form (batch statistics, running-stat outputs) is left to the kernel, which
 * refuses it too. */
int eval_batch_norm(ir_graph_t *g, ir_node_t *n, res_t *r) {
    if (ir_attr_int(n, "training_mode", 0)) return 0;
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k]) return 0;
    sh_t sx, sp;
    if (!in_const(n, 0, &sx) || sx.r < 2) return 0;
    ir_dtype_t t = n->in[0]->dtype;
    if (!ir_dtype_is_float(t)) return 0;
    int64_t C = sx.d[1], inner = 1;
    for (int k = 1; k < 5; k++)
        if (!in_const(n, k, &sp) || sp.r != 1 || sp.d[0] != C || !ir_dtype_is_float(n->in[k]->dtype)) return 0;
    for (int i = 2; i < sx.r; i++) inner *= sx.d[i];
    if (!res_alloc(g, r, t, &sx)) return 0;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    const ir_value_t *sc = n->in[1], *bi = n->in[2], *mu = n->in[3], *var = n->in[4];
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t c = inner ? (i / inner) % C : 0;
        double inv = 1.0 / sqrt(ld_f(var->dtype, var->data, c) + eps);
        double v = (ld_f(t, n->in[0]->data, i) - ld_f(mu->dtype, mu->data, c)) * (inv * ld_f(sc->dtype, sc->data, c));
        st_f(t, r->buf, i, v + ld_f(bi->dtype, bi->data, c));
    }
    return 1;
}

/* ---------------------------------------------------------------- pools */
typedef enum { PK_MAX, PK_AVG, PK_LP } pk_t;

/* Max/Average/LpPool over the windows of ir_window_params. Taps in the padding are
 * skipped; the max keeps the kernel's lw_max(acc, v) select on "greater or unordered",
 * so a NaN tap is passed over (as in eval_reduce.c's ReduceMax) and the fold equals the
 * kernel; AveragePool divides by the taps inside the input, or with count_include_pad
 * by those inside input plus pads (never by 0); LpPool is (sum |x|^p)^(1/p), padding
 * contributing nothing as in the lowering and onnxruntime. MaxPool on integers keeps
 * the dtype; an all-padding max window gives the dtype's lowest value (-inf for float),
 * as the kernel's accumulator starts. */
static int pool(ir_graph_t *g, ir_node_t *n, res_t *r, pk_t pk) {
    /* The Indices output of MaxPool is not computed: fold only without it. */
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k]) return 0;
    sh_t sx;
    const ir_value_t *x = n->in[0];
    if (!in_const(n, 0, &sx) || sx.r < 3) return 0;
    ir_dtype_t t = x->dtype;
    bool fl = ir_dtype_is_float(t);
    if (!fl && (pk != PK_MAX || t == IR_BOOL)) return 0;
    ir_window_t W;
    if (ir_window_params(g, n, &x->shape, NULL, &W)) return -1;
    int64_t p = ir_attr_int(n, "p", 2);
    if (pk == PK_LP && p < 1) return ir_error(g, n, "p must be >= 1");
    bool incl = ir_attr_int(n, "count_include_pad", 0) != 0;
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), NC = sx.d[0] * sx.d[1], K = prod(W.k, W.ns), OP = prod(W.out, W.ns);
    int64_t work = 1;
    if (!work_mul(&work, NC) || !work_mul(&work, OP) || !work_mul(&work, K)) return 0;
    sh_t os = out_shape(&sx, sx.d[1], &W);
    if (!res_alloc(g, r, t, &os)) return 0;
    /* the integer max starts at the dtype's lowest value, read back as int64 */
    int64_t ilo = 0;
    if (!fl && ir_dtype_is_signed(t)) ilo = t == IR_I64 ? INT64_MIN : -((int64_t)1 << (ir_dtype_size(t) * 8 - 1));
    int64_t oc[IR_MAX_RANK], kc[IR_MAX_RANK], at = 0;
    for (int64_t pl = 0; pl < NC; pl++)
        for (int64_t o = 0; o < OP; o++, at++) {
            double acc = pk == PK_MAX ? -INFINITY : 0;
            int64_t iacc = ilo, cnt = 0;
            for (int64_t kk = 0; kk < K; kk++) {
                int64_t off;
                bool inpad;
                unflatten(&W, o, kk, oc, kc);
                bool ok = tap_fwd(&W, in, oc, kc, &off, &inpad);
                cnt += incl ? inpad : ok;
                if (!ok) continue;
                int64_t xi = pl * P + off;
                if (!fl) {
                    int64_t v = ld_i(t, x->data, xi);
                    if (t == IR_U64 ? (uint64_t)v > (uint64_t)iacc : v > iacc) iacc = v;
                    continue;
                }
                double v = ld_f(t, x->data, xi);
                if (pk == PK_MAX) acc = acc > v || isnan(acc) || isnan(v) ? acc : v;
                else if (pk == PK_AVG) acc += v;
                else acc += p == 1 ? fabs(v) : p == 2 ? v * v : pow(fabs(v), (double)p);
            }
            if (!fl) {
                st_i(t, r->buf, at, iacc);
                continue;
            }
            if (pk == PK_AVG) acc /= (double)(cnt ? cnt : 1);
            else if (pk == PK_LP) acc = p == 1 ? acc : p == 2 ? sqrt(acc) : pow(acc, 1.0 / (double)p);
            st_f(t, r->buf, at, acc);
        }
    return 1;
}

int eval_max_pool(ir_graph_t *g, ir_node_t *n, res_t *r) { return pool(g, n, r, PK_MAX); }
int eval_average_pool(ir_graph_t *g, ir_node_t *n, res_t *r) { return pool(g, n, r, PK_AVG); }
int eval_lp_pool(ir_graph_t *g, ir_node_t *n, res_t *r) { return pool(g, n, r, PK_LP); }

/* GlobalAveragePool / GlobalMaxPool: one value per (n, c) plane, spatial dims kept as 1;
 * the max passes NaN over as pool() does. */
static int global_pool(ir_graph_t *g, ir_node_t *n, res_t *r, bool mx) {
    sh_t sx;
    const ir_value_t *x = n->in[0];
    if (!in_const(n, 0, &sx) || sx.r < 3 || !ir_dtype_is_float(x->dtype)) return 0;
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), NC = sx.d[0] * sx.d[1], work = 1;
    if (!work_mul(&work, NC) || !work_mul(&work, P)) return 0;
    sh_t os = sx;
    for (int i = 2; i < os.r; i++) os.d[i] = 1;
    if (!res_alloc(g, r, x->dtype, &os)) return 0;
    for (int64_t pl = 0; pl < NC; pl++) {
        double acc = mx ? -INFINITY : 0;
        for (int64_t i = 0; i < P; i++) {
            double v = ld_f(x->dtype, x->data, pl * P + i);
            if (mx) acc = acc > v || isnan(acc) || isnan(v) ? acc : v;
            else acc += v;
        }
        st_f(x->dtype, r->buf, pl, mx ? acc : acc / (double)P);
    }
    return 1;
}

int eval_global_average_pool(ir_graph_t *g, ir_node_t *n, res_t *r) { return global_pool(g, n, r, false); }
int eval_global_max_pool(ir_graph_t *g, ir_node_t *n, res_t *r) { return global_pool(g, n, r, true); }

/* ---------------------------------------------------------------- LRN */
/* Across channels: x / (bias + alpha / size * sum of x^2 over channels
 * [c - (size-1)/2, c + size/2], clipped to [0, C))^beta. */
int eval_lrn(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sx;
    const ir_value_t *x = n->in[0];
    if (!in_const(n, 0, &sx) || sx.r < 3 || !ir_dtype_is_float(x->dtype)) return 0;
    int64_t size = ir_attr_int(n, "size", 1);
    if (size < 1) return ir_error(g, n, "size must be >= 1");
    double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75), bias = ir_attr_float(n, "bias", 1.0);
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), C = sx.d[1], work = 1;
    if (!work_mul(&work, sh_numel(&sx)) || !work_mul(&work, size < C ? size : C)) return 0;
    if (!res_alloc(g, r, x->dtype, &sx)) return 0;
    ir_dtype_t t = x->dtype;
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t c = (i / P) % C, base = i - c * P;
        int64_t lo = c - (size - 1) / 2, hi = c + size / 2 + 1;
        if (lo < 0) lo = 0;
        if (hi > C) hi = C;
        double sq = 0;
        for (int64_t j = lo; j < hi; j++) {
            double v = ld_f(t, x->data, base + j * P);
            sq += v * v;
        }
        st_f(t, r->buf, i, ld_f(t, x->data, i) / pow(bias + alpha / (double)size * sq, beta));
    }
    return 1;
}

/* ---------------------------------------------------------------- DeformConv */
/* floor(v) as an index that is defined for every v: NaN goes far below any axis and the
 * rest is saturated to +-2^62, as the lowering's to_index does. */
static int64_t floor_index(double v) {
    const double big = 4611686018427387904.0;
    double f = floor(v);
    if (!(f >= -big)) f = -big;
    if (f > big) f = big;
    return (int64_t)f;
}

/* x's plane at real coordinates pos[0..ns): the tensor product of 1-D linear
 * interpolation, each corner outside the plane contributing nothing. */
static double sample_zeros(const ir_value_t *x, int64_t plane, const int64_t *in, const double *pos, int ns) {
    int64_t i0[IR_MAX_RANK];
    double fr[IR_MAX_RANK];
    for (int s = 0; s < ns; s++) {
        i0[s] = floor_index(pos[s]);
        fr[s] = pos[s] - floor(pos[s]);
    }
    double acc = 0;
    for (int c = 0; c < (1 << ns); c++) {
        double wt = 1;
        int64_t off = 0;
        bool ok = true;
        for (int s = 0; s < ns; s++) {
            int t = (c >> (ns - 1 - s)) & 1;
            int64_t i = i0[s] + t;
            ok = ok && i >= 0 && i < in[s];
            off = off * in[s] + (i >= 0 && i < in[s] ? i : 0);
            wt *= t ? fr[s] : 1 - fr[s];
        }
        if (ok) acc += wt * ld_f(x->dtype, x->data, plane + off);
    }
    return acc;
}

/* y[n, m, o] = bias[m] + sum over the group's channels and the taps of
 * w * mask * x sampled at (o*s - pb + kk*d + offset). Offset channel
 * ((og*K + tap)*ns + axis), mask channel og*K + tap, og the input channel's offset
 * group. */
int eval_deform_conv(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sx, sw, so, sm = {0, {0}};
    const ir_value_t *x = n->in[0], *w = n->in[1], *off = n->in[2], *b;
    const ir_value_t *mask = n->n_in > 4 ? n->in[4] : NULL;
    if (!conv_inputs(n, 3, &sx, &sw, &b) || !in_const(n, 2, &so) || off->dtype != x->dtype) return 0;
    if (mask && (!in_const(n, 4, &sm) || mask->dtype != x->dtype)) return 0;
    ir_window_t W;
    if (ir_window_params(g, n, &x->shape, &w->shape, &W)) return -1;
    int ns = W.ns;
    if (ns > 3) return 0;
    int64_t in[IR_MAX_RANK] = {0}, P = spatial(&sx, in), N = sx.d[0], C = sx.d[1], M = sw.d[0], G = W.group;
    int64_t OG = ir_attr_int(n, "offset_group", 1);
    if (G < 1 || OG < 1 || C % G || C % OG || M % G || sw.d[1] * G != C)
        return ir_error(g, n, "group or offset_group does not divide the channels");
    int64_t Cg = C / G, OCg = M / G, Cog = C / OG, K = prod(W.k, W.ns), OP = prod(W.out, W.ns), work = 1;
    if (b && b->shape.dims[0].v != M) return ir_error(g, n, "bias does not match %lld output channels", (long long)M);
    /* offset (N, OG*K*ns, out...) and mask (N, OG*K, out...): checked here too, as the
     * data is read by these shapes */
    if (so.r != sx.r || so.d[0] != N || so.d[1] != OG * K * ns) return 0;
    if (mask && (sm.r != sx.r || sm.d[0] != N || sm.d[1] != OG * K)) return 0;
    for (int s = 0; s < ns; s++)
        if (so.d[2 + s] != W.out[s] || (mask && sm.d[2 + s] != W.out[s])) return 0;
    if (!work_mul(&work, N) || !work_mul(&work, M) || !work_mul(&work, OP) || !work_mul(&work, Cg) ||
        !work_mul(&work, K) || !work_mul(&work, (int64_t)1 << ns))
        return 0;
    sh_t os = out_shape(&sx, M, &W);
    ir_dtype_t t = x->dtype;
    if (!res_alloc(g, r, t, &os)) return 0;
    int64_t oc[IR_MAX_RANK], kc[IR_MAX_RANK], at = 0;
    double pos[IR_MAX_RANK];
    for (int64_t bn = 0; bn < N; bn++)
        for (int64_t m = 0; m < M; m++) {
            int64_t grp = m / OCg;
            for (int64_t o = 0; o < OP; o++, at++) {
                double acc = b ? ld_f(t, b->data, m) : 0;
                for (int64_t c = 0; c < Cg; c++) {
                    int64_t ic = grp * Cg + c, og = ic / Cog;
                    for (int64_t kk = 0; kk < K; kk++) {
                        unflatten(&W, o, kk, oc, kc);
                        int64_t gtap = og * K + kk;
                        for (int s = 0; s < ns; s++) {
                            double dv = ld_f(t, off->data, (bn * so.d[1] + gtap * ns + s) * OP + o);
                            pos[s] = (double)(oc[s] * W.s[s] - W.pb[s] + kc[s] * W.d[s]) + dv;
                        }
                        double v = sample_zeros(x, (bn * C + ic) * P, in, pos, ns);
                        v *= ld_f(t, w->data, (m * Cg + c) * K + kk);
                        if (mask) v *= ld_f(t, mask->data, (bn * sm.d[1] + gtap) * OP + o);
                        acc += v;
                    }
                }
                st_f(t, r->buf, at, acc);
            }
        }
    return 1;
}
