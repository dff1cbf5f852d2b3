/* Writing NAME.cu / NAME.h, and building them: nvcc for --target=cuda, the host C++
 * compiler with the emulation header for --target=cuda-emu. Intermediate files go to a
 * private temporary folder that is removed whatever happens; outputs appear whole. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/common/outcode.h"
#include "backends/cuda/cu_int.h"

extern const char cu_emu_text[];   /* runtime/cuda/onnxc_cuda_emu.h, embedded ("" if absent) */

static bool is_exec(const char *p) { return access(p, X_OK) == 0; }

/* A program name: as given when it has a '/', else searched on PATH. */
static bool find_prog(const char *name, char *buf, size_t n) {
    if (strchr(name, '/')) {
        snprintf(buf, n, "%s", name);
        return is_exec(name);
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int k = snprintf(buf, n, "%.*s/%s", (int)len, path, name);
        if (k > 0 && (size_t)k < n && is_exec(buf)) return true;
        if (!colon) break;
        path = colon + 1;
    }
    return false;
}

/* nvcc: $ONNXC_NVCC, else on PATH, else the toolkit's usual place. */
static int find_nvcc(char *buf, size_t n, char *err, size_t en) {
    const char *env = getenv("ONNXC_NVCC");
    if (env && *env) {
        if (find_prog(env, buf, n)) return 0;
        return out_err(err, en, "--target=cuda --emit=obj|so|exe needs nvcc; ONNXC_NVCC='%s' is not an executable "
                                "(set ONNXC_NVCC or put nvcc on PATH)", env);
    }
    if (find_prog("nvcc", buf, n) || find_prog("/usr/local/cuda/bin/nvcc", buf, n)) return 0;
    return out_err(err, en, "--target=cuda --emit=obj|so|exe needs nvcc; set ONNXC_NVCC or put it on PATH");
}

static int find_cxx(char *buf, size_t n, char *err, size_t en) {
    const char *cxx = getenv("CXX");
    if (cxx && *cxx && !strpbrk(cxx, " \t\"'")) {
        if (find_prog(cxx, buf, n)) return 0;
        return out_err(err, en, "--target=cuda-emu needs a C++ compiler; CXX='%s' is not an executable", cxx);
    }
    if (find_prog("c++", buf, n) || find_prog("g++", buf, n) || find_prog("clang++", buf, n)) return 0;
    return out_err(err, en, "--target=cuda-emu needs a C++17 compiler (c++, g++ or clang++ on PATH, or set CXX)");
}

static void rm_tree(const char *dir, const char *const *files, int nf) {
    char p[PATH_MAX + 64];
    for (int i = 0; i < nf; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

int cu_build(const cuda_backend_opts_t *o, const char *cu_text, size_t cu_len, const char *h_text, char *err, size_t n) {
    char hpath[PATH_MAX];
    bool want_h = o->emit != CUDA_EMIT_EXE;
    if (want_h && out_header_path(o->output, o->emit == CUDA_EMIT_SO, hpath, sizeof hpath))
        return out_err(err, n, "output path '%s' is too long", o->output);
    if (want_h && strcmp(hpath, o->output) == 0) return out_err(err, n, "the header '%s' would overwrite the output", hpath);
    if (o->emit == CUDA_EMIT_CU) {
        out_file_t f = {0}, h = {0};
        int rc = out_file_create(&f, o->output, "", err, n);
        if (!rc) rc = out_file_write(&f, cu_text, cu_len, err, n);
        if (!rc) rc = out_file_create(&h, hpath, "", err, n);
        if (!rc) rc = out_file_write(&h, h_text, strlen(h_text), err, n);
        if (!rc) rc = out_file_commit(&f, false, err, n);
        if (!rc) rc = out_file_commit(&h, false, err, n);
        out_file_discard(&f, rc != 0);
        out_file_discard(&h, rc != 0);
        return rc;
    }

    char tool[PATH_MAX];
    if (o->emu ? find_cxx(tool, sizeof tool, err, n) : find_nvcc(tool, sizeof tool, err, n)) return -1;
    const char *emu_path = getenv("ONNXC_CUDA_EMU_HEADER");
    if (o->emu && !(emu_path && *emu_path) && !cu_emu_text[0])
        return out_err(err, n, "--target=cuda-emu: this onnxc was built without runtime/cuda/onnxc_cuda_emu.h "
                               "(set ONNXC_CUDA_EMU_HEADER to its path)");
    char rt[PATH_MAX + 32] = "";
    if (o->emit == CUDA_EMIT_EXE) {
        snprintf(rt, sizeof rt, "%s/libonnxc_rt.a", o->runtime_dir ? o->runtime_dir : ".");
        if (access(rt, R_OK) != 0)
            return out_err(err, n, "runtime library '%s' not found (build the onnxc_rt target or set ONNXC_RUNTIME_DIR)", rt);
    }

    const char *tmpd = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/onnxc-cuda-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    if (!mkdtemp(dir)) return out_err(err, n, "cannot create a temporary folder: %s", strerror(errno));
    static const char *const files[] = {"model.cu", "onnxc_cuda_emu.h", "out"};
    char cupath[PATH_MAX + 16], emupath[PATH_MAX + 32], outtmp[PATH_MAX + 8];
    snprintf(cupath, sizeof cupath, "%s/model.cu", dir);
    snprintf(emupath, sizeof emupath, "%s/onnxc_cuda_emu.h", dir);
    snprintf(outtmp, sizeof outtmp, "%s/out", dir);
    int rc = out_write_file(cupath, cu_text, cu_len, false, err, n);
    if (!rc && o->emu && !(emu_path && *emu_path)) {
        rc = out_write_file(emupath, cu_emu_text, strlen(cu_emu_text), false, err, n);
        emu_path = emupath;
    }
    if (!rc) {
        const char *argv[48];
        int a = 0;
        char opt[16], arch[64];
        snprintf(opt, sizeof opt, "-O%d", o->opt_level < 0 ? 0 : o->opt_level > 3 ? 3 : o->opt_level);
        argv[a++] = tool;
        if (o->emu) {
            argv[a++] = "-x";
            argv[a++] = "c++";
            argv[a++] = "-std=c++17";
            argv[a++] = "-DONNXC_CUDA_EMU";
            argv[a++] = "-include";
            argv[a++] = emu_path;
            argv[a++] = "-fPIC";
            argv[a++] = "-w";
#ifdef ONNXC_LINK_SANITIZE
            argv[a++] = "-fsanitize=address,undefined";
#endif
        } else {
            /* no "-x cu": it would apply to the runtime archive after the source too; nvcc
             * takes model.cu as CUDA by its extension */
            snprintf(arch, sizeof arch, "-arch=%s", o->arch ? o->arch : "sm_90");
            argv[a++] = arch;
            argv[a++] = "-std=c++17";
            argv[a++] = "-Xcompiler";
            argv[a++] = "-fPIC";
        }
        argv[a++] = opt;
        argv[a++] = cupath;
        if (o->emit == CUDA_EMIT_OBJ) argv[a++] = "-c";
        if (o->emit == CUDA_EMIT_SO) argv[a++] = "-shared";
        if (o->emu && o->emit != CUDA_EMIT_OBJ) argv[a++] = "-x", argv[a++] = "none";
        if (o->emit == CUDA_EMIT_EXE) {
            argv[a++] = rt;
            argv[a++] = "-lpthread";
            argv[a++] = "-lm";
        }
        if (o->emu && o->emit != CUDA_EMIT_OBJ) argv[a++] = "-lpthread";
        argv[a++] = "-o";
        argv[a++] = outtmp;
        argv[a] = NULL;
        rc = out_spawn((char *const *)argv, o->emu ? "compiling the CUDA C for the emulation" : "nvcc", err, n);
    }
    if (!rc) {
        FILE *f = fopen(outtmp, "rb");
        if (!f) rc = out_err(err, n, "cannot read the compiler's output: %s", strerror(errno));
        char *data = NULL;
        long sz = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            sz = ftell(f);
            fseek(f, 0, SEEK_SET);
            data = malloc(sz > 0 ? (size_t)sz : 1);
            if (!data || fread(data, 1, (size_t)sz, f) != (size_t)sz) rc = out_err(err, n, "cannot read the compiler's output");
            fclose(f);
        }
        out_file_t of = {0}, hf = {0};
        if (!rc) rc = out_file_create(&of, o->output, "", err, n);
        if (!rc) rc = out_file_write(&of, data, (size_t)sz, err, n);
        if (!rc && want_h) rc = out_file_create(&hf, hpath, "", err, n);
        if (!rc && want_h) rc = out_file_write(&hf, h_text, strlen(h_text), err, n);
        if (!rc) rc = out_file_commit(&of, o->emit == CUDA_EMIT_EXE || o->emit == CUDA_EMIT_SO, err, n);
        if (!rc && want_h) rc = out_file_commit(&hf, false, err, n);
        out_file_discard(&of, rc != 0);
        out_file_discard(&hf, rc != 0);
        free(data);
    }
    if (getenv("ONNXC_KEEP_CUDA_TMP")) fprintf(stderr, "onnxc: kept %s\n", dir);
    else rm_tree(dir, files, 3);
    return rc;
}
