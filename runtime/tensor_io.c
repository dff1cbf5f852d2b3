/* Tensor files for the standalone driver: ONNX TensorProto (.pb) through a hand-written
 * protobuf wire-format decoder (the runtime must not pull in protobuf-c), and NumPy .npy.
 * Every length and count is checked against the file before it is used: these files come
 * from users. Data is assumed little-endian on a little-endian host, as both formats are. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnxc_rt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnxc runtime tensor I/O assumes a little-endian host"
#endif

/* ---- dtypes ----------------------------------------------------------------------- */

static const struct {
    size_t size;
    const char *name;
    const char *npy;         /* NumPy descr, NULL when NumPy has no such type */
} dtype_table[] = {
    [ONNXC_DT_UNDEFINED] = {0, "undefined", NULL},
    [ONNXC_DT_FLOAT] = {4, "float32", "<f4"},
    [ONNXC_DT_UINT8] = {1, "uint8", "|u1"},
    [ONNXC_DT_INT8] = {1, "int8", "|i1"},
    [ONNXC_DT_UINT16] = {2, "uint16", "<u2"},
    [ONNXC_DT_INT16] = {2, "int16", "<i2"},
    [ONNXC_DT_INT32] = {4, "int32", "<i4"},
    [ONNXC_DT_INT64] = {8, "int64", "<i8"},
    [ONNXC_DT_STRING] = {0, "string", NULL},
    [ONNXC_DT_BOOL] = {1, "bool", "|b1"},
    [ONNXC_DT_FLOAT16] = {2, "float16", "<f2"},
    [ONNXC_DT_DOUBLE] = {8, "float64", "<f8"},
    [ONNXC_DT_UINT32] = {4, "uint32", "<u4"},
    [ONNXC_DT_UINT64] = {8, "uint64", "<u8"},
    [ONNXC_DT_COMPLEX64] = {8, "complex64", "<c8"},
    [ONNXC_DT_COMPLEX128] = {16, "complex128", "<c16"},
    [ONNXC_DT_BFLOAT16] = {2, "bfloat16", NULL},
    [ONNXC_DT_FLOAT8E4M3FN] = {1, "float8e4m3fn", NULL},
    [ONNXC_DT_FLOAT8E4M3FNUZ] = {1, "float8e4m3fnuz", NULL},
    [ONNXC_DT_FLOAT8E5M2] = {1, "float8e5m2", NULL},
    [ONNXC_DT_FLOAT8E5M2FNUZ] = {1, "float8e5m2fnuz", NULL},
    [ONNXC_DT_UINT4] = {1, "uint4", NULL},
    [ONNXC_DT_INT4] = {1, "int4", NULL},
    [ONNXC_DT_FLOAT4E2M1] = {1, "float4e2m1", NULL},
    [ONNXC_DT_FLOAT8E8M0] = {1, "float8e8m0", NULL},
    [ONNXC_DT_UINT2] = {1, "uint2", NULL},
    [ONNXC_DT_INT2] = {1, "int2", NULL},
};

/* Bits an element takes in a .pb file: int4/uint4/float4 pack two to a byte, int2/uint2
 * four (low bits first); in memory each takes a byte (onnxc_abi.h). */
static int file_bits(int32_t dtype) {
    switch (dtype) {
    case ONNXC_DT_UINT4: case ONNXC_DT_INT4: case ONNXC_DT_FLOAT4E2M1: return 4;
    case ONNXC_DT_UINT2: case ONNXC_DT_INT2: return 2;
    default: return 8;
    }
}

static size_t packed_bytes(int32_t dtype, size_t nelem) {
    size_t per = (size_t)(8 / file_bits(dtype));
    return nelem / per + (nelem % per != 0);
}

static void unpack_sub_byte(int32_t dtype, uint8_t *dst, const uint8_t *src, size_t nelem) {
    int bits = file_bits(dtype), per = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    for (size_t i = 0; i < nelem; i++) dst[i] = (uint8_t)((src[i / (size_t)per] >> (bits * (int)(i % (size_t)per))) & mask);
}

static void pack_sub_byte(int32_t dtype, uint8_t *dst, const uint8_t *src, size_t nelem) {
    int bits = file_bits(dtype), per = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    memset(dst, 0, packed_bytes(dtype, nelem));
    for (size_t i = 0; i < nelem; i++)
        dst[i / (size_t)per] |= (uint8_t)((src[i] & mask) << (bits * (int)(i % (size_t)per)));
}
#define N_DTYPES ((int32_t)(sizeof dtype_table / sizeof dtype_table[0]))

size_t onnxc_dtype_size(int32_t dtype) {
    return dtype >= 0 && dtype < N_DTYPES ? dtype_table[dtype].size : 0;
}

const char *onnxc_dtype_name(int32_t dtype) {
    return dtype >= 0 && dtype < N_DTYPES ? dtype_table[dtype].name : "unknown";
}

int onnxc_tensor_bytes(int32_t dtype, int32_t rank, const int64_t *dims, size_t *nelem,
                       size_t *nbytes) {
    size_t es = onnxc_dtype_size(dtype);
    if (es == 0 || rank < 0 || rank > ONNXC_TENSOR_MAX_RANK || (rank > 0 && !dims)) return -1;
    size_t n = 1;
    for (int32_t i = 0; i < rank; i++) {
        if (dims[i] < 0 || (uint64_t)dims[i] > SIZE_MAX) return -1;
        if (dims[i] != 0 && n > SIZE_MAX / (size_t)dims[i]) return -1;
        n *= (size_t)dims[i];
    }
    if (n > SIZE_MAX / es) return -1;
    if (nelem) *nelem = n;
    if (nbytes) *nbytes = n * es;
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (err && errlen) {
        int k = snprintf(err, errlen, "%s: ", path);
        if (k >= 0 && (size_t)k < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* Kernels read with vector loads, so tensor data gets the workspace's alignment. */
static void *alloc64(size_t n) {
    size_t r = n == 0 ? 64 : n;
    if (r > SIZE_MAX - 63) return NULL;
    r = (r + 63) & ~(size_t)63;
    return aligned_alloc(64, r);
}

static int read_whole_file(const char *path, uint8_t **buf, size_t *len, char *err,
                           size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(err, errlen, path, "not a regular file");
    }
    if ((uint64_t)st.st_size > SIZE_MAX - 1) {
        fclose(f);
        return fail(err, errlen, path, "file too large");
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return fail(err, errlen, path, "out of memory reading %zu bytes", n);
    }
    if (fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return fail(err, errlen, path, "read error");
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

static const char *extension(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot : "";
}

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- TensorProto decoding --------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *begin, *end;
} rd_t;

static int rd_varint(rd_t *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1) return -1;   /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* A growable array of fixed-size elements for repeated fields, which may arrive split
 * across many (packed or unpacked) occurrences. */
typedef struct {
    uint8_t *p;
    size_t n, cap, esz;
} vec_t;

static int vec_push(vec_t *v, const void *x) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        void *np = realloc(v->p, nc * v->esz);
        if (!np) return -1;
        v->p = np;
        v->cap = nc;
    }
    memcpy(v->p + v->n * v->esz, x, v->esz);
    v->n++;
    return 0;
}

enum { F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64, N_TYPED };
static const char *const typed_field_name[N_TYPED] = {"float_data", "int32_data", "int64_data",
                                                      "double_data", "uint64_data"};

typedef struct {
    int64_t dims[ONNXC_TENSOR_MAX_RANK];
    int rank;
    int have_dtype;
    int32_t dtype;
    char name[256];
    const uint8_t *raw;
    size_t raw_len;
    int have_raw;
    vec_t typed[N_TYPED];
} pb_t;

/* Skips one field's payload. Groups (wire types 3/4) are obsolete but legal, and nest. */
static int skip_field(rd_t *r, uint32_t wt, uint64_t field, int depth, const char **why) {
    uint64_t v;
    switch (wt) {
    case 0:
        if (rd_varint(r, &v)) return *why = "truncated varint", -1;
        return 0;
    case 1:
        if (r->end - r->p < 8) return *why = "truncated 64-bit field", -1;
        r->p += 8;
        return 0;
    case 5:
        if (r->end - r->p < 4) return *why = "truncated 32-bit field", -1;
        r->p += 4;
        return 0;
    case 2:
        if (rd_varint(r, &v)) return *why = "truncated length", -1;
        if (v > (uint64_t)(r->end - r->p)) return *why = "length runs past the end of the file", -1;
        r->p += v;
        return 0;
    case 3:
        if (depth > 64) return *why = "groups nested too deeply", -1;
        for (;;) {
            uint64_t key;
            if (r->p >= r->end) return *why = "unterminated group", -1;
            if (rd_varint(r, &key)) return *why = "truncated varint", -1;
            uint32_t w = (uint32_t)(key & 7);
            if (w == 4) {
                if ((key >> 3) != field) return *why = "mismatched end of group", -1;
                return 0;
            }
            if ((key >> 3) == 0) return *why = "field number 0", -1;
            if (skip_field(r, w, key >> 3, depth + 1, why)) return -1;
        }
    default:
        return *why = wt == 4 ? "unexpected end of group" : "invalid wire type", -1;
    }
}

/* Reads a scalar-or-packed repeated field. kind: 0 varint, 4 fixed32, 8 fixed64. */
static int read_repeated(rd_t *r, uint32_t wt, int kind, vec_t *out, int64_t *dims, int *rank,
                         const char **why) {
    int packed = wt == 2;
    int want_wt = kind == 0 ? 0 : kind == 4 ? 5 : 1;
    if (!packed && (int)wt != want_wt) return *why = "wrong wire type for a known field", -1;
    rd_t sub = *r;
    if (packed) {
        uint64_t len;
        if (rd_varint(r, &len)) return *why = "truncated length", -1;
        if (len > (uint64_t)(r->end - r->p)) return *why = "length runs past the end of the file", -1;
        if (kind && len % (uint64_t)kind) return *why = "packed field length is not a multiple of the element size", -1;
        sub.p = r->p;
        sub.end = r->p + len;
        r->p += len;
    } else {
        sub.end = r->end;
    }
    for (int first = 1; packed ? sub.p < sub.end : first; first = 0) {
        uint64_t v = 0;
        if (kind == 0) {
            if (rd_varint(&sub, &v)) return *why = "truncated varint", -1;
        } else {
            if (sub.end - sub.p < kind) return *why = "truncated fixed-width field", -1;
            memcpy(&v, sub.p, (size_t)kind);
            sub.p += kind;
        }
        if (dims) {
            if (*rank >= ONNXC_TENSOR_MAX_RANK) return *why = "more than 8 dims", -1;
            dims[(*rank)++] = (int64_t)v;
        } else if (kind == 4) {
            uint32_t w = (uint32_t)v;
            if (vec_push(out, &w)) return *why = "out of memory", -1;
        } else if (vec_push(out, &v)) {
            return *why = "out of memory", -1;
        }
    }
    if (!packed) r->p = sub.p;
    return 0;
}

static int pb_parse(rd_t *r, pb_t *pb, const char **why) {
    while (r->p < r->end) {
        uint64_t key;
        if (rd_varint(r, &key)) return *why = "truncated field key", -1;
        uint64_t field = key >> 3;
        uint32_t wt = (uint32_t)(key & 7);
        if (field == 0) return *why = "field number 0", -1;
        uint64_t v;
        switch (field) {
        case 1: /* dims */
            if (read_repeated(r, wt, 0, NULL, pb->dims, &pb->rank, why)) return -1;
            break;
        case 2: /* data_type */
            if (wt != 0) return *why = "wrong wire type for data_type", -1;
            if (rd_varint(r, &v)) return *why = "truncated varint", -1;
            pb->dtype = (int32_t)v;
            pb->have_dtype = 1;
            break;
        case 4:
            if (read_repeated(r, wt, 4, &pb->typed[F_FLOAT], NULL, NULL, why)) return -1;
            break;
        case 5:
            if (read_repeated(r, wt, 0, &pb->typed[F_INT32], NULL, NULL, why)) return -1;
            break;
        case 6:
            return *why = "string tensors (string_data) are not supported", -1;
        case 7:
            if (read_repeated(r, wt, 0, &pb->typed[F_INT64], NULL, NULL, why)) return -1;
            break;
        case 8:
        case 9: {
            if (wt != 2) return *why = "wrong wire type for a bytes field", -1;
            uint64_t len;
            if (rd_varint(r, &len)) return *why = "truncated length", -1;
            if (len > (uint64_t)(r->end - r->p)) return *why = "length runs past the end of the file", -1;
            if (field == 8) {
                size_t n = len < sizeof pb->name - 1 ? (size_t)len : sizeof pb->name - 1;
                memcpy(pb->name, r->p, n);
                pb->name[n] = 0;
            } else {
                pb->raw = r->p;
                pb->raw_len = (size_t)len;
                pb->have_raw = 1;
            }
            r->p += len;
            break;
        }
        case 10:
            if (read_repeated(r, wt, 8, &pb->typed[F_DOUBLE], NULL, NULL, why)) return -1;
            break;
        case 11:
            if (read_repeated(r, wt, 0, &pb->typed[F_UINT64], NULL, NULL, why)) return -1;
            break;
        case 14: /* data_location */
            if (wt != 0) return *why = "wrong wire type for data_location", -1;
            if (rd_varint(r, &v)) return *why = "truncated varint", -1;
            if (v == 1) return *why = "external data (data_location EXTERNAL) is not supported in tensor files", -1;
            break;
        default:
            if (skip_field(r, wt, field, 0, why)) return -1;
        }
    }
    return 0;
}

/* Which typed field carries each dtype, per onnx.proto, and how many values per element. */
static int typed_field_for(int32_t dtype, int *per_elem) {
    *per_elem = 1;
    switch (dtype) {
    case ONNXC_DT_FLOAT: return F_FLOAT;
    case ONNXC_DT_COMPLEX64: *per_elem = 2; return F_FLOAT;
    case ONNXC_DT_DOUBLE: return F_DOUBLE;
    case ONNXC_DT_COMPLEX128: *per_elem = 2; return F_DOUBLE;
    case ONNXC_DT_INT64: return F_INT64;
    case ONNXC_DT_UINT32: case ONNXC_DT_UINT64: return F_UINT64;
    default: return F_INT32;   /* int32, the small ints, bool, float16/bfloat16/float8 bits */
    }
}

static void convert_typed(const vec_t *src, int field, int32_t dtype, void *dst, size_t count) {
    size_t es = onnxc_dtype_size(dtype);
    if (field == F_FLOAT || field == F_DOUBLE || dtype == ONNXC_DT_INT64 || dtype == ONNXC_DT_UINT64) {
        memcpy(dst, src->p, count * src->esz);
        return;
    }
    const uint64_t *s = (const uint64_t *)src->p;
    uint8_t *d = dst;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = s[i];
        if (dtype == ONNXC_DT_BOOL) v = v != 0;
        /* little-endian truncation to the element width */
        memcpy(d + i * es, &v, es);
    }
}

static int read_pb(const char *path, const uint8_t *buf, size_t len, onnxc_tensor_t *t,
                   char *err, size_t errlen) {
    pb_t pb;
    memset(&pb, 0, sizeof pb);
    pb.typed[F_FLOAT].esz = 4;
    pb.typed[F_DOUBLE].esz = 8;
    pb.typed[F_INT32].esz = pb.typed[F_INT64].esz = pb.typed[F_UINT64].esz = 8;
    rd_t r = {buf, buf, buf + len};
    const char *why = NULL;
    int rc = -1;
    if (pb_parse(&r, &pb, &why)) {
        fail(err, errlen, path, "malformed TensorProto: %s (at byte %zu)", why, (size_t)(r.p - r.begin));
        goto out;
    }
    if (!pb.have_dtype || pb.dtype == 0) {
        fail(err, errlen, path, "not a TensorProto: data_type is missing");
        goto out;
    }
    if (pb.dtype == ONNXC_DT_STRING) {
        fail(err, errlen, path, "string tensors are not supported");
        goto out;
    }
    if (onnxc_dtype_size(pb.dtype) == 0) {
        fail(err, errlen, path, "unsupported data_type %d", (int)pb.dtype);
        goto out;
    }
    for (int i = 0; i < pb.rank; i++)
        if (pb.dims[i] < 0) {
            fail(err, errlen, path, "dim %d is negative (%lld)", i, (long long)pb.dims[i]);
            goto out;
        }
    size_t nelem, nbytes;
    if (onnxc_tensor_bytes(pb.dtype, pb.rank, pb.dims, &nelem, &nbytes)) {
        fail(err, errlen, path, "dims product overflows");
        goto out;
    }
    int n_typed = 0, which = -1;
    for (int f = 0; f < N_TYPED; f++)
        if (pb.typed[f].n) n_typed++, which = f;
    if (n_typed > 1 || (n_typed && pb.have_raw)) {
        fail(err, errlen, path, "data is given in more than one field");
        goto out;
    }
    int per_elem, want = typed_field_for(pb.dtype, &per_elem);
    /* sub-byte kinds: raw_data and int32_data (one packed byte per value) hold the packed
     * bytes, nelem of them when each element has a byte */
    int sub = file_bits(pb.dtype) < 8;
    size_t fbytes = sub ? packed_bytes(pb.dtype, nelem) : nbytes, fvals = sub ? fbytes : nelem;
    if (pb.have_raw) {
        if (pb.raw_len != fbytes) {
            fail(err, errlen, path, "raw_data has %zu bytes but dims need %zu", pb.raw_len, fbytes);
            goto out;
        }
    } else if (n_typed) {
        if (which != want) {
            fail(err, errlen, path, "%s data given in %s", onnxc_dtype_name(pb.dtype), typed_field_name[which]);
            goto out;
        }
        if (pb.typed[which].n / (size_t)per_elem != fvals || pb.typed[which].n % (size_t)per_elem) {
            fail(err, errlen, path, "%s has %zu values but dims need %zu", typed_field_name[which],
                 pb.typed[which].n, fvals * (size_t)per_elem);
            goto out;
        }
    } else if (nelem != 0) {
        fail(err, errlen, path, "no data for %zu elements", nelem);
        goto out;
    }
    void *data = alloc64(nbytes);
    if (!data) {
        fail(err, errlen, path, "out of memory (%zu bytes)", nbytes);
        goto out;
    }
    if (sub && (pb.have_raw || n_typed)) {
        const uint8_t *packed = pb.raw;
        uint8_t *conv = NULL;
        if (!pb.have_raw) {
            conv = malloc(fbytes ? fbytes : 1);
            if (!conv) {
                free(data);
                fail(err, errlen, path, "out of memory (%zu bytes)", fbytes);
                goto out;
            }
            convert_typed(&pb.typed[which], which, ONNXC_DT_UINT8, conv, fbytes);
            packed = conv;
        }
        unpack_sub_byte(pb.dtype, data, packed, nelem);
        free(conv);
    } else if (pb.have_raw)
        memcpy(data, pb.raw, nbytes);
    else if (n_typed)
        convert_typed(&pb.typed[which], which, pb.dtype, data, nelem * (size_t)per_elem);
    memcpy(t->name, pb.name, sizeof t->name);
    t->dtype = pb.dtype;
    t->rank = pb.rank;
    memcpy(t->dims, pb.dims, sizeof t->dims);
    t->data = data;
    t->nbytes = nbytes;
    rc = 0;
out:
    for (int f = 0; f < N_TYPED; f++) free(pb.typed[f].p);
    return rc;
}

/* ---- .npy decoding ---------------------------------------------------------------- */

/* The header is a Python dict literal, e.g.
 * {'descr': '<f4', 'fortran_order': False, 'shape': (5, 784), } */
typedef struct {
    const char *p, *end;
} hp_t;

static void hp_ws(hp_t *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int hp_eat(hp_t *h, char c) {
    hp_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

static int hp_string(hp_t *h, char *out, size_t cap) {
    hp_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return -1;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (n + 1 >= cap) return -1;
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return -1;
    h->p++;
    out[n] = 0;
    return 0;
}

static int npy_dtype(const char *descr) {
    char d[8];
    if (strlen(descr) < 3 || strlen(descr) > 4) return -1;
    strcpy(d, descr);
    if (d[0] == '=') d[0] = '<';
    /* one-byte types have no byte order; accept any marker but big-endian is refused below */
    if (d[0] != '>' && (!strcmp(d + 1, "b1") || !strcmp(d + 1, "u1") || !strcmp(d + 1, "i1"))) d[0] = '|';
    for (int32_t i = 0; i < N_DTYPES; i++)
        if (dtype_table[i].npy && !strcmp(dtype_table[i].npy, d)) return i;
    return -1;
}

static int read_npy(const char *path, const uint8_t *buf, size_t len, onnxc_tensor_t *t,
                    char *err, size_t errlen) {
    if (len < 10 || memcmp(buf, npy_magic, 6) != 0) return fail(err, errlen, path, "not a .npy file (bad magic)");
    int major = buf[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return fail(err, errlen, path, "truncated .npy header");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else {
        return fail(err, errlen, path, "unsupported .npy version %d", major);
    }
    if (hlen > len - off) return fail(err, errlen, path, "truncated .npy header");
    hp_t h = {(const char *)buf + off, (const char *)buf + off + hlen};
    char descr[16] = "", key[32];
    int have_descr = 0, have_shape = 0, have_fo = 0, fortran = 0, rank = 0;
    int64_t dims[ONNXC_TENSOR_MAX_RANK];
    if (!hp_eat(&h, '{')) return fail(err, errlen, path, "malformed .npy header");
    while (!hp_eat(&h, '}')) {
        if (hp_string(&h, key, sizeof key) || !hp_eat(&h, ':'))
            return fail(err, errlen, path, "malformed .npy header");
        if (!strcmp(key, "descr")) {
            if (hp_string(&h, descr, sizeof descr))
                return fail(err, errlen, path, "unsupported .npy descr (structured or too long)");
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            hp_ws(&h);
            size_t rem = (size_t)(h.end - h.p);
            if (rem >= 4 && !memcmp(h.p, "True", 4)) fortran = 1, h.p += 4;
            else if (rem >= 5 && !memcmp(h.p, "False", 5)) fortran = 0, h.p += 5;
            else return fail(err, errlen, path, "malformed .npy header (fortran_order)");
            have_fo = 1;
        } else if (!strcmp(key, "shape")) {
            if (!hp_eat(&h, '(')) return fail(err, errlen, path, "malformed .npy header (shape)");
            while (!hp_eat(&h, ')')) {
                hp_ws(&h);
                if (h.p >= h.end || *h.p < '0' || *h.p > '9')
                    return fail(err, errlen, path, "malformed .npy header (shape)");
                int64_t v = 0;
                while (h.p < h.end && *h.p >= '0' && *h.p <= '9') {
                    if (v > (INT64_MAX - 9) / 10) return fail(err, errlen, path, "dims product overflows");
                    v = v * 10 + (*h.p++ - '0');
                }
                hp_ws(&h);
                if (h.p < h.end && *h.p == 'L') h.p++;   /* Python 2 longs */
                if (rank >= ONNXC_TENSOR_MAX_RANK) return fail(err, errlen, path, "more than 8 dims");
                dims[rank++] = v;
                if (!hp_eat(&h, ',')) {
                    if (!hp_eat(&h, ')')) return fail(err, errlen, path, "malformed .npy header (shape)");
                    break;
                }
            }
            have_shape = 1;
        } else {
            return fail(err, errlen, path, "unexpected key '%s' in .npy header", key);
        }
        if (!hp_eat(&h, ',')) {
            if (!hp_eat(&h, '}')) return fail(err, errlen, path, "malformed .npy header");
            break;
        }
    }
    if (!have_descr || !have_shape || !have_fo) return fail(err, errlen, path, "incomplete .npy header");
    if (fortran) return fail(err, errlen, path, "fortran_order True is not supported");
    int dtype = npy_dtype(descr);
    if (dtype < 0) return fail(err, errlen, path, "unsupported .npy dtype '%s'", descr);
    size_t nelem, nbytes;
    if (onnxc_tensor_bytes(dtype, rank, dims, &nelem, &nbytes))
        return fail(err, errlen, path, "dims product overflows");
    size_t avail = len - off - hlen;
    if (avail != nbytes)
        return fail(err, errlen, path, "data has %zu bytes but the shape needs %zu", avail, nbytes);
    void *data = alloc64(nbytes);
    if (!data) return fail(err, errlen, path, "out of memory (%zu bytes)", nbytes);
    memcpy(data, buf + off + hlen, nbytes);
    t->name[0] = 0;
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->dims, dims, sizeof dims[0] * (size_t)rank);
    t->data = data;
    t->nbytes = nbytes;
    return 0;
}

/* ---- public read/free ------------------------------------------------------------- */

int onnxc_tensor_read(const char *path, onnxc_tensor_t *t, char *err, size_t errlen) {
    if (!t) return -1;
    memset(t, 0, sizeof *t);
    if (!path) return fail(err, errlen, "(null)", "no path");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_whole_file(path, &buf, &len, err, errlen)) return -1;
    const char *ext = extension(path);
    int is_npy;
    if (!strcmp(ext, ".npy")) is_npy = 1;
    else if (!strcmp(ext, ".pb")) is_npy = 0;
    else is_npy = len >= 6 && !memcmp(buf, npy_magic, 6);
    int rc = is_npy ? read_npy(path, buf, len, t, err, errlen) : read_pb(path, buf, len, t, err, errlen);
    free(buf);
    if (rc) memset(t, 0, sizeof *t);
    return rc;
}

void onnxc_tensor_free(onnxc_tensor_t *t) {
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

/* ---- writers ---------------------------------------------------------------------- */

static size_t put_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Writes head then body, removing the file if anything fails. */
static int write_file(const char *path, const void *head, size_t hlen, const void *body,
                      size_t blen, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) return fail(err, errlen, path, "cannot create: %s", strerror(errno));
    int ok = fwrite(head, 1, hlen, f) == hlen && (blen == 0 || fwrite(body, 1, blen, f) == blen);
    int e = errno;
    if (fclose(f) != 0 && ok) ok = 0, e = errno;
    if (!ok) {
        remove(path);
        return fail(err, errlen, path, "write failed: %s", strerror(e));
    }
    return 0;
}

int onnxc_tensor_write_pb(const char *path, const char *name, int32_t dtype, int32_t rank,
                          const int64_t *dims, const void *data, char *err, size_t errlen) {
    if (!path) return fail(err, errlen, "(null)", "no path");
    size_t nbytes;
    if (onnxc_tensor_bytes(dtype, rank, dims, NULL, &nbytes))
        return fail(err, errlen, path, "invalid dtype %d or dims", (int)dtype);
    if (nbytes && !data) return fail(err, errlen, path, "no data");
    uint8_t *packed = NULL;
    if (file_bits(dtype) < 8) {   /* nbytes is the element count */
        packed = malloc(packed_bytes(dtype, nbytes) + 1);
        if (!packed) return fail(err, errlen, path, "out of memory");
        pack_sub_byte(dtype, packed, data, nbytes);
        data = packed;
        nbytes = packed_bytes(dtype, nbytes);
    }
    size_t name_len = name ? strlen(name) : 0;
    /* dims (unpacked, as onnx writes them), data_type, name, then the raw_data key+length */
    size_t cap = (size_t)rank * 11 + 11 + 11 + name_len + 11 + 11;
    uint8_t *head = malloc(cap);
    if (!head) {
        free(packed);
        return fail(err, errlen, path, "out of memory");
    }
    size_t n = 0;
    for (int32_t i = 0; i < rank; i++) {
        head[n++] = 0x08;
        n += put_varint(head + n, (uint64_t)dims[i]);
    }
    head[n++] = 0x10;
    n += put_varint(head + n, (uint64_t)dtype);
    if (name_len) {
        head[n++] = 0x42;
        n += put_varint(head + n, name_len);
        memcpy(head + n, name, name_len);
        n += name_len;
    }
    head[n++] = 0x4a;
    n += put_varint(head + n, nbytes);
    int rc = write_file(path, head, n, data, nbytes, err, errlen);
    free(head);
    free(packed);
    return rc;
}

int onnxc_tensor_write_npy(const char *path, int32_t dtype, int32_t rank, const int64_t *dims,
                           const void *data, char *err, size_t errlen) {
    if (!path) return fail(err, errlen, "(null)", "no path");
    size_t nbytes;
    if (onnxc_tensor_bytes(dtype, rank, dims, NULL, &nbytes))
        return fail(err, errlen, path, "invalid dtype %d or dims", (int)dtype);
    if (!dtype_table[dtype].npy)
        return fail(err, errlen, path, "%s has no NumPy equivalent", onnxc_dtype_name(dtype));
    if (nbytes && !data) return fail(err, errlen, path, "no data");
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype_table[dtype].npy);
    for (int32_t i = 0; i < rank; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", rank == 1 ? "," : "");
    /* version 1.0; pad with spaces and end in '\n' so data starts 64-byte aligned */
    size_t total = ((size_t)k + 10 + 1 + 63) / 64 * 64;
    uint8_t head[640];
    memcpy(head, npy_magic, 6);
    head[6] = 1;
    head[7] = 0;
    size_t hlen = total - 10;
    head[8] = (uint8_t)(hlen & 0xff);
    head[9] = (uint8_t)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)k);
    memset(head + 10 + k, ' ', total - 10 - (size_t)k - 1);
    head[total - 1] = '\n';
    return write_file(path, head, total, data, nbytes, err, errlen);
}
