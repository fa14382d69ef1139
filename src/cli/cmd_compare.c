/* biasdrift compare --db FILE [--json]: every accelerated run vs its baseline. */
#include <stdio.h>

#include "cli.h"
#include "../report/report.h"

int cmd_compare(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--db", NULL, 1, "results database (required)", NULL},
        {"--json", NULL, 0, "print a JSON list instead of the table", NULL},
        {"--boot", NULL, 1, "bootstrap resamples (default 1000, at least 1000)", NULL},
        {"--seed", NULL, 1, "bootstrap seed (default 20250401)", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n,
                           "usage: biasdrift compare --db FILE [--json] [--boot N] [--seed N]\n\n"
                           "For every model, benchmark, metric and template: each accelerated run vs its "
                           "baseline (accel none,\nsame model, benchmark, template, decoding, seed and "
                           "dataset): value, baseline, delta, 95% paired\nbootstrap CI, p-value, and "
                           "decision flips.");
    if (rc) return rc < 0 ? 0 : rc;
    const char *db_path = bd_opt_get(opts, n, "--db");
    if (!db_path) { fprintf(stderr, "biasdrift compare: --db FILE is required\n"); return 2; }
    bd_cmp_opts co;
    bd_cmp_opts_default(&co);
    long long boot = co.n_boot, seed = (long long)co.seed;
    if (bd_opt_int(opts, n, "--boot", 1000, 10000000, &boot) || bd_opt_int(opts, n, "--seed", 0, (long long)1 << 62, &seed))
        return 2;
    co.n_boot = (int)boot;
    co.seed = (uint64_t)seed;
    bd_err err = {0};
    bd_store *db;
    if ((rc = bd_store_open(&db, db_path, BD_STORE_READONLY, &err))) return bd_cli_report(&err);
    bd_comparison c;
    rc = bd_compare(db, &co, &c, &err);
    bd_store_close(db);
    if (rc) return bd_cli_report(&err);
    if (bd_opt_get(opts, n, "--json")) rc = bd_compare_write_json(stdout, &c, &err);
    else if ((rc = bd_compare_write_table(stdout, &c))) bd_fail(&err, rc, "writing the table failed");
    bd_comparison_free(&c);
    if (!rc && fflush(stdout) != 0) rc = bd_fail(&err, BD_EIO, "writing to stdout failed");
    return rc ? bd_cli_report(&err) : 0;
}
