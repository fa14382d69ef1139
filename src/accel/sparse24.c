/* 2:4 semi-structured weights: per run of 4 inputs, 2 values in the
 * tensor's float dtype (f16/bf16 kept as 16 bits, anything else as f32) and
 * their positions as 2-bit indices, 8 runs' indices in one uint32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wanda.h"
#include "wutil.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BD_X86 1
#endif

typedef struct sp24 {
    int64_t rows, cols, runs;  /* runs = cols/4 per row */
    bd_dtype vt;               /* BD_F16, BD_BF16 or BD_F32 */
    void *vals;                /* rows * runs * 2 values */
    uint32_t *idx;             /* rows * ceil(runs/8) words */
    int64_t words;             /* per row */
} sp24;

static inline float val_at(const sp24 *p, int64_t i)
{
    if (p->vt == BD_F16) return bd_f16_to_f32(((const uint16_t *)p->vals)[i]);
    if (p->vt == BD_BF16) return bd_bf16_to_f32(((const uint16_t *)p->vals)[i]);
    return ((const float *)p->vals)[i];
}

static void ops_row(const bd_tensor *t, int64_t r, float *dst)
{
    const sp24 *p = t->aux;
    memset(dst, 0, (size_t)p->cols * sizeof(float));
    for (int64_t g = 0; g < p->runs; g++) {
        uint32_t wd = p->idx[r * p->words + g / 8];
        int sh = (int)(g % 8) * 4;
        int i0 = (wd >> sh) & 3, i1 = (wd >> (sh + 2)) & 3;
        int64_t v = (r * p->runs + g) * 2;
        dst[g * 4 + i0] += val_at(p, v);
        dst[g * 4 + i1] += val_at(p, v + 1);
    }
}

static void mm_scalar(const sp24 *p, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * p->cols;
        for (int64_t r = r0; r < r1; r++) {
            float s = 0.0f;
            for (int64_t g = 0; g < p->runs; g++) {
                uint32_t wd = p->idx[r * p->words + g / 8];
                int sh = (int)(g % 8) * 4;
                int64_t v = (r * p->runs + g) * 2;
                s += val_at(p, v) * xt[g * 4 + ((wd >> sh) & 3)];
                s += val_at(p, v + 1) * xt[g * 4 + ((wd >> (sh + 2)) & 3)];
            }
            y[(int64_t)t * p->rows + r] = s;
        }
    }
}

#ifdef BD_X86
/* 8 runs (32 inputs, 16 kept values) per step: the positions become lane
 * indices into the two 16-float halves of x and one permute gathers them. */
__attribute__((target("avx512f,avx512bw,avx512vl,f16c")))
static void mm_avx512(const sp24 *p, const float *x, int n, float *y, int64_t r0, int64_t r1)
{
    const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    const __m512i three = _mm512_set1_epi32(3);
    int64_t full = p->runs / 8;
    for (int t = 0; t < n; t++) {
        const float *xt = x + (int64_t)t * p->cols;
        for (int64_t r = r0; r < r1; r++) {
            __m512 acc = _mm512_setzero_ps();
            const uint32_t *iw = p->idx + r * p->words;
            int64_t v0 = r * p->runs * 2;
            for (int64_t b = 0; b < full; b++) {
                __m512i id = _mm512_add_epi32(
                    _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32((int)iw[b]), shifts), three), base);
                __m512 xs = _mm512_permutex2var_ps(_mm512_loadu_ps(xt + b * 32), id,
                                                   _mm512_loadu_ps(xt + b * 32 + 16));
                __m512 vv;
                if (p->vt == BD_F16)
                    vv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p->vals + v0 + b * 16)));
                else if (p->vt == BD_BF16)
                    vv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
                        _mm256_loadu_si256((const __m256i *)((const uint16_t *)p->vals + v0 + b * 16))), 16));
                else
                    vv = _mm512_loadu_ps((const float *)p->vals + v0 + b * 16);
                acc = _mm512_fmadd_ps(vv, xs, acc);
            }
            float s = _mm512_reduce_add_ps(acc);
            for (int64_t g = full * 8; g < p->runs; g++) {
                uint32_t wd = iw[g / 8];
                int sh = (int)(g % 8) * 4;
                int64_t v = v0 + g * 2;
                s += val_at(p, v) * xt[g * 4 + ((wd >> sh) & 3)];
                s += val_at(p, v + 1) * xt[g * 4 + ((wd >> (sh + 2)) & 3)];
            }
            y[(int64_t)t * p->rows + r] = s;
        }
    }
}
/* Full rows for the batched path: zero the row, scatter the kept values. */
__attribute__((target("avx512f,avx512bw,avx512vl,f16c")))
static void deq_rows_avx512(const void *fmt, int64_t r, int nr, float *buf, int64_t ld)
{
    const sp24 *p = fmt;
    const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    const __m512i three = _mm512_set1_epi32(3);
    int64_t full = p->runs / 8;
    for (int i = 0; i < nr; i++) {
        float *d = buf + i * ld;
        memset(d, 0, sizeof(float) * (size_t)p->cols);
        const uint32_t *iw = p->idx + (r + i) * p->words;
        int64_t v0 = (r + i) * p->runs * 2;
        for (int64_t b = 0; b < full; b++) {
            __m512i id = _mm512_add_epi32(
                _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32((int)iw[b]), shifts), three), base);
            __m512 vv;
            if (p->vt == BD_F16)
                vv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p->vals + v0 + b * 16)));
            else if (p->vt == BD_BF16)
                vv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(
                    _mm256_loadu_si256((const __m256i *)((const uint16_t *)p->vals + v0 + b * 16))), 16));
            else
                vv = _mm512_loadu_ps((const float *)p->vals + v0 + b * 16);
            _mm512_i32scatter_ps(d + b * 32, id, vv, 4);
        }
        for (int64_t g = full * 8; g < p->runs; g++) {
            uint32_t wd = iw[g / 8];
            int sh = (int)(g % 8) * 4;
            d[g * 4 + ((wd >> sh) & 3)] += val_at(p, v0 + g * 2);
            d[g * 4 + ((wd >> (sh + 2)) & 3)] += val_at(p, v0 + g * 2 + 1);
        }
    }
}
#endif

int bd_sparse24_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0,
                              int64_t r1)
{
    const sp24 *p = w->aux;
    if (kind == 0) { mm_scalar(p, x, n, y, r0, r1); return 0; }
#ifdef BD_X86
    if (kind == 2 && bd_cpu_avx512()) {
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
    if (bd_sparse24_matmul_kernel(2, w, x, n, y, r0, r1) == 0) return;
    bd_sparse24_matmul_kernel(0, w, x, n, y, r0, r1);
}

static void ops_free(bd_tensor *t)
{
    sp24 *p = t->aux;
    if (p) { free(p->vals); free(p->idx); free(p); }
    t->aux = NULL;
    t->data = NULL;
}

const bd_wops bd_sparse24_ops = {
    .name = "sparse24",
    .prep_size = NULL,
    .prep = NULL,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

int bd_sparse24_pack(bd_tensor *t, bd_err *err)
{
    if (t->ndim != 2 || t->shape[1] % 4 || t->shape[0] <= 0 || t->shape[1] <= 0)
        return bd_fail(err, BD_EINPUT, "%s: 2:4 packing needs a 2-D weight with a multiple of 4 inputs", t->name);
    int64_t rows = t->shape[0], cols = t->shape[1], runs = cols / 4, words = (runs + 7) / 8;
    bd_dtype vt = t->dtype == BD_F16 || t->dtype == BD_BF16 ? t->dtype : BD_F32;
    size_t vsz = vt == BD_F32 ? 4 : 2;
    sp24 *p = calloc(1, sizeof *p);
    float *w = bd_tensor_f32(t);
    if (p) {
        p->vals = malloc((size_t)(rows * runs * 2) * vsz);
        p->idx = calloc((size_t)(rows * words), sizeof(uint32_t));
    }
    if (!p || !w || !p->vals || !p->idx) {
        free(w);
        if (p) { free(p->vals); free(p->idx); free(p); }
        return bd_oom(err, "2:4 weights");
    }
    p->rows = rows; p->cols = cols; p->runs = runs; p->vt = vt; p->words = words;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < runs; g++) {
            const float *q = w + r * cols + g * 4;
            int pos[2] = {-1, -1}, k = 0;
            for (int i = 0; i < 4; i++)
                if (q[i] != 0.0f) {
                    if (k == 2) {
                        free(w); free(p->vals); free(p->idx); free(p);
                        return bd_fail(err, BD_EINPUT, "%s: row %lld inputs %lld..%lld have more than 2 nonzeros; "
                                       "not a 2:4 pattern", t->name, (long long)r, (long long)g * 4,
                                       (long long)g * 4 + 3);
                    }
                    pos[k++] = i;
                }
            /* fill unused slots with zero values at distinct free positions */
            for (int i = 0; k < 2 && i < 4; i++)
                if (i != pos[0]) pos[k++] = i;
            int64_t v = (r * runs + g) * 2;
            for (int s = 0; s < 2; s++) {
                float f = q[pos[s]];
                if (vt == BD_F16) ((uint16_t *)p->vals)[v + s] = bd_f32_to_f16(f);
                else if (vt == BD_BF16) ((uint16_t *)p->vals)[v + s] = bd_f32_to_bf16(f);
                else ((float *)p->vals)[v + s] = f;
            }
            p->idx[r * words + g / 8] |= (uint32_t)(pos[0] | pos[1] << 2) << ((g % 8) * 4);
        }
    free(w);
    size_t bytes = (size_t)(rows * runs * 2) * vsz + (size_t)(rows * words) * sizeof(uint32_t);
    bd_tensor_set_packed(t, p->vals, bytes, &bd_sparse24_ops, p);
    return 0;
}

int bd_sparse24_pack_model(bd_model *m, int64_t *n_converted, bd_err *err)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int n = bd_accel_linears(m, l, lin);
        for (int i = 0; i < n; i++) {
            int rc = bd_sparse24_pack(lin[i], err);
            if (rc) return rc;
            (*n_converted)++;
        }
    }
    return 0;
}

#include "parts.h"

int bd_sparse24_parts(const bd_tensor *t, bd_parts *pp)
{
    const sp24 *p = t->aux;
    memset(pp, 0, sizeof *pp);
    pp->n = 2;
    pp->param[0] = p->vt;
    pp->ptr[0] = p->vals; pp->len[0] = (size_t)(p->rows * p->runs * 2) * (p->vt == BD_F32 ? 4 : 2);
    pp->ptr[1] = p->idx; pp->len[1] = (size_t)(p->rows * p->words) * sizeof(uint32_t);
    return 0;
}

int bd_sparse24_restore(bd_tensor *t, void **bufs, const bd_parts *pp, bd_err *err)
{
    sp24 *p = calloc(1, sizeof *p);
    if (!p) return bd_oom(err, "2:4");
    p->rows = t->shape[0]; p->cols = t->shape[1]; p->runs = p->cols / 4; p->words = (p->runs + 7) / 8;
    p->vt = (bd_dtype)pp->param[0];
    p->vals = bufs[0]; p->idx = bufs[1];
    bd_tensor_set_packed(t, p->vals, pp->len[0] + pp->len[1], &bd_sparse24_ops, p);
    return 0;
}
