/* biasdrift score: JSON lines {"text": ...} in, one JSON line per input out:
 * {"text", "ids" (starting with BOS when the tokenizer adds one),
 *  "logprobs" (ln P(ids[i+1] | ids[0..i])), "sum", "mean"}. mean is null
 * when there is nothing to score (a text that encodes to one id). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"

static int score_line(bd_session *s, const char *path, long lineno, const char *line, int flags, bd_err *err)
{
    struct json_tokener *tk = json_tokener_new();
    if (!tk) return bd_oom(err, "json parser");
    json_object *in = json_tokener_parse_ex(tk, line, (int)strlen(line));
    enum json_tokener_error je = json_tokener_get_error(tk);
    int rest = tk->char_offset < (int)strlen(line) ? tk->char_offset : -1;
    json_tokener_free(tk);
    json_object *text;
    if (je != json_tokener_success || !in) {
        json_object_put(in);
        return bd_fail(err, BD_EINPUT, "%s:%ld: invalid JSON (%s)", path, lineno, json_tokener_error_desc(je));
    }
    if (rest >= 0 && strspn(line + rest, " \t\r\n") != strlen(line + rest)) {
        json_object_put(in);
        return bd_fail(err, BD_EINPUT, "%s:%ld: text after the JSON object at column %d", path, lineno, rest + 1);
    }
    if (!json_object_is_type(in, json_type_object) || !json_object_object_get_ex(in, "text", &text) ||
        !json_object_is_type(text, json_type_string)) {
        json_object_put(in);
        return bd_fail(err, BD_EINPUT, "%s:%ld: expected an object with a string \"text\"", path, lineno);
    }
    const char *t = json_object_get_string(text);
    size_t tl = (size_t)json_object_get_string_len(text);
    int32_t *ids = NULL;
    size_t n = 0;
    float *lp = NULL;
    int rc = bd_tok_encode(s->tok, t, tl, flags, &ids, &n, err);
    if (rc) { bd_wrap(err, "%s:%ld", path, lineno); goto done; }
    if (n == 0) { rc = bd_fail(err, BD_EINPUT, "%s:%ld: the text encodes to no tokens", path, lineno); goto done; }
    if ((long long)n > bd_engine_config(s->eng)->max_seq) {
        rc = bd_fail(err, BD_EINPUT, "%s:%ld: %zu tokens exceed the model's context of %d", path, lineno, n,
                     bd_engine_config(s->eng)->max_seq);
        goto done;
    }
    lp = malloc(sizeof(float) * n);
    if (!lp) { rc = bd_oom(err, "log-probabilities"); goto done; }
    if ((rc = bd_score(s->eng, ids, (int)n, lp, err))) goto done;
    json_object *o = json_object_new_object(), *ja = json_object_new_array(), *jl = json_object_new_array();
    double sum = 0;
    for (size_t i = 0; i < n; i++) json_object_array_add(ja, json_object_new_int(ids[i]));
    for (size_t i = 0; i + 1 < n; i++) {
        json_object_array_add(jl, json_object_new_double((double)lp[i]));
        sum += lp[i];
    }
    json_object_object_add(o, "text", json_object_new_string_len(t, (int)tl));
    json_object_object_add(o, "ids", ja);
    json_object_object_add(o, "logprobs", jl);
    json_object_object_add(o, "sum", json_object_new_double(sum));
    json_object_object_add(o, "mean", n > 1 ? json_object_new_double(sum / (double)(n - 1)) : NULL);
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
done:
    free(ids);
    free(lp);
    json_object_put(in);
    return rc;
}

int cmd_score(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf or llama2.c .bin", NULL},
        {"--tokenizer", NULL, 1, "tokenizer file (needed for llama2.c checkpoints)", NULL},
        {"--input", "-i", 1, "JSON lines file with {\"text\": ...} per line (- = stdin)", NULL},
        {"--threads", "-t", 1, "threads (default: all cores)", NULL},
        BD_ACCEL_OPTS,
        {"--no-special", NULL, 0, "no BOS/EOS insertion, special-token text stays text", NULL},
        BD_COMPUTE_OPT,
    };
    const int no = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, no,
                           "usage: biasdrift score --model PATH [--tokenizer PATH] --input FILE.jsonl [--accel SPEC] [--compute fp32|bf16|fp16]");
    if (rc) return rc < 0 ? 0 : rc;
    const char *accel = bd_opt_get(opts, no, "--accel");
    if (accel && !strcmp(accel, "help")) {
        printf("%s\n", bd_accel_valid_specs());
        return 0;
    }
    long long threads = 0, cs = 0, cl = 0;
    if ((rc = bd_opt_int(opts, no, "--threads", 0, 1024, &threads)) ||
        (rc = bd_opt_int(opts, no, "--calib-samples", 0, 1 << 20, &cs)) ||
        (rc = bd_opt_int(opts, no, "--calib-seqlen", 0, 1 << 20, &cl)))
        return rc;
    bd_compute compute;
    if ((rc = bd_session_compute_opt(bd_opt_get(opts, no, "--compute"), &compute))) return rc;
    const char *path = bd_opt_get(opts, no, "--input");
    if (!path) {
        fprintf(stderr, "biasdrift score: --input FILE.jsonl is required\n");
        return 2;
    }
    int flags = bd_opt_get(opts, no, "--no-special") ? 0 : BD_TOK_DEFAULT;
    bd_err err = {0};
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        bd_fail(&err, BD_EINPUT, "%s: cannot open", path);
        return bd_cli_report(&err);
    }
    bd_session_opts so = {.model_path = bd_opt_get(opts, no, "--model"),
                          .tok_path = bd_opt_get(opts, no, "--tokenizer"),
                          .threads = (int)threads, .need_tok = 1, .accel_spec = accel};
    bd_accel_opts ao = {.calib = bd_opt_get(opts, no, "--calib"), .calib_samples = (int)cs,
                        .calib_seqlen = (int)cl, .threads = (int)threads, .compute = compute};
    bd_session *s = NULL;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    if ((rc = bd_session_open_accel(&so, &ao, &s, &err))) goto done;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            rc = bd_fail(&err, BD_EINPUT, "%s:%ld: NUL byte in line", path, lineno);
            break;
        }
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if ((rc = score_line(s, path, lineno, line, flags, &err))) break;
        fflush(stdout);
    }
    if (!rc && ferror(f)) rc = bd_fail(&err, BD_EIO, "%s: read error", path);
done:
    free(line);
    if (f != stdin) fclose(f);
    bd_session_free(s);
    return rc ? bd_cli_report(&err) : 0;
}
