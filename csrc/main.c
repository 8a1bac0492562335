/* bin/tessera: the Lua 5.4 host. (Minimal for now: runs one script.) */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

#include "lua/l_tessera.h"

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_tessera_core);
  lua_setfield(L, -2, "tessera.core");
  lua_pop(L, 1);
  int status = argc > 1 ? luaL_dofile(L, argv[1]) : 0;
  if (status != LUA_OK) fprintf(stderr, "tessera: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
