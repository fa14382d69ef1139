/* biasdrift tokenize: text -> JSON ids, ids -> text, and a speed check. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tok/tok.h"
#include "cli.h"

static int decode_ids(const bd_tok *t, const char *json, int skip, bd_err *err)
{
    json_tokener *tk = json_tokener_new();
    if (!tk) return bd_oom(err, "JSON parser");
    json_object *a = json_tokener_parse_ex(tk, json, (int)strlen(json));
    int rc = 0;
    if (!a || !json_object_is_type(a, json_type_array)) {
        rc = bd_fail(err, BD_EINPUT, "--ids: column %zu: expected a JSON array of token ids",
                     (size_t)json_tokener_get_parse_end(tk) + 1);
    }
    json_tokener_free(tk);
    if (rc) { json_object_put(a); return rc; }
    size_t n = json_object_array_length(a);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) { json_object_put(a); return bd_oom(err, "ids"); }
    for (size_t i = 0; i < n && !rc; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        int64_t x = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || x < 0 || x >= bd_tok_vocab_size(t))
            rc = bd_fail(err, BD_EINPUT, "--ids: element %zu is not a token id in 0..%d", i, bd_tok_vocab_size(t) - 1);
        else
            ids[i] = (int32_t)x;
    }
    json_object_put(a);
    char *text = NULL;
    size_t len = 0;
    if (!rc) rc = bd_tok_decode(t, ids, n, skip, &text, &len, err);
    free(ids);
    if (!rc) fwrite(text, 1, len, stdout);
    free(text);
    return rc;
}

/* One text per line; reports MB/s of encode over all of them. */
static int bench(const bd_tok *t, const char *path, int flags, bd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0, lines = 0, bytes = 0, tokens = 0;
    char **texts = NULL;
    size_t *lens = NULL;
    ssize_t r;
    int rc = 0;
    while ((r = getline(&line, &cap, f)) >= 0) {
        if (r > 0 && line[r - 1] == '\n') r--;
        char **nt = realloc(texts, (lines + 1) * sizeof *nt);
        size_t *nl = realloc(lens, (lines + 1) * sizeof *nl);
        if (nt) texts = nt;
        if (nl) lens = nl;
        if (!nt || !nl || !(texts[lines] = malloc((size_t)r + 1))) { rc = bd_oom(err, "bench texts"); break; }
        memcpy(texts[lines], line, (size_t)r);
        lens[lines++] = (size_t)r;
        bytes += (size_t)r;
    }
    free(line);
    fclose(f);
    struct timespec a, b;
    double best = 1e30;
    for (int rep = 0; rep < 3 && !rc; rep++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        tokens = 0;
        for (size_t i = 0; i < lines && !rc; i++) {
            int32_t *ids; size_t n;
            rc = bd_tok_encode(t, texts[i], lens[i], flags, &ids, &n, err);
            if (!rc) { tokens += n; free(ids); }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
        if (s < best) best = s;
    }
    for (size_t i = 0; i < lines; i++) free(texts[i]);
    free(texts);
    free(lens);
    if (!rc)
        printf("{\"texts\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.3f}\n",
               lines, bytes, tokens, best, best > 0 ? (double)bytes / 1e6 / best : 0.0);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    bd_opt o[] = {
        { "--tokenizer", NULL, 1, "tokenizer.json, tokenizer.model, .gguf, HF folder or llama2.c .bin", NULL },
        { "--text", NULL, 1, "text to encode; prints a JSON array of ids", NULL },
        { "--no-special", NULL, 0, "no BOS/EOS and no special-token parsing", NULL },
        { "--decode", NULL, 0, "decode --ids instead of encoding", NULL },
        { "--ids", NULL, 1, "JSON array of ids for --decode", NULL },
        { "--skip-special", NULL, 0, "with --decode: leave out control tokens (BOS/EOS...)", NULL },
        { "--bench", NULL, 1, "FILE with one text per line: print encode speed (MB/s)", NULL },
    };
    int n = (int)(sizeof o / sizeof o[0]);
    int prc = bd_opts_parse(argc, argv, o, n,
                            "usage: biasdrift tokenize --tokenizer PATH (--text TEXT [--no-special] | --decode --ids JSON | --bench FILE)");
    if (prc == -1) return 0;
    if (prc) return prc;
    const char *path = bd_opt_get(o, n, "--tokenizer"), *text = bd_opt_get(o, n, "--text");
    const char *ids = bd_opt_get(o, n, "--ids"), *bfile = bd_opt_get(o, n, "--bench");
    int decode = bd_opt_get(o, n, "--decode") != NULL;
    bd_err err = { 0 };
    if (!path) { fprintf(stderr, "biasdrift tokenize: --tokenizer PATH is required\n"); return 2; }
    if (decode ? !ids : (!text && !bfile)) {
        fprintf(stderr, "biasdrift tokenize: %s\n", decode ? "--decode needs --ids JSON" : "--text TEXT (or --decode, --bench) is required");
        return 2;
    }
    bd_tok *t;
    int rc = bd_tok_load(path, &t, &err);
    if (rc) return bd_cli_report(&err);
    int flags = bd_opt_get(o, n, "--no-special") ? 0 : BD_TOK_DEFAULT;
    if (decode) {
        rc = decode_ids(t, ids, bd_opt_get(o, n, "--skip-special") != NULL, &err);
    } else if (bfile) {
        rc = bench(t, bfile, flags, &err);
    } else {
        int32_t *v; size_t k;
        rc = bd_tok_encode(t, text, strlen(text), flags, &v, &k, &err);
        if (!rc) {
            putchar('[');
            for (size_t i = 0; i < k; i++) printf("%s%ld", i ? ", " : "", (long)v[i]);
            puts("]");
            free(v);
        }
    }
    bd_tok_free(t);
    if (rc) return bd_cli_report(&err);
    return fflush(stdout) == 0 ? 0 : 1;
}
