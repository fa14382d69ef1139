/* Packed unstructured-sparse weights (Wanda 50 % and other unstructured
 * ratios): per row a bitmask over the inputs (1 = kept) and the kept values
 * contiguous, in a dtype that holds them exactly (the tensor's own F16/BF16,
 * otherwise fp32), with per-row offsets into the values. */
#ifndef BD_ACCEL_SPARSE50_H
#define BD_ACCEL_SPARSE50_H

#include <stddef.h>
#include <stdint.h>

#include "../model/model.h"
#include "../util/err.h"
#include "parts.h"

extern const bd_wops bd_sparse50_ops;

/* Packs t (any 2-D dtype) keeping its nonzeros. */
int bd_sparse50_pack(bd_tensor *t, bd_err *err);
/* Bytes the packed form of a [rows, cols] weight with nnz kept values of
 * value dtype vt (F16/BF16: 2 B, otherwise 4 B) takes. */
size_t bd_sparse50_bytes(int64_t rows, int64_t cols, int64_t nnz, bd_dtype vt);
/* Packs every decoder linear stored as F16/BF16 whose packed form is smaller
 * than its dense form; counts those packed. (F32 and dequantized bases stay
 * dense until the .bdq export knows this format.) */
int bd_sparse50_pack_model(bd_model *m, int64_t *n_converted, bd_err *err);
/* kind 0: scalar reference; 2: AVX-512 (VBMI2 expand loads). Returns -1 if
 * the kind is unavailable on this CPU. */
int bd_sparse50_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0,
                              int64_t r1);
/* Raw arrays for the .bdq export (parts.h): values, masks, offsets. */
int bd_sparse50_parts(const bd_tensor *t, bd_parts *p);
int bd_sparse50_restore(bd_tensor *t, void **bufs, const bd_parts *p, bd_err *err);

#endif
