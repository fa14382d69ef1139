/* `biasdrift chat` end to end: the printed bytes equal the jinja2 goldens of
 * tests/reference/chat/real.json (no newline added), errors exit non-zero
 * with the template's message. Runs the program named by $BIASDRIFT. */
#include <json-c/json.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"

static const char *bin(void)
{
    const char *b = getenv("BIASDRIFT");
    return b && *b ? b : "./biasdrift";
}

/* Runs cmd, captures stdout (binary-safe) into *out; returns the exit status. */
static int run(const char *cmd, char **out, size_t *len)
{
    FILE *p = popen(cmd, "r");
    *out = NULL;
    *len = 0;
    if (!p) return -1;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    size_t n = 0, k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    int st = pclose(p);
    if (buf) buf[n] = 0;
    *out = buf;
    *len = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct json_object *find_case(struct json_object *cases, const char *name)
{
    size_t n = json_object_array_length(cases);
    for (size_t i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(cases, i), *v;
        if (json_object_object_get_ex(c, "name", &v) && strcmp(json_object_get_string(v), name) == 0) return c;
    }
    return NULL;
}

static void check_case(struct json_object *cases, const char *name, const char *tok, const char *extra_args)
{
    struct json_object *c = find_case(cases, name), *msgs, *v;
    CHECK_MSG(c != NULL, "no golden case %s", name);
    if (!c) return;
    char path[] = "/tmp/bd_chat_msgs_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    json_object_object_get_ex(c, "messages", &msgs);
    const char *js = json_object_to_json_string_ext(msgs, JSON_C_TO_STRING_PLAIN);
    CHECK(write(fd, js, strlen(js)) == (ssize_t)strlen(js));
    close(fd);
    int agp = json_object_object_get_ex(c, "add_generation_prompt", &v) && json_object_get_boolean(v);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s chat --tokenizer %s --messages %s %s %s 2>/dev/null", bin(), tok, path,
             agp ? "--add-generation-prompt" : "", extra_args);
    char *out;
    size_t len;
    int st = run(cmd, &out, &len);
    if (json_object_object_get_ex(c, "expected", &v)) {
        const char *exp = json_object_get_string(v);
        CHECK_MSG(st == 0, "%s: exit status %d", name, st);
        CHECK_MSG(out && len == strlen(exp) && memcmp(out, exp, len) == 0, "%s: output differs:\n%s", name,
                  out ? out : "");
    } else {
        CHECK_MSG(st != 0, "%s: expected failure", name);
    }
    free(out);
    unlink(path);
}

int main(void)
{
    if (access(bin(), X_OK) != 0) {
        fprintf(stderr, "%s not built: skipping CLI checks\n", bin());
        CHECK(1);
        return test_done();
    }
    char *text = test_read_file("tests/reference/chat/real.json", NULL);
    CHECK(text != NULL);
    if (!text) return test_done();
    struct json_object *root = json_tokener_parse(text), *cases;
    free(text);
    CHECK(root && json_object_object_get_ex(root, "cases", &cases));
    check_case(cases, "mistral/system_user/agp=1", "../shared/models/mistral-7b-instruct-v0.3", "");
    check_case(cases, "mistral/multi_turn/agp=0", "../shared/models/mistral-7b-instruct-v0.3/tokenizer.json", "");
    check_case(cases, "llama3.1/tricky_content/agp=1", "../shared/models/llama-3.1-8b-instruct", "");
    check_case(cases, "llama3.1/date_string", "../shared/models/llama-3.1-8b-instruct", "--date-string '01 Jan 2025'");
    check_case(cases, "llama2/system_multi_turn/agp=1", "../shared/models/llama2-7b-chat", "");
    check_case(cases, "llama2/bad_alternation/agp=1", "../shared/models/llama2-7b-chat", "");
    check_case(cases, "smollm2/user_only/agp=1", "tests/reference/chat/smollm2.jinja", "");
    json_object_put(root);

    /* the raise_exception message reaches stderr; exit status 1 */
    char *out;
    size_t len;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "echo '[{\"role\":\"assistant\",\"content\":\"x\"}]' | %s chat --tokenizer "
             "../shared/models/llama2-7b-chat --messages - 2>&1 >/dev/null", bin());
    int st = run(cmd, &out, &len);
    CHECK_EQ_INT(st, 1);
    CHECK(out && strstr(out, "Conversation roles must alternate user/assistant/user/assistant/..."));
    free(out);
    /* a template-less tokenizer and a missing --messages are usage errors */
    snprintf(cmd, sizeof cmd, "echo '[]' | %s chat --tokenizer ../shared/models/stories260K/stories260K.gguf "
             "--messages - 2>&1", bin());
    st = run(cmd, &out, &len);
    CHECK_EQ_INT(st, 2);
    CHECK(out && strstr(out, "no chat template"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s chat --tokenizer ../shared/models/llama2-7b-chat 2>&1", bin());
    st = run(cmd, &out, &len);
    CHECK_EQ_INT(st, 2);
    free(out);
    return test_done();
}
