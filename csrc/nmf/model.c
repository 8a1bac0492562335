/* The NMF model helpers: one component's W_a H_a, normalising, reordering, describing and
 * correlating components. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Reading a model. */

void tsr_nmf_component(const float *W, const float *H, int64_t n, int64_t p, int k, int c,
                       float *out) {
  const float *w = W + (size_t)c * n;
  for (int64_t j = 0; j < p; j++) {
    float h = H[c + j * k];
    float *o = out + j * n;
    for (int64_t i = 0; i < n; i++) o[i] = w[i] * h;
  }
}

/* Component a's frame t of W (n x kT): column a + k t. */
static float *frame_of(const float *W, int64_t n, int k, int a, int t) {
  return (float *)W + ((size_t)t * (size_t)k + (size_t)a) * (size_t)n;
}

void tsr_nmf_normalize(float *W, float *H, int64_t n, int64_t p, int k, int T, int kind) {
  for (int a = 0; a < k; a++) {
    double s = 0.0;
    for (int t = 0; t < T; t++) {
      const float *w = frame_of(W, n, k, a, t);
      for (int64_t i = 0; i < n; i++) {
        double x = fabs((double)w[i]);
        if (kind == TSR_NMF_NORM_SUM) s += x;
        else if (kind == TSR_NMF_NORM_MAX) s = x > s ? x : s;
        else s += x * x;
      }
    }
    double norm = kind == TSR_NMF_NORM_L2 ? sqrt(s) : s;
    if (norm == 0.0) continue;
    for (int t = 0; t < T; t++) {
      float *w = frame_of(W, n, k, a, t);
      for (int64_t i = 0; i < n; i++) w[i] = (float)(w[i] / norm);
    }
    for (int64_t j = 0; j < p; j++) H[a + j * k] = (float)(H[a + j * k] * norm);
  }
}

int tsr_nmf_permute(float *W, float *H, int64_t n, int64_t p, int k, int T, const int *perm,
                    tsr_error *err) {
  size_t nw = (size_t)n * k * (size_t)T, nh = (size_t)k * p;
  for (int a = 0; a < k; a++) {
    int bad = perm[a] < 0 || perm[a] >= k;
    for (int b = 0; b < a && !bad; b++) bad = perm[a] == perm[b];
    if (bad) {
      tsr_seterror(err, "not a permutation of 0..%d", k - 1);
      return TSR_EINVAL;
    }
  }
  float *copy = tsr_alloc((nw > nh ? nw : nh) * sizeof *copy);
  if (copy == NULL) return tsr_alloc_failure((nw > nh ? nw : nh) * sizeof *copy, "a permutation", err);
  memcpy(copy, W, nw * sizeof *W);
  for (int t = 0; t < T; t++)
    for (int a = 0; a < k; a++)
      memcpy(frame_of(W, n, k, a, t), frame_of(copy, n, k, perm[a], t), (size_t)n * sizeof *W);
  memcpy(copy, H, nh * sizeof *H);
  for (int64_t j = 0; j < p; j++)
    for (int a = 0; a < k; a++) H[a + j * k] = copy[perm[a] + j * k];
  tsr_free(copy);
  return TSR_OK;
}

void tsr_nmf_describe(const float *W, const float *H, int64_t n, int64_t p, int k, int T,
                      double *energy, double *centroid, double *center) {
  for (int a = 0; a < k; a++) {
    double ww = 0.0, sw = 0.0, iw = 0.0, hh = 0.0, sh = 0.0, jh = 0.0;
    for (int t = 0; t < T; t++) {
      const float *w = frame_of(W, n, k, a, t);
      for (int64_t i = 0; i < n; i++) {
        ww += (double)w[i] * w[i];
        sw += w[i];
        iw += (double)i * w[i];
      }
    }
    for (int64_t j = 0; j < p; j++) {
      double h = H[a + j * k];
      hh += h * h;
      sh += h;
      jh += (double)j * h;
    }
    if (energy) energy[a] = ww * hh;
    if (centroid) centroid[a] = sw > 0.0 ? iw / sw : NAN;
    if (center) center[a] = sh > 0.0 ? jh / sh : NAN;
  }
}

/* Vector a of a matrix: a row (stride rows, length cols) or a column. */
static double corr_vectors(const float *A, int64_t arows, const float *B, int64_t brows,
                           int64_t len, int by_rows, int a, int b) {
  int64_t sa = by_rows ? arows : 1, sb = by_rows ? brows : 1;
  const float *x = by_rows ? A + a : A + (size_t)a * arows;
  const float *y = by_rows ? B + b : B + (size_t)b * brows;
  double mx = 0.0, my = 0.0;
  for (int64_t i = 0; i < len; i++) {
    mx += x[i * sa];
    my += y[i * sb];
  }
  mx /= (double)len;
  my /= (double)len;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (int64_t i = 0; i < len; i++) {
    double dx = x[i * sa] - mx, dy = y[i * sb] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0.0 || syy <= 0.0) return 0.0;
  double r = sxy / sqrt(sxx * syy);
  return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

void tsr_nmf_correlate(const float *A, int64_t arows, int64_t acols, const float *B,
                       int64_t brows, int64_t bcols, int by_rows, double *out) {
  int na = (int)(by_rows ? arows : acols), nb = (int)(by_rows ? brows : bcols);
  int64_t len = by_rows ? acols : arows;
  for (int b = 0; b < nb; b++)
    for (int a = 0; a < na; a++)
      out[a + (size_t)b * na] = len > 0 ? corr_vectors(A, arows, B, brows, len, by_rows, a, b) : 0.0;
}
