/* Batched decoding (bd_forward_batch, bd_generate_batch):
 *  - logits of every sequence of a batched step equal the independent double
 *    reference (tiny.h, one sequence at a time) within 1e-4 (fp32 vs double,
 *    as test_forward.c), for F32 and F16 weights and GQA;
 *  - a request's output is the same bits alone, in any batch and any split
 *    into calls (the matrix-matrix path keeps tokens independent), greedy and
 *    sampled, with a full-precision and with a quantizing KV codec;
 *  - batched greedy continuations of the real stories260K model equal
 *    bd_generate's (the one-token path) token for token;
 *  - failures: a shared cache, a full cache, an observer installed (then
 *    bd_generate_batch falls back to bd_generate, with its exact outputs). */
#include "../test.h"
#include "tiny.h"

enum { NS = 4, STEPS = 7 };
static const int32_t PR[NS][6] = {{1, 9, 3, 22, 17, 5}, {1, 30}, {1, 2, 11, 8}, {1, 38, 14, 6, 25}};
static const int PN[NS] = {6, 2, 4, 5};

static void test_logits_vs_ref(bd_dtype dt)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, dt);
    const int V = c.vocab_size;
    bd_engine *e;
    bd_err err = {0};
    CHECK(bd_engine_new(&T.m, NULL, &e, &err) == 0);
    CHECK(bd_engine_can_batch(e));
    bd_kv *kv[NS];
    ref R[NS];
    float *lg = malloc(sizeof(float) * NS * V), *one = malloc(sizeof(float) * V);
    double *rl = malloc(sizeof(double) * V);
    for (int s = 0; s < NS; s++) {
        CHECK(bd_engine_kv_new(e, 32, &kv[s], &err) == 0);
        CHECK(bd_forward(e, kv[s], PR[s], PN[s], one, 0, &err) == 0);
        ref_init(&R[s], &T, 32);
        for (int i = 0; i < PN[s]; i++) ref_step(&R[s], PR[s][i], NULL, NULL);
    }
    double worst = 0;
    for (int st = 0; st < STEPS; st++) {
        int32_t tok[NS];
        for (int s = 0; s < NS; s++) tok[s] = (int32_t)((7 * st + 5 * s + 3) % V);
        CHECK(bd_forward_batch(e, kv, tok, NS, lg, &err) == 0);
        for (int s = 0; s < NS; s++) {
            CHECK_EQ_INT(bd_kv_pos(kv[s]), PN[s] + st + 1);
            ref_step(&R[s], tok[s], rl, NULL);
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs(lg[(size_t)s * V + v] - rl[v]));
        }
    }
    CHECK_MSG(worst < 1e-4, "batched logits vs double reference: max abs %g", worst);
    for (int s = 0; s < NS; s++) { bd_kv_free(kv[s]); ref_free(&R[s]); }
    free(lg); free(one); free(rl);
    bd_engine_free(e);
    tiny_free(&T);
}

static void set_reqs(bd_gen_req *r, int sampled)
{
    for (int s = 0; s < NS; s++) {
        memset(&r[s], 0, sizeof r[s]);
        r[s].prompt = PR[s];
        r[s].n = PN[s];
        r[s].max_new = 6 + 3 * s;
        r[s].s = (bd_sampling){sampled ? 1.0f : 0, 1, 0, 1000 + (uint64_t)s};
    }
}

static int same_out(const bd_gen_req *a, const bd_gen_req *b)
{
    return a->n_out == b->n_out && (a->n_out == 0 || !memcmp(a->out, b->out, sizeof(int32_t) * (size_t)a->n_out));
}


static void test_independent(const bd_kv_codec *codec, int sampled)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    bd_engine_opts o = {.kv_codec = codec};
    bd_engine *e;
    bd_err err = {0};
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0);
    const int32_t stop[1] = {2};
    bd_gen_req all[NS], alone[NS], split[NS];
    set_reqs(all, sampled);
    set_reqs(alone, sampled);
    set_reqs(split, sampled);
    CHECK(bd_generate_batch(e, all, NS, stop, 1, &err) == 0);
    for (int s = 0; s < NS; s++) CHECK(bd_generate_batch(e, &alone[s], 1, stop, 1, &err) == 0);
    CHECK(bd_generate_batch(e, split, 1, stop, 1, &err) == 0);
    CHECK(bd_generate_batch(e, split + 1, 3, stop, 1, &err) == 0);
    int total = 0;
    for (int s = 0; s < NS; s++) {
        CHECK_MSG(same_out(&all[s], &alone[s]), "codec %s sampled %d: request %d differs alone vs in a batch",
                  codec ? codec->name : "none", sampled, s);
        CHECK_MSG(same_out(&all[s], &split[s]), "request %d differs in another split", s);
        CHECK(all[s].n_out <= all[s].max_new);
        total += all[s].n_out;
        free(all[s].out); free(alone[s].out); free(split[s].out);
    }
    CHECK_MSG(total > 2 * NS, "only %d tokens generated: the test would not see decoding", total);
    bd_engine_free(e);
    tiny_free(&T);
}

/* no token of the vocabulary stops: everything runs to max_new */
static void obs(void *ctx, int layer, const char *which, const float *x, int n, int in)
{
    (void)layer; (void)which; (void)x; (void)n; (void)in;
    ++*(int *)ctx;
}

static void test_errors_and_fallback(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    bd_engine *e;
    bd_err err = {0};
    CHECK(bd_engine_new(&T.m, NULL, &e, &err) == 0);
    bd_kv *kv[2];
    float *lg = malloc(sizeof(float) * 2 * c.vocab_size);
    CHECK(bd_engine_kv_new(e, 3, &kv[0], &err) == 0);
    CHECK(bd_engine_kv_new(e, 3, &kv[1], &err) == 0);
    int32_t tk[2] = {1, 5};
    bd_kv *twice[2] = {kv[0], kv[0]};
    err = (bd_err){0};
    CHECK_EQ_INT(bd_forward_batch(e, twice, tk, 2, lg, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "share a cache") != NULL);
    for (int i = 0; i < 3; i++) CHECK(bd_forward_batch(e, kv, tk, 2, lg, &err) == 0);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_forward_batch(e, kv, tk, 2, lg, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "cache is full") != NULL);
    CHECK_EQ_INT(bd_kv_pos(kv[0]), 3); /* unchanged by the refused call */
    int32_t bad[2] = {1, 99};
    bd_kv_reset(kv[0]);
    bd_kv_reset(kv[1]);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_forward_batch(e, kv, bad, 2, lg, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "vocabulary") != NULL);
    bd_kv_free(kv[0]);
    bd_kv_free(kv[1]);
    free(lg);
    bd_engine_free(e);

    /* an observer: no batching; bd_generate_batch = bd_generate exactly */
    int seen = 0;
    bd_engine_opts o = {.observer = obs, .observer_ctx = &seen};
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0);
    CHECK(!bd_engine_can_batch(e));
    bd_kv *k1;
    CHECK(bd_engine_kv_new(e, 4, &k1, &err) == 0);
    err = (bd_err){0};
    CHECK_EQ_INT(bd_forward_batch(e, &k1, tk, 1, NULL, &err), BD_EUNSUP);
    bd_kv_free(k1);
    bd_gen_req r[NS];
    set_reqs(r, 1);
    CHECK(bd_generate_batch(e, r, NS, NULL, 0, &err) == 0);
    for (int s = 0; s < NS; s++) {
        int32_t *out = NULL;
        int n_out = 0;
        CHECK(bd_generate(e, PR[s], PN[s], r[s].max_new, &r[s].s, NULL, 0, NULL, NULL, &out, &n_out, &err) == 0);
        CHECK_EQ_INT(r[s].n_out, r[s].max_new);
        CHECK(n_out == r[s].n_out && !memcmp(out, r[s].out, sizeof(int32_t) * (size_t)n_out));
        free(out);
        free(r[s].out);
    }
    CHECK(seen > 0);
    bd_engine_free(e);
    tiny_free(&T);
}

static void test_stories(void)
{
    const char *path = "../shared/models/stories260K/stories260K.bin";
    bd_model *m;
    bd_err err = {0};
    if (bd_model_load(path, &m, &err)) {
        CHECK_MSG(0, "cannot load %s: %s", path, err.msg);
        return;
    }
    bd_engine *e;
    CHECK(bd_engine_new(m, NULL, &e, &err) == 0);
    /* prompts of 1..8 tokens from the model's own vocabulary */
    static const int32_t p[8] = {1, 403, 407, 261, 378, 284, 285, 352};
    bd_gen_req r[8];
    for (int s = 0; s < 8; s++) {
        memset(&r[s], 0, sizeof r[s]);
        r[s].prompt = p;
        r[s].n = s + 1;
        r[s].max_new = 60;
        r[s].s = (bd_sampling){0, 1, 0, 0};
    }
    const int32_t stop[1] = {2};
    CHECK(bd_generate_batch(e, r, 8, stop, 1, &err) == 0);
    for (int s = 0; s < 8; s++) {
        int32_t *out = NULL;
        int n_out = 0;
        CHECK(bd_generate(e, p, s + 1, 60, &r[s].s, stop, 1, NULL, NULL, &out, &n_out, &err) == 0);
        CHECK_MSG(n_out == r[s].n_out && !memcmp(out, r[s].out, sizeof(int32_t) * (size_t)n_out),
                  "stories260K prompt %d: batched greedy (%d tokens) differs from bd_generate (%d)", s,
                  r[s].n_out, n_out);
        CHECK(n_out > 10);
        free(out);
        free(r[s].out);
    }
    bd_engine_free(e);
    bd_model_free(m);
}

int main(void)
{
    test_logits_vs_ref(BD_F32);
    test_logits_vs_ref(BD_F16);
    bd_kv_codec bf = {"bf16", 3, tiny_sz_bf16, tiny_enc_bf16, tiny_dec_bf16};
    test_independent(NULL, 0);
    test_independent(NULL, 1);
    test_independent(&bf, 0);
    test_independent(&bf, 1);
    test_errors_and_fallback();
    test_stories();
    return test_done();
}
