/* Model-building helpers shared by the frontend tests. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_builder.h"

/* ---------------------------------------------------------------- model builder */
/* Everything a test builds comes from this pool, freed after each test. */
static void *pool[4096];
static int n_pool;

void *tmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    assert_true(n_pool < 4096);
    pool[n_pool++] = p;
    return p;
}

void pool_free(void)
{
    while (n_pool) free(pool[--n_pool]);
}



mb_t *mb_new(int64_t opset)
{
    mb_t *b = tmalloc(sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->os);
    b->os.domain = "";
    b->os.has_version = 1;
    b->os.version = opset;
    b->osp[0] = &b->os;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->osp;
    b->m.graph = &b->g;
    b->g.name = "test_graph";
    return b;
}

/* dims: >= 0 a value, -1 the matching entry of params (NULL: neither value nor param). */
Onnx__ValueInfoProto *mk_vi(const char *name, int32_t et, int rank, const int64_t *dims,
                            const char *const *params)
{
    Onnx__ValueInfoProto *vi = tmalloc(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = (char *)name;
    Onnx__TypeProto *tp = tmalloc(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tmalloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = et;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sp = tmalloc(sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)rank;
        sp->dim = tmalloc(sizeof *sp->dim * (size_t)rank);
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = tmalloc(sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else if (params && params[i]) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = (char *)params[i];
            }
            sp->dim[i] = d;
        }
        tt->shape = sp;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

void add_input(mb_t *b, const char *name, int32_t et, int rank, const int64_t *dims)
{
    GROW(b->g.input, b->g.n_input, mk_vi(name, et, rank, dims, NULL));
}

void add_output(mb_t *b, const char *name, int32_t et)
{
    GROW(b->g.output, b->g.n_output, mk_vi(name, et, -1, NULL, NULL));
}

Onnx__TensorProto *mk_tensor(const char *name, int32_t dt, int rank, const int64_t *dims)
{
    Onnx__TensorProto *t = tmalloc(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = (size_t)rank;
    t->dims = tmalloc(sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    return t;
}

void set_raw(Onnx__TensorProto *t, const void *data, size_t n)
{
    t->has_raw_data = 1;
    t->raw_data.len = n;
    t->raw_data.data = tmalloc(n);
    memcpy(t->raw_data.data, data, n);
}

Onnx__TensorProto *add_init(mb_t *b, Onnx__TensorProto *t)
{
    GROW(b->g.initializer, b->g.n_initializer, t);
    return t;
}

/* ins/outs: NULL-terminated; "" is an omitted optional slot. */
Onnx__NodeProto *add_node(mb_t *b, const char *op, const char *name, const char **ins,
                          const char **outs)
{
    Onnx__NodeProto *n = tmalloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    for (; ins && *ins; ins++) GROW(n->input, n->n_input, (char *)*ins);
    for (; outs && *outs; outs++) GROW(n->output, n->n_output, (char *)*outs);
    GROW(b->g.node, b->g.n_node, n);
    return n;
}

Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name,
                               Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = tmalloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    GROW(n->attribute, n->n_attribute, a);
    return a;
}

void attr_ints(Onnx__NodeProto *n, const char *name, int k, const int64_t *v)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)k;
    a->ints = tmalloc(sizeof(int64_t) * (size_t)k);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
}

void attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void attr_float(Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void attr_floats_one(Onnx__NodeProto *n)
{
    Onnx__AttributeProto *a = add_attr(n, "value_floats",
                                       ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = 1;
    a->floats = tmalloc(sizeof(float));
    a->floats[0] = 2.0f;
}

uint8_t *pack(mb_t *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = tmalloc(*len);
    assert_int_equal(onnx__model_proto__pack(&b->m, buf), *len);
    return buf;
}

char err[IR_ERR_MAX];

static int take(int rc, ir_diags_t *d)
{
    err[0] = 0;
    if (d->n) ir_diag_format(&d->items[0], err, sizeof err);
    if (rc) assert_true(d->n_errors > 0);
    else assert_int_equal(d->n_errors, 0);
    ir_diags_free(d);
    return rc;
}

int fe_load_buffer(const void *buf, size_t n, const char *path, const char *dir, ir_graph_t **g)
{
    ir_diags_t d = {0};
    return take(frontend_load_model_buffer(buf, n, path, dir, g, &d), &d);
}

int fe_load_file(const char *path, ir_graph_t **g)
{
    ir_diags_t d = {0};
    return take(frontend_load_model(path, g, &d), &d);
}

int fe_load_tensor(const char *path, ir_graph_t *g, ir_value_t **out)
{
    ir_diags_t d = {0};
    return take(frontend_load_tensor(path, g, out, &d), &d);
}

ir_graph_t *load_ok(mb_t *b)
{
    size_t n;
    uint8_t *buf = pack(b, &n);
    ir_graph_t *g = NULL;
    int rc = fe_load_buffer(buf, n, PATH, NULL, &g);
    if (rc) fprintf(stderr, "unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(g);
    return g;
}

void assert_has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("message '%s' lacks '%s'", hay, needle);
}

/* Loads a model that must be refused, and checks the message names the file and each
 * given fragment, and is one line. */
void load_fail_buf(const void *buf, size_t n, ...)
{
    ir_graph_t *g = (ir_graph_t *)1;
    assert_int_equal(fe_load_buffer(buf, n, PATH, NULL, &g), -1);
    assert_null(g);
    assert_true(strncmp(err, PATH ": ", strlen(PATH) + 2) == 0);
    assert_null(strchr(err, '\n'));
    va_list ap;
    va_start(ap, n);
    for (const char *s; (s = va_arg(ap, const char *));) assert_has(err, s);
    va_end(ap);
}


const ir_value_t *val(ir_graph_t *g, const char *name)
{
    ir_value_t *v = ir_value_find(g, name);
    if (!v) fail_msg("no value '%s'", name);
    return v;
}

const ir_node_t *node(ir_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name)) return g->nodes[i];
    fail_msg("no node '%s'", name);
    return NULL;
}

int teardown(void **state)
{
    (void)state;
    pool_free();
    return 0;
}

/* x[2,3] + w -> y, with w supplied by the caller's tensor. */
mb_t *add_model(Onnx__TensorProto *w)
{
    mb_t *b = mb_new(13);
    static const int64_t d23[] = {2, 3};
    add_input(b, "x", w->data_type, 2, d23);
    add_init(b, w);
    add_node(b, "Add", "add0", (const char *[]){"x", w->name, NULL}, (const char *[]){"y", NULL});
    add_output(b, "y", w->data_type);
    return b;
}

const int64_t D23[] = {2, 3};

/* ---------------------------------------------------------------- external data */
void ext_entry(Onnx__TensorProto *t, const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = tmalloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)k;
    e->value = (char *)v;
    GROW(t->external_data, t->n_external_data, e);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

char tmpdir[256];

void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/onnxc_fe_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* Writes the model into tmpdir/sub/model.onnx and loads it from the file. */
int load_file(mb_t *b, ir_graph_t **g)
{
    char dir[300], path[320];
    snprintf(dir, sizeof dir, "%s/sub", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t n;
    uint8_t *buf = pack(b, &n);
    write_file(path, buf, n);
    return fe_load_file(path, g);
}
