/* Engine-side interface of the KV cache (kv.c). A bd_forward call is
 * bracketed by bd_kv_call_begin/end; inside it, token chunks run layer by
 * layer: bd_kv_view gives fp32 K and V arrays [pos + n, kv_dim] whose first
 * pos rows hold what attention must see of the history and whose next n
 * rows the layer fills; bd_kv_commit stores them; bd_kv_advance moves pos. */
#ifndef BD_KV_IMPL_H
#define BD_KV_IMPL_H

#include "kv.h"

int bd_kv_create(int n_layers, int kv_dim, int capacity, const bd_kv_codec *codec,
                 const void *codec_params, bd_kv **out, bd_err *err);
int bd_kv_call_begin(bd_kv *kv, int n, bd_err *err);
int bd_kv_view(bd_kv *kv, int layer, int n, float **k, float **v, bd_err *err);
int bd_kv_commit(bd_kv *kv, int layer, int n, bd_err *err);
void bd_kv_advance(bd_kv *kv, int n);
int bd_kv_call_end(bd_kv *kv, bd_err *err);

#endif
