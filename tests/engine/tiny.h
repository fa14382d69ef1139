/* A hand-built random LLaMA model for engine tests (no files), and an
 * independent double-precision reference forward pass written plainly from
 * the formulas (transformers' LlamaForCausalLM), with an explicit per-layer
 * K/V history so quantized-cache schedules can be simulated. */
#ifndef BD_TEST_TINY_H
#define BD_TEST_TINY_H

#include <stdint.h>

#include "engine/engine.h"
#include "model/model.h"

static uint64_t tiny_rs = 0x9e3779b97f4a7c15ull;
static float tiny_frand(void)
{
    tiny_rs ^= tiny_rs << 13; tiny_rs ^= tiny_rs >> 7; tiny_rs ^= tiny_rs << 17;
    return (float)((double)(tiny_rs >> 11) * 0x1.0p-53 * 2 - 1);
}

typedef struct tiny {
    bd_model m;
    bd_tensor t[64];
    int nt;
    float *vals[64]; /* fp32 values of each tensor (reference side) */
} tiny;

static bd_tensor *tiny_tensor(tiny *T, const char *name, int64_t rows, int64_t cols, float scale, bd_dtype dt)
{
    bd_tensor *t = &T->t[T->nt];
    float *v = malloc(sizeof(float) * (size_t)(rows * cols));
    for (int64_t i = 0; i < rows * cols; i++) v[i] = tiny_frand() * scale;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = cols == 1 ? 1 : 2;
    t->shape[0] = rows;
    t->shape[1] = cols;
    if (cols == 1) { t->shape[0] = rows; }
    t->dtype = dt;
    if (dt == BD_F16) {
        uint16_t *h = malloc(2 * (size_t)(rows * cols));
        for (int64_t i = 0; i < rows * cols; i++) { h[i] = bd_f32_to_f16(v[i]); v[i] = bd_f16_to_f32(h[i]); }
        t->data = h;
        t->nbytes = 2 * (size_t)(rows * cols);
    } else {
        t->data = v;
        t->nbytes = 4 * (size_t)(rows * cols);
    }
    T->vals[T->nt++] = v;
    return t;
}

static float *tiny_vals(tiny *T, const bd_tensor *t) { return T->vals[t - T->t]; }

static void tiny_init(tiny *T, const bd_config *c, bd_dtype dt)
{
    memset(T, 0, sizeof *T);
    T->m.cfg = *c;
    const int qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    T->m.tok_embd = tiny_tensor(T, "embd", c->vocab_size, c->dim, 1.0f, dt);
    T->m.layers = calloc((size_t)c->n_layers, sizeof(bd_layer));
    for (int l = 0; l < c->n_layers; l++) {
        bd_layer *L = &T->m.layers[l];
        L->attn_norm = tiny_tensor(T, "an", c->dim, 1, 0.2f, BD_F32);
        L->ffn_norm = tiny_tensor(T, "fn", c->dim, 1, 0.2f, BD_F32);
        for (int i = 0; i < c->dim; i++) { tiny_vals(T, L->attn_norm)[i] += 1; tiny_vals(T, L->ffn_norm)[i] += 1; }
        L->wq = tiny_tensor(T, "wq", qd, c->dim, 0.4f, dt);
        L->wk = tiny_tensor(T, "wk", kd, c->dim, 0.4f, dt);
        L->wv = tiny_tensor(T, "wv", kd, c->dim, 0.4f, dt);
        L->wo = tiny_tensor(T, "wo", c->dim, qd, 0.3f, dt);
        L->w_gate = tiny_tensor(T, "wg", c->hidden_dim, c->dim, 0.3f, dt);
        L->w_up = tiny_tensor(T, "wu", c->hidden_dim, c->dim, 0.3f, dt);
        L->w_down = tiny_tensor(T, "wd", c->dim, c->hidden_dim, 0.3f, dt);
    }
    T->m.out_norm = tiny_tensor(T, "on", c->dim, 1, 0.2f, BD_F32);
    for (int i = 0; i < c->dim; i++) tiny_vals(T, T->m.out_norm)[i] += 1;
    T->m.output = c->tied ? T->m.tok_embd : tiny_tensor(T, "out", c->vocab_size, c->dim, 0.5f, dt);
}

static void tiny_free(tiny *T)
{
    for (int i = 0; i < T->nt; i++) {
        if (T->t[i].data != T->vals[i]) free((void *)T->t[i].data);
        free(T->vals[i]);
    }
    free(T->m.layers);
}

/* A KV codec for tests: stores bfloat16 (rounded to nearest-even). */
static inline size_t tiny_sz_bf16(const void *p, int n, int d) { (void)p; return (size_t)n * d * 2; }
static inline int tiny_enc_bf16(const void *p, const float *s, int n, int d, int is_key, void *dst, bd_err *e)
{
    (void)p; (void)is_key; (void)e;
    uint16_t *o = dst;
    for (size_t i = 0; i < (size_t)n * d; i++) o[i] = bd_f32_to_bf16(s[i]);
    return 0;
}
static inline void tiny_dec_bf16(const void *p, const void *src, int n, int d, int is_key, float *dst)
{
    (void)p; (void)is_key;
    const uint16_t *h = src;
    for (size_t i = 0; i < (size_t)n * d; i++) dst[i] = bd_bf16_to_f32(h[i]);
}

/* ---- reference ---- */

typedef struct ref {
    tiny *T;
    const bd_config *c;
    double *k, *v;       /* [layer][pos][kv_dim] as computed when the position was fed */
    int pos, cap;
    double *inv;
    /* optional codec simulation: scale[layer? no: pos] applied to history K/V
     * positions when attended (1 = full precision) */
    double *hist_scale;
    int compute;         /* 0 none; 1 bf16, 2 fp16: round each linear's input and output */
} ref;

static void ref_init(ref *R, tiny *T, int cap)
{
    memset(R, 0, sizeof *R);
    R->T = T;
    R->c = &T->m.cfg;
    const bd_config *c = R->c;
    int kd = c->n_kv_heads * c->head_dim, rd = c->rope_dim ? c->rope_dim : c->head_dim;
    R->cap = cap;
    R->k = calloc((size_t)c->n_layers * cap * kd, sizeof(double));
    R->v = calloc((size_t)c->n_layers * cap * kd, sizeof(double));
    R->hist_scale = malloc(sizeof(double) * (size_t)cap);
    for (int i = 0; i < cap; i++) R->hist_scale[i] = 1;
    R->inv = malloc(sizeof(double) * (size_t)(rd / 2));
    for (int i = 0; i < rd / 2; i++) {
        double f = pow(c->rope_theta, -2.0 * i / rd);
        if (c->rope_type == 1) { /* llama3, from the formula in double */
            double wl = 2 * M_PI / f, lo_wl = c->rope_orig_max / c->rope_low_freq,
                   hi_wl = c->rope_orig_max / c->rope_high_freq;
            if (wl > lo_wl) f = f / c->rope_factor;
            else if (wl >= hi_wl) {
                double s = (c->rope_orig_max / wl - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
                f = (1 - s) * f / c->rope_factor + s * f;
            }
        }
        R->inv[i] = f;
    }
}

/* x rounded to nearest-even with `bits` significant bits, normal exponents
 * >= emin (below: fixed quantum 2^(emin-bits+1), i.e. subnormals), and
 * anything above maxv becoming inf: bf16 (8, -126, (2-2^-7)*2^127) and fp16
 * (11, -14, 65504) written from the formats' definitions, not from the
 * model module's converters. */
static double ref_round_fmt(double x, int bits, int emin, double maxv)
{
    if (!isfinite(x) || x == 0) return x;
    int e;
    frexp(x, &e); /* |x| in [2^(e-1), 2^e) */
    int lead = e - 1 < emin ? emin : e - 1;
    int q = lead - (bits - 1);
    double r = ldexp(rint(ldexp(x, -q)), q); /* rint: nearest-even in the default mode */
    if (fabs(r) > maxv) return copysign(INFINITY, x);
    return r;
}

static void ref_round(const ref *R, double *v, int n)
{
    for (int i = 0; i < n && R->compute; i++)
        v[i] = R->compute == 1 ? ref_round_fmt(v[i], 8, -126, ldexp(2 - ldexp(1, -7), 127))
                               : ref_round_fmt(v[i], 11, -14, 65504);
}

static void ref_free(ref *R) { free(R->k); free(R->v); free(R->inv); free(R->hist_scale); }

static void ref_matvec(tiny *T, const bd_tensor *w, const double *x, double *y)
{
    const float *W = tiny_vals(T, w);
    int64_t out = w->shape[0], in = w->shape[1];
    for (int64_t r = 0; r < out; r++) {
        double s = 0;
        for (int64_t i = 0; i < in; i++) s += (double)W[r * in + i] * x[i];
        y[r] = s;
    }
}

static void ref_norm(const double *x, const float *w, int d, double eps, double *o)
{
    double ss = 0;
    for (int i = 0; i < d; i++) ss += x[i] * x[i];
    double r = 1 / sqrt(ss / d + eps);
    for (int i = 0; i < d; i++) o[i] = w[i] * x[i] * r;
}

static void ref_rope(const ref *R, double *v, int nh, int pos)
{
    const bd_config *c = R->c;
    int hd = c->head_dim, rd = c->rope_dim ? c->rope_dim : hd;
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < rd / 2; i++) {
            double a = pos * R->inv[i], cs = cos(a), sn = sin(a);
            int p = c->rope_interleaved ? 2 * i : i, q = c->rope_interleaved ? 2 * i + 1 : i + rd / 2;
            double x0 = v[h * hd + p], x1 = v[h * hd + q];
            v[h * hd + p] = x0 * cs - x1 * sn;
            v[h * hd + q] = x0 * sn + x1 * cs;
        }
}

/* Feeds one token at R->pos; logits[vocab] (if non-NULL) and the final
 * hidden state before the norm (if hid != NULL). History positions p < pos
 * are attended with K/V multiplied by hist_scale[p]. */
static void ref_step(ref *R, int32_t tok, double *logits, double *hid)
{
    tiny *T = R->T;
    const bd_config *c = R->c;
    const int D = c->dim, hd = c->head_dim, qd = c->n_heads * hd, kd = c->n_kv_heads * hd, H = c->hidden_dim;
    double *x = malloc(sizeof(double) * D), *xb = malloc(sizeof(double) * D), *q = malloc(sizeof(double) * qd),
           *att = malloc(sizeof(double) * qd), *o = malloc(sizeof(double) * D), *g = malloc(sizeof(double) * H),
           *u = malloc(sizeof(double) * H), *sc = malloc(sizeof(double) * (size_t)(R->pos + 1));
    const float *E = tiny_vals(T, T->m.tok_embd);
    for (int i = 0; i < D; i++) x[i] = E[(size_t)tok * D + i];
    for (int l = 0; l < c->n_layers; l++) {
        const bd_layer *L = &T->m.layers[l];
        double *K = R->k + (size_t)l * R->cap * kd, *V = R->v + (size_t)l * R->cap * kd;
        ref_norm(x, tiny_vals(T, L->attn_norm), D, c->norm_eps, xb);
        ref_round(R, xb, D);
        ref_matvec(T, L->wq, xb, q);
        ref_matvec(T, L->wk, xb, K + (size_t)R->pos * kd);
        ref_matvec(T, L->wv, xb, V + (size_t)R->pos * kd);
        ref_round(R, q, qd);
        ref_round(R, K + (size_t)R->pos * kd, kd);
        ref_round(R, V + (size_t)R->pos * kd, kd);
        ref_rope(R, q, c->n_heads, R->pos);
        ref_rope(R, K + (size_t)R->pos * kd, c->n_kv_heads, R->pos);
        for (int h = 0; h < c->n_heads; h++) {
            int gk = h / (c->n_heads / c->n_kv_heads);
            double mx = -1e300, sum = 0;
            for (int s = 0; s <= R->pos; s++) {
                double f = s < R->pos ? R->hist_scale[s] : 1, d = 0;
                for (int i = 0; i < hd; i++) d += q[h * hd + i] * K[(size_t)s * kd + gk * hd + i] * f;
                sc[s] = d / sqrt((double)hd);
                if (sc[s] > mx) mx = sc[s];
            }
            for (int s = 0; s <= R->pos; s++) { sc[s] = exp(sc[s] - mx); sum += sc[s]; }
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int s = 0; s <= R->pos; s++)
                    a += sc[s] / sum * V[(size_t)s * kd + gk * hd + i] * (s < R->pos ? R->hist_scale[s] : 1);
                att[h * hd + i] = a;
            }
        }
        ref_round(R, att, qd);
        ref_matvec(T, L->wo, att, o);
        ref_round(R, o, D);
        for (int i = 0; i < D; i++) x[i] += o[i];
        ref_norm(x, tiny_vals(T, L->ffn_norm), D, c->norm_eps, xb);
        ref_round(R, xb, D);
        ref_matvec(T, L->w_gate, xb, g);
        ref_matvec(T, L->w_up, xb, u);
        ref_round(R, g, H);
        ref_round(R, u, H);
        for (int i = 0; i < H; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        ref_round(R, g, H);
        ref_matvec(T, L->w_down, g, o);
        ref_round(R, o, D);
        for (int i = 0; i < D; i++) x[i] += o[i];
    }
    if (hid) memcpy(hid, x, sizeof(double) * D);
    if (logits) {
        ref_norm(x, tiny_vals(T, T->m.out_norm), D, c->norm_eps, xb);
        ref_round(R, xb, D);
        ref_matvec(T, T->m.output, xb, logits);
        ref_round(R, logits, c->vocab_size);
    }
    R->pos++;
    free(x); free(xb); free(q); free(att); free(o); free(g); free(u); free(sc);
}

static bd_config tiny_config(void)
{
    bd_config c = {0};
    snprintf(c.arch, sizeof c.arch, "llama");
    c.dim = 32; c.hidden_dim = 48; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.head_dim = 8;
    c.vocab_size = 40; c.max_seq = 64; c.norm_eps = 1e-5f; c.rope_theta = 10000; c.rope_dim = 8;
    c.rope_interleaved = 1; c.bos_id = 1; c.eos_id = 2;
    return c;
}

#endif
