/* Diagnostics list (see diag.h). */
#include "ir/diag.h"

#include <stdlib.h>
#include <string.h>

/* A reason longer than this is clipped: messages quote names from the model, and a
 * hostile file can make those arbitrarily long. */
#define DIAG_MSG_MAX 4096

void ir_diags_free(ir_diags_t *d) {
    if (!d) return;
    /* Each entry's strings are one block that starts at its file. */
    for (int i = 0; i < d->n; i++) free((void *)d->items[i].file);
    free(d->items);
    memset(d, 0, sizeof *d);
}

static char *put(char *p, const char *s, size_t len) {
    memcpy(p, s, len);
    p[len] = 0;
    return p + len + 1;
}

/* Stores an entry whose strings are copied; false when it could only be counted. */
static bool store(ir_diags_t *d, ir_severity_t sev, const char *file, const char *node, const char *op,
                  const char *msg) {
    if (d->n >= IR_DIAG_CAP) return false;
    if (d->n == d->cap) {
        int nc = d->cap ? d->cap * 2 : 8;
        if (nc > IR_DIAG_CAP) nc = IR_DIAG_CAP;
        ir_diag_t *ni = realloc(d->items, sizeof *ni * (size_t)nc);
        if (!ni) return false;
        d->items = ni;
        d->cap = nc;
    }
    if (!file) file = "";
    if (!node) op = NULL;
    size_t lf = strlen(file), ln = node ? strlen(node) : 0, lo = op ? strlen(op) : 0, lm = strlen(msg);
    char *blk = malloc(lf + ln + lo + lm + 4);
    if (!blk) return false;
    ir_diag_t *e = &d->items[d->n++];
    e->severity = sev;
    char *p = blk;
    e->file = p;
    p = put(p, file, lf);
    e->node = node ? p : NULL;
    p = put(p, node ? node : "", ln);
    e->op = op ? p : NULL;
    p = put(p, op ? op : "", lo);
    e->msg = p;
    put(p, msg, lm);
    return true;
}

int ir_diag_addv(ir_diags_t *d, ir_severity_t sev, const char *file, const char *node, const char *op,
                 const char *fmt, va_list ap) {
    int rc = sev == IR_SEV_ERROR ? -1 : 0;
    if (!d) return rc;
    char msg[DIAG_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (sev == IR_SEV_ERROR) d->n_errors++;
    if (!store(d, sev, file, node, op, msg)) d->n_more++;
    return rc;
}

int ir_diag_add(ir_diags_t *d, ir_severity_t sev, const char *file, const char *node, const char *op,
                const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = ir_diag_addv(d, sev, file, node, op, fmt, ap);
    va_end(ap);
    return rc;
}

void ir_diags_move(ir_diags_t *dst, ir_diags_t *src) {
    if (!dst || !src || dst == src) return;
    for (int i = 0; i < src->n; i++) {
        const ir_diag_t *e = &src->items[i];
        if (!store(dst, e->severity, e->file, e->node, e->op, e->msg)) dst->n_more++;
    }
    dst->n_more += src->n_more;
    dst->n_errors += src->n_errors;
    ir_diags_free(src);
}

size_t ir_diag_format(const ir_diag_t *e, char *buf, size_t n) {
    char tmp[1];
    if (!buf || !n) {
        buf = tmp;
        n = sizeof tmp;
    }
    /* Names are clipped so the reason always shows. */
    int w;
    /* No file: a line that a lower layer formatted whole (see backends/common/outcode.h). */
    if (!e->file[0] && !e->node)
        w = snprintf(buf, n, "%s", e->msg);
    else if (e->node)
        w = snprintf(buf, n, "%.600s: node '%.400s' (%.60s): %s", e->file, e->node, e->op ? e->op : "?", e->msg);
    else
        w = snprintf(buf, n, "%.600s: %s", e->file, e->msg);
    /* One line per diagnostic, whatever the model's names hold. */
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return w < 0 ? 0 : (size_t)w;
}

void ir_diags_print(const ir_diags_t *d, FILE *f, const char *prefix) {
    static const char *words[] = {"error", "warning", "note"};
    if (!d || !f) return;
    char line[6144];
    for (int i = 0; i < d->n; i++) {
        ir_diag_format(&d->items[i], line, sizeof line);
        if (prefix)
            fprintf(f, "%s: %s: %s\n", prefix, words[d->items[i].severity], line);
        else
            fprintf(f, "%s\n", line);
    }
    if (d->n_more) {
        if (prefix)
            fprintf(f, "%s: note: ... %d more diagnostic%s not shown\n", prefix, d->n_more, d->n_more == 1 ? "" : "s");
        else
            fprintf(f, "... %d more diagnostic%s not shown\n", d->n_more, d->n_more == 1 ? "" : "s");
    }
}
