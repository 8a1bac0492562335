/* libFuzzer harness: the recipe loader. Each input is a recipe's text, written to a file in
 * a private folder and loaded by tessera.recipe.load in the sandbox (restricted
 * environment, small CPU and memory budgets) and checked; an error is a normal outcome,
 * a crash or a sanitizer report is not. One Lua state serves every input, as one host
 * process serves many recipes in `tessera live`. TESSERA_ROOT (set by scripts/fuzz.sh)
 * is the repository, for package.path.
 * Also a failure (abort): any file written outside the recipe's folder or in it (a recipe
 * writes nothing while it loads: the folder above it and VICTIM are watched), and any load
 * that runs past its budget (a 1-second wall clock, checked at 5 seconds). recipe.dict
 * holds the constructs of spec/hostile_spec.lua to build such recipes from. */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../csrc/lua/l_tessera.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L = NULL;
static char recipe_path[4096], outer[4096], inner[4096];

/* A path a hostile recipe names as its target (recipe.dict has it). */
#define VICTIM "/tmp/tessera-fuzz-victim.wav"

/* How many entries a folder holds (. and .. aside), or -1. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char setup[] =
  "local root = ...\n"
  "package.path = root .. '/lua/?.lua;' .. root .. '/lua/?/init.lua;' .. package.path\n"
  "local recipe = require 'tessera.recipe'\n"
  "return function(path)\n"
  "  return pcall(recipe.load, path, { memory = 16 * 1024 * 1024, instructions = 200000,\n"
  "                                     seconds = 1 })\n"
  "end\n";

static void init(void) {
  const char *root = getenv("TESSERA_ROOT");
  if (root == NULL) root = ".";
  char dir[] = "/tmp/tessera-fuzz-recipe-XXXXXX";
  if (mkdtemp(dir) == NULL) abort();
  snprintf(outer, sizeof outer, "%s", dir);
  snprintf(inner, sizeof inner, "%s/rec", dir);
  if (mkdir(inner, 0700) != 0) abort();
  snprintf(recipe_path, sizeof recipe_path, "%s/recipe.lua", inner);
  unlink(VICTIM);
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
  double t0 = now();
  /* The loader catches every error itself: a failure here is a bug. */
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_recipe: the loader itself failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  double seconds = now() - t0;
  if (seconds > 5.0) {
    fprintf(stderr, "fuzz_recipe: a load ran %.1f s, past its 1-second limit\n", seconds);
    abort();
  }
  struct stat sb;
  if (entries(outer) != 1 || entries(inner) != 1 || stat(VICTIM, &sb) == 0) {
    fprintf(stderr, "fuzz_recipe: a recipe wrote a file (%s holds %d entries, %s %d, %s %s)\n",
            outer, entries(outer), inner, entries(inner), VICTIM,
            stat(VICTIM, &sb) == 0 ? "exists" : "absent");
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
