/* Reader for the .bdg golden files written by tests/reference/gen_accel_goldens.py:
 * "BDG1" u32 count, then per array: u16 name_len, name, u8 dtype
 * (0 f32, 1 u8, 2 i32, 3 i8, 4 f64, 5 i64, 6 u16), u8 ndim, i64 dims[ndim], data. */
#ifndef BD_TEST_GOLDEN_H
#define BD_TEST_GOLDEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden_arr {
    char name[64];
    int dtype, ndim;
    int64_t dims[4];
    int64_t n;          /* element count */
    const void *data;
} golden_arr;

typedef struct golden {
    char *buf;
    golden_arr arr[256];
    int count;
} golden;

static inline int golden_esize(int dt)
{
    static const int s[] = {4, 1, 4, 1, 8, 8, 2};
    return dt >= 0 && dt < 7 ? s[dt] : 0;
}

/* Returns 0 ok; the file must be well formed (it is ours). */
static inline int golden_load(golden *g, const char *path)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return -1; }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->buf = malloc((size_t)len + 1);
    if (!g->buf || fread(g->buf, 1, (size_t)len, f) != (size_t)len) { fclose(f); return -1; }
    fclose(f);
    if (len < 8 || memcmp(g->buf, "BDG1", 4) != 0) return -1;
    uint32_t cnt;
    memcpy(&cnt, g->buf + 4, 4);
    size_t off = 8;
    for (uint32_t i = 0; i < cnt && i < 256; i++) {
        golden_arr *a = &g->arr[g->count++];
        uint16_t nl;
        if (off + 2 > (size_t)len) return -1;
        memcpy(&nl, g->buf + off, 2); off += 2;
        if (nl >= sizeof a->name || off + nl + 2 > (size_t)len) return -1;
        memcpy(a->name, g->buf + off, nl); off += nl;
        a->dtype = (unsigned char)g->buf[off++];
        a->ndim = (unsigned char)g->buf[off++];
        if (a->ndim > 4 || !golden_esize(a->dtype)) return -1;
        a->n = 1;
        for (int d = 0; d < a->ndim; d++) {
            if (off + 8 > (size_t)len) return -1;
            memcpy(&a->dims[d], g->buf + off, 8); off += 8;
            a->n *= a->dims[d];
        }
        size_t nb = (size_t)a->n * (size_t)golden_esize(a->dtype);
        if (off + nb > (size_t)len) return -1;
        a->data = g->buf + off;   /* data starts at arbitrary alignment: copy before typed use */
        off += nb;
    }
    return 0;
}

static inline const golden_arr *golden_get(const golden *g, const char *name)
{
    for (int i = 0; i < g->count; i++)
        if (strcmp(g->arr[i].name, name) == 0) return &g->arr[i];
    fprintf(stderr, "golden: no array %s\n", name);
    return NULL;
}

/* Copies an array into fresh aligned memory (caller frees); NULL if absent. */
static inline void *golden_copy(const golden *g, const char *name, int64_t *n)
{
    const golden_arr *a = golden_get(g, name);
    if (!a) return NULL;
    size_t nb = (size_t)a->n * (size_t)golden_esize(a->dtype);
    void *p = malloc(nb ? nb : 1);
    if (p) memcpy(p, a->data, nb);
    if (n) *n = a->n;
    return p;
}

static inline void golden_free(golden *g) { free(g->buf); g->buf = NULL; }

#endif
