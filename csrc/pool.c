/* The kernels' thread pool (see pool.h): helper threads that spin briefly, then sleep, between
 * the short passes of an iteration, and run either one function per worker or tasks taken
 * as workers come free. */
#include "pool.h"

#include <cblas.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* Workers 1..nthreads-1 wait for a new generation, run their share of the work, and report
 * back; the calling thread is worker 0. Between two passes of an iteration the caller has
 * only a little serial work, far less than a futex wake-up costs on a virtual machine
 * (docs/DECISIONS.md): so a waiting thread first spins on the shared counters for up to
 * SPIN_NS, and only then sleeps on the condition variable. */
enum { SPIN_NS = 200000 };

typedef struct crew {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen;                  /* bumped (under mu) to start a generation */
  atomic_int pending;                /* helpers still running this generation */
  atomic_int quit;
  int sleepers, caller_sleeps;       /* under mu: who waits on go, and on done */
  int nthreads;
  void (*fn)(void *ctx, int worker); /* this generation's work, run by every worker */
  void *ctx;
  pthread_t tid[TSR_POOL_MAX_THREADS];
} crew;

typedef struct thread_arg {
  crew *pool;
  int id;
} thread_arg;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* 1 once done(pl, arg) holds, after spinning for at most SPIN_NS; 0 if it still does not. */
static int spin_until(crew *pl, int (*done)(crew *, unsigned long), unsigned long arg) {
  int64_t start = now_ns();
  for (unsigned spins = 1;; spins++) {
    if (done(pl, arg)) return 1;
    relax();
    if (spins % 256 == 0 && now_ns() - start > SPIN_NS) return done(pl, arg);
  }
}

static int new_gen(crew *pl, unsigned long seen) {
  return atomic_load_explicit(&pl->gen, memory_order_acquire) != seen ||
         atomic_load_explicit(&pl->quit, memory_order_relaxed);
}

static int all_done(crew *pl, unsigned long unused) {
  (void)unused;
  return atomic_load_explicit(&pl->pending, memory_order_acquire) == 0;
}

static void *thread_main(void *arg) {
  thread_arg *ta = arg;
  crew *pl = ta->pool;
  unsigned long seen = 0;
  for (;;) {
    if (!spin_until(pl, new_gen, seen)) {
      pthread_mutex_lock(&pl->mu);
      pl->sleepers++;
      while (!new_gen(pl, seen)) pthread_cond_wait(&pl->go, &pl->mu);
      pl->sleepers--;
      pthread_mutex_unlock(&pl->mu);
    }
    if (atomic_load(&pl->quit)) break;
    seen = atomic_load_explicit(&pl->gen, memory_order_acquire); /* fn, ctx published before */
    pl->fn(pl->ctx, ta->id);
    if (atomic_fetch_sub_explicit(&pl->pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&pl->mu);
      if (pl->caller_sleeps) pthread_cond_signal(&pl->done);
      pthread_mutex_unlock(&pl->mu);
    }
  }
  return NULL;
}

/* Starts up to want-1 helper threads; returns the thread count actually available
 * (1 when threads cannot be had: the pass then runs on the caller alone). */
static int pool_start(crew *pl, thread_arg *args, int want) {
  pl->nthreads = 1;
  atomic_init(&pl->gen, 0);
  atomic_init(&pl->pending, 0);
  atomic_init(&pl->quit, 0);
  pl->sleepers = 0;
  pl->caller_sleeps = 0;
  pl->fn = NULL;
  pl->ctx = NULL;
  if (want <= 1) return 1;
  if (pthread_mutex_init(&pl->mu, NULL) != 0) return 1;
  if (pthread_cond_init(&pl->go, NULL) != 0) {
    pthread_mutex_destroy(&pl->mu);
    return 1;
  }
  if (pthread_cond_init(&pl->done, NULL) != 0) {
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
    return 1;
  }
  for (int w = 1; w < want; w++) {
    args[w].pool = pl;
    args[w].id = w;
    if (pthread_create(&pl->tid[w], NULL, thread_main, &args[w]) != 0) break;
    pl->nthreads = w + 1;
  }
  if (pl->nthreads == 1) {
    pthread_cond_destroy(&pl->done);
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
  }
  return pl->nthreads;
}

static void pool_stop(crew *pl, int started) {
  if (!started) return;
  pthread_mutex_lock(&pl->mu);
  atomic_store(&pl->quit, 1);
  pthread_cond_broadcast(&pl->go);
  pthread_mutex_unlock(&pl->mu);
  for (int w = 1; w < pl->nthreads; w++) pthread_join(pl->tid[w], NULL);
  pthread_cond_destroy(&pl->done);
  pthread_cond_destroy(&pl->go);
  pthread_mutex_destroy(&pl->mu);
}

/* Runs fn(ctx, w) on every worker w (the caller being worker 0) and waits for them all. */
static void pool_exec(crew *pl, void (*fn)(void *, int), void *ctx) {
  if (pl->nthreads > 1) {
    pl->fn = fn;
    pl->ctx = ctx;
    atomic_store_explicit(&pl->pending, pl->nthreads - 1, memory_order_relaxed);
    /* Under mu, so that a helper about to sleep sees the new generation or is woken. */
    pthread_mutex_lock(&pl->mu);
    atomic_fetch_add_explicit(&pl->gen, 1, memory_order_release);
    if (pl->sleepers > 0) pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
  }
  fn(ctx, 0);
  if (pl->nthreads > 1 && !spin_until(pl, all_done, 0)) {
    pthread_mutex_lock(&pl->mu);
    pl->caller_sleeps = 1;
    while (!all_done(pl, 0)) pthread_cond_wait(&pl->done, &pl->mu);
    pl->caller_sleeps = 0;
    pthread_mutex_unlock(&pl->mu);
  }
}

struct tsr_pool {
  crew pool;
  thread_arg args[TSR_POOL_MAX_THREADS];
  int started;
  atomic_int next;
  int ntasks;
  void (*task)(void *ctx, int task);
  void *ctx;
};

tsr_pool *tsr_pool_open(int threads) {
  tsr_pool *tp = tsr_alloc(sizeof *tp);
  if (tp == NULL) return NULL;
  memset(tp, 0, sizeof *tp);
  if (threads > TSR_POOL_MAX_THREADS) threads = TSR_POOL_MAX_THREADS;
  tp->started = pool_start(&tp->pool, tp->args, threads) > 1;
  return tp;
}

int tsr_pool_threads(const tsr_pool *tp) { return tp->pool.nthreads; }

void tsr_pool_each(tsr_pool *tp, void (*fn)(void *ctx, int worker), void *ctx) {
  pool_exec(&tp->pool, fn, ctx);
}

static void task_worker(void *ctx, int w) {
  tsr_pool *tp = ctx;
  int t;
  (void)w;
  while ((t = atomic_fetch_add(&tp->next, 1)) < tp->ntasks) tp->task(tp->ctx, t);
}

void tsr_pool_run(tsr_pool *tp, int ntasks, void (*task)(void *ctx, int task), void *ctx) {
  tp->ntasks = ntasks;
  tp->task = task;
  tp->ctx = ctx;
  atomic_store(&tp->next, 0);
  pool_exec(&tp->pool, task_worker, tp);
}

void tsr_pool_close(tsr_pool *tp) {
  if (tp == NULL) return;
  pool_stop(&tp->pool, tp->started);
  tsr_free(tp);
}

int tsr_pool_default_threads(void) {
  int t = openblas_get_num_threads();
  return t < 1 ? 1 : t > TSR_POOL_MAX_THREADS ? TSR_POOL_MAX_THREADS : t;
}
