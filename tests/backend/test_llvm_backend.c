/* The LLVM backend's emit side on a hand-built scheduled graph:
 *     t = x + c1;  u = t * c2;  y = relu(u)      x, y: float32 [batch, 3]
 * with c1/c2 at offsets 0 and 64 of the weights blob and t/u in symbolic-sized workspace
 * slots. Checks the outputs and header, the single weights array, a shared library
 * that loads and computes the right numbers, and that failures leave no files. */
#include <dirent.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/llvm/llvm_backend.h"
#include "passes/passes.h"
#include "runtime/onnxc_abi.h"

static const float C1[3] = {1.0f, -2.0f, 0.5f};
static const float C2[3] = {2.0f, 3.0f, -1.0f};

static ir_graph_t *tiny_graph(ir_dtype_t out_dtype) {
    ir_graph_t *g = ir_graph_new("tiny.onnx");
    assert_non_null(g);
    int batch = ir_graph_add_sym(g, "batch");
    ir_shape_t s2 = {.rank = 2, .dims = {{1, batch}, {3, -1}}};
    ir_shape_t s1 = {.rank = 1, .dims = {{3, -1}}};
    ir_value_t *x = ir_value_new(g, "x", IR_F32, &s2);
    ir_value_t *c1 = ir_value_const(g, "c1", IR_F32, &s1, C1, sizeof C1);
    ir_value_t *c2 = ir_value_const(g, "c2", IR_F32, &s1, C2, sizeof C2);
    ir_value_t *t = ir_value_new(g, "t", IR_F32, &s2);
    ir_value_t *u = ir_value_new(g, "u", IR_F32, &s2);
    ir_value_t *y = ir_value_new(g, "y", out_dtype, &s2);
    assert_true(x && c1 && c2 && t && u && y);
    ir_node_t *add = ir_node_new(g, IR_OP_ADD, "add0", 2, 1);
    ir_node_t *mul = ir_node_new(g, IR_OP_MUL, "mul0", 2, 1);
    ir_node_t *relu = ir_node_new(g, IR_OP_RELU, "relu0", 1, 1);
    assert_true(add && mul && relu);
    add->in[0] = x, add->in[1] = c1, add->out[0] = t;
    mul->in[0] = t, mul->in[1] = c2, mul->out[0] = u;
    relu->in[0] = u, relu->out[0] = y;
    t->producer = add, u->producer = mul, y->producer = relu;
    /* what the memory planner would have decided */
    x->is_input = true, x->storage = IR_ST_INPUT, x->index = 0;
    y->is_output = true, y->storage = IR_ST_OUTPUT, y->index = 0;
    c1->storage = IR_ST_CONST, c1->offset = 0;
    c2->storage = IR_ST_CONST, c2->offset = 64;
    t->storage = IR_ST_WORKSPACE, t->offset = -1, t->dyn_slot = 0;
    u->storage = IR_ST_WORKSPACE, u->offset = -1, u->dyn_slot = 1;
    g->blob_size = 128;
    g->ws_static = 0;
    g->n_dyn_slots = 2;
    g->inputs = malloc(sizeof(ir_value_t *));
    g->outputs = malloc(sizeof(ir_value_t *));
    assert_true(g->inputs && g->outputs);
    g->inputs[0] = x, g->n_inputs = 1;
    g->outputs[0] = y, g->n_outputs = 1;
    /* and what the schedule pass would have decided */
    assert_int_equal(pass_schedule(g), 0);
    ir_graph_recount(g);
    return g;
}

/* ---- scratch folders */

static char *scratch(void) {
    char tmpl[] = "/tmp/onnxc-backend-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_tree(char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rmdir(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

static int count_substr(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static llvm_backend_opts_t opts(const char *out, llvm_emit_kind_t emit) {
    llvm_backend_opts_t o = {.name = "tiny", .opt_level = 2, .emit = emit, .output = out};
    return o;
}

/* llvm_backend_compile with its diagnostics read back as one line of text: the last one
 * reported (the graph is reused across calls), then the list is emptied. */
static int compile(ir_graph_t *g, const llvm_backend_opts_t *o, char *err, size_t n) {
    int rc = llvm_backend_compile(g, o);
    err[0] = 0;
    if (g->diags.n) ir_diag_format(&g->diags.items[g->diags.n - 1], err, n);
    assert_int_equal(rc ? g->diags.n_errors > 0 : g->diags.n_errors == 0, 1);
    ir_diags_free(&g->diags);
    return rc;
}

/* ---- tests */

static void test_obj_and_header(void **state) {
    (void)state;
    char *d = scratch();
    char out[512], hdr[512], err[1024] = "";
    snprintf(out, sizeof out, "%s/tiny.o", d);
    snprintf(hdr, sizeof hdr, "%s/tiny.h", d);
    ir_graph_t *g = tiny_graph(IR_F32);
    llvm_backend_opts_t o = opts(out, LLVM_EMIT_OBJ);
    assert_int_equal(compile(g, &o, err, sizeof err), 0);
    size_t n = 0;
    char *obj = read_file(out, &n);
    assert_non_null(obj);
    assert_true(n > 64);
    assert_memory_equal(obj, "\x7f" "ELF", 4);
    free(obj);
    char *h = read_file(hdr, NULL);
    assert_non_null(h);
    assert_non_null(strstr(h, "\"x\"  float32  [batch, 3]"));
    assert_non_null(strstr(h, "\"y\"  float32  [batch, 3]"));
    assert_non_null(strstr(h, "syms[0] = batch"));
    assert_non_null(strstr(h, "int tiny_run("));
    assert_non_null(strstr(h, "size_t tiny_workspace_size(const int64_t *syms);"));
    assert_non_null(strstr(h, "extern const onnxc_model_desc_t tiny_desc;"));
    assert_non_null(strstr(h, "#define tiny_NUM_INPUTS 1"));
    assert_non_null(strstr(h, "#define tiny_NUM_SYMS 1"));
    assert_non_null(strstr(h, " * Link: cc prog.c tiny.o -lm "));
    assert_non_null(strstr(h, "extern \"C\""));
    assert_non_null(strstr(h, "typedef struct onnxc_model_desc {"));   /* the ABI, embedded */
    free(h);
    assert_int_equal(count_entries(d), 2);   /* no temporaries left */
    ir_graph_free(g);
    remove_tree(d);
}

static void test_llvm_ir_single_blob(void **state) {
    (void)state;
    char *d = scratch();
    char out[512], err[1024] = "";
    snprintf(out, sizeof out, "%s/tiny.ll", d);
    ir_graph_t *g = tiny_graph(IR_F32);
    llvm_backend_opts_t o = opts(out, LLVM_EMIT_LLVM_IR);
    o.opt_level = 0;
    assert_int_equal(compile(g, &o, err, sizeof err), 0);
    char *ll = read_file(out, NULL);
    assert_non_null(ll);
    /* one private 64-aligned byte array; 1.0f = 00 00 80 3F at offset 0, 2.0f at 64 */
    assert_int_equal(count_substr(ll, "@tiny_weights = private"), 1);
    const char *w = strstr(ll, "@tiny_weights = private");
    assert_non_null(strstr(w, "constant [128 x i8] c\"\\00\\00\\80?"));
    const char *eol = strchr(w, '\n');
    assert_non_null(eol);
    assert_non_null(strstr(w, ", align 64"));
    assert_true(strstr(w, ", align 64") < eol);
    assert_int_equal(count_substr(ll, "x float]"), 0);    /* no per-element constants */
    assert_non_null(strstr(ll, "@tiny_desc = "));
    assert_non_null(strstr(ll, "define i32 @tiny_run("));
    assert_null(strstr(ll, "onnxc_exe_model"));          /* only for EXE */
    free(ll);
    assert_int_equal(count_entries(d), 1);   /* .ll only: no header for IR */
    ir_graph_free(g);
    remove_tree(d);
}

static void run_batch(const onnxc_model_desc_t *desc, int64_t batch) {
    float x[5 * 3], y[5 * 3];
    for (int i = 0; i < batch * 3; i++) x[i] = (float)i - 4.0f;
    size_t ws_n = desc->workspace_size(&batch);
    assert_int_equal(ws_n, 2 * ((batch * 12 + 63) / 64 * 64));
    void *ws = aligned_alloc(64, ws_n + 64);
    assert_non_null(ws);
    const void *in[1] = {x};
    void *out[1] = {y};
    assert_int_equal(desc->run(NULL, &batch, in, out, ws), ONNXC_OK);
    for (int i = 0; i < batch * 3; i++) {
        float want = (x[i] + C1[i % 3]) * C2[i % 3];
        assert_float_equal(y[i], want > 0 ? want : 0.0f, 0.0f);
    }
    assert_int_equal(desc->run(NULL, &batch, in, out, (char *)ws + 4), ONNXC_ERR_WORKSPACE);
    int64_t zero = 0;
    assert_int_equal(desc->run(NULL, &zero, in, out, ws), ONNXC_ERR_SHAPE);
    assert_int_equal(desc->run(NULL, &batch, NULL, out, ws), ONNXC_ERR_ARGUMENT);
    free(ws);
}

static void test_shared_library_runs(void **state) {
    (void)state;
    const char *bd = getenv("ONNXC_BUILD_DIR");
    if (!bd) skip();
    char rt[512];
    snprintf(rt, sizeof rt, "%s/runtime", bd);
    char *d = scratch();
    char out[512], hdr[512], err[1024] = "";
    snprintf(out, sizeof out, "%s/libtiny.so", d);
    snprintf(hdr, sizeof hdr, "%s/tiny.h", d);
    ir_graph_t *g = tiny_graph(IR_F32);
    llvm_backend_opts_t o = opts(out, LLVM_EMIT_SO);
    o.runtime_dir = rt;
    int rc = compile(g, &o, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(access(hdr, R_OK), 0);
    /* the header says how to link this library, not an object */
    char *text = read_file(hdr, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, " * Link: cc prog.c -L<folder of libtiny.so> -ltiny -Wl,-rpath,<that folder>\n"));
    assert_null(strstr(text, "tiny.o -lm"));
    free(text);
    void *h = dlopen(out, RTLD_NOW | RTLD_LOCAL);
    if (!h) fprintf(stderr, "%s\n", dlerror());
    assert_non_null(h);
    const onnxc_model_desc_t *desc = dlsym(h, "tiny_desc");
    assert_non_null(desc);
    assert_string_equal(desc->name, "tiny");
    assert_int_equal(desc->n_inputs, 1);
    assert_int_equal(desc->n_outputs, 1);
    assert_int_equal(desc->n_syms, 1);
    assert_string_equal(desc->sym_names[0], "batch");
    assert_string_equal(desc->inputs[0].name, "x");
    assert_string_equal(desc->outputs[0].name, "y");
    assert_int_equal(desc->inputs[0].dtype, 1);
    assert_int_equal(desc->inputs[0].rank, 2);
    assert_int_equal(desc->inputs[0].dims[0], 1);
    assert_int_equal(desc->inputs[0].dim_sym[0], 0);
    assert_int_equal(desc->inputs[0].dims[1], 3);
    assert_int_equal(desc->inputs[0].dim_sym[1], -1);
    assert_ptr_equal((void *)desc->run, dlsym(h, "tiny_run"));
    run_batch(desc, 2);
    run_batch(desc, 5);
    dlclose(h);
    ir_graph_free(g);
    remove_tree(d);
}

/* Every failure: -1, a one-line message, and the folder as it was. */
static void expect_failure(ir_graph_t *g, const llvm_backend_opts_t *o, const char *dir, int entries,
                           const char *must_name) {
    char err[1024] = "";
    assert_int_equal(compile(g, o, err, sizeof err), -1);
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
    if (!strstr(err, must_name)) fail_msg("error '%s' does not name '%s'", err, must_name);
    assert_int_equal(count_entries(dir), entries);
}

static void test_failures_leave_nothing(void **state) {
    (void)state;
    char *d = scratch();
    char out[512], sub[512];
    ir_graph_t *g = tiny_graph(IR_F32);

    snprintf(out, sizeof out, "%s/no/such/dir/x.o", d);
    llvm_backend_opts_t o = opts(out, LLVM_EMIT_OBJ);
    expect_failure(g, &o, d, 0, "x.o");

    /* an output that is a folder: the rename fails after everything was written */
    snprintf(sub, sizeof sub, "%s/taken.o", d);
    assert_int_equal(mkdir(sub, 0755), 0);
    o = opts(sub, LLVM_EMIT_OBJ);
    expect_failure(g, &o, d, 1, "taken.o");

    /* the header's place is taken by a folder: the object must not stay either */
    snprintf(out, sizeof out, "%s/hdr.o", d);
    snprintf(sub, sizeof sub, "%s/hdr.h", d);
    assert_int_equal(mkdir(sub, 0755), 0);
    o = opts(out, LLVM_EMIT_OBJ);
    expect_failure(g, &o, d, 2, "hdr.h");

    snprintf(out, sizeof out, "%s/prog", d);
    o = opts(out, LLVM_EMIT_EXE);
    o.runtime_dir = "/nonexistent/runtime";
    expect_failure(g, &o, d, 2, "libonnxc_rt.a");

    /* the link itself fails ("false" exits 1) */
    o.runtime_dir = d;
    snprintf(sub, sizeof sub, "%s/libonnxc_rt.a", d);
    FILE *f = fopen(sub, "w");
    assert_non_null(f);
    fclose(f);
    o.cc = "false";
    expect_failure(g, &o, d, 3, "linking");

    o = opts(out, LLVM_EMIT_OBJ);
    o.name = "1tiny";
    expect_failure(g, &o, d, 3, "1tiny");

    o = opts(out, LLVM_EMIT_OBJ);
    o.cpu = "no-such-cpu";
    expect_failure(g, &o, d, 3, "no-such-cpu");

    o = opts("-", LLVM_EMIT_OBJ);
    expect_failure(g, &o, d, 3, "standard output");
    ir_graph_free(g);

    /* the lowering refuses a dtype: its message (naming the node) comes through */
    g = tiny_graph(IR_STRING);
    o = opts(out, LLVM_EMIT_OBJ);
    expect_failure(g, &o, d, 3, "relu0");
    ir_graph_free(g);
    remove_tree(d);
}

static void test_header_path(void **state) {
    (void)state;
    char b[256];
    assert_int_equal(llvm_backend_header_path("out/model.o", LLVM_EMIT_OBJ, b, sizeof b), 0);
    assert_string_equal(b, "out/model.h");
    assert_int_equal(llvm_backend_header_path("a.b/libmlp.so", LLVM_EMIT_SO, b, sizeof b), 0);
    assert_string_equal(b, "a.b/mlp.h");
    assert_int_equal(llvm_backend_header_path("libfoo.o", LLVM_EMIT_OBJ, b, sizeof b), 0);
    assert_string_equal(b, "libfoo.h");
    assert_int_equal(llvm_backend_header_path("plain", LLVM_EMIT_OBJ, b, sizeof b), 0);
    assert_string_equal(b, "plain.h");
    assert_int_equal(llvm_backend_header_path("x.o", LLVM_EMIT_OBJ, b, 3), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_obj_and_header),
        cmocka_unit_test(test_llvm_ir_single_blob),
        cmocka_unit_test(test_shared_library_runs),
        cmocka_unit_test(test_failures_leave_nothing),
        cmocka_unit_test(test_header_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
