/* libFuzzer target: tokenizer.json loading (JSON, vocab, merges,
 * normalizer/pre-tokenizer/regex declarations), then encode/decode.
 * `make fuzz`, then
 *   build/fuzz/fuzz_tok_json -max_total_time=30 -max_len=4096 NEWDIR fuzz/corpus_tok_json */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bd_err err = { 0 };
    bd_tok *t = NULL;
    if (tok_load_hfjson_mem("fuzz.json", (const char *)data, size, &t, &err) != 0) return 0;
    if (tok_finalize(t, &err) == 0) {
        static const char text[] = "Hello  world's 123 <s>[INST]\xE2\x96\x81\xF0\x9F\x98\x80\n\n\t end";
        int32_t *ids;
        size_t n;
        for (int flags = 0; flags < 4; flags++) {
            if (bd_tok_encode(t, text, sizeof text - 1, flags, &ids, &n, &err) == 0) {
                char *s;
                size_t l;
                if (bd_tok_decode(t, ids, n, flags & 1, &s, &l, &err) == 0) free(s);
                free(ids);
            }
        }
    }
    bd_tok_free(t);
    return 0;
}
