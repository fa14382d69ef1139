/* HF tokenizers tokenizer.json with a BPE model: byte-level (GPT-2 /
 * LLaMA-3: ByteLevel, Split regexes, Digits) or SentencePiece style
 * (Metaspace, or the Prepend/Replace normalizer, with byte fallback).
 * Components we do not implement are refused by name, never ignored. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)) return v;
    return NULL;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int getb(json_object *o, const char *k, int dflt)
{
    json_object *v = get(o, k);
    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

static int unsup(bd_tok *t, bd_err *err, const char *where, const char *what)
{
    return bd_fail(err, BD_EUNSUP, "%s: %s type \"%s\" is not supported", t->path, where, what ? what : "?");
}

static int add_regex_quoted(bd_tok *t, const char *s, bd_err *err)
{
    size_t n = strlen(s);
    char *q = malloc(2 * n + 1);
    if (!q) return bd_oom(err, "regex");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\^$.|?*+()[]{}", s[i])) q[k++] = '\\';
        q[k++] = s[i];
    }
    q[k] = 0;
    int rc = tok_set_regex(t, q, err);
    free(q);
    return rc;
}

static int pretok(bd_tok *t, json_object *p, bd_err *err)
{
    if (!p || json_object_is_type(p, json_type_null)) return 0;
    const char *ty = jstr(p, "type");
    if (!ty) return bd_fail(err, BD_EINPUT, "%s: pre_tokenizer: missing \"type\"", t->path);
    if (!strcmp(ty, "Sequence")) {
        json_object *a = get(p, "pretokenizers");
        if (!a || !json_object_is_type(a, json_type_array))
            return bd_fail(err, BD_EINPUT, "%s: pre_tokenizer Sequence: missing \"pretokenizers\" array", t->path);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            int rc = pretok(t, json_object_array_get_idx(a, i), err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(ty, "Metaspace")) {
        const char *rep = jstr(p, "replacement");
        if (rep && strcmp(rep, "\xE2\x96\x81"))
            return bd_fail(err, BD_EUNSUP, "%s: Metaspace replacement other than U+2581", t->path);
        const char *sch = jstr(p, "prepend_scheme");
        t->escape_ws = 1;
        if (sch) t->prefix = !strcmp(sch, "first") ? PFX_FIRST : !strcmp(sch, "never") ? PFX_NONE : PFX_META_ALWAYS;
        else t->prefix = getb(p, "add_prefix_space", 1) ? PFX_META_ALWAYS : PFX_NONE;
        t->split_ws = getb(p, "split", 1);
        return 0;
    }
    if (!strcmp(ty, "ByteLevel")) {
        t->byte_level = 1;
        t->add_prefix_space = getb(p, "add_prefix_space", 0);
        return getb(p, "use_regex", 1) ? tok_set_regex(t, GPT2_RE, err) : 0;
    }
    if (!strcmp(ty, "Split")) {
        const char *beh = jstr(p, "behavior");
        if (!beh || strcmp(beh, "Isolated") || getb(p, "invert", 0))
            return bd_fail(err, BD_EUNSUP, "%s: pre_tokenizer Split with behavior \"%s\"%s (only Isolated)",
                           t->path, beh ? beh : "?", getb(p, "invert", 0) ? " inverted" : "");
        json_object *pat = get(p, "pattern");
        const char *re = jstr(pat, "Regex"), *str = jstr(pat, "String");
        if (re) return tok_set_regex(t, re, err);
        if (str) return add_regex_quoted(t, str, err);
        return bd_fail(err, BD_EINPUT, "%s: pre_tokenizer Split: pattern has neither Regex nor String", t->path);
    }
    if (!strcmp(ty, "Digits"))
        return tok_set_regex(t, getb(p, "individual_digits", 0) ? "\\p{N}" : "\\p{N}+", err);
    return unsup(t, err, "pre_tokenizer", ty);
}

static int normalizer(bd_tok *t, json_object *p, bd_err *err)
{
    if (!p || json_object_is_type(p, json_type_null)) return 0;
    const char *ty = jstr(p, "type");
    if (!ty) return bd_fail(err, BD_EINPUT, "%s: normalizer: missing \"type\"", t->path);
    if (!strcmp(ty, "Sequence")) {
        json_object *a = get(p, "normalizers");
        if (!a || !json_object_is_type(a, json_type_array))
            return bd_fail(err, BD_EINPUT, "%s: normalizer Sequence: missing \"normalizers\" array", t->path);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            int rc = normalizer(t, json_object_array_get_idx(a, i), err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(ty, "Prepend")) {
        const char *s = jstr(p, "prepend");
        if (!s || strcmp(s, "\xE2\x96\x81")) return bd_fail(err, BD_EUNSUP, "%s: normalizer Prepend of other than U+2581", t->path);
        t->prefix = PFX_EACH;
        return 0;
    }
    if (!strcmp(ty, "Replace")) {
        const char *from = jstr(get(p, "pattern"), "String"), *to = jstr(p, "content");
        if (!from || !to || strcmp(from, " ") || strcmp(to, "\xE2\x96\x81"))
            return bd_fail(err, BD_EUNSUP, "%s: normalizer Replace other than \" \" -> U+2581", t->path);
        t->escape_ws = 1;
        return 0;
    }
    return unsup(t, err, "normalizer", ty);
}

static void decoder(bd_tok *t, json_object *d)
{
    const char *ty = jstr(d, "type");
    if (!ty) return;
    if (!strcmp(ty, "Sequence")) {
        json_object *a = get(d, "decoders");
        if (a && json_object_is_type(a, json_type_array))
            for (size_t i = 0; i < json_object_array_length(a); i++) decoder(t, json_object_array_get_idx(a, i));
    } else if (!strcmp(ty, "Strip")) {
        const char *c = jstr(d, "content");
        json_object *st = get(d, "start");
        if (c && !strcmp(c, " ") && st && json_object_get_int(st) >= 1) t->strip_lead_space = 1;
    } else if (!strcmp(ty, "Metaspace")) {
        const char *sch = jstr(d, "prepend_scheme");
        if (sch ? strcmp(sch, "never") != 0 : getb(d, "add_prefix_space", 1)) t->strip_lead_space = 1;
    }
}

/* TemplateProcessing "single": a SpecialToken first adds BOS, last adds EOS */
static void post(bd_tok *t, json_object *p)
{
    const char *ty = jstr(p, "type");
    if (!ty) return;
    if (!strcmp(ty, "Sequence")) {
        json_object *a = get(p, "processors");
        if (a && json_object_is_type(a, json_type_array))
            for (size_t i = 0; i < json_object_array_length(a); i++) post(t, json_object_array_get_idx(a, i));
        return;
    }
    if (strcmp(ty, "TemplateProcessing")) return;
    json_object *single = get(p, "single");
    if (!single || !json_object_is_type(single, json_type_array)) return;
    size_t n = json_object_array_length(single);
    for (size_t i = 0; i < n; i++) {
        json_object *sp = get(json_object_array_get_idx(single, i), "SpecialToken");
        const char *name = jstr(sp, "id");
        if (!name) continue;
        int32_t id = tok_find(t, &t->map_str, name, strlen(name));
        json_object *ids = get(get(get(p, "special_tokens"), name), "ids");
        if (ids && json_object_is_type(ids, json_type_array) && json_object_array_length(ids) == 1)
            id = json_object_get_int(json_object_array_get_idx(ids, 0));
        if (id < 0 || id >= t->n) continue;
        if (i == 0) { t->add_bos = 1; t->bos = id; }
        else if (i == n - 1) { t->add_eos = 1; t->eos = id; }
    }
}

static int merge_parts(json_object *m, const char **a, size_t *al, const char **b, size_t *bl)
{
    if (json_object_is_type(m, json_type_string)) {
        const char *s = json_object_get_string(m);
        size_t n = (size_t)json_object_get_string_len(m);
        const char *sp = memchr(s, ' ', n);
        if (!sp) return -1;
        *a = s; *al = (size_t)(sp - s);
        *b = sp + 1; *bl = n - *al - 1;
        if (memchr(*b, ' ', *bl)) return -1;
        return 0;
    }
    if (json_object_is_type(m, json_type_array) && json_object_array_length(m) == 2) {
        json_object *x = json_object_array_get_idx(m, 0), *y = json_object_array_get_idx(m, 1);
        if (!json_object_is_type(x, json_type_string) || !json_object_is_type(y, json_type_string)) return -1;
        *a = json_object_get_string(x); *al = (size_t)json_object_get_string_len(x);
        *b = json_object_get_string(y); *bl = (size_t)json_object_get_string_len(y);
        return 0;
    }
    return -1;
}

static int load(bd_tok *t, json_object *j, bd_err *err)
{
    const char *path = t->path;
    json_object *model = get(j, "model");
    const char *mt = jstr(model, "type");
    if (!model) return bd_fail(err, BD_EINPUT, "%s: key \"model\" missing", path);
    if (mt && strcmp(mt, "BPE")) return unsup(t, err, "model", mt);
    json_object *vocab = get(model, "vocab"), *merges = get(model, "merges"), *added = get(j, "added_tokens");
    if (!vocab || !json_object_is_type(vocab, json_type_object))
        return bd_fail(err, BD_EINPUT, "%s: key \"model.vocab\": expected an object of token -> id", path);
    if (!merges || !json_object_is_type(merges, json_type_array))
        return bd_fail(err, BD_EINPUT, "%s: key \"model.merges\": expected an array", path);
    if (added && !json_object_is_type(added, json_type_array))
        return bd_fail(err, BD_EINPUT, "%s: key \"added_tokens\": expected an array", path);
    int rc;
    if ((rc = normalizer(t, get(j, "normalizer"), err))) return rc;
    if ((rc = pretok(t, get(j, "pre_tokenizer"), err))) return rc;
    decoder(t, get(j, "decoder"));
    json_object *dec = get(j, "decoder");
    if (dec && jstr(dec, "type") && !strcmp(jstr(dec, "type"), "ByteLevel")) t->byte_level = 1;

    /* size: the largest id of vocab and added tokens */
    int64_t maxid = -1;
    json_object_object_foreach(vocab, k0, v0) {
        (void)k0;
        if (!json_object_is_type(v0, json_type_int) || json_object_get_int64(v0) < 0 || json_object_get_int64(v0) > 10000000)
            return bd_fail(err, BD_EINPUT, "%s: key \"model.vocab\".\"%s\": expected an id 0..10000000", path, k0);
        if (json_object_get_int64(v0) > maxid) maxid = json_object_get_int64(v0);
    }
    size_t na = added ? json_object_array_length(added) : 0;
    for (size_t i = 0; i < na; i++) {
        json_object *id = get(json_object_array_get_idx(added, i), "id");
        const char *c = jstr(json_object_array_get_idx(added, i), "content");
        if (!id || !json_object_is_type(id, json_type_int) || !c || json_object_get_int64(id) < 0 ||
            json_object_get_int64(id) > 10000000)
            return bd_fail(err, BD_EINPUT, "%s: key \"added_tokens\"[%zu]: expected {\"id\": 0..10000000, \"content\": string}", path, i);
        if (json_object_get_int64(id) > maxid) maxid = json_object_get_int64(id);
    }
    if (maxid < 0) return bd_fail(err, BD_EINPUT, "%s: empty vocabulary", path);
    size_t nv = (size_t)json_object_object_length(vocab) + na;
    if ((size_t)maxid >= 2 * nv + 1024)   /* ids are dense in real files */
        return bd_fail(err, BD_EINPUT, "%s: largest token id %lld for %zu tokens: ids too sparse", path, (long long)maxid, nv);
    if ((rc = tok_reserve(t, (int)maxid + 1, err))) return rc;
    char *tmp = NULL;
    size_t tmp_cap = 0;
    uint8_t *seen = calloc((size_t)maxid + 1, 1);
    if (!seen) return bd_oom(err, "vocabulary");
    {
        json_object_object_foreach(vocab, k, v) {
            int id = json_object_get_int(v);
            size_t kl = strlen(k);
            if (seen[id]) { rc = bd_fail(err, BD_EINPUT, "%s: key \"model.vocab\".\"%s\": id %d used twice", path, k, id); break; }
            seen[id] = 1;
            if (kl + 1 > tmp_cap) {
                free(tmp);
                tmp_cap = 2 * kl + 64;
                if (!(tmp = malloc(tmp_cap))) { rc = bd_oom(err, "vocabulary"); break; }
            }
            size_t bl;
            int type = TT_NORMAL;
            if (t->byte_level) {
                if (tok_bytelevel_decode(k, kl, tmp, &bl) != 0) { memcpy(tmp, k, kl); bl = kl; }
            } else {
                if (kl == 6 && !strncmp(k, "<0x", 3) && k[5] == '>') type = TT_BYTE;
                bl = tok_spm_piece_bytes(k, kl, type, tmp);
            }
            if ((rc = tok_set(t, id, k, kl, tmp, bl, 0, type, err))) break;
        }
    }
    free(tmp);
    free(seen);
    if (rc) return rc;
    for (size_t i = 0; i < na && !rc; i++) {
        json_object *a = json_object_array_get_idx(added, i);
        int id = json_object_get_int(get(a, "id"));
        const char *c = jstr(a, "content");
        size_t cl = strlen(c);
        int special = getb(a, "special", 0);
        if (t->ent[id].slen != cl || memcmp(tok_str(t, id), c, cl) != 0)
            rc = tok_set(t, id, c, cl, c, cl, 0, special ? TT_CONTROL : TT_USER, err);
        else
            t->ent[id].type = special ? TT_CONTROL : TT_USER;
        if (!rc)
            rc = tok_special_add(t, id, c, cl, special, getb(a, "lstrip", 0), getb(a, "rstrip", 0),
                                 getb(a, "single_word", 0), err);
    }
    if (rc || (rc = tok_build_maps(t, t->byte_level, err))) return rc;
    const char *unk = jstr(model, "unk_token");
    if (unk) t->unk = tok_find(t, &t->map_str, unk, strlen(unk));
    if (t->unk >= 0 && t->ent[t->unk].type == TT_NORMAL) t->ent[t->unk].type = TT_UNKNOWN;
    t->byte_fallback = getb(model, "byte_fallback", 0);
    t->fuse_unk = getb(model, "fuse_unk", 0);
    t->ignore_merges = getb(model, "ignore_merges", 0);
    if (get(model, "continuing_subword_prefix") && !json_object_is_type(get(model, "continuing_subword_prefix"), json_type_null))
        return bd_fail(err, BD_EUNSUP, "%s: model.continuing_subword_prefix is not supported", path);
    if (get(model, "end_of_word_suffix") && !json_object_is_type(get(model, "end_of_word_suffix"), json_type_null))
        return bd_fail(err, BD_EUNSUP, "%s: model.end_of_word_suffix is not supported", path);

    size_t nm = json_object_array_length(merges);
    for (size_t i = 0; i < nm && !rc; i++) {
        const char *a, *b; size_t al, bl;
        if (merge_parts(json_object_array_get_idx(merges, i), &a, &al, &b, &bl))
            return bd_fail(err, BD_EINPUT, "%s: key \"model.merges\"[%zu]: expected \"a b\" or [\"a\", \"b\"]", path, i);
        int32_t ia = tok_find(t, &t->map_str, a, al), ib = tok_find(t, &t->map_str, b, bl);
        char *cat = malloc(al + bl + 1);
        if (!cat) return bd_oom(err, "merges");
        memcpy(cat, a, al);
        memcpy(cat + al, b, bl);
        int32_t ic = tok_find(t, &t->map_str, cat, al + bl);
        free(cat);
        if (ia < 0 || ib < 0 || ic < 0)
            return bd_fail(err, BD_EINPUT, "%s: key \"model.merges\"[%zu]: \"%.*s\" + \"%.*s\" is not in the vocabulary",
                           path, i, (int)al, a, (int)bl, b);
        rc = tok_pair_put(t, ia, ib, (int32_t)i, ic, err);
    }
    if (rc) return rc;
    t->alg = ALG_RANK;
    if (t->byte_level) {
        t->kind = "bpe";
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            t->byte_id[b] = tok_find(t, &t->map_bytes, &c, 1);
        }
    } else {
        t->kind = "spm";
    }
    post(t, get(j, "post_processor"));
    /* eos when no config names one: the vocabulary's usual end token */
    static const char *const eos_names[] = { "</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>" };
    for (size_t i = 0; t->eos < 0 && i < sizeof eos_names / sizeof eos_names[0]; i++)
        t->eos = tok_find(t, &t->map_str, eos_names[i], strlen(eos_names[i]));
    if (t->bos < 0) {
        static const char *const bos_names[] = { "<s>", "<|begin_of_text|>" };
        for (size_t i = 0; t->bos < 0 && i < 2; i++) t->bos = tok_find(t, &t->map_str, bos_names[i], strlen(bos_names[i]));
    }
    return 0;
}

static int load_obj(const char *path, json_object *j, bd_tok **out, bd_err *err);

int tok_load_hfjson(const char *path, bd_tok **out, bd_err *err)
{
    json_object *j;
    int rc = tok_json_file(path, &j, err);
    if (rc) return rc;
    return load_obj(path, j, out, err);
}

int tok_load_hfjson_mem(const char *path, const char *buf, size_t len, bd_tok **out, bd_err *err)
{
    json_object *j;
    int rc = tok_json_parse(path, buf, len, &j, err);
    if (rc) return rc;
    return load_obj(path, j, out, err);
}

static int load_obj(const char *path, json_object *j, bd_tok **out, bd_err *err)
{
    int rc;
    bd_tok *t = tok_new("bpe", path);
    if (!t) { json_object_put(j); return bd_oom(err, "tokenizer"); }
    rc = load(t, j, err);
    json_object_put(j);
    if (rc) { bd_tok_free(t); return rc; }
    *out = t;
    return 0;
}
