/* Engine internals shared by engine.c (forward pass) and generate.c
 * (scoring, next-token probabilities, generation). */
#ifndef BD_ENGINE_IMPL_H
#define BD_ENGINE_IMPL_H

#include "engine.h"
#include "kv_impl.h"
#include "matmul.h"

/* Where token t of a batched decoding step (bd_forward_batch) keeps its
 * history: its own sequence's K/V arrays (bd_kv_view) and its position. */
typedef struct tok_view { float *kb, *vb; int pos; } tok_view;

struct bd_engine {
    bd_model *m;
    bd_config c;             /* rope_dim filled in */
    const bd_kern *k;
    bd_pool *pool;
    bd_mmctx mm;
    int nthr, max_batch, q_dim, kv_dim;
    int compute;             /* bd_engine_opts.compute */
    bd_linear_observer obs;
    void *obs_ctx;
    const bd_kv_codec *codec;
    const void *codec_params;
    float *norms;            /* fp32: attn/ffn norm per layer, then the final norm */
    float *inv_freq;         /* rope_dim/2 */
    float *x, *xb, *xo;      /* [max_batch, dim] */
    float *q, *att;          /* [max_batch, q_dim] */
    float *hb, *hb2;         /* [max_batch, hidden_dim] */
    float *kt, *vt;          /* [max_batch, kv_dim]: new K/V rows of a batched step */
    tok_view *tv;            /* [max_batch]: the sequences of a batched step */
    int packed;              /* some linear has a packed (accel) format */
    float *logits;           /* [logit_rows, vocab] */
    int logit_rows;
    float **scores;          /* per thread [scores_cap] */
    int scores_cap;
};

/* Called after each chunk of a bd_engine_run with the chunk's final hidden
 * states in e->x rows [0, nc) (tokens t0 .. t0+nc-1 of the call). */
typedef int (*bd_chunk_fn)(void *ctx, bd_engine *e, int t0, int nc, bd_err *err);

int bd_engine_run(bd_engine *e, bd_kv *kv, const int32_t *tokens, int n, bd_chunk_fn fn, void *ctx,
                  bd_err *err);
/* Final norm of e->x rows [r0, r0+n) and the output head into out[n*vocab]. */
int bd_engine_head(bd_engine *e, int r0, int n, float *out, bd_err *err);
void bd_rmsnorm(float *out, const float *x, const float *w, int d, float eps);

#endif
