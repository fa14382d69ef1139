/* Linears of a published AutoAWQ GEMM checkpoint (quant_method "awq",
 * version "gemm", 4 bits, zero point) as the HF loader finds them:
 * qweight [in, out/8] int32, qzeros [in/group, out/8] int32, scales
 * [in/group, out] fp16, nibble k of a word holding output 8c + ORDER[k],
 * ORDER = 0 2 4 6 1 3 5 7 (AutoAWQ's packing order). W[o, i] =
 * (q - z) * s of i's group. The loader binds such a linear as a BD_PACKED
 * tensor with these ops: correct but slow scalar kernels over the mapped
 * bytes. bd_accel_apply (src/accel, which the model module may not depend
 * on) converts them into its fast awq4 format before any engine runs;
 * the scalar kernels only keep a model that skipped that step correct. */
#ifndef BD_AWQ_GEMM_H
#define BD_AWQ_GEMM_H

#include <stdint.h>

#include "../util/err.h"
#include "tensor.h"

typedef struct bd_awq_gemm_raw {
    const void *qweight; /* little-endian int32, possibly unaligned (mmap) */
    const void *qzeros;
    const void *scales;  /* fp16 */
    int64_t in, out;
    int group;
} bd_awq_gemm_raw;

extern const bd_wops bd_awq_gemm_ops;

/* Makes t (already [out, in]) an AutoAWQ GEMM linear over raw's bytes
 * (not copied: they must outlive t). */
int bd_awq_gemm_attach(bd_tensor *t, const bd_awq_gemm_raw *raw, bd_err *err);

/* Code, zero and scale of weight (o, i) (the layout above). */
void bd_awq_gemm_at(const bd_awq_gemm_raw *r, int64_t o, int64_t i, int *q, int *z, float *s);

#endif
