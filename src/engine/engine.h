/* The engine: runs a bd_model. Owns the thread pool and scratch buffers; the
 * KV cache (kv.h) holds one sequence's state. fp32 activations and accumulation.
 * Outputs are identical for any thread count (threads split output rows, never
 * a reduction). The engine never knows which accel strategy is active: weights
 * are tagged tensors (tensor.h) and the cache has a codec (kv.h). */
#ifndef BD_ENGINE_H
#define BD_ENGINE_H

#include <stdint.h>

#include "../model/model.h"
#include "../util/err.h"
#include "kv.h"

typedef struct bd_engine bd_engine;

/* Calibration hook (AWQ, Wanda): called with the fp32 input x[n*in] of every
 * linear layer as the forward pass runs. which: "q","k","v","o","gate","up","down"
 * (q/k/v and gate/up share one input; it is reported once per name). */
typedef void (*bd_linear_observer)(void *ctx, int layer, const char *which,
                                   const float *x, int n, int in);

typedef struct bd_engine_opts {
    int threads;          /* 0 = all cores */
    bd_linear_observer observer; /* NULL = none */
    void *observer_ctx;
    int max_batch;        /* max tokens per forward call (prefill chunk); 0 = 512.
                           * Chunks of <= 3 tokens use the matrix-vector kernels,
                           * larger ones the matrix-matrix path: the split can move
                           * the last bits of a result, the thread count never does. */
    const bd_kv_codec *kv_codec; /* NULL = full precision fp32 cache */
    const void *kv_codec_params;
    int kern_level;       /* 0 = best the CPU has; 1 scalar, 2 AVX2, 3 AVX-512 (tests) */
    int compute;          /* linear-layer dtype emulation (decisions.md §1): 0 fp32 (no
                           * rounding), 1 bf16, 2 fp16 (values of accel.h's bd_compute).
                           * The input x of every linear (q/k/v/o, gate/up/down, head) and
                           * its output are rounded to that dtype (nearest-even; fp16
                           * overflows to inf); accumulation stays fp32 and the elementwise
                           * ops (norms, rope, softmax, SwiGLU, residual adds) stay fp32. */
} bd_engine_opts;

int bd_engine_new(bd_model *m, const bd_engine_opts *opts, bd_engine **out, bd_err *err);
void bd_engine_free(bd_engine *e);
const bd_config *bd_engine_config(const bd_engine *e);
const char *bd_engine_kernels(const bd_engine *e); /* "avx512", "avx2", "scalar" */
int bd_engine_threads(const bd_engine *e);
/* Memory read bandwidth in GB/s streamed by the engine's threads through a
 * buffer of `bytes` (best of reps); 0 if the buffer cannot be allocated. */
double bd_engine_stream_gbps(bd_engine *e, size_t bytes, int reps);

/* A fresh KV cache for up to max_tokens positions (0 = model max_seq). */
int bd_engine_kv_new(bd_engine *e, int max_tokens, bd_kv **out, bd_err *err);

/* Runs n tokens at the cache's current position (batched, causal), appending
 * them to the cache. If logits != NULL: want_all ? n*vocab values : vocab
 * values for the last token only. Fails (BD_EINPUT) if the cache would
 * overflow (the cache is then unchanged) or a token id is outside the
 * vocabulary; after any failure inside the pass the cache is emptied.
 * One call is one "update" of a quantized cache (kv.h), however many chunks
 * of max_batch tokens it is computed in. */
int bd_forward(bd_engine *e, bd_kv *kv, const int32_t *tokens, int n,
               float *logits, int want_all, bd_err *err);

/* Batched decoding: one new token for each of n sequences (each its own
 * cache kv[s], at its own position), logits[n*vocab] (NULL = none). Every
 * linear runs on the matrix-matrix path, whose results per token do not
 * depend on the other tokens of the batch: a sequence decodes to the same
 * bits alone or in any batch (but not to the bits of bd_forward's one-token
 * path, which uses the matrix-vector kernels: they agree to fp32 rounding).
 * BD_EUNSUP when bd_engine_can_batch is 0. After a failure every cache of
 * the batch is emptied. */
int bd_forward_batch(bd_engine *e, bd_kv *const *kv, const int32_t *tokens, int n, float *logits, bd_err *err);
/* 0 when the model has packed (accel) weights, whose kernels may couple the
 * tokens of a batch (LLM.int8's outlier columns), or an observer is set. */
int bd_engine_can_batch(const bd_engine *e);

/* logprobs[i] = ln P(ids[i+1] | ids[0..i]) for i in [0, n-1), in one batched pass. */
int bd_score(bd_engine *e, const int32_t *ids, int n, float *logprobs, bd_err *err);

/* Full-vocabulary softmax of the next token after ids[0..n). probs has vocab entries. */
int bd_next_probs(bd_engine *e, const int32_t *ids, int n, float *probs, bd_err *err);

/* Runs decoder block `layer` alone on x[n*dim] in place (full causal
 * attention over these n tokens at positions 0..n-1, no cache). Used by
 * sequential block-by-block calibration (AWQ, Wanda). */
int bd_engine_block(bd_engine *e, int layer, float *x, int n, bd_err *err);

typedef struct bd_sampling {
    float temp;      /* 0 = greedy */
    float top_p;     /* 1 = off */
    int top_k;       /* 0 = off */
    uint64_t seed;
} bd_sampling;

/* Called after each generated token; return nonzero to stop. May be NULL. */
typedef int (*bd_token_cb)(void *ctx, int32_t token);

/* Generates up to max_new tokens after the prompt; stops early at any id in
 * stop[0..n_stop). *out (malloc'd, caller frees) receives the generated ids,
 * not including the stop token. The cache holds n + max_new - 1 positions
 * (the last token is never fed back); callers cap max_new to the context.
 * Sampling: see sample.h (transformers' warper order, SplitMix64, seeded). */
int bd_generate(bd_engine *e, const int32_t *prompt, int n, int max_new,
                const bd_sampling *s, const int32_t *stop, int n_stop,
                bd_token_cb cb, void *cb_ctx, int32_t **out, int *n_out, bd_err *err);

/* One request of bd_generate_batch; out/n_out are filled (out malloc'd, the
 * caller frees it; stop token excluded). */
typedef struct bd_gen_req {
    const int32_t *prompt;
    int n, max_new;
    bd_sampling s;
    int32_t *out;
    int n_out;
} bd_gen_req;

/* Generates for n requests at once: each prompt is prefilled alone (as
 * bd_generate does), then the sequences decode together through
 * bd_forward_batch, one token each per step, until each stops (a stop id or
 * its max_new). A request's output does not depend on the others in the
 * call (see bd_forward_batch). Falls back to one bd_generate per request when
 * bd_engine_can_batch is 0. On failure no request keeps an output. */
int bd_generate_batch(bd_engine *e, bd_gen_req *req, int n, const int32_t *stop, int n_stop, bd_err *err);

#endif
