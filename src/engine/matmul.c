/* Work split: tasks are fixed chunks of CH output rows counted from row 0,
 * so a row's result never depends on the thread count or on which thread
 * computes it.
 *
 * Up to DOT_MAX_N tokens (decode): each row is dotted with each token directly
 * from its stored bytes, dequantizing one block at a time inside the kernel
 * (bandwidth bound: every weight byte is read once per token).
 * More tokens (prefill, scoring): the activations are first
 * repacked into tiles of BD_GEMM_T tokens (transposed, so a kernel step
 * reads T consecutive floats); each task dequantizes its CH rows once
 * into transposed fp32 panels and multiplies it with every token tile in a
 * register-tiled kernel (compute bound: matrix-matrix, each weight is
 * reused for every token of the batch). */
#include "matmul.h"

#include <stdlib.h>
#include <string.h>

/* CH rows per task = NP panels of BD_GEMM_R rows; k is processed in blocks
 * of KB so a panel block and a token-tile block stay in L1 while a
 * tile's activations, streamed from memory once per task, serve CH rows. */
enum { NP = 4, CH = NP * BD_GEMM_R, KB = 128, CH_PACKED = 64, DOT_MAX_N = 3 };

static int64_t w_out(const bd_tensor *w) { return w->shape[0]; }
static int64_t w_in(const bd_tensor *w) { return w->shape[w->ndim - 1]; }

static size_t row_bytes(const bd_tensor *w)
{
    return (size_t)(w_in(w) / bd_kern_block_elems(w->dtype)) * (size_t)bd_kern_block_bytes(w->dtype);
}

int bd_mmctx_init(bd_mmctx *c, const bd_kern *k, bd_pool *pool, int64_t max_in, bd_err *err)
{
    memset(c, 0, sizeof *c);
    c->k = k;
    c->pool = pool;
    c->n_threads = bd_pool_threads(pool);
    c->max_in = max_in;
    c->thr_floats = (size_t)(CH + BD_GEMM_R) * (size_t)max_in;
    c->thr = calloc((size_t)c->n_threads, sizeof *c->thr);
    c->cbuf = calloc((size_t)c->n_threads, sizeof *c->cbuf);
    if (!c->thr || !c->cbuf) { bd_mmctx_free(c); return bd_oom(err, "matmul scratch"); }
    for (int i = 0; i < c->n_threads; i++) {
        c->thr[i] = aligned_alloc(64, (c->thr_floats * sizeof(float) + 63) & ~(size_t)63);
        if (!c->thr[i]) { bd_mmctx_free(c); return bd_oom(err, "matmul scratch"); }
    }
    return 0;
}

void bd_mmctx_free(bd_mmctx *c)
{
    for (int i = 0; i < c->n_threads; i++) {
        if (c->thr) free(c->thr[i]);
        if (c->cbuf) free(c->cbuf[i]);
    }
    free(c->thr);
    free(c->cbuf);
    free(c->pscratch);
    free(c->xt);
    memset(c, 0, sizeof *c);
}

void bd_weight_row(const bd_mmctx *c, const bd_tensor *w, int64_t r, float *dst)
{
    if (w->dtype == BD_PACKED) {
        w->ops->row(w, r, dst);
        return;
    }
    c->k->deq[w->dtype]((const uint8_t *)w->data + (size_t)r * row_bytes(w), dst, w_in(w));
}

typedef struct job {
    bd_mmctx *c;
    const bd_mm *mm;
    int count;
    const float *x;
    int n;
    int64_t first[4];           /* first task index of each product */
    const void *pscr[3];        /* prep scratch of each packed product */
} job;

static void run_dense(const job *j, const bd_tensor *w, float *y, int64_t r0, int64_t r1, int thread)
{
    const bd_kern *k = j->c->k;
    const int64_t in = w_in(w), out = w_out(w);
    const size_t rb = row_bytes(w);
    const uint8_t *base = w->data;
    const int n = j->n;
    if (n <= DOT_MAX_N && !j->c->force_gemm) {
        bd_dot_fn dot = k->dot[w->dtype];
        for (int64_t r = r0; r < r1; r++)
            for (int t = 0; t < n; t++) y[(size_t)t * out + r] = dot(base + (size_t)r * rb, j->x + (size_t)t * in, in);
        return;
    }
    /* the chunk's rows, dequantized and transposed into NP panels:
     * panel_p[i*R + j] = W[r0 + p*R + j][i] (zero rows past the end) */
    enum { R = BD_GEMM_R, T = BD_GEMM_T };
    float *panel = j->c->thr[thread], *rows = panel + (size_t)CH * in;
    const int np = (int)((r1 - r0 + R - 1) / R);
    for (int p = 0; p < np; p++) {
        /* R rows row-major into rows[], then transposed into the panel */
        for (int jr = 0; jr < R; jr++) {
            int64_t r = r0 + (int64_t)p * R + jr;
            if (r < r1) k->deq[w->dtype](base + (size_t)r * rb, rows + (size_t)jr * in, in);
            else memset(rows + (size_t)jr * in, 0, sizeof(float) * (size_t)in);
        }
        float *pp = panel + (size_t)p * R * in;
        k->panel(rows, in, in, pp);
    }
    const int tiles = (n + T - 1) / T;
    float *cb = j->c->cbuf[thread]; /* [p][tile][T*R] */
    for (int64_t k0 = 0; k0 < in; k0 += KB) {
        int64_t kl = in - k0 < KB ? in - k0 : KB;
        /* panel-major: a panel's k-block (KB*R floats, 16 KB) stays in L1
         * while the token tiles' smaller blocks (KB*T floats) stream past */
        for (int p = 0; p < np; p++) {
            const float *pb = panel + (size_t)p * R * in + (size_t)k0 * R;
            for (int tl = 0; tl < tiles; tl++)
                k->gemm(pb, j->c->xt + (size_t)tl * T * in + (size_t)k0 * T, kl,
                        cb + ((size_t)p * tiles + tl) * T * R, k0 > 0);
        }
    }
    for (int p = 0; p < np; p++) {
        int64_t rp = r0 + (int64_t)p * R;
        int nr = (int)(r1 - rp < R ? r1 - rp : R);
        for (int t = 0; t < n; t++) {
            const float *src = cb + ((size_t)p * tiles + t / T) * T * R + (size_t)(t % T) * R;
            if (nr == R) memcpy(y + (size_t)t * out + rp, src, sizeof(float) * R); /* inlined: fixed size */
            else memcpy(y + (size_t)t * out + rp, src, sizeof(float) * (size_t)nr);
        }
    }
}

typedef struct pack_job { const float *x; float *xt; int n; int64_t in; } pack_job;

/* Token tile p: xt[(p*T + i*T + t] = x[p*T + t][i]; a partial last tile
 * repeats its last token (results for the padding are discarded). */
static void pack_task(void *ctx, int64_t p, int thread)
{
    (void)thread;
    const pack_job *j = ctx;
    const int T = BD_GEMM_T;
    float *dst = j->xt + (size_t)p * T * j->in;
    for (int t = 0; t < T; t++) {
        int64_t src = p * T + t < j->n ? p * T + t : j->n - 1;
        const float *xr = j->x + (size_t)src * j->in;
        for (int64_t i = 0; i < j->in; i++) dst[i * T + t] = xr[i];
    }
}

static void task(void *ctx, int64_t t, int thread)
{
    const job *j = ctx;
    int p = 0;
    while (p + 1 < j->count && t >= j->first[p + 1]) p++;
    const bd_tensor *w = j->mm[p].w;
    int64_t ch = w->dtype == BD_PACKED ? CH_PACKED : CH;
    int64_t r0 = (t - j->first[p]) * ch, r1 = r0 + ch;
    if (r1 > w_out(w)) r1 = w_out(w);
    if (w->dtype == BD_PACKED)
        w->ops->matmul(w, j->x, j->pscr[p], j->n, j->mm[p].y, r0, r1);
    else
        run_dense(j, w, j->mm[p].y, r0, r1, thread);
}

int bd_matmul(bd_mmctx *c, const bd_mm *mm, int count, const float *x, int n, bd_err *err)
{
    if (count < 1 || count > 3) return bd_fail(err, BD_EFAIL, "matmul: %d products in one call", count);
    job j = {.c = c, .mm = mm, .count = count, .x = x, .n = n};
    size_t need = 0, off[3] = {0};
    for (int p = 0; p < count; p++) {
        const bd_tensor *w = mm[p].w;
        if (w->dtype == BD_PACKED && w->ops->prep_size) {
            off[p] = need;
            need += (w->ops->prep_size(w, n) + 63) & ~(size_t)63;
        }
    }
    if (need > c->pscratch_size) {
        void *s = realloc(c->pscratch, need);
        if (!s) return bd_oom(err, "packed matmul scratch");
        c->pscratch = s;
        c->pscratch_size = need;
    }
    int dense = 0;
    for (int p = 0; p < count; p++) dense |= mm[p].w->dtype != BD_PACKED;
    if (dense && (n > DOT_MAX_N || c->force_gemm)) {
        int64_t in = w_in(mm[0].w), tiles = (n + BD_GEMM_T - 1) / BD_GEMM_T;
        if (in > c->max_in) return bd_fail(err, BD_EFAIL, "matmul: row of %lld > scratch %lld", (long long)in, (long long)c->max_in);
        size_t nf = (size_t)tiles * BD_GEMM_T * (size_t)in;
        if (nf > c->xt_floats) {
            free(c->xt);
            c->xt = aligned_alloc(64, (nf * sizeof(float) + 63) & ~(size_t)63);
            c->xt_floats = c->xt ? nf : 0;
            if (!c->xt) return bd_oom(err, "matmul activations");
        }
        size_t cf = (size_t)NP * (size_t)tiles * BD_GEMM_T * BD_GEMM_R;
        if (cf > c->cbuf_floats) {
            for (int i = 0; i < c->n_threads; i++) {
                free(c->cbuf[i]);
                c->cbuf[i] = aligned_alloc(64, cf * sizeof(float));
                if (!c->cbuf[i]) { c->cbuf_floats = 0; return bd_oom(err, "matmul accumulators"); }
            }
            c->cbuf_floats = cf;
        }
        pack_job pj = {x, c->xt, n, in};
        bd_pool_run(c->pool, pack_task, &pj, tiles);
    }
    int64_t total = 0;
    for (int p = 0; p < count; p++) {
        const bd_tensor *w = mm[p].w;
        j.first[p] = total;
        if (w->dtype == BD_PACKED) {
            j.pscr[p] = NULL;
            if (w->ops->prep_size && w->ops->prep_size(w, n) > 0) {
                j.pscr[p] = (char *)c->pscratch + off[p];
                w->ops->prep(w, x, n, (void *)j.pscr[p]);
            }
            total += (w_out(w) + CH_PACKED - 1) / CH_PACKED;
        } else {
            total += (w_out(w) + CH - 1) / CH;
        }
    }
    j.first[count] = total;
    bd_pool_run(c->pool, task, &j, total);
    return 0;
}
