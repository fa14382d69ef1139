/* Published AutoAWQ GEMM checkpoints (tests/reference/gen_accel_goldens.py
 * awqhub): the tiny AWQ model's codes packed by AutoAWQ's WQLinear_GEMM into
 * qweight/qzeros/scales, loaded by the HF loader, run (1) through the
 * loader's own scalar kernels, (2) after bd_accel_adopt as awq4, and
 * compared with (3) the same codes packed in-process by bd_awq4_pack_codes
 * and with transformers' fp32 forward on AutoAWQ's unpacked weights. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test.h"
#include "accel/accel.h"
#include "accel/awq.h"
#include "accel/wanda.h"
#include "engine/engine.h"
#include "golden.h"
#include "model/awq_gemm.h"

static const char *HUB = "tests/reference/accel/awq_hub";
static const char *NAMES[7] = {"q", "k", "v", "o", "gate", "up", "down"};

static float *logits_of(bd_model *m, const int32_t *ids, int n)
{
    bd_engine_opts eo = {0};
    eo.threads = 2;
    bd_engine *e = NULL;
    bd_kv *kv = NULL;
    bd_err err = {0};
    float *lg = malloc((size_t)n * (size_t)m->cfg.vocab_size * sizeof(float));
    if (!lg || bd_engine_new(m, &eo, &e, &err) || bd_engine_kv_new(e, n, &kv, &err) ||
        bd_forward(e, kv, ids, n, lg, 1, &err)) {
        CHECK_MSG(0, "forward: %s", err.msg);
        free(lg);
        lg = NULL;
    }
    bd_kv_free(kv);
    bd_engine_free(e);
    return lg;
}

static double maxdiff(const float *a, const float *b, int64_t n)
{
    double md = 0;
    for (int64_t i = 0; i < n; i++) md = fmax(md, fabs((double)a[i] - b[i]));
    return md;
}

/* writes dir/config.json (the hub config with `edit` applied: a key and a
 * raw JSON value, e.g. "version", "\"gemv\"") and a safetensors file with
 * one linear's parts of the given shapes */
static void write_bad(const char *dir, const char *key, const char *val, const int64_t qw[2], const int64_t qz[2],
                      const int64_t sc[2], int with_scales)
{
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    if (!f) { CHECK_MSG(0, "cannot write %s", p); return; }
    fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 128, "
               "\"intermediate_size\": 256, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
               "\"num_key_value_heads\": 4, \"vocab_size\": 300, \"max_position_embeddings\": 256, "
               "\"rms_norm_eps\": 1e-5, \"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4, "
               "\"group_size\": 128, \"zero_point\": true, \"%s\": %s}}", key, val);
    fclose(f);
    char hdr[1024];
    int64_t nqw = qw[0] * qw[1] * 4, nqz = qz[0] * qz[1] * 4, nsc = sc[0] * sc[1] * 2;
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"model.layers.0.mlp.up_proj.qweight\": {\"dtype\": \"I32\", \"shape\": [%lld, %lld], "
                      "\"data_offsets\": [0, %lld]}, \"model.layers.0.mlp.up_proj.qzeros\": {\"dtype\": \"I32\", "
                      "\"shape\": [%lld, %lld], \"data_offsets\": [%lld, %lld]}",
                      (long long)qw[0], (long long)qw[1], (long long)nqw, (long long)qz[0], (long long)qz[1],
                      (long long)nqw, (long long)(nqw + nqz));
    if (with_scales)
        hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl,
                       ", \"model.layers.0.mlp.up_proj.scales\": {\"dtype\": \"F16\", \"shape\": [%lld, %lld], "
                       "\"data_offsets\": [%lld, %lld]}",
                       (long long)sc[0], (long long)sc[1], (long long)(nqw + nqz), (long long)(nqw + nqz + nsc));
    hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "}");
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    if (!f) { CHECK_MSG(0, "cannot write %s", p); return; }
    uint64_t h = (uint64_t)hl;
    fwrite(&h, 8, 1, f);
    fwrite(hdr, 1, (size_t)hl, f);
    int64_t data = nqw + nqz + (with_scales ? nsc : 0);
    for (int64_t i = 0; i < data; i++) fputc(0, f);
    fclose(f);
}

static void test_bad_inputs(void)
{
    char dir[] = "/tmp/bd_awq_hub_XXXXXX";
    if (!mkdtemp(dir)) { CHECK_MSG(0, "mkdtemp"); return; }
    const int64_t qw[2] = {256, 32}, qz[2] = {2, 32}, sc[2] = {2, 256}, badz[2] = {3, 32};
    bd_model *m = NULL;
    bd_err err = {0};
    write_bad(dir, "version", "\"gemv\"", qw, qz, sc, 1);
    CHECK_EQ_INT(bd_model_load(dir, &m, &err), BD_EUNSUP);
    CHECK(strstr(err.msg, "version") != NULL);
    write_bad(dir, "version", "\"gemm\"", qw, badz, sc, 1);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_model_load(dir, &m, &err), BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "up_proj") && strstr(err.msg, "qzeros [3, 32]"), "%s", err.msg);
    write_bad(dir, "version", "\"gemm\"", qw, qz, sc, 0);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_model_load(dir, &m, &err), BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "lacks its '.scales'") != NULL, "%s", err.msg);
    write_bad(dir, "bits", "8", qw, qz, sc, 1);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_model_load(dir, &m, &err), BD_EUNSUP);
    CHECK(m == NULL);
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", dir);
    remove(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    remove(p);
    rmdir(dir);
}

int main(void)
{
    test_bad_inputs();
    golden hub, awq;
    CHECK(golden_load(&hub, "tests/reference/accel/awq_hub.bdg") == 0);
    CHECK(golden_load(&awq, "tests/reference/accel/awq.bdg") == 0);
    int64_t n_ids = 0, n_ref = 0;
    int32_t *ids = golden_copy(&hub, "ids", &n_ids);
    float *ref = golden_copy(&hub, "logits", &n_ref);
    bd_model *m = NULL, *m2 = NULL;
    bd_err err = {0};
    if (!ids || !ref || bd_model_load(HUB, &m, &err) || bd_model_load(HUB, &m2, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return test_done();
    }
    int n = (int)n_ids;
    int64_t nl = (int64_t)n * m->cfg.vocab_size;
    CHECK(nl == n_ref);
    bd_tensor *lin[7];
    CHECK_EQ_INT(bd_accel_linears(m, 0, lin), 7);
    CHECK(lin[0]->dtype == BD_PACKED && lin[0]->ops == &bd_awq_gemm_ops);
    CHECK(lin[0]->shape[0] == 128 && lin[0]->shape[1] == 128 && lin[6]->shape[1] == 256);

    /* the transformers forward runs in fp32 on the same weights: the sums
     * differ in order only, ~1e-6 on these O(1) logits */
    float *la = logits_of(m, ids, n);
    if (la) CHECK_MSG(maxdiff(la, ref, nl) < 1e-4, "loader kernels vs torch: %g", maxdiff(la, ref, nl));

    int64_t adopted = 0;
    CHECK_EQ_INT(bd_accel_adopt(m, &adopted, &err), 0);
    CHECK_EQ_INT((int)adopted, 7 * m->cfg.n_layers);
    CHECK(lin[0]->ops == &bd_awq4_ops && lin[6]->ops == &bd_awq4_ops);
    float *lb = logits_of(m, ids, n);
    if (lb) CHECK_MSG(maxdiff(lb, ref, nl) < 1e-4, "awq4 vs torch: %g", maxdiff(lb, ref, nl));
    if (la && lb) CHECK_MSG(maxdiff(la, lb, nl) < 1e-5, "awq4 vs loader kernels: %g", maxdiff(la, lb, nl));

    /* the same codes packed in-process from the [out, in] layout */
    for (int l = 0; l < m2->cfg.n_layers; l++) {
        bd_tensor *t[7];
        bd_accel_linears(m2, l, t);
        for (int k = 0; k < 7; k++) {
            char key[64];
            snprintf(key, sizeof key, "l%d_%s_q", l, NAMES[k]);
            uint8_t *q = golden_copy(&awq, key, NULL);
            snprintf(key, sizeof key, "l%d_%s_scale", l, NAMES[k]);
            float *sc = golden_copy(&awq, key, NULL);
            snprintf(key, sizeof key, "l%d_%s_zero", l, NAMES[k]);
            uint8_t *z = golden_copy(&awq, key, NULL);
            CHECK(q && sc && z && bd_awq4_pack_codes(t[k], 128, q, sc, z, &err) == 0);
            free(q); free(sc); free(z);
        }
    }
    float *lc = logits_of(m2, ids, n);
    /* identical packed bytes and kernels: equal (1e-5 is the bound asked) */
    if (lb && lc) CHECK_MSG(maxdiff(lb, lc, nl) < 1e-5, "adopted vs in-process awq4: %g", maxdiff(lb, lc, nl));

    /* every session goes through bd_accel_apply, which adopts first */
    bd_model *m3 = NULL;
    bd_accel_result r;
    CHECK(bd_model_load(HUB, &m3, &err) == 0);
    if (m3) {
        CHECK_EQ_INT(bd_accel_apply(m3, "none", NULL, &r, &err), 0);
        CHECK(strstr(r.notes, "AutoAWQ GEMM checkpoint: 14 linears") != NULL);
        CHECK(m3->layers[1].w_down->ops == &bd_awq4_ops);
        float *ld = logits_of(m3, ids, n);
        if (ld && lb) CHECK(maxdiff(ld, lb, nl) == 0.0);
        free(ld);
    }
    bd_model_free(m3);
    free(la); free(lb); free(lc); free(ids); free(ref);
    bd_model_free(m);
    bd_model_free(m2);
    golden_free(&hub);
    golden_free(&awq);
    return test_done();
}
