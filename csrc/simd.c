/* The CPU's SIMD level and SHA extensions, asked once per process (see simd.h). */
#include "simd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define SIMD_X86 1
#endif

static int level_state = -1, sha_state = -1; /* -1: not asked yet */

/* TESSERA_SIMD's cap: "generic" and "avx2" cap the level, anything else leaves it. */
static int cap(void) {
  const char *want = getenv("TESSERA_SIMD");
  if (want != NULL && strcmp(want, "generic") == 0) return TSR_SIMD_GENERIC;
  if (want != NULL && strcmp(want, "avx2") == 0) return TSR_SIMD_AVX2;
  return TSR_SIMD_AVX512;
}

static int cpu_level(void) {
#ifdef SIMD_X86
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return TSR_SIMD_GENERIC;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl"))
    return TSR_SIMD_AVX2;
  return TSR_SIMD_AVX512;
#else
  return TSR_SIMD_GENERIC;
#endif
}

int tsr_simd_level(void) {
  int s = __atomic_load_n(&level_state, __ATOMIC_RELAXED);
  if (s < 0) {
    int c = cap(), l = cpu_level();
    s = l < c ? l : c;
    __atomic_store_n(&level_state, s, __ATOMIC_RELAXED);
  }
  return s;
}

int tsr_simd_sha(void) {
  int s = __atomic_load_n(&sha_state, __ATOMIC_RELAXED);
  if (s < 0) {
    s = 0;
#ifdef SIMD_X86
    unsigned a, b, c, d;
    if (cap() > TSR_SIMD_GENERIC && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) &&
        (c & bit_SSSE3) && __get_cpuid_count(7, 0, &a, &b, &c, &d))
      s = (b >> 29) & 1;
#endif
    __atomic_store_n(&sha_state, s, __ATOMIC_RELAXED);
  }
  return s;
}
