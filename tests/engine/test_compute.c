/* --compute emulation (decisions.md §1): with compute bf16/fp16 the engine's
 * logits match the double reference (tiny.h) that rounds each linear's input
 * and output to the dtype at the same points, and differ clearly from fp32.
 * Tolerance: the engine rounds fp32 values, the reference double values, so a
 * value within ~1e-7 of a rounding boundary can land one dtype ulp apart
 * (bf16: 2^-8 relative, fp16: 2^-11) and the flip propagates through the
 * KV cache to later positions. Measured: bf16 matches exactly (max 0) while
 * it is 0.048 away from fp32; fp16 max 0.0029 (one flip at position 3; earlier
 * positions exact), mean 3.1e-4 vs 1.2e-3 from fp32. So: max error <= 1e-2
 * (bf16) / 5e-3 (fp16), and the mean error at most a third of the mean
 * distance to the fp32 result (shows the rounding is applied, and at the
 * right points). */
#include "../test.h"
#include "tiny.h"

static const int32_t TOKS[] = {1, 7, 23, 5, 39, 0, 12, 12, 33, 8, 19, 2, 27, 30, 4, 16, 11};
enum { NT = sizeof TOKS / sizeof TOKS[0] };

static double max_err(const float *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= w)) w = d;
    }
    return w;
}

static void want_logits(tiny *T, int compute, double *want)
{
    ref R;
    ref_init(&R, T, NT);
    R.compute = compute;
    for (int t = 0; t < NT; t++) ref_step(&R, TOKS[t], want + (size_t)t * T->m.cfg.vocab_size, NULL);
    ref_free(&R);
}

/* Batched (matrix-matrix kernels) and token-by-token (matrix-vector). */
static void engine_logits(tiny *T, int compute, int decode, int level, float *lg)
{
    const int V = T->m.cfg.vocab_size;
    bd_engine *e = NULL;
    bd_kv *kv = NULL;
    bd_err err = {0};
    bd_engine_opts o = {.threads = 2, .compute = compute, .kern_level = level};
    CHECK_MSG(bd_engine_new(&T->m, &o, &e, &err) == 0, "%s", err.msg);
    if (!e) return;
    CHECK(bd_engine_kv_new(e, 0, &kv, &err) == 0);
    if (!decode) CHECK(bd_forward(e, kv, TOKS, NT, lg, 1, &err) == 0);
    for (int t = 0; decode && t < NT; t++) CHECK(bd_forward(e, kv, TOKS + t, 1, lg + (size_t)t * V, 0, &err) == 0);
    bd_kv_free(kv);
    bd_engine_free(e);
}

static void test_dtype(int compute, const char *name, double tol)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    const size_t N = (size_t)NT * c.vocab_size;
    double *w32 = malloc(sizeof(double) * N), *wc = malloc(sizeof(double) * N);
    float *lg = malloc(sizeof(float) * N);
    want_logits(&T, 0, w32);
    want_logits(&T, compute, wc);
    for (int run = 0; run < 4; run++) {
        int decode = run & 1, level = run < 2 ? 0 : 1;
        engine_logits(&T, compute, decode, level, lg);
        double em = 0, ef = 0, mm = 0, mf = 0;
        for (size_t i = 0; i < N; i++) {
            double d = fabs(lg[i] - wc[i]), f = fabs(lg[i] - w32[i]);
            mm += d; mf += f;
            if (!(d <= em)) em = d;
            if (!(f <= ef)) ef = f;
        }
        mm /= (double)N; mf /= (double)N;
        fprintf(stderr, "%s %s kern %d: vs emulated reference max %.3g mean %.3g; vs fp32 reference max %.3g mean %.3g\n",
                name, decode ? "decode" : "batched", level, em, mm, ef, mf);
        CHECK_MSG(em <= tol, "%s: engine vs emulated reference %g > %g", name, em, tol);
        CHECK_MSG(mm * 3 <= mf, "%s: mean error vs emulated reference %g not well below that vs fp32 %g", name, mm, mf);
    }
    /* fp32 stays the plain fp32 computation */
    engine_logits(&T, 0, 0, 0, lg);
    CHECK(max_err(lg, w32, N) <= 1e-4);
    free(w32); free(wc); free(lg);
    tiny_free(&T);
}

static void test_bad_value(void)
{
    bd_config c = tiny_config();
    tiny T;
    tiny_init(&T, &c, BD_F32);
    bd_engine *e = NULL;
    bd_err err = {0};
    bd_engine_opts o = {.threads = 1, .compute = 3};
    CHECK(bd_engine_new(&T.m, &o, &e, &err) == BD_EINPUT);
    CHECK(e == NULL);
    CHECK(strstr(err.msg, "bf16") != NULL);
    tiny_free(&T);
}

int main(void)
{
    test_dtype(1, "bf16", 1e-2);
    test_dtype(2, "fp16", 5e-3);
    test_bad_value();
    return test_done();
}
