/* Reports over a results database: the compare table/JSON printed by
 * `biasdrift compare`, and the HTML / Markdown / CSV / JSON report written by
 * `biasdrift report`. Output depends only on the database contents and the
 * bootstrap options (no timestamps), so the same db gives the same bytes. */
#ifndef BD_REPORT_H
#define BD_REPORT_H

#include <stdio.h>

#include "../store/store.h"
#include "compare.h"

enum { BD_REPORT_HTML, BD_REPORT_MD, BD_REPORT_CSV, BD_REPORT_JSON };

/* "html", "md", "csv", "json" -> BD_REPORT_*; BD_EINPUT otherwise. */
int bd_report_format_parse(const char *s, int *fmt, bd_err *err);

/* Everything a report shows, read once from the database. */
typedef struct bd_report_data {
    char *db_path;               /* a copy: the data outlives the store handle */
    bd_run_info *runs;
    size_t n_runs;
    bd_metric_row **metrics;     /* per run */
    size_t *n_metrics;
    bd_comparison cmp;
} bd_report_data;

int bd_report_load(bd_store *db, const bd_cmp_opts *o, bd_report_data *d, bd_err *err);
void bd_report_data_free(bd_report_data *d);

/* `biasdrift compare` output. */
int bd_compare_write_table(FILE *f, const bd_comparison *c);
int bd_compare_write_json(FILE *f, const bd_comparison *c, bd_err *err);
/* The JSON list --json prints (a json-c array; NULL on OOM). */
struct json_object *bd_compare_json(const bd_comparison *c);

/* The heatmap of deltas (rows: model/strategy/template, columns: overall
 * metrics). standalone: a file of its own (with xmlns), else inline in HTML. */
int bd_report_write_svg(FILE *f, const bd_report_data *d, int standalone);

/* Writes the report to out_path. For Markdown the heatmap goes next to it as
 * <out_path without .md>-heatmap.svg, linked relatively. */
int bd_report_write(const bd_report_data *d, int fmt, const char *out_path, bd_err *err);

/* Escapers shared by the writers. */
void bd_html_esc(FILE *f, const char *s);
void bd_md_esc(FILE *f, const char *s);
void bd_csv_field(FILE *f, const char *s);
/* "%.4g", or "n/a" for NaN/inf. */
const char *bd_fmt_num(char *buf, size_t n, double v);

#endif
