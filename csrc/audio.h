/* Audio buffers: float32 samples, planar (channel c's frames start at data + c*frames).
 * The kernel decodes anything libsndfile reads, resamples with libsamplerate, and writes
 * WAV/FLAC atomically. Every function that fills a tsr_audio allocates its data with
 * tsr_alloc; the caller owns it (free with tsr_free) and, on failure, finds data == NULL. */
#ifndef TSR_AUDIO_H
#define TSR_AUDIO_H

#include "tessera.h"

typedef struct tsr_audio {
  int64_t frames;
  int channels;
  int sr;
  float *data;
} tsr_audio;

/* Frees a's data (tsr_free) and resets it to no samples; NULL is a no-op. */
void tsr_audio_release(tsr_audio *a);

/* libsndfile's channel limit, and the resampling ratios libsamplerate accepts. */
#define TSR_AUDIO_MAX_CHANNELS 1024
#define TSR_AUDIO_MAX_RATIO 256.0

/* libsamplerate's sinc converters, best first: SRC_SINC_BEST_QUALITY (97 dB signal-to-noise,
 * 97% of the band kept), SRC_SINC_MEDIUM_QUALITY (97 dB, 90%) and SRC_SINC_FASTEST
 * (97 dB, 80%); each is two to three times faster than the one before. TSR_RESAMPLE_POLY
 * is scipy.signal.resample_poly's polyphase FIR (csrc/resample.h: within 1 dB over 90% of
 * the band, 6 dB down at the new Nyquist, at least 55 dB of alias rejection past 1.2 times
 * it), the samples a Python pipeline gets, and the fastest of the four. */
typedef enum tsr_resample_quality {
  TSR_RESAMPLE_BEST = 0,
  TSR_RESAMPLE_MEDIUM,
  TSR_RESAMPLE_FAST,
  TSR_RESAMPLE_POLY
} tsr_resample_quality;

/* What to take from an encoded file. Zero-initialise for "everything, as it is". */
typedef struct tsr_load_opts {
  int sr;          /* resample to this rate; 0 keeps the file's rate */
  int mono;        /* nonzero: mix the channels down to their mean */
  double offset;   /* seconds to skip from the start (>= 0) */
  double duration; /* seconds to keep; <= 0 means to the end */
  int quality;     /* enum tsr_resample_quality of that resampling (0: best) */
} tsr_load_opts;

/* Decodes an encoded file held in memory (buf, len bytes) through libsndfile's virtual
 * I/O, so the decoder can be fuzzed without touching the file system. `name` is what
 * error messages call the data (NULL: "<memory>"). Fills *out (caller owns out->data).
 * Returns TSR_EFORMAT (not audio, malformed, truncated: fewer frames than the header
 * says), TSR_EEMPTY (no frames, or offset at or past the end), TSR_ENOTFINITE (a NaN or
 * Inf sample; err names the 1-based frame and channel), TSR_EINVAL (bad opts),
 * TSR_ENOMEM; err says which. */
tsr_status tsr_audio_decode(const void *buf, size_t len, const char *name,
                            const tsr_load_opts *opts, tsr_audio *out, tsr_error *err);

/* Reads the file at path into memory and decodes it as tsr_audio_decode does.
 * TSR_EIO when the file cannot be read ("cannot open 'x.wav': No such file or
 * directory"); otherwise the statuses of tsr_audio_decode, messages naming the path. */
tsr_status tsr_audio_load(const char *path, const tsr_load_opts *opts, tsr_audio *out,
                          tsr_error *err);

/* What a file's header says, read without decoding its samples (tsr_audio_probe). */
typedef struct tsr_audio_info {
  int64_t frames;
  int channels;
  int sr;
  char format[16];  /* the container, as libsndfile names it short: "WAV", "FLAC", "OGG", ... */
  char subtype[24]; /* the encoding: "PCM_16", "PCM_24", "FLOAT", "VORBIS", "MPEG_LAYER_III", ... */
  int bits;         /* bits per sample of PCM and float data; 0 for lossy codecs (no such depth) */
} tsr_audio_info;

/* Reads the header of the file at path (through libsndfile, as tsr_audio_load decodes it):
 * rate, channels, frames, container, encoding and bit depth. TSR_EIO when the file cannot
 * be opened, TSR_EFORMAT when libsndfile does not read it; err says which. */
tsr_status tsr_audio_probe(const char *path, tsr_audio_info *out, tsr_error *err);

typedef enum tsr_audio_format { TSR_AUDIO_WAV, TSR_AUDIO_FLAC } tsr_audio_format;
typedef enum tsr_audio_subtype {
  TSR_AUDIO_PCM16,
  TSR_AUDIO_PCM24,
  TSR_AUDIO_FLOAT
} tsr_audio_subtype;

/* Writes a to path as format/subtype: first to a temporary name beside path
 * (tsr_tmp_path), renamed into place on success (tsr_commit_file), so a failure leaves
 * nothing behind. PCM output is clipped to [-1, 1). Returns TSR_ENOTFINITE (a NaN/Inf
 * sample: err names frame and channel, nothing is written), TSR_EINVAL (FLAC with float
 * samples, or a rate/channel count the format cannot hold), TSR_EIO. */
tsr_status tsr_audio_save(const tsr_audio *a, const char *path, tsr_audio_format format,
                          tsr_audio_subtype subtype, tsr_error *err);

/* Resamples `in` to sr with libsamplerate's SRC_SINC_BEST_QUALITY over the whole signal
 * (end of input flagged, so the tail is kept), giving exactly
 * round(frames * sr / in->sr) frames. Fills *out (caller owns out->data); the same rate
 * gives a copy. TSR_EINVAL when sr <= 0 or the ratio is outside
 * [1/TSR_AUDIO_MAX_RATIO, TSR_AUDIO_MAX_RATIO]; TSR_ENOMEM. */
tsr_status tsr_audio_resample(const tsr_audio *in, int sr, tsr_audio *out, tsr_error *err);

/* tsr_audio_resample with the converter `quality` (enum tsr_resample_quality); TSR_EINVAL
 * also for an unknown quality. TSR_RESAMPLE_POLY gives scipy's ceil(frames * sr / in->sr)
 * frames instead, and its limit is not the ratio but the rates over their gcd, at most
 * TSR_RESAMPLE_MAX_FACTOR (TSR_EINVAL naming both rates and the filter it would need). */
tsr_status tsr_audio_resample_with(const tsr_audio *in, int sr, int quality, tsr_audio *out,
                                   tsr_error *err);

/* Fills *out with one channel, the mean of in's channels (accumulated in double); caller
 * owns out->data. TSR_ENOMEM. */
tsr_status tsr_audio_mixdown(const tsr_audio *in, tsr_audio *out, tsr_error *err);

/* Finds the first NaN/Inf sample in frame order: returns 1 and stores its 0-based frame
 * and channel (either pointer may be NULL), or returns 0 when every sample is finite. */
int tsr_audio_find_nonfinite(const tsr_audio *a, int64_t *frame, int *channel);

/* Largest |sample| over all channels (0 for no samples). */
double tsr_audio_peak(const tsr_audio *a);

/* Root mean square over all samples of all channels, accumulated in double (0 for no
 * samples). */
double tsr_audio_rms(const tsr_audio *a);

#endif
