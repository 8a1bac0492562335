/* The coordinate-descent pass's portable loops (every CPU): GCC's 4-float vectors become
 * SSE on any x86-64 and NEON on arm64. The table behind every level below AVX2. */
#include "portable.h"

#include <string.h>

static double cd_sweep_c(float *X, int64_t m, int64_t ldx, int k, const float *A, int64_t lda,
                         float l1, const float *Q) {
  return cd_sweep_body(X, m, ldx, k, A, lda, l1, Q);
}

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

const nmf_cd_kernels tsr_nmf_cd_generic = {
  .sweep = cd_sweep_c,
  .gt_block = gt_block_c,
  .vht_acc = vht_acc_c,
  .col_norm2 = col_norm2_c,
  .block = 8,
};
