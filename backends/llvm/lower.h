/* Kernel lowering: the scheduled graph -> LLVM IR functions <name>_run and
 * <name>_workspace_size (signatures of runtime/onnxc_abi.h). The emit side
 * (emit.c) owns the module, the weights blob, the descriptor and code generation. */
#ifndef ONNXC_LLVM_LOWER_H
#define ONNXC_LLVM_LOWER_H

#include <llvm-c/Core.h>
#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

typedef struct llvm_lower {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    ir_graph_t *g;
    const char *name;          /* symbol prefix */
    LLVMValueRef blob;         /* the weights global ([N x i8], align 64), or NULL when blob_size == 0
                                  or the weights are in a file */
    bool weights_file;         /* weights in a file: bound to the workspace's first 64 bytes
                                  (runtime/onnxc_abi.h), the plan's workspace after them */
    uint64_t weights_hash;     /* onnxc_weights_hash of the file's payload (weights_file) */
    int opt_level;
    unsigned vector_bits;      /* 128, 256 or 512 from the target features */
    void (*progress)(void *ud, const char *phase, int done, int total);   /* NULL or per node */
    void *progress_ud;
} llvm_lower_t;

/* Defines in L->mod:
 *   i32 @<name>_run(ptr ctx, ptr syms, ptr inputs, ptr outputs, ptr workspace)
 *   i64 @<name>_workspace_size(ptr syms)
 * Every node is tried: each refusal is appended to L->g->diags, then -1 (the module is
 * then incomplete and must be discarded). */
int llvm_lower_graph(llvm_lower_t *L);

#endif
