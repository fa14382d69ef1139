/* The generate / score / bench commands end to end (the program is found
 * through $BIASDRIFT): greedy generation from an empty prompt reproduces the
 * llama2.c reference outputs (run.c, -t 0) byte for byte for stories260K in
 * all three formats and for aidreams260K; score prints well-formed lines
 * whose log-probabilities agree with a greedy generation; bad input exits 2. */
#include <sys/wait.h>

#include "../test.h"

#define S260 "../shared/models/stories260K/"
#define AID "../shared/models/aidreams260K/"

static const char *prog(void)
{
    const char *p = getenv("BIASDRIFT");
    return p && *p ? p : "./biasdrift";
}

/* Runs a shell command, returns its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (!f) { *status = -1; return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2) { cap *= 2; buf = realloc(buf, cap); }
    }
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (buf) buf[n] = 0;
    return buf;
}

static void greedy(const char *model_args, const char *n, const char *expected_path, int threads)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s generate %s -n %s --temp 0 --threads %d", prog(), model_args, n, threads);
    int st;
    char *out = run(cmd, &st);
    char *want = test_read_file(expected_path, NULL);
    CHECK_MSG(st == 0, "%s: exit %d", cmd, st);
    CHECK_MSG(out && want && !strcmp(out, want), "%s: output differs from %s:\n%s", cmd, expected_path, out ? out : "");
    free(out);
    free(want);
}

int main(void)
{
    greedy("--model " S260 "stories260K.bin --tokenizer " S260 "tok512.bin", "256", S260 "expected_greedy_t0_n256.txt", 1);
    greedy("--model " S260 "stories260K.gguf", "256", S260 "expected_greedy_t0_n256.txt", 2);
    greedy("--model " S260 "hf --tokenizer " S260 "tok512.bin", "256", S260 "expected_greedy_t0_n256.txt", 3);
    greedy("--model " AID "aidreams260K.bin --tokenizer " AID "tok512.bin", "128", AID "expected_greedy_t0_n128.txt", 2);

    /* sampling: seeded runs repeat, different seeds differ */
    char cmd[1024];
    int st1, st2, st3;
    snprintf(cmd, sizeof cmd, "%s generate --model " S260 "stories260K.gguf -n 40 --temp 1 --top-p 0.9 --top-k 40 --seed 7", prog());
    char *a = run(cmd, &st1), *b = run(cmd, &st2);
    snprintf(cmd, sizeof cmd, "%s generate --model " S260 "stories260K.gguf -n 40 --temp 1 --top-p 0.9 --top-k 40 --seed 8", prog());
    char *c = run(cmd, &st3);
    CHECK(st1 == 0 && st2 == 0 && st3 == 0 && a && b && c);
    CHECK(a && b && !strcmp(a, b));
    CHECK(a && c && strcmp(a, c) != 0);
    free(a); free(b); free(c);

    /* score: the greedy text's tokens each have the highest probability, so
     * every logprob is above ln(1/512); format and sum/mean consistency */
    FILE *f = fopen("/tmp/bd_engine_score.jsonl", "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"text\": \"Once upon a time, there was a little girl named Lily.\"}\n\n{\"text\": \"\\u00e9t\\u00e9 \\\"q\\\"\"}\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s score --model " S260 "stories260K.bin --tokenizer " S260 "tok512.bin --input /tmp/bd_engine_score.jsonl", prog());
    char *s = run(cmd, &st1);
    CHECK_EQ_INT(st1, 0);
    CHECK(s && !strncmp(s, "{\"text\":\"Once upon a time, there was a little girl named Lily.\",\"ids\":[1,", 72));
    int lines = 0;
    for (char *p = s; p && *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 2);
    if (s) {
        /* sum equals the listed logprobs */
        char *lp = strstr(s, "\"logprobs\":["), *sm = strstr(s, "\"sum\":");
        double tot = 0;
        int cnt = 0;
        for (char *p = lp ? lp + 12 : NULL; p && *p && *p != ']';) {
            char *e;
            double v = strtod(p, &e);
            if (e == p) break;
            CHECK(v <= 0 && v > -30);
            tot += v;
            cnt++;
            p = *e == ',' ? e + 1 : e;
        }
        CHECK(cnt > 5);
        CHECK(sm && fabs(strtod(sm + 6, NULL) - tot) < 1e-6 * (1 + fabs(tot)));
        CHECK(strstr(s, "\"text\":\"été \\\"q\\\"\"") != NULL);
    }
    free(s);
    /* bad input -> exit 2 */
    f = fopen("/tmp/bd_engine_score_bad.jsonl", "w");
    if (f) { fputs("{\"text\": \"ok\"}\n{\"txt\": 1}\n", f); fclose(f); }
    snprintf(cmd, sizeof cmd, "%s score --model " S260 "stories260K.gguf --input /tmp/bd_engine_score_bad.jsonl 2>/dev/null", prog());
    s = run(cmd, &st1);
    CHECK_EQ_INT(st1, 2);
    free(s);
    snprintf(cmd, sizeof cmd, "%s generate --model /nonexistent.gguf 2>/dev/null", prog());
    s = run(cmd, &st1);
    CHECK_EQ_INT(st1, 2);
    free(s);
    snprintf(cmd, sizeof cmd, "%s generate --model " S260 "stories260K.gguf --temp -1 2>/dev/null", prog());
    s = run(cmd, &st1);
    CHECK_EQ_INT(st1, 2);
    free(s);
    /* bench runs and prints its table */
    snprintf(cmd, sizeof cmd, "%s bench --model " S260 "stories260K.gguf --prefill 64 --decode 4 --bw 10 2>/dev/null", prog());
    s = run(cmd, &st1);
    CHECK_EQ_INT(st1, 0);
    CHECK(s && strstr(s, "prefill") && strstr(s, "decode") && strstr(s, "ratio"));
    free(s);
    remove("/tmp/bd_engine_score.jsonl");
    remove("/tmp/bd_engine_score_bad.jsonl");
    return test_done();
}
