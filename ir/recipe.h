/* Scalar recipes: the element-wise semantics of an op, written once on its row in
 * ir/ops.def and read by every phase (the constant folder interprets a recipe, the LLVM
 * backend lowers it to scalar or vector code, a CUDA backend prints it as C).
 *
 * Syntax (C-like, all operators left-associative, usual precedence):
 *   x y z                 inputs 0, 1, 2 of the node
 *   NAME                  a numeric attribute (schema default when absent)
 *   NAME == 'text'        a string attribute compared with a literal: a constant per node
 *   1.5  inf  lowest  highest      numbers; lowest/highest: the dtype's range (±inf for floats)
 *   - !  * /  + -  < > <= >= == !=  &&  ||  c ? a : b
 *   exp log sqrt abs floor ceil round sin cos tan asin acos atan sinh cosh asinh acosh
 *   atanh erf tanh isnan (one argument); min max pow (two); opt(y, e): input y, or e when
 *   the node omits that optional input.
 *   max(a, b) is a < b ? b : a and min(a, b) is a > b ? b : a, so a NaN in a propagates.
 *
 * Types: comparisons, &&, ||, ! and isnan give bool; a bool input stays bool; everything
 * else computes in the node's type T (the dtype of its first non-bool input; float16 and
 * bfloat16 compute in float32). Integer '/' truncates and gives 0 for a zero divisor.
 * Ops with more inputs than the recipe names (Max, Min, Sum) fold it left to right. */
#ifndef ONNXC_IR_RECIPE_H
#define ONNXC_IR_RECIPE_H

#include "ir/ir.h"

typedef enum ir_rkind {
    IR_R_NUM, IR_R_IN, IR_R_ATTR, IR_R_STREQ, IR_R_LOWEST, IR_R_HIGHEST,
    IR_R_NEG, IR_R_NOT,
    IR_R_ADD, IR_R_SUB, IR_R_MUL, IR_R_DIV,
    IR_R_LT, IR_R_GT, IR_R_LE, IR_R_GE, IR_R_EQ, IR_R_NE, IR_R_AND, IR_R_OR,
    IR_R_SEL, IR_R_OPT,
    IR_R_FN1, IR_R_MIN, IR_R_MAX, IR_R_POW,
} ir_rkind_t;

typedef enum ir_rfn {
    IR_F_EXP, IR_F_LOG, IR_F_SQRT, IR_F_ABS, IR_F_FLOOR, IR_F_CEIL, IR_F_ROUND, IR_F_SIN, IR_F_COS,
    IR_F_TAN, IR_F_ASIN, IR_F_ACOS, IR_F_ATAN, IR_F_SINH, IR_F_COSH, IR_F_ASINH, IR_F_ACOSH,
    IR_F_ATANH, IR_F_ERF, IR_F_TANH, IR_F_ISNAN, IR_F_COUNT
} ir_rfn_t;

typedef struct ir_rexpr {
    ir_rkind_t kind;
    ir_rfn_t fn;                /* IR_R_FN1 */
    double num;                 /* IR_R_NUM */
    int input;                  /* IR_R_IN, IR_R_OPT: input index */
    char name[32];              /* IR_R_ATTR, IR_R_STREQ: attribute name */
    char text[32];              /* IR_R_STREQ: the literal */
    struct ir_rexpr *a, *b, *c; /* operands */
} ir_rexpr_t;

/* The parsed recipe of op (parsed once, kept for the process), NULL when the row has none.
 * A row whose recipe does not parse is our bug: *err (if given) gets the reason. */
const ir_rexpr_t *ir_recipe(ir_op_t op, const char **err);
/* Number of inputs the recipe names (1 + highest input index). */
int ir_recipe_arity(const ir_rexpr_t *e);
/* Whether e gives a bool (comparisons, logic) given which inputs are bool. */
bool ir_recipe_is_bool(const ir_rexpr_t *e, const bool *in_bool);
/* The C name of a function (for printing and for libm). */
const char *ir_rfn_name(ir_rfn_t f);
/* Value of a STREQ node for node n (a constant per node). */
bool ir_recipe_streq(const ir_rexpr_t *e, const ir_node_t *n);

/* A scalar for the interpreter: integers in i (wrapping as the dtype would), floats in f. */
typedef union ir_rval { double f; int64_t i; } ir_rval_t;
/* Evaluates e for node n in type t (integers when t is an integer or bool type); in[k] are
 * the inputs (bool inputs as i = 0/1), present[k] whether input k exists. */
ir_rval_t ir_recipe_eval(const ir_rexpr_t *e, const ir_node_t *n, ir_dtype_t t, const ir_rval_t *in,
                         const bool *in_bool, const bool *present);

#endif
