/* bitsandbytes 4-bit (FP4 / NF4) blockwise quantization and its packed weight
 * format (strategies.md §1). Quantization reproduces the bitsandbytes CPU
 * backend bit for bit: fp32 absmax per 64-block of the row-major flattened
 * weight, x*(1/absmax) clamped to [-1,1] (x/absmax for a trailing partial
 * block), bucketized against fp32 midpoints of the sorted code table with ties
 * to the lower value, even flat index in the high nibble. */
#ifndef BD_ACCEL_BNB4_H
#define BD_ACCEL_BNB4_H

#include <stddef.h>
#include <stdint.h>

#include "../model/tensor.h"
#include "../util/err.h"

enum { BD_BNB_FP4 = 0, BD_BNB_NF4 = 1 };

/* The 16 fp32 code values of a type, indexed by the 4-bit code. */
const float *bd_bnb4_code(int type);
/* bitsandbytes create_dynamic_map(signed=True): 256 sorted fp32 values. */
void bd_bnb_dynamic_map(float map[256]);

/* Quantizes n values (flat) into q[(n+1)/2] and absmax[ceil(n/bs)]. */
void bd_bnb4_quantize(const float *w, int64_t n, int type, int bs, uint8_t *q, float *absmax);
/* Inverse: out[i] = code[q_i] * absmax[i/bs]. */
void bd_bnb4_dequant(const uint8_t *q, const float *absmax, int64_t n, int type, int bs, float *out);

/* Double quantization of nb absmax values: offset = mean, 8-bit blockwise
 * (256) with the dynamic map, nearest entry (ties to the lower index). */
void bd_bnb_dq_quantize(const float *absmax, int64_t nb, uint8_t *qabs, float *abs2, float *offset);
float bd_bnb_dq_value(const float map[256], const uint8_t *qabs, const float *abs2, float offset,
                      int64_t b);

/* Packed weight: converts a 2-D tensor (any dtype bd_tensor_row reads) in
 * place to BD_PACKED with the bnb 4-bit format; the old data is not freed
 * (the caller's model owns its mapping). */
int bd_bnb4_pack(bd_tensor *t, int type, int dq, bd_err *err);
extern const bd_wops bd_bnb4_ops;

/* Kernels, exposed for tests: 0 scalar reference, 1 AVX2, 2 AVX-512; the
 * ops pick the best the CPU has. Returns -1 if that kernel is unavailable. */
int bd_bnb4_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y,
                          int64_t r0, int64_t r1);

#endif
