/* Non-negative matrix factorisation kernels: V (n x p) ~ W (n x k) . H (k x p), every matrix
 * float32 and column-major (see matrix.h), losses accumulated in double.
 * The caller owns V, W and H; the kernels allocate their scratch and free it before
 * returning, and never call out of C except through on_check. The implementation is the
 * folder nmf/ (see docs/DECISIONS.md for its layout). */
#ifndef TSR_NMF_H
#define TSR_NMF_H

#include "matrix.h"
#include "tessera.h"

enum tsr_nmf_solver { TSR_NMF_MU = 0, TSR_NMF_CD };
/* MU update order: H then W (Lee-Seung as the study states them), W then H
 * (scikit-learn's), or both from the previous iterate (the study's published code). */
enum tsr_nmf_order { TSR_NMF_ORDER_HW = 0, TSR_NMF_ORDER_WH, TSR_NMF_ORDER_SIMULTANEOUS };
enum tsr_nmf_init {
  TSR_NMF_INIT_RANDOM = 0, /* scikit-learn's: |N(0,1)| * sqrt(mean(V)/k) */
  TSR_NMF_INIT_UNIFORM,    /* the study's code: uniform on [0, 1) */
  TSR_NMF_INIT_NNDSVD,
  TSR_NMF_INIT_NNDSVDA,
  TSR_NMF_INIT_NNDSVDAR
};

/* The objective's rule stops when the decrease of sqrt(objective) (sqrt(2 D) for the other
 * losses) since the last check, divided by the error at the start (scikit-learn's) or at the
 * last check, falls below tol. CD's projected-gradient rule is scikit-learn's with either. */
enum tsr_nmf_tol_rule { TSR_NMF_TOL_START, TSR_NMF_TOL_LAST };

typedef struct tsr_nmf_params {
  double beta;        /* 2 Euclidean, 1 generalised KL, 0 Itakura-Saito; any real for MU */
  int solver;         /* enum tsr_nmf_solver; CD requires beta == 2 */
  int order;          /* enum tsr_nmf_order, MU only */
  int max_iter;       /* >= 0 */
  double tol;         /* scikit-learn's stopping rules; 0 never stops early */
  int tol_rule;       /* enum tsr_nmf_tol_rule: what the objective's decrease is divided by */
  int update_W, update_H; /* 0 keeps that factor fixed */
  /* Regularisation as scikit-learn 1.2, already resolved ("same" copied, scaled by n/p
   * the way scikit-learn does inside its solvers is the kernel's job). */
  double alpha_W, alpha_H, l1_ratio;
  int threads;        /* worker threads for the fused loops; 0 = what OpenBLAS uses */
  int every;          /* the loss is checked (history, tol, on_check) every `every` its */
  /* Called at each check with (iteration, loss), iteration 0 being the initial factors
   * (tsr_nmf_fit reports it for every solver); a nonzero return stops the fit.
   * May be NULL. The binding's version must not longjmp (it uses lua_pcall). */
  int (*on_check)(void *ctx, int iteration, double loss);
  void *ctx;
  /* Weighted NMF: n x p weights >= 0, the objective being sum M d(V | WH) (0 holds an entry
   * out, as masked cross-validation does). NULL: every entry weighs 1. */
  const float *weights;
  /* Partial freezing: k flags each, 1 keeping that column of W (frozen_W) or row of H
   * (frozen_H) as given, bit for bit, while the others adapt around it. NULL: none. */
  const unsigned char *frozen_W, *frozen_H;
  /* Temporal continuity of H (Virtanen 2007), MU only: k weights >= 0, component a's cost
   * growing by smooth_H[a] D0 sum_j (h_aj - h_a,j-1)^2 / sum_j h_aj^2, D0 the objective at
   * the start. NULL: none. */
  const double *smooth_H;
} tsr_nmf_params;

typedef struct tsr_nmf_result {
  int iterations;   /* iterations done */
  int converged;    /* 1 when tol stopped it */
  int stopped;      /* 1 when on_check stopped it */
  double loss;      /* final objective, the study's definition for beta 2 and 1 */
} tsr_nmf_result;

/* Defaults: beta 2, MU, order HW, 200 iterations, tol 1e-4, both factors updated, no
 * regularisation, threads 0, every 10. */
void tsr_nmf_params_default(tsr_nmf_params *prm);

/* The objective for given factors: beta 2 is ||V - WH||_F^2 (no 1/2), beta 1 the
 * generalised KL sum V log(V/WH) - V + WH, beta 0 Itakura-Saito, others the beta-divergence.
 * Accumulated in double; WH is formed tile by tile, never whole. Where WH is 0 it counts as
 * FLT_EPSILON inside logs and negative powers (scikit-learn's guard); for beta <= 0 the
 * entries where V is 0 are left out (the divergence is undefined there). */
double tsr_nmf_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p,
                    int k, double beta);
/* The same objective with each entry weighted by M (n x p, >= 0): sum M d(V | WH). Entries
 * of weight 0 count as 0 whatever their divergence. */
double tsr_nmf_loss_weighted(const float *V, const float *M, const float *W, const float *H,
                             int64_t n, int64_t p, int k, double beta);

/* Fits W (n x k) and H (k x p) in place from their initial values. Returns TSR_OK,
 * TSR_EINVAL (bad parameters, or a negative entry: with err), TSR_ENOTFINITE (a NaN or
 * infinite entry of V, W or H, named as tsr_check_entries does), TSR_ENOMEM or TSR_ELIMIT.
 * res may be NULL. */
int tsr_nmf_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err);

/* The objective's share of columns j0..j1-1 of V (j0 < j1 <= p), summed column by column in
 * order in double: what the solvers add up, in a fixed order of column ranges, to report an
 * exact loss from a pass that has those columns in cache. Same definition as tsr_nmf_loss. */
double tsr_nmf_loss_cols(const float *V, const float *W, const float *H, int64_t n, int64_t j0,
                         int64_t j1, int k, double beta);

/* The thread count a fit with threads = 0 uses: OpenBLAS's. */
int tsr_nmf_default_threads(void);

/* The one check of a fit's parameters for V n x p and k components, for every solver (what
 * tsr_nmf_fit checks first, and what the bindings check options with): TSR_OK, or
 * TSR_EINVAL with "<option> must be ..., got <value>" in err (numbers as Lua prints them). */
int tsr_nmf_check_params(int64_t n, int64_t p, int k, const tsr_nmf_params *prm,
                         tsr_error *err);

/* Fills W (n x k) and H (k x p) with an initialisation (enum tsr_nmf_init) for V:
 * RANDOM |N(0,1)| * sqrt(mean(V)/k), H drawn before W; UNIFORM on [0, 1), W before H;
 * NNDSVD/NNDSVDA/NNDSVDAR as scikit-learn 1.2 from V's exact truncated SVD (needs
 * k <= min(n, p)). Random draws come from xoshiro256** seeded with `seed`. Returns TSR_OK,
 * TSR_EINVAL (with err), TSR_ENOMEM or TSR_ELIMIT. */
int tsr_nmf_init(const float *V, int64_t n, int64_t p, int k, int init, uint64_t seed,
                 float *W, float *H, tsr_error *err);

/* out (n x p, caller's) = W[:, c] H[c, :], c 0-based. */
void tsr_nmf_component(const float *W, const float *H, int64_t n, int64_t p, int k, int c,
                       float *out);
/* The next three take W n x kT, component a's template being columns a + k t, t < T (T = 1
 * for NMF; see tsr_nmfd_fit). */
/* Scales each template of W to unit norm (enum tsr_nmf_norm: L2 (Frobenius), the sum of its
 * absolute values, or its largest absolute value) and the matching row of H by that norm, so
 * the model is unchanged up to rounding; zero templates are left alone. */
enum tsr_nmf_norm { TSR_NMF_NORM_L2, TSR_NMF_NORM_SUM, TSR_NMF_NORM_MAX };
void tsr_nmf_normalize(float *W, float *H, int64_t n, int64_t p, int k, int T, int kind);
/* Reorders the components in place: new component a is old perm[a] (0-based). Returns
 * TSR_OK, TSR_EINVAL (not a permutation) or TSR_ENOMEM. */
int tsr_nmf_permute(float *W, float *H, int64_t n, int64_t p, int k, int T, const int *perm,
                    tsr_error *err);
/* Per component a (any output may be NULL): energy ||W_a||^2 ||H_a||^2 (that of W_a H_a for
 * T = 1), spectral centroid sum_i i W_ia / sum_i W_ia over all its frames and temporal
 * centre sum_j j H_aj / sum_j H_aj (0-based row and column indices; NaN when the vector sums
 * to 0). */
void tsr_nmf_describe(const float *W, const float *H, int64_t n, int64_t p, int k, int T,
                      double *energy, double *centroid, double *center);
/* Pearson correlations between the rows (by_rows, needs acols == bcols) or columns (needs
 * arows == brows) of A and B: out[a + b * na] for A's vector a and B's vector b. A
 * constant vector correlates 0 with everything. */
void tsr_nmf_correlate(const float *A, int64_t arows, int64_t acols, const float *B,
                       int64_t brows, int64_t bcols, int by_rows, double *out);

/* Convolutive NMF (NMFD, Smaragdis 2004; nmf/nmfd.c): V ~ sum_{t < T} W_t H->t, W_t the
 * templates' frame t (n x k) and H->t H shifted t columns right, zeros entering. W is
 * n x kT, column a + k t holding template a's frame t (T = 1: tsr_nmf_fit's W), H k x p.
 * MU for any beta with tsr_nmf_fit's guards, order, update_W/H, alphas, frozen_W/frozen_H
 * (a frozen component keeps its whole template or row), threads, every and on_check; no CD,
 * weights or smooth_H. Returns as tsr_nmf_fit. */
int tsr_nmfd_fit(const float *V, int64_t n, int64_t p, int k, int T, float *W, float *H,
                 const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err);
/* The one check of an NMFD fit's parameters: tsr_nmf_check_params's, then T in 1..p and the
 * options NMFD does not take. */
int tsr_nmfd_check(int64_t n, int64_t p, int k, int T, const tsr_nmf_params *prm,
                   tsr_error *err);
/* The objective of the convolutive model, as tsr_nmf_loss's (TSR_OK, or an allocation
 * failure). */
int tsr_nmfd_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p, int k,
                  int T, double beta, double *loss, tsr_error *err);
/* out (n x p) = sum_t W_t H->t over the components a with sel[a] != 0 (sel NULL: all). */
void tsr_nmfd_reconstruct(const float *W, const float *H, int64_t n, int64_t p, int k, int T,
                          const unsigned char *sel, float *out);

#endif
