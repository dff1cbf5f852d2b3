/* Readable dump of a graph (--dump-ir). One line per node, and once scheduled a second
 * line with its schedule:
 *   %out: float32[1,64,112,112] = Conv(%x, $w, $b) {strides=[2,2]} post: Relu @ws+0
 *       sched: contraction space [1,64,112,112] par batch[0,1) x 196 col-groups ... */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/sched.h"

void ir_shape_str(const ir_graph_t *g, const ir_shape_t *s, char *buf, size_t n) {
    if (n == 0) return;
    if (s->rank < 0) {
        snprintf(buf, n, "[?]");
        return;
    }
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < s->rank && used < n; i++) {
        char db[256];
        ir_dim_str(g, s->dims[i], db, sizeof db);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", db);
    }
    if (used < n) snprintf(buf + used, n - used, "]");
}

static void print_value_ref(FILE *f, const ir_value_t *v) {
    if (!v) {
        fputs("_", f);
        return;
    }
    fputc(v->data ? '$' : '%', f);
    fputs(v->name, f);
}

static void print_storage(FILE *f, const ir_value_t *v) {
    switch (v->storage) {
    case IR_ST_INPUT: fprintf(f, " @in%d", v->index); break;
    case IR_ST_OUTPUT: fprintf(f, " @out%d", v->index); break;
    case IR_ST_CONST: fprintf(f, " @blob+%lld", (long long)v->offset); break;
    case IR_ST_WORKSPACE:
        if (v->dyn_slot >= 0)
            fprintf(f, " @dyn%d", v->dyn_slot);
        else
            fprintf(f, " @ws+%lld", (long long)v->offset);
        break;
    default: break;
    }
}

static void print_attr(FILE *f, const ir_attr_t *a) {
    fprintf(f, "%s=", a->name);
    switch (a->kind) {
    case IR_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
    case IR_ATTR_FLOAT: fprintf(f, "%g", a->f); break;
    case IR_ATTR_STRING: fprintf(f, "\"%s\"", a->s ? a->s : ""); break;
    case IR_ATTR_INTS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)a->ints[i]);
        fputc(']', f);
        break;
    case IR_ATTR_FLOATS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) fprintf(f, "%s%g", i ? "," : "", a->floats[i]);
        fputc(']', f);
        break;
    case IR_ATTR_TENSOR: fputs("<tensor>", f); break;
    case IR_ATTR_STRINGS: fprintf(f, "<%d strings>", a->n); break;
    case IR_ATTR_GRAPH: fputs("<graph>", f); break;
    }
}

static double const_scalar(const ir_value_t *v) {
    switch (v->dtype) {
    case IR_F32: { float x; memcpy(&x, v->data, 4); return x; }
    case IR_F64: { double x; memcpy(&x, v->data, 8); return x; }
    case IR_I64: { int64_t x; memcpy(&x, v->data, 8); return (double)x; }
    case IR_I32: { int32_t x; memcpy(&x, v->data, 4); return x; }
    case IR_I16: { int16_t x; memcpy(&x, v->data, 2); return x; }
    case IR_I8: { int8_t x; memcpy(&x, v->data, 1); return x; }
    case IR_U8: { uint8_t x; memcpy(&x, v->data, 1); return x; }
    default: return NAN;
    }
}

void ir_graph_print(const ir_graph_t *g, void *file) {
    FILE *f = file;
    char sb[256];
    fprintf(f, "graph %s (opset %lld)\n", g->name, (long long)g->opset);
    if (g->target) {
        fputs("  ", f);
        ir_target_print(g->target, f);
        fputc('\n', f);
    }
    if (g->n_syms) {
        /* the caller's symbols, then the definitions of derived ones named t1, t2, ... */
        fputs("  symbols:", f);
        for (int i = 0; i < g->n_syms; i++)
            if (ir_sym_is_caller(&g->symdefs[i])) fprintf(f, " %s", g->syms[i]);
        fputc('\n', f);
        for (int i = 0; i < g->n_syms; i++) {
            if (!ir_sym_is_short_name(g, i)) continue;
            char def[512];
            ir_sym_def_str(g, i, def, sizeof def);
            fprintf(f, "    %s = %s\n", g->syms[i], def);
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value_t *v = g->inputs[i];
        ir_shape_str(g, &v->shape, sb, sizeof sb);
        fprintf(f, "  input %%%s: %s%s\n", v->name, ir_dtype_name(v->dtype), sb);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node_t *n = g->nodes[i];
        if (n->dead) continue;
        fputs("  ", f);
        for (int k = 0; k < n->n_out; k++) {
            const ir_value_t *v = n->out[k];
            if (k) fputs(", ", f);
            if (!v) {
                fputs("_", f);
                continue;
            }
            ir_shape_str(g, &v->shape, sb, sizeof sb);
            fprintf(f, "%%%s: %s%s", v->name, ir_dtype_name(v->dtype), sb);
            print_storage(f, v);
        }
        fprintf(f, " = %s(", ir_op_name(n->op));
        for (int k = 0; k < n->n_in; k++) {
            if (k) fputs(", ", f);
            print_value_ref(f, n->in[k]);
        }
        fputc(')', f);
        if (n->n_attrs) {
            fputs(" {", f);
            for (int k = 0; k < n->n_attrs; k++) {
                if (k) fputs(", ", f);
                print_attr(f, &n->attrs[k]);
            }
            fputc('}', f);
        }
        for (int k = 0; k < n->n_post; k++) {
            const ir_postop_t *p = &n->post[k];
            fprintf(f, k ? ", %s" : " post: %s", ir_op_name(p->op));
            const ir_node_t *src = p->node;
            if (!src) {   /* Cast */
                fprintf(f, "(x to %s)", ir_dtype_name(p->to));
                continue;
            }
            /* the running value is x; constant scalars are shown by value */
            if (src->n_in > 1) {
                fputc('(', f);
                for (int j = 0; j < src->n_in; j++) {
                    const ir_value_t *u = src->in[j];
                    if (j) fputs(", ", f);
                    if (j == p->self) fputc('x', f);
                    else if (j == p->oidx || !u) print_value_ref(f, u);
                    else fprintf(f, "%g", const_scalar(u));
                }
                fputc(')', f);
            }
            if (src->n_attrs) {
                fputs(" {", f);
                for (int j = 0; j < src->n_attrs; j++) {
                    if (j) fputs(", ", f);
                    print_attr(f, &src->attrs[j]);
                }
                fputc('}', f);
            }
        }
        fprintf(f, "  # %s\n", n->name);
        if (n->sched) {
            fputs("      ", f);
            ir_sched_print(g, n, f);
            fputc('\n', f);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const ir_value_t *v = g->outputs[i];
        ir_shape_str(g, &v->shape, sb, sizeof sb);
        fprintf(f, "  output %%%s: %s%s\n", v->name, ir_dtype_name(v->dtype), sb);
    }
}
