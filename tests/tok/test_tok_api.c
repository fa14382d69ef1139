/* Special tokens, BOS/EOS policy, token lookup, decode conventions and
 * error messages. Expected ids come from HF tokenizers / transformers /
 * sentencepiece (tests/reference/tok/special.txt, and the values quoted
 * below were printed by transformers 5.x and sentencepiece). */
#include <json-c/json.h>
#include <unistd.h>

#include "../test.h"
#include "tok/tok.h"
#include "tok_corpus.h"

#define M "../shared/models/"

static bd_tok *load(const char *p)
{
    bd_err err = { 0 };
    bd_tok *t = NULL;
    int rc = bd_tok_load(p, &t, &err);
    CHECK_MSG(rc == 0, "%s: %s", p, err.msg);
    return rc ? NULL : t;
}

static int enc_eq(const bd_tok *t, const char *text, int flags, const int32_t *want, size_t nw)
{
    bd_err err = { 0 };
    int32_t *ids;
    size_t n;
    if (bd_tok_encode(t, text, strlen(text), flags, &ids, &n, &err)) { fprintf(stderr, "%s\n", err.msg); return 0; }
    int ok = n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "encode \"%s\" flags %d:", text, flags);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

static char *dec(const bd_tok *t, const int32_t *ids, size_t n, int skip)
{
    bd_err err = { 0 };
    char *s = NULL;
    size_t l;
    if (bd_tok_decode(t, ids, n, skip, &s, &l, &err)) return strdup(err.msg);
    return s;
}

static void special_file(void)
{
    size_t len;
    char *buf = test_read_file("tests/reference/tok/special.txt", &len);
    CHECK(buf != NULL);
    if (!buf) return;
    bd_tok *sources[2][3] = {
        { load(M "mistral-7b-instruct-v0.3/tokenizer.json"), load(M "mistral-7b-instruct-v0.3"), NULL },
        { load(M "llama-3.1-8b-instruct/tokenizer.json"), load(M "llama-3.1-8b-instruct"),
          load(M "llama-3.1-8b-instruct/tokenizer.model") },
    };
    int cases = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[4];
        int k = 0;
        for (char *p = line; k < 4; k++) {
            f[k] = p;
            char *tab = strchr(p, '\t');
            if (!tab) { k++; break; }
            *tab = 0;
            p = tab + 1;
        }
        if (k < 4) continue;
        corpus_unescape(f[2]);
        int32_t want[512];
        size_t nw = 0;
        for (char *p = f[3], *e; nw < 512; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            want[nw++] = (int32_t)v;
        }
        int which = !strcmp(f[0], "llama3_hf");
        for (int s = 0; s < 3; s++) {
            if (!sources[which][s]) continue;
            CHECK_MSG(enc_eq(sources[which][s], f[2], atoi(f[1]), want, nw), "%s source %d: \"%s\"", f[0], s, f[2]);
        }
        cases++;
    }
    CHECK(cases >= 8);
    for (int i = 0; i < 2; i++)
        for (int s = 0; s < 3; s++) bd_tok_free(sources[i][s]);
    free(buf);
}

static void policies(void)
{
    bd_tok *l2 = load(M "llama2-7b-chat/tokenizer.model");
    bd_tok *mi = load(M "mistral-7b-instruct-v0.3");
    bd_tok *l3 = load(M "llama-3.1-8b-instruct");
    bd_tok *l3t = load(M "llama-3.1-8b-instruct/tokenizer.model");
    bd_tok *c2 = load(M "llama2-7b-chat/tokenizer.llama2c.bin");
    bd_tok *s260 = load(M "stories260K/tok512.bin");
    bd_tok *s260g = load(M "stories260K/stories260K.gguf");
    if (!l2 || !mi || !l3 || !l3t || !c2 || !s260 || !s260g) return;
    const int32_t *eog;
    int ne;

    /* "Hello world, the doctor said she" per MANIFEST (sentencepiece / tiktoken) */
    CHECK(enc_eq(l2, "Hello world, the doctor said she", BD_TOK_DEFAULT,
                 (int32_t[]){ 1, 15043, 3186, 29892, 278, 11619, 1497, 1183 }, 8));
    CHECK(enc_eq(c2, "Hello world, the doctor said she", BD_TOK_DEFAULT,
                 (int32_t[]){ 1, 15043, 3186, 29892, 278, 11619, 1497, 1183 }, 8));
    CHECK(enc_eq(mi, "Hello world, the doctor said she", BD_TOK_DEFAULT,
                 (int32_t[]){ 1, 23325, 2294, 29493, 1040, 7444, 1541, 1398 }, 8));
    CHECK(enc_eq(l3, "Hello world, the doctor said she", BD_TOK_DEFAULT,
                 (int32_t[]){ 128000, 9906, 1917, 11, 279, 10896, 1071, 1364 }, 8));
    CHECK(enc_eq(l3, "Hello world", 0, (int32_t[]){ 9906, 1917 }, 2));
    /* BOS only with ADD_SPECIAL; an empty text is just BOS (transformers) */
    CHECK(enc_eq(l2, "", BD_TOK_DEFAULT, (int32_t[]){ 1 }, 1));
    CHECK(enc_eq(l2, "", 0, NULL, 0));
    CHECK(enc_eq(l3, "hi", BD_TOK_DEFAULT, (int32_t[]){ 128000, 6151 }, 2));
    CHECK(enc_eq(mi, "hi <s>", BD_TOK_DEFAULT, (int32_t[]){ 1, 12782, 29473, 1 }, 4));
    /* without special parsing "<s>" is text */
    int32_t *ids; size_t n; bd_err err = { 0 };
    CHECK(bd_tok_encode(mi, "<s>", 3, BD_TOK_ADD_SPECIAL, &ids, &n, &err) == 0);
    CHECK(n > 2 && ids[0] == 1 && ids[1] != 1);
    free(ids);

    CHECK_EQ_INT(bd_tok_bos(l2), 1); CHECK_EQ_INT(bd_tok_eos(l2), 2);
    CHECK_STR(bd_tok_bos_str(l2), "<s>"); CHECK_STR(bd_tok_eos_str(l2), "</s>");
    CHECK_STR(bd_tok_bos_str(mi), "<s>"); CHECK_STR(bd_tok_eos_str(mi), "</s>");
    CHECK_STR(bd_tok_bos_str(l3), "<|begin_of_text|>"); CHECK_STR(bd_tok_eos_str(l3), "<|eot_id|>");
    CHECK_STR(bd_tok_bos_str(c2), "<s>");
    CHECK_EQ_INT(bd_tok_vocab_size(l2), 32000);
    CHECK_EQ_INT(bd_tok_vocab_size(mi), 32768);
    CHECK_EQ_INT(bd_tok_vocab_size(l3), 128256);
    CHECK_EQ_INT(bd_tok_vocab_size(l3t), 128256);
    CHECK_STR(bd_tok_kind(l2), "spm"); CHECK_STR(bd_tok_kind(mi), "spm");
    CHECK_STR(bd_tok_kind(l3), "bpe"); CHECK_STR(bd_tok_kind(c2), "llama2c");

    /* eog: eos plus the end-of-turn tokens (generation_config: 128001, 128008, 128009) */
    ne = bd_tok_eog(l3, &eog);
    int seen = 0;
    for (int i = 0; i < ne; i++) seen |= (eog[i] == 128001) | (eog[i] == 128008) << 1 | (eog[i] == 128009) << 2;
    CHECK_EQ_INT(seen, 7);
    ne = bd_tok_eog(l3t, &eog);
    seen = 0;
    for (int i = 0; i < ne; i++) seen |= (eog[i] == 128001) | (eog[i] == 128008) << 1 | (eog[i] == 128009) << 2;
    CHECK_EQ_INT(seen, 7);
    ne = bd_tok_eog(mi, &eog);
    CHECK(ne >= 1 && eog[0] == 2);

    /* convert_tokens_to_ids (transformers / sentencepiece piece_to_id) */
    CHECK_EQ_INT(bd_tok_token_id(mi, "\xE2\x96\x81Yes"), 6360);
    CHECK_EQ_INT(bd_tok_token_id(mi, "A"), 29509);
    CHECK_EQ_INT(bd_tok_token_id(mi, "[INST]"), 3);
    CHECK_EQ_INT(bd_tok_token_id(l3, "Yes"), 9642);
    CHECK_EQ_INT(bd_tok_token_id(l3, "\xC4\xA0Yes"), 7566);
    CHECK_EQ_INT(bd_tok_token_id(l3, "<|eot_id|>"), 128009);
    CHECK_EQ_INT(bd_tok_token_id(l3t, "\xC4\xA0Yes"), 7566);
    CHECK_EQ_INT(bd_tok_token_id(l2, "\xE2\x96\x81Yes"), 3869);
    CHECK_EQ_INT(bd_tok_token_id(l2, "A"), 29909);
    CHECK_EQ_INT(bd_tok_token_id(l2, "no such token"), -1);
    CHECK_EQ_INT(bd_tok_token_id(c2, "\xE2\x96\x81Yes"), 3869);

    /* decode: transformers gives '<s> Hello', 'Hello', 'Hello</s>' */
    char *s;
    s = dec(mi, (int32_t[]){ 1, 23325 }, 2, 0); CHECK_STR(s, "<s> Hello"); free(s);
    s = dec(mi, (int32_t[]){ 1, 23325 }, 2, 1); CHECK_STR(s, "Hello"); free(s);
    s = dec(mi, (int32_t[]){ 23325, 2 }, 2, 0); CHECK_STR(s, "Hello</s>"); free(s);
    s = dec(l3, (int32_t[]){ 128000, 9906, 1917 }, 3, 0); CHECK_STR(s, "<|begin_of_text|>Hello world"); free(s);
    s = dec(l2, (int32_t[]){ 1, 15043 }, 2, 1); CHECK_STR(s, "Hello"); free(s);
    /* byte fallback pieces reassemble: "€" is <0xE2><0x82><0xAC> in LLaMA-2 */
    s = dec(l2, (int32_t[]){ 29871, 3 + 0xE2, 3 + 0x82, 3 + 0xAC }, 4, 0); CHECK_STR(s, "\xE2\x82\xAC"); free(s);
    size_t pl;
    const char *piece = bd_tok_piece(l2, 3 + 0x0A, &pl);
    CHECK(piece && pl == 1 && piece[0] == '\n');
    piece = bd_tok_piece(l2, 15043, &pl);
    CHECK(piece && pl == 6 && !memcmp(piece, " Hello", 6));
    CHECK(bd_tok_piece(l2, 32000, &pl) == NULL);
    CHECK(bd_tok_decode(l2, (int32_t[]){ 40000 }, 1, 0, &s, &pl, &err) == BD_EINPUT);

    /* llama2.c tok512 and its GGUF conversion agree (same vocabulary) */
    const char *texts[] = { "Once upon a time, there was a little girl named Lily.", "She loved to play outside!",
                            " two  spaces", "tab\there\n", "" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int32_t *a, *b; size_t na, nb;
        CHECK(bd_tok_encode(s260, texts[i], strlen(texts[i]), BD_TOK_DEFAULT, &a, &na, &err) == 0);
        CHECK(bd_tok_encode(s260g, texts[i], strlen(texts[i]), BD_TOK_DEFAULT, &b, &nb, &err) == 0);
        CHECK_MSG(na == nb && !memcmp(a, b, na * sizeof *a), "tok512 vs gguf: \"%s\"", texts[i]);
        char *d;
        CHECK(bd_tok_decode(s260, a, na, 1, &d, &pl, &err) == 0);
        CHECK_STR(d, texts[i]);
        free(d);
        free(a); free(b);
    }
    bd_tok_free(l2); bd_tok_free(mi); bd_tok_free(l3); bd_tok_free(l3t);
    bd_tok_free(c2); bd_tok_free(s260); bd_tok_free(s260g);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(p, 1, n, f); fclose(f); }
}

static void expect_err(const char *path, const char *needle)
{
    bd_err err = { 0 };
    bd_tok *t = NULL;
    int rc = bd_tok_load(path, &t, &err);
    CHECK_MSG(rc == BD_EINPUT || rc == BD_EUNSUP, "%s loaded (rc %d)", path, rc);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, needle), "%s: message \"%s\" lacks \"%s\"", path, err.msg, needle);
    CHECK(strchr(err.msg, '\n') == NULL);
    bd_tok_free(t);
}

static void put32(uint8_t **p, uint32_t v) { memcpy(*p, &v, 4); *p += 4; }
static void put64(uint8_t **p, uint64_t v) { memcpy(*p, &v, 8); *p += 8; }
static void putstr(uint8_t **p, const char *s) { put64(p, strlen(s)); memcpy(*p, s, strlen(s)); *p += strlen(s); }

static void errors(void)
{
    char dir[] = "/tmp/bd_tok_err_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    size_t len;
    /* truncated protobuf */
    char *model = test_read_file(M "llama2-7b-chat/tokenizer.model", &len);
    CHECK(model != NULL);
    if (model) {
        snprintf(p, sizeof p, "%s/trunc.model", dir);
        write_file(p, model, 1001);
        expect_err(p, "offset");
        model[0] = 0x0B;   /* wire type 3 (groups) */
        snprintf(p, sizeof p, "%s/group.model", dir);
        write_file(p, model, len);
        expect_err(p, "wire type 3");
        free(model);
    }
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    write_file(p, "{\"model\": {\"type\": \"BPE\",\n \"vocab\": [1,", 38);
    expect_err(p, "line 2");
    write_file(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}}", 73);
    expect_err(p, "model.merges\"[0]");
    write_file(p, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", 43);
    expect_err(p, "Unigram");
    /* a regex with invalid UTF-8 (PCRE2 must check it: found by fuzz_tok_json) */
    static const char badre[] = "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\xff+\"},"
                                " \"behavior\": \"Isolated\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    write_file(p, badre, sizeof badre - 1);
    expect_err(p, "regex");
    snprintf(p, sizeof p, "%s/tt.model", dir);
    write_file(p, "IQ== 0\nIg== 1\n!!!! 2\n", 21);
    expect_err(p, "line 3");
    /* GGUF whose tokens array holds u32 instead of strings */
    uint8_t g[512], *q = g;
    memcpy(q, "GGUF", 4); q += 4;
    put32(&q, 3); put64(&q, 0); put64(&q, 2);
    putstr(&q, "tokenizer.ggml.model"); put32(&q, 8); putstr(&q, "llama");
    putstr(&q, "tokenizer.ggml.tokens"); put32(&q, 9); put32(&q, 4); put64(&q, 2); put32(&q, 7); put32(&q, 8);
    snprintf(p, sizeof p, "%s/bad.gguf", dir);
    write_file(p, g, (size_t)(q - g));
    expect_err(p, "tokenizer.ggml.tokens");
    snprintf(p, sizeof p, "%s/none", dir);
    expect_err(p, "cannot open");
    /* llama2.c file whose record runs past the end */
    uint8_t l[32] = { 7, 0, 0, 0 };
    snprintf(p, sizeof p, "%s/tok.bin", dir);
    write_file(p, l, 14);
    expect_err(p, "offset");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* SmolLM2 GGUF (gpt2 model, pre "smollm"): the ids transformers gave for the
 * prompts of tests/reference/smollm2/next_token_hf.txt, chat renders
 * included. The GGUF lives outside the repository (scripts/fetch_smollm2.sh);
 * without it this part is skipped and says so. */
static void smollm2(void)
{
    char path[1024];
    const char *env = getenv("BIASDRIFT_SMOLLM2"), *home = getenv("HOME");
    if (env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%s/.cache/biasdrift/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", home ? home : "");
    if (access(path, R_OK) != 0) { fprintf(stderr, "SKIP smollm2: %s not present\n", path); return; }
    bd_tok *t = load(path);
    char *buf = test_read_file("tests/reference/smollm2/next_token_hf.txt", NULL);
    CHECK(t && buf);
    if (!t || !buf) { bd_tok_free(t); free(buf); return; }
    CHECK_STR(bd_tok_kind(t), "bpe");
    CHECK_EQ_INT(bd_tok_bos(t), 1);
    CHECK_EQ_INT(bd_tok_eos(t), 2);
    int cases = 0;
    char *text = NULL;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "text ", 5)) {
            json_object *o = json_tokener_parse(line + 5);
            free(text);
            text = o && json_object_is_type(o, json_type_string) ? strdup(json_object_get_string(o)) : NULL;
            json_object_put(o);
        } else if (!strncmp(line, "ids ", 4) && text) {
            int32_t want[1024];
            size_t nw = 0;
            char *p = line + 4, *e;
            long cnt = strtol(p, &e, 10);
            for (p = e; nw < 1024; p = e) {
                long v = strtol(p, &e, 10);
                if (e == p) break;
                want[nw++] = (int32_t)v;
            }
            CHECK_EQ_INT(cnt, (long)nw);
            CHECK_MSG(enc_eq(t, text, BD_TOK_DEFAULT, want, nw), "smollm2: \"%s\"", text);
            cases++;
        }
    }
    free(text);
    CHECK(cases >= 10);
    const int32_t *eog;
    int ne = bd_tok_eog(t, &eog), im_end = 0;
    for (int i = 0; i < ne; i++) im_end |= eog[i] == 2;
    CHECK(im_end);
    bd_tok_free(t);
    free(buf);
}

/* A hand-made SentencePiece model (tests/reference/gen_tok_goldens.py):
 * UNUSED pieces that sentencepiece merges and then splits back, a
 * USER_DEFINED piece, remove_extra_whitespaces; ids from sentencepiece. */
static void tiny_spm(void)
{
    bd_tok *t = load("tests/reference/tok/tiny_spm.model");
    char *buf = test_read_file("tests/reference/tok/tiny_spm.txt", NULL);
    CHECK(t && buf);
    if (!t || !buf) { bd_tok_free(t); free(buf); return; }
    int cases = 0;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        corpus_unescape(line);
        int32_t want[64];
        size_t nw = 0;
        for (char *p = tab + 1, *e; nw < 64; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            want[nw++] = (int32_t)v;
        }
        CHECK_MSG(enc_eq(t, line, 0, want, nw), "tiny_spm: \"%s\"", line);
        cases++;
    }
    CHECK(cases >= 15);
    bd_tok_free(t);
    free(buf);
}

int main(void)
{
    tiny_spm();
    smollm2();
    special_file();
    policies();
    errors();
    return test_done();
}
