/* GGUF -> bd_model: <arch>.* hyperparameters, llama.cpp tensor names, the
 * chat template; the bd_gguf stays open for the tokenizer (tokenizer.ggml.*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model_int.h"

static int get_int(const bd_gguf *g, const char *pre, const char *key, int required, int64_t lo, int64_t hi,
                   int *out, bd_err *err)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", pre, key);
    uint64_t v;
    int rc = bd_gguf_get_u64(g, k, &v, err);
    if (rc == 1) {
        if (!required) return 0;
        return bd_fail(err, BD_EINPUT, "%s: missing metadata key '%s'", g->path, k);
    }
    if (rc) return rc;
    if (v < (uint64_t)lo || v > (uint64_t)hi) {
        const bd_gguf_kv *kv = bd_gguf_find(g, k);
        return bd_fail(err, BD_EINPUT, "%s: offset %llu: key '%s': %llu, expected %lld..%lld", g->path,
                       (unsigned long long)(kv ? kv->offset : 0), k, (unsigned long long)v, (long long)lo,
                       (long long)hi);
    }
    *out = (int)v;
    return 0;
}

static int get_float(const bd_gguf *g, const char *pre, const char *key, float *out, bd_err *err)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", pre, key);
    double v;
    int rc = bd_gguf_get_f64(g, k, &v, err);
    if (rc == 1) return 0;
    if (rc) return rc;
    *out = (float)v;
    return 0;
}

static int config_and_bind(bd_model *m, const char *path, const bd_name_index *ix, bd_err *err);

int bd_load_gguf(bd_model *m, const char *path, bd_err *err)
{
    int rc = bd_gguf_open(path, &m->gguf, err);
    if (rc) return rc;
    const bd_gguf *g = m->gguf;
    bd_config *c = &m->cfg;
    bd_gguf_str arch;
    rc = bd_gguf_get_str(g, "general.architecture", &arch, err);
    if (rc == 1) return bd_fail(err, BD_EINPUT, "%s: missing metadata key 'general.architecture'", path);
    if (rc) return rc;
    if (!((arch.len == 5 && !memcmp(arch.ptr, "llama", 5)) || (arch.len == 7 && !memcmp(arch.ptr, "mistral", 7))))
        return bd_fail(err, BD_EUNSUP, "%s: key 'general.architecture': '%.*s', expected 'llama' or 'mistral'", path,
                       (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);
    snprintf(c->arch, sizeof c->arch, "%.*s", (int)arch.len, arch.ptr);

    if (g->n_tensors == 0)
        return bd_fail(err, BD_EINPUT, "%s: no tensors (a vocabulary-only GGUF is not a model)", path);
    if (g->n_tensors > BD_MAX_TENSORS)
        return bd_fail(err, BD_EINPUT, "%s: offset 8: %llu tensors, more than the %d a model may have", path,
                       (unsigned long long)g->n_tensors, BD_MAX_TENSORS);
    /* Every tensor becomes a view; GGUF dims are the numpy shape reversed. */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const bd_gguf_tensor *t = &g->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        int64_t shape[4];
        for (uint32_t d = 0; d < t->n_dims; d++) shape[t->n_dims - 1 - d] = (int64_t)t->dims[d];
        if (!bd_model_add(m, name, (bd_dtype)t->dtype, (int)t->n_dims, shape, t->data, (size_t)t->nbytes, err))
            return err->code;
    }
    bd_name_index ix;
    if ((rc = bd_name_index_build(m, path, &ix, err))) return rc;
    rc = config_and_bind(m, path, &ix, err);
    bd_name_index_free(&ix);
    return rc;
}

#define find(ix, name) bd_name_index_find(ix, name)

static int config_and_bind(bd_model *m, const char *path, const bd_name_index *ix, bd_err *err)
{
    const bd_gguf *g = m->gguf;
    bd_config *c = &m->cfg;
    const char *pre = c->arch;
    int rc;
    if ((rc = get_int(g, pre, "block_count", 1, 1, 1024, &c->n_layers, err)) ||
        (rc = get_int(g, pre, "embedding_length", 1, 1, 1 << 17, &c->dim, err)) ||
        (rc = get_int(g, pre, "feed_forward_length", 1, 1, 1 << 20, &c->hidden_dim, err)) ||
        (rc = get_int(g, pre, "attention.head_count", 1, 1, 4096, &c->n_heads, err)))
        return rc;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->dim / c->n_heads;
    c->max_seq = 2048;
    if ((rc = get_int(g, pre, "attention.head_count_kv", 0, 1, 4096, &c->n_kv_heads, err)) ||
        (rc = get_int(g, pre, "attention.key_length", 0, 2, 4096, &c->head_dim, err)) ||
        (rc = get_int(g, pre, "context_length", 0, 1, 1 << 24, &c->max_seq, err)))
        return rc;
    char kl[64];
    snprintf(kl, sizeof kl, "%s.attention.key_length", pre);
    if (!bd_gguf_find(g, kl) && c->dim % c->n_heads)
        return bd_fail(err, BD_EINPUT, "%s: key '%s.embedding_length': %d is not a multiple of the head count %d "
                       "(and no attention.key_length is given)", path, pre, c->dim, c->n_heads);
    c->rope_dim = c->head_dim;
    if ((rc = get_int(g, pre, "rope.dimension_count", 0, 2, 4096, &c->rope_dim, err))) return rc;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    if ((rc = get_float(g, pre, "attention.layer_norm_rms_epsilon", &c->norm_eps, err)) ||
        (rc = get_float(g, pre, "rope.freq_base", &c->rope_theta, err)))
        return rc;
    /* vocab: explicit key, else the embedding's rows */
    bd_tensor *emb = find(ix, "token_embd.weight");
    c->vocab_size = emb ? (int)(emb->shape[0] > (1 << 22) ? 0 : emb->shape[0]) : 0;
    if ((rc = get_int(g, pre, "vocab_size", 0, 1, 1 << 22, &c->vocab_size, err))) return rc;

    /* rope scaling: none, or llama3 (written by some converters); llama.cpp's
     * own Llama-3 conversions carry the factors as rope_freqs.weight instead. */
    char k[128];
    bd_gguf_str st;
    snprintf(k, sizeof k, "%s.rope.scaling.type", pre);
    rc = bd_gguf_get_str(g, k, &st, err);
    if (rc != 0 && rc != 1) return rc;
    if (rc == 0 && !(st.len == 4 && !memcmp(st.ptr, "none", 4))) {
        if (st.len == 6 && !memcmp(st.ptr, "llama3", 6)) {
            c->rope_type = 1;
            c->rope_factor = 8;
            c->rope_low_freq = 1;
            c->rope_high_freq = 4;
            c->rope_orig_max = 8192;
            if ((rc = get_float(g, pre, "rope.scaling.factor", &c->rope_factor, err)) ||
                (rc = get_float(g, pre, "rope.scaling.low_freq_factor", &c->rope_low_freq, err)) ||
                (rc = get_float(g, pre, "rope.scaling.high_freq_factor", &c->rope_high_freq, err)) ||
                (rc = get_int(g, pre, "rope.scaling.original_context_length", 0, 1, 1 << 24, &c->rope_orig_max, err)))
                return rc;
        } else {
            return bd_fail(err, BD_EUNSUP, "%s: key '%s': rope scaling '%.*s' is not supported (none or llama3)",
                           path, k, (int)(st.len > 32 ? 32 : st.len), st.ptr);
        }
    }
    bd_tensor *rf = find(ix, "rope_freqs.weight");
    if (rf) {
        if (rf->dtype != BD_F32 || rf->ndim != 1 || rf->shape[0] != c->rope_dim / 2)
            return bd_fail(err, BD_EINPUT, "%s: tensor 'rope_freqs.weight': expected f32 [%d], got %s [%lld]",
                           path, c->rope_dim / 2, bd_dtype_name(rf->dtype), (long long)rf->shape[0]);
        c->rope_freq_factors = rf->data;
        c->rope_type = 0; /* the factors already encode the scaling: never apply both */
    }
    c->rope_interleaved = 1;

    uint64_t id;
    rc = bd_gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &id, err);
    if (rc == 0) c->bos_id = id < (1u << 22) ? (int)id : -1;
    else if (rc != 1) return rc;
    rc = bd_gguf_get_u64(g, "tokenizer.ggml.eos_token_id", &id, err);
    if (rc == 0) c->eos_id = id < (1u << 22) ? (int)id : -1;
    else if (rc != 1) return rc;

    rc = bd_gguf_get_str(g, "tokenizer.chat_template", &st, err);
    if (rc == 0) {
        m->chat_template = malloc((size_t)st.len + 1);
        if (!m->chat_template) return bd_oom(err, "chat template");
        memcpy(m->chat_template, st.ptr, (size_t)st.len);
        m->chat_template[st.len] = 0;
    } else if (rc != 1) {
        return rc;
    }

    /* bind */
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return bd_oom(err, "layers");
    m->tok_embd = emb;
    m->out_norm = find(ix, "output_norm.weight");
    m->output = find(ix, "output.weight");
    c->tied = m->output == NULL;
    if (c->tied) m->output = emb;
    for (int l = 0; l < c->n_layers; l++) {
        bd_layer *L = &m->layers[l];
        char n[96];
#define B(field, suffix) (snprintf(n, sizeof n, "blk.%d." suffix ".weight", l), L->field = find(ix, n))
        B(attn_norm, "attn_norm"); B(wq, "attn_q"); B(wk, "attn_k"); B(wv, "attn_v"); B(wo, "attn_output");
        B(ffn_norm, "ffn_norm"); B(w_gate, "ffn_gate"); B(w_down, "ffn_down"); B(w_up, "ffn_up");
#undef B
        const char *miss = !L->attn_norm ? "attn_norm" : !L->wq ? "attn_q" : !L->wk ? "attn_k" : !L->wv ? "attn_v"
                         : !L->wo ? "attn_output" : !L->ffn_norm ? "ffn_norm" : !L->w_gate ? "ffn_gate"
                         : !L->w_down ? "ffn_down" : !L->w_up ? "ffn_up" : NULL;
        if (miss) return bd_fail(err, BD_EINPUT, "%s: missing tensor 'blk.%d.%s.weight'", path, l, miss);
    }
    if (!emb) return bd_fail(err, BD_EINPUT, "%s: missing tensor 'token_embd.weight'", path);
    if (!m->out_norm) return bd_fail(err, BD_EINPUT, "%s: missing tensor 'output_norm.weight'", path);
    return bd_model_check(m, path, err);
}
