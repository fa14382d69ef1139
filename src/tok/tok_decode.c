/* Decoding and the small accessors. Decode concatenates the bytes each
 * token stands for (U+2581 as a space, <0xXX> as its byte, byte-level
 * characters as their bytes), drops the dummy-prefix space at the very
 * start as HF's Strip/Metaspace decoders and sentencepiece do, and applies
 * transformers' clean_up_tokenization when the tokenizer config asks for it.
 * Bytes are returned as they are: a byte-fallback sequence that is not
 * valid UTF-8 is not replaced by U+FFFD (transformers would), so streamed
 * pieces concatenate to the same text. */
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static int sb_put(sbuf *b, const char *s, size_t n, bd_err *err)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return bd_oom(err, "decoded text");
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* transformers' PreTrainedTokenizerBase.clean_up_tokenization */
static size_t clean_up(char *s, size_t n)
{
    static const char *const pat[][2] = {
        { " .", "." }, { " ?", "?" }, { " !", "!" }, { " ,", "," }, { " ' ", "'" },
        { " n't", "n't" }, { " 'm", "'m" }, { " 's", "'s" }, { " 've", "'ve" }, { " 're", "'re" }
    };
    /* Python applies the replacements one after another over the whole string */
    for (size_t k = 0; k < sizeof pat / sizeof pat[0]; k++) {
        size_t pl = strlen(pat[k][0]), rl = strlen(pat[k][1]), o = 0;
        for (size_t i = 0; i < n;) {
            if (i + pl <= n && memcmp(s + i, pat[k][0], pl) == 0) {
                memmove(s + o, pat[k][1], rl);
                o += rl;
                i += pl;
            } else {
                s[o++] = s[i++];
            }
        }
        n = o;
        s[n] = 0;
    }
    return n;
}

int bd_tok_decode(const bd_tok *t, const int32_t *ids, size_t n, int skip_special,
                  char **text, size_t *len, bd_err *err)
{
    sbuf b = { 0 };
    *text = NULL;
    int rc = sb_put(&b, "", 0, err);
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n) {
            free(b.p);
            return bd_fail(err, BD_EINPUT, "decode: token id %ld at position %zu is outside the vocabulary (0..%d)",
                           (long)id, i, t->n - 1);
        }
        int ty = t->ent[id].type;
        if (skip_special && (ty == TT_CONTROL || ty == TT_UNKNOWN)) continue;
        rc = sb_put(&b, tok_bytes(t, id), t->ent[id].blen, err);
    }
    if (rc) { free(b.p); return rc; }
    size_t start = 0;
    if (t->strip_lead_space && b.n > 0 && b.p[0] == ' ') start = 1;
    if (start) { memmove(b.p, b.p + 1, b.n); b.n--; }
    if (t->clean_up) b.n = clean_up(b.p, b.n);
    *text = b.p;
    *len = b.n;
    return 0;
}

const char *bd_tok_piece(const bd_tok *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || id >= t->n) return NULL;
    if (len) *len = t->ent[id].blen;
    return tok_bytes(t, id);
}

int bd_tok_vocab_size(const bd_tok *t) { return t->n; }
int32_t bd_tok_bos(const bd_tok *t) { return t->bos; }
int32_t bd_tok_eos(const bd_tok *t) { return t->eos; }
const char *bd_tok_kind(const bd_tok *t) { return t->kind; }
const char *bd_tok_bos_str(const bd_tok *t) { return t->bos_str ? t->bos_str : ""; }
const char *bd_tok_eos_str(const bd_tok *t) { return t->eos_str ? t->eos_str : ""; }

int bd_tok_eog(const bd_tok *t, const int32_t **ids)
{
    *ids = t->eog;
    return t->n_eog;
}

int32_t bd_tok_token_id(const bd_tok *t, const char *token)
{
    if (!token) return -1;
    size_t n = strlen(token);
    if (t->alg != ALG_L2C || !strstr(token, "\xE2\x96\x81")) return tok_find(t, &t->map_str, token, n);
    /* llama2.c files spell U+2581 as a space */
    char *s = malloc(n + 1);
    if (!s) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(token + i, "\xE2\x96\x81", 3)) { s[k++] = ' '; i += 3; }
        else s[k++] = token[i++];
    }
    int32_t id = tok_find(t, &t->map_str, s, k);
    free(s);
    return id;
}

/* ---- alphabets ---- */

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order. */
static uint32_t b2u(uint8_t b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t k = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) k++;
    return 0x100 + k;
}

size_t tok_bytelevel_encode(const uint8_t *b, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = b2u(b[i]);
        if (u < 0x80) out[k++] = (char)u;
        else { out[k++] = (char)(0xC0 | (u >> 6)); out[k++] = (char)(0x80 | (u & 0x3F)); }
    }
    return k;
}

/* Returns -1 if s holds a character outside the alphabet. */
int tok_bytelevel_decode(const char *s, size_t len, char *out, size_t *olen)
{
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = (uint8_t)s[i];
        uint32_t u;
        if (c < 0x80) { u = c; i++; }
        else if ((c & 0xE0) == 0xC0 && i + 1 < len) { u = ((uint32_t)(c & 0x1F) << 6) | ((uint8_t)s[i + 1] & 0x3F); i += 2; }
        else return -1;
        int found = -1;
        if (u < 0x100 && b2u((uint8_t)u) == u) found = (int)u;
        else if (u >= 0x100 && u < 0x100 + 68) {
            uint32_t k2 = 0;
            for (int b = 0; b < 256; b++) {
                if (b2u((uint8_t)b) >= 0x100) { if (k2 == u - 0x100) { found = b; break; } k2++; }
            }
        }
        if (found < 0) return -1;
        out[k++] = (char)found;
    }
    *olen = k;
    return 0;
}

size_t tok_spm_piece_bytes(const char *s, size_t len, int type, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (type == TT_BYTE && len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>') {
        const char *h1 = strchr(hex, s[3]), *h2 = strchr(hex, s[4]);
        if (h1 && h2 && s[3] && s[4]) { out[0] = (char)(((h1 - hex) << 4) | (h2 - hex)); return 1; }
    }
    if (type == TT_CONTROL || type == TT_UNKNOWN) {
        memcpy(out, s, len);
        return len;
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && memcmp(s + i, "\xE2\x96\x81", 3) == 0) { out[k++] = ' '; i += 3; }
        else out[k++] = s[i++];
    }
    return k;
}
