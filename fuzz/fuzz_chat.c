/* libFuzzer target for the chat-template interpreter: the input is a template,
 * optionally followed by a NUL byte and the messages JSON. Any template must
 * render or fail cleanly, within the step and memory limits.
 *
 * Build with `make fuzz` (clang), seed a corpus with real templates and run
 * about 30 s:
 *   mkdir -p build/fuzz_chat_corpus
 *   cp ../shared/models/llama2-7b-chat/chat_template.jinja build/fuzz_chat_corpus/l2
 *   cp ../shared/models/llama-3.1-8b-instruct/chat_template.jinja build/fuzz_chat_corpus/l31
 *   cp ../shared/models/mistral-7b-instruct-v0.3/chat_template.jinja build/fuzz_chat_corpus/mi
 *   cp tests/reference/chat/smollm2.jinja build/fuzz_chat_corpus/sm
 *   build/fuzz/fuzz_chat -max_total_time=30 -max_len=8192 build/fuzz_chat_corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/chat.h"

static const char *default_msgs =
    "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi {{x}} \\u00e9\"},"
    " {\"role\": \"assistant\", \"content\": \" ok \", \"tool_calls\": [{\"id\": \"abcdefghi\", \"function\":"
    " {\"name\": \"f\", \"arguments\": {\"a\": 1.5}}}]}, {\"role\": \"user\", \"content\": \"again\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *msgs = default_msgs;
    size_t tlen = strlen(buf);
    if (tlen < size) msgs = buf + tlen + 1;
    bd_chat_vars vars = {"<s>", "</s>", 1, NULL};
    bd_chat_opts opts = {0, 100000, 8u << 20};
    char *out = NULL;
    size_t out_len = 0;
    bd_err err;
    if (bd_chat_render_ex(buf, msgs, "{\"tools\": [{\"function\": {\"name\": \"t\"}}]}", &vars, &opts, &out,
                          &out_len, &err) == 0) {
        if (strlen(out) > out_len) abort();   /* the length must cover the string */
        free(out);
    }
    free(buf);
    return 0;
}
