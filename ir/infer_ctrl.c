/* Inference for the control-flow ops If, Loop and Scan (docs/control-flow.md).
 *
 * A body is a graph of its own (ir_node_t.subs). Inferring the node gives each body's
 * inputs the types and shapes the node feeds them, compiles the body through the whole
 * pass pipeline (g->compile_sub, the pass manager's hook: folding, fusion, schedule and
 * memory plan inside the body) and reads the node's outputs off the body's. The node's
 * last output then becomes its scratch: a workspace buffer the bodies run in (their own
 * plan's workspace) plus, for Loop and Scan, a second buffer for every loop-carried value,
 * so that iterations alternate between two buffers and never allocate. */
#include <stdio.h>
#include <string.h>

#include "ir/infer_int.h"

#define ALIGN 64
static int64_t align_up(int64_t x) { return (x + ALIGN - 1) & ~(int64_t)(ALIGN - 1); }

/* Outputs the model sees (the scratch, once added, is last and not one of them). */
int ir_ctrl_n_out(const ir_node_t *n) { return n->n_out - (n->scratch ? 1 : 0); }

static ir_graph_t *body_of(ir_graph_t *g, ir_node_t *n, const char *attr) {
    const ir_attr_t *a = ir_attr_find(n, attr);
    if (!a || a->kind != IR_ATTR_GRAPH || a->i < 0 || a->i >= n->n_subs) {
        ir_error(g, n, "attribute '%s' (a graph) is missing", attr);
        return NULL;
    }
    return n->subs[a->i];
}

/* Gives formal input i of body b the type and shape fed to it. */
static int feed(ir_graph_t *g, ir_node_t *n, ir_graph_t *b, int i, ir_dtype_t dt, const ir_shape_t *s) {
    ir_value_t *v = b->inputs[i];
    if (v->dtype != IR_UNDEFINED && v->dtype != dt)
        return ir_error(g, n, "body '%s' input %d ('%s') is declared %s but is fed %s", b->name, i, v->name,
                        ir_dtype_name(v->dtype), ir_dtype_name(dt));
    if (!b->compiled && v->shape.rank >= 0 && v->shape.rank != s->rank)
        return ir_error(g, n, "body '%s' input %d ('%s') is declared with rank %d but is fed rank %d", b->name, i,
                        v->name, v->shape.rank, s->rank);
    for (int d = 0; d < s->rank; d++)
        if (!ir_dim_is_const(s->dims[d]))
            return ir_error(g, n, "body '%s' input '%s' would have the symbolic shape %s; bodies with symbolic "
                            "shapes are not supported yet", b->name, v->name, SHP(s));
    if (b->compiled) {
        if (v->dtype != dt || v->shape.rank != s->rank) return ir_error(g, n, "internal error: body fed twice differently");
        return 0;
    }
    v->dtype = dt;
    v->shape = *s;
    return 0;
}

/* Feeds the implicit inputs (outer values) and compiles b. */
static int compile(ir_graph_t *g, ir_node_t *n, ir_graph_t *b) {
    for (int i = b->n_formal; i < b->n_inputs; i++) {
        const ir_value_t *o = n->in[b->imp_first + i - b->n_formal];
        if (feed(g, n, b, i, o->dtype, &o->shape)) return -1;
    }
    if (b->compiled) return 0;
    if (!g->compile_sub) return ir_error(g, n, "internal error: no pass manager to compile the body");
    if (g->compile_sub(g, b)) return ir_error(g, n, "body '%s' cannot be compiled (see above)", b->name);
    if (b->n_dyn_slots)
        return ir_error(g, n, "body '%s' has buffers whose size is known only at run time; not supported yet", b->name);
    for (int s = 0; s < b->n_caller_syms; s++)
        if (b->symdefs[s].kind != IR_SYM_DATA)
            return ir_error(g, n, "body '%s' has symbolic input shapes; not supported yet", b->name);
    return 0;
}

/* Adds (once) the scratch output of `bytes` bytes. */
static int scratch(ir_graph_t *g, ir_node_t *n, int64_t bytes) {
    ir_shape_t s = shape1(bytes > 0 ? bytes : 1);
    if (n->scratch) {
        n->scratch->shape = s;
        return 0;
    }
    char name[256];
    snprintf(name, sizeof name, "%.200s__scratch", n->name);
    ir_value_t *v = ir_value_new(g, name, IR_U8, &s);
    ir_value_t **no = ir_arena_alloc(&g->arena, sizeof *no * (size_t)(n->n_out + 1));
    if (!v || !no) return ir_error(g, n, "out of memory");
    memcpy(no, n->out, sizeof *no * (size_t)n->n_out);
    no[n->n_out++] = v;
    n->out = no;
    v->producer = n;
    n->scratch = v;
    return 0;
}

static int64_t bytes_of(const ir_value_t *v) {
    int64_t ne = ir_shape_numel(&v->shape);
    return ne < 0 ? -1 : align_up(ne * (int64_t)ir_dtype_size(v->dtype));
}

static bool scalar_like(const ir_value_t *v) { return v && ir_shape_numel(&v->shape) == 1; }

int ir_infer_if(ir_graph_t *g, ir_node_t *n) {
    ir_graph_t *t = body_of(g, n, "then_branch"), *e = body_of(g, n, "else_branch");
    if (!t || !e) return -1;
    if (n->in[0]->dtype != IR_BOOL || !scalar_like(n->in[0]))
        return ir_error(g, n, "the condition must be a bool tensor of one element, got %s %s",
                        ir_dtype_name(n->in[0]->dtype), SHP(&n->in[0]->shape));
    int no = ir_ctrl_n_out(n);
    ir_graph_t *br[2] = {t, e};
    for (int k = 0; k < 2; k++) {
        if (br[k]->n_formal != 0) return ir_error(g, n, "branch '%s' must take no inputs, takes %d", br[k]->name, br[k]->n_formal);
        if (compile(g, n, br[k])) return -1;
        if (br[k]->n_outputs != no)
            return ir_error(g, n, "branch '%s' has %d outputs, the node %d", br[k]->name, br[k]->n_outputs, no);
    }
    for (int i = 0; i < no; i++) {
        const ir_value_t *a = t->outputs[i], *b = e->outputs[i];
        bool same = a->dtype == b->dtype && a->shape.rank == b->shape.rank;
        for (int d = 0; same && d < a->shape.rank; d++) same = ir_dim_eq(a->shape.dims[d], b->shape.dims[d]);
        if (!same)
            return ir_error(g, n, "output %d is %s %s from then_branch but %s %s from else_branch; branches of "
                            "different types or shapes are not supported", i, ir_dtype_name(a->dtype), SHP(&a->shape),
                            ir_dtype_name(b->dtype), SHP(&b->shape));
        set_out(n, i, a->dtype, &a->shape);
    }
    return scratch(g, n, t->ws_static > e->ws_static ? t->ws_static : e->ws_static);
}

/* The body's condition output is its condition input, or constant true. */
static bool cond_passes(const ir_graph_t *b) {
    const ir_value_t *c = b->outputs[0], *ci = b->inputs[1];
    if (c == ci) return true;
    if (c->producer && c->producer->op == IR_OP_IDENTITY && c->producer->in[0] == ci) return true;
    return c->data && c->dtype == IR_BOOL && c->data_size == 1 && ((const uint8_t *)c->data)[0];
}

/* Checks that carried output j of b matches the value fed in (shapes must not change
 * across iterations). */
static int invariant(ir_graph_t *g, ir_node_t *n, const ir_graph_t *b, const ir_value_t *in, const ir_value_t *out) {
    bool same = in->dtype == out->dtype && in->shape.rank == out->shape.rank;
    for (int d = 0; same && d < in->shape.rank; d++) same = ir_dim_eq(in->shape.dims[d], out->shape.dims[d]);
    if (!same)
        return ir_error(g, n, "loop-carried value '%s' enters body '%s' as %s %s and leaves it as %s %s; its "
                        "type and shape must not change across iterations", in->name, b->name,
                        ir_dtype_name(in->dtype), SHP(&in->shape), ir_dtype_name(out->dtype), SHP(&out->shape));
    return 0;
}

int ir_infer_loop(ir_graph_t *g, ir_node_t *n) {
    ir_graph_t *b = body_of(g, n, "body");
    if (!b) return -1;
    int nf = b->imp_first;   /* the node's own inputs: M, cond, carried */
    int nc = b->n_formal - 2;
    if (nc < 0 || nf > 2 + nc)
        return ir_error(g, n, "the body takes %d inputs (iteration number, condition, %d carried) but the node "
                        "feeds %d", b->n_formal, nc < 0 ? 0 : nc, nf);
    if (nf < 2 + nc) return ir_error(g, n, "the node feeds %d loop-carried values, the body takes %d", nf - 2 < 0 ? 0 : nf - 2, nc);
    ir_value_t *m = n->in[0], *c = n->in[1];
    if (m && (!ir_dtype_is_int(m->dtype) || !scalar_like(m)))
        return ir_error(g, n, "the trip count M must be an int64 scalar, got %s %s", ir_dtype_name(m->dtype), SHP(&m->shape));
    if (c && (c->dtype != IR_BOOL || !scalar_like(c)))
        return ir_error(g, n, "the condition must be a bool scalar, got %s %s", ir_dtype_name(c->dtype), SHP(&c->shape));
    ir_shape_t scalar = {.rank = 0};
    if (feed(g, n, b, 0, IR_I64, &scalar) || feed(g, n, b, 1, IR_BOOL, &scalar)) return -1;
    for (int i = 0; i < nc; i++) {
        const ir_value_t *v = n->in[2 + i];
        if (!v) return ir_error(g, n, "loop-carried input %d is empty", i);
        if (feed(g, n, b, 2 + i, v->dtype, &v->shape)) return -1;
    }
    if (compile(g, n, b)) return -1;
    int ns = b->n_outputs - 1 - nc;
    if (ns < 0) return ir_error(g, n, "the body has %d outputs, fewer than the condition and %d carried values", b->n_outputs, nc);
    if (ir_ctrl_n_out(n) != nc + ns)
        return ir_error(g, n, "the node has %d outputs, the body gives %d carried and %d scan outputs", ir_ctrl_n_out(n), nc, ns);
    const ir_value_t *co = b->outputs[0];
    if (co->dtype != IR_BOOL || !scalar_like(co)) return ir_error(g, n, "the body's condition output must be a bool scalar");
    int64_t ws = b->ws_static;
    for (int i = 0; i < nc; i++) {
        if (invariant(g, n, b, b->inputs[2 + i], b->outputs[1 + i])) return -1;
        set_out(n, i, b->inputs[2 + i]->dtype, &b->inputs[2 + i]->shape);
        ws = align_up(ws) + bytes_of(b->inputs[2 + i]);
    }
    if (ns) {
        ir_dim_t count;
        if (!m) return ir_error(g, n, "a Loop without a trip count cannot have scan outputs (their length is unbounded)");
        if (m->data) {
            int64_t mv = m->dtype == IR_I32 ? *(const int32_t *)m->data : *(const int64_t *)m->data;
            count = ir_dim_const(mv < 0 ? 0 : mv);
        } else if (m->sval && m->n_sval == 1) {
            count = m->sval[0];
        } else if (m->is_input) {
            if (ir_dim_data(g, m, 0, &count)) return ir_error(g, n, "out of memory");
        } else {
            return ir_error(g, n, "the trip count '%s' is computed at run time; with scan outputs it must be a "
                            "constant, a graph input or computed from shapes", m->name);
        }
        bool exact = (!c || (c->data && ((const uint8_t *)c->data)[0])) && cond_passes(b);
        if (!exact && ir_dim_runtime(g, n->out[nc], count, &count))
            return ir_error(g, n, "out of memory");
        for (int j = 0; j < ns; j++) {
            const ir_value_t *o = b->outputs[1 + nc + j];
            if (o->shape.rank + 1 > IR_MAX_RANK) return ir_error(g, n, "scan output %d has rank over %d", j, IR_MAX_RANK);
            ir_shape_t s = {.rank = o->shape.rank + 1};
            s.dims[0] = count;
            for (int d = 0; d < o->shape.rank; d++) s.dims[d + 1] = o->shape.dims[d];
            set_out(n, nc + j, o->dtype, &s);
        }
    }
    return scratch(g, n, ws);
}

int ir_infer_scan(ir_graph_t *g, ir_node_t *n) {
    ir_graph_t *b = body_of(g, n, "body");
    if (!b) return -1;
    if (g->opset < 9)
        return ir_error(g, n, "Scan-8 (batched, with sequence_lens) is not supported; opset 9 and later are");
    int64_t m = ir_attr_int(n, "num_scan_inputs", 0);
    int nf = b->imp_first;
    if (m < 1 || m > nf) return ir_error(g, n, "num_scan_inputs %lld does not fit the %d inputs", (long long)m, nf);
    int ns_in = (int)m, nst = nf - ns_in;   /* after the range check: no overflow */
    if (b->n_formal != nf) return ir_error(g, n, "the body takes %d inputs, the node feeds %d", b->n_formal, nf);
    const int64_t *ax = NULL, *dirs = NULL;
    int nax = ir_attr_ints(n, "scan_input_axes", &ax), nd = ir_attr_ints(n, "scan_input_directions", &dirs);
    if ((nax >= 0 && nax != ns_in) || (nd >= 0 && nd != ns_in))
        return ir_error(g, n, "scan_input_axes/directions must have num_scan_inputs (%d) entries", ns_in);
    ir_dim_t len = ir_dim_const(-1);
    for (int i = 0; i < nst; i++)
        if (!n->in[i] || feed(g, n, b, i, n->in[i]->dtype, &n->in[i]->shape)) return n->in[i] ? -1 : ir_error(g, n, "state input %d is empty", i);
    for (int j = 0; j < ns_in; j++) {
        const ir_value_t *v = n->in[nst + j];
        if (!v || v->shape.rank < 1) return ir_error(g, n, "scan input %d must have rank >= 1", j);
        int64_t a = nax > 0 ? ax[j] : 0;
        if (a < 0) a += v->shape.rank;
        if (a != 0) return ir_error(g, n, "scan_input_axes %lld: only axis 0 is supported", (long long)(nax > 0 ? ax[j] : 0));
        if (nd > 0 && dirs[j] != 0 && dirs[j] != 1) return ir_error(g, n, "scan_input_directions must be 0 or 1");
        if (j == 0) len = v->shape.dims[0];
        else if (!ir_dim_eq(len, v->shape.dims[0]))
            return ir_error(g, n, "scan inputs have different lengths along the scan axis");
        ir_shape_t s = {.rank = v->shape.rank - 1};
        for (int d = 1; d < v->shape.rank; d++) s.dims[d - 1] = v->shape.dims[d];
        if (feed(g, n, b, nst + j, v->dtype, &s)) return -1;
    }
    if (compile(g, n, b)) return -1;
    int nso = b->n_outputs - nst;
    if (nso < 0 || ir_ctrl_n_out(n) != b->n_outputs)
        return ir_error(g, n, "the node has %d outputs, the body %d (%d states)", ir_ctrl_n_out(n), b->n_outputs, nst);
    const int64_t *oax = NULL, *odirs = NULL;
    int noax = ir_attr_ints(n, "scan_output_axes", &oax), nod = ir_attr_ints(n, "scan_output_directions", &odirs);
    if ((noax >= 0 && noax != nso) || (nod >= 0 && nod != nso))
        return ir_error(g, n, "scan_output_axes/directions must have one entry per scan output (%d)", nso);
    int64_t ws = b->ws_static;
    for (int i = 0; i < nst; i++) {
        if (invariant(g, n, b, b->inputs[i], b->outputs[i])) return -1;
        set_out(n, i, b->inputs[i]->dtype, &b->inputs[i]->shape);
        ws = align_up(ws) + bytes_of(b->inputs[i]);
    }
    for (int j = 0; j < nso; j++) {
        const ir_value_t *o = b->outputs[nst + j];
        int64_t a = noax > 0 ? oax[j] : 0;
        if (a < 0) a += o->shape.rank + 1;
        if (a != 0) return ir_error(g, n, "scan_output_axes %lld: only axis 0 is supported", (long long)(noax > 0 ? oax[j] : 0));
        if (nod > 0 && odirs[j] != 0 && odirs[j] != 1) return ir_error(g, n, "scan_output_directions must be 0 or 1");
        if (o->shape.rank + 1 > IR_MAX_RANK) return ir_error(g, n, "scan output %d has rank over %d", j, IR_MAX_RANK);
        ir_shape_t s = {.rank = o->shape.rank + 1};
        s.dims[0] = len;
        for (int d = 0; d < o->shape.rank; d++) s.dims[d + 1] = o->shape.dims[d];
        set_out(n, nst + j, o->dtype, &s);
    }
    return scratch(g, n, ws);
}
