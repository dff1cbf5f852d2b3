/* What `onnxc model.onnx --name demo` writes as demo.h, for the fake model in
 * ../fake_model.c (the real header carries the ABI text itself). */
#ifndef DEMO_H
#define DEMO_H
#include "runtime/onnxc_abi.h"
extern const onnxc_model_desc_t demo_desc;
size_t demo_workspace_size(const int64_t *syms);
int demo_run(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *inputs,
             void *const *outputs, void *workspace);
#endif
