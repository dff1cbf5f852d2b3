/* libFuzzer target: external data resolution. Each input is a model loaded from a folder
 * laid out once per process with every trap (tools/fuzz.sh seeds models naming them):
 *
 *   T/secret.bin            outside the model folder
 *   T/m/w.bin               4 KiB, T/m/sub/w.bin, T/m/short.bin (3 bytes), T/m/empty.bin
 *   T/m/in.bin -> w.bin     a symlink staying inside
 *   T/m/out.bin -> ../secret.bin, T/m/up -> ..   symlinks leading out
 *   T/m/hard.bin            a hard link to T/secret.bin
 *   T/m/fifo.bin            a FIFO (opening it for reading would block)
 *
 * Each input runs on both resolution paths (openat2, and the per-component fallback).
 * A load that succeeds must have read only files whose real path is inside T/m and that
 * have one link: anything else aborts as an escape. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "frontend/frontend_internal.h"

static char top[64], mdir[PATH_MAX], mreal[PATH_MAX];

static void put(const char *name, size_t n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", top, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    for (size_t i = 0; i < n; i++) fputc((int)(i * 7 + 1), f);
    fclose(f);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd)) {}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(top, sizeof top, "/tmp/onnxc_fuzz_ext_XXXXXX");
    if (!mkdtemp(top)) abort();
    atexit(cleanup);
    char p[PATH_MAX], q[PATH_MAX];
    snprintf(mdir, sizeof mdir, "%s/m", top);
    snprintf(p, sizeof p, "%s/m/sub", top);
    if (mkdir(mdir, 0700) || mkdir(p, 0700)) abort();
    put("secret.bin", 4096);
    put("m/w.bin", 4096);
    put("m/sub/w.bin", 4096);
    put("m/short.bin", 3);
    put("m/empty.bin", 0);
    snprintf(p, sizeof p, "%s/m/in.bin", top);
    snprintf(q, sizeof q, "%s/m/out.bin", top);
    if (symlink("w.bin", p) || symlink("../secret.bin", q)) abort();
    snprintf(p, sizeof p, "%s/m/up", top);
    if (symlink("..", p)) abort();
    snprintf(p, sizeof p, "%s/secret.bin", top);
    snprintf(q, sizeof q, "%s/m/hard.bin", top);
    if (link(p, q)) abort();
    snprintf(p, sizeof p, "%s/m/fifo.bin", top);
    if (mkfifo(p, 0600)) abort();
    if (!realpath(mdir, mreal)) abort();
    return 0;
}

static void check_files(const ir_graph_t *g)
{
    size_t ml = strlen(mreal);
    for (int i = 0; i < g->n_files_read; i++) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(g->files_read[i], real) || stat(real, &st)) {
            fprintf(stderr, "fuzz_external: read '%s', which does not resolve\n", g->files_read[i]);
            abort();
        }
        if (strncmp(real, mreal, ml) || real[ml] != '/' || st.st_nlink != 1 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "fuzz_external: read '%s' (%s, %lu links) from a model in %s\n",
                    g->files_read[i], real, (unsigned long)st.st_nlink, mreal);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int fallback = 0; fallback < 2; fallback++) {
        fe_test_no_openat2 = fallback;
        ir_diags_t diags = {0};
        ir_graph_t *g = NULL;
        if (frontend_load_model_buffer(data, size, "fuzz.onnx", mdir, &g, &diags) == 0) {
            check_files(g);
            ir_graph_free(g);
        }
        ir_diags_free(&diags);
    }
    return 0;
}
