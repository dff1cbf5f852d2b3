/* onnxc: the command line. Loads a model, runs the pass pipeline, hands the scheduled
 * graph to the LLVM backend. Every problem is one line on stderr, "onnxc: error: ...", and
 * a run reports all it found (every node the compiler refuses), not only the first;
 * exit 1 for a bad model or a failed compile, 2 for a bad command line. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/common/outcode.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/llvm/llvm_backend.h"
#include "frontend/frontend.h"
#include "ir/ir.h"
#include "ir/sched.h"
#include "passes/passes.h"

#ifndef ONNXC_VERSION
#define ONNXC_VERSION "0.1.0"
#endif
#ifndef ONNXC_RUNTIME_DIR
#define ONNXC_RUNTIME_DIR ""
#endif
/* The installed runtime's folder relative to the installed onnxc's (bin -> lib). */
#ifndef ONNXC_INSTALL_RT_REL
#define ONNXC_INSTALL_RT_REL "../lib"
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static const char usage_text[] =
    "usage: onnxc MODEL.onnx [options]\n"
    "\n"
    "Compiles an ONNX model ahead of time into native code for the CPU.\n"
    "\n"
    "options:\n"
    "  -o FILE          output file (\"-\": standard output, for --emit=llvm|asm)\n"
    "  --emit=KIND      obj  object file + NAME.h (default)     -> MODEL.o\n"
    "                   static static library + NAME.h         -> libMODEL.a\n"
    "                        (runtime inside: cc prog.c libMODEL.a -lm -lpthread)\n"
    "                   so   shared library + NAME.h            -> libMODEL.so\n"
    "                   exe  standalone program, weights inside -> MODEL\n"
    "                   llvm LLVM IR                            -> MODEL.ll\n"
    "                   asm  assembly                           -> MODEL.s\n"
    "  --name SYMBOL    prefix of the generated symbols (SYMBOL_run, SYMBOL_desc, ...);\n"
    "                   default: the output's base name made a C identifier\n"
    "  -O0 .. -O3       optimisation level (default -O2)\n"
    "  --weights=MODE   embed: weights inside the code (default); file: in NAME.weights\n"
    "                   beside the output (64-byte header: size, hash, version), which\n"
    "                   the code checks and takes at run time (NAME_bind_weights; a\n"
    "                   program maps it from beside itself, or --weights FILE)\n"
    "  --cpu NAME       target CPU, e.g. znver3, skylake-avx512 (default: native = this host;\n"
    "                   for binaries that ship elsewhere: x86-64-v3, any AVX2 x86-64)\n"
    "  --triple T       target triple (default: the host's)\n"
    "  --dump-ir        print the scheduled graph and its memory plan (stdout, or stderr\n"
    "                   when the output goes to stdout)\n"
    "  --trace-passes   print each pass and its time on stderr\n"
    "  --time-passes    print a table of where the compile's time went (loading, each\n"
    "                   graph pass, LLVM lowering, optimisation, code generation, linking)\n"
    "                   on stderr\n"
    "                   (on a terminal, a one-line progress indicator shows the phase;\n"
    "                   ONNXC_PROGRESS=0 turns it off, =1 on without a terminal)\n"
    "  --dim NAME=V     fix symbolic dimension NAME to V at compile time (repeatable)\n"
    "  --shape IN=AxBxC fix graph input IN's whole shape (its symbolic dims follow; a\n"
    "                   static dim must agree) (repeatable)\n"
    "  --bind NAME=FILE make graph input NAME a constant holding the tensor in FILE\n"
    "                   (.pb TensorProto); the program then takes the other inputs\n"
    "  -MD              also write a make-style depfile (like cc -MD): the output depends\n"
    "                   on the model, every external-data and --bind file read, and this\n"
    "                   onnxc; written only when the compile succeeds\n"
    "  -MF FILE         the depfile's name (implies -MD; default: the output with its\n"
    "                   suffix replaced by .d, as cc does: x.o -> x.d)\n"
    "  -MT TARGET       the rule's target (default: the output as given by -o)\n"
    "  --target=T       cpu (default); cuda: CUDA C (NAME.cu + NAME.h; --emit=obj|so|exe build\n"
    "                   it with nvcc: $ONNXC_NVCC, else nvcc on PATH); cuda-emu: the same CUDA C\n"
    "                   built with the host C++ compiler against onnxc's CUDA emulation, so it\n"
    "                   runs on the CPU (for testing); --emit=cu|obj|so|exe, default cu\n"
    "  --cuda-arch SM   sm_90 (default), sm_80 or sm_89 (with --target=cuda)\n"
    "  --help           this text\n"
    "  --version, -V    compiler and LLVM versions\n"
    "\n"
    "environment: ONNXC_RUNTIME_DIR  folder holding libonnxc_rt.a (for --emit=static|so|exe;\n"
    "                                default: beside onnxc, then its install's lib/)\n"
    "             CC                 C compiler driver used to link (default: cc)\n"
    "             AR                 archiver for --emit=static (default: ar)\n";

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...) {
    char msg[IR_ERR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line, whatever a lower layer put in the message. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "onnxc: error: %s\n", msg);
    exit(code);
}

#define USAGE_ERR(...) die(2, __VA_ARGS__)

/* Prints every diagnostic of a failed step, frees the graph, exits 1. The backend has
 * removed any output it started, so nothing is left behind. */
/* ---------------------------------------------------------------- progress line */
/* One line on stderr, rewritten in place, while a compile runs on a terminal: the phase
 * and, while lowering, nodes done of total. Off when stderr is not a terminal or TERM is
 * dumb; ONNXC_PROGRESS=0 turns it off, =1 on (also without a terminal). Cleared before
 * anything else is printed and when the compile ends. */
static struct {
    bool on, shown;
    const char *model;
    double last;
} progress_state;

static double now_ms(void);

static void progress_init(const char *model) {
    const char *env = getenv("ONNXC_PROGRESS"), *term = getenv("TERM");
    if (env && *env) progress_state.on = strcmp(env, "0") != 0;
    else progress_state.on = isatty(2) && !(term && strcmp(term, "dumb") == 0);
    size_t len = model ? strlen(model) : 0;   /* the path as given, its last 40 bytes */
    progress_state.model = len > 40 ? model + len - 40 : model ? model : "";
}

static void progress_clear(void) {
    if (!progress_state.shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    progress_state.shown = false;
}

static void progress(void *ud, const char *phase, int done, int total) {
    (void)ud;
    if (!progress_state.on) return;
    double t = now_ms();
    if (total > 0 && done > 0 && done < total && t - progress_state.last < 100) return;   /* 10 per second */
    progress_state.last = t;
    if (total > 0) fprintf(stderr, "\r\033[Konnxc: %s: %s %d/%d", progress_state.model, phase, done, total);
    else fprintf(stderr, "\r\033[Konnxc: %s: %s", progress_state.model, phase);
    fflush(stderr);
    progress_state.shown = true;
}

static void fail(ir_diags_t *d, ir_graph_t *g, const char *what) __attribute__((noreturn));
static void fail(ir_diags_t *d, ir_graph_t *g, const char *what) {
    progress_clear();
    if (g && d != &g->diags) ir_diags_move(d, &g->diags);
    if (!ir_diags_has_errors(d)) ir_diag_add(d, IR_SEV_ERROR, "", NULL, NULL, "%s", what);
    ir_diags_print(d, stderr, "onnxc");
    ir_diags_free(d);
    ir_graph_free(g);
    exit(1);
}

typedef struct options {
    const char *model;
    const char *output;
    const char *name;
    const char *cpu;
    const char *triple;
    llvm_emit_kind_t emit;
    int target;                /* 0 cpu, 1 cuda, 2 cuda-emu */
    int cuda_emit;             /* cuda_emit_kind_t; -1: not given (default cu) */
    const char *cuda_arch;
    int opt_level;
    bool dump_ir;
    bool trace_passes;
    int n_bind;
    char bind_name[16][256];
    const char *bind_file[16];
    bool dep_md;            /* -MD: write a depfile */
    const char *dep_file;   /* -MF */
    const char *dep_target; /* -MT */
    bool time_passes;
    bool weights_file;         /* --weights=file */
    int n_dim;                 /* --dim NAME=V */
    char dim_name[16][256];
    int64_t dim_value[16];
    int n_shape;               /* --shape INPUT=AxBxC */
    char shape_input[16][256];
    int shape_rank[16];
    int64_t shape_dims[16][IR_MAX_RANK];
} options_t;

/* "V" as a dimension: an integer in 1..2^31-1 (the program's symbol limit). */
static bool parse_dim_value(const char *s, const char *end, int64_t *out) {
    if (s == end || end - s > 10) return false;
    int64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p)) return false;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > INT32_MAX) return false;
    *out = v;
    return true;
}

/* "onnxc 0.1.0-5-g71058f2 (LLVM 19.1.7)": printed by --version and recorded in every
 * generated object (NAME_build_info), so a program can say what compiled it. */
static const char *version_line(void) {
    static char line[256];
    if (!line[0]) {
        char llvm[64];
        llvm_backend_version(llvm, sizeof llvm);
        snprintf(line, sizeof line, "onnxc %s (%s)", ONNXC_VERSION, llvm);
    }
    return line;
}

static llvm_emit_kind_t parse_emit(const char *s) {
    static const struct { const char *name; llvm_emit_kind_t k; } kinds[] = {
        {"obj", LLVM_EMIT_OBJ}, {"so", LLVM_EMIT_SO}, {"exe", LLVM_EMIT_EXE},
        {"llvm", LLVM_EMIT_LLVM_IR}, {"asm", LLVM_EMIT_ASM}, {"static", LLVM_EMIT_STATIC},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(s, kinds[i].name) == 0) return kinds[i].k;
    USAGE_ERR("unknown --emit kind '%s' (expected obj, static, so, exe, llvm or asm)", s);
}

/* "--opt=VALUE" or "--opt VALUE"; returns the value, or NULL if arg is not --opt. */
static const char *long_value(const char *opt, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) USAGE_ERR("%s needs a value", opt);
    return argv[++*i];
}

static void parse_args(int argc, char **argv, options_t *o) {
    memset(o, 0, sizeof *o);
    o->opt_level = 2;
    o->cuda_emit = -1;
    o->emit = LLVM_EMIT_OBJ;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("%s\n", version_line());
            exit(0);
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) USAGE_ERR("-o needs a file name");
            o->output = argv[++i];
        } else if (strncmp(a, "-o", 2) == 0 && a[2] != 0) {
            o->output = a + 2;
        } else if ((v = long_value("--output", argc, argv, &i))) {
            o->output = v;
        } else if ((v = long_value("--emit", argc, argv, &i))) {
            if (strcmp(v, "cu") == 0) o->cuda_emit = CUDA_EMIT_CU;
            else {
                o->emit = parse_emit(v);
                o->cuda_emit = o->emit == LLVM_EMIT_OBJ ? CUDA_EMIT_OBJ : o->emit == LLVM_EMIT_SO ? CUDA_EMIT_SO
                             : o->emit == LLVM_EMIT_EXE ? CUDA_EMIT_EXE : -2;
            }
        } else if ((v = long_value("--cuda-arch", argc, argv, &i))) {
            if (strcmp(v, "sm_90") && strcmp(v, "sm_80") && strcmp(v, "sm_89"))
                USAGE_ERR("unknown --cuda-arch '%s' (expected sm_90, sm_80 or sm_89)", v);
            o->cuda_arch = v;
        } else if ((v = long_value("--name", argc, argv, &i))) {
            if (!out_valid_name(v)) USAGE_ERR("--name '%s' is not a valid C identifier", v);
            o->name = v;
        } else if ((v = long_value("--cpu", argc, argv, &i)) || (v = long_value("-mcpu", argc, argv, &i))) {
            if (!*v) USAGE_ERR("--cpu needs a CPU name");
            o->cpu = v;
        } else if ((v = long_value("--triple", argc, argv, &i))) {
            if (!*v) USAGE_ERR("--triple needs a target triple");
            o->triple = v;
        } else if ((v = long_value("--target", argc, argv, &i))) {
            if (strcmp(v, "cpu") == 0 || strcmp(v, "llvm") == 0) o->target = 0;
            else if (strcmp(v, "cuda") == 0) o->target = 1;
            else if (strcmp(v, "cuda-emu") == 0) o->target = 2;
            else USAGE_ERR("unknown --target '%s' (expected cpu, cuda or cuda-emu)", v);
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && a[3] == 0) {
            o->opt_level = a[2] - '0';
        } else if (strcmp(a, "-O") == 0) {
            o->opt_level = 2;
        } else if (strcmp(a, "--dump-ir") == 0) {
            o->dump_ir = true;
        } else if ((v = long_value("--bind", argc, argv, &i))) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1]) USAGE_ERR("--bind needs NAME=FILE, got '%s'", v);
            if (o->n_bind == 16) USAGE_ERR("at most 16 --bind options");
            if (eq - v >= (long)sizeof o->bind_name[0]) USAGE_ERR("--bind: input name too long");
            snprintf(o->bind_name[o->n_bind], sizeof o->bind_name[0], "%.*s", (int)(eq - v), v);
            o->bind_file[o->n_bind++] = eq + 1;
        } else if (strcmp(a, "-MD") == 0) {
            o->dep_md = true;
        } else if (strncmp(a, "-MF", 3) == 0 || strncmp(a, "-MT", 3) == 0) {
            /* gcc spells these "-MF FILE" or "-MFFILE". */
            const char *val = a[3] ? a + 3 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || !*val) USAGE_ERR("%.3s needs a %s", a, a[2] == 'F' ? "file name" : "target");
            if (a[2] == 'F') o->dep_file = val, o->dep_md = true;
            else o->dep_target = val;
        } else if (strcmp(a, "--trace-passes") == 0) {
            o->trace_passes = true;
        } else if ((v = long_value("--weights", argc, argv, &i))) {
            if (strcmp(v, "file") == 0) o->weights_file = true;
            else if (strcmp(v, "embed") == 0) o->weights_file = false;
            else USAGE_ERR("unknown --weights mode '%s' (expected embed or file)", v);
        } else if (strcmp(a, "--time-passes") == 0) {
            o->time_passes = true;
        } else if ((v = long_value("--dim", argc, argv, &i))) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) USAGE_ERR("--dim needs NAME=VALUE, got '%s'", v);
            if (o->n_dim == 16) USAGE_ERR("at most 16 --dim options");
            if (eq - v >= (long)sizeof o->dim_name[0]) USAGE_ERR("--dim: dimension name too long");
            if (!parse_dim_value(eq + 1, eq + strlen(eq), &o->dim_value[o->n_dim]))
                USAGE_ERR("--dim %s: the value must be an integer in 1..%d", v, INT32_MAX);
            snprintf(o->dim_name[o->n_dim++], sizeof o->dim_name[0], "%.*s", (int)(eq - v), v);
        } else if ((v = long_value("--shape", argc, argv, &i))) {
            /* The name may itself hold '=' or 'x'; the shape is after the last '='. */
            const char *eq = strrchr(v, '=');
            if (!eq || eq == v || !eq[1]) USAGE_ERR("--shape needs INPUT=AxBxC, got '%s'", v);
            if (o->n_shape == 16) USAGE_ERR("at most 16 --shape options");
            if (eq - v >= (long)sizeof o->shape_input[0]) USAGE_ERR("--shape: input name too long");
            int k = o->n_shape, r = 0;
            for (const char *p = eq + 1;; r++) {
                const char *x = strchr(p, 'x');
                const char *end = x ? x : p + strlen(p);
                if (r == IR_MAX_RANK) USAGE_ERR("--shape %s: more than %d dimensions", v, IR_MAX_RANK);
                if (!parse_dim_value(p, end, &o->shape_dims[k][r]))
                    USAGE_ERR("--shape %s: dimensions must be integers in 1..%d joined by 'x' (e.g. 1x3x224x224)", v,
                              INT32_MAX);
                if (!x) break;
                p = x + 1;
            }
            o->shape_rank[k] = r + 1;
            snprintf(o->shape_input[o->n_shape++], sizeof o->shape_input[0], "%.*s", (int)(eq - v), v);
        } else if (a[0] == '-' && a[1] != 0) {
            USAGE_ERR("unknown option '%s' (see onnxc --help)", a);
        } else {
            if (o->model) USAGE_ERR("more than one model given ('%s' and '%s')", o->model, a);
            o->model = a;
        }
    }
    if (!o->model) {
        fputs(usage_text, stderr);
        USAGE_ERR("no model file given");
    }
    if (o->output && !*o->output) USAGE_ERR("-o needs a file name");
    if (o->target == 0 && o->cuda_emit == CUDA_EMIT_CU) USAGE_ERR("--emit=cu needs --target=cuda or --target=cuda-emu");
    if (o->target == 0 && o->cuda_arch) USAGE_ERR("--cuda-arch needs --target=cuda");
    if (o->target != 0) {
        if (o->cuda_emit == -2) USAGE_ERR("--target=%s: --emit must be cu, obj, so or exe", o->target == 1 ? "cuda" : "cuda-emu");
        if (o->cuda_emit == -1) o->cuda_emit = CUDA_EMIT_CU;
        if (o->cpu || o->triple) USAGE_ERR("--cpu/--triple are for --target=cpu");
    }
    if (o->dep_target && !o->dep_md) USAGE_ERR("-MT needs -MD or -MF (no depfile is written)");
}

/* The model's file name without folder and extension. */
static void model_stem(const char *model, char *buf, size_t n) {
    const char *slash = strrchr(model, '/');
    const char *base = slash ? slash + 1 : model;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    snprintf(buf, n, "%.*s", (int)len, base);
    if (!buf[0]) snprintf(buf, n, "model");
}

static void default_output(const options_t *o, char *buf, size_t n) {
    char stem[PATH_MAX - 16];   /* room for the prefix and extension */
    model_stem(o->model, stem, sizeof stem);
    if (o->target != 0 && o->cuda_emit == CUDA_EMIT_CU) {
        snprintf(buf, n, "%s.cu", stem);
        return;
    }
    switch (o->emit) {
    case LLVM_EMIT_OBJ: snprintf(buf, n, "%s.o", stem); break;
    case LLVM_EMIT_SO: snprintf(buf, n, "lib%s.so", stem); break;
    case LLVM_EMIT_STATIC: snprintf(buf, n, "lib%s.a", stem); break;
    case LLVM_EMIT_EXE: snprintf(buf, n, "%s", stem); break;
    case LLVM_EMIT_LLVM_IR: snprintf(buf, n, "%s.ll", stem); break;
    case LLVM_EMIT_ASM: snprintf(buf, n, "%s.s", stem); break;
    }
}

/* The output's base name (lib prefix and extension dropped) made a C identifier. */
static void default_name(const options_t *o, const char *output, char *buf, size_t n) {
    const char *src = strcmp(output, "-") == 0 ? o->model : output;
    const char *slash = strrchr(src, '/');
    const char *base = slash ? slash + 1 : src;
    if (strncmp(base, "lib", 3) == 0 && base[3] && base[3] != '.') base += 3;
    const char *dot = strchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len > 120) len = 120;
    size_t k = 0;
    if (len == 0 || isdigit((unsigned char)base[0])) buf[k++] = len ? '_' : 'm';
    for (size_t i = 0; i < len && k + 1 < n; i++) {
        unsigned char c = (unsigned char)base[i];
        buf[k++] = (isalnum(c) && c < 0x80) ? (char)c : '_';
    }
    buf[k] = 0;
    if (strcmp(buf, "m") == 0) snprintf(buf, n, "model");
}

static bool file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ONNXC_RUNTIME_DIR from the environment, then runtime/ beside this executable (an
 * installed or moved build tree), then the build tree this binary came from. */
static void runtime_dir(char *buf, size_t n) {
    const char *env = getenv("ONNXC_RUNTIME_DIR");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash && strlen(exe) < PATH_MAX - 32) {
            *slash = 0;
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/runtime/libonnxc_rt.a", exe);
            if (file_exists(cand)) {
                snprintf(buf, n, "%.*s/runtime", PATH_MAX - 32, exe);
                return;
            }
        }
    }
    /* An installed onnxc (PREFIX/bin) finds PREFIX/lib/libonnxc_rt.a. */
    if (k > 0 && strlen(exe) < PATH_MAX - 64) {
        char cand[PATH_MAX + 64];
        snprintf(cand, sizeof cand, "%s/" ONNXC_INSTALL_RT_REL "/libonnxc_rt.a", exe);
        if (file_exists(cand)) {
            snprintf(buf, n, "%s/%s", exe, ONNXC_INSTALL_RT_REL);
            return;
        }
    }
    snprintf(buf, n, "%s", ONNXC_RUNTIME_DIR);
}

/* ---- depfile (-MD -MF -MT) ---------------------------------------------------------- */

/* A growing text; out of memory ends the run like any other failure. */
typedef struct dep_text { char *s; size_t len, cap; } dep_text_t;

static void dep_raw(dep_text_t *t, const char *p, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap : 256;
        while (nc < t->len + n + 1) nc *= 2;
        char *ns = realloc(t->s, nc);
        if (!ns) die(1, "out of memory writing the depfile");
        t->s = ns, t->cap = nc;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = 0;
}

/* Appends a path escaped as make reads it: '$' doubles, space, tab and '#' take a
 * backslash. A newline cannot be written at all: false. */
static bool dep_path(dep_text_t *t, const char *p) {
    if (strpbrk(p, "\n\r")) return false;
    for (; *p; p++) {
        if (*p == '$') dep_raw(t, "$", 1);
        else if (*p == ' ' || *p == '\t' || *p == '#') dep_raw(t, "\\", 1);
        dep_raw(t, p, 1);
    }
    return true;
}

/* "TARGET: MODEL FILES... ONNXC", one prerequisite a line, written atomically once the
 * compile has succeeded, so a build system never sees a depfile for a failed output.
 * onnxc itself is listed so that a new compiler rebuilds every model. */
static void write_depfile(const options_t *o, const char *output, const ir_graph_t *g) {
    char path[PATH_MAX + 8], self[PATH_MAX];
    if (o->dep_file)
        snprintf(path, sizeof path, "%s", o->dep_file);
    else if (strcmp(output, "-") == 0)
        die(1, "-MD with -o -: name the depfile with -MF");
    else {
        /* As cc -MD: the output with its suffix replaced, x.o -> x.d. */
        const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
        size_t n = dot && dot > (slash ? slash + 1 : output) ? (size_t)(dot - output) : strlen(output);
        snprintf(path, sizeof path, "%.*s.d", (int)n, output);
    }
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) die(1, "cannot write the depfile '%s': cannot find onnxc's own path: %s", path, strerror(errno));
    self[k] = 0;
    dep_text_t t = {0};
    const char *target = o->dep_target ? o->dep_target : output;
    const char *bad = dep_path(&t, target) ? NULL : target;
    dep_raw(&t, ":", 1);
    for (int i = -1; i <= g->n_files_read && !bad; i++) {
        const char *d = i < 0 ? o->model : i == g->n_files_read ? self : g->files_read[i];
        dep_raw(&t, " \\\n  ", 5);
        if (!dep_path(&t, d)) bad = d;
    }
    if (bad) {
        free(t.s);
        die(1, "cannot write the depfile '%s': the path '%s' has a newline", path, bad);
    }
    dep_raw(&t, "\n", 1);
    char err[PATH_MAX + 256];
    int rc = out_write_file(path, t.s, t.len, false, err, sizeof err);
    free(t.s);
    if (rc != 0) die(1, "cannot write the depfile: %s", err);
}

/* Refuse early what would only fail after a long compile. */
static void check_output(const options_t *o, const char *output) {
    if (strcmp(output, "-") == 0) {
        if (o->emit != LLVM_EMIT_LLVM_IR && o->emit != LLVM_EMIT_ASM)
            USAGE_ERR("-o -: only --emit=llvm and --emit=asm can write to standard output");
        return;
    }
    char dir[PATH_MAX];
    const char *slash = strrchr(output, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == output ? 1 : (int)(slash - output), output);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        die(1, "cannot write '%s': folder '%s' does not exist", output, dir);
    if (access(dir, W_OK) != 0) die(1, "cannot write '%s': %s", output, strerror(errno));
    if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) die(1, "cannot write '%s': it is a folder", output);
    struct stat ms;
    if (stat(output, &st) == 0 && stat(o->model, &ms) == 0 && st.st_dev == ms.st_dev && st.st_ino == ms.st_ino)
        die(1, "output '%s' is the model file", output);
}

/* $CC when it is a plain program name; "cc" when unset or it carries arguments, which
 * we would have to split like a shell. */
static const char *link_driver(void) {
    const char *cc = getenv("CC");
    if (!cc || !*cc || strpbrk(cc, " \t\n\"'")) return "cc";
    return cc;
}

/* $AR on the same terms as $CC. */
static const char *archiver(void) {
    const char *ar = getenv("AR");
    if (!ar || !*ar || strpbrk(ar, " \t\n\"'")) return "ar";
    return ar;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --time-passes: one row per phase, in the order they ran, with its share of the total. */
static void print_times(double load_ms, double fix_ms, bool fixed, const pass_timing_t *pt, const llvm_backend_times_t *bt,
                        double total_ms) {
    struct { char name[64]; double ms; } row[PASS_TIMING_MAX + 16];
    int n = 0;
#define ROW(label, value)                                               \
    do {                                                                \
        snprintf(row[n].name, sizeof row[n].name, "%s", label);         \
        row[n++].ms = (value);                                          \
    } while (0)
    ROW("load model (frontend)", load_ms);
    if (fixed) ROW("--bind/--dim/--shape", fix_ms);
    for (int i = 0; i < pt->n; i++) {
        snprintf(row[n].name, sizeof row[n].name, "pass %s", pt->pass[i].name);
        row[n++].ms = pt->pass[i].ms;
    }
    ROW("llvm: target machine", bt->target_ms);
    ROW("llvm: lower to LLVM IR", bt->lower_ms);
    ROW("llvm: verify IR", bt->verify_ms);
    ROW("llvm: optimisation pipeline", bt->optimise_ms);
    ROW("llvm: code generation + emit", bt->codegen_ms);
    if (bt->link_ms > 0) ROW("link (C compiler driver)", bt->link_ms);
    if (bt->header_ms > 0) ROW("write header", bt->header_ms);
#undef ROW
    double sum = 0;
    for (int i = 0; i < n; i++) sum += row[i].ms;
    fprintf(stderr, "onnxc: time report\n  %-32s %10s %7s\n", "phase", "ms", "%");
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  %-32s %10.3f %6.1f%%\n", row[i].name, row[i].ms, total_ms > 0 ? 100.0 * row[i].ms / total_ms : 0.0);
    fprintf(stderr, "  %-32s %10.3f %6.1f%%\n", "other", total_ms - sum, total_ms > 0 ? 100.0 * (total_ms - sum) / total_ms : 0.0);
    fprintf(stderr, "  %-32s %10.3f\n", "total", total_ms);
}

/* --target=cuda|cuda-emu: the same pipeline scheduled for a GPU, then the CUDA backend. */
static int compile_cuda(const options_t *o, ir_graph_t *g, const char *output, const char *name, const char *rtdir,
                        double t_start) {
    cuda_backend_opts_t co = {
        .name = name,
        .emit = (cuda_emit_kind_t)o->cuda_emit,
        .output = output,
        .emu = o->target == 2,
        .arch = o->cuda_arch ? o->cuda_arch : "sm_90",
        .opt_level = o->opt_level,
        .weights_file = o->weights_file,
        .runtime_dir = rtdir,
        .model_path = o->model,
        .version = version_line(),
    };
    ir_target_t target;
    char err[512];
    if (cuda_backend_target(&co, &target, err, sizeof err) != 0) die(2, "%s", err);
    pass_options_t po;
    pass_options_init(&po);
    po.opt_level = o->opt_level;
    po.target = &target;
    pass_timing_t ptimes = {0};
    if (o->trace_passes) po.trace = stderr;
    if (o->time_passes) po.timing = &ptimes;
    if (pass_run_pipeline(g, &po) != 0) fail(&g->diags, g, "the pass pipeline failed");
    if (o->dump_ir) {
        ir_graph_print(g, stdout);
        pass_print_plan(g, stdout);
        fflush(stdout);
    }
    if (cuda_backend_compile(g, &co) != 0) fail(&g->diags, g, "code generation failed");
    if (o->dep_md) write_depfile(o, output, g);
    ir_graph_free(g);
    if (o->time_passes) fprintf(stderr, "onnxc: total %.3f ms\n", now_ms() - t_start);
    return 0;
}

int main(int argc, char **argv) {
    double t_start = now_ms();
    options_t o;
    parse_args(argc, argv, &o);

    char output[PATH_MAX], name[256], rtdir[PATH_MAX];
    if (o.output)
        snprintf(output, sizeof output, "%s", o.output);
    else
        default_output(&o, output, sizeof output);
    if (o.name)
        snprintf(name, sizeof name, "%s", o.name);
    else
        default_name(&o, output, name, sizeof name);
    check_output(&o, output);

    ir_diags_t diags = {0};     /* problems found before there is a graph */
    ir_graph_t *g = NULL;
    progress_init(o.model);
    if (o.trace_passes) progress_state.on = false;   /* its lines go to stderr as passes run */
    progress(NULL, "loading", 0, 0);
    if (frontend_load_model(o.model, &g, &diags) != 0) fail(&diags, g, "cannot load the model");
    double t_loaded = now_ms();
    g->name = ir_arena_strdup(&g->arena, name);
    for (int i = 0; i < o.n_bind; i++)
        if (frontend_bind_input(g, o.bind_name[i], o.bind_file[i]) != 0) fail(&g->diags, g, "--bind failed");
    /* Before the passes, so that inference, planning and code generation see static
     * shapes: no symbol is left to bind at run time. --dim first, so that --shape is
     * checked against the dims it fixed. */
    for (int i = 0; i < o.n_dim; i++)
        if (ir_graph_fix_sym(g, o.dim_name[i], o.dim_value[i]) != 0) fail(&g->diags, g, "--dim failed");
    for (int i = 0; i < o.n_shape; i++)
        if (ir_graph_fix_input_shape(g, o.shape_input[i], o.shape_rank[i], o.shape_dims[i]) != 0)
            fail(&g->diags, g, "--shape failed");
    double t_fixed = now_ms();

    runtime_dir(rtdir, sizeof rtdir);
    if (o.target != 0) return compile_cuda(&o, g, output, name, rtdir, t_start);
    llvm_backend_opts_t bo = {
        .name = name,
        .opt_level = o.opt_level,
        .cpu = o.cpu,
        .triple = o.triple,
        .emit = o.emit,
        .output = output,
        .header = NULL,
        .runtime_dir = rtdir,
        .cc = link_driver(),
        .ar = archiver(),
        .weights_file = o.weights_file,
        .model_path = o.model,
        .version = version_line(),
        .progress = progress,
    };
    llvm_backend_times_t btimes = {0};
    pass_timing_t ptimes = {0};
    if (o.time_passes) bo.times = &btimes;
    /* The schedule is made for the very CPU the backend will compile for. */
    ir_target_t target;
    if (llvm_backend_target(&bo, &target, &diags) != 0) fail(&diags, g, "cannot set up the target");

    pass_options_t po;
    pass_options_init(&po);
    po.opt_level = o.opt_level;
    po.target = &target;
    if (o.trace_passes) po.trace = stderr;
    if (o.time_passes) po.timing = &ptimes;
    progress(NULL, "graph passes", 0, 0);
    if (pass_run_pipeline(g, &po) != 0) fail(&g->diags, g, "the pass pipeline failed");
    if (o.dump_ir) {
        progress_clear();
        FILE *f = strcmp(output, "-") == 0 ? stderr : stdout;
        ir_graph_print(g, f);
        pass_print_plan(g, f);
        fflush(f);
    }

    if (llvm_backend_compile(g, &bo) != 0) fail(&g->diags, g, "code generation failed");
    progress_clear();
    if (o.dep_md) write_depfile(&o, output, g);
    ir_graph_free(g);
    if (o.time_passes) print_times(t_loaded - t_start, t_fixed - t_loaded, o.n_bind + o.n_dim + o.n_shape > 0, &ptimes, &btimes, now_ms() - t_start);
    return 0;
}
