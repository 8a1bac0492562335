/* tsr_audio_probe: what an audio file's header says (container, encoding, bit depth, rate,
 * channels, length), read by libsndfile without decoding the samples, for `tessera info`
 * and for planning work by audio length (a batch's ETA). */
#include "audio.h"

#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct code_name {
  int code;
  const char *name;
  int bits;
} code_name;

static const code_name containers[] = {
  {SF_FORMAT_WAV, "WAV", 0},     {SF_FORMAT_AIFF, "AIFF", 0},   {SF_FORMAT_AU, "AU", 0},
  {SF_FORMAT_RAW, "RAW", 0},     {SF_FORMAT_PAF, "PAF", 0},     {SF_FORMAT_SVX, "SVX", 0},
  {SF_FORMAT_NIST, "NIST", 0},   {SF_FORMAT_VOC, "VOC", 0},     {SF_FORMAT_IRCAM, "IRCAM", 0},
  {SF_FORMAT_W64, "W64", 0},     {SF_FORMAT_MAT4, "MAT4", 0},   {SF_FORMAT_MAT5, "MAT5", 0},
  {SF_FORMAT_PVF, "PVF", 0},     {SF_FORMAT_XI, "XI", 0},       {SF_FORMAT_HTK, "HTK", 0},
  {SF_FORMAT_SDS, "SDS", 0},     {SF_FORMAT_AVR, "AVR", 0},     {SF_FORMAT_WAVEX, "WAVEX", 0},
  {SF_FORMAT_SD2, "SD2", 0},     {SF_FORMAT_FLAC, "FLAC", 0},   {SF_FORMAT_CAF, "CAF", 0},
  {SF_FORMAT_WVE, "WVE", 0},     {SF_FORMAT_OGG, "OGG", 0},     {SF_FORMAT_MPC2K, "MPC2K", 0},
  {SF_FORMAT_RF64, "RF64", 0},   {SF_FORMAT_MPEG, "MPEG", 0},   {0, NULL, 0}};

/* Encodings with their bits per sample (0: a lossy codec, which has none). */
static const code_name encodings[] = {
  {SF_FORMAT_PCM_S8, "PCM_S8", 8},         {SF_FORMAT_PCM_16, "PCM_16", 16},
  {SF_FORMAT_PCM_24, "PCM_24", 24},        {SF_FORMAT_PCM_32, "PCM_32", 32},
  {SF_FORMAT_PCM_U8, "PCM_U8", 8},         {SF_FORMAT_FLOAT, "FLOAT", 32},
  {SF_FORMAT_DOUBLE, "DOUBLE", 64},        {SF_FORMAT_ULAW, "ULAW", 8},
  {SF_FORMAT_ALAW, "ALAW", 8},             {SF_FORMAT_IMA_ADPCM, "IMA_ADPCM", 4},
  {SF_FORMAT_MS_ADPCM, "MS_ADPCM", 4},     {SF_FORMAT_GSM610, "GSM610", 0},
  {SF_FORMAT_VOX_ADPCM, "VOX_ADPCM", 4},   {SF_FORMAT_G721_32, "G721_32", 4},
  {SF_FORMAT_G723_24, "G723_24", 3},       {SF_FORMAT_G723_40, "G723_40", 5},
  {SF_FORMAT_DWVW_12, "DWVW_12", 12},      {SF_FORMAT_DWVW_16, "DWVW_16", 16},
  {SF_FORMAT_DWVW_24, "DWVW_24", 24},      {SF_FORMAT_DWVW_N, "DWVW_N", 0},
  {SF_FORMAT_DPCM_8, "DPCM_8", 8},         {SF_FORMAT_DPCM_16, "DPCM_16", 16},
  {SF_FORMAT_VORBIS, "VORBIS", 0},         {SF_FORMAT_OPUS, "OPUS", 0},
  {SF_FORMAT_ALAC_16, "ALAC_16", 16},      {SF_FORMAT_ALAC_20, "ALAC_20", 20},
  {SF_FORMAT_ALAC_24, "ALAC_24", 24},      {SF_FORMAT_ALAC_32, "ALAC_32", 32},
  {SF_FORMAT_MPEG_LAYER_I, "MPEG_LAYER_I", 0}, {SF_FORMAT_MPEG_LAYER_II, "MPEG_LAYER_II", 0},
  {SF_FORMAT_MPEG_LAYER_III, "MPEG_LAYER_III", 0}, {0, NULL, 0}};

static const code_name *lookup(const code_name *table, int code) {
  for (; table->name != NULL; table++)
    if (table->code == code) return table;
  return NULL;
}

tsr_status tsr_audio_probe(const char *path, tsr_audio_info *out, tsr_error *err) {
  memset(out, 0, sizeof *out);
  int fd = tsr_open_regular(path, err);
  if (fd < 0) return TSR_EIO;
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *sf = sf_open_fd(fd, SFM_READ, &info, SF_TRUE); /* closes fd */
  if (sf == NULL) {
    tsr_seterror(err, "cannot decode '%s': %s", path, sf_strerror(NULL));
    return TSR_EFORMAT;
  }
  sf_close(sf);
  const code_name *c = lookup(containers, info.format & SF_FORMAT_TYPEMASK);
  const code_name *e = lookup(encodings, info.format & SF_FORMAT_SUBMASK);
  out->frames = info.frames;
  out->channels = info.channels;
  out->sr = info.samplerate;
  snprintf(out->format, sizeof out->format, "%s", c ? c->name : "?");
  snprintf(out->subtype, sizeof out->subtype, "%s", e ? e->name : "?");
  out->bits = e ? e->bits : 0;
  return TSR_OK;
}
