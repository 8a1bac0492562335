/* Audio buffers: float32 samples, planar (channel c's frames start at data + c*frames). */
#ifndef TSR_AUDIO_H
#define TSR_AUDIO_H

#include "tessera.h"

typedef struct tsr_audio {
  int64_t frames;
  int channels;
  int sr;
  float *data;
} tsr_audio;

#endif
