/* The ABI between code onnxc generates and whoever calls it (the runtime's standalone
 * driver, or a user's program). Plain C, no dependencies. The compiler embeds this text
 * verbatim in every generated NAME.h, so a generated header needs nothing else. */
#ifndef ONNXC_ABI_DEFINED
#define ONNXC_ABI_DEFINED
#include <stddef.h>
#include <stdint.h>

enum onnxc_status {
    ONNXC_OK = 0,
    ONNXC_ERR_ARGUMENT = 1,   /* NULL pointer where data is required */
    ONNXC_ERR_SHAPE = 2,      /* a symbolic dimension is < 1 or too large */
    ONNXC_ERR_WORKSPACE = 3,  /* workspace missing or misaligned (needs 64-byte alignment) */
    ONNXC_ERR_INTERNAL = 4
};

static inline const char *onnxc_status_message(int status) {
    switch (status) {
    case ONNXC_OK: return "ok";
    case ONNXC_ERR_ARGUMENT: return "invalid argument: a required input, output or syms pointer is NULL";
    case ONNXC_ERR_SHAPE: return "invalid shape: a symbolic dimension is out of range";
    case ONNXC_ERR_WORKSPACE: return "workspace is NULL or not 64-byte aligned";
    case ONNXC_ERR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

/* fn runs iterations [begin, end) of a parallel loop. */
typedef void (*onnxc_task_fn)(void *arg, int64_t begin, int64_t end);

/* A run context, created by the caller (the runtime's onnxc_ctx_create gives one with a
 * thread pool). Generated code only calls parallel_for through it; a NULL ctx, or a NULL
 * parallel_for, runs everything on the calling thread. No global state: two threads may
 * run the same model at once with their own contexts and workspaces. */
typedef struct onnxc_ctx {
    void (*parallel_for)(struct onnxc_ctx *ctx, onnxc_task_fn fn, void *arg, int64_t n);
    int n_threads;
    void *impl;
} onnxc_ctx_t;

/* dim i = dim_sym[i] < 0 ? dims[i] : dims[i] * syms[dim_sym[i]] */
typedef struct onnxc_tensor_desc {
    const char *name;
    int32_t dtype;            /* ONNX TensorProto.DataType: 1 float32, 6 int32, 7 int64, 9 bool, 11 float64, ... */
    int32_t rank;
    const int64_t *dims;
    const int32_t *dim_sym;
} onnxc_tensor_desc_t;

typedef struct onnxc_model_desc {
    const char *name;
    int32_t n_inputs, n_outputs, n_syms;
    const onnxc_tensor_desc_t *inputs;
    const onnxc_tensor_desc_t *outputs;
    const char *const *sym_names;
    /* Bytes of workspace for the given symbol sizes (syms may be NULL when n_syms == 0). */
    size_t (*workspace_size)(const int64_t *syms);
    /* inputs[i] / outputs[i] in graph order, dense row-major; workspace 64-byte aligned. */
    int (*run)(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *inputs,
               void *const *outputs, void *workspace);
} onnxc_model_desc_t;
#endif
