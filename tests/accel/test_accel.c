/* The SPEC interface: parsing and combination rules, and bd_accel_apply on
 * tiny models: every weight strategy leaves embeddings/norms/head alone,
 * packs each decoder linear, and the engine's logits on the packed model
 * equal those of the same model with the dequantized weights stored dense
 * (which runs the engine's own dense kernels: an independent path). */
#include <stdint.h>
#include <unistd.h>

#include "../test.h"
#include "accel/accel.h"
#include "accel/calib.h"
#include "accel/wutil.h"
#include "engine/engine.h"

static void test_parse(void)
{
    struct { const char *in, *canon; } ok[] = {
        {"none", "none"}, {"", "none"}, {"int8", "int8"}, {"fp4", "fp4"}, {"nf4", "nf4"},
        {"nf4-dq", "nf4-dq"}, {"awq4", "awq4"}, {"awq4:g128", "awq4"}, {"awq4:g64", "awq4:g64"},
        {"kv4", "kv4"}, {"kv8", "kv8"}, {"kv4:hqq", "kv4"}, {"kv4:quanto", "kv4:quanto"},
        {"kv8:axis1", "kv8:axis1"}, {"kv4:quanto:axis-1", "kv4:quanto:axis-1"},
        {"wanda50", "wanda50"}, {"wanda2:4", "wanda2:4"}, {"nf4+wanda2:4", "wanda2:4+nf4"},
        {"kv8+awq4", "awq4+kv8"}, {"wanda50+int8+kv4", "wanda50+int8+kv4"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        bd_accel_spec s;
        bd_err err = {0};
        int rc = bd_accel_parse(ok[i].in, &s, &err);
        CHECK_MSG(rc == 0, "%s: %s", ok[i].in, err.msg);
        if (!rc) CHECK_STR(s.canon, ok[i].canon);
    }
    bd_accel_spec s;
    bd_err err = {0};
    CHECK_EQ_INT(bd_accel_parse("nf4", &s, &err), 0);
    CHECK(s.wq == BD_WQ_NF4 && !s.dq && !s.kv_bits && !s.prune);
    CHECK_EQ_INT(bd_accel_parse("kv4:quanto", &s, &err), 0);
    CHECK(s.kv_bits == 4 && s.kv_quanto && s.kv_axis == 0);
    const char *bad[] = {"int9", "nf4+int8", "kv4+kv8", "wanda50+wanda2:4", "none+int8", "kv8:quanto",
                         "awq4:g100", "int8:x", "nf4+", "+nf4", "kv4:axis2", "kv4:quanto:axis1",
                         "wanda2:4+awq4", "kv4:hqq:axis-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        CHECK_MSG(bd_accel_parse(bad[i], &s, &err) == BD_EINPUT, "%s accepted", bad[i]);
        CHECK_MSG(strstr(err.msg, "valid specs") || strstr(err.msg, "axes"), "%s: %s", bad[i], err.msg);
    }
    bd_compute c;
    CHECK(bd_compute_parse("bf16", &c, &err) == 0 && c == BD_COMPUTE_BF16);
    CHECK(bd_compute_parse("fp8", &c, &err) == BD_EINPUT);
}

static int forward_all(bd_model *m, const int32_t *ids, int n, float *logits, const bd_accel_result *r)
{
    bd_engine_opts eo = {0};
    eo.threads = 2;
    if (r) { eo.kv_codec = r->kv_codec; eo.kv_codec_params = r->kv_codec_params; }
    bd_engine *e = NULL;
    bd_kv *kv = NULL;
    bd_err err = {0};
    int rc = bd_engine_new(m, &eo, &e, &err);
    if (!rc) rc = bd_engine_kv_new(e, n, &kv, &err);
    if (!rc) rc = bd_forward(e, kv, ids, n, logits, 1, &err);
    if (rc) fprintf(stderr, "forward: %s\n", err.msg);
    bd_kv_free(kv);
    bd_engine_free(e);
    return rc;
}

/* Replace every packed tensor by dense fp32 copies of its rows. */
static void densify(bd_model *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        bd_tensor *t = &m->tensors[i];
        if (t->dtype != BD_PACKED) continue;
        float *w = bd_tensor_f32(t);
        bd_tensor_set_f32(t, w);
    }
}

static void test_apply(const char *path, const char *spec, double tol)
{
    bd_model *m = NULL, *ref = NULL;
    bd_err err = {0};
    if (bd_model_load(path, &m, &err) || bd_model_load(path, &ref, &err)) {
        CHECK_MSG(0, "%s: %s", path, err.msg);
        bd_model_free(m);
        return;
    }
    bd_accel_result r;
    int rc = bd_accel_apply(m, spec, NULL, &r, &err);
    CHECK_MSG(rc == 0, "%s %s: %s", path, spec, err.msg);
    if (rc) { bd_model_free(m); bd_model_free(ref); return; }
    int L = m->cfg.n_layers;
    CHECK_EQ_INT(r.n_converted, 7 * L);
    CHECK(m->tok_embd->dtype != BD_PACKED && m->output->dtype != BD_PACKED);
    CHECK(m->layers[0].wq->dtype == BD_PACKED && m->layers[L - 1].w_down->dtype == BD_PACKED);
    CHECK_MSG(r.weight_bytes_after < r.weight_bytes_before, "%s: %zu !< %zu", spec, r.weight_bytes_after,
              r.weight_bytes_before);
    int n = 12, V = m->cfg.vocab_size;
    int32_t ids[12];
    for (int i = 0; i < n; i++) ids[i] = (i * 37 + 3) % V;
    float *a = malloc((size_t)n * V * 4), *b = malloc((size_t)n * V * 4), *c = malloc((size_t)n * V * 4);
    CHECK_EQ_INT(forward_all(m, ids, n, a, &r), 0);
    CHECK_EQ_INT(forward_all(ref, ids, n, c, NULL), 0);
    if (strstr(spec, "int8")) {
        /* LLM.int8 quantizes activations too: compare with the unquantized model */
        double md = 0, mx = 0;
        for (int i = 0; i < n * V; i++) { md = fmax(md, fabs(a[i] - c[i])); mx = fmax(mx, fabs(c[i])); }
        CHECK_MSG(md < tol * mx, "%s %s: max diff %g vs max |logit| %g", path, spec, md, mx);
    } else {
        densify(m);
        CHECK_EQ_INT(forward_all(m, ids, n, b, NULL), 0);
        double md = 0, dq = 0;
        for (int i = 0; i < n * V; i++) { md = fmax(md, fabs(a[i] - b[i])); dq = fmax(dq, fabs(c[i] - b[i])); }
        CHECK_MSG(md < 1e-4, "%s %s: packed vs dense-dequantized logits differ by %g", path, spec, md);
        CHECK_MSG(dq > 0, "%s %s: quantization changed nothing", path, spec);
    }
    free(a); free(b); free(c);
    bd_model_free(m);
    bd_model_free(ref);
}

static void test_kv(const char *path)
{
    bd_model *m = NULL;
    bd_err err = {0};
    if (bd_model_load(path, &m, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    const char *specs[] = {"kv4", "kv8", "kv4:quanto", "kv8:axis1", "kv4:quanto:axis-1"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        bd_accel_result r;
        CHECK_EQ_INT(bd_accel_apply(m, specs[i], NULL, &r, &err), 0);
        CHECK(r.kv_codec != NULL && r.kv_codec_params == &r.kvp);
        CHECK_EQ_INT(r.kvp.head_dim, m->cfg.head_dim);
        CHECK_EQ_INT(r.weight_bytes_after, r.weight_bytes_before);
        /* prefill attends in full precision: first logits equal the plain model's */
        int V = m->cfg.vocab_size;
        int32_t ids[8] = {1, 5, 9, 13, 17, 21, 25, 29};
        float *a = malloc((size_t)8 * V * 4), *b = malloc((size_t)8 * V * 4);
        CHECK_EQ_INT(forward_all(m, ids, 8, a, &r), 0);
        CHECK_EQ_INT(forward_all(m, ids, 8, b, NULL), 0);
        CHECK(memcmp(a, b, (size_t)8 * V * 4) == 0);
        free(a); free(b);
    }
    bd_model_free(m);
}

static int split_tok(void *ctx, const char *text, int32_t **ids, int *n, bd_err *err)
{
    (void)ctx; (void)err;
    int len = (int)strlen(text);
    *ids = malloc((size_t)(len + 1) * 4);
    for (int i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i] % 200;
    *n = len;
    return 0;
}

static void test_calib(void)
{
    char **docs;
    int n;
    bd_err err = {0};
    CHECK_EQ_INT(bd_calib_split("x.txt", "one\ntwo\n\n\nthree  \n \nfour", &docs, &n, &err), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) { CHECK_STR(docs[0], "one\ntwo"); CHECK_STR(docs[1], "three"); CHECK_STR(docs[2], "four"); }
    bd_calib_docs_free(docs, n);
    CHECK_EQ_INT(bd_calib_split("x.jsonl", "{\"text\": \"a b\"}\n\n{\"text\":\"\"}\n{\"text\":\"c\"}\n", &docs, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    bd_calib_docs_free(docs, n);
    CHECK_EQ_INT(bd_calib_split("x.jsonl", "{\"text\": \"a\"}\n{\"txt\": 1}\n", &docs, &n, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "x.jsonl: line 2") != NULL);
    CHECK_EQ_INT(bd_calib_split("x.jsonl", "{\"text\": \"a\"}\n[1]\n", &docs, &n, &err), BD_EINPUT);

    bd_model *m = NULL;
    if (bd_model_load("../shared/models/stories260K/stories260K.gguf", &m, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    /* no calibration: error says how much is needed */
    bd_accel_result r;
    CHECK_EQ_INT(bd_accel_apply(m, "wanda50", NULL, &r, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "--calib") && strstr(err.msg, "128 samples"));
    /* too short a file */
    const char *tmp = "build/accel_calib_test.txt";
    FILE *f = fopen(tmp, "w");
    if (f) { fputs("short text\n\nanother one\n", f); fclose(f); }
    bd_accel_opts o = {0};
    o.calib = tmp; o.calib_samples = 4; o.calib_seqlen = 32; o.tokenize = split_tok;
    CHECK_EQ_INT(bd_accel_apply(m, "wanda50", &o, &r, &err), BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "longer than 32 tokens"), "%s", err.msg);
    /* selfgen works offline and is deterministic */
    o.calib = "selfgen";
    o.seed = 7;
    bd_calib c1, c2;
    CHECK_EQ_INT(bd_calib_get(m, &o, BD_CALIB_WANDA, 128, 512, &c1, &err), 0);
    CHECK_EQ_INT(bd_calib_get(m, &o, BD_CALIB_WANDA, 128, 512, &c2, &err), 0);
    CHECK(c1.n == 4 && c1.seqlen == 32 && memcmp(c1.ids, c2.ids, 4 * 32 * 4) == 0);
    bd_calib_free(&c1);
    bd_calib_free(&c2);
    CHECK_EQ_INT(bd_accel_apply(m, "wanda2:4+nf4", &o, &r, &err), 0);
    CHECK(m->layers[0].wq->dtype == BD_PACKED);
    /* the 2:4 pattern survives NF4 (code 7 is an exact 0) */
    float row[64];
    bd_tensor_row(m->layers[2].wk, 3, row);
    int ok = 1;
    for (int g = 0; g < 16; g++) {
        int z = 0;
        for (int i = 0; i < 4; i++) z += row[g * 4 + i] == 0.0f;
        ok &= z >= 2;
    }
    CHECK(ok);
    bd_model_free(m);
    remove(tmp);
}

/* AWQ through the SPEC interface with self-generated calibration. */
static void test_awq_spec(void)
{
    bd_model *m = NULL;
    bd_err err = {0};
    if (bd_model_load("tests/reference/accel/awq_tiny", &m, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    bd_accel_opts o = {0};
    o.calib = "selfgen"; o.calib_samples = 2; o.calib_seqlen = 16; o.seed = 3;
    bd_accel_result r;
    int rc = bd_accel_apply(m, "awq4+kv8", &o, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_EQ_INT(r.n_converted, 14);
    CHECK(r.kv_codec != NULL && r.kvp.bits == 8);
    CHECK(m->layers[1].w_up->dtype == BD_PACKED && strcmp(m->layers[1].w_up->ops->name, "awq4") == 0);
    CHECK(r.weight_bytes_after < r.weight_bytes_before);
    bd_model_free(m);
    /* stories260K: hidden 172 is not a multiple of 128 */
    if (bd_model_load("../shared/models/stories260K/stories260K.gguf", &m, &err)) return;
    CHECK_EQ_INT(bd_accel_apply(m, "awq4", &o, &r, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "group 128") != NULL);
    bd_model_free(m);
}

/* Save a transformed model, restore it onto a fresh base: every tensor and
 * the logits are bit-identical; a different base model is refused. */
static void roundtrip(const char *path, const char *spec, const char *file)
{
    bd_model *a = NULL, *b = NULL;
    bd_err err = {0};
    if (bd_model_load(path, &a, &err) || bd_model_load(path, &b, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    bd_accel_opts o = {0};
    o.calib = "selfgen"; o.calib_samples = 2; o.calib_seqlen = 16; o.seed = 11;
    bd_accel_result ra, rb;
    CHECK_EQ_INT(bd_accel_apply(a, spec, &o, &ra, &err), 0);
    CHECK_MSG(bd_accel_save(a, &ra, file, &err) == 0, "%s", err.msg);
    int rc = bd_accel_apply(b, file, NULL, &rb, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) { bd_model_free(a); bd_model_free(b); return; }
    CHECK_STR(rb.spec.canon, ra.spec.canon);
    CHECK_EQ_INT(rb.weight_bytes_after, ra.weight_bytes_after);
    CHECK((rb.kv_codec == NULL) == (ra.kv_codec == NULL));
    int bad = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        bd_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        bad += x->dtype != y->dtype || x->ops != y->ops || x->nbytes != y->nbytes;
        int64_t rows = x->ndim == 2 ? x->shape[0] : 1, cols = x->shape[x->ndim - 1];
        float *rx = malloc((size_t)cols * 4), *ry = malloc((size_t)cols * 4);
        for (int64_t r = 0; r < rows; r++) {
            bd_tensor_row(x, r, rx);
            bd_tensor_row(y, r, ry);
            bad += memcmp(rx, ry, (size_t)cols * 4) != 0;
        }
        free(rx); free(ry);
    }
    CHECK_MSG(bad == 0, "%s: %d tensor differences after restore", spec, bad);
    int V = a->cfg.vocab_size;
    int32_t ids[6] = {1, 7, 42, 3, 99, 5};
    float *la = malloc((size_t)6 * V * 4), *lb = malloc((size_t)6 * V * 4);
    CHECK_EQ_INT(forward_all(a, ids, 6, la, &ra), 0);
    CHECK_EQ_INT(forward_all(b, ids, 6, lb, &rb), 0);
    CHECK(memcmp(la, lb, (size_t)6 * V * 4) == 0);
    free(la); free(lb);
    bd_model_free(a);
    bd_model_free(b);
    /* another base model is refused by digest */
    bd_model *c = NULL;
    if (!bd_model_load("tests/reference/models/llama_tied_f16", &c, &err)) {
        CHECK_EQ_INT(bd_accel_apply(c, file, NULL, &rb, &err), BD_EINPUT);
        CHECK(strstr(err.msg, "sha256") != NULL);
        bd_model_free(c);
    }
    /* a truncated file is refused without crashing */
    FILE *f = fopen(file, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fclose(f);
        if (truncate(file, n / 2) == 0 && !bd_model_load(path, &c, &err)) {
            CHECK(bd_accel_apply(c, file, NULL, &rb, &err) != 0);
            bd_model_free(c);
        }
    }
    remove(file);
}

int main(void)
{
    test_parse();
    test_apply("tests/reference/models/llama_gqa_f32", "nf4", 0);
    test_apply("tests/reference/models/llama_mha_f16", "fp4", 0);
    test_apply("tests/reference/models/llama_gqa_f32", "nf4-dq", 0);
    test_apply("../shared/models/stories260K/stories260K.gguf", "nf4", 0);
    test_apply("../shared/models/stories260K/stories260K.gguf", "int8", 0.05);
    test_apply("tests/reference/models/llama_tied_f16", "int8", 0.05);
    test_kv("tests/reference/models/llama_gqa_f32");
    test_calib();
    test_awq_spec();
    roundtrip("../shared/models/stories260K/stories260K.gguf", "wanda2:4+nf4-dq+kv4", "build/accel_rt1.bdq");
    roundtrip("../shared/models/stories260K/stories260K.gguf", "wanda50+int8", "build/accel_rt2.bdq");
    roundtrip("../shared/models/stories260K/stories260K.gguf", "wanda2:4", "build/accel_rt3.bdq");
    roundtrip("tests/reference/accel/awq_tiny", "awq4+kv8", "build/accel_rt4.bdq");
    roundtrip("tests/reference/models/llama_mha_f16", "fp4", "build/accel_rt5.bdq");
    return test_done();
}
