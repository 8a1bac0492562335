/* Short-time Fourier transform and its inverse on FFTW3 (single precision), following
 * librosa's conventions: periodic windows, optional centring with n_fft/2 zeros, an
 * unnormalised forward transform, and overlap-add with window-sum-square normalisation. */
#include "stft.h"
#include "pool.h"
#include "simd.h"
#include "stft_kernels.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TSR_PI 3.14159265358979323846

static const char *const window_names[] = {"hann", "hamming", "rect"};
#define WINDOW_COUNT ((int)(sizeof window_names / sizeof window_names[0]))

const char *tsr_window_name(int window) {
  return (window >= 0 && window < WINDOW_COUNT) ? window_names[window] : NULL;
}

int tsr_window_from_name(const char *name) {
  for (int i = 0; i < WINDOW_COUNT; i++)
    if (strcmp(name, window_names[i]) == 0) return i;
  return -1;
}

int tsr_window_fill(int window, int n, float *w) {
  if (n < 1 || tsr_window_name(window) == NULL) return TSR_EINVAL;
  /* Periodic ("DFT-even") windows, as librosa/scipy use for spectral analysis. */
  for (int i = 0; i < n; i++) {
    double c = cos(2.0 * TSR_PI * (double)i / (double)n);
    switch (window) {
      case TSR_WINDOW_HANN: w[i] = (float)(0.5 - 0.5 * c); break;
      case TSR_WINDOW_HAMMING: w[i] = (float)(0.54 - 0.46 * c); break;
      default: w[i] = 1.0f; break;
    }
  }
  return TSR_OK;
}

int tsr_stft_check(const tsr_stft_config *cfg, tsr_error *err) {
  if (cfg->n_fft < 2 || cfg->n_fft > TSR_STFT_MAX_NFFT || cfg->n_fft % 2 != 0) {
    tsr_seterror(err, "n_fft must be an even integer in 2..%d, got %d", TSR_STFT_MAX_NFFT,
                 cfg->n_fft);
    return TSR_EINVAL;
  }
  if (cfg->hop < 1 || cfg->hop > cfg->n_fft) {
    tsr_seterror(err, "hop must be in 1..%d, got %d", cfg->n_fft, cfg->hop);
    return TSR_EINVAL;
  }
  if (tsr_window_name(cfg->window) == NULL) {
    tsr_seterror(err, "unknown window code %d", cfg->window);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

int tsr_spectrogram_floats(const tsr_spectrogram *s, size_t *count) {
  size_t entries;
  if (s->bins < 0 || s->frames < 0) return -1;
  if (tsr_mul_size((size_t)s->bins, (size_t)s->frames, &entries) != 0) return -1;
  if (tsr_mul_size(entries, 2, count) != 0) return -1;
  return tsr_mul_size(*count, sizeof(float), &entries); /* the byte count must fit too */
}

int tsr_stft_geometry(const tsr_stft_config *cfg, int64_t len, int sr, tsr_spectrogram *shape,
                      tsr_error *err) {
  int status = tsr_stft_check(cfg, err);
  if (status != TSR_OK) return status;
  if (len < cfg->n_fft) {
    tsr_seterror(err, "the signal has %lld samples, fewer than n_fft (%d)", (long long)len,
                 cfg->n_fft);
    return TSR_EINVAL;
  }
  /* len >= n_fft > 0 and n_fft <= 2^24, so len + 2*pad cannot overflow unless len is
   * within 2^24 of INT64_MAX, which no allocation could hold anyway. */
  if (len > INT64_MAX - cfg->n_fft) {
    tsr_seterror(err, "a signal of %lld samples is too long", (long long)len);
    return TSR_ELIMIT;
  }
  int64_t pad = cfg->center ? cfg->n_fft / 2 : 0;
  shape->bins = cfg->n_fft / 2 + 1;
  shape->frames = 1 + (len + 2 * pad - cfg->n_fft) / cfg->hop;
  shape->n_fft = cfg->n_fft;
  shape->hop = cfg->hop;
  shape->window = cfg->window;
  shape->center = cfg->center ? 1 : 0;
  shape->sr = sr;
  shape->length = len;
  shape->data = NULL;
  size_t count;
  if (tsr_spectrogram_floats(shape, &count) != 0) {
    tsr_seterror(err, "a %lld x %lld spectrogram is too large", (long long)shape->bins,
                 (long long)shape->frames);
    return TSR_ELIMIT;
  }
  return TSR_OK;
}

int tsr_spectrogram_check(const tsr_spectrogram *s, tsr_error *err) {
  tsr_stft_config cfg = {s->n_fft, s->hop, s->window, s->center};
  tsr_spectrogram want;
  int status = tsr_stft_geometry(&cfg, s->length, s->sr, &want, err);
  if (status != TSR_OK) return status;
  if (s->bins != want.bins || s->frames != want.frames) {
    tsr_seterror(err, "a %lld x %lld spectrogram does not match a %lld-sample signal "
                 "(%lld x %lld)", (long long)s->bins, (long long)s->frames,
                 (long long)s->length, (long long)want.bins, (long long)want.frames);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* ---- FFTW plans ------------------------------------------------------------------------
 * Frames go through FFTW in blocks: one plan_many execution transforms block_frames(n)
 * frames. The forward transform of a real n-point frame is an n/2-point complex DFT
 * followed by split_spectrum (below), faster than FFTW's r2c under FFTW_ESTIMATE
 * (docs/DECISIONS.md); the inverse is FFTW's c2r. The block size depends on n_fft alone, never
 * on the signal or the thread count, and a partial last block is padded with zero frames,
 * so every frame of every signal goes through the same plan: the output is bit-identical
 * however the blocks are shared among threads. One plan per (n_fft, direction), made with
 * FFTW_ESTIMATE (no timing, so the same plan every run) and executed on each call's own
 * buffers with the new-array interface, which is thread-safe. The planner itself is not,
 * hence the lock around planning and destroying. Cached plans stay reachable from this
 * table until exit; past PLAN_CACHE_MAX sizes a plan is made for the call and destroyed
 * after it. */

#define PLAN_CACHE_MAX 64
/* A block's frames fill about this many floats (256 KB: it stays in cache), at most
 * BLOCK_MAX frames; past n_fft = 65536 a block is one frame. */
#define BLOCK_FLOATS 65536
#define BLOCK_MAX 32
/* A second thread is worth its start-up only from this many blocks each. */
#define BLOCKS_PER_THREAD 4

typedef struct plan_entry {
  int n, inverse;
  fftwf_plan plan;
} plan_entry;

static plan_entry plan_cache[PLAN_CACHE_MAX];
static int plan_count = 0;
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Frames per FFTW call for n_fft = n. */
static int block_frames(int n) {
  int b = BLOCK_FLOATS / n;
  return b < 1 ? 1 : b > BLOCK_MAX ? BLOCK_MAX : b;
}

/* The plan of a block of transforms for n_fft = n. Forward: n/2-point complex DFTs of
 * frames n floats apart, out of place into spectra n/2 complex apart. Inverse: n-point
 * c2r of spectra n/2 + 1 complex apart (the spectrogram's columns) into frames n floats
 * apart. Planned on arrays of FFTW's own alignment, so a call executes it on 64-byte
 * aligned tsr_alloc buffers (fftwf_alignment_of 0, as FFTW's). Call with plan_lock held. */
static fftwf_plan make_plan(int n, int inverse) {
  int howmany = block_frames(n), bins = n / 2 + 1, half = n / 2;
  float *r = fftwf_alloc_real((size_t)n * (size_t)howmany);
  fftwf_complex *c = fftwf_alloc_complex((size_t)bins * (size_t)howmany);
  fftwf_plan plan = NULL;
  if (r != NULL && c != NULL)
    plan = inverse ? fftwf_plan_many_dft_c2r(1, &n, howmany, c, NULL, 1, bins, r, NULL, 1, n,
                                             FFTW_ESTIMATE | FFTW_DESTROY_INPUT)
                   : fftwf_plan_many_dft(1, &half, howmany, (fftwf_complex *)r, NULL, 1, half,
                                         c, NULL, 1, half, FFTW_FORWARD, FFTW_ESTIMATE);
  fftwf_free(r);
  fftwf_free(c);
  return plan;
}

/* The plan for (n, inverse), or NULL when FFTW cannot make one. *transient is set when
 * the plan is not cached and must be given back to release_plan. */
static fftwf_plan acquire_plan(int n, int inverse, int *transient) {
  fftwf_plan plan = NULL;
  *transient = 0;
  pthread_mutex_lock(&plan_lock);
  for (int i = 0; i < plan_count; i++)
    if (plan_cache[i].n == n && plan_cache[i].inverse == inverse) plan = plan_cache[i].plan;
  if (plan == NULL) {
    plan = make_plan(n, inverse);
    if (plan != NULL && plan_count < PLAN_CACHE_MAX) {
      plan_cache[plan_count].n = n;
      plan_cache[plan_count].inverse = inverse;
      plan_cache[plan_count].plan = plan;
      plan_count++;
    } else if (plan != NULL) {
      *transient = 1;
    }
  }
  pthread_mutex_unlock(&plan_lock);
  return plan;
}

static void release_plan(fftwf_plan plan, int transient) {
  if (!transient) return;
  pthread_mutex_lock(&plan_lock);
  fftwf_destroy_plan(plan);
  pthread_mutex_unlock(&plan_lock);
}

/* Threads for `units` units of work when a thread is worth its start-up only from
 * `per_thread` units: `requested` (0: tessera's default, tsr_pool_default_threads; tessera
 * batch sets it per worker), fewer when there is too little work to share. */
static int thread_count(int requested, int64_t units, int64_t per_thread) {
  int64_t t = requested > 0 ? requested : tsr_pool_default_threads(), useful = units / per_thread;
  if (t > useful) t = useful;
  return t < 1 ? 1 : (int)t;
}

/* Worker w of `workers` takes the w-th of equal stretches of 0..count-1: a static share, so
 * each thread reads one stretch of the signal. */
static void share(int64_t count, int w, int workers, int64_t *lo, int64_t *hi) {
  *lo = count * w / workers;
  *hi = count * (w + 1) / workers;
}

/* Floats rounded up to a multiple of 16, so that consecutive scratch areas stay 64-byte
 * aligned. */
static size_t align16(size_t floats) { return (floats + 15) / 16 * 16; }

/* The entries of m[0..count-1] = |X| that magnitude_fine rejects, taken in double. */
static void magnitude_fix(const float *X, size_t count, float *m) {
  for (size_t k = 0; k < count; k++) {
    float re = X[2 * k], im = X[2 * k + 1];
    if (!magnitude_fine(squares(re, im), re, im))
      m[k] = (float)sqrt((double)re * re + (double)im * im);
  }
}

/* The copies this CPU runs, capped by TESSERA_SIMD. */
static const stft_kernels *pick_kernels(void) {
  int level = tsr_simd_level();
  if (level >= TSR_SIMD_AVX512 && tsr_stft_avx512 != NULL) return tsr_stft_avx512;
  if (level >= TSR_SIMD_AVX2 && tsr_stft_avx2 != NULL) return tsr_stft_avx2;
  return &tsr_stft_generic;
}

/* ---- forward and inverse ----------------------------------------------------------- */

static int geometry_matches(const tsr_spectrogram *s, const tsr_stft_config *cfg, int64_t len,
                            tsr_error *err) {
  tsr_spectrogram want;
  int status = tsr_stft_geometry(cfg, len, s->sr, &want, err);
  if (status != TSR_OK) return status;
  if (s->bins != want.bins || s->frames != want.frames || s->n_fft != want.n_fft ||
      s->hop != want.hop || s->window != want.window || s->center != want.center ||
      s->length != want.length) {
    tsr_seterror(err, "the output spectrogram is %lld x %lld, expected %lld x %lld for this "
                 "signal and configuration", (long long)s->bins, (long long)s->frames,
                 (long long)want.bins, (long long)want.frames);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* The shared inputs of the forward blocks. Exactly one of out (the complex spectrogram)
 * and mag (its magnitude, bins x frames) is set. */
typedef struct forward_job {
  const stft_kernels *kr;
  const float *x, *w, *twr, *twi;
  int64_t len, frames, bins, pad, blocks;
  int n, hop, block;
  fftwf_plan plan;
  float *out, *mag;
} forward_job;

/* The index of the first NaN/Inf among the samples block b owns, or -1. The blocks own
 * consecutive runs that together cover the signal: block b the samples from its first
 * frame's start to the next block's (the first from 0, the last to the end), so each is
 * read here just before its frames are windowed, while it is in cache. */
static int64_t block_nonfinite(const forward_job *job, int64_t b) {
  int64_t step = (int64_t)job->block * job->hop;
  int64_t lo = b == 0 ? 0 : b * step - job->pad;
  int64_t hi = b == job->blocks - 1 ? job->len : (b + 1) * step - job->pad;
  if (lo < 0) lo = 0;
  if (hi > job->len) hi = job->len;
  if (hi <= lo || job->kr->all_finite(job->x + lo, hi - lo)) return -1;
  for (int64_t t = lo; t < hi; t++)
    if (!isfinite(job->x[t])) return t;
  return -1; /* not reached: all_finite found one */
}

/* Block b, frames f0 = b*block .. f0+block-1 (those past the last frame are zeros):
 * windowed into `frames` (block x n floats), transformed into `half` (block x n floats),
 * then split into the spectrogram's columns, or into their magnitudes (`column`, n + 2
 * floats, holds a frame's spectrum when one needs magnitude_fix). Returns the index of
 * the block's first non-finite sample, or -1; nothing is computed when there is one.
 * *overflow is the first frame whose spectrum overflowed float32 (finite samples whose
 * sum does not fit), or left as it was. */
static int64_t forward_block(const forward_job *job, int64_t b, float *restrict frames,
                             float *restrict half, float *restrict column, int64_t *overflow) {
  const int n = job->n;
  const int64_t f0 = b * job->block;
  const int64_t count = job->frames - f0 < job->block ? job->frames - f0 : job->block;
  int64_t bad = block_nonfinite(job, b);
  if (bad >= 0) return bad;
  for (int64_t j = 0; j < count; j++) {
    int64_t start = (f0 + j) * job->hop - job->pad; /* signal index of frame sample 0 */
    int64_t lo = start < 0 ? -start : 0, hi = job->len - start;
    if (lo > n) lo = n;
    if (hi > n) hi = n;
    if (hi < lo) hi = lo;
    job->kr->window(frames + j * n, n, lo, hi, job->x + (start + lo), job->w);
  }
  if (count < job->block)
    memset(frames + count * n, 0, (size_t)(job->block - count) * (size_t)n * sizeof(float));
  fftwf_execute_dft(job->plan, (fftwf_complex *)frames, (fftwf_complex *)half);
  for (int64_t j = 0; j < count; j++) {
    const float *Z = half + j * n;
    if (job->out != NULL) {
      job->kr->split(Z, job->twr, job->twi, n / 2, job->out + 2 * (f0 + j) * job->bins);
    } else {
      float *m = job->mag + (f0 + j) * job->bins;
      if (job->kr->split_magnitude(Z, job->twr, job->twi, n / 2, m)) {
        job->kr->split(Z, job->twr, job->twi, n / 2, column);
        magnitude_fix(column, (size_t)job->bins, m);
      }
    }
  }
  /* Samples are finite here, so a non-finite spectrum is an overflow. */
  const int64_t width = job->out != NULL ? 2 * job->bins : job->bins;
  const float *first = job->out != NULL ? job->out + 2 * f0 * job->bins : job->mag + f0 * job->bins;
  if (!job->kr->all_finite(first, count * width))
    for (int64_t j = 0; j < count; j++)
      if (!job->kr->all_finite(first + j * width, width)) {
        *overflow = f0 + j;
        break;
      }
  return -1;
}

/* One worker's share of a forward transform: a stretch of blocks, with its own scratch, the
 * first bad sample and the first overflowing frame it met (INT64_MAX: none), and whether
 * an interrupt stopped it. A worker stops at its first problem: the others are reported
 * only if they come first in the signal. */
typedef struct forward_share {
  forward_job *job;
  float *scratch;
  size_t mine_floats, block_floats;
  int workers;
  int64_t bad[TSR_POOL_MAX_THREADS], overflow[TSR_POOL_MAX_THREADS];
  int interrupted[TSR_POOL_MAX_THREADS];
} forward_share;

static void forward_worker(void *ctx, int w) {
  forward_share *f = ctx;
  float *mine = f->scratch + (size_t)w * f->mine_floats;
  int64_t lo, hi, bad = INT64_MAX, overflow = INT64_MAX;
  int interrupted = 0;
  share(f->job->blocks, w, f->workers, &lo, &hi);
  for (int64_t b = lo; b < hi && bad == INT64_MAX && overflow == INT64_MAX; b++) {
    if (tsr_interrupted()) { /* Ctrl-C, SIGTERM, a recipe's time limit */
      interrupted = 1;
      break;
    }
    int64_t t = forward_block(f->job, b, mine, mine + f->block_floats, mine + 2 * f->block_floats,
                              &overflow);
    if (t >= 0) bad = t;
  }
  f->bad[w] = bad;
  f->overflow[w] = overflow;
  f->interrupted[w] = interrupted;
}

/* Runs fn(ctx, w) for w in 0..workers-1 on a pool of that many threads (the caller alone when
 * workers is 1 or no helper can be had); returns the workers that ran. set_workers tells fn's
 * context how many there are before any runs. */
static int run_shared(int workers, void (*fn)(void *ctx, int w), void *ctx, int *set_workers) {
  tsr_pool *pool = workers > 1 ? tsr_pool_open(workers) : NULL;
  workers = pool != NULL ? tsr_pool_threads(pool) : 1;
  *set_workers = workers;
  if (pool != NULL) tsr_pool_each(pool, fn, ctx);
  else fn(ctx, 0);
  tsr_pool_close(pool);
  return workers;
}

/* The forward transform of x into job's output, once the caller has checked cfg and the
 * output's geometry. */
static int forward_run(forward_job *job, const tsr_stft_config *cfg, int threads,
                       tsr_error *err) {
  int status = TSR_OK;
  const int n = cfg->n_fft, block = block_frames(n);
  job->kr = pick_kernels();
  job->pad = cfg->center ? n / 2 : 0;
  job->n = n;
  job->hop = cfg->hop;
  job->block = block;
  job->blocks = (job->frames + block - 1) / block;
  threads = thread_count(threads, job->blocks, BLOCKS_PER_THREAD);
  /* Each thread's scratch: a block of windowed frames, then their half-length spectra,
   * then one frame's spectrum, each area rounded up to keep the next 64-byte aligned. A
   * block is at most max(BLOCK_FLOATS, n) floats: no overflow. */
  const size_t block_floats = align16((size_t)block * (size_t)n);
  const size_t mine_floats = 2 * block_floats + align16((size_t)n + 2);
  float *w = tsr_alloc((size_t)n * sizeof(float));
  float *tw = tsr_alloc((size_t)n * sizeof(float));
  float *scratch = tsr_alloc((size_t)threads * mine_floats * sizeof(float));
  int transient = 0;
  job->plan = NULL;
  if (w != NULL && tw != NULL && scratch != NULL) job->plan = acquire_plan(n, 0, &transient);
  if (job->plan == NULL) {
    tsr_seterror(err, "cannot allocate the buffers of a %d-point FFT", n);
    status = TSR_ENOMEM;
    goto done;
  }
  tsr_window_fill(cfg->window, n, w);
  for (int i = 0; i < n; i++) w[i] *= 0.5f; /* the 1/2 of E and O (split_bin) */
  float *twr = tw, *twi = tw + n / 2;
  for (int k = 0; k < n / 2; k++) {
    double angle = -2.0 * TSR_PI * (double)k / (double)n;
    twr[k] = (float)cos(angle);
    twi[k] = (float)sin(angle);
  }
  job->w = w;
  job->twr = twr;
  job->twi = twi;
  /* Blocks are independent: a static share of them per thread, so each thread reads one
   * stretch of the signal. */
  forward_share f = {job, scratch, mine_floats, block_floats, 1, {0}, {0}, {0}};
  int workers = run_shared(threads, forward_worker, &f, &f.workers);
  int64_t bad = INT64_MAX, overflow = INT64_MAX;
  int interrupted = 0;
  for (int i = 0; i < workers; i++) {
    if (f.bad[i] < bad) bad = f.bad[i];
    if (f.overflow[i] < overflow) overflow = f.overflow[i];
    interrupted |= f.interrupted[i];
  }
  release_plan(job->plan, transient);
  if (bad != INT64_MAX) {
    tsr_seterror(err, "sample %lld is %s", (long long)(bad + 1), isnan(job->x[bad]) ? "nan" :
                 (job->x[bad] > 0 ? "inf" : "-inf"));
    status = TSR_ENOTFINITE;
  } else if (interrupted) {
    tsr_seterror(err, "interrupted");
    status = TSR_EINTR;
  } else if (overflow != INT64_MAX) {
    tsr_seterror(err, "frame %lld overflows float32 (its samples are too large to sum; scale "
                 "the signal down)", (long long)(overflow + 1));
    status = TSR_ENOTFINITE;
  }
done:
  tsr_free(w);
  tsr_free(tw);
  tsr_free(scratch);
  return status;
}

int tsr_stft_forward_threads(const float *x, int64_t len, const tsr_stft_config *cfg,
                             int threads, tsr_spectrogram *out, tsr_error *err) {
  int status = geometry_matches(out, cfg, len, err);
  if (status != TSR_OK) return status;
  if (out->data == NULL) {
    tsr_seterror(err, "the output spectrogram has no data");
    return TSR_EINVAL;
  }
  forward_job job = {0};
  job.x = x;
  job.len = len;
  job.frames = out->frames;
  job.bins = out->bins;
  job.out = out->data;
  return forward_run(&job, cfg, threads, err);
}

int tsr_stft_forward(const float *x, int64_t len, const tsr_stft_config *cfg,
                     tsr_spectrogram *out, tsr_error *err) {
  return tsr_stft_forward_threads(x, len, cfg, 0, out, err);
}

int tsr_stft_magnitude(const float *x, int64_t len, const tsr_stft_config *cfg, int threads,
                       tsr_matrix *out, tsr_error *err) {
  tsr_spectrogram want;
  int status = tsr_stft_geometry(cfg, len, 0, &want, err);
  if (status != TSR_OK) return status;
  if (out->rows != want.bins || out->cols != want.frames || out->data == NULL) {
    tsr_seterror(err, "the output matrix is %lld x %lld, expected %lld x %lld for this signal "
                 "and configuration", (long long)out->rows, (long long)out->cols,
                 (long long)want.bins, (long long)want.frames);
    return TSR_EINVAL;
  }
  forward_job job = {0};
  job.x = x;
  job.len = len;
  job.frames = want.frames;
  job.bins = want.bins;
  job.mag = out->data;
  return forward_run(&job, cfg, threads, err);
}

/* Adds one frame's windowed samples into a run of ring slots. */
static void overlap_add(double *restrict acc, double *restrict wss, const float *restrict fr,
                        const double *restrict ws, const double *restrict w2, int count) {
#pragma omp simd
  for (int i = 0; i < count; i++) {
    acc[i] += (double)fr[i] * ws[i];
    wss[i] += w2[i];
  }
}

int tsr_stft_inverse(const tsr_spectrogram *s, float *y, int64_t length, tsr_error *err) {
  tsr_stft_config cfg = {s->n_fft, s->hop, s->window, s->center};
  int status = tsr_stft_check(&cfg, err);
  if (status != TSR_OK) return status;
  if (s->bins != s->n_fft / 2 + 1 || s->frames < 1 || s->data == NULL) {
    tsr_seterror(err, "a spectrogram of %lld x %lld does not match n_fft %d",
                 (long long)s->bins, (long long)s->frames, s->n_fft);
    return TSR_EINVAL;
  }
  if (length < 0) {
    tsr_seterror(err, "length must be >= 0, got %lld", (long long)length);
    return TSR_EINVAL;
  }
  const int n = s->n_fft, hop = s->hop, block = block_frames(n);
  const int64_t bins = s->bins, pad = s->center ? n / 2 : 0;
  if (length > 0) memset(y, 0, (size_t)length * sizeof(float));
  float *w = tsr_alloc((size_t)n * sizeof(float));
  float *frames = tsr_alloc((size_t)block * (size_t)n * sizeof(float));
  fftwf_complex *spec = tsr_alloc((size_t)block * (size_t)bins * sizeof(fftwf_complex));
  /* The window over n (the 1/n of the unnormalised inverse folded in) and its square. */
  double *ws = tsr_alloc((size_t)n * sizeof(double));
  double *w2 = tsr_alloc((size_t)n * sizeof(double));
  /* A ring over the n positions a frame spans: position p lives in slot p % n until no
   * later frame can reach it, then it is written out. O(n_fft) memory for any length. */
  double *acc = tsr_calloc((size_t)n, sizeof(double));
  double *wss = tsr_calloc((size_t)n, sizeof(double));
  int transient = 0;
  fftwf_plan plan = NULL;
  if (w != NULL && frames != NULL && spec != NULL && ws != NULL && w2 != NULL && acc != NULL &&
      wss != NULL)
    plan = acquire_plan(n, 1, &transient);
  if (plan == NULL) {
    tsr_seterror(err, "cannot allocate the buffers of a %d-point inverse FFT", n);
    status = TSR_ENOMEM;
    goto done;
  }
  tsr_window_fill(s->window, n, w);
  for (int i = 0; i < n; i++) {
    ws[i] = (double)w[i] / (double)n;
    w2[i] = (double)w[i] * (double)w[i];
  }
  for (int64_t f0 = 0; f0 < s->frames; f0 += block) {
    if (tsr_interrupted()) { /* Ctrl-C, SIGTERM, a recipe's time limit */
      tsr_seterror(err, "interrupted");
      status = TSR_EINTR;
      break;
    }
    int64_t count = s->frames - f0 < block ? s->frames - f0 : block;
    /* c2r overwrites its input, so it works on a copy of the columns; a partial block is
     * padded with zero spectra. */
    memcpy(spec, s->data + 2 * f0 * bins, (size_t)(count * bins) * sizeof(fftwf_complex));
    if (count < block)
      memset(spec + count * bins, 0, (size_t)((block - count) * bins) * sizeof(fftwf_complex));
    fftwf_execute_dft_c2r(plan, spec, frames);
    for (int64_t j = 0; j < count; j++) {
      const int64_t f = f0 + j, base = f * hop;
      const float *fr = frames + j * n;
      const int slot0 = (int)(base % n), first = n - slot0;
      overlap_add(acc + slot0, wss + slot0, fr, ws, w2, first);
      overlap_add(acc, wss, fr + first, ws + first, w2 + first, slot0);
      /* Positions before the next frame's start are final. */
      int64_t end = f + 1 < s->frames ? base + hop : base + n;
      int slot = slot0;
      for (int64_t p = base; p < end; p++) {
        int64_t t = p - pad;
        if (t >= 0 && t < length)
          y[t] = (float)(wss[slot] > FLT_MIN ? acc[slot] / wss[slot] : acc[slot]);
        acc[slot] = 0.0;
        wss[slot] = 0.0;
        if (++slot == n) slot = 0;
      }
    }
  }
  release_plan(plan, transient);
done:
  tsr_free(w);
  tsr_free(frames);
  tsr_free(spec);
  tsr_free(ws);
  tsr_free(w2);
  tsr_free(acc);
  tsr_free(wss);
  return status;
}

/* ---- element-wise views ------------------------------------------------------------ */

static size_t entries(const tsr_spectrogram *s) { return (size_t)s->bins * (size_t)s->frames; }

/* Entries per pass of the magnitude loop: small enough that the entries magnitude_fix
 * redoes are still in cache. A large spectrogram's chunks are shared among threads, each thread
 * taking at least VIEW_CHUNKS_PER_THREAD of them (a million entries). */
#define VIEW_CHUNK 4096
#define VIEW_CHUNKS_PER_THREAD 256

/* |X| in float: per entry, sqrtf(re*re + im*im), or the same in double where
 * magnitude_fine says the float sum of squares under- or overflows. A large spectrogram's
 * chunks are shared among threads. */
typedef struct magnitude_share {
  const stft_kernels *kr;
  const float *d;
  float *out;
  size_t count;
  int64_t chunks;
  int workers;
} magnitude_share;

static void magnitude_worker(void *ctx, int w) {
  const magnitude_share *m = ctx;
  int64_t lo, hi;
  share(m->chunks, w, m->workers, &lo, &hi);
  for (int64_t i = lo; i < hi; i++) {
    const size_t c = (size_t)i * VIEW_CHUNK;
    const size_t run = m->count - c < VIEW_CHUNK ? m->count - c : VIEW_CHUNK;
    if (m->kr->magnitude(m->d + 2 * c, run, m->out + c))
      magnitude_fix(m->d + 2 * c, run, m->out + c);
  }
}

void tsr_spectrogram_magnitude(const tsr_spectrogram *s, float *out) {
  magnitude_share m = {pick_kernels(), s->data, out, entries(s), 0, 1};
  m.chunks = (int64_t)((m.count + VIEW_CHUNK - 1) / VIEW_CHUNK);
  run_shared(thread_count(0, m.chunks, VIEW_CHUNKS_PER_THREAD), magnitude_worker, &m,
             &m.workers);
}

/* |X|^2 in float: a square that underflows was below float's range as a result anyway. */
void tsr_spectrogram_power(const tsr_spectrogram *s, float *out) {
  const size_t count = entries(s);
  const float *restrict d = s->data;
  float *restrict p = out;
#pragma omp simd
  for (size_t k = 0; k < count; k++) p[k] = d[2 * k] * d[2 * k] + d[2 * k + 1] * d[2 * k + 1];
}

void tsr_spectrogram_phase(const tsr_spectrogram *s, float *out) {
  const size_t count = entries(s);
  for (size_t k = 0; k < count; k++) out[k] = atan2f(s->data[2 * k + 1], s->data[2 * k]);
}

void tsr_spectrogram_set_polar(tsr_spectrogram *s, const float *mag, const float *phase) {
  size_t count = entries(s);
  for (size_t k = 0; k < count; k++) {
    if (phase == NULL) {
      s->data[2 * k] = mag[k];
      s->data[2 * k + 1] = 0.0f;
    } else {
      double p = phase[k];
      s->data[2 * k] = (float)(mag[k] * cos(p));
      s->data[2 * k + 1] = (float)(mag[k] * sin(p));
    }
  }
}

void tsr_spectrogram_set_magnitude(tsr_spectrogram *s, const float *mag) {
  const size_t count = entries(s);
  float *restrict d = s->data;
  for (size_t k = 0; k < count; k++) {
    const double re = d[2 * k], im = d[2 * k + 1], r = sqrt(re * re + im * im);
    /* The unit phasor where there is one; phase 0 where the bin is 0 (atan2(0, 0)). */
    const double scale = r > 0.0 ? mag[k] / r : 0.0;
    d[2 * k] = r > 0.0 ? (float)(re * scale) : mag[k];
    d[2 * k + 1] = (float)(im * scale);
  }
}

void tsr_spectrogram_mask(tsr_spectrogram *s, const float *mask) {
  const size_t count = entries(s);
  float *restrict d = s->data;
  const float *restrict m = mask;
#pragma omp simd
  for (size_t k = 0; k < count; k++) {
    d[2 * k] *= m[k];
    d[2 * k + 1] *= m[k];
  }
}
