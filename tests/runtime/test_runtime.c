/* Unit tests for the runtime: the thread pool, tensor .pb/.npy I/O and its refusals.
 * The standalone driver's tests are in test_driver.c and run from the same main. */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/onnxc_rt.h"

int run_driver_tests(void);

/* ---- thread pool ------------------------------------------------------------------ */

typedef struct {
    const int64_t *v;
    atomic_llong sum;
    atomic_int calls;
    atomic_int *visits;
} sum_task_t;

static void sum_fn(void *arg, int64_t b, int64_t e) {
    sum_task_t *t = arg;
    long long s = 0;
    for (int64_t i = b; i < e; i++) {
        if (t->v) s += t->v[i];
        if (t->visits) atomic_fetch_add(&t->visits[i], 1);
    }
    atomic_fetch_add(&t->sum, s);
    atomic_fetch_add(&t->calls, 1);
}

static void check_sum(int threads) {
    const int64_t n = 1 << 20;
    int64_t *v = malloc((size_t)n * sizeof *v);
    atomic_int *visits = calloc((size_t)n, sizeof *visits);
    assert_non_null(v);
    assert_non_null(visits);
    long long want = 0;
    for (int64_t i = 0; i < n; i++) v[i] = (i * 7919) % 1000 - 300, want += v[i];
    onnxc_ctx_t *ctx = onnxc_ctx_create(threads);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_threads, threads);
    sum_task_t t = {.v = v, .visits = visits};
    ctx->parallel_for(ctx, sum_fn, &t, n);
    assert_int_equal(atomic_load(&t.sum), want);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&visits[i]) != 1) fail_msg("index %lld visited %d times", (long long)i, atomic_load(&visits[i]));
    /* one chunk per call with 1 thread; about threads*4 chunks otherwise */
    assert_int_equal(atomic_load(&t.calls), threads == 1 ? 1 : threads * 4);
    onnxc_ctx_destroy(ctx);
    free(v);
    free(visits);
}

static void test_pool_sum_1(void **s) { (void)s; check_sum(1); }
static void test_pool_sum_2(void **s) { (void)s; check_sum(2); }
static void test_pool_sum_4(void **s) { (void)s; check_sum(4); }

/* Small n: every index once, never more chunks than iterations, n = 0 calls nothing. */
static void test_pool_small_n(void **s) {
    (void)s;
    onnxc_ctx_t *ctx = onnxc_ctx_create(4);
    assert_non_null(ctx);
    for (int64_t n = 0; n <= 40; n++) {
        atomic_int visits[40];
        for (int i = 0; i < 40; i++) atomic_init(&visits[i], 0);
        sum_task_t t = {.visits = visits};
        ctx->parallel_for(ctx, sum_fn, &t, n);
        for (int64_t i = 0; i < n; i++) assert_int_equal(atomic_load(&visits[i]), 1);
        assert_int_equal(atomic_load(&t.calls), n < 16 ? n : 16);
    }
    onnxc_ctx_destroy(ctx);
}

/* Many back-to-back jobs on one pool: catches a worker still inside the previous job. */
static void test_pool_many_jobs(void **s) {
    (void)s;
    onnxc_ctx_t *ctx = onnxc_ctx_create(3);
    assert_non_null(ctx);
    int64_t v[1000];
    for (int i = 0; i < 1000; i++) v[i] = i;
    for (int rep = 0; rep < 2000; rep++) {
        sum_task_t t = {.v = v};
        int64_t n = 1 + rep % 1000;
        ctx->parallel_for(ctx, sum_fn, &t, n);
        assert_int_equal(atomic_load(&t.sum), (long long)n * (n - 1) / 2);
    }
    onnxc_ctx_destroy(ctx);
}

typedef struct {
    onnxc_ctx_t *ctx;
    atomic_llong inner;
} nest_t;

static void inner_fn(void *arg, int64_t b, int64_t e) {
    nest_t *t = arg;
    atomic_fetch_add(&t->inner, e - b);
}

static void outer_fn(void *arg, int64_t b, int64_t e) {
    nest_t *t = arg;
    for (int64_t i = b; i < e; i++) t->ctx->parallel_for(t->ctx, inner_fn, t, 100);
}

/* A parallel_for inside a task must run inline, not deadlock on the busy pool. */
static void test_pool_nested(void **s) {
    (void)s;
    nest_t t = {.ctx = onnxc_ctx_create(4)};
    assert_non_null(t.ctx);
    atomic_init(&t.inner, 0);
    t.ctx->parallel_for(t.ctx, outer_fn, &t, 64);
    assert_int_equal(atomic_load(&t.inner), 6400);
    onnxc_ctx_destroy(t.ctx);
}

static void test_pool_defaults(void **s) {
    (void)s;
    onnxc_ctx_t *ctx = onnxc_ctx_create(0);
    assert_non_null(ctx);
    assert_int_equal(ctx->n_threads, onnxc_usable_cores());
    assert_true(ctx->n_threads >= 1);
    onnxc_ctx_destroy(ctx);
    onnxc_ctx_destroy(NULL);
}

/* ---- dtypes ----------------------------------------------------------------------- */

static void test_dtypes(void **s) {
    (void)s;
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_FLOAT), 4);
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_INT64), 8);
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_BOOL), 1);
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_FLOAT16), 2);
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_COMPLEX128), 16);
    assert_int_equal(onnxc_dtype_size(ONNXC_DT_STRING), 0);
    assert_int_equal(onnxc_dtype_size(-1), 0);
    assert_int_equal(onnxc_dtype_size(999), 0);
    assert_string_equal(onnxc_dtype_name(ONNXC_DT_FLOAT), "float32");
    assert_string_equal(onnxc_dtype_name(ONNXC_DT_DOUBLE), "float64");
    assert_string_equal(onnxc_dtype_name(ONNXC_DT_BOOL), "bool");
    assert_string_equal(onnxc_dtype_name(12345), "unknown");
    int64_t big[3] = {INT64_C(1) << 40, INT64_C(1) << 40, INT64_C(1) << 40};
    size_t ne, nb;
    assert_int_equal(onnxc_tensor_bytes(ONNXC_DT_FLOAT, 3, big, &ne, &nb), -1);
    int64_t ok[2] = {5, 784};
    assert_int_equal(onnxc_tensor_bytes(ONNXC_DT_FLOAT, 2, ok, &ne, &nb), 0);
    assert_int_equal(ne, 3920);
    assert_int_equal(nb, 15680);
}

/* ---- helpers ---------------------------------------------------------------------- */

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Reading must fail with "PATH: <something containing want>". */
static void expect_refusal(const char *path, const char *want) {
    onnxc_tensor_t t;
    char err[512] = "";
    assert_int_equal(onnxc_tensor_read(path, &t, err, sizeof err), -1);
    assert_null(t.data);
    size_t pl = strlen(path);
    if (strncmp(err, path, pl) != 0 || err[pl] != ':') fail_msg("message lacks the path: '%s'", err);
    if (want && !strstr(err, want)) fail_msg("'%s' does not mention '%s'", err, want);
}

/* A tiny protobuf writer for hand-built TensorProtos. */
typedef struct {
    uint8_t b[4096];
    size_t n;
} pbuf_t;

static void pv(pbuf_t *p, uint64_t v) {
    while (v >= 0x80) p->b[p->n++] = (uint8_t)(v | 0x80), v >>= 7;
    p->b[p->n++] = (uint8_t)v;
}
static void pkey(pbuf_t *p, unsigned field, unsigned wt) { pv(p, (uint64_t)field << 3 | wt); }
static void pbytes(pbuf_t *p, unsigned field, const void *d, size_t n) {
    pkey(p, field, 2);
    pv(p, n);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pfixed(pbuf_t *p, const void *d, size_t n) {
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void read_ok(const char *path, onnxc_tensor_t *t) {
    char err[512] = "";
    if (onnxc_tensor_read(path, t, err, sizeof err)) fail_msg("read failed: %s", err);
    assert_non_null(t->data);
    assert_int_equal((uintptr_t)t->data & 63, 0);
}

/* ---- .pb ---------------------------------------------------------------------------- */

static void fill_pattern(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 131 + seed * 17 + 7);
}

static void test_pb_roundtrip_all_dtypes(void **s) {
    (void)s;
    int n_tested = 0;
    for (int32_t dt = 1; dt <= 20; dt++) {   /* the sub-byte kinds: test_pb_sub_byte */
        size_t es = onnxc_dtype_size(dt);
        if (!es) continue;
        int64_t dims[3] = {2, 3, 5};
        uint8_t data[30 * 16];
        fill_pattern(data, 30 * es, (unsigned)dt);
        if (dt == ONNXC_DT_BOOL)
            for (int i = 0; i < 30; i++) data[i] &= 1;
        const char *path = tmp_path("rt.pb");
        char err[512] = "";
        assert_int_equal(onnxc_tensor_write_pb(path, "tensor_name", dt, 3, dims, data, err, sizeof err), 0);
        onnxc_tensor_t t;
        read_ok(path, &t);
        assert_string_equal(t.name, "tensor_name");
        assert_int_equal(t.dtype, dt);
        assert_int_equal(t.rank, 3);
        assert_memory_equal(t.dims, dims, sizeof dims);
        assert_int_equal(t.nbytes, 30 * es);
        assert_memory_equal(t.data, data, 30 * es);
        onnxc_tensor_free(&t);
        assert_null(t.data);
        n_tested++;
    }
    assert_int_equal(n_tested, 19);   /* 1..20 less string */
}

static void test_pb_scalar_and_empty(void **s) {
    (void)s;
    double v = -2.5;
    const char *path = tmp_path("scalar.pb");
    assert_int_equal(onnxc_tensor_write_pb(path, NULL, ONNXC_DT_DOUBLE, 0, NULL, &v, NULL, 0), 0);
    onnxc_tensor_t t;
    read_ok(path, &t);
    assert_int_equal(t.rank, 0);
    assert_string_equal(t.name, "");
    assert_int_equal(t.nbytes, 8);
    assert_true(*(double *)t.data == -2.5);
    onnxc_tensor_free(&t);

    int64_t dims[2] = {0, 4};
    path = tmp_path("empty.pb");
    assert_int_equal(onnxc_tensor_write_pb(path, "e", ONNXC_DT_FLOAT, 2, dims, NULL, NULL, 0), 0);
    read_ok(path, &t);
    assert_int_equal(t.nbytes, 0);
    assert_int_equal(t.dims[0], 0);
    assert_int_equal(t.dims[1], 4);
    onnxc_tensor_free(&t);
}

/* Typed fields in every encoding, dims packed and unpacked, and unknown fields of every
 * wire type (including a nested group) that must be skipped. */
static void test_pb_typed_fields(void **s) {
    (void)s;
    onnxc_tensor_t t;
    const char *path = tmp_path("typed.pb");

    /* float_data unpacked, dims packed, preceded by unknown fields of each wire type */
    pbuf_t p = {.n = 0};
    pkey(&p, 100, 0), pv(&p, 12345);
    pkey(&p, 101, 1), pfixed(&p, "12345678", 8);
    pbytes(&p, 102, "junk", 4);
    pkey(&p, 103, 5), pfixed(&p, "1234", 4);
    pkey(&p, 104, 3), pkey(&p, 1, 0), pv(&p, 7), pkey(&p, 105, 3), pkey(&p, 105, 4), pkey(&p, 104, 4);
    pbuf_t dims = {.n = 0};
    pv(&dims, 2), pv(&dims, 2);
    pbytes(&p, 1, dims.b, dims.n);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    float fv[4] = {1.5f, -2.0f, 3.25f, 1e-3f};
    for (int i = 0; i < 4; i++) pkey(&p, 4, 5), pfixed(&p, &fv[i], 4);
    pbytes(&p, 8, "w", 1);
    pbytes(&p, 12, "a doc string", 12);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_string_equal(t.name, "w");
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.dims[0], 2);
    assert_int_equal(t.dims[1], 2);
    assert_memory_equal(t.data, fv, sizeof fv);
    onnxc_tensor_free(&t);

    /* float_data packed */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 4);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pbytes(&p, 4, fv, sizeof fv);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_memory_equal(t.data, fv, sizeof fv);
    onnxc_tensor_free(&t);

    /* int32_data for int8 (negative values are 10-byte varints), packed */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_INT8);
    pbuf_t vals = {.n = 0};
    pv(&vals, (uint64_t)(int64_t)-5), pv(&vals, 0), pv(&vals, 127);
    pbytes(&p, 5, vals.b, vals.n);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    int8_t want8[3] = {-5, 0, 127};
    assert_memory_equal(t.data, want8, 3);
    onnxc_tensor_free(&t);

    /* int32_data for bool and float16 bits, unpacked */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_BOOL);
    pkey(&p, 5, 0), pv(&p, 1), pkey(&p, 5, 0), pv(&p, 0), pkey(&p, 5, 0), pv(&p, 1);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_memory_equal(t.data, "\1\0\1", 3);
    onnxc_tensor_free(&t);
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 2);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT16);
    pkey(&p, 5, 0), pv(&p, 0x3c00), pkey(&p, 5, 0), pv(&p, 0xc000);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    uint16_t want16[2] = {0x3c00, 0xc000};
    assert_memory_equal(t.data, want16, 4);
    onnxc_tensor_free(&t);

    /* int64_data: unpacked then packed occurrences concatenate */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_INT64);
    pkey(&p, 7, 0), pv(&p, (uint64_t)INT64_MIN);
    vals.n = 0;
    pv(&vals, 42), pv(&vals, (uint64_t)(int64_t)-1);
    pbytes(&p, 7, vals.b, vals.n);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    int64_t want64[3] = {INT64_MIN, 42, -1};
    assert_memory_equal(t.data, want64, sizeof want64);
    onnxc_tensor_free(&t);

    /* double_data packed; uint64_data for uint32 */
    p.n = 0;
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_DOUBLE);
    pkey(&p, 1, 0), pv(&p, 2);
    double dv[2] = {3.141592653589793, -1e300};
    pbytes(&p, 10, dv, sizeof dv);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_memory_equal(t.data, dv, sizeof dv);
    onnxc_tensor_free(&t);
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 2);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_UINT32);
    pkey(&p, 11, 0), pv(&p, 4000000000u), pkey(&p, 11, 0), pv(&p, 7);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    uint32_t want32[2] = {4000000000u, 7};
    assert_memory_equal(t.data, want32, sizeof want32);
    onnxc_tensor_free(&t);
}

/* A TensorProto written by ONNX itself (onnx.numpy_helper via the model exporter). */
/* The sub-byte kinds: one byte per element in memory, packed low bits first in the file
 * (as onnx.helper.make_tensor writes them: INT4 [1, -2, 7] is raw_data or int32_data
 * {0xE1, 0x07}); odd counts leave the last byte's high bits zero; sizes that do not match
 * the packed length are refused. */
static void test_pb_sub_byte(void **s) {
    (void)s;
    const char *path = tmp_path("sub.pb");
    onnxc_tensor_t t;
    pbuf_t p;
    /* raw_data, int4, 3 elements in 2 bytes */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_INT4);
    pbytes(&p, 9, "\xE1\x07", 2);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_int_equal(t.nbytes, 3);
    assert_memory_equal(t.data, "\x01\x0E\x07", 3);   /* the codes in the low bits */
    onnxc_tensor_free(&t);
    /* int32_data, int2 [1, -2, 1, 0, -1]: packed bytes 25, 3 */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 5);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_INT2);
    pkey(&p, 5, 0), pv(&p, 25), pkey(&p, 5, 0), pv(&p, 3);
    write_bytes(path, p.b, p.n);
    read_ok(path, &t);
    assert_int_equal(t.nbytes, 5);
    assert_memory_equal(t.data, "\x01\x02\x01\x00\x03", 5);
    onnxc_tensor_free(&t);
    /* wrong packed lengths */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_UINT4);
    pbytes(&p, 9, "\xE1\x07\x00", 3);
    write_bytes(path, p.b, p.n);
    expect_refusal(path, "raw_data has 3 bytes but dims need 2");
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 5);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_UINT2);
    pkey(&p, 5, 0), pv(&p, 25);
    write_bytes(path, p.b, p.n);
    expect_refusal(path, "int32_data has 1 values but dims need 2");
    /* the writer packs: every count from 0 to 9 of every sub-byte kind round-trips, and
     * the file holds ceil(n * bits / 8) data bytes */
    const int32_t kinds[5] = {ONNXC_DT_INT4, ONNXC_DT_UINT4, ONNXC_DT_FLOAT4E2M1, ONNXC_DT_INT2, ONNXC_DT_UINT2};
    for (int k = 0; k < 5; k++) {
        int bits = k < 3 ? 4 : 2;
        for (int64_t n = 0; n < 10; n++) {
            uint8_t data[10];
            for (int i = 0; i < n; i++) data[i] = (uint8_t)((unsigned)(i * 5 + k) & ((1u << bits) - 1));
            assert_int_equal(onnxc_tensor_write_pb(path, "q", kinds[k], 1, &n, data, NULL, 0), 0);
            size_t len;
            uint8_t *file = slurp(path, &len);
            size_t packed = (size_t)(n * bits + 7) / 8;
            assert_true(len >= packed + 2);
            assert_int_equal(file[len - packed - 1], packed);   /* raw_data's length, the last field */
            free(file);
            read_ok(path, &t);
            assert_int_equal(t.dtype, kinds[k]);
            assert_int_equal(t.nbytes, (size_t)n);
            assert_memory_equal(t.data, data, (size_t)n);
            onnxc_tensor_free(&t);
        }
    }
}

static void test_pb_from_onnx(void **s) {
    (void)s;
    const char *dir = getenv("ONNXC_SHARED_DIR");
    if (!dir || !*dir) dir = ONNXC_DEFAULT_SHARED_DIR;
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mlp_dynbatch/test_data_set_0/input_0.pb", dir);
    if (access(path, R_OK) != 0) {
        print_message("skipping: %s is absent (set ONNXC_SHARED_DIR)\n", path);
        skip();
    }
    onnxc_tensor_t t;
    read_ok(path, &t);
    assert_int_equal(t.dtype, ONNXC_DT_FLOAT);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.dims[0], 5);
    assert_int_equal(t.dims[1], 784);
    assert_int_equal(t.nbytes, 5 * 784 * 4);
    assert_string_equal(t.name, "x");
    const float *f = t.data;
    double sum = 0;
    for (int i = 0; i < 5 * 784; i++) {
        assert_true(isfinite(f[i]));
        sum += fabs(f[i]);
    }
    assert_true(sum > 0);
    onnxc_tensor_free(&t);
}

/* ---- .npy --------------------------------------------------------------------------- */

static void test_npy_roundtrip(void **s) {
    (void)s;
    static const int32_t dts[] = {ONNXC_DT_FLOAT, ONNXC_DT_DOUBLE, ONNXC_DT_INT64, ONNXC_DT_INT32,
                                  ONNXC_DT_BOOL, ONNXC_DT_UINT8, ONNXC_DT_INT8, ONNXC_DT_INT16,
                                  ONNXC_DT_UINT16, ONNXC_DT_FLOAT16, ONNXC_DT_UINT32, ONNXC_DT_UINT64};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        for (int32_t rank = 0; rank <= 3; rank++) {
            int64_t dims[3] = {3, 1, 4};
            size_t n = 1, es = onnxc_dtype_size(dts[k]);
            for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
            uint8_t data[12 * 8];
            fill_pattern(data, n * es, (unsigned)k);
            const char *path = tmp_path("a.npy");
            char err[512] = "";
            if (onnxc_tensor_write_npy(path, dts[k], rank, dims, data, err, sizeof err)) fail_msg("%s", err);
            size_t flen;
            uint8_t *raw = slurp(path, &flen);
            assert_int_equal((flen - n * es) % 64, 0);   /* data starts aligned */
            free(raw);
            onnxc_tensor_t t;
            read_ok(path, &t);
            assert_int_equal(t.dtype, dts[k]);
            assert_int_equal(t.rank, rank);
            if (rank) assert_memory_equal(t.dims, dims, (size_t)rank * 8);
            assert_int_equal(t.nbytes, n * es);
            assert_memory_equal(t.data, data, n * es);
            onnxc_tensor_free(&t);
        }
    }
    /* bfloat16 has no NumPy type */
    int64_t d1 = 1;
    uint16_t h = 0;
    char err[256];
    assert_int_equal(onnxc_tensor_write_npy(tmp_path("b.npy"), ONNXC_DT_BFLOAT16, 1, &d1, &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "bfloat16"));
}

static size_t make_npy(uint8_t *buf, int major, const char *dict, const void *data, size_t n) {
    size_t hl = strlen(dict), off = major == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    buf[8] = (uint8_t)hl;
    buf[9] = (uint8_t)(hl >> 8);
    if (major > 1) buf[10] = buf[11] = 0;
    memcpy(buf + off, dict, hl);
    memcpy(buf + off + hl, data, n);
    return off + hl + n;
}

/* Headers as other writers produce them: v2/v3, other key order, no padding, sniffing. */
static void test_npy_variants(void **s) {
    (void)s;
    uint8_t buf[512];
    float fv[2] = {1.0f, 2.0f};
    onnxc_tensor_t t;
    size_t n = make_npy(buf, 2, "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}\n", fv, 8);
    write_bytes(tmp_path("v2.npy"), buf, n);
    read_ok(tmp_path("v2.npy"), &t);
    assert_int_equal(t.dims[0], 2);
    assert_memory_equal(t.data, fv, 8);
    onnxc_tensor_free(&t);
    n = make_npy(buf, 3, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1, 2)}", fv, 8);
    write_bytes(tmp_path("v3.npy"), buf, n);
    read_ok(tmp_path("v3.npy"), &t);
    assert_int_equal(t.rank, 2);
    onnxc_tensor_free(&t);
    /* no known extension: sniffed by magic */
    write_bytes(tmp_path("noext.bin"), buf, n);
    read_ok(tmp_path("noext.bin"), &t);
    assert_int_equal(t.dtype, ONNXC_DT_FLOAT);
    onnxc_tensor_free(&t);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void test_refuse_truncated_pb(void **s) {
    (void)s;
    int64_t dims[2] = {2, 3};
    float data[6] = {1, 2, 3, 4, 5, 6};
    const char *full = tmp_path("full.pb");
    assert_int_equal(onnxc_tensor_write_pb(full, "name", ONNXC_DT_FLOAT, 2, dims, data, NULL, 0), 0);
    size_t n;
    uint8_t *b = slurp(full, &n);
    /* every strict prefix lacks data or cuts a field */
    for (size_t k = 0; k < n; k++) {
        const char *path = tmp_path("trunc.pb");
        write_bytes(path, b, k);
        expect_refusal(path, NULL);
    }
    free(b);
    expect_refusal(tmp_path("does_not_exist.pb"), "cannot open");
    expect_refusal(tmpdir, "not a regular file");
}

static void test_refuse_malformed_pb(void **s) {
    (void)s;
    const char *path = tmp_path("bad.pb");
    pbuf_t p;
    float f = 1;

#define REFUSE(want)                   \
    do {                               \
        write_bytes(path, p.b, p.n);   \
        expect_refusal(path, want);    \
    } while (0)

    /* raw_data shorter than dims need */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 2);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pbytes(&p, 9, &f, 4);
    REFUSE("raw_data has 4 bytes but dims need 8");
    /* float_data count mismatch */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 3);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pkey(&p, 4, 5), pfixed(&p, &f, 4);
    REFUSE("float_data has 1 values but dims need 3");
    /* data in the wrong typed field */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 1);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_INT64);
    pkey(&p, 4, 5), pfixed(&p, &f, 4);
    REFUSE("int64 data given in float_data");
    /* dims product overflow */
    p.n = 0;
    for (int i = 0; i < 3; i++) pkey(&p, 1, 0), pv(&p, UINT64_C(1) << 40);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pbytes(&p, 9, &f, 4);
    REFUSE("overflow");
    /* negative dim */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, (uint64_t)(int64_t)-1);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    REFUSE("negative");
    /* too many dims */
    p.n = 0;
    for (int i = 0; i < 9; i++) pkey(&p, 1, 0), pv(&p, 1);
    REFUSE("more than 8 dims");
    /* length beyond the end of the file */
    p.n = 0;
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pkey(&p, 9, 2), pv(&p, 1000), pfixed(&p, &f, 4);
    REFUSE("past the end");
    /* a varint longer than 10 bytes */
    p.n = 0;
    pkey(&p, 2, 0);
    for (int i = 0; i < 11; i++) p.b[p.n++] = 0xff;
    p.b[p.n++] = 0;
    REFUSE("varint");
    /* truncated varint at the end */
    p.n = 0;
    pkey(&p, 2, 0), p.b[p.n++] = 0x81;
    REFUSE("truncated varint");
    /* wire types 6 and 7 do not exist; an end-group with no start */
    p.n = 0, pkey(&p, 50, 6);
    REFUSE("invalid wire type");
    p.n = 0, pkey(&p, 50, 4);
    REFUSE("end of group");
    p.n = 0, pkey(&p, 50, 3), pkey(&p, 51, 0), pv(&p, 1);
    REFUSE("unterminated group");
    /* field number 0 */
    p.n = 0, pkey(&p, 0, 0), pv(&p, 1);
    REFUSE("field number 0");
    /* a known field with the wrong wire type */
    p.n = 0, pkey(&p, 2, 2), pv(&p, 0);
    REFUSE("wrong wire type");
    /* strings, external data, unknown dtypes, no dtype */
    p.n = 0, pkey(&p, 2, 0), pv(&p, ONNXC_DT_STRING), pbytes(&p, 6, "abc", 3);
    REFUSE("string");
    p.n = 0, pkey(&p, 2, 0), pv(&p, ONNXC_DT_STRING);
    REFUSE("string");
    p.n = 0, pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT), pkey(&p, 14, 0), pv(&p, 1);
    REFUSE("external data");
    p.n = 0, pkey(&p, 2, 0), pv(&p, 77), pbytes(&p, 9, &f, 4);
    REFUSE("unsupported data_type 77");
    p.n = 0, pkey(&p, 1, 0), pv(&p, 1), pbytes(&p, 9, &f, 4);
    REFUSE("data_type is missing");
    /* both raw_data and typed data */
    p.n = 0;
    pkey(&p, 1, 0), pv(&p, 1);
    pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    pbytes(&p, 9, &f, 4);
    pkey(&p, 4, 5), pfixed(&p, &f, 4);
    REFUSE("more than one field");
    /* no data at all */
    p.n = 0, pkey(&p, 1, 0), pv(&p, 2), pkey(&p, 2, 0), pv(&p, ONNXC_DT_FLOAT);
    REFUSE("no data");
    /* random bytes: refused or read, never a crash */
    srand(1);
    for (int it = 0; it < 300; it++) {
        p.n = (size_t)(rand() % 64);
        for (size_t i = 0; i < p.n; i++) p.b[i] = (uint8_t)rand();
        write_bytes(path, p.b, p.n);
        onnxc_tensor_t t;
        char err[512];
        if (onnxc_tensor_read(path, &t, err, sizeof err) == 0) onnxc_tensor_free(&t);
        else assert_int_equal(strncmp(err, path, strlen(path)), 0);
    }
#undef REFUSE
}

static void test_refuse_npy(void **s) {
    (void)s;
    uint8_t buf[512];
    float fv[4] = {0};
    const char *path = tmp_path("bad.npy");
    size_t n;
#define NPY_REFUSE(major, dict, nbytes, want)            \
    do {                                                  \
        n = make_npy(buf, major, dict, fv, nbytes);       \
        write_bytes(path, buf, n);                        \
        expect_refusal(path, want);                       \
    } while (0)
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4, "data has 4 bytes but the shape needs 8");
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "data has 12 bytes");
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, "fortran_order");
    NPY_REFUSE(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported .npy dtype '>f4'");
    NPY_REFUSE(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported .npy dtype");
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 1099511627776), }", 8, "overflow");
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 8, "overflow");
    NPY_REFUSE(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, "malformed");
    NPY_REFUSE(1, "{'descr': '<f4', 'shape': (2,), }", 8, "incomplete");
    NPY_REFUSE(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "descr");
    NPY_REFUSE(4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "version 4");
#undef NPY_REFUSE
    /* header length beyond the file */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fv, 0);
    buf[8] = 0xff, buf[9] = 0x7f;
    write_bytes(path, buf, n);
    expect_refusal(path, "truncated");
    /* wrong magic */
    write_bytes(path, "\x93NUMPX\x01\x00\x00\x00", 10);
    expect_refusal(path, "bad magic");
    write_bytes(path, "", 0);
    expect_refusal(path, "bad magic");
    /* a truncated header of every length */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fv, 8);
    for (size_t k = 0; k < n; k++) {
        write_bytes(path, buf, k);
        expect_refusal(path, NULL);
    }
}

static void test_write_errors(void **s) {
    (void)s;
    int64_t d = 2;
    float f[2] = {0};
    char err[512] = "";
    const char *bad = "/nonexistent_dir_onnxc/x.pb";
    assert_int_equal(onnxc_tensor_write_pb(bad, "x", ONNXC_DT_FLOAT, 1, &d, f, err, sizeof err), -1);
    assert_int_equal(strncmp(err, bad, strlen(bad)), 0);
    assert_int_equal(onnxc_tensor_write_pb(tmp_path("s.pb"), "x", ONNXC_DT_STRING, 1, &d, f, err, sizeof err), -1);
    int64_t neg = -1;
    assert_int_equal(onnxc_tensor_write_npy(tmp_path("n.npy"), ONNXC_DT_FLOAT, 1, &neg, f, err, sizeof err), -1);
}

static int setup_tmp(void **s) {
    (void)s;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/onnxc_rt_test_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **s) {
    (void)s;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- weights files -------------------------------------------------------------- */

/* A weights file as onnxc writes it (header layout of onnxc_abi.h, spelled out here byte by
 * byte rather than through the code under test). */
static void write_weights_file(const char *path, const unsigned char *payload, size_t n, uint64_t hash) {
    unsigned char h[64] = {'O', 'N', 'N', 'X', 'C', 'W', 'T', 0, 1, 0, 0, 0, 64, 0, 0, 0};
    for (int b = 0; b < 8; b++) h[16 + b] = (unsigned char)((uint64_t)n >> (8 * b));
    for (int b = 0; b < 8; b++) h[24 + b] = (unsigned char)(hash >> (8 * b));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(h, 1, 64, f), 64);
    assert_int_equal(fwrite(payload, 1, n, f), n);
    fclose(f);
}

static void test_weights_map(void **state) {
    (void)state;
    enum { N = 1000 };   /* not a multiple of 8: the hash's tail path */
    unsigned char payload[N];
    for (int i = 0; i < N; i++) payload[i] = (unsigned char)(i * 131 + 7);
    /* The hash sees every byte and the length. */
    uint64_t hash = onnxc_weights_hash(payload, N);
    assert_int_not_equal(hash, onnxc_weights_hash(payload, N - 1));
    payload[N - 1] ^= 1;
    assert_int_not_equal(hash, onnxc_weights_hash(payload, N));
    payload[N - 1] ^= 1;
    onnxc_weights_info_t info = {N, hash, ONNXC_WEIGHTS_VERSION};
    char path[] = "/tmp/onnxc-test-weights-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_weights_file(path, payload, N, hash);
    onnxc_weights_t w;
    char err[512];
    assert_int_equal(onnxc_weights_map(path, &info, &w, err, sizeof err), ONNXC_OK);
    assert_int_equal(w.size, N);
    assert_int_equal((uintptr_t)w.data % 64, 0);
    assert_memory_equal(w.data, payload, N);
    /* bind: the address, then the hash, in the workspace's first 16 bytes */
    _Alignas(64) unsigned char ws[64] = {0};
    onnxc_weights_bind(ws, &info, w.data);
    assert_ptr_equal(((const void **)(void *)ws)[0], w.data);
    assert_true(((uint64_t *)(void *)ws)[1] == hash);
    onnxc_weights_unmap(&w);
    assert_null(w.map);

    /* the code was compiled with other weights: size, then hash */
    onnxc_weights_info_t other = {N + 8, hash, ONNXC_WEIGHTS_VERSION};
    assert_int_equal(onnxc_weights_map(path, &other, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "size"));
    other = (onnxc_weights_info_t){N, hash ^ 1, ONNXC_WEIGHTS_VERSION};
    assert_int_equal(onnxc_weights_map(path, &other, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "hash"));
    /* a damaged payload whose header still carries the right hash */
    payload[500] ^= 0x10;
    write_weights_file(path, payload, N, hash);
    assert_int_equal(onnxc_weights_map(path, &info, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "hash"));
    assert_non_null(strstr(err, path));
    payload[500] ^= 0x10;
    /* truncated payload */
    write_weights_file(path, payload, N - 10, hash);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 16, SEEK_SET);
    unsigned char sz[8];
    for (int b = 0; b < 8; b++) sz[b] = (unsigned char)((uint64_t)N >> (8 * b));
    fwrite(sz, 1, 8, f);   /* the header claims N bytes, the file holds N - 10 */
    fclose(f);
    assert_int_equal(onnxc_weights_map(path, &info, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "size"));
    /* not a weights file at all; a missing one */
    write_weights_file(path, payload, N, hash);
    f = fopen(path, "r+b");
    fputc('X', f);
    fclose(f);
    assert_int_equal(onnxc_weights_map(path, &info, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "not an onnxc weights file"));
    unlink(path);
    assert_int_equal(onnxc_weights_map(path, &info, &w, err, sizeof err), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(err, "cannot open"));
    assert_null(w.data);
}

/* onnxc_weights_check on memory: a misaligned copy is refused. */
static void test_weights_check_alignment(void **state) {
    (void)state;
    unsigned char *buf = aligned_alloc(64, 256);
    assert_non_null(buf);
    memset(buf, 0, 256);
    unsigned char payload[64];
    for (int i = 0; i < 64; i++) payload[i] = (unsigned char)i;
    uint64_t hash = onnxc_weights_hash(payload, 64);
    onnxc_weights_info_t info = {64, hash, ONNXC_WEIGHTS_VERSION};
    unsigned char h[64] = {'O', 'N', 'N', 'X', 'C', 'W', 'T', 0, 1, 0, 0, 0, 64, 0, 0, 0, 64};
    for (int b = 0; b < 8; b++) h[24 + b] = (unsigned char)(hash >> (8 * b));
    memcpy(buf, h, 64);
    memcpy(buf + 64, payload, 64);
    const void *p = NULL;
    char msg[256];
    assert_int_equal(onnxc_weights_check(&info, buf, 128, &p, msg, sizeof msg), ONNXC_OK);
    assert_ptr_equal(p, buf + 64);
    memmove(buf + 8, buf, 128);
    assert_int_equal(onnxc_weights_check(&info, buf + 8, 128, &p, msg, sizeof msg), ONNXC_ERR_WEIGHTS);
    assert_non_null(strstr(msg, "aligned"));
    assert_null(p);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_sum_1),
        cmocka_unit_test(test_pool_sum_2),
        cmocka_unit_test(test_pool_sum_4),
        cmocka_unit_test(test_pool_small_n),
        cmocka_unit_test(test_pool_many_jobs),
        cmocka_unit_test(test_pool_nested),
        cmocka_unit_test(test_pool_defaults),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_pb_roundtrip_all_dtypes),
        cmocka_unit_test(test_pb_scalar_and_empty),
        cmocka_unit_test(test_pb_typed_fields),
        cmocka_unit_test(test_pb_from_onnx),
        cmocka_unit_test(test_pb_sub_byte),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_variants),
        cmocka_unit_test(test_refuse_truncated_pb),
        cmocka_unit_test(test_refuse_malformed_pb),
        cmocka_unit_test(test_refuse_npy),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_weights_map),
        cmocka_unit_test(test_weights_check_alignment),
    };
    int failed = cmocka_run_group_tests_name("runtime", tests, setup_tmp, teardown_tmp);
    return failed | run_driver_tests();
}
