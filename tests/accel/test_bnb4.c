/* bitsandbytes FP4/NF4 against goldens from the bitsandbytes CPU backend
 * (tests/reference/gen_accel_goldens.py): codes, absmax and dequantized
 * weights bit-identical; double quantization against a spec-exact numpy
 * reference; packed kernels against a double-precision dot product. */
#include <stdint.h>

#include "../test.h"
#include "accel/bnb4.h"
#include "accel/wutil.h"
#include "golden.h"

static const char *TYPES[2] = {"fp4", "nf4"};

static int same_bits(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static void test_quantize(const golden *g)
{
    static const char *mats[] = {"a", "b", "c", "tie"};
    for (int ty = 0; ty < 2; ty++) {
        char key[64];
        snprintf(key, sizeof key, "%s_code", TYPES[ty]);
        float *code = golden_copy(g, key, NULL);
        CHECK(code && same_bits(code, bd_bnb4_code(ty), 16));
        free(code);
        for (int m = 0; m < 4; m++) {
            int64_t n = 0, nq = 0, nb = 0;
            snprintf(key, sizeof key, "%s_%s_w", TYPES[ty], mats[m]);
            float *w = golden_copy(g, key, &n);
            snprintf(key, sizeof key, "%s_%s_q", TYPES[ty], mats[m]);
            uint8_t *gq = golden_copy(g, key, &nq);
            snprintf(key, sizeof key, "%s_%s_absmax", TYPES[ty], mats[m]);
            float *gabs = golden_copy(g, key, &nb);
            snprintf(key, sizeof key, "%s_%s_dq", TYPES[ty], mats[m]);
            float *gdq = golden_copy(g, key, NULL);
            CHECK(w && gq && gabs && gdq);
            if (!w || !gq || !gabs || !gdq) continue;
            CHECK_EQ_INT(nq, (n + 1) / 2);
            CHECK_EQ_INT(nb, (n + 63) / 64);
            uint8_t *q = malloc((size_t)nq);
            float *abs = malloc((size_t)nb * 4), *dq = malloc((size_t)n * 4);
            bd_bnb4_quantize(w, n, ty, 64, q, abs);
            int bad = 0;
            for (int64_t i = 0; i < nq; i++) bad += q[i] != gq[i];
            CHECK_MSG(bad == 0, "%s %s: %d code bytes differ", TYPES[ty], mats[m], bad);
            CHECK_MSG(same_bits(abs, gabs, nb), "%s %s absmax", TYPES[ty], mats[m]);
            bd_bnb4_dequant(q, abs, n, ty, 64, dq);
            /* Values equal exactly; the sign of an FP4 zero (code 8) is not
             * compared: bnb's CPU dequant gives +0 from its SIMD path and -0
             * from its scalar tail for the same code. */
            int dbad = 0;
            for (int64_t i = 0; i < n; i++) dbad += dq[i] != gdq[i];
            CHECK_MSG(dbad == 0, "%s %s: %d dequantized values differ", TYPES[ty], mats[m], dbad);
            free(q); free(abs); free(dq);
            free(w); free(gq); free(gabs); free(gdq);
        }
    }
}

static void test_dq(const golden *g)
{
    float map[256];
    bd_bnb_dynamic_map(map);
    float *gmap = golden_copy(g, "dyn_code", NULL);
    CHECK(gmap && same_bits(map, gmap, 256));
    free(gmap);
    for (int ty = 0; ty < 2; ty++) {
        char key[64];
        int64_t nb = 0, nb2 = 0;
        snprintf(key, sizeof key, "%s_absmax", TYPES[ty]);
        float *abs = golden_copy(g, key, &nb);
        snprintf(key, sizeof key, "%s_offset", TYPES[ty]);
        float *goff = golden_copy(g, key, NULL);
        snprintf(key, sizeof key, "%s_ref_qabs", TYPES[ty]);
        uint8_t *rq = golden_copy(g, key, NULL);
        snprintf(key, sizeof key, "%s_ref_abs2", TYPES[ty]);
        float *rabs2 = golden_copy(g, key, &nb2);
        snprintf(key, sizeof key, "%s_ref_absmax_dq", TYPES[ty]);
        float *rdq = golden_copy(g, key, NULL);
        snprintf(key, sizeof key, "%s_bnb_qabs", TYPES[ty]);
        uint8_t *bq = golden_copy(g, key, NULL);
        snprintf(key, sizeof key, "%s_bnb_abs2", TYPES[ty]);
        float *babs2 = golden_copy(g, key, NULL);
        CHECK(abs && goff && rq && rabs2 && rdq && bq && babs2);
        if (!abs || !goff || !rq || !rabs2 || !rdq || !bq || !babs2) return;
        CHECK_EQ_INT(nb2, (nb + 255) / 256);
        uint8_t *q = malloc((size_t)nb);
        float *abs2 = malloc((size_t)nb2 * 4), off;
        bd_bnb_dq_quantize(abs, nb, q, abs2, &off);
        /* offset: torch's float32 mean vs our double-accumulated mean (1 ulp allowed) */
        CHECK_NEAR(off, goff[0], fabsf(goff[0]) * 1.2e-7);
        CHECK(same_bits(abs2, rabs2, nb2));
        int bad = 0, bnb_diff = 0;
        for (int64_t i = 0; i < nb; i++) {
            bad += q[i] != rq[i];
            bnb_diff += q[i] != bq[i];
            float v = bd_bnb_dq_value(map, q, abs2, off, i);
            if (v != rdq[i]) bad++;
            /* bitsandbytes' CPU search may pick a neighbouring code: its
             * absmax must still be within two map steps of ours */
            float vb = map[bq[i]] * babs2[i / 256] + goff[0];
            int c = q[i], lo = c > 1 ? c - 2 : 0, hi = c < 254 ? c + 2 : 255;
            CHECK_MSG(fabsf(vb - v) <= (map[hi] - map[lo]) * abs2[i / 256] + 1e-9f,
                      "block %lld: bnb %g vs %g", (long long)i, vb, v);
        }
        CHECK_MSG(bad == 0, "%s dq: %d mismatches vs the spec-exact reference", TYPES[ty], bad);
        CHECK_MSG(bnb_diff < nb / 10, "%s dq: %d codes differ from bnb's CPU search", TYPES[ty],
                  bnb_diff);
        free(q); free(abs2);
        free(abs); free(goff); free(rq); free(rabs2); free(rdq); free(bq); free(babs2);
    }
}

/* Packed kernels vs a double-precision dot with the dequantized weights. */
static void test_kernels(int dq)
{
    int rows = 37, cols = 320;
    float *w = malloc((size_t)rows * cols * 4);
    uint64_t s = 12345;
    for (int i = 0; i < rows * cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = ((float)((s >> 40) & 0xffff) / 65536.0f - 0.5f) * (i % 97 == 0 ? 3.0f : 0.1f);
    }
    for (int ty = 0; ty < 2; ty++) {
        bd_tensor t;
        memset(&t, 0, sizeof t);
        snprintf(t.name, sizeof t.name, "test.weight");
        t.dtype = BD_F32; t.ndim = 2; t.shape[0] = rows; t.shape[1] = cols;
        t.data = w; t.nbytes = (size_t)rows * cols * 4;
        bd_err err = {0};
        CHECK_EQ_INT(bd_bnb4_pack(&t, ty, dq, &err), 0);
        CHECK(t.dtype == BD_PACKED && t.ops == &bd_bnb4_ops);
        size_t expect = (size_t)rows * cols / 2 + (dq ? (size_t)rows * cols / 64 + 4 * 1 + 4
                                                       : (size_t)rows * cols / 64 * 4);
        CHECK_EQ_INT(t.nbytes, expect);
        float *deq = malloc((size_t)rows * cols * 4);
        for (int r = 0; r < rows; r++) t.ops->row(&t, r, deq + (size_t)r * cols);
        for (int n = 1; n <= 6; n += 5) {
            float *x = malloc((size_t)n * cols * 4), *y = malloc((size_t)n * rows * 4);
            for (int i = 0; i < n * cols; i++) x[i] = sinf((float)i * 0.37f) * (i % 13 == 0 ? 8 : 1);
            for (int kind = 0; kind < 3; kind++) {
                for (int i = 0; i < n * rows; i++) y[i] = NAN;
                /* two disjoint row ranges, as threads would call it */
                if (bd_bnb4_matmul_kernel(kind, &t, x, n, y, 0, 11) != 0) {
                    fprintf(stderr, "kernel %d unavailable on this CPU\n", kind);
                    continue;
                }
                bd_bnb4_matmul_kernel(kind, &t, x, n, y, 11, rows);
                double maxerr = 0;
                for (int ti = 0; ti < n; ti++)
                    for (int r = 0; r < rows; r++) {
                        double ref = 0, mag = 0;
                        for (int j = 0; j < cols; j++) {
                            ref += (double)deq[(size_t)r * cols + j] * x[(size_t)ti * cols + j];
                            mag += fabs((double)deq[(size_t)r * cols + j] * x[(size_t)ti * cols + j]);
                        }
                        /* fp32 accumulation over 320 terms: error <= ~cols*eps*sum|terms| */
                        double e = fabs(y[(size_t)ti * rows + r] - ref) / (mag + 1e-30);
                        if (!(e <= maxerr)) maxerr = e;
                    }
                CHECK_MSG(maxerr < 1e-5, "type %d dq %d kernel %d n %d: rel err %g", ty, dq, kind,
                          n, maxerr);
            }
            free(x); free(y);
        }
        free(deq);
        t.ops->free(&t);
    }
    free(w);
}

int main(void)
{
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/bnb4.bdg") == 0);
    test_quantize(&g);
    golden_free(&g);
    CHECK(golden_load(&g, "tests/reference/accel/bnb4dq.bdg") == 0);
    test_dq(&g);
    golden_free(&g);
    test_kernels(0);
    test_kernels(1);
    return test_done();
}
