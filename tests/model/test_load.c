/* All three stories260K formats load to the same model: equal configs, the
 * llama2.c file's bytes in every tensor (checked against offsets computed from
 * MANIFEST §1's layout, not from the loader), and the HF q/k rows permuted as
 * MANIFEST §1 states. */
#include "../test.h"
#include "mk.h"
#include "model/gguf.h"
#include "model/model.h"

enum { DIM = 64, HID = 172, NL = 5, NH = 8, NKV = 4, VOC = 512, SEQ = 512, HD = 8, KVD = 32 };

static bd_model *load(const char *path)
{
    bd_model *m = NULL;
    bd_err err = {0};
    int rc = bd_model_load(path, &m, &err);
    CHECK_MSG(rc == 0 && m, "%s: %s", path, err.msg);
    return rc ? NULL : m;
}

static void check_cfg(const bd_model *m, int interleaved)
{
    const bd_config *c = &m->cfg;
    CHECK_STR(c->arch, "llama");
    CHECK_EQ_INT(c->dim, DIM);
    CHECK_EQ_INT(c->hidden_dim, HID);
    CHECK_EQ_INT(c->n_layers, NL);
    CHECK_EQ_INT(c->n_heads, NH);
    CHECK_EQ_INT(c->n_kv_heads, NKV);
    CHECK_EQ_INT(c->head_dim, HD);
    CHECK_EQ_INT(c->rope_dim, HD);
    CHECK_EQ_INT(c->vocab_size, VOC);
    CHECK_EQ_INT(c->max_seq, SEQ);
    CHECK_NEAR(c->norm_eps, 1e-5, 1e-12);
    CHECK_NEAR(c->rope_theta, 10000.0, 0);
    CHECK_EQ_INT(c->rope_type, 0);
    CHECK_EQ_INT(c->rope_interleaved, interleaved);
    CHECK_EQ_INT(c->tied, 1);
    CHECK_EQ_INT(c->bos_id, 1);
    CHECK_EQ_INT(c->eos_id, 2);
    CHECK_EQ_INT(c->n_eos, 1);
    CHECK(m->output == m->tok_embd);
    /* 264,128 floats minus the 4,096 of freq_cis (MANIFEST §1) */
    CHECK_EQ_INT(bd_model_param_count(m), 264128 - 4096);
    CHECK_EQ_INT(bd_model_weight_bytes(m), 4 * (264128 - 4096));
    CHECK(m->chat_template == NULL);
}

/* Offsets of each array in stories260K.bin, from MANIFEST §1. */
static const uint8_t *bin_at(const tbuf *b, int which, int layer)
{
    const int64_t per[11] = {VOC * DIM, DIM, DIM * DIM, KVD * DIM, KVD * DIM, DIM * DIM, DIM, HID * DIM, DIM * HID,
                             HID * DIM, DIM};
    int64_t off = 0;
    for (int i = 0; i < which; i++) off += per[i] * (i == 0 || i == 10 ? 1 : NL);
    off += per[which] * layer;
    return b->p + 28 + 4 * off;
}

static void check_bytes(const char *fmt, const bd_tensor *t, const uint8_t *want, size_t n)
{
    CHECK_MSG(t && t->dtype == BD_F32 && t->nbytes == n && !memcmp(t->data, want, n), "%s: tensor %s differs", fmt,
              t ? t->name : "(null)");
}

int main(void)
{
    tbuf bin = tb_load(S260 "stories260K.bin");
    bd_model *mb = load(S260 "stories260K.bin"), *mg = load(S260 "stories260K.gguf"), *mh = load(S260 "hf");
    if (!mb || !mg || !mh) return test_done();
    CHECK_EQ_INT(mb->format, BD_FMT_LLAMA2C);
    CHECK_EQ_INT(mg->format, BD_FMT_GGUF);
    CHECK_EQ_INT(mh->format, BD_FMT_HF);
    check_cfg(mb, 1);
    check_cfg(mg, 1);
    check_cfg(mh, 0);
    CHECK(mg->gguf != NULL && bd_gguf_find(mg->gguf, "tokenizer.ggml.tokens") != NULL);
    CHECK(mb->gguf == NULL && mb->tok_path[0] == 0);
    CHECK_STR(mh->tok_path, S260 "hf");
    CHECK_EQ_INT(mb->n_tensors, 1 + 9 * NL + 1);
    CHECK_EQ_INT(mg->n_tensors, 47);
    CHECK_EQ_INT(mh->n_tensors, 47);
    /* shapes are row-major [out, in] */
    CHECK(mg->layers[0].w_down->shape[0] == DIM && mg->layers[0].w_down->shape[1] == HID);
    CHECK(mh->layers[0].w_down->shape[0] == DIM && mh->layers[0].w_down->shape[1] == HID);
    CHECK(mg->layers[2].wk->shape[0] == KVD && mg->layers[2].wk->shape[1] == DIM);
    CHECK(bd_model_tensor(mg, "blk.4.ffn_up.weight") == mg->layers[4].w_up);
    CHECK(bd_model_tensor(mh, "model.layers.4.mlp.up_proj.weight") == mh->layers[4].w_up);

    bd_model *ms[3] = {mb, mg, mh};
    const char *fn[3] = {"llama2c", "gguf", "hf"};
    for (int f = 0; f < 3; f++) {
        bd_model *m = ms[f];
        check_bytes(fn[f], m->tok_embd, bin_at(&bin, 0, 0), VOC * DIM * 4);
        check_bytes(fn[f], m->out_norm, bin_at(&bin, 10, 0), DIM * 4);
        for (int l = 0; l < NL; l++) {
            bd_layer *L = &m->layers[l];
            check_bytes(fn[f], L->attn_norm, bin_at(&bin, 1, l), DIM * 4);
            check_bytes(fn[f], L->wv, bin_at(&bin, 4, l), KVD * DIM * 4);
            check_bytes(fn[f], L->wo, bin_at(&bin, 5, l), DIM * DIM * 4);
            check_bytes(fn[f], L->ffn_norm, bin_at(&bin, 6, l), DIM * 4);
            check_bytes(fn[f], L->w_gate, bin_at(&bin, 7, l), HID * DIM * 4);
            check_bytes(fn[f], L->w_down, bin_at(&bin, 8, l), DIM * HID * 4);
            check_bytes(fn[f], L->w_up, bin_at(&bin, 9, l), HID * DIM * 4);
            if (f < 2) { /* interleaved order: identical */
                check_bytes(fn[f], L->wq, bin_at(&bin, 2, l), DIM * DIM * 4);
                check_bytes(fn[f], L->wk, bin_at(&bin, 3, l), KVD * DIM * 4);
                continue;
            }
            /* HF rotate-half: row h*HD + j = source row h*HD + 2j, row h*HD + HD/2 + j = source h*HD + 2j + 1 */
            const bd_tensor *w[2] = {L->wq, L->wk};
            int heads[2] = {NH, NKV}, bad = 0;
            for (int k = 0; k < 2; k++) {
                const uint8_t *src = bin_at(&bin, 2 + k, l), *dst = w[k]->data;
                for (int h = 0; h < heads[k]; h++)
                    for (int j = 0; j < HD / 2; j++) {
                        if (memcmp(dst + 4 * DIM * (h * HD + j), src + 4 * DIM * (h * HD + 2 * j), 4 * DIM)) bad++;
                        if (memcmp(dst + 4 * DIM * (h * HD + HD / 2 + j), src + 4 * DIM * (h * HD + 2 * j + 1), 4 * DIM))
                            bad++;
                    }
                /* and the permutation is not the identity (the test can fail) */
                CHECK(memcmp(dst, src, (size_t)4 * DIM * heads[k] * HD) != 0);
            }
            CHECK_MSG(bad == 0, "layer %d: %d q/k rows break the MANIFEST permutation", l, bad);
        }
    }
    /* digests: deterministic, and the GGUF one is the file's sha256 (MANIFEST §1) */
    bd_err err = {0};
    CHECK(bd_model_digest(mg, &err) == 0);
    CHECK_STR(mg->digest, "78c4953cf6ef0e0dd7fc67daa5f89f5ece8f5de721d77e5ead669645a508f9ab");
    CHECK(bd_model_digest(mb, &err) == 0);
    CHECK_STR(mb->digest, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
    CHECK(bd_model_digest(mh, &err) == 0 && strlen(mh->digest) == 64);
    char d1[65];
    memcpy(d1, mh->digest, 65);
    CHECK(bd_model_digest(mh, &err) == 0 && !strcmp(d1, mh->digest));
    CHECK_STR(bd_format_name(BD_FMT_GGUF), "gguf");
    /* a file inside the HF folder loads the folder */
    bd_model *mf = load(S260 "hf/model.safetensors");
    if (mf) {
        CHECK_EQ_INT(mf->format, BD_FMT_HF);
        CHECK_STR(mf->tok_path, S260 "hf");
        CHECK(!memcmp(mf->layers[1].wq->data, mh->layers[1].wq->data, 64 * 64 * 4));
        bd_model_free(mf);
    }
    bd_model_free(mb);
    bd_model_free(mg);
    bd_model_free(mh);
    free(bin.p);
    return test_done();
}
