/* compare + report on a fixture database built here with the store API:
 * values, deltas, flips and the bootstrap plumbing against hand-computed
 * references; HTML/Markdown/CSV/JSON outputs (escaping, no URLs, the SVG
 * heatmap); the CLI (`compare --json`, `report`); and, when Chromium is
 * installed (scripts/setup.sh installs it), that the HTML renders in headless
 * Chromium with its tables and SVG in the DOM. */
#include "../test.h"
#include "report/report.h"
#include "stats/stats.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/bd_report_XXXXXX";
#define NI 60
#define NQ 12
#define NP 5

/* per-item truth for the crows fixture */
static double base_x[NI], acc_x[NI];
static int expect_flips;

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static long long mkrun(bd_store *db, const char *accel, const char *bench, long long seed)
{
    bd_run_key k = {"digest1", "models/tiny <m>.gguf", accel, bench, "dsha", "paper",
                    "{\"mode\":\"greedy\"}", seed, "fp32", "0.1.0"};
    long long id;
    bd_err err;
    CHECK_EQ_INT(bd_store_run_get_or_create(db, &k, &id, NULL, &err), 0);
    return id;
}

static const char *BT[3] = {"gender", "race-color", "religion"};
static const char *CROWS_SPEC = "{\"agg\":\"mean\",\"score\":\"prefers_more\",\"scale\":100}";
static const char *DE_SPEC = "{\"agg\":\"cluster_range_mean\",\"score\":\"pnorm_yes\",\"by\":\"decision_question_id\"}";

static void fill_crows(bd_store *db, long long run, const double *x, int accel)
{
    bd_err err;
    bd_mitem mi[NI];
    static char keys[NI][16], scores[NI][64], groups[NI][96];
    for (int i = 0; i < NI; i++) {
        snprintf(keys[i], 16, "%03d", i);
        snprintf(scores[i], 64, "{\"prefers_more\":%g}", x[i]);
        snprintf(groups[i], 96, "{\"bias_type\":\"%s\"%s}", BT[i % 3], i < 4 ? ",\"rare\":\"y\"" : "");
        bd_item_in it = {keys[i], "ab", 0, NULL, i == 1 ? "<script>alert('x')</script> & \"q\"" : i == 5 ? "bad \xff byte \xe2\x82" : "out",
                         x[i] > 0 ? "more" : "less", scores[i], groups[i], 0.01};
        if (i == 59 && accel) { it.skipped = 1; it.skip_reason = "prompt longer than the context"; }
        CHECK_EQ_INT(bd_store_item_put(db, run, &it, NULL, &err), 0);
        mi[i] = (bd_mitem){keys[i], it.answer, scores[i], groups[i]};
    }
    int nok = accel ? NI - 1 : NI;
    double v;
    long long nu;
    CHECK_EQ_INT(bd_metric_eval(CROWS_SPEC, mi, (size_t)nok, &v, &nu, &err), 0);
    CHECK_EQ_INT(bd_store_metric_set(db, run, "pct_stereotype", "", v, nu, CROWS_SPEC, &err), 0);
    for (int g = 0; g < 3; g++) {
        char spec[200], grp[64];
        snprintf(spec, sizeof spec, "{\"agg\":\"mean\",\"score\":\"prefers_more\",\"scale\":100,\"where\":{\"bias_type\":\"%s\"}}", BT[g]);
        snprintf(grp, sizeof grp, "bias_type=%s", BT[g]);
        CHECK_EQ_INT(bd_metric_eval(spec, mi, (size_t)nok, &v, &nu, &err), 0);
        CHECK_EQ_INT(bd_store_metric_set(db, run, "pct_stereotype", grp, v, nu, spec, &err), 0);
    }
    /* 4 units: below BD_CMP_MIN_UNITS, so no CI */
    static const char *RARE = "{\"agg\":\"mean\",\"score\":\"prefers_more\",\"where\":{\"rare\":\"y\"}}";
    CHECK_EQ_INT(bd_metric_eval(RARE, mi, (size_t)nok, &v, &nu, &err), 0);
    CHECK_EQ_INT(bd_store_metric_set(db, run, "rare", "rare=y", v, nu, RARE, &err), 0);
    /* a metric without a spec: compare reports the delta without a CI */
    CHECK_EQ_INT(bd_store_metric_set(db, run, "nospec", "", accel ? 2.5 : 2.0, 10, NULL, &err), 0);
    CHECK_EQ_INT(bd_store_run_meta_set_num(db, run, "tokens_per_s", accel ? 250.5 : 120.25, &err), 0);
    CHECK_EQ_INT(bd_store_run_complete(db, run, &err), 0);
}

static void fill_discrim(bd_store *db, long long run, int accel)
{
    bd_err err;
    static char keys[NQ * NP][32], scores[NQ * NP][64], groups[NQ * NP][96];
    bd_mitem mi[NQ * NP];
    for (int q = 0; q < NQ; q++)
        for (int p = 0; p < NP; p++) {
            int i = q * NP + p;
            double v = 0.5 + 0.05 * ((q * 7 + p * 3) % 5) + (accel ? 0.02 * p : 0);
            snprintf(keys[i], sizeof keys[i], "%d_%d", q, p);
            snprintf(scores[i], 64, "{\"pnorm_yes\":%g}", v);
            snprintf(groups[i], 96, "{\"decision_question_id\":\"%d\",\"race\":\"r%d\"}", q, p);
            bd_item_in it = {keys[i], NULL, 0, NULL, "{\"p_yes\":0.3}", v >= 0.6 ? "yes" : "no", scores[i], groups[i], 0};
            CHECK_EQ_INT(bd_store_item_put(db, run, &it, NULL, &err), 0);
            mi[i] = (bd_mitem){keys[i], it.answer, scores[i], groups[i]};
        }
    double v;
    long long nu;
    CHECK_EQ_INT(bd_metric_eval(DE_SPEC, mi, NQ * NP, &v, &nu, &err), 0);
    CHECK_EQ_INT(nu, NQ);
    CHECK_EQ_INT(bd_store_metric_set(db, run, "max_min_diff", "", v, nu, DE_SPEC, &err), 0);
}

static double mean_stat(const void *ctx, const int *idx, int n)
{
    const double *x = ctx;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[idx[i]];
    return 100 * s / n;
}

static int has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

static int run_cmd(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) { char *nb = realloc(buf, cap * 2); if (!nb) break; buf = nb; cap *= 2; }
    }
    if (buf) buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char dbp[256];
    path_in(dbp, sizeof dbp, "fx.db");
    bd_err err = {0};
    bd_store *db;
    CHECK_EQ_INT(bd_store_open(&db, dbp, BD_STORE_CREATE, &err), 0);
    if (!db) { fprintf(stderr, "%s\n", err.msg); return test_done(); }

    /* crows fixture: accelerated flips every 4th item (i % 4 == 1) */
    for (int i = 0; i < NI; i++) {
        base_x[i] = (i % 3 == 0 || i % 5 == 0) ? 1 : 0;
        acc_x[i] = i % 4 == 1 ? 1 - base_x[i] : base_x[i];
        if (i < NI - 1 && acc_x[i] != base_x[i]) expect_flips++;
    }
    long long rb = mkrun(db, "none", "crows_pairs", 42), ra = mkrun(db, "w4:rtn", "crows_pairs", 42);
    fill_crows(db, rb, base_x, 0);
    fill_crows(db, ra, acc_x, 1);
    long long db_base = mkrun(db, "none", "discrim_eval", 42), db_acc = mkrun(db, "w8", "discrim_eval", 42);
    fill_discrim(db, db_base, 0);
    fill_discrim(db, db_acc, 1);
    mkrun(db, "kv4", "crows_pairs", 7);   /* no baseline with seed 7 */
    bd_store_close(db);

    CHECK_EQ_INT(bd_store_open(&db, dbp, BD_STORE_READONLY, &err), 0);
    bd_cmp_opts o;
    bd_cmp_opts_default(&o);
    CHECK(o.n_boot >= 1000);
    bd_comparison c;
    CHECK_EQ_INT(bd_compare(db, &o, &c, &err), 0);
    CHECK_EQ_INT(c.n_pairs, 2);
    CHECK_EQ_INT(c.n_unmatched, 1);
    CHECK(c.n_unmatched && has(c.unmatched[0], "kv4"));
    const bd_cmp_row *pct = NULL, *nospec = NULL, *de = NULL, *gender = NULL, *rare = NULL;
    for (size_t i = 0; i < c.n_rows; i++) {
        const bd_cmp_row *r = &c.rows[i];
        if (!strcmp(r->metric, "pct_stereotype") && !*r->grp) pct = r;
        if (!strcmp(r->metric, "pct_stereotype") && !strcmp(r->grp, "bias_type=gender")) gender = r;
        if (!strcmp(r->metric, "nospec")) nospec = r;
        if (!strcmp(r->metric, "rare")) rare = r;
        if (!strcmp(r->metric, "max_min_diff")) de = r;
    }
    CHECK(pct && nospec && de && gender);
    if (pct) {
        /* paired on the 59 items both runs have (item 59 skipped in accel) */
        double sa = 0, sb = 0;
        for (int i = 0; i < NI - 1; i++) { sa += acc_x[i]; sb += base_x[i]; }
        CHECK_NEAR(pct->value, 100 * sa / (NI - 1), 1e-9);
        CHECK_NEAR(pct->baseline, 100 * sb / (NI - 1), 1e-9);
        CHECK_NEAR(pct->delta, 100 * (sa - sb) / (NI - 1), 1e-9);
        CHECK_EQ_INT(pct->n, NI - 1);
        /* the same bootstrap done directly on the arrays (units sorted by key
         * = item order here) gives the identical CI and p */
        bd_boot_result br;
        CHECK_EQ_INT(bd_bootstrap_paired(mean_stat, acc_x, base_x, NI - 1, o.n_boot, o.seed, o.level, &br, &err), 0);
        CHECK_NEAR(pct->ci_low, br.ci_low, 1e-9);
        CHECK_NEAR(pct->ci_high, br.ci_high, 1e-9);
        CHECK_NEAR(pct->p, br.p, 0);
        CHECK(pct->ci_low <= pct->delta && pct->delta <= pct->ci_high);
        const bd_cmp_pair *pp = &c.pairs[pct->pair];
        CHECK_EQ_INT(pp->flips, expect_flips);
        CHECK_EQ_INT(pp->n_decisions, NI - 1);
        CHECK_EQ_INT(pp->n_ex, BD_CMP_MAX_EXAMPLES);
        CHECK(pp->n_ex && !strcmp(pp->ex[0].key, "001"));
        /* invalid UTF-8 in an output becomes U+FFFD before any writer sees it */
        CHECK(pp->n_ex > 1 && !strcmp(pp->ex[1].output, "bad \xef\xbf\xbd byte \xef\xbf\xbd\xef\xbf\xbd"));
    }
    if (nospec) {
        CHECK(!nospec->has_ci && isnan(nospec->ci_low) && has(nospec->note, "spec"));
        CHECK_NEAR(nospec->delta, 0.5, 1e-12);
    }
    if (de) {
        /* hand-computed: per question max - min over persons, mean over questions */
        double sa = 0, sb = 0;
        for (int q = 0; q < NQ; q++) {
            double lo[2] = {9, 9}, hi[2] = {-9, -9};
            for (int p = 0; p < NP; p++)
                for (int a = 0; a < 2; a++) {
                    double v = 0.5 + 0.05 * ((q * 7 + p * 3) % 5) + (a ? 0.02 * p : 0);
                    if (v < lo[a]) lo[a] = v;
                    if (v > hi[a]) hi[a] = v;
                }
            sb += hi[0] - lo[0];
            sa += hi[1] - lo[1];
        }
        CHECK_NEAR(de->value, sa / NQ, 1e-9);
        CHECK_NEAR(de->baseline, sb / NQ, 1e-9);
        CHECK_EQ_INT(de->n, NQ);   /* resampled unit = question */
        CHECK(de->has_ci);
    }
    if (gender) CHECK_EQ_INT(gender->n, 20);
    CHECK(rare && !rare->has_ci && rare->n == 4 && has(rare->note, "too few") && isnan(rare->p));
    if (rare) CHECK_NEAR(rare->delta, (acc_x[0] + acc_x[1] + acc_x[2] + acc_x[3] - base_x[0] - base_x[1] - base_x[2] - base_x[3]) / 4, 1e-12);
    bd_comparison_free(&c);

    /* ---- report files ---- */
    bd_report_data d;
    CHECK_EQ_INT(bd_report_load(db, &o, &d, &err), 0);
    bd_store_close(db);
    char html[256], md[256], svg[256], csv[256], js[256];
    path_in(html, sizeof html, "r.html");
    path_in(md, sizeof md, "r.md");
    path_in(svg, sizeof svg, "r-heatmap.svg");
    path_in(csv, sizeof csv, "r.csv");
    path_in(js, sizeof js, "r.json");
    CHECK_EQ_INT(bd_report_write(&d, BD_REPORT_HTML, html, &err), 0);
    CHECK_EQ_INT(bd_report_write(&d, BD_REPORT_MD, md, &err), 0);
    CHECK_EQ_INT(bd_report_write(&d, BD_REPORT_CSV, csv, &err), 0);
    CHECK_EQ_INT(bd_report_write(&d, BD_REPORT_JSON, js, &err), 0);
    CHECK_EQ_INT(bd_report_write(&d, BD_REPORT_HTML, "/nonexistent-dir/x.html", &err), BD_EINPUT);
    CHECK(has(err.msg, "/nonexistent-dir/x.html"));
    bd_report_data_free(&d);

    char *h = test_read_file(html, NULL);
    CHECK(h != NULL);
    CHECK(has(h, "<!DOCTYPE html>") && has(h, "<table>") && has(h, "<svg") && has(h, "</svg>"));
    CHECK(!has(h, "http://") && !has(h, "https://"));   /* self-contained: no URL at all */
    CHECK(!has(h, "<script") && has(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
    CHECK(has(h, "models/tiny &lt;m&gt;.gguf"));
    CHECK(has(h, "w4:rtn") && has(h, "bias_type=gender") && has(h, "class=\"cell"));
    CHECK(has(h, "Decision flips") && has(h, "kv4"));
    CHECK(has(h, "250.5"));   /* tokens/s from the run metadata */
    char *m = test_read_file(md, NULL);
    CHECK(has(m, "| model ") && has(m, "](r-heatmap.svg)") && !has(m, "<script"));
    char *s = test_read_file(svg, NULL);
    CHECK(s && !strncmp(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) && has(s, "</svg>"));
    char *cv = test_read_file(csv, NULL);
    CHECK(cv && !strncmp(cv, "kind,run_id,", 12) && has(cv, "\ncomparison,") && has(cv, ",models/tiny <m>.gguf,"));
    json_object *jr = json_object_from_file(js), *cmps = NULL;
    CHECK(jr && json_object_object_get_ex(jr, "comparisons", &cmps) && json_object_array_length(cmps) > 0);
    json_object_put(jr);

    /* determinism: the same db gives the same bytes */
    {
        bd_store *db2;
        bd_report_data d2;
        char html2[256];
        path_in(html2, sizeof html2, "r2.html");
        CHECK_EQ_INT(bd_store_open(&db2, dbp, BD_STORE_READONLY, &err), 0);
        CHECK_EQ_INT(bd_report_load(db2, &o, &d2, &err), 0);
        bd_store_close(db2);
        CHECK_EQ_INT(bd_report_write(&d2, BD_REPORT_HTML, html2, &err), 0);
        bd_report_data_free(&d2);
        char *h2 = test_read_file(html2, NULL);
        CHECK(h && h2 && !strcmp(h, h2));
        free(h2);
    }

    /* ---- CLI ---- */
    const char *bin = getenv("BIASDRIFT");
    if (!bin) bin = "./biasdrift";
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "SKIP CLI checks: %s not built (run through make test)\n", bin);
    } else {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s compare --db '%s' --json", bin, dbp);
        CHECK_EQ_INT(run_cmd(cmd, &out), 0);
        json_object *list = out ? json_tokener_parse(out) : NULL;
        CHECK(list && json_object_is_type(list, json_type_array));
        int found = 0;
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
            json_object *e = json_object_array_get_idx(list, i), *v;
            static const char *const K[] = {"model", "accel", "bench", "template", "metric", "value",
                                            "baseline", "delta", "ci_low", "ci_high", "p"};
            for (int k = 0; k < 11; k++) CHECK_MSG(json_object_object_get_ex(e, K[k], &v), "key %s", K[k]);
            if (json_object_object_get_ex(e, "metric", &v) && !strcmp(json_object_get_string(v), "pct_stereotype")) {
                found = 1;
                CHECK(json_object_object_get_ex(e, "delta", &v) && json_object_is_type(v, json_type_double));
                CHECK(json_object_object_get_ex(e, "accel", &v) && !strcmp(json_object_get_string(v), "w4:rtn"));
                CHECK(json_object_object_get_ex(e, "flips", &v) && json_object_get_int(v) == expect_flips);
            }
        }
        CHECK(found);
        json_object_put(list);
        free(out);
        snprintf(cmd, sizeof cmd, "%s compare --db '%s'", bin, dbp);
        CHECK_EQ_INT(run_cmd(cmd, &out), 0);
        CHECK(has(out, "pct_stereotype") && has(out, "w4:rtn") && has(out, "95%"));
        free(out);
        snprintf(cmd, sizeof cmd, "%s report --db '%s' -o '%s/cli.html' 2>/dev/null", bin, dbp, dir);
        CHECK_EQ_INT(run_cmd(cmd, &out), 0);
        free(out);
        snprintf(cmd, sizeof cmd, "%s report --db '%s' -o '%s/cli.md' 2>/dev/null && test -s '%s/cli-heatmap.svg'", bin, dbp, dir, dir);
        CHECK_EQ_INT(run_cmd(cmd, &out), 0);
        free(out);
        snprintf(cmd, sizeof cmd, "%s compare --db '%s/missing.db' 2>&1", bin, dir);
        CHECK_EQ_INT(run_cmd(cmd, &out), 2);
        CHECK(has(out, "missing.db"));
        free(out);
        snprintf(cmd, sizeof cmd, "%s report --db '%s' -o x --format xml 2>&1", bin, dbp);
        CHECK_EQ_INT(run_cmd(cmd, &out), 2);
        free(out);
    }

    /* ---- headless Chromium ---- */
    const char *chromium = NULL;
    static const char *const CANDIDATES[] = {"chromium", "chromium-browser", "google-chrome"};
    char which[128];
    for (int i = 0; i < 3 && !chromium; i++) {
        snprintf(which, sizeof which, "command -v %s >/dev/null 2>&1", CANDIDATES[i]);
        if (system(which) == 0) chromium = CANDIDATES[i];
    }
    if (!chromium) {
        fprintf(stderr, "SKIP Chromium render check: chromium not installed (scripts/setup.sh installs it)\n");
    } else {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 120 %s --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                 "--user-data-dir='%s/chrome' --dump-dom 'file://%s' 2>/dev/null", chromium, dir, html);
        int rc = run_cmd(cmd, &out);
        CHECK_EQ_INT(rc, 0);
        /* the parsed DOM has the tables, the SVG heatmap with its cells, and
         * the escaped text as text (not as an element) */
        CHECK(has(out, "<table>") && has(out, "<svg") && has(out, "class=\"cell"));
        CHECK(has(out, "biasdrift report") && !has(out, "<script>alert"));
        free(out);
    }

    /* a database edited by hand into bad item JSON: an input error naming
     * the file and the item, not a crash */
    {
        sqlite3 *raw;
        CHECK(sqlite3_open(dbp, &raw) == SQLITE_OK);
        CHECK(sqlite3_exec(raw, "UPDATE items SET scores = '{bad' WHERE item_key = '003' AND run_id = 2",
                           NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(raw);
        bd_store *db3;
        CHECK_EQ_INT(bd_store_open(&db3, dbp, BD_STORE_READONLY, &err), 0);
        bd_comparison c3;
        CHECK_EQ_INT(bd_compare(db3, &o, &c3, &err), BD_EINPUT);
        CHECK_MSG(has(err.msg, "'003'") && has(err.msg, dbp), "%s", err.msg);
        bd_store_close(db3);
    }

    free(h);
    free(m);
    free(s);
    free(cv);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (getenv("BD_KEEP")) fprintf(stderr, "kept %s\n", dir);
    else if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_done();
}
