/* bd_report_write: picks the writer, writes to a temporary file next to the
 * target and renames it into place, so a failed write never leaves half a
 * report under the requested name. CSV and JSON writers live here. */
#include "doc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../util/version.h"

static void csv_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.17g", v);
}

static int write_csv(FILE *f, const bd_report_data *d)
{
    fputs("kind,run_id,baseline_run_id,model,accel,compute,bench,template,metric,group,value,baseline,delta,"
          "ci_low,ci_high,p,n,flips,n_decisions\n", f);
    for (size_t i = 0; i < d->n_runs; i++) {
        const bd_run_info *r = &d->runs[i];
        for (size_t k = 0; k < d->n_metrics[i]; k++) {
            const bd_metric_row *m = &d->metrics[i][k];
            fprintf(f, "metric,%lld,,", r->id);
            const char *s[] = {r->model, r->accel, r->compute, r->bench, r->template_mode, m->name, m->grp};
            for (int j = 0; j < 7; j++) { bd_csv_field(f, s[j]); fputc(',', f); }
            csv_num(f, m->value);
            fprintf(f, ",,,,,,%lld,,\n", m->n);
        }
    }
    const bd_comparison *c = &d->cmp;
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        const bd_cmp_pair *p = &c->pairs[r->pair];
        fprintf(f, "comparison,%lld,%lld,", p->run_id, p->base_run_id);
        const char *s[] = {p->model, p->accel, p->compute, p->bench, p->template_mode, r->metric, r->grp};
        for (int j = 0; j < 7; j++) { bd_csv_field(f, s[j]); fputc(',', f); }
        double v[] = {r->value, r->baseline, r->delta, r->ci_low, r->ci_high, r->p};
        for (int j = 0; j < 6; j++) { csv_num(f, v[j]); fputc(',', f); }
        fprintf(f, "%lld,%lld,%lld\n", r->n, p->flips, p->n_decisions);
    }
    return ferror(f) ? BD_EIO : 0;
}

static json_object *jnum(double v) { return isfinite(v) ? json_object_new_double(v) : NULL; }

/* Embeds stored JSON text as JSON (it was validated on insert); text that
 * does not parse is kept as a string. */
static json_object *jraw(const char *s)
{
    json_object *o = json_tokener_parse(s ? s : "null");
    return o ? o : json_object_new_string(s ? s : "");
}

#define ADD(o, k, v) do { if (json_object_object_add((o), (k), (v))) goto oom; } while (0)

static int write_json(FILE *f, const bd_report_data *d, bd_err *err)
{
    json_object *root = json_object_new_object(), *runs = NULL, *flips = NULL, *um = NULL;
    if (!root) return bd_oom(err, "report JSON");
    ADD(root, "database", json_object_new_string(d->db_path));
    ADD(root, "biasdrift", json_object_new_string(BD_VERSION));
    json_object *bs = json_object_new_object();
    ADD(root, "bootstrap", bs);
    if (!bs) goto oom;
    ADD(bs, "n_boot", json_object_new_int(d->cmp.opts.n_boot));
    ADD(bs, "seed", json_object_new_uint64(d->cmp.opts.seed));
    ADD(bs, "level", json_object_new_double(d->cmp.opts.level));
    ADD(bs, "alpha", json_object_new_double(d->cmp.opts.alpha));
    runs = json_object_new_array();
    ADD(root, "runs", runs);
    if (!runs) goto oom;
    for (size_t i = 0; i < d->n_runs; i++) {
        const bd_run_info *r = &d->runs[i];
        json_object *o = json_object_new_object(), *ms;
        if (!o || json_object_array_add(runs, o)) { json_object_put(o); goto oom; }
        ADD(o, "id", json_object_new_int64(r->id));
        ADD(o, "model", json_object_new_string(r->model));
        ADD(o, "model_digest", json_object_new_string(r->model_digest));
        ADD(o, "accel", json_object_new_string(r->accel));
        ADD(o, "compute", json_object_new_string(r->compute));
        ADD(o, "bench", json_object_new_string(r->bench));
        ADD(o, "dataset_sha256", json_object_new_string(r->dataset_sha256));
        ADD(o, "template", json_object_new_string(r->template_mode));
        ADD(o, "decoding", jraw(r->decoding));
        ADD(o, "seed", json_object_new_int64(r->seed));
        ADD(o, "version", json_object_new_string(r->version));
        ADD(o, "status", json_object_new_string(r->status));
        ADD(o, "n_items", json_object_new_int64(r->n_items));
        ADD(o, "n_ok", json_object_new_int64(r->n_ok));
        ADD(o, "n_skipped", json_object_new_int64(r->n_skipped));
        ADD(o, "meta", jraw(r->meta));
        ms = json_object_new_array();
        ADD(o, "metrics", ms);
        if (!ms) goto oom;
        for (size_t k = 0; k < d->n_metrics[i]; k++) {
            const bd_metric_row *m = &d->metrics[i][k];
            json_object *mo = json_object_new_object();
            if (!mo || json_object_array_add(ms, mo)) { json_object_put(mo); goto oom; }
            ADD(mo, "name", json_object_new_string(m->name));
            ADD(mo, "group", json_object_new_string(m->grp));
            ADD(mo, "value", jnum(m->value));
            ADD(mo, "n", json_object_new_int64(m->n));
        }
    }
    json_object *cmp = bd_compare_json(&d->cmp);
    if (!cmp) goto oom;
    ADD(root, "comparisons", cmp);
    flips = json_object_new_array();
    ADD(root, "flips", flips);
    if (!flips) goto oom;
    for (size_t i = 0; i < d->cmp.n_pairs; i++) {
        const bd_cmp_pair *p = &d->cmp.pairs[i];
        json_object *o = json_object_new_object(), *ex;
        if (!o || json_object_array_add(flips, o)) { json_object_put(o); goto oom; }
        ADD(o, "run_id", json_object_new_int64(p->run_id));
        ADD(o, "baseline_run_id", json_object_new_int64(p->base_run_id));
        ADD(o, "model", json_object_new_string(p->model));
        ADD(o, "accel", json_object_new_string(p->accel));
        ADD(o, "bench", json_object_new_string(p->bench));
        ADD(o, "template", json_object_new_string(p->template_mode));
        ADD(o, "n_paired", json_object_new_int64(p->n_paired));
        ADD(o, "n_decisions", json_object_new_int64(p->n_decisions));
        ADD(o, "flips", json_object_new_int64(p->flips));
        ex = json_object_new_array();
        ADD(o, "examples", ex);
        if (!ex) goto oom;
        for (int k = 0; k < p->n_ex; k++) {
            json_object *e = json_object_new_object();
            if (!e || json_object_array_add(ex, e)) { json_object_put(e); goto oom; }
            ADD(e, "item", json_object_new_string(p->ex[k].key));
            ADD(e, "baseline_answer", json_object_new_string(p->ex[k].base_answer));
            ADD(e, "answer", json_object_new_string(p->ex[k].answer));
            ADD(e, "baseline_output", json_object_new_string(p->ex[k].base_output));
            ADD(e, "output", json_object_new_string(p->ex[k].output));
        }
    }
    um = json_object_new_array();
    ADD(root, "unmatched", um);
    if (!um) goto oom;
    for (size_t i = 0; i < d->cmp.n_unmatched; i++)
        if (json_object_array_add(um, json_object_new_string(d->cmp.unmatched[i]))) goto oom;
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s) goto oom;
    fputs(s, f);
    fputc('\n', f);
    json_object_put(root);
    return ferror(f) ? bd_fail(err, BD_EIO, "writing report JSON failed") : 0;
oom:
    json_object_put(root);
    return bd_oom(err, "report JSON");
}

/* "<out without .md>-heatmap.svg" */
static char *svg_path_of(const char *out)
{
    size_t n = strlen(out);
    if (n >= 3 && !strcmp(out + n - 3, ".md")) n -= 3;
    char *p = malloc(n + sizeof "-heatmap.svg");
    if (p) { memcpy(p, out, n); strcpy(p + n, "-heatmap.svg"); }
    return p;
}

static int write_any(FILE *f, const bd_report_data *d, int fmt, const char *aux, bd_err *err)
{
    int rc;
    switch (fmt) {
    case BD_REPORT_HTML: rc = bd_doc_write(f, d, 0, NULL); break;
    case BD_REPORT_MD: rc = bd_doc_write(f, d, 1, aux); break;
    case BD_REPORT_CSV: rc = write_csv(f, d); break;
    case BD_REPORT_JSON: return write_json(f, d, err);
    case -1: rc = bd_report_write_svg(f, d, 1); break;
    default: return bd_fail(err, BD_EINPUT, "unknown report format %d", fmt);
    }
    if (rc == BD_ENOMEM) return bd_oom(err, "report");
    return rc ? bd_fail(err, rc, "writing the report failed") : 0;
}

/* Writes path via path.tmp + rename. */
static int write_file(const char *path, const bd_report_data *d, int fmt, const char *aux, bd_err *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return bd_oom(err, "file name");
    snprintf(tmp, n + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        free(tmp);
        return bd_fail(err, BD_EINPUT, "%s: cannot create: %s", path, strerror(e));
    }
    int rc = write_any(f, d, fmt, aux, err);
    if (fclose(f) != 0 && !rc) rc = bd_fail(err, BD_EIO, "%s: write failed: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0) rc = bd_fail(err, BD_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) {
        unlink(tmp);
        if (err && !strstr(err->msg, path)) bd_wrap(err, "%s", path);
    }
    free(tmp);
    return rc;
}

int bd_report_write(const bd_report_data *d, int fmt, const char *out_path, bd_err *err)
{
    if (!out_path || !*out_path) return bd_fail(err, BD_EINPUT, "no output file given (-o FILE)");
    if (fmt != BD_REPORT_MD) return write_file(out_path, d, fmt, NULL, err);
    char *svg = svg_path_of(out_path);
    if (!svg) return bd_oom(err, "file name");
    const char *rel = strrchr(svg, '/');
    rel = rel ? rel + 1 : svg;
    int rc = write_file(svg, d, -1, NULL, err);
    if (!rc) rc = write_file(out_path, d, BD_REPORT_MD, rel, err);
    free(svg);
    return rc;
}
