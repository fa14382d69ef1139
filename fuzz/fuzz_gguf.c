/* libFuzzer target for the GGUF reader and the GGUF -> bd_model loader.
 * The input is parsed from memory (bd_gguf_parse), then, if it parses, also
 * loaded as a model through a memfd so the metadata/shape checks run too.
 * Build: make fuzz (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/gguf.h"
#include "model/model.h"
#include "model/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy so any read past the end is caught */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    bd_gguf *g = NULL;
    bd_err err = {0};
    if (bd_gguf_parse("fuzz.gguf", buf, size, &g, &err) == 0) {
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < g->n_kv; i++) {
            const bd_gguf_kv *kv = &g->kv[i];
            sink += kv->key.len ? (uint8_t)kv->key.ptr[kv->key.len - 1] : 0;
            if (kv->arr_strs)
                for (uint64_t j = 0; j < kv->arr_len; j++)
                    sink += kv->arr_strs[j].len ? (uint8_t)kv->arr_strs[j].ptr[kv->arr_strs[j].len - 1] : 0;
        }
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const bd_gguf_tensor *t = &g->tensors[i];
            int64_t n = (int64_t)t->dims[0];
            if (n > 0 && n <= 4096) { /* dequantize the first row */
                float row[4096];
                bd_dequant_row((bd_dtype)t->dtype, t->data, row, n);
                sink += (uint64_t)(row[0] != 0);
            }
        }
        (void)sink;
        bd_gguf_close(g);
        int fd = memfd_create("fuzz", 0);
        if (fd >= 0) {
            if (write(fd, buf, size) == (ssize_t)size) {
                char path[64];
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                bd_model *m = NULL;
                if (bd_model_load(path, &m, &err) == 0) bd_model_free(m);
            }
            close(fd);
        }
    }
    free(buf);
    return 0;
}
