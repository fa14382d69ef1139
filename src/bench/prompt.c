/* Prompt composition as the paper's prompts/get_prompt.py does it. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

char *bd_strip_dup(const char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && is_ws(s[a])) a++;
    while (b > a && is_ws(s[b - 1])) b--;
    char *o = malloc(b - a + 1);
    if (!o) return NULL;
    memcpy(o, s + a, b - a);
    o[b - a] = 0;
    return o;
}

/* Concatenates parts (NULL-terminated list) into one malloc'd string. */
static char *cat(const char *const *parts)
{
    size_t n = 0;
    for (int i = 0; parts[i]; i++) n += strlen(parts[i]);
    char *o = malloc(n + 1), *p = o;
    if (!o) return NULL;
    for (int i = 0; parts[i]; i++) {
        size_t k = strlen(parts[i]);
        memcpy(p, parts[i], k);
        p += k;
    }
    *p = 0;
    return o;
}

int bd_prompt_chat(const bd_prompt_ctx *pc, const bd_chat_msg *msgs, int n, char **out, bd_err *err)
{
    *out = NULL;
    if (!pc->chat_template)
        return bd_fail(err, BD_EUNSUP, "the model has no chat template (template mode 'on')");
    bd_chat_vars v = {pc->bos_str ? pc->bos_str : "", pc->eos_str ? pc->eos_str : "", 1, NULL};
    size_t len;
    return bd_chat_render(pc->chat_template, msgs, n, &v, out, &len, err);
}

int bd_prompt_compose(const bd_prompt_ctx *pc, const char *system, const char *text,
                      const char *prefix, char **out, bd_err *err)
{
    *out = NULL;
    char *pre = NULL;
    if (prefix && *prefix) {
        pre = bd_strip_dup(prefix);
        if (!pre) return bd_oom(err, "prompt");
    }
    int has_sys = system && *system, has_pre = pre && *pre;
    if (!pc->template_on) {
        const char *parts[7];
        int k = 0;
        if (has_sys) { parts[k++] = system; parts[k++] = " "; }
        parts[k++] = text;
        if (has_pre) { parts[k++] = "\n\n"; parts[k++] = pre; }
        parts[k] = NULL;
        *out = cat(parts);
        free(pre);
        return *out ? 0 : bd_oom(err, "prompt");
    }
    bd_chat_msg msgs[2];
    int nm = 0;
    if (has_sys) msgs[nm++] = (bd_chat_msg){"system", system};
    msgs[nm++] = (bd_chat_msg){"user", text};
    char *r;
    int rc = bd_prompt_chat(pc, msgs, nm, &r, err);
    if (rc) { free(pre); return rc; }
    if (has_pre) {
        const char *parts[] = {r, " ", pre, NULL};
        *out = cat(parts);
        free(r);
    } else {
        *out = r;
    }
    free(pre);
    return *out ? 0 : bd_oom(err, "prompt");
}
