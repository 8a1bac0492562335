/* tessera.Matrix: float32 column-major matrices for Lua. */
#include <string.h>

#include "l_tessera.h"

static int matrix_gc(lua_State *L) {
  lmatrix *M = luaL_checkudata(L, 1, TSR_MATRIX_MT);
  if (M->owns) tsr_free(M->m.data);
  M->m.data = NULL;
  M->owns = 0;
  return 0;
}

lmatrix *lmatrix_push(lua_State *L, int64_t rows, int64_t cols, const char *who) {
  size_t count, bytes;
  if (rows < 0 || cols < 0 || tsr_mul_size((size_t)rows, (size_t)cols, &count) != 0 ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0)
    luaL_error(L, "%s: a %I x %I matrix is too large", who, (lua_Integer)rows,
               (lua_Integer)cols);
  /* Empty object first, so __gc owns the memory from the moment it exists. */
  lmatrix *M = lua_newuserdatauv(L, sizeof *M, 1);
  M->m.rows = 0;
  M->m.cols = 0;
  M->m.data = NULL;
  M->owns = 0;
  luaL_setmetatable(L, TSR_MATRIX_MT);
  float *data = tsr_calloc(count ? count : 1, sizeof(float));
  if (data == NULL)
    luaL_error(L, "%s: cannot allocate a %I x %I matrix (%f MB)", who, (lua_Integer)rows,
               (lua_Integer)cols, (double)bytes / 1e6);
  M->m.rows = rows;
  M->m.cols = cols;
  M->m.data = data;
  M->owns = 1;
  return M;
}

lmatrix *lmatrix_test(lua_State *L, int arg) { return luaL_testudata(L, arg, TSR_MATRIX_MT); }

lmatrix *lmatrix_check(lua_State *L, int arg) {
  lmatrix *M = luaL_checkudata(L, arg, TSR_MATRIX_MT);
  if (M->m.data == NULL) luaL_argerror(L, arg, "matrix has been freed");
  return M;
}

static int matrix_new(lua_State *L) {
  lua_Integer rows = luaL_checkinteger(L, 1);
  lua_Integer cols = luaL_checkinteger(L, 2);
  float fill = (float)luaL_optnumber(L, 3, 0.0);
  luaL_argcheck(L, rows >= 0, 1, lua_pushfstring(L, "rows must be >= 0, got %I", rows));
  luaL_argcheck(L, cols >= 0, 2, lua_pushfstring(L, "cols must be >= 0, got %I", cols));
  lmatrix *M = lmatrix_push(L, rows, cols, "matrix.new");
  if (fill != 0.0f)
    for (int64_t i = 0; i < rows * cols; i++) M->m.data[i] = fill;
  return 1;
}

static int matrix_shape(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_pushinteger(L, M->m.rows);
  lua_pushinteger(L, M->m.cols);
  return 2;
}

static int matrix_tostring(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_pushfstring(L, "Matrix(%I x %I)", (lua_Integer)M->m.rows, (lua_Integer)M->m.cols);
  return 1;
}

static const luaL_Reg matrix_functions[] = {
  {"new", matrix_new},
  {NULL, NULL}
};

static const luaL_Reg matrix_methods[] = {
  {"shape", matrix_shape},
  {NULL, NULL}
};

static const luaL_Reg matrix_metamethods[] = {
  {"__gc", matrix_gc},
  {"__close", matrix_gc},
  {"__tostring", matrix_tostring},
  {NULL, NULL}
};

void matrix_open(lua_State *L) {
  luaL_newmetatable(L, TSR_MATRIX_MT);
  luaL_setfuncs(L, matrix_metamethods, 0);
  luaL_newlib(L, matrix_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, matrix_functions);
  lua_setfield(L, -2, "matrix");
}
