/* The onnxc runtime: the small library linked into compiled programs. It owns a run
 * context with a persistent thread pool, and reading/writing tensor files (ONNX
 * TensorProto .pb and NumPy .npy) for the standalone driver. Pure C11 + pthreads; it
 * knows nothing about the compiler. All names share the prefix onnxc_. */
#ifndef ONNXC_RT_H
#define ONNXC_RT_H
#include <stddef.h>
#include <stdint.h>

/* Quoted and bare so the header also works when installed next to onnxc_abi.h. */
#include "onnxc_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- run context ------------------------------------------------------------------ */

/* Creates a context whose parallel_for runs on n_threads threads (the caller counts as
 * one of them). n_threads <= 0 means every core this process may run on. The pool is
 * created once here and reused by every parallel_for. Returns NULL when out of memory or
 * threads cannot be created. */
onnxc_ctx_t *onnxc_ctx_create(int n_threads);
/* Joins the pool's threads and frees the context; NULL is a no-op. No parallel_for may be
 * in flight. */
void onnxc_ctx_destroy(onnxc_ctx_t *ctx);
/* Cores this process may run on (sched_getaffinity, else sysconf), at least 1. */
int onnxc_usable_cores(void);

/* ---- weights files (onnxc --weights=file) ---------------------------------------------- */

typedef struct onnxc_weights {
    const void *data;   /* the payload: 64-byte aligned, read-only, info->size bytes */
    size_t size;
    void *map;          /* the whole mapping, for onnxc_weights_unmap */
    size_t map_size;
} onnxc_weights_t;

/* Maps the weights file at path read-only and checks it (magic, version, size and hash)
 * against info, the model's NAME_weights_info. ONNXC_OK, or ONNXC_ERR_WEIGHTS with
 * "PATH: reason" in err. Bind w->data to each workspace with NAME_bind_weights (or
 * onnxc_weights_bind); unmap when no run uses it any more. */
int onnxc_weights_map(const char *path, const onnxc_weights_info_t *info, onnxc_weights_t *w, char *err,
                      size_t errlen);
/* Unmaps; a zeroed or already unmapped w is a no-op. */
void onnxc_weights_unmap(onnxc_weights_t *w);

/* ---- dtypes ----------------------------------------------------------------------- */

/* The dtype codes (enum onnxc_dtype) are in onnxc_abi.h. */

/* Bytes per element; 0 for a dtype that has no fixed-size dense form here (string,
 * unknown codes). */
size_t onnxc_dtype_size(int32_t dtype);
/* "float32", "int64", ...; "unknown" for codes outside the table. Never NULL. */
const char *onnxc_dtype_name(int32_t dtype);

/* ---- tensor files ----------------------------------------------------------------- */

#define ONNXC_TENSOR_MAX_RANK 8

typedef struct onnxc_tensor {
    char name[256];          /* TensorProto name; "" for .npy or unnamed tensors */
    int32_t dtype;
    int32_t rank;
    int64_t dims[ONNXC_TENSOR_MAX_RANK];
    void *data;              /* dense row-major, 64-byte aligned, never NULL after a read */
    size_t nbytes;           /* product(dims) * onnxc_dtype_size(dtype) */
} onnxc_tensor_t;

/* Reads an ONNX TensorProto (.pb) or NumPy (.npy) file; the format is chosen by the
 * extension, else by sniffing the NumPy magic. On success returns 0 and t owns its data
 * (release with onnxc_tensor_free). On failure returns -1, writes "PATH: reason" into err
 * (when err is not NULL) and leaves t empty. */
int onnxc_tensor_read(const char *path, onnxc_tensor_t *t, char *err, size_t errlen);
/* Frees t->data and resets t; NULL or an already freed tensor is a no-op. */
void onnxc_tensor_free(onnxc_tensor_t *t);

/* Write dense row-major data (product(dims) * onnxc_dtype_size(dtype) bytes) as a
 * TensorProto (raw_data, name set; name may be NULL) or as a .npy file. Return 0, or -1
 * with "PATH: reason" in err; a partly written file is removed. */
int onnxc_tensor_write_pb(const char *path, const char *name, int32_t dtype, int32_t rank,
                          const int64_t *dims, const void *data, char *err, size_t errlen);
int onnxc_tensor_write_npy(const char *path, int32_t dtype, int32_t rank, const int64_t *dims,
                           const void *data, char *err, size_t errlen);

/* Number of elements and bytes of a dense tensor, with overflow checks: returns -1 when
 * a dim is negative, rank is out of range, dtype has no size, or the byte count does not
 * fit in size_t. */
int onnxc_tensor_bytes(int32_t dtype, int32_t rank, const int64_t *dims, size_t *nelem,
                       size_t *nbytes);

#ifdef __cplusplus
}
#endif
#endif
