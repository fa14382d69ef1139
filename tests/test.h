/* Minimal test harness: CHECK records a failure and continues; a test file's
 * main() returns test_done(). Tests run from the repository root, so the
 * shared data is at ../shared/. */
#ifndef BD_TEST_H
#define BD_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_;
static int test_checks_;

#define CHECK(cond) do { test_checks_++; if (!(cond)) { test_failures_++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { test_checks_++; if (!(cond)) { test_failures_++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); test_checks_++; \
    if (a_ != b_) { test_failures_++; fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
    __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); test_checks_++; \
    if (!(fabs(a_ - b_) <= (tol))) { test_failures_++; fprintf(stderr, \
    "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b, \
    (double)(tol), a_, b_); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); test_checks_++; \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) { test_failures_++; fprintf(stderr, \
    "%s:%d: %s == %s failed:\n  got:      \"%s\"\n  expected: \"%s\"\n", __FILE__, __LINE__, \
    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)

static inline int test_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", test_checks_, test_failures_);
    if (test_checks_ == 0) { fprintf(stderr, "no checks ran\n"); return 1; }
    return test_failures_ ? 1 : 0;
}

/* Reads a whole file (NUL-terminated); NULL on failure. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; if (len) *len = (size_t)n; }
    return buf;
}

#endif
