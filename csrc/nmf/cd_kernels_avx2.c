/* The coordinate-descent pass's AVX2 + FMA loops: the sweep, Gᵀ = V_Jᵀ·W and
 * P += V_J·H_Jᵀ in register tiles, and ‖v‖² with its check. Built with -mavx2 -mfma
 * (Makefile); used only when tsr_simd_level() is AVX2 or above. */
#include "portable.h"

#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static double cd_sweep_avx2(float *X, int64_t m, int64_t ldx, int k, const float *A,
                                    int64_t lda, float l1, const float *Q) {
  return cd_sweep_body(X, m, ldx, k, A, lda, l1, Q);
}

static inline float hsum256(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static double col_norm2_avx2(const float *v, int64_t n, int *bad) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  const __m256 zero = _mm256_setzero_ps(), big = _mm256_set1_ps(FLT_MAX);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(v + i);
    /* Ordered comparisons: NaN fails both. */
    ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GE_OQ),
                                         _mm256_cmp_ps(x, big, _CMP_LE_OQ)));
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    s0 = _mm256_fmadd_pd(lo, lo, s0);
    s1 = _mm256_fmadd_pd(hi, hi, s1);
  }
  if (_mm256_movemask_ps(ok) != 0xff) *bad = 1;
  double lane[4];
  _mm256_storeu_pd(lane, _mm256_add_pd(s0, s1));
  double s = (lane[0] + lane[2]) + (lane[1] + lane[3]);
  for (; i < n; i++) {
    double x = (double)v[i];
    s += x * x;
    if (!(x >= 0.0 && x <= (double)FLT_MAX)) *bad = 1;
  }
  return s;
}

/* One tile of Gᵀ: NC columns of V against NT columns of W (constants after inlining).
 * With pf set it also prefetches the same columns of the next block (when no vht_acc
 * follows to do it). */
static inline __attribute__((always_inline)) void
gt_tile(const float *W, int64_t n, const float *Vj, int nb, int jj, int t, int NC, int NT,
        float *Gt, const float *pf) {
  __m256 acc[3][4];
  const float *v[3], *w[4];
#pragma GCC unroll 3
  for (int c = 0; c < NC; c++) v[c] = Vj + (int64_t)(jj + c) * n;
#pragma GCC unroll 4
  for (int d = 0; d < NT; d++) w[d] = W + (int64_t)(t + d) * n;
#pragma GCC unroll 3
  for (int c = 0; c < NC; c++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) acc[c][d] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 vv[3];
#pragma GCC unroll 3
    for (int c = 0; c < NC; c++) {
      vv[c] = _mm256_loadu_ps(v[c] + i);
      if (pf != NULL && (i & 15) == 0) /* one prefetch per 64-byte line */
        _mm_prefetch((const char *)(pf + (int64_t)c * n + i), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      __m256 ww = _mm256_loadu_ps(w[d] + i);
#pragma GCC unroll 3
      for (int c = 0; c < NC; c++) acc[c][d] = _mm256_fmadd_ps(ww, vv[c], acc[c][d]);
    }
  }
#pragma GCC unroll 3
  for (int c = 0; c < NC; c++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      float s = hsum256(acc[c][d]);
      for (int64_t r = i; r < n; r++) s += w[d][r] * v[c][r];
      Gt[jj + c + (int64_t)(t + d) * nb] = s;
    }
}

static void gt_block_avx2(const float *W, int64_t n, int k, const float *Vj, int nb,
                                  float *Gt, const float *Vnext) {
  int jj = 0;
  for (; jj + 3 <= nb; jj += 3) {
    /* The first group of components prefetches; the others find the lines there. */
    const float *pf = Vnext != NULL ? Vnext + (int64_t)jj * n : NULL;
    int t = 0;
    for (; t + 4 <= k; t += 4, pf = NULL) gt_tile(W, n, Vj, nb, jj, t, 3, 4, Gt, pf);
    for (; t < k; t++, pf = NULL) gt_tile(W, n, Vj, nb, jj, t, 3, 1, Gt, pf);
  }
  for (; jj < nb; jj++) {
    const float *pf = Vnext != NULL ? Vnext + (int64_t)jj * n : NULL;
    int t = 0;
    for (; t + 4 <= k; t += 4, pf = NULL) gt_tile(W, n, Vj, nb, jj, t, 1, 4, Gt, pf);
    for (; t < k; t++, pf = NULL) gt_tile(W, n, Vj, nb, jj, t, 1, 1, Gt, pf);
  }
}

/* One tile of P += V_J·H_Jᵀ: rows i..i+8*NR of components t..t+NT, over the nb columns.
 * With Vnext set, it also prefetches the same rows of the next block, so that block's
 * trip from memory overlaps this arithmetic. */
static inline __attribute__((always_inline)) void
vht_tile(float *P, int64_t n, const float *Vj, int nb, const float *Ht, int64_t i, int t,
         int NR, int NT, const float *Vnext) {
  __m256 acc[3][4];
#pragma GCC unroll 3
  for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) acc[r][d] = _mm256_loadu_ps(P + i + 8 * r + (int64_t)(t + d) * n);
  for (int jj = 0; jj < nb; jj++) {
    const float *v = Vj + (int64_t)jj * n + i;
    __m256 vv[3];
#pragma GCC unroll 3
    for (int r = 0; r < NR; r++) vv[r] = _mm256_loadu_ps(v + 8 * r);
    if (Vnext != NULL) {
      _mm_prefetch((const char *)(Vnext + (int64_t)jj * n + i), _MM_HINT_T0);
      if (NR == 3) _mm_prefetch((const char *)(Vnext + (int64_t)jj * n + i + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      __m256 h = _mm256_broadcast_ss(Ht + jj + (int64_t)(t + d) * nb);
#pragma GCC unroll 3
      for (int r = 0; r < NR; r++) acc[r][d] = _mm256_fmadd_ps(vv[r], h, acc[r][d]);
    }
  }
#pragma GCC unroll 3
  for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) _mm256_storeu_ps(P + i + 8 * r + (int64_t)(t + d) * n, acc[r][d]);
}

static void vht_acc_avx2(float *P, int64_t n, int k, const float *Vj, int nb,
                                 const float *Ht, const float *Vnext) {
  int t = 0;
  for (; t + 4 <= k; t += 4) {
    const float *pf = t == 0 ? Vnext : NULL; /* one pass over the rows prefetches it all */
    int64_t i = 0;
    for (; i + 24 <= n; i += 24) vht_tile(P, n, Vj, nb, Ht, i, t, 3, 4, pf);
    for (; i + 8 <= n; i += 8) vht_tile(P, n, Vj, nb, Ht, i, t, 1, 4, pf);
  }
  for (; t < k; t++) {
    const float *pf = t == 0 ? Vnext : NULL;
    int64_t i = 0;
    for (; i + 24 <= n; i += 24) vht_tile(P, n, Vj, nb, Ht, i, t, 3, 1, pf);
    for (; i + 8 <= n; i += 8) vht_tile(P, n, Vj, nb, Ht, i, t, 1, 1, pf);
  }
  /* The rows past the last multiple of 8, in the same order (over jj) as the tiles. */
  for (int64_t i = n - n % 8; i < n; i++)
    for (int u = 0; u < k; u++) {
      float s = P[i + (int64_t)u * n];
      for (int jj = 0; jj < nb; jj++)
        s = fmaf(Vj[i + (int64_t)jj * n], Ht[jj + (int64_t)u * nb], s);
      P[i + (int64_t)u * n] = s;
    }
}

static const nmf_cd_kernels table = {
  .sweep = cd_sweep_avx2,
  .gt_block = gt_block_avx2,
  .vht_acc = vht_acc_avx2,
  .col_norm2 = col_norm2_avx2,
  .block = 9, /* three 3-column tiles */
};
const nmf_cd_kernels *const tsr_nmf_cd_avx2 = &table;
#else
const nmf_cd_kernels *const tsr_nmf_cd_avx2 = NULL;
#endif
