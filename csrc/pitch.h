/* Pitch shifting of spectrograms by frequency scaling: what sounds at bin b moves to bin
 * r b, r = 2^(semitones / 12), one ratio per frame (a constant shift, or a glide). */
#ifndef TSR_PITCH_H
#define TSR_PITCH_H

#include "tessera.h"

/* out[:, t] = in[:, t] resampled along frequency: out[b] = in(b / ratio[t]), linearly
 * interpolated between bins, 0 where b / ratio[t] falls past the last bin. in and out are
 * bins x frames, column-major, the caller's, and must not overlap; ratio holds frames
 * values, each finite and > 0 (the caller checks). */
void tsr_pitch_magnitude(const float *in, int64_t bins, int64_t frames, const double *ratio,
                         float *out);

/* The phase that goes with tsr_pitch_magnitude's output, "shifted in step" as a phase
 * vocoder shifts it: output bin b takes source bin s = round(b / r)'s advance from frame
 * t - 1 to t (its expected advance 2 pi s hop / n_fft plus the deviation, as a principal
 * value, i.e. its instantaneous frequency), times r, and accumulates it from frame 0 (there
 * r times the source phase). With r = 1 everywhere the output is the input (mod 2 pi).
 * phase and out: bins x frames radians, column-major, not overlapping; bins must be
 * n_fft / 2 + 1. */
void tsr_pitch_phase(const float *phase, int64_t bins, int64_t frames, const double *ratio,
                     int64_t n_fft, int64_t hop, float *out);

#endif
