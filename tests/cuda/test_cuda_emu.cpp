// Tests of runtime/cuda/onnxc_cuda_emu.h: indices, barriers, shuffles, atomics, launch
// checks, memory/events. Every expected value is computed on the host from CUDA's rules.
#include "runtime/cuda/onnxc_cuda_emu.h"

#include <functional>
#include <random>
#include <vector>

static int g_fail = 0;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            g_fail++;                                                             \
        }                                                                         \
    } while (0)
#define LAUNCH(grid, block, ...) onnxc_emu_launch((grid), (block), [=]() { __VA_ARGS__; })

int emu_tu2_launch(int *out, int n); // emu_tu2.cpp: the header in a second translation unit

static __global__ void k_cover(int *count, unsigned *bad) {
    uint64_t b = blockIdx.x + (uint64_t)gridDim.x * (blockIdx.y + (uint64_t)gridDim.y * blockIdx.z);
    uint64_t t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    uint64_t nt = (uint64_t)blockDim.x * blockDim.y * blockDim.z;
    if (threadIdx.x >= blockDim.x || threadIdx.y >= blockDim.y || threadIdx.z >= blockDim.z ||
        blockIdx.x >= gridDim.x || blockIdx.y >= gridDim.y || blockIdx.z >= gridDim.z)
        atomicAdd(bad, 1u);
    atomicAdd(&count[b * nt + t], 1);
}

static void test_coverage() {
    struct cfg { dim3 g, b; } cfgs[] = {
        {dim3(3), dim3(7)},          {dim3(2, 3), dim3(4, 5)},      {dim3(2, 2, 2), dim3(3, 4, 5)},
        {dim3(1), dim3(1024)},       {dim3(5), dim3(32, 32)},       {dim3(70000), dim3(1)},
        {dim3(1, 1, 3), dim3(1, 1, 64)}, {dim3(4, 5, 6), dim3(2, 3, 4)}, {dim3(1), dim3(1)},
    };
    for (const cfg &c : cfgs) {
        size_t n = (size_t)c.g.x * c.g.y * c.g.z * c.b.x * c.b.y * c.b.z;
        std::vector<int> count(n, 0);
        unsigned bad = 0;
        int *cp = count.data();
        unsigned *bp = &bad;
        CHECK(LAUNCH(c.g, c.b, k_cover(cp, bp)) == cudaSuccess);
        CHECK(cudaGetLastError() == cudaSuccess);
        CHECK(bad == 0);
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) wrong += count[i] != 1;
        if (wrong) std::fprintf(stderr, "grid (%u,%u,%u) block (%u,%u,%u): %zu of %zu threads not run once\n",
                                c.g.x, c.g.y, c.g.z, c.b.x, c.b.y, c.b.z, wrong, n);
        CHECK(wrong == 0);
    }
}

// Tree reduction in shared memory with a barrier in a loop; n need not be a power of 2.
static __global__ void k_block_sum(const float *x, float *out, int n) {
    __shared__ float s[1024];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * n + t];
    __syncthreads();
    for (unsigned half = 512; half > 0; half >>= 1) {
        if (t < half && t + half < (unsigned)n) s[t] += s[t + half];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

static void test_shared_reduction() {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> d(-8, 8);
    for (int n : {1, 2, 31, 32, 33, 200, 256, 1000, 1024}) {
        int blocks = 5;
        std::vector<float> x((size_t)blocks * n), out(blocks, -1.0f);
        for (float &v : x) v = (float)d(rng); // small integers: sums are exact in any order
        const float *xp = x.data();
        float *op = out.data();
        CHECK(LAUNCH(dim3(blocks), dim3(n), k_block_sum(xp, op, n)) == cudaSuccess);
        for (int b = 0; b < blocks; b++) {
            float ref = 0;
            for (int i = 0; i < n; i++) ref += x[(size_t)b * n + i];
            CHECK(out[b] == ref);
        }
    }
}

// Threads reach the barrier from different call sites, after different amounts of work,
// and some exit early (exited threads count as arrived, as on the hardware).
static __global__ void k_orders2(int *out, int rounds, int n_exit_early) {
    __shared__ int s[512];
    int t = threadIdx.x, n = blockDim.x;
    if (t >= n - n_exit_early) {
        out[blockIdx.x * n + t] = -7;
        return;
    }
    int live = n - n_exit_early;
    int acc = 0;
    for (int r = 0; r < rounds; r++) {
        s[t] = t * 1000 + r;
        if ((t + r) % 3 == 0) {
            __syncthreads();
        } else if ((t + r) % 3 == 1) {
            volatile int w = 0;
            for (int i = 0; i < t * 7; i++) w = w + i;
            __syncthreads();
        } else {
            __syncthreads();
        }
        int j = (t + 1 + r) % live;
        acc += s[j] - j * 1000 - r; // 0 when every thread wrote before anyone read
        __syncthreads();            // nobody overwrites s before all have read
    }
    out[blockIdx.x * n + t] = acc;
}

static void test_barrier_orders2() {
    for (int n : {1, 3, 64, 100, 512}) {
        for (int early : {0, 1, n / 3}) {
            if (early >= n) continue;
            std::vector<int> out((size_t)2 * n, 99);
            int *op = out.data();
            int e = early;
            CHECK(LAUNCH(dim3(2), dim3(n), k_orders2(op, 6, e)) == cudaSuccess);
            for (int i = 0; i < 2 * n; i++) CHECK(out[i] == ((i % n) >= n - early ? -7 : 0));
        }
    }
}

// Warp shuffles against CUDA's definitions computed on the host.
enum { SH_IDX, SH_DOWN, SH_UP, SH_XOR };
static __global__ void k_shfl(const int *in, int *out, int kind, int arg, int width) {
    int t = threadIdx.x;
    int v = in[t], r = 0;
    switch (kind) {
    case SH_IDX: r = __shfl_sync(0xffffffffu, v, arg + t % 3, width); break; // per-lane src
    case SH_DOWN: r = __shfl_down_sync(0xffffffffu, v, arg, width); break;
    case SH_UP: r = __shfl_up_sync(0xffffffffu, v, arg, width); break;
    case SH_XOR: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
    }
    out[t] = r;
}

static int shfl_ref(const std::vector<int> &in, int t, int kind, int arg, int width, int n) {
    int lane = t % 32, base = t - lane, seg = lane / width * width, src;
    switch (kind) {
    case SH_IDX: src = seg + (arg + t % 3) % width; break;
    case SH_DOWN: src = lane % width + arg < width ? lane + arg : lane; break;
    case SH_UP: src = lane % width - arg >= 0 ? lane - arg : lane; break;
    default: src = (lane ^ arg) / width == lane / width ? lane ^ arg : lane; break;
    }
    if (base + src >= n) return in[t]; // lanes past a partial warp: own value
    return in[base + src];
}

static __global__ void k_warp_sum(const float *in, float *out) {
    float v = in[blockIdx.x * blockDim.x + threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

static __global__ void k_ballot(const int *in, unsigned *out) {
    out[threadIdx.x] = __ballot_sync(0xffffffffu, in[threadIdx.x] & 1);
}

static void test_shuffles() {
    std::mt19937 rng(2);
    for (int n : {32, 96, 80, 7}) {
        std::vector<int> in(n), out(n);
        for (int &v : in) v = (int)(rng() % 100000);
        for (int kind = 0; kind < 4; kind++)
            for (int width : {32, 16, 8, 2})
                for (int arg : {0, 1, 3, 5, 8, 16, 31}) {
                    if (kind == SH_XOR && arg >= 32) continue;
                    const int *ip = in.data();
                    int *op = out.data();
                    int k = kind, a = arg, w = width;
                    CHECK(LAUNCH(dim3(1), dim3(n), k_shfl(ip, op, k, a, w)) == cudaSuccess);
                    for (int t = 0; t < n; t++) {
                        int ref = shfl_ref(in, t, kind, arg, width, n);
                        if (out[t] != ref) {
                            std::fprintf(stderr, "shfl kind %d n %d width %d arg %d lane %d: %d != %d\n",
                                         kind, n, width, arg, t, out[t], ref);
                            g_fail++;
                            t = n;
                        }
                    }
                }
        std::vector<unsigned> bal(n);
        const int *ip = in.data();
        unsigned *bp = bal.data();
        CHECK(LAUNCH(dim3(1), dim3(n), k_ballot(ip, bp)) == cudaSuccess);
        for (int t = 0; t < n; t++) {
            unsigned ref = 0;
            for (int l = 0; l < 32 && t - t % 32 + l < n; l++) ref |= (unsigned)(in[t - t % 32 + l] & 1) << l;
            CHECK(bal[t] == ref);
        }
    }
    // xor butterfly: every lane ends with its warp's sum
    std::vector<float> x(4 * 64), y(4 * 64);
    for (float &v : x) v = (float)(int)(rng() % 17) - 8;
    const float *xp = x.data();
    float *yp = y.data();
    CHECK(LAUNCH(dim3(4), dim3(64), k_warp_sum(xp, yp)) == cudaSuccess);
    for (int w = 0; w < 8; w++) {
        float s = 0;
        for (int l = 0; l < 32; l++) s += x[w * 32 + l];
        for (int l = 0; l < 32; l++) CHECK(y[w * 32 + l] == s);
    }
}

static __global__ void k_atomics(int *ci, unsigned long long *cu, float *cf, int *mx, int *mn, int *lock,
                                 int *guarded, unsigned *ex) {
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(ci, 2);
    atomicAdd(cu, 3ull);
    atomicAdd(cf, 1.0f);
    atomicMax(mx, (g * 7919) % 10007);
    atomicMin(mn, (g * 7919) % 10007 - 5000);
    atomicExch(ex, (unsigned)g);
    if (threadIdx.x == 0) { // a spin lock per block leader: atomicCAS + atomicExch
        while (atomicCAS(lock, 0, 1) != 0) {
        }
        *guarded += 1;
        __threadfence();
        atomicExch(lock, 0);
    }
}

static void test_atomics() {
    int ci = 0, mx = -1, mn = 1 << 30, lock = 0, guarded = 0;
    unsigned long long cu = 0;
    float cf = 0;
    unsigned ex = 0xffffffffu;
    int blocks = 300, threads = 128;
    int *pci = &ci, *pmx = &mx, *pmn = &mn, *plock = &lock, *pg = &guarded;
    unsigned long long *pcu = &cu;
    float *pcf = &cf;
    unsigned *pex = &ex;
    CHECK(LAUNCH(dim3(blocks), dim3(threads), k_atomics(pci, pcu, pcf, pmx, pmn, plock, pg, pex)) == cudaSuccess);
    int n = blocks * threads, rmx = -1, rmn = 1 << 30;
    for (int g = 0; g < n; g++) {
        rmx = std::max(rmx, (g * 7919) % 10007);
        rmn = std::min(rmn, (g * 7919) % 10007 - 5000);
    }
    CHECK(ci == 2 * n);
    CHECK(cu == 3ull * n);
    CHECK(cf == (float)n); // n < 2^24: every partial sum is exact
    CHECK(mx == rmx);
    CHECK(mn == rmn);
    CHECK(guarded == blocks);
    CHECK(lock == 0);
    CHECK(ex < (unsigned)n);
}

static __global__ void k_nop(int *p) {
    if (p) p[0] = 1;
}

static void test_invalid_configs() {
    int x = 0;
    int *p = &x;
    dim3 bad_blocks[] = {dim3(1025), dim3(32, 33), dim3(1, 1, 65), dim3(0), dim3(4, 0), dim3(512, 1, 4)};
    for (dim3 b : bad_blocks) {
        CHECK(LAUNCH(dim3(1), b, k_nop(p)) == cudaErrorInvalidConfiguration);
        CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
        CHECK(cudaGetLastError() == cudaSuccess); // reading clears it
    }
    dim3 bad_grids[] = {dim3(0), dim3(1, 0), dim3(1, 1, 0), dim3(1, 65536), dim3(1, 1, 65536)};
    for (dim3 g : bad_grids) {
        CHECK(LAUNCH(g, dim3(32), k_nop(p)) == cudaErrorInvalidConfiguration);
        CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    }
    CHECK(x == 0); // nothing ran
    CHECK(LAUNCH(dim3(1, 65535, 1), dim3(1), k_nop(p)) == cudaSuccess);
    CHECK(x == 1);
}

// Lanes of one warp waiting at different barriers: the emulator reports a launch failure
// (a GPU would hang or misbehave), and the next launch works.
static __global__ void k_deadlock(int *p) {
    if (threadIdx.x == 0)
        __syncwarp();
    else
        __syncthreads();
    p[threadIdx.x] = 1;
}

static void test_deadlock_reported() {
    std::vector<int> v(64, 0);
    int *p = v.data();
    std::fprintf(stderr, "(a deadlock message is expected next)\n");
    CHECK(LAUNCH(dim3(3), dim3(64), k_deadlock(p)) == cudaErrorLaunchFailure);
    CHECK(cudaGetLastError() == cudaErrorLaunchFailure);
    std::vector<float> x(256, 1.0f), out(1);
    const float *xp = x.data();
    float *op = out.data();
    CHECK(LAUNCH(dim3(1), dim3(256), k_block_sum(xp, op, 256)) == cudaSuccess);
    CHECK(out[0] == 256.0f);
}

static __global__ void k_axpy(int n, float a, const float *x, float *y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * __ldg(&x[i]) + y[i];
}

static void test_memory_events() {
    int n = 1000;
    std::vector<float> hx(n), hy(n), out(n);
    for (int i = 0; i < n; i++) {
        hx[i] = (float)i;
        hy[i] = (float)(2 * i);
    }
    float *dx = nullptr, *dy = nullptr;
    CHECK(cudaMalloc(&dx, n * sizeof(float)) == cudaSuccess);
    CHECK(cudaMalloc((void **)&dy, n * sizeof(float)) == cudaSuccess);
    CHECK(((uintptr_t)dx & 255) == 0);
    cudaStream_t s;
    cudaEvent_t e0, e1;
    CHECK(cudaStreamCreate(&s) == cudaSuccess);
    CHECK(cudaEventCreate(&e0) == cudaSuccess);
    CHECK(cudaEventCreate(&e1) == cudaSuccess);
    float ms = -1;
    CHECK(cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess); // not recorded yet
    cudaGetLastError();
    CHECK(cudaEventRecord(e0, s) == cudaSuccess);
    CHECK(cudaMemcpyAsync(dx, hx.data(), n * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
    CHECK(cudaMemcpy(dy, hy.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    CHECK(LAUNCH(dim3((n + 127) / 128), dim3(128), k_axpy(n, 3.0f, dx, dy)) == cudaSuccess);
    CHECK(cudaEventRecord(e1, s) == cudaSuccess);
    CHECK(cudaEventSynchronize(e1) == cudaSuccess);
    CHECK(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess);
    CHECK(ms >= 0.0f && ms < 10000.0f);
    CHECK(cudaMemcpy(out.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int i = 0; i < n; i++) CHECK(out[i] == 5.0f * i);
    CHECK(cudaMemsetAsync(dy, 0, n * sizeof(float), s) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(cudaMemcpy(out.data(), dy, n * sizeof(float), cudaMemcpyDefault) == cudaSuccess);
    for (int i = 0; i < n; i++) CHECK(out[i] == 0.0f);
    CHECK(cudaMemcpy(out.data(), nullptr, 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
    CHECK(cudaGetLastError() == cudaErrorInvalidValue);
    CHECK(cudaFree(dx) == cudaSuccess);
    CHECK(cudaFree(dy) == cudaSuccess);
    CHECK(cudaFree(nullptr) == cudaSuccess);
    CHECK(cudaEventDestroy(e0) == cudaSuccess);
    CHECK(cudaEventDestroy(e1) == cudaSuccess);
    CHECK(cudaStreamDestroy(s) == cudaSuccess);
    cudaDeviceProp prop;
    int cnt = 0;
    CHECK(cudaGetDeviceCount(&cnt) == cudaSuccess && cnt == 1);
    CHECK(cudaSetDevice(0) == cudaSuccess);
    CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
    cudaGetLastError();
    CHECK(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
    CHECK(prop.major == 9 && prop.warpSize == 32 && prop.maxThreadsPerBlock == 1024);
    CHECK(std::strcmp(cudaGetErrorString(cudaErrorInvalidConfiguration), "invalid configuration argument") == 0);
}

static void test_second_tu() {
    std::vector<int> v(300, 0);
    CHECK(emu_tu2_launch(v.data(), 300) == 0);
    for (int i = 0; i < 300; i++) CHECK(v[i] == i * 2 + 1);
}

// Cost figures (printed, not asserted): a barrier-free launch per thread, a barrier per thread.
static __global__ void k_barriers(float *out, int rounds) {
    __shared__ float s[256];
    float acc = 0;
    for (int r = 0; r < rounds; r++) {
        s[threadIdx.x] = (float)r;
        __syncthreads();
        acc += s[(threadIdx.x + 1) % blockDim.x];
        __syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

// CPU time of the process (the machines running the tests are shared: wall time lies).
static double cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void report_costs() {
    int n = 1 << 22;
    std::vector<float> x(n, 1.0f), y(n, 0.0f);
    float *xp = x.data(), *yp = y.data();
    double t0 = cpu_ns();
    LAUNCH(dim3(n / 256), dim3(256), k_axpy(n, 2.0f, xp, yp));
    double plain = (cpu_ns() - t0) / n;
    int rounds = 100, blocks = 64;
    t0 = cpu_ns();
    LAUNCH(dim3(blocks), dim3(256), k_barriers(yp, rounds));
    double bar = (cpu_ns() - t0) / ((double)blocks * 256 * rounds * 2);
    CHECK(y[0] == (float)(rounds * (rounds - 1) / 2));
    std::printf("emu costs (CPU time, %d OS threads): barrier-free kernel %.2f ns/thread; one thread "
                "through one __syncthreads %.2f ns\n",
                onnxc_emu::emu_threads(), plain, bar);
}

int main() {
    test_coverage();
    test_shared_reduction();
    test_barrier_orders2();
    test_shuffles();
    test_atomics();
    test_invalid_configs();
    test_deadlock_reported();
    test_memory_events();
    test_second_tu();
    report_costs();
    if (g_fail) {
        std::fprintf(stderr, "test_cuda_emu: %d check(s) failed\n", g_fail);
        return 1;
    }
    std::printf("test_cuda_emu: all checks passed\n");
    return 0;
}
