/* A small reference evaluator for constant folding. It covers what exporters put in
 * shape subgraphs (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Range, Expand,
 * ConstantOfShape, ...) plus cheap element-wise math on constants. It computes output
 * shapes itself, so folding never depends on what inference made of a dynamic input. */
#include "ir/lowp.h"
#include "ir/recipe.h"
#include "passes/eval_int.h"

/* ---------------------------------------------------------------- element-wise */
/* Any op with a scalar recipe (ir/recipe.h): the same semantics the backends lower. */
static int eval_map(ir_graph_t *g, ir_node_t *n, res_t *r) {
    const ir_rexpr_t *e = ir_recipe(n->op, NULL);
    int na = n->n_in, arity = ir_recipe_arity(e), mi, xi, mo, xo;
    ir_op_arity(n->op, &mi, &xi, &mo, &xo);
    if (!e || na < 1 || na > EVAL_MAX_IN) return 0;
    sh_t s[EVAL_MAX_IN], out = {0, {0}};
    bool present[EVAL_MAX_IN] = {false}, in_bool[EVAL_MAX_IN] = {false};
    ir_dtype_t t = IR_BOOL;
    for (int k = na - 1; k >= 0; k--) {
        if (!n->in[k]) continue;
        if (!in_const(n, k, &s[k])) return 0;
        present[k] = true;
        in_bool[k] = n->in[k]->dtype == IR_BOOL;
        if (!in_bool[k]) t = n->in[k]->dtype;
    }
    for (int k = 0; k < na; k++)
        if (present[k] && !bcast_shape(&out, &s[k], &out)) return ir_error(g, n, "input shapes do not broadcast");
    for (int k = 0; k < na; k++)
        if (present[k] && n->in[k]->dtype != IR_BOOL && n->in[k]->dtype != t) return 0;
    bool fl = ir_dtype_is_float(t);
    ir_dtype_t odt = ir_recipe_is_bool(e, in_bool) ? IR_BOOL : t;
    if (!res_alloc(g, r, odt, &out)) return 0;
    int64_t st[EVAL_MAX_IN][IR_MAX_RANK];
    for (int k = 0; k < na; k++)
        if (present[k]) bcast_strides(&s[k], &out, st[k]);
    for (int64_t i = 0; i < r->numel; i++) {
        ir_rval_t v[EVAL_MAX_IN];
        for (int k = 0; k < na; k++) {
            if (!present[k]) continue;
            int64_t o = offset_of(&out, i, st[k]);
            if (fl && !in_bool[k]) v[k].f = ld_f(n->in[k]->dtype, n->in[k]->data, o);
            else v[k].i = ld_i(n->in[k]->dtype, n->in[k]->data, o);
        }
        ir_rval_t x;
        if (xi <= arity) {
            x = ir_recipe_eval(e, n, t, v, in_bool, present);
        } else {
            /* variadic (Max, Min, Sum): fold the binary recipe left to right */
            x = v[0];
            for (int k = 1; k < na; k++) {
                ir_rval_t pair[2] = {x, v[k]};
                x = ir_recipe_eval(e, n, t, pair, in_bool, (const bool[]){true, true});
            }
        }
        if (fl && odt != IR_BOOL) st_f(odt, r->buf, i, x.f);
        else st_i(odt, r->buf, i, x.i);
    }
    return 1;
}

/* Pow allows the exponent a different dtype; computed in double like the kernel does. */
static int eval_pow(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s[2], out;
    if (!in_const(n, 0, &s[0]) || !in_const(n, 1, &s[1])) return 0;
    if (!bcast_shape(&s[0], &s[1], &out)) return ir_error(g, n, "input shapes do not broadcast");
    ir_dtype_t t = n->in[0]->dtype;
    if (!res_alloc(g, r, t, &out)) return 0;
    int64_t st[2][IR_MAX_RANK];
    for (int k = 0; k < 2; k++) bcast_strides(&s[k], &out, st[k]);
    for (int64_t i = 0; i < r->numel; i++) {
        double x = ld_f(t, n->in[0]->data, offset_of(&out, i, st[0]));
        double y = ld_f(n->in[1]->dtype, n->in[1]->data, offset_of(&out, i, st[1]));
        st_f(t, r->buf, i, pow(x, y));
    }
    return 1;
}



/* Two inputs of one dtype broadcast together; fills the shape and strides. */
static int bin_setup(ir_graph_t *g, ir_node_t *n, res_t *r, int64_t st[2][IR_MAX_RANK]) {
    sh_t s[2], out;
    if (!in_const(n, 0, &s[0]) || !in_const(n, 1, &s[1])) return 0;
    if (n->in[0]->dtype != n->in[1]->dtype) return 0;
    if (!bcast_shape(&s[0], &s[1], &out)) return ir_error(g, n, "input shapes do not broadcast");
    if (!res_alloc(g, r, n->in[0]->dtype, &out)) return 0;
    for (int k = 0; k < 2; k++) bcast_strides(&s[k], &out, st[k]);
    return 1;
}

/* Mod as backends/llvm/lower_eltwise.c's elem_mod computes it: fmod=1 is C's fmod / %;
 * fmod=0 gives the result the divisor's sign (numpy). Integer x % 0 and x % -1 are 0
 * (the kernel guards both rather than trap). */
static int eval_mod(ir_graph_t *g, ir_node_t *n, res_t *r) {
    int64_t st[2][IR_MAX_RANK];
    int rc = bin_setup(g, n, r, st);
    if (rc <= 0) return rc;
    ir_dtype_t t = r->dt;
    bool fm = ir_attr_int(n, "fmod", 0) != 0;
    const void *a = n->in[0]->data, *b = n->in[1]->data;
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t oa = offset_of(&r->sh, i, st[0]), ob = offset_of(&r->sh, i, st[1]);
        if (ir_dtype_is_float(t)) {
            double x = ld_f(t, a, oa), c = ld_f(t, b, ob), m = fmod(x, c);
            if (!fm && m != 0 && !isnan(m) && ((m < 0) != (c < 0))) m += c;
            st_f(t, r->buf, i, m);
        } else if (!ir_dtype_is_signed(t)) {
            uint64_t x = (uint64_t)ld_i(t, a, oa), c = (uint64_t)ld_i(t, b, ob);
            st_i(t, r->buf, i, c ? (int64_t)(x % c) : 0);
        } else {
            int64_t x = ld_i(t, a, oa), c = ld_i(t, b, ob), m = 0;
            if (c != 0 && c != -1) {
                m = x % c;
                if (!fm && m != 0 && ((m < 0) != (c < 0))) m += c;
            }
            st_i(t, r->buf, i, m);
        }
    }
    return 1;
}

/* BitShift as elem_bit_shift: an amount of the width or more (or negative, compared
 * unsigned) leaves only the fill, 0 (inputs are unsigned per the spec; a signed right
 * shift fills with the sign like the kernel's ashr). */
static int eval_bit_shift(ir_graph_t *g, ir_node_t *n, res_t *r) {
    int64_t st[2][IR_MAX_RANK];
    int rc = bin_setup(g, n, r, st);
    if (rc <= 0) return rc;
    ir_dtype_t t = r->dt;
    if (!ir_dtype_is_int(t)) return 0;
    bool left = strcmp(ir_attr_str(n, "direction", "LEFT"), "LEFT") == 0, sg = ir_dtype_is_signed(t);
    unsigned bits = (unsigned)ir_dtype_size(t) * 8;
    uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t x = ld_i(t, n->in[0]->data, offset_of(&r->sh, i, st[0]));
        uint64_t c = (uint64_t)ld_i(t, n->in[1]->data, offset_of(&r->sh, i, st[1])) & mask;
        int64_t v;
        if (c >= bits) v = sg && !left && x < 0 ? -1 : 0;
        else if (left) v = (int64_t)((uint64_t)x << c);
        else if (sg) v = x < 0 ? ~(~x >> c) : x >> c;
        else v = (int64_t)(((uint64_t)x & mask) >> c);
        st_i(t, r->buf, i, v);
    }
    return 1;
}

/* Mean of the broadcast inputs (float only, per the row), summed in double. */
static int eval_mean(ir_graph_t *g, ir_node_t *n, res_t *r) {
    int na = n->n_in;
    if (na < 1 || na > EVAL_MAX_IN) return 0;
    sh_t s[EVAL_MAX_IN], out = {0, {0}};
    for (int k = 0; k < na; k++) {
        if (!in_const(n, k, &s[k]) || n->in[k]->dtype != n->in[0]->dtype) return 0;
        if (!bcast_shape(&out, &s[k], &out)) return ir_error(g, n, "input shapes do not broadcast");
    }
    ir_dtype_t t = n->in[0]->dtype;
    if (!ir_dtype_is_float(t) || !res_alloc(g, r, t, &out)) return 0;
    int64_t st[EVAL_MAX_IN][IR_MAX_RANK];
    for (int k = 0; k < na; k++) bcast_strides(&s[k], &out, st[k]);
    for (int64_t i = 0; i < r->numel; i++) {
        double acc = 0;
        for (int k = 0; k < na; k++) acc += ld_f(t, n->in[k]->data, offset_of(&out, i, st[k]));
        st_f(t, r->buf, i, acc / na);
    }
    return 1;
}

/* ---------------------------------------------------------------- data movement */
/* Same elements, new shape: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout. */
/* Views: the data is copied unchanged under the new shape o (s: the input's). */
static int view_finish(ir_graph_t *g, ir_node_t *n, res_t *r, const sh_t *s, const sh_t *o) {
    if (sh_numel(o) != sh_numel(s)) return ir_error(g, n, "element count changes from %lld to %lld",
                                                    (long long)sh_numel(s), (long long)sh_numel(o));
    if (!res_alloc(g, r, n->in[0]->dtype, o)) return 0;
    memcpy(r->buf, n->in[0]->data, (size_t)r->numel * ir_dtype_size(r->dt));
    return 1;
}

static int eval_identity(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    return view_finish(g, n, r, &s, &s);
}

static int eval_flatten(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, o = {0, {0}};
    if (!in_const(n, 0, &s)) return 0;
    int64_t ax = ir_attr_int(n, "axis", 1);
    if (ax < 0) ax += s.r;
    if (ax < 0 || ax > s.r) return ir_error(g, n, "axis out of range");
    o.r = 2;
    o.d[0] = o.d[1] = 1;
    for (int i = 0; i < s.r; i++) o.d[i < ax ? 0 : 1] *= s.d[i];
    return view_finish(g, n, r, &s, &o);
}

static int eval_reshape(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, o = {0, {0}};
    int64_t v[IR_MAX_RANK * 2];
    int m;
    if (!in_const(n, 0, &s)) return 0;
    m = in_ints(n, 1, v, IR_MAX_RANK);
    if (m < 0) return 0;
    bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
    int neg = -1;
    int64_t known = 1;
    o.r = m;
    for (int i = 0; i < m; i++) {
        int64_t d = v[i];
        if (d == 0 && !allowzero) {
            if (i >= s.r) return ir_error(g, n, "shape copies dimension %d of a rank-%d input", i, s.r);
            d = s.d[i];
        }
        if (d == -1) {
            if (neg >= 0) return ir_error(g, n, "shape has more than one -1");
            neg = i;
            d = 1;
        } else if (d < 0) {
            return ir_error(g, n, "negative dimension %lld in shape", (long long)d);
        }
        o.d[i] = d;
        known *= d;
    }
    int64_t total = sh_numel(&s);
    if (neg >= 0) {
        if (known == 0 || total % known) return ir_error(g, n, "cannot infer the -1 dimension");
        o.d[neg] = total / known;
    }
    return view_finish(g, n, r, &s, &o);
}

static int squeeze_like(ir_graph_t *g, ir_node_t *n, res_t *r, bool unsqueeze) {
    sh_t s, o = {0, {0}};
    int64_t v[IR_MAX_RANK * 2];
    const int64_t *av;
    int m;
    if (!in_const(n, 0, &s)) return 0;
    m = n->n_in > 1 && n->in[1] ? in_ints(n, 1, v, IR_MAX_RANK) : ir_attr_ints(n, "axes", &av);
    if (n->n_in > 1 && n->in[1]) {
        if (m < 0) return 0;
    } else if (m > 0) {
        if (m > IR_MAX_RANK) return 0;
        memcpy(v, av, sizeof(int64_t) * (size_t)m);
    }
    bool mark[IR_MAX_RANK * 2] = {false};
    if (unsqueeze) {
        int orank = s.r + (m > 0 ? m : 0);
        if (m <= 0 || orank > IR_MAX_RANK) return 0;
        for (int i = 0; i < m; i++) {
            int64_t a = v[i] < 0 ? v[i] + orank : v[i];
            if (a < 0 || a >= orank || mark[a]) return ir_error(g, n, "bad axis %lld", (long long)v[i]);
            mark[a] = true;
        }
        int j = 0;
        o.r = orank;
        for (int i = 0; i < orank; i++) o.d[i] = mark[i] ? 1 : s.d[j++];
    } else {
        for (int i = 0; i < m; i++) {
            int64_t a = v[i] < 0 ? v[i] + s.r : v[i];
            if (a < 0 || a >= s.r || s.d[a] != 1) return ir_error(g, n, "cannot squeeze axis %lld", (long long)v[i]);
            mark[a] = true;
        }
        for (int i = 0; i < s.r; i++)
            if (!(m > 0 ? mark[i] : s.d[i] == 1)) o.d[o.r++] = s.d[i];
    }
    return view_finish(g, n, r, &s, &o);
}
static int eval_squeeze(ir_graph_t *g, ir_node_t *n, res_t *r) { return squeeze_like(g, n, r, false); }
static int eval_unsqueeze(ir_graph_t *g, ir_node_t *n, res_t *r) { return squeeze_like(g, n, r, true); }

static int eval_size(ir_graph_t *g, ir_node_t *n, res_t *r) {
    const ir_value_t *x = n->in[0];
    sh_t s, o = {0, {0}};
    if (!x || !get_sh(&x->shape, &s)) return 0;
    if (!res_alloc(g, r, IR_I64, &o)) return 0;
    ((int64_t *)r->buf)[0] = sh_numel(&s);
    return 1;
}

static int eval_non_zero(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    const ir_value_t *x = n->in[0];
    int64_t ne = sh_numel(&s), cnt = 0;
    if (!work_ok(ne, s.r + 1)) return 0;
    for (int64_t i = 0; i < ne; i++) cnt += ir_dtype_is_float(x->dtype) ? ld_f(x->dtype, x->data, i) != 0 : ld_i(x->dtype, x->data, i) != 0;
    sh_t o = {2, {s.r, cnt}};
    if (!res_alloc(g, r, IR_I64, &o)) return 0;
    int64_t *out = r->buf, st[IR_MAX_RANK], j = 0;
    row_strides(&s, st);
    for (int64_t i = 0; i < ne; i++) {
        bool nz = ir_dtype_is_float(x->dtype) ? ld_f(x->dtype, x->data, i) != 0 : ld_i(x->dtype, x->data, i) != 0;
        if (!nz) continue;
        for (int d = 0; d < s.r; d++) out[d * cnt + j] = (i / st[d]) % s.d[d];
        j++;
    }
    return 1;
}

static int eval_shape(ir_graph_t *g, ir_node_t *n, res_t *r) {
    const ir_value_t *x = n->in[0];
    if (!x || x->shape.rank < 0) return 0;
    int64_t rank = x->shape.rank;
    int64_t a = ir_attr_int(n, "start", 0), b = ir_attr_int(n, "end", rank);
    if (a < 0) a += rank;
    if (b < 0) b += rank;
    a = a < 0 ? 0 : a > rank ? rank : a;
    b = b < 0 ? 0 : b > rank ? rank : b;
    sh_t o = {1, {b > a ? b - a : 0}};
    for (int64_t i = a; i < b; i++)   /* only the requested dims need to be static */
        if (!ir_dim_is_const(x->shape.dims[i]) || x->shape.dims[i].v < 0) return 0;
    if (!res_alloc(g, r, IR_I64, &o)) return 0;
    for (int64_t i = a; i < b; i++) ((int64_t *)r->buf)[i - a] = x->shape.dims[i].v;
    return 1;
}

static int eval_gather(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, is;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &is)) return 0;
    const ir_value_t *ind = n->in[1];
    if (ind->dtype != IR_I64 && ind->dtype != IR_I32) return 0;
    int64_t ax = ir_attr_int(n, "axis", 0);
    if (ax < 0) ax += s.r;
    if (ax < 0 || ax >= s.r) return ir_error(g, n, "axis out of range");
    if (s.r - 1 + is.r > IR_MAX_RANK) return 0;
    sh_t o = {0, {0}};
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) { o.d[o.r++] = s.d[i]; outer *= s.d[i]; }
    for (int i = 0; i < is.r; i++) o.d[o.r++] = is.d[i];
    for (int i = (int)ax + 1; i < s.r; i++) { o.d[o.r++] = s.d[i]; inner *= s.d[i]; }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t ni = sh_numel(&is), dim = s.d[ax];
    size_t blk = (size_t)inner * ir_dtype_size(r->dt);
    char *dst = r->buf;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = ld_i(ind->dtype, ind->data, j);
            if (k < 0) k += dim;
            if (k < 0 || k >= dim) return ir_error(g, n, "index %lld out of range [0, %lld)", (long long)ld_i(ind->dtype, ind->data, j), (long long)dim);
            memcpy(dst, (const char *)n->in[0]->data + ((size_t)(a * dim + k)) * blk, blk);
            dst += blk;
        }
    return 1;
}

static int eval_concat(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s[64];
    if (n->n_in < 1 || n->n_in > 64) return 0;
    for (int k = 0; k < n->n_in; k++)
        if (!in_const(n, k, &s[k])) return 0;
    int64_t ax = ir_attr_int(n, "axis", 0);
    int rank = s[0].r;
    if (ax < 0) ax += rank;
    if (ax < 0 || ax >= rank) return ir_error(g, n, "axis out of range");
    sh_t o = s[0];
    o.d[ax] = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (s[k].r != rank || n->in[k]->dtype != n->in[0]->dtype) return ir_error(g, n, "inputs differ in rank or dtype");
        for (int i = 0; i < rank; i++)
            if (i != ax && s[k].d[i] != s[0].d[i]) return ir_error(g, n, "inputs differ in dimension %d", i);
        o.d[ax] += s[k].d[ax];
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= o.d[i];
    for (int i = (int)ax + 1; i < rank; i++) inner *= o.d[i];
    size_t es = ir_dtype_size(r->dt);
    char *dst = r->buf;
    for (int64_t a = 0; a < outer; a++)
        for (int k = 0; k < n->n_in; k++) {
            size_t blk = (size_t)(s[k].d[ax] * inner) * es;
            memcpy(dst, (const char *)n->in[k]->data + (size_t)a * blk, blk);
            dst += blk;
        }
    return 1;
}

static int eval_slice(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int m = in_ints(n, 1, starts, IR_MAX_RANK);
    if (m < 0 || in_ints(n, 2, ends, IR_MAX_RANK) != m) return 0;
    if (n->n_in > 3 && n->in[3]) {
        if (in_ints(n, 3, axes, IR_MAX_RANK) != m) return 0;
    } else {
        for (int i = 0; i < m; i++) axes[i] = i;
    }
    if (n->n_in > 4 && n->in[4]) {
        if (in_ints(n, 4, steps, IR_MAX_RANK) != m) return 0;
    } else {
        for (int i = 0; i < m; i++) steps[i] = 1;
    }
    int64_t st0[IR_MAX_RANK], stp[IR_MAX_RANK];
    sh_t o = s;
    for (int i = 0; i < s.r; i++) { st0[i] = 0; stp[i] = 1; }
    for (int i = 0; i < m; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + s.r : axes[i], dim, b, e, st = steps[i];
        if (a < 0 || a >= s.r) return ir_error(g, n, "axis %lld out of range", (long long)axes[i]);
        if (st == 0) return ir_error(g, n, "step is 0");
        dim = s.d[a];
        e = ends[i];
        o.d[a] = ir_slice_range(dim, starts[i], e, st, &b);
        st0[a] = b;
        stp[a] = st;
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t ist[IR_MAX_RANK];
    row_strides(&s, ist);
    size_t es = ir_dtype_size(r->dt);
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t rem = i, off = 0;
        for (int k = o.r - 1; k >= 0; k--) {
            int64_t idx = rem % o.d[k];
            rem /= o.d[k];
            off += (st0[k] + idx * stp[k]) * ist[k];
        }
        memcpy((char *)r->buf + i * (int64_t)es, (const char *)n->in[0]->data + off * (int64_t)es, es);
    }
    return 1;
}

static int eval_transpose(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t perm[IR_MAX_RANK];
    const int64_t *p;
    int m = ir_attr_ints(n, "perm", &p);
    if (m < 0) {
        for (int i = 0; i < s.r; i++) perm[i] = s.r - 1 - i;
    } else {
        if (m != s.r) return ir_error(g, n, "perm has %d entries for a rank-%d input", m, s.r);
        bool seen[IR_MAX_RANK] = {false};
        for (int i = 0; i < m; i++) {
            if (p[i] < 0 || p[i] >= s.r || seen[p[i]]) return ir_error(g, n, "perm is not a permutation");
            seen[p[i]] = true;
            perm[i] = p[i];
        }
    }
    sh_t o = s;
    int64_t ist[IR_MAX_RANK], st[IR_MAX_RANK];
    row_strides(&s, ist);
    for (int i = 0; i < s.r; i++) {
        o.d[i] = s.d[perm[i]];
        st[i] = ist[perm[i]];
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    size_t es = ir_dtype_size(r->dt);
    for (int64_t i = 0; i < r->numel; i++)
        memcpy((char *)r->buf + i * (int64_t)es, (const char *)n->in[0]->data + offset_of(&o, i, st) * (int64_t)es, es);
    return 1;
}

static int eval_expand(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, t, o;
    if (!in_const(n, 0, &s)) return 0;
    int m = in_ints(n, 1, t.d, IR_MAX_RANK);
    if (m < 0) return 0;
    t.r = m;
    for (int i = 0; i < m; i++)
        if (t.d[i] < 0) return ir_error(g, n, "negative dimension in shape");
    if (!bcast_shape(&s, &t, &o)) return ir_error(g, n, "shape does not broadcast with the input");
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t st[IR_MAX_RANK];
    bcast_strides(&s, &o, st);
    size_t es = ir_dtype_size(r->dt);
    for (int64_t i = 0; i < r->numel; i++)
        memcpy((char *)r->buf + i * (int64_t)es, (const char *)n->in[0]->data + offset_of(&o, i, st) * (int64_t)es, es);
    return 1;
}

/* Casts from or to a low-precision dtype go through float32 (ir/lowp.c), as the
 * reference does; integer sources to int4/int2 wrap. */
static int cast_lowp(ir_graph_t *g, ir_node_t *n, res_t *r, ir_dtype_t to) {
    sh_t s;
    ir_dtype_t from = n->in[0]->dtype;
    bool lf = ir_dtype_is_lowp(from), lt = ir_dtype_is_lowp(to);
    if ((!lf && !dt_ok(from)) || (!lt && !dt_ok(to)) || !in_const_any(n, 0, &s)) return 0;
    ir_round_t mode;
    if (ir_round_parse(ir_attr_str(n, "round_mode", "up"), &mode)) return 0;
    bool sat = ir_attr_int(n, "saturate", 1) != 0;
    if (!res_alloc_any(g, r, to, &s)) return 0;
    const uint8_t *lp = n->in[0]->data;
    uint8_t *out = r->buf;
    bool int_to = to == IR_I4 || to == IR_U4 || to == IR_I2 || to == IR_U2;
    bool int_from = from == IR_I4 || from == IR_U4 || from == IR_I2 || from == IR_U2 ||
                    (!lf && !ir_dtype_is_float(from));
    for (int64_t i = 0; i < r->numel; i++) {
        if (int_to && int_from) {
            int64_t v = lf ? (int64_t)ir_lowp_to_f32(from, lp[i]) : ld_i(from, n->in[0]->data, i);
            out[i] = ir_lowp_from_i64(to, v);
            continue;
        }
        double x = lf ? (double)ir_lowp_to_f32(from, lp[i]) : ld_f(from, n->in[0]->data, i);
        if (lt) {
            out[i] = ir_lowp_from_f32(to, (float)x, sat, mode);
        } else if (lf && ir_dtype_is_int(to)) {
            /* as ml_dtypes (backends/llvm/lower_lowp.c float_to_int): finite values
             * truncate and wrap, infinities saturate, NaN gives 0 */
            int64_t lo, hi;
            int bits = 8 * (int)ir_dtype_size(to);
            bool sg = ir_dtype_is_signed(to);
            lo = sg ? (bits == 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1))) : 0;
            hi = sg ? (bits == 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1) : (bits == 64 ? -1 : (INT64_C(1) << bits) - 1);
            int64_t v = isinf(x) ? (x < 0 ? lo : hi) : (isnan(x) || fabs(x) >= 9.2e18) ? 0 : (int64_t)x;
            st_i(to, r->buf, i, v);
        } else {
            st_f(to, r->buf, i, x);
        }
    }
    return 1;
}

static int cast_to(ir_graph_t *g, ir_node_t *n, res_t *r, ir_dtype_t to) {
    sh_t s;
    if (ir_dtype_is_lowp(to) || ir_dtype_is_lowp(n->in[0]->dtype)) return cast_lowp(g, n, r, to);
    if (!in_const(n, 0, &s)) return 0;
    ir_dtype_t from = n->in[0]->dtype;
    if (!dt_ok(to)) return 0;
    if (!res_alloc(g, r, to, &s)) return 0;
    for (int64_t i = 0; i < r->numel; i++) {
        if (ir_dtype_is_float(from) || from == IR_U64)
            st_f(to, r->buf, i, ld_f(from, n->in[0]->data, i));
        else
            st_i(to, r->buf, i, ld_i(from, n->in[0]->data, i));
    }
    return 1;
}

static int eval_cast(ir_graph_t *g, ir_node_t *n, res_t *r) {
    return cast_to(g, n, r, (ir_dtype_t)ir_attr_int(n, "to", 0));
}

/* CastLike: Cast to the second input's dtype (only its dtype is read, not its data). */
static int eval_cast_like(ir_graph_t *g, ir_node_t *n, res_t *r) {
    if (n->n_in < 2 || !n->in[1]) return 0;
    return cast_to(g, n, r, n->in[1]->dtype);
}

/* BitCast: the same bytes (widths match, checked by inference). */
static int eval_bit_cast(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    ir_dtype_t to = n->out[0] ? n->out[0]->dtype : IR_UNDEFINED;
    if (!in_const_any(n, 0, &s) || ir_dtype_size(to) != ir_dtype_size(n->in[0]->dtype)) return 0;
    if (!res_alloc_any(g, r, to, &s)) return 0;
    memcpy(r->buf, n->in[0]->data, (size_t)r->numel * ir_dtype_size(to));
    return 1;
}

static int eval_const_of_shape(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t o;
    int m = in_ints(n, 0, o.d, IR_MAX_RANK);
    if (m < 0) return 0;
    o.r = m;
    for (int i = 0; i < m; i++)
        if (o.d[i] < 0) return ir_error(g, n, "negative dimension in shape");
    const ir_attr_t *a = ir_attr_find(n, "value");
    const ir_value_t *t = a && a->kind == IR_ATTR_TENSOR ? a->t : NULL;
    ir_dtype_t dt = t ? t->dtype : IR_F32;
    if (!res_alloc(g, r, dt, &o)) return 0;
    size_t es = ir_dtype_size(dt);
    if (t && t->data && t->data_size >= es)
        for (int64_t i = 0; i < r->numel; i++) memcpy((char *)r->buf + i * (int64_t)es, t->data, es);
    return 1;   /* the arena hands out zeroed memory: the default value is 0 */
}

static int eval_range(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    for (int k = 0; k < 3; k++)
        if (!in_const(n, k, &s) || sh_numel(&s) != 1) return 0;
    ir_dtype_t dt = n->in[0]->dtype;
    int64_t cnt;
    sh_t o = {1, {0}};
    if (ir_dtype_is_float(dt)) {
        double a = ld_f(dt, n->in[0]->data, 0), b = ld_f(n->in[1]->dtype, n->in[1]->data, 0),
               d = ld_f(n->in[2]->dtype, n->in[2]->data, 0);
        if (d == 0 || !isfinite(a) || !isfinite(b) || !isfinite(d)) return ir_error(g, n, "invalid range");
        double c = ceil((b - a) / d);
        if (c > (double)EVAL_MAX_BYTES) return 0;
        cnt = c > 0 ? (int64_t)c : 0;
        o.d[0] = cnt;
        if (!res_alloc(g, r, dt, &o)) return 0;
        for (int64_t i = 0; i < cnt; i++) st_f(dt, r->buf, i, a + (double)i * d);
    } else {
        int64_t a = ld_i(dt, n->in[0]->data, 0), b = ld_i(n->in[1]->dtype, n->in[1]->data, 0),
                d = ld_i(n->in[2]->dtype, n->in[2]->data, 0);
        if (d == 0) return ir_error(g, n, "delta is 0");
        double span = ((double)b - (double)a) / (double)d;
        if (span > (double)EVAL_MAX_BYTES) return 0;
        cnt = span > 0 ? (int64_t)ceil(span) : 0;
        o.d[0] = cnt;
        if (!res_alloc(g, r, dt, &o)) return 0;
        for (int64_t i = 0; i < cnt; i++) st_i(dt, r->buf, i, a + i * d);
    }
    return 1;
}

static int eval_constant(ir_graph_t *g, ir_node_t *n, res_t *r) {
    const ir_attr_t *a = n->n_attrs > 0 ? &n->attrs[0] : NULL;
    sh_t o = {0, {0}};
    if (!a) return 0;
    if (a->kind == IR_ATTR_TENSOR && a->t && a->t->data) {
        if (!get_sh(&a->t->shape, &o) || !res_alloc(g, r, a->t->dtype, &o)) return 0;
        size_t nb = (size_t)r->numel * ir_dtype_size(r->dt);
        if (a->t->data_size < nb) return ir_error(g, n, "tensor data is shorter than its shape");
        memcpy(r->buf, a->t->data, nb);
        return 1;
    }
    bool fl = a->kind == IR_ATTR_FLOAT || a->kind == IR_ATTR_FLOATS;
    bool vec = a->kind == IR_ATTR_INTS || a->kind == IR_ATTR_FLOATS;
    if (a->kind != IR_ATTR_INT && a->kind != IR_ATTR_FLOAT && !vec) return 0;
    if (vec) o = (sh_t){1, {a->n}};
    if (!res_alloc(g, r, fl ? IR_F32 : IR_I64, &o)) return 0;
    for (int64_t i = 0; i < r->numel; i++) {
        if (fl) st_f(IR_F32, r->buf, i, vec ? a->floats[i] : a->f);
        else st_i(IR_I64, r->buf, i, vec ? a->ints[i] : a->i);
    }
    return 1;
}

typedef int (*eval_fn)(ir_graph_t *, ir_node_t *, res_t *);
static const eval_fn eval_table[IR_OP_COUNT] = {
#define OP(e, name, mi, xi, mo, xo, cls, inf, ev, types, attrs, recipe) ev,
#include "ir/ops.def"
#undef OP
};

/* Folds n when its evaluator can: every present output becomes a constant (Split's
 * pieces, ...). An evaluator that fills only some present outputs (Dropout's mask,
 * LayerNorm's statistics) leaves the node computed. */
int pass_eval_node(ir_graph_t *g, ir_node_t *n) {
    if (n->dead || n->n_post || n->n_out < 1 || !n->out[0] || n->n_out > IR_EVAL_MAX_OUT) return 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] && n->out[k]->is_input) return 0;
    if (eval_table[n->op] != eval_shape && eval_table[n->op] != eval_size)   /* these read only the input shape */
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && (!n->in[k]->data || !(dt_ok(n->in[k]->dtype) || ir_dtype_is_lowp(n->in[k]->dtype))))
                return 0;
    res_t r[IR_EVAL_MAX_OUT];
    memset(r, 0, sizeof(res_t) * (size_t)n->n_out);
    int rc = eval_table[n->op](g, n, r);
    if (rc <= 0) return rc;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] && !r[k].buf) return 0;
    for (int k = 0; k < n->n_out; k++) {
        ir_value_t *v = n->out[k];
        if (!v) continue;
        v->dtype = r[k].dt;
        v->shape.rank = r[k].sh.r;
        for (int i = 0; i < r[k].sh.r; i++) v->shape.dims[i] = ir_dim_const(r[k].sh.d[i]);
        v->data = r[k].buf;
        v->data_size = (size_t)r[k].numel * ir_dtype_size(r[k].dt);
        v->producer = NULL;
    }
    n->dead = true;
    return 1;
}
