/* Output files that appear whole or not at all, and the tools (linker, nvcc) a backend
 * runs to finish them. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/common/outcode.h"
#include "runtime/onnxc_abi.h"

extern char **environ;

int out_err(char *err, size_t n, const char *fmt, ...) {
    if (!err || n == 0) return -1;
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* The driver prints exactly one line per error: fold multi-line text (LLVM's
     * verifier, a linker's output) onto it, a run of line breaks becoming "; ". */
    size_t o = 0;
    for (const char *p = tmp; *p && o + 1 < n; p++) {
        if (*p != '\n' && *p != '\r') {
            err[o++] = *p;
            continue;
        }
        while (p[1] == '\n' || p[1] == '\r') p++;
        if (p[1] && o + 3 < n) {
            err[o++] = ';';
            err[o++] = ' ';
        }
    }
    err[o] = 0;
    return -1;
}

static void split_path(const char *path, char *dir, size_t dn, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dn, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dn, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dn, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

int out_file_create(out_file_t *t, const char *final, const char *suffix, char *err, size_t n) {
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(final, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return out_err(err, n, "cannot write '%s': it is a folder", final);
        if (*suffix) {
            /* An intermediate (the object a link reads) beside a device would land in
             * /dev: put it in the temporary folder instead. */
            const char *td = getenv("TMPDIR");
            char alt[PATH_MAX];
            snprintf(alt, sizeof alt, "%s/onnxc", td && *td ? td : "/tmp");
            return out_file_create(t, alt, suffix, err, n);
        }
        /* A device or pipe (-o /dev/null, a FIFO): renaming over it would replace the
         * device node with a file, so write to it in place. */
        if (strlen(final) >= sizeof t->path) return out_err(err, n, "cannot write '%s': path too long", final);
        snprintf(t->path, sizeof t->path, "%s", final);
        snprintf(t->final, sizeof t->final, "%s", final);
        t->direct = true;
        return 0;
    }
    /* Through a symlink to the file it names, so the link survives the rename. */
    char resolved[PATH_MAX];
    if (lstat(final, &st) == 0 && S_ISLNK(st.st_mode) && realpath(final, resolved)) final = resolved;
    char dir[PATH_MAX];
    const char *base;
    split_path(final, dir, sizeof dir, &base);
    if (!*base) return out_err(err, n, "cannot write '%s': not a file name", final);
    /* Beside the output, so the final rename stays within one file system. */
    int len = snprintf(t->path, sizeof t->path, "%s/.%s.XXXXXX%s", dir, base, suffix);
    if (len < 0 || (size_t)len >= sizeof t->path || strlen(final) >= sizeof t->final)
        return out_err(err, n, "cannot write '%s': path too long", final);
    snprintf(t->final, sizeof t->final, "%s", final);
    int fd = mkstemps(t->path, (int)strlen(suffix));
    if (fd < 0) return out_err(err, n, "cannot write '%s': %s", final, strerror(errno));
    close(fd);
    t->live = true;
    return 0;
}

int out_file_write(out_file_t *t, const void *data, size_t size, char *err, size_t n) {
    FILE *f = fopen(t->path, "wb");
    if (!f) return out_err(err, n, "cannot write '%s': %s", t->final, strerror(errno));
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    int e = errno;
    int rc = fclose(f);
    if (w != size || rc != 0)
        return out_err(err, n, "cannot write '%s': %s", t->final, strerror(w != size ? e : errno));
    return 0;
}

int out_file_commit(out_file_t *t, bool exec, char *err, size_t n) {
    if (t->direct) return 0;
    /* mkstemp made the file 0600; give it the mode a plain open() would have. */
    mode_t mask = umask(0);
    umask(mask);
    if (chmod(t->path, (exec ? 0777 : 0666) & ~mask) != 0 || rename(t->path, t->final) != 0)
        return out_err(err, n, "cannot write '%s': %s", t->final, strerror(errno));
    t->committed = true;
    return 0;
}

void out_file_discard(out_file_t *t, bool rollback) {
    if (!t->live || t->direct) return;
    if (!t->committed)
        unlink(t->path);
    else if (rollback)
        unlink(t->final);
    t->live = false;
}

int out_write_file(const char *path, const void *data, size_t size, bool exec, char *err, size_t n) {
    out_file_t t;
    int rc = out_file_create(&t, path, "", err, n);
    if (rc == 0) rc = out_file_write(&t, data, size, err, n);
    if (rc == 0) rc = out_file_commit(&t, exec, err, n);
    out_file_discard(&t, false);
    return rc;
}

int out_spawn(char *const argv[], const char *what, char *err, size_t n) {
    FILE *cap = tmpfile();
    if (!cap) return out_err(err, n, "%s: cannot create a temporary file: %s", what, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(cap), 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(cap), 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fclose(cap);
        return out_err(err, n, "%s: cannot run '%s': %s", what, argv[0], strerror(rc));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fclose(cap);
            return out_err(err, n, "%s: waiting for '%s': %s", what, argv[0], strerror(errno));
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        fclose(cap);
        return 0;
    }
    /* The line that matters: an undefined reference or an "error:", else the first. */
    char line[512] = "", buf[512];
    int best = 0;
    rewind(cap);
    while (best < 3 && fgets(buf, sizeof buf, cap)) {
        buf[strcspn(buf, "\r\n")] = 0;
        int score = strstr(buf, "undefined reference") ? 3 : strstr(buf, "error:") ? 2 : buf[0] ? 1 : 0;
        if (score > best) {
            best = score;
            snprintf(line, sizeof line, "%s", buf);
        }
    }
    fclose(cap);
    if (WIFEXITED(status))
        return out_err(err, n, "%s: '%s' exited with status %d%s%s", what, argv[0], WEXITSTATUS(status),
                      line[0] ? ": " : "", line);
    return out_err(err, n, "%s: '%s' was killed by signal %d", what, argv[0],
                  WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

int out_weights_path(const char *output, const char *name, char *buf, size_t n) {
    const char *slash = strrchr(output, '/');
    int k = slash ? snprintf(buf, n, "%.*s/%s.weights", (int)(slash - output), output, name)
                  : snprintf(buf, n, "%s.weights", name);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

int out_weights_file(out_file_t *wf, const char *output, const char *name, const unsigned char *bytes, size_t size,
                     uint64_t *hash, char *err, size_t n) {
    char path[PATH_MAX];
    if (out_weights_path(output, name, path, sizeof path))
        return out_err(err, n, "cannot write the weights beside '%s': path too long", output);
    if (strcmp(path, output) == 0) return out_err(err, n, "the weights file '%s' would overwrite the output", path);
    *hash = onnxc_weights_hash(bytes, size);
    unsigned char *img = calloc(1, ONNXC_WEIGHTS_HEADER + size);
    if (!img) return out_err(err, n, "out of memory writing the weights (%zu bytes)", size);
    memcpy(img, "ONNXCWT", 8);
    uint64_t f[3] = {(uint64_t)ONNXC_WEIGHTS_VERSION | ((uint64_t)ONNXC_WEIGHTS_HEADER << 32), (uint64_t)size, *hash};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 8; b++) img[8 + 8 * k + b] = (unsigned char)(f[k] >> (8 * b));
    if (size) memcpy(img + ONNXC_WEIGHTS_HEADER, bytes, size);
    int rc = out_file_create(wf, path, "", err, n);
    if (rc == 0) rc = out_file_write(wf, img, ONNXC_WEIGHTS_HEADER + size, err, n);
    free(img);
    return rc ? -1 : 0;
}
