/* Reads the golden corpus written by tests/reference/gen_tok_goldens.py. */
#ifndef TOK_CORPUS_H
#define TOK_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct corpus { char **s; size_t *len; size_t n, n_tricky; } corpus;

/* Undoes the generator's escapes (\\ \n \r \t \xHH) in place. */
static inline size_t corpus_unescape(char *s)
{
    size_t k = 0;
    for (size_t i = 0; s[i];) {
        if (s[i] != '\\') { s[k++] = s[i++]; continue; }
        char c = s[i + 1];
        if (c == 'n') { s[k++] = '\n'; i += 2; }
        else if (c == 'r') { s[k++] = '\r'; i += 2; }
        else if (c == 't') { s[k++] = '\t'; i += 2; }
        else if (c == 'x') {
            char h[3] = { s[i + 2], s[i + 3], 0 };
            s[k++] = (char)strtol(h, NULL, 16);
            i += 4;
        } else { s[k++] = c; i += 2; }
    }
    s[k] = 0;
    return k;
}

static inline int corpus_load(const char *path, corpus *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    while ((r = getline(&line, &cap, f)) >= 0) {
        if (r > 0 && line[r - 1] == '\n') line[--r] = 0;
        if (c->n == 0 && !c->s && !strncmp(line, "# tricky ", 9)) {
            c->n_tricky = (size_t)atol(line + 9);
            c->s = malloc(sizeof *c->s);
            continue;
        }
        c->s = realloc(c->s, (c->n + 1) * sizeof *c->s);
        c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
        c->s[c->n] = strdup(line);
        c->len[c->n] = corpus_unescape(c->s[c->n]);
        c->n++;
    }
    free(line);
    fclose(f);
    return 0;
}

static inline void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->s[i]);
    free(c->s);
    free(c->len);
}

static inline uint64_t ids_fnv(const int32_t *ids, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int b = 0; b < 4; b++) { h ^= (v >> (8 * b)) & 0xFF; h *= 0x100000001b3ull; }
    }
    return h;
}

/* 1 if ids match the golden line: "a b c" or "=COUNT HEX" */
static inline int golden_match(const char *line, const int32_t *ids, size_t n)
{
    if (line[0] == '=') {
        unsigned long long cnt = 0, h = 0;
        if (sscanf(line, "=%llu %llx", &cnt, &h) != 2) return 0;
        return cnt == n && h == ids_fnv(ids, n);
    }
    const char *p = line;
    size_t i = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || i >= n || ids[i] != v) return 0;
        i++;
        p = end;
    }
    return i == n;
}

static inline int valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) k = 2;
        else if (c >= 0xF0 && c <= 0xF4) k = 3;
        else return 0;
        if (i + k >= n + 0 && i + k > n - 1) return 0;
        for (size_t j = 1; j <= k; j++)
            if ((p[i + j] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[i + 1] < 0xA0) return 0;
        if (c == 0xED && p[i + 1] > 0x9F) return 0;
        if (c == 0xF0 && p[i + 1] < 0x90) return 0;
        if (c == 0xF4 && p[i + 1] > 0x8F) return 0;
        i += k + 1;
    }
    return 1;
}

#endif
