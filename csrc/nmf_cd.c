/* Coordinate-descent (HALS) NMF for the Euclidean loss, with scikit-learn 1.2's "cd"
 * semantics: each iteration sweeps W's components with V·Hᵀ and H·Hᵀ, then H's components
 * with Wᵀ·V and Wᵀ·W, projecting onto x >= 0; l1 enters the gradient, l2 the hessian; it
 * stops when the projected-gradient violation falls to tol times the first iteration's.
 *
 * Speed: the two products with V are skinny (k is small), where BLAS runs far below the
 * machine's peak (OpenBLAS 0.3.21: ~7 ms for both on 1025 x 7750 at k = 4, where this pass
 * takes ~1.5). So the H half-step and the next iteration's V·Hᵀ share one pass over V in
 * column blocks that stay in cache: Gᵀ = V_Jᵀ·W, sweep H_J, then V·Hᵀ += V_J·H_Jᵀ. Columns of
 * H are independent given Wᵀ·W, so this is the same algorithm, only fused. The pass runs on
 * a small pthread pool over fixed chunks of columns whose partial sums are added in chunk
 * order, so the result is bit-identical for the same input whatever the thread count. The
 * hot loops have AVX2 and AVX-512 versions picked at run time, and portable 4-float vector
 * ones for other CPUs (TESSERA_SIMD=generic|avx2 caps the choice, for the specs).
 * The same pass serves the Euclidean multiplicative updates in scikit-learn's order (W then
 * H: tsr_nmf_mu_euc_fit), with the MU rule in place of the coordinate sweep. A pass can also
 * sum the exact objective column by column while each column is in cache, which gives the
 * final loss (and MU's checks) without a read of V of their own. */
#include "nmf.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define CD_HAVE_AVX2 1
#endif

enum {
  CD_BLOCK_MAX = 9,    /* columns of V per step of the fused pass (cd_kernels.block): a few,
                        * so that V·Hᵀ finds them in L1 right after Gᵀ read them */
  CD_CHUNKS = 16,      /* independent partial sums per pass: the unit of load balancing */
  CD_CHUNK_MIN = 64,   /* fewest columns worth a chunk of their own (see cd_solve) */
  CD_MAX_THREADS = 64
};

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

static double cd_sweep_c(float *X, int64_t m, int64_t ldx, int k, const float *A, int64_t lda,
                         float l1, const float *Q) {
  return cd_sweep_body(X, m, ldx, k, A, lda, l1, Q);
}

/* ---------------------------------------------------------------------------------------
 * The two products with V, portable versions: GCC's 4-float vectors become SSE on any
 * x86-64 and NEON on arm64. The x86 versions with AVX2 / AVX-512 follow. */
typedef float cd_v4 __attribute__((vector_size(16)));

static inline cd_v4 cd_load4(const float *p) {
  cd_v4 x;
  memcpy(&x, p, sizeof x); /* unaligned load */
  return x;
}

static inline void cd_store4(float *p, cd_v4 x) { memcpy(p, &x, sizeof x); }

/* Gᵀ block: Gt[jj + t*nb] = V[:, j0+jj] · W[:, t] for the nb columns starting at Vj, in
 * tiles of 2 columns x 4 components. */
static inline __attribute__((always_inline)) void
gt_tile_c(const float *W, int64_t n, const float *Vj, int nb, int jj, int t, int NC, int NT,
          float *Gt) {
  cd_v4 acc[2][4];
  const float *v[2], *w[4];
#pragma GCC unroll 2
  for (int c = 0; c < NC; c++) v[c] = Vj + (int64_t)(jj + c) * n;
#pragma GCC unroll 4
  for (int d = 0; d < NT; d++) w[d] = W + (int64_t)(t + d) * n;
#pragma GCC unroll 2
  for (int c = 0; c < NC; c++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) acc[c][d] = (cd_v4){0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    cd_v4 vv[2];
#pragma GCC unroll 2
    for (int c = 0; c < NC; c++) vv[c] = cd_load4(v[c] + i);
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      cd_v4 ww = cd_load4(w[d] + i);
#pragma GCC unroll 2
      for (int c = 0; c < NC; c++) acc[c][d] += ww * vv[c];
    }
  }
  for (int c = 0; c < NC; c++)
    for (int d = 0; d < NT; d++) {
      float s = (acc[c][d][0] + acc[c][d][2]) + (acc[c][d][1] + acc[c][d][3]);
      for (int64_t r = i; r < n; r++) s += w[d][r] * v[c][r];
      Gt[jj + c + (int64_t)(t + d) * nb] = s;
    }
}

static void gt_block_c(const float *W, int64_t n, int k, const float *Vj, int nb, float *Gt,
                       const float *Vnext) {
  (void)Vnext; /* hardware prefetch is left to do its best here */
  int jj = 0;
  for (; jj + 2 <= nb; jj += 2) {
    int t = 0;
    for (; t + 4 <= k; t += 4) gt_tile_c(W, n, Vj, nb, jj, t, 2, 4, Gt);
    for (; t < k; t++) gt_tile_c(W, n, Vj, nb, jj, t, 2, 1, Gt);
  }
  for (; jj < nb; jj++) {
    int t = 0;
    for (; t + 4 <= k; t += 4) gt_tile_c(W, n, Vj, nb, jj, t, 1, 4, Gt);
    for (; t < k; t++) gt_tile_c(W, n, Vj, nb, jj, t, 1, 1, Gt);
  }
}

/* P (n x k) += V_J · H_Jᵀ, with Ht the block's H transposed (nb x k, column-major), in tiles
 * of 8 rows x 4 components. */
static inline __attribute__((always_inline)) void
vht_tile_c(float *P, int64_t n, const float *Vj, int nb, const float *Ht, int64_t i, int t,
           int NT) {
  cd_v4 acc[2][4];
#pragma GCC unroll 4
  for (int d = 0; d < NT; d++) {
    acc[0][d] = cd_load4(P + i + (int64_t)(t + d) * n);
    acc[1][d] = cd_load4(P + i + 4 + (int64_t)(t + d) * n);
  }
  for (int jj = 0; jj < nb; jj++) {
    const float *v = Vj + (int64_t)jj * n + i;
    cd_v4 v0 = cd_load4(v), v1 = cd_load4(v + 4);
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      const float h = Ht[jj + (int64_t)(t + d) * nb];
      acc[0][d] += v0 * h;
      acc[1][d] += v1 * h;
    }
  }
#pragma GCC unroll 4
  for (int d = 0; d < NT; d++) {
    cd_store4(P + i + (int64_t)(t + d) * n, acc[0][d]);
    cd_store4(P + i + 4 + (int64_t)(t + d) * n, acc[1][d]);
  }
}

static void vht_acc_c(float *P, int64_t n, int k, const float *Vj, int nb, const float *Ht,
                      const float *Vnext) {
  (void)Vnext; /* hardware prefetch is left to do its best here */
  int t = 0;
  for (; t + 4 <= k; t += 4)
    for (int64_t i = 0; i + 8 <= n; i += 8) vht_tile_c(P, n, Vj, nb, Ht, i, t, 4);
  for (; t < k; t++)
    for (int64_t i = 0; i + 8 <= n; i += 8) vht_tile_c(P, n, Vj, nb, Ht, i, t, 1);
  for (int64_t i = n - n % 8; i < n; i++)
    for (int u = 0; u < k; u++) {
      float s = P[i + (int64_t)u * n];
      for (int jj = 0; jj < nb; jj++) s += Vj[i + (int64_t)jj * n] * Ht[jj + (int64_t)u * nb];
      P[i + (int64_t)u * n] = s;
    }
}

/* ‖v‖² of one column in double; *bad set when an entry is negative, NaN or infinite. */
static double col_norm2_c(const float *v, int64_t n, int *bad) {
  double s0 = 0.0, s1 = 0.0;
  int flag = 0;
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    double x0 = (double)v[i], x1 = (double)v[i + 1];
    s0 += x0 * x0;
    s1 += x1 * x1;
    flag |= !(x0 >= 0.0 && x0 <= (double)FLT_MAX) | !(x1 >= 0.0 && x1 <= (double)FLT_MAX);
  }
  for (; i < n; i++) {
    double x = (double)v[i];
    s0 += x * x;
    flag |= !(x >= 0.0 && x <= (double)FLT_MAX);
  }
  *bad |= flag;
  return s0 + s1;
}

#ifdef CD_HAVE_AVX2
#define CD_AVX2 __attribute__((target("avx2,fma")))

CD_AVX2 static double cd_sweep_avx2(float *X, int64_t m, int64_t ldx, int k, const float *A,
                                    int64_t lda, float l1, const float *Q) {
  return cd_sweep_body(X, m, ldx, k, A, lda, l1, Q);
}

CD_AVX2 static inline float hsum256(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

CD_AVX2 static double col_norm2_avx2(const float *v, int64_t n, int *bad) {
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
static inline __attribute__((always_inline)) CD_AVX2 void
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

CD_AVX2 static void gt_block_avx2(const float *W, int64_t n, int k, const float *Vj, int nb,
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
static inline __attribute__((always_inline)) CD_AVX2 void
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

CD_AVX2 static void vht_acc_avx2(float *P, int64_t n, int k, const float *Vj, int nb,
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

#define CD_AVX512 __attribute__((target("avx512f")))

/* Gᵀ with AVX-512: 4 columns x 4 components per tile in 16-float registers. */
static inline __attribute__((always_inline)) CD_AVX512 void
gt_tile512(const float *W, int64_t n, const float *Vj, int nb, int jj, int t, int NC, int NT,
           float *Gt, const float *pf) {
  __m512 acc[4][4];
  const float *v[4], *w[4];
#pragma GCC unroll 4
  for (int c = 0; c < NC; c++) v[c] = Vj + (int64_t)(jj + c) * n;
#pragma GCC unroll 4
  for (int d = 0; d < NT; d++) w[d] = W + (int64_t)(t + d) * n;
#pragma GCC unroll 4
  for (int c = 0; c < NC; c++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) acc[c][d] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 vv[4];
#pragma GCC unroll 4
    for (int c = 0; c < NC; c++) {
      vv[c] = _mm512_loadu_ps(v[c] + i);
      if (pf != NULL) _mm_prefetch((const char *)(pf + (int64_t)c * n + i), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      __m512 ww = _mm512_loadu_ps(w[d] + i);
#pragma GCC unroll 4
      for (int c = 0; c < NC; c++) acc[c][d] = _mm512_fmadd_ps(ww, vv[c], acc[c][d]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < NC; c++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      float s = _mm512_reduce_add_ps(acc[c][d]);
      for (int64_t r = i; r < n; r++) s += w[d][r] * v[c][r];
      Gt[jj + c + (int64_t)(t + d) * nb] = s;
    }
}

CD_AVX512 static void gt_block_avx512(const float *W, int64_t n, int k, const float *Vj, int nb,
                                      float *Gt, const float *Vnext) {
  int jj = 0;
  for (; jj + 4 <= nb; jj += 4) {
    const float *pf = Vnext != NULL ? Vnext + (int64_t)jj * n : NULL;
    int t = 0;
    for (; t + 4 <= k; t += 4, pf = NULL) gt_tile512(W, n, Vj, nb, jj, t, 4, 4, Gt, pf);
    for (; t < k; t++, pf = NULL) gt_tile512(W, n, Vj, nb, jj, t, 4, 1, Gt, pf);
  }
  for (; jj < nb; jj++) {
    const float *pf = Vnext != NULL ? Vnext + (int64_t)jj * n : NULL;
    int t = 0;
    for (; t + 4 <= k; t += 4, pf = NULL) gt_tile512(W, n, Vj, nb, jj, t, 1, 4, Gt, pf);
    for (; t < k; t++, pf = NULL) gt_tile512(W, n, Vj, nb, jj, t, 1, 1, Gt, pf);
  }
}

/* V·Hᵀ with AVX-512 where the CPU has it: its 32 registers hold a 64-row x 4-component tile,
 * which needs fewer loads per multiply-add than the AVX2 tile (measured 1.3-1.8x faster on
 * this project's machines). Same order of operations per element as vht_acc_avx2. */
static inline __attribute__((always_inline)) CD_AVX512 void
vht_tile512(float *P, int64_t n, const float *Vj, int nb, const float *Ht, int64_t i, int t,
            int NR, int NT, const float *Vnext) {
  __m512 acc[4][4];
#pragma GCC unroll 4
  for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++)
      acc[r][d] = _mm512_loadu_ps(P + i + 16 * r + (int64_t)(t + d) * n);
  for (int jj = 0; jj < nb; jj++) {
    const float *v = Vj + (int64_t)jj * n + i;
    __m512 vv[4];
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++) {
      vv[r] = _mm512_loadu_ps(v + 16 * r);
      if (Vnext != NULL)
        _mm_prefetch((const char *)(Vnext + (int64_t)jj * n + i + 16 * r), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++) {
      __m512 h = _mm512_set1_ps(Ht[jj + (int64_t)(t + d) * nb]);
#pragma GCC unroll 4
      for (int r = 0; r < NR; r++) acc[r][d] = _mm512_fmadd_ps(vv[r], h, acc[r][d]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
    for (int d = 0; d < NT; d++)
      _mm512_storeu_ps(P + i + 16 * r + (int64_t)(t + d) * n, acc[r][d]);
}

CD_AVX512 static void vht_acc_avx512(float *P, int64_t n, int k, const float *Vj, int nb,
                                     const float *Ht, const float *Vnext) {
  int t = 0;
  for (; t + 4 <= k; t += 4) {
    const float *pf = t == 0 ? Vnext : NULL; /* one pass over the rows prefetches it all */
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) vht_tile512(P, n, Vj, nb, Ht, i, t, 4, 4, pf);
    for (; i + 16 <= n; i += 16) vht_tile512(P, n, Vj, nb, Ht, i, t, 1, 4, pf);
  }
  for (; t < k; t++) {
    const float *pf = t == 0 ? Vnext : NULL;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) vht_tile512(P, n, Vj, nb, Ht, i, t, 4, 1, pf);
    for (; i + 16 <= n; i += 16) vht_tile512(P, n, Vj, nb, Ht, i, t, 1, 1, pf);
  }
  for (int64_t i = n - n % 16; i < n; i++)
    for (int u = 0; u < k; u++) {
      float s = P[i + (int64_t)u * n];
      for (int jj = 0; jj < nb; jj++)
        s = fmaf(Vj[i + (int64_t)jj * n], Ht[jj + (int64_t)u * nb], s);
      P[i + (int64_t)u * n] = s;
    }
}
/* The k^2-sized work of each iteration (W·(H·Hᵀ) for the MU update of W, (Wᵀ·W)·H for that
 * of H, and Wᵀ·W itself) is (n + p)·k² multiply-adds: as much as the products with V at
 * k = 16 when n, p ~ 1000, so it too runs in 16 lanes where the CPU has them (k <= 16). */
#define CD_AVX512VL __attribute__((target("avx512f,avx512vl,fma")))

/* cd_mu_w for k <= 16, 16 rows at a time: W's rows (the old values) stay in registers
 * while each component's new row is stored. */
CD_AVX512VL static void cd_mu_w_avx512(float *W, int64_t n, int k, const float *VHt,
                                       const float *hh, float l1, float l2) {
  const __m512 eps = _mm512_set1_ps(FLT_EPSILON), l1v = _mm512_set1_ps(l1);
  const __m512 l2v = _mm512_set1_ps(l2);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = i + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 w[16];
    for (int b = 0; b < k; b++) w[b] = _mm512_maskz_loadu_ps(m, W + (int64_t)b * n + i);
    for (int a = 0; a < k; a++) {
      __m512 d = _mm512_mul_ps(w[0], _mm512_set1_ps(hh[a]));
      for (int b = 1; b < k; b++) d = _mm512_fmadd_ps(w[b], _mm512_set1_ps(hh[b * k + a]), d);
      if (l1 > 0.0f) d = _mm512_add_ps(d, l1v);
      if (l2 > 0.0f) d = _mm512_fmadd_ps(l2v, w[a], d);
      d = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_EQ_OQ), d, eps);
      __m512 num = _mm512_maskz_loadu_ps(m, VHt + (int64_t)a * n + i);
      _mm512_mask_storeu_ps(W + (int64_t)a * n + i, m, _mm512_mul_ps(w[a], _mm512_div_ps(num, d)));
    }
  }
}

/* cd_mu_block for nb <= 8 and k <= 16: the block's columns are the 8 lanes of doubles, the
 * old H in registers while the new one is stored. */
CD_AVX512VL static void cd_mu_block_avx512(float *Ht, int nb, int k, const float *Gt,
                                           const double *WtW, float l1, float l2) {
  const __mmask8 m = (__mmask8)((1u << nb) - 1);
  const __m256 eps = _mm256_set1_ps(FLT_EPSILON), l1v = _mm256_set1_ps(l1);
  const __m256 l2v = _mm256_set1_ps(l2);
  __m512d hb[16];
  __m256 old[16];
  for (int b = 0; b < k; b++) {
    old[b] = _mm256_maskz_loadu_ps(m, Ht + (int64_t)b * nb);
    hb[b] = _mm512_cvtps_pd(old[b]);
  }
  for (int t = 0; t < k; t++) {
    __m512d s = _mm512_mul_pd(hb[0], _mm512_set1_pd(WtW[t * k]));
    for (int b = 1; b < k; b++) s = _mm512_fmadd_pd(hb[b], _mm512_set1_pd(WtW[t * k + b]), s);
    __m256 d = _mm512_cvtpd_ps(s);
    if (l1 > 0.0f) d = _mm256_add_ps(d, l1v);
    if (l2 > 0.0f) d = _mm256_fmadd_ps(l2v, old[t], d);
    d = _mm256_mask_blend_ps(_mm256_cmp_ps_mask(d, _mm256_setzero_ps(), _CMP_EQ_OQ), d, eps);
    __m256 g = _mm256_maskz_loadu_ps(m, Gt + (int64_t)t * nb);
    _mm256_mask_storeu_ps(Ht + (int64_t)t * nb, m, _mm256_mul_ps(old[t], _mm256_div_ps(g, d)));
  }
}

/* cd_gram_acc for m >= 8 rows and k <= 16, in double: tiles of 4 x 4 components over the
 * upper triangle, 8 rows at a time. */
CD_AVX512VL static void cd_gram_acc_avx512(const float *X, int64_t m, int64_t ldx, int k,
                                           double *G) {
  for (int t0 = 0; t0 < k; t0 += 4)
    for (int r0 = t0; r0 < k; r0 += 4) {
      const int nt = k - t0 < 4 ? k - t0 : 4, nr = k - r0 < 4 ? k - r0 : 4;
      __m512d acc[4][4];
#pragma GCC unroll 4
      for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
        for (int b = 0; b < 4; b++) acc[a][b] = _mm512_setzero_pd();
      for (int64_t i = 0; i < m; i += 8) {
        const __mmask8 mk = i + 8 <= m ? (__mmask8)0xff : (__mmask8)((1u << (m - i)) - 1);
        __m512d xt[4], xr[4];
#pragma GCC unroll 4
        for (int a = 0; a < 4; a++) {
          xt[a] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(a < nt ? mk : 0, X + (int64_t)(t0 + (a < nt ? a : 0)) * ldx + i));
          xr[a] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(a < nr ? mk : 0, X + (int64_t)(r0 + (a < nr ? a : 0)) * ldx + i));
        }
#pragma GCC unroll 4
        for (int a = 0; a < 4; a++)
#pragma GCC unroll 4
          for (int b = 0; b < 4; b++) acc[a][b] = _mm512_fmadd_pd(xt[a], xr[b], acc[a][b]);
      }
      for (int a = 0; a < nt; a++)
        for (int b = 0; b < nr; b++)
          if (t0 + a <= r0 + b) G[(t0 + a) + (int64_t)(r0 + b) * k] += _mm512_reduce_add_pd(acc[a][b]);
    }
}

#endif

/* One implementation of each hot loop. */
typedef struct cd_kernels {
  double (*sweep)(float *, int64_t, int64_t, int, const float *, int64_t, float, const float *);
  void (*gt_block)(const float *, int64_t, int, const float *, int, float *, const float *);
  void (*vht_acc)(float *, int64_t, int, const float *, int, const float *, const float *);
  double (*col_norm2)(const float *, int64_t, int *);
  int block; /* columns per step: a multiple of gt_block's tile width (measured best) */
  int wide;  /* the k^2 loops in 16 lanes (AVX-512) for k <= 16 */
} cd_kernels;

/* The kernels this CPU runs, chosen once per fit. TESSERA_SIMD=generic or =avx2 caps the
 * choice, so that the specs can check every path on one machine. */
static cd_kernels cd_pick_kernels(void) {
  cd_kernels kr = {cd_sweep_c, gt_block_c, vht_acc_c, col_norm2_c, 8, 0};
#ifdef CD_HAVE_AVX2
  int cap = tsr_simd_cap();
  if (cap == TSR_SIMD_GENERIC) return kr;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    kr.sweep = cd_sweep_avx2;
    kr.gt_block = gt_block_avx2;
    kr.vht_acc = vht_acc_avx2;
    kr.col_norm2 = col_norm2_avx2;
    kr.block = 9; /* three 3-column tiles */
    if (__builtin_cpu_supports("avx512f") && cap > TSR_SIMD_AVX2) {
      kr.gt_block = gt_block_avx512;
      kr.vht_acc = vht_acc_avx512;
      kr.block = 8; /* two 4-column tiles, one 8-row chunk for the sweeps */
      kr.wide = __builtin_cpu_supports("avx512vl");
    }
  }
#endif
  return kr;
}

/* G (k x k, double) += Xᵀ·X for X m x k column-major (leading dimension ldx); upper triangle
 * computed, then mirrored by the caller through cd_gram_mirror. */
static void cd_gram_acc(const float *X, int64_t m, int64_t ldx, int k, double *G) {
  for (int t = 0; t < k; t++) {
    const float *xt = X + (int64_t)t * ldx;
    for (int r = t; r < k; r++) {
      const float *xr = X + (int64_t)r * ldx;
      double s[4] = {0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 4 <= m; i += 4)
        for (int l = 0; l < 4; l++) s[l] += (double)xt[i + l] * (double)xr[i + l];
      double acc = (s[0] + s[2]) + (s[1] + s[3]);
      for (; i < m; i++) acc += (double)xt[i] * (double)xr[i];
      G[t + (int64_t)r * k] += acc;
    }
  }
}

static void cd_gram_mirror(double *G, int k) {
  for (int t = 0; t < k; t++)
    for (int r = t + 1; r < k; r++) G[r + (int64_t)t * k] = G[t + (int64_t)r * k];
}

/* Q = (float)G with l2 added to the diagonal, as scikit-learn adds it to its float HHt. */
/* Wᵀ·W on the kernels' choice: AVX-512 where cd_kernels.wide says so. */
static void cd_gram_w(const cd_kernels *kr, const float *W, int64_t n, int k, double *G) {
#ifdef CD_HAVE_AVX2
  if (kr->wide && k <= 16 && n >= 8) {
    cd_gram_acc_avx512(W, n, n, k, G);
    return;
  }
#endif
  (void)kr;
  cd_gram_acc(W, n, n, k, G);
}

static void cd_gram_to_q(const double *G, int k, float l2, float *Q) {
  for (int64_t e = 0; e < (int64_t)k * k; e++) Q[e] = (float)G[e];
  for (int t = 0; t < k; t++) Q[t + (int64_t)t * k] += l2;
}

/* Σ a·b in double. */
static double cd_dot(const float *a, const float *b, size_t count) {
  double s = 0.0;
  for (size_t e = 0; e < count; e++) s += (double)a[e] * (double)b[e];
  return s;
}

/* tr(A·B) for symmetric k x k A, B: the Frobenius inner product. */
static double cd_frob(const double *A, const double *B, int k) {
  double s = 0.0;
  for (int64_t e = 0; e < (int64_t)k * k; e++) s += A[e] * B[e];
  return s;
}

/* ---------------------------------------------------------------------------------------
 * The fused H pass and its thread pool. V's columns are cut into a fixed number of chunks,
 * each with its own partial sums; threads take chunks as they come free (a core that
 * another program holds up does not hold up the pass), and the partial sums are added in
 * chunk order, so the result does not depend on the threads at all. */
typedef struct cd_chunk {
  int64_t j_lo, j_hi; /* its columns of V */
  float *P;           /* n x k partial V·Hᵀ */
  double *hh;         /* k x k partial H·Hᵀ (upper triangle) */
  double viol, cross;
  double vnorm2;      /* ‖V‖² over its columns, on a pass with check_v */
  double loss;        /* exact ‖V − WH‖² over its columns, on a pass with want_loss */
  int bad;            /* V holds a negative, NaN or infinite entry there */
} cd_chunk;

typedef struct cd_worker {
  float *Gt, *Ht;     /* CD_BLOCK_MAX x k scratch */
  float *den;         /* CD_BLOCK_MAX x k: CD_RULE_MU's denominators for one block */
} cd_worker;

/* What one pass over V computes, each worker over its own columns. */
enum cd_pass_mode {
  CD_PASS_FUSED, /* Gᵀ block, sweep H's block, then V·Hᵀ += V_J·H_Jᵀ when need_vht */
  CD_PASS_VHT,   /* V·Hᵀ for the current H only */
  CD_PASS_GT,    /* Gfix = Vᵀ·W for the current (fixed) W only */
  CD_PASS_LOSS   /* the exact objective only */
};

/* How CD_PASS_FUSED updates H's block from Gᵀ = V_Jᵀ·W: scikit-learn's coordinate sweep, or
 * the Euclidean multiplicative update H ← H ∘ (WᵀV) / ((WᵀW) H + l1 + l2 H). */
enum cd_rule { CD_RULE_HALS, CD_RULE_MU };

typedef struct cd_pass {
  int mode;
  const float *V;
  int64_t n, p;
  int k;
  const float *W;     /* current W */
  float *H;           /* updated in place by CD_PASS_FUSED */
  float *Gfix;        /* Vᵀ·W (p x k) when W stays fixed: written by CD_PASS_GT, read by
                       * CD_PASS_FUSED instead of computing each block; else NULL */
  const float *Qh;    /* Wᵀ·W with l2_H on the diagonal */
  float l1h;
  int need_vht;       /* CD_PASS_FUSED: accumulate V·Hᵀ for the next W sweep */
  int check_v;        /* CD_PASS_VHT / CD_PASS_GT: also check V and sum ‖V‖² */
  int want_loss;      /* also sum the exact ‖V − WH‖² (after the update, for FUSED), each
                       * column while it is in cache: no pass of its own */
  int rule;           /* enum cd_rule */
  const double *WtW;  /* CD_RULE_MU: Wᵀ·W, the update's denominator */
  float l2h;          /* CD_RULE_MU: l2 on H (CD_RULE_HALS has it in Qh) */
  cd_kernels kr;
  cd_worker *wk;
  cd_chunk *ch;
  int nchunks;
  atomic_int next;    /* the next chunk to take */
} cd_pass;

/* H's block (k x nb, column-major in H) into Ht (nb x k), and back. */
static void cd_h_to_ht(const float *Hj, int k, int nb, float *Ht) {
  for (int jj = 0; jj < nb; jj++)
    for (int t = 0; t < k; t++) Ht[jj + (int64_t)t * nb] = Hj[t + (int64_t)jj * k];
}

static void cd_ht_to_h(const float *Ht, int k, int nb, float *Hj) {
  for (int jj = 0; jj < nb; jj++)
    for (int t = 0; t < k; t++) Hj[t + (int64_t)jj * k] = Ht[jj + (int64_t)t * nb];
}

static double cd_block_norm2(const cd_pass *ps, const float *Vj, int nb, int *bad) {
  double s = 0.0;
  for (int jj = 0; jj < nb; jj++) s += ps->kr.col_norm2(Vj + (int64_t)jj * ps->n, ps->n, bad);
  return s;
}

/* The multiplicative update of a block of H held transposed (Ht, nb x k) from its Gᵀ
 * (nb x k): the same arithmetic as nmf.c's mu_update_h, so scikit-learn's guards. */
static void cd_mu_block(float *Ht, int nb, int k, const float *Gt, const double *WtW, float l1,
                        float l2, float *den) {
  /* Every denominator first (the update uses the old column), the block's columns side by
   * side: independent sums, not one chain per entry. */
  for (int t = 0; t < k; t++) {
    double s[CD_BLOCK_MAX] = {0};
    for (int b = 0; b < k; b++) {
      const double q = WtW[t * k + b];
      const float *hb = Ht + (int64_t)b * nb;
      for (int jj = 0; jj < nb; jj++) s[jj] += q * hb[jj];
    }
    for (int jj = 0; jj < nb; jj++) {
      float d = (float)s[jj];
      if (l1 > 0.0f) d += l1;
      if (l2 > 0.0f) d += l2 * Ht[jj + (int64_t)t * nb];
      den[jj + (int64_t)t * nb] = d == 0.0f ? FLT_EPSILON : d;
    }
  }
  for (int64_t e = 0; e < (int64_t)nb * k; e++) Ht[e] *= Gt[e] / den[e];
}

static void cd_pass_run_chunk(const cd_pass *ps, cd_chunk *me, const cd_worker *scratch) {
  const int64_t n = ps->n;
  const int k = ps->k;
  const int fused = ps->mode == CD_PASS_FUSED;
  const int vht = ps->mode == CD_PASS_VHT || (fused && ps->need_vht);
  me->viol = 0.0;
  me->cross = 0.0;
  me->vnorm2 = 0.0;
  me->loss = 0.0;
  me->bad = 0;
  memset(me->hh, 0, sizeof(double) * (size_t)k * (size_t)k);
  if (vht) memset(me->P, 0, sizeof(float) * (size_t)n * (size_t)k);
  const int64_t block = ps->kr.block;
  for (int64_t j0 = me->j_lo; j0 < me->j_hi; j0 += block) {
    const int nb = (int)(me->j_hi - j0 < block ? me->j_hi - j0 : block);
    const float *Vj = ps->V + j0 * n;
    const float *Vnext = j0 + block < me->j_hi ? Vj + block * n : NULL;
    float *Gt = scratch->Gt, *Ht = scratch->Ht;
    float *Hj = ps->H + j0 * k;
    if (ps->mode == CD_PASS_LOSS) {
      me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      continue;
    }
    if (ps->mode == CD_PASS_GT) {
      ps->kr.gt_block(ps->W, n, k, Vj, nb, Gt, Vnext);
      if (ps->check_v) me->vnorm2 += cd_block_norm2(ps, Vj, nb, &me->bad);
      if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      for (int t = 0; t < k; t++)
        memcpy(ps->Gfix + j0 + (int64_t)t * ps->p, Gt + (int64_t)t * nb,
               sizeof(float) * (size_t)nb);
      continue;
    }
    if (ps->mode == CD_PASS_VHT) {
      cd_h_to_ht(Hj, k, nb, Ht);
      ps->kr.vht_acc(me->P, n, k, Vj, nb, Ht, Vnext);
      if (ps->check_v) me->vnorm2 += cd_block_norm2(ps, Vj, nb, &me->bad); /* from cache */
      if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      continue;
    }
    if (ps->Gfix != NULL) {
      for (int t = 0; t < k; t++)
        memcpy(Gt + (int64_t)t * nb, ps->Gfix + j0 + (int64_t)t * ps->p,
               sizeof(float) * (size_t)nb);
    } else {
      ps->kr.gt_block(ps->W, n, k, Vj, nb, Gt, vht ? NULL : Vnext);
    }
    cd_h_to_ht(Hj, k, nb, Ht);
    if (ps->rule != CD_RULE_MU)
      me->viol += ps->kr.sweep(Ht, nb, nb, k, Gt, nb, ps->l1h, ps->Qh);
#ifdef CD_HAVE_AVX2
    else if (ps->kr.wide && k <= 16 && nb <= 8)
      cd_mu_block_avx512(Ht, nb, k, Gt, ps->WtW, ps->l1h, ps->l2h);
#endif
    else
      cd_mu_block(Ht, nb, k, Gt, ps->WtW, ps->l1h, ps->l2h, scratch->den);
    me->cross += cd_dot(Ht, Gt, (size_t)nb * (size_t)k);
    cd_gram_acc(Ht, nb, nb, k, me->hh);
    if (vht) ps->kr.vht_acc(me->P, n, k, Vj, nb, Ht, Vnext);
    cd_ht_to_h(Ht, k, nb, Hj);
    if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
  }
}

/* Worker w's part of a pass: chunks until none is left. */
static void cd_pass_run_worker(cd_pass *ps, int w) {
  int c;
  while ((c = atomic_fetch_add(&ps->next, 1)) < ps->nchunks)
    cd_pass_run_chunk(ps, &ps->ch[c], &ps->wk[w]);
}

/* Workers 1..nthreads-1 wait for a new generation, run their share of the pass, and report
 * back; the calling thread is worker 0. */
/* Between two passes of an iteration the caller has only a little serial work, far less
 * than a futex wake-up costs on a virtual machine (tens of microseconds, measured as the
 * whole gain of a second thread on a 10 s fit): so a waiting thread first spins on the
 * shared counters for up to CD_SPIN_NS, and only then sleeps on the condition variable. */
enum { CD_SPIN_NS = 200000 };

typedef struct cd_pool {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen;                  /* bumped (under mu) to start a generation */
  atomic_int pending;                /* helpers still running this generation */
  atomic_int quit;
  int sleepers, caller_sleeps;       /* under mu: who waits on go, and on done */
  int nthreads;
  void (*fn)(void *ctx, int worker); /* this generation's work, run by every worker */
  void *ctx;
  pthread_t tid[CD_MAX_THREADS];
} cd_pool;

typedef struct cd_thread_arg {
  cd_pool *pool;
  int id;
} cd_thread_arg;

static int64_t cd_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cd_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* 1 once done(pl, arg) holds, after spinning for at most CD_SPIN_NS; 0 if it still does not. */
static int cd_spin_until(cd_pool *pl, int (*done)(cd_pool *, unsigned long), unsigned long arg) {
  int64_t start = cd_now_ns();
  for (unsigned spins = 1;; spins++) {
    if (done(pl, arg)) return 1;
    cd_relax();
    if (spins % 256 == 0 && cd_now_ns() - start > CD_SPIN_NS) return done(pl, arg);
  }
}

static int cd_new_gen(cd_pool *pl, unsigned long seen) {
  return atomic_load_explicit(&pl->gen, memory_order_acquire) != seen ||
         atomic_load_explicit(&pl->quit, memory_order_relaxed);
}

static int cd_all_done(cd_pool *pl, unsigned long unused) {
  (void)unused;
  return atomic_load_explicit(&pl->pending, memory_order_acquire) == 0;
}

static void *cd_thread_main(void *arg) {
  cd_thread_arg *ta = arg;
  cd_pool *pl = ta->pool;
  unsigned long seen = 0;
  for (;;) {
    if (!cd_spin_until(pl, cd_new_gen, seen)) {
      pthread_mutex_lock(&pl->mu);
      pl->sleepers++;
      while (!cd_new_gen(pl, seen)) pthread_cond_wait(&pl->go, &pl->mu);
      pl->sleepers--;
      pthread_mutex_unlock(&pl->mu);
    }
    if (atomic_load(&pl->quit)) break;
    seen = atomic_load_explicit(&pl->gen, memory_order_acquire); /* fn, ctx published before */
    pl->fn(pl->ctx, ta->id);
    if (atomic_fetch_sub_explicit(&pl->pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&pl->mu);
      if (pl->caller_sleeps) pthread_cond_signal(&pl->done);
      pthread_mutex_unlock(&pl->mu);
    }
  }
  return NULL;
}

/* Starts up to want-1 helper threads; returns the thread count actually available
 * (1 when threads cannot be had: the pass then runs on the caller alone). */
static int cd_pool_start(cd_pool *pl, cd_thread_arg *args, int want) {
  pl->nthreads = 1;
  atomic_init(&pl->gen, 0);
  atomic_init(&pl->pending, 0);
  atomic_init(&pl->quit, 0);
  pl->sleepers = 0;
  pl->caller_sleeps = 0;
  pl->fn = NULL;
  pl->ctx = NULL;
  if (want <= 1) return 1;
  if (pthread_mutex_init(&pl->mu, NULL) != 0) return 1;
  if (pthread_cond_init(&pl->go, NULL) != 0) {
    pthread_mutex_destroy(&pl->mu);
    return 1;
  }
  if (pthread_cond_init(&pl->done, NULL) != 0) {
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
    return 1;
  }
  for (int w = 1; w < want; w++) {
    args[w].pool = pl;
    args[w].id = w;
    if (pthread_create(&pl->tid[w], NULL, cd_thread_main, &args[w]) != 0) break;
    pl->nthreads = w + 1;
  }
  if (pl->nthreads == 1) {
    pthread_cond_destroy(&pl->done);
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
  }
  return pl->nthreads;
}

static void cd_pool_stop(cd_pool *pl, int started) {
  if (!started) return;
  pthread_mutex_lock(&pl->mu);
  atomic_store(&pl->quit, 1);
  pthread_cond_broadcast(&pl->go);
  pthread_mutex_unlock(&pl->mu);
  for (int w = 1; w < pl->nthreads; w++) pthread_join(pl->tid[w], NULL);
  pthread_cond_destroy(&pl->done);
  pthread_cond_destroy(&pl->go);
  pthread_mutex_destroy(&pl->mu);
}

/* Runs fn(ctx, w) on every worker w (the caller being worker 0) and waits for them all. */
static void cd_pool_exec(cd_pool *pl, void (*fn)(void *, int), void *ctx) {
  if (pl->nthreads > 1) {
    pl->fn = fn;
    pl->ctx = ctx;
    atomic_store_explicit(&pl->pending, pl->nthreads - 1, memory_order_relaxed);
    /* Under mu, so that a helper about to sleep sees the new generation or is woken. */
    pthread_mutex_lock(&pl->mu);
    atomic_fetch_add_explicit(&pl->gen, 1, memory_order_release);
    if (pl->sleepers > 0) pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
  }
  fn(ctx, 0);
  if (pl->nthreads > 1 && !cd_spin_until(pl, cd_all_done, 0)) {
    pthread_mutex_lock(&pl->mu);
    pl->caller_sleeps = 1;
    while (!cd_all_done(pl, 0)) pthread_cond_wait(&pl->done, &pl->mu);
    pl->caller_sleeps = 0;
    pthread_mutex_unlock(&pl->mu);
  }
}

static void cd_pass_worker_fn(void *ctx, int w) { cd_pass_run_worker(ctx, w); }

static void cd_pool_run(cd_pool *pl, cd_pass *ps) {
  atomic_store(&ps->next, 0);
  cd_pool_exec(pl, cd_pass_worker_fn, ps);
}

/* The pool for other kernels (nmf.c's beta-divergence MU): tasks taken as workers come
 * free, each task's results kept apart by the caller, so the thread count never shows. */
struct tsr_nmf_pool {
  cd_pool pool;
  cd_thread_arg args[CD_MAX_THREADS];
  int started;
  atomic_int next;
  int ntasks;
  void (*task)(void *ctx, int task);
  void *ctx;
};

tsr_nmf_pool *tsr_nmf_pool_open(int threads) {
  tsr_nmf_pool *tp = tsr_alloc(sizeof *tp);
  if (tp == NULL) return NULL;
  memset(tp, 0, sizeof *tp);
  if (threads > CD_MAX_THREADS) threads = CD_MAX_THREADS;
  tp->started = cd_pool_start(&tp->pool, tp->args, threads) > 1;
  return tp;
}

static void tsr_pool_worker_fn(void *ctx, int w) {
  tsr_nmf_pool *tp = ctx;
  int t;
  (void)w;
  while ((t = atomic_fetch_add(&tp->next, 1)) < tp->ntasks) tp->task(tp->ctx, t);
}

void tsr_nmf_pool_run(tsr_nmf_pool *tp, int ntasks, void (*task)(void *ctx, int task),
                      void *ctx) {
  tp->ntasks = ntasks;
  tp->task = task;
  tp->ctx = ctx;
  atomic_store(&tp->next, 0);
  cd_pool_exec(&tp->pool, tsr_pool_worker_fn, tp);
}

void tsr_nmf_pool_close(tsr_nmf_pool *tp) {
  if (tp == NULL) return;
  cd_pool_stop(&tp->pool, tp->started);
  tsr_free(tp);
}

int tsr_nmf_pool_chunks(int64_t p) {
  int64_t c = p / CD_CHUNK_MIN;
  return c < 1 ? 1 : c > CD_CHUNKS ? CD_CHUNKS : (int)c;
}

/* V·Hᵀ = the chunks' partial sums, added in chunk order. */
#ifdef CD_HAVE_AVX2
/* cd_reduce_vht's sums, 16 entries at a time through every chunk, in chunk order. */
CD_AVX512 static void cd_reduce_vht_avx512(float *VHt, const cd_chunk *ch, int nchunks,
                                           size_t nk) {
  for (size_t e = 0; e < nk; e += 16) {
    const __mmask16 m = e + 16 <= nk ? (__mmask16)0xffff : (__mmask16)((1u << (nk - e)) - 1);
    __m512 s = _mm512_maskz_loadu_ps(m, ch[0].P + e);
    for (int c = 1; c < nchunks; c++) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, ch[c].P + e));
    _mm512_mask_storeu_ps(VHt + e, m, s);
  }
}
#endif

/* V·Hᵀ = the chunks' partial sums added in chunk order (the same for any thread count). */
static void cd_reduce_vht(const cd_kernels *kr, float *VHt, const cd_chunk *ch, int nchunks,
                          size_t nk) {
#ifdef CD_HAVE_AVX2
  if (kr->wide) {
    cd_reduce_vht_avx512(VHt, ch, nchunks, nk);
    return;
  }
#endif
  (void)kr;
  memcpy(VHt, ch[0].P, sizeof(float) * nk);
  for (int c = 1; c < nchunks; c++)
    for (size_t e = 0; e < nk; e++) VHt[e] += ch[c].P[e];
}

/* ---------------------------------------------------------------------------------------
 * Argument checks. */
static int cd_check_params(int64_t n, int64_t p, int k, const tsr_nmf_params *prm,
                           tsr_error *err) {
  if (n < 1 || p < 1) {
    tsr_seterror(err, "V must have at least one row and one column, got %lld x %lld",
                 (long long)n, (long long)p);
    return TSR_EINVAL;
  }
  if (k < 1) {
    tsr_seterror(err, "k must be at least 1, got %d", k);
    return TSR_EINVAL;
  }
  if (prm->beta != 2.0) {
    tsr_seterror(err, "the cd solver needs the euclidean loss (beta 2), got beta %g", prm->beta);
    return TSR_EINVAL;
  }
  if (prm->max_iter < 0) {
    tsr_seterror(err, "max_iter must be at least 0, got %d", prm->max_iter);
    return TSR_EINVAL;
  }
  if (!(prm->tol >= 0.0) || isinf(prm->tol)) {
    tsr_seterror(err, "tol must be a finite number >= 0, got %g", prm->tol);
    return TSR_EINVAL;
  }
  if (!(prm->alpha_W >= 0.0) || isinf(prm->alpha_W)) {
    tsr_seterror(err, "alpha_W must be a finite number >= 0, got %g", prm->alpha_W);
    return TSR_EINVAL;
  }
  if (!(prm->alpha_H >= 0.0) || isinf(prm->alpha_H)) {
    tsr_seterror(err, "alpha_H must be a finite number >= 0, got %g", prm->alpha_H);
    return TSR_EINVAL;
  }
  if (!(prm->l1_ratio >= 0.0 && prm->l1_ratio <= 1.0)) {
    tsr_seterror(err, "l1_ratio must be in [0, 1], got %g", prm->l1_ratio);
    return TSR_EINVAL;
  }
  if (prm->threads < 0) {
    tsr_seterror(err, "threads must be at least 0, got %d", prm->threads);
    return TSR_EINVAL;
  }
  if (prm->every < 1) {
    tsr_seterror(err, "every must be at least 1, got %d", prm->every);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* Checks that a factor is finite and non-negative; rows and columns 1-based in messages. */
static int cd_check_factor(const char *name, const float *X, int64_t rows, int64_t cols,
                           tsr_error *err) {
  for (int64_t j = 0; j < cols; j++)
    for (int64_t i = 0; i < rows; i++) {
      float x = X[i + j * rows];
      if (!isfinite(x)) {
        tsr_seterror(err, "%s has a non-finite entry (%g at row %lld, column %lld)", name,
                     (double)x, (long long)(i + 1), (long long)(j + 1));
        return TSR_ENOTFINITE;
      }
      if (x < 0.0f) {
        tsr_seterror(err, "%s has a negative entry (%g at row %lld, column %lld)", name,
                     (double)x, (long long)(i + 1), (long long)(j + 1));
        return TSR_EINVAL;
      }
    }
  return TSR_OK;
}

/* Allocation that tells the memory cap from a failed malloc. */
static void *cd_alloc(size_t count, size_t size, int *status) {
  size_t bytes;
  if (tsr_mul_size(count, size, &bytes) != 0) {
    if (*status == TSR_OK) *status = TSR_ELIMIT;
    return NULL;
  }
  void *ptr = tsr_alloc(bytes);
  if (ptr == NULL && *status == TSR_OK) {
    size_t cap = tsr_memory_cap();
    *status = (cap != 0 && bytes > cap) ? TSR_ELIMIT : TSR_ENOMEM;
  }
  return ptr;
}

/* ---------------------------------------------------------------------------------------
 * The solvers. */


typedef float cd_v8 __attribute__((vector_size(32))); /* two SSE or one AVX register */

/* The Euclidean multiplicative update of W, W ← W ∘ (V·Hᵀ) / (W·(H·Hᵀ) + l1 + l2 W), 0
 * denominators guarded as scikit-learn does; hh is H·Hᵀ in float (as scikit-learn has it),
 * 8 rows at a time with the k denominators of a row block in den (8k floats). */
static void cd_mu_w(float *W, int64_t n, int k, const float *VHt, const double *HHt, float l1,
                    float l2, float *hh, float *den) {
  for (int e = 0; e < k * k; e++) hh[e] = (float)HHt[e];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int a = 0; a < k; a++) {
      cd_v8 d = {0, 0, 0, 0, 0, 0, 0, 0}, w;
      for (int b = 0; b < k; b++) {
        memcpy(&w, W + (int64_t)b * n + i, sizeof w);
        d += w * hh[b * k + a];
      }
      memcpy(den + 8 * a, &d, sizeof d);
    }
    for (int a = 0; a < k; a++) {
      float *wa = W + (int64_t)a * n + i;
      const float *na = VHt + (int64_t)a * n + i;
      for (int l = 0; l < 8; l++) {
        float d = den[8 * a + l];
        if (l1 > 0.0f) d += l1;
        if (l2 > 0.0f) d += l2 * wa[l];
        wa[l] *= na[l] / (d == 0.0f ? FLT_EPSILON : d);
      }
    }
  }
  for (; i < n; i++) {
    for (int a = 0; a < k; a++) {
      float d = 0.0f;
      for (int b = 0; b < k; b++) d += W[i + (int64_t)b * n] * hh[b * k + a];
      den[a] = d;
    }
    for (int a = 0; a < k; a++) {
      float d = den[a], *w = W + i + (int64_t)a * n;
      if (l1 > 0.0f) d += l1;
      if (l2 > 0.0f) d += l2 * *w;
      *w *= VHt[i + (int64_t)a * n] / (d == 0.0f ? FLT_EPSILON : d);
    }
  }
}

static int cd_report(const tsr_nmf_params *prm, int it, double loss) {
  return prm->on_check != NULL ? prm->on_check(prm->ctx, it, loss < 0.0 ? 0.0 : loss) : 0;
}

/* Both solvers share the pass: HALS (rule CD_RULE_HALS, scikit-learn's "cd") and the
 * Euclidean multiplicative updates in scikit-learn's order, W then H (CD_RULE_MU, both
 * factors updated). One read of V per iteration either way. Check 0 and every `every`
 * iterations are reported; the final loss is exact, summed in the pass that ends the fit
 * when there is one (max_iter reached), else by a pass of its own. */
static int cd_solve(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                    const tsr_nmf_params *prm, int rule, tsr_nmf_result *res, tsr_error *err) {
  if (res != NULL) {
    res->iterations = 0;
    res->converged = 0;
    res->stopped = 0;
    res->loss = 0.0;
  }
  if (V == NULL || W == NULL || H == NULL || prm == NULL) {
    tsr_seterror(err, "V, W, H and the parameters must be given");
    return TSR_EINVAL;
  }
  int status = cd_check_params(n, p, k, prm, err);
  if (status != TSR_OK) return status;
  size_t np_, nk, kp;
  if (tsr_mul_size((size_t)n, (size_t)p, &np_) != 0 ||
      tsr_mul_size((size_t)n, (size_t)k, &nk) != 0 ||
      tsr_mul_size((size_t)k, (size_t)p, &kp) != 0 || np_ > (size_t)INT64_MAX) {
    tsr_seterror(err, "a %lld x %lld factorisation with k %d is too large", (long long)n,
                 (long long)p, k);
    return TSR_ELIMIT;
  }
  if ((status = cd_check_factor("W", W, n, k, err)) != TSR_OK) return status;
  if ((status = cd_check_factor("H", H, k, p, err)) != TSR_OK) return status;

  const int mu = rule == CD_RULE_MU;
  /* The MU rule updates both factors (tsr_nmf_fit sends it nothing else). */
  const int upd_W = mu || prm->update_W != 0, upd_H = mu || prm->update_H != 0;
  /* scikit-learn's _compute_regularization, with our V as its X (n samples, p features). */
  const float l1w = (float)((double)p * prm->alpha_W * prm->l1_ratio);
  const float l2w = (float)((double)p * prm->alpha_W * (1.0 - prm->l1_ratio));
  const float l1h = (float)((double)n * prm->alpha_H * prm->l1_ratio);
  const float l2h = (float)((double)n * prm->alpha_H * (1.0 - prm->l1_ratio));

  const cd_kernels kr = cd_pick_kernels();
  const int64_t nblocks = (p + kr.block - 1) / kr.block;
  /* Chunks of at least CD_CHUNK_MIN columns: below that, zeroing and adding up the chunks'
   * n x k partial sums costs more than the balance they buy. From the shape only, so the
   * result never depends on the thread count. */
  int64_t by_size = p / CD_CHUNK_MIN;
  if (by_size < 1) by_size = 1;
  if (by_size > nblocks) by_size = nblocks;
  const int nchunks = by_size < CD_CHUNKS ? (int)by_size : CD_CHUNKS;
  int want = prm->threads > 0 ? prm->threads : openblas_get_num_threads();
  if (want < 1) want = 1;
  if (want > CD_MAX_THREADS) want = CD_MAX_THREADS;
  if (want > nchunks) want = nchunks;

  const size_t kk = (size_t)k * (size_t)k;
  float *VHt = cd_alloc(nk, sizeof(float), &status);
  float *Qw = cd_alloc(kk, sizeof(float), &status);
  float *Qh = cd_alloc(kk, sizeof(float), &status);
  double *WtW = cd_alloc(kk, sizeof(double), &status);
  double *HHt = cd_alloc(kk, sizeof(double), &status);
  float *Gfix = (upd_H && !upd_W) ? cd_alloc(kp, sizeof(float), &status) : NULL;
  float *mus = mu ? cd_alloc(kk + 8 * (size_t)k, sizeof(float), &status) : NULL;
  cd_worker *wk = cd_alloc((size_t)want, sizeof(cd_worker), &status);
  if (wk != NULL) memset(wk, 0, sizeof(cd_worker) * (size_t)want);
  for (int w = 0; wk != NULL && w < want; w++) {
    wk[w].Gt = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
    wk[w].Ht = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
    wk[w].den = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
  }
  cd_chunk *ch = cd_alloc((size_t)nchunks, sizeof(cd_chunk), &status);
  if (ch != NULL) memset(ch, 0, sizeof(cd_chunk) * (size_t)nchunks);
  for (int c = 0; ch != NULL && c < nchunks; c++) {
    /* Whole blocks per chunk, as even as they come. */
    ch[c].j_lo = nblocks * c / nchunks * kr.block;
    ch[c].j_hi = nblocks * (c + 1) / nchunks * kr.block;
    if (ch[c].j_hi > p) ch[c].j_hi = p;
    ch[c].P = cd_alloc(nk, sizeof(float), &status);
    ch[c].hh = cd_alloc(kk, sizeof(double), &status);
  }
  cd_pool pool;
  cd_thread_arg targs[CD_MAX_THREADS];
  int pool_started = 0;
  if (status != TSR_OK) {
    tsr_seterror(err, "cannot allocate the %s solver's scratch for a %lld x %lld "
                 "factorisation with k %d", mu ? "mu" : "cd", (long long)n, (long long)p, k);
    goto done;
  }

  pool_started = cd_pool_start(&pool, targs, want) > 1;
  cd_pass ps = {.mode = CD_PASS_VHT, .V = V, .n = n, .p = p, .k = k, .W = W, .H = H,
                .Gfix = Gfix, .Qh = Qh, .l1h = l1h, .kr = kr, .wk = wk, .ch = ch,
                .nchunks = nchunks, .rule = rule, .WtW = WtW, .l2h = l2h};

  /* The state every iteration starts from: V·Hᵀ and H·Hᵀ for the current H, Wᵀ·W. */
  memset(HHt, 0, sizeof(double) * kk);
  for (int64_t j = 0; j < p; j++) {
    const float *h = H + j * k;
    for (int t = 0; t < k; t++)
      for (int r = t; r < k; r++) HHt[t + (int64_t)r * k] += (double)h[t] * (double)h[r];
  }
  cd_gram_mirror(HHt, k);
  memset(WtW, 0, sizeof(double) * kk);
  cd_gram_w(&kr, W, n, k, WtW);
  cd_gram_mirror(WtW, k);
  /* The first pass over V also checks it and sums ‖V‖²: V's one scan before the iterations.
   * It writes only scratch, so a bad V leaves W and H as they were. MU's checks are exact
   * (scikit-learn's tol rule compares them), so this pass sums check 0 too; HALS reports
   * check 0 from ‖V‖² − 2 tr(Wᵀ·V·Hᵀ) + tr(Wᵀ·W·H·Hᵀ), exact only without V·Hᵀ. */
  int have_vht = upd_W || !upd_H || prm->max_iter == 0; /* else W is fixed: Gfix */
  ps.mode = have_vht ? CD_PASS_VHT : CD_PASS_GT;
  ps.check_v = 1;
  ps.want_loss = mu || !have_vht;
  cd_pool_run(&pool, &ps);
  ps.check_v = 0;
  double vnorm2 = 0.0, exact = 0.0;
  int bad = 0, exact_known = ps.want_loss;
  for (int c = 0; c < nchunks; c++) {
    vnorm2 += ch[c].vnorm2;
    exact += ch[c].loss;
    bad |= ch[c].bad;
  }
  if (bad) {
    status = tsr_nmf_check(V, n, p, "V", err); /* names the first bad entry */
    goto done;
  }
  if (have_vht) cd_reduce_vht(&kr, VHt, ch, nchunks, nk);

  double cross = 0.0; /* tr(Hᵀ·Wᵀ·V) for the current W and H */
  int cross_known = 0;
  double violation_init = 0.0;
  int it = 0;
  int converged = 0, stopped = 0;
  double loss0 = exact;
  if (!exact_known) {
    cross = cd_dot(W, VHt, nk);
    cross_known = 1;
    loss0 = vnorm2 - 2.0 * cross + cd_frob(WtW, HHt, k);
  }
  /* scikit-learn's MU convergence measure, sqrt(2 x its divergence) = sqrt(ours). */
  double e_init = sqrt(loss0 > 0.0 ? loss0 : 0.0), e_prev = e_init;
  if (cd_report(prm, 0, loss0)) {
    stopped = 1;
    goto finish;
  }
  if (!upd_W && !upd_H) goto finish; /* nothing to fit: report the given factors' loss */

  for (it = 1; it <= prm->max_iter; it++) {
    const int last = it == prm->max_iter, check = it % prm->every == 0;
    double violation = 0.0;
    if (upd_W) {
      if (mu) {
#ifdef CD_HAVE_AVX2
        if (kr.wide && k <= 16) {
          for (size_t e = 0; e < kk; e++) mus[e] = (float)HHt[e]; /* as scikit-learn has it */
          cd_mu_w_avx512(W, n, k, VHt, mus, l1w, l2w);
        } else
#endif
          cd_mu_w(W, n, k, VHt, HHt, l1w, l2w, mus, mus + kk);
      } else {
        cd_gram_to_q(HHt, k, l2w, Qw);
        violation += ps.kr.sweep(W, n, n, k, VHt, n, l1w, Qw);
      }
      memset(WtW, 0, sizeof(double) * kk);
      cd_gram_w(&kr, W, n, k, WtW);
      cd_gram_mirror(WtW, k);
    }
    exact_known = 0;
    if (upd_H) {
      if (!mu) cd_gram_to_q(WtW, k, l2h, Qh);
      ps.mode = CD_PASS_FUSED;
      ps.need_vht = upd_W && !last; /* the last iteration's would go unused */
      ps.want_loss = last || (mu && check);
      cd_pool_run(&pool, &ps);
      memset(HHt, 0, sizeof(double) * kk);
      cross = 0.0;
      exact = 0.0;
      for (int c = 0; c < nchunks; c++) {
        violation += ch[c].viol;
        cross += ch[c].cross;
        exact += ch[c].loss;
        for (size_t e = 0; e < kk; e++) HHt[e] += ch[c].hh[e];
      }
      cd_gram_mirror(HHt, k);
      if (ps.need_vht) cd_reduce_vht(&kr, VHt, ch, nchunks, nk);
      have_vht = ps.need_vht;
      cross_known = 1;
      exact_known = ps.want_loss;
    } else {
      cross_known = 0;
    }

    if (mu) {
      if (check) {
        /* As nmf.c's MU solvers: report, then scikit-learn's tol rule on the change. */
        if (cd_report(prm, it, exact)) {
          stopped = 1;
        } else if (prm->tol > 0.0) {
          double e = sqrt(exact > 0.0 ? exact : 0.0);
          if (e_init == 0.0 || (e_prev - e) / e_init < prm->tol) converged = 1;
          e_prev = e;
        }
      }
    } else {
      if (it == 1) violation_init = violation;
      /* scikit-learn stops when the first violation is 0 or the ratio falls to tol. */
      if (violation_init == 0.0 || violation / violation_init <= prm->tol) converged = 1;
      if (prm->on_check != NULL && check) {
        if (!cross_known) {
          cross = cd_dot(W, VHt, nk);
          cross_known = 1;
        }
        double loss = exact_known ? exact : vnorm2 - 2.0 * cross + cd_frob(WtW, HHt, k);
        if (cd_report(prm, it, loss) != 0) stopped = 1;
      }
    }
    if (converged || stopped) break;
  }
  if (it > prm->max_iter) it = prm->max_iter;

finish:
  if (!exact_known) {
    ps.mode = CD_PASS_LOSS;
    ps.want_loss = 1;
    cd_pool_run(&pool, &ps);
    exact = 0.0;
    for (int c = 0; c < nchunks; c++) exact += ch[c].loss;
  }
  if (res != NULL) {
    res->loss = exact < 0.0 ? 0.0 : exact;
    res->iterations = it;
    res->converged = converged;
    res->stopped = stopped;
  }

done:
  cd_pool_stop(&pool, pool_started);
  for (int w = 0; wk != NULL && w < want; w++) {
    tsr_free(wk[w].Gt);
    tsr_free(wk[w].Ht);
    tsr_free(wk[w].den);
  }
  tsr_free(wk);
  for (int c = 0; ch != NULL && c < nchunks; c++) {
    tsr_free(ch[c].P);
    tsr_free(ch[c].hh);
  }
  tsr_free(ch);
  tsr_free(mus);
  tsr_free(Gfix);
  tsr_free(HHt);
  tsr_free(WtW);
  tsr_free(Qh);
  tsr_free(Qw);
  tsr_free(VHt);
  return status;
}

int tsr_nmf_cd_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                   const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  return cd_solve(V, n, p, k, W, H, prm, CD_RULE_HALS, res, err);
}

int tsr_nmf_mu_euc_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                       const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  return cd_solve(V, n, p, k, W, H, prm, CD_RULE_MU, res, err);
}
