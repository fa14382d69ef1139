/* HQQ and quanto KV codecs. Storage of a block: the codes in HF's flat
 * order (8 bit: one byte each; 4 bit: two per byte, even index in the high
 * nibble), then per group the metadata (HQQ: fp16 scale and zero; quanto:
 * fp32 scale and shift). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../model/tensor.h"
#include "kvq.h"

int64_t bd_kvq_groups(const bd_kvq_params *p, int64_t n)
{
    int64_t g = p->group;
    if (p->quanto && p->axis == -1) {
        /* per channel d, runs of g consecutive (head, token) rows */
        int64_t rows = n / p->head_dim;
        return (rows + g - 1) / g * p->head_dim;
    }
    return (n + g - 1) / g;
}

/* Group of flat (head-major) element k. */
static inline int64_t group_of(const bd_kvq_params *p, int64_t k, int64_t ngroups)
{
    if (p->quanto) {
        if (p->axis == -1) {
            /* quanto's grouped layout: column d * row_groups + row_group */
            int64_t row = k / p->head_dim, d = k % p->head_dim;
            return d * (ngroups / p->head_dim) + row / p->group;
        }
        return k / p->group;
    }
    /* HQQ axis 1: reshape [-1, 64], rows are groups; axis 0: reshape [64, -1],
     * columns are groups, so element k belongs to column k % (N/64) */
    return p->axis == 1 ? k / p->group : k % ngroups;
}

static size_t codes_bytes(const bd_kvq_params *p, int64_t n)
{
    return p->bits == 8 ? (size_t)n : (size_t)(n + 1) / 2;
}

static size_t meta_bytes(const bd_kvq_params *p) { return p->quanto ? 8 : 4; }

static size_t kvq_size(const void *params, int n_tok, int kv_dim)
{
    const bd_kvq_params *p = params;
    int64_t n = (int64_t)n_tok * kv_dim;
    return codes_bytes(p, n) + (size_t)bd_kvq_groups(p, n) * meta_bytes(p);
}

/* head-major flat index of token t, channel c (c = h*head_dim + d) */
static inline int64_t flat_of(int64_t t, int64_t c, int64_t n_tok, int64_t hd)
{
    return ((c / hd) * n_tok + t) * hd + c % hd;
}

static inline void put_code(uint8_t *q, int bits, int64_t k, int v)
{
    if (bits == 8) { q[k] = (uint8_t)v; return; }
    if (k & 1) q[k >> 1] = (uint8_t)((q[k >> 1] & 0xF0) | v);
    else q[k >> 1] = (uint8_t)((q[k >> 1] & 0x0F) | (v << 4));
}

static inline int get_code(const uint8_t *q, int bits, int64_t k)
{
    if (bits == 8) return q[k];
    return (k & 1) ? q[k >> 1] & 15 : q[k >> 1] >> 4;
}

static int kvq_encode(const void *params, const float *src, int n_tok, int kv_dim, int is_key,
                      void *dst, bd_err *err)
{
    const bd_kvq_params *p = params;
    (void)is_key;
    if (p->head_dim <= 0 || kv_dim % p->head_dim)
        return bd_fail(err, BD_EINPUT, "kv codec: kv_dim %d is not a multiple of head_dim %d", kv_dim,
                       p->head_dim);
    int64_t n = (int64_t)n_tok * kv_dim, ng = bd_kvq_groups(p, n);
    float *mn = malloc((size_t)ng * sizeof(float)), *mx = malloc((size_t)ng * sizeof(float));
    if (!mn || !mx) { free(mn); free(mx); return bd_oom(err, "kv codec"); }
    for (int64_t g = 0; g < ng; g++) { mn[g] = INFINITY; mx[g] = -INFINITY; }
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t c = 0; c < kv_dim; c++) {
            float v = src[t * kv_dim + c];
            int64_t g = group_of(p, flat_of(t, c, n_tok, p->head_dim), ng);
            if (v < mn[g]) mn[g] = v;
            if (v > mx[g]) mx[g] = v;
        }
    uint8_t *q = dst;
    unsigned char *meta = (unsigned char *)dst + codes_bytes(p, n);
    int qmax = (1 << p->bits) - 1;
    /* per-group quantization constants (fp32 as the libraries compute them) */
    float *a = mn, *b = mx; /* reused in place: HQQ s_inv/zero, quanto scale/shift */
    for (int64_t g = 0; g < ng; g++) {
        if (p->quanto) {
            float scale = (mx[g] - mn[g]) / 15.0f, shift = -mn[g];
            a[g] = scale; b[g] = shift;
            memcpy(meta + g * 8, &scale, 4);
            memcpy(meta + g * 8 + 4, &shift, 4);
        } else {
            float s = (float)qmax / (mx[g] - mn[g]);
            if (!(s <= 2e4f)) s = 2e4f; /* also catches inf when max == min */
            float z = -mn[g] * s;
            a[g] = s; b[g] = z;
            uint16_t sh = bd_f32_to_f16(1.0f / s), zh = bd_f32_to_f16(z);
            memcpy(meta + g * 4, &sh, 2);
            memcpy(meta + g * 4 + 2, &zh, 2);
        }
    }
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t c = 0; c < kv_dim; c++) {
            float v = src[t * kv_dim + c];
            int64_t k = flat_of(t, c, n_tok, p->head_dim), g = group_of(p, k, ng);
            float r;
            if (p->quanto) r = a[g] > 0 ? rintf((v + b[g]) / a[g]) : 0.0f;
            else r = rintf(v * a[g] + b[g]);
            int qi = r < 0 ? 0 : r > (float)qmax ? qmax : (int)r;
            if (r != r) qi = 0;
            put_code(q, p->bits, k, qi);
        }
    free(mn);
    free(mx);
    return 0;
}

/* The reference decode, one element at a time in any layout. */
static void decode_generic(const bd_kvq_params *p, const uint8_t *q, const unsigned char *meta, int64_t n_tok,
                           int64_t kv_dim, int64_t ng, float *dst)
{
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t c = 0; c < kv_dim; c++) {
            int64_t k = flat_of(t, c, n_tok, p->head_dim), g = group_of(p, k, ng);
            float qv = (float)get_code(q, p->bits, k), out;
            if (p->quanto) {
                float scale, shift;
                memcpy(&scale, meta + g * 8, 4);
                memcpy(&shift, meta + g * 8 + 4, 4);
                out = scale * qv - shift;
            } else {
                /* fp16 arithmetic: each op computed exactly in fp32, rounded to fp16 */
                uint16_t sh, zh;
                memcpy(&sh, meta + g * 4, 2);
                memcpy(&zh, meta + g * 4 + 2, 2);
                float d = bd_f16_to_f32(bd_f32_to_f16(qv - bd_f16_to_f32(zh)));
                out = bd_f16_to_f32(bd_f32_to_f16(d * bd_f16_to_f32(sh)));
            }
            dst[t * kv_dim + c] = out;
        }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* HQQ decode with the F16C conversions, 8 elements at a time: the same fp32
 * operations and round-to-nearest-even fp16 roundings as decode_generic, so
 * the same bits. The cache decodes its whole history at every step of every
 * layer (as HF's QuantizedCache does), which made this the hot spot of KV
 * quantization. Walks the flat (head-major) order run by run: head h, token
 * t covers flat k0 .. k0+hd-1 and dst t*kv_dim + h*hd onwards, and the group
 * index advances by one per element (axis 0: k mod ng) or per group of
 * elements (axis 1: k / group), with no division per element. */
__attribute__((target("avx2,f16c"))) static void decode_hqq_f16c(const bd_kvq_params *p, const uint8_t *q,
                                                                const unsigned char *meta, int64_t n_tok,
                                                                int64_t kv_dim, int64_t ng, float *dst)
{
    const int64_t hd = p->head_dim, nh = kv_dim / hd, G = p->group;
    for (int64_t h = 0; h < nh; h++)
        for (int64_t t = 0; t < n_tok; t++) {
            int64_t k = (h * n_tok + t) * hd;
            float *o = dst + t * kv_dim + h * hd;
            int64_t g = p->axis == 1 ? k / G : k % ng, left = p->axis == 1 ? G - k % G : 0;
            for (int64_t d = 0; d < hd;) {
                int m = hd - d < 8 ? (int)(hd - d) : 8;
                __m256 qv, zf, sf;
                if (m == 8 && (p->bits == 8 || !(k & 1)) &&
                    (p->axis == 0 ? g + 8 <= ng : left >= 8)) {
                    /* the common case, from vector loads: 8 codes in a row and
                     * 8 consecutive groups (axis 0) or one group (axis 1) */
                    __m256i c;
                    if (p->bits == 8) {
                        c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + k)));
                    } else {
                        int32_t w;
                        memcpy(&w, q + k / 2, 4);
                        __m128i b = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(w));
                        __m128i hi = _mm_srli_epi32(b, 4), lo = _mm_and_si128(b, _mm_set1_epi32(15));
                        c = _mm256_set_m128i(_mm_unpackhi_epi32(hi, lo), _mm_unpacklo_epi32(hi, lo));
                    }
                    qv = _mm256_cvtepi32_ps(c);
                    if (p->axis == 0) {
                        /* meta of group g: fp16 scale, fp16 zero; 8 groups = 8 x 32 bits */
                        __m256i w = _mm256_loadu_si256((const __m256i *)(meta + g * 4));
                        __m256i sc = _mm256_and_si256(w, _mm256_set1_epi32(0xffff)), ze = _mm256_srli_epi32(w, 16);
                        __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi32(sc, ze), 0xd8);
                        sf = _mm256_cvtph_ps(_mm256_castsi256_si128(pk));
                        zf = _mm256_cvtph_ps(_mm256_extracti128_si256(pk, 1));
                        g += 8;
                        if (g == ng) g = 0;
                    } else {
                        uint16_t s1, z1;
                        memcpy(&s1, meta + g * 4, 2);
                        memcpy(&z1, meta + g * 4 + 2, 2);
                        sf = _mm256_cvtph_ps(_mm_set1_epi16((short)s1));
                        zf = _mm256_cvtph_ps(_mm_set1_epi16((short)z1));
                        left -= 8;
                        if (left == 0) { g++; left = G; }
                    }
                    k += 8;
                } else {
                    uint16_t sh[8] = {0}, zh[8] = {0};
                    int32_t code[8] = {0};
                    for (int i = 0; i < m; i++, k++) {
                        memcpy(&sh[i], meta + g * 4, 2);
                        memcpy(&zh[i], meta + g * 4 + 2, 2);
                        code[i] = get_code(q, p->bits, k);
                        if (p->axis == 1) {
                            if (--left == 0) { g++; left = G; }
                        } else if (++g == ng) {
                            g = 0;
                        }
                    }
                    qv = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)code));
                    zf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)zh));
                    sf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)sh));
                }
                __m256 v = _mm256_sub_ps(qv, zf);
                v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
                v = _mm256_mul_ps(v, sf);
                v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
                float tmp[8];
                _mm256_storeu_ps(tmp, v);
                memcpy(o + d, tmp, sizeof(float) * (size_t)m);
                d += m;
            }
        }
}
#endif

static void kvq_decode(const void *params, const void *src, int n_tok, int kv_dim, int is_key,
                       float *dst)
{
    const bd_kvq_params *p = params;
    (void)is_key;
    int64_t n = (int64_t)n_tok * kv_dim, ng = bd_kvq_groups(p, n);
    const uint8_t *q = src;
    const unsigned char *meta = (const unsigned char *)src + codes_bytes(p, n);
#if defined(__x86_64__)
    if (!p->quanto && (p->axis == 0 || p->axis == 1) && p->head_dim > 0 && kv_dim % p->head_dim == 0 &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
        decode_hqq_f16c(p, q, meta, n_tok, kv_dim, ng, dst);
        return;
    }
#endif
    decode_generic(p, q, meta, n_tok, kv_dim, ng, dst);
}

const bd_kv_codec bd_kvq_hqq = {
    .name = "hqq",
    .residual_len = 128,
    .size = kvq_size,
    .encode = kvq_encode,
    .decode = kvq_decode,
};

const bd_kv_codec bd_kvq_quanto = {
    .name = "quanto",
    .residual_len = 128,
    .size = kvq_size,
    .encode = kvq_encode,
    .decode = kvq_decode,
};

void bd_kvq_decode_ref(const bd_kvq_params *p, const void *src, int n_tok, int kv_dim, float *dst)
{
    int64_t n = (int64_t)n_tok * kv_dim;
    decode_generic(p, src, (const unsigned char *)src + codes_bytes(p, n), n_tok, kv_dim, bd_kvq_groups(p, n), dst);
}
