#include "session.h"

#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Calibration text goes through the session's tokenizer (BOS as the
 * tokenizer adds it, as AutoAWQ's and Wanda's tokenizer calls do). */
static int accel_tokenize(void *ctx, const char *text, int32_t **ids, int *n, bd_err *err)
{
    size_t nn = 0;
    int rc = bd_tok_encode(ctx, text, strlen(text), BD_TOK_ADD_SPECIAL, ids, &nn, err);
    if (!rc && nn > (size_t)INT32_MAX) { free(*ids); *ids = NULL; return bd_fail(err, BD_EINPUT, "calibration document too long"); }
    if (!rc) *n = (int)nn;
    return rc;
}

/* The acceleration hook: transforms s->model and fills s->eopts (KV codec)
 * before the engine exists. */
static int apply_accel(bd_session *s, const bd_session_opts *o, const bd_accel_opts *given, bd_err *err)
{
    bd_accel_opts ao = {0};
    if (given) ao = *given;
    if (!ao.threads) ao.threads = o->threads;
    if (s->tok && !ao.tokenize) { ao.tokenize = accel_tokenize; ao.tokenize_ctx = s->tok; }
    int rc = bd_accel_apply(s->model, o->accel_spec, &ao, &s->accel, err);
    if (rc) return bd_wrap(err, "--accel %s", o->accel_spec ? o->accel_spec : "none");
    s->eopts.kv_codec = s->accel.kv_codec;
    s->eopts.kv_codec_params = s->accel.kv_codec_params;
    s->eopts.compute = (int)s->accel.compute;
    return 0;
}

int bd_session_open(const bd_session_opts *o, bd_session **out, bd_err *err)
{
    return bd_session_open_accel(o, NULL, out, err);
}

int bd_session_open_accel(const bd_session_opts *o, const bd_accel_opts *ao, bd_session **out, bd_err *err)
{
    *out = NULL;
    if (!o->model_path) return bd_fail(err, BD_EINPUT, "--model PATH is required");
    bd_session *s = calloc(1, sizeof *s);
    if (!s) return bd_oom(err, "session");
    int rc = bd_model_load(o->model_path, &s->model, err);
    if (rc) goto fail;
    if (o->need_tok) {
        if (o->tok_path) rc = bd_tok_load(o->tok_path, &s->tok, err);
        else rc = bd_tok_for_model(s->model, &s->tok, err);
        if (rc) goto fail;
        if (bd_tok_vocab_size(s->tok) > s->model->cfg.vocab_size) {
            rc = bd_fail(err, BD_EINPUT, "tokenizer has %d tokens but the model's vocabulary is %d",
                         bd_tok_vocab_size(s->tok), s->model->cfg.vocab_size);
            goto fail;
        }
    }
    s->eopts.threads = o->threads;
    s->eopts.max_batch = o->max_batch;
    if ((rc = apply_accel(s, o, ao, err))) goto fail;
    if ((rc = bd_engine_new(s->model, &s->eopts, &s->eng, err))) goto fail;
    *out = s;
    return 0;
fail:
    bd_session_free(s);
    return rc;
}

int bd_session_compute_opt(const char *val, bd_compute *out)
{
    bd_err err = {0};
    *out = BD_COMPUTE_FP32;
    return bd_compute_parse(val, out, &err) ? bd_cli_report(&err) : 0;
}

void bd_session_free(bd_session *s)
{
    if (!s) return;
    bd_engine_free(s->eng);
    bd_tok_free(s->tok);
    bd_model_free(s->model);
    free(s);
}
