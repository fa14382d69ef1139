#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

typedef struct buf { char *p; size_t n, cap; } buf;

static int buf_put(buf *b, char ch)
{
    if (b->n + 1 >= b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    b->p[b->n++] = ch;
    b->p[b->n] = 0;
    return 0;
}

typedef struct row { char **cell; size_t n, cap; } row;

static int row_push(row *r, buf *cell)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        char **np = realloc(r->cell, nc * sizeof *np);
        if (!np) return -1;
        r->cell = np;
        r->cap = nc;
    }
    char *s = cell->p ? cell->p : strdup("");
    if (!s) return -1;
    r->cell[r->n++] = s;
    cell->p = NULL;
    cell->n = cell->cap = 0;
    return 0;
}

static void row_free(row *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->cell[i]);
    free(r->cell);
    r->cell = NULL;
    r->n = r->cap = 0;
}

void bd_csv_free(bd_csv *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_rows; i++) {
        for (size_t j = 0; j < c->n_cols; j++) free(c->rows[i][j]);
        free(c->rows[i]);
    }
    free(c->rows);
    if (c->header) for (size_t j = 0; j < c->n_cols; j++) free(c->header[j]);
    free(c->header);
    free(c->line);
    free(c->path);
    free(c);
}

/* Appends a finished record: the first becomes the header; later ones are
 * padded to the header width. A fully empty line (one empty cell) is kept as
 * an empty row, as pandas' skip_blank_lines would drop it: callers see it as
 * all-"" cells and skip it. */
static int add_record(bd_csv *c, row *r, size_t line, const char *name, bd_err *err)
{
    if (!c->header) {
        c->header = r->cell;
        c->n_cols = r->n;
        r->cell = NULL;
        r->n = r->cap = 0;
        return 0;
    }
    if (r->n == 1 && r->cell[0][0] == 0 && c->n_cols > 1) { row_free(r); return 0; }
    if (r->n > c->n_cols) {
        size_t got = r->n;
        row_free(r);
        return bd_fail(err, BD_EINPUT, "%s: line %zu: %zu cells, the header has %zu",
                       name, line, got, c->n_cols);
    }
    char **cells = calloc(c->n_cols ? c->n_cols : 1, sizeof *cells);
    if (!cells) { row_free(r); return bd_oom(err, "csv row"); }
    for (size_t j = 0; j < c->n_cols; j++) {
        cells[j] = j < r->n ? r->cell[j] : strdup("");
        if (!cells[j]) {
            for (size_t k = 0; k < j; k++) free(cells[k]);
            for (size_t k = j + 1; k < r->n; k++) free(r->cell[k]);
            free(cells);
            free(r->cell);
            r->cell = NULL; r->n = r->cap = 0;
            return bd_oom(err, "csv cell");
        }
    }
    free(r->cell);
    r->cell = NULL;
    r->n = r->cap = 0;
    if ((c->n_rows & (c->n_rows - 1)) == 0) { /* grow at powers of two */
        size_t nc = c->n_rows ? c->n_rows * 2 : 1;
        char ***nr = realloc(c->rows, nc * sizeof *nr);
        size_t *nl = nr ? realloc(c->line, nc * sizeof *nl) : NULL;
        if (nr) c->rows = nr;
        if (!nr || !nl) {
            for (size_t j = 0; j < c->n_cols; j++) free(cells[j]);
            free(cells);
            return bd_oom(err, "csv rows");
        }
        c->line = nl;
    }
    c->rows[c->n_rows] = cells;
    c->line[c->n_rows] = line;
    c->n_rows++;
    return 0;
}

int bd_csv_parse(const char *s, size_t len, const char *name, bd_csv **out, bd_err *err)
{
    *out = NULL;
    bd_csv *c = calloc(1, sizeof *c);
    if (!c) return bd_oom(err, "csv");
    c->path = strdup(name);
    if (!c->path) { free(c); return bd_oom(err, "csv"); }
    size_t i = 0;
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF)
        i = 3;
    buf cell = {0};
    row r = {0};
    size_t line = 1, rec_line = 1;
    int rc = 0, in_rec = 0;
    while (i < len) {
        char ch = s[i];
        if (ch == '"' && cell.n == 0 && !cell.p) {
            /* quoted field */
            size_t qline = line;
            i++;
            if (buf_put(&cell, 0) < 0) { rc = bd_oom(err, "csv"); goto fail; }
            cell.n = 0;
            for (;;) {
                if (i >= len) {
                    rc = bd_fail(err, BD_EINPUT, "%s: line %zu: quoted field never closed", name, qline);
                    goto fail;
                }
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        if (buf_put(&cell, '"') < 0) { rc = bd_oom(err, "csv"); goto fail; }
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (s[i] == '\n') line++;
                if (buf_put(&cell, s[i]) < 0) { rc = bd_oom(err, "csv"); goto fail; }
                i++;
            }
            in_rec = 1;
            if (i < len && s[i] != ',' && s[i] != '\n' && !(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') &&
                !(s[i] == '\r' && i + 1 == len)) {
                rc = bd_fail(err, BD_EINPUT, "%s: line %zu: unexpected character after a closing quote", name, line);
                goto fail;
            }
            continue;
        }
        if (ch == ',') {
            if (row_push(&r, &cell) < 0) { rc = bd_oom(err, "csv"); goto fail; }
            in_rec = 1;
            i++;
            continue;
        }
        if (ch == '\n' || (ch == '\r' && (i + 1 == len || s[i + 1] == '\n'))) {
            i += (ch == '\r' && i + 1 < len) ? 2 : 1;
            if (row_push(&r, &cell) < 0) { rc = bd_oom(err, "csv"); goto fail; }
            if ((rc = add_record(c, &r, rec_line, name, err))) goto fail;
            line++;
            rec_line = line;
            in_rec = 0;
            continue;
        }
        if (buf_put(&cell, ch) < 0) { rc = bd_oom(err, "csv"); goto fail; }
        in_rec = 1;
        i++;
    }
    if (in_rec || cell.p) {
        if (row_push(&r, &cell) < 0) { rc = bd_oom(err, "csv"); goto fail; }
        if ((rc = add_record(c, &r, rec_line, name, err))) goto fail;
    }
    if (!c->header) { rc = bd_fail(err, BD_EINPUT, "%s: empty file (no header line)", name); goto fail; }
    *out = c;
    return 0;
fail:
    free(cell.p);
    row_free(&r);
    bd_csv_free(c);
    return rc;
}

int bd_csv_read(const char *path, bd_csv **out, bd_err *err)
{
    char *data;
    size_t n;
    int rc = bd_file_read(path, &data, &n, err);
    if (rc) return rc;
    rc = bd_csv_parse(data, n, path, out, err);
    free(data);
    return rc;
}

int bd_csv_col(const bd_csv *c, const char *name)
{
    for (size_t j = 0; j < c->n_cols; j++)
        if (!strcmp(c->header[j], name)) return (int)j;
    return -1;
}

int bd_csv_need(const bd_csv *c, const char *name, int *col, bd_err *err)
{
    *col = bd_csv_col(c, name);
    if (*col < 0) return bd_fail(err, BD_EINPUT, "%s: line 1: missing column '%s'", c->path, name);
    return 0;
}
