/* One in-memory model, whatever file it came from: hyperparameters, a table of
 * weight tensors (views into mmapped files, kept in their stored dtype), and
 * where its tokenizer and chat template come from. */
#ifndef BD_MODEL_H
#define BD_MODEL_H

#include "../util/err.h"
#include "tensor.h"

typedef enum bd_format { BD_FMT_HF = 1, BD_FMT_GGUF, BD_FMT_LLAMA2C, BD_FMT_BDQ } bd_format;

typedef struct bd_config {
    char arch[32];       /* "llama", "mistral" */
    int dim;             /* hidden_size */
    int hidden_dim;      /* intermediate_size */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;        /* usually dim / n_heads */
    int vocab_size;
    int max_seq;         /* max_position_embeddings / context_length */
    float norm_eps;
    float rope_theta;
    int rope_dim;        /* dims rotated per head (== head_dim for llama) */
    /* llama3 rope scaling (rope_type == 1) */
    int rope_type;       /* 0 none, 1 llama3 */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max;
    /* 1: q/k rows are in the interleaved (GGUF / llama2.c / Meta) order where
     * adjacent pairs (2i, 2i+1) rotate together; 0: HF rotate-half order where
     * (i, i+head_dim/2) rotate together. Both give the same logits. */
    int rope_interleaved;
    int tied;            /* output head shares token embeddings */
    int bos_id, eos_id;  /* -1 if unknown */
} bd_config;

typedef struct bd_layer {
    bd_tensor *attn_norm, *wq, *wk, *wv, *wo;
    bd_tensor *ffn_norm, *w_gate, *w_down, *w_up; /* gate=w1, down=w2, up=w3 */
} bd_layer;

typedef struct bd_mapping { void *addr; size_t len; } bd_mapping;

typedef struct bd_model {
    bd_format format;
    char path[4096];       /* what the user passed */
    bd_config cfg;
    bd_tensor *tensors;    /* all tensors, owned table */
    int n_tensors;
    bd_tensor *tok_embd;   /* [vocab, dim] */
    bd_tensor *out_norm;   /* [dim] */
    bd_tensor *output;     /* [vocab, dim]; == tok_embd when tied */
    bd_layer *layers;      /* n_layers */
    bd_mapping *maps;      /* mmapped files, unmapped on free */
    int n_maps;
    /* Tokenizer source: the tok module builds a tokenizer from this.
     * For GGUF: gguf != NULL (metadata stays valid while the model lives).
     * For HF: tok_path is the folder. For llama2.c: empty (needs --tokenizer). */
    struct bd_gguf *gguf;
    char tok_path[4096];
    char *chat_template;   /* NULL if none (owned) */
    char digest[65];       /* sha256 hex of the weight files, filled by bd_model_digest */
} bd_model;

/* Loads a model: an HF folder (config.json + safetensors), a .gguf file, or a
 * llama2.c checkpoint (.bin). Validates every header field; on failure returns
 * BD_EINPUT with a message naming the file, the offset or key, and what was expected. */
int bd_model_load(const char *path, bd_model **out, bd_err *err);
void bd_model_free(bd_model *m);
/* Finds a tensor by name, NULL if absent. */
bd_tensor *bd_model_tensor(bd_model *m, const char *name);
/* Total bytes of weight data and parameter count. */
size_t bd_model_weight_bytes(const bd_model *m);
int64_t bd_model_param_count(const bd_model *m);

#endif
