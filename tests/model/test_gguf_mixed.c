/* A GGUF written by gguf-py's GGUFWriter with every supported dtype
 * (tests/reference/gen_gguf_mixed.py) loads as a model whose rows, read
 * through bd_tensor_row, equal gguf-py's own dequantization (GGUFReader +
 * gguf.quants.dequantize) of the same file: reader, [out, in] shapes,
 * alignment 64 and all nine dtypes checked end to end. */
#include "../test.h"
#include "mk.h"
#include "model/gguf.h"
#include "model/model.h"

#define REF "tests/reference/model/"

int main(void)
{
    bd_model *m = NULL;
    bd_err err = {0};
    int rc = bd_model_load(REF "mixed.gguf", &m, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return test_done();
    const bd_config *c = &m->cfg;
    CHECK(c->dim == 256 && c->hidden_dim == 32 && c->n_layers == 1 && c->n_heads == 4 && c->n_kv_heads == 2);
    CHECK_EQ_INT(c->head_dim, 8); /* from attention.key_length, not dim / n_heads */
    CHECK_EQ_INT(c->vocab_size, 16);
    CHECK_EQ_INT(c->max_seq, 128);
    CHECK_NEAR(c->norm_eps, 1e-6, 1e-12);
    CHECK_NEAR(c->rope_theta, 500000.0, 0);
    CHECK_EQ_INT(c->tied, 0);
    CHECK(m->output != m->tok_embd);
    CHECK(c->bos_id == 1 && c->eos_id == 2);
    CHECK_EQ_INT(m->gguf->alignment, 64);
    CHECK(c->rope_freq_factors && c->rope_freq_factors[1] == 1.5f && c->rope_freq_factors[3] == 8.0f);
    CHECK_STR(m->chat_template, "{% for m in messages %}{{ m['content'] }}\n{% endfor %}");
    CHECK_EQ_INT(m->tok_embd->dtype, BD_Q8_0);
    CHECK_EQ_INT(m->layers[0].wq->dtype, BD_Q4_K);
    CHECK_EQ_INT(m->layers[0].wk->dtype, BD_Q5_K);
    CHECK_EQ_INT(m->layers[0].wv->dtype, BD_Q6_K);
    CHECK_EQ_INT(m->layers[0].wo->dtype, BD_BF16);
    CHECK_EQ_INT(m->layers[0].w_gate->dtype, BD_F16);
    CHECK_EQ_INT(m->layers[0].w_up->dtype, BD_Q4_0);
    CHECK_EQ_INT(m->layers[0].w_down->dtype, BD_Q4_1);
    CHECK_EQ_INT(m->layers[0].ffn_norm->dtype, BD_F16);
    CHECK(m->layers[0].wo->shape[0] == 256 && m->layers[0].wo->shape[1] == 32);

    char *idx = test_read_file(REF "mixed_rows.txt", NULL);
    tbuf gold = tb_load(REF "mixed_rows.f32");
    size_t off = 0;
    int ntens = 0;
    for (char *line = idx ? strtok(idx, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char name[96];
        long rows, cols;
        if (sscanf(line, "%95s %ld %ld", name, &rows, &cols) != 3) continue;
        ntens++;
        bd_tensor *t = bd_model_tensor(m, name);
        CHECK_MSG(t != NULL, "missing %s", name);
        if (!t) continue;
        if (t->ndim == 1) CHECK(rows == 1 && t->shape[0] == cols);
        else CHECK_MSG(t->shape[0] == rows && t->shape[1] == cols, "%s shape", name);
        float *y = malloc((size_t)cols * sizeof *y);
        for (int k = 0; k < 2; k++) {
            if (off + 4 * (size_t)cols > gold.n) break;
            bd_tensor_row(t, k ? rows - 1 : 0, y);
            int bad = 0;
            for (long i = 0; i < cols; i++) {
                float r;
                memcpy(&r, gold.p + off + 4 * i, 4);
                /* same float32 operation order as gguf-py: equal up to FMA contraction */
                if (!(fabsf(y[i] - r) <= 1e-6f * fabsf(r) + 1e-30f)) bad++;
            }
            CHECK_MSG(bad == 0, "%s row %ld: %d values differ from gguf-py", name, k ? rows - 1 : 0, bad);
            off += 4 * (size_t)cols;
        }
        free(y);
    }
    CHECK_EQ_INT(ntens, 13);
    CHECK_EQ_INT(off, gold.n);
    free(idx);
    free(gold.p);
    bd_model_free(m);
    return test_done();
}
