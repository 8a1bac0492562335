/* Rational polyphase resampling: the conversion scipy.signal.resample_poly(x, up, down)
 * does with its defaults, so tessera and a Python pipeline can hand each other the same
 * audio. The factors are divided by their gcd; the filter is scipy's firwin low-pass of
 * 20 * max(up, down) + 1 taps, cutoff 1/max(up, down) of the upsampled Nyquist, a Kaiser
 * window of beta 5, DC gain `up`; the signal is taken as zero outside its samples; the
 * output has ceil(n * up / down) samples and its first sample sits on the input's first.
 * Taps are designed in double and applied in float32. */
#ifndef TSR_RESAMPLE_H
#define TSR_RESAMPLE_H

#include "tessera.h"

/* The largest factor up or down may have after division by their gcd: the filter then
 * has 20 * 50000 + 1 = 1000001 taps (4 MB in float32). */
#define TSR_RESAMPLE_MAX_FACTOR 50000

typedef struct tsr_resampler tsr_resampler;

/* Designs the filter for resampling by up/down (both >= 1), as scipy does after dividing
 * them by their gcd; 1/1 (also n/n) copies. Stores a new resampler in *out (NULL on
 * failure), which the caller frees with tsr_resampler_free. Returns TSR_EINVAL when a
 * factor is below 1 or a reduced factor above TSR_RESAMPLE_MAX_FACTOR (err names the
 * ratio and the filter length it would need), TSR_ENOMEM (TSR_ELIMIT when the memory cap
 * refused the filter). */
tsr_status tsr_resampler_new(int64_t up, int64_t down, tsr_resampler **out, tsr_error *err);

/* Frees r; NULL is a no-op. */
void tsr_resampler_free(tsr_resampler *r);

/* The output length for n input samples, ceil(n * up / down), or -1 when n < 0 or the
 * length does not fit in an int64_t. */
int64_t tsr_resampler_length(const tsr_resampler *r, int64_t n);

/* Resamples in[0, n) into out[0, tsr_resampler_length(r, n)) (the caller's buffers, which
 * must not overlap). r is only read, so threads may share it. Returns TSR_EINVAL when the
 * length is -1, TSR_ENOMEM (or TSR_ELIMIT) when the scratch window for the edges cannot be
 * allocated. */
tsr_status tsr_resampler_run(const tsr_resampler *r, const float *in, int64_t n, float *out,
                             tsr_error *err);

#endif
