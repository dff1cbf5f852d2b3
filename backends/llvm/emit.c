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

void llvm_backend_version(char *buf, size_t n) {
    unsigned a = 0, b = 0, c = 0;
    LLVMGetVersion(&a, &b, &c);
    snprintf(buf, n, "LLVM %u.%u.%u", a, b, c);
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
    bool x86 = strncmp(t->triple, "x86_64", 6) == 0 || (t->triple[0] == 'i' && strstr(t->triple, "86"));
    if (!x86)
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
static int build_blob(emitter_t *e, LLVMValueRef *out, char *err, size_t n) {
    *out = NULL;
    unsigned char *bytes = NULL;
    size_t size = 0;
    if (out_weights_blob(e->g, &bytes, &size, err, n)) return -1;
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
    if (d.n_syms > 0) {
        LLVMValueRef *sv = malloc(sizeof(LLVMValueRef) * (size_t)d.n_syms);
        if (sv) {
            for (int s = 0; s < d.n_syms; s++) sv[s] = cstring(e, d.sym_names[s]);
            syms = private_const(e, LLVMConstArray2(e->ptr, sv, (uint64_t)d.n_syms), ".sym_names");
            free(sv);
        } else {
            syms = NULL;
        }
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

/* ------------------------------------------------------------------ pipeline */

static int verify_and_optimise(emitter_t *e, target_t *t, char *err, size_t n) {
    char *msg = NULL;
    if (LLVMVerifyModule(e->mod, LLVMReturnStatusAction, &msg)) {
        char first[1024];
        snprintf(first, sizeof first, "%s", msg ? msg : "");
        first[strcspn(first, "\n")] = 0;
        LLVMDisposeMessage(msg);
        return out_err(err, n, "%s: internal error: invalid LLVM IR: %s", e->g->path, first);
    }
    LLVMDisposeMessage(msg);
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", e->o->opt_level);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    bool vec = e->o->opt_level >= 2;
    LLVMPassBuilderOptionsSetLoopVectorization(po, vec);
    LLVMPassBuilderOptionsSetSLPVectorization(po, vec);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, e->o->opt_level >= 1);
    LLVMErrorRef le = LLVMRunPasses(e->mod, pipeline, t->tm, po);
    LLVMDisposePassBuilderOptions(po);
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

/* Writes the main output (and links it for SO/EXE) into temporaries; commit happens in
 * the caller so the header and the output appear together. */
static int write_output(emitter_t *e, target_t *t, out_file_t *out, out_file_t *obj, char *err, size_t n) {
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
    bool link = o->emit == LLVM_EMIT_SO || o->emit == LLVM_EMIT_EXE;
    char archive[PATH_MAX];
    if (link) {
        const char *rd = o->runtime_dir && *o->runtime_dir ? o->runtime_dir : ".";
        int k = snprintf(archive, sizeof archive, "%s/libonnxc_rt.a", rd);
        if (k < 0 || (size_t)k >= sizeof archive || access(archive, R_OK) != 0)
            return out_err(err, n, "runtime library '%s/libonnxc_rt.a' not found (build the onnxc_rt target or set ONNXC_RUNTIME_DIR)", rd);
    }
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
    if (!link) return 0;
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

int llvm_backend_header_path(const char *output, llvm_emit_kind_t emit, char *buf, size_t n) {
    return out_header_path(output, emit == LLVM_EMIT_SO, buf, n);
}

/* The header's "Link:" lines for what this compile produced. A shared library is named on
 * the link line by -l when it is lib*.so, by its path otherwise; either way the program
 * needs the folder at run time too. File names reach a C comment, so an odd one is not
 * spelled out. */
static void link_doc(const llvm_backend_opts_t *o, char *buf, size_t n) {
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

static int header_text(const ir_graph_t *g, const llvm_backend_opts_t *o, char **text, char *err, size_t n) {
    char link[1024];
    link_doc(o, link, sizeof link);
    out_header_opts_t ho = {.name = o->name, .model_path = o->model_path, .link_doc = link};
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
    } else if (!o->header && (o->emit == LLVM_EMIT_OBJ || o->emit == LLVM_EMIT_SO) && !is_special(o->output)) {
        if (llvm_backend_header_path(o->output, o->emit, header, sizeof header))
            return out_err(err, errlen, "cannot write a header for '%s': path too long", o->output);
    }
    if (header[0] && strcmp(header, o->output) == 0)
        return out_err(err, errlen, "the header '%s' would overwrite the output", header);

    target_t t;
    if (target_create(&t, o, err, errlen)) return -1;
    emitter_t e = {.g = g, .o = o};
    e.ctx = LLVMContextCreate();
    e.mod = LLVMModuleCreateWithNameInContext(o->name, e.ctx);
    e.i8 = LLVMInt8TypeInContext(e.ctx);
    e.i32 = LLVMInt32TypeInContext(e.ctx);
    e.i64 = LLVMInt64TypeInContext(e.ctx);
    e.ptr = LLVMPointerTypeInContext(e.ctx, 0);
    LLVMSetTarget(e.mod, t.triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(t.tm);
    LLVMSetModuleDataLayout(e.mod, dl);
    LLVMDisposeTargetData(dl);

    out_file_t out = {0}, obj = {0}, hdr = {0};
    llvm_lower_t L = {.ctx = e.ctx, .mod = e.mod, .g = g, .name = o->name, .opt_level = o->opt_level,
                      .vector_bits = t.vector_bits};
    int rc = build_blob(&e, &L.blob, err, errlen);
    /* The lowering reports each refused node in g->diags itself. */
    if (rc == 0 && llvm_lower_graph(&L) != 0) rc = -1;
    if (rc == 0) rc = build_descriptor(&e, err, errlen);
    if (rc == 0) rc = verify_and_optimise(&e, &t, err, errlen);
    if (rc == 0) rc = write_output(&e, &t, &out, &obj, err, errlen);
    if (rc == 0 && header[0]) {
        char *text = NULL;
        rc = header_text(g, o, &text, err, errlen);
        if (rc == 0) rc = out_file_create(&hdr, header, "", err, errlen);
        if (rc == 0) rc = out_file_write(&hdr, text, strlen(text), err, errlen);
        free(text);
    }
    /* Everything exists; now make it visible, output first. */
    if (rc == 0 && out.live) rc = out_file_commit(&out, o->emit == LLVM_EMIT_EXE || o->emit == LLVM_EMIT_SO, err, errlen);
    if (rc == 0 && hdr.live) rc = out_file_commit(&hdr, false, err, errlen);
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
