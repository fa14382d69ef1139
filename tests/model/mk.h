/* Helpers for the model tests: temp dirs, writing mutated copies of the real
 * stories260K files, and checking that a load fails cleanly. */
#ifndef BD_TEST_MODEL_MK_H
#define BD_TEST_MODEL_MK_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S260 "../shared/models/stories260K/"

typedef struct tbuf { uint8_t *p; size_t n; } tbuf;

static inline tbuf tb_load(const char *path)
{
    tbuf b = {0, 0};
    b.p = (uint8_t *)test_read_file(path, &b.n);
    if (!b.p) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    return b;
}

static inline tbuf tb_dup(tbuf b)
{
    tbuf c = {malloc(b.n + 1), b.n};
    if (!c.p) exit(1);
    memcpy(c.p, b.p, b.n);
    return c;
}

static inline void tb_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
}

static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A fresh temp dir, removed (one level of files) by tmp_rm. */
static inline char *tmp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/bdmodel.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    return dir;
}

static inline void tmp_rm(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (strlen(dir) + strlen(e->d_name) + 2 > sizeof p) continue;
        memcpy(p, dir, strlen(dir));
        p[strlen(dir)] = '/';
        strcpy(p + strlen(dir) + 1, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Message checks: must name the file and contain `want` (if given). */
#define CHECK_ERR(rc, err, expect_code, path, want) do { \
    CHECK_MSG((rc) == (expect_code), "rc %d, expected %d (%s)", (rc), (expect_code), (err).msg); \
    CHECK_MSG(strstr((err).msg, (path)) != NULL, "message does not name %s: %s", (path), (err).msg); \
    if (want) CHECK_MSG(strstr((err).msg, (want)) != NULL, "message lacks '%s': %s", (const char *)(want), (err).msg); \
} while (0)

#endif
