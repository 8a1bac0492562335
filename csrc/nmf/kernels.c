/* The NMF kernel tables this process runs: the portable table, the AVX2 one, or the AVX2
 * one with the AVX-512 slots on top, as tsr_simd_level() says (see kernels.h). */
#include "kernels.h"

#include <pthread.h>

#include "../simd.h"

static nmf_mu_kernels mu512;
static nmf_cd_kernels cd512;
static pthread_once_t merged = PTHREAD_ONCE_INIT;

#define TAKE(slot) \
  if (wide->slot) into->slot = wide->slot

/* AVX-512's slots over AVX2's table. */
static void merge_mu(nmf_mu_kernels *into, const nmf_mu_kernels *wide) {
  TAKE(prep);
  TAKE(prep_beta);
  TAKE(dots);
  TAKE(axpys);
  TAKE(loss_col);
  TAKE(loss_group8);
  TAKE(dots2);
  TAKE(hsweep);
  TAKE(wsweep);
  TAKE(apply_w);
  TAKE(gram);
  TAKE(kl_hgroup);
  TAKE(kl_wgroup);
  TAKE(kl_loss_cols);
  TAKE(add_into);
  TAKE(sum_in_double);
  TAKE(gram_apply);
}

static void merge_cd(nmf_cd_kernels *into, const nmf_cd_kernels *wide) {
  TAKE(sweep);
  TAKE(gt_block);
  TAKE(vht_acc);
  TAKE(col_norm2);
  TAKE(block);
  TAKE(mu_w);
  TAKE(mu_block);
  TAKE(gram_acc);
  TAKE(reduce_vht);
}

static void merge(void) {
  mu512 = *tsr_nmf_mu_avx2;
  merge_mu(&mu512, tsr_nmf_mu_avx512);
  cd512 = *tsr_nmf_cd_avx2;
  merge_cd(&cd512, tsr_nmf_cd_avx512);
}

/* The level, lowered to what this build has tables for. */
static int level(void) {
  int l = tsr_simd_level();
  if (l >= TSR_SIMD_AVX512 && (tsr_nmf_mu_avx512 == NULL || tsr_nmf_cd_avx512 == NULL))
    l = TSR_SIMD_AVX2;
  if (l >= TSR_SIMD_AVX2 && (tsr_nmf_mu_avx2 == NULL || tsr_nmf_cd_avx2 == NULL))
    l = TSR_SIMD_GENERIC;
  return l;
}

const nmf_mu_kernels *tsr_nmf_mu_kernels(void) {
  switch (level()) {
    case TSR_SIMD_GENERIC: return &tsr_nmf_mu_generic;
    case TSR_SIMD_AVX2: return tsr_nmf_mu_avx2;
    default: pthread_once(&merged, merge); return &mu512;
  }
}

const nmf_cd_kernels *tsr_nmf_cd_kernels(void) {
  switch (level()) {
    case TSR_SIMD_GENERIC: return &tsr_nmf_cd_generic;
    case TSR_SIMD_AVX2: return tsr_nmf_cd_avx2;
    default: pthread_once(&merged, merge); return &cd512;
  }
}
