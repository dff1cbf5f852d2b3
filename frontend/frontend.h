/* onnxc frontend: an ONNX ModelProto file -> an ir_graph_t.
 *
 * The graph comes back in the newest opset form (attributes that later opsets turned into
 * inputs are constant inputs), with initializers and Constant nodes as constant values,
 * caller-fed inputs in graph order, and symbolic dims registered in graph->syms.
 * Intermediate values have rank -1 until shape inference runs.
 *
 * Errors: -1, *out = NULL and the reason appended to diags (ir/diag.h), printed as
 *     "PATH: node 'NAME' (OpType): reason"   or   "PATH: reason"
 * diags may be NULL (the reason is then dropped). Conversion stops at the first error,
 * except that every unsupported op is named at once.
 * Hostile input never crashes, hangs or allocates more than the bytes actually present
 * justify. */
#ifndef ONNXC_FRONTEND_H
#define ONNXC_FRONTEND_H

#include <stddef.h>

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads the model at path; external data is read relative to path's folder.
 * On success *out owns everything (free with ir_graph_free). */
int frontend_load_model(const char *path, ir_graph_t **out, ir_diags_t *diags);

/* Same from a serialized ModelProto in memory (the buffer is not kept).
 * path_for_messages names the model in messages and graph->path (NULL: "<memory>").
 * model_dir is where external data lives; NULL refuses external data. */
int frontend_load_model_buffer(const void *buf, size_t n, const char *path_for_messages,
                               const char *model_dir, ir_graph_t **out, ir_diags_t *diags);

/* Reads a serialized TensorProto file (the ONNX test suite's input_K.pb / output_K.pb)
 * into a new constant value of g, named after the tensor (or "tensor" when unnamed).
 * External data is read relative to path's folder. Same error conventions. */
int frontend_load_tensor(const char *path, ir_graph_t *g, ir_value_t **out, ir_diags_t *diags);

/* Specialises the model: graph input `name` becomes a constant holding the tensor in
 * `path` (dtype and static dims must match). Used by `onnxc --bind NAME=FILE`, e.g. to fix
 * a Resize's scales or a Reshape's shape that the model takes as an input. Errors go to
 * g->diags. */
int frontend_bind_input(ir_graph_t *g, const char *name, const char *path);

#ifdef __cplusplus
}
#endif
#endif
