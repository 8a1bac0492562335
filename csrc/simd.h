/* The SIMD level the kernels run at: what the CPU has, capped by TESSERA_SIMD, decided once
 * per process. nmf/, stft and hash pick their kernel tables from it; the ISA copies are
 * separate files built with their own -m flags (see the Makefile). */
#ifndef TSR_SIMD_H
#define TSR_SIMD_H

/* Levels, each including the ones below it. AVX2 means AVX2 and FMA; AVX-512 means
 * AVX-512F and AVX-512VL (with AVX2 and FMA). */
enum { TSR_SIMD_GENERIC = 0, TSR_SIMD_AVX2 = 1, TSR_SIMD_AVX512 = 2 };

/* The level this process runs: the CPU's best, capped by TESSERA_SIMD ("generic" or
 * "avx2"; anything else caps nothing). Read once, on the first call (thread-safe): a spec
 * that compares the paths sets TESSERA_SIMD in a child process. */
int tsr_simd_level(void);

/* 1 when the CPU has the SHA extensions (with SSE4.1 and SSSE3) and TESSERA_SIMD is not
 * "generic". Read once, like tsr_simd_level. */
int tsr_simd_sha(void);

#endif
