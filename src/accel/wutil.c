/* Shared helpers of the weight formats. */
#include <stdlib.h>
#include <string.h>

#include "wutil.h"

int bd_cpu_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int bd_cpu_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int bd_cpu_vnni512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return bd_cpu_avx512() && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

float *bd_tensor_f32(const bd_tensor *t)
{
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, cols = t->shape[t->ndim - 1];
    float *w = malloc((size_t)(rows * cols) * sizeof(float) + 1);
    if (!w) return NULL;
    if (t->dtype == BD_F32) {
        memcpy(w, t->data, (size_t)(rows * cols) * sizeof(float));
        return w;
    }
    for (int64_t r = 0; r < rows; r++) bd_tensor_row(t, r, w + r * cols);
    return w;
}

static void release(bd_tensor *t)
{
    if (t->dtype == BD_PACKED && t->ops && t->ops->free) t->ops->free(t);
    else if (t->owned) free((void *)t->data);
    t->data = NULL;
    t->aux = NULL;
    t->ops = NULL;
    t->owned = 0;
}

void bd_tensor_set_packed(bd_tensor *t, const void *data, size_t nbytes, const bd_wops *ops,
                          void *aux)
{
    release(t);
    t->dtype = BD_PACKED;
    t->data = data;
    t->nbytes = nbytes;
    t->ops = ops;
    t->aux = aux;
    t->owned = 1;
}

void bd_tensor_set_f32(bd_tensor *t, float *data)
{
    int64_t n = bd_tensor_nelem(t);
    release(t);
    t->dtype = BD_F32;
    t->data = data;
    t->nbytes = (size_t)n * sizeof(float);
    t->owned = 1;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static void tile_avx512(const float *buf, int64_t ld, int nr, int64_t len, const float *x, int64_t xs,
                        int n, float *y, int64_t ys)
{
    const float *b0 = buf, *b1 = buf + (nr > 1 ? ld : 0), *b2 = buf + (nr > 2 ? 2 * ld : 0),
                *b3 = buf + (nr > 3 ? 3 * ld : 0);
    int t = 0;
    /* 4 tokens x 4 rows: 16 accumulators in registers, each load used 4 times */
    for (; t + 4 <= n; t += 4) {
        const float *x0 = x + (int64_t)t * xs, *x1 = x0 + xs, *x2 = x1 + xs, *x3 = x2 + xs;
        __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
               c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int64_t j = 0; j < len; j += 16) {
            __m512 w0 = _mm512_loadu_ps(b0 + j), w1 = _mm512_loadu_ps(b1 + j);
            __m512 w2 = _mm512_loadu_ps(b2 + j), w3 = _mm512_loadu_ps(b3 + j);
            __m512 xv = _mm512_loadu_ps(x0 + j);
            c00 = _mm512_fmadd_ps(w0, xv, c00); c01 = _mm512_fmadd_ps(w1, xv, c01);
            c02 = _mm512_fmadd_ps(w2, xv, c02); c03 = _mm512_fmadd_ps(w3, xv, c03);
            xv = _mm512_loadu_ps(x1 + j);
            c10 = _mm512_fmadd_ps(w0, xv, c10); c11 = _mm512_fmadd_ps(w1, xv, c11);
            c12 = _mm512_fmadd_ps(w2, xv, c12); c13 = _mm512_fmadd_ps(w3, xv, c13);
            xv = _mm512_loadu_ps(x2 + j);
            c20 = _mm512_fmadd_ps(w0, xv, c20); c21 = _mm512_fmadd_ps(w1, xv, c21);
            c22 = _mm512_fmadd_ps(w2, xv, c22); c23 = _mm512_fmadd_ps(w3, xv, c23);
            xv = _mm512_loadu_ps(x3 + j);
            c30 = _mm512_fmadd_ps(w0, xv, c30); c31 = _mm512_fmadd_ps(w1, xv, c31);
            c32 = _mm512_fmadd_ps(w2, xv, c32); c33 = _mm512_fmadd_ps(w3, xv, c33);
        }
        __m512 acc[4][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}};
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < nr; i++) y[(int64_t)(t + k) * ys + i] += _mm512_reduce_add_ps(acc[k][i]);
    }
    for (; t < n; t++) {
        const float *xt = x + (int64_t)t * xs;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t j = 0; j < len; j += 16) {
            __m512 xv = _mm512_loadu_ps(xt + j);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(b0 + j), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(b1 + j), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(b2 + j), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(b3 + j), xv, a3);
        }
        __m512 r[4] = {a0, a1, a2, a3};
        for (int i = 0; i < nr; i++) y[(int64_t)t * ys + i] += _mm512_reduce_add_ps(r[i]);
    }
}

__attribute__((target("avx2,fma")))
static void tile_avx2(const float *buf, int64_t ld, int nr, int64_t len, const float *x, int64_t xs,
                      int n, float *y, int64_t ys)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * xs;
        for (int i = 0; i < nr; i++) {
            const float *b = buf + i * ld;
            __m256 a = _mm256_setzero_ps(), c = a;
            for (int64_t j = 0; j < len; j += 16) {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(b + j), _mm256_loadu_ps(xt + j), a);
                c = _mm256_fmadd_ps(_mm256_loadu_ps(b + j + 8), _mm256_loadu_ps(xt + j + 8), c);
            }
            a = _mm256_add_ps(a, c);
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            y[(int64_t)t * ys + i] += _mm_cvtss_f32(s);
        }
    }
}
#endif

void bd_tile_accum(const float *buf, int64_t ld, int nr, int64_t len, const float *x, int64_t xs, int n,
                   float *y, int64_t ys)
{
#if defined(__x86_64__) || defined(__i386__)
    if (bd_cpu_avx512()) { tile_avx512(buf, ld, nr, len, x, xs, n, y, ys); return; }
    if (bd_cpu_avx2()) { tile_avx2(buf, ld, nr, len, x, xs, n, y, ys); return; }
#endif
    for (int t = 0; t < n; t++)
        for (int i = 0; i < nr; i++) {
            float s = 0.0f;
            for (int64_t j = 0; j < len; j++) s += buf[i * ld + j] * x[(int64_t)t * xs + j];
            y[(int64_t)t * ys + i] += s;
        }
}

int bd_tiled_matmul(const void *fmt, bd_deq_rows_fn deq, int64_t cols, int64_t out, const float *x, int n,
                    float *y, int64_t r0, int64_t r1)
{
    if (cols % 16) return -1;
    float *buf = aligned_alloc(64, (size_t)(4 * cols) * sizeof(float));
    if (!buf) return -1;
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        deq(fmt, r, nr, buf, cols);
        for (int t = 0; t < n; t++)
            for (int i = 0; i < nr; i++) y[(int64_t)t * out + r + i] = 0.0f;
        bd_tile_accum(buf, cols, nr, cols, x, cols, n, y + r, out);
    }
    free(buf);
    return 0;
}
