/* AVX-512 kernels (F, BW, VL with FMA and F16C), selected at run time.
 * Each function carries a target attribute so the rest of the program stays
 * baseline x86-64. In the matrix-vector (decode) kernels quantized rows are
 * dequantized one GGUF block (or 16-value group) at a time in registers and
 * multiplied with the fp32 activations right there; the matrix-matrix path
 * dequantizes a chunk of rows once (deq) and reuses it for every token.
 *
 * Dequantization performs exactly the multiplications and additions of the
 * reference (bd_dequant_row) in the same order, without fused multiply-adds,
 * so deq() matches it bit for bit. */
#include "kern.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

/* software prefetch distance in bytes for the streaming decode kernels */
#ifndef PF_DIST
#define PF_DIST 2048
#endif

T512 static inline float ld_h(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

T512 static float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

T512 static float dot_f32v(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int q = 0; q < 4; q++) _mm_prefetch((const char *)(a + i) + PF_DIST + 64 * q, _MM_HINT_T0);
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

T512 static float dot_f32(const void *row, const float *x, int64_t n) { return dot_f32v(row, x, n); }

T512 static inline __m512 ld_f16x16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

T512 static inline __m512 ld_bf16x16(const uint16_t *p)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

T512 static float dot_f16(const void *row, const float *x, int64_t n)
{
    const uint16_t *w = row;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        /* prefetch ahead, across the row end: the next row follows in memory
         * and the hardware prefetcher stops at page boundaries */
        _mm_prefetch((const char *)(w + i) + PF_DIST, _MM_HINT_T0);
        _mm_prefetch((const char *)(w + i) + PF_DIST + 64, _MM_HINT_T0);
        s0 = _mm512_fmadd_ps(ld_f16x16(w + i), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(ld_f16x16(w + i + 16), _mm512_loadu_ps(x + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld_f16x16(w + i + 32), _mm512_loadu_ps(x + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld_f16x16(w + i + 48), _mm512_loadu_ps(x + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(ld_f16x16(w + i), _mm512_loadu_ps(x + i), s0);
    float t = 0;
    for (; i < n; i++) t += _cvtsh_ss(w[i]) * x[i];
    return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) + t;
}

T512 static float dot_bf16(const void *row, const float *x, int64_t n)
{
    const uint16_t *w = row;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        _mm_prefetch((const char *)(w + i) + PF_DIST, _MM_HINT_T0);
        _mm_prefetch((const char *)(w + i) + PF_DIST + 64, _MM_HINT_T0);
        s0 = _mm512_fmadd_ps(ld_bf16x16(w + i), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(ld_bf16x16(w + i + 16), _mm512_loadu_ps(x + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld_bf16x16(w + i + 32), _mm512_loadu_ps(x + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld_bf16x16(w + i + 48), _mm512_loadu_ps(x + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(ld_bf16x16(w + i), _mm512_loadu_ps(x + i), s0);
    float t = 0;
    for (; i < n; i++) {
        uint32_t b = (uint32_t)w[i] << 16;
        float f;
        memcpy(&f, &b, 4);
        t += f * x[i];
    }
    return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) + t;
}

/* The decode kernels below handle two blocks per iteration with separate
 * accumulators: with one accumulator every block waits for the previous
 * block's fused multiply-add (4 cycles each), which made them latency-bound
 * at about half the throughput the execution ports allow. */

T512 static inline __m512 q8x16(const uint8_t *q)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
}

/* q8_0: per block sum(q*x) in fp32 lanes, then scaled by d. */
T512 static float dot_q8_0(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2, b += 68, x += 64) {
        _mm_prefetch((const char *)b + PF_DIST, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF_DIST + 64, _MM_HINT_T0);
        __m512 s0 = _mm512_fmadd_ps(q8x16(b + 18), _mm512_loadu_ps(x + 16), _mm512_mul_ps(q8x16(b + 2), _mm512_loadu_ps(x)));
        __m512 s1 = _mm512_fmadd_ps(q8x16(b + 52), _mm512_loadu_ps(x + 48),
                                    _mm512_mul_ps(q8x16(b + 36), _mm512_loadu_ps(x + 32)));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), s0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 34)), s1, acc1);
    }
    if (i < nb) {
        __m512 s = _mm512_fmadd_ps(q8x16(b + 18), _mm512_loadu_ps(x + 16), _mm512_mul_ps(q8x16(b + 2), _mm512_loadu_ps(x)));
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), s, acc0);
    }
    return hsum(_mm512_add_ps(acc0, acc1));
}

T512 static inline void nib_q4(const uint8_t *q, __m512 *lo, __m512 *hi)
{
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
    __m512i m = _mm512_set1_epi32(15);
    *lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, m));
    *hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
}

/* sum over one q4 block of (q - off) * x, in 16 lanes */
T512 static inline __m512 q4_blk(const uint8_t *q, const float *x, __m512 off)
{
    __m512 lo, hi;
    nib_q4(q, &lo, &hi);
    return _mm512_fmadd_ps(_mm512_sub_ps(hi, off), _mm512_loadu_ps(x + 16),
                           _mm512_mul_ps(_mm512_sub_ps(lo, off), _mm512_loadu_ps(x)));
}

T512 static float dot_q4_0(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, eight = _mm512_set1_ps(8.0f);
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2, b += 36, x += 64) {
        _mm_prefetch((const char *)b + PF_DIST, _MM_HINT_T0);
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), q4_blk(b + 2, x, eight), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 18)), q4_blk(b + 20, x + 32, eight), acc1);
    }
    if (i < nb) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), q4_blk(b + 2, x, eight), acc0);
    return hsum(_mm512_add_ps(acc0, acc1));
}

/* q4_1: sum((d q + m) x) = d sum(q x) + m sum(x) per block; the d and the m
 * terms go to separate accumulators. */
T512 static float dot_q4_1(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    __m512 zero = _mm512_setzero_ps(), a0 = zero, a1 = zero, m0 = zero, m1 = zero;
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2, b += 40, x += 64) {
        _mm_prefetch((const char *)b + PF_DIST, _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), q4_blk(b + 4, x, zero), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 20)), q4_blk(b + 24, x + 32, zero), a1);
        m0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 2)), _mm512_add_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)), m0);
        m1 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 22)),
                             _mm512_add_ps(_mm512_loadu_ps(x + 32), _mm512_loadu_ps(x + 48)), m1);
    }
    if (i < nb) {
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b)), q4_blk(b + 4, x, zero), a0);
        m0 = _mm512_fmadd_ps(_mm512_set1_ps(ld_h(b + 2)), _mm512_add_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)), m0);
    }
    return hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(m0, m1)));
}

/* ---- dequantization (bit-exact with the reference) ---- */

T512 static void deq_f32(const void *r, float *d, int64_t n) { memcpy(d, r, (size_t)n * 4); }

T512 static void deq_f16(const void *r, float *d, int64_t n)
{
    const uint16_t *w = r;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, ld_f16x16(w + i));
    for (; i < n; i++) d[i] = _cvtsh_ss(w[i]);
}

T512 static void deq_bf16(const void *r, float *d, int64_t n)
{
    const uint16_t *w = r;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, ld_bf16x16(w + i));
    for (; i < n; i++) {
        uint32_t b = (uint32_t)w[i] << 16;
        memcpy(d + i, &b, 4);
    }
}

T512 static void deq_q8_0(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    for (int64_t i = 0; i < n / 32; i++, b += 34, y += 32) {
        __m512 d = _mm512_set1_ps(ld_h(b));
        __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2))));
        __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18))));
        _mm512_storeu_ps(y, _mm512_mul_ps(d, q0));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, q1));
    }
}

T512 static void deq_q4_0(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    __m512 eight = _mm512_set1_ps(8.0f);
    for (int64_t i = 0; i < n / 32; i++, b += 18, y += 32) {
        __m512 lo, hi, d = _mm512_set1_ps(ld_h(b));
        nib_q4(b + 2, &lo, &hi);
        _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_sub_ps(lo, eight)));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, _mm512_sub_ps(hi, eight)));
    }
}

T512 static void deq_q4_1(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    for (int64_t i = 0; i < n / 32; i++, b += 20, y += 32) {
        __m512 lo, hi, d = _mm512_set1_ps(ld_h(b)), m = _mm512_set1_ps(ld_h(b + 2));
        nib_q4(b + 4, &lo, &hi);
        _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(d, lo), m));
        _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(d, hi), m));
    }
}

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

/* q4_K / q5_K: 4 chunks of 64 values; chunk c uses sub-block scales 2c (low
 * nibbles) and 2c+1 (high nibbles); q5_K adds bit 2c / 2c+1 of qh as 16. */
T512 static void deq_qk45(const uint8_t *b, float *y, int64_t n, int five)
{
    const int bb = five ? 176 : 144;
    __m512i m15 = _mm512_set1_epi32(15), one = _mm512_set1_epi32(1);
    for (int64_t s = 0; s < n / 256; s++, b += bb) {
        float d = ld_h(b), dmin = ld_h(b + 2);
        const uint8_t *sc = b + 4, *qh = b + 16, *q = five ? b + 48 : b + 16;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            int s1, m1, s2, m2;
            k_scale_min(2 * c, sc, &s1, &m1);
            k_scale_min(2 * c + 1, sc, &s2, &m2);
            __m512 d1 = _mm512_set1_ps(d * (float)s1), mm1 = _mm512_set1_ps(dmin * (float)m1);
            __m512 d2 = _mm512_set1_ps(d * (float)s2), mm2 = _mm512_set1_ps(dmin * (float)m2);
            for (int h = 0; h < 2; h++) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16 * h)));
                __m512i lo = _mm512_and_si512(v, m15), hi = _mm512_srli_epi32(v, 4);
                if (five) {
                    __m512i vh = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + 16 * h)));
                    __m512i b1 = _mm512_and_si512(_mm512_srli_epi32(vh, 2 * c), one);
                    __m512i b2 = _mm512_and_si512(_mm512_srli_epi32(vh, 2 * c + 1), one);
                    lo = _mm512_add_epi32(lo, _mm512_slli_epi32(b1, 4));
                    hi = _mm512_add_epi32(hi, _mm512_slli_epi32(b2, 4));
                }
                _mm512_storeu_ps(y + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(lo)), mm1));
                _mm512_storeu_ps(y + 32 + 16 * h,
                                 _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(hi)), mm2));
            }
        }
    }
}

T512 static void deq_q4_k(const void *r, float *y, int64_t n) { deq_qk45(r, y, n, 0); }
T512 static void deq_q5_k(const void *r, float *y, int64_t n) { deq_qk45(r, y, n, 1); }

T512 static void deq_q6_k(const void *r, float *y, int64_t n)
{
    const uint8_t *b = r;
    __m512i m15 = _mm512_set1_epi32(15), m3 = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
    for (int64_t s = 0; s < n / 256; s++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = ld_h(b + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int g = 0; g < 2; g++) { /* l = 16g .. 16g+15, scale index is = g */
                int l = 16 * g;
                __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l)));
                __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l + 32)));
                __m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + l)));
                __m512i q1 = _mm512_or_si512(_mm512_and_si512(a, m15),
                                             _mm512_slli_epi32(_mm512_and_si512(h, m3), 4));
                __m512i q2 = _mm512_or_si512(_mm512_and_si512(c, m15),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), m3), 4));
                __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), m3), 4));
                __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(c, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 6), m3), 4));
                __m512i qs[4] = {q1, q2, q3, q4};
                for (int k = 0; k < 4; k++) {
                    __m512 ds = _mm512_set1_ps(d * (float)sc[g + 2 * k]);
                    __m512 qf = _mm512_cvtepi32_ps(_mm512_sub_epi32(qs[k], k32));
                    _mm512_storeu_ps(y + l + 32 * k, _mm512_mul_ps(ds, qf));
                }
            }
        }
    }
}

/* k-quants, fused: the quants of a 16-value group are unpacked to fp32 in
 * registers and multiplied with x; each sub-block's sum is scaled once.
 * q4_K/q5_K: sum((d1 q - m1) x) = d1 sum(q x) - m1 sum(x). */
T512 static float dot_qk45(const uint8_t *b, const float *x, int64_t n, int five)
{
    const int bb = five ? 176 : 144;
    const __m512i m15 = _mm512_set1_epi32(15), one = _mm512_set1_epi32(1);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; sb++, b += bb) {
        _mm_prefetch((const char *)b + PF_DIST, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF_DIST + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)b + PF_DIST + 128, _MM_HINT_T0);
        const float d = ld_h(b), dmin = ld_h(b + 2);
        const uint8_t *sc = b + 4, *qh = b + 16, *q = five ? b + 48 : b + 16;
        for (int c = 0; c < 4; c++, q += 32, x += 64) {
            int s1, m1, s2, m2;
            k_scale_min(2 * c, sc, &s1, &m1);
            k_scale_min(2 * c + 1, sc, &s2, &m2);
            __m512 ql = _mm512_setzero_ps(), qhi = ql, xl = ql, xh = ql;
            for (int h = 0; h < 2; h++) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16 * h)));
                __m512i lo = _mm512_and_si512(v, m15), hi = _mm512_srli_epi32(v, 4);
                if (five) {
                    __m512i vh = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + 16 * h)));
                    lo = _mm512_add_epi32(lo, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(vh, 2 * c), one), 4));
                    hi = _mm512_add_epi32(hi, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(vh, 2 * c + 1), one), 4));
                }
                __m512 x0 = _mm512_loadu_ps(x + 16 * h), x1 = _mm512_loadu_ps(x + 32 + 16 * h);
                ql = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), x0, ql);
                qhi = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), x1, qhi);
                xl = _mm512_add_ps(xl, x0);
                xh = _mm512_add_ps(xh, x1);
            }
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)s1), ql, acc);
            acc = _mm512_fnmadd_ps(_mm512_set1_ps(dmin * (float)m1), xl, acc);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)s2), qhi, acc);
            acc = _mm512_fnmadd_ps(_mm512_set1_ps(dmin * (float)m2), xh, acc);
        }
    }
    return hsum(acc);
}

T512 static float dot_q4_k(const void *row, const float *x, int64_t n) { return dot_qk45(row, x, n, 0); }
T512 static float dot_q5_k(const void *row, const float *x, int64_t n) { return dot_qk45(row, x, n, 1); }

/* q6_K: 16 groups of 16 values, each with its own int8 scale. */
T512 static float dot_q6_k(const void *row, const float *x, int64_t n)
{
    const uint8_t *b = row;
    const __m512i m15 = _mm512_set1_epi32(15), m3 = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; sb++, b += 210) {
        for (int q = 0; q < 256; q += 64) _mm_prefetch((const char *)b + PF_DIST + q, _MM_HINT_T0);
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = ld_h(b + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, x += 128) {
            for (int g = 0; g < 2; g++) {
                int l = 16 * g;
                __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l)));
                __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + l + 32)));
                __m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + l)));
                __m512i q1 = _mm512_or_si512(_mm512_and_si512(a, m15), _mm512_slli_epi32(_mm512_and_si512(h, m3), 4));
                __m512i q2 = _mm512_or_si512(_mm512_and_si512(c, m15),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), m3), 4));
                __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), m3), 4));
                __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(c, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 6), m3), 4));
#define G6(Q, K) acc = _mm512_fmadd_ps(_mm512_set1_ps(d * (float)sc[g + 2 * K]), \
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(Q, k32)), _mm512_loadu_ps(x + l + 32 * K)), acc);
                G6(q1, 0) G6(q2, 1) G6(q3, 2) G6(q4, 3)
#undef G6
            }
        }
    }
    return hsum(acc);
}

/* 32 rows (two vectors) x 12 tokens: 24 accumulators in registers; per
 * step of i, 2 panel loads and 12 broadcasts feed 24 FMAs. */
T512 static void gemm(const float *pw, const float *xt, int64_t k, float *out, int add)
{
    __m512 a0 = _mm512_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0,
           a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0, a8 = a0, b8 = a0,
           a9 = a0, b9 = a0, a10 = a0, b10 = a0, a11 = a0, b11 = a0;
    if (add) {
#define LD(n) a##n = _mm512_loadu_ps(out + 32 * n); b##n = _mm512_loadu_ps(out + 32 * n + 16);
        LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7) LD(8) LD(9) LD(10) LD(11)
#undef LD
    }
    for (int64_t i = 0; i < k; i++, pw += 32, xt += 12) {
        __m512 w0 = _mm512_load_ps(pw), w1 = _mm512_load_ps(pw + 16), t;
#define TOK(n) t = _mm512_set1_ps(xt[n]); a##n = _mm512_fmadd_ps(w0, t, a##n); b##n = _mm512_fmadd_ps(w1, t, b##n);
        TOK(0) TOK(1) TOK(2) TOK(3) TOK(4) TOK(5) TOK(6) TOK(7) TOK(8) TOK(9) TOK(10) TOK(11)
#undef TOK
    }
#define ST(n) _mm512_storeu_ps(out + 32 * n, a##n); _mm512_storeu_ps(out + 32 * n + 16, b##n);
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11)
#undef ST
}

T512 static void axpy(float *y, float a, const float *x, int64_t n)
{
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

T512 static void att_qk(const float *q, const float *k, int64_t ld, int n, int hd, float scale, float *sc)
{
    if (hd == 64) { /* dot_f32v's one 64-wide step and its final sums, q kept in registers */
        const __m512 q0 = _mm512_loadu_ps(q), q1 = _mm512_loadu_ps(q + 16), q2 = _mm512_loadu_ps(q + 32),
                     q3 = _mm512_loadu_ps(q + 48), z = _mm512_setzero_ps();
        for (int s = 0; s < n; s++) {
            const float *r = k + (size_t)s * ld;
            __m512 s0 = _mm512_fmadd_ps(q0, _mm512_loadu_ps(r), z), s1 = _mm512_fmadd_ps(q1, _mm512_loadu_ps(r + 16), z);
            __m512 s2 = _mm512_fmadd_ps(q2, _mm512_loadu_ps(r + 32), z), s3 = _mm512_fmadd_ps(q3, _mm512_loadu_ps(r + 48), z);
            sc[s] = hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))) * scale;
        }
        return;
    }
    for (int s = 0; s < n; s++) sc[s] = dot_f32v(q, k + (size_t)s * ld, hd) * scale;
}

T512 static void axpy(float *y, float a, const float *x, int64_t n);

T512 static void att_av(float *o, const float *w, const float *v, int64_t ld, int n, int hd)
{
    if (hd % 16 == 0 && hd <= 128) { /* the accumulators stay in registers across s */
        __m512 acc[8];
        const int nv = hd / 16;
        for (int c = 0; c < 8; c++) acc[c] = _mm512_setzero_ps();
        for (int s = 0; s < n; s++) {
            const __m512 a = _mm512_set1_ps(w[s]);
            const float *r = v + (size_t)s * ld;
            for (int c = 0; c < nv; c++) acc[c] = _mm512_fmadd_ps(a, _mm512_loadu_ps(r + 16 * c), acc[c]);
        }
        for (int c = 0; c < nv; c++) _mm512_storeu_ps(o + 16 * c, acc[c]);
        return;
    }
    memset(o, 0, sizeof(float) * (size_t)hd);
    for (int s = 0; s < n; s++) axpy(o, w[s], v + (size_t)s * ld, hd);
}

/* dst[c*dld + j] = src[j*ld + c] for a 16x16 block: 32-bit then 64-bit
 * unpacks give, per 128-bit lane, 4 rows of one column; two rounds of
 * 128-bit lane shuffles gather the 4 row groups. */
T512 static void transpose16(const float *src, int64_t ld, float *dst, int64_t dld)
{
    __m512 r[16], t[16], u[16];
    for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(src + (size_t)j * ld);
    for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
        __m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int m = 0; m < 4; m++) {
        __m512 x = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44), y = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44), y2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
        _mm512_storeu_ps(dst + (size_t)(0 + m) * dld, _mm512_shuffle_f32x4(x, x2, 0x88));
        _mm512_storeu_ps(dst + (size_t)(4 + m) * dld, _mm512_shuffle_f32x4(x, x2, 0xDD));
        _mm512_storeu_ps(dst + (size_t)(8 + m) * dld, _mm512_shuffle_f32x4(y, y2, 0x88));
        _mm512_storeu_ps(dst + (size_t)(12 + m) * dld, _mm512_shuffle_f32x4(y, y2, 0xDD));
    }
}

T512 static void panel(const float *rows, int64_t ld, int64_t k, float *pn)
{
    int64_t i = 0;
    for (; i + 16 <= k; i += 16)
        for (int h = 0; h < BD_GEMM_R; h += 16)
            transpose16(rows + (size_t)h * ld + i, ld, pn + i * BD_GEMM_R + h, BD_GEMM_R);
    if (i < k) bd_kern_panel_scalar(rows + i, ld, k - i, pn + i * BD_GEMM_R);
}

static const bd_kern KERN = {
    .name = "avx512",
    .dot = {dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_1, dot_q4_k, dot_q5_k, dot_q6_k, 0},
    .deq = {deq_f32, deq_f16, deq_bf16, deq_q8_0, deq_q4_0, deq_q4_1, deq_q4_k, deq_q5_k, deq_q6_k, 0},
    .gemm = gemm,
    .dot_f32 = dot_f32v,
    .axpy = axpy,
    .att_qk = att_qk,
    .att_av = att_av,
    .panel = panel,
};

const bd_kern *bd_kern_avx512(void) { return &KERN; }

#else
const bd_kern *bd_kern_avx512(void) { return 0; }
#endif
