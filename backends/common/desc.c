/* The model's data as every backend embeds it: the descriptor table of
 * runtime/onnxc_abi.h and the one weights blob. Built here once from the scheduled graph
 * so the LLVM constants and printed C cannot drift apart. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/outcode.h"
#include "backends/common/outcode_int.h"

static int fill_tensors(const ir_graph_t *g, ir_value_t *const *vs, int count, const char *kind, out_tensor_t **out,
                        char *err, size_t n) {
    *out = NULL;
    if (count == 0) return 0;
    out_tensor_t *t = calloc((size_t)count, sizeof *t);
    if (!t) return out_err(err, n, "%s: out of memory building the descriptor", g->path);
    *out = t;
    for (int i = 0; i < count; i++) {
        const ir_value_t *v = vs[i];
        if (v->shape.rank < 0 || v->shape.rank > IR_MAX_RANK)
            return out_err(err, n, "%s: %s '%s' has no known shape", g->path, kind, v->name);
        t[i].name = v->name;
        t[i].dtype = (int32_t)v->dtype;
        t[i].rank = v->shape.rank;
        for (int d = 0; d < v->shape.rank; d++) {
            t[i].dims[d] = v->shape.dims[d].v;
            t[i].dim_sym[d] = v->shape.dims[d].sym;
        }
    }
    return 0;
}

int out_desc_build(const ir_graph_t *g, const char *name, out_desc_t *d, char *err, size_t n) {
    memset(d, 0, sizeof *d);
    if (!out_valid_name(name)) return out_err(err, n, "model name '%s' is not a valid C identifier", name ? name : "");
    d->name = name;
    d->n_inputs = g->n_inputs;
    d->n_outputs = g->n_outputs;
    d->n_syms = g->n_caller_syms;
    d->n_syms_all = g->n_syms;
    d->sym_names = g->n_syms > 0 ? g->syms : NULL;
    d->sym_input = calloc((size_t)g->n_caller_syms + 1, sizeof *d->sym_input);
    d->sym_elem = calloc((size_t)g->n_caller_syms + 1, sizeof *d->sym_elem);
    if (!d->sym_input || !d->sym_elem) {
        out_desc_free(d);
        return out_err(err, n, "%s: out of memory building the descriptor", g->path);
    }
    for (int s = 0; s < g->n_caller_syms; s++) {
        const ir_sym_t *sd = &g->symdefs[s];
        d->sym_input[s] = -1;
        if (sd->kind != IR_SYM_DATA) continue;
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == sd->input) d->sym_input[s] = i;
        d->sym_elem[s] = sd->elem;
    }
    if (fill_tensors(g, g->inputs, g->n_inputs, "input", &d->inputs, err, n) ||
        fill_tensors(g, g->outputs, g->n_outputs, "output", &d->outputs, err, n)) {
        out_desc_free(d);
        return -1;
    }
    return 0;
}

void out_desc_free(out_desc_t *d) {
    free(d->inputs);
    free(d->outputs);
    free(d->sym_input);
    free(d->sym_elem);
    memset(d, 0, sizeof *d);
}

static void c_tensor_arrays(out_sbuf_t *b, const char *N, const char *kind, const out_tensor_t *ts, int count) {
    for (int i = 0; i < count; i++) {
        const out_tensor_t *t = &ts[i];
        if (t->rank == 0) continue;
        out_sb_printf(b, "static const int64_t %s_desc_%s%d_dims[%d] = {", N, kind, i, t->rank);
        for (int k = 0; k < t->rank; k++) out_sb_printf(b, "%s%lld", k ? ", " : "", (long long)t->dims[k]);
        out_sb_printf(b, "};\nstatic const int32_t %s_desc_%s%d_dim_sym[%d] = {", N, kind, i, t->rank);
        for (int k = 0; k < t->rank; k++) out_sb_printf(b, "%s%d", k ? ", " : "", (int)t->dim_sym[k]);
        out_sb_printf(b, "};\n");
    }
    if (count == 0) return;
    out_sb_printf(b, "static const onnxc_tensor_desc_t %s_desc_%ss[%d] = {\n", N, kind, count);
    for (int i = 0; i < count; i++) {
        const out_tensor_t *t = &ts[i];
        out_sb_printf(b, "    {\"");
        out_sb_c_string(b, t->name);
        if (t->rank == 0)
            out_sb_printf(b, "\", %d, 0, NULL, NULL},\n", (int)t->dtype);
        else
            out_sb_printf(b, "\", %d, %d, %s_desc_%s%d_dims, %s_desc_%s%d_dim_sym},\n", (int)t->dtype, (int)t->rank, N,
                          kind, i, N, kind, i);
    }
    out_sb_printf(b, "};\n");
}

int out_desc_c_text(const out_desc_t *d, char **text, char *err, size_t n) {
    *text = NULL;
    if (!d || !out_valid_name(d->name)) return out_err(err, n, "descriptor without a valid model name");
    const char *N = d->name;
    out_sbuf_t b = {0};
    out_sb_printf(&b, "/* %s_desc: names, dtypes and shapes for generic drivers (runtime/onnxc_abi.h). */\n", N);
    c_tensor_arrays(&b, N, "input", d->inputs, d->n_inputs);
    c_tensor_arrays(&b, N, "output", d->outputs, d->n_outputs);
    if (d->n_syms_all > 0) {
        out_sb_printf(&b, "static const char *const %s_desc_sym_names[%d] = {", N, (int)d->n_syms_all);
        for (int s = 0; s < d->n_syms_all; s++) {
            out_sb_printf(&b, "%s\"", s ? ", " : "");
            out_sb_c_string(&b, d->sym_names[s]);
            out_sb_printf(&b, "\"");
        }
        out_sb_printf(&b, "};\n");
    }
    /* A C++ compiler (nvcc on a .cu) gives a namespace-scope const internal linkage
     * unless told otherwise. */
    out_sb_printf(&b,
                  "#ifdef __cplusplus\nextern \"C\"\n#endif\n"
                  "const onnxc_model_desc_t %s_desc = {\"%s\", %d, %d, %d,\n",
                  N, N, (int)d->n_inputs, (int)d->n_outputs, (int)d->n_syms);
    if (d->n_inputs > 0)
        out_sb_printf(&b, "    %s_desc_inputs, ", N);
    else
        out_sb_printf(&b, "    NULL, ");
    if (d->n_outputs > 0)
        out_sb_printf(&b, "%s_desc_outputs, ", N);
    else
        out_sb_printf(&b, "NULL, ");
    if (d->n_syms_all > 0)
        out_sb_printf(&b, "%s_desc_sym_names,\n", N);
    else
        out_sb_printf(&b, "NULL,\n");
    out_sb_printf(&b, "    %s_workspace_size, %s_run};\n", N, N);
    /* NAME_shape_info: where each caller symbol comes from, and NAME_shapes */
    if (d->n_syms > 0) {
        out_sb_printf(&b, "static const int32_t %s_sym_input[%d] = {", N, (int)d->n_syms);
        for (int s = 0; s < d->n_syms; s++) out_sb_printf(&b, "%s%d", s ? ", " : "", (int)d->sym_input[s]);
        out_sb_printf(&b, "};\nstatic const int64_t %s_sym_elem[%d] = {", N, (int)d->n_syms);
        for (int s = 0; s < d->n_syms; s++) out_sb_printf(&b, "%s%lld", s ? ", " : "", (long long)d->sym_elem[s]);
        out_sb_printf(&b, "};\n");
    }
    out_sb_printf(&b,
                  "#ifdef __cplusplus\nextern \"C\"\n#endif\n"
                  "const onnxc_shape_info_t %s_shape_info = {%d, ",
                  N, (int)d->n_syms_all);
    if (d->n_syms > 0)
        out_sb_printf(&b, "%s_sym_input, %s_sym_elem, %s_shapes, %s_output_dims, %s_shape_checks};\n", N, N, N, N, N);
    else
        out_sb_printf(&b, "NULL, NULL, %s_shapes, %s_output_dims, %s_shape_checks};\n", N, N, N);
    char what[300];
    snprintf(what, sizeof what, "the descriptor of %s", N);
    return out_sb_finish(&b, text, what, err, n);
}

/* One buffer for every constant: backends emit it as a single byte array, which costs a
 * fraction of the time and memory of one constant per element (DESIGN.md, Weights). */
int out_weights_blob(const ir_graph_t *g, unsigned char **bytes, size_t *size, char *err, size_t n) {
    *bytes = NULL;
    *size = 0;
    if (g->blob_size <= 0) return 0;
    if ((uint64_t)g->blob_size > (uint64_t)SIZE_MAX / 2)
        return out_err(err, n, "%s: weights blob of %lld bytes is too large", g->path, (long long)g->blob_size);
    unsigned char *b = calloc(1, (size_t)g->blob_size);
    if (!b) return out_err(err, n, "%s: out of memory for %lld bytes of weights", g->path, (long long)g->blob_size);
    for (int i = 0; i < g->n_values; i++) {
        const ir_value_t *v = g->values[i];
        if (v->storage != IR_ST_CONST) continue;
        if (!v->data || v->offset < 0 || v->offset > g->blob_size ||
            v->data_size > (uint64_t)(g->blob_size - v->offset)) {
            free(b);
            return out_err(err, n,
                           "%s: internal error: constant '%s' (%zu bytes at offset %lld) does not fit the %lld-byte "
                           "weights blob",
                           g->path, v->name, v->data_size, (long long)v->offset, (long long)g->blob_size);
        }
        memcpy(b + v->offset, v->data, v->data_size);
    }
    *bytes = b;
    *size = (size_t)g->blob_size;
    return 0;
}
