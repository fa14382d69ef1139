/* The forward pass against an independent double-precision reference
 * (tiny.h) on hand-built random models: batched prefill and incremental
 * decode, GQA, both q/k layouts, llama3 rope scaling, tied/untied heads,
 * chunked prefill; scoring, next-token probabilities, greedy generation,
 * the single-block API and the observer; and bit-identical logits for 1, 2
 * and 3 threads.
 * Tolerance 1e-4 absolute on logits of magnitude ~1-3: the engine computes
 * in fp32, the reference in double; fp32 rounding through 2 layers of
 * 32..48-wide dot products stays below ~1e-5. */
#include "../test.h"
#include "tiny.h"

static double max_err(const float *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= w)) w = d;
    }
    return w;
}

static int g_level; /* kernel set: 0 best, 1 scalar, 2 AVX2, 3 AVX-512 */

static const int32_t TOKS[] = {1, 7, 23, 5, 39, 0, 12, 12, 33, 8, 19, 2, 27, 30, 4, 16, 11};
enum { NT = sizeof TOKS / sizeof TOKS[0] };

/* Engine logits for all positions: one batched call (chunked by max_batch),
 * then the same through token-by-token decode. */
static void check_model(tiny *T, const char *what, int max_batch)
{
    const bd_config *c = &T->m.cfg;
    const int V = c->vocab_size;
    ref R;
    ref_init(&R, T, NT);
    double *want = malloc(sizeof(double) * NT * V);
    for (int t = 0; t < NT; t++) ref_step(&R, TOKS[t], want + (size_t)t * V, NULL);

    bd_engine *e;
    bd_kv *kv;
    bd_err err = {0};
    bd_engine_opts o = {.threads = 2, .max_batch = max_batch, .kern_level = g_level};
    CHECK_MSG(bd_engine_new(&T->m, &o, &e, &err) == 0, "%s: %s", what, err.msg);
    CHECK(bd_engine_kv_new(e, 0, &kv, &err) == 0);
    float *lg = malloc(sizeof(float) * NT * V);
    CHECK(bd_forward(e, kv, TOKS, NT, lg, 1, &err) == 0);
    double e1 = max_err(lg, want, (size_t)NT * V);
    CHECK_MSG(e1 <= 1e-4, "%s: batched logits max error %g", what, e1);
    /* incremental decode after a 5-token prefill */
    bd_kv_reset(kv);
    CHECK(bd_forward(e, kv, TOKS, 5, lg, 0, &err) == 0);
    double e2 = max_err(lg, want + 4 * V, V);
    for (int t = 5; t < NT; t++) {
        CHECK(bd_forward(e, kv, TOKS + t, 1, lg, 0, &err) == 0);
        double d = max_err(lg, want + (size_t)t * V, V);
        if (d > e2) e2 = d;
    }
    CHECK_MSG(e2 <= 1e-4, "%s: decode logits max error %g", what, e2);
    CHECK_EQ_INT(bd_kv_pos(kv), NT);
    CHECK_EQ_INT(bd_kv_bytes(kv), (size_t)NT * 2 * c->n_layers * c->n_kv_heads * c->head_dim * 4);
    fprintf(stderr, "%-28s %-7s batched %.2g decode %.2g\n", what, bd_engine_kernels(e), e1, e2);

    /* score = log-softmax of the reference at the next token */
    float lp[NT];
    CHECK(bd_score(e, TOKS, NT, lp, &err) == 0);
    double e3 = 0;
    for (int t = 0; t + 1 < NT; t++) {
        const double *w = want + (size_t)t * V;
        double mx = w[0], s = 0;
        for (int v = 1; v < V; v++) if (w[v] > mx) mx = w[v];
        for (int v = 0; v < V; v++) s += exp(w[v] - mx);
        double d = fabs(lp[t] - (w[TOKS[t + 1]] - mx - log(s)));
        if (!(d <= e3)) e3 = d;
    }
    CHECK_MSG(e3 <= 1e-4, "%s: score error %g", what, e3);
    /* next-token probabilities after the whole sequence */
    float *pr = malloc(sizeof(float) * V);
    CHECK(bd_next_probs(e, TOKS, NT, pr, &err) == 0);
    {
        const double *w = want + (size_t)(NT - 1) * V;
        double mx = w[0], s = 0, tot = 0, e4 = 0;
        for (int v = 1; v < V; v++) if (w[v] > mx) mx = w[v];
        for (int v = 0; v < V; v++) s += exp(w[v] - mx);
        for (int v = 0; v < V; v++) { e4 = fmax(e4, fabs(pr[v] - exp(w[v] - mx) / s)); tot += pr[v]; }
        CHECK_MSG(e4 <= 1e-5, "%s: next-token probability error %g", what, e4);
        CHECK_NEAR(tot, 1.0, 1e-5);
    }
    free(pr);
    free(lg);
    free(want);
    bd_kv_free(kv);
    bd_engine_free(e);
    ref_free(&R);
}

/* Row permutation from the interleaved to the rotate-half q/k layout (what
 * the Meta -> HF conversion does): new row h*hd + j <- old h*hd + 2j,
 * new row h*hd + hd/2 + j <- old h*hd + 2j + 1. */
static void permute_rows(tiny *T, bd_tensor *w, int nh, int hd)
{
    float *v = tiny_vals(T, w);
    int64_t in = w->shape[1];
    float *cp = malloc(sizeof(float) * (size_t)(w->shape[0] * in));
    memcpy(cp, v, sizeof(float) * (size_t)(w->shape[0] * in));
    for (int h = 0; h < nh; h++)
        for (int j = 0; j < hd / 2; j++) {
            memcpy(v + ((size_t)h * hd + j) * in, cp + ((size_t)h * hd + 2 * j) * in, sizeof(float) * in);
            memcpy(v + ((size_t)h * hd + hd / 2 + j) * in, cp + ((size_t)h * hd + 2 * j + 1) * in, sizeof(float) * in);
        }
    free(cp);
}

static void test_layouts(void)
{
    bd_config c = tiny_config();
    tiny A, B;
    tiny_rs = 77;
    tiny_init(&A, &c, BD_F32);
    tiny_rs = 77;
    c.rope_interleaved = 0;
    tiny_init(&B, &c, BD_F32);
    for (int l = 0; l < c.n_layers; l++) {
        permute_rows(&B, B.m.layers[l].wq, c.n_heads, c.head_dim);
        permute_rows(&B, B.m.layers[l].wk, c.n_kv_heads, c.head_dim);
    }
    bd_engine *ea, *eb;
    bd_kv *ka, *kb;
    bd_err err;
    CHECK(bd_engine_new(&A.m, NULL, &ea, &err) == 0 && bd_engine_new(&B.m, NULL, &eb, &err) == 0);
    CHECK(bd_engine_kv_new(ea, 0, &ka, &err) == 0 && bd_engine_kv_new(eb, 0, &kb, &err) == 0);
    float *la = malloc(sizeof(float) * NT * c.vocab_size), *lb = malloc(sizeof(float) * NT * c.vocab_size);
    CHECK(bd_forward(ea, ka, TOKS, NT, la, 1, &err) == 0 && bd_forward(eb, kb, TOKS, NT, lb, 1, &err) == 0);
    double w = 0;
    for (int i = 0; i < NT * c.vocab_size; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK_MSG(w <= 1e-5, "interleaved vs rotate-half layouts differ by %g", w);
    free(la); free(lb);
    bd_kv_free(ka); bd_kv_free(kb);
    bd_engine_free(ea); bd_engine_free(eb);
    tiny_free(&A); tiny_free(&B);
}

static void test_threads(bd_dtype dt)
{
    /* wide enough that every matmul splits into several row tasks */
    bd_config c = tiny_config();
    c.dim = 256; c.hidden_dim = 384; c.vocab_size = 300; c.n_heads = 8; c.n_kv_heads = 4; c.head_dim = 32;
    c.rope_dim = 32;
    tiny T;
    tiny_init(&T, &c, dt);
    float *l[3];
    const size_t n = (size_t)NT * c.vocab_size;
    for (int th = 1; th <= 3; th++) {
        bd_engine *e;
        bd_kv *kv;
        bd_err err;
        bd_engine_opts o = {.threads = th, .max_batch = 6};
        CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0 && bd_engine_kv_new(e, 0, &kv, &err) == 0);
        l[th - 1] = malloc(sizeof(float) * (n + c.vocab_size));
        CHECK(bd_forward(e, kv, TOKS, NT, l[th - 1], 1, &err) == 0);
        CHECK(bd_forward(e, kv, TOKS, 1, l[th - 1] + n, 0, &err) == 0); /* a decode step */
        bd_kv_free(kv);
        bd_engine_free(e);
    }
    size_t bytes = sizeof(float) * (n + c.vocab_size);
    CHECK_MSG(!memcmp(l[0], l[1], bytes) && !memcmp(l[0], l[2], bytes), "%s logits differ across thread counts",
              bd_dtype_name(dt));
    for (int i = 0; i < 3; i++) free(l[i]);
    tiny_free(&T);
}

typedef struct obs_count { int calls[4][7]; int bad; } obs_count;
static void observer(void *ctx, int layer, const char *which, const float *x, int n, int in)
{
    static const char *names[7] = {"q", "k", "v", "o", "gate", "up", "down"};
    obs_count *oc = ctx;
    (void)x;
    for (int i = 0; i < 7; i++)
        if (!strcmp(which, names[i]) && layer >= 0 && layer < 4) { oc->calls[layer][i] += n; return; }
    oc->bad++;
    (void)in;
}

static void test_block_observer(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    ref R;
    ref_init(&R, &T, NT);
    double *hid = malloc(sizeof(double) * c.dim);
    for (int t = 0; t < NT; t++) ref_step(&R, TOKS[t], NULL, t == NT - 1 ? hid : NULL);
    obs_count oc = {0};
    bd_engine_opts o = {.threads = 2, .max_batch = 4, .observer = observer, .observer_ctx = &oc};
    bd_engine *e;
    bd_err err;
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0);
    float *x = malloc(sizeof(float) * NT * c.dim);
    const float *E = tiny_vals(&T, T.m.tok_embd);
    for (int t = 0; t < NT; t++) memcpy(x + t * c.dim, E + TOKS[t] * c.dim, sizeof(float) * c.dim);
    for (int l = 0; l < c.n_layers; l++) CHECK(bd_engine_block(e, l, x, NT, &err) == 0);
    double w = 0;
    for (int i = 0; i < c.dim; i++) w = fmax(w, fabs(x[(NT - 1) * c.dim + i] - hid[i]));
    CHECK_MSG(w <= 1e-4, "block-by-block hidden state error %g", w);
    for (int l = 0; l < c.n_layers; l++)
        for (int i = 0; i < 7; i++) CHECK_EQ_INT(oc.calls[l][i], NT);
    CHECK_EQ_INT(oc.bad, 0);
    CHECK(bd_engine_block(e, c.n_layers, x, NT, &err) == BD_EINPUT);
    free(x); free(hid);
    bd_engine_free(e);
    ref_free(&R);
    tiny_free(&T);
}

static void test_generate(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    /* reference greedy continuation of 10 tokens */
    ref R;
    ref_init(&R, &T, 32);
    double *lg = malloc(sizeof(double) * c.vocab_size);
    int32_t want[10];
    for (int t = 0; t < 3; t++) ref_step(&R, TOKS[t], lg, NULL);
    for (int i = 0; i < 10; i++) {
        int b = 0;
        for (int v = 1; v < c.vocab_size; v++) if (lg[v] > lg[b]) b = v;
        want[i] = b;
        if (i < 9) ref_step(&R, b, lg, NULL);
    }
    bd_engine *e;
    bd_err err;
    CHECK(bd_engine_new(&T.m, NULL, &e, &err) == 0);
    bd_sampling s = {.temp = 0, .top_p = 1, .top_k = 0, .seed = 1};
    int32_t *out;
    int n;
    CHECK(bd_generate(e, TOKS, 3, 10, &s, NULL, 0, NULL, NULL, &out, &n, &err) == 0);
    CHECK_EQ_INT(n, 10);
    for (int i = 0; i < n && i < 10; i++) CHECK_EQ_INT(out[i], want[i]);
    free(out);
    /* stop ids end generation before the stop token */
    CHECK(bd_generate(e, TOKS, 3, 10, &s, &want[4], 1, NULL, NULL, &out, &n, &err) == 0);
    int first = 0;
    while (want[first] != want[4]) first++;
    CHECK_EQ_INT(n, first);
    free(out);
    /* seeded sampling is reproducible; a different seed changes something */
    bd_sampling s1 = {.temp = 1.5f, .top_p = 0.95f, .top_k = 20, .seed = 42}, s2 = s1;
    s2.seed = 43;
    int32_t *a, *b, *d;
    int na, nb, nd;
    CHECK(bd_generate(e, TOKS, 3, 30, &s1, NULL, 0, NULL, NULL, &a, &na, &err) == 0);
    CHECK(bd_generate(e, TOKS, 3, 30, &s1, NULL, 0, NULL, NULL, &b, &nb, &err) == 0);
    CHECK(bd_generate(e, TOKS, 3, 30, &s2, NULL, 0, NULL, NULL, &d, &nd, &err) == 0);
    CHECK(na == 30 && nb == 30 && nd == 30 && !memcmp(a, b, sizeof(int32_t) * 30));
    CHECK(memcmp(a, d, sizeof(int32_t) * 30) != 0);
    free(a); free(b); free(d);
    /* bad input: out-of-vocabulary id, empty prompt, context overflow */
    int32_t bad[2] = {1, 40};
    float lp[2];
    CHECK(bd_score(e, bad, 2, lp, &err) == BD_EINPUT);
    CHECK(bd_generate(e, TOKS, 0, 5, &s, NULL, 0, NULL, NULL, &out, &n, &err) == BD_EINPUT);
    bd_kv *kv;
    CHECK(bd_engine_kv_new(e, 4, &kv, &err) == 0);
    CHECK(bd_forward(e, kv, TOKS, 5, NULL, 0, &err) == BD_EINPUT);
    CHECK_EQ_INT(bd_kv_pos(kv), 0);
    bd_kv_free(kv);
    free(lg);
    bd_engine_free(e);
    ref_free(&R);
    tiny_free(&T);
}

/* A packed weight format for the test: fp32 rows behind bd_wops. prep copies
 * x into scratch (negated) so matmul must use what prep produced. */
static int g_preps;
static size_t pk_prep_size(const bd_tensor *w, int n) { return sizeof(float) * (size_t)n * (size_t)w->shape[1]; }
static void pk_prep(const bd_tensor *w, const float *x, int n, void *scratch)
{
    float *s = scratch;
    for (size_t i = 0; i < (size_t)n * (size_t)w->shape[1]; i++) s[i] = -x[i];
    g_preps++;
}
static void pk_matmul(const bd_tensor *w, const float *x, const void *scratch, int n, float *y, int64_t r0, int64_t r1)
{
    (void)x;
    const float *W = w->aux, *s = scratch;
    int64_t in = w->shape[1], out = w->shape[0];
    for (int t = 0; t < n; t++)
        for (int64_t r = r0; r < r1; r++) {
            double acc = 0;
            for (int64_t i = 0; i < in; i++) acc -= (double)W[r * in + i] * s[t * in + i];
            y[t * out + r] = (float)acc;
        }
}
static void pk_row(const bd_tensor *w, int64_t r, float *dst)
{
    memcpy(dst, (const float *)w->aux + r * w->shape[1], sizeof(float) * (size_t)w->shape[1]);
}
static const bd_wops PK = {"test-packed", pk_prep_size, pk_prep, pk_matmul, pk_row, NULL};

static void test_packed(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    bd_engine *e;
    bd_kv *kv;
    bd_err err;
    const size_t n = (size_t)NT * c.vocab_size;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    CHECK(bd_engine_new(&T.m, NULL, &e, &err) == 0 && bd_engine_kv_new(e, 0, &kv, &err) == 0);
    CHECK(bd_forward(e, kv, TOKS, NT, a, 1, &err) == 0);
    bd_kv_free(kv);
    bd_engine_free(e);
    /* every linear layer and the embeddings become packed */
    for (int i = 0; i < T.nt; i++)
        if (T.t[i].ndim == 2) {
            T.t[i].aux = (void *)T.t[i].data;
            T.t[i].dtype = BD_PACKED;
            T.t[i].ops = &PK;
        }
    g_preps = 0;
    bd_engine_opts o = {.threads = 3, .max_batch = 5};
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == 0 && bd_engine_kv_new(e, 0, &kv, &err) == 0);
    CHECK(bd_forward(e, kv, TOKS, NT, b, 1, &err) == 0);
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    CHECK_MSG(w <= 1e-4, "packed weights: logits differ by %g", w);
    /* 4 chunks x 2 layers x 7 products + the head per chunk, prep once each */
    CHECK_EQ_INT(g_preps, 4 * (2 * 7 + 1));
    for (int i = 0; i < T.nt; i++)
        if (T.t[i].dtype == BD_PACKED) { T.t[i].dtype = BD_F32; T.t[i].ops = NULL; }
    bd_kv_free(kv);
    bd_engine_free(e);
    free(a);
    free(b);
    tiny_free(&T);
}

int main(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    for (g_level = 1; g_level <= 3; g_level++) { /* every kernel set (a missing one falls back) */
        check_model(&T, "gqa interleaved", 512);
        check_model(&T, "gqa chunked prefill (3)", 3);
    }
    g_level = 0;
    tiny_free(&T);

    c = tiny_config();
    c.rope_interleaved = 0;
    c.n_kv_heads = 4;
    c.tied = 1;
    tiny_init(&T, &c, BD_F32);
    check_model(&T, "mha rotate-half tied", 512);
    tiny_free(&T);

    c = tiny_config();
    c.rope_theta = 500000;
    c.rope_type = 1;
    c.rope_factor = 8;
    c.rope_low_freq = 1;
    c.rope_high_freq = 4;
    c.rope_orig_max = 64; /* wavelengths 6.3, 32, 167, ...: all three llama3 regimes */
    c.n_kv_heads = 1;
    c.head_dim = 16;
    c.rope_dim = 16;
    c.n_heads = 2;
    tiny_init(&T, &c, BD_F32);
    check_model(&T, "llama3 rope scaling", 5);
    tiny_free(&T);

    test_layouts();
    test_threads(BD_F32);
    test_threads(BD_F16);
    test_block_observer();
    test_generate();
    test_packed();
    return test_done();
}
