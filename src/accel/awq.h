/* AWQ w4 zero-point (AutoAWQ v0.2.7 defaults, strategies.md §3): per decoder
 * block, input features of every linear are captured on the full-precision
 * activations (AutoAWQ's _get_input_feat runs each block before it is
 * scaled or quantized, so the chain of block inputs is the original model's),
 * the 20-point duo-scaling grid is searched per scaling group with the MSE
 * of the inspected module's output, scales are folded into the previous
 * norm / linear, weights of all linears but q/k are clipped by the shrink
 * search, then every linear is quantized per group of g inputs and packed
 * (codes, fp16 scales as AutoAWQ stores them, integer zeros). */
#ifndef BD_ACCEL_AWQ_H
#define BD_ACCEL_AWQ_H

#include <stdint.h>

#include "accel.h"
#include "calib.h"

/* AutoAWQ pseudo_quantize_tensor (w_bit 4, zero point) of one group of g
 * values in place; returns scale and integer zero; q (optional) gets codes. */
void bd_awq_qgroup(float *w, int g, float *scale, float *zero, uint8_t *q);

/* Diagnostics of a run (tests): per layer the chosen grid index of each of
 * the four scaling groups (-1 when skipped) and the 20 losses. */
typedef struct bd_awq_trace {
    int best[64][4];
    double loss[64][4][20];
} bd_awq_trace;

int bd_awq_apply(bd_model *m, const bd_accel_spec *s, const bd_accel_opts *o, bd_err *err);
int bd_awq_apply_calib(bd_model *m, int group, const bd_calib *c, int threads, bd_awq_trace *trace,
                       bd_err *err);

/* Packed format: per row 4-bit codes (even index in the low nibble), per
 * group an fp16 scale and a uint8 zero; W = (q - z) * scale. */
int bd_awq4_pack_codes(bd_tensor *t, int group, const uint8_t *q, const float *scales, const uint8_t *zeros,
                       bd_err *err);
extern const bd_wops bd_awq4_ops;
int bd_awq4_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0, int64_t r1);

/* AutoAWQ GEMM checkpoint layout <-> codes [out, in], zeros and scales
 * [out, in/group] (scales travel as fp16 in the checkpoint). */
void bd_awq_gemm_pack(const uint8_t *q, const uint8_t *z, const float *s, int64_t in, int64_t out, int group,
                      int32_t *qweight, int32_t *qzeros, uint16_t *scales);
int bd_awq_gemm_unpack(const int32_t *qweight, const int32_t *qzeros, const uint16_t *scales, int64_t in,
                       int64_t out, int group, uint8_t *q, uint8_t *z, float *s, bd_err *err);

#endif
