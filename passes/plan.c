/* Memory planning: where every value a kernel touches lives (see passes.h for the
 * contract). Static-sized intermediates share one workspace: each is live from its
 * producer to its last reader, and a freed range is reused best-fit. A node's outputs
 * are placed before its inputs are released, so no kernel's output aliases its input. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

#define ALIGN 64
/* Symbolic-sized buffers live in slots after the static region, reused by liveness. */
#define MAX_DYN_SLOTS 1024

static int64_t align_up(int64_t x) { return (x + ALIGN - 1) & ~(int64_t)(ALIGN - 1); }

/* ---------------------------------------------------------------- free list */
typedef struct range {
    int64_t off, size;
} range_t;

typedef struct freelist {
    range_t *r;
    int n, cap;
    int64_t peak;
} freelist_t;

static int64_t fl_alloc(freelist_t *f, int64_t need) {
    int best = -1;
    for (int i = 0; i < f->n; i++)
        if (f->r[i].size >= need && (best < 0 || f->r[i].size < f->r[best].size)) best = i;
    if (best >= 0) {
        int64_t off = f->r[best].off;
        f->r[best].off += need;
        f->r[best].size -= need;
        if (f->r[best].size == 0) {
            memmove(&f->r[best], &f->r[best + 1], sizeof(range_t) * (size_t)(f->n - best - 1));
            f->n--;
        }
        return off;
    }
    /* No hole fits: grow the top, starting inside a free range that touches it. */
    if (f->n > 0 && f->r[f->n - 1].off + f->r[f->n - 1].size == f->peak) {
        int64_t off = f->r[--f->n].off;
        f->peak = off + need;
        return off;
    }
    int64_t off = f->peak;
    f->peak += need;
    return off;
}

static int fl_free(freelist_t *f, int64_t off, int64_t size) {
    if (f->n + 1 > f->cap) {
        int nc = f->cap ? f->cap * 2 : 32;
        range_t *nr = realloc(f->r, sizeof(range_t) * (size_t)nc);
        if (!nr) return -1;
        f->r = nr;
        f->cap = nc;
    }
    int i = 0;
    while (i < f->n && f->r[i].off < off) i++;
    memmove(&f->r[i + 1], &f->r[i], sizeof(range_t) * (size_t)(f->n - i));
    f->r[i] = (range_t){off, size};
    f->n++;
    if (i + 1 < f->n && f->r[i].off + f->r[i].size == f->r[i + 1].off) {
        f->r[i].size += f->r[i + 1].size;
        memmove(&f->r[i + 1], &f->r[i + 2], sizeof(range_t) * (size_t)(f->n - i - 2));
        f->n--;
    }
    if (i > 0 && f->r[i - 1].off + f->r[i - 1].size == f->r[i].off) {
        f->r[i - 1].size += f->r[i].size;
        memmove(&f->r[i], &f->r[i + 1], sizeof(range_t) * (size_t)(f->n - i - 1));
        f->n--;
    }
    return 0;
}

/* ---------------------------------------------------------------- outputs */
/* Each graph output gets a buffer written by exactly one node: an output that is a
 * graph input, a constant, or listed twice is copied by an Identity at the end. */
static int fix_outputs(ir_graph_t *g) {
    for (int i = 0; i < g->n_outputs; i++) {
        ir_value_t *v = g->outputs[i];
        bool dup = false;
        for (int j = 0; j < i; j++) dup |= g->outputs[j] == v;
        if (!dup && v->producer && !v->is_input && !v->data) continue;
        ir_value_t *nv = ir_value_new(g, v->name, v->dtype, &v->shape);
        char name[512];
        snprintf(name, sizeof name, "output_copy_%d", i);
        ir_node_t *n = nv ? ir_node_new(g, IR_OP_IDENTITY, name, 1, 1) : NULL;
        if (!n) return ir_error(g, NULL, "out of memory");
        n->in[0] = v;
        n->out[0] = nv;
        nv->producer = n;
        if (pass_schedule_node(g, n)) return -1;
        g->outputs[i] = nv;
    }
    for (int i = 0; i < g->n_values; i++) g->values[i]->is_output = false;
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i]->is_output = true;
    ir_graph_recount(g);
    return 0;
}

static bool known(const ir_value_t *v) {
    if (ir_dtype_size(v->dtype) == 0 || v->shape.rank < 0) return false;
    for (int i = 0; i < v->shape.rank; i++)
        if (v->shape.dims[i].v < 0) return false;
    return true;
}

int pass_plan_memory(ir_graph_t *g) {
    if (ir_graph_toposort(g)) return -1;
    ir_graph_recount(g);
    if (fix_outputs(g)) return -1;

    for (int i = 0; i < g->n_values; i++) {
        ir_value_t *v = g->values[i];
        v->storage = IR_ST_NONE;
        v->index = -1;
        v->offset = -1;
        v->dyn_slot = -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        g->inputs[i]->storage = IR_ST_INPUT;
        g->inputs[i]->index = i;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        ir_value_t *v = g->outputs[i];
        if (!known(v)) return ir_error(g, v->producer, "graph output '%s' has an unknown dtype or shape", v->name);
        v->storage = IR_ST_OUTPUT;
        v->index = i;
    }

    int64_t blob = 0;
    for (int i = 0; i < g->n_values; i++) {
        ir_value_t *v = g->values[i];
        if (!v->data || v->n_uses <= 0 || v->storage != IR_ST_NONE) continue;
        v->storage = IR_ST_CONST;
        v->offset = blob;
        blob = align_up(blob + (int64_t)v->data_size);
    }
    g->blob_size = blob;

    /* last[id]: schedule position of the last reader (its producer if none). */
    int nv = g->n_values;
    int *last = malloc(sizeof(int) * ((size_t)nv + 1));
    int64_t *size = calloc((size_t)nv + 1, sizeof(int64_t));
    char *freed = calloc((size_t)nv + 1, 1);
    freelist_t fl = {0};
    int rc = 0, slots = 0, n_dyn_values = 0;
    char slot_busy[MAX_DYN_SLOTS] = {0};
    int64_t naive = 0;
    if (!last || !size || !freed) {
        rc = ir_error(g, NULL, "out of memory");
        goto out;
    }
    for (int i = 0; i < nv; i++) last[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && n->in[k]->id < nv) last[n->in[k]->id] = i;
        for (int k = 0; k < n->n_post; k++)
            if (n->post[k].other && n->post[k].other->id < nv) last[n->post[k].other->id] = i;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] && n->out[k]->id < nv && last[n->out[k]->id] < i) last[n->out[k]->id] = i;
    }

    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        ir_node_t *n = g->nodes[i];
        for (int k = 0; k < n->n_out && rc == 0; k++) {
            ir_value_t *v = n->out[k];
            if (!v) continue;
            if (!known(v)) {
                rc = ir_error(g, n, "output '%s' has an unknown dtype or shape after inference", v->name);
                break;
            }
            if (v->storage != IR_ST_NONE) continue;
            v->storage = IR_ST_WORKSPACE;
            if (!ir_shape_is_static(&v->shape)) {
                /* a symbolic-sized buffer takes a free slot (whose size becomes the largest of
                 * its buffers' sizes, worked out when the run starts), else a new one */
                int pick = -1;
                for (int q = 0; q < slots && pick < 0; q++)
                    if (!slot_busy[q]) pick = q;
                if (pick < 0) {
                    if (slots >= MAX_DYN_SLOTS) {
                        rc = ir_error(g, n, "more than %d symbolic-sized buffers are live at once", MAX_DYN_SLOTS);
                        break;
                    }
                    pick = slots++;
                }
                slot_busy[pick] = 1;
                v->dyn_slot = pick;
                n_dyn_values++;
                continue;
            }
            int64_t ne = ir_shape_numel(&v->shape), es = (int64_t)ir_dtype_size(v->dtype);
            if (ne < 0 || (ne && ne > (INT64_MAX / 2) / es)) {
                rc = ir_error(g, n, "output '%s' is too large", v->name);
                break;
            }
            size[v->id] = align_up(ne * es > 0 ? ne * es : 1);
            naive += size[v->id];
            v->offset = fl_alloc(&fl, size[v->id]);
        }
        /* release what this node read or wrote for the last time */
        for (int pass = 0; pass < 3 && rc == 0; pass++) {
            int cnt = pass == 0 ? n->n_in : pass == 1 ? n->n_post : n->n_out;
            for (int k = 0; k < cnt; k++) {
                ir_value_t *v = pass == 0 ? n->in[k] : pass == 1 ? n->post[k].other : n->out[k];
                if (!v || v->id >= nv || v->storage != IR_ST_WORKSPACE) continue;
                if (freed[v->id] || last[v->id] != i) continue;
                freed[v->id] = 1;
                if (v->dyn_slot >= 0) {
                    if (!v->is_output) slot_busy[v->dyn_slot] = 0;
                    continue;
                }
                if (fl_free(&fl, v->offset, size[v->id])) rc = ir_error(g, NULL, "out of memory");
            }
        }
    }
    g->ws_static = fl.peak;
    /* the run-time counts a run leaves for NAME_output_dims, after the static buffers */
    int n_rt = 0;
    for (int s = 0; s < g->n_syms; s++) n_rt += g->symdefs[s].kind == IR_SYM_RUNTIME;
    g->ws_rt_off = align_up(g->ws_static);
    if (n_rt) g->ws_static = align_up(g->ws_rt_off + 8 * (int64_t)n_rt);
    g->ws_naive = naive;
    g->n_dyn_slots = slots;
    g->n_dyn_values = n_dyn_values;
out:
    free(last);
    free(size);
    free(freed);
    free(fl.r);
    return rc;
}

void pass_print_plan(const ir_graph_t *g, FILE *f) {
    fprintf(f, "memory plan: workspace %lld bytes (static) vs %lld bytes if every intermediate had its own buffer; ",
            (long long)g->ws_static, (long long)g->ws_naive);
    if (g->n_dyn_values)
        fprintf(f, "%d symbolic-sized buffers in %d slots (a slot is as large as its largest buffer, sized when a "
                "run starts); ", g->n_dyn_values, g->n_dyn_slots);
    else
        fprintf(f, "0 symbolic-sized buffers; ");
    fprintf(f, "weights %lld bytes\n", (long long)g->blob_size);
}
