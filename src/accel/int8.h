/* LLM.int8 (bitsandbytes MatMul8bitLt, strategies.md §2): per-row int8
 * weights CB = rint(W*127/SCB), SCB = row absmax; per call the activations
 * are quantized per token with outliers |x| >= 6 excluded from the row absmax,
 * every column holding an outlier (over all tokens of the call) is zeroed in
 * the int8 operand and computed in fp32 against the dequantized weight
 * columns; int32 accumulation, dequant C32 * SCA * SCB * (1/16129). */
#ifndef BD_ACCEL_INT8_H
#define BD_ACCEL_INT8_H

#include <stdint.h>

#include "../model/tensor.h"
#include "../util/err.h"

#define BD_INT8_THRESHOLD 6.0f
/* bitsandbytes' MM_DEQUANT_CONST (kernels.cu) = 1/(127*127) */
#define BD_INT8_DEQUANT 6.200012e-05f

/* Row-wise quantization of rows x cols: scale[r] = max|w_r|,
 * q = rint(w * (127/scale)) (0 for an all-zero row). */
void bd_int8_quant_rows(const float *w, int64_t rows, int64_t cols, int8_t *q, float *scale);

int bd_int8_pack(bd_tensor *t, bd_err *err);
extern const bd_wops bd_int8_ops;

/* Kernels for tests: kind 0 scalar, 1 AVX2, 2 AVX-512 VNNI; -1 if unavailable.
 * scratch comes from the ops' prep. */
int bd_int8_matmul_kernel(int kind, const bd_tensor *w, const float *x, const void *scratch, int n,
                          float *y, int64_t r0, int64_t r1);
/* What prep found, for tests: outlier columns and per-token scales. */
int bd_int8_prep_info(const void *scratch, const int32_t **cols, const float **sca,
                      const uint8_t **ca_biased);

#endif
