/* Results database (SQLite). One file holds every run of every benchmark:
 * a run is identified by its key (model digest, accel spec, bench, dataset
 * hash, template mode, decoding, seed, compute dtype, biasdrift version); its
 * items (one row per prompt x sample) are written one transaction at a time
 * so a SIGKILL loses at most the item in flight, and UNIQUE(run_id,item_key)
 * + INSERT OR IGNORE make a resumed run never duplicate an item.
 * The schema is documented in store.c and docs/database.md.
 *
 * Typical runner use:
 *   bd_store *db; long long run; int created;
 *   bd_store_open(&db, path, BD_STORE_CREATE, &err);
 *   bd_store_run_get_or_create(db, &key, &run, &created, &err);
 *   bd_store_done_keys(db, run, &done, &err);          // skip these
 *   for each item not in done: bd_store_item_put(db, run, &it, NULL, &err);
 *   bd_store_run_meta_set_num(db, run, "tokens_per_s", tps, &err);
 *   // metrics: see bd_metric_spec in ../stats/stats.h
 *   bd_store_metric_set(db, run, "pct_stereotype", "", v, n, spec, &err);
 *   bd_store_run_complete(db, run, &err);
 *   bd_store_close(db);
 * All strings passed in are copied; all strings returned are owned by the
 * returned structure and freed by its _free function. */
#ifndef BD_STORE_H
#define BD_STORE_H

#include <stddef.h>

#include "../util/err.h"

/* Version written to PRAGMA user_version. A database with a newer version is
 * refused with an error naming both versions; older ones are migrated. */
#define BD_STORE_SCHEMA_VERSION 1

typedef struct bd_store bd_store;   /* opaque handle: one sqlite3 connection */

enum {
    BD_STORE_CREATE = 1,    /* create the file/schema if absent (run, demo) */
    BD_STORE_READONLY = 2   /* open an existing db read-only (compare, report);
                               a missing file is a BD_EINPUT error */
};

int bd_store_open(bd_store **out, const char *path, int flags, bd_err *err);
void bd_store_close(bd_store *s);
const char *bd_store_path(const bd_store *s);

/* ---- runs ---------------------------------------------------------------- */

/* The run key. Every field is part of the identity (NULL is stored as '').
 * decoding is JSON text; pass it canonical (fixed key order, no spaces, e.g.
 * {"mode":"greedy","max_new_tokens":64} or
 * {"mode":"sample","temperature":1,"top_k":0,"top_p":1,"samples":5,"max_new_tokens":150})
 * because the key compares the text byte for byte. */
typedef struct bd_run_key {
    const char *model_digest;   /* sha256 hex of the model file(s) */
    const char *model;          /* model path or name as the user gave it */
    const char *accel;          /* accel spec; "none" = the unaccelerated baseline */
    const char *bench;          /* "crows_pairs", "global_opinion_qa", ... */
    const char *dataset_sha256; /* sha256 hex of the dataset file (see util/sha256.h) */
    const char *template_mode;  /* "paper", "on" or "off" ("both" = two runs) */
    const char *decoding;       /* canonical JSON text, see above */
    long long seed;
    const char *compute;        /* "fp32", "bf16", "fp16" */
    const char *version;        /* BD_VERSION of the biasdrift that ran it */
} bd_run_key;

/* Finds the run with exactly this key or creates it (status "running").
 * *created (may be NULL) says which. */
int bd_store_run_get_or_create(bd_store *s, const bd_run_key *key, long long *run_id,
                               int *created, bd_err *err);

/* Run metadata is a JSON object (weight bytes, tokens/s, peak memory, limit,
 * n items planned, ...). These set one key, keeping the others. The report
 * shows these keys when present: "tokens_per_s", "weight_bytes",
 * "kv_bytes_peak", "peak_rss_bytes", "seconds", "limit" (0 = none); all keys
 * go into the JSON report. */
int bd_store_run_meta_set_num(bd_store *s, long long run_id, const char *key, double value,
                              bd_err *err);
int bd_store_run_meta_set_str(bd_store *s, long long run_id, const char *key, const char *value,
                              bd_err *err);
/* Marks the run complete (status "complete", completed_at = now). A run that
 * is resumed after completion keeps the status; get_or_create never resets it. */
int bd_store_run_complete(bd_store *s, long long run_id, bd_err *err);

typedef struct bd_run_info {
    long long id;
    char *model_digest, *model, *accel, *bench, *dataset_sha256, *template_mode, *decoding,
         *compute, *version;
    long long seed;
    char *status;               /* "running" or "complete" */
    char *created_at, *updated_at, *completed_at;  /* ISO 8601 UTC; completed_at may be "" */
    char *meta;                 /* JSON object text ("{}" when none) */
    long long n_items, n_ok, n_skipped;  /* counted from the items table */
} bd_run_info;

/* All runs, ordered by id. */
int bd_store_runs(bd_store *s, bd_run_info **runs, size_t *n, bd_err *err);
int bd_store_run_get(bd_store *s, long long run_id, bd_run_info *out, bd_err *err);
void bd_run_info_clear(bd_run_info *r);
void bd_store_runs_free(bd_run_info *runs, size_t n);

/* ---- items --------------------------------------------------------------- */

/* One item (one prompt x sample). key is stable within the benchmark and
 * identical across runs of the same dataset, e.g. "17" or "17#s3" (row 17,
 * sample 3): compare pairs accelerated and baseline items by it. */
typedef struct bd_item_in {
    const char *key;            /* required, non-empty */
    const char *prompt_sha256;  /* sha256 hex of the exact prompt bytes, or NULL */
    int skipped;                /* 0 ok, 1 skipped (e.g. longer than the context) */
    const char *skip_reason;    /* required when skipped */
    const char *output;         /* generated text, or probabilities as JSON text, or NULL */
    const char *answer;         /* parsed answer / decision ("yes", "B", "agree", "woman",
                                   a number as text), NULL when unparseable or none.
                                   compare counts items whose answer differs as flips. */
    const char *scores;         /* JSON object of named per-item numbers, e.g.
                                   {"prefers_more":1,"log_prob_diff":0.31}. A value may
                                   also be an object of named numbers (GlobalOpinionQA:
                                   {"w1":{"Nigeria":0.4,...},"pmass_outside":0.01}).
                                   NaN/unparseable: omit the key or write null. */
    const char *groups;         /* JSON object of string labels for breakdowns and
                                   metric grouping, e.g. {"bias_type":"gender"},
                                   {"target_group":"Muslims","topic":"hiv"},
                                   {"region":"Sub-Saharan Africa","income":"Low income"},
                                   {"decision_question_id":"12","age":"60","gender":"female",
                                    "race":"Asian"}. Values are strings. NULL = {} */
    double seconds;             /* wall time spent on this item */
} bd_item_in;

/* Inserts one item in its own transaction (committed before returning).
 * An item whose key the run already has is left as it was (INSERT OR IGNORE);
 * *inserted (may be NULL) is 1 if a row was written, 0 if it already existed. */
int bd_store_item_put(bd_store *s, long long run_id, const bd_item_in *it, int *inserted,
                      bd_err *err);
/* Same for n items in one transaction (all or nothing); use for small batches. */
int bd_store_items_put(bd_store *s, long long run_id, const bd_item_in *items, size_t n,
                       bd_err *err);

/* The set of item keys a run already has (ok or skipped), for resume. */
typedef struct bd_keyset {
    char **keys;                /* sorted (strcmp) */
    size_t n;
} bd_keyset;
int bd_store_done_keys(bd_store *s, long long run_id, bd_keyset *out, bd_err *err);
int bd_keyset_has(const bd_keyset *ks, const char *key);
void bd_keyset_free(bd_keyset *ks);

typedef struct bd_item {
    long long id;
    char *key, *prompt_sha256;  /* prompt_sha256 "" when none */
    int skipped;
    char *skip_reason;          /* "" when not skipped */
    char *output;               /* NULL when none */
    char *answer;               /* NULL when none */
    char *scores;               /* JSON text, "{}" when none */
    char *groups;               /* JSON text, "{}" when none */
    double seconds;
    char *created_at;
} bd_item;

/* All items of a run, ordered by insertion (id). */
int bd_store_items(bd_store *s, long long run_id, bd_item **items, size_t *n, bd_err *err);
void bd_store_items_free(bd_item *items, size_t n);

/* ---- metrics -------------------------------------------------------------- */

/* Aggregated values of a run. (run_id, name, grp) is unique; setting again
 * replaces. grp is "" for the overall value or "label=value" for a breakdown
 * (e.g. "bias_type=gender", "region=South Asia"). n = number of units the value
 * is computed from. spec is the JSON metric definition (see bd_metric_spec in
 * ../stats/stats.h) from which compare recomputes the metric on bootstrap
 * resamples of the items; NULL/"" = no recomputation possible (compare then
 * reports value/baseline/delta without CI). */
int bd_store_metric_set(bd_store *s, long long run_id, const char *name, const char *grp,
                        double value, long long n, const char *spec, bd_err *err);

typedef struct bd_metric_row {
    char *name, *grp, *spec;    /* spec "" when none */
    double value;               /* NaN is stored as NULL and read back as NaN */
    long long n;
} bd_metric_row;
int bd_store_metrics(bd_store *s, long long run_id, bd_metric_row **rows, size_t *n, bd_err *err);
void bd_store_metrics_free(bd_metric_row *rows, size_t n);

#endif
