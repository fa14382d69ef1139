/* Engine-internal compute kernels, one table per instruction set (scalar,
 * AVX2+FMA+F16C, AVX-512). The table is picked once at engine creation from
 * __builtin_cpu_supports, so the binary runs on any x86-64 (and the scalar
 * table on anything else).
 *
 * Quantized weights are never expanded as a whole: every kernel dequantizes
 * one GGUF block (32 or 256 weights) at a time, in registers or a small stack
 * buffer, right where it is multiplied with the fp32 activations. */
#ifndef BD_KERN_H
#define BD_KERN_H

#include <stdint.h>

#include "../model/tensor.h"

/* dot(row of n weights in the table's dtype, x[n]) with fp32 accumulation */
typedef float (*bd_dot_fn)(const void *row, const float *x, int64_t n);
/* row of n weights -> fp32 dst[n] */
typedef void (*bd_deq_fn)(const void *row, float *dst, int64_t n);
/* Register-tiled matrix product for batches: a panel of BD_GEMM_R weight
 * rows stored transposed (panel[i*R + j] = W[j][i]) times a tile of
 * BD_GEMM_T tokens stored transposed (xt[i*T + t] = x[t][i]):
 * out[t*R + j] = sum over i = 0..k-1 of panel[i*R + j] * xt[i*T + t],
 * accumulated in order of i in one fp32 lane per (t, j), so every result is
 * independent of the other rows and tokens in the tile. */
enum { BD_GEMM_R = 32, BD_GEMM_T = 12 };
/* add: start from the sums already in out (a later block of k) instead of 0;
 * the lane then continues the same sequential sum. */
typedef void (*bd_gemm_fn)(const float *panel, const float *xt, int64_t k, float *out, int add);

typedef struct bd_kern {
    const char *name;
    bd_dot_fn dot[BD_DTYPE_COUNT];
    bd_deq_fn deq[BD_DTYPE_COUNT];
    bd_gemm_fn gemm;
    float (*dot_f32)(const float *a, const float *b, int64_t n); /* attention */
    void (*axpy)(float *y, float a, const float *x, int64_t n);  /* y += a x */
    /* Attention over n cached positions (rows ld floats apart); NULL = the
     * engine loops over dot_f32 / axpy. Bit-identical to those loops:
     * att_qk: sc[s] = dot_f32(q, k + s*ld, hd) * scale;
     * att_av: o = 0, then o += w[s] * v[s*ld..] in order of s (as axpy). */
    void (*att_qk)(const float *q, const float *k, int64_t ld, int n, int hd, float scale, float *sc);
    void (*att_av)(float *o, const float *w, const float *v, int64_t ld, int n, int hd);
    /* panel[i*BD_GEMM_R + j] = rows[j*ld + i] for j < BD_GEMM_R, i < k */
    void (*panel)(const float *rows, int64_t ld, int64_t k, float *panel);
} bd_kern;

/* level: 0 scalar, 1 avx2, 2 avx512, -1 best the CPU supports. A level the
 * CPU lacks falls back to the best one below it. */
const bd_kern *bd_kern_pick(int level);

const bd_kern *bd_kern_scalar(void);
const bd_kern *bd_kern_avx2(void);   /* NULL if not compiled for x86-64 */
const bd_kern *bd_kern_avx512(void); /* NULL if not compiled for x86-64 */

void bd_kern_panel_scalar(const float *rows, int64_t ld, int64_t k, float *panel);

/* Block geometry of the kernel dtypes (scalar types: 1 element). */
int bd_kern_block_elems(bd_dtype t);
int bd_kern_block_bytes(bd_dtype t);

#endif
