/* tiktoken BPE ranks ("base64 rank" per line, LLaMA-3's tokenizer.model).
 * A pair of symbols merges when their concatenation is a token, the lowest
 * rank first: the pair table lists, for every token, each split of it into
 * two tokens, ranked by the token's own rank. Special tokens are not in the
 * file: LLaMA-3's are added here (tokenizer_config.json may rename them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; returns -1 on a bad character/length. */
static long b64dec(const char *s, size_t n, uint8_t *out)
{
    if (n % 4) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t c = (uint8_t)s[i + j];
            if (c == '=' && i + 4 == n && j >= 2) { v[j] = 0; pad++; continue; }
            if (pad) return -1;
            if ((v[j] = b64val(c)) < 0) return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[k++] = (uint8_t)(w >> 16);
        if (pad < 2) out[k++] = (uint8_t)(w >> 8);
        if (pad < 1) out[k++] = (uint8_t)w;
    }
    return (long)k;
}

static int llama3_specials(bd_tok *t, bd_err *err)
{
    static const char *const names[11] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"
    };
    int base = t->n, rc = tok_reserve(t, base + 256, err);
    char name[64];
    for (int i = 0; i < 256 && !rc; i++) {
        if (i < 11) snprintf(name, sizeof name, "%s", names[i]);
        else snprintf(name, sizeof name, "<|reserved_special_token_%d|>", i - 11 + 3);
        size_t l = strlen(name);
        rc = tok_set(t, base + i, name, l, name, l, 0, TT_CONTROL, err);
        if (!rc) rc = tok_special_add(t, base + i, name, l, 1, 0, 0, 0, err);
    }
    if (!rc) { t->bos = base; t->eos = base + 1; }
    return rc;
}

int tok_load_tiktoken(const char *path, const char *buf, size_t len, bd_tok **out, bd_err *err)
{
    bd_tok *t = tok_new("bpe", path);
    uint8_t *raw = malloc(len + 4);
    char *str = malloc(2 * len + 8);
    int rc = 0;
    if (!t || !raw || !str) { rc = bd_oom(err, "tiktoken vocabulary"); goto done; }
    size_t line = 0;
    for (size_t i = 0; i < len && !rc;) {
        line++;
        size_t e = i;
        while (e < len && buf[e] != '\n') e++;
        size_t le = e;
        if (le > i && buf[le - 1] == '\r') le--;
        if (le == i) { i = e + 1; continue; }
        const char *sp = memchr(buf + i, ' ', le - i);
        if (!sp) { rc = bd_fail(err, BD_EINPUT, "%s: line %zu: expected 'base64 rank'", path, line); break; }
        long bl = b64dec(buf + i, (size_t)(sp - (buf + i)), raw);
        if (bl <= 0) { rc = bd_fail(err, BD_EINPUT, "%s: line %zu: invalid base64 token", path, line); break; }
        long rank = 0;
        const char *q = sp + 1;
        if (q >= buf + le) { rc = bd_fail(err, BD_EINPUT, "%s: line %zu: missing rank", path, line); break; }
        for (; q < buf + le; q++) {
            if (*q < '0' || *q > '9' || rank > 10000000) {
                rc = bd_fail(err, BD_EINPUT, "%s: line %zu: rank is not an integer below 10000000", path, line);
                break;
            }
            rank = rank * 10 + (*q - '0');
        }
        if (rc) break;
        /* ranks are dense in real files; a sparse one may not make us
         * allocate more entries than the file has bytes */
        if ((size_t)rank >= len) { rc = bd_fail(err, BD_EINPUT, "%s: line %zu: rank %ld exceeds the file size", path, line, rank); break; }
        if (rank >= t->n && (rc = tok_reserve(t, (int)rank + 1, err))) break;
        if (t->ent[rank].blen) { rc = bd_fail(err, BD_EINPUT, "%s: line %zu: rank %ld given twice", path, line, rank); break; }
        size_t sl = tok_bytelevel_encode(raw, (size_t)bl, str);
        rc = tok_set(t, (int)rank, str, sl, raw, (size_t)bl, -(float)rank, TT_NORMAL, err);
        i = e + 1;
    }
    if (rc) goto done;
    if (t->n == 0) { rc = bd_fail(err, BD_EINPUT, "%s: no ranks", path); goto done; }
    t->alg = ALG_RANK;
    t->byte_level = 1;
    t->ignore_merges = 1;
    t->add_bos = 1;
    if ((rc = tok_build_maps(t, 1, err))) goto done;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = tok_find(t, &t->map_bytes, &c, 1);
        if (t->byte_id[b] < 0) { rc = bd_fail(err, BD_EINPUT, "%s: byte 0x%02X has no rank", path, b); goto done; }
    }
    for (int32_t id = 0; id < t->n && !rc; id++) {
        const char *bs = tok_bytes(t, id);
        uint32_t n = t->ent[id].blen;
        for (uint32_t k = 1; k < n && !rc; k++) {
            int32_t a = tok_find(t, &t->map_bytes, bs, k);
            if (a < 0) continue;
            int32_t c = tok_find(t, &t->map_bytes, bs + k, n - k);
            if (c >= 0) rc = tok_pair_put(t, a, c, id, id, err);
        }
    }
    if (!rc && t->n == 128000) rc = llama3_specials(t, err);
    if (!rc) rc = tok_set_regex(t, LLAMA3_RE, err);
    if (!rc) rc = tok_build_maps(t, 1, err);
done:
    free(raw);
    free(str);
    if (rc) { bd_tok_free(t); return rc; }
    *out = t;
    return 0;
}
