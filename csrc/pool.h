/* The kernels' thread pool: threads - 1 helpers and the calling thread as worker 0, for the
 * NMF passes (and any kernel whose work splits into independent tasks). Tasks are taken by
 * whichever worker comes free, so a core held up by another program does not hold up a
 * pass; callers keep each task's results apart and add them in task order, so results never
 * depend on the thread count. */
#ifndef TSR_POOL_H
#define TSR_POOL_H

#include "tessera.h"

enum { TSR_POOL_MAX_THREADS = 64 };

typedef struct tsr_pool tsr_pool;

/* The threads kernels use when the caller names none: OpenBLAS's count (it reads
 * OPENBLAS_NUM_THREADS, then OMP_NUM_THREADS, else the cores; tessera batch sets both per
 * worker), at most TSR_POOL_MAX_THREADS. */
int tsr_pool_default_threads(void);

/* Starts threads - 1 helpers (fewer, down to none, when they cannot be had; at most
 * TSR_POOL_MAX_THREADS in all). Returns NULL only when out of memory; the caller owns the
 * pool and closes it with tsr_pool_close (NULL is a no-op). */
tsr_pool *tsr_pool_open(int threads);
void tsr_pool_close(tsr_pool *pool);
/* The workers the pool has, the caller included (1 when no helper could be started). */
int tsr_pool_threads(const tsr_pool *pool);
/* Calls fn(ctx, w) once on every worker w and returns when all are done. */
void tsr_pool_each(tsr_pool *pool, void (*fn)(void *ctx, int worker), void *ctx);
/* Calls task(ctx, t) once for each t in 0..ntasks-1, on whichever worker is free, and
 * returns when all are done. */
void tsr_pool_run(tsr_pool *pool, int ntasks, void (*task)(void *ctx, int task), void *ctx);

#endif
