/* Workers spin briefly after each job, then sleep on a condition variable:
 * a decode step of a small model runs hundreds of jobs of a few microseconds
 * each, and waking a sleeping thread costs about as much as such a job, so
 * sleeping between them would halve the speed of two threads; but the
 * machines this runs on are often shared, so threads that stay idle (between
 * items, during tokenization or database writes) must not keep spinning. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* about 50 microseconds of pause instructions before a thread sleeps */
enum { SPIN = 4096 };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct bd_pool {
    int n;                 /* threads including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ullong gen;     /* job generation, bumped per bd_pool_run */
    atomic_int busy;       /* workers still inside the current job */
    atomic_int quit;
    /* the job; written before gen is bumped (release), read after it is seen (acquire) */
    bd_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    atomic_llong next;
};

typedef struct worker_arg { bd_pool *p; int id; } worker_arg;

static void work(bd_pool *p, int id)
{
    for (;;) {
        long long i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_tasks) break;
        p->fn(p->ctx, i, id);
    }
}

static void *worker(void *arg)
{
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    bd_pool *p = a.p;
    unsigned long long seen = 0;
    for (;;) {
        for (int k = 0; k < SPIN && atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                        !atomic_load_explicit(&p->quit, memory_order_relaxed); k++)
            cpu_relax();
        if (atomic_load_explicit(&p->gen, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->quit) && atomic_load(&p->gen) == seen) pthread_cond_wait(&p->go, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        work(p, a.id);
        if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
            /* the caller may be asleep: wake it under the lock it checks busy with */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int bd_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

int bd_pool_new(int n_threads, bd_pool **out, bd_err *err)
{
    *out = NULL;
    if (n_threads <= 0) n_threads = bd_cpu_count();
    if (n_threads > 1024) return bd_fail(err, BD_EINPUT, "threads: expected 1..1024, got %d", n_threads);
    bd_pool *p = calloc(1, sizeof *p);
    if (!p) return bd_oom(err, "thread pool");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->quit, 0);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof *p->th);
        if (!p->th) { bd_pool_free(p); return bd_oom(err, "thread pool"); }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a) { p->n = i; bd_pool_free(p); return bd_oom(err, "thread pool"); }
            a->p = p;
            a->id = i;
            if (pthread_create(&p->th[i - 1], NULL, worker, a) != 0) {
                free(a);
                p->n = i;
                bd_pool_free(p);
                return bd_fail(err, BD_EFAIL, "cannot start thread %d of %d", i + 1, n_threads);
            }
        }
    }
    *out = p;
    return 0;
}

void bd_pool_free(bd_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

int bd_pool_threads(const bd_pool *p) { return p->n; }

void bd_pool_run(bd_pool *p, bd_task_fn fn, void *ctx, int64_t n_tasks)
{
    if (n_tasks <= 0) return;
    if (p->n == 1 || n_tasks == 1) {
        for (int64_t i = 0; i < n_tasks; i++) fn(ctx, i, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->n - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    /* sleepers check gen under the lock, so this wakes every one of them */
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    for (int k = 0; k < SPIN && atomic_load_explicit(&p->busy, memory_order_acquire) > 0; k++) cpu_relax();
    if (atomic_load_explicit(&p->busy, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->busy) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
