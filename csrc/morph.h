/* Morphing between spectra by displacement interpolation (1-D optimal transport), as
 * Henderson & Solomon (DAFx 2019) and FluCoMa's NMFMorph move one template into another:
 * the energy slides along frequency instead of fading out in one place and in at another. */
#ifndef TSR_MORPH_H
#define TSR_MORPH_H

#include "tessera.h"

/* out (n floats, the caller's) = the spectrum between a and b (n floats each, >= 0) at
 * t in [0, 1]. Each is read as a piecewise-constant density (bin i covering [i, i + 1))
 * of unit mass; the mass at each quantile moves in a straight line from a's position to
 * b's, and the result is scaled to (1 - t) |a| + t |b|. t = 0 gives a and t = 1 gives b (to
 * rounding). When one of them has no mass the other's shape is scaled; when neither has,
 * out is 0. Returns TSR_OK, or TSR_ENOMEM (scratch: tsr_morph_layer with one template). */
int tsr_morph_spectrum(const float *a, const float *b, int64_t n, double t, float *out,
                       tsr_error *err);

/* out (n x frames, column-major, the caller's) = sum over components c of
 * morph(A[:, c], B[:, c], t[j]) H[c, j] for each frame j: a layer whose k templates move from
 * A's (n x k) to B's along t (frames values in [0, 1]). H is k x frames. Returns TSR_OK, or
 * TSR_ENOMEM (scratch: each pair's transport, about 2 n pieces of 40 bytes). */
int tsr_morph_layer(const float *A, const float *B, int64_t n, int64_t k, const float *H,
                    int64_t frames, const double *t, float *out, tsr_error *err);

#endif
