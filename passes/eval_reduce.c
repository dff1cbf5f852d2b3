/* Reference evaluations of the reductions and the ops that scan one axis (ArgMax/ArgMin,
 * Softmax/LogSoftmax, Hardmax, CumSum). Semantics follow backends/llvm/lower_nn.c, so a
 * folded constant equals what the kernel would have computed; float math is done in
 * double and stored in the output dtype. */
#include "passes/eval_int.h"

/* ---------------------------------------------------------------- Reduce* */
typedef enum { RK_SUM, RK_MEAN, RK_MAX, RK_MIN, RK_PROD, RK_L1, RK_L2, RK_LOG_SUM, RK_LSE, RK_SUM_SQ } rk_t;

/* The smallest / largest value of integer dtype t (bool: 0 / 1): the identity of
 * max / min, as the kernel's accumulator starts. */
static int64_t int_lim(ir_dtype_t t, bool hi) {
    if (t == IR_BOOL) return hi;
    if (t == IR_U64) return hi ? -1 : 0;   /* all ones, read back as uint64 */
    int bits = (int)ir_dtype_size(t) * 8;
    if (!ir_dtype_is_signed(t)) return hi ? (int64_t)((1ull << bits) - 1) : 0;
    int64_t mx = INT64_MAX >> (64 - bits);
    return hi ? mx : -mx - 1;
}

/* a > b in dtype t's ordering (uint64 compares unsigned). */
static bool int_gt(ir_dtype_t t, int64_t a, int64_t b) {
    return t == IR_U64 ? (uint64_t)a > (uint64_t)b : a > b;
}

/* Which axes of a rank-r input are reduced: the constant second input, else the older
 * 'axes' attribute; none listed reduces all unless noop_with_empty_axes (then none, and
 * the element maps still apply, as in the kernel). 1 ok, 0 not foldable, -1 error. */
static int reduce_axes(ir_graph_t *g, ir_node_t *n, int r, bool *red) {
    int64_t ax[IR_MAX_RANK];
    int cnt;
    if (n->n_in > 1 && n->in[1]) {
        if ((cnt = in_ints(n, 1, ax, IR_MAX_RANK)) < 0) return 0;
    } else {
        const int64_t *a;
        cnt = ir_attr_ints(n, "axes", &a);
        if (cnt > IR_MAX_RANK) return 0;
        if (cnt < 0) cnt = 0;
        for (int i = 0; i < cnt; i++) ax[i] = a[i];
    }
    for (int i = 0; i < r; i++) red[i] = cnt == 0 && !ir_attr_int(n, "noop_with_empty_axes", 0);
    for (int i = 0; i < cnt; i++) {
        int a;
        if (ir_norm_axis(ax[i], r, &a) || red[a]) return ir_error(g, n, "axis %lld is out of range or repeated", (long long)ax[i]);
        red[a] = true;
    }
    return 1;
}

static int reduce(ir_graph_t *g, ir_node_t *n, res_t *r, rk_t rk) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    bool red[IR_MAX_RANK];
    int rc = reduce_axes(g, n, s.r, red);
    if (rc <= 0) return rc;
    ir_dtype_t t = n->in[0]->dtype;
    bool keep = ir_attr_int(n, "keepdims", 1) != 0, fl = ir_dtype_is_float(t);
    if (t == IR_BOOL && rk != RK_MAX && rk != RK_MIN) return 0;
    /* out: the result's shape; os: the input's shape with reduced dims set to 1, whose
     * row-major strides give each input element's accumulator */
    sh_t out = {0, {0}}, os = s;
    int64_t cnt = 1;
    for (int i = 0; i < s.r; i++) {
        if (red[i]) {
            cnt *= s.d[i];
            os.d[i] = 1;
            if (keep) out.d[out.r++] = 1;
        } else {
            out.d[out.r++] = s.d[i];
        }
    }
    if (!res_alloc(g, r, t, &out)) return 0;
    int64_t ost[IR_MAX_RANK], st[IR_MAX_RANK];
    row_strides(&os, ost);
    for (int i = 0; i < s.r; i++) st[i] = red[i] ? 0 : ost[i];
    int64_t m = r->numel;
    double *fa = fl ? malloc(sizeof(double) * (size_t)(m ? m : 1)) : NULL;
    int64_t *ia = fl ? NULL : malloc(sizeof(int64_t) * (size_t)(m ? m : 1));
    if (!fa && !ia) return ir_error(g, n, "out of memory");
    for (int64_t j = 0; j < m; j++) {
        if (fl) fa[j] = rk == RK_MAX ? -INFINITY : rk == RK_MIN ? INFINITY : rk == RK_PROD ? 1 : 0;
        else ia[j] = rk == RK_MAX ? int_lim(t, false) : rk == RK_MIN ? int_lim(t, true) : rk == RK_PROD ? 1 : 0;
    }
    const void *x = n->in[0]->data;
    int64_t ne = sh_numel(&s);
    for (int64_t i = 0; i < ne; i++) {
        int64_t j = offset_of(&s, i, st);
        if (fl) {
            double v = ld_f(t, x, i), *a = &fa[j];
            switch (rk) {
            /* max/min keep the accumulator when unordered, like the kernel's UGT/ULT select */
            case RK_MAX: *a = (*a > v || isnan(*a) || isnan(v)) ? *a : v; break;
            case RK_MIN: *a = (*a < v || isnan(*a) || isnan(v)) ? *a : v; break;
            case RK_PROD: *a *= v; break;
            case RK_L1: *a += fabs(v); break;
            case RK_L2: case RK_SUM_SQ: *a += v * v; break;
            case RK_LSE: *a += exp(v); break;
            default: *a += v; break;
            }
        } else {
            /* integer sums and products wrap mod 2^64, which truncates to the same value a
             * narrower accumulator would hold */
            uint64_t v = (uint64_t)ld_i(t, x, i), a = (uint64_t)ia[j];
            switch (rk) {
            case RK_MAX: if (int_gt(t, (int64_t)v, (int64_t)a)) a = v; break;
            case RK_MIN: if (int_gt(t, (int64_t)a, (int64_t)v)) a = v; break;
            case RK_PROD: a *= v; break;
            case RK_L1: a += ir_dtype_is_signed(t) && (int64_t)v < 0 ? -v : v; break;
            case RK_L2: case RK_SUM_SQ: a += v * v; break;
            default: a += v; break;
            }
            ia[j] = (int64_t)a;
        }
    }
    for (int64_t j = 0; j < m; j++) {
        if (fl) {
            double a = fa[j];
            if (rk == RK_MEAN) a /= (double)cnt;
            else if (rk == RK_L2) a = sqrt(a);
            else if (rk == RK_LOG_SUM || rk == RK_LSE) a = log(a);
            st_f(t, r->buf, j, a);
        } else {
            int64_t a = wrap_i(t, ia[j]);
            if (rk == RK_MEAN) a = cnt ? (t == IR_U64 ? (int64_t)((uint64_t)a / (uint64_t)cnt) : a / cnt) : 0;
            else if (rk == RK_L2) a = f2i(sqrt(t == IR_U64 ? (double)(uint64_t)a : (double)a));
            st_i(t, r->buf, j, a);
        }
    }
    free(fa);
    free(ia);
    return 1;
}

int eval_reduce_sum(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_SUM); }
int eval_reduce_mean(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_MEAN); }
int eval_reduce_max(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_MAX); }
int eval_reduce_min(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_MIN); }
int eval_reduce_prod(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_PROD); }
int eval_reduce_l1(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_L1); }
int eval_reduce_l2(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_L2); }
int eval_reduce_log_sum(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_LOG_SUM); }
int eval_reduce_log_sum_exp(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_LSE); }
int eval_reduce_sum_square(ir_graph_t *g, ir_node_t *n, res_t *r) { return reduce(g, n, r, RK_SUM_SQ); }

/* ---------------------------------------------------------------- one-axis scans */
/* The input split around one axis: outer x len x inner. */
typedef struct {
    sh_t s;
    int ax;
    int64_t outer, len, inner;
} scan_t;

static int scan_setup(ir_graph_t *g, ir_node_t *n, scan_t *sc, int64_t axis) {
    if (!in_const(n, 0, &sc->s)) return 0;
    int r = sc->s.r;
    if (ir_norm_axis(axis, r, &sc->ax)) return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)axis, r);
    sc->outer = sc->inner = 1;
    for (int i = 0; i < sc->ax; i++) sc->outer *= sc->s.d[i];
    for (int i = sc->ax + 1; i < r; i++) sc->inner *= sc->s.d[i];
    sc->len = sc->s.d[sc->ax];
    return 1;
}

/* Index along the scan of the first (last: the last) max / min of line (o, in), as
 * elem_arg: ordered comparisons, so a NaN never wins over the first element. */
static int64_t arg_line(const ir_value_t *x, const scan_t *sc, int64_t o, int64_t in, bool mx, bool last) {
    ir_dtype_t t = x->dtype;
    int64_t base = o * sc->len * sc->inner + in, bi = 0;
    if (ir_dtype_is_float(t)) {
        double best = ld_f(t, x->data, base);
        for (int64_t l = 1; l < sc->len; l++) {
            double v = ld_f(t, x->data, base + l * sc->inner);
            bool b = mx ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
            if (b) { best = v; bi = l; }
        }
    } else {
        int64_t best = ld_i(t, x->data, base);
        for (int64_t l = 1; l < sc->len; l++) {
            int64_t v = ld_i(t, x->data, base + l * sc->inner);
            bool gt = int_gt(t, v, best), lt = int_gt(t, best, v), eq = v == best;
            bool b = mx ? (gt || (last && eq)) : (lt || (last && eq));
            if (b) { best = v; bi = l; }
        }
    }
    return bi;
}

static int arg(ir_graph_t *g, ir_node_t *n, res_t *r, bool mx) {
    scan_t sc;
    int rc = scan_setup(g, n, &sc, ir_attr_int(n, "axis", 0));
    if (rc <= 0) return rc;
    if (sc.len == 0) return 0;
    bool keep = ir_attr_int(n, "keepdims", 1) != 0, last = ir_attr_int(n, "select_last_index", 0) != 0;
    sh_t o = {0, {0}};
    for (int i = 0; i < sc.s.r; i++)
        if (i != sc.ax) o.d[o.r++] = sc.s.d[i];
        else if (keep) o.d[o.r++] = 1;
    if (!res_alloc(g, r, IR_I64, &o)) return 0;
    for (int64_t a = 0; a < sc.outer; a++)
        for (int64_t in = 0; in < sc.inner; in++)
            ((int64_t *)r->buf)[a * sc.inner + in] = arg_line(n->in[0], &sc, a, in, mx, last);
    return 1;
}
int eval_arg_max(ir_graph_t *g, ir_node_t *n, res_t *r) { return arg(g, n, r, true); }
int eval_arg_min(ir_graph_t *g, ir_node_t *n, res_t *r) { return arg(g, n, r, false); }

int eval_hardmax(ir_graph_t *g, ir_node_t *n, res_t *r) {
    scan_t sc;
    int rc = scan_setup(g, n, &sc, ir_attr_int(n, "axis", -1));
    if (rc <= 0) return rc;
    if (!res_alloc(g, r, n->in[0]->dtype, &sc.s)) return 0;
    if (sc.len == 0) return 1;
    for (int64_t a = 0; a < sc.outer; a++)
        for (int64_t in = 0; in < sc.inner; in++) {
            int64_t l = arg_line(n->in[0], &sc, a, in, true, false);
            st_i(r->dt, r->buf, (a * sc.len + l) * sc.inner + in, 1);   /* the arena memory is zeroed */
        }
    return 1;
}

/* Softmax over one axis (opset >= 13), or over the flattened dims from axis on (the
 * older opsets, default axis 1), as lower_softmax. */
static int softmax(ir_graph_t *g, ir_node_t *n, res_t *r, bool lg) {
    bool old = g->opset < 13;
    scan_t sc;
    int rc = scan_setup(g, n, &sc, ir_attr_int(n, "axis", old ? 1 : -1));
    if (rc <= 0) return rc;
    ir_dtype_t t = n->in[0]->dtype;
    if (!ir_dtype_is_float(t)) return 0;
    if (old) {
        sc.len *= sc.inner;
        sc.inner = 1;
    }
    if (!res_alloc(g, r, t, &sc.s)) return 0;
    const void *x = n->in[0]->data;
    for (int64_t a = 0; a < sc.outer; a++)
        for (int64_t in = 0; in < sc.inner; in++) {
            int64_t base = a * sc.len * sc.inner + in;
            double mx = -INFINITY, sum = 0;
            for (int64_t l = 0; l < sc.len; l++) mx = fmax(mx, ld_f(t, x, base + l * sc.inner));
            for (int64_t l = 0; l < sc.len; l++) sum += exp(ld_f(t, x, base + l * sc.inner) - mx);
            for (int64_t l = 0; l < sc.len; l++) {
                double d = ld_f(t, x, base + l * sc.inner) - mx;
                st_f(t, r->buf, base + l * sc.inner, lg ? d - log(sum) : exp(d) / sum);
            }
        }
    return 1;
}
int eval_softmax(ir_graph_t *g, ir_node_t *n, res_t *r) { return softmax(g, n, r, false); }
int eval_log_softmax(ir_graph_t *g, ir_node_t *n, res_t *r) { return softmax(g, n, r, true); }

/* CumSum along the axis given by the scalar second input; exclusive and reverse as in
 * elem_cumsum. Integer sums wrap in the input dtype. */
/* CumSum and CumProd: running sum / product along the axis (exclusive: of the elements
 * before; reverse: from the end). Integers wrap as the kernel's accumulator does. */
static int eval_cum(ir_graph_t *g, ir_node_t *n, res_t *r, bool prod) {
    int64_t axv[1];
    sh_t as;
    if (!in_const(n, 1, &as) || sh_numel(&as) != 1) return 0;
    if (n->in[1]->dtype != IR_I64 && n->in[1]->dtype != IR_I32) return 0;
    axv[0] = ld_i(n->in[1]->dtype, n->in[1]->data, 0);
    scan_t sc;
    int rc = scan_setup(g, n, &sc, axv[0]);
    if (rc <= 0) return rc;
    ir_dtype_t t = n->in[0]->dtype;
    if (t == IR_BOOL) return 0;
    bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
    if (!res_alloc(g, r, t, &sc.s)) return 0;
    bool fl = ir_dtype_is_float(t);
    const void *x = n->in[0]->data;
    for (int64_t a = 0; a < sc.outer; a++)
        for (int64_t in = 0; in < sc.inner; in++) {
            int64_t base = a * sc.len * sc.inner + in;
            double fs = prod ? 1 : 0;
            uint64_t is = prod ? 1 : 0;
            for (int64_t q = 0; q < sc.len; q++) {
                int64_t at = base + (rev ? sc.len - 1 - q : q) * sc.inner;
                if (excl) {
                    if (fl) st_f(t, r->buf, at, fs);
                    else st_i(t, r->buf, at, (int64_t)is);
                }
                if (fl) fs = prod ? fs * ld_f(t, x, at) : fs + ld_f(t, x, at);
                else is = prod ? is * (uint64_t)ld_i(t, x, at) : is + (uint64_t)ld_i(t, x, at);
                if (!excl) {
                    if (fl) st_f(t, r->buf, at, fs);
                    else st_i(t, r->buf, at, (int64_t)is);
                }
            }
        }
    return 1;
}

int eval_cum_sum(ir_graph_t *g, ir_node_t *n, res_t *r) { return eval_cum(g, n, r, false); }
int eval_cum_prod(ir_graph_t *g, ir_node_t *n, res_t *r) { return eval_cum(g, n, r, true); }

/* ---------------------------------------------------------------- MatMul, Gemm */
/* Folded only while small (EVAL_MAX_MACS, eval_int.h). */
/* C[m][n] = sum_k A[m][k] B[k][n] with element strides; float in double, integers
 * wrapping like the kernel's accumulator in the output dtype. */
static double dot_f(const ir_value_t *a, int64_t ao, int64_t as, const ir_value_t *b, int64_t bo, int64_t bs, int64_t K) {
    double acc = 0;
    for (int64_t k = 0; k < K; k++) acc += ld_f(a->dtype, a->data, ao + k * as) * ld_f(b->dtype, b->data, bo + k * bs);
    return acc;
}
static int64_t dot_i(const ir_value_t *a, int64_t ao, int64_t as, const ir_value_t *b, int64_t bo, int64_t bs, int64_t K) {
    uint64_t acc = 0;
    for (int64_t k = 0; k < K; k++)
        acc += (uint64_t)ld_i(a->dtype, a->data, ao + k * as) * (uint64_t)ld_i(b->dtype, b->data, bo + k * bs);
    return (int64_t)acc;
}

int eval_matmul(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sa, sb;
    if (!in_const(n, 0, &sa) || !in_const(n, 1, &sb) || sa.r < 1 || sb.r < 1) return 0;
    ir_dtype_t t = n->in[0]->dtype;
    if (n->in[1]->dtype != t || t == IR_BOOL) return 0;
    /* numpy matmul: 1-D operands get a unit dim that is dropped again */
    sh_t a = sa, b = sb;
    if (a.r == 1) { a.r = 2; a.d[1] = a.d[0]; a.d[0] = 1; }
    if (b.r == 1) { b.r = 2; b.d[1] = 1; }
    int64_t M = a.d[a.r - 2], K = a.d[a.r - 1], N = b.d[b.r - 1];
    if (b.d[b.r - 2] != K) return ir_error(g, n, "inner dimensions differ (%lld vs %lld)", (long long)K, (long long)b.d[b.r - 2]);
    sh_t ba = {a.r - 2, {0}}, bb = {b.r - 2, {0}}, bo;
    for (int i = 0; i < ba.r; i++) ba.d[i] = a.d[i];
    for (int i = 0; i < bb.r; i++) bb.d[i] = b.d[i];
    if (!bcast_shape(&ba, &bb, &bo)) return ir_error(g, n, "batch dimensions do not broadcast");
    sh_t o = bo;
    if (sa.r > 1) o.d[o.r++] = M;
    if (sb.r > 1) o.d[o.r++] = N;
    if (o.r > IR_MAX_RANK) return 0;
    int64_t nbat = sh_numel(&bo);
    int64_t work = 1;
    if (nbat < 0 || !work_mul(&work, nbat) || !work_mul(&work, M) || !work_mul(&work, N) || !work_mul(&work, K))
        return 0;
    if (!res_alloc(g, r, t, &o)) return 0;
    int64_t sta[IR_MAX_RANK], stb[IR_MAX_RANK];
    bcast_strides(&ba, &bo, sta);
    bcast_strides(&bb, &bo, stb);
    bool fl = ir_dtype_is_float(t);
    for (int64_t q = 0; q < nbat; q++) {
        int64_t ao = offset_of(&bo, q, sta) * M * K, bo2 = offset_of(&bo, q, stb) * K * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                int64_t at = (q * M + i) * N + j;
                if (fl) st_f(t, r->buf, at, dot_f(n->in[0], ao + i * K, 1, n->in[1], bo2 + j, N, K));
                else st_i(t, r->buf, at, dot_i(n->in[0], ao + i * K, 1, n->in[1], bo2 + j, N, K));
            }
    }
    return 1;
}

/* Gemm: alpha * op(A) op(B) + beta * C, C broadcast to [M, N]. */
int eval_gemm(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t sa, sb, sc = {0, {0}};
    if (!in_const(n, 0, &sa) || !in_const(n, 1, &sb) || sa.r != 2 || sb.r != 2) return 0;
    ir_dtype_t t = n->in[0]->dtype;
    if (n->in[1]->dtype != t || !ir_dtype_is_float(t)) return 0;
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    int64_t M = sa.d[ta], K = sa.d[!ta], N = sb.d[!tb];
    if (sb.d[tb] != K) return ir_error(g, n, "inner dimensions differ (%lld vs %lld)", (long long)K, (long long)sb.d[tb]);
    const ir_value_t *C = n->n_in > 2 ? n->in[2] : NULL;
    sh_t o = {2, {M, N}}, ob;
    int64_t cst[IR_MAX_RANK];
    if (C) {
        if (!in_const(n, 2, &sc) || C->dtype != t) return 0;
        if (!bcast_shape(&sc, &o, &ob) || ob.r != 2 || ob.d[0] != M || ob.d[1] != N)
            return ir_error(g, n, "C does not broadcast to [%lld, %lld]", (long long)M, (long long)N);
        bcast_strides(&sc, &o, cst);
    }
    int64_t work = 1;
    if (!work_mul(&work, M) || !work_mul(&work, N) || !work_mul(&work, K)) return 0;
    if (!res_alloc(g, r, t, &o)) return 0;
    int64_t as_m = ta ? 1 : K, as_k = ta ? M : 1, bs_k = tb ? 1 : N, bs_n = tb ? K : 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double v = alpha * dot_f(n->in[0], i * as_m, as_k, n->in[1], j * bs_n, bs_k, K);
            if (C) v += beta * ld_f(t, C->data, offset_of(&o, i * N + j, cst));
            st_f(t, r->buf, i * N + j, v);
        }
    return 1;
}
