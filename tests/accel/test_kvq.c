/* KV codecs against goldens: HQQ (checked in the generator to equal the
 * hqq library as transformers 4.45 calls it, except degenerate groups where
 * today's hqq added a guard the paper's version lacked) and optimum-quanto's
 * MaxOptimizer + quantize_weight. Bit-identical dequantized tensors. */
#include <stdint.h>

#include "../test.h"
#include "accel/kvq.h"
#include "golden.h"
#include "model/tensor.h"

static void run_case(const golden *g, const char *name, int H, int T, int D)
{
    int64_t n = 0;
    float *hf = golden_copy(g, name, &n);  /* [1, H, T, D] */
    if (!hf) { CHECK(0); return; }
    CHECK_EQ_INT(n, (int64_t)H * T * D);
    int kv_dim = H * D;
    float *src = malloc((size_t)n * 4), *dq = malloc((size_t)n * 4);
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) src[(size_t)t * kv_dim + h * D + d] = hf[((size_t)h * T + t) * D + d];
    struct { int quanto, bits, axis; const char *key; } cfg[] = {
        {0, 4, 0, "hqq4_ax0"}, {0, 4, 1, "hqq4_ax1"}, {0, 8, 0, "hqq8_ax0"}, {0, 8, 1, "hqq8_ax1"},
        {1, 4, 0, "quanto4_ax0"}, {1, 4, -1, "quanto4_axm1"}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        char key[64];
        snprintf(key, sizeof key, "%s_%s", cfg[c].key, name);
        int present = 0;
        for (int i = 0; i < g->count; i++) present |= !strcmp(g->arr[i].name, key);
        if (!present) continue; /* quanto axis -1 needs H*T % 64 == 0 */
        bd_kvq_params p = {cfg[c].bits, cfg[c].axis, 64, cfg[c].quanto, D};
        const bd_kv_codec *codec = p.quanto ? &bd_kvq_quanto : &bd_kvq_hqq;
        size_t sz = codec->size(&p, T, kv_dim);
        int64_t ng = bd_kvq_groups(&p, n);
        CHECK_EQ_INT(sz, (p.bits == 8 ? n : n / 2) + ng * (p.quanto ? 8 : 4));
        unsigned char *buf = malloc(sz);
        bd_err err = {0};
        CHECK_EQ_INT(codec->encode(&p, src, T, kv_dim, 1, buf, &err), 0);
        codec->decode(&p, buf, T, kv_dim, 1, dq);
        float *ref = golden_copy(g, key, NULL);
        int bad = 0;
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++) {
                    float a = dq[(size_t)t * kv_dim + h * D + d], b = ref[((size_t)h * T + t) * D + d];
                    if (memcmp(&a, &b, 4) != 0) bad++;
                }
        CHECK_MSG(bad == 0, "%s: %d of %lld values differ", key, bad, (long long)n);
        /* metadata: group order is the library's */
        snprintf(key, sizeof key, "%s_%s_%s", cfg[c].key, name, p.quanto ? "scale" : "scale");
        float *gs = golden_copy(g, key, NULL);
        int mbad = 0;
        const unsigned char *meta = buf + (p.bits == 8 ? n : n / 2);
        for (int64_t i = 0; gs && i < ng; i++) {
            float s;
            if (p.quanto) memcpy(&s, meta + i * 8, 4);
            else { uint16_t h16; memcpy(&h16, meta + i * 4, 2); s = bd_f16_to_f32(h16); }
            mbad += s != gs[i];
        }
        CHECK_MSG(gs && mbad == 0, "%s: %d scales differ", key, mbad);
        free(gs);
        if (!p.quanto) {
            snprintf(key, sizeof key, "%s_%s_q", cfg[c].key, name);
            uint8_t *gq = golden_copy(g, key, NULL);
            int qbad = 0;
            for (int64_t k = 0; gq && k < n; k++) {
                int v = p.bits == 8 ? buf[k] : (k & 1) ? buf[k >> 1] & 15 : buf[k >> 1] >> 4;
                qbad += v != gq[k];
            }
            CHECK_MSG(gq && qbad == 0, "%s: %d codes differ", key, qbad);
            free(gq);
        }
        free(ref);
        free(buf);
    }
    free(src); free(dq); free(hf);
}

/* The codec's decode (F16C fast path where the CPU has it) equals the
 * element-by-element reference bit for bit on random codes and metadata,
 * including fp16 scales/zeros that overflow, underflow to subnormals, or are
 * inf/zero, for both bit widths, both axes and lengths that are not
 * multiples of 8 or of the group. */
static void test_fast_decode(void)
{
    uint64_t st = 12345;
    for (int bits = 4; bits <= 8; bits += 4)
        for (int axis = 0; axis <= 1; axis++)
            for (int T = 1; T <= 9; T += 4) {
                int H = 3, D = T == 5 ? 64 : 12, kv_dim = H * D;
                bd_kvq_params p = {bits, axis, 16, 0, D};
                size_t sz = bd_kvq_hqq.size(&p, T, kv_dim);
                uint8_t *b = malloc(sz);
                for (size_t i = 0; i < sz; i++) {
                    st = st * 6364136223846793005ull + 1442695040888963407ull;
                    b[i] = (uint8_t)(st >> 56);
                }
                float *x = malloc(sizeof(float) * (size_t)T * kv_dim), *y = malloc(sizeof(float) * (size_t)T * kv_dim);
                bd_kvq_hqq.decode(&p, b, T, kv_dim, 1, x);
                bd_kvq_decode_ref(&p, b, T, kv_dim, y);
                int same = 1;
                for (int i = 0; i < T * kv_dim; i++) same &= !memcmp(&x[i], &y[i], 4) || (x[i] != x[i] && y[i] != y[i]);
                CHECK_MSG(same, "hqq%d axis %d T %d: fast decode differs from the reference", bits, axis, T);
                free(b); free(x); free(y);
            }
}

int main(void)
{
    test_fast_decode();
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/kv.bdg") == 0);
    run_case(&g, "a", 4, 40, 32);
    run_case(&g, "b", 2, 64, 64);
    run_case(&g, "c", 4, 32, 16);
    golden_free(&g);
    /* head_dim must divide kv_dim */
    bd_kvq_params p = {4, 0, 64, 0, 48};
    float x[64] = {0};
    unsigned char buf[256];
    bd_err err = {0};
    CHECK(bd_kvq_hqq.encode(&p, x, 1, 64, 1, buf, &err) == BD_EINPUT);
    return test_done();
}
