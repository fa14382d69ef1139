/* LLM.int8 packed format and kernels. Activations are stored biased by +128
 * (uint8) so AVX-512 VNNI's u8 x s8 dot product applies; the bias is removed
 * with the precomputed row sums of the weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "int8.h"
#include "wutil.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BD_X86 1
#endif

typedef struct int8w {
    int64_t rows, cols;
    int8_t *q;       /* rows*cols */
    float *scb;      /* rows */
    int32_t *rsum;   /* rows: sum of q over the row (bias correction) */
} int8w;

/* Scratch written by prep: header, then per-token scales, outlier columns,
 * and the biased int8 activations (64-byte aligned rows not needed). */
typedef struct prep_hdr {
    int n, cols, ncols, pad;
} prep_hdr;

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

static size_t off_sca(void) { return align64(sizeof(prep_hdr)); }
static size_t off_cols(int n) { return off_sca() + align64((size_t)n * sizeof(float)); }
static size_t off_ca(int n, int64_t cols) { return off_cols(n) + align64((size_t)cols * sizeof(int32_t)); }

void bd_int8_quant_rows(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scale)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *wr = w + r * cols;
        float m = 0.0f;
        for (int64_t j = 0; j < cols; j++) m = fmaxf(m, fabsf(wr[j]));
        scale[r] = m;
        float f = m > 0 ? 127.0f / m : 0.0f;
        for (int64_t j = 0; j < cols; j++) q[r * cols + j] = (int8_t)rintf(wr[j] * f);
    }
}

static size_t ops_prep_size(const bd_tensor *w, int n)
{
    const int8w *p = w->aux;
    return off_ca(n, p->cols) + (size_t)n * (size_t)p->cols + 64;
}

static void ops_prep(const bd_tensor *w, const float *x, int n, void *scratch)
{
    const int8w *p = w->aux;
    int64_t cols = p->cols;
    char *s = scratch;
    prep_hdr *h = (prep_hdr *)s;
    float *sca = (float *)(s + off_sca());
    int32_t *oc = (int32_t *)(s + off_cols(n));
    uint8_t *ca = (uint8_t *)(s + off_ca(n, cols));
    h->n = n; h->cols = (int)cols; h->ncols = 0;
    /* outlier columns over every token of the call */
    for (int64_t j = 0; j < cols; j++) {
        for (int t = 0; t < n; t++)
            if (fabsf(x[(int64_t)t * cols + j]) >= BD_INT8_THRESHOLD) { oc[h->ncols++] = (int32_t)j; break; }
    }
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * cols;
        float m = 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float a = fabsf(xt[j]);
            if (a < BD_INT8_THRESHOLD) m = fmaxf(m, a);
        }
        sca[t] = m;
        float f = m > 0 ? 127.0f / m : 0.0f;
        uint8_t *ct = ca + (int64_t)t * cols;
        for (int64_t j = 0; j < cols; j++) {
            float a = xt[j];
            int v = fabsf(a) >= BD_INT8_THRESHOLD ? 0 : (int)rintf(a * f);
            ct[j] = (uint8_t)(v + 128);
        }
        for (int k = 0; k < h->ncols; k++) ct[oc[k]] = 128; /* whole outlier columns zeroed */
    }
}

int bd_int8_prep_info(const void *scratch, const int32_t **cols, const float **sca,
                      const uint8_t **ca_biased)
{
    const char *s = scratch;
    const prep_hdr *h = (const prep_hdr *)s;
    *sca = (const float *)(s + off_sca());
    *cols = (const int32_t *)(s + off_cols(h->n));
    *ca_biased = (const uint8_t *)(s + off_ca(h->n, h->cols));
    return h->ncols;
}

/* y[t,r] from the int32 dot product and the fp32 outlier part. */
static inline float finish(const int8w *p, const prep_hdr *h, const float *sca, const int32_t *oc,
                           const float *xt, int t, int64_t r, int32_t dot_biased)
{
    int32_t c32 = dot_biased - 128 * p->rsum[r];
    float out = (float)c32 * (sca[t] * p->scb[r]) * BD_INT8_DEQUANT;
    if (h->ncols) {
        const int8_t *qr = p->q + r * p->cols;
        float s = p->scb[r] / 127.0f, acc = 0.0f;
        for (int k = 0; k < h->ncols; k++) acc += xt[oc[k]] * ((float)qr[oc[k]] * s);
        out += acc;
    }
    return out;
}

static void mm_scalar(const int8w *p, const float *x, const char *s, float *y, int64_t r0, int64_t r1)
{
    const prep_hdr *h = (const prep_hdr *)s;
    const float *sca = (const float *)(s + off_sca());
    const int32_t *oc = (const int32_t *)(s + off_cols(h->n));
    const uint8_t *ca = (const uint8_t *)(s + off_ca(h->n, p->cols));
    for (int t = 0; t < h->n; t++) {
        const uint8_t *ct = ca + (int64_t)t * p->cols;
        for (int64_t r = r0; r < r1; r++) {
            const int8_t *qr = p->q + r * p->cols;
            int32_t d = 0;
            for (int64_t j = 0; j < p->cols; j++) d += (int32_t)ct[j] * qr[j];
            y[(int64_t)t * p->rows + r] = finish(p, h, sca, oc, x + (int64_t)t * p->cols, t, r, d);
        }
    }
}

#ifdef BD_X86
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
static void mm_vnni(const int8w *p, const float *x, const char *s, float *y, int64_t r0, int64_t r1)
{
    const prep_hdr *h = (const prep_hdr *)s;
    const float *sca = (const float *)(s + off_sca());
    const int32_t *oc = (const int32_t *)(s + off_cols(h->n));
    const uint8_t *ca = (const uint8_t *)(s + off_ca(h->n, p->cols));
    int64_t cols = p->cols, full = cols & ~(int64_t)63;
    __mmask64 tail = (cols - full) ? (~(__mmask64)0 >> (64 - (cols - full))) : 0;
    /* 4 rows at a time share each activation load */
    for (int t = 0; t < h->n; t++) {
        const uint8_t *ct = ca + (int64_t)t * cols;
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            const int8_t *q0 = p->q + r * cols;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t j = 0; j < full; j += 64) {
                __m512i xv = _mm512_loadu_si512(ct + j);
                a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_loadu_si512(q0 + j));
                a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_loadu_si512(q0 + cols + j));
                a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_loadu_si512(q0 + 2 * cols + j));
                a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_loadu_si512(q0 + 3 * cols + j));
            }
            if (tail) {
                __m512i xv = _mm512_maskz_loadu_epi8(tail, ct + full);
                a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_maskz_loadu_epi8(tail, q0 + full));
                a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_maskz_loadu_epi8(tail, q0 + cols + full));
                a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_maskz_loadu_epi8(tail, q0 + 2 * cols + full));
                a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_maskz_loadu_epi8(tail, q0 + 3 * cols + full));
            }
            const float *xt = x + (int64_t)t * cols;
            float *yt = y + (int64_t)t * p->rows;
            yt[r] = finish(p, h, sca, oc, xt, t, r, _mm512_reduce_add_epi32(a0));
            yt[r + 1] = finish(p, h, sca, oc, xt, t, r + 1, _mm512_reduce_add_epi32(a1));
            yt[r + 2] = finish(p, h, sca, oc, xt, t, r + 2, _mm512_reduce_add_epi32(a2));
            yt[r + 3] = finish(p, h, sca, oc, xt, t, r + 3, _mm512_reduce_add_epi32(a3));
        }
        for (; r < r1; r++) {
            const int8_t *qr = p->q + r * cols;
            __m512i a = _mm512_setzero_si512();
            for (int64_t j = 0; j < full; j += 64)
                a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512(ct + j), _mm512_loadu_si512(qr + j));
            if (tail)
                a = _mm512_dpbusd_epi32(a, _mm512_maskz_loadu_epi8(tail, ct + full),
                                        _mm512_maskz_loadu_epi8(tail, qr + full));
            y[(int64_t)t * p->rows + r] =
                finish(p, h, sca, oc, x + (int64_t)t * cols, t, r, _mm512_reduce_add_epi32(a));
        }
    }
}

__attribute__((target("avx2")))
static void mm_avx2(const int8w *p, const float *x, const char *s, float *y, int64_t r0, int64_t r1)
{
    const prep_hdr *h = (const prep_hdr *)s;
    const float *sca = (const float *)(s + off_sca());
    const int32_t *oc = (const int32_t *)(s + off_cols(h->n));
    const uint8_t *ca = (const uint8_t *)(s + off_ca(h->n, p->cols));
    int64_t cols = p->cols, full = cols & ~(int64_t)15;
    for (int t = 0; t < h->n; t++) {
        const uint8_t *ct = ca + (int64_t)t * cols;
        for (int64_t r = r0; r < r1; r++) {
            const int8_t *qr = p->q + r * cols;
            __m256i a = _mm256_setzero_si256();
            for (int64_t j = 0; j < full; j += 16) {
                __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(ct + j)));
                __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qr + j)));
                a = _mm256_add_epi32(a, _mm256_madd_epi16(xv, wv));
            }
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            int32_t d = _mm_cvtsi128_si32(s4);
            for (int64_t j = full; j < cols; j++) d += (int32_t)ct[j] * qr[j];
            y[(int64_t)t * p->rows + r] = finish(p, h, sca, oc, x + (int64_t)t * cols, t, r, d);
        }
    }
}
#endif

int bd_int8_matmul_kernel(int kind, const bd_tensor *w, const float *x, const void *scratch, int n,
                          float *y, int64_t r0, int64_t r1)
{
    const int8w *p = w->aux;
    (void)n;
    if (kind == 0) { mm_scalar(p, x, scratch, y, r0, r1); return 0; }
#ifdef BD_X86
    if (kind == 2 && bd_cpu_vnni512()) { mm_vnni(p, x, scratch, y, r0, r1); return 0; }
    if (kind == 1 && bd_cpu_avx2()) { mm_avx2(p, x, scratch, y, r0, r1); return 0; }
#endif
    return -1;
}

static void ops_matmul(const bd_tensor *w, const float *x, const void *scratch, int n, float *y,
                       int64_t r0, int64_t r1)
{
    if (bd_int8_matmul_kernel(2, w, x, scratch, n, y, r0, r1) == 0) return;
    if (bd_int8_matmul_kernel(1, w, x, scratch, n, y, r0, r1) == 0) return;
    bd_int8_matmul_kernel(0, w, x, scratch, n, y, r0, r1);
}

static void ops_row(const bd_tensor *t, int64_t r, float *dst)
{
    const int8w *p = t->aux;
    float s = p->scb[r] / 127.0f;
    for (int64_t j = 0; j < p->cols; j++) dst[j] = (float)p->q[r * p->cols + j] * s;
}

static void ops_free(bd_tensor *t)
{
    int8w *p = t->aux;
    if (p) { free(p->q); free(p->scb); free(p->rsum); free(p); }
    t->aux = NULL;
    t->data = NULL;
}

const bd_wops bd_int8_ops = {
    .name = "int8",
    .prep_size = ops_prep_size,
    .prep = ops_prep,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

int bd_int8_pack(bd_tensor *t, bd_err *err)
{
    if (t->ndim != 2)
        return bd_fail(err, BD_EINPUT, "%s: int8 needs a 2-D weight, got %d dims", t->name, t->ndim);
    int64_t rows = t->shape[0], cols = t->shape[1];
    if (rows <= 0 || cols <= 0 || rows > INT64_MAX / cols || cols > 65536)
        return bd_fail(err, BD_EINPUT, "%s: bad shape for int8 (at most 65536 inputs keep the int32 dot exact)", t->name);
    int8w *p = calloc(1, sizeof *p);
    float *w = bd_tensor_f32(t);
    if (p) {
        p->q = malloc((size_t)(rows * cols));
        p->scb = malloc((size_t)rows * sizeof(float));
        p->rsum = malloc((size_t)rows * sizeof(int32_t));
    }
    if (!p || !w || !p->q || !p->scb || !p->rsum) {
        free(w);
        if (p) { free(p->q); free(p->scb); free(p->rsum); free(p); }
        return bd_oom(err, "int8 weights");
    }
    p->rows = rows; p->cols = cols;
    bd_int8_quant_rows(w, rows, cols, p->q, p->scb);
    free(w);
    for (int64_t r = 0; r < rows; r++) {
        int32_t s = 0;
        for (int64_t j = 0; j < cols; j++) s += p->q[r * cols + j];
        p->rsum[r] = s;
    }
    /* memory figure: the int8 codes and fp32 row scales (the row sums are a
     * kernel convenience derivable from the codes) */
    bd_tensor_set_packed(t, p->q, (size_t)(rows * cols) + (size_t)rows * sizeof(float), &bd_int8_ops, p);
    return 0;
}

#include "parts.h"

int bd_int8_parts(const bd_tensor *t, bd_parts *pp)
{
    const int8w *p = t->aux;
    memset(pp, 0, sizeof *pp);
    pp->n = 2;
    pp->ptr[0] = p->q; pp->len[0] = (size_t)(p->rows * p->cols);
    pp->ptr[1] = p->scb; pp->len[1] = (size_t)p->rows * sizeof(float);
    return 0;
}

int bd_int8_restore(bd_tensor *t, void **bufs, const bd_parts *pp, bd_err *err)
{
    int8w *p = calloc(1, sizeof *p);
    int64_t rows = t->shape[0], cols = t->shape[1];
    if (p) p->rsum = malloc((size_t)rows * sizeof(int32_t));
    if (!p || !p->rsum) { free(p); return bd_oom(err, "int8"); }
    p->rows = rows; p->cols = cols; p->q = bufs[0]; p->scb = bufs[1];
    for (int64_t r = 0; r < rows; r++) {
        int32_t s = 0;
        for (int64_t j = 0; j < cols; j++) s += p->q[r * cols + j];
        p->rsum[r] = s;
    }
    bd_tensor_set_packed(t, p->q, pp->len[0] + pp->len[1], &bd_int8_ops, p);
    return 0;
}
