/* Reference evaluation of QuantizeLinear and DequantizeLinear, the kernel's arithmetic
 * (backends/llvm/lower_quant.c) bit for bit: x / scale in float32 (float64 for double
 * input), rounded half to even, plus the zero point, clamped to the output type;
 * (float32(q) - zero_point) * scale in float32, then stored in the output type. */
#include "ir/lowp.h"
#include "passes/eval_int.h"

/* flat index of the scale element that input element e (shape s) uses */
static int64_t scale_index(const ir_quant_t *q, const sh_t *s, const sh_t *ss, int64_t e) {
    if (q->mode == IR_QUANT_TENSOR) return 0;
    int64_t inner = 1;
    for (int d = q->axis + 1; d < s->r; d++) inner *= s->d[d];
    if (q->mode == IR_QUANT_AXIS) return (e / inner) % s->d[q->axis];
    int64_t off = 0, rem = e, m = 1;
    for (int d = s->r - 1; d >= 0; d--) {
        int64_t i = rem % s->d[d];
        rem /= s->d[d];
        if (d == q->axis) i /= q->block;
        off += i * m;
        m *= ss->d[d];
    }
    return off;
}

static void qrange(ir_dtype_t t, int64_t *lo, int64_t *hi) {
    switch (t) {
    case IR_I8: *lo = -128, *hi = 127; break;
    case IR_U16: *lo = 0, *hi = 65535; break;
    case IR_I16: *lo = -32768, *hi = 32767; break;
    case IR_I4: *lo = -8, *hi = 7; break;
    case IR_U4: *lo = 0, *hi = 15; break;
    case IR_I2: *lo = -2, *hi = 1; break;
    case IR_U2: *lo = 0, *hi = 3; break;
    default: *lo = 0, *hi = 255; break;
    }
}

/* a constant input of a type this evaluator reads (the low-precision ones included) */
static bool in_q(const ir_node_t *n, int k, sh_t *s) {
    return in_const_any(n, k, s) && (dt_ok(n->in[k]->dtype) || ir_dtype_is_lowp(n->in[k]->dtype));
}

static double ld_q(ir_dtype_t t, const void *p, int64_t i) {
    return ir_dtype_is_lowp(t) ? (double)ir_lowp_to_f32(t, ((const uint8_t *)p)[i]) : ld_f(t, p, i);
}

int eval_quant(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, ss, zs;
    if (!in_q(n, 0, &s) || !in_q(n, 1, &ss)) return 0;
    const ir_value_t *x = n->in[0], *sc = n->in[1], *zp = n->n_in > 2 ? n->in[2] : NULL;
    if (zp && !in_q(n, 2, &zs)) return 0;
    ir_quant_t q;
    if (ir_quant_params(g, n, &q)) return -1;
    if (!res_alloc_any(g, r, q.out, &s)) return 0;
    bool dbl = x->dtype == IR_F64;
    ir_dtype_t qt = n->op == IR_OP_QUANTIZE_LINEAR ? q.out : x->dtype;
    /* float8 ignores the zero point, float4 adds it as a float (lower_quant.c) */
    bool qfloat = ir_dtype_is_lowp(qt) && qt != IR_I4 && qt != IR_U4 && qt != IR_I2 && qt != IR_U2;
    bool sat = ir_attr_int(n, "saturate", 1) != 0;
    for (int64_t e = 0; e < r->numel; e++) {
        int64_t si = scale_index(&q, &s, &ss, e);
        int64_t z = zp && !qfloat ? (int64_t)ld_q(zp->dtype, zp->data, si) : 0;
        if (n->op == IR_OP_QUANTIZE_LINEAR) {
            double v = dbl ? ld_f(x->dtype, x->data, e) / ld_f(sc->dtype, sc->data, si)
                           : (double)((float)ld_f(x->dtype, x->data, e) / (float)ld_f(sc->dtype, sc->data, si));
            if (qfloat) {
                if (zp && qt == IR_F4E2M1) v = dbl ? v + ld_q(zp->dtype, zp->data, si) : (double)((float)v + (float)ld_q(zp->dtype, zp->data, si));
                ((uint8_t *)r->buf)[e] = ir_lowp_from_f32(qt, (float)v, sat, IR_ROUND_UP);
                continue;
            }
            v = nearbyint(v);   /* the default rounding mode: half to even */
            v = v < -2147483648.0 ? -2147483648.0 : v > 2147483647.0 ? 2147483647.0 : v;
            int64_t lo, hi, y = (isnan(v) ? 0 : (int64_t)v) + z;
            qrange(q.out, &lo, &hi);
            y = y < lo ? lo : y > hi ? hi : y;
            if (ir_dtype_is_lowp(q.out)) ((uint8_t *)r->buf)[e] = (uint8_t)(y & (hi - lo));   /* the low bits */
            else st_i(q.out, r->buf, e, y);
        } else {
            float d = (float)ld_q(x->dtype, x->data, e) - (float)z;
            st_f(q.out, r->buf, e, (double)(d * (float)ld_f(sc->dtype, sc->data, si)));
        }
    }
    return 1;
}

/* MatMulInteger / QLinearMatMul: int32 sums of zero-point-shifted products; QLinearMatMul
 * then scales by (a_scale * b_scale / y_scale), computed in the scales' float type as the
 * reference does, in double from there, adds y_zero_point, rounds half to even, clamps. */
int eval_qmatmul(ir_graph_t *g, ir_node_t *n, res_t *r) {
    ir_qmatmul_t p;
    sh_t sa, sb, so;
    if (ir_qmatmul_params(g, n, &p)) return -1;
    if (!get_sh(&p.a->shape, &sa) || !get_sh(&p.b->shape, &sb) || !get_sh(&p.out, &so)) return 0;
    if (p.as && p.as->dtype != IR_F32 && p.as->dtype != IR_F64) return 0;   /* float16 scales: the kernel */
    if (!res_alloc(g, r, p.out_t, &so) || !work_ok(r->numel, p.K)) return 0;
    int64_t azp = p.azp ? ld_i(p.azp->dtype, p.azp->data, 0) : 0, bzp = p.bzp ? ld_i(p.bzp->dtype, p.bzp->data, 0) : 0;
    double mult = 0, yzp = p.yzp ? (double)ld_i(p.yzp->dtype, p.yzp->data, 0) : 0;
    if (p.as) {
        if (p.as->dtype == IR_F32)
            mult = (double)((float)((float)ld_f(IR_F32, p.as->data, 0) * (float)ld_f(IR_F32, p.bs->data, 0)) /
                            (float)ld_f(IR_F32, p.ys->data, 0));
        else
            mult = ld_f(IR_F64, p.as->data, 0) * ld_f(IR_F64, p.bs->data, 0) / ld_f(IR_F64, p.ys->data, 0);
    }
    int R = so.r, ra = sa.r, rb = sb.r;
    int64_t M = so.d[R - 2], N = so.d[R - 1], K = p.K, ast[IR_MAX_RANK], bst[IR_MAX_RANK];
    row_strides(&sa, ast);
    row_strides(&sb, bst);
    for (int64_t e = 0; e < r->numel; e++) {
        int64_t j = e % N, i = (e / N) % M, rem = e / N / M, ao = i * ast[ra - 2], bo = j * bst[rb - 1];
        for (int d = R - 3; d >= 0; d--) {
            int64_t x = rem % so.d[d];
            rem /= so.d[d];
            int da = d - (R - ra), db = d - (R - rb);
            if (da >= 0 && sa.d[da] != 1) ao += x * ast[da];
            if (db >= 0 && sb.d[db] != 1) bo += x * bst[db];
        }
        int32_t acc = 0;
        for (int64_t q = 0; q < K; q++)
            acc += (int32_t)((ld_i(p.a->dtype, p.a->data, ao + q * ast[ra - 1]) - azp) *
                             (ld_i(p.b->dtype, p.b->data, bo + q * bst[rb - 2]) - bzp));
        if (!p.as) {
            st_i(IR_I32, r->buf, e, acc);
            continue;
        }
        double v = nearbyint((double)acc * mult + yzp);
        double lo = p.out_t == IR_I8 ? -128 : 0, hi = p.out_t == IR_I8 ? 127 : 255;
        st_i(p.out_t, r->buf, e, (int64_t)(v < lo ? lo : v > hi ? hi : v));
    }
    return 1;
}

/* DynamicQuantizeLinear in float32 as the reference: the range [min(0, min x),
 * max(0, max x)] over 255 steps (1/255 for an empty range), zero point clamped to
 * [0, 255] and rounded half to even, then QuantizeLinear's rounding and clamping. */
static void dyn_quant_params(const float *x, int64_t ne, float *scale, float *zp) {
    float mn = 0, mx = 0;
    for (int64_t i = 0; i < ne; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    *scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
    float z = 0.0f - mn / *scale;
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    *zp = nearbyintf(z);
}

int eval_dyn_quant(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s) || n->in[0]->dtype != IR_F32) return 0;
    const float *x = n->in[0]->data;
    if (!res_alloc(g, &r[0], IR_U8, &s)) return 0;
    sh_t sc = {0, {0}};
    if (n->n_out > 1 && n->out[1] && !res_alloc(g, &r[1], IR_F32, &sc)) return 0;
    if (n->n_out > 2 && n->out[2] && !res_alloc(g, &r[2], IR_U8, &sc)) return 0;
    float scale, zp;
    dyn_quant_params(x, r[0].numel, &scale, &zp);
    for (int64_t i = 0; i < r[0].numel; i++) {
        float v = nearbyintf(x[i] / scale) + zp;
        ((uint8_t *)r[0].buf)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    if (r[1].buf) *(float *)r[1].buf = scale;
    if (r[2].buf) *(uint8_t *)r[2].buf = (uint8_t)zp;
    return 1;
}

/* ConvInteger / QLinearConv: int32 sums over the window (taps outside x contribute 0),
 * plus B; QLinearConv scales by (x_scale * w_scale / y_scale) in float32, adds y_zero_point
 * in double, clamps, rounds half to even (the reference's order). */
int eval_qconv(ir_graph_t *g, ir_node_t *n, res_t *r) {
    ir_qconv_t p;
    sh_t xs, ws, os;
    if (ir_qconv_params(g, n, &p)) return -1;
    if (!get_sh(&p.x->shape, &xs) || !get_sh(&p.w->shape, &ws) || !get_sh(&p.out, &os)) return 0;
    if (p.xs && p.xs->dtype != IR_F32) return 0;
    int64_t K = ir_shape_numel(&p.w->shape) / p.M / p.Cg;
    if (!res_alloc(g, r, p.out_t, &os) || !work_ok(r->numel, K * p.Cg)) return 0;
    const ir_window_t *W = &p.win;
    int ns = W->ns;
    int64_t xst[IR_MAX_RANK], wst[IR_MAX_RANK], npix = r->numel / (os.d[0] * os.d[1]);
    row_strides(&xs, xst);
    row_strides(&ws, wst);
    int64_t xzp = p.xzp ? ld_i(p.xzp->dtype, p.xzp->data, 0) : 0, Mg = p.M / W->group;
    for (int64_t e = 0; e < r->numel; e++) {
        int64_t pix = e % npix, m = (e / npix) % p.M, nb = e / npix / p.M, o[IR_MAX_RANK], q = pix;
        for (int d = ns - 1; d >= 0; d--) {
            o[d] = q % os.d[2 + d];
            q /= os.d[2 + d];
        }
        int64_t wz = p.wzp ? ld_i(p.wzp->dtype, p.wzp->data, ir_shape_numel(&p.wzp->shape) > 1 ? m : 0) : 0;
        int32_t acc = p.bias ? (int32_t)ld_i(IR_I32, p.bias->data, ir_shape_numel(&p.bias->shape) > 1 ? m : 0) : 0;
        int64_t grp = m / Mg;
        for (int64_t c = 0; c < p.Cg; c++)
            for (int64_t kk = 0; kk < K; kk++) {
                int64_t rem = kk, xo = nb * xst[0] + (grp * p.Cg + c) * xst[1], wo = m * wst[0] + c * wst[1];
                bool in = true;
                for (int d = ns - 1; d >= 0; d--) {
                    int64_t kd = rem % W->k[d], i = o[d] * W->s[d] - W->pb[d] + kd * W->d[d];
                    rem /= W->k[d];
                    in = in && i >= 0 && i < xs.d[2 + d];
                    xo += i * xst[2 + d];
                    wo += kd * wst[2 + d];
                }
                if (in)
                    acc += (int32_t)((ld_i(p.x->dtype, p.x->data, xo) - xzp) * (ld_i(p.w->dtype, p.w->data, wo) - wz));
            }
        if (!p.xs) {
            st_i(IR_I32, r->buf, e, acc);
            continue;
        }
        float wsc = (float)ld_f(IR_F32, p.ws->data, ir_shape_numel(&p.ws->shape) > 1 ? m : 0);
        double mult = (double)((float)((float)ld_f(IR_F32, p.xs->data, 0) * wsc) / (float)ld_f(IR_F32, p.ys->data, 0));
        double v = (double)acc * mult + (p.yzp ? (double)ld_i(p.yzp->dtype, p.yzp->data, 0) : 0);
        double lo = p.out_t == IR_I8 ? -128 : 0, hi = p.out_t == IR_I8 ? 127 : 255;
        v = nearbyint(v < lo ? lo : v > hi ? hi : v);
        st_i(p.out_t, r->buf, e, (int64_t)v);
    }
    return 1;
}
