/* AWQ search and quantization (see awq.h). The inspected modules (the
 * attention block, the MLP, single linears) are evaluated here in fp32 with
 * the same RoPE as the engine; block inputs and linear input features come
 * from the engine itself (observer + bd_engine_block). */
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
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

typedef struct geo {
    int D, H, KVH, hd, qd, kvd, hidden, rd, interleaved, T, group;
    float inv[512];
    float eps;
} geo;

/* Y[t, o] = X[t, :] . W[o, :] */
static void lin(const float *X, int64_t T, int64_t in, const float *W, int64_t out, float *Y)
{
    if (in % 16 == 0 && T <= INT32_MAX) {
        /* the packed formats' tile kernel, with W itself as the tile */
        memset(Y, 0, sizeof(float) * (size_t)(T * out));
        for (int64_t o = 0; o < out; o += 4)
            bd_tile_accum(W + o * in, in, out - o < 4 ? (int)(out - o) : 4, in, X, in, (int)T, Y + o, out);
        return;
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < out; o++) {
            const float *x = X + t * in, *w = W + o * in;
            float s = 0.0f;
            for (int64_t j = 0; j < in; j++) s += x[j] * w[j];
            Y[t * out + o] = s;
        }
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

static void rope(const geo *g, float *v, int nh, int pos)
{
    int half = g->rd / 2;
    for (int i = 0; i < half; i++) {
        float a = (float)pos * g->inv[i];
        float c = (float)cos((double)a), s = (float)sin((double)a);
        for (int h = 0; h < nh; h++) {
            float *p = v + (size_t)h * g->hd;
            int ia = g->interleaved ? 2 * i : i, ib = g->interleaved ? 2 * i + 1 : i + half;
            float x0 = p[ia], x1 = p[ib];
            p[ia] = x0 * c - x1 * s;
            p[ib] = x1 * c + x0 * s;
        }
    }
}

/* self_attn on one sequence: X [T, D] (normed) -> out [T, D]. */
static void attn_fwd(const geo *g, const float *X, const float *Wq, const float *Wk, const float *Wv,
                     const float *Wo, float *out, float *scr)
{
    int T = g->T;
    float *q = scr, *k = q + (size_t)T * g->qd, *v = k + (size_t)T * g->kvd, *att = v + (size_t)T * g->kvd,
          *p = att + (size_t)T * g->qd;
    lin(X, T, g->D, Wq, g->qd, q);
    lin(X, T, g->D, Wk, g->kvd, k);
    lin(X, T, g->D, Wv, g->kvd, v);
    for (int t = 0; t < T; t++) {
        rope(g, q + (size_t)t * g->qd, g->H, t);
        rope(g, k + (size_t)t * g->kvd, g->KVH, t);
    }
    float sc = 1.0f / sqrtf((float)g->hd);
    int grp = g->H / g->KVH;
    for (int h = 0; h < g->H; h++) {
        int kh = h / grp;
        for (int t = 0; t < T; t++) {
            const float *qt = q + (size_t)t * g->qd + (size_t)h * g->hd;
            float mx = -INFINITY;
            for (int u = 0; u <= t; u++) {
                const float *ku = k + (size_t)u * g->kvd + (size_t)kh * g->hd;
                float s = 0.0f;
                for (int d = 0; d < g->hd; d++) s += qt[d] * ku[d];
                p[u] = s * sc;
                mx = fmaxf(mx, p[u]);
            }
            float sum = 0.0f;
            for (int u = 0; u <= t; u++) { p[u] = expf(p[u] - mx); sum += p[u]; }
            float *a = att + (size_t)t * g->qd + (size_t)h * g->hd;
            for (int d = 0; d < g->hd; d++) a[d] = 0.0f;
            for (int u = 0; u <= t; u++) {
                const float *vu = v + (size_t)u * g->kvd + (size_t)kh * g->hd;
                float w = p[u] / sum;
                for (int d = 0; d < g->hd; d++) a[d] += w * vu[d];
            }
        }
    }
    lin(att, T, g->qd, Wo, g->D, out);
}

static void mlp_fwd(const geo *g, const float *X, int64_t N, const float *Wg, const float *Wu, const float *Wd,
                    float *out, float *scr)
{
    float *a = scr, *b = a + (size_t)N * g->hidden;
    lin(X, N, g->D, Wg, g->hidden, a);
    lin(X, N, g->D, Wu, g->hidden, b);
    for (int64_t i = 0; i < N * g->hidden; i++) a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
    lin(a, N, g->hidden, Wd, g->D, out);
}

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
} awq_ctx;

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
    case 0:
        for (int s = 0; s < c->nsamp; s++)
            attn_fwd(g, c->X[LQ] + (size_t)s * g->T * g->D, W[LQ], W[LK], W[LV], W[LO],
                     out + (size_t)s * g->T * g->D, c->scr);
        break;
    case 1: lin(c->X[LO], c->N, g->qd, W[LO], g->D, out); break;
    case 2: mlp_fwd(g, c->X[LG], c->N, W[LG], W[LU], W[LD], out, c->scr); break;
    default: lin(c->X[LD], c->N, g->hidden, W[LD], g->D, out); break;
    }
}

static int64_t out_size(const awq_ctx *c, int gi) { (void)gi; return c->N * c->g.D; }

/* W[r, :] * s, group-quantized, / s (AutoAWQ's Q(W*s)/s) into dst. */
static void qscaled(const float *W, int64_t rows, int64_t cols, const float *s, int group, float *dst)
{
    for (int64_t r = 0; r < rows; r++) {
        float *d = dst + r * cols;
        for (int64_t j = 0; j < cols; j++) d[j] = W[r * cols + j] * s[j];
        for (int64_t j0 = 0; j0 < cols; j0 += group) {
            float sc, z;
            bd_awq_qgroup(d + j0, group, &sc, &z, NULL);
        }
        for (int64_t j = 0; j < cols; j++) d[j] = d[j] / s[j];
    }
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
                qscaled(c->W[m], c->rows[m], in, s, group, qw[m]);
                W[m] = qw[m];
            }
            inspect(c, gi, W, cur);
            for (int i = 0; i < nm; i++) W[members[i]] = c->W[members[i]];
            double loss = 0;
            for (int64_t i = 0; i < osz; i++) {
                double d = (double)ref[i] - cur[i];
                loss += d * d;
            }
            loss /= (double)osz;
            if (tr && c->layer < 64) tr->loss[c->layer][gi][k] = loss;
            if (loss < best) { best = loss; best_k = k; memcpy(s_out, s, sizeof(float) * (size_t)in); }
        }
        if (best_k < 0) rc = bd_fail(err, BD_EFAIL, "awq: layer %d group %d: no finite loss", c->layer, gi);
        if (tr && c->layer < 64) tr->best[c->layer][gi] = best_k;
    }
    for (int k = 0; k < NL; k++) free(qw[k]);
    free(wsum); free(w_mean); free(x_mean); free(s); free(ref); free(cur);
    return rc;
}

/* Clipping search (AutoAWQ _compute_best_clip) on one linear, applied in place. */
static void clip(awq_ctx *c, int k)
{
    int64_t rows = c->rows[k], in = c->cols[k];
    int group = c->g.group;
    const float *X = c->X[k == LV ? LQ : k == LU ? LG : k];
    int64_t step = c->N / 512 > 1 ? c->N / 512 : 1, ns = (c->N + step - 1) / step;
    /* the partial dot products are summed in double: candidates whose errors
     * differ by less than fp32 summation noise then still order reproducibly */
    float *w = malloc(sizeof(float) * (size_t)group);
    double *org = malloc(sizeof(double) * (size_t)ns);
    if (!w || !org) { free(w); free(org); return; }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j0 = 0; j0 < in; j0 += group) {
            float *wr = c->W[k] + r * in + j0;
            float m0 = 0.0f;
            for (int j = 0; j < group; j++) m0 = fmaxf(m0, fabsf(wr[j]));
            for (int64_t t = 0; t < ns; t++) {
                const float *x = X + t * step * in + j0;
                double sacc = 0.0;
                for (int j = 0; j < group; j++) sacc += (double)x[j] * wr[j];
                org[t] = sacc;
            }
            double min_err = 1e9;
            float best = m0;
            for (int i = 0; i < 10; i++) {
                float m = m0 * (float)(1.0 - i / 20.0);
                for (int j = 0; j < group; j++) w[j] = wr[j] < -m ? -m : wr[j] > m ? m : wr[j];
                float sc, z;
                bd_awq_qgroup(w, group, &sc, &z, NULL);
                double e = 0;
                for (int64_t t = 0; t < ns; t++) {
                    const float *x = X + t * step * in + j0;
                    double sacc = 0.0;
                    for (int j = 0; j < group; j++) sacc += (double)x[j] * w[j];
                    double d = sacc - org[t];
                    e += d * d;
                }
                e /= (double)ns;
                if (e < min_err) { min_err = e; best = m; }
            }
            for (int j = 0; j < group; j++) wr[j] = wr[j] < -best ? -best : wr[j] > best ? best : wr[j];
        }
    free(w);
    free(org);
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
    if (!rc) for (int k = LV; k < NL; k++) clip(c, k);
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
    float *x = malloc(sizeof(float) * (size_t)c.N * D);
    size_t scr_n = (size_t)T * (2 * (size_t)g->qd + 2 * (size_t)g->kvd) + (size_t)T;
    size_t mlp_n = 2 * (size_t)c.N * (size_t)g->hidden;
    c.scr = malloc(sizeof(float) * (scr_n > mlp_n ? scr_n : mlp_n));
    if (!x || !c.scr) rc = bd_oom(err, "awq activations");
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
