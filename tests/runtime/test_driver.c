/* Tests of the standalone driver (runtime/main.c) through rt_fake_model, a hand-written
 * model linked exactly as the compiler links an exe. Each test runs the program as a
 * child process and checks its exit status, its messages and the files it writes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/onnxc_rt.h"

extern char **environ;

static char dir[256];
static const char *exe;
static char out_text[65536], err_text[65536];

static const char *path_in(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void read_text(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs exe with the given arguments (NULL-terminated); returns its exit status and
 * leaves its stdout/stderr in out_text/err_text. */
static int run(const char *arg0, ...) {
    const char *argv[32];
    int n = 0;
    argv[n++] = exe;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 31; a = va_arg(ap, const char *)) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path_in("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, path_in("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    read_text(path_in("stdout.txt"), out_text, sizeof out_text);
    read_text(path_in("stderr.txt"), err_text, sizeof err_text);
    if (!WIFEXITED(status)) fail_msg("%s died with signal %d; stderr: %s", exe, WTERMSIG(status), err_text);
    return WEXITSTATUS(status);
}

static void expect_err(const char *want) {
    if (!strstr(err_text, want)) fail_msg("stderr '%s' lacks '%s'", err_text, want);
}

static void expect_out(const char *want) {
    if (!strstr(out_text, want)) fail_msg("stdout '%s' lacks '%s'", out_text, want);
}

/* x[i] = i * 0.5 - 1 for a [batch,3] input; idx = {3, 4} */
static void write_inputs(int batch, const char *xname, const char *idxname) {
    float x[64 * 3];
    for (int i = 0; i < batch * 3; i++) x[i] = (float)i * 0.5f - 1.0f;
    int64_t xd[2] = {batch, 3}, idx[2] = {3, 4}, id[1] = {2};
    char err[512];
    int npy = strstr(xname, ".npy") != NULL;
    int rc = npy ? onnxc_tensor_write_npy(path_in(xname), ONNXC_DT_FLOAT, 2, xd, x, err, sizeof err)
                 : onnxc_tensor_write_pb(path_in(xname), "x", ONNXC_DT_FLOAT, 2, xd, x, err, sizeof err);
    if (rc) fail_msg("%s", err);
    if (onnxc_tensor_write_pb(path_in(idxname), "idx", ONNXC_DT_INT64, 1, id, idx, err, sizeof err))
        fail_msg("%s", err);
}

static void check_outputs(const char *outdir, int batch, const char *ext) {
    char p[600], err[512];
    onnxc_tensor_t t;
    snprintf(p, sizeof p, "%s/output_0.%s", outdir, ext);
    if (onnxc_tensor_read(p, &t, err, sizeof err)) fail_msg("%s", err);
    if (!strcmp(ext, "pb")) assert_string_equal(t.name, "y");
    assert_int_equal(t.dtype, ONNXC_DT_FLOAT);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.dims[0], batch);
    assert_int_equal(t.dims[1], 3);
    for (int i = 0; i < batch * 3; i++) assert_true(((float *)t.data)[i] == 2.0f * ((float)i * 0.5f - 1.0f) + 3.0f);
    onnxc_tensor_free(&t);
    snprintf(p, sizeof p, "%s/output_1.%s", outdir, ext);
    if (onnxc_tensor_read(p, &t, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(t.dtype, ONNXC_DT_INT64);
    assert_int_equal(t.rank, 0);
    assert_int_equal(*(int64_t *)t.data, 7);
    onnxc_tensor_free(&t);
    snprintf(p, sizeof p, "%s/output_2.%s", outdir, ext);
    if (onnxc_tensor_read(p, &t, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(t.rank, 1);
    assert_int_equal(t.dims[0], 2 * batch);
    assert_true(((float *)t.data)[1] == 1 * 0.5f - 1.0f);   /* row 0, column 1 = x[1] */
    if (batch > 1) assert_true(((float *)t.data)[2] == 3 * 0.5f - 1.0f);   /* row 1, column 0 = x[3] */
    if (batch > 1) assert_true(((float *)t.data)[3] == 4 * 0.5f - 1.0f);   /* row 1, column 1 = x[4] */
    onnxc_tensor_free(&t);
}

static void test_run_pb(void **s) {
    (void)s;
    write_inputs(5, "x5.pb", "idx.pb");
    assert_int_equal(run(path_in("x5.pb"), path_in("idx.pb"), "-o", path_in("out5"), NULL), 0);
    expect_out("output_0.pb: y float32 [5,3]\n");
    expect_out("output_1.pb: s int64 []\n");
    expect_out("output_2.pb: z float32 [10]\n");
    assert_string_equal(err_text, "");
    check_outputs(path_in("out5"), 5, "pb");
    /* the same binary at batch 1, 4 threads, into a nested directory it creates */
    write_inputs(1, "x1.pb", "idx.pb");
    assert_int_equal(run(path_in("x1.pb"), path_in("idx.pb"), "-o", path_in("a/b/out1"), "--threads", "4", NULL), 0);
    check_outputs(path_in("a/b/out1"), 1, "pb");
    /* batch 64 through the pool */
    write_inputs(64, "x64.pb", "idx.pb");
    assert_int_equal(run(path_in("x64.pb"), path_in("idx.pb"), "-o", path_in("out64"), "--threads=3", NULL), 0);
    check_outputs(path_in("out64"), 64, "pb");
}

static void test_run_npy(void **s) {
    (void)s;
    write_inputs(4, "x4.npy", "idx.pb");
    assert_int_equal(run(path_in("x4.npy"), path_in("idx.pb"), "-o", path_in("outnpy"), "--npy", NULL), 0);
    expect_out("output_0.npy: y float32 [4,3]");
    check_outputs(path_in("outnpy"), 4, "npy");
}

static void test_info_help(void **s) {
    (void)s;
    assert_int_equal(run("--info", NULL), 0);
    expect_out("x float32 [batch,3]");
    expect_out("idx int64 [2]");
    expect_out("s int64 []");
    expect_out("z float32 [2*batch]");
    expect_out("symbols: batch");
    assert_int_equal(run("--help", NULL), 0);
    expect_out("usage:");
}

static void test_bench(void **s) {
    (void)s;
    assert_int_equal(run("--bench", "5", "--threads", "2", NULL), 0);
    expect_out("(5 runs, 2 threads)");
    expect_out("min ");
    expect_out(" ms  median ");
    expect_out(" ms  p90 ");
    /* symbol sizes from --sym; outputs written when -o is given */
    assert_int_equal(run("--bench", "2", "--sym", "batch=7", "-o", path_in("outb"), NULL), 0);
    expect_out("output_0.pb: y float32 [7,3]");
    /* with input files */
    write_inputs(5, "x5.pb", "idx.pb");
    assert_int_equal(run("--bench", "3", path_in("x5.pb"), path_in("idx.pb"), "--threads", "1", NULL), 0);
    expect_out("(3 runs, 1 threads)");
}

static void test_bad_usage(void **s) {
    (void)s;
    write_inputs(5, "x5.pb", "idx.pb");
    assert_int_equal(run(path_in("x5.pb"), "-o", path_in("o"), NULL), 2);
    expect_err("takes 2 inputs, got 1 file");
    assert_int_equal(run(path_in("x5.pb"), path_in("idx.pb"), NULL), 2);
    expect_err("-o OUTDIR");
    assert_int_equal(run("--frobnicate", NULL), 2);
    expect_err("unknown option '--frobnicate'");
    assert_int_equal(run("--bench", NULL), 2);
    assert_int_equal(run("--bench", "0", NULL), 2);
    assert_int_equal(run("--bench", "2", "--threads", "x", NULL), 2);
    assert_int_equal(run("--bench", "2", "--sym", "batch=0", NULL), 2);
    assert_int_equal(run("--bench", "2", "--sym", "nosuch=3", NULL), 2);
    expect_err("no symbolic dimension 'nosuch'");
    assert_int_equal(run("--bench", "2", "--sym", "batch", NULL), 2);
}

static void test_bad_inputs(void **s) {
    (void)s;
    char err[512];
    write_inputs(5, "x5.pb", "idx.pb");
    /* dtype */
    int32_t i32[2] = {1, 2};
    int64_t d2 = 2;
    assert_int_equal(onnxc_tensor_write_pb(path_in("idx32.pb"), "idx", ONNXC_DT_INT32, 1, &d2, i32, err, sizeof err), 0);
    assert_int_equal(run(path_in("x5.pb"), path_in("idx32.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("input 'idx' (");
    expect_err("idx32.pb): expected int64 [2], got int32 [2]");
    /* a static dim */
    float f[20] = {0};
    int64_t d54[2] = {5, 4};
    assert_int_equal(onnxc_tensor_write_pb(path_in("x54.pb"), "x", ONNXC_DT_FLOAT, 2, d54, f, err, sizeof err), 0);
    assert_int_equal(run(path_in("x54.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("expected float32 [batch,3], got float32 [5,4]");
    /* a file named after another input, in x's place: refused by name */
    assert_int_equal(run(path_in("idx.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("input 0 is 'x', but ");
    expect_err("idx.pb holds tensor 'idx'");
    /* rank (an unnamed tensor stays positional, so its shape is what is refused) */
    int64_t idx[2] = {3, 4};
    assert_int_equal(onnxc_tensor_write_pb(path_in("anon.pb"), NULL, ONNXC_DT_INT64, 1, &d2, idx, err, sizeof err), 0);
    assert_int_equal(run(path_in("anon.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("input 'x'");
    expect_err("expected float32 [batch,3], got int64 [2]");
    /* a symbol that contradicts --sym */
    assert_int_equal(run(path_in("x5.pb"), path_in("idx.pb"), "-o", path_in("o"), "--sym", "batch=4", NULL), 1);
    expect_err("batch = 4 from --sym");
    /* a symbolic dim of 0 */
    int64_t d03[2] = {0, 3};
    assert_int_equal(onnxc_tensor_write_pb(path_in("x0.pb"), "x", ONNXC_DT_FLOAT, 2, d03, NULL, err, sizeof err), 0);
    assert_int_equal(run(path_in("x0.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("batch must be >= 1");
    /* unreadable and truncated files */
    assert_int_equal(run(path_in("missing.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("missing.pb: cannot open");
    FILE *fp = fopen(path_in("trunc.pb"), "wb");
    fwrite("\x08\x05\x08\x03\x10\x01\x4a\x3c\x00", 1, 9, fp);
    fclose(fp);
    assert_int_equal(run(path_in("trunc.pb"), path_in("idx.pb"), "-o", path_in("o"), NULL), 1);
    expect_err("trunc.pb: malformed TensorProto");
    /* nothing was written by the failed runs */
    assert_int_not_equal(access(path_in("o"), F_OK), 0);
}

static void test_run_failure_and_limits(void **s) {
    (void)s;
    char err[512];
    float x[3] = {__builtin_nanf(""), 0, 0};
    int64_t d[2] = {1, 3};
    assert_int_equal(onnxc_tensor_write_pb(path_in("xnan.pb"), "x", ONNXC_DT_FLOAT, 2, d, x, err, sizeof err), 0);
    write_inputs(1, "x1.pb", "idx.pb");
    assert_int_equal(run(path_in("xnan.pb"), path_in("idx.pb"), "-o", path_in("onan"), NULL), 1);
    expect_err("run failed: internal error (status 4)");
    assert_int_not_equal(access(path_in("onan/output_0.pb"), F_OK), 0);
    /* the fake workspace size wraps around at batch 2^21 and is absurd at 1,000,001 */
    assert_int_equal(run("--bench", "1", "--sym", "batch=2097152", NULL), 1);
    expect_err("workspace size overflows");
    assert_int_equal(run("--bench", "1", "--sym", "batch=1000001", NULL), 1);
    expect_err("too large");
    /* an output dir that is a file */
    assert_int_equal(run(path_in("x1.pb"), path_in("idx.pb"), "-o", path_in("x1.pb"), NULL), 1);
    expect_err("cannot create output directory");
}

static int setup(void **s) {
    (void)s;
    exe = getenv("ONNXC_FAKE_MODEL");
    if (!exe || !*exe) exe = ONNXC_DEFAULT_FAKE_MODEL;
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/onnxc_drv_test_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) && access(exe, X_OK) == 0 ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int run_driver_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_pb),
        cmocka_unit_test(test_run_npy),
        cmocka_unit_test(test_info_help),
        cmocka_unit_test(test_bench),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_run_failure_and_limits),
    };
    return cmocka_run_group_tests_name("runtime driver", tests, setup, teardown);
}
