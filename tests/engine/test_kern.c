/* SIMD kernels against the scalar reference, for every weight dtype and
 * every instruction set this CPU has (scalar, AVX2, AVX-512):
 *  - deq(): bit-identical to the model module's bd_dequant_row (the SIMD
 *    code performs the same fp32 operations in the same order, no FMA);
 *  - dot(): within 4e-5 * sum|w_i x_i| of a double-precision dot of the
 *    reference dequantization. Why: fp32 sums of n <= 4096 products split
 *    over >= 8 partial sums have a worst-case rounding error of about
 *    (n/8 + 8) * 2^-24 * sum|w x| ~= 3.1e-5 * sum|w x|;
 *  - gemm(): within (k + 1) * 2^-24 * sum|w x| (one sequential fp32 sum),
 *    and bit-identical when k is split into blocks;
 *  - bd_matmul over the thread pool: 1, 2 and 3 threads give identical
 *    bytes, for the decode path (n = 1, 2) and the batched path (n = 9, 25);
 *  - att_qk / att_av (where a set has them): bit-identical to the loops over
 *    dot_f32 and axpy they replace, for head sizes with and without the
 *    register fast paths. */
#include <stdint.h>

#include "../test.h"
#include "engine/kern.h"
#include "engine/matmul.h"

static uint64_t rs = 0x1234567;
static uint32_t rnd(void)
{
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}
static float frand(void) { return (float)((rnd() & 0xffffff) / 16777216.0 * 2 - 1); }

/* Random valid bytes for n elements of dtype t: scales are small normal
 * fp16 values, quants are random bytes. */
static uint8_t *make_row(bd_dtype t, int64_t n)
{
    size_t bytes = bd_dtype_row_bytes(t, n);
    uint8_t *p = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd();
    int be = bd_dtype_block_elems(t);
    size_t bb = bd_dtype_block_bytes(t);
    for (int64_t b = 0; b < n / be; b++) {
        uint8_t *blk = p + (size_t)b * bb;
        uint16_t h1 = bd_f32_to_f16(0.01f + 0.05f * (float)(rnd() % 1000) / 1000.0f);
        uint16_t h2 = bd_f32_to_f16(0.01f * (float)(rnd() % 1000) / 1000.0f);
        switch (t) {
        case BD_F32: { float f = frand(); memcpy(blk, &f, 4); break; }
        case BD_F16: { uint16_t h = bd_f32_to_f16(frand()); memcpy(blk, &h, 2); break; }
        case BD_BF16: { uint16_t h = bd_f32_to_bf16(frand()); memcpy(blk, &h, 2); break; }
        case BD_Q8_0: case BD_Q4_0: memcpy(blk, &h1, 2); break;
        case BD_Q4_1: case BD_Q4_K: case BD_Q5_K: memcpy(blk, &h1, 2); memcpy(blk + 2, &h2, 2); break;
        case BD_Q6_K: memcpy(blk + 208, &h1, 2); break;
        default: break;
        }
    }
    return p;
}

static double ref_dot(bd_dtype t, const void *row, const float *x, int64_t n, double *mag)
{
    float *w = malloc(sizeof(float) * (size_t)n);
    bd_dequant_row(t, row, w, n);
    double s = 0, m = 0;
    for (int64_t i = 0; i < n; i++) { s += (double)w[i] * x[i]; m += fabs((double)w[i] * x[i]); }
    free(w);
    *mag = m;
    return s;
}

static const bd_dtype TYPES[] = {BD_F32, BD_F16, BD_BF16, BD_Q8_0, BD_Q4_0, BD_Q4_1, BD_Q4_K, BD_Q5_K, BD_Q6_K};

static void test_kernels(const bd_kern *k)
{
    fprintf(stderr, "kernels: %s\n", k->name);
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++) {
        bd_dtype t = TYPES[ti];
        int be = bd_dtype_block_elems(t);
        int64_t lens[] = {be == 1 ? 37 : be, be == 1 ? 100 : 2 * be, 1024, 4096, be == 1 ? 2048 + 7 : 2048};
        for (size_t li = 0; li < 5; li++) {
            int64_t n = lens[li];
            uint8_t *row = make_row(t, n);
            float *x = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n),
                  *b = malloc(sizeof(float) * (size_t)n);
            for (int64_t i = 0; i < n; i++) x[i] = frand();
            bd_dequant_row(t, row, a, n);
            k->deq[t](row, b, n);
            CHECK_MSG(!memcmp(a, b, sizeof(float) * (size_t)n), "%s deq %s n=%lld differs from reference",
                      k->name, bd_dtype_name(t), (long long)n);
            double mag, want = ref_dot(t, row, x, n, &mag);
            float got = k->dot[t](row, x, n);
            CHECK_MSG(fabs(got - want) <= 4e-5 * mag, "%s dot %s n=%lld: %.9g vs %.9g (mag %g)", k->name,
                      bd_dtype_name(t), (long long)n, got, want, mag);
            free(row); free(x); free(a); free(b);
        }
    }
    /* panel(): a pure transpose, bit-exact with the scalar one */
    for (int64_t kk = 1; kk <= 100; kk += 33) {
        const int64_t ld = kk + 3;
        float *rows = malloc(sizeof(float) * BD_GEMM_R * (size_t)ld);
        float *p1 = malloc(sizeof(float) * BD_GEMM_R * (size_t)kk), *p2 = malloc(sizeof(float) * BD_GEMM_R * (size_t)kk);
        for (int64_t i = 0; i < BD_GEMM_R * ld; i++) rows[i] = frand();
        k->panel(rows, ld, kk, p1);
        bd_kern_panel_scalar(rows, ld, kk, p2);
        int ok = 1;
        for (int64_t i = 0; i < kk; i++)
            for (int j = 0; j < BD_GEMM_R; j++) ok &= p2[i * BD_GEMM_R + j] == rows[j * ld + i];
        CHECK_MSG(ok && !memcmp(p1, p2, sizeof(float) * BD_GEMM_R * (size_t)kk), "%s panel k=%lld", k->name,
                  (long long)kk);
        free(rows); free(p1); free(p2);
    }
    /* gemm: panel x token tile against double sums, bound (k + 1) eps sum|w x|
     * for a sequential fp32 sum of k products */
    for (int64_t kk = 1; kk <= 300; kk += 37) {
        enum { R = BD_GEMM_R, T = BD_GEMM_T };
        float *pw = aligned_alloc(64, sizeof(float) * R * (size_t)kk), *xt = malloc(sizeof(float) * T * (size_t)kk);
        for (int64_t i = 0; i < R * kk; i++) pw[i] = frand();
        for (int64_t i = 0; i < T * kk; i++) xt[i] = frand();
        float o[T * R], o2[T * R];
        k->gemm(pw, xt, kk, o, 0);
        /* k in two blocks (add = 1 for the second) continues the same sums */
        int64_t h = kk / 2;
        k->gemm(pw, xt, h, o2, 0);
        k->gemm(pw + h * R, xt + h * T, kk - h, o2, 1);
        CHECK_MSG(!memcmp(o, o2, sizeof o), "%s gemm k=%lld: split in two blocks differs", k->name, (long long)kk);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < R; j++) {
                double s = 0, m = 0;
                for (int64_t q = 0; q < kk; q++) { s += (double)pw[q * R + j] * xt[q * T + t]; m += fabs((double)pw[q * R + j] * xt[q * T + t]); }
                CHECK_MSG(fabs(o[t * R + j] - s) <= (kk + 1) * 0x1p-24 * m + 1e-30, "%s gemm k=%lld (%d,%d)",
                          k->name, (long long)kk, t, j);
            }
        free(pw);
        free(xt);
    }
}

static void test_threads(const bd_kern *k)
{
    /* 300 rows: several tasks and a partial last one; rows of 549 (dense
     * types): a partial k block */
    const int out = 300;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof TYPES[0]; ti++) {
        bd_dtype t = TYPES[ti];
        const int in = bd_dtype_block_elems(t) == 1 ? 549 : 512;
        bd_tensor w = {.dtype = t, .ndim = 2, .shape = {out, in}};
        uint8_t *data = make_row(t, (int64_t)out * in);
        w.data = data;
        w.nbytes = bd_dtype_row_bytes(t, (int64_t)out * in);
        int ns[] = {1, 2, 9, 25};
        for (int ni = 0; ni < 4; ni++) {
            int n = ns[ni];
            float *x = malloc(sizeof(float) * (size_t)n * in);
            for (int i = 0; i < n * in; i++) x[i] = frand();
            float *y[3];
            for (int th = 1; th <= 3; th++) {
                bd_pool *pool;
                bd_mmctx c;
                bd_err err;
                CHECK(bd_pool_new(th, &pool, &err) == 0);
                CHECK(bd_mmctx_init(&c, k, pool, in, &err) == 0);
                y[th - 1] = malloc(sizeof(float) * (size_t)n * out);
                bd_mm mm = {&w, y[th - 1]};
                CHECK(bd_matmul(&c, &mm, 1, x, n, &err) == 0);
                bd_mmctx_free(&c);
                bd_pool_free(pool);
            }
            CHECK_MSG(!memcmp(y[0], y[1], sizeof(float) * (size_t)n * out) &&
                      !memcmp(y[0], y[2], sizeof(float) * (size_t)n * out),
                      "%s matmul %s n=%d differs across thread counts", k->name, bd_dtype_name(t), n);
            for (int r = 0; r < out; r++)
                for (int j = 0; j < n; j++) {
                    double mag, want = ref_dot(t, data + (size_t)r * bd_dtype_row_bytes(t, in), x + (size_t)j * in, in, &mag);
                    CHECK_MSG(fabs(y[0][(size_t)j * out + r] - want) <= (in + 1) * 0x1p-24 * mag,
                              "%s matmul %s n=%d row %d token %d", k->name, bd_dtype_name(t), n, r, j);
                }
            for (int i = 0; i < 3; i++) free(y[i]);
            free(x);
        }
        free(data);
    }
}

static void test_attention(const bd_kern *k)
{
    if (!k->att_qk && !k->att_av) return;
    const int hds[5] = {8, 64, 72, 128, 160}, n = 37;
    for (int h = 0; h < 5; h++) {
        const int hd = hds[h], ld = 3 * hd + 5; /* rows of a wider cache, unaligned */
        float *q = malloc(sizeof(float) * (size_t)hd), *kv = malloc(sizeof(float) * (size_t)n * ld);
        float *sc = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
        float *o1 = malloc(sizeof(float) * (size_t)hd), *o2 = malloc(sizeof(float) * (size_t)hd);
        for (int i = 0; i < hd; i++) q[i] = frand();
        for (int i = 0; i < n * ld; i++) kv[i] = frand();
        for (int s = 0; s < n; s++) w[s] = frand();
        const float scale = 0.125f;
        int same = 1;
        if (k->att_qk) {
            k->att_qk(q, kv + 1, ld, n, hd, scale, sc);
            for (int s = 0; s < n; s++) same &= sc[s] == k->dot_f32(q, kv + 1 + (size_t)s * ld, hd) * scale;
            CHECK_MSG(same, "%s att_qk hd %d differs from dot_f32", k->name, hd);
        }
        if (k->att_av) {
            k->att_av(o1, w, kv + 2, ld, n, hd);
            memset(o2, 0, sizeof(float) * (size_t)hd);
            for (int s = 0; s < n; s++) k->axpy(o2, w[s], kv + 2 + (size_t)s * ld, hd);
            CHECK_MSG(!memcmp(o1, o2, sizeof(float) * (size_t)hd), "%s att_av hd %d differs from axpy", k->name, hd);
        }
        free(q); free(kv); free(sc); free(w); free(o1); free(o2);
    }
}

int main(void)
{
    const bd_kern *ks[3] = {bd_kern_scalar(), bd_kern_pick(1), bd_kern_pick(2)};
    int tested = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0 && ks[i] == ks[i - 1]) continue; /* the CPU lacks this level */
        test_kernels(ks[i]);
        test_threads(ks[i]);
        test_attention(ks[i]);
        tested++;
    }
    fprintf(stderr, "best kernels here: %s (%d sets tested)\n", bd_kern_pick(-1)->name, tested);
    return test_done();
}
