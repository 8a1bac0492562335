/* The portable loops that more than one kernel file needs: the MU loops on rows 0..m-1 of a
 * column (kernels_generic.c's, and the AVX2 and AVX-512 loops' fallback for the rows or
 * cases they hand back), and the coordinate sweep's body, which cd_kernels_generic.c and
 * cd_kernels_avx2.c compile each for their own instruction set. Included by kernel files
 * only. */
#ifndef TSR_NMF_PORTABLE_H
#define TSR_NMF_PORTABLE_H

#include "kernels.h"

#include <math.h>

/* y = W h for rows 0..m-1 (W has leading dimension ld), summed a component at a time in
 * the order of a row-by-row sum, four components per pass over y: loops with no sum
 * carried from row to row, which compilers vectorise (these are the loops of every CPU
 * without AVX2, NEON's too). */
static inline void wh_c(const float *restrict W, int64_t ld, int64_t m, int k,
                 const float *restrict h, float *restrict y) {
  int a;
  if (k >= 4) {
    const float *restrict w0 = W, *restrict w1 = W + ld, *restrict w2 = W + 2 * ld,
                          *restrict w3 = W + 3 * ld;
    const float h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];
    for (int64_t i = 0; i < m; i++) y[i] = ((w0[i] * h0 + w1[i] * h1) + w2[i] * h2) + w3[i] * h3;
    a = 4;
  } else {
    const float h0 = h[0];
    for (int64_t i = 0; i < m; i++) y[i] = W[i] * h0;
    a = 1;
  }
  for (; a + 4 <= k; a += 4) {
    const float *restrict w0 = W + a * ld, *restrict w1 = w0 + ld, *restrict w2 = w1 + ld,
                          *restrict w3 = w2 + ld;
    const float h0 = h[a], h1 = h[a + 1], h2 = h[a + 2], h3 = h[a + 3];
    for (int64_t i = 0; i < m; i++)
      y[i] = (((y[i] + w0[i] * h0) + w1[i] * h1) + w2[i] * h2) + w3[i] * h3;
  }
  for (; a < k; a++) {
    const float *restrict w = W + a * ld;
    const float ha = h[a];
    for (int64_t i = 0; i < m; i++) y[i] += w[i] * ha;
  }
}

/* Rows 0..m-1 of a column: r = v / guard(W h) (KL); with q non-NULL: q = 1 / guard(W h),
 * r = v q^2 (IS). */
static inline void prep_c(const float *restrict W, int64_t ld, int64_t m, int k,
                   const float *restrict h, const float *restrict v, float *restrict r,
                   float *restrict q) {
  wh_c(W, ld, m, k, h, r);
  if (q == NULL) {
    for (int64_t i = 0; i < m; i++) {
      float y = r[i] < FLT_MIN ? EPS32 : r[i];
      r[i] = v[i] / y;
    }
  } else {
    for (int64_t i = 0; i < m; i++) {
      float y = r[i] < FLT_MIN ? EPS32 : r[i];
      float t = 1.0f / y;
      q[i] = t;
      r[i] = t * t * v[i];
    }
  }
}

/* Any beta, rows 0..m-1: beta_terms (kernels.h) on W h. */
static inline void prep_beta(const float *restrict W, int64_t ld, int64_t m, int k,
                      const float *restrict h, const float *restrict v, double beta,
                      float *restrict r, float *restrict q) {
  wh_c(W, ld, m, k, h, q);
  beta_terms(v, q, r, q, (size_t)m, beta);
}

/* sum_i w[i] x[i] as eight interleaved partial sums: a float sum in one chain cannot be
 * vectorised (its order is the result), eight independent ones can, at any width. */
static inline float dot_c(const float *restrict w, const float *restrict x, int64_t n) {
  float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) s[l] += w[i + l] * x[i + l];
  float tail = 0.0f;
  for (; i < n; i++) tail += w[i] * x[i];
  return (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) + tail;
}

/* out[a] = sum_i W[i, a] x[i] */
static inline void dots_c(const float *W, int64_t n, int k, const float *x, float *out) {
  for (int a = 0; a < k; a++) out[a] = dot_c(W + a * n, x, n);
}

/* acc[:, a] += h[a] x */
static inline void axpys_c(float *restrict acc, int64_t n, int k, const float *restrict x,
                    const float *restrict h) {
  for (int a = 0; a < k; a++) {
    float *restrict c = acc + a * n;
    const float ha = h[a];
    for (int64_t i = 0; i < n; i++) c[i] += x[i] * ha;
  }
}

/* Rows 0..m-1 of one column's share of the objective, in double. */
/* One entry's divergence d(x | y), y = (W h)_i summed in double; y under FLT_MIN counts as
 * EPS32 inside logs and negative powers (scikit-learn's guard). */
static inline double entry_divergence(int cls, double beta, double x, double y) {
  double ys = y < FLT_MIN ? (double)EPS32 : y;
  switch (cls) {
    case CLS_EUC: return (x - y) * (x - y);
    case CLS_KL: return (x > 0.0 ? x * log(x / ys) : 0.0) - x + y;
    case CLS_IS: return x > 0.0 ? x / ys - log(x / ys) - 1.0 : 0.0;
    default:
      /* (x^b + (b-1) y^b - b x y^(b-1)) / (b (b-1)); for b <= 0 it is undefined where
       * x = 0, and those entries are left out. */
      if (x > 0.0)
        return (pow(x, beta) + (beta - 1.0) * pow(ys, beta) - beta * x * pow(ys, beta - 1.0)) /
               (beta * (beta - 1.0));
      return beta > 0.0 ? pow(y, beta) / beta : 0.0;
  }
}

static inline double loss_col_c(int cls, double beta, const float *W, int64_t ld, int64_t m, int k,
                         const float *h, const float *v) {
  double s = 0.0;
  for (int64_t i = 0; i < m; i++) {
    /* W h in double: a float sum of k products rounds differently in another component
     * order, and a permutation of the components must leave the objective as it was. */
    double y = 0.0;
    for (int a = 0; a < k; a++) y += (double)W[i + a * ld] * h[a];
    s += entry_divergence(cls, beta, v[i], y);
  }
  return s;
}


/* ---------------------------------------------------------------------------------------
 * The coordinate sweep (scikit-learn's _update_cdnmf_fast). X is m x k, column-major with
 * leading dimension ldx, updated in place; A (m x k, leading dimension lda) is V·Hᵀ for W or
 * Vᵀ·W for Hᵀ, before l1; Q is the k x k Gram matrix with l2 already on its diagonal.
 * Rows are independent, so sweeping component t over all rows (scikit-learn's order) in
 * chunks of 8 rows is the same arithmetic per element, and vectorises. Returns the summed
 * |projected gradient|. */
static inline __attribute__((always_inline)) double
cd_sweep_body(float *X, int64_t m, int64_t ldx, int k, const float *A, int64_t lda, float l1,
              const float *Q) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double tail = 0.0;
  for (int t = 0; t < k; t++) {
    const float hess = Q[t + (int64_t)t * k];
    float *xt = X + (int64_t)t * ldx;
    const float *at = A + (int64_t)t * lda;
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
      float g[8];
      for (int l = 0; l < 8; l++) g[l] = -(at[i + l] - l1);
      for (int r = 0; r < k; r++) {
        const float q = Q[t + (int64_t)r * k];
        const float *xr = X + (int64_t)r * ldx + i;
        for (int l = 0; l < 8; l++) g[l] += q * xr[l];
      }
      for (int l = 0; l < 8; l++) {
        float pg = (xt[i + l] == 0.0f && g[l] > 0.0f) ? 0.0f : g[l];
        lane[l] += (double)fabsf(pg);
      }
      if (hess != 0.0f) {
        for (int l = 0; l < 8; l++) {
          float x = xt[i + l] - g[l] / hess;
          xt[i + l] = x > 0.0f ? x : 0.0f;
        }
      }
    }
    for (; i < m; i++) {
      float g = -(at[i] - l1);
      for (int r = 0; r < k; r++) g += Q[t + (int64_t)r * k] * X[i + (int64_t)r * ldx];
      float pg = (xt[i] == 0.0f && g > 0.0f) ? 0.0f : g;
      tail += (double)fabsf(pg);
      if (hess != 0.0f) {
        float x = xt[i] - g / hess;
        xt[i] = x > 0.0f ? x : 0.0f;
      }
    }
  }
  double v = tail;
  for (int l = 0; l < 8; l++) v += lane[l];
  return v;
}


#endif
