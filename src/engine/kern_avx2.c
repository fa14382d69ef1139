/* AVX2 + FMA + F16C kernels, selected at run time on CPUs without AVX-512.
 * Same structure as kern_avx512.c with 8 lanes: quantized rows are
 * dequantized one GGUF block at a time right where they are multiplied, and
 * deq() is bit-exact with the reference (no fused multiply-add in it). */
#include "kern.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T2 __attribute__((target("avx2,fma,f16c")))

T2 static inline float ld_h(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

T2 static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T2 static inline __m256 ld_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

T2 static inline __m256 ld_bf16x8(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

T2 static inline __m256i ld8_u8(const uint8_t *p) /* 8 bytes -> 8 int32 lanes */
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

static float tail_bf16(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

#define DOT_DENSE(name, T, LOAD, SCALAR)                                                   \
    T2 static float name(const void *row, const float *x, int64_t n)                      \
    {                                                                                      \
        const T *w = row;                                                                  \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                        \
        int64_t i = 0;                                                                     \
        for (; i + 32 <= n; i += 32) {                                                     \
            _mm_prefetch((const char *)(w + i) + 2048, _MM_HINT_T0);                       \
            s0 = _mm256_fmadd_ps(LOAD(w + i), _mm256_loadu_ps(x + i), s0);                 \
            s1 = _mm256_fmadd_ps(LOAD(w + i + 8), _mm256_loadu_ps(x + i + 8), s1);         \
            s2 = _mm256_fmadd_ps(LOAD(w + i + 16), _mm256_loadu_ps(x + i + 16), s2);       \
            s3 = _mm256_fmadd_ps(LOAD(w + i + 24), _mm256_loadu_ps(x + i + 24), s3);       \
        }                                                                                  \
        for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LOAD(w + i), _mm256_loadu_ps(x + i), s0); \
        float t = 0;                                                                       \
        for (; i < n; i++) t += SCALAR(w[i]) * x[i];                                       \
        return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + t;      \
    }
#define ID(v) (v)
DOT_DENSE(dot_f32, float, _mm256_loadu_ps, ID)
DOT_DENSE(dot_f16, uint16_t, ld_f16x8, _cvtsh_ss)
DOT_DENSE(dot_bf16, uint16_t, ld_bf16x8, tail_bf16)

T2 static float dot_f32v(const float *a, const float *b, int64_t n) { return dot_f32(a, b, n); }

T2 static float dot_q8_0(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++, b += 34, x += 32) {
        const int8_t *q = (const int8_t *)(b + 2);
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < 32; j += 8) {
            __m256 qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + j))));
            s = _mm256_fmadd_ps(qf, _mm256_loadu_ps(x + j), s);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ld_h(b)), s, acc);
    }
    return hsum(acc);
}

T2 static inline __m256 q4_sum(const uint8_t *q, const float *x, __m256 off)
{
    __m256i m15 = _mm256_set1_epi32(15);
    __m256 s = _mm256_setzero_ps();
    for (int j = 0; j < 16; j += 8) {
        __m256i v = ld8_u8(q + j);
        __m256 lo = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v, m15)), off);
        __m256 hi = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4)), off);
        s = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x + j), s);
        s = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + 16 + j), s);
    }
    return s;
}

T2 static float dot_q4_0(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m256 acc = _mm256_setzero_ps(), eight = _mm256_set1_ps(8.0f);
    for (int64_t i = 0; i < n / 32; i++, b += 18, x += 32)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ld_h(b)), q4_sum(b + 2, x, eight), acc);
    return hsum(acc);
}

T2 static float dot_q4_1(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m256 acc = _mm256_setzero_ps(), zero = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++, b += 20, x += 32) {
        __m256 sx = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
                                  _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ld_h(b)), q4_sum(b + 4, x, zero), acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ld_h(b + 2)), sx, acc);
    }
    return hsum(acc);
}

/* ---- dequantization (bit-exact with the reference) ---- */

T2 static void deq_f32(const void *r, float *d, int64_t n) { memcpy(d, r, (size_t)n * 4); }

T2 static void deq_f16(const void *r, float *d, int64_t n)
{
    const uint16_t *w = r;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, ld_f16x8(w + i));
    for (; i < n; i++) d[i] = _cvtsh_ss(w[i]);
}

T2 static void deq_bf16(const void *r, float *d, int64_t n)
{
    const uint16_t *w = r;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, ld_bf16x8(w + i));
    for (; i < n; i++) d[i] = tail_bf16(w[i]);
}

T2 static void deq_q8_0(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    for (int64_t i = 0; i < n / 32; i++, b += 34, y += 32) {
        __m256 d = _mm256_set1_ps(ld_h(b));
        for (int j = 0; j < 32; j += 8) {
            __m256 qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + j))));
            _mm256_storeu_ps(y + j, _mm256_mul_ps(d, qf));
        }
    }
}

T2 static void deq_q4(const void *r, float *y, int64_t n, int one)
{
    const uint8_t *b = r;
    const int bb = one ? 20 : 18;
    __m256i m15 = _mm256_set1_epi32(15);
    __m256 eight = _mm256_set1_ps(8.0f);
    for (int64_t i = 0; i < n / 32; i++, b += bb, y += 32) {
        __m256 d = _mm256_set1_ps(ld_h(b)), m = _mm256_set1_ps(one ? ld_h(b + 2) : 0.0f);
        const uint8_t *q = b + (one ? 4 : 2);
        for (int j = 0; j < 16; j += 8) {
            __m256i v = ld8_u8(q + j);
            __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(v, m15));
            __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
            if (one) {
                _mm256_storeu_ps(y + j, _mm256_add_ps(_mm256_mul_ps(d, lo), m));
                _mm256_storeu_ps(y + 16 + j, _mm256_add_ps(_mm256_mul_ps(d, hi), m));
            } else {
                _mm256_storeu_ps(y + j, _mm256_mul_ps(d, _mm256_sub_ps(lo, eight)));
                _mm256_storeu_ps(y + 16 + j, _mm256_mul_ps(d, _mm256_sub_ps(hi, eight)));
            }
        }
    }
}
T2 static void deq_q4_0(const void *r, float *y, int64_t n) { deq_q4(r, y, n, 0); }
T2 static void deq_q4_1(const void *r, float *y, int64_t n) { deq_q4(r, y, n, 1); }

static void k_scale_min(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

T2 static void deq_qk45(const uint8_t *b, float *y, int64_t n, int five)
{
    const int bb = five ? 176 : 144;
    __m256i m15 = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
    for (int64_t s = 0; s < n / 256; s++, b += bb) {
        float d = ld_h(b), dmin = ld_h(b + 2);
        const uint8_t *sc = b + 4, *qh = b + 16, *q = five ? b + 48 : b + 16;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            int s1, m1, s2, m2;
            k_scale_min(2 * c, sc, &s1, &m1);
            k_scale_min(2 * c + 1, sc, &s2, &m2);
            __m256 d1 = _mm256_set1_ps(d * (float)s1), mm1 = _mm256_set1_ps(dmin * (float)m1);
            __m256 d2 = _mm256_set1_ps(d * (float)s2), mm2 = _mm256_set1_ps(dmin * (float)m2);
            for (int h = 0; h < 32; h += 8) {
                __m256i v = ld8_u8(q + h);
                __m256i lo = _mm256_and_si256(v, m15), hi = _mm256_srli_epi32(v, 4);
                if (five) {
                    __m256i vh = ld8_u8(qh + h);
                    lo = _mm256_add_epi32(lo, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(vh, 2 * c), one), 4));
                    hi = _mm256_add_epi32(hi, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(vh, 2 * c + 1), one), 4));
                }
                _mm256_storeu_ps(y + h, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(lo)), mm1));
                _mm256_storeu_ps(y + 32 + h, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(hi)), mm2));
            }
        }
    }
}
T2 static void deq_q4_k(const void *r, float *y, int64_t n) { deq_qk45(r, y, n, 0); }
T2 static void deq_q5_k(const void *r, float *y, int64_t n) { deq_qk45(r, y, n, 1); }

T2 static void deq_q6_k(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    __m256i m15 = _mm256_set1_epi32(15), m3 = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
    for (int64_t s = 0; s < n / 256; s++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = ld_h(b + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l += 8) {
                int g = l / 16;
                __m256i a = ld8_u8(ql + l), c = ld8_u8(ql + l + 32), h = ld8_u8(qh + l);
                __m256i qs[4] = {
                    _mm256_or_si256(_mm256_and_si256(a, m15), _mm256_slli_epi32(_mm256_and_si256(h, m3), 4)),
                    _mm256_or_si256(_mm256_and_si256(c, m15),
                                    _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), m3), 4)),
                    _mm256_or_si256(_mm256_srli_epi32(a, 4),
                                    _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), m3), 4)),
                    _mm256_or_si256(_mm256_srli_epi32(c, 4),
                                    _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 6), m3), 4)),
                };
                for (int k = 0; k < 4; k++) {
                    __m256 ds = _mm256_set1_ps(d * (float)sc[g + 2 * k]);
                    _mm256_storeu_ps(y + l + 32 * k,
                                     _mm256_mul_ps(ds, _mm256_cvtepi32_ps(_mm256_sub_epi32(qs[k], k32))));
                }
            }
        }
    }
}

#define DOT_K(name, deqf, bytes)                                                        \
    T2 static float name(const void *row, const float *x, int64_t n)                    \
    {                                                                                   \
        float tmp[256] __attribute__((aligned(32)));                                   \
        const uint8_t *b = row;                                                         \
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                     \
        for (int64_t i = 0; i < n / 256; i++, b += bytes, x += 256) {                   \
            deqf(b, tmp, 256);                                                          \
            for (int j = 0; j < 256; j += 32) {                                         \
                s0 = _mm256_fmadd_ps(_mm256_load_ps(tmp + j), _mm256_loadu_ps(x + j), s0);           \
                s1 = _mm256_fmadd_ps(_mm256_load_ps(tmp + j + 8), _mm256_loadu_ps(x + j + 8), s1);   \
                s2 = _mm256_fmadd_ps(_mm256_load_ps(tmp + j + 16), _mm256_loadu_ps(x + j + 16), s2); \
                s3 = _mm256_fmadd_ps(_mm256_load_ps(tmp + j + 24), _mm256_loadu_ps(x + j + 24), s3); \
            }                                                                           \
        }                                                                               \
        return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));       \
    }
DOT_K(dot_q4_k, deq_q4_k, 144)
DOT_K(dot_q5_k, deq_q5_k, 176)
DOT_K(dot_q6_k, deq_q6_k, 210)

/* 16 rows (two vectors) x 6 tokens per pass, 12 accumulators (the 16 ymm
 * registers hold them with the operands); four passes cover the 32 x 12 tile. */
T2 static void gemm(const float *panel, const float *xtile, int64_t k, float *out, int add)
{
    for (int rh = 0; rh < 32; rh += 16)
        for (int th = 0; th < 12; th += 6) {
            const float *pw = panel + rh, *xt = xtile + th;
            float *o = out + th * 32 + rh;
            __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0,
                   a4 = a0, b4 = a0, a5 = a0, b5 = a0;
            if (add) {
#define LD(n) a##n = _mm256_loadu_ps(o + 32 * n); b##n = _mm256_loadu_ps(o + 32 * n + 8);
                LD(0) LD(1) LD(2) LD(3) LD(4) LD(5)
#undef LD
            }
            for (int64_t i = 0; i < k; i++, pw += 32, xt += 12) {
                __m256 w0 = _mm256_load_ps(pw), w1 = _mm256_load_ps(pw + 8), t;
#define TOK(n) t = _mm256_broadcast_ss(xt + n); a##n = _mm256_fmadd_ps(w0, t, a##n); b##n = _mm256_fmadd_ps(w1, t, b##n);
                TOK(0) TOK(1) TOK(2) TOK(3) TOK(4) TOK(5)
#undef TOK
            }
#define ST(n) _mm256_storeu_ps(o + 32 * n, a##n); _mm256_storeu_ps(o + 32 * n + 8, b##n);
            ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
        }
}

T2 static void axpy(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

static const bd_kern KERN = {
    .name = "avx2",
    .dot = {dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_1, dot_q4_k, dot_q5_k, dot_q6_k, 0},
    .deq = {deq_f32, deq_f16, deq_bf16, deq_q8_0, deq_q4_0, deq_q4_1, deq_q4_k, deq_q5_k, deq_q6_k, 0},
    .gemm = gemm,
    .dot_f32 = dot_f32v,
    .axpy = axpy,
    .panel = bd_kern_panel_scalar,
};

const bd_kern *bd_kern_avx2(void) { return &KERN; }

#else
const bd_kern *bd_kern_avx2(void) { return 0; }
#endif
