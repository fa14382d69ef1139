/* The vocabulary table and its lookup structures. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

bd_tok *tok_new(const char *kind, const char *path)
{
    bd_tok *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->unk = t->bos = t->eos = -1;
    t->sanitize_utf8 = 1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    snprintf(t->path, sizeof t->path, "%s", path ? path : "");
    return t;
}

void bd_tok_free(bd_tok *t)
{
    if (!t) return;
    free(t->arena);
    free(t->ent);
    free(t->map_str.slot);
    free(t->map_bytes.slot);
    free(t->pairs);
    free(t->sp);
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    free(t->bos_str);
    free(t->eos_str);
    free(t->eog);
    free(t);
}

int tok_arena_add(bd_tok *t, const void *p, size_t n, uint32_t *off, bd_err *err)
{
    if (n > UINT32_MAX - 1 || t->arena_len + n + 1 > UINT32_MAX)
        return bd_fail(err, BD_EINPUT, "%s: vocabulary text larger than 4 GiB", t->path);
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap * 2 : 1 << 16;
        while (cap < t->arena_len + n + 1) cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a) return bd_oom(err, "tokenizer strings");
        t->arena = a;
        t->arena_cap = cap;
    }
    *off = (uint32_t)t->arena_len;
    if (n) memcpy(t->arena + t->arena_len, p, n);
    t->arena[t->arena_len + n] = 0;
    t->arena_len += n + 1;
    return 0;
}

int tok_reserve(bd_tok *t, int n, bd_err *err)
{
    if (n <= t->cap) {
        if (n <= t->n) return 0;
    } else {
        /* geometric growth: loaders reserve one id at a time */
        int cap = t->cap > n / 2 ? (t->cap < INT32_MAX / 2 ? 2 * t->cap : n) : n;
        if (cap < n) cap = n;
        tok_ent *e = realloc(t->ent, (size_t)cap * sizeof *e);
        if (!e) return bd_oom(err, "tokenizer vocabulary");
        t->ent = e;
        t->cap = cap;
    }
    uint32_t off;
    if (t->n < n) {
        int rc = tok_arena_add(t, "", 0, &off, err);
        if (rc) return rc;
    }
    for (int i = t->n; i < n; i++)
        t->ent[i] = (tok_ent){ off, 0, off, 0, 0.0f, TT_UNUSED };
    t->n = n;
    return 0;
}

int tok_set(bd_tok *t, int id, const char *str, size_t slen, const void *bytes, size_t blen,
            float score, int type, bd_err *err)
{
    tok_ent e = { 0, (uint32_t)slen, 0, (uint32_t)blen, score, (uint8_t)type };
    int rc = tok_arena_add(t, str, slen, &e.str, err);
    if (rc) return rc;
    if (bytes == str && blen == slen) e.byt = e.str;
    else if ((rc = tok_arena_add(t, bytes, blen, &e.byt, err))) return rc;
    t->ent[id] = e;
    return 0;
}

int tok_add(bd_tok *t, const char *str, size_t slen, const void *bytes, size_t blen,
            float score, int type, bd_err *err)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 1024;
        tok_ent *e = realloc(t->ent, (size_t)cap * sizeof *e);
        if (!e) return bd_oom(err, "tokenizer vocabulary");
        t->ent = e;
        t->cap = cap;
    }
    int rc = tok_set(t, t->n, str, slen, bytes, blen, score, type, err);
    if (rc) return rc;
    t->n++;
    return 0;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void key_of(const bd_tok *t, const tok_map *m, int32_t id, const char **s, size_t *n)
{
    const tok_ent *e = &t->ent[id];
    if (m->by_bytes) { *s = t->arena + e->byt; *n = e->blen; }
    else { *s = t->arena + e->str; *n = e->slen; }
}

/* First id wins on duplicate keys, as convert_tokens_to_ids and the byte
 * lookups of the reference libraries resolve to the lowest id. */
static int map_build(bd_tok *t, tok_map *m, int by_bytes, bd_err *err)
{
    uint32_t cap = 64;
    while (cap < (uint32_t)t->n * 2 + 2) cap *= 2;
    free(m->slot);
    m->slot = malloc((size_t)cap * sizeof *m->slot);
    if (!m->slot) return bd_oom(err, "tokenizer map");
    memset(m->slot, 0xff, (size_t)cap * sizeof *m->slot);
    m->cap = cap;
    m->by_bytes = by_bytes;
    for (int32_t id = 0; id < t->n; id++) {
        const char *s; size_t n;
        key_of(t, m, id, &s, &n);
        if (n == 0) continue;
        uint32_t i = (uint32_t)hash_bytes(s, n) & (cap - 1);
        for (;; i = (i + 1) & (cap - 1)) {
            int32_t o = m->slot[i];
            if (o < 0) { m->slot[i] = id; break; }
            const char *os; size_t on;
            key_of(t, m, o, &os, &on);
            if (on == n && memcmp(os, s, n) == 0) break;
        }
    }
    return 0;
}

int tok_build_maps(bd_tok *t, int want_bytes, bd_err *err)
{
    int rc = map_build(t, &t->map_str, 0, err);
    if (!rc && want_bytes) rc = map_build(t, &t->map_bytes, 1, err);
    return rc;
}

int32_t tok_find(const bd_tok *t, const tok_map *m, const char *s, size_t len)
{
    if (!m->slot || len == 0) return -1;
    uint32_t i = (uint32_t)hash_bytes(s, len) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        int32_t o = m->slot[i];
        if (o < 0) return -1;
        const char *os; size_t on;
        key_of(t, m, o, &os, &on);
        if (on == len && memcmp(os, s, len) == 0) return o;
    }
}

static uint32_t hash_pair(uint64_t k)
{
    k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33;
    return (uint32_t)k;
}

static int pairs_grow(bd_tok *t, bd_err *err)
{
    uint32_t cap = t->pair_cap ? t->pair_cap * 2 : 1024;
    tok_pair *p = malloc((size_t)cap * sizeof *p);
    if (!p) return bd_oom(err, "merge table");
    for (uint32_t i = 0; i < cap; i++) p[i].key = UINT64_MAX;
    for (uint32_t i = 0; i < t->pair_cap; i++) {
        if (t->pairs[i].key == UINT64_MAX) continue;
        uint32_t j = hash_pair(t->pairs[i].key) & (cap - 1);
        while (p[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        p[j] = t->pairs[i];
    }
    free(t->pairs);
    t->pairs = p;
    t->pair_cap = cap;
    return 0;
}

/* Keeps the lowest rank for a pair listed twice, as HF's merge map does
 * when it keeps the first occurrence. */
int tok_pair_put(bd_tok *t, int32_t a, int32_t b, int32_t rank, int32_t id, bd_err *err)
{
    if ((t->n_pairs + 1) * 2 > t->pair_cap) {
        int rc = pairs_grow(t, err);
        if (rc) return rc;
    }
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t j = hash_pair(k) & (t->pair_cap - 1);
    for (;; j = (j + 1) & (t->pair_cap - 1)) {
        tok_pair *p = &t->pairs[j];
        if (p->key == UINT64_MAX) { p->key = k; p->rank = rank; p->id = id; t->n_pairs++; return 0; }
        if (p->key == k) {
            if (rank < p->rank) { p->rank = rank; p->id = id; }
            return 0;
        }
    }
}

const tok_pair *tok_pair_get(const bd_tok *t, int32_t a, int32_t b)
{
    if (!t->pair_cap) return NULL;
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t j = hash_pair(k) & (t->pair_cap - 1);
    for (;; j = (j + 1) & (t->pair_cap - 1)) {
        const tok_pair *p = &t->pairs[j];
        if (p->key == k) return p;
        if (p->key == UINT64_MAX) return NULL;
    }
}

int tok_special_add(bd_tok *t, int32_t id, const char *s, size_t len, int special,
                    int lstrip, int rstrip, int single_word, bd_err *err)
{
    if (len == 0) return 0;
    if (t->n_sp == t->sp_cap) {
        int cap = t->sp_cap ? t->sp_cap * 2 : 64;
        tok_special *p = realloc(t->sp, (size_t)cap * sizeof *p);
        if (!p) return bd_oom(err, "special tokens");
        t->sp = p;
        t->sp_cap = cap;
    }
    tok_special *p = &t->sp[t->n_sp];
    int rc = tok_arena_add(t, s, len, &p->off, err);
    if (rc) return rc;
    p->id = id; p->len = (uint32_t)len; p->seq = (uint32_t)t->n_sp; p->special = (uint8_t)special;
    p->lstrip = (uint8_t)lstrip; p->rstrip = (uint8_t)rstrip; p->single_word = (uint8_t)single_word;
    t->n_sp++;
    return 0;
}

int tok_set_regex(bd_tok *t, const char *pattern, bd_err *err)
{
    if (t->n_re >= (int)(sizeof t->re / sizeof t->re[0]))
        return bd_fail(err, BD_EUNSUP, "%s: more than 4 pre-tokenizer regexes", t->path);
    int ec; PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return bd_fail(err, BD_EINPUT, "%s: pre-tokenizer regex at offset %zu: %s",
                       t->path, (size_t)eo, (char *)msg);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter if JIT is unavailable */
    t->re[t->n_re++] = re;
    return 0;
}

int tok_set_bos_eos(bd_tok *t, int32_t bos, int32_t eos, bd_err *err)
{
    t->bos = (bos >= 0 && bos < t->n) ? bos : -1;
    t->eos = (eos >= 0 && eos < t->n) ? eos : -1;
    free(t->bos_str); free(t->eos_str);
    t->bos_str = strdup(t->bos >= 0 ? tok_bytes(t, t->bos) : "");
    t->eos_str = strdup(t->eos >= 0 ? tok_bytes(t, t->eos) : "");
    if (!t->bos_str || !t->eos_str) return bd_oom(err, "bos/eos strings");
    return 0;
}

int tok_add_eog(bd_tok *t, int32_t id, bd_err *err)
{
    if (id < 0 || id >= t->n) return 0;
    for (int i = 0; i < t->n_eog; i++) if (t->eog[i] == id) return 0;
    int32_t *p = realloc(t->eog, (size_t)(t->n_eog + 1) * sizeof *p);
    if (!p) return bd_oom(err, "end-of-generation ids");
    t->eog = p;
    t->eog[t->n_eog++] = id;
    return 0;
}

/* First byte ascending, then longest first (so the first hit at a position
 * is the longest), then by text, the latest added first. */
static int sp_cmp(const void *a, const void *b, void *arena_)
{
    const tok_special *x = a, *y = b;
    const char *arena = arena_;
    uint8_t ca = (uint8_t)arena[x->off], cb = (uint8_t)arena[y->off];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    int c = memcmp(arena + x->off, arena + y->off, x->len);
    if (c) return c;
    return x->seq > y->seq ? -1 : x->seq < y->seq;
}

int tok_finish(bd_tok *t, bd_err *err)
{
    if (t->n_sp > 1) {
        qsort_r(t->sp, (size_t)t->n_sp, sizeof *t->sp, sp_cmp, t->arena);
        int k = 1;
        for (int i = 1; i < t->n_sp; i++) {
            const tok_special *prev = &t->sp[k - 1], *cur = &t->sp[i];
            if (cur->len == prev->len && !memcmp(t->arena + cur->off, t->arena + prev->off, cur->len)) continue;
            t->sp[k++] = *cur;
        }
        t->n_sp = k;
    }
    for (int c = 0, i = 0; c <= 256; c++) {
        while (i < t->n_sp && (uint8_t)t->arena[t->sp[i].off] < c) i++;
        t->sp_first[c] = i;
    }
    if (!t->byte_level) {
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            int32_t id = tok_find(t, &t->map_str, name, 6);
            t->byte_id[b] = (id >= 0 && (t->ent[id].type == TT_BYTE || t->alg == ALG_L2C)) ? id : -1;
        }
    }
    /* end of generation: eos plus the end-of-turn tokens the vocabulary declares */
    static const char *const eog_names[] = {
        "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>",
        "<end_of_turn>", "<|end|>", "</s>", "<|END_OF_TURN_TOKEN|>"
    };
    int rc = tok_add_eog(t, t->eos, err);
    for (size_t i = 0; !rc && i < sizeof eog_names / sizeof eog_names[0]; i++) {
        int32_t id = tok_find(t, &t->map_str, eog_names[i], strlen(eog_names[i]));
        if (id >= 0 && (t->ent[id].type == TT_CONTROL || t->ent[id].type == TT_USER)) rc = tok_add_eog(t, id, err);
    }
    return rc;
}
