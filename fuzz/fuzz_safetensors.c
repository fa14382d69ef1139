/* libFuzzer target for the safetensors header parser (from memory).
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    bd_st *s = NULL;
    bd_err err = {0};
    if (bd_st_parse("fuzz.safetensors", buf, size, &s, &err) == 0) {
        volatile uint64_t sink = 0;
        for (int i = 0; i < s->n; i++) /* touch the first and last byte of every tensor */
            if (s->e[i].nbytes) sink += s->e[i].data[0] + s->e[i].data[s->e[i].nbytes - 1];
        (void)sink;
        bd_st_free(s);
    }
    free(buf);
    return 0;
}
