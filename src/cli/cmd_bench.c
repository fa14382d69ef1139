/* biasdrift bench: prefill and decode speed, weight bytes read per decoded
 * token and the achieved fraction of this machine's memory bandwidth. The
 * token ids are a fixed pseudo-random sequence: speed does not depend on
 * what the tokens say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "session.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t tensor_bytes(const bd_tensor *t) { return t ? t->nbytes : 0; }

int cmd_bench(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "model: HF folder, .gguf or llama2.c .bin", NULL},
        {"--threads", "-t", 1, "threads (default: all cores)", NULL},
        {"--bw", NULL, 1, "memory bandwidth in GB/s (default: measured)", NULL},
        {"--prefill", NULL, 1, "prefill batch in tokens (default 512)", NULL},
        {"--decode", NULL, 1, "decode steps timed (default 32)", NULL},
        {"--reps", NULL, 1, "repeat each measurement, keep the fastest (default 1)", NULL},
        {"--accel", NULL, 1, "acceleration spec (default none; --accel help lists them)", NULL},
        {"--calib", NULL, 1, "calibration for awq4/wanda: FILE or selfgen (default selfgen)", NULL},
        {"--calib-samples", NULL, 1, "calibration sequences (default: the strategy's)", NULL},
        {"--calib-seqlen", NULL, 1, "calibration sequence length (default: the strategy's)", NULL},
        BD_COMPUTE_OPT,
    };
    const int no = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, no, "usage: biasdrift bench --model PATH [--threads N] [--bw GBPS]");
    if (rc) return rc < 0 ? 0 : rc;
    const char *accel = bd_opt_get(opts, no, "--accel");
    if (accel && !strcmp(accel, "help")) {
        printf("%s\n", bd_accel_valid_specs());
        return 0;
    }
    long long threads = 0, n_pre = 512, n_dec = 32, cs = 0, cl = 0, reps = 1;
    double bw = 0;
    if ((rc = bd_opt_int(opts, no, "--threads", 0, 1024, &threads)) ||
        (rc = bd_opt_int(opts, no, "--prefill", 1, 1 << 20, &n_pre)) ||
        (rc = bd_opt_int(opts, no, "--decode", 1, 1 << 20, &n_dec)) ||
        (rc = bd_opt_int(opts, no, "--reps", 1, 100, &reps)) ||
        (rc = bd_opt_float(opts, no, "--bw", 0.001, 1e6, &bw)) ||
        (rc = bd_opt_int(opts, no, "--calib-samples", 1, 1 << 20, &cs)) ||
        (rc = bd_opt_int(opts, no, "--calib-seqlen", 1, 1 << 20, &cl)))
        return rc;
    bd_accel_opts ao = {.calib = bd_opt_get(opts, no, "--calib"), .calib_samples = (int)cs,
                        .calib_seqlen = (int)cl};
    if ((rc = bd_session_compute_opt(bd_opt_get(opts, no, "--compute"), &ao.compute))) return rc;
    if (!ao.calib) ao.calib = "selfgen"; /* bench has no tokenizer: calibration text comes from the model */
    bd_err err = {0};
    bd_session_opts so = {.model_path = bd_opt_get(opts, no, "--model"), .threads = (int)threads,
                          .max_batch = (int)n_pre, .accel_spec = bd_opt_get(opts, no, "--accel")};
    bd_session *s = NULL;
    bd_kv *kv = NULL;
    int32_t *tok = NULL;
    float *logits = NULL;
    if ((rc = bd_session_open_accel(&so, &ao, &s, &err))) goto fail;
    const bd_config *c = bd_engine_config(s->eng);
    if (n_pre > c->max_seq) n_pre = c->max_seq;
    if (n_dec + 1 > c->max_seq) n_dec = c->max_seq - 1;
    tok = malloc(sizeof(int32_t) * (size_t)n_pre);
    logits = malloc(sizeof(float) * (size_t)c->vocab_size);
    if (!tok || !logits) { rc = bd_oom(&err, "bench"); goto fail; }
    uint64_t x = 88172645463325252ull;
    for (long long i = 0; i < n_pre; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        tok[i] = (int32_t)(x % (uint64_t)c->vocab_size);
    }
    int max_pos = (int)(n_pre > n_dec + 1 ? n_pre : n_dec + 1);
    if ((rc = bd_engine_kv_new(s->eng, max_pos, &kv, &err))) goto fail;

    fprintf(stderr, "bench: warming up (first touch of the weights)\n");
    if ((rc = bd_forward(s->eng, kv, tok, 1, logits, 0, &err))) goto fail;

    /* the CPU share (process CPU time / wall time / threads) shows how much
     * of the machine other processes left us while timing */
    double t_pre = 1e300, t_dec = 1e300, share_pre = 0, share_dec = 0;
    const int nthr = bd_engine_threads(s->eng);
    for (long long r = 0; r < reps; r++) {
        fprintf(stderr, "bench: prefill of %lld tokens\n", n_pre);
        bd_kv_reset(kv);
        double t0 = now_s(), c0 = cpu_s();
        if ((rc = bd_forward(s->eng, kv, tok, (int)n_pre, logits, 0, &err))) goto fail;
        double dt = now_s() - t0;
        if (dt < t_pre) { t_pre = dt; share_pre = (cpu_s() - c0) / dt / nthr; }

        fprintf(stderr, "bench: %lld decode steps\n", n_dec);
        bd_kv_reset(kv);
        if ((rc = bd_forward(s->eng, kv, tok, 1, logits, 0, &err))) goto fail;
        t0 = now_s();
        c0 = cpu_s();
        for (long long i = 0; i < n_dec; i++)
            if ((rc = bd_forward(s->eng, kv, &tok[(i + 1) % n_pre], 1, logits, 0, &err))) goto fail;
        dt = now_s() - t0;
        if (dt < t_dec) { t_dec = dt; share_dec = (cpu_s() - c0) / dt / nthr; }
    }

    /* weights read per decoded token: every linear layer, the head, one embedding row */
    const bd_model *m = s->model;
    size_t per_tok = tensor_bytes(m->output);
    for (int l = 0; l < c->n_layers; l++) {
        const bd_layer *L = &m->layers[l];
        per_tok += tensor_bytes(L->wq) + tensor_bytes(L->wk) + tensor_bytes(L->wv) + tensor_bytes(L->wo) +
                   tensor_bytes(L->w_gate) + tensor_bytes(L->w_up) + tensor_bytes(L->w_down);
    }
    if (m->tok_embd && m->tok_embd->shape[0] > 0) per_tok += m->tok_embd->nbytes / (size_t)m->tok_embd->shape[0];
    const char *bw_src = "given";
    if (bw <= 0) {
        fprintf(stderr, "bench: measuring memory bandwidth\n");
        bw = bd_engine_stream_gbps(s->eng, (size_t)1 << 30, 3);
        bw_src = "measured";
    }
    double pre_tps = (double)n_pre / t_pre, dec_tps = (double)n_dec / t_dec;
    double achieved = dec_tps * (double)per_tok / 1e9;
    printf("model              %s\n", m->path);
    printf("kernels            %s, %d threads\n", bd_engine_kernels(s->eng), bd_engine_threads(s->eng));
    printf("weights            %.3f GB (%lld parameters)\n", (double)bd_model_weight_bytes(m) / 1e9,
           (long long)bd_model_param_count(m));
    printf("prefill            %8.2f tok/s   (%lld tokens in one batch, %.2f s, cpu share %.0f%%)\n", pre_tps,
           n_pre, t_pre, 100 * share_pre);
    printf("decode             %8.2f tok/s   (%lld steps, %.1f ms/token, cpu share %.0f%%)\n", dec_tps, n_dec,
           1e3 * t_dec / n_dec, 100 * share_dec);
    /* The pool's idle threads sleep, so CPU time is work: on a shared
     * machine tok/s divided by the CPU share bounds the speed with the cores
     * to ourselves from above (close for a large model's compute-bound
     * prefill; loose for decode, which also shares the memory bus, and for
     * tiny models, whose threads mostly wait on each other). */
    if (share_pre > 0 && share_dec > 0 && (share_pre < 0.9 || share_dec < 0.9))
        printf("if alone, at most  %8.2f / %.2f tok/s prefill / decode (tok/s / cpu share)\n",
               pre_tps / share_pre, dec_tps / share_dec);
    printf("accel              %s (weights %.3f GB before)\n", s->accel.spec.canon,
           (double)s->accel.weight_bytes_before / 1e9);
    if (bd_kv_pos(kv) > 0)
        printf("kv cache           %.1f bytes/token (%d tokens held)\n", (double)bd_kv_bytes(kv) / bd_kv_pos(kv),
               bd_kv_pos(kv));
    printf("bytes per token    %.3f GB of weights read per decoded token\n", (double)per_tok / 1e9);
    printf("achieved           %8.2f GB/s\n", achieved);
    printf("memory bandwidth   %8.2f GB/s (%s)\n", bw, bw_src);
    printf("ratio              %8.2f   (decode limit at this bandwidth: %.2f tok/s)\n", bw > 0 ? achieved / bw : 0,
           per_tok ? bw * 1e9 / (double)per_tok : 0);
    bd_kv_free(kv);
    free(tok);
    free(logits);
    bd_session_free(s);
    return 0;
fail:
    bd_kv_free(kv);
    free(tok);
    free(logits);
    bd_session_free(s);
    return bd_cli_report(&err);
}
