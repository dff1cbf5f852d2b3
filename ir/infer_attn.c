/* Inference for the attention family (Attention, RotaryEmbedding). Both are expanded into
 * existing ops once their inputs are inferred (passes/expand.c), so these rules are also
 * the expansion's contract: the shapes the expanded nodes must reproduce. */
#include "ir/infer_int.h"

/* Q, K, V of Attention in the 4-D view [batch, heads, seq, head_size], from 4-D inputs or
 * from 3-D [batch, seq, heads * head_size] and the num_heads attributes. */
int ir_attention_dims(ir_graph_t *g, const ir_node_t *n, ir_attention_dims_t *a) {
    const ir_value_t *q = n->in[0], *k = n->in[1], *v = n->in[2];
    int r = q->shape.rank;
    memset(a, 0, sizeof *a);
    if ((r != 3 && r != 4) || k->shape.rank != r || v->shape.rank != r)
        return ir_error(g, n, "Q, K and V must all be 3-D or all 4-D, got %s, %s and %s", SHP(&q->shape),
                        SHP(&k->shape), SHP(&v->shape));
    a->rank = r;
    const ir_shape_t *qs = &q->shape, *ks = &k->shape, *vs = &v->shape;
    a->batch = qs->dims[0];
    if (!ir_dim_eq(ks->dims[0], a->batch) || !ir_dim_eq(vs->dims[0], a->batch))
        return ir_error(g, n, "Q, K and V differ in batch size: %s, %s, %s", SHP(qs), SHP(ks), SHP(vs));
    if (r == 4) {
        if (ir_attr_find(n, "q_num_heads") || ir_attr_find(n, "kv_num_heads")) {
            /* Attention-23/24 allowed them with 4-D inputs as long as they agree. */
            if (g->opset >= 25)
                return ir_error(g, n, "q_num_heads and kv_num_heads must not be given with 4-D inputs");
        }
        if (!ir_dim_is_const(qs->dims[1]) || !ir_dim_is_const(ks->dims[1]))
            return ir_error(g, n, "the head counts (dim 1 of Q and K) must be static, got %s and %s", SHP(qs),
                            SHP(ks));
        a->q_heads = qs->dims[1].v;
        a->kv_heads = ks->dims[1].v;
        a->q_seq = qs->dims[2];
        a->kv_seq = ks->dims[2];
        a->head = qs->dims[3];
        a->v_head = vs->dims[3];
        if (!ir_dim_eq(ks->dims[3], a->head))
            return ir_error(g, n, "Q and K differ in head size: %s and %s", SHP(qs), SHP(ks));
        if (!ir_dim_eq(vs->dims[1], ks->dims[1]) || !ir_dim_eq(vs->dims[2], ks->dims[2]))
            return ir_error(g, n, "K and V differ in heads or sequence length: %s and %s", SHP(ks), SHP(vs));
    } else {
        a->q_heads = ir_attr_int(n, "q_num_heads", 0);
        a->kv_heads = ir_attr_int(n, "kv_num_heads", 0);
        if (a->q_heads <= 0 || a->kv_heads <= 0)
            return ir_error(g, n, "3-D inputs need positive q_num_heads and kv_num_heads attributes");
        a->q_seq = qs->dims[1];
        a->kv_seq = ks->dims[1];
        if (!ir_dim_eq(vs->dims[1], a->kv_seq))
            return ir_error(g, n, "K and V differ in sequence length: %s and %s", SHP(ks), SHP(vs));
        const struct { const ir_shape_t *s; int64_t h; ir_dim_t *out; const char *what; } hs[] = {
            {qs, a->q_heads, &a->head, "Q"}, {ks, a->kv_heads, &a->k_head, "K"}, {vs, a->kv_heads, &a->v_head, "V"}};
        for (int i = 0; i < 3; i++)
            if (ir_dim_div_exact(g, hs[i].s->dims[2], ir_dim_const(hs[i].h), hs[i].out))
                return ir_error(g, n, "%s's hidden size %s is not a multiple of its %lld heads", hs[i].what,
                                SHP(hs[i].s), (long long)hs[i].h);
        if (!ir_dim_eq(a->k_head, a->head))
            return ir_error(g, n, "Q and K differ in head size: %s / %lld and %s / %lld", SHP(qs),
                            (long long)a->q_heads, SHP(ks), (long long)a->kv_heads);
    }
    if (a->q_heads % a->kv_heads)
        return ir_error(g, n, "q heads (%lld) must be a multiple of kv heads (%lld)", (long long)a->q_heads,
                        (long long)a->kv_heads);
    a->past = ir_dim_const(0);
    const ir_value_t *pk = n->n_in > 4 ? n->in[4] : NULL, *pv = n->n_in > 5 ? n->in[5] : NULL;
    if (!pk != !pv) return ir_error(g, n, "past_key and past_value must be given together");
    if (pk) {
        if (n->n_in > 6 && n->in[6])
            return ir_error(g, n, "nonpad_kv_seqlen cannot be combined with past_key/past_value");
        const ir_shape_t *ps = &pk->shape, *pvs = &pv->shape;
        if (ps->rank != 4 || pvs->rank != 4 || !ir_dim_eq(ps->dims[0], a->batch) ||
            !dim_is(ps->dims[1], a->kv_heads) || !ir_dim_eq(ps->dims[3], a->head) ||
            !ir_dim_eq(pvs->dims[0], a->batch) || !dim_is(pvs->dims[1], a->kv_heads) ||
            !ir_dim_eq(pvs->dims[2], ps->dims[2]) || !ir_dim_eq(pvs->dims[3], a->v_head))
            return ir_error(g, n, "past_key %s / past_value %s do not match [batch, kv_heads, past, head_size]",
                            SHP(ps), SHP(pvs));
        a->past = ps->dims[2];
    }
    if (ir_dim_add(g, a->past, a->kv_seq, &a->total)) return ir_error(g, n, "too many symbols");
    const ir_value_t *np = n->n_in > 6 ? n->in[6] : NULL;
    if (np && (np->shape.rank != 1 || !ir_dim_eq(np->shape.dims[0], a->batch)))
        return ir_error(g, n, "nonpad_kv_seqlen must be [batch], got %s", SHP(&np->shape));
    return 0;
}

int ir_infer_attention(ir_graph_t *g, ir_node_t *n) {
    ir_attention_dims_t a;
    const ir_value_t *q = n->in[0];
    if (ir_attention_dims(g, n, &a)) return -1;
    if (n->in[1]->dtype != q->dtype || (n->n_in > 4 && n->in[4] && n->in[4]->dtype != q->dtype))
        return ir_error(g, n, "Q, K and past_key must have one dtype");
    ir_dtype_t vt = n->in[2]->dtype;
    if (n->n_in > 5 && n->in[5] && n->in[5]->dtype != vt) return ir_error(g, n, "V and past_value must have one dtype");
    int64_t mode = ir_attr_int(n, "qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3) return ir_error(g, n, "qk_matmul_output_mode must be 0 to 3, got %lld", (long long)mode);
    int64_t lw = ir_attr_int(n, "left_window_size", -1), rw = ir_attr_int(n, "right_window_size", -1);
    if (lw < -1 || rw < -1) return ir_error(g, n, "window sizes must be -1 or nonnegative");
    const ir_value_t *m = n->n_in > 3 ? n->in[3] : NULL;
    if (m) {
        if (m->shape.rank < 1 || m->shape.rank > 4)
            return ir_error(g, n, "attn_mask must have rank 1 to 4, got %s", SHP(&m->shape));
        if (m->dtype != IR_BOOL && !ir_dtype_is_float(m->dtype))
            return ir_error(g, n, "attn_mask must be bool or floating point, got %s", ir_dtype_name(m->dtype));
    }
    ir_shape_t y = {.rank = a.rank};
    y.dims[0] = a.batch;
    if (a.rank == 4) {
        y.dims[1] = ir_dim_const(a.q_heads);
        y.dims[2] = a.q_seq;
        y.dims[3] = a.v_head;
    } else {
        y.dims[1] = a.q_seq;
        if (ir_dim_mul(g, a.v_head, ir_dim_const(a.q_heads), &y.dims[2])) return ir_error(g, n, "too many symbols");
    }
    set_out(n, 0, vt, &y);
    ir_shape_t pk = {.rank = 4, .dims = {a.batch, ir_dim_const(a.kv_heads), a.total, a.head}};
    ir_shape_t pv = {.rank = 4, .dims = {a.batch, ir_dim_const(a.kv_heads), a.total, a.v_head}};
    ir_shape_t qk = {.rank = 4, .dims = {a.batch, ir_dim_const(a.q_heads), a.q_seq, a.total}};
    set_out(n, 1, q->dtype, &pk);
    set_out(n, 2, vt, &pv);
    set_out(n, 3, q->dtype, &qk);
    return 0;
}

/* RotaryEmbedding: X is [batch, heads, seq, head] or [batch, seq, heads * head]; the
 * caches are [max_pos, rot/2] with position_ids [batch, seq], else [batch, seq, rot/2]. */
int ir_infer_rotary(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *c = n->in[1], *s = n->in[2], *p = n->n_in > 3 ? n->in[3] : NULL;
    int r = x->shape.rank;
    if (r != 3 && r != 4) return ir_error(g, n, "input must be 3-D or 4-D, got %s", SHP(&x->shape));
    if (c->dtype != x->dtype || s->dtype != x->dtype)
        return ir_error(g, n, "cos_cache and sin_cache must have the input's dtype %s", ir_dtype_name(x->dtype));
    ir_dim_t head;
    if (r == 4) {
        head = x->shape.dims[3];
    } else {
        int64_t h = ir_attr_int(n, "num_heads", 0);
        if (h <= 0) return ir_error(g, n, "3-D input needs a positive num_heads attribute");
        if (ir_dim_div_exact(g, x->shape.dims[2], ir_dim_const(h), &head))
            return ir_error(g, n, "hidden size of %s is not a multiple of num_heads %lld", SHP(&x->shape), (long long)h);
    }
    if (!ir_dim_is_const(head)) return ir_error(g, n, "the head size must be static, got %s", SHP(&x->shape));
    int64_t rot = ir_attr_int(n, "rotary_embedding_dim", 0);
    if (rot == 0) rot = head.v;
    if (rot < 0 || rot > head.v || rot % 2)
        return ir_error(g, n, "rotary_embedding_dim %lld must be even and at most the head size %lld", (long long)rot,
                        (long long)head.v);
    int cr = p ? 2 : 3;
    if (c->shape.rank != cr || s->shape.rank != cr || !dim_is(c->shape.dims[cr - 1], rot / 2) ||
        !dim_is(s->shape.dims[cr - 1], rot / 2))
        return ir_error(g, n, "cos_cache %s and sin_cache %s must be %s with last dim %lld", SHP(&c->shape),
                        SHP(&s->shape), p ? "[max_position, rot/2]" : "[batch, seq, rot/2]", (long long)(rot / 2));
    if (p && p->shape.rank != 2) return ir_error(g, n, "position_ids must be [batch, seq], got %s", SHP(&p->shape));
    set_out(n, 0, x->dtype, &x->shape);
    return 0;
}

/* CausalConvWithState: input [B, C, L], weight [C, 1, k], bias [C], past_state [B, C, k-1];
 * output [B, C, L], present_state [B, C, k-1]. */
int ir_infer_causal_conv(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    const ir_value_t *past = n->n_in > 3 ? n->in[3] : NULL;
    const char *act = ir_attr_str(n, "activation", "none");
    if (strcmp(act, "none") && strcmp(act, "silu") && strcmp(act, "swish"))
        return ir_error(g, n, "activation '%s' is not one of none, silu, swish", act);
    if (x->shape.rank != 3 || w->shape.rank != 3)
        return ir_error(g, n, "input %s and weight %s must be rank 3", SHP(&x->shape), SHP(&w->shape));
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->dtype != x->dtype) return ir_error(g, n, "all inputs must have the input's dtype");
    ir_dim_t b = x->shape.dims[0], c = x->shape.dims[1], k = w->shape.dims[2];
    if (!ir_dim_is_const(k) || k.v < 1) return ir_error(g, n, "the kernel size (weight dim 2) must be static and positive");
    if (!ir_dim_eq(w->shape.dims[0], c) || !dim_is(w->shape.dims[1], 1))
        return ir_error(g, n, "weight %s must be [channels, 1, k] for input %s", SHP(&w->shape), SHP(&x->shape));
    if (bias && (bias->shape.rank != 1 || !ir_dim_eq(bias->shape.dims[0], c)))
        return ir_error(g, n, "bias %s must be [channels]", SHP(&bias->shape));
    ir_shape_t st = {.rank = 3, .dims = {b, c, ir_dim_const(k.v - 1)}};
    if (past && (past->shape.rank != 3 || !ir_dim_eq(past->shape.dims[0], b) || !ir_dim_eq(past->shape.dims[1], c) ||
                 !dim_is(past->shape.dims[2], k.v - 1)))
        return ir_error(g, n, "past_state %s must be %s", SHP(&past->shape), SHP(&st));
    set_out(n, 0, x->dtype, &x->shape);
    set_out(n, 1, x->dtype, &st);
    return 0;
}
