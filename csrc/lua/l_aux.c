/* The helpers every binding shares: raising a kernel's status as a Lua error, and reading
 * and checking options tables. Their prefix is laux_ (the kernels' is tsr_). */
#include <string.h>

#include "../names.h"
#include "l_tessera.h"

const char *laux_did_you_mean(lua_State *L, const char *name, const char *const valid[]) {
  const char *close = tsr_closest_name(name, valid, (size_t)-1);
  if (close == NULL) {
    lua_pushliteral(L, "");
    return "";
  }
  return lua_pushfstring(L, "; did you mean '%s'?", close);
}

void laux_check_entries(lua_State *L, const char *who, const tsr_matrix *m, const char *name) {
  tsr_error err = {{0}};
  int status = tsr_check_entries(m->data, m->rows, m->cols, name, &err);
  if (status != TSR_OK) laux_fail(L, who, status, &err);
}

int laux_fail(lua_State *L, const char *who, int status, const tsr_error *err) {
  const char *detail = (err != NULL && err->msg[0] != '\0') ? err->msg : tsr_strerror(status);
  return luaL_error(L, "%s: %s", who, detail);
}

void laux_push_names(lua_State *L, const char *const names[]) {
  lua_newtable(L);
  for (int i = 0; names[i] != NULL; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Pushes field `key` of the table at arg (which may be absent/nil) and returns its type. */
static int opt_field(lua_State *L, int arg, const char *key) {
  if (lua_isnoneornil(L, arg)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  luaL_checktype(L, arg, LUA_TTABLE);
  return lua_getfield(L, arg, key);
}

static int opt_error(lua_State *L, int arg, const char *key, const char *expected) {
  const char *msg = lua_pushfstring(L, "%s must be %s, got %s", key, expected,
                                    luaL_typename(L, -1));
  return luaL_argerror(L, arg, msg);
}

lua_Integer laux_opt_integer(lua_State *L, int arg, const char *key, lua_Integer def) {
  int t = opt_field(L, arg, key);
  lua_Integer v = def;
  if (t != LUA_TNIL) {
    int isint = 0;
    v = lua_tointegerx(L, -1, &isint);
    if (!isint) {
      if (t == LUA_TNUMBER) {
        const char *msg = lua_pushfstring(L, "%s must be an integer, got %s", key,
                                          lua_tostring(L, -1));
        return luaL_argerror(L, arg, msg);
      }
      return opt_error(L, arg, key, "an integer");
    }
  }
  lua_pop(L, 1);
  return v;
}

lua_Number laux_opt_number(lua_State *L, int arg, const char *key, lua_Number def) {
  int t = opt_field(L, arg, key);
  lua_Number v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TNUMBER) return opt_error(L, arg, key, "a number");
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

int laux_opt_boolean(lua_State *L, int arg, const char *key, int def) {
  int t = opt_field(L, arg, key);
  int v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TBOOLEAN) return opt_error(L, arg, key, "a boolean");
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

const char *laux_opt_string(lua_State *L, int arg, const char *key, const char *def) {
  int t = opt_field(L, arg, key);
  const char *v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TSTRING) return (opt_error(L, arg, key, "a string"), NULL);
    v = lua_tostring(L, -1); /* anchored in the options table */
  }
  lua_pop(L, 1);
  return v;
}

void laux_check_options(lua_State *L, int arg, const char *const valid[]) {
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    lua_pop(L, 1); /* the key stays for lua_next */
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; valid[i] != NULL && !known; i++)
        known = strcmp(lua_tostring(L, -1), valid[i]) == 0;
    if (!known) {
      luaL_Buffer b;
      int is_name = lua_type(L, -1) == LUA_TSTRING;
      const char *key = luaL_tolstring(L, -1, NULL);
      const char *hint = is_name ? laux_did_you_mean(L, key, valid) : "";
      luaL_buffinit(L, &b);
      luaL_addstring(&b, "unknown option '");
      luaL_addstring(&b, key);
      luaL_addstring(&b, "' (valid: ");
      for (int i = 0; valid[i] != NULL; i++) {
        if (i > 0) luaL_addstring(&b, ", ");
        luaL_addstring(&b, valid[i]);
      }
      luaL_addchar(&b, ')');
      luaL_addstring(&b, hint);
      luaL_pushresult(&b);
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
  }
}

void laux_check_shape(lua_State *L, int arg, const char *what, const lmatrix *M, int64_t rows,
                      int64_t cols) {
  if (M->m.rows != rows || M->m.cols != cols)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s is %I x %I, expected %I x %I", what,
                                          (lua_Integer)M->m.rows, (lua_Integer)M->m.cols,
                                          (lua_Integer)rows, (lua_Integer)cols));
}
