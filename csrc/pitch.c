/* Pitch shifting of magnitude and phase spectrograms by frequency scaling (see pitch.h). */
#include "pitch.h"

#include <math.h>

static const double TWO_PI = 6.283185307179586476925286766559;

/* x wrapped into (-pi, pi]. */
static double principal(double x) { return x - TWO_PI * floor(x / TWO_PI + 0.5); }

void tsr_pitch_magnitude(const float *in, int64_t bins, int64_t frames, const double *ratio,
                         float *out) {
  for (int64_t t = 0; t < frames; t++) {
    const float *x = in + t * bins;
    float *y = out + t * bins;
    const double inv = 1.0 / ratio[t];
    for (int64_t b = 0; b < bins; b++) {
      const double at = (double)b * inv;
      const int64_t i = (int64_t)at;
      if (i >= bins - 1) {
        /* The last bin itself, or past it. */
        y[b] = i == bins - 1 && at == (double)i ? x[i] : 0.0f;
        continue;
      }
      const double f = at - (double)i;
      y[b] = (float)((1.0 - f) * x[i] + f * x[i + 1]);
    }
  }
}

void tsr_pitch_phase(const float *phase, int64_t bins, int64_t frames, const double *ratio,
                     int64_t n_fft, int64_t hop, float *out) {
  const double per_bin = TWO_PI * (double)hop / (double)n_fft; /* a bin's advance per hop */
  for (int64_t t = 0; t < frames; t++) {
    const float *now = phase + t * bins, *before = phase + (t > 0 ? t - 1 : 0) * bins;
    const float *acc = out + (t > 0 ? t - 1 : 0) * bins;
    float *y = out + t * bins;
    const double r = ratio[t];
    for (int64_t b = 0; b < bins; b++) {
      int64_t s = (int64_t)floor((double)b / r + 0.5);
      if (s > bins - 1) s = bins - 1;
      if (t == 0) {
        y[b] = (float)principal(r * now[s]);
        continue;
      }
      const double expected = per_bin * (double)s;
      const double advance = expected + principal((double)now[s] - before[s] - expected);
      y[b] = (float)principal((double)acc[b] + r * advance);
    }
  }
}
