#include "session.h"

#include <stdlib.h>
#include <string.h>

/* The acceleration hook: transforms s->model and fills s->eopts (KV codec,
 * observer) before the engine exists. Only the baseline for now. */
static int apply_accel(bd_session *s, const char *spec, bd_err *err)
{
    (void)s;
    if (!spec || !strcmp(spec, "none")) return 0;
    return bd_fail(err, BD_EINPUT, "--accel: unknown strategy '%s' (this build supports: none)", spec);
}

int bd_session_open(const bd_session_opts *o, bd_session **out, bd_err *err)
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
    if ((rc = apply_accel(s, o->accel_spec, err))) goto fail;
    if ((rc = bd_engine_new(s->model, &s->eopts, &s->eng, err))) goto fail;
    *out = s;
    return 0;
fail:
    bd_session_free(s);
    return rc;
}

void bd_session_free(bd_session *s)
{
    if (!s) return;
    bd_engine_free(s->eng);
    bd_tok_free(s->tok);
    bd_model_free(s->model);
    free(s);
}
