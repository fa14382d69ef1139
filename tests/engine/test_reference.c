/* Logits against transformers: every tiny random model under
 * tests/reference/models/<name>/ (HF folder, written by
 * tests/reference/gen_models.py) and its GGUF twin <name>.gguf must give the
 * logits transformers computed in fp32 (expected_logits.txt) at every
 * position, within 1e-4 absolute.
 *
 * Why 1e-4: both sides compute in fp32 from the same stored weights; they
 * differ only in summation order (blocked SIMD sums vs. torch's kernels) and
 * ~1 ulp in exp/cos/sin/rsqrt. With logits of magnitude ~1-5 and depth of a
 * few layers, that accumulates to ~1e-6..1e-5; 1e-4 leaves margin while
 * still catching any real mistake (a wrong RoPE pair, a missing scale or
 * norm shifts logits by 1e-2 or more). The test fails if no model is found. */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../test.h"
#include "engine/engine.h"
#include "model/model.h"

#define REFDIR "tests/reference/models"

typedef struct golden { int n, vocab; int32_t *ids; float *logits; } golden;

static int read_golden(const char *path, golden *g)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fscanf(f, " ids %d", &g->n) == 1 && g->n > 0 && g->n < 100000;
    if (ok) g->ids = malloc(sizeof(int32_t) * (size_t)g->n);
    for (int i = 0; ok && i < g->n; i++) ok = fscanf(f, "%d", &g->ids[i]) == 1;
    ok = ok && fscanf(f, " vocab %d", &g->vocab) == 1 && g->vocab > 0 && g->vocab < 10000000;
    if (ok) g->logits = malloc(sizeof(float) * (size_t)g->n * (size_t)g->vocab);
    for (size_t i = 0; ok && i < (size_t)g->n * (size_t)g->vocab; i++) ok = fscanf(f, "%f", &g->logits[i]) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

/* Returns the max abs error, or -1 on failure to run. */
static double run_model(const char *path, const golden *g, int threads)
{
    bd_model *m = NULL;
    bd_engine *e = NULL;
    bd_kv *kv = NULL;
    bd_err err = {0};
    double worst = -1;
    float *lg = NULL;
    if (bd_model_load(path, &m, &err)) { fprintf(stderr, "%s: %s\n", path, err.msg); return -1; }
    bd_engine_opts o = {.threads = threads, .max_batch = 7}; /* several chunks: exercises the cache too */
    if (bd_engine_new(m, &o, &e, &err) || bd_engine_kv_new(e, 0, &kv, &err)) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        goto done;
    }
    if (bd_engine_config(e)->vocab_size != g->vocab) {
        fprintf(stderr, "%s: vocab %d, golden %d\n", path, bd_engine_config(e)->vocab_size, g->vocab);
        goto done;
    }
    lg = malloc(sizeof(float) * (size_t)g->n * (size_t)g->vocab);
    if (!lg || bd_forward(e, kv, g->ids, g->n, lg, 1, &err)) { fprintf(stderr, "%s: %s\n", path, err.msg); goto done; }
    worst = 0;
    for (size_t i = 0; i < (size_t)g->n * (size_t)g->vocab; i++) {
        double d = fabs((double)lg[i] - g->logits[i]);
        if (!(d <= worst)) worst = d; /* NaN propagates as a failure */
    }
done:
    free(lg);
    bd_kv_free(kv);
    bd_engine_free(e);
    bd_model_free(m);
    return worst;
}

int main(void)
{
    DIR *d = opendir(REFDIR);
    CHECK_MSG(d != NULL, "no %s directory", REFDIR);
    int found = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char dir[512], gold[600], gguf[600], cfg[600];
        snprintf(dir, sizeof dir, REFDIR "/%s", de->d_name);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        snprintf(gold, sizeof gold, "%s/expected_logits.txt", dir);
        snprintf(gguf, sizeof gguf, "%s.gguf", dir);
        struct stat st;
        if (stat(cfg, &st) != 0) continue;
        found++;
        golden g;
        CHECK_MSG(read_golden(gold, &g) == 0, "%s: unreadable golden", gold);
        if (!g.logits) continue;
        double e1 = run_model(dir, &g, 2);
        CHECK_MSG(e1 >= 0 && e1 <= 1e-4, "%s (HF): max abs logit error %g", dir, e1);
        fprintf(stderr, "%-45s HF   max abs error %.3g\n", dir, e1);
        if (stat(gguf, &st) == 0) {
            double e2 = run_model(gguf, &g, 3);
            CHECK_MSG(e2 >= 0 && e2 <= 1e-4, "%s: max abs logit error %g", gguf, e2);
            fprintf(stderr, "%-45s GGUF max abs error %.3g\n", gguf, e2);
        } else {
            CHECK_MSG(0, "%s: missing GGUF twin", gguf);
        }
        /* variants of the same weights, e.g. <name>.meta.gguf (llama3 rope
         * scaling as metadata instead of rope_freqs.weight) */
        DIR *d2 = opendir(REFDIR);
        struct dirent *v;
        size_t nl = strlen(de->d_name);
        while (d2 && (v = readdir(d2))) {
            size_t vl = strlen(v->d_name);
            if (vl <= nl + 6 || strncmp(v->d_name, de->d_name, nl) || v->d_name[nl] != '.' ||
                strcmp(v->d_name + vl - 5, ".gguf") || !strcmp(v->d_name + nl, ".gguf"))
                continue;
            char vp[600];
            snprintf(vp, sizeof vp, REFDIR "/%s", v->d_name);
            double e3 = run_model(vp, &g, 1);
            CHECK_MSG(e3 >= 0 && e3 <= 1e-4, "%s: max abs logit error %g", vp, e3);
            fprintf(stderr, "%-45s GGUF max abs error %.3g\n", vp, e3);
        }
        if (d2) closedir(d2);
        free(g.ids);
        free(g.logits);
    }
    if (d) closedir(d);
    CHECK_MSG(found > 0, "no reference models found under %s (run tests/reference/gen_models.py)", REFDIR);
    return test_done();
}
