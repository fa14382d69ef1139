/* AWQ 4-bit packed weights: row-major nibbles, per (row, group) an fp16
 * scale and an integer zero. A row's dot product is
 * sum_g s_g * (sum_j q_j x_j - z_g * sum_j x_j), so the decode kernel needs
 * no table: codes widen to floats directly. */
#include <stdlib.h>
#include <string.h>

#include "awq.h"
#include "wutil.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BD_X86 1
#endif

typedef struct awq4w {
    int64_t rows, cols;
    int group, ng;        /* groups per row */
    uint8_t *q;           /* rows * cols/2 */
    uint16_t *scale;      /* rows * ng, fp16 */
    uint8_t *zero;        /* rows * ng */
} awq4w;

static inline int code_at(const awq4w *p, int64_t r, int64_t j)
{
    uint8_t b = p->q[r * (p->cols / 2) + j / 2];
    return (j & 1) ? b >> 4 : b & 15;
}

static void ops_row(const bd_tensor *t, int64_t r, float *dst)
{
    const awq4w *p = t->aux;
    for (int64_t j = 0; j < p->cols; j++) {
        int64_t g = r * p->ng + j / p->group;
        dst[j] = ((float)code_at(p, r, j) - (float)p->zero[g]) * bd_f16_to_f32(p->scale[g]);
    }
}

static void ops_free(bd_tensor *t)
{
    awq4w *p = t->aux;
    if (p) { free(p->q); free(p->scale); free(p->zero); free(p); }
    t->aux = NULL;
    t->data = NULL;
}

/* Dequantizes rows r..r+nr-1, columns j0..j0+len-1 into buf (ld floats per row). */
static void deq_tile(const awq4w *p, int64_t r, int nr, int64_t j0, int64_t len, float *buf, int64_t ld)
{
    for (int i = 0; i < nr; i++)
        for (int64_t j = 0; j < len; j++) {
            int64_t g = (r + i) * p->ng + (j0 + j) / p->group;
            buf[i * ld + j] = ((float)code_at(p, r + i, j0 + j) - (float)p->zero[g]) * bd_f16_to_f32(p->scale[g]);
        }
}

static void mm_scalar(const awq4w *p, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    float buf[256];
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < n; t++) y[(int64_t)t * p->rows + r] = 0.0f;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t j0 = 0; j0 < p->cols; j0 += 256) {
            int64_t len = p->cols - j0 < 256 ? p->cols - j0 : 256;
            deq_tile(p, r, 1, j0, len, buf, 256);
            for (int t = 0; t < n; t++) {
                float s = 0.0f;
                const float *xt = x + (int64_t)t * p->cols + j0;
                for (int64_t j = 0; j < len; j++) s += buf[j] * xt[j];
                y[(int64_t)t * p->rows + r] += s;
            }
        }
}

#ifdef BD_X86
/* One token: x split into even/odd halves and per-group sums once per call. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void mv_avx512(const awq4w *p, const float *xe, const float *xo, const float *gsum, float *y,
                      int64_t r0, int64_t r1)
{
    const __m512i m15 = _mm512_set1_epi32(15);
    int64_t half = p->cols / 2, gh = p->group / 2; /* bytes per group */
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *q = p->q + r * half;
        float acc = 0.0f;
        for (int g = 0; g < p->ng; g++) {
            __m512 s0 = _mm512_setzero_ps(), s1 = s0;
            for (int64_t b = g * gh; b < (g + 1) * gh; b += 16) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + b)));
                s0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, m15)), _mm512_loadu_ps(xe + b), s0);
                s1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), _mm512_loadu_ps(xo + b), s1);
            }
            int64_t k = r * p->ng + g;
            float d = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) - (float)p->zero[k] * gsum[g];
            acc += bd_f16_to_f32(p->scale[k]) * d;
        }
        y[r] = acc;
    }
}
/* Full rows for the batched path: 16 codes per 8 bytes in element order. */
__attribute__((target("avx512f,avx512bw,avx512vl,f16c")))
static void deq_rows_avx512(const void *fmt, int64_t r, int nr, float *buf, int64_t ld)
{
    const awq4w *p = fmt;
    for (int i = 0; i < nr; i++) {
        const uint8_t *q = p->q + (r + i) * (p->cols / 2);
        float *d = buf + i * ld;
        for (int g = 0; g < p->ng; g++) {
            int64_t k = (r + i) * p->ng + g;
            __m512 z = _mm512_set1_ps((float)p->zero[k]), s = _mm512_set1_ps(bd_f16_to_f32(p->scale[k]));
            for (int64_t j = (int64_t)g * p->group; j < (int64_t)(g + 1) * p->group; j += 16) {
                __m128i v = _mm_loadl_epi64((const __m128i *)(q + j / 2));
                __m128i lo = _mm_and_si128(v, _mm_set1_epi8(15));
                __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(15));
                __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
                _mm512_storeu_ps(d + j, _mm512_mul_ps(_mm512_sub_ps(c, z), s));
            }
        }
    }
}
#endif

int bd_awq4_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    const awq4w *p = w->aux;
    if (kind == 0) { mm_scalar(p, x, n, y, r0, r1); return 0; }
#ifdef BD_X86
    if (kind != 2 || !bd_cpu_avx512() || p->group % 32) return -1;
    if (n == 1) {
        float *xe = malloc(((size_t)p->cols + (size_t)p->ng) * sizeof(float));
        if (!xe) return -1;
        float *xo = xe + p->cols / 2, *gs = xe + p->cols;
        for (int64_t i = 0; i < p->cols / 2; i++) { xe[i] = x[2 * i]; xo[i] = x[2 * i + 1]; }
        for (int g = 0; g < p->ng; g++) {
            float s = 0.0f;
            for (int j = 0; j < p->group; j++) s += x[(int64_t)g * p->group + j];
            gs[g] = s;
        }
        mv_avx512(p, xe, xo, gs, y, r0, r1);
        free(xe);
        return 0;
    }
    if (p->group % 16 == 0 && bd_tiled_matmul(p, deq_rows_avx512, p->cols, p->rows, x, n, y, r0, r1) == 0)
        return 0;
    enum { TILE = 512 };
    float buf[4 * TILE] __attribute__((aligned(64)));
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        for (int t = 0; t < n; t++)
            for (int i = 0; i < nr; i++) y[(int64_t)t * p->rows + r + i] = 0.0f;
        for (int64_t j0 = 0; j0 < p->cols; j0 += TILE) {
            int64_t len = p->cols - j0 < TILE ? p->cols - j0 : TILE;
            deq_tile(p, r, nr, j0, len, buf, TILE);
            bd_tile_accum(buf, TILE, nr, len, x + j0, p->cols, n, y + r, p->rows);
        }
    }
    return 0;
#else
    (void)n; (void)x; (void)y; (void)r0; (void)r1;
    return -1;
#endif
}

static void ops_matmul(const bd_tensor *w, const float *x, const void *scratch, int n, float *y,
                       int64_t r0, int64_t r1)
{
    (void)scratch;
    if (bd_awq4_matmul_kernel(2, w, x, n, y, r0, r1) == 0) return;
    bd_awq4_matmul_kernel(0, w, x, n, y, r0, r1);
}

const bd_wops bd_awq4_ops = {
    .name = "awq4",
    .prep_size = NULL,
    .prep = NULL,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

int bd_awq4_pack_codes(bd_tensor *t, int group, const uint8_t *q, const float *scales, const uint8_t *zeros,
                       bd_err *err)
{
    int64_t rows = t->shape[0], cols = t->shape[1];
    if (t->ndim != 2 || group <= 0 || cols % group || group % 2)
        return bd_fail(err, BD_EINPUT, "%s: awq4 needs inputs (%lld) divisible by the group (%d)", t->name,
                       (long long)cols, group);
    awq4w *p = calloc(1, sizeof *p);
    int ng = (int)(cols / group);
    if (p) {
        p->q = calloc((size_t)(rows * cols / 2), 1);
        p->scale = malloc((size_t)(rows * ng) * sizeof(uint16_t));
        p->zero = malloc((size_t)(rows * ng));
    }
    if (!p || !p->q || !p->scale || !p->zero) {
        if (p) { free(p->q); free(p->scale); free(p->zero); free(p); }
        return bd_oom(err, "awq4 weights");
    }
    p->rows = rows; p->cols = cols; p->group = group; p->ng = ng;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            uint8_t c = q[r * cols + j] & 15;
            p->q[r * (cols / 2) + j / 2] |= (uint8_t)((j & 1) ? c << 4 : c);
        }
    for (int64_t k = 0; k < rows * ng; k++) {
        p->scale[k] = bd_f32_to_f16(scales[k]);
        p->zero[k] = zeros[k];
    }
    size_t bytes = (size_t)(rows * cols / 2) + (size_t)(rows * ng) * 3;
    bd_tensor_set_packed(t, p->q, bytes, &bd_awq4_ops, p);
    return 0;
}

/* AutoAWQ GEMM checkpoint layout (packing_utils / WQLinear_GEMM): qweight
 * [in, out/8] int32 where nibble i of word c holds output column
 * 8c + AWQ_ORDER[i]; qzeros [in/g, out/8] packed the same way; scales
 * [in/g, out] fp16. */
static const int AWQ_ORDER[8] = {0, 2, 4, 6, 1, 3, 5, 7};

void bd_awq_gemm_pack(const uint8_t *q, const uint8_t *z, const float *s, int64_t in, int64_t out, int group,
                      int32_t *qweight, int32_t *qzeros, uint16_t *scales)
{
    int64_t ng = in / group, w = out / 8;
    for (int64_t i = 0; i < in; i++)
        for (int64_t c = 0; c < w; c++) {
            uint32_t v = 0;
            for (int k = 0; k < 8; k++) v |= (uint32_t)(q[(c * 8 + AWQ_ORDER[k]) * in + i] & 15) << (4 * k);
            qweight[i * w + c] = (int32_t)v;
        }
    for (int64_t g = 0; g < ng; g++) {
        for (int64_t c = 0; c < w; c++) {
            uint32_t v = 0;
            for (int k = 0; k < 8; k++) v |= (uint32_t)(z[(c * 8 + AWQ_ORDER[k]) * ng + g] & 15) << (4 * k);
            qzeros[g * w + c] = (int32_t)v;
        }
        for (int64_t o = 0; o < out; o++) scales[g * out + o] = bd_f32_to_f16(s[o * ng + g]);
    }
}

int bd_awq_gemm_unpack(const int32_t *qweight, const int32_t *qzeros, const uint16_t *scales, int64_t in,
                       int64_t out, int group, uint8_t *q, uint8_t *z, float *s, bd_err *err)
{
    if (group <= 0 || in % group || out % 8)
        return bd_fail(err, BD_EINPUT, "awq GEMM checkpoint: in %lld must be a multiple of the group %d and "
                       "out %lld of 8", (long long)in, group, (long long)out);
    int64_t ng = in / group, w = out / 8;
    for (int64_t i = 0; i < in; i++)
        for (int64_t c = 0; c < w; c++) {
            uint32_t v = (uint32_t)qweight[i * w + c];
            for (int k = 0; k < 8; k++) q[(c * 8 + AWQ_ORDER[k]) * in + i] = (uint8_t)((v >> (4 * k)) & 15);
        }
    for (int64_t g = 0; g < ng; g++) {
        for (int64_t c = 0; c < w; c++) {
            uint32_t v = (uint32_t)qzeros[g * w + c];
            for (int k = 0; k < 8; k++) z[(c * 8 + AWQ_ORDER[k]) * ng + g] = (uint8_t)((v >> (4 * k)) & 15);
        }
        for (int64_t o = 0; o < out; o++) s[o * ng + g] = bd_f16_to_f32(scales[g * out + o]);
    }
    return 0;
}

#include "parts.h"

int bd_awq4_parts(const bd_tensor *t, bd_parts *pp)
{
    const awq4w *p = t->aux;
    memset(pp, 0, sizeof *pp);
    pp->n = 3;
    pp->param[0] = p->group;
    pp->ptr[0] = p->q; pp->len[0] = (size_t)(p->rows * p->cols / 2);
    pp->ptr[1] = p->scale; pp->len[1] = (size_t)(p->rows * p->ng) * sizeof(uint16_t);
    pp->ptr[2] = p->zero; pp->len[2] = (size_t)(p->rows * p->ng);
    return 0;
}

int bd_awq4_restore(bd_tensor *t, void **bufs, const bd_parts *pp, bd_err *err)
{
    awq4w *p = calloc(1, sizeof *p);
    if (!p) return bd_oom(err, "awq4");
    p->rows = t->shape[0]; p->cols = t->shape[1]; p->group = (int)pp->param[0];
    p->ng = (int)(p->cols / p->group);
    p->q = bufs[0]; p->scale = bufs[1]; p->zero = bufs[2];
    bd_tensor_set_packed(t, p->q, pp->len[0] + pp->len[1] + pp->len[2], &bd_awq4_ops, p);
    return 0;
}
