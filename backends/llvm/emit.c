/* The LLVM backend's module side: target selection, the weights blob, the model
 * descriptor, optimisation, and writing .o/.s/.ll (and linking .so/exe with the system
 * C compiler driver). The kernels themselves come from llvm_lower_graph (lower*.c). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "backends/common/outcode.h"
#include "backends/llvm/llvm_backend.h"
#include "backends/llvm/lower.h"
#include "ir/sched.h"
#include "runtime/onnxc_abi.h"

void llvm_backend_version(char *buf, size_t n) {
    unsigned a = 0, b = 0, c = 0;
    LLVMGetVersion(&a, &b, &c);
    snprintf(buf, n, "LLVM %u.%u.%u", a, b, c);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Adds the time since *t0 to *slot (when timing) and restarts the clock. */
static void lap(llvm_backend_times_t *tm, double *slot, double *t0) {
    double t1 = now_ms();
    if (tm) *slot += t1 - *t0;
    *t0 = t1;
}

static pthread_once_t targets_once = PTHREAD_ONCE_INIT;
static void init_targets(void) {
    /* Every target libLLVM was built with, so --triple can cross-compile to assembly or
     * objects; the host needs only X86. */
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    LLVMInitializeAllAsmParsers();
}

/* ------------------------------------------------------------------ target */

/* Widest vector the kernels should use for a named x86 CPU (no feature string given).
 * Ordered so that a longer name is tested before a prefix of it. */
static unsigned cpu_vector_bits(const char *cpu) {
    static const char *const w512[] = {
        "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake", "tigerlake", "rocketlake",
        "sapphirerapids", "emeraldrapids", "graniterapids", "diamondrapids", "znver4", "znver5",
        "x86-64-v4", "knl", "knm",
    };
    static const char *const w256[] = {
        "sandybridge", "ivybridge", "haswell", "broadwell", "skylake", "alderlake", "raptorlake",
        "meteorlake", "arrowlake", "lunarlake", "pantherlake", "gracemont", "sierraforest", "grandridge",
        "clearwaterforest", "znver1", "znver2", "znver3", "bdver", "btver2", "x86-64-v3", "corei7-avx",
        "core-avx",
    };
    for (size_t i = 0; i < sizeof w512 / sizeof *w512; i++)
        if (strncmp(cpu, w512[i], strlen(w512[i])) == 0) return 512;
    for (size_t i = 0; i < sizeof w256 / sizeof *w256; i++)
        if (strncmp(cpu, w256[i], strlen(w256[i])) == 0) return 256;
    return 128;
}

static bool has_feature(const char *features, const char *f) {
    size_t n = strlen(f);
    for (const char *p = features; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n + 1 && p[0] == '+' && strncmp(p + 1, f, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* The features onnxc_cpu_check (runtime/onnxc_abi.h) can test, in its order. */
static const char *const checkable[] = {
    "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "fma", "avx", "f16c", "bmi", "avx2", "bmi2",
    "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512vnni", "avx512bf16", "avx512fp16",
};

/* LLVM-C cannot list the features a named CPU implies, so the common x86 CPUs are listed
 * here by level (x86-64 psABI levels: v2 = SSE4.2/POPCNT, v3 = AVX2/FMA/BMI2, v4 =
 * AVX-512 F/BW/CD/DQ/VL) plus the AVX-512 extensions LLVM may use for them. A CPU not
 * listed records nothing, so its programs are not checked: tables can only lag. */
static const char *named_cpu_features(const char *cpu) {
#define V2 "sse3,ssse3,sse4.1,sse4.2,popcnt"
#define AVX V2 ",avx"
#define V3 AVX ",fma,f16c,bmi,avx2,bmi2"
#define V4 V3 ",avx512f,avx512dq,avx512cd,avx512bw,avx512vl"
    static const struct { const char *cpu, *features; } tab[] = {
        {"x86-64-v2", V2}, {"nehalem", V2}, {"westmere", V2}, {"corei7", V2}, {"silvermont", V2},
        {"slm", V2}, {"goldmont", V2}, {"goldmont-plus", V2}, {"tremont", V2},
        {"sandybridge", AVX}, {"ivybridge", AVX}, {"corei7-avx", AVX}, {"core-avx-i", AVX},
        {"btver2", AVX}, {"bdver1", AVX}, {"bdver2", AVX ",fma,f16c,bmi"}, {"bdver3", AVX ",fma,f16c,bmi"},
        {"x86-64-v3", V3}, {"haswell", V3}, {"core-avx2", V3}, {"broadwell", V3}, {"skylake", V3},
        {"alderlake", V3}, {"raptorlake", V3}, {"meteorlake", V3}, {"arrowlake", V3}, {"arrowlake-s", V3},
        {"lunarlake", V3}, {"pantherlake", V3}, {"gracemont", V3}, {"sierraforest", V3}, {"grandridge", V3},
        {"clearwaterforest", V3}, {"bdver4", V3}, {"znver1", V3}, {"znver2", V3}, {"znver3", V3},
        {"knl", V3 ",avx512f,avx512cd"}, {"knm", V3 ",avx512f,avx512cd"},
        {"x86-64-v4", V4}, {"skylake-avx512", V4}, {"cannonlake", V4},
        {"cascadelake", V4 ",avx512vnni"}, {"cooperlake", V4 ",avx512vnni,avx512bf16"},
        {"icelake-client", V4 ",avx512vnni"}, {"icelake-server", V4 ",avx512vnni"},
        {"tigerlake", V4 ",avx512vnni"}, {"rocketlake", V4 ",avx512vnni"},
        {"sapphirerapids", V4 ",avx512vnni,avx512bf16,avx512fp16"},
        {"emeraldrapids", V4 ",avx512vnni,avx512bf16,avx512fp16"},
        {"graniterapids", V4 ",avx512vnni,avx512bf16,avx512fp16"},
        {"graniterapids-d", V4 ",avx512vnni,avx512bf16,avx512fp16"},
        {"znver4", V4 ",avx512vnni,avx512bf16"}, {"znver5", V4 ",avx512vnni,avx512bf16"},
    };
#undef V2
#undef AVX
#undef V3
#undef V4
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (strcmp(cpu, tab[i].cpu) == 0) return tab[i].features;
    return "";
}

/* f in a plain comma-separated list "a,b,c". */
static bool in_list(const char *list, const char *f) {
    size_t n = strlen(f);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, f, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static bool is_x86(const char *triple) {
    return strncmp(triple, "x86_64", 6) == 0 || (triple[0] == 'i' && strstr(triple, "86"));
}

void llvm_backend_cpu_needs(const char *triple, const char *cpu, const char *features, char *buf, size_t n) {
    if (n) buf[0] = 0;
    if (!triple || !is_x86(triple)) return;
    /* An explicit feature string (the host's, "+avx2,-avx512f,...") is the truth; else
     * the CPU's table row ("avx,avx2"). */
    bool explicit_features = features && *features;
    const char *named = named_cpu_features(cpu ? cpu : "");
    size_t k = 0;
    for (size_t i = 0; i < sizeof checkable / sizeof *checkable; i++) {
        if (explicit_features ? !has_feature(features, checkable[i]) : !in_list(named, checkable[i])) continue;
        int w = snprintf(buf + k, n - k, "%s%s", k ? "," : "", checkable[i]);
        if (w < 0 || (size_t)w >= n - k) {
            buf[k] = 0;
            return;
        }
        k += (size_t)w;
    }
}

typedef struct target {
    LLVMTargetMachineRef tm;
    char *triple;   /* LLVM-owned (LLVMDisposeMessage) */
    char *cpu;      /* LLVM-owned */
    char *features; /* LLVM-owned */
    unsigned vector_bits;
} target_t;

static void target_dispose(target_t *t) {
    if (t->tm) LLVMDisposeTargetMachine(t->tm);
    if (t->triple) LLVMDisposeMessage(t->triple);
    if (t->cpu) LLVMDisposeMessage(t->cpu);
    if (t->features) LLVMDisposeMessage(t->features);
    memset(t, 0, sizeof *t);
}

/* LLVM reports an unknown CPU name only as a warning printed to stderr while it builds
 * the target machine, then silently compiles for a generic CPU. We want a clean error, so
 * for a CPU named by the user we catch that text (briefly redirecting fd 2, which is
 * why the host's own CPU, always known, skips this). */
static LLVMTargetMachineRef create_tm_checked(LLVMTargetRef tgt, const target_t *t, LLVMCodeGenOptLevel lvl,
                                              bool check, char *warn, size_t wn) {
    warn[0] = 0;
    FILE *cap = check ? tmpfile() : NULL;
    int saved = cap ? dup(2) : -1;
    if (saved >= 0) {
        fflush(stderr);
        dup2(fileno(cap), 2);
    }
    LLVMTargetMachineRef tm =
        LLVMCreateTargetMachine(tgt, t->triple, t->cpu, t->features, lvl, LLVMRelocPIC, LLVMCodeModelDefault);
    if (saved >= 0) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        rewind(cap);
        if (!fgets(warn, (int)wn, cap)) warn[0] = 0;
        warn[strcspn(warn, "\r\n")] = 0;
    }
    if (cap) fclose(cap);
    return tm;
}

static int target_create(target_t *t, const llvm_backend_opts_t *o, char *err, size_t n) {
    memset(t, 0, sizeof *t);
    pthread_once(&targets_once, init_targets);
    bool host = !o->triple || !*o->triple;
    if (host) {
        t->triple = LLVMGetDefaultTargetTriple();
    } else {
        t->triple = LLVMNormalizeTargetTriple(o->triple);
    }
    bool native = !o->cpu || !*o->cpu || strcmp(o->cpu, "native") == 0;
    if (native && host) {
        t->cpu = LLVMGetHostCPUName();
        t->features = LLVMGetHostCPUFeatures();
    } else if (native && strncmp(t->triple, "riscv64", 7) == 0) {
        /* The standard Linux riscv64 target: rv64gc with the lp64d hard-float ABI (the
         * module's target-abi flag), which every distribution's code uses; LLVM's own
         * default, soft-float rv64i, cannot link with it. */
        t->cpu = LLVMCreateMessage("generic-rv64");
        t->features = LLVMCreateMessage("+m,+a,+f,+d,+c,+zicsr,+zifencei");
    } else {
        t->cpu = LLVMCreateMessage(native ? "generic" : o->cpu);
        t->features = LLVMCreateMessage("");
    }
    LLVMTargetRef tgt = NULL;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &tgt, &msg)) {
        out_err(err, n, "unsupported target triple '%s': %s", host ? t->triple : o->triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        target_dispose(t);
        return -1;
    }
    static const LLVMCodeGenOptLevel lv[4] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess, LLVMCodeGenLevelDefault,
                                              LLVMCodeGenLevelAggressive};
    char warn[512];
    t->tm = create_tm_checked(tgt, t, lv[o->opt_level], !native, warn, sizeof warn);
    if (!t->tm) {
        out_err(err, n, "cannot create a target machine for '%s' (cpu '%s')", t->triple, t->cpu);
        target_dispose(t);
        return -1;
    }
    if (strstr(warn, "not a recognized processor")) {
        out_err(err, n, "unknown CPU '%s' for target '%s'", t->cpu, t->triple);
        target_dispose(t);
        return -1;
    }
    if (!is_x86(t->triple))
        t->vector_bits = 128;
    else if (t->features[0])
        t->vector_bits = has_feature(t->features, "avx512f") ? 512 : has_feature(t->features, "avx") ? 256 : 128;
    else
        t->vector_bits = cpu_vector_bits(t->cpu);
    return 0;
}

static int backend_target(const llvm_backend_opts_t *o, struct ir_target *desc, char *err, size_t errlen) {
    llvm_backend_opts_t oo = *o;
    if (oo.opt_level < 0 || oo.opt_level > 3) oo.opt_level = 2;
    target_t t;
    if (target_create(&t, &oo, err, errlen)) return -1;
    bool host = (!o->triple || !*o->triple) && (!o->cpu || !*o->cpu || strcmp(o->cpu, "native") == 0);
    long l1 = 0, l2 = 0, cores = 0;
    if (host) {
#ifdef _SC_LEVEL1_DCACHE_SIZE
        l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        cores = sysconf(_SC_NPROCESSORS_ONLN);
    }
    ir_target_cpu(desc, t.vector_bits, l1 > 0 ? l1 : 0, l2 > 0 ? l2 : 0, cores > 0 ? (int)cores : 0);
    target_dispose(&t);
    return 0;
}

/* ------------------------------------------------------------------ module contents */

typedef struct emitter {
    ir_graph_t *g;
    const llvm_backend_opts_t *o;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMTypeRef i8, i32, i64, ptr;
    LLVMTypeRef tensor_desc_t, model_desc_t;
    int n_strings;
    double t_start;   /* for --time-passes */
} emitter_t;

static LLVMValueRef private_const(emitter_t *e, LLVMValueRef init, const char *name) {
    LLVMValueRef gv = LLVMAddGlobal(e->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    return gv;
}

static LLVMValueRef cstring(emitter_t *e, const char *s) {
    char nm[64];
    snprintf(nm, sizeof nm, ".str.%d", e->n_strings++);
    return private_const(e, LLVMConstStringInContext2(e->ctx, s, strlen(s), 0), nm);
}

/* The blob's bytes (backends/common) as one private byte-array constant; out_weights_blob
 * says why one. */
int llvm_backend_weights_path(const char *output, const char *name, char *buf, size_t n) {
    return out_weights_path(output, name, buf, n);
}

/* --weights=file: the blob goes to a temporary beside NAME.weights (committed with the
 * output; backends/common writes it), and the code gets const onnxc_weights_info_t
 * NAME_weights_info with its size and hash. */
static int write_weights(emitter_t *e, const unsigned char *bytes, size_t size, out_file_t *wf, uint64_t *hash,
                         char *err, size_t n) {
    if (out_weights_file(wf, e->o->output, e->o->name, bytes, size, hash, err, n)) return -1;

    LLVMTypeRef wt[3] = {e->i64, e->i64, e->i32};
    LLVMTypeRef info_t = LLVMStructCreateNamed(e->ctx, "onnxc_weights_info_t");
    LLVMStructSetBody(info_t, wt, 3, 0);
    LLVMValueRef v[3] = {LLVMConstInt(e->i64, (unsigned long long)size, 0), LLVMConstInt(e->i64, *hash, 0),
                         LLVMConstInt(e->i32, ONNXC_WEIGHTS_VERSION, 0)};
    char nm[256];
    snprintf(nm, sizeof nm, "%s_weights_info", e->o->name);
    LLVMValueRef info = LLVMAddGlobal(e->mod, info_t, nm);
    LLVMSetInitializer(info, LLVMConstNamedStruct(info_t, v, 3));
    LLVMSetGlobalConstant(info, 1);
    LLVMSetAlignment(info, 8);
    if (e->o->emit == LLVM_EMIT_EXE) {
        LLVMValueRef p = LLVMAddGlobal(e->mod, e->ptr, "onnxc_exe_weights");
        LLVMSetInitializer(p, info);
        LLVMSetGlobalConstant(p, 1);
    }
    return 0;
}

static int build_blob(emitter_t *e, LLVMValueRef *out, out_file_t *wf, uint64_t *hash, char *err, size_t n) {
    *out = NULL;
    unsigned char *bytes = NULL;
    size_t size = 0;
    if (out_weights_blob(e->g, &bytes, &size, err, n)) return -1;
    if (e->o->weights_file) {
        int rc = write_weights(e, bytes, size, wf, hash, err, n);
        free(bytes);
        return rc;
    }
    if (!bytes) return 0;
    char nm[256];
    snprintf(nm, sizeof nm, "%s_weights", e->o->name);
    LLVMValueRef init = LLVMConstStringInContext2(e->ctx, (const char *)bytes, size, 1);
    free(bytes);
    LLVMValueRef gv = private_const(e, init, nm);
    LLVMSetAlignment(gv, 64);
    *out = gv;
    return 0;
}

static LLVMValueRef tensor_desc(emitter_t *e, const out_tensor_t *t) {
    int r = t->rank;
    LLVMValueRef dims = LLVMConstPointerNull(e->ptr), syms = LLVMConstPointerNull(e->ptr);
    if (r > 0) {
        LLVMValueRef dv[IR_MAX_RANK], sv[IR_MAX_RANK];
        for (int d = 0; d < r; d++) {
            dv[d] = LLVMConstInt(e->i64, (unsigned long long)t->dims[d], 1);
            sv[d] = LLVMConstInt(e->i32, (unsigned long long)(int64_t)t->dim_sym[d], 1);
        }
        dims = private_const(e, LLVMConstArray2(e->i64, dv, (uint64_t)r), ".dims");
        syms = private_const(e, LLVMConstArray2(e->i32, sv, (uint64_t)r), ".dim_sym");
    }
    LLVMValueRef f[5] = {cstring(e, t->name), LLVMConstInt(e->i32, (unsigned long long)t->dtype, 0),
                         LLVMConstInt(e->i32, (unsigned long long)r, 0), dims, syms};
    return LLVMConstNamedStruct(e->tensor_desc_t, f, 5);
}

static LLVMValueRef tensor_descs(emitter_t *e, const out_tensor_t *ts, int count, const char *nm) {
    if (count == 0) return LLVMConstPointerNull(e->ptr);
    LLVMValueRef *el = malloc(sizeof(LLVMValueRef) * (size_t)count);
    if (!el) return NULL;
    for (int i = 0; i < count; i++) el[i] = tensor_desc(e, &ts[i]);
    LLVMValueRef arr = private_const(e, LLVMConstArray2(e->tensor_desc_t, el, (uint64_t)count), nm);
    free(el);
    return arr;
}

/* const onnxc_shape_info_t NAME_shape_info (runtime/onnxc_abi.h). */
static int shape_info(emitter_t *e, const out_desc_t *d) {
    const char *N = e->o->name;
    char nm[256];
    snprintf(nm, sizeof nm, "%s_shapes", N);
    LLVMValueRef fn = LLVMGetNamedFunction(e->mod, nm);
    if (!fn || LLVMCountBasicBlocks(fn) == 0) return -1;
    LLVMValueRef in = LLVMConstPointerNull(e->ptr), el = LLVMConstPointerNull(e->ptr);
    if (d->n_syms > 0) {
        LLVMValueRef iv[256], ev[256];
        int ns = d->n_syms < 256 ? d->n_syms : 256;
        for (int s = 0; s < ns; s++) {
            iv[s] = LLVMConstInt(e->i32, (unsigned long long)(int64_t)d->sym_input[s], 1);
            ev[s] = LLVMConstInt(e->i64, (unsigned long long)d->sym_elem[s], 1);
        }
        in = private_const(e, LLVMConstArray2(e->i32, iv, (uint64_t)ns), ".sym_input");
        el = private_const(e, LLVMConstArray2(e->i64, ev, (uint64_t)ns), ".sym_elem");
    }
    snprintf(nm, sizeof nm, "%s_output_dims", N);
    LLVMValueRef od = LLVMGetNamedFunction(e->mod, nm);
    if (!od || LLVMCountBasicBlocks(od) == 0) return -1;
    snprintf(nm, sizeof nm, "%s_shape_checks", N);
    LLVMValueRef ck = LLVMGetNamedGlobal(e->mod, nm);
    if (!ck) return -1;
    LLVMTypeRef st[6] = {e->i32, e->ptr, e->ptr, e->ptr, e->ptr, e->ptr};
    LLVMTypeRef info_t = LLVMStructCreateNamed(e->ctx, "onnxc_shape_info_t");
    LLVMStructSetBody(info_t, st, 6, 0);
    LLVMValueRef f[6] = {LLVMConstInt(e->i32, (unsigned long long)d->n_syms_all, 0), in, el, fn, od, ck};
    snprintf(nm, sizeof nm, "%s_shape_info", N);
    LLVMValueRef info = LLVMAddGlobal(e->mod, info_t, nm);
    LLVMSetInitializer(info, LLVMConstNamedStruct(info_t, f, 6));
    LLVMSetGlobalConstant(info, 1);
    LLVMSetAlignment(info, 8);
    if (e->o->emit == LLVM_EMIT_EXE) {
        LLVMValueRef p = LLVMAddGlobal(e->mod, e->ptr, "onnxc_exe_shapes");
        LLVMSetInitializer(p, info);
        LLVMSetGlobalConstant(p, 1);
    }
    return 0;
}

/* const onnxc_model_desc_t NAME_desc (runtime/onnxc_abi.h), laid out by the target's
 * data layout exactly as the C compiler lays out the struct. */
static int build_descriptor(emitter_t *e, char *err, size_t n) {
    ir_graph_t *g = e->g;
    const char *N = e->o->name;
    out_desc_t d;
    if (out_desc_build(g, N, &d, err, n)) return -1;
    char fn_run[256], fn_ws[256], nm[256];
    snprintf(fn_run, sizeof fn_run, "%s_run", N);
    snprintf(fn_ws, sizeof fn_ws, "%s_workspace_size", N);
    LLVMValueRef run = LLVMGetNamedFunction(e->mod, fn_run), ws = LLVMGetNamedFunction(e->mod, fn_ws);
    if (!run || !ws || LLVMCountBasicBlocks(run) == 0 || LLVMCountBasicBlocks(ws) == 0) {
        out_desc_free(&d);
        return out_err(err, n, "%s: internal error: the lowering did not define %s and %s", g->path, fn_run, fn_ws);
    }

    LLVMTypeRef td[5] = {e->ptr, e->i32, e->i32, e->ptr, e->ptr};
    e->tensor_desc_t = LLVMStructCreateNamed(e->ctx, "onnxc_tensor_desc_t");
    LLVMStructSetBody(e->tensor_desc_t, td, 5, 0);
    LLVMTypeRef md[9] = {e->ptr, e->i32, e->i32, e->i32, e->ptr, e->ptr, e->ptr, e->ptr, e->ptr};
    e->model_desc_t = LLVMStructCreateNamed(e->ctx, "onnxc_model_desc_t");
    LLVMStructSetBody(e->model_desc_t, md, 9, 0);

    LLVMValueRef ins = tensor_descs(e, d.inputs, d.n_inputs, ".inputs");
    LLVMValueRef outs = tensor_descs(e, d.outputs, d.n_outputs, ".outputs");
    LLVMValueRef syms = LLVMConstPointerNull(e->ptr);
    if (d.n_syms_all > 0) {
        LLVMValueRef *sv = malloc(sizeof(LLVMValueRef) * (size_t)d.n_syms_all);
        if (sv) {
            for (int s = 0; s < d.n_syms_all; s++) sv[s] = cstring(e, d.sym_names[s]);
            syms = private_const(e, LLVMConstArray2(e->ptr, sv, (uint64_t)d.n_syms_all), ".sym_names");
            free(sv);
        } else {
            syms = NULL;
        }
    }
    if (shape_info(e, &d)) {
        out_desc_free(&d);
        return out_err(err, n, "%s: internal error: the lowering did not define %s_shapes", g->path, N);
    }
    LLVMValueRef f[9] = {cstring(e, N),
                         LLVMConstInt(e->i32, (unsigned long long)d.n_inputs, 0),
                         LLVMConstInt(e->i32, (unsigned long long)d.n_outputs, 0),
                         LLVMConstInt(e->i32, (unsigned long long)d.n_syms, 0),
                         ins, outs, syms, ws, run};
    out_desc_free(&d);
    if (!ins || !outs || !syms) return out_err(err, n, "%s: out of memory building the descriptor", g->path);
    snprintf(nm, sizeof nm, "%s_desc", N);
    LLVMValueRef desc = LLVMAddGlobal(e->mod, e->model_desc_t, nm);
    LLVMSetInitializer(desc, LLVMConstNamedStruct(e->model_desc_t, f, 9));
    LLVMSetGlobalConstant(desc, 1);
    LLVMSetAlignment(desc, 8);
    if (e->o->emit == LLVM_EMIT_EXE) {
        /* The runtime's main() finds the model through this one well-known symbol. */
        LLVMValueRef p = LLVMAddGlobal(e->mod, e->ptr, "onnxc_exe_model");
        LLVMSetInitializer(p, desc);
        LLVMSetGlobalConstant(p, 1);
    }
    return 0;
}

/* const onnxc_build_info_t NAME_build_info (runtime/onnxc_abi.h): the compiler version
 * and the triple, CPU and features the code is compiled for, so that a program can say
 * what it needs (and check it) before it runs any of the code. */
static int build_info(emitter_t *e, const target_t *t, char *err, size_t n) {
    char needs[512], nm[256];
    llvm_backend_cpu_needs(t->triple, t->cpu, t->features, needs, sizeof needs);
    LLVMTypeRef bt[4] = {e->ptr, e->ptr, e->ptr, e->ptr};
    LLVMTypeRef info_t = LLVMStructCreateNamed(e->ctx, "onnxc_build_info_t");
    LLVMStructSetBody(info_t, bt, 4, 0);
    LLVMValueRef f[4] = {cstring(e, e->o->version ? e->o->version : "onnxc"), cstring(e, t->triple),
                         cstring(e, t->cpu), cstring(e, needs)};
    snprintf(nm, sizeof nm, "%s_build_info", e->o->name);
    LLVMValueRef info = LLVMAddGlobal(e->mod, info_t, nm);
    LLVMSetInitializer(info, LLVMConstNamedStruct(info_t, f, 4));
    LLVMSetGlobalConstant(info, 1);
    LLVMSetAlignment(info, 8);
    if (e->o->emit == LLVM_EMIT_EXE) {
        /* The runtime's main() finds it, like the descriptor, by a well-known name. */
        LLVMValueRef p = LLVMAddGlobal(e->mod, e->ptr, "onnxc_exe_build");
        LLVMSetInitializer(p, info);
        LLVMSetGlobalConstant(p, 1);
        /* ... and the text of the data checks, to name the node of an ONNXC_ERR_DATA. */
        snprintf(nm, sizeof nm, "%s_data_checks", e->o->name);
        LLVMValueRef checks = LLVMGetNamedGlobal(e->mod, nm);
        if (checks) {
            p = LLVMAddGlobal(e->mod, e->ptr, "onnxc_exe_checks");
            LLVMSetInitializer(p, checks);
            LLVMSetGlobalConstant(p, 1);
        }
    }
    (void)err;
    (void)n;
    return 0;
}

/* ------------------------------------------------------------------ pipeline */

static int verify_and_optimise(emitter_t *e, target_t *t, char *err, size_t n) {
    char *msg = NULL;
    e->t_start = now_ms();
    if (LLVMVerifyModule(e->mod, LLVMReturnStatusAction, &msg)) {
        char first[1024];
        snprintf(first, sizeof first, "%s", msg ? msg : "");
        first[strcspn(first, "\n")] = 0;
        LLVMDisposeMessage(msg);
        return out_err(err, n, "%s: internal error: invalid LLVM IR: %s", e->g->path, first);
    }
    LLVMDisposeMessage(msg);
    llvm_backend_times_t *tm = e->o->times;
    double t0 = now_ms();
    if (tm) tm->verify_ms += t0 - e->t_start;
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", e->o->opt_level);
    if (e->o->progress) e->o->progress(e->o->progress_ud, "optimising (LLVM)", 0, 0);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    bool vec = e->o->opt_level >= 2;
    LLVMPassBuilderOptionsSetLoopVectorization(po, vec);
    LLVMPassBuilderOptionsSetSLPVectorization(po, vec);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, e->o->opt_level >= 1);
    LLVMErrorRef le = LLVMRunPasses(e->mod, pipeline, t->tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (tm) tm->optimise_ms += now_ms() - t0;
    if (le) {
        char *m = LLVMGetErrorMessage(le);
        out_err(err, n, "%s: internal error: LLVM pass pipeline '%s' failed: %s", e->g->path, pipeline, m);
        LLVMDisposeErrorMessage(m);
        return -1;
    }
    return 0;
}

static int write_stdout(const char *data, size_t size, char *err, size_t n) {
    if (fwrite(data, 1, size, stdout) != size || fflush(stdout) != 0)
        return out_err(err, n, "cannot write to standard output: %s", strerror(errno));
    return 0;
}

/* The runtime archive a .so or program links with, checked before any long step. */
static int runtime_archive(const llvm_backend_opts_t *o, char *archive, size_t an, char *err, size_t n) {
    const char *rd = o->runtime_dir && *o->runtime_dir ? o->runtime_dir : ".";
    int k = snprintf(archive, an, "%s/libonnxc_rt.a", rd);
    if (k < 0 || (size_t)k >= an || access(archive, R_OK) != 0)
        return out_err(err, n, "runtime library '%s/libonnxc_rt.a' not found (build the onnxc_rt target or set ONNXC_RUNTIME_DIR)", rd);
    return 0;
}

/* .ll, .s or .o; for SO/EXE the object goes to the temporary obj. */
static int emit_code(emitter_t *e, target_t *t, out_file_t *out, out_file_t *obj, char *err, size_t n) {
    const llvm_backend_opts_t *o = e->o;
    char *msg = NULL;
    bool to_stdout = strcmp(o->output, "-") == 0;
    if (o->emit == LLVM_EMIT_LLVM_IR) {
        if (to_stdout) {
            char *s = LLVMPrintModuleToString(e->mod);
            int rc = write_stdout(s, strlen(s), err, n);
            LLVMDisposeMessage(s);
            return rc;
        }
        if (out_file_create(out, o->output, "", err, n)) return -1;
        if (LLVMPrintModuleToFile(e->mod, out->path, &msg)) {
            out_err(err, n, "cannot write '%s': %s", o->output, msg ? msg : "");
            LLVMDisposeMessage(msg);
            return -1;
        }
        return 0;
    }
    if (o->emit == LLVM_EMIT_ASM && to_stdout) {
        LLVMMemoryBufferRef mb = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(t->tm, e->mod, LLVMAssemblyFile, &msg, &mb)) {
            out_err(err, n, "%s: code generation failed: %s", e->g->path, msg ? msg : "");
            LLVMDisposeMessage(msg);
            return -1;
        }
        int rc = write_stdout(LLVMGetBufferStart(mb), LLVMGetBufferSize(mb), err, n);
        LLVMDisposeMemoryBuffer(mb);
        return rc;
    }
    bool link = o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_EXE || o->emit == LLVM_EMIT_STATIC;
    char archive[PATH_MAX];
    if (link && runtime_archive(o, archive, sizeof archive, err, n)) return -1;
    /* The object goes straight to the output for OBJ/ASM, or to a temporary .o (the
     * compiler driver picks the file type by suffix) that the link reads. */
    out_file_t *code = link ? obj : out;
    if (out_file_create(code, o->output, link ? ".o" : "", err, n)) return -1;
    LLVMCodeGenFileType ft = o->emit == LLVM_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile;
    if (LLVMTargetMachineEmitToFile(t->tm, e->mod, code->path, ft, &msg)) {
        out_err(err, n, "%s: code generation for '%s' failed: %s", e->g->path, o->output, msg ? msg : "");
        LLVMDisposeMessage(msg);
        return -1;
    }
    return 0;
}

static int link_output(emitter_t *e, out_file_t *out, out_file_t *obj, char *err, size_t n) {
    const llvm_backend_opts_t *o = e->o;
    out_file_t *code = obj;
    char archive[PATH_MAX];
    if (runtime_archive(o, archive, sizeof archive, err, n)) return -1;
    if (out_file_create(out, o->output, "", err, n)) return -1;
    char *argv[16];
    int a = 0;
    argv[a++] = (char *)(o->cc && *o->cc ? o->cc : "cc");
    if (o->emit == LLVM_EMIT_SO) argv[a++] = "-shared";
    argv[a++] = "-o";
    argv[a++] = out->path;
    argv[a++] = code->path;
    argv[a++] = archive;
#ifdef ONNXC_LINK_SANITIZE
    /* The runtime archive of a sanitizer build is instrumented too. */
    argv[a++] = "-fsanitize=address,undefined";
#endif
    argv[a++] = "-lm";
    argv[a++] = "-lpthread";
    argv[a] = NULL;
    char what[PATH_MAX + 32];
    snprintf(what, sizeof what, "linking '%s'", o->output);
    return out_spawn(argv, what, err, n);
}

/* Reads a whole file into memory (the runtime archive). */
static int slurp(const char *path, char **data, size_t *size, char *err, size_t n) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return out_err(err, n, "cannot read '%s': %s", path, strerror(errno));
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= 0 && (buf = malloc((size_t)st.st_size + 1)) &&
        fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
        fclose(f);
        *data = buf;
        *size = (size_t)st.st_size;
        return 0;
    }
    fclose(f);
    free(buf);
    return out_err(err, n, "cannot read '%s'", path);
}

/* --emit=static: libNAME.a holds the runtime's objects (all but main.c.o: a library's
 * user brings their own main) and the model's object, as member NAME.o, so that
 * `cc prog.c libNAME.a -lm -lpthread` needs nothing else. The archive starts as a copy of
 * the runtime's; ar (deterministic mode, D) drops main.c.o and adds the model with an
 * index. */
static int archive_output(emitter_t *e, out_file_t *out, out_file_t *obj, char *err, size_t n) {
    const llvm_backend_opts_t *o = e->o;
    char rt[PATH_MAX], dir[PATH_MAX], member[PATH_MAX + 300];
    if (runtime_archive(o, rt, sizeof rt, err, n)) return -1;
    /* The member's name is the file's base name: NAME.o, in a folder of its own. */
    const char *slash = strrchr(obj->path, '/');
    int k = snprintf(dir, sizeof dir, "%.*s/.onnxc-ar.XXXXXX", slash ? (int)(slash - obj->path) : 1,
                     slash ? obj->path : ".");
    if (k < 0 || (size_t)k >= sizeof dir || !mkdtemp(dir))
        return out_err(err, n, "cannot create a temporary folder for '%s': %s", o->output, strerror(errno));
    snprintf(member, sizeof member, "%s/%s.o", dir, o->name);
    int rc = 0;
    if (rename(obj->path, member) != 0) {
        rc = out_err(err, n, "cannot move the object into '%s': %s", dir, strerror(errno));
        rmdir(dir);
        return rc;
    }
    obj->live = false;
    char *data = NULL;
    size_t size = 0;
    rc = slurp(rt, &data, &size, err, n);
    if (rc == 0) rc = out_file_create(out, o->output, "", err, n);
    if (rc == 0) rc = out_file_write(out, data, size, err, n);
    free(data);
    char what[PATH_MAX + 32];
    snprintf(what, sizeof what, "archiving '%s'", o->output);
    char *ar = (char *)(o->ar && *o->ar ? o->ar : "ar");
    if (rc == 0) {
        char *argv[] = {ar, "dD", out->path, "main.c.o", NULL};
        rc = out_spawn(argv, what, err, n);
    }
    if (rc == 0) {
        char *argv[] = {ar, "rsD", out->path, member, NULL};
        rc = out_spawn(argv, what, err, n);
    }
    unlink(member);
    rmdir(dir);
    return rc;
}

/* Writes the main output (and links it for SO/EXE) into temporaries; commit happens in
 * the caller so the header and the output appear together. */
static int write_output(emitter_t *e, target_t *t, out_file_t *out, out_file_t *obj, char *err, size_t n) {
    const llvm_backend_opts_t *o = e->o;
    double t0 = now_ms();
    if (o->progress) o->progress(o->progress_ud, "generating code", 0, 0);
    int rc = emit_code(e, t, out, obj, err, n);
    lap(o->times, o->times ? &o->times->codegen_ms : NULL, &t0);
    if (rc == 0 && (o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_EXE)) {
        if (o->progress) o->progress(o->progress_ud, "linking", 0, 0);
        rc = link_output(e, out, obj, err, n);
        lap(o->times, o->times ? &o->times->link_ms : NULL, &t0);
    } else if (rc == 0 && o->emit == LLVM_EMIT_STATIC) {
        rc = archive_output(e, out, obj, err, n);
        lap(o->times, o->times ? &o->times->link_ms : NULL, &t0);
    }
    return rc;
}

int llvm_backend_header_path(const char *output, llvm_emit_kind_t emit, char *buf, size_t n) {
    return out_header_path(output, emit == LLVM_EMIT_SO || emit == LLVM_EMIT_STATIC, buf, n);
}

/* The header's "Link:" lines for what this compile produced. A shared library is named on
 * the link line by -l when it is lib*.so, by its path otherwise; either way the program
 * needs the folder at run time too. File names reach a C comment, so an odd one is not
 * spelled out. */
static void link_doc(const llvm_backend_opts_t *o, char *buf, size_t n) {
    if (o->emit == LLVM_EMIT_STATIC) {
        const char *slash = strrchr(o->output, '/');
        const char *base = slash ? slash + 1 : o->output;
        bool plain = strlen(base) < 200;
        for (const char *p = base; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("._+-", *p);
        snprintf(buf, n,
                 " * Link: cc prog.c %s -lm -lpthread  (the runtime is inside: a NULL ctx\n"
                 " * runs on the calling thread; onnxc_ctx_create, declared below, gives a\n"
                 " * thread pool).\n",
                 plain ? base : "<the static library>");
        return;
    }
    if (o->emit != LLVM_EMIT_SO) {
        snprintf(buf, n,
                 " * Link: cc prog.c %s.o -lm  (a NULL ctx needs nothing else; the runtime's\n"
                 " * onnxc_ctx_create from libonnxc_rt.a gives a thread pool).\n",
                 o->name);
        return;
    }
    static const char ctx_note[] = " * A NULL ctx needs nothing else; the runtime's onnxc_ctx_create from libonnxc_rt.a\n"
                                   " * gives a thread pool.\n";
    const char *slash = strrchr(o->output, '/');
    const char *base = slash ? slash + 1 : o->output;
    size_t len = strlen(base);
    bool plain = len > 0 && len < 200;
    for (const char *p = base; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("._+-", *p);
    if (plain && len > 6 && strncmp(base, "lib", 3) == 0 && strcmp(base + len - 3, ".so") == 0)
        snprintf(buf, n,
                 " * Link: cc prog.c -L<folder of %s> -l%.*s -Wl,-rpath,<that folder>\n"
                 " * (or point LD_LIBRARY_PATH at the folder when running prog).\n%s",
                 base, (int)(len - 6), base + 3, ctx_note);
    else
        snprintf(buf, n,
                 " * Link: cc prog.c <path of %s>  (prog then loads the library from\n"
                 " * that path when it starts).\n%s",
                 plain ? base : "the shared library", ctx_note);
}

static int header_text(const ir_graph_t *g, const llvm_backend_opts_t *o, const target_t *t, char **text,
                       char *err, size_t n) {
    char link[1024], needs[512], decls[6144];
    link_doc(o, link, sizeof link);
    llvm_backend_cpu_needs(t->triple, t->cpu, t->features, needs, sizeof needs);
    /* The CPU and triple come from the command line: keep them out of a C comment unless plain. */
    bool plain = strlen(t->cpu) < 64 && strlen(t->triple) < 128;
    for (const char *p = t->cpu; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("._-", *p);
    for (const char *p = t->triple; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("._-", *p);
    snprintf(decls, sizeof decls,
             "\n/* Compiled for %s, CPU '%s'.\n"
             " * x86 features it needs: %s.\n"
             " * Code for features the running CPU lacks dies with SIGILL, so check before the\n"
             " * first %s_run (or %s_workspace_size):\n"
             " *     char msg[512];\n"
             " *     if (%s_check_cpu(msg, sizeof msg) != ONNXC_OK) { fprintf(stderr, \"%%s\\n\", msg); exit(1); }\n"
             " * %s_build_info also holds the onnxc version that compiled it. */\n"
             "extern const onnxc_build_info_t %s_build_info;\n"
             "static inline int %s_check_cpu(char *msg, size_t n) { return onnxc_cpu_check(&%s_build_info, msg, n); }\n"
             "/* When %s_run returns ONNXC_ERR_DATA (status & 0xff), %s_data_checks[(status >> 8) - 1]\n"
             " * says which node's input data were bad and how (an index out of range, a division by\n"
             " * zero). NULL-terminated. */\n"
             "extern const char *const %s_data_checks[];\n",
             plain ? t->triple : "the target in NAME_build_info", plain ? t->cpu : "?",
             needs[0] ? needs : "none beyond the baseline", o->name, o->name, o->name, o->name, o->name, o->name,
             o->name, o->name, o->name, o->name);
    if (o->weights_file) {
        size_t dl = strlen(decls);
        snprintf(decls + dl, sizeof decls - dl,
                 "\n/* Weights: in %s.weights beside the compiled file (a 64-byte header with size,\n"
                 " * hash and version, then the payload; runtime/onnxc_abi.h), not in the code.\n"
                 " * Load them once, read-only (the runtime's onnxc_weights_map maps and checks\n"
                 " * the file; or read it 64-byte aligned and call onnxc_weights_check), then bind\n"
                 " * the payload to every workspace before its first %s_run:\n"
                 " *     %s_bind_weights(workspace, payload);\n"
                 " * The workspace's first 64 bytes hold the binding (%s_workspace_size counts\n"
                 " * them); a run on an unbound workspace returns ONNXC_ERR_WEIGHTS. Workspaces\n"
                 " * and threads may share one payload. */\n"
                 "extern const onnxc_weights_info_t %s_weights_info;\n"
                 "static inline void %s_bind_weights(void *workspace, const void *payload) {\n"
                 "    onnxc_weights_bind(workspace, &%s_weights_info, payload);\n"
                 "}\n",
                 o->name, o->name, o->name, o->name, o->name, o->name, o->name);
    }
    if (o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_STATIC) {
        /* The library carries the runtime: its run context is declared here (as in
         * onnxc_rt.h; a repeated prototype is fine if both are included). */
        size_t dl = strlen(decls);
        snprintf(decls + dl, sizeof decls - dl,
                 "\n/* The runtime inside this library (runtime/onnxc_rt.h): a context whose\n"
                 " * parallel_for runs on a pool of n_threads threads made once here (the caller\n"
                 " * counts as one; <= 0: every usable core); NULL when threads cannot be made.\n"
                 " * One context may serve several models and runs, one run at a time. */\n"
                 "onnxc_ctx_t *onnxc_ctx_create(int n_threads);\n"
                 "void onnxc_ctx_destroy(onnxc_ctx_t *ctx);\n");
    }
    out_header_opts_t ho = {.name = o->name, .model_path = o->model_path, .link_doc = link, .extra_decls = decls};
    return out_header_text(g, &ho, text, err, n);
}

/* A device or pipe as output (-o /dev/null) gets no header beside it. */
static bool is_special(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static int compile(ir_graph_t *g, const llvm_backend_opts_t *o, char *err, size_t errlen) {
    if (!o || !o->output || !*o->output) return out_err(err, errlen, "no output file given");
    if (!out_valid_name(o->name))
        return out_err(err, errlen, "model name '%s' is not a valid C identifier", o->name ? o->name : "");
    if (o->opt_level < 0 || o->opt_level > 3) return out_err(err, errlen, "optimisation level %d is not 0..3", o->opt_level);
    bool to_stdout = strcmp(o->output, "-") == 0;
    if (to_stdout && o->emit != LLVM_EMIT_ASM && o->emit != LLVM_EMIT_LLVM_IR)
        return out_err(err, errlen, "only --emit=llvm and --emit=asm can write to standard output");
    char header[PATH_MAX] = "";
    if (o->header && *o->header) {
        snprintf(header, sizeof header, "%s", o->header);
    } else if (!o->header && (o->emit == LLVM_EMIT_OBJ || o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_STATIC) &&
               !is_special(o->output)) {
        if (llvm_backend_header_path(o->output, o->emit, header, sizeof header))
            return out_err(err, errlen, "cannot write a header for '%s': path too long", o->output);
    }
    if (o->weights_file && to_stdout)
        return out_err(err, errlen, "--weights=file needs an output file (its folder gets NAME.weights), not -o -");
    if (header[0] && strcmp(header, o->output) == 0)
        return out_err(err, errlen, "the header '%s' would overwrite the output", header);

    llvm_backend_times_t *tm = o->times;
    double t0 = now_ms();
    target_t t;
    if (target_create(&t, o, err, errlen)) return -1;
    if (o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_EXE || o->emit == LLVM_EMIT_STATIC) {
        /* The runtime archive and the C compiler driver are the host's: refuse before the
         * long compile, rather than pass the host linker foreign objects. */
        char *host = LLVMGetDefaultTargetTriple();
        size_t ha = strcspn(host, "-"), ta = strcspn(t.triple, "-");
        bool foreign = ha != ta || strncmp(host, t.triple, ha) != 0;
        LLVMDisposeMessage(host);
        if (foreign) {
            out_err(err, errlen,
                    "--emit=%s for target '%s' needs that target's runtime and linker, which this onnxc "
                    "does not have: compile with --emit=obj (or asm) and link with the target's toolchain "
                    "and an onnxc runtime built for it",
                    o->emit == LLVM_EMIT_SO ? "so" : o->emit == LLVM_EMIT_EXE ? "exe" : "static", t.triple);
            target_dispose(&t);
            return -1;
        }
    }
    lap(tm, tm ? &tm->target_ms : NULL, &t0);
    emitter_t e = {.g = g, .o = o};
    e.ctx = LLVMContextCreate();
    e.mod = LLVMModuleCreateWithNameInContext(o->name, e.ctx);
    e.i8 = LLVMInt8TypeInContext(e.ctx);
    e.i32 = LLVMInt32TypeInContext(e.ctx);
    e.i64 = LLVMInt64TypeInContext(e.ctx);
    e.ptr = LLVMPointerTypeInContext(e.ctx, 0);
    LLVMSetTarget(e.mod, t.triple);
    if (strncmp(t.triple, "riscv64", 7) == 0 && has_feature(t.features, "d")) {
        LLVMMetadataRef abi = LLVMMDStringInContext2(e.ctx, "lp64d", 5);
        LLVMAddModuleFlag(e.mod, LLVMModuleFlagBehaviorError, "target-abi", 10, abi);
    }
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(t.tm);
    LLVMSetModuleDataLayout(e.mod, dl);
    LLVMDisposeTargetData(dl);

    out_file_t out = {0}, obj = {0}, hdr = {0}, wts = {0};
    llvm_lower_t L = {.ctx = e.ctx, .mod = e.mod, .g = g, .name = o->name, .opt_level = o->opt_level,
                      .vector_bits = t.vector_bits, .weights_file = o->weights_file,
                      .progress = o->progress, .progress_ud = o->progress_ud};
    int rc = build_blob(&e, &L.blob, &wts, &L.weights_hash, err, errlen);
    /* The lowering reports each refused node in g->diags itself. */
    if (rc == 0 && llvm_lower_graph(&L) != 0) rc = -1;
    if (rc == 0) rc = build_descriptor(&e, err, errlen);
    if (rc == 0) rc = build_info(&e, &t, err, errlen);
    lap(tm, tm ? &tm->lower_ms : NULL, &t0);
    if (rc == 0) rc = verify_and_optimise(&e, &t, err, errlen);
    if (rc == 0) rc = write_output(&e, &t, &out, &obj, err, errlen);
    t0 = now_ms();
    if (rc == 0 && header[0]) {
        char *text = NULL;
        rc = header_text(g, o, &t, &text, err, errlen);
        if (rc == 0) rc = out_file_create(&hdr, header, "", err, errlen);
        if (rc == 0) rc = out_file_write(&hdr, text, strlen(text), err, errlen);
        free(text);
    }
    lap(tm, tm ? &tm->header_ms : NULL, &t0);
    /* Everything exists; now make it visible, output first. */
    if (rc == 0 && out.live) rc = out_file_commit(&out, o->emit == LLVM_EMIT_EXE || o->emit == LLVM_EMIT_SO, err, errlen);
    if (rc == 0 && hdr.live) rc = out_file_commit(&hdr, false, err, errlen);
    if (rc == 0 && wts.live) rc = out_file_commit(&wts, false, err, errlen);
    out_file_discard(&wts, rc != 0);
    out_file_discard(&obj, false);
    out_file_discard(&hdr, rc != 0);
    out_file_discard(&out, rc != 0);

    LLVMDisposeModule(e.mod);
    LLVMContextDispose(e.ctx);
    target_dispose(&t);
    return rc;
}

/* The steps above share outcode.h's convention (one formatted line in a buffer); at the
 * public boundary that line becomes a diagnostic of its own. */
int llvm_backend_target(const llvm_backend_opts_t *o, struct ir_target *t, ir_diags_t *diags) {
    char err[IR_ERR_MAX] = "";
    if (backend_target(o, t, err, sizeof err) == 0) return 0;
    return ir_diag_add(diags, IR_SEV_ERROR, "", NULL, NULL, "%s", err[0] ? err : "cannot set up the target");
}

int llvm_backend_compile(ir_graph_t *g, const llvm_backend_opts_t *o) {
    if (!g) return -1;
    char err[IR_ERR_MAX] = "";
    int before = g->diags.n_errors;
    if (compile(g, o, err, sizeof err) == 0) return 0;
    if (err[0] || g->diags.n_errors == before)
        ir_diag_add(&g->diags, IR_SEV_ERROR, "", NULL, NULL, "%s", err[0] ? err : "code generation failed");
    return -1;
}
