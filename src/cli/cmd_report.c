/* biasdrift report --db FILE -o OUT [--format html|md|csv|json] */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../report/report.h"

int cmd_report(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--db", NULL, 1, "results database (required)", NULL},
        {"-o", "--output", 1, "output file (required)", NULL},
        {"--format", NULL, 1, "html, md, csv or json (default: from the -o extension, else html)", NULL},
        {"--boot", NULL, 1, "bootstrap resamples (default 1000, at least 1000)", NULL},
        {"--seed", NULL, 1, "bootstrap seed (default 20250401)", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n,
                           "usage: biasdrift report --db FILE -o report.html [--format html|md|csv|json]\n\n"
                           "Writes a self-contained report: runs, metric values, accelerated vs baseline "
                           "with confidence\nintervals, a heatmap of deltas, per-group breakdowns and "
                           "decision flips. Markdown puts the heatmap\nnext to the .md file as "
                           "<name>-heatmap.svg.");
    if (rc) return rc < 0 ? 0 : rc;
    const char *db_path = bd_opt_get(opts, n, "--db"), *out = bd_opt_get(opts, n, "-o");
    if (!db_path || !out) { fprintf(stderr, "biasdrift report: --db FILE and -o FILE are required\n"); return 2; }
    bd_err err = {0};
    int fmt = BD_REPORT_HTML;
    const char *fs = bd_opt_get(opts, n, "--format");
    if (!fs) {
        const char *dot = strrchr(out, '.');
        if (dot && (!strcmp(dot, ".md") || !strcmp(dot, ".csv") || !strcmp(dot, ".json"))) fs = dot + 1;
    }
    if (fs && (rc = bd_report_format_parse(fs, &fmt, &err))) return bd_cli_report(&err);
    bd_cmp_opts co;
    bd_cmp_opts_default(&co);
    long long boot = co.n_boot, seed = (long long)co.seed;
    if (bd_opt_int(opts, n, "--boot", 1000, 10000000, &boot) || bd_opt_int(opts, n, "--seed", 0, (long long)1 << 62, &seed))
        return 2;
    co.n_boot = (int)boot;
    co.seed = (uint64_t)seed;
    bd_store *db;
    if ((rc = bd_store_open(&db, db_path, BD_STORE_READONLY, &err))) return bd_cli_report(&err);
    bd_report_data d;
    rc = bd_report_load(db, &co, &d, &err);
    bd_store_close(db);
    if (rc) return bd_cli_report(&err);
    rc = bd_report_write(&d, fmt, out, &err);
    bd_report_data_free(&d);
    if (rc) return bd_cli_report(&err);
    fprintf(stderr, "biasdrift report: wrote %s\n", out);
    return 0;
}
