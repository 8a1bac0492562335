/* Phase from STFT magnitude alone: phase-gradient heap integration (PGHI; Prusa, Balazs and
 * Sondergaard, "A Noniterative Method for Reconstruction of Phase From STFT Magnitude",
 * IEEE/ACM TASLP 2017), for tessera's STFT geometry (csrc/stft.h). A starting phase for
 * Griffin-Lim far better than a random one, or a phase on its own. */
#ifndef TSR_PGHI_H
#define TSR_PGHI_H

#include "stft.h"
#include "tessera.h"

/* Coefficients below this fraction of the largest magnitude (-100 dB) are left out of
 * the integration and get phase 0; the log-magnitude is floored there before it is
 * differentiated (docs/DECISIONS.md, "PGHI"). */
#define TSR_PGHI_TOL 1e-5

/* The window's equivalent Gaussian e^(-pi t^2 / lambda), as lambda / n_fft^2 (t in
 * samples): 0.25645 for Hann, 0.29794 for Hamming (the constants of Prusa et al. and
 * LTFAT's pghi), 0 for a window PGHI cannot use (rect, whose spectrum has no Gaussian
 * likeness: its log-magnitude has poles at every zero of the sinc). */
double tsr_pghi_gamma(int window);

/* Writes into phase_out (geom->bins x geom->frames floats, column-major, caller's) a
 * phase in (-pi, pi] for the magnitude mag (same shape, >= 0 and finite: the caller
 * checks) such that mag * e^(i phase) is close to the STFT of a signal, in tessera's
 * phase convention (a frame's phase is referred to its first sample, half a window before
 * its centre). geom gives the STFT's geometry (n_fft, hop, window, center, sr, length;
 * geom->data is not read) and must be what tsr_stft_geometry gives for its length.
 * Deterministic; O(bins*frames*log(bins*frames)) time; 21 bytes of scratch per
 * coefficient (tsr_alloc). Returns TSR_EINVAL (bad geometry, a rect window, with err),
 * TSR_ELIMIT (the scratch does not fit under the memory limit, or more than 2^32 - 1
 * coefficients), TSR_ENOMEM, TSR_OK. phase_out is unspecified when it fails. */
int tsr_pghi(const float *mag, const tsr_spectrogram *geom, float *phase_out, tsr_error *err);

#endif
