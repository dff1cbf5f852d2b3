/* A hand-written stand-in for a compiled model, with the same ABI the backend emits:
 *   inputs  x float32 [batch,3], idx int64 [2]
 *   outputs y float32 [batch,3] = 2*x + idx[0]
 *           s int64 [] = idx[0] + idx[1]
 *           z float32 [2*batch] = the first two columns of x, row by row
 * y goes through the workspace and the context's parallel_for, as generated code would.
 * A NaN in x[0] makes run fail, to test the driver's error path. Above batch 1,000,000
 * workspace_size grows as batch^3 so that large --sym values overflow it on purpose.
 * Built with FAKE_AS_DEMO it is instead the object `onnxc --name demo` would give, for
 * building examples/main.c. */
#include <math.h>
#include <stdint.h>

#include "runtime/onnxc_abi.h"

static const int64_t x_dims[] = {1, 3};
static const int32_t x_sym[] = {0, -1};
static const int64_t idx_dims[] = {2};
static const int32_t idx_sym[] = {-1};
static const int64_t y_dims[] = {1, 3};
static const int32_t y_sym[] = {0, -1};
static const int64_t z_dims[] = {2};
static const int32_t z_sym[] = {0};

static const onnxc_tensor_desc_t inputs[] = {
    {"x", 1, 2, x_dims, x_sym},
    {"idx", 7, 1, idx_dims, idx_sym},
};
static const onnxc_tensor_desc_t outputs[] = {
    {"y", 1, 2, y_dims, y_sym},
    {"s", 7, 0, NULL, NULL},
    {"z", 1, 1, z_dims, z_sym},
};
static const char *const sym_names[] = {"batch"};

static size_t fake_workspace_size(const int64_t *syms) {
    uint64_t b = (uint64_t)syms[0];
    return (size_t)(b > 1000000 ? b * b * b * 12 : b * 12);
}

typedef struct {
    const float *x;
    float *tmp;
    float add;
} task_t;

static void scale_rows(void *arg, int64_t begin, int64_t end) {
    task_t *t = arg;
    for (int64_t i = begin * 3; i < end * 3; i++) t->tmp[i] = 2.0f * t->x[i] + t->add;
}

static int fake_run(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *in,
                    void *const *out, void *workspace) {
    if (!syms || !in || !out || !in[0] || !in[1] || !out[0] || !out[1] || !out[2])
        return ONNXC_ERR_ARGUMENT;
    if (syms[0] < 1) return ONNXC_ERR_SHAPE;
    if (!workspace || ((uintptr_t)workspace & 63)) return ONNXC_ERR_WORKSPACE;
    int64_t batch = syms[0];
    const float *x = in[0];
    const int64_t *idx = in[1];
    if (isnan(x[0])) return ONNXC_ERR_INTERNAL;
    task_t t = {x, workspace, (float)idx[0]};
    if (ctx && ctx->parallel_for)
        ctx->parallel_for(ctx, scale_rows, &t, batch);
    else
        scale_rows(&t, 0, batch);
    float *y = out[0];
    for (int64_t i = 0; i < batch * 3; i++) y[i] = t.tmp[i];
    *(int64_t *)out[1] = idx[0] + idx[1];
    float *z = out[2];
    for (int64_t j = 0; j < 2 * batch; j++) z[j] = x[(j / 2) * 3 + j % 2];
    return ONNXC_OK;
}

static const onnxc_model_desc_t fake_desc = {
    "fake", 2, 3, 1, inputs, outputs, sym_names, fake_workspace_size, fake_run,
};
#ifdef FAKE_AS_DEMO
/* The library form, with the entry points a generated demo.h declares. */
size_t demo_workspace_size(const int64_t *syms) { return fake_workspace_size(syms); }
int demo_run(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *in, void *const *out,
             void *workspace) {
    return fake_run(ctx, syms, in, out, workspace);
}
const onnxc_model_desc_t demo_desc = {
    "demo", 2, 3, 1, inputs, outputs, sym_names, fake_workspace_size, fake_run,
};
#else
const onnxc_model_desc_t *const onnxc_exe_model = &fake_desc;
#endif
