/* What the NMF's solver files share (not the kernels: see kernels.h): the checks of a fit's
 * objective (objective.c), scratch allocation failures, the column partitions, and the
 * solvers tsr_nmf_fit dispatches to. */
#ifndef TSR_NMF_INTERNAL_H
#define TSR_NMF_INTERNAL_H

#include "kernels.h"

#include "../pool.h"

/* Upper bound on thread partitions (the per-partition arrays live on the stack). */
#define MAX_PARTS 64

enum {
  NMF_CHUNKS = 16,   /* independent partial sums per pass: the unit of load balancing */
  NMF_CHUNK_MIN = 64 /* fewest columns worth a chunk of their own */
};

/* The partitions of a fit's column passes for `threads` (0: OpenBLAS's count) and p
 * columns: at least 1, at most MAX_PARTS and p. */
int tsr_nmf_parts(int threads, int64_t p);

/* The task count for a pass over p columns (at most 16, at least 64 columns each), from
 * the shape alone so that results summed task by task do not depend on the thread count. */
int tsr_nmf_chunks(int64_t p);

/* TSR_OK when V (n x p) fits BLAS's int dimensions, else TSR_ELIMIT with err saying so: the
 * check of the solvers that call sgemm on whole factors (general.c, mu_gemm.c). */
static inline int tsr_nmf_check_blas_size(int64_t n, int64_t p, tsr_error *err) {
  if (n <= INT32_MAX && p <= INT32_MAX) return TSR_OK;
  tsr_seterror(err, "a %lld x %lld V is too large for BLAS", (long long)n, (long long)p);
  return TSR_ELIMIT;
}

/* The constants of a fit's update rules for V n x p: scikit-learn's regularisation
 * (_compute_regularization, with our V as its X), Fevotte-Idier's exponent gamma (1 for
 * beta in [1, 2]), and scikit-learn's flush of tiny entries of W (beta < 1) and H (<= 1). */
typedef struct nmf_update_consts {
  float l1W, l2W, l1H, l2H, gamma;
  int flushW, flushH;
} nmf_update_consts;

static inline nmf_update_consts tsr_nmf_update_consts(const tsr_nmf_params *prm, int64_t n,
                                                      int64_t p) {
  nmf_update_consts c;
  c.l1W = (float)((double)p * prm->alpha_W * prm->l1_ratio);
  c.l2W = (float)((double)p * prm->alpha_W * (1.0 - prm->l1_ratio));
  c.l1H = (float)((double)n * prm->alpha_H * prm->l1_ratio);
  c.l2H = (float)((double)n * prm->alpha_H * (1.0 - prm->l1_ratio));
  c.gamma = prm->beta < 1.0 ? (float)(1.0 / (2.0 - prm->beta))
            : prm->beta > 2.0 ? (float)(1.0 / (prm->beta - 1.0)) : 1.0f;
  c.flushW = prm->beta < 1.0;
  c.flushH = prm->beta <= 1.0;
  return c;
}

/* The fit's guard, after every iteration (it; 0 for the initial factors): TSR_EINTR when
 * the run was interrupted (Ctrl-C, SIGTERM, a recipe's time limit), TSR_ENOTFINITE when a
 * factor being updated holds NaN or Inf, each with err naming the iteration; else TSR_OK.
 * W is n x wcols (k for NMF, k T for NMFD), H k x p. */
int tsr_nmf_guard_factors(const tsr_nmf_params *prm, const float *W, int64_t n, int wcols,
                          const float *H, int64_t p, int k, int it, tsr_error *err);
/* At a check: TSR_ENOTFINITE when the objective is NaN or infinite (W·H overflowing
 * float32, or an extreme beta), with err naming the iteration; else TSR_OK. */
int tsr_nmf_guard_loss(const tsr_nmf_params *prm, int it, double loss, tsr_error *err);

/* The checks of a fit: the guards after every iteration, the objective every `every`
 * iterations (and at 0), reported through on_check, and scikit-learn's tol rule on it. The
 * objective is summed over `parts` column ranges as tasks of pool (its own pool when NULL),
 * added in partition order. A convolutive fit (T > 1, nmfd.c) tracks its frame-reversed W
 * (n x k T) and zero-padded H (k x (p + T - 1)), whose columns j..j+T-1 are V[:, j]'s. */
typedef struct tracker {
  const tsr_nmf_params *prm;
  const float *V, *W, *H;
  int64_t n, p;
  int k, T, cls, parts;
  tsr_pool *pool;
  double loss, e_init, prev;
  int checked; /* loss is that of the current factors */
  int given;   /* the next check's objective is in loss already (summed by a pass) */
  int status;  /* TSR_OK, or why a guard stopped the fit (the message in err) */
  tsr_error *err;
} tracker;

/* Sums and reports check 0; nonzero when on_check or a guard stopped the fit. T is 1 for
 * NMF; for NMFD, W and H are as the tracker's comment says. */
int tsr_nmf_track_start(tracker *tr, const tsr_nmf_params *prm, const float *V, const float *W,
                const float *H, int64_t n, int64_t p, int k, int T, int parts, tsr_pool *pool,
                tsr_error *err);
/* After iteration it: 0 to go on, 1 when on_check stopped the fit, 2 when tol did, 3 when
 * a guard did (tr->status says why). */
int tsr_nmf_track_iteration(tracker *tr, int it);
/* Records in res why a fit stopped: stop is tsr_nmf_track_iteration's nonzero answer. */
static inline void tsr_nmf_track_record(tsr_nmf_result *res, int stop) {
  res->stopped = stop == 1;
  res->converged = stop == 2;
}
/* The final objective (summed again only when the last check is not of these factors). */
double tsr_nmf_track_final(tracker *tr);

/* The general path (general.c): weighted NMF (MU for any beta, CD on the EM completion) and
 * MU with frozen components. */
int tsr_nmf_general_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                         const tsr_nmf_params *prm, int parts, tsr_nmf_result *res,
                         tsr_error *err);
double tsr_nmf_loss_weighted_cols(const float *V, const float *M, const float *W, const float *H,
                                  int64_t n, int64_t j0, int64_t j1, int k, double beta);

/* The objective's share of columns j0..j1-1 under the convolutive model: Wr (n x k T, frames
 * reversed) against the padded H's columns j..j+T-1 for V[:, j] (nmfd.c). */
double tsr_nmfd_loss_cols(const float *V, const float *Wr, const float *Hpad, int64_t n,
                          int64_t j0, int64_t j1, int k, int T, double beta);

/* The multiplicative-update solvers (mu.c: the fused passes, k <= 16 or any beta;
 * mu_gemm.c: the Euclidean loss for k > 8 through sgemm). */
int tsr_nmf_mu_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
               const tsr_nmf_params *prm, int threads, tsr_nmf_result *res, tsr_error *err);
int tsr_nmf_mu_gemm_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                    const tsr_nmf_params *prm, int parts, tsr_nmf_result *res,
                    tsr_error *err);

/* The solvers on the coordinate-descent pass (cd.c): HALS (scikit-learn's "cd"), and the
 * Euclidean multiplicative updates in scikit-learn's order W then H, both factors updated.
 * The caller (tsr_nmf_fit) has checked the parameters, W and H; V is checked in the first
 * pass, before W or H change. */
int tsr_nmf_cd_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
               const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err);
int tsr_nmf_mu_euc_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                   const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err);

#endif
