/* Statistics against numpy/scipy/pandas goldens (tests/reference/
 * gen_stats_goldens.py): aggregates, W1, percentiles, every metric spec kind,
 * and the paired bootstrap on a FIXED resample index set written by Python.
 *
 * Tolerances: 1e-12 absolute (relative for larger values) — the C and numpy
 * results differ only in summation order (numpy sums pairwise) over at most a
 * few hundred terms of magnitude <= 100, i.e. a few ulps. The p-value is
 * compared exactly: it is a count ratio and the per-resample deltas agree
 * far from any tie at 0 (ties at exactly 0 are exact in both). */
#include "../test.h"
#include "stats/stats.h"

#include <json-c/json.h>

#define TOL 1e-12

static json_object *load(const char *path)
{
    json_object *o = json_object_from_file(path);
    if (!o) fprintf(stderr, "cannot read %s (run tests/reference/gen_stats_goldens.py)\n", path);
    return o;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

static double num(json_object *o, const char *k) { return json_object_get_double(get(o, k)); }

static double *darr(json_object *a, size_t *n)
{
    *n = json_object_array_length(a);
    double *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++) v[i] = json_object_get_double(json_object_array_get_idx(a, i));
    return v;
}

static void test_basic(void)
{
    json_object *root = load("tests/reference/stats/basic.json");
    CHECK(root != NULL);
    if (!root) return;
    json_object *cases = get(root, "cases");
    for (size_t c = 0; c < json_object_array_length(cases); c++) {
        json_object *cs = json_object_array_get_idx(cases, c);
        size_t n;
        double *x = darr(get(cs, "x"), &n);
        CHECK_NEAR(bd_mean(x, n), num(cs, "mean"), TOL);
        CHECK_NEAR(bd_median(x, n), num(cs, "median"), TOL);
        CHECK_NEAR(bd_range(x, n), num(cs, "range"), TOL);
        if (get(cs, "gini")) CHECK_NEAR(bd_gini(x, n), num(cs, "gini"), TOL);
        double *s = malloc(n * sizeof *s);
        memcpy(s, x, n * sizeof *s);
        for (size_t i = 1; i < n; i++)   /* insertion sort: independent of stats.c */
            for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) { double t = s[j]; s[j] = s[j - 1]; s[j - 1] = t; }
        json_object *ps = get(cs, "percentiles");
        for (size_t k = 0; k < json_object_array_length(ps); k++) {
            json_object *pq = json_object_array_get_idx(ps, k);
            double q = json_object_get_double(json_object_array_get_idx(pq, 0));
            double want = json_object_get_double(json_object_array_get_idx(pq, 1));
            CHECK_NEAR(bd_percentile_sorted(s, n, q), want, 0);   /* same formula: bit-exact */
        }
        free(s);
        free(x);
    }
    json_object *w1 = get(root, "w1");
    for (size_t c = 0; c < json_object_array_length(w1); c++) {
        json_object *cs = json_object_array_get_idx(w1, c);
        size_t k, k2, k3;
        double *p = darr(get(cs, "p"), &k), *q = darr(get(cs, "q"), &k2), *sup = darr(get(cs, "support"), &k3);
        CHECK(k == k2 && k == k3);
        CHECK_NEAR(bd_w1_ordinal(p, q, k), num(cs, "ordinal"), TOL);
        CHECK_NEAR(bd_w1(sup, p, q, k), num(cs, "general"), 1e-11);
        free(p); free(q); free(sup);
    }
    json_object_put(root);

    /* edge cases named in metrics.md / numpy behaviour */
    double z[3] = {0, 0, 0}, one[1] = {2}, nanv[2] = {1, NAN};
    CHECK(isnan(bd_gini(z, 3)));           /* mean 0: undefined */
    CHECK_NEAR(bd_gini(one, 1), 0, 0);
    CHECK(isnan(bd_median(nanv, 2)));      /* numpy propagates NaN */
    CHECK(isnan(bd_mean(z, 0)) && isnan(bd_median(z, 0)));
    CHECK_NEAR(bd_nanmean(nanv, 2), 1, 0);
    double pz[2] = {0, 0}, pq[2] = {0.5, 0.5};
    CHECK(isnan(bd_w1_ordinal(pz, pq, 2)));   /* sum 0 -> NaN, as the spec's edge case */
    double neg[2] = {-0.1, 1.1};
    CHECK(isnan(bd_w1_ordinal(neg, pq, 2)));
    /* Gini upper bound 1 - 1/n: all mass on one country */
    double conc[4] = {0, 0, 0, 5};
    CHECK_NEAR(bd_gini(conc, 4), 0.75, 1e-15);
}

typedef struct items { bd_mitem *v; size_t n; } items;

static items load_items(json_object *a)
{
    items it;
    it.n = json_object_array_length(a);
    it.v = calloc(it.n + 1, sizeof *it.v);
    for (size_t i = 0; it.v && i < it.n; i++) {
        json_object *o = json_object_array_get_idx(a, i), *ans = get(o, "answer");
        it.v[i].key = json_object_get_string(get(o, "key"));
        it.v[i].answer = ans && !json_object_is_type(ans, json_type_null) ? json_object_get_string(ans) : NULL;
        it.v[i].scores = json_object_get_string(get(o, "scores"));
        it.v[i].groups = json_object_get_string(get(o, "groups"));
    }
    return it;
}

static void test_bootstrap_fixed(void)
{
    json_object *root = load("tests/reference/stats/bootstrap.json");
    CHECK(root != NULL);
    if (!root) return;
    double level = num(root, "level");
    json_object *fxs = get(root, "fixtures");
    for (size_t f = 0; f < json_object_array_length(fxs); f++) {
        json_object *fx = json_object_array_get_idx(fxs, f);
        const char *name = json_object_get_string(get(fx, "name"));
        const char *spec = json_object_get_string(get(fx, "spec"));
        items ia = load_items(get(fx, "items_a")), ib = load_items(get(fx, "items_b"));
        bd_err err = {0};
        bd_metric_data *a = NULL, *b = NULL;
        CHECK_MSG(bd_metric_data_build(spec, ia.v, ia.n, &a, &err) == 0, "%s: %s", name, err.msg);
        CHECK_MSG(bd_metric_data_build(spec, ib.v, ib.n, &b, &err) == 0, "%s: %s", name, err.msg);
        if (a && b) {
            if (get(fx, "full_value_a")) CHECK_NEAR(bd_metric_data_value(a), num(fx, "full_value_a"), TOL);
            CHECK_EQ_INT(bd_metric_data_align(a, b, &err), 0);
            int n = (int)json_object_get_int(get(fx, "n_units"));
            CHECK_MSG(bd_metric_data_units(a) == n && bd_metric_data_units(b) == n, "%s: units %d %d vs %d",
                      name, bd_metric_data_units(a), bd_metric_data_units(b), n);
            CHECK_NEAR(bd_metric_data_value(a), num(fx, "value_a"), TOL);
            CHECK_NEAR(bd_metric_data_value(b), num(fx, "value_b"), TOL);
            json_object *idx = get(fx, "idx");
            int B = (int)json_object_array_length(idx);
            int *ix = malloc((size_t)B * (size_t)n * sizeof *ix);
            for (int r = 0; ix && r < B; r++) {
                json_object *row = json_object_array_get_idx(idx, (size_t)r);
                for (int i = 0; i < n; i++) ix[(size_t)r * n + i] = json_object_get_int(json_object_array_get_idx(row, (size_t)i));
            }
            bd_boot_result res;
            if (bd_metric_data_units(a) == n && ix) {
                CHECK_EQ_INT(bd_bootstrap_paired_idx(bd_metric_data_eval, a, b, n, ix, B, level, &res, &err), 0);
                CHECK_MSG(fabs(res.estimate - num(fx, "delta")) <= TOL, "%s: delta %.15g vs %.15g", name, res.estimate, num(fx, "delta"));
                CHECK_MSG(fabs(res.ci_low - num(fx, "ci_low")) <= TOL, "%s: ci_low %.15g vs %.15g", name, res.ci_low, num(fx, "ci_low"));
                CHECK_MSG(fabs(res.ci_high - num(fx, "ci_high")) <= TOL, "%s: ci_high %.15g vs %.15g", name, res.ci_high, num(fx, "ci_high"));
                CHECK_MSG(res.p == num(fx, "p"), "%s: p %.15g vs %.15g", name, res.p, num(fx, "p"));
                CHECK_EQ_INT(res.n_valid, json_object_get_int(get(fx, "n_valid")));
                /* an out-of-range index is refused, not read */
                ix[3] = n;
                CHECK_EQ_INT(bd_bootstrap_paired_idx(bd_metric_data_eval, a, b, n, ix, B, level, &res, &err), BD_EINPUT);
            }
            free(ix);
        }
        if (get(fx, "where_spec")) {
            double v;
            long long nu;
            CHECK_EQ_INT(bd_metric_eval(json_object_get_string(get(fx, "where_spec")), ia.v, ia.n, &v, &nu, &err), 0);
            CHECK_NEAR(v, num(fx, "where_value_a"), TOL);
            CHECK_EQ_INT(nu, json_object_get_int(get(fx, "where_n_a")));
        }
        bd_metric_data_free(a);
        bd_metric_data_free(b);
        free(ia.v);
        free(ib.v);
    }
    json_object_put(root);
}

/* statistic for the seeded tests: mean of x[idx] */
static double mean_stat(const void *ctx, const int *idx, int n)
{
    const double *x = ctx;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[idx[i]];
    return s / n;
}

static void test_bootstrap_seeded(void)
{
    /* deterministic, and sensible: a clear shift is significant with a CI
     * around it; identical runs give delta 0, CI [0,0], p = 1 */
    enum { N = 200 };
    double a[N], b[N], c[N];
    bd_boot_rng r;
    bd_boot_rng_seed(&r, 1);
    for (int i = 0; i < N; i++) {
        b[i] = bd_boot_rng_uniform(&r);
        a[i] = b[i] + 0.1 + 0.05 * (bd_boot_rng_uniform(&r) - 0.5);
        c[i] = b[i];
    }
    bd_boot_result r1, r2, r3;
    bd_err err;
    CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, a, b, N, 2000, 42, 0.95, &r1, &err), 0);
    CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, a, b, N, 2000, 42, 0.95, &r2, &err), 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    CHECK(r1.ci_low < r1.estimate && r1.estimate < r1.ci_high);
    CHECK(r1.ci_low > 0.09 && r1.ci_high < 0.11);
    CHECK_NEAR(r1.p, 2.0 / 2001, 1e-15);   /* every resample > 0: the +1-corrected minimum */
    CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, c, b, N, 1000, 42, 0.95, &r3, &err), 0);
    CHECK(r3.estimate == 0 && r3.ci_low == 0 && r3.ci_high == 0 && r3.p == 1);
    CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, a, b, N, 0, 42, 0.95, &r3, &err), BD_EINPUT);
    CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, a, b, N, 10, 42, 1.5, &r3, &err), BD_EINPUT);

    /* PRNG: bounded draws are uniform enough (chi-square over 7 bins, 70000
     * draws, df 6: 99.9% quantile 22.46) and reproducible */
    long cnt[7] = {0};
    bd_boot_rng_seed(&r, 123);
    for (int i = 0; i < 70000; i++) cnt[bd_boot_rng_below(&r, 7)]++;
    double chi = 0;
    for (int k = 0; k < 7; k++) chi += (cnt[k] - 10000.0) * (cnt[k] - 10000.0) / 10000.0;
    CHECK_MSG(chi < 22.46, "chi2 %g", chi);
    bd_boot_rng r4, r5;
    bd_boot_rng_seed(&r4, 99);
    bd_boot_rng_seed(&r5, 99);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= bd_boot_rng_next(&r4) == bd_boot_rng_next(&r5);
    CHECK(same);
    /* splitmix64's published first output for seed 0 (Vigna's reference
     * splitmix64.c): 0xe220a8397b1dcdaf is s[0] of a zero-seeded state */
    bd_boot_rng_seed(&r4, 0);
    CHECK(r4.s[0] == 0xe220a8397b1dcdafULL);
    double u = bd_boot_rng_uniform(&r4);
    CHECK(u >= 0 && u < 1);
}

static void test_signflip(void)
{
    json_object *root = load("tests/reference/stats/signflip.json");
    CHECK(root != NULL);
    if (!root) return;
    for (size_t c = 0; c < json_object_array_length(root); c++) {
        json_object *cs = json_object_array_get_idx(root, c);
        size_t n;
        double *d = darr(get(cs, "d"), &n);
        /* Monte Carlo over 20000 draws vs the exact enumeration: standard
         * error <= 0.0036, so 0.015 is > 4 sigma */
        double p = bd_signflip_p(d, n, 20000, 7);
        CHECK_NEAR(p, num(cs, "p_exact"), 0.015);
        free(d);
    }
    json_object_put(root);
}

static void test_spec_errors(void)
{
    bd_mitem it[2] = {{"a", NULL, "{\"x\":1}", "{}"}, {"b", NULL, "{\"x\":\"str\"}", "{}"}};
    bd_err err = {0};
    double v;
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\"}", it, 1, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "score") != NULL);
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"median\",\"score\":\"x\"}", it, 1, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "median") != NULL);
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\",\"score\":\"x\",\"typo\":1}", it, 1, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "typo") != NULL);
    CHECK_EQ_INT(bd_metric_eval("not json", it, 1, &v, NULL, &err), BD_EINPUT);
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\",\"score\":\"x\"}", it, 2, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "'b'") != NULL);
    bd_mitem bad = {"c", NULL, "{\"x\":1", "{}"};
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\",\"score\":\"x\"}", &bad, 1, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "'c'") != NULL);
    /* "unit" needs the label on every item, and only suits mean/answer_rate */
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\",\"score\":\"x\",\"unit\":\"prompt\"}", it, 1, &v, NULL, &err), BD_EINPUT);
    CHECK(strstr(err.msg, "'a'") && strstr(err.msg, "prompt"));
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"group_range\",\"score\":\"x\",\"by\":\"g\",\"unit\":\"p\"}", it, 1, &v, NULL, &err), BD_EINPUT);
    /* nothing to aggregate: NaN, not an error */
    long long nu = -1;
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"mean\",\"score\":\"x\"}", it, 0, &v, &nu, &err), 0);
    CHECK(isnan(v) && nu == 0);
    /* share_range: too many NaN answers -> NaN (the paper's "Too many NaNs") */
    bd_mitem sh[5] = {{"1", "man", 0, 0}, {"2", NULL, 0, 0}, {"3", NULL, 0, 0}, {"4", NULL, 0, 0}, {"5", NULL, 0, 0}};
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"share_range\",\"categories\":[\"man\",\"woman\"],\"max_nan_frac\":0.7}",
                                sh, 5, &v, NULL, &err), 0);
    CHECK(isnan(v));
    CHECK_EQ_INT(bd_metric_eval("{\"agg\":\"share_range\",\"categories\":[\"man\",\"woman\"]}", sh, 5, &v, NULL, &err), 0);
    CHECK_NEAR(v, 1.0, 0);   /* woman never chosen: min share 0 */
}

int main(void)
{
    test_basic();
    test_bootstrap_fixed();
    test_bootstrap_seeded();
    test_signflip();
    test_spec_errors();
    return test_done();
}
