/* Builds ModelProtos in C for the frontend tests (protobuf-c structs from the generated
 * onnx.pb-c.h), packs them and checks load results. Memory comes from a pool that
 * teardown() frees after each test. */
#ifndef ONNXC_TEST_MODEL_BUILDER_H
#define ONNXC_TEST_MODEL_BUILDER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frontend/frontend.h"
#include "onnx.pb-c.h"

typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto os;
    Onnx__OperatorSetIdProto *osp[1];
} mb_t;

#define GROW(arr, n, item) do { \
        void *np_ = tmalloc(sizeof(*(arr)) * ((n) + 1)); \
        if (n) memcpy(np_, (arr), sizeof(*(arr)) * (n)); \
        (arr) = np_; (arr)[(n)++] = (item); } while (0)

#define load_fail(b, ...) do { size_t n_; uint8_t *buf_ = pack((b), &n_); \
        load_fail_buf(buf_, n_, __VA_ARGS__, (const char *)NULL); } while (0)

/* The name every buffer-loaded model goes by in messages. */
#define PATH "dir/model.onnx"

extern char err[IR_ERR_MAX];     /* last load's first diagnostic, as text ("" on success) */
/* The frontend's calls with their diagnostics list read into err; each checks that a
 * refusal reported at least one error and a success none. */
int fe_load_buffer(const void *buf, size_t n, const char *path, const char *dir, ir_graph_t **g);
int fe_load_file(const char *path, ir_graph_t **g);
int fe_load_tensor(const char *path, ir_graph_t *g, ir_value_t **out);
extern char tmpdir[256];         /* from make_tmpdir() */
extern const int64_t D23[2];     /* {2, 3} */

void *tmalloc(size_t n);
void pool_free(void);
mb_t *mb_new(int64_t opset);
/* dims: >= 0 a value, -1 the matching entry of params (NULL: neither value nor param). */
Onnx__ValueInfoProto *mk_vi(const char *name, int32_t et, int rank, const int64_t *dims,
                            const char *const *params);
void add_input(mb_t *b, const char *name, int32_t et, int rank, const int64_t *dims);
void add_output(mb_t *b, const char *name, int32_t et);
Onnx__TensorProto *mk_tensor(const char *name, int32_t dt, int rank, const int64_t *dims);
void set_raw(Onnx__TensorProto *t, const void *data, size_t n);
Onnx__TensorProto *add_init(mb_t *b, Onnx__TensorProto *t);
/* ins/outs: NULL-terminated; "" is an omitted optional slot. */
Onnx__NodeProto *add_node(mb_t *b, const char *op, const char *name, const char **ins,
                          const char **outs);
Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name,
                               Onnx__AttributeProto__AttributeType type);
void attr_ints(Onnx__NodeProto *n, const char *name, int k, const int64_t *v);
void attr_int(Onnx__NodeProto *n, const char *name, int64_t v);
void attr_float(Onnx__NodeProto *n, const char *name, float v);
void attr_floats_one(Onnx__NodeProto *n);
uint8_t *pack(mb_t *b, size_t *len);
/* Loads from a buffer (no model folder) and fails the test on any error. */
ir_graph_t *load_ok(mb_t *b);
void assert_has(const char *hay, const char *needle);
/* Loads a model that must be refused: the message starts with PATH, is one line and
 * holds each NULL-terminated fragment. */
void load_fail_buf(const void *buf, size_t n, ...);
const ir_value_t *val(ir_graph_t *g, const char *name);
const ir_node_t *node(ir_graph_t *g, const char *name);
int teardown(void **state);
/* x[2,3] + w -> y. */
mb_t *add_model(Onnx__TensorProto *w);
void ext_entry(Onnx__TensorProto *t, const char *k, const char *v);
void write_file(const char *path, const void *data, size_t n);
void make_tmpdir(void);
void rm_tmpdir(void);
/* Writes the model to tmpdir/sub/model.onnx and loads it from there. */
int load_file(mb_t *b, ir_graph_t **g);

#endif
