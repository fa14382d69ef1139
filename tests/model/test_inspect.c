/* `biasdrift inspect` on the three stories260K formats and on bad input
 * (exit status 2, one line on stderr naming the file). Runs the program
 * named by $BIASDRIFT. */
#include "../test.h"
#include "mk.h"

static char *run(const char *args, int *status)
{
    const char *bin = getenv("BIASDRIFT");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s inspect %s 2>&1", bin && *bin ? bin : "./biasdrift", args);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - 1 - n, f)) > 0) n += k;
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (buf) buf[n] = 0;
    return buf;
}

static void has(const char *out, const char *line)
{
    CHECK_MSG(out && strstr(out, line), "output lacks '%s':\n%s", line, out ? out : "(null)");
}

int main(void)
{
    const char *models[3] = {S260 "stories260K.gguf", S260 "hf", S260 "stories260K.bin"};
    const char *fmt[3] = {"format: gguf (version 3", "format: hf", "format: llama2c"};
    for (int i = 0; i < 3; i++) {
        char a[512];
        int st;
        snprintf(a, sizeof a, "--model %s", models[i]);
        char *out = run(a, &st);
        CHECK_EQ_INT(st, 0);
        has(out, fmt[i]);
        has(out, "architecture: llama\n");
        has(out, "hidden size: 64\n");
        has(out, "intermediate size: 172\n");
        has(out, "layers: 5\n");
        has(out, "attention heads: 8\n");
        has(out, "key/value heads: 4 (grouped-query)\n");
        has(out, "vocab size: 512\n");
        has(out, "tensors: 47 (f32 47)\n");
        has(out, "parameters: 260032 ");
        has(out, "weight bytes: 1040128 ");
        has(out, "output head: tied");
        has(out, i == 1 ? "rotate-half (HF) layout" : "interleaved (adjacent pairs) layout");
        has(out, "chat template: none\n");
        has(out, "tokenizer: ");
        free(out);
    }
    int st;
    char *out = run("--model " S260 "stories260K.bin --tokenizer " S260 "tok512.bin", &st);
    CHECK_EQ_INT(st, 0);
    has(out, "tokenizer: llama2c, vocab 512, bos 1, eos 2");
    free(out);
    out = run("--model " S260 "expected_greedy_t0_n256.txt", &st);
    CHECK_EQ_INT(st, 2);
    has(out, "expected_greedy_t0_n256.txt: offset 0: not a GGUF file");
    CHECK(out && strchr(out, '\n') == out + strlen(out) - 1); /* exactly one line */
    free(out);
    out = run("--model /nonexistent/model.gguf", &st);
    CHECK_EQ_INT(st, 2);
    has(out, "/nonexistent/model.gguf");
    free(out);
    out = run("", &st);
    CHECK_EQ_INT(st, 2);
    free(out);
    return test_done();
}
