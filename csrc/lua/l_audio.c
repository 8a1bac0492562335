/* tessera.Audio: sampled sound for Lua (loading, saving and simple operations). */
#include <string.h>

#include "l_tessera.h"

static int audio_gc(lua_State *L) {
  laudio *A = luaL_checkudata(L, 1, TSR_AUDIO_MT);
  tsr_free(A->a.data);
  A->a.data = NULL;
  return 0;
}

laudio *laudio_push(lua_State *L, int64_t frames, int channels, int sr, const char *who) {
  size_t count, bytes;
  if (frames < 0 || channels < 1 ||
      tsr_mul_size((size_t)frames, (size_t)channels, &count) != 0 ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0)
    luaL_error(L, "%s: %I frames of %d channels is too large", who, (lua_Integer)frames,
               channels);
  laudio *A = lua_newuserdatauv(L, sizeof *A, 0);
  memset(A, 0, sizeof *A);
  luaL_setmetatable(L, TSR_AUDIO_MT);
  float *data = tsr_calloc(count ? count : 1, sizeof(float));
  if (data == NULL)
    luaL_error(L, "%s: cannot allocate %I frames of %d channels (%f MB)", who,
               (lua_Integer)frames, channels, (double)bytes / 1e6);
  A->a.frames = frames;
  A->a.channels = channels;
  A->a.sr = sr;
  A->a.data = data;
  return A;
}

laudio *laudio_check(lua_State *L, int arg) {
  laudio *A = luaL_checkudata(L, arg, TSR_AUDIO_MT);
  if (A->a.data == NULL) luaL_argerror(L, arg, "audio has been freed");
  return A;
}

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

static int audio_len(lua_State *L) {
  lua_pushinteger(L, laudio_check(L, 1)->a.frames);
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
  {NULL, NULL}
};

static const luaL_Reg audio_methods[] = {
  {NULL, NULL}
};

static const luaL_Reg audio_metamethods[] = {
  {"__gc", audio_gc},
  {"__close", audio_gc},
  {"__len", audio_len},
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
