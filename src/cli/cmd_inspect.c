/* biasdrift inspect: what a model file holds, as "key: value" lines. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../model/gguf.h"
#include "../model/model.h"
#include "../tok/tok.h"
#include "cli.h"

static void human(double v, const char *const *units, double step, char *buf, size_t cap)
{
    int u = 0;
    while (v >= step && units[u + 1]) {
        v /= step;
        u++;
    }
    snprintf(buf, cap, u ? "%.2f %s" : "%.0f%s", v, units[u]);
}

static void print_tokenizer(const bd_model *m, const char *tok_path)
{
    if (!tok_path && m->format == BD_FMT_LLAMA2C) {
        printf("tokenizer: none embedded (llama2.c checkpoint: pass --tokenizer PATH)\n");
        return;
    }
    bd_tok *t = NULL;
    bd_err err = {0};
    int rc = tok_path ? bd_tok_load(tok_path, &t, &err) : bd_tok_for_model(m, &t, &err);
    char src[4200];
    if (tok_path) snprintf(src, sizeof src, "%s", tok_path);
    else if (m->gguf) {
        bd_gguf_str s = {0, NULL};
        bd_err e2 = {0};
        if (bd_gguf_get_str(m->gguf, "general.name", &s, &e2) == 0)
            snprintf(src, sizeof src, "GGUF metadata of '%.*s'", (int)(s.len > 200 ? 200 : s.len), s.ptr);
        else
            snprintf(src, sizeof src, "GGUF metadata");
    } else if (m->tok_path[0]) snprintf(src, sizeof src, "folder %s", m->tok_path);
    else snprintf(src, sizeof src, "none");
    if (rc) {
        printf("tokenizer: %s (not loaded: %s)\n", src, err.msg);
        return;
    }
    printf("tokenizer: %s, vocab %d, bos %d, eos %d (from %s)\n", bd_tok_kind(t), bd_tok_vocab_size(t), bd_tok_bos(t),
           bd_tok_eos(t), src);
    if (bd_tok_vocab_size(t) != m->cfg.vocab_size)
        printf("warning: tokenizer vocab %d differs from the model's %d\n", bd_tok_vocab_size(t), m->cfg.vocab_size);
    bd_tok_free(t);
}

int cmd_inspect(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf file or llama2.c .bin", NULL},
        {"--tokenizer", NULL, 1, "tokenizer to summarize instead of the model's own", NULL},
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, n, "usage: biasdrift inspect --model PATH [--tokenizer PATH]");
    if (rc < 0) return 0;
    if (rc) return rc;
    const char *path = bd_opt_get(opts, n, "--model");
    if (!path) {
        fprintf(stderr, "biasdrift inspect: --model PATH is required\n");
        return 2;
    }
    bd_model *m = NULL;
    bd_err err = {0};
    if ((rc = bd_model_load(path, &m, &err))) return bd_cli_report(&err);
    const bd_config *c = &m->cfg;
    printf("model: %s\n", m->path);
    if (m->gguf) printf("format: gguf (version %u, %" PRIu64 " metadata keys)\n", m->gguf->version, m->gguf->n_kv);
    else printf("format: %s\n", bd_format_name(m->format));
    printf("architecture: %s\n", c->arch);
    printf("hidden size: %d\nintermediate size: %d\nlayers: %d\n", c->dim, c->hidden_dim, c->n_layers);
    printf("attention heads: %d\nkey/value heads: %d%s\nhead dim: %d\n", c->n_heads, c->n_kv_heads,
           c->n_kv_heads < c->n_heads ? " (grouped-query)" : "", c->head_dim);
    printf("vocab size: %d\ncontext length: %d\nrms norm eps: %g\n", c->vocab_size, c->max_seq, (double)c->norm_eps);
    printf("rope: theta %g, %d of %d dims rotated, %s layout\n", (double)c->rope_theta, c->rope_dim, c->head_dim,
           c->rope_interleaved ? "interleaved (adjacent pairs)" : "rotate-half (HF)");
    if (c->rope_type == 1)
        printf("rope scaling: llama3 (factor %g, low_freq_factor %g, high_freq_factor %g, original context %d)\n",
               (double)c->rope_factor, (double)c->rope_low_freq, (double)c->rope_high_freq, c->rope_orig_max);
    else if (c->rope_freq_factors)
        printf("rope scaling: per-frequency factors (rope_freqs.weight)\n");
    else
        printf("rope scaling: none\n");
    printf("output head: %s\n", c->tied ? "tied to the token embeddings" : "separate");
    printf("bos id: %d\neos id: %d", c->bos_id, c->eos_id);
    for (int i = 1; i < c->n_eos; i++) printf("%s%d", i == 1 ? " (also " : ", ", c->eos_ids[i]);
    printf("%s\n", c->n_eos > 1 ? ")" : "");

    int count[BD_DTYPE_COUNT] = {0};
    for (int i = 0; i < m->n_tensors; i++)
        if ((unsigned)m->tensors[i].dtype < BD_DTYPE_COUNT) count[m->tensors[i].dtype]++;
    printf("tensors: %d (", m->n_tensors);
    for (int t = 0, first = 1; t < BD_DTYPE_COUNT; t++)
        if (count[t]) {
            printf("%s%s %d", first ? "" : ", ", bd_dtype_name((bd_dtype)t), count[t]);
            first = 0;
        }
    printf(")\n");
    static const char *const pu[] = {"", "K", "M", "B", NULL}, *const bu[] = {" B", "KiB", "MiB", "GiB", "TiB", NULL};
    char h1[32], h2[32];
    int64_t params = bd_model_param_count(m);
    size_t bytes = bd_model_weight_bytes(m);
    human((double)params, pu, 1000, h1, sizeof h1);
    human((double)bytes, bu, 1024, h2, sizeof h2);
    printf("parameters: %" PRId64 " (%s)\n", params, h1);
    printf("weight bytes: %zu (%s)\n", bytes, h2);
    if (m->chat_template) {
        size_t len = strlen(m->chat_template), k = strcspn(m->chat_template, "\n");
        printf("chat template: present (%zu bytes), first line: %.*s%s\n", len, (int)(k > 100 ? 100 : k),
               m->chat_template, k > 100 ? "..." : "");
    } else {
        printf("chat template: none\n");
    }
    print_tokenizer(m, bd_opt_get(opts, n, "--tokenizer"));
    bd_model_free(m);
    return 0;
}
