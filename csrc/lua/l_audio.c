/* tessera.Audio: sampled sound for Lua (loading, saving and simple operations). The
 * numeric work lives in the kernel (csrc/audio.c); this file checks arguments, owns the
 * memory through userdata and raises the errors. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "l_tessera.h"

/* __close: the samples are let go at once (the collector frees them on its next pass). No
 * __gc, as for Matrix (l_matrix.c): the block goes with the object. */
static int audio_close(lua_State *L) {
  laudio *A = luaL_checkudata(L, 1, TSR_AUDIO_MT);
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  A->a.data = NULL;
  return 0;
}

/* An Audio userdata holding nothing yet. */
static laudio *push_empty(lua_State *L) {
  laudio *A = lua_newuserdatauv(L, sizeof *A, 1);
  memset(A, 0, sizeof *A);
  luaL_setmetatable(L, TSR_AUDIO_MT);
  return A;
}

static laudio *push_audio(lua_State *L, int64_t frames, int channels, int sr, int zero,
                          const char *who) {
  size_t count, bytes;
  if (frames < 0 || channels < 1 ||
      tsr_mul_size((size_t)frames, (size_t)channels, &count) != 0 ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0)
    luaL_error(L, "%s: %I frames of %d channels is too large", who, (lua_Integer)frames,
               channels);
  char what[96];
  snprintf(what, sizeof what, "%lld frames of %d channel%s", (long long)frames, channels,
           channels == 1 ? "" : "s");
  laudio *A = push_empty(L);
  float *data = lmem_push_block(L, bytes, zero, who, what);
  lua_setiuservalue(L, -2, 1);
  A->a.frames = frames;
  A->a.channels = channels;
  A->a.sr = sr;
  A->a.data = data;
  return A;
}

laudio *laudio_push(lua_State *L, int64_t frames, int channels, int sr, const char *who) {
  return push_audio(L, frames, channels, sr, 1, who);
}

/* laudio_adopt's copy, in protected mode: args (tsr_audio *, who). */
static int copy_audio(lua_State *L) {
  const tsr_audio *a = lua_touserdata(L, 1);
  laudio *A = push_audio(L, a->frames, a->channels, a->sr, 0, lua_touserdata(L, 2));
  memcpy(A->a.data, a->data, (size_t)a->frames * (size_t)a->channels * sizeof(float));
  return 1;
}

static void release_audio(void *a) { tsr_audio_release(a); }

laudio *laudio_adopt(lua_State *L, tsr_audio *a, const char *who) {
  return lmem_adopt(L, copy_audio, a, who, release_audio);
}

laudio *laudio_check(lua_State *L, int arg) {
  laudio *A = luaL_checkudata(L, arg, TSR_AUDIO_MT);
  if (A->a.data == NULL) luaL_argerror(L, arg, "audio has been freed");
  return A;
}

/* Channel c's samples. */
static float *chan(const tsr_audio *a, int c) {
  return a->data + (size_t)c * (size_t)a->frames;
}

/* ---- argument helpers ---- */

/* Option `key` of the table at arg as a number (absent: def); it must be a finite
 * number, above `min` (or at least `min` when inclusive). `rule` is the wording. */
static lua_Number opt_bounded(lua_State *L, int arg, const char *key, lua_Number def,
                              lua_Number min, int inclusive, const char *rule) {
  if (lua_isnoneornil(L, arg)) return def;
  int t = lua_getfield(L, arg, key);
  lua_Number v = def;
  if (t != LUA_TNIL) {
    v = lua_tonumber(L, -1);
    if (t != LUA_TNUMBER || !isfinite(v) || (inclusive ? v < min : v <= min))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s must be %s, got %s", key, rule,
                                            luaL_tolstring(L, -1, NULL)));
  }
  lua_pop(L, 1);
  return v;
}

/* A positive sample rate at stack index idx (a plain argument, not an option). */
static int check_sr_arg(lua_State *L, int arg) {
  lua_Integer sr = luaL_checkinteger(L, arg);
  luaL_argcheck(L, sr > 0 && sr <= INT32_MAX, arg,
                lua_pushfstring(L, "sr must be positive, got %I", sr));
  return (int)sr;
}

/* A finite number argument (gain factors and the like). */
static float check_finite(lua_State *L, int arg, const char *what) {
  lua_Number v = luaL_checknumber(L, arg);
  if (!isfinite(v) || fabs(v) > FLT_MAX) /* beyond float32 it would become inf */
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be finite, got %s", what,
                                          luaL_tolstring(L, arg, NULL)));
  return (float)v;
}

/* 1-based channel argument at arg (absent: 1). */
static int check_channel(lua_State *L, int arg, const tsr_audio *a) {
  lua_Integer c = luaL_optinteger(L, arg, 1);
  if (c < 1 || c > a->channels)
    luaL_argerror(L, arg, lua_pushfstring(L, "channel %I out of range 1..%d", c, a->channels));
  return (int)c - 1;
}

/* 1-based frame argument at arg. */
static int64_t check_index(lua_State *L, int arg, const tsr_audio *a) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || i > a->frames)
    luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range 1..%I", i,
                                          (lua_Integer)a->frames));
  return (int64_t)i - 1;
}

/* b must match a's rate and channel count to be mixed or joined with it. */
static void check_compatible(lua_State *L, int arg, const tsr_audio *a, const tsr_audio *b) {
  if (b->sr != a->sr)
    luaL_argerror(L, arg, lua_pushfstring(L, "sample rate %d differs from %d", b->sr, a->sr));
  if (b->channels != a->channels)
    luaL_argerror(L, arg, lua_pushfstring(L, "%d channels differ from %d", b->channels,
                                          a->channels));
}

/* ---- constructors ---- */

static int audio_new(lua_State *L) {
  lua_Integer frames = luaL_checkinteger(L, 1);
  lua_Integer sr = luaL_checkinteger(L, 2);
  lua_Integer channels = luaL_optinteger(L, 3, 1);
  luaL_argcheck(L, frames >= 0, 1, lua_pushfstring(L, "frames must be >= 0, got %I", frames));
  luaL_argcheck(L, sr > 0, 2, lua_pushfstring(L, "sr must be positive, got %I", sr));
  luaL_argcheck(L, channels >= 1 && channels <= 1024, 3,
                lua_pushfstring(L, "channels must be in 1..1024, got %I", channels));
  laudio_push(L, frames, (int)channels, (int)sr, "audio.new");
  return 1;
}

/* Copies the numbers of the list at idx (n of them) into dst; `where` names the list. */
static void fill_from_list(lua_State *L, int idx, lua_Integer n, float *dst, const char *where) {
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, idx, i) != LUA_TNUMBER)
      luaL_argerror(L, 1, lua_pushfstring(L, "sample %I%s must be a number, got %s", i, where,
                                          luaL_typename(L, -1)));
    dst[i - 1] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
}

/* audio.from(M, sr) for a Matrix M: its rows are the channels, its columns the frames
 * (the shape a:matrix() gives), so placements built with matrix.place become sound. */
static int audio_from_matrix(lua_State *L, const lmatrix *M) {
  int sr = check_sr_arg(L, 2);
  if (M->m.data == NULL) return luaL_argerror(L, 1, "matrix has been freed");
  if (M->m.rows < 1 || M->m.rows > TSR_AUDIO_MAX_CHANNELS)
    return luaL_argerror(L, 1, lua_pushfstring(L, "a matrix of %I rows cannot be audio "
                                               "(rows are channels: 1..%d)",
                                               (lua_Integer)M->m.rows, TSR_AUDIO_MAX_CHANNELS));
  int channels = (int)M->m.rows;
  laudio *A = laudio_push(L, M->m.cols, channels, sr, "tessera.audio.from");
  for (int c = 0; c < channels; c++) {
    float *dst = chan(&A->a, c);
    for (int64_t f = 0; f < M->m.cols; f++) dst[f] = M->m.data[c + f * channels];
  }
  return 1;
}

/* audio.from(samples, sr): a list of numbers is mono; a list of lists, one per channel;
 * a Matrix, one row per channel. */
static int audio_from(lua_State *L) {
  const lmatrix *M = lmatrix_test(L, 1);
  if (M != NULL) return audio_from_matrix(L, M);
  luaL_checktype(L, 1, LUA_TTABLE);
  int sr = check_sr_arg(L, 2);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n > 0 && lua_rawgeti(L, 1, 1) == LUA_TTABLE) {
    lua_pop(L, 1);
    if (n > TSR_AUDIO_MAX_CHANNELS)
      luaL_argerror(L, 1, lua_pushfstring(L, "%I channels exceed the limit of %d", n,
                                          TSR_AUDIO_MAX_CHANNELS));
    lua_rawgeti(L, 1, 1);
    lua_Integer frames = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    for (lua_Integer c = 1; c <= n; c++) {
      if (lua_rawgeti(L, 1, c) != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "channel %I must be a table, got %s", c,
                                            luaL_typename(L, -1)));
      lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
      if (len != frames)
        luaL_argerror(L, 1, lua_pushfstring(L, "channel %I has %I samples, channel 1 has %I",
                                            c, len, frames));
      lua_pop(L, 1);
    }
    laudio *A = laudio_push(L, frames, (int)n, sr, "tessera.audio.from");
    for (lua_Integer c = 1; c <= n; c++) {
      lua_rawgeti(L, 1, c);
      char where[48];
      snprintf(where, sizeof where, " of channel %lld", (long long)c);
      fill_from_list(L, lua_gettop(L), frames, chan(&A->a, (int)c - 1), where);
      lua_pop(L, 1);
    }
    return 1;
  }
  if (n > 0) lua_pop(L, 1);
  laudio *A = laudio_push(L, n, 1, sr, "tessera.audio.from");
  fill_from_list(L, 1, n, A->a.data, "");
  return 1;
}

/* Index of option `key` (a string among names) in the table at arg, or -1 when absent. */
static int opt_choice(lua_State *L, int arg, const char *key, const char *const names[],
                      const char *valid) {
  if (lua_isnoneornil(L, arg)) return -1;
  int t = lua_getfield(L, arg, key);
  int found = -1;
  if (t != LUA_TNIL) {
    const char *v = lua_tostring(L, -1);
    for (int i = 0; t == LUA_TSTRING && names[i] != NULL && found < 0; i++)
      if (strcmp(v, names[i]) == 0) found = i;
    if (found < 0) {
      /* The value as shown, then the hint: each pushed in turn, the order fixed. */
      const char *shown = t == LUA_TSTRING ? lua_pushfstring(L, "'%s'", v)
                                           : luaL_tolstring(L, -1, NULL);
      const char *hint = t == LUA_TSTRING ? laux_did_you_mean(L, v, names) : "";
      luaL_argerror(L, arg, lua_pushfstring(L, "%s must be one of %s, got %s%s", key, valid,
                                            shown, hint));
    }
  }
  lua_pop(L, 1);
  return found;
}

/* Resampling qualities by name, in enum tsr_resample_quality's order: libsamplerate's
 * sinc converters, then "poly", scipy.signal.resample_poly's polyphase filter. */
static const char *const quality_names[] = {"best", "medium", "fast", "poly", NULL};
#define QUALITY_VALID "'best', 'medium', 'fast', 'poly'"

static const char *const load_options[] = {"sr", "mono", "offset", "duration", "quality",
                                           NULL};

/* audio.load(path [, {sr=, mono=true, offset=, duration=, quality="best"}]); quality is
 * "best", "medium", "fast" (libsamplerate: round(frames * sr / rate) frames) or "poly"
 * (scipy.signal.resample_poly's samples: ceil(frames * sr / rate) frames). */
static int audio_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tsr_load_opts o = {0, 1, 0.0, 0.0, TSR_RESAMPLE_BEST};
  laux_check_options(L, 2, load_options);
  if (!lua_isnoneornil(L, 2)) {
    int t = lua_getfield(L, 2, "sr");
    if (t != LUA_TNIL) {
      int isint = 0;
      lua_Integer sr = lua_tointegerx(L, -1, &isint);
      if (t != LUA_TNUMBER || !isint || sr <= 0 || sr > INT32_MAX)
        luaL_argerror(L, 2, lua_pushfstring(L, "sr must be a positive integer, got %s",
                                            luaL_tolstring(L, -1, NULL)));
      o.sr = (int)sr;
    }
    lua_pop(L, 1);
    o.mono = laux_opt_boolean(L, 2, "mono", 1);
    o.offset = opt_bounded(L, 2, "offset", 0.0, 0.0, 1, "a finite number >= 0");
    o.duration = opt_bounded(L, 2, "duration", 0.0, 0.0, 0, "a finite number > 0");
    int quality = opt_choice(L, 2, "quality", quality_names, QUALITY_VALID);
    if (quality >= 0) o.quality = quality;
  }
  tsr_audio a = {0};
  tsr_error err = {{0}};
  int st = tsr_audio_load(path, &o, &a, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.audio.load", st, &err);
  laudio_adopt(L, &a, "tessera.audio.load");
  return 1;
}

/* audio.info(path) -> {format = "WAV", subtype = "PCM_16", bits = 16, sr =, channels =,
 * frames =, duration = seconds}: the file's header, its samples not decoded (bits 0 for a
 * lossy codec). */
static int audio_info(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tsr_audio_info info;
  tsr_error err = {{0}};
  int st = tsr_audio_probe(path, &info, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.audio.info", st, &err);
  lua_createtable(L, 0, 7);
  lua_pushstring(L, info.format);
  lua_setfield(L, -2, "format");
  lua_pushstring(L, info.subtype);
  lua_setfield(L, -2, "subtype");
  lua_pushinteger(L, info.bits);
  lua_setfield(L, -2, "bits");
  lua_pushinteger(L, info.sr);
  lua_setfield(L, -2, "sr");
  lua_pushinteger(L, info.channels);
  lua_setfield(L, -2, "channels");
  lua_pushinteger(L, (lua_Integer)info.frames);
  lua_setfield(L, -2, "frames");
  lua_pushnumber(L, info.sr > 0 ? (lua_Number)info.frames / info.sr : 0.0);
  lua_setfield(L, -2, "duration");
  return 1;
}

/* ---- access ---- */

static int audio_len(lua_State *L) {
  lua_pushinteger(L, laudio_check(L, 1)->a.frames);
  return 1;
}

static int audio_duration(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  lua_pushnumber(L, (lua_Number)A->a.frames / A->a.sr);
  return 1;
}

static int audio_get(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  int64_t i = check_index(L, 2, &A->a);
  int c = check_channel(L, 3, &A->a);
  lua_pushnumber(L, chan(&A->a, c)[i]);
  return 1;
}

/* In place. NaN is allowed here (it is a sample like any other); save refuses it. */
static int audio_set(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  int64_t i = check_index(L, 2, &A->a);
  float v = (float)luaL_checknumber(L, 3);
  int c = check_channel(L, 4, &A->a);
  chan(&A->a, c)[i] = v;
  return 0;
}

static void push_channel_list(lua_State *L, const tsr_audio *a, int c) {
  const float *x = chan(a, c);
  lua_createtable(L, a->frames > INT32_MAX ? 0 : (int)a->frames, 0);
  for (int64_t f = 0; f < a->frames; f++) {
    lua_pushnumber(L, x[f]);
    lua_rawseti(L, -2, (lua_Integer)f + 1);
  }
}

/* a:totable([ch]): one channel as a list; without ch, mono gives a list and several
 * channels a list of lists (the shapes audio.from takes). */
static int audio_totable(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  if (!lua_isnoneornil(L, 2) || A->a.channels == 1) {
    push_channel_list(L, &A->a, check_channel(L, 2, &A->a));
    return 1;
  }
  lua_createtable(L, A->a.channels, 0);
  for (int c = 0; c < A->a.channels; c++) {
    push_channel_list(L, &A->a, c);
    lua_rawseti(L, -2, c + 1);
  }
  return 1;
}

/* a:matrix() -> a channels x frames Matrix (row c is channel c): the samples as
 * tessera.matrix.place and the matrix operations take them. */
static int audio_matrix(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  int channels = A->a.channels;
  lmatrix *M = lmatrix_push_unfilled(L, channels, A->a.frames, "tessera.audio.matrix");
  for (int c = 0; c < channels; c++) {
    const float *src = chan(&A->a, c);
    for (int64_t f = 0; f < A->a.frames; f++) M->m.data[c + f * channels] = src[f];
  }
  return 1;
}

/* ---- saving ---- */

static const char *const save_options[] = {"format", "subtype", NULL};
static const char *const format_names[] = {"wav", "flac", NULL};
static const char *const subtype_names[] = {"pcm16", "pcm24", "float", NULL};

/* The format named by path's extension (case-insensitive), or -1. */
static int format_from_extension(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash : path, '.');
  if (dot == NULL) return -1;
  char ext[8];
  size_t n = strlen(dot + 1);
  if (n == 0 || n >= sizeof ext) return -1;
  for (size_t i = 0; i <= n; i++) {
    char ch = dot[1 + i];
    ext[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
  }
  for (int i = 0; format_names[i] != NULL; i++)
    if (strcmp(ext, format_names[i]) == 0) return i;
  return -1;
}

/* a:save(path [, {format=, subtype=}]) */
static int audio_save(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  const char *path = luaL_checkstring(L, 2);
  laux_check_options(L, 3, save_options);
  int format = opt_choice(L, 3, "format", format_names, "'wav', 'flac'");
  int subtype = opt_choice(L, 3, "subtype", subtype_names, "'pcm16', 'pcm24', 'float'");
  if (format < 0) format = format_from_extension(path);
  if (format < 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "cannot tell the format of '%s': use the extension "
                                           ".wav or .flac, or give format = 'wav' or 'flac'",
                                        path));
  if (subtype < 0) subtype = format == TSR_AUDIO_FLAC ? TSR_AUDIO_PCM24 : TSR_AUDIO_FLOAT;
  if (format == TSR_AUDIO_FLAC && subtype == TSR_AUDIO_FLOAT)
    luaL_argerror(L, 3, "flac cannot hold float samples, use subtype 'pcm16' or 'pcm24'");
  tsr_error err = {{0}};
  int st = tsr_audio_save(&A->a, path, (tsr_audio_format)format, (tsr_audio_subtype)subtype,
                          &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.audio.save", st, &err);
  return 0;
}

/* ---- operations (each returns new Audio) ---- */

static int audio_copy(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  laudio *B = laudio_push(L, A->a.frames, A->a.channels, A->a.sr, "tessera.audio.copy");
  memcpy(B->a.data, A->a.data, (size_t)A->a.frames * (size_t)A->a.channels * sizeof(float));
  return 1;
}

static int audio_gain(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  float g = check_finite(L, 2, "factor");
  laudio *B = laudio_push(L, A->a.frames, A->a.channels, A->a.sr, "tessera.audio.gain");
  size_t total = (size_t)A->a.frames * (size_t)A->a.channels;
  for (size_t i = 0; i < total; i++) B->a.data[i] = A->a.data[i] * g;
  return 1;
}

/* a:mix(b [, gain_b]): a + gain_b * b, as long as the longer of the two. */
static int audio_mix(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  laudio *B = laudio_check(L, 2);
  check_compatible(L, 2, &A->a, &B->a);
  float g = lua_isnoneornil(L, 3) ? 1.0f : check_finite(L, 3, "gain_b");
  int64_t n = A->a.frames > B->a.frames ? A->a.frames : B->a.frames;
  laudio *R = laudio_push(L, n, A->a.channels, A->a.sr, "tessera.audio.mix");
  for (int c = 0; c < A->a.channels; c++) {
    float *r = chan(&R->a, c);
    const float *x = chan(&A->a, c), *y = chan(&B->a, c);
    memcpy(r, x, (size_t)A->a.frames * sizeof(float));
    for (int64_t f = 0; f < B->a.frames; f++) r[f] += g * y[f];
  }
  return 1;
}

/* Frames [first, first+count) of a into a new Audio. */
static laudio *push_range(lua_State *L, const tsr_audio *a, int64_t first, int64_t count,
                          const char *who) {
  laudio *R = laudio_push(L, count, a->channels, a->sr, who);
  for (int c = 0; c < a->channels; c++)
    memcpy(chan(&R->a, c), chan(a, c) + first, (size_t)count * sizeof(float));
  return R;
}

/* string.sub's rule for a position: negative counts from the end. */
static lua_Integer relative_pos(lua_Integer pos, int64_t len) {
  if (pos >= 0) return pos;
  if (-pos > len) return 0;
  return len + pos + 1;
}

/* a:slice(i [, j]): frames i..j, positions as in string.sub (negative from the end,
 * clamped to the audio, empty when i > j). */
static int audio_slice(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  int64_t len = A->a.frames;
  lua_Integer i = relative_pos(luaL_checkinteger(L, 2), len);
  lua_Integer j = relative_pos(luaL_optinteger(L, 3, -1), len);
  if (i < 1) i = 1;
  if (j > len) j = len;
  int64_t count = i > j ? 0 : (int64_t)(j - i + 1);
  push_range(L, &A->a, i > j ? 0 : (int64_t)i - 1, count, "tessera.audio.slice");
  return 1;
}

/* a:concat(b) and a .. b: b's frames after a's. */
static int audio_concat(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  laudio *B = laudio_check(L, 2);
  check_compatible(L, 2, &A->a, &B->a);
  if (A->a.frames > INT64_MAX - B->a.frames)
    return luaL_error(L, "tessera.audio.concat: the result is too long");
  laudio *R = laudio_push(L, A->a.frames + B->a.frames, A->a.channels, A->a.sr,
                          "tessera.audio.concat");
  for (int c = 0; c < A->a.channels; c++) {
    memcpy(chan(&R->a, c), chan(&A->a, c), (size_t)A->a.frames * sizeof(float));
    memcpy(chan(&R->a, c) + A->a.frames, chan(&B->a, c), (size_t)B->a.frames * sizeof(float));
  }
  return 1;
}

/* a:tile(frames): a repeated (and cut) to exactly `frames` frames. */
static int audio_tile(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, lua_pushfstring(L, "frames must be >= 0, got %I", n));
  if (n > 0 && A->a.frames == 0) luaL_argerror(L, 1, "cannot tile empty audio");
  laudio *R = laudio_push(L, n, A->a.channels, A->a.sr, "tessera.audio.tile");
  for (int c = 0; c < A->a.channels; c++) {
    float *r = chan(&R->a, c);
    for (int64_t done = 0; done < n; done += A->a.frames) {
      int64_t k = n - done < A->a.frames ? n - done : A->a.frames;
      memcpy(r + done, chan(&A->a, c), (size_t)k * sizeof(float));
    }
  }
  return 1;
}

/* a:channel(c) -> mono Audio: channel c (1-based) of a. */
static int audio_channel(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  luaL_checkinteger(L, 2);
  int c = check_channel(L, 2, &A->a);
  laudio *R = push_audio(L, A->a.frames, 1, A->a.sr, 0, "tessera.audio.channel");
  memcpy(R->a.data, chan(&A->a, c), (size_t)A->a.frames * sizeof(float));
  return 1;
}

/* audio.join(a, b, ...) -> Audio whose channels are those of a, then b's, ...: all at one
 * rate and of one length. */
static int audio_join(lua_State *L) {
  const int n = lua_gettop(L);
  laudio *first = laudio_check(L, 1);
  int channels = 0;
  for (int i = 1; i <= n; i++) {
    laudio *A = laudio_check(L, i);
    if (A->a.sr != first->a.sr || A->a.frames != first->a.frames)
      luaL_argerror(L, i, lua_pushfstring(L, "%I frames at %d Hz, the first %I frames at %d Hz",
                                          (lua_Integer)A->a.frames, A->a.sr,
                                          (lua_Integer)first->a.frames, first->a.sr));
    if (A->a.channels > 1024 - channels) luaL_argerror(L, i, "more than 1024 channels");
    channels += A->a.channels;
  }
  laudio *R = push_audio(L, first->a.frames, channels, first->a.sr, 0, "tessera.audio.join");
  int at = 0;
  for (int i = 1; i <= n; i++) {
    laudio *A = laudio_check(L, i);
    for (int c = 0; c < A->a.channels; c++, at++)
      memcpy(chan(&R->a, at), chan(&A->a, c), (size_t)A->a.frames * sizeof(float));
  }
  return 1;
}

static int audio_mono(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  tsr_audio r = {0};
  tsr_error err = {{0}};
  int st = tsr_audio_mixdown(&A->a, &r, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.audio.mono", st, &err);
  laudio_adopt(L, &r, "tessera.audio.mono");
  return 1;
}

static const char *const resample_options[] = {"quality", NULL};

/* a:resample(sr [, {quality="best"}]): the qualities of audio.load. */
static int audio_resample(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  int sr = check_sr_arg(L, 2);
  laux_check_options(L, 3, resample_options);
  int quality = opt_choice(L, 3, "quality", quality_names, QUALITY_VALID);
  tsr_audio r = {0};
  tsr_error err = {{0}};
  int st = tsr_audio_resample_with(&A->a, sr, quality >= 0 ? quality : TSR_RESAMPLE_BEST,
                                   &r, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.audio.resample", st, &err);
  laudio_adopt(L, &r, "tessera.audio.resample");
  return 1;
}

static int audio_peak(lua_State *L) {
  lua_pushnumber(L, tsr_audio_peak(&laudio_check(L, 1)->a));
  return 1;
}

static int audio_rms(lua_State *L) {
  lua_pushnumber(L, tsr_audio_rms(&laudio_check(L, 1)->a));
  return 1;
}

/* a:normalize([peak = 0.99]): scaled so the largest |sample| is `peak`; silence stays. */
static int audio_normalize(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  lua_Number target = 0.99;
  if (!lua_isnoneornil(L, 2)) {
    target = luaL_checknumber(L, 2);
    if (!isfinite(target) || target <= 0)
      luaL_argerror(L, 2, lua_pushfstring(L, "peak must be a finite number > 0, got %s",
                                          luaL_tolstring(L, 2, NULL)));
  }
  double peak = tsr_audio_peak(&A->a);
  double scale = peak > 0 ? target / peak : 1.0;
  laudio *B = laudio_push(L, A->a.frames, A->a.channels, A->a.sr, "tessera.audio.normalize");
  size_t total = (size_t)A->a.frames * (size_t)A->a.channels;
  for (size_t i = 0; i < total; i++) B->a.data[i] = (float)(A->a.data[i] * scale);
  return 1;
}

static int audio_tostring(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  lua_pushfstring(L, "Audio(%I frames, %d channels, %d Hz)", (lua_Integer)A->a.frames,
                  A->a.channels, A->a.sr);
  return 1;
}

/* Fields (.sr, .channels) first, then methods. */
static int audio_index(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  const char *key = lua_tostring(L, 2);
  if (key != NULL && strcmp(key, "sr") == 0) {
    lua_pushinteger(L, A->a.sr);
    return 1;
  }
  if (key != NULL && strcmp(key, "channels") == 0) {
    lua_pushinteger(L, A->a.channels);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static const luaL_Reg audio_functions[] = {
  {"new", audio_new},
  {"from", audio_from},
  {"join", audio_join},
  {"load", audio_load},
  {"info", audio_info},
  {NULL, NULL}
};

static const luaL_Reg audio_methods[] = {
  {"duration", audio_duration},
  {"get", audio_get},
  {"set", audio_set},
  {"totable", audio_totable},
  {"matrix", audio_matrix},
  {"save", audio_save},
  {"copy", audio_copy},
  {"gain", audio_gain},
  {"mix", audio_mix},
  {"slice", audio_slice},
  {"concat", audio_concat},
  {"tile", audio_tile},
  {"mono", audio_mono},
  {"channel", audio_channel},
  {"resample", audio_resample},
  {"peak", audio_peak},
  {"rms", audio_rms},
  {"normalize", audio_normalize},
  {NULL, NULL}
};

static const luaL_Reg audio_metamethods[] = {
  {"__close", audio_close},
  {"__len", audio_len},
  {"__concat", audio_concat},
  {"__tostring", audio_tostring},
  {NULL, NULL}
};

void audio_open(lua_State *L) {
  luaL_newmetatable(L, TSR_AUDIO_MT);
  luaL_setfuncs(L, audio_metamethods, 0);
  luaL_newlib(L, audio_methods);
  lua_pushcclosure(L, audio_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, audio_functions);
  lua_setfield(L, -2, "audio");
}
