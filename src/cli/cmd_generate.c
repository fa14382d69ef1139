/* biasdrift generate: prints only the generated continuation (streamed),
 * then one newline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"

typedef struct stream {
    const bd_tok *tok;
    int32_t *ids;        /* prompt then generated ids */
    size_t n, cap;
    size_t base;         /* bytes of the decoded prompt */
    size_t printed;      /* bytes of the continuation already written */
    int failed;
} stream;

/* Bytes of s[0..len) that can be written now: holds back an incomplete
 * UTF-8 sequence and a trailing U+FFFD (a byte-fallback character that the
 * next tokens may still complete). */
static size_t safe_len(const char *s, size_t len)
{
    size_t i = len, k = 0;
    while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) { i--; k++; }
    if (i > 0) {
        unsigned char c = (unsigned char)s[i - 1];
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > k + 1) len = i - 1;
    }
    if (len >= 3 && !memcmp(s + len - 3, "\xEF\xBF\xBD", 3)) len -= 3;
    return len;
}

/* Writes the part of the continuation not yet written; final = flush all. */
static void emit(stream *st, int final)
{
    char *text;
    size_t len;
    bd_err err = {0};
    if (bd_tok_decode(st->tok, st->ids, st->n, 1, &text, &len, &err)) { st->failed = 1; return; }
    if (len >= st->base) {
        const char *c = text + st->base;
        size_t cl = len - st->base, upto = final ? cl : safe_len(c, cl);
        if (upto > st->printed) {
            fwrite(c + st->printed, 1, upto - st->printed, stdout);
            fflush(stdout);
            st->printed = upto;
        }
    }
    free(text);
}

static int on_token(void *ctx, int32_t t)
{
    stream *st = ctx;
    if (st->n == st->cap) return 1; /* cannot happen: sized for max_new */
    st->ids[st->n++] = t;
    emit(st, 0);
    return st->failed;
}

int cmd_generate(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf or llama2.c .bin", NULL},
        {"--tokenizer", NULL, 1, "tokenizer file (needed for llama2.c checkpoints)", NULL},
        {"--prompt", "-p", 1, "prompt text (default: empty, i.e. only BOS)", NULL},
        {"-n", NULL, 1, "tokens to generate (default 256)", NULL},
        {"--temp", NULL, 1, "temperature, 0 = greedy (default 1.0)", NULL},
        {"--top-p", NULL, 1, "nucleus sampling threshold, 1 = off (default 1.0)", NULL},
        {"--top-k", NULL, 1, "keep the k most likely tokens, 0 = off (default 0)", NULL},
        {"--seed", NULL, 1, "random seed (default 0)", NULL},
        {"--threads", "-t", 1, "threads (default: all cores)", NULL},
        BD_ACCEL_OPTS,
        {"--no-special", NULL, 0, "no BOS/EOS insertion, special-token text stays text", NULL},
        BD_COMPUTE_OPT,
    };
    const int no = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, no,
                           "usage: biasdrift generate --model PATH [--tokenizer PATH] [--prompt TEXT] [-n N] "
                           "[--temp T] [--top-p P] [--top-k K] [--seed S] [--threads N] [--accel SPEC] [--compute fp32|bf16|fp16]");
    if (rc) return rc < 0 ? 0 : rc;
    const char *accel = bd_opt_get(opts, no, "--accel");
    if (accel && !strcmp(accel, "help")) {
        printf("%s\n", bd_accel_valid_specs());
        return 0;
    }
    long long n_new = 256, top_k = 0, seed = 0, threads = 0, cs = 0, cl = 0;
    double temp = 1.0, top_p = 1.0;
    if ((rc = bd_opt_int(opts, no, "--calib-samples", 0, 1 << 20, &cs)) ||
        (rc = bd_opt_int(opts, no, "--calib-seqlen", 0, 1 << 20, &cl)) ||
        (rc = bd_opt_int(opts, no, "-n", 0, 1 << 24, &n_new)) ||
        (rc = bd_opt_int(opts, no, "--top-k", 0, 1 << 30, &top_k)) ||
        (rc = bd_opt_int(opts, no, "--seed", 0, 0x7fffffffffffffffLL, &seed)) ||
        (rc = bd_opt_int(opts, no, "--threads", 0, 1024, &threads)) ||
        (rc = bd_opt_float(opts, no, "--temp", 0, 1e6, &temp)) ||
        (rc = bd_opt_float(opts, no, "--top-p", 1e-9, 1, &top_p)))
        return rc;
    const char *prompt = bd_opt_get(opts, no, "--prompt");
    if (!prompt) prompt = "";
    int flags = bd_opt_get(opts, no, "--no-special") ? 0 : BD_TOK_DEFAULT;

    bd_err err = {0};
    bd_session_opts so = {.model_path = bd_opt_get(opts, no, "--model"),
                          .tok_path = bd_opt_get(opts, no, "--tokenizer"),
                          .threads = (int)threads, .need_tok = 1, .accel_spec = accel};
    /* calibration keeps its own default seed (0, run's default): the
     * sampling seed must not change the quantized model being sampled */
    bd_accel_opts ao = {.calib = bd_opt_get(opts, no, "--calib"), .calib_samples = (int)cs,
                        .calib_seqlen = (int)cl, .threads = (int)threads};
    if ((rc = bd_session_compute_opt(bd_opt_get(opts, no, "--compute"), &ao.compute))) return rc;
    bd_session *s = NULL;
    int32_t *ids = NULL, *gen = NULL, *stop = NULL;
    size_t n_ids = 0;
    stream st = {0};
    if ((rc = bd_session_open_accel(&so, &ao, &s, &err))) goto fail;
    if ((rc = bd_tok_encode(s->tok, prompt, strlen(prompt), flags, &ids, &n_ids, &err))) goto fail;
    if (n_ids == 0) {
        rc = bd_fail(&err, BD_EINPUT, "the prompt is empty and the tokenizer adds no BOS: nothing to condition on");
        goto fail;
    }
    const bd_config *cfg = bd_engine_config(s->eng);
    if ((long long)n_ids > cfg->max_seq) {
        rc = bd_fail(&err, BD_EINPUT, "the prompt has %zu tokens, more than the model's context of %d", n_ids,
                     cfg->max_seq);
        goto fail;
    }
    if ((long long)n_ids + n_new - 1 > cfg->max_seq) {
        long long fit = cfg->max_seq - (long long)n_ids + 1;
        fprintf(stderr, "biasdrift generate: the context holds %d tokens; generating %lld instead of %lld\n",
                cfg->max_seq, fit, n_new);
        n_new = fit;
    }
    const int32_t *eog;
    int n_eog = bd_tok_eog(s->tok, &eog);
    int n_cfg_eos = cfg->n_eos > 0 && cfg->n_eos <= 8 ? cfg->n_eos : 0;
    stop = malloc(sizeof(int32_t) * (size_t)(n_eog + 1 + n_cfg_eos));
    st.cap = n_ids + (size_t)n_new;
    st.ids = malloc(sizeof(int32_t) * (st.cap ? st.cap : 1));
    if (!stop || !st.ids) { rc = bd_oom(&err, "generation"); goto fail; }
    int n_stop = 0;
    for (int i = 0; i < n_eog; i++) stop[n_stop++] = eog[i];
    if (cfg->eos_id >= 0) stop[n_stop++] = cfg->eos_id;
    for (int i = 0; i < n_cfg_eos; i++) /* e.g. generation_config's eos list */
        if (cfg->eos_ids[i] >= 0) stop[n_stop++] = cfg->eos_ids[i];
    memcpy(st.ids, ids, sizeof(int32_t) * n_ids);
    st.n = n_ids;
    st.tok = s->tok;
    char *ptext;
    size_t plen;
    if ((rc = bd_tok_decode(s->tok, ids, n_ids, 1, &ptext, &plen, &err))) goto fail;
    free(ptext);
    st.base = plen;
    bd_sampling sm = {.temp = (float)temp, .top_p = (float)top_p, .top_k = (int)top_k, .seed = (uint64_t)seed};
    int n_gen = 0;
    rc = bd_generate(s->eng, ids, (int)n_ids, (int)n_new, &sm, stop, n_stop, on_token, &st, &gen, &n_gen, &err);
    if (rc) goto fail;
    emit(&st, 1);
    if (st.failed) {
        rc = bd_fail(&err, BD_EFAIL, "could not decode the generated tokens");
        goto fail;
    }
    fputc('\n', stdout);
    fflush(stdout);
    free(ids); free(gen); free(stop); free(st.ids);
    bd_session_free(s);
    return 0;
fail:
    free(ids); free(gen); free(stop); free(st.ids);
    bd_session_free(s);
    return bd_cli_report(&err);
}
