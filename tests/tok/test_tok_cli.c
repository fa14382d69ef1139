/* `biasdrift tokenize`: the exact output forms other checks rely on. Ids
 * quoted from transformers (see test_tok_api.c). */
#include "../test.h"

static char *run(const char *args, int *status)
{
    const char *bin = getenv("BIASDRIFT");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s tokenize %s 2>&1", bin ? bin : "./biasdrift", args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *out = calloc(1, 65536);
    size_t n = out ? fread(out, 1, 65535, p) : 0;
    (void)n;
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

#define M "../shared/models/"

int main(void)
{
    int st;
    char *o;
    o = run("--tokenizer " M "llama-3.1-8b-instruct --text 'Hello world, the doctor said she'", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_STR(o, "[128000, 9906, 1917, 11, 279, 10896, 1071, 1364]\n");
    free(o);
    o = run("--tokenizer " M "llama-3.1-8b-instruct/tokenizer.json --text 'x<|eot_id|>'", &st);
    CHECK_STR(o, "[128000, 87, 128009]\n");
    free(o);
    o = run("--tokenizer " M "mistral-7b-instruct-v0.3/tokenizer.json --text 'Hello world, the doctor said she' --no-special", &st);
    CHECK_STR(o, "[23325, 2294, 29493, 1040, 7444, 1541, 1398]\n");
    free(o);
    o = run("--tokenizer " M "llama2-7b-chat/tokenizer.model --text ''", &st);
    CHECK_STR(o, "[1]\n");
    free(o);
    o = run("--tokenizer " M "mistral-7b-instruct-v0.3 --decode --ids '[1, 23325]'", &st);
    CHECK_EQ_INT(st, 0);
    CHECK_STR(o, "<s> Hello");
    free(o);
    o = run("--tokenizer " M "llama-3.1-8b-instruct/tokenizer.model --decode --ids '[9906, 1917, 198]'", &st);
    CHECK_STR(o, "Hello world\n");
    free(o);
    o = run("--tokenizer " M "llama2-7b-chat/tokenizer.model --decode --ids '[1, 99999]'", &st);
    CHECK_EQ_INT(st, 2);
    CHECK(o && strstr(o, "element 1"));
    free(o);
    o = run("--tokenizer " M "llama2-7b-chat/tokenizer.model --decode --ids '[1,'", &st);
    CHECK_EQ_INT(st, 2);
    free(o);
    o = run("--tokenizer /nonexistent/tok.model --text x", &st);
    CHECK_EQ_INT(st, 2);
    CHECK(o && strstr(o, "/nonexistent/tok.model"));
    free(o);
    o = run("--text x", &st);
    CHECK_EQ_INT(st, 2);
    free(o);
    return test_done();
}
