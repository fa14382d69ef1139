/* AWQ against a torch reference of AutoAWQ v0.2.7's algorithm on a tiny
 * model (tests/reference/gen_accel_goldens.py awq): the chosen grid point of
 * every scaling group, the final codes, zeros and scales of every linear,
 * and the quantized model's logits; plus the packed kernels. */
#include <stdint.h>

#include "../test.h"
#include "accel/awq.h"
#include "accel/wanda.h"
#include "engine/engine.h"
#include "golden.h"

static const char *MODEL = "tests/reference/accel/awq_tiny";
static const char *NAMES[7] = {"q", "k", "v", "o", "gate", "up", "down"};

static void calib_ids(int vocab, int ns, int T, uint64_t seed, int32_t *ids)
{
    uint64_t s = seed;
    for (int i = 0; i < ns * T; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
    }
}

static void test_qgroup(void)
{
    /* hand-computed: min -1, max 2 -> scale 0.2, zero round(5) = 5 */
    float w[4] = {-1.0f, 2.0f, 0.55f, 0.13f}, s, z;
    uint8_t q[4];
    bd_awq_qgroup(w, 4, &s, &z, q);
    CHECK_NEAR(s, 0.2f, 1e-7);
    CHECK_EQ_INT((int)z, 5);
    CHECK(q[0] == 0 && q[1] == 15 && q[2] == 8 && q[3] == 6); /* 0.55/0.2 -> 3, 0.13/0.2 -> 1; + 5 */
    CHECK_NEAR(w[3], 0.2f, 1e-7);
}

/* AutoAWQ's GEMM checkpoint layout, packed by AutoAWQ itself. */
static void test_gemm_layout(void)
{
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/awq_gemm.bdg") == 0);
    int32_t *qw = golden_copy(&g, "qweight", NULL), *qz = golden_copy(&g, "qzeros", NULL);
    uint16_t *sc = golden_copy(&g, "scales", NULL);
    uint8_t *q = golden_copy(&g, "q", NULL), *z = golden_copy(&g, "z", NULL);
    float *s = golden_copy(&g, "s", NULL), *dq = golden_copy(&g, "dq", NULL);
    if (!qw || !qz || !sc || !q || !z || !s || !dq) { CHECK(0); return; }
    int64_t in = 256, out = 64, ng = 2;
    uint8_t uq[256 * 64], uz[2 * 64];
    float us[2 * 64];
    bd_err err = {0};
    CHECK_EQ_INT(bd_awq_gemm_unpack(qw, qz, sc, in, out, 128, uq, uz, us, &err), 0);
    CHECK(memcmp(uq, q, sizeof uq) == 0);
    CHECK(memcmp(uz, z, sizeof uz) == 0);
    int bad = 0;
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) {
            /* AutoAWQ's dequantize_gemm computes (q - z) * s in fp16 */
            float v = bd_f16_to_f32(bd_f32_to_f16(((float)uq[o * in + i] - uz[o * ng + i / 128]) * us[o * ng + i / 128]));
            bad += v != dq[i * out + o];
        }
    CHECK_EQ_INT(bad, 0);
    int32_t pw[256 * 8], pz[2 * 8];
    uint16_t ps[2 * 64];
    bd_awq_gemm_pack(q, z, s, in, out, 128, pw, pz, ps);
    CHECK(memcmp(pw, qw, sizeof pw) == 0);
    CHECK(memcmp(pz, qz, sizeof pz) == 0);
    CHECK(memcmp(ps, sc, sizeof ps) == 0);
    CHECK_EQ_INT(bd_awq_gemm_unpack(qw, qz, sc, 100, out, 128, uq, uz, us, &err), BD_EINPUT);
    free(qw); free(qz); free(sc); free(q); free(z); free(s); free(dq);
    golden_free(&g);
}

int main(void)
{
    test_qgroup();
    test_gemm_layout();
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/awq.bdg") == 0);
    bd_model *m = NULL;
    bd_err err = {0};
    if (bd_model_load(MODEL, &m, &err)) { CHECK_MSG(0, "%s", err.msg); return test_done(); }
    int ns = 4, T = 32;
    int32_t ids[128];
    calib_ids(m->cfg.vocab_size, ns, T, 7, ids);
    bd_calib c = {ns, T, ids};
    static bd_awq_trace tr;
    int rc = bd_awq_apply_calib(m, 128, &c, 1, &tr, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return test_done();
    for (int l = 0; l < m->cfg.n_layers; l++) {
        char key[64];
        snprintf(key, sizeof key, "l%d_best", l);
        int32_t *best = golden_copy(&g, key, NULL);
        snprintf(key, sizeof key, "l%d_losses", l);
        double *loss = golden_copy(&g, key, NULL);
        if (!best || !loss) { CHECK(0); continue; }
        for (int gi = 0; gi < 4; gi++) {
            if (best[gi] == tr.best[l][gi]) { CHECK(1); continue; }
            /* a different pick is only acceptable on a near tie of torch's own losses */
            int k = tr.best[l][gi];
            CHECK_MSG(k >= 0 && best[gi] >= 0 && fabs(loss[gi * 20 + k] - loss[gi * 20 + best[gi]]) <=
                      1e-5 * loss[gi * 20 + best[gi]], "layer %d group %d: picked %d, torch %d", l, gi, k, best[gi]);
        }
        for (int gi = 0; gi < 4; gi++)
            for (int k = 0; best[gi] >= 0 && k < 20; k++)
                /* fp32 forwards summed in different orders: losses agree to ~1e-4 */
                CHECK_NEAR(tr.loss[l][gi][k], loss[gi * 20 + k], 1e-3 * loss[gi * 20 + k] + 1e-12);
        free(best);
        free(loss);
        bd_tensor *lin[7];
        bd_accel_linears(m, l, lin);
        for (int k = 0; k < 7; k++) {
            CHECK(lin[k]->dtype == BD_PACKED && lin[k]->ops == &bd_awq4_ops);
            snprintf(key, sizeof key, "l%d_%s_q", l, NAMES[k]);
            int64_t nq = 0;
            uint8_t *q = golden_copy(&g, key, &nq);
            snprintf(key, sizeof key, "l%d_%s_scale", l, NAMES[k]);
            float *sc = golden_copy(&g, key, NULL);
            snprintf(key, sizeof key, "l%d_%s_zero", l, NAMES[k]);
            uint8_t *z = golden_copy(&g, key, NULL);
            if (!q || !sc || !z) { CHECK(0); continue; }
            int64_t rows = lin[k]->shape[0], cols = lin[k]->shape[1], ngr = cols / 128;
            float *row = malloc((size_t)cols * 4);
            int64_t bad = 0;
            double maxd = 0;
            for (int64_t r = 0; r < rows; r++) {
                lin[k]->ops->row(lin[k], r, row);
                for (int64_t j = 0; j < cols; j++) {
                    int64_t gg = r * ngr + j / 128;
                    float hs = bd_f16_to_f32(bd_f32_to_f16(sc[gg]));
                    float ref = ((float)q[r * cols + j] - (float)z[gg]) * hs;
                    if (row[j] != ref) bad++;
                    maxd = fmax(maxd, fabs(row[j] - ref));
                }
            }
            /* The features come from the engine here and from transformers
             * there, equal only to fp32 rounding, so the scales differ in the
             * last ulp. Unclipped q/k then agree except where w*s/scale sits
             * within an ulp of .5; a clip decision (per row and group) can flip
             * where two shrink factors give errors equal to ~1e-7, which
             * happens for a few groups of the clipped linears. */
            int64_t allow = k <= 1 ? rows * cols / 500 : rows * cols * 3 / 100;
            CHECK_MSG(bad <= allow, "layer %d %s: %lld of %lld weights differ (max %g)", l, NAMES[k],
                      (long long)bad, (long long)(rows * cols), maxd);
            free(row); free(q); free(sc); free(z);
        }
    }
    /* the thread count never changes the result: every task of the search
     * and of the clip computes the same values wherever it runs */
    {
        bd_model *m3 = NULL;
        static bd_awq_trace tr3;
        if (bd_model_load(MODEL, &m3, &err) == 0 && bd_awq_apply_calib(m3, 128, &c, 3, &tr3, &err) == 0) {
            CHECK(memcmp(&tr3, &tr, sizeof tr) == 0);
            int64_t diff = 0;
            for (int l = 0; l < m->cfg.n_layers; l++) {
                bd_tensor *a[7], *b[7];
                bd_accel_linears(m, l, a);
                bd_accel_linears(m3, l, b);
                for (int k = 0; k < 7; k++) {
                    int64_t cols = a[k]->shape[1];
                    float *ra = malloc((size_t)cols * 4), *rb = malloc((size_t)cols * 4);
                    for (int64_t r = 0; r < a[k]->shape[0]; r++) {
                        a[k]->ops->row(a[k], r, ra);
                        b[k]->ops->row(b[k], r, rb);
                        diff += memcmp(ra, rb, (size_t)cols * 4) != 0;
                    }
                    free(ra);
                    free(rb);
                }
            }
            CHECK_EQ_INT((int)diff, 0);
        } else CHECK_MSG(0, "%s", err.msg);
        bd_model_free(m3);
    }

    /* the quantized model's logits */
    int64_t nl = 0;
    float *ref = golden_copy(&g, "logits", &nl);
    bd_engine *e = NULL;
    bd_kv *kv = NULL;
    bd_engine_opts eo = {0};
    eo.threads = 1;
    float *lg = malloc((size_t)T * m->cfg.vocab_size * 4);
    if (ref && !bd_engine_new(m, &eo, &e, &err) && !bd_engine_kv_new(e, T, &kv, &err) &&
        !bd_forward(e, kv, ids, T, lg, 1, &err)) {
        double md = 0, mx = 0;
        for (int64_t i = 0; i < nl; i++) { md = fmax(md, fabs(lg[i] - ref[i])); mx = fmax(mx, fabs(ref[i])); }
        /* the few flipped clip groups move logits by up to ~0.1 on this model */
        CHECK_MSG(md < 0.15, "logits: max diff %g (max |logit| %g)", md, mx);
    } else CHECK_MSG(0, "%s", err.msg);

    /* packed kernels against the rows */
    bd_tensor *w = m->layers[0].w_down;
    int64_t rows = w->shape[0], cols = w->shape[1];
    float *dense = malloc((size_t)(rows * cols) * 4), *x = malloc((size_t)(5 * cols) * 4), *y = malloc((size_t)(5 * rows) * 4);
    for (int64_t r = 0; r < rows; r++) w->ops->row(w, r, dense + r * cols);
    for (int i = 0; i < 5 * cols; i++) x[i] = sinf(i * 0.3f);
    for (int n = 1; n <= 5; n += 4)
        for (int kind = 0; kind < 3; kind++) {
            if (bd_awq4_matmul_kernel(kind, w, x, n, y, 0, 32) != 0) continue;
            bd_awq4_matmul_kernel(kind, w, x, n, y, 32, rows);
            double md = 0;
            for (int t = 0; t < n; t++)
                for (int64_t r = 0; r < rows; r++) {
                    double s = 0, mag = 0;
                    for (int64_t j = 0; j < cols; j++) {
                        s += (double)dense[r * cols + j] * x[t * cols + j];
                        mag += fabs((double)dense[r * cols + j] * x[t * cols + j]);
                    }
                    md = fmax(md, fabs(s - y[t * rows + r]) / (mag + 1e-20));
                }
            CHECK_MSG(md < 1e-5, "awq4 kernel %d n %d: rel err %g", kind, n, md);
        }
    free(dense); free(x); free(y); free(lg); free(ref);
    bd_kv_free(kv);
    bd_engine_free(e);
    bd_model_free(m);
    golden_free(&g);
    return test_done();
}
