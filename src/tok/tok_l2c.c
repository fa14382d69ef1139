/* llama2.c tokenizer files: int32 max_token_length, then records of
 * {float32 score, int32 len, len bytes} up to the end of the file (the
 * vocabulary size is not stored). Ids 0/1/2 are <unk>/<s>/</s> and 3..258
 * the bytes, as run.c assumes. */
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 1 if the whole file is a well-formed llama2.c tokenizer. */
int tok_is_l2c(const uint8_t *buf, size_t len)
{
    if (len < 4) return 0;
    uint32_t maxlen = rd32(buf);
    if (maxlen == 0 || maxlen > 4096) return 0;
    size_t pos = 4, n = 0;
    while (pos < len) {
        if (len - pos < 8) return 0;
        uint32_t l = rd32(buf + pos + 4);
        if (l > maxlen || l > len - pos - 8) return 0;
        pos += 8 + l;
        n++;
    }
    return n >= 3;
}

int tok_load_l2c(const char *path, const uint8_t *buf, size_t len, bd_tok **out, bd_err *err)
{
    if (len < 4) return bd_fail(err, BD_EINPUT, "%s: offset 0: file too short for a llama2.c tokenizer", path);
    uint32_t maxlen = rd32(buf);
    if (maxlen == 0 || maxlen > 4096)
        return bd_fail(err, BD_EINPUT, "%s: offset 0: max_token_length %u, expected 1..4096", path, maxlen);
    bd_tok *t = tok_new("llama2c", path);
    if (!t) return bd_oom(err, "tokenizer");
    int rc = 0;
    size_t pos = 4;
    while (pos < len && !rc) {
        if (len - pos < 8) { rc = bd_fail(err, BD_EINPUT, "%s: offset %zu: truncated record of token %d", path, pos, t->n); break; }
        float score;
        uint32_t sb = rd32(buf + pos), l = rd32(buf + pos + 4);
        memcpy(&score, &sb, 4);
        if (l > maxlen || l > len - pos - 8) {
            rc = bd_fail(err, BD_EINPUT, "%s: offset %zu: token %d length %u exceeds max_token_length %u or the file",
                         path, pos + 4, t->n, l, maxlen);
            break;
        }
        const char *s = (const char *)buf + pos + 8;
        int id = t->n, type = TT_NORMAL;
        char b[4096];
        size_t bl = l;
        memcpy(b, s, l);
        if (id == 0) type = TT_UNKNOWN;
        else if (id <= 2) type = TT_CONTROL;
        else if (id <= 258 && l == 6 && memcmp(s, "<0x", 3) == 0) {
            type = TT_BYTE;
            bl = tok_spm_piece_bytes(s, l, TT_BYTE, b);
        }
        if (type == TT_CONTROL || type == TT_UNKNOWN) {   /* "\n<s>\n" -> "<s>" */
            size_t a = 0;
            while (a < bl && b[a] == '\n') a++;
            while (bl > a && b[bl - 1] == '\n') bl--;
            memmove(b, b + a, bl - a);
            bl -= a;
        }
        rc = tok_add(t, s, l, b, bl, score, type, err);
        pos += 8 + l;
    }
    if (!rc && t->n < 259) rc = bd_fail(err, BD_EINPUT, "%s: %d tokens, expected at least 259 (<unk>, <s>, </s>, 256 bytes)", path, t->n);
    if (!rc) rc = tok_build_maps(t, 0, err);
    if (rc) { bd_tok_free(t); return rc; }
    t->alg = ALG_L2C;
    t->unk = 0; t->bos = 1; t->eos = 2;
    t->add_bos = 1;
    t->strip_lead_space = 1;
    t->sanitize_utf8 = 0;
    *out = t;
    return 0;
}
