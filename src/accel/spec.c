/* SPEC strings: parsing, validation of combinations, canonical spelling. */
#include <stdio.h>
#include <string.h>

#include "accel.h"

static const char VALID[] =
    "valid specs: none, int8, fp4, fp4-dq, nf4, nf4-dq, awq4 (awq4:g32|g64|g128), "
    "kv4 (kv4:hqq, kv4:quanto, option :axis0|:axis1, quanto :axis0|:axis-1), kv8 (HQQ, :axis0|:axis1), "
    "wanda50, wanda2:4, wanda4:8; combine with '+' using at most one weight quantizer "
    "(int8|fp4|nf4|awq4), one pruner (wanda*) and one kv codec, e.g. wanda2:4+nf4, awq4+kv8";

const char *bd_accel_valid_specs(void) { return VALID; }

const char *bd_compute_name(bd_compute c)
{
    return c == BD_COMPUTE_BF16 ? "bf16" : c == BD_COMPUTE_FP16 ? "fp16" : "fp32";
}

int bd_compute_parse(const char *s, bd_compute *out, bd_err *err)
{
    if (!s || !strcmp(s, "fp32")) *out = BD_COMPUTE_FP32;
    else if (!strcmp(s, "bf16")) *out = BD_COMPUTE_BF16;
    else if (!strcmp(s, "fp16")) *out = BD_COMPUTE_FP16;
    else return bd_fail(err, BD_EINPUT, "--compute: expected fp32, bf16 or fp16, got '%s'", s);
    return 0;
}

/* One '+'-separated item. Options after ':' are read left to right. */
static int parse_item(const char *it, bd_accel_spec *s, int *seen_none, bd_err *err)
{
    char buf[64];
    size_t len = strlen(it);
    if (len == 0)
        return bd_fail(err, BD_EINPUT, "accel spec: empty item; %s", VALID);
    if (len >= sizeof buf)
        return bd_fail(err, BD_EINPUT, "accel spec: item '%.40s...' too long; %s", it, VALID);
    memcpy(buf, it, len + 1);

    if (!strcmp(buf, "none")) { *seen_none = 1; return 0; }

    if (!strncmp(buf, "wanda", 5)) {
        int n = 0, m = 0;
        if (s->prune)
            return bd_fail(err, BD_EINPUT, "accel spec: two pruners ('%s'); %s", buf, VALID);
        if (!strcmp(buf + 5, "50")) { s->prune = 1; s->sparsity = 0.5f; return 0; }
        if (!strcmp(buf + 5, "2:4")) { n = 2; m = 4; }
        else if (!strcmp(buf + 5, "4:8")) { n = 4; m = 8; }
        else return bd_fail(err, BD_EINPUT, "accel spec: unknown pruner '%s'; %s", buf, VALID);
        s->prune = 2; s->prune_n = n; s->prune_m = m; s->sparsity = 0.5f;
        return 0;
    }

    char *opt = strchr(buf, ':');
    if (opt) *opt++ = 0;
    const char *name = buf;

    if (!strcmp(name, "kv4") || !strcmp(name, "kv8")) {
        if (s->kv_bits)
            return bd_fail(err, BD_EINPUT, "accel spec: two kv codecs ('%s'); %s", it, VALID);
        s->kv_bits = name[2] - '0';
        int axis_set = 0, axis = 0;
        while (opt) {
            char *next = strchr(opt, ':');
            if (next) *next++ = 0;
            if (!strcmp(opt, "hqq")) s->kv_quanto = 0;
            else if (!strcmp(opt, "quanto")) s->kv_quanto = 1;
            else if (!strcmp(opt, "axis0")) { axis_set = 1; axis = 0; }
            else if (!strcmp(opt, "axis1")) { axis_set = 1; axis = 1; }
            else if (!strcmp(opt, "axis-1")) { axis_set = 1; axis = -1; }
            else return bd_fail(err, BD_EINPUT, "accel spec: unknown kv option '%s' in '%s'; %s",
                                opt, it, VALID);
            opt = next;
        }
        if (s->kv_quanto && s->kv_bits != 4)
            return bd_fail(err, BD_EINPUT, "accel spec: '%s': quanto supports only 4 bits here "
                           "(HF allows 2/4; KV8 needs HQQ); %s", it, VALID);
        if (axis_set && s->kv_quanto && axis == 1)
            return bd_fail(err, BD_EINPUT, "accel spec: '%s': quanto axes are 0 and -1", it);
        if (axis_set && !s->kv_quanto && axis == -1)
            return bd_fail(err, BD_EINPUT, "accel spec: '%s': HQQ axes are 0 and 1", it);
        s->kv_axis = axis;
        return 0;
    }

    bd_wquant wq = BD_WQ_NONE;
    int dq = 0, group = 0;
    if (!strcmp(name, "int8")) wq = BD_WQ_INT8;
    else if (!strcmp(name, "fp4")) wq = BD_WQ_FP4;
    else if (!strcmp(name, "nf4")) wq = BD_WQ_NF4;
    else if (!strcmp(name, "fp4-dq")) { wq = BD_WQ_FP4; dq = 1; }
    else if (!strcmp(name, "nf4-dq")) { wq = BD_WQ_NF4; dq = 1; }
    else if (!strcmp(name, "awq4")) {
        wq = BD_WQ_AWQ4; group = 128;
        if (opt) {
            if (!strcmp(opt, "g128")) group = 128;
            else if (!strcmp(opt, "g64")) group = 64;
            else if (!strcmp(opt, "g32")) group = 32;
            else return bd_fail(err, BD_EINPUT, "accel spec: '%s': group must be g32, g64 or g128; %s",
                                it, VALID);
            opt = NULL;
        }
    } else {
        return bd_fail(err, BD_EINPUT, "accel spec: unknown strategy '%s'; %s", it, VALID);
    }
    if (opt)
        return bd_fail(err, BD_EINPUT, "accel spec: '%s' takes no options; %s", it, VALID);
    if (s->wq != BD_WQ_NONE)
        return bd_fail(err, BD_EINPUT, "accel spec: two weight quantizers ('%s'); %s", it, VALID);
    s->wq = wq; s->dq = dq; s->awq_group = group;
    return 0;
}

int bd_accel_parse(const char *spec, bd_accel_spec *out, bd_err *err)
{
    bd_accel_spec s;
    memset(&s, 0, sizeof s);
    if (!spec || !*spec) spec = "none";
    char buf[256];
    if (strlen(spec) >= sizeof buf)
        return bd_fail(err, BD_EINPUT, "accel spec too long (%zu chars); %s", strlen(spec), VALID);
    strcpy(buf, spec);
    int seen_none = 0, items = 0;
    char *p = buf;
    for (;;) {
        char *plus = strchr(p, '+');
        if (plus) *plus = 0;
        int rc = parse_item(p, &s, &seen_none, err);
        if (rc) return rc;
        items++;
        if (!plus) break;
        p = plus + 1;
    }
    if (seen_none && items > 1)
        return bd_fail(err, BD_EINPUT, "accel spec '%s': 'none' cannot be combined; %s", spec, VALID);
    if (s.prune && s.wq == BD_WQ_AWQ4)
        return bd_fail(err, BD_EINPUT, "accel spec '%s': AWQ's zero-point quantization does not keep "
                       "pruned weights at zero, so wanda+awq4 is not offered; %s", spec, VALID);

    /* canonical: pruner, weight quantizer, kv; defaults omitted */
    char c[128] = "";
    size_t n = 0;
#define ADD(...) do { if (n) n += (size_t)snprintf(c + n, sizeof c - n, "+"); \
                      n += (size_t)snprintf(c + n, sizeof c - n, __VA_ARGS__); } while (0)
    if (s.prune == 1) ADD("wanda50");
    else if (s.prune == 2) ADD("wanda%d:%d", s.prune_n, s.prune_m);
    switch (s.wq) {
    case BD_WQ_INT8: ADD("int8"); break;
    case BD_WQ_FP4: ADD(s.dq ? "fp4-dq" : "fp4"); break;
    case BD_WQ_NF4: ADD(s.dq ? "nf4-dq" : "nf4"); break;
    case BD_WQ_AWQ4: if (s.awq_group == 128) ADD("awq4"); else ADD("awq4:g%d", s.awq_group); break;
    default: break;
    }
    if (s.kv_bits) {
        char axis[16] = "";
        if (s.kv_axis != 0) snprintf(axis, sizeof axis, ":axis%d", s.kv_axis);
        ADD("kv%d%s%s", s.kv_bits, s.kv_quanto ? ":quanto" : "", axis);
    }
#undef ADD
    if (!n) snprintf(c, sizeof c, "none");
    memcpy(s.canon, c, sizeof s.canon);
    *out = s;
    return 0;
}
