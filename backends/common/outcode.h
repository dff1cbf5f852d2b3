/* Output code every backend shares: the generated C header NAME.h, the model descriptor
 * table as plain data (or as C source), the weights blob laid out at the memory plan's
 * offsets, and output files that appear whole or not at all. Nothing here knows about a
 * target: the LLVM backend turns the descriptor and blob into constants, a C-emitting
 * backend (CUDA) prints them, and both hand over the few lines of the header that differ
 * (how to link, extra entry points).
 *
 * Every function that can fail returns 0, or -1 with a one-line message in err. */
#ifndef ONNXC_OUTCODE_H
#define ONNXC_OUTCODE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ messages, names */

/* Formats a one-line message into err (line breaks become "; "). Returns -1. */
int out_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True if s can prefix every generated symbol: a C identifier of at most 200 characters
 * (room for the longest derived name in 256-byte buffers). */
bool out_valid_name(const char *s);

/* ------------------------------------------------------------------ the header */

/* The parts of NAME.h that depend on what the backend produced. Each string is inserted
 * verbatim; NULL means none. */
typedef struct out_header_opts {
    const char *name;        /* entry-point prefix (out_valid_name) */
    const char *model_path;  /* for the first comment line; NULL: g->path */
    const char *link_doc;    /* the usage comment's closing lines, each starting " * "
                                (e.g. " * Link: cc prog.c mlp.o -lm\n") */
    const char *extra_decls; /* declarations after NAME_run, inside extern "C" */
} out_header_opts_t;

/* The text of NAME.h for a scheduled graph: documentation of every input, output and
 * symbol, the embedded runtime/onnxc_abi.h, and the declarations of NAME_desc,
 * NAME_workspace_size and NAME_run. *text is malloc'd; the caller frees it. */
int out_header_text(const ir_graph_t *g, const out_header_opts_t *o, char **text, char *err, size_t n);

/* The include guard of NAME.h. Names are case-sensitive C identifiers, so the guard keeps
 * the name as it is: mlp and MLP get different guards. -1 if it does not fit. */
int out_header_guard(const char *name, char *buf, size_t n);

/* The header path that goes with an output: its extension replaced by ".h", and with
 * strip_lib a "lib" prefix dropped (libmlp.so -> mlp.h). -1 if it does not fit. */
int out_header_path(const char *output, bool strip_lib, char *buf, size_t n);

/* runtime/onnxc_abi.h, embedded at build time. */
extern const char out_abi_text[];

/* ------------------------------------------------------------------ descriptor table */

/* One input or output as the ABI's onnxc_tensor_desc_t describes it: dimension i is
 * dims[i], times syms[dim_sym[i]] when dim_sym[i] >= 0. */
typedef struct out_tensor {
    const char *name;    /* borrowed from the graph */
    int32_t dtype;       /* ONNX TensorProto.DataType */
    int32_t rank;
    int64_t dims[IR_MAX_RANK];
    int32_t dim_sym[IR_MAX_RANK];
} out_tensor_t;

/* The data of NAME_desc (runtime/onnxc_abi.h onnxc_model_desc_t) less the two function
 * pointers, whose symbols are NAME_workspace_size and NAME_run. */
typedef struct out_desc {
    const char *name;
    int32_t n_inputs, n_outputs, n_syms;
    out_tensor_t *inputs;           /* malloc'd, n_inputs (NULL when 0) */
    out_tensor_t *outputs;          /* malloc'd, n_outputs (NULL when 0) */
    const char *const *sym_names;   /* borrowed from the graph: all n_syms_all of them */
    int32_t n_syms_all;             /* the caller's n_syms, then the derived ones */
    int32_t *sym_input;             /* malloc'd, n_syms: -1, or the input a data symbol reads */
    int64_t *sym_elem;              /* malloc'd, n_syms: that input's element */
} out_desc_t;

/* Fills d from g's inputs, outputs and symbols; refuses a tensor with no known shape.
 * Release with out_desc_free (also after a failure). */
int out_desc_build(const ir_graph_t *g, const char *name, out_desc_t *d, char *err, size_t n);
void out_desc_free(out_desc_t *d);

/* d as C source defining `const onnxc_model_desc_t NAME_desc`, for a backend that emits
 * C (it needs the ABI declarations and NAME_run / NAME_workspace_size in scope, e.g.
 * from NAME.h). *text is malloc'd. */
int out_desc_c_text(const out_desc_t *d, char **text, char *err, size_t n);

/* ------------------------------------------------------------------ weights blob */

/* The weights blob of g: g->blob_size bytes, every IR_ST_CONST value copied to its
 * planned offset and zeros between. *bytes is malloc'd (NULL with *size 0 when the model
 * has no constants). */
int out_weights_blob(const ir_graph_t *g, unsigned char **bytes, size_t *size, char *err, size_t n);

/* ------------------------------------------------------------------ output files */

/* A file being written at `path` (a hidden sibling of `final`, so the rename stays in one
 * file system) and renamed to `final` by out_file_commit. */
typedef struct out_file {
    char path[PATH_MAX];
    char final[PATH_MAX];
    bool live;       /* path exists and is ours */
    bool committed;  /* renamed to final */
    bool direct;     /* final is a device or pipe: written in place, never removed */
} out_file_t;

/* Creates an empty temporary beside final whose name ends with suffix ("" or ".o", for
 * tools that pick a file type by suffix). A plain output (no suffix) whose final is a
 * device or pipe is written to in place; an intermediate goes to $TMPDIR instead. */
int out_file_create(out_file_t *t, const char *final, const char *suffix, char *err, size_t n);
/* Replaces t->path's contents with data. */
int out_file_write(out_file_t *t, const void *data, size_t size, char *err, size_t n);
/* Gives the file the mode a plain open() would (0666, or 0777 if exec, less the umask)
 * and renames it into place. */
int out_file_commit(out_file_t *t, bool exec, char *err, size_t n);
/* Removes the temporary if still there; with rollback, also a file already committed
 * (a later output of the same compile failed). Safe on a zeroed or finished t. */
void out_file_discard(out_file_t *t, bool rollback);

/* --weights=file: <output's folder>/NAME.weights. -1 when the path is too long. */
int out_weights_path(const char *output, const char *name, char *buf, size_t n);
/* Creates wf at out_weights_path(output, name) holding the 64-byte header of
 * runtime/onnxc_abi.h (magic, version, payload size, hash) and the payload; the caller
 * commits or discards wf with its other outputs. *hash = onnxc_weights_hash(bytes, size).
 * Both backends write their weights files through this. */
int out_weights_file(out_file_t *wf, const char *output, const char *name, const unsigned char *bytes, size_t size,
                     uint64_t *hash, char *err, size_t n);

/* Writes data to path atomically: a failure leaves whatever was there before. */
int out_write_file(const char *path, const void *data, size_t size, bool exec, char *err, size_t n);

/* Runs argv (searched on PATH; a linker, nvcc) with stdout and stderr captured; on
 * failure a message naming `what` and the most telling line of the tool's output. */
int out_spawn(char *const argv[], const char *what, char *err, size_t n);

#ifdef __cplusplus
}
#endif
#endif
