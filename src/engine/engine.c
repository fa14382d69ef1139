/* The forward pass of LLaMA-family decoders (LLaMA, Mistral): embeddings,
 * RMSNorm, RoPE (theta, llama3 scaling; interleaved or rotate-half q/k
 * layouts), grouped-query causal attention, SwiGLU MLP, final norm and the
 * (tied or untied) head. Activations and accumulation are fp32; numerics
 * follow transformers' LlamaForCausalLM in fp32 operation by operation
 * (opts.compute can round every linear's input and output to bf16/fp16). */
#include "engine_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *amalloc(size_t bytes) { return aligned_alloc(64, (bytes + 63) & ~(size_t)63); }

const bd_config *bd_engine_config(const bd_engine *e) { return &e->c; }

/* ---- validation ---- */

static int check_weight(const bd_tensor *t, const char *what, int layer, int64_t rows, int64_t cols,
                        bd_err *err)
{
    char where[64];
    if (layer >= 0) snprintf(where, sizeof where, "layer %d %s", layer, what);
    else snprintf(where, sizeof where, "%s", what);
    if (!t) return bd_fail(err, BD_EINPUT, "model: missing tensor %s", where);
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return bd_fail(err, BD_EINPUT, "model: tensor %s '%s': expected shape [%lld, %lld], got ndim %d [%lld, %lld]",
                       where, t->name, (long long)rows, (long long)cols, t->ndim,
                       (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0));
    if (t->dtype == BD_PACKED) {
        if (!t->ops || !t->ops->matmul || !t->ops->row)
            return bd_fail(err, BD_EINPUT, "model: packed tensor %s '%s' has no kernels", where, t->name);
        return 0;
    }
    if ((unsigned)t->dtype >= BD_PACKED || !t->data)
        return bd_fail(err, BD_EINPUT, "model: tensor %s '%s': unsupported dtype %d", where, t->name, (int)t->dtype);
    int be = bd_kern_block_elems(t->dtype);
    if (cols % be)
        return bd_fail(err, BD_EINPUT, "model: tensor %s '%s': row of %lld not a multiple of the %s block (%d)",
                       where, t->name, (long long)cols, bd_dtype_name(t->dtype), be);
    size_t need = (size_t)rows * (size_t)(cols / be) * (size_t)bd_kern_block_bytes(t->dtype);
    if (t->nbytes < need)
        return bd_fail(err, BD_EINPUT, "model: tensor %s '%s': %zu bytes, expected %zu", where, t->name,
                       t->nbytes, need);
    return 0;
}

static int load_norm(bd_engine *e, const bd_tensor *t, const char *what, int layer, float *dst, bd_err *err)
{
    if (!t) return bd_fail(err, BD_EINPUT, "model: missing %s norm (layer %d)", what, layer);
    if (bd_tensor_nelem(t) != e->c.dim || t->dtype == BD_PACKED || (unsigned)t->dtype >= BD_PACKED ||
        bd_kern_block_elems(t->dtype) != 1 || t->nbytes < (size_t)e->c.dim * (size_t)bd_kern_block_bytes(t->dtype))
        return bd_fail(err, BD_EINPUT, "model: %s norm '%s' (layer %d): expected %d f32/f16/bf16 values",
                       what, t->name, layer, e->c.dim);
    e->k->deq[t->dtype](t->data, dst, e->c.dim);
    return 0;
}

static int check_config(const bd_config *c, bd_err *err)
{
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->vocab_size <= 0 || c->max_seq <= 0)
        return bd_fail(err, BD_EINPUT, "model config: dimensions must be positive (dim %d, hidden %d, layers %d, "
                       "heads %d/%d, head_dim %d, vocab %d, max_seq %d)", c->dim, c->hidden_dim, c->n_layers,
                       c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size, c->max_seq);
    if (c->n_heads % c->n_kv_heads)
        return bd_fail(err, BD_EINPUT, "model config: %d heads not a multiple of %d kv heads", c->n_heads,
                       c->n_kv_heads);
    if ((long long)c->n_heads * c->head_dim > (1 << 20) || c->dim > (1 << 20) || c->hidden_dim > (1 << 22))
        return bd_fail(err, BD_EINPUT, "model config: dimensions too large");
    int rd = c->rope_dim ? c->rope_dim : c->head_dim;
    if (rd % 2 || rd > c->head_dim)
        return bd_fail(err, BD_EINPUT, "model config: rope dimension %d must be even and <= head_dim %d", rd,
                       c->head_dim);
    if (!(c->norm_eps >= 0) || !(c->rope_theta > 0))
        return bd_fail(err, BD_EINPUT, "model config: bad norm_eps %g or rope_theta %g", c->norm_eps,
                       c->rope_theta);
    if (c->rope_type == 1 && !(c->rope_factor > 0 && c->rope_high_freq != c->rope_low_freq &&
                               c->rope_low_freq > 0 && c->rope_orig_max > 0))
        return bd_fail(err, BD_EINPUT, "model config: bad llama3 rope scaling (factor %g, low %g, high %g, "
                       "original_max %d)", c->rope_factor, c->rope_low_freq, c->rope_high_freq, c->rope_orig_max);
    return 0;
}

/* inv_freq as transformers computes it in fp32: base ** (2i/d) then 1/x;
 * llama3 scaling per _compute_llama3_parameters, all in fp32. */
static void rope_freqs(const bd_config *c, int rd, float *inv)
{
    for (int i = 0; i < rd / 2; i++) {
        float ex = (float)(2 * i) / (float)rd;
        float p = (float)pow((double)c->rope_theta, (double)ex);
        inv[i] = 1.0f / p;
    }
    if (c->rope_type != 1) {
        /* llama.cpp's Llama-3 GGUFs: the scaling as per-frequency divisors */
        if (c->rope_freq_factors)
            for (int i = 0; i < rd / 2; i++) {
                float f;
                memcpy(&f, c->rope_freq_factors + i, sizeof f);
                inv[i] = inv[i] / f;
            }
        return;
    }
    const float factor = c->rope_factor, lo = c->rope_low_freq, hi = c->rope_high_freq;
    const float old = (float)c->rope_orig_max;
    const float lo_wl = (float)((double)c->rope_orig_max / (double)lo);
    const float hi_wl = (float)((double)c->rope_orig_max / (double)hi);
    for (int i = 0; i < rd / 2; i++) {
        float wl = (float)(2 * M_PI) / inv[i];
        float f = wl > lo_wl ? inv[i] / factor : inv[i];
        if (!(wl < hi_wl) && !(wl > lo_wl)) {
            float s = (old / wl - lo) / (hi - lo);
            f = (1 - s) * f / factor + s * f;
        }
        inv[i] = f;
    }
}

int bd_engine_new(bd_model *m, const bd_engine_opts *opts, bd_engine **out, bd_err *err)
{
    *out = NULL;
    bd_engine_opts o = {0};
    if (opts) o = *opts;
    int rc = check_config(&m->cfg, err);
    if (rc) return rc;
    bd_engine *e = calloc(1, sizeof *e);
    if (!e) return bd_oom(err, "engine");
    e->m = m;
    e->c = m->cfg;
    bd_config *c = &e->c;
    if (!c->rope_dim) c->rope_dim = c->head_dim;
    e->q_dim = c->n_heads * c->head_dim;
    e->kv_dim = c->n_kv_heads * c->head_dim;
    e->max_batch = o.max_batch > 0 ? o.max_batch : 512;
    if (e->max_batch > 65536) e->max_batch = 65536;
    e->obs = o.observer;
    e->obs_ctx = o.observer_ctx;
    e->codec = o.kv_codec;
    e->codec_params = o.kv_codec_params;
    e->k = bd_kern_pick(o.kern_level ? o.kern_level - 1 : -1);
    if (o.compute < 0 || o.compute > 2) {
        free(e);
        return bd_fail(err, BD_EINPUT, "engine: compute dtype %d: expected 0 (fp32), 1 (bf16) or 2 (fp16)",
                       o.compute);
    }
    e->compute = o.compute;

    if ((rc = bd_pool_new(o.threads, &e->pool, err))) goto fail;
    e->nthr = bd_pool_threads(e->pool);
    int64_t max_in = c->dim;
    if (c->hidden_dim > max_in) max_in = c->hidden_dim;
    if (e->q_dim > max_in) max_in = e->q_dim;
    if ((rc = bd_mmctx_init(&e->mm, e->k, e->pool, max_in, err))) goto fail;

    /* weights */
    if (!m->layers) { rc = bd_fail(err, BD_EINPUT, "model: no layers"); goto fail; }
    if ((rc = check_weight(m->tok_embd, "token embeddings", -1, c->vocab_size, c->dim, err))) goto fail;
    if ((rc = check_weight(m->output, "output head", -1, c->vocab_size, c->dim, err))) goto fail;
    for (int l = 0; l < c->n_layers; l++) {
        const bd_layer *L = &m->layers[l];
        if ((rc = check_weight(L->wq, "attn q", l, e->q_dim, c->dim, err)) ||
            (rc = check_weight(L->wk, "attn k", l, e->kv_dim, c->dim, err)) ||
            (rc = check_weight(L->wv, "attn v", l, e->kv_dim, c->dim, err)) ||
            (rc = check_weight(L->wo, "attn output", l, c->dim, e->q_dim, err)) ||
            (rc = check_weight(L->w_gate, "ffn gate", l, c->hidden_dim, c->dim, err)) ||
            (rc = check_weight(L->w_up, "ffn up", l, c->hidden_dim, c->dim, err)) ||
            (rc = check_weight(L->w_down, "ffn down", l, c->dim, c->hidden_dim, err)))
            goto fail;
    }
    e->packed = m->output->dtype == BD_PACKED;
    for (int l = 0; l < c->n_layers; l++) {
        const bd_layer *L = &m->layers[l];
        const bd_tensor *w[7] = {L->wq, L->wk, L->wv, L->wo, L->w_gate, L->w_up, L->w_down};
        for (int i = 0; i < 7; i++) e->packed |= w[i]->dtype == BD_PACKED;
    }
    size_t D = (size_t)c->dim, B = (size_t)e->max_batch;
    e->norms = amalloc(sizeof(float) * D * (2 * (size_t)c->n_layers + 1));
    e->inv_freq = amalloc(sizeof(float) * (size_t)(c->rope_dim / 2 + 1));
    if (!e->norms || !e->inv_freq) { rc = bd_oom(err, "engine"); goto fail; }
    for (int l = 0; l < c->n_layers; l++) {
        if ((rc = load_norm(e, m->layers[l].attn_norm, "attention", l, e->norms + (2 * (size_t)l) * D, err)) ||
            (rc = load_norm(e, m->layers[l].ffn_norm, "ffn", l, e->norms + (2 * (size_t)l + 1) * D, err)))
            goto fail;
    }
    if ((rc = load_norm(e, m->out_norm, "output", -1, e->norms + 2 * (size_t)c->n_layers * D, err))) goto fail;
    rope_freqs(c, c->rope_dim, e->inv_freq);

    /* activations for max_batch tokens */
    size_t H = (size_t)c->hidden_dim;
    e->x = amalloc(sizeof(float) * B * D);
    e->xb = amalloc(sizeof(float) * B * D);
    e->xo = amalloc(sizeof(float) * B * D);
    e->q = amalloc(sizeof(float) * B * (size_t)e->q_dim);
    e->att = amalloc(sizeof(float) * B * (size_t)e->q_dim);
    e->hb = amalloc(sizeof(float) * B * H);
    e->hb2 = amalloc(sizeof(float) * B * H);
    e->kt = amalloc(sizeof(float) * B * (size_t)e->kv_dim);
    e->vt = amalloc(sizeof(float) * B * (size_t)e->kv_dim);
    e->tv = calloc(B, sizeof(tok_view));
    size_t lrows = (size_t)(4 * 1024 * 1024 / c->vocab_size); /* <= 16 MB of logits */
    if (lrows < 1) lrows = 1;
    if (lrows > B) lrows = B;
    e->logit_rows = (int)lrows;
    e->logits = amalloc(sizeof(float) * lrows * (size_t)c->vocab_size);
    e->scores = calloc((size_t)e->nthr, sizeof *e->scores);
    if (!e->x || !e->xb || !e->xo || !e->q || !e->att || !e->hb || !e->hb2 || !e->kt || !e->vt || !e->tv ||
        !e->logits || !e->scores) {
        rc = bd_oom(err, "engine activations");
        goto fail;
    }
    *out = e;
    return 0;
fail:
    bd_engine_free(e);
    return rc;
}

void bd_engine_free(bd_engine *e)
{
    if (!e) return;
    bd_mmctx_free(&e->mm);
    bd_pool_free(e->pool);
    if (e->scores)
        for (int i = 0; i < e->nthr; i++) free(e->scores[i]);
    free(e->scores);
    free(e->norms); free(e->inv_freq);
    free(e->x); free(e->xb); free(e->xo); free(e->q); free(e->att); free(e->hb); free(e->hb2);
    free(e->kt); free(e->vt); free(e->tv);
    free(e->logits);
    free(e);
}

int bd_engine_kv_new(bd_engine *e, int max_tokens, bd_kv **out, bd_err *err)
{
    if (max_tokens < 0) return bd_fail(err, BD_EINPUT, "kv cache: negative size %d", max_tokens);
    return bd_kv_create(e->c.n_layers, e->kv_dim, max_tokens ? max_tokens : e->c.max_seq, e->codec,
                        e->codec_params, out, err);
}

const char *bd_engine_kernels(const bd_engine *e) { return e->k->name; }
int bd_engine_threads(const bd_engine *e) { return e->nthr; }

/* ---- building blocks ---- */

/* out = w * (x * rsqrt(mean(x^2) + eps)), as transformers' LlamaRMSNorm. */
void bd_rmsnorm(float *out, const float *x, const float *w, int d, float eps)
{
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
    float var = (float)(ss / d);
    float r = (float)(1.0 / sqrt((double)(var + eps)));
    for (int i = 0; i < d; i++) out[i] = w[i] * (x[i] * r);
}

/* Rotates heads of one token at position pos. Interleaved: pairs (2i, 2i+1);
 * rotate-half: pairs (i, i + rd/2); both use frequency i. */
static void rope(const bd_engine *e, float *v, int n_heads, int pos)
{
    const int hd = e->c.head_dim, rd = e->c.rope_dim, half = rd / 2;
    float cs[512], sn[512];
    for (int i0 = 0; i0 < half; i0 += 512) {
        int i1 = i0 + 512 < half ? i0 + 512 : half;
        for (int i = i0; i < i1; i++) {
            float a = (float)pos * e->inv_freq[i];
            cs[i - i0] = (float)cos((double)a);
            sn[i - i0] = (float)sin((double)a);
        }
        for (int h = 0; h < n_heads; h++) {
            float *p = v + (size_t)h * hd;
            for (int i = i0; i < i1; i++) {
                float c = cs[i - i0], s = sn[i - i0];
                int a = e->c.rope_interleaved ? 2 * i : i, b = e->c.rope_interleaved ? 2 * i + 1 : i + half;
                float x0 = p[a], x1 = p[b];
                p[a] = x0 * c - x1 * s;
                p[b] = x1 * c + x0 * s;
            }
        }
    }
}

typedef struct att_job {
    const bd_engine *e;
    const float *q, *kb, *vb;
    float *out;
    int pos0;
    const tok_view *tv;   /* NULL: one sequence, token t at pos0 + t */
} att_job;

/* One (token, head): causal softmax attention over positions 0..pos0+t. */
static void att_task(void *ctx, int64_t i, int thread)
{
    const att_job *j = ctx;
    const bd_engine *e = j->e;
    const int nh = e->c.n_heads, hd = e->c.head_dim, kvd = e->kv_dim;
    const int t = (int)(i / nh), h = (int)(i % nh), g = h / (nh / e->c.n_kv_heads);
    const int p = j->tv ? j->tv[t].pos : j->pos0 + t;
    const float *kbase = j->tv ? j->tv[t].kb : j->kb, *vbase = j->tv ? j->tv[t].vb : j->vb;
    const float *q = j->q + (size_t)t * e->q_dim + (size_t)h * hd;
    float *sc = e->scores[thread];
    const float scale = (float)(1.0 / sqrt((double)hd));
    float mx = -INFINITY;
    if (e->k->att_qk) {
        e->k->att_qk(q, kbase + (size_t)g * hd, kvd, p + 1, hd, scale, sc);
        for (int s = 0; s <= p; s++) if (sc[s] > mx) mx = sc[s];
    } else {
        for (int s = 0; s <= p; s++) {
            float v = e->k->dot_f32(q, kbase + (size_t)s * kvd + (size_t)g * hd, hd) * scale;
            sc[s] = v;
            if (v > mx) mx = v;
        }
    }
    double sum = 0;
    for (int s = 0; s <= p; s++) {
        sc[s] = expf(sc[s] - mx);
        sum += sc[s];
    }
    float inv = (float)(1.0 / sum);
    float *o = j->out + (size_t)t * e->q_dim + (size_t)h * hd;
    if (e->k->att_av) {
        for (int s = 0; s <= p; s++) sc[s] *= inv;
        e->k->att_av(o, sc, vbase + (size_t)g * hd, kvd, p + 1, hd);
        return;
    }
    memset(o, 0, sizeof(float) * (size_t)hd);
    for (int s = 0; s <= p; s++) e->k->axpy(o, sc[s] * inv, vbase + (size_t)s * kvd + (size_t)g * hd, hd);
}

static int ensure_scores(bd_engine *e, int n, bd_err *err)
{
    if (n <= e->scores_cap) return 0;
    for (int i = 0; i < e->nthr; i++) {
        float *s = realloc(e->scores[i], sizeof(float) * (size_t)n);
        if (!s) return bd_oom(err, "attention scores");
        e->scores[i] = s;
    }
    e->scores_cap = n;
    return 0;
}

/* Per-token elementwise work, one task per token row (inline for one token). */
typedef struct row_job { const bd_engine *e; float *out; const float *x; const float *w; } row_job;

static void norm_task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    const row_job *j = ctx;
    const int D = j->e->c.dim;
    bd_rmsnorm(j->out + (size_t)t * D, j->x + (size_t)t * D, j->w, D, j->e->c.norm_eps);
}

static void norm_rows(bd_engine *e, float *out, const float *x, const float *w, int n)
{
    row_job j = {e, out, x, w};
    bd_pool_run(e->pool, norm_task, &j, n);
}

/* SwiGLU: hb = silu(hb) * hb2, as transformers' act_fn(gate) * up */
static void swiglu_task(void *ctx, int64_t t, int thread)
{
    (void)thread;
    const row_job *j = ctx;
    const size_t H = (size_t)j->e->c.hidden_dim;
    float *g = j->out + (size_t)t * H;
    const float *u = j->x + (size_t)t * H;
    for (size_t i = 0; i < H; i++) g[i] = g[i] * (1.0f / (1.0f + expf(-g[i]))) * u[i];
}

/* --compute bf16/fp16 (decisions.md §1) emulates torch running each linear in
 * that dtype: its input and output are rounded to the dtype (nearest-even, fp16
 * overflowing to inf as torch's casts do), while the products are accumulated
 * in fp32, as torch's bf16/fp16 matmuls do on CPU and on GPU tensor cores. The
 * accumulation order still differs from torch's kernels, and everything
 * between linears (norms, rope, softmax, SwiGLU, residual stream) stays fp32
 * here, whereas a model cast to bf16 in torch would also round those: this is
 * an approximation of the mixed precision, not a bit-exact replica. fp32
 * leaves the buffers untouched (bit-identical to no emulation). */
static void round_act(const bd_engine *e, float *p, size_t n)
{
    if (e->compute == 1)
        for (size_t i = 0; i < n; i++) p[i] = bd_bf16_to_f32(bd_f32_to_bf16(p[i]));
    else if (e->compute == 2)
        for (size_t i = 0; i < n; i++) p[i] = bd_f16_to_f32(bd_f32_to_f16(p[i]));
}

static void observe(const bd_engine *e, int l, const char *which, const float *x, int n, int in)
{
    if (e->obs) e->obs(e->obs_ctx, l, which, x, n, in);
}

/* One decoder block on x[n*dim] (tokens at positions pos0..pos0+n-1).
 * kb/vb: fp32 [pos0+n, kv_dim]; rows < pos0 hold the history, rows
 * pos0..pos0+n-1 are written here. With tv (batched decoding), token t
 * belongs to its own sequence instead: history and new row in tv[t]. */
static int layer(bd_engine *e, int l, float *x, int n, int pos0, float *kb, float *vb, const tok_view *tv,
                 bd_err *err)
{
    const bd_config *c = &e->c;
    const bd_layer *L = &e->m->layers[l];
    const int D = c->dim;
    const size_t kvd = (size_t)e->kv_dim;
    int rc, span = pos0 + n;
    for (int t = 0; tv && t < n; t++) span = tv[t].pos + 1 > span ? tv[t].pos + 1 : span;
    if ((rc = ensure_scores(e, span, err))) return rc;
    const float *wn = e->norms + 2 * (size_t)l * D;
    norm_rows(e, e->xb, x, wn, n);
    round_act(e, e->xb, (size_t)n * D);
    observe(e, l, "q", e->xb, n, D);
    observe(e, l, "k", e->xb, n, D);
    observe(e, l, "v", e->xb, n, D);
    float *kn = tv ? e->kt : kb + (size_t)pos0 * kvd, *vn = tv ? e->vt : vb + (size_t)pos0 * kvd;
    bd_mm qkv[3] = {{L->wq, e->q}, {L->wk, kn}, {L->wv, vn}};
    if ((rc = bd_matmul(&e->mm, qkv, 3, e->xb, n, err))) return rc;
    round_act(e, e->q, (size_t)n * e->q_dim);
    round_act(e, kn, (size_t)n * kvd);
    round_act(e, vn, (size_t)n * kvd);
    for (int t = 0; t < n; t++) {
        int p = tv ? tv[t].pos : pos0 + t;
        rope(e, e->q + (size_t)t * e->q_dim, c->n_heads, p);
        rope(e, kn + (size_t)t * kvd, c->n_kv_heads, p);
        if (tv) {
            memcpy(tv[t].kb + (size_t)p * kvd, kn + (size_t)t * kvd, sizeof(float) * kvd);
            memcpy(tv[t].vb + (size_t)p * kvd, vn + (size_t)t * kvd, sizeof(float) * kvd);
        }
    }
    att_job aj = {e, e->q, kb, vb, e->att, pos0, tv};
    bd_pool_run(e->pool, att_task, &aj, (int64_t)n * c->n_heads);
    round_act(e, e->att, (size_t)n * e->q_dim);
    observe(e, l, "o", e->att, n, e->q_dim);
    bd_mm o = {L->wo, e->xo};
    if ((rc = bd_matmul(&e->mm, &o, 1, e->att, n, err))) return rc;
    round_act(e, e->xo, (size_t)n * D);
    for (size_t i = 0; i < (size_t)n * D; i++) x[i] += e->xo[i];

    const float *fn = e->norms + (2 * (size_t)l + 1) * D;
    norm_rows(e, e->xb, x, fn, n);
    round_act(e, e->xb, (size_t)n * D);
    observe(e, l, "gate", e->xb, n, D);
    observe(e, l, "up", e->xb, n, D);
    bd_mm gu[2] = {{L->w_gate, e->hb}, {L->w_up, e->hb2}};
    if ((rc = bd_matmul(&e->mm, gu, 2, e->xb, n, err))) return rc;
    round_act(e, e->hb, (size_t)n * c->hidden_dim);
    round_act(e, e->hb2, (size_t)n * c->hidden_dim);
    row_job sj = {e, e->hb, e->hb2, NULL};
    bd_pool_run(e->pool, swiglu_task, &sj, n);
    round_act(e, e->hb, (size_t)n * c->hidden_dim);
    observe(e, l, "down", e->hb, n, c->hidden_dim);
    bd_mm dn = {L->w_down, e->xo};
    if ((rc = bd_matmul(&e->mm, &dn, 1, e->hb, n, err))) return rc;
    round_act(e, e->xo, (size_t)n * D);
    for (size_t i = 0; i < (size_t)n * D; i++) x[i] += e->xo[i];
    return 0;
}

int bd_engine_block(bd_engine *e, int l, float *x, int n, bd_err *err)
{
    if (l < 0 || l >= e->c.n_layers) return bd_fail(err, BD_EINPUT, "block %d: model has %d layers", l, e->c.n_layers);
    if (n <= 0) return 0;
    size_t kvd = (size_t)e->kv_dim;
    float *kb = malloc(sizeof(float) * (size_t)n * kvd), *vb = malloc(sizeof(float) * (size_t)n * kvd);
    int rc = 0;
    if (!kb || !vb) rc = bd_oom(err, "block kv");
    for (int t0 = 0; !rc && t0 < n; t0 += e->max_batch) {
        int nc = n - t0 < e->max_batch ? n - t0 : e->max_batch;
        rc = layer(e, l, x + (size_t)t0 * e->c.dim, nc, t0, kb, vb, NULL, err);
    }
    free(kb);
    free(vb);
    return rc;
}

/* Embeds tokens into e->x; every id is checked against the vocabulary. */
static int embed(bd_engine *e, const int32_t *tok, int n, bd_err *err)
{
    for (int t = 0; t < n; t++) {
        if (tok[t] < 0 || tok[t] >= e->c.vocab_size)
            return bd_fail(err, BD_EINPUT, "token %d at index %d: outside the vocabulary (0..%d)", tok[t], t,
                           e->c.vocab_size - 1);
        bd_weight_row(&e->mm, e->m->tok_embd, tok[t], e->x + (size_t)t * e->c.dim);
    }
    return 0;
}

/* Final norm of x rows [r0, r0+n) into e->xb and the head into out[n*vocab]. */
int bd_engine_head(bd_engine *e, int r0, int n, float *out, bd_err *err)
{
    const int D = e->c.dim;
    const float *w = e->norms + 2 * (size_t)e->c.n_layers * D;
    norm_rows(e, e->xb, e->x + (size_t)r0 * D, w, n);
    round_act(e, e->xb, (size_t)n * D);
    bd_mm h = {e->m->output, out};
    int rc = bd_matmul(&e->mm, &h, 1, e->xb, n, err);
    if (!rc) round_act(e, out, (size_t)n * e->c.vocab_size);
    return rc;
}

int bd_engine_run(bd_engine *e, bd_kv *kv, const int32_t *tokens, int n, bd_chunk_fn fn, void *ctx,
                  bd_err *err)
{
    if (n < 0) return bd_fail(err, BD_EINPUT, "forward: negative token count");
    if (n == 0) return 0;
    int rc = bd_kv_call_begin(kv, n, err);
    if (rc) return rc;
    for (int t0 = 0; t0 < n; t0 += e->max_batch) {
        int nc = n - t0 < e->max_batch ? n - t0 : e->max_batch;
        if ((rc = embed(e, tokens + t0, nc, err))) goto fail;
        int pos0 = bd_kv_pos(kv);
        for (int l = 0; l < e->c.n_layers; l++) {
            float *kb, *vb;
            if ((rc = bd_kv_view(kv, l, nc, &kb, &vb, err)) || (rc = layer(e, l, e->x, nc, pos0, kb, vb, NULL, err)) ||
                (rc = bd_kv_commit(kv, l, nc, err)))
                goto fail;
        }
        bd_kv_advance(kv, nc);
        if (fn && (rc = fn(ctx, e, t0, nc, err))) goto fail;
    }
    return bd_kv_call_end(kv, err);
fail:
    bd_kv_reset(kv);
    return rc;
}

typedef struct fwd_ctx { float *logits; int want_all, n; } fwd_ctx;

static int fwd_chunk(void *ctx, bd_engine *e, int t0, int nc, bd_err *err)
{
    fwd_ctx *f = ctx;
    if (!f->logits) return 0;
    size_t V = (size_t)e->c.vocab_size;
    if (f->want_all) {
        for (int r = 0; r < nc; r += e->logit_rows) {
            int m = nc - r < e->logit_rows ? nc - r : e->logit_rows;
            int rc = bd_engine_head(e, r, m, f->logits + (size_t)(t0 + r) * V, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (t0 + nc == f->n) return bd_engine_head(e, nc - 1, 1, f->logits, err);
    return 0;
}

int bd_forward(bd_engine *e, bd_kv *kv, const int32_t *tokens, int n, float *logits, int want_all, bd_err *err)
{
    fwd_ctx f = {logits, want_all, n};
    return bd_engine_run(e, kv, tokens, n, fwd_chunk, &f, err);
}

int bd_engine_can_batch(const bd_engine *e) { return !e->packed && !e->obs; }

int bd_forward_batch(bd_engine *e, bd_kv *const *kv, const int32_t *tokens, int n, float *logits, bd_err *err)
{
    if (n < 1 || n > e->max_batch)
        return bd_fail(err, BD_EINPUT, "batched forward: %d sequences (expected 1..%d)", n, e->max_batch);
    if (!bd_engine_can_batch(e))
        return bd_fail(err, BD_EUNSUP, "batched forward: %s", e->obs ? "a calibration observer is installed"
                       : "the model has packed (accel) weights, whose kernels may mix the tokens of a batch");
    for (int s = 0; s < n; s++) {
        for (int r = 0; r < s; r++)
            if (kv[r] == kv[s]) return bd_fail(err, BD_EINPUT, "batched forward: sequences %d and %d share a cache", r, s);
        if (bd_kv_pos(kv[s]) + 1 > bd_kv_capacity(kv[s]))
            return bd_fail(err, BD_EINPUT, "batched forward: sequence %d: the cache is full (%d positions)", s,
                           bd_kv_capacity(kv[s]));
    }
    int rc = 0, begun = 0;
    for (; begun < n && !rc; begun++) rc = bd_kv_call_begin(kv[begun], 1, err);
    if (!rc) rc = embed(e, tokens, n, err);
    tok_view *tv = e->tv;
    e->mm.force_gemm = 1;
    for (int l = 0; l < e->c.n_layers && !rc; l++) {
        for (int s = 0; s < n && !rc; s++) {
            tv[s].pos = bd_kv_pos(kv[s]);
            rc = bd_kv_view(kv[s], l, 1, &tv[s].kb, &tv[s].vb, err);
        }
        if (!rc) rc = layer(e, l, e->x, n, 0, NULL, NULL, tv, err);
        for (int s = 0; s < n && !rc; s++) rc = bd_kv_commit(kv[s], l, 1, err);
    }
    if (!rc) {
        for (int s = 0; s < n; s++) bd_kv_advance(kv[s], 1);
        if (logits) rc = bd_engine_head(e, 0, n, logits, err);
    }
    e->mm.force_gemm = 0;
    for (int s = 0; s < n && !rc; s++) rc = bd_kv_call_end(kv[s], err);
    if (rc)
        for (int s = 0; s < begun; s++) bd_kv_reset(kv[s]);
    return rc;
}
