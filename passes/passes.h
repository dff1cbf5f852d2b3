/* onnxc passes: turn a loaded graph into the scheduled graph both backends read.
 *
 * The contract a backend relies on after pass_run_pipeline returns 0:
 *  - g->nodes holds only live nodes, in a valid execution order (ids = positions);
 *  - every value a live node reads or writes has its dtype and shape known;
 *  - storage: graph inputs IR_ST_INPUT (index = position in g->inputs), graph outputs
 *    IR_ST_OUTPUT (index = position in g->outputs, each written by exactly one node),
 *    constants a live node reads IR_ST_CONST (offset in the weights blob, 64-aligned,
 *    g->blob_size bytes in all), every other output of a live node IR_ST_WORKSPACE:
 *    offset >= 0 in the static region [0, g->ws_static), or offset == -1 and
 *    dyn_slot = k for symbolic-sized buffers, which the backend lays out one after
 *    another (64-aligned) after ws_static in slot order when a run starts;
 *  - fused epilogues are in node->post (see ir_postop_t); a post-op never changes the
 *    dtype of the running value, so out[0]->dtype is the dtype of every step;
 *  - every live node has a schedule (node->sched, ir/sched.h) made for g->target: its
 *    class, iteration space, parallel axis and, when sched->tiled, the micro-kernel's
 *    tiles. A tiled node whose B was packed reads the packed constant as in[1] (its
 *    shape is the panel layout, not the op's B shape), so it must be lowered tiled. */
#ifndef ONNXC_PASSES_H
#define ONNXC_PASSES_H

#include <stdbool.h>
#include <stdio.h>

#include "ir/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Time of each pass that ran, in pipeline order, for --time-passes. */
#define PASS_TIMING_MAX 32
typedef struct pass_timing {
    int n;
    struct { const char *name; double ms; } pass[PASS_TIMING_MAX];
} pass_timing_t;

typedef struct pass_options {
    int opt_level;  /* 0: only what correctness needs (inference, folding, DCE, planning) */
    bool verify;    /* ir_graph_verify after every pass */
    FILE *trace;    /* pass names and timings, when set */
    pass_timing_t *timing;  /* when set, filled with each pass's time (n reset first) */
    const struct ir_target *target;  /* what to schedule for (ir/sched.h); NULL: generic CPU */
} pass_options_t;

/* Fills *o with the defaults: opt_level 2, verify on in ONNXC_VERIFY_PASSES builds. */
void pass_options_init(pass_options_t *o);

/* Runs the whole pipeline; opt may be NULL (defaults). 0 ok, -1 with the reasons in g->diags. */
int pass_run_pipeline(ir_graph_t *g, const pass_options_t *opt);

/* The passes, in pipeline order; each returns 0 or -1 with the reasons in g->diags.
 * Inference and folding go on past a refused node with the nodes that do not depend on
 * it, so every independent refusal is reported. */
int pass_toposort(ir_graph_t *g);         /* order, drop dead nodes, recount uses */
int pass_infer_shapes(ir_graph_t *g);
int pass_order_syms(ir_graph_t *g);     /* ir_infer_node on every live node */
int pass_simplify(ir_graph_t *g);         /* drop Identity / inference Dropout */
int pass_const_fold(ir_graph_t *g);       /* infers each node, then evaluates it if its inputs are constant */
int pass_dce(ir_graph_t *g);
int pass_fold_batchnorm(ir_graph_t *g);   /* Conv + BatchNormalization -> Conv */
int pass_fuse(ir_graph_t *g);             /* epilogues into contractions, elementwise chains */
int pass_schedule(ir_graph_t *g);         /* node->sched for every live node; packs constant B operands */
int pass_plan_memory(ir_graph_t *g);

/* The schedule of one node created after pass_schedule (e.g. the planner's output
 * copies); packs nothing. 0 or -1 with the reason in g->diags. */
int pass_schedule_node(ir_graph_t *g, ir_node_t *n);

/* Evaluates one node whose inputs are constants (Shape/Size: whose input shape is static)
 * and turns its outputs into constants. 1 folded, 0 not foldable (left alone), -1 error. */
int pass_eval_node(ir_graph_t *g, ir_node_t *n);
/* Replaces g->nodes[idx], once inferred, by existing ops when its op is a composite
 * (Attention, RotaryEmbedding: passes/expand.c); the new nodes follow it in g->nodes.
 * 1 when expanded, 0 when the op is not expanded, -1 after an error. */
int pass_expand_node(ir_graph_t *g, int idx);

/* "memory plan: workspace X bytes (static) vs Y bytes if every intermediate had its own
 * buffer; N symbolic-sized buffers; weights Z bytes" */
void pass_print_plan(const ir_graph_t *g, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
