/* libFuzzer harness: audio decoding from memory (libsndfile's virtual I/O), as
 * tessera.audio.load decodes any file it is given. Input: the encoded file; the first
 * byte, when there is one, also picks load options (resampling, mono, offset/duration). */
#include <stddef.h>
#include <stdint.h>

#include "../csrc/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_load_opts opts = {0};
  if (size > 0) {
    uint8_t pick = data[size - 1]; /* the last byte: headers stay where formats want them */
    static const int rates[] = {0, 0, 8000, 22050, 44100, 96000, 11025, 0};
    opts.sr = rates[pick & 7];
    opts.mono = (pick >> 3) & 1;
    opts.offset = ((pick >> 4) & 3) * 0.001;
    opts.duration = ((pick >> 6) & 3) * 0.002;
  }
  tsr_audio a = {0};
  tsr_error err = {{0}};
  if (tsr_audio_decode(data, size, "fuzz", &opts, &a, &err) == TSR_OK) {
    /* What the API does next with decoded audio. */
    (void)tsr_audio_peak(&a);
    (void)tsr_audio_rms(&a);
    (void)tsr_audio_find_nonfinite(&a, NULL, NULL);
  }
  tsr_free(a.data);
  return 0;
}
