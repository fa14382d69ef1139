/* Helpers shared by the benchmark files (see benches.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benches.h"
#include "file.h"

int bd_rows_alloc(bd_bench_data *d, size_t n, bd_err *err)
{
    d->keys = calloc(n ? n : 1, sizeof *d->keys);
    d->groups = calloc(n ? n : 1, sizeof *d->groups);
    if (!d->keys || !d->groups) return bd_oom(err, "rows");
    return 0;
}

int bd_data_add_file(bd_bench_data *d, const char *path, bd_err *err)
{
    if (d->n_files >= (int)(sizeof d->files / sizeof d->files[0]))
        return bd_fail(err, BD_EFAIL, "too many data files");
    d->files[d->n_files] = strdup(path);
    if (!d->files[d->n_files]) return bd_oom(err, "path");
    d->n_files++;
    return 0;
}

int bd_locate(bd_bench_data *d, const char *dir, const char *const *rel, int n_rel,
              const char *what, const char *howto, char *path, size_t path_size, bd_err *err)
{
    int rc = bd_data_find(dir, rel, n_rel, what, howto, path, path_size, err);
    if (rc) return rc;
    return bd_data_add_file(d, path, err);
}

char *bd_json_take(json_object *o)
{
    if (!o) return NULL;
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *r = s ? strdup(s) : NULL;
    json_object_put(o);
    return r;
}

void bd_group_add(json_object *g, const char *k, const char *v)
{
    if (v && *v) json_object_object_add(g, k, json_object_new_string(v));
}

void bd_score_add(json_object *s, const char *k, double v)
{
    if (isfinite(v)) json_object_object_add(s, k, json_object_new_double(v));
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *o = malloc((size_t)n + 1);
    if (o) vsnprintf(o, (size_t)n + 1, fmt, ap);
    return o;
}

static bd_metric_def *mlist_slot(bd_mlist *l)
{
    if (l->oom) return NULL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        bd_metric_def *nd = realloc(l->d, nc * sizeof *nd);
        if (!nd) { l->oom = 1; return NULL; }
        l->d = nd;
        l->cap = nc;
    }
    bd_metric_def *m = &l->d[l->n];
    memset(m, 0, sizeof *m);
    return m;
}

void bd_mlist_add(bd_mlist *l, const char *name, const char *grp, const char *fmt, ...)
{
    bd_metric_def *m = mlist_slot(l);
    if (!m) return;
    va_list ap;
    va_start(ap, fmt);
    m->spec = vfmt(fmt, ap);
    va_end(ap);
    m->name = strdup(name);
    m->grp = strdup(grp ? grp : "");
    m->value = NAN;
    if (!m->spec || !m->name || !m->grp) {
        free(m->spec); free(m->name); free(m->grp);
        l->oom = 1;
        return;
    }
    l->n++;
}

void bd_mlist_add_value(bd_mlist *l, const char *name, const char *grp, double v, long long n)
{
    bd_metric_def *m = mlist_slot(l);
    if (!m) return;
    m->name = strdup(name);
    m->grp = strdup(grp ? grp : "");
    m->value = v;
    m->n = n;
    if (!m->name || !m->grp) { free(m->name); free(m->grp); l->oom = 1; return; }
    l->n++;
}

int bd_mlist_finish(bd_mlist *l, bd_metric_def **defs, size_t *n, bd_err *err)
{
    if (l->oom) {
        bd_metric_defs_free(l->d, l->n);
        *defs = NULL;
        *n = 0;
        return bd_oom(err, "metric list");
    }
    *defs = l->d;
    *n = l->n;
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bd_strs_free(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

int bd_distinct_labels(const bd_done_item *items, size_t n, const char *label, char ***out,
                       size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *g = items[i].groups ? json_tokener_parse(items[i].groups) : NULL, *x;
        if (g && json_object_object_get_ex(g, label, &x) && json_object_is_type(x, json_type_string)) {
            v[k] = strdup(json_object_get_string(x));
            if (!v[k]) { json_object_put(g); bd_strs_free(v, k); return -1; }
            k++;
        }
        json_object_put(g);
    }
    qsort(v, k, sizeof *v, cmpstr);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u && !strcmp(v[u - 1], v[i])) { free(v[i]); continue; }
        v[u++] = v[i];
    }
    *out = v;
    *n_out = u;
    return 0;
}
