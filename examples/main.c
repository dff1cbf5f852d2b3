/* Calling a model compiled by onnxc from your own C program.
 *
 *   onnxc model.onnx --name demo -o demo.o     # writes demo.o and demo.h
 *   cc main.c demo.o -lm -o demo_app           # no runtime library needed
 *   ./demo_app [SYMBOL=VALUE ...]              # e.g. ./demo_app batch=4
 *
 * The generated header declares demo_run, demo_workspace_size and demo_desc, a table of
 * the model's inputs and outputs (names, dtypes, shapes, symbolic dims). This program
 * sizes every buffer from that table, so it works for any model compiled as "demo": it
 * fills the inputs with deterministic values, runs once on the calling thread (ctx NULL),
 * and prints the start of each output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

/* Bytes per element for the ONNX dtype codes a model's inputs and outputs can have. */
static size_t dtype_size(int32_t dt) {
    switch (dt) {
    case 2: case 3: case 9: return 1;              /* uint8, int8, bool */
    case 4: case 5: case 10: case 16: return 2;    /* uint16, int16, float16, bfloat16 */
    case 1: case 6: case 12: return 4;             /* float32, int32, uint32 */
    case 7: case 11: case 13: return 8;            /* int64, float64, uint64 */
    default: return 0;
    }
}

/* Elements of a tensor once the symbolic dims have sizes; fills dims_out. */
static size_t numel(const onnxc_tensor_desc_t *t, const int64_t *syms, int64_t *dims_out) {
    size_t n = 1;
    for (int32_t i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i];
        if (t->dim_sym && t->dim_sym[i] >= 0) d *= syms[t->dim_sym[i]];
        dims_out[i] = d;
        n *= (size_t)d;
    }
    return n;
}

static void *alloc_aligned(size_t bytes) {
    /* the workspace must be 64-byte aligned; aligned_alloc wants a multiple of 64 */
    return aligned_alloc(64, (bytes + 64) / 64 * 64);
}

/* Floats in [-1, 1); integer inputs (often indices or masks) get 0 and 1. */
static void fill(void *data, int32_t dt, size_t n, unsigned seed) {
    uint32_t s = 2463534242u + seed;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        float f = (float)(s >> 8) / 8388608.0f - 1.0f;
        switch (dt) {
        case 1: ((float *)data)[i] = f; break;
        case 11: ((double *)data)[i] = f; break;
        case 7: ((int64_t *)data)[i] = s & 1; break;
        case 6: ((int32_t *)data)[i] = (int32_t)(s & 1); break;
        default: memset((char *)data + i * dtype_size(dt), 0, dtype_size(dt)); break;
        }
    }
}

static double element(const void *data, int32_t dt, size_t i) {
    switch (dt) {
    case 1: return ((const float *)data)[i];
    case 11: return ((const double *)data)[i];
    case 7: return (double)((const int64_t *)data)[i];
    case 6: return ((const int32_t *)data)[i];
    case 2: case 9: return ((const uint8_t *)data)[i];
    case 3: return ((const int8_t *)data)[i];
    default: return 0;
    }
}

int main(int argc, char **argv) {
    const onnxc_model_desc_t *d = &demo_desc;
    int64_t syms[64];
    if (d->n_syms > 64) return 1;
    for (int32_t s = 0; s < d->n_syms; s++) syms[s] = 1;
    for (int a = 1; a < argc; a++) {
        const char *eq = strchr(argv[a], '=');
        int found = 0;
        for (int32_t s = 0; eq && s < d->n_syms; s++)
            if (strlen(d->sym_names[s]) == (size_t)(eq - argv[a]) && !strncmp(argv[a], d->sym_names[s], (size_t)(eq - argv[a]))) {
                syms[s] = atoll(eq + 1);
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "usage: %s [SYMBOL=VALUE ...]   (symbols:", argv[0]);
            for (int32_t s = 0; s < d->n_syms; s++) fprintf(stderr, " %s", d->sym_names[s]);
            fprintf(stderr, ")\n");
            return 2;
        }
    }

    const void *inputs[64];
    void *outputs[64];
    int64_t dims[8];
    if (d->n_inputs > 64 || d->n_outputs > 64) return 1;
    for (int32_t i = 0; i < d->n_inputs; i++) {
        const onnxc_tensor_desc_t *t = &d->inputs[i];
        size_t n = numel(t, syms, dims);
        void *buf = alloc_aligned(n * dtype_size(t->dtype));
        if (!buf) return 1;
        fill(buf, t->dtype, n, (unsigned)i);
        inputs[i] = buf;
    }
    for (int32_t k = 0; k < d->n_outputs; k++) {
        const onnxc_tensor_desc_t *t = &d->outputs[k];
        outputs[k] = alloc_aligned(numel(t, syms, dims) * dtype_size(t->dtype));
        if (!outputs[k]) return 1;
    }
    /* The caller owns the workspace: size it for these symbol values. */
    void *workspace = alloc_aligned(demo_workspace_size(d->n_syms ? syms : NULL));
    if (!workspace) return 1;

    int status = demo_run(NULL, d->n_syms ? syms : NULL, inputs, outputs, workspace);
    if (status != ONNXC_OK) {
        fprintf(stderr, "demo_run failed: %s\n", onnxc_status_message(status));
        return 1;
    }

    printf("model %s\n", d->name);
    for (int32_t k = 0; k < d->n_outputs; k++) {
        const onnxc_tensor_desc_t *t = &d->outputs[k];
        size_t n = numel(t, syms, dims);
        printf("output %s [", t->name);
        for (int32_t i = 0; i < t->rank; i++) printf("%s%lld", i ? "," : "", (long long)dims[i]);
        printf("]:");
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            double v = element(outputs[k], t->dtype, i);
            sum += v;
            if (i < 8) printf(" %.6g", v);
        }
        printf("%s  (sum %.6g)\n", n > 8 ? " ..." : "", sum);
    }

    for (int32_t i = 0; i < d->n_inputs; i++) free((void *)inputs[i]);
    for (int32_t k = 0; k < d->n_outputs; k++) free(outputs[k]);
    free(workspace);
    return 0;
}
