/* The schedule: what pass_schedule decides for every live node, and the target
 * description it decides from. Both backends read it; neither re-derives it.
 *
 * A node's schedule (node->sched, allocated from the graph arena) says what kind of
 * kernel the node is, which space it iterates, how that space is split across threads,
 * and, for contractions lowered through the register-tiled micro-kernel, the tile sizes
 * and the layout of a constant operand that the pass packed for it. Anything a backend
 * needs that is not here becomes a field here, not a second derivation in the backend. */
#ifndef ONNXC_IR_SCHED_H
#define ONNXC_IR_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- target */
typedef enum ir_target_kind {
    IR_TARGET_CPU = 0,
    IR_TARGET_GPU,          /* reserved for the CUDA backend: fill ir_target_t.gpu */
} ir_target_kind_t;

/* What the schedule needs to know about the machine, nothing more. */
typedef struct ir_target {
    ir_target_kind_t kind;
    const char *name;       /* for --dump-ir: "generic", "avx2", "avx512", ... (static storage) */
    int vec_bytes;          /* one vector register: 16, 32, 64 */
    int vec_lanes;          /* float32 lanes per vector: vec_bytes / 4 */
    int vec_regs;           /* architectural vector registers (16 for AVX2, 32 for AVX-512) */
    int64_t l1_bytes;       /* L1 data cache per core */
    int64_t l2_bytes;       /* L2 cache per core */
    int threads;            /* cores the kernels may use; 0 = unknown (decided at run time) */
    /* GPU only (kind == IR_TARGET_GPU); zero on a CPU. The CUDA backend's schedule reads
     * these (thread-block tiles from shared memory and registers per SM). */
    struct {
        int sms;                /* streaming multiprocessors */
        int warp;               /* threads per warp */
        int max_block_threads;
        int64_t smem_bytes;     /* shared memory per block */
        int regs_per_sm;
    } gpu;
} ir_target_t;

/* A portable CPU: 128-bit vectors, 16 registers, 32 KiB L1, 512 KiB L2, threads unknown. */
void ir_target_generic(ir_target_t *t);
/* A CPU with vectors of vector_bits (128, 256, 512); 0 sizes/threads keep the defaults
 * of ir_target_generic. 512-bit vectors imply AVX-512's 32 registers. */
void ir_target_cpu(ir_target_t *t, unsigned vector_bits, int64_t l1_bytes, int64_t l2_bytes, int threads);

/* ---------------------------------------------------------------- schedule */
/* Where a contraction reads B (the K x N operand) from. */
typedef enum ir_sched_bform {
    IR_SCHED_B_DIRECT = 0,  /* from memory as it lies (row-major, ldb = N) */
    IR_SCHED_B_PACKED,      /* a constant the schedule packed into panels (see ir_sched_pack_t) */
    IR_SCHED_B_IM2COL,      /* panels filled per K chunk at run time (convolutions) */
} ir_sched_bform_t;

/* A constant operand repacked for the micro-kernel: `packed` holds B as
 * [npanels][kdim][nr] float32, B(k, j) at ((j / nr) * kdim + k) * nr + j % nr, zero past
 * ndim; it replaced `src` as the node's input, and src is dropped from the weights when
 * nothing else reads it. */
typedef struct ir_sched_pack {
    ir_value_t *src;        /* the original constant ([K][N], or [N][K] when trans) */
    ir_value_t *packed;
    int nr;                 /* panel width (columns) */
    int64_t kdim, ndim;     /* logical K x N */
    int64_t npanels;        /* ceil(N / nr) */
    int64_t kblock;         /* rows per panel block: all of K (the kernel steps by kc inside) */
    bool trans;             /* src was [N][K] (Gemm transB) */
} ir_sched_pack_t;

/* The register-tiled contraction Y[i, j] = sum_k A(i, k) B(k, j) (+ epilogue), j the
 * unit-stride output axis. Tasks: the batch dims of the space x ngroups x mblocks. */
typedef struct ir_sched_tiles {
    int64_t m;              /* rows; -1 when symbolic */
    int64_t n, k;           /* columns and reduction length */
    int nb;                 /* leading batch dims of the space (each task is one batch element) */
    int vl;                 /* float32 lanes per vector */
    int mr;                 /* rows per micro-tile */
    int nr;                 /* columns per micro-tile (2 vectors) */
    int kc;                 /* K chunk kept hot across a column group */
    int nt;                 /* micro-tiles per column group */
    int64_t ngroups;        /* column groups */
    int64_t mblocks;        /* row blocks (> 1 only when batch x groups gives few tasks) */
    int64_t tpb;            /* MR tiles per row block */
    ir_sched_bform_t bform;
    ir_sched_pack_t pack;   /* bform == IR_SCHED_B_PACKED */
} ir_sched_tiles_t;

typedef struct ir_sched {
    ir_kclass_t cls;        /* the op table's kernel class (ir_op_class) */
    ir_shape_t space;       /* iteration space: the (first) output's shape */
    int par_axis;           /* axis of space split across threads: the first non-unit one;
                               -1 when nothing is worth splitting */
    bool tiled;             /* lowered through the register-tiled micro-kernel: tiles valid */
    ir_sched_tiles_t tiles;
} ir_sched_t;

/* One line (no newline) describing n->sched, for --dump-ir. */
void ir_sched_print(const ir_graph_t *g, const ir_node_t *n, void *file /* FILE* */);
/* One line describing the target. */
void ir_target_print(const ir_target_t *t, void *file /* FILE* */);

#ifdef __cplusplus
}
#endif
#endif
