/* Short-time Fourier transform and its inverse on FFTW3 (single precision), following
 * librosa's conventions: periodic windows, optional centring with n_fft/2 zeros, an
 * unnormalised forward transform, and overlap-add with window-sum-square normalisation. */
#include "stft.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
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

/* ---- FFTW plans ------------------------------------------------------------------------
 * One plan per (n_fft, direction), made with FFTW_ESTIMATE (no timing, so the same plan
 * and bit-identical output every run) and executed on each call's own buffers with the
 * new-array interface, which is thread-safe. The planner itself is not, hence the lock
 * around planning and destroying. Cached plans stay reachable from this table until exit;
 * past PLAN_CACHE_MAX sizes a plan is made for the call and destroyed after it. */

#define PLAN_CACHE_MAX 32

typedef struct plan_entry {
  int n, inverse;
  fftwf_plan plan;
} plan_entry;

static plan_entry plan_cache[PLAN_CACHE_MAX];
static int plan_count = 0;
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Plans on scratch arrays of FFTW's own alignment; tsr_alloc's 64-byte alignment satisfies
 * the same SIMD constraints, so the plan runs on our buffers. Call with plan_lock held. */
static fftwf_plan make_plan(int n, int inverse) {
  float *r = fftwf_alloc_real((size_t)n);
  fftwf_complex *c = fftwf_alloc_complex((size_t)n / 2 + 1);
  fftwf_plan plan = NULL;
  if (r != NULL && c != NULL)
    plan = inverse ? fftwf_plan_dft_c2r_1d(n, c, r, FFTW_ESTIMATE | FFTW_DESTROY_INPUT)
                   : fftwf_plan_dft_r2c_1d(n, r, c, FFTW_ESTIMATE);
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

int tsr_stft_forward(const float *x, int64_t len, const tsr_stft_config *cfg,
                     tsr_spectrogram *out, tsr_error *err) {
  int status = geometry_matches(out, cfg, len, err);
  if (status != TSR_OK) return status;
  if (out->data == NULL) {
    tsr_seterror(err, "the output spectrogram has no data");
    return TSR_EINVAL;
  }
  for (int64_t t = 0; t < len; t++) {
    if (!isfinite(x[t])) {
      tsr_seterror(err, "sample %lld is %s", (long long)(t + 1), isnan(x[t]) ? "nan" :
                   (x[t] > 0 ? "inf" : "-inf"));
      return TSR_ENOTFINITE;
    }
  }
  const int n = cfg->n_fft;
  const int64_t bins = out->bins, pad = cfg->center ? n / 2 : 0;
  float *w = tsr_alloc((size_t)n * sizeof(float));
  float *frame = tsr_alloc((size_t)n * sizeof(float));
  fftwf_complex *spec = tsr_alloc((size_t)bins * sizeof(fftwf_complex));
  int transient = 0;
  fftwf_plan plan = NULL;
  if (w != NULL && frame != NULL && spec != NULL) plan = acquire_plan(n, 0, &transient);
  if (plan == NULL) {
    tsr_seterror(err, "cannot allocate the buffers of a %d-point FFT", n);
    status = TSR_ENOMEM;
    goto done;
  }
  tsr_window_fill(cfg->window, n, w);
  for (int64_t f = 0; f < out->frames; f++) {
    int64_t start = f * cfg->hop - pad; /* signal index of frame sample 0 */
    if (start >= 0 && start + n <= len) {
      for (int i = 0; i < n; i++) frame[i] = x[start + i] * w[i];
    } else {
      for (int i = 0; i < n; i++) {
        int64_t t = start + i;
        frame[i] = (t >= 0 && t < len) ? x[t] * w[i] : 0.0f;
      }
    }
    fftwf_execute_dft_r2c(plan, frame, spec);
    /* The column is not necessarily SIMD-aligned, so FFTW writes to spec and we copy. */
    memcpy(out->data + 2 * f * bins, spec, (size_t)bins * sizeof(fftwf_complex));
  }
  release_plan(plan, transient);
done:
  tsr_free(w);
  tsr_free(frame);
  tsr_free(spec);
  return status;
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
  const int n = s->n_fft, hop = s->hop;
  const int64_t bins = s->bins, pad = s->center ? n / 2 : 0;
  if (length > 0) memset(y, 0, (size_t)length * sizeof(float));
  float *w = tsr_alloc((size_t)n * sizeof(float));
  float *frame = tsr_alloc((size_t)n * sizeof(float));
  fftwf_complex *spec = tsr_alloc((size_t)bins * sizeof(fftwf_complex));
  /* A ring over the n positions a frame spans: position p lives in slot p % n until no
   * later frame can reach it, then it is written out. O(n_fft) memory for any length. */
  double *acc = tsr_calloc((size_t)n, sizeof(double));
  double *wss = tsr_calloc((size_t)n, sizeof(double));
  int transient = 0;
  fftwf_plan plan = NULL;
  if (w != NULL && frame != NULL && spec != NULL && acc != NULL && wss != NULL)
    plan = acquire_plan(n, 1, &transient);
  if (plan == NULL) {
    tsr_seterror(err, "cannot allocate the buffers of a %d-point inverse FFT", n);
    status = TSR_ENOMEM;
    goto done;
  }
  tsr_window_fill(s->window, n, w);
  const double scale = 1.0 / (double)n;
  for (int64_t f = 0; f < s->frames; f++) {
    /* c2r overwrites its input, so it works on a copy of the column. */
    memcpy(spec, s->data + 2 * f * bins, (size_t)bins * sizeof(fftwf_complex));
    fftwf_execute_dft_c2r(plan, spec, frame);
    int64_t base = f * hop;
    int slot = (int)(base % n);
    for (int i = 0; i < n; i++) {
      double wi = w[i];
      acc[slot] += (double)frame[i] * scale * wi;
      wss[slot] += wi * wi;
      if (++slot == n) slot = 0;
    }
    /* Positions before the next frame's start are final. */
    int64_t end = f + 1 < s->frames ? base + hop : base + n;
    slot = (int)(base % n);
    for (int64_t p = base; p < end; p++) {
      int64_t t = p - pad;
      if (t >= 0 && t < length)
        y[t] = (float)(wss[slot] > FLT_MIN ? acc[slot] / wss[slot] : acc[slot]);
      acc[slot] = 0.0;
      wss[slot] = 0.0;
      if (++slot == n) slot = 0;
    }
  }
  release_plan(plan, transient);
done:
  tsr_free(w);
  tsr_free(frame);
  tsr_free(spec);
  tsr_free(acc);
  tsr_free(wss);
  return status;
}

/* ---- element-wise views ------------------------------------------------------------ */

static size_t entries(const tsr_spectrogram *s) { return (size_t)s->bins * (size_t)s->frames; }

void tsr_spectrogram_magnitude(const tsr_spectrogram *s, float *out) {
  size_t count = entries(s);
  for (size_t k = 0; k < count; k++) {
    double re = s->data[2 * k], im = s->data[2 * k + 1];
    out[k] = (float)sqrt(re * re + im * im);
  }
}

void tsr_spectrogram_power(const tsr_spectrogram *s, float *out) {
  size_t count = entries(s);
  for (size_t k = 0; k < count; k++) {
    double re = s->data[2 * k], im = s->data[2 * k + 1];
    out[k] = (float)(re * re + im * im);
  }
}

void tsr_spectrogram_phase(const tsr_spectrogram *s, float *out) {
  size_t count = entries(s);
  for (size_t k = 0; k < count; k++)
    out[k] = (float)atan2((double)s->data[2 * k + 1], (double)s->data[2 * k]);
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

void tsr_spectrogram_mask(tsr_spectrogram *s, const float *mask) {
  size_t count = entries(s);
  for (size_t k = 0; k < count; k++) {
    s->data[2 * k] *= mask[k];
    s->data[2 * k + 1] *= mask[k];
  }
}
