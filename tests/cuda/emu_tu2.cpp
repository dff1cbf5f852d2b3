// The emulation header in a second translation unit of the same program: its context
// switch is a weak COMDAT symbol and its state inline variables, so this must link.
#include "runtime/cuda/onnxc_cuda_emu.h"

static __global__ void k_tu2(int *out, int n) {
    __shared__ int s[128];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i;
    __syncthreads();
    if (i < n) out[i] = s[threadIdx.x] * 2 + 1;
}

int emu_tu2_launch(int *out, int n) {
    return onnxc_emu_launch(dim3((n + 127) / 128), dim3(128), [=]() { k_tu2(out, n); }) == cudaSuccess ? 0 : 1;
}
