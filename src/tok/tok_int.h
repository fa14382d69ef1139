/* Internals shared by the tokenizer loaders and the encoder: one vocabulary
 * table, hash maps over it, the merge table and the policy flags that make
 * each source format behave as its reference library does. */
#ifndef BD_TOK_INT_H
#define BD_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* Piece types, numbered as SentencePiece and GGUF token_type number them. */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* How a text is cut into symbols and merged. */
enum {
    ALG_SCORE = 1, /* sentencepiece / llama.cpp SPM: best score first */
    ALG_RANK,      /* HF BPE / tiktoken: lowest merge rank first */
    ALG_L2C        /* llama2.c run.c encode */
};

/* When the SentencePiece dummy prefix U+2581 goes in front of a text run. */
enum {
    PFX_NONE = 0,
    PFX_EACH,   /* every run between special tokens (HF legacy, llama.cpp) */
    PFX_FIRST,  /* only the run at offset 0 (Metaspace prepend_scheme first) */
    PFX_META_ALWAYS /* Metaspace prepend_scheme always */
};

typedef struct tok_ent {
    uint32_t str, slen;    /* vocabulary form ("▁the", "Ġthe", "<0x0A>") in arena */
    uint32_t byt, blen;    /* the bytes it stands for, in arena */
    float score;
    uint8_t type;
} tok_ent;

/* Open-addressing map: key bytes (in arena) -> id. */
typedef struct tok_map {
    int32_t *slot;    /* -1 empty, else id */
    uint32_t cap;     /* power of two */
    int by_bytes;     /* 1: keyed by ent.byt, 0: by ent.str */
} tok_map;

typedef struct tok_pair {
    uint64_t key;     /* (a << 32) | b, UINT64_MAX empty */
    int32_t rank, id;
} tok_pair;

typedef struct tok_special {
    int32_t id;
    uint32_t off, len;       /* content in arena */
    uint32_t seq;            /* insertion order: a later entry for the same text wins */
    uint8_t special, lstrip, rstrip, single_word;
} tok_special;

struct bd_tok {
    const char *kind;        /* "spm", "bpe", "llama2c" */
    int alg;
    int byte_level;          /* GPT-2 byte-to-unicode vocabulary */
    int prefix;              /* PFX_* */
    int escape_ws;           /* ' ' -> U+2581 before merging */
    int split_ws;            /* Metaspace split=true: each U+2581 starts a word */
    int remove_extra_ws;     /* sentencepiece remove_extra_whitespaces */
    int byte_fallback, fuse_unk, ignore_merges;
    int score_any_type;      /* llama.cpp: a merge may produce any piece type */
    int match_user;          /* sentencepiece: user-defined pieces are whole symbols */
    int add_prefix_space;    /* ByteLevel add_prefix_space */
    int clean_up;            /* transformers clean_up_tokenization_spaces on decode */
    int strip_lead_space;    /* decode drops the dummy-prefix space at the start */
    int sanitize_utf8;       /* replace invalid UTF-8 with U+FFFD first */

    char *arena; size_t arena_len, arena_cap;
    tok_ent *ent; int n, cap;
    tok_map map_str, map_bytes;
    tok_pair *pairs; uint32_t pair_cap, n_pairs;
    int32_t byte_id[256];    /* byte-level: the token of each byte; SPM: <0xXX> */

    tok_special *sp; int n_sp, sp_cap;
    int32_t sp_first[257];   /* index ranges of sp sorted by first byte */

    void *re[4]; int n_re;   /* pcre2_code*, applied in order (Isolated splits) */

    int32_t unk, bos, eos;
    int add_bos, add_eos;
    char *bos_str, *eos_str;
    int32_t *eog; int n_eog;
    char path[1024];         /* for messages */
};

/* vocabulary building (tok_vocab.c) */
bd_tok *tok_new(const char *kind, const char *path);
int tok_arena_add(bd_tok *t, const void *p, size_t n, uint32_t *off, bd_err *err);
/* Appends a token; bytes may be NULL (then computed from str by the kind). */
int tok_add(bd_tok *t, const char *str, size_t slen, const void *bytes, size_t blen,
            float score, int type, bd_err *err);
/* Grows the table to n entries (empty strings, type UNUSED) for sparse ids. */
int tok_reserve(bd_tok *t, int n, bd_err *err);
int tok_set(bd_tok *t, int id, const char *str, size_t slen, const void *bytes, size_t blen,
            float score, int type, bd_err *err);
int tok_build_maps(bd_tok *t, int want_bytes, bd_err *err);
int32_t tok_find(const bd_tok *t, const tok_map *m, const char *s, size_t len);
int tok_pair_put(bd_tok *t, int32_t a, int32_t b, int32_t rank, int32_t id, bd_err *err);
const tok_pair *tok_pair_get(const bd_tok *t, int32_t a, int32_t b);
int tok_special_add(bd_tok *t, int32_t id, const char *s, size_t len, int special,
                    int lstrip, int rstrip, int single_word, bd_err *err);
int tok_finish(bd_tok *t, bd_err *err);   /* sorts specials, sets byte ids, eog */
int tok_set_regex(bd_tok *t, const char *pattern, bd_err *err);
int tok_set_bos_eos(bd_tok *t, int32_t bos, int32_t eos, bd_err *err);
int tok_add_eog(bd_tok *t, int32_t id, bd_err *err);
static inline const char *tok_str(const bd_tok *t, int32_t id) { return t->arena + t->ent[id].str; }
static inline const char *tok_bytes(const bd_tok *t, int32_t id) { return t->arena + t->ent[id].byt; }

/* GPT-2 byte <-> unicode alphabet. */
int tok_bytelevel_decode(const char *s, size_t len, char *out, size_t *olen);
size_t tok_bytelevel_encode(const uint8_t *b, size_t n, char *out); /* out >= 2n */
/* U+2581 -> ' ' and <0xXX> -> byte, for SentencePiece pieces. */
size_t tok_spm_piece_bytes(const char *s, size_t len, int type, char *out);

/* loaders */
int tok_load_spm(const char *path, const uint8_t *buf, size_t len, bd_tok **out, bd_err *err);
int tok_load_tiktoken(const char *path, const char *buf, size_t len, bd_tok **out, bd_err *err);
int tok_load_hfjson(const char *path, bd_tok **out, bd_err *err);
int tok_is_l2c(const uint8_t *buf, size_t len);
int tok_load_l2c(const char *path, const uint8_t *buf, size_t len, bd_tok **out, bd_err *err);
struct bd_gguf;
int tok_load_gguf(const struct bd_gguf *g, bd_tok **out, bd_err *err);
/* Applies tokenizer_config.json / generation_config.json found in dir. */
int tok_apply_config(bd_tok *t, const char *dir, bd_err *err);
int tok_read_file(const char *path, char **buf, size_t *len, bd_err *err);
/* Parses a JSON file (json_object*), errors name the line and column. */
struct json_object;
int tok_json_file(const char *path, struct json_object **out, bd_err *err);
int tok_json_parse(const char *path, const char *buf, size_t len, struct json_object **out, bd_err *err);
int tok_load_hfjson_mem(const char *path, const char *buf, size_t len, bd_tok **out, bd_err *err);
/* Sets bos/eos strings, sorts specials, fills byte ids and eog. */
int tok_finalize(bd_tok *t, bd_err *err);

#endif
