/* pool.h: a parallel loop that never waits for a thread that has not started.
 *
 * ss__pool_run(n_parts, fn, ctx) calls fn(ctx, part, slot) once for every
 * part in [0, n_parts), spread over the calling thread (slot 0) and up to
 * ss_get_threads()-1 workers (slots 1..). Parts are claimed one at a time, so
 * when a worker is slow to wake (a busy machine: another process holds its
 * core), the caller and the others take its parts, and the call returns as
 * soon as every part is done, not when every thread has checked in (as an
 * OpenMP parallel region's closing barrier would). A search is then never
 * slower than on one thread. fn must not call ss__pool_run. */
#ifndef SS_POOL_H
#define SS_POOL_H

typedef void (*ss__pool_fn)(void *ctx, int part, int slot);

/* Slots fn may be called with: 1 + workers (<= max_slots). */
int ss__pool_slots(int max_slots);
/* Runs the parts (see above); uses at most max_slots slots. */
void ss__pool_run(int n_parts, int max_slots, ss__pool_fn fn, void *ctx);

#endif
