/* Kernels that read a tensor at coordinates computed from data: GridSample, DeformConv
 * and RoiAlign. Each follows the ONNX reference implementation's arithmetic (its
 * rounding and border rules are what the node tests pin down).
 *
 * Coordinates come from tensors, so they can be anything, NaN and infinities included.
 * Every index is therefore made safe before it addresses memory: floats are saturated
 * before conversion (fptosi of NaN or of an out-of-range value is poison in LLVM), the
 * resulting index is clamped into the axis, and taps that the padding rule says lie
 * outside load a clamped element and select zero instead. */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define MAXSP 3

static LLVMValueRef dc(lw_t *k, double v) { return LLVMConstReal(k->f64, v); }

static LLVMValueRef fcmp(lw_t *k, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(k->b, p, a, b, "");
}
static LLVMValueRef sel(lw_t *k, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(k->b, c, a, b, ""); }
static LLVMValueRef fadd(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(k->b, a, b, ""); }
static LLVMValueRef fsub(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(k->b, a, b, ""); }
static LLVMValueRef fmul(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(k->b, a, b, ""); }
static LLVMValueRef fdiv(lw_t *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(k->b, a, b, ""); }
static LLVMValueRef ffloor(lw_t *k, LLVMValueRef x) { return lw_intrin(k, "llvm.floor", k->f64, &x, 1); }

/* f64 -> i64 that is defined for every input: NaN goes to the low bound, and values
 * are saturated to +-2^62 first, far outside any axis. */
static LLVMValueRef to_index(lw_t *k, LLVMValueRef x) {
    const double big = 4611686018427387904.0;
    x = sel(k, fcmp(k, LLVMRealOGE, x, dc(k, -big)), x, dc(k, -big));
    x = sel(k, fcmp(k, LLVMRealOLE, x, dc(k, big)), x, dc(k, big));
    return LLVMBuildFPToSI(k->b, x, k->i64, "");
}

static LLVMValueRef clamp_index(lw_t *k, LLVMValueRef i, LLVMValueRef D) {
    LLVMValueRef last = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
    i = sel(k, LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_i64(k, 0), ""), lw_i64(k, 0), i);
    return sel(k, LLVMBuildICmp(k->b, LLVMIntSGT, i, last, ""), last, i);
}

static LLVMValueRef index_in(lw_t *k, LLVMValueRef i, LLVMValueRef D) {
    return LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, i, lw_i64(k, 0), ""), LLVMBuildICmp(k->b, LLVMIntSLT, i, D, ""), "");
}

/* ---------------------------------------------------------------- GridSample */
enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };
typedef struct {
    int mode, pad;
    bool align;
    ir_dtype_t ct;   /* dtype the reference denormalises coordinates in */
} gs_t;

/* Reflects x into [lo, hi] by folding at the nearer border, as the reference's
 * _gs_reflect does; a zero-width range (one pixel, align_corners) gives lo. */
static LLVMValueRef reflect(lw_t *k, LLVMValueRef x, LLVMValueRef lo, LLVMValueRef hi) {
    LLVMValueRef rng = fsub(k, hi, lo);
    LLVMValueRef below = fcmp(k, LLVMRealOLT, x, lo), above = fcmp(k, LLVMRealOGT, x, hi);
    LLVMValueRef dx = sel(k, below, fsub(k, lo, x), fsub(k, x, hi));
    LLVMValueRef q = fdiv(k, dx, rng);
    LLVMValueRef nf = lw_intrin(k, "llvm.trunc", k->f64, &q, 1);
    LLVMValueRef r = fsub(k, dx, fmul(k, nf, rng));
    LLVMValueRef even = fcmp(k, LLVMRealOEQ, LLVMBuildFRem(k->b, nf, dc(k, 2), ""), dc(k, 0));
    LLVMValueRef lo_r = fadd(k, lo, r), hi_r = fsub(k, hi, r);
    LLVMValueRef res = sel(k, below, sel(k, even, lo_r, hi_r), sel(k, even, hi_r, lo_r));
    res = sel(k, LLVMBuildOr(k->b, below, above, ""), res, x);
    return sel(k, fcmp(k, LLVMRealOGT, rng, dc(k, 0)), res, lo);
}

/* Keys' cubic convolution weights (A = -0.75) for the four taps around fraction t. */
static void cubic_coeffs(lw_t *k, LLVMValueRef t, LLVMValueRef *c) {
    const double A = -0.75;
    LLVMValueRef d[4] = {fadd(k, t, dc(k, 1)), t, fsub(k, dc(k, 1), t), fsub(k, dc(k, 2), t)};
    for (int i = 0; i < 4; i++) {
        LLVMValueRef s = d[i];
        if (i == 1 || i == 2) /* ((A+2)s - (A+3)) s^2 + 1 */
            c[i] = fadd(k, fmul(k, fmul(k, fsub(k, fmul(k, dc(k, A + 2), s), dc(k, A + 3)), s), s), dc(k, 1));
        else /* ((A s - 5A) s + 8A) s - 4A */
            c[i] = fsub(k, fmul(k, fadd(k, fmul(k, fsub(k, fmul(k, dc(k, A), s), dc(k, 5 * A)), s), dc(k, 8 * A)), s), dc(k, 4 * A));
    }
}

static LLVMValueRef elem_grid_sample(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const gs_t *P = ud;
    const ir_value_t *x = n->in[0], *grid = n->in[1];
    int ns = x->shape.rank - 2;
    LLVMTypeRef cty = lw_type(k, P->ct);
    LLVMValueRef gst[IR_MAX_RANK], xst[IR_MAX_RANK];
    lw_strides(k, grid, gst);
    lw_strides(k, x, xst);
    LLVMValueRef goff = LLVMBuildNSWMul(k->b, idx[0], gst[0], "");
    for (int i = 0; i < ns; i++) goff = LLVMBuildNSWAdd(k->b, goff, LLVMBuildNSWMul(k->b, idx[2 + i], gst[1 + i], ""), "");
    int ntap = P->mode == GS_NEAREST ? 1 : P->mode == GS_LINEAR ? 2 : 4;
    LLVMValueRef tidx[MAXSP][4], tw[MAXSP][4], tok[MAXSP][4];
    for (int s = 0; s < ns; s++) {
        /* grid's last axis is (x, y[, z]): the innermost spatial axis comes first */
        LLVMValueRef g = lw_load(k, grid, LLVMBuildNSWAdd(k->b, goff, lw_i64(k, ns - 1 - s), ""));
        g = lw_cast(k, g, grid->dtype, P->ct);
        LLVMValueRef D = lw_dim(k, x, 2 + s);
        LLVMValueRef Dc = LLVMBuildSIToFP(k->b, D, cty, ""), one = LLVMConstReal(cty, 1), two = LLVMConstReal(cty, 2);
        LLVMValueRef g1 = LLVMBuildFAdd(k->b, g, one, ""), c;
        if (P->align)
            c = LLVMBuildFMul(k->b, LLVMBuildFDiv(k->b, g1, two, ""), LLVMBuildFSub(k->b, Dc, one, ""), "");
        else
            c = LLVMBuildFDiv(k->b, LLVMBuildFSub(k->b, LLVMBuildFMul(k->b, g1, Dc, ""), one, ""), two, "");
        c = lw_cast(k, c, P->ct, IR_F64);
        /* PyTorch (and so ONNX) rounds nearest half to even */
        if (P->mode == GS_NEAREST) c = lw_intrin(k, "llvm.roundeven", k->f64, &c, 1);
        LLVMValueRef Df = LLVMBuildSIToFP(k->b, D, k->f64, "");
        LLVMValueRef lo = dc(k, P->align ? 0 : -0.5);
        LLVMValueRef hi = P->align ? fsub(k, Df, dc(k, 1)) : fsub(k, Df, dc(k, 0.5));
        /* Border padding clamps the coordinate before linear/nearest sampling; for cubic,
         * PyTorch and onnxruntime clamp only the four taps (the ONNX reference evaluator
         * clamps both, which no node test pins down), and models come from PyTorch. */
        if (P->pad == GS_BORDER && P->mode != GS_CUBIC) {
            LLVMValueRef last = fsub(k, Df, dc(k, 1));
            LLVMValueRef cl = sel(k, fcmp(k, LLVMRealOLT, c, dc(k, 0)), dc(k, 0), sel(k, fcmp(k, LLVMRealOGT, c, last), last, c));
            c = sel(k, LLVMBuildOr(k->b, fcmp(k, LLVMRealOLT, c, lo), fcmp(k, LLVMRealOGT, c, hi), ""), cl, c);
        } else if (P->pad == GS_REFLECTION) {
            c = reflect(k, c, lo, hi);
        }
        LLVMValueRef base, frac = NULL;
        if (P->mode == GS_NEAREST) {
            base = to_index(k, lw_intrin(k, "llvm.trunc", k->f64, &c, 1));
        } else {
            LLVMValueRef fl = ffloor(k, c);
            frac = fsub(k, c, fl);
            base = to_index(k, fl);
        }
        LLVMValueRef cw[4];
        if (P->mode == GS_NEAREST) cw[0] = dc(k, 1);
        else if (P->mode == GS_LINEAR) { cw[0] = fsub(k, dc(k, 1), frac); cw[1] = frac; }
        else cubic_coeffs(k, frac, cw);
        int first = P->mode == GS_CUBIC ? -1 : 0;
        for (int t = 0; t < ntap; t++) {
            LLVMValueRef i = LLVMBuildAdd(k->b, base, lw_i64(k, first + t), "");
            LLVMValueRef ok = LLVMConstInt(k->i1, 1, 0);
            if (P->pad == GS_ZEROS) {
                ok = index_in(k, i, D);
            } else if (P->pad == GS_REFLECTION) {
                LLVMValueRef r = reflect(k, LLVMBuildSIToFP(k->b, i, k->f64, ""), lo, hi);
                i = to_index(k, lw_intrin(k, "llvm.trunc", k->f64, &r, 1));
            }
            tidx[s][t] = clamp_index(k, i, D);
            tok[s][t] = ok;
            tw[s][t] = cw[t];
        }
    }
    LLVMValueRef base_off = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], xst[0], ""),
                                            LLVMBuildNSWMul(k->b, idx[1], xst[1], ""), "");
    LLVMValueRef acc = dc(k, 0);
    int combos = 1;
    for (int s = 0; s < ns; s++) combos *= ntap;
    for (int cidx = 0; cidx < combos; cidx++) {
        LLVMValueRef off = base_off, w = dc(k, 1), ok = LLVMConstInt(k->i1, 1, 0);
        int rem = cidx;
        for (int s = ns - 1; s >= 0; s--) {
            int t = rem % ntap;
            rem /= ntap;
            off = LLVMBuildNSWAdd(k->b, off, LLVMBuildNSWMul(k->b, tidx[s][t], xst[2 + s], ""), "");
            w = fmul(k, w, tw[s][t]);
            ok = LLVMBuildAnd(k->b, ok, tok[s][t], "");
        }
        LLVMValueRef v = lw_cast(k, lw_load(k, x, off), x->dtype, IR_F64);
        acc = fadd(k, acc, sel(k, ok, fmul(k, w, v), dc(k, 0)));
    }
    return lw_cast(k, acc, IR_F64, n->out[0]->dtype);
}

int lw_lower_grid_sample(lw_t *k, const ir_node_t *n) {
    gs_t P;
    memset(&P, 0, sizeof P);
    const char *mode = ir_attr_str(n, "mode", "linear"), *pad = ir_attr_str(n, "padding_mode", "zeros");
    if (!strcmp(mode, "nearest")) P.mode = GS_NEAREST;
    else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) P.mode = GS_LINEAR;
    else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic")) P.mode = GS_CUBIC;
    else return lw_error(k, "mode '%s' is not supported", mode);
    if (!strcmp(pad, "zeros")) P.pad = GS_ZEROS;
    else if (!strcmp(pad, "border")) P.pad = GS_BORDER;
    else if (!strcmp(pad, "reflection")) P.pad = GS_REFLECTION;
    else return lw_error(k, "padding_mode '%s' is not supported", pad);
    P.align = ir_attr_int(n, "align_corners", 0) != 0;
    P.ct = n->in[1]->dtype == IR_F64 ? IR_F64 : IR_F32;
    int ns = n->in[0]->shape.rank - 2;
    if (ns < 1 || ns > MAXSP) return lw_error(k, "%d spatial dimensions are not supported", ns);
    return lw_emit_map(k, n, n->out[0], elem_grid_sample, &P);
}

/* ---------------------------------------------------------------- DeformConv */
typedef struct {
    ir_window_t p;
    int64_t C, Cg, OCg, Cog, K;   /* channels, per group, out per group, per offset group, taps */
} dconv_t;

/* x[n, c] at real coordinates pos[0..ns) with zero padding: the tensor product of 1-D
 * linear interpolation, each corner outside the image contributing nothing. */
static LLVMValueRef sample_zeros(lw_t *k, const ir_value_t *x, LLVMValueRef plane, const LLVMValueRef *xst,
                                 const LLVMValueRef *pos, int ns) {
    LLVMValueRef ti[MAXSP][2], tw[MAXSP][2], tok[MAXSP][2];
    for (int s = 0; s < ns; s++) {
        LLVMValueRef D = lw_dim(k, x, 2 + s), fl = ffloor(k, pos[s]), fr = fsub(k, pos[s], fl);
        LLVMValueRef i0 = to_index(k, fl);
        for (int t = 0; t < 2; t++) {
            LLVMValueRef i = LLVMBuildAdd(k->b, i0, lw_i64(k, t), "");
            tok[s][t] = index_in(k, i, D);
            ti[s][t] = clamp_index(k, i, D);
            tw[s][t] = t ? fr : fsub(k, dc(k, 1), fr);
        }
    }
    LLVMValueRef acc = dc(k, 0);
    for (int c = 0; c < (1 << ns); c++) {
        LLVMValueRef off = plane, w = dc(k, 1), ok = LLVMConstInt(k->i1, 1, 0);
        for (int s = 0; s < ns; s++) {
            int t = (c >> (ns - 1 - s)) & 1;
            off = LLVMBuildNSWAdd(k->b, off, LLVMBuildNSWMul(k->b, ti[s][t], xst[2 + s], ""), "");
            w = fmul(k, w, tw[s][t]);
            ok = LLVMBuildAnd(k->b, ok, tok[s][t], "");
        }
        LLVMValueRef v = lw_cast(k, lw_load(k, x, off), x->dtype, IR_F64);
        acc = fadd(k, acc, sel(k, ok, fmul(k, w, v), dc(k, 0)));
    }
    return acc;
}

static LLVMValueRef elem_deform_conv(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const dconv_t *P = ud;
    const ir_window_t *p = &P->p;
    const ir_value_t *x = n->in[0], *w = n->in[1], *off = n->in[2];
    const ir_value_t *bias = n->n_in > 3 ? n->in[3] : NULL, *mask = n->n_in > 4 ? n->in[4] : NULL;
    int ns = p->ns;
    LLVMValueRef xst[IR_MAX_RANK], ost[IR_MAX_RANK], mst[IR_MAX_RANK];
    lw_strides(k, x, xst);
    lw_strides(k, off, ost);
    if (mask) lw_strides(k, mask, mst);
    /* offset and mask share the output's spatial position; only their channel varies */
    LLVMValueRef opos = LLVMBuildNSWMul(k->b, idx[0], ost[0], ""), mpos = NULL;
    for (int s = 0; s < ns; s++) opos = LLVMBuildNSWAdd(k->b, opos, LLVMBuildNSWMul(k->b, idx[2 + s], ost[2 + s], ""), "");
    if (mask) {
        mpos = LLVMBuildNSWMul(k->b, idx[0], mst[0], "");
        for (int s = 0; s < ns; s++) mpos = LLVMBuildNSWAdd(k->b, mpos, LLVMBuildNSWMul(k->b, idx[2 + s], mst[2 + s], ""), "");
    }
    LLVMValueRef acc = lw_alloca(k, k->f64, "acc");
    LLVMBuildStore(k->b, bias ? lw_cast(k, lw_load(k, bias, idx[1]), bias->dtype, IR_F64) : dc(k, 0), acc);
    LLVMValueRef grp = LLVMBuildSDiv(k->b, idx[1], lw_i64(k, P->OCg), "");
    lw_loop_t lc, lk[MAXSP];
    lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, P->Cg), "icl");
    LLVMValueRef ic = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, grp, lw_i64(k, P->Cg), ""), lc.iv, "");
    LLVMValueRef og = LLVMBuildSDiv(k->b, ic, lw_i64(k, P->Cog), "");
    LLVMValueRef plane = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], xst[0], ""), LLVMBuildNSWMul(k->b, ic, xst[1], ""), "");
    LLVMValueRef woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[1], lw_i64(k, P->Cg), ""), lc.iv, "");
    LLVMValueRef tap = lw_i64(k, 0);
    for (int s = 0; s < ns; s++) {
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, p->k[s]), "k");
        woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, woff, lw_i64(k, p->k[s]), ""), lk[s].iv, "");
        tap = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, tap, lw_i64(k, p->k[s]), ""), lk[s].iv, "");
    }
    /* offset channel = ((og * K + tap) * ns + s), mask channel = og * K + tap */
    LLVMValueRef gtap = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, og, lw_i64(k, P->K), ""), tap, "");
    LLVMValueRef pos[MAXSP];
    for (int s = 0; s < ns; s++) {
        LLVMValueRef ch = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, gtap, lw_i64(k, ns), ""), lw_i64(k, s), "");
        LLVMValueRef dv = lw_cast(k, lw_load(k, off, LLVMBuildNSWAdd(k->b, opos, LLVMBuildNSWMul(k->b, ch, ost[1], ""), "")), off->dtype, IR_F64);
        LLVMValueRef at = LLVMBuildNSWAdd(k->b, LLVMBuildNSWSub(k->b, LLVMBuildNSWMul(k->b, idx[2 + s], lw_i64(k, p->s[s]), ""), lw_i64(k, p->pb[s]), ""),
                                          LLVMBuildNSWMul(k->b, lk[s].iv, lw_i64(k, p->d[s]), ""), "");
        pos[s] = fadd(k, LLVMBuildSIToFP(k->b, at, k->f64, ""), dv);
    }
    LLVMValueRef v = sample_zeros(k, x, plane, xst, pos, ns);
    v = fmul(k, v, lw_cast(k, lw_load(k, w, woff), w->dtype, IR_F64));
    if (mask) {
        LLVMValueRef mo = LLVMBuildNSWAdd(k->b, mpos, LLVMBuildNSWMul(k->b, gtap, mst[1], ""), "");
        v = fmul(k, v, lw_cast(k, lw_load(k, mask, mo), mask->dtype, IR_F64));
    }
    LLVMBuildStore(k->b, fadd(k, LLVMBuildLoad2(k->b, k->f64, acc, ""), v), acc);
    for (int s = ns - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    lw_loop_end(k, &lc);
    return lw_cast(k, LLVMBuildLoad2(k->b, k->f64, acc, ""), IR_F64, n->out[0]->dtype);
}

int lw_lower_deform_conv(lw_t *k, const ir_node_t *n) {
    dconv_t P;
    memset(&P, 0, sizeof P);
    const ir_value_t *x = n->in[0], *w = n->in[1];
    if (ir_window_params(k->g, n, &x->shape, &w->shape, &P.p)) return -1;
    if (P.p.ns < 1 || P.p.ns > MAXSP) return lw_error(k, "%d spatial dimensions are not supported", P.p.ns);
    int64_t G = P.p.group, OG = ir_attr_int(n, "offset_group", 1), M = w->shape.dims[0].v;
    P.C = x->shape.dims[1].v;
    if (G < 1 || OG < 1 || P.C % G || P.C % OG || M % G) return lw_error(k, "group or offset_group does not divide the channels");
    P.Cg = P.C / G;
    P.OCg = M / G;
    P.Cog = P.C / OG;
    P.K = 1;
    for (int s = 0; s < P.p.ns; s++) P.K *= P.p.k[s];
    return lw_emit_map(k, n, n->out[0], elem_deform_conv, &P);
}

/* ---------------------------------------------------------------- RoiAlign */
typedef struct {
    bool max, half_pixel;
    double scale;
    int64_t ratio;
} roi_t;

static LLVMValueRef elem_roi_align(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const roi_t *P = ud;
    const ir_value_t *x = n->in[0], *rois = n->in[1], *bi = n->in[2], *y = n->out[0];
    LLVMBuilderRef b = k->b;
    LLVMValueRef H = lw_dim(k, x, 2), W = lw_dim(k, x, 3);
    LLVMValueRef Hf = LLVMBuildSIToFP(b, H, k->f64, ""), Wf = LLVMBuildSIToFP(b, W, k->f64, "");
    LLVMValueRef r4 = LLVMBuildNSWMul(b, idx[0], lw_i64(k, 4), ""), c[4];
    double off = P->half_pixel ? 0.5 : 0.0;
    for (int i = 0; i < 4; i++) {
        LLVMValueRef v = lw_cast(k, lw_load(k, rois, LLVMBuildNSWAdd(b, r4, lw_i64(k, i), "")), rois->dtype, IR_F64);
        c[i] = fsub(k, fmul(k, v, dc(k, P->scale)), dc(k, off));
    }
    LLVMValueRef rw = fsub(k, c[2], c[0]), rh = fsub(k, c[3], c[1]);
    if (!P->half_pixel) { /* malformed rois are forced to 1x1 */
        rw = sel(k, fcmp(k, LLVMRealOGT, rw, dc(k, 1)), rw, dc(k, 1));
        rh = sel(k, fcmp(k, LLVMRealOGT, rh, dc(k, 1)), rh, dc(k, 1));
    }
    LLVMValueRef ohf = dc(k, (double)y->shape.dims[2].v), owf = dc(k, (double)y->shape.dims[3].v);
    LLVMValueRef bh = fdiv(k, rh, ohf), bw = fdiv(k, rw, owf);
    LLVMValueRef gh, gw;
    if (P->ratio > 0) {
        gh = gw = lw_i64(k, P->ratio);
    } else {
        /* adaptive: ceil(roi / bins) samples, never negative */
        LLVMValueRef qh = fdiv(k, rh, ohf), qw = fdiv(k, rw, owf);
        gh = to_index(k, lw_intrin(k, "llvm.ceil", k->f64, &qh, 1));
        gw = to_index(k, lw_intrin(k, "llvm.ceil", k->f64, &qw, 1));
        gh = sel(k, LLVMBuildICmp(b, LLVMIntSLT, gh, lw_i64(k, 0), ""), lw_i64(k, 0), gh);
        gw = sel(k, LLVMBuildICmp(b, LLVMIntSLT, gw, lw_i64(k, 0), ""), lw_i64(k, 0), gw);
    }
    LLVMValueRef ghf = LLVMBuildSIToFP(b, gh, k->f64, ""), gwf = LLVMBuildSIToFP(b, gw, k->f64, "");
    LLVMValueRef count = LLVMBuildMul(b, gh, gw, "");
    count = sel(k, LLVMBuildICmp(b, LLVMIntSLT, count, lw_i64(k, 1), ""), lw_i64(k, 1), count);
    /* an out-of-range batch index reads the nearest batch rather than outside X */
    LLVMValueRef bidx = clamp_index(k, LLVMBuildSExt(b, lw_load(k, bi, idx[0]), k->i64, ""), lw_dim(k, x, 0));
    LLVMValueRef xst[4];
    lw_strides(k, x, xst);
    LLVMValueRef plane = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, bidx, xst[0], ""), LLVMBuildNSWMul(b, idx[1], xst[1], ""), "");
    LLVMValueRef y0 = fadd(k, c[1], fmul(k, LLVMBuildSIToFP(b, idx[2], k->f64, ""), bh));
    LLVMValueRef x0 = fadd(k, c[0], fmul(k, LLVMBuildSIToFP(b, idx[3], k->f64, ""), bw));
    LLVMValueRef acc = lw_alloca(k, k->f64, "acc"), first = lw_alloca(k, k->i1, "first");
    LLVMBuildStore(b, dc(k, 0), acc);
    LLVMBuildStore(b, LLVMConstInt(k->i1, 1, 0), first);
    lw_loop_t ly, lx;
    lw_loop_begin(k, &ly, lw_i64(k, 0), gh, "iy");
    LLVMValueRef yy = fadd(k, y0, fdiv(k, fmul(k, fadd(k, LLVMBuildSIToFP(b, ly.iv, k->f64, ""), dc(k, 0.5)), bh), ghf));
    lw_loop_begin(k, &lx, lw_i64(k, 0), gw, "ix");
    LLVMValueRef xx = fadd(k, x0, fdiv(k, fmul(k, fadd(k, LLVMBuildSIToFP(b, lx.iv, k->f64, ""), dc(k, 0.5)), bw), gwf));
    /* samples beyond one pixel outside the map contribute weight 0 (NaN too) */
    LLVMValueRef inside = LLVMBuildAnd(b, LLVMBuildAnd(b, fcmp(k, LLVMRealOGE, yy, dc(k, -1)), fcmp(k, LLVMRealOLE, yy, Hf), ""),
                                       LLVMBuildAnd(b, fcmp(k, LLVMRealOGE, xx, dc(k, -1)), fcmp(k, LLVMRealOLE, xx, Wf), ""), "");
    LLVMValueRef cy = sel(k, inside, sel(k, fcmp(k, LLVMRealOGT, yy, dc(k, 0)), yy, dc(k, 0)), dc(k, 0));
    LLVMValueRef cx = sel(k, inside, sel(k, fcmp(k, LLVMRealOGT, xx, dc(k, 0)), xx, dc(k, 0)), dc(k, 0));
    LLVMValueRef lo[2], hi[2], fr[2];
    LLVMValueRef cc[2] = {cy, cx}, dims[2] = {H, W};
    for (int a = 0; a < 2; a++) {
        LLVMValueRef last = LLVMBuildSub(b, dims[a], lw_i64(k, 1), "");
        LLVMValueRef l = to_index(k, cc[a]);
        LLVMValueRef at_end = LLVMBuildICmp(b, LLVMIntSGE, l, last, "");
        l = sel(k, at_end, last, l);
        LLVMValueRef pos = sel(k, at_end, LLVMBuildSIToFP(b, l, k->f64, ""), cc[a]);
        lo[a] = clamp_index(k, l, dims[a]);
        hi[a] = clamp_index(k, sel(k, at_end, l, LLVMBuildAdd(b, l, lw_i64(k, 1), "")), dims[a]);
        fr[a] = fsub(k, pos, LLVMBuildSIToFP(b, l, k->f64, ""));
    }
    LLVMValueRef hy = fsub(k, dc(k, 1), fr[0]), hx = fsub(k, dc(k, 1), fr[1]);
    LLVMValueRef wts[4] = {fmul(k, hy, hx), fmul(k, hy, fr[1]), fmul(k, fr[0], hx), fmul(k, fr[0], fr[1])};
    LLVMValueRef ys[4] = {lo[0], lo[0], hi[0], hi[0]}, xs[4] = {lo[1], hi[1], lo[1], hi[1]};
    LLVMValueRef val = NULL;
    for (int q = 0; q < 4; q++) {
        LLVMValueRef o = LLVMBuildNSWAdd(b, plane, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, ys[q], xst[2], ""), xs[q], ""), "");
        LLVMValueRef term = fmul(k, sel(k, inside, wts[q], dc(k, 0)), lw_cast(k, lw_load(k, x, o), x->dtype, IR_F64));
        if (!val) val = term;
        else val = P->max ? lw_fmax(k, val, term) : fadd(k, val, term);
    }
    LLVMValueRef cur = LLVMBuildLoad2(b, k->f64, acc, "");
    if (P->max) {
        LLVMValueRef f = LLVMBuildLoad2(b, k->i1, first, "");
        LLVMBuildStore(b, sel(k, f, val, lw_fmax(k, cur, val)), acc);
        LLVMBuildStore(b, LLVMConstInt(k->i1, 0, 0), first);
    } else {
        LLVMBuildStore(b, fadd(k, cur, val), acc);
    }
    lw_loop_end(k, &lx);
    lw_loop_end(k, &ly);
    LLVMValueRef res = LLVMBuildLoad2(b, k->f64, acc, "");
    if (!P->max) res = fdiv(k, res, LLVMBuildSIToFP(b, count, k->f64, ""));
    return lw_cast(k, res, IR_F64, y->dtype);
}

int lw_lower_roi_align(lw_t *k, const ir_node_t *n) {
    roi_t P;
    memset(&P, 0, sizeof P);
    P.max = !strcmp(ir_attr_str(n, "mode", "avg"), "max");
    /* RoiAlign-10 has no coordinate_transformation_mode and behaves as output_half_pixel;
     * opset 16 added the attribute with half_pixel as its default. */
    const ir_attr_t *ctm = ir_attr_find(n, "coordinate_transformation_mode");
    if (ctm && ctm->kind == IR_ATTR_STRING && ctm->s) P.half_pixel = !strcmp(ctm->s, "half_pixel");
    else P.half_pixel = k->g->opset >= 16;
    P.scale = ir_attr_float(n, "spatial_scale", 1.0);
    P.ratio = ir_attr_int(n, "sampling_ratio", 0);
    if (n->in[0]->shape.rank != 4) return lw_error(k, "input must be 4-D");
    return lw_emit_map(k, n, n->out[0], elem_roi_align, &P);
}
