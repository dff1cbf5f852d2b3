/* libFuzzer target: bytes -> frontend (wire walk, protobuf-c, conversion) -> IR verifier.
 * Any input must give a graph that verifies or a diagnostic; never a crash, a leak or
 * an allocation out of proportion to the input. No model folder: external data is
 * fuzz_external's. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "frontend/frontend.h"
#include "tests/fuzz/onnx_mutator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ir_diags_t diags = {0};
    ir_graph_t *g = NULL;
    if (frontend_load_model_buffer(data, size, "fuzz.onnx", NULL, &g, &diags) == 0) {
        /* A graph the frontend hands on must be well formed: a verifier error here is a
         * frontend bug, not bad input. */
        if (ir_graph_verify(g) != 0) {
            ir_diags_print(&g->diags, stderr, "fuzz_model: verifier: ");
            abort();
        }
        ir_graph_free(g);
    }
    ir_diags_free(&diags);
    return 0;
}
