/* Symbolic dimensions: the graph's symbols and the arithmetic on dims (ir/sym.c).
 *
 * A dim is v, or v * S[sym] (ir.h). A symbol is one of
 *   - IR_SYM_INPUT: a dim of a graph input (ONNX dim_param); the caller passes its value;
 *   - IR_SYM_DATA:  element `elem` of an integer graph input that the model uses as a shape
 *                   (Reshape's `shape`, Expand's `shape`, Range's `limit`, ...); the caller
 *                   passes its value too, and the run checks it against the tensor;
 *   - an expression over dims: a + b, a * b, floor(a / b), a mod b (floor), min, max, and
 *     (a == b ? c : d).
 * Expressions are kept canonical: sums and products are expanded into a polynomial over
 * "atoms" (input and data symbols, divisions, mods, mins, maxes, selects), its terms
 * sorted, its content pulled out as v, and rebuilt as one chain of interned nodes. Equal
 * polynomials therefore come back as the same (v, sym), and ir_dim_eq decides equality of
 * shapes for everything that the polynomial form can prove (commutativity, associativity,
 * distributivity, constant folding, exact division by a monomial). Other ops simplify by
 * local rules (min(x, x) = x, x // 1 = x, (4x) // 2 = 2x, selects on provably different
 * values) and otherwise stay atoms.
 *
 * The run evaluates every derived symbol once, in order, from the caller's (NAME_shapes in
 * the generated code), checking input dims for being in [1, 2^40], each operation for
 * overflow, each division for a zero divisor, and every dim used by a tensor for being in
 * [0, 2^40]; a data element may hold any int64 (INT64_MAX as a slice end). */
#ifndef ONNXC_IR_SYM_H
#define ONNXC_IR_SYM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ir_sym_kind {
    IR_SYM_INPUT,     /* a graph input's dim: the caller passes it; >= 1 */
    IR_SYM_DATA,      /* element `elem` of graph input `input` (int32/int64): the caller passes it */
    IR_SYM_ADD,       /* a + b */
    IR_SYM_MUL,       /* a * b */
    IR_SYM_DIV,       /* floor(a / b), b != 0 */
    IR_SYM_MOD,       /* a - b * floor(a / b), b != 0 */
    IR_SYM_MIN,
    IR_SYM_MAX,
    IR_SYM_SELECT,    /* a == b ? c : d  (elem 0), a < b ? c : d  (elem 1) */
    IR_SYM_FLOORMUL,  /* floor(a * f) where b = (1, a data symbol of a float input) whose value
                         is the IEEE-754 bits of the float64 value of that element */
    IR_SYM_FRANGE,    /* max(ceil((b - a) / c), 0) over float data symbols (a float Range's length) */
    IR_SYM_RUNTIME,   /* a count a kernel computes while the model runs (NonZero's), <= a: the
                         plan sizes buffers with a, the kernels see the actual value; `input`
                         is the value whose producer computes it */
} ir_sym_kind_t;

typedef struct ir_sym {
    ir_sym_kind_t kind;
    ir_dim_t a, b, c, d;
    const struct ir_value *input;   /* IR_SYM_DATA */
    int64_t elem;
} ir_sym_t;

/* A run-time assertion on dims, evaluated with the symbols: a == b or a >= b. A failing
 * one makes the run return ONNXC_ERR_SHAPE. `what` says which node asked, for --info and
 * the header. */
typedef enum { IR_CHECK_EQ, IR_CHECK_GE } ir_check_kind_t;
typedef struct ir_shape_check {
    ir_check_kind_t kind;
    ir_dim_t a, b;
    const char *what;
} ir_shape_check_t;

/* Largest value a dim may take at run time; every dim a tensor uses is checked. */
#define IR_DIM_MAX ((int64_t)1 << 40)

static inline bool ir_sym_is_caller(const ir_sym_t *s) { return s->kind == IR_SYM_INPUT || s->kind == IR_SYM_DATA; }

/* Arithmetic on dims. Each returns 0 with the canonical result in *out, or -1 when the
 * result cannot be represented (a constant overflow, a constant zero divisor, an
 * expression past the size limits); callers refuse the node then. */
int ir_dim_add(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_sub(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_mul(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_floordiv(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_ceildiv(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_mod(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_min(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
int ir_dim_max(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);
/* a == b ? c : d */
int ir_dim_select(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d, ir_dim_t *out);
/* a < b ? c : d */
int ir_dim_select_lt(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t c, ir_dim_t d, ir_dim_t *out);
/* Exact quotient a / b when the polynomial division proves it (every term of a divisible
 * by the single-term b): 0, or -1 when it is not provably exact. */
int ir_dim_div_exact(ir_graph_t *g, ir_dim_t a, ir_dim_t b, ir_dim_t *out);

/* floor(a * f) with f = fsym a data symbol of a float graph input (Resize scales). */
int ir_dim_floor_mul_f(ir_graph_t *g, ir_dim_t a, ir_dim_t fsym, ir_dim_t *out);
/* The length of a float Range whose start, limit and delta are float data symbols. */
int ir_dim_float_range(ir_graph_t *g, ir_dim_t start, ir_dim_t limit, ir_dim_t delta, ir_dim_t *out);
/* True for a data symbol of a float input: its value is the bits of a float64. */
bool ir_sym_is_float_data(const ir_graph_t *g, int s);

/* The count kernel-computed for value v (its producer writes it while the model runs),
 * at most `bound` (an expression the run start can evaluate). Interned by v. */
int ir_dim_runtime(ir_graph_t *g, const struct ir_value *v, ir_dim_t bound, ir_dim_t *out);
/* True when d depends on a run-time count. */
bool ir_dim_has_runtime(const ir_graph_t *g, ir_dim_t d);
/* True when d is non-decreasing in every run-time count it depends on (a polynomial with
 * non-negative coefficients in them, no count inside a division, min, max or select), so
 * that sizing buffers at the counts' bounds is enough. */
bool ir_dim_runtime_ok(const ir_graph_t *g, ir_dim_t d);

/* The symbol for element elem of graph input v (interned), as a dim. -1 on failure. */
int ir_dim_data(ir_graph_t *g, const struct ir_value *v, int64_t elem, ir_dim_t *out);

/* Lower bound of a dim's run-time value when one is provable, else INT64_MIN. */
int64_t ir_dim_lower_bound(const ir_graph_t *g, ir_dim_t d);
/* True when a >= b is provable. */
bool ir_dim_known_ge(ir_graph_t *g, ir_dim_t a, ir_dim_t b);

/* Records a run-time assertion (duplicates are dropped; one that is provable is not
 * recorded; one that is provably false is an error naming `what`). 0 or -1. */
int ir_shape_check_add(ir_graph_t *g, ir_check_kind_t kind, ir_dim_t a, ir_dim_t b, const char *what);

/* Text of a dim ("3", "N", "2*N", "(H + 1) // 2"), as shapes print it. */
void ir_dim_str(const ir_graph_t *g, ir_dim_t d, char *buf, size_t n);

/* A derived symbol whose expression is long is named t1, t2, ... (after ordering); these
 * say which, and give the definition over the other symbols' names. */
bool ir_sym_is_short_name(const ir_graph_t *g, int s);
void ir_sym_def_str(const ir_graph_t *g, int s, char *buf, size_t n);

/* Values of every symbol from the caller's (vals[0, n_caller_syms) set on entry; the rest
 * are written). The compile-time twin of the generated NAME_shapes, for tests and the
 * folder. 0, or -1 on overflow or a zero divisor. Requires ir_graph_order_syms. */
int ir_sym_eval_all(const ir_graph_t *g, int64_t *vals);
/* One dim's value under vals (all symbols). -1 on overflow. */
int ir_dim_eval(const ir_graph_t *g, ir_dim_t d, const int64_t *vals, int64_t *out);

/* Drops symbols no live value, check or other symbol uses, and renumbers the rest so that
 * the caller's come first (input dims, then data elements, each in creation order) and
 * every derived symbol follows its operands. Sets n_caller_syms and freezes the table: no
 * symbol can be created after (a backend cannot add what NAME_shapes does not compute).
 * 0 or -1 (out of memory). */
int ir_graph_order_syms(ir_graph_t *g);

#ifdef __cplusplus
}
#endif
#endif
