/* What generate/score/bench (and later commands) share: a model, its
 * tokenizer and an engine, opened from --model / --tokenizer / --threads.
 * accel_spec is where acceleration strategies hook in: today only "none"
 * (or NULL) is accepted; the accel module will parse real specs here and
 * transform the model / install a KV codec before the engine is built. */
#ifndef BD_SESSION_H
#define BD_SESSION_H

#include "../accel/accel.h"
#include "../engine/engine.h"
#include "../model/model.h"
#include "../tok/tok.h"
#include "../util/err.h"

typedef struct bd_session_opts {
    const char *model_path;   /* required */
    const char *tok_path;     /* NULL: the model's own tokenizer */
    int threads;              /* 0 = all cores */
    const char *accel_spec;   /* NULL or "none" */
    int need_tok;             /* 0: no tokenizer wanted (bench) */
    int max_batch;            /* 0 = engine default */
} bd_session_opts;

typedef struct bd_session {
    bd_model *model;
    bd_tok *tok;              /* NULL when need_tok == 0 */
    bd_engine *eng;
    bd_engine_opts eopts;     /* what the engine was built with */
    bd_accel_result accel;    /* what --accel did; holds the KV codec params */
} bd_session;

int bd_session_open(const bd_session_opts *o, bd_session **out, bd_err *err);
/* Same, with calibration data / seed for --accel strategies that need it
 * (awq4, wanda*); ao NULL = none given. */
int bd_session_open_accel(const bd_session_opts *o, const bd_accel_opts *ao, bd_session **out, bd_err *err);
void bd_session_free(bd_session *s);

/* The --compute option shared by run/generate/score/bench: the linear-layer
 * dtype the engine emulates (decisions.md §1; engine.h bd_engine_opts.compute),
 * carried to the session in bd_accel_opts.compute. val NULL = fp32. Prints the
 * error and returns 2 on a bad value. */
/* The --accel/--calib option rows shared by generate and score. */
#define BD_ACCEL_OPTS \
    {"--accel", NULL, 1, "acceleration spec (default none; --accel help lists them)", NULL}, \
    {"--calib", NULL, 1, "calibration for awq4 / wanda*: a text or JSONL file, or selfgen", NULL}, \
    {"--calib-samples", NULL, 1, "calibration sequences (default: the strategy's)", NULL}, \
    {"--calib-seqlen", NULL, 1, "calibration sequence length (default: the strategy's)", NULL}

#define BD_COMPUTE_OPT {"--compute", NULL, 1, "linear-layer dtype emulated: fp32 (default), bf16 or fp16", NULL}
int bd_session_compute_opt(const char *val, bd_compute *out);

#endif
