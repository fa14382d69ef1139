/* Chat templates: a Jinja2-subset interpreter that renders the real
 * chat_template strings byte for byte as Python jinja2 does with
 * transformers' settings (trim_blocks, lstrip_blocks). */
#ifndef BD_CHAT_H
#define BD_CHAT_H

#include <stddef.h>

#include "../util/err.h"

typedef struct bd_chat_msg { const char *role; const char *content; } bd_chat_msg;

typedef struct bd_chat_vars {
    const char *bos_token;     /* "" if none */
    const char *eos_token;
    int add_generation_prompt;
    const char *date_string;   /* NULL = jinja undefined (templates default it) */
} bd_chat_vars;

/* Renders template src for the messages. *out is malloc'd, NUL-terminated.
 * Unsupported constructs give BD_EUNSUP naming the construct and its line:col. */
int bd_chat_render(const char *src, const bd_chat_msg *msgs, int n_msgs,
                   const bd_chat_vars *vars, char **out, size_t *out_len, bd_err *err);

#endif
