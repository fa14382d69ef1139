/* bd_accel_apply: parse the spec, prune (Wanda), quantize the decoder
 * linears, pick the KV codec. Embeddings, norms and the output head are never
 * touched (strategies.md §1.1, §3.2, §5.2). */
#include <stdio.h>
#include <string.h>

#include "accel.h"
#include "bnb4.h"
#include "int8.h"
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

static int quantize_weights(bd_model *m, const bd_accel_spec *s, bd_accel_result *out, bd_err *err)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        bd_tensor *lin[7];
        int n = bd_accel_linears(m, l, lin);
        for (int i = 0; i < n; i++) {
            int rc;
            switch (s->wq) {
            case BD_WQ_INT8: rc = bd_int8_pack(lin[i], err); break;
            case BD_WQ_FP4: rc = bd_bnb4_pack(lin[i], BD_BNB_FP4, s->dq, err); break;
            case BD_WQ_NF4: rc = bd_bnb4_pack(lin[i], BD_BNB_NF4, s->dq, err); break;
            default:
                return bd_fail(err, BD_EUNSUP, "accel: weight quantizer of '%s' is not available in "
                               "this build", s->canon);
            }
            if (rc) return bd_wrap(err, "accel %s", s->canon);
            out->n_converted++;
        }
    }
    return 0;
}

int bd_accel_apply(bd_model *m, const char *spec, const bd_accel_opts *opts, bd_accel_result *out,
                   bd_err *err)
{
    bd_accel_spec s;
    int rc = bd_accel_parse(spec, &s, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->spec = s;
    out->compute = opts ? opts->compute : BD_COMPUTE_FP32;
    out->weight_bytes_before = bd_model_weight_bytes(m);
    size_t nl = 0;
#define NOTE(...) do { if (nl < sizeof out->notes) \
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl, __VA_ARGS__); } while (0)

    if (s.wq == BD_WQ_AWQ4)
        return bd_fail(err, BD_EUNSUP, "accel: awq4 is not implemented in this build yet");

    if (s.prune) {
        if ((rc = bd_wanda_apply(m, &s, opts, err))) return rc;
        NOTE("wanda %s: decoder linears pruned per output row; ", s.prune == 1 ? "50%" : "N:M");
    }
    if (s.wq != BD_WQ_NONE) {
        if ((rc = quantize_weights(m, &s, out, err))) return rc;
        NOTE("%s: %lld decoder linears packed (embeddings, norms, lm_head unchanged); ",
             s.wq == BD_WQ_INT8 ? "LLM.int8" : "bitsandbytes 4-bit", (long long)out->n_converted);
    } else if (s.prune == 2 && s.prune_n == 2 && s.prune_m == 4) {
        if ((rc = bd_sparse24_pack_model(m, &out->n_converted, err))) return rc;
        NOTE("2:4 weights stored as values + 2-bit indices; ");
    } else if (s.prune) {
        NOTE("pruned weights stored dense fp32 (zeros kept explicitly); ");
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
