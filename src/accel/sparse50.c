/* Unstructured sparse weights: per row ceil(cols/32) uint32 mask words
 * (bit j of word b = input 32b+j kept), the kept values in input order, and
 * rows+1 offsets into the values. Values keep the tensor's F16/BF16 bits, so
 * the packed weights are exactly the dense pruned ones; only the summation
 * order of the kernels differs. */
#include <stdlib.h>
#include <string.h>

#include "sparse50.h"
#include "wanda.h"
#include "wutil.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BD_X86 1
#endif

typedef struct sp50 {
    int64_t rows, cols, words; /* words = mask words per row */
    bd_dtype vt;               /* BD_F16, BD_BF16 or BD_F32 */
    void *vals;                /* off[rows] values */
    uint32_t *mask;            /* rows * words */
    int64_t *off;              /* rows + 1 */
} sp50;

static inline float val_at(const sp50 *p, int64_t i)
{
    if (p->vt == BD_F16) return bd_f16_to_f32(((const uint16_t *)p->vals)[i]);
    if (p->vt == BD_BF16) return bd_bf16_to_f32(((const uint16_t *)p->vals)[i]);
    return ((const float *)p->vals)[i];
}

static size_t vsize(bd_dtype vt) { return vt == BD_F16 || vt == BD_BF16 ? 2 : 4; }

size_t bd_sparse50_bytes(int64_t rows, int64_t cols, int64_t nnz, bd_dtype vt)
{
    return (size_t)nnz * vsize(vt) + (size_t)(rows * ((cols + 31) / 32)) * sizeof(uint32_t) +
           (size_t)(rows + 1) * sizeof(int64_t);
}

static void ops_row(const bd_tensor *t, int64_t r, float *dst)
{
    const sp50 *p = t->aux;
    memset(dst, 0, (size_t)p->cols * sizeof(float));
    int64_t v = p->off[r];
    const uint32_t *mw = p->mask + r * p->words;
    for (int64_t b = 0; b < p->words; b++)
        for (uint32_t m = mw[b]; m; m &= m - 1) dst[b * 32 + __builtin_ctz(m)] = val_at(p, v++);
}

static void mm_scalar(const sp50 *p, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * p->cols;
        for (int64_t r = r0; r < r1; r++) {
            float s = 0.0f;
            int64_t v = p->off[r];
            const uint32_t *mw = p->mask + r * p->words;
            for (int64_t b = 0; b < p->words; b++)
                for (uint32_t m = mw[b]; m; m &= m - 1) s += val_at(p, v++) * xt[b * 32 + __builtin_ctz(m)];
            y[(int64_t)t * p->rows + r] = s;
        }
    }
}

#ifdef BD_X86
#define SP50_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi2,avx512vl,f16c,popcnt")))

/* 32 inputs of a row as two fp32 vectors: expand the next popcount(m) kept
 * values into the mask's lanes (zeros elsewhere); returns the values consumed. */
SP50_TARGET static inline int expand32(const sp50 *p, const void *vp, uint32_t m, __m512 *lo, __m512 *hi)
{
    if (p->vt == BD_F32) {
        const float *f = vp;
        __mmask16 ml = (__mmask16)(m & 0xffff), mh = (__mmask16)(m >> 16);
        *lo = _mm512_maskz_expandloadu_ps(ml, f);
        *hi = _mm512_maskz_expandloadu_ps(mh, f + __builtin_popcount(m & 0xffff));
    } else {
        __m512i v = _mm512_maskz_expandloadu_epi16((__mmask32)m, vp);
        __m256i a = _mm512_castsi512_si256(v), b = _mm512_extracti64x4_epi64(v, 1);
        if (p->vt == BD_F16) {
            *lo = _mm512_cvtph_ps(a);
            *hi = _mm512_cvtph_ps(b);
        } else {
            *lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(a), 16));
            *hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
        }
    }
    return __builtin_popcount(m);
}

/* F16/BF16 rows, the decode case: one 32-input block per step. Decode is
 * bound by memory: software prefetch runs ahead of both streams, across row
 * ends (rows follow each other in memory; the hardware prefetcher stops at
 * page boundaries). x is read unmasked for full blocks and only at kept
 * lanes of a short last block, so it never reads past the row. */
#ifndef SP50_PF
#define SP50_PF 2048 /* bytes of values ahead */
#endif
#define SP50_BLOCK16(CVT, vp, m, xl, xh, a0, a1) do {                          \
        __m512i v_ = _mm512_maskz_expandloadu_epi16((__mmask32)(m), vp);        \
        vp += __builtin_popcount(m);                                           \
        a0 = _mm512_fmadd_ps(CVT(_mm512_castsi512_si256(v_)), xl, a0);          \
        a1 = _mm512_fmadd_ps(CVT(_mm512_extracti64x4_epi64(v_, 1)), xh, a1);    \
    } while (0)

SP50_TARGET static inline __m512 cvt_f16(__m256i a) { return _mm512_cvtph_ps(a); }
SP50_TARGET static inline __m512 cvt_bf16(__m256i a)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(a), 16));
}

#define SP50_MM16(NAME, CVT)                                                                    \
SP50_TARGET static void NAME(const sp50 *p, const float *xt, float *yt, int64_t r0, int64_t r1) \
{                                                                                               \
    int64_t full = p->cols / 32;                                                                \
    const uint16_t *vals = p->vals;                                                             \
    for (int64_t r = r0; r < r1; r++) {                                                         \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;                                               \
        const uint16_t *va = vals + p->off[r];                                                  \
        const uint32_t *ma = p->mask + r * p->words;                                            \
        for (int64_t b = 0; b < full; b++) {                                                    \
            _mm_prefetch((const char *)va + SP50_PF, _MM_HINT_T0);                             \
            if (!(b & 15)) _mm_prefetch((const char *)(ma + b) + SP50_PF / 8, _MM_HINT_T0);     \
            __m512 xl = _mm512_loadu_ps(xt + b * 32), xh = _mm512_loadu_ps(xt + b * 32 + 16);   \
            SP50_BLOCK16(CVT, va, ma[b], xl, xh, a0, a1);                                       \
        }                                                                                       \
        for (int64_t b = full; b < p->words; b++) {                                             \
            uint32_t m = ma[b];                                                                 \
            __m512 xl = _mm512_maskz_loadu_ps((__mmask16)(m & 0xffff), xt + b * 32);            \
            __m512 xh = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), xt + b * 32 + 16);          \
            SP50_BLOCK16(CVT, va, m, xl, xh, a0, a1);                                           \
        }                                                                                       \
        yt[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                    \
    }                                                                                           \
}
SP50_MM16(mm_f16, cvt_f16)
SP50_MM16(mm_bf16, cvt_bf16)

SP50_TARGET static void mm_avx512(const sp50 *p, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    size_t vs = vsize(p->vt);
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * p->cols;
        if (p->vt == BD_F16) { mm_f16(p, xt, y + (int64_t)t * p->rows, r0, r1); continue; }
        if (p->vt == BD_BF16) { mm_bf16(p, xt, y + (int64_t)t * p->rows, r0, r1); continue; }
        for (int64_t r = r0; r < r1; r++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            const char *vp = (const char *)p->vals + (size_t)p->off[r] * vs;
            const uint32_t *mw = p->mask + r * p->words;
            for (int64_t b = 0; b < p->words; b++) {
                uint32_t m = mw[b];
                __m512 lo, hi;
                vp += (size_t)expand32(p, vp, m, &lo, &hi) * vs;
                __m512 xl = _mm512_maskz_loadu_ps((__mmask16)(m & 0xffff), xt + b * 32);
                __m512 xh = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), xt + b * 32 + 16);
                a0 = _mm512_fmadd_ps(lo, xl, a0);
                a1 = _mm512_fmadd_ps(hi, xh, a1);
            }
            y[(int64_t)t * p->rows + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        }
    }
}

/* Full rows for the batched path (cols % 16 == 0, so blocks are 16-aligned). */
SP50_TARGET static void deq_rows_avx512(const void *fmt, int64_t r, int nr, float *buf, int64_t ld)
{
    const sp50 *p = fmt;
    size_t vs = vsize(p->vt);
    for (int i = 0; i < nr; i++) {
        float *d = buf + i * ld;
        const char *vp = (const char *)p->vals + (size_t)p->off[r + i] * vs;
        const uint32_t *mw = p->mask + (r + i) * p->words;
        for (int64_t b = 0; b < p->words; b++) {
            __m512 lo, hi;
            vp += (size_t)expand32(p, vp, mw[b], &lo, &hi) * vs;
            _mm512_storeu_ps(d + b * 32, lo);
            if (b * 32 + 16 < p->cols) _mm512_storeu_ps(d + b * 32 + 16, hi);
        }
    }
}

static int have_vbmi2(void) { return bd_cpu_avx512() && __builtin_cpu_supports("avx512vbmi2"); }
#endif

int bd_sparse50_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0,
                              int64_t r1)
{
    const sp50 *p = w->aux;
    if (kind == 0) { mm_scalar(p, x, n, y, r0, r1); return 0; }
#ifdef BD_X86
    if (kind == 2 && have_vbmi2()) {
        if (n > 1 && bd_tiled_matmul(p, deq_rows_avx512, p->cols, p->rows, x, n, y, r0, r1) == 0) return 0;
        mm_avx512(p, x, n, y, r0, r1);
        return 0;
    }
#endif
    return -1;
}

static void ops_matmul(const bd_tensor *w, const float *x, const void *scratch, int n, float *y,
                       int64_t r0, int64_t r1)
{
    (void)scratch;
    if (bd_sparse50_matmul_kernel(2, w, x, n, y, r0, r1) == 0) return;
    bd_sparse50_matmul_kernel(0, w, x, n, y, r0, r1);
}

static void sp_free(sp50 *p)
{
    if (p) { free(p->vals); free(p->mask); free(p->off); free(p); }
}

static void ops_free(bd_tensor *t)
{
    sp_free(t->aux);
    t->aux = NULL;
    t->data = NULL;
}

const bd_wops bd_sparse50_ops = {
    .name = "sparse50",
    .prep_size = NULL,
    .prep = NULL,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

static int valid_shape(const bd_tensor *t)
{
    return t->ndim == 2 && t->shape[0] > 0 && t->shape[1] > 0 && t->shape[0] <= INT64_MAX / t->shape[1];
}

int bd_sparse50_pack(bd_tensor *t, bd_err *err)
{
    if (!valid_shape(t)) return bd_fail(err, BD_EINPUT, "%s: sparse packing needs a 2-D weight", t->name);
    int64_t rows = t->shape[0], cols = t->shape[1], words = (cols + 31) / 32;
    bd_dtype vt = t->dtype == BD_F16 || t->dtype == BD_BF16 ? t->dtype : BD_F32;
    float *w = bd_tensor_f32(t);
    sp50 *p = calloc(1, sizeof *p);
    if (p) {
        p->mask = calloc((size_t)(rows * words), sizeof(uint32_t));
        p->off = malloc((size_t)(rows + 1) * sizeof(int64_t));
    }
    if (!w || !p || !p->mask || !p->off) { free(w); sp_free(p); return bd_oom(err, "sparse weights"); }
    p->rows = rows; p->cols = cols; p->words = words; p->vt = vt;
    int64_t nnz = 0;
    for (int64_t i = 0; i < rows * cols; i++) nnz += w[i] != 0.0f;
    p->vals = malloc((size_t)(nnz > 0 ? nnz : 1) * vsize(vt));
    if (!p->vals) { free(w); sp_free(p); return bd_oom(err, "sparse weights"); }
    int64_t v = 0;
    for (int64_t r = 0; r < rows; r++) {
        p->off[r] = v;
        for (int64_t j = 0; j < cols; j++) {
            float f = w[r * cols + j];
            if (f == 0.0f) continue; /* -0.0 too: it contributes nothing either */
            p->mask[r * words + j / 32] |= 1u << (j % 32);
            /* exact: f came from a value of this dtype */
            if (vt == BD_F16) ((uint16_t *)p->vals)[v] = bd_f32_to_f16(f);
            else if (vt == BD_BF16) ((uint16_t *)p->vals)[v] = bd_f32_to_bf16(f);
            else ((float *)p->vals)[v] = f;
            v++;
        }
    }
    p->off[rows] = v;
    free(w);
    bd_tensor_set_packed(t, p->vals, bd_sparse50_bytes(rows, cols, nnz, vt), &bd_sparse50_ops, p);
    return 0;
}

static int64_t count_nnz(const bd_tensor *t, float *row)
{
    int64_t nnz = 0;
    for (int64_t r = 0; r < t->shape[0]; r++) {
        bd_tensor_row(t, r, row);
        for (int64_t j = 0; j < t->shape[1]; j++) nnz += row[j] != 0.0f;
    }
    return nnz;
}

int bd_sparse50_pack_model(bd_model *m, int64_t *n_converted, bd_err *err)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int n = bd_accel_linears(m, l, lin);
        for (int i = 0; i < n; i++) {
            bd_tensor *t = lin[i];
            if ((t->dtype != BD_F16 && t->dtype != BD_BF16) || !valid_shape(t)) continue;
            float *row = malloc((size_t)t->shape[1] * sizeof(float));
            if (!row) return bd_oom(err, "sparse weights");
            int64_t nnz = count_nnz(t, row);
            free(row);
            if (bd_sparse50_bytes(t->shape[0], t->shape[1], nnz, t->dtype) >= t->nbytes) continue;
            int rc = bd_sparse50_pack(t, err);
            if (rc) return rc;
            (*n_converted)++;
        }
    }
    return 0;
}

int bd_sparse50_parts(const bd_tensor *t, bd_parts *pp)
{
    const sp50 *p = t->aux;
    memset(pp, 0, sizeof *pp);
    pp->n = 3;
    pp->param[0] = p->vt;
    pp->param[1] = p->off[p->rows];
    pp->ptr[0] = p->vals; pp->len[0] = (size_t)p->off[p->rows] * vsize(p->vt);
    pp->ptr[1] = p->mask; pp->len[1] = (size_t)(p->rows * p->words) * sizeof(uint32_t);
    pp->ptr[2] = p->off; pp->len[2] = (size_t)(p->rows + 1) * sizeof(int64_t);
    return 0;
}

/* Restored arrays come from a file: check that masks and offsets agree so
 * the kernels never index past the values. */
int bd_sparse50_restore(bd_tensor *t, void **bufs, const bd_parts *pp, bd_err *err)
{
    if (!valid_shape(t) || pp->n != 3 ||
        (pp->param[0] != BD_F16 && pp->param[0] != BD_BF16 && pp->param[0] != BD_F32))
        return bd_fail(err, BD_EINPUT, "%s: bad sparse50 parameters", t->name);
    int64_t rows = t->shape[0], cols = t->shape[1], words = (cols + 31) / 32, nnz = pp->param[1];
    bd_dtype vt = (bd_dtype)pp->param[0];
    if (nnz < 0 || nnz > rows * cols || pp->len[0] != (size_t)nnz * vsize(vt) ||
        pp->len[1] != (size_t)(rows * words) * sizeof(uint32_t) || pp->len[2] != (size_t)(rows + 1) * sizeof(int64_t))
        return bd_fail(err, BD_EINPUT, "%s: sparse50 part lengths do not match its shape", t->name);
    const uint32_t *mask = bufs[1];
    const int64_t *off = bufs[2];
    uint32_t tail = cols % 32 ? ~((1u << (cols % 32)) - 1) : 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = 0;
        for (int64_t b = 0; b < words; b++) c += __builtin_popcount(mask[r * words + b]);
        if ((r == 0 && off[0] != 0) || (mask[r * words + words - 1] & tail))
            return bd_fail(err, BD_EINPUT, "%s: row %lld: sparse50 mask/offsets inconsistent", t->name, (long long)r);
        if (off[r + 1] != off[r] + c)
            return bd_fail(err, BD_EINPUT, "%s: row %lld: sparse50 offset %lld, expected %lld", t->name,
                           (long long)r + 1, (long long)off[r + 1], (long long)(off[r] + c));
    }
    if (off[rows] != nnz) return bd_fail(err, BD_EINPUT, "%s: sparse50 offsets end at %lld, expected %lld", t->name, (long long)off[rows], (long long)nnz);
    sp50 *p = calloc(1, sizeof *p);
    if (!p) return bd_oom(err, "sparse50");
    p->rows = rows; p->cols = cols; p->words = words; p->vt = vt;
    p->vals = bufs[0]; p->mask = bufs[1]; p->off = bufs[2];
    bd_tensor_set_packed(t, p->vals, pp->len[0] + pp->len[1] + pp->len[2], &bd_sparse50_ops, p);
    return 0;
}
