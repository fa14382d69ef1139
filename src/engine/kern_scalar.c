/* Portable scalar kernels: the fallback on CPUs without AVX2 and the
 * reference the SIMD kernels are tested against. Dequantization is the model
 * module's reference (bd_dequant_row), applied one block at a time. */
#include <string.h>

#include "kern.h"

static const int BLK_ELEMS[BD_DTYPE_COUNT] = {
    [BD_F32] = 1, [BD_F16] = 1, [BD_BF16] = 1, [BD_Q8_0] = 32, [BD_Q4_0] = 32,
    [BD_Q4_1] = 32, [BD_Q4_K] = 256, [BD_Q5_K] = 256, [BD_Q6_K] = 256, [BD_PACKED] = 0,
};
static const int BLK_BYTES[BD_DTYPE_COUNT] = {
    [BD_F32] = 4, [BD_F16] = 2, [BD_BF16] = 2, [BD_Q8_0] = 34, [BD_Q4_0] = 18,
    [BD_Q4_1] = 20, [BD_Q4_K] = 144, [BD_Q5_K] = 176, [BD_Q6_K] = 210, [BD_PACKED] = 0,
};

int bd_kern_block_elems(bd_dtype t) { return (unsigned)t < BD_DTYPE_COUNT ? BLK_ELEMS[t] : 0; }
int bd_kern_block_bytes(bd_dtype t) { return (unsigned)t < BD_DTYPE_COUNT ? BLK_BYTES[t] : 0; }

/* Eight interleaved partial sums, added in a fixed order at the end. */
static float dot8(const float *a, const float *b, int64_t n)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[i & 7] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_generic(bd_dtype t, const void *row, const float *x, int64_t n)
{
    /* dequantize a chunk of whole blocks into a stack buffer, then multiply */
    float tmp[512], s = 0;
    const uint8_t *p = row;
    int be = BLK_ELEMS[t], bb = BLK_BYTES[t];
    int64_t chunk = (512 / be) * be;
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t m = n - i < chunk ? n - i : chunk;
        bd_dequant_row(t, p + (i / be) * bb, tmp, m);
        s += dot8(tmp, x + i, m);
    }
    return s;
}

static float dot_f32(const void *row, const float *x, int64_t n) { return dot8(row, x, n); }
static float dot_f16(const void *r, const float *x, int64_t n) { return dot_generic(BD_F16, r, x, n); }
static float dot_bf16(const void *r, const float *x, int64_t n) { return dot_generic(BD_BF16, r, x, n); }
static float dot_q8_0(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q8_0, r, x, n); }
static float dot_q4_0(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q4_0, r, x, n); }
static float dot_q4_1(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q4_1, r, x, n); }
static float dot_q4_k(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q4_K, r, x, n); }
static float dot_q5_k(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q5_K, r, x, n); }
static float dot_q6_k(const void *r, const float *x, int64_t n) { return dot_generic(BD_Q6_K, r, x, n); }

#define DEQ(name, T) \
    static void name(const void *r, float *d, int64_t n) { bd_dequant_row(T, r, d, n); }
DEQ(deq_f32, BD_F32)
DEQ(deq_f16, BD_F16)
DEQ(deq_bf16, BD_BF16)
DEQ(deq_q8_0, BD_Q8_0)
DEQ(deq_q4_0, BD_Q4_0)
DEQ(deq_q4_1, BD_Q4_1)
DEQ(deq_q4_k, BD_Q4_K)
DEQ(deq_q5_k, BD_Q5_K)
DEQ(deq_q6_k, BD_Q6_K)

static void gemm(const float *panel, const float *xt, int64_t k, float *out, int add)
{
    enum { R = BD_GEMM_R, T = BD_GEMM_T };
    float acc[T * R] = {0};
    if (add) memcpy(acc, out, sizeof acc);
    for (int64_t i = 0; i < k; i++)
        for (int t = 0; t < T; t++)
            for (int j = 0; j < R; j++) acc[t * R + j] += panel[i * R + j] * xt[i * T + t];
    memcpy(out, acc, sizeof acc);
}

static float dotf(const float *a, const float *b, int64_t n) { return dot8(a, b, n); }

static void axpy(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void bd_kern_panel_scalar(const float *rows, int64_t ld, int64_t k, float *panel)
{
    for (int64_t i = 0; i < k; i++)
        for (int j = 0; j < BD_GEMM_R; j++) panel[i * BD_GEMM_R + j] = rows[(size_t)j * ld + i];
}

static const bd_kern KERN = {
    .name = "scalar",
    .dot = {dot_f32, dot_f16, dot_bf16, dot_q8_0, dot_q4_0, dot_q4_1, dot_q4_k, dot_q5_k, dot_q6_k, 0},
    .deq = {deq_f32, deq_f16, deq_bf16, deq_q8_0, deq_q4_0, deq_q4_1, deq_q4_k, deq_q5_k, deq_q6_k, 0},
    .gemm = gemm,
    .dot_f32 = dotf,
    .axpy = axpy,
    .panel = bd_kern_panel_scalar,
};

const bd_kern *bd_kern_scalar(void) { return &KERN; }

const bd_kern *bd_kern_pick(int level)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
                 __builtin_cpu_supports("f16c");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    if (level < 0) level = 2;
    if (level >= 2 && has512) return bd_kern_avx512();
    if (level >= 1 && has2) return bd_kern_avx2();
#else
    (void)level;
#endif
    return &KERN;
}
