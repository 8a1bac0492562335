/* The STFT's AVX2 loops (see stft_kernels.h): the plain bodies compiled for AVX2, and the
 * split of the spectrum with intrinsics. Built with -mavx2 (Makefile). */
#include "stft_kernels.h"

#if defined(__AVX2__)
#include <immintrin.h>

STFT_SIMPLE_KERNELS(avx2)

/* Bins k..k+7 of split_bin (0 < k, k + 7 < N) in two registers: Z[k..k+7] forwards,
 * Z[N-k-7..N-k] backwards, each split into real and imaginary parts by permutes. */
static inline __attribute__((always_inline)) void
split8(const float *Z, const float *twr, const float *twi, int N, int k, __m256 *xr,
       __m256 *xi) {
  const __m256i parts = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);      /* re 0..3, im 0..3 */
  const __m256i reversed = _mm256_setr_epi32(6, 4, 2, 0, 7, 5, 3, 1);   /* re 3..0, im 3..0 */
  const float *b = Z + 2 * (N - k - 7);
  __m256 a0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(Z + 2 * k), parts);
  __m256 a1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(Z + 2 * k + 8), parts);
  __m256 b0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(b + 8), reversed); /* Z[N-k-j], j<4 */
  __m256 b1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(b), reversed);     /* j = 4..7 */
  __m256 ar = _mm256_permute2f128_ps(a0, a1, 0x20), ai = _mm256_permute2f128_ps(a0, a1, 0x31);
  __m256 br = _mm256_permute2f128_ps(b0, b1, 0x20), bi = _mm256_permute2f128_ps(b0, b1, 0x31);
  __m256 er = _mm256_add_ps(ar, br), ei = _mm256_sub_ps(ai, bi);
  __m256 dr = _mm256_sub_ps(ar, br), di = _mm256_add_ps(ai, bi);
  __m256 c = _mm256_loadu_ps(twr + k), s = _mm256_loadu_ps(twi + k);
  __m256 pr = _mm256_sub_ps(_mm256_mul_ps(c, dr), _mm256_mul_ps(s, di));
  __m256 pi = _mm256_add_ps(_mm256_mul_ps(c, di), _mm256_mul_ps(s, dr));
  *xr = _mm256_add_ps(er, pi);
  *xi = _mm256_sub_ps(ei, pr);
}

/* Lanes where !magnitude_fine(p, re, im), all bits set. */
static inline __attribute__((always_inline)) __m256
unfine8(__m256 p, __m256 re, __m256 im) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 high = _mm256_cmp_ps(p, _mm256_set1_ps(0x1p100f), _CMP_NLE_UQ);
  __m256 low = _mm256_cmp_ps(p, _mm256_set1_ps(0x1p-100f), _CMP_NGE_UQ);
  __m256 nonzero = _mm256_or_ps(_mm256_cmp_ps(re, zero, _CMP_NEQ_UQ),
                                _mm256_cmp_ps(im, zero, _CMP_NEQ_UQ));
  return _mm256_or_ps(high, _mm256_and_ps(low, nonzero));
}

/* The SIMD loops cover bins 1..N-1 eight (sixteen) at a time; the last group overlaps
 * the one before rather than leaving a scalar tail (a bin gives the same bits however it
 * is reached). Frames of fewer bins than a group go to the narrower copy, and below eight
 * to the portable loop. */
static int split_avx2(const float *Z, const float *twr, const float *twi, int N,
                              float *X) {
  if (N < 9) return split_generic(Z, twr, twi, N, X);
  for (int k = 1;; k += 8) {
    if (k > N - 8) k = N - 8;
    __m256 xr, xi;
    split8(Z, twr, twi, N, k, &xr, &xi);
    __m256 lo = _mm256_unpacklo_ps(xr, xi), hi = _mm256_unpackhi_ps(xr, xi);
    _mm256_storeu_ps(X + 2 * k, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(X + 2 * k + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    if (k == N - 8) break;
  }
  split_tail(Z, twr, twi, N, N, X); /* the real ends */
  return 0;
}

static int split_magnitude_avx2(const float *Z, const float *twr, const float *twi,
                                        int N, float *m) {
  if (N < 9) return split_magnitude_generic(Z, twr, twi, N, m);
  __m256 bad = _mm256_setzero_ps();
  for (int k = 1;; k += 8) {
    if (k > N - 8) k = N - 8;
    __m256 xr, xi;
    split8(Z, twr, twi, N, k, &xr, &xi);
    __m256 p = _mm256_add_ps(_mm256_mul_ps(xr, xr), _mm256_mul_ps(xi, xi));
    _mm256_storeu_ps(m + k, _mm256_sqrt_ps(p));
    bad = _mm256_or_ps(bad, unfine8(p, xr, xi));
    if (k == N - 8) break;
  }
  return split_magnitude_tail(Z, twr, twi, N, N, m) | (_mm256_movemask_ps(bad) != 0);
}

static const stft_kernels table = {all_finite_avx2, window_avx2, split_avx2,
                                   split_magnitude_avx2, magnitude_avx2};
const stft_kernels *const tsr_stft_avx2 = &table;
#else
const stft_kernels *const tsr_stft_avx2 = NULL;
#endif
