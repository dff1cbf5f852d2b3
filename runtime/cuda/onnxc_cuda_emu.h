/* onnxc_cuda_emu.h: runs onnxc's generated CUDA C on the CPU (--target=cuda-emu).
 *
 * The generated .cu is compiled as C++17 by the host compiler with
 *   -DONNXC_CUDA_EMU -include onnxc_cuda_emu.h
 * This header supplies the CUDA built-ins that code uses, on host memory.
 *
 * Execution model. A launch (onnxc_emu_launch, behind ONNXC_LAUNCH) runs synchronously.
 * Blocks are spread over ONNXC_EMU_THREADS OS threads (default: the core count); one block
 * runs entirely on one OS thread, so `__shared__` is `static thread_local` and is per block.
 * The threads of a block are fibers on that OS thread, switched by a small context switch
 * of our own (x86-64 and aarch64; ucontext elsewhere). A fiber runs GPU threads one after
 * another on one stack until one of them waits at a barrier, so a kernel that never calls
 * __syncthreads/__syncwarp/shuffles runs its threads in a plain loop with two switches per
 * block; a barrier costs two switches per waiting thread. Fiber stacks are mmap'd with a
 * guard page, ONNXC_EMU_STACK_KB KiB each (default 64, 256 under ASan), pooled per OS
 * thread and reused across blocks and launches.
 *
 * What is modelled: thread/block indices, __syncthreads as a real barrier (threads that
 * have exited count as arrived, as on the hardware), warp shuffles/votes as warp-wide
 * exchanges that every live lane of the warp must reach (warps are 32 consecutive linear
 * thread ids), atomics (real atomics: blocks run in parallel), launch-configuration
 * checks. Not modelled: warp divergence and independent thread scheduling (lanes of a warp
 * run one after another between exchanges), the weak memory model (within a block every
 * write is visible at once), shared-memory size limits, timing. A barrier reached by some
 * threads while others wait at a different barrier is reported as a launch failure
 * (deadlock), not a hang.
 */
#ifndef ONNXC_CUDA_EMU_H
#define ONNXC_CUDA_EMU_H

#ifndef __cplusplus
#error "onnxc_cuda_emu.h is C++17"
#endif
#ifndef ONNXC_CUDA_EMU /* what the library and generated code test for */
#define ONNXC_CUDA_EMU 1
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#include <sys/mman.h>
#include <unistd.h>

#if defined(ONNXC_EMU_FORCE_UCONTEXT) /* for testing the fallback */
#define ONNXC_EMU_CTX_UCONTEXT 1
#include <ucontext.h>
#elif defined(__x86_64__) && defined(__ELF__)
#define ONNXC_EMU_CTX_X86_64 1
#elif defined(__aarch64__) && defined(__ELF__)
#define ONNXC_EMU_CTX_AARCH64 1
#else
#define ONNXC_EMU_CTX_UCONTEXT 1
#include <ucontext.h>
#endif

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define ONNXC_EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* ---- CUDA keywords ---- */
#define __global__
#define __device__
#define __host__
#define __constant__ static
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static thread_local

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};
static constexpr int warpSize = 32;

/* ---- runtime API types ---- */
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
struct onnxc_emu_stream { int unused; };
struct onnxc_emu_event { std::chrono::steady_clock::time_point t; bool recorded; };
typedef onnxc_emu_stream *cudaStream_t;
typedef onnxc_emu_event *cudaEvent_t;
#define cudaStreamDefault 0
#define cudaStreamNonBlocking 1
#define cudaEventDefault 0
#define cudaEventDisableTiming 2

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerBlockOptin, sharedMemPerMultiprocessor;
    int regsPerBlock, regsPerMultiprocessor, warpSize, maxThreadsPerBlock, maxThreadsDim[3],
        maxGridSize[3], clockRate, memoryClockRate, memoryBusWidth, multiProcessorCount,
        maxThreadsPerMultiProcessor, maxBlocksPerMultiProcessor, major, minor, l2CacheSize;
    size_t totalConstMem;
};

namespace onnxc_emu {

/* ---- per-OS-thread state ---- */
inline thread_local uint3 tls_thread_idx = {0, 0, 0};
inline thread_local uint3 tls_block_idx = {0, 0, 0};
inline thread_local dim3 tls_block_dim = dim3(1, 1, 1);
inline thread_local dim3 tls_grid_dim = dim3(1, 1, 1);
inline thread_local cudaError_t tls_last_error = cudaSuccess;

inline const uint3 &thread_idx() { return tls_thread_idx; }
inline const uint3 &block_idx() { return tls_block_idx; }
inline const dim3 &block_dim() { return tls_block_dim; }
inline const dim3 &grid_dim() { return tls_grid_dim; }

/* ---- context switch ----
 * switch_ctx(&from_sp, to_sp) saves the callee-saved registers (and the FP control words)
 * on the current stack, stores the stack pointer in *from_sp, loads to_sp and pops the
 * same frame from there. A new fiber's stack is prepared (init_stack) as if it had been
 * switched out just before calling its entry. The assembly is a weak symbol in a COMDAT
 * group so that several translation units may include this header. */
#if ONNXC_EMU_CTX_X86_64
extern "C" void onnxc_emu_switch_ctx(void **from_sp, void *to_sp);
__asm__(".pushsection .text.onnxc_emu_switch_ctx,\"axG\",@progbits,onnxc_emu_switch_ctx,comdat\n"
        ".weak onnxc_emu_switch_ctx\n"
        ".type onnxc_emu_switch_ctx,@function\n"
        ".p2align 4\n"
        "onnxc_emu_switch_ctx:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size onnxc_emu_switch_ctx, .-onnxc_emu_switch_ctx\n"
        ".popsection\n");
inline void switch_ctx(void **from, void *to) { onnxc_emu_switch_ctx(from, to); }
/* Frame: [mxcsr|fpucw][r15 r14 r13 r12 rbx rbp][ret = entry][fake return address 0]. */
inline void *init_stack(char *top, void (*entry)()) {
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)t;
    *--sp = 0;              /* entry sees rsp % 16 == 8, as after a call */
    *--sp = (uint64_t)(uintptr_t)entry;
    for (int i = 0; i < 6; i++) *--sp = 0;
    uint32_t mx;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    --sp;
    std::memcpy(sp, &mx, 4);
    std::memcpy((char *)sp + 4, &cw, 2);
    return sp;
}
#elif ONNXC_EMU_CTX_AARCH64
extern "C" void onnxc_emu_switch_ctx(void **from_sp, void *to_sp);
__asm__(".pushsection .text.onnxc_emu_switch_ctx,\"axG\",@progbits,onnxc_emu_switch_ctx,comdat\n"
        ".weak onnxc_emu_switch_ctx\n"
        ".type onnxc_emu_switch_ctx,%function\n"
        ".p2align 4\n"
        "onnxc_emu_switch_ctx:\n"
        "  sub sp, sp, #176\n"
        "  stp x19, x20, [sp, #0]\n  stp x21, x22, [sp, #16]\n  stp x23, x24, [sp, #32]\n"
        "  stp x25, x26, [sp, #48]\n  stp x27, x28, [sp, #64]\n  stp x29, x30, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  mrs x9, fpcr\n  str x9, [sp, #160]\n"
        "  mov x9, sp\n  str x9, [x0]\n  mov sp, x1\n"
        "  ldr x9, [sp, #160]\n  msr fpcr, x9\n"
        "  ldp x19, x20, [sp, #0]\n  ldp x21, x22, [sp, #16]\n  ldp x23, x24, [sp, #32]\n"
        "  ldp x25, x26, [sp, #48]\n  ldp x27, x28, [sp, #64]\n  ldp x29, x30, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  add sp, sp, #176\n"
        "  ret\n"
        ".size onnxc_emu_switch_ctx, .-onnxc_emu_switch_ctx\n"
        ".popsection\n");
inline void switch_ctx(void **from, void *to) { onnxc_emu_switch_ctx(from, to); }
inline void *init_stack(char *top, void (*entry)()) {
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(t - 176);
    std::memset(sp, 0, 176);
    sp[11] = (uint64_t)(uintptr_t)entry; /* x30: ret lands on entry with sp 16-aligned */
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    sp[20] = fpcr;
    return sp;
}
#endif

/* ---- fibers ---- */
struct fiber {
    void *sp = nullptr;
    char *map = nullptr;   /* mapping incl. guard page */
    size_t map_size = 0;
    char *lo = nullptr;    /* usable stack [lo, lo + size) */
    size_t size = 0;
    bool finished = false;
    void *asan_fake = nullptr;
#if ONNXC_EMU_CTX_UCONTEXT
    ucontext_t uc;
#endif
};

inline size_t stack_size() {
    static size_t s = [] {
#ifdef ONNXC_EMU_ASAN
        size_t kb = 256;
#else
        size_t kb = 64;
#endif
        if (const char *e = std::getenv("ONNXC_EMU_STACK_KB")) {
            long v = std::atol(e);
            if (v >= 16) kb = (size_t)v;
        }
        return kb * 1024;
    }();
    return s;
}

enum : uint8_t { T_NEW, T_RUN, T_WAIT_BLOCK, T_WAIT_WARP, T_DONE };
struct thr_state { uint8_t state, parity; uint32_t gen; fiber *fib; };
struct warp_state { uint32_t arrived, live, gen; uint64_t buf[2][32]; };

/* One per OS thread: the block being run and the fiber pool. */
struct block_ctx {
    void (*call)(const void *) = nullptr;
    const void *obj = nullptr;
    unsigned n = 0, bx = 1, by = 1;
    unsigned next_new = 0, live = 0, arrived = 0, gen = 0;
    unsigned cur = 0;
    fiber *cur_fiber = nullptr;
    bool deadlock = false;
    void *sched_sp = nullptr;
#if ONNXC_EMU_CTX_UCONTEXT
    ucontext_t sched_uc;
#endif
    const void *sched_stack_lo = nullptr;
    size_t sched_stack_size = 0;
    void *sched_fake = nullptr;
    thr_state thr[1024];
    warp_state warp[32];
    std::vector<fiber *> pool, all;
    ~block_ctx() {
        for (fiber *f : all) {
            munmap(f->map, f->map_size);
            delete f;
        }
    }
};
inline thread_local block_ctx *tls_ctx = nullptr;

inline block_ctx *get_ctx() {
    static thread_local block_ctx ctx;
    return &ctx;
}

inline fiber *fiber_get(block_ctx *c) {
    if (!c->pool.empty()) {
        fiber *f = c->pool.back();
        c->pool.pop_back();
        return f;
    }
    fiber *f = new fiber;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    f->size = (stack_size() + page - 1) / page * page;
    f->map_size = f->size + page;
    void *m = mmap(nullptr, f->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        std::fprintf(stderr, "onnxc_cuda_emu: cannot map a %zu-byte fiber stack\n", f->map_size);
        std::abort();
    }
    mprotect(m, page, PROT_NONE); /* guard page below the stack */
    f->map = (char *)m;
    f->lo = f->map + page;
    c->all.push_back(f);
    return f;
}

/* Switch from the scheduler to fiber f, and back when f yields or ends. */
inline void sched_resume(block_ctx *c, fiber *f) {
    c->cur_fiber = f;
#ifdef ONNXC_EMU_ASAN
    __sanitizer_start_switch_fiber(&c->sched_fake, f->lo, f->size);
#endif
#if ONNXC_EMU_CTX_UCONTEXT
    swapcontext(&c->sched_uc, &f->uc);
#else
    switch_ctx(&c->sched_sp, f->sp);
#endif
#ifdef ONNXC_EMU_ASAN
    __sanitizer_finish_switch_fiber(c->sched_fake, nullptr, nullptr);
#endif
}

/* From the running fiber back to the scheduler; `final` when the fiber will not resume. */
inline void fiber_yield(block_ctx *c, bool final) {
    fiber *f = c->cur_fiber;
#ifdef ONNXC_EMU_ASAN
    __sanitizer_start_switch_fiber(final ? nullptr : &f->asan_fake, c->sched_stack_lo, c->sched_stack_size);
#else
    (void)final;
#endif
#if ONNXC_EMU_CTX_UCONTEXT
    swapcontext(&f->uc, &c->sched_uc);
#else
    switch_ctx(&f->sp, c->sched_sp);
#endif
#ifdef ONNXC_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake, nullptr, nullptr);
#endif
}

inline void set_thread_idx(block_ctx *c, unsigned i) {
    c->cur = i;
    tls_thread_idx.x = i % c->bx;
    tls_thread_idx.y = (i / c->bx) % c->by;
    tls_thread_idx.z = i / (c->bx * c->by);
}

inline void thread_exit(block_ctx *c, unsigned i) {
    c->thr[i].state = T_DONE;
    c->live--;
    if (c->arrived > 0 && c->arrived == c->live) {
        c->arrived = 0;
        c->gen++;
    }
    warp_state &w = c->warp[i >> 5];
    w.live--;
    if (w.arrived > 0 && w.arrived == w.live) {
        w.arrived = 0;
        w.gen++;
    }
}

/* A fiber runs not-yet-started GPU threads one after another until one of them waits. */
inline void fiber_main() {
    block_ctx *c = tls_ctx;
#ifdef ONNXC_EMU_ASAN
    {
        const void *lo;
        size_t sz;
        __sanitizer_finish_switch_fiber(nullptr, &lo, &sz);
        c->sched_stack_lo = lo;
        c->sched_stack_size = sz;
    }
#endif
    fiber *f = c->cur_fiber;
    while (c->next_new < c->n) {
        unsigned i = c->next_new++;
        set_thread_idx(c, i);
        c->thr[i].state = T_RUN;
        c->thr[i].parity = 0;
        c->thr[i].fib = f;
        c->call(c->obj);
        thread_exit(c, c->cur); /* c->cur: the thread this fiber ran last */
    }
    f->finished = true;
    fiber_yield(c, true);
    std::abort(); /* a finished fiber is never resumed */
}

inline void fiber_start(block_ctx *c, fiber *f) {
    f->finished = false;
    f->asan_fake = nullptr;
#ifdef ONNXC_EMU_ASAN
    __asan_unpoison_memory_region(f->lo, f->size); /* an abandoned fiber's frames */
#endif
#if ONNXC_EMU_CTX_UCONTEXT
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->lo;
    f->uc.uc_stack.ss_size = f->size;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, (void (*)())fiber_main, 0);
#else
    f->sp = init_stack(f->lo + f->size, fiber_main);
#endif
    sched_resume(c, f);
}

/* Runs the block whose indices are already in tls_block_idx/tls_block_dim. */
inline bool run_block(block_ctx *c) {
    c->n = c->bx * c->by * tls_block_dim.z;
    c->next_new = 0;
    c->live = c->n;
    c->arrived = 0;
    c->gen = 0;
    c->deadlock = false;
    unsigned nw = (c->n + 31) / 32;
    for (unsigned w = 0; w < nw; w++) {
        c->warp[w].arrived = 0;
        c->warp[w].gen = 0;
        c->warp[w].live = std::min(32u, c->n - w * 32);
    }
    tls_ctx = c;
    while (c->next_new < c->n) {
        fiber *f = fiber_get(c);
        fiber_start(c, f);
        if (c->cur_fiber->finished) c->pool.push_back(c->cur_fiber);
    }
    while (c->live > 0) {
        bool progress = false;
        for (unsigned i = 0; i < c->n; i++) {
            thr_state &t = c->thr[i];
            bool go = (t.state == T_WAIT_BLOCK && t.gen != c->gen) ||
                      (t.state == T_WAIT_WARP && t.gen != c->warp[i >> 5].gen);
            if (!go) continue;
            progress = true;
            t.state = T_RUN;
            set_thread_idx(c, i);
            sched_resume(c, t.fib);
            if (c->cur_fiber->finished) c->pool.push_back(c->cur_fiber);
        }
        if (!progress) {
            for (unsigned i = 0; i < c->n; i++)
                if (c->thr[i].state == T_WAIT_BLOCK || c->thr[i].state == T_WAIT_WARP) {
                    c->pool.push_back(c->thr[i].fib); /* abandoned; reinitialised on reuse */
                    c->thr[i].state = T_DONE;
                }
            c->deadlock = true;
            break;
        }
    }
    tls_ctx = nullptr;
    return !c->deadlock;
}

/* Called by a thread that must wait; returns when it may go on. */
inline void wait_here(block_ctx *c, uint8_t state, uint32_t gen) {
    thr_state &t = c->thr[c->cur];
    t.state = state;
    t.gen = gen;
    t.fib = c->cur_fiber;
    fiber_yield(c, false); /* the scheduler restores c->cur and threadIdx before resuming */
}

inline void syncthreads() {
    block_ctx *c = tls_ctx;
    if (!c) return;
    if (++c->arrived == c->live) {
        c->arrived = 0;
        c->gen++;
        return;
    }
    wait_here(c, T_WAIT_BLOCK, c->gen);
}

/* Every live lane of the caller's warp writes `v`; returns after all have, with the
 * buffer holding every lane's value (valid until the warp's next exchange). */
inline const uint64_t *warp_exchange(uint64_t v, unsigned *lane) {
    block_ctx *c = tls_ctx;
    static thread_local uint64_t solo[32];
    if (!c) {
        *lane = 0;
        solo[0] = v;
        return solo;
    }
    unsigned i = c->cur;
    warp_state &w = c->warp[i >> 5];
    thr_state &t = c->thr[i];
    uint64_t *buf = w.buf[t.parity];
    t.parity ^= 1;
    *lane = i & 31;
    buf[i & 31] = v;
    if (++w.arrived == w.live) {
        w.arrived = 0;
        w.gen++;
    } else {
        wait_here(c, T_WAIT_WARP, w.gen);
    }
    return buf;
}
inline unsigned warp_lanes() { /* lanes in the caller's warp (the last one may be short) */
    block_ctx *c = tls_ctx;
    if (!c) return 1;
    unsigned base = c->cur & ~31u;
    return std::min(32u, c->n - base);
}

template <class T> inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T> inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
/* src lane (within the warp) or -1 for "keep own value" */
template <class T> inline T shfl(T v, int (*src)(unsigned lane, int arg, int width), int arg, int width) {
    unsigned lane;
    const uint64_t *buf = warp_exchange(to_bits(v), &lane);
    int s = src(lane, arg, width);
    if (s < 0 || (unsigned)s >= warp_lanes()) return v;
    return from_bits<T>(buf[s]);
}
inline int src_idx(unsigned lane, int a, int w) { return (int)(lane / w * w) + (a % w + w) % w; }
inline int src_down(unsigned lane, int a, int w) { return (int)(lane % w) + a >= w ? -1 : (int)lane + a; }
inline int src_up(unsigned lane, int a, int w) { return (int)(lane % w) - a < 0 ? -1 : (int)lane - a; }
inline int src_xor(unsigned lane, int a, int w) {
    int s = (int)lane ^ a;
    return s / w != (int)lane / w ? -1 : s;
}

/* ---- launches ---- */
inline int emu_threads() {
    static int n = [] {
        int v = (int)std::thread::hardware_concurrency();
        if (const char *e = std::getenv("ONNXC_EMU_THREADS")) v = std::atoi(e);
        return std::max(1, std::min(v, 256));
    }();
    return n;
}

struct launch_job {
    void (*call)(const void *);
    const void *obj;
    dim3 grid, block;
    uint64_t total;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
};

inline void run_blocks(launch_job *j) {
    block_ctx *c = get_ctx();
    c->call = j->call;
    c->obj = j->obj;
    c->bx = j->block.x;
    c->by = j->block.y;
    tls_block_dim = j->block;
    tls_grid_dim = j->grid;
    uint64_t gxy = (uint64_t)j->grid.x * j->grid.y;
    for (;;) {
        uint64_t b0 = j->next.fetch_add(16, std::memory_order_relaxed);
        if (b0 >= j->total) break;
        uint64_t b1 = std::min(j->total, b0 + 16);
        for (uint64_t b = b0; b < b1; b++) {
            tls_block_idx.x = (unsigned)(b % j->grid.x);
            tls_block_idx.y = (unsigned)(b / j->grid.x % j->grid.y);
            tls_block_idx.z = (unsigned)(b / gxy);
            if (!run_block(c) && !j->failed.exchange(true))
                std::fprintf(stderr,
                             "onnxc_cuda_emu: block (%u,%u,%u): threads wait at different barriers "
                             "(deadlock)\n",
                             tls_block_idx.x, tls_block_idx.y, tls_block_idx.z);
        }
    }
    tls_thread_idx = uint3{0, 0, 0};
    tls_block_idx = uint3{0, 0, 0};
}

/* Worker OS threads, created on the first parallel launch and kept. */
struct worker_pool {
    std::mutex m;
    std::condition_variable cv, done_cv;
    launch_job *job = nullptr;
    uint64_t epoch = 0;
    int busy = 0;
    std::vector<std::thread> th;
    explicit worker_pool(int n) {
        for (int i = 0; i < n; i++)
            th.emplace_back([this] {
                uint64_t seen = 0;
                for (;;) {
                    launch_job *j;
                    {
                        std::unique_lock<std::mutex> l(m);
                        cv.wait(l, [&] { return epoch != seen; });
                        seen = epoch;
                        j = job;
                    }
                    run_blocks(j);
                    std::lock_guard<std::mutex> l(m);
                    if (--busy == 0) done_cv.notify_all();
                }
            });
        for (auto &t : th) t.detach();
    }
    void run(launch_job *j) {
        {
            std::lock_guard<std::mutex> l(m);
            job = j;
            busy = (int)th.size();
            epoch++;
        }
        cv.notify_all();
        run_blocks(j);
        std::unique_lock<std::mutex> l(m);
        done_cv.wait(l, [&] { return busy == 0; });
    }
};
inline std::mutex launch_mutex; /* one parallel launch at a time */

inline cudaError_t launch(dim3 grid, dim3 block, void (*call)(const void *), const void *obj) {
    uint64_t nthr = (uint64_t)block.x * block.y * block.z;
    if (block.x == 0 || block.y == 0 || block.z == 0 || nthr > 1024 || block.z > 64 || grid.x == 0 ||
        grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
        return tls_last_error = cudaErrorInvalidConfiguration;
    launch_job j;
    j.call = call;
    j.obj = obj;
    j.grid = grid;
    j.block = block;
    j.total = (uint64_t)grid.x * grid.y * grid.z;
    if (tls_ctx) { /* a launch from inside a kernel: not supported */
        return tls_last_error = cudaErrorLaunchFailure;
    }
    int nt = emu_threads();
    if (nt <= 1 || j.total < 2) {
        run_blocks(&j);
    } else {
        static worker_pool *pool = new worker_pool(nt - 1); /* lives until exit */
        std::lock_guard<std::mutex> l(launch_mutex);
        pool->run(&j);
    }
    if (j.failed.load()) return tls_last_error = cudaErrorLaunchFailure;
    return cudaSuccess;
}

template <class F> inline void call_thunk(const void *p) { (*(const F *)p)(); }

} // namespace onnxc_emu

#define threadIdx (::onnxc_emu::thread_idx())
#define blockIdx (::onnxc_emu::block_idx())
#define blockDim (::onnxc_emu::block_dim())
#define gridDim (::onnxc_emu::grid_dim())

/* Runs f() once per thread of every block; returns the launch status (also kept for
 * cudaGetLastError). */
template <class F> inline cudaError_t onnxc_emu_launch(dim3 grid, dim3 block, const F &f) {
    return onnxc_emu::launch(grid, block, &onnxc_emu::call_thunk<F>, &f);
}

/* ---- device built-ins ---- */
inline void __syncthreads() { onnxc_emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    (void)mask;
    unsigned lane;
    (void)onnxc_emu::warp_exchange(0, &lane);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }

template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    (void)mask;
    return onnxc_emu::shfl(v, onnxc_emu::src_idx, src, width);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    return onnxc_emu::shfl(v, onnxc_emu::src_down, (int)delta, width);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    return onnxc_emu::shfl(v, onnxc_emu::src_up, (int)delta, width);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    (void)mask;
    return onnxc_emu::shfl(v, onnxc_emu::src_xor, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
    unsigned lane;
    const uint64_t *b = onnxc_emu::warp_exchange(pred != 0, &lane);
    unsigned r = 0, n = onnxc_emu::warp_lanes();
    for (unsigned l = 0; l < n; l++) r |= (unsigned)(b[l] != 0) << l;
    return r & mask;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
    unsigned n = onnxc_emu::warp_lanes();
    unsigned full = n >= 32 ? 0xffffffffu : (1u << n) - 1;
    return __ballot_sync(mask, pred) == (mask & full);
}
inline unsigned __activemask() {
    unsigned n = onnxc_emu::warp_lanes();
    return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

/* Atomics: real atomics, since blocks run on several OS threads. */
#define ONNXC_EMU_ATOMIC_INT(T)                                                                      \
    inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }             \
    inline T atomicSub(T *p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }             \
    inline T atomicAnd(T *p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }             \
    inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }               \
    inline T atomicXor(T *p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }             \
    inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }           \
    inline T atomicCAS(T *p, T cmp, T v) {                                                           \
        __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);          \
        return cmp;                                                                                  \
    }                                                                                                \
    inline T atomicMax(T *p, T v) {                                                                  \
        T o = __atomic_load_n(p, __ATOMIC_RELAXED);                                                  \
        while (o < v && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) \
            ;                                                                                        \
        return o;                                                                                    \
    }                                                                                                \
    inline T atomicMin(T *p, T v) {                                                                  \
        T o = __atomic_load_n(p, __ATOMIC_RELAXED);                                                  \
        while (o > v && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) \
            ;                                                                                        \
        return o;                                                                                    \
    }
ONNXC_EMU_ATOMIC_INT(int)
ONNXC_EMU_ATOMIC_INT(unsigned)
ONNXC_EMU_ATOMIC_INT(long long)
ONNXC_EMU_ATOMIC_INT(unsigned long long)
#undef ONNXC_EMU_ATOMIC_INT

namespace onnxc_emu {
template <class F, class U, class Op> inline F atomic_fp(F *p, F v, Op op) {
    static_assert(sizeof(F) == sizeof(U), "");
    U o = __atomic_load_n((U *)p, __ATOMIC_RELAXED), n;
    F of;
    do {
        std::memcpy(&of, &o, sizeof(F));
        F nf = op(of, v);
        std::memcpy(&n, &nf, sizeof(F));
    } while (!__atomic_compare_exchange_n((U *)p, &o, n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return of;
}
} // namespace onnxc_emu
inline float atomicAdd(float *p, float v) {
    return onnxc_emu::atomic_fp<float, uint32_t>(p, v, [](float a, float b) { return a + b; });
}
inline double atomicAdd(double *p, double v) {
    return onnxc_emu::atomic_fp<double, uint64_t>(p, v, [](double a, double b) { return a + b; });
}
inline float atomicMax(float *p, float v) { /* not a CUDA built-in; handy, NaN-ignoring like fmaxf */
    return onnxc_emu::atomic_fp<float, uint32_t>(p, v, [](float a, float b) { return std::fmax(a, b); });
}
inline float atomicMin(float *p, float v) {
    return onnxc_emu::atomic_fp<float, uint32_t>(p, v, [](float a, float b) { return std::fmin(a, b); });
}
inline float atomicExch(float *p, float v) {
    uint32_t b, o;
    std::memcpy(&b, &v, 4);
    o = __atomic_exchange_n((uint32_t *)p, b, __ATOMIC_RELAXED);
    float r;
    std::memcpy(&r, &o, 4);
    return r;
}

template <class T> inline T __ldg(const T *p) { return *p; }

/* Device math: CUDA's overloaded min/max and the fast intrinsics. */
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
/* fminf, expf, ... are <cmath>'s global C functions. */
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float v) { int i; std::memcpy(&i, &v, 4); return i; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float v) { unsigned i; std::memcpy(&i, &v, 4); return i; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
inline int __clzll(long long v) { return v == 0 ? 64 : __builtin_clzll((unsigned long long)v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }

/* ---- runtime API on host memory ---- */
inline cudaError_t cudaGetLastError() {
    cudaError_t e = onnxc_emu::tls_last_error;
    onnxc_emu::tls_last_error = cudaSuccess;
    return e;
}
inline cudaError_t cudaPeekAtLastError() { return onnxc_emu::tls_last_error; }
inline const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}
inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}
namespace onnxc_emu {
inline cudaError_t fail(cudaError_t e) { return tls_last_error = e; }
}
inline cudaError_t cudaMalloc(void **p, size_t n) {
    if (!p) return onnxc_emu::fail(cudaErrorInvalidValue);
    *p = nullptr;
    if (n == 0) return cudaSuccess;
    *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
    return *p ? cudaSuccess : onnxc_emu::fail(cudaErrorMemoryAllocation);
}
template <class T> inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
inline cudaError_t cudaFree(void *p) {
    std::free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void **p, size_t n) { return cudaMalloc(p, n); }
template <class T> inline cudaError_t cudaMallocHost(T **p, size_t n) { return cudaMalloc((void **)p, n); }
inline cudaError_t cudaFreeHost(void *p) { return cudaFree(p); }
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k) {
    if ((unsigned)k > 4u) return onnxc_emu::fail(cudaErrorInvalidMemcpyDirection);
    if (n == 0) return cudaSuccess;
    if (!dst || !src) return onnxc_emu::fail(cudaErrorInvalidValue);
    std::memmove(dst, src, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t = 0) {
    return cudaMemcpy(dst, src, n, k);
}
inline cudaError_t cudaMemset(void *p, int v, size_t n) {
    if (n == 0) return cudaSuccess;
    if (!p) return onnxc_emu::fail(cudaErrorInvalidValue);
    std::memset(p, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t = 0) { return cudaMemset(p, v, n); }
inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
    if (!s) return onnxc_emu::fail(cudaErrorInvalidValue);
    *s = new onnxc_emu_stream();
    return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { return cudaStreamCreate(s); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    delete s;
    return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t *e) {
    if (!e) return onnxc_emu::fail(cudaErrorInvalidValue);
    *e = new onnxc_emu_event();
    (*e)->recorded = false;
    return cudaSuccess;
}
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = 0) {
    if (!e) return onnxc_emu::fail(cudaErrorInvalidResourceHandle);
    e->t = std::chrono::steady_clock::now(); /* launches are synchronous */
    e->recorded = true;
    return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    return e ? cudaSuccess : onnxc_emu::fail(cudaErrorInvalidResourceHandle);
}
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    if (!ms || !a || !b) return onnxc_emu::fail(cudaErrorInvalidValue);
    if (!a->recorded || !b->recorded) return onnxc_emu::fail(cudaErrorInvalidResourceHandle);
    *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
    return cudaSuccess;
}
inline cudaError_t cudaGetDeviceCount(int *n) {
    if (!n) return onnxc_emu::fail(cudaErrorInvalidValue);
    *n = 1;
    return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : onnxc_emu::fail(cudaErrorInvalidDevice); }
inline cudaError_t cudaGetDevice(int *d) {
    if (!d) return onnxc_emu::fail(cudaErrorInvalidValue);
    *d = 0;
    return cudaSuccess;
}
/* An H100 SXM's figures, so host code that sizes grids from them behaves as on one. */
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (!p) return onnxc_emu::fail(cudaErrorInvalidValue);
    if (d != 0) return onnxc_emu::fail(cudaErrorInvalidDevice);
    std::memset(p, 0, sizeof *p);
    std::snprintf(p->name, sizeof p->name, "onnxc CUDA emulator (sm_90 figures)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->sharedMemPerBlock = 48 << 10;
    p->sharedMemPerBlockOptin = 227 << 10;
    p->sharedMemPerMultiprocessor = 228 << 10;
    p->regsPerBlock = 65536;
    p->regsPerMultiprocessor = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = 1024;
    p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = 65535;
    p->maxGridSize[2] = 65535;
    p->clockRate = 1980000;
    p->memoryClockRate = 2619000;
    p->memoryBusWidth = 5120;
    p->multiProcessorCount = 132;
    p->maxThreadsPerMultiProcessor = 2048;
    p->maxBlocksPerMultiProcessor = 32;
    p->major = 9;
    p->minor = 0;
    p->l2CacheSize = 50 << 20;
    p->totalConstMem = 64 << 10;
    return cudaSuccess;
}

#endif /* ONNXC_CUDA_EMU_H */
