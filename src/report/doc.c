/* The report document, written as HTML or Markdown from the same sections:
 * runs, metric values, comparisons, heatmap, per-group breakdowns, flips. */
#include "doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../util/version.h"

typedef struct tw { FILE *f; int md; int ncol; } tw;

static void esc(const tw *t, const char *s)
{
    if (t->md) bd_md_esc(t->f, s);
    else bd_html_esc(t->f, s);
}

static void heading(const tw *t, int level, const char *s)
{
    if (t->md) {
        for (int i = 0; i < level; i++) fputc('#', t->f);
        fputc(' ', t->f);
        esc(t, s);
        fputs("\n\n", t->f);
    } else {
        fprintf(t->f, "<h%d>", level);
        esc(t, s);
        fprintf(t->f, "</h%d>\n", level);
    }
}

static void para(const tw *t, const char *s)
{
    if (t->md) { esc(t, s); fputs("\n\n", t->f); }
    else { fputs("<p>", t->f); esc(t, s); fputs("</p>\n", t->f); }
}

static void tbegin(tw *t, const char *const *heads, int n)
{
    t->ncol = n;
    if (t->md) {
        for (int i = 0; i < n; i++) { fputs("| ", t->f); esc(t, heads[i]); fputc(' ', t->f); }
        fputs("|\n", t->f);
        for (int i = 0; i < n; i++) fputs("| --- ", t->f);
        fputs("|\n", t->f);
    } else {
        fputs("<table>\n<thead><tr>", t->f);
        for (int i = 0; i < n; i++) { fputs("<th>", t->f); esc(t, heads[i]); fputs("</th>", t->f); }
        fputs("</tr></thead>\n<tbody>\n", t->f);
    }
}

/* cls: HTML class of the row ("sig" marks significant rows) or NULL. */
static void trow(const tw *t, const char *const *cells, const char *cls)
{
    if (t->md) {
        for (int i = 0; i < t->ncol; i++) { fputs("| ", t->f); esc(t, cells[i]); fputc(' ', t->f); }
        fputs("|\n", t->f);
        return;
    }
    if (cls) fprintf(t->f, "<tr class=\"%s\">", cls);
    else fputs("<tr>", t->f);
    for (int i = 0; i < t->ncol; i++) { fputs("<td>", t->f); esc(t, cells[i]); fputs("</td>", t->f); }
    fputs("</tr>\n", t->f);
}

static void tend(const tw *t) { fputs(t->md ? "\n" : "</tbody>\n</table>\n", t->f); }

static int is_sig(const bd_comparison *c, const bd_cmp_row *r)
{
    return r->has_ci && r->p < c->opts.alpha && (r->ci_low > 0 || r->ci_high < 0);
}

static const char *run_label(const bd_run_info *r, char *buf, size_t n)
{
    if (!r->compute[0] || !strcmp(r->compute, "fp32")) snprintf(buf, n, "%s", r->accel);
    else snprintf(buf, n, "%s@%s", r->accel, r->compute);
    return buf;
}

static double meta_num(const char *meta, const char *key)
{
    json_object *o = json_tokener_parse(meta ? meta : "{}"), *v;
    double x = NAN;
    if (o && json_object_object_get_ex(o, key, &v) &&
        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        x = json_object_get_double(v);
    json_object_put(o);
    return x;
}

static void runs_section(tw *t, const bd_report_data *d)
{
    heading(t, 2, "Runs");
    if (!d->n_runs) { para(t, "The database holds no runs."); return; }
    static const char *const H[] = {"run", "model", "accel", "compute", "bench", "template", "status",
                                    "items", "skipped", "limit", "tokens/s", "weights MiB", "KV cache MiB",
                                    "peak RSS MiB", "seconds", "biasdrift"};
    tbegin(t, H, 16);
    for (size_t i = 0; i < d->n_runs; i++) {
        const bd_run_info *r = &d->runs[i];
        char id[24], ni[24], ns[24], lim[32], tps[32], wb[32], kv[32], pk[32], sec[32];
        snprintf(id, sizeof id, "%lld", r->id);
        snprintf(ni, sizeof ni, "%lld", r->n_items);
        snprintf(ns, sizeof ns, "%lld", r->n_skipped);
        bd_fmt_num(tps, sizeof tps, meta_num(r->meta, "tokens_per_s"));
        bd_fmt_num(wb, sizeof wb, meta_num(r->meta, "weight_bytes") / 1048576.0);
        bd_fmt_num(pk, sizeof pk, meta_num(r->meta, "peak_rss_bytes") / 1048576.0);
        bd_fmt_num(kv, sizeof kv, meta_num(r->meta, "kv_bytes_peak") / 1048576.0);
        double l = meta_num(r->meta, "limit");
        if (isfinite(l) && l > 0) bd_fmt_num(lim, sizeof lim, l);
        else snprintf(lim, sizeof lim, "none");
        bd_fmt_num(sec, sizeof sec, meta_num(r->meta, "seconds"));
        const char *cells[] = {id, r->model, r->accel, r->compute, r->bench, r->template_mode, r->status,
                               ni, ns, lim, tps, wb, kv, pk, sec, r->version};
        trow(t, cells, NULL);
    }
    tend(t);
    para(t, "Skipped items (e.g. prompts longer than the model's context) are counted, never truncated. "
            "n/a = not recorded.");
    /* notes the runs carry (e.g. what the base weights are), each once */
    for (size_t i = 0; i < d->n_runs; i++) {
        json_object *o = json_tokener_parse(d->runs[i].meta ? d->runs[i].meta : "{}"), *v;
        const char *note = o && json_object_object_get_ex(o, "note", &v) ? json_object_get_string(v) : NULL;
        int seen = 0;
        for (size_t j = 0; note && j < i && !seen; j++) {
            json_object *p = json_tokener_parse(d->runs[j].meta ? d->runs[j].meta : "{}"), *w;
            seen = p && json_object_object_get_ex(p, "note", &w) && !strcmp(json_object_get_string(w), note);
            json_object_put(p);
        }
        if (note && !seen) {
            char buf[1400];
            snprintf(buf, sizeof buf, "Note: %.1300s.", note);
            para(t, buf);
        }
        json_object_put(o);
    }
}

static void metrics_section(tw *t, const bd_report_data *d)
{
    heading(t, 2, "Metric values");
    static const char *const H[] = {"run", "model", "accel", "bench", "template", "metric", "value", "n"};
    int any = 0;
    for (size_t i = 0; i < d->n_runs; i++) {
        const bd_run_info *r = &d->runs[i];
        char lab[300];
        run_label(r, lab, sizeof lab);
        for (size_t k = 0; k < d->n_metrics[i]; k++) {
            const bd_metric_row *m = &d->metrics[i][k];
            if (*m->grp) continue;
            if (!any++) tbegin(t, H, 8);
            char id[24], v[32], n[24];
            snprintf(id, sizeof id, "%lld", r->id);
            snprintf(n, sizeof n, "%lld", m->n);
            const char *cells[] = {id, r->model, lab, r->bench, r->template_mode, m->name,
                                   bd_fmt_num(v, sizeof v, m->value), n};
            trow(t, cells, NULL);
        }
    }
    if (any) tend(t);
    else para(t, "No metrics stored yet.");
}

static void cmp_cells(const bd_comparison *c, const bd_cmp_row *r, char *ci, size_t nci, char *p, size_t np)
{
    char lo[32], hi[32];
    if (r->has_ci) snprintf(ci, nci, "[%s, %s]", bd_fmt_num(lo, sizeof lo, r->ci_low), bd_fmt_num(hi, sizeof hi, r->ci_high));
    else snprintf(ci, nci, "%s", *r->note ? r->note : "n/a");
    if (r->has_ci) {
        bd_fmt_num(p, np, r->p);
        if (is_sig(c, r)) strncat(p, " *", np - strlen(p) - 1);
    } else {
        snprintf(p, np, "n/a");
    }
}

static void compare_section(tw *t, const bd_report_data *d)
{
    const bd_comparison *c = &d->cmp;
    heading(t, 2, "Accelerated vs baseline");
    char buf[400];
    snprintf(buf, sizeof buf, "Delta = accelerated minus baseline on the items both runs have. CI: %g%% paired "
             "percentile bootstrap over items (over questions for per-question metrics), %d resamples, seed %llu. "
             "* = p < %g and the CI excludes 0.", 100 * c->opts.level, c->opts.n_boot,
             (unsigned long long)c->opts.seed, c->opts.alpha);
    para(t, buf);
    static const char *const H[] = {"model", "accel", "bench", "template", "metric", "value", "baseline",
                                    "delta", "95% CI", "p", "n", "flips"};
    int any = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        if (*r->grp) continue;
        const bd_cmp_pair *pr = &c->pairs[r->pair];
        if (!any++) tbegin(t, H, 12);
        char v[32], b[32], dl[32], ci[160], p[40], n[24], fl[48];
        snprintf(n, sizeof n, "%lld", r->n);
        if (pr->n_decisions) snprintf(fl, sizeof fl, "%lld/%lld", pr->flips, pr->n_decisions);
        else snprintf(fl, sizeof fl, "n/a");
        cmp_cells(c, r, ci, sizeof ci, p, sizeof p);
        const char *cells[] = {pr->model, pr->label, pr->bench, pr->template_mode, r->metric,
                               bd_fmt_num(v, sizeof v, r->value), bd_fmt_num(b, sizeof b, r->baseline),
                               bd_fmt_num(dl, sizeof dl, r->delta), ci, p, n, fl};
        trow(t, cells, is_sig(c, r) ? "sig" : NULL);
    }
    if (any) tend(t);
    else para(t, "No accelerated run has a matching baseline (accel none, same model, benchmark, template, "
                 "decoding, seed and dataset) yet.");
    for (size_t i = 0; i < c->n_unmatched; i++) para(t, c->unmatched[i]);
}

static const bd_cmp_row *find_cmp(const bd_comparison *c, long long run_id, const char *name, const char *grp)
{
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        if (c->pairs[r->pair].run_id == run_id && !strcmp(r->metric, name) && !strcmp(r->grp, grp)) return r;
    }
    return NULL;
}

/* Per (model, bench, template): one row per (metric, group), one column per run. */
static int breakdown_section(tw *t, const bd_report_data *d)
{
    heading(t, 2, "Per-group breakdowns");
    size_t n = d->n_runs;
    char *done = calloc(n + 1, 1);
    size_t *members = malloc((n + 1) * sizeof *members);
    const char **heads = malloc((2 * n + 3) * sizeof *heads);
    char (*hbuf)[320] = malloc((2 * n + 1) * sizeof *hbuf);
    char (*cbuf)[200] = malloc((2 * n + 1) * sizeof *cbuf);
    const char **cells = malloc((2 * n + 3) * sizeof *cells);
    if (!done || !members || !heads || !hbuf || !cbuf || !cells) {
        free(done); free(members); free(heads); free(hbuf); free(cbuf); free(cells);
        return BD_ENOMEM;
    }
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        const bd_run_info *r0 = &d->runs[i];
        size_t nm = 0;
        for (size_t j = i; j < n; j++) {
            const bd_run_info *r = &d->runs[j];
            if (!done[j] && !strcmp(r->model_digest, r0->model_digest) && !strcmp(r->model, r0->model) &&
                !strcmp(r->bench, r0->bench) && !strcmp(r->template_mode, r0->template_mode)) {
                done[j] = 1;
                members[nm++] = j;
            }
        }
        /* columns: a value per run, then a delta per accelerated run */
        int nc = 2;
        heads[0] = "metric";
        heads[1] = "group";
        for (size_t m = 0; m < nm; m++) {
            char lab[300];
            run_label(&d->runs[members[m]], lab, sizeof lab);
            snprintf(hbuf[nc - 2], sizeof hbuf[0], "%s (run %lld)", lab, d->runs[members[m]].id);
            heads[nc] = hbuf[nc - 2];
            nc++;
        }
        for (size_t m = 0; m < nm; m++) {
            const bd_run_info *r = &d->runs[members[m]];
            if (!strcmp(r->accel, "none")) continue;
            char lab[300];
            snprintf(hbuf[nc - 2], sizeof hbuf[0], "delta %s [CI]", run_label(r, lab, sizeof lab));
            heads[nc] = hbuf[nc - 2];
            nc++;
        }
        int started = 0;
        for (size_t m = 0; m < nm; m++) {
            size_t ri = members[m];
            for (size_t k = 0; k < d->n_metrics[ri]; k++) {
                const bd_metric_row *mr = &d->metrics[ri][k];
                if (!*mr->grp) continue;
                /* print each (metric, group) once: at its first run */
                int seen = 0;
                for (size_t m2 = 0; m2 < m && !seen; m2++)
                    for (size_t k2 = 0; k2 < d->n_metrics[members[m2]] && !seen; k2++)
                        seen = !strcmp(d->metrics[members[m2]][k2].name, mr->name) &&
                               !strcmp(d->metrics[members[m2]][k2].grp, mr->grp);
                if (seen) continue;
                if (!started++) {
                    char title[600];
                    snprintf(title, sizeof title, "%s: %s (template %s)", r0->model, r0->bench, r0->template_mode);
                    heading(t, 3, title);
                    tbegin(t, heads, nc);
                    any = 1;
                }
                int c = 0;
                cells[c++] = mr->name;
                cells[c++] = mr->grp;
                int sig_any = 0;
                for (size_t m2 = 0; m2 < nm; m2++) {
                    size_t rj = members[m2];
                    snprintf(cbuf[c - 2], sizeof cbuf[0], "n/a");
                    for (size_t k2 = 0; k2 < d->n_metrics[rj]; k2++) {
                        const bd_metric_row *x = &d->metrics[rj][k2];
                        if (!strcmp(x->name, mr->name) && !strcmp(x->grp, mr->grp)) {
                            char v[32];
                            snprintf(cbuf[c - 2], sizeof cbuf[0], "%s (n %lld)", bd_fmt_num(v, sizeof v, x->value), x->n);
                        }
                    }
                    cells[c] = cbuf[c - 2];
                    c++;
                }
                for (size_t m2 = 0; m2 < nm; m2++) {
                    const bd_run_info *r = &d->runs[members[m2]];
                    if (!strcmp(r->accel, "none")) continue;
                    const bd_cmp_row *cr = find_cmp(&d->cmp, r->id, mr->name, mr->grp);
                    char dv[32], lo[32], hi[32];
                    if (!cr) snprintf(cbuf[c - 2], sizeof cbuf[0], "n/a");
                    else if (!cr->has_ci) snprintf(cbuf[c - 2], sizeof cbuf[0], "%s", bd_fmt_num(dv, sizeof dv, cr->delta));
                    else {
                        int s = is_sig(&d->cmp, cr);
                        sig_any |= s;
                        snprintf(cbuf[c - 2], sizeof cbuf[0], "%s [%s, %s]%s", bd_fmt_num(dv, sizeof dv, cr->delta),
                                 bd_fmt_num(lo, sizeof lo, cr->ci_low), bd_fmt_num(hi, sizeof hi, cr->ci_high), s ? " *" : "");
                    }
                    cells[c] = cbuf[c - 2];
                    c++;
                }
                trow(t, cells, sig_any ? "sig" : NULL);
            }
        }
        if (started) tend(t);
    }
    if (!any) para(t, "No per-group metrics stored (bias_type, target group, region, demographic attribute).");
    free(done); free(members); free(heads); free(hbuf); free(cbuf); free(cells);
    return 0;
}

static void flips_section(tw *t, const bd_report_data *d)
{
    const bd_comparison *c = &d->cmp;
    heading(t, 2, "Decision flips");
    int any = 0;
    for (size_t i = 0; i < c->n_pairs; i++) {
        const bd_cmp_pair *p = &c->pairs[i];
        if (!p->n_decisions) continue;
        any = 1;
        char title[700];
        snprintf(title, sizeof title, "%s, %s vs baseline, %s (template %s): %lld of %lld decisions flipped (%.1f%%)",
                 p->model, p->label, p->bench, p->template_mode, p->flips, p->n_decisions,
                 100.0 * (double)p->flips / (double)p->n_decisions);
        heading(t, 3, title);
        if (!p->n_ex) continue;
        static const char *const H[] = {"item", "baseline answer", "accelerated answer", "baseline output",
                                        "accelerated output"};
        tbegin(t, H, 5);
        for (int k = 0; k < p->n_ex; k++) {
            const bd_cmp_flip *f = &p->ex[k];
            const char *cells[] = {f->key, f->base_answer, f->answer, f->base_output, f->output};
            trow(t, cells, NULL);
        }
        tend(t);
    }
    if (!any) para(t, "No compared runs with parsed answers (decisions) yet.");
}

static const char CSS[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1600px}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "h3{font-size:1em}table{border-collapse:collapse;margin:.5em 0;font-size:.85em}"
    "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top;"
    "max-width:40em;overflow-wrap:anywhere}"
    "th{background:#f0f0f0}tr.sig td{background:#fff4cc;font-weight:bold}"
    ".meta{color:#555;font-size:.9em}svg.heatmap{border:1px solid #ddd;background:#fff}";

int bd_doc_write(FILE *f, const bd_report_data *d, int md, const char *svg_rel)
{
    tw t = {f, md, 0};
    if (!md) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<title>biasdrift report</title>\n<style>", f);
        fputs(CSS, f);
        fputs("</style>\n</head>\n<body>\n", f);
    }
    heading(&t, 1, "biasdrift report");
    char buf[1200];
    snprintf(buf, sizeof buf, "Database: %s. Written by biasdrift %s. How inference acceleration changes "
             "the bias metrics of each benchmark: value of the accelerated run, its baseline (accel none), "
             "and the paired difference with a bootstrap confidence interval.", d->db_path, BD_VERSION);
    para(&t, buf);
    runs_section(&t, d);
    metrics_section(&t, d);
    compare_section(&t, d);
    heading(&t, 2, "Heatmap of deltas");
    if (md) {
        fputs("![heatmap of metric deltas](", f);
        /* relative file name: escape the characters that end a link */
        for (const char *s = svg_rel; *s; s++) {
            if (*s == ' ') fputs("%20", f);
            else if (*s == '(' || *s == ')') fprintf(f, "%%%02X", *s);
            else fputc(*s, f);
        }
        fputs(")\n\n", f);
    } else {
        fputs("<figure>\n", f);
        int rc = bd_report_write_svg(f, d, 0);
        if (rc) return rc;
        fputs("</figure>\n", f);
    }
    int rc = breakdown_section(&t, d);
    if (rc) return rc;
    flips_section(&t, d);
    if (!md) fputs("</body>\n</html>\n", f);
    return ferror(f) ? BD_EIO : 0;
}
