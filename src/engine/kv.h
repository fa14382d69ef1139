/* The KV cache of one sequence. Full precision by default; a codec (installed
 * by an accel strategy, e.g. HQQ 4/8-bit) changes how history is stored.
 * The update rule follows HF QuantizedCache: positions written by the first
 * (prefill) call are attended in full precision during that call; later calls
 * see dequantized history plus a full-precision residual of recent tokens,
 * and when the residual reaches residual_len everything is re-quantized. */
#ifndef BD_KV_H
#define BD_KV_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

typedef struct bd_kv bd_kv;

/* A KV quantization codec. A "block" is n_tok consecutive positions of one
 * layer's K (or V): fp32 [n_tok, kv_dim] row-major. */
typedef struct bd_kv_codec {
    const char *name;   /* "hqq4", "hqq8", "quanto4", ... */
    int residual_len;   /* HF residual_length (128) */
    /* bytes needed to store n_tok positions of kv_dim values */
    size_t (*size)(const void *params, int n_tok, int kv_dim);
    /* quantize src[n_tok*kv_dim] into dst (size() bytes); is_key tells K from V */
    int (*encode)(const void *params, const float *src, int n_tok, int kv_dim, int is_key,
                  void *dst, bd_err *err);
    /* dequantize what encode wrote back to fp32 */
    void (*decode)(const void *params, const void *src, int n_tok, int kv_dim, int is_key,
                   float *dst);
} bd_kv_codec;

int bd_kv_pos(const bd_kv *kv);          /* tokens held */
int bd_kv_capacity(const bd_kv *kv);
void bd_kv_reset(bd_kv *kv);             /* empty the cache, keep memory */
/* Truncate to the first n positions (for reusing a shared prefix); returns
 * BD_EUNSUP for quantized caches where that is not exact. */
int bd_kv_truncate(bd_kv *kv, int n, bd_err *err);
size_t bd_kv_bytes(const bd_kv *kv);     /* bytes actually stored now */
void bd_kv_free(bd_kv *kv);

#endif
