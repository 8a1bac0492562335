/* Short-time Fourier transform (FFTW3, single precision), librosa's conventions. */
#ifndef TSR_STFT_H
#define TSR_STFT_H

#include "matrix.h"
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

/* The largest n_fft accepted (keeps every size computation far from overflow). */
#define TSR_STFT_MAX_NFFT (1 << 24)

/* How to cut a signal into frames. */
typedef struct tsr_stft_config {
  int n_fft;  /* even, 2..TSR_STFT_MAX_NFFT */
  int hop;    /* 1..n_fft */
  int window; /* enum tsr_window */
  int center; /* nonzero: n_fft/2 zeros padded on each side, frame f centred on f*hop */
} tsr_stft_config;

/* The window's name ("hann", "hamming", "rect"), or NULL for an unknown code. */
const char *tsr_window_name(int window);
/* The code of a window name, or -1 when the name is unknown. */
int tsr_window_from_name(const char *name);
/* Writes the periodic (DFT-even, as scipy's fftbins=True) window of length n into w
 * (n floats, caller's). TSR_EINVAL for an unknown window or n < 1. */
int tsr_window_fill(int window, int n, float *w);

/* Checks cfg: TSR_OK, or TSR_EINVAL with the reason in err. */
int tsr_stft_check(const tsr_stft_config *cfg, tsr_error *err);

/* Fills the geometry of the STFT of a len-sample signal at sr Hz into *shape (bins,
 * frames, n_fft, hop, window, center, sr, length; shape->data is set to NULL):
 * frames = 1 + (len + 2*(n_fft/2) - n_fft) / hop when centred, 1 + (len - n_fft) / hop
 * otherwise. TSR_EINVAL when cfg is bad or len < n_fft (a signal shorter than one
 * frame), TSR_ELIMIT when the data size overflows size_t. */
int tsr_stft_geometry(const tsr_stft_config *cfg, int64_t len, int sr, tsr_spectrogram *shape,
                      tsr_error *err);

/* Checks that s's geometry (n_fft, hop, window, center, length) is valid and that its
 * bins and frames are what tsr_stft_geometry gives for them (s->data is not read):
 * TSR_OK, or TSR_EINVAL / TSR_ELIMIT with the reason in err. For kernels that take a
 * geometry from their caller, as Griffin-Lim and PGHI do. */
int tsr_spectrogram_check(const tsr_spectrogram *s, tsr_error *err);

/* The number of floats in s->data (2 * bins * frames) into *count; -1 on overflow or a
 * negative size, 0 otherwise. */
int tsr_spectrogram_floats(const tsr_spectrogram *s, size_t *count);

/* Forward STFT of x (len samples, mono) into out->data, which the caller allocates
 * (tsr_alloc, tsr_spectrogram_floats(out) floats) and owns; out's geometry must be what
 * tsr_stft_geometry gives for cfg and len. No normalisation (like numpy.fft.rfft).
 * Returns TSR_EINVAL (bad cfg or geometry), TSR_ENOTFINITE (a sample is NaN/Inf; err
 * names the first; out->data is then unspecified), TSR_ENOMEM (scratch or FFTW plan),
 * TSR_OK. Safe to call from any thread. */
int tsr_stft_forward(const float *x, int64_t len, const tsr_stft_config *cfg,
                     tsr_spectrogram *out, tsr_error *err);
/* tsr_stft_forward on `threads` threads (<= 0: tsr_pool_default_threads; fewer when the
 * signal is short). The output does not depend on the thread count. */
int tsr_stft_forward_threads(const float *x, int64_t len, const tsr_stft_config *cfg,
                             int threads, tsr_spectrogram *out, tsr_error *err);
/* The magnitude of the forward STFT of x straight into out (bins x frames, column-major,
 * caller-allocated and owned; the shape tsr_stft_geometry gives), bit for bit what
 * tsr_stft_forward then tsr_spectrogram_magnitude give, without the complex spectrogram:
 * each frame's spectrum is reduced to |X| while it is in cache. threads as in
 * tsr_stft_forward_threads. Returns what tsr_stft_forward does (TSR_EINVAL also for an
 * output of another shape); out's entries are unspecified when it fails. */
int tsr_stft_magnitude(const float *x, int64_t len, const tsr_stft_config *cfg, int threads,
                       tsr_matrix *out, tsr_error *err);

/* Inverse STFT of s into y (length floats, caller-allocated and owned): the irfft of
 * each frame (scaled 1/n_fft) times the window, overlap-added, divided by the window
 * sum-square where it exceeds FLT_MIN, the n_fft/2 centre padding removed, then
 * truncated or zero-padded to `length`. Returns TSR_EINVAL (bad geometry, length < 0),
 * TSR_ENOMEM, TSR_OK. Safe to call from any thread. */
int tsr_stft_inverse(const tsr_spectrogram *s, float *y, int64_t length, tsr_error *err);

/* Element-wise views of s into out (bins*frames floats, column-major, caller's):
 * |X|, |X|^2 and atan2(im, re) in radians. |X| is sqrtf of the float sum of squares, in
 * double for an entry whose squares under- or overflow float (|X| below about 1e-15 but
 * not 0, or above about 1e15): within an ulp or so of the exact value everywhere. */
void tsr_spectrogram_magnitude(const tsr_spectrogram *s, float *out);
void tsr_spectrogram_power(const tsr_spectrogram *s, float *out);
void tsr_spectrogram_phase(const tsr_spectrogram *s, float *out);

/* Sets every entry of s to mag * e^(i*phase) (bins*frames floats each, column-major;
 * phase NULL = zero phase). */
void tsr_spectrogram_set_polar(tsr_spectrogram *s, const float *mag, const float *phase);
/* Gives every bin of s the magnitude mag[k] and keeps its phase (phase 0 where the bin is 0):
 * set_polar(mag, phase of s) without the trigonometry. */
void tsr_spectrogram_set_magnitude(tsr_spectrogram *s, const float *mag);
/* Multiplies every entry of s by the real mask (bins*frames floats, column-major). */
void tsr_spectrogram_mask(tsr_spectrogram *s, const float *mask);

#endif
