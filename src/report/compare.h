/* Accelerated runs vs their baselines: per metric value, baseline, delta, a
 * paired bootstrap CI and p-value over the units the metric is built from
 * (items, or questions for cluster metrics, paired by key), and decision
 * flips (items whose parsed answer differs). */
#ifndef BD_COMPARE_H
#define BD_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

#define BD_CMP_MAX_EXAMPLES 5
/* Fewer paired units than this: value/baseline/delta without CI or p. */
#define BD_CMP_MIN_UNITS 10

typedef struct bd_cmp_opts {
    int n_boot;        /* resamples, >= 1000 by default */
    uint64_t seed;     /* bootstrap seed; every metric row uses the same one */
    double level;      /* CI level, 0.95 */
    double alpha;      /* significance threshold for marking, 0.05 */
} bd_cmp_opts;

void bd_cmp_opts_default(bd_cmp_opts *o);

typedef struct bd_cmp_flip {
    char *key;
    char *base_answer, *answer;      /* never NULL */
    char *base_output, *output;      /* first 300 bytes of the outputs ("" when none) */
} bd_cmp_flip;

/* One accelerated run and the baseline it is compared with. */
typedef struct bd_cmp_pair {
    long long run_id, base_run_id;
    char *model, *model_digest, *accel, *compute, *bench, *template_mode;
    char *label;                     /* accel, plus "@compute" when not fp32 */
    long long n_paired;              /* ok items present in both runs */
    long long n_decisions;           /* of those, items with an answer in both */
    long long flips;                 /* of those, answer differs */
    bd_cmp_flip ex[BD_CMP_MAX_EXAMPLES];
    int n_ex;
} bd_cmp_pair;

typedef struct bd_cmp_row {
    size_t pair;                     /* index into bd_comparison.pairs */
    char *metric, *grp;              /* metric name, group ("" = overall) */
    double value, baseline, delta;   /* on the paired units when has_ci */
    double ci_low, ci_high, p;       /* NaN when !has_ci */
    long long n;                     /* paired units */
    int has_ci;
    char *note;                      /* why there is no CI, or "" */
} bd_cmp_row;

typedef struct bd_comparison {
    bd_cmp_pair *pairs;
    size_t n_pairs;
    bd_cmp_row *rows;
    size_t n_rows;
    char **unmatched;                /* "run 7 (model, accel, bench): no baseline" */
    size_t n_unmatched;
    bd_cmp_opts opts;
} bd_comparison;

int bd_compare(bd_store *db, const bd_cmp_opts *opts, bd_comparison *out, bd_err *err);
void bd_comparison_free(bd_comparison *c);

/* "name" or "name[grp]": the metric column of tables and of --json. */
void bd_cmp_metric_label(const char *name, const char *grp, char *buf, size_t n);

#endif
