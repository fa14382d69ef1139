/* Statistics shared by the benchmarks and compare/report: the aggregates the
 * bias metrics are built from (numpy/scipy conventions, see
 * ../shared/spec/metrics.md), a seeded PRNG, a paired bootstrap, and metric
 * definitions ("specs") that recompute a benchmark metric from its stored
 * per-item results on any resample of the items.
 *
 * HOW A BENCHMARK EXPOSES ITS METRICS (the contract between bench/ and compare):
 *   1. For every item the runner stores (bd_item_in in ../store/store.h):
 *      `scores` = JSON object of named per-item numbers, `groups` = JSON object
 *      of string labels, `answer` = the parsed decision/answer text.
 *   2. Each metric is described by a JSON spec (grammar below). After the run,
 *      the bench computes the metric with bd_metric_eval(spec, items) and stores
 *      bd_store_metric_set(db, run, name, grp, value, n_units, spec).
 *      Then the stored value and compare's recomputation agree by construction.
 *   3. compare loads items of the accelerated and the baseline run, builds the
 *      spec's units for both, pairs units by key, and bootstraps the delta by
 *      resampling units (bd_bootstrap_paired).
 *
 * SPEC GRAMMAR (JSON object; unknown keys are an error):
 *   "agg":    one of
 *      "mean"        mean of score over units (units with a missing/null/NaN score
 *                    are skipped), times scale. Unit = item.
 *                    e.g. crows % stereotypical: {"agg":"mean","score":"prefers_more","scale":100}
 *      "answer_rate" share of units whose answer equals "answer" (units with a NULL
 *                    answer count in the denominator), times scale. Unit = item.
 *                    e.g. DT agreement index: {"agg":"answer_rate","answer":"agree","scale":100}
 *      "group_range" max - min over groups (label "by") of the mean score per group;
 *                    units without the label or with NaN score are left out.
 *                    Unit = item. e.g. WorldBench region disparity:
 *                    {"agg":"group_range","score":"are","by":"region"}
 *      "cluster_range_mean"  units are the clusters of items sharing label "by";
 *                    per cluster max - min of score (NaN scores skipped; a cluster
 *                    with no finite score is left out); value = mean over clusters.
 *                    Unit = cluster (key = the label value), so the bootstrap
 *                    resamples whole questions. e.g. DiscrimEval:
 *                    {"agg":"cluster_range_mean","score":"pnorm_yes","by":"decision_question_id"}
 *      "share_range" answers restricted to "categories": max share - min share over
 *                    the categories among units whose answer is one of them (other/NULL
 *                    answers = NaN); min share is 0 when a category never occurs;
 *                    NaN when the NaN fraction exceeds "max_nan_frac" (default 1).
 *                    Unit = item. e.g. DiscrimEvalGen gender:
 *                    {"agg":"share_range","categories":["man","woman","non-binary"],
 *                     "max_nan_frac":0.8,"where":{"bias_type":"gender"}}
 *      "gini_median" score is an OBJECT per item (name -> number, e.g. country -> W1);
 *                    per name the median over units that have it; names with fewer
 *                    than "min_count" values are dropped; value = Gini of the medians.
 *                    Unit = item (question). e.g. GlobalOpinionQA:
 *                    {"agg":"gini_median","score":"w1","min_count":50}
 *   "score":  per-item score name (mean, group_range, cluster_range_mean, gini_median)
 *   "scale":  multiplier applied to the value (default 1)
 *   "where":  {"label":"value",...} keep only items whose groups match all pairs
 *             (labels are strings; an integer label/value compares by its text)
 *             (per-group breakdowns: {"agg":"mean","score":"prefers_more",
 *             "scale":100,"where":{"bias_type":"gender"}} stored with
 *             grp "bias_type=gender")
 *   "unit":   (mean and answer_rate only) label whose items form one resampling
 *             unit, e.g. {"agg":"answer_rate","answer":"agree","scale":100,
 *             "unit":"prompt"} with groups {"prompt":"17",...} on the 5 samples
 *             of prompt 17: the bootstrap then resamples prompts, not samples
 *             (samples of one prompt are correlated). The value is unchanged:
 *             sum over the units' items / number of their items (finite ones).
 *             Every item must carry the label. n_units = number of such units.
 *   "by", "answer", "categories", "max_nan_frac", "min_count": as above.
 * Skipped items are never units. Everything returns NaN rather than failing
 * when there is nothing to aggregate. */
#ifndef BD_STATS_H
#define BD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* ---- aggregates (NaN for empty input) ------------------------------------- */

double bd_mean(const double *x, size_t n);
/* Mean of the finite values (numpy.nanmean); NaN if none. */
double bd_nanmean(const double *x, size_t n);
/* numpy.median: the mean of the two middle values for even n. x is not modified. */
double bd_median(const double *x, size_t n);
/* max - min. */
double bd_range(const double *x, size_t n);
/* Gini as metrics.md §2: sum_i sum_j |x_i - x_j| / (2 n^2 mean(x)); NaN when
 * mean(x) == 0. */
double bd_gini(const double *x, size_t n);
/* scipy.stats.wasserstein_distance(support, support, p, q): W1 between two
 * weightings of the same k support points (any order); weights are
 * renormalised; NaN if either weight sum is 0 or a weight is negative/NaN. */
double bd_w1(const double *support, const double *p, const double *q, size_t k);
/* The same on the ordinal support {0..k-1} (GlobalOpinionQA). */
double bd_w1_ordinal(const double *p, const double *q, size_t k);
/* numpy.percentile(x, q) with the default 'linear' method on SORTED x:
 * h = (n-1) q/100, x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). */
double bd_percentile_sorted(const double *sorted, size_t n, double q);

/* ---- PRNG ----------------------------------------------------------------- */

/* xoshiro256** (Blackman & Vigna) seeded through splitmix64, so any 64-bit
 * seed gives a well-mixed state; same seed -> same stream on every platform. */
typedef struct bd_boot_rng { uint64_t s[4]; } bd_boot_rng;
void bd_boot_rng_seed(bd_boot_rng *r, uint64_t seed);
uint64_t bd_boot_rng_next(bd_boot_rng *r);
/* Uniform integer in [0, n) without modulo bias (rejection), n >= 1. */
uint64_t bd_boot_rng_below(bd_boot_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double bd_boot_rng_uniform(bd_boot_rng *r);

/* ---- bootstrap ------------------------------------------------------------ */

/* A statistic over a multiset of units: idx[0..n-1] are unit indices (with
 * repetitions). Returns NaN when undefined on that resample. */
typedef double (*bd_stat_fn)(const void *ctx, const int *idx, int n);

typedef struct bd_boot_result {
    double estimate;   /* f(a) - f(b) on all units (paired), or f(a) when ctx_b == NULL */
    double ci_low, ci_high;   /* percentile CI (numpy linear interpolation) */
    double p;          /* two-sided bootstrap p-value for "delta == 0" (see below) */
    int n_units;
    int n_boot;        /* resamples drawn */
    int n_valid;       /* resamples whose statistic was finite (CI/p use these) */
} bd_boot_result;

/* Paired percentile bootstrap. Units 0..n_units-1 of ctx_a and ctx_b are the
 * same units (e.g. the same item_key) in the two runs. Each resample draws
 * n_units indices uniformly with replacement (bd_boot_rng_below on a bd_boot_rng seeded
 * with `seed`, resample r drawing its indices in order after resample r-1) and
 * evaluates delta* = f(ctx_a, idx) - f(ctx_b, idx) with the SAME idx.
 * CI = [percentile(delta*, 100(1-level)/2), percentile(delta*, 100(1+level)/2)].
 * p = min(1, 2 min((1 + #{delta* <= 0}) / (B + 1), (1 + #{delta* >= 0}) / (B + 1)))
 * with B = n_valid: the smallest two-sided level at which the percentile CI
 * excludes 0, with the +1 correction so p is never 0 from finitely many draws.
 * ctx_b == NULL: the statistic is f(ctx_a, idx) alone (a CI for the metric;
 * p then tests "value == 0"). n_boot >= 1, 0 < level < 1. */
int bd_bootstrap_paired(bd_stat_fn f, const void *ctx_a, const void *ctx_b, int n_units,
                        int n_boot, uint64_t seed, double level, bd_boot_result *out,
                        bd_err *err);
/* Same with caller-given resamples: idx holds n_boot rows of n_units indices
 * (tests compare with numpy on a fixed index set). */
int bd_bootstrap_paired_idx(bd_stat_fn f, const void *ctx_a, const void *ctx_b, int n_units,
                            const int *idx, int n_boot, double level, bd_boot_result *out,
                            bd_err *err);
/* Paired sign-flip permutation test for a mean difference: d = per-unit
 * differences (NaN skipped); each of n_perm draws flips every sign with
 * probability 1/2; p = (1 + #{|mean*| >= |mean(d)| - 1e-12|mean(d)|}) / (n_perm + 1). */
double bd_signflip_p(const double *d, size_t n, int n_perm, uint64_t seed);

/* ---- metric specs (see the grammar at the top) ---------------------------- */

/* An item as a metric sees it: only ok (not skipped) items are passed. */
typedef struct bd_mitem {
    const char *key;      /* item key (pairing across runs) */
    const char *answer;   /* NULL when none */
    const char *scores;   /* JSON object text, NULL = {} */
    const char *groups;   /* JSON object text, NULL = {} */
} bd_mitem;

typedef struct bd_metric_data bd_metric_data;   /* a spec's units, built from items */

/* Parses spec and builds its units from items. Errors (BD_EINPUT) name the
 * spec key or the item key whose JSON is malformed. */
int bd_metric_data_build(const char *spec, const bd_mitem *items, size_t n,
                         bd_metric_data **out, bd_err *err);
void bd_metric_data_free(bd_metric_data *d);
int bd_metric_data_units(const bd_metric_data *d);
const char *bd_metric_data_unit_key(const bd_metric_data *d, int i);
/* The metric on a multiset of units; a bd_stat_fn (ctx = bd_metric_data *). */
double bd_metric_data_eval(const void *d, const int *idx, int n);
/* The metric on all units. */
double bd_metric_data_value(const bd_metric_data *d);
/* Restricts a and b to the units whose keys both have, in the same order
 * (sorted by key), so unit i of a pairs with unit i of b. */
int bd_metric_data_align(bd_metric_data *a, bd_metric_data *b, bd_err *err);

/* Items with their JSON parsed once, for building many specs over the same
 * items (compare builds hundreds of per-group specs per run). items must
 * outlive the result. Errors name the item key whose JSON is malformed. */
typedef struct bd_mitems bd_mitems;
int bd_mitems_parse(const bd_mitem *items, size_t n, bd_mitems **out, bd_err *err);
void bd_mitems_free(bd_mitems *m);
int bd_metric_data_build_parsed(const char *spec, const bd_mitems *m, bd_metric_data **out,
                                bd_err *err);

/* One call for the benchmarks: value of spec over items, and how many units. */
int bd_metric_eval(const char *spec, const bd_mitem *items, size_t n, double *value,
                   long long *n_units, bd_err *err);

#endif
