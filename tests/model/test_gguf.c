/* GGUF reader: the real stories260K.gguf parses to the values MANIFEST §1 and
 * the Python `gguf` reader report, and corrupt / truncated / hostile copies of
 * it fail with BD_EINPUT (or BD_EUNSUP) and a message naming the file and the
 * offset or key, without crashing (run under SAN=1 too).
 *
 * Byte offsets of header fields below were read with gguf.GGUFReader
 * (field.offset) from the real file, not with our parser. */
#include "../test.h"
#include "mk.h"
#include "model/gguf.h"
#include "model/tensor.h"

#define GGUF S260 "stories260K.gguf"
#define OFF_KEY0 24            /* first key length (general.architecture) */
#define OFF_KEY0_TYPE 52
#define OFF_ALIGN_VAL 174      /* general.alignment u32 value */
#define OFF_TOKENS_LEN 659     /* tokenizer.ggml.tokens array length */
#define OFF_TOKEN0_LEN 667     /* its first string's length */
#define OFF_SCORES_LEN 7105    /* tokenizer.ggml.scores array length */
#define OFF_BOS_KEY 11266      /* text of key tokenizer.ggml.bos_token_id */
#define OFF_ADD_BOS_VAL 11431  /* tokenizer.ggml.add_bos_token bool value */
#define OFF_T0 11473           /* first tensor info (token_embd.weight) */
#define OFF_T0_NDIMS (OFF_T0 + 8 + 17)
#define OFF_T0_DIM0 (OFF_T0_NDIMS + 4)
#define OFF_T0_TYPE (OFF_T0_DIM0 + 16)
#define OFF_T0_OFFSET (OFF_T0_TYPE + 4)

static char *dir;

static void test_real_file(void)
{
    bd_gguf *g = NULL;
    bd_err err = {0};
    int rc = bd_gguf_open(GGUF, &g, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK_EQ_INT(g->version, 3);
    CHECK_EQ_INT(g->n_kv, 23);
    CHECK_EQ_INT(g->n_tensors, 47);
    CHECK_EQ_INT(g->alignment, 32);
    CHECK_EQ_INT(g->data_offset, 14240);
    bd_gguf_str s;
    CHECK(bd_gguf_get_str(g, "general.architecture", &s, &err) == 0 && s.len == 5 && !memcmp(s.ptr, "llama", 5));
    uint64_t u = 0;
    CHECK(bd_gguf_get_u64(g, "llama.block_count", &u, &err) == 0 && u == 5);
    CHECK(bd_gguf_get_u64(g, "llama.attention.head_count_kv", &u, &err) == 0 && u == 4);
    double f = 0;
    CHECK(bd_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &f, &err) == 0);
    CHECK_NEAR(f, 1e-5, 1e-12);
    CHECK(bd_gguf_get_f64(g, "llama.rope.freq_base", &f, &err) == 0 && f == 10000.0);
    int b = -1;
    CHECK(bd_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &err) == 0 && b == 1);
    CHECK(bd_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, &err) == 0 && b == 0);
    /* absent -> 1 without error; wrong type -> BD_EINPUT naming the key */
    CHECK_EQ_INT(bd_gguf_get_u64(g, "no.such.key", &u, &err), 1);
    err.msg[0] = 0;
    rc = bd_gguf_get_str(g, "llama.block_count", &s, &err);
    CHECK_ERR(rc, err, BD_EINPUT, GGUF, "llama.block_count");
    rc = bd_gguf_get_u64(g, "general.name", &u, &err);
    CHECK_ERR(rc, err, BD_EINPUT, GGUF, "general.name");

    const bd_gguf_kv *tok = bd_gguf_find(g, "tokenizer.ggml.tokens");
    CHECK(tok && tok->type == BD_GGUF_ARRAY && tok->arr_type == BD_GGUF_STRING && tok->arr_len == 512);
    if (tok && tok->arr_strs) {
        CHECK(tok->arr_strs[1].len == 3 && !memcmp(tok->arr_strs[1].ptr, "<s>", 3));
        CHECK(tok->arr_strs[3].len == 6 && !memcmp(tok->arr_strs[3].ptr, "<0x00>", 6));
    }
    /* scores are bit-identical to tok512.bin's (MANIFEST §1) */
    const bd_gguf_kv *sc = bd_gguf_find(g, "tokenizer.ggml.scores");
    tbuf tk = tb_load(S260 "tok512.bin");
    CHECK(sc && sc->arr_type == BD_GGUF_F32 && sc->arr_len == 512);
    if (sc && sc->arr_len == 512) {
        size_t p = 4;
        int same = 1;
        for (int i = 0; i < 512 && p + 8 <= tk.n; i++) {
            if (memcmp((const uint8_t *)sc->arr_data + 4 * i, tk.p + p, 4)) same = 0;
            p += 8 + get_u32(tk.p + p + 4);
        }
        CHECK(same);
    }
    free(tk.p);
    const bd_gguf_kv *tt = bd_gguf_find(g, "tokenizer.ggml.token_type");
    CHECK(tt && tt->arr_type == BD_GGUF_I32 && tt->arr_len == 512);
    if (tt && tt->arr_len == 512) {
        int32_t v[4];
        memcpy(&v[0], (const uint8_t *)tt->arr_data + 0, 4);
        memcpy(&v[1], (const uint8_t *)tt->arr_data + 4, 4);
        memcpy(&v[2], (const uint8_t *)tt->arr_data + 12, 4);
        memcpy(&v[3], (const uint8_t *)tt->arr_data + 4 * 300, 4);
        CHECK(v[0] == 2 && v[1] == 3 && v[2] == 6 && v[3] == 1);
    }

    /* tensors: dims reversed numpy shape, bytes identical to stories260K.bin */
    tbuf bin = tb_load(S260 "stories260K.bin");
    const bd_gguf_tensor *t = bd_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->n_dims == 2 && t->dims[0] == 64 && t->dims[1] == 512 && t->ggml_type == 0);
    CHECK(t && t->dtype == BD_F32 && t->nbytes == 512 * 64 * 4);
    CHECK(t && (const uint8_t *)t->data == g->base + 14240);
    CHECK(t && !memcmp(t->data, bin.p + 28, 512 * 64 * 4));
    t = bd_gguf_find_tensor(g, "blk.0.attn_norm.weight");
    CHECK(t && t->n_dims == 1 && t->dims[0] == 64);
    CHECK(t && !memcmp(t->data, bin.p + 28 + 512 * 64 * 4, 64 * 4));
    t = bd_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    CHECK(t && t->dims[0] == 172 && t->dims[1] == 64);
    CHECK(bd_gguf_find_tensor(g, "output.weight") == NULL);
    free(bin.p);
    bd_gguf_close(g);
}

/* Writes a mutated copy and expects bd_gguf_open to fail with code and a message containing want. */
static void expect_fail(const tbuf *b, const char *name, int code, const char *want)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tb_write(path, b->p, b->n);
    bd_gguf *g = NULL;
    bd_err err = {0};
    int rc = bd_gguf_open(path, &g, &err);
    CHECK_ERR(rc, err, code, path, want);
    CHECK(g == NULL);
    if (g) bd_gguf_close(g);
    unlink(path);
}

static void test_mutations(void)
{
    tbuf orig = tb_load(GGUF);
    tbuf b;
#define MUT(stmt, name, code, want) do { b = tb_dup(orig); stmt; expect_fail(&b, name, code, want); free(b.p); } while (0)
    MUT(b.p[0] = 'X', "magic.gguf", BD_EINPUT, "offset 0: expected GGUF magic");
    MUT(put_u32(b.p + 4, 1), "v1.gguf", BD_EINPUT, "version 1");
    MUT(put_u32(b.p + 4, 4), "v4.gguf", BD_EINPUT, "offset 4");
    MUT(put_u32(b.p + 4, 0x03000000u), "be.gguf", BD_EINPUT, "big-endian");
    MUT(put_u64(b.p + 8, 1ull << 62), "ntensors.gguf", BD_EINPUT, "tensor count");
    MUT(put_u64(b.p + 16, UINT64_MAX), "nkv.gguf", BD_EINPUT, "metadata count");
    MUT(put_u64(b.p + 16, 65537), "nkvcap.gguf", BD_EINPUT, "metadata count 65537");
    MUT(put_u64(b.p + 16, 24), "nkv24.gguf", BD_EINPUT, NULL); /* reads a tensor info as a kv */
    MUT(put_u64(b.p + OFF_KEY0, UINT64_MAX), "keylen.gguf", BD_EINPUT, "offset 24");
    MUT(put_u64(b.p + OFF_KEY0, 0), "keylen0.gguf", BD_EINPUT, "empty metadata key");
    MUT(put_u32(b.p + OFF_KEY0_TYPE, 99), "vtype.gguf", BD_EINPUT, "unknown value type 99");
    MUT(put_u32(b.p + OFF_ALIGN_VAL, 3), "align3.gguf", BD_EINPUT, "general.alignment");
    MUT(put_u32(b.p + OFF_ALIGN_VAL, 0), "align0.gguf", BD_EINPUT, "general.alignment");
    MUT(put_u64(b.p + OFF_TOKENS_LEN, 1ull << 61), "arrlen.gguf", BD_EINPUT, "tokenizer.ggml.tokens");
    MUT(put_u64(b.p + OFF_TOKENS_LEN, UINT64_MAX), "arrlen2.gguf", BD_EINPUT, "tokenizer.ggml.tokens");
    MUT(put_u64(b.p + OFF_TOKEN0_LEN, UINT64_MAX - 3), "strlen.gguf", BD_EINPUT, "string length");
    MUT(put_u64(b.p + OFF_SCORES_LEN, 1ull << 62), "scores.gguf", BD_EINPUT, "tokenizer.ggml.scores");
    MUT(put_u64(b.p + OFF_SCORES_LEN, UINT64_MAX / 2), "scores2.gguf", BD_EINPUT, "tokenizer.ggml.scores");
    MUT(memcpy(b.p + OFF_BOS_KEY + 15, "eos", 3), "dupkey.gguf", BD_EINPUT, "duplicate metadata key 'tokenizer.ggml.eos_token_id'");
    MUT(b.p[OFF_ADD_BOS_VAL] = 7, "bool.gguf", BD_EINPUT, "tokenizer.ggml.add_bos_token");
    MUT(put_u32(b.p + OFF_T0_NDIMS, 5), "ndims.gguf", BD_EINPUT, "n_dims 5");
    MUT(put_u32(b.p + OFF_T0_NDIMS, 0), "ndims0.gguf", BD_EINPUT, "n_dims 0");
    MUT(put_u64(b.p + OFF_T0_DIM0, 0), "dim0.gguf", BD_EINPUT, "token_embd.weight");
    MUT((put_u64(b.p + OFF_T0_DIM0, 1ull << 40), put_u64(b.p + OFF_T0_DIM0 + 8, 1ull << 40)), "dimovf.gguf",
        BD_EINPUT, "overflows");
    MUT(put_u64(b.p + OFF_T0_DIM0 + 8, 1ull << 30), "dimbig.gguf", BD_EINPUT, "past the end");
    MUT(put_u32(b.p + OFF_T0_TYPE, 10), "q2k.gguf", BD_EUNSUP, "unsupported tensor type 10 (q2_K)");
    MUT(put_u32(b.p + OFF_T0_TYPE, 1000), "t1000.gguf", BD_EUNSUP, "unsupported tensor type 1000");
    /* q8_0 needs rows that are multiples of 32: 64 is; pretend a 48-wide row */
    MUT((put_u32(b.p + OFF_T0_TYPE, 8), put_u64(b.p + OFF_T0_DIM0, 48)), "q8row.gguf", BD_EINPUT, "block size");
    MUT(put_u64(b.p + OFF_T0_OFFSET, 1ull << 40), "toff.gguf", BD_EINPUT, "past the end of the file");
    MUT(put_u64(b.p + OFF_T0_OFFSET, UINT64_MAX - 31), "toff2.gguf", BD_EINPUT, "token_embd.weight");
    MUT(put_u64(b.p + OFF_T0_OFFSET, 4), "tmis.gguf", BD_EINPUT, "alignment");
    /* second tensor info (blk.0.attn_norm.weight) renamed to blk.1.attn_norm.weight */
    MUT(b.p[OFF_T0 + 57 + 8 + 4] = '1', "duptensor.gguf", BD_EINPUT, "duplicate tensor name 'blk.1.attn_norm.weight'");
    MUT(b.n = 10, "short.gguf", BD_EINPUT, "too short");
    MUT(b.n -= 1, "minus1.gguf", BD_EINPUT, "output_norm.weight");
#undef MUT
    free(orig.p);
}

/* Cheap fuzz: every truncation point (step 97) must fail cleanly. The header
 * part (where the parser reads) is copied into an exact-size buffer so ASan
 * sees any read past the end. */
static void test_truncations(void)
{
    tbuf orig = tb_load(GGUF);
    int failed_ok = 0, total = 0;
    for (size_t n = 0; n < orig.n; n += 97) {
        uint8_t *p = n < 16384 ? malloc(n ? n : 1) : orig.p;
        if (!p) exit(1);
        if (p != orig.p) memcpy(p, orig.p, n);
        bd_gguf *g = NULL;
        bd_err err = {0};
        int rc = bd_gguf_parse("trunc.gguf", p, n, &g, &err);
        total++;
        if (rc == BD_EINPUT && g == NULL && strstr(err.msg, "trunc.gguf")) failed_ok++;
        else fprintf(stderr, "truncation at %zu: rc %d: %s\n", n, rc, err.msg);
        if (g) bd_gguf_close(g);
        if (p != orig.p) free(p);
    }
    CHECK_EQ_INT(failed_ok, total);
    /* and through the file path for a few */
    size_t cuts[] = {0, 23, 24, 30, 700, 11473, 11500, 14239, 14240, 500000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        tbuf b = {orig.p, cuts[i]};
        char name[32];
        snprintf(name, sizeof name, "cut%zu.gguf", cuts[i]);
        expect_fail(&b, name, BD_EINPUT, NULL);
    }
    free(orig.p);
}

/* Hand-built files: nested arrays (accepted and skipped), too-deep nesting, a q8_0 tensor. */
typedef struct wb { uint8_t buf[4096]; size_t n; } wb;
static void w_u32(wb *w, uint32_t v) { memcpy(w->buf + w->n, &v, 4); w->n += 4; }
static void w_u64(wb *w, uint64_t v) { memcpy(w->buf + w->n, &v, 8); w->n += 8; }
static void w_str(wb *w, const char *s) { w_u64(w, strlen(s)); memcpy(w->buf + w->n, s, strlen(s)); w->n += strlen(s); }

static void test_handmade(void)
{
    bd_gguf *g = NULL;
    bd_err err = {0};
    /* kv "a.nest" = [[1,2,3],[4,5,6]] (u8), kv "a.x" = u32 7, one q8_0 tensor [2 rows x 32] */
    wb w = {.n = 0};
    memcpy(w.buf, "GGUF", 4);
    w.n = 4;
    w_u32(&w, 3); w_u64(&w, 1); w_u64(&w, 2);
    w_str(&w, "a.nest"); w_u32(&w, BD_GGUF_ARRAY); w_u32(&w, BD_GGUF_ARRAY); w_u64(&w, 2);
    for (int i = 0; i < 2; i++) {
        w_u32(&w, BD_GGUF_U8); w_u64(&w, 3);
        for (int j = 0; j < 3; j++) w.buf[w.n++] = (uint8_t)(3 * i + j + 1);
    }
    w_str(&w, "a.x"); w_u32(&w, BD_GGUF_U32); w_u32(&w, 7);
    w_str(&w, "w"); w_u32(&w, 2); w_u64(&w, 32); w_u64(&w, 2); w_u32(&w, 8); w_u64(&w, 0);
    while (w.n % 32) w.buf[w.n++] = 0;
    size_t data = w.n;
    for (int r = 0; r < 2; r++) {
        uint16_t d = bd_f32_to_f16(0.5f);
        memcpy(w.buf + w.n, &d, 2);
        w.n += 2;
        for (int j = 0; j < 32; j++) w.buf[w.n++] = (uint8_t)(int8_t)(j - 16 + r);
    }
    int rc = bd_gguf_parse("hand.gguf", w.buf, w.n, &g, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (!rc) {
        uint64_t x;
        CHECK(bd_gguf_get_u64(g, "a.x", &x, &err) == 0 && x == 7);
        const bd_gguf_kv *kv = bd_gguf_find(g, "a.nest");
        CHECK(kv && kv->arr_type == BD_GGUF_ARRAY && kv->arr_len == 2);
        const bd_gguf_tensor *t = bd_gguf_find_tensor(g, "w");
        CHECK(t && t->dtype == BD_Q8_0 && t->nbytes == 68 && t->data == w.buf + data);
        if (t) {
            float y[64];
            bd_dequant_row(BD_Q8_0, t->data, y, 64);
            CHECK(y[0] == -8.0f && y[31] == 7.5f && y[32] == -7.5f && y[63] == 8.0f);
        }
        bd_gguf_close(g);
    }
    /* Truncating the hand file anywhere fails (covers the nested-array path). */
    int bad = 0;
    for (size_t n = 0; n < w.n; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, w.buf, n);
        g = NULL;
        if (bd_gguf_parse("hand.gguf", p, n, &g, &err) != BD_EINPUT || g) bad++;
        if (g) bd_gguf_close(g);
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    /* nesting deeper than 4 is refused */
    wb d = {.n = 0};
    memcpy(d.buf, "GGUF", 4);
    d.n = 4;
    w_u32(&d, 3); w_u64(&d, 0); w_u64(&d, 1);
    w_str(&d, "deep"); w_u32(&d, BD_GGUF_ARRAY);
    for (int i = 0; i < 8; i++) { w_u32(&d, BD_GGUF_ARRAY); w_u64(&d, 1); }
    w_u32(&d, BD_GGUF_U8); w_u64(&d, 0);
    rc = bd_gguf_parse("deep.gguf", d.buf, d.n, &g, &err);
    CHECK_ERR(rc, err, BD_EINPUT, "deep.gguf", "'deep': arrays nested deeper");
}

int main(void)
{
    dir = tmp_dir();
    test_real_file();
    test_mutations();
    test_truncations();
    test_handmade();
    tmp_rm(dir);
    return test_done();
}
