/* The STFT's inner loops, shared by its kernel files: stft_generic.c (portable C),
 * stft_avx2.c and stft_avx512.c (built with those flags, see the Makefile), each exporting a
 * table of stft_kernels; stft.c runs the one tsr_simd_level() says.
* Three copies of each, the one run being chosen at run time: portable C, AVX2 and
 * AVX-512 (TESSERA_SIMD=generic|avx2 caps the choice, so the specs can compare them). The
 * simple loops are written once, as always-inline bodies that the compiler vectorises for
 * each target; the split of the spectrum reads Z backwards as well as forwards, which it
 * does not vectorise, so its SIMD copies are written with intrinsics. No copy uses FMA and
 * the Makefile builds this file with -ffp-contract=off: each copy rounds every product and
 * sum as the portable one does, and sqrtf is correctly rounded, so all give the same bits
 * and the copy chosen never changes a result. */
#ifndef TSR_STFT_KERNELS_H
#define TSR_STFT_KERNELS_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct stft_kernels {
  int (*all_finite)(const float *, int64_t);
  void (*window)(float *, int, int64_t, int64_t, const float *, const float *);
  /* X[0..N] of a frame from its Z; returns 0 */
  int (*split)(const float *, const float *, const float *, int, float *);
  /* |X[0..N]| of a frame from its Z, without X; returns nonzero when magnitude_fix is due */
  int (*split_magnitude)(const float *, const float *, const float *, int, float *);
  int (*magnitude)(const float *, size_t, float *);
} stft_kernels;

extern const stft_kernels tsr_stft_generic;
extern const stft_kernels *const tsr_stft_avx2;   /* NULL where not built (other CPUs) */
extern const stft_kernels *const tsr_stft_avx512;

#define BODY static inline __attribute__((always_inline))

/* Whether sqrtf(p), p = re*re + im*im summed in float, is |re + i im| to within an ulp:
 * p is a normal float far from overflow, or both parts are 0. Outside that range (|X|
 * below about 1e-15 but not 0, or above about 1e15) a square underflows or overflows and
 * the magnitude is taken in double instead (magnitude_fix). */
BODY int magnitude_fine(float p, float re, float im) {
  return (p <= 0x1p100f) & ((p >= 0x1p-100f) | ((re == 0.0f) & (im == 0.0f)));
}

/* re*re + im*im in float, the square whose sqrtf is the magnitude. */
BODY float squares(float re, float im) { return re * re + im * im; }

/* Whether x[0..count-1] are all finite. */
BODY int all_finite_body(const float *restrict x, int64_t count) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t t = 0; t < count; t++) bad |= !(fabsf(x[t]) <= FLT_MAX); /* NaN fails too */
  return !bad;
}

/* One frame of n samples: fr[lo + i] = x[i] * w[lo + i] for i < hi - lo (x points at
 * the signal sample under frame sample lo), zeros before lo and from hi on. */
BODY void window_body(float *restrict fr, int n, int64_t lo, int64_t hi,
                      const float *restrict x, const float *restrict w) {
  float *restrict dst = fr + lo;
  const float *restrict wl = w + lo;
  memset(fr, 0, (size_t)lo * sizeof(float));
#pragma omp simd
  for (int64_t i = 0; i < hi - lo; i++) dst[i] = x[i] * wl[i];
  memset(fr + hi, 0, (size_t)(n - hi) * sizeof(float));
}

/* m[k] = |X[k]| for count interleaved complex X. Returns nonzero when an entry needs
 * magnitude_fix. */
BODY int magnitude_body(const float *restrict X, size_t count, float *restrict m) {
  int redo = 0;
#pragma omp simd reduction(| : redo)
  for (size_t k = 0; k < count; k++) {
    float re = X[2 * k], im = X[2 * k + 1], p = squares(re, im);
    m[k] = sqrtf(p);
    redo |= !magnitude_fine(p, re, im);
  }
  return redo;
}

/* The spectrum X[0..N] of a real frame x of n = 2N samples comes from Z, the N-point DFT
 * of z[m] = (x[2m] + i x[2m+1]) / 2 (the frame's floats read as complex numbers; the
 * window carries the 1/2). With Z[N] = Z[0], E[k] = Z[k] + conj Z[N-k] is the DFT of the
 * even samples, O[k] = (Z[k] - conj Z[N-k]) / i that of the odd ones, and
 * X[k] = E[k] + tw[k] O[k], tw[k] = e^(-2 pi i k / n) = twr[k] + i twi[k]. X[0] and X[N]
 * are real: 2 (Re Z[0] + Im Z[0]) and 2 (Re Z[0] - Im Z[0]). Halving the samples rather
 * than E and O scales every rounding by exactly 1/2 (subnormals aside): the same bits as
 * halving E and O, without their four products. */
typedef struct cfloat {
  float re, im;
} cfloat;

/* Bin k, 0 < k < N. */
BODY cfloat split_bin(const float *restrict Z, const float *restrict twr,
                      const float *restrict twi, int N, int k) {
  float ar = Z[2 * k], ai = Z[2 * k + 1], br = Z[2 * (N - k)], bi = Z[2 * (N - k) + 1];
  float er = ar + br, ei = ai - bi;                 /* E[k] */
  float dr = ar - br, di = ai + bi;                 /* i O[k] */
  float c = twr[k], s = twi[k];
  float pr = c * dr - s * di, pi = c * di + s * dr; /* tw[k] i O[k] */
  return (cfloat){er + pi, ei - pr};                /* E + tw O = E - i (tw i O) */
}

/* X[0..N] (N + 1 complex, interleaved) from Z, bins lo..N-1 and the real ends. */
static inline void split_tail(const float *restrict Z, const float *restrict twr,
                       const float *restrict twi, int N, int lo, float *restrict X) {
  X[0] = 2.0f * (Z[0] + Z[1]);
  X[1] = 0.0f;
  X[2 * N] = 2.0f * (Z[0] - Z[1]);
  X[2 * N + 1] = 0.0f;
  for (int k = lo; k < N; k++) {
    cfloat x = split_bin(Z, twr, twi, N, k);
    X[2 * k] = x.re;
    X[2 * k + 1] = x.im;
  }
}

/* |X[0..N]| from Z, bins lo..N-1 and the real ends, as split then magnitude give it.
 * Returns nonzero when an entry needs magnitude_fix. */
static inline int split_magnitude_tail(const float *restrict Z, const float *restrict twr,
                                const float *restrict twi, int N, int lo,
                                float *restrict m) {
  float x0 = 2.0f * (Z[0] + Z[1]), xn = 2.0f * (Z[0] - Z[1]);
  float p0 = squares(x0, 0.0f), pn = squares(xn, 0.0f);
  int redo = !magnitude_fine(p0, x0, 0.0f) || !magnitude_fine(pn, xn, 0.0f);
  m[0] = sqrtf(p0);
  m[N] = sqrtf(pn);
  for (int k = lo; k < N; k++) {
    cfloat x = split_bin(Z, twr, twi, N, k);
    float p = squares(x.re, x.im);
    m[k] = sqrtf(p);
    redo |= !magnitude_fine(p, x.re, x.im);
  }
  return redo;
}

/* The portable split of a frame's spectrum (the SIMD copies' too, for frames of fewer
 * bins than their group). */
static inline int split_generic(const float *Z, const float *twr, const float *twi, int N, float *X) {
  split_tail(Z, twr, twi, N, 1, X);
  return 0;
}

static inline int split_magnitude_generic(const float *Z, const float *twr, const float *twi, int N,
                                   float *m) {
  return split_magnitude_tail(Z, twr, twi, N, 1, m);
}

/* The copies of the plain-C bodies for the instruction set a file is built for. */
#define STFT_SIMPLE_KERNELS(name)                                                            \
  static int all_finite_##name(const float *x, int64_t count) {                              \
    return all_finite_body(x, count);                                                        \
  }                                                                                          \
  static void window_##name(float *fr, int n, int64_t lo, int64_t hi, const float *x,        \
                            const float *w) {                                                \
    window_body(fr, n, lo, hi, x, w);                                                        \
  }                                                                                          \
  static int magnitude_##name(const float *X, size_t count, float *m) {                      \
    return magnitude_body(X, count, m);                                                      \
  }

#endif
