/* Run context and its thread pool. Threads are created once per context; each
 * parallel_for hands out contiguous chunks through an atomic counter, the calling thread
 * works too, and the call returns only after every worker has left the job, so the job's
 * fields are never read after return. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "onnxc_rt.h"

/* More chunks than threads so that uneven chunks (or a thread the OS descheduled) do not
 * leave the others idle at the end. */
#define CHUNKS_PER_THREAD 4
#define MAX_THREADS 1024

/* Iterations a thread polls for a new job (or for the job's end) before sleeping on a
 * condition variable. Generated code calls parallel_for once per kernel, back to back, so
 * waking a sleeping thread (tens of microseconds) would dominate small kernels. Spinning
 * is off when there are more threads than cores, where it would steal the cores. */
#define SPIN_ITERS 4000

typedef struct pool {
    onnxc_ctx_t ctx;             /* first, so a ctx pointer is the pool pointer */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;      /* generation changed, or stop */
    pthread_cond_t done_cv;      /* pending reached 0 */
    pthread_t *threads;
    int n_workers;               /* n_threads - 1: the caller is the last worker */
    int spin;                    /* iterations to poll before sleeping */
    atomic_int stop;
    atomic_uint_fast64_t generation;  /* bumped (release) once the job fields are written */
    atomic_int pending;          /* workers that have not yet left the current job */
    /* the current job; stable from the generation bump until pending reaches 0 */
    onnxc_task_fn fn;
    void *arg;
    int64_t n, n_chunks;
    atomic_int_fast64_t next_chunk;
    /* Set while a parallel_for owns the pool; a nested call (from inside fn) or a second
     * thread sharing the context finds it set and runs inline instead of deadlocking. */
    atomic_int busy;
} pool_t;

/* A pause, with a yield now and then: when threads outnumber free cores (a loaded
 * machine), the thread we wait for may need this core to finish. */
static inline void cpu_relax_n(int k) {
    if ((k & 63) == 63) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int onnxc_usable_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
}

static void run_chunks(pool_t *p) {
    int64_t nc = p->n_chunks, base = p->n / nc, rem = p->n % nc;
    for (;;) {
        int64_t i = atomic_fetch_add_explicit(&p->next_chunk, 1, memory_order_relaxed);
        if (i >= nc) return;
        /* the first rem chunks get one extra iteration */
        int64_t begin = i * base + (i < rem ? i : rem);
        int64_t end = begin + base + (i < rem ? 1 : 0);
        p->fn(p->arg, begin, end);
    }
}

static void *worker_main(void *arg) {
    pool_t *p = arg;
    /* Not the current generation: a worker that starts late must still see the first
     * job. Workers are created before any job, when the generation is 0. */
    uint64_t seen = 0;
    for (;;) {
        for (int k = 0; k < p->spin; k++) {
            if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
                atomic_load_explicit(&p->stop, memory_order_relaxed))
                break;
            cpu_relax_n(k);
        }
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->work_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_chunks(p);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            /* under the mutex, so a caller that just found pending > 0 is already waiting */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void parallel_for_inline(onnxc_ctx_t *ctx, onnxc_task_fn fn, void *arg, int64_t n) {
    (void)ctx;
    if (n > 0) fn(arg, 0, n);
}

static void parallel_for_pool(onnxc_ctx_t *ctx, onnxc_task_fn fn, void *arg, int64_t n) {
    pool_t *p = (pool_t *)ctx;
    if (n <= 0) return;
    int expected = 0;
    if (n == 1 || p->n_workers == 0 ||
        !atomic_compare_exchange_strong(&p->busy, &expected, 1)) {
        fn(arg, 0, n);
        return;
    }
    int64_t want = (int64_t)(p->n_workers + 1) * CHUNKS_PER_THREAD;
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->n_chunks = n < want ? n : want;
    atomic_store_explicit(&p->next_chunk, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n_workers, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    /* Taking the mutex orders the bump before any sleeper's re-check: no lost wakeup. */
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    run_chunks(p);

    for (int k = 0; k < p->spin && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; k++)
        cpu_relax_n(k);
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}

static void stop_workers(pool_t *p, int started) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++) pthread_join(p->threads[i], NULL);
}

onnxc_ctx_t *onnxc_ctx_create(int n_threads) {
    if (n_threads <= 0) n_threads = onnxc_usable_cores();
    if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
    pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ctx.n_threads = n_threads;
    p->ctx.impl = p;
    p->n_workers = n_threads - 1;
    atomic_init(&p->next_chunk, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    p->spin = n_threads <= onnxc_usable_cores() ? SPIN_ITERS : 0;
    if (p->n_workers == 0) {
        p->ctx.parallel_for = parallel_for_inline;
        return &p->ctx;
    }
    p->ctx.parallel_for = parallel_for_pool;
    p->threads = calloc((size_t)p->n_workers, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 0; i < p->n_workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            stop_workers(p, i);
            pthread_cond_destroy(&p->done_cv);
            pthread_cond_destroy(&p->work_cv);
            pthread_mutex_destroy(&p->mu);
            free(p->threads);
            free(p);
            return NULL;
        }
    }
    return &p->ctx;
}

void onnxc_ctx_destroy(onnxc_ctx_t *ctx) {
    if (!ctx) return;
    pool_t *p = (pool_t *)ctx;
    if (p->n_workers > 0) {
        stop_workers(p, p->n_workers);
        pthread_cond_destroy(&p->done_cv);
        pthread_cond_destroy(&p->work_cv);
        pthread_mutex_destroy(&p->mu);
        free(p->threads);
    }
    free(p);
}
