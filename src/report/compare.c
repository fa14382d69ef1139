/* Pairs every accelerated run with its baseline and bootstraps each metric's
 * delta from the stored items (see bd_metric_spec in ../stats/stats.h). */
#include "compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stats/stats.h"

void bd_cmp_opts_default(bd_cmp_opts *o)
{
    o->n_boot = 1000;
    o->seed = 20250401;
    o->level = 0.95;
    o->alpha = 0.05;
}

void bd_cmp_metric_label(const char *name, const char *grp, char *buf, size_t n)
{
    if (grp && *grp) snprintf(buf, n, "%s[%s]", name, grp);
    else snprintf(buf, n, "%s", name);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { k = 2; cp = s[0] & 0x1F; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { k = 3; cp = s[0] & 0x0F; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { k = 4; cp = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* A copy of at most max bytes of s, cut at a character boundary, with
 * invalid UTF-8 (model outputs can end inside a byte-level token) replaced by
 * U+FFFD so every writer (JSON, HTML, CSV) gets valid text. */
static char *dupn(const char *s, size_t max)
{
    if (!s) s = "";
    size_t n = strnlen(s, max + 4);
    char *d = malloc(3 * (n < max ? n : max) + 4);
    if (!d) return NULL;
    size_t o = 0, i = 0;
    while (i < n && i < max) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (k && i + k > max) break;
        if (!k) { memcpy(d + o, "\xEF\xBF\xBD", 3); o += 3; i++; continue; }
        memcpy(d + o, s + i, k);
        o += k;
        i += k;
    }
    d[o] = 0;
    return d;
}

static void pair_clear(bd_cmp_pair *p)
{
    free(p->model); free(p->model_digest); free(p->accel); free(p->compute); free(p->bench);
    free(p->template_mode); free(p->label);
    for (int i = 0; i < p->n_ex; i++) {
        free(p->ex[i].key); free(p->ex[i].base_answer); free(p->ex[i].answer);
        free(p->ex[i].base_output); free(p->ex[i].output);
    }
}

void bd_comparison_free(bd_comparison *c)
{
    for (size_t i = 0; i < c->n_pairs; i++) pair_clear(&c->pairs[i]);
    free(c->pairs);
    for (size_t i = 0; i < c->n_rows; i++) { free(c->rows[i].metric); free(c->rows[i].grp); free(c->rows[i].note); }
    free(c->rows);
    for (size_t i = 0; i < c->n_unmatched; i++) free(c->unmatched[i]);
    free(c->unmatched);
    memset(c, 0, sizeof *c);
}

static int same(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* The baseline for run r: accel "none" with the same model, bench, template,
 * decoding, seed and dataset; among those prefer the same compute dtype,
 * then the same biasdrift version, then a complete run, then the newest. */
static const bd_run_info *find_baseline(const bd_run_info *runs, size_t n, const bd_run_info *r)
{
    const bd_run_info *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < n; i++) {
        const bd_run_info *b = &runs[i];
        if (strcmp(b->accel, "none") || !same(b->model_digest, r->model_digest) || !same(b->bench, r->bench) ||
            !same(b->template_mode, r->template_mode) || !same(b->decoding, r->decoding) ||
            b->seed != r->seed || !same(b->dataset_sha256, r->dataset_sha256))
            continue;
        int score = 4 * same(b->compute, r->compute) + 2 * same(b->version, r->version) +
                    !strcmp(b->status, "complete");
        if (score >= best_score) { best = b; best_score = score; }   /* later id wins ties */
    }
    return best;
}

typedef struct runitems {
    bd_item *items;
    size_t n;
    bd_mitem *m;       /* ok items only */
    size_t nm;
    bd_mitems *parsed; /* m with its JSON parsed once for all the run's metrics */
} runitems;

static void runitems_free(runitems *ri)
{
    bd_store_items_free(ri->items, ri->n);
    bd_mitems_free(ri->parsed);
    free(ri->m);
    memset(ri, 0, sizeof *ri);
}

static int runitems_load(bd_store *db, long long run_id, runitems *ri, bd_err *err)
{
    memset(ri, 0, sizeof *ri);
    int rc = bd_store_items(db, run_id, &ri->items, &ri->n, err);
    if (rc) return rc;
    ri->m = malloc((ri->n + 1) * sizeof *ri->m);
    if (!ri->m) { runitems_free(ri); return bd_oom(err, "item views"); }
    for (size_t i = 0; i < ri->n; i++) {
        const bd_item *it = &ri->items[i];
        if (it->skipped) continue;
        ri->m[ri->nm++] = (bd_mitem){it->key, it->answer, it->scores, it->groups};
    }
    if ((rc = bd_mitems_parse(ri->m, ri->nm, &ri->parsed, err))) {
        bd_wrap(err, "%s: run %lld", bd_store_path(db), run_id);
        runitems_free(ri);
    }
    return rc;
}

static int cmp_item_key(const void *a, const void *b)
{
    return strcmp((*(const bd_item *const *)a)->key, (*(const bd_item *const *)b)->key);
}

/* Decision flips between the ok items of the two runs, in accel item order. */
static int count_flips(const runitems *acc, const runitems *base, bd_cmp_pair *p, bd_err *err)
{
    const bd_item **sorted = malloc((base->n + 1) * sizeof *sorted);
    if (!sorted) return bd_oom(err, "flip index");
    size_t nb = 0;
    for (size_t i = 0; i < base->n; i++)
        if (!base->items[i].skipped) sorted[nb++] = &base->items[i];
    qsort(sorted, nb, sizeof *sorted, cmp_item_key);
    for (size_t i = 0; i < acc->n; i++) {
        const bd_item *a = &acc->items[i];
        if (a->skipped) continue;
        const bd_item probe = {.key = a->key}, *pp = &probe;
        const bd_item **hit = bsearch(&pp, sorted, nb, sizeof *sorted, cmp_item_key);
        if (!hit) continue;
        p->n_paired++;
        const bd_item *b = *hit;
        if (!a->answer || !b->answer) continue;
        p->n_decisions++;
        if (!strcmp(a->answer, b->answer)) continue;
        p->flips++;
        if (p->n_ex < BD_CMP_MAX_EXAMPLES) {
            bd_cmp_flip *f = &p->ex[p->n_ex];
            f->key = dupn(a->key, 200);
            f->answer = dupn(a->answer, 200);
            f->base_answer = dupn(b->answer, 200);
            f->output = dupn(a->output, 300);
            f->base_output = dupn(b->output, 300);
            p->n_ex++;
            if (!f->key || !f->answer || !f->base_answer || !f->output || !f->base_output) {
                free(sorted);
                return bd_oom(err, "flip example");
            }
        }
    }
    free(sorted);
    return 0;
}

static int push_row(bd_comparison *c, size_t *cap, bd_cmp_row *row, bd_err *err)
{
    if (c->n_rows == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        bd_cmp_row *nr = realloc(c->rows, nc * sizeof *nr);
        if (!nr) return bd_oom(err, "comparison rows");
        c->rows = nr;
        *cap = nc;
    }
    c->rows[c->n_rows++] = *row;
    return 0;
}

static int compare_metric(const bd_cmp_opts *o, const runitems *acc, const runitems *base,
                          const bd_metric_row *ma, const bd_metric_row *mb, bd_cmp_row *row,
                          bd_err *err)
{
    row->value = ma->value;
    row->baseline = mb->value;
    row->delta = ma->value - mb->value;
    row->ci_low = row->ci_high = row->p = NAN;
    row->n = ma->n < mb->n ? ma->n : mb->n;
    const char *note = "";
    if (!*ma->spec || !*mb->spec) note = "no metric spec stored: no CI";
    else if (strcmp(ma->spec, mb->spec)) note = "metric specs differ between the runs: no CI";
    if (*note) return (row->note = strdup(note)) ? 0 : bd_oom(err, "note");

    bd_metric_data *a = NULL, *b = NULL;
    int rc = bd_metric_data_build_parsed(ma->spec, acc->parsed, &a, err);
    if (!rc) rc = bd_metric_data_build_parsed(mb->spec, base->parsed, &b, err);
    if (!rc) rc = bd_metric_data_align(a, b, err);
    if (rc) goto out;
    int n = bd_metric_data_units(a);
    row->n = n;
    if (n < BD_CMP_MIN_UNITS) {
        /* a bootstrap over a handful of units only replays them: its CI is
         * degenerate and its p-value meaningless, so none is reported */
        note = n ? "too few paired units for a CI" : "no paired units";
        row->value = bd_metric_data_value(a);
        row->baseline = bd_metric_data_value(b);
        row->delta = row->value - row->baseline;
    } else {
        bd_boot_result br;
        rc = bd_bootstrap_paired(bd_metric_data_eval, a, b, n, o->n_boot, o->seed, o->level, &br, err);
        if (rc) goto out;
        row->value = bd_metric_data_value(a);
        row->baseline = bd_metric_data_value(b);
        row->delta = br.estimate;
        row->ci_low = br.ci_low;
        row->ci_high = br.ci_high;
        row->p = br.p;
        row->has_ci = br.n_valid > 0;
        if (!row->has_ci) note = "metric undefined on every resample";
    }
    if (!(row->note = strdup(note))) rc = bd_oom(err, "note");
out:
    bd_metric_data_free(a);
    bd_metric_data_free(b);
    return rc;
}

static char *label_of(const bd_run_info *r)
{
    char buf[512];
    if (!r->compute[0] || !strcmp(r->compute, "fp32")) snprintf(buf, sizeof buf, "%s", r->accel);
    else snprintf(buf, sizeof buf, "%s@%s", r->accel, r->compute);
    return strdup(buf);
}

int bd_compare(bd_store *db, const bd_cmp_opts *opts, bd_comparison *out, bd_err *err)
{
    memset(out, 0, sizeof *out);
    bd_cmp_opts o;
    if (opts) o = *opts;
    else bd_cmp_opts_default(&o);
    out->opts = o;
    bd_run_info *runs;
    size_t nr;
    int rc = bd_store_runs(db, &runs, &nr, err);
    if (rc) return rc;
    size_t row_cap = 0, pair_cap = 0, um_cap = 0;
    runitems acc = {0}, base = {0};
    bd_metric_row *ma = NULL, *mb = NULL;
    size_t nma = 0, nmb = 0;
    for (size_t i = 0; i < nr && !rc; i++) {
        const bd_run_info *r = &runs[i];
        if (!strcmp(r->accel, "none")) continue;
        const bd_run_info *b = find_baseline(runs, nr, r);
        if (!b) {
            char msg[600];
            snprintf(msg, sizeof msg, "run %lld (%s, %s, %s, template %s): no baseline run with accel none",
                     r->id, r->model, r->accel, r->bench, r->template_mode);
            if (out->n_unmatched == um_cap) {
                size_t nc = um_cap ? um_cap * 2 : 8;
                char **nu = realloc(out->unmatched, nc * sizeof *nu);
                if (!nu) { rc = bd_oom(err, "unmatched list"); break; }
                out->unmatched = nu;
                um_cap = nc;
            }
            if (!(out->unmatched[out->n_unmatched] = strdup(msg))) { rc = bd_oom(err, "unmatched"); break; }
            out->n_unmatched++;
            continue;
        }
        if (out->n_pairs == pair_cap) {
            size_t nc = pair_cap ? pair_cap * 2 : 8;
            bd_cmp_pair *np = realloc(out->pairs, nc * sizeof *np);
            if (!np) { rc = bd_oom(err, "comparison pairs"); break; }
            out->pairs = np;
            pair_cap = nc;
        }
        bd_cmp_pair *p = &out->pairs[out->n_pairs++];
        memset(p, 0, sizeof *p);
        p->run_id = r->id;
        p->base_run_id = b->id;
        p->model = strdup(r->model);
        p->model_digest = strdup(r->model_digest);
        p->accel = strdup(r->accel);
        p->compute = strdup(r->compute);
        p->bench = strdup(r->bench);
        p->template_mode = strdup(r->template_mode);
        p->label = label_of(r);
        if (!p->model || !p->model_digest || !p->accel || !p->compute || !p->bench ||
            !p->template_mode || !p->label) { rc = bd_oom(err, "comparison pair"); break; }
        if ((rc = runitems_load(db, r->id, &acc, err)) || (rc = runitems_load(db, b->id, &base, err)) ||
            (rc = count_flips(&acc, &base, p, err)) ||
            (rc = bd_store_metrics(db, r->id, &ma, &nma, err)) ||
            (rc = bd_store_metrics(db, b->id, &mb, &nmb, err)))
            break;
        for (size_t k = 0; k < nma && !rc; k++) {
            const bd_metric_row *mbk = NULL;
            for (size_t j = 0; j < nmb; j++)
                if (!strcmp(ma[k].name, mb[j].name) && !strcmp(ma[k].grp, mb[j].grp)) { mbk = &mb[j]; break; }
            if (!mbk) continue;
            bd_cmp_row row;
            memset(&row, 0, sizeof row);
            row.pair = out->n_pairs - 1;
            row.metric = strdup(ma[k].name);
            row.grp = strdup(ma[k].grp);
            if (!row.metric || !row.grp) { free(row.metric); free(row.grp); rc = bd_oom(err, "row"); break; }
            rc = compare_metric(&o, &acc, &base, &ma[k], mbk, &row, err);
            if (rc) {
                bd_wrap(err, "%s: comparing %s run %lld with baseline run %lld, metric %s",
                        bd_store_path(db), r->bench, r->id, b->id, ma[k].name);
            }
            if (rc || (rc = push_row(out, &row_cap, &row, err))) {
                free(row.metric); free(row.grp); free(row.note);
            }
        }
        runitems_free(&acc);
        runitems_free(&base);
        bd_store_metrics_free(ma, nma);
        bd_store_metrics_free(mb, nmb);
        ma = mb = NULL;
        nma = nmb = 0;
    }
    runitems_free(&acc);
    runitems_free(&base);
    bd_store_metrics_free(ma, nma);
    bd_store_metrics_free(mb, nmb);
    bd_store_runs_free(runs, nr);
    if (rc) bd_comparison_free(out);
    return rc;
}
