/* onnxc_cu_common.cuh: what every onnxc CUDA kernel uses: the launch macro (real CUDA or
 * the CPU emulator, runtime/cuda/onnxc_cuda_emu.h), the epilogue contract, warp/block
 * reductions and grid sizing. Written in the common subset of CUDA C++ and C++17. */
#ifndef ONNXC_CU_COMMON_CUH
#define ONNXC_CU_COMMON_CUH

#include <stdint.h>
#ifndef ONNXC_CUDA_EMU
#include <cuda_runtime.h>
#include <math_constants.h>
#endif

/* ONNXC_LAUNCH(kernel, grid, block, stream, args...): static shared memory only. A
 * template kernel whose name has commas goes through a function pointer first:
 *   auto k = my_kernel<A, B>; ONNXC_LAUNCH(k, ...);
 * ONNXC_CHECK_LAUNCH() is the launch's status (cudaGetLastError). */
#ifdef ONNXC_CUDA_EMU
#define ONNXC_LAUNCH(kernel, grid, block, stream, ...) \
    ((void)(stream), (void)onnxc_emu_launch((grid), (block), [=]() { kernel(__VA_ARGS__); }))
#else
#define ONNXC_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif
#define ONNXC_CHECK_LAUNCH() cudaGetLastError()

/* Loops over compile-time tile sizes: unrolled by nvcc, clang and g++ alike. */
#if !defined(ONNXC_CUDA_EMU) || defined(__clang__)
#define ONNXC_UNROLL _Pragma("unroll")
#else
#define ONNXC_UNROLL _Pragma("GCC unroll 16")
#endif

/* Fused multiply-add: fmaf on the GPU; on the host a libm call unless the target has FMA. */
#if !defined(ONNXC_CUDA_EMU) || defined(__FMA__)
#define ONNXC_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define ONNXC_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* The epilogue: `acc` is the kernel's result for output element `out_index` (row-major
 * index into the output tensor); the returned value is stored there. */
struct onnxc_epi_identity {
    __device__ __forceinline__ float operator()(int64_t out_index, float acc) const {
        (void)out_index;
        return acc;
    }
};

#define ONNXC_CU_INF (__int_as_float(0x7f800000))

/* ---- warp and block reductions (every thread of the block must call the block ones) ---- */
struct onnxc_cu_op_sum {
    __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct onnxc_cu_op_max {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct onnxc_cu_op_min {
    __device__ __forceinline__ float operator()(float a, float b) const { return fminf(a, b); }
};
struct onnxc_cu_op_prod {
    __device__ __forceinline__ float operator()(float a, float b) const { return a * b; }
};
template <class Op> __device__ __forceinline__ float onnxc_cu_warp_reduce(float v, Op op) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float onnxc_cu_warp_sum(float v) { return onnxc_cu_warp_reduce(v, onnxc_cu_op_sum()); }
__device__ __forceinline__ float onnxc_cu_warp_max(float v) { return onnxc_cu_warp_reduce(v, onnxc_cu_op_max()); }

/* Reduces one float per thread over a 1-D block of NT threads (NT a multiple of 32,
 * <= 1024) with `op` and its identity; every thread gets the result. */
template <int NT, class Op> __device__ __forceinline__ float onnxc_cu_block_reduce(float v, Op op, float ident) {
    static_assert(NT % 32 == 0 && NT <= 1024, "block size");
    __shared__ float part[32];
    unsigned lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = onnxc_cu_warp_reduce(v, op);
    if (NT == 32) return v;
    if (lane == 0) part[wid] = v;
    __syncthreads();
    v = lane < NT / 32 ? part[lane] : ident;
    v = onnxc_cu_warp_reduce(v, op); /* every warp reduces the partials: no broadcast step */
    __syncthreads();                 /* part may be reused by the next call */
    return v;
}
template <int NT> __device__ __forceinline__ float onnxc_cu_block_sum(float v) {
    return onnxc_cu_block_reduce<NT>(v, onnxc_cu_op_sum(), 0.0f);
}
template <int NT> __device__ __forceinline__ float onnxc_cu_block_max(float v) {
    return onnxc_cu_block_reduce<NT>(v, onnxc_cu_op_max(), -ONNXC_CU_INF);
}

/* ---- grid sizing ---- */
static inline int64_t onnxc_cu_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
/* Blocks for a grid-stride loop over n items, `per_block` items per block per pass, at most
 * `cap` blocks (grid.x allows 2^31 - 1; kernels loop over the rest). */
static inline unsigned onnxc_cu_grid_1d(int64_t n, int64_t per_block, int64_t cap = 1 << 20) {
    int64_t b = onnxc_cu_ceil_div(n, per_block);
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    return (unsigned)b;
}
/* grid.y / grid.z hold at most 65535 blocks; kernels loop over the rest. Tests lower the
 * cap (define ONNXC_CU_GRID_YZ_MAX before including) to exercise those loops cheaply. */
#ifndef ONNXC_CU_GRID_YZ_MAX
#define ONNXC_CU_GRID_YZ_MAX 65535
#endif
static inline unsigned onnxc_cu_grid_yz(int64_t n) {
    return (unsigned)(n < 1 ? 1 : (n > ONNXC_CU_GRID_YZ_MAX ? ONNXC_CU_GRID_YZ_MAX : n));
}

#endif /* ONNXC_CU_COMMON_CUH */
