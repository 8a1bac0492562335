/* tessera.Spectrogram and the STFT bindings: core.stft, the Spectrogram methods
 * (magnitude, phase, istft, mask, ...) and core.spectrogram.from_polar. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "l_tessera.h"

/* ---- the userdata ------------------------------------------------------------------ */

/* __close: the data is let go at once (the collector frees it on its next pass). No __gc,
 * as for Matrix (l_matrix.c): the block goes with the object. */
static int spectrogram_close(lua_State *L) {
  lspectrogram *S = luaL_checkudata(L, 1, TSR_SPECTROGRAM_MT);
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  S->s.data = NULL;
  return 0;
}

/* Pushes a new Spectrogram with shape's geometry; its data is zero-filled when `zero`, left
 * unset otherwise (for a caller that writes every entry: no pass over fresh pages). */
static lspectrogram *push_spectrogram(lua_State *L, const tsr_spectrogram *shape,
                                      const char *who, int zero) {
  size_t count;
  if (tsr_spectrogram_floats(shape, &count) != 0)
    luaL_error(L, "%s: a %I x %I spectrogram is too large", who, (lua_Integer)shape->bins,
               (lua_Integer)shape->frames);
  char what[96];
  snprintf(what, sizeof what, "a %lld x %lld spectrogram", (long long)shape->bins,
           (long long)shape->frames);
  lspectrogram *S = lua_newuserdatauv(L, sizeof *S, 1);
  memset(S, 0, sizeof *S);
  luaL_setmetatable(L, TSR_SPECTROGRAM_MT);
  /* count * sizeof(float) fits: tsr_spectrogram_floats checked it. */
  float *data = lmem_push_block(L, count * sizeof(float), zero, who, what);
  lua_setiuservalue(L, -2, 1);
  S->s = *shape;
  S->s.data = data;
  return S;
}

lspectrogram *lspectrogram_push(lua_State *L, const tsr_spectrogram *shape, const char *who) {
  return push_spectrogram(L, shape, who, 1);
}

lspectrogram *lspectrogram_check(lua_State *L, int arg) {
  lspectrogram *S = luaL_checkudata(L, arg, TSR_SPECTROGRAM_MT);
  if (S->s.data == NULL) luaL_argerror(L, arg, "spectrogram has been freed");
  return S;
}

/* ---- shared checks ----------------------------------------------------------------- */

/* Raises an argument error naming the matrix when it is not bins x frames. */
static void check_shape(lua_State *L, int arg, const char *what, const lmatrix *M,
                        const tsr_spectrogram *s) {
  if (M->m.rows != s->bins || M->m.cols != s->frames)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s is %I x %I but the spectrogram is %I x %I",
                                          what, (lua_Integer)M->m.rows,
                                          (lua_Integer)M->m.cols, (lua_Integer)s->bins,
                                          (lua_Integer)s->frames));
}

/* Raises an argument error at the first NaN/Inf entry of M (and the first negative one
 * when nonneg), with its 1-based row and column. */
static void check_entries(lua_State *L, int arg, const char *what, const lmatrix *M,
                          int nonneg) {
  const int64_t rows = M->m.rows, count = M->m.rows * M->m.cols;
  for (int64_t k = 0; k < count; k++) {
    float v = M->m.data[k];
    if (isfinite(v) && !(nonneg && v < 0.0f)) continue;
    lua_Integer row = (lua_Integer)(k % rows) + 1, col = (lua_Integer)(k / rows) + 1;
    const char *msg;
    if (isnan(v))
      msg = lua_pushfstring(L, "%s entry (%I, %I) is nan", what, row, col);
    else if (isinf(v))
      msg = lua_pushfstring(L, "%s entry (%I, %I) is %s", what, row, col,
                            v > 0 ? "inf" : "-inf");
    else
      msg = lua_pushfstring(L, "%s entry (%I, %I) is negative (%f)", what, row, col,
                            (lua_Number)v);
    luaL_argerror(L, arg, msg);
  }
}

/* ---- tessera.stft ------------------------------------------------------------------ */

/* max_memory is listed so that messages name every option of tessera.stft; the Lua layer
 * (lua/tessera/memory.lua) applies it and removes it before calling here. */
static const char *const stft_options[] = {"n_fft", "hop", "window", "center", "magnitude",
                                           "threads", "max_memory", NULL};
static const char *const window_names[] = {"hann", "hamming", "rect", NULL};

/* stft(audio [, {n_fft=2048, hop=n_fft/4, window="hann", center=true, magnitude=false,
 * threads}]) -> Spectrogram, or with magnitude=true its magnitude as a Matrix (bins x
 * frames): the same bits as stft(audio, opts):magnitude(), made without the complex
 * spectrogram (twice the Matrix's size, written and read again). threads: 1..64, default
 * tessera's (tsr_pool_default_threads); the result does not depend on it. */
static int stft_stft(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  laux_check_options(L, 2, stft_options);
  if (lua_istable(L, 2) && lua_getfield(L, 2, "max_memory") != LUA_TNIL)
    luaL_argerror(L, 2, "max_memory is applied by tessera.stft, not core.stft");
  if (lua_istable(L, 2)) lua_pop(L, 1);
  lua_Integer n_fft = laux_opt_integer(L, 2, "n_fft", 2048);
  if (n_fft < 2 || n_fft > TSR_STFT_MAX_NFFT || n_fft % 2 != 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "n_fft must be an even integer in 2..%d, got %I",
                                        TSR_STFT_MAX_NFFT, n_fft));
  /* librosa's default hop is a quarter of the window. */
  lua_Integer hop = laux_opt_integer(L, 2, "hop", n_fft / 4 > 0 ? n_fft / 4 : 1);
  if (hop < 1 || hop > n_fft)
    luaL_argerror(L, 2, lua_pushfstring(L, "hop must be in 1..%I, got %I", n_fft, hop));
  const char *window_name = laux_opt_string(L, 2, "window", "hann");
  int window = tsr_window_from_name(window_name);
  if (window < 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "window must be 'hann', 'hamming' or 'rect', "
                                           "got '%s'%s", window_name,
                                        laux_did_you_mean(L, window_name, window_names)));
  int center = laux_opt_boolean(L, 2, "center", 1);
  int magnitude = laux_opt_boolean(L, 2, "magnitude", 0);
  lua_Integer threads = laux_opt_integer(L, 2, "threads", 0); /* 0: the default count */
  if (lua_istable(L, 2)) {
    int given = lua_getfield(L, 2, "threads") != LUA_TNIL;
    lua_pop(L, 1);
    if (given && (threads < 1 || threads > 64))
      luaL_argerror(L, 2, lua_pushfstring(L, "threads must be in 1..64, got %I", threads));
  }
  if (A->a.channels != 1)
    luaL_argerror(L, 1, lua_pushfstring(L, "audio has %d channels: load it with mono=true "
                                           "or call a:mono()", A->a.channels));
  if (A->a.frames < n_fft)
    luaL_argerror(L, 1, lua_pushfstring(L, "audio has %I samples, fewer than n_fft (%I)",
                                        (lua_Integer)A->a.frames, n_fft));

  tsr_stft_config cfg = {(int)n_fft, (int)hop, window, center};
  tsr_spectrogram shape;
  tsr_error err = {{0}};
  int status = tsr_stft_geometry(&cfg, A->a.frames, A->a.sr, &shape, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.stft", status, &err);
  if (magnitude) {
    lmatrix *M = lmatrix_push_unfilled(L, shape.bins, shape.frames, "tessera.stft");
    status = tsr_stft_magnitude(A->a.data, A->a.frames, &cfg, (int)threads, &M->m, &err);
  } else {
    lspectrogram *S = push_spectrogram(L, &shape, "tessera.stft", 0); /* forward fills it */
    status = tsr_stft_forward_threads(A->a.data, A->a.frames, &cfg, (int)threads, &S->s, &err);
  }
  if (status != TSR_OK) return laux_fail(L, "tessera.stft", status, &err);
  return 1;
}

/* ---- methods ----------------------------------------------------------------------- */

static int spectrogram_shape(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lua_pushinteger(L, S->s.bins);
  lua_pushinteger(L, S->s.frames);
  return 2;
}

/* S:get(bin, frame) -> re, im (1-based) */
static int spectrogram_get(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lua_Integer bin = luaL_checkinteger(L, 2);
  lua_Integer frame = luaL_checkinteger(L, 3);
  if (bin < 1 || bin > S->s.bins)
    luaL_argerror(L, 2, lua_pushfstring(L, "bin must be in 1..%I, got %I",
                                        (lua_Integer)S->s.bins, bin));
  if (frame < 1 || frame > S->s.frames)
    luaL_argerror(L, 3, lua_pushfstring(L, "frame must be in 1..%I, got %I",
                                        (lua_Integer)S->s.frames, frame));
  const float *z = S->s.data + 2 * ((bin - 1) + (frame - 1) * S->s.bins);
  lua_pushnumber(L, z[0]);
  lua_pushnumber(L, z[1]);
  return 2;
}

typedef void (*view_fn)(const tsr_spectrogram *, float *);

static int push_view(lua_State *L, view_fn fn, const char *who) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lmatrix *M = lmatrix_push_unfilled(L, S->s.bins, S->s.frames, who); /* fn fills it */
  fn(&S->s, M->m.data);
  return 1;
}

static int spectrogram_magnitude(lua_State *L) {
  return push_view(L, tsr_spectrogram_magnitude, "magnitude");
}

static int spectrogram_power(lua_State *L) {
  return push_view(L, tsr_spectrogram_power, "power");
}

static int spectrogram_phase(lua_State *L) {
  return push_view(L, tsr_spectrogram_phase, "phase");
}

static const char *const istft_options[] = {"length", NULL};

/* S:istft([{length=S.length}]) -> Audio at S.sr */
static int spectrogram_istft(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  laux_check_options(L, 2, istft_options);
  lua_Integer length = laux_opt_integer(L, 2, "length", S->s.length);
  if (length < 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "length must be >= 0, got %I", length));
  laudio *A = laudio_push(L, length, 1, S->s.sr, "istft");
  tsr_error err = {{0}};
  int status = tsr_stft_inverse(&S->s, A->a.data, length, &err);
  if (status != TSR_OK) return laux_fail(L, "istft", status, &err);
  return 1;
}

static int spectrogram_copy(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lspectrogram *C = push_spectrogram(L, &S->s, "copy", 0);
  size_t count;
  tsr_spectrogram_floats(&S->s, &count); /* cannot fail: S exists */
  memcpy(C->s.data, S->s.data, count * sizeof(float));
  return 1;
}

/* S:mask(M) -> a new Spectrogram, each entry times the real M(bin, frame) */
static int spectrogram_mask(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lmatrix *M = lmatrix_check(L, 2);
  check_shape(L, 2, "mask", M, &S->s);
  check_entries(L, 2, "mask", M, 0);
  lspectrogram *R = push_spectrogram(L, &S->s, "mask", 0);
  size_t count;
  tsr_spectrogram_floats(&S->s, &count);
  memcpy(R->s.data, S->s.data, count * sizeof(float));
  tsr_spectrogram_mask(&R->s, M->m.data);
  return 1;
}

/* S:frequencies() -> {0, sr/n_fft, ..., sr/2}: the centre frequency of each bin in Hz */
static int spectrogram_frequencies(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lua_createtable(L, (int)S->s.bins, 0);
  for (int64_t b = 0; b < S->s.bins; b++) {
    lua_pushnumber(L, (lua_Number)b * S->s.sr / S->s.n_fft);
    lua_rawseti(L, -2, b + 1);
  }
  return 1;
}

/* S:times() -> the time of each frame's centre in seconds: f*hop/sr when centred (as
 * librosa.frames_to_time), (f*hop + n_fft/2)/sr otherwise. */
static int spectrogram_times(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lua_Number offset = S->s.center ? 0 : S->s.n_fft / 2;
  lua_createtable(L, S->s.frames < INT32_MAX ? (int)S->s.frames : INT32_MAX, 0);
  for (int64_t f = 0; f < S->s.frames; f++) {
    lua_pushnumber(L, ((lua_Number)f * S->s.hop + offset) / S->s.sr);
    lua_rawseti(L, -2, f + 1);
  }
  return 1;
}

static int spectrogram_tostring(lua_State *L) {
  lspectrogram *S = luaL_checkudata(L, 1, TSR_SPECTROGRAM_MT);
  if (S->s.data == NULL) {
    lua_pushliteral(L, "Spectrogram(closed)");
    return 1;
  }
  lua_pushfstring(L, "Spectrogram(%I bins x %I frames, n_fft %d, hop %d, %d Hz)",
                  (lua_Integer)S->s.bins, (lua_Integer)S->s.frames, S->s.n_fft, S->s.hop,
                  S->s.sr);
  return 1;
}

/* Fields (.sr, .n_fft, .hop, .window, .center, .length, .bins, .frames), then methods.
 * The geometry stays readable after __close; the methods check for freed data. */
static int spectrogram_index(lua_State *L) {
  lspectrogram *S = luaL_checkudata(L, 1, TSR_SPECTROGRAM_MT);
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  if (strcmp(key, "sr") == 0) lua_pushinteger(L, S->s.sr);
  else if (strcmp(key, "n_fft") == 0) lua_pushinteger(L, S->s.n_fft);
  else if (strcmp(key, "hop") == 0) lua_pushinteger(L, S->s.hop);
  else if (strcmp(key, "window") == 0) lua_pushstring(L, tsr_window_name(S->s.window));
  else if (strcmp(key, "center") == 0) lua_pushboolean(L, S->s.center);
  else if (strcmp(key, "length") == 0) lua_pushinteger(L, S->s.length);
  else if (strcmp(key, "bins") == 0) lua_pushinteger(L, S->s.bins);
  else if (strcmp(key, "frames") == 0) lua_pushinteger(L, S->s.frames);
  else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
  }
  return 1;
}

/* ---- tessera.spectrogram ----------------------------------------------------------- */

/* from_polar(mag, phase|nil, like) -> Spectrogram with like's geometry, mag*e^(i*phase) */
static int spectrogram_from_polar(lua_State *L) {
  lmatrix *mag = lmatrix_check(L, 1);
  lmatrix *phase = lua_isnoneornil(L, 2) ? NULL : lmatrix_check(L, 2);
  lspectrogram *like = lspectrogram_check(L, 3);
  check_shape(L, 1, "magnitude", mag, &like->s);
  if (phase != NULL) check_shape(L, 2, "phase", phase, &like->s);
  check_entries(L, 1, "magnitude", mag, 1);
  if (phase != NULL) check_entries(L, 2, "phase", phase, 0);
  lspectrogram *S = push_spectrogram(L, &like->s, "from_polar", 0);
  tsr_spectrogram_set_polar(&S->s, mag->m.data, phase ? phase->m.data : NULL);
  return 1;
}

/* S:with_magnitude(mag) -> Spectrogram: mag (bins x frames, >= 0) with S's phase, as
 * from_polar(mag, S:phase(), S) (phase 0 where S is 0), without the trigonometry. */
static int spectrogram_with_magnitude(lua_State *L) {
  lspectrogram *like = lspectrogram_check(L, 1);
  lmatrix *mag = lmatrix_check(L, 2);
  check_shape(L, 2, "magnitude", mag, &like->s);
  check_entries(L, 2, "magnitude", mag, 1);
  lspectrogram *S = push_spectrogram(L, &like->s, "with_magnitude", 0);
  memcpy(S->s.data, like->s.data, 2 * (size_t)like->s.bins * (size_t)like->s.frames * sizeof(float));
  tsr_spectrogram_set_magnitude(&S->s, mag->m.data);
  return 1;
}

static const luaL_Reg spectrogram_functions[] = {
  {"from_polar", spectrogram_from_polar},
  {NULL, NULL}
};

static const luaL_Reg spectrogram_methods[] = {
  {"shape", spectrogram_shape},
  {"get", spectrogram_get},
  {"magnitude", spectrogram_magnitude},
  {"power", spectrogram_power},
  {"phase", spectrogram_phase},
  {"istft", spectrogram_istft},
  {"copy", spectrogram_copy},
  {"mask", spectrogram_mask},
  {"with_magnitude", spectrogram_with_magnitude},
  {"frequencies", spectrogram_frequencies},
  {"times", spectrogram_times},
  {NULL, NULL}
};

static const luaL_Reg spectrogram_metamethods[] = {
  {"__close", spectrogram_close},
  {"__tostring", spectrogram_tostring},
  {NULL, NULL}
};

void stft_open(lua_State *L) {
  luaL_newmetatable(L, TSR_SPECTROGRAM_MT);
  luaL_setfuncs(L, spectrogram_metamethods, 0);
  luaL_newlib(L, spectrogram_methods);
  lua_pushcclosure(L, spectrogram_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, spectrogram_functions);
  lua_pushinteger(L, TSR_STFT_MAX_NFFT);
  lua_setfield(L, -2, "max_n_fft");
  laux_push_names(L, stft_options); /* the one list: spectrogram.frame_count takes it too */
  lua_setfield(L, -2, "stft_options");
  lua_setfield(L, -2, "spectrogram");
  lua_pushcfunction(L, stft_stft);
  lua_setfield(L, -2, "stft");
}
