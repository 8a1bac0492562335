/* The convolutive NMF's block products, written once on GCC's vector extensions and compiled
 * per instruction set by nmfd_kernels_generic.c, nmfd_kernels_avx2.c and
 * nmfd_kernels_avx512.c, each defining VL (floats per vector: 4, 8, 16), RV (vectors of rows
 * per block of mm_nn and mm_nt) and CG (rows of A' per block of mm_tn) first, so that a
 * block's accumulators and loads fit the instruction set's registers. All matrices are
 * column-major with explicit leading dimensions. Every output entry is summed in one fixed
 * order (over the inner index, ascending; in mm_tn one lane per residue of the row index,
 * the lanes added in order), so a result depends on the instruction set and the shape only,
 * never on the thread count. The Makefile builds these files with -ffp-contract=fast, so
 * that acc += a * b is one FMA where the instruction set has it. */
#ifndef TSR_NMFD_BLOCK_H
#define TSR_NMFD_BLOCK_H

#include "nmfd_internal.h"

#include <string.h>

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4))); /* unaligned access */

static inline vf load(const float *p) { return *(const vfu *)p; }
static inline void store(float *p, vf x) { *(vfu *)p = x; }
static inline vf splat(float x) { return (vf){0} + x; }

/* Rows i..i+R*VL-1 of mm_nn's 4 columns c (from b), R a constant once inlined. */
static inline __attribute__((always_inline)) void
nn_block(const float *A, int64_t lda, int K, const float *const *b, float *const *c, int64_t i,
         int add, const int R) {
  vf acc[4][RV];
  _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
      acc[q][r] = add ? load(c[q] + i + r * VL) : splat(0);
  for (int k = 0; k < K; k++) {
    const float *a = A + k * lda + i;
    vf x[RV];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) x[r] = load(a + r * VL);
    _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) {
      const vf h = splat(b[q][k]);
      _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[q][r] += x[r] * h;
    }
  }
  /* Padding columns (q >= nc) repeat column j: stored first, then column j's own. */
  _Pragma("GCC unroll 4") for (int q = 3; q >= 0; q--)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) store(c[q] + i + r * VL, acc[q][r]);
}

/* C (m x N, ldc) = A (m x K, lda) B (K x N, ldb), or C += A B when add. Blocks of RV vectors
 * of rows by 4 columns (4 RV accumulators), then of one vector, then the rest row by row. */
static void mm_nn(const float *A, int64_t lda, int64_t m, int K, const float *B, int64_t ldb,
                  int64_t N, float *C, int64_t ldc, int add) {
  for (int64_t j = 0; j < N; j += 4) {
    const int nc = N - j < 4 ? (int)(N - j) : 4;
    const float *b[4];
    float *c[4];
    for (int q = 0; q < 4; q++) {
      b[q] = B + (j + (q < nc ? q : 0)) * ldb;
      c[q] = C + (j + (q < nc ? q : 0)) * ldc;
    }
    int64_t i = 0;
    for (; i + RV * VL <= m; i += RV * VL) nn_block(A, lda, K, b, c, i, add, RV);
    for (; i + VL <= m; i += VL) nn_block(A, lda, K, b, c, i, add, 1);
    for (; i < m; i++)
      for (int q = 0; q < nc; q++) {
        float s = add ? c[q][i] : 0.0f;
        for (int k = 0; k < K; k++) s += A[k * lda + i] * b[q][k];
        c[q][i] = s;
      }
  }
}

/* C (K x N, ldc) = A' X with A m x K (lda) and X m x N (ldx): dot products down the rows, in
 * blocks of CG columns of A by 4 of X, VL lanes each (lane l sums the rows i = l mod VL),
 * the lanes added in order at the end, the rows past the last whole vector after them. */
static void mm_tn(const float *A, int64_t lda, int64_t m, int K, const float *X, int64_t ldx,
                  int64_t N, float *C, int64_t ldc) {
  const int64_t mv = m / VL * VL;
  for (int64_t j = 0; j < N; j += 4) {
    const int nc = N - j < 4 ? (int)(N - j) : 4;
    const float *x[4];
    for (int q = 0; q < 4; q++) x[q] = X + (j + (q < nc ? q : 0)) * ldx;
    for (int k0 = 0; k0 < K; k0 += CG) {
      const int kc = K - k0 < CG ? K - k0 : CG;
      const float *a[CG];
      for (int r = 0; r < CG; r++) a[r] = A + (k0 + (r < kc ? r : 0)) * lda;
      vf s[CG][4];
      for (int r = 0; r < CG; r++)
        for (int q = 0; q < 4; q++) s[r][q] = splat(0);
      for (int64_t i = 0; i < mv; i += VL) {
        vf xv[4];
        _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) xv[q] = load(x[q] + i);
        _Pragma("GCC unroll 4") for (int r = 0; r < CG; r++) {
          const vf av = load(a[r] + i);
          _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) s[r][q] += av * xv[q];
        }
      }
      for (int r = 0; r < kc; r++)
        for (int q = 0; q < nc; q++) {
          float t = 0.0f;
          for (int l = 0; l < VL; l++) t += s[r][q][l];
          for (int64_t i = mv; i < m; i++) t += a[r][i] * x[q][i];
          C[(j + q) * ldc + k0 + r] = t;
        }
    }
  }
}

/* Rows i..i+R*VL-1 of mm_nt's 4 columns c (H's rows off), R a constant once inlined. */
static inline __attribute__((always_inline)) void
nt_block(const float *X, int64_t ldx, int64_t N, const float *H, int64_t ldh, const int *off,
         float *const *c, int64_t i, int add, const int R) {
  vf acc[4][RV];
  _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
      acc[q][r] = add ? load(c[q] + i + r * VL) : splat(0);
  for (int64_t j = 0; j < N; j++) {
    const float *x = X + j * ldx + i;
    const float *h = H + j * ldh;
    vf xv[RV];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) xv[r] = load(x + r * VL);
    _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) {
      const vf hv = splat(h[off[q]]);
      _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[q][r] += xv[r] * hv;
    }
  }
  _Pragma("GCC unroll 4") for (int q = 3; q >= 0; q--)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) store(c[q] + i + r * VL, acc[q][r]);
}

/* C (m x K, ldc) (+)= X H' with X m x N (ldx) and H K x N (ldh): blocks of RV vectors of
 * rows by 4 columns of C, then of one vector, then row by row, the sum over N in order; add
 * 0 starts from zero. */
static void mm_nt(const float *X, int64_t ldx, int64_t m, int64_t N, const float *H, int64_t ldh,
                  int K, float *C, int64_t ldc, int add) {
  for (int k0 = 0; k0 < K; k0 += 4) {
    const int kc = K - k0 < 4 ? K - k0 : 4;
    float *c[4];
    int off[4];
    for (int q = 0; q < 4; q++) {
      off[q] = k0 + (q < kc ? q : 0);
      c[q] = C + off[q] * ldc;
    }
    int64_t i = 0;
    for (; i + RV * VL <= m; i += RV * VL) nt_block(X, ldx, N, H, ldh, off, c, i, add, RV);
    for (; i + VL <= m; i += VL) nt_block(X, ldx, N, H, ldh, off, c, i, add, 1);
    for (; i < m; i++)
      for (int q = 0; q < kc; q++) {
        float s = add ? c[q][i] : 0.0f;
        for (int64_t j = 0; j < N; j++) s += X[j * ldx + i] * H[j * ldh + off[q]];
        c[q][i] = s;
      }
  }
}

/* count entries: Y = V / guard(Y), the KL ratio with scikit-learn's guard (kernels.h). */
static void kl_ratio(const float *restrict V, float *restrict Y, size_t count) {
  for (size_t e = 0; e < count; e++) Y[e] = V[e] / (Y[e] < FLT_MIN ? EPS32 : Y[e]);
}

#define NMFD_BLOCK_TABLE { .mm_nn = mm_nn, .mm_tn = mm_tn, .mm_nt = mm_nt, .kl_ratio = kl_ratio }

#endif
