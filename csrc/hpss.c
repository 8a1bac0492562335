/* Harmonic/percussive separation by median filtering: a sliding-window median along time
 * and along frequency with scipy.ndimage's 'reflect' boundary, and the masks built from
 * the two filtered spectrograms (librosa.decompose.hpss, Driedger's margins). */
#include "hpss.h"
#include "pool.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int tsr_hpss_check(const tsr_hpss_config *cfg, tsr_error *err) {
  if (cfg->kernel_h < 1 || cfg->kernel_h > TSR_HPSS_MAX_KERNEL) {
    tsr_seterror(err, "harmonic kernel must be in 1..%d frames, got %lld", TSR_HPSS_MAX_KERNEL,
                 (long long)cfg->kernel_h);
    return TSR_EINVAL;
  }
  if (cfg->kernel_p < 1 || cfg->kernel_p > TSR_HPSS_MAX_KERNEL) {
    tsr_seterror(err, "percussive kernel must be in 1..%d bins, got %lld", TSR_HPSS_MAX_KERNEL,
                 (long long)cfg->kernel_p);
    return TSR_EINVAL;
  }
  if (!(cfg->margin_h >= 1.0 && isfinite(cfg->margin_h)) ||
      !(cfg->margin_p >= 1.0 && isfinite(cfg->margin_p))) {
    tsr_seterror(err, "margins must be finite and >= 1, got %g and %g", cfg->margin_h,
                 cfg->margin_p);
    return TSR_EINVAL;
  }
  if (!cfg->hard && !(cfg->power > 0.0 && isfinite(cfg->power))) {
    tsr_seterror(err, "power must be finite and > 0, got %g", cfg->power);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* ---- the sliding median ------------------------------------------------------------ */

/* scipy.ndimage's 'reflect' (d c b a | a b c d | d c b a): the edge sample repeats, and a
 * window longer than the line keeps reflecting. */
static int64_t reflect(int64_t i, int64_t n) {
  int64_t period = 2 * n, j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - 1 - j;
}

/* The first position in sorted[0..count) whose value is >= v. */
static int64_t lower_bound(const float *sorted, int64_t count, float v) {
  int64_t lo = 0, hi = count;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Takes `out_v` out of the sorted window and puts `in_v` in, moving only the entries
 * between their two places. */
static void window_replace(float *sorted, int64_t size, float out_v, float in_v) {
  int64_t at = lower_bound(sorted, size, out_v);
  if (in_v > out_v) {
    while (at + 1 < size && sorted[at + 1] < in_v) {
      sorted[at] = sorted[at + 1];
      at++;
    }
  } else {
    while (at > 0 && sorted[at - 1] > in_v) {
      sorted[at] = sorted[at - 1];
      at--;
    }
  }
  sorted[at] = in_v;
}

static int compare_floats(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

typedef struct median_job {
  const float *x;
  float *out;
  int64_t lines, length;   /* lines to filter, samples in each */
  int64_t line_step, step; /* distance between lines' starts, between a line's samples */
  int64_t size;
  float *scratch;          /* size floats per worker */
  int workers;
  int interrupted[TSR_POOL_MAX_THREADS];
} median_job;

/* Filters one line: the first window sorted once, then each step swaps one sample. */
static void median_line(const median_job *job, int64_t line, float *sorted) {
  const float *x = job->x + line * job->line_step;
  float *out = job->out + line * job->line_step;
  const int64_t n = job->length, size = job->size, before = size / 2, rank = size / 2;
  for (int64_t j = 0; j < size; j++) sorted[j] = x[reflect(j - before, n) * job->step];
  qsort(sorted, (size_t)size, sizeof *sorted, compare_floats);
  out[0] = sorted[rank];
  for (int64_t i = 1; i < n; i++) {
    float leaving = x[reflect(i - 1 - before, n) * job->step];
    float entering = x[reflect(i - before + size - 1, n) * job->step];
    if (leaving != entering) window_replace(sorted, size, leaving, entering);
    out[i * job->step] = sorted[rank];
  }
}

/* Worker w takes the w-th of equal stretches of the lines: each output is one line's own
 * median, so how the lines are shared changes nothing. */
static void median_worker(void *ctx, int w) {
  median_job *job = ctx;
  float *sorted = job->scratch + (size_t)w * (size_t)job->size;
  int64_t lo = job->lines * w / job->workers, hi = job->lines * (w + 1) / job->workers;
  job->interrupted[w] = 0;
  for (int64_t line = lo; line < hi; line++) {
    if (tsr_interrupted()) { /* Ctrl-C, SIGTERM, a recipe's time limit */
      job->interrupted[w] = 1;
      return;
    }
    median_line(job, line, sorted);
  }
}

int tsr_median_filter(const float *x, int64_t rows, int64_t cols, int axis, int64_t size,
                      int threads, float *out, tsr_error *err) {
  if (size < 1 || size > TSR_HPSS_MAX_KERNEL || rows < 0 || cols < 0 || (axis != 0 && axis != 1)) {
    tsr_seterror(err, "median kernel must be in 1..%d, got %lld", TSR_HPSS_MAX_KERNEL,
                 (long long)size);
    return TSR_EINVAL;
  }
  if (rows == 0 || cols == 0) return TSR_OK;
  median_job job = {.x = x, .out = out, .size = size};
  if (axis == 1) { /* along a row: samples a column apart */
    job.lines = rows, job.length = cols, job.line_step = 1, job.step = rows;
  } else {
    job.lines = cols, job.length = rows, job.line_step = rows, job.step = 1;
  }
  /* A thread is worth its start-up from some thousands of samples filtered. */
  int64_t useful = job.lines * job.length / 65536;
  int workers = threads > 0 ? threads : tsr_pool_default_threads();
  if (workers > useful) workers = (int)useful;
  if (workers > job.lines) workers = (int)job.lines;
  if (workers > TSR_POOL_MAX_THREADS) workers = TSR_POOL_MAX_THREADS;
  if (workers < 1) workers = 1;
  tsr_pool *pool = workers > 1 ? tsr_pool_open(workers) : NULL;
  workers = pool != NULL ? tsr_pool_threads(pool) : 1;
  size_t bytes = (size_t)workers * (size_t)size * sizeof(float);
  job.scratch = tsr_alloc(bytes);
  if (job.scratch == NULL) {
    tsr_pool_close(pool);
    return tsr_alloc_failure(bytes, "the median filter's windows", err);
  }
  job.workers = workers;
  if (pool != NULL) tsr_pool_each(pool, median_worker, &job);
  else median_worker(&job, 0);
  tsr_pool_close(pool);
  tsr_free(job.scratch);
  for (int w = 0; w < workers; w++)
    if (job.interrupted[w]) {
      tsr_seterror(err, "interrupted");
      return TSR_EINTR;
    }
  return TSR_OK;
}

/* ---- masks ------------------------------------------------------------------------- */

/* librosa.util.softmask(x, ref, power, split_zeros), in double. */
static float soft_mask(double x, double ref, double power, int split_zeros) {
  double z = x > ref ? x : ref;
  if (z < FLT_MIN) return split_zeros ? 0.5f : 0.0f;
  double a = pow(x / z, power), b = pow(ref / z, power);
  return (float)(a / (a + b));
}

static int check_magnitude(const float *mag, int64_t count, int64_t bins, tsr_error *err) {
  for (int64_t i = 0; i < count; i++) {
    if (isfinite(mag[i]) && mag[i] >= 0.0f) continue;
    tsr_seterror(err, "magnitude entry (%lld, %lld) is %g", (long long)(i % bins + 1),
                 (long long)(i / bins + 1), (double)mag[i]);
    return TSR_ENOTFINITE;
  }
  return TSR_OK;
}

int tsr_hpss_masks(const float *mag, int64_t bins, int64_t frames, const tsr_hpss_config *cfg,
                   float *mask_h, float *mask_p, tsr_error *err) {
  int status = tsr_hpss_check(cfg, err);
  if (status != TSR_OK) return status;
  const int64_t count = bins * frames;
  if ((status = check_magnitude(mag, count, bins, err)) != TSR_OK) return status;
  /* The filtered spectrograms are made in the masks' own memory, then turned into masks. */
  status = tsr_median_filter(mag, bins, frames, 1, cfg->kernel_h, cfg->threads, mask_h, err);
  if (status == TSR_OK)
    status = tsr_median_filter(mag, bins, frames, 0, cfg->kernel_p, cfg->threads, mask_p, err);
  if (status != TSR_OK) return status;
  const double mh = cfg->margin_h, mp = cfg->margin_p;
  const int split_zeros = mh == 1.0 && mp == 1.0;
  for (int64_t i = 0; i < count; i++) {
    double h = mask_h[i], p = mask_p[i];
    if (cfg->hard) {
      mask_h[i] = h > mh * p ? 1.0f : 0.0f;
      mask_p[i] = p >= mp * h ? 1.0f : 0.0f;
    } else {
      mask_h[i] = soft_mask(h, mh * p, cfg->power, split_zeros);
      mask_p[i] = soft_mask(p, mp * h, cfg->power, split_zeros);
    }
  }
  return TSR_OK;
}

/* ---- percussiveness of NMF components ---------------------------------------------- */

int tsr_hpss_mask_share(const float *W, const float *H, int64_t bins, int64_t frames, int64_t k,
                        int64_t T, const float *mag, const float *mask, double *out,
                        tsr_error *err) {
  size_t kb, doubles, bytes;
  if (tsr_mul_size((size_t)k, (size_t)bins, &kb) != 0 ||
      (doubles = kb + (size_t)bins + 2 * (size_t)k) < kb ||
      tsr_mul_size(doubles, sizeof(double), &bytes) != 0) {
    tsr_seterror(err, "the components' energies for k = %lld overflow", (long long)k);
    return TSR_ELIMIT;
  }
  double *comp = tsr_alloc(bytes);
  if (comp == NULL) return tsr_alloc_failure(bytes, "the components' energies", err);
  double *wh = comp + kb, *energy = wh + bins, *kept = energy + k;
  memset(energy, 0, 2 * (size_t)k * sizeof(double));
  for (int64_t f = 0; f < frames; f++) {
    if (tsr_interrupted()) {
      tsr_free(comp);
      tsr_seterror(err, "interrupted");
      return TSR_EINTR;
    }
    /* Each component's column of this frame (its template's frames against its earlier
     * activations when T > 1), then their sum W H. */
    for (int64_t i = 0; i < k; i++) {
      double *c = comp + i * bins;
      for (int64_t b = 0; b < bins; b++) c[b] = 0.0;
      for (int64_t t = 0; t < T && t <= f; t++) {
        const double h = H[i + (f - t) * k];
        const float *w = W + (i + t * k) * bins;
        for (int64_t b = 0; b < bins; b++) c[b] += (double)w[b] * h;
      }
    }
    for (int64_t b = 0; b < bins; b++) wh[b] = 0.0;
    for (int64_t i = 0; i < k; i++)
      for (int64_t b = 0; b < bins; b++) wh[b] += comp[i * bins + b];
    for (int64_t i = 0; i < k; i++) {
      for (int64_t b = 0; b < bins; b++) {
        /* Where W H is 0 each component's mask is 1/k, as m:audio's Wiener masks. */
        double share = wh[b] > 0.0 ? comp[i * bins + b] / wh[b] : 1.0 / (double)k;
        double v = mag[b + f * bins] * share;
        double m = mask[b + f * bins];
        energy[i] += v * v;
        kept[i] += m * m * v * v;
      }
    }
  }
  for (int64_t i = 0; i < k; i++) out[i] = energy[i] > 0.0 ? kept[i] / energy[i] : 0.0;
  tsr_free(comp);
  return TSR_OK;
}
