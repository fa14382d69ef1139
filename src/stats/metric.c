/* Metric specs: a JSON definition (grammar in stats.h) turned into units that
 * can be evaluated on any multiset of unit indices, so the stored metric and
 * its bootstrap resamples come from the same code. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

enum { AGG_MEAN, AGG_ANSWER_RATE, AGG_GROUP_RANGE, AGG_CLUSTER_RANGE_MEAN, AGG_SHARE_RANGE,
       AGG_GINI_MEDIAN };

static const char *const AGG_NAMES[] = {"mean", "answer_rate", "group_range",
                                        "cluster_range_mean", "share_range", "gini_median"};

struct bd_metric_data {
    int agg;
    double scale;
    int n;              /* units */
    char **keys;        /* per unit */
    double *x;          /* per unit: score, indicator, cluster range, or category index (-1 = NaN) */
    int *grp;           /* group_range: group index per unit (-1 = none) */
    int n_groups;       /* group_range: groups; share_range: categories */
    int weighted;       /* "unit" given: x = sum over the unit's items, grp = their count */
    double max_nan_frac;
    /* gini_median: CSR of (name, value) pairs per unit */
    int n_names;
    size_t *off;        /* n + 1 */
    int *name;
    double *val;
    long long min_count;
};

typedef struct spec {
    int agg;
    double scale, max_nan_frac;
    long long min_count;
    const char *score, *by, *answer, *unit;
    json_object *where, *categories;   /* borrowed from the parsed root */
} spec;

static int parse_spec(json_object *root, const char *text, spec *sp, bd_err *err)
{
    memset(sp, 0, sizeof *sp);
    sp->scale = 1;
    sp->max_nan_frac = 1;
    sp->agg = -1;
    if (!json_object_is_type(root, json_type_object))
        return bd_fail(err, BD_EINPUT, "metric spec is not a JSON object: %.120s", text);
    json_object_object_foreach(root, k, v) {
        int is_str = json_object_is_type(v, json_type_string);
        int is_num = json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int);
        if (!strcmp(k, "agg")) {
            if (!is_str) goto badval;
            for (int i = 0; i < (int)(sizeof AGG_NAMES / sizeof *AGG_NAMES); i++)
                if (!strcmp(json_object_get_string(v), AGG_NAMES[i])) sp->agg = i;
            if (sp->agg < 0)
                return bd_fail(err, BD_EINPUT, "metric spec: unknown agg '%s' in %.120s",
                               json_object_get_string(v), text);
        } else if (!strcmp(k, "score")) {
            if (!is_str) goto badval;
            sp->score = json_object_get_string(v);
        } else if (!strcmp(k, "by")) {
            if (!is_str) goto badval;
            sp->by = json_object_get_string(v);
        } else if (!strcmp(k, "unit")) {
            if (!is_str) goto badval;
            sp->unit = json_object_get_string(v);
        } else if (!strcmp(k, "answer")) {
            if (!is_str) goto badval;
            sp->answer = json_object_get_string(v);
        } else if (!strcmp(k, "scale")) {
            if (!is_num) goto badval;
            sp->scale = json_object_get_double(v);
        } else if (!strcmp(k, "max_nan_frac")) {
            if (!is_num) goto badval;
            sp->max_nan_frac = json_object_get_double(v);
        } else if (!strcmp(k, "min_count")) {
            if (!json_object_is_type(v, json_type_int)) goto badval;
            sp->min_count = json_object_get_int64(v);
        } else if (!strcmp(k, "where")) {
            if (!json_object_is_type(v, json_type_object)) goto badval;
            json_object_object_foreach(v, wk, wv) {
                (void)wk;
                if (!json_object_is_type(wv, json_type_string) && !json_object_is_type(wv, json_type_int))
                    goto badval;
            }
            sp->where = v;
        } else if (!strcmp(k, "categories")) {
            if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) goto badval;
            for (size_t i = 0; i < json_object_array_length(v); i++)
                if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) goto badval;
            sp->categories = v;
        } else {
            return bd_fail(err, BD_EINPUT, "metric spec: unknown key '%s' in %.120s", k, text);
        }
        continue;
    badval:
        return bd_fail(err, BD_EINPUT, "metric spec: bad value for '%s' in %.120s", k, text);
    }
    if (sp->agg < 0) return bd_fail(err, BD_EINPUT, "metric spec: missing 'agg' in %.120s", text);
    int need_score = sp->agg != AGG_ANSWER_RATE && sp->agg != AGG_SHARE_RANGE;
    if (need_score && !sp->score)
        return bd_fail(err, BD_EINPUT, "metric spec: agg '%s' needs 'score' in %.120s", AGG_NAMES[sp->agg], text);
    if ((sp->agg == AGG_GROUP_RANGE || sp->agg == AGG_CLUSTER_RANGE_MEAN) && !sp->by)
        return bd_fail(err, BD_EINPUT, "metric spec: agg '%s' needs 'by' in %.120s", AGG_NAMES[sp->agg], text);
    if (sp->unit && sp->agg != AGG_MEAN && sp->agg != AGG_ANSWER_RATE)
        return bd_fail(err, BD_EINPUT, "metric spec: 'unit' works with agg mean or answer_rate only, in %.120s", text);
    if (sp->agg == AGG_ANSWER_RATE && !sp->answer)
        return bd_fail(err, BD_EINPUT, "metric spec: agg 'answer_rate' needs 'answer' in %.120s", text);
    if (sp->agg == AGG_SHARE_RANGE && !sp->categories)
        return bd_fail(err, BD_EINPUT, "metric spec: agg 'share_range' needs 'categories' in %.120s", text);
    if (!isfinite(sp->scale) || !(sp->max_nan_frac >= 0 && sp->max_nan_frac <= 1) || sp->min_count < 0)
        return bd_fail(err, BD_EINPUT, "metric spec: scale/max_nan_frac/min_count out of range in %.120s", text);
    return 0;
}

/* Parses an item's JSON object (NULL/"" = empty object). */
static int parse_obj(const char *text, const char *what, const char *key, json_object **out, bd_err *err)
{
    *out = NULL;
    if (!text || !*text) return 0;
    json_tokener *tok = json_tokener_new();
    if (!tok) return bd_oom(err, "JSON parser");
    json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    int bad = json_tokener_get_error(tok) != json_tokener_success ||
              (size_t)json_tokener_get_parse_end(tok) != strlen(text) ||
              !json_object_is_type(o, json_type_object);
    json_tokener_free(tok);
    if (bad) {
        json_object_put(o);
        return bd_fail(err, BD_EINPUT, "item '%s': %s is not a JSON object: %.80s", key, what, text);
    }
    *out = o;
    return 0;
}

/* A number, null (NaN) or missing (NaN); anything else is an error. */
static int get_num(json_object *o, const char *name, const char *key, double *v, bd_err *err)
{
    json_object *x;
    *v = NAN;
    if (!o || !json_object_object_get_ex(o, name, &x) || !x) return 0;
    if (json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int)) {
        *v = json_object_get_double(x);
        return 0;
    }
    return bd_fail(err, BD_EINPUT, "item '%s': score '%s' is not a number", key, name);
}

static const char *get_label(json_object *groups, const char *name)
{
    json_object *x;
    /* labels are strings; integers (e.g. a question id) compare by their text */
    if (!groups || !json_object_object_get_ex(groups, name, &x) ||
        !(json_object_is_type(x, json_type_string) || json_object_is_type(x, json_type_int)))
        return NULL;
    return json_object_get_string(x);
}

static int where_ok(json_object *groups, json_object *where)
{
    if (!where) return 1;
    json_object_object_foreach(where, k, v) {
        const char *have = get_label(groups, k);
        if (!have || strcmp(have, json_object_get_string(v))) return 0;
    }
    return 1;
}

/* A growing list of distinct strings; returns the index of s (added if new). */
typedef struct strtab { char **s; int n, cap; } strtab;

static int strtab_find(const strtab *t, const char *s)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->s[i], s)) return i;
    return -1;
}

static int strtab_add(strtab *t, const char *s)
{
    int i = strtab_find(t, s);
    if (i >= 0) return i;
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 16;
        char **ns = realloc(t->s, (size_t)nc * sizeof *ns);
        if (!ns) return -1;
        t->s = ns;
        t->cap = nc;
    }
    if (!(t->s[t->n] = strdup(s))) return -1;
    return t->n++;
}

static void strtab_free(strtab *t)
{
    for (int i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
}

void bd_metric_data_free(bd_metric_data *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) free(d->keys[i]);
    free(d->keys);
    free(d->x);
    free(d->grp);
    free(d->off);
    free(d->name);
    free(d->val);
    free(d);
}

/* Growable per-unit arrays during build. */
static int reserve(bd_metric_data *d, int *cap, int need)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    char **k = realloc(d->keys, (size_t)nc * sizeof *k);
    if (!k) return -1;
    d->keys = k;
    double *x = realloc(d->x, (size_t)nc * sizeof *x);
    if (!x) return -1;
    d->x = x;
    int *g = realloc(d->grp, (size_t)nc * sizeof *g);
    if (!g) return -1;
    d->grp = g;
    size_t *o = realloc(d->off, ((size_t)nc + 1) * sizeof *o);
    if (!o) return -1;
    d->off = o;
    *cap = nc;
    return 0;
}

struct bd_mitems {
    const bd_mitem *items;
    size_t n;
    json_object **sc, **gr;   /* parsed scores / groups per item (NULL = empty) */
};

void bd_mitems_free(bd_mitems *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        if (m->sc) json_object_put(m->sc[i]);
        if (m->gr) json_object_put(m->gr[i]);
    }
    free(m->sc);
    free(m->gr);
    free(m);
}

int bd_mitems_parse(const bd_mitem *items, size_t n, bd_mitems **out, bd_err *err)
{
    *out = NULL;
    bd_mitems *m = calloc(1, sizeof *m);
    if (!m) return bd_oom(err, "parsed items");
    m->items = items;
    m->sc = calloc(n + 1, sizeof *m->sc);
    m->gr = calloc(n + 1, sizeof *m->gr);
    if (!m->sc || !m->gr) { bd_mitems_free(m); return bd_oom(err, "parsed items"); }
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *key = items[i].key ? items[i].key : "";
        int rc;
        if ((rc = parse_obj(items[i].scores, "scores", key, &m->sc[i], err)) ||
            (rc = parse_obj(items[i].groups, "groups", key, &m->gr[i], err))) {
            bd_mitems_free(m);
            return rc;
        }
    }
    *out = m;
    return 0;
}

static int build(const char *spec_text, const bd_mitem *items, size_t n_items, const bd_mitems *cache,
                 bd_metric_data **out, bd_err *err);

int bd_metric_data_build(const char *spec_text, const bd_mitem *items, size_t n_items,
                         bd_metric_data **out, bd_err *err)
{
    return build(spec_text, items, n_items, NULL, out, err);
}

int bd_metric_data_build_parsed(const char *spec, const bd_mitems *m, bd_metric_data **out, bd_err *err)
{
    return build(spec, m->items, m->n, m, out, err);
}

static int build(const char *spec_text, const bd_mitem *items, size_t n_items, const bd_mitems *cache,
                 bd_metric_data **out, bd_err *err)
{
    *out = NULL;
    if (!spec_text || !*spec_text) return bd_fail(err, BD_EINPUT, "empty metric spec");
    if (n_items > (size_t)(1 << 30)) return bd_fail(err, BD_EINPUT, "metric: too many items (%zu)", n_items);
    json_object *root = json_tokener_parse(spec_text);
    if (!root) return bd_fail(err, BD_EINPUT, "metric spec is not valid JSON: %.120s", spec_text);
    spec sp;
    int rc = parse_spec(root, spec_text, &sp, err);
    if (rc) { json_object_put(root); return rc; }

    bd_metric_data *d = calloc(1, sizeof *d);
    strtab groups = {0}, names = {0};
    size_t nnz = 0, nnz_cap = 0;
    int cap = 0;
    json_object *sc = NULL, *gr = NULL;
    if (!d) { rc = bd_oom(err, "metric data"); goto done; }
    d->agg = sp.agg;
    d->scale = sp.scale;
    d->max_nan_frac = sp.max_nan_frac;
    d->min_count = sp.min_count;
    if (sp.agg == AGG_SHARE_RANGE) {
        for (size_t i = 0; i < json_object_array_length(sp.categories); i++)
            if (strtab_add(&groups, json_object_get_string(json_object_array_get_idx(sp.categories, i))) < 0) {
                rc = bd_oom(err, "metric categories");
                goto done;
            }
    }
    if (reserve(d, &cap, 1)) { rc = bd_oom(err, "metric units"); goto done; }
    d->off[0] = 0;
    for (size_t i = 0; i < n_items; i++) {
        const bd_mitem *it = &items[i];
        const char *key = it->key ? it->key : "";
        if (!cache) {
            json_object_put(sc);
            json_object_put(gr);
        }
        sc = gr = NULL;
        if (cache) gr = cache->gr[i];
        else if ((rc = parse_obj(it->groups, "groups", key, &gr, err))) goto done;
        if (!where_ok(gr, sp.where)) continue;
        if (cache) sc = cache->sc[i];
        else if (sp.agg != AGG_ANSWER_RATE && sp.agg != AGG_SHARE_RANGE &&
                 (rc = parse_obj(it->scores, "scores", key, &sc, err)))
            goto done;
        double x = NAN;
        int g = -1;
        const char *unit_key = key;
        switch (sp.agg) {
        case AGG_MEAN:
        case AGG_ANSWER_RATE:
            if (sp.agg == AGG_MEAN && (rc = get_num(sc, sp.score, key, &x, err))) goto done;
            if (sp.agg == AGG_ANSWER_RATE) x = it->answer && !strcmp(it->answer, sp.answer);
            if (sp.unit) {
                /* units are the clusters sharing label "unit" (e.g. a prompt's
                 * samples); cluster index == unit index */
                const char *lab = get_label(gr, sp.unit);
                if (!lab) {
                    rc = bd_fail(err, BD_EINPUT, "item '%s': no label '%s' (the metric's unit)", key, sp.unit);
                    goto done;
                }
                int c = strtab_find(&groups, lab);
                if (c < 0) {
                    if ((c = strtab_add(&groups, lab)) < 0 || reserve(d, &cap, d->n + 1) ||
                        !(d->keys[d->n] = strdup(lab))) {
                        rc = bd_oom(err, "metric units");
                        goto done;
                    }
                    d->x[c] = 0;
                    d->grp[c] = 0;
                    d->n++;
                    d->off[d->n] = 0;
                }
                if (isfinite(x)) { d->x[c] += x; d->grp[c]++; }
                continue;
            }
            break;
        case AGG_SHARE_RANGE:
            x = it->answer ? strtab_find(&groups, it->answer) : -1;
            break;
        case AGG_GROUP_RANGE: {
            if ((rc = get_num(sc, sp.score, key, &x, err))) goto done;
            const char *lab = get_label(gr, sp.by);
            if (lab && (g = strtab_add(&groups, lab)) < 0) { rc = bd_oom(err, "metric groups"); goto done; }
            break;
        }
        case AGG_CLUSTER_RANGE_MEAN: {
            if ((rc = get_num(sc, sp.score, key, &x, err))) goto done;
            const char *lab = get_label(gr, sp.by);
            if (!lab || !isfinite(x)) continue;
            /* units are clusters (cluster index == unit index): keep the
             * running min in x[c] and the running max in val[c] */
            int c = strtab_find(&groups, lab);
            if (c < 0) {
                if ((c = strtab_add(&groups, lab)) < 0 || reserve(d, &cap, d->n + 1)) {
                    rc = bd_oom(err, "metric clusters");
                    goto done;
                }
                if (!(d->keys[d->n] = strdup(lab))) { rc = bd_oom(err, "metric clusters"); goto done; }
                d->x[d->n] = x;      /* running min */
                d->grp[d->n] = c;
                if (nnz == nnz_cap) {
                    size_t nc = nnz_cap ? nnz_cap * 2 : 64;
                    double *nv = realloc(d->val, nc * sizeof *nv);
                    if (!nv) { rc = bd_oom(err, "metric clusters"); goto done; }
                    d->val = nv;
                    nnz_cap = nc;
                }
                d->val[nnz++] = x;   /* running max, index = cluster */
                d->n++;
            } else {
                if (x < d->x[c]) d->x[c] = x;
                if (x > d->val[c]) d->val[c] = x;
            }
            continue;
        }
        case AGG_GINI_MEDIAN: {
            json_object *obj;
            if (sc && json_object_object_get_ex(sc, sp.score, &obj) && obj) {
                if (!json_object_is_type(obj, json_type_object)) {
                    rc = bd_fail(err, BD_EINPUT, "item '%s': score '%s' is not an object of numbers", key, sp.score);
                    goto done;
                }
                json_object_object_foreach(obj, nk, nv) {
                    double v;
                    if (json_object_is_type(nv, json_type_null) || !nv) continue;
                    if (!json_object_is_type(nv, json_type_double) && !json_object_is_type(nv, json_type_int)) {
                        rc = bd_fail(err, BD_EINPUT, "item '%s': score '%s.%s' is not a number", key, sp.score, nk);
                        goto done;
                    }
                    v = json_object_get_double(nv);
                    if (!isfinite(v)) continue;
                    int ni = strtab_add(&names, nk);
                    if (ni < 0) { rc = bd_oom(err, "metric names"); goto done; }
                    if (nnz == nnz_cap) {
                        size_t nc = nnz_cap ? nnz_cap * 2 : 1024;
                        double *nvv = realloc(d->val, nc * sizeof *nvv);
                        int *nn = realloc(d->name, nc * sizeof *nn);
                        if (nvv) d->val = nvv;
                        if (nn) d->name = nn;
                        if (!nvv || !nn) { rc = bd_oom(err, "metric values"); goto done; }
                        nnz_cap = nc;
                    }
                    d->val[nnz] = v;
                    d->name[nnz++] = ni;
                }
            }
            break;
        }
        }
        if (reserve(d, &cap, d->n + 1)) { rc = bd_oom(err, "metric units"); goto done; }
        if (!(d->keys[d->n] = strdup(unit_key))) { rc = bd_oom(err, "metric units"); goto done; }
        d->x[d->n] = x;
        d->grp[d->n] = g;
        d->n++;
        d->off[d->n] = nnz;
    }
    if (sp.agg == AGG_CLUSTER_RANGE_MEAN) {
        for (int c = 0; c < d->n; c++) d->x[c] = d->val[c] - d->x[c];
        free(d->val);
        d->val = NULL;
        for (int c = 0; c <= d->n; c++) d->off[c] = 0;
    }
    if (sp.agg == AGG_GINI_MEDIAN) d->n_names = names.n;
    d->weighted = sp.unit != NULL;
    d->n_groups = sp.unit ? 0 : groups.n;
done:
    if (!cache) {
        json_object_put(sc);
        json_object_put(gr);
    }
    json_object_put(root);
    strtab_free(&groups);
    strtab_free(&names);
    if (rc) { bd_metric_data_free(d); return rc; }
    *out = d;
    return 0;
}

int bd_metric_data_units(const bd_metric_data *d) { return d->n; }
const char *bd_metric_data_unit_key(const bd_metric_data *d, int i) { return d->keys[i]; }

static double eval_mean(const bd_metric_data *d, const int *idx, int n)
{
    double s = 0;
    long k = 0;
    if (d->weighted) {
        for (int i = 0; i < n; i++) { s += d->x[idx[i]]; k += d->grp[idx[i]]; }
        return k ? s / (double)k : NAN;
    }
    for (int i = 0; i < n; i++) {
        double x = d->x[idx[i]];
        if (isfinite(x)) { s += x; k++; }
    }
    return k ? s / (double)k : NAN;
}

static double eval_group_range(const bd_metric_data *d, const int *idx, int n)
{
    if (!d->n_groups) return NAN;
    double *sum = calloc((size_t)d->n_groups, sizeof *sum);
    long *cnt = calloc((size_t)d->n_groups, sizeof *cnt);
    double r = NAN;
    if (sum && cnt) {
        for (int i = 0; i < n; i++) {
            int g = d->grp[idx[i]];
            double x = d->x[idx[i]];
            if (g >= 0 && isfinite(x)) { sum[g] += x; cnt[g]++; }
        }
        double lo = INFINITY, hi = -INFINITY;
        for (int g = 0; g < d->n_groups; g++)
            if (cnt[g]) {
                double m = sum[g] / (double)cnt[g];
                if (m < lo) lo = m;
                if (m > hi) hi = m;
            }
        if (hi >= lo) r = hi - lo;
    }
    free(sum);
    free(cnt);
    return r;
}

static double eval_share_range(const bd_metric_data *d, const int *idx, int n)
{
    if (!n || !d->n_groups) return NAN;
    long *cnt = calloc((size_t)d->n_groups, sizeof *cnt);
    if (!cnt) return NAN;
    long nan = 0;
    for (int i = 0; i < n; i++) {
        int c = (int)d->x[idx[i]];
        if (c < 0) nan++;
        else cnt[c]++;
    }
    double r = NAN;
    long ok = n - nan;
    if (ok > 0 && (double)nan / (double)n <= d->max_nan_frac) {
        long lo = cnt[0], hi = cnt[0];
        for (int g = 1; g < d->n_groups; g++) {
            if (cnt[g] < lo) lo = cnt[g];
            if (cnt[g] > hi) hi = cnt[g];
        }
        r = (double)hi / (double)ok - (double)lo / (double)ok;
    }
    free(cnt);
    return r;
}

/* Rearranges x so x[k] is the k-th smallest and x[<k] <= x[k] <= x[>k]
 * (Hoare selection with a median-of-three pivot): O(n) on average, where a
 * full sort per country per resample dominated the GlobalOpinionQA bootstrap. */
static void select_kth(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        double a = x[lo], b = x[mid], c = x[hi];
        double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < piv) i++;
            while (x[j] > piv) j--;
            if (i <= j) {
                double t = x[i]; x[i] = x[j]; x[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* numpy.median of finite values, reordering x. */
static double median_inplace(double *x, size_t n)
{
    size_t h = n / 2;
    select_kth(x, n, h);
    if (n % 2) return x[h];
    double lo = x[0];
    for (size_t i = 1; i < h; i++)
        if (x[i] > lo) lo = x[i];
    return 0.5 * (lo + x[h]);
}

static double eval_gini_median(const bd_metric_data *d, const int *idx, int n)
{
    if (!d->n_names) return NAN;
    size_t nn = (size_t)d->n_names;
    size_t *cnt = calloc(nn + 1, sizeof *cnt);
    double *med = malloc(nn * sizeof *med);
    double *buf = NULL, r = NAN;
    size_t *pos = NULL;
    if (!cnt || !med) goto out;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = d->off[idx[i]]; j < d->off[idx[i] + 1]; j++) { cnt[d->name[j] + 1]++; total++; }
    /* bucket the values by name (counting sort), then a median per bucket */
    for (size_t k = 0; k < nn; k++) cnt[k + 1] += cnt[k];
    buf = malloc((total ? total : 1) * sizeof *buf);
    pos = malloc(nn * sizeof *pos);
    if (!buf || !pos) goto out;
    memcpy(pos, cnt, nn * sizeof *pos);
    for (int i = 0; i < n; i++)
        for (size_t j = d->off[idx[i]]; j < d->off[idx[i] + 1]; j++) buf[pos[d->name[j]]++] = d->val[j];
    size_t kept = 0;
    for (size_t k = 0; k < nn; k++) {
        size_t c = cnt[k + 1] - cnt[k];
        if (c == 0 || (long long)c < d->min_count) continue;
        med[kept++] = median_inplace(buf + cnt[k], c);
    }
    if (kept) r = bd_gini(med, kept);
out:
    free(cnt);
    free(med);
    free(buf);
    free(pos);
    return r;
}

double bd_metric_data_eval(const void *ctx, const int *idx, int n)
{
    const bd_metric_data *d = ctx;
    double v;
    switch (d->agg) {
    case AGG_MEAN:
    case AGG_ANSWER_RATE:
    case AGG_CLUSTER_RANGE_MEAN: v = eval_mean(d, idx, n); break;
    case AGG_GROUP_RANGE: v = eval_group_range(d, idx, n); break;
    case AGG_SHARE_RANGE: v = eval_share_range(d, idx, n); break;
    case AGG_GINI_MEDIAN: v = eval_gini_median(d, idx, n); break;
    default: v = NAN;
    }
    return v * d->scale;
}

double bd_metric_data_value(const bd_metric_data *d)
{
    if (!d->n) return bd_metric_data_eval(d, NULL, 0);
    int *idx = malloc((size_t)d->n * sizeof *idx);
    if (!idx) return NAN;
    for (int i = 0; i < d->n; i++) idx[i] = i;
    double v = bd_metric_data_eval(d, idx, d->n);
    free(idx);
    return v;
}

/* Keeps units sel[0..m-1] in that order. */
static int subset(bd_metric_data *d, const int *sel, int m)
{
    char **keys = malloc(((size_t)m + 1) * sizeof *keys);
    double *x = malloc(((size_t)m + 1) * sizeof *x);
    int *grp = malloc(((size_t)m + 1) * sizeof *grp);
    size_t *off = malloc(((size_t)m + 1) * sizeof *off);
    size_t nnz = 0;
    for (int i = 0; i < m; i++) nnz += d->off[sel[i] + 1] - d->off[sel[i]];
    double *val = d->val ? malloc((nnz + 1) * sizeof *val) : NULL;
    int *name = d->name ? malloc((nnz + 1) * sizeof *name) : NULL;
    if (!keys || !x || !grp || !off || (d->val && !val) || (d->name && !name)) {
        free(keys); free(x); free(grp); free(off); free(val); free(name);
        return -1;
    }
    off[0] = 0;
    for (int i = 0; i < m; i++) {
        int u = sel[i];
        keys[i] = d->keys[u];
        d->keys[u] = NULL;
        x[i] = d->x[u];
        grp[i] = d->grp[u];
        size_t o = off[i];
        for (size_t j = d->off[u]; j < d->off[u + 1]; j++, o++) {
            if (val) val[o] = d->val[j];
            if (name) name[o] = d->name[j];
        }
        off[i + 1] = o;
    }
    for (int i = 0; i < d->n; i++) free(d->keys[i]);
    free(d->keys); free(d->x); free(d->grp); free(d->off); free(d->val); free(d->name);
    d->keys = keys; d->x = x; d->grp = grp; d->off = off; d->val = val; d->name = name;
    d->n = m;
    return 0;
}

typedef struct kidx { const char *key; int i; } kidx;

static int cmp_kidx(const void *a, const void *b)
{
    return strcmp(((const kidx *)a)->key, ((const kidx *)b)->key);
}

static kidx *sorted_keys(const bd_metric_data *d)
{
    kidx *v = malloc(((size_t)d->n + 1) * sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < d->n; i++) v[i] = (kidx){d->keys[i], i};
    qsort(v, (size_t)d->n, sizeof *v, cmp_kidx);
    return v;
}

int bd_metric_data_align(bd_metric_data *a, bd_metric_data *b, bd_err *err)
{
    if (a->agg != b->agg) return bd_fail(err, BD_EINPUT, "metric: cannot pair units of different specs");
    kidx *ka = sorted_keys(a), *kb = sorted_keys(b);
    int m = a->n < b->n ? a->n : b->n;
    int *sa = malloc(((size_t)m + 1) * sizeof *sa), *sb = malloc(((size_t)m + 1) * sizeof *sb);
    int rc = 0;
    if (!ka || !kb || !sa || !sb) { rc = bd_oom(err, "unit pairing"); goto out; }
    int i = 0, j = 0, k = 0;
    while (i < a->n && j < b->n) {
        int c = strcmp(ka[i].key, kb[j].key);
        if (c < 0) i++;
        else if (c > 0) j++;
        else {
            /* a key twice in one run (not expected): pair the first only */
            const char *key = ka[i].key;
            sa[k] = ka[i].i;
            sb[k] = kb[j].i;
            k++;
            while (i < a->n && !strcmp(ka[i].key, key)) i++;
            while (j < b->n && !strcmp(kb[j].key, key)) j++;
        }
    }
    if (subset(a, sa, k) || subset(b, sb, k)) rc = bd_oom(err, "unit pairing");
out:
    free(ka); free(kb); free(sa); free(sb);
    return rc;
}

int bd_metric_eval(const char *spec, const bd_mitem *items, size_t n, double *value,
                   long long *n_units, bd_err *err)
{
    bd_metric_data *d;
    int rc = bd_metric_data_build(spec, items, n, &d, err);
    if (rc) return rc;
    *value = bd_metric_data_value(d);
    if (n_units) {
        long long k = 0;
        for (int i = 0; i < d->n; i++)
            k += d->weighted ? d->grp[i] > 0
                             : d->agg == AGG_ANSWER_RATE || d->agg == AGG_SHARE_RANGE ||
                                   d->agg == AGG_GINI_MEDIAN || isfinite(d->x[i]);
        *n_units = k;
    }
    bd_metric_data_free(d);
    return 0;
}
