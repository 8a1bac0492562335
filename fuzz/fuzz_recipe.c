/* libFuzzer harness: the recipe loader. Each input is a recipe's text, written to a file in
 * a private folder and loaded by tessera.recipe.load in the sandbox (restricted
 * environment, small CPU and memory budgets) and checked; an error is a normal outcome,
 * a crash or a sanitizer report is not. One Lua state serves every input, as one host
 * process serves many recipes in `tessera live`. TESSERA_ROOT (set by scripts/fuzz.sh)
 * is the repository, for package.path. */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../csrc/lua/l_tessera.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L = NULL;
static char recipe_path[4096];

static const char setup[] =
  "local root = ...\n"
  "package.path = root .. '/lua/?.lua;' .. root .. '/lua/?/init.lua;' .. package.path\n"
  "local recipe = require 'tessera.recipe'\n"
  "return function(path)\n"
  "  return pcall(recipe.load, path, { memory = 16 * 1024 * 1024, instructions = 200000 })\n"
  "end\n";

static void init(void) {
  const char *root = getenv("TESSERA_ROOT");
  if (root == NULL) root = ".";
  char dir[] = "/tmp/tessera-fuzz-recipe-XXXXXX";
  if (mkdtemp(dir) == NULL) abort();
  snprintf(recipe_path, sizeof recipe_path, "%s/recipe.lua", dir);
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_tessera_core);
  lua_setfield(L, -2, "tessera.core");
  lua_pop(L, 1);
  if (luaL_loadstring(L, setup) != LUA_OK) abort();
  lua_pushstring(L, root);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_recipe: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.load");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) init();
  FILE *f = fopen(recipe_path, "wb");
  if (f == NULL) abort();
  if (size > 0 && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.load");
  lua_pushstring(L, recipe_path);
  /* The loader catches every error itself: a failure here is a bug. */
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_recipe: the loader itself failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
