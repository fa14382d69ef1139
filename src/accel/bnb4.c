/* bitsandbytes FP4/NF4: quantizer, double quantization, packed format and
 * matmul kernels (scalar reference, AVX2, AVX-512). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnb4.h"
#include "wutil.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BD_X86 1
#endif

/* NF4: bnb's literal table (as float32). */
static const float NF4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
/* FP4: raw bias-3 magnitudes divided (in fp32) by their max 12; bnb stores
 * code 8 ("-0") as +0.0. */
#define F4(v) ((float)(v) / 12.0f)
static const float FP4[16] = {
    F4(0.0), F4(0.0625), F4(8.0), F4(12.0), F4(4.0), F4(6.0), F4(2.0), F4(3.0),
    F4(0.0), -F4(0.0625), -F4(8.0), -F4(12.0), -F4(4.0), -F4(6.0), -F4(2.0), -F4(3.0)};
#undef F4
/* Ascending order of the FP4 table as torch.argsort returns it (the two zeros
 * in the order +0, -0): the bucket between them is x in (0, 1/384]. */
static const uint8_t FP4_ORDER[16] = {11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3};
static const uint8_t NF4_ORDER[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

const float *bd_bnb4_code(int type) { return type == BD_BNB_NF4 ? NF4 : FP4; }

/* bucketize(x, mids) with right=False: the number of midpoints strictly below x. */
static inline int bucket(const float mids[15], float x)
{
    /* mids ascend, so the count is a lower bound: four branch-free steps */
    int i = 0;
    i += (mids[i + 7] < x) << 3;
    i += (mids[i + 3] < x) << 2;
    i += (mids[i + 1] < x) << 1;
    i += mids[i] < x;
    return i;
}

static void midpoints(int type, float mids[15], const uint8_t **order)
{
    const float *c = bd_bnb4_code(type);
    const uint8_t *o = type == BD_BNB_NF4 ? NF4_ORDER : FP4_ORDER;
    for (int i = 0; i < 15; i++) mids[i] = (c[o[i]] + c[o[i + 1]]) / 2.0f;
    *order = o;
}

static inline float clamp1(float x) { return x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x; }

void bd_bnb4_quantize(const float *w, int64_t n, int type, int bs, uint8_t *q, float *absmax)
{
    float mids[15];
    const uint8_t *order;
    midpoints(type, mids, &order);
    int64_t full = n - n % bs;
    memset(q, 0, (size_t)((n + 1) / 2));
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
        int64_t len = n - b0 < bs ? n - b0 : bs;
        float am = 0.0f;
        for (int64_t i = 0; i < len; i++) am = fmaxf(am, fabsf(w[b0 + i]));
        float amc = fmaxf(am, 1e-38f);
        int partial = b0 >= full;
        absmax[b0 / bs] = partial ? amc : am;
        float rcp = 1.0f / amc;
        for (int64_t i = 0; i < len; i++) {
            float x = partial ? w[b0 + i] / amc : w[b0 + i] * rcp;
            x = clamp1(x);
            uint8_t c = order[bucket(mids, x)];
            int64_t k = b0 + i;
            q[k >> 1] |= (uint8_t)((k & 1) ? c : c << 4);
        }
    }
    if (n & 1) q[n >> 1] |= order[bucket(mids, 0.0f)]; /* bnb pads the odd tail with a 0 value */
}

void bd_bnb4_dequant(const uint8_t *q, const float *absmax, int64_t n, int type, int bs, float *out)
{
    const float *c = bd_bnb4_code(type);
    for (int64_t k = 0; k < n; k++) {
        int code = (k & 1) ? q[k >> 1] & 15 : q[k >> 1] >> 4;
        out[k] = c[code] * absmax[k / bs];
    }
}

/* torch.linspace for float32 (CPU): step in fp32, the first half counted
 * from start, the second half back from end, each with one rounding (fma). */
static void linspace_f32(float start, float end, int steps, float *out)
{
    float step = (end - start) / (float)(steps - 1);
    int half = steps / 2;
    for (int i = 0; i < steps; i++)
        out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - i - 1), end);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void bd_bnb_dynamic_map(float map[256])
{
    int n = 0;
    float bnd[65];
    for (int i = 0; i < 7; i++) {
        int items = (1 << i) + 1;
        linspace_f32(0.1f, 1.0f, items, bnd);
        float scale = (float)pow(10.0, (double)(i - 6));
        for (int j = 0; j + 1 < items; j++) {
            float mean = (bnd[j] + bnd[j + 1]) / 2.0f;
            map[n++] = scale * mean;
            map[n++] = -scale * mean;
        }
    }
    map[n++] = 0.0f;
    map[n++] = 1.0f;
    qsort(map, (size_t)n, sizeof *map, cmp_float);
}

static int nearest256(const float map[256], float x)
{
    /* exact nearest, ties to the lower index (first minimum) */
    int lo = 0, hi = 255;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (map[mid] <= x) lo = mid; else hi = mid;
    }
    double dl = fabs((double)x - map[lo]), dh = fabs((double)x - map[hi]);
    if (x <= map[0]) return 0;
    return dh < dl ? hi : lo;
}

void bd_bnb_dq_quantize(const float *absmax, int64_t nb, uint8_t *qabs, float *abs2, float *offset)
{
    float map[256];
    bd_bnb_dynamic_map(map);
    double sum = 0;
    for (int64_t i = 0; i < nb; i++) sum += absmax[i];
    float off = nb ? (float)(sum / (double)nb) : 0.0f;
    *offset = off;
    for (int64_t b0 = 0; b0 < nb; b0 += 256) {
        int64_t len = nb - b0 < 256 ? nb - b0 : 256;
        float m = 0.0f;
        for (int64_t i = 0; i < len; i++) m = fmaxf(m, fabsf(absmax[b0 + i] - off));
        abs2[b0 / 256] = m;
        for (int64_t i = 0; i < len; i++) {
            float x = m > 0 ? (absmax[b0 + i] - off) / m : 0.0f;
            qabs[b0 + i] = (uint8_t)nearest256(map, x);
        }
    }
}

float bd_bnb_dq_value(const float map[256], const uint8_t *qabs, const float *abs2, float offset,
                      int64_t b)
{
    return map[qabs[b]] * abs2[b / 256] + offset;
}

/* ------------------------------------------------------------ packed format */

typedef struct bnb4w {
    int type, bs, dq;
    int64_t rows, cols, nblocks;
    uint8_t *q;        /* (rows*cols+1)/2 */
    float *absmax;     /* nblocks, or NULL with dq */
    uint8_t *qabs;     /* dq: nblocks codes */
    float *abs2;       /* dq: ceil(nblocks/256) */
    float offset;
    float map[256];    /* dq: dynamic map (decode table, not counted as weights) */
} bnb4w;

static inline float blk_scale(const bnb4w *p, int64_t b)
{
    return p->dq ? bd_bnb_dq_value(p->map, p->qabs, p->abs2, p->offset, b) : p->absmax[b];
}

static void ops_row(const bd_tensor *t, int64_t r, float *dst)
{
    const bnb4w *p = t->aux;
    const float *c = bd_bnb4_code(p->type);
    int64_t k0 = r * p->cols;
    for (int64_t j = 0; j < p->cols; j++) {
        int64_t k = k0 + j;
        int code = (k & 1) ? p->q[k >> 1] & 15 : p->q[k >> 1] >> 4;
        dst[j] = c[code] * blk_scale(p, k / p->bs);
    }
}

static void ops_free(bd_tensor *t)
{
    bnb4w *p = t->aux;
    if (p) {
        free(p->q); free(p->absmax); free(p->qabs); free(p->abs2);
        free(p);
    }
    t->aux = NULL;
    t->data = NULL;
}

/* Scalar reference: dequantize each row, then plain dot products. */
static void mm_scalar(const bnb4w *p, const float *x, int n, float *y, int64_t r0, int64_t r1,
                      int64_t out)
{
    float buf[256];
    const float *c = bd_bnb4_code(p->type);
    for (int64_t r = r0; r < r1; r++) {
        for (int t = 0; t < n; t++) y[(int64_t)t * out + r] = 0.0f;
        for (int64_t j0 = 0; j0 < p->cols; j0 += 256) {
            int64_t len = p->cols - j0 < 256 ? p->cols - j0 : 256;
            for (int64_t j = 0; j < len; j++) {
                int64_t k = r * p->cols + j0 + j;
                int code = (k & 1) ? p->q[k >> 1] & 15 : p->q[k >> 1] >> 4;
                buf[j] = c[code] * blk_scale(p, k / p->bs);
            }
            for (int t = 0; t < n; t++) {
                const float *xt = x + (int64_t)t * p->cols + j0;
                float s = 0.0f;
                for (int64_t j = 0; j < len; j++) s += buf[j] * xt[j];
                y[(int64_t)t * out + r] += s;
            }
        }
    }
}

#ifdef BD_X86
/* 16 codes from 8 packed bytes, in element order (high nibble first). */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512 nib16_512(const uint8_t *q, __m512 tbl)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)q);
    __m128i lo = _mm_and_si128(v, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(15));
    __m128i inter = _mm_unpacklo_epi8(hi, lo);
    return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(inter), tbl);
}

/* Decode (one token): the codes of a byte's two nibbles multiply x at even
 * and odd positions, so x is split once per call into its even and odd
 * halves and each 16 bytes need one widening, two permutes and two FMAs. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void mv_avx512(const bnb4w *p, const float *xe, const float *xo, float *y, int64_t r0, int64_t r1)
{
    const __m512 tbl = _mm512_loadu_ps(bd_bnb4_code(p->type));
    const __m512i m15 = _mm512_set1_epi32(15);
    int64_t nbr = p->cols / 64;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *q = p->q + r * p->cols / 2;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t b = 0; b < nbr; b++) {
            const uint8_t *qb = q + b * 32;
            __m512i v0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qb));
            __m512i v1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qb + 16)));
            const float *e = xe + b * 32, *o = xo + b * 32;
            __m512 s0 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v0, 4), tbl), _mm512_loadu_ps(e));
            __m512 s1 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_and_si512(v0, m15), tbl), _mm512_loadu_ps(o));
            s0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v1, 4), tbl), _mm512_loadu_ps(e + 16), s0);
            s1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_and_si512(v1, m15), tbl), _mm512_loadu_ps(o + 16), s1);
            acc = _mm512_fmadd_ps(_mm512_add_ps(s0, s1), _mm512_set1_ps(blk_scale(p, r * nbr + b)), acc);
        }
        y[r] = _mm512_reduce_add_ps(acc);
    }
}


/* Full rows dequantized for the batched path (bd_tiled_matmul). */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void deq_rows_avx512(const void *fmt, int64_t r, int nr, float *buf, int64_t ld)
{
    const bnb4w *p = fmt;
    const __m512 tbl = _mm512_loadu_ps(bd_bnb4_code(p->type));
    int64_t nbr = p->cols / 64;
    for (int i = 0; i < nr; i++) {
        const uint8_t *q = p->q + (r + i) * p->cols / 2;
        float *d = buf + i * ld;
        for (int64_t b = 0; b < nbr; b++) {
            __m512 sc = _mm512_set1_ps(blk_scale(p, (r + i) * nbr + b));
            for (int k = 0; k < 4; k++)
                _mm512_storeu_ps(d + b * 64 + 16 * k, _mm512_mul_ps(nib16_512(q + b * 32 + 8 * k, tbl), sc));
        }
    }
}

enum { TILE = 512 };

/* Batched: dequantize 4 rows x 512 columns, then all tokens reuse the tile. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void mm_avx512(const bnb4w *p, const float *x, int n, float *y, int64_t r0, int64_t r1, int64_t out)
{
    const __m512 tbl = _mm512_loadu_ps(bd_bnb4_code(p->type));
    int64_t nbr = p->cols / 64;
    float buf[4 * TILE] __attribute__((aligned(64)));
    for (int64_t r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
        for (int t = 0; t < n; t++)
            for (int i = 0; i < nr; i++) y[(int64_t)t * out + r + i] = 0.0f;
        for (int64_t j0 = 0; j0 < p->cols; j0 += TILE) {
            int64_t len = p->cols - j0 < TILE ? p->cols - j0 : TILE; /* multiple of 64 */
            for (int i = 0; i < nr; i++) {
                const uint8_t *q = p->q + (r + i) * p->cols / 2 + j0 / 2;
                for (int64_t j = 0; j < len; j += 64) {
                    __m512 sc = _mm512_set1_ps(blk_scale(p, (r + i) * nbr + (j0 + j) / 64));
                    for (int k = 0; k < 4; k++)
                        _mm512_store_ps(&buf[i * TILE + j + 16 * k],
                                        _mm512_mul_ps(nib16_512(q + j / 2 + 8 * k, tbl), sc));
                }
            }
            bd_tile_accum(buf, TILE, nr, len, x + j0, p->cols, n, y + r, out);
        }
    }
}

/* AVX2: a 16-entry table as two 8-entry permutes selected by bit 3. */
__attribute__((target("avx2,fma")))
static inline __m256 nib8_256(const uint8_t *q, __m256 tlo, __m256 thi)
{
    uint32_t v;
    memcpy(&v, q, 4);
    __m128i b = _mm_cvtsi32_si128((int)v);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15));
    __m256i idx = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(hi, lo));
    __m256 a = _mm256_permutevar8x32_ps(tlo, idx);
    __m256 c = _mm256_permutevar8x32_ps(thi, idx);
    return _mm256_blendv_ps(a, c, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void mm_avx2(const bnb4w *p, const float *x, int n, float *y, int64_t r0, int64_t r1,
                    int64_t out)
{
    const float *c = bd_bnb4_code(p->type);
    const __m256 tlo = _mm256_loadu_ps(c), thi = _mm256_loadu_ps(c + 8);
    int64_t nbr = p->cols / 64;
    float buf[256] __attribute__((aligned(32)));
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *q = p->q + r * p->cols / 2;
        if (n == 1) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t b = 0; b < nbr; b++) {
                __m256 s = _mm256_setzero_ps();
                for (int k = 0; k < 8; k++)
                    s = _mm256_fmadd_ps(nib8_256(q + b * 32 + 4 * k, tlo, thi),
                                        _mm256_loadu_ps(x + b * 64 + 8 * k), s);
                acc = _mm256_fmadd_ps(s, _mm256_set1_ps(blk_scale(p, r * nbr + b)), acc);
            }
            y[r] = hsum256(acc);
            continue;
        }
        for (int t = 0; t < n; t++) y[(int64_t)t * out + r] = 0.0f;
        for (int64_t j0 = 0; j0 < p->cols; j0 += 256) {
            int64_t len = p->cols - j0 < 256 ? p->cols - j0 : 256;
            for (int64_t j = 0; j < len; j += 64) {
                __m256 s = _mm256_set1_ps(blk_scale(p, r * nbr + (j0 + j) / 64));
                for (int k = 0; k < 8; k++)
                    _mm256_store_ps(buf + j + 8 * k,
                                    _mm256_mul_ps(nib8_256(q + (j0 + j) / 2 + 4 * k, tlo, thi), s));
            }
            for (int t = 0; t < n; t++) {
                const float *xt = x + (int64_t)t * p->cols + j0;
                __m256 a = _mm256_setzero_ps();
                for (int64_t j = 0; j < len; j += 8)
                    a = _mm256_fmadd_ps(_mm256_load_ps(buf + j), _mm256_loadu_ps(xt + j), a);
                y[(int64_t)t * out + r] += hsum256(a);
            }
        }
    }
}
#endif

int bd_bnb4_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y,
                          int64_t r0, int64_t r1)
{
    const bnb4w *p = w->aux;
    int64_t out = p->rows;
    /* SIMD paths need rows made of whole 64-blocks starting on a byte */
    int fast = p->bs == 64 && p->cols % 64 == 0;
    if (kind == 0) { mm_scalar(p, x, n, y, r0, r1, out); return 0; }
#ifdef BD_X86
    if (!fast) return -1;
    if (kind == 2 && bd_cpu_avx512()) {
        if (n > 1) {
            if (bd_tiled_matmul(p, deq_rows_avx512, p->cols, out, x, n, y, r0, r1) != 0)
                mm_avx512(p, x, n, y, r0, r1, out);
            return 0;
        }
        float *xe = malloc((size_t)p->cols * sizeof(float));
        if (!xe) { mm_avx512(p, x, n, y, r0, r1, out); return 0; }
        float *xo = xe + p->cols / 2;
        for (int64_t i = 0; i < p->cols / 2; i++) { xe[i] = x[2 * i]; xo[i] = x[2 * i + 1]; }
        mv_avx512(p, xe, xo, y, r0, r1);
        free(xe);
        return 0;
    }
    if (kind == 1 && bd_cpu_avx2()) { mm_avx2(p, x, n, y, r0, r1, out); return 0; }
#endif
    (void)fast;
    return -1;
}

static void ops_matmul(const bd_tensor *w, const float *x, const void *scratch, int n, float *y,
                       int64_t r0, int64_t r1)
{
    (void)scratch;
    if (bd_bnb4_matmul_kernel(2, w, x, n, y, r0, r1) == 0) return;
    if (bd_bnb4_matmul_kernel(1, w, x, n, y, r0, r1) == 0) return;
    bd_bnb4_matmul_kernel(0, w, x, n, y, r0, r1);
}

const bd_wops bd_bnb4_ops = {
    .name = "bnb4",
    .prep_size = NULL,
    .prep = NULL,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

int bd_bnb4_pack(bd_tensor *t, int type, int dq, bd_err *err)
{
    if (t->ndim != 2)
        return bd_fail(err, BD_EINPUT, "%s: bnb 4-bit needs a 2-D weight, got %d dims", t->name, t->ndim);
    int64_t rows = t->shape[0], cols = t->shape[1];
    if (rows <= 0 || cols <= 0 || rows > INT64_MAX / cols)
        return bd_fail(err, BD_EINPUT, "%s: bad shape", t->name);
    int64_t n = rows * cols, bs = 64, nb = (n + bs - 1) / bs;
    bnb4w *p = calloc(1, sizeof *p);
    float *w = bd_tensor_f32(t);
    if (p) {
        p->q = malloc((size_t)((n + 1) / 2));
        p->absmax = malloc((size_t)nb * sizeof(float));
    }
    if (!p || !w || !p->q || !p->absmax) {
        free(w);
        if (p) { free(p->q); free(p->absmax); free(p); }
        return bd_oom(err, "bnb4 weights");
    }
    p->type = type; p->bs = (int)bs; p->rows = rows; p->cols = cols; p->nblocks = nb;
    bd_bnb4_quantize(w, n, type, (int)bs, p->q, p->absmax);
    free(w);
    size_t bytes = (size_t)((n + 1) / 2);
    if (dq) {
        int64_t nb2 = (nb + 255) / 256;
        p->qabs = malloc((size_t)nb);
        p->abs2 = malloc((size_t)nb2 * sizeof(float));
        if (!p->qabs || !p->abs2) {
            free(p->q); free(p->absmax); free(p->qabs); free(p->abs2); free(p);
            return bd_oom(err, "bnb4 double quantization");
        }
        bd_bnb_dq_quantize(p->absmax, nb, p->qabs, p->abs2, &p->offset);
        bd_bnb_dynamic_map(p->map);
        free(p->absmax);
        p->absmax = NULL;
        p->dq = 1;
        bytes += (size_t)nb + (size_t)nb2 * sizeof(float) + sizeof(float);
    } else {
        bytes += (size_t)nb * sizeof(float);
    }
    bd_tensor_set_packed(t, p->q, bytes, &bd_bnb4_ops, p);
    return 0;
}

#include "parts.h"

int bd_bnb4_parts(const bd_tensor *t, bd_parts *pp)
{
    const bnb4w *p = t->aux;
    int64_t n = p->rows * p->cols;
    memset(pp, 0, sizeof *pp);
    pp->param[0] = p->type; pp->param[1] = p->bs; pp->param[2] = p->dq;
    memcpy(&pp->param[3], &p->offset, sizeof p->offset);
    pp->ptr[0] = p->q; pp->len[0] = (size_t)((n + 1) / 2);
    if (p->dq) {
        pp->ptr[1] = p->qabs; pp->len[1] = (size_t)p->nblocks;
        pp->ptr[2] = p->abs2; pp->len[2] = (size_t)((p->nblocks + 255) / 256) * sizeof(float);
        pp->n = 3;
    } else {
        pp->ptr[1] = p->absmax; pp->len[1] = (size_t)p->nblocks * sizeof(float);
        pp->n = 2;
    }
    return 0;
}

int bd_bnb4_restore(bd_tensor *t, void **bufs, const bd_parts *pp, bd_err *err)
{
    int64_t n = t->shape[0] * t->shape[1], bs = pp->param[1];
    bnb4w *p = calloc(1, sizeof *p);
    if (!p) return bd_oom(err, "bnb4");
    p->type = (int)pp->param[0]; p->bs = (int)bs; p->dq = (int)pp->param[2];
    memcpy(&p->offset, &pp->param[3], sizeof p->offset);
    p->rows = t->shape[0]; p->cols = t->shape[1]; p->nblocks = (n + bs - 1) / bs;
    p->q = bufs[0];
    size_t bytes = pp->len[0];
    if (p->dq) { p->qabs = bufs[1]; p->abs2 = bufs[2]; bd_bnb_dynamic_map(p->map); bytes += pp->len[1] + pp->len[2] + 4; }
    else { p->absmax = bufs[1]; bytes += pp->len[1]; }
    bd_tensor_set_packed(t, p->q, bytes, &bd_bnb4_ops, p);
    return 0;
}
