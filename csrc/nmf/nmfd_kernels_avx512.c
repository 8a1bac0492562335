/* The convolutive NMF's block products in AVX-512 (16 lanes; built with -mavx512f -mavx512vl,
 * used only when tsr_simd_level() says the CPU has them). */
#include "nmfd_internal.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#define VL 16
#define RV 3
#define QN 8 /* 24 accumulators, 3 loads and a broadcast: within AVX-512's 32 registers */
#include "nmfd_block.h"

static const nmfd_block_kernels table = NMFD_BLOCK_TABLE;
const nmfd_block_kernels *const tsr_nmfd_block_avx512 = &table;
#else
const nmfd_block_kernels *const tsr_nmfd_block_avx512 = NULL;
#endif
