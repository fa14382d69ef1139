/* Saving and restoring a transformed model ("BDQ1" files), so that AWQ or
 * Wanda calibration runs once. The file holds what the transform changed,
 * bit for bit, and names the base model by the sha256 of its weight files;
 * loading applies it to that base model (biasdrift --accel FILE.bdq).
 *
 * Layout (little endian):
 *   "BDQ1"  u32 version (1)  u64 json_len  json  zero padding to 64
 *   blobs, each starting at a multiple of 64 from the start of the blob area
 * json: {"format": "biasdrift-accel", "version": 1, "spec": CANON,
 *        "base_digest": SHA256, "base_path": PATH,
 *        "tensors": [{"name", "kind": "bnb4"|"int8"|"sparse24"|"awq4"|"dense",
 *                     "dtype" (dense: bd_dtype), "shape": [rows, cols],
 *                     "params": [4 ints], "parts": [[offset, length], ...]}]} */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "awq.h"
#include "bnb4.h"
#include "int8.h"
#include "parts.h"
#include "sparse50.h"
#include "wanda.h"
#include "wutil.h"

static const char *kind_of(const bd_tensor *t)
{
    if (t->dtype != BD_PACKED) return "dense";
    if (t->ops == &bd_bnb4_ops) return "bnb4";
    if (t->ops == &bd_int8_ops) return "int8";
    if (t->ops == &bd_sparse24_ops) return "sparse24";
    if (t->ops == &bd_awq4_ops) return "awq4";
    if (t->ops == &bd_sparse50_ops) return "sparse50";
    return NULL;
}

static int tensor_parts(const bd_tensor *t, bd_parts *p)
{
    const char *k = kind_of(t);
    if (!k) return -1;
    if (!strcmp(k, "bnb4")) return bd_bnb4_parts(t, p);
    if (!strcmp(k, "int8")) return bd_int8_parts(t, p);
    if (!strcmp(k, "sparse24")) return bd_sparse24_parts(t, p);
    if (!strcmp(k, "awq4")) return bd_awq4_parts(t, p);
    if (!strcmp(k, "sparse50")) return bd_sparse50_parts(t, p);
    memset(p, 0, sizeof *p);
    p->n = 1;
    p->ptr[0] = t->data;
    p->len[0] = t->nbytes;
    p->param[0] = t->dtype;
    return 0;
}

static size_t pad64(size_t x) { return (x + 63) & ~(size_t)63; }

int bd_accel_save(bd_model *m, const bd_accel_result *r, const char *path, bd_err *err)
{
    int rc = bd_model_digest(m, err);
    if (rc) return rc;
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    if (!root || !arr) { json_object_put(root); json_object_put(arr); return bd_oom(err, "export"); }
    json_object_object_add(root, "format", json_object_new_string("biasdrift-accel"));
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "spec", json_object_new_string(r->spec.canon));
    json_object_object_add(root, "base_digest", json_object_new_string(m->digest));
    json_object_object_add(root, "base_path", json_object_new_string(m->path));
    json_object_object_add(root, "tensors", arr);
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const bd_tensor *t = &m->tensors[i];
        if (t->dtype != BD_PACKED && !t->owned) continue; /* untouched: the base model has it */
        bd_parts p;
        if (tensor_parts(t, &p)) { json_object_put(root); return bd_fail(err, BD_EUNSUP, "export: %s: unknown packed format", t->name); }
        json_object *o = json_object_new_object(), *sh = json_object_new_array(), *pa = json_object_new_array(),
                    *pr = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(t->name));
        json_object_object_add(o, "kind", json_object_new_string(kind_of(t)));
        json_object_object_add(o, "dtype", json_object_new_int(t->dtype == BD_PACKED ? -1 : (int)t->dtype));
        for (int d = 0; d < t->ndim; d++) json_object_array_add(sh, json_object_new_int64(t->shape[d]));
        for (int k = 0; k < BD_PARAMS_MAX; k++) json_object_array_add(pa, json_object_new_int64(p.param[k]));
        for (int k = 0; k < p.n; k++) {
            json_object *ol = json_object_new_array();
            json_object_array_add(ol, json_object_new_int64((int64_t)off));
            json_object_array_add(ol, json_object_new_int64((int64_t)p.len[k]));
            json_object_array_add(pr, ol);
            off = pad64(off + p.len[k]);
        }
        json_object_object_add(o, "shape", sh);
        json_object_object_add(o, "params", pa);
        json_object_object_add(o, "parts", pr);
        json_object_array_add(arr, o);
    }
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t jl = strlen(js);
    FILE *f = fopen(path, "wb");
    if (!f) { json_object_put(root); return bd_fail(err, BD_EIO, "%s: cannot create", path); }
    uint32_t ver = 1;
    uint64_t jl64 = jl;
    static const char zeros[64] = {0};
    size_t head = 16 + jl;
    int ok = fwrite("BDQ1", 1, 4, f) == 4 && fwrite(&ver, 4, 1, f) == 1 && fwrite(&jl64, 8, 1, f) == 1 &&
             fwrite(js, 1, jl, f) == jl && fwrite(zeros, 1, pad64(head) - head, f) == pad64(head) - head;
    off = 0;
    for (int i = 0; ok && i < m->n_tensors; i++) {
        const bd_tensor *t = &m->tensors[i];
        if (t->dtype != BD_PACKED && !t->owned) continue;
        bd_parts p;
        tensor_parts(t, &p);
        for (int k = 0; ok && k < p.n; k++) {
            size_t pl = pad64(off + p.len[k]) - (off + p.len[k]);
            ok = fwrite(p.ptr[k], 1, p.len[k], f) == p.len[k] && fwrite(zeros, 1, pl, f) == pl;
            off = pad64(off + p.len[k]);
        }
    }
    json_object_put(root);
    if (fclose(f) != 0) ok = 0;
    if (!ok) { remove(path); return bd_fail(err, BD_EIO, "%s: write failed", path); }
    return 0;
}

static int64_t jint(json_object *o) { return json_object_get_int64(o); }

int bd_accel_load(bd_model *m, const char *path, bd_accel_spec *spec, bd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open", path);
    char magic[4];
    uint32_t ver = 0;
    uint64_t jl = 0;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "BDQ1", 4) || fread(&ver, 4, 1, f) != 1 || ver != 1 ||
        fread(&jl, 8, 1, f) != 1 || jl == 0 || jl > (1u << 30)) {
        fclose(f);
        return bd_fail(err, BD_EINPUT, "%s: offset 0: expected a BDQ1 version 1 header", path);
    }
    char *js = malloc(jl + 1);
    if (!js) { fclose(f); return bd_oom(err, "bdq header"); }
    if (fread(js, 1, jl, f) != jl) { free(js); fclose(f); return bd_fail(err, BD_EINPUT, "%s: truncated header", path); }
    js[jl] = 0;
    long base = (long)pad64(16 + jl);
    json_object *root = json_tokener_parse(js);
    free(js);
    json_object *jspec, *jdig, *jt;
    int rc = 0;
    if (!root || !json_object_object_get_ex(root, "spec", &jspec) || !json_object_object_get_ex(root, "base_digest", &jdig) ||
        !json_object_object_get_ex(root, "tensors", &jt) || !json_object_is_type(jt, json_type_array))
        rc = bd_fail(err, BD_EINPUT, "%s: offset 16: header JSON lacks spec/base_digest/tensors", path);
    if (!rc) rc = bd_accel_parse(json_object_get_string(jspec), spec, err);
    if (!rc) rc = bd_model_digest(m, err);
    if (!rc && strcmp(m->digest, json_object_get_string(jdig)) != 0)
        rc = bd_fail(err, BD_EINPUT, "%s: made for a base model with sha256 %.16s..., but %s has %.16s...", path,
                     json_object_get_string(jdig), m->path, m->digest);
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    size_t nt = rc ? 0 : json_object_array_length(jt);
    for (size_t i = 0; !rc && i < nt; i++) {
        json_object *o = json_object_array_get_idx(jt, i), *jn, *jk, *jd, *js2, *jp, *jparts;
        if (!json_object_object_get_ex(o, "name", &jn) || !json_object_object_get_ex(o, "kind", &jk) ||
            !json_object_object_get_ex(o, "dtype", &jd) || !json_object_object_get_ex(o, "shape", &js2) ||
            !json_object_object_get_ex(o, "params", &jp) || !json_object_object_get_ex(o, "parts", &jparts) ||
            json_object_array_length(jparts) > BD_PARTS_MAX || json_object_array_length(jp) != BD_PARAMS_MAX) {
            rc = bd_fail(err, BD_EINPUT, "%s: tensor entry %zu: missing or bad fields", path, i);
            break;
        }
        bd_tensor *t = bd_model_tensor(m, json_object_get_string(jn));
        if (!t || (size_t)t->ndim != json_object_array_length(js2)) {
            rc = bd_fail(err, BD_EINPUT, "%s: tensor %s: not in the base model or shape rank differs", path,
                         json_object_get_string(jn));
            break;
        }
        for (int d = 0; d < t->ndim; d++)
            if (jint(json_object_array_get_idx(js2, (size_t)d)) != t->shape[d])
                rc = bd_fail(err, BD_EINPUT, "%s: tensor %s: shape differs from the base model", path, t->name);
        bd_parts p;
        memset(&p, 0, sizeof p);
        p.n = (int)json_object_array_length(jparts);
        for (int k = 0; k < BD_PARAMS_MAX; k++) p.param[k] = jint(json_object_array_get_idx(jp, (size_t)k));
        void *bufs[BD_PARTS_MAX] = {0};
        for (int k = 0; !rc && k < p.n; k++) {
            json_object *ol = json_object_array_get_idx(jparts, (size_t)k);
            int64_t po = jint(json_object_array_get_idx(ol, 0)), pl = jint(json_object_array_get_idx(ol, 1));
            if (po < 0 || pl < 0 || po > fsize || pl > fsize - base - po) {
                rc = bd_fail(err, BD_EINPUT, "%s: tensor %s part %d: offset %lld length %lld outside the file",
                             path, t->name, k, (long long)po, (long long)pl);
                break;
            }
            p.len[k] = (size_t)pl;
            bufs[k] = malloc(p.len[k] ? p.len[k] : 1);
            if (!bufs[k]) rc = bd_oom(err, "bdq tensor");
            else if (fseek(f, base + (long)po, SEEK_SET) || fread(bufs[k], 1, p.len[k], f) != p.len[k])
                rc = bd_fail(err, BD_EIO, "%s: read failed", path);
        }
        const char *kind = json_object_get_string(jk);
        /* each format checks the part sizes it expects for this shape */
        if (!rc) {
            bd_tensor probe = *t;
            size_t need[BD_PARTS_MAX] = {0};
            int64_t rows = t->ndim == 2 ? t->shape[0] : 1, cols = t->shape[t->ndim - 1], n = rows * cols;
            if (!strcmp(kind, "bnb4")) {
                int64_t bs = p.param[1], nb = bs > 0 ? (n + bs - 1) / bs : 0;
                need[0] = (size_t)((n + 1) / 2);
                if (p.param[2]) { need[1] = (size_t)nb; need[2] = (size_t)((nb + 255) / 256) * 4; }
                else need[1] = (size_t)nb * 4;
                if (bs != 64 || p.n != (p.param[2] ? 3 : 2)) rc = 1;
            } else if (!strcmp(kind, "int8")) {
                need[0] = (size_t)n; need[1] = (size_t)rows * 4;
                if (p.n != 2) rc = 1;
            } else if (!strcmp(kind, "sparse24")) {
                int64_t runs = cols / 4, words = (runs + 7) / 8;
                need[0] = (size_t)(rows * runs * 2) * (p.param[0] == BD_F32 ? 4 : 2);
                need[1] = (size_t)(rows * words) * 4;
                if (p.n != 2 || cols % 4 || (p.param[0] != BD_F32 && p.param[0] != BD_F16 && p.param[0] != BD_BF16)) rc = 1;
            } else if (!strcmp(kind, "awq4")) {
                int64_t g = p.param[0], ng = g > 0 ? cols / g : 0;
                need[0] = (size_t)(n / 2); need[1] = (size_t)(rows * ng) * 2; need[2] = (size_t)(rows * ng);
                if (p.n != 3 || g <= 0 || cols % g || g % 2) rc = 1;
            } else if (!strcmp(kind, "sparse50")) {
                /* values: param[1] of them; masks/offsets are cross-checked by restore */
                int64_t nnz = p.param[1];
                need[0] = nnz >= 0 && nnz <= n ? (size_t)nnz * (p.param[0] == BD_F32 ? 4 : 2) : 0;
                need[1] = (size_t)(rows * ((cols + 31) / 32)) * 4;
                need[2] = (size_t)(rows + 1) * 8;
                if (p.n != 3 || nnz < 0 || nnz > n || (p.param[0] != BD_F32 && p.param[0] != BD_F16 && p.param[0] != BD_BF16)) rc = 1;
            } else if (!strcmp(kind, "dense")) {
                int dt = (int)p.param[0];
                if (p.n != 1 || (dt != BD_F32 && dt != BD_F16 && dt != BD_BF16)) rc = 1;
                else need[0] = (size_t)n * (dt == BD_F32 ? 4 : 2);
            } else rc = 1;
            for (int k = 0; !rc && k < p.n; k++)
                if (p.len[k] != need[k]) rc = 1;
            if (rc) rc = bd_fail(err, BD_EINPUT, "%s: tensor %s: bad %s parts for its shape", path, t->name, kind);
            (void)probe;
        }
        if (!rc) {
            if (!strcmp(kind, "bnb4")) rc = bd_bnb4_restore(t, bufs, &p, err);
            else if (!strcmp(kind, "int8")) rc = bd_int8_restore(t, bufs, &p, err);
            else if (!strcmp(kind, "sparse24")) rc = bd_sparse24_restore(t, bufs, &p, err);
            else if (!strcmp(kind, "awq4")) rc = bd_awq4_restore(t, bufs, &p, err);
            else if (!strcmp(kind, "sparse50")) rc = bd_sparse50_restore(t, bufs, &p, err);
            else {
                bd_tensor_set_f32(t, bufs[0]);
                t->dtype = (bd_dtype)p.param[0];
                t->nbytes = p.len[0];
            }
            if (!rc) continue;
        }
        for (int k = 0; k < BD_PARTS_MAX; k++) free(bufs[k]);
    }
    json_object_put(root);
    fclose(f);
    return rc;
}
