/* Reference evaluation of RNN, GRU and LSTM: the spec's equations over plain loops in
 * double, one (direction, batch row) at a time, in the same order as the LLVM kernel
 * (backends/llvm/lower_rnn.c): all gate pre-activations of a step from the previous
 * state, then the element-wise update. Time steps at or past a row's sequence_lens entry
 * leave the state alone and write zeros to Y; a reverse direction starts at the row's
 * last valid step. A row of length 0 has zero Y_h and Y_c (not its initial state), as in
 * onnxruntime. Work is bounded by EVAL_MAX_MACS multiply-adds. */
#include "ir/rnn.h"
#include "passes/eval_int.h"

static double clip_to(const ir_rnn_t *p, double x) {
    if (!p->has_clip) return x;
    return x < -p->clip ? -p->clip : x > p->clip ? p->clip : x;
}

static double act(const ir_rnn_t *p, int d, int j, double x) { return ir_rnn_act_eval(&p->act[d][j], clip_to(p, x)); }

int eval_rnn(ir_graph_t *g, ir_node_t *n, res_t *r) {
    ir_rnn_t p;
    sh_t s;
    if (ir_rnn_params(g, n, &p)) return -1;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && !in_const(n, i, &s)) return 0;
    if (!ir_dim_is_const(p.seq) || !ir_dim_is_const(p.batch)) return 0;
    const int64_t S = p.seq.v, B = p.batch.v, I = p.input, H = p.hidden, G = p.gates, ND = p.nd;
    int64_t work = 1;
    if (!work_mul(&work, ND) || !work_mul(&work, S) || !work_mul(&work, B) || !work_mul(&work, G * H) ||
        !work_mul(&work, I + H))
        return 0;
    const ir_value_t *X = n->in[0], *W = n->in[1], *R = n->in[2];
    const ir_value_t *Bv = n->n_in > 3 ? n->in[3] : NULL, *SL = n->n_in > 4 ? n->in[4] : NULL;
    const ir_value_t *H0 = n->n_in > 5 ? n->in[5] : NULL, *C0 = n->n_in > 6 ? n->in[6] : NULL;
    const ir_value_t *P = n->n_in > 7 ? n->in[7] : NULL;
    ir_dtype_t t = X->dtype;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k]) continue;
        sh_t o = {k == 0 ? 4 : 3, {0}};
        if (k == 0) {
            int64_t y[4] = {S, ND, B, H}, yb[4] = {B, S, ND, H};
            memcpy(o.d, p.layout ? yb : y, sizeof y);
        } else {
            int64_t st[3] = {ND, B, H}, sb[3] = {B, ND, H};
            memcpy(o.d, p.layout ? sb : st, sizeof st);
        }
        if (!res_alloc(g, &r[k], t, &o)) return 0;   /* arena memory comes zeroed: Y's padding */
    }
    double *buf = calloc((size_t)(H * (G + 3)), sizeof(double));
    if (!buf) return 0;
    double *h = buf, *c = h + H, *tmp = c + H, *gate = tmp + H;
#define LD(v, i) ld_f((v)->dtype, (v)->data, (i))
    for (int64_t d = 0; d < ND; d++) {
        bool rev = p.reverse || d == 1;
        const int64_t wo = d * G * H * I, ro = d * G * H * H, bo = d * 2 * G * H;
        for (int64_t b = 0; b < B; b++) {
            for (int64_t k = 0; k < H; k++) {
                int64_t so = ir_rnn_s_off(p.layout, ND, B, H, d, b, k);
                h[k] = H0 ? LD(H0, so) : 0;
                c[k] = C0 ? LD(C0, so) : 0;
            }
            int64_t len = SL ? ld_i(SL->dtype, SL->data, b) : S;
            len = len < 0 ? 0 : len > S ? S : len;
            for (int64_t step = 0; step < len; step++) {
                int64_t ti = rev ? len - 1 - step : step;
                for (int64_t j = 0; j < G * H; j++) {
                    /* GRU's h gate takes its recurrent term after the reset gate */
                    bool recur = !(p.kind == IR_RNN_GRU && j >= 2 * H);
                    double acc = Bv ? LD(Bv, bo + j) + (recur ? LD(Bv, bo + G * H + j) : 0) : 0;
                    for (int64_t i = 0; i < I; i++)
                        acc += LD(X, ir_rnn_x_off(p.layout, S, B, I, ti, b, i)) * LD(W, wo + j * I + i);
                    if (recur)
                        for (int64_t m = 0; m < H; m++) acc += h[m] * LD(R, ro + j * H + m);
                    gate[j] = acc;
                }
                if (p.kind == IR_RNN_SIMPLE) {
                    for (int64_t k = 0; k < H; k++) h[k] = act(&p, (int)d, 0, gate[k]);
                } else if (p.kind == IR_RNN_GRU) {
                    /* tmp: Rh.h + Rbh (linear_before_reset) or r * h */
                    for (int64_t k = 0; k < H; k++) {
                        if (p.lbr) {
                            double acc = Bv ? LD(Bv, bo + G * H + 2 * H + k) : 0;
                            for (int64_t m = 0; m < H; m++) acc += h[m] * LD(R, ro + (2 * H + k) * H + m);
                            tmp[k] = acc;
                        } else {
                            tmp[k] = act(&p, (int)d, 0, gate[H + k]) * h[k];
                        }
                    }
                    for (int64_t k = 0; k < H; k++) {
                        double z = act(&p, (int)d, 0, gate[k]), pre = gate[2 * H + k];
                        if (p.lbr) {
                            pre += act(&p, (int)d, 0, gate[H + k]) * tmp[k];
                        } else {
                            pre += Bv ? LD(Bv, bo + G * H + 2 * H + k) : 0;
                            for (int64_t m = 0; m < H; m++) pre += tmp[m] * LD(R, ro + (2 * H + k) * H + m);
                        }
                        double hh = act(&p, (int)d, 1, pre);
                        h[k] = (1 - z) * hh + z * h[k];
                    }
                } else {
                    for (int64_t k = 0; k < H; k++) {
                        double pi = P ? LD(P, d * 3 * H + k) : 0, po = P ? LD(P, d * 3 * H + H + k) : 0,
                               pf = P ? LD(P, d * 3 * H + 2 * H + k) : 0;
                        double ig = act(&p, (int)d, 0, gate[k] + pi * c[k]);
                        double fg = p.input_forget ? 1 - ig : act(&p, (int)d, 0, gate[2 * H + k] + pf * c[k]);
                        double cg = act(&p, (int)d, 1, gate[3 * H + k]);
                        c[k] = fg * c[k] + ig * cg;
                        double og = act(&p, (int)d, 0, gate[H + k] + po * c[k]);
                        h[k] = og * ir_rnn_act_eval(&p.act[d][2], c[k]);
                    }
                }
                if (r[0].buf)
                    for (int64_t k = 0; k < H; k++) st_f(t, r[0].buf, ir_rnn_y_off(p.layout, S, ND, B, H, ti, d, b, k), h[k]);
            }
            for (int64_t k = 0; k < H; k++) {
                int64_t so = ir_rnn_s_off(p.layout, ND, B, H, d, b, k);
                if (n->n_out > 1 && r[1].buf) st_f(t, r[1].buf, so, len ? h[k] : 0);
                if (n->n_out > 2 && r[2].buf) st_f(t, r[2].buf, so, len ? c[k] : 0);
            }
        }
    }
#undef LD
    free(buf);
    return 1;
}
