/* Helpers shared by the weight formats: CPU feature checks, reading a weight
 * as fp32, swapping a tensor's storage for a packed format. */
#ifndef BD_ACCEL_WUTIL_H
#define BD_ACCEL_WUTIL_H

#include <stddef.h>

#include "../model/tensor.h"

int bd_cpu_avx2(void);    /* AVX2 + FMA */
int bd_cpu_avx512(void);  /* AVX-512 F/BW/VL */
int bd_cpu_vnni512(void); /* AVX-512 VNNI */

/* The whole 2-D tensor as a malloc'd fp32 array (row-major); NULL on OOM. */
float *bd_tensor_f32(const bd_tensor *t);

/* Replaces t's storage with a packed format: frees what t owned before (a
 * previous packed format through its ops, or owned heap data). */
void bd_tensor_set_packed(bd_tensor *t, const void *data, size_t nbytes, const bd_wops *ops,
                          void *aux);
/* Replaces t's storage with owned dense fp32 data [rows, cols]. */
void bd_tensor_set_f32(bd_tensor *t, float *data);

#endif

/* Shared batched inner kernel: y[t*ys + i] += sum_j buf[i*ld + j] * x[t*xs + j]
 * for rows i < nr (<= 4; rows nr..3 of buf are ignored), tokens t < n and
 * j < len (len a multiple of 16). Formats dequantize a tile of rows into buf
 * and let this do the arithmetic, so every token reuses the dequantized tile. */
void bd_tile_accum(const float *buf, int64_t ld, int nr, int64_t len, const float *x, int64_t xs, int n,
                   float *y, int64_t ys);

/* Batched matmul through full-width dequantized row tiles: deq fills rows
 * r..r+nr-1 (nr <= 4) into buf (ld floats apart); every token reuses them.
 * Needs cols % 16 == 0. Returns -1 (nothing done) if its buffer cannot be
 * allocated, so the caller can fall back. */
typedef void (*bd_deq_rows_fn)(const void *fmt, int64_t r, int nr, float *buf, int64_t ld);
int bd_tiled_matmul(const void *fmt, bd_deq_rows_fn deq, int64_t cols, int64_t out, const float *x, int n,
                    float *y, int64_t r0, int64_t r1);
