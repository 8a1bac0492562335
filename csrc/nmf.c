/* NMF kernels: the multiplicative-update solvers (Lee-Seung for the Euclidean and KL losses,
 * Fevotte-Idier's heuristic for other beta-divergences), the objective, the initialisations
 * (scikit-learn's random and NNDSVD family, the study's uniform), the model helpers, and
 * tsr_nmf_fit, which dispatches to the coordinate-descent solver (nmf_cd.c).
 *
 * Speed comes from one pass over V per iteration: columns are split into one contiguous
 * range per thread; for each column j the H update reads V[:, j], W and H[:, j], forms
 * (WH)[:, j] in registers, and right away (the column is still in L1) the W update's
 * contribution V[:, j]-ratio * H[:, j]' is added to the thread's own n x k accumulator.
 * No n x p temporary exists. Per-thread partial sums are added in thread order, so a
 * fixed thread count gives bit-identical results. The inner loops have AVX2+FMA versions
 * chosen at run time (TESSERA_SIMD=generic forces the portable C ones, as in nmf_cd.c).
 * The Euclidean MU in scikit-learn's order (W then H) runs instead on the CD solver's pass
 * (nmf_cd.c: V_Jᵀ·W, the H update and V_J·H_Jᵀ block by block, register-blocked for any k);
 * the other orders use the loops here for k <= 8 and sgemm beyond. */
#include "nmf.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2 1
#define AVX2_FN __attribute__((target("avx2,fma")))
#endif

/* scikit-learn's guard for zero denominators: np.finfo(np.float32).eps. WH below the
 * smallest normal float is guarded too (scikit-learn replaces exact zeros only), since
 * dividing by a subnormal overflows. */
#define EPS32 FLT_EPSILON
/* scikit-learn sets factor entries below float64's epsilon to 0 for beta < 1 (W) and
 * beta <= 1 (H), "necessary for stability". */
#define FLUSH DBL_EPSILON
/* Upper bound on thread partitions (the per-partition arrays live on the stack). */
#define MAX_PARTS 64

enum { CLS_EUC, CLS_KL, CLS_IS, CLS_BETA };

static int beta_class(double beta) {
  return beta == 2.0 ? CLS_EUC : beta == 1.0 ? CLS_KL : beta == 0.0 ? CLS_IS : CLS_BETA;
}

/* ---------------------------------------------------------------------------------------
 * Run-time choice of the inner loops. */

static int simd_state = -1; /* -1 unknown, 0 portable C, 1 AVX2+FMA, 2 AVX-512 too */

static int use_simd(void) {
  int s = __atomic_load_n(&simd_state, __ATOMIC_RELAXED);
  if (s < 0) {
    s = 0;
#ifdef HAVE_AVX2
    int cap = tsr_simd_cap();
    __builtin_cpu_init();
    if (cap > TSR_SIMD_GENERIC && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
      s = 1;
      if (cap > TSR_SIMD_AVX2 && __builtin_cpu_supports("avx512f") &&
          __builtin_cpu_supports("avx512vl"))
        s = 2;
    }
#endif
    __atomic_store_n(&simd_state, s, __ATOMIC_RELAXED);
  }
  return s;
}

int tsr_nmf_default_threads(void) {
  int t = openblas_get_num_threads();
  return t < 1 ? 1 : t > MAX_PARTS ? MAX_PARTS : t;
}

static int clamp_parts(int threads, int64_t p) {
  if (threads < 1) threads = tsr_nmf_default_threads();
  if (threads > MAX_PARTS) threads = MAX_PARTS;
  if ((int64_t)threads > p) threads = p < 1 ? 1 : (int)p;
  return threads;
}

/* ---------------------------------------------------------------------------------------
 * Portable inner loops. A column is n floats; W is n x k column-major, h = H[:, j]. */

/* y = W h for rows 0..m-1 (W has leading dimension ld), summed a component at a time in
 * the order of a row-by-row sum, four components per pass over y: loops with no sum
 * carried from row to row, which compilers vectorise (these are the loops of every CPU
 * without AVX2, NEON's too). */
static void wh_c(const float *restrict W, int64_t ld, int64_t m, int k,
                 const float *restrict h, float *restrict y) {
  int a;
  if (k >= 4) {
    const float *restrict w0 = W, *restrict w1 = W + ld, *restrict w2 = W + 2 * ld,
                          *restrict w3 = W + 3 * ld;
    const float h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];
    for (int64_t i = 0; i < m; i++) y[i] = ((w0[i] * h0 + w1[i] * h1) + w2[i] * h2) + w3[i] * h3;
    a = 4;
  } else {
    const float h0 = h[0];
    for (int64_t i = 0; i < m; i++) y[i] = W[i] * h0;
    a = 1;
  }
  for (; a + 4 <= k; a += 4) {
    const float *restrict w0 = W + a * ld, *restrict w1 = w0 + ld, *restrict w2 = w1 + ld,
                          *restrict w3 = w2 + ld;
    const float h0 = h[a], h1 = h[a + 1], h2 = h[a + 2], h3 = h[a + 3];
    for (int64_t i = 0; i < m; i++)
      y[i] = (((y[i] + w0[i] * h0) + w1[i] * h1) + w2[i] * h2) + w3[i] * h3;
  }
  for (; a < k; a++) {
    const float *restrict w = W + a * ld;
    const float ha = h[a];
    for (int64_t i = 0; i < m; i++) y[i] += w[i] * ha;
  }
}

/* Rows 0..m-1 of a column: r = v / guard(W h) (KL); with q non-NULL: q = 1 / guard(W h),
 * r = v q^2 (IS). */
static void prep_c(const float *restrict W, int64_t ld, int64_t m, int k,
                   const float *restrict h, const float *restrict v, float *restrict r,
                   float *restrict q) {
  wh_c(W, ld, m, k, h, r);
  if (q == NULL) {
    for (int64_t i = 0; i < m; i++) {
      float y = r[i] < FLT_MIN ? EPS32 : r[i];
      r[i] = v[i] / y;
    }
  } else {
    for (int64_t i = 0; i < m; i++) {
      float y = r[i] < FLT_MIN ? EPS32 : r[i];
      float t = 1.0f / y;
      q[i] = t;
      r[i] = t * t * v[i];
    }
  }
}

/* Any beta (scikit-learn's guards), rows 0..m-1: r = v guard2(W h)^(beta-2) and
 * q = guard1(W h)^(beta-1), where guardX replaces 0 (and subnormals) by EPS32 when
 * beta < X. One power per row: q = y t with t = guard2(y)^(beta-2), which is exact where
 * the two guards agree and, where they do not (1 < beta < 2, y under FLT_MIN), 0 for
 * y = 0 as the power is, and next to nothing for a subnormal y. */
static void prep_beta(const float *restrict W, int64_t ld, int64_t m, int k,
                      const float *restrict h, const float *restrict v, double beta,
                      float *restrict r, float *restrict q) {
  const float br = (float)(beta - 2.0), bq = (float)(beta - 1.0);
  const int guard_r = beta < 2.0, guard_q = beta < 1.0;
  wh_c(W, ld, m, k, h, q);
  for (int64_t i = 0; i < m; i++) {
    float y = q[i];
    float yr = guard_r && y < FLT_MIN ? EPS32 : y;
    float yq = guard_q ? yr : y;
    float t = powf(yr, br);
    r[i] = v[i] * t;
    /* An overflowed W h (inf, where y t would be inf x 0) takes its own power. */
    q[i] = y <= FLT_MAX ? yq * t : powf(yq, bq);
  }
}

/* sum_i w[i] x[i] as eight interleaved partial sums: a float sum in one chain cannot be
 * vectorised (its order is the result), eight independent ones can, at any width. */
static float dot_c(const float *restrict w, const float *restrict x, int64_t n) {
  float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) s[l] += w[i + l] * x[i + l];
  float tail = 0.0f;
  for (; i < n; i++) tail += w[i] * x[i];
  return (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) + tail;
}

/* out[a] = sum_i W[i, a] x[i] */
static void dots_c(const float *W, int64_t n, int k, const float *x, float *out) {
  for (int a = 0; a < k; a++) out[a] = dot_c(W + a * n, x, n);
}

/* acc[:, a] += h[a] x */
static void axpys_c(float *restrict acc, int64_t n, int k, const float *restrict x,
                    const float *restrict h) {
  for (int a = 0; a < k; a++) {
    float *restrict c = acc + a * n;
    const float ha = h[a];
    for (int64_t i = 0; i < n; i++) c[i] += x[i] * ha;
  }
}

/* Rows 0..m-1 of one column's share of the objective, in double. */
static double loss_col_c(int cls, double beta, const float *W, int64_t ld, int64_t m, int k,
                         const float *h, const float *v) {
  double s = 0.0;
  for (int64_t i = 0; i < m; i++) {
    /* W h in double: a float sum of k products rounds differently in another component
     * order, and a permutation of the components must leave the objective as it was. */
    double y = 0.0, x = v[i];
    for (int a = 0; a < k; a++) y += (double)W[i + a * ld] * h[a];
    double ys = y < FLT_MIN ? (double)EPS32 : y;
    switch (cls) {
      case CLS_EUC: s += (x - y) * (x - y); break;
      case CLS_KL: s += (x > 0.0 ? x * log(x / ys) : 0.0) - x + y; break;
      case CLS_IS:
        if (x > 0.0) s += x / ys - log(x / ys) - 1.0;
        break;
      default:
        /* (x^b + (b-1) y^b - b x y^(b-1)) / (b (b-1)); for b <= 0 it is undefined where
         * x = 0, and those entries are left out. */
        if (x > 0.0)
          s += (pow(x, beta) + (beta - 1.0) * pow(ys, beta) - beta * x * pow(ys, beta - 1.0)) /
               (beta * (beta - 1.0));
        else if (beta > 0.0)
          s += pow(y, beta) / beta;
        break;
    }
  }
  return s;
}

/* ---------------------------------------------------------------------------------------
 * AVX2+FMA inner loops: the same computations, 8 rows at a time. */
#ifdef HAVE_AVX2

AVX2_FN static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

AVX2_FN static inline double hsum4d(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

/* (W h) for rows i..i+7 */
AVX2_FN static inline __m256 wh8(const float *W, int64_t n, int k, const float *h, int64_t i) {
  __m256 y = _mm256_mul_ps(_mm256_loadu_ps(W + i), _mm256_broadcast_ss(h));
  for (int a = 1; a < k; a++)
    y = _mm256_fmadd_ps(_mm256_loadu_ps(W + a * n + i), _mm256_broadcast_ss(h + a), y);
  return y;
}

AVX2_FN static inline __m256 guard8(__m256 y) {
  __m256 small = _mm256_cmp_ps(y, _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ);
  return _mm256_blendv_ps(y, _mm256_set1_ps(EPS32), small);
}

/* 1/y to about one ulp: the hardware estimate (12 bits) and one Newton step; a division
 * costs several times more and was half of a KL iteration. */
AVX2_FN static inline __m256 recip8(__m256 y) {
  __m256 x = _mm256_rcp_ps(y);
  return _mm256_fmadd_ps(x, _mm256_fnmadd_ps(y, x, _mm256_set1_ps(1.0f)), x);
}

AVX2_FN static void prep_avx2(const float *W, int64_t n, int k, const float *h,
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

AVX2_FN static void dots_avx2(const float *W, int64_t n, int k, const float *x, float *out) {
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

AVX2_FN static void axpys_avx2(float *acc, int64_t n, int k, const float *x, const float *h) {
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

/* Cephes' logf polynomial: ln(1 + x) = x - x^2 / 2 + x^3 P(x) for x in [sqrt(1/2) - 1,
 * sqrt(2) - 1); P's coefficients, highest degree first, for log_poly8 and log_poly16. */
static const float LOGF_P[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                                -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                                2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};

/* x^3 P(x), given z = x^2. */
AVX2_FN static inline __m256 log_poly8(__m256 x, __m256 z) {
  __m256 p = _mm256_set1_ps(LOGF_P[0]);
  _Pragma("GCC unroll 8") for (int c = 1; c < 9; c++)
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(LOGF_P[c]));
  return _mm256_mul_ps(_mm256_mul_ps(p, x), z);
}

/* Natural logarithm of positive normal floats (Cephes' logf, as in sse_mathfun): about
 * one ulp, enough for an objective accumulated in double. */
AVX2_FN static inline __m256 log8(__m256 x) {
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
AVX2_FN static inline __m256 pow8(__m256 y, __m256 b) {
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
AVX2_FN static void prep_beta_avx2(const float *W, int64_t n, int k, const float *h,
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

AVX2_FN static inline __attribute__((always_inline)) double
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
AVX2_FN static inline __attribute__((always_inline)) double
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

AVX2_FN static double loss_group8_avx2(int cls, const float *W, int64_t n, int k,
                                       const float *H8, const float *V8) {
  switch (cls) {
    case CLS_EUC: return loss_group8_cls(CLS_EUC, W, n, k, H8, V8);
    case CLS_KL: return loss_group8_cls(CLS_KL, W, n, k, H8, V8);
    default: return loss_group8_cls(CLS_IS, W, n, k, H8, V8);
  }
}

AVX2_FN static double loss_col_avx2(int cls, const float *W, int64_t n, int k, const float *h,
                                    const float *v) {
  switch (cls) {
    case CLS_EUC: return loss_col_cls(CLS_EUC, W, n, k, h, v);
    case CLS_KL: return loss_col_cls(CLS_KL, W, n, k, h, v);
    default: return loss_col_cls(CLS_IS, W, n, k, h, v);
  }
}

/* The fused loops for k <= 8: WH, the ratio and its products in one sweep, with the k
 * columns of W and the accumulators in registers (K is a constant after inlining). */
#ifndef TSR_LIGHT_BUILD
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#define UNROLL8 _Pragma("GCC unroll 8")
#define UNROLL16 _Pragma("GCC unroll 16")
#else
/* The fuzz build (scripts/fuzz.sh: clang with ASan and UBSan) leaves inlining and unrolling
 * to the compiler: forced on every K's copy, they took clang over ten minutes on this file
 * (4 s without). Same code, slower loops; the sanitized specs build keeps them (gcc). */
#define ALWAYS_INLINE inline
#define UNROLL8
#define UNROLL16
#endif

/* Lanes 0..m-1 set: the last, partial block of rows is read and written masked, its
 * missing lanes reading as 0 (which every formula below turns into 0). */
AVX2_FN static inline __m256i tail_mask(int64_t m) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2_FN static ALWAYS_INLINE __m256 load8(const float *p, int masked, __m256i mask) {
  return masked ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

AVX2_FN static ALWAYS_INLINE void store8(float *p, __m256 x, int masked, __m256i mask) {
  if (masked) _mm256_maskstore_ps(p, mask, x);
  else _mm256_storeu_ps(p, x);
}

/* Rows i..i+7 of the H update's sums for one column: acc[a] += W[:, a] r with
 * r = v / WH (KL) or v / WH^2 (IS, where accq[a] += W[:, a] / WH too). Up to K = 8 the
 * columns of W and h's broadcasts stay in registers; beyond, they are reloaded (L1). */
AVX2_FN static ALWAYS_INLINE void hstep(const float *W, int64_t n, int K, int is, int64_t i,
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

AVX2_FN static ALWAYS_INLINE void hsweep_k(const float *restrict W, int64_t n, int K, int is,
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
AVX2_FN static ALWAYS_INLINE void dots2_k(const float *restrict W, int64_t n, int K,
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

AVX2_FN static void dots2_avx2(const float *W, int64_t n, int k, const float *v0,
                               const float *v1, float *num0, float *num1) {
  switch (k) {
    case 1: dots2_k(W, n, 1, v0, v1, num0, num1); break;
    case 2: dots2_k(W, n, 2, v0, v1, num0, num1); break;
    case 3: dots2_k(W, n, 3, v0, v1, num0, num1); break;
    default: dots2_k(W, n, 4, v0, v1, num0, num1); break;
  }
}

#define CASES_K(CALL) \
  switch (k) {        \
    case 1: CALL(1); break; \
    case 2: CALL(2); break; \
    case 3: CALL(3); break; \
    case 4: CALL(4); break; \
    case 5: CALL(5); break; \
    case 6: CALL(6); break; \
    case 7: CALL(7); break; \
    case 8: CALL(8); break; \
    case 9: CALL(9); break; \
    case 10: CALL(10); break; \
    case 11: CALL(11); break; \
    case 12: CALL(12); break; \
    case 13: CALL(13); break; \
    case 14: CALL(14); break; \
    case 15: CALL(15); break; \
    default: CALL(16); break; \
  }

/* num (and dq for IS) of one column's H update; k in 1..16. */
AVX2_FN static void hsweep_avx2(const float *W, int64_t n, int k, int is, const float *h,
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
AVX2_FN static ALWAYS_INLINE void wstep(const float *restrict W, int64_t n, int K, int cls,
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

AVX2_FN static ALWAYS_INLINE void wsweep_k(const float *restrict W, int64_t n, int K, int cls,
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
AVX2_FN static void wsweep_euc_avx2(int64_t n, int k, const float *const *hp,
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
AVX2_FN static void wsweep_avx2(const float *W, int64_t n, int k, int cls,
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
AVX2_FN static void apply_w_avx2(float *W, int64_t n, int k, int cls, const float *accN,
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
AVX2_FN static void gram_avx2(const float *W, int64_t n, int k, double *G) {
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

/* 1 when x[0..m-1] are all in [0, FLT_MAX] (no NaN: the comparisons are ordered). */
AVX2_FN static int column_ok_avx2(const float *x, int64_t m) {
  const __m256 zero = _mm256_setzero_ps(), big = _mm256_set1_ps(FLT_MAX);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t i = 0;
  for (; i + 8 <= m; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GE_OQ),
                                         _mm256_cmp_ps(v, big, _CMP_LE_OQ)));
  }
  int good = _mm256_movemask_ps(ok) == 0xff;
  for (; i < m; i++) good &= x[i] >= 0.0f && x[i] <= FLT_MAX;
  return good;
}

/* ---------------------------------------------------------------------------------------
 * AVX-512 loops for the KL pass, 16 rows at a time. Their 32 registers let a step serve
 * several columns: the rows of W are loaded once for C columns, whose C x K sums (C*K <= 16)
 * stay in registers. With the AVX2 loops' one column per sweep, the loads and the
 * reciprocal's Newton step, not the multiply-adds, set the pace (measured ~3 cycles per
 * entry of V at k = 4, against the 1 that the multiply-adds alone need). */
#define AVX512_FN __attribute__((target("avx512f,avx512vl,avx2,fma")))

/* x / y with y under FLT_MIN (0, the masked tail, padding columns) taken as EPS32, as
 * guard8 does: a division by y whose rare small lanes are redone. Guarding y up front (a
 * compare and a blend on every block) cost about 7% of a KL iteration; the blend was half. */
AVX512_FN static ALWAYS_INLINE __m512 kl_ratio16(__m512 x, __m512 y) {
  __mmask16 small = _mm512_cmp_ps_mask(y, _mm512_set1_ps(FLT_MIN), _CMP_LT_OQ);
  __m512 r = _mm512_div_ps(x, y);
  if (__builtin_expect(small != 0, 0)) r = _mm512_mask_div_ps(r, small, x, _mm512_set1_ps(EPS32));
  return r;
}

/* log_poly8 in 16 lanes. */
AVX512_FN static ALWAYS_INLINE __m512 log_poly16(__m512 x, __m512 z) {
  __m512 p = _mm512_set1_ps(LOGF_P[0]);
  _Pragma("GCC unroll 8") for (int c = 1; c < 9; c++)
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(LOGF_P[c]));
  return _mm512_mul_ps(_mm512_mul_ps(p, x), z);
}

/* log8 in 16 lanes: the same reduction to a mantissa in [sqrt(1/2), sqrt(2)) and the same
 * polynomial, with AVX-512's exponent and mantissa extraction. */
AVX512_FN static ALWAYS_INLINE __m512 log16(__m512 x) {
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  __m512 e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0f));
  __mmask16 small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356237309505f), _CMP_LT_OQ);
  m = _mm512_mask_mul_ps(m, ~small, m, _mm512_set1_ps(0.5f)); /* [sqrt(1/2), 1) */
  e = _mm512_mask_sub_ps(e, small, e, _mm512_set1_ps(1.0f));
  m = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  __m512 z = _mm512_mul_ps(m, m);
  __m512 y = log_poly16(m, z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
  m = _mm512_add_ps(m, y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), m);
}

/* The 16 floats of x as doubles, added to acc0 (lanes 0-7) and acc1 (8-15). */
AVX512_FN static ALWAYS_INLINE void add16d(__m512 x, __m512d *acc0, __m512d *acc1) {
  *acc0 = _mm512_add_pd(*acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
  *acc1 = _mm512_add_pd(*acc1, _mm512_cvtps_pd(_mm256_castpd_ps(
                                   _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
}

/* One column's rows i..i+rows-1 (rows <= 16) of the KL objective x log(x / y) - x + y, given
 * ratio = x / guard(y), added to acc[0] (lanes 0-7) and acc[1] (8-15); when a ratio is not a
 * normal float, the rows are redone in double by loss_col_c (W from row i, leading
 * dimension ld, and h, v from row i) into *tail. */
AVX512_FN static ALWAYS_INLINE void kl_loss_add16(__m512 ratio, __m512 x, __m512 y,
                                                  __m512d *acc, double *tail, const float *W,
                                                  int64_t ld, int64_t rows, int K,
                                                  const float *h, const float *v) {
  __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  __mmask16 ok = _mm512_cmp_ps_mask(ratio, _mm512_set1_ps(FLT_MIN), _CMP_GE_OQ) &
                 _mm512_cmp_ps_mask(ratio, _mm512_set1_ps(FLT_MAX), _CMP_LE_OQ);
  if ((pos & ~ok) != 0) {
    *tail += loss_col_c(CLS_KL, 0.0, W, ld, rows, K, h, v);
    return;
  }
  __m512 lg = _mm512_maskz_mov_ps(pos, log16(_mm512_max_ps(ratio, _mm512_set1_ps(FLT_MIN))));
  /* One rounding of x log(x / y) + (y - x), whose error is that of the float logarithm
   * already: y - x is exact where the two are close. */
  add16d(_mm512_fmadd_ps(x, lg, _mm512_sub_ps(y, x)), acc, acc + 1);
}

/* Rows i..i+15 of W h (w: W's rows there). From K = 4 on, as two chains of multiply-adds
 * (even and odd a) joined by one add: half the latency before the division, which keeps
 * more of the sweep's independent rows in flight. */
AVX512_FN static ALWAYS_INLINE __m512 wh16(const __m512 *w, const float *h, int K) {
  if (K < 4) {
    __m512 y = _mm512_mul_ps(w[0], _mm512_set1_ps(h[0]));
    UNROLL16 for (int a = 1; a < K; a++) y = _mm512_fmadd_ps(w[a], _mm512_set1_ps(h[a]), y);
    return y;
  }
  __m512 y0 = _mm512_mul_ps(w[0], _mm512_set1_ps(h[0]));
  __m512 y1 = _mm512_mul_ps(w[1], _mm512_set1_ps(h[1]));
  UNROLL16 for (int a = 2; a + 1 < K; a += 2) {
    y0 = _mm512_fmadd_ps(w[a], _mm512_set1_ps(h[a]), y0);
    y1 = _mm512_fmadd_ps(w[a + 1], _mm512_set1_ps(h[a + 1]), y1);
  }
  if (K & 1) y0 = _mm512_fmadd_ps(w[K - 1], _mm512_set1_ps(h[K - 1]), y0);
  return _mm512_add_ps(y0, y1);
}

/* Rows i..i+15 (mask: the rows that exist) of the H update's sums for columns c < C:
 * acc[c*K + a] += W[:, a] v_c / (W h_c). GUARD: each ratio guarded (kl_ratio16); else
 * divided as it comes, the smallest y kept in *lo for the tile to check once. */
AVX512_FN static ALWAYS_INLINE void kl_hstep512(const float *restrict W, int64_t n, int64_t ld,
                                                int K, int C, int LOSS, int GUARD, int64_t i,
                                                __mmask16 mask, const float *const *h,
                                                const float *const *v, __m512 *acc,
                                                __m512 *lo, __m512d *lacc, double *ltail) {
  __m512 w[16], r[4];
  UNROLL16 for (int a = 0; a < K; a++) w[a] = _mm512_maskz_loadu_ps(mask, W + a * ld + i);
  UNROLL8 for (int c = 0; c < C; c++) {
    __m512 y = wh16(w, h[c], K);
    __m512 x = _mm512_maskz_loadu_ps(mask, v[c] + i);
    if (GUARD) {
      r[c] = kl_ratio16(x, y);
    } else {
      r[c] = _mm512_div_ps(x, y);
      *lo = _mm512_min_ps(*lo, y);
    }
    if (LOSS) kl_loss_add16(r[c], x, y, lacc + 2 * (c & 1), ltail, W + i, ld,
                            n - i < 16 ? n - i : 16, K, h[c], v[c] + i);
  }
  /* Beyond K = 8, W's rows and the sums would not all fit in registers: reload them (L1). */
  UNROLL8 for (int c = 0; c < C; c++)
    UNROLL16 for (int a = 0; a < K; a++) {
      __m512 wa = K <= 8 ? w[a] : _mm512_maskz_loadu_ps(mask, W + a * ld + i);
      acc[c * K + a] = _mm512_fmadd_ps(wa, r[c], acc[c * K + a]);
    }
}

/* One tile's sweep; unguarded (GUARD 0), it returns -1 when some y of its whole rows fell
 * under FLT_MIN, its sums then unusable. */
AVX512_FN static ALWAYS_INLINE int kl_hsweep512(const float *restrict W, int64_t n,
                                                int64_t ld, int K, int C, int LOSS, int GUARD,
                                                const float *const *h,
                                                const float *const *v, float *const *num,
                                                double *loss) {
  __m512 acc[16], lo = _mm512_set1_ps(FLT_MAX);
  __m512d lacc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                     _mm512_setzero_pd()};
  double ltail = 0.0;
  UNROLL16 for (int e = 0; e < C * K; e++) acc[e] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    kl_hstep512(W, n, ld, K, C, LOSS, GUARD, i, 0xffff, h, v, acc, &lo, lacc, &ltail);
  if (!GUARD && _mm512_cmp_ps_mask(lo, _mm512_set1_ps(FLT_MIN), _CMP_LT_OQ) != 0) return -1;
  /* The partial block's missing rows read as y = 0: guarded whatever the tile. */
  if (i < n)
    kl_hstep512(W, n, ld, K, C, LOSS, 1, i, (__mmask16)((1u << (n - i)) - 1), h, v, acc, &lo,
                lacc, &ltail);
  UNROLL8 for (int c = 0; c < C; c++)
    UNROLL16 for (int a = 0; a < K; a++) num[c][a] = _mm512_reduce_add_ps(acc[c * K + a]);
  *loss = !LOSS ? 0.0
                : _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(lacc[0], lacc[1]),
                                                     _mm512_add_pd(lacc[2], lacc[3]))) +
                      ltail;
  return 0;
}

/* A tile of C columns, one compare per column sweep instead of one per block (3-7% of
 * a KL iteration): the rare tile with a y under FLT_MIN (a zero row of W, a padding
 * column) is swept again with every ratio guarded, to the same sums. */
AVX512_FN static ALWAYS_INLINE double kl_htile512(const float *restrict W, int64_t n,
                                                  int64_t ld, int K, int C, int LOSS,
                                                  const float *const *h,
                                                  const float *const *v, float *const *num) {
  double loss;
  if (__builtin_expect(kl_hsweep512(W, n, ld, K, C, LOSS, 0, h, v, num, &loss) != 0, 0))
    kl_hsweep512(W, n, ld, K, C, LOSS, 1, h, v, num, &loss);
  return loss;
}

/* The H update's numerators num[c][a] = sum_i W[i, a] v_c[i] / (W h_c)[i] of a group of
 * four columns (padding columns are zeros), in tiles of C = 16 / K columns; k in 1..16.
 * With want_loss, also their share of the objective at W and these (old) h, from the
 * ratios at hand: what the check of the iteration before needs. */
AVX512_FN static double kl_hgroup512(const float *W, int64_t n, int64_t ld, int k,
                                     const float *const *h, const float *const *v,
                                     float *const *num, int want_loss) {
  double s = 0.0;
#define HT(K, L)                                                                  \
  for (int c0 = 0; c0 < 4; c0 += (K) <= 4 ? 4 : (K) <= 8 ? 2 : 1)                \
    s += kl_htile512(W, n, ld, K, (K) <= 4 ? 4 : (K) <= 8 ? 2 : 1, L, h + c0, v + c0, num + c0)
#define HG(K)              \
  if (want_loss) HT(K, 1); \
  else HT(K, 0)
  CASES_K(HG)
#undef HG
#undef HT
  return s;
}

/* Rows i..i+15 of four columns' contribution to the W update's numerator:
 * acc[:, a] += sum_c h_c[a] v_c / (W h_c). */
AVX512_FN static ALWAYS_INLINE void kl_wstep512(const float *restrict W, int64_t n, int64_t ld,
                                                int K, int LOSS, int64_t i, __mmask16 mask,
                                                const float *const *h, const float *const *v,
                                                float *restrict acc, __m512d *lacc,
                                                double *ltail) {
  __m512 w[16], r[4];
  UNROLL16 for (int a = 0; a < K; a++) w[a] = _mm512_maskz_loadu_ps(mask, W + a * ld + i);
  /* The columns of the group after next, which the H half-step reads first from memory:
   * short streams (one column is about a page) that the hardware prefetchers pick up late.
   * Into L2, not L1, where they would push out the W and sums this sweep reads: 5% faster
   * on one core than the next group into L1 (3 minutes, k = 4), the same on two. */
  UNROLL8 for (int c = 0; c < 4; c++) _mm_prefetch((const char *)(v[c] + 8 * n + i), _MM_HINT_T1);
  UNROLL8 for (int c = 0; c < 4; c++) {
    __m512 y = wh16(w, h[c], K);
    __m512 x = _mm512_maskz_loadu_ps(mask, v[c] + i);
    r[c] = kl_ratio16(x, y);
    if (LOSS) kl_loss_add16(r[c], x, y, lacc + 2 * (c & 1), ltail, W + i, ld,
                            n - i < 16 ? n - i : 16, K, h[c], v[c] + i);
  }
  UNROLL16 for (int a = 0; a < K; a++) {
    float *pa = acc + a * ld + i;
    __m512 s = _mm512_maskz_loadu_ps(mask, pa);
    UNROLL8 for (int c = 0; c < 4; c++) s = _mm512_fmadd_ps(r[c], _mm512_set1_ps(h[c][a]), s);
    _mm512_mask_storeu_ps(pa, mask, s);
  }
}

AVX512_FN static ALWAYS_INLINE double kl_wsweep512_k(const float *restrict W, int64_t n,
                                                     int64_t ld, int K, int LOSS,
                                                     const float *const *hp,
                                                     const float *const *vp,
                                                     float *restrict acc) {
  /* Local copies: the pointers stay in registers, as nothing stored can alias them. */
  const float *h[4] = {hp[0], hp[1], hp[2], hp[3]}, *v[4] = {vp[0], vp[1], vp[2], vp[3]};
  __m512d lacc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                     _mm512_setzero_pd()};
  double ltail = 0.0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) kl_wstep512(W, n, ld, K, LOSS, i, 0xffff, h, v, acc, lacc, &ltail);
  if (i < n)
    kl_wstep512(W, n, ld, K, LOSS, i, (__mmask16)((1u << (n - i)) - 1), h, v, acc, lacc, &ltail);
  if (!LOSS) return 0.0;
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(lacc[0], lacc[1]),
                                            _mm512_add_pd(lacc[2], lacc[3]))) + ltail;
}

/* Four columns' (zero padded) contribution to the KL W update's numerator; k in 1..16.
 * With want_loss, also their share of the objective at W and these h (the padding adds 0),
 * from the ratios at hand: what the fit's check after this half-step needs. */
AVX512_FN static double kl_wgroup512(const float *W, int64_t n, int64_t ld, int k,
                                     const float *const *h, const float *const *v, float *acc,
                                     int want_loss) {
  double s = 0.0;
#define WG(K) s = want_loss ? kl_wsweep512_k(W, n, ld, K, 1, h, v, acc) \
                            : kl_wsweep512_k(W, n, ld, K, 0, h, v, acc)
  CASES_K(WG)
#undef WG
  return s;
}

/* The KL objective sum x log(x / y) - x + y (x = v_c, y = (W h_c)) of g <= 4 columns, as
 * loss_group8_avx2 computes it, with y summed as the passes sum it (wh16: a check they
 * add up equals this to the last bits); rows whose ratio is not a normal float are redone
 * by loss_col_c in double. Any column gets the same terms whatever its group. */
AVX512_FN static ALWAYS_INLINE double kl_loss4_512(const float *restrict W, int64_t n, int K,
                                                  const float *const *h,
                                                  const float *const *v, int g) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd()};
  double tail = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 mask = i + 16 <= n ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 w[16];
    UNROLL16 for (int a = 0; a < K; a++) w[a] = _mm512_maskz_loadu_ps(mask, W + a * n + i);
    UNROLL8 for (int c = 0; c < 4; c++) {
      if (c >= g) break;
      __m512 y = wh16(w, h[c], K);
      __m512 x = _mm512_maskz_loadu_ps(mask, v[c] + i);
      kl_loss_add16(kl_ratio16(x, y), x, y, acc + 2 * (c & 1), &tail, W + i, n,
                    n - i < 16 ? n - i : 16, K, h[c], v[c] + i);
    }
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]),
                                            _mm512_add_pd(acc[2], acc[3]))) + tail;
}

/* The KL objective over columns j0..j1-1 of V (n x p) and H, four at a time; k in 1..16. */
AVX512_FN static double kl_loss_cols512(const float *V, const float *W, const float *H,
                                        int64_t n, int64_t j0, int64_t j1, int k) {
  double s = 0.0;
  for (int64_t j = j0; j < j1; j += 4) {
    int g = j1 - j < 4 ? (int)(j1 - j) : 4;
    const float *h[4], *v[4];
    for (int c = 0; c < 4; c++) {
      h[c] = H + (j + (c < g ? c : 0)) * k;
      v[c] = V + (j + (c < g ? c : 0)) * n;
    }
#define LG(K) s += kl_loss4_512(W, n, K, h, v, g)
    CASES_K(LG)
#undef LG
  }
  return s;
}

/* acc[0..count-1] += x[...], 16 at a time (a plain loop stays scalar: acc might alias x). */
AVX512_FN static void add_into512(float *acc, const float *x, size_t count) {
  for (size_t e = 0; e < count; e += 16) {
    const __mmask16 m = e + 16 <= count ? (__mmask16)0xffff : (__mmask16)((1u << (count - e)) - 1);
    _mm512_mask_storeu_ps(acc + e, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, acc + e),
                                                    _mm512_maskz_loadu_ps(m, x + e)));
  }
}

/* sum x[0..count-1] in double, 16 at a time (W's column sums for the KL H update). */
AVX512_FN static double sum_in_double512(const float *x, int64_t count) {
  __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m =
        i + 16 <= count ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
    add16d(_mm512_maskz_loadu_ps(m, x + i), &acc[0], &acc[1]);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(acc[0], acc[1]));
}

/* Y = scale V (V' Q) for the truncated SVD, in one pass over V (n x p): four columns of V at a
 * time, their dot products with Q's l columns (4 x 4 sums in registers), then their outer
 * products added into Y, column by column of Y, while they are still in L1. Q and Y are
 * n x l on the leading dimension ld (padded: 4100-byte columns would share L1 sets); z holds
 * 4 * l floats. OpenBLAS's two sgemm calls each copied all of V into its packed layout,
 * which cost more than the products themselves at l = k + 10. */
AVX512_FN static void gram_apply512(const float *V, int64_t n, int64_t p, int l,
                                    const float *Q, int64_t ld, float scale, float *Y,
                                    float *z) {
  for (int a = 0; a < l; a++) memset(Y + a * ld, 0, (size_t)n * sizeof *Y);
  const __mmask16 tail = (__mmask16)((1u << (n % 16)) - 1);
  const int64_t full = n - n % 16;
  for (int64_t j = 0; j < p; j += 4) {
    int g = p - j < 4 ? (int)(p - j) : 4;
    const float *v[4];
    UNROLL8 for (int c = 0; c < 4; c++) v[c] = V + (j + (c < g ? c : 0)) * n;
    for (int a0 = 0; a0 < l; a0 += 4) {
      int na = l - a0 < 4 ? l - a0 : 4;
      const float *q[4];
      UNROLL8 for (int a = 0; a < 4; a++) q[a] = Q + (int64_t)(a0 + (a < na ? a : 0)) * ld;
      __m512 acc[16];
      UNROLL16 for (int e = 0; e < 16; e++) acc[e] = _mm512_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = i < full ? (__mmask16)0xffff : tail;
        __m512 x[4];
        UNROLL8 for (int c = 0; c < 4; c++) x[c] = _mm512_maskz_loadu_ps(m, v[c] + i);
        UNROLL8 for (int a = 0; a < 4; a++) {
          __m512 qa = _mm512_maskz_loadu_ps(m, q[a] + i);
          UNROLL8 for (int c = 0; c < 4; c++)
            acc[c * 4 + a] = _mm512_fmadd_ps(x[c], qa, acc[c * 4 + a]);
        }
      }
      float dots[16];
      UNROLL16 for (int e = 0; e < 16; e++) dots[e] = _mm512_reduce_add_ps(acc[e]);
      for (int c = 0; c < 4; c++)
        for (int a = 0; a < na; a++)
          z[c * l + a0 + a] = c < g ? dots[c * 4 + a] * scale : 0.0f;
    }
    /* Four columns of Y at a time: each load of V's rows serves 4 x 4 multiply-adds. */
    int a = 0;
    for (; a + 4 <= l; a += 4) {
      __m512 za[16];
      UNROLL16 for (int e = 0; e < 16; e++) za[e] = _mm512_set1_ps(z[(e / 4) * l + a + e % 4]);
      float *ya = Y + a * ld;
      for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = i < full ? (__mmask16)0xffff : tail;
        __m512 x[4];
        UNROLL8 for (int c = 0; c < 4; c++) x[c] = _mm512_maskz_loadu_ps(m, v[c] + i);
        UNROLL8 for (int b = 0; b < 4; b++) {
          __m512 y = _mm512_maskz_loadu_ps(m, ya + b * ld + i);
          UNROLL8 for (int c = 0; c < 4; c++) y = _mm512_fmadd_ps(x[c], za[c * 4 + b], y);
          _mm512_mask_storeu_ps(ya + b * ld + i, m, y);
        }
      }
    }
    for (; a < l; a++) {
      __m512 za[4];
      UNROLL8 for (int c = 0; c < 4; c++) za[c] = _mm512_set1_ps(z[c * l + a]);
      float *ya = Y + a * ld;
      for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = i < full ? (__mmask16)0xffff : tail;
        __m512 y = _mm512_maskz_loadu_ps(m, ya + i);
        UNROLL8 for (int c = 0; c < 4; c++)
          y = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v[c] + i), za[c], y);
        _mm512_mask_storeu_ps(ya + i, m, y);
      }
    }
  }
}

#endif /* HAVE_AVX2 */

/* ---------------------------------------------------------------------------------------
 * Dispatch between the two sets of loops. */

#ifdef _OPENMP
#define OMP_STR(x) #x
/* One loop iteration per partition, partition t on thread t: the split never depends on
 * the OpenMP runtime, only on the partition count. */
#define OMP_PARTS(count) _Pragma(OMP_STR(omp parallel for schedule(static, 1) num_threads(count)))
#else
#define OMP_PARTS(count)
#endif

static void prep(int cls, double beta, int simd, const float *W, int64_t n, int k,
                 const float *h, const float *v, float *r, float *q) {
  if (cls == CLS_BETA) {
#ifdef HAVE_AVX2
    if (simd) {
      prep_beta_avx2(W, n, k, h, v, beta, r, q);
      return;
    }
#endif
    prep_beta(W, n, n, k, h, v, beta, r, q);
    return;
  }
  float *qq = cls == CLS_IS ? q : NULL;
#ifdef HAVE_AVX2
  if (simd) {
    prep_avx2(W, n, k, h, v, r, qq);
    return;
  }
#endif
  (void)simd;
  prep_c(W, n, n, k, h, v, r, qq);
}

static void dots(int simd, const float *W, int64_t n, int k, const float *x, float *out) {
#ifdef HAVE_AVX2
  if (simd) {
    dots_avx2(W, n, k, x, out);
    return;
  }
#endif
  (void)simd;
  dots_c(W, n, k, x, out);
}

static void axpys(int simd, float *acc, int64_t n, int k, const float *x, const float *h) {
#ifdef HAVE_AVX2
  if (simd) {
    axpys_avx2(acc, n, k, x, h);
    return;
  }
#endif
  (void)simd;
  axpys_c(acc, n, k, x, h);
}

static double loss_col(int cls, double beta, int simd, const float *W, int64_t n, int k,
                       const float *h, const float *v) {
#ifdef HAVE_AVX2
  if (simd && cls != CLS_BETA) return loss_col_avx2(cls, W, n, k, h, v);
#endif
  (void)simd;
  return loss_col_c(cls, beta, W, n, n, k, h, v);
}

/* The objective over `parts` column ranges in parallel, added in partition order. */
static double loss_parts(const float *V, const float *W, const float *H, int64_t n, int64_t p,
                         int k, double beta, int parts) {
  double part[MAX_PARTS];
  OMP_PARTS(parts)
  for (int t = 0; t < parts; t++) {
    int64_t j0 = p * t / parts, j1 = p * (t + 1) / parts;
    part[t] = j0 < j1 ? tsr_nmf_loss_cols(V, W, H, n, j0, j1, k, beta) : 0.0;
  }
  double s = 0.0;
  for (int t = 0; t < parts; t++) s += part[t];
  return s;
}

double tsr_nmf_loss_cols(const float *V, const float *W, const float *H, int64_t n, int64_t j0,
                         int64_t j1, int k, double beta) {
  int cls = beta_class(beta), simd = use_simd();
  double s = 0.0;
  int64_t j = j0;
#ifdef HAVE_AVX2
  if (simd == 2 && cls == CLS_KL && k <= 16) return kl_loss_cols512(V, W, H, n, j0, j1, k);
  if (simd && cls != CLS_BETA)
    for (; j + 8 <= j1; j += 8) s += loss_group8_avx2(cls, W, n, k, H + j * k, V + j * n);
#endif
  for (; j < j1; j++) s += loss_col(cls, beta, simd, W, n, k, H + j * k, V + j * n);
  return s;
}

double tsr_nmf_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p,
                    int k, double beta) {
  if (n <= 0 || p <= 0) return 0.0;
  return loss_parts(V, W, H, n, p, k, beta, clamp_parts(0, p));
}

/* ---------------------------------------------------------------------------------------
 * Multiplicative updates. */

/* A pass's work; with kl512, LOSS_H sums the objective at the factors the pass starts from
 * in the H half-step, LOSS_W at the W and h the W half-step sees. */
enum { DO_H = 1, DO_W = 2, SIMUL = 4, LOSS_H = 8, LOSS_W = 16 };

typedef struct mu_state {
  const float *V;
  float *W, *H;
  int64_t n, p;
  int k, cls, simd, parts, flushW, flushH;
  double beta;
  float gamma;              /* Fevotte-Idier's exponent; 1 for beta in [1, 2] */
  float l1W, l2W, l1H, l2H; /* scikit-learn's scaled regularisation */
  /* Per partition, each in its own cache lines (fstride floats, dstride doubles):
   * accN, accD (ld x k each, rows n: the W update's numerator and, for IS and other betas,
   * denominator), r, q (n each: the column's ratios), 5k floats (the H update's numerators
   * of a group of four columns, or numerator and denominator dots, and the denominators);
   * stat: H H' (Euclidean, k x k) or H's row sums (KL), then the pass's objective. */
  float *fpart;
  double *stat;
  size_t fstride, dstride, statn;
  int two;
  /* shared */
  double *WtW, *wsum, *hstat;
  double pass_loss;         /* the objective a pass with LOSS_H or LOSS_W summed */
  float *wden;              /* k */
  float *hden;              /* k: the KL H update's denominators (mu_prep_h) */
  int fused;                /* the AVX2 loops: k <= 16 for KL and IS, k <= 8 Euclidean */
  int kl512;                /* the AVX-512 KL loops, on Wp and accumulators of stride ld */
  int64_t ld;               /* leading dimension of accN, accD and Wp: n, or for kl512 n
                             * rounded up to whole 64-byte lines, and to an odd number of
                             * them, so that row i of every column falls in another L1 set
                             * (at n = 1025, 4100-byte columns put all 16 in one 8-way set) */
  float *Wp;                /* kl512: W copied with leading dimension ld, 64-byte aligned */
  const float *zero_v, *zero_h; /* n and k zeros: padding for a partial group */
  tsr_nmf_pool *pool;       /* runs the partitions (fixed by the shape) as tasks */
  int flags;                /* the current pass's */
} mu_state;

static float *part_accN(const mu_state *m, int t) { return m->fpart + (size_t)t * m->fstride; }
static float *part_accD(const mu_state *m, int t) {
  return m->two ? part_accN(m, t) + (size_t)m->ld * m->k : NULL;
}
static float *part_r(const mu_state *m, int t) {
  return part_accN(m, t) + (size_t)m->ld * m->k * (m->two ? 2 : 1);
}
static float *part_q(const mu_state *m, int t) { return part_r(m, t) + m->n; }
static float *part_kbuf(const mu_state *m, int t) { return part_q(m, t) + m->n; }
static double *part_stat(const mu_state *m, int t) { return m->stat + (size_t)t * m->dstride; }

static void mu_prep_h(mu_state *m) {
  int64_t n = m->n;
  int k = m->k;
#ifdef HAVE_AVX2
  if (m->cls == CLS_EUC && m->fused) {
    gram_avx2(m->W, n, k, m->WtW);
    return;
  }
#endif
  if (m->cls == CLS_EUC) {
    for (int a = 0; a < k; a++)
      for (int b = a; b < k; b++) {
        const float *wa = m->W + a * n, *wb = m->W + b * n;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)wa[i] * wb[i];
        m->WtW[a * k + b] = m->WtW[b * k + a] = s;
      }
  } else if (m->cls == CLS_KL) {
    for (int a = 0; a < k; a++) {
      /* Not one chain of dependent adds, which cost a few percent of a small fit. */
      const float *wa = m->W + a * n;
      double s;
#ifdef HAVE_AVX2
      if (m->simd == 2) {
        s = sum_in_double512(wa, n);
      } else
#endif
      {
        double part[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
          for (int e = 0; e < 8; e++) part[e] += wa[i + e];
        for (; i < n; i++) part[i % 8] += wa[i];
        s = ((part[0] + part[1]) + (part[2] + part[3])) +
            ((part[4] + part[5]) + (part[6] + part[7]));
      }
      m->wsum[a] = s == 0.0 ? 1.0 : s; /* scikit-learn: W_sum[W_sum == 0] = 1 */
      float d = (float)m->wsum[a];
      if (m->l1H > 0.0f) d += m->l1H;
      m->hden[a] = d == 0.0f ? EPS32 : d; /* mu_update_h's, when l2H does not add h */
    }
  }
}

/* h <- h * (num / den)^gamma with scikit-learn's denominators and guards. */
static void mu_update_h(const mu_state *m, float *h, const float *num, const float *dq,
                        float *den) {
  int k = m->k;
  if (m->cls == CLS_KL && m->l2H == 0.0f) { /* beta = 1: gamma is 1 */
    /* The same denominators for every column: mu_prep_h's. */
    for (int a = 0; a < k; a++) {
      float x = h[a] * (num[a] / m->hden[a]);
      h[a] = (m->flushH && x < (float)FLUSH) ? 0.0f : x;
    }
    return;
  }
  for (int a = 0; a < k; a++) {
    float d;
    if (m->cls == CLS_EUC) {
      double s = 0.0;
      for (int b = 0; b < k; b++) s += m->WtW[a * k + b] * h[b];
      d = (float)s;
    } else if (m->cls == CLS_KL) {
      d = (float)m->wsum[a];
    } else {
      d = dq[a];
    }
    if (m->l1H > 0.0f) d += m->l1H;
    if (m->l2H > 0.0f) d += m->l2H * h[a];
    den[a] = d == 0.0f ? EPS32 : d;
  }
  for (int a = 0; a < k; a++) {
    float delta = num[a] / den[a];
    if (m->gamma != 1.0f) delta = powf(delta, m->gamma);
    float x = h[a] * delta;
    h[a] = (m->flushH && x < (float)FLUSH) ? 0.0f : x;
  }
}

static void mu_add_stat(const mu_state *m, double *st, const float *h) {
  int k = m->k;
  if (m->cls == CLS_EUC) {
    for (int a = 0; a < k; a++)
      for (int b = 0; b < k; b++) st[a * k + b] += (double)h[a] * h[b];
  } else if (m->cls == CLS_KL) {
    for (int a = 0; a < k; a++) st[a] += h[a];
  }
}

/* The H update of one column of partition t. */
static void mu_h_column(const mu_state *m, int t, const float *v, float *h) {
  int64_t n = m->n;
  int k = m->k, cls = m->cls;
  float *num = part_kbuf(m, t), *dq = num + k, *den = dq + k;
#ifdef HAVE_AVX2
  if (m->fused) {
    if (cls == CLS_EUC) dots_avx2(m->W, n, k, v, num);
    else hsweep_avx2(m->W, n, k, cls == CLS_IS, h, v, num, dq);
    mu_update_h(m, h, num, dq, den);
    return;
  }
#endif
  const float *x = v;
  float *r = part_r(m, t), *q = part_q(m, t);
  if (cls != CLS_EUC) {
    prep(cls, m->beta, m->simd, m->W, n, k, h, v, r, q);
    x = r;
  }
  dots(m->simd, m->W, n, k, x, num);
  if (m->two) dots(m->simd, m->W, n, k, q, dq);
  mu_update_h(m, h, num, dq, den);
}

/* Four columns' (some may be the zero padding) contribution to partition t's W update
 * sums; g of them are real. */
static void mu_w_group(const mu_state *m, int t, const float *const *v, const float *const *h,
                       int g) {
  int64_t n = m->n;
  int k = m->k, cls = m->cls;
  float *accN = part_accN(m, t), *accD = part_accD(m, t);
  double *st = part_stat(m, t);
  for (int c = 0; c < g; c++) mu_add_stat(m, st, h[c]);
#ifdef HAVE_AVX2
  if (m->kl512) {
    st[m->statn] += kl_wgroup512(m->Wp, n, m->ld, k, h, v, accN, (m->flags & LOSS_W) != 0);
    return;
  }
  if (m->fused) {
    wsweep_avx2(m->W, n, k, cls, h, v, accN, accD);
    return;
  }
#endif
  float *r = part_r(m, t), *q = part_q(m, t);
  for (int c = 0; c < g; c++) {
    const float *x = v[c];
    if (cls != CLS_EUC) {
      prep(cls, m->beta, m->simd, m->W, n, k, h[c], v[c], r, q);
      x = r;
    }
    axpys(m->simd, accN, n, k, x, h[c]);
    if (m->two) axpys(m->simd, accD, n, k, q, h[c]);
  }
}

/* Partition t's columns, four at a time: the H update of each column (DO_H), then the
 * group's contribution to the W update from the new H columns (DO_W), the columns of V
 * still in cache; with SIMUL the W contribution comes first, from the old H columns. */
static void mu_pass_part(mu_state *m, int t, int flags) {
  int64_t n = m->n, nk = m->ld * m->k;
  int k = m->k;
  int64_t j0 = m->p * t / m->parts, j1 = m->p * (t + 1) / m->parts;
  if (flags & DO_W) {
    float *accD = part_accD(m, t);
    memset(part_accN(m, t), 0, (size_t)nk * sizeof(float));
    if (accD) memset(accD, 0, (size_t)nk * sizeof(float));
  }
  memset(part_stat(m, t), 0, (m->statn + 1) * sizeof(double));
  for (int64_t j = j0; j < j1; j += 4) {
    int g = j1 - j < 4 ? (int)(j1 - j) : 4;
    const float *v[4], *hc[4];
    float *h[4];
    for (int c = 0; c < 4; c++) {
      v[c] = c < g ? m->V + (j + c) * n : m->zero_v;
      h[c] = c < g ? m->H + (j + c) * k : NULL;
      hc[c] = c < g ? h[c] : m->zero_h;
    }
    if ((flags & SIMUL) && (flags & DO_W)) mu_w_group(m, t, v, hc, g);
    if (flags & DO_H) {
      int c = 0;
#ifdef HAVE_AVX2
      if (m->kl512) {
        /* The group's four numerators (padding columns included) in one sweep of W. */
        float *kb = part_kbuf(m, t), *den = kb + 4 * (size_t)k;
        float *num[4] = {kb, kb + k, kb + 2 * (size_t)k, kb + 3 * (size_t)k};
        part_stat(m, t)[m->statn] +=
            kl_hgroup512(m->Wp, n, m->ld, k, hc, v, num, (flags & LOSS_H) != 0);
        for (; c < g; c++) mu_update_h(m, h[c], num[c], NULL, den);
      }
      if (m->fused && m->cls == CLS_EUC && k <= 4) {
        /* Two columns per sweep of W; num and dq of the kbuf serve as the two sums. */
        float *num = part_kbuf(m, t), *num1 = num + k, *den = num1 + k;
        for (; c + 2 <= g; c += 2) {
          dots2_avx2(m->W, n, k, v[c], v[c + 1], num, num1);
          mu_update_h(m, h[c], num, NULL, den);
          mu_update_h(m, h[c + 1], num1, NULL, den);
        }
      }
#endif
      for (; c < g; c++) mu_h_column(m, t, v[c], h[c]);
    }
    if (!(flags & SIMUL) && (flags & DO_W)) mu_w_group(m, t, v, hc, g);
  }
}

static void mu_pass_task(void *ctx, int t) {
  mu_state *m = ctx;
  mu_pass_part(m, t, m->flags);
}

static void mu_pass(mu_state *m, int flags) {
  int parts = m->parts;
  m->flags = flags;
  tsr_nmf_pool_run(m->pool, parts, mu_pass_task, m);
  if (flags & (LOSS_H | LOSS_W)) {
    double sum = 0.0;
    for (int t = 0; t < parts; t++) sum += part_stat(m, t)[m->statn];
    m->pass_loss = sum;
  }
  if (!(flags & DO_W)) return;
  /* Partition sums in partition order, into partition 0's buffers. */
  size_t nk = (size_t)m->ld * m->k;
  float *accN = part_accN(m, 0), *accD = part_accD(m, 0);
#ifdef HAVE_AVX2
  if (m->simd == 2) {
    for (int t = 1; t < parts; t++) {
      add_into512(accN, part_accN(m, t), nk);
      if (accD) add_into512(accD, part_accD(m, t), nk);
    }
  } else
#endif
  for (int t = 1; t < parts; t++) {
    const float *a = part_accN(m, t);
    for (size_t i = 0; i < nk; i++) accN[i] += a[i];
    if (accD) {
      const float *d = part_accD(m, t);
      for (size_t i = 0; i < nk; i++) accD[i] += d[i];
    }
  }
  for (size_t s = 0; s < m->statn; s++) {
    double sum = 0.0;
    for (int t = 0; t < parts; t++) sum += part_stat(m, t)[s];
    m->hstat[s] = sum;
  }
  /* Leading dimension n for mu_apply_w; column a moves down, over columns already moved. */
  if (m->ld != m->n)
    for (int a = 1; a < m->k; a++) {
      memmove(accN + a * m->n, accN + a * m->ld, (size_t)m->n * sizeof(float));
      if (accD) memmove(accD + a * m->n, accD + a * m->ld, (size_t)m->n * sizeof(float));
    }
}

/* kl512's copy of W with leading dimension ld, after every change of W. */
static void mu_sync_wp(mu_state *m) {
  if (m->Wp == NULL) return;
  for (int a = 0; a < m->k; a++)
    memcpy(m->Wp + a * m->ld, m->W + a * m->n, (size_t)m->n * sizeof(float));
}

/* W <- W * (numerator / denominator)^gamma from the accumulated pass. */
static void mu_apply_w(mu_state *m) {
  int64_t n = m->n;
  int k = m->k;
  float *W = m->W, *den = m->wden, *accN = part_accN(m, 0), *accD = part_accD(m, 0);
#ifdef HAVE_AVX2
  if (m->fused && k <= 8 && (m->gamma == 1.0f || m->gamma == 0.5f)) {
    float hh[64], hs[8];
    for (int a = 0; a < k * k; a++) hh[a] = m->cls == CLS_EUC ? (float)m->hstat[a] : 0.0f;
    for (int a = 0; a < k; a++) hs[a] = m->cls == CLS_KL ? (float)m->hstat[a] : 0.0f;
    apply_w_avx2(W, n, k, m->cls, accN, accD, hh, hs, m->l1W, m->l2W, m->gamma == 0.5f,
                 m->flushW);
    mu_sync_wp(m);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++) {
    for (int a = 0; a < k; a++) {
      float d;
      if (m->cls == CLS_EUC) {
        double s = 0.0;
        for (int b = 0; b < k; b++) s += (double)W[i + b * n] * m->hstat[b * k + a];
        d = (float)s;
      } else if (m->cls == CLS_KL) {
        d = (float)m->hstat[a];
      } else {
        d = accD[i + a * n];
      }
      if (m->l1W > 0.0f) d += m->l1W;
      if (m->l2W > 0.0f) d += m->l2W * W[i + a * n];
      den[a] = d == 0.0f ? EPS32 : d;
    }
    for (int a = 0; a < k; a++) {
      float delta = accN[i + a * n] / den[a];
      if (m->gamma != 1.0f) delta = powf(delta, m->gamma);
      float x = W[i + a * n] * delta;
      W[i + a * n] = (m->flushW && x < (float)FLUSH) ? 0.0f : x;
    }
  }
  mu_sync_wp(m);
}

/* scikit-learn's convergence measure: sqrt(2 * its divergence), its Euclidean divergence
 * being half of ours. */
static double sk_error(int cls, double loss) {
  if (loss < 0.0) loss = 0.0;
  return sqrt(cls == CLS_EUC ? loss : 2.0 * loss);
}

static int report(const tsr_nmf_params *prm, int it, double loss) {
  return prm->on_check ? prm->on_check(prm->ctx, it, loss) : 0;
}

/* The objective over `parts` column ranges as the pool's tasks, added in partition order. */
typedef struct loss_job {
  const float *V, *W, *H;
  int64_t n, p;
  int k, parts;
  double beta;
  double part[MAX_PARTS];
} loss_job;

static void loss_task(void *ctx, int t) {
  loss_job *lj = ctx;
  int64_t j0 = lj->p * t / lj->parts, j1 = lj->p * (t + 1) / lj->parts;
  lj->part[t] = j0 < j1 ? tsr_nmf_loss_cols(lj->V, lj->W, lj->H, lj->n, j0, j1, lj->k, lj->beta)
                        : 0.0;
}

static double loss_pool(tsr_nmf_pool *pool, const float *V, const float *W, const float *H,
                        int64_t n, int64_t p, int k, double beta, int parts) {
  if (pool == NULL) return loss_parts(V, W, H, n, p, k, beta, parts);
  loss_job lj = {.V = V, .W = W, .H = H, .n = n, .p = p, .k = k, .parts = parts, .beta = beta};
  tsr_nmf_pool_run(pool, parts, loss_task, &lj);
  double s = 0.0;
  for (int t = 0; t < parts; t++) s += lj.part[t];
  return s;
}

/* The checks of a fit: the objective every `every` iterations (and at 0), reported, and
 * scikit-learn's tol rule on it. */
typedef struct tracker {
  const tsr_nmf_params *prm;
  const float *V, *W, *H;
  int64_t n, p;
  int k, cls, parts;
  tsr_nmf_pool *pool; /* NULL: OpenMP partitions */
  double loss, e_init, prev;
  int checked; /* loss is that of the current factors */
  int given;   /* the next check's objective is in loss already (summed by a pass) */
} tracker;

static int track_start(tracker *tr, const tsr_nmf_params *prm, const float *V, const float *W,
                       const float *H, int64_t n, int64_t p, int k, int parts,
                       tsr_nmf_pool *pool) {
  tr->prm = prm;
  tr->given = 0;
  tr->pool = pool;
  tr->V = V, tr->W = W, tr->H = H;
  tr->n = n, tr->p = p, tr->k = k, tr->parts = parts;
  tr->cls = beta_class(prm->beta);
  tr->loss = loss_pool(tr->pool, V, W, H, n, p, k, prm->beta, parts);
  tr->e_init = tr->prev = sk_error(tr->cls, tr->loss);
  tr->checked = 1;
  return report(prm, 0, tr->loss);
}

/* After iteration it: 0 to go on, 1 when on_check stopped the fit, 2 when tol did. */
static int track_iteration(tracker *tr, int it) {
  tr->checked = 0;
  if (it % tr->prm->every != 0) return 0;
  if (!tr->given)
    tr->loss = loss_pool(tr->pool, tr->V, tr->W, tr->H, tr->n, tr->p, tr->k, tr->prm->beta,
                         tr->parts);
  tr->given = 0;
  tr->checked = 1;
  if (report(tr->prm, it, tr->loss)) return 1;
  if (tr->prm->tol > 0.0) {
    double e = sk_error(tr->cls, tr->loss);
    if (tr->e_init == 0.0 || (tr->prev - e) / tr->e_init < tr->prm->tol) return 2;
    tr->prev = e;
  }
  return 0;
}

static double track_final(tracker *tr) {
  if (!tr->checked)
    tr->loss = loss_pool(tr->pool, tr->V, tr->W, tr->H, tr->n, tr->p, tr->k, tr->prm->beta,
                         tr->parts);
  return tr->loss;
}

static int alloc_failure(size_t bytes, tsr_error *err, const char *what) {
  size_t cap = tsr_memory_cap();
  if (cap != 0 && bytes > cap) {
    tsr_seterror(err, "%s needs %.1f MB, over the memory cap", what, (double)bytes / 1e6);
    return TSR_ELIMIT;
  }
  tsr_seterror(err, "cannot allocate %.1f MB for %s", (double)bytes / 1e6, what);
  return TSR_ENOMEM;
}

static int mu_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                  const tsr_nmf_params *prm, int threads, tsr_nmf_result *res,
                  tsr_error *err) {
  /* Partitions from the shape, taken by the threads as they come free: the result is the
   * same for any thread count. */
  int parts = tsr_nmf_pool_chunks(p);
  mu_state m;
  memset(&m, 0, sizeof m);
  m.V = V;
  m.W = W;
  m.H = H;
  m.n = n;
  m.p = p;
  m.k = k;
  m.beta = prm->beta;
  m.cls = beta_class(prm->beta);
  m.simd = use_simd();
  m.parts = parts;
  m.gamma = prm->beta < 1.0 ? (float)(1.0 / (2.0 - prm->beta))
            : prm->beta > 2.0 ? (float)(1.0 / (prm->beta - 1.0)) : 1.0f;
  m.flushW = prm->beta < 1.0;
  m.flushH = prm->beta <= 1.0;
  m.l1W = (float)((double)p * prm->alpha_W * prm->l1_ratio);
  m.l2W = (float)((double)p * prm->alpha_W * (1.0 - prm->l1_ratio));
  m.l1H = (float)((double)n * prm->alpha_H * prm->l1_ratio);
  m.l2H = (float)((double)n * prm->alpha_H * (1.0 - prm->l1_ratio));
  int two = m.two = m.cls == CLS_IS || m.cls == CLS_BETA; /* denominators need a ratio */
  m.statn = m.cls == CLS_EUC ? (size_t)k * k : (size_t)k;
  m.fused = m.simd && (m.cls == CLS_EUC ? k <= 8 : m.cls != CLS_BETA && k <= 16);
  m.kl512 = m.fused && m.simd == 2 && m.cls == CLS_KL;
  m.ld = n;
  if (m.kl512) {
    int64_t lines = (n + 15) / 16;
    while (lines % 8 == 0) lines++; /* gcd(lines, 64 sets) <= 4: 16 columns, 16 sets */
    m.ld = lines * 16;
  }

  /* Scratch: per partition 2n + (1 or 2) ld k + 5k floats and statn doubles, each rounded
   * up to whole 128-byte lines so partitions never share one; shared k*k + k + statn
   * doubles, 2k + n + k floats and for kl512 the ld x k copy of W. Well under one n x p
   * buffer. */
  size_t nk, per, nf, nd, fbytes, dbytes;
  if (tsr_mul_size((size_t)m.ld, (size_t)k, &nk) != 0 ||
      tsr_mul_size(nk, two ? 2 : 1, &per) != 0 ||
      (per += 2 * (size_t)n + 5 * (size_t)k + 31) < 2 * (size_t)n ||
      (per &= ~(size_t)31, tsr_mul_size(per, (size_t)parts, &nf)) != 0 ||
      (nf += 3 * (size_t)k + (size_t)n + 96) < (size_t)n ||
      (m.kl512 && (nf += nk) < nk) || tsr_mul_size(nf, sizeof(float), &fbytes) != 0) {
    tsr_seterror(err, "the scratch space for n = %lld, k = %d overflows", (long long)n, k);
    return TSR_ELIMIT;
  }
  m.fstride = per;
  m.dstride = (m.statn + 1 + 15) & ~(size_t)15;
  nd = m.dstride * (size_t)parts + (size_t)k * k + (size_t)k + m.statn;
  dbytes = nd * sizeof(double);
  float *fs = tsr_alloc(fbytes);
  if (fs == NULL) return alloc_failure(fbytes, err, "the fit's scratch space");
  double *ds = tsr_alloc(dbytes);
  if (ds == NULL) {
    tsr_free(fs);
    return alloc_failure(dbytes, err, "the fit's scratch space");
  }
  m.fpart = fs;
  m.wden = fs + m.fstride * (size_t)parts;
  m.hden = m.wden + ((size_t)k + 31) / 32 * 32;
  float *zeros = m.hden + ((size_t)k + 31) / 32 * 32;
  memset(zeros, 0, ((size_t)n + (size_t)k) * sizeof *zeros);
  m.zero_v = zeros;
  m.zero_h = zeros + n;
  if (m.kl512) {
    m.Wp = zeros + ((size_t)n + (size_t)k + 15) / 16 * 16; /* 64-byte aligned */
    mu_sync_wp(&m);
  }
  m.stat = ds;
  m.WtW = m.stat + m.dstride * (size_t)parts;
  m.wsum = m.WtW + (size_t)k * k;
  m.hstat = m.wsum + k;
  m.pool = tsr_nmf_pool_open(threads < parts ? threads : parts);
  if (m.pool == NULL) {
    tsr_free(ds);
    tsr_free(fs);
    return alloc_failure(sizeof(void *), err, "the fit's thread pool");
  }

  int updW = prm->update_W != 0, updH = prm->update_H != 0;
  int order = prm->order, max_iter = prm->max_iter;
  int both_wh = order == TSR_NMF_ORDER_WH && updW && updH;
  /* kl512 sums a check's objective in a pass that reads V anyway: in order WH, the same
   * iteration's W half-step (LOSS_W); in the others, the next iteration's first sweep,
   * which starts from the checked factors (LOSS_H, or LOSS_W when H is fixed), with H kept
   * aside so that the fit can still stop at the checked iteration. */
  size_t hbytes = (size_t)k * (size_t)p * sizeof(float);
  float *Hkeep = m.kl512 && !both_wh && updH ? tsr_alloc(hbytes) : NULL;
  int can_defer = m.kl512 && !both_wh && (updH || updW) && (Hkeep != NULL || !updH);
  int it = 0, pending = 0, deferred = 0;
  tracker tr;
  if (track_start(&tr, prm, V, W, H, n, p, k, parts, m.pool)) {
    res->stopped = 1;
  } else {
    if (updH) mu_prep_h(&m);
    for (it = 1; it <= max_iter; it++) {
      int stop = 0;
      if (both_wh) {
        /* W then H. The pass that updates H for iteration t also gathers the W update of
         * iteration t+1 (it needs W_t and H_t, both at hand), which is applied at the
         * start of t+1, or dropped when the fit stops at t. */
        if (!pending) mu_pass(&m, DO_W);
        mu_apply_w(&m);
        mu_prep_h(&m);
        pending = it < max_iter;
        int fold = pending && m.kl512 && it % prm->every == 0;
        mu_pass(&m, DO_H | (pending ? DO_W : 0) | (fold ? LOSS_W : 0));
        if (fold) {
          tr.loss = m.pass_loss;
          tr.given = 1;
        }
      } else if (updH || updW) {
        /* H then W (with one factor fixed both orders are the same), or both from the
         * previous iterate. */
        int flags = (order == TSR_NMF_ORDER_SIMULTANEOUS ? SIMUL : 0) | (updH ? DO_H : 0) |
                    (updW ? DO_W : 0);
        if (deferred) {
          flags |= updH ? LOSS_H : LOSS_W;
          if (updH) memcpy(Hkeep, H, hbytes);
        }
        mu_pass(&m, flags);
        if (deferred) {
          deferred = 0;
          tr.loss = m.pass_loss;
          tr.given = 1;
          stop = track_iteration(&tr, it - 1);
          if (stop) {
            /* Back to the checked iteration: its H; W is still its own. */
            if (updH) memcpy(H, Hkeep, hbytes);
            it--;
            res->stopped = stop == 1;
            res->converged = stop == 2;
            break;
          }
        }
        if (updW) {
          mu_apply_w(&m);
          if (updH) mu_prep_h(&m);
        }
      }
      if (can_defer && it < max_iter && it % prm->every == 0) {
        deferred = 1;
        continue;
      }
      stop = track_iteration(&tr, it);
      if (stop) {
        res->stopped = stop == 1;
        res->converged = stop == 2;
        break;
      }
    }
    if (it > max_iter) it = max_iter;
  }
  res->iterations = it;
  res->loss = track_final(&tr);
  tsr_free(Hkeep);
  tsr_nmf_pool_close(m.pool);
  tsr_free(ds);
  tsr_free(fs);
  return TSR_OK;
}

/* The Euclidean MU for k > 8 through OpenBLAS: W'V and VH' are sgemm calls (two reads of
 * V per iteration, but at the machine's FMA rate, which for large k matters more), the
 * small products too; only k x p and n x k scratch. */
static void gemm_apply(float *F, const float *N, const float *D, size_t count, float l1,
                       float l2) {
  for (size_t i = 0; i < count; i++) {
    float d = D[i];
    if (l1 > 0.0f) d += l1;
    if (l2 > 0.0f) d += l2 * F[i];
    F[i] *= N[i] / (d == 0.0f ? EPS32 : d);
  }
}

/* NH = W'V and DH = (W'W) H: the H update's numerator and denominator. */
static void gemm_h_terms(const float *V, const float *W, const float *H, int n, int p, int k,
                         float *G, float *NH, float *DH) {
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, p, n, 1.0f, W, n, V, n, 0.0f, NH, k);
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0f, W, n, W, n, 0.0f, G, k);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, p, k, 1.0f, G, k, H, k, 0.0f, DH, k);
}

/* NW = V H' and DW = W (H H'). */
static void gemm_w_terms(const float *V, const float *W, const float *H, int n, int p, int k,
                         float *G, float *NW, float *DW) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, p, 1.0f, V, n, H, k, 0.0f, NW, n);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, k, k, p, 1.0f, H, k, H, k, 0.0f, G, k);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, k, k, 1.0f, W, n, G, k, 0.0f, DW, n);
}

static int mu_fit_gemm(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                       const tsr_nmf_params *prm, int parts, tsr_nmf_result *res,
                       tsr_error *err) {
  if (n > INT32_MAX || p > INT32_MAX) {
    tsr_seterror(err, "a %lld x %lld V is too large for BLAS", (long long)n, (long long)p);
    return TSR_ELIMIT;
  }
  size_t nh = (size_t)k * (size_t)p, nw = (size_t)n * (size_t)k, count, bytes;
  if (tsr_mul_size(nh + nw, 2, &count) != 0 || (count += (size_t)k * k) < nh ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "the scratch space for k = %d overflows", k);
    return TSR_ELIMIT;
  }
  float *scratch = tsr_alloc(bytes);
  if (scratch == NULL) return alloc_failure(bytes, err, "the fit's scratch space");
  float *NH = scratch, *DH = NH + nh, *NW = DH + nh, *DW = NW + nw, *G = DW + nw;
  float l1W = (float)((double)p * prm->alpha_W * prm->l1_ratio);
  float l2W = (float)((double)p * prm->alpha_W * (1.0 - prm->l1_ratio));
  float l1H = (float)((double)n * prm->alpha_H * prm->l1_ratio);
  float l2H = (float)((double)n * prm->alpha_H * (1.0 - prm->l1_ratio));
  int ni = (int)n, pi = (int)p, updW = prm->update_W != 0, updH = prm->update_H != 0;
  int it = 0;
  tracker tr;
  if (track_start(&tr, prm, V, W, H, n, p, k, parts, NULL)) {
    res->stopped = 1;
  } else {
    for (it = 1; it <= prm->max_iter; it++) {
      if (prm->order == TSR_NMF_ORDER_SIMULTANEOUS) {
        if (updH) gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
        if (updW) gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
        if (updH) gemm_apply(H, NH, DH, nh, l1H, l2H);
        if (updW) gemm_apply(W, NW, DW, nw, l1W, l2W);
      } else if (prm->order == TSR_NMF_ORDER_WH) {
        if (updW) {
          gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
          gemm_apply(W, NW, DW, nw, l1W, l2W);
        }
        if (updH) {
          gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
          gemm_apply(H, NH, DH, nh, l1H, l2H);
        }
      } else {
        if (updH) {
          gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
          gemm_apply(H, NH, DH, nh, l1H, l2H);
        }
        if (updW) {
          gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
          gemm_apply(W, NW, DW, nw, l1W, l2W);
        }
      }
      int stop = track_iteration(&tr, it);
      if (stop) {
        res->stopped = stop == 1;
        res->converged = stop == 2;
        break;
      }
    }
    if (it > prm->max_iter) it = prm->max_iter;
  }
  res->iterations = it;
  res->loss = track_final(&tr);
  tsr_free(scratch);
  return TSR_OK;
}

/* ---------------------------------------------------------------------------------------
 * Checks, defaults and the entry point. */

int tsr_nmf_check(const float *A, int64_t rows, int64_t cols, const char *name,
                  tsr_error *err) {
  int simd = use_simd();
  for (int64_t j = 0; j < cols; j++) {
    const float *c = A + j * rows;
    int bad = 0;
#ifdef HAVE_AVX2
    if (simd)
      bad = !column_ok_avx2(c, rows);
    else
#endif
      for (int64_t i = 0; i < rows; i++) bad |= !(c[i] >= 0.0f && c[i] <= FLT_MAX);
    (void)simd;
    if (!bad) continue;
    for (int64_t i = 0; i < rows; i++) {
      float x = c[i];
      if (x >= 0.0f && x <= FLT_MAX) continue;
      if (isnan(x)) /* printf would say nan or -nan after the sign bit */
        tsr_seterror(err, "%s has a NaN entry (at row %lld, column %lld)", name,
                     (long long)i + 1, (long long)j + 1);
      else
        tsr_seterror(err, "%s has %s entry (%g at row %lld, column %lld)", name,
                     isinf(x) ? "an infinite" : "a negative", (double)x, (long long)i + 1,
                     (long long)j + 1);
      return isfinite(x) ? TSR_EINVAL : TSR_ENOTFINITE;
    }
  }
  return TSR_OK;
}

void tsr_nmf_params_default(tsr_nmf_params *prm) {
  memset(prm, 0, sizeof *prm);
  prm->beta = 2.0;
  prm->solver = TSR_NMF_MU;
  prm->order = TSR_NMF_ORDER_HW;
  prm->max_iter = 200;
  prm->tol = 1e-4;
  prm->update_W = 1;
  prm->update_H = 1;
  prm->alpha_W = 0.0;
  prm->alpha_H = 0.0;
  prm->l1_ratio = 0.0;
  prm->threads = 0;
  prm->every = 10;
  prm->on_check = NULL;
  prm->ctx = NULL;
}

static int check_params(int64_t n, int64_t p, int k, const tsr_nmf_params *prm,
                        tsr_error *err) {
  if (n < 1 || p < 1) {
    tsr_seterror(err, "V must not be empty, got %lld x %lld", (long long)n, (long long)p);
    return TSR_EINVAL;
  }
  if (k < 1) {
    tsr_seterror(err, "k must be >= 1, got %d", k);
    return TSR_EINVAL;
  }
  if (!isfinite(prm->beta)) {
    tsr_seterror(err, "beta must be finite, got %g", prm->beta);
    return TSR_EINVAL;
  }
  if (prm->solver != TSR_NMF_MU && prm->solver != TSR_NMF_CD) {
    tsr_seterror(err, "unknown solver %d", prm->solver);
    return TSR_EINVAL;
  }
  if (prm->solver == TSR_NMF_CD && prm->beta != 2.0) {
    tsr_seterror(err, "solver 'cd' needs the euclidean loss (beta 2), got beta %g", prm->beta);
    return TSR_EINVAL;
  }
  if (prm->order < TSR_NMF_ORDER_HW || prm->order > TSR_NMF_ORDER_SIMULTANEOUS) {
    tsr_seterror(err, "unknown order %d", prm->order);
    return TSR_EINVAL;
  }
  if (prm->max_iter < 0) {
    tsr_seterror(err, "max_iter must be >= 0, got %d", prm->max_iter);
    return TSR_EINVAL;
  }
  if (!(prm->tol >= 0.0) || !isfinite(prm->tol)) {
    tsr_seterror(err, "tol must be a finite number >= 0, got %g", prm->tol);
    return TSR_EINVAL;
  }
  if (prm->every < 1) {
    tsr_seterror(err, "every must be >= 1, got %d", prm->every);
    return TSR_EINVAL;
  }
  if (!(prm->alpha_W >= 0.0) || !isfinite(prm->alpha_W) || !(prm->alpha_H >= 0.0) ||
      !isfinite(prm->alpha_H)) {
    tsr_seterror(err, "alpha_W and alpha_H must be finite numbers >= 0, got %g and %g",
                 prm->alpha_W, prm->alpha_H);
    return TSR_EINVAL;
  }
  if (!(prm->l1_ratio >= 0.0 && prm->l1_ratio <= 1.0)) {
    tsr_seterror(err, "l1_ratio must be in [0, 1], got %g", prm->l1_ratio);
    return TSR_EINVAL;
  }
  if (prm->threads < 0) {
    tsr_seterror(err, "threads must be >= 0, got %d", prm->threads);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

int tsr_nmf_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  tsr_nmf_result local;
  if (res == NULL) res = &local;
  memset(res, 0, sizeof *res);
  if (V == NULL || W == NULL || H == NULL || prm == NULL) {
    tsr_seterror(err, "V, W, H and the parameters are required");
    return TSR_EINVAL;
  }
  int status = check_params(n, p, k, prm, err);
  /* The pass-based solvers check V in their first pass, before they change W or H. */
  int euc_wh = prm->solver == TSR_NMF_MU && prm->beta == 2.0 && prm->order == TSR_NMF_ORDER_WH &&
               prm->update_W && prm->update_H;
  int checks_v = prm->solver == TSR_NMF_CD || euc_wh;
  if (status == TSR_OK && !checks_v) status = tsr_nmf_check(V, n, p, "V", err);
  if (status == TSR_OK) status = tsr_nmf_check(W, n, k, "W", err);
  if (status == TSR_OK) status = tsr_nmf_check(H, k, p, "H", err);
  if (status != TSR_OK) return status;

  /* `threads` sets both the fused loops and OpenBLAS (the CD solver's products) for the
   * length of the fit. */
  int saved = openblas_get_num_threads();
  if (prm->threads > 0) openblas_set_num_threads(prm->threads);
  int parts = clamp_parts(prm->threads, p);
  if (prm->solver == TSR_NMF_CD) {
    status = tsr_nmf_cd_fit(V, n, p, k, W, H, prm, res, err);
  } else if (euc_wh) {
    status = tsr_nmf_mu_euc_fit(V, n, p, k, W, H, prm, res, err);
  } else if (prm->beta == 2.0 && k > 8) {
    status = mu_fit_gemm(V, n, p, k, W, H, prm, parts, res, err);
  } else {
    status = mu_fit(V, n, p, k, W, H, prm, parts, res, err);
  }
  if (prm->threads > 0) openblas_set_num_threads(saved);
  return status;
}

/* ---------------------------------------------------------------------------------------
 * Initialisation. The generator is xoshiro256** seeded through splitmix64; normals come
 * from Box-Muller in double, both values of a pair used. */

typedef struct rng {
  uint64_t s[4];
  int has_spare;
  double spare;
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void rng_seed(rng *g, uint64_t seed) {
  for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&seed);
  g->has_spare = 0;
  g->spare = 0.0;
}

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rng_next(rng *g) {
  uint64_t *s = g->s;
  uint64_t out = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return out;
}

/* Uniform on [0, 1) with 24 random bits: every value a float exactly. */
static float rng_uniform(rng *g) { return (float)(rng_next(g) >> 40) * 0x1.0p-24f; }

static double rng_normal(rng *g) {
  if (g->has_spare) {
    g->has_spare = 0;
    return g->spare;
  }
  double u1 = (double)((rng_next(g) >> 11) + 1) * 0x1.0p-53; /* (0, 1]: log is finite */
  double u2 = (double)(rng_next(g) >> 11) * 0x1.0p-53;
  double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
  g->spare = r * sin(a);
  g->has_spare = 1;
  return r * cos(a);
}

static double mean_of(const float *V, int64_t n, int64_t p) {
  double s = 0.0;
  for (int64_t j = 0; j < p; j++) {
    double c = 0.0;
    for (int64_t i = 0; i < n; i++) c += V[i + j * n];
    s += c;
  }
  return s / ((double)n * (double)p);
}

/* Orthonormalises the columns of A (rows x cols, rows >= cols) in place by Householder
 * QR; with R non-NULL the cols x cols triangular factor is copied there first. */
static int orthonormalise(double *A, int64_t rows, int cols, double *tau, double *R) {
  if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)rows, cols, A, (lapack_int)rows, tau) != 0)
    return -1;
  if (R != NULL)
    for (int j = 0; j < cols; j++)
      for (int i = 0; i < cols; i++) R[i + j * cols] = i <= j ? A[i + j * rows] : 0.0;
  return LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)rows, cols, cols, A, (lapack_int)rows, tau) == 0
             ? 0 : -1;
}

/* Y = scale V (V' Q), Q and Y n x l (leading dimension ld): one pass over V where AVX-512
 * is, else two sgemm calls through T (p x l). z: 4 * l floats. scale keeps Y near V's own
 * magnitude: V V' squares it, which overflows float from entries of about 1e19 on. */
static void gram_apply(const float *V, int64_t n, int64_t p, int l, const float *Q, int64_t ld,
                       float scale, float *Y, float *T, float *z) {
#ifdef HAVE_AVX2
  if (use_simd() == 2) {
    (void)T;
    gram_apply512(V, n, p, l, Q, ld, scale, Y, z);
    return;
  }
#endif
  (void)z;
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, l, (int)n, scale, V, (int)n, Q,
              (int)ld, 0.0f, T, (int)p);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, l, (int)p, 1.0f, V, (int)n, T,
              (int)p, 0.0f, Y, (int)ld);
}

/* Between Q (n x l, leading dimension n, double) and its float copy on leading dimension ld. */
static void q_to_float(const double *Q, int64_t n, int l, float *Qf, int64_t ld) {
  for (int a = 0; a < l; a++)
    for (int64_t i = 0; i < n; i++) Qf[i + a * ld] = (float)Q[i + a * n];
}

/* Q (double, leading dimension n) from Qf (float, leading dimension ld); nonzero when an
 * entry is not finite (LAPACK's SVD can loop forever on an infinity). */
static int q_to_double(const float *Qf, int64_t ld, int64_t n, int l, double *Q) {
  int bad = 0;
  for (int a = 0; a < l; a++)
    for (int64_t i = 0; i < n; i++) {
      Q[i + a * n] = Qf[i + a * ld];
      bad |= !isfinite(Qf[i + a * ld]);
    }
  return bad;
}

/* The leading k singular triplets of V (n x p): U (n x k), S (k), Vt (k x p), in double.
 * Subspace iteration on l = min(k + 10, n, p) vectors, Q <- orth(V V' Q) (the products in
 * float, the rest in double), stopped when the leading k left Ritz vectors no longer move
 * (the part of each outside the previous span below 1e-12, or stuck at the float
 * products' rounding floor), then a Rayleigh-Ritz step as in scikit-learn's
 * randomized_svd, but run to convergence so the result is the exact truncated SVD to float
 * precision. */
static int svd_top(const float *V, int64_t n, int64_t p, int k, double *U, double *S,
                   double *Vt, tsr_error *err) {
  int64_t mn = n < p ? n : p;
  int l = (int)(k + 10 < mn ? k + 10 : mn);
  int64_t ld = ((n + 15) & ~(int64_t)15) + 32; /* gram_apply's Q and Y: see there */
  size_t big = (size_t)(n > p ? n : p) * (size_t)l;
  size_t bigf = (size_t)(ld > p ? ld : p) * (size_t)l;
  size_t nd = 2 * big + (size_t)l * p + 3 * (size_t)l * l + 2 * (size_t)l + 3 * (size_t)n * k +
              (size_t)k * k;
  size_t nf = 3 * bigf + 4 * (size_t)l;
  double *d = tsr_alloc(nd * sizeof *d);
  float *f = tsr_alloc(nf * sizeof *f);
  if (d == NULL || f == NULL) {
    tsr_free(d);
    tsr_free(f);
    return alloc_failure(nd * sizeof *d + nf * sizeof *f, err, "the truncated SVD");
  }
  double *Q = d, *Z = Q + big, *B = Z + big, *R = B + (size_t)l * p, *RU = R + (size_t)l * l,
         *RVt = RU + (size_t)l * l, *sv = RVt + (size_t)l * l, *tau = sv + l,
         *Uk = tau + l, *Uprev = Uk + (size_t)n * k, *Ub = Uprev + (size_t)n * k,
         *M = Ub + (size_t)n * k;
  float *Yf = f, *Zf = f + bigf, *Tf = Zf + bigf, *z = Tf + bigf;
  int status = TSR_OK;
  float vmax = 0.0f;
  for (size_t i = 0; i < (size_t)n * (size_t)p; i++) {
    if (!isfinite(V[i])) goto not_finite;
    vmax = fmaxf(vmax, fabsf(V[i]));
  }
  /* scale * |V V' Q| <= |V| for orthonormal Q; capped where V is so small that 1/vmax
   * itself would overflow. */
  float scale = vmax > 0.0f ? (float)fmin(1.0 / ((double)vmax * sqrt((double)n * (double)p)),
                                          1e30)
                            : 1.0f;
  rng g;
  rng_seed(&g, 0x6e6e647376640000u); /* fixed: the SVD does not depend on the fit's seed */
  for (size_t i = 0; i < (size_t)p * l; i++) Zf[i] = (float)rng_normal(&g);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, l, (int)p, scale, V, (int)n, Zf,
              (int)p, 0.0f, Yf, (int)n);
  if (q_to_double(Yf, n, n, l, Q) != 0) goto overflow;
  if (orthonormalise(Q, n, l, tau, NULL) != 0) goto lapack_failed;
  double last = 1.0;
  for (int it = 0; it < 200; it++) {
    q_to_float(Q, n, l, Zf, ld);
    gram_apply(V, n, p, l, Zf, ld, scale, Yf, Tf, z);
    if (q_to_double(Yf, ld, n, l, Q) != 0) goto overflow;
    if (orthonormalise(Q, n, l, tau, R) != 0) goto lapack_failed;
    if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', l, l, R, l, sv, RU, l, RVt, l) != 0)
      goto lapack_failed;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, k, l, 1.0, Q, (int)n, RU, l,
                0.0, Uk, (int)n);
    if (it > 0) {
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, (int)n, 1.0, Uprev, (int)n, Uk,
                  (int)n, 0.0, M, k);
      double worst = 0.0;
      for (int j = 0; j < k; j++) {
        double in = 0.0;
        for (int i = 0; i < k; i++) in += M[i + j * k] * M[i + j * k];
        if (1.0 - in > worst) worst = 1.0 - in;
      }
      /* Converged, or at the rounding floor of the float products (two iterations in a
       * row that barely move): more would not make it any more exact. */
      if (worst < 1e-12 || (worst < 1e-10 && last < 1e-10 && worst > 0.5 * last)) break;
      last = worst;
    }
    memcpy(Uprev, Uk, (size_t)n * k * sizeof *Uk);
  }
  /* Rayleigh-Ritz: B = Q' V (l x p), B = Ub S Vt. */
  q_to_float(Q, n, l, Yf, n);
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, l, (int)n, 1.0f, V, (int)n, Yf,
              (int)n, 0.0f, Zf, (int)p);
  for (int a = 0; a < l; a++)
    for (int64_t j = 0; j < p; j++) {
      if (!isfinite(Zf[j + (size_t)a * p])) goto overflow;
      B[a + j * l] = Zf[j + (size_t)a * p];
    }
  /* Z (p x l >= l x l) is free now and holds the l x p right vectors' transpose rows. */
  if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', l, (lapack_int)p, B, l, sv, RU, l, Z, l) != 0)
    goto lapack_failed;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, k, l, 1.0, Q, (int)n, RU, l, 0.0,
              Ub, (int)n);
  memcpy(U, Ub, (size_t)n * k * sizeof *U);
  for (int a = 0; a < k; a++) {
    S[a] = sv[a];
    for (int64_t j = 0; j < p; j++) Vt[a + j * k] = Z[a + j * l];
  }
  goto done;
not_finite:
  tsr_seterror(err, "the truncated SVD needs a finite V");
  status = TSR_EINVAL;
  goto done;
overflow:
  tsr_seterror(err, "the truncated SVD overflows float: V's largest entry is %g", (double)vmax);
  status = TSR_EINVAL;
  goto done;
lapack_failed:
  tsr_seterror(err, "the truncated SVD failed (LAPACK)");
  status = TSR_EINVAL;
done:
  tsr_free(d);
  tsr_free(f);
  return status;
}

/* Boutsidis-Gallopoulos NNDSVD as scikit-learn 1.2's _initialize_nmf writes it. */
static int init_nndsvd(const float *V, int64_t n, int64_t p, int k, int init, uint64_t seed,
                       float *W, float *H, tsr_error *err) {
  size_t nd = (size_t)n * k + (size_t)k + (size_t)k * p;
  double *d = tsr_alloc(nd * sizeof *d);
  if (d == NULL) return alloc_failure(nd * sizeof *d, err, "the NNDSVD initialisation");
  double *U = d, *S = U + (size_t)n * k, *Vt = S + k;
  int status = svd_top(V, n, p, k, U, S, Vt, err);
  if (status != TSR_OK) {
    tsr_free(d);
    return status;
  }
  for (int a = 0; a < k; a++) {
    const double *x = U + (size_t)a * n;
    double xp = 0.0, xn = 0.0, yp = 0.0, yn = 0.0;
    for (int64_t i = 0; i < n; i++) {
      if (x[i] > 0.0) xp += x[i] * x[i];
      else xn += x[i] * x[i];
    }
    for (int64_t j = 0; j < p; j++) {
      double y = Vt[a + j * k];
      if (y > 0.0) yp += y * y;
      else yn += y * y;
    }
    xp = sqrt(xp), xn = sqrt(xn), yp = sqrt(yp), yn = sqrt(yn);
    /* The leading pair is non-negative up to sign: its absolute values are used. */
    int absval = a == 0, positive = xp * yp > xn * yn;
    double sigma = absval ? 1.0 : positive ? xp * yp : xn * yn;
    double xs = absval ? 1.0 : positive ? xp : xn, ys = absval ? 1.0 : positive ? yp : yn;
    double lbd = sqrt(S[a] * sigma);
    double cx = xs > 0.0 ? lbd / xs : 0.0, cy = ys > 0.0 ? lbd / ys : 0.0;
    for (int64_t i = 0; i < n; i++) {
      double v = absval ? fabs(x[i]) : positive ? fmax(x[i], 0.0) : fmax(-x[i], 0.0);
      double w = cx * v;
      W[i + (size_t)a * n] = w < 1e-6 ? 0.0f : (float)w;
    }
    for (int64_t j = 0; j < p; j++) {
      double y = Vt[a + j * k];
      double v = absval ? fabs(y) : positive ? fmax(y, 0.0) : fmax(-y, 0.0);
      double h = cy * v;
      H[a + j * k] = h < 1e-6 ? 0.0f : (float)h;
    }
  }
  tsr_free(d);
  if (init == TSR_NMF_INIT_NNDSVD) return TSR_OK;
  double avg = mean_of(V, n, p);
  size_t nw = (size_t)n * k, nh = (size_t)k * p;
  if (init == TSR_NMF_INIT_NNDSVDA) {
    for (size_t i = 0; i < nw; i++)
      if (W[i] == 0.0f) W[i] = (float)avg;
    for (size_t i = 0; i < nh; i++)
      if (H[i] == 0.0f) H[i] = (float)avg;
  } else {
    rng g;
    rng_seed(&g, seed);
    for (size_t i = 0; i < nw; i++)
      if (W[i] == 0.0f) W[i] = (float)fabs(avg * rng_normal(&g) / 100.0);
    for (size_t i = 0; i < nh; i++)
      if (H[i] == 0.0f) H[i] = (float)fabs(avg * rng_normal(&g) / 100.0);
  }
  return TSR_OK;
}

int tsr_nmf_init(const float *V, int64_t n, int64_t p, int k, int init, uint64_t seed,
                 float *W, float *H, tsr_error *err) {
  if (n < 1 || p < 1 || k < 1) {
    tsr_seterror(err, "cannot initialise a %lld x %lld factorisation with k = %d", (long long)n,
                 (long long)p, k);
    return TSR_EINVAL;
  }
  int64_t mn = n < p ? n : p;
  size_t nw = (size_t)n * k, nh = (size_t)k * p;
  switch (init) {
    case TSR_NMF_INIT_RANDOM: {
      double avg = sqrt(mean_of(V, n, p) / k);
      rng g;
      rng_seed(&g, seed);
      for (size_t i = 0; i < nh; i++) H[i] = (float)fabs(avg * rng_normal(&g));
      for (size_t i = 0; i < nw; i++) W[i] = (float)fabs(avg * rng_normal(&g));
      return TSR_OK;
    }
    case TSR_NMF_INIT_UNIFORM: {
      rng g;
      rng_seed(&g, seed);
      for (size_t i = 0; i < nw; i++) W[i] = rng_uniform(&g);
      for (size_t i = 0; i < nh; i++) H[i] = rng_uniform(&g);
      return TSR_OK;
    }
    case TSR_NMF_INIT_NNDSVD:
    case TSR_NMF_INIT_NNDSVDA:
    case TSR_NMF_INIT_NNDSVDAR:
      if (k > mn) {
        tsr_seterror(err, "nndsvd initialisations need k <= %lld, the smaller of n and p, "
                     "got %d", (long long)mn, k);
        return TSR_EINVAL;
      }
      return init_nndsvd(V, n, p, k, init, seed, W, H, err);
    default:
      tsr_seterror(err, "unknown initialisation %d", init);
      return TSR_EINVAL;
  }
}

/* ---------------------------------------------------------------------------------------
 * Reading a model. */

void tsr_nmf_component(const float *W, const float *H, int64_t n, int64_t p, int k, int c,
                       float *out) {
  const float *w = W + (size_t)c * n;
  for (int64_t j = 0; j < p; j++) {
    float h = H[c + j * k];
    float *o = out + j * n;
    for (int64_t i = 0; i < n; i++) o[i] = w[i] * h;
  }
}

void tsr_nmf_normalize(float *W, float *H, int64_t n, int64_t p, int k) {
  for (int a = 0; a < k; a++) {
    float *w = W + (size_t)a * n;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)w[i] * w[i];
    double norm = sqrt(s);
    if (norm == 0.0) continue;
    for (int64_t i = 0; i < n; i++) w[i] = (float)(w[i] / norm);
    for (int64_t j = 0; j < p; j++) H[a + j * k] = (float)(H[a + j * k] * norm);
  }
}

int tsr_nmf_permute(float *W, float *H, int64_t n, int64_t p, int k, const int *perm,
                    tsr_error *err) {
  size_t nw = (size_t)n * k, nh = (size_t)k * p;
  for (int a = 0; a < k; a++) {
    int bad = perm[a] < 0 || perm[a] >= k;
    for (int b = 0; b < a && !bad; b++) bad = perm[a] == perm[b];
    if (bad) {
      tsr_seterror(err, "not a permutation of 0..%d", k - 1);
      return TSR_EINVAL;
    }
  }
  float *copy = tsr_alloc((nw > nh ? nw : nh) * sizeof *copy);
  if (copy == NULL) return alloc_failure((nw > nh ? nw : nh) * sizeof *copy, err, "a permutation");
  memcpy(copy, W, nw * sizeof *W);
  for (int a = 0; a < k; a++) memcpy(W + (size_t)a * n, copy + (size_t)perm[a] * n, (size_t)n * sizeof *W);
  memcpy(copy, H, nh * sizeof *H);
  for (int64_t j = 0; j < p; j++)
    for (int a = 0; a < k; a++) H[a + j * k] = copy[perm[a] + j * k];
  tsr_free(copy);
  return TSR_OK;
}

void tsr_nmf_describe(const float *W, const float *H, int64_t n, int64_t p, int k,
                      double *energy, double *centroid, double *center) {
  for (int a = 0; a < k; a++) {
    const float *w = W + (size_t)a * n;
    double ww = 0.0, sw = 0.0, iw = 0.0, hh = 0.0, sh = 0.0, jh = 0.0;
    for (int64_t i = 0; i < n; i++) {
      ww += (double)w[i] * w[i];
      sw += w[i];
      iw += (double)i * w[i];
    }
    for (int64_t j = 0; j < p; j++) {
      double h = H[a + j * k];
      hh += h * h;
      sh += h;
      jh += (double)j * h;
    }
    if (energy) energy[a] = ww * hh;
    if (centroid) centroid[a] = sw > 0.0 ? iw / sw : NAN;
    if (center) center[a] = sh > 0.0 ? jh / sh : NAN;
  }
}

/* Vector a of a matrix: a row (stride rows, length cols) or a column. */
static double corr_vectors(const float *A, int64_t arows, const float *B, int64_t brows,
                           int64_t len, int by_rows, int a, int b) {
  int64_t sa = by_rows ? arows : 1, sb = by_rows ? brows : 1;
  const float *x = by_rows ? A + a : A + (size_t)a * arows;
  const float *y = by_rows ? B + b : B + (size_t)b * brows;
  double mx = 0.0, my = 0.0;
  for (int64_t i = 0; i < len; i++) {
    mx += x[i * sa];
    my += y[i * sb];
  }
  mx /= (double)len;
  my /= (double)len;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (int64_t i = 0; i < len; i++) {
    double dx = x[i * sa] - mx, dy = y[i * sb] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx <= 0.0 || syy <= 0.0) return 0.0;
  double r = sxy / sqrt(sxx * syy);
  return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

void tsr_nmf_correlate(const float *A, int64_t arows, int64_t acols, const float *B,
                       int64_t brows, int64_t bcols, int by_rows, double *out) {
  int na = (int)(by_rows ? arows : acols), nb = (int)(by_rows ? brows : bcols);
  int64_t len = by_rows ? acols : arows;
  for (int b = 0; b < nb; b++)
    for (int a = 0; a < na; a++)
      out[a + (size_t)b * na] = len > 0 ? corr_vectors(A, arows, B, brows, len, by_rows, a, b) : 0.0;
}
