/* luaopen_tessera_core: the module table, one sub-table per area, and core.type. The
 * helpers the bindings share live in l_aux.c. */
#include <stdlib.h>

#include "l_tessera.h"

/* The userdata types by metatable name, and what core.type calls them. */
static const char *const type_names[][2] = {
  {TSR_MATRIX_MT, "Matrix"},
  {TSR_AUDIO_MT, "Audio"},
  {TSR_SPECTROGRAM_MT, "Spectrogram"},
};

/* core.type(v) -> "Matrix" | "Audio" | "Spectrogram", or fail (nil) for any other value,
 * as io.type does for files. */
static int core_type(lua_State *L) {
  luaL_checkany(L, 1);
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
    if (luaL_testudata(L, 1, type_names[i][0]) != NULL) {
      lua_pushstring(L, type_names[i][1]);
      return 1;
    }
  }
  luaL_pushfail(L);
  return 1;
}

int luaopen_tessera_core(lua_State *L) {
  /* A cap that does not parse would otherwise mean no cap at all, silently. */
  const char *cap = getenv("TESSERA_MAX_MEMORY");
  size_t bytes;
  if (cap != NULL && *cap != '\0' && tsr_parse_memory_size(cap, &bytes) != 0)
    return luaL_error(L, "TESSERA_MAX_MEMORY must be a size such as 512M, 2G or 1048576, "
                      "got '%s'", cap);
  lmem_count_heap(L);
  lua_gc(L, LUA_GCINC, 0, 0, 0); /* as the host: see csrc/main.c and docs/DECISIONS.md */
  lua_newtable(L);
  lua_pushliteral(L, TSR_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushcfunction(L, core_type);
  lua_setfield(L, -2, "type");
  matrix_open(L);
  audio_open(L);
  stft_open(L);
  nmf_open(L);
  util_open(L);
  listen_open(L);
  sandbox_open(L);
  crosssynth_open(L);
  eval_open(L);
  hpss_open(L);
  pitch_open(L);
  morph_open(L);
  return 1;
}
