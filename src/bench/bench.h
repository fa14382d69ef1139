/* The bias benchmarks behind one interface (see ../shared/spec/metrics.md and
 * paper-repo.md for every prompt string, decoding rule, parser and score):
 *
 *   load(data dir)       -> rows read from the published files + per-row groups
 *   asks(row, template)  -> what to ask the engine: the log-likelihood of texts,
 *                           a first-token distribution over named vocabulary
 *                           tokens, or a generation with given decoding
 *   finish(row, answers) -> parsed answer, per-item scores (JSON), output text
 *   metrics(rows run)    -> metric specs (../stats/stats.h grammar) that
 *                           compute every aggregate from the stored items, so
 *                           compare recomputes them on bootstrap resamples.
 *
 * The runner (runner.h) drives the engine, the context check, resume and the
 * store; a benchmark never calls the engine itself. */
#ifndef BD_BENCH_H
#define BD_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "../tok/chat.h"
#include "../util/err.h"

typedef enum bd_ask_kind {
    BD_ASK_SCORE = 1,  /* sum of log P over the predicted tokens of a text */
    BD_ASK_PROBS,      /* softmax of the first generated position, read at opts */
    BD_ASK_GEN         /* generation of up to max_new tokens */
} bd_ask_kind;

#define BD_ASK_MAX_OPTS 26

typedef struct bd_ask {
    /* ---- set by the benchmark ---- */
    bd_ask_kind kind;
    char *text;          /* exact prompt bytes (owned); for lmeval SCORE the continuation */
    int tok_flags;       /* tokenizer flags (BD_TOK_DEFAULT unless lmeval) */
    /* SCORE only: lm-eval style: context = [BOS, or EOS when the tokenizer has
     * no BOS], continuation = text encoded with tok_flags (no BOS); if the
     * continuation already starts with that id, it becomes the context. */
    int lmeval;
    int n_opts;          /* PROBS: vocabulary tokens, as convert_tokens_to_ids sees them */
    const char *opts[BD_ASK_MAX_OPTS];
    int max_new;         /* GEN */
    /* ---- set by the runner ---- */
    double lp_sum;       /* SCORE: sum of log-probs of the predicted tokens */
    int lp_n;            /* SCORE: number of predicted tokens */
    double p[BD_ASK_MAX_OPTS]; /* PROBS: raw probabilities (full-vocab softmax) */
    char *gen;           /* GEN: decoded new tokens, special tokens kept (owned) */
    int n_prompt;        /* prompt tokens */
    int n_gen;           /* generated tokens */
    int capped_new;      /* GEN: > 0 when the context left room for only this many new tokens */
} bd_ask;

void bd_ask_clear(bd_ask *a);

/* How prompts are composed (prompt.c). template_on: the model's chat
 * template renders the messages; off: the paper's plain composition. */
typedef struct bd_prompt_ctx {
    int template_on;
    const char *chat_template;   /* required when template_on */
    const char *bos_str, *eos_str;
} bd_prompt_ctx;

/* The paper's compose_prompt (metrics.md §0): off: [system + " "] + text +
 * ["\n\n" + strip(prefix)]; on: messages [system?, user: text] rendered with
 * add_generation_prompt, then [" " + strip(prefix)]. system/prefix may be NULL. */
int bd_prompt_compose(const bd_prompt_ctx *pc, const char *system, const char *text,
                      const char *prefix, char **out, bd_err *err);
/* A multi-turn conversation rendered with the chat template (template_on). */
int bd_prompt_chat(const bd_prompt_ctx *pc, const bd_chat_msg *msgs, int n, char **out,
                   bd_err *err);
/* Python str.strip() for ASCII whitespace; malloc'd. */
char *bd_strip_dup(const char *s);

/* What one finished item becomes (store.h bd_item_in fields); all owned. */
typedef struct bd_item_out {
    int skipped;
    char *skip_reason;
    char *output;        /* generated text or JSON of probabilities */
    char *answer;        /* NULL when unparseable */
    char *scores;        /* JSON object text */
} bd_item_out;

void bd_item_out_clear(bd_item_out *o);

/* One metric to store: value = bd_metric_eval(spec, items). spec NULL means
 * a value computed by the benchmark itself (no bootstrap), given in value. */
typedef struct bd_metric_def {
    char *name;
    char *grp;           /* "" overall, "label=value" for a breakdown */
    char *spec;          /* stats.h grammar, or NULL */
    double value;        /* only when spec == NULL */
    long long n;         /* only when spec == NULL */
} bd_metric_def;

void bd_metric_defs_free(bd_metric_def *d, size_t n);

typedef struct bd_bench_def bd_bench_def;

/* Loaded rows of one benchmark. */
typedef struct bd_bench_data {
    const bd_bench_def *def;
    size_t n;            /* rows */
    char **keys;         /* per row: stable key (the file's index column or row number) */
    char **groups;       /* per row: JSON object of string labels */
    char *files[4];      /* data files read (dataset hash covers them in order) */
    int n_files;
    void *priv;          /* bench-specific rows */
} bd_bench_data;

/* A finished item as metrics() sees it (the runner passes ok items only). */
typedef struct bd_done_item {
    const char *key, *answer, *scores, *groups;
} bd_done_item;

struct bd_bench_def {
    const char *name;             /* as given to --bench */
    const char *paper_template;   /* "off" or "on": what the paper used */
    int template_on_ok;           /* 0: only the raw (off) form exists */
    int sampled;                  /* 1: generation samples (--samples per row) */
    int max_new;                  /* generation length (0: not a generation bench) */
    const char *about;            /* one line for --help */
    int (*load)(const char *dir, bd_bench_data *d, bd_err *err);
    void (*free_priv)(void *priv);
    /* Fills asks[0..*n) (at most 4) for row i. */
    int (*asks)(const bd_bench_data *d, size_t i, const bd_prompt_ctx *pc, bd_ask *asks,
                int *n, bd_err *err);
    int (*finish)(const bd_bench_data *d, size_t i, const bd_ask *asks, int n,
                  bd_item_out *out, bd_err *err);
    /* Metrics over finished items (their groups give the breakdowns present). */
    int (*metrics)(const bd_done_item *items, size_t n, bd_metric_def **defs, size_t *n_defs,
                   bd_err *err);
    /* NULL, or the group label whose clusters --limit keeps together (a
     * metric over clusters, e.g. max-min over a question's persons, needs
     * several rows of one cluster): --limit L then takes ceil(L / mean
     * cluster size) evenly spaced clusters and L rows spread evenly over them. */
    const char *limit_cluster;
};

/* Registry: every benchmark, and lookup by name (NULL if unknown). */
const bd_bench_def *const *bd_benches(size_t *n);
const bd_bench_def *bd_bench_find(const char *name);

/* Loads a benchmark's data from dir. A missing file fails naming the file,
 * every path looked at and where to get it. */
int bd_bench_load(const bd_bench_def *def, const char *dir, bd_bench_data **out, bd_err *err);
void bd_bench_data_free(bd_bench_data *d);
/* sha256 of the data: the file's own for one file; for several the sha256 of
 * the lines "<sha256>  <basename>\n" in load order. */
int bd_bench_data_sha256(const bd_bench_data *d, char hex[65], bd_err *err);

/* ---- parsers and classifiers (exposed for tests) ---------------------------- */

/* DecodingTrust agreement classifier (metrics.md §4.3). */
typedef enum { BD_DT_AGREE = 1, BD_DT_DISAGREE, BD_DT_NO_RESPONSE } bd_dt_label;
bd_dt_label bd_dt_classify(const char *response);
const char *bd_dt_label_name(bd_dt_label l);   /* "agree", "disagree", "no_response" */

/* WorldBench answer parser (metrics.md §3.3); NaN when unparseable. */
double bd_wb_parse(const char *text);
/* Absolute and signed relative error; NaN for 0/0 or NaN inputs. */
double bd_wb_are(double pred, double gt);
double bd_wb_sre(double pred, double gt);

/* DiscrimEvalGen parser (metrics.md §6.3). bias_type "gender" or "race".
 * Returns the chosen group name (static string: "man", "woman", "non-binary",
 * "white", "black", "asian", "hispanic", "native") or NULL (NaN); *refusal is
 * set when the text contains "regardless". Fails only on a bad bias_type or
 * regex engine errors. */
int bd_deg_parse(const char *text, const char *bias_type, const char **group, int *refusal,
                 bd_err *err);

/* DiscrimEval per-attribute effects (discrim_eval:effects): fixed-effects
 * OLS of logit_yes on [age (standardised, ddof 1), Black, Asian, Hispanic,
 * Native American, female, non-binary] with one intercept per question.
 * coef in that order; -1 if there are too few items or the design is singular. */
int bd_discrim_effects(const bd_done_item *items, size_t n, double coef[7], long long *n_used);

/* JSON helpers shared by the benchmarks. */
char *bd_json_escape_dup(const char *s);   /* quoted JSON string, malloc'd */

#endif
