/* The generate / score / bench commands end to end (the program is found
 * through $BIASDRIFT): greedy generation from an empty prompt reproduces the
 * llama2.c reference outputs (run.c, -t 0) byte for byte for stories260K in
 * all three formats and for aidreams260K; score prints well-formed lines
 * whose log-probabilities agree with a greedy generation; bad input exits 2.
 * --accel on generate/score: "none" changes nothing, nf4 changes the numbers
 * and equals the same strategy restored from a `biasdrift quantize` file
 * (two separate code paths: in-process packing vs. the saved tensors),
 * calibrated wanda50 runs through --calib, an invalid spec exits 2 naming
 * the valid ones. --compute (decisions.md §1): fp32 is the default and
 * changes nothing, bf16 changes the numbers and gets its own run key (read
 * from the database with sqlite directly), a bad value exits 2 on every
 * command that takes it. The strategies' numerics are checked against bitsandbytes/AutoAWQ/HQQ goldens in tests/accel/. */
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The "sum" of the first JSON line printed by score, or NAN. */
static double score_sum(const char *out)
{
    const char *p = out ? strstr(out, "\"sum\":") : NULL;
    return p ? strtod(p + 6, NULL) : NAN;
}

static void accel_checks(void)
{
    char cmd[1024];
    int st;
    const char *gen = "generate --model " S260 "stories260K.gguf -n 200 --temp 0 --threads 2";
    snprintf(cmd, sizeof cmd, "%s %s --accel none", prog(), gen);
    char *none = run(cmd, &st);
    char *want = test_read_file(S260 "expected_greedy_t0_n256.txt", NULL);
    CHECK_MSG(st == 0 && none && want && !strncmp(none, want, strlen(none) - 1), "--accel none: %s", none ? none : "");
    free(want);
    snprintf(cmd, sizeof cmd, "%s %s --accel nf4", prog(), gen);
    char *nf4 = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    CHECK_MSG(nf4 && none && strcmp(nf4, none) != 0, "--accel nf4 generated the unaccelerated text");
    snprintf(cmd, sizeof cmd, "%s quantize --model " S260 "stories260K.gguf --accel nf4 -o /tmp/bd_engine_nf4.bdq >/dev/null 2>&1", prog());
    free(run(cmd, &st));
    CHECK_EQ_INT(st, 0);
    snprintf(cmd, sizeof cmd, "%s %s --accel /tmp/bd_engine_nf4.bdq", prog(), gen);
    char *bdq = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    CHECK_MSG(nf4 && bdq && !strcmp(nf4, bdq), "--accel nf4 and its saved .bdq generate differently:\n%s\n%s",
              nf4 ? nf4 : "", bdq ? bdq : "");
    free(none); free(nf4); free(bdq);

    /* score: the strategies move the log-probabilities by far more than fp32
     * noise, yet stay well above a uniform guess over 512 tokens (13 scored
     * tokens * ln 512 = 81 nats): measured none -1.50, nf4 -2.44, wanda50 -17.6
     * (half the weights of a 260K model pruned) */
    FILE *f = fopen("/tmp/bd_engine_accel.jsonl", "w");
    CHECK(f != NULL);
    if (f) { fputs("{\"text\": \"Once upon a time, there was a little girl named Lily.\"}\n", f); fclose(f); }
    double sums[3];
    const char *specs[3] = {"none", "nf4", "wanda50 --calib selfgen --calib-samples 2 --calib-seqlen 32"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s score --model " S260 "stories260K.gguf --input /tmp/bd_engine_accel.jsonl --accel %s",
                 prog(), specs[i]);
        char *o = run(cmd, &st);
        CHECK_MSG(st == 0, "%s: exit %d", cmd, st);
        sums[i] = score_sum(o);
        free(o);
    }
    CHECK_MSG(fabs(sums[1] - sums[0]) > 1e-3 && fabs(sums[1] - sums[0]) < 40, "score sums none %g nf4 %g", sums[0], sums[1]);
    CHECK_MSG(fabs(sums[2] - sums[0]) > 1e-4 && fabs(sums[2] - sums[0]) < 40, "score sums none %g wanda50 %g", sums[0], sums[2]);

    /* bad specs: exit 2, and the message lists what is valid */
    const char *bad[2] = {"generate --model " S260 "stories260K.gguf -n 4 --accel nf5",
                          "score --model " S260 "stories260K.gguf --input /tmp/bd_engine_accel.jsonl --accel int8+nf4"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", prog(), bad[i]);
        char *o = run(cmd, &st);
        CHECK_MSG(st == 2, "%s: exit %d", cmd, st);
        CHECK_MSG(o && strstr(o, "valid specs") && strstr(o, "nf4") && strstr(o, "wanda2:4"), "%s: %s", cmd, o ? o : "");
        free(o);
    }
    snprintf(cmd, sizeof cmd, "%s generate --accel help", prog());
    char *o = run(cmd, &st);
    CHECK(st == 0 && o && strstr(o, "awq4"));
    free(o);
    remove("/tmp/bd_engine_nf4.bdq");
    remove("/tmp/bd_engine_accel.jsonl");
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

/* The compute column of each run in the database, "fp32,bf16,..." by id. */
static void run_computes(const char *db, char *out, size_t cap)
{
    out[0] = 0;
    sqlite3 *h;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) { sqlite3_close(h); return; }
    if (sqlite3_prepare_v2(h, "SELECT compute, accel FROM runs ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s/%s", l ? "," : "", (const char *)sqlite3_column_text(st, 0),
                     (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
}

static void compute_checks(void)
{
    char cmd[1024], db[128], keys[256];
    int st;
    snprintf(db, sizeof db, "/tmp/bd_engine_compute_%d.db", (int)getpid());
    remove(db);
    const char *r = "run --model " S260 "stories260K.gguf --bench crows_pairs --limit 3 -q --threads 2";
    snprintf(cmd, sizeof cmd, "%s %s --db %s", prog(), r, db);
    char *a = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    snprintf(cmd, sizeof cmd, "%s %s --db %s --compute bf16", prog(), r, db);
    char *b = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    /* the same bf16 run again resumes its run: no third key */
    char *c = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    CHECK_MSG(a && b && strstr(a, "log_prob_diff=") && strcmp(a, b), "bf16 should change the scores:\n%s%s",
              a ? a : "", b ? b : "");
    const char *mb = b ? strstr(b, "log_prob_diff=") : NULL, *mc = c ? strstr(c, "log_prob_diff=") : NULL;
    CHECK_MSG(mb && mc && strstr(c, "resumed") && !strncmp(mb, mc, strcspn(mb, ",")), "bf16 rerun:\n%s%s",
              b ? b : "", c ? c : "");
    run_computes(db, keys, sizeof keys);
    CHECK_STR(keys, "fp32/none,bf16/none");
    free(a); free(b); free(c);
    remove(db);

    /* explicit fp32 is the default, byte for byte */
    snprintf(cmd, sizeof cmd, "%s generate --model " S260 "stories260K.gguf -n 200 --temp 0 --threads 2 --compute fp32",
             prog());
    a = run(cmd, &st);
    char *want = test_read_file(S260 "expected_greedy_t0_n256.txt", NULL);
    CHECK_MSG(st == 0 && a && want && !strncmp(a, want, strlen(a) - 1), "--compute fp32: %s", a ? a : "");
    free(a);
    free(want);
    snprintf(cmd, sizeof cmd, "%s generate --model " S260 "stories260K.gguf -n 20 --temp 0 --threads 2 --compute fp16",
             prog());
    a = run(cmd, &st);
    CHECK_EQ_INT(st, 0);
    free(a);

    const char *bad[] = {"run --model " S260 "stories260K.gguf --bench crows_pairs --db /tmp/bd_never.db",
                         "generate --model " S260 "stories260K.gguf", "score --model " S260 "stories260K.gguf --input -",
                         "bench --model " S260 "stories260K.gguf"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "%s %s --compute int4 </dev/null 2>&1", prog(), bad[i]);
        a = run(cmd, &st);
        CHECK_MSG(st == 2 && a && strstr(a, "fp32, bf16 or fp16"), "%s: exit %d: %s", bad[i], st, a ? a : "");
        free(a);
    }
    remove("/tmp/bd_never.db");
}

int main(void)
{
    greedy("--model " S260 "stories260K.bin --tokenizer " S260 "tok512.bin", "256", S260 "expected_greedy_t0_n256.txt", 1);
    greedy("--model " S260 "stories260K.gguf", "256", S260 "expected_greedy_t0_n256.txt", 2);
    greedy("--model " S260 "hf --tokenizer " S260 "tok512.bin", "256", S260 "expected_greedy_t0_n256.txt", 3);
    greedy("--model " AID "aidreams260K.bin --tokenizer " AID "tok512.bin", "128", AID "expected_greedy_t0_n128.txt", 2);

    accel_checks();
    compute_checks();

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
