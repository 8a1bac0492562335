/* The NMF's AVX2 + FMA loops (the multiplicative updates' fused sweeps and the objective),
 * 8 rows at a time: the same computations as the portable loops of portable.h. Built with
 * -mavx2 -mfma (Makefile); its table is used only when tsr_simd_level() is AVX2 or above. */
#include "portable.h"

#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

/* (W h) for rows i..i+7 */
static inline __m256 wh8(const float *W, int64_t n, int k, const float *h, int64_t i) {
  __m256 y = _mm256_mul_ps(_mm256_loadu_ps(W + i), _mm256_broadcast_ss(h));
  for (int a = 1; a < k; a++)
    y = _mm256_fmadd_ps(_mm256_loadu_ps(W + a * n + i), _mm256_broadcast_ss(h + a), y);
  return y;
}

static inline __m256 guard8(__m256 y) {
  __m256 small = _mm256_cmp_ps(y, _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ);
  return _mm256_blendv_ps(y, _mm256_set1_ps(EPS32), small);
}

/* 1/y to about one ulp: the hardware estimate (12 bits) and one Newton step; a division
 * costs several times more and was half of a KL iteration. */
static inline __m256 recip8(__m256 y) {
  __m256 x = _mm256_rcp_ps(y);
  return _mm256_fmadd_ps(x, _mm256_fnmadd_ps(y, x, _mm256_set1_ps(1.0f)), x);
}

static void prep_avx2(const float *W, int64_t n, int k, const float *h,
                              const float *v, float *r, float *q) {
  int64_t i = 0;
  if (q == NULL) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(r + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), recip8(guard8(wh8(W, n, k, h, i)))));
  } else {
    for (; i + 8 <= n; i += 8) {
      __m256 t = recip8(guard8(wh8(W, n, k, h, i)));
      _mm256_storeu_ps(q + i, t);
      _mm256_storeu_ps(r + i, _mm256_mul_ps(_mm256_mul_ps(t, t), _mm256_loadu_ps(v + i)));
    }
  }
  if (i < n) prep_c(W + i, n, n - i, k, h, v + i, r + i, q ? q + i : NULL);
}

static void dots_avx2(const float *W, int64_t n, int k, const float *x, float *out) {
  int64_t n8 = n & ~(int64_t)7;
  int a = 0;
  for (; a + 4 <= k; a += 4) {
    const float *w0 = W + a * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = 0; i < n8; i += 8) {
      __m256 xv = _mm256_loadu_ps(x + i);
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, s1);
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, s2);
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, s3);
    }
    float t0 = hsum8(s0), t1 = hsum8(s1), t2 = hsum8(s2), t3 = hsum8(s3);
    for (int64_t i = n8; i < n; i++) {
      t0 += w0[i] * x[i];
      t1 += w1[i] * x[i];
      t2 += w2[i] * x[i];
      t3 += w3[i] * x[i];
    }
    out[a] = t0;
    out[a + 1] = t1;
    out[a + 2] = t2;
    out[a + 3] = t3;
  }
  for (; a < k; a++) {
    const float *w = W + a * n;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n8; i += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), s1);
    }
    for (; i < n8; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), s0);
    float t = hsum8(_mm256_add_ps(s0, s1));
    for (i = n8; i < n; i++) t += w[i] * x[i];
    out[a] = t;
  }
}

static void axpys_avx2(float *acc, int64_t n, int k, const float *x, const float *h) {
  int64_t n8 = n & ~(int64_t)7;
  int a = 0;
  /* Two components per sweep: x is loaded once for both. */
  for (; a + 2 <= k; a += 2) {
    float *c0 = acc + a * n, *c1 = c0 + n;
    __m256 h0 = _mm256_set1_ps(h[a]), h1 = _mm256_set1_ps(h[a + 1]);
    for (int64_t i = 0; i < n8; i += 8) {
      __m256 xv = _mm256_loadu_ps(x + i);
      _mm256_storeu_ps(c0 + i, _mm256_fmadd_ps(xv, h0, _mm256_loadu_ps(c0 + i)));
      _mm256_storeu_ps(c1 + i, _mm256_fmadd_ps(xv, h1, _mm256_loadu_ps(c1 + i)));
    }
    for (int64_t i = n8; i < n; i++) {
      c0[i] += x[i] * h[a];
      c1[i] += x[i] * h[a + 1];
    }
  }
  for (; a < k; a++) {
    float *c = acc + a * n;
    __m256 hv = _mm256_set1_ps(h[a]);
    for (int64_t i = 0; i < n8; i += 8)
      _mm256_storeu_ps(c + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), hv, _mm256_loadu_ps(c + i)));
    for (int64_t i = n8; i < n; i++) c[i] += x[i] * h[a];
  }
}

/* x^3 P(x), given z = x^2. */
static inline __m256 log_poly8(__m256 x, __m256 z) {
  __m256 p = _mm256_set1_ps(LOGF_P[0]);
  _Pragma("GCC unroll 8") for (int c = 1; c < 9; c++)
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(LOGF_P[c]));
  return _mm256_mul_ps(_mm256_mul_ps(p, x), z);
}

/* Natural logarithm of positive normal floats (Cephes' logf, as in sse_mathfun): about
 * one ulp, enough for an objective accumulated in double. */
static inline __m256 log8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256i xi = _mm256_castps_si256(x);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(126)));
  xi = _mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff));
  xi = _mm256_or_si256(xi, _mm256_set1_epi32(0x3f000000)); /* mantissa in [0.5, 1) */
  __m256 m = _mm256_castsi256_ps(xi);
  __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  __m256 tmp = _mm256_and_ps(m, small);
  m = _mm256_sub_ps(m, one);
  e = _mm256_sub_ps(e, _mm256_and_ps(one, small));
  m = _mm256_add_ps(m, tmp);
  __m256 z = _mm256_mul_ps(m, m);
  __m256 y = log_poly8(m, z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
  m = _mm256_add_ps(m, y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), m);
}

/* y^b for finite y >= 0 (0^b = 0 for b > 0, the only case in which it is asked), as 2^(b log2 y)
 * with b log2 y carried in two parts: b e (e y's exponent) with its multiply-add remainder,
 * and b log2 m for the mantissa m in [sqrt(1/2), sqrt(2)), whose logarithm is Cephes'
 * logf polynomial; 2^f for the fraction |f| <= 1/2 is Cephes' expf polynomial. A few ulps
 * at any size of the result, where e^(b ln y) in floats loses up to 150 (ln y = 44 has an
 * ulp of 4e-6). Over the float range +inf, under the smallest subnormal 0, as powf. */
static inline __m256 pow8(__m256 y, __m256 b) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 zero = _mm256_cmp_ps(y, _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ);
  __m256i yi = _mm256_castps_si256(_mm256_max_ps(y, _mm256_set1_ps(FLT_MIN)));
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(yi, 23), _mm256_set1_epi32(127)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(yi, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000))); /* [1, 2) */
  __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356237309505f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, one));
  __m256 x = _mm256_sub_ps(m, one), z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), log_poly8(x, z));
  __m256 lm = _mm256_add_ps(x, p); /* ln m, |ln m| <= ln(2) / 2 */
  __m256 hi = _mm256_mul_ps(b, e), lo = _mm256_fmsub_ps(b, e, hi);
  __m256 q = _mm256_mul_ps(b, _mm256_mul_ps(lm, _mm256_set1_ps(1.44269504088896341f)));
  __m256 n = _mm256_round_ps(_mm256_add_ps(hi, q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_add_ps(_mm256_add_ps(_mm256_sub_ps(hi, n), q), lo);
  x = _mm256_mul_ps(f, _mm256_set1_ps(0.693147180559945309f)); /* 2^f = e^x */
  __m256 t = _mm256_set1_ps(1.9875691500E-4f);
  t = _mm256_fmadd_ps(t, x, _mm256_set1_ps(1.3981999507E-3f));
  t = _mm256_fmadd_ps(t, x, _mm256_set1_ps(8.3334519073E-3f));
  t = _mm256_fmadd_ps(t, x, _mm256_set1_ps(4.1665795894E-2f));
  t = _mm256_fmadd_ps(t, x, _mm256_set1_ps(1.6666665459E-1f));
  t = _mm256_fmadd_ps(t, x, _mm256_set1_ps(5.0000001201E-1f));
  t = _mm256_fmadd_ps(t, _mm256_mul_ps(x, x), _mm256_add_ps(x, one));
  /* 2^n as two powers of two, each a normal float, so that subnormal results come out. */
  __m256 over = _mm256_cmp_ps(n, _mm256_set1_ps(128.0f), _CMP_GT_OQ);
  __m256 under = _mm256_cmp_ps(n, _mm256_set1_ps(-151.0f), _CMP_LT_OQ);
  __m256i ni = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-151.0f)),
                                                _mm256_set1_ps(128.0f)));
  __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  t = _mm256_mul_ps(t, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23)));
  t = _mm256_mul_ps(t, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
  t = _mm256_blendv_ps(t, _mm256_set1_ps(INFINITY), over);
  return _mm256_andnot_ps(_mm256_or_ps(zero, under), t);
}

/* prep_beta, 8 rows at a time, its one power per row from pow8: powf took nearly all of a
 * beta-divergence iteration. A column with an infinite or NaN W h (overflowed factors),
 * where pow8 does not give powf's answers, is done again by the portable loop. */
static void prep_beta_avx2(const float *W, int64_t n, int k, const float *h,
                                   const float *v, double beta, float *r, float *q) {
  const __m256 br = _mm256_set1_ps((float)(beta - 2.0));
  const int guard_r = beta < 2.0, guard_q = beta < 1.0;
  __m256 special = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 y = wh8(W, n, k, h, i);
    special = _mm256_or_ps(special, _mm256_cmp_ps(y, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ));
    __m256 yr = guard_r ? guard8(y) : y;
    __m256 t = pow8(yr, br);
    _mm256_storeu_ps(r + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), t));
    _mm256_storeu_ps(q + i, _mm256_mul_ps(guard_q ? yr : y, t));
  }
  if (__builtin_expect(!_mm256_testz_ps(special, special), 0)) i = 0;
  if (i < n) prep_beta(W + i, n, n - i, k, h, v + i, beta, r + i, q + i);
}

static inline __attribute__((always_inline)) double
loss_col_cls(int cls, const float *W, int64_t n, int k, const float *h, const float *v) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0;
  const __m256 zero = _mm256_setzero_ps();
  double tail = 0.0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 y = wh8(W, n, k, h, i), x = _mm256_loadu_ps(v + i);
    __m256d t0, t1;
    if (cls == CLS_EUC) {
      __m256 d = _mm256_sub_ps(x, y);
      __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
      __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
      acc0 = _mm256_fmadd_pd(d0, d0, acc0);
      acc1 = _mm256_fmadd_pd(d1, d1, acc1);
      continue;
    }
    __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GT_OQ);
    __m256 ratio = _mm256_mul_ps(x, recip8(guard8(y)));
    /* Ratios that are not normal floats (under- or overflow) are redone in double. */
    __m256 ok = _mm256_and_ps(_mm256_cmp_ps(ratio, _mm256_set1_ps(FLT_MIN), _CMP_GE_OQ),
                              _mm256_cmp_ps(ratio, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));
    if (_mm256_movemask_ps(_mm256_andnot_ps(ok, pos)) != 0) {
      tail += loss_col_c(cls, 0.0, W + i, n, 8, k, h, v + i);
      continue;
    }
    __m256 lg = _mm256_and_ps(log8(_mm256_max_ps(ratio, _mm256_set1_ps(FLT_MIN))), pos);
    if (cls == CLS_KL) {
      /* x log(x / y) - x + y: the product in float carries no more error than the float
       * logarithm it multiplies; y - x is exact where the two are close. */
      __m256 xl = _mm256_mul_ps(x, lg), d = _mm256_sub_ps(y, x);
      t0 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xl)),
                         _mm256_cvtps_pd(_mm256_castps256_ps128(d)));
      t1 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xl, 1)),
                         _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1)));
    } else {
      /* x / y - log(x / y) - 1 where x > 0 */
      __m256 rm = _mm256_and_ps(ratio, pos), ones = _mm256_and_ps(pos, _mm256_set1_ps(1.0f));
      __m256d lg0 = _mm256_cvtps_pd(_mm256_castps256_ps128(lg));
      __m256d lg1 = _mm256_cvtps_pd(_mm256_extractf128_ps(lg, 1));
      __m256d r0 = _mm256_cvtps_pd(_mm256_castps256_ps128(rm));
      __m256d r1 = _mm256_cvtps_pd(_mm256_extractf128_ps(rm, 1));
      __m256d o0 = _mm256_cvtps_pd(_mm256_castps256_ps128(ones));
      __m256d o1 = _mm256_cvtps_pd(_mm256_extractf128_ps(ones, 1));
      t0 = _mm256_sub_pd(_mm256_sub_pd(r0, lg0), o0);
      t1 = _mm256_sub_pd(_mm256_sub_pd(r1, lg1), o1);
    }
    acc0 = _mm256_add_pd(acc0, t0);
    acc1 = _mm256_add_pd(acc1, t1);
  }
  double s = hsum4d(_mm256_add_pd(acc0, acc1)) + tail;
  if (i < n) s += loss_col_c(cls, 0.0, W + i, n, n - i, k, h, v + i);
  return s;
}

/* Eight columns' share of the objective (columns c of H8 and V8, leading dimensions k and
 * n): the same per-entry formulas as loss_col_cls, but each block of W is loaded once for
 * the eight columns and their sums are eight independent chains (one column alone is a
 * chain of k dependent multiply-adds per 8 rows: latency-bound, several times slower). */
static inline __attribute__((always_inline)) double
loss_group8_cls(int cls, const float *W, int64_t n, int k, const float *H8, const float *V8) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0;
  const __m256 zero = _mm256_setzero_ps();
  double tail = 0.0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 y[8];
    for (int c = 0; c < 8; c++) y[c] = _mm256_setzero_ps();
    for (int a = 0; a < k; a++) {
      __m256 w = _mm256_loadu_ps(W + a * n + i);
      _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++)
        y[c] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(H8 + c * k + a), y[c]);
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) {
      __m256 x = _mm256_loadu_ps(V8 + c * n + i);
      if (cls == CLS_EUC) {
        __m256 d = _mm256_sub_ps(x, y[c]);
        __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
        __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
        acc0 = _mm256_fmadd_pd(d0, d0, acc0);
        acc1 = _mm256_fmadd_pd(d1, d1, acc1);
        continue;
      }
      __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GT_OQ);
      __m256 ratio = _mm256_mul_ps(x, recip8(guard8(y[c])));
      __m256 ok = _mm256_and_ps(_mm256_cmp_ps(ratio, _mm256_set1_ps(FLT_MIN), _CMP_GE_OQ),
                                _mm256_cmp_ps(ratio, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));
      if (_mm256_movemask_ps(_mm256_andnot_ps(ok, pos)) != 0) {
        tail += loss_col_c(cls, 0.0, W + i, n, 8, k, H8 + c * k, V8 + c * n + i);
        continue;
      }
      __m256 lg = _mm256_and_ps(log8(_mm256_max_ps(ratio, _mm256_set1_ps(FLT_MIN))), pos);
      __m256d t0, t1;
      if (cls == CLS_KL) {
        __m256 xl = _mm256_mul_ps(x, lg), d = _mm256_sub_ps(y[c], x);
        t0 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xl)),
                           _mm256_cvtps_pd(_mm256_castps256_ps128(d)));
        t1 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xl, 1)),
                           _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1)));
      } else {
        __m256 rm = _mm256_and_ps(ratio, pos), ones = _mm256_and_ps(pos, _mm256_set1_ps(1.0f));
        t0 = _mm256_sub_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(rm)),
                                         _mm256_cvtps_pd(_mm256_castps256_ps128(lg))),
                           _mm256_cvtps_pd(_mm256_castps256_ps128(ones)));
        t1 = _mm256_sub_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(rm, 1)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(lg, 1))),
                           _mm256_cvtps_pd(_mm256_extractf128_ps(ones, 1)));
      }
      acc0 = _mm256_add_pd(acc0, t0);
      acc1 = _mm256_add_pd(acc1, t1);
    }
  }
  double s = hsum4d(_mm256_add_pd(acc0, acc1)) + tail;
  if (i < n)
    for (int c = 0; c < 8; c++) s += loss_col_c(cls, 0.0, W + i, n, n - i, k, H8 + c * k, V8 + c * n + i);
  return s;
}

static double loss_group8_avx2(int cls, const float *W, int64_t n, int k,
                                       const float *H8, const float *V8) {
  switch (cls) {
    case CLS_EUC: return loss_group8_cls(CLS_EUC, W, n, k, H8, V8);
    case CLS_KL: return loss_group8_cls(CLS_KL, W, n, k, H8, V8);
    default: return loss_group8_cls(CLS_IS, W, n, k, H8, V8);
  }
}

static double loss_col_avx2(int cls, const float *W, int64_t n, int k, const float *h,
                                    const float *v) {
  switch (cls) {
    case CLS_EUC: return loss_col_cls(CLS_EUC, W, n, k, h, v);
    case CLS_KL: return loss_col_cls(CLS_KL, W, n, k, h, v);
    default: return loss_col_cls(CLS_IS, W, n, k, h, v);
  }
}

/* The fused loops for k <= 8: WH, the ratio and its products in one sweep, with the k
 * columns of W and the accumulators in registers (K is a constant after inlining). */

/* Lanes 0..m-1 set: the last, partial block of rows is read and written masked, its
 * missing lanes reading as 0 (which every formula below turns into 0). */
static inline __m256i tail_mask(int64_t m) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static ALWAYS_INLINE __m256 load8(const float *p, int masked, __m256i mask) {
  return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

static ALWAYS_INLINE void store8(float *p, __m256 x, int masked, __m256i mask) {
  if (masked) _mm256_maskstore_ps(p, mask, x);
  else _mm256_storeu_ps(p, x);
}

/* Rows i..i+7 of the H update's sums for one column: acc[a] += W[:, a] r with
 * r = v / WH (KL) or v / WH^2 (IS, where accq[a] += W[:, a] / WH too). Up to K = 8 the
 * columns of W and h's broadcasts stay in registers; beyond, they are reloaded (L1). */
static ALWAYS_INLINE void hstep(const float *W, int64_t n, int K, int is, int64_t i,
                                        const __m256 *hb, const float *h, const float *v,
                                        __m256 *acc, __m256 *accq, int masked, __m256i mask) {
  __m256 w[8], y = _mm256_setzero_ps();
  UNROLL16 for (int a = 0; a < K; a++) {
    __m256 wa = load8(W + a * n + i, masked, mask);
    if (K <= 8) w[a] = wa;
    y = _mm256_fmadd_ps(wa, K <= 8 ? hb[a] : _mm256_broadcast_ss(h + a), y);
  }
  __m256 t = recip8(guard8(y)), x = load8(v + i, masked, mask);
  __m256 r = is ? _mm256_mul_ps(_mm256_mul_ps(t, t), x) : _mm256_mul_ps(x, t);
  UNROLL16 for (int a = 0; a < K; a++) {
    __m256 wa = K <= 8 ? w[a] : load8(W + a * n + i, masked, mask);
    acc[a] = _mm256_fmadd_ps(wa, r, acc[a]);
    if (is) accq[a] = _mm256_fmadd_ps(wa, t, accq[a]);
  }
}

static ALWAYS_INLINE void hsweep_k(const float *restrict W, int64_t n, int K, int is,
                                           const float *restrict h, const float *restrict v,
                                           float *restrict num, float *restrict dq) {
  __m256 hb[8], acc[16], accq[16];
  UNROLL16 for (int a = 0; a < K; a++) {
    if (K <= 8) hb[a] = _mm256_set1_ps(h[a]);
    acc[a] = accq[a] = _mm256_setzero_ps();
  }
  __m256i all = _mm256_set1_epi32(-1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    /* V is read from memory here, first in the pass: fetch the next group's column. */
    _mm_prefetch((const char *)(v + 4 * n + i), _MM_HINT_T0);
    hstep(W, n, K, is, i, hb, h, v, acc, accq, 0, all);
  }
  if (i < n) hstep(W, n, K, is, i, hb, h, v, acc, accq, 1, tail_mask(n - i));
  UNROLL16 for (int a = 0; a < K; a++) {
    num[a] = hsum8(acc[a]);
    if (is) dq[a] = hsum8(accq[a]);
  }
}

/* The Euclidean H update's W' v for two columns at once (K <= 4): eight independent sums
 * keep both FMA pipes busy, and each block of W is loaded once for both columns. */
static ALWAYS_INLINE void dots2_k(const float *restrict W, int64_t n, int K,
                                          const float *restrict v0, const float *restrict v1,
                                          float *restrict num0, float *restrict num1) {
  __m256 s0[4], s1[4];
  UNROLL8 for (int a = 0; a < K; a++) s0[a] = s1[a] = _mm256_setzero_ps();
  __m256i all = _mm256_set1_epi32(-1), mask = tail_mask(n & 7);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    /* V is read from memory here, first in the pass: fetch the next group's columns. */
    _mm_prefetch((const char *)(v0 + 4 * n + i), _MM_HINT_T0);
    _mm_prefetch((const char *)(v1 + 4 * n + i), _MM_HINT_T0);
    __m256 x0 = _mm256_loadu_ps(v0 + i), x1 = _mm256_loadu_ps(v1 + i);
    UNROLL8 for (int a = 0; a < K; a++) {
      __m256 w = _mm256_loadu_ps(W + a * n + i);
      s0[a] = _mm256_fmadd_ps(w, x0, s0[a]);
      s1[a] = _mm256_fmadd_ps(w, x1, s1[a]);
    }
  }
  if (i < n) {
    __m256 x0 = load8(v0 + i, 1, mask), x1 = load8(v1 + i, 1, mask);
    UNROLL8 for (int a = 0; a < K; a++) {
      __m256 w = load8(W + a * n + i, 1, mask);
      s0[a] = _mm256_fmadd_ps(w, x0, s0[a]);
      s1[a] = _mm256_fmadd_ps(w, x1, s1[a]);
    }
  }
  (void)all;
  UNROLL8 for (int a = 0; a < K; a++) {
    num0[a] = hsum8(s0[a]);
    num1[a] = hsum8(s1[a]);
  }
}

static void dots2_avx2(const float *W, int64_t n, int k, const float *v0,
                               const float *v1, float *num0, float *num1) {
  switch (k) {
    case 1: dots2_k(W, n, 1, v0, v1, num0, num1); break;
    case 2: dots2_k(W, n, 2, v0, v1, num0, num1); break;
    case 3: dots2_k(W, n, 3, v0, v1, num0, num1); break;
    default: dots2_k(W, n, 4, v0, v1, num0, num1); break;
  }
}


/* num (and dq for IS) of one column's H update; k in 1..16. */
static void hsweep_avx2(const float *W, int64_t n, int k, int is, const float *h,
                                const float *v, float *num, float *dq) {
#define HS_KL(K) hsweep_k(W, n, K, 0, h, v, num, dq)
#define HS_IS(K) hsweep_k(W, n, K, 1, h, v, num, dq)
  if (is) CASES_K(HS_IS) else CASES_K(HS_KL)
#undef HS_KL
#undef HS_IS
}

/* Rows i..i+7 of a group of four columns' contribution to the W update:
 * acc[:, a] += sum_c r_c h_c[a] with r_c = v_c (Euclidean), v_c / WH_c (KL) or v_c / WH_c^2
 * (IS, where accd[:, a] += sum_c h_c[a] / WH_c too). */
static ALWAYS_INLINE void wstep(const float *restrict W, int64_t n, int K, int cls,
                                        int64_t i, const float *const *h,
                                        const float *const *v, float *restrict acc,
                                        float *restrict accd, int masked, __m256i mask) {
  __m256 r[4], t[4];
  if (cls == CLS_EUC) {
    UNROLL8 for (int c = 0; c < 4; c++) r[c] = load8(v[c] + i, masked, mask);
  } else {
    __m256 y[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    UNROLL16 for (int a = 0; a < K; a++) {
      __m256 w = load8(W + a * n + i, masked, mask);
      UNROLL8 for (int c = 0; c < 4; c++) y[c] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(h[c] + a), y[c]);
    }
    UNROLL8 for (int c = 0; c < 4; c++) {
      __m256 x = load8(v[c] + i, masked, mask);
      t[c] = recip8(guard8(y[c]));
      r[c] = cls == CLS_IS ? _mm256_mul_ps(_mm256_mul_ps(t[c], t[c]), x) : _mm256_mul_ps(x, t[c]);
    }
  }
  UNROLL16 for (int a = 0; a < K; a++) {
    float *pa = acc + a * n + i;
    __m256 sum = load8(pa, masked, mask);
    UNROLL8 for (int c = 0; c < 4; c++) sum = _mm256_fmadd_ps(r[c], _mm256_broadcast_ss(h[c] + a), sum);
    store8(pa, sum, masked, mask);
    if (cls == CLS_IS) {
      float *pd = accd + a * n + i;
      __m256 sd = load8(pd, masked, mask);
      UNROLL8 for (int c = 0; c < 4; c++) sd = _mm256_fmadd_ps(t[c], _mm256_broadcast_ss(h[c] + a), sd);
      store8(pd, sd, masked, mask);
    }
  }
}

static ALWAYS_INLINE void wsweep_k(const float *restrict W, int64_t n, int K, int cls,
                                           const float *const *hp, const float *const *vp,
                                           float *restrict acc, float *restrict accd) {
  /* Local copies: the pointers stay in registers, as nothing stored can alias them. */
  const float *h[4] = {hp[0], hp[1], hp[2], hp[3]}, *v[4] = {vp[0], vp[1], vp[2], vp[3]};
  __m256i all = _mm256_set1_epi32(-1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) wstep(W, n, K, cls, i, h, v, acc, accd, 0, all);
  if (i < n) wstep(W, n, K, cls, i, h, v, acc, accd, 1, tail_mask(n - i));
}

/* The Euclidean W sweep, acc[:, a] += sum_c v_c h_c[a], two components at a time so the
 * eight factors h_c[a] stay in registers and each accumulator is loaded and stored once. */
static void wsweep_euc_avx2(int64_t n, int k, const float *const *hp,
                                    const float *const *vp, float *restrict acc) {
  const float *v0 = vp[0], *v1 = vp[1], *v2 = vp[2], *v3 = vp[3];
  __m256i mask = tail_mask(n & 7);
  int64_t n8 = n & ~(int64_t)7;
  for (int a = 0; a < k; a += 2) {
    int two = a + 1 < k;
    __m256 h00 = _mm256_set1_ps(hp[0][a]), h10 = _mm256_set1_ps(hp[1][a]);
    __m256 h20 = _mm256_set1_ps(hp[2][a]), h30 = _mm256_set1_ps(hp[3][a]);
    __m256 h01 = _mm256_set1_ps(two ? hp[0][a + 1] : 0.0f), h11 = _mm256_set1_ps(two ? hp[1][a + 1] : 0.0f);
    __m256 h21 = _mm256_set1_ps(two ? hp[2][a + 1] : 0.0f), h31 = _mm256_set1_ps(two ? hp[3][a + 1] : 0.0f);
    float *c0 = acc + a * n, *c1 = two ? c0 + n : c0;
    for (int64_t i = 0; i <= n8; i += 8) {
      int masked = i == n8;
      if (masked && n8 == n) break;
      __m256 x0 = load8(v0 + i, masked, mask), x1 = load8(v1 + i, masked, mask);
      __m256 x2 = load8(v2 + i, masked, mask), x3 = load8(v3 + i, masked, mask);
      __m256 s0 = load8(c0 + i, masked, mask);
      s0 = _mm256_fmadd_ps(x0, h00, s0);
      s0 = _mm256_fmadd_ps(x1, h10, s0);
      s0 = _mm256_fmadd_ps(x2, h20, s0);
      s0 = _mm256_fmadd_ps(x3, h30, s0);
      store8(c0 + i, s0, masked, mask);
      if (two) {
        __m256 s1 = load8(c1 + i, masked, mask);
        s1 = _mm256_fmadd_ps(x0, h01, s1);
        s1 = _mm256_fmadd_ps(x1, h11, s1);
        s1 = _mm256_fmadd_ps(x2, h21, s1);
        s1 = _mm256_fmadd_ps(x3, h31, s1);
        store8(c1 + i, s1, masked, mask);
      }
    }
  }
}

/* Four columns' contribution to the W update (pad with zero columns); k in 1..16 (1..8
 * for the Euclidean loss, whose larger k goes through sgemm). */
static void wsweep_avx2(const float *W, int64_t n, int k, int cls,
                                const float *const *h, const float *const *v, float *acc,
                                float *accd) {
#define WS_KL(K) wsweep_k(W, n, K, CLS_KL, h, v, acc, accd)
#define WS_IS(K) wsweep_k(W, n, K, CLS_IS, h, v, acc, accd)
  if (cls == CLS_EUC) wsweep_euc_avx2(n, k, h, v, acc);
  else if (cls == CLS_KL) CASES_K(WS_KL)
  else CASES_K(WS_IS)
#undef WS_KL
#undef WS_IS
}

/* W <- W * (num / den) (gamma 1) or its square root (gamma 1/2, Itakura-Saito), rows 8 at
 * a time; den as in mu_apply_w: (W HH')[i, a] (Euclidean, hh = HH' as floats), the row
 * sums of H (KL, hs) or accD (IS), plus the regularisation, 0 guarded. k in 1..8. */
static void apply_w_avx2(float *W, int64_t n, int k, int cls, const float *accN,
                                 const float *accD, const float *hh, const float *hs,
                                 float l1, float l2, int root, int flush) {
  const __m256 zero = _mm256_setzero_ps(), eps = _mm256_set1_ps(EPS32);
  const __m256 l1v = _mm256_set1_ps(l1), l2v = _mm256_set1_ps(l2), tiny = _mm256_set1_ps((float)FLUSH);
  __m256i mask = tail_mask(n & 7);
  for (int64_t i = 0; i < n; i += 8) {
    int masked = i + 8 > n;
    __m256 w[8], d[8];
    for (int a = 0; a < k; a++) w[a] = load8(W + a * n + i, masked, mask);
    for (int a = 0; a < k; a++) {
      if (cls == CLS_EUC) {
        d[a] = _mm256_mul_ps(w[0], _mm256_broadcast_ss(hh + a));
        for (int b = 1; b < k; b++) d[a] = _mm256_fmadd_ps(w[b], _mm256_broadcast_ss(hh + b * k + a), d[a]);
      } else if (cls == CLS_KL) {
        d[a] = _mm256_broadcast_ss(hs + a);
      } else {
        d[a] = load8(accD + a * n + i, masked, mask);
      }
      if (l1 > 0.0f) d[a] = _mm256_add_ps(d[a], l1v);
      if (l2 > 0.0f) d[a] = _mm256_fmadd_ps(l2v, w[a], d[a]);
      d[a] = _mm256_blendv_ps(d[a], eps, _mm256_cmp_ps(d[a], zero, _CMP_EQ_OQ));
    }
    for (int a = 0; a < k; a++) {
      __m256 delta = _mm256_div_ps(load8(accN + a * n + i, masked, mask), d[a]);
      if (root) delta = _mm256_sqrt_ps(delta);
      __m256 x = _mm256_mul_ps(w[a], delta);
      if (flush) x = _mm256_andnot_ps(_mm256_cmp_ps(x, tiny, _CMP_LT_OQ), x);
      store8(W + a * n + i, x, masked, mask);
    }
  }
}

/* G = W'W in double (k <= 8), four rows at a time: the Euclidean H update's k x k. */
static void gram_avx2(const float *W, int64_t n, int k, double *G) {
  __m256d acc[36];
  int pairs = 0;
  for (int a = 0; a < k; a++)
    for (int b = a; b < k; b++) acc[pairs++] = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d w[8];
    for (int a = 0; a < k; a++) w[a] = _mm256_cvtps_pd(_mm_loadu_ps(W + a * n + i));
    int q = 0;
    for (int a = 0; a < k; a++)
      for (int b = a; b < k; b++, q++) acc[q] = _mm256_fmadd_pd(w[a], w[b], acc[q]);
  }
  int q = 0;
  for (int a = 0; a < k; a++)
    for (int b = a; b < k; b++, q++) {
      double s = hsum4d(acc[q]);
      for (int64_t r = i; r < n; r++) s += (double)W[r + a * n] * W[r + b * n];
      G[a * k + b] = G[b * k + a] = s;
    }
}

/* The objective of a column: these loops, or the portable ones for the other betas. */
static double loss_col_any(int cls, double beta, const float *W, int64_t n, int k,
                           const float *h, const float *v) {
  if (cls != CLS_BETA) return loss_col_avx2(cls, W, n, k, h, v);
  return loss_col_c(cls, beta, W, n, n, k, h, v);
}

static const nmf_mu_kernels table = {
  .prep = prep_avx2,
  .prep_beta = prep_beta_avx2,
  .dots = dots_avx2,
  .axpys = axpys_avx2,
  .loss_col = loss_col_any,
  .loss_group8 = loss_group8_avx2,
  .dots2 = dots2_avx2,
  .hsweep = hsweep_avx2,
  .wsweep = wsweep_avx2,
  .apply_w = apply_w_avx2,
  .gram = gram_avx2,
};
const nmf_mu_kernels *const tsr_nmf_mu_avx2 = &table;
#else
const nmf_mu_kernels *const tsr_nmf_mu_avx2 = NULL;
#endif
