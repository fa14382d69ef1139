/* llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out):
 * texts separated by "\n__ggml_vocab_test__\n", one line of ids per text,
 * encoded without BOS and without special-token parsing, as
 * test-tokenizer-0 does. Checked against every file format of the same
 * vocabulary. */
#include "../test.h"
#include "tok/tok.h"

#define M "../shared/models/"

static void vectors(const char *base, const char *tok_path)
{
    char p[512];
    size_t il, ol;
    snprintf(p, sizeof p, "%s.inp", base);
    char *inp = test_read_file(p, &il);
    snprintf(p, sizeof p, "%s.out", base);
    char *out = test_read_file(p, &ol);
    CHECK_MSG(inp && out, "%s.inp/.out missing", base);
    bd_err err = { 0 };
    bd_tok *t = NULL;
    int rc = bd_tok_load(tok_path, &t, &err);
    CHECK_MSG(rc == 0, "%s: %s", tok_path, err.msg);
    if (!inp || !out || rc) { free(inp); free(out); return; }
    static const char mark[] = "\n__ggml_vocab_test__\n";
    char *ip = inp, *op = out;
    int n = 0, bad = 0;
    for (;;) {
        char *e = strstr(ip, mark);
        if (!e) break;
        size_t tl = (size_t)(e - ip);
        char *oe = strchr(op, '\n');
        CHECK(oe != NULL);
        if (!oe) break;
        *oe = 0;
        int32_t *ids;
        size_t k;
        rc = bd_tok_encode(t, ip, tl, 0, &ids, &k, &err);
        CHECK_MSG(rc == 0, "%s: %s", tok_path, err.msg);
        if (rc) break;
        char got[8192];
        size_t g = 0;
        got[0] = 0;
        for (size_t i = 0; i < k && g < sizeof got - 16; i++) g += (size_t)snprintf(got + g, sizeof got - g, " %d", ids[i]);
        if (strcmp(got, op) != 0) {
            bad++;
            fprintf(stderr, "%s: vector %d \"%.*s\"\n  expected:%s\n  got:     %s\n", tok_path, n, (int)tl, ip, op, got);
        }
        free(ids);
        n++;
        ip = e + strlen(mark);
        op = oe + 1;
    }
    fprintf(stderr, "%s: %d/%d vectors\n", tok_path, n - bad, n);
    CHECK(n >= 40);
    CHECK_EQ_INT(bad, 0);
    bd_tok_free(t);
    free(inp);
    free(out);
}

int main(void)
{
    const char *spm = M "llama2-7b-chat/ggml-vocab-llama-spm.gguf";
    vectors(spm, M "llama2-7b-chat/ggml-vocab-llama-spm.gguf");
    vectors(spm, M "llama2-7b-chat/tokenizer.model");
    const char *bpe = M "llama-3.1-8b-instruct/ggml-vocab-llama-bpe.gguf";
    vectors(bpe, M "llama-3.1-8b-instruct/tokenizer.json");
    vectors(bpe, M "llama-3.1-8b-instruct/tokenizer.model");
    return test_done();
}
