/* Symbolic dimensions: interning, canonical polynomials, simplification, evaluation,
 * printing and ordering of the graph's symbols. See ir/sym.h for the model. */
#include "ir/ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size limits of one canonical polynomial: past them an expression is refused. */
#define PT 24     /* terms */
#define PD 6      /* atoms per term (degree) */
#define MAX_SYMS 4096

typedef struct term {
    int64_t c;
    int n;
    int32_t a[PD];  /* atom symbols, sorted ascending */
} term_t;

typedef struct poly {
    int n;
    term_t t[PT];
} poly_t;

/* ---------------------------------------------------------------- the table */
static bool dim_same(ir_dim_t a, ir_dim_t b) { return a.v == b.v && a.sym == b.sym; }

static bool def_same(const ir_sym_t *x, const ir_sym_t *y) {
    return x->kind == y->kind && dim_same(x->a, y->a) && dim_same(x->b, y->b) && dim_same(x->c, y->c) &&
           dim_same(x->d, y->d) && x->input == y->input && x->elem == y->elem;
}

static int grow(ir_graph_t *g) {
    if (g->n_syms >= MAX_SYMS) return -1;
    const char **ns = realloc(g->syms, sizeof(char *) * (size_t)(g->n_syms + 1));
    if (!ns) return -1;
    g->syms = ns;
    ir_sym_t *nd = realloc(g->symdefs, sizeof(ir_sym_t) * (size_t)(g->n_syms + 1));
    if (!nd) return -1;
    g->symdefs = nd;
    return 0;
}

/* Appends a symbol (no interning); -1 on failure. */
static int sym_append(ir_graph_t *g, const ir_sym_t *def, const char *name) {
    if (g->syms_frozen || grow(g)) return -1;
    const char *nm = ir_arena_strdup(&g->arena, name);
    if (!nm) return -1;
    g->syms[g->n_syms] = nm;
    g->symdefs[g->n_syms] = *def;
    if (ir_sym_is_caller(def)) g->n_caller_syms++;
    return g->n_syms++;
}

int ir_graph_add_sym(ir_graph_t *g, const char *name) {
    for (int i = 0; i < g->n_syms; i++)
        if (g->symdefs[i].kind == IR_SYM_INPUT && strcmp(g->syms[i], name) == 0) return i;
    ir_sym_t d;
    memset(&d, 0, sizeof d);
    d.kind = IR_SYM_INPUT;
    d.a = d.b = d.c = d.d = ir_dim_const(0);
    return sym_append(g, &d, name);
}

/* ---------------------------------------------------------------- printing */
static int prec(const ir_graph_t *g, ir_dim_t d) {
    if (d.sym < 0) return d.v < 0 ? 1 : 9;
    ir_sym_kind_t k = g->symdefs[d.sym].kind;
    if (d.v != 1) return k == IR_SYM_ADD ? 1 : 2;       /* k*x is a product */
    switch (k) {
    case IR_SYM_ADD: return 1;
    case IR_SYM_MUL: case IR_SYM_DIV: case IR_SYM_MOD: return 2;
    default: return 9;
    }
}

static void sbprintf(char *buf, size_t n, size_t *k, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void sbprintf(char *buf, size_t n, size_t *k, const char *fmt, ...) {
    if (*k >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *k, n - *k, fmt, ap);
    va_end(ap);
    if (w > 0) *k += (size_t)w;
    if (*k >= n) *k = n - 1;
}

static void dim_text(const ir_graph_t *g, ir_dim_t d, int min_prec, char *buf, size_t n, size_t *k) {
    bool par = prec(g, d) < min_prec;
    if (par) sbprintf(buf, n, k, "(");
    if (d.sym < 0)
        sbprintf(buf, n, k, "%lld", (long long)d.v);
    else if (d.v == 1)
        sbprintf(buf, n, k, "%s", g->syms[d.sym]);
    else if (d.v == -1 && prec(g, (ir_dim_t){1, d.sym}) >= 9)
        sbprintf(buf, n, k, "-%s", g->syms[d.sym]);
    else if (d.v == -1)
        sbprintf(buf, n, k, "-(%s)", g->syms[d.sym]);
    else {
        sbprintf(buf, n, k, "%lld*", (long long)d.v);
        dim_text(g, (ir_dim_t){1, d.sym}, 3, buf, n, k);
    }
    if (par) sbprintf(buf, n, k, ")");
}

void ir_dim_str(const ir_graph_t *g, ir_dim_t d, char *buf, size_t n) {
    if (!n) return;
    size_t k = 0;
    buf[0] = 0;
    if (d.sym >= 0 && (!g || d.sym >= g->n_syms)) {
        snprintf(buf, n, "?");
        return;
    }
    dim_text(g, d, 0, buf, n, &k);
}

/* The name of a new derived symbol: its expression. */
static void def_text(const ir_graph_t *g, const ir_sym_t *s, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    switch (s->kind) {
    case IR_SYM_ADD:
        dim_text(g, s->a, 1, buf, n, &k);
        if (s->b.sym < 0 ? s->b.v < 0 : s->b.v < 0) {
            sbprintf(buf, n, &k, " - ");
            dim_text(g, (ir_dim_t){-s->b.v, s->b.sym}, 2, buf, n, &k);
        } else {
            sbprintf(buf, n, &k, " + ");
            dim_text(g, s->b, 2, buf, n, &k);
        }
        break;
    case IR_SYM_MUL:
        dim_text(g, s->a, 2, buf, n, &k);
        sbprintf(buf, n, &k, "*");
        dim_text(g, s->b, 3, buf, n, &k);
        break;
    case IR_SYM_DIV:
    case IR_SYM_MOD:
        dim_text(g, s->a, 2, buf, n, &k);
        sbprintf(buf, n, &k, s->kind == IR_SYM_DIV ? " // " : " %% ");
        dim_text(g, s->b, 3, buf, n, &k);
        break;
    case IR_SYM_MIN:
    case IR_SYM_MAX:
        sbprintf(buf, n, &k, s->kind == IR_SYM_MIN ? "min(" : "max(");
        dim_text(g, s->a, 0, buf, n, &k);
        sbprintf(buf, n, &k, ", ");
        dim_text(g, s->b, 0, buf, n, &k);
        sbprintf(buf, n, &k, ")");
        break;
    case IR_SYM_FLOORMUL:
        sbprintf(buf, n, &k, "floor(");
        dim_text(g, s->a, 2, buf, n, &k);
        sbprintf(buf, n, &k, "*");
        dim_text(g, s->b, 3, buf, n, &k);
        sbprintf(buf, n, &k, ")");
        break;
    case IR_SYM_RUNTIME:
        sbprintf(buf, n, &k, "count(%s)", s->input && s->input->name ? s->input->name : "?");
        break;
    case IR_SYM_FRANGE:
        sbprintf(buf, n, &k, "range_len(");
        dim_text(g, s->a, 0, buf, n, &k);
        sbprintf(buf, n, &k, ", ");
        dim_text(g, s->b, 0, buf, n, &k);
        sbprintf(buf, n, &k, ", ");
        dim_text(g, s->c, 0, buf, n, &k);
        sbprintf(buf, n, &k, ")");
        break;
    case IR_SYM_SELECT:
        sbprintf(buf, n, &k, "(");
        dim_text(g, s->a, 1, buf, n, &k);
        sbprintf(buf, n, &k, s->elem ? " < " : " == ");
        dim_text(g, s->b, 1, buf, n, &k);
        sbprintf(buf, n, &k, " ? ");
        dim_text(g, s->c, 1, buf, n, &k);
        sbprintf(buf, n, &k, " : ");
        dim_text(g, s->d, 1, buf, n, &k);
        sbprintf(buf, n, &k, ")");
        break;
    default:
        break;
    }
}

/* The interned symbol of a derived definition; -1 on failure. */
static int intern_cmp(ir_graph_t *g, ir_sym_kind_t kind, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d, int64_t cmp) {
    ir_sym_t s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.elem = cmp;
    s.a = a;
    s.b = b;
    s.c = c;
    s.d = d;
    for (int i = 0; i < g->n_syms; i++)
        if (def_same(&g->symdefs[i], &s)) return i;
    char name[256];
    def_text(g, &s, name, sizeof name);
    return sym_append(g, &s, name);
}

static int intern(ir_graph_t *g, ir_sym_kind_t kind, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d) {
    return intern_cmp(g, kind, a, b, c, d, 0);
}

int ir_dim_data(ir_graph_t *g, const ir_value_t *v, int64_t elem, ir_dim_t *out) {
    ir_sym_t s;
    memset(&s, 0, sizeof s);
    s.kind = IR_SYM_DATA;
    s.a = s.b = s.c = s.d = ir_dim_const(0);
    s.input = v;
    s.elem = elem;
    for (int i = 0; i < g->n_syms; i++)
        if (def_same(&g->symdefs[i], &s)) {
            *out = (ir_dim_t){1, i};
            return 0;
        }
    char name[256];
    if (v->shape.rank == 0)
        snprintf(name, sizeof name, "%s", v->name ? v->name : "?");
    else
        snprintf(name, sizeof name, "%s[%lld]", v->name ? v->name : "?", (long long)elem);
    int i = sym_append(g, &s, name);
    if (i < 0) return -1;
    *out = (ir_dim_t){1, i};
    return 0;
}

/* ---------------------------------------------------------------- polynomials */
static int term_cmp(const term_t *x, const term_t *y) {
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    for (int i = 0; i < x->n; i++)
        if (x->a[i] != y->a[i]) return x->a[i] < y->a[i] ? -1 : 1;
    return 0;
}

/* Adds c * atoms to p (atoms sorted), merging an equal term. */
static int poly_add_term(poly_t *p, const term_t *t) {
    if (t->c == 0) return 0;
    for (int i = 0; i < p->n; i++) {
        if (term_cmp(&p->t[i], t) == 0) {
            if (__builtin_add_overflow(p->t[i].c, t->c, &p->t[i].c)) return -1;
            if (p->t[i].c == 0) p->t[i] = p->t[--p->n];
            return 0;
        }
    }
    if (p->n >= PT) return -1;
    p->t[p->n++] = *t;
    return 0;
}

static int poly_add(poly_t *p, const poly_t *q, int64_t scale) {
    for (int i = 0; i < q->n; i++) {
        term_t t = q->t[i];
        if (__builtin_mul_overflow(t.c, scale, &t.c)) return -1;
        if (poly_add_term(p, &t)) return -1;
    }
    return 0;
}

static int term_mul(const term_t *x, const term_t *y, term_t *o) {
    if (x->n + y->n > PD) return -1;
    if (__builtin_mul_overflow(x->c, y->c, &o->c)) return -1;
    /* merge two sorted atom lists */
    int i = 0, j = 0;
    o->n = 0;
    while (i < x->n || j < y->n) {
        if (j >= y->n || (i < x->n && x->a[i] <= y->a[j]))
            o->a[o->n++] = x->a[i++];
        else
            o->a[o->n++] = y->a[j++];
    }
    return 0;
}

static int poly_mul(const poly_t *p, const poly_t *q, poly_t *o) {
    poly_t r = {0};
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < q->n; j++) {
            term_t t;
            if (term_mul(&p->t[i], &q->t[j], &t) || poly_add_term(&r, &t)) return -1;
        }
    *o = r;
    return 0;
}

static int expand(const ir_graph_t *g, ir_dim_t d, poly_t *p, int depth) {
    p->n = 0;
    if (d.v == 0) return 0;
    if (depth > 64) return -1;
    term_t t = {.c = d.v, .n = 0};
    if (d.sym < 0) return poly_add_term(p, &t);
    const ir_sym_t *s = &g->symdefs[d.sym];
    if (s->kind == IR_SYM_ADD || s->kind == IR_SYM_MUL) {
        poly_t a, b;
        if (expand(g, s->a, &a, depth + 1) || expand(g, s->b, &b, depth + 1)) return -1;
        if (s->kind == IR_SYM_ADD) {
            if (poly_add(&a, &b, 1)) return -1;
        } else if (poly_mul(&a, &b, &a)) {
            return -1;
        }
        p->n = 0;
        return poly_add(p, &a, d.v);
    }
    t.n = 1;
    t.a[0] = d.sym;
    return poly_add_term(p, &t);
}

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int cmp_terms(const void *x, const void *y) { return term_cmp(x, y); }

/* The canonical dim of a polynomial: terms sorted, content (with the sign of the highest
 * term) pulled out as v, the rest rebuilt as an interned chain. */
static int build(ir_graph_t *g, poly_t *p, ir_dim_t *out) {
    if (p->n == 0) {
        *out = ir_dim_const(0);
        return 0;
    }
    qsort(p->t, (size_t)p->n, sizeof(term_t), cmp_terms);
    if (p->n == 1 && p->t[0].n == 0) {
        *out = ir_dim_const(p->t[0].c);
        return 0;
    }
    int64_t content = 0;
    for (int i = 0; i < p->n; i++) content = gcd64(content, p->t[i].c);
    if (p->t[p->n - 1].c < 0) content = -content;
    ir_dim_t acc = ir_dim_const(0);
    bool have = false;
    int64_t cterm = 0;
    for (int i = 0; i < p->n; i++) {
        const term_t *t = &p->t[i];
        int64_t c = t->c / content;
        if (t->n == 0) {
            cterm = c;
            continue;
        }
        ir_dim_t m = {1, t->a[0]};
        for (int j = 1; j < t->n; j++) {
            int s = intern(g, IR_SYM_MUL, m, (ir_dim_t){1, t->a[j]}, ir_dim_const(0), ir_dim_const(0));
            if (s < 0) return -1;
            m = (ir_dim_t){1, s};
        }
        m.v = c;
        if (!have) {
            acc = m;
            have = true;
        } else {
            int s = intern(g, IR_SYM_ADD, acc, m, ir_dim_const(0), ir_dim_const(0));
            if (s < 0) return -1;
            acc = (ir_dim_t){1, s};
        }
    }
    if (cterm) {
        int s = intern(g, IR_SYM_ADD, acc, ir_dim_const(cterm), ir_dim_const(0), ir_dim_const(0));
        if (s < 0) return -1;
        acc = (ir_dim_t){1, s};
    }
    /* a single term c*m: acc.v is c (1 after the content came out) */
    int64_t v;
    if (__builtin_mul_overflow(content, acc.v, &v)) return -1;
    *out = (ir_dim_t){v, acc.sym};
    return 0;
}

static int canon(ir_graph_t *g, ir_dim_t d, ir_dim_t *out) {
    poly_t p;
    if (expand(g, d, &p, 0)) return -1;
    return build(g, &p, out);
}

/* ---------------------------------------------------------------- bounds */
static int64_t atom_lo(const ir_graph_t *g, int s, int depth);

/* Atoms of y (a multiset) all among x's. */
static bool term_contains(const term_t *x, const term_t *y) {
    bool used[PD] = {0};
    for (int j = 0; j < y->n; j++) {
        int k = 0;
        while (k < x->n && (used[k] || x->a[k] != y->a[j])) k++;
        if (k == x->n) return false;
        used[k] = true;
    }
    return true;
}

static int64_t dim_lo(const ir_graph_t *g, ir_dim_t d, int depth) {
    poly_t p;
    if (depth > 32 || expand(g, d, &p, 0)) return INT64_MIN;
    /* A negative term is covered by a positive one that contains its atoms when every
     * atom is >= 1 (N*H - N = N*(H - 1) >= 0). */
    for (int i = 0; i < p.n; i++) {
        term_t *t = &p.t[i];
        if (t->c >= 0 || t->n == 0) continue;
        for (int j = 0; j < p.n && t->c < 0; j++) {
            term_t *u = &p.t[j];
            if (u->c <= 0 || !term_contains(u, t)) continue;
            bool ge1 = true;
            for (int k = 0; k < u->n && ge1; k++) ge1 = atom_lo(g, u->a[k], depth + 1) >= 1;
            if (!ge1) continue;
            int64_t m = u->c < -t->c ? u->c : -t->c;
            u->c -= m;
            t->c += m;
        }
    }
    int64_t lo = 0;
    for (int i = 0; i < p.n; i++) {
        const term_t *t = &p.t[i];
        if (t->n == 0) {
            if (__builtin_add_overflow(lo, t->c, &lo)) return INT64_MIN;
            continue;
        }
        if (t->c == 0) continue;
        if (t->c < 0) return INT64_MIN;
        int64_t m = t->c;
        for (int j = 0; j < t->n; j++) {
            int64_t a = atom_lo(g, t->a[j], depth + 1);
            if (a < 0 || __builtin_mul_overflow(m, a, &m)) return INT64_MIN;
        }
        if (__builtin_add_overflow(lo, m, &lo)) return INT64_MIN;
    }
    return lo;
}

static int64_t atom_lo(const ir_graph_t *g, int s, int depth) {
    const ir_sym_t *d = &g->symdefs[s];
    switch (d->kind) {
    case IR_SYM_INPUT: return 1;
    case IR_SYM_DIV:
        if (d->b.sym < 0 && d->b.v > 0) {
            int64_t a = dim_lo(g, d->a, depth);
            if (a == INT64_MIN) return INT64_MIN;
            return a >= 0 ? a / d->b.v : -((-a + d->b.v - 1) / d->b.v);
        }
        return INT64_MIN;
    case IR_SYM_MOD: return d->b.sym < 0 && d->b.v > 0 ? 0 : INT64_MIN;
    case IR_SYM_RUNTIME: case IR_SYM_FRANGE: return 0;
    case IR_SYM_MIN: {
        int64_t a = dim_lo(g, d->a, depth), b = dim_lo(g, d->b, depth);
        return a < b ? a : b;
    }
    case IR_SYM_MAX: {
        int64_t a = dim_lo(g, d->a, depth), b = dim_lo(g, d->b, depth);
        return a > b ? a : b;
    }
    case IR_SYM_SELECT: {
        int64_t a = dim_lo(g, d->c, depth), b = dim_lo(g, d->d, depth);
        return a < b ? a : b;
    }
    default: return INT64_MIN;
    }
}

int64_t ir_dim_lower_bound(const ir_graph_t *g, ir_dim_t d) { return dim_lo(g, d, 0); }

/* ---------------------------------------------------------------- arithmetic */
int ir_dim_add(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if (a.sym < 0 && b.sym < 0) {
        int64_t v;
        if (__builtin_add_overflow(a.v, b.v, &v)) return -1;
        *out = ir_dim_const(v);
        return 0;
    }
    poly_t p, q;
    if (expand(g, a, &p, 0) || expand(g, b, &q, 0) || poly_add(&p, &q, 1)) return -1;
    return build(g, &p, out);
}

int ir_dim_sub(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if (b.v == INT64_MIN) return -1;
    return ir_dim_add(g, a, (ir_dim_t){-b.v, b.sym}, out);
}

int ir_dim_mul(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if ((a.sym < 0 && a.v == 0) || (b.sym < 0 && b.v == 0)) {
        *out = ir_dim_const(0);
        return 0;
    }
    if (a.sym < 0 || b.sym < 0) {
        /* k * (v*S) stays v*k*S: no need to expand */
        int64_t v;
        if (__builtin_mul_overflow(a.v, b.v, &v)) return -1;
        *out = (ir_dim_t){v, a.sym < 0 ? b.sym : a.sym};
        return 0;
    }
    poly_t p, q;
    if (expand(g, a, &p, 0) || expand(g, b, &q, 0) || poly_mul(&p, &q, &p)) return -1;
    return build(g, &p, out);
}

static int64_t floordiv64(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int ir_dim_div_exact(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    poly_t p, q;
    if (expand(g, a, &p, 0) || expand(g, b, &q, 0)) return -1;
    if (q.n != 1 || q.t[0].c == 0) return -1;
    const term_t *dv = &q.t[0];
    poly_t r = {0};
    for (int i = 0; i < p.n; i++) {
        const term_t *t = &p.t[i];
        if (t->c % dv->c) return -1;
        term_t o = {.c = t->c / dv->c, .n = 0};
        /* remove dv's atoms (a multiset) from t's */
        bool used[PD] = {0};
        for (int j = 0; j < dv->n; j++) {
            int k = 0;
            while (k < t->n && (used[k] || t->a[k] != dv->a[j])) k++;
            if (k == t->n) return -1;
            used[k] = true;
        }
        for (int k = 0; k < t->n; k++)
            if (!used[k]) o.a[o.n++] = t->a[k];
        if (poly_add_term(&r, &o)) return -1;
    }
    return build(g, &r, out);
}

int ir_dim_floordiv(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if (b.sym < 0 && b.v == 0) return -1;
    if (a.sym < 0 && b.sym < 0) {
        if (a.v == INT64_MIN && b.v == -1) return -1;
        *out = ir_dim_const(floordiv64(a.v, b.v));
        return 0;
    }
    if (b.sym < 0 && b.v == 1) {
        *out = a;
        return 0;
    }
    if (ir_dim_div_exact(g, a, b, out) == 0) return 0;
    ir_dim_t ca = a, cb = b;
    if (b.sym < 0 && b.v > 0) {
        /* divide out the common factor: (4x + 6) // 4 = (2x + 3) // 2 */
        poly_t p;
        if (expand(g, a, &p, 0)) return -1;
        int64_t c = b.v;
        for (int i = 0; i < p.n; i++) c = gcd64(c, p.t[i].c);
        if (c > 1) {
            for (int i = 0; i < p.n; i++) p.t[i].c /= c;
            if (build(g, &p, &ca)) return -1;
            cb = ir_dim_const(b.v / c);
            if (cb.v == 1) {
                *out = ca;
                return 0;
            }
        }
    }
    int s = intern(g, IR_SYM_DIV, ca, cb, ir_dim_const(0), ir_dim_const(0));
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

int ir_dim_ceildiv(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    ir_dim_t na, q;
    if (b.sym < 0 && b.v > 0) {
        /* ceil(a / b) = floor((a + b - 1) / b) */
        if (ir_dim_add(g, a, ir_dim_const(b.v - 1), &na)) return -1;
        return ir_dim_floordiv(g, na, b, out);
    }
    /* ceil(a / b) = -floor(-a / b) */
    if (ir_dim_sub(g, ir_dim_const(0), a, &na) || ir_dim_floordiv(g, na, b, &q)) return -1;
    return ir_dim_sub(g, ir_dim_const(0), q, out);
}

int ir_dim_mod(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if (b.sym < 0 && b.v == 0) return -1;
    if (a.sym < 0 && b.sym < 0) {
        if (b.v == -1) {
            *out = ir_dim_const(0);
            return 0;
        }
        *out = ir_dim_const(a.v - b.v * floordiv64(a.v, b.v));
        return 0;
    }
    ir_dim_t q;
    if (ir_dim_div_exact(g, a, b, &q) == 0) {
        *out = ir_dim_const(0);
        return 0;
    }
    int s = intern(g, IR_SYM_MOD, a, b, ir_dim_const(0), ir_dim_const(0));
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

bool ir_dim_known_ge(ir_graph_t *g, ir_dim_t a, ir_dim_t b) {
    if (dim_same(a, b)) return true;
    ir_dim_t d;
    if (ir_dim_sub(g, a, b, &d)) return false;
    if (d.sym < 0) return d.v >= 0;
    int64_t lo = ir_dim_lower_bound(g, d);
    return lo != INT64_MIN && lo >= 0;
}

static bool dim_less(ir_dim_t a, ir_dim_t b) { return a.sym != b.sym ? a.sym < b.sym : a.v < b.v; }

static int minmax(ir_graph_t *g, ir_sym_kind_t kind, ir_dim_t a, ir_dim_t b, ir_dim_t *out) {
    if (a.sym < 0 && b.sym < 0) {
        *out = ir_dim_const(kind == IR_SYM_MIN ? (a.v < b.v ? a.v : b.v) : (a.v > b.v ? a.v : b.v));
        return 0;
    }
    if (ir_dim_known_ge(g, a, b)) {
        *out = kind == IR_SYM_MIN ? b : a;
        return 0;
    }
    if (ir_dim_known_ge(g, b, a)) {
        *out = kind == IR_SYM_MIN ? a : b;
        return 0;
    }
    if (a.sym < 0 || (b.sym >= 0 && dim_less(b, a))) {   /* canonical order, a constant last */
        ir_dim_t t = a;
        a = b;
        b = t;
    }
    int s = intern(g, kind, a, b, ir_dim_const(0), ir_dim_const(0));
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

int ir_dim_min(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) { return minmax(g, IR_SYM_MIN, a, b, out); }
int ir_dim_max(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out) { return minmax(g, IR_SYM_MAX, a, b, out); }

int ir_dim_select(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d, ir_dim_t *out) {
    if (dim_same(c, d)) {
        *out = c;
        return 0;
    }
    ir_dim_t diff;
    if (ir_dim_sub(g, a, b, &diff)) return -1;
    if (diff.sym < 0) {
        *out = diff.v == 0 ? c : d;
        return 0;
    }
    ir_dim_t ndiff = {-diff.v, diff.sym};
    int64_t lo1 = ir_dim_lower_bound(g, diff), lo2 = ir_dim_lower_bound(g, ndiff);
    if ((lo1 != INT64_MIN && lo1 >= 1) || (lo2 != INT64_MIN && lo2 >= 1)) {
        *out = d;
        return 0;
    }
    if (a.sym < 0 || (b.sym >= 0 && dim_less(b, a))) {   /* canonical order, a constant last */
        ir_dim_t t = a;
        a = b;
        b = t;
    }
    int s = intern(g, IR_SYM_SELECT, a, b, c, d);
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

int ir_dim_select_lt(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d, ir_dim_t *out) {
    if (dim_same(c, d)) {
        *out = c;
        return 0;
    }
    ir_dim_t diff;   /* b - a: a < b when it is >= 1 */
    if (ir_dim_sub(g, b, a, &diff)) return -1;
    if (diff.sym < 0) {
        *out = diff.v >= 1 ? c : d;
        return 0;
    }
    int64_t lo = ir_dim_lower_bound(g, diff);
    if (lo != INT64_MIN && lo >= 1) {
        *out = c;
        return 0;
    }
    ir_dim_t ndiff = {-diff.v, diff.sym};   /* a - b >= 0: not a < b */
    int64_t lo2 = ir_dim_lower_bound(g, ndiff);
    if (lo2 != INT64_MIN && lo2 >= 0) {
        *out = d;
        return 0;
    }
    int s = intern_cmp(g, IR_SYM_SELECT, a, b, c, d, 1);
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

int ir_dim_runtime(ir_graph_t *g, const ir_value_t *v, ir_dim_t bound, ir_dim_t *out) {
    for (int i = 0; i < g->n_syms; i++)
        if (g->symdefs[i].kind == IR_SYM_RUNTIME && g->symdefs[i].input == v) {
            g->symdefs[i].a = bound;   /* re-inference may tighten it */
            *out = (ir_dim_t){1, i};
            return 0;
        }
    ir_sym_t s;
    memset(&s, 0, sizeof s);
    s.kind = IR_SYM_RUNTIME;
    s.a = bound;
    s.b = s.c = s.d = ir_dim_const(0);
    s.input = v;
    char name[256];
    def_text(g, &s, name, sizeof name);
    int i = sym_append(g, &s, name);
    if (i < 0) return -1;
    *out = (ir_dim_t){1, i};
    return 0;
}

static bool sym_has_runtime(const ir_graph_t *g, int s, int depth) {
    if (s < 0 || depth > 64) return false;
    const ir_sym_t *d = &g->symdefs[s];
    if (d->kind == IR_SYM_RUNTIME) return true;
    if (ir_sym_is_caller(d)) return false;
    return sym_has_runtime(g, d->a.sym, depth + 1) || sym_has_runtime(g, d->b.sym, depth + 1) ||
           sym_has_runtime(g, d->c.sym, depth + 1) || sym_has_runtime(g, d->d.sym, depth + 1);
}

bool ir_dim_has_runtime(const ir_graph_t *g, ir_dim_t d) { return d.sym >= 0 && sym_has_runtime(g, d.sym, 0); }

bool ir_dim_runtime_ok(const ir_graph_t *g, ir_dim_t d) {
    if (!ir_dim_has_runtime(g, d)) return true;
    poly_t p;
    if (expand(g, d, &p, 0)) return false;
    for (int i = 0; i < p.n; i++) {
        const term_t *t = &p.t[i];
        bool rt = false;
        for (int j = 0; j < t->n; j++) {
            const ir_sym_t *a = &g->symdefs[t->a[j]];
            if (a->kind == IR_SYM_RUNTIME) {
                rt = true;
                continue;
            }
            if (sym_has_runtime(g, t->a[j], 0)) return false;   /* a count inside // min max ... */
        }
        if (rt && t->c < 0) return false;
    }
    return true;
}

bool ir_sym_is_float_data(const ir_graph_t *g, int s) {
    if (s < 0 || s >= g->n_syms) return false;
    const ir_sym_t *d = &g->symdefs[s];
    return d->kind == IR_SYM_DATA && d->input && ir_dtype_is_float(d->input->dtype);
}

int ir_dim_float_range(ir_graph_t *g, ir_dim_t start, ir_dim_t limit, ir_dim_t delta, ir_dim_t *out) {
    ir_dim_t d3[3] = {start, limit, delta};
    for (int i = 0; i < 3; i++)   /* a float data symbol, or a constant holding float64 bits */
        if (d3[i].sym >= 0 && (d3[i].v != 1 || !ir_sym_is_float_data(g, d3[i].sym))) return -1;
    int s = intern(g, IR_SYM_FRANGE, start, limit, delta, ir_dim_const(0));
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

int ir_dim_floor_mul_f(ir_graph_t *g, ir_dim_t a, ir_dim_t fsym, ir_dim_t *out) {
    if (fsym.v != 1 || !ir_sym_is_float_data(g, fsym.sym)) return -1;
    if (a.sym < 0 && a.v == 0) {
        *out = ir_dim_const(0);
        return 0;
    }
    int s = intern(g, IR_SYM_FLOORMUL, a, fsym, ir_dim_const(0), ir_dim_const(0));
    if (s < 0) return -1;
    *out = (ir_dim_t){1, s};
    return 0;
}

/* ---------------------------------------------------------------- checks */
int ir_shape_check_add(ir_graph_t *g, ir_check_kind_t kind, ir_dim_t a, ir_dim_t b, const char *what) {
    ir_dim_t ca, cb;
    if (canon(g, a, &ca) || canon(g, b, &cb)) return -1;
    if (kind == IR_CHECK_EQ ? dim_same(ca, cb) : ir_dim_known_ge(g, ca, cb)) return 0;
    /* the run start checks with the counts' bounds, which says nothing about the counts */
    if (ir_dim_has_runtime(g, ca) || ir_dim_has_runtime(g, cb)) return -1;
    if (ca.sym < 0 && cb.sym < 0) return -1;   /* both constant and false */
    if (kind == IR_CHECK_EQ) {
        ir_dim_t diff;
        if (ir_dim_sub(g, ca, cb, &diff)) return -1;
        if (diff.sym < 0) return -1;            /* differ by a nonzero constant */
    }
    for (int i = 0; i < g->n_checks; i++)
        if (g->checks[i].kind == kind && dim_same(g->checks[i].a, ca) && dim_same(g->checks[i].b, cb)) return 0;
    ir_shape_check_t *nc = ir_arena_alloc(&g->arena, sizeof *nc * (size_t)(g->n_checks + 1));
    if (!nc) return -1;
    if (g->n_checks) memcpy(nc, g->checks, sizeof *nc * (size_t)g->n_checks);
    nc[g->n_checks].kind = kind;
    nc[g->n_checks].a = ca;
    nc[g->n_checks].b = cb;
    nc[g->n_checks].what = what ? ir_arena_strdup(&g->arena, what) : NULL;
    g->checks = nc;
    g->n_checks++;
    return 0;
}

/* ---------------------------------------------------------------- evaluation */
int ir_dim_eval(const ir_graph_t *g, ir_dim_t d, const int64_t *vals, int64_t *out) {
    (void)g;
    if (d.sym < 0) {
        *out = d.v;
        return 0;
    }
    return __builtin_mul_overflow(d.v, vals[d.sym], out) ? -1 : 0;
}

int ir_sym_eval_all(const ir_graph_t *g, int64_t *vals) {
    for (int i = g->n_caller_syms; i < g->n_syms; i++) {
        const ir_sym_t *s = &g->symdefs[i];
        int64_t a, b, c = 0, d = 0, r;
        if (ir_dim_eval(g, s->a, vals, &a) || ir_dim_eval(g, s->b, vals, &b)) return -1;
        if ((s->kind == IR_SYM_SELECT || s->kind == IR_SYM_FRANGE) &&
            (ir_dim_eval(g, s->c, vals, &c) || ir_dim_eval(g, s->d, vals, &d)))
            return -1;
        switch (s->kind) {
        case IR_SYM_ADD: if (__builtin_add_overflow(a, b, &r)) return -1; break;
        case IR_SYM_MUL: if (__builtin_mul_overflow(a, b, &r)) return -1; break;
        case IR_SYM_DIV:
            if (b == 0 || (a == INT64_MIN && b == -1)) return -1;
            r = floordiv64(a, b);
            break;
        case IR_SYM_MOD:
            if (b == 0) return -1;
            r = b == -1 ? 0 : a - b * floordiv64(a, b);
            break;
        case IR_SYM_MIN: r = a < b ? a : b; break;
        case IR_SYM_MAX: r = a > b ? a : b; break;
        case IR_SYM_SELECT: r = (s->elem ? a < b : a == b) ? c : d; break;
        case IR_SYM_RUNTIME: r = a; break;   /* its bound, as the run start sees it */
        case IR_SYM_FRANGE: {
            double fa, fb, fc;   /* operands are float64 bits: data symbols or constants */
            memcpy(&fa, &a, 8);
            memcpy(&fb, &b, 8);
            memcpy(&fc, &c, 8);
            double x = ceil((fb - fa) / fc);
            if (fc == 0 || !(x <= (double)IR_DIM_MAX)) return -1;
            r = x > 0 ? (int64_t)x : 0;
            break;
        }
        case IR_SYM_FLOORMUL: {
            double f;
            memcpy(&f, &vals[s->b.sym], sizeof f);
            double x = floor((double)a * f);
            if (!(x >= -(double)IR_DIM_MAX && x <= (double)IR_DIM_MAX)) return -1;
            r = (int64_t)x;
            break;
        }
        default: return -1;
        }
        vals[i] = r;
    }
    return 0;
}

/* ---------------------------------------------------------------- ordering */
static void mark(const ir_graph_t *g, ir_dim_t d, char *used) {
    if (d.sym < 0 || used[d.sym]) return;
    used[d.sym] = 1;
    const ir_sym_t *s = &g->symdefs[d.sym];
    if (ir_sym_is_caller(s)) return;
    mark(g, s->a, used);
    mark(g, s->b, used);
    mark(g, s->c, used);
    mark(g, s->d, used);
}

static void remap(ir_dim_t *d, const int *to) {
    if (d->sym >= 0) d->sym = to[d->sym];
}

int ir_graph_order_syms(ir_graph_t *g) {
    int n = g->n_syms;
    if (n == 0) {
        g->n_caller_syms = 0;
        return 0;
    }
    char *used = calloc((size_t)n, 1);
    int *to = malloc(sizeof(int) * (size_t)n);
    const char **names = malloc(sizeof(char *) * (size_t)n);
    ir_sym_t *defs = malloc(sizeof(ir_sym_t) * (size_t)n);
    if (!used || !to || !names || !defs) {
        free(used);
        free(to);
        free(names);
        free(defs);
        return ir_error(g, NULL, "out of memory");
    }
    /* Input dims are part of the interface even when nothing reads them. */
    for (int i = 0; i < n; i++)
        if (g->symdefs[i].kind == IR_SYM_INPUT) used[i] = 1;
    for (int i = 0; i < g->n_values; i++) {
        const ir_value_t *v = g->values[i];
        if (!v || (!v->producer && !v->is_input && !v->is_output)) continue;
        if (v->producer && v->producer->dead) continue;
        for (int d = 0; d < v->shape.rank; d++) mark(g, v->shape.dims[d], used);
    }
    for (int i = 0; i < g->n_checks; i++) {
        mark(g, g->checks[i].a, used);
        mark(g, g->checks[i].b, used);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node_t *nd = g->nodes[i];
        for (int j = 0; !nd->dead && j < nd->n_params; j++) mark(g, nd->params[j], used);
    }
    int k = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < n; i++) {
            ir_sym_kind_t kd = g->symdefs[i].kind;
            int want = kd == IR_SYM_INPUT ? 0 : kd == IR_SYM_DATA ? 1 : 2;
            if (want != pass || !used[i]) continue;
            to[i] = k;
            names[k] = g->syms[i];
            defs[k] = g->symdefs[i];
            k++;
        }
    for (int i = 0; i < n; i++)
        if (!used[i]) to[i] = -1;
    for (int i = 0; i < k; i++) {
        remap(&defs[i].a, to);
        remap(&defs[i].b, to);
        remap(&defs[i].c, to);
        remap(&defs[i].d, to);
    }
    for (int i = 0; i < g->n_values; i++) {
        ir_value_t *v = g->values[i];
        for (int d = 0; v && d < v->shape.rank; d++) {
            ir_dim_t *dm = &v->shape.dims[d];
            if (dm->sym >= 0) {
                /* a dead value may use a dropped symbol: its shape no longer matters */
                if (to[dm->sym] < 0)
                    v->shape.rank = -1;
                else
                    remap(dm, to);
            }
        }
    }
    for (int i = 0; i < g->n_checks; i++) {
        remap(&g->checks[i].a, to);
        remap(&g->checks[i].b, to);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node_t *nd = g->nodes[i];
        for (int j = 0; j < nd->n_params; j++) {
            if (nd->params[j].sym >= 0 && to[nd->params[j].sym] < 0) nd->params[j] = ir_dim_const(0);
            remap(&nd->params[j], to);
        }
        /* symbolic contents are inference's business; after ordering nobody reads them */
    }
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i]) {
            g->values[i]->sval = NULL;
            g->values[i]->n_sval = 0;
        }
    memcpy(g->syms, names, sizeof(char *) * (size_t)k);
    memcpy(g->symdefs, defs, sizeof(ir_sym_t) * (size_t)k);
    g->n_syms = k;
    g->n_caller_syms = 0;
    while (g->n_caller_syms < k && ir_sym_is_caller(&g->symdefs[g->n_caller_syms])) g->n_caller_syms++;
    /* Names again, in order: a derived symbol is named by its expression over the names
     * before it, or t1, t2, ... when that is long (ir_sym_def_str gives its definition). */
    int nt = 0;
    for (int i = g->n_caller_syms; i < k; i++) {
        char text[256];
        def_text(g, &g->symdefs[i], text, sizeof text);
        if (strlen(text) > 40) snprintf(text, sizeof text, "t%d", ++nt);
        const char *nm = ir_arena_strdup(&g->arena, text);
        if (nm) g->syms[i] = nm;
    }
    g->syms_frozen = true;
    free(used);
    free(to);
    free(names);
    free(defs);
    return 0;
}

bool ir_sym_is_short_name(const ir_graph_t *g, int s) {
    if (s < g->n_caller_syms || s >= g->n_syms) return false;
    const char *nm = g->syms[s];
    if (nm[0] != 't' || !nm[1]) return false;
    for (const char *p = nm + 1; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

void ir_sym_def_str(const ir_graph_t *g, int s, char *buf, size_t n) {
    if (!n) return;
    buf[0] = 0;
    if (s < 0 || s >= g->n_syms || ir_sym_is_caller(&g->symdefs[s])) return;
    def_text(g, &g->symdefs[s], buf, n);
}
