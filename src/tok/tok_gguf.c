/* GGUF tokenizer.ggml.*: model "llama" (SentencePiece, encoded as
 * llama.cpp does) and "gpt2" (byte-level BPE with the pre-tokenizer that
 * tokenizer.ggml.pre names). */
#include <stdlib.h>
#include <string.h>

#include "../model/gguf.h"
#include "tok_int.h"

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int str_is(bd_gguf_str s, const char *z) { return s.len == strlen(z) && memcmp(s.ptr, z, s.len) == 0; }

static const bd_gguf_kv *arr(const bd_gguf *g, const char *key, bd_gguf_type want, uint64_t n, int required, bd_err *err,
                             int *rc)
{
    *rc = 0;
    const bd_gguf_kv *kv = bd_gguf_find(g, key);
    if (!kv) {
        if (required) *rc = bd_fail(err, BD_EINPUT, "%s: key %s is missing", g->path, key);
        return NULL;
    }
    if (kv->type != BD_GGUF_ARRAY || kv->arr_type != want || (n && kv->arr_len != n)) {
        *rc = bd_fail(err, BD_EINPUT, "%s: key %s at offset %llu: expected an array of type %d%s, got type %d/%d with %llu entries",
                      g->path, key, (unsigned long long)kv->offset, (int)want, n ? " matching the token count" : "",
                      (int)kv->type, (int)kv->arr_type, (unsigned long long)kv->arr_len);
        return NULL;
    }
    if (want == BD_GGUF_STRING && !kv->arr_strs) {
        *rc = bd_fail(err, BD_EINPUT, "%s: key %s: string array without strings", g->path, key);
        return NULL;
    }
    return kv;
}

static int64_t get_id(const bd_gguf *g, const char *key, int n, bd_err *err, int *rc)
{
    uint64_t v;
    int r = bd_gguf_get_u64(g, key, &v, err);
    if (r == 1) return -1;
    if (r) { *rc = r; return -1; }
    if (v >= (uint64_t)n) return -1;   /* llama.cpp ignores out-of-range ids too */
    return (int64_t)v;
}

int tok_load_gguf(const bd_gguf *g, bd_tok **out, bd_err *err)
{
    bd_gguf_str model;
    int rc = bd_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc == 1) return bd_fail(err, BD_EINPUT, "%s: key tokenizer.ggml.model is missing (no tokenizer in this GGUF)", g->path);
    if (rc) return rc;
    int spm = str_is(model, "llama");
    if (!spm && !str_is(model, "gpt2"))
        return bd_fail(err, BD_EUNSUP, "%s: tokenizer.ggml.model \"%.*s\" is not supported (llama, gpt2)",
                       g->path, (int)(model.len > 64 ? 64 : model.len), model.ptr);
    const bd_gguf_kv *toks = arr(g, "tokenizer.ggml.tokens", BD_GGUF_STRING, 0, 1, err, &rc);
    if (!toks) return rc;
    if (toks->arr_len == 0 || toks->arr_len > 10000000)
        return bd_fail(err, BD_EINPUT, "%s: key tokenizer.ggml.tokens: %llu tokens, expected 1..10000000",
                       g->path, (unsigned long long)toks->arr_len);
    int n = (int)toks->arr_len;
    const bd_gguf_kv *scores = arr(g, "tokenizer.ggml.scores", BD_GGUF_F32, (uint64_t)n, 0, err, &rc);
    if (rc) return rc;
    const bd_gguf_kv *types = arr(g, "tokenizer.ggml.token_type", BD_GGUF_I32, (uint64_t)n, 0, err, &rc);
    if (rc) return rc;

    bd_tok *t = tok_new(spm ? "spm" : "bpe", g->path);
    size_t cap = 256;
    char *tmp = malloc(cap);
    if (!t || !tmp) { free(tmp); bd_tok_free(t); return bd_oom(err, "tokenizer"); }
    for (int i = 0; i < n && !rc; i++) {
        bd_gguf_str s = toks->arr_strs[i];
        float sc = 0;
        int32_t ty = TT_NORMAL;
        if (scores) memcpy(&sc, (const uint8_t *)scores->arr_data + 4 * (size_t)i, 4);
        if (types) memcpy(&ty, (const uint8_t *)types->arr_data + 4 * (size_t)i, 4);
        if (ty < 1 || ty > 6) ty = TT_NORMAL;
        if (s.len > 65536) { rc = bd_fail(err, BD_EINPUT, "%s: key tokenizer.ggml.tokens[%d]: %llu bytes long", g->path, i, (unsigned long long)s.len); break; }
        if (s.len + 1 > cap) {
            cap = 2 * s.len + 1;
            char *p = realloc(tmp, cap);
            if (!p) { rc = bd_oom(err, "tokenizer"); break; }
            tmp = p;
        }
        size_t bl;
        if (spm) bl = tok_spm_piece_bytes(s.ptr, s.len, ty, tmp);
        else if (ty == TT_CONTROL || ty == TT_USER || tok_bytelevel_decode(s.ptr, s.len, tmp, &bl) != 0) {
            memcpy(tmp, s.ptr, s.len);
            bl = s.len;
        }
        rc = tok_add(t, s.ptr, s.len, tmp, bl, sc, ty, err);
    }
    free(tmp);
    if (!rc) rc = tok_build_maps(t, !spm, err);
    for (int i = 0; i < n && !rc; i++) {
        int ty = t->ent[i].type;
        if (ty == TT_CONTROL || ty == TT_UNKNOWN || ty == TT_USER)
            rc = tok_special_add(t, i, tok_str(t, i), t->ent[i].slen, ty != TT_USER, 0, 0, 0, err);
    }
    int add_bos = spm, add_eos = 0, add_space = 1;
    if (!rc) {
        t->bos = (int32_t)get_id(g, "tokenizer.ggml.bos_token_id", n, err, &rc);
        t->eos = (int32_t)get_id(g, "tokenizer.ggml.eos_token_id", n, err, &rc);
        t->unk = (int32_t)get_id(g, "tokenizer.ggml.unknown_token_id", n, err, &rc);
        int32_t eot = (int32_t)get_id(g, "tokenizer.ggml.eot_token_id", n, err, &rc);
        int32_t eom = (int32_t)get_id(g, "tokenizer.ggml.eom_token_id", n, err, &rc);
        if (!rc) rc = tok_add_eog(t, eot, err);
        if (!rc) rc = tok_add_eog(t, eom, err);
    }
    if (rc) { bd_tok_free(t); return rc; }
    if (spm) {
        if (t->unk < 0) t->unk = 0;
        t->alg = ALG_SCORE;
        t->score_any_type = 1;
        t->escape_ws = 1;
        t->byte_fallback = 1;
        if ((rc = bd_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &add_space, err)) > 1) goto fail;
        t->prefix = add_space ? PFX_EACH : PFX_NONE;
        t->strip_lead_space = add_space;
    } else {
        t->alg = ALG_RANK;
        t->byte_level = 1;
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            t->byte_id[b] = tok_find(t, &t->map_bytes, &c, 1);
        }
        const bd_gguf_kv *merges = arr(g, "tokenizer.ggml.merges", BD_GGUF_STRING, 0, 1, err, &rc);
        if (!merges) goto fail;
        for (uint64_t i = 0; i < merges->arr_len && !rc; i++) {
            bd_gguf_str m = merges->arr_strs[i];
            const char *sp = m.len ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
            if (!sp) { rc = bd_fail(err, BD_EINPUT, "%s: key tokenizer.ggml.merges[%llu]: expected \"a b\"", g->path, (unsigned long long)i); break; }
            size_t al = (size_t)(sp - m.ptr), bl = m.len - al - 1;
            int32_t a = tok_find(t, &t->map_str, m.ptr, al), b = tok_find(t, &t->map_str, sp + 1, bl);
            char *cat = malloc(m.len);
            if (!cat) { rc = bd_oom(err, "merges"); break; }
            memcpy(cat, m.ptr, al);
            memcpy(cat + al, sp + 1, bl);
            int32_t c = tok_find(t, &t->map_str, cat, al + bl);
            free(cat);
            if (a < 0 || b < 0 || c < 0) {
                rc = bd_fail(err, BD_EINPUT, "%s: key tokenizer.ggml.merges[%llu]: \"%.*s\" is not a pair of tokens merging into one",
                             g->path, (unsigned long long)i, (int)(m.len > 80 ? 80 : m.len), m.ptr);
                break;
            }
            rc = tok_pair_put(t, a, b, (int32_t)i, c, err);
        }
        if (rc) goto fail;
        bd_gguf_str pre = { 0, "" };
        if ((rc = bd_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err)) > 1) goto fail;
        rc = 0;
        add_bos = 0;
        if (str_is(pre, "llama-bpe") || str_is(pre, "llama3") || str_is(pre, "llama-v3")) {
            rc = tok_set_regex(t, LLAMA3_RE, err);
            t->ignore_merges = 1;
            add_bos = 1;
        } else if (str_is(pre, "smollm") || str_is(pre, "starcoder") || str_is(pre, "refact")) {
            rc = tok_set_regex(t, "\\p{N}", err);
            if (!rc) rc = tok_set_regex(t, GPT2_RE, err);
        } else if (str_is(pre, "gpt2") || str_is(pre, "gpt-2") || pre.len == 0 || str_is(pre, "default")) {
            rc = tok_set_regex(t, GPT2_RE, err);
        } else {
            rc = bd_fail(err, BD_EUNSUP, "%s: tokenizer.ggml.pre \"%.*s\" is not supported (llama-bpe, smollm, gpt2)",
                         g->path, (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
        }
        if (rc) goto fail;
    }
    if ((rc = bd_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, err)) > 1) goto fail;
    if ((rc = bd_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos, err)) > 1) goto fail;
    t->add_bos = add_bos;
    t->add_eos = add_eos;
    *out = t;
    return 0;
fail:
    if (!rc) rc = BD_EINPUT;
    bd_tok_free(t);
    return rc;
}
