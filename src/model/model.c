/* bd_model: format dispatch, the tensor table, the checks every loader shares
 * (config sanity, tensor presence, dtypes and shapes), and the summaries. */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/sha256.h"
#include "gguf.h"
#include "model_int.h"

/* Upper bounds that keep every derived size (dim * vocab, n_heads * head_dim,
 * ...) far from int overflow while admitting any real LLaMA-family model. */
#define MAX_DIM (1 << 17)
#define MAX_VOCAB (1 << 22)
#define MAX_LAYERS 1024
#define MAX_HEADS 4096
#define MAX_SEQ (1 << 24)

const char *bd_format_name(bd_format f)
{
    switch (f) {
    case BD_FMT_HF: return "hf";
    case BD_FMT_GGUF: return "gguf";
    case BD_FMT_LLAMA2C: return "llama2c";
    case BD_FMT_BDQ: return "bdq";
    }
    return "?";
}

bd_tensor *bd_model_add(bd_model *m, const char *name, bd_dtype dt, int ndim, const int64_t *shape,
                        const void *data, size_t nbytes, bd_err *err)
{
    if (ndim < 1 || ndim > 4) {
        bd_fail(err, BD_EINPUT, "%s: tensor '%s': %d dimensions, expected 1..4", m->path, name, ndim);
        return NULL;
    }
    if (strlen(name) >= sizeof m->tensors[0].name) {
        bd_fail(err, BD_EINPUT, "%s: tensor name '%.60s...' longer than %zu characters", m->path, name,
                sizeof m->tensors[0].name - 1);
        return NULL;
    }
    int n = m->n_tensors;
    if (n >= BD_MAX_TENSORS) {
        bd_fail(err, BD_EINPUT, "%s: more than %d tensors", m->path, BD_MAX_TENSORS);
        return NULL;
    }
    /* capacity: powers of two, tracked implicitly by n_tensors */
    if ((n & (n - 1)) == 0) {
        int cap = n ? 2 * n : 16;
        bd_tensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            bd_oom(err, "tensor table");
            return NULL;
        }
        m->tensors = t;
    }
    bd_tensor *t = &m->tensors[n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->data = data;
    t->nbytes = nbytes;
    m->n_tensors = n + 1;
    return t;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const bd_tensor *x = *(bd_tensor *const *)a, *y = *(bd_tensor *const *)b;
    return strcmp(x->name, y->name);
}

int bd_name_index_build(bd_model *m, const char *src, bd_name_index *ix, bd_err *err)
{
    ix->n = m->n_tensors;
    ix->v = malloc((size_t)(ix->n ? ix->n : 1) * sizeof *ix->v);
    if (!ix->v) return bd_oom(err, "tensor index");
    for (int i = 0; i < ix->n; i++) ix->v[i] = &m->tensors[i];
    qsort(ix->v, (size_t)ix->n, sizeof *ix->v, cmp_tensor_name);
    for (int i = 1; i < ix->n; i++)
        if (!strcmp(ix->v[i]->name, ix->v[i - 1]->name)) {
            int rc = bd_fail(err, BD_EINPUT, "%s: tensor '%s' appears in more than one file", src, ix->v[i]->name);
            bd_name_index_free(ix);
            return rc;
        }
    return 0;
}

bd_tensor *bd_name_index_find(const bd_name_index *ix, const char *name)
{
    int lo = 0, hi = ix->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(ix->v[mid]->name, name);
        if (!c) return ix->v[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

void bd_name_index_free(bd_name_index *ix)
{
    free(ix->v);
    ix->v = NULL;
    ix->n = 0;
}

int bd_model_map(bd_model *m, const char *path, const uint8_t **base, size_t *size, bd_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bd_fail(err, BD_EINPUT, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    void *p = NULL;
    if (n) {
        p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return bd_fail(err, BD_EIO, "%s: mmap failed: %s", path, strerror(e));
        }
    }
    close(fd);
    bd_mapping *mp = realloc(m->maps, (size_t)(m->n_maps + 1) * sizeof *mp);
    if (!mp) {
        if (p) munmap(p, n);
        return bd_oom(err, "mapping table");
    }
    m->maps = mp;
    m->maps[m->n_maps].addr = p;
    m->maps[m->n_maps].len = n;
    m->n_maps++;
    *base = p;
    *size = n;
    return 0;
}

int bd_read_small_file(const char *path, size_t max, char **out, size_t *len, bd_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return bd_fail(err, BD_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return bd_fail(err, BD_EINPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return bd_fail(err, BD_EINPUT, "%s: %lld bytes, more than the %zu this file may have", path,
                       (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return bd_oom(err, path);
    }
    if (fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return bd_fail(err, BD_EIO, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

static int check_range(const char *src, const char *what, long long v, long long lo, long long hi, bd_err *err)
{
    if (v < lo || v > hi)
        return bd_fail(err, BD_EINPUT, "%s: %s is %lld, expected %lld..%lld", src, what, v, lo, hi);
    return 0;
}

static int check_tensor(const char *src, const char *role, const bd_tensor *t, int64_t d0, int64_t d1,
                        bd_err *err)
{
    if (!t) return bd_fail(err, BD_EINPUT, "%s: missing tensor for %s", src, role);
    int want_nd = d1 ? 2 : 1;
    /* 1-D norm vectors are sometimes stored as [1, n]; accept only the exact shape */
    int ok = t->ndim == want_nd && t->shape[0] == d0 && (!d1 || t->shape[1] == d1);
    if (!ok) {
        char got[96] = "";
        size_t k = 0;
        for (int i = 0; i < t->ndim && k < sizeof got - 24; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (d1)
            return bd_fail(err, BD_EINPUT, "%s: tensor '%s' (%s): shape [%s], expected [%lld, %lld]", src, t->name,
                           role, got, (long long)d0, (long long)d1);
        return bd_fail(err, BD_EINPUT, "%s: tensor '%s' (%s): shape [%s], expected [%lld]", src, t->name, role,
                       got, (long long)d0);
    }
    if (!d1 && t->dtype != BD_F32 && t->dtype != BD_F16 && t->dtype != BD_BF16)
        return bd_fail(err, BD_EUNSUP, "%s: tensor '%s' (%s): dtype %s, expected f32, f16 or bf16 for a norm",
                       src, t->name, role, bd_dtype_name(t->dtype));
    if (t->dtype != BD_PACKED && t->ndim >= 1 && t->shape[t->ndim - 1] % bd_dtype_block_elems(t->dtype))
        return bd_fail(err, BD_EINPUT, "%s: tensor '%s': row length %lld not a multiple of the %s block", src,
                       t->name, (long long)t->shape[t->ndim - 1], bd_dtype_name(t->dtype));
    return 0;
}

int bd_model_check(bd_model *m, const char *src, bd_err *err)
{
    bd_config *c = &m->cfg;
    int rc;
    if ((rc = check_range(src, "hidden size (dim)", c->dim, 1, MAX_DIM, err)) ||
        (rc = check_range(src, "intermediate size", c->hidden_dim, 1, 8 * MAX_DIM, err)) ||
        (rc = check_range(src, "layer count", c->n_layers, 1, MAX_LAYERS, err)) ||
        (rc = check_range(src, "attention head count", c->n_heads, 1, MAX_HEADS, err)) ||
        (rc = check_range(src, "key/value head count", c->n_kv_heads, 1, c->n_heads, err)) ||
        (rc = check_range(src, "head_dim", c->head_dim, 2, 4096, err)) ||
        (rc = check_range(src, "vocab size", c->vocab_size, 1, MAX_VOCAB, err)) ||
        (rc = check_range(src, "context length", c->max_seq, 1, MAX_SEQ, err)) ||
        (rc = check_range(src, "rope dimension count", c->rope_dim, 2, c->head_dim, err)))
        return rc;
    if (c->n_heads % c->n_kv_heads)
        return bd_fail(err, BD_EINPUT, "%s: %d attention heads is not a multiple of %d key/value heads", src,
                       c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 || c->rope_dim % 2)
        return bd_fail(err, BD_EINPUT, "%s: head_dim %d and rope dimension %d must be even", src, c->head_dim,
                       c->rope_dim);
    if ((int64_t)c->n_heads * c->head_dim > 4 * (int64_t)MAX_DIM)
        return bd_fail(err, BD_EINPUT, "%s: %d heads x head_dim %d is too large", src, c->n_heads, c->head_dim);
    if (!(c->norm_eps > 0 && c->norm_eps < 1))
        return bd_fail(err, BD_EINPUT, "%s: rms norm epsilon %g, expected in (0, 1)", src, (double)c->norm_eps);
    if (!(c->rope_theta > 1 && c->rope_theta < 1e12f))
        return bd_fail(err, BD_EINPUT, "%s: rope theta %g, expected in (1, 1e12)", src, (double)c->rope_theta);
    if (c->rope_type == 1 &&
        !(c->rope_factor >= 1 && c->rope_low_freq > 0 && c->rope_high_freq > c->rope_low_freq &&
          c->rope_orig_max > 0))
        return bd_fail(err, BD_EINPUT,
                       "%s: llama3 rope scaling: factor %g, low_freq_factor %g, high_freq_factor %g, "
                       "original_max_position_embeddings %d; expected factor >= 1, 0 < low < high, orig > 0",
                       src, (double)c->rope_factor, (double)c->rope_low_freq, (double)c->rope_high_freq,
                       c->rope_orig_max);
    if (c->bos_id >= c->vocab_size || c->eos_id >= c->vocab_size)
        return bd_fail(err, BD_EINPUT, "%s: bos id %d / eos id %d outside the vocabulary of %d", src, c->bos_id,
                       c->eos_id, c->vocab_size);
    int64_t dim = c->dim, qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim,
            hid = c->hidden_dim, voc = c->vocab_size;
    if ((rc = check_tensor(src, "token embeddings", m->tok_embd, voc, dim, err)) ||
        (rc = check_tensor(src, "output norm", m->out_norm, dim, 0, err)) ||
        (rc = check_tensor(src, "output head", m->output, voc, dim, err)))
        return rc;
    if (!m->layers) return bd_fail(err, BD_EINPUT, "%s: no layers bound", src);
    for (int l = 0; l < c->n_layers; l++) {
        bd_layer *L = &m->layers[l];
        char r[9][48];
        const char *nm[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                             "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
        for (int i = 0; i < 9; i++) snprintf(r[i], sizeof r[i], "layer %d %s", l, nm[i]);
        if ((rc = check_tensor(src, r[0], L->attn_norm, dim, 0, err)) ||
            (rc = check_tensor(src, r[1], L->wq, qd, dim, err)) ||
            (rc = check_tensor(src, r[2], L->wk, kvd, dim, err)) ||
            (rc = check_tensor(src, r[3], L->wv, kvd, dim, err)) ||
            (rc = check_tensor(src, r[4], L->wo, dim, qd, err)) ||
            (rc = check_tensor(src, r[5], L->ffn_norm, dim, 0, err)) ||
            (rc = check_tensor(src, r[6], L->w_gate, hid, dim, err)) ||
            (rc = check_tensor(src, r[7], L->w_down, dim, hid, err)) ||
            (rc = check_tensor(src, r[8], L->w_up, hid, dim, err)))
            return rc;
    }
    return 0;
}

/* What the path is: a directory is an HF folder; a file starting with "GGUF"
 * is GGUF; anything else is tried as a llama2.c checkpoint, whose loader
 * explains what it expected when the header does not fit. */
int bd_model_load(const char *path, bd_model **out, bd_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return bd_fail(err, BD_EINPUT, "%s: cannot open model: %s", path, strerror(errno));
    bd_model *m = calloc(1, sizeof *m);
    if (!m) return bd_oom(err, "model");
    if (strlen(path) >= sizeof m->path) {
        free(m);
        return bd_fail(err, BD_EINPUT, "%.100s...: path too long", path);
    }
    snprintf(m->path, sizeof m->path, "%s", path);
    m->cfg.bos_id = m->cfg.eos_id = -1;
    int rc;
    /* a file inside an HF folder (config.json, *.safetensors, the index) means the folder */
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    int hf_file = S_ISREG(st.st_mode) &&
                  (!strcmp(base, "config.json") || (bl > 12 && !strcmp(base + bl - 12, ".safetensors")) ||
                   (bl > 23 && !strcmp(base + bl - 23, ".safetensors.index.json")));
    if (S_ISDIR(st.st_mode)) {
        m->format = BD_FMT_HF;
        rc = bd_load_hf(m, path, err);
    } else if (hf_file) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        m->format = BD_FMT_HF;
        rc = bd_load_hf(m, dir, err);
    } else if (S_ISREG(st.st_mode)) {
        unsigned char magic[4] = {0};
        FILE *f = fopen(path, "rb");
        if (!f) {
            rc = bd_fail(err, BD_EINPUT, "%s: cannot open model: %s", path, strerror(errno));
        } else {
            size_t k = fread(magic, 1, 4, f);
            fclose(f);
            if (k == 4 && !memcmp(magic, "GGUF", 4)) {
                m->format = BD_FMT_GGUF;
                rc = bd_load_gguf(m, path, err);
            } else {
                m->format = BD_FMT_LLAMA2C;
                rc = bd_load_llama2c(m, path, err);
            }
        }
    } else {
        rc = bd_fail(err, BD_EINPUT, "%s: neither a model file nor an HF model folder", path);
    }
    if (rc) {
        bd_model_free(m);
        return rc;
    }
    if (m->cfg.n_eos == 0 && m->cfg.eos_id >= 0) {
        m->cfg.n_eos = 1;
        m->cfg.eos_ids[0] = m->cfg.eos_id;
    }
    *out = m;
    return 0;
}

void bd_model_free(bd_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++) {
        bd_tensor *t = &m->tensors[i];
        if (t->ops && t->ops->free) t->ops->free(t);
        else if (t->owned) free((void *)t->data);
    }
    free(m->tensors);
    free(m->layers);
    for (int i = 0; i < m->n_maps; i++)
        if (m->maps[i].addr) munmap(m->maps[i].addr, m->maps[i].len);
    free(m->maps);
    bd_gguf_close(m->gguf);
    free(m->chat_template);
    free(m);
}

bd_tensor *bd_model_tensor(bd_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

size_t bd_model_weight_bytes(const bd_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) n += m->tensors[i].nbytes;
    return n;
}

int64_t bd_model_param_count(const bd_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) n += bd_tensor_nelem(&m->tensors[i]);
    return n;
}

int bd_model_digest(bd_model *m, bd_err *err)
{
    bd_sha256_ctx c;
    bd_sha256_init(&c);
    if (m->gguf) {
        bd_sha256_update(&c, m->gguf->base, m->gguf->size);
    } else {
        if (m->n_maps == 0) return bd_fail(err, BD_EFAIL, "%s: no weight files to digest", m->path);
        for (int i = 0; i < m->n_maps; i++) bd_sha256_update(&c, m->maps[i].addr, m->maps[i].len);
        if (m->format == BD_FMT_HF) {
            char p[4200], *buf;
            size_t n;
            snprintf(p, sizeof p, "%s/config.json", m->path);
            int rc = bd_read_small_file(p, 1 << 20, &buf, &n, err);
            if (rc) return rc;
            bd_sha256_update(&c, buf, n);
            free(buf);
        }
    }
    uint8_t d[32];
    bd_sha256_final(&c, d);
    bd_sha256_to_hex(d, m->digest);
    return 0;
}
