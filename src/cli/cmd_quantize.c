/* biasdrift quantize: apply an acceleration SPEC once (including AWQ/Wanda
 * calibration) and save what it changed as a .bdq file; later runs pass the
 * file as --accel FILE.bdq with the same base model. */
#include <stdio.h>
#include <string.h>

#include "../accel/accel.h"
#include "cli.h"
#include "session.h"

int cmd_quantize(int argc, char **argv)
{
    bd_opt opts[] = {
        {"--model", "-m", 1, "base model: HF folder, .gguf or llama2.c .bin", NULL},
        {"--accel", NULL, 1, "acceleration spec, e.g. nf4, int8, awq4, wanda2:4+nf4", NULL},
        {"--out", "-o", 1, "output file (.bdq)", NULL},
        {"--calib", NULL, 1, "calibration for awq4/wanda: FILE (text or JSONL with \"text\") or selfgen", NULL},
        {"--calib-samples", NULL, 1, "calibration sequences (default: AWQ 128 documents, Wanda 128)", NULL},
        {"--calib-seqlen", NULL, 1, "calibration sequence length (default 512)", NULL},
        {"--seed", NULL, 1, "seed for calibration sampling (default 0)", NULL},
        {"--threads", "-t", 1, "threads (default: all cores)", NULL},
        {"--tokenizer", NULL, 1, "tokenizer for --calib FILE (default: the model's own)", NULL},
    };
    const int no = (int)(sizeof opts / sizeof opts[0]);
    int rc = bd_opts_parse(argc, argv, opts, no,
                           "usage: biasdrift quantize --model PATH --accel SPEC [--calib FILE|selfgen] -o OUT.bdq\n\n"
                           "Applies SPEC once and saves the changed tensors bit for bit; use the result with\n"
                           "--accel OUT.bdq on the same base model (checked by sha256).");
    if (rc) return rc < 0 ? 0 : rc;
    long long cs = 0, cl = 0, seed = 0, threads = 0;
    if ((rc = bd_opt_int(opts, no, "--calib-samples", 1, 1 << 20, &cs)) ||
        (rc = bd_opt_int(opts, no, "--calib-seqlen", 1, 1 << 20, &cl)) ||
        (rc = bd_opt_int(opts, no, "--seed", 0, (1LL << 62), &seed)) ||
        (rc = bd_opt_int(opts, no, "--threads", 0, 1024, &threads)))
        return rc;
    const char *out = bd_opt_get(opts, no, "--out"), *spec = bd_opt_get(opts, no, "--accel");
    const char *calib = bd_opt_get(opts, no, "--calib");
    bd_err err = {0};
    if (!out) { bd_fail(&err, BD_EINPUT, "quantize: -o OUT.bdq is required"); return bd_cli_report(&err); }
    if (!spec) { bd_fail(&err, BD_EINPUT, "quantize: --accel SPEC is required; %s", bd_accel_valid_specs()); return bd_cli_report(&err); }
    size_t ol = strlen(out);
    if (ol < 5 || strcmp(out + ol - 4, ".bdq") != 0) {
        bd_fail(&err, BD_EINPUT, "quantize: output '%s' must end in .bdq (that is how --accel recognises it)", out);
        return bd_cli_report(&err);
    }
    bd_accel_opts ao = {.calib = calib, .calib_samples = (int)cs, .calib_seqlen = (int)cl, .seed = (uint64_t)seed,
                        .threads = (int)threads};
    bd_session_opts so = {.model_path = bd_opt_get(opts, no, "--model"),
                          .tok_path = bd_opt_get(opts, no, "--tokenizer"), .threads = (int)threads,
                          .accel_spec = spec, .need_tok = calib && strcmp(calib, "selfgen") != 0};
    bd_session *s = NULL;
    if ((rc = bd_session_open_accel(&so, &ao, &s, &err))) return bd_cli_report(&err);
    if ((rc = bd_accel_save(s->model, &s->accel, out, &err))) {
        bd_session_free(s);
        return bd_cli_report(&err);
    }
    printf("spec        %s\n", s->accel.spec.canon);
    printf("weights     %.3f MB -> %.3f MB (%lld decoder linears rewritten)\n",
           (double)s->accel.weight_bytes_before / 1e6, (double)s->accel.weight_bytes_after / 1e6,
           (long long)s->accel.n_converted);
    printf("notes       %s\n", s->accel.notes);
    printf("wrote       %s (use: --model %s --accel %s)\n", out, s->model->path, out);
    bd_session_free(s);
    return 0;
}
