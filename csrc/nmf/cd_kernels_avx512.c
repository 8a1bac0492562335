/* The coordinate-descent pass's AVX-512 loops: Gᵀ and P += V_J·H_Jᵀ in 16-float tiles, and
 * the k^2-sized work (the MU updates' denominators, Wᵀ·W) in 16 lanes for k <= 16. Built
 * with -mavx512f -mavx512vl -mavx2 -mfma (Makefile); used only when tsr_simd_level() is
 * AVX-512, on top of the AVX2 table (kernels.c). */
#include "portable.h"

#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>

/* Gᵀ with AVX-512: 4 columns x 4 components per tile in 16-float registers. */
static inline __attribute__((always_inline)) void
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

static void gt_block_avx512(const float *W, int64_t n, int k, const float *Vj, int nb,
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
 * which needs fewer loads per multiply-add than the AVX2 tile (docs/DECISIONS.md). Same
 * order of operations per element as vht_acc_avx2. */
static inline __attribute__((always_inline)) void
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

static void vht_acc_avx512(float *P, int64_t n, int k, const float *Vj, int nb,
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

/* cd_mu_w for k <= 16, 16 rows at a time: W's rows (the old values) stay in registers
 * while each component's new row is stored. */
static void cd_mu_w_avx512(float *W, int64_t n, int k, const float *VHt,
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
static void cd_mu_block_avx512(float *Ht, int nb, int k, const float *Gt,
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
static void cd_gram_acc_avx512(const float *X, int64_t m, int64_t ldx, int k,
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

/* The chunks' partial sums P[0..nchunks-1] (nk floats each) added in chunk order, 16
 * entries at a time through every chunk. */
static void reduce_vht_avx512(float *VHt, const float *const *P, int nchunks, size_t nk) {
  for (size_t e = 0; e < nk; e += 16) {
    const __mmask16 m = e + 16 <= nk ? (__mmask16)0xffff : (__mmask16)((1u << (nk - e)) - 1);
    __m512 s = _mm512_maskz_loadu_ps(m, P[0] + e);
    for (int c = 1; c < nchunks; c++) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, P[c] + e));
    _mm512_mask_storeu_ps(VHt + e, m, s);
  }
}

static const nmf_cd_kernels table = {
  .gt_block = gt_block_avx512,
  .vht_acc = vht_acc_avx512,
  .block = 8, /* two 4-column tiles, one 8-row chunk for the sweeps */
  .mu_w = cd_mu_w_avx512,
  .mu_block = cd_mu_block_avx512,
  .gram_acc = cd_gram_acc_avx512,
  .reduce_vht = reduce_vht_avx512,
};
const nmf_cd_kernels *const tsr_nmf_cd_avx512 = &table;
#else
const nmf_cd_kernels *const tsr_nmf_cd_avx512 = NULL;
#endif
