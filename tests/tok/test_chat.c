/* Chat templates against independent references: every case in
 * tests/reference/chat/{real,features}.json was rendered by Python jinja2
 * 3.1.6 in transformers' environment (gen_chat_goldens.py); the shared
 * chat_template_expected_render.json files are a second, separately made set.
 * Output must match byte for byte; raise_exception errors must carry the
 * same message; other jinja2 errors must be errors here too. */
#include <json-c/json.h>
#include <stdint.h>
#include <unistd.h>

#include "../test.h"
#include "model/model.h"
#include "tok/chat.h"

static char *template_of(const char *path)
{
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text) return NULL;
    size_t len = strlen(path);
    if (len > 5 && strcmp(path + len - 5, ".json") == 0) {
        struct json_object *o = json_tokener_parse(text), *t;
        free(text);
        text = NULL;
        if (o && json_object_object_get_ex(o, "chat_template", &t)) text = strdup(json_object_get_string(t));
        json_object_put(o);
    }
    return text;
}

static const char *str_or(struct json_object *o, const char *key, const char *dflt)
{
    struct json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return dflt;
}

static void show_diff(const char *got, const char *exp)
{
    size_t i = 0;
    while (got[i] && got[i] == exp[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "  first difference at byte %zu\n  got:      \"%.80s\"\n  expected: \"%.80s\"\n", i,
            got + from, exp + from);
}

static void run_golden_file(const char *path, int *n_cases)
{
    size_t n;
    char *text = test_read_file(path, &n);
    CHECK_MSG(text != NULL, "cannot read %s", path);
    if (!text) return;
    struct json_object *root = json_tokener_parse(text), *cases, *meta;
    free(text);
    CHECK_MSG(root && json_object_object_get_ex(root, "cases", &cases), "%s: no cases", path);
    if (!root) return;
    long long now = 0;
    const char *file_extra = NULL;
    struct json_object *fe;
    if (json_object_object_get_ex(root, "extra", &fe))
        file_extra = json_object_to_json_string_ext(fe, JSON_C_TO_STRING_PLAIN);
    if (json_object_object_get_ex(root, "meta", &meta)) {
        struct json_object *v;
        if (json_object_object_get_ex(meta, "now", &v)) now = json_object_get_int64(v);
    }
    size_t nc = json_object_array_length(cases);
    for (size_t i = 0; i < nc; i++) {
        struct json_object *c = json_object_array_get_idx(cases, i), *v;
        const char *name = str_or(c, "name", "?");
        char *tmpl = NULL;
        const char *file = str_or(c, "template_file", NULL);
        if (file) tmpl = template_of(file);
        else tmpl = strdup(str_or(c, "template_src", ""));
        CHECK_MSG(tmpl != NULL, "%s: cannot read template %s", name, file ? file : "");
        if (!tmpl) continue;
        bd_chat_vars vars = {str_or(c, "bos_token", ""), str_or(c, "eos_token", ""), 0,
                             str_or(c, "date_string", NULL)};
        if (json_object_object_get_ex(c, "add_generation_prompt", &v)) vars.add_generation_prompt = json_object_get_boolean(v);
        const char *msgs = "[]", *extra = file_extra;
        if (json_object_object_get_ex(c, "messages", &v)) msgs = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        char *msgs_copy = strdup(msgs);
        if (json_object_object_get_ex(c, "extra", &v)) extra = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        bd_chat_opts opts = {now, 0, 0};
        if (json_object_object_get_ex(c, "now", &v)) opts.now = json_object_get_int64(v);
        char *out = NULL;
        size_t out_len = 0;
        bd_err err = {0, ""};
        int rc = bd_chat_render_ex(tmpl, msgs_copy, extra, &vars, &opts, &out, &out_len, &err);
        const char *expected = str_or(c, "expected", NULL);
        if (expected) {
            CHECK_MSG(rc == 0, "%s: render failed: %s", name, err.msg);
            if (rc == 0) {
                int same = out_len == strlen(expected) && memcmp(out, expected, out_len) == 0;
                CHECK_MSG(same, "%s: output differs", name);
                if (!same) show_diff(out, expected);
            }
        } else {
            const char *kind = str_or(c, "error_kind", "other");
            const char *emsg = str_or(c, "error", "");
            CHECK_MSG(rc != 0, "%s: expected an error (%s), rendered \"%.100s\"", name, emsg, out ? out : "");
            if (strcmp(kind, "raise") == 0) {
                CHECK_MSG(rc == BD_EFAIL, "%s: expected BD_EFAIL, got %d (%s)", name, rc, err.msg);
                CHECK_MSG(strcmp(err.msg, emsg) == 0, "%s: message \"%s\", expected \"%s\"", name, err.msg, emsg);
            }
        }
        free(out);
        free(msgs_copy);
        free(tmpl);
        (*n_cases)++;
    }
    json_object_put(root);
}

/* ../shared/models/<m>/chat_template_expected_render.json through the struct API */
static void run_shared_expected(const char *model)
{
    char path[512], tpath[512];
    snprintf(path, sizeof path, "../shared/models/%s/chat_template_expected_render.json", model);
    snprintf(tpath, sizeof tpath, "../shared/models/%s/chat_template.jinja", model);
    char *text = test_read_file(path, NULL), *tmpl = test_read_file(tpath, NULL);
    CHECK_MSG(text && tmpl, "cannot read %s / %s", path, tpath);
    if (!text || !tmpl) { free(text); free(tmpl); return; }
    struct json_object *root = json_tokener_parse(text), *convs, *rendered;
    CHECK(json_object_object_get_ex(root, "conversations", &convs));
    CHECK(json_object_object_get_ex(root, "rendered", &rendered));
    bd_chat_vars vars = {str_or(root, "bos_token", ""), str_or(root, "eos_token", ""), 1, NULL};
    int n = 0;
    json_object_object_foreach(convs, key, conv) {
        size_t nm = json_object_array_length(conv);
        bd_chat_msg msgs[16];
        for (size_t i = 0; i < nm && i < 16; i++) {
            struct json_object *m = json_object_array_get_idx(conv, i);
            msgs[i].role = str_or(m, "role", "");
            msgs[i].content = str_or(m, "content", "");
        }
        char *out = NULL;
        bd_err err = {0, ""};
        int rc = bd_chat_render(tmpl, msgs, (int)nm, &vars, &out, NULL, &err);
        CHECK_MSG(rc == 0, "%s/%s: %s", model, key, err.msg);
        CHECK_STR(out, str_or(rendered, key, "?"));
        free(out);
        n++;
    }
    CHECK(n == 2);
    json_object_put(root);
    free(text);
    free(tmpl);
}

static int render_src(const char *src, const char *msgs, char **out, bd_err *err)
{
    bd_chat_vars vars = {"<s>", "</s>", 1, NULL};
    bd_chat_opts opts = {0, 200000, 32u << 20};
    *out = NULL;
    return bd_chat_render_ex(src, msgs, NULL, &vars, &opts, out, NULL, err);
}

static void test_errors_and_limits(void)
{
    char *out;
    bd_err err;
    /* unsupported constructs name the construct and its line:col */
    int rc = render_src("ab\n  {% include 'x.html' %}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EUNSUP);
    CHECK_MSG(strstr(err.msg, "include") && strstr(err.msg, "2:3"), "%s", err.msg);
    rc = render_src("{{ x|dictsort }}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EUNSUP);
    CHECK_MSG(strstr(err.msg, "dictsort") && strstr(err.msg, "1:6"), "%s", err.msg);
    rc = render_src("x\n{% raw %}{{ }}{% endraw %}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EUNSUP);
    CHECK_MSG(strstr(err.msg, "raw") && strstr(err.msg, "2:1"), "%s", err.msg);
    rc = render_src("{{ '%s' % 1 }}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EUNSUP);
    /* syntax errors carry the position */
    rc = render_src("{% for x in y %}\n{% endif %}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "2:"), "%s", err.msg);
    /* hostile input: limits, not crashes or hangs */
    rc = render_src("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "limit"), "%s", err.msg);
    rc = render_src("{% for i in range(100000) %}{% endfor %}{% for i in range(100000) %}{% endfor %}{% for i in range(100000) %}{% endfor %}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "step limit"), "%s", err.msg);
    rc = render_src("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", "[]", &out, &err);
    CHECK(rc != 0);
    char deep[4000];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof deep - k, "{{ ");
    for (int i = 0; i < 1000; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 1000; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - k, " }}");
    rc = render_src(deep, "[]", &out, &err);
    CHECK(rc != 0);
    k = 0;
    for (int i = 0; i < 300; i++) k += (size_t)snprintf(deep + k, sizeof deep - k, "{%% if 1 %%}");
    rc = render_src(deep, "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    rc = render_src("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    rc = render_src("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x|tojson }}", "[]", &out, &err);
    CHECK(rc != 0);
    rc = render_src("{{ 'a' * 10000000000 }}", "[]", &out, &err);
    CHECK(rc != 0);
    rc = render_src("{{ 9223372036854775807 + 1 }}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EUNSUP);
    rc = render_src("\xff{{ 1 }}", "[]", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    rc = render_src("{{ messages }}", "[{\"role\": ", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "messages"), "%s", err.msg);
    rc = render_src("{{ messages }}", "{}", &out, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    /* a successful render after failures: no state carried over */
    rc = render_src("{{ bos_token }}{{ messages[0].content }}", "[{\"role\": \"user\", \"content\": \"é\"}]", &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(out, "<s>é");
    free(out);
    /* NULL err is allowed */
    rc = bd_chat_render_ex("{{ x.y.z }}", "[]", NULL, NULL, NULL, &out, NULL, NULL);
    CHECK(rc != 0);
}

static void test_template_for(void)
{
    char *t, *bos, *eos;
    bd_err err;
    int rc = bd_chat_template_for("../shared/models/llama-3.1-8b-instruct", NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        char *exp = test_read_file("../shared/models/llama-3.1-8b-instruct/chat_template.jinja", NULL);
        CHECK(t && exp && strcmp(t, exp) == 0);
        CHECK_STR(bos, "<|begin_of_text|>");
        CHECK_STR(eos, "<|eot_id|>");
        free(exp);
        free(t); free(bos); free(eos);
    }
    rc = bd_chat_template_for("../shared/models/mistral-7b-instruct-v0.3/tokenizer.json", NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(t && strstr(t, "[AVAILABLE_TOOLS]"));
        CHECK_STR(bos, "<s>");
        CHECK_STR(eos, "</s>");
        free(t); free(bos); free(eos);
    }
    /* LLaMA-2: no tokenizer_config.json; the template is chat_template.jinja */
    rc = bd_chat_template_for("../shared/models/llama2-7b-chat/tokenizer.model", NULL, &t, NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(t && strstr(t, "<<SYS>>"));
        free(t);
    }
    rc = bd_chat_template_for("tests/reference/chat/smollm2.jinja", NULL, &t, NULL, NULL, &err);
    CHECK_MSG(rc == 0 && t && strstr(t, "SmolLM"), "%s", err.msg);
    if (rc == 0) free(t);
    /* a GGUF without a template: NULL template, no error */
    rc = bd_chat_template_for("../shared/models/stories260K/stories260K.gguf", NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(t == NULL);
        CHECK(bos != NULL && eos != NULL);
        free(t); free(bos); free(eos);
    }
    /* through a loaded model: the GGUF's token table names bos/eos */
    bd_model *m = NULL;
    rc = bd_model_load("../shared/models/stories260K/stories260K.gguf", &m, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        rc = bd_chat_template_for(NULL, m, &t, &bos, &eos, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        if (rc == 0) {
            CHECK(t == NULL);
            CHECK_STR(bos, "<s>");
            CHECK_STR(eos, "</s>");
            free(t); free(bos); free(eos);
        }
        bd_model_free(m);
    }
    rc = bd_chat_template_for("../shared/models/does-not-exist", NULL, &t, &bos, &eos, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK(strstr(err.msg, "does-not-exist") != NULL);
}

/* A vocab-only GGUF v3 carrying a chat template, written byte by byte from
 * the GGUF spec (magic, version, counts, key/value records, 32-byte padding). */
static void put_bytes(FILE *f, const void *p, size_t n) { fwrite(p, 1, n, f); }
static void put_u32le(FILE *f, uint32_t v) { unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24}; put_bytes(f, b, 4); }
static void put_u64le(FILE *f, uint64_t v) { put_u32le(f, (uint32_t)v); put_u32le(f, (uint32_t)(v >> 32)); }
static void put_gstr(FILE *f, const char *s) { put_u64le(f, strlen(s)); put_bytes(f, s, strlen(s)); }

static void test_gguf_template(void)
{
    char path[] = "/tmp/bd_chat_gguf_XXXXXX.gguf";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    const char *tmpl = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}";
    const char *toks[] = {"<unk>", "<|bos|>", "<|eos|>", "a"};
    put_bytes(f, "GGUF", 4);
    put_u32le(f, 3);
    put_u64le(f, 0);   /* tensors */
    put_u64le(f, 5);   /* key/values */
    put_gstr(f, "general.architecture"); put_u32le(f, 8); put_gstr(f, "llama");
    put_gstr(f, "tokenizer.chat_template"); put_u32le(f, 8); put_gstr(f, tmpl);
    put_gstr(f, "tokenizer.ggml.tokens"); put_u32le(f, 9); put_u32le(f, 8); put_u64le(f, 4);
    for (int i = 0; i < 4; i++) put_gstr(f, toks[i]);
    put_gstr(f, "tokenizer.ggml.bos_token_id"); put_u32le(f, 4); put_u32le(f, 1);
    put_gstr(f, "tokenizer.ggml.eos_token_id"); put_u32le(f, 4); put_u32le(f, 2);
    long pos = ftell(f);
    while (pos++ % 32) fputc(0, f);
    fclose(f);
    char *t = NULL, *bos = NULL, *eos = NULL;
    bd_err err;
    int rc = bd_chat_template_for(path, NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK_STR(t, tmpl);
        CHECK_STR(bos, "<|bos|>");
        CHECK_STR(eos, "<|eos|>");
        bd_chat_msg m[1] = {{"user", "hi"}};
        bd_chat_vars v = {bos, eos, 1, NULL};
        char *out = NULL;
        rc = bd_chat_render(t, m, 1, &v, &out, NULL, &err);
        CHECK_STR(out, "<|bos|><user>hi<|eos|>");
        free(out);
    }
    free(t); free(bos); free(eos);
    unlink(path);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* tokenizer_config.json variants: the list-of-templates form, AddedToken
 * dicts for bos/eos, chat_template.json, special_tokens_map.json, bad JSON */
static void test_config_forms(void)
{
    char dir[] = "/tmp/bd_chat_cfg_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_text(dir, "tokenizer_config.json",
               "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
               "{\"name\": \"default\", \"template\": \"D{{ bos_token }}\"}], "
               "\"bos_token\": {\"content\": \"<B>\", \"lstrip\": false}, \"eos_token\": null}");
    write_text(dir, "special_tokens_map.json", "{\"eos_token\": \"<E>\"}");
    char *t, *bos, *eos;
    bd_err err;
    int rc = bd_chat_template_for(dir, NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK_STR(t, "D{{ bos_token }}");
        CHECK_STR(bos, "<B>");
        CHECK_STR(eos, "<E>");
        free(t); free(bos); free(eos);
    }
    /* no template in the config: chat_template.json (transformers' newer file) */
    write_text(dir, "tokenizer_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
    write_text(dir, "chat_template.json", "{\"chat_template\": \"J\"}");
    rc = bd_chat_template_for(dir, NULL, &t, &bos, &eos, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK_STR(t, "J");
        CHECK_STR(bos, "<s>");
        free(t); free(bos); free(eos);
    }
    /* chat_template.jinja wins over chat_template.json and over the config's
     * template (transformers: "independent chat template files take priority") */
    write_text(dir, "chat_template.jinja", "K");
    rc = bd_chat_template_for(dir, NULL, &t, NULL, NULL, &err);
    CHECK(rc == 0 && t && strcmp(t, "K") == 0);
    if (rc == 0) free(t);
    write_text(dir, "tokenizer_config.json", "{\"chat_template\": \"C\"}");
    rc = bd_chat_template_for(dir, NULL, &t, NULL, NULL, &err);
    CHECK(rc == 0 && t && strcmp(t, "K") == 0);
    if (rc == 0) free(t);
    /* malformed config: an error naming the file and the place */
    char path[512];
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    unlink(path);
    write_text(dir, "tokenizer_config.json", "{\"chat_template\": 5}");
    rc = bd_chat_template_for(dir, NULL, &t, &bos, &eos, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "tokenizer_config.json") && strstr(err.msg, "chat_template"), "%s", err.msg);
    write_text(dir, "tokenizer_config.json", "{\"chat_template\": \"x\",");
    rc = bd_chat_template_for(dir, NULL, &t, &bos, &eos, &err);
    CHECK_EQ_INT(rc, BD_EINPUT);
    CHECK_MSG(strstr(err.msg, "tokenizer_config.json") && strstr(err.msg, "offset"), "%s", err.msg);
    const char *names[] = {"tokenizer_config.json", "special_tokens_map.json", "chat_template.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    int n = 0;
    run_golden_file("tests/reference/chat/real.json", &n);
    run_golden_file("tests/reference/chat/features.json", &n);
    run_golden_file("tests/reference/chat/random.json", &n);
    fprintf(stderr, "%d golden cases\n", n);
    CHECK(n > 900);
    run_shared_expected("llama2-7b-chat");
    run_shared_expected("llama-3.1-8b-instruct");
    run_shared_expected("mistral-7b-instruct-v0.3");
    test_errors_and_limits();
    test_template_for();
    test_gguf_template();
    test_config_forms();
    return test_done();
}
