/* The LLVM backend's public face: a scheduled graph (passes/passes.h contract) -> an
 * object file, assembly, LLVM IR, a shared library or a standalone executable, plus the
 * generated C header that documents the ABI of runtime/onnxc_abi.h for this model (its
 * text, the descriptor and weights data and the atomic output files come from
 * backends/common/outcode.h, shared with the other backends).
 *
 * Outputs appear atomically: everything is written to temporary files beside the output
 * and renamed into place at the end, so a failure at any step leaves nothing behind. */
#ifndef ONNXC_LLVM_BACKEND_H
#define ONNXC_LLVM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llvm_emit_kind {
    LLVM_EMIT_OBJ,      /* relocatable object + NAME.h */
    LLVM_EMIT_ASM,      /* textual assembly */
    LLVM_EMIT_LLVM_IR,  /* textual LLVM IR (.ll) */
    LLVM_EMIT_SO,       /* shared library (object linked with the runtime) + NAME.h */
    LLVM_EMIT_EXE,      /* standalone program: object + the runtime's main */
    LLVM_EMIT_STATIC,   /* static library libNAME.a (object + the runtime's objects) + NAME.h */
} llvm_emit_kind_t;

typedef struct llvm_backend_opts {
    const char *name;         /* symbol prefix (required; see out_valid_name) */
    int opt_level;            /* 0..3 */
    const char *cpu;          /* NULL or "native": the host's CPU and features */
    const char *triple;       /* NULL: the default (host) triple */
    llvm_emit_kind_t emit;
    const char *output;       /* path; "-" = stdout (ASM and LLVM_IR only) */
    const char *header;       /* NULL: derived from output for OBJ/SO (see
                                 llvm_backend_header_path); "": no header */
    const char *runtime_dir;  /* folder holding libonnxc_rt.a (SO and EXE) */
    const char *cc;           /* C compiler driver used to link; NULL: "cc" */
    const char *ar;           /* archiver for STATIC; NULL: "ar" */
    bool weights_file;        /* weights to <output folder>/NAME.weights (llvm_backend_weights_path),
                                 not into the code; the code checks and takes them at run time */
    const char *model_path;   /* for the header's comment; NULL: g->path */
    const char *version;      /* compiler version recorded in NAME_build_info; NULL: "onnxc" */
    struct llvm_backend_times *times; /* NULL, or filled with the time of each phase */
    /* NULL, or called as each phase starts (done = total = 0) and as the lowering goes
     * through the graph's nodes (done of total); for a progress line on a terminal */
    void (*progress)(void *ud, const char *phase, int done, int total);
    void *progress_ud;
} llvm_backend_opts_t;

/* Wall-clock milliseconds of each phase of llvm_backend_compile, for --time-passes.
 * A phase that did not run stays 0. */
typedef struct llvm_backend_times {
    double target_ms;    /* creating the target machine */
    double lower_ms;     /* weights blob, kernels and descriptor as LLVM IR */
    double verify_ms;    /* the IR verifier */
    double optimise_ms;  /* LLVM's default<On> pipeline */
    double codegen_ms;   /* instruction selection to register allocation to .o/.s (or printing .ll) */
    double link_ms;      /* the C compiler driver linking .so/exe */
    double header_ms;    /* NAME.h */
} llvm_backend_times_t;

struct ir_target;
/* Fills *t (ir/sched.h) for the CPU that o->triple and o->cpu select, from the same
 * CPU name and features llvm_backend_compile targets: AVX-512 gives 16 float32 lanes
 * and 32 registers, AVX 8 lanes and 16, anything else the generic 4 and 16. Cache sizes
 * and the thread count are the host's when compiling for it, defaults otherwise. The
 * schedule (pass_options_t.target) is made from it. 0, or -1 with the reason appended to
 * diags (ir/diag.h; may be NULL). */
int llvm_backend_target(const llvm_backend_opts_t *o, struct ir_target *t, ir_diags_t *diags);

/* Compiles g (already scheduled by pass_run_pipeline) as described by o.
 * 0 on success; -1 with the reasons appended to g->diags: every node the lowering refuses,
 * or the one step that failed. Never leaves partial files. */
int llvm_backend_compile(ir_graph_t *g, const llvm_backend_opts_t *o);

/* The header path that goes with an OBJ/SO/STATIC output: the output's extension replaced
 * by ".h" (a "lib" prefix is dropped for SO and STATIC: libmlp.so -> mlp.h). -1 if it does not fit. */
int llvm_backend_header_path(const char *output, llvm_emit_kind_t emit, char *buf, size_t n);

/* The weights file that goes with an output compiled with weights_file: NAME.weights in
 * the output's folder. -1 if it does not fit. */
int llvm_backend_weights_path(const char *output, const char *name, char *buf, size_t n);

/* The x86 features (LLVM names, comma-separated) that code compiled for o's triple and
 * CPU may use and a running CPU must have: the "+" features of the host for native, a
 * table of named CPUs otherwise (features LLVM enables for them that onnxc_cpu_check
 * knows). "" for other architectures or a CPU not in the table. */
void llvm_backend_cpu_needs(const char *triple, const char *cpu, const char *features, char *buf, size_t n);

/* "LLVM 19.1.7", for --version. */
void llvm_backend_version(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
