/* Weights files (onnxc --weights=file): mapped read-only and checked against what the
 * code was compiled with (onnxc_abi.h describes the format). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnxc_rt.h"

int onnxc_weights_map(const char *path, const onnxc_weights_info_t *info, onnxc_weights_t *w, char *err,
                      size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!w) return ONNXC_ERR_ARGUMENT;
    memset(w, 0, sizeof *w);
    if (!path || !info) {
        if (err) snprintf(err, errlen, "no weights file or model given");
        return ONNXC_ERR_ARGUMENT;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err) snprintf(err, errlen, "%s: cannot open the weights: %s", path, strerror(errno));
        return ONNXC_ERR_WEIGHTS;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)ONNXC_WEIGHTS_HEADER) {
        close(fd);
        if (err) snprintf(err, errlen, "%s: not an onnxc weights file (too short or not a file)", path);
        return ONNXC_ERR_WEIGHTS;
    }
    /* Private and read-only: pages come from the page cache, shared by every process that
     * maps the same file, and nobody can write through them. */
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        if (err) snprintf(err, errlen, "%s: cannot map the weights: %s", path, strerror(errno));
        return ONNXC_ERR_WEIGHTS;
    }
    char why[256];
    const void *payload = NULL;
    if (onnxc_weights_check(info, map, (size_t)st.st_size, &payload, why, sizeof why) != ONNXC_OK) {
        munmap(map, (size_t)st.st_size);
        if (err) snprintf(err, errlen, "%s: %s", path, why);
        return ONNXC_ERR_WEIGHTS;
    }
    w->data = payload;
    w->size = (size_t)info->size;
    w->map = map;
    w->map_size = (size_t)st.st_size;
    return ONNXC_OK;
}

void onnxc_weights_unmap(onnxc_weights_t *w) {
    if (!w) return;
    if (w->map) munmap(w->map, w->map_size);
    memset(w, 0, sizeof *w);
}
