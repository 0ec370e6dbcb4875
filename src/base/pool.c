/* pool.c: worker threads for ss__pool_run (see pool.h).
 *
 * A job is published under a mutex with a new generation number; parts are
 * claimed by a compare-and-swap on (generation << 32 | next part), so a
 * worker still holding an old job's description can never claim a part of a
 * newer one. The caller returns once `done` counts every part: all claimed
 * parts have finished, and an unclaimed part does not exist. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/common.h"
#include "base/pool.h"

#define MAX_WORKERS 63

static struct {
    pthread_mutex_t mu; /* guards gen, the job fields, nworkers */
    pthread_cond_t cv;
    pthread_mutex_t run; /* one job at a time; a second caller runs alone */
    int nworkers;
    uint32_t gen;
    ss__pool_fn fn;
    void *ctx;
    int nparts, max_slots;
    _Atomic uint64_t state; /* gen << 32 | next unclaimed part */
    _Atomic int done;       /* parts finished in this job */
} P;

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* In a child after fork() there are no workers; start afresh. */
static void after_fork(void)
{
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    pthread_mutex_init(&P.run, NULL);
    P.nworkers = 0;
}

static void init(void)
{
    after_fork();
    pthread_atfork(NULL, NULL, after_fork);
}

static void claim(uint32_t gen, int nparts, ss__pool_fn fn, void *ctx, int slot)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&P.state, memory_order_acquire);
        if ((uint32_t)(s >> 32) != gen || (uint32_t)s >= (uint32_t)nparts) return;
        if (!atomic_compare_exchange_weak_explicit(&P.state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(ctx, (int)(uint32_t)s, slot);
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
    }
}

static void *worker(void *arg)
{
    int slot = (int)(intptr_t)arg;
    pthread_mutex_lock(&P.mu);
    uint32_t seen = P.gen;
    for (;;) {
        while (P.gen == seen) pthread_cond_wait(&P.cv, &P.mu);
        seen = P.gen;
        ss__pool_fn fn = P.fn;
        void *ctx = P.ctx;
        int nparts = P.nparts, max_slots = P.max_slots;
        pthread_mutex_unlock(&P.mu);
        if (slot < max_slots) claim(seen, nparts, fn, ctx, slot);
        pthread_mutex_lock(&P.mu);
    }
    return NULL;
}

int ss__pool_slots(int max_slots)
{
    int n = SS_MIN(ss_get_threads(), MAX_WORKERS + 1);
    return SS_MAX(1, SS_MIN(n, max_slots));
}

void ss__pool_run(int nparts, int max_slots, ss__pool_fn fn, void *ctx)
{
    pthread_once(&once, init);
    int slots = ss__pool_slots(max_slots);
    if (nparts <= 1 || slots <= 1 || pthread_mutex_trylock(&P.run) != 0) {
        for (int i = 0; i < nparts; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&P.mu);
    while (P.nworkers < slots - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(P.nworkers + 1)) != 0) break;
        pthread_detach(t);
        P.nworkers++;
    }
    uint32_t gen = ++P.gen;
    P.fn = fn;
    P.ctx = ctx;
    P.nparts = nparts;
    P.max_slots = slots;
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    atomic_store_explicit(&P.state, (uint64_t)gen << 32, memory_order_release);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    claim(gen, nparts, fn, ctx, 0);
    /* what is left is in flight on workers: wait for it only */
    while (atomic_load_explicit(&P.done, memory_order_acquire) < nparts) sched_yield();
    pthread_mutex_unlock(&P.run);
}
