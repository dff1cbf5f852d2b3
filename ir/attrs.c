/* Attribute schemas: the "attrs" column of ir/ops.def, parsed on demand. The schema is a
 * short string ("alpha:f=0.01 axes:I size:i!"), so the table stays one row per op; parsing
 * it is a few comparisons per attribute and happens once per node when the model is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct schema_entry {
    const char *name; size_t name_len;
    char kind;            /* i f s I F S t g */
    bool required;
    const char *dflt; size_t dflt_len;   /* NULL when none */
} schema_entry_t;

/* Finds `name` in the schema string; false when it is not listed. */
static bool schema_find(const char *schema, const char *name, size_t len, schema_entry_t *e) {
    const char *p = schema;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *colon = strchr(p, ':');
        if (!colon) return false;   /* malformed row: a test checks every row parses */
        const char *end = strchr(colon, ' ');
        if (!end) end = colon + strlen(colon);
        size_t nl = (size_t)(colon - p);
        if (nl == len && strncmp(p, name, len) == 0) {
            e->name = p; e->name_len = nl;
            e->kind = colon[1];
            e->required = colon[2] == '!';
            e->dflt = colon[2] == '=' ? colon + 3 : NULL;
            e->dflt_len = e->dflt ? (size_t)(end - e->dflt) : 0;
            return true;
        }
        p = end;
    }
    return false;
}

bool ir_attr_default(ir_op_t op, const char *name, double *num, const char **str) {
    schema_entry_t e;
    if (!schema_find(ir_op_attrs(op), name, strlen(name), &e) || !e.dflt) return false;
    if (num) {
        char buf[64];
        size_t l = e.dflt_len < sizeof buf - 1 ? e.dflt_len : sizeof buf - 1;
        memcpy(buf, e.dflt, l);
        buf[l] = 0;
        *num = strtod(buf, NULL);
    }
    if (str) {
        /* The schema strings are static, but not NUL-terminated at the default's end:
         * hand out an interned copy for the few string defaults there are. */
        static const char *const known[] = {"NOTSET", "none", "mean", "constant", "half_pixel", "nearest",
                                            "round_prefer_floor", "stretch", "DCR", "up"};
        *str = NULL;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strlen(known[i]) == e.dflt_len && strncmp(known[i], e.dflt, e.dflt_len) == 0) *str = known[i];
    }
    return true;
}

double ir_attr_num(const ir_node_t *n, const char *name, double dflt) {
    const ir_attr_t *a = ir_attr_find(n, name);
    if (a && a->kind == IR_ATTR_INT) return (double)a->i;
    if (a && a->kind == IR_ATTR_FLOAT) return a->f;
    double d;
    if (ir_attr_default(n->op, name, &d, NULL)) return d;
    return dflt;
}

static char kind_letter(ir_attr_kind_t k) {
    switch (k) {
    case IR_ATTR_INT: return 'i';
    case IR_ATTR_FLOAT: return 'f';
    case IR_ATTR_STRING: return 's';
    case IR_ATTR_INTS: return 'I';
    case IR_ATTR_FLOATS: return 'F';
    case IR_ATTR_STRINGS: return 'S';
    case IR_ATTR_TENSOR: return 't';
    case IR_ATTR_GRAPH: return 'g';
    }
    return '?';
}

static const char *kind_word(char k) {
    switch (k) {
    case 'i': return "an int";
    case 'f': return "a float";
    case 's': return "a string";
    case 'I': return "a list of ints";
    case 'F': return "a list of floats";
    case 'S': return "a list of strings";
    case 't': return "a tensor";
    case 'g': return "a graph";
    default: return "?";
    }
}

int ir_node_check_attrs(const ir_node_t *n, char *why, size_t cap) {
    const char *schema = ir_op_attrs(n->op);
    for (int i = 0; i < n->n_attrs; i++) {
        const ir_attr_t *a = &n->attrs[i];
        schema_entry_t e;
        if (!schema_find(schema, a->name, strlen(a->name), &e)) continue;  /* legacy attributes: see ops.def */
        char have = kind_letter(a->kind);
        if (have != e.kind)
            return snprintf(why, cap, "attribute '%s' must be %s, got %s", a->name, kind_word(e.kind), kind_word(have)), -1;
    }
    /* required attributes */
    const char *p = schema;
    while (*p) {
        while (*p == ' ') p++;
        const char *colon = strchr(p, ':');
        if (!colon) break;
        const char *end = strchr(colon, ' ');
        if (!end) end = colon + strlen(colon);
        if (colon[2] == '!') {
            char name[64];
            size_t l = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
            memcpy(name, p, l);
            name[l] = 0;
            if (!ir_attr_find(n, name)) return snprintf(why, cap, "required attribute '%s' is missing", name), -1;
        }
        p = end;
    }
    return 0;
}
