#include "runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../stats/stats.h"
#include "benches.h"
#include "../util/sha256.h"
#include "../util/version.h"
#include "progress.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t bd_limit_row(size_t i, size_t n, size_t limit)
{
    if (!limit || limit >= n) return i;
    /* 128-bit free: i < limit < n, both < 2^32 in practice; guard anyway */
    return (size_t)((double)i * (double)n / (double)limit);
}

static const char *cluster_of(const char *groups, const char *label, json_object **hold)
{
    *hold = json_tokener_parse(groups ? groups : "{}");
    json_object *v;
    if (!*hold || !json_object_object_get_ex(*hold, label, &v)) return "";
    return json_object_get_string(v);
}

int bd_limit_rows(const bd_bench_data *d, size_t limit, size_t **rows_out, size_t *n_sel, bd_err *err)
{
    size_t n = d->n, sel = limit > 0 && limit < n ? limit : n;
    size_t *r = malloc((sel ? sel : 1) * sizeof *r);
    if (!r) return bd_oom(err, "rows");
    *rows_out = r;
    *n_sel = sel;
    if (sel == n || !d->def || !d->def->limit_cluster) {
        for (size_t i = 0; i < sel; i++) r[i] = bd_limit_row(i, n, sel);
        return 0;
    }
    /* clusters are runs of equal labels in file order (the published files
     * are grouped that way); start[c] = first row of cluster c */
    size_t *start = malloc((n + 1) * sizeof *start), nc = 0;
    if (!start) { free(r); *rows_out = NULL; return bd_oom(err, "rows"); }
    char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *h;
        const char *c = cluster_of(d->groups[i], d->def->limit_cluster, &h);
        if (!prev || strcmp(prev, c)) {
            start[nc++] = i;
            free(prev);
            prev = strdup(c);
            if (!prev) { json_object_put(h); free(start); free(r); *rows_out = NULL; return bd_oom(err, "rows"); }
        }
        json_object_put(h);
    }
    free(prev);
    start[nc] = n;
    size_t per = (n + nc - 1) / nc;                 /* mean cluster size, rounded up */
    size_t k = (sel + per - 1) / per;               /* clusters to take */
    if (k > nc) k = nc;
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        size_t c = bd_limit_row(j, nc, k), size = start[c + 1] - start[c];
        size_t q = sel / k + (j < sel % k);         /* rows from this cluster */
        if (q > size) q = size;
        for (size_t t = 0; t < q; t++) r[m++] = start[c] + bd_limit_row(t, size, q);
    }
    *n_sel = m;
    free(start);
    return 0;
}

/* ---- one item ----------------------------------------------------------------- */

typedef struct item_ctx {
    const bd_run_env *env;
    int ctx_len;
    int vocab;
    float *buf;          /* vocab floats, or n-1 logprobs */
    size_t buf_n;
    long long tokens;    /* prompt + generated tokens processed */
    int max_tokens;      /* longest sequence seen (for the KV estimate) */
    FILE *verbose;       /* non-NULL: show the next prompt there, then clear */
    const char *bench;   /* for the verbose line */
} item_ctx;

/* --verbose: the exact text and ids the model sees. With a chat template the
 * rendered text already starts with BOS and the tokenizer adds another (the
 * paper's double BOS, metrics.md section 0): say so, since it is easy to miss. */
static void show_prompt(item_ctx *c, const char *text, const int32_t *ids, size_t n)
{
    FILE *f = c->verbose;
    c->verbose = NULL;
    fprintf(f, "verbose: %s: prompt text: \"", c->bench);
    for (const char *p = text; *p; p++) {
        if (*p == '\n') fputs("\\n", f);
        else if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else fputc(*p, f);
    }
    fprintf(f, "\"\nverbose: %s: %zu ids: [", c->bench, n);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", (int)ids[i]);
    fputs("]\n", f);
    int32_t bos = bd_tok_bos(c->env->tok);
    if (n >= 2 && bos >= 0 && ids[0] == bos && ids[1] == bos)
        fprintf(f, "verbose: %s: double BOS (id %d twice): the rendered template starts with BOS and "
                   "the tokenizer adds one, as the paper's code does\n", c->bench, (int)bos);
}

static int grow(item_ctx *c, size_t n, bd_err *err)
{
    if (n <= c->buf_n) return 0;
    float *nb = realloc(c->buf, n * sizeof *nb);
    if (!nb) return bd_oom(err, "buffer");
    c->buf = nb;
    c->buf_n = n;
    return 0;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Per-item sampling seed: the run seed mixed with the item key, so resumed
 * and uninterrupted runs draw the same tokens for every item. */
static uint64_t item_seed(long long seed, const char *key)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return mix64((uint64_t)seed ^ mix64(h));
}

/* A generation ask of n prompt tokens: skip it (with reason) when the
 * prompt does not fit the context, else *max_new = its generation budget.
 * The prompt is never cut; the budget stops at the context end and the item
 * records the reduced budget. Returns *skip. */
static int gen_prepare(item_ctx *c, bd_ask *a, size_t n, int *max_new, int *skip, char *reason, size_t rsz)
{
    a->n_prompt = (int)n;
    if (n == 0 || n >= (size_t)c->ctx_len) {
        snprintf(reason, rsz, "prompt is %zu tokens, it does not fit the model's context (%d) with a new token",
                 n, c->ctx_len);
        *skip = 1;
        return 1;
    }
    *max_new = a->max_new;
    if (n + (size_t)*max_new > (size_t)c->ctx_len) {
        *max_new = c->ctx_len - (int)n;
        a->capped_new = *max_new;
    }
    return 0;
}

/* The generated ids of a prepared ask -> its text and token counts. */
static int gen_done(item_ctx *c, bd_ask *a, const bd_gen_req *rq, bd_err *err)
{
    size_t tl;
    int rc = bd_tok_decode(c->env->tok, rq->out, (size_t)rq->n_out, 0, &a->gen, &tl, err);
    a->n_gen = rq->n_out;
    c->tokens += (long long)rq->n + rq->n_out;
    if (rq->n + rq->n_out > c->max_tokens) c->max_tokens = rq->n + rq->n_out;
    return rc;
}

/* Runs one ask. *skip is set (with reason) when the prompt does not fit.
 * Generation always goes through bd_generate_batch (here with one request),
 * so an item's output is the same whether it is decoded alone or together
 * with others (run_group). */
static int run_ask(item_ctx *c, bd_ask *a, const bd_sampling *samp, int *skip, char *reason, size_t rsz,
                   bd_err *err)
{
    const bd_run_env *env = c->env;
    int32_t *ids = NULL, *seq = NULL;
    size_t n = 0;
    int rc = bd_tok_encode(env->tok, a->text, strlen(a->text), a->tok_flags, &ids, &n, err);
    if (rc) return rc;
    if (c->verbose) show_prompt(c, a->text, ids, n);
    *skip = 0;
    if (a->kind == BD_ASK_SCORE) {
        size_t m = n;
        seq = ids;
        if (a->lmeval) {
            int32_t pre = bd_tok_bos(env->tok) >= 0 ? bd_tok_bos(env->tok) : bd_tok_eos(env->tok);
            if (pre < 0) { free(ids); return bd_fail(err, BD_EUNSUP, "tokenizer has neither BOS nor EOS"); }
            if (!(n > 0 && ids[0] == pre)) {
                seq = malloc((n + 1) * sizeof *seq);
                if (!seq) { free(ids); return bd_oom(err, "tokens"); }
                seq[0] = pre;
                memcpy(seq + 1, ids, n * sizeof *ids);
                m = n + 1;
            }
        }
        a->n_prompt = (int)m;
        if (m < 2) {
            snprintf(reason, rsz, "text has no token to score (%zu token%s)", m, m == 1 ? "" : "s");
            *skip = 1;
        } else if (m > (size_t)c->ctx_len) {
            snprintf(reason, rsz, "text is %zu tokens, longer than the model's context (%d)", m, c->ctx_len);
            *skip = 1;
        } else if (!(rc = grow(c, m - 1, err))) {
            rc = bd_score(env->engine, seq, (int)m, c->buf, err);
            if (!rc) {
                double s = 0;
                for (size_t i = 0; i + 1 < m; i++) s += c->buf[i];
                a->lp_sum = s;
                a->lp_n = (int)m - 1;
                c->tokens += (long long)m;
                if ((int)m > c->max_tokens) c->max_tokens = (int)m;
            }
        }
    } else if (a->kind == BD_ASK_PROBS) {
        a->n_prompt = (int)n;
        int32_t opt[BD_ASK_MAX_OPTS];
        for (int k = 0; k < a->n_opts; k++) {
            opt[k] = bd_tok_token_id(env->tok, a->opts[k]);
            if (opt[k] < 0 || opt[k] >= c->vocab) {
                snprintf(reason, rsz, "the vocabulary has no token \"%s\" (convert_tokens_to_ids would give <unk>)",
                         a->opts[k]);
                *skip = 1;
            }
        }
        if (*skip) {
        } else if (n == 0 || n >= (size_t)c->ctx_len) {
            snprintf(reason, rsz, "prompt is %zu tokens; with the answer token it does not fit the context (%d)",
                     n, c->ctx_len);
            *skip = 1;
        } else if (!(rc = grow(c, (size_t)c->vocab, err))) {
            rc = bd_next_probs(env->engine, ids, (int)n, c->buf, err);
            if (!rc) {
                for (int k = 0; k < a->n_opts; k++) a->p[k] = c->buf[opt[k]];
                c->tokens += (long long)n;
                if ((int)n > c->max_tokens) c->max_tokens = (int)n;
            }
        }
    } else {
        int max_new = 0;
        if (!gen_prepare(c, a, n, &max_new, skip, reason, rsz)) {
            bd_gen_req rq = {ids, (int)n, max_new, *samp, NULL, 0};
            const int32_t *stop;
            int n_stop = bd_tok_eog(env->tok, &stop);
            rc = bd_generate_batch(env->engine, &rq, 1, stop, n_stop, err);
            if (!rc) rc = gen_done(c, a, &rq, err);
            free(rq.out);
        }
    }
    if (seq != ids) free(seq);
    free(ids);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------- */

int bd_run_metrics(bd_store *db, long long run_id, const bd_bench_def *def, bd_err *err)
{
    bd_item *items;
    size_t n;
    int rc = bd_store_items(db, run_id, &items, &n, err);
    if (rc) return rc;
    bd_done_item *di = calloc(n ? n : 1, sizeof *di);
    bd_mitem *mi = calloc(n ? n : 1, sizeof *mi);
    size_t k = 0;
    if (!di || !mi) { rc = bd_oom(err, "items"); goto out; }
    for (size_t i = 0; i < n; i++) {
        if (items[i].skipped) continue;
        di[k] = (bd_done_item){items[i].key, items[i].answer, items[i].scores, items[i].groups};
        mi[k] = (bd_mitem){items[i].key, items[i].answer, items[i].scores, items[i].groups};
        k++;
    }
    bd_metric_def *defs;
    size_t nd;
    if ((rc = def->metrics(di, k, &defs, &nd, err))) goto out;
    for (size_t j = 0; j < nd && !rc; j++) {
        double v = defs[j].value;
        long long nu = defs[j].n;
        if (defs[j].spec && (rc = bd_metric_eval(defs[j].spec, mi, k, &v, &nu, err))) break;
        rc = bd_store_metric_set(db, run_id, defs[j].name, defs[j].grp, v, nu, defs[j].spec, err);
    }
    bd_metric_defs_free(defs, nd);
out:
    free(di);
    free(mi);
    bd_store_items_free(items, n);
    return rc;
}

/* ---- one (bench, template) run ---------------------------------------------------- */

static void decoding_json(const bd_bench_def *def, const bd_ask *probe, int samples, char *out, size_t n)
{
    if (def->sampled)
        snprintf(out, n, "{\"mode\":\"sample\",\"temperature\":1,\"top_k\":0,\"top_p\":1,\"samples\":%d,"
                         "\"max_new_tokens\":%d}", samples, def->max_new);
    else if (def->max_new)
        snprintf(out, n, "{\"mode\":\"greedy\",\"max_new_tokens\":%d}", def->max_new);
    else if (probe && probe->kind == BD_ASK_PROBS)
        snprintf(out, n, "{\"mode\":\"first_token\"}");
    else
        snprintf(out, n, "{\"mode\":\"loglik\"}");
}

static void prompt_hash(const bd_ask *a, int n, char hex[65])
{
    bd_sha256_ctx c;
    bd_sha256_init(&c);
    for (int k = 0; k < n; k++) {
        if (a[k].text) bd_sha256_update(&c, a[k].text, strlen(a[k].text) + 1);
    }
    uint8_t d[32];
    bd_sha256_final(&c, d);
    bd_sha256_to_hex(d, hex);
}

/* An item in flight: its asks, then its outcome. */
typedef struct pend {
    char key[96];
    size_t row;
    bd_sampling samp;
    bd_ask asks[4];
    int na, skip;
    char reason[512];
    bd_item_out out;
    double t0;
} pend;

/* Computes the asks of np items: generation asks together in one
 * bd_generate_batch call, the others one by one; then each item's finish. */
static int run_group(item_ctx *ic, const bd_bench_def *def, bd_bench_data *data, const bd_prompt_ctx *pc, pend *pd,
                     int np, bd_err *err)
{
    const bd_run_env *env = ic->env;
    int rc = 0, nreq = 0, cap = np * 4;
    bd_gen_req *rq = calloc((size_t)cap, sizeof *rq);
    int32_t **ids = calloc((size_t)cap, sizeof *ids);
    bd_ask **who = calloc((size_t)cap, sizeof *who);
    if (!rq || !ids || !who) rc = bd_oom(err, "generation requests");
    double t0 = now_s();
    for (int k = 0; k < np && !rc; k++) {
        pend *it = &pd[k];
        it->t0 = t0;
        rc = def->asks(data, it->row, pc, it->asks, &it->na, err);
        for (int a = 0; a < it->na && !rc && !it->skip; a++) {
            bd_ask *as = &it->asks[a];
            if (as->kind != BD_ASK_GEN) {
                rc = run_ask(ic, as, &it->samp, &it->skip, it->reason, sizeof it->reason, err);
                continue;
            }
            size_t n = 0;
            int32_t *tk = NULL;
            if ((rc = bd_tok_encode(env->tok, as->text, strlen(as->text), as->tok_flags, &tk, &n, err))) break;
            if (ic->verbose) show_prompt(ic, as->text, tk, n);
            int max_new = 0;
            if (gen_prepare(ic, as, n, &max_new, &it->skip, it->reason, sizeof it->reason)) {
                free(tk);
                break;
            }
            ids[nreq] = tk;
            who[nreq] = as;
            rq[nreq] = (bd_gen_req){tk, (int)n, max_new, it->samp, NULL, 0};
            nreq++;
        }
        if (rc) bd_wrap(err, "%s item %s", def->name, it->key);
    }
    if (!rc && nreq) {
        const int32_t *stop;
        int n_stop = bd_tok_eog(env->tok, &stop);
        /* consecutive requests whose caches together fit BD_RUN_KV_BUDGET
         * (at least one): the grouping never changes an output */
        const bd_config *cfg = bd_engine_config(env->engine);
        double per_tok = 2.0 * cfg->n_layers * cfg->n_kv_heads * cfg->head_dim * sizeof(float);
        for (int q0 = 0, q1; q0 < nreq && !rc; q0 = q1) {
            double bytes = 0;
            for (q1 = q0; q1 < nreq; q1++) {
                double b = per_tok * ((double)rq[q1].n + rq[q1].max_new);
                if (q1 > q0 && bytes + b > BD_RUN_KV_BUDGET) break;
                bytes += b;
            }
            rc = bd_generate_batch(env->engine, rq + q0, q1 - q0, stop, n_stop, err);
        }
        for (int q = 0; q < nreq && !rc; q++) rc = gen_done(ic, who[q], &rq[q], err);
    }
    for (int k = 0; k < np && !rc; k++) {
        pend *it = &pd[k];
        /* an item skipped after some of its asks were queued: those results are dropped */
        if (!it->skip) {
            rc = def->finish(data, it->row, it->asks, it->na, &it->out, err);
            if (rc) bd_wrap(err, "%s item %s", def->name, it->key);
        }
    }
    for (int q = 0; q < nreq; q++) { free(ids[q]); free(rq[q].out); }
    free(rq);
    free(ids);
    free(who);
    return rc;
}

/* Stores one computed item (seconds: its share of its group's time). */
static int commit_item(bd_store *db, const bd_bench_def *def, bd_bench_data *data, pend *it,
                       double seconds, bd_run_outcome *res, bd_err *err)
{
    int rc = 0, cap = 0;
    for (int a = 0; a < it->na; a++) cap = it->asks[a].capped_new ? it->asks[a].capped_new : cap;
    if (!it->skip && cap && it->out.scores) {
        json_object *js = json_tokener_parse(it->out.scores);
        if (js) {
            json_object_object_add(js, "max_new_tokens_capped", json_object_new_int(cap));
            free(it->out.scores);
            it->out.scores = bd_json_take(js);
            if (!it->out.scores) return bd_oom(err, "scores");
        }
        res->n_capped++;
    }
    char ph[65];
    prompt_hash(it->asks, it->na, ph);
    int skip = it->skip || it->out.skipped;
    bd_item_in in = {it->key, ph, skip, it->skip ? it->reason : it->out.skip_reason,
                     it->skip ? NULL : it->out.output, it->skip ? NULL : it->out.answer,
                     it->skip ? NULL : it->out.scores, data->groups[it->row], seconds};
    int ins = 0;
    if (in.skipped && !res->reason[0] && in.skip_reason)
        snprintf(res->reason, sizeof res->reason, "%s", in.skip_reason);
    rc = bd_store_item_put(db, res->run_id, &in, &ins, err);
    res->n_new += ins;
    if (rc) bd_wrap(err, "%s item %s", def->name, it->key);
    return rc;
}

static int run_pair_rows(bd_store *db, const bd_run_env *env, const bd_run_opts *o, const bd_bench_def *def,
                         bd_bench_data *data, int template_on, const size_t *pick, size_t sel, long limit,
                         bd_run_outcome *res, bd_err *err)
{
    bd_prompt_ctx pc = {template_on, env->chat_template, env->bos_str ? env->bos_str : "",
                        env->eos_str ? env->eos_str : ""};
    if (template_on && !def->template_on_ok) {
        res->skipped = 1;
        snprintf(res->reason, sizeof res->reason,
                 "%s scores the raw sentences (the paper uses no prompt); template mode 'on' does not apply", def->name);
        return 0;
    }
    if (template_on && !pc.chat_template) {
        res->skipped = 1;
        snprintf(res->reason, sizeof res->reason, "template mode 'on': the model has no chat template");
        return 0;
    }
    size_t rows = data->n;
    int samples = def->sampled ? (o->samples > 0 ? o->samples : 5) : 1;
    res->n_rows = (long)sel;

    /* Probe a row: the decoding description, and option tokens the vocabulary
     * lacks (then every item would be skipped: skip the pair instead). */
    bd_ask probe[4];
    memset(probe, 0, sizeof probe);
    int np = 0, rc;
    if (rows == 0) {
        res->skipped = 1;
        snprintf(res->reason, sizeof res->reason, "the dataset has no rows");
        return 0;
    }
    /* the first row that asks anything (a row may be skipped by its bench) */
    for (size_t r = 0; r < rows && r < 64 && np == 0; r++) {
        if ((rc = def->asks(data, r, &pc, probe, &np, err))) return rc;
    }
    for (int k = 0; k < np && !res->skipped; k++)
        for (int j = 0; j < probe[k].n_opts; j++)
            if (bd_tok_token_id(env->tok, probe[k].opts[j]) < 0) {
                res->skipped = 1;
                snprintf(res->reason, sizeof res->reason,
                         "the tokenizer has no single vocabulary token \"%s\" to read the answer from "
                         "(transformers' convert_tokens_to_ids would silently give <unk>)", probe[k].opts[j]);
                break;
            }
    char decoding[256];
    decoding_json(def, np ? &probe[0] : NULL, samples, decoding, sizeof decoding);
    for (int k = 0; k < np; k++) bd_ask_clear(&probe[k]);
    if (res->skipped) return 0;

    char dsha[65];
    if ((rc = bd_bench_data_sha256(data, dsha, err))) return rc;
    bd_run_key key = {env->model_digest, env->model_name, env->accel, def->name, dsha,
                      template_on ? "on" : "off", decoding, def->sampled ? o->seed : 0, env->compute, BD_VERSION};
    int created;
    if ((rc = bd_store_run_get_or_create(db, &key, &res->run_id, &created, err))) return rc;
    /* time and tokens of earlier invocations of a resumed run (whatever a
     * killed invocation did after its items were stored is not counted) */
    double prev_s = 0, prev_tok = 0;
    if (!created) {
        bd_run_info pi;
        memset(&pi, 0, sizeof pi);
        if ((rc = bd_store_run_get(db, res->run_id, &pi, err))) return rc;
        json_object *pm = json_tokener_parse(pi.meta ? pi.meta : "{}"), *v;
        if (pm && json_object_object_get_ex(pm, "seconds", &v)) prev_s = json_object_get_double(v);
        if (pm && json_object_object_get_ex(pm, "tokens", &v)) prev_tok = json_object_get_double(v);
        json_object_put(pm);
        bd_run_info_clear(&pi);
    }
    bd_keyset done = {0};
    if ((rc = bd_store_done_keys(db, res->run_id, &done, err))) return rc;

    const bd_config *cfg = bd_engine_config(env->engine);
    item_ctx ic = {env, cfg->max_seq, cfg->vocab_size, NULL, 0, 0, 0,
                   o->verbose ? (o->log ? o->log : stderr) : NULL, def->name};
    size_t total = sel * (size_t)samples, todo = 0;
    for (size_t i = 0; i < sel; i++) {
        size_t r = pick[i];
        for (int s = 0; s < samples; s++) {
            char k[96];
            if (def->sampled) snprintf(k, sizeof k, "%s#s%d", data->keys[r], s);
            else snprintf(k, sizeof k, "%s", data->keys[r]);
            todo += !bd_keyset_has(&done, k);
        }
    }
    char label[128];
    snprintf(label, sizeof label, "%s [%s]", def->name, template_on ? "template on" : "template off");
    bd_progress pg;
    bd_progress_start(&pg, o->progress ? o->log : NULL, label, (long)(total - todo), (long)total);
    double t0 = now_s();
    /* Items of a generation benchmark are decoded in groups (bd_generate_batch):
     * the same outputs as one at a time, several times the speed. */
    int group = def->max_new > 0 && bd_engine_can_batch(env->engine) ? (o->batch > 0 ? o->batch : BD_RUN_BATCH) : 1;
    pend *pd = calloc((size_t)group, sizeof *pd);
    if (!pd) rc = bd_oom(err, "items");
    size_t gi = 0;
    while (!rc) {
        /* the next group of items not yet in the database, in order */
        int np = 0;
        for (; gi < sel * (size_t)samples && np < group; gi++) {
            size_t r = pick[gi / (size_t)samples];
            int smp = (int)(gi % (size_t)samples);
            pend *it = &pd[np];
            memset(it, 0, sizeof *it);
            if (def->sampled) snprintf(it->key, sizeof it->key, "%s#s%d", data->keys[r], smp);
            else snprintf(it->key, sizeof it->key, "%s", data->keys[r]);
            if (bd_keyset_has(&done, it->key)) continue;
            it->row = r;
            it->samp = (bd_sampling){def->sampled ? 1.0f : 0, 1, 0, item_seed(o->seed, it->key)};
            np++;
        }
        if (!np) break;
        rc = run_group(&ic, def, data, &pc, pd, np, err);
        double share = np ? (now_s() - pd[0].t0) / np : 0;
        for (int k = 0; k < np; k++) {
            pend *it = &pd[k];
            if (!rc) rc = commit_item(db, def, data, it, share, res, err);
            for (int a = 0; a < it->na; a++) bd_ask_clear(&it->asks[a]);
            bd_item_out_clear(&it->out);
            if (!rc) bd_progress_step(&pg);
        }
    }
    free(pd);
    bd_progress_end(&pg);
    bd_keyset_free(&done);
    res->seconds = now_s() - t0;
    res->tokens_per_s = res->seconds > 0 ? (double)ic.tokens / res->seconds : 0;
    free(ic.buf);
    if (rc) return rc;
    /* Speed and memory, summed over the invocations of a resumed run. */
    if (ic.tokens > 0) {
        size_t kv_tok = (size_t)2 * (size_t)cfg->n_layers * (size_t)cfg->n_kv_heads * (size_t)cfg->head_dim * sizeof(float);
        double tot_s = prev_s + res->seconds, tot_tok = prev_tok + (double)ic.tokens;
        if ((rc = bd_store_run_meta_set_num(db, res->run_id, "tokens_per_s", tot_s > 0 ? tot_tok / tot_s : 0, err)) ||
            (rc = bd_store_run_meta_set_num(db, res->run_id, "tokens", tot_tok, err)) ||
            (rc = bd_store_run_meta_set_num(db, res->run_id, "seconds", tot_s, err)) ||
            (rc = bd_store_run_meta_set_num(db, res->run_id, "kv_bytes_per_token", (double)kv_tok, err)) ||
            (rc = bd_store_run_meta_set_num(db, res->run_id, "kv_bytes_peak", (double)kv_tok * ic.max_tokens, err)))
            return rc;
    }
    if ((rc = bd_store_run_meta_set_num(db, res->run_id, "weight_bytes", (double)bd_model_weight_bytes(env->model), err)) ||
        (rc = bd_store_run_meta_set_num(db, res->run_id, "limit", (double)limit, err)) ||
        (rc = bd_store_run_meta_set_num(db, res->run_id, "rows", (double)rows, err)) ||
        (rc = bd_store_run_meta_set_num(db, res->run_id, "items_planned", (double)total, err)) ||
        (res->n_capped && (rc = bd_store_run_meta_set_num(db, res->run_id, "items_gen_capped_by_context",
                                                          (double)res->n_capped, err))))
        return rc;
    if ((rc = bd_run_metrics(db, res->run_id, def, err))) return rc;
    bd_run_info info;
    memset(&info, 0, sizeof info);
    if ((rc = bd_store_run_get(db, res->run_id, &info, err))) return rc;
    res->n_items = info.n_items;
    res->n_ok = info.n_ok;
    res->n_item_skipped = info.n_skipped;
    bd_run_info_clear(&info);
    return bd_store_run_complete(db, res->run_id, err);
}

static int run_pair(bd_store *db, const bd_run_env *env, const bd_run_opts *o, const bd_bench_def *def,
                    bd_bench_data *data, int template_on, bd_run_outcome *res, bd_err *err)
{
    long limit = def->max_new && o->gen_limit > 0 ? o->gen_limit : o->limit;
    size_t *pick, sel;
    int rc = bd_limit_rows(data, limit > 0 ? (size_t)limit : 0, &pick, &sel, err);
    if (rc) return rc;
    rc = run_pair_rows(db, env, o, def, data, template_on, pick, sel, limit, res, err);
    free(pick);
    return rc;
}

/* ---- the bench list ------------------------------------------------------------------ */

static int push_outcome(bd_run_outcome **v, size_t *n, size_t *cap, bd_run_outcome **slot, bd_err *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        bd_run_outcome *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return bd_oom(err, "outcomes");
        *v = nv;
        *cap = nc;
    }
    *slot = &(*v)[(*n)++];
    memset(*slot, 0, sizeof **slot);
    return 0;
}

int bd_run(bd_store *db, const bd_run_env *env, const bd_run_opts *o, bd_run_outcome **outcomes,
           size_t *n_outcomes, bd_err *err)
{
    *outcomes = NULL;
    *n_outcomes = 0;
    const char *tm = o->template_mode ? o->template_mode : "paper";
    if (!o->benches || !o->data_dir) return bd_fail(err, BD_EINPUT, "run: no benchmark list or data folder given");
    if (strcmp(tm, "paper") && strcmp(tm, "on") && strcmp(tm, "off") && strcmp(tm, "both"))
        return bd_fail(err, BD_EINPUT, "--template %s: expected paper, on, off or both", tm);
    /* resolve the list */
    const bd_bench_def *list[32];
    int nl = 0;
    if (!strcmp(o->benches, "all")) {
        size_t na;
        const bd_bench_def *const *all = bd_benches(&na);
        for (size_t i = 0; i < na && nl < 32; i++) list[nl++] = all[i];
    } else {
        char *dup = strdup(o->benches), *save = NULL;
        if (!dup) return bd_oom(err, "bench list");
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            const bd_bench_def *d = bd_bench_find(t);
            if (!d) {
                size_t na;
                const bd_bench_def *const *all = bd_benches(&na);
                char names[1024] = "";
                for (size_t i = 0; i < na; i++) {
                    strncat(names, all[i]->name, sizeof names - strlen(names) - 1);
                    if (i + 1 < na) strncat(names, ", ", sizeof names - strlen(names) - 1);
                }
                int rc = bd_fail(err, BD_EINPUT, "--bench: unknown benchmark '%s' (known: %s, all)", t, names);
                free(dup);
                return rc;
            }
            int seen = 0;
            for (int i = 0; i < nl; i++) seen |= list[i] == d;
            if (!seen && nl < 32) list[nl++] = d;
        }
        free(dup);
    }
    if (nl == 0) return bd_fail(err, BD_EINPUT, "--bench: no benchmark given");
    bd_run_outcome *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (int b = 0; b < nl && !rc; b++) {
        const bd_bench_def *def = list[b];
        int modes[2], nm = 0;
        if (!strcmp(tm, "paper")) modes[nm++] = !strcmp(def->paper_template, "on");
        else if (!strcmp(tm, "on")) modes[nm++] = 1;
        else if (!strcmp(tm, "off")) modes[nm++] = 0;
        else { modes[nm++] = 0; modes[nm++] = 1; }
        bd_bench_data *data = NULL;
        bd_err lerr = {0};
        int lrc = bd_bench_load(def, o->data_dir, &data, &lerr);
        if (lrc && nl == 1) { *err = lerr; rc = lrc; break; }
        for (int m = 0; m < nm && !rc; m++) {
            bd_run_outcome *res = NULL;
            if ((rc = push_outcome(&v, &n, &cap, &res, err))) break;
            snprintf(res->bench, sizeof res->bench, "%s", def->name);
            snprintf(res->template_mode, sizeof res->template_mode, "%s", modes[m] ? "on" : "off");
            if (lrc) {
                res->skipped = 1;
                snprintf(res->reason, sizeof res->reason, "%s", lerr.msg);
                continue;
            }
            rc = run_pair(db, env, o, def, data, modes[m], res, err);
            if (o->log && res->skipped)
                fprintf(o->log, "%s [template %s]: skipped: %s\n", res->bench, res->template_mode, res->reason);
        }
        bd_bench_data_free(data);
    }
    if (rc) { free(v); return rc; }
    *outcomes = v;
    *n_outcomes = n;
    return 0;
}

int bd_run_print_summary(FILE *f, bd_store *db, const bd_run_outcome *o, size_t n, bd_err *err)
{
    fprintf(f, "%-24s %-8s %7s %7s %9s  %s\n", "benchmark", "template", "items", "skipped", "tokens/s", "metrics");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%-24s %-8s ", o[i].bench, o[i].template_mode);
        if (o[i].skipped) {
            fprintf(f, "%7s %7s %9s  skipped: %s\n", "-", "-", "-", o[i].reason);
            continue;
        }
        if (o[i].n_new) fprintf(f, "%7ld %7ld %9.0f  ", o[i].n_ok, o[i].n_item_skipped, o[i].tokens_per_s);
        else fprintf(f, "%7ld %7ld %9s  ", o[i].n_ok, o[i].n_item_skipped, "resumed");
        bd_metric_row *rows;
        size_t nr;
        int rc = bd_store_metrics(db, o[i].run_id, &rows, &nr, err);
        if (rc) return rc;
        int first = 1, overall = 0;
        for (size_t j = 0; j < nr; j++) overall |= !rows[j].grp[0];
        for (size_t j = 0; j < nr; j++) {
            /* overall values; a benchmark with none (discrim_eval_gen) shows
             * its one-label breakdowns */
            if (overall ? rows[j].grp[0] != 0 : (strchr(rows[j].grp, ',') != NULL)) continue;
            if (rows[j].grp[0]) fprintf(f, "%s%s[%s]=", first ? "" : ", ", rows[j].name, rows[j].grp);
            else fprintf(f, "%s%s=", first ? "" : ", ", rows[j].name);
            if (isfinite(rows[j].value)) fprintf(f, "%.4g", rows[j].value);
            else fprintf(f, "n/a");
            first = 0;
        }
        if (o[i].n_capped)
            fprintf(f, " [%ld items: generation stopped at the context end, recorded]", o[i].n_capped);
        if (o[i].n_item_skipped)
            fprintf(f, "%s[%s skipped%s%s]", first ? "" : " ", o[i].n_ok ? "some items" : "every item",
                    o[i].reason[0] ? ", e.g.: " : "", o[i].reason);
        fputc('\n', f);
        bd_store_metrics_free(rows, nr);
    }
    return 0;
}
