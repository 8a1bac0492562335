/* The NMF's portable loops (every CPU; GCC vectorises them for the baseline instruction
 * set, and for NEON): the table behind every level below AVX2. The loops themselves are in
 * portable.h, which the AVX2 and AVX-512 files share for the cases they hand back. */
#include "portable.h"

static void prep_g(const float *W, int64_t n, int k, const float *h, const float *v, float *r,
                   float *q) {
  prep_c(W, n, n, k, h, v, r, q);
}

static void prep_beta_g(const float *W, int64_t n, int k, const float *h, const float *v,
                        double beta, float *r, float *q) {
  prep_beta(W, n, n, k, h, v, beta, r, q);
}

static double loss_col_g(int cls, double beta, const float *W, int64_t n, int k,
                         const float *h, const float *v) {
  return loss_col_c(cls, beta, W, n, n, k, h, v);
}

const nmf_mu_kernels tsr_nmf_mu_generic = {
  .prep = prep_g,
  .prep_beta = prep_beta_g,
  .dots = dots_c,
  .axpys = axpys_c,
  .loss_col = loss_col_g,
};
