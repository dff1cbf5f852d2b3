/* onnxc_cu_conv.cuh: NCHW float32 convolution and pooling.
 *
 * conv2d is an implicit GEMM on the tile kernel of onnxc_cu_gemm.cuh, one GEMM per group
 * (group in grid.z): M = m/group output channels, N = n*oh*ow output pixels, K =
 * (c/group)*kh*kw; A is the filter (row-major [m][c/group*kh*kw], as ONNX stores it) and
 * B(k, pixel) is the im2col element, computed inside the shared-memory load (zero where
 * the window reads padding), so no column buffer exists. Depthwise convolutions (group ==
 * c > 1, m a multiple of group) use a direct kernel instead: one thread per output, the
 * window loop in registers; a GEMM with M = 1 per group would waste the tile. Pooling is
 * one thread per output as well. Both use grid-stride loops (any size).
 */
#ifndef ONNXC_CU_CONV_CUH
#define ONNXC_CU_CONV_CUH

#include "onnxc_cu_gemm.cuh"

struct onnxc_cu_conv2d_desc { /* NCHW, float32; 1-D convs are H = KH = 1 */
    int64_t n, c, h, w;        /* input */
    int64_t m, oh, ow;         /* output channels and spatial */
    int64_t kh, kw, sh, sw, ph, pw /* top/left pads */, dh, dw, group;
};

struct onnxc_cu_conv_prob {
    int64_t batch /* = group */, M, N, K;
    const float *X, *W;
    float *C;
    int64_t c, h, w, m, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cg;
    __device__ __forceinline__ float a(int64_t g, int64_t mm, int64_t k) const {
        return __ldg(&W[(g * M + mm) * K + k]);
    }
    __device__ __forceinline__ float b(int64_t g, int64_t k, int64_t nn) const {
        int64_t khw = kh * kw, ic = k / khw, r = k - ic * khw, ky = r / kw, kx = r - ky * kw;
        int64_t ohw = oh * ow, img = nn / ohw, pix = nn - img * ohw, oy = pix / ow, ox = pix - oy * ow;
        int64_t iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0.0f;
        return __ldg(&X[((img * c + g * cg + ic) * h + iy) * w + ix]);
    }
    __device__ __forceinline__ int64_t c_index(int64_t g, int64_t mm, int64_t nn) const {
        int64_t ohw = oh * ow, img = nn / ohw, pix = nn - img * ohw;
        return (img * m + g * M + mm) * ohw + pix;
    }
};

template <class Epi>
__global__ void __launch_bounds__(256) onnxc_cu_depthwise_kernel(onnxc_cu_conv2d_desc d, const float *X, const float *W,
                                                                 float *Y, Epi epi) {
    const int64_t total = d.n * d.m * d.oh * d.ow, mult = d.m / d.group;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t ox = o % d.ow, t = o / d.ow, oy = t % d.oh;
        t /= d.oh;
        int64_t oc = t % d.m, img = t / d.m, ic = oc / mult;
        const float *x = X + (img * d.c + ic) * d.h * d.w;
        const float *wt = W + oc * d.kh * d.kw;
        float acc = 0.0f;
        for (int64_t ky = 0; ky < d.kh; ky++) {
            int64_t iy = oy * d.sh - d.ph + ky * d.dh;
            if (iy < 0 || iy >= d.h) continue;
            for (int64_t kx = 0; kx < d.kw; kx++) {
                int64_t ix = ox * d.sw - d.pw + kx * d.dw;
                if (ix >= 0 && ix < d.w) acc = ONNXC_FMA(__ldg(&x[iy * d.w + ix]), __ldg(&wt[ky * d.kw + kx]), acc);
            }
        }
        Y[o] = epi(o, acc);
    }
}

static inline cudaError_t onnxc_cu_conv2d_check(const onnxc_cu_conv2d_desc *d) {
    if (!d || d->n < 0 || d->c < 0 || d->h < 0 || d->w < 0 || d->m < 0 || d->oh < 0 || d->ow < 0 || d->kh < 1 ||
        d->kw < 1 || d->sh < 1 || d->sw < 1 || d->dh < 1 || d->dw < 1 || d->ph < 0 || d->pw < 0)
        return cudaErrorInvalidValue;
    return cudaSuccess;
}

/* Y[((b*m + oc)*oh + y)*ow + x] = epi(that index, conv); W is [m][c/group][kh][kw]. */
template <class Epi>
static inline cudaError_t onnxc_cu_conv2d_f32(cudaStream_t s, const onnxc_cu_conv2d_desc *d, const float *X,
                                              const float *W, float *Y, Epi epi) {
    if (onnxc_cu_conv2d_check(d) != cudaSuccess || d->group < 1 || d->c % d->group || d->m % d->group)
        return cudaErrorInvalidValue;
    if (d->n == 0 || d->m == 0 || d->oh == 0 || d->ow == 0) return cudaSuccess;
    if (!X || !W || !Y) return cudaErrorInvalidValue;
    if (d->group == d->c && d->group > 1) {
        int64_t total = d->n * d->m * d->oh * d->ow;
        auto k = onnxc_cu_depthwise_kernel<Epi>;
        ONNXC_LAUNCH(k, dim3(onnxc_cu_grid_1d(total, 256)), dim3(256), s, *d, X, W, Y, epi);
        return ONNXC_CHECK_LAUNCH();
    }
    onnxc_cu_conv_prob p;
    p.batch = d->group;
    p.M = d->m / d->group;
    p.N = d->n * d->oh * d->ow;
    p.cg = d->c / d->group;
    p.K = p.cg * d->kh * d->kw;
    p.X = X;
    p.W = W;
    p.C = Y;
    p.c = d->c, p.h = d->h, p.w = d->w, p.m = d->m, p.oh = d->oh, p.ow = d->ow;
    p.kh = d->kh, p.kw = d->kw, p.sh = d->sh, p.sw = d->sw, p.ph = d->ph, p.pw = d->pw, p.dh = d->dh, p.dw = d->dw;
    return onnxc_cu_tile_gemm_launch(s, p, epi);
}

enum onnxc_cu_pool_kind { ONNXC_CU_POOL_MAX, ONNXC_CU_POOL_AVG_EXCL_PAD, ONNXC_CU_POOL_AVG_INCL_PAD };

/* AVG_INCL_PAD divides by kh*kw (the whole window; ONNX's count_include_pad when the
 * window stays inside the padded input). A max window that reads only padding gives -inf;
 * an excl-pad average of no element gives 0/0 = NaN, as the definitions say. */
template <class Epi>
__global__ void __launch_bounds__(256) onnxc_cu_pool2d_kernel(onnxc_cu_conv2d_desc d, int kind, const float *X, float *Y,
                                                              Epi epi) {
    const int64_t total = d.n * d.c * d.oh * d.ow;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t ox = o % d.ow, t = o / d.ow, oy = t % d.oh, plane = t / d.oh;
        const float *x = X + plane * d.h * d.w;
        float acc = kind == ONNXC_CU_POOL_MAX ? -ONNXC_CU_INF : 0.0f;
        int64_t cnt = 0;
        for (int64_t ky = 0; ky < d.kh; ky++) {
            int64_t iy = oy * d.sh - d.ph + ky * d.dh;
            if (iy < 0 || iy >= d.h) continue;
            for (int64_t kx = 0; kx < d.kw; kx++) {
                int64_t ix = ox * d.sw - d.pw + kx * d.dw;
                if (ix < 0 || ix >= d.w) continue;
                float v = __ldg(&x[iy * d.w + ix]);
                acc = kind == ONNXC_CU_POOL_MAX ? (v > acc || v != v ? v : acc) : acc + v;
                cnt++;
            }
        }
        if (kind == ONNXC_CU_POOL_AVG_EXCL_PAD) acc = acc / (float)cnt;
        else if (kind == ONNXC_CU_POOL_AVG_INCL_PAD) acc = acc / (float)(d.kh * d.kw);
        Y[o] = epi(o, acc);
    }
}

template <class Epi>
static inline cudaError_t onnxc_cu_pool2d_f32(cudaStream_t s, const onnxc_cu_conv2d_desc *d, int kind, const float *X,
                                              float *Y, Epi epi) {
    if (onnxc_cu_conv2d_check(d) != cudaSuccess || kind < ONNXC_CU_POOL_MAX || kind > ONNXC_CU_POOL_AVG_INCL_PAD)
        return cudaErrorInvalidValue;
    if (d->n == 0 || d->c == 0 || d->oh == 0 || d->ow == 0) return cudaSuccess;
    if (!X || !Y) return cudaErrorInvalidValue;
    int64_t total = d->n * d->c * d->oh * d->ow;
    auto k = onnxc_cu_pool2d_kernel<Epi>;
    ONNXC_LAUNCH(k, dim3(onnxc_cu_grid_1d(total, 256)), dim3(256), s, *d, kind, X, Y, epi);
    return ONNXC_CHECK_LAUNCH();
}

#endif /* ONNXC_CU_CONV_CUH */
