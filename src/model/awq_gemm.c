/* Reference kernels of an AutoAWQ GEMM linear read straight from its
 * checkpoint layout (see awq_gemm.h). */
#include "awq_gemm.h"

#include <stdlib.h>
#include <string.h>

/* nibble of output o%8 within its word: the inverse of ORDER */
static const int INV[8] = {0, 4, 1, 5, 2, 6, 3, 7};

static uint32_t word(const void *base, int64_t idx)
{
    const uint8_t *p = (const uint8_t *)base + idx * 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void bd_awq_gemm_at(const bd_awq_gemm_raw *r, int64_t o, int64_t i, int *q, int *z, float *s)
{
    int64_t w = r->out / 8, g = i / r->group;
    int sh = 4 * INV[o % 8];
    *q = (int)((word(r->qweight, i * w + o / 8) >> sh) & 15);
    *z = (int)((word(r->qzeros, g * w + o / 8) >> sh) & 15);
    const uint8_t *h = (const uint8_t *)r->scales + (g * r->out + o) * 2;
    *s = bd_f16_to_f32((uint16_t)(h[0] | h[1] << 8));
}

static void ops_row(const bd_tensor *t, int64_t o, float *dst)
{
    const bd_awq_gemm_raw *r = t->aux;
    for (int64_t i = 0; i < r->in; i++) {
        int q, z;
        float s;
        bd_awq_gemm_at(r, o, i, &q, &z, &s);
        dst[i] = (float)(q - z) * s;
    }
}

static void ops_matmul(const bd_tensor *t, const float *x, const void *scratch, int n, float *y, int64_t r0,
                       int64_t r1)
{
    (void)scratch;
    const bd_awq_gemm_raw *r = t->aux;
    enum { CH = 256 };
    float buf[CH];
    for (int64_t o = r0; o < r1; o++) {
        for (int k = 0; k < n; k++) y[(int64_t)k * r->out + o] = 0.0f;
        for (int64_t i0 = 0; i0 < r->in; i0 += CH) {
            int64_t len = r->in - i0 < CH ? r->in - i0 : CH;
            for (int64_t i = 0; i < len; i++) {
                int q, z;
                float s;
                bd_awq_gemm_at(r, o, i0 + i, &q, &z, &s);
                buf[i] = (float)(q - z) * s;
            }
            for (int k = 0; k < n; k++) {
                const float *xk = x + (int64_t)k * r->in + i0;
                float acc = 0.0f;
                for (int64_t i = 0; i < len; i++) acc += buf[i] * xk[i];
                y[(int64_t)k * r->out + o] += acc;
            }
        }
    }
}

static void ops_free(bd_tensor *t)
{
    free(t->aux);
    t->aux = NULL;
}

const bd_wops bd_awq_gemm_ops = {
    .name = "awq-gemm",
    .prep_size = NULL,
    .prep = NULL,
    .matmul = ops_matmul,
    .row = ops_row,
    .free = ops_free,
};

int bd_awq_gemm_attach(bd_tensor *t, const bd_awq_gemm_raw *raw, bd_err *err)
{
    if (t->ndim != 2 || t->shape[0] != raw->out || t->shape[1] != raw->in || raw->group <= 0 ||
        raw->in % raw->group || raw->out % 8)
        return bd_fail(err, BD_EINPUT, "%s: AutoAWQ GEMM linear [%lld, %lld] with group %d: inputs must be a "
                       "multiple of the group and outputs of 8", t->name, (long long)raw->out,
                       (long long)raw->in, raw->group);
    bd_awq_gemm_raw *r = malloc(sizeof *r);
    if (!r) return bd_oom(err, "awq gemm linear");
    *r = *raw;
    t->dtype = BD_PACKED;
    t->ops = &bd_awq_gemm_ops;
    t->aux = r;
    t->owned = 0;
    return 0;
}
