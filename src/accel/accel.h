/* Inference-acceleration strategies applied to a loaded model: weight
 * quantization (LLM.int8, bitsandbytes FP4/NF4, AWQ), pruning (Wanda 50% and
 * N:M), and KV-cache quantization (HQQ / quanto codecs for the engine).
 * Numerics follow ../shared/spec/strategies.md; each packed format lives in
 * this module and the engine reaches it only through bd_tensor.ops / bd_kv_codec.
 *
 * A SPEC is one or more of the names below joined by '+':
 *   none | int8 | fp4 | fp4-dq | nf4 | nf4-dq | awq4[:gN] |
 *   kv4[:hqq|:quanto][:axis0|:axis1] | kv8[:hqq][:axis0|:axis1] |
 *   wanda50 | wanda2:4 | wanda4:8
 * with at most one weight quantizer, one pruner and one KV codec. Pruning is
 * applied before weight quantization; the KV codec is independent. */
#ifndef BD_ACCEL_H
#define BD_ACCEL_H

#include <stdint.h>

#include "../engine/kv.h"
#include "../model/model.h"
#include "../util/err.h"
#include "kvq.h"

typedef enum bd_wquant {
    BD_WQ_NONE = 0,
    BD_WQ_INT8,   /* LLM.int8, threshold 6.0 */
    BD_WQ_FP4,    /* bitsandbytes 4-bit, block 64 */
    BD_WQ_NF4,
    BD_WQ_AWQ4    /* AWQ w4, zero point, group awq_group */
} bd_wquant;

typedef enum bd_compute { BD_COMPUTE_FP32 = 0, BD_COMPUTE_BF16, BD_COMPUTE_FP16 } bd_compute;

typedef struct bd_accel_spec {
    bd_wquant wq;
    int dq;            /* fp4/nf4 double quantization of the absmax */
    int awq_group;     /* 128 */
    int prune;         /* 0 none, 1 unstructured, 2 N:M */
    int prune_n, prune_m;
    float sparsity;    /* 0.5 */
    int kv_bits;       /* 0 = full precision cache, else 4 or 8 */
    int kv_quanto;     /* 0 = HQQ backend (the paper's), 1 = optimum-quanto */
    int kv_axis;       /* HQQ: 0 (paper) or 1; quanto: 0 or -1 */
    char canon[128];   /* canonical spelling, defaults omitted: part of run keys */
} bd_accel_spec;

/* Parses a SPEC. On error (BD_EINPUT) the message names the bad part and
 * lists the valid specs. */
int bd_accel_parse(const char *spec, bd_accel_spec *out, bd_err *err);
/* One line listing the valid names and combination rules. */
const char *bd_accel_valid_specs(void);

/* Tokenizes calibration text (the CLI wraps its tokenizer so this module does
 * not depend on tok/). Returns 0 and a malloc'd id array (caller frees). */
typedef int (*bd_accel_tokenize_fn)(void *ctx, const char *text, int32_t **ids, int *n,
                                    bd_err *err);

typedef struct bd_accel_opts {
    const char *calib;        /* file (plain text, or JSONL with "text"), "selfgen", or NULL */
    int calib_samples;        /* 0 = the strategy's default (AWQ 128, Wanda 128) */
    int calib_seqlen;         /* 0 = default (AWQ 512, Wanda 512 capped by max_seq) */
    uint64_t seed;
    int threads;              /* 0 = all cores */
    bd_compute compute;       /* activation dtype emulation (decisions.md §1) */
    bd_accel_tokenize_fn tokenize;
    void *tokenize_ctx;
} bd_accel_opts;

typedef struct bd_accel_result {
    bd_accel_spec spec;
    const bd_kv_codec *kv_codec;   /* NULL = full precision; install in bd_engine_opts */
    const void *kv_codec_params;   /* points at kvp below: keep this result alive (and in
                                      place) while an engine uses the codec */
    bd_kvq_params kvp;
    bd_compute compute;
    int64_t n_converted;           /* linears rewritten */
    size_t weight_bytes_before, weight_bytes_after;
    char notes[1024];
} bd_accel_result;

/* Rewrites m's decoder linears in place (and/or picks a KV codec) per spec.
 * opts may be NULL for strategies that need no calibration. */
int bd_accel_apply(bd_model *m, const char *spec, const bd_accel_opts *opts,
                   bd_accel_result *out, bd_err *err);

/* Converts linears bound from a published AutoAWQ GEMM checkpoint (see
 * model/awq_gemm.h) into awq4 tensors; bd_accel_apply does this first, so
 * every session gets the fast kernels. *n_adopted: linears converted. */
int bd_accel_adopt(bd_model *m, int64_t *n_adopted, bd_err *err);

/* A transformed model saved / restored bit for bit (export.c documents the
 * BDQ1 layout). bd_accel_apply accepts a path ending in ".bdq" as SPEC: it
 * restores the saved tensors onto the base model (checked by its sha256)
 * and installs the saved spec's KV codec. */
int bd_accel_save(bd_model *m, const bd_accel_result *r, const char *path, bd_err *err);
int bd_accel_load(bd_model *m, const char *path, bd_accel_spec *spec, bd_err *err);

const char *bd_compute_name(bd_compute c);
int bd_compute_parse(const char *s, bd_compute *out, bd_err *err);

#endif
