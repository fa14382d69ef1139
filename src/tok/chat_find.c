/* Finds a tokenizer's or model's chat template and its bos/eos token strings
 * where transformers and llama.cpp keep them: chat_template.jinja (which
 * transformers prefers), tokenizer_config.json (chat_template, bos_token,
 * eos_token), chat_template.json, special_tokens_map.json, or GGUF metadata
 * (tokenizer.chat_template, tokenizer.ggml.{bos,eos}_token_id). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "../model/gguf.h"
#include "../model/model.h"
#include "chat.h"
#include "tok.h"

#define MAX_FILE ((long)64 << 20)

/* Reads a whole file; 1 if it does not exist (no error), 0 ok, else error. */
static int read_file(const char *path, char **out, bd_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 1;
        return bd_fail(err, BD_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return bd_fail(err, BD_EIO, "%s: cannot seek", path); }
    long n = ftell(f);
    if (n < 0 || n > MAX_FILE) { fclose(f); return bd_fail(err, BD_EINPUT, "%s: file too large or unreadable", path); }
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) { fclose(f); return bd_oom(err, path); }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return bd_fail(err, BD_EIO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = 0;
    if (strlen(buf) != (size_t)n) {
        free(buf);
        return bd_fail(err, BD_EINPUT, "%s: contains a NUL byte", path);
    }
    *out = buf;
    return 0;
}

static int load_json(const char *path, struct json_object **out, bd_err *err)
{
    char *text;
    *out = NULL;
    int rc = read_file(path, &text, err);
    if (rc) return rc;
    struct json_tokener *tok = json_tokener_new();
    if (!tok) { free(text); return bd_oom(err, path); }
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    free(text);
    if (!o || e != json_tokener_success) {
        if (o) json_object_put(o);
        return bd_fail(err, BD_EINPUT, "%s: invalid JSON at offset %zu: %s", path, off,
                       (e == json_tokener_success || e == json_tokener_continue) ? "unexpected end of data" : json_tokener_error_desc(e));
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return bd_fail(err, BD_EINPUT, "%s: expected a JSON object", path);
    }
    *out = o;
    return 0;
}

static int dup_to(char **dst, const char *s, bd_err *err)
{
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : bd_oom(err, "chat template strings");
}

/* chat_template: a string, or a list of {"name", "template"} where "default" is used. */
static int template_from_json(const char *path, struct json_object *v, char **tmpl, bd_err *err)
{
    if (json_object_is_type(v, json_type_string)) return dup_to(tmpl, json_object_get_string(v), err);
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(v, i), *nm, *t;
            if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "name", &nm) ||
                !json_object_object_get_ex(e, "template", &t) || !json_object_is_type(t, json_type_string))
                return bd_fail(err, BD_EINPUT, "%s: key 'chat_template'[%zu]: expected {\"name\", \"template\"}", path, i);
            if (json_object_is_type(nm, json_type_string) && strcmp(json_object_get_string(nm), "default") == 0)
                return dup_to(tmpl, json_object_get_string(t), err);
        }
        return bd_fail(err, BD_EINPUT, "%s: key 'chat_template': no template named 'default'", path);
    }
    if (json_object_is_type(v, json_type_null)) return 0;
    return bd_fail(err, BD_EINPUT, "%s: key 'chat_template': expected a string or a list of templates", path);
}

/* bos_token / eos_token: a string or an AddedToken dict {"content": ...}. */
static int token_from_json(const char *path, struct json_object *cfg, const char *key, char **dst, bd_err *err)
{
    struct json_object *v, *c;
    if (!json_object_object_get_ex(cfg, key, &v) || json_object_is_type(v, json_type_null)) return 0;
    if (json_object_is_type(v, json_type_string)) return dup_to(dst, json_object_get_string(v), err);
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "content", &c) &&
        json_object_is_type(c, json_type_string))
        return dup_to(dst, json_object_get_string(c), err);
    return bd_fail(err, BD_EINPUT, "%s: key '%s': expected a string or an AddedToken object", path, key);
}

typedef struct found { char *tmpl, *bos, *eos; } found;

static int join(char *dst, size_t cap, const char *dir, const char *name, bd_err *err)
{
    int n = snprintf(dst, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return bd_fail(err, BD_EINPUT, "%s: path too long", dir);
    return 0;
}

static int search_dir(const char *dir, found *f, bd_err *err)
{
    char path[4200];
    struct json_object *cfg = NULL, *v;
    int rc;
    /* transformers: a separate chat_template.jinja takes priority over the
     * template entry in tokenizer_config.json */
    if (!f->tmpl) {
        if ((rc = join(path, sizeof path, dir, "chat_template.jinja", err))) return rc;
        rc = read_file(path, &f->tmpl, err);
        if (rc > 1) return rc;
    }
    if ((rc = join(path, sizeof path, dir, "tokenizer_config.json", err))) return rc;
    rc = load_json(path, &cfg, err);
    if (rc > 1) return rc;
    if (rc == 0) {
        if (!f->tmpl && json_object_object_get_ex(cfg, "chat_template", &v) &&
            (rc = template_from_json(path, v, &f->tmpl, err))) goto out;
        if (!f->bos && (rc = token_from_json(path, cfg, "bos_token", &f->bos, err))) goto out;
        if (!f->eos && (rc = token_from_json(path, cfg, "eos_token", &f->eos, err))) goto out;
        json_object_put(cfg);
        cfg = NULL;
    }
    if (!f->tmpl) {
        /* the legacy processor file */
        if ((rc = join(path, sizeof path, dir, "chat_template.json", err))) return rc;
        rc = load_json(path, &cfg, err);
        if (rc > 1) return rc;
        if (rc == 0) {
            if (json_object_object_get_ex(cfg, "chat_template", &v) &&
                (rc = template_from_json(path, v, &f->tmpl, err))) goto out;
            json_object_put(cfg);
            cfg = NULL;
        }
    }
    if (!f->bos || !f->eos) {
        if ((rc = join(path, sizeof path, dir, "special_tokens_map.json", err))) return rc;
        rc = load_json(path, &cfg, err);
        if (rc > 1) return rc;
        if (rc == 0) {
            if (!f->bos && (rc = token_from_json(path, cfg, "bos_token", &f->bos, err))) goto out;
            if (!f->eos && (rc = token_from_json(path, cfg, "eos_token", &f->eos, err))) goto out;
        }
    }
    rc = 0;
out:
    if (cfg) json_object_put(cfg);
    return rc;
}

static int gguf_token(const bd_gguf *g, const char *key, char **dst, bd_err *err)
{
    uint64_t id;
    int rc = bd_gguf_get_u64(g, key, &id, err);
    if (rc == 1) return 0;
    if (rc) return rc;
    const bd_gguf_kv *kv = bd_gguf_find(g, "tokenizer.ggml.tokens");
    if (!kv || kv->type != BD_GGUF_ARRAY || kv->arr_type != BD_GGUF_STRING || !kv->arr_strs) return 0;
    if (id >= kv->arr_len)
        return bd_fail(err, BD_EINPUT, "%s: key '%s': token id %llu out of range (%llu tokens)", g->path, key,
                       (unsigned long long)id, (unsigned long long)kv->arr_len);
    const bd_gguf_str *s = &kv->arr_strs[id];
    free(*dst);
    *dst = malloc((size_t)s->len + 1);
    if (!*dst) return bd_oom(err, "token string");
    memcpy(*dst, s->ptr, (size_t)s->len);
    (*dst)[s->len] = 0;
    return 0;
}

static int search_gguf(const bd_gguf *g, found *f, bd_err *err)
{
    int rc;
    if (!f->tmpl) {
        bd_gguf_str s;
        rc = bd_gguf_get_str(g, "tokenizer.chat_template", &s, err);
        if (rc == 0) {
            f->tmpl = malloc((size_t)s.len + 1);
            if (!f->tmpl) return bd_oom(err, "chat template");
            memcpy(f->tmpl, s.ptr, (size_t)s.len);
            f->tmpl[s.len] = 0;
        } else if (rc != 1) return rc;
    }
    if (!f->bos && (rc = gguf_token(g, "tokenizer.ggml.bos_token_id", &f->bos, err))) return rc;
    if (!f->eos && (rc = gguf_token(g, "tokenizer.ggml.eos_token_id", &f->eos, err))) return rc;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int search_path(const char *path, found *f, bd_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return bd_fail(err, BD_EINPUT, "%s: cannot access: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return search_dir(path, f, err);
    if (ends_with(path, ".gguf")) {
        bd_gguf *g;
        int rc = bd_gguf_open(path, &g, err);
        if (rc) return rc;
        rc = search_gguf(g, f, err);
        bd_gguf_close(g);
        return rc;
    }
    int rc;
    if (ends_with(path, ".jinja") && (rc = read_file(path, &f->tmpl, err))) {
        return rc == 1 ? bd_fail(err, BD_EINPUT, "%s: cannot open", path) : rc;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return bd_fail(err, BD_EINPUT, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = 0;
        if (n == 0) snprintf(dir, sizeof dir, "/");
    }
    return search_dir(dir, f, err);
}

int bd_chat_template_for(const char *tok_path, const struct bd_model *m, char **tmpl,
                         char **bos, char **eos, bd_err *err)
{
    found f = {NULL, NULL, NULL};
    int rc = 0;
    if (tmpl) *tmpl = NULL;
    if (bos) *bos = NULL;
    if (eos) *eos = NULL;
    if (tok_path && *tok_path) {
        rc = search_path(tok_path, &f, err);
    } else if (m) {
        /* the files themselves first, so HF folders get transformers' order
         * (chat_template.jinja before tokenizer_config.json) */
        if (m->gguf) rc = search_gguf(m->gguf, &f, err);
        else if (m->tok_path[0]) rc = search_path(m->tok_path, &f, err);
        if (!rc && !f.tmpl && m->chat_template) rc = dup_to(&f.tmpl, m->chat_template, err);
    } else {
        rc = bd_fail(err, BD_EINPUT, "no tokenizer or model to take a chat template from");
    }
    if (rc) goto fail;
    if (!f.bos || !f.eos) {
        /* no config file names them: ask the tokenizer itself (a failure to
         * load one just leaves them empty) */
        bd_tok *t = NULL;
        bd_err e2;
        int trc = (tok_path && *tok_path) ? bd_tok_load(tok_path, &t, &e2) : m ? bd_tok_for_model(m, &t, &e2) : 1;
        if (trc == 0 && t) {
            if (!f.bos && (rc = dup_to(&f.bos, bd_tok_bos_str(t), err))) { bd_tok_free(t); goto fail; }
            if (!f.eos && (rc = dup_to(&f.eos, bd_tok_eos_str(t), err))) { bd_tok_free(t); goto fail; }
        }
        if (t) bd_tok_free(t);
    }
    if (!f.bos && (rc = dup_to(&f.bos, "", err))) goto fail;
    if (!f.eos && (rc = dup_to(&f.eos, "", err))) goto fail;
    if (tmpl) *tmpl = f.tmpl; else free(f.tmpl);
    if (bos) *bos = f.bos; else free(f.bos);
    if (eos) *eos = f.eos; else free(f.eos);
    return 0;
fail:
    free(f.tmpl);
    free(f.bos);
    free(f.eos);
    return rc;
}
