/* SentencePiece tokenizer.model: the ModelProto protobuf read field by field
 * (pieces, trainer_spec, normalizer_spec); unknown fields are skipped as
 * protobuf requires. Only BPE models with identity normalization are
 * supported (LLaMA-2, Mistral); anything else is refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_int.h"

typedef struct pb {
    const uint8_t *b;
    size_t pos, end;
    const char *path;
    bd_err *err;
} pb;

static int pb_varint(pb *p, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (p->pos >= p->end)
            return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: truncated varint", p->path, p->pos);
        uint8_t c = p->b[p->pos++];
        x |= (uint64_t)(c & 0x7F) << s;
        if (!(c & 0x80)) { *v = x; return 0; }
    }
    return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: varint longer than 10 bytes", p->path, p->pos);
}

/* Reads a field key; *wt is the wire type. Returns 1 at the end. */
static int pb_key(pb *p, uint32_t *field, int *wt, int *rc)
{
    *rc = 0;
    if (p->pos >= p->end) return 1;
    size_t at = p->pos;
    uint64_t k;
    if ((*rc = pb_varint(p, &k))) return 1;
    *field = (uint32_t)(k >> 3);
    *wt = (int)(k & 7);
    if (*field == 0 || k >> 32) {
        *rc = bd_fail(p->err, BD_EINPUT, "%s: offset %zu: invalid protobuf field key %llu",
                      p->path, at, (unsigned long long)k);
        return 1;
    }
    return 0;
}

/* Length-delimited payload: [*s, *s + *n) */
static int pb_bytes(pb *p, size_t *s, size_t *n)
{
    uint64_t len;
    size_t at = p->pos;
    int rc = pb_varint(p, &len);
    if (rc) return rc;
    if (len > p->end - p->pos)
        return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: length %llu runs past the end of its message (%zu bytes left)",
                       p->path, at, (unsigned long long)len, p->end - p->pos);
    *s = p->pos;
    *n = (size_t)len;
    p->pos += (size_t)len;
    return 0;
}

static int pb_skip(pb *p, int wt)
{
    uint64_t v; size_t s, n;
    size_t at = p->pos;
    switch (wt) {
    case 0: return pb_varint(p, &v);
    case 1:
        if (p->end - p->pos < 8) break;
        p->pos += 8; return 0;
    case 2: return pb_bytes(p, &s, &n);
    case 5:
        if (p->end - p->pos < 4) break;
        p->pos += 4; return 0;
    default:
        return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: unsupported protobuf wire type %d", p->path, at, wt);
    }
    return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: truncated fixed-width field", p->path, at);
}

static int pb_expect(pb *p, int wt, int want, uint32_t field, const char *msg)
{
    if (wt == want) return 0;
    return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: %s field %u has wire type %d, expected %d",
                   p->path, p->pos, msg, field, wt, want);
}

typedef struct spm_spec {
    int model_type, byte_fallback, ws_suffix;
    int64_t unk_id, bos_id, eos_id;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    int has_charsmap;
    char name[64];
} spm_spec;

static int parse_piece(pb *p, bd_tok *t, char *tmp)
{
    uint32_t f; int wt, rc;
    size_t ps = 0, pn = 0;
    float score = 0;
    uint64_t type = TT_NORMAL;
    while (!pb_key(p, &f, &wt, &rc)) {
        if (f == 1) {
            if ((rc = pb_expect(p, wt, 2, f, "SentencePiece")) || (rc = pb_bytes(p, &ps, &pn))) return rc;
        } else if (f == 2) {
            if ((rc = pb_expect(p, wt, 5, f, "SentencePiece"))) return rc;
            if (p->end - p->pos < 4) return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: truncated score", p->path, p->pos);
            uint32_t u = (uint32_t)p->b[p->pos] | (uint32_t)p->b[p->pos + 1] << 8 |
                         (uint32_t)p->b[p->pos + 2] << 16 | (uint32_t)p->b[p->pos + 3] << 24;
            memcpy(&score, &u, 4);
            p->pos += 4;
        } else if (f == 3) {
            size_t at = p->pos;
            if ((rc = pb_expect(p, wt, 0, f, "SentencePiece")) || (rc = pb_varint(p, &type))) return rc;
            if (type < 1 || type > 6)
                return bd_fail(p->err, BD_EINPUT, "%s: offset %zu: piece %d has type %llu, expected 1..6",
                               p->path, at, t->n, (unsigned long long)type);
        } else if ((rc = pb_skip(p, wt))) {
            return rc;
        }
    }
    if (rc) return rc;
    if (pn > 4096)
        return bd_fail(p->err, BD_EINPUT, "%s: piece %d is %zu bytes long (limit 4096)", p->path, t->n, pn);
    const char *s = (const char *)p->b + ps;
    size_t bl = tok_spm_piece_bytes(s, pn, (int)type, tmp);
    return tok_add(t, s, pn, tmp, bl, score, (int)type, p->err);
}

static int parse_trainer(pb *p, spm_spec *sp)
{
    uint32_t f; int wt, rc;
    while (!pb_key(p, &f, &wt, &rc)) {
        uint64_t v;
        if (wt == 0 && (f == 3 || f == 35 || f == 24 || f == 40 || f == 41 || f == 42)) {
            if ((rc = pb_varint(p, &v))) return rc;
            switch (f) {
            case 3: sp->model_type = (int)v; break;
            case 35: sp->byte_fallback = v != 0; break;
            case 24: sp->ws_suffix = v != 0; break;
            case 40: sp->unk_id = (int32_t)(uint32_t)v; break;
            case 41: sp->bos_id = (int32_t)(uint32_t)v; break;
            case 42: sp->eos_id = (int32_t)(uint32_t)v; break;
            }
        } else if ((rc = pb_skip(p, wt))) {
            return rc;
        }
    }
    return rc;
}

static int parse_normalizer(pb *p, spm_spec *sp)
{
    uint32_t f; int wt, rc;
    while (!pb_key(p, &f, &wt, &rc)) {
        uint64_t v; size_t s, n;
        if (wt == 0 && (f == 3 || f == 4 || f == 5)) {
            if ((rc = pb_varint(p, &v))) return rc;
            if (f == 3) sp->add_dummy_prefix = v != 0;
            if (f == 4) sp->remove_extra_ws = v != 0;
            if (f == 5) sp->escape_ws = v != 0;
        } else if (wt == 2 && (f == 1 || f == 2)) {
            if ((rc = pb_bytes(p, &s, &n))) return rc;
            if (f == 1) snprintf(sp->name, sizeof sp->name, "%.*s", (int)(n < 63 ? n : 63), (const char *)p->b + s);
            if (f == 2) sp->has_charsmap = n > 0;
        } else if ((rc = pb_skip(p, wt))) {
            return rc;
        }
    }
    return rc;
}

int tok_load_spm(const char *path, const uint8_t *buf, size_t len, bd_tok **out, bd_err *err)
{
    bd_tok *t = tok_new("spm", path);
    char *tmp = malloc(4097);
    if (!t || !tmp) { bd_tok_free(t); free(tmp); return bd_oom(err, "tokenizer"); }
    spm_spec sp = { .model_type = 1, .unk_id = 0, .bos_id = 1, .eos_id = 2,
                    .add_dummy_prefix = 1, .remove_extra_ws = 1, .escape_ws = 1 };
    pb p = { buf, 0, len, path, err };
    uint32_t f; int wt, rc;
    int seen_norm = 0;
    while (!pb_key(&p, &f, &wt, &rc)) {
        if (f >= 1 && f <= 3) {
            if ((rc = pb_expect(&p, wt, 2, f, "ModelProto"))) break;
            size_t s, n;
            if ((rc = pb_bytes(&p, &s, &n))) break;
            pb sub = { buf, s, s + n, path, err };
            if (f == 1) rc = parse_piece(&sub, t, tmp);
            else if (f == 2) rc = parse_trainer(&sub, &sp);
            else { rc = parse_normalizer(&sub, &sp); seen_norm = 1; }
            if (rc) break;
        } else if ((rc = pb_skip(&p, wt))) {
            break;
        }
    }
    free(tmp);
    if (!rc && t->n == 0) rc = bd_fail(err, BD_EINPUT, "%s: no pieces (not a SentencePiece model?)", path);
    if (!rc && sp.model_type != 2)
        rc = bd_fail(err, BD_EUNSUP, "%s: trainer_spec.model_type %d is not BPE (2); only BPE SentencePiece models are supported",
                     path, sp.model_type);
    if (!rc && (sp.has_charsmap || (seen_norm && sp.name[0] && strcmp(sp.name, "identity") != 0)))
        rc = bd_fail(err, BD_EUNSUP, "%s: normalizer_spec '%s' with a precompiled charsmap is not supported (identity only)",
                     path, sp.name);
    if (!rc && sp.ws_suffix)
        rc = bd_fail(err, BD_EUNSUP, "%s: trainer_spec.treat_whitespace_as_suffix is not supported", path);
    if (rc) { bd_tok_free(t); return rc; }

    t->alg = ALG_SCORE;
    t->escape_ws = sp.escape_ws;
    t->prefix = sp.add_dummy_prefix ? PFX_EACH : PFX_NONE;
    t->strip_lead_space = sp.add_dummy_prefix;
    t->remove_extra_ws = sp.remove_extra_ws;
    t->byte_fallback = sp.byte_fallback;
    t->match_user = 1;
    t->add_bos = 1;
    t->add_eos = 0;
    if ((rc = tok_build_maps(t, 0, err))) { bd_tok_free(t); return rc; }
    for (int i = 0; i < t->n && !rc; i++) {
        int ty = t->ent[i].type;
        if (ty == TT_UNKNOWN && t->unk < 0) t->unk = i;
        if (ty == TT_CONTROL || ty == TT_UNKNOWN || ty == TT_USER)
            rc = tok_special_add(t, i, tok_str(t, i), t->ent[i].slen, ty != TT_USER, 0, 0, 0, err);
    }
    if (rc) { bd_tok_free(t); return rc; }
    if (sp.unk_id >= 0 && sp.unk_id < t->n) t->unk = (int32_t)sp.unk_id;
    t->bos = (sp.bos_id >= 0 && sp.bos_id < t->n) ? (int32_t)sp.bos_id : -1;
    t->eos = (sp.eos_id >= 0 && sp.eos_id < t->n) ? (int32_t)sp.eos_id : -1;
    *out = t;
    return 0;
}
