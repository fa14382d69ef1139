/* Scoring, next-token probabilities and generation on top of the forward
 * pass. Each call runs on a fresh KV cache sized for its tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "sample.h"

typedef struct score_ctx { const int32_t *ids; int n; float *lp; } score_ctx;

/* log-softmax of each chunk row at the next id, computed in double. */
static int score_chunk(void *ctx, bd_engine *e, int t0, int nc, bd_err *err)
{
    score_ctx *s = ctx;
    const int V = e->c.vocab_size;
    int last = s->n - 1 - t0; /* rows with a next token */
    if (last > nc) last = nc;
    for (int r = 0; r < last; r += e->logit_rows) {
        int m = last - r < e->logit_rows ? last - r : e->logit_rows;
        int rc = bd_engine_head(e, r, m, e->logits, err);
        if (rc) return rc;
        for (int i = 0; i < m; i++) {
            const float *lg = e->logits + (size_t)i * V;
            float mx = lg[0];
            for (int v = 1; v < V; v++) if (lg[v] > mx) mx = lg[v];
            double sum = 0;
            for (int v = 0; v < V; v++) sum += exp((double)lg[v] - mx);
            int t = t0 + r + i;
            s->lp[t] = (float)((double)lg[s->ids[t + 1]] - mx - log(sum));
        }
    }
    return 0;
}

int bd_score(bd_engine *e, const int32_t *ids, int n, float *logprobs, bd_err *err)
{
    if (n < 1) return bd_fail(err, BD_EINPUT, "score: no tokens");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= e->c.vocab_size)
            return bd_fail(err, BD_EINPUT, "score: token %d at index %d outside the vocabulary", ids[i], i);
    bd_kv *kv;
    int rc = bd_engine_kv_new(e, n, &kv, err);
    if (rc) return rc;
    score_ctx s = {ids, n, logprobs};
    rc = bd_engine_run(e, kv, ids, n, score_chunk, &s, err);
    bd_kv_free(kv);
    return rc;
}

int bd_next_probs(bd_engine *e, const int32_t *ids, int n, float *probs, bd_err *err)
{
    if (n < 1) return bd_fail(err, BD_EINPUT, "next-token probabilities: no tokens");
    bd_kv *kv;
    int rc = bd_engine_kv_new(e, n, &kv, err);
    if (rc) return rc;
    rc = bd_forward(e, kv, ids, n, probs, 0, err);
    bd_kv_free(kv);
    if (rc) return rc;
    const int V = e->c.vocab_size;
    float mx = probs[0];
    for (int v = 1; v < V; v++) if (probs[v] > mx) mx = probs[v];
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)probs[v] - mx);
    for (int v = 0; v < V; v++) probs[v] = (float)(exp((double)probs[v] - mx) / sum);
    return 0;
}

int bd_generate(bd_engine *e, const int32_t *prompt, int n, int max_new, const bd_sampling *s,
                const int32_t *stop, int n_stop, bd_token_cb cb, void *cb_ctx, int32_t **out, int *n_out,
                bd_err *err)
{
    *out = NULL;
    *n_out = 0;
    if (n < 1) return bd_fail(err, BD_EINPUT, "generate: the prompt has no tokens (a BOS token is needed at least)");
    if (max_new < 0) return bd_fail(err, BD_EINPUT, "generate: negative token count %d", max_new);
    bd_sampler sp;
    int rc = bd_sampler_init(&sp, s, e->c.vocab_size, err);
    if (rc) return rc;
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)(max_new ? max_new : 1));
    float *logits = malloc(sizeof(float) * (size_t)e->c.vocab_size);
    bd_kv *kv = NULL;
    if (!gen || !logits) { rc = bd_oom(err, "generation"); goto done; }
    /* the last sampled token is never fed back, so it needs no cache slot */
    long long cap = (long long)n + (max_new > 0 ? max_new - 1 : 0);
    if (cap > (1 << 30)) { rc = bd_fail(err, BD_EINPUT, "generate: %lld positions is too many", cap); goto done; }
    if ((rc = bd_engine_kv_new(e, (int)cap, &kv, err))) goto done;
    int ng = 0;
    if (max_new > 0 && (rc = bd_forward(e, kv, prompt, n, logits, 0, err))) goto done;
    while (ng < max_new) {
        int32_t t = bd_sampler_next(&sp, logits);
        int is_stop = 0;
        for (int i = 0; i < n_stop; i++) is_stop |= stop[i] == t;
        if (is_stop) break;
        gen[ng++] = t;
        if (cb && cb(cb_ctx, t)) break;
        if (ng == max_new) break;
        if ((rc = bd_forward(e, kv, &t, 1, logits, 0, err))) goto done;
    }
    *out = gen;
    *n_out = ng;
    gen = NULL;
done:
    bd_kv_free(kv);
    free(gen);
    free(logits);
    bd_sampler_free(&sp);
    return rc;
}

/* One sequence of a bd_generate_batch call. */
typedef struct gseq {
    bd_sampler sp;
    bd_kv *kv;
    float *logits;      /* its next-token logits */
    int32_t *gen;
    int ng, active, sp_ok;
} gseq;

int bd_generate_batch(bd_engine *e, bd_gen_req *req, int n, const int32_t *stop, int n_stop, bd_err *err)
{
    for (int i = 0; i < n; i++) {
        req[i].out = NULL;
        req[i].n_out = 0;
    }
    if (n < 0) return bd_fail(err, BD_EINPUT, "generate: negative request count %d", n);
    int rc = 0;
    if (!bd_engine_can_batch(e) || n == 0) {
        for (int i = 0; i < n && !rc; i++)
            rc = bd_generate(e, req[i].prompt, req[i].n, req[i].max_new, &req[i].s, stop, n_stop, NULL, NULL,
                             &req[i].out, &req[i].n_out, err);
        goto out;
    }
    if (n > e->max_batch) {
        /* in groups of max_batch (outputs do not depend on the grouping) */
        for (int i0 = 0; i0 < n && !rc; i0 += e->max_batch)
            rc = bd_generate_batch(e, req + i0, n - i0 < e->max_batch ? n - i0 : e->max_batch, stop, n_stop, err);
        goto out;
    }
    const size_t V = (size_t)e->c.vocab_size;
    int bmax = n;
    gseq *q = calloc((size_t)n, sizeof *q);
    bd_kv **kvs = malloc(sizeof(bd_kv *) * (size_t)bmax);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)bmax);
    int *who = malloc(sizeof(int) * (size_t)bmax);
    float *lg = malloc(sizeof(float) * (size_t)bmax * V);
    if (!q || !kvs || !tok || !who || !lg) { rc = bd_oom(err, "batched generation"); goto done; }
    for (int i = 0; i < n && !rc; i++) {
        const bd_gen_req *r = &req[i];
        if (r->n < 1) { rc = bd_fail(err, BD_EINPUT, "generate: request %d: the prompt has no tokens", i); break; }
        if (r->max_new < 0) { rc = bd_fail(err, BD_EINPUT, "generate: request %d: negative token count", i); break; }
        if ((rc = bd_sampler_init(&q[i].sp, &r->s, e->c.vocab_size, err))) break;
        q[i].sp_ok = 1;
        long long cap = (long long)r->n + (r->max_new > 0 ? r->max_new - 1 : 0);
        if (cap > (1 << 30)) { rc = bd_fail(err, BD_EINPUT, "generate: %lld positions is too many", cap); break; }
        q[i].gen = malloc(sizeof(int32_t) * (size_t)(r->max_new ? r->max_new : 1));
        q[i].logits = malloc(sizeof(float) * V);
        if (!q[i].gen || !q[i].logits) { rc = bd_oom(err, "generation"); break; }
        if ((rc = bd_engine_kv_new(e, (int)cap, &q[i].kv, err))) break;
        q[i].active = r->max_new > 0;
        /* the prompt alone, exactly as bd_generate prefills it */
        if (q[i].active) rc = bd_forward(e, q[i].kv, r->prompt, r->n, q[i].logits, 0, err);
    }
    for (int more = 1; more && !rc;) {
        /* each active sequence picks its next token; those that go on form the step */
        int m = 0;
        more = 0;
        for (int i = 0; i < n; i++) {
            gseq *g = &q[i];
            if (!g->active) continue;
            int32_t t = bd_sampler_next(&g->sp, g->logits);
            int is_stop = 0;
            for (int k = 0; k < n_stop; k++) is_stop |= stop[k] == t;
            if (is_stop) { g->active = 0; continue; }
            g->gen[g->ng++] = t;
            if (g->ng == req[i].max_new) { g->active = 0; continue; }
            more = 1;
            kvs[m] = g->kv;
            tok[m] = t;
            who[m++] = i;
        }
        if (!m) break;
        if ((rc = bd_forward_batch(e, kvs, tok, m, lg, err))) break;
        for (int b = 0; b < m; b++) memcpy(q[who[b]].logits, lg + (size_t)b * V, sizeof(float) * V);
    }
    for (int i = 0; i < n && !rc; i++) {
        req[i].out = q[i].gen;
        req[i].n_out = q[i].ng;
        q[i].gen = NULL;
    }
done:
    for (int i = 0; q && i < n; i++) {
        bd_kv_free(q[i].kv);
        free(q[i].gen);
        free(q[i].logits);
        if (q[i].sp_ok) bd_sampler_free(&q[i].sp);
    }
    free(q);
    free(kvs);
    free(tok);
    free(who);
    free(lg);
out:
    if (rc)
        for (int i = 0; i < n; i++) {
            free(req[i].out);
            req[i].out = NULL;
            req[i].n_out = 0;
        }
    return rc;
}
