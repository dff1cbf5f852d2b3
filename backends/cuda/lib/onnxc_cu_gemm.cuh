/* onnxc_cu_gemm.cuh: float32 GEMM tiled through shared memory, and the tile kernel that
 * the implicit-GEMM convolution (onnxc_cu_conv.cuh) reuses with another operand loader.
 *
 * One block computes a BM x BN tile of C for one batch index z. Per K step of BK, its NT =
 * (BM/TM)*(BN/TN) threads stage A[BM][BK] (stored k-major, As[k][m]) and B[BK][BN] in
 * shared memory, bounds-checked (zeros outside M, N, K), then each thread accumulates a
 * TM x TN register tile: per k, TM values of A and TN of B from shared memory, TM*TN FMAs.
 * Thread (tx, ty) owns rows ty + i*(BM/TM) and columns tx + j*(BN/TN), so neighbouring
 * threads read neighbouring shared-memory words (no bank conflicts) and store neighbouring
 * columns of C (coalesced). Configurations (chosen by size in onnxc_cu_gemm_f32):
 *   large (M, N >= 128, K >= 32): BM=BN=128 BK=8 TM=TN=8, 256 threads, 8 KiB shared
 *   medium: BM=64 BN=64  BK=16 TM=TN=4, 256 threads, 8 KiB shared
 *   small (M or N <= 32): BM=BN=32 BK=16 TM=TN=2, 256 threads, 4 KiB shared
 * Tiles along M go in grid.x (2^31 - 1 blocks), along N in grid.y and batches in grid.z
 * (65535 each): the kernel loops over the N tiles and batches beyond those limits.
 * Indices are int64_t throughout.
 */
#ifndef ONNXC_CU_GEMM_CUH
#define ONNXC_CU_GEMM_CUH

#include "onnxc_cu_common.cuh"

/* A plain strided GEMM problem: A(z,m,k), B(z,k,n), C index z*c_bs + m*c_rs + n. */
struct onnxc_cu_gemm_prob {
    int64_t batch, M, N, K;
    const float *A;
    int64_t a_bs, a_rs, a_cs;
    const float *B;
    int64_t b_bs, b_rs, b_cs;
    float *C;
    int64_t c_bs, c_rs;
    __device__ __forceinline__ float a(int64_t z, int64_t m, int64_t k) const {
        return __ldg(&A[z * a_bs + m * a_rs + k * a_cs]);
    }
    __device__ __forceinline__ float b(int64_t z, int64_t k, int64_t n) const {
        return __ldg(&B[z * b_bs + k * b_rs + n * b_cs]);
    }
    __device__ __forceinline__ int64_t c_index(int64_t z, int64_t m, int64_t n) const {
        return z * c_bs + m * c_rs + n;
    }
};

/* Prob: batch, M, N, K, C and a(z,m,k), b(z,k,n), c_index(z,m,n) (in-range arguments only). */
template <int BM, int BN, int BK, int TM, int TN, class Prob, class Epi>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    onnxc_cu_tile_gemm_kernel(Prob p, Epi epi) {
    constexpr int NX = BN / TN, NY = BM / TM, NT = NX * NY;
    static_assert((BM * BK) % NT == 0 && (BK * BN) % NT == 0, "tile loads must divide evenly");
    __shared__ float As[BK][BM];
    __shared__ float Bs[BK][BN];
    const int tid = threadIdx.x, tx = tid % NX, ty = tid / NX;
    const int64_t m0 = (int64_t)blockIdx.x * BM;
    const int64_t n_tiles = (p.N + BN - 1) / BN;
    for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
        for (int64_t nt = blockIdx.y; nt < n_tiles; nt += gridDim.y) {
            const int64_t n0 = nt * BN;
            float acc[TM][TN];
ONNXC_UNROLL
            for (int i = 0; i < TM; i++)
ONNXC_UNROLL
                for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;
            for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
ONNXC_UNROLL
                for (int r = 0; r < BM * BK / NT; r++) { /* k fastest: row-major A coalesces */
                    int e = tid + r * NT, kk = e % BK, mm = e / BK;
                    int64_t m = m0 + mm, k = k0 + kk;
                    As[kk][mm] = (m < p.M && k < p.K) ? p.a(z, m, k) : 0.0f;
                }
ONNXC_UNROLL
                for (int r = 0; r < BK * BN / NT; r++) { /* n fastest */
                    int e = tid + r * NT, nn = e % BN, kk = e / BN;
                    int64_t n = n0 + nn, k = k0 + kk;
                    Bs[kk][nn] = (n < p.N && k < p.K) ? p.b(z, k, n) : 0.0f;
                }
                __syncthreads();
ONNXC_UNROLL
                for (int kk = 0; kk < BK; kk++) {
                    float av[TM], bv[TN];
ONNXC_UNROLL
                    for (int i = 0; i < TM; i++) av[i] = As[kk][ty + i * NY];
ONNXC_UNROLL
                    for (int j = 0; j < TN; j++) bv[j] = Bs[kk][tx + j * NX];
ONNXC_UNROLL
                    for (int i = 0; i < TM; i++)
ONNXC_UNROLL
                        for (int j = 0; j < TN; j++) acc[i][j] = ONNXC_FMA(av[i], bv[j], acc[i][j]);
                }
                __syncthreads();
            }
ONNXC_UNROLL
            for (int i = 0; i < TM; i++) {
                int64_t m = m0 + ty + i * NY;
                if (m >= p.M) continue;
ONNXC_UNROLL
                for (int j = 0; j < TN; j++) {
                    int64_t n = n0 + tx + j * NX;
                    if (n < p.N) {
                        int64_t ci = p.c_index(z, m, n);
                        p.C[ci] = epi(ci, acc[i][j]);
                    }
                }
            }
        }
    }
}

/* Launches the tile kernel for problem p with the configuration fitting its size. */
template <class Prob, class Epi> static inline cudaError_t onnxc_cu_tile_gemm_launch(cudaStream_t s, const Prob &p, Epi epi) {
    if (p.M >= 128 && p.N >= 128 && p.K >= 32) {
        auto k = onnxc_cu_tile_gemm_kernel<128, 128, 8, 8, 8, Prob, Epi>;
        dim3 grid((unsigned)onnxc_cu_ceil_div(p.M, 128), onnxc_cu_grid_yz(onnxc_cu_ceil_div(p.N, 128)),
                  onnxc_cu_grid_yz(p.batch));
        ONNXC_LAUNCH(k, grid, dim3(256), s, p, epi);
    } else if (p.M <= 32 || p.N <= 32) {
        auto k = onnxc_cu_tile_gemm_kernel<32, 32, 16, 2, 2, Prob, Epi>;
        dim3 grid((unsigned)onnxc_cu_ceil_div(p.M, 32), onnxc_cu_grid_yz(onnxc_cu_ceil_div(p.N, 32)),
                  onnxc_cu_grid_yz(p.batch));
        ONNXC_LAUNCH(k, grid, dim3(256), s, p, epi);
    } else {
        auto k = onnxc_cu_tile_gemm_kernel<64, 64, 16, 4, 4, Prob, Epi>;
        dim3 grid((unsigned)onnxc_cu_ceil_div(p.M, 64), onnxc_cu_grid_yz(onnxc_cu_ceil_div(p.N, 64)),
                  onnxc_cu_grid_yz(p.batch));
        ONNXC_LAUNCH(k, grid, dim3(256), s, p, epi);
    }
    return ONNXC_CHECK_LAUNCH();
}

/* C(b,m,n) = epi(c_index, sum_k A(b,m,k) * B(b,k,n)); see onnxc_cu_gemm_prob for the
 * addressing. a_bs/b_bs may be 0 (broadcast). Counts may be 0 (nothing is launched). */
template <class Epi>
static inline cudaError_t onnxc_cu_gemm_f32(cudaStream_t s, int64_t batch, int64_t M, int64_t N, int64_t K,
                                            const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs, const float *B,
                                            int64_t b_bs, int64_t b_rs, int64_t b_cs, float *C, int64_t c_bs,
                                            int64_t c_rs, Epi epi) {
    if (batch < 0 || M < 0 || N < 0 || K < 0) return cudaErrorInvalidValue;
    if (batch == 0 || M == 0 || N == 0) return cudaSuccess;
    if (!C || (K > 0 && (!A || !B))) return cudaErrorInvalidValue;
    if (onnxc_cu_ceil_div(M, 32) > 2147483647) return cudaErrorInvalidValue;
    onnxc_cu_gemm_prob p = {batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, C, c_bs, c_rs};
    return onnxc_cu_tile_gemm_launch(s, p, epi);
}

#endif /* ONNXC_CU_GEMM_CUH */
