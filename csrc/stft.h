/* Short-time Fourier transform (FFTW3, single precision), librosa's conventions. */
#ifndef TSR_STFT_H
#define TSR_STFT_H

#include "tessera.h"

enum tsr_window { TSR_WINDOW_HANN = 0, TSR_WINDOW_HAMMING, TSR_WINDOW_RECT };

/* A complex spectrogram: bins = n_fft/2 + 1 rows, frames columns, column-major, each
 * entry two floats (re, im): bin b of frame f at data[2*(b + f*bins)]. */
typedef struct tsr_spectrogram {
  int64_t bins, frames;
  int n_fft, hop, center, window, sr;
  int64_t length; /* samples of the signal it was taken from, for the inverse */
  float *data;
} tsr_spectrogram;

#endif
