/* biasdrift chat: renders a chat template for a list of messages, byte for
 * byte as transformers' apply_chat_template(tokenize=False) does, and prints
 * the string exactly (no newline added). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tok/chat.h"
#include "cli.h"

static int read_all(const char *path, char **out, bd_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) { if (f != stdin) fclose(f); return bd_oom(err, path); }
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            if (cap > ((size_t)256 << 20)) {
                free(buf);
                if (f != stdin) fclose(f);
                return bd_fail(err, BD_EINPUT, "%s: larger than 256 MiB", path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); if (f != stdin) fclose(f); return bd_oom(err, path); }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) { free(buf); return bd_fail(err, BD_EIO, "%s: read error", path); }
    buf[n] = 0;
    if (strlen(buf) != n) { free(buf); return bd_fail(err, BD_EINPUT, "%s: contains a NUL byte", path); }
    *out = buf;
    return 0;
}

int cmd_chat(int argc, char **argv)
{
    bd_opt o[] = {
        { "--tokenizer", NULL, 1, "HF folder, tokenizer.json/.model/_config.json, .gguf or .jinja: template + bos/eos", NULL },
        { "--messages", NULL, 1, "JSON file: a list of {\"role\", \"content\"} messages ('-' = stdin)", NULL },
        { "--add-generation-prompt", NULL, 0, "end with the assistant header (add_generation_prompt=True)", NULL },
        { "--template", NULL, 1, "Jinja file to use instead of the tokenizer's chat template", NULL },
        { "--date-string", NULL, 1, "date_string variable (LLaMA-3.x templates default it)", NULL },
        { "--vars", NULL, 1, "JSON file: an object of extra template variables (tools, ...)", NULL },
        { "--bos", NULL, 1, "bos_token string (overrides the tokenizer's)", NULL },
        { "--eos", NULL, 1, "eos_token string (overrides the tokenizer's)", NULL },
    };
    int n = (int)(sizeof o / sizeof o[0]);
    int prc = bd_opts_parse(argc, argv, o, n,
                            "usage: biasdrift chat --tokenizer PATH --messages FILE.json [--add-generation-prompt] "
                            "[--template FILE] [--date-string S] [--vars FILE.json]");
    if (prc == -1) return 0;
    if (prc) return prc;
    const char *tok = bd_opt_get(o, n, "--tokenizer"), *mpath = bd_opt_get(o, n, "--messages");
    const char *tpath = bd_opt_get(o, n, "--template"), *vpath = bd_opt_get(o, n, "--vars");
    if (!mpath) { fprintf(stderr, "biasdrift chat: --messages FILE.json is required\n"); return 2; }
    if (!tok && !tpath) { fprintf(stderr, "biasdrift chat: --tokenizer PATH (or --template FILE) is required\n"); return 2; }

    bd_err err = { 0, "" };
    char *tmpl = NULL, *bos = NULL, *eos = NULL, *msgs = NULL, *vars_json = NULL, *out = NULL;
    int rc = 0;
    if (tok) rc = bd_chat_template_for(tok, NULL, &tmpl, &bos, &eos, &err);
    if (!rc && tpath) {
        free(tmpl);
        tmpl = NULL;
        rc = read_all(tpath, &tmpl, &err);
    }
    if (!rc && !tmpl) rc = bd_fail(&err, BD_EINPUT, "%s: no chat template found (give one with --template)", tok);
    if (!rc) rc = read_all(mpath, &msgs, &err);
    if (!rc && vpath) rc = read_all(vpath, &vars_json, &err);
    size_t len = 0;
    if (!rc) {
        bd_chat_vars v = { bd_opt_get(o, n, "--bos") ? bd_opt_get(o, n, "--bos") : bos ? bos : "",
                           bd_opt_get(o, n, "--eos") ? bd_opt_get(o, n, "--eos") : eos ? eos : "",
                           bd_opt_get(o, n, "--add-generation-prompt") != NULL,
                           bd_opt_get(o, n, "--date-string") };
        rc = bd_chat_render_json(tmpl, msgs, vars_json, &v, &out, &len, &err);
        if (rc && strncmp(err.msg, "messages", 8) == 0) bd_wrap(&err, "%s", mpath);
        else if (rc && strncmp(err.msg, "extra variables", 15) == 0) bd_wrap(&err, "%s", vpath);
        else if (rc) bd_wrap(&err, "%s", tpath ? tpath : tok);
    }
    if (!rc && fwrite(out, 1, len, stdout) != len) rc = bd_fail(&err, BD_EIO, "writing the rendered chat failed");
    free(tmpl);
    free(bos);
    free(eos);
    free(msgs);
    free(vars_json);
    free(out);
    if (rc) return bd_cli_report(&err);
    return fflush(stdout) == 0 ? 0 : 1;
}
