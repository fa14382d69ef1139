/* Quantized KV-cache codecs for the engine (strategies.md §4): HQQ (the
 * paper's backend, transformers 4.45 HQQQuantizedCache: group 64, axis 0 by
 * default, s_inv = min(qmax/(max-min), 2e4), unrounded zero, scale and zero
 * kept in fp16 and dequantization done in fp16 arithmetic) and optimum-quanto
 * (MaxOptimizer + quantize_affine, int4, fp32 scale/shift).
 *
 * A block handed to the codec is [n_tok, kv_dim] token-major; HF groups
 * over the flattened [batch=1, kv_heads, T, head_dim] tensor, so the codec
 * works in that head-major order (head_dim comes from the params). Where HF
 * would refuse a shape (element count not a multiple of 64), the last group
 * is simply partial. */
#ifndef BD_ACCEL_KVQ_H
#define BD_ACCEL_KVQ_H

#include "../engine/kv.h"

typedef struct bd_kvq_params {
    int bits;      /* 4 or 8 (quanto: 4) */
    int axis;      /* HQQ 0 or 1; quanto 0 or -1 */
    int group;     /* 64 */
    int quanto;    /* backend: 0 HQQ, 1 quanto */
    int head_dim;
} bd_kvq_params;

/* The element-by-element decoder (tests compare the codec's fast path with it). */
void bd_kvq_decode_ref(const bd_kvq_params *p, const void *src, int n_tok, int kv_dim, float *dst);

extern const bd_kv_codec bd_kvq_hqq;
extern const bd_kv_codec bd_kvq_quanto;

/* Number of quantization groups for n elements. */
int64_t bd_kvq_groups(const bd_kvq_params *p, int64_t n);

#endif
