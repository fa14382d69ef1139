/* Loads what a report shows, and the small formatting helpers the writers share. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int bd_report_format_parse(const char *s, int *fmt, bd_err *err)
{
    static const char *const names[] = {"html", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i])) { *fmt = i; return 0; }
    return bd_fail(err, BD_EINPUT, "--format: expected html, md, csv or json, got '%s'", s ? s : "");
}

void bd_report_data_free(bd_report_data *d)
{
    if (d->metrics)
        for (size_t i = 0; i < d->n_runs; i++) bd_store_metrics_free(d->metrics[i], d->n_metrics[i]);
    free(d->metrics);
    free(d->n_metrics);
    bd_store_runs_free(d->runs, d->n_runs);
    bd_comparison_free(&d->cmp);
    free(d->db_path);
    memset(d, 0, sizeof *d);
}

int bd_report_load(bd_store *db, const bd_cmp_opts *o, bd_report_data *d, bd_err *err)
{
    memset(d, 0, sizeof *d);
    d->db_path = strdup(bd_store_path(db));
    if (!d->db_path) return bd_oom(err, "database path");
    int rc = bd_store_runs(db, &d->runs, &d->n_runs, err);
    if (rc) return rc;
    d->metrics = calloc(d->n_runs + 1, sizeof *d->metrics);
    d->n_metrics = calloc(d->n_runs + 1, sizeof *d->n_metrics);
    if (!d->metrics || !d->n_metrics) { bd_report_data_free(d); return bd_oom(err, "report metrics"); }
    for (size_t i = 0; i < d->n_runs; i++)
        if ((rc = bd_store_metrics(db, d->runs[i].id, &d->metrics[i], &d->n_metrics[i], err))) {
            bd_report_data_free(d);
            return rc;
        }
    if ((rc = bd_compare(db, o, &d->cmp, err))) { bd_report_data_free(d); return rc; }
    return 0;
}

void bd_html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            /* other control characters are not allowed in HTML text */
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputs("&#xFFFD;", f);
            else fputc(*s, f);
        }
    }
}

void bd_md_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '\n': case '\r': case '\t': fputc(' ', f); break;
        case '|': case '\\': case '*': case '_': case '`': case '[': case ']': case '#':
            fputc('\\', f);
            fputc(*s, f);
            break;
        default:
            if ((unsigned char)*s >= 0x20) fputc(*s, f);
        }
    }
}

void bd_csv_field(FILE *f, const char *s)
{
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

const char *bd_fmt_num(char *buf, size_t n, double v)
{
    if (!isfinite(v)) snprintf(buf, n, "n/a");
    else snprintf(buf, n, "%.4g", v);
    return buf;
}
