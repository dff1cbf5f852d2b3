/* The CUDA backend's public face: a scheduled graph (passes/passes.h contract, scheduled
 * for a GPU target) -> CUDA C source NAME.cu plus NAME.h, optionally built with nvcc into an
 * object, a shared library or a standalone program; or, for --target=cuda-emu, the same
 * source built with the host C++ compiler against runtime/cuda/onnxc_cuda_emu.h so that it
 * runs on the CPU (how the generated code is tested on machines without a GPU).
 *
 * The generated code (see backends/cuda/cu_gen.c) holds one __global__ per kernel of the
 * schedule and a host entry that launches them in order on the caller's stream, with the
 * memory plan's workspace as one device buffer. Outputs appear atomically. */
#ifndef ONNXC_CUDA_BACKEND_H
#define ONNXC_CUDA_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cuda_emit_kind {
    CUDA_EMIT_CU,    /* NAME.cu + NAME.h (default) */
    CUDA_EMIT_OBJ,   /* object (+ NAME.h) */
    CUDA_EMIT_SO,    /* shared library (+ NAME.h) */
    CUDA_EMIT_EXE,   /* standalone program (runtime/main.c's driver) */
} cuda_emit_kind_t;

typedef struct cuda_backend_opts {
    const char *name;         /* symbol prefix (out_valid_name) */
    cuda_emit_kind_t emit;
    const char *output;
    bool emu;                 /* --target=cuda-emu: host C++ compiler + the emulation header */
    const char *arch;         /* "sm_90" (default), "sm_80", "sm_89" */
    int opt_level;            /* 0..3, passed to the compilers */
    bool weights_file;        /* weights in NAME.weights beside the output, not in the code */
    const char *runtime_dir;  /* folder of libonnxc_rt.a (EXE) */
    const char *model_path;   /* for the header's comment */
    const char *version;      /* compiler version, recorded in NAME_build_info */
} cuda_backend_opts_t;

/* The GPU description the schedule is made from for o->arch (warp 32, 1024 threads per
 * block, 48 KiB static shared memory, SM count of the arch's flagship part). 0, or -1
 * with the reason in err. */
struct ir_target;
int cuda_backend_target(const cuda_backend_opts_t *o, struct ir_target *t, char *err, size_t n);

/* Compiles g. 0, or -1 with the reasons in g->diags (every node without a CUDA kernel is
 * named), never a partial output. */
int cuda_backend_compile(ir_graph_t *g, const cuda_backend_opts_t *o);

/* ---- host-side logic, exposed for the unit tests -------------------------------------- */

/* Launch configuration of a one-thread-per-element kernel over n elements with
 * grid-stride loops: block threads per block (n < block: n rounded up to a warp), and
 * at most max_blocks blocks (the kernel strides over the rest). n == 0: no launch
 * (*grid = *blockdim = 0). n may exceed 2^31: indices are int64 in the kernels. */
void cuda_launch_dims(int64_t n, int block, int64_t max_blocks, int64_t *grid, int *blockdim);

#define CUDA_GRID_X_MAX 2147483647LL   /* gridDim.x limit (sm_30 and later) */
#define CUDA_GRID_YZ_MAX 65535LL       /* gridDim.y and .z */

/* A library GEMM launch (backends/cuda/lib/onnxc_cu_gemm.cuh, configuration fixed at
 * generation time): cfg 0 = 128x128 tiles, 1 = 64x64, 2 = 32x32; grid[] 0 where nothing
 * is launched (an empty product). Returns -1 where the library cannot take the problem
 * (M tiles beyond grid.x, negative sizes): the caller uses the one-thread-per-output
 * kernel instead. */
typedef struct cuda_launch {
    int cfg;
    int64_t grid[3];
    int block[3];
} cuda_launch_t;
int cuda_gemm_launch(int64_t batch, int64_t M, int64_t N, int64_t K, cuda_launch_t *l);

/* The device workspace: the plan's static region, 256-byte aligned (cudaMalloc's
 * alignment, which every offset of the plan (64-aligned) keeps for float4 loads).
 * Returns the bytes to allocate for ws_static, at least 256 so the pointer is never NULL. */
int64_t cuda_workspace_bytes(int64_t ws_static);

#ifdef __cplusplus
}
#endif
#endif
