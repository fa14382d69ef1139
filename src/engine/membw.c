/* Memory bandwidth probe for `biasdrift bench`: all engine threads stream
 * through a buffer much larger than the caches, reading (like a decode step
 * reads weights) with the widest loads the CPU has. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_impl.h"

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static uint64_t sum512(const uint8_t *p, size_t n)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i + 256 <= n; i += 256) {
        a = _mm512_add_epi64(a, _mm512_load_si512((const void *)(p + i)));
        b = _mm512_add_epi64(b, _mm512_load_si512((const void *)(p + i + 64)));
        c = _mm512_add_epi64(c, _mm512_load_si512((const void *)(p + i + 128)));
        d = _mm512_add_epi64(d, _mm512_load_si512((const void *)(p + i + 192)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}
__attribute__((target("avx2"))) static uint64_t sum256(const uint8_t *p, size_t n)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a = _mm256_add_epi64(a, _mm256_load_si256((const void *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const void *)(p + i + 32)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const void *)(p + i + 64)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const void *)(p + i + 96)));
    }
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    return t[0] + t[1] + t[2] + t[3];
}
#endif

static uint64_t sum_scalar(const uint8_t *p, size_t n)
{
    const uint64_t *q = (const uint64_t *)p;
    uint64_t s0 = 0, s1 = 0;
    for (size_t i = 0; i + 2 <= n / 8; i += 2) { s0 += q[i]; s1 += q[i + 1]; }
    return s0 + s1;
}

enum { CHUNK = 1 << 20 };

typedef struct bw_job { const uint8_t *buf; uint64_t (*fn)(const uint8_t *, size_t); uint64_t sink[1024]; } bw_job;

static void bw_task(void *ctx, int64_t i, int thread)
{
    bw_job *j = ctx;
    j->sink[thread & 1023] += j->fn(j->buf + (size_t)i * CHUNK, CHUNK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double bd_engine_stream_gbps(bd_engine *e, size_t bytes, int reps)
{
    size_t n = bytes / CHUNK;
    if (n < 8) n = 8;
    uint8_t *buf = aligned_alloc(64, n * CHUNK);
    if (!buf) return 0;
    memset(buf, 1, n * CHUNK); /* fault every page in before timing */
    bw_job *j = calloc(1, sizeof *j);
    if (!j) { free(buf); return 0; }
    j->buf = buf;
    j->fn = sum_scalar;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) j->fn = sum512;
    else if (__builtin_cpu_supports("avx2")) j->fn = sum256;
#endif
    double best = 0;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now_s();
        bd_pool_run(e->pool, bw_task, j, (int64_t)n);
        double dt = now_s() - t0;
        if (dt > 0 && (double)(n * CHUNK) / dt > best) best = (double)(n * CHUNK) / dt;
    }
    free(j);
    free(buf);
    return best / 1e9;
}
