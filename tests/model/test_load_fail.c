/* bd_model_load on corrupt, truncated and hostile copies of the real
 * stories260K files (llama2.c, GGUF model-level metadata, HF config.json,
 * safetensors headers and shard indexes): each fails with BD_EINPUT or
 * BD_EUNSUP and a message naming the file and the key / offset / tensor; plus
 * the positive variants (untied llama2.c, eos lists, llama3 rope scaling,
 * chat templates, shards). Run under SAN=1 as well. */
#include "../test.h"
#include "mk.h"
#include "model/model.h"

static char *dir;
static char path_[512];

static const char *tp(const char *name)
{
    snprintf(path_, sizeof path_, "%s/%s", dir, name);
    return path_;
}

static void expect_fail(const char *path, int code, const char *name_in_msg, const char *want)
{
    bd_model *m = NULL;
    bd_err err = {0};
    int rc = bd_model_load(path, &m, &err);
    CHECK_ERR(rc, err, code, name_in_msg, want);
    CHECK(m == NULL);
    if (m) bd_model_free(m);
}

static bd_model *expect_ok(const char *path)
{
    bd_model *m = NULL;
    bd_err err = {0};
    int rc = bd_model_load(path, &m, &err);
    CHECK_MSG(rc == 0, "%s: %s", path, err.msg);
    return m;
}

/* ---------- llama2.c ---------- */
static void test_llama2c(void)
{
    tbuf orig = tb_load(S260 "stories260K.bin");
    const char *p = tp("m.bin");
    size_t cuts[] = {0, 3, 27, 28, 100, 131100, 1056539};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        tb_write(p, orig.p, cuts[i]);
        expect_fail(p, BD_EINPUT, p, cuts[i] < 28 ? "too short" : "bytes, but a llama2.c checkpoint");
    }
    tbuf b = tb_dup(orig);
    b.p = realloc(b.p, orig.n + 4);
    memset(b.p + orig.n, 0, 4);
    tb_write(p, b.p, orig.n + 4);
    expect_fail(p, BD_EINPUT, p, "is 1056540 bytes");
    struct { int field; int32_t v; const char *want; } muts[] = {
        {0, 0, "offset 0: not a GGUF file"}, {3, 0, "n_heads is 0"}, {4, 3, "not a multiple of n_kv_heads 3"},
        {0, 63, "dim 63 is not a multiple of n_heads 8"}, {5, INT32_MIN, "vocab_size"},
        {2, 100000, "n_layers is 100000"}, {6, -1, "seq_len"}, {4, 16, "n_kv_heads"},
        {1, 171, "bytes, but a llama2.c"}};
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        memcpy(b.p, orig.p, orig.n);
        put_u32(b.p + 4 * muts[i].field, (uint32_t)muts[i].v);
        tb_write(p, b.p, orig.n);
        expect_fail(p, BD_EINPUT, p, muts[i].want);
    }
    /* llama2.c export v1 (magic "ak42") */
    memcpy(b.p, orig.p, orig.n);
    put_u32(b.p, 0x616b3432u);
    put_u32(b.p + 4, 1);
    tb_write(p, b.p, orig.n);
    expect_fail(p, BD_EUNSUP, p, "llama2.c export version 1 (magic ak42)");
    /* text file: none of the formats fits */
    tb_write(p, "hello, this is not a model at all\n", 34);
    expect_fail(p, BD_EINPUT, p, "not a GGUF file (no 'GGUF' magic), not an HF folder");
    expect_fail(tp("does-not-exist.bin"), BD_EINPUT, "does-not-exist.bin", "cannot open");

    /* untied: negative vocab_size and a classifier appended after freq_cis */
    memcpy(b.p, orig.p, orig.n);
    put_u32(b.p + 20, (uint32_t)-512);
    size_t cls = 512 * 64 * 4;
    b.p = realloc(b.p, orig.n + cls);
    for (size_t i = 0; i < cls / 4; i++) {
        float f = (float)i * 1e-4f;
        memcpy(b.p + orig.n + 4 * i, &f, 4);
    }
    tb_write(p, b.p, orig.n + cls);
    bd_model *m = expect_ok(p);
    if (m) {
        CHECK_EQ_INT(m->cfg.tied, 0);
        CHECK_EQ_INT(m->cfg.vocab_size, 512);
        CHECK(m->output != m->tok_embd && m->output->shape[0] == 512 && m->output->shape[1] == 64);
        CHECK(m->output && !memcmp(m->output->data, b.p + orig.n, cls));
        bd_model_free(m);
    }
    free(b.p);
    free(orig.p);
    unlink(p);
}

/* ---------- GGUF model-level ---------- */
static uint8_t *find_bytes(tbuf b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= b.n; i++)
        if (!memcmp(b.p + i, s, n)) return b.p + i;
    return NULL;
}

static void test_gguf_model(void)
{
    tbuf orig = tb_load(S260 "stories260K.gguf");
    const char *p = tp("m.gguf");
    tbuf b;
    /* value offsets: key record start (from gguf.GGUFReader) + 8 + key length + 4 */
#define GMUT(stmt, code, want) do { b = tb_dup(orig); stmt; tb_write(p, b.p, b.n); expect_fail(p, code, p, want); free(b.p); } while (0)
    GMUT(memcpy(find_bytes(b, "blk.3.ffn_up.weight"), "blk.3.ffn_uX", 12), BD_EINPUT, "missing tensor 'blk.3.ffn_up.weight'");
    GMUT(memcpy(find_bytes(b, "output_norm.weight"), "outpXt", 6), BD_EINPUT, "missing tensor 'output_norm.weight'");
    GMUT(memcpy(find_bytes(b, "token_embd.weight"), "tokXn", 5), BD_EINPUT, "missing tensor 'token_embd.weight'");
    GMUT(put_u32(b.p + 246 + 8 + 22 + 4, 128), BD_EINPUT, "tensor 'token_embd.weight' (token embeddings): shape [512, 64], expected [512, 128]");
    GMUT(put_u32(b.p + 317 + 8 + 25 + 4, 170), BD_EINPUT, "blk.0.ffn_gate.weight");
    GMUT(put_u32(b.p + 400 + 8 + 29 + 4, 3), BD_EINPUT, "not a multiple of 3 key/value heads");
    GMUT(put_u32(b.p + 358 + 8 + 26 + 4, 16), BD_EINPUT, "rope dimension count is 8, expected 2..4");
    GMUT(put_u32(b.p + 358 + 8 + 26 + 4, 7), BD_EINPUT, "llama.embedding_length': 64 is not a multiple of the head count 7");
    GMUT(put_u32(b.p + 284 + 8 + 17 + 4, 6), BD_EINPUT, "missing tensor 'blk.5.attn_norm.weight'");
    GMUT(put_u32(b.p + 284 + 8 + 17 + 4, 0), BD_EINPUT, "llama.block_count");
    GMUT(put_u32(b.p + 284 + 8 + 17, 8), BD_EINPUT, NULL); /* type -> string: misparses the rest */
    GMUT(put_u32(b.p + 284 + 8 + 17, 6), BD_EINPUT, "key 'llama.block_count': expected an unsigned integer, got f32");
    GMUT(memcpy(b.p + 24 + 8 + 20 + 4 + 8, "qwen2", 5), BD_EUNSUP, "general.architecture");
    GMUT(memcpy(find_bytes(b, "general.architecture"), "general.architecturX", 20), BD_EINPUT, "general.architecture");
    GMUT(put_u32(b.p + 487 + 8 + 38 + 4, 0xbf800000u), BD_EINPUT, "epsilon");
    GMUT(put_u32(b.p + 178 + 8 + 16 + 4, 1000), BD_EINPUT, "token_embd.weight");
    GMUT(put_u32(b.p + 11258 + 8 + 27 + 4, 512), BD_EINPUT, "bos id 512");
#undef GMUT
    free(orig.p);
    unlink(p);
}

/* ---------- HF ---------- */
static char *cfg_orig;

static void hf_dir(const char *config, const char *st_target)
{
    char d[512], q[600];
    snprintf(d, sizeof d, "%s/hf", dir);
    tmp_rm(d);
    mkdir(d, 0700);
    snprintf(q, sizeof q, "%s/config.json", d);
    tb_write(q, config, strlen(config));
    if (st_target) {
        snprintf(q, sizeof q, "%s/model.safetensors", d);
        if (symlink(st_target, q)) perror("symlink");
    }
}

/* config.json with one textual replacement (must occur). */
static char *cfg_with(const char *from, const char *to)
{
    const char *at = strstr(cfg_orig, from);
    if (!at) { fprintf(stderr, "config lacks %s\n", from); exit(1); }
    size_t n = strlen(cfg_orig) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    size_t k = (size_t)(at - cfg_orig);
    memcpy(s, cfg_orig, k);
    strcpy(s + k, to);
    strcat(s, at + strlen(from));
    return s;
}

static void test_hf_config(void)
{
    char st[512], d[512], cp[600];
    if (!realpath(S260 "hf/model.safetensors", st)) { perror("realpath"); exit(1); }
    snprintf(d, sizeof d, "%s/hf", dir);
    snprintf(cp, sizeof cp, "%s/hf/config.json", dir);
    struct { const char *from, *to; int code; const char *want; } muts[] = {
        {"\"hidden_size\": 64,", "", BD_EINPUT, "missing key 'hidden_size'"},
        {"\"hidden_size\": 64", "\"hidden_size\": \"64\"", BD_EINPUT, "key 'hidden_size': expected an integer"},
        {"\"hidden_size\": 64", "\"hidden_size\": -64", BD_EINPUT, "key 'hidden_size': -64"},
        {"\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3", BD_EINPUT, "not a multiple of 3"},
        {"\"num_attention_heads\": 8", "\"num_attention_heads\": 7", BD_EINPUT, "7 attention heads is not a multiple of 4"},
        {"\"num_attention_heads\": 8", "\"num_attention_heads\": 12", BD_EINPUT, "q_proj.weight"},
        {"\"intermediate_size\": 172", "\"intermediate_size\": 171", BD_EINPUT, "gate_proj.weight"},
        {"\"vocab_size\": 512", "\"vocab_size\": 513", BD_EINPUT, "model.embed_tokens.weight"},
        {"\"num_hidden_layers\": 5", "\"num_hidden_layers\": 6", BD_EINPUT, "missing tensor 'model.layers.5.input_layernorm.weight'"},
        {"LlamaForCausalLM", "GPT2LMHeadModel", BD_EUNSUP, "key 'architectures': 'GPT2LMHeadModel'"},
        {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", BD_EINPUT, "missing tensor 'lm_head.weight'"},
        {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": 1", BD_EINPUT, "tie_word_embeddings"},
        {"\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}", BD_EUNSUP, "yarn"},
        {"\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}", BD_EINPUT,
         "original_max_position_embeddings"},
        {"\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, "
         "\"high_freq_factor\": 1, \"original_max_position_embeddings\": 8192}", BD_EINPUT, "llama3 rope scaling"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0", BD_EINPUT, "epsilon"},
        {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", BD_EUNSUP, "hidden_act"},
        {"\"attention_bias\": false", "\"attention_bias\": true", BD_EUNSUP, "attention_bias"},
        {"\"eos_token_id\": 2", "\"eos_token_id\": [2, \"x\"]", BD_EINPUT, "eos_token_id"},
        {"\"eos_token_id\": 2", "\"eos_token_id\": 900", BD_EINPUT, "eos id 900"},
        {"\"head_dim\": 8", "\"head_dim\": 16", BD_EINPUT, "q_proj.weight"},
        {"}", "},", BD_EINPUT, "invalid JSON"},
        {"\"vocab_size\": 512,", "\"vocab_size\": 512", BD_EINPUT, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        char *c = cfg_with(muts[i].from, muts[i].to);
        hf_dir(c, st);
        bd_model *m = NULL;
        bd_err err = {0};
        int rc = bd_model_load(d, &m, &err);
        CHECK_MSG(rc == muts[i].code && strstr(err.msg, d) && strstr(err.msg, muts[i].want),
                  "mutation %zu (%s): rc %d: %s", i, muts[i].to, rc, err.msg);
        if (m) bd_model_free(m);
        free(c);
    }
    /* truncated config.json at several points */
    for (size_t cut = 0; cut < strlen(cfg_orig); cut += 37) {
        char *c = strndup(cfg_orig, cut);
        hf_dir(c, st);
        expect_fail(d, BD_EINPUT, cp, NULL);
        free(c);
    }
    /* missing safetensors */
    hf_dir(cfg_orig, NULL);
    expect_fail(d, BD_EINPUT, d, "no model.safetensors");
    /* no config.json at all */
    char q[600];
    snprintf(q, sizeof q, "%s/config.json", d);
    unlink(q);
    expect_fail(d, BD_EINPUT, cp, "cannot open");

    /* sliding_window caps the context; null leaves it */
    char *c = cfg_with("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 512, \"sliding_window\": 256");
    hf_dir(c, st);
    free(c);
    bd_model *m = expect_ok(d);
    if (m) {
        CHECK_EQ_INT(m->cfg.max_seq, 256);
        bd_model_free(m);
    }
    c = cfg_with("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 512, \"sliding_window\": null");
    hf_dir(c, st);
    free(c);
    m = expect_ok(d);
    if (m) {
        CHECK_EQ_INT(m->cfg.max_seq, 512);
        bd_model_free(m);
    }
    /* positives: eos list, llama3 rope scaling, chat templates */
    c = cfg_with("\"eos_token_id\": 2", "\"eos_token_id\": [2, 5, 7]");
    hf_dir(c, st);
    free(c);
    m = expect_ok(d);
    if (m) {
        CHECK(m->cfg.eos_id == 2 && m->cfg.n_eos == 3 && m->cfg.eos_ids[2] == 7);
        bd_model_free(m);
    }
    c = cfg_with("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                 "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}");
    hf_dir(c, st);
    free(c);
    snprintf(q, sizeof q, "%s/tokenizer_config.json", d);
    const char *tc = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, "
                     "{\"name\": \"default\", \"template\": \"{{ bos_token }}\\nX\"}]}";
    tb_write(q, tc, strlen(tc));
    m = expect_ok(d);
    if (m) {
        CHECK(m->cfg.rope_type == 1 && m->cfg.rope_factor == 8.0f && m->cfg.rope_low_freq == 1.0f &&
              m->cfg.rope_high_freq == 4.0f && m->cfg.rope_orig_max == 8192);
        CHECK_STR(m->chat_template, "{{ bos_token }}\nX");
        bd_model_free(m);
    }
    tc = "{\"chat_template\": \"{% for m in messages %}{{ m.content }}{% endfor %}\"}";
    tb_write(q, tc, strlen(tc));
    m = expect_ok(d);
    if (m) {
        CHECK_STR(m->chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}");
        bd_model_free(m);
    }
    tb_write(q, "{\"chat_template\": 5}", 20);
    expect_fail(d, BD_EINPUT, "tokenizer_config.json", "chat_template");
    unlink(q);
    snprintf(q, sizeof q, "%s/chat_template.jinja", d);
    tb_write(q, "J{{x}}\n", 7);
    m = expect_ok(d);
    if (m) {
        CHECK_STR(m->chat_template, "J{{x}}\n");
        bd_model_free(m);
    }
    /* generation_config.json supplies eos when config.json has none */
    unlink(q);
    c = cfg_with("\"eos_token_id\": 2,", "");
    hf_dir(c, st);
    free(c);
    snprintf(q, sizeof q, "%s/generation_config.json", d);
    tb_write(q, "{\"bos_token_id\": 1, \"eos_token_id\": [2, 3]}", 43);
    m = expect_ok(d);
    if (m) {
        CHECK(m->cfg.eos_id == 2 && m->cfg.n_eos == 2 && m->cfg.eos_ids[1] == 3);
        bd_model_free(m);
    }
}

/* ---------- safetensors ---------- */
static tbuf st_orig;

/* Rewrites the JSON header (padded with spaces to its old length) and loads. */
static void st_mut(const char *from, const char *to, int code, const char *want)
{
    uint64_t hl = get_u64(st_orig.p);
    char *h = strndup((const char *)st_orig.p + 8, hl);
    /* room for longer mutations: drop __metadata__ unless the mutation is about it */
    const char *meta = "\"__metadata__\":{\"format\":\"pt\"},";
    char *mp = strstr(h, meta);
    if (mp && !strstr(from, "__metadata__") && !strstr(from, "format")) {
        memmove(mp, mp + strlen(meta), strlen(mp + strlen(meta)) + 1);
        memset(h + strlen(h), ' ', hl - strlen(h));
    }
    char *at = strstr(h, from);
    if (!at) { fprintf(stderr, "header lacks %s\n", from); exit(1); }
    size_t cl = strlen(h);
    while (cl && h[cl - 1] == ' ') cl--;
    size_t k = (size_t)(at - h), rest = cl - k - strlen(from), nl = k + strlen(to) + rest;
    if (k + strlen(from) > cl || nl > hl) { fprintf(stderr, "bad mutation %s\n", from); exit(1); }
    tbuf b = tb_dup(st_orig);
    memcpy(b.p + 8, h, k);
    memcpy(b.p + 8 + k, to, strlen(to));
    memcpy(b.p + 8 + k + strlen(to), at + strlen(from), rest);
    memset(b.p + 8 + nl, ' ', hl - nl);
    char d[512], q[600];
    snprintf(d, sizeof d, "%s/hf", dir);
    hf_dir(cfg_orig, NULL);
    snprintf(q, sizeof q, "%s/model.safetensors", d);
    tb_write(q, b.p, b.n);
    /* a tensor missing from the folder is named with the folder, header faults with the file */
    expect_fail(d, code, strstr(want, "missing tensor") ? d : q, want);
    free(b.p);
    free(h);
}

static void st_raw(tbuf b, int code, const char *want)
{
    char q[600];
    hf_dir(cfg_orig, NULL);
    snprintf(q, sizeof q, "%s/hf/model.safetensors", dir);
    tb_write(q, b.p, b.n);
    snprintf(path_, sizeof path_, "%s/hf", dir);
    expect_fail(path_, code, q, want);
}

static void test_safetensors(void)
{
    st_orig = tb_load(S260 "hf/model.safetensors");
    st_mut("\"dtype\":\"F32\"", "\"dtype\":\"F99\"", BD_EINPUT, "dtype F99 is not a safetensors dtype");
    st_mut("\"dtype\":\"F32\"", "\"dtype\":\"I32\"", BD_EUNSUP, "model.embed_tokens.weight': dtype I32");
    st_mut("\"dtype\":\"F32\"", "\"dtype\":\"F16\"", BD_EINPUT, "data_offsets span 131072 bytes, but shape x F16 is 65536");
    st_mut("[512,64]", "[512,65]", BD_EINPUT, "model.embed_tokens.weight");
    st_mut("[512,64]", "[512,-4]", BD_EINPUT, "shape[1]");
    st_mut("[512,64]", "[\"a\",64]", BD_EINPUT, "shape[0]");
    st_mut("[1039872,1040128]", "[1039872,9040128]", BD_EINPUT, "outside the");
    st_mut("[0,131072]", "[0,999999]", BD_EINPUT, "data_offsets span 999999 bytes");
    st_mut("[0,131072]", "[131072,0]", BD_EINPUT, "data_offsets [131072, 0]");
    st_mut("[0,131072]", "[0]", BD_EINPUT, "data_offsets must be");
    st_mut("[1039872,1040128]", "[131072,131328]", BD_EINPUT, "overlap");
    st_mut("[1039872,1040128]", "[18446744073709551615,1040128]", BD_EINPUT, "model.norm.weight");
    st_mut("\"shape\":[64]", "\"shapX\":[64]", BD_EINPUT, "expected an object with dtype");
    st_mut("model.layers.2.mlp.up_proj.weight", "model.layers.2.mlp.up_proX.weight", BD_EINPUT,
           "missing tensor 'model.layers.2.mlp.up_proj.weight'");
    st_mut("{\"__metadata__\"", "[\"__metadata__\"", BD_EINPUT, "offset");
    st_mut("{\"format\":\"pt\"}", "7", BD_EINPUT, "__metadata__");
    st_mut("1040128]}}", "1040128]}}x", BD_EINPUT, "after the JSON header");
    st_mut("{\"dtype\":\"F32\",\"shape\":[512,64],\"data_offsets\":[0,131072]}", "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]",
           BD_EINPUT, "offset");
    tbuf b = tb_dup(st_orig);
    put_u64(b.p, UINT64_MAX);
    st_raw(b, BD_EINPUT, "offset 0: safetensors header length");
    put_u64(b.p, 0);
    st_raw(b, BD_EINPUT, "header length 0");
    put_u64(b.p, st_orig.n);
    st_raw(b, BD_EINPUT, "header length");
    free(b.p);
    /* truncations: header region densely, data region sparsely */
    for (size_t n = 0; n < st_orig.n; n += n < 5000 ? 61 : 50021) {
        tbuf t = {st_orig.p, n};
        st_raw(t, BD_EINPUT, NULL);
    }
    free(st_orig.p);
}

/* ---------- shards ---------- */
static void write_st(const char *path, const char *name, float v)
{
    char h[256];
    int n = snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    while (n % 8) h[n++] = ' ';
    uint8_t buf[320];
    put_u64(buf, (uint64_t)n);
    memcpy(buf + 8, h, (size_t)n);
    memcpy(buf + 8 + n, &v, 4);
    tb_write(path, buf, 8 + (size_t)n + 4);
}

static void test_shards(void)
{
    char st[512], d[512], q[700], idx[600];
    if (!realpath(S260 "hf/model.safetensors", st)) exit(1);
    snprintf(d, sizeof d, "%s/hf", dir);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", d);
    /* the index: every real tensor in shard 1, one extra in shard 2 */
    bd_model *ref = expect_ok(S260 "hf");
    if (!ref) return;
    size_t cap = 65536, k = 0;
    char *js = malloc(cap);
    k += (size_t)snprintf(js + k, cap - k, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    for (int i = 0; i < ref->n_tensors; i++)
        k += (size_t)snprintf(js + k, cap - k, "\"%s\": \"model-00001-of-00002.safetensors\", ", ref->tensors[i].name);
    char *tail = js + k;
    size_t tailcap = cap - k;
    struct { const char *extra; const char *file2name; int code; const char *want; } cases[] = {
        {"\"extra.scale\": \"model-00002-of-00002.safetensors\"}}", "extra.scale", 0, NULL},
        {"\"extra.scale\": \"model-00002-of-00002.safetensors\"}}", "model.norm.weight", BD_EINPUT, "more than one file"},
        {"\"model.extra\": \"model-00002-of-00002.safetensors\"}}", "extra.scale", BD_EINPUT,
         "tensor 'model.extra' listed in weight_map is not in model-00002-of-00002.safetensors"},
        {"\"extra.scale\": \"../model-00002-of-00002.safetensors\"}}", "extra.scale", BD_EINPUT, "weight_map.extra.scale"},
        {"\"extra.scale\": 5}}", "extra.scale", BD_EINPUT, "weight_map.extra.scale"},
        {"\"extra.scale\": \"model-00003-of-00002.safetensors\"}}", "extra.scale", BD_EINPUT, "cannot open"},
        {"\"extra.scale\": \"model-00002-of-00002.safetensors\"}", "extra.scale", BD_EINPUT, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hf_dir(cfg_orig, NULL);
        snprintf(tail, tailcap, "%s", cases[i].extra);
        tb_write(idx, js, strlen(js));
        snprintf(q, sizeof q, "%s/model-00001-of-00002.safetensors", d);
        if (symlink(st, q)) perror("symlink");
        snprintf(q, sizeof q, "%s/model-00002-of-00002.safetensors", d);
        write_st(q, cases[i].file2name, 0.25f);
        if (cases[i].code == 0) {
            bd_model *m = expect_ok(d);
            if (m) {
                CHECK_EQ_INT(m->n_tensors, ref->n_tensors + 1);
                CHECK_EQ_INT(m->n_maps, 2);
                bd_tensor *t = bd_model_tensor(m, "extra.scale");
                CHECK(t && *(const float *)t->data == 0.25f);
                CHECK(!memcmp(m->layers[3].wq->data, ref->layers[3].wq->data, 64 * 64 * 4));
                bd_model_free(m);
            }
        } else {
            expect_fail(d, cases[i].code, d, cases[i].want);
        }
    }
    /* an index without weight_map */
    tb_write(idx, "{\"metadata\": {}}", 16);
    expect_fail(d, BD_EINPUT, idx, "weight_map");
    free(js);
    bd_model_free(ref);
}

int main(void)
{
    dir = tmp_dir();
    cfg_orig = test_read_file(S260 "hf/config.json", NULL);
    if (!cfg_orig) return 1;
    test_llama2c();
    test_gguf_model();
    test_hf_config();
    test_safetensors();
    test_shards();
    char d[512];
    snprintf(d, sizeof d, "%s/hf", dir);
    tmp_rm(d);
    tmp_rm(dir);
    free(cfg_orig);
    return test_done();
}
