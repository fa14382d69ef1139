/* Chat templates: a Jinja2-subset interpreter that renders the real
 * chat_template strings byte for byte as Python jinja2 3.1 does in
 * transformers' environment (ImmutableSandboxedEnvironment, trim_blocks,
 * lstrip_blocks, loopcontrols; globals raise_exception, strftime_now,
 * namespace, dict; tojson = json.dumps(ensure_ascii=False, ...)).
 *
 * The template sees the variables apply_chat_template passes: messages,
 * add_generation_prompt, bos_token, eos_token, tools = documents = None,
 * date_string when given, plus extras. Supported: text, {{ }}, {% %}, {# #},
 * '-'/'+' whitespace control; if/elif/else, for (loop.*, `if` filter, else,
 * tuple targets, break/continue), set (names, tuples, namespace attributes,
 * block set with filters), macro, generation; Python operators, literals,
 * subscripts, slices, attribute/item lookup, the common str/dict/list methods
 * and filters/tests the chat templates use (tests/reference/chat/ lists them).
 * Not supported (BD_EUNSUP naming it and its line:col): include/import/
 * extends/block/call/filter/raw/with tags, recursive loops, str.format and
 * '%' formatting, dictsort/batch/groupby and a few other filters, integers
 * beyond 64 bits. Known differences: jinja2's generator filters (map, select,
 * reject, unique, items) are evaluated eagerly, so an element error inside a
 * never-iterated generator fails here; upper()/lower() beyond ASCII use the C
 * library's one-to-one case maps (plus U+00DF -> "SS"). */
#ifndef BD_CHAT_H
#define BD_CHAT_H

#include <stddef.h>

#include "../util/err.h"

struct bd_model;

typedef struct bd_chat_msg { const char *role; const char *content; } bd_chat_msg;

typedef struct bd_chat_vars {
    const char *bos_token;     /* "" if none */
    const char *eos_token;
    int add_generation_prompt;
    const char *date_string;   /* NULL = jinja undefined (templates default it) */
} bd_chat_vars;

/* Renders template src for the messages. *out is malloc'd, NUL-terminated.
 * Unsupported constructs give BD_EUNSUP naming the construct and its line:col.
 * raise_exception(msg) in the template gives BD_EFAIL whose message is msg
 * exactly (as jinja2's TemplateError text); other template errors BD_EINPUT. */
int bd_chat_render(const char *src, const bd_chat_msg *msgs, int n_msgs,
                   const bd_chat_vars *vars, char **out, size_t *out_len, bd_err *err);

/* As bd_chat_render, but messages is the JSON text of a list of message
 * objects (any keys: role, content, tool_calls, ...; content may be any JSON
 * value), and extra_json (NULL or a JSON object's text) adds template
 * variables such as tools, custom_tools, tools_in_user_message. */
int bd_chat_render_json(const char *src, const char *messages_json, const char *extra_json,
                        const bd_chat_vars *vars, char **out, size_t *out_len, bd_err *err);

/* Finds the chat template and the bos/eos token strings of a tokenizer or a
 * model, so callers need one call. tok_path (may be NULL) wins over m (may be
 * NULL). tok_path may be an HF folder, a tokenizer.json / tokenizer.model /
 * tokenizer_config.json (the folder around it is searched), a .jinja file or a
 * .gguf. Search order (transformers'): chat_template.jinja, then
 * tokenizer_config.json "chat_template" (a string, or the list-of-{name,
 * template} form: "default" is taken), then chat_template.json, then GGUF
 * tokenizer.chat_template; for a model, its GGUF or tokenizer folder, then
 * m->chat_template. bos/eos come from tokenizer_config.json bos_token /
 * eos_token (string or AddedToken dict), else special_tokens_map.json, else
 * GGUF tokenizer.ggml.{bos,eos}_token_id looked up in tokenizer.ggml.tokens,
 * else the tokenizer itself (bd_tok_bos_str / bd_tok_eos_str).
 * Outputs are malloc'd (caller frees): *tmpl is NULL when the source has no
 * template (not an error: base models are prompted without one); *bos and
 * *eos are "" when unknown. Any output pointer may be NULL if not wanted.
 * Errors: BD_EINPUT/BD_EIO naming the file and key for unreadable or
 * malformed files. */
int bd_chat_template_for(const char *tok_path, const struct bd_model *m, char **tmpl,
                         char **bos, char **eos, bd_err *err);

/* strftime_now uses the current local time; tests pass a fixed clock
 * (interpreted as UTC) through bd_chat_render_ex. */
typedef struct bd_chat_opts {
    long long now;             /* unix seconds for strftime_now; -1 = time(NULL) */
    long max_steps;            /* interpreter step limit; 0 = default (10M) */
    size_t max_bytes;          /* memory limit of one render; 0 = default (512 MiB) */
} bd_chat_opts;

/* Full-control variant (used by tests and the fuzzer): opts may be NULL. */
int bd_chat_render_ex(const char *src, const char *messages_json, const char *extra_json,
                      const bd_chat_vars *vars, const bd_chat_opts *opts,
                      char **out, size_t *out_len, bd_err *err);

#endif
