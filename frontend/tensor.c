/* TensorProto -> dense constant values: every in-file encoding and external data.
 * Every size claimed by the file is checked against the bytes actually present before
 * anything is allocated for it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "frontend/frontend_internal.h"
#include "ir/lowp.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian; a big-endian host needs byte swapping here"
#endif

bool fe_dtype_supported(int32_t t, ir_dtype_t *out)
{
    switch (t) {
    case IR_F32: case IR_U8: case IR_I8: case IR_U16: case IR_I16: case IR_I32:
    case IR_I64: case IR_BOOL: case IR_F16: case IR_F64: case IR_U32: case IR_U64:
    case IR_BF16: case IR_F8E4M3FN: case IR_F8E4M3FNUZ: case IR_F8E5M2: case IR_F8E5M2FNUZ:
    case IR_U4: case IR_I4: case IR_F4E2M1: case IR_F8E8M0: case IR_U2: case IR_I2:
        *out = (ir_dtype_t)t;
        return true;
    default:
        return false;
    }
}

const char *fe_onnx_type_name(int32_t t)
{
    switch (t) {
    case 0: return "undefined";
    case 8: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    case 27: return "float6e2m3";
    case 28: return "float6e3m2";
    default: return ir_dtype_name((ir_dtype_t)t);
    }
}

/* Copies the elements of a typed field into dst, narrowing to the element size. */
static void narrow_int32(void *dst, const int32_t *src, size_t n, ir_dtype_t dt)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case IR_BOOL: ((uint8_t *)dst)[i] = src[i] != 0; break;
        case IR_U8: case IR_I8: case IR_F8E4M3FN: case IR_F8E4M3FNUZ: case IR_F8E5M2:
        case IR_F8E5M2FNUZ: case IR_F8E8M0:
            ((uint8_t *)dst)[i] = (uint8_t)src[i]; break;
        case IR_U16: case IR_I16: case IR_F16: case IR_BF16:
            ((uint16_t *)dst)[i] = (uint16_t)src[i]; break;
        default: ((int32_t *)dst)[i] = src[i]; break;
        }
    }
}

static int parse_size(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) return -1;
    *out = v;
    return 0;
}

/* loc without "." and with each ".." taking back the name before it, into out; -1 when
 * a ".." would climb above the start (an escape whatever the links are), -2 when out is
 * too small. Without symlinks this is the path the kernel resolves. */
static int lexical_beneath(const char *loc, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = loc; *p;) {
        while (*p == '/') p++;
        size_t k = strcspn(p, "/");
        if (!k) break;
        if (k == 1 && p[0] == '.') {
            /* nothing */
        } else if (k == 2 && p[0] == '.' && p[1] == '.') {
            if (!n) return -1;
            while (n && out[n - 1] != '/') n--;
            if (n) n--;
        } else {
            if (n + (n > 0) + k + 1 > cap) return -2;
            if (n) out[n++] = '/';
            memcpy(out + n, p, k);
            n += k;
        }
        p += k;
    }
    out[n] = 0;
    return 0;
}

/* Test hook: 1 takes the path for kernels without openat2. */
int fe_test_no_openat2;

/* Opens loc beneath the folder dirfd without leaving it: openat2 with RESOLVE_BENEATH
 * (symlinks may point around inside the folder, never out of it; magic links like
 * /proc/self/fd/N are refused). Kernels before 5.6 lack openat2: then the lexically
 * normalised path is opened one component at a time with O_NOFOLLOW, so no symlink is
 * followed at all there. O_NONBLOCK: a FIFO planted as the data file must not hang the
 * compiler (fstat then refuses it as not a regular file). -1 with errno; EXDEV or ELOOP
 * for an escape. */
static int open_beneath(int dirfd, const char *loc)
{
    char norm[PATH_MAX], *p = norm;
    int lex = lexical_beneath(loc, norm, sizeof norm);
    if (lex) {
        errno = lex == -1 ? EXDEV : ENAMETOOLONG;
        return -1;
    }
#ifdef SYS_openat2
    if (!fe_test_no_openat2) {
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, dirfd, loc, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return fd;
    }
#endif
    if (!*norm) p = ".";
    int cur = dup(dirfd);
    while (cur >= 0) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        int next = openat(cur, p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                                      (slash ? O_DIRECTORY : 0));
        int e = errno;
        close(cur);
        if (!slash || next < 0) {
            errno = e;
            return next;
        }
        cur = next;
        p = slash + 1;
    }
    return -1;
}

/* Opens an external data file, refusing anything outside the model's folder: the model
 * is untrusted input and must not make the compiler read arbitrary files. */
static int open_external(fe_ctx_t *c, const char *tname, const char *loc)
{
    if (!c->model_dir)
        return fe_err(c, "tensor '%s': external data '%s' needs the model's folder", tname, loc);
    if (loc[0] == '/')
        return fe_err(c, "tensor '%s': external data location '%s' is absolute; it must be "
                      "relative to the model's folder", tname, loc);
    int dirfd = open(c->model_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return fe_err(c, "cannot open model folder '%s': %s", c->model_dir, strerror(errno));
    int fd = open_beneath(dirfd, loc);
    int e = errno;
    close(dirfd);
    if (fd < 0) {
        if (e == EXDEV || e == ELOOP)
            return fe_err(c, "tensor '%s': external data location '%s' escapes the model's "
                          "folder (or is a symbolic link where links are not followed)",
                          tname, loc);
        return fe_err(c, "tensor '%s': cannot open external data '%s': %s", tname, loc,
                      strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return fe_err(c, "tensor '%s': external data '%s' is not a regular file", tname, loc);
    }
    /* A hard link is a name inside the folder for a file that may live anywhere. */
    if (st.st_nlink > 1) {
        close(fd);
        return fe_err(c, "tensor '%s': external data '%s' has %lu hard links; refusing a "
                      "file that may be linked from outside the model's folder", tname, loc,
                      (unsigned long)st.st_nlink);
    }
    /* Recorded as the model's folder spells it (not the resolved path), so a depfile
     * names the file the way the build named the model. */
    char named[PATH_MAX];
    if (c->g) {
        bool here = strcmp(c->model_dir, ".") == 0;   /* "w.bin", not "./w.bin" */
        bool fits = snprintf(named, sizeof named, "%s%s%s", here ? "" : c->model_dir,
                             here ? "" : "/", loc) < (int)sizeof named;
        if (!fits || ir_graph_note_file(c->g, named) != 0) {
            close(fd);
            return fe_err(c, fits ? "out of memory" : "external data path is too long");
        }
    }
    return fd;
}

/* Reads exactly `bytes` bytes of external data into a fresh malloc buffer. */
static void *read_external(fe_ctx_t *c, const Onnx__TensorProto *t, const char *tname,
                           size_t bytes)
{
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = t->external_data[i];
        if (!kv || !kv->key) continue;
        if (!strcmp(kv->key, "location")) loc = kv->value;
        else if (!strcmp(kv->key, "checksum")) continue;   /* optional, not verified */
        else if (!strcmp(kv->key, "offset")) {
            if (parse_size(kv->value, &off)) {
                fe_err(c, "tensor '%s': bad external data offset '%s'", tname,
                       kv->value ? kv->value : "");
                return NULL;
            }
        } else if (!strcmp(kv->key, "length")) {
            if (parse_size(kv->value, &len)) {
                fe_err(c, "tensor '%s': bad external data length '%s'", tname,
                       kv->value ? kv->value : "");
                return NULL;
            }
        } else {
            /* A key we do not know may change what the bytes mean (a base path, a
             * compression): refuse rather than read them wrongly. */
            fe_err(c, "tensor '%s': unknown external data key '%.100s' (known: location, "
                   "offset, length, checksum)", tname, kv->key);
            return NULL;
        }
    }
    if (!loc || !*loc) {
        fe_err(c, "tensor '%s': external data has no location", tname);
        return NULL;
    }
    int fd = open_external(c, tname, loc);
    if (fd < 0) return NULL;
    void *buf = NULL;
    struct stat st;
    if (fstat(fd, &st)) {
        fe_err(c, "tensor '%s': cannot stat external data '%s': %s", tname, loc, strerror(errno));
        goto out;
    }
    if (off > st.st_size) {
        fe_err(c, "tensor '%s': external data offset %lld is past the end of '%s' (%lld bytes)",
               tname, (long long)off, loc, (long long)st.st_size);
        goto out;
    }
    if (len < 0) len = st.st_size - off;
    if (len > st.st_size - off) {
        fe_err(c, "tensor '%s': external data '%s' has %lld bytes after offset %lld, "
               "length says %lld", tname, loc, (long long)(st.st_size - off), (long long)off,
               (long long)len);
        goto out;
    }
    if ((uint64_t)len != bytes) {
        fe_err(c, "tensor '%s': external data has %lld bytes, dims need %zu", tname,
               (long long)len, bytes);
        goto out;
    }
    buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        fe_err(c, "tensor '%s': out of memory for %zu bytes", tname, bytes);
        goto out;
    }
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = pread(fd, (char *)buf + got, bytes - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            fe_err(c, "tensor '%s': reading external data '%s' failed", tname, loc);
            free(buf);
            buf = NULL;
            goto out;
        }
        got += (size_t)r;
    }
out:
    close(fd);
    return buf;
}

ir_value_t *fe_tensor_to_value(fe_ctx_t *c, const Onnx__TensorProto *t, const char *name)
{
    const char *tname = name ? name : (t->name ? t->name : "");
    ir_dtype_t dt;
    int32_t ot = t->has_data_type ? t->data_type : 0;
    if (!fe_dtype_supported(ot, &dt)) {
        fe_err(c, "tensor '%s': unsupported data type %s (%d)", tname, fe_onnx_type_name(ot), ot);
        return NULL;
    }
    if (t->n_dims > IR_MAX_RANK) {
        fe_err(c, "tensor '%s': rank %zu exceeds the maximum of %d", tname, t->n_dims,
               IR_MAX_RANK);
        return NULL;
    }
    if (t->segment) {
        fe_err(c, "tensor '%s': segmented tensors are unsupported", tname);
        return NULL;
    }
    ir_shape_t shape = {.rank = (int)t->n_dims};
    int64_t numel = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0) {
            fe_err(c, "tensor '%s': negative dimension %lld", tname, (long long)t->dims[i]);
            return NULL;
        }
        if (__builtin_mul_overflow(numel, t->dims[i], &numel)) {
            fe_err(c, "tensor '%s': dimensions overflow (product exceeds int64)", tname);
            return NULL;
        }
        shape.dims[i] = ir_dim_const(t->dims[i]);
    }
    size_t esize = ir_dtype_size(dt), bytes;
    if ((uint64_t)numel > SIZE_MAX || __builtin_mul_overflow((size_t)numel, esize, &bytes)) {
        fe_err(c, "tensor '%s': dimensions overflow (byte size exceeds the address space)",
               tname);
        return NULL;
    }
    /* int4/uint4/float4 (two a byte) and int2/uint2 (four) are packed in raw_data,
     * external data and int32_data (one packed byte per int32), unpacked for the IR. */
    bool packed = ir_dtype_file_bits(dt) < 8;
    size_t fbytes = packed ? ir_dtype_file_bytes(dt, (size_t)numel) : bytes;

    const void *src = NULL;   /* the dense bytes, already in host layout */
    void *tmp = NULL;         /* owned conversion buffer */
    size_t have = 0;          /* elements (or bytes for raw) actually present */
    const char *field = NULL;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        tmp = read_external(c, t, tname, fbytes);
        if (!tmp) return NULL;
        src = tmp;
    } else if (t->has_raw_data || t->raw_data.len) {
        if (t->raw_data.len != fbytes) {
            fe_err(c, "tensor '%s': raw_data has %zu bytes, dims need %zu", tname,
                   t->raw_data.len, fbytes);
            return NULL;
        }
        src = t->raw_data.data;
    } else if (packed) {
        if (t->n_int32_data != fbytes) {
            fe_err(c, "tensor '%s': int32_data has %zu values, dims need %zu packed bytes", tname,
                   t->n_int32_data, fbytes);
            return NULL;
        }
        tmp = malloc(fbytes ? fbytes : 1);
        if (!tmp) {
            fe_err(c, "tensor '%s': out of memory for %zu bytes", tname, fbytes);
            return NULL;
        }
        for (size_t i = 0; i < fbytes; i++) ((uint8_t *)tmp)[i] = (uint8_t)t->int32_data[i];
        src = tmp;
    } else {
        switch (dt) {
        case IR_F32: have = t->n_float_data; field = "float_data"; break;
        case IR_F64: have = t->n_double_data; field = "double_data"; break;
        case IR_I64: have = t->n_int64_data; field = "int64_data"; break;
        case IR_U32: case IR_U64: have = t->n_uint64_data; field = "uint64_data"; break;
        default: have = t->n_int32_data; field = "int32_data"; break;
        }
        if (have != (uint64_t)numel) {
            fe_err(c, "tensor '%s': %s has %zu values, dims need %lld", tname, field, have,
                   (long long)numel);
            return NULL;
        }
        switch (dt) {
        case IR_F32: src = t->float_data; break;
        case IR_F64: src = t->double_data; break;
        case IR_I64: src = t->int64_data; break;
        case IR_U64: src = t->uint64_data; break;
        case IR_I32: src = t->int32_data; break;
        default:
            /* Only now is the claimed size known to be backed by parsed elements. */
            tmp = malloc(bytes ? bytes : 1);
            if (!tmp) {
                fe_err(c, "tensor '%s': out of memory for %zu bytes", tname, bytes);
                return NULL;
            }
            if (dt == IR_U32)
                for (size_t i = 0; i < have; i++)
                    ((uint32_t *)tmp)[i] = (uint32_t)t->uint64_data[i];
            else
                narrow_int32(tmp, t->int32_data, have, dt);
            src = tmp;
        }
    }
    static const char zero[64];
    if (packed && src) {
        uint8_t *un = malloc(bytes ? bytes : 1);
        if (!un) {
            free(tmp);
            fe_err(c, "tensor '%s': out of memory for %zu bytes", tname, bytes);
            return NULL;
        }
        ir_lowp_unpack(dt, un, src, (size_t)numel);
        free(tmp);
        src = tmp = un;
    }
    ir_value_t *v = ir_value_const(c->g, name, dt, &shape, src ? src : zero, bytes);
    free(tmp);
    if (!v) fe_err(c, "tensor '%s': out of memory for %zu bytes", tname, bytes);
    return v;
}
