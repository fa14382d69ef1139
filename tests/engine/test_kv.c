/* The quantized-KV update rule (HF QuantizedCache.update, spec/strategies.md
 * §4.2) with test codecs:
 *  - "halve" stores x/2 (exact in fp32), so a position's K/V shrink by 2 every
 *    time they are (re)quantized: logits then reveal exactly which positions
 *    were quantized how often at every step. They must equal the double
 *    reference (tiny.h) run with the schedule simulated here from the rule as
 *    transformers writes it (lists Q and R, flush when R is non-empty and
 *    len(R) + 1 >= residual_length), within 1e-4 (see test_forward.c);
 *  - "copy" (fp32 as is): logits bit-identical to the full-precision cache;
 *  - "bf16" (round to bfloat16): first-token logits (prefill) identical to
 *    full precision, later ones close; bd_kv_bytes = real stored bytes;
 *  - a recording codec: encode() sees exactly the prefill length, then the
 *    whole history at each flush; a prefill split into chunks is one call. */
#include "../test.h"
#include "tiny.h"

static size_t sz_f32(const void *p, int n, int d) { (void)p; return (size_t)n * d * 4; }

typedef struct rec { int n_enc, lens[64]; } rec;

static int enc_halve(const void *p, const float *s, int n, int d, int is_key, void *dst, bd_err *e)
{
    (void)e;
    (void)is_key;
    rec *r = (rec *)p;
    if (r && is_key && r->n_enc < 64) r->lens[r->n_enc++] = n; /* layer 0 and 1 both record */
    float *o = dst;
    for (size_t i = 0; i < (size_t)n * d; i++) o[i] = s[i] * 0.5f;
    return 0;
}
static void dec_f32(const void *p, const void *src, int n, int d, int is_key, float *dst)
{
    (void)p; (void)is_key;
    memcpy(dst, src, (size_t)n * d * 4);
}
static int enc_copy(const void *p, const float *s, int n, int d, int is_key, void *dst, bd_err *e)
{
    (void)p; (void)is_key; (void)e;
    memcpy(dst, s, (size_t)n * d * 4);
    return 0;
}

enum { RES = 3, P = 5, STEPS = 9 };
static const int32_t TOK[P + STEPS] = {1, 9, 3, 22, 17, 5, 30, 2, 11, 8, 38, 14, 6, 25};

static void test_halve(int max_batch)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    rec rc = {0};
    bd_kv_codec codec = {"halve", RES, sz_f32, enc_halve, dec_f32};
    bd_engine_opts o = {.threads = 2, .max_batch = max_batch, .kv_codec = &codec, .kv_codec_params = &rc};
    bd_engine *e;
    bd_kv *kv;
    bd_err err;
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0 && bd_engine_kv_new(e, 0, &kv, &err) == 0);
    const int V = c.vocab_size;
    float *lg = malloc(sizeof(float) * V * P);
    double *want = malloc(sizeof(double) * V * P);
    ref R;
    ref_init(&R, &T, P + STEPS);

    /* the rule, simulated: Q and R as lists of positions, count[p] = encodes */
    int Q[64], nq = 0, Rl[64], nr = 0, count[64] = {0};
    int exp_lens[64], n_exp = 0;

    CHECK(bd_forward(e, kv, TOK, P, lg, 1, &err) == 0);
    for (int t = 0; t < P; t++) ref_step(&R, TOK[t], want + (size_t)t * V, NULL);
    double w = 0;
    for (int i = 0; i < P * V; i++) w = fmax(w, fabs(lg[i] - want[i]));
    CHECK_MSG(w <= 1e-4, "halve: prefill logits error %g (prefill must be full precision)", w);
    for (int p = 0; p < P; p++) { Q[nq++] = p; count[p]++; }
    exp_lens[n_exp++] = nq;

    for (int s = 0; s < STEPS; s++) {
        int pos = P + s;
        for (int i = 0; i < nq; i++) R.hist_scale[Q[i]] = pow(0.5, count[Q[i]]);
        for (int i = 0; i < nr; i++) R.hist_scale[Rl[i]] = 1;
        CHECK(bd_forward(e, kv, TOK + pos, 1, lg, 0, &err) == 0);
        ref_step(&R, TOK[pos], want, NULL);
        double d = 0;
        for (int v = 0; v < V; v++) d = fmax(d, fabs(lg[v] - want[v]));
        CHECK_MSG(d <= 1e-4, "halve: decode step %d logits error %g", s + 1, d);
        if (nr > 0 && nr + 1 >= RES) {
            for (int i = 0; i < nr; i++) Q[nq++] = Rl[i];
            Q[nq++] = pos;
            for (int i = 0; i < nq; i++) count[Q[i]]++;
            nr = 0;
            exp_lens[n_exp++] = nq;
        } else {
            Rl[nr++] = pos;
        }
        size_t kvd = (size_t)c.n_kv_heads * c.head_dim;
        CHECK_EQ_INT(bd_kv_bytes(kv), (size_t)c.n_layers * 2 * (nq + nr) * kvd * 4);
    }
    /* encode() saw, per layer (K only recorded): P, then each flush */
    CHECK_EQ_INT(rc.n_enc, n_exp * c.n_layers);
    for (int i = 0; i < n_exp && i * c.n_layers + 1 < rc.n_enc; i++) {
        CHECK_EQ_INT(rc.lens[i * c.n_layers], exp_lens[i]);
        CHECK_EQ_INT(rc.lens[i * c.n_layers + 1], exp_lens[i]);
    }
    CHECK(n_exp == 4); /* P=5, RES=3, 9 steps: flushes at steps 3, 6, 9 */
    CHECK(bd_kv_truncate(kv, 3, &err) == BD_EUNSUP);
    CHECK(bd_kv_truncate(kv, 0, &err) == 0 && bd_kv_pos(kv) == 0 && bd_kv_bytes(kv) == 0);
    free(lg); free(want);
    ref_free(&R);
    bd_kv_free(kv);
    bd_engine_free(e);
    tiny_free(&T);
}

/* Logits of prefill + STEPS decode steps with a given codec (NULL = none). */
static float *run_codec(tiny *T, const bd_kv_codec *codec, size_t *bytes_after)
{
    const int V = T->m.cfg.vocab_size;
    bd_engine_opts o = {.threads = 1, .kv_codec = codec};
    bd_engine *e;
    bd_kv *kv;
    bd_err err;
    float *lg = malloc(sizeof(float) * V * (STEPS + 1));
    CHECK(bd_engine_new(&T->m, &o, &e, &err) == 0 && bd_engine_kv_new(e, 0, &kv, &err) == 0);
    CHECK(bd_forward(e, kv, TOK, P, lg, 0, &err) == 0);
    for (int s = 0; s < STEPS; s++) CHECK(bd_forward(e, kv, TOK + P + s, 1, lg + (size_t)(s + 1) * V, 0, &err) == 0);
    *bytes_after = bd_kv_bytes(kv);
    bd_kv_free(kv);
    bd_engine_free(e);
    return lg;
}

static void test_copy_bf16(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    const int V = c.vocab_size;
    const size_t kvd = (size_t)c.n_kv_heads * c.head_dim;
    bd_kv_codec copy = {"copy", RES, sz_f32, enc_copy, dec_f32};
    bd_kv_codec bf = {"bf16", RES, tiny_sz_bf16, tiny_enc_bf16, tiny_dec_bf16};
    size_t b0, b1, b2;
    float *l0 = run_codec(&T, NULL, &b0), *l1 = run_codec(&T, &copy, &b1), *l2 = run_codec(&T, &bf, &b2);
    CHECK_MSG(!memcmp(l0, l1, sizeof(float) * V * (STEPS + 1)), "identity codec changed the logits");
    CHECK_MSG(!memcmp(l0, l2, sizeof(float) * V), "bf16 codec changed the prefill logits");
    double w = 0;
    for (int i = V; i < V * (STEPS + 1); i++) w = fmax(w, fabs(l0[i] - l2[i]));
    CHECK_MSG(w > 0 && w < 0.05, "bf16 cache: decode logits differ by %g (expected small, nonzero)", w);
    /* after 9 steps everything was flushed at step 9: 14 positions in bf16 */
    CHECK_EQ_INT(b0, (size_t)c.n_layers * 2 * (P + STEPS) * kvd * 4);
    CHECK_EQ_INT(b2, (size_t)c.n_layers * 2 * (P + STEPS) * kvd * 2);
    free(l0); free(l1); free(l2);
    tiny_free(&T);
}

int main(void)
{
    test_halve(512);
    test_halve(2); /* the prefill in 3 chunks is still one call */
    test_copy_bf16();
    return test_done();
}
