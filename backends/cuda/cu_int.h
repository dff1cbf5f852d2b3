/* Private to backends/cuda: the generator's state and the helpers every kernel file uses.
 *
 * A kernel is written in three steps: cu_kbegin, then its body printed into c->body with
 * cu_p(c, v) naming each tensor it touches (p0, p1, ... in the order first used), then
 * cu_kend_* which prints the __global__ with those parameters into c->kern and its launch
 * into c->run (the body of NAME_cuda_run). Shapes are static here (the driver refuses
 * symbolic ones), so every size and stride is a literal in the source. */
#ifndef ONNXC_CU_INT_H
#define ONNXC_CU_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/common/outcode_int.h"
#include "backends/cuda/cuda_backend.h"
#include "ir/ir.h"

#define CU_MAX_PARAMS 64
#define CU_BLOCK 256          /* threads per block of the element-wise kernels */
#define CU_MAX_BLOCKS 65535   /* grid-stride beyond this (any GPU keeps that many busy) */

typedef struct cu {
    ir_graph_t *g;
    const cuda_backend_opts_t *o;
    const char *N;
    out_sbuf_t kern;          /* the kernels */
    out_sbuf_t run;           /* statements of NAME_cuda_run */
    out_sbuf_t body;          /* the kernel being written */
    const ir_node_t *node;
    int nk;                   /* kernels written */
    int nv;                   /* temporaries of the current body (v0, v1, ...) */
    const ir_value_t *pv[CU_MAX_PARAMS];
    bool pw[CU_MAX_PARAMS];   /* written by the kernel */
    int npv;
    int nlib;                 /* library launches written */
    char **epi_text;          /* epilogue structs written (their text after the name), */
    int *epi_k;               /* and their numbers: an identical one is reused */
    int n_epi;
} cu_t;

typedef int (*cu_lower_fn)(cu_t *c, const ir_node_t *n);

/* cu_gen.c */
int cu_error(cu_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cu_ctype(ir_dtype_t t);       /* storage type in C; NULL when not supported */
const char *cu_comptype(ir_dtype_t t);    /* compute type: bool for IR_BOOL, else cu_ctype */
int cu_p(cu_t *c, const ir_value_t *v);   /* the parameter index of v in the current kernel */
int cu_pw(cu_t *c, const ir_value_t *v);  /* the same for a tensor the kernel writes */
void cu_kbegin(cu_t *c);
/* Wraps the body in a grid-stride loop over i in [0, n) and writes kernel and launch. */
int cu_kend_elems(cu_t *c, int64_t n);
/* The body as it is, launched on grid x block threads (one block per row and so on). */
int cu_kend_grid(cu_t *c, int64_t grid, int block);
/* The body (an epilogue computing `var` from `acc` at output index i, coordinates c*) as a
 * functor struct kK_epi for a library launcher; appends "kK_epi{addresses...}" to ctor. */
int cu_kend_epi(cu_t *c, const char *var, out_sbuf_t *ctor);
/* The launch-time address of v ((const) T *), as the launches write them. */
void cu_addr(out_sbuf_t *b, const ir_value_t *v, bool w);
/* "int64_t c0 = ..., c1 = ...;" : the coordinates of flat index `i` in shape s. */
void cu_coords(cu_t *c, const ir_shape_t *s, const char *i, const char *cn);
/* Appends the offset of v read broadcast against a rank-r index space with coordinates
 * cn0..cn{r-1} (numpy rules: v's dims align to the right, size-1 dims read index 0). */
void cu_bcast_off(cu_t *c, out_sbuf_t *b, const ir_value_t *v, int r, const ir_shape_t *space, const char *cn);
/* A literal of type t with value x. */
void cu_num(out_sbuf_t *b, ir_dtype_t t, double x);
int64_t cu_numel(const ir_value_t *v);

/* cu_map.c: recipes printed as C, fused post-ops, element-wise kernels */
/* Prints statements applying n's post-ops to variable `x` (type of n->out[0]) for the
 * element at coordinates cn* of out[0]; returns the final variable's name in var[32]. */
int cu_post(cu_t *c, const ir_node_t *n, const char *x, const char *cn, char *var);
/* The epilogue functor "struct kK_epi" for library calls: operator()(int64_t i, float acc)
 * applies n's post-ops. Printed into c->kern; its name goes to name[64], the expression
 * that constructs it (from the current kernel's launch arguments) to ctor[...]. */
int cu_lower_map(cu_t *c, const ir_node_t *n);
int cu_lower_cast(cu_t *c, const ir_node_t *n);
int cu_lower_pow(cu_t *c, const ir_node_t *n);
int cu_lower_mean(cu_t *c, const ir_node_t *n);
int cu_lower_mod(cu_t *c, const ir_node_t *n);
int cu_lower_dropout(cu_t *c, const ir_node_t *n);

/* cu_kernels.c: copies and the one-thread-per-output kernels */
int cu_lower_copy(cu_t *c, const ir_node_t *n);
int cu_lower_transpose(cu_t *c, const ir_node_t *n);
int cu_lower_concat(cu_t *c, const ir_node_t *n);
int cu_lower_split(cu_t *c, const ir_node_t *n);
int cu_lower_slice(cu_t *c, const ir_node_t *n);
int cu_lower_gather(cu_t *c, const ir_node_t *n);
int cu_lower_expand(cu_t *c, const ir_node_t *n);
int cu_lower_tile(cu_t *c, const ir_node_t *n);
int cu_lower_pad(cu_t *c, const ir_node_t *n);
int cu_lower_matmul(cu_t *c, const ir_node_t *n);
int cu_lower_gemm(cu_t *c, const ir_node_t *n);
int cu_lower_conv(cu_t *c, const ir_node_t *n);
int cu_lower_pool(cu_t *c, const ir_node_t *n);
int cu_lower_reduce(cu_t *c, const ir_node_t *n);
/* red[d] for the axes a reduction node reduces (attribute or constant input); -1 on error */
int cu_reduce_axes(cu_t *c, const ir_node_t *n, bool *red);
int cu_lower_softmax(cu_t *c, const ir_node_t *n);
int cu_lower_layer_norm(cu_t *c, const ir_node_t *n);

/* cu_lib.c: the same ops through the kernel library (backends/cuda/lib) where it takes
 * the shape and dtype; otherwise the one-thread-per-output kernels above */
int cu_lib_matmul(cu_t *c, const ir_node_t *n);
int cu_lib_gemm(cu_t *c, const ir_node_t *n);
int cu_lib_conv(cu_t *c, const ir_node_t *n);
int cu_lib_pool(cu_t *c, const ir_node_t *n);
int cu_lib_reduce(cu_t *c, const ir_node_t *n);
int cu_lib_softmax(cu_t *c, const ir_node_t *n);
int cu_lib_layer_norm(cu_t *c, const ir_node_t *n);

/* The library's tile configuration for an M x N x K GEMM (0 large, 1 medium, 2 small) */
int cu_gemm_cfg(int64_t M, int64_t N, int64_t K);

cu_lower_fn cu_lowering(ir_op_t op);

/* cu_build.c: running nvcc / the host C++ compiler */
int cu_build(const cuda_backend_opts_t *o, const char *cu_text, size_t cu_len, const char *h_text, char *err, size_t n);

#endif
