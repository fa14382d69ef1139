/* HF folder -> bd_model: config.json (LlamaForCausalLM / MistralForCausalLM),
 * model.safetensors or the shards named by model.safetensors.index.json, and
 * the chat template (tokenizer_config.json or chat_template.jinja). q/k rows
 * stay in HF's rotate-half order (rope_interleaved = 0). */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_int.h"
#include "safetensors.h"
#include "awq_gemm.h"

#define MAX_JSON (64u << 20)

/* Parses a whole JSON file; the root must be an object. */
static int read_json(const char *path, json_object **out, bd_err *err)
{
    *out = NULL;
    char *buf;
    size_t n;
    int rc = bd_read_small_file(path, MAX_JSON, &buf, &n, err);
    if (rc) return rc;
    struct json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        free(buf);
        return bd_oom(err, "JSON parser");
    }
    json_object *root = json_tokener_parse_ex(tok, buf, (int)n);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    size_t i = end;
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
    free(buf);
    if (!root || je != json_tokener_success || i != n) {
        if (root) json_object_put(root);
        return bd_fail(err, BD_EINPUT, "%s: offset %zu: invalid JSON: %s", path, end,
                       je == json_tokener_continue ? "unexpected end of file"
                       : je != json_tokener_success ? json_tokener_error_desc(je) : "trailing data");
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return bd_fail(err, BD_EINPUT, "%s: expected a JSON object at the top level", path);
    }
    *out = root;
    return 0;
}

/* Integer key: absent or null keeps *out (error if required). */
static int jint(const char *path, json_object *o, const char *key, int required, long long lo, long long hi, int *out,
                bd_err *err)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        if (required) return bd_fail(err, BD_EINPUT, "%s: missing key '%s'", path, key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return bd_fail(err, BD_EINPUT, "%s: key '%s': expected an integer, got %s", path, key,
                       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return bd_fail(err, BD_EINPUT, "%s: key '%s': %lld, expected %lld..%lld", path, key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

static int jfloat(const char *path, json_object *o, const char *key, float *out, bd_err *err)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return bd_fail(err, BD_EINPUT, "%s: key '%s': expected a number, got %s", path, key,
                       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    double d = json_object_get_double(v);
    if (!isfinite(d)) return bd_fail(err, BD_EINPUT, "%s: key '%s': not a finite number", path, key);
    *out = (float)d;
    return 0;
}

static int jbool(const char *path, json_object *o, const char *key, int *out, bd_err *err)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return bd_fail(err, BD_EINPUT, "%s: key '%s': expected true or false", path, key);
    *out = json_object_get_boolean(v);
    return 0;
}

/* bos/eos ids: an integer, a list of integers (eos), or null. */
static int token_ids(const char *path, json_object *o, bd_config *c, bd_err *err)
{
    json_object *v;
    int rc;
    if ((rc = jint(path, o, "bos_token_id", 0, 0, 1 << 22, &c->bos_id, err))) return rc;
    if (!json_object_object_get_ex(o, "eos_token_id", &v) || !v) return 0;
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        c->n_eos = 0;
        for (size_t i = 0; i < n; i++) {
            json_object *x = json_object_array_get_idx(v, i);
            if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0 ||
                json_object_get_int64(x) > (1 << 22))
                return bd_fail(err, BD_EINPUT, "%s: key 'eos_token_id'[%zu]: expected a token id", path, i);
            if (c->n_eos < (int)(sizeof c->eos_ids / sizeof c->eos_ids[0]))
                c->eos_ids[c->n_eos++] = (int)json_object_get_int64(x);
        }
        c->eos_id = c->n_eos ? c->eos_ids[0] : -1;
        return 0;
    }
    if ((rc = jint(path, o, "eos_token_id", 0, 0, 1 << 22, &c->eos_id, err))) return rc;
    c->n_eos = 1;
    c->eos_ids[0] = c->eos_id;
    return 0;
}

static int parse_config(bd_model *m, const char *dir, bd_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_object *o;
    int rc = read_json(path, &o, err);
    if (rc) return rc;
    bd_config *c = &m->cfg;
    json_object *v;
    const char *arch = NULL;
    if (json_object_object_get_ex(o, "architectures", &v) && json_object_is_type(v, json_type_array) &&
        json_object_array_length(v) > 0 &&
        json_object_is_type(json_object_array_get_idx(v, 0), json_type_string))
        arch = json_object_get_string(json_object_array_get_idx(v, 0));
    const char *mt = json_object_object_get_ex(o, "model_type", &v) && json_object_is_type(v, json_type_string)
                     ? json_object_get_string(v) : NULL;
    if (arch && !strcmp(arch, "LlamaForCausalLM")) snprintf(c->arch, sizeof c->arch, "llama");
    else if (arch && !strcmp(arch, "MistralForCausalLM")) snprintf(c->arch, sizeof c->arch, "mistral");
    else if (!arch && mt && (!strcmp(mt, "llama") || !strcmp(mt, "mistral"))) snprintf(c->arch, sizeof c->arch, "%s", mt);
    else {
        rc = bd_fail(err, BD_EUNSUP, "%s: key 'architectures': %s%s%s, expected LlamaForCausalLM or MistralForCausalLM",
                     path, arch ? "'" : "", arch ? arch : "missing", arch ? "'" : "");
        goto out;
    }
    c->head_dim = 0;
    c->max_seq = 2048;
    c->norm_eps = 1e-6f;
    c->rope_theta = 10000.0f;
    if ((rc = jint(path, o, "hidden_size", 1, 1, 1 << 17, &c->dim, err)) ||
        (rc = jint(path, o, "intermediate_size", 1, 1, 1 << 20, &c->hidden_dim, err)) ||
        (rc = jint(path, o, "num_hidden_layers", 1, 1, 1024, &c->n_layers, err)) ||
        (rc = jint(path, o, "num_attention_heads", 1, 1, 4096, &c->n_heads, err)) ||
        (rc = jint(path, o, "vocab_size", 1, 1, 1 << 22, &c->vocab_size, err)))
        goto out;
    c->n_kv_heads = c->n_heads;
    if ((rc = jint(path, o, "num_key_value_heads", 0, 1, 4096, &c->n_kv_heads, err)) ||
        (rc = jint(path, o, "head_dim", 0, 2, 4096, &c->head_dim, err)) ||
        (rc = jint(path, o, "max_position_embeddings", 0, 1, 1 << 24, &c->max_seq, err)) ||
        (rc = jfloat(path, o, "rms_norm_eps", &c->norm_eps, err)) ||
        (rc = jfloat(path, o, "rope_theta", &c->rope_theta, err)) ||
        (rc = jbool(path, o, "tie_word_embeddings", &c->tied, err)) ||
        (rc = token_ids(path, o, c, err)))
        goto out;
    /* Mistral's sliding-window attention equals full attention up to the
     * window; cap the context there rather than compute something else. */
    int window = 0;
    if ((rc = jint(path, o, "sliding_window", 0, 1, 1 << 24, &window, err))) goto out;
    if (window && window < c->max_seq) c->max_seq = window;
    if (!c->head_dim) {
        if (c->dim % c->n_heads) {
            rc = bd_fail(err, BD_EINPUT, "%s: key 'hidden_size': %d is not a multiple of num_attention_heads %d "
                         "(and no head_dim is given)", path, c->dim, c->n_heads);
            goto out;
        }
        c->head_dim = c->dim / c->n_heads;
    }
    c->rope_dim = c->head_dim;
    c->rope_interleaved = 0;
    if (json_object_object_get_ex(o, "hidden_act", &v) && v &&
        (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "silu"))) {
        rc = bd_fail(err, BD_EUNSUP, "%s: key 'hidden_act': %s, only silu is supported", path,
                     json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        goto out;
    }
    const char *bias_keys[2] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        int b = 0;
        if ((rc = jbool(path, o, bias_keys[i], &b, err))) goto out;
        if (b) {
            rc = bd_fail(err, BD_EUNSUP, "%s: key '%s': true, biases are not supported", path, bias_keys[i]);
            goto out;
        }
    }
    if (json_object_object_get_ex(o, "rope_scaling", &v) && v) {
        json_object *t;
        if (!json_object_is_type(v, json_type_object)) {
            rc = bd_fail(err, BD_EINPUT, "%s: key 'rope_scaling': expected an object or null", path);
            goto out;
        }
        const char *type = NULL;
        if ((json_object_object_get_ex(v, "rope_type", &t) || json_object_object_get_ex(v, "type", &t)) &&
            json_object_is_type(t, json_type_string))
            type = json_object_get_string(t);
        if (type && !strcmp(type, "llama3")) {
            c->rope_type = 1;
            c->rope_factor = c->rope_low_freq = c->rope_high_freq = 0;
            if ((rc = jfloat(path, v, "factor", &c->rope_factor, err)) ||
                (rc = jfloat(path, v, "low_freq_factor", &c->rope_low_freq, err)) ||
                (rc = jfloat(path, v, "high_freq_factor", &c->rope_high_freq, err)) ||
                (rc = jint(path, v, "original_max_position_embeddings", 1, 1, 1 << 24, &c->rope_orig_max, err)))
                goto out;
        } else if (!type || strcmp(type, "default")) {
            rc = bd_fail(err, BD_EUNSUP, "%s: key 'rope_scaling': type %s is not supported (llama3 or default)",
                         path, type ? type : "(missing)");
            goto out;
        }
    }
out:
    json_object_put(o);
    return rc;
}

/* generation_config.json fills bos/eos when config.json has none. */
static int parse_generation_config(bd_model *m, const char *dir, bd_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    json_object *o;
    int rc = read_json(path, &o, err);
    if (rc) return rc;
    bd_config tmp = m->cfg;
    rc = token_ids(path, o, &tmp, err);
    json_object_put(o);
    if (rc) return rc;
    if (m->cfg.bos_id < 0) m->cfg.bos_id = tmp.bos_id;
    if (m->cfg.eos_id < 0) {
        m->cfg.eos_id = tmp.eos_id;
        m->cfg.n_eos = tmp.n_eos;
        memcpy(m->cfg.eos_ids, tmp.eos_ids, sizeof tmp.eos_ids);
    }
    return 0;
}

static int chat_template(bd_model *m, const char *dir, bd_err *err)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (stat(path, &st) == 0) {
        json_object *o, *v;
        int rc = read_json(path, &o, err);
        if (rc) return rc;
        const char *t = NULL;
        if (json_object_object_get_ex(o, "chat_template", &v) && v) {
            if (json_object_is_type(v, json_type_string)) {
                t = json_object_get_string(v);
            } else if (json_object_is_type(v, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                    json_object *e = json_object_array_get_idx(v, i), *nm, *tp;
                    if (json_object_object_get_ex(e, "name", &nm) && json_object_object_get_ex(e, "template", &tp) &&
                        json_object_is_type(nm, json_type_string) && json_object_is_type(tp, json_type_string) &&
                        !strcmp(json_object_get_string(nm), "default"))
                        t = json_object_get_string(tp);
                }
            } else {
                json_object_put(o);
                return bd_fail(err, BD_EINPUT, "%s: key 'chat_template': expected a string or a list of templates",
                               path);
            }
        }
        if (t) {
            m->chat_template = strdup(t);
            json_object_put(o);
            return m->chat_template ? 0 : bd_oom(err, "chat template");
        }
        json_object_put(o);
    }
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (stat(path, &st) == 0) return bd_read_small_file(path, MAX_JSON, &m->chat_template, NULL, err);
    return 0;
}

static int is_float_dtype(const char *d, bd_dtype *out)
{
    if (!strcmp(d, "F32")) *out = BD_F32;
    else if (!strcmp(d, "F16")) *out = BD_F16;
    else if (!strcmp(d, "BF16")) *out = BD_BF16;
    else return 0;
    return 1;
}

/* AutoAWQ GEMM checkpoints (config.json quantization_config, quant_method
 * "awq"): the three parts of each quantized linear, collected across shards
 * and bound as one "<prefix>.weight" tensor (awq_gemm.h) once all are read. */
typedef struct awq_part { const uint8_t *data; int64_t shape[2]; int ok; } awq_part;
typedef struct awq_lin { char prefix[96]; awq_part p[3]; } awq_lin; /* qweight, qzeros, scales */
typedef struct awq_set { int group; awq_lin *v; int n, cap; } awq_set;
static const char *const AWQ_SUFFIX[3] = {".qweight", ".qzeros", ".scales"};

static int awq_suffix(const awq_set *a, const char *name)
{
    if (!a || a->group <= 0) return -1;
    size_t n = strlen(name);
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(AWQ_SUFFIX[k]);
        if (n > l && !strcmp(name + n - l, AWQ_SUFFIX[k])) return k;
    }
    return -1;
}

static int awq_record(awq_set *a, const char *path, const bd_st_entry *e, int k, bd_err *err)
{
    const char *want = k == 2 ? "F16" : "I32";
    if (strcmp(e->dtype, want) || e->ndim != 2)
        return bd_fail(err, BD_EINPUT, "%s: tensor '%s': dtype %s with %d dimensions, expected a 2-D %s tensor "
                       "(AutoAWQ GEMM layout)", path, e->name, e->dtype, e->ndim, want);
    size_t pl = strlen(e->name) - strlen(AWQ_SUFFIX[k]);
    if (pl + strlen(".weight") >= sizeof a->v[0].prefix)
        return bd_fail(err, BD_EINPUT, "%s: tensor '%.100s': name too long", path, e->name);
    int i = 0;
    while (i < a->n && (strlen(a->v[i].prefix) != pl || strncmp(a->v[i].prefix, e->name, pl))) i++;
    if (i == a->n) {
        if (a->n == a->cap) {
            int nc = a->cap ? 2 * a->cap : 64;
            awq_lin *v = realloc(a->v, (size_t)nc * sizeof *v);
            if (!v) return bd_oom(err, "awq linears");
            a->v = v;
            a->cap = nc;
        }
        memset(&a->v[i], 0, sizeof a->v[i]);
        memcpy(a->v[i].prefix, e->name, pl);
        a->n++;
    }
    awq_part *pt = &a->v[i].p[k];
    if (pt->ok) return bd_fail(err, BD_EINPUT, "%s: tensor '%s' appears twice", path, e->name);
    pt->data = e->data;
    pt->shape[0] = e->shape[0];
    pt->shape[1] = e->shape[1];
    pt->ok = 1;
    return 0;
}

/* Checks the three parts' shapes against each other and binds the linear. */
static int awq_bind(bd_model *m, const char *dir, const awq_set *a, bd_err *err)
{
    for (int i = 0; i < a->n; i++) {
        const awq_lin *l = &a->v[i];
        for (int k = 0; k < 3; k++)
            if (!l->p[k].ok)
                return bd_fail(err, BD_EINPUT, "%s: AutoAWQ linear '%s' lacks its '%s' tensor", dir, l->prefix,
                               AWQ_SUFFIX[k]);
        int64_t in = l->p[0].shape[0], w = l->p[0].shape[1], g = a->group;
        if (in <= 0 || w <= 0 || w > INT64_MAX / 8 || in % g || l->p[1].shape[0] != in / g ||
            l->p[1].shape[1] != w || l->p[2].shape[0] != in / g || l->p[2].shape[1] != 8 * w)
            return bd_fail(err, BD_EINPUT, "%s: AutoAWQ linear '%s': qweight [%lld, %lld], qzeros [%lld, %lld], "
                           "scales [%lld, %lld]; expected [in, out/8], [in/%d, out/8], [in/%d, out] with in a "
                           "multiple of %d", dir, l->prefix, (long long)in, (long long)w,
                           (long long)l->p[1].shape[0], (long long)l->p[1].shape[1], (long long)l->p[2].shape[0],
                           (long long)l->p[2].shape[1], a->group, a->group, a->group);
        char name[128];
        snprintf(name, sizeof name, "%s.weight", l->prefix);
        int64_t shape[2] = {8 * w, in};
        size_t bytes = (size_t)(in * w * 4) + (size_t)(in / g * w * 4) + (size_t)(in / g * 8 * w * 2);
        bd_tensor *t = bd_model_add(m, name, BD_PACKED, 2, shape, l->p[0].data, bytes, err);
        if (!t) return err->code;
        bd_awq_gemm_raw r = {l->p[0].data, l->p[1].data, l->p[2].data, in, 8 * w, a->group};
        int rc = bd_awq_gemm_attach(t, &r, err);
        if (rc) return rc;
    }
    return 0;
}

/* quantization_config of config.json: none, or AutoAWQ GEMM w4 with zero point. */
static int awq_config(const char *dir, awq_set *a, bd_err *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    json_object *o, *q, *v;
    int rc = read_json(p, &o, err);
    if (rc) return rc;
    if (!json_object_object_get_ex(o, "quantization_config", &q) || !q) { json_object_put(o); return 0; }
    if (!json_object_is_type(q, json_type_object)) {
        json_object_put(o);
        return bd_fail(err, BD_EINPUT, "%s: key 'quantization_config': expected an object", p);
    }
    const char *meth = json_object_object_get_ex(q, "quant_method", &v) && json_object_is_type(v, json_type_string)
                           ? json_object_get_string(v) : "";
    const char *ver = json_object_object_get_ex(q, "version", &v) && json_object_is_type(v, json_type_string)
                          ? json_object_get_string(v) : "gemm";
    int bits = 0, group = 0, zp = 1;
    if (strcmp(meth, "awq"))
        rc = bd_fail(err, BD_EUNSUP, "%s: key 'quantization_config.quant_method': '%s'; only AutoAWQ "
                     "checkpoints ('awq', version 'gemm') are read", p, meth);
    else if (strcasecmp(ver, "gemm"))
        rc = bd_fail(err, BD_EUNSUP, "%s: key 'quantization_config.version': '%s'; only AutoAWQ's 'gemm' "
                     "layout is read", p, ver);
    if (!rc) rc = jint(p, q, "bits", 1, 1, 64, &bits, err);
    if (!rc) {
        rc = jint(p, q, "group_size", 0, 2, 1 << 20, &group, err);
        if (!rc && !group) rc = jint(p, q, "q_group_size", 1, 2, 1 << 20, &group, err);
    }
    if (!rc && (rc = jbool(p, q, "zero_point", &zp, err)) == 0 && (bits != 4 || !zp || group % 2))
        rc = bd_fail(err, BD_EUNSUP, "%s: quantization_config: bits %d, zero_point %s, group_size %d; AutoAWQ "
                     "GEMM is read with 4 bits, zero point and an even group", p, bits, zp ? "true" : "false",
                     group);
    if (!rc) a->group = group;
    json_object_put(o);
    return rc;
}

/* Maps one safetensors file and adds its float tensors (and AutoAWQ parts)
 * to the table. */
static int add_file(bd_model *m, const char *path, awq_set *awq, bd_err *err)
{
    const uint8_t *base;
    size_t size;
    int rc = bd_model_map(m, path, &base, &size, err);
    if (rc) return rc;
    bd_st *s;
    if ((rc = bd_st_parse(path, base, size, &s, err))) return rc;
    for (int i = 0; i < s->n && !rc; i++) {
        const bd_st_entry *e = &s->e[i];
        bd_dtype dt;
        int used = !strncmp(e->name, "model.", 6) || !strncmp(e->name, "lm_head.", 8);
        int ak = awq_suffix(awq, e->name);
        if (ak >= 0 && used) {
            rc = awq_record(awq, path, e, ak, err);
            continue;
        }
        if (!is_float_dtype(e->dtype, &dt)) {
            if (used && strstr(e->name, ".weight"))
                rc = bd_fail(err, BD_EUNSUP, "%s: tensor '%s': dtype %s, expected F32, F16 or BF16", path, e->name,
                             e->dtype);
            continue;
        }
        if (strlen(e->name) >= sizeof m->tensors[0].name || e->ndim < 1 || e->ndim > 4) {
            if (used)
                rc = bd_fail(err, BD_EINPUT, "%s: tensor '%.100s': name too long or %d dimensions", path, e->name,
                             e->ndim);
            continue;
        }
        if (!bd_model_add(m, e->name, dt, e->ndim, e->shape, e->data, (size_t)e->nbytes, err)) rc = err->code;
    }
    bd_st_free(s);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_shards(bd_model *m, const char *dir, const char *index, awq_set *awq, bd_err *err)
{
    json_object *o, *wm;
    int rc = read_json(index, &o, err);
    if (rc) return rc;
    if (!json_object_object_get_ex(o, "weight_map", &wm) || !json_object_is_type(wm, json_type_object)) {
        json_object_put(o);
        return bd_fail(err, BD_EINPUT, "%s: missing key 'weight_map' (an object of tensor -> file)", index);
    }
    int n = json_object_object_length(wm), nf = 0;
    char **files = calloc((size_t)(n ? n : 1), sizeof *files);
    if (!files) {
        json_object_put(o);
        return bd_oom(err, "shard list");
    }
    json_object_object_foreach(wm, key, val) {
        const char *f = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
        size_t fl = f ? strlen(f) : 0;
        if (!f || fl < 13 || strchr(f, '/') || strcmp(f + fl - 12, ".safetensors") || f[0] == '.') {
            rc = bd_fail(err, BD_EINPUT, "%s: key 'weight_map.%s': expected a .safetensors file name in the folder",
                         index, key);
            break;
        }
        int seen = 0;
        for (int i = 0; i < nf && !seen; i++) seen = !strcmp(files[i], f);
        if (!seen) files[nf++] = (char *)f;
    }
    if (!rc && nf == 0) rc = bd_fail(err, BD_EINPUT, "%s: key 'weight_map' is empty", index);
    if (!rc) qsort(files, (size_t)nf, sizeof *files, cmp_str);
    for (int i = 0; i < nf && !rc; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        rc = add_file(m, p, awq, err);
    }
    if (!rc) rc = awq_bind(m, dir, awq, err);
    /* every tensor the index names must be where it says */
    bd_name_index ix = {NULL, 0};
    if (!rc) rc = bd_name_index_build(m, dir, &ix, err);
    if (!rc) {
        json_object_object_foreach(wm, key2, val2) {
            if ((!strncmp(key2, "model.", 6) || !strncmp(key2, "lm_head.", 8)) && strlen(key2) < 96 &&
                awq_suffix(awq, key2) < 0 && !bd_name_index_find(&ix, key2)) {
                rc = bd_fail(err, BD_EINPUT, "%s: tensor '%s' listed in weight_map is not in %s", index, key2,
                             json_object_get_string(val2));
                break;
            }
        }
    }
    bd_name_index_free(&ix);
    free(files);
    json_object_put(o);
    return rc;
}

static int bind(bd_model *m, const char *dir, const bd_name_index *ix, bd_err *err);

int bd_load_hf(bd_model *m, const char *dir, bd_err *err)
{
    int rc;
    if ((rc = parse_config(m, dir, err)) || (rc = parse_generation_config(m, dir, err))) return rc;
    char p[4200];
    struct stat st;
    awq_set awq = {0, NULL, 0, 0};
    if ((rc = awq_config(dir, &awq, err))) return rc;
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if (stat(p, &st) == 0) {
        rc = load_shards(m, dir, p, &awq, err);
    } else {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        if (stat(p, &st) != 0) rc = bd_fail(err, BD_EINPUT, "%s: no model.safetensors or model.safetensors.index.json in the folder", dir);
        else rc = add_file(m, p, &awq, err);
        if (!rc) rc = awq_bind(m, dir, &awq, err);
    }
    free(awq.v);
    if (rc) return rc;
    if ((rc = chat_template(m, dir, err))) return rc;
    snprintf(m->tok_path, sizeof m->tok_path, "%s", dir);

    bd_name_index ix;
    if ((rc = bd_name_index_build(m, dir, &ix, err))) return rc;
    rc = bind(m, dir, &ix, err);
    bd_name_index_free(&ix);
    if (rc) return rc;
    snprintf(p, sizeof p, "%s/config.json", dir);
    return bd_model_check(m, p, err);
}

static int bind(bd_model *m, const char *dir, const bd_name_index *ix, bd_err *err)
{
    bd_config *c = &m->cfg;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return bd_oom(err, "layers");
    char n[128];
#define FIND(...) (snprintf(n, sizeof n, __VA_ARGS__), bd_name_index_find(ix, n))
#define NEED(dst, ...) do { if (!((dst) = FIND(__VA_ARGS__))) \
        return bd_fail(err, BD_EINPUT, "%s: missing tensor '%s'", dir, n); } while (0)
    NEED(m->tok_embd, "model.embed_tokens.weight");
    NEED(m->out_norm, "model.norm.weight");
    if (c->tied) m->output = m->tok_embd;
    else NEED(m->output, "lm_head.weight");
    for (int l = 0; l < c->n_layers; l++) {
        bd_layer *L = &m->layers[l];
        NEED(L->attn_norm, "model.layers.%d.input_layernorm.weight", l);
        NEED(L->wq, "model.layers.%d.self_attn.q_proj.weight", l);
        NEED(L->wk, "model.layers.%d.self_attn.k_proj.weight", l);
        NEED(L->wv, "model.layers.%d.self_attn.v_proj.weight", l);
        NEED(L->wo, "model.layers.%d.self_attn.o_proj.weight", l);
        NEED(L->ffn_norm, "model.layers.%d.post_attention_layernorm.weight", l);
        NEED(L->w_gate, "model.layers.%d.mlp.gate_proj.weight", l);
        NEED(L->w_up, "model.layers.%d.mlp.up_proj.weight", l);
        NEED(L->w_down, "model.layers.%d.mlp.down_proj.weight", l);
    }
#undef NEED
#undef FIND
    return 0;
}
