/* Displacement interpolation between spectra (see morph.h). */
#include "morph.h"

#include <string.h>

static double mass_of(const float *x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}

/* Adds mass m spread evenly over positions [x0, x1) to the bins of out (bin i covers
 * [i, i + 1)); an interval too narrow to split goes to the bin of x0. */
static void deposit(double *out, int64_t n, double x0, double x1, double m) {
  const double width = x1 - x0;
  int64_t i = (int64_t)x0;
  if (i > n - 1) i = n - 1;
  if (!(width > 1e-12)) {
    out[i] += m;
    return;
  }
  const double density = m / width;
  for (double from = x0; from < x1 && i < n; i++) {
    const double to = (double)(i + 1) < x1 ? (double)(i + 1) : x1;
    out[i] += density * (to - from);
    from = to;
  }
}

/* The next bin at or after i with mass, or n. */
static int64_t next_bin(const float *x, int64_t n, int64_t i) {
  while (i < n && !(x[i] > 0.0f)) i++;
  return i;
}

/* out (n doubles, zeroed by the caller) += the unit-mass interpolant of a and b at t, times
 * scale; ma and mb are their masses (both > 0). The two quantile functions are walked
 * together: each piece of mass lies in one bin of a and one of b, and lands evenly on the
 * straight-line interpolation of its two position intervals. */
static void transport(const float *a, double ma, const float *b, double mb, int64_t n, double t,
                      double scale, double *out) {
  int64_t i = next_bin(a, n, 0), j = next_bin(b, n, 0);
  double used_a = 0.0, used_b = 0.0; /* unit mass already taken from bins i and j */
  while (i < n && j < n) {
    const double da = a[i] / ma, db = b[j] / mb;
    const double left_a = da - used_a, left_b = db - used_b;
    const double m = left_a < left_b ? left_a : left_b;
    const double xa0 = (double)i + used_a / da, xa1 = (double)i + (used_a + m) / da;
    const double xb0 = (double)j + used_b / db, xb1 = (double)j + (used_b + m) / db;
    deposit(out, n, (1.0 - t) * xa0 + t * xb0, (1.0 - t) * xa1 + t * xb1, m * scale);
    used_a += m;
    used_b += m;
    /* A bin is used up when what is left of it is rounding. */
    if (da - used_a <= 1e-15 * (da > 1.0 ? da : 1.0)) {
      i = next_bin(a, n, i + 1);
      used_a = 0.0;
    }
    if (db - used_b <= 1e-15 * (db > 1.0 ? db : 1.0)) {
      j = next_bin(b, n, j + 1);
      used_b = 0.0;
    }
  }
}

/* out = the morph of a and b at t, in double scratch acc (n). */
static void morph_into(const float *a, const float *b, int64_t n, double t, double *acc,
                       float *out) {
  const double ma = mass_of(a, n), mb = mass_of(b, n);
  const double total = (1.0 - t) * ma + t * mb;
  memset(acc, 0, (size_t)n * sizeof(double));
  if (ma > 0.0 && mb > 0.0) {
    transport(a, ma, b, mb, n, t, total, acc);
  } else if (ma > 0.0 || mb > 0.0) {
    const float *x = ma > 0.0 ? a : b;
    const double s = total / (ma > 0.0 ? ma : mb);
    for (int64_t i = 0; i < n; i++) acc[i] = x[i] * s;
  }
  for (int64_t i = 0; i < n; i++) out[i] = (float)acc[i];
}

int tsr_morph_spectrum(const float *a, const float *b, int64_t n, double t, float *out,
                       tsr_error *err) {
  const size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
  double *acc = tsr_alloc(bytes);
  if (acc == NULL) return tsr_alloc_failure(bytes, "a morph's scratch column", err);
  morph_into(a, b, n, t, acc, out);
  tsr_free(acc);
  return TSR_OK;
}

int tsr_morph_layer(const float *A, const float *B, int64_t n, int64_t k, const float *H,
                    int64_t frames, const double *t, float *out, tsr_error *err) {
  size_t bytes;
  if (tsr_mul_size((size_t)(n > 0 ? n : 1), sizeof(double) + sizeof(float), &bytes) != 0)
    return tsr_alloc_failure(SIZE_MAX, "a morph's scratch column", err);
  double *acc = tsr_alloc(bytes);
  if (acc == NULL) return tsr_alloc_failure(bytes, "a morph's scratch column", err);
  float *col = (float *)(acc + n);
  memset(out, 0, (size_t)n * (size_t)frames * sizeof(float));
  for (int64_t j = 0; j < frames; j++) {
    float *y = out + j * n;
    for (int64_t c = 0; c < k; c++) {
      const float h = H[j * k + c];
      if (h == 0.0f) continue;
      morph_into(A + c * n, B + c * n, n, t[j], acc, col);
      for (int64_t i = 0; i < n; i++) y[i] += h * col[i];
    }
  }
  tsr_free(acc);
  return TSR_OK;
}
