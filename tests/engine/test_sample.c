/* Sampling: warped distributions against hand-computed values (HF order:
 * temperature, top-k, top-p), greedy ties, the generator against the
 * published SplitMix64 sequence for seed 1234567 (Vigna's splitmix64.c), and
 * seed determinism. Probabilities to 1e-12 (double arithmetic). */
#include "../test.h"
#include "engine/sample.h"

static void dist(const float *lg, int n, float temp, int k, float p, double *out)
{
    bd_sampling s = {.temp = temp, .top_k = k, .top_p = p, .seed = 1};
    bd_sampler sp;
    bd_err err;
    CHECK(bd_sampler_init(&sp, &s, n, &err) == 0);
    bd_sampler_dist(&sp, lg);
    for (int i = 0; i < n; i++) out[i] = sp.p[i];
    bd_sampler_free(&sp);
}

#define CHECK_P(got, w0, w1, w2, w3) do { const double w_[4] = {w0, w1, w2, w3}; \
    for (int i_ = 0; i_ < 4; i_++) CHECK_NEAR(got[i_], w_[i_], 1e-12); } while (0)

int main(void)
{
    double p[4];
    const float a[4] = {1, 2, 3, 4};
    dist(a, 4, 1, 2, 1, p); /* top-k 2: softmax of {3, 4} */
    CHECK_P(p, 0, 0, 1 / (1 + exp(1.0)), 1 / (1 + exp(-1.0)));

    const float b[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    double s = 0.1f + 0.2f + 0.3f + 0.4f; /* the fp32 values, as probabilities */
    dist(b, 4, 1, 0, 0.65f, p); /* cum from the smallest 0.1, 0.3 <= 0.35: drop two */
    CHECK_NEAR(p[0], 0, 1e-12);
    CHECK_NEAR(p[1], 0, 1e-12);
    CHECK_NEAR(p[2], 0.3 / 0.7, 1e-6);
    CHECK_NEAR(p[3], 0.4 / 0.7, 1e-6);
    dist(b, 4, 1, 0, 0.85f, p); /* threshold 0.15: only 0.1 dropped */
    CHECK_NEAR(p[0], 0, 1e-12);
    CHECK_NEAR(p[1], 0.2 / 0.9, 1e-6);
    dist(b, 4, 1, 0, 1, p); /* off */
    CHECK_NEAR(p[0], 0.1 / s, 1e-6);
    dist(b, 4, 1, 0, 0.01f, p); /* tiny top_p keeps the most likely token */
    CHECK_P(p, 0, 0, 0, 1);

    const float c[2] = {0, logf(2)};
    dist(c, 2, 0.5f, 0, 1, p); /* temperature 0.5: z = {0, 2 ln 2} -> 1/5, 4/5 */
    CHECK_NEAR(p[0], 0.2, 1e-7);
    CHECK_NEAR(p[1], 0.8, 1e-7);

    const float d[4] = {1, 3, 3, 2};
    dist(d, 4, 1, 1, 1, p); /* top-k keeps every token tied with the k-th */
    CHECK_P(p, 0, 0.5, 0.5, 0);

    /* order matters: top-k 2 first renormalizes {0.3, 0.5} to {0.375, 0.625};
     * top-p 0.6 then drops 0.375 <= 0.4. (top-p first would keep both.) */
    const float e[4] = {logf(0.05f), logf(0.15f), logf(0.3f), logf(0.5f)};
    dist(e, 4, 1, 2, 0.6f, p);
    CHECK_P(p, 0, 0, 0, 1);

    /* greedy: first index of the maximum */
    bd_sampling g = {.temp = 0, .top_p = 1};
    bd_sampler sp;
    bd_err err;
    const float t[4] = {1, 5, 5, 2};
    CHECK(bd_sampler_init(&sp, &g, 4, &err) == 0);
    CHECK_EQ_INT(bd_sampler_next(&sp, t), 1);
    bd_sampler_free(&sp);

    /* invalid settings */
    bd_sampling bad = {.temp = -1, .top_p = 1};
    CHECK(bd_sampler_init(&sp, &bad, 4, &err) == BD_EINPUT);
    bad.temp = 1;
    bad.top_p = 0;
    CHECK(bd_sampler_init(&sp, &bad, 4, &err) == BD_EINPUT);
    bad.top_p = 1.5f;
    CHECK(bd_sampler_init(&sp, &bad, 4, &err) == BD_EINPUT);

    /* SplitMix64, seed 1234567: published first outputs */
    bd_rng r;
    bd_rng_seed(&r, 1234567);
    const uint64_t want[5] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                              4593380528125082431ull, 16408922859458223821ull};
    for (int i = 0; i < 5; i++) CHECK(bd_rng_next(&r) == want[i]);
    bd_rng_seed(&r, 0);
    CHECK(bd_rng_next(&r) == 0xE220A8397B1DCDAFull);

    /* draws follow the distribution; same seed, same draws */
    bd_sampling sm = {.temp = 0.5f, .top_p = 1, .seed = 99};
    bd_sampler s1, s2;
    CHECK(bd_sampler_init(&s1, &sm, 2, &err) == 0 && bd_sampler_init(&s2, &sm, 2, &err) == 0);
    int ones = 0, same = 1;
    for (int i = 0; i < 20000; i++) {
        int x = bd_sampler_next(&s1, c), y = bd_sampler_next(&s2, c);
        ones += x;
        same &= x == y;
    }
    CHECK(same);
    CHECK_NEAR(ones / 20000.0, 0.8, 0.015); /* 5 standard deviations */
    bd_sampler_free(&s1);
    bd_sampler_free(&s2);
    return test_done();
}
