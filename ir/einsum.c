/* Einsum: the equation is parsed once at compile time into labels (ir_einsum_t), which
 * both inference and the backends read, so no later stage looks at the string again.
 *
 * Semantics follow numpy/ONNX: spaces are ignored; without '->' the output is the
 * ellipsis dims followed by the letters that occur exactly once, in ASCII order; with
 * '->' the listed labels form the output and every other label is summed over. The
 * dims an ellipsis stands for broadcast (a constant 1 against anything); named labels
 * must agree exactly, as in ONNX's own shape inference. */
#include <stdio.h>
#include <string.h>

#include "ir/infer_util.h"

/* Letters map to labels after the ellipsis labels: 'A'..'Z' then 'a'..'z'. */
static int letter_slot(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

/* One term (an input or the output): letters in order, and where the ellipsis sits
 * (-1 if none). */
typedef struct term {
    char letters[IR_MAX_RANK + 1];
    int n_letters;
    int ell_at;
} term_t;

static int parse_term(ir_graph_t *g, const ir_node_t *n, const char *eq, const char *s, size_t len, term_t *t) {
    t->n_letters = 0;
    t->ell_at = -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return ir_error(g, n, "equation '%s': '.' must be part of an ellipsis '...'", eq);
            if (t->ell_at >= 0) return ir_error(g, n, "equation '%s': a term has more than one ellipsis", eq);
            t->ell_at = t->n_letters;
            i += 2;
            continue;
        }
        if (letter_slot(c) < 0) return ir_error(g, n, "equation '%s': invalid character '%c'", eq, c);
        if (t->n_letters >= IR_MAX_RANK) return ir_error(g, n, "equation '%s': a term has more than %d indices", eq, IR_MAX_RANK);
        t->letters[t->n_letters++] = c;
    }
    return 0;
}

/* Sets a label's extent from one axis; ellipsis labels broadcast, letters must match. */
static int bind_label(ir_graph_t *g, const ir_node_t *n, const char *eq, ir_einsum_t *e, bool *set, int lab,
                      ir_dim_t d, char letter) {
    if (!set[lab]) {
        set[lab] = true;
        e->size[lab] = d;
        return 0;
    }
    ir_dim_t cur = e->size[lab];
    if (ir_dim_eq(cur, d)) return 0;
    bool ell = lab < e->n_ell;
    if (ell && ir_dim_is_const(d) && d.v == 1) return 0;
    if (ell && ir_dim_is_const(cur) && cur.v == 1) {
        e->size[lab] = d;
        return 0;
    }
    char a[32], b[32];
    ir_shape_t sa = {.rank = 1, .dims = {cur}}, sb = {.rank = 1, .dims = {d}};
    ir_shape_str(g, &sa, a, sizeof a);
    ir_shape_str(g, &sb, b, sizeof b);
    if (ell) return ir_error(g, n, "equation '%s': ellipsis dims %s and %s do not broadcast", eq, a, b);
    return ir_error(g, n, "equation '%s': index '%c' has sizes %s and %s", eq, letter, a, b);
}

int ir_einsum_parse(ir_graph_t *g, const ir_node_t *n, ir_einsum_t *e) {
    memset(e, 0, sizeof *e);
    const char *raw = ir_attr_str(n, "equation", NULL);
    if (!raw) return ir_error(g, n, "attribute 'equation' is required");
    char eq[512];
    size_t len = 0;
    for (const char *p = raw; *p; p++) {
        if (*p == ' ' || *p == '\t') continue;
        if (len + 1 >= sizeof eq) return ir_error(g, n, "equation is longer than %zu characters", sizeof eq - 1);
        eq[len++] = *p;
    }
    eq[len] = 0;
    if (n->n_in > IR_EINSUM_MAX_IN) return ir_error(g, n, "more than %d inputs", IR_EINSUM_MAX_IN);
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : len;
    if (arrow && strstr(arrow + 2, "->")) return ir_error(g, n, "equation '%s' has more than one '->'", raw);

    /* inputs */
    term_t in_t[IR_EINSUM_MAX_IN];
    int nt = 0;
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && eq[i] != ',') continue;
        if (nt >= n->n_in)
            return ir_error(g, n, "equation '%s' has more terms than the node's %d inputs", raw, n->n_in);
        if (parse_term(g, n, raw, eq + start, i - start, &in_t[nt])) return -1;
        nt++;
        start = i + 1;
    }
    if (nt != n->n_in) return ir_error(g, n, "equation '%s' has %d input terms, the node has %d inputs", raw, nt, n->n_in);
    e->n_in = nt;
    /* the ellipsis width: the widest of the inputs' */
    for (int i = 0; i < nt; i++) {
        const ir_value_t *v = n->in[i];
        if (!v) return ir_error(g, n, "input %d is missing", i);
        int r = v->shape.rank, ew = r - in_t[i].n_letters;
        if (in_t[i].ell_at < 0 && ew != 0)
            return ir_error(g, n, "equation '%s': term %d has %d indices but input '%s' has rank %d", raw, i,
                            in_t[i].n_letters, v->name ? v->name : "?", r);
        if (ew < 0)
            return ir_error(g, n, "equation '%s': term %d has %d indices but input '%s' has rank %d", raw, i,
                            in_t[i].n_letters, v->name ? v->name : "?", r);
        if (ew > e->n_ell) e->n_ell = ew;
    }
    e->n_labels = e->n_ell + 52;
    bool set[IR_EINSUM_MAX_LABELS] = {0};
    int count[IR_EINSUM_MAX_LABELS] = {0};
    for (int i = 0; i < nt; i++) {
        const term_t *t = &in_t[i];
        const ir_value_t *v = n->in[i];
        int r = v->shape.rank, ew = r - t->n_letters, a = 0;
        e->rank[i] = r;
        for (int j = 0; j <= t->n_letters; j++) {
            if (j == t->ell_at)
                for (int q = 0; q < ew; q++, a++) {
                    int lab = e->n_ell - ew + q;
                    e->lab[i][a] = lab;
                    if (bind_label(g, n, raw, e, set, lab, v->shape.dims[a], '.')) return -1;
                }
            if (j == t->n_letters) break;
            int lab = e->n_ell + letter_slot(t->letters[j]);
            e->lab[i][a] = lab;
            count[lab]++;
            if (bind_label(g, n, raw, e, set, lab, v->shape.dims[a], t->letters[j])) return -1;
            a++;
        }
    }

    /* output */
    if (arrow) {
        term_t ot;
        if (parse_term(g, n, raw, arrow + 2, strlen(arrow + 2), &ot)) return -1;
        if (ot.ell_at >= 0 && e->n_ell + ot.n_letters > IR_MAX_RANK)
            return ir_error(g, n, "equation '%s': the output has more than %d dims", raw, IR_MAX_RANK);
        bool used[IR_EINSUM_MAX_LABELS] = {0};
        for (int j = 0; j <= ot.n_letters; j++) {
            if (j == ot.ell_at)
                for (int q = 0; q < e->n_ell; q++) e->out_lab[e->out_rank++] = q;
            if (j == ot.n_letters) break;
            int lab = e->n_ell + letter_slot(ot.letters[j]);
            if (!set[lab])
                return ir_error(g, n, "equation '%s': output index '%c' does not appear in any input", raw, ot.letters[j]);
            if (used[lab]) return ir_error(g, n, "equation '%s': output index '%c' is repeated", raw, ot.letters[j]);
            used[lab] = true;
            e->out_lab[e->out_rank++] = lab;
        }
    } else {
        for (int q = 0; q < e->n_ell; q++) e->out_lab[e->out_rank++] = q;
        for (int s = 0; s < 52; s++) {
            int lab = e->n_ell + s;
            if (count[lab] != 1) continue;
            if (e->out_rank >= IR_MAX_RANK)
                return ir_error(g, n, "equation '%s': the output has more than %d dims", raw, IR_MAX_RANK);
            e->out_lab[e->out_rank++] = lab;
        }
    }
    /* Labels no input uses get extent 1 so loops over them are empty-safe; only used
     * ones are ever iterated. */
    for (int l = 0; l < e->n_labels; l++)
        if (!set[l]) e->size[l] = ir_dim_const(1);
    return 0;
}

int ir_infer_einsum(ir_graph_t *g, ir_node_t *n) {
    for (int i = 0; i < n->n_in; i++) {
        const ir_value_t *v = n->in[i];
        if (!v) return ir_error(g, n, "input %d is missing", i);
        if (!ir_dtype_is_float(v->dtype) && !ir_dtype_is_int(v->dtype))
            return ir_error(g, n, "input '%s' must be numeric, got %s", v->name, ir_dtype_name(v->dtype));
        if (v->dtype != n->in[0]->dtype)
            return ir_error(g, n, "inputs '%s' (%s) and '%s' (%s) must have the same dtype", n->in[0]->name,
                            ir_dtype_name(n->in[0]->dtype), v->name, ir_dtype_name(v->dtype));
    }
    ir_einsum_t e;
    if (ir_einsum_parse(g, n, &e)) return -1;
    ir_shape_t o = {.rank = e.out_rank};
    for (int j = 0; j < e.out_rank; j++) o.dims[j] = e.size[e.out_lab[j]];
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = o;
    return 0;
}
