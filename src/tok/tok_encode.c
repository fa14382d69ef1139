/* Encoding: invalid UTF-8 repair, special-token splitting, the
 * pre-tokenizer, and the two BPE merge loops (SentencePiece's best-score
 * order and HF/tiktoken's lowest-rank order), both as a linked list of
 * symbols with a lazily invalidated heap. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

typedef struct sym {
    int32_t prev, next;
    uint32_t off, len;   /* bytes of the working buffer */
    int32_t id;
    int32_t frozen;
    int32_t node;        /* score merge: merge-history node of this symbol */
} sym;

/* sentencepiece's resegmentation needs how each symbol was built */
typedef struct mnode { uint32_t off, len; int32_t left, right; } mnode;

typedef struct hitem {
    uint64_t key;        /* priority << 32 | left: smaller pops first, ties leftmost */
    int32_t right;
    int32_t a, b;        /* ids of the pair when pushed (rank / llama2.c) */
    int32_t aux;         /* merged id, or merged byte length (score) */
} hitem;

typedef struct enc {
    const bd_tok *t;
    int32_t *ids; size_t n, cap;
    sym *s; size_t s_cap;
    mnode *nodes; size_t n_nodes, nodes_cap;
    hitem *h; size_t hn, h_cap;
    char *buf; size_t buf_cap;
    pcre2_match_data *md[4];
    bd_err *err;
} enc;

static int push_id(enc *e, int32_t id)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        int32_t *p = realloc(e->ids, cap * sizeof *p);
        if (!p) return bd_oom(e->err, "token ids");
        e->ids = p;
        e->cap = cap;
    }
    e->ids[e->n++] = id;
    return 0;
}

static int ensure_syms(enc *e, size_t n)
{
    if (n <= e->s_cap) return 0;
    sym *p = realloc(e->s, n * sizeof *p);
    if (!p) return bd_oom(e->err, "symbols");
    e->s = p;
    e->s_cap = n;
    return 0;
}

static int ensure_buf(enc *e, size_t n)
{
    if (n <= e->buf_cap) return 0;
    char *p = realloc(e->buf, n);
    if (!p) return bd_oom(e->err, "text buffer");
    e->buf = p;
    e->buf_cap = n;
    return 0;
}

static int hless(const hitem *x, const hitem *y)
{
    return x->key < y->key;
}

/* Priority of a higher score first, as an unsigned key (float order
 * preserved by flipping bits; -0.0 counts as 0.0 as a float compare does). */
static uint64_t score_key(float score, int32_t left)
{
    uint32_t u;
    if (score == 0.0f) score = 0.0f;
    memcpy(&u, &score, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  /* ascending with score */
    return ((uint64_t)~u << 32) | (uint32_t)left;
}

static uint64_t rank_key(int32_t rank, int32_t left)
{
    return ((uint64_t)(uint32_t)rank << 32) | (uint32_t)left;
}

static int32_t hleft(const hitem *h) { return (int32_t)(uint32_t)h->key; }

static int hpush(enc *e, hitem it)
{
    if (e->hn == e->h_cap) {
        size_t cap = e->h_cap ? e->h_cap * 2 : 64;
        hitem *p = realloc(e->h, cap * sizeof *p);
        if (!p) return bd_oom(e->err, "merge queue");
        e->h = p;
        e->h_cap = cap;
    }
    size_t i = e->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&it, &e->h[p])) break;
        e->h[i] = e->h[p];
        i = p;
    }
    e->h[i] = it;
    return 0;
}

static hitem hpop(enc *e)
{
    hitem top = e->h[0], last = e->h[--e->hn];
    size_t i = 0, n = e->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && hless(&e->h[c + 1], &e->h[c])) c++;
        if (!hless(&e->h[c], &last)) break;
        e->h[i] = e->h[c];
        i = c;
    }
    if (n) e->h[i] = last;
    return top;
}

static size_t u8len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* ---- invalid UTF-8: each maximal ill-formed subpart becomes U+FFFD, as
 * Python's bytes.decode('utf-8', 'replace') does before a reference
 * tokenizer ever sees the text. Returns NULL if the text is valid. */
static int sanitize(const char *s, size_t n, char **out, size_t *olen, bd_err *err)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, bad = 0;
    char *o = NULL;
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        i = 0; k = 0;
        while (i < n) {
            uint8_t c = p[i];
            size_t need = 0; uint8_t lo = 0x80, hi = 0xBF;
            if (c < 0x80) { if (o) o[k] = (char)c; k++; i++; continue; }
            if (c >= 0xC2 && c <= 0xDF) need = 1;
            else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
            else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
            size_t j = 1;
            if (need) {
                for (; j <= need && i + j < n; j++) {
                    uint8_t d = p[i + j];
                    if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
                }
            }
            if (need && j == need + 1) {
                if (o) memcpy(o + k, p + i, j);
                k += j; i += j;
            } else {
                bad++;
                if (o) memcpy(o + k, "\xEF\xBF\xBD", 3);
                k += 3; i += j;
            }
        }
        if (!bad) { *out = NULL; return 0; }
        if (pass == 0) {
            o = malloc(k + 1);
            if (!o) return bd_oom(err, "text");
        }
    }
    *out = o;
    *olen = k;
    return 0;
}

/* ---- SentencePiece: best score first -------------------------------- */

static int score_try(enc *e, int32_t l, int32_t r)
{
    const bd_tok *t = e->t;
    if (l < 0 || r < 0 || e->s[l].frozen || e->s[r].frozen) return 0;
    uint32_t len = e->s[l].len + e->s[r].len;
    int32_t id = tok_find(t, &t->map_str, e->buf + e->s[l].off, len);
    if (id < 0) return 0;
    int ty = t->ent[id].type;
    if (!t->score_any_type && ty != TT_NORMAL && ty != TT_USER && ty != TT_UNUSED) return 0;
    return hpush(e, (hitem){ score_key(t->ent[id].score, l), r, 0, 0, (int32_t)len });
}

static int emit_bytes_fallback(enc *e, const char *p, size_t len)
{
    const bd_tok *t = e->t;
    int rc = 0;
    if (t->byte_fallback) {
        int ok = 1;
        for (size_t i = 0; i < len; i++) if (t->byte_id[(uint8_t)p[i]] < 0) ok = 0;
        if (ok) {
            for (size_t i = 0; i < len && !rc; i++) rc = push_id(e, t->byte_id[(uint8_t)p[i]]);
            return rc;
        }
    }
    if (t->unk < 0)
        return bd_fail(e->err, BD_EINPUT, "%s: text has a character with no token and no <unk>", t->path);
    if (t->fuse_unk && e->n > 0 && e->ids[e->n - 1] == t->unk) return 0;
    return push_id(e, t->unk);
}

/* A finished symbol: its piece, split back into the pieces it was merged
 * from while it is an UNUSED piece (sentencepiece's resegment), or its
 * bytes when it is no piece at all. */
static int score_emit(enc *e, int32_t node, int depth)
{
    const bd_tok *t = e->t;
    const mnode *nd = &e->nodes[node];
    const char *p = e->buf + nd->off;
    int32_t id = tok_find(t, &t->map_str, p, nd->len);
    if (id >= 0 && t->ent[id].type == TT_UNUSED && !t->score_any_type && nd->left >= 0 && depth < 64) {
        int rc = score_emit(e, nd->left, depth + 1);
        return rc ? rc : score_emit(e, nd->right, depth + 1);
    }
    if (id >= 0 && t->ent[id].type != TT_UNKNOWN) return push_id(e, id);
    return emit_bytes_fallback(e, p, nd->len);
}

/* text: normalized (▁ for spaces) in e->buf[0..len) */
static int score_merge(enc *e, size_t len)
{
    const bd_tok *t = e->t;
    int rc = ensure_syms(e, len + 1);
    if (rc) return rc;
    if (2 * len + 2 > e->nodes_cap) {
        mnode *p = realloc(e->nodes, (2 * len + 2) * sizeof *p);
        if (!p) return bd_oom(e->err, "merge history");
        e->nodes = p;
        e->nodes_cap = 2 * len + 2;
    }
    int32_t ns = 0;
    for (size_t i = 0; i < len;) {
        size_t cl = u8len((uint8_t)e->buf[i]);
        int frozen = 0;
        if (t->match_user) {
            /* user-defined pieces are whole symbols (longest match) */
            uint8_t c = (uint8_t)e->buf[i];
            for (int k = t->sp_first[c]; k < t->sp_first[c + 1]; k++) {
                const tok_special *sp = &t->sp[k];
                if (t->ent[sp->id].type != TT_USER || sp->len > len - i) continue;
                if (memcmp(t->arena + sp->off, e->buf + i, sp->len) == 0) { cl = sp->len; frozen = 1; break; }
            }
        }
        if (cl > len - i) cl = len - i;
        e->s[ns] = (sym){ ns - 1, ns + 1, (uint32_t)i, (uint32_t)cl, -1, frozen, ns };
        e->nodes[ns] = (mnode){ (uint32_t)i, (uint32_t)cl, -1, -1 };
        ns++;
        i += cl;
    }
    if (ns == 0) return 0;
    e->n_nodes = (size_t)ns;
    e->s[ns - 1].next = -1;
    e->hn = 0;
    for (int32_t i = 0; i + 1 < ns && !rc; i++) rc = score_try(e, i, i + 1);
    while (!rc && e->hn) {
        hitem it = hpop(e);
        sym *L = &e->s[hleft(&it)], *R = &e->s[it.right];
        if (L->len == 0 || R->len == 0 || L->len + R->len != (uint32_t)it.aux || L->next != it.right) continue;
        e->nodes[e->n_nodes] = (mnode){ L->off, L->len + R->len, L->node, R->node };
        L->node = (int32_t)e->n_nodes++;
        L->len += R->len;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) e->s[R->next].prev = hleft(&it);
        rc = score_try(e, L->prev, hleft(&it));
        if (!rc) rc = score_try(e, hleft(&it), L->next);
    }
    for (int32_t i = 0; i >= 0 && !rc; i = e->s[i].next) rc = score_emit(e, e->s[i].node, 0);
    return rc;
}

/* ---- HF BPE / tiktoken: lowest rank first ---------------------------- */

static int rank_try(enc *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0) return 0;
    const tok_pair *p = tok_pair_get(e->t, e->s[l].id, e->s[r].id);
    if (!p) return 0;
    return hpush(e, (hitem){ rank_key(p->rank, l), r, e->s[l].id, e->s[r].id, p->id });
}

/* symbols e->s[0..ns) already hold ids */
static int rank_merge(enc *e, int32_t ns)
{
    int rc = 0;
    if (ns == 0) return 0;
    e->s[ns - 1].next = -1;
    e->hn = 0;
    for (int32_t i = 0; i + 1 < ns && !rc; i++) rc = rank_try(e, i, i + 1);
    while (!rc && e->hn) {
        hitem it = hpop(e);
        sym *L = &e->s[hleft(&it)], *R = &e->s[it.right];
        if (L->len == 0 || R->len == 0 || L->next != it.right || L->id != it.a || R->id != it.b) continue;
        L->id = it.aux;
        L->len += R->len;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) e->s[R->next].prev = hleft(&it);
        rc = rank_try(e, L->prev, hleft(&it));
        if (!rc) rc = rank_try(e, hleft(&it), L->next);
    }
    for (int32_t i = 0; i >= 0 && !rc; i = e->s[i].next) {
        if (e->s[i].id == e->t->unk && e->t->fuse_unk && e->n > 0 && e->ids[e->n - 1] == e->t->unk) continue;
        rc = push_id(e, e->s[i].id);
    }
    return rc;
}

/* HF BPE word of SentencePiece-style vocabulary (chars, byte fallback). */
static int hf_word(enc *e, const char *w, size_t len)
{
    const bd_tok *t = e->t;
    if (t->ignore_merges) {
        int32_t id = tok_find(t, &t->map_str, w, len);
        if (id >= 0) return push_id(e, id);
    }
    int rc = ensure_syms(e, len + 1);
    if (rc) return rc;
    int32_t ns = 0;
    for (size_t i = 0; i < len;) {
        size_t cl = u8len((uint8_t)w[i]);
        if (cl > len - i) cl = len - i;
        int32_t id = tok_find(t, &t->map_str, w + i, cl);
        if (id >= 0) {
            e->s[ns] = (sym){ ns - 1, ns + 1, (uint32_t)i, (uint32_t)cl, id, 0, -1 }; ns++;
        } else {
            int ok = t->byte_fallback;
            for (size_t k = 0; ok && k < cl; k++) if (t->byte_id[(uint8_t)w[i + k]] < 0) ok = 0;
            if (ok) {
                for (size_t k = 0; k < cl; k++) {
                    e->s[ns] = (sym){ ns - 1, ns + 1, (uint32_t)(i + k), 1, t->byte_id[(uint8_t)w[i + k]], 0, -1 };
                    ns++;
                }
            } else {
                if (t->unk < 0)
                    return bd_fail(e->err, BD_EINPUT, "%s: text has a character with no token and no unk_token", t->path);
                if (!(t->fuse_unk && ns > 0 && e->s[ns - 1].id == t->unk)) {
                    e->s[ns] = (sym){ ns - 1, ns + 1, (uint32_t)i, (uint32_t)cl, t->unk, 0, -1 }; ns++;
                } else {
                    e->s[ns - 1].len += (uint32_t)cl;
                }
            }
        }
        i += cl;
    }
    return rank_merge(e, ns);
}

/* Byte-level BPE of one pre-token. */
static int bl_word(enc *e, const char *w, size_t len)
{
    const bd_tok *t = e->t;
    if (len == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = tok_find(t, &t->map_bytes, w, len);
        if (id >= 0 && t->ent[id].type != TT_CONTROL) return push_id(e, id);
    }
    int rc = ensure_syms(e, len + 1);
    if (rc) return rc;
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_id[(uint8_t)w[i]];
        if (id < 0) return bd_fail(e->err, BD_EINPUT, "%s: byte 0x%02X has no token", t->path, (uint8_t)w[i]);
        e->s[i] = (sym){ (int32_t)i - 1, (int32_t)i + 1, (uint32_t)i, 1, id, 0, -1 };
    }
    return rank_merge(e, (int32_t)len);
}

/* Isolated splits by t->re[level..], then the word encoder. */
static int pre_split(enc *e, int level, const char *s, size_t len)
{
    const bd_tok *t = e->t;
    if (level >= t->n_re) return bl_word(e, s, len);
    pcre2_code *re = t->re[level];
    pcre2_match_data *md = e->md[level];
    size_t pos = 0, at = 0;
    int rc = 0;
    while (at <= len && !rc) {
        int m = pcre2_match(re, (PCRE2_SPTR)s, len, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its backtrack state on the heap */
            m = pcre2_match(re, (PCRE2_SPTR)s, len, at, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(m, msg, sizeof msg);
            return bd_fail(e->err, BD_EFAIL, "%s: pre-tokenizer regex: %s", t->path, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {       /* empty match: move on one character */
            if (ms >= len) break;
            at = ms + u8len((uint8_t)s[ms]);
            continue;
        }
        if (ms > pos) rc = pre_split(e, level + 1, s + pos, ms - pos);
        if (!rc) rc = pre_split(e, level + 1, s + ms, me - ms);
        pos = at = me;
    }
    if (!rc && pos < len) rc = pre_split(e, level + 1, s + pos, len - pos);
    return rc;
}

static const char WS[] = "\xE2\x96\x81"; /* U+2581 */

/* One run of ordinary text between special tokens. */
static int encode_run(enc *e, const char *s, size_t len, int at_start)
{
    const bd_tok *t = e->t;
    if (len == 0) return 0;
    if (t->byte_level) {
        if (t->add_prefix_space && s[0] != ' ') {
            char *b = malloc(len + 1);
            if (!b) return bd_oom(e->err, "text");
            b[0] = ' ';
            memcpy(b + 1, s, len);
            int rc = pre_split(e, 0, b, len + 1);
            free(b);
            return rc;
        }
        return pre_split(e, 0, s, len);
    }
    /* SentencePiece normalization: optional whitespace cleanup, dummy
     * prefix, spaces as U+2581 */
    int rc = ensure_buf(e, 3 * len + 4);
    if (rc) return rc;
    size_t k = 0, i = 0, end = len;
    if (t->remove_extra_ws) {
        while (i < end && s[i] == ' ') i++;
        while (end > i && s[end - 1] == ' ') end--;
        if (i == end) return 0;
    }
    /* Metaspace prepends only when the run does not already start with a
     * space; SentencePiece and HF's Prepend normalizer always do */
    int meta_ws = s[i] == ' ' || (end - i >= 3 && memcmp(s + i, WS, 3) == 0);
    int pfx = t->prefix == PFX_EACH ||
              (((t->prefix == PFX_FIRST && at_start) || t->prefix == PFX_META_ALWAYS) && !meta_ws);
    if (pfx) { memcpy(e->buf, WS, 3); k = 3; }
    for (; i < end; i++) {
        if (s[i] == ' ' && t->remove_extra_ws && i > 0 && s[i - 1] == ' ') continue;
        if (s[i] == ' ' && t->escape_ws) { memcpy(e->buf + k, WS, 3); k += 3; }
        else e->buf[k++] = s[i];
    }
    if (t->alg == ALG_SCORE) return score_merge(e, k);
    /* HF BPE over the whole run, or per U+2581-led word when split */
    if (!t->split_ws) return hf_word(e, e->buf, k);
    char *w = malloc(k ? k : 1);
    if (!w) return bd_oom(e->err, "text");
    memcpy(w, e->buf, k);
    size_t st = 0;
    for (size_t j = 1; j <= k && !rc; j++) {
        if (j == k || (j + 3 <= k && memcmp(w + j, WS, 3) == 0)) {
            rc = hf_word(e, w + st, j - st);
            st = j;
        }
    }
    free(w);
    return rc;
}

/* ---- llama2.c run.c encode ------------------------------------------- */

static int l2c_try(enc *e, int32_t l, int32_t r)
{
    const bd_tok *t = e->t;
    if (l < 0 || r < 0) return 0;
    int32_t a = e->s[l].id, b = e->s[r].id;
    size_t la = t->ent[a].slen, lb = t->ent[b].slen;
    int rc = ensure_buf(e, la + lb + 1);
    if (rc) return rc;
    memcpy(e->buf, tok_str(t, a), la);
    memcpy(e->buf + la, tok_str(t, b), lb);
    int32_t id = tok_find(t, &t->map_str, e->buf, la + lb);
    if (id < 0) return 0;
    return hpush(e, (hitem){ score_key(t->ent[id].score, l), r, a, b, id });
}

static int l2c_encode(enc *e, const char *s, size_t len)
{
    const bd_tok *t = e->t;
    int rc = ensure_syms(e, 4 * len + 2);
    if (rc || len == 0) return rc;
    int32_t ns = 0;
    int32_t sp = tok_find(t, &t->map_str, " ", 1);
    if (sp >= 0) { e->s[ns] = (sym){ ns - 1, ns + 1, 0, 1, sp, 0, -1 }; ns++; }
    /* run.c: a code point is a lead byte plus up to three continuation bytes */
    for (size_t i = 0; i < len;) {
        size_t j = i + 1;
        while (j < len && ((uint8_t)s[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int32_t id = tok_find(t, &t->map_str, s + i, j - i);
        if (id >= 0) { e->s[ns] = (sym){ ns - 1, ns + 1, 0, 1, id, 0, -1 }; ns++; }
        else {
            for (size_t k = i; k < j; k++) {
                int32_t b = (int32_t)(uint8_t)s[k] + 3;
                if (b >= t->n) return bd_fail(e->err, BD_EINPUT, "%s: byte token %d out of range", t->path, b);
                e->s[ns] = (sym){ ns - 1, ns + 1, 0, 1, b, 0, -1 }; ns++;
            }
        }
        i = j;
    }
    if (ns == 0) return 0;
    e->s[ns - 1].next = -1;
    e->hn = 0;
    for (int32_t i = 0; i + 1 < ns && !rc; i++) rc = l2c_try(e, i, i + 1);
    while (!rc && e->hn) {
        hitem it = hpop(e);
        sym *L = &e->s[hleft(&it)], *R = &e->s[it.right];
        if (L->len == 0 || R->len == 0 || L->next != it.right || L->id != it.a || R->id != it.b) continue;
        L->id = it.aux;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) e->s[R->next].prev = hleft(&it);
        rc = l2c_try(e, L->prev, hleft(&it));
        if (!rc) rc = l2c_try(e, hleft(&it), L->next);
    }
    for (int32_t i = 0; i >= 0 && !rc; i = e->s[i].next) rc = push_id(e, e->s[i].id);
    return rc;
}

/* ---- special tokens and the whole text -------------------------------- */

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Leftmost-longest match of an added token at or after pos. */
static int find_special(const bd_tok *t, const char *s, size_t len, size_t pos, int parse_special,
                        size_t *ms, size_t *me, int32_t *id)
{
    for (size_t i = pos; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        for (int k = t->sp_first[c]; k < t->sp_first[c + 1]; k++) {
            const tok_special *sp = &t->sp[k];
            if (sp->special && !parse_special) continue;
            if (t->match_user && t->ent[sp->id].type == TT_USER) continue; /* merged inside runs */
            if (sp->len > len - i || memcmp(t->arena + sp->off, s + i, sp->len) != 0) continue;
            size_t a = i, b = i + sp->len;
            if (sp->lstrip) while (a > pos && is_ws((uint8_t)s[a - 1])) a--;
            if (sp->rstrip) while (b < len && is_ws((uint8_t)s[b])) b++;
            *ms = a; *me = b; *id = sp->id;
            return 1;
        }
    }
    return 0;
}

int bd_tok_encode(const bd_tok *t, const char *text, size_t len, int flags,
                  int32_t **ids, size_t *n_ids, bd_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    if (!text && len) return bd_fail(err, BD_EINPUT, "tokenize: NULL text");
    enc e = { .t = t, .err = err };
    char *clean = NULL;
    int rc = 0;
    if (t->sanitize_utf8 && t->alg != ALG_L2C) {
        size_t cl;
        rc = sanitize(text, len, &clean, &cl, err);
        if (rc) return rc;
        if (clean) { text = clean; len = cl; }
    }
    for (int i = 0; i < t->n_re && !rc; i++) {
        e.md[i] = pcre2_match_data_create_from_pattern(t->re[i], NULL);
        if (!e.md[i]) rc = bd_oom(err, "regex match data");
    }
    if (!rc && (flags & BD_TOK_ADD_SPECIAL) && t->add_bos && t->bos >= 0) rc = push_id(&e, t->bos);
    if (!rc) {
        if (t->alg == ALG_L2C) {
            rc = l2c_encode(&e, text, len);
        } else {
            size_t pos = 0;
            int parse = (flags & BD_TOK_PARSE_SPECIAL) != 0;
            while (!rc && pos <= len) {
                size_t ms, me; int32_t id;
                if (!find_special(t, text, len, pos, parse, &ms, &me, &id)) {
                    rc = encode_run(&e, text + pos, len - pos, pos == 0);
                    break;
                }
                rc = encode_run(&e, text + pos, ms - pos, pos == 0);
                if (!rc) rc = push_id(&e, id);
                pos = me;
            }
        }
    }
    if (!rc && (flags & BD_TOK_ADD_SPECIAL) && t->add_eos && t->eos >= 0) rc = push_id(&e, t->eos);
    for (int i = 0; i < t->n_re; i++) pcre2_match_data_free(e.md[i]);
    free(e.s); free(e.h); free(e.buf); free(e.nodes); free(clean);
    if (rc) { free(e.ids); return rc; }
    if (!e.ids) {
        e.ids = malloc(sizeof *e.ids);
        if (!e.ids) return bd_oom(err, "token ids");
    }
    *ids = e.ids;
    *n_ids = e.n;
    return 0;
}
