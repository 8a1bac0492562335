/* The NMF's inner loops as tables of kernels, one table per instruction set and solver:
 * kernels_generic.c and cd_kernels_generic.c (portable C, every CPU), kernels_avx2.c and
 * cd_kernels_avx2.c (AVX2 + FMA), kernels_avx512.c and cd_kernels_avx512.c (AVX-512F/VL).
 * The Makefile builds each ISA file with its own -m flags, so nothing in them may run before
 * tsr_simd_level() says the CPU has them; kernels.c hands out the table of the level this
 * process runs (simd.h). A slot a level does not fill is NULL, and the solvers take their
 * portable path there. Also the constants every NMF file shares. */
#ifndef TSR_NMF_KERNELS_H
#define TSR_NMF_KERNELS_H

#include "../nmf.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

/* scikit-learn's guard for zero denominators: np.finfo(np.float32).eps. WH below the
 * smallest normal float is guarded too (scikit-learn replaces exact zeros only), since
 * dividing by a subnormal overflows. */
#define EPS32 FLT_EPSILON
/* scikit-learn sets factor entries below float64's epsilon to 0 for beta < 1 (W) and
 * beta <= 1 (H), "necessary for stability". */
#define FLUSH DBL_EPSILON

/* The loss by its beta: the Euclidean, KL and IS losses have loops of their own. */
enum { CLS_EUC, CLS_KL, CLS_IS, CLS_BETA };

static inline int beta_class(double beta) {
  return beta == 2.0 ? CLS_EUC : beta == 1.0 ? CLS_KL : beta == 0.0 ? CLS_IS : CLS_BETA;
}

/* Any beta (scikit-learn's guards), count entries: r = v guard2(y)^(beta-2) and
 * q = guard1(y)^(beta-1), where guardX replaces 0 (and subnormals) by EPS32 when beta < X.
 * One power per entry: q = y t with t = guard2(y)^(beta-2), which is exact where the two
 * guards agree and, where they do not (1 < beta < 2, y under FLT_MIN), 0 for y = 0 as the
 * power is, and next to nothing for a subnormal y. y may be r or q (each entry is read
 * before it is written). */
static inline void beta_terms(const float *v, const float *y, float *r, float *q, size_t count,
                              double beta) {
  const float br = (float)(beta - 2.0), bq = (float)(beta - 1.0);
  const int guard_r = beta < 2.0, guard_q = beta < 1.0;
  for (size_t i = 0; i < count; i++) {
    const float yi = y[i];
    const float yr = guard_r && yi < FLT_MIN ? EPS32 : yi;
    const float yq = guard_q ? yr : yi;
    const float t = powf(yr, br);
    r[i] = v[i] * t;
    /* An overflowed y (inf, where y t would be inf x 0) takes its own power. */
    q[i] = yi <= FLT_MAX ? yq * t : powf(yq, bq);
  }
}

/* The multiplicative updates' and the objective's loops. A column is n floats; W is n x k
 * column-major, h = H[:, j], v = V[:, j]. */
typedef struct nmf_mu_kernels {
  /* Every level. r = v / guard(W h) (KL); with q: q = 1 / guard(W h), r = v q^2 (IS). */
  void (*prep)(const float *W, int64_t n, int k, const float *h, const float *v, float *r,
               float *q);
  /* Any beta: r = v guard2(W h)^(beta-2), q = guard1(W h)^(beta-1). */
  void (*prep_beta)(const float *W, int64_t n, int k, const float *h, const float *v,
                    double beta, float *r, float *q);
  /* out[a] = sum_i W[i, a] x[i]; acc[:, a] += h[a] x. */
  void (*dots)(const float *W, int64_t n, int k, const float *x, float *out);
  void (*axpys)(float *acc, int64_t n, int k, const float *x, const float *h);
  /* One column's share of the objective, in double. */
  double (*loss_col)(int cls, double beta, const float *W, int64_t n, int k, const float *h,
                     const float *v);

  /* AVX2 and wider (NULL in the portable table): the fused loops (k <= 16 for KL and IS,
   * k <= 8 Euclidean) and eight columns' share of the objective (not for CLS_BETA). */
  double (*loss_group8)(int cls, const float *W, int64_t n, int k, const float *H8,
                        const float *V8);
  void (*dots2)(const float *W, int64_t n, int k, const float *v0, const float *v1,
                float *num0, float *num1);
  void (*hsweep)(const float *W, int64_t n, int k, int is, const float *h, const float *v,
                 float *num, float *dq);
  void (*wsweep)(const float *W, int64_t n, int k, int cls, const float *const *h,
                 const float *const *v, float *acc, float *accd);
  void (*apply_w)(float *W, int64_t n, int k, int cls, const float *accN, const float *accD,
                  const float *hh, const float *hs, float l1, float l2, int root, int flush);
  void (*gram)(const float *W, int64_t n, int k, double *G);

  /* AVX-512 only (NULL elsewhere): the KL pass on W with leading dimension ld (k <= 16),
   * the KL objective over columns j0..j1-1, sums, and the SVD's Y = scale V (V' Q). */
  double (*kl_hgroup)(const float *W, int64_t n, int64_t ld, int k, const float *const *h,
                      const float *const *v, float *const *num, int want_loss);
  double (*kl_wgroup)(const float *W, int64_t n, int64_t ld, int k, const float *const *h,
                      const float *const *v, float *acc, int want_loss);
  double (*kl_loss_cols)(const float *V, const float *W, const float *H, int64_t n,
                         int64_t j0, int64_t j1, int k);
  void (*add_into)(float *acc, const float *x, size_t count);
  double (*sum_in_double)(const float *x, int64_t count);
  void (*gram_apply)(const float *V, int64_t n, int64_t p, int l, const float *Q, int64_t ld,
                     float scale, float *Y, float *z);
} nmf_mu_kernels;

/* The coordinate-descent pass's loops (cd.c, cd_pass.c). */
typedef struct nmf_cd_kernels {
  /* Every level: the coordinate sweep of X (m x k, leading dimension ldx) against A and Q,
   * returning the summed |projected gradient|; Gᵀ = V_Jᵀ·W for a block of nb columns;
   * P += V_J·H_Jᵀ; ‖v‖² with *bad set on a negative, NaN or infinite entry. */
  double (*sweep)(float *X, int64_t m, int64_t ldx, int k, const float *A, int64_t lda,
                  float l1, const float *Q);
  void (*gt_block)(const float *W, int64_t n, int k, const float *Vj, int nb, float *Gt,
                   const float *Vnext);
  void (*vht_acc)(float *P, int64_t n, int k, const float *Vj, int nb, const float *Ht,
                  const float *Vnext);
  double (*col_norm2)(const float *v, int64_t n, int *bad);
  int block; /* columns per step: a multiple of gt_block's tile width (measured best) */

  /* AVX-512 only (NULL elsewhere), k <= 16: the k^2-sized work in 16 lanes, and the sum
   * of the chunks' V·Hᵀ partial sums in chunk order. */
  void (*mu_w)(float *W, int64_t n, int k, const float *VHt, const float *hh, float l1,
               float l2);
  void (*mu_block)(float *Ht, int nb, int k, const float *Gt, const double *WtW, float l1,
                   float l2);
  void (*gram_acc)(const float *X, int64_t m, int64_t ldx, int k, double *G);
  void (*reduce_vht)(float *VHt, const float *const *P, int nchunks, size_t nk);
} nmf_cd_kernels;

/* The tables of each file: the ISA ones are NULL where the compiler did not build them
 * (another CPU family). */
extern const nmf_mu_kernels tsr_nmf_mu_generic;
extern const nmf_mu_kernels *const tsr_nmf_mu_avx2;
extern const nmf_mu_kernels *const tsr_nmf_mu_avx512;
extern const nmf_cd_kernels tsr_nmf_cd_generic;
extern const nmf_cd_kernels *const tsr_nmf_cd_avx2;
extern const nmf_cd_kernels *const tsr_nmf_cd_avx512;

/* The tables this process runs (kernels.c): each level's table with the slots it leaves
 * NULL filled from the level below. */
const nmf_mu_kernels *tsr_nmf_mu_kernels(void);
const nmf_cd_kernels *tsr_nmf_cd_kernels(void);

/* Forced inlining and unrolling of the fused loops (K a constant after inlining). */
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#define UNROLL8 _Pragma("GCC unroll 8")
#define UNROLL16 _Pragma("GCC unroll 16")

/* One copy of a loop per k in 1..16, the constant K inlined into each. */
#define CASES_K(CALL)       \
  switch (k) {              \
    case 1: CALL(1); break;   \
    case 2: CALL(2); break;   \
    case 3: CALL(3); break;   \
    case 4: CALL(4); break;   \
    case 5: CALL(5); break;   \
    case 6: CALL(6); break;   \
    case 7: CALL(7); break;   \
    case 8: CALL(8); break;   \
    case 9: CALL(9); break;   \
    case 10: CALL(10); break; \
    case 11: CALL(11); break; \
    case 12: CALL(12); break; \
    case 13: CALL(13); break; \
    case 14: CALL(14); break; \
    case 15: CALL(15); break; \
    default: CALL(16); break; \
  }

/* Cephes' logf polynomial: ln(1 + x) = x - x^2 / 2 + x^3 P(x) for x in [sqrt(1/2) - 1,
 * sqrt(2) - 1); P's coefficients, highest degree first, for log_poly8 and log_poly16. */
static const float LOGF_P[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                                -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                                2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};

#endif
