/* A structure-aware mutator for the model targets: most byte-level mutations of a
 * ModelProto stop at the parser, so three times in four this one unpacks the input,
 * sets one integer the compiler trusts (an attribute, a dim, an initializer value, the
 * opset) to an edge value, and packs it again; otherwise, or when the input does not
 * parse, libFuzzer mutates the bytes. Included by fuzz_model.c and fuzz_compile.c. */
#ifndef ONNXC_FUZZ_ONNX_MUTATOR_H
#define ONNXC_FUZZ_ONNX_MUTATOR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend_internal.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

typedef struct {
    int64_t *slot[256];
    int n;
} mut_slots_t;

static void mut_add(mut_slots_t *s, int64_t *p)
{
    if (s->n < 256) s->slot[s->n++] = p;
}

static void mut_tensor(mut_slots_t *s, Onnx__TensorProto *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_dims; i++) mut_add(s, &t->dims[i]);
    for (size_t i = 0; i < t->n_int64_data; i++) mut_add(s, &t->int64_data[i]);
}

static void mut_shape(mut_slots_t *s, Onnx__ValueInfoProto *vi)
{
    if (!vi || !vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type || !vi->type->tensor_type->shape)
        return;
    Onnx__TensorShapeProto *sp = vi->type->tensor_type->shape;
    for (size_t k = 0; k < sp->n_dim; k++)
        if (sp->dim[k] && sp->dim[k]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            mut_add(s, &sp->dim[k]->dim_value);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t r = seed * 6364136223846793005ull + 1442695040888963407ull;
    if ((r >> 33) % 4 == 0) return LLVMFuzzerMutate(data, size, max_size);
    /* The same limits as the frontend, so a deep input cannot overflow the stack here. */
    ir_diags_t diags = {0};
    fe_ctx_t c = {.path = "mutator", .diags = &diags};
    Onnx__ModelProto *m = NULL;
    if (size && !fe_wire_check(&c, &onnx__model_proto__descriptor, data, size))
        m = onnx__model_proto__unpack(NULL, size, data);
    ir_diags_free(&diags);
    if (!m || !m->graph) {
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    mut_slots_t s = {.n = 0};
    Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (m->opset_import[i]) mut_add(&s, &m->opset_import[i]->version);
    for (size_t i = 0; i < g->n_node; i++) {
        Onnx__NodeProto *np = g->node[i];
        for (size_t a = 0; np && a < np->n_attribute; a++) {
            Onnx__AttributeProto *ap = np->attribute[a];
            if (!ap) continue;
            if (ap->has_i) mut_add(&s, &ap->i);
            for (size_t j = 0; j < ap->n_ints; j++) mut_add(&s, &ap->ints[j]);
            mut_tensor(&s, ap->t);
        }
    }
    for (size_t i = 0; i < g->n_initializer; i++) mut_tensor(&s, g->initializer[i]);
    for (size_t i = 0; i < g->n_input; i++) mut_shape(&s, g->input[i]);
    size_t out = 0;
    if (s.n) {
        static const int64_t edge[] = {0, 1, -1, 2, -2, 3, 7, 64, 255, 1 << 20, INT32_MAX, INT32_MIN,
                                       INT64_MAX, INT64_MIN, (int64_t)1 << 40};
        int64_t *p = s.slot[(r >> 13) % (uint64_t)s.n];
        uint64_t pick = (r >> 40) % 20;
        if (pick < sizeof edge / sizeof edge[0]) *p = edge[pick];
        else if (pick < 17) *p = (int64_t)((uint64_t)*p + 1);   /* wrapping, not UB */
        else if (pick < 19) *p = (int64_t)((uint64_t)*p - 1);
        else *p = (int64_t)(0 - (uint64_t)*p);
        size_t need = onnx__model_proto__get_packed_size(m);
        if (need <= max_size) out = onnx__model_proto__pack(m, data);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return out ? out : LLVMFuzzerMutate(data, size, max_size);
}

#endif
