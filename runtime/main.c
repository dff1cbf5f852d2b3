/* The standalone driver linked into every `onnxc --emit=exe` program. It knows the model
 * only through the descriptor the compiler emits (onnxc_exe_model), so one driver serves
 * every model: it checks input files against the descriptor, binds symbolic dims, sizes
 * outputs and workspace, runs, and writes outputs. Exit codes: 0 ok, 1 runtime failure
 * (bad input data, run error, I/O), 2 bad usage. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "onnxc_rt.h"

/* Defined by the compiler in the model object of an executable. onnxc_exe_build is weak
 * so that a model object from before it existed (or a test's fake model) still links:
 * such a program has no version or CPU record and skips the check. */
extern const onnxc_model_desc_t *const onnxc_exe_model;
extern const onnxc_build_info_t *const onnxc_exe_build __attribute__((weak));
extern const onnxc_shape_info_t *const onnxc_exe_shapes __attribute__((weak));
/* Only in a program compiled with --weights=file: what its weights file must hold. */
extern const onnxc_weights_info_t *const onnxc_exe_weights __attribute__((weak));
/* Only in a CUDA program (--target=cuda|cuda-emu): runs the model `runs` times on device
 * copies of the inputs made once, outputs poisoned (NaN) before each run, and writes each
 * run's device time in ms, measured with CUDA events, to times[] (NULL: not timed). So
 * --bench reports GPU time rather than host round trips. 0 or a status. */
extern int (*const onnxc_exe_device_bench)(const void *const *inputs, int64_t runs, double *times) __attribute__((weak));
/* Only in a CUDA program: the text of any status, CUDA errors (ONNXC_ERR_CUDA | code << 8)
 * included. */
extern const char *(*const onnxc_exe_status_message)(int status) __attribute__((weak));
/* NAME_data_checks: the text of each run-time data check (ONNXC_ERR_DATA). */
extern const char *const *const onnxc_exe_checks __attribute__((weak));

/* Larger requests are refused as absurd before malloc sees them: they can only come from
 * a symbol value nobody meant, and wrapped-around arithmetic looks just like them. */
#define MAX_BUFFER_BYTES ((uint64_t)1 << 46)
#define MAX_SYM_VALUE ((int64_t)INT32_MAX)
#define MAX_SYMS 64
#define WARMUP_RUNS 3

static const char *prog = "onnxc-model";

static void errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s INPUT_0.pb [INPUT_1.pb ...] -o OUTDIR [--threads N] [--npy]\n"
            "       %s --info | --version\n"
            "       %s --bench N [--threads N] [--sym NAME=VALUE ...] [INPUTS ...] [-o OUTDIR]\n"
            "\n"
            "Runs the compiled model on inputs given in graph order (ONNX TensorProto .pb or\n"
            "NumPy .npy) and writes OUTDIR/output_K.pb (or .npy with --npy). .pb files that\n"
            "name their tensor are matched to the inputs by that name: given in another order\n"
            "they are reordered when every file names a distinct input, refused otherwise.\n"
            "  -o OUTDIR        where outputs go (created if missing)\n"
            "  --threads N      threads for the run (default: all usable cores)\n"
            "  --npy            write outputs as .npy instead of .pb\n"
            "  --info           print the model's inputs and outputs\n"
            "  --version        the onnxc version that compiled the model, and its target\n"
            "  --bench N        time N runs after %d warm-up runs; without input files the\n"
            "                   inputs are deterministic pseudo-random data\n"
            "  --sym NAME=VALUE size of a symbolic dimension (default 1 when benchmarking)\n"
            "  --weights FILE   the weights file of a program compiled with --weights=file\n"
            "                   (default: MODEL.weights beside this program)\n"
            "  --max-memory SIZE  most bytes a run may allocate for outputs and workspace\n"
            "                   (e.g. 512M, 8G; default $ONNXC_MAX_MEMORY, else physical memory):\n"
            "                   sizes that need more are refused before anything is allocated\n"
            "  --help           this text\n"
            "Exit status: 0 ok, 1 runtime failure, 2 bad usage.\n",
            prog, prog, prog, WARMUP_RUNS);
}

/* ---- shapes ----------------------------------------------------------------------- */

static void fmt_desc_shape(const onnxc_model_desc_t *d, const onnxc_tensor_desc_t *t, char *buf,
                           size_t cap) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int32_t i = 0; i < t->rank && n < cap; i++) {
        const char *sep = i ? "," : "";
        int s = t->dim_sym ? t->dim_sym[i] : -1;
        if (s < 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)t->dims[i]);
        else if (t->dims[i] == 1)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, d->sym_names[s]);
        else
            n += (size_t)snprintf(buf + n, cap - n, strchr(d->sym_names[s], ' ') ? "%s%lld*(%s)" : "%s%lld*%s", sep,
                                  (long long)t->dims[i], d->sym_names[s]);
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static void fmt_dims(int32_t rank, const int64_t *dims, char *buf, size_t cap) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int32_t i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Concrete dims of a descriptor tensor under syms; -1 when a dim overflows. */
static int concrete_dims(const onnxc_tensor_desc_t *t, const int64_t *syms, int64_t *out) {
    if (t->rank < 0 || t->rank > ONNXC_TENSOR_MAX_RANK) return -1;
    for (int32_t i = 0; i < t->rank; i++) {
        int s = t->dim_sym ? t->dim_sym[i] : -1;
        int64_t v = t->dims[i];
        if (s >= 0 && __builtin_mul_overflow(v, syms[s], &v)) return -1;
        out[i] = v;
    }
    return 0;
}

static void print_info(const onnxc_model_desc_t *d) {
    char shape[512];
    printf("model: %s\n", d->name ? d->name : "?");
    printf("inputs:\n");
    for (int32_t i = 0; i < d->n_inputs; i++) {
        fmt_desc_shape(d, &d->inputs[i], shape, sizeof shape);
        printf("  %d: %s %s %s\n", (int)i, d->inputs[i].name, onnxc_dtype_name(d->inputs[i].dtype), shape);
    }
    printf("outputs:\n");
    for (int32_t i = 0; i < d->n_outputs; i++) {
        fmt_desc_shape(d, &d->outputs[i], shape, sizeof shape);
        printf("  %d: %s %s %s\n", (int)i, d->outputs[i].name, onnxc_dtype_name(d->outputs[i].dtype), shape);
    }
    if (d->n_syms) {
        const onnxc_shape_info_t *si = &onnxc_exe_shapes ? onnxc_exe_shapes : NULL;
        printf("symbols:");
        for (int32_t i = 0; i < d->n_syms; i++) {
            printf(" %s", d->sym_names[i]);
            if (si && si->sym_input && si->sym_input[i] >= 0 && si->sym_input[i] < d->n_inputs)
                printf(" (element %lld of %s)", (long long)si->sym_elem[i], d->inputs[si->sym_input[i]].name);
        }
        printf("\n");
    }
}

/* ---- binding inputs --------------------------------------------------------------- */

typedef struct {
    int64_t syms[MAX_SYMS];
    char from[MAX_SYMS][128];    /* who set each symbol, for conflict messages; "" = unset */
} bind_t;

/* Checks one input tensor against its descriptor and binds its symbolic dims. */
static int bind_input(const onnxc_model_desc_t *d, int idx, const char *path,
                      const onnxc_tensor_t *t, bind_t *b) {
    const onnxc_tensor_desc_t *td = &d->inputs[idx];
    char want[512], got[512], extra[256] = "";
    int ok = t->dtype == td->dtype && t->rank == td->rank;
    for (int32_t i = 0; ok && i < td->rank; i++) {
        int s = td->dim_sym ? td->dim_sym[i] : -1;
        int64_t coef = td->dims[i], v = t->dims[i];
        if (s < 0) {
            ok = v == coef;
            continue;
        }
        if (coef < 1 || v % coef != 0 || v / coef < 1) {
            ok = 0;
            snprintf(extra, sizeof extra, " (%s must be >= 1)", d->sym_names[s]);
            break;
        }
        v /= coef;
        if (b->from[s][0] && b->syms[s] != v) {
            ok = 0;
            snprintf(extra, sizeof extra, " (%s = %lld from %s)", d->sym_names[s],
                     (long long)b->syms[s], b->from[s]);
            break;
        }
        if (v > MAX_SYM_VALUE) {
            ok = 0;
            snprintf(extra, sizeof extra, " (%s is too large)", d->sym_names[s]);
            break;
        }
        if (!b->from[s][0]) {
            b->syms[s] = v;
            snprintf(b->from[s], sizeof b->from[s], "input '%s'", td->name);
        }
    }
    if (ok) return 0;
    fmt_desc_shape(d, td, want, sizeof want);
    fmt_dims(t->rank, t->dims, got, sizeof got);
    errorf("input '%s' (%s): expected %s %s, got %s %s%s", td->name, path, onnxc_dtype_name(td->dtype),
           want, onnxc_dtype_name(t->dtype), got, extra);
    return -1;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* ---- buffers ---------------------------------------------------------------------- */

static void *alloc64(size_t n) {
    size_t r = ((n ? n : 1) + 63) & ~(size_t)63;
    return aligned_alloc(64, r);
}

static uint64_t rng_next(uint64_t *s) {
    /* xorshift64*: deterministic and good enough for benchmark inputs */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    if (e <= 0) return sign;                  /* tiny values flush to zero: fine for filler */
    if (e >= 31) return sign | 0x7c00;
    return (uint16_t)(sign | (uint16_t)(e << 10) | (uint16_t)((x >> 13) & 0x3ff));
}

/* Floats uniform in [-1, 1); integers and bools 0 or 1, so that index-like inputs
 * (token ids, masks) stay in range for any model. */
static void fill_random(void *data, int32_t dtype, size_t nelem, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    size_t es = onnxc_dtype_size(dtype);
    for (size_t i = 0; i < nelem; i++) {
        uint64_t r = rng_next(&s);
        float f = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        char *p = (char *)data + i * es;
        switch (dtype) {
        case ONNXC_DT_FLOAT: memcpy(p, &f, 4); break;
        case ONNXC_DT_DOUBLE: { double dv = f; memcpy(p, &dv, 8); break; }
        case ONNXC_DT_FLOAT16: { uint16_t h = f32_to_f16(f); memcpy(p, &h, 2); break; }
        case ONNXC_DT_BFLOAT16: { uint32_t x; memcpy(&x, &f, 4); uint16_t h = (uint16_t)(x >> 16); memcpy(p, &h, 2); break; }
        default: { uint64_t v = r >> 63; memset(p, 0, es); memcpy(p, &v, es < 8 ? es : 8); break; }
        }
    }
}

static int mkdir_p(const char *dir) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- main ------------------------------------------------------------------------- */

typedef struct {
    const char **inputs;
    int n_inputs;
    const char *outdir;
    int64_t threads;
    int npy, info, help, version;
    int64_t bench;           /* 0 = not benchmarking */
    const char *sym_args[MAX_SYMS];
    int n_sym_args;
    const char *weights;     /* --weights FILE */
    const char *max_memory;  /* --max-memory SIZE, else $ONNXC_MAX_MEMORY, else physical memory */
} opts_t;

/* "4096", "512K", "3M", "2G", "1T" (binary units) -> bytes; -1 if malformed or zero. */
static int64_t parse_size(const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return -1;
    int shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -1;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v == 0 || v > (ULLONG_MAX >> 1) >> shift) return -1;
    return (int64_t)(v << shift);
}

/* What a run may allocate for outputs and workspace: --max-memory, $ONNXC_MAX_MEMORY, or
 * the machine's physical memory. -1 after printing a usage error. */
static int64_t memory_limit(const opts_t *o) {
    const char *s = o->max_memory ? o->max_memory : getenv("ONNXC_MAX_MEMORY");
    if (s && *s) {
        int64_t v = parse_size(s);
        if (v < 0) errorf("%s wants a size such as 512M or 8G, got '%s'", o->max_memory ? "--max-memory" : "ONNXC_MAX_MEMORY", s);
        return v;
    }
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0) return (int64_t)MAX_BUFFER_BYTES;
    return (int64_t)pages * psz;
}

static void fmt_bytes(uint64_t b, char *buf, size_t n) {
    if (b >= ((uint64_t)1 << 30)) snprintf(buf, n, "%.1f GiB", (double)b / (double)((uint64_t)1 << 30));
    else if (b >= ((uint64_t)1 << 20)) snprintf(buf, n, "%.1f MiB", (double)b / (double)((uint64_t)1 << 20));
    else snprintf(buf, n, "%llu bytes", (unsigned long long)b);
}

/* A .pb file names its tensor; a file given in the wrong place would otherwise be read
 * as another input whenever the shapes agree (two [2,3] inputs swapped run silently).
 * When every file is named and the names are the inputs, each in one file, the files are
 * put into graph order; otherwise a named file must be at its input's position. .npy
 * files and unnamed tensors stay positional. 0, or -1 after the message. */
static int match_inputs_by_name(const onnxc_model_desc_t *d, opts_t *o, onnxc_tensor_t *tin) {
    int n = o->n_inputs, all_named = n > 0;
    int *where = calloc((size_t)n + 1, sizeof *where);   /* input index of file i, -1 none */
    char *taken = calloc((size_t)n + 1, 1);
    if (!where || !taken) {
        free(where);
        free(taken);
        errorf("out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        where[i] = -1;
        if (!tin[i].name[0]) {
            all_named = 0;
            continue;
        }
        for (int k = 0; k < d->n_inputs; k++)
            if (d->inputs[k].name && !strcmp(d->inputs[k].name, tin[i].name) && !taken[k]) {
                where[i] = k;
                taken[k] = 1;
                break;
            }
        if (where[i] < 0) all_named = 0;
    }
    int rc = 0;
    if (all_named) {
        onnxc_tensor_t *tmp = malloc((size_t)n * sizeof *tmp);
        const char **paths = malloc((size_t)n * sizeof *paths);
        if (!tmp || !paths) {
            errorf("out of memory");
            rc = -1;
        } else {
            for (int i = 0; i < n; i++) {
                tmp[where[i]] = tin[i];
                paths[where[i]] = o->inputs[i];
            }
            memcpy(tin, tmp, (size_t)n * sizeof *tmp);
            memcpy(o->inputs, paths, (size_t)n * sizeof *paths);
        }
        free(tmp);
        free(paths);
    } else {
        for (int i = 0; i < n && i < d->n_inputs; i++) {
            if (!tin[i].name[0] || (d->inputs[i].name && !strcmp(d->inputs[i].name, tin[i].name))) continue;
            errorf("input %d is '%s', but %s holds tensor '%s'; give the files in graph order "
                   "(see --info) or name each file's tensor after its input",
                   i, d->inputs[i].name ? d->inputs[i].name : "?", o->inputs[i], tin[i].name);
            rc = -1;
            break;
        }
    }
    free(where);
    free(taken);
    return rc;
}

/* Returns 0, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, opts_t *o) {
    o->inputs = calloc((size_t)argc, sizeof *o->inputs);
    if (!o->inputs) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0) {
            o->inputs[o->n_inputs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            while (++i < argc) o->inputs[o->n_inputs++] = argv[i];
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { o->help = 1; continue; }
        if (!strcmp(a, "--info")) { o->info = 1; continue; }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) { o->version = 1; continue; }
        if (!strcmp(a, "--npy")) { o->npy = 1; continue; }
        /* options with a value: "--opt V" or "--opt=V" */
        const char *eq = strchr(a, '=');
        size_t klen = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        const char *val = NULL;
        const char *names[] = {"-o", "--threads", "--bench", "--sym", "--output", "--weights", "--max-memory"};
        int which = -1;
        for (int k = 0; k < 7; k++)
            if (strlen(names[k]) == klen && !strncmp(a, names[k], klen)) which = k;
        if (which < 0) {
            errorf("unknown option '%s' (see --help)", a);
            return 2;
        }
        if (klen < strlen(a)) val = a + klen + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
            errorf("option '%s' needs a value", a);
            return 2;
        }
        switch (which) {
        case 0: case 4: o->outdir = val; break;
        case 5: o->weights = val; break;
        case 6:
            if (parse_size(val) < 0) {
                errorf("--max-memory wants a size such as 512M or 8G, got '%s'", val);
                return 2;
            }
            o->max_memory = val;
            break;
        case 1:
            if (parse_i64(val, 0, 1024, &o->threads)) {
                errorf("--threads wants an integer in 0..1024 (0 = all cores), got '%s'", val);
                return 2;
            }
            break;
        case 2:
            if (parse_i64(val, 1, 1000000000, &o->bench)) {
                errorf("--bench wants a positive number of runs, got '%s'", val);
                return 2;
            }
            break;
        case 3:
            if (o->n_sym_args >= MAX_SYMS) {
                errorf("too many --sym options");
                return 2;
            }
            o->sym_args[o->n_sym_args++] = val;
            break;
        }
    }
    return 0;
}

/* MODEL.weights in this program's folder (onnxc writes it beside the program). */
static int default_weights_path(const onnxc_model_desc_t *d, char *buf, size_t n) {
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return -1;
    self[k] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    int w = snprintf(buf, n, "%s/%s.weights", self, d->name ? d->name : "model");
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int apply_sym_args(const onnxc_model_desc_t *d, const opts_t *o, bind_t *b) {
    for (int k = 0; k < o->n_sym_args; k++) {
        const char *a = o->sym_args[k], *eq = strchr(a, '=');
        int found = -1;
        int64_t v;
        if (!eq) {
            errorf("--sym wants NAME=VALUE, got '%s'", a);
            return 2;
        }
        for (int32_t s = 0; s < d->n_syms; s++)
            if (strlen(d->sym_names[s]) == (size_t)(eq - a) && !strncmp(d->sym_names[s], a, (size_t)(eq - a)))
                found = s;
        if (found < 0) {
            errorf("--sym: the model has no symbolic dimension '%.*s'", (int)(eq - a), a);
            return 2;
        }
        if (parse_i64(eq + 1, 1, MAX_SYM_VALUE, &v)) {
            errorf("--sym %s: value must be an integer in 1..%lld", a, (long long)MAX_SYM_VALUE);
            return 2;
        }
        b->syms[found] = v;
        snprintf(b->from[found], sizeof b->from[found], "--sym");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 0 && argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    const onnxc_model_desc_t *d = onnxc_exe_model;
    opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc) goto done;
    if (o.help) {
        usage(stdout);
        goto done;
    }
    if (!d || d->n_inputs < 0 || d->n_outputs < 0 || d->n_syms < 0 || d->n_syms > MAX_SYMS || !d->run) {
        errorf("the model descriptor is missing or invalid");
        rc = 1;
        goto done;
    }
    const onnxc_build_info_t *bi = &onnxc_exe_build ? onnxc_exe_build : NULL;
    if (o.version) {
        if (!bi) {
            printf("%s: built by an onnxc that recorded no version\n", d->name ? d->name : prog);
        } else {
            printf("%s: compiled by %s\n", d->name ? d->name : prog, bi->onnxc_version);
            printf("target: %s, cpu %s\n", bi->triple, bi->cpu);
            printf("needs: %s\n", bi->cpu_needs[0] ? bi->cpu_needs : "(the architecture's baseline)");
        }
        goto done;
    }
    if (o.info) {
        print_info(d);
        goto done;
    }
    /* Before any of the model's code (workspace_size included) runs: code for a missing
     * feature would die with SIGILL somewhere inside it. */
    char cpu_msg[1024];
    if (onnxc_cpu_check(bi, cpu_msg, sizeof cpu_msg) != ONNXC_OK) {
        fprintf(stderr, "%s: this program was %s\n", prog, cpu_msg);
        rc = 1;
        goto done;
    }
    if (!o.bench && !o.outdir) {
        errorf("no output directory: pass -o OUTDIR (see --help)");
        rc = 2;
        goto done;
    }
    if ((o.n_inputs || !o.bench) && o.n_inputs != d->n_inputs) {
        errorf("model '%s' takes %d input%s, got %d file%s", d->name ? d->name : "?", (int)d->n_inputs,
               d->n_inputs == 1 ? "" : "s", o.n_inputs, o.n_inputs == 1 ? "" : "s");
        rc = 2;
        goto done;
    }

    bind_t bind;
    memset(&bind, 0, sizeof bind);
    if ((rc = apply_sym_args(d, &o, &bind))) goto done;

    size_t n_in = (size_t)d->n_inputs, n_out = (size_t)d->n_outputs;
    onnxc_tensor_t *tin = calloc(n_in + 1, sizeof *tin);
    const void **in_ptrs = calloc(n_in + 1, sizeof *in_ptrs);
    void **out_ptrs = calloc(n_out + 1, sizeof *out_ptrs);
    int64_t(*out_dims)[ONNXC_TENSOR_MAX_RANK] = calloc(n_out + 1, sizeof *out_dims);
    size_t *out_bytes = calloc(n_out + 1, sizeof *out_bytes);
    double *times = NULL;
    void *ws = NULL;
    onnxc_weights_t weights = {0};
    int64_t *all_syms = NULL;
    onnxc_ctx_t *ctx = NULL;
    rc = 1;
    if (!tin || !in_ptrs || !out_ptrs || !out_dims || !out_bytes) {
        errorf("out of memory");
        goto cleanup;
    }

    char err[1024];
    for (int i = 0; i < o.n_inputs; i++) {
        if (onnxc_tensor_read(o.inputs[i], &tin[i], err, sizeof err)) {
            errorf("%s", err);
            goto cleanup;
        }
    }
    if (match_inputs_by_name(d, &o, tin)) goto cleanup;
    for (int i = 0; i < o.n_inputs; i++)
        if (bind_input(d, i, o.inputs[i], &tin[i], &bind)) goto cleanup;
    const onnxc_shape_info_t *si = &onnxc_exe_shapes ? onnxc_exe_shapes : NULL;
    for (int32_t s = 0; s < d->n_syms && si && si->sym_input && o.n_inputs; s++) {
        int i = si->sym_input[s];
        if (i < 0 || i >= d->n_inputs) continue;
        const onnxc_tensor_t *t = &tin[i];
        /* int32/int64: the value; float32/float64 (Resize scales): the bits of its float64 */
        size_t es = t->dtype == 7 || t->dtype == 11 ? 8 : t->dtype == 6 || t->dtype == 1 ? 4 : 0;
        if (!es || si->sym_elem[s] < 0 || (uint64_t)si->sym_elem[s] >= t->nbytes / es) {
            errorf("input '%s' must be an int32, int64, float32 or float64 tensor with more than %lld elements "
                   "(its element %lld is a shape parameter)", d->inputs[i].name, (long long)si->sym_elem[s],
                   (long long)si->sym_elem[s]);
            goto cleanup;
        }
        int64_t v;
        const char *ep = (const char *)t->data + es * (size_t)si->sym_elem[s];
        if (t->dtype == 7) {
            memcpy(&v, ep, 8);
        } else if (t->dtype == 6) {
            int32_t x;
            memcpy(&x, ep, 4);
            v = x;
        } else {
            double f;
            if (t->dtype == 1) {
                float x;
                memcpy(&x, ep, 4);
                f = x;
            } else {
                memcpy(&f, ep, 8);
            }
            memcpy(&v, &f, 8);
        }
        if (bind.from[s][0] && bind.syms[s] != v) {
            errorf("input '%s' element %lld is %lld, but %s = %lld from %s", d->inputs[i].name,
                   (long long)si->sym_elem[s], (long long)v, d->sym_names[s], (long long)bind.syms[s], bind.from[s]);
            goto cleanup;
        }
        bind.syms[s] = v;
        snprintf(bind.from[s], sizeof bind.from[s], "input '%s'", d->inputs[i].name);
    }
    for (int32_t s = 0; s < d->n_syms; s++) {
        if (bind.from[s][0]) continue;
        if (o.bench && !o.n_inputs) {
            bind.syms[s] = 1;
            continue;
        }
        errorf("symbolic dimension '%s' is not set by any input; pass --sym %s=VALUE", d->sym_names[s],
               d->sym_names[s]);
        goto cleanup;
    }

    /* Generated inputs for --bench without files. */
    if (!o.n_inputs) {
        for (size_t i = 0; i < n_in; i++) {
            const onnxc_tensor_desc_t *td = &d->inputs[i];
            size_t nelem, nbytes;
            if (concrete_dims(td, bind.syms, tin[i].dims) ||
                onnxc_tensor_bytes(td->dtype, td->rank, tin[i].dims, &nelem, &nbytes) ||
                nbytes > MAX_BUFFER_BYTES) {
                errorf("input '%s' is too large for the given symbol sizes", td->name);
                goto cleanup;
            }
            tin[i].dtype = td->dtype;
            tin[i].rank = td->rank;
            tin[i].nbytes = nbytes;
            if (!(tin[i].data = alloc64(nbytes))) {
                errorf("out of memory for input '%s' (%zu bytes)", td->name, nbytes);
                goto cleanup;
            }
            fill_random(tin[i].data, td->dtype, nelem, (uint64_t)i + 1);
            for (int32_t s = 0; s < d->n_syms && si && si->sym_input; s++) {
                if (si->sym_input[s] != (int32_t)i || si->sym_elem[s] < 0 || (size_t)si->sym_elem[s] >= nelem) continue;
                if (td->dtype == 7) {
                    int64_t v = bind.syms[s];
                    memcpy((char *)tin[i].data + 8 * si->sym_elem[s], &v, 8);
                } else if (td->dtype == 6) {
                    int32_t v = (int32_t)bind.syms[s];
                    memcpy((char *)tin[i].data + 4 * si->sym_elem[s], &v, 4);
                }
            }
        }
    }
    /* every symbol's value: the caller's, then the derived ones */
    int32_t n_all = si && si->shapes && si->n_syms_all >= d->n_syms ? si->n_syms_all : d->n_syms;
    all_syms = calloc((size_t)n_all + 1, sizeof *all_syms);
    if (!all_syms) {
        errorf("out of memory");
        goto cleanup;
    }
    memcpy(all_syms, bind.syms, sizeof(int64_t) * (size_t)d->n_syms);
    if (si && si->shapes && n_all > 0) {
        int st = si->shapes(bind.syms, all_syms);
        if (st != ONNXC_OK) {
            char vals[512];
            size_t k = 0;
            vals[0] = 0;
            for (int32_t s = 0; s < d->n_syms && k < sizeof vals; s++)
                k += (size_t)snprintf(vals + k, sizeof vals - k, "%s%s=%lld", s ? ", " : "", d->sym_names[s],
                                      (long long)bind.syms[s]);
            const char *what = NULL;
            for (int i = 0; si->checks && (st >> 8) > 0 && si->checks[i] && !what; i++)
                if (i == (st >> 8) - 1) what = si->checks[i];
            if (what)
                errorf("these sizes do not fit the model (%s): %s", vals, what);
            else
                errorf("these sizes do not fit the model (%s): %s", vals, onnxc_status_message(st));
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n_in; i++) in_ptrs[i] = tin[i].data;

    uint64_t out_total = 0;
    for (size_t k = 0; k < n_out; k++) {
        const onnxc_tensor_desc_t *td = &d->outputs[k];
        if (concrete_dims(td, all_syms, out_dims[k]) ||
            onnxc_tensor_bytes(td->dtype, td->rank, out_dims[k], NULL, &out_bytes[k]) ||
            out_bytes[k] > MAX_BUFFER_BYTES) {
            errorf("output '%s' is too large for the given symbol sizes", td->name);
            goto cleanup;
        }
        out_total += out_bytes[k];
    }

    const int64_t *syms = d->n_syms ? bind.syms : NULL;
    size_t ws_size = d->workspace_size ? d->workspace_size(syms) : 0;
    if (ws_size > MAX_BUFFER_BYTES) {
        errorf("workspace of %zu bytes is too large for the given symbol sizes", ws_size);
        goto cleanup;
    }
    if (d->n_syms && d->workspace_size && !(si && si->shapes)) {
        /* A workspace smaller than at the smallest sizes means its arithmetic wrapped. */
        int64_t ones[MAX_SYMS];
        for (int32_t s = 0; s < d->n_syms; s++) ones[s] = 1;
        if (ws_size < d->workspace_size(ones)) {
            errorf("workspace size overflows for the given symbol sizes");
            goto cleanup;
        }
    }
    /* the run's whole allocation against the budget, before any of it is made */
    int64_t limit = memory_limit(&o);
    if (limit < 0) {
        rc = 2;
        goto cleanup;
    }
    if (out_total + ws_size > (uint64_t)limit) {
        char need[32], lim[32], ob[32], wb[32];
        fmt_bytes(out_total + ws_size, need, sizeof need);
        fmt_bytes((uint64_t)limit, lim, sizeof lim);
        fmt_bytes(out_total, ob, sizeof ob);
        fmt_bytes(ws_size, wb, sizeof wb);
        errorf("these sizes need %s (outputs %s, workspace %s), more than the memory limit of %s "
               "(--max-memory or ONNXC_MAX_MEMORY; default: physical memory)", need, ob, wb, lim);
        goto cleanup;
    }
    for (size_t k = 0; k < n_out; k++)
        if (!(out_ptrs[k] = alloc64(out_bytes[k]))) {
            errorf("out of memory for output '%s' (%zu bytes)", d->outputs[k].name, out_bytes[k]);
            goto cleanup;
        }
    if (!(ws = alloc64(ws_size))) {
        errorf("out of memory for the workspace (%zu bytes)", ws_size);
        goto cleanup;
    }

    const onnxc_weights_info_t *wi = &onnxc_exe_weights ? onnxc_exe_weights : NULL;
    if (wi) {
        char wpath[4200];
        if (o.weights)
            snprintf(wpath, sizeof wpath, "%s", o.weights);
        else if (default_weights_path(d, wpath, sizeof wpath)) {
            errorf("cannot find this program's folder for its weights file: pass --weights FILE");
            goto cleanup;
        }
        if (onnxc_weights_map(wpath, wi, &weights, err, sizeof err) != ONNXC_OK) {
            errorf("%s", err);
            goto cleanup;
        }
        onnxc_weights_bind(ws, wi, weights.data);
    } else if (o.weights) {
        errorf("--weights: this program's weights are inside it (compiled without --weights=file)");
        rc = 2;
        goto cleanup;
    }

    if (!(ctx = onnxc_ctx_create((int)o.threads))) {
        errorf("cannot create the thread pool");
        goto cleanup;
    }
    int64_t timed = o.bench, total = o.bench ? WARMUP_RUNS + o.bench : 1;
    if (o.bench && !(times = malloc((size_t)timed * sizeof *times))) {
        errorf("out of memory");
        goto cleanup;
    }
    /* a CUDA program's --bench: one run on the host buffers first (it loads the weights
     * and writes the outputs), then the device runs timed with CUDA events */
    int dev_bench = o.bench && &onnxc_exe_device_bench && onnxc_exe_device_bench;
    if (dev_bench) total = 1;
    for (int64_t it = 0; it < total; it++) {
        double t0 = now_ms();
        int st = d->run(ctx, syms, in_ptrs, out_ptrs, ws);
        double t1 = now_ms();
        if (st != ONNXC_OK) {
            const char *what = NULL;
            if ((st & 0xff) == ONNXC_ERR_DATA && &onnxc_exe_checks && onnxc_exe_checks) {
                int id = st >> 8;
                for (int i = 0; i < id && onnxc_exe_checks[i]; i++)
                    if (i == id - 1) what = onnxc_exe_checks[i];
            }
            if (what)
                errorf("run failed: %s", what);
            else
                errorf("run failed: %s (status %d)",
                       &onnxc_exe_status_message && onnxc_exe_status_message ? onnxc_exe_status_message(st)
                                                                             : onnxc_status_message(st),
                       st);
            goto cleanup;
        }
        if (o.bench && !dev_bench && it >= WARMUP_RUNS) times[it - WARMUP_RUNS] = t1 - t0;
    }
    if (dev_bench) {
        int st = onnxc_exe_device_bench((const void *const *)in_ptrs, WARMUP_RUNS, NULL);
        if (st == ONNXC_OK) st = onnxc_exe_device_bench((const void *const *)in_ptrs, timed, times);
        if (st != ONNXC_OK) {
            errorf("device run failed: %s (status %d)",
                   onnxc_exe_status_message ? onnxc_exe_status_message(st) : onnxc_status_message(st), st);
            goto cleanup;
        }
    }
    if (o.bench) {
        qsort(times, (size_t)timed, sizeof *times, cmp_double);
        size_t p90 = (size_t)((timed * 9 + 9) / 10) - 1;
        if (dev_bench)
            printf("min %.3f ms  median %.3f ms  p90 %.3f ms  (%lld runs, device time by CUDA events)\n", times[0],
                   timed % 2 ? times[timed / 2] : (times[timed / 2 - 1] + times[timed / 2]) / 2, times[p90],
                   (long long)timed);
        else
            printf("min %.3f ms  median %.3f ms  p90 %.3f ms  (%lld runs, %d threads)\n", times[0],
                   timed % 2 ? times[timed / 2] : (times[timed / 2 - 1] + times[timed / 2]) / 2,
                   times[p90], (long long)timed, ctx->n_threads);
    }

    if (o.outdir && si && si->output_dims) {
        /* an output sized by the data (NonZero) fills less than its buffer */
        for (size_t k = 0; k < n_out; k++)
            if (si->output_dims(syms, ws, (int32_t)k, out_dims[k]) != ONNXC_OK) {
                errorf("cannot get the dims of output '%s'", d->outputs[k].name);
                goto cleanup;
            }
    }
    if (o.outdir) {
        if (mkdir_p(o.outdir)) {
            errorf("cannot create output directory '%s': %s", o.outdir, strerror(errno));
            goto cleanup;
        }
        for (size_t k = 0; k < n_out; k++) {
            const onnxc_tensor_desc_t *td = &d->outputs[k];
            char path[4200], fname[64], shape[512];
            snprintf(fname, sizeof fname, "output_%zu.%s", k, o.npy ? "npy" : "pb");
            snprintf(path, sizeof path, "%s/%s", o.outdir, fname);
            int w = o.npy ? onnxc_tensor_write_npy(path, td->dtype, td->rank, out_dims[k], out_ptrs[k], err, sizeof err)
                          : onnxc_tensor_write_pb(path, td->name, td->dtype, td->rank, out_dims[k], out_ptrs[k], err,
                                                  sizeof err);
            if (w) {
                errorf("%s", err);
                goto cleanup;
            }
            fmt_dims(td->rank, out_dims[k], shape, sizeof shape);
            printf("%s: %s %s %s\n", fname, td->name, onnxc_dtype_name(td->dtype), shape);
        }
    }
    rc = 0;

cleanup:
    onnxc_ctx_destroy(ctx);
    onnxc_weights_unmap(&weights);
    free(ws);
    free(all_syms);
    free(times);
    if (tin)
        for (size_t i = 0; i < n_in; i++) onnxc_tensor_free(&tin[i]);
    if (out_ptrs)
        for (size_t k = 0; k < n_out; k++) free(out_ptrs[k]);
    free(tin);
    free(in_ptrs);
    free(out_ptrs);
    free(out_dims);
    free(out_bytes);
done:
    free(o.inputs);
    if (fflush(stdout) != 0 && rc == 0) rc = 1;
    return rc;
}
