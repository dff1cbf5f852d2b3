/* RNN, GRU and LSTM: attributes and input shapes resolved once (ir/rnn.h), and the
 * shape inference of all three. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "ir/infer_util.h"
#include "ir/rnn.h"

static const struct {
    const char *name;
    ir_act_kind_t kind;
    int nparams;            /* alpha, then beta, consumed from the attribute lists */
    double alpha, beta;     /* used when a list runs out: onnxruntime's values, measured */
} acts[] = {
    {"relu", IR_ACT_RELU, 0, 0, 0},
    {"tanh", IR_ACT_TANH, 0, 0, 0},
    {"sigmoid", IR_ACT_SIGMOID, 0, 0, 0},
    {"affine", IR_ACT_AFFINE, 2, 0.0, 0.0},
    {"leakyrelu", IR_ACT_LEAKY_RELU, 1, 0.01, 0},
    {"thresholdedrelu", IR_ACT_THRESHOLDED_RELU, 1, 0.0, 0},
    {"scaledtanh", IR_ACT_SCALED_TANH, 2, 0.0, 0.0},
    {"hardsigmoid", IR_ACT_HARD_SIGMOID, 2, 0.2, 0.5},
    {"elu", IR_ACT_ELU, 1, 1.0, 0},
    {"softsign", IR_ACT_SOFTSIGN, 0, 0, 0},
    {"softplus", IR_ACT_SOFTPLUS, 0, 0, 0},
};

/* The spec gives no defaults for the parameters of the optional activations (the
 * standalone ops' defaults differ: ThresholdedRelu's alpha is 1 there). We take what
 * onnxruntime computes when activation_alpha/beta are absent or run out: 0 for Affine,
 * ScaledTanh and ThresholdedRelu, LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1. */

/* Names compare without case, as exporters and onnxruntime spell them both ways. */
static int act_index(const char *s) {
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        const char *a = acts[i].name, *b = s;
        while (*a && *b && *a == tolower((unsigned char)*b)) a++, b++;
        if (!*a && !*b) return (int)i;
    }
    return -1;
}

double ir_rnn_act_eval(const ir_rnn_act_t *a, double x) {
    switch (a->kind) {
    case IR_ACT_RELU: return x > 0 ? x : 0;
    case IR_ACT_TANH: return tanh(x);
    case IR_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case IR_ACT_AFFINE: return a->alpha * x + a->beta;
    case IR_ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case IR_ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
    case IR_ACT_SCALED_TANH: return a->alpha * tanh(a->beta * x);
    case IR_ACT_HARD_SIGMOID: return fmin(fmax(a->alpha * x + a->beta, 0), 1);
    case IR_ACT_ELU: return x >= 0 ? x : a->alpha * (exp(x) - 1);
    case IR_ACT_SOFTSIGN: return x / (1 + fabs(x));
    case IR_ACT_SOFTPLUS: return log1p(exp(x));
    }
    return x;
}

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

/* v has exactly the given dims (NULL entries of want: any) */
static int want_shape(ir_graph_t *g, const ir_node_t *n, const ir_value_t *v, const char *what, int r,
                      const ir_dim_t *want) {
    char a[128];
    bool ok = v->shape.rank == r;
    for (int i = 0; ok && i < r; i++) ok = ir_dim_eq(v->shape.dims[i], want[i]);
    if (ok) return 0;
    ir_shape_t w = {.rank = r};
    for (int i = 0; i < r; i++) w.dims[i] = want[i];
    char b[128];
    ir_shape_str(g, &v->shape, a, sizeof a);
    ir_shape_str(g, &w, b, sizeof b);
    return ir_error(g, n, "%s '%s' has shape %s, expected %s", what, vname(v), a, b);
}

int ir_rnn_params(ir_graph_t *g, const ir_node_t *n, ir_rnn_t *p) {
    memset(p, 0, sizeof *p);
    p->kind = n->op == IR_OP_LSTM ? IR_RNN_LSTM : n->op == IR_OP_GRU ? IR_RNN_GRU : IR_RNN_SIMPLE;
    p->gates = p->kind == IR_RNN_LSTM ? 4 : p->kind == IR_RNN_GRU ? 3 : 1;
    p->n_act = p->kind == IR_RNN_LSTM ? 3 : p->kind == IR_RNN_GRU ? 2 : 1;
    const char *dir = ir_attr_str(n, "direction", "forward");
    if (!strcmp(dir, "forward") || !strcmp(dir, "reverse")) {
        p->nd = 1;
        p->reverse = dir[0] == 'r';
    } else if (!strcmp(dir, "bidirectional")) {
        p->nd = 2;
    } else {
        return ir_error(g, n, "direction '%s' is not forward, reverse or bidirectional", dir);
    }
    p->layout = (int)ir_attr_int(n, "layout", 0);
    if (p->layout != 0 && p->layout != 1) return ir_error(g, n, "layout must be 0 or 1, got %d", p->layout);
    p->input_forget = ir_attr_int(n, "input_forget", 0) != 0;
    p->lbr = ir_attr_int(n, "linear_before_reset", 0) != 0;
    const ir_attr_t *clip = ir_attr_find(n, "clip");
    if (clip) {
        p->has_clip = true;
        p->clip = clip->kind == IR_ATTR_INT ? (double)clip->i : clip->f;
        if (!(p->clip >= 0)) return ir_error(g, n, "clip must be >= 0, got %g", p->clip);
    }

    /* activations: n_act per direction, or n_act shared by both directions */
    static const ir_act_kind_t dflt[3][3] = {
        [IR_RNN_SIMPLE] = {IR_ACT_TANH},
        [IR_RNN_GRU] = {IR_ACT_SIGMOID, IR_ACT_TANH},
        [IR_RNN_LSTM] = {IR_ACT_SIGMOID, IR_ACT_TANH, IR_ACT_TANH},
    };
    const ir_attr_t *an = ir_attr_find(n, "activations"), *al = ir_attr_find(n, "activation_alpha"),
                    *be = ir_attr_find(n, "activation_beta");
    int na = an && an->kind == IR_ATTR_STRINGS ? an->n : 0;
    if (na && na != p->n_act && na != p->n_act * p->nd)
        return ir_error(g, n, "activations lists %d functions, expected %d", na, p->n_act * p->nd);
    int ia = 0, ib = 0, nal = al && al->kind == IR_ATTR_FLOATS ? al->n : 0, nbe = be && be->kind == IR_ATTR_FLOATS ? be->n : 0;
    for (int d = 0; d < p->nd; d++)
        for (int j = 0; j < p->n_act; j++) {
            ir_rnn_act_t *a = &p->act[d][j];
            if (!na) {
                a->kind = dflt[p->kind][j];
                continue;
            }
            const char *s = an->strings[(d * p->n_act + j) % na];
            int x = act_index(s ? s : "");
            if (x < 0) return ir_error(g, n, "activation '%s' is not one the spec defines", s ? s : "");
            a->kind = acts[x].kind;
            a->alpha = acts[x].alpha;
            a->beta = acts[x].beta;
            if (acts[x].nparams >= 1 && ia < nal) a->alpha = al->floats[ia++];
            if (acts[x].nparams >= 2 && ib < nbe) a->beta = be->floats[ib++];
        }

    /* shapes */
    const ir_value_t *x = n->in[0], *w = n->in[1], *r = n->in[2];
    for (int i = 0; i < n->n_in; i++) {
        const ir_value_t *v = n->in[i];
        if (!v || i == 4) continue;
        if (!ir_dtype_is_float(v->dtype) || v->dtype != x->dtype)
            return ir_error(g, n, "input '%s' (%s) must be a floating-point tensor of X's dtype %s", vname(v),
                            ir_dtype_name(v->dtype), ir_dtype_name(x->dtype));
    }
    char a[128];
    if (x->shape.rank != 3) {
        ir_shape_str(g, &x->shape, a, sizeof a);
        return ir_error(g, n, "X '%s' must have rank 3, got %s", vname(x), a);
    }
    p->seq = x->shape.dims[p->layout ? 1 : 0];
    p->batch = x->shape.dims[p->layout ? 0 : 1];
    if (!ir_dim_is_const(x->shape.dims[2])) return ir_error(g, n, "X's input size must be constant");
    p->input = x->shape.dims[2].v;
    if (r->shape.rank != 3 || !ir_dim_is_const(r->shape.dims[2])) {
        ir_shape_str(g, &r->shape, a, sizeof a);
        return ir_error(g, n, "R '%s' must be (num_directions, %d*hidden_size, hidden_size), got %s", vname(r),
                        p->gates, a);
    }
    p->hidden = ir_attr_int(n, "hidden_size", r->shape.dims[2].v);
    if (p->hidden < 1 || p->hidden != r->shape.dims[2].v)
        return ir_error(g, n, "hidden_size %lld does not match R's last dim %lld", (long long)p->hidden,
                        (long long)r->shape.dims[2].v);
    int64_t H = p->hidden, G = p->gates;
    if (H > ((int64_t)1 << 24)) return ir_error(g, n, "hidden_size %lld is too large", (long long)H);
    ir_dim_t ND = ir_dim_const(p->nd), GH = ir_dim_const(G * H), Hd = ir_dim_const(H);
    if (want_shape(g, n, w, "W", 3, (ir_dim_t[]){ND, GH, ir_dim_const(p->input)}) ||
        want_shape(g, n, r, "R", 3, (ir_dim_t[]){ND, GH, Hd}))
        return -1;
    if (n->n_in > 3 && n->in[3] && want_shape(g, n, n->in[3], "B", 2, (ir_dim_t[]){ND, ir_dim_const(2 * G * H)}))
        return -1;
    if (n->n_in > 4 && n->in[4]) {
        const ir_value_t *sl = n->in[4];
        if (sl->dtype != IR_I32 && sl->dtype != IR_I64)
            return ir_error(g, n, "sequence_lens '%s' must be int32, got %s", vname(sl), ir_dtype_name(sl->dtype));
        if (want_shape(g, n, sl, "sequence_lens", 1, (ir_dim_t[]){p->batch})) return -1;
    }
    ir_dim_t st[3] = {ND, p->batch, Hd};
    if (p->layout) st[0] = p->batch, st[1] = ND;
    for (int i = 5; i < 7 && i < n->n_in; i++)
        if (n->in[i] && want_shape(g, n, n->in[i], i == 5 ? "initial_h" : "initial_c", 3, st)) return -1;
    if (n->n_in > 7 && n->in[7] && want_shape(g, n, n->in[7], "P", 2, (ir_dim_t[]){ND, ir_dim_const(3 * H)}))
        return -1;
    return 0;
}

/* Y (seq, nd, batch, H) [layout 1: (batch, seq, nd, H)]; Y_h and Y_c (nd, batch, H)
 * [layout 1: (batch, nd, H)]. */
int ir_infer_rnn(ir_graph_t *g, ir_node_t *n) {
    ir_rnn_t p;
    if (ir_rnn_params(g, n, &p)) return -1;
    ir_dim_t ND = ir_dim_const(p.nd), H = ir_dim_const(p.hidden);
    for (int k = 0; k < n->n_out; k++) {
        ir_value_t *o = n->out[k];
        if (!o) continue;
        o->dtype = n->in[0]->dtype;
        if (k == 0) {
            o->shape.rank = 4;
            ir_dim_t y[4] = {p.seq, ND, p.batch, H}, yb[4] = {p.batch, p.seq, ND, H};
            memcpy(o->shape.dims, p.layout ? yb : y, sizeof y);
        } else {
            o->shape.rank = 3;
            ir_dim_t s[3] = {ND, p.batch, H}, sb[3] = {p.batch, ND, H};
            memcpy(o->shape.dims, p.layout ? sb : s, sizeof s);
        }
    }
    return 0;
}
