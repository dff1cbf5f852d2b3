/* onnxc_cu_reduce.cuh: reductions, softmax and LayerNorm over X viewed as
 * [outer][len][inner].
 *
 * inner == 1 (the reduced elements are contiguous): one 256-thread block per row (grid-
 * stride over rows), each thread strides over the row, then a block reduction (warp
 * shuffles, one shared-memory step across the 8 warps).
 * inner > 1: a 32x8 block per (outer, 32 consecutive inner positions); threadIdx.x runs
 * along inner so loads are coalesced, threadIdx.y strides over len, and the 8 partials of
 * each column are combined through shared memory.
 * LogSumExp, softmax and LayerNorm make two passes (max or mean first) for accuracy.
 * Reducing an empty len gives the identity (0, 1, -inf, +inf; mean NaN; log-sums -inf).
 */
#ifndef ONNXC_CU_REDUCE_CUH
#define ONNXC_CU_REDUCE_CUH

#include "onnxc_cu_common.cuh"

enum onnxc_cu_reduce_kind {
    ONNXC_CU_RED_SUM, ONNXC_CU_RED_MEAN, ONNXC_CU_RED_MAX, ONNXC_CU_RED_MIN, ONNXC_CU_RED_PROD,
    ONNXC_CU_RED_SUMSQ, ONNXC_CU_RED_L1, ONNXC_CU_RED_L2, ONNXC_CU_RED_LOGSUM, ONNXC_CU_RED_LOGSUMEXP
};

/* max/min that propagate NaN, like numpy and ONNX Runtime */
struct onnxc_cu_op_maxn {
    __device__ __forceinline__ float operator()(float a, float b) const { return (a > b || a != a) ? a : b; }
};
struct onnxc_cu_op_minn {
    __device__ __forceinline__ float operator()(float a, float b) const { return (a < b || a != a) ? a : b; }
};

template <int KIND> struct onnxc_cu_red_traits { /* SUM, MEAN, SUMSQ, L1, L2, LOGSUM, LOGSUMEXP: sums */
    typedef onnxc_cu_op_sum op;
    static __device__ __forceinline__ float ident() { return 0.0f; }
};
template <> struct onnxc_cu_red_traits<ONNXC_CU_RED_MAX> {
    typedef onnxc_cu_op_maxn op;
    static __device__ __forceinline__ float ident() { return -ONNXC_CU_INF; }
};
template <> struct onnxc_cu_red_traits<ONNXC_CU_RED_MIN> {
    typedef onnxc_cu_op_minn op;
    static __device__ __forceinline__ float ident() { return ONNXC_CU_INF; }
};
template <> struct onnxc_cu_red_traits<ONNXC_CU_RED_PROD> {
    typedef onnxc_cu_op_prod op;
    static __device__ __forceinline__ float ident() { return 1.0f; }
};

template <int KIND> __device__ __forceinline__ float onnxc_cu_red_pre(float x, float shift) {
    switch (KIND) {
    case ONNXC_CU_RED_SUMSQ: case ONNXC_CU_RED_L2: return x * x;
    case ONNXC_CU_RED_L1: return fabsf(x);
    case ONNXC_CU_RED_LOGSUMEXP: return expf(x - shift);
    default: return x;
    }
}
template <int KIND> __device__ __forceinline__ float onnxc_cu_red_fin(float acc, int64_t len, float shift) {
    switch (KIND) {
    case ONNXC_CU_RED_MEAN: return acc / (float)len;
    case ONNXC_CU_RED_L2: return sqrtf(acc);
    case ONNXC_CU_RED_LOGSUM: return logf(acc);
    case ONNXC_CU_RED_LOGSUMEXP: return (shift == ONNXC_CU_INF || shift == -ONNXC_CU_INF) ? shift : shift + logf(acc);
    default: return acc;
    }
}

/* ---- inner == 1: a block per row ---- */
template <int KIND, class Epi>
__global__ void __launch_bounds__(256) onnxc_cu_reduce_rows_kernel(int64_t rows, int64_t len, const float *X, float *Y,
                                                                   Epi epi) {
    typedef typename onnxc_cu_red_traits<KIND>::op Op;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *x = X + r * len;
        float shift = 0.0f;
        if (KIND == ONNXC_CU_RED_LOGSUMEXP) {
            float m = -ONNXC_CU_INF;
            for (int64_t i = threadIdx.x; i < len; i += 256) m = onnxc_cu_op_maxn()(m, __ldg(&x[i]));
            shift = onnxc_cu_block_reduce<256>(m, onnxc_cu_op_maxn(), -ONNXC_CU_INF);
        }
        float acc = onnxc_cu_red_traits<KIND>::ident();
        for (int64_t i = threadIdx.x; i < len; i += 256) acc = Op()(acc, onnxc_cu_red_pre<KIND>(__ldg(&x[i]), shift));
        acc = onnxc_cu_block_reduce<256>(acc, Op(), onnxc_cu_red_traits<KIND>::ident());
        if (threadIdx.x == 0) Y[r] = epi(r, onnxc_cu_red_fin<KIND>(acc, len, shift));
    }
}

/* Combines v over threadIdx.y of a 32x8 block, per threadIdx.x; every thread gets its column's result. */
template <class Op> __device__ __forceinline__ float onnxc_cu_col_reduce(float v, Op op) {
    __shared__ float part[8][33];
    part[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    v = part[0][threadIdx.x];
ONNXC_UNROLL
    for (int i = 1; i < 8; i++) v = op(v, part[i][threadIdx.x]);
    __syncthreads();
    return v;
}

/* ---- inner > 1: a 32x8 block per (outer, 32 inner positions) ---- */
template <int KIND, class Epi>
__global__ void __launch_bounds__(256) onnxc_cu_reduce_cols_kernel(int64_t outer, int64_t len, int64_t inner,
                                                                   const float *X, float *Y, Epi epi) {
    typedef typename onnxc_cu_red_traits<KIND>::op Op;
    const int64_t tiles_per_row = (inner + 31) / 32, tiles = outer * tiles_per_row;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        int64_t o = t / tiles_per_row, i = (t - o * tiles_per_row) * 32 + threadIdx.x;
        bool in = i < inner;
        const float *x = X + o * len * inner + (in ? i : 0);
        float shift = 0.0f;
        if (KIND == ONNXC_CU_RED_LOGSUMEXP) {
            float m = -ONNXC_CU_INF;
            if (in)
                for (int64_t l = threadIdx.y; l < len; l += 8) m = onnxc_cu_op_maxn()(m, __ldg(&x[l * inner]));
            shift = onnxc_cu_col_reduce(m, onnxc_cu_op_maxn());
        }
        float acc = onnxc_cu_red_traits<KIND>::ident();
        if (in)
            for (int64_t l = threadIdx.y; l < len; l += 8) acc = Op()(acc, onnxc_cu_red_pre<KIND>(__ldg(&x[l * inner]), shift));
        acc = onnxc_cu_col_reduce(acc, Op());
        if (in && threadIdx.y == 0) {
            int64_t yi = o * inner + i;
            Y[yi] = epi(yi, onnxc_cu_red_fin<KIND>(acc, len, shift));
        }
    }
}

template <int KIND, class Epi>
static inline void onnxc_cu_reduce_launch(cudaStream_t s, int64_t outer, int64_t len, int64_t inner, const float *X,
                                          float *Y, Epi epi) {
    if (inner == 1) {
        auto k = onnxc_cu_reduce_rows_kernel<KIND, Epi>;
        ONNXC_LAUNCH(k, dim3(onnxc_cu_grid_1d(outer, 1)), dim3(256), s, outer, len, X, Y, epi);
    } else {
        auto k = onnxc_cu_reduce_cols_kernel<KIND, Epi>;
        ONNXC_LAUNCH(k, dim3(onnxc_cu_grid_1d(outer * onnxc_cu_ceil_div(inner, 32), 1)), dim3(32, 8), s, outer, len,
                     inner, X, Y, epi);
    }
}

/* X [outer][len][inner] -> Y [outer][inner], Y[i] = epi(i, reduction). */
template <class Epi>
static inline cudaError_t onnxc_cu_reduce_f32(cudaStream_t s, int64_t outer, int64_t len, int64_t inner, int kind,
                                              const float *X, float *Y, Epi epi) {
    if (outer < 0 || len < 0 || inner < 0 || kind < ONNXC_CU_RED_SUM || kind > ONNXC_CU_RED_LOGSUMEXP)
        return cudaErrorInvalidValue;
    if (outer == 0 || inner == 0) return cudaSuccess;
    if (!Y || (len > 0 && !X)) return cudaErrorInvalidValue;
    switch (kind) {
    case ONNXC_CU_RED_SUM: onnxc_cu_reduce_launch<ONNXC_CU_RED_SUM>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_MEAN: onnxc_cu_reduce_launch<ONNXC_CU_RED_MEAN>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_MAX: onnxc_cu_reduce_launch<ONNXC_CU_RED_MAX>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_MIN: onnxc_cu_reduce_launch<ONNXC_CU_RED_MIN>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_PROD: onnxc_cu_reduce_launch<ONNXC_CU_RED_PROD>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_SUMSQ: onnxc_cu_reduce_launch<ONNXC_CU_RED_SUMSQ>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_L1: onnxc_cu_reduce_launch<ONNXC_CU_RED_L1>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_L2: onnxc_cu_reduce_launch<ONNXC_CU_RED_L2>(s, outer, len, inner, X, Y, epi); break;
    case ONNXC_CU_RED_LOGSUM: onnxc_cu_reduce_launch<ONNXC_CU_RED_LOGSUM>(s, outer, len, inner, X, Y, epi); break;
    default: onnxc_cu_reduce_launch<ONNXC_CU_RED_LOGSUMEXP>(s, outer, len, inner, X, Y, epi); break;
    }
    return ONNXC_CHECK_LAUNCH();
}

/* ---- softmax / log-softmax over len ---- */
__global__ void __launch_bounds__(256) onnxc_cu_softmax_rows_kernel(int64_t rows, int64_t len, int log_out,
                                                                    const float *X, float *Y) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *x = X + r * len;
        float *y = Y + r * len;
        float m = -ONNXC_CU_INF;
        for (int64_t i = threadIdx.x; i < len; i += 256) m = onnxc_cu_op_maxn()(m, __ldg(&x[i]));
        m = onnxc_cu_block_reduce<256>(m, onnxc_cu_op_maxn(), -ONNXC_CU_INF);
        float sum = 0.0f;
        for (int64_t i = threadIdx.x; i < len; i += 256) sum += expf(__ldg(&x[i]) - m);
        sum = onnxc_cu_block_sum<256>(sum);
        float ls = logf(sum), inv = 1.0f / sum;
        for (int64_t i = threadIdx.x; i < len; i += 256) {
            float d = __ldg(&x[i]) - m;
            y[i] = log_out ? d - ls : expf(d) * inv;
        }
    }
}

__global__ void __launch_bounds__(256) onnxc_cu_softmax_cols_kernel(int64_t outer, int64_t len, int64_t inner,
                                                                    int log_out, const float *X, float *Y) {
    const int64_t tiles_per_row = (inner + 31) / 32, tiles = outer * tiles_per_row;
    for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        int64_t o = t / tiles_per_row, i = (t - o * tiles_per_row) * 32 + threadIdx.x;
        bool in = i < inner;
        int64_t base = o * len * inner + (in ? i : 0);
        const float *x = X + base;
        float *y = Y + base;
        float m = -ONNXC_CU_INF;
        if (in)
            for (int64_t l = threadIdx.y; l < len; l += 8) m = onnxc_cu_op_maxn()(m, __ldg(&x[l * inner]));
        m = onnxc_cu_col_reduce(m, onnxc_cu_op_maxn());
        float sum = 0.0f;
        if (in)
            for (int64_t l = threadIdx.y; l < len; l += 8) sum += expf(__ldg(&x[l * inner]) - m);
        sum = onnxc_cu_col_reduce(sum, onnxc_cu_op_sum());
        float ls = logf(sum), inv = 1.0f / sum;
        if (in)
            for (int64_t l = threadIdx.y; l < len; l += 8) {
                float d = __ldg(&x[l * inner]) - m;
                y[l * inner] = log_out ? d - ls : expf(d) * inv;
            }
    }
}

static inline cudaError_t onnxc_cu_softmax_f32(cudaStream_t s, int64_t outer, int64_t len, int64_t inner, int log,
                                               const float *X, float *Y) {
    if (outer < 0 || len < 0 || inner < 0) return cudaErrorInvalidValue;
    if (outer == 0 || len == 0 || inner == 0) return cudaSuccess;
    if (!X || !Y) return cudaErrorInvalidValue;
    if (inner == 1) {
        ONNXC_LAUNCH(onnxc_cu_softmax_rows_kernel, dim3(onnxc_cu_grid_1d(outer, 1)), dim3(256), s, outer, len, log, X, Y);
    } else {
        ONNXC_LAUNCH(onnxc_cu_softmax_cols_kernel, dim3(onnxc_cu_grid_1d(outer * onnxc_cu_ceil_div(inner, 32), 1)),
                     dim3(32, 8), s, outer, len, inner, log, X, Y);
    }
    return ONNXC_CHECK_LAUNCH();
}

/* ---- LayerNorm over the last len elements of each row ---- */
__global__ void __launch_bounds__(256) onnxc_cu_layernorm_kernel(int64_t rows, int64_t len, float eps, const float *X,
                                                                 const float *scale, const float *bias, float *Y,
                                                                 float *mean_out, float *inv_std_out) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const float *x = X + r * len;
        float *y = Y + r * len;
        float s = 0.0f;
        for (int64_t i = threadIdx.x; i < len; i += 256) s += __ldg(&x[i]);
        float mean = onnxc_cu_block_sum<256>(s) / (float)len;
        float q = 0.0f;
        for (int64_t i = threadIdx.x; i < len; i += 256) {
            float d = __ldg(&x[i]) - mean;
            q = ONNXC_FMA(d, d, q);
        }
        float inv = rsqrtf(onnxc_cu_block_sum<256>(q) / (float)len + eps);
        for (int64_t i = threadIdx.x; i < len; i += 256) {
            float v = (__ldg(&x[i]) - mean) * inv * __ldg(&scale[i]);
            y[i] = bias ? v + __ldg(&bias[i]) : v;
        }
        if (threadIdx.x == 0) {
            if (mean_out) mean_out[r] = mean;
            if (inv_std_out) inv_std_out[r] = inv;
        }
    }
}

/* scale/bias [len] (bias may be NULL); mean/inv_std [rows] may be NULL. len == 0 writes nothing. */
static inline cudaError_t onnxc_cu_layernorm_f32(cudaStream_t s, int64_t rows, int64_t len, float eps, const float *X,
                                                 const float *scale, const float *bias, float *Y, float *mean,
                                                 float *inv_std) {
    if (rows < 0 || len < 0) return cudaErrorInvalidValue;
    if (rows == 0 || len == 0) return cudaSuccess;
    if (!X || !scale || !Y) return cudaErrorInvalidValue;
    ONNXC_LAUNCH(onnxc_cu_layernorm_kernel, dim3(onnxc_cu_grid_1d(rows, 1)), dim3(256), s, rows, len, eps, X, scale, bias,
                 Y, mean, inv_std);
    return ONNXC_CHECK_LAUNCH();
}

#endif /* ONNXC_CU_REDUCE_CUH */
