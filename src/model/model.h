/* One in-memory model, whatever file it came from: hyperparameters, a table of
 * weight tensors (views into mmapped files, kept in their stored dtype), and
 * where its tokenizer and chat template come from.
 *
 * Nothing is dequantized or converted at load time: every bd_tensor points at
 * its stored bytes (F32/F16/BF16 or a GGML block format) in a read-only
 * mapping, so a 7B BF16 model costs its file size in page cache, not 4x. The
 * engine computes from the stored dtype directly, dequantizing block formats
 * on the fly a row/block at a time (bd_dequant_row is the scalar reference).
 * HF q/k rows stay in the rotate-half order (cfg.rope_interleaved = 0); GGUF
 * and llama2.c keep the interleaved order (1): nothing is permuted at load. */
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
    int max_seq;         /* max_position_embeddings / context_length; an HF
                          * sliding_window smaller than that caps it, since
                          * the engine attends to the whole context */
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
    /* All end-of-sequence ids the config lists (HF eos_token_id may be a list;
     * eos_id is its first entry). */
    int n_eos;
    int eos_ids[8];
    /* GGUF only: llama.cpp's precomputed per-frequency rope divisors
     * (tensor rope_freqs.weight, rope_dim/2 floats; Llama-3.x GGUFs carry
     * their llama3 scaling this way): inv_freq[i] = theta^(-2i/rope_dim) /
     * rope_freq_factors[i]. NULL when absent. Points into the mapping.
     * When set, rope_type is 0: the factors replace the llama3 formula. */
    const float *rope_freq_factors;
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
/* Fills m->digest: sha256 of the weight file bytes (GGUF / llama2.c file;
 * HF: the safetensors files in name order, then config.json). Reads every
 * byte, so it is done on demand, not at load. */
int bd_model_digest(bd_model *m, bd_err *err);
/* Name of a format ("hf", "gguf", "llama2c", "bdq"). */
const char *bd_format_name(bd_format f);

#endif
