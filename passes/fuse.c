/* BatchNorm folding and epilogue fusion.
 *
 * Fusion never changes what is computed, only where: a consumer chain collapses into
 * its head's post-ops (ir_postop_t) and the head writes the chain's last value. The
 * backend applies the post-ops in the running dtype, which starts as the head's final
 * out[0]->dtype, so every fused step must keep the dtype. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/infer_util.h"
#include "ir/recipe.h"
#include "passes/passes.h"

/* ---------------------------------------------------------------- BatchNorm folding */
static bool const_vec(const ir_value_t *v, ir_dtype_t dt, int64_t n) {
    return v && v->data && v->dtype == dt && ir_shape_numel(&v->shape) == n &&
           v->data_size >= (size_t)n * ir_dtype_size(dt);
}

static double ldf(const ir_value_t *v, int64_t i) {
    return v->dtype == IR_F64 ? ((const double *)v->data)[i] : ((const float *)v->data)[i];
}

static void stf(ir_value_t *v, int64_t i, double x) {
    if (v->dtype == IR_F64) ((double *)v->data)[i] = x;
    else ((float *)v->data)[i] = (float)x;
}

static int fold_one_bn(ir_graph_t *g, ir_node_t *bn) {
    ir_value_t *x = bn->in[0];
    ir_node_t *conv = x ? x->producer : NULL;
    if (!conv || conv->dead || conv->op != IR_OP_CONV || conv->n_post || conv->out[0] != x) return 0;
    if (x->n_uses != 1 || x->is_output || !bn->out[0]) return 0;
    for (int k = 1; k < bn->n_out; k++)
        if (bn->out[k] && (bn->out[k]->n_uses > 0 || bn->out[k]->is_output)) return 0;
    if (ir_attr_int(bn, "training_mode", 0)) return 0;
    ir_value_t *w = conv->in[1], *b = conv->n_in > 2 ? conv->in[2] : NULL;
    if (!w || !w->data || (w->dtype != IR_F32 && w->dtype != IR_F64) || w->shape.rank < 1) return 0;
    ir_dtype_t dt = w->dtype;
    int64_t total = ir_shape_numel(&w->shape), oc = w->shape.dims[0].v;
    if (total <= 0 || oc <= 0 || !ir_dim_is_const(w->shape.dims[0]) || !const_vec(w, dt, total)) return 0;
    if (b && !const_vec(b, dt, oc)) return 0;
    for (int k = 1; k <= 4; k++)
        if (!const_vec(bn->in[k], dt, oc)) return 0;
    const ir_value_t *scale = bn->in[1], *bias = bn->in[2], *mean = bn->in[3], *var = bn->in[4];
    double eps = ir_attr_float(bn, "epsilon", 1e-5);

    char name[512];
    snprintf(name, sizeof name, "%.400s.bnfold", w->name);
    ir_value_t *nw = ir_value_const(g, name, dt, &w->shape, NULL, (size_t)total * ir_dtype_size(dt));
    ir_shape_t bs = {1, {ir_dim_const(oc)}};
    snprintf(name, sizeof name, "%.400s.bnfold_bias", conv->name);
    ir_value_t *nb = ir_value_const(g, name, dt, &bs, NULL, (size_t)oc * ir_dtype_size(dt));
    ir_value_t **nin = ir_arena_alloc(&g->arena, sizeof(ir_value_t *) * 3);
    if (!nw || !nb || !nin) return ir_error(g, bn, "out of memory");
    int64_t per = total / oc;
    for (int64_t o = 0; o < oc; o++) {
        double s = ldf(scale, o) / sqrt(ldf(var, o) + eps);
        for (int64_t i = 0; i < per; i++) stf(nw, o * per + i, ldf(w, o * per + i) * s);
        stf(nb, o, ((b ? ldf(b, o) : 0.0) - ldf(mean, o)) * s + ldf(bias, o));
    }
    nin[0] = conv->in[0];
    nin[1] = nw;
    nin[2] = nb;
    conv->in = nin;
    conv->n_in = 3;
    conv->out[0] = bn->out[0];
    bn->out[0]->producer = conv;
    bn->dead = true;
    x->producer = NULL;
    x->n_uses = 0;
    return 1;
}

int pass_fold_batchnorm(ir_graph_t *g) {
    ir_graph_recount(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead || n->op != IR_OP_BATCH_NORM) continue;
        if (fold_one_bn(g, n) < 0) return -1;
    }
    ir_graph_compact(g);
    ir_graph_recount(g);
    return 0;
}

/* ---------------------------------------------------------------- epilogue fusion */
/* Heads: kernels that compute one output element at a time (or a tile of them) and can run
 * post-ops on it before it is stored. */
static bool is_head(ir_op_t op) {
    return ir_op_class(op) == IR_K_CONTRACT || ir_op_class(op) == IR_K_MAP;
}

static bool same_shape(const ir_shape_t *a, const ir_shape_t *b) {
    if (a->rank < 0 || a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (!ir_dim_eq(a->dims[i], b->dims[i])) return false;
    return true;
}

/* other broadcasts to out without growing it. */
static bool bcasts_to(const ir_shape_t *other, const ir_shape_t *out) {
    if (other->rank < 0 || out->rank < 0 || other->rank > out->rank) return false;
    int off = out->rank - other->rank;
    for (int i = 0; i < other->rank; i++) {
        ir_dim_t d = other->dims[i];
        if (!(ir_dim_is_const(d) && d.v == 1) && !ir_dim_eq(d, out->dims[i + off])) return false;
    }
    return true;
}

static bool const_scalar(const ir_value_t *v) {
    double x;
    return v && v->data && v->dtype != IR_BOOL && ir_shape_numel(&v->shape) == 1 && ir_const_scalar(v, &x) == 0;
}

/* Describes consumer c of chain value v as a post-op of a head writing shape `shape`:
 * a Cast, or any op with a scalar recipe whose inputs are v, at most one other tensor
 * that broadcasts to the head's output, and constant scalars. false when c cannot be
 * expressed that way. */
static bool make_post(const ir_node_t *c, const ir_value_t *v, const ir_shape_t *shape, ir_postop_t *p) {
    memset(p, 0, sizeof *p);
    p->op = c->op;
    p->self = p->oidx = -1;
    if (c->n_out < 1 || !c->out[0] || c->out[0]->dtype != v->dtype || !same_shape(&c->out[0]->shape, shape))
        return false;
    for (int k = 1; k < c->n_out; k++)
        if (c->out[k]) return false;
    const ir_rexpr_t *e = ir_recipe(c->op, NULL);
    if (!e) {
        /* Cast to the same dtype (only the recipe-less cast the post-op chain can carry) */
        p->to = (ir_dtype_t)ir_attr_int(c, "to", 0);
        return ir_op_class(c->op) == IR_K_MAP && ir_attr_find(c, "to") && c->n_in == 1 && c->in[0] == v &&
               p->to == v->dtype;
    }
    if (c->n_in > 3 || c->n_in > ir_recipe_arity(e)) return false;   /* no variadic folds */
    /* An integer Div stays a node of its own: its lowering checks the divisor for zeros
     * before the kernel runs (a data check, backends/llvm/lower_int.h), which a post-op
     * whose divisor is computed inside the chain could not. A constant divisor is known. */
    if (c->op == IR_OP_DIV && !ir_dtype_is_float(v->dtype) && !(c->in[1] && c->in[1]->data))
        return false;
    bool in_bool[3] = {false, false, false};
    for (int k = 0; k < c->n_in; k++) {
        const ir_value_t *u = c->in[k];
        if (!u) continue;
        if (u->dtype != v->dtype) return false;
        in_bool[k] = u->dtype == IR_BOOL;
        if (u == v) {
            if (p->self >= 0) return false;
            p->self = (int8_t)k;
        } else if (!const_scalar(u)) {
            if (p->other || !bcasts_to(&u->shape, shape)) return false;
            p->other = (ir_value_t *)u;
            p->oidx = (int8_t)k;
        }
    }
    if (p->self < 0 || ir_recipe_is_bool(e, in_bool) != (v->dtype == IR_BOOL)) return false;
    p->node = c;
    p->swap = p->self == 1;
    return true;
}

/* The one live node reading v as a plain input; NULL if v is read as a post-op operand. */
static ir_node_t *sole_consumer(ir_graph_t *g, const ir_value_t *v) {
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].other == v) return NULL;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v) return n;
    }
    return NULL;
}

static int fuse_from(ir_graph_t *g, ir_node_t *h) {
    if (h->n_out < 1 || !h->out[0]) return 0;
    for (int k = 1; k < h->n_out; k++)
        if (h->out[k]) return 0;
    ir_shape_t shape = h->out[0]->shape;
    if (shape.rank < 0 || h->out[0]->dtype == IR_UNDEFINED) return 0;
    for (;;) {
        ir_value_t *v = h->out[0];
        if (v->n_uses != 1 || v->is_output) return 0;
        ir_node_t *c = sole_consumer(g, v);
        ir_postop_t p;
        if (!c || c == h || !make_post(c, v, &shape, &p)) return 0;
        ir_postop_t *np = ir_node_add_post(g, h);
        if (!np) return ir_error(g, h, "out of memory");
        *np = p;
        h->out[0] = c->out[0];
        c->out[0]->producer = h;
        c->dead = true;
        v->producer = NULL;
        v->n_uses = 0;
    }
}

int pass_fuse(ir_graph_t *g) {
    ir_graph_recount(g);
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *h = g->nodes[i];
        if (h->dead || !is_head(h->op)) continue;
        if (fuse_from(g, h) < 0) return -1;
    }
    /* A post-op operand may be computed after its new reader: order again. */
    ir_graph_compact(g);
    if (ir_graph_toposort(g)) return -1;
    ir_graph_recount(g);
    return 0;
}
