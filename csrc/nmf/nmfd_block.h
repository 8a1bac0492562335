/* The convolutive NMF's block products, written once on GCC's vector extensions and compiled
 * per instruction set by nmfd_kernels_generic.c, nmfd_kernels_avx2.c and nmfd_kernels_avx512.c,
 * each defining VL (floats per vector: 4, 8, 16) and CG (rows of A' per block of mm_tn)
 * first. All matrices are column-major with explicit leading dimensions. Every output entry
 * is summed in one fixed order (over the inner index, ascending, one lane per residue of the
 * row index in mm_tn), so a result depends on the instruction set and the shape only, never
 * on the thread count. With FMA the compiler contracts acc += a * b into one instruction. */
#ifndef TSR_NMFD_BLOCK_H
#define TSR_NMFD_BLOCK_H

#include "nmfd_internal.h"

#include <string.h>

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4))); /* unaligned access */

static inline vf load(const float *p) { return *(const vfu *)p; }
static inline void store(float *p, vf x) { *(vfu *)p = x; }
static inline vf splat(float x) { return (vf){0} + x; }

/* C (m x N, ldc) = A (m x K, lda) B (K x N, ldb), or C += A B when add. Blocks of 2 vectors
 * of rows by 4 columns (8 accumulators), then the rest row by row. */
static void mm_nn(const float *A, int64_t lda, int64_t m, int K, const float *B, int64_t ldb,
                  int64_t N, float *C, int64_t ldc, int add) {
  int64_t j = 0;
  for (; j < N; j += 4) {
    const int nc = N - j < 4 ? (int)(N - j) : 4;
    const float *b[4];
    float *c[4];
    for (int q = 0; q < 4; q++) {
      b[q] = B + (j + (q < nc ? q : 0)) * ldb;
      c[q] = C + (j + (q < nc ? q : 0)) * ldc;
    }
    int64_t i = 0;
    for (; i + 2 * VL <= m; i += 2 * VL) {
      vf a00 = splat(0), a01 = splat(0), a10 = splat(0), a11 = splat(0);
      vf a20 = splat(0), a21 = splat(0), a30 = splat(0), a31 = splat(0);
      if (add) {
        a00 = load(c[0] + i), a01 = load(c[0] + i + VL), a10 = load(c[1] + i);
        a11 = load(c[1] + i + VL), a20 = load(c[2] + i), a21 = load(c[2] + i + VL);
        a30 = load(c[3] + i), a31 = load(c[3] + i + VL);
      }
      for (int k = 0; k < K; k++) {
        const float *a = A + k * lda + i;
        const vf x0 = load(a), x1 = load(a + VL);
        const vf h0 = splat(b[0][k]), h1 = splat(b[1][k]), h2 = splat(b[2][k]), h3 = splat(b[3][k]);
        a00 += x0 * h0, a01 += x1 * h0, a10 += x0 * h1, a11 += x1 * h1;
        a20 += x0 * h2, a21 += x1 * h2, a30 += x0 * h3, a31 += x1 * h3;
      }
      /* Padding columns (q >= nc) repeat column j: stored last, from the first's sums. */
      store(c[3] + i, a30), store(c[3] + i + VL, a31);
      store(c[2] + i, a20), store(c[2] + i + VL, a21);
      store(c[1] + i, a10), store(c[1] + i + VL, a11);
      store(c[0] + i, a00), store(c[0] + i + VL, a01);
    }
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

/* C (m x K, ldc) (+)= X H' with X m x N (ldx) and H K x N (ldh): blocks of 2 vectors of rows
 * by 4 columns of C, the sum over N in order; add 0 starts from zero. */
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
    for (; i + 2 * VL <= m; i += 2 * VL) {
      vf a00 = splat(0), a01 = splat(0), a10 = splat(0), a11 = splat(0);
      vf a20 = splat(0), a21 = splat(0), a30 = splat(0), a31 = splat(0);
      if (add) {
        a00 = load(c[0] + i), a01 = load(c[0] + i + VL), a10 = load(c[1] + i);
        a11 = load(c[1] + i + VL), a20 = load(c[2] + i), a21 = load(c[2] + i + VL);
        a30 = load(c[3] + i), a31 = load(c[3] + i + VL);
      }
      for (int64_t j = 0; j < N; j++) {
        const float *x = X + j * ldx + i;
        const float *h = H + j * ldh;
        const vf x0 = load(x), x1 = load(x + VL);
        const vf h0 = splat(h[off[0]]), h1 = splat(h[off[1]]), h2 = splat(h[off[2]]),
                 h3 = splat(h[off[3]]);
        a00 += x0 * h0, a01 += x1 * h0, a10 += x0 * h1, a11 += x1 * h1;
        a20 += x0 * h2, a21 += x1 * h2, a30 += x0 * h3, a31 += x1 * h3;
      }
      store(c[3] + i, a30), store(c[3] + i + VL, a31);
      store(c[2] + i, a20), store(c[2] + i + VL, a21);
      store(c[1] + i, a10), store(c[1] + i + VL, a11);
      store(c[0] + i, a00), store(c[0] + i + VL, a01);
    }
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
