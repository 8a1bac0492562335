/* tsr_nmf_fit: checks the parameters and the factors, then runs the solver that fits the
 * options (the CD pass for coordinate descent and the Euclidean MU in order WH, sgemm for
 * the Euclidean MU with k > 8, the fused MU passes otherwise); and the partitions of a
 * fit's column passes. */
#include "internal.h"

#include <cblas.h>
#include <string.h>

int tsr_nmf_default_threads(void) {
  int t = tsr_pool_default_threads();
  return t > MAX_PARTS ? MAX_PARTS : t;
}

int tsr_nmf_parts(int threads, int64_t p) {
  if (threads < 1) threads = tsr_nmf_default_threads();
  if (threads > MAX_PARTS) threads = MAX_PARTS;
  if ((int64_t)threads > p) threads = p < 1 ? 1 : (int)p;
  return threads;
}

int tsr_nmf_chunks(int64_t p) {
  int64_t c = p / NMF_CHUNK_MIN;
  return c < 1 ? 1 : c > NMF_CHUNKS ? NMF_CHUNKS : (int)c;
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
  int status = tsr_nmf_check_params(n, p, k, prm, err);
  /* The pass-based solvers check V in their first pass, before they change W or H. */
  /* Weights, and frozen components or temporal continuity under MU, take the general path (general.c); CD keeps
   * frozen components in its own sweep. */
  int general = prm->weights != NULL ||
                (prm->solver == TSR_NMF_MU && (prm->frozen_W != NULL || prm->frozen_H != NULL ||
                                               prm->smooth_H != NULL));
  int euc_wh = !general && prm->solver == TSR_NMF_MU && prm->beta == 2.0 &&
               prm->order == TSR_NMF_ORDER_WH && prm->update_W && prm->update_H;
  int checks_v = (prm->solver == TSR_NMF_CD || euc_wh) && !general;
  if (status == TSR_OK && !checks_v) status = tsr_check_entries(V, n, p, "V", err);
  if (status == TSR_OK) status = tsr_check_entries(W, n, k, "W", err);
  if (status == TSR_OK) status = tsr_check_entries(H, k, p, "H", err);
  if (status == TSR_OK && prm->weights != NULL)
    status = tsr_check_entries(prm->weights, n, p, "weights", err);
  if (status != TSR_OK) return status;

  /* `threads` sets both the fused loops and OpenBLAS (the CD solver's products) for the
   * length of the fit. */
  int saved = openblas_get_num_threads();
  if (prm->threads > 0) openblas_set_num_threads(prm->threads);
  int parts = tsr_nmf_parts(prm->threads, p);
  if (general) {
    status = tsr_nmf_general_fit(V, n, p, k, W, H, prm, parts, res, err);
  } else if (prm->solver == TSR_NMF_CD) {
    status = tsr_nmf_cd_fit(V, n, p, k, W, H, prm, res, err);
  } else if (euc_wh) {
    status = tsr_nmf_mu_euc_fit(V, n, p, k, W, H, prm, res, err);
  } else if (prm->beta == 2.0 && k > 8) {
    status = tsr_nmf_mu_gemm_fit(V, n, p, k, W, H, prm, parts, res, err);
  } else {
    status = tsr_nmf_mu_fit(V, n, p, k, W, H, prm, parts, res, err);
  }
  if (prm->threads > 0) openblas_set_num_threads(saved);
  return status;
}
