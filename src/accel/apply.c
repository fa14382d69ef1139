/* bd_accel_apply: parse the spec, prune (Wanda), quantize the decoder
 * linears, pick the KV codec. Embeddings, norms and the output head are never
 * touched (strategies.md §1.1, §3.2, §5.2). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "awq.h"
#include "bnb4.h"
#include "int8.h"
#include "sparse50.h"
#include "wanda.h"

/* The seven decoder linears of layer l, in a fixed order. */
int bd_accel_linears(bd_model *m, int l, bd_tensor *out[7])
{
    bd_layer *L = &m->layers[l];
    bd_tensor *t[7] = {L->wq, L->wk, L->wv, L->wo, L->w_gate, L->w_up, L->w_down};
    int n = 0;
    for (int i = 0; i < 7; i++)
        if (t[i]) out[n++] = t[i];
    return n;
}

/* Tensors are independent: worker threads take the next unconverted linear. */
typedef struct qjob {
    bd_tensor **lin;
    int n;
    const bd_accel_spec *s;
    pthread_mutex_t mu;
    int next, failed;
    bd_err err;
} qjob;

static int pack_one(bd_tensor *t, const bd_accel_spec *s, bd_err *err)
{
    switch (s->wq) {
    case BD_WQ_INT8: return bd_int8_pack(t, err);
    case BD_WQ_FP4: return bd_bnb4_pack(t, BD_BNB_FP4, s->dq, err);
    case BD_WQ_NF4: return bd_bnb4_pack(t, BD_BNB_NF4, s->dq, err);
    default:
        return bd_fail(err, BD_EUNSUP, "accel: weight quantizer of '%s' is not available in this build",
                       s->canon);
    }
}

static void *qworker(void *arg)
{
    qjob *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int i = j->failed ? j->n : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n) return NULL;
        bd_err e = {0};
        if (pack_one(j->lin[i], j->s, &e)) {
            pthread_mutex_lock(&j->mu);
            if (!j->failed) { j->failed = e.code ? e.code : BD_EFAIL; j->err = e; }
            pthread_mutex_unlock(&j->mu);
        }
    }
}

static int quantize_weights(bd_model *m, const bd_accel_spec *s, int threads, bd_accel_result *out,
                            bd_err *err)
{
    int L = m->cfg.n_layers, n = 0;
    bd_tensor **lin = malloc(sizeof *lin * (size_t)(7 * (L > 0 ? L : 1)));
    if (!lin) return bd_oom(err, "accel");
    for (int l = 0; l < L; l++) n += bd_accel_linears(m, l, lin + n);
    qjob j = {.lin = lin, .n = n, .s = s};
    pthread_mutex_init(&j.mu, NULL);
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > n) threads = n > 0 ? n : 1;
    if (threads > 64) threads = 64;
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, qworker, &j) == 0) started++;
    qworker(&j);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.mu);
    free(lin);
    if (j.failed) {
        *err = j.err;
        return bd_wrap(err, "accel %s", s->canon);
    }
    out->n_converted += n;
    return 0;
}

int bd_accel_apply(bd_model *m, const char *spec, const bd_accel_opts *opts, bd_accel_result *out,
                   bd_err *err)
{
    bd_accel_spec s;
    size_t sl = spec ? strlen(spec) : 0;
    int from_file = sl > 4 && !strcmp(spec + sl - 4, ".bdq");
    memset(out, 0, sizeof *out);
    int64_t adopted = 0;
    int rc = bd_accel_adopt(m, &adopted, err);
    if (rc) return rc;
    out->weight_bytes_before = bd_model_weight_bytes(m);
    rc = from_file ? bd_accel_load(m, spec, &s, err) : bd_accel_parse(spec, &s, err);
    if (rc) return rc;
    out->spec = s;
    out->compute = opts ? opts->compute : BD_COMPUTE_FP32;
    size_t nl = 0;
#define NOTE(...) do { if (nl < sizeof out->notes) \
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl, __VA_ARGS__); } while (0)

    if (adopted) NOTE("AutoAWQ GEMM checkpoint: %lld linears read as awq4; ", (long long)adopted);
    if (from_file) {
        if (s.wq != BD_WQ_NONE || s.prune) out->n_converted = 7LL * m->cfg.n_layers;
        NOTE("restored from %s; ", spec);
    } else {
        if (s.prune) {
            if ((rc = bd_wanda_apply(m, &s, opts, err))) return rc;
            NOTE("wanda %s: decoder linears pruned per output row; ", s.prune == 1 ? "50%" : "N:M");
        }
        if (s.wq == BD_WQ_AWQ4) {
            if ((rc = bd_awq_apply(m, &s, opts, err))) return rc;
            out->n_converted = 7LL * m->cfg.n_layers;
            NOTE("AWQ w4 g%d zero-point: decoder linears packed, norms rescaled; ", s.awq_group);
        } else if (s.wq != BD_WQ_NONE) {
            if ((rc = quantize_weights(m, &s, opts ? opts->threads : 0, out, err))) return rc;
            NOTE("%s: %lld decoder linears packed (embeddings, norms, lm_head unchanged); ",
                 s.wq == BD_WQ_INT8 ? "LLM.int8" : "bitsandbytes 4-bit", (long long)out->n_converted);
        } else if (s.prune == 2 && s.prune_n == 2 && s.prune_m == 4) {
            if ((rc = bd_sparse24_pack_model(m, &out->n_converted, err))) return rc;
            NOTE("2:4 weights stored as values + 2-bit indices; ");
        } else if (s.prune) {
            int64_t packed = 0;
            if ((rc = bd_sparse50_pack_model(m, &packed, err))) return rc;
            out->n_converted += packed;
            if (packed) NOTE("%lld pruned linears stored as bitmask + kept values; ", (long long)packed);
            else NOTE("pruned weights stored dense in their float dtype (zeros explicit); ");
        }
    }
    if (s.kv_bits) {
        const bd_config *c = &m->cfg;
        out->kvp.bits = s.kv_bits;
        out->kvp.axis = s.kv_axis;
        out->kvp.group = 64;
        out->kvp.quanto = s.kv_quanto;
        out->kvp.head_dim = c->head_dim > 0 ? c->head_dim : (c->n_heads ? c->dim / c->n_heads : 0);
        if (out->kvp.head_dim <= 0)
            return bd_fail(err, BD_EINPUT, "accel %s: model has no head_dim", s.canon);
        out->kv_codec = s.kv_quanto ? &bd_kvq_quanto : &bd_kvq_hqq;
        out->kv_codec_params = &out->kvp;
        NOTE("KV cache %d-bit %s axis %d group 64, residual 128; ", s.kv_bits,
             s.kv_quanto ? "quanto" : "HQQ", s.kv_axis);
    }
#undef NOTE
    out->weight_bytes_after = bd_model_weight_bytes(m);
    return 0;
}
