/* Published AutoAWQ GEMM checkpoints: the HF loader binds their linears in
 * the checkpoint layout (model/awq_gemm.h) because the model module cannot
 * depend on this one; here they become awq4 tensors (same codes, zeros and
 * fp16 scales) so the engine gets the fast packed kernels. Unpacking goes
 * through bd_awq_gemm_unpack, the code checked against AutoAWQ's own packer. */
#include <stdlib.h>
#include <string.h>

#include "../model/awq_gemm.h"
#include "accel.h"
#include "awq.h"
#include "wanda.h"

static int adopt_one(bd_tensor *t, bd_err *err)
{
    const bd_awq_gemm_raw *r = t->aux;
    int64_t in = r->in, out = r->out, ng = in / r->group, w = out / 8;
    /* the mapped parts need not be 4-byte aligned: copy before reading as int32 */
    int32_t *qw = malloc((size_t)(in * w) * 4), *qz = malloc((size_t)(ng * w) * 4);
    uint16_t *sc = malloc((size_t)(ng * out) * 2);
    uint8_t *q = malloc((size_t)(in * out)), *z = malloc((size_t)(ng * out));
    float *s = malloc((size_t)(ng * out) * sizeof(float));
    int rc = 0;
    if (!qw || !qz || !sc || !q || !z || !s) rc = bd_oom(err, "awq checkpoint linear");
    if (!rc) {
        memcpy(qw, r->qweight, (size_t)(in * w) * 4);
        memcpy(qz, r->qzeros, (size_t)(ng * w) * 4);
        memcpy(sc, r->scales, (size_t)(ng * out) * 2);
        rc = bd_awq_gemm_unpack(qw, qz, sc, in, out, r->group, q, z, s, err);
    }
    /* fp16 -> fp32 -> fp16 is exact, so the awq4 scales are the checkpoint's */
    if (!rc) rc = bd_awq4_pack_codes(t, r->group, q, s, z, err);
    free(qw); free(qz); free(sc); free(q); free(z); free(s);
    return rc;
}

int bd_accel_adopt(bd_model *m, int64_t *n_adopted, bd_err *err)
{
    *n_adopted = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int n = bd_accel_linears(m, l, lin);
        for (int i = 0; i < n; i++) {
            if (lin[i]->dtype != BD_PACKED || lin[i]->ops != &bd_awq_gemm_ops) continue;
            int rc = adopt_one(lin[i], err);
            if (rc) return bd_wrap(err, "%s", lin[i]->name);
            (*n_adopted)++;
        }
    }
    return 0;
}
