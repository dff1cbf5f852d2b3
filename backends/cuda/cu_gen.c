/* The CUDA code generator: NAME.cu from a scheduled graph.
 *
 * Layout of the .cu (self-contained: it compiles with nothing beside it):
 *   NAME.h's text (the ABI, the descriptor declarations, the CUDA entry points)
 *   a prelude (includes, the launch macro when the kernel library does not define it)
 *   the kernel library's headers (backends/cuda/lib/ *.cuh, embedded at build time)
 *   one __global__ per kernel of the schedule, in execution order
 *   the weights (a byte array, or nothing with --weights=file)
 *   the host entry: NAME_cuda_init/run/run_host/release/workspace_size, then the CPU
 *   ABI's NAME_run and descriptor (so runtime/main.c drives it like a CPU model).
 *
 * Every tensor a kernel touches is a parameter; a launch computes its address from the
 * memory plan (inputs/outputs from the caller's arrays, constants at their blob offset in
 * the device copy of the weights, intermediates at their offset in the workspace). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/outcode.h"
#include "backends/cuda/cu_int.h"
#include "ir/sched.h"
#include "runtime/onnxc_abi.h"

extern const char cu_lib_text[];   /* the kernel library headers, embedded (cu_lib_text.c) */

int cu_error(cu_t *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ir_error(c->g, c->node, "%s", msg);
}

const char *cu_ctype(ir_dtype_t t) {
    switch (t) {
    case IR_F32: return "float";
    case IR_F64: return "double";
    case IR_I8: return "int8_t";
    case IR_U8: return "uint8_t";
    case IR_I16: return "int16_t";
    case IR_U16: return "uint16_t";
    case IR_I32: return "int32_t";
    case IR_U32: return "uint32_t";
    case IR_I64: return "int64_t";
    case IR_U64: return "uint64_t";
    case IR_BOOL: return "uint8_t";
    default: return NULL;
    }
}

const char *cu_comptype(ir_dtype_t t) { return t == IR_BOOL ? "bool" : cu_ctype(t); }

int64_t cu_numel(const ir_value_t *v) { return ir_shape_numel(&v->shape); }

static int add_param(cu_t *c, const ir_value_t *v, bool w) {
    for (int i = 0; i < c->npv; i++)
        if (c->pv[i] == v) {
            c->pw[i] |= w;
            return i;
        }
    if (c->npv == CU_MAX_PARAMS) {
        cu_error(c, "more than %d tensors in one kernel", CU_MAX_PARAMS);
        return 0;
    }
    c->pv[c->npv] = v;
    c->pw[c->npv] = w;
    return c->npv++;
}
int cu_p(cu_t *c, const ir_value_t *v) { return add_param(c, v, false); }
int cu_pw(cu_t *c, const ir_value_t *v) { return add_param(c, v, true); }

void cu_kbegin(cu_t *c) {
    c->npv = 0;
    c->nv = 0;
    c->body.len = 0;
    if (c->body.p) c->body.p[0] = 0;
}

void cu_num(out_sbuf_t *b, ir_dtype_t t, double x) {
    if (ir_dtype_is_float(t)) {
        const char *ct = t == IR_F64 ? "double" : "float";
        if (isnan(x)) out_sb_printf(b, "(%s)NAN", ct);
        else if (isinf(x)) out_sb_printf(b, "(%s)(%sINFINITY)", ct, x < 0 ? "-" : "");
        else out_sb_printf(b, "(%s)%.17g", ct, x);
        return;
    }
    if (t == IR_BOOL) {
        out_sb_printf(b, "%s", x != 0 ? "true" : "false");
        return;
    }
    const char *ct = cu_ctype(t);
    if (isnan(x)) x = 0;
    if (t == IR_U64 && x >= 9223372036854775808.0) {
        out_sb_printf(b, "(uint64_t)%lluULL", x >= 18446744073709551615.0 ? ~0ULL : (unsigned long long)x);
        return;
    }
    int64_t v = x >= 9223372036854775807.0 ? INT64_MAX : x <= -9223372036854775808.0 ? INT64_MIN : (int64_t)x;
    if (v == INT64_MIN) out_sb_printf(b, "(%s)(-9223372036854775807LL - 1)", ct);
    else out_sb_printf(b, "(%s)%lldLL", ct, (long long)v);
}

void cu_coords(cu_t *c, const ir_shape_t *s, const char *i, const char *cn) {
    /* each coordinate on its own line, so that kend can drop the ones nothing reads
     * (nvcc -Werror all-warnings rejects a variable set but never used) */
    int64_t st = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        int64_t D = s->dims[d].v;
        if (d == 0) out_sb_printf(&c->body, "        int64_t %s0 = %s / %lldLL; /*coord*/\n", cn, i, (long long)st);
        else if (st == 1) out_sb_printf(&c->body, "        int64_t %s%d = %s %% %lldLL; /*coord*/\n", cn, d, i, (long long)D);
        else out_sb_printf(&c->body, "        int64_t %s%d = (%s / %lldLL) %% %lldLL; /*coord*/\n", cn, d, i, (long long)st, (long long)D);
        st *= D;
    }
}

static bool word_at(const char *p, const char *start, const char *w, size_t n) {
    if (strncmp(p, w, n) != 0) return false;
    char a = p > start ? p[-1] : ' ', z = p[n];
    bool ia = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') || a == '_';
    bool iz = (z >= 'a' && z <= 'z') || (z >= 'A' && z <= 'Z') || (z >= '0' && z <= '9') || z == '_';
    return !ia && !iz;
}

/* Drops the coordinate lines (cu_coords) whose variable no other line reads. */
static void prune_coords(out_sbuf_t *b) {
    if (!b->p) return;
    char *s = b->p;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        const char *mark = strstr(line, "/*coord*/");
        if (mark && mark < line + len) {
            const char *nm = strstr(line, "int64_t ") + 8;
            size_t n = strcspn(nm, " ");
            bool used = false;
            for (const char *p = s; *p && !used; p++) {
                if (p >= line && p < line + len) continue;
                used = word_at(p, s, nm, n);
            }
            if (!used) {
                memmove(line, line + len, strlen(line + len) + 1);
                b->len -= len;
                continue;
            }
        }
        line += len;
    }
}

void cu_bcast_off(cu_t *c, out_sbuf_t *b, const ir_value_t *v, int r, const ir_shape_t *space, const char *cn) {
    (void)c;
    int rv = v->shape.rank;
    int64_t st = 1;
    bool any = false;
    out_sb_printf(b, "(");
    for (int dv = rv - 1; dv >= 0; dv--) {
        int d = dv + (r - rv);
        int64_t D = v->shape.dims[dv].v;
        bool one = D == 1 && !(space && d >= 0 && space->dims[d].v == 1);
        if (!one && D != 1 && d >= 0) {
            if (st == 1) out_sb_printf(b, "%s%s%d", any ? " + " : "", cn, d);
            else out_sb_printf(b, "%s%s%d * %lldLL", any ? " + " : "", cn, d, (long long)st);
            any = true;
        }
        st *= D;
    }
    out_sb_printf(b, "%s)", any ? "" : "0");
}

void cu_addr(out_sbuf_t *b, const ir_value_t *v, bool w) {
    const char *ct = cu_ctype(v->dtype);
    const char *cq = w ? "" : "const ";
    switch (v->storage) {
    case IR_ST_INPUT: out_sb_printf(b, "(%s%s *)in[%d]", cq, ct, v->index); break;
    case IR_ST_OUTPUT: out_sb_printf(b, "(%s%s *)out[%d]", cq, ct, v->index); break;
    case IR_ST_CONST: out_sb_printf(b, "(%s%s *)(W + %lld)", cq, ct, (long long)v->offset); break;
    default: out_sb_printf(b, "(%s%s *)(WS + %lld)", cq, ct, (long long)v->offset); break;
    }
}

/* The address of parameter k's tensor at launch time. */
static void launch_arg(cu_t *c, out_sbuf_t *b, int k) { cu_addr(b, c->pv[k], c->pw[k]); }

int cu_kend_epi(cu_t *c, const char *var, out_sbuf_t *ctor) {
    if (c->body.oom) return cu_error(c, "out of memory");
    prune_coords(&c->body);
    /* the struct after its name: identical epilogues (same shapes, post-ops and member
     * types: a model's repeated blocks) share one type, so the library's kernel templates
     * are instantiated once for them */
    out_sbuf_t t = {0};
    out_sb_printf(&t, " {\n");
    for (int i = 0; i < c->npv; i++)
        out_sb_printf(&t, "    %s%s *__restrict__ p%d;\n", c->pw[i] ? "" : "const ", cu_ctype(c->pv[i]->dtype), i);
    out_sb_printf(&t, "    __device__ __forceinline__ float operator()(int64_t i, float acc) const {\n        (void)i;\n%s"
                      "        return (float)%s;\n    }\n};\n\n", c->body.p ? c->body.p : "", var);
    if (t.oom) {
        free(t.p);
        return cu_error(c, "out of memory");
    }
    int k = -1;
    for (int j = 0; j < c->n_epi && k < 0; j++)
        if (!strcmp(c->epi_text[j], t.p)) k = c->epi_k[j];
    if (k < 0) {
        char **nt = realloc(c->epi_text, sizeof *nt * (size_t)(c->n_epi + 1));
        if (nt) c->epi_text = nt;
        int *nk = realloc(c->epi_k, sizeof *nk * (size_t)(c->n_epi + 1));
        if (nk) c->epi_k = nk;
        if (!nt || !nk) {
            free(t.p);
            return cu_error(c, "out of memory");
        }
        k = c->nk++;
        const ir_node_t *nd = c->node;
        out_sb_printf(&c->kern, "/* ");
        out_sb_comment_text(&c->kern, nd->name);
        out_sb_printf(&c->kern, " (%s): the library kernel's epilogue%s */\nstruct k%d_epi%s", ir_op_name(nd->op),
                      nd->n_post ? " with the fused post-ops" : "", k, t.p);
        c->epi_text[c->n_epi] = t.p;
        c->epi_k[c->n_epi++] = k;
    } else {
        free(t.p);
    }
    out_sb_printf(ctor, "k%d_epi{", k);
    for (int i = 0; i < c->npv; i++) {
        out_sb_printf(ctor, "%s", i ? ", " : "");
        launch_arg(c, ctor, i);
    }
    out_sb_printf(ctor, "}");
    return 0;
}

static int kend(cu_t *c, int64_t n, int64_t grid, int block) {
    if (c->body.oom) return cu_error(c, "out of memory");
    prune_coords(&c->body);
    const ir_node_t *nd = c->node;
    int k = c->nk++;
    out_sbuf_t *b = &c->kern;
    out_sb_printf(b, "/* ");
    out_sb_comment_text(b, nd->name);
    out_sb_printf(b, " (%s)%s */\n__global__ void __launch_bounds__(%d) k%d_%s(", ir_op_name(nd->op),
                  nd->n_post ? " + fused post-ops" : "", block, k, ir_op_name(nd->op));
    for (int i = 0; i < c->npv; i++)
        out_sb_printf(b, "%s%s%s *__restrict__ p%d", i ? ", " : "", c->pw[i] ? "" : "const ", cu_ctype(c->pv[i]->dtype), i);
    out_sb_printf(b, ") {\n");
    if (n >= 0)
        out_sb_printf(b,
                      "    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < %lldLL;\n"
                      "         i += (int64_t)blockDim.x * gridDim.x) {\n%s    }\n}\n\n",
                      (long long)n, c->body.p ? c->body.p : "");
    else
        out_sb_printf(b, "%s}\n\n", c->body.p ? c->body.p : "");
    if (grid == 0) return 0;   /* nothing to do: no launch */
    out_sbuf_t *r = &c->run;
    out_sb_printf(r, "    ONNXC_LAUNCH(k%d_%s, dim3(%lld), dim3(%d), stream", k, ir_op_name(nd->op), (long long)grid, block);
    for (int i = 0; i < c->npv; i++) {
        out_sb_printf(r, ", ");
        launch_arg(c, r, i);
    }
    out_sb_printf(r, ");\n    OC_CHECK(ONNXC_CHECK_LAUNCH());\n");
    return 0;
}

int cu_kend_elems(cu_t *c, int64_t n) {
    int64_t grid;
    int block;
    cuda_launch_dims(n, CU_BLOCK, CU_MAX_BLOCKS, &grid, &block);
    return kend(c, n, grid, block ? block : CU_BLOCK);
}

int cu_kend_grid(cu_t *c, int64_t grid, int block) { return kend(c, -1, grid, block); }

/* ---------------------------------------------------------------- host-side logic */
void cuda_launch_dims(int64_t n, int block, int64_t max_blocks, int64_t *grid, int *blockdim) {
    if (n <= 0 || block <= 0) {
        *grid = 0;
        *blockdim = 0;
        return;
    }
    int64_t bl = block;
    if (n < bl) bl = (n + 31) / 32 * 32;
    int64_t g = n / bl + (n % bl != 0);   /* no n + bl - 1: n may be near INT64_MAX */
    if (max_blocks > 0 && g > max_blocks) g = max_blocks;
    if (g > CUDA_GRID_X_MAX) g = CUDA_GRID_X_MAX;
    *grid = g;
    *blockdim = (int)bl;
}

int cuda_gemm_launch(int64_t batch, int64_t M, int64_t N, int64_t K, cuda_launch_t *l) {
    memset(l, 0, sizeof *l);
    if (batch < 0 || M < 0 || N < 0 || K < 0) return -1;
    l->cfg = cu_gemm_cfg(M, N, K);
    int64_t t = l->cfg == 0 ? 128 : l->cfg == 1 ? 64 : 32;
    l->block[0] = 256, l->block[1] = 1, l->block[2] = 1;
    if (batch == 0 || M == 0 || N == 0) return 0;   /* nothing to launch */
    int64_t gx = M / t + (M % t != 0), gy = N / t + (N % t != 0);
    if (gx > CUDA_GRID_X_MAX) return -1;
    /* the tile kernel loops over N tiles and batches beyond grid.y/z */
    l->grid[0] = gx;
    l->grid[1] = gy < CUDA_GRID_YZ_MAX ? gy : CUDA_GRID_YZ_MAX;
    l->grid[2] = batch < CUDA_GRID_YZ_MAX ? batch : CUDA_GRID_YZ_MAX;
    return 0;
}

int64_t cuda_workspace_bytes(int64_t ws_static) {
    int64_t b = ws_static < 256 ? 256 : ws_static;
    return (b + 255) / 256 * 256;
}

int cuda_backend_target(const cuda_backend_opts_t *o, ir_target_t *t, char *err, size_t n) {
    const char *a = o->arch ? o->arch : "sm_90";
    /* SMs of the arch's flagship part (H100 SXM, A100, L40S): the schedule's notion of
     * how many blocks keep the device busy. */
    int sms = !strcmp(a, "sm_90") ? 132 : !strcmp(a, "sm_80") ? 108 : !strcmp(a, "sm_89") ? 142 : 0;
    if (!sms) return out_err(err, n, "unknown --cuda-arch '%s' (expected sm_90, sm_80 or sm_89)", a);
    memset(t, 0, sizeof *t);
    t->kind = IR_TARGET_GPU;
    t->name = !strcmp(a, "sm_90") ? "sm_90" : !strcmp(a, "sm_80") ? "sm_80" : "sm_89";
    t->vec_bytes = 16;   /* float4 */
    t->vec_lanes = 4;
    t->vec_regs = 255;
    t->l1_bytes = 256 * 1024;
    t->l2_bytes = !strcmp(a, "sm_90") ? 50 << 20 : !strcmp(a, "sm_80") ? 40 << 20 : 96 << 20;
    t->threads = sms * 2048;
    t->gpu.sms = sms;
    t->gpu.warp = 32;
    t->gpu.max_block_threads = 1024;
    t->gpu.smem_bytes = 48 * 1024;
    t->gpu.regs_per_sm = 65536;
    return 0;
}

/* ---------------------------------------------------------------- the op table */
static const cu_lower_fn table[IR_OP_COUNT] = {
    [IR_OP_CAST] = cu_lower_cast,
    [IR_OP_CAST_LIKE] = cu_lower_cast,
    [IR_OP_POW] = cu_lower_pow,
    [IR_OP_MEAN] = cu_lower_mean,
    [IR_OP_MOD] = cu_lower_mod,
    [IR_OP_DROPOUT] = cu_lower_dropout,
    [IR_OP_FLATTEN] = cu_lower_copy,
    [IR_OP_RESHAPE] = cu_lower_copy,
    [IR_OP_SQUEEZE] = cu_lower_copy,
    [IR_OP_UNSQUEEZE] = cu_lower_copy,
    [IR_OP_TRANSPOSE] = cu_lower_transpose,
    [IR_OP_CONCAT] = cu_lower_concat,
    [IR_OP_SPLIT] = cu_lower_split,
    [IR_OP_SLICE] = cu_lower_slice,
    [IR_OP_GATHER] = cu_lower_gather,
    [IR_OP_EXPAND] = cu_lower_expand,
    [IR_OP_TILE] = cu_lower_tile,
    [IR_OP_PAD] = cu_lower_pad,
    [IR_OP_MATMUL] = cu_lib_matmul,
    [IR_OP_GEMM] = cu_lib_gemm,
    [IR_OP_CONV] = cu_lib_conv,
    [IR_OP_MAX_POOL] = cu_lib_pool,
    [IR_OP_AVERAGE_POOL] = cu_lib_pool,
    [IR_OP_GLOBAL_AVERAGE_POOL] = cu_lib_pool,
    [IR_OP_GLOBAL_MAX_POOL] = cu_lib_pool,
    [IR_OP_REDUCE_MEAN] = cu_lib_reduce,
    [IR_OP_REDUCE_SUM] = cu_lib_reduce,
    [IR_OP_REDUCE_MAX] = cu_lib_reduce,
    [IR_OP_REDUCE_MIN] = cu_lib_reduce,
    [IR_OP_REDUCE_PROD] = cu_lib_reduce,
    [IR_OP_REDUCE_L1] = cu_lib_reduce,
    [IR_OP_REDUCE_L2] = cu_lib_reduce,
    [IR_OP_REDUCE_LOG_SUM] = cu_lib_reduce,
    [IR_OP_REDUCE_LOG_SUM_EXP] = cu_lib_reduce,
    [IR_OP_REDUCE_SUM_SQUARE] = cu_lib_reduce,
    [IR_OP_SOFTMAX] = cu_lib_softmax,
    [IR_OP_LOG_SOFTMAX] = cu_lib_softmax,
    [IR_OP_LAYER_NORM] = cu_lib_layer_norm,
};

cu_lower_fn cu_lowering(ir_op_t op) {
    if (op < IR_OP_COUNT && table[op]) return table[op];
    /* ops with their own LLVM lowering besides a recipe (Div checks its divisor there)
     * still compute what the recipe says */
    if (ir_op_recipe(op)) return cu_lower_map;
    return NULL;
}

/* ---------------------------------------------------------------- checks */
static bool value_ok(cu_t *c, const ir_value_t *v) {
    if (!v) return true;
    if (!cu_ctype(v->dtype)) {
        cu_error(c, "the CUDA backend does not support %s tensors yet ('%s')", ir_dtype_name(v->dtype), v->name);
        return false;
    }
    if (v->shape.rank < 0 || !ir_shape_is_static(&v->shape)) {
        cu_error(c, "the CUDA backend needs static shapes ('%s' has a symbolic dim; fix it with --dim or --shape)",
                 v->name);
        return false;
    }
    return true;
}

static int lower_node(cu_t *c, ir_node_t *n) {
    c->node = n;
    if (!n->sched) return cu_error(c, "internal error: the node has no schedule");
    cu_lower_fn f = cu_lowering(n->op);
    if (!f) return cu_error(c, "the CUDA backend has no kernel for %s yet", ir_op_name(n->op));
    bool ok = true;
    for (int i = 0; i < n->n_in; i++) ok &= value_ok(c, n->in[i]);
    for (int i = 0; i < n->n_out; i++) ok &= value_ok(c, n->out[i]);
    for (int i = 0; i < n->n_post; i++) ok &= value_ok(c, n->post[i].other);
    if (!ok) return -1;
    cu_kbegin(c);
    return f(c, n);
}

/* ---------------------------------------------------------------- host entry */
static const char prelude[] =
    "#include <stdint.h>\n#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n"
    "#ifndef ONNXC_CUDA_EMU\n#include <cuda_runtime.h>\n#endif\n";

static const char launch_fallback[] =
    "/* The launch macro, unless the kernel library defined it. */\n"
    "#ifndef ONNXC_LAUNCH\n"
    "#ifdef ONNXC_CUDA_EMU\n"
    "#define ONNXC_LAUNCH(kernel, grid, block, stream, ...) \\\n"
    "    onnxc_emu_launch((grid), (block), [=]() { kernel(__VA_ARGS__); })\n"
    "#else\n"
    "#define ONNXC_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)\n"
    "#endif\n"
    "#define ONNXC_CHECK_LAUNCH() cudaGetLastError()\n"
    "#endif\n\n"
    "/* Scalar helpers of the printed recipes (ir/recipe.h semantics). */\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_min(T a, T b) { return a > b ? b : a; }\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_max(T a, T b) { return a < b ? b : a; }\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_iabs(T a) { return a < 0 ? (T)(-a) : a; }\n"
    "/* truncating, 0 for a zero divisor, no trap for MIN / -1 */\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_idiv(T a, T b) {\n"
    "    if (b == 0) return 0;\n"
    "    if (b == (T)-1 && (T)-1 < 0) return (T)(0 - a);\n"
    "    return (T)(a / b);\n}\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_imod(T a, T b) {\n"
    "    if (b == 0 || (b == (T)-1 && (T)-1 < 0)) return 0;\n"
    "    return (T)(a % b);\n}\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_imod_py(T a, T b) {\n"
    "    T r = oc_imod(a, b);\n"
    "    return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;\n}\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_fmod(T a, T b) { return fmod(a, b); }\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_fmod_py(T a, T b) {\n"
    "    T r = fmod(a, b);\n"
    "    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;\n}\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_lowest(T) { return (T)1 << (sizeof(T) * 8 - 1) < 0 ? (T)((T)1 << (sizeof(T) * 8 - 1)) : (T)0; }\n"
    "template <class T> __host__ __device__ __forceinline__ T oc_highest(T) { return (T)~oc_lowest((T)0); }\n\n"
    "#define OC_CHECK(call) do { cudaError_t oc_e_ = (call); \\\n"
    "    if (oc_e_ != cudaSuccess) return ONNXC_ERR_CUDA | ((int)oc_e_ << 8); } while (0)\n\n";

/* The library's GEMM and convolution launches with the tile configuration fixed by the
 * generator, which knows every shape (cu_gemm_cfg): one kernel is instantiated per call
 * site instead of the three onnxc_cu_tile_gemm_launch chooses from at run time (ptxas
 * time). CFG 0: 128x128 tiles, 1: 64x64, 2: 32x32 (the library's configurations, same
 * choice rule), 3: the depthwise kernel. */
static const char lib_cfg[] =
    "#if defined(ONNXC_CU_GEMM_CUH) && defined(ONNXC_CU_CONV_CUH)\n"
    "template <int CFG, class Prob, class Epi> static inline cudaError_t oc_tile_gemm(cudaStream_t s, const Prob &p, Epi epi) {\n"
    "    constexpr int BM = CFG == 0 ? 128 : CFG == 1 ? 64 : 32, BK = CFG == 0 ? 8 : 16, TM = CFG == 0 ? 8 : CFG == 1 ? 4 : 2;\n"
    "    auto k = onnxc_cu_tile_gemm_kernel<BM, BM, BK, TM, TM, Prob, Epi>;\n"
    "    dim3 grid((unsigned)onnxc_cu_ceil_div(p.M, BM), onnxc_cu_grid_yz(onnxc_cu_ceil_div(p.N, BM)), onnxc_cu_grid_yz(p.batch));\n"
    "    ONNXC_LAUNCH(k, grid, dim3(256), s, p, epi);\n"
    "    return ONNXC_CHECK_LAUNCH();\n}\n"
    "template <int CFG, class Epi> static inline cudaError_t oc_gemm(cudaStream_t s, int64_t batch, int64_t M, int64_t N, int64_t K,\n"
    "        const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs, const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,\n"
    "        float *C, int64_t c_bs, int64_t c_rs, Epi epi) {\n"
    "    onnxc_cu_gemm_prob p = {batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, C, c_bs, c_rs};\n"
    "    return oc_tile_gemm<CFG>(s, p, epi);\n}\n"
    "template <int CFG, class Epi> static inline cudaError_t oc_conv(cudaStream_t s, const onnxc_cu_conv2d_desc *d, const float *X,\n"
    "        const float *W, float *Y, Epi epi) {\n"
    "    if constexpr (CFG == 3) {\n"
    "        auto k = onnxc_cu_depthwise_kernel<Epi>;\n"
    "        ONNXC_LAUNCH(k, dim3(onnxc_cu_grid_1d(d->n * d->m * d->oh * d->ow, 256)), dim3(256), s, *d, X, W, Y, epi);\n"
    "        return ONNXC_CHECK_LAUNCH();\n"
    "    } else {\n"
    "        onnxc_cu_conv_prob p;\n"
    "        p.batch = d->group, p.M = d->m / d->group, p.N = d->n * d->oh * d->ow, p.cg = d->c / d->group;\n"
    "        p.K = p.cg * d->kh * d->kw, p.X = X, p.W = W, p.C = Y;\n"
    "        p.c = d->c, p.h = d->h, p.w = d->w, p.m = d->m, p.oh = d->oh, p.ow = d->ow;\n"
    "        p.kh = d->kh, p.kw = d->kw, p.sh = d->sh, p.sw = d->sw, p.ph = d->ph, p.pw = d->pw, p.dh = d->dh, p.dw = d->dw;\n"
    "        return oc_tile_gemm<CFG>(s, p, epi);\n"
    "    }\n}\n"
    "#endif\n\n";

int cu_gemm_cfg(int64_t M, int64_t N, int64_t K) {
    if (M >= 128 && N >= 128 && K >= 32) return 0;
    if (M <= 32 || N <= 32) return 2;
    return 1;
}

static void weights_text(cu_t *c, out_sbuf_t *b, const unsigned char *w, size_t size) {
    const char *N = c->N;
    if (c->o->weights_file || size == 0) return;
    /* 8 bytes a word, little-endian: a third of the text of one literal per byte */
    size_t nw = (size + 7) / 8;
    out_sb_printf(b, "/* The weights blob (%zu bytes) at the memory plan's offsets. */\n"
                     "static const uint64_t %s_blob[%zu] = {", size, N, nw);
    for (size_t i = 0; i < nw; i++) {
        uint64_t x = 0;
        for (int k = 7; k >= 0; k--) x = (x << 8) | (i * 8 + (size_t)k < size ? w[i * 8 + (size_t)k] : 0);
        out_sb_printf(b, "%s0x%llxull,", i % 8 ? "" : "\n", (unsigned long long)x);
    }
    out_sb_printf(b, "\n};\n\n");
}

static void host_entry(cu_t *c, out_sbuf_t *b, size_t wsize, uint64_t whash) {
    const char *N = c->N;
    ir_graph_t *g = c->g;
    int64_t wsb = cuda_workspace_bytes(g->ws_static);
    bool wf = c->o->weights_file;
    out_sb_printf(b,
                  "/* ---- host entry ---- */\n"
                  "static unsigned char *%s_dev_weights;   /* the device copy, made by %s_cuda_init */\n\n"
                  "extern \"C\" size_t %s_cuda_workspace_size(void) { return %lldu; }\n\n",
                  N, N, N, (long long)wsb);
    if (wf)
        out_sb_printf(b,
                      "extern \"C\" const onnxc_weights_info_t %s_weights_info = {%zuull, 0x%llxull, %uu};\n\n"
                      "extern \"C\" int %s_cuda_init_weights(const void *payload) {\n"
                      "    if (%s_dev_weights) return ONNXC_OK;\n"
                      "    if (!payload) return ONNXC_ERR_WEIGHTS;\n"
                      "    void *d = NULL;\n"
                      "    OC_CHECK(cudaMalloc(&d, %zu));\n"
                      "    cudaError_t e = cudaMemcpy(d, payload, %zu, cudaMemcpyHostToDevice);\n"
                      "    if (e != cudaSuccess) { cudaFree(d); return ONNXC_ERR_CUDA | ((int)e << 8); }\n"
                      "    %s_dev_weights = (unsigned char *)d;\n"
                      "    return ONNXC_OK;\n}\n\n"
                      "extern \"C\" int %s_cuda_init(void) { return %s_dev_weights ? ONNXC_OK : ONNXC_ERR_WEIGHTS; }\n\n",
                      N, wsize, (unsigned long long)whash, ONNXC_WEIGHTS_VERSION, N, N, wsize ? wsize : 1,
                      wsize, N, N, N);
    else {
        out_sb_printf(b, "extern \"C\" int %s_cuda_init(void) {\n    if (%s_dev_weights) return ONNXC_OK;\n", N, N);
        out_sb_printf(b, "    void *d = NULL;\n    OC_CHECK(cudaMalloc(&d, %zu));\n", wsize ? wsize : 1);
        if (wsize)
            out_sb_printf(b,
                          "    cudaError_t e = cudaMemcpy(d, %s_blob, %zu, cudaMemcpyHostToDevice);\n"
                          "    if (e != cudaSuccess) { cudaFree(d); return ONNXC_ERR_CUDA | ((int)e << 8); }\n",
                          N, wsize);
        out_sb_printf(b, "    %s_dev_weights = (unsigned char *)d;\n    return ONNXC_OK;\n}\n\n", N);
    }
    out_sb_printf(b,
                  "extern \"C\" void %s_cuda_release(void) {\n"
                  "    if (%s_dev_weights) cudaFree(%s_dev_weights);\n"
                  "    %s_dev_weights = NULL;\n}\n\n"
                  "extern \"C\" const char *%s_cuda_status_message(int status) {\n"
                  "    if ((status & 0xff) == ONNXC_ERR_CUDA) return cudaGetErrorString((cudaError_t)(status >> 8));\n"
                  "    if ((status & 0xff) == ONNXC_ERR_WEIGHTS && !%s_dev_weights) return \"weights not on the device: call %s_cuda_init%s first\";\n"
                  "    return onnxc_status_message(status);\n}\n\n",
                  N, N, N, N, N, N, N, wf ? "_weights" : "");
    out_sb_printf(b,
                  "extern \"C\" int %s_cuda_run(void *const *inputs, void *const *outputs, void *workspace, void *stream_) {\n"
                  "    cudaStream_t stream = (cudaStream_t)stream_;\n"
                  "    const unsigned char *W = %s_dev_weights;\n"
                  "    unsigned char *WS = (unsigned char *)workspace;\n"
                  "    if (!W) return ONNXC_ERR_WEIGHTS;\n",
                  N, N);
    if (g->n_inputs) out_sb_printf(b, "    if (!inputs) return ONNXC_ERR_ARGUMENT;\n");
    if (g->n_outputs) out_sb_printf(b, "    if (!outputs) return ONNXC_ERR_ARGUMENT;\n");
    out_sb_printf(b, "    if (!WS || ((uintptr_t)WS & 255u)) return ONNXC_ERR_WORKSPACE;\n");
    out_sb_printf(b, "    const void *const *in = (const void *const *)inputs;\n    void *const *out = outputs;\n"
                     "    (void)in; (void)out; (void)stream; (void)W; (void)WS;\n");
    for (int i = 0; i < g->n_inputs; i++) out_sb_printf(b, "    if (!in[%d]) return ONNXC_ERR_ARGUMENT;\n", i);
    for (int i = 0; i < g->n_outputs; i++) out_sb_printf(b, "    if (!out[%d]) return ONNXC_ERR_ARGUMENT;\n", i);
    out_sb_printf(b, "%s    return ONNXC_OK;\n}\n\n", c->run.p ? c->run.p : "");

    /* run_host: device buffers for everything, copies both ways; the bytes of each input
     * and output first */
    int ni = g->n_inputs, no = g->n_outputs;
    out_sb_printf(b, "static const size_t %s_isz[%d] = {", N, ni ? ni : 1);
    for (int i = 0; i < ni; i++)
        out_sb_printf(b, "%s%lldu", i ? ", " : "", (long long)(cu_numel(g->inputs[i]) * (int64_t)ir_dtype_size(g->inputs[i]->dtype)));
    out_sb_printf(b, "%s};\nstatic const size_t %s_osz[%d] = {", ni ? "" : "0", N, no ? no : 1);
    for (int i = 0; i < no; i++)
        out_sb_printf(b, "%s%lldu", i ? ", " : "", (long long)(cu_numel(g->outputs[i]) * (int64_t)ir_dtype_size(g->outputs[i]->dtype)));
    out_sb_printf(b, "%s};\n\n", no ? "" : "0");
    out_sb_printf(b, "extern \"C\" int %s_cuda_run_host(const void *const *inputs, void *const *outputs) {\n", N);
    if (g->n_inputs) out_sb_printf(b, "    if (!inputs) return ONNXC_ERR_ARGUMENT;\n");
    if (g->n_outputs) out_sb_printf(b, "    if (!outputs) return ONNXC_ERR_ARGUMENT;\n");
    out_sb_printf(b, "    int st = %s_cuda_init();\n    if (st != ONNXC_OK) return st;\n", N);
    out_sb_printf(b, "    const size_t *isz = %s_isz, *osz = %s_osz;\n", N, N);
    out_sb_printf(b,
                  "    void *din[%d] = {0}, *dout[%d] = {0}, *ws = NULL;\n"
                  "    cudaError_t e = cudaSuccess;\n"
                  "    st = ONNXC_OK;\n"
                  "    for (int i = 0; i < %d && e == cudaSuccess; i++) {\n"
                  "        if (!inputs[i]) { st = ONNXC_ERR_ARGUMENT; break; }\n"
                  "        e = cudaMalloc(&din[i], isz[i] ? isz[i] : 1);\n"
                  "        if (e == cudaSuccess) e = cudaMemcpy(din[i], inputs[i], isz[i], cudaMemcpyHostToDevice);\n"
                  "    }\n"
                  "    for (int i = 0; i < %d && e == cudaSuccess && st == ONNXC_OK; i++) {\n"
                  "        if (!outputs[i]) { st = ONNXC_ERR_ARGUMENT; break; }\n"
                  "        e = cudaMalloc(&dout[i], osz[i] ? osz[i] : 1);\n"
                  "        /* poisoned: an element no kernel writes reads back as NaN (0xff bytes), not as\n"
                  "         * whatever the allocation held */\n"
                  "        if (e == cudaSuccess) e = cudaMemset(dout[i], 0xff, osz[i]);\n"
                  "    }\n"
                  "    if (e == cudaSuccess && st == ONNXC_OK) e = cudaMalloc(&ws, %s_cuda_workspace_size());\n"
                  "    if (e == cudaSuccess && st == ONNXC_OK) st = %s_cuda_run(din, dout, ws, NULL);\n"
                  "    if (e == cudaSuccess && st == ONNXC_OK) e = cudaDeviceSynchronize();\n"
                  "    for (int i = 0; i < %d && e == cudaSuccess && st == ONNXC_OK; i++)\n"
                  "        e = cudaMemcpy(outputs[i], dout[i], osz[i], cudaMemcpyDeviceToHost);\n"
                  "    for (int i = 0; i < %d; i++) if (din[i]) cudaFree(din[i]);\n"
                  "    for (int i = 0; i < %d; i++) if (dout[i]) cudaFree(dout[i]);\n"
                  "    if (ws) cudaFree(ws);\n"
                  "    if (e != cudaSuccess) return ONNXC_ERR_CUDA | ((int)e << 8);\n"
                  "    return st;\n}\n\n",
                  ni ? ni : 1, no ? no : 1, ni, no, N, N, no, ni, no);

    /* --bench of the standalone program: device-resident inputs, device time by events */
    out_sb_printf(b,
                  "extern \"C\" int %s_cuda_bench(const void *const *inputs, int64_t runs, double *times) {\n"
                  "    int st = %s_cuda_init();\n    if (st != ONNXC_OK) return st;\n"
                  "    void *din[%d] = {0}, *dout[%d] = {0}, *ws = NULL;\n"
                  "    cudaEvent_t ev[2] = {NULL, NULL};\n"
                  "    cudaStream_t s = NULL;\n"
                  "    cudaError_t e = cudaStreamCreate(&s);\n"
                  "    if (e == cudaSuccess) e = cudaEventCreate(&ev[0]);\n"
                  "    if (e == cudaSuccess) e = cudaEventCreate(&ev[1]);\n"
                  "    for (int i = 0; i < %d && e == cudaSuccess; i++) {\n"
                  "        e = cudaMalloc(&din[i], %s_isz[i] ? %s_isz[i] : 1);\n"
                  "        if (e == cudaSuccess) e = cudaMemcpy(din[i], inputs[i], %s_isz[i], cudaMemcpyHostToDevice);\n"
                  "    }\n"
                  "    for (int i = 0; i < %d && e == cudaSuccess; i++) e = cudaMalloc(&dout[i], %s_osz[i] ? %s_osz[i] : 1);\n"
                  "    if (e == cudaSuccess) e = cudaMalloc(&ws, %s_cuda_workspace_size());\n"
                  "    for (int64_t r = 0; r < runs && e == cudaSuccess && st == ONNXC_OK; r++) {\n"
                  "        for (int i = 0; i < %d && e == cudaSuccess; i++) e = cudaMemsetAsync(dout[i], 0xff, %s_osz[i], s);\n"
                  "        if (e == cudaSuccess) e = cudaEventRecord(ev[0], s);\n"
                  "        if (e == cudaSuccess) st = %s_cuda_run(din, dout, ws, s);\n"
                  "        if (e == cudaSuccess && st == ONNXC_OK) e = cudaEventRecord(ev[1], s);\n"
                  "        if (e == cudaSuccess && st == ONNXC_OK) e = cudaEventSynchronize(ev[1]);\n"
                  "        float ms = 0;\n"
                  "        if (e == cudaSuccess && st == ONNXC_OK) e = cudaEventElapsedTime(&ms, ev[0], ev[1]);\n"
                  "        if (times) times[r] = ms;\n"
                  "    }\n"
                  "    for (int i = 0; i < %d; i++) if (din[i]) cudaFree(din[i]);\n"
                  "    for (int i = 0; i < %d; i++) if (dout[i]) cudaFree(dout[i]);\n"
                  "    if (ws) cudaFree(ws);\n"
                  "    if (ev[0]) cudaEventDestroy(ev[0]);\n    if (ev[1]) cudaEventDestroy(ev[1]);\n"
                  "    if (s) cudaStreamDestroy(s);\n"
                  "    if (e != cudaSuccess) return ONNXC_ERR_CUDA | ((int)e << 8);\n"
                  "    return st;\n}\n\n",
                  N, N, ni ? ni : 1, no ? no : 1, ni, N, N, N, no, N, N, N, no, N, N, ni, no);

    /* The CPU ABI (runtime/onnxc_abi.h) on host buffers, for generic drivers */
    out_sb_printf(b,
                  "extern \"C\" size_t %s_workspace_size(const int64_t *syms) { (void)syms; return %d; }\n"
                  "extern \"C\" int %s_run(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *inputs,\n"
                  "                        void *const *outputs, void *workspace) {\n"
                  "    (void)ctx; (void)syms; (void)workspace;\n",
                  N, wf ? 64 : 0, N);
    if (wf)
        out_sb_printf(b,
                      "    if (!workspace || ((uint64_t *)workspace)[1] != %s_weights_info.hash) return ONNXC_ERR_WEIGHTS;\n"
                      "    int st = %s_cuda_init_weights(((const void *const *)workspace)[0]);\n"
                      "    if (st != ONNXC_OK) return st;\n",
                      N, N);
    out_sb_printf(b,
                  "    return %s_cuda_run_host(inputs, outputs);\n}\n"
                  "extern \"C\" int %s_shapes(const int64_t *syms, int64_t *all) { (void)syms; (void)all; return ONNXC_OK; }\n"
                  "extern \"C\" int %s_output_dims(const int64_t *syms, const void *workspace, int32_t i, int64_t *dims) {\n"
                  "    (void)syms; (void)workspace;\n"
                  "    if (i < 0 || i >= %d || !dims) return ONNXC_ERR_ARGUMENT;\n"
                  "    static const int64_t od[%d][%d] = {",
                  N, N, N, no, no ? no : 1, IR_MAX_RANK);
    for (int i = 0; i < no; i++) {
        out_sb_printf(b, "%s{", i ? ", " : "");
        for (int d = 0; d < IR_MAX_RANK; d++)
            out_sb_printf(b, "%s%lld", d ? ", " : "", d < g->outputs[i]->shape.rank ? (long long)g->outputs[i]->shape.dims[d].v : 0LL);
        out_sb_printf(b, "}");
    }
    out_sb_printf(b,
                  "%s};\n"
                  "    memcpy(dims, od[i], sizeof(int64_t) * %d);\n"
                  "    return ONNXC_OK;\n}\n"
                  "extern \"C\" const char *const %s_shape_checks[] = {NULL};\n"
                  "extern \"C\" const char *const %s_data_checks[] = {NULL};\n\n",
                  no ? "" : "{0}", IR_MAX_RANK, N, N);
}

/* Extra declarations of NAME.h for the CUDA entry points. */
static void header_decls(cu_t *c, out_sbuf_t *b) {
    const char *N = c->N;
    out_sb_printf(b,
                  "\n/* ---- CUDA (onnxc --target=cuda). Device pointers, the caller's stream. ----\n"
                  " * Status: ONNXC_OK, an onnxc_status, or ONNXC_ERR_CUDA | (cudaError_t << 8) for a\n"
                  " * failed CUDA call; %s_cuda_status_message() gives the text of any of them. */\n"
                  "#ifndef ONNXC_ERR_CUDA\n#define ONNXC_ERR_CUDA 8\n#endif\n"
                  "/* Copies the weights to the device once (later calls do nothing). */\n"
                  "int %s_cuda_init(void);\n",
                  N, N);
    if (c->o->weights_file)
        out_sb_printf(b,
                      "/* --weights=file: the payload of %s.weights (checked with onnxc_weights_check against\n"
                      " * %s_weights_info) copied to the device; %s_cuda_init only reports whether it was. */\n"
                      "int %s_cuda_init_weights(const void *payload);\n"
                      "extern const onnxc_weights_info_t %s_weights_info;\n",
                      N, N, N, N, N);
    out_sb_printf(b,
                  "/* Bytes of device workspace %s_cuda_run needs (256-byte aligned, e.g. from cudaMalloc). */\n"
                  "size_t %s_cuda_workspace_size(void);\n"
                  "/* Enqueues the model on `stream` (a cudaStream_t; NULL: the default stream): inputs[i] and\n"
                  " * outputs[i] are device buffers of the documented shapes. Does not synchronise. */\n"
                  "int %s_cuda_run(void *const *inputs_dev, void *const *outputs_dev, void *workspace_dev, void *stream);\n"
                  "/* The same on host buffers: allocates device memory, copies, runs, copies back, frees. */\n"
                  "int %s_cuda_run_host(const void *const *inputs, void *const *outputs);\n"
                  "/* Runs the model `runs` times on device copies of the inputs (made once), outputs\n"
                  " * poisoned with NaN before each run, and writes each run's device time in ms\n"
                  " * (CUDA events) to times[runs] (may be NULL). For benchmarks. */\n"
                  "int %s_cuda_bench(const void *const *inputs, int64_t runs, double *times);\n"
                  "/* Frees the device weights. */\n"
                  "void %s_cuda_release(void);\n"
                  "const char *%s_cuda_status_message(int status);\n"
                  "extern const char *const %s_data_checks[];\n",
                  N, N, N, N, N, N, N, N);
}

static const char cuda_link_doc[] =
    " * Here %s_run runs on the GPU through %s_cuda_run_host (host buffers, copies both ways);\n"
    " * the workspace it takes is a host one (0 bytes, or 64 with --weights=file).\n";

static void free_epi(cu_t *c) {
    for (int j = 0; j < c->n_epi; j++) free(c->epi_text[j]);
    free(c->epi_text);
    free(c->epi_k);
    c->epi_text = NULL, c->epi_k = NULL, c->n_epi = 0;
}

int cuda_backend_compile(ir_graph_t *g, const cuda_backend_opts_t *o) {
    char err[1024];
    out_file_t wf = {0};
    cu_t c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.o = o;
    c.N = o->name;
    if (!g->target || g->target->kind != IR_TARGET_GPU)
        return ir_error(g, NULL, "internal error: the graph was not scheduled for a GPU target");
    if (g->n_syms > 0 || g->n_dyn_slots > 0) {
        ir_error(g, NULL,
                 "the CUDA backend needs static shapes: this model has symbolic dims (fix them with --dim NAME=V or "
                 "--shape INPUT=AxB)");
        return -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        c.node = NULL;
        value_ok(&c, g->inputs[i]);
    }
    int rc = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->dead && lower_node(&c, g->nodes[i]) != 0) rc = -1;
    c.node = NULL;
    free_epi(&c);
    if (rc || ir_diags_has_errors(&g->diags)) {
        free(c.kern.p), free(c.run.p), free(c.body.p);
        return -1;
    }
    /* the weights */
    unsigned char *blob = NULL;
    size_t bsize = 0;
    if (out_weights_blob(g, &blob, &bsize, err, sizeof err)) goto fail;
    uint64_t whash = onnxc_weights_hash(blob, bsize);
    /* --weights=file: NAME.weights (backends/common), committed with the output */
    if (o->weights_file && out_weights_file(&wf, o->output, c.N, blob, bsize, &whash, err, sizeof err)) {
        free(blob);
        out_file_discard(&wf, false);
        goto fail;
    }

    /* NAME.h */
    char link[1024];
    snprintf(link, sizeof link, cuda_link_doc, c.N, c.N);
    out_sbuf_t hd = {0};
    header_decls(&c, &hd);
    if (hd.oom) goto oom;
    out_header_opts_t ho = {.name = c.N, .model_path = o->model_path, .link_doc = link, .extra_decls = hd.p};
    char *htext = NULL;
    int hrc = out_header_text(g, &ho, &htext, err, sizeof err);
    free(hd.p);
    if (hrc) {
        free(blob);
        goto fail;
    }

    /* NAME.cu */
    out_sbuf_t cu = {0};
    out_sb_printf(&cu, "/* %s.cu: generated by onnxc (%s) for %s. Do not edit. */\n", c.N, o->version ? o->version : "onnxc",
                  o->emu ? "the CUDA emulation on the CPU (cuda-emu)" : o->arch ? o->arch : "sm_90");
    /* the ABI header: its cpuid code leaves a variable nvcc calls unused, and its static
     * inline helpers go unused here */
    out_sb_printf(&cu, "%s\n#ifdef __NVCC__\n#pragma nv_diag_suppress 550\n#pragma nv_diag_suppress 177\n#endif\n%s\n"
                       "#ifdef __NVCC__\n#pragma nv_diag_default 550\n#pragma nv_diag_default 177\n#endif\n", prelude, htext);
    /* a model uses some of the library's static inline launchers, not all */
    out_sb_printf(&cu, "/* ---- kernel library (backends/cuda/lib) ---- */\n#ifdef __NVCC__\n#pragma nv_diag_suppress 177\n#endif\n"
                       "%s\n#ifdef __NVCC__\n#pragma nv_diag_default 177\n#endif\n", cu_lib_text);
    out_sb_printf(&cu, "%s%s", launch_fallback, lib_cfg);
    out_sb_printf(&cu, "/* ---- kernels (%d) ---- */\n%s", c.nk, c.kern.p ? c.kern.p : "");
    weights_text(&c, &cu, blob, bsize);
    host_entry(&c, &cu, bsize, whash);
    free(blob);
    out_desc_t d;
    char *dtext = NULL;
    if (out_desc_build(g, c.N, &d, err, sizeof err) == 0 && out_desc_c_text(&d, &dtext, err, sizeof err) == 0) {
        out_sb_printf(&cu, "%s", dtext);
        free(dtext);
    } else {
        out_desc_free(&d);
        free(htext);
        free(cu.p);
        goto fail;
    }
    out_desc_free(&d);
    out_sb_printf(&cu,
                  "\nstatic const onnxc_build_info_t %s_build = {\"%s\", \"%s\", \"%s\", \"\"};\n"
                  "extern \"C\" const onnxc_build_info_t *const %s_build_info_p = &%s_build;\n",
                  c.N, o->version ? o->version : "onnxc", o->emu ? "cuda-emu" : "nvptx64-nvidia-cuda",
                  o->emu ? "host" : o->arch ? o->arch : "sm_90", c.N, c.N);
    if (o->emit == CUDA_EMIT_EXE) {
        out_sb_printf(&cu,
                      "extern \"C\" const onnxc_model_desc_t *const onnxc_exe_model = &%s_desc;\n"
                      "extern \"C\" const onnxc_build_info_t *const onnxc_exe_build = &%s_build;\n"
                      "extern \"C\" const onnxc_shape_info_t *const onnxc_exe_shapes = &%s_shape_info;\n"
                      "extern \"C\" const char *const *const onnxc_exe_checks = %s_data_checks;\n"
                      "extern \"C\" int (*const onnxc_exe_device_bench)(const void *const *, int64_t, double *) = %s_cuda_bench;\n"
                      "extern \"C\" const char *(*const onnxc_exe_status_message)(int) = %s_cuda_status_message;\n",
                      c.N, c.N, c.N, c.N, c.N, c.N);
        if (o->weights_file)
            out_sb_printf(&cu, "extern \"C\" const onnxc_weights_info_t *const onnxc_exe_weights = &%s_weights_info;\n", c.N);
    }
    free(c.kern.p), free(c.run.p), free(c.body.p);
    c.kern.p = c.run.p = c.body.p = NULL;
    if (cu.oom) {
        free(cu.p);
        free(htext);
        goto oom;
    }
    rc = cu_build(o, cu.p, cu.len, htext, err, sizeof err);
    if (rc == 0 && o->weights_file) rc = out_file_commit(&wf, false, err, sizeof err);
    out_file_discard(&wf, false);
    free(cu.p);
    free(htext);
    if (rc) return ir_error(g, NULL, "%s", err);
    return 0;
oom:
    snprintf(err, sizeof err, "out of memory writing %s.cu", c.N);
fail:
    out_file_discard(&wf, false);
    free(c.kern.p), free(c.run.p), free(c.body.p);
    return ir_error(g, NULL, "%s", err);
}
