/* Reference evaluations of the data-movement ops with their own kernels (Tile, Pad,
 * Trilu, Split, DepthToSpace/SpaceToDepth) and the index-driven ones (GatherElements,
 * GatherND, ScatterND, ScatterElements). Elements are copied byte-wise, so every dtype
 * the folder handles moves unchanged. An index out of range is an error naming the node:
 * the kernels clamp or skip such an index only to stay in bounds, it is not a meaning. */
#include "passes/eval_int.h"

/* Element i of shape s as coordinates c[0..r). */
static void unravel(const sh_t *s, int64_t i, int64_t *c) {
    for (int k = s->r - 1; k >= 0; k--) {
        int64_t d = s->d[k] ? s->d[k] : 1;
        c[k] = i % d;
        i /= d;
    }
}

static int64_t dot(const int64_t *c, const int64_t *st, int r) {
    int64_t o = 0;
    for (int k = 0; k < r; k++) o += c[k] * st[k];
    return o;
}

/* An index value of input k at element i, negative ones counted from the end of an axis
 * of size dim; -1 with an error set when it falls outside. */
static int64_t index_at(ir_graph_t *g, ir_node_t *n, int k, int64_t i, int64_t dim) {
    int64_t v = ld_i(n->in[k]->dtype, n->in[k]->data, i), a = v < 0 ? v + dim : v;
    if (a < 0 || a >= dim) {
        ir_error(g, n, "index %lld out of range [-%lld, %lld)", (long long)v, (long long)dim, (long long)dim);
        return -1;
    }
    return a;
}

static bool is_index(const ir_value_t *v) { return v && (v->dtype == IR_I64 || v->dtype == IR_I32); }

/* ---------------------------------------------------------------- Tile */
int eval_tile(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    int64_t rep[IR_MAX_RANK];
    if (!in_const(n, 0, &s)) return 0;
    if (in_ints(n, 1, rep, IR_MAX_RANK) != s.r) return 0;
    sh_t o = s;
    for (int i = 0; i < s.r; i++) {
        if (rep[i] < 0) return ir_error(g, n, "negative repeat %lld", (long long)rep[i]);
        if (rep[i] && s.d[i] > INT64_MAX / rep[i]) return 0;
        o.d[i] = s.d[i] * rep[i];
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t st[IR_MAX_RANK], c[IR_MAX_RANK];
    row_strides(&s, st);
    size_t es = ir_dtype_size(r->dt);
    for (int64_t i = 0; i < r->numel; i++) {
        unravel(&o, i, c);
        for (int k = 0; k < s.r; k++) c[k] %= s.d[k];
        cp_el(r->buf, i, n->in[0]->data, dot(c, st, s.r), es);
    }
    return 1;
}

/* ---------------------------------------------------------------- Pad */
/* constant, edge, reflect (as lw_lower_pad) and wrap (the spec's, opset 19). Negative
 * pads crop; they are folded for constant mode only, where they mean the same thing. */
int eval_pad(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK], pb[IR_MAX_RANK] = {0}, pe[IR_MAX_RANK] = {0};
    int np = in_ints(n, 1, pads, 2 * IR_MAX_RANK);
    if (np < 0) return 0;
    int na = -1;
    if (n->n_in > 3 && n->in[3] && (na = in_ints(n, 3, axes, IR_MAX_RANK)) < 0) return 0;
    int cnt = na >= 0 ? na : s.r;
    if (np != 2 * cnt) return ir_error(g, n, "pads has %d values, expected %d", np, 2 * cnt);
    for (int i = 0; i < cnt; i++) {
        int a = i;
        if (na >= 0 && ir_norm_axis(axes[i], s.r, &a)) return ir_error(g, n, "pad axis %lld out of range", (long long)axes[i]);
        pb[a] = pads[i];
        pe[a] = pads[i + cnt];
    }
    const char *ms = ir_attr_str(n, "mode", "constant");
    int mode = !strcmp(ms, "constant") ? 0 : !strcmp(ms, "edge") ? 1 : !strcmp(ms, "reflect") ? 2 : !strcmp(ms, "wrap") ? 3 : -1;
    if (mode < 0) return 0;
    sh_t o = s;
    for (int i = 0; i < s.r; i++) {
        if (mode && (pb[i] < 0 || pe[i] < 0)) return 0;
        /* edge and wrap need a non-empty axis; reflect one of at least 2 to pad it */
        if (mode && (pb[i] || pe[i]) && (s.d[i] == 0 || (mode == 2 && s.d[i] < 2))) return 0;
        o.d[i] = s.d[i] + pb[i] + pe[i];
        if (o.d[i] < 0) return ir_error(g, n, "pads make dimension %d negative", i);
    }
    ir_dtype_t t = n->in[0]->dtype;
    sh_t cs;
    const void *cval = NULL;
    if (mode == 0 && n->n_in > 2 && n->in[2]) {
        if (!in_const(n, 2, &cs) || n->in[2]->dtype != t) return 0;
        if (sh_numel(&cs) >= 1) cval = n->in[2]->data;
    }
    if (!res_alloc(g, r, t, &o)) return 0;
    int64_t st[IR_MAX_RANK], c[IR_MAX_RANK];
    row_strides(&s, st);
    size_t es = ir_dtype_size(t);
    for (int64_t i = 0; i < r->numel; i++) {
        unravel(&o, i, c);
        bool out = false;
        for (int k = 0; k < s.r; k++) {
            int64_t j = c[k] - pb[k], d = s.d[k];
            if (j < 0 || j >= d) {
                if (mode == 0) out = true;
                else if (mode == 1) j = j < 0 ? 0 : d - 1;
                else if (mode == 2) {
                    /* reflect about the end elements, period 2(d-1), like numpy */
                    int64_t p = 2 * (d - 1);
                    j = ((j % p) + p) % p;
                    if (j >= d) j = p - j;
                } else {
                    j = ((j % d) + d) % d;
                }
            }
            c[k] = j;
        }
        if (!out) cp_el(r->buf, i, n->in[0]->data, dot(c, st, s.r), es);
        else if (cval) cp_el(r->buf, i, cval, 0, es);
        /* else: the arena's zeroed memory is the default pad value 0 */
    }
    return 1;
}

/* ---------------------------------------------------------------- Trilu */
int eval_trilu(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, ks;
    if (!in_const(n, 0, &s) || s.r < 2) return 0;
    int64_t kk = 0;
    if (n->n_in > 1 && n->in[1]) {
        if (!in_const(n, 1, &ks) || sh_numel(&ks) != 1 || !is_index(n->in[1])) return 0;
        kk = ld_i(n->in[1]->dtype, n->in[1]->data, 0);
    }
    bool upper = ir_attr_int(n, "upper", 1) != 0;
    if (!res_alloc(g, r, n->in[0]->dtype, &s)) return 0;
    size_t es = ir_dtype_size(r->dt);
    int64_t R = s.d[s.r - 2], C = s.d[s.r - 1];
    for (int64_t i = 0; i < r->numel; i++) {
        int64_t col = i % (C ? C : 1), row = (i / (C ? C : 1)) % (R ? R : 1), diff = col - row;
        if (upper ? diff >= kk : diff <= kk) cp_el(r->buf, i, n->in[0]->data, i, es);
    }
    return 1;
}

/* ---------------------------------------------------------------- Split */
/* Sizes from the second input; else num_outputs (opset 18: chunks of ceil(d/k), the
 * last smaller) or an even split in n_out; the older 'split' attribute is read too. */
int eval_split(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    int k = n->n_out, ax;
    int64_t a = ir_attr_int(n, "axis", 0), sz[IR_EVAL_MAX_OUT];
    if (ir_norm_axis(a, s.r, &ax)) return ir_error(g, n, "axis %lld is out of range", (long long)a);
    int64_t d = s.d[ax];
    const int64_t *as;
    int na;
    if (n->n_in > 1 && n->in[1]) {
        if (in_ints(n, 1, sz, IR_EVAL_MAX_OUT) != k) return 0;
    } else if ((na = ir_attr_ints(n, "split", &as)) >= 0) {
        if (na != k) return 0;
        memcpy(sz, as, sizeof(int64_t) * (size_t)k);
    } else if (ir_attr_int(n, "num_outputs", -1) >= 0) {
        int64_t ch = (d + k - 1) / k;
        for (int i = 0; i < k; i++) sz[i] = i == k - 1 ? d - ch * (k - 1) : ch;
    } else {
        if (d % k) return ir_error(g, n, "axis %d of size %lld does not split evenly in %d", ax, (long long)d, k);
        for (int i = 0; i < k; i++) sz[i] = d / k;
    }
    int64_t sum = 0;
    for (int i = 0; i < k; i++) {
        if (sz[i] < 0) return ir_error(g, n, "split size %lld is invalid", (long long)sz[i]);
        sum += sz[i];
    }
    if (sum != d) return ir_error(g, n, "split sizes sum to %lld, but the axis has %lld", (long long)sum, (long long)d);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= s.d[i];
    for (int i = ax + 1; i < s.r; i++) inner *= s.d[i];
    size_t es = ir_dtype_size(n->in[0]->dtype);
    int64_t at = 0;
    for (int j = 0; j < k; j++) {
        sh_t o = s;
        o.d[ax] = sz[j];
        /* an absent output, or an empty piece (nothing to allocate), is left unset */
        if (n->out[j] && sh_numel(&o) > 0) {
            if (!res_alloc(g, &r[j], n->in[0]->dtype, &o)) return 0;
            size_t blk = (size_t)(sz[j] * inner) * es;
            for (int64_t b = 0; b < outer; b++)
                memcpy((char *)r[j].buf + (size_t)b * blk, (const char *)n->in[0]->data + ((size_t)(b * d + at) * (size_t)inner) * es, blk);
        }
        at += sz[j];
    }
    return 1;
}

/* ---------------------------------------------------------------- DepthToSpace, SpaceToDepth */
static int d2s(ir_graph_t *g, ir_node_t *n, res_t *r, bool to_space) {
    sh_t s;
    if (!in_const(n, 0, &s) || s.r != 4) return 0;
    int64_t b = ir_attr_int(n, "blocksize", 0);
    if (b <= 0) return ir_error(g, n, "blocksize must be positive");
    bool crd = strcmp(ir_attr_str(n, "mode", "DCR"), "CRD") == 0;
    sh_t o = s;
    if (to_space) {
        if (s.d[1] % (b * b)) return ir_error(g, n, "channels are not a multiple of blocksize^2");
        o.d[1] = s.d[1] / (b * b);
        o.d[2] = s.d[2] * b;
        o.d[3] = s.d[3] * b;
    } else {
        if (s.d[2] % b || s.d[3] % b) return ir_error(g, n, "spatial dims are not multiples of blocksize");
        o.d[1] = s.d[1] * b * b;
        o.d[2] = s.d[2] / b;
        o.d[3] = s.d[3] / b;
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t st[4], c[4], x[4];
    row_strides(&s, st);
    size_t es = ir_dtype_size(r->dt);
    /* the index arithmetic of backends/llvm/lower_data.c's elem_d2s */
    for (int64_t i = 0; i < r->numel; i++) {
        unravel(&o, i, c);
        x[0] = c[0];
        if (to_space) {
            int64_t ij = (c[2] % b) * b + c[3] % b;
            x[1] = crd ? c[1] * b * b + ij : ij * o.d[1] + c[1];
            x[2] = c[2] / b;
            x[3] = c[3] / b;
        } else {
            int64_t C = s.d[1], blk = crd ? c[1] % (b * b) : c[1] / C;
            x[1] = crd ? c[1] / (b * b) : c[1] % C;
            x[2] = c[2] * b + blk / b;
            x[3] = c[3] * b + blk % b;
        }
        cp_el(r->buf, i, n->in[0]->data, dot(x, st, 4), es);
    }
    return 1;
}
int eval_depth_to_space(ir_graph_t *g, ir_node_t *n, res_t *r) { return d2s(g, n, r, true); }
int eval_space_to_depth(ir_graph_t *g, ir_node_t *n, res_t *r) { return d2s(g, n, r, false); }

/* ---------------------------------------------------------------- GatherElements */
int eval_gather_elements(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, is;
    int ax;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &is) || !is_index(n->in[1]) || is.r != s.r) return 0;
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), s.r, &ax)) return ir_error(g, n, "axis out of range");
    if (!res_alloc(g, r, n->in[0]->dtype, &is)) return 0;
    int64_t st[IR_MAX_RANK], c[IR_MAX_RANK];
    row_strides(&s, st);
    size_t es = ir_dtype_size(r->dt);
    for (int64_t i = 0; i < r->numel; i++) {
        unravel(&is, i, c);
        int64_t j = index_at(g, n, 1, i, s.d[ax]);
        if (j < 0) return -1;
        c[ax] = j;
        cp_el(r->buf, i, n->in[0]->data, dot(c, st, s.r), es);
    }
    return 1;
}

/* ---------------------------------------------------------------- GatherND */
int eval_gather_nd(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, is;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &is) || !is_index(n->in[1]) || is.r < 1) return 0;
    int b = (int)ir_attr_int(n, "batch_dims", 0), m = (int)is.d[is.r - 1];
    if (b < 0 || m < 1 || b + m > s.r || b >= is.r) return ir_error(g, n, "batch_dims/indices do not fit data");
    for (int i = 0; i < b; i++)
        if (is.d[i] != s.d[i]) return ir_error(g, n, "batch dimension %d differs between data and indices", i);
    sh_t o = {0, {0}};
    for (int i = 0; i < is.r - 1; i++) o.d[o.r++] = is.d[i];
    for (int i = b + m; i < s.r; i++) {
        if (o.r >= IR_MAX_RANK) return 0;
        o.d[o.r++] = s.d[i];
    }
    if (!res_alloc(g, r, n->in[0]->dtype, &o)) return 0;
    int64_t st[IR_MAX_RANK], inner = 1, nb = 1, per = 1;
    row_strides(&s, st);
    for (int i = b + m; i < s.r; i++) inner *= s.d[i];
    for (int i = 0; i < b; i++) nb *= is.d[i];
    for (int i = b; i < is.r - 1; i++) per *= is.d[i];
    size_t es = ir_dtype_size(r->dt);
    int64_t bst = b > 0 ? st[b - 1] : 0;   /* one batch step in data */
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t q = 0; q < per; q++) {
            int64_t row = bi * per + q, off = bi * bst;
            for (int j = 0; j < m; j++) {
                int64_t v = index_at(g, n, 1, row * m + j, s.d[b + j]);
                if (v < 0) return -1;
                off += v * st[b + j];
            }
            memcpy((char *)r->buf + (size_t)(row * inner) * es, (const char *)n->in[0]->data + (size_t)off * es, (size_t)inner * es);
        }
    return 1;
}

/* ---------------------------------------------------------------- scatters */
typedef enum { SR_NONE, SR_ADD, SR_MUL, SR_MAX, SR_MIN } sred_t;

static int scatter_red(ir_node_t *n, sred_t *o) {
    const char *s = ir_attr_str(n, "reduction", "none");
    *o = !strcmp(s, "none") ? SR_NONE : !strcmp(s, "add") ? SR_ADD : !strcmp(s, "mul") ? SR_MUL
       : !strcmp(s, "max") ? SR_MAX : !strcmp(s, "min") ? SR_MIN : (sred_t)-1;
    return (int)*o >= 0;
}

/* out[di] combined with update element ui, in the order updates are listed. */
static void scatter_one(res_t *r, int64_t di, const ir_value_t *u, int64_t ui, sred_t red) {
    ir_dtype_t t = r->dt;
    if (red == SR_NONE) {
        cp_el(r->buf, di, u->data, ui, ir_dtype_size(t));
    } else if (ir_dtype_is_float(t)) {
        double a = ld_f(t, r->buf, di), v = ld_f(t, u->data, ui);
        a = red == SR_ADD ? a + v : red == SR_MUL ? a * v : red == SR_MAX ? fmax(a, v) : fmin(a, v);
        st_f(t, r->buf, di, a);
    } else {
        int64_t a = ld_i(t, r->buf, di), v = ld_i(t, u->data, ui);
        bool gt = t == IR_U64 ? (uint64_t)v > (uint64_t)a : v > a, lt = t == IR_U64 ? (uint64_t)v < (uint64_t)a : v < a;
        if (red == SR_ADD) a = (int64_t)((uint64_t)a + (uint64_t)v);
        else if (red == SR_MUL) a = (int64_t)((uint64_t)a * (uint64_t)v);
        else if ((red == SR_MAX && gt) || (red == SR_MIN && lt)) a = v;
        st_i(t, r->buf, di, a);
    }
}

static int scatter_begin(ir_graph_t *g, ir_node_t *n, res_t *r, sh_t *s, sh_t *is, sh_t *us, sred_t *red) {
    if (!in_const(n, 0, s) || !in_const(n, 1, is) || !in_const(n, 2, us) || !is_index(n->in[1])) return 0;
    if (n->in[2]->dtype != n->in[0]->dtype || !scatter_red(n, red)) return 0;
    if (n->in[0]->dtype == IR_BOOL && *red != SR_NONE) return 0;
    if (!res_alloc(g, r, n->in[0]->dtype, s)) return 0;
    memcpy(r->buf, n->in[0]->data, (size_t)r->numel * ir_dtype_size(r->dt));
    return 1;
}

int eval_scatter_nd(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, is, us;
    sred_t red;
    int rc = scatter_begin(g, n, r, &s, &is, &us, &red);
    if (rc <= 0) return rc;
    if (is.r < 1) return 0;
    int m = (int)is.d[is.r - 1];
    if (m < 1 || m > s.r) return ir_error(g, n, "indices' last dimension %d does not fit rank %d", m, s.r);
    int64_t st[IR_MAX_RANK], inner = 1, rows = 1;
    row_strides(&s, st);
    for (int i = m; i < s.r; i++) inner *= s.d[i];
    for (int i = 0; i < is.r - 1; i++) rows *= is.d[i];
    if (sh_numel(&us) != rows * inner) return ir_error(g, n, "updates do not match indices and data");
    for (int64_t q = 0; q < rows; q++) {
        int64_t off = 0;
        for (int j = 0; j < m; j++) {
            int64_t v = index_at(g, n, 1, q * m + j, s.d[j]);
            if (v < 0) return -1;
            off += v * st[j];
        }
        for (int64_t e = 0; e < inner; e++) scatter_one(r, off + e, n->in[2], q * inner + e, red);
    }
    return 1;
}

int eval_scatter_elements(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, is, us;
    sred_t red;
    int ax;
    int rc = scatter_begin(g, n, r, &s, &is, &us, &red);
    if (rc <= 0) return rc;
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), s.r, &ax)) return ir_error(g, n, "axis out of range");
    if (is.r != s.r || us.r != is.r) return ir_error(g, n, "indices and updates must have the data's rank");
    for (int i = 0; i < is.r; i++)
        if (us.d[i] != is.d[i]) return ir_error(g, n, "updates and indices differ in shape");
    int64_t st[IR_MAX_RANK], c[IR_MAX_RANK], ne = sh_numel(&is);
    row_strides(&s, st);
    for (int64_t i = 0; i < ne; i++) {
        unravel(&is, i, c);
        int64_t j = index_at(g, n, 1, i, s.d[ax]);
        if (j < 0) return -1;
        c[ax] = j;
        scatter_one(r, dot(c, st, s.r), n->in[2], i, red);
    }
    return 1;
}
