/* Reference evaluation of DFT: the direct O(L^2) sum in double, the kernel's arithmetic
 * (backends/llvm/lower_signal.c). Angles are taken from (k * t) mod L so they stay exact
 * for long transforms. Forward: X[k] = sum_t x[t] e^{-2 pi i k t / L}; inverse: divided by
 * L with e^{+...}; inverse onesided (irfft) reads bins 0..L/2 as a Hermitian spectrum and
 * gives a real signal; forward onesided keeps bins 0..L/2. */
#include "passes/eval_int.h"

static const double TWO_PI = 6.283185307179586476925286766559;

int eval_dft(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    ir_dft_t p;
    if (ir_dft_params(g, n, &p)) return -1;
    const ir_value_t *x = n->in[0];
    sh_t o;
    if (!get_sh(&p.out, &o) || !res_alloc(g, r, x->dtype, &o) || !work_ok(r->numel, p.len)) return 0;
    int64_t ist[IR_MAX_RANK];
    row_strides(&s, ist);
    int last = o.r - 1, ci = p.complex_in ? 1 : 0;
    int64_t m = p.n < p.len ? p.n : p.len, L = p.len;
    bool irfft = p.inverse && p.onesided;
    for (int64_t e = 0; e < r->numel; e++) {
        /* input offset of this element's signal at index 0, and its frequency/time index */
        int64_t base = 0, rem = e, k = 0, comp = 0;
        for (int d = o.r - 1; d >= 0; d--) {
            int64_t i = rem % o.d[d];
            rem /= o.d[d];
            if (d == last) comp = i;
            else if (d == p.axis) k = i;
            else base += i * ist[d];
        }
        double acc = 0;
        int64_t nb = irfft ? (m < L / 2 + 1 ? m : L / 2 + 1) : m;
        for (int64_t t = 0; t < nb; t++) {
            double th = TWO_PI * (double)((k * t) % L) / (double)L, c = cos(th), sn = sin(th);
            double re = ld_f(x->dtype, x->data, base + t * ist[p.axis]);
            double im = ci ? ld_f(x->dtype, x->data, base + t * ist[p.axis] + 1) : 0;
            if (irfft) {
                double w = t == 0 || (L % 2 == 0 && t == L / 2) ? 1 : 2;
                acc += w * (re * c - im * sn);
            } else if (p.inverse) {
                acc += comp ? im * c + re * sn : re * c - im * sn;
            } else {
                acc += comp ? im * c - re * sn : re * c + im * sn;
            }
        }
        st_f(x->dtype, r->buf, e, p.inverse ? acc / (double)L : acc);
    }
    return 1;
}
