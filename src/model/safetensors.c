/* safetensors header parsing and validation (json-c for the JSON). */
#include "safetensors.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define ST_MAX_DEPTH 16

static int dtype_size(const char *s)
{
    static const struct { const char *n; int sz; } t[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].n)) return t[i].sz;
    return 0;
}

void bd_st_free(bd_st *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->e[i].name);
    free(s->e);
    free(s);
}

const bd_st_entry *bd_st_find(const bd_st *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].name, name)) return &s->e[i];
    return NULL;
}

static int cmp_begin(const void *a, const void *b)
{
    const bd_st_entry *x = *(const bd_st_entry *const *)a, *y = *(const bd_st_entry *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/* A JSON integer >= 0 (json-c keeps large unsigned values as uint64). */
static int get_uint(json_object *o, uint64_t *v)
{
    if (!json_object_is_type(o, json_type_int)) return -1;
    int64_t i = json_object_get_int64(o);
    if (i < 0) return -1;
    if (i == INT64_MAX) *v = json_object_get_uint64(o);
    else *v = (uint64_t)i;
    return 0;
}

static int parse_entry(const char *path, const char *name, json_object *o, const uint8_t *data, uint64_t dsize,
                       bd_st_entry *e, bd_err *err)
{
    json_object *dt, *sh, *off;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "dtype", &dt) ||
        !json_object_object_get_ex(o, "shape", &sh) || !json_object_object_get_ex(o, "data_offsets", &off))
        return bd_fail(err, BD_EINPUT, "%s: header key '%s': expected an object with dtype, shape and data_offsets",
                       path, name);
    const char *ds = json_object_is_type(dt, json_type_string) ? json_object_get_string(dt) : NULL;
    int es = ds ? dtype_size(ds) : 0;
    if (!es)
        return bd_fail(err, BD_EINPUT, "%s: header key '%s': dtype %s is not a safetensors dtype", path, name,
                       ds ? ds : "(not a string)");
    snprintf(e->dtype, sizeof e->dtype, "%s", ds);
    e->elem_size = es;
    if (!json_object_is_type(sh, json_type_array) || json_object_array_length(sh) > 8)
        return bd_fail(err, BD_EINPUT, "%s: header key '%s': shape must be an array of at most 8 integers", path, name);
    e->ndim = (int)json_object_array_length(sh);
    uint64_t nel = 1;
    for (int i = 0; i < e->ndim; i++) {
        uint64_t v;
        if (get_uint(json_object_array_get_idx(sh, (size_t)i), &v) || v > (uint64_t)INT64_MAX)
            return bd_fail(err, BD_EINPUT, "%s: header key '%s': shape[%d] is not a non-negative integer", path,
                           name, i);
        e->shape[i] = (int64_t)v;
        if (v && nel > UINT64_MAX / 8 / v)
            return bd_fail(err, BD_EINPUT, "%s: header key '%s': element count overflows", path, name);
        nel *= v;
    }
    uint64_t b, en;
    if (!json_object_is_type(off, json_type_array) || json_object_array_length(off) != 2 ||
        get_uint(json_object_array_get_idx(off, 0), &b) || get_uint(json_object_array_get_idx(off, 1), &en))
        return bd_fail(err, BD_EINPUT, "%s: header key '%s': data_offsets must be [begin, end] non-negative integers",
                       path, name);
    if (b > en || en > dsize)
        return bd_fail(err, BD_EINPUT,
                       "%s: header key '%s': data_offsets [%llu, %llu] outside the %llu-byte data section", path,
                       name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)dsize);
    if (en - b != nel * (uint64_t)es)
        return bd_fail(err, BD_EINPUT,
                       "%s: header key '%s': data_offsets span %llu bytes, but shape x %s is %llu bytes", path,
                       name, (unsigned long long)(en - b), ds, (unsigned long long)(nel * (uint64_t)es));
    e->data = data + b;
    e->nbytes = en - b;
    return 0;
}

int bd_st_parse(const char *path, const void *base_, size_t size, bd_st **out, bd_err *err)
{
    *out = NULL;
    const uint8_t *base = base_;
    if (size < 8)
        return bd_fail(err, BD_EINPUT, "%s: offset 0: %zu bytes, too short for a safetensors header length", path,
                       size);
    uint64_t hl;
    memcpy(&hl, base, 8);
    if (hl < 2 || hl > ST_MAX_HEADER || hl > size - 8)
        return bd_fail(err, BD_EINPUT,
                       "%s: offset 0: safetensors header length %llu, expected 2..%u and within the %zu-byte file",
                       path, (unsigned long long)hl, ST_MAX_HEADER, size);
    const char *js = (const char *)base + 8;
    struct json_tokener *tok = json_tokener_new_ex(ST_MAX_DEPTH);
    if (!tok) return bd_oom(err, "JSON parser");
    json_object *root = json_tokener_parse_ex(tok, js, (int)hl);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || je != json_tokener_success) {
        if (root) json_object_put(root);
        return bd_fail(err, BD_EINPUT, "%s: offset %zu: safetensors JSON header: %s", path, 8 + end,
                       je == json_tokener_continue ? "unexpected end of header" : json_tokener_error_desc(je));
    }
    for (size_t i = end; i < hl; i++)
        if (js[i] != ' ' && js[i] != '\t' && js[i] != '\n' && js[i] != '\r') {
            json_object_put(root);
            return bd_fail(err, BD_EINPUT, "%s: offset %zu: unexpected bytes after the JSON header", path, 8 + i);
        }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return bd_fail(err, BD_EINPUT, "%s: offset 8: safetensors header is not a JSON object", path);
    }
    bd_st *s = calloc(1, sizeof *s);
    int cap = json_object_object_length(root);
    if (s) s->e = calloc((size_t)(cap ? cap : 1), sizeof *s->e);
    if (!s || !s->e) {
        json_object_put(root);
        bd_st_free(s);
        return bd_oom(err, "safetensors entries");
    }
    s->header_len = hl;
    const uint8_t *data = base + 8 + hl;
    uint64_t dsize = size - 8 - hl;
    int rc = 0;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_object_is_type(val, json_type_object)) {
                rc = bd_fail(err, BD_EINPUT, "%s: header key '__metadata__': expected an object", path);
                break;
            }
            continue;
        }
        bd_st_entry *e = &s->e[s->n];
        e->name = strdup(key);
        if (!e->name) { rc = bd_oom(err, "tensor name"); break; }
        s->n++;
        if ((rc = parse_entry(path, key, val, data, dsize, e, err))) break;
    }
    json_object_put(root);
    if (!rc && s->n) {
        /* no two tensors may share bytes */
        bd_st_entry **v = malloc((size_t)s->n * sizeof *v);
        if (!v) rc = bd_oom(err, "safetensors index");
        for (int i = 0; v && i < s->n; i++) v[i] = &s->e[i];
        if (v) qsort(v, (size_t)s->n, sizeof *v, cmp_begin);
        for (int i = 1; v && i < s->n && !rc; i++)
            if (v[i]->data < v[i - 1]->data + v[i - 1]->nbytes)
                rc = bd_fail(err, BD_EINPUT, "%s: tensors '%s' and '%s' overlap in the data section", path,
                             v[i - 1]->name, v[i]->name);
        free(v);
    }
    if (rc) {
        bd_st_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
