/* llama2.c legacy checkpoint (version 0, no magic): seven int32 header fields
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then
 * float32 arrays stacked over layers; a negative vocab_size means the
 * classifier is stored separately after the legacy freq_cis tables. Tensors
 * get llama.cpp-style names; q/k rows keep the interleaved RoPE order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"

int bd_load_llama2c(bd_model *m, const char *path, bd_err *err)
{
    const uint8_t *base;
    size_t size;
    int rc = bd_model_map(m, path, &base, &size, err);
    if (rc) return rc;
    if (size < 28)
        return bd_fail(err, BD_EINPUT,
                       "%s: offset 0: %zu bytes: not a GGUF file (no 'GGUF' magic), not an HF folder, and too "
                       "short for a llama2.c checkpoint header (28 bytes)", path, size);
    if (!memcmp(base, "24ka", 4)) { /* uint32 0x616b3432 "ak42" little-endian: llama2.c export v1/v2 */
        int32_t ver;
        memcpy(&ver, base + 4, 4);
        return bd_fail(err, BD_EUNSUP,
                       "%s: offset 0: llama2.c export version %d (magic ak42) is not supported; export the legacy "
                       "version 0 checkpoint (or convert to GGUF)", path, ver);
    }
    int32_t h[7];
    memcpy(h, base, sizeof h);
    static const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    static const int32_t hi[7] = {1 << 17, 1 << 20, 1024, 4096, 4096, 1 << 22, 1 << 24};
    for (int i = 0; i < 7; i++) {
        int32_t v = i == 5 && h[i] < 0 && h[i] != INT32_MIN ? -h[i] : h[i];
        if (v < 1 || v > hi[i])
            return bd_fail(err, BD_EINPUT,
                           "%s: offset %d: not a GGUF file (no 'GGUF' magic), not an HF folder, and not a llama2.c "
                           "checkpoint: header field %s is %d, expected 1..%d",
                           path, 4 * i, names[i], h[i], hi[i]);
    }
    bd_config *c = &m->cfg;
    snprintf(c->arch, sizeof c->arch, "llama");
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->tied = h[5] > 0;
    c->vocab_size = h[5] > 0 ? h[5] : -h[5];
    c->max_seq = h[6];
    if (c->dim % c->n_heads)
        return bd_fail(err, BD_EINPUT, "%s: offset 0: dim %d is not a multiple of n_heads %d", path, c->dim, c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return bd_fail(err, BD_EINPUT, "%s: offset 16: n_heads %d is not a multiple of n_kv_heads %d", path,
                       c->n_heads, c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    c->rope_dim = c->head_dim;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->rope_interleaved = 1;
    c->bos_id = 1;
    c->eos_id = 2;

    /* Expected size in 64-bit (all factors are bounded above, so no overflow). */
    int64_t L = c->n_layers, d = c->dim, hd = c->hidden_dim, V = c->vocab_size, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t fl[13] = {V * d, L * d, L * d * d, L * kvd * d, L * kvd * d, L * d * d, L * d,
                      L * hd * d, L * d * hd, L * hd * d, d, (int64_t)c->max_seq * c->head_dim, c->tied ? 0 : V * d};
    int64_t total = 0;
    for (int i = 0; i < 13; i++) total += fl[i];
    uint64_t want = 28 + 4 * (uint64_t)total;
    if (want != size)
        return bd_fail(err, BD_EINPUT,
                       "%s: file is %zu bytes, but a llama2.c checkpoint with this header (dim %d, hidden_dim %d, "
                       "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) is %llu bytes",
                       path, size, h[0], h[1], h[2], h[3], h[4], h[5], h[6], (unsigned long long)want);

    const float *p = (const float *)(const void *)(base + 28);
    const float *arr[13];
    for (int i = 0; i < 13; i++) {
        arr[i] = p;
        p += fl[i];
    }
    /* arr[11] is freq_cis_real + freq_cis_imag (legacy, unused) */
    int64_t s2[2];
    int64_t s1[1] = {d};
    s2[0] = V; s2[1] = d;
    if (!bd_model_add(m, "token_embd.weight", BD_F32, 2, s2, arr[0], (size_t)(V * d * 4), err)) return err->code;
    struct { const char *name; int k; int64_t rows, cols; } lay[9] = {
        {"attn_norm", 1, d, 0}, {"attn_q", 2, d, d}, {"attn_k", 3, kvd, d}, {"attn_v", 4, kvd, d},
        {"attn_output", 5, d, d}, {"ffn_norm", 6, d, 0}, {"ffn_gate", 7, hd, d}, {"ffn_down", 8, d, hd},
        {"ffn_up", 9, hd, d}};
    for (int l = 0; l < c->n_layers; l++)
        for (int i = 0; i < 9; i++) {
            char n[96];
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, lay[i].name);
            int64_t per = lay[i].rows * (lay[i].cols ? lay[i].cols : 1);
            int64_t sh[2] = {lay[i].rows, lay[i].cols};
            if (!bd_model_add(m, n, BD_F32, lay[i].cols ? 2 : 1, lay[i].cols ? sh : s1, arr[lay[i].k] + l * per,
                              (size_t)per * 4, err))
                return err->code;
        }
    if (!bd_model_add(m, "output_norm.weight", BD_F32, 1, s1, arr[10], (size_t)d * 4, err)) return err->code;
    if (!c->tied && !bd_model_add(m, "output.weight", BD_F32, 2, s2, arr[12], (size_t)(V * d * 4), err))
        return err->code;

    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return bd_oom(err, "layers");
    m->tok_embd = &m->tensors[0];
    for (int l = 0; l < c->n_layers; l++) {
        bd_tensor *t = &m->tensors[1 + 9 * l];
        bd_layer *Ly = &m->layers[l];
        Ly->attn_norm = &t[0]; Ly->wq = &t[1]; Ly->wk = &t[2]; Ly->wv = &t[3]; Ly->wo = &t[4];
        Ly->ffn_norm = &t[5]; Ly->w_gate = &t[6]; Ly->w_down = &t[7]; Ly->w_up = &t[8];
    }
    m->out_norm = &m->tensors[1 + 9 * c->n_layers];
    m->output = c->tied ? m->tok_embd : &m->tensors[2 + 9 * c->n_layers];
    return bd_model_check(m, path, err);
}
