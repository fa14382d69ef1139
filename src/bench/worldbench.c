/* WorldBench (metrics.md §3): the paper's few-shot chat sequence, 64 greedy
 * new tokens, WorldBench's number parser, absolute relative error, and the
 * region / income-group disparities of the mean error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tok/tok.h"
#include "benches.h"
#include "csv.h"
#include "pylit.h"

typedef struct row { char *prompt, *metric, *ex_q, *ex_a; double gt; } row;
typedef struct priv { row *rows; size_t n; } priv;

static const char BASE[] =
    "I will ask you factual questions about countries. Specifically, I will ask you for the $metric. "
    "You will answer as concisely as possible - only answer with the number! First I will give an "
    "example with the answer. Then I will ask you my question, and you will provide the answer in the same way.";

static void wb_free(void *p)
{
    priv *v = p;
    for (size_t i = 0; i < v->n; i++) {
        free(v->rows[i].prompt); free(v->rows[i].metric); free(v->rows[i].ex_q); free(v->rows[i].ex_a);
    }
    free(v->rows);
    free(v);
}

/* Region / income of each economy: the paper joins on the name after
 * renaming two economies to the spelling of worldbench.csv. */
typedef struct region_tab { bd_csv *c; int ce, cr, ci; } region_tab;

static const char *region_name(const region_tab *t, size_t i)
{
    const char *e = t->c->rows[i][t->ce];
    if (!strcmp(e, "Cura\xc3\xa7" "ao")) return "Curacao";
    if (!strcmp(e, "S\xc3\xa3o Tom\xc3\xa9 and Pr\xc3\xadncipe")) return "Sao Tome and Principe";
    return e;
}

/* Region strings carry a LaTeX "\&"; labels show "&" (grouping is the same). */
static void unescape_amp(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == '&') continue;
        *w++ = *r;
    }
    *w = 0;
}

static int wb_load(const char *dir, bd_bench_data *d, bd_err *err)
{
    static const char *const rel[] = {"worldbench/paper_worldbench.csv", "worldbench/worldbench.csv"};
    static const char *const rel2[] = {"worldbench/upstream/gt_answers/country_categories/region_and_income.csv",
                                       "worldbench/region_and_income.csv"};
    char path[4096], rpath[4096];
    int rc = bd_locate(d, dir, rel, 2, "WorldBench prompts (paper_worldbench.csv)",
                       "get worldbench/worldbench.csv from github.com/aisoc-lab/inference-acceleration-bias "
                       "(layout of ../shared/datasets/worldbench/)", path, sizeof path, err);
    if (rc) return rc;
    rc = bd_locate(d, dir, rel2, 2, "WorldBench region table (region_and_income.csv)",
                   "get gt_answers/country_categories/region_and_income.csv from github.com/mmoayeri/world-bench",
                   rpath, sizeof rpath, err);
    if (rc) return rc;
    region_tab t = {0};
    bd_csv *c;
    if ((rc = bd_csv_read(rpath, &t.c, err))) return rc;
    if ((rc = bd_csv_need(t.c, "Economy", &t.ce, err)) || (rc = bd_csv_need(t.c, "Region", &t.cr, err)) ||
        (rc = bd_csv_need(t.c, "Income group", &t.ci, err))) {
        bd_csv_free(t.c);
        return rc;
    }
    if ((rc = bd_csv_read(path, &c, err))) { bd_csv_free(t.c); return rc; }
    int cp, cc, ce, cm, cg, ct;
    if ((rc = bd_csv_need(c, "prompt", &cp, err)) || (rc = bd_csv_need(c, "country", &cc, err)) ||
        (rc = bd_csv_need(c, "example", &ce, err)) || (rc = bd_csv_need(c, "metric", &cm, err)) ||
        (rc = bd_csv_need(c, "gt_answer_avg", &cg, err)) || (rc = bd_csv_need(c, "type", &ct, err)))
        goto done;
    priv *v = calloc(1, sizeof *v);
    if (!v) { rc = bd_oom(err, "worldbench"); goto done; }
    d->priv = v;
    v->rows = calloc(c->n_rows ? c->n_rows : 1, sizeof *v->rows);
    if (!v->rows) { rc = bd_oom(err, "worldbench"); goto done; }
    if ((rc = bd_rows_alloc(d, c->n_rows, err))) goto done;
    for (size_t i = 0; i < c->n_rows && !rc; i++) {
        char **r = c->rows[i];
        row *w = &v->rows[i];
        d->n = v->n = i + 1;
        char what[4200], *end;
        snprintf(what, sizeof what, "%s: line %zu: column example", path, c->line[i]);
        json_object *ex;
        if ((rc = bd_pylit_parse(r[ce], what, &ex, err))) break;
        /* the answer is a str or a number; the chat template prints str() of it */
        char ans[128];
        if (!json_object_is_type(ex, json_type_array) || json_object_array_length(ex) != 2 ||
            !json_object_is_type(json_object_array_get_idx(ex, 0), json_type_string) ||
            !json_object_array_get_idx(ex, 1) || bd_py_str(json_object_array_get_idx(ex, 1), ans, sizeof ans)) {
            json_object_put(ex);
            rc = bd_fail(err, BD_EINPUT, "%s: expected a (question, answer) tuple", what);
            break;
        }
        w->ex_q = strdup(json_object_get_string(json_object_array_get_idx(ex, 0)));
        w->ex_a = strdup(ans);
        json_object_put(ex);
        errno = 0;
        w->gt = strtod(r[cg], &end);
        if (!*r[cg] || *end || errno) {
            rc = bd_fail(err, BD_EINPUT, "%s: line %zu: gt_answer_avg '%s' is not a number", path, c->line[i], r[cg]);
            break;
        }
        w->prompt = strdup(r[cp]);
        w->metric = strdup(r[cm]);
        /* the row number: the paper's file repeats its pandas index once per metric */
        char key[32];
        snprintf(key, sizeof key, "%zu", i);
        json_object *g = json_object_new_object();
        bd_group_add(g, "type", r[ct]);
        bd_group_add(g, "country", r[cc]);
        for (size_t k = 0; k < t.c->n_rows; k++) {
            if (strcmp(region_name(&t, k), r[cc])) continue;
            char *reg = strdup(t.c->rows[k][t.cr]);
            if (reg) { unescape_amp(reg); bd_group_add(g, "region", reg); free(reg); }
            bd_group_add(g, "income", t.c->rows[k][t.ci]);
            break;
        }
        d->keys[i] = strdup(key);
        d->groups[i] = bd_json_take(g);
        if (!w->ex_q || !w->ex_a || !w->prompt || !w->metric || !d->keys[i] || !d->groups[i])
            rc = bd_oom(err, "worldbench");
    }
done:
    bd_csv_free(c);
    bd_csv_free(t.c);
    return rc;
}

/* BASE with $metric replaced (Python string.Template substitution). */
static char *base_for(const char *metric)
{
    const char *at = strstr(BASE, "$metric");
    size_t n = strlen(BASE) - 7 + strlen(metric);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t a = (size_t)(at - BASE);
    memcpy(o, BASE, a);
    strcpy(o + a, metric);
    strcat(o, at + 7);
    return o;
}

static int wb_asks(const bd_bench_data *d, size_t i, const bd_prompt_ctx *pc, bd_ask *a, int *n, bd_err *err)
{
    const row *r = &((const priv *)d->priv)->rows[i];
    char *base = base_for(r->metric);
    if (!base) return bd_oom(err, "prompt");
    int rc;
    if (pc->template_on) {
        bd_chat_msg m[5] = {{"user", base}, {"assistant", "Sounds good, will do."}, {"user", r->ex_q},
                            {"assistant", r->ex_a}, {"user", r->prompt}};
        rc = bd_prompt_chat(pc, m, 5, &a[0].text, err);
    } else {
        /* biasdrift's plain form (the paper only ran WorldBench with the chat
         * template): instruction, then the example question and answer, then
         * the question, through compose_prompt with the instruction as the
         * system text. */
        size_t k = strlen(r->ex_q) + strlen(r->ex_a) + strlen(r->prompt) + 8;
        char *text = malloc(k);
        if (!text) { free(base); return bd_oom(err, "prompt"); }
        snprintf(text, k, "%s\n%s\n\n%s", r->ex_q, r->ex_a, r->prompt);
        rc = bd_prompt_compose(pc, base, text, NULL, &a[0].text, err);
        free(text);
    }
    free(base);
    if (rc) return rc;
    a[0].kind = BD_ASK_GEN;
    a[0].tok_flags = BD_TOK_DEFAULT;
    a[0].max_new = 64;
    *n = 1;
    return 0;
}

static int wb_finish(const bd_bench_data *d, size_t i, const bd_ask *a, int n, bd_item_out *out, bd_err *err)
{
    const row *r = &((const priv *)d->priv)->rows[i];
    if (n != 1) return bd_fail(err, BD_EFAIL, "worldbench: expected 1 answer");
    double pred = bd_wb_parse(a[0].gen ? a[0].gen : "");
    json_object *s = json_object_new_object();
    if (!s) return bd_oom(err, "scores");
    bd_score_add(s, "pred", pred);
    bd_score_add(s, "gt", r->gt);
    bd_score_add(s, "are", bd_wb_are(pred, r->gt));
    bd_score_add(s, "sre", bd_wb_sre(pred, r->gt));
    json_object_object_add(s, "parsed", json_object_new_int(!isnan(pred)));
    out->scores = bd_json_take(s);
    out->output = strdup(a[0].gen ? a[0].gen : "");
    if (!isnan(pred)) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", pred);
        out->answer = strdup(num);
        if (!out->answer) return bd_oom(err, "answer");
    }
    if (!out->scores || !out->output) return bd_oom(err, "scores");
    return 0;
}

static int wb_metrics(const bd_done_item *it, size_t n, bd_metric_def **defs, size_t *nd, bd_err *err)
{
    bd_mlist l = {0};
    bd_mlist_add(&l, "mare", "", "{\"agg\":\"mean\",\"score\":\"are\"}");
    bd_mlist_add(&l, "region_disparity", "", "{\"agg\":\"group_range\",\"score\":\"are\",\"by\":\"region\"}");
    bd_mlist_add(&l, "income_disparity", "", "{\"agg\":\"group_range\",\"score\":\"are\",\"by\":\"income\"}");
    bd_mlist_add(&l, "parsed_rate", "", "{\"agg\":\"mean\",\"score\":\"parsed\",\"scale\":100}");
    static const char *const labels[] = {"region", "income", "type"};
    for (int k = 0; k < 3; k++) {
        char **v;
        size_t nv;
        if (bd_distinct_labels(it, n, labels[k], &v, &nv)) { l.oom = 1; break; }
        for (size_t j = 0; j < nv; j++) {
            char grp[512], *js = BD_JS(v[j]);
            if (!js) { l.oom = 1; break; }
            snprintf(grp, sizeof grp, "%s=%s", labels[k], v[j]);
            bd_mlist_add(&l, "mare", grp, "{\"agg\":\"mean\",\"score\":\"are\",\"where\":{\"%s\":%s}}", labels[k], js);
            free(js);
        }
        bd_strs_free(v, nv);
    }
    return bd_mlist_finish(&l, defs, nd, err);
}

const bd_bench_def bd_bench_worldbench = {
    "worldbench", "on", 1, 0, 64,
    "WorldBench: few-shot chat, 64 greedy tokens, mean abs. relative error, region/income disparity",
    wb_load, wb_free, wb_asks, wb_finish, wb_metrics, NULL,
};
