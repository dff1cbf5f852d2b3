/* Private to the emit side (emit.c, header.c, outfile.c): temporary outputs that are
 * renamed into place only when everything succeeded, and running the linker. */
#ifndef ONNXC_LLVM_EMIT_INT_H
#define ONNXC_LLVM_EMIT_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* A file being written at `path` (a hidden sibling of `final`), moved to `final` by
 * ef_commit. ef_discard removes it (and a committed file, when asked to roll back). */
typedef struct ef_tmp {
    char path[PATH_MAX];
    char final[PATH_MAX];
    bool live;       /* path exists and is ours */
    bool committed;  /* renamed to final */
    bool direct;     /* final is a device or pipe: written in place, never removed */
} ef_tmp_t;

/* Formats a one-line message into err (newlines become "; "). Returns -1. */
int ef_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Creates an empty temporary file beside final whose name ends with suffix ("" or ".o").
 * If final is a device or pipe, a plain output (no suffix) is written to it in place. */
int ef_tmp_create(ef_tmp_t *t, const char *final, const char *suffix, char *err, size_t n);
/* Writes data to t->path (replacing its contents). */
int ef_tmp_write(ef_tmp_t *t, const void *data, size_t size, char *err, size_t n);
/* Sets the permissions (0666 or, if exec, 0777, less the umask) and renames into place. */
int ef_tmp_commit(ef_tmp_t *t, bool exec, char *err, size_t n);
/* Removes the temporary; with rollback, also a file already committed. */
void ef_tmp_discard(ef_tmp_t *t, bool rollback);

/* Runs argv (searched on PATH) with stdout and stderr captured; on failure a message
 * naming what and the first line of its output. */
int ef_spawn(char *const argv[], const char *what, char *err, size_t n);

#endif
