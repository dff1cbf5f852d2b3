/* Target descriptions and the schedule's printer (the decisions are in passes/schedule.c). */
#include "ir/sched.h"

#include <stdio.h>
#include <string.h>

/* Typical of the x86-64 cores we run on (Zen 3: 32 KiB L1d, 512 KiB L2); a cross
 * compile for a named CPU has nothing better to go on. */
#define DEFAULT_L1 (32 * 1024)
#define DEFAULT_L2 (512 * 1024)

void ir_target_generic(ir_target_t *t) {
    memset(t, 0, sizeof *t);
    t->kind = IR_TARGET_CPU;
    t->name = "generic";
    t->vec_bytes = 16;
    t->vec_lanes = 4;
    t->vec_regs = 16;
    t->l1_bytes = DEFAULT_L1;
    t->l2_bytes = DEFAULT_L2;
}

void ir_target_cpu(ir_target_t *t, unsigned vector_bits, int64_t l1_bytes, int64_t l2_bytes, int threads) {
    ir_target_generic(t);
    if (vector_bits >= 512) {
        t->name = "avx512";
        t->vec_bytes = 64;
        t->vec_regs = 32;
    } else if (vector_bits >= 256) {
        t->name = "avx2";
        t->vec_bytes = 32;
    }
    t->vec_lanes = t->vec_bytes / 4;
    if (l1_bytes > 0) t->l1_bytes = l1_bytes;
    if (l2_bytes > 0) t->l2_bytes = l2_bytes;
    if (threads > 0) t->threads = threads;
}

void ir_target_print(const ir_target_t *t, void *file) {
    FILE *f = file;
    if (!t) {
        fputs("target: none", f);
        return;
    }
    fprintf(f, "target: %s %s, %d-byte vectors (%d float32 lanes), %d vector registers, L1 %lld KiB, L2 %lld KiB, ",
            t->kind == IR_TARGET_GPU ? "gpu" : "cpu", t->name ? t->name : "?", t->vec_bytes, t->vec_lanes,
            t->vec_regs, (long long)(t->l1_bytes / 1024), (long long)(t->l2_bytes / 1024));
    if (t->threads > 0)
        fprintf(f, "%d threads", t->threads);
    else
        fputs("threads decided at run time", f);
}

void ir_sched_print(const ir_graph_t *g, const ir_node_t *n, void *file) {
    FILE *f = file;
    const ir_sched_t *s = n->sched;
    if (!s) {
        fputs("sched: none", f);
        return;
    }
    char sb[256];
    ir_shape_str(g, &s->space, sb, sizeof sb);
    fprintf(f, "sched: %s space %s", ir_kclass_name(s->cls), sb);
    if (!s->tiled) {
        if (s->par_axis >= 0)
            fprintf(f, " par axis %d", s->par_axis);
        else
            fputs(" serial", f);
        return;
    }
    const ir_sched_tiles_t *t = &s->tiles;
    fputs(" par tasks ", f);
    if (t->nb > 0) fprintf(f, "batch axes [0,%d) x ", t->nb);
    fprintf(f, "%lld col-groups x %lld row-blocks", (long long)t->ngroups, (long long)t->mblocks);
    if (t->m >= 0)
        fprintf(f, "; gemm M=%lld", (long long)t->m);
    else
        fputs("; gemm M=?", f);
    fprintf(f, " N=%lld K=%lld tiles mr=%d nr=%d (vl %d) kc=%d nt=%d", (long long)t->n, (long long)t->k, t->mr,
            t->nr, t->vl, t->kc, t->nt);
    switch (t->bform) {
    case IR_SCHED_B_DIRECT: fputs(" B=direct", f); break;
    case IR_SCHED_B_IM2COL: fputs(" B=im2col", f); break;
    case IR_SCHED_B_PACKED: {
        const ir_sched_pack_t *p = &t->pack;
        fprintf(f, " B=packed $%s [%lld panels][K=%lld][nr=%d] from $%s%s", p->packed ? p->packed->name : "?",
                (long long)p->npanels, (long long)p->kblock, p->nr, p->src ? p->src->name : "?",
                p->trans ? " (transposed)" : "");
        break;
    }
    }
}
