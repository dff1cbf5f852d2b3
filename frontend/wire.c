/* A walk over the protobuf wire format before protobuf-c unpacks it.
 *
 * protobuf-c unpacks nested messages by recursion with no depth limit (a model nested a
 * few hundred thousand levels deep overflows the stack) and allocates whatever counts
 * the file claims. This walker reads the same bytes iteratively, with the generated
 * descriptors as its schema, and refuses before any of that happens:
 *   - messages nested deeper than FE_MAX_MSG_DEPTH, graphs deeper than FE_MAX_GRAPH_DEPTH;
 *   - more than FE_MAX_NODES nodes, FE_MAX_VALUES value infos or FE_MAX_INITS
 *     initializers in one graph;
 *   - an unpacked size (protobuf-c's structs, arrays and string copies, estimated from
 *     above) over fe_parse_budget(n), so what a file makes us allocate is proportional
 *     to its size;
 *   - malformed wire data (lengths past the end, bad wire types) with the byte offset.
 * Field semantics stay protobuf-c's: this only bounds what it will be asked to do. */
#include <stdio.h>
#include <string.h>

#include "frontend/frontend_internal.h"

typedef struct wire_frame {
    const ProtobufCMessageDescriptor *d;
    size_t end;        /* offset one past this message's bytes */
    uint64_t count[3]; /* elements of each tracked repeated field seen so far */
} wire_frame_t;

uint64_t fe_parse_budget(size_t n)
{
    /* Measured by this estimate over 1,900 conformance and test models: files over
     * 100 KB unpack to at most 8.5x their size (node-heavy graphs: a NodeProto struct is
     * ~100 bytes for ~20 on disk), weights ~1x, tiny files up to 18x (fixed structs, under
     * the floor). 32x plus a floor leaves room without letting 2-byte messages turn a
     * 2 GiB file into hundreds of GiB. */
    return ((uint64_t)64 << 20) + (uint64_t)n * 32;
}

static int read_varint(const uint8_t *b, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= n) return -1;
        uint8_t byte = b[(*pos)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;   /* more than 10 bytes */
}

/* Bytes of one unpacked element of a scalar field. */
static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES: case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *) > 16 ? sizeof(void *) : 16;   /* a pointer or ProtobufCBinaryData */
    default:
        return 4;
    }
}

static bool is_varint_type(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_SFIXED32 && t != PROTOBUF_C_TYPE_FIXED32 && t != PROTOBUF_C_TYPE_FLOAT &&
           t != PROTOBUF_C_TYPE_SFIXED64 && t != PROTOBUF_C_TYPE_FIXED64 && t != PROTOBUF_C_TYPE_DOUBLE;
}

/* The repeated fields whose length is bounded, and by what. (Ranks are checked where
 * the tensor or value is converted, so the message can name it.) */
static const char *tracked(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                           uint64_t *limit, int *slot)
{
    if (d == &onnx__graph_proto__descriptor) {
        if (!strcmp(f->name, "node")) {
            *limit = FE_MAX_NODES, *slot = 0;
            return "nodes";
        }
        if (!strcmp(f->name, "initializer") || !strcmp(f->name, "sparse_initializer")) {
            *limit = FE_MAX_INITS, *slot = 1;
            return "initializers";
        }
        if (!strcmp(f->name, "input") || !strcmp(f->name, "output") || !strcmp(f->name, "value_info")) {
            *limit = FE_MAX_VALUES, *slot = 2;
            return "values (inputs, outputs and value_info)";
        }
    }
    return NULL;
}

static int wire_err(fe_ctx_t *c, const char *what, const wire_frame_t *f, size_t at)
{
    return fe_err(c, "not a valid %s (protobuf parse failed: %s at byte %zu, in %s)",
                  c->g ? "TensorProto" : "ONNX model", what, at, f->d->name);
}

int fe_wire_check(fe_ctx_t *c, const ProtobufCMessageDescriptor *root, const uint8_t *b, size_t n)
{
    wire_frame_t st[FE_MAX_MSG_DEPTH + 1];
    int top = 0, graphs = root == &onnx__graph_proto__descriptor;
    uint64_t est = root->sizeof_message, budget = fe_parse_budget(n);
    st[0] = (wire_frame_t){.d = root, .end = n};
    size_t pos = 0;
    for (;;) {
        wire_frame_t *fr = &st[top];
        if (pos == fr->end) {
            if (top == 0) break;
            if (fr->d == &onnx__graph_proto__descriptor) graphs--;
            top--;
            continue;
        }
        size_t at = pos;
        uint64_t key, len = 0;
        if (read_varint(b, fr->end, &pos, &key)) return wire_err(c, "truncated field key", fr, at);
        unsigned wt = (unsigned)(key & 7);
        uint64_t num = key >> 3;
        if (num == 0 || num > 0x1fffffff) return wire_err(c, "field number out of range", fr, at);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(fr->d, (unsigned)num);
        switch (wt) {
        case 0:
            if (read_varint(b, fr->end, &pos, &len)) return wire_err(c, "truncated varint", fr, at);
            len = 0;
            break;
        case 1: len = 8; break;
        case 5: len = 4; break;
        case 2:
            if (read_varint(b, fr->end, &pos, &len)) return wire_err(c, "truncated length", fr, at);
            break;
        default:
            return wire_err(c, "unsupported wire type (groups or garbage)", fr, at);
        }
        if (len > fr->end - pos) return wire_err(c, "field length past the end of its message", fr, at);
        size_t body = pos;
        pos += (size_t)len;
        if (!f) {
            est += 48 + len;   /* protobuf-c keeps a copy of unknown fields */
        } else {
            bool rep = f->label == PROTOBUF_C_LABEL_REPEATED;
            uint64_t elems = 1, limit;
            int slot;
            if (wt == 2 && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
                f->type != PROTOBUF_C_TYPE_MESSAGE) {
                /* A packed repeated scalar: count its elements. */
                if (!is_varint_type(f->type)) {
                    elems = len / scalar_size(f->type);
                } else {
                    elems = 0;
                    for (size_t i = body; i < pos; i++) elems += !(b[i] & 0x80);
                }
            }
            est += elems * scalar_size(f->type) + (rep ? sizeof(void *) : 0);
            if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES) est += len + 1;
            const char *what = rep ? tracked(fr->d, f, &limit, &slot) : NULL;
            if (what && (fr->count[slot] += elems) > limit) {
                char m[160];
                snprintf(m, sizeof m, "more than %llu %s", (unsigned long long)limit, what);
                return wire_err(c, m, fr, at);
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && wt == 2) {
                const ProtobufCMessageDescriptor *sd = f->descriptor;
                if (top == FE_MAX_MSG_DEPTH)
                    return fe_err(c, "model nesting is deeper than %d messages (at byte %zu, "
                                  "in %s)", FE_MAX_MSG_DEPTH, at, fr->d->name);
                if (sd == &onnx__graph_proto__descriptor && ++graphs > FE_MAX_GRAPH_DEPTH)
                    return fe_err(c, "subgraphs nested deeper than %d levels (at byte %zu)",
                                  FE_MAX_GRAPH_DEPTH, at);
                est += sd->sizeof_message;
                st[++top] = (wire_frame_t){.d = sd, .end = pos};
                pos = body;
            }
        }
        if (est > budget)
            return fe_err(c, "model would unpack to more than %llu MiB (%zu bytes on disk); "
                          "refusing a file that claims this many elements",
                          (unsigned long long)(budget >> 20), n);
    }
    return 0;
}
