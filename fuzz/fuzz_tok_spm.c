/* libFuzzer target: the binary tokenizer parsers (SentencePiece protobuf,
 * llama2.c records, tiktoken text) on arbitrary bytes, then encode/decode
 * with whatever loaded. `make fuzz`, then
 *   build/fuzz/fuzz_tok_spm -max_total_time=30 -max_len=4096 NEWDIR fuzz/corpus_tok_spm */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_int.h"

static void exercise(bd_tok *t)
{
    bd_err err = { 0 };
    if (tok_finalize(t, &err)) return;
    static const char text[] = "Hello  world <s>\xE2\x96\x81\xF0\x9F\x98\x80 \xFF end";
    int32_t *ids;
    size_t n;
    if (bd_tok_encode(t, text, sizeof text - 1, BD_TOK_DEFAULT, &ids, &n, &err) == 0) {
        char *s;
        size_t l;
        if (bd_tok_decode(t, ids, n, 0, &s, &l, &err) == 0) free(s);
        free(ids);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bd_err err = { 0 };
    bd_tok *t = NULL;
    if (tok_load_spm("fuzz.model", data, size, &t, &err) == 0) { exercise(t); bd_tok_free(t); }
    t = NULL;
    if (tok_is_l2c(data, size) && tok_load_l2c("fuzz.bin", data, size, &t, &err) == 0) { exercise(t); bd_tok_free(t); }
    t = NULL;
    if (size < 4096) {
        char *c = malloc(size + 1);
        if (c) {
            memcpy(c, data, size);
            c[size] = 0;
            if (tok_load_tiktoken("fuzz.tiktoken", c, size, &t, &err) == 0) { exercise(t); bd_tok_free(t); }
            free(c);
        }
    }
    return 0;
}
