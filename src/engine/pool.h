/* A fixed thread pool owned by one engine (no global state). bd_pool_run
 * hands out task indices from a shared counter; the caller's thread works
 * too. Which thread runs a task never changes what the task computes, which
 * is how the engine stays bit-identical for any thread count. */
#ifndef BD_POOL_H
#define BD_POOL_H

#include <stdint.h>

#include "../util/err.h"

typedef struct bd_pool bd_pool;
/* thread is in [0, bd_pool_threads) and indexes per-thread scratch */
typedef void (*bd_task_fn)(void *ctx, int64_t task, int thread);

int bd_pool_new(int n_threads, bd_pool **out, bd_err *err);
void bd_pool_free(bd_pool *p);
int bd_pool_threads(const bd_pool *p);
/* Runs fn(ctx, i, thread) for every i in [0, n_tasks); returns when all are done. */
void bd_pool_run(bd_pool *p, bd_task_fn fn, void *ctx, int64_t n_tasks);
/* Online CPUs (at least 1). */
int bd_cpu_count(void);

#endif
