/* The convolutive NMF's block products for every CPU (4 lanes: what the baseline instruction
 * set, or NEON, vectorises), and the choice of this process's table. */
#define VL 4
#define RV 2
#define QN 4
#include "nmfd_block.h"

#include "../simd.h"

const nmfd_block_kernels tsr_nmfd_block_generic = NMFD_BLOCK_TABLE;

const nmfd_block_kernels *tsr_nmfd_block_kernels(void) {
  int level = tsr_simd_level();
  if (level >= TSR_SIMD_AVX512 && tsr_nmfd_block_avx512 != NULL) return tsr_nmfd_block_avx512;
  if (level >= TSR_SIMD_AVX2 && tsr_nmfd_block_avx2 != NULL) return tsr_nmfd_block_avx2;
  return &tsr_nmfd_block_generic;
}
