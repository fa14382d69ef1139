/* y = W x for the engine: tagged weights (any kernel dtype or a packed
 * accel format), fp32 activations, output rows split over the thread pool. */
#ifndef BD_MATMUL_H
#define BD_MATMUL_H

#include <stddef.h>

#include "kern.h"
#include "pool.h"

typedef struct bd_mmctx {
    const bd_kern *k;
    bd_pool *pool;
    int n_threads;
    float **thr;          /* per thread: a transposed weight panel + one row */
    size_t thr_floats;
    int64_t max_in;
    float **cbuf;         /* per thread: the tile sums of a task */
    size_t cbuf_floats;
    float *xt;            /* the batch's activations in transposed token tiles */
    size_t xt_floats;
    void *pscratch;       /* packed-format prep scratch */
    size_t pscratch_size;
    int force_gemm;       /* 1: the matrix-matrix path for any token count, so each
                           * token's result is independent of the batch it is in
                           * (batched decoding of several sequences) */
} bd_mmctx;

/* One product of a batched call: y[t*out + r] = sum_i W[r,i] x[t*in + i]. */
typedef struct bd_mm { const bd_tensor *w; float *y; } bd_mm;

/* Scratch for weights with rows up to max_in elements. */
int bd_mmctx_init(bd_mmctx *c, const bd_kern *k, bd_pool *pool, int64_t max_in, bd_err *err);
void bd_mmctx_free(bd_mmctx *c);
/* All products share the input x[n*in] (q/k/v, gate/up) and run as one pool job. */
int bd_matmul(bd_mmctx *c, const bd_mm *mm, int count, const float *x, int n, bd_err *err);
/* Row r of a weight as fp32 (embedding lookup). */
void bd_weight_row(const bd_mmctx *c, const bd_tensor *w, int64_t r, float *dst);

#endif
