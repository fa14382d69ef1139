/* Internal to bench/: the benchmark definitions and the helpers their
 * loaders and metric lists share. */
#ifndef BD_BENCH_BENCHES_H
#define BD_BENCH_BENCHES_H

#include <json-c/json.h>

#include "bench.h"

extern const bd_bench_def bd_bench_crows, bd_bench_crows_lmeval, bd_bench_goqa,
    bd_bench_worldbench, bd_bench_dt, bd_bench_dt_sampled, bd_bench_discrim,
    bd_bench_discrim_effects, bd_bench_discrim_gen;

/* Allocates d->keys/d->groups for n rows. */
int bd_rows_alloc(bd_bench_data *d, size_t n, bd_err *err);
/* Records a data file read (for the dataset hash). */
int bd_data_add_file(bd_bench_data *d, const char *path, bd_err *err);
/* Locates a data file: tries dir/rel[i] in order. */
int bd_locate(bd_bench_data *d, const char *dir, const char *const *rel, int n_rel,
              const char *what, const char *howto, char *path, size_t path_size, bd_err *err);
/* Serialises a json-c object compactly (malloc'd copy) and drops the object. */
char *bd_json_take(json_object *o);
/* Adds a string label to a groups object (skipped when value is empty). */
void bd_group_add(json_object *g, const char *k, const char *v);
/* Adds a finite number to a scores object; NaN/inf are left out. */
void bd_score_add(json_object *s, const char *k, double v);

/* Growable list of metric definitions. */
typedef struct bd_mlist { bd_metric_def *d; size_t n, cap; int oom; } bd_mlist;
/* Adds (name, grp, spec); the spec is a printf format. */
void bd_mlist_add(bd_mlist *l, const char *name, const char *grp, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a benchmark-computed value with no spec. */
void bd_mlist_add_value(bd_mlist *l, const char *name, const char *grp, double v, long long n);
int bd_mlist_finish(bd_mlist *l, bd_metric_def **defs, size_t *n, bd_err *err);

/* Distinct values of a group label over done items, sorted (strcmp); the
 * strings are malloc'd. */
int bd_distinct_labels(const bd_done_item *items, size_t n, const char *label, char ***out,
                       size_t *n_out);
void bd_strs_free(char **s, size_t n);
/* JSON-escaped copy of a label value for embedding into a spec. */
#define BD_JS(s) bd_json_escape_dup(s)

#endif
