/* A program that links models compiled by onnxc_add_model (and, for the pkg-config case,
 * by hand): it runs each model once on deterministic inputs, through a thread pool from
 * the installed runtime, and prints every output as "SYMBOL OUTPUT v0 v1 ...", for
 * tests/cmake_pkg/models.py to compare with onnxruntime.
 *
 * Built with -DONNXC_ONLY_MLP it links only the "mlp" model (the shared-library,
 * static-library and pkg-config cases); with -DONNXC_HEADER_ONLY it includes only the
 * generated headers (a --emit=static library declares onnxc_ctx_create itself); with
 * -DONNXC_WEIGHTS_FILE mlp was compiled with --weights=file and argv[1] names mlp.weights,
 * which is mapped through the runtime and bound to the workspace. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef ONNXC_HEADER_ONLY
#include "onnxc_rt.h"   /* from onnxc::rt / pkg-config --cflags onnxc */
#endif                  /* (a static or shared model library's header declares the context) */
#include "mlp.h"
#ifndef ONNXC_ONLY_MLP
#include "demo.h"
#endif

/* Exact in float32 on both sides: models.py computes the same values with numpy. */
static float input_value(size_t i) {
    return (float)((i * 37) % 101) / 101.0f - 0.5f;
}

static size_t numel(const onnxc_tensor_desc_t *t) {
    size_t n = 1;
    for (int32_t d = 0; d < t->rank; d++) n *= (size_t)t->dims[d];
    return n;
}

#ifdef ONNXC_WEIGHTS_FILE
static onnxc_weights_t weights;
#endif

static int run_model(const onnxc_model_desc_t *m, onnxc_ctx_t *ctx) {
    if (m->n_syms != 0) {
        fprintf(stderr, "%s: symbolic dims are not handled here\n", m->name);
        return 1;
    }
    void *in[8] = {0}, *out[8] = {0};
    if (m->n_inputs > 8 || m->n_outputs > 8) return 1;
    for (int32_t i = 0; i < m->n_inputs; i++) {
        if (m->inputs[i].dtype != 1 /* float32 */) return 1;
        size_t n = numel(&m->inputs[i]);
        float *x = malloc(n * sizeof *x);
        if (!x) return 1;
        for (size_t k = 0; k < n; k++) x[k] = input_value(k);
        in[i] = x;
    }
    for (int32_t i = 0; i < m->n_outputs; i++)
        if (!(out[i] = malloc(numel(&m->outputs[i]) * sizeof(float)))) return 1;
    size_t ws = m->workspace_size(NULL);
    void *w = aligned_alloc(64, (ws + 64) / 64 * 64);
#ifdef ONNXC_WEIGHTS_FILE
    if (w) mlp_bind_weights(w, weights.data);
#endif
    int st = w ? m->run(ctx, NULL, (const void *const *)in, out, w) : ONNXC_ERR_INTERNAL;
    if (st != ONNXC_OK) {
        fprintf(stderr, "%s: %s\n", m->name, onnxc_status_message(st));
        return 1;
    }
    for (int32_t i = 0; i < m->n_outputs; i++) {
        printf("%s %s", m->name, m->outputs[i].name);
        for (size_t k = 0; k < numel(&m->outputs[i]); k++) printf(" %.9g", ((float *)out[i])[k]);
        printf("\n");
        free(out[i]);
    }
    for (int32_t i = 0; i < m->n_inputs; i++) free(in[i]);
    free(w);
    return 0;
}

int main(int argc, char **argv) {
#ifdef ONNXC_WEIGHTS_FILE
    char err[512];
    if (argc != 2 || onnxc_weights_map(argv[1], &mlp_weights_info, &weights, err, sizeof err) != ONNXC_OK) {
        fprintf(stderr, "usage: %s mlp.weights: %s\n", argv[0], argc == 2 ? err : "");
        return 1;
    }
#else
    (void)argc;
    (void)argv;
#endif
    onnxc_ctx_t *ctx = onnxc_ctx_create(2);
    if (!ctx) {
        fprintf(stderr, "onnxc_ctx_create failed\n");
        return 1;
    }
    int rc = run_model(&mlp_desc, ctx);
#ifndef ONNXC_ONLY_MLP
    rc |= run_model(&demo_desc, ctx);
#endif
    onnxc_ctx_destroy(ctx);
#ifdef ONNXC_WEIGHTS_FILE
    onnxc_weights_unmap(&weights);
#endif
    return rc;
}
