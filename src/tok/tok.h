/* Tokenizers behind one interface: SentencePiece BPE (tokenizer.model,
 * tokenizer.json, GGUF "llama"), byte-level BPE (tokenizer.json, tiktoken
 * tokenizer.model, GGUF "gpt2"), and llama2.c tok*.bin. */
#ifndef BD_TOK_H
#define BD_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

struct bd_model;
typedef struct bd_tok bd_tok;

enum {
    BD_TOK_ADD_SPECIAL = 1,   /* add BOS/EOS as the tokenizer's policy says */
    BD_TOK_PARSE_SPECIAL = 2  /* special-token text (<s>, <|eot_id|>) becomes its id */
};
#define BD_TOK_DEFAULT (BD_TOK_ADD_SPECIAL | BD_TOK_PARSE_SPECIAL)

/* Loads from a path: tokenizer.json, tokenizer.model (SentencePiece or
 * tiktoken), a .gguf, an HF folder, or a llama2.c tokenizer .bin. */
int bd_tok_load(const char *path, bd_tok **out, bd_err *err);
/* The model's own tokenizer (GGUF metadata or HF folder); BD_EINPUT naming
 * what is missing if the model carries none (llama2.c: use --tokenizer). */
int bd_tok_for_model(const struct bd_model *m, bd_tok **out, bd_err *err);
void bd_tok_free(bd_tok *t);

/* Encodes len bytes of text. *ids is malloc'd (caller frees).
 * - Invalid UTF-8 is first repaired as Python's bytes.decode('utf-8',
 *   'replace') does (each maximal ill-formed subpart -> U+FFFD), since that
 *   is the str a Python reference would tokenize; llama2.c files keep raw
 *   bytes as run.c does.
 * - BD_TOK_PARSE_SPECIAL: added/control tokens in the text (<s>, [INST],
 *   <|eot_id|>) become their ids, leftmost-longest as transformers does.
 *   Each run of text between them gets the SentencePiece dummy prefix as
 *   its source does: tokenizer.model and GGUF "llama" every run (llama.cpp,
 *   HF legacy Prepend), Metaspace prepend_scheme "first" only the run at
 *   offset 0 and only if it does not start with a space.
 * - BD_TOK_ADD_SPECIAL: BOS/EOS per add_bos/add_eos (tokenizer_config.json,
 *   tokenizer.json's TemplateProcessing, GGUF add_bos_token; defaults:
 *   SentencePiece/llama2.c/tiktoken BOS yes, EOS no). */
int bd_tok_encode(const bd_tok *t, const char *text, size_t len, int flags,
                  int32_t **ids, size_t *n_ids, bd_err *err);
/* Decodes ids to text (malloc'd, NUL-terminated; *len excludes the NUL).
 * skip_special: drop control tokens such as BOS/EOS from the output.
 * Byte-fallback pieces (<0xE2><0x82><0xAC>) become their bytes; one leading
 * space of the whole text is dropped for SentencePiece/llama2.c kinds (the
 * dummy prefix, as HF's Strip/Metaspace decoder does: [1, 23325] gives
 * "<s> Hello", or "Hello" with skip_special). Bytes are not replaced by
 * U+FFFD when a byte sequence is invalid UTF-8. clean_up_tokenization_spaces
 * is not applied (transformers 5 ignores it for BPE tokenizers). */
int bd_tok_decode(const bd_tok *t, const int32_t *ids, size_t n, int skip_special,
                  char **text, size_t *len, bd_err *err);
/* The bytes one token stands for (for streaming output); NULL if out of range. */
const char *bd_tok_piece(const bd_tok *t, int32_t id, size_t *len);

int bd_tok_vocab_size(const bd_tok *t);
int32_t bd_tok_bos(const bd_tok *t);          /* -1 if none */
int32_t bd_tok_eos(const bd_tok *t);          /* -1 if none */
/* End-of-generation ids: eos, GGUF eot/eom ids, generation_config.json
 * eos_token_id(s), and whichever of <|eot_id|>, <|eom_id|>, <|end_of_text|>,
 * <|im_end|>, <|endoftext|>, </s> ... the vocabulary has as control tokens. */
int bd_tok_eog(const bd_tok *t, const int32_t **ids);
/* The id of an exact vocabulary token string (e.g. "A", "▁Yes"), -1 if absent:
 * the equivalent of transformers' convert_tokens_to_ids. */
int32_t bd_tok_token_id(const bd_tok *t, const char *token);
const char *bd_tok_kind(const bd_tok *t);      /* "spm", "bpe", "llama2c" */
/* bos/eos strings for chat templates (may be "") */
const char *bd_tok_bos_str(const bd_tok *t);
const char *bd_tok_eos_str(const bd_tok *t);

#endif
