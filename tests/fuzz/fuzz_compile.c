/* libFuzzer target: bytes -> frontend -> every pass -> LLVM IR (verified by LLVM, printed
 * to /dev/null; no object, no link). Inference, folding, fusion, planning and lowering see
 * whatever a model can claim. Each refusal is a diagnostic; a crash or sanitizer report
 * is a finding. -O0 and a fixed CPU keep runs fast and reproducible. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "backends/llvm/llvm_backend.h"
#include "frontend/frontend.h"
#include "tests/fuzz/onnx_mutator.h"
#include "ir/sched.h"
#include "passes/passes.h"

static ir_target_t target;
static llvm_backend_opts_t bo = {
    .name = "fuzz",
    .opt_level = 0,
    .cpu = "x86-64-v3",
    .emit = LLVM_EMIT_LLVM_IR,
    .output = "/dev/null",
    .header = "",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ir_diags_t d = {0};
    if (llvm_backend_target(&bo, &target, &d) != 0) {
        ir_diags_print(&d, stderr, "fuzz_compile: ");
        abort();
    }
    ir_diags_free(&d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ir_diags_t diags = {0};
    ir_graph_t *g = NULL;
    if (frontend_load_model_buffer(data, size, "fuzz.onnx", NULL, &g, &diags) == 0) {
        pass_options_t po;
        pass_options_init(&po);
        po.opt_level = 1;
        po.target = &target;
        if (pass_run_pipeline(g, &po) == 0) llvm_backend_compile(g, &bo);
        ir_graph_free(g);
    }
    ir_diags_free(&diags);
    return 0;
}
