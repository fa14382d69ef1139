/* The bitmask + kept-values format for unstructured sparsity against the
 * dense pruned weights it replaces: rows bit-exact, kernels against a
 * float64 dot product, and a Wanda-50 % pruned F16 model's logits with the
 * packed weights against those with the dense ones. */
#include <stdint.h>

#include "../test.h"
#include "accel/accel.h"
#include "accel/sparse50.h"
#include "accel/wanda.h"
#include "engine/engine.h"

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* One synthetic weight of dtype dt: exactly cols/2 zeros per row at random
 * positions. Widths not a multiple of 32 (or 16) exercise the last partial
 * mask word and the unbatched fallback. */
static void test_kernels(bd_dtype dt, int64_t rows, int64_t cols)
{
    uint64_t st = 1234 + (uint64_t)cols;
    size_t es = dt == BD_F32 ? 4 : 2;
    void *raw = malloc((size_t)(rows * cols) * es);
    float *dense = malloc((size_t)(rows * cols) * 4);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < cols; j++) dense[r * cols + j] = ((float)(rnd(&st) % 2001) - 1000.0f) / 997.0f + 1e-3f;
        for (int64_t k = 0; k < cols / 2;) {
            int64_t j = (int64_t)(rnd(&st) % (uint64_t)cols);
            if (dense[r * cols + j] != 0.0f) { dense[r * cols + j] = 0.0f; k++; }
        }
    }
    for (int64_t i = 0; i < rows * cols; i++) {
        if (dt == BD_F16) { ((uint16_t *)raw)[i] = bd_f32_to_f16(dense[i]); dense[i] = bd_f16_to_f32(((uint16_t *)raw)[i]); }
        else if (dt == BD_BF16) { ((uint16_t *)raw)[i] = bd_f32_to_bf16(dense[i]); dense[i] = bd_bf16_to_f32(((uint16_t *)raw)[i]); }
        else ((float *)raw)[i] = dense[i];
    }
    bd_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "w%s", bd_dtype_name(dt));
    t.dtype = dt; t.ndim = 2; t.shape[0] = rows; t.shape[1] = cols;
    t.data = raw; t.nbytes = (size_t)(rows * cols) * es;
    bd_err err = {0};
    CHECK_EQ_INT(bd_sparse50_pack(&t, &err), 0);
    CHECK(t.dtype == BD_PACKED && t.ops == &bd_sparse50_ops);
    int64_t nnz = rows * (cols - cols / 2);
    /* hand count: kept values, one bit per input rounded up to 32, offsets */
    CHECK_EQ_INT((int64_t)t.nbytes, nnz * (int64_t)es + rows * ((cols + 31) / 32) * 4 + (rows + 1) * 8);
    bd_parts pp;
    bd_sparse50_parts(&t, &pp);
    const uint32_t *mask = pp.ptr[1];
    int64_t words = (cols + 31) / 32, badpop = 0, badrow = 0;
    float *row = malloc((size_t)cols * 4);
    for (int64_t r = 0; r < rows; r++) {
        int64_t c = 0;
        for (int64_t b = 0; b < words; b++) c += __builtin_popcount(mask[r * words + b]);
        badpop += c != cols - cols / 2; /* exactly 50 % kept per row */
        t.ops->row(&t, r, row);
        badrow += memcmp(row, dense + r * cols, (size_t)cols * 4) != 0;
    }
    CHECK_EQ_INT(badpop, 0);
    CHECK_EQ_INT(badrow, 0);
    int n = 3;
    float *x = malloc((size_t)(n * cols) * 4), *y = malloc((size_t)(n * rows) * 4);
    float *ys = malloc((size_t)(n * rows) * 4);
    for (int64_t i = 0; i < n * cols; i++) x[i] = sinf((float)i * 0.37f);
    int ran[3] = {0};
    for (int nt = 1; nt <= n; nt += n - 1)
        for (int kind = 0; kind < 3; kind++) {
            if (bd_sparse50_matmul_kernel(kind, &t, x, nt, kind ? y : ys, 0, rows) != 0) continue;
            ran[kind] = 1;
            float *yy = kind ? y : ys;
            double md = 0, mk = 0;
            for (int tk = 0; tk < nt; tk++)
                for (int64_t r = 0; r < rows; r++) {
                    double ref = 0;
                    for (int64_t j = 0; j < cols; j++) ref += (double)dense[r * cols + j] * x[tk * cols + j];
                    double d = fabs(ref - yy[tk * rows + r]);
                    if (d > md) md = d;
                    if (kind) { d = fabs(y[tk * rows + r] - ys[tk * rows + r]); if (d > mk) mk = d; }
                }
            /* |w| <= 1, |x| <= 1, <= 200 products: fp32 rounding of the sum
             * stays far below 1e-5; the kernels differ only in summation order */
            CHECK_MSG(md < 1e-5, "%s %lldx%lld kernel %d n %d: max diff %g vs float64", bd_dtype_name(dt),
                      (long long)rows, (long long)cols, kind, nt, md);
            CHECK_MSG(mk < 1e-5, "%s kernel %d vs scalar: max diff %g", bd_dtype_name(dt), kind, mk);
        }
    CHECK(ran[0]);
    /* the export round trip: restore copies of the parts; a corrupt offset
     * (pointing past the values) is refused */
    void *bufs[3];
    for (int k = 0; k < 3; k++) { bufs[k] = malloc(pp.len[k] ? pp.len[k] : 1); memcpy(bufs[k], pp.ptr[k], pp.len[k]); }
    bd_tensor t2;
    memset(&t2, 0, sizeof t2);
    t2.dtype = dt; t2.ndim = 2; t2.shape[0] = rows; t2.shape[1] = cols;
    CHECK_EQ_INT(bd_sparse50_restore(&t2, bufs, &pp, &err), 0);
    int rbad = 0;
    for (int64_t r = 0; r < rows; r++) {
        t2.ops->row(&t2, r, row);
        rbad += memcmp(row, dense + r * cols, (size_t)cols * 4) != 0;
    }
    CHECK_EQ_INT(rbad, 0);
    t2.ops->free(&t2);
    for (int k = 0; k < 3; k++) { bufs[k] = malloc(pp.len[k] ? pp.len[k] : 1); memcpy(bufs[k], pp.ptr[k], pp.len[k]); }
    ((int64_t *)bufs[2])[1] += 1;
    memset(&t2, 0, sizeof t2);
    t2.dtype = dt; t2.ndim = 2; t2.shape[0] = rows; t2.shape[1] = cols;
    CHECK_EQ_INT(bd_sparse50_restore(&t2, bufs, &pp, &err), BD_EINPUT);
    for (int k = 0; k < 3; k++) free(bufs[k]);
    if (__builtin_cpu_supports("avx512vbmi2")) CHECK(ran[2]); /* the vector path really ran */
    t.ops->free(&t);
    free(row); free(x); free(y); free(ys); free(raw); free(dense);
}

static int logits(bd_model *m, const int32_t *ids, int T, float *out, bd_err *err)
{
    bd_engine *e = NULL;
    bd_engine_opts eo = {0};
    eo.threads = 2; /* row ranges split across threads */
    bd_kv *kv = NULL;
    int rc = bd_engine_new(m, &eo, &e, err);
    if (!rc) rc = bd_engine_kv_new(e, T, &kv, err);
    if (!rc) rc = bd_forward(e, kv, ids, T, out, 1, err);
    bd_kv_free(kv);
    bd_engine_free(e);
    return rc;
}

static void test_model(const char *path)
{
    bd_model *m = NULL;
    bd_err err = {0};
    if (bd_model_load(path, &m, &err)) { CHECK_MSG(0, "%s", err.msg); return; }
    int ns = 2, T = 16;
    int32_t ids[32];
    uint64_t st = 42;
    for (int i = 0; i < ns * T; i++) ids[i] = (int32_t)(rnd(&st) % (uint64_t)m->cfg.vocab_size);
    bd_calib c = {ns, T, ids};
    bd_accel_spec s;
    CHECK_EQ_INT(bd_accel_parse("wanda50", &s, &err), 0);
    CHECK_MSG(bd_wanda_apply_calib(m, &s, &c, 1, &err) == 0, "%s", err.msg);
    CHECK(m->layers[0].wq->dtype == BD_F16);
    size_t V = (size_t)m->cfg.vocab_size;
    float *l1 = malloc((size_t)T * V * 4), *l2 = malloc((size_t)T * V * 4);
    CHECK_MSG(logits(m, ids, T, l1, &err) == 0, "%s", err.msg);
    size_t before = 0, after = 0, expect = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int k = bd_accel_linears(m, l, lin);
        for (int i = 0; i < k; i++) before += lin[i]->nbytes;
    }
    int64_t nconv = 0;
    CHECK_EQ_INT(bd_sparse50_pack_model(m, &nconv, &err), 0);
    CHECK_EQ_INT(nconv, 7 * m->cfg.n_layers);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int k = bd_accel_linears(m, l, lin);
        for (int i = 0; i < k; i++) {
            CHECK(lin[i]->ops == &bd_sparse50_ops);
            after += lin[i]->nbytes;
            int64_t r = lin[i]->shape[0], cl = lin[i]->shape[1];
            expect += (size_t)(r * (cl - cl / 2) * 2 + r * ((cl + 31) / 32) * 4 + (r + 1) * 8);
        }
    }
    /* 2 B -> 50 % x 2 B + 1/8 B, + 8 B offsets per row (large here: rows
     * are only 64..172 inputs long) */
    CHECK_MSG(after == expect && after < before, "packed %zu (expected %zu) vs dense %zu bytes", after, expect, before);
    CHECK_MSG(logits(m, ids, T, l2, &err) == 0, "%s", err.msg);
    double md = 0, mx = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) {
        if (fabs(l1[i] - l2[i]) > md) md = fabs(l1[i] - l2[i]);
        if (fabs(l1[i]) > mx) mx = fabs(l1[i]);
    }
    /* same weights exactly; only the order of the fp32 sums in each dot
     * product differs (expand-loads vs the dense kernel), a few ulps of
     * logits of magnitude ~mx */
    CHECK_MSG(md < 1e-5, "%s: packed vs dense logits max diff %g (max |logit| %g)", path, md, mx);
    free(l1); free(l2);
    bd_model_free(m);
}

int main(void)
{
    bd_dtype dts[3] = {BD_F16, BD_BF16, BD_F32};
    for (int i = 0; i < 3; i++) {
        test_kernels(dts[i], 9, 64);  /* batched tiles */
        test_kernels(dts[i], 7, 200); /* partial last mask word, cols % 16 != 0 */
        test_kernels(dts[i], 5, 77);
    }
    test_model("tests/reference/models/llama_tied_f16");
    test_model("tests/reference/models/llama_mha_f16");
    return test_done();
}
