/* The convolutive NMF's block product, written once on GCC's vector extensions and compiled
 * per instruction set by nmfd_kernels_generic.c, nmfd_kernels_avx2.c and
 * nmfd_kernels_avx512.c, each defining VL (floats per vector: 4, 8, 16), RV (vectors of rows
 * per block) and QN (columns per block) first, so that a block's RV x QN accumulators, its
 * RV loads and a broadcast fit the instruction set's registers. Every product of the pass
 * is this one: C (+)= A B with A column-major and B read through two strides, so that B' is
 * as cheap as B. Each output entry is summed in one fixed order (over the inner index,
 * ascending), so a result depends on the instruction set and the shape only, never on the
 * thread count or on the cache blocking. The Makefile builds these files with
 * -ffp-contract=fast, so that acc += a * b is one FMA where the instruction set has it. */
#ifndef TSR_NMFD_BLOCK_H
#define TSR_NMFD_BLOCK_H

#include "nmfd_internal.h"

#include <string.h>

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4))); /* unaligned access */

static inline vf load(const float *p) { return *(const vfu *)p; }
static inline void store(float *p, vf x) { *(vfu *)p = x; }
/* x - 0 is x for every x (x + 0 is not for -0), so this is a plain broadcast. */
static inline vf splat(float x) { return x - (vf){0}; }

/* Inner indices per cache block: the block's A slice (RV vectors of rows by KC) stays in L1
 * while every group of QN columns takes its share. */
#define KC (12288 / (RV * VL * 4))

/* Rows i..i+R*VL-1 of the QN columns c, inner indices x0..x1-1; R a constant once inlined.
 * b[q] points at column q of B, whose inner index steps by bsi. */
static inline __attribute__((always_inline)) void
block(const float *A, int64_t lda, const float *const *b, int64_t bsi, float *const *c,
      int64_t i, int64_t x0, int64_t x1, int add, const int R) {
  vf acc[QN][RV];
  _Pragma("GCC unroll 8") for (int q = 0; q < QN; q++)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
      acc[q][r] = add ? load(c[q] + i + r * VL) : splat(0);
  for (int64_t x = x0; x < x1; x++) {
    const float *a = A + x * lda + i;
    vf xa[RV];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) xa[r] = load(a + r * VL);
    _Pragma("GCC unroll 8") for (int q = 0; q < QN; q++) {
      const vf h = splat(b[q][x * bsi]);
      _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) acc[q][r] += xa[r] * h;
    }
  }
  /* Padding columns (past N) repeat the group's first: stored first, then its own. */
  _Pragma("GCC unroll 8") for (int q = QN - 1; q >= 0; q--)
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) store(c[q] + i + r * VL, acc[q][r]);
}

/* Rows i..i+R*VL-1 of C through every inner block and column group. */
static inline __attribute__((always_inline)) void
row_block(const float *A, int64_t lda, int64_t kin, const float *B, int64_t bsi, int64_t bsq,
          int64_t N, float *C, int64_t ldc, int64_t i, int add, const int R) {
  for (int64_t x0 = 0; x0 < kin; x0 += KC) {
    const int64_t x1 = kin - x0 < KC ? kin : x0 + KC;
    for (int64_t j = 0; j < N; j += QN) {
      const float *b[QN];
      float *c[QN];
      for (int q = 0; q < QN; q++) {
        const int64_t col = j + (j + q < N ? q : 0);
        b[q] = B + col * bsq;
        c[q] = C + col * ldc;
      }
      block(A, lda, b, bsi, c, i, x0, x1, add || x0 > 0, R);
    }
  }
}

/* C (m x N, ldc) = A B, or C += A B when add: A m x kin (lda), B kin x N with entry (x, q) at
 * B[x bsi + q bsq]. Rows in blocks of RV vectors (fewer where that leaves fewer
 * accumulators idle), then row by row. */
static void gemm(const float *A, int64_t lda, int64_t m, int64_t kin, const float *B,
                 int64_t bsi, int64_t bsq, int64_t N, float *C, int64_t ldc, int add) {
  int64_t i = 0;
  for (int64_t left = m / VL; left > 0;) {
    /* RV + 1 vectors left: two blocks of about half rather than RV and one. */
    const int64_t r = left <= RV ? left : left == RV + 1 ? (left + 1) / 2 : RV;
    if (r == RV) row_block(A, lda, kin, B, bsi, bsq, N, C, ldc, i, add, RV);
    else if (r == 2) row_block(A, lda, kin, B, bsi, bsq, N, C, ldc, i, add, 2);
    else row_block(A, lda, kin, B, bsi, bsq, N, C, ldc, i, add, 1);
    i += r * VL;
    left -= r;
  }
  for (; i < m; i++)
    for (int64_t q = 0; q < N; q++) {
      float s = add ? C[q * ldc + i] : 0.0f;
      for (int64_t x = 0; x < kin; x++) s += A[x * lda + i] * B[x * bsi + q * bsq];
      C[q * ldc + i] = s;
    }
}

/* count entries: Y = V / guard(Y), the KL ratio with scikit-learn's guard (kernels.h). */
static void kl_ratio(const float *restrict V, float *restrict Y, size_t count) {
  for (size_t e = 0; e < count; e++) Y[e] = V[e] / (Y[e] < FLT_MIN ? EPS32 : Y[e]);
}

#define NMFD_BLOCK_TABLE { .gemm = gemm, .kl_ratio = kl_ratio }

#endif
