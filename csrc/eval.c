/* The separation metrics that need no projection: SI-SDR and SD-SDR, the spectral
 * convergence, and the scan of a signal for NaN, Inf and silence. BSS Eval is eval_bss.c. */
#include "eval.h"

#include <math.h>

static double decibels(double num, double den) {
  return den == 0.0 ? INFINITY : 10.0 * log10(num / den);
}

static double mean_of(const float *x, int64_t len) {
  double sum = 0.0;
  for (int64_t t = 0; t < len; t++) sum += x[t];
  return sum / (double)len;
}

int tsr_si_sdr(const float *y, const float *s, int64_t len, int zero_mean, double *si_sdr,
               double *sd_sdr, tsr_error *err) {
  if (len < 1) {
    tsr_seterror(err, "the signals have no samples");
    return TSR_EINVAL;
  }
  double my = zero_mean ? mean_of(y, len) : 0.0, ms = zero_mean ? mean_of(s, len) : 0.0;
  double ys = 0.0, ss = 0.0;
  for (int64_t t = 0; t < len; t++) {
    double a = y[t] - my, b = s[t] - ms;
    ys += a * b;
    ss += b * b;
  }
  if (ss == 0.0) {
    tsr_seterror(err, zero_mean ? "the reference is constant (zero once its mean is removed)"
                                : "the reference is silent");
    return TSR_EINVAL;
  }
  /* The residues are summed again rather than expanded, so that a close estimate keeps its
   * digits instead of losing them to cancellation. */
  const double alpha = ys / ss;
  double target2 = 0.0, scaled_err2 = 0.0, plain_err2 = 0.0;
  for (int64_t t = 0; t < len; t++) {
    double a = y[t] - my, b = s[t] - ms;
    target2 += alpha * b * alpha * b;
    scaled_err2 += (alpha * b - a) * (alpha * b - a);
    plain_err2 += (b - a) * (b - a);
  }
  *si_sdr = decibels(target2, scaled_err2);
  *sd_sdr = decibels(target2, plain_err2);
  return TSR_OK;
}

int tsr_spectral_convergence(const tsr_matrix *ref, const tsr_matrix *est, double *out,
                             tsr_error *err) {
  if (ref->rows != est->rows || ref->cols != est->cols) {
    tsr_seterror(err, "the spectrograms differ in shape (%lld x %lld and %lld x %lld)",
                 (long long)ref->rows, (long long)ref->cols, (long long)est->rows,
                 (long long)est->cols);
    return TSR_EINVAL;
  }
  const int64_t n = ref->rows * ref->cols;
  double diff2 = 0.0, ref2 = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double r = fabs((double)ref->data[i]), d = r - fabs((double)est->data[i]);
    diff2 += d * d;
    ref2 += r * r;
  }
  if (ref2 == 0.0) {
    tsr_seterror(err, "the reference's spectrogram is all zero");
    return TSR_EINVAL;
  }
  *out = sqrt(diff2 / ref2);
  return TSR_OK;
}

int64_t tsr_eval_scan(const float *x, int64_t len, double *energy) {
  double sum = 0.0;
  for (int64_t t = 0; t < len; t++) {
    if (!isfinite(x[t])) return t;
    sum += (double)x[t] * x[t];
  }
  *energy = sum;
  return -1;
}
