/* The ABI between code onnxc generates and whoever calls it (the runtime's standalone
 * driver, or a user's program). Plain C, no dependencies. The compiler embeds this text
 * verbatim in every generated NAME.h, so a generated header needs nothing else. */
#ifndef ONNXC_ABI_DEFINED
#define ONNXC_ABI_DEFINED
#include <stddef.h>
#include <stdint.h>

enum onnxc_status {
    ONNXC_OK = 0,
    ONNXC_ERR_ARGUMENT = 1,   /* NULL pointer where data is required */
    ONNXC_ERR_SHAPE = 2,      /* a symbol is out of range, or the dims it gives do not fit together */
    ONNXC_ERR_WORKSPACE = 3,  /* workspace missing or misaligned (needs 64-byte alignment) */
    ONNXC_ERR_INTERNAL = 4,
    ONNXC_ERR_CPU = 5,        /* the running CPU lacks features the code was compiled for */
    ONNXC_ERR_WEIGHTS = 6,    /* weights file missing, damaged, or not the one the code was compiled with */
    ONNXC_ERR_DATA = 7        /* the input data break an op's contract (an index out of range,
                                 an integer division by zero); status >> 8 is k >= 1 and
                                 NAME_data_checks[k - 1] names the node and the check */
};

static inline const char *onnxc_status_message(int status) {
    switch (status & 0xff) {
    case ONNXC_OK: return "ok";
    case ONNXC_ERR_ARGUMENT: return "invalid argument: a required input, output or syms pointer is NULL";
    case ONNXC_ERR_SHAPE: return "invalid shape: a symbolic dimension is out of range, or the dims it gives do not fit the model";
    case ONNXC_ERR_WORKSPACE: return "workspace is NULL or not 64-byte aligned";
    case ONNXC_ERR_INTERNAL: return "internal error";
    case ONNXC_ERR_CPU: return "this CPU lacks instruction-set features the model was compiled for";
    case ONNXC_ERR_WEIGHTS: return "weights not bound to the workspace, or not the ones the model was compiled with";
    case ONNXC_ERR_DATA: return "the input data break an op's contract (see NAME_data_checks[(status >> 8) - 1])";
    default: return "unknown status";
    }
}

/* ONNX TensorProto.DataType codes, as descriptors carry them. The low-precision kinds
 * (17 and up) take one byte per element in the buffers a model reads and writes, the
 * code in its low bits and the others zero (int4 -2 is 0x0E), as numpy's ml_dtypes
 * arrays hold them. Only tensor files (.pb) pack int4/uint4/float4 two and int2/uint2
 * four to a byte, low bits first; the runtime's reader and writer convert. */
enum onnxc_dtype {
    ONNXC_DT_UNDEFINED = 0, ONNXC_DT_FLOAT = 1, ONNXC_DT_UINT8 = 2, ONNXC_DT_INT8 = 3,
    ONNXC_DT_UINT16 = 4, ONNXC_DT_INT16 = 5, ONNXC_DT_INT32 = 6, ONNXC_DT_INT64 = 7,
    ONNXC_DT_STRING = 8, ONNXC_DT_BOOL = 9, ONNXC_DT_FLOAT16 = 10, ONNXC_DT_DOUBLE = 11,
    ONNXC_DT_UINT32 = 12, ONNXC_DT_UINT64 = 13, ONNXC_DT_COMPLEX64 = 14, ONNXC_DT_COMPLEX128 = 15,
    ONNXC_DT_BFLOAT16 = 16, ONNXC_DT_FLOAT8E4M3FN = 17, ONNXC_DT_FLOAT8E4M3FNUZ = 18,
    ONNXC_DT_FLOAT8E5M2 = 19, ONNXC_DT_FLOAT8E5M2FNUZ = 20, ONNXC_DT_UINT4 = 21, ONNXC_DT_INT4 = 22,
    ONNXC_DT_FLOAT4E2M1 = 23, ONNXC_DT_FLOAT8E8M0 = 24, ONNXC_DT_UINT2 = 25, ONNXC_DT_INT2 = 26
};

/* fn runs iterations [begin, end) of a parallel loop. */
typedef void (*onnxc_task_fn)(void *arg, int64_t begin, int64_t end);

/* A run context, created by the caller (the runtime's onnxc_ctx_create gives one with a
 * thread pool). Generated code only calls parallel_for through it; a NULL ctx, or a NULL
 * parallel_for, runs everything on the calling thread. No global state: two threads may
 * run the same model at once with their own contexts and workspaces. */
typedef struct onnxc_ctx {
    void (*parallel_for)(struct onnxc_ctx *ctx, onnxc_task_fn fn, void *arg, int64_t n);
    int n_threads;
    void *impl;
} onnxc_ctx_t;

/* dim i = dim_sym[i] < 0 ? dims[i] : dims[i] * syms[dim_sym[i]] */
typedef struct onnxc_tensor_desc {
    const char *name;
    int32_t dtype;            /* enum onnxc_dtype (ONNX TensorProto.DataType) */
    int32_t rank;
    const int64_t *dims;
    const int32_t *dim_sym;
} onnxc_tensor_desc_t;

typedef struct onnxc_model_desc {
    const char *name;
    int32_t n_inputs, n_outputs, n_syms;
    const onnxc_tensor_desc_t *inputs;
    const onnxc_tensor_desc_t *outputs;
    const char *const *sym_names;
    /* Bytes of workspace for the given symbol sizes (syms may be NULL when n_syms == 0). */
    size_t (*workspace_size)(const int64_t *syms);
    /* inputs[i] / outputs[i] in graph order, dense row-major; workspace 64-byte aligned. */
    int (*run)(onnxc_ctx_t *ctx, const int64_t *syms, const void *const *inputs,
               void *const *outputs, void *workspace);
} onnxc_model_desc_t;

/* How a model's dims follow from the caller's symbols; every generated object defines one
 * as NAME_shape_info. The caller's symbols (the descriptor's n_syms) come first in the
 * full list; derived ones (expressions over them, named by their text in the
 * descriptor's sym_names, which holds all n_syms_all names) follow. A tensor's dim_sym
 * indexes the full list. A caller symbol is either a dim of an input (sym_input[s] < 0;
 * >= 1) or the value of element sym_elem[s] of integer input sym_input[s] that the model
 * uses as a shape (a Reshape or Expand target, a Range limit...): its value is that
 * element, and the run checks that it is. */
typedef struct onnxc_shape_info {
    int32_t n_syms_all;
    const int32_t *sym_input;   /* n_syms entries */
    const int64_t *sym_elem;    /* n_syms entries */
    /* all[0, n_syms_all) from syms[0, n_syms): ONNXC_OK, or ONNXC_ERR_SHAPE when a symbol is
     * out of range, a dim comes out negative or above 2^40, or the model's shape
     * assertions fail (two dims that must agree do not). */
    int (*shapes)(const int64_t *syms, int64_t *all);
    /* Output i's dims after a run that used this workspace (and these syms). The desc's
     * dims give each output's largest size, which is what the caller allocates; an output
     * whose size depends on the data (NonZero's count) is smaller: this says by how much.
     * ONNXC_OK, ONNXC_ERR_ARGUMENT (no output i) or ONNXC_ERR_SHAPE. */
    int (*output_dims)(const int64_t *syms, const void *workspace, int32_t i, int64_t *dims);
    /* When shapes (or NAME_run, NAME_workspace_size) fails with ONNXC_ERR_SHAPE and
     * status >> 8 is k >= 1, checks[k - 1] says which node's sizes do not fit and how
     * ("node 'r': the sizes given need shape[0]*shape[1] == 24"). NULL-terminated. */
    const char *const *checks;
} onnxc_shape_info_t;

/* Weights kept in a file (onnxc --weights=file) instead of the code. The file NAME.weights
 * is a 64-byte header followed by the payload, which the code addresses by offset:
 *   bytes 0..7   magic "ONNXCWT" and a NUL     bytes 16..23 payload size (little-endian)
 *   bytes 8..11  format version (1)            bytes 24..31 onnxc_weights_hash of the payload
 *   bytes 12..15 header size (64)              bytes 32..63 zero
 * Such a model defines NAME_weights_info with the size and hash it was compiled with. A
 * run finds its weights through the workspace: its first 64 bytes hold the payload's
 * address and hash (onnxc_weights_bind), and NAME_workspace_size counts them. So there is
 * no global state: any number of workspaces (threads) may share one read-only payload. */
#define ONNXC_WEIGHTS_VERSION 1u
#define ONNXC_WEIGHTS_HEADER 64u

typedef struct onnxc_weights_info {
    uint64_t size;     /* payload bytes */
    uint64_t hash;     /* onnxc_weights_hash of the payload */
    uint32_t version;  /* ONNXC_WEIGHTS_VERSION */
} onnxc_weights_info_t;

/* 64-bit hash of n bytes, 8 at a time (little-endian words; a short tail zero-padded),
 * then the length: fast enough to check 100 MB at start-up in ~20 ms. */
static inline uint64_t onnxc_weights_hash(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--) w = (w << 8) | p[i + (size_t)b];
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    for (size_t b = n; b > i; b--) w = (w << 8) | p[b - 1];
    h = (h ^ w ^ (uint64_t)n) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

/* Checks a whole weights file held in memory (read or mapped, 64-byte aligned) against
 * info; ONNXC_OK with *payload set, or ONNXC_ERR_WEIGHTS with the reason in msg. */
static inline int onnxc_weights_check(const onnxc_weights_info_t *info, const void *file, size_t file_size,
                                      const void **payload, char *msg, size_t n) {
    const unsigned char *f = (const unsigned char *)file;
    const char *why = 0;
    uint64_t v[3] = {0, 0, 0};
    if (payload) *payload = 0;
    if (!info || !file) why = "no weights given";
    else if (file_size < ONNXC_WEIGHTS_HEADER || __builtin_memcmp(f, "ONNXCWT", 8) != 0) why = "not an onnxc weights file";
    else {
        for (int k = 0; k < 3; k++)
            for (int b = 7; b >= 0; b--) v[k] = (v[k] << 8) | f[(k ? 8 + 8 * k : 8) + b];
        uint32_t version = (uint32_t)(v[0] & 0xffffffffu);
        if (version != info->version) why = "format version differs from the one the code was compiled for";
        else if (v[1] != info->size || file_size - ONNXC_WEIGHTS_HEADER < info->size)
            why = "size differs from the one the code was compiled with (another model's or another compile's weights?)";
        else if (((uintptr_t)file & 63u) != 0) why = "not 64-byte aligned in memory";
        else if (v[2] != info->hash || onnxc_weights_hash(f + ONNXC_WEIGHTS_HEADER, (size_t)info->size) != info->hash)
            why = "contents differ from the ones the code was compiled with (hash mismatch)";
    }
    if (why) {
        if (msg && n) {
            size_t k = 0;
            for (const char *q = why; *q && k + 1 < n; q++) msg[k++] = *q;
            msg[k] = 0;
        }
        return ONNXC_ERR_WEIGHTS;
    }
    if (msg && n) msg[0] = 0;
    if (payload) *payload = f + ONNXC_WEIGHTS_HEADER;
    return ONNXC_OK;
}

/* Binds a checked payload to a workspace (before the model's first run on it; again
 * after anything overwrote the workspace's first 64 bytes). */
static inline void onnxc_weights_bind(void *workspace, const onnxc_weights_info_t *info, const void *payload) {
    ((const void **)workspace)[0] = payload;
    ((uint64_t *)workspace)[1] = info->hash;
}

/* What a model's code was compiled by and for; every generated object defines one as
 * NAME_build_info. A struct of its own (not a field of onnxc_model_desc_t) so that the
 * descriptor's layout never changes. */
typedef struct onnxc_build_info {
    const char *onnxc_version;  /* "onnxc 0.1.0 (LLVM 19.1.7)" */
    const char *triple;         /* "x86_64-pc-linux-gnu" */
    const char *cpu;            /* "znver3", "x86-64-v2", ... */
    const char *cpu_needs;      /* x86 features the code may use, comma-separated ("avx,avx2,fma");
                                   "" when nothing beyond the architecture's baseline */
} onnxc_build_info_t;

/* Checks that the running CPU has every feature in cpu_needs, with cpuid (and xgetbv, so
 * that an OS which does not save AVX/AVX-512 state counts as lacking them). Code compiled
 * for features the CPU lacks dies with SIGILL, usually in its first instructions, so call
 * this before anything else of the model's. Returns ONNXC_OK, or ONNXC_ERR_CPU with "built
 * for CPU 'X' (needs a, b, ...), which this CPU lacks: c, d" in msg (when msg != NULL).
 * On a compiler or architecture it cannot check, it returns ONNXC_OK. Inline (and so part
 * of every generated header) because a library user may link no runtime at all. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <cpuid.h>
#endif
static inline int onnxc_cpu_check(const onnxc_build_info_t *b, char *msg, size_t n) {
    if (msg && n) msg[0] = 0;
    if (!b || !b->cpu_needs || !b->cpu_needs[0]) return ONNXC_OK;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    /* name, cpuid leaf, subleaf, register (0 eax, 1 ebx, 2 ecx, 3 edx), bit, XCR0 bits the
     * OS must enable (6: SSE+AVX state; 0xe6: also the AVX-512 opmask and ZMM state). */
    static const struct { const char *name; unsigned leaf, sub, reg, bit, xcr0; } tab[] = {
        {"sse3", 1, 0, 2, 0, 0},       {"ssse3", 1, 0, 2, 9, 0},      {"sse4.1", 1, 0, 2, 19, 0},
        {"sse4.2", 1, 0, 2, 20, 0},    {"popcnt", 1, 0, 2, 23, 0},    {"fma", 1, 0, 2, 12, 6},
        {"avx", 1, 0, 2, 28, 6},       {"f16c", 1, 0, 2, 29, 6},      {"bmi", 7, 0, 1, 3, 0},
        {"avx2", 7, 0, 1, 5, 6},       {"bmi2", 7, 0, 1, 8, 0},       {"avx512f", 7, 0, 1, 16, 0xe6},
        {"avx512dq", 7, 0, 1, 17, 0xe6}, {"avx512cd", 7, 0, 1, 28, 0xe6}, {"avx512bw", 7, 0, 1, 30, 0xe6},
        {"avx512vl", 7, 0, 1, 31, 0xe6}, {"avx512vnni", 7, 0, 2, 11, 0xe6}, {"avx512bf16", 7, 1, 0, 5, 0xe6},
        {"avx512fp16", 7, 0, 3, 23, 0xe6},
    };
    unsigned r1[4] = {0}, r7[4] = {0}, r71[4] = {0}, max = __get_cpuid_max(0, 0);
    if (max >= 1) __cpuid_count(1, 0, r1[0], r1[1], r1[2], r1[3]);
    if (max >= 7) __cpuid_count(7, 0, r7[0], r7[1], r7[2], r7[3]);
    if (max >= 7 && r7[0] >= 1) __cpuid_count(7, 1, r71[0], r71[1], r71[2], r71[3]);
    unsigned xcr0 = 0;
    if (r1[2] & (1u << 27)) { /* OSXSAVE: xgetbv is allowed */
        unsigned lo, hi;
        __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)hi;
        xcr0 = lo;
    }
    size_t k = 0;
    int lacking = 0;
    const char *p = b->cpu_needs;
    while (*p) {
        size_t len = 0;
        while (p[len] && p[len] != ',') len++;
        for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
            size_t tl = 0;
            while (tab[i].name[tl]) tl++;
            if (tl != len || __builtin_memcmp(tab[i].name, p, len) != 0) continue;
            const unsigned *r = tab[i].leaf == 1 ? r1 : tab[i].sub == 1 ? r71 : r7;
            int have = ((r[tab[i].reg] >> tab[i].bit) & 1u) && (xcr0 & tab[i].xcr0) == tab[i].xcr0;
            if (!have) {
                if (!lacking && msg && n) {
                    /* the head: "built for CPU 'X' (needs a, b), which this CPU lacks: " */
                    const char *parts[5] = {"built for CPU '", b->cpu ? b->cpu : "?", "' (needs ", b->cpu_needs,
                                            "), which this CPU lacks: "};
                    for (int j = 0; j < 5; j++)
                        for (const char *q = parts[j]; *q && k + 1 < n; q++) {
                            msg[k++] = *q;
                            if (j == 3 && *q == ',' && k + 1 < n) msg[k++] = ' ';
                        }
                }
                if (lacking && msg && k + 2 < n) { msg[k++] = ','; msg[k++] = ' '; }
                for (size_t j = 0; msg && j < len && k + 1 < n; j++) msg[k++] = p[j];
                if (msg && n) msg[k] = 0;
                lacking++;
            }
        }
        p += len;
        if (*p == ',') p++;
    }
    return lacking ? ONNXC_ERR_CPU : ONNXC_OK;
#else
    (void)n;
    return ONNXC_OK;
#endif
}
#endif
