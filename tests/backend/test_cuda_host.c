/* backends/cuda host-side logic, no GPU and no nvcc needed: launch configurations of the
 * grid-stride element-wise kernels (sizes 0, 1, a warp, a block, 2^31 and beyond, near
 * INT64_MAX), the library GEMM launches (tile configuration, grid.x limit, grid.y/z
 * capped at 65535 because the tile kernel loops over the rest), the device workspace
 * size and the GPU target descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backends/cuda/cuda_backend.h"
#include "ir/sched.h"

/* every element i in [0, n) is reached by a grid-stride loop over grid * block threads */
static void check_covers(int64_t n, int64_t grid, int block) {
    assert_true(grid >= 1 && block >= 1);
    assert_true(block <= 1024 && block % 32 == 0);
    assert_true(grid <= CUDA_GRID_X_MAX);
    /* the first pass covers min(n, grid * block); the loop strides the rest */
    assert_true(grid * (int64_t)block > 0);
}

static void test_launch_dims_small(void **state) {
    (void)state;
    int64_t g;
    int b;
    cuda_launch_dims(0, 256, 65535, &g, &b);
    assert_int_equal(g, 0);   /* nothing launched */
    assert_int_equal(b, 0);
    cuda_launch_dims(-5, 256, 65535, &g, &b);
    assert_int_equal(g, 0);
    cuda_launch_dims(1, 256, 65535, &g, &b);
    assert_int_equal(g, 1);
    assert_int_equal(b, 32);   /* one warp, not 256 idle threads */
    cuda_launch_dims(33, 256, 65535, &g, &b);
    assert_int_equal(g, 1);
    assert_int_equal(b, 64);
    cuda_launch_dims(256, 256, 65535, &g, &b);
    assert_int_equal(g, 1);
    assert_int_equal(b, 256);
    cuda_launch_dims(257, 256, 65535, &g, &b);
    assert_int_equal(g, 2);
    assert_int_equal(b, 256);
    check_covers(257, g, b);
}

static void test_launch_dims_large(void **state) {
    (void)state;
    int64_t g;
    int b;
    int64_t n = (INT64_C(1) << 31) + 7;   /* more elements than a 32-bit index reaches */
    cuda_launch_dims(n, 256, 65535, &g, &b);
    assert_int_equal(g, 65535);   /* capped: the kernel strides over the rest */
    assert_int_equal(b, 256);
    check_covers(n, g, b);
    /* uncapped: the exact count of blocks, below gridDim.x's limit */
    cuda_launch_dims(n, 256, 0, &g, &b);
    assert_int_equal(g, (n + 255) / 256);
    /* beyond what grid.x holds: capped at 2^31 - 1 blocks, no overflow near INT64_MAX */
    cuda_launch_dims(INT64_MAX, 256, 0, &g, &b);
    assert_int_equal(g, CUDA_GRID_X_MAX);
    assert_int_equal(b, 256);
    cuda_launch_dims(INT64_MAX, 1024, 65535, &g, &b);
    assert_int_equal(g, 65535);
    assert_int_equal(b, 1024);
}

static void test_gemm_launch(void **state) {
    (void)state;
    cuda_launch_t l;
    assert_int_equal(cuda_gemm_launch(1, 1, 1, 1, &l), 0);
    assert_int_equal(l.cfg, 2);   /* 32x32 tiles */
    assert_int_equal(l.grid[0], 1);
    assert_int_equal(l.grid[1], 1);
    assert_int_equal(l.grid[2], 1);
    assert_int_equal(l.block[0], 256);
    assert_int_equal(cuda_gemm_launch(1, 128, 128, 32, &l), 0);
    assert_int_equal(l.cfg, 0);   /* 128x128 */
    assert_int_equal(l.grid[0], 1);
    assert_int_equal(cuda_gemm_launch(1, 128, 128, 31, &l), 0);
    assert_int_equal(l.cfg, 1);   /* K too short for the large tile */
    assert_int_equal(cuda_gemm_launch(4, 100, 33, 7, &l), 0);
    assert_int_equal(l.cfg, 1);
    assert_int_equal(l.grid[0], 2);
    assert_int_equal(l.grid[1], 1);
    assert_int_equal(l.grid[2], 4);
    /* empty products launch nothing */
    assert_int_equal(cuda_gemm_launch(0, 10, 10, 10, &l), 0);
    assert_int_equal(l.grid[0], 0);
    assert_int_equal(cuda_gemm_launch(3, 10, 0, 10, &l), 0);
    assert_int_equal(l.grid[0], 0);
    /* grid.y / grid.z limits: capped, the kernel loops over N tiles and batches */
    assert_int_equal(cuda_gemm_launch(100000, 64, INT64_C(1) << 30, 64, &l), 0);
    assert_int_equal(l.grid[1], 65535);
    assert_int_equal(l.grid[2], 65535);
    /* M tiles beyond grid.x (2^31 - 1): refused, the naive kernel takes it */
    assert_int_equal(cuda_gemm_launch(1, INT64_C(1) << 40, 16, 16, &l), -1);
    assert_int_equal(cuda_gemm_launch(1, -1, 16, 16, &l), -1);
    /* exactly at the limit with 32-row tiles */
    assert_int_equal(cuda_gemm_launch(1, CUDA_GRID_X_MAX * 32, 16, 16, &l), 0);
    assert_int_equal(l.grid[0], CUDA_GRID_X_MAX);
}

static void test_workspace(void **state) {
    (void)state;
    assert_int_equal(cuda_workspace_bytes(0), 256);   /* never a NULL workspace */
    assert_int_equal(cuda_workspace_bytes(1), 256);
    assert_int_equal(cuda_workspace_bytes(256), 256);
    assert_int_equal(cuda_workspace_bytes(257), 512);
    for (int64_t s = 0; s < 5000; s += 37) {
        int64_t b = cuda_workspace_bytes(s);
        assert_true(b >= s && b % 256 == 0 && b - s < 512);
    }
    int64_t big = (INT64_C(1) << 33) + 1;   /* > 4 GiB plans keep their size */
    assert_int_equal(cuda_workspace_bytes(big), (INT64_C(1) << 33) + 256);
}

static void test_targets(void **state) {
    (void)state;
    char err[256];
    ir_target_t t;
    cuda_backend_opts_t o;
    memset(&o, 0, sizeof o);
    assert_int_equal(cuda_backend_target(&o, &t, err, sizeof err), 0);   /* default sm_90 */
    assert_int_equal(t.kind, IR_TARGET_GPU);
    assert_string_equal(t.name, "sm_90");
    assert_int_equal(t.gpu.warp, 32);
    assert_int_equal(t.gpu.max_block_threads, 1024);
    assert_int_equal(t.gpu.smem_bytes, 48 * 1024);
    o.arch = "sm_80";
    assert_int_equal(cuda_backend_target(&o, &t, err, sizeof err), 0);
    assert_int_equal(t.gpu.sms, 108);
    o.arch = "sm_70";
    assert_int_equal(cuda_backend_target(&o, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "sm_70"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_dims_small), cmocka_unit_test(test_launch_dims_large),
        cmocka_unit_test(test_gemm_launch),       cmocka_unit_test(test_workspace),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
