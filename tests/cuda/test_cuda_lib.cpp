// The kernel library (backends/cuda/lib/*.cuh) run on the CUDA emulator against naive
// host references (double accumulation) on random data; tolerance scales with the
// reduction length.
#include <chrono>
#include "runtime/cuda/onnxc_cuda_emu.h"
#include "backends/cuda/lib/onnxc_cu_conv.cuh"
#include "backends/cuda/lib/onnxc_cu_reduce.cuh"

#include <random>
#include <string>
#include <vector>

static int g_fail = 0, g_cases = 0;
#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);  \
            g_fail++;                                                                   \
        }                                                                               \
    } while (0)

static std::mt19937 rng(12345);
static std::vector<float> rnd(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float &x : v) x = d(rng);
    return v;
}

// Compares got with ref (|g - r| <= atol + rtol*|r|); NaN must match NaN, inf must match.
static bool close_all(const std::string &what, const std::vector<float> &got, const std::vector<double> &ref,
                      double atol, double rtol) {
    g_cases++;
    for (size_t i = 0; i < ref.size(); i++) {
        double g = got[i], r = ref[i];
        bool ok = std::isnan(r) ? std::isnan(g) : (std::isinf(r) ? g == r : std::fabs(g - r) <= atol + rtol * std::fabs(r));
        if (!ok) {
            std::fprintf(stderr, "%s: element %zu: got %.8g, reference %.8g\n", what.c_str(), i, g, r);
            g_fail++;
            return false;
        }
    }
    return true;
}

// Non-trivial epilogue: bias per column/channel through a captured pointer, then ReLU.
struct epi_bias_relu {
    const float *bias;
    int64_t div, mod; // bias index = (out_index / div) % mod
    __device__ float operator()(int64_t i, float acc) const {
        float v = acc + bias[(i / div) % mod];
        return v > 0.0f ? v : 0.0f;
    }
};

/* ---- GEMM ---- */
static void gemm_case(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool a_bcast, bool epi_br) {
    // A stored [ab][M][K] or transposed [ab][K][M]; B likewise; C padded rows (c_rs = N + 3).
    int64_t ab = a_bcast ? 1 : batch;
    std::vector<float> A = rnd((size_t)(ab * M * K)), B = rnd((size_t)(batch * K * N)), bias = rnd((size_t)std::max<int64_t>(N, 1));
    int64_t a_bs = a_bcast ? 0 : M * K, a_rs = ta ? 1 : K, a_cs = ta ? M : 1;
    int64_t b_bs = K * N, b_rs = tb ? 1 : N, b_cs = tb ? K : 1;
    int64_t c_rs = N + 3, c_bs = M * c_rs;
    std::vector<float> C((size_t)(batch * c_bs), 777.0f);
    cudaError_t e;
    if (epi_br)
        e = onnxc_cu_gemm_f32(0, batch, M, N, K, A.data(), a_bs, a_rs, a_cs, B.data(), b_bs, b_rs, b_cs, C.data(), c_bs,
                              c_rs, epi_bias_relu{bias.data(), 1, c_rs});
    else
        e = onnxc_cu_gemm_f32(0, batch, M, N, K, A.data(), a_bs, a_rs, a_cs, B.data(), b_bs, b_rs, b_cs, C.data(), c_bs,
                              c_rs, onnxc_epi_identity());
    CHECK(e == cudaSuccess);
    std::vector<double> ref(C.size());
    for (int64_t z = 0; z < batch; z++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < c_rs; n++) {
                int64_t ci = z * c_bs + m * c_rs + n;
                if (n >= N) {
                    ref[ci] = 777.0; // padding columns untouched
                    continue;
                }
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)A[z * a_bs + m * a_rs + k * a_cs] * B[z * b_bs + k * b_rs + n * b_cs];
                if (epi_br) {
                    s += bias[ci % c_rs];
                    s = s > 0 ? s : 0;
                }
                ref[ci] = s;
            }
    char name[160];
    std::snprintf(name, sizeof name, "gemm b%lld %lldx%lldx%lld ta%d tb%d bcast%d epi%d", (long long)batch, (long long)M,
                  (long long)N, (long long)K, ta, tb, a_bcast, epi_br);
    close_all(name, C, ref, 1e-5 * (double)K + 1e-6, 1e-5 * (double)K);
}

static void test_gemm() {
    const int64_t shapes[][4] = {{1, 1, 1, 1},   {1, 5, 7, 3},     {2, 64, 64, 16},  {1, 65, 63, 17}, {3, 31, 33, 100},
                                 {1, 128, 128, 32}, {1, 130, 129, 33}, {2, 200, 257, 70}, {1, 1, 300, 9}, {1, 300, 1, 9},
                                 {1, 17, 19, 0}, {4, 8, 9, 513}};
    for (auto &s : shapes)
        for (int v = 0; v < 4; v++) gemm_case(s[0], s[1], s[2], s[3], v & 1, v & 2, false, v == 3);
    gemm_case(5, 40, 50, 60, false, false, true, false);
    gemm_case(3, 150, 140, 40, true, false, true, true);
    // zero counts: nothing launched, C untouched; bad arguments refused
    float c = 5.0f;
    CHECK(onnxc_cu_gemm_f32(0, 0, 4, 4, 4, (const float *)nullptr, 0, 0, 0, (const float *)nullptr, 0, 0, 0, &c, 0, 0,
                            onnxc_epi_identity()) == cudaSuccess);
    CHECK(onnxc_cu_gemm_f32(0, 1, 0, 4, 4, (const float *)nullptr, 0, 0, 0, (const float *)nullptr, 0, 0, 0, &c, 0, 0,
                            onnxc_epi_identity()) == cudaSuccess);
    CHECK(c == 5.0f);
    CHECK(onnxc_cu_gemm_f32(0, 1, -1, 4, 4, &c, 0, 0, 0, &c, 0, 0, 0, &c, 0, 0, onnxc_epi_identity()) ==
          cudaErrorInvalidValue);
    CHECK(onnxc_cu_gemm_f32(0, 1, 4, 4, 4, (const float *)nullptr, 0, 0, 0, &c, 0, 0, 0, &c, 0, 0,
                            onnxc_epi_identity()) == cudaErrorInvalidValue);
    // more batches / N tiles than grid.z / grid.y hold: the kernel loops (the ASan build
    // of this test lowers the cap to 4 with ONNXC_CU_GRID_YZ_MAX, so every case loops there)
    gemm_case(70, 3, 300, 5, false, true, false, true);
    gemm_case(9, 130, 600, 40, false, false, true, false);
}

/* ---- convolution and pooling ---- */
static void conv_ref(const onnxc_cu_conv2d_desc &d, const std::vector<float> &X, const std::vector<float> &W,
                     std::vector<double> &Y) {
    int64_t cg = d.c / d.group, mg = d.m / d.group;
    Y.assign((size_t)(d.n * d.m * d.oh * d.ow), 0.0);
    for (int64_t b = 0; b < d.n; b++)
        for (int64_t oc = 0; oc < d.m; oc++) {
            int64_t g = oc / mg;
            for (int64_t oy = 0; oy < d.oh; oy++)
                for (int64_t ox = 0; ox < d.ow; ox++) {
                    double s = 0;
                    for (int64_t ic = 0; ic < cg; ic++)
                        for (int64_t ky = 0; ky < d.kh; ky++)
                            for (int64_t kx = 0; kx < d.kw; kx++) {
                                int64_t iy = oy * d.sh - d.ph + ky * d.dh, ix = ox * d.sw - d.pw + kx * d.dw;
                                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                                s += (double)X[((b * d.c + g * cg + ic) * d.h + iy) * d.w + ix] *
                                     W[((oc * cg + ic) * d.kh + ky) * d.kw + kx];
                            }
                    Y[((b * d.m + oc) * d.oh + oy) * d.ow + ox] = s;
                }
        }
}

static onnxc_cu_conv2d_desc mkdesc(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t kh, int64_t kw,
                                   int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t pb, int64_t pr, int64_t dh,
                                   int64_t dw, int64_t group) {
    onnxc_cu_conv2d_desc d;
    d.n = n, d.c = c, d.h = h, d.w = w, d.m = m, d.kh = kh, d.kw = kw, d.sh = sh, d.sw = sw, d.ph = ph, d.pw = pw;
    d.dh = dh, d.dw = dw, d.group = group;
    d.oh = (h + ph + pb - ((kh - 1) * dh + 1)) / sh + 1;
    d.ow = (w + pw + pr - ((kw - 1) * dw + 1)) / sw + 1;
    return d;
}

static void conv_case(const onnxc_cu_conv2d_desc &d, bool epi_br) {
    std::vector<float> X = rnd((size_t)(d.n * d.c * d.h * d.w)), W = rnd((size_t)(d.m * (d.c / d.group) * d.kh * d.kw));
    std::vector<float> bias = rnd((size_t)d.m), Y((size_t)(d.n * d.m * d.oh * d.ow), 777.0f);
    int64_t ohw = d.oh * d.ow;
    cudaError_t e = epi_br ? onnxc_cu_conv2d_f32(0, &d, X.data(), W.data(), Y.data(), epi_bias_relu{bias.data(), ohw, d.m})
                           : onnxc_cu_conv2d_f32(0, &d, X.data(), W.data(), Y.data(), onnxc_epi_identity());
    CHECK(e == cudaSuccess);
    std::vector<double> ref;
    conv_ref(d, X, W, ref);
    if (epi_br)
        for (size_t i = 0; i < ref.size(); i++) {
            double v = ref[i] + bias[(i / ohw) % d.m];
            ref[i] = v > 0 ? v : 0;
        }
    char name[200];
    std::snprintf(name, sizeof name, "conv n%lld c%lld %lldx%lld m%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld epi%d",
                  (long long)d.n, (long long)d.c, (long long)d.h, (long long)d.w, (long long)d.m, (long long)d.kh,
                  (long long)d.kw, (long long)d.sh, (long long)d.sw, (long long)d.ph, (long long)d.pw, (long long)d.dh,
                  (long long)d.dw, (long long)d.group, epi_br);
    double K = (double)(d.c / d.group * d.kh * d.kw);
    close_all(name, Y, ref, 1e-5 * K + 1e-6, 1e-5 * K);
}

static void test_conv() {
    //            n  c   h   w   m  kh kw sh sw ph pw pb pr dh dw g
    conv_case(mkdesc(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), false);
    conv_case(mkdesc(2, 3, 9, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), true);
    conv_case(mkdesc(1, 16, 12, 12, 130, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), true);  // 1x1, M > tile
    conv_case(mkdesc(2, 8, 11, 13, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1), false);   // dilation 2
    conv_case(mkdesc(1, 8, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4), true);     // groups 4
    conv_case(mkdesc(1, 6, 9, 9, 4, 3, 2, 2, 1, 0, 1, 1, 0, 1, 1, 2), false);      // asymmetric
    conv_case(mkdesc(1, 32, 9, 9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32), true);    // depthwise
    conv_case(mkdesc(2, 8, 10, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8), false);    // depthwise x2, stride 2
    conv_case(mkdesc(1, 4, 7, 7, 8, 5, 5, 1, 1, 2, 2, 2, 2, 2, 1, 4), true);      // depthwise, dilated
    conv_case(mkdesc(1, 5, 1, 30, 7, 1, 4, 1, 2, 0, 1, 0, 2, 1, 1, 1), false);     // 1-D
    conv_case(mkdesc(2, 64, 16, 16, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), true);  // large tile path
    conv_case(mkdesc(1, 2, 3, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1), false);      // 1x1 output
    onnxc_cu_conv2d_desc z = mkdesc(0, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    float dummy = 3.0f;
    CHECK(onnxc_cu_conv2d_f32(0, &z, &dummy, &dummy, &dummy, onnxc_epi_identity()) == cudaSuccess);
    CHECK(dummy == 3.0f);
    onnxc_cu_conv2d_desc bad = mkdesc(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2); // c % group
    CHECK(onnxc_cu_conv2d_f32(0, &bad, &dummy, &dummy, &dummy, onnxc_epi_identity()) == cudaErrorInvalidValue);
    bad = mkdesc(1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    bad.sh = 0;
    CHECK(onnxc_cu_conv2d_f32(0, &bad, &dummy, &dummy, &dummy, onnxc_epi_identity()) == cudaErrorInvalidValue);
}

static void pool_case(onnxc_cu_conv2d_desc d, int kind) {
    d.m = d.c;
    std::vector<float> X = rnd((size_t)(d.n * d.c * d.h * d.w)), Y((size_t)(d.n * d.c * d.oh * d.ow), 777.0f);
    CHECK(onnxc_cu_pool2d_f32(0, &d, kind, X.data(), Y.data(), onnxc_epi_identity()) == cudaSuccess);
    std::vector<double> ref(Y.size());
    for (int64_t p = 0; p < d.n * d.c; p++)
        for (int64_t oy = 0; oy < d.oh; oy++)
            for (int64_t ox = 0; ox < d.ow; ox++) {
                double acc = kind == ONNXC_CU_POOL_MAX ? -INFINITY : 0.0;
                int cnt = 0;
                for (int64_t ky = 0; ky < d.kh; ky++)
                    for (int64_t kx = 0; kx < d.kw; kx++) {
                        int64_t iy = oy * d.sh - d.ph + ky * d.dh, ix = ox * d.sw - d.pw + kx * d.dw;
                        if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                        double v = X[(p * d.h + iy) * d.w + ix];
                        acc = kind == ONNXC_CU_POOL_MAX ? std::max(acc, v) : acc + v;
                        cnt++;
                    }
                if (kind == ONNXC_CU_POOL_AVG_EXCL_PAD) acc /= cnt;
                if (kind == ONNXC_CU_POOL_AVG_INCL_PAD) acc /= (double)(d.kh * d.kw);
                ref[(p * d.oh + oy) * d.ow + ox] = acc;
            }
    close_all("pool kind " + std::to_string(kind), Y, ref, 1e-6, 1e-5);
}

static void test_pool() {
    for (int kind = 0; kind < 3; kind++) {
        pool_case(mkdesc(1, 3, 8, 8, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1), kind);
        pool_case(mkdesc(2, 4, 9, 11, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), kind);  // pads
        pool_case(mkdesc(1, 2, 7, 7, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1), kind);   // dilation
        pool_case(mkdesc(1, 2, 1, 20, 2, 1, 3, 1, 1, 0, 2, 0, 2, 1, 1, 1), kind);  // 1-D, pads
        pool_case(mkdesc(1, 64, 7, 7, 64, 7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 1), kind); // global
    }
    onnxc_cu_conv2d_desc d = mkdesc(1, 3, 8, 8, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1);
    float f = 0;
    CHECK(onnxc_cu_pool2d_f32(0, &d, 7, &f, &f, onnxc_epi_identity()) == cudaErrorInvalidValue);
}

void test_reduce(); // below, with the reduce kernels

// Emulator speed (printed, not asserted), in CPU seconds per GFLOP: shared machines make
// wall time meaningless. Divide by ONNXC_EMU_THREADS for the ideal wall time.
static double cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static void report_speed() {
    int64_t n = 512;
    std::vector<float> A = rnd((size_t)(n * n)), B = rnd((size_t)(n * n)), C((size_t)(n * n));
    double t0 = cpu_s();
    onnxc_cu_gemm_f32(0, 1, n, n, n, A.data(), 0, n, 1, B.data(), 0, n, 1, C.data(), 0, n, onnxc_epi_identity());
    double g = cpu_s() - t0, gf = 2.0 * n * n * n / 1e9;
    onnxc_cu_conv2d_desc d = mkdesc(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1); // a resnet50 3x3 layer
    std::vector<float> X = rnd((size_t)(64 * 56 * 56)), W = rnd((size_t)(64 * 64 * 9)), Y((size_t)(64 * 56 * 56));
    t0 = cpu_s();
    onnxc_cu_conv2d_f32(0, &d, X.data(), W.data(), Y.data(), onnxc_epi_identity());
    double c = cpu_s() - t0, cf = 2.0 * 64 * 64 * 9 * 56 * 56 / 1e9;
    onnxc_cu_conv2d_desc dw = mkdesc(1, 144, 56, 56, 144, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 144); // mobilenet depthwise
    std::vector<float> Xd = rnd((size_t)(144 * 56 * 56)), Wd = rnd((size_t)(144 * 9)), Yd((size_t)(144 * 56 * 56));
    t0 = cpu_s();
    onnxc_cu_conv2d_f32(0, &dw, Xd.data(), Wd.data(), Yd.data(), onnxc_epi_identity());
    double w = cpu_s() - t0, wf = 2.0 * 144 * 9 * 56 * 56 / 1e9;
    std::printf("emu speed (CPU s/GFLOP): gemm 512^3 %.2f; conv 64->64 3x3 56x56 %.2f; depthwise 144 3x3 56x56 %.2f\n",
                g / gf, c / cf, w / wf);
}

int main() {
    struct { const char *name; void (*fn)(); } parts[] = {
        {"gemm", test_gemm}, {"conv", test_conv}, {"pool", test_pool}, {"reduce", test_reduce}};
    for (auto &p : parts) {
        auto t0 = std::chrono::steady_clock::now();
        p.fn();
        std::printf("%-7s %.2f s\n", p.name,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    report_speed();
    if (g_fail) {
        std::fprintf(stderr, "test_cuda_lib: %d failure(s) in %d cases\n", g_fail, g_cases);
        return 1;
    }
    std::printf("test_cuda_lib: %d cases passed\n", g_cases);
    return 0;
}

#include "test_cuda_lib_reduce.inc"
