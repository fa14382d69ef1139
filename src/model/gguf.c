/* GGUF v2/v3 reader. The whole file is mmapped read-only; every read goes
 * through a cursor that checks the remaining bytes first, and every count is
 * bounded by what the rest of the file could possibly hold before anything is
 * allocated for it, so a hostile header cannot make us allocate or read much. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor.h"

#define GGUF_MAX_NAME 95        /* bd_tensor.name holds 95 chars + NUL */
#define GGUF_MAX_DEPTH 4        /* nested arrays deeper than this are refused */
#define GGUF_MAX_ALIGN (1u << 20)
/* Far above any real file (tens of keys, a few thousand tensors) and low
 * enough that the tables of a hostile file stay small. */
#define GGUF_MAX_KV (1u << 16)
#define GGUF_MAX_TENSORS (1u << 20)

typedef struct cur {
    const char *path;
    const uint8_t *base;
    size_t size, pos;
    bd_err *err;
} cur;

static int need(cur *c, uint64_t n, const char *what)
{
    if (n > c->size - c->pos)
        return bd_fail(c->err, BD_EINPUT,
                       "%s: offset %zu: truncated: %s needs %llu bytes, only %zu left in the file",
                       c->path, c->pos, what, (unsigned long long)n, c->size - c->pos);
    return 0;
}

static int rd(cur *c, void *dst, size_t n, const char *what)
{
    int rc = need(c, n, what);
    if (rc) return rc;
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_u32(cur *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }
static int rd_u64(cur *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }

static int rd_str(cur *c, bd_gguf_str *s, const char *what)
{
    size_t at = c->pos;
    int rc = rd_u64(c, &s->len, what);
    if (rc) return rc;
    if (s->len > c->size - c->pos)
        return bd_fail(c->err, BD_EINPUT,
                       "%s: offset %zu: %s: string length %llu exceeds the %zu bytes left in the file",
                       c->path, at, what, (unsigned long long)s->len, c->size - c->pos);
    s->ptr = (const char *)c->base + c->pos;
    c->pos += (size_t)s->len;
    return 0;
}

/* Size of one element of a fixed-size GGUF value type; 0 for string/array/unknown. */
static size_t scalar_size(uint32_t t)
{
    switch (t) {
    case BD_GGUF_U8: case BD_GGUF_I8: case BD_GGUF_BOOL: return 1;
    case BD_GGUF_U16: case BD_GGUF_I16: return 2;
    case BD_GGUF_U32: case BD_GGUF_I32: case BD_GGUF_F32: return 4;
    case BD_GGUF_U64: case BD_GGUF_I64: case BD_GGUF_F64: return 8;
    default: return 0;
    }
}

static const char *vtype_name(uint32_t t)
{
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "string", "array", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Reads one scalar of fixed size into kv->v. */
static void decode_scalar(uint32_t t, const uint8_t *p, bd_gguf_kv *kv)
{
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
    float f32; uint64_t u64; int64_t i64; double f64;
    switch (t) {
    case BD_GGUF_U8: case BD_GGUF_BOOL: memcpy(&u8, p, 1); kv->v.u = u8; break;
    case BD_GGUF_I8: memcpy(&i8, p, 1); kv->v.i = i8; break;
    case BD_GGUF_U16: memcpy(&u16, p, 2); kv->v.u = u16; break;
    case BD_GGUF_I16: memcpy(&i16, p, 2); kv->v.i = i16; break;
    case BD_GGUF_U32: memcpy(&u32, p, 4); kv->v.u = u32; break;
    case BD_GGUF_I32: memcpy(&i32, p, 4); kv->v.i = i32; break;
    case BD_GGUF_F32: memcpy(&f32, p, 4); kv->v.f = f32; break;
    case BD_GGUF_U64: memcpy(&u64, p, 8); kv->v.u = u64; break;
    case BD_GGUF_I64: memcpy(&i64, p, 8); kv->v.i = i64; break;
    case BD_GGUF_F64: memcpy(&f64, p, 8); kv->v.f = f64; break;
    default: break;
    }
}

/* Skips an array body (used for nested arrays, which we accept but do not expose). */
static int skip_array(cur *c, int depth, const char *key)
{
    size_t at = c->pos;
    uint32_t t;
    uint64_t n;
    int rc;
    if (depth > GGUF_MAX_DEPTH)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: key '%s': arrays nested deeper than %d",
                       c->path, at, key, GGUF_MAX_DEPTH);
    if ((rc = rd_u32(c, &t, "array type")) || (rc = rd_u64(c, &n, "array length"))) return rc;
    size_t es = scalar_size(t);
    if (es) {
        if (n > (c->size - c->pos) / es)
            return bd_fail(c->err, BD_EINPUT,
                           "%s: offset %zu: key '%s': array of %llu %s exceeds the file size",
                           c->path, at, key, (unsigned long long)n, vtype_name(t));
        c->pos += (size_t)(n * es);
        return 0;
    }
    if (t != BD_GGUF_STRING && t != BD_GGUF_ARRAY)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: key '%s': unknown array element type %u",
                       c->path, at, key, t);
    /* Every string or array element occupies at least 8 bytes. */
    if (n > (c->size - c->pos) / 8)
        return bd_fail(c->err, BD_EINPUT,
                       "%s: offset %zu: key '%s': array of %llu elements exceeds the file size",
                       c->path, at, key, (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        bd_gguf_str s;
        rc = t == BD_GGUF_STRING ? rd_str(c, &s, "array string") : skip_array(c, depth + 1, key);
        if (rc) return rc;
    }
    return 0;
}

static int keyeq(bd_gguf_str s, const char *key)
{
    size_t n = strlen(key);
    return s.len == n && memcmp(s.ptr, key, n) == 0;
}

/* A key as a printable C string for messages (truncated, NUL-terminated). */
static void keystr(bd_gguf_str s, char *buf, size_t cap)
{
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    buf[n] = 0;
}

static int read_kv(cur *c, bd_gguf_kv *kv)
{
    char key[128];
    size_t at = c->pos;
    int rc = rd_str(c, &kv->key, "metadata key");
    if (rc) return rc;
    keystr(kv->key, key, sizeof key);
    if (kv->key.len == 0)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: empty metadata key", c->path, at);
    uint32_t t;
    if ((rc = rd_u32(c, &t, "value type"))) return rc;
    kv->type = (bd_gguf_type)t;
    kv->offset = c->pos;
    size_t es = scalar_size(t);
    if (es) {
        if ((rc = need(c, es, "value"))) return rc;
        decode_scalar(t, c->base + c->pos, kv);
        if (t == BD_GGUF_BOOL && kv->v.u > 1)
            return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: key '%s': expected bool 0 or 1, got %llu",
                           c->path, c->pos, key, (unsigned long long)kv->v.u);
        c->pos += es;
        return 0;
    }
    if (t == BD_GGUF_STRING) return rd_str(c, &kv->v.s, key);
    if (t != BD_GGUF_ARRAY)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: key '%s': unknown value type %u",
                       c->path, c->pos - 4, key, t);
    uint32_t at_;
    size_t arr_at = c->pos;
    if ((rc = rd_u32(c, &at_, "array type")) || (rc = rd_u64(c, &kv->arr_len, "array length")))
        return rc;
    kv->arr_type = (bd_gguf_type)at_;
    es = scalar_size(at_);
    if (es) {
        if (kv->arr_len > (c->size - c->pos) / es)
            return bd_fail(c->err, BD_EINPUT,
                           "%s: offset %zu: key '%s': array of %llu %s needs more bytes than the file has",
                           c->path, arr_at, key, (unsigned long long)kv->arr_len, vtype_name(at_));
        kv->arr_data = c->base + c->pos;
        c->pos += (size_t)(kv->arr_len * es);
        return 0;
    }
    if (at_ == BD_GGUF_ARRAY) {
        /* Nested arrays: validated and skipped; arr_data points at the raw body. */
        c->pos = arr_at;
        kv->arr_data = c->base + c->pos;
        return skip_array(c, 1, key);
    }
    if (at_ != BD_GGUF_STRING)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: key '%s': unknown array element type %u",
                       c->path, arr_at, key, at_);
    if (kv->arr_len > (c->size - c->pos) / 8)
        return bd_fail(c->err, BD_EINPUT,
                       "%s: offset %zu: key '%s': array of %llu strings needs more bytes than the file has",
                       c->path, arr_at, key, (unsigned long long)kv->arr_len);
    kv->arr_strs = calloc(kv->arr_len ? (size_t)kv->arr_len : 1, sizeof *kv->arr_strs);
    if (!kv->arr_strs) return bd_oom(c->err, "GGUF string array");
    for (uint64_t i = 0; i < kv->arr_len; i++)
        if ((rc = rd_str(c, &kv->arr_strs[i], key))) return rc;
    return 0;
}

static int read_tensor_info(cur *c, bd_gguf_tensor *t)
{
    size_t at = c->pos;
    char name[128];
    int rc = rd_str(c, &t->name, "tensor name");
    if (rc) return rc;
    keystr(t->name, name, sizeof name);
    if (t->name.len == 0 || t->name.len > GGUF_MAX_NAME)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: tensor name length %llu, expected 1..%d",
                       c->path, at, (unsigned long long)t->name.len, GGUF_MAX_NAME);
    size_t dat = c->pos;
    if ((rc = rd_u32(c, &t->n_dims, "tensor n_dims"))) return rc;
    if (t->n_dims < 1 || t->n_dims > 4)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: tensor '%s': n_dims %u, expected 1..4",
                       c->path, dat, name, t->n_dims);
    for (uint32_t d = 0; d < 4; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        size_t dimat = c->pos;
        if ((rc = rd_u64(c, &t->dims[d], "tensor dim"))) return rc;
        if (t->dims[d] == 0 || t->dims[d] > (uint64_t)INT64_MAX)
            return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: tensor '%s': dim %u is %llu, expected 1..2^63-1",
                           c->path, dimat, name, d, (unsigned long long)t->dims[d]);
    }
    size_t tat = c->pos;
    if ((rc = rd_u32(c, &t->ggml_type, "tensor type")) || (rc = rd_u64(c, &t->offset, "tensor offset")))
        return rc;
    int dt = bd_gguf_dtype(t->ggml_type);
    if (dt < 0)
        return bd_fail(c->err, BD_EUNSUP,
                       "%s: offset %zu: tensor '%s': unsupported tensor type %u (%s); supported: "
                       "f32, f16, bf16, q8_0, q4_0, q4_1, q4_K, q5_K, q6_K",
                       c->path, tat, name, t->ggml_type, bd_gguf_type_name(t->ggml_type));
    t->dtype = dt;
    /* Element count and byte size, with overflow checks. */
    uint64_t nel = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] > (uint64_t)INT64_MAX / nel)
            return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: tensor '%s': element count overflows",
                           c->path, dat, name);
        nel *= t->dims[d];
    }
    uint64_t be = (uint64_t)bd_dtype_block_elems((bd_dtype)dt), bb = bd_dtype_block_bytes((bd_dtype)dt);
    if (t->dims[0] % be)
        return bd_fail(c->err, BD_EINPUT,
                       "%s: offset %zu: tensor '%s': row length %llu is not a multiple of the %s block size %llu",
                       c->path, dat, name, (unsigned long long)t->dims[0], bd_dtype_name((bd_dtype)dt),
                       (unsigned long long)be);
    uint64_t nblk = nel / be;
    if (nblk > UINT64_MAX / bb)
        return bd_fail(c->err, BD_EINPUT, "%s: offset %zu: tensor '%s': byte size overflows",
                       c->path, dat, name);
    t->nbytes = nblk * bb;
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    const bd_gguf_str *x = *(const bd_gguf_str *const *)a, *y = *(const bd_gguf_str *const *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    int c = memcmp(x->ptr, y->ptr, (size_t)x->len);
    if (c) return c;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr; /* file order among equals */
}

/* Keys (kv = 1) or tensor names must be unique; sorting keeps this
 * O(n log n) for hostile counts. */
static int check_unique(const bd_gguf *g, int kv, bd_err *err)
{
    uint64_t n = kv ? g->n_kv : g->n_tensors;
    if (n < 2) return 0;
    const bd_gguf_str **v = malloc((size_t)n * sizeof *v);
    if (!v) return bd_oom(err, "GGUF name index");
    for (uint64_t i = 0; i < n; i++) v[i] = kv ? &g->kv[i].key : &g->tensors[i].name;
    qsort(v, (size_t)n, sizeof *v, cmp_str_ptr);
    int rc = 0;
    for (uint64_t i = 1; i < n && !rc; i++)
        if (v[i]->len == v[i - 1]->len && !memcmp(v[i]->ptr, v[i - 1]->ptr, (size_t)v[i]->len)) {
            char name[128];
            keystr(*v[i], name, sizeof name);
            rc = bd_fail(err, BD_EINPUT, "%s: offset %zu: duplicate %s '%s'", g->path,
                         (size_t)((const uint8_t *)v[i]->ptr - g->base) - 8, kv ? "metadata key" : "tensor name", name);
        }
    free(v);
    return rc;
}

int bd_gguf_parse(const char *path, const void *base, size_t size, bd_gguf **out, bd_err *err)
{
    *out = NULL;
    bd_gguf *g = calloc(1, sizeof *g);
    if (!g) return bd_oom(err, "GGUF reader");
    snprintf(g->path, sizeof g->path, "%s", path);
    g->base = base;
    g->size = size;
    cur c = {g->path, base, size, 0, err};
    int rc;
    uint8_t magic[4];
    if ((rc = rd(&c, magic, 4, "GGUF magic"))) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        rc = bd_fail(err, BD_EINPUT, "%s: offset 0: expected GGUF magic 'GGUF', got %02x %02x %02x %02x",
                     g->path, magic[0], magic[1], magic[2], magic[3]);
        goto fail;
    }
    if ((rc = rd_u32(&c, &g->version, "GGUF version"))) goto fail;
    if (g->version != 2 && g->version != 3) {
        uint32_t sw = __builtin_bswap32(g->version);
        rc = bd_fail(err, BD_EINPUT, "%s: offset 4: GGUF version %u%s, expected 2 or 3", g->path, g->version,
                     (sw == 2 || sw == 3) ? " (a big-endian file, which is not supported)" : "");
        goto fail;
    }
    if ((rc = rd_u64(&c, &g->n_tensors, "tensor count")) || (rc = rd_u64(&c, &g->n_kv, "metadata count")))
        goto fail;
    /* Bound the counts by the smallest possible record (kv: 8-byte key length +
     * 1 key byte + 4-byte type + 1-byte value; tensor info: 8+1+4+8+4+8). */
    if (g->n_kv > (size - c.pos) / 14 || g->n_kv > GGUF_MAX_KV) {
        rc = bd_fail(err, BD_EINPUT, "%s: offset 16: metadata count %llu is impossible for a %zu-byte file",
                     g->path, (unsigned long long)g->n_kv, size);
        goto fail;
    }
    if (g->n_tensors > (size - c.pos) / 33 || g->n_tensors > GGUF_MAX_TENSORS) {
        rc = bd_fail(err, BD_EINPUT, "%s: offset 8: tensor count %llu is impossible for a %zu-byte file",
                     g->path, (unsigned long long)g->n_tensors, size);
        goto fail;
    }
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) { rc = bd_oom(err, "GGUF tables"); goto fail; }
    for (uint64_t i = 0; i < g->n_kv; i++)
        if ((rc = read_kv(&c, &g->kv[i]))) goto fail;
    if ((rc = check_unique(g, 1, err))) goto fail;
    g->alignment = 32;
    const bd_gguf_kv *al = bd_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != BD_GGUF_U32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) || al->v.u > GGUF_MAX_ALIGN) {
            rc = bd_fail(err, BD_EINPUT,
                         "%s: offset %llu: key 'general.alignment': expected a u32 power of two <= %u, got %s %llu",
                         g->path, (unsigned long long)al->offset, GGUF_MAX_ALIGN, vtype_name(al->type),
                         (unsigned long long)al->v.u);
            goto fail;
        }
        g->alignment = al->v.u;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((rc = read_tensor_info(&c, &g->tensors[i]))) goto fail;
    if ((rc = check_unique(g, 0, err))) goto fail;
    /* The data section starts at the next multiple of the alignment. */
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_offset = c.pos + pad;
    if (g->n_tensors && g->data_offset > size) {
        rc = bd_fail(err, BD_EINPUT, "%s: offset %zu: truncated: data section would start at %llu, past the end (%zu)",
                     g->path, c.pos, (unsigned long long)g->data_offset, size);
        goto fail;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        bd_gguf_tensor *t = &g->tensors[i];
        char name[128];
        keystr(t->name, name, sizeof name);
        if (t->offset % g->alignment) {
            rc = bd_fail(err, BD_EINPUT, "%s: tensor '%s': data offset %llu is not a multiple of the alignment %llu",
                         g->path, name, (unsigned long long)t->offset, (unsigned long long)g->alignment);
            goto fail;
        }
        uint64_t avail = size - g->data_offset;
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            rc = bd_fail(err, BD_EINPUT,
                         "%s: tensor '%s': data at offset %llu + %llu bytes (file offset %llu) extends past the end of the file (%zu bytes)",
                         g->path, name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                         (unsigned long long)(g->data_offset + t->offset), size);
            goto fail;
        }
        t->data = g->base + g->data_offset + t->offset;
    }
    *out = g;
    return 0;
fail:
    g->mapped = 0;
    bd_gguf_close(g);
    return rc;
}

int bd_gguf_open(const char *path, bd_gguf **out, bd_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return bd_fail(err, BD_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return bd_fail(err, BD_EINPUT, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 24) {
        close(fd);
        return bd_fail(err, BD_EINPUT, "%s: offset 0: file of %zu bytes is too short for a GGUF header (24 bytes)",
                       path, size);
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return bd_fail(err, BD_EIO, "%s: mmap failed: %s", path, strerror(e));
    int rc = bd_gguf_parse(path, p, size, out, err);
    if (rc) {
        munmap(p, size);
        return rc;
    }
    (*out)->mapped = 1;
    return 0;
}

void bd_gguf_close(bd_gguf *g)
{
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kv[i].arr_strs);
    free(g->kv);
    free(g->tensors);
    if (g->mapped && g->base) munmap((void *)g->base, g->size);
    free(g);
}

const bd_gguf_kv *bd_gguf_find(const bd_gguf *g, const char *key)
{
    if (!g || !key) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.ptr && keyeq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const bd_gguf_tensor *bd_gguf_find_tensor(const bd_gguf *g, const char *name)
{
    if (!g || !name) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (keyeq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int wrong_type(const bd_gguf *g, const bd_gguf_kv *kv, const char *key, const char *expected,
                      bd_err *err)
{
    return bd_fail(err, BD_EINPUT, "%s: offset %llu: key '%s': expected %s, got %s", g->path,
                   (unsigned long long)kv->offset, key, expected, vtype_name(kv->type));
}

int bd_gguf_get_u64(const bd_gguf *g, const char *key, uint64_t *out, bd_err *err)
{
    const bd_gguf_kv *kv = bd_gguf_find(g, key);
    if (!kv) return 1;
    switch (kv->type) {
    case BD_GGUF_U8: case BD_GGUF_U16: case BD_GGUF_U32: case BD_GGUF_U64:
        *out = kv->v.u;
        return 0;
    case BD_GGUF_I8: case BD_GGUF_I16: case BD_GGUF_I32: case BD_GGUF_I64:
        if (kv->v.i < 0)
            return bd_fail(err, BD_EINPUT, "%s: offset %llu: key '%s': expected a non-negative integer, got %lld",
                           g->path, (unsigned long long)kv->offset, key, (long long)kv->v.i);
        *out = (uint64_t)kv->v.i;
        return 0;
    default:
        return wrong_type(g, kv, key, "an unsigned integer", err);
    }
}

int bd_gguf_get_f64(const bd_gguf *g, const char *key, double *out, bd_err *err)
{
    const bd_gguf_kv *kv = bd_gguf_find(g, key);
    if (!kv) return 1;
    switch (kv->type) {
    case BD_GGUF_F32: case BD_GGUF_F64: *out = kv->v.f; return 0;
    case BD_GGUF_U8: case BD_GGUF_U16: case BD_GGUF_U32: case BD_GGUF_U64: *out = (double)kv->v.u; return 0;
    case BD_GGUF_I8: case BD_GGUF_I16: case BD_GGUF_I32: case BD_GGUF_I64: *out = (double)kv->v.i; return 0;
    default: return wrong_type(g, kv, key, "a number", err);
    }
}

int bd_gguf_get_str(const bd_gguf *g, const char *key, bd_gguf_str *out, bd_err *err)
{
    const bd_gguf_kv *kv = bd_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != BD_GGUF_STRING) return wrong_type(g, kv, key, "a string", err);
    *out = kv->v.s;
    return 0;
}

int bd_gguf_get_bool(const bd_gguf *g, const char *key, int *out, bd_err *err)
{
    const bd_gguf_kv *kv = bd_gguf_find(g, key);
    if (!kv) return 1;
    switch (kv->type) {
    case BD_GGUF_BOOL: case BD_GGUF_U8: case BD_GGUF_U16: case BD_GGUF_U32: case BD_GGUF_U64:
        *out = kv->v.u != 0;
        return 0;
    case BD_GGUF_I8: case BD_GGUF_I16: case BD_GGUF_I32: case BD_GGUF_I64:
        *out = kv->v.i != 0;
        return 0;
    default:
        return wrong_type(g, kv, key, "a bool", err);
    }
}

int bd_gguf_dtype(uint32_t t)
{
    switch (t) {
    case 0: return BD_F32;
    case 1: return BD_F16;
    case 2: return BD_Q4_0;
    case 3: return BD_Q4_1;
    case 8: return BD_Q8_0;
    case 12: return BD_Q4_K;
    case 13: return BD_Q5_K;
    case 14: return BD_Q6_K;
    case 30: return BD_BF16;
    default: return -1;
    }
}

const char *bd_gguf_type_name(uint32_t t)
{
    static const char *names[] = {
        "f32", "f16", "q4_0", "q4_1", "q4_2", "q4_3", "q5_0", "q5_1", "q8_0", "q8_1",
        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
        "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
        "bf16", "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}
