/* LLM.int8 against goldens (tests/reference/gen_accel_goldens.py): weight
 * codes/scales and per-call activation codes, scales and outlier columns
 * bit-identical to bitsandbytes' own ops; outputs against a torch reference
 * of the spec and against bitsandbytes' int8_mixed_scaled_mm. */
#include <stdint.h>

#include "../test.h"
#include "accel/int8.h"
#include "golden.h"

int main(void)
{
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/int8.bdg") == 0);
    int64_t nw = 0;
    float *w = golden_copy(&g, "w", &nw);
    int8_t *gcb = golden_copy(&g, "cb", NULL);
    float *gscb = golden_copy(&g, "scb", NULL);
    if (!w || !gcb || !gscb) return test_done();
    int rows = 48, cols = 200;
    CHECK_EQ_INT(nw, rows * cols);

    int8_t *cb = malloc((size_t)nw);
    float *scb = malloc(rows * 4);
    bd_int8_quant_rows(w, rows, cols, cb, scb);
    CHECK(memcmp(cb, gcb, (size_t)nw) == 0);
    CHECK(memcmp(scb, gscb, rows * 4) == 0);

    bd_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "blk.0.attn_q.weight");
    t.dtype = BD_F32; t.ndim = 2; t.shape[0] = rows; t.shape[1] = cols;
    t.data = w; t.nbytes = (size_t)nw * 4;
    bd_err err = {0};
    CHECK_EQ_INT(bd_int8_pack(&t, &err), 0);
    CHECK_EQ_INT(t.nbytes, rows * cols + rows * 4);
    float row[200];
    t.ops->row(&t, 2, row);
    CHECK_NEAR(row[5], gcb[2 * cols + 5] * (gscb[2] / 127.0f), 0);

    for (int n = 1; n <= 7; n += 6) {
        char key[32];
        snprintf(key, sizeof key, "n%d_x", n);
        float *x = golden_copy(&g, key, NULL);
        snprintf(key, sizeof key, "n%d_ca", n);
        int8_t *gca = golden_copy(&g, key, NULL);
        snprintf(key, sizeof key, "n%d_sca", n);
        float *gsca = golden_copy(&g, key, NULL);
        int64_t ncols = 0;
        snprintf(key, sizeof key, "n%d_cols", n);
        int32_t *gcols = golden_copy(&g, key, &ncols);
        snprintf(key, sizeof key, "n%d_ref", n);
        float *ref = golden_copy(&g, key, NULL);
        snprintf(key, sizeof key, "n%d_bnb", n);
        float *bnb = golden_copy(&g, key, NULL);
        CHECK(x && gca && gsca && gcols && ref && bnb);
        if (!x || !gca || !gsca || !gcols || !ref || !bnb) continue;

        void *scratch = malloc(t.ops->prep_size(&t, n));
        t.ops->prep(&t, x, n, scratch);
        const int32_t *oc;
        const float *sca;
        const uint8_t *ca;
        int nc = bd_int8_prep_info(scratch, &oc, &sca, &ca);
        CHECK_EQ_INT(nc, ncols);
        CHECK(nc == ncols && memcmp(oc, gcols, (size_t)nc * 4) == 0);
        CHECK(memcmp(sca, gsca, (size_t)n * 4) == 0);
        int bad = 0;
        for (int i = 0; i < n * cols; i++) bad += (int)ca[i] - 128 != gca[i];
        CHECK_MSG(bad == 0, "n=%d: %d activation codes differ", n, bad);

        float *y = malloc((size_t)n * rows * 4);
        for (int kind = 0; kind < 3; kind++) {
            for (int i = 0; i < n * rows; i++) y[i] = NAN;
            if (bd_int8_matmul_kernel(kind, &t, x, scratch, n, y, 0, 13) != 0) {
                fprintf(stderr, "kernel %d unavailable\n", kind);
                continue;
            }
            bd_int8_matmul_kernel(kind, &t, x, scratch, n, y, 13, rows);
            double e_ref = 0, e_bnb = 0;
            for (int i = 0; i < n * rows; i++) {
                /* The int32 part is exact; only the fp32 outlier sum's order
                 * differs from torch's (a few ulps of |y|, scale ~1). bnb uses
                 * 6.200124e-05 (a typo of 1/16129, +1.8e-5 relative). */
                double a = fabs(y[i] - ref[i]), b = fabs(y[i] - bnb[i]) / (fabs(bnb[i]) + 1.0);
                if (!(a <= e_ref)) e_ref = a;
                if (!(b <= e_bnb)) e_bnb = b;
            }
            CHECK_MSG(e_ref < 2e-6, "n=%d kernel %d: max |y-ref| %g", n, kind, e_ref);
            CHECK_MSG(e_bnb < 1e-4, "n=%d kernel %d: max rel |y-bnb| %g", n, kind, e_bnb);
        }
        free(y); free(scratch);
        free(x); free(gca); free(gsca); free(gcols); free(ref); free(bnb);
    }
    t.ops->free(&t);
    free(cb); free(scb); free(w); free(gcb); free(gscb);
    golden_free(&g);
    return test_done();
}
