/* The schedule pass: for every live node, its kernel class, iteration space, parallel
 * axis and, for contractions taken by the register-tiled micro-kernel, the tile sizes
 * (from the target description in g->target) and a prepacked copy of a constant B.
 *
 * Packing here rather than in a backend is what keeps a weight in the binary once: the
 * packed constant replaces the original as the node's input, so the memory planner
 * (which places only constants a live node reads) drops the original unless something
 * else still reads it, and the kernel addresses the panels in the one weights blob.
 *
 * The acceptance tests below mirror what the micro-kernel can lower; a node they accept
 * must be lowered by it (a packed B cannot be read by a generic loop nest), so the
 * backend trusts sched->tiled rather than re-deciding. */
#include <stdlib.h>
#include <string.h>

#include "ir/sched.h"
#include "passes/passes.h"

/* Register tile: MR rows x 2 vectors of accumulators. 6 rows is what the 16 registers of
 * AVX2 hold (12 accumulators + 2 B vectors + 1 broadcast A) and the most we measured
 * (the 6x16 kernel ran at 93% of a Zen 3 core's peak); 32 registers would allow more,
 * unmeasured, so MR stays at 6 until someone times it on an AVX-512 machine. */
#define NRV 2
#define MR_MAX 6
#define KC_MIN 16
#define KC_MAX 128         /* measured on Zen 3; 256 was no faster and doubles the im2col panel */
#define GROUP_COLS_MAX 64  /* measured; wider groups were not faster on Zen 3 */
#define MIN_TASKS 4        /* split M too when (batch x groups) gives fewer tasks */
#define VL_MAX 16          /* the kernel builds lane masks of at most 16 */

/* The first dim that is not a constant 1 (every dim before it is 1), or -1. */
static int first_nonunit(const ir_shape_t *s) {
    for (int d = 0; d < s->rank; d++)
        if (!(s->dims[d].sym < 0 && s->dims[d].v == 1)) return d;
    return -1;
}

/* ---------------------------------------------------------------- contractions */
static bool st(const ir_value_t *v, int d) { return d >= 0 && d < v->shape.rank && v->shape.dims[d].sym < 0; }

/* The micro-kernel computes in float32 and fuses every post-op but a dtype change. */
static bool all_f32(const ir_node_t *n) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->dtype != IR_F32) return false;
    for (int i = 0; i < n->n_post; i++) {
        if (!n->post[i].node) return false;   /* a Cast */
        if (n->post[i].other && n->post[i].other->dtype != IR_F32) return false;
    }
    return n->n_out >= 1 && n->out[0] && n->out[0]->dtype == IR_F32;
}

/* What the micro-kernel needs to know of a contraction before tiling it. */
typedef struct contraction {
    int64_t m, n, k;
    int nb;
    ir_sched_bform_t bform;
    const ir_value_t *pack_src;  /* constant B to pack, or NULL */
    bool pack_trans;
} contraction_t;

static bool packable(const ir_value_t *b, int64_t k, int64_t n) {
    return b && b->data && b->dtype == IR_F32 && b->data_size == (size_t)(k * n) * sizeof(float);
}

static bool gemm_shape(const ir_node_t *n, contraction_t *c) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    if (A->shape.rank != 2 || B->shape.rank != 2 || Y->shape.rank != 2) return false;
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    if (!st(Y, 1) || !st(A, ta ? 0 : 1)) return false;
    c->n = Y->shape.dims[1].v;
    c->k = A->shape.dims[ta ? 0 : 1].v;
    if (c->n < 1 || c->k < 1) return false;
    c->m = st(Y, 0) ? Y->shape.dims[0].v : -1;
    c->nb = 0;
    if (packable(B, c->k, c->n)) {
        c->pack_src = B;
        c->pack_trans = tb != 0;
        c->bform = IR_SCHED_B_PACKED;
        return true;
    }
    /* the kernel reads an unpacked B row-major only */
    c->bform = IR_SCHED_B_DIRECT;
    return !tb;
}

static bool matmul_shape(const ir_node_t *n, contraction_t *c) {
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
    if (ra < 1 || rb < 2 || ro < 1) return false;
    if (!st(A, ra - 1) || !st(B, rb - 1)) return false;
    c->k = A->shape.dims[ra - 1].v;
    c->n = B->shape.dims[rb - 1].v;
    if (c->n < 1 || c->k < 1) return false;
    c->nb = ro - (ra > 1) - 1;
    if (c->nb < 0) return false;
    c->m = ra == 1 ? 1 : st(A, ra - 2) ? A->shape.dims[ra - 2].v : -1;
    /* a constant B shared by every batch element is packed once */
    bool shared = true;
    for (int d = 0; d < rb - 2; d++) shared &= st(B, d) && B->shape.dims[d].v == 1;
    if (shared && packable(B, c->k, c->n)) {
        c->pack_src = B;
        c->bform = IR_SCHED_B_PACKED;
    } else {
        c->bform = IR_SCHED_B_DIRECT;
    }
    return true;
}

static bool conv_shape(const ir_node_t *n, contraction_t *c) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *y = n->out[0];
    int r = x->shape.rank, nsp = r - 2;
    if (nsp < 1 || nsp > 2 || w->shape.rank != r || y->shape.rank != r) return false;
    for (int d = 1; d < r; d++)
        if (!st(x, d) || !st(y, d) || !st(w, d)) return false;
    if (!st(w, 0) || ir_attr_int(n, "group", 1) != 1) return false;
    const int64_t *sv, *dv, *pv;
    int nst = ir_attr_ints(n, "strides", &sv), ndl = ir_attr_ints(n, "dilations", &dv), npd = ir_attr_ints(n, "pads", &pv);
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
    bool one = true;   /* 1x1, stride 1, no padding, output as large as the input */
    int64_t hw = 1, ohw = 1, kk = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->shape.dims[i + 2].v, out = y->shape.dims[i + 2].v, kern = w->shape.dims[i + 2].v;
        int64_t s = nst == nsp ? sv[i] : 1, dl = ndl == nsp ? dv[i] : 1;
        if (s < 1 || dl < 1) return false;
        int64_t pb = npd == 2 * nsp ? pv[i] : 0;
        if (same) {
            int64_t total = (out - 1) * s + (kern - 1) * dl + 1 - in;
            if (total < 0) total = 0;
            pb = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        } else if (strcmp(ap, "VALID") == 0) {
            pb = 0;
        }
        one &= kern == 1 && s == 1 && pb == 0 && out == in;
        hw *= in;
        ohw *= out;
        kk *= kern;
    }
    int64_t C = x->shape.dims[1].v;
    if (w->shape.dims[1].v != C || hw >= ((int64_t)1 << 30)) return false;
    c->n = ohw;
    c->k = C * kk;
    c->m = w->shape.dims[0].v;
    c->nb = 1;
    if (c->n < 1 || c->k < 1 || c->m < 1) return false;
    c->bform = one ? IR_SCHED_B_DIRECT : IR_SCHED_B_IM2COL;
    return true;
}

/* Tile sizes from the target, then the task split for this contraction. */
static void choose_tiles(const ir_target_t *t, const ir_shape_t *space, const contraction_t *c, ir_sched_tiles_t *ts) {
    memset(ts, 0, sizeof *ts);
    ts->m = c->m;
    ts->n = c->n;
    ts->k = c->k;
    ts->nb = c->nb;
    ts->bform = c->bform;
    ts->vl = t->vec_lanes < 1 ? 1 : t->vec_lanes > VL_MAX ? VL_MAX : t->vec_lanes;
    ts->nr = NRV * ts->vl;
    /* accumulators, the B vectors of one k step and the broadcast A must all stay in registers */
    int mr = (t->vec_regs - NRV - 1) / NRV;
    ts->mr = mr < 1 ? 1 : mr > MR_MAX ? MR_MAX : mr;
    /* the A sliver (mr x kc) and one B tile (kc x nr) share L1 with the accumulators' stores */
    int64_t kc = KC_MAX;
    while (kc > KC_MIN && kc * (ts->mr + ts->nr) * (int64_t)sizeof(float) > t->l1_bytes * 2 / 3) kc /= 2;
    ts->kc = (int)kc;
    /* a column group's B chunk (kc x nt*nr) is reused by every row tile: keep it in L2 */
    int64_t cols = t->l2_bytes / 16 / (kc * (int64_t)sizeof(float));
    if (cols > GROUP_COLS_MAX) cols = GROUP_COLS_MAX;
    ts->nt = (int)(cols / ts->nr);
    if (ts->nt < 1) ts->nt = 1;

    int64_t ntiles = (ts->n + ts->nr - 1) / ts->nr;
    if (ts->nt > ntiles) ts->nt = (int)ntiles;
    ts->ngroups = (ntiles + ts->nt - 1) / ts->nt;
    int min_tasks = t->threads > MIN_TASKS ? t->threads : MIN_TASKS;
    /* a symbolic batch is assumed to give enough tasks on its own */
    int64_t batch = 1;
    for (int d = 0; d < ts->nb; d++) batch = space->dims[d].sym >= 0 ? min_tasks : batch * space->dims[d].v;
    int64_t mtiles = ts->m >= 0 ? ts->m / ts->mr : 0;
    ts->mblocks = 1;
    ts->tpb = mtiles;
    /* batch 0 (an empty input, found by fuzz_compile) has nothing to split. */
    if (ts->m >= 0 && mtiles > 1 && batch > 0 && ts->ngroups > 0 && batch * ts->ngroups < min_tasks) {
        int64_t want = (min_tasks + batch * ts->ngroups - 1) / (batch * ts->ngroups);
        ts->tpb = (mtiles + want - 1) / want;
        ts->mblocks = (mtiles + ts->tpb - 1) / ts->tpb;
    }
}

/* ---------------------------------------------------------------- packing */
typedef struct pack_cache {
    ir_sched_pack_t *p;
    int n, cap;
} pack_cache_t;

/* B as [npanels][K][nr] panels, zero padded past N; B(k, j) = src[k*N + j], or
 * src[j*K + k] when trans. A constant packed the same way for two nodes is shared. */
static ir_value_t *pack_b(ir_graph_t *g, pack_cache_t *pc, ir_sched_tiles_t *ts, const ir_value_t *src, bool trans) {
    for (int i = 0; i < pc->n; i++) {
        ir_sched_pack_t *p = &pc->p[i];
        if (p->src == src && p->nr == ts->nr && p->trans == trans && p->kdim == ts->k && p->ndim == ts->n) {
            ts->pack = *p;
            return p->packed;
        }
    }
    int64_t K = ts->k, N = ts->n, nr = ts->nr, np = (N + nr - 1) / nr;
    ir_shape_t shape = {.rank = 3, .dims = {ir_dim_const(np), ir_dim_const(K), ir_dim_const(nr)}};
    char name[512];
    snprintf(name, sizeof name, "%s.packed%lld", src->name, (long long)nr);
    ir_value_t *v = ir_value_new(g, name, IR_F32, &shape);
    size_t bytes = (size_t)(np * K * nr) * sizeof(float);
    float *buf = v ? ir_arena_alloc(&g->arena, bytes) : NULL;   /* zeroed: the padding */
    if (!buf) return NULL;
    const float *s = src->data;
    for (int64_t jt = 0; jt < np; jt++)
        for (int64_t kk = 0; kk < K; kk++) {
            float *row = buf + (jt * K + kk) * nr;
            for (int64_t jj = 0; jj < nr && jt * nr + jj < N; jj++) {
                int64_t j = jt * nr + jj;
                row[jj] = trans ? s[j * K + kk] : s[kk * N + j];
            }
        }
    v->data = buf;
    v->data_size = bytes;
    ir_sched_pack_t p = {.src = (ir_value_t *)src, .packed = v, .nr = (int)nr, .kdim = K, .ndim = N,
                         .npanels = np, .kblock = K, .trans = trans};
    if (pc->n == pc->cap) {
        int nc = pc->cap ? pc->cap * 2 : 16;
        ir_sched_pack_t *q = realloc(pc->p, sizeof *q * (size_t)nc);
        if (!q) return NULL;
        pc->p = q;
        pc->cap = nc;
    }
    pc->p[pc->n++] = p;
    ts->pack = p;
    return v;
}

/* ---------------------------------------------------------------- the pass */
static const ir_target_t *target_of(ir_graph_t *g) {
    if (!g->target) {
        ir_target_t *t = ir_arena_alloc(&g->arena, sizeof *t);
        if (!t) return NULL;
        ir_target_generic(t);
        g->target = t;
    }
    return g->target;
}

static int schedule_node(ir_graph_t *g, ir_node_t *n, pack_cache_t *pc) {
    const ir_target_t *t = target_of(g);
    ir_sched_t *s = n->sched ? n->sched : ir_arena_alloc(&g->arena, sizeof *s);
    if (!t || !s) return ir_error(g, n, "out of memory");
    memset(s, 0, sizeof *s);
    n->sched = s;
    s->cls = ir_op_class(n->op);
    const ir_value_t *o = n->n_out > 0 ? n->out[0] : NULL;
    if (o)
        s->space = o->shape;
    else
        s->space.rank = -1;
    s->par_axis = first_nonunit(&s->space);
    /* of the contractions, the micro-kernel takes Gemm, MatMul and the convolutions, not
     * ConvTranspose (a scatter over the output) */
    bool mk = n->op != IR_OP_CONV_TRANSPOSE;
    /* A GPU target has no register-tiled micro-kernel: its contractions read their
     * operands where they lie (thread-block tiles are the CUDA backend's), so nothing is
     * tiled and no constant is packed. */
    if (t->kind == IR_TARGET_GPU) return 0;
    if (s->cls != IR_K_CONTRACT || !mk || !all_f32(n) || n->n_in < 2 || !n->in[0] || !n->in[1]) return 0;

    contraction_t c;
    memset(&c, 0, sizeof c);
    bool ok = n->op == IR_OP_GEMM ? gemm_shape(n, &c) : n->op == IR_OP_MATMUL ? matmul_shape(n, &c) : conv_shape(n, &c);
    if (!ok) return 0;
    s->tiled = true;
    s->par_axis = c.nb > 0 ? 0 : -1;
    choose_tiles(t, &s->space, &c, &s->tiles);
    if (c.pack_src && pc) {
        ir_value_t *pk = pack_b(g, pc, &s->tiles, c.pack_src, c.pack_trans);
        if (!pk) return ir_error(g, n, "out of memory packing '%s'", c.pack_src->name);
        n->in[1] = pk;
    } else if (c.pack_src) {
        /* no packing outside the pass (pass_schedule_node): read B where it lies, when it can */
        if (c.pack_trans) {
            memset(&s->tiles, 0, sizeof s->tiles);
            s->tiled = false;
            s->par_axis = first_nonunit(&s->space);
        } else {
            s->tiles.bform = IR_SCHED_B_DIRECT;
        }
    }
    return 0;
}

int pass_schedule_node(ir_graph_t *g, ir_node_t *n) { return schedule_node(g, n, NULL); }

int pass_schedule(ir_graph_t *g) {
    pack_cache_t pc = {0};
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++)
        if (!g->nodes[i]->dead) rc = schedule_node(g, g->nodes[i], &pc);
    free(pc.p);
    /* originals that only a packed node read have no uses left: the planner skips them */
    ir_graph_recount(g);
    return rc;
}
