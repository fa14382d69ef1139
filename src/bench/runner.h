/* The runner: drives benchmarks through the engine into the results store.
 * For each (benchmark, template mode) it finds or creates the run (store.h
 * run key), skips the items the run already has (resume), asks the engine
 * what each item needs, stores every item in its own transaction (a SIGKILL
 * loses at most the item in flight), then computes the metrics from the
 * stored items with the specs compare will reuse. */
#ifndef BD_BENCH_RUNNER_H
#define BD_BENCH_RUNNER_H

#include <stdio.h>

#include "../engine/engine.h"
#include "../model/model.h"
#include "../store/store.h"
#include "../tok/tok.h"
#include "bench.h"

typedef struct bd_run_env {
    bd_model *model;
    bd_tok *tok;
    bd_engine *engine;
    const char *model_name;     /* as the user gave it (run key "model") */
    const char *model_digest;   /* sha256 hex of the weight file(s) */
    const char *accel;          /* "none" until accel lands */
    const char *compute;        /* "fp32" */
    const char *chat_template;  /* NULL: the model has none (template 'on' is skipped) */
    const char *bos_str, *eos_str;  /* for rendering the template ("" if unknown) */
} bd_run_env;

typedef struct bd_run_opts {
    const char *benches;        /* comma-separated names, or "all" */
    const char *template_mode;  /* "paper" (default), "on", "off", "both" */
    int samples;                /* per prompt for sampled benches (default 5) */
    long limit;                 /* rows per benchmark (0 = all), evenly spaced */
    long gen_limit;             /* rows for generation benchmarks (0 = as limit): they
                                   cost 10-100x more per row than scoring ones */
    const char *data_dir;
    long long seed;
    int progress;               /* 1: progress on stderr (bar on a tty) */
    FILE *log;                  /* where progress / notes go (stderr) */
    int verbose;                /* 1: show the first prompt of each benchmark as text
                                   and ids (makes the paper's double BOS visible) */
    int batch;                  /* generation items decoded together (0 = BD_RUN_BATCH;
                                   1 = one at a time), fewer where their KV caches would
                                   pass BD_RUN_KV_BUDGET bytes: outputs are identical for
                                   any value; a crash loses at most one group */
} bd_run_opts;

/* 32: measured on SmolLM2, 2 cores: 21 % faster than 16 per generated token,
 * no faster at 64 (the matrix-matrix kernel's token tiles are full). */
enum { BD_RUN_BATCH = 32 };
#define BD_RUN_KV_BUDGET (2.0 * 1024 * 1024 * 1024)

/* The outcome of one (benchmark, template) pair. */
typedef struct bd_run_outcome {
    char bench[64];
    char template_mode[8];      /* resolved: "on" / "off" */
    int skipped;                /* the whole pair was skipped */
    char reason[1024];          /* why (data missing, no chat template, ...) */
    long long run_id;
    long n_rows;                /* rows selected */
    long n_items, n_ok, n_item_skipped, n_new;
    long n_capped;              /* items whose generation budget the context cut (this invocation) */
    double seconds, tokens_per_s;
} bd_run_outcome;

/* Runs every requested (benchmark, template) pair. With one benchmark a
 * missing data file is an error; with several it is an outcome with
 * skipped = 1 and the loader's message. *outcomes is malloc'd. */
int bd_run(bd_store *db, const bd_run_env *env, const bd_run_opts *o, bd_run_outcome **outcomes,
           size_t *n_outcomes, bd_err *err);

/* Evenly spaced row selection used by --limit: row floor(i * n / limit). */
size_t bd_limit_row(size_t i, size_t n, size_t limit);
/* The rows --limit selects from d (malloc'd, ascending, *n_sel of them):
 * bd_limit_row, or whole clusters when the benchmark has limit_cluster. */
int bd_limit_rows(const bd_bench_data *d, size_t limit, size_t **rows, size_t *n_sel, bd_err *err);

/* Prints one line per outcome: benchmark, template, items ok / skipped,
 * tokens/s and the overall metrics (as stored), or the reason it was skipped. */
int bd_run_print_summary(FILE *f, bd_store *db, const bd_run_outcome *o, size_t n, bd_err *err);

/* Recomputes and stores a run's metrics from its stored items. */
int bd_run_metrics(bd_store *db, long long run_id, const bd_bench_def *def, bd_err *err);

#endif
