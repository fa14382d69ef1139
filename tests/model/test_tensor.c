/* Dtype tables, fp16/bf16 conversions and scalar dequantization against the
 * goldens of tests/reference/gen_quant_goldens.py (gguf-py's numpy reference
 * of the GGML formats, and numpy's float16 rounding). */
#include "../test.h"
#include "mk.h"
#include "model/tensor.h"

#define QDIR "tests/reference/quant/"

static void test_tables(void)
{
    /* block sizes from the GGUF spec (ggml-common.h struct sizes) */
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q8_0), 34);
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q4_0), 18);
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q4_1), 20);
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q4_K), 144);
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q5_K), 176);
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_Q6_K), 210);
    CHECK_EQ_INT(bd_dtype_block_elems(BD_Q6_K), 256);
    CHECK_EQ_INT(bd_dtype_block_elems(BD_Q4_0), 32);
    CHECK_EQ_INT(bd_dtype_row_bytes(BD_F16, 10), 20);
    CHECK_EQ_INT(bd_dtype_row_bytes(BD_Q4_K, 512), 288);
    CHECK_STR(bd_dtype_name(BD_BF16), "bf16");
    CHECK_EQ_INT(bd_dtype_block_bytes(BD_PACKED), 0);
}

static void test_dequant(const char *name, bd_dtype t)
{
    char p[256];
    snprintf(p, sizeof p, QDIR "%s.raw", name);
    tbuf raw = tb_load(p);
    snprintf(p, sizeof p, QDIR "%s.f32", name);
    tbuf ref = tb_load(p);
    int64_t n = (int64_t)(raw.n / bd_dtype_block_bytes(t)) * bd_dtype_block_elems(t);
    CHECK_EQ_INT((int64_t)ref.n, n * 4);
    CHECK_EQ_INT(raw.n % bd_dtype_block_bytes(t), 0);
    float *y = malloc((size_t)n * sizeof *y);
    bd_dequant_row(t, raw.p, y, n);
    /* gguf-py computes in float32 with the same operation order (scale*sub-scale
     * first, then times the quant, minus the min), so values should agree to
     * the last bit; allow 1 ulp-ish relative slack for FMA contraction. */
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float r;
        memcpy(&r, ref.p + 4 * i, 4);
        if (!(fabsf(y[i] - r) <= 1e-6f * fabsf(r) + 1e-30f)) {
            if (bad++ < 5) fprintf(stderr, "%s[%lld]: %.9g vs gguf-py %.9g\n", name, (long long)i, y[i], r);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %lld values differ", name, bad, (long long)n);
    free(y);
    free(raw.p);
    free(ref.p);
}

static void test_conversions(void)
{
    tbuf in = tb_load(QDIR "conv_in.f32"), f16 = tb_load(QDIR "conv_f16.u16"), bf = tb_load(QDIR "conv_bf16.u16");
    size_t n = in.n / 4;
    CHECK(f16.n == 2 * n && bf.n == 2 * n);
    int bad16 = 0, badbf = 0, badback = 0;
    for (size_t i = 0; i < n && 2 * i + 2 <= f16.n && 2 * i + 2 <= bf.n; i++) {
        float x;
        uint16_t h, b;
        memcpy(&x, in.p + 4 * i, 4);
        memcpy(&h, f16.p + 2 * i, 2);
        memcpy(&b, bf.p + 2 * i, 2);
        if (bd_f32_to_f16(x) != h && bad16++ < 5)
            fprintf(stderr, "f16(%.9g) = %04x, numpy %04x\n", x, bd_f32_to_f16(x), h);
        if (bd_f32_to_bf16(x) != b && badbf++ < 5)
            fprintf(stderr, "bf16(%.9g) = %04x, gguf-py %04x\n", x, bd_f32_to_bf16(x), b);
        /* back to f32 must be exact: re-rounding the widened value gives the same half */
        if (bd_f32_to_f16(bd_f16_to_f32(h)) != h || bd_f32_to_bf16(bd_bf16_to_f32(b)) != b) badback++;
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badbf, 0);
    CHECK_EQ_INT(badback, 0);
    /* a few fixed points (IEEE 754 binary16 tables) */
    CHECK(bd_f16_to_f32(0x3c00) == 1.0f);
    CHECK(bd_f16_to_f32(0x0001) == 5.9604644775390625e-08f);
    CHECK(bd_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(bd_f16_to_f32(0xfc00)) && bd_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(bd_f16_to_f32(0x7e00)));
    CHECK(isnan(bd_f16_to_f32(bd_f32_to_f16(NAN))));
    CHECK(isnan(bd_bf16_to_f32(bd_f32_to_bf16(NAN))));
    /* every f16 bit pattern survives the round trip (NaNs stay NaN) */
    int rt = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        float f = bd_f16_to_f32((uint16_t)u);
        if (isnan(f) ? !isnan(bd_f16_to_f32(bd_f32_to_f16(f))) : bd_f32_to_f16(f) != u) rt++;
    }
    CHECK_EQ_INT(rt, 0);
    free(in.p);
    free(f16.p);
    free(bf.p);
}

static void test_tensor_row(void)
{
    /* a [3, 4] f16 tensor: row 2 */
    uint16_t d[12];
    for (int i = 0; i < 12; i++) d[i] = bd_f32_to_f16((float)i * 0.5f);
    bd_tensor t = {.dtype = BD_F16, .ndim = 2, .shape = {3, 4}, .data = d};
    float y[4];
    bd_tensor_row(&t, 2, y);
    CHECK(y[0] == 4.0f && y[3] == 5.5f);
    CHECK_EQ_INT(bd_tensor_nelem(&t), 12);
}

int main(void)
{
    test_tables();
    test_dequant("q8_0", BD_Q8_0);
    test_dequant("q4_0", BD_Q4_0);
    test_dequant("q4_1", BD_Q4_1);
    test_dequant("q4_K", BD_Q4_K);
    test_dequant("q5_K", BD_Q5_K);
    test_dequant("q6_K", BD_Q6_K);
    test_conversions();
    test_tensor_row();
    return test_done();
}
