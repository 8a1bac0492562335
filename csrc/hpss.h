/* Harmonic/percussive source separation by median filtering (Fitzgerald 2010) with
 * Driedger's margins and residual (2014), in librosa.decompose.hpss's conventions. */
#ifndef TSR_HPSS_H
#define TSR_HPSS_H

#include "tessera.h"

/* The largest median kernel accepted (the sorted window is one kernel of floats). */
#define TSR_HPSS_MAX_KERNEL (1 << 20)

typedef struct tsr_hpss_config {
  int64_t kernel_h; /* frames of the median along time (harmonic), >= 1 */
  int64_t kernel_p; /* bins of the median along frequency (percussive), >= 1 */
  double margin_h, margin_p; /* >= 1 */
  double power;     /* soft masks' exponent, finite and > 0 (unused when hard) */
  int hard;         /* nonzero: binary masks (Driedger) */
  int threads;      /* <= 0: tsr_pool_default_threads */
} tsr_hpss_config;

/* Checks cfg: TSR_OK, or TSR_EINVAL with the reason in err. */
int tsr_hpss_check(const tsr_hpss_config *cfg, tsr_error *err);

/* The median of each entry's window of `size` entries along one axis of x (rows x cols,
 * column-major): axis 1 runs along a row (time for a spectrogram), axis 0 down a column
 * (frequency). As scipy.ndimage.median_filter with mode 'reflect' and origin 0: the window
 * covers offsets -size/2 .. size-1-size/2 and, for an even size, the median is the upper
 * one (rank size/2 of the sorted window). out (rows*cols floats) is the caller's and must
 * not overlap x. Returns TSR_OK, TSR_EINVAL (size < 1 or above TSR_HPSS_MAX_KERNEL),
 * TSR_ENOMEM/TSR_ELIMIT (window scratch), TSR_EINTR. The result does not depend on
 * `threads`. */
int tsr_median_filter(const float *x, int64_t rows, int64_t cols, int axis, int64_t size,
                      int threads, float *out, tsr_error *err);

/* The harmonic and percussive masks of the magnitude spectrogram mag (bins x frames,
 * column-major, finite and >= 0) into mask_h and mask_p (caller's, bins*frames floats
 * each). H = the median of mag along time, P = along frequency. Soft (librosa.util.softmask):
 * mask_h = H^power / (H^power + (margin_h P)^power), mask_p likewise with margin_p H; where
 * both are below FLT_MIN the masks are 0.5 when both margins are 1, else 0. Hard: mask_h =
 * [H > margin_h P], mask_p = [P >= margin_p H]. Returns TSR_OK, TSR_EINVAL (bad cfg),
 * TSR_ENOTFINITE (a NaN, Inf or negative entry of mag, named in err), TSR_ENOMEM,
 * TSR_ELIMIT, TSR_EINTR. The result does not depend on cfg->threads. */
int tsr_hpss_masks(const float *mag, int64_t bins, int64_t frames, const tsr_hpss_config *cfg,
                   float *mask_h, float *mask_p, tsr_error *err);

/* For each of the k components of the model W (bins x k) H (k x frames), the share of its
 * Wiener energy sum (mag W_i H_i / W H)^2 that the mask keeps, sum (mask mag W_i H_i /
 * W H)^2 / that, into out[i] (0 for a component with no energy; where W H is 0 each
 * component's Wiener share is 1/k, as m:audio's). With T > 1 the model is convolutive
 * (tsr_nmfd_fit's): W is bins x kT and component i is its template convolved with its
 * activations. mag and mask are bins x frames; all column-major. Returns TSR_OK,
 * TSR_ENOMEM, TSR_ELIMIT, TSR_EINTR. */
int tsr_hpss_mask_share(const float *W, const float *H, int64_t bins, int64_t frames, int64_t k,
                        int64_t T, const float *mag, const float *mask, double *out,
                        tsr_error *err);

#endif
