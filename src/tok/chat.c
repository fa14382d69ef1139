/* Public entry points of the chat-template renderer: builds the variables
 * transformers' apply_chat_template passes (messages, add_generation_prompt,
 * bos_token, eos_token, tools=None, documents=None, plus extras), prepares the
 * template source as jinja2 does (newlines normalised, one trailing newline
 * dropped) and runs the interpreter with its limits. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat.h"
#include "jinja.h"

#define DEFAULT_STEPS 10000000L
#define DEFAULT_MEM ((size_t)512 << 20)

static jx_val from_json(jx *J, struct json_object *o, int depth)
{
    if (depth > 64) jx_fail(J, BD_EINPUT, (size_t)-1, "messages JSON nested too deeply");
    if (!o) return jv_none();
    switch (json_object_get_type(o)) {
    case json_type_null: return jv_none();
    case json_type_boolean: return jv_bool(json_object_get_boolean(o));
    case json_type_int: return jv_int(json_object_get_int64(o));
    case json_type_double: return jv_float(json_object_get_double(o));
    case json_type_string: {
        const char *s = json_object_get_string(o);
        size_t n = (size_t)json_object_get_string_len(o);
        if (!jx_utf8_valid(s, n)) jx_fail(J, BD_EINPUT, (size_t)-1, "messages JSON: a string is not valid UTF-8");
        return jv_strn(J, s, n);
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        jx_val l = jv_list(J, n);
        for (size_t i = 0; i < n; i++) l.u.l->v[i] = from_json(J, json_object_array_get_idx(o, i), depth + 1);
        return l;
    }
    case json_type_object: {
        jx_val d = jv_dict(J);
        json_object_object_foreach(o, key, val) {
            if (!jx_utf8_valid(key, strlen(key))) jx_fail(J, BD_EINPUT, (size_t)-1, "messages JSON: a key is not valid UTF-8");
            jx_dict_set(J, d.u.d, jv_str(J, key), from_json(J, val, depth + 1));
        }
        return d;
    }
    }
    return jv_none();
}

static struct json_object *parse_json(jx *J, const char *text, const char *what)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) jx_fail(J, BD_ENOMEM, (size_t)-1, "out of memory");
    size_t len = strlen(text);
    if (len > (size_t)0x7fffffff) { json_tokener_free(tok); jx_fail(J, BD_EINPUT, (size_t)-1, "%s: too large", what); }
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        if (o) json_object_put(o);
        jx_fail(J, BD_EINPUT, (size_t)-1, "%s: invalid JSON at offset %zu: %s", what, off,
                (e == json_tokener_success || e == json_tokener_continue) ? "unexpected end of data"
                                                                          : json_tokener_error_desc(e));
    }
    /* trailing non-space bytes are an error too */
    for (size_t i = off; i < len; i++)
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(o);
            jx_fail(J, BD_EINPUT, (size_t)-1, "%s: unexpected data after the JSON value at offset %zu", what, i);
        }
    return o;
}

static void set_var(jx *J, jx_dict *vars, const char *name, jx_val v)
{
    jx_dict_set(J, vars, jv_str(J, name), v);
}

/* jinja2 normalises \r\n and \r to \n and (keep_trailing_newline=False) drops
 * one trailing newline before tokenizing. */
static void prepare_source(jx *J, const char *src)
{
    size_t n = strlen(src);
    if (!jx_utf8_valid(src, n)) jx_fail(J, BD_EINPUT, (size_t)-1, "template is not valid UTF-8");
    char *s = jx_alloc(J, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else s[k++] = src[i];
    }
    if (k > 0 && s[k - 1] == '\n') k--;
    s[k] = 0;
    J->src = s;
    J->src_len = k;
}

typedef struct render_in {
    const char *src;
    const char *messages_json;      /* or msgs */
    const bd_chat_msg *msgs;
    int n_msgs;
    const char *extra_json;
    const bd_chat_vars *vars;
    const bd_chat_opts *opts;
} render_in;

static int render_impl(jx *Jp, const render_in *in, char **out, size_t *out_len, bd_err *err);

static int render(const render_in *in, char **out, size_t *out_len, bd_err *err)
{
    bd_err local;
    if (!err) err = &local;
    err->code = 0;
    err->msg[0] = 0;
    /* the context lives on the heap: it is modified between setjmp and longjmp */
    jx *J = calloc(1, sizeof *J);
    if (!J) return bd_oom(err, "chat template renderer");
    int rc = render_impl(J, in, out, out_len, err);
    free(J);
    return rc;
}

static int render_impl(jx *Jp, const render_in *in, char **out, size_t *out_len, bd_err *err)
{
#define J (*Jp)
    J.err = err;
    J.max_steps = (in->opts && in->opts->max_steps > 0) ? in->opts->max_steps : DEFAULT_STEPS;
    J.mem_cap = (in->opts && in->opts->max_bytes > 0) ? in->opts->max_bytes : DEFAULT_MEM;
    J.now = in->opts ? in->opts->now : -1;
    struct json_object *volatile msgs_o = NULL, *volatile extra_o = NULL;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (setjmp(J.jb)) {
        if (msgs_o) json_object_put(msgs_o);
        if (extra_o) json_object_put(extra_o);
        jx_free_all(&J);
        if (J.locale) freelocale((locale_t)J.locale);
        return err && err->code ? err->code : BD_EFAIL;
    }
    if (!in->src) jx_fail(&J, BD_EINPUT, (size_t)-1, "no chat template");
    prepare_source(&J, in->src);

    jx_dict *vars = jv_dict(&J).u.d;
    jx_val messages;
    if (in->messages_json) {
        msgs_o = parse_json(&J, in->messages_json, "messages");
        if (json_object_get_type(msgs_o) != json_type_array)
            jx_fail(&J, BD_EINPUT, (size_t)-1, "messages: expected a JSON list of message objects");
        messages = from_json(&J, msgs_o, 0);
        json_object_put(msgs_o);
        msgs_o = NULL;
    } else {
        if (in->n_msgs < 0) jx_fail(&J, BD_EINPUT, (size_t)-1, "negative message count");
        messages = jv_list(&J, (size_t)in->n_msgs);
        for (int i = 0; i < in->n_msgs; i++) {
            jx_val d = jv_dict(&J);
            const char *role = in->msgs[i].role ? in->msgs[i].role : "";
            const char *content = in->msgs[i].content ? in->msgs[i].content : "";
            if (!jx_utf8_valid(role, strlen(role)) || !jx_utf8_valid(content, strlen(content)))
                jx_fail(&J, BD_EINPUT, (size_t)-1, "message %d is not valid UTF-8", i);
            jx_dict_set(&J, d.u.d, jv_str(&J, "role"), jv_str(&J, role));
            jx_dict_set(&J, d.u.d, jv_str(&J, "content"), jv_str(&J, content));
            messages.u.l->v[i] = d;
        }
    }
    const bd_chat_vars *v = in->vars;
    /* the keyword arguments apply_chat_template passes to render() */
    set_var(&J, vars, "messages", messages);
    set_var(&J, vars, "tools", jv_none());
    set_var(&J, vars, "documents", jv_none());
    set_var(&J, vars, "add_generation_prompt", jv_bool(v ? v->add_generation_prompt : 0));
    const char *bos = v && v->bos_token ? v->bos_token : "";
    const char *eos = v && v->eos_token ? v->eos_token : "";
    if (!jx_utf8_valid(bos, strlen(bos)) || !jx_utf8_valid(eos, strlen(eos)))
        jx_fail(&J, BD_EINPUT, (size_t)-1, "bos/eos token is not valid UTF-8");
    set_var(&J, vars, "bos_token", jv_str(&J, bos));
    set_var(&J, vars, "eos_token", jv_str(&J, eos));
    if (v && v->date_string) {
        if (!jx_utf8_valid(v->date_string, strlen(v->date_string)))
            jx_fail(&J, BD_EINPUT, (size_t)-1, "date_string is not valid UTF-8");
        set_var(&J, vars, "date_string", jv_str(&J, v->date_string));
    }
    if (in->extra_json) {
        extra_o = parse_json(&J, in->extra_json, "extra variables");
        if (json_object_get_type(extra_o) != json_type_object)
            jx_fail(&J, BD_EINPUT, (size_t)-1, "extra variables: expected a JSON object");
        jx_val ex = from_json(&J, extra_o, 0);
        json_object_put(extra_o);
        extra_o = NULL;
        for (size_t i = 0; i < ex.u.d->n; i++) jx_dict_set(&J, vars, ex.u.d->k[i], ex.u.d->v[i]);
    }

    jx_tok *toks;
    size_t n_toks;
    jx_lex(&J, &toks, &n_toks);
    jx_node *root = jx_parse(&J, toks, n_toks);
    jx_render(&J, root, vars);

    char *res = malloc(J.out_n + 1);
    if (!res) jx_fail(&J, BD_ENOMEM, (size_t)-1, "out of memory");
    memcpy(res, J.out, J.out_n);
    res[J.out_n] = 0;
    if (out_len) *out_len = J.out_n;
    jx_free_all(&J);
    if (J.locale) freelocale((locale_t)J.locale);
    if (out) *out = res;
    else free(res);
    return 0;
#undef J
}

int bd_chat_render(const char *src, const bd_chat_msg *msgs, int n_msgs,
                   const bd_chat_vars *vars, char **out, size_t *out_len, bd_err *err)
{
    render_in in = {src, NULL, msgs, n_msgs, NULL, vars, NULL};
    return render(&in, out, out_len, err);
}

int bd_chat_render_json(const char *src, const char *messages_json, const char *extra_json,
                        const bd_chat_vars *vars, char **out, size_t *out_len, bd_err *err)
{
    render_in in = {src, messages_json ? messages_json : "[]", NULL, 0, extra_json, vars, NULL};
    return render(&in, out, out_len, err);
}

int bd_chat_render_ex(const char *src, const char *messages_json, const char *extra_json,
                      const bd_chat_vars *vars, const bd_chat_opts *opts,
                      char **out, size_t *out_len, bd_err *err)
{
    render_in in = {src, messages_json ? messages_json : "[]", NULL, 0, extra_json, vars, opts};
    return render(&in, out, out_len, err);
}
