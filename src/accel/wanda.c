/* Wanda: statistics from the engine's linear-input observer while running
 * one decoder block at a time (bd_engine_block), pruning each block before
 * its outputs feed the next. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "wanda.h"
#include "wutil.h"

typedef struct sidx { float s; int32_t i; } sidx;

static inline int sidx_lt(sidx a, sidx b) { return a.s < b.s || (a.s == b.s && a.i < b.i); }

/* Moves the k smallest (score, index) pairs to buf[0..k): quickselect with
 * the index as tie-break, which selects exactly what a stable ascending sort
 * would put first. */
static void select_k(sidx *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        sidx piv = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (sidx_lt(a[i], piv)) i++;
            while (sidx_lt(piv, a[j])) j--;
            if (i <= j) { sidx t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

void bd_wanda_prune(float *w, int64_t rows, int64_t cols, const double *S, int prune, float sparsity,
                    int n, int m)
{
    float *sq = malloc((size_t)cols * sizeof(float));
    sidx *buf = malloc((size_t)cols * sizeof(sidx));
    if (!sq || !buf) { free(sq); free(buf); return; }
    for (int64_t j = 0; j < cols; j++) sq[j] = (float)sqrt(S[j]);
    int64_t k = (int64_t)((double)cols * sparsity);
    for (int64_t r = 0; r < rows; r++) {
        float *wr = w + r * cols;
        if (prune == 1) {
            for (int64_t j = 0; j < cols; j++) { buf[j].s = fabsf(wr[j]) * sq[j]; buf[j].i = (int32_t)j; }
            if (k > 0 && k < cols) select_k(buf, cols, k);
            for (int64_t j = 0; j < k; j++) wr[buf[j].i] = 0.0f;
        } else {
            for (int64_t j0 = 0; j0 + m <= cols; j0 += m) {
                sidx g[8];
                for (int j = 0; j < m; j++) { g[j].s = fabsf(wr[j0 + j]) * sq[j0 + j]; g[j].i = (int32_t)(j0 + j); }
                /* insertion sort of m <= 8 (score, index) pairs */
                for (int a = 1; a < m; a++)
                    for (int b = a; b > 0 && sidx_lt(g[b], g[b - 1]); b--) { sidx t = g[b]; g[b] = g[b - 1]; g[b - 1] = t; }
                for (int j = 0; j < n; j++) wr[g[j].i] = 0.0f;
            }
        }
    }
    free(sq);
    free(buf);
}

/* Observer state: per linear of the current layer, the running sums. */
enum { L_Q, L_K, L_V, L_O, L_GATE, L_UP, L_DOWN, L_COUNT };
static const char *LNAMES[L_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};

typedef struct wctx {
    int layer, active;
    int64_t cols[L_COUNT];
    double *acc[L_COUNT]; /* this sample's sum of squares */
    double *S[L_COUNT];   /* sum over samples */
} wctx;

static void observe(void *ctx, int layer, const char *which, const float *x, int n, int in)
{
    wctx *w = ctx;
    if (!w->active || layer != w->layer) return;
    for (int k = 0; k < L_COUNT; k++) {
        if (strcmp(which, LNAMES[k]) != 0) continue;
        if (in != w->cols[k] || !w->acc[k]) return;
        double *a = w->acc[k];
        for (int t = 0; t < n; t++)
            for (int j = 0; j < in; j++) {
                double v = x[(int64_t)t * in + j];
                a[j] += v * v;
            }
        return;
    }
}

/* Replaces a weight by pruned values, keeping 16/32-bit float storage. */
static int store_dense(bd_tensor *t, float *w, bd_err *err)
{
    int64_t n = bd_tensor_nelem(t);
    if (t->dtype == BD_F16 || t->dtype == BD_BF16) {
        uint16_t *h = malloc((size_t)n * 2);
        if (!h) return bd_oom(err, "pruned weights");
        for (int64_t i = 0; i < n; i++) h[i] = t->dtype == BD_F16 ? bd_f32_to_f16(w[i]) : bd_f32_to_bf16(w[i]);
        bd_dtype dt = t->dtype;
        bd_tensor_set_f32(t, w); /* releases the old storage */
        t->dtype = dt;
        t->data = h;
        t->nbytes = (size_t)n * 2;
        free(w);
        return 0;
    }
    bd_tensor_set_f32(t, w);
    return 0;
}

int bd_wanda_apply_calib(bd_model *m, const bd_accel_spec *s, const bd_calib *c, int threads, bd_err *err)
{
    const bd_config *cfg = &m->cfg;
    wctx w;
    memset(&w, 0, sizeof w);
    bd_engine_opts eo = {0};
    eo.threads = threads;
    eo.observer = observe;
    eo.observer_ctx = &w;
    bd_engine *e = NULL;
    int rc = bd_engine_new(m, &eo, &e, err);
    if (rc) return rc;
    size_t D = (size_t)cfg->dim, T = (size_t)c->seqlen;
    float *x = malloc(sizeof(float) * (size_t)c->n * T * D);
    float *tmp = malloc(sizeof(float) * T * D);
    if (!x || !tmp) rc = bd_oom(err, "wanda activations");
    /* block 0 inputs: the token embeddings */
    for (int sidx_ = 0; !rc && sidx_ < c->n; sidx_++)
        for (size_t t = 0; t < T; t++) {
            int32_t id = c->ids[(size_t)sidx_ * T + t];
            if (id < 0 || id >= cfg->vocab_size) { rc = bd_fail(err, BD_EINPUT, "wanda: calibration token %d outside the vocabulary", id); break; }
            bd_tensor_row(m->tok_embd, id, x + ((size_t)sidx_ * T + t) * D);
        }
    for (int l = 0; !rc && l < cfg->n_layers; l++) {
        bd_tensor *lin[7];
        if (bd_accel_linears(m, l, lin) != 7) { rc = bd_fail(err, BD_EINPUT, "wanda: layer %d lacks a linear", l); break; }
        w.layer = l;
        for (int k = 0; k < L_COUNT && !rc; k++) {
            w.cols[k] = lin[k]->shape[1];
            w.acc[k] = calloc((size_t)w.cols[k], sizeof(double));
            w.S[k] = calloc((size_t)w.cols[k], sizeof(double));
            if (!w.acc[k] || !w.S[k]) rc = bd_oom(err, "wanda statistics");
        }
        /* statistics of the unpruned block on the (pruned) previous outputs */
        w.active = 1;
        for (int si = 0; !rc && si < c->n; si++) {
            memcpy(tmp, x + (size_t)si * T * D, sizeof(float) * T * D);
            for (int k = 0; k < L_COUNT; k++) memset(w.acc[k], 0, sizeof(double) * (size_t)w.cols[k]);
            rc = bd_engine_block(e, l, tmp, (int)T, err);
            for (int k = 0; !rc && k < L_COUNT; k++)
                for (int64_t j = 0; j < w.cols[k]; j++) w.S[k][j] += w.acc[k][j];
        }
        w.active = 0;
        for (int k = 0; !rc && k < L_COUNT; k++) {
            for (int64_t j = 0; j < w.cols[k]; j++) w.S[k][j] /= (double)c->n;
            float *wt = bd_tensor_f32(lin[k]);
            if (!wt) { rc = bd_oom(err, "wanda weights"); break; }
            bd_wanda_prune(wt, lin[k]->shape[0], lin[k]->shape[1], w.S[k], s->prune, s->sparsity,
                           s->prune_n, s->prune_m);
            rc = store_dense(lin[k], wt, err);
        }
        for (int k = 0; k < L_COUNT; k++) { free(w.acc[k]); free(w.S[k]); w.acc[k] = w.S[k] = NULL; }
        /* next block's inputs come from the pruned block */
        for (int si = 0; !rc && si < c->n; si++) rc = bd_engine_block(e, l, x + (size_t)si * T * D, (int)T, err);
    }
    free(x);
    free(tmp);
    bd_engine_free(e);
    return rc;
}

int bd_wanda_apply(bd_model *m, const bd_accel_spec *s, const bd_accel_opts *o, bd_err *err)
{
    bd_calib c;
    int len = m->cfg.max_seq > 0 && m->cfg.max_seq < 512 ? m->cfg.max_seq : 512;
    int rc = bd_calib_get(m, o, BD_CALIB_WANDA, 128, len, &c, err);
    if (rc) return rc;
    rc = bd_wanda_apply_calib(m, s, &c, o ? o->threads : 0, err);
    bd_calib_free(&c);
    return rc;
}
