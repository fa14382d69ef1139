/* SmolLM2-135M-Instruct (Q4_1 GGUF, issue 6) against independent references:
 * tests/reference/smollm2/next_token_llamacpp_f32.txt (llama.cpp on a copy of
 * the GGUF dequantized to F32) and next_token_hf.txt (transformers' GGUF
 * loader, fp32), 20 prompts each (format: tests/reference/README.md).
 *
 * For every prompt: biasdrift's tokenizer turns the recorded text into the
 * recorded ids; the full-softmax probabilities of the 20 listed ids after
 * the prompt agree within 1e-4 max abs; the 32-token greedy continuation is
 * identical.
 *
 * Why 1e-4: biasdrift, like both references, dequantizes the same Q4_1/Q8_0
 * blocks to fp32 and computes in fp32; only summation order and ~1 ulp of
 * exp/rsqrt/sin/cos differ. The two references agree with each other to
 * 3.3e-6 (README), so ~1e-6 is expected; 1e-4 leaves margin across 30
 * layers while any real mistake (a wrong scale, RoPE pairing, tied head,
 * tokenizer id) moves probabilities by 1e-3 or much more.
 * Greedy: a step whose recorded top-1/top-2 logit gap is < 1e-3 may
 * legitimately pick the other token in fp32 with another summation order, so
 * the comparison stops after such a step (all recorded gaps are >= 2e-3, so
 * today every continuation is compared in full; the rule is there for
 * regenerated goldens).
 *
 * Also printed, not asserted: the distance to next_token.txt (llama.cpp on
 * the Q4_1 file itself, which rounds activations to 8-bit blocks and so
 * differs from any fp32-activation engine by up to ~6e-2).
 *
 * The model lives outside the repository (scripts/fetch_smollm2.sh puts it
 * in ${BIASDRIFT_CACHE:-$HOME/.cache/biasdrift}/smollm2/). Without it the
 * test prints SKIP and checks only that the three golden files parse and
 * agree on their prompts. */
#include <json-c/json.h>
#include <stdint.h>

#include "../test.h"
#include "engine/engine.h"
#include "model/model.h"
#include "tok/tok.h"

#define GOLD "tests/reference/smollm2/"
#define NP 20
#define NTOP 20
#define NGREEDY 32
#define PROB_TOL 1e-4
#define GAP_TOL 1e-3

typedef struct rec {
    char *text;          /* decoded from the JSON string */
    int n_ids;
    int32_t *ids;
    int32_t top[NTOP];
    double p[NTOP];
    int32_t greedy[NGREEDY];
    double gap[NGREEDY];
} rec;

typedef struct gold { const char *path; rec r[NP]; } gold;

/* Next non-comment line into buf; 0 at EOF. */
static int next_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n;
    while ((n = getline(buf, cap, f)) >= 0) {
        if (n > 0 && (*buf)[n - 1] == '\n') (*buf)[n - 1] = 0;
        if ((*buf)[0] != '#') return 1;
    }
    return 0;
}

/* "key N v..." with N == want (want < 0: any N up to 100000, *n_out gets it). */
static int parse_head(const char *line, const char *key, int want, int *n_out, const char **rest)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) || line[kl] != ' ') return -1;
    char *e;
    long n = strtol(line + kl + 1, &e, 10);
    if (e == line + kl + 1 || n < 0 || n > 100000 || (want >= 0 && n != want)) return -1;
    if (n_out) *n_out = (int)n;
    *rest = e;
    return 0;
}

static int parse_ints(const char *s, int32_t *out, int n, const char **rest)
{
    for (int i = 0; i < n; i++) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s || v < 0 || v > INT32_MAX) return -1;
        out[i] = (int32_t)v;
        s = e;
    }
    *rest = s;
    return 0;
}

static int parse_doubles(const char *s, double *out, int n, const char **rest)
{
    for (int i = 0; i < n; i++) {
        char *e;
        out[i] = strtod(s, &e);
        if (e == s || !isfinite(out[i])) return -1;
        s = e;
    }
    *rest = s;
    return 0;
}

static int at_end(const char *s) { return s[strspn(s, " \t\r")] == 0; }

/* Returns 0 ok, else the 1-based line number of the first bad line (or -1: cannot open). */
static int read_gold(gold *g)
{
    memset(g->r, 0, sizeof g->r);
    FILE *f = fopen(g->path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int bad = 0, ln = 0, n;
    const char *s;
    if (!next_line(f, &line, &cap) || parse_head(line, "count", NP, NULL, &s) || !at_end(s)) bad = 1;
    for (int k = 0; !bad && k < NP; k++) {
        rec *r = &g->r[k];
        ln = k;
        if (!next_line(f, &line, &cap) || parse_head(line, "prompt", k, NULL, &s) || !at_end(s)) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || strncmp(line, "text ", 5)) { bad = 1; break; }
        json_object *j = json_tokener_parse(line + 5);
        if (!j || !json_object_is_type(j, json_type_string)) { json_object_put(j); bad = 1; break; }
        r->text = strdup(json_object_get_string(j));
        json_object_put(j);
        if (!r->text) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || strncmp(line, "messages ", 9)) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || parse_head(line, "ids", -1, &n, &s) || n < 1) { bad = 1; break; }
        r->n_ids = n;
        r->ids = malloc(sizeof(int32_t) * (size_t)n);
        if (!r->ids || parse_ints(s, r->ids, n, &s) || !at_end(s)) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || parse_head(line, "top", NTOP, NULL, &s)) { bad = 1; break; }
        for (int i = 0; i < NTOP && !bad; i++)
            if (parse_ints(s, &r->top[i], 1, &s) || parse_doubles(s, &r->p[i], 1, &s) || r->p[i] < 0 || r->p[i] > 1 ||
                (i > 0 && r->p[i] > r->p[i - 1]))
                bad = 1;
        if (bad || !at_end(s)) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || parse_head(line, "greedy", NGREEDY, NULL, &s) ||
            parse_ints(s, r->greedy, NGREEDY, &s) || !at_end(s)) { bad = 1; break; }
        if (!next_line(f, &line, &cap) || parse_head(line, "gap", NGREEDY, NULL, &s) ||
            parse_doubles(s, r->gap, NGREEDY, &s) || !at_end(s)) { bad = 1; break; }
    }
    if (!bad && next_line(f, &line, &cap)) bad = 1; /* trailing records */
    free(line);
    fclose(f);
    return bad ? (ln + 1) : 0;
}

static void free_gold(gold *g)
{
    for (int k = 0; k < NP; k++) { free(g->r[k].text); free(g->r[k].ids); }
}

/* The goldens must describe the same prompts, tokenized the same way, and
 * each must be internally consistent (its top-1 is its first greedy token). */
static void check_goldens(gold *g, int ng)
{
    for (int k = 0; k < NP; k++) {
        for (int j = 0; j < ng; j++) {
            const rec *a = &g[0].r[k], *b = &g[j].r[k];
            CHECK_MSG(b->top[0] == b->greedy[0], "%s prompt %d: top-1 %d but greedy starts with %d", g[j].path, k,
                      b->top[0], b->greedy[0]);
            CHECK_MSG(a->text && b->text && !strcmp(a->text, b->text), "%s prompt %d: text differs from %s", g[j].path,
                      k, g[0].path);
            CHECK_MSG(a->n_ids == b->n_ids && !memcmp(a->ids, b->ids, sizeof(int32_t) * (size_t)a->n_ids),
                      "%s prompt %d: ids differ from %s", g[j].path, k, g[0].path);
        }
    }
}

static const char *model_path(char *buf, size_t cap)
{
    const char *c = getenv("BIASDRIFT_CACHE"), *h = getenv("HOME");
    if (c && *c) snprintf(buf, cap, "%s/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", c);
    else if (h && *h) snprintf(buf, cap, "%s/.cache/biasdrift/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", h);
    else return NULL;
    FILE *f = fopen(buf, "rb");
    if (!f) return NULL;
    fclose(f);
    return buf;
}

/* Max abs probability difference over the listed ids of every prompt. */
static double prob_dist(const gold *g, double probs[NP][NTOP * 3], int col)
{
    double worst = 0;
    for (int k = 0; k < NP; k++)
        for (int i = 0; i < NTOP; i++) {
            double d = fabs(probs[k][col * NTOP + i] - g->r[k].p[i]);
            if (!(d <= worst)) worst = d;
        }
    return worst;
}

int main(void)
{
    gold g[3] = {{GOLD "next_token_llamacpp_f32.txt", {{0}}}, {GOLD "next_token_hf.txt", {{0}}},
                 {GOLD "next_token.txt", {{0}}}};
    int ok_gold = 1;
    for (int j = 0; j < 3; j++) {
        int rc = read_gold(&g[j]);
        CHECK_MSG(rc == 0, "%s: %s (prompt record %d)", g[j].path, rc < 0 ? "cannot open" : "malformed", rc);
        if (rc) ok_gold = 0;
    }
    if (ok_gold) check_goldens(g, 3);

    char buf[4096];
    const char *mp = model_path(buf, sizeof buf);
    if (!mp) {
        fprintf(stderr, "SKIP: SmolLM2-135M-Instruct.Q4_1.gguf not found under "
                        "${BIASDRIFT_CACHE:-$HOME/.cache/biasdrift}/smollm2/ (run scripts/fetch_smollm2.sh); "
                        "checked only that the goldens parse and agree\n");
        for (int j = 0; j < 3; j++) free_gold(&g[j]);
        return test_done();
    }
    if (!ok_gold) {
        for (int j = 0; j < 3; j++) free_gold(&g[j]);
        return test_done();
    }

    bd_err err = {0};
    bd_model *m = NULL;
    bd_tok *tok = NULL;
    bd_engine *e = NULL;
    float *logits = NULL;
    static double probs[NP][NTOP * 3]; /* per prompt: the listed ids of each golden */
    if (bd_model_load(mp, &m, &err) || bd_tok_for_model(m, &tok, &err)) {
        CHECK_MSG(0, "%s: %s", mp, err.msg);
        goto done;
    }
    bd_engine_opts eo = {.threads = 2};
    if (bd_engine_new(m, &eo, &e, &err)) { CHECK_MSG(0, "engine: %s", err.msg); goto done; }
    const int V = bd_engine_config(e)->vocab_size;
    CHECK_EQ_INT(V, 49152);
    logits = malloc(sizeof(float) * (size_t)V);
    if (!logits) { CHECK_MSG(0, "out of memory"); goto done; }
    int greedy_ok = 0, greedy_full = 0;
    for (int k = 0; k < NP; k++) {
        const rec *r = &g[0].r[k];
        int32_t *ids = NULL;
        size_t n = 0;
        int trc = bd_tok_encode(tok, r->text, strlen(r->text), BD_TOK_DEFAULT, &ids, &n, &err);
        CHECK_MSG(trc == 0, "prompt %d: tokenize: %s", k, err.msg);
        CHECK_MSG(trc == 0 && n == (size_t)r->n_ids && !memcmp(ids, r->ids, sizeof(int32_t) * n),
                  "prompt %d: biasdrift's ids differ from the golden's (%zu vs %d ids)", k, n, r->n_ids);
        free(ids);

        /* the model is fed the golden ids, so a tokenizer fault is reported
         * once above and does not mask the engine comparison */
        bd_kv *kv = NULL;
        if (bd_engine_kv_new(e, r->n_ids, &kv, &err) || bd_forward(e, kv, r->ids, r->n_ids, logits, 0, &err)) {
            CHECK_MSG(0, "prompt %d: forward: %s", k, err.msg);
            bd_kv_free(kv);
            continue;
        }
        bd_kv_free(kv);
        double mx = logits[0], sum = 0;
        for (int v = 1; v < V; v++) if (logits[v] > mx) mx = logits[v];
        for (int v = 0; v < V; v++) sum += exp((double)logits[v] - mx);
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < NTOP; i++) {
                int32_t id = g[j].r[k].top[i];
                probs[k][j * NTOP + i] = id < V ? exp((double)logits[id] - mx) / sum : -1;
            }

        bd_sampling sm = {.temp = 0, .top_p = 1, .top_k = 0, .seed = 0};
        int32_t *out = NULL;
        int n_out = 0;
        if (bd_generate(e, r->ids, r->n_ids, NGREEDY, &sm, NULL, 0, NULL, NULL, &out, &n_out, &err)) {
            CHECK_MSG(0, "prompt %d: generate: %s", k, err.msg);
            continue;
        }
        CHECK_EQ_INT(n_out, NGREEDY);
        for (int j = 0; j < 2; j++) {
            const rec *gr = &g[j].r[k];
            int upto = NGREEDY, same = n_out == NGREEDY;
            for (int i = 0; i < NGREEDY; i++)
                if (gr->gap[i] < GAP_TOL) { upto = i + 1; break; } /* this step may differ; stop after it */
            for (int i = 0; same && i < upto; i++) {
                if (out[i] == gr->greedy[i]) continue;
                same = 0;
                if (gr->gap[i] < GAP_TOL) { same = 1; break; } /* a near-tie: divergence allowed from here */
                CHECK_MSG(0, "%s prompt %d: greedy step %d: biasdrift %d, golden %d (gap %.4g)", g[j].path, k, i,
                          out[i], gr->greedy[i], gr->gap[i]);
            }
            greedy_ok += same;
            greedy_full += same && upto == NGREEDY;
        }
        free(out);
    }
    for (int j = 0; j < 3; j++) {
        double d = prob_dist(&g[j], probs, j);
        if (j < 2) CHECK_MSG(d <= PROB_TOL, "%s: max abs probability difference %.3g > %g", g[j].path, d, PROB_TOL);
        fprintf(stderr, "%-50s max abs probability difference %.3g%s\n", g[j].path, d,
                j < 2 ? "" : "   (measured only: llama.cpp on Q4_1 rounds activations to 8 bits)");
    }
    fprintf(stderr, "greedy continuations identical: %d of %d (compared in full: %d)\n", greedy_ok, 2 * NP,
            greedy_full);
done:
    free(logits);
    bd_engine_free(e);
    bd_tok_free(tok);
    bd_model_free(m);
    for (int j = 0; j < 3; j++) free_gold(&g[j]);
    return test_done();
}
