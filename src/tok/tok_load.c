/* Finding and opening a tokenizer: file-type detection, HF folders,
 * tokenizer_config.json / generation_config.json, models. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../model/gguf.h"
#include "../model/model.h"
#include "tok_int.h"

int tok_read_file(const char *path, char **buf, size_t *len, bd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return bd_fail(err, BD_EINPUT, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n + 1);
    if (!b) { fclose(f); return bd_oom(err, path); }
    if (n && fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return bd_fail(err, BD_EIO, "%s: read failed", path);
    }
    fclose(f);
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int tok_json_parse(const char *path, const char *buf, size_t len, json_object **out, bd_err *err)
{
    int rc = 0;
    if (len > INT_MAX) return bd_fail(err, BD_EINPUT, "%s: larger than 2 GiB", path);
    json_tokener *tk = json_tokener_new_ex(64);
    if (!tk) return bd_oom(err, "JSON parser");
    json_object *o = json_tokener_parse_ex(tk, buf, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tk);
    size_t end = json_tokener_get_parse_end(tk);
    if (!o || je != json_tokener_success) {
        if (je == json_tokener_continue || je == json_tokener_success) { je = json_tokener_error_parse_eof; end = len; }
        size_t line = 1, col = 1;
        for (size_t i = 0; i < end && i < len; i++) { if (buf[i] == '\n') { line++; col = 1; } else col++; }
        rc = bd_fail(err, BD_EINPUT, "%s: line %zu, column %zu: invalid JSON: %s", path, line, col,
                     json_tokener_error_desc(je));
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tk);
    if (rc) return rc;
    *out = o;
    return 0;
}

int tok_json_file(const char *path, json_object **out, bd_err *err)
{
    char *buf; size_t len;
    int rc = tok_read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = tok_json_parse(path, buf, len, out, err);
    free(buf);
    return rc;
}

static int is_file(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISREG(st.st_mode); }
static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

/* "<s>" or {"content": "<s>", ...} */
static const char *tok_text_of(json_object *v)
{
    if (!v) return NULL;
    if (json_object_is_type(v, json_type_string)) return json_object_get_string(v);
    json_object *c;
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "content", &c) &&
        json_object_is_type(c, json_type_string))
        return json_object_get_string(c);
    return NULL;
}

static int jbool(json_object *o, const char *k, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_boolean)) return 0;
    *out = json_object_get_boolean(v);
    return 1;
}

int tok_apply_config(bd_tok *t, const char *dir, bd_err *err)
{
    char p[4200];
    int rc = 0, added = 0;
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    if (is_file(p)) {
        json_object *c;
        if ((rc = tok_json_file(p, &c, err))) return rc;
        json_object *atd;
        if (json_object_object_get_ex(c, "added_tokens_decoder", &atd) && json_object_is_type(atd, json_type_object)) {
            json_object_object_foreach(atd, key, val) {
                char *end;
                long id = strtol(key, &end, 10);
                const char *content = tok_text_of(val);
                if (*end || id < 0 || id > (long)t->n + 65536 || !content) {
                    rc = bd_fail(err, BD_EINPUT, "%s: added_tokens_decoder key \"%s\": expected an id at most 65536 past the vocabulary and {\"content\": ...}", p, key);
                    break;
                }
                int special = 0, lstrip = 0, rstrip = 0, sw = 0;
                jbool(val, "special", &special); jbool(val, "lstrip", &lstrip);
                jbool(val, "rstrip", &rstrip); jbool(val, "single_word", &sw);
                size_t cl = strlen(content);
                if (id >= t->n && (rc = tok_reserve(t, (int)id + 1, err))) break;
                if (t->ent[id].slen != cl || memcmp(tok_str(t, (int32_t)id), content, cl) != 0) {
                    if ((rc = tok_set(t, (int)id, content, cl, content, cl, 0, special ? TT_CONTROL : TT_USER, err))) break;
                    added = 1;
                } else if (special && t->ent[id].type == TT_NORMAL) {
                    t->ent[id].type = TT_CONTROL;
                }
                if ((rc = tok_special_add(t, (int32_t)id, content, cl, special, lstrip, rstrip, sw, err))) break;
            }
        }
        if (!rc && added) rc = tok_build_maps(t, t->byte_level, err);
        if (!rc) {
            jbool(c, "add_bos_token", &t->add_bos);
            jbool(c, "add_eos_token", &t->add_eos);
            /* clean_up_tokenization_spaces is not applied: transformers 5
             * ignores it for BPE tokenizers (it strips spaces before
             * punctuation), and every tokenizer here is BPE */
            json_object *v;
            const char *s;
            if (json_object_object_get_ex(c, "bos_token", &v) && (s = tok_text_of(v))) {
                int32_t id = tok_find(t, &t->map_str, s, strlen(s));
                if (id >= 0) t->bos = id;
            }
            if (json_object_object_get_ex(c, "eos_token", &v) && (s = tok_text_of(v))) {
                int32_t id = tok_find(t, &t->map_str, s, strlen(s));
                if (id >= 0) t->eos = id;
            }
        }
        json_object_put(c);
        if (rc) return rc;
    }
    snprintf(p, sizeof p, "%s/generation_config.json", dir);
    if (is_file(p)) {
        json_object *c, *v;
        if ((rc = tok_json_file(p, &c, err))) return rc;
        if (json_object_object_get_ex(c, "eos_token_id", &v)) {
            if (json_object_is_type(v, json_type_int)) rc = tok_add_eog(t, json_object_get_int(v), err);
            else if (json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v) && !rc; i++)
                    rc = tok_add_eog(t, json_object_get_int(json_object_array_get_idx(v, i)), err);
        }
        json_object_put(c);
    }
    return rc;
}

int tok_finalize(bd_tok *t, bd_err *err)
{
    int rc = tok_set_bos_eos(t, t->bos, t->eos, err);
    if (!rc) rc = tok_finish(t, err);
    return rc;
}

static int looks_tiktoken(const char *b, size_t n)
{
    size_t i = 0;
    while (i < n && b[i] != ' ') {
        char c = b[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
            return 0;
        i++;
    }
    if (i == 0 || i >= n) return 0;
    i++;
    size_t d = i;
    while (i < n && b[i] >= '0' && b[i] <= '9') i++;
    return i > d && i < n && (b[i] == '\n' || b[i] == '\r');
}

static void dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *s = strrchr(dir, '/');
    if (s) *s = 0;
    else snprintf(dir, cap, ".");
}

static int load_file(const char *path, bd_tok **out, bd_err *err)
{
    char *buf; size_t len;
    int rc = tok_read_file(path, &buf, &len, err);
    if (rc) return rc;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
    int cfg = 0;
    if (len >= 4 && memcmp(buf, "GGUF", 4) == 0) {
        free(buf);
        bd_gguf *g;
        if ((rc = bd_gguf_open(path, &g, err))) return rc;
        rc = tok_load_gguf(g, out, err);
        bd_gguf_close(g);
        if (rc) return rc;
    } else if (i < len && buf[i] == '{') {
        free(buf);
        if ((rc = tok_load_hfjson(path, out, err))) return rc;
        cfg = 1;
    } else if (looks_tiktoken(buf, len)) {
        rc = tok_load_tiktoken(path, buf, len, out, err);
        free(buf);
        if (rc) return rc;
        cfg = 1;
    } else if (tok_is_l2c((const uint8_t *)buf, len)) {
        rc = tok_load_l2c(path, (const uint8_t *)buf, len, out, err);
        free(buf);
        if (rc) return rc;
    } else {
        rc = tok_load_spm(path, (const uint8_t *)buf, len, out, err);
        free(buf);
        if (rc) return rc;
        cfg = 1;
    }
    if (cfg) {
        char dir[4096];
        dir_of(path, dir, sizeof dir);
        if ((rc = tok_apply_config(*out, dir, err))) { bd_tok_free(*out); *out = NULL; return rc; }
    }
    return 0;
}

int bd_tok_load(const char *path, bd_tok **out, bd_err *err)
{
    *out = NULL;
    int rc;
    if (is_dir(path)) {
        char p[4200];
        snprintf(p, sizeof p, "%s/tokenizer.json", path);
        if (!is_file(p)) snprintf(p, sizeof p, "%s/tokenizer.model", path);
        if (!is_file(p))
            return bd_fail(err, BD_EINPUT, "%s: folder has neither tokenizer.json nor tokenizer.model", path);
        rc = load_file(p, out, err);
    } else {
        rc = load_file(path, out, err);
    }
    if (!rc && (rc = tok_finalize(*out, err))) { bd_tok_free(*out); *out = NULL; }
    return rc;
}

int bd_tok_for_model(const bd_model *m, bd_tok **out, bd_err *err)
{
    *out = NULL;
    if (m->gguf) {
        int rc = tok_load_gguf(m->gguf, out, err);
        if (!rc && (rc = tok_finalize(*out, err))) { bd_tok_free(*out); *out = NULL; }
        return rc;
    }
    if (m->tok_path[0]) return bd_tok_load(m->tok_path, out, err);
    return bd_fail(err, BD_EINPUT, "%s: the model carries no tokenizer; pass --tokenizer PATH", m->path);
}
