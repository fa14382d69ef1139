/* The SVG heatmap of metric deltas: one row per model x strategy x template,
 * one column per overall metric; colour = delta scaled per column, bold
 * border and "*" = significant. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LABEL_W = 300, COL_W = 150, ROW_H = 46, HEAD_H = 64, FOOT_H = 56 };

typedef struct axis { const char **a, **b, **c; size_t n; } axis;

static long axis_find(const axis *x, const char *a, const char *b, const char *c)
{
    for (size_t i = 0; i < x->n; i++)
        if (!strcmp(x->a[i], a) && !strcmp(x->b[i], b) && (!c || !strcmp(x->c[i], c))) return (long)i;
    return -1;
}

static void axis_add(axis *x, const char *a, const char *b, const char *c)
{
    if (axis_find(x, a, b, c) >= 0) return;
    x->a[x->n] = a;
    x->b[x->n] = b;
    if (x->c) x->c[x->n] = c;
    x->n++;
}

static void fill_of(double t, char *buf, size_t n)
{
    if (!isfinite(t)) { snprintf(buf, n, "#eeeeee"); return; }
    if (t > 1) t = 1;
    if (t < -1) t = -1;
    int k = (int)lround(170 * fabs(t));
    if (t >= 0) snprintf(buf, n, "rgb(255,%d,%d)", 255 - k, 255 - k);
    else snprintf(buf, n, "rgb(%d,%d,255)", 255 - k, 255 - k);
}

int bd_report_write_svg(FILE *f, const bd_report_data *d, int standalone)
{
    const bd_comparison *c = &d->cmp;
    size_t cap = c->n_rows + 1;
    axis rows = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(char *)), calloc(cap, sizeof(char *)), 0};
    axis cols = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(char *)), NULL, 0};
    double *maxabs = calloc(cap, sizeof *maxabs);
    if (!rows.a || !rows.b || !rows.c || !cols.a || !cols.b || !maxabs) {
        free(rows.a); free(rows.b); free(rows.c); free(cols.a); free(cols.b); free(maxabs);
        return BD_ENOMEM;
    }
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        if (*r->grp) continue;
        const bd_cmp_pair *p = &c->pairs[r->pair];
        axis_add(&rows, p->model, p->label, p->template_mode);
        axis_add(&cols, p->bench, r->metric, NULL);
        /* scale by the largest |delta| or CI bound in the column, so a change
         * inside a wide CI stays pale */
        long ci = axis_find(&cols, p->bench, r->metric, NULL);
        double ext[3] = {r->delta, r->ci_low, r->ci_high};
        for (int k = 0; k < 3; k++)
            if (isfinite(ext[k]) && fabs(ext[k]) > maxabs[ci]) maxabs[ci] = fabs(ext[k]);
    }
    int W = LABEL_W + COL_W * (int)(cols.n ? cols.n : 1) + 10;
    if (W < 860) W = 860;   /* room for the legend lines */
    int H = HEAD_H + ROW_H * (int)(rows.n ? rows.n : 1) + FOOT_H;
    /* inline in HTML the parser supplies the SVG namespace; only a standalone
     * file needs xmlns (the report itself must not contain any URL) */
    fprintf(f, "<svg%s width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"11\" role=\"img\" class=\"heatmap\">\n",
            standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", W, H, W, H);
    fprintf(f, "<title>Metric deltas: accelerated minus baseline</title>\n");
    if (!rows.n) {
        fprintf(f, "<text x=\"10\" y=\"30\" font-size=\"13\">No accelerated run with a matching baseline: "
                   "nothing to compare yet.</text>\n");
    }
    for (size_t j = 0; j < cols.n; j++) {
        int x = LABEL_W + COL_W * (int)j + COL_W / 2;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">", x, HEAD_H - 34);
        bd_html_esc(f, cols.a[j]);
        fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, HEAD_H - 18);
        bd_html_esc(f, cols.b[j]);
        fprintf(f, "</text>\n");
    }
    for (size_t i = 0; i < rows.n; i++) {
        int y = HEAD_H + ROW_H * (int)i;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + ROW_H / 2 - 2);
        bd_html_esc(f, rows.a[i]);
        fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-weight=\"bold\">", LABEL_W - 8, y + ROW_H / 2 + 12);
        bd_html_esc(f, rows.b[i]);
        fprintf(f, " (template ");
        bd_html_esc(f, rows.c[i]);
        fprintf(f, ")</text>\n");
        for (size_t j = 0; j < cols.n; j++) {
            const bd_cmp_row *cell = NULL;
            for (size_t k = 0; k < c->n_rows && !cell; k++) {
                const bd_cmp_row *r = &c->rows[k];
                const bd_cmp_pair *p = &c->pairs[r->pair];
                if (!*r->grp && !strcmp(p->model, rows.a[i]) && !strcmp(p->label, rows.b[i]) &&
                    !strcmp(p->template_mode, rows.c[i]) && !strcmp(p->bench, cols.a[j]) &&
                    !strcmp(r->metric, cols.b[j]))
                    cell = r;
            }
            int x = LABEL_W + COL_W * (int)j;
            if (!cell) {
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#ffffff\" stroke=\"#cccccc\"/>\n",
                        x + 1, y + 1, COL_W - 2, ROW_H - 2);
                continue;
            }
            char fill[40], dv[32], lo[32], hi[32], pv[32];
            fill_of(maxabs[j] > 0 ? cell->delta / maxabs[j] : 0, fill, sizeof fill);
            int sig = cell->has_ci && cell->p < c->opts.alpha && (cell->ci_low > 0 || cell->ci_high < 0);
            fprintf(f, "<g class=\"cell%s\"><title>delta %s, %g%% CI [%s, %s], p %s</title>", sig ? " sig" : "",
                    bd_fmt_num(dv, sizeof dv, cell->delta), 100 * c->opts.level,
                    bd_fmt_num(lo, sizeof lo, cell->ci_low), bd_fmt_num(hi, sizeof hi, cell->ci_high),
                    bd_fmt_num(pv, sizeof pv, cell->p));
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%d\"/>",
                    x + 2, y + 2, COL_W - 4, ROW_H - 4, fill, sig ? "#000000" : "#bbbbbb", sig ? 3 : 1);
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\"%s>%s%s%s</text>",
                    x + COL_W / 2, y + 20, sig ? " font-weight=\"bold\"" : "", isfinite(cell->delta) && cell->delta > 0 ? "+" : "",
                    dv, sig ? " *" : "");
            if (cell->has_ci)
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#333333\">[%s, %s]</text>",
                        x + COL_W / 2, y + 36, lo, hi);
            else
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">no CI</text>",
                        x + COL_W / 2, y + 36);
            fprintf(f, "</g>\n");
        }
    }
    int fy = HEAD_H + ROW_H * (int)(rows.n ? rows.n : 1) + 18;
    fprintf(f, "<text x=\"10\" y=\"%d\">Cell: accelerated minus baseline, with the %g%% paired bootstrap CI. "
               "Red = higher than baseline, blue = lower; colour scaled per column by its largest |delta| or CI bound.</text>\n",
            fy, 100 * c->opts.level);
    fprintf(f, "<text x=\"10\" y=\"%d\">Bold border and * = significant (p &lt; %g and the CI excludes 0).</text>\n",
            fy + 16, c->opts.alpha);
    fprintf(f, "</svg>\n");
    free(rows.a); free(rows.b); free(rows.c); free(cols.a); free(cols.b); free(maxabs);
    return ferror(f) ? BD_EIO : 0;
}
