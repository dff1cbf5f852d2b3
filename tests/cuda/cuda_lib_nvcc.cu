// Instantiates every kernel template of backends/cuda/lib with the identity epilogue and a
// non-trivial one (bias + ReLU through a captured pointer), for nvcc/ptxas to check.
#include "backends/cuda/lib/onnxc_cu_conv.cuh"
#include "backends/cuda/lib/onnxc_cu_reduce.cuh"

struct epi_bias_relu {
    const float *bias;
    int64_t div, mod;
    __device__ float operator()(int64_t i, float acc) const {
        float v = acc + bias[(i / div) % mod];
        return v > 0.0f ? v : 0.0f;
    }
};

template <class Epi> static cudaError_t all(cudaStream_t s, const float *x, float *y, Epi e) {
    cudaError_t r = cudaSuccess, t;
    onnxc_cu_conv2d_desc d = {1, 8, 8, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    if ((t = onnxc_cu_gemm_f32(s, 1, 256, 256, 256, x, 0, 256, 1, x, 0, 256, 1, y, 0, 256, e)) != cudaSuccess) r = t;
    if ((t = onnxc_cu_conv2d_f32(s, &d, x, x, y, e)) != cudaSuccess) r = t;
    for (int k = 0; k < 3; k++)
        if ((t = onnxc_cu_pool2d_f32(s, &d, k, x, y, e)) != cudaSuccess) r = t;
    for (int k = ONNXC_CU_RED_SUM; k <= ONNXC_CU_RED_LOGSUMEXP; k++)
        if ((t = onnxc_cu_reduce_f32(s, 4, 100, 1, k, x, y, e)) != cudaSuccess) r = t;
    return r;
}

cudaError_t onnxc_cu_lib_instantiate(cudaStream_t s, const float *x, float *y, const float *bias) {
    cudaError_t r = all(s, x, y, onnxc_epi_identity());
    cudaError_t t = all(s, x, y, epi_bias_relu{bias, 64, 8});
    if (t != cudaSuccess) r = t;
    if ((t = onnxc_cu_softmax_f32(s, 4, 100, 1, 0, x, y)) != cudaSuccess) r = t;
    if ((t = onnxc_cu_layernorm_f32(s, 4, 100, 1e-5f, x, x, x, y, y, y)) != cudaSuccess) r = t;
    return r;
}
