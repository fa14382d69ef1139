/* Aggregates with numpy/scipy conventions, the PRNG and the bootstrap. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double bd_mean(const double *x, size_t n)
{
    if (!n) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

double bd_nanmean(const double *x, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) { s += x[i]; k++; }
    return k ? s / (double)k : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts a copy; NULL when n == 0, x holds NaN (numpy propagates it) or OOM. */
static double *sorted_copy(const double *x, size_t n)
{
    if (!n) return NULL;
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return NULL;
    double *c = malloc(n * sizeof *c);
    if (!c) return NULL;
    memcpy(c, x, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    return c;
}

double bd_median(const double *x, size_t n)
{
    double *c = sorted_copy(x, n);
    if (!c) return NAN;
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

double bd_range(const double *x, size_t n)
{
    if (!n) return NAN;
    double lo = x[0], hi = x[0];
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) return NAN;
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    return hi - lo;
}

double bd_gini(const double *x, size_t n)
{
    double *c = sorted_copy(x, n);
    if (!c) return NAN;
    /* sum_i sum_j |x_i - x_j| = 2 sum_i (2i - n + 1) x_(i) over the ascending
     * order (0-based i): each x_(i) is larger than i values and smaller than
     * n-1-i. O(n log n) instead of the spec's O(n^2) double sum. */
    double pairs = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        pairs += (2.0 * (double)i - (double)n + 1.0) * c[i];
        sum += c[i];
    }
    free(c);
    double mean = sum / (double)n;
    if (mean == 0) return NAN;
    return 2.0 * pairs / (2.0 * (double)n * (double)n * mean);
}

typedef struct sw { double s, p, q; } sw;

static int cmp_sw(const void *a, const void *b)
{
    return cmp_double(&((const sw *)a)->s, &((const sw *)b)->s);
}

double bd_w1(const double *support, const double *p, const double *q, size_t k)
{
    if (!k) return NAN;
    double sp = 0, sq = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(p[i] >= 0) || !(q[i] >= 0) || !isfinite(p[i]) || !isfinite(q[i]) || !isfinite(support[i]))
            return NAN;
        sp += p[i];
        sq += q[i];
    }
    if (!(sp > 0) || !(sq > 0)) return NAN;
    sw *v = malloc(k * sizeof *v);
    if (!v) return NAN;
    for (size_t i = 0; i < k; i++) v[i] = (sw){support[i], p[i] / sp, q[i] / sq};
    qsort(v, k, sizeof *v, cmp_sw);
    /* integral of |F_p - F_q| between consecutive support points */
    double fp = 0, fq = 0, d = 0;
    for (size_t i = 0; i + 1 < k; i++) {
        fp += v[i].p;
        fq += v[i].q;
        d += fabs(fp - fq) * (v[i + 1].s - v[i].s);
    }
    free(v);
    return d;
}

double bd_w1_ordinal(const double *p, const double *q, size_t k)
{
    if (!k) return NAN;
    double sp = 0, sq = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(p[i] >= 0) || !(q[i] >= 0) || !isfinite(p[i]) || !isfinite(q[i])) return NAN;
        sp += p[i];
        sq += q[i];
    }
    if (!(sp > 0) || !(sq > 0)) return NAN;
    double fp = 0, fq = 0, d = 0;
    for (size_t i = 0; i + 1 < k; i++) {
        fp += p[i] / sp;
        fq += q[i] / sq;
        d += fabs(fp - fq);
    }
    return d;
}

double bd_percentile_sorted(const double *x, size_t n, double q)
{
    if (!n || !(q >= 0 && q <= 100)) return NAN;
    double h = (double)(n - 1) * (q / 100.0);
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return x[n - 1];
    double g = h - (double)lo;
    /* numpy's _lerp form: exact at both ends */
    double a = x[lo], b = x[lo + 1], diff = b - a;
    return g >= 0.5 ? b - diff * (1 - g) : a + diff * g;
}

/* ---- PRNG ----------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bd_boot_rng_seed(bd_boot_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bd_boot_rng_next(bd_boot_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t bd_boot_rng_below(bd_boot_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    /* reject the lowest 2^64 mod n values so every residue is equally likely */
    uint64_t threshold = (0 - n) % n, x;
    do x = bd_boot_rng_next(r); while (x < threshold);
    return x % n;
}

double bd_boot_rng_uniform(bd_boot_rng *r) { return (double)(bd_boot_rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- bootstrap ------------------------------------------------------------ */

static int boot_check(bd_stat_fn f, int n_units, int n_boot, double level, bd_err *err)
{
    if (!f) return bd_fail(err, BD_EINPUT, "bootstrap: no statistic");
    if (n_units < 1) return bd_fail(err, BD_EINPUT, "bootstrap: no units to resample");
    if (n_boot < 1) return bd_fail(err, BD_EINPUT, "bootstrap: need at least one resample, got %d", n_boot);
    if (!(level > 0 && level < 1))
        return bd_fail(err, BD_EINPUT, "bootstrap: confidence level must be in (0,1), got %g", level);
    return 0;
}

static double stat_delta(bd_stat_fn f, const void *a, const void *b, const int *idx, int n)
{
    double v = f(a, idx, n);
    return b ? v - f(b, idx, n) : v;
}

/* CI and p from the collected resample statistics (sorted in place). */
static void boot_finish(double *d, int nv, double level, bd_boot_result *out)
{
    out->n_valid = nv;
    if (!nv) { out->ci_low = out->ci_high = out->p = NAN; return; }
    qsort(d, (size_t)nv, sizeof *d, cmp_double);
    out->ci_low = bd_percentile_sorted(d, (size_t)nv, 100.0 * (1 - level) / 2);
    out->ci_high = bd_percentile_sorted(d, (size_t)nv, 100.0 * (1 + level) / 2);
    int le = 0, ge = 0;
    for (int i = 0; i < nv; i++) {
        le += d[i] <= 0;
        ge += d[i] >= 0;
    }
    double pl = (1.0 + le) / (nv + 1.0), pg = (1.0 + ge) / (nv + 1.0);
    double p = 2 * (pl < pg ? pl : pg);
    out->p = p > 1 ? 1 : p;
}

static int boot_run(bd_stat_fn f, const void *a, const void *b, int n_units, const int *fixed,
                    int n_boot, uint64_t seed, double level, bd_boot_result *out, bd_err *err)
{
    int rc = boot_check(f, n_units, n_boot, level, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->n_units = n_units;
    out->n_boot = n_boot;
    int *idx = malloc((size_t)n_units * sizeof *idx);
    double *d = malloc((size_t)n_boot * sizeof *d);
    if (!idx || !d) { free(idx); free(d); return bd_oom(err, "bootstrap buffers"); }
    for (int i = 0; i < n_units; i++) idx[i] = i;
    out->estimate = stat_delta(f, a, b, idx, n_units);
    bd_boot_rng r;
    bd_boot_rng_seed(&r, seed);
    int nv = 0;
    for (int k = 0; k < n_boot; k++) {
        const int *use = idx;
        if (fixed) {
            use = fixed + (size_t)k * (size_t)n_units;
            for (int i = 0; i < n_units; i++)
                if (use[i] < 0 || use[i] >= n_units) {
                    free(idx); free(d);
                    return bd_fail(err, BD_EINPUT, "bootstrap: resample %d index %d out of range [0,%d)",
                                   k, use[i], n_units);
                }
        } else {
            for (int i = 0; i < n_units; i++) idx[i] = (int)bd_boot_rng_below(&r, (uint64_t)n_units);
        }
        double v = stat_delta(f, a, b, use, n_units);
        if (isfinite(v)) d[nv++] = v;
    }
    boot_finish(d, nv, level, out);
    free(idx);
    free(d);
    return 0;
}

int bd_bootstrap_paired(bd_stat_fn f, const void *ctx_a, const void *ctx_b, int n_units,
                        int n_boot, uint64_t seed, double level, bd_boot_result *out, bd_err *err)
{
    return boot_run(f, ctx_a, ctx_b, n_units, NULL, n_boot, seed, level, out, err);
}

int bd_bootstrap_paired_idx(bd_stat_fn f, const void *ctx_a, const void *ctx_b, int n_units,
                            const int *idx, int n_boot, double level, bd_boot_result *out,
                            bd_err *err)
{
    if (!idx) return bd_fail(err, BD_EINPUT, "bootstrap: no resample indices");
    return boot_run(f, ctx_a, ctx_b, n_units, idx, n_boot, 0, level, out, err);
}

double bd_signflip_p(const double *d, size_t n, int n_perm, uint64_t seed)
{
    double obs = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(d[i])) { obs += d[i]; k++; }
    if (!k || n_perm < 1) return NAN;
    obs = fabs(obs / (double)k);
    bd_boot_rng r;
    bd_boot_rng_seed(&r, seed);
    long hits = 0;
    for (int p = 0; p < n_perm; p++) {
        double s = 0;
        uint64_t bits = 0;
        int left = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(d[i])) continue;
            if (!left) { bits = bd_boot_rng_next(&r); left = 64; }
            s += (bits & 1) ? d[i] : -d[i];
            bits >>= 1;
            left--;
        }
        /* the tolerance keeps the identity permutation's own sum (rounded
         * differently after sign flips) counted as extreme */
        if (fabs(s / (double)k) >= obs - 1e-12 * obs) hits++;
    }
    return (1.0 + (double)hits) / (n_perm + 1.0);
}
