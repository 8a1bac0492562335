/* Audio kernel: decoding through libsndfile's virtual I/O (from memory, so the decoder
 * can be fuzzed), resampling with libsamplerate or scipy's polyphase filter (resample.c),
 * atomic WAV/FLAC writing, and the few reductions the bindings need. Samples are planar
 * float32. */
#include "audio.h"
#include "resample.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frames moved through libsndfile per call: big enough to amortise the call, small enough
 * that the interleaved scratch buffer stays a few hundred kilobytes. */
#define CHUNK_SAMPLES 65536

/* Allocates frames x channels floats into *data; 0 frames still gives a valid pointer. */
static tsr_status alloc_samples(int64_t frames, int channels, float **data, tsr_error *err) {
  size_t count, bytes;
  *data = NULL;
  if (frames < 0 || tsr_mul_size((size_t)frames, (size_t)channels, &count) != 0 ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "%lld frames of %d channels is too large", (long long)frames, channels);
    return TSR_ELIMIT;
  }
  *data = tsr_alloc(bytes);
  if (*data == NULL) {
    char what[96];
    snprintf(what, sizeof what, "%lld frames of %d channel%s", (long long)frames, channels,
             channels == 1 ? "" : "s");
    return tsr_alloc_failure(bytes, what, err);
  }
  return TSR_OK;
}

void tsr_audio_release(tsr_audio *a) {
  if (a == NULL) return;
  tsr_free(a->data);
  a->data = NULL;
  a->frames = 0;
}

/* libsndfile's messages start with a capital and end with a period; ours do neither. */
static void set_sndfile_error(tsr_error *err, const char *prefix, const char *name,
                              const char *sfmsg) {
  char text[TSR_ERRMAX];
  snprintf(text, sizeof text, "%s", sfmsg != NULL ? sfmsg : "unknown error");
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '.' || text[n - 1] == '\n' || text[n - 1] == ' '))
    text[--n] = '\0';
  if (n > 1 && isupper((unsigned char)text[0]) && !isupper((unsigned char)text[1]))
    text[0] = (char)tolower((unsigned char)text[0]);
  tsr_seterror(err, "%s '%s': %s", prefix, name, text);
}

/* libsamplerate's converter for an enum tsr_resample_quality, or -1 (also for
 * TSR_RESAMPLE_POLY, which is not libsamplerate's). */
static int converter_of(int quality) {
  switch (quality) {
    case TSR_RESAMPLE_BEST: return SRC_SINC_BEST_QUALITY;
    case TSR_RESAMPLE_MEDIUM: return SRC_SINC_MEDIUM_QUALITY;
    case TSR_RESAMPLE_FAST: return SRC_SINC_FASTEST;
    default: return -1;
  }
}

static int known_quality(int quality) {
  return quality == TSR_RESAMPLE_POLY || converter_of(quality) >= 0;
}

/* ---- virtual I/O over a read-only memory buffer ---- */

typedef struct membuf {
  const unsigned char *data;
  sf_count_t len, pos;
} membuf;

static sf_count_t vio_get_filelen(void *user) { return ((membuf *)user)->len; }

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user) {
  membuf *m = user;
  sf_count_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = m->pos; break;
    case SEEK_END: base = m->len; break;
    default: return -1;
  }
  /* A hostile header can ask for any offset: refuse what would overflow or go negative. */
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
  m->pos = base + offset;
  return m->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user) {
  membuf *m = user;
  if (count <= 0 || m->pos >= m->len) return 0;
  sf_count_t n = m->len - m->pos < count ? m->len - m->pos : count;
  memcpy(ptr, m->data + m->pos, (size_t)n);
  m->pos += n;
  return n;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user) {
  (void)ptr, (void)count, (void)user;
  return 0;
}

static sf_count_t vio_tell(void *user) { return ((membuf *)user)->pos; }

/* ---- decoding ---- */

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* libsndfile quietly shortens a WAV whose data chunk runs past the end of the file (a
 * cut-off download or copy), so we read the RIFF header ourselves: returns the frame
 * count the header declares when the data chunk is larger than the bytes present, else
 * -1. Size 0xFFFFFFFF is the placeholder of a writer that never finished its header:
 * libsndfile reads such a file to the end, and so do we. */
static int64_t wav_truncated_frames(const unsigned char *buf, size_t len) {
  if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0) return -1;
  size_t pos = 12;
  unsigned block_align = 0;
  while (len - pos >= 8) {
    uint32_t size = le32(buf + pos + 4);
    if (memcmp(buf + pos, "fmt ", 4) == 0 && size >= 14 && len - pos - 8 >= 14)
      block_align = (unsigned)buf[pos + 20] | (unsigned)buf[pos + 21] << 8;
    if (memcmp(buf + pos, "data", 4) == 0) {
      if (block_align == 0 || size == 0xFFFFFFFFu) return -1;
      return (uint64_t)size > len - pos - 8 ? (int64_t)(size / block_align) : -1;
    }
    if ((uint64_t)size + (size & 1u) > len - pos - 8) return -1;
    pos += 8 + (size_t)size + (size & 1u); /* chunks are padded to even sizes */
  }
  return -1;
}

/* Grows planar storage from cap to newcap frames per channel, keeping `used` frames. */
static tsr_status grow_planar(float **data, int64_t *cap, int64_t newcap, int64_t used,
                              int channels, tsr_error *err) {
  float *bigger;
  tsr_status st = alloc_samples(newcap, channels, &bigger, err);
  if (st != TSR_OK) return st;
  for (int c = 0; c < channels; c++)
    memcpy(bigger + (size_t)c * (size_t)newcap, *data + (size_t)c * (size_t)*cap,
           (size_t)used * sizeof(float));
  tsr_free(*data);
  *data = bigger;
  *cap = newcap;
  return TSR_OK;
}

/* Reads `count` frames from the current position into planar *out (one channel when
 * mono), checking each sample is finite. `start` is the first frame's index in the file
 * and `total` the header's frame count, both for messages. Storage grows as frames
 * arrive, so a header that lies about its length cannot make us allocate for it. */
static tsr_status read_frames(SNDFILE *sf, const SF_INFO *info, const char *name,
                              int64_t start, int64_t count, int mono, tsr_audio *out,
                              tsr_error *err) {
  const int ch = info->channels, outch = mono ? 1 : ch;
  int64_t chunk = CHUNK_SAMPLES / ch > 0 ? CHUNK_SAMPLES / ch : 1;
  /* Start at about a million samples whatever the channel count, then double. */
  int64_t first = ((int64_t)1 << 20) / outch + 1;
  int64_t cap = count < first ? count : first;
  int64_t got = 0;
  float *tmp = NULL, *data = NULL;
  tsr_status st = alloc_samples(chunk, ch, &tmp, err);
  if (st == TSR_OK) st = alloc_samples(cap, outch, &data, err);
  while (st == TSR_OK && got < count) {
    if (tsr_interrupted()) { /* Ctrl-C, SIGTERM or a render's time limit */
      tsr_seterror(err, "cannot decode '%s': interrupted", name);
      st = TSR_EIO;
      break;
    }
    sf_count_t want = count - got < chunk ? count - got : chunk;
    sf_count_t n = sf_readf_float(sf, tmp, want);
    if (n <= 0) break;
    if (got + n > cap) {
      int64_t newcap = cap > count / 2 ? count : cap * 2;
      if (newcap < got + n) newcap = got + n;
      st = grow_planar(&data, &cap, newcap, got, outch, err);
      if (st != TSR_OK) break;
    }
    for (sf_count_t f = 0; f < n && st == TSR_OK; f++) {
      const float *frame = tmp + (size_t)f * (size_t)ch;
      double sum = 0.0;
      for (int c = 0; c < ch; c++) {
        if (!isfinite(frame[c])) {
          tsr_seterror(err, "'%s' holds %s at frame %lld, channel %d", name,
                       isnan(frame[c]) ? "NaN" : "Inf", (long long)(start + got + f + 1),
                       c + 1);
          st = TSR_ENOTFINITE;
          break;
        }
        if (mono)
          sum += frame[c];
        else
          data[(size_t)c * (size_t)cap + (size_t)(got + f)] = frame[c];
      }
      if (mono && st == TSR_OK) data[got + f] = (float)(sum / ch);
    }
    got += n;
  }
  tsr_free(tmp);
  if (st == TSR_OK && got < count) {
    tsr_seterror(err, "'%s' is truncated: the header says %lld frames, only %lld could be decoded",
                 name, (long long)info->frames, (long long)(start + got));
    st = TSR_EFORMAT;
  }
  if (st != TSR_OK) {
    tsr_free(data);
    return st;
  }
  out->frames = count;
  out->channels = outch;
  out->sr = info->samplerate;
  out->data = data;
  return TSR_OK;
}

tsr_status tsr_audio_decode(const void *buf, size_t len, const char *name,
                            const tsr_load_opts *opts, tsr_audio *out, tsr_error *err) {
  static const tsr_load_opts defaults = {0, 0, 0.0, 0.0, TSR_RESAMPLE_BEST};
  const tsr_load_opts *o = opts != NULL ? opts : &defaults;
  memset(out, 0, sizeof *out);
  if (name == NULL) name = "<memory>";
  if (o->sr < 0 || !(o->offset >= 0) || !isfinite(o->offset) || !(o->duration >= 0) ||
      !isfinite(o->duration) || !known_quality(o->quality)) {
    tsr_seterror(err, "bad load options (sr %d, offset %g, duration %g, quality %d)", o->sr,
                 o->offset, o->duration, o->quality);
    return TSR_EINVAL;
  }
  if (buf == NULL || len == 0) {
    tsr_seterror(err, "'%s' is empty (0 bytes)", name);
    return TSR_EFORMAT;
  }
  if (len > (size_t)INT64_MAX) {
    tsr_seterror(err, "'%s' is too large", name);
    return TSR_ELIMIT;
  }

  membuf m = {buf, (sf_count_t)len, 0};
  SF_VIRTUAL_IO vio = {vio_get_filelen, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
  if (sf == NULL) {
    set_sndfile_error(err, "cannot decode", name, sf_strerror(NULL));
    return TSR_EFORMAT;
  }

  tsr_status st = TSR_OK;
  int64_t total = info.frames, start = 0, count = 0, declared = -1;
  if (info.channels < 1 || info.channels > TSR_AUDIO_MAX_CHANNELS || info.samplerate <= 0) {
    tsr_seterror(err, "cannot decode '%s': %d channels at %d Hz is not playable audio", name,
                 info.channels, info.samplerate);
    st = TSR_EFORMAT;
  } else if ((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV &&
             (declared = wav_truncated_frames(buf, len)) >= 0) {
    tsr_seterror(err, "'%s' is truncated: the header says %lld frames, only %lld could be decoded",
                 name, (long long)declared, (long long)total);
    st = TSR_EFORMAT;
  } else if (total <= 0) {
    tsr_seterror(err, "'%s' holds no audio frames", name);
    st = TSR_EEMPTY;
  } else if (total == SF_COUNT_MAX) {
    tsr_seterror(err, "cannot decode '%s': its length is unknown", name);
    st = TSR_EFORMAT;
  } else {
    double sr = info.samplerate;
    /* Compare in double first: a huge offset must not overflow the rounding. */
    if (o->offset * sr >= (double)total ||
        (start = (int64_t)llround(o->offset * sr)) >= total) {
      tsr_seterror(err, "offset %g s is past the end of '%s' (%g s long)", o->offset, name,
                   (double)total / sr);
      st = TSR_EINVAL;
    } else {
      count = total - start;
      if (o->duration > 0 && o->duration * sr < (double)count)
        count = (int64_t)llround(o->duration * sr);
      if (count == 0) {
        tsr_seterror(err, "duration %g s is shorter than one frame of '%s' (%d Hz)",
                     o->duration, name, info.samplerate);
        st = TSR_EINVAL;
      } else if (start > 0 && sf_seek(sf, start, SEEK_SET) != start) {
        tsr_seterror(err, "'%s' is truncated: cannot seek to frame %lld of %lld", name,
                     (long long)start + 1, (long long)total);
        st = TSR_EFORMAT;
      }
    }
  }

  tsr_audio decoded;
  memset(&decoded, 0, sizeof decoded);
  if (st == TSR_OK) st = read_frames(sf, &info, name, start, count, o->mono, &decoded, err);
  sf_close(sf);
  if (st != TSR_OK) return st;

  if (o->sr != 0 && o->sr != decoded.sr) {
    st = tsr_audio_resample_with(&decoded, o->sr, o->quality, out, err);
    tsr_free(decoded.data);
    return st;
  }
  *out = decoded;
  return TSR_OK;
}

tsr_status tsr_audio_load(const char *path, const tsr_load_opts *opts, tsr_audio *out,
                          tsr_error *err) {
  memset(out, 0, sizeof *out);
  int fd = tsr_open_regular(path, err);
  if (fd < 0) return TSR_EIO;
  struct stat sb;
  int e = fstat(fd, &sb) != 0 ? errno : 0;
  if (e != 0) {
    tsr_seterror(err, "cannot read '%s': %s", path, strerror(e));
    close(fd);
    return TSR_EIO;
  }
  size_t len = (size_t)sb.st_size;
  unsigned char *buf = tsr_alloc(len);
  if (buf == NULL) {
    char what[TSR_ERRMAX / 2];
    snprintf(what, sizeof what, "reading '%s'", path);
    close(fd);
    return tsr_alloc_failure(len, what, err);
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      tsr_seterror(err, "cannot read '%s': %s", path, strerror(errno));
      tsr_free(buf);
      close(fd);
      return TSR_EIO;
    }
    if (n == 0) break; /* shrank while we read: decode what is there */
    got += (size_t)n;
  }
  close(fd);
  tsr_status st = tsr_audio_decode(buf, got, path, opts, out, err);
  tsr_free(buf);
  return st;
}

/* ---- saving ---- */

tsr_status tsr_audio_save(const tsr_audio *a, const char *path, tsr_audio_format format,
                          tsr_audio_subtype subtype, tsr_error *err) {
  static const char *const format_names[] = {"wav", "flac"};
  static const char *const subtype_names[] = {"pcm16", "pcm24", "float"};
  if (a == NULL || a->data == NULL || a->channels < 1 ||
      a->channels > TSR_AUDIO_MAX_CHANNELS || a->sr <= 0 || a->frames < 0 ||
      (format != TSR_AUDIO_WAV && format != TSR_AUDIO_FLAC) ||
      (subtype != TSR_AUDIO_PCM16 && subtype != TSR_AUDIO_PCM24 &&
       subtype != TSR_AUDIO_FLOAT)) {
    tsr_seterror(err, "cannot save '%s': invalid audio or format", path);
    return TSR_EINVAL;
  }
  if (format == TSR_AUDIO_FLAC && subtype == TSR_AUDIO_FLOAT) {
    tsr_seterror(err, "cannot save '%s': flac cannot hold float samples (use pcm16 or pcm24)",
                 path);
    return TSR_EINVAL;
  }
  int64_t bad_frame;
  int bad_channel;
  if (tsr_audio_find_nonfinite(a, &bad_frame, &bad_channel)) {
    float v = a->data[(size_t)bad_channel * (size_t)a->frames + (size_t)bad_frame];
    tsr_seterror(err, "cannot save '%s': frame %lld, channel %d holds %s", path,
                 (long long)bad_frame + 1, bad_channel + 1, isnan(v) ? "NaN" : "Inf");
    return TSR_ENOTFINITE;
  }

  SF_INFO info;
  memset(&info, 0, sizeof info);
  info.samplerate = a->sr;
  info.channels = a->channels;
  info.format = (format == TSR_AUDIO_WAV ? SF_FORMAT_WAV : SF_FORMAT_FLAC) |
                (subtype == TSR_AUDIO_PCM16   ? SF_FORMAT_PCM_16
                 : subtype == TSR_AUDIO_PCM24 ? SF_FORMAT_PCM_24
                                              : SF_FORMAT_FLOAT);
  /* FLAC's own limits, which sf_format_check does not know. */
  if (!sf_format_check(&info) ||
      (format == TSR_AUDIO_FLAC && (a->channels > 8 || a->sr > 655350))) {
    tsr_seterror(err, "cannot save '%s': %s/%s cannot hold %d channels at %d Hz", path,
                 format_names[format], subtype_names[subtype], a->channels, a->sr);
    return TSR_EINVAL;
  }

  char tmp[4096];
  if (tsr_tmp_path(path, tmp, sizeof tmp) != 0) {
    tsr_seterror(err, "cannot save '%s': path too long", path);
    return TSR_EINVAL;
  }
  float *chunk = NULL;
  int64_t chunk_frames = CHUNK_SAMPLES / a->channels > 0 ? CHUNK_SAMPLES / a->channels : 1;
  tsr_status st = alloc_samples(chunk_frames, a->channels, &chunk, err);
  if (st != TSR_OK) return st;

  /* Opening the file ourselves gives errno's reason (missing folder, permissions). */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0) {
    tsr_seterror(err, "cannot write '%s': %s", path, strerror(errno));
    tsr_free(chunk);
    return TSR_EIO;
  }
  SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
  if (sf == NULL) {
    set_sndfile_error(err, "cannot write", path, sf_strerror(NULL));
    st = TSR_EIO;
  } else {
    if (subtype != TSR_AUDIO_FLOAT) sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    /* The PEAK chunk holds a timestamp: without it, equal samples give equal files. */
    sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    for (int64_t done = 0; done < a->frames && st == TSR_OK; done += chunk_frames) {
      int64_t n = a->frames - done < chunk_frames ? a->frames - done : chunk_frames;
      for (int c = 0; c < a->channels; c++) {
        const float *src = a->data + (size_t)c * (size_t)a->frames + (size_t)done;
        for (int64_t f = 0; f < n; f++) chunk[(size_t)f * (size_t)a->channels + (size_t)c] = src[f];
      }
      if (sf_writef_float(sf, chunk, n) != n) {
        set_sndfile_error(err, "cannot write", path, sf_strerror(sf));
        st = TSR_EIO;
      }
    }
    if (sf_close(sf) != 0 && st == TSR_OK) {
      tsr_seterror(err, "cannot write '%s': finishing the file failed", path);
      st = TSR_EIO;
    }
  }
  if (close(fd) != 0 && st == TSR_OK) {
    tsr_seterror(err, "cannot write '%s': %s", path, strerror(errno));
    st = TSR_EIO;
  }
  tsr_free(chunk);
  if (st != TSR_OK) {
    remove(tmp);
    return st;
  }
  return tsr_commit_file(tmp, path, err);
}

/* ---- resampling and mixing ---- */

tsr_status tsr_audio_resample(const tsr_audio *in, int sr, tsr_audio *out, tsr_error *err) {
  return tsr_audio_resample_with(in, sr, TSR_RESAMPLE_BEST, out, err);
}

/* scipy.signal.resample_poly's conversion (resample.c), channel by channel; the same rate
 * is a copy (the factors reduce to 1/1). */
static tsr_status resample_poly(const tsr_audio *in, int sr, tsr_audio *out, tsr_error *err) {
  tsr_resampler *r;
  tsr_error why = {{0}};
  tsr_status st = tsr_resampler_new(sr, in->sr, &r, &why);
  if (st != TSR_OK) {
    tsr_seterror(err, "cannot resample from %d Hz to %d Hz: %s", in->sr, sr, why.msg);
    return st;
  }
  int64_t n = tsr_resampler_length(r, in->frames);
  if (n < 0 || (double)n >= 0x1p62) {
    tsr_seterror(err, "resampling %lld frames to %d Hz is too large", (long long)in->frames, sr);
    tsr_resampler_free(r);
    return TSR_ELIMIT;
  }
  float *data;
  st = alloc_samples(n, in->channels, &data, err);
  for (int c = 0; c < in->channels && st == TSR_OK; c++)
    st = tsr_resampler_run(r, in->data + (size_t)c * (size_t)in->frames, in->frames,
                           data + (size_t)c * (size_t)n, err);
  tsr_resampler_free(r);
  if (st != TSR_OK) {
    tsr_free(data);
    return st;
  }
  out->frames = n;
  out->channels = in->channels;
  out->sr = sr;
  out->data = data;
  return TSR_OK;
}

tsr_status tsr_audio_resample_with(const tsr_audio *in, int sr, int quality, tsr_audio *out,
                                   tsr_error *err) {
  memset(out, 0, sizeof *out);
  const int converter = converter_of(quality);
  if (!known_quality(quality)) {
    tsr_seterror(err, "unknown resampling quality %d", quality);
    return TSR_EINVAL;
  }
  if (in->sr <= 0 || sr <= 0) {
    tsr_seterror(err, "cannot resample from %d Hz to %d Hz", in->sr, sr);
    return TSR_EINVAL;
  }
  if (quality == TSR_RESAMPLE_POLY) return resample_poly(in, sr, out, err);
  double ratio = (double)sr / (double)in->sr;
  if (ratio > TSR_AUDIO_MAX_RATIO || ratio < 1.0 / TSR_AUDIO_MAX_RATIO ||
      !src_is_valid_ratio(ratio)) {
    tsr_seterror(err, "cannot resample from %d Hz to %d Hz: the ratio must be within 1/%g..%g",
                 in->sr, sr, TSR_AUDIO_MAX_RATIO, TSR_AUDIO_MAX_RATIO);
    return TSR_EINVAL;
  }
  double exact = (double)in->frames * ratio;
  if (exact >= 0x1p62) {
    tsr_seterror(err, "resampling %lld frames to %d Hz is too large", (long long)in->frames, sr);
    return TSR_ELIMIT;
  }
  int64_t n = (int64_t)llround(exact);
  float *data;
  tsr_status st = alloc_samples(n, in->channels, &data, err);
  if (st != TSR_OK) return st;
  size_t total = (size_t)n * (size_t)in->channels;
  memset(data, 0, total * sizeof(float));

  if (sr == in->sr) {
    memcpy(data, in->data, total * sizeof(float));
  } else if (n > 0 && in->frames > 0) {
    /* Channel by channel keeps the data planar (no interleaving copies); the result is
     * the same as converting them together. */
    for (int c = 0; c < in->channels && st == TSR_OK; c++) {
      int e = 0;
      SRC_STATE *state = src_new(converter, 1, &e);
      if (state == NULL) {
        tsr_seterror(err, "cannot resample: %s", src_strerror(e));
        st = TSR_ENOMEM; /* src_new fails only when it cannot allocate */
        break;
      }
      const float *src = in->data + (size_t)c * (size_t)in->frames;
      float *dst = data + (size_t)c * (size_t)n;
      int64_t used = 0, gen = 0;
      while (gen < n) {
        if (tsr_interrupted()) { /* between blocks: Ctrl-C, SIGTERM, a time limit */
          tsr_seterror(err, "cannot resample: interrupted");
          st = TSR_EIO;
          break;
        }
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = src + used;
        d.input_frames = (long)(in->frames - used);
        d.data_out = dst + gen;
        /* Blocks of at most 2^18 outputs, so an interrupt is seen within a fraction of a
         * second; the converter streams, so the result does not depend on the blocks. */
        d.output_frames = (long)(n - gen < ((int64_t)1 << 18) ? n - gen : ((int64_t)1 << 18));
        d.end_of_input = 1; /* the whole signal is here: flush the filter's tail */
        d.src_ratio = ratio;
        e = src_process(state, &d);
        if (e != 0) {
          tsr_seterror(err, "cannot resample: %s", src_strerror(e));
          st = TSR_EINVAL;
          break;
        }
        used += d.input_frames_used;
        gen += d.output_frames_gen;
        if (d.input_frames_used == 0 && d.output_frames_gen == 0) break;
      }
      src_delete(state);
    }
  }
  if (st != TSR_OK) {
    tsr_free(data);
    return st;
  }
  out->frames = n;
  out->channels = in->channels;
  out->sr = sr;
  out->data = data;
  return TSR_OK;
}

tsr_status tsr_audio_mixdown(const tsr_audio *in, tsr_audio *out, tsr_error *err) {
  memset(out, 0, sizeof *out);
  float *data;
  tsr_status st = alloc_samples(in->frames, 1, &data, err);
  if (st != TSR_OK) return st;
  for (int64_t f = 0; f < in->frames; f++) {
    double sum = 0.0;
    for (int c = 0; c < in->channels; c++)
      sum += in->data[(size_t)c * (size_t)in->frames + (size_t)f];
    data[f] = (float)(sum / in->channels);
  }
  out->frames = in->frames;
  out->channels = 1;
  out->sr = in->sr;
  out->data = data;
  return TSR_OK;
}

int tsr_audio_find_nonfinite(const tsr_audio *a, int64_t *frame, int *channel) {
  int64_t best = a->frames;
  int best_channel = -1;
  /* Channel by channel follows the memory; `f < best` keeps the earliest frame and, on a
   * tie, the lowest channel. */
  for (int c = 0; c < a->channels; c++) {
    const float *x = a->data + (size_t)c * (size_t)a->frames;
    for (int64_t f = 0; f < best; f++) {
      if (!isfinite(x[f])) {
        best = f;
        best_channel = c;
        break;
      }
    }
  }
  if (best_channel < 0) return 0;
  if (frame != NULL) *frame = best;
  if (channel != NULL) *channel = best_channel;
  return 1;
}

double tsr_audio_peak(const tsr_audio *a) {
  size_t total = (size_t)a->frames * (size_t)a->channels;
  float peak = 0.0f;
  for (size_t i = 0; i < total; i++) {
    float v = fabsf(a->data[i]);
    if (v > peak) peak = v;
  }
  return peak;
}

double tsr_audio_rms(const tsr_audio *a) {
  size_t total = (size_t)a->frames * (size_t)a->channels;
  if (total == 0) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < total; i++) sum += (double)a->data[i] * a->data[i];
  return sqrt(sum / (double)total);
}
