/* The STFT's AVX-512 loops (see stft_kernels.h): the plain bodies compiled for AVX-512, and
 * the split of the spectrum with intrinsics. Built with -mavx512f -mavx512vl (Makefile). */
#include "stft_kernels.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>

STFT_SIMPLE_KERNELS(avx512)

/* Bins k..k+15 of split_bin (0 < k, k + 15 < N), as split8. */
static inline __attribute__((always_inline)) void
split16(const float *Z, const float *twr, const float *twi, int N, int k, __m512 *xr,
        __m512 *xi) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i back_even = _mm512_sub_epi32(_mm512_set1_epi32(30), even);
  const __m512i back_odd = _mm512_sub_epi32(_mm512_set1_epi32(31), even);
  const float *b = Z + 2 * (N - k - 15);
  __m512 a0 = _mm512_loadu_ps(Z + 2 * k), a1 = _mm512_loadu_ps(Z + 2 * k + 16);
  __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
  __m512 ar = _mm512_permutex2var_ps(a0, even, a1), ai = _mm512_permutex2var_ps(a0, odd, a1);
  __m512 br = _mm512_permutex2var_ps(b0, back_even, b1);
  __m512 bi = _mm512_permutex2var_ps(b0, back_odd, b1);
  __m512 er = _mm512_add_ps(ar, br), ei = _mm512_sub_ps(ai, bi);
  __m512 dr = _mm512_sub_ps(ar, br), di = _mm512_add_ps(ai, bi);
  __m512 c = _mm512_loadu_ps(twr + k), s = _mm512_loadu_ps(twi + k);
  __m512 pr = _mm512_sub_ps(_mm512_mul_ps(c, dr), _mm512_mul_ps(s, di));
  __m512 pi = _mm512_add_ps(_mm512_mul_ps(c, di), _mm512_mul_ps(s, dr));
  *xr = _mm512_add_ps(er, pi);
  *xi = _mm512_sub_ps(ei, pr);
}

static int split_avx512(const float *Z, const float *twr, const float *twi, int N,
                                  float *X) {
  if (N < 17) return split_generic(Z, twr, twi, N, X); /* the same bits as split8 */
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                          7, 23);
  const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
  for (int k = 1;; k += 16) {
    if (k > N - 16) k = N - 16;
    __m512 xr, xi;
    split16(Z, twr, twi, N, k, &xr, &xi);
    _mm512_storeu_ps(X + 2 * k, _mm512_permutex2var_ps(xr, first, xi));
    _mm512_storeu_ps(X + 2 * k + 16, _mm512_permutex2var_ps(xr, second, xi));
    if (k == N - 16) break;
  }
  split_tail(Z, twr, twi, N, N, X);
  return 0;
}

static int split_magnitude_avx512(const float *Z, const float *twr,
                                            const float *twi, int N, float *m) {
  if (N < 17) return split_magnitude_generic(Z, twr, twi, N, m);
  const __m512 zero = _mm512_setzero_ps(), high = _mm512_set1_ps(0x1p100f);
  const __m512 low = _mm512_set1_ps(0x1p-100f);
  __mmask16 bad = 0;
  for (int k = 1;; k += 16) {
    if (k > N - 16) k = N - 16;
    __m512 xr, xi;
    split16(Z, twr, twi, N, k, &xr, &xi);
    __m512 p = _mm512_add_ps(_mm512_mul_ps(xr, xr), _mm512_mul_ps(xi, xi));
    _mm512_storeu_ps(m + k, _mm512_sqrt_ps(p));
    /* !magnitude_fine, as unfine8 */
    __mmask16 tiny = _mm512_cmp_ps_mask(p, low, _CMP_NGE_UQ);
    bad |= _mm512_cmp_ps_mask(p, high, _CMP_NLE_UQ) |
           _mm512_mask_cmp_ps_mask(tiny, xr, zero, _CMP_NEQ_UQ) |
           _mm512_mask_cmp_ps_mask(tiny, xi, zero, _CMP_NEQ_UQ);
    if (k == N - 16) break;
  }
  return split_magnitude_tail(Z, twr, twi, N, N, m) | (bad != 0);
}

static const stft_kernels table = {all_finite_avx512, window_avx512, split_avx512,
                                   split_magnitude_avx512, magnitude_avx512};
const stft_kernels *const tsr_stft_avx512 = &table;
#else
const stft_kernels *const tsr_stft_avx512 = NULL;
#endif
