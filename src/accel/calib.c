/* Calibration data: documents from a file or sequences sampled from the
 * model, turned into fixed-length token windows. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "calib.h"

void bd_calib_free(bd_calib *c)
{
    free(c->ids);
    c->ids = NULL;
    c->n = 0;
}

void bd_calib_docs_free(char **docs, int n)
{
    for (int i = 0; i < n; i++) free(docs[i]);
    free(docs);
}

static int push_doc(char ***docs, int *n, int *cap, const char *s, size_t len, bd_err *err)
{
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) { s++; len--; }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r')) len--;
    if (!len) return 0; /* AutoAWQ skips empty documents */
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        char **d = realloc(*docs, (size_t)nc * sizeof *d);
        if (!d) return bd_oom(err, "calibration documents");
        *docs = d;
        *cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) return bd_oom(err, "calibration document");
    memcpy(c, s, len);
    c[len] = 0;
    (*docs)[(*n)++] = c;
    return 0;
}

int bd_calib_split(const char *path, const char *text, char ***docs, int *n, bd_err *err)
{
    *docs = NULL;
    *n = 0;
    int cap = 0, rc = 0;
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    if (*p == '{') {
        int line = 0;
        for (const char *s = text; *s && !rc;) {
            const char *e = strchr(s, '\n');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            line++;
            const char *q = s;
            while (q < s + len && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q < s + len) {
                struct json_tokener *tk = json_tokener_new();
                json_object *o = tk ? json_tokener_parse_ex(tk, s, (int)len) : NULL;
                json_object *t = NULL;
                if (!tk) rc = bd_oom(err, "json parser");
                else if (!o || json_tokener_get_error(tk) != json_tokener_success ||
                         !json_object_is_type(o, json_type_object))
                    rc = bd_fail(err, BD_EINPUT, "%s: line %d: expected a JSON object", path, line);
                else if (!json_object_object_get_ex(o, "text", &t) || !json_object_is_type(t, json_type_string))
                    rc = bd_fail(err, BD_EINPUT, "%s: line %d: expected a string field \"text\"", path, line);
                else
                    rc = push_doc(docs, n, &cap, json_object_get_string(t), (size_t)json_object_get_string_len(t), err);
                if (o) json_object_put(o);
                if (tk) json_tokener_free(tk);
            }
            s += len + (e ? 1 : 0);
        }
    } else {
        /* paragraphs: split at blank lines */
        const char *s = text, *start = text;
        while (*s && !rc) {
            if (*s == '\n') {
                const char *q = s + 1;
                while (*q == ' ' || *q == '\t' || *q == '\r') q++;
                if (*q == '\n' || !*q) {
                    rc = push_doc(docs, n, &cap, start, (size_t)(s - start), err);
                    start = q;
                    s = q;
                    continue;
                }
            }
            s++;
        }
        if (!rc) rc = push_doc(docs, n, &cap, start, strlen(start), err);
    }
    if (rc) { bd_calib_docs_free(*docs, *n); *docs = NULL; *n = 0; }
    return rc;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int selfgen(bd_model *m, const bd_accel_opts *o, int n, int len, bd_calib *out, bd_err *err)
{
    bd_engine_opts eo = {0};
    eo.threads = o ? o->threads : 0;
    bd_engine *e;
    int rc = bd_engine_new(m, &eo, &e, err);
    if (rc) return rc;
    out->ids = malloc((size_t)n * (size_t)len * sizeof(int32_t));
    if (!out->ids) { bd_engine_free(e); return bd_oom(err, "calibration tokens"); }
    out->n = n;
    out->seqlen = len;
    int32_t bos = m->cfg.bos_id >= 0 ? m->cfg.bos_id : 1;
    for (int i = 0; i < n && !rc; i++) {
        bd_sampling s = {.temp = 1.0f, .top_p = 1.0f, .top_k = 0,
                         .seed = (o ? o->seed : 0) * 1000003ULL + (uint64_t)i};
        int32_t *gen = NULL;
        int ng = 0;
        int32_t *row = out->ids + (size_t)i * len;
        row[0] = bos;
        int have = 1;
        /* keep sampling (restarting after an early end) until the window is full */
        while (have < len && !rc) {
            rc = bd_generate(e, row, have, len - have, &s, NULL, 0, NULL, NULL, &gen, &ng, err);
            if (!rc && ng == 0) rc = bd_fail(err, BD_EFAIL, "calib selfgen: the model produced no tokens");
            for (int k = 0; !rc && k < ng && have < len; k++) row[have++] = gen[k];
            free(gen);
            gen = NULL;
            s.seed++;
        }
    }
    bd_engine_free(e);
    if (rc) bd_calib_free(out);
    return rc;
}

int bd_calib_get(bd_model *m, const bd_accel_opts *o, bd_calib_style style, int def_n, int def_len,
                 bd_calib *out, bd_err *err)
{
    memset(out, 0, sizeof *out);
    int n = o && o->calib_samples > 0 ? o->calib_samples : def_n;
    int len = o && o->calib_seqlen > 0 ? o->calib_seqlen : def_len;
    if (m->cfg.max_seq > 0 && len > m->cfg.max_seq) len = m->cfg.max_seq;
    const char *what = style == BD_CALIB_AWQ ? "awq" : "wanda";
    if (!o || !o->calib)
        return bd_fail(err, BD_EINPUT, "%s needs calibration data: --calib FILE (plain text or JSONL with "
                       "\"text\") giving %d samples of %d tokens, or --calib selfgen (commands without --calib: "
                       "run `biasdrift quantize --accel SPEC --calib ... -o X.bdq` once, then use --accel X.bdq)",
                       what, n, len);
    if (!strcmp(o->calib, "selfgen")) return selfgen(m, o, n, len, out, err);
    if (!o->tokenize)
        return bd_fail(err, BD_EINPUT, "%s: calibration file %s needs a tokenizer", what, o->calib);

    FILE *f = fopen(o->calib, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open calibration file %s", what, o->calib);
    char *text = NULL;
    size_t tl = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (tl + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *t = realloc(text, cap);
            if (!t) { rc = bd_oom(err, "calibration text"); break; }
            text = t;
        }
        size_t r = fread(text + tl, 1, 65536, f);
        tl += r;
        if (r < 65536) break;
    }
    if (!rc && ferror(f)) rc = bd_fail(err, BD_EIO, "%s: read error", o->calib);
    fclose(f);
    if (rc) { free(text); return rc; }
    text[tl] = 0;
    if (strlen(text) != tl) { free(text); return bd_fail(err, BD_EINPUT, "%s: contains NUL bytes", o->calib); }
    char **docs;
    int nd;
    rc = bd_calib_split(o->calib, text, &docs, &nd, err);
    free(text);
    if (rc) return rc;

    int32_t **tok = calloc((size_t)nd + 1, sizeof *tok);
    int *tn = calloc((size_t)nd + 1, sizeof *tn);
    if (!tok || !tn) rc = bd_oom(err, "calibration tokens");
    for (int i = 0; i < nd && !rc; i++) rc = o->tokenize(o->tokenize_ctx, docs[i], &tok[i], &tn[i], err);
    bd_calib_docs_free(docs, nd);

    if (!rc && style == BD_CALIB_WANDA) {
        /* Wanda/C4: random documents longer than seqlen, a random window in each */
        int nlong = 0;
        int64_t longest = 0;
        for (int i = 0; i < nd; i++) {
            nlong += tn[i] > len;
            if (tn[i] > longest) longest = tn[i];
        }
        if (!nlong)
            rc = bd_fail(err, BD_EINPUT, "wanda: calibration file %s has no document longer than %d tokens "
                         "(longest %lld); need %d such windows (documents are separated by blank lines)",
                         o->calib, len, (long long)longest, n);
        else if (!(out->ids = malloc((size_t)n * (size_t)len * sizeof(int32_t))))
            rc = bd_oom(err, "calibration tokens");
        uint64_t st = o->seed ^ 0x5eed;
        for (int s = 0; !rc && s < n; s++) {
            int pick = (int)(rng_next(&st) % (uint64_t)nlong), d = -1;
            for (int i = 0; i < nd; i++)
                if (tn[i] > len && pick-- == 0) { d = i; break; }
            int start = (int)(rng_next(&st) % (uint64_t)(tn[d] - len));
            memcpy(out->ids + (size_t)s * len, tok[d] + start, (size_t)len * sizeof(int32_t));
        }
        if (!rc) { out->n = n; out->seqlen = len; }
    } else if (!rc) {
        /* AutoAWQ: the first n documents of 1..seqlen tokens, concatenated, cut into blocks */
        int64_t total = 0;
        int used = 0;
        for (int i = 0; i < nd && used < n; i++)
            if (tn[i] > 0 && tn[i] <= len) { total += tn[i]; used++; }
        int64_t blocks = total / len;
        if (blocks < 1)
            rc = bd_fail(err, BD_EINPUT, "awq: calibration file %s gives %lld tokens in %d documents of at "
                         "most %d tokens; need at least %d tokens (AutoAWQ default: %d documents, blocks of %d)",
                         o->calib, (long long)total, used, len, len, n, len);
        else if (!(out->ids = malloc((size_t)total * sizeof(int32_t))))
            rc = bd_oom(err, "calibration tokens");
        int64_t k = 0;
        used = 0;
        for (int i = 0; !rc && i < nd && used < n; i++)
            if (tn[i] > 0 && tn[i] <= len) {
                memcpy(out->ids + k, tok[i], (size_t)tn[i] * sizeof(int32_t));
                k += tn[i];
                used++;
            }
        if (!rc) { out->n = (int)blocks; out->seqlen = len; }
    }
    for (int i = 0; tok && i < nd; i++) free(tok[i]);
    free(tok);
    free(tn);
    if (rc) bd_calib_free(out);
    return rc;
}
