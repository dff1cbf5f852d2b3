/* Private to backends/common: a growable text buffer for the generated C. */
#ifndef ONNXC_OUTCODE_INT_H
#define ONNXC_OUTCODE_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Appends never fail loudly: the first allocation failure sets oom and later appends do
 * nothing, so a generator checks once at the end. */
typedef struct out_sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} out_sbuf_t;

void out_sb_printf(out_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Model text (tensor and symbol names) made safe inside a C comment. */
void out_sb_comment_text(out_sbuf_t *b, const char *s);
/* Model text as the contents of a C string literal (without the quotes). */
void out_sb_c_string(out_sbuf_t *b, const char *s);
/* Hands the text to *text, or frees it and reports running out of memory. */
int out_sb_finish(out_sbuf_t *b, char **text, const char *what, char *err, size_t n);

#endif
