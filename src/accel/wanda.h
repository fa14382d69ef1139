/* Wanda pruning (strategies.md §5) and the 2:4 packed format. */
#ifndef BD_ACCEL_WANDA_H
#define BD_ACCEL_WANDA_H

#include <stdint.h>

#include "accel.h"
#include "calib.h"

/* Prunes one weight [rows, cols] in place given the input statistic
 * S[cols] (mean over samples of the per-sample sum of squares):
 * score = |W| * sqrt(S). prune 1: per row the int(cols*sparsity) lowest
 * scores (stable order, lower index first on ties); prune 2: in every run
 * of m consecutive inputs the n lowest. */
void bd_wanda_prune(float *w, int64_t rows, int64_t cols, const double *S, int prune, float sparsity,
                    int n, int m);

/* Sequential block-by-block Wanda over the model's decoder linears. */
int bd_wanda_apply(bd_model *m, const bd_accel_spec *s, const bd_accel_opts *o, bd_err *err);
/* Same with calibration sequences already at hand (tests). */
int bd_wanda_apply_calib(bd_model *m, const bd_accel_spec *s, const bd_calib *c, int threads, bd_err *err);

/* 2:4 format: per run of 4 inputs the 2 kept values (stored in the tensor's
 * original 16/32-bit dtype) and their 2-bit positions. Fails if a run has
 * more than 2 nonzeros. */
int bd_sparse24_pack(bd_tensor *t, bd_err *err);
int bd_sparse24_pack_model(bd_model *m, int64_t *n_converted, bd_err *err);
extern const bd_wops bd_sparse24_ops;
int bd_sparse24_matmul_kernel(int kind, const bd_tensor *w, const float *x, int n, float *y, int64_t r0,
                              int64_t r1);

int bd_accel_linears(bd_model *m, int l, bd_tensor *out[7]);

#endif
