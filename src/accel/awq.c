/* AWQ search and quantization (see awq.h). The inspected modules (the
 * attention block, the MLP, single linears) are evaluated here in fp32 with
 * the same RoPE as the engine; block inputs and linear input features come
 * from the engine itself (observer + bd_engine_block).
 *
 * Speed: the search re-runs the inspected module for each of the 20 grid
 * points as AutoAWQ does, but over all calibration tokens at once through
 * the engine's threaded matrix-matrix product (bd_matmul on fp32 views), with
 * attention heads, the SiLU and the per-row weight quantization split over a
 * thread pool. The clip search uses that its error, mean_t (x_t . (q - w))^2
 * over one group, equals d^T G d / n with d = q - w and G the group's Gram
 * matrix of the sampled inputs: G is formed once per linear and group, so
 * each of the 10 shrink candidates costs g^2 instead of n*g per group and
 * row (the same quantity, summed in double either way). Each task's result
 * is independent of the thread that runs it, so outputs do not depend on
 * the thread count. */
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../engine/matmul.h"
#include "../engine/pool.h"
#include "awq.h"
#include "wanda.h"
#include "wutil.h"

void bd_awq_qgroup(float *w, int g, float *scale, float *zero, uint8_t *q)
{
    float mx = -FLT_MAX, mn = FLT_MAX;
    for (int i = 0; i < g; i++) { mx = fmaxf(mx, w[i]); mn = fminf(mn, w[i]); }
    float s = fmaxf(mx - mn, 1e-5f) / 15.0f;
    float z = -rintf(mn / s);
    z = z < 0 ? 0 : z > 15 ? 15 : z;
    for (int i = 0; i < g; i++) {
        float v = rintf(w[i] / s) + z;
        v = v < 0 ? 0 : v > 15 ? 15 : v;
        if (q) q[i] = (uint8_t)v;
        w[i] = (v - z) * s;
    }
    *scale = s;
    *zero = z;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* bd_awq_qgroup for g % 16 == 0, lane-wise the same operations in the same
 * order (no contraction: the build is strict C11), so the same values (the
 * max/min are order-free; only the sign of a zero may differ). */
__attribute__((target("avx512f")))
static void qgroup_avx512(float *w, int g)
{
    __m512 mx = _mm512_loadu_ps(w), mn = mx;
    for (int i = 16; i < g; i += 16) {
        __m512 v = _mm512_loadu_ps(w + i);
        mx = _mm512_max_ps(mx, v);
        mn = _mm512_min_ps(mn, v);
    }
    float hi = _mm512_reduce_max_ps(mx), lo = _mm512_reduce_min_ps(mn);
    float s = fmaxf(hi - lo, 1e-5f) / 15.0f;
    float z = -rintf(lo / s);
    z = z < 0 ? 0 : z > 15 ? 15 : z;
    __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(z), v0 = _mm512_setzero_ps(), v15 = _mm512_set1_ps(15.0f);
    for (int i = 0; i < g; i += 16) {
        __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_loadu_ps(w + i), vs),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_add_ps(v, vz);
        v = _mm512_min_ps(_mm512_max_ps(v, v0), v15);
        _mm512_storeu_ps(w + i, _mm512_mul_ps(_mm512_sub_ps(v, vz), vs));
    }
}

/* d^T G d for n % 64 == 0: y = G d in blocks of 8 vectors of y (kept in
 * registers), each block streaming all rows of G, so its FMAs are independent */
__attribute__((target("avx512f")))
static double quad_avx512(const double *G, const double *d, int n)
{
    __m512d tot = _mm512_setzero_pd();
    for (int b0 = 0; b0 < n; b0 += 64) {
        __m512d y0 = _mm512_setzero_pd(), y1 = y0, y2 = y0, y3 = y0, y4 = y0, y5 = y0, y6 = y0, y7 = y0;
        for (int a = 0; a < n; a++) {
            const double *Ga = G + (size_t)a * n + b0;
            __m512d da = _mm512_set1_pd(d[a]);
            y0 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga), da, y0);
            y1 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 8), da, y1);
            y2 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 16), da, y2);
            y3 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 24), da, y3);
            y4 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 32), da, y4);
            y5 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 40), da, y5);
            y6 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 48), da, y6);
            y7 = _mm512_fmadd_pd(_mm512_loadu_pd(Ga + 56), da, y7);
        }
        const double *db = d + b0;
        tot = _mm512_fmadd_pd(y0, _mm512_loadu_pd(db), tot);
        tot = _mm512_fmadd_pd(y1, _mm512_loadu_pd(db + 8), tot);
        tot = _mm512_fmadd_pd(y2, _mm512_loadu_pd(db + 16), tot);
        tot = _mm512_fmadd_pd(y3, _mm512_loadu_pd(db + 24), tot);
        tot = _mm512_fmadd_pd(y4, _mm512_loadu_pd(db + 32), tot);
        tot = _mm512_fmadd_pd(y5, _mm512_loadu_pd(db + 40), tot);
        tot = _mm512_fmadd_pd(y6, _mm512_loadu_pd(db + 48), tot);
        tot = _mm512_fmadd_pd(y7, _mm512_loadu_pd(db + 56), tot);
    }
    return _mm512_reduce_add_pd(tot);
}

/* one clip candidate: w = clamp(wr, -m, m), Q(w), d = w - wr (n % 16 == 0) */
__attribute__((target("avx512f")))
static void cand_avx512(const float *wr, float m, int n, float *w, double *d)
{
    __m512 hi = _mm512_set1_ps(m), lo = _mm512_set1_ps(-m);
    for (int i = 0; i < n; i += 16) _mm512_storeu_ps(w + i, _mm512_min_ps(_mm512_max_ps(_mm512_loadu_ps(wr + i), lo), hi));
    qgroup_avx512(w, n);
    for (int i = 0; i < n; i += 8)
        _mm512_storeu_pd(d + i, _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(w + i)),
                                              _mm512_cvtps_pd(_mm256_loadu_ps(wr + i))));
}

/* dst = Q(W s) / s for one row (n % 16 == 0, g % 16 == 0) */
__attribute__((target("avx512f")))
static void qscaled_row_avx512(const float *W, const float *s, int64_t n, int g, float *dst)
{
    for (int64_t i = 0; i < n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_mul_ps(_mm512_loadu_ps(W + i), _mm512_loadu_ps(s + i)));
    for (int64_t j0 = 0; j0 < n; j0 += g) qgroup_avx512(dst + j0, g);
    for (int64_t i = 0; i < n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_div_ps(_mm512_loadu_ps(dst + i), _mm512_loadu_ps(s + i)));
}
#define HAVE_X86 1
#endif

/* Q(w) of one group in place, scale and zero not needed */
static void qgroup_fast(float *w, int g)
{
#ifdef HAVE_X86
    if (g % 16 == 0 && bd_cpu_avx512()) { qgroup_avx512(w, g); return; }
#endif
    float sc, z;
    bd_awq_qgroup(w, g, &sc, &z, NULL);
}

static double quad(const double *G, const double *d, double *y, int n)
{
#ifdef HAVE_X86
    if (n % 64 == 0 && bd_cpu_avx512()) return quad_avx512(G, d, n);
#endif
    for (int b = 0; b < n; b++) y[b] = 0.0;
    for (int a = 0; a < n; a++) {
        const double *Ga = G + (size_t)a * n;
        for (int b = 0; b < n; b++) y[b] += Ga[b] * d[a];
    }
    double e = 0;
    for (int a = 0; a < n; a++) e += d[a] * y[a];
    return e;
}

typedef struct geo {
    int D, H, KVH, hd, qd, kvd, hidden, rd, interleaved, T, group;
    float inv[512];
    float eps;
} geo;

enum { LQ, LK, LV, LO, LG, LU, LD, NL };
static const char *ONAMES[NL] = {"q", "k", "v", "o", "gate", "up", "down"};

typedef struct awq_ctx {
    geo g;
    int64_t N;             /* calibration tokens (samples * T) */
    int nsamp;
    float *W[NL];          /* fp32 weights of the current block */
    int64_t rows[NL], cols[NL];
    float *X[NL];          /* captured inputs (q/k/v share X[LQ], gate/up X[LG]) */
    int64_t have[NL];      /* tokens captured so far */
    int layer, active;
    float *scr;            /* forward scratch */
    float *rc_cos, *rc_sin; /* RoPE table [T][rd/2] */
    float *pscr;           /* attention probabilities, T per thread */
    bd_pool *pool;
    int nthr;
    const bd_kern *k;
    bd_mmctx mm;
    int fail;              /* a matmul failed: err holds why */
    bd_err *err;
} awq_ctx;

/* Y_p[t, o] = X[t, :] . W_p[o, :] for p < count (<= 3) through the engine's
 * batched kernels, as one pool job sharing the repacked X */
static void lin_n(awq_ctx *c, const float *X, int64_t T, int64_t in, int count, const float *const *W,
                  const int64_t *out, float *const *Y)
{
    if (c->fail) return;
    if (T > INT32_MAX) { c->fail = bd_fail(c->err, BD_EUNSUP, "awq: too many calibration tokens"); return; }
    bd_tensor t[3];
    bd_mm mm[3];
    for (int p = 0; p < count; p++) {
        memset(&t[p], 0, sizeof t[p]);
        t[p].dtype = BD_F32;
        t[p].ndim = 2;
        t[p].shape[0] = out[p];
        t[p].shape[1] = in;
        t[p].data = W[p];
        t[p].nbytes = (size_t)(out[p] * in) * sizeof(float);
        mm[p].w = &t[p];
        mm[p].y = Y[p];
    }
    if (bd_matmul(&c->mm, mm, count, X, (int)T, c->err)) c->fail = BD_EFAIL;
}

static void lin(awq_ctx *c, const float *X, int64_t T, int64_t in, const float *W, int64_t out, float *Y)
{
    lin_n(c, X, T, in, 1, &W, &out, &Y);
}

/* Same frequencies and rotation as the engine (transformers' fp32 recipe). */
static void init_rope(geo *g, const bd_config *c)
{
    for (int i = 0; i < g->rd / 2; i++) {
        float ex = (float)(2 * i) / (float)g->rd;
        g->inv[i] = 1.0f / (float)pow((double)c->rope_theta, (double)ex);
        if (c->rope_type != 1 && c->rope_freq_factors) {
            float f;
            memcpy(&f, c->rope_freq_factors + i, sizeof f);
            g->inv[i] /= f;
        }
    }
    if (c->rope_type == 1) {
        const float factor = c->rope_factor, lo = c->rope_low_freq, hi = c->rope_high_freq;
        const float old = (float)c->rope_orig_max;
        const float lo_wl = (float)((double)c->rope_orig_max / (double)lo);
        const float hi_wl = (float)((double)c->rope_orig_max / (double)hi);
        for (int i = 0; i < g->rd / 2; i++) {
            float wl = (float)(2 * M_PI) / g->inv[i];
            float f = wl > lo_wl ? g->inv[i] / factor : g->inv[i];
            if (!(wl < hi_wl) && !(wl > lo_wl)) {
                float s = (old / wl - lo) / (hi - lo);
                f = (1 - s) * f / factor + s * f;
            }
            g->inv[i] = f;
        }
    }
}

static void rope_table(awq_ctx *c)
{
    const geo *g = &c->g;
    int half = g->rd / 2;
    for (int pos = 0; pos < g->T; pos++)
        for (int i = 0; i < half; i++) {
            float a = (float)pos * g->inv[i];
            c->rc_cos[pos * half + i] = (float)cos((double)a);
            c->rc_sin[pos * half + i] = (float)sin((double)a);
        }
}

static void rope(const awq_ctx *c, float *v, int nh, int pos)
{
    const geo *g = &c->g;
    int half = g->rd / 2;
    const float *cs = c->rc_cos + (size_t)pos * half, *sn = c->rc_sin + (size_t)pos * half;
    for (int h = 0; h < nh; h++) {
        float *p = v + (size_t)h * g->hd;
        for (int i = 0; i < half; i++) {
            int ia = g->interleaved ? 2 * i : i, ib = g->interleaved ? 2 * i + 1 : i + half;
            float x0 = p[ia], x1 = p[ib];
            p[ia] = x0 * cs[i] - x1 * sn[i];
            p[ib] = x1 * cs[i] + x0 * sn[i];
        }
    }
}

typedef struct att_job { awq_ctx *c; const float *q, *k, *v; float *att; } att_job;

/* task = sample * H + head: causal softmax attention of one head of one sequence */
static void att_task(void *ctx, int64_t task, int thread)
{
    const att_job *j = ctx;
    const geo *g = &j->c->g;
    const bd_kern *kn = j->c->k;
    int s = (int)(task / g->H), h = (int)(task % g->H), T = g->T, kh = h / (g->H / g->KVH);
    size_t base = (size_t)s * (size_t)T;
    float *p = j->c->pscr + (size_t)thread * (size_t)T;
    float sc = 1.0f / sqrtf((float)g->hd);
    for (int t = 0; t < T; t++) {
        const float *qt = j->q + (base + (size_t)t) * g->qd + (size_t)h * g->hd;
        float mx = -INFINITY;
        for (int u = 0; u <= t; u++) {
            const float *ku = j->k + (base + (size_t)u) * g->kvd + (size_t)kh * g->hd;
            p[u] = kn->dot_f32(qt, ku, g->hd) * sc;
            mx = fmaxf(mx, p[u]);
        }
        float sum = 0.0f;
        for (int u = 0; u <= t; u++) { p[u] = expf(p[u] - mx); sum += p[u]; }
        float *a = j->att + (base + (size_t)t) * g->qd + (size_t)h * g->hd;
        for (int d = 0; d < g->hd; d++) a[d] = 0.0f;
        for (int u = 0; u <= t; u++)
            kn->axpy(a, p[u] / sum, j->v + (base + (size_t)u) * g->kvd + (size_t)kh * g->hd, g->hd);
    }
}

/* self_attn on all sequences: X [N, D] (normed) -> out [N, D]. */
static void attn_fwd(awq_ctx *c, const float *X, const float *Wq, const float *Wk, const float *Wv,
                     const float *Wo, float *out)
{
    const geo *g = &c->g;
    int64_t N = c->N;
    float *q = c->scr, *k = q + (size_t)N * g->qd, *v = k + (size_t)N * g->kvd, *att = v + (size_t)N * g->kvd;
    const float *W3[3] = {Wq, Wk, Wv};
    const int64_t o3[3] = {g->qd, g->kvd, g->kvd};
    float *const Y3[3] = {q, k, v};
    lin_n(c, X, N, g->D, 3, W3, o3, Y3);
    if (c->fail) return;
    for (int64_t t = 0; t < N; t++) {
        rope(c, q + (size_t)t * g->qd, g->H, (int)(t % g->T));
        rope(c, k + (size_t)t * g->kvd, g->KVH, (int)(t % g->T));
    }
    att_job j = {c, q, k, v, att};
    bd_pool_run(c->pool, att_task, &j, (int64_t)c->nsamp * g->H);
    lin(c, att, N, g->qd, Wo, g->D, out);
}

typedef struct silu_job { float *a; const float *b; int64_t n; } silu_job;
enum { EW_CHUNK = 16384 };

static void silu_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const silu_job *j = ctx;
    int64_t i0 = task * EW_CHUNK, i1 = i0 + EW_CHUNK < j->n ? i0 + EW_CHUNK : j->n;
    for (int64_t i = i0; i < i1; i++) j->a[i] = j->a[i] / (1.0f + expf(-j->a[i])) * j->b[i];
}

static void mlp_fwd(awq_ctx *c, const float *X, const float *Wg, const float *Wu, const float *Wd, float *out)
{
    const geo *g = &c->g;
    int64_t N = c->N;
    float *a = c->scr, *b = a + (size_t)N * g->hidden;
    const float *W2[2] = {Wg, Wu};
    const int64_t o2[2] = {g->hidden, g->hidden};
    float *const Y2[2] = {a, b};
    lin_n(c, X, N, g->D, 2, W2, o2, Y2);
    if (c->fail) return;
    silu_job j = {a, b, N * g->hidden};
    bd_pool_run(c->pool, silu_task, &j, (j.n + EW_CHUNK - 1) / EW_CHUNK);
    lin(c, a, N, g->hidden, Wd, g->D, out);
}

static void observe(void *ctx, int layer, const char *which, const float *x, int n, int in)
{
    awq_ctx *c = ctx;
    if (!c->active || layer != c->layer) return;
    for (int k = 0; k < NL; k++) {
        if (strcmp(which, ONAMES[k]) != 0) continue;
        if (k == LK || k == LV || k == LU) return; /* same input as q / gate */
        if (in != c->cols[k] || c->have[k] + n > c->N) return;
        memcpy(c->X[k] + c->have[k] * in, x, sizeof(float) * (size_t)n * (size_t)in);
        c->have[k] += n;
        return;
    }
}

/* Output of the inspected module for scaling group gi with weights W[]. */
static void inspect(awq_ctx *c, int gi, float *const *W, float *out)
{
    const geo *g = &c->g;
    switch (gi) {
    case 0: attn_fwd(c, c->X[LQ], W[LQ], W[LK], W[LV], W[LO], out); break;
    case 1: lin(c, c->X[LO], c->N, g->qd, W[LO], g->D, out); break;
    case 2: mlp_fwd(c, c->X[LG], W[LG], W[LU], W[LD], out); break;
    default: lin(c, c->X[LD], c->N, g->hidden, W[LD], g->D, out); break;
    }
}

static int64_t out_size(const awq_ctx *c, int gi) { (void)gi; return c->N * c->g.D; }

typedef struct qs_job { const float *W; int64_t rows, cols; const float *s; int group; float *dst; } qs_job;
enum { QS_ROWS = 16 };

/* rows of W[r, :] * s, group-quantized, / s (AutoAWQ's Q(W*s)/s) into dst */
static void qscaled_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const qs_job *j = ctx;
    int64_t cols = j->cols, r1 = (task + 1) * QS_ROWS < j->rows ? (task + 1) * QS_ROWS : j->rows;
    for (int64_t r = task * QS_ROWS; r < r1; r++) {
        float *d = j->dst + r * cols;
#ifdef HAVE_X86
        if (j->group % 16 == 0 && bd_cpu_avx512()) {
            qscaled_row_avx512(j->W + r * cols, j->s, cols, j->group, d);
            continue;
        }
#endif
        for (int64_t i = 0; i < cols; i++) d[i] = j->W[r * cols + i] * j->s[i];
        for (int64_t j0 = 0; j0 < cols; j0 += j->group) qgroup_fast(d + j0, j->group);
        for (int64_t i = 0; i < cols; i++) d[i] = d[i] / j->s[i];
    }
}

static void qscaled(awq_ctx *c, const float *W, int64_t rows, int64_t cols, const float *s, int group, float *dst)
{
    qs_job j = {W, rows, cols, s, group, dst};
    bd_pool_run(c->pool, qscaled_task, &j, (rows + QS_ROWS - 1) / QS_ROWS);
}

/* The grid search of one scaling group: members[] are the linears scaled
 * (their input is the same X), best scales into s_out. */
static int search(awq_ctx *c, int gi, const int *members, int nm, float *s_out, bd_awq_trace *tr, bd_err *err)
{
    int64_t in = c->cols[members[0]];
    int group = c->g.group;
    const float *X = c->X[gi == 0 ? LQ : gi == 1 ? LO : gi == 2 ? LG : LD];
    int64_t osz = out_size(c, gi);
    double *wsum = calloc((size_t)in, sizeof(double));
    float *w_mean = malloc(sizeof(float) * (size_t)in), *x_mean = malloc(sizeof(float) * (size_t)in);
    float *s = malloc(sizeof(float) * (size_t)in);
    float *ref = malloc(sizeof(float) * (size_t)osz), *cur = malloc(sizeof(float) * (size_t)osz);
    float *qw[NL] = {0}, *W[NL];
    int rc = 0;
    if (!wsum || !w_mean || !x_mean || !s || !ref || !cur) rc = bd_oom(err, "awq search");
    for (int k = 0; k < NL; k++) W[k] = c->W[k];
    for (int i = 0; !rc && i < nm; i++) {
        int k = members[i];
        if (!(qw[k] = malloc(sizeof(float) * (size_t)(c->rows[k] * in)))) rc = bd_oom(err, "awq search");
    }
    if (!rc) {
        /* w_mean: per input channel, mean over all rows of |w| / (group max + 1e-6) */
        int64_t rows_total = 0;
        for (int i = 0; i < nm; i++) {
            int k = members[i];
            rows_total += c->rows[k];
            for (int64_t r = 0; r < c->rows[k]; r++)
                for (int64_t j0 = 0; j0 < in; j0 += group) {
                    const float *w = c->W[k] + r * in + j0;
                    float m = 0.0f;
                    for (int j = 0; j < group; j++) m = fmaxf(m, fabsf(w[j]));
                    for (int j = 0; j < group; j++) wsum[j0 + j] += fabsf(w[j]) / (m + 1e-6f);
                }
        }
        for (int64_t j = 0; j < in; j++) w_mean[j] = (float)(wsum[j] / (double)rows_total);
        for (int64_t j = 0; j < in; j++) wsum[j] = 0;
        for (int64_t t = 0; t < c->N; t++)
            for (int64_t j = 0; j < in; j++) wsum[j] += fabsf(X[t * in + j]);
        for (int64_t j = 0; j < in; j++) x_mean[j] = (float)(wsum[j] / (double)c->N);
        inspect(c, gi, W, ref);
        if (c->fail) rc = c->fail;
        double best = INFINITY;
        int best_k = -1;
        for (int k = 0; k < 20; k++) {
            float ratio = (float)(k / 20.0), inv = (float)(1.0 - k / 20.0);
            float mx = -INFINITY, mn = INFINITY;
            for (int64_t j = 0; j < in; j++) {
                float v = powf(x_mean[j], ratio) / (powf(w_mean[j], inv) + 1e-4f);
                s[j] = v < 1e-4f ? 1e-4f : v;
                mx = fmaxf(mx, s[j]);
                mn = fminf(mn, s[j]);
            }
            float norm = sqrtf(mx * mn);
            for (int64_t j = 0; j < in; j++) {
                s[j] = s[j] / norm;
                if (isinf(s[j]) || isnan(s[j])) s[j] = 1.0f;
            }
            for (int i = 0; i < nm; i++) {
                int m = members[i];
                qscaled(c, c->W[m], c->rows[m], in, s, group, qw[m]);
                W[m] = qw[m];
            }
            inspect(c, gi, W, cur);
            for (int i = 0; i < nm; i++) W[members[i]] = c->W[members[i]];
            if (c->fail) { rc = c->fail; break; }
            double loss = 0;
            for (int64_t i = 0; i < osz; i++) {
                double d = (double)ref[i] - cur[i];
                loss += d * d;
            }
            loss /= (double)osz;
            if (tr && c->layer < 64) tr->loss[c->layer][gi][k] = loss;
            if (loss < best) { best = loss; best_k = k; memcpy(s_out, s, sizeof(float) * (size_t)in); }
        }
        if (!rc && best_k < 0) rc = bd_fail(err, BD_EFAIL, "awq: layer %d group %d: no finite loss", c->layer, gi);
        if (!rc && tr && c->layer < 64) tr->best[c->layer][gi] = best_k;
    }
    for (int k = 0; k < NL; k++) free(qw[k]);
    free(wsum); free(w_mean); free(x_mean); free(s); free(ref); free(cur);
    return rc;
}

typedef struct clip_job {
    awq_ctx *c;
    float *W;
    int64_t rows, in, ns, step;
    int group;
    const float *X;
    double *G;      /* per group: its Gram matrix of the sampled inputs, group^2 */
    double *scr;    /* per thread: 3 * group */
} clip_job;

static void gram_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const clip_job *j = ctx;
    int g = j->group;
    int64_t j0 = task * g;
    double *G = j->G + (size_t)task * (size_t)g * (size_t)g;
    for (int a = 0; a < g * g; a++) G[a] = 0.0;
    for (int64_t t = 0; t < j->ns; t++) {
        const float *x = j->X + t * j->step * j->in + j0;
        for (int a = 0; a < g; a++) {
            double xa = x[a];
            double *Ga = G + (size_t)a * g;
            for (int b = 0; b <= a; b++) Ga[b] += xa * x[b];
        }
    }
    for (int a = 0; a < g; a++)
        for (int b = a + 1; b < g; b++) G[(size_t)a * g + b] = G[(size_t)b * g + a];
}

enum { CLIP_ROWS = 8 };

/* Clipping search (AutoAWQ _compute_best_clip) on CLIP_ROWS rows, in place:
 * per row and group the shrink of the max that minimises the output error */
static void clip_task(void *ctx, int64_t task, int thread)
{
    const clip_job *j = ctx;
    int g = j->group;
    double *d = j->scr + (size_t)thread * 3 * (size_t)g, *y = d + g;
    float *w = (float *)(y + g);
    int64_t r1 = (task + 1) * CLIP_ROWS < j->rows ? (task + 1) * CLIP_ROWS : j->rows;
    for (int64_t r = task * CLIP_ROWS; r < r1; r++)
        for (int64_t j0 = 0; j0 < j->in; j0 += g) {
            float *wr = j->W + r * j->in + j0;
            const double *G = j->G + (size_t)(j0 / g) * (size_t)g * (size_t)g;
            float m0 = 0.0f;
            for (int i = 0; i < g; i++) m0 = fmaxf(m0, fabsf(wr[i]));
            double min_err = 1e9;
            float best = m0;
            for (int i = 0; i < 10; i++) {
                float m = m0 * (float)(1.0 - i / 20.0);
#ifdef HAVE_X86
                if (g % 16 == 0 && bd_cpu_avx512()) cand_avx512(wr, m, g, w, d);
                else
#endif
                {
                    for (int a = 0; a < g; a++) w[a] = wr[a] < -m ? -m : wr[a] > m ? m : wr[a];
                    qgroup_fast(w, g);
                    for (int a = 0; a < g; a++) d[a] = (double)w[a] - (double)wr[a];
                }
                double e = quad(G, d, y, g) / (double)j->ns;
                if (e < min_err) { min_err = e; best = m; }
            }
            for (int i = 0; i < g; i++) wr[i] = wr[i] < -best ? -best : wr[i] > best ? best : wr[i];
        }
}

static int clip(awq_ctx *c, int k, bd_err *err)
{
    int64_t rows = c->rows[k], in = c->cols[k];
    int group = c->g.group;
    int64_t step = c->N / 512 > 1 ? c->N / 512 : 1, ns = (c->N + step - 1) / step;
    int64_t ng = in / group;
    clip_job j = {c, c->W[k], rows, in, ns, step, group, c->X[k == LV ? LQ : k == LU ? LG : k], NULL, NULL};
    /* w (float) shares the per-thread block with d and y: 3 doubles per element suffice */
    j.G = malloc(sizeof(double) * (size_t)ng * (size_t)group * (size_t)group);
    j.scr = malloc(sizeof(double) * 3 * (size_t)group * (size_t)c->nthr);
    if (!j.G || !j.scr) { free(j.G); free(j.scr); return bd_oom(err, "awq clip"); }
    bd_pool_run(c->pool, gram_task, &j, ng);
    bd_pool_run(c->pool, clip_task, &j, (rows + CLIP_ROWS - 1) / CLIP_ROWS);
    free(j.G);
    free(j.scr);
    return 0;
}

static int set_norm(bd_tensor *t, const float *v, int64_t n, bd_err *err)
{
    float *d = malloc(sizeof(float) * (size_t)n);
    if (!d) return bd_oom(err, "awq norm");
    memcpy(d, v, sizeof(float) * (size_t)n);
    bd_tensor_set_f32(t, d);
    return 0;
}

static int do_layer(awq_ctx *c, bd_model *m, int l, bd_awq_trace *tr, bd_err *err)
{
    const geo *g = &c->g;
    bd_layer *L = &m->layers[l];
    bd_tensor *lin_t[7];
    bd_accel_linears(m, l, lin_t);
    int rc = 0;
    float *n1 = malloc(sizeof(float) * (size_t)g->D), *n2 = malloc(sizeof(float) * (size_t)g->D);
    float *s[4] = {0};
    if (!n1 || !n2) rc = bd_oom(err, "awq");
    if (!rc) { bd_tensor_row(L->attn_norm, 0, n1); bd_tensor_row(L->ffn_norm, 0, n2); }
    static const int G0[] = {LQ, LK, LV}, G1[] = {LO}, G2[] = {LG, LU}, G3[] = {LD};
    const int *gm[4] = {G0, G1, G2, G3};
    const int gn[4] = {3, 1, 2, 1};
    /* v -> o only when the shapes agree (MHA): AutoAWQ llama.py */
    int do_vo = c->rows[LV] == c->rows[LO] && c->cols[LV] == c->cols[LO];
    if (tr && l < 64) tr->best[l][1] = -1;
    for (int gi = 0; !rc && gi < 4; gi++) {
        if (gi == 1 && !do_vo) continue;
        int64_t in = c->cols[gm[gi][0]];
        if (!(s[gi] = malloc(sizeof(float) * (size_t)in))) { rc = bd_oom(err, "awq"); break; }
        rc = search(c, gi, gm[gi], gn[gi], s[gi], tr, err);
    }
    /* fold the scales in: previous op / s, scaled linears' columns * s, features / s */
    for (int gi = 0; !rc && gi < 4; gi++) {
        if (!s[gi]) continue;
        int64_t in = c->cols[gm[gi][0]];
        for (int i = 0; i < gn[gi]; i++) {
            int k = gm[gi][i];
            for (int64_t r = 0; r < c->rows[k]; r++)
                for (int64_t j = 0; j < in; j++) c->W[k][r * in + j] *= s[gi][j];
        }
        if (gi == 0) for (int j = 0; j < g->D; j++) n1[j] /= s[0][j];
        if (gi == 2) for (int j = 0; j < g->D; j++) n2[j] /= s[2][j];
        if (gi == 1 || gi == 3) {
            int prev = gi == 1 ? LV : LU;
            int64_t pr = c->rows[prev], pc = c->cols[prev];
            for (int64_t r = pr - in; r < pr; r++)
                for (int64_t j = 0; j < pc; j++) c->W[prev][r * pc + j] /= s[gi][r - (pr - in)];
        }
        float *X = c->X[gi == 0 ? LQ : gi == 1 ? LO : gi == 2 ? LG : LD];
        for (int64_t t = 0; t < c->N; t++)
            for (int64_t j = 0; j < in; j++) X[t * in + j] /= s[gi][j];
    }
    /* clipping: never q/k */
    for (int k = LV; !rc && k < NL; k++) rc = clip(c, k, err);
    /* quantize and pack */
    for (int k = 0; !rc && k < NL; k++) {
        int64_t rows = c->rows[k], in = c->cols[k], ng = in / g->group;
        uint8_t *q = malloc((size_t)(rows * in)), *z = malloc((size_t)(rows * ng));
        float *sc = malloc(sizeof(float) * (size_t)(rows * ng));
        if (!q || !z || !sc) rc = bd_oom(err, "awq quantize");
        for (int64_t r = 0; !rc && r < rows; r++)
            for (int64_t gg = 0; gg < ng; gg++) {
                float zz;
                bd_awq_qgroup(c->W[k] + r * in + gg * g->group, g->group, &sc[r * ng + gg], &zz,
                              q + r * in + gg * g->group);
                z[r * ng + gg] = (uint8_t)zz;
            }
        if (!rc) rc = bd_awq4_pack_codes(lin_t[k], g->group, q, sc, z, err);
        free(q); free(z); free(sc);
    }
    if (!rc) rc = set_norm(L->attn_norm, n1, g->D, err);
    if (!rc) rc = set_norm(L->ffn_norm, n2, g->D, err);
    for (int i = 0; i < 4; i++) free(s[i]);
    free(n1);
    free(n2);
    return rc;
}

int bd_awq_apply_calib(bd_model *m, int group, const bd_calib *cal, int threads, bd_awq_trace *trace,
                       bd_err *err)
{
    const bd_config *cf = &m->cfg;
    awq_ctx c;
    memset(&c, 0, sizeof c);
    geo *g = &c.g;
    g->D = cf->dim; g->H = cf->n_heads; g->KVH = cf->n_kv_heads;
    g->hd = cf->head_dim > 0 ? cf->head_dim : cf->dim / cf->n_heads;
    g->qd = g->H * g->hd; g->kvd = g->KVH * g->hd; g->hidden = cf->hidden_dim;
    g->rd = cf->rope_dim > 0 ? cf->rope_dim : g->hd;
    g->interleaved = cf->rope_interleaved; g->T = cal->seqlen; g->group = group;
    if (g->rd / 2 > 512 || g->KVH <= 0 || g->H % g->KVH)
        return bd_fail(err, BD_EUNSUP, "awq: unsupported attention geometry");
    if (g->D % group || g->qd % group || g->hidden % group)
        return bd_fail(err, BD_EINPUT, "awq: group %d must divide dim %d, q dim %d and hidden %d", group, g->D,
                       g->qd, g->hidden);
    init_rope(g, cf);
    c.nsamp = cal->n;
    c.N = (int64_t)cal->n * cal->seqlen;
    int T = cal->seqlen;
    bd_engine_opts eo = {0};
    eo.threads = threads;
    eo.observer = observe;
    eo.observer_ctx = &c;
    eo.max_batch = T;
    bd_engine *e = NULL;
    int rc = bd_engine_new(m, &eo, &e, err);
    if (rc) return rc;
    size_t D = (size_t)g->D;
    c.err = err;
    c.k = bd_kern_pick(-1);
    int64_t max_in = g->D > g->qd ? g->D : g->qd;
    if (g->hidden > max_in) max_in = g->hidden;
    rc = bd_pool_new(threads, &c.pool, err);
    if (!rc) {
        c.nthr = bd_pool_threads(c.pool);
        rc = bd_mmctx_init(&c.mm, c.k, c.pool, max_in, err);
    }
    if (rc) { bd_pool_free(c.pool); bd_engine_free(e); return rc; }
    float *x = malloc(sizeof(float) * (size_t)c.N * D);
    size_t scr_n = (size_t)c.N * (2 * (size_t)g->qd + 2 * (size_t)g->kvd);
    size_t mlp_n = 2 * (size_t)c.N * (size_t)g->hidden;
    c.scr = malloc(sizeof(float) * (scr_n > mlp_n ? scr_n : mlp_n));
    c.pscr = malloc(sizeof(float) * (size_t)T * (size_t)c.nthr);
    c.rc_cos = malloc(sizeof(float) * (size_t)T * (size_t)(g->rd / 2 + 1));
    c.rc_sin = malloc(sizeof(float) * (size_t)T * (size_t)(g->rd / 2 + 1));
    if (!x || !c.scr || !c.pscr || !c.rc_cos || !c.rc_sin) rc = bd_oom(err, "awq activations");
    else rope_table(&c);
    for (int64_t i = 0; !rc && i < c.N; i++) {
        int32_t id = cal->ids[i];
        if (id < 0 || id >= cf->vocab_size) rc = bd_fail(err, BD_EINPUT, "awq: calibration token %d outside the vocabulary", id);
        else bd_tensor_row(m->tok_embd, id, x + i * D);
    }
    for (int l = 0; !rc && l < cf->n_layers; l++) {
        bd_tensor *lt[7];
        if (bd_accel_linears(m, l, lt) != 7) { rc = bd_fail(err, BD_EINPUT, "awq: layer %d lacks a linear", l); break; }
        c.layer = l;
        for (int k = 0; k < NL && !rc; k++) {
            c.rows[k] = lt[k]->shape[0];
            c.cols[k] = lt[k]->shape[1];
            c.W[k] = bd_tensor_f32(lt[k]);
            c.have[k] = 0;
            if (!c.W[k]) rc = bd_oom(err, "awq weights");
            if (k != LK && k != LV && k != LU && !rc &&
                !(c.X[k] = malloc(sizeof(float) * (size_t)(c.N * c.cols[k])))) rc = bd_oom(err, "awq features");
        }
        c.X[LK] = c.X[LV] = c.X[LQ];
        c.X[LU] = c.X[LG];
        /* features and next inputs from the unmodified block (AutoAWQ _get_input_feat) */
        c.active = 1;
        for (int sidx = 0; !rc && sidx < cal->n; sidx++) rc = bd_engine_block(e, l, x + (size_t)sidx * T * D, T, err);
        c.active = 0;
        for (int k = 0; !rc && k < NL; k++)
            if (k != LK && k != LV && k != LU && c.have[k] != c.N)
                rc = bd_fail(err, BD_EFAIL, "awq: layer %d: captured %lld of %lld inputs of %s", l,
                             (long long)c.have[k], (long long)c.N, ONAMES[k]);
        if (!rc) rc = do_layer(&c, m, l, trace, err);
        for (int k = 0; k < NL; k++) {
            free(c.W[k]);
            if (k != LK && k != LV && k != LU) free(c.X[k]);
            c.W[k] = c.X[k] = NULL;
        }
    }
    free(x);
    free(c.scr);
    free(c.pscr);
    free(c.rc_cos);
    free(c.rc_sin);
    bd_mmctx_free(&c.mm);
    bd_pool_free(c.pool);
    bd_engine_free(e);
    return rc;
}

int bd_awq_apply(bd_model *m, const bd_accel_spec *s, const bd_accel_opts *o, bd_err *err)
{
    bd_calib c;
    int rc = bd_calib_get(m, o, BD_CALIB_AWQ, 128, 512, &c, err);
    if (rc) return rc;
    rc = bd_awq_apply_calib(m, s->awq_group, &c, o ? o->threads : 0, NULL, err);
    bd_calib_free(&c);
    return rc;
}
