/* `biasdrift compare` output: an aligned text table and a JSON list. */
#include "report.h"

#include <math.h>
#include <string.h>

#include <json-c/json.h>

static int significant(const bd_comparison *c, const bd_cmp_row *r)
{
    return r->has_ci && r->p < c->opts.alpha && (r->ci_low > 0 || r->ci_high < 0);
}

static int width(int w, const char *s)
{
    int k = (int)strlen(s);
    return k > w ? (k > 200 ? 200 : k) : w;
}

int bd_compare_write_table(FILE *f, const bd_comparison *c)
{
    char v[32], b[32], d[32], lo[32], hi[32], p[32], m[300], ci[80], fl[48];
    int wm = 5, wa = 5, wb = 5, wt = 8, wx = 6;
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        const bd_cmp_pair *pr = &c->pairs[r->pair];
        bd_cmp_metric_label(r->metric, r->grp, m, sizeof m);
        wm = width(wm, pr->model);
        wa = width(wa, pr->label);
        wb = width(wb, pr->bench);
        wt = width(wt, pr->template_mode);
        wx = width(wx, m);
    }
    fprintf(f, "%-*s %-*s %-*s %-*s %-*s %10s %10s %10s %-23s %9s %6s %s\n", wm, "model", wa, "accel", wb,
            "bench", wt, "template", wx, "metric", "value", "baseline", "delta", "95% CI", "p", "n", "flips");
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        const bd_cmp_pair *pr = &c->pairs[r->pair];
        bd_cmp_metric_label(r->metric, r->grp, m, sizeof m);
        if (r->has_ci)
            snprintf(ci, sizeof ci, "[%s, %s]", bd_fmt_num(lo, sizeof lo, r->ci_low), bd_fmt_num(hi, sizeof hi, r->ci_high));
        else
            snprintf(ci, sizeof ci, "-");
        if (pr->n_decisions) snprintf(fl, sizeof fl, "%lld/%lld", pr->flips, pr->n_decisions);
        else snprintf(fl, sizeof fl, "-");
        fprintf(f, "%-*s %-*s %-*s %-*s %-*s %10s %10s %10s %-23s %8s%s %6lld %s\n", wm, pr->model, wa, pr->label,
                wb, pr->bench, wt, pr->template_mode, wx, m, bd_fmt_num(v, sizeof v, r->value),
                bd_fmt_num(b, sizeof b, r->baseline), bd_fmt_num(d, sizeof d, r->delta), ci,
                r->has_ci ? bd_fmt_num(p, sizeof p, r->p) : "-", significant(c, r) ? "*" : " ", r->n, fl);
    }
    if (!c->n_rows) fprintf(f, "(no accelerated run with a matching baseline)\n");
    for (size_t i = 0; i < c->n_pairs; i++) {
        const bd_cmp_pair *p = &c->pairs[i];
        if (!p->flips) continue;
        fprintf(f, "flips %s %s %s (template %s): %lld of %lld decisions;", p->model, p->label, p->bench,
                p->template_mode, p->flips, p->n_decisions);
        for (int k = 0; k < p->n_ex && k < 3; k++)
            fprintf(f, "%s item %s: %s -> %s", k ? "," : "", p->ex[k].key, p->ex[k].base_answer, p->ex[k].answer);
        fputc('\n', f);
    }
    for (size_t i = 0; i < c->n_unmatched; i++) fprintf(f, "note: %s\n", c->unmatched[i]);
    fprintf(f, "95%% CI: paired percentile bootstrap over items (questions for per-question metrics), "
               "%d resamples, seed %llu; * = p < %g and CI excludes 0\n",
            c->opts.n_boot, (unsigned long long)c->opts.seed, c->opts.alpha);
    return ferror(f) ? BD_EIO : 0;
}

static json_object *jnum(double v) { return isfinite(v) ? json_object_new_double(v) : NULL; }

static int add(json_object *o, const char *k, json_object *v, int allow_null)
{
    if (!v && !allow_null) return -1;
    return json_object_object_add(o, k, v);
}

json_object *bd_compare_json(const bd_comparison *c)
{
    json_object *list = json_object_new_array();
    if (!list) return NULL;
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        const bd_cmp_pair *pr = &c->pairs[r->pair];
        char m[300];
        bd_cmp_metric_label(r->metric, r->grp, m, sizeof m);
        json_object *o = json_object_new_object();
        if (!o || json_object_array_add(list, o)) { json_object_put(o); json_object_put(list); return NULL; }
        int bad = add(o, "model", json_object_new_string(pr->model), 0) |
                  add(o, "accel", json_object_new_string(pr->accel), 0) |
                  add(o, "bench", json_object_new_string(pr->bench), 0) |
                  add(o, "template", json_object_new_string(pr->template_mode), 0) |
                  add(o, "metric", json_object_new_string(m), 0) |
                  add(o, "value", jnum(r->value), 1) | add(o, "baseline", jnum(r->baseline), 1) |
                  add(o, "delta", jnum(r->delta), 1) | add(o, "ci_low", jnum(r->ci_low), 1) |
                  add(o, "ci_high", jnum(r->ci_high), 1) | add(o, "p", jnum(r->p), 1) |
                  add(o, "significant", json_object_new_boolean(significant(c, r)), 0) |
                  add(o, "metric_name", json_object_new_string(r->metric), 0) |
                  add(o, "group", json_object_new_string(r->grp), 0) |
                  add(o, "n", json_object_new_int64(r->n), 0) |
                  add(o, "n_decisions", json_object_new_int64(pr->n_decisions), 0) |
                  add(o, "flips", json_object_new_int64(pr->flips), 0) |
                  add(o, "compute", json_object_new_string(pr->compute), 0) |
                  add(o, "model_digest", json_object_new_string(pr->model_digest), 0) |
                  add(o, "run_id", json_object_new_int64(pr->run_id), 0) |
                  add(o, "baseline_run_id", json_object_new_int64(pr->base_run_id), 0) |
                  add(o, "n_boot", json_object_new_int(c->opts.n_boot), 0);
        if (*r->note) bad |= add(o, "note", json_object_new_string(r->note), 0);
        if (bad) { json_object_put(list); return NULL; }
    }
    return list;
}

int bd_compare_write_json(FILE *f, const bd_comparison *c, bd_err *err)
{
    json_object *list = bd_compare_json(c);
    if (!list) return bd_oom(err, "comparison JSON");
    const char *s = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = s ? 0 : bd_oom(err, "comparison JSON text");
    if (s) { fputs(s, f); fputc('\n', f); }
    json_object_put(list);
    if (!rc && ferror(f)) rc = bd_fail(err, BD_EIO, "writing comparison JSON failed");
    return rc;
}
