/* Wanda against a torch reference of the spec on a tiny transformers model
 * (tests/reference/gen_accel_goldens.py wanda): the pruned positions of every
 * decoder linear and the pruned model's logits; the 2:4 packed format and its
 * kernels against the dense pruned weights. */
#include <stdint.h>

#include "../test.h"
#include "accel/accel.h"
#include "accel/wanda.h"
#include "engine/engine.h"
#include "golden.h"

static const char *MODEL = "tests/reference/models/llama_gqa_f32";
static const char *NAMES[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

static void calib_ids(int vocab, int ns, int T, uint64_t seed, int32_t *ids)
{
    uint64_t s = seed;
    for (int i = 0; i < ns * T; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int32_t)((s >> 33) % (uint64_t)vocab);
    }
}

static void test_prune_unit(void)
{
    /* S = 1,4,1,4,... so sqrt(S) = 1,2,1,2: scores |w|*{1,2} */
    double S[8] = {1, 4, 1, 4, 1, 4, 1, 4};
    float w[16] = {1, -1, 3, 0.4f, -2, 2, 0.1f, 0.2f,   /* scores 1,2,3,.8,2,4,.1,.4 */
                   1, 0.5f, 1, 0.5f, 1, 0.5f, 1, 0.5f}; /* all scores 1: ties -> lower index pruned */
    float u[16];
    memcpy(u, w, sizeof u);
    bd_wanda_prune(u, 2, 8, S, 1, 0.5f, 0, 0);
    float e1[16] = {0, -1, 3, 0, -2, 2, 0, 0,   0, 0, 0, 0, 1, 0.5f, 1, 0.5f};
    CHECK(memcmp(u, e1, sizeof u) == 0);
    memcpy(u, w, sizeof u);
    bd_wanda_prune(u, 2, 8, S, 2, 0.5f, 2, 4);
    float e2[16] = {0, -1, 3, 0, -2, 2, 0, 0,   0, 0, 1, 0.5f, 0, 0, 1, 0.5f};
    CHECK(memcmp(u, e2, sizeof u) == 0);
}

/* Unstructured selection on larger rows with many ties: exactly the
 * int(cols/2) entries a stable sort of the scores puts first are zeroed. */
static void test_prune_random(void)
{
    int cols = 997;
    double *S = malloc(sizeof(double) * cols);
    float *w = malloc(sizeof(float) * cols * 3), *u = malloc(sizeof(float) * cols * 3);
    uint64_t st = 77;
    for (int j = 0; j < cols; j++) S[j] = 1.0 + (double)(j % 3);
    for (int i = 0; i < 3 * cols; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        w[i] = (float)((int)((st >> 33) % 7) - 3); /* few distinct values: many ties */
    }
    memcpy(u, w, sizeof(float) * cols * 3);
    bd_wanda_prune(u, 3, cols, S, 1, 0.5f, 0, 0);
    int bad = 0;
    for (int r = 0; r < 3; r++) {
        /* reference: rank by (score, index) with a simple O(n^2) count */
        for (int j = 0; j < cols; j++) {
            float sj = fabsf(w[r * cols + j]) * (float)sqrt(S[j]);
            int rank = 0;
            for (int k = 0; k < cols; k++) {
                float sk = fabsf(w[r * cols + k]) * (float)sqrt(S[k]);
                rank += sk < sj || (sk == sj && k < j);
            }
            int pruned = rank < cols / 2;
            bad += pruned ? u[r * cols + j] != 0.0f : u[r * cols + j] != w[r * cols + j];
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(S); free(w); free(u);
}

static void test_model(const golden *g, const char *kind, const char *spec)
{
    bd_model *m = NULL;
    bd_err err = {0};
    if (bd_model_load(MODEL, &m, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    int ns = 4, T = 16;
    int32_t ids[64];
    calib_ids(m->cfg.vocab_size, ns, T, 42, ids);
    bd_calib c = {ns, T, ids};
    bd_accel_spec s;
    CHECK_EQ_INT(bd_accel_parse(spec, &s, &err), 0);
    int rc = bd_wanda_apply_calib(m, &s, &c, 1, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    int64_t total = 0, bad = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        bd_accel_linears(m, l, lin);
        for (int k = 0; k < 7; k++) {
            char key[64];
            snprintf(key, sizeof key, "%s_l%d_%s", kind, l, NAMES[k]);
            uint8_t *mask = golden_copy(g, key, NULL);
            if (!mask) { CHECK(0); continue; }
            int64_t rows = lin[k]->shape[0], cols = lin[k]->shape[1];
            float *row = malloc((size_t)cols * 4);
            for (int64_t r = 0; r < rows; r++) {
                bd_tensor_row(lin[k], r, row);
                int64_t zeros = 0;
                for (int64_t j = 0; j < cols; j++) {
                    zeros += row[j] == 0.0f;
                    bad += (row[j] == 0.0f) != (mask[r * cols + j] != 0);
                    total++;
                }
                if (s.prune == 1) CHECK_EQ_INT(zeros, cols / 2);
            }
            free(row);
            free(mask);
        }
    }
    /* Statistics are summed in a different order than torch's (both float64);
     * a mismatch would need two scores equal to ~1e-7: none expected here. */
    CHECK_MSG(bad == 0, "%s: %lld of %lld mask entries differ", kind, (long long)bad, (long long)total);

    /* the pruned model's logits match transformers' on the pruned weights */
    char key[64];
    snprintf(key, sizeof key, "%s_logits", kind);
    int64_t nl = 0;
    float *ref = golden_copy(g, key, &nl);
    bd_engine *e = NULL;
    bd_engine_opts eo = {0};
    eo.threads = 1;
    CHECK_EQ_INT(bd_engine_new(m, &eo, &e, &err), 0);
    bd_kv *kv = NULL;
    float *logits = malloc((size_t)T * m->cfg.vocab_size * 4);
    if (e && ref && !bd_engine_kv_new(e, T, &kv, &err) && !bd_forward(e, kv, ids, T, logits, 1, &err)) {
        CHECK_EQ_INT(nl, (int64_t)T * m->cfg.vocab_size);
        double md = 0;
        for (int64_t i = 0; i < nl; i++) if (fabs(logits[i] - ref[i]) > md) md = fabs(logits[i] - ref[i]);
        CHECK_MSG(md < 1e-4, "%s logits: max diff %g", kind, md); /* fp32 vs torch fp32, 2 layers */
    } else CHECK_MSG(0, "%s", err.msg);

    if (s.prune == 2) {
        /* pack as 2:4 and compare kernels with the dense pruned weights */
        bd_tensor *w = m->layers[1].w_gate;
        int64_t rows = w->shape[0], cols = w->shape[1];
        float *dense = malloc((size_t)(rows * cols) * 4);
        for (int64_t r = 0; r < rows; r++) bd_tensor_row(w, r, dense + r * cols);
        int64_t nconv = 0;
        CHECK_EQ_INT(bd_sparse24_pack_model(m, &nconv, &err), 0);
        CHECK_EQ_INT(nconv, 7 * m->cfg.n_layers);
        CHECK(w->dtype == BD_PACKED && w->ops == &bd_sparse24_ops);
        CHECK_EQ_INT(w->nbytes, rows * cols / 2 * 4 + rows * ((cols / 4 + 7) / 8) * 4);
        float *rr = malloc((size_t)cols * 4);
        int rbad = 0;
        for (int64_t r = 0; r < rows; r++) {
            w->ops->row(w, r, rr);
            rbad += memcmp(rr, dense + r * cols, (size_t)cols * 4) != 0;
        }
        CHECK_EQ_INT(rbad, 0);
        float x[3 * 64], y[3 * 48];
        for (int i = 0; i < 3 * 64; i++) x[i] = sinf(i * 0.7f);
        for (int kind2 = 0; kind2 < 3; kind2++) {
            if (bd_sparse24_matmul_kernel(kind2, w, x, 3, y, 0, rows) != 0) continue;
            double md = 0;
            for (int t = 0; t < 3; t++)
                for (int64_t r = 0; r < rows; r++) {
                    double ref2 = 0;
                    for (int64_t j = 0; j < cols; j++) ref2 += (double)dense[r * cols + j] * x[t * cols + j];
                    if (fabs(ref2 - y[t * rows + r]) > md) md = fabs(ref2 - y[t * rows + r]);
                }
            CHECK_MSG(md < 1e-5, "2:4 kernel %d: max diff %g", kind2, md);
        }
        /* the engine runs on the packed weights and gives the same logits */
        float *l2 = malloc((size_t)T * m->cfg.vocab_size * 4);
        bd_kv_reset(kv);
        if (!bd_forward(e, kv, ids, T, l2, 1, &err)) {
            double md = 0;
            for (int64_t i = 0; i < nl; i++) if (fabs(logits[i] - l2[i]) > md) md = fabs(logits[i] - l2[i]);
            CHECK_MSG(md < 1e-4, "2:4 packed logits: max diff %g", md);
        } else CHECK_MSG(0, "%s", err.msg);
        free(l2); free(rr); free(dense);
    }
    free(logits);
    free(ref);
    bd_kv_free(kv);
    bd_engine_free(e);
    bd_model_free(m);
}

int main(void)
{
    test_prune_unit();
    test_prune_random();
    golden g;
    CHECK(golden_load(&g, "tests/reference/accel/wanda.bdg") == 0);
    test_model(&g, "unstructured", "wanda50");
    test_model(&g, "2of4", "wanda2:4");
    golden_free(&g);
    return test_done();
}
