/* The NMF's AVX-512 loops, 16 rows at a time: the KL pass (several columns per sweep of W),
 * the KL objective, sums, and the truncated SVD's product with V. Built with -mavx512f
 * -mavx512vl -mavx2 -mfma (Makefile); its table is used only when tsr_simd_level() is
 * AVX-512, on top of the AVX2 table (kernels.c). */
#include "portable.h"

#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>

/* ---------------------------------------------------------------------------------------
 * AVX-512 loops for the KL pass, 16 rows at a time. Their 32 registers let a step serve
 * several columns: the rows of W are loaded once for C columns, whose C x K sums (C*K <= 16)
 * stay in registers. With the AVX2 loops' one column per sweep, the loads and the
 * reciprocal's Newton step, not the multiply-adds, set the pace (docs/DECISIONS.md). */


/* x / y with y under FLT_MIN (0, the masked tail, padding columns) taken as EPS32, as
 * guard8 does: a division by y whose rare small lanes are redone. Guarding y up front (a
 * compare and a blend on every block) cost more than the rare redo. */
static ALWAYS_INLINE __m512 kl_ratio16(__m512 x, __m512 y) {
  __mmask16 small = _mm512_cmp_ps_mask(y, _mm512_set1_ps(FLT_MIN), _CMP_LT_OQ);
  __m512 r = _mm512_div_ps(x, y);
  if (__builtin_expect(small != 0, 0)) r = _mm512_mask_div_ps(r, small, x, _mm512_set1_ps(EPS32));
  return r;
}

/* log_poly8 in 16 lanes. */
static ALWAYS_INLINE __m512 log_poly16(__m512 x, __m512 z) {
  __m512 p = _mm512_set1_ps(LOGF_P[0]);
  _Pragma("GCC unroll 8") for (int c = 1; c < 9; c++)
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(LOGF_P[c]));
  return _mm512_mul_ps(_mm512_mul_ps(p, x), z);
}

/* log8 in 16 lanes: the same reduction to a mantissa in [sqrt(1/2), sqrt(2)) and the same
 * polynomial, with AVX-512's exponent and mantissa extraction. */
static ALWAYS_INLINE __m512 log16(__m512 x) {
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
static ALWAYS_INLINE void add16d(__m512 x, __m512d *acc0, __m512d *acc1) {
  *acc0 = _mm512_add_pd(*acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
  *acc1 = _mm512_add_pd(*acc1, _mm512_cvtps_pd(_mm256_castpd_ps(
                                   _mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
}

/* One column's rows i..i+rows-1 (rows <= 16) of the KL objective x log(x / y) - x + y, given
 * ratio = x / guard(y), added to acc[0] (lanes 0-7) and acc[1] (8-15); when a ratio is not a
 * normal float, the rows are redone in double by loss_col_c (W from row i, leading
 * dimension ld, and h, v from row i) into *tail. */
static ALWAYS_INLINE void kl_loss_add16(__m512 ratio, __m512 x, __m512 y,
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
static ALWAYS_INLINE __m512 wh16(const __m512 *w, const float *h, int K) {
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
static ALWAYS_INLINE void kl_hstep512(const float *restrict W, int64_t n, int64_t ld,
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
static ALWAYS_INLINE int kl_hsweep512(const float *restrict W, int64_t n,
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

/* A tile of C columns, one compare per column sweep instead of one per block: the rare tile with a y under FLT_MIN (a zero row of W, a padding
 * column) is swept again with every ratio guarded, to the same sums. */
static ALWAYS_INLINE double kl_htile512(const float *restrict W, int64_t n,
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
static double kl_hgroup512(const float *W, int64_t n, int64_t ld, int k,
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
static ALWAYS_INLINE void kl_wstep512(const float *restrict W, int64_t n, int64_t ld,
                                                int K, int LOSS, int64_t i, __mmask16 mask,
                                                const float *const *h, const float *const *v,
                                                float *restrict acc, __m512d *lacc,
                                                double *ltail) {
  __m512 w[16], r[4];
  UNROLL16 for (int a = 0; a < K; a++) w[a] = _mm512_maskz_loadu_ps(mask, W + a * ld + i);
  /* The columns of the group after next, which the H half-step reads first from memory:
   * short streams (one column is about a page) that the hardware prefetchers pick up late.
   * Into L2, not L1, where they would push out the W and sums this sweep reads
   * (docs/DECISIONS.md). */
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

static ALWAYS_INLINE double kl_wsweep512_k(const float *restrict W, int64_t n,
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
static double kl_wgroup512(const float *W, int64_t n, int64_t ld, int k,
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
static ALWAYS_INLINE double kl_loss4_512(const float *restrict W, int64_t n, int K,
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
static double kl_loss_cols512(const float *V, const float *W, const float *H,
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
static void add_into512(float *acc, const float *x, size_t count) {
  for (size_t e = 0; e < count; e += 16) {
    const __mmask16 m = e + 16 <= count ? (__mmask16)0xffff : (__mmask16)((1u << (count - e)) - 1);
    _mm512_mask_storeu_ps(acc + e, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, acc + e),
                                                    _mm512_maskz_loadu_ps(m, x + e)));
  }
}

/* sum x[0..count-1] in double, 16 at a time (W's column sums for the KL H update). */
static double sum_in_double512(const float *x, int64_t count) {
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
static void gram_apply512(const float *V, int64_t n, int64_t p, int l,
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

static const nmf_mu_kernels table = {
  .kl_hgroup = kl_hgroup512,
  .kl_wgroup = kl_wgroup512,
  .kl_loss_cols = kl_loss_cols512,
  .add_into = add_into512,
  .sum_in_double = sum_in_double512,
  .gram_apply = gram_apply512,
};
const nmf_mu_kernels *const tsr_nmf_mu_avx512 = &table;
#else
const nmf_mu_kernels *const tsr_nmf_mu_avx512 = NULL;
#endif
