/* The convolutive NMF's block products in AVX2 + FMA (8 lanes; built with -mavx2 -mfma, used
 * only when tsr_simd_level() says the CPU has them). */
#include "nmfd_internal.h"

#if defined(__AVX2__) && defined(__FMA__)
#define VL 8
#define RV 2
#define QN 4 /* 8 accumulators, 2 loads and a broadcast: within AVX2's 16 registers */
#include "nmfd_block.h"

static const nmfd_block_kernels table = NMFD_BLOCK_TABLE;
const nmfd_block_kernels *const tsr_nmfd_block_avx2 = &table;
#else
const nmfd_block_kernels *const tsr_nmfd_block_avx2 = NULL;
#endif
