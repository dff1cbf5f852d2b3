/* Diagnostics: the one way every layer (frontend, passes, backends) reports a problem.
 *
 * A diagnostic names its place like a C compiler's `file:line:col:` does: the model file,
 * the node and its op type, then the reason. Printed, one line each:
 *     model.onnx: node 'conv_17' (Conv): kernel rank 3 does not match input rank 4
 *     model.onnx: graph has no outputs
 * A list collects them so a run can report every refusal at once. It is malloc-backed,
 * not arena-backed, because the frontend's list must outlive the graph it frees on
 * failure. A graph owns one (graph->diags, filled by ir_error); code that runs before a
 * graph exists is handed one explicitly.
 *
 * Status convention: functions return 0, or -1 after appending at least one error to the
 * list they were given (or to their graph's). The list holds the text; the int is all a
 * caller branches on. */
#ifndef ONNXC_IR_DIAG_H
#define ONNXC_IR_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ir_severity { IR_SEV_ERROR, IR_SEV_WARNING, IR_SEV_NOTE } ir_severity_t;

typedef struct ir_diag {
    ir_severity_t severity;
    const char *file;           /* the model path; never NULL ("" when unknown) */
    const char *node;           /* NULL: not about one node */
    const char *op;             /* the node's op type as written; NULL when node is */
    const char *msg;
} ir_diag_t;

/* Past this many entries a list only counts: a model with 10,000 bad nodes should not
 * print 10,000 lines, and the count still says how bad it is. */
#define IR_DIAG_CAP 100

/* All zero is an empty list; ir_diags_free releases it. */
typedef struct ir_diags {
    ir_diag_t *items;
    int n, cap;                 /* entries kept (n <= IR_DIAG_CAP), room in items */
    int n_more;                 /* entries appended past the cap (or when memory ran out) */
    int n_errors;               /* errors appended, kept or not */
} ir_diags_t;

void ir_diags_free(ir_diags_t *d);

/* Appends one entry (strings are copied; node and op may be NULL). Returns -1 for an
 * error, so `return ir_diag_add(...)` reports and fails in one step; 0 otherwise. An entry
 * that cannot be stored (cap reached, out of memory) is still counted. */
int ir_diag_add(ir_diags_t *d, ir_severity_t sev, const char *file, const char *node, const char *op,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int ir_diag_addv(ir_diags_t *d, ir_severity_t sev, const char *file, const char *node, const char *op,
                 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static inline bool ir_diags_has_errors(const ir_diags_t *d) { return d && d->n_errors > 0; }
/* Entries appended so far, kept or only counted. */
static inline int ir_diags_count(const ir_diags_t *d) { return d ? d->n + d->n_more : 0; }

/* Moves every entry of src to the end of dst (cap applies) and empties src. */
void ir_diags_move(ir_diags_t *dst, ir_diags_t *src);

/* "file: node 'name' (Op): msg", "file: msg", or just "msg" when file is "", one line (control characters in names
 * from the model become '?'), clipped to n. Returns the length it wanted, as snprintf. */
size_t ir_diag_format(const ir_diag_t *e, char *buf, size_t n);

/* Writes each entry as "PREFIX: error: TEXT" (warning:, note:), then, when entries were
 * only counted, "PREFIX: note: ... N more diagnostics not shown". prefix NULL: no prefix
 * and no severity word. */
void ir_diags_print(const ir_diags_t *d, FILE *f, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
