/* Reference evaluations of the normalisations (LayerNormalization, RMSNormalization,
 * InstanceNormalization, GroupNormalization, LpNormalization), the two losses
 * (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss) and Einsum. Semantics follow the
 * LLVM lowerings (backends/llvm/lower_nn.c, lower_lp.c, lower_einsum.c) so a folded
 * constant equals what the kernel would have computed: statistics in double (the mean
 * first, then the centred squares), out-of-range loss targets clamped as the kernel does.
 * All float math is in double and stored in the output dtype. Each evaluation is bounded
 * by EVAL_MAX_MACS elementary steps: a large constant normalisation is better left to
 * the generated kernel than to a slow compile. */
#include "passes/eval_int.h"

/* Mean and 1/sqrt(var + eps) of the L elements of x at base + l * step, as row_moments in
 * lower_nn.c computes them; rms takes the mean as 0 (RMSNormalization). */
static void moments(const ir_value_t *x, int64_t base, int64_t L, double eps, bool rms, double *mean, double *inv) {
    double m = 0, acc = 0;
    if (!rms) {
        for (int64_t l = 0; l < L; l++) m += ld_f(x->dtype, x->data, base + l);
        m /= (double)L;
    }
    for (int64_t l = 0; l < L; l++) {
        double v = ld_f(x->dtype, x->data, base + l) - m;
        acc += v * v;
    }
    *mean = m;
    *inv = 1.0 / sqrt(acc / (double)L + eps);
}

/* ---------------------------------------------------------------- LayerNorm, RMSNorm */
/* Rows are the trailing dims from axis on; Scale (and B) broadcast over them. The
 * optional Mean / InvStdDev outputs (stash_type, shape with the normalised dims 1) are
 * produced too, so a node that exports them still folds whole. */
static int layer_norm(ir_graph_t *g, ir_node_t *n, res_t *r, bool rms) {
    sh_t s, ss, sb = {0, {0}};
    if (!in_const(n, 0, &s) || !in_const(n, 1, &ss)) return 0;
    const ir_value_t *x = n->in[0], *sc = n->in[1], *bi = !rms && n->n_in > 2 ? n->in[2] : NULL;
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t) || sc->dtype != t) return 0;
    if (bi && (!in_const(n, 2, &sb) || bi->dtype != t)) return 0;
    int64_t a = ir_attr_int(n, "axis", -1);
    int ax;
    if (ir_norm_axis(a, s.r, &ax)) return ir_error(g, n, "axis %lld is out of range", (long long)a);
    sh_t bo;
    if (ss.r > s.r - ax || !bcast_shape(&ss, &s, &bo) || memcmp(bo.d, s.d, sizeof(int64_t) * (size_t)s.r))
        return ir_error(g, n, "Scale does not broadcast to the normalised dims");
    if (bi && (sb.r > s.r - ax || !bcast_shape(&sb, &s, &bo) || memcmp(bo.d, s.d, sizeof(int64_t) * (size_t)s.r)))
        return ir_error(g, n, "B does not broadcast to the normalised dims");
    int64_t L = 1, outer = 1;
    for (int i = 0; i < s.r; i++) *(i < ax ? &outer : &L) *= s.d[i];
    if (!work_ok(outer * L, 4) || !res_alloc(g, &r[0], t, &s)) return 0;
    /* the statistics: one per row, in stash_type */
    bool stats = !rms && ((n->n_out > 1 && n->out[1]) || (n->n_out > 2 && n->out[2]));
    if (stats) {
        ir_dtype_t st = (ir_dtype_t)ir_attr_int(n, "stash_type", IR_F32);
        if (st != IR_F32 && st != IR_F64) return 0;
        sh_t ms = s;
        for (int i = ax; i < ms.r; i++) ms.d[i] = 1;
        for (int k = 1; k < 3; k++)
            if (n->n_out > k && n->out[k] && !res_alloc(g, &r[k], st, &ms)) return 0;
    }
    /* r[k] beyond the node's outputs is not cleared by the caller: read it only inside */
    res_t *mo = n->n_out > 1 && r[1].buf ? &r[1] : NULL, *io = n->n_out > 2 && r[2].buf ? &r[2] : NULL;
    int64_t sst[IR_MAX_RANK], bst[IR_MAX_RANK];
    bcast_strides(&ss, &s, sst);
    if (bi) bcast_strides(&sb, &s, bst);
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    for (int64_t o = 0; o < outer; o++) {
        double mean, inv;
        moments(x, o * L, L, eps, rms, &mean, &inv);
        if (mo) st_f(mo->dt, mo->buf, o, mean);
        if (io) st_f(io->dt, io->buf, o, inv);
        for (int64_t l = 0; l < L; l++) {
            int64_t i = o * L + l;
            double v = (ld_f(t, x->data, i) - mean) * inv * ld_f(t, sc->data, offset_of(&s, i, sst));
            if (bi) v += ld_f(t, bi->data, offset_of(&s, i, bst));
            st_f(t, r[0].buf, i, v);
        }
    }
    return 1;
}

int eval_layer_norm(ir_graph_t *g, ir_node_t *n, res_t *r) { return layer_norm(g, n, r, false); }
int eval_rms_norm(ir_graph_t *g, ir_node_t *n, res_t *r) { return layer_norm(g, n, r, true); }

/* ---------------------------------------------------------------- Instance/GroupNorm */
/* Over N x C x ...: a group of one sample is contiguous, so each (n, group) is one row of
 * C/G * spatial elements (lw_lower_group_norm). Scale/B have C elements, or G for
 * GroupNormalization-18's per-group form; InstanceNormalization is G = C. */
int eval_group_norm(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, ss, sb;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &ss) || !in_const(n, 2, &sb) || s.r < 3) return 0;
    const ir_value_t *x = n->in[0], *sc = n->in[1], *bi = n->in[2];
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t) || sc->dtype != t || bi->dtype != t) return 0;
    int64_t N = s.d[0], C = s.d[1], G = ir_attr_int(n, "num_groups", C), S = 1;
    if (G < 1 || C % G) return ir_error(g, n, "num_groups %lld does not divide %lld channels", (long long)G, (long long)C);
    for (int i = 2; i < s.r; i++) S *= s.d[i];
    int64_t ms = sh_numel(&ss), mb = sh_numel(&sb);
    if ((ms != C && ms != G) || (mb != C && mb != G))
        return ir_error(g, n, "scale and bias must have %lld elements", (long long)C);
    bool per_group = ms == G && G != C;
    int64_t Cg = C / G, L = Cg * S;
    if (!work_ok(N * C * S, 4) || !res_alloc(g, r, t, &s)) return 0;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    for (int64_t row = 0; row < N * G; row++) {
        int64_t grp = row % G, base = row * L;
        double mean, inv;
        moments(x, base, L, eps, false, &mean, &inv);
        for (int64_t l = 0; l < L; l++) {
            int64_t ch = per_group ? grp : grp * Cg + l / S;
            double v = (ld_f(t, x->data, base + l) - mean) * inv;
            st_f(t, r->buf, base + l, v * ld_f(t, sc->data, ch) + ld_f(t, bi->data, ch));
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- LpNormalization */
/* x / ||x||_p along axis, p 1 or 2 (the kernel's only ones; another p is left to the
 * lowering to refuse). A zero norm gives 0, not NaN, as the ONNX reference does. */
int eval_lp_norm(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    int64_t p = ir_attr_int(n, "p", 2), a = ir_attr_int(n, "axis", -1);
    if (!ir_dtype_is_float(t) || (p != 1 && p != 2)) return 0;
    int ax;
    if (ir_norm_axis(a, s.r, &ax)) return ir_error(g, n, "axis %lld is out of range", (long long)a);
    int64_t outer = 1, L = s.d[ax], inner = 1;
    for (int i = 0; i < ax; i++) outer *= s.d[i];
    for (int i = ax + 1; i < s.r; i++) inner *= s.d[i];
    if (!work_ok(outer * L * inner, 2) || !res_alloc(g, r, t, &s)) return 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * L * inner + in;
            double sum = 0;
            for (int64_t l = 0; l < L; l++) {
                double v = ld_f(t, x->data, base + l * inner);
                sum += p == 1 ? fabs(v) : v * v;
            }
            double norm = p == 1 ? sum : sqrt(sum);
            for (int64_t l = 0; l < L; l++) {
                int64_t i = base + l * inner;
                st_f(t, r->buf, i, norm == 0 ? 0.0 : ld_f(t, x->data, i) / norm);
            }
        }
    return 1;
}

/* ---------------------------------------------------------------- NLL / SCE losses */
/* Input [N, C, d...], target [N, d...]; SCE takes the log-softmax over C first (and may
 * output it as log_prob). As lower_loss: a target equal to ignore_index weighs 0, any
 * other is clamped into [0, C); 'mean' divides by the summed weights (0/0 is NaN, as
 * in the kernel, when every target is ignored). */
static int loss(ir_graph_t *g, ir_node_t *n, res_t *r, bool sce) {
    sh_t s, ts, ws;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &ts) || s.r < 2 || ts.r != s.r - 1) return 0;
    const ir_value_t *x = n->in[0], *tg = n->in[1], *w = n->n_in > 2 ? n->in[2] : NULL;
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t) || (tg->dtype != IR_I32 && tg->dtype != IR_I64)) return 0;
    for (int d = 0; d < ts.r; d++)
        if (ts.d[d] != s.d[d ? d + 1 : 0]) return ir_error(g, n, "target shape does not match the input");
    int64_t N = s.d[0], C = s.d[1], S = 1;
    for (int d = 2; d < s.r; d++) S *= s.d[d];
    if (w && (!in_const(n, 2, &ws) || w->dtype != t || sh_numel(&ws) != C)) return 0;
    const char *red = ir_attr_str(n, "reduction", "mean");
    bool none = !strcmp(red, "none"), mean = !strcmp(red, "mean");
    if (!none && !mean && strcmp(red, "sum")) return 0;
    const ir_attr_t *ig = ir_attr_find(n, "ignore_index");
    bool has_ig = ig && ig->kind == IR_ATTR_INT;
    if (!work_ok(N * C * S, 4)) return 0;
    sh_t scalar = {0, {0}};
    if (!res_alloc(g, &r[0], t, none ? &ts : &scalar)) return 0;
    bool lp = sce && n->n_out > 1 && n->out[1];
    if (lp && !res_alloc(g, &r[1], t, &s)) return 0;
    double acc = 0, accw = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t q = 0; q < S; q++) {
            int64_t toff = b * S + q, tv = ld_i(tg->dtype, tg->data, toff);
            bool ign = has_ig && tv == ig->i;
            int64_t tc = ign ? 0 : tv < 0 ? 0 : tv > C - 1 ? C - 1 : tv;
#define XOFF(c) (((b) * C + (c)) * S + q)
            double val = ld_f(t, x->data, XOFF(tc));
            if (sce) {
                double m = -INFINITY, se = 0;
                for (int64_t c = 0; c < C; c++) m = fmax(m, ld_f(t, x->data, XOFF(c)));
                for (int64_t c = 0; c < C; c++) se += exp(ld_f(t, x->data, XOFF(c)) - m);
                double lse = m + log(se);
                if (lp)
                    for (int64_t c = 0; c < C; c++) st_f(t, r[1].buf, XOFF(c), ld_f(t, x->data, XOFF(c)) - lse);
                val -= lse;
            }
#undef XOFF
            double wv = ign ? 0.0 : w ? ld_f(t, w->data, tc) : 1.0, l = -(val * wv);
            if (none) {
                st_f(t, r[0].buf, toff, l);
            } else {
                acc += l;
                accw += wv;
            }
        }
    if (!none) st_f(t, r[0].buf, 0, mean ? acc / accw : acc);
    return 1;
}

int eval_nll_loss(ir_graph_t *g, ir_node_t *n, res_t *r) { return loss(g, n, r, false); }
int eval_sce_loss(ir_graph_t *g, ir_node_t *n, res_t *r) { return loss(g, n, r, true); }

/* ---------------------------------------------------------------- Einsum */
/* The general loop of lower_einsum.c: for every output element, sum over the labels the
 * output lacks the product of one element of each input. A label repeated in one input
 * (a diagonal) indexes several of its axes with one value; an ellipsis axis of extent 1
 * broadcasts. Float in double; integers wrap like an accumulator in the output dtype
 * (two's complement sums and products agree modulo 2^bits). */
int eval_einsum(ir_graph_t *g, ir_node_t *n, res_t *r) {
    int ni = n->n_in;
    if (ni < 1 || ni > IR_EINSUM_MAX_IN) return 0;
    sh_t s[IR_EINSUM_MAX_IN];
    for (int i = 0; i < ni; i++)
        if (!in_const(n, i, &s[i]) || n->in[i]->dtype != n->in[0]->dtype) return 0;
    ir_dtype_t t = n->in[0]->dtype;
    if (t == IR_BOOL) return 0;
    ir_einsum_t e;
    if (ir_einsum_parse(g, n, &e)) return -1;
    bool in_out[IR_EINSUM_MAX_LABELS] = {false}, used[IR_EINSUM_MAX_LABELS] = {false};
    int64_t ext[IR_EINSUM_MAX_LABELS];
    for (int l = 0; l < e.n_labels; l++) {
        if (!ir_dim_is_const(e.size[l]) || e.size[l].v < 0) return 0;
        ext[l] = e.size[l].v;
    }
    sh_t o = {e.out_rank, {0}};
    for (int j = 0; j < e.out_rank; j++) {
        in_out[e.out_lab[j]] = true;
        o.d[j] = ext[e.out_lab[j]];
    }
    for (int i = 0; i < ni; i++)
        for (int a = 0; a < e.rank[i]; a++) used[e.lab[i][a]] = true;
    int sum_lab[IR_EINSUM_MAX_LABELS], nsum = 0;
    int64_t inner = 1;
    for (int l = 0; l < e.n_labels; l++)
        if (used[l] && !in_out[l]) {
            sum_lab[nsum++] = l;
            if (!work_ok(inner, ext[l])) return 0;
            inner *= ext[l];
        }
    int64_t on = sh_numel(&o);
    if (on < 0 || !work_ok(on, inner) || !work_ok(on * inner, ni)) return 0;
    if (!res_alloc(g, r, t, &o)) return 0;
    /* per input, each label's stride (summed over a diagonal's axes; 0 for a broadcast
     * ellipsis axis of extent 1) */
    int64_t lst[IR_EINSUM_MAX_IN][IR_EINSUM_MAX_LABELS];
    memset(lst, 0, sizeof lst);
    for (int i = 0; i < ni; i++) {
        int64_t st[IR_MAX_RANK];
        row_strides(&s[i], st);
        for (int a = 0; a < e.rank[i]; a++)
            if (s[i].d[a] != 1) lst[i][e.lab[i][a]] += st[a];
    }
    bool fl = ir_dtype_is_float(t);
    int64_t lv[IR_EINSUM_MAX_LABELS];
    for (int64_t oi = 0; oi < on; oi++) {
        memset(lv, 0, sizeof lv);
        int64_t rem = oi;
        for (int j = e.out_rank - 1; j >= 0; j--) {
            lv[e.out_lab[j]] = o.d[j] ? rem % o.d[j] : 0;
            rem = o.d[j] ? rem / o.d[j] : 0;
        }
        double facc = 0;
        uint64_t iacc = 0;
        for (int64_t q = 0; q < inner; q++) {
            rem = q;
            for (int k = nsum - 1; k >= 0; k--) {
                lv[sum_lab[k]] = rem % ext[sum_lab[k]];
                rem /= ext[sum_lab[k]];
            }
            double fp = 1;
            uint64_t ip = 1;
            for (int i = 0; i < ni; i++) {
                int64_t off = 0;
                for (int l = 0; l < e.n_labels; l++) off += lv[l] * lst[i][l];
                if (fl) fp *= ld_f(t, n->in[i]->data, off);
                else ip *= (uint64_t)ld_i(t, n->in[i]->data, off);
            }
            facc += fp;
            iacc += ip;
        }
        if (fl) st_f(t, r->buf, oi, facc);
        else st_i(t, r->buf, oi, (int64_t)iacc);
    }
    return 1;
}
