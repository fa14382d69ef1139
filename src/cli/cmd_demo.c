/* biasdrift demo: every benchmark on a small shipped model, into demo.db and
 * demo-report.html, with a summary table. The model and the limits are
 * options so the demo can move to a larger model (issue 6). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../bench/runner.h"
#include "../report/report.h"

/* Defined in cmd_run.c: opens the model and runs the benchmarks. */
int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel, int threads,
                       const char *db_path, const bd_run_opts *ro, int print_summary);

#define DEMO_MODEL "../shared/models/stories260K/stories260K.bin"
#define DEMO_TOK "../shared/models/stories260K/tok512.bin"

int cmd_demo(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model (default " DEMO_MODEL ")", NULL},
        {"--tokenizer", NULL, 1, "tokenizer (default " DEMO_TOK " with the default model)", NULL},
        {"--data", NULL, 1, "dataset folder (default ../shared/datasets)", NULL},
        {"--limit", NULL, 1, "rows per benchmark, evenly spaced (default 50; 0 = all)", NULL},
        {"--samples", NULL, 1, "samples per prompt for dt_stereotyping:sampled (default 2)", NULL},
        {"--out-dir", "-o", 1, "where demo.db and demo-report.html go (default .)", NULL},
        {"--threads", "-t", 1, "threads (default all cores)", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n,
                           "usage: biasdrift demo [--model PATH] [--tokenizer PATH] [--data DIR] [--limit N]\n"
                           "                      [--samples N] [--out-dir DIR]\n\n"
                           "Runs every benchmark as the paper does on a small model, writes DIR/demo.db and\n"
                           "DIR/demo-report.html and prints the summary. Benchmarks whose data is missing, whose\n"
                           "prompts need a chat template the model lacks, or whose answer tokens the vocabulary\n"
                           "lacks are listed as skipped with the reason; rerunning resumes.");
    if (rc) return rc < 0 ? 0 : rc;
    const char *model = bd_opt_get(opts, n, "--model"), *tok = bd_opt_get(opts, n, "--tokenizer");
    if (!model) {
        model = DEMO_MODEL;
        if (!tok) tok = DEMO_TOK;
    }
    const char *data = bd_opt_get(opts, n, "--data"), *dir = bd_opt_get(opts, n, "--out-dir");
    if (!data) data = "../shared/datasets";
    if (!dir) dir = ".";
    long long limit = 50, samples = 2, threads = 0;
    if (bd_opt_int(opts, n, "--limit", 0, 1LL << 40, &limit) || bd_opt_int(opts, n, "--samples", 1, 1000, &samples) ||
        bd_opt_int(opts, n, "--threads", 0, 4096, &threads))
        return 2;
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "biasdrift demo: cannot create %s: %s\n", dir, strerror(errno));
        return 2;
    }
    char db[4096], html[4096];
    snprintf(db, sizeof db, "%s/demo.db", dir);
    snprintf(html, sizeof html, "%s/demo-report.html", dir);
    printf("biasdrift demo: model %s, data %s\n", model, data);
    if (limit) printf("limited to %lld rows per benchmark (evenly spaced; --limit 0 runs every row)", limit);
    else printf("every row of every benchmark");
    printf(", %lld samples per prompt for dt_stereotyping:sampled, template mode paper\n\n", samples);
    fflush(stdout);
    bd_run_opts ro = {"all", "paper", (int)samples, (long)limit, data, 0, 1, stderr};
    rc = bd_cli_run_benches(model, tok, "none", (int)threads, db, &ro, 1);
    if (rc) return rc;
    bd_err err = {0};
    bd_store *s;
    if ((rc = bd_store_open(&s, db, BD_STORE_READONLY, &err))) return bd_cli_report(&err);
    bd_cmp_opts co;
    bd_cmp_opts_default(&co);
    bd_report_data d;
    rc = bd_report_load(s, &co, &d, &err);
    bd_store_close(s);
    if (rc) return bd_cli_report(&err);
    rc = bd_report_write(&d, BD_REPORT_HTML, html, &err);
    bd_report_data_free(&d);
    if (rc) return bd_cli_report(&err);
    printf("\nwrote %s and %s\n", db, html);
    return 0;
}
