/* Turning magnitudes back into sound: fast Griffin-Lim phase reconstruction (Perraudin,
 * Balazs and Sondergaard 2013, as librosa.griffinlim) and the soft-mask ratio used to
 * render NMF components with the phase of the mixture (Wiener-style filtering). */
#ifndef TSR_LISTEN_H
#define TSR_LISTEN_H

#include "pghi.h"
#include "stft.h"
#include "tessera.h"

typedef struct tsr_griffinlim_params {
  int iter;                /* >= 0 phase updates */
  double momentum;         /* >= 0; 0 is the classic Griffin-Lim, 0.99 the fast one */
  const float *init_phase; /* bins*frames radians (column-major), or NULL: see pghi */
  uint64_t seed;           /* for the random initial phase */
  int pghi;                /* with init_phase NULL: nonzero starts from tsr_pghi's phase
                              (hann and hamming windows only), 0 from a random one */
} tsr_griffinlim_params;

/* Estimates a signal whose STFT magnitude is close to mag (geom->bins x geom->frames,
 * column-major, >= 0) by alternating projections with momentum. geom gives the STFT's
 * geometry (n_fft, hop, window, center, sr, length; geom->data is not read) and must be
 * what tsr_stft_geometry gives for its length. Writes geom->length samples into y
 * (caller's). When convergence is not NULL it receives iter + 1 values: entry t is the
 * spectral convergence || |STFT(x_t)| - mag ||_F / ||mag||_F of the signal after t
 * updates (entry 0: the initial phase), 0 when mag is all zero. Returns TSR_EINVAL (bad
 * parameters or geometry, with err), TSR_ELIMIT and TSR_ENOMEM (scratch), TSR_OK. Deterministic for a given seed. */
int tsr_griffinlim(const float *mag, const tsr_spectrogram *geom,
                   const tsr_griffinlim_params *prm, float *y, double *convergence,
                   tsr_error *err);

/* out[i] = num[i] / den[i] where den[i] > FLT_MIN, else `zero` (count floats each; out
 * may be num or den). A soft mask: with den the sum of the nums, the masks add up to 1
 * wherever den is positive, and `zero` lets the caller share the rest evenly. */
void tsr_listen_ratio(const float *num, const float *den, size_t count, float zero,
                      float *out);

#endif
