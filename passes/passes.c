/* The pass manager and the small structural passes (order, inference, simplification,
 * constant folding driver, dead-code elimination). The pipeline is one flat table read
 * top to bottom, with the verifier between passes when asked. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/sched.h"
#include "passes/eval_int.h"
#include "passes/passes.h"

typedef int (*pass_fn)(ir_graph_t *g);

static const struct {
    const char *name;
    pass_fn fn;
    int min_opt;    /* skipped below this -O level */
} pipeline[] = {
    {"toposort",       pass_toposort,       0},
    {"simplify",       pass_simplify,       1},
    /* Inference runs node by node inside folding, so a Reshape is inferred only after
     * its shape subgraph has become a constant. */
    {"const-fold",     pass_const_fold,     0},
    {"dce",            pass_dce,            0},
    {"fold-batchnorm", pass_fold_batchnorm, 1},
    {"infer-shapes",   pass_infer_shapes,   0},
    {"fuse",           pass_fuse,           1},
    {"dce",            pass_dce,            0},
    /* After the graph's shape is final (packing rewires inputs) and before planning
     * (which then places only the constants still read). */
    {"order-syms",     pass_order_syms,     0},
    {"schedule",       pass_schedule,       0},
    {"plan-memory",    pass_plan_memory,    0},
};

void pass_options_init(pass_options_t *o) {
    memset(o, 0, sizeof *o);
    o->opt_level = 2;
#ifdef ONNXC_VERIFY_PASSES
    o->verify = true;
#endif
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int live_nodes(const ir_graph_t *g) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) k += !g->nodes[i]->dead;
    return k;
}

/* Control flow: a body is compiled through the whole pipeline when its node is inferred
 * (ir/infer_ctrl.c), with the options of the graph that owns it. Its messages join the
 * owner's. */
static int compile_sub(ir_graph_t *parent, ir_graph_t *sub) {
    pass_options_t o = *(const pass_options_t *)parent->pass_opts;
    o.timing = NULL;
    o.trace = NULL;
    sub->target = parent->target;
    int rc = pass_run_pipeline(sub, &o);
    ir_diags_move(&parent->diags, &sub->diags);
    sub->compiled = rc == 0;
    return rc;
}

int eval_ctrl(ir_graph_t *g, ir_node_t *n, res_t *r) {
    (void)g, (void)n, (void)r;
    return 0;
}

static int run_pipeline(ir_graph_t *g, pass_options_t o);

int pass_run_pipeline(ir_graph_t *g, const pass_options_t *opt) {
    pass_options_t o;
    if (opt)
        o = *opt;
    else
        pass_options_init(&o);
    /* the options live while the pipeline runs, which is when bodies are compiled */
    g->compile_sub = compile_sub;
    g->pass_opts = &o;
    int rc = run_pipeline(g, o);
    g->pass_opts = NULL;
    g->compile_sub = NULL;
    return rc;
}

static int run_pipeline(ir_graph_t *g, pass_options_t o) {
    if (o.target && !g->target) {
        ir_target_t *t = ir_arena_alloc(&g->arena, sizeof *t);
        if (!t) return ir_error(g, NULL, "out of memory");
        *t = *o.target;
        g->target = t;
    }
    if (o.timing) o.timing->n = 0;
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
        if (o.opt_level < pipeline[i].min_opt) continue;
        double t0 = now_ms();
        int rc = pipeline[i].fn(g);
        if (o.timing && o.timing->n < PASS_TIMING_MAX) {
            o.timing->pass[o.timing->n].name = pipeline[i].name;
            o.timing->pass[o.timing->n++].ms = now_ms() - t0;
        }
        if (rc) return -1;
        if (o.trace)
            fprintf(o.trace, "pass %-15s %9.3f ms  %d nodes\n", pipeline[i].name, now_ms() - t0, live_nodes(g));
        if (o.verify && ir_graph_verify(g))
            return ir_error(g, NULL, "internal error: the graph is invalid after pass %s (see above)", pipeline[i].name);
    }
    return 0;
}

int pass_toposort(ir_graph_t *g) {
    if (ir_graph_toposort(g)) return -1;
    ir_graph_recount(g);
    return 0;
}

/* Values downstream of a refused node: their shapes are unknown, so their consumers are
 * skipped rather than refused again for the same cause. One flag per value id. */
static bool is_bad(const ir_value_t *v, const char *bad, int nb) { return v && v->id >= 0 && v->id < nb && bad[v->id]; }

static bool poisoned(const ir_node_t *n, const char *bad, int nb) {
    for (int k = 0; k < n->n_in; k++)
        if (is_bad(n->in[k], bad, nb)) return true;
    for (int k = 0; k < n->n_post; k++)
        if (is_bad(n->post[k].other, bad, nb)) return true;
    return false;
}

static void poison(const ir_node_t *n, char *bad, int nb) {
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] && n->out[k]->id >= 0 && n->out[k]->id < nb) bad[n->out[k]->id] = 1;
}

/* Inference (and folding, when fold is set) over every node. A refused node is reported
 * and the walk goes on with the nodes that do not depend on it, so one run lists every
 * independent refusal; -1 at the end if there was any. */
static int infer_all(ir_graph_t *g, bool fold) {
    int nb = g->n_values;
    char *bad = calloc((size_t)nb + 1, 1);
    if (!bad) return ir_error(g, NULL, "out of memory");
    int refused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        if (refused && poisoned(n, bad, nb)) {
            poison(n, bad, nb);
            continue;
        }
        int r = fold ? pass_eval_node(g, n) : 0;
        /* A composite op is replaced by its expansion once inferred; the new nodes come
         * next in the walk. */
        if (r < 0 || (r == 0 && (ir_infer_node(g, n) || pass_expand_node(g, i) < 0))) {
            refused++;
            poison(n, bad, nb);
        }
    }
    free(bad);
    return refused ? -1 : 0;
}

int pass_infer_shapes(ir_graph_t *g) { return infer_all(g, false); }

/* The caller's symbols first, derived ones after their operands, unused ones dropped:
 * the order the generated NAME_shapes computes them in. */
int pass_order_syms(ir_graph_t *g) { return ir_graph_order_syms(g); }

/* A value id indexes g->values; anything else (attribute tensors) is never rewired. */
static ir_value_t *resolve(ir_graph_t *g, ir_value_t **repl, ir_value_t *v) {
    for (int guard = 0; v && guard < g->n_values; guard++) {
        if (v->id < 0 || v->id >= g->n_values || g->values[v->id] != v || !repl[v->id]) return v;
        v = repl[v->id];
    }
    return v;
}

int pass_simplify(ir_graph_t *g) {
    ir_value_t **repl = calloc((size_t)g->n_values + 1, sizeof *repl);
    if (!repl) return ir_error(g, NULL, "out of memory");
    int dropped = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        if (n->dead || (n->op != IR_OP_IDENTITY && n->op != IR_OP_DROPOUT)) continue;
        ir_value_t *in = n->in[0], *out = n->out[0];
        if (!in || !out || out->is_output || out->id >= g->n_values || g->values[out->id] != out) continue;
        /* the mask of an inference Dropout is all ones; keep the node if anyone reads it */
        bool extra = false;
        for (int k = 1; k < n->n_out; k++)
            if (n->out[k] && (n->out[k]->n_uses > 0 || n->out[k]->is_output)) extra = true;
        if (extra) continue;
        repl[out->id] = in;
        n->dead = true;
        dropped++;
    }
    if (dropped) {
        for (int i = 0; i < g->n_nodes; i++) {
            ir_node_t *n = g->nodes[i];
            if (n->dead) continue;
            for (int k = 0; k < n->n_in; k++) n->in[k] = resolve(g, repl, n->in[k]);
            for (int k = 0; k < n->n_post; k++) n->post[k].other = resolve(g, repl, n->post[k].other);
        }
    }
    free(repl);
    ir_graph_compact(g);
    ir_graph_recount(g);
    return 0;
}

int pass_const_fold(ir_graph_t *g) {
    if (infer_all(g, true)) return -1;
    ir_graph_compact(g);
    ir_graph_recount(g);
    return 0;
}

int pass_dce(ir_graph_t *g) {
    ir_graph_recount(g);
    /* Reverse schedule order: a node's consumers are decided before the node itself. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->n_out; k++) {
            ir_value_t *v = n->out[k];
            if (v && (v->n_uses > 0 || v->is_output)) used = true;
        }
        if (used) continue;
        n->dead = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]) n->in[k]->n_uses--;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].other) n->post[k].other->n_uses--;
    }
    ir_graph_compact(g);
    return 0;
}
