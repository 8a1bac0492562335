/* Griffin-Lim phase reconstruction with momentum ("fast Griffin-Lim", Perraudin et al.
 * 2013, the update librosa.griffinlim uses) and the soft-mask ratio, on top of the STFT
 * kernels of stft.c. */
#include "listen.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define TSR_TWO_PI 6.28318530717958647692

/* splitmix64: a small, well-mixed generator, so the random phase depends on the seed
 * alone (not on libc's rand). */
static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* || |R| - mag ||_F / ||mag||_F, accumulated in double. */
static double spectral_convergence(const float *mag, const float *R, size_t count) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < count; i++) {
    double a = hypot(R[2 * i], R[2 * i + 1]) - mag[i];
    diff += a * a;
    norm += (double)mag[i] * mag[i];
  }
  return norm > 0.0 ? sqrt(diff / norm) : 0.0;
}

int tsr_griffinlim(const float *mag, const tsr_spectrogram *geom,
                   const tsr_griffinlim_params *prm, float *y, double *convergence,
                   tsr_error *err) {
  if (prm->iter < 0) {
    tsr_seterror(err, "iter must be >= 0, got %d", prm->iter);
    return TSR_EINVAL;
  }
  if (!(prm->momentum >= 0.0 && prm->momentum <= 1.0)) {
    tsr_seterror(err, "momentum must be in [0, 1], got %g", prm->momentum);
    return TSR_EINVAL;
  }
  tsr_stft_config cfg = {geom->n_fft, geom->hop, geom->window, geom->center};
  int status = tsr_spectrogram_check(geom, err);
  if (status != TSR_OK) return status;
  tsr_spectrogram shape = *geom;
  shape.data = NULL;
  size_t floats;
  tsr_spectrogram_floats(&shape, &floats); /* checked by tsr_stft_geometry */
  const size_t count = floats / 2;

  /* X: the current estimate mag * e^(i angle); R and P: this and the previous STFT of
   * its inverse (swapped each iteration, so no copy). */
  tsr_spectrogram X = shape, R = shape, P = shape;
  X.data = tsr_alloc(floats * sizeof(float));
  R.data = tsr_alloc(floats * sizeof(float));
  P.data = tsr_calloc(floats, sizeof(float));
  if (X.data == NULL || R.data == NULL || P.data == NULL) {
    tsr_seterror(err, "cannot allocate three %lld x %lld spectrograms",
                 (long long)shape.bins, (long long)shape.frames);
    status = TSR_ENOMEM;
    goto done;
  }
  if (prm->init_phase != NULL) {
    tsr_spectrogram_set_polar(&X, mag, prm->init_phase);
  } else if (prm->pghi) { /* R is free until the first update: its first half holds the phase */
    status = tsr_pghi(mag, geom, R.data, err);
    if (status != TSR_OK) goto done;
    tsr_spectrogram_set_polar(&X, mag, R.data);
  } else {
    uint64_t state = prm->seed;
    for (size_t i = 0; i < count; i++) {
      double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
      X.data[2 * i] = (float)(mag[i] * cos(TSR_TWO_PI * u));
      X.data[2 * i + 1] = (float)(mag[i] * sin(TSR_TWO_PI * u));
    }
  }

  /* librosa's form of the accelerated update: c = R_t - momentum/(1+momentum) * R_{t-1},
   * then the phase of c with the target magnitude. */
  const float beta = (float)(prm->momentum / (1.0 + prm->momentum));
  for (int it = 0; it < prm->iter; it++) {
    status = tsr_stft_inverse(&X, y, geom->length, err);
    if (status == TSR_OK) status = tsr_stft_forward(y, geom->length, &cfg, &R, err);
    if (status != TSR_OK) goto done;
    if (convergence != NULL) convergence[it] = spectral_convergence(mag, R.data, count);
    for (size_t i = 0; i < count; i++) {
      float re = R.data[2 * i] - beta * P.data[2 * i];
      float im = R.data[2 * i + 1] - beta * P.data[2 * i + 1];
      float scale = mag[i] / (hypotf(re, im) + FLT_MIN);
      X.data[2 * i] = re * scale;
      X.data[2 * i + 1] = im * scale;
    }
    float *swap = P.data;
    P.data = R.data;
    R.data = swap;
  }
  status = tsr_stft_inverse(&X, y, geom->length, err);
  if (status == TSR_OK && convergence != NULL) {
    status = tsr_stft_forward(y, geom->length, &cfg, &R, err);
    if (status == TSR_OK) convergence[prm->iter] = spectral_convergence(mag, R.data, count);
  }

done:
  tsr_free(X.data);
  tsr_free(R.data);
  tsr_free(P.data);
  return status;
}

void tsr_listen_ratio(const float *num, const float *den, size_t count, float zero,
                      float *out) {
  for (size_t i = 0; i < count; i++) out[i] = den[i] > FLT_MIN ? num[i] / den[i] : zero;
}
