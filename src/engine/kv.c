/* KV cache. Full precision: one fp32 [rows, kv_dim] array per layer for K and
 * for V, grown by doubling up to the capacity (so a long max context costs
 * nothing until used).
 *
 * With a codec, per layer: a quantized store Q (q_len positions, one encode()
 * of all of them) and an fp32 residual R (r_len positions), q_len + r_len ==
 * pos. The update rule is HF QuantizedCache.update (transformers 4.45, see
 * spec/strategies.md §4.2), applied once per bd_forward call:
 *  - first call on an empty cache (prefill): attention sees the call's own
 *    K/V in full precision; at the end of the call Q <- quantize(all of them),
 *    R <- empty;
 *  - later calls: attention sees dequant(Q), then R, then the call's new K/V
 *    in full precision; at the end, if R was non-empty at the start of the call
 *    and r_len_start + 1 >= residual_len, Q <- quantize(dequant(Q) ++ R ++ new)
 *    (fresh statistics over the whole history), R <- empty; otherwise the new
 *    positions are appended to R. (HF's R starts as a 1-D empty tensor whose
 *    dim() != 4, so an empty R never triggers the flush.)
 * A call that the engine splits into several token chunks still counts as one
 * call: chunks append to R as they go, so later chunks of the same call see
 * earlier ones in full precision, exactly as one big HF call would. */
#include "kv_impl.h"

#include <stdlib.h>
#include <string.h>

struct bd_kv {
    int n_layers, kv_dim, capacity, pos, alloc;
    float **k, **v;                 /* full precision: [alloc * kv_dim] per layer */
    const bd_kv_codec *codec;
    const void *params;
    void **qk, **qv;                /* codec: quantized store per layer */
    int *q_len;
    float **rk, **rv;               /* codec: residual per layer */
    int *r_len, *r_cap;
    int *r_start;                   /* r_len at the start of the current call */
    float *sk, *sv;                 /* codec: fp32 view scratch [alloc * kv_dim] */
    int call_pos0;
};

static void *xcalloc(size_t n, size_t s) { return calloc(n ? n : 1, s); }

int bd_kv_create(int n_layers, int kv_dim, int capacity, const bd_kv_codec *codec,
                 const void *codec_params, bd_kv **out, bd_err *err)
{
    *out = NULL;
    if (n_layers <= 0 || kv_dim <= 0 || capacity <= 0)
        return bd_fail(err, BD_EINPUT, "kv cache: bad shape (%d layers, kv_dim %d, %d positions)",
                       n_layers, kv_dim, capacity);
    if (codec && (!codec->size || !codec->encode || !codec->decode || codec->residual_len < 1))
        return bd_fail(err, BD_EINPUT, "kv codec '%s': incomplete (size/encode/decode, residual_len >= 1)",
                       codec->name ? codec->name : "?");
    bd_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return bd_oom(err, "kv cache");
    kv->n_layers = n_layers;
    kv->kv_dim = kv_dim;
    kv->capacity = capacity;
    kv->codec = codec;
    kv->params = codec_params;
    size_t L = (size_t)n_layers;
    int ok;
    if (!codec) {
        kv->k = xcalloc(L, sizeof *kv->k);
        kv->v = xcalloc(L, sizeof *kv->v);
        ok = kv->k && kv->v;
    } else {
        kv->qk = xcalloc(L, sizeof *kv->qk);
        kv->qv = xcalloc(L, sizeof *kv->qv);
        kv->rk = xcalloc(L, sizeof *kv->rk);
        kv->rv = xcalloc(L, sizeof *kv->rv);
        kv->q_len = xcalloc(L, sizeof(int));
        kv->r_len = xcalloc(L, sizeof(int));
        kv->r_cap = xcalloc(L, sizeof(int));
        kv->r_start = xcalloc(L, sizeof(int));
        ok = kv->qk && kv->qv && kv->rk && kv->rv && kv->q_len && kv->r_len && kv->r_cap && kv->r_start;
    }
    if (!ok) { bd_kv_free(kv); return bd_oom(err, "kv cache"); }
    *out = kv;
    return 0;
}

void bd_kv_free(bd_kv *kv)
{
    if (!kv) return;
    for (int l = 0; l < kv->n_layers; l++) {
        if (kv->k) free(kv->k[l]);
        if (kv->v) free(kv->v[l]);
        if (kv->qk) free(kv->qk[l]);
        if (kv->qv) free(kv->qv[l]);
        if (kv->rk) free(kv->rk[l]);
        if (kv->rv) free(kv->rv[l]);
    }
    free(kv->k); free(kv->v); free(kv->qk); free(kv->qv); free(kv->rk); free(kv->rv);
    free(kv->q_len); free(kv->r_len); free(kv->r_cap); free(kv->r_start);
    free(kv->sk); free(kv->sv);
    free(kv);
}

int bd_kv_pos(const bd_kv *kv) { return kv->pos; }
int bd_kv_capacity(const bd_kv *kv) { return kv->capacity; }

void bd_kv_reset(bd_kv *kv)
{
    kv->pos = 0;
    if (kv->codec)
        for (int l = 0; l < kv->n_layers; l++) kv->q_len[l] = kv->r_len[l] = 0;
}

int bd_kv_truncate(bd_kv *kv, int n, bd_err *err)
{
    if (n < 0 || n > kv->pos)
        return bd_fail(err, BD_EINPUT, "kv truncate: %d positions asked, cache holds %d", n, kv->pos);
    if (n == 0) { bd_kv_reset(kv); return 0; }
    if (kv->codec && n != kv->pos)
        return bd_fail(err, BD_EUNSUP, "kv truncate: not exact for the quantized cache '%s'",
                       kv->codec->name ? kv->codec->name : "?");
    kv->pos = n;
    return 0;
}

size_t bd_kv_bytes(const bd_kv *kv)
{
    size_t row = (size_t)kv->kv_dim * sizeof(float);
    if (!kv->codec) return (size_t)kv->n_layers * 2 * (size_t)kv->pos * row;
    size_t b = 0;
    for (int l = 0; l < kv->n_layers; l++) {
        if (kv->q_len[l] > 0) b += 2 * kv->codec->size(kv->params, kv->q_len[l], kv->kv_dim);
        b += 2 * (size_t)kv->r_len[l] * row;
    }
    return b;
}

/* Grows the full-precision rows (or the codec view scratch) to hold need rows. */
static int grow(bd_kv *kv, int need, bd_err *err)
{
    if (need <= kv->alloc) return 0;
    long long na = kv->alloc ? 2LL * kv->alloc : 64;
    if (na < need) na = need;
    if (na > kv->capacity) na = kv->capacity;
    size_t bytes = (size_t)na * (size_t)kv->kv_dim * sizeof(float);
    if (!kv->codec) {
        for (int l = 0; l < kv->n_layers; l++) {
            float *a = realloc(kv->k[l], bytes);
            if (!a) return bd_oom(err, "kv cache");
            kv->k[l] = a;
            a = realloc(kv->v[l], bytes);
            if (!a) return bd_oom(err, "kv cache");
            kv->v[l] = a;
        }
    } else {
        float *a = realloc(kv->sk, bytes);
        if (!a) return bd_oom(err, "kv cache view");
        kv->sk = a;
        a = realloc(kv->sv, bytes);
        if (!a) return bd_oom(err, "kv cache view");
        kv->sv = a;
    }
    kv->alloc = (int)na;
    return 0;
}

int bd_kv_call_begin(bd_kv *kv, int n, bd_err *err)
{
    if (n < 0 || n > kv->capacity - kv->pos)
        return bd_fail(err, BD_EINPUT, "context overflow: %d tokens held + %d new > %d positions",
                       kv->pos, n, kv->capacity);
    int rc = grow(kv, kv->pos + n, err);
    if (rc) return rc;
    kv->call_pos0 = kv->pos;
    if (kv->codec)
        for (int l = 0; l < kv->n_layers; l++) kv->r_start[l] = kv->r_len[l];
    return 0;
}

int bd_kv_view(bd_kv *kv, int l, int n, float **k, float **v, bd_err *err)
{
    (void)n;
    (void)err;
    if (!kv->codec) {
        *k = kv->k[l];
        *v = kv->v[l];
        return 0;
    }
    size_t d = (size_t)kv->kv_dim;
    int q = kv->q_len[l], r = kv->r_len[l];
    if (q > 0) {
        kv->codec->decode(kv->params, kv->qk[l], q, kv->kv_dim, 1, kv->sk);
        kv->codec->decode(kv->params, kv->qv[l], q, kv->kv_dim, 0, kv->sv);
    }
    if (r > 0) {
        memcpy(kv->sk + (size_t)q * d, kv->rk[l], (size_t)r * d * sizeof(float));
        memcpy(kv->sv + (size_t)q * d, kv->rv[l], (size_t)r * d * sizeof(float));
    }
    *k = kv->sk;
    *v = kv->sv;
    return 0;
}

int bd_kv_commit(bd_kv *kv, int l, int n, bd_err *err)
{
    if (!kv->codec || n == 0) return 0;
    size_t d = (size_t)kv->kv_dim;
    int r = kv->r_len[l];
    if (r + n > kv->r_cap[l]) {
        int nc = kv->r_cap[l] ? 2 * kv->r_cap[l] : kv->codec->residual_len + 1;
        if (nc < r + n) nc = r + n;
        float *a = realloc(kv->rk[l], (size_t)nc * d * sizeof(float));
        if (!a) return bd_oom(err, "kv residual");
        kv->rk[l] = a;
        a = realloc(kv->rv[l], (size_t)nc * d * sizeof(float));
        if (!a) return bd_oom(err, "kv residual");
        kv->rv[l] = a;
        kv->r_cap[l] = nc;
    }
    memcpy(kv->rk[l] + (size_t)r * d, kv->sk + (size_t)kv->pos * d, (size_t)n * d * sizeof(float));
    memcpy(kv->rv[l] + (size_t)r * d, kv->sv + (size_t)kv->pos * d, (size_t)n * d * sizeof(float));
    kv->r_len[l] = r + n;
    return 0;
}

void bd_kv_advance(bd_kv *kv, int n) { kv->pos += n; }

/* Q <- encode(src[n_tok]) for K or V of layer l. */
static int store(bd_kv *kv, int l, int is_key, const float *src, int n_tok, bd_err *err)
{
    size_t sz = kv->codec->size(kv->params, n_tok, kv->kv_dim);
    void **slot = is_key ? &kv->qk[l] : &kv->qv[l];
    void *dst = realloc(*slot, sz ? sz : 1);
    if (!dst) return bd_oom(err, "quantized kv cache");
    *slot = dst;
    return kv->codec->encode(kv->params, src, n_tok, kv->kv_dim, is_key, dst, err);
}

int bd_kv_call_end(bd_kv *kv, bd_err *err)
{
    if (!kv->codec || kv->pos == kv->call_pos0) return 0;
    size_t d = (size_t)kv->kv_dim;
    for (int l = 0; l < kv->n_layers; l++) {
        int q = kv->q_len[l], r = kv->r_len[l], rc;
        int first = kv->call_pos0 == 0;
        int flush = !first && kv->r_start[l] > 0 && kv->r_start[l] + 1 >= kv->codec->residual_len;
        if (!first && !flush) continue;
        /* the whole history in fp32: dequant(Q) then R */
        if (q > 0) {
            kv->codec->decode(kv->params, kv->qk[l], q, kv->kv_dim, 1, kv->sk);
            kv->codec->decode(kv->params, kv->qv[l], q, kv->kv_dim, 0, kv->sv);
        }
        memcpy(kv->sk + (size_t)q * d, kv->rk[l], (size_t)r * d * sizeof(float));
        memcpy(kv->sv + (size_t)q * d, kv->rv[l], (size_t)r * d * sizeof(float));
        if ((rc = store(kv, l, 1, kv->sk, q + r, err)) || (rc = store(kv, l, 0, kv->sv, q + r, err))) {
            bd_kv_reset(kv);
            return bd_wrap(err, "kv codec '%s'", kv->codec->name ? kv->codec->name : "?");
        }
        kv->q_len[l] = q + r;
        kv->r_len[l] = 0;
    }
    return 0;
}
