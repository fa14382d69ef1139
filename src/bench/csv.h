/* RFC-4180 CSV reader for the published benchmark files: comma separator,
 * '"' quoting with "" escapes, newlines inside quoted fields, optional UTF-8
 * BOM, LF or CRLF line ends. The whole table is held in memory. */
#ifndef BD_BENCH_CSV_H
#define BD_BENCH_CSV_H

#include <stddef.h>

#include "../util/err.h"

typedef struct bd_csv {
    size_t n_rows;      /* data rows (header excluded) */
    size_t n_cols;      /* header cells */
    char **header;      /* n_cols */
    char ***rows;       /* n_rows x n_cols; short rows padded with "" */
    size_t *line;       /* 1-based file line where each data row starts */
    char *path;
} bd_csv;

/* Parses a file. Errors name the file and line (unterminated quote, a row
 * with more cells than the header, stray text after a closing quote). */
int bd_csv_read(const char *path, bd_csv **out, bd_err *err);
int bd_csv_parse(const char *buf, size_t len, const char *name, bd_csv **out, bd_err *err);
void bd_csv_free(bd_csv *c);
/* Index of a header cell, -1 if absent. */
int bd_csv_col(const bd_csv *c, const char *name);
/* Like bd_csv_col but fails naming the file and the missing column. */
int bd_csv_need(const bd_csv *c, const char *name, int *col, bd_err *err);

#endif
