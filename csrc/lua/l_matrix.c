/* tessera.Matrix: float32 column-major matrices for Lua. Construction (new, from, load),
 * element access, reductions, the BLAS product and element-wise arithmetic as operators,
 * column views, and saving to .npy or .csv. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../csv.h"
#include "../npy.h"
#include "l_tessera.h"

/* __close: the data block is let go at once (the collector frees it on its next pass, as it
 * counts its bytes), and the matrix reads as freed from then on. There is no __gc: the block
 * goes with the object, and an object without a finalizer is freed by the first collection
 * that finds it unreachable, the emergency one of a refused allocation included. */
static int matrix_close(lua_State *L) {
  lmatrix *M = luaL_checkudata(L, 1, TSR_MATRIX_MT);
  if (M->owns) {
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
  }
  M->m.data = NULL;
  M->owns = 0;
  return 0;
}

/* A Matrix userdata holding nothing yet: whoever fills it sets its user value and owns. */
static lmatrix *push_empty(lua_State *L) {
  lmatrix *M = lua_newuserdatauv(L, sizeof *M, 1);
  M->m.rows = 0;
  M->m.cols = 0;
  M->m.data = NULL;
  M->owns = 0;
  luaL_setmetatable(L, TSR_MATRIX_MT);
  return M;
}

static lmatrix *push_matrix(lua_State *L, int64_t rows, int64_t cols, int zero,
                            const char *who) {
  size_t bytes;
  if (tsr_matrix_size(rows, cols, NULL, &bytes) != TSR_OK)
    luaL_error(L, "%s: a %I x %I matrix is too large", who, (lua_Integer)rows,
               (lua_Integer)cols);
  char what[96];
  snprintf(what, sizeof what, "a %lld x %lld matrix", (long long)rows, (long long)cols);
  lmatrix *M = push_empty(L);
  float *data = lmem_push_block(L, bytes, zero, who, what);
  lua_setiuservalue(L, -2, 1);
  M->m.rows = rows;
  M->m.cols = cols;
  M->m.data = data;
  M->owns = 1;
  return M;
}

lmatrix *lmatrix_push(lua_State *L, int64_t rows, int64_t cols, const char *who) {
  return push_matrix(L, rows, cols, 1, who);
}

lmatrix *lmatrix_push_unfilled(lua_State *L, int64_t rows, int64_t cols, const char *who) {
  return push_matrix(L, rows, cols, 0, who);
}

/* lmatrix_adopt's copy, in protected mode: args (tsr_matrix *, who). */
static int copy_matrix(lua_State *L) {
  const tsr_matrix *m = lua_touserdata(L, 1);
  lmatrix *M = push_matrix(L, m->rows, m->cols, 0, lua_touserdata(L, 2));
  memcpy(M->m.data, m->data, (size_t)m->rows * (size_t)m->cols * sizeof(float));
  return 1;
}

static void release_matrix(void *m) { tsr_matrix_release(m); }

lmatrix *lmatrix_adopt(lua_State *L, tsr_matrix *m, const char *who) {
  return lmem_adopt(L, copy_matrix, m, who, release_matrix);
}

lmatrix *lmatrix_test(lua_State *L, int arg) { return luaL_testudata(L, arg, TSR_MATRIX_MT); }

lmatrix *lmatrix_check(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  lmatrix *M = luaL_checkudata(L, arg, TSR_MATRIX_MT);
  if (M->m.data == NULL) luaL_argerror(L, arg, "matrix has been freed");
  if (!M->owns) {
    /* A view: its memory is the parent's, which __close may have let go early. */
    lua_getiuservalue(L, arg, 1);
    const lmatrix *parent = lua_touserdata(L, -1);
    int alive = parent != NULL && parent->m.data != NULL;
    lua_pop(L, 1);
    if (!alive) {
      M->m.data = NULL;
      luaL_argerror(L, arg, "matrix has been freed: the matrix it views was closed");
    }
  }
  return M;
}

/* A number argument that float32 can hold (NaN and Inf pass: they were asked for). */
static float check_value(lua_State *L, int arg, const char *what) {
  lua_Number v = luaL_checknumber(L, arg);
  if (isfinite(v) && fabs(v) > FLT_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s %f is outside float32's range", what, v));
  return (float)v;
}

/* A 1-based index in 1..n, returned 0-based. */
static int64_t check_index(lua_State *L, int arg, int64_t n, const char *what) {
  lua_Integer i = luaL_checkinteger(L, arg);
  if (i < 1 || i > n) {
    if (n == 0)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in 1..0 (the matrix has no %ss), "
                                            "got %I", what, what, i));
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in 1..%I, got %I", what,
                                          (lua_Integer)n, i));
  }
  return (int64_t)(i - 1);
}

/* ---- construction ---- */

static int matrix_new(lua_State *L) {
  lua_Integer rows = luaL_checkinteger(L, 1);
  lua_Integer cols = luaL_checkinteger(L, 2);
  luaL_argcheck(L, rows >= 0, 1, lua_pushfstring(L, "rows must be >= 0, got %I", rows));
  luaL_argcheck(L, cols >= 0, 2, lua_pushfstring(L, "cols must be >= 0, got %I", cols));
  float fill = lua_isnoneornil(L, 3) ? 0.0f : check_value(L, 3, "fill");
  lmatrix *M = lmatrix_push(L, rows, cols, "tessera.matrix.new");
  if (fill != 0.0f) tsr_matrix_fill(&M->m, fill);
  return 1;
}

/* "got string 'x'", "got boolean true", "got nil", "got table" for an error message. */
static const char *describe(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: return lua_pushfstring(L, "got string '%s'", lua_tostring(L, idx));
    case LUA_TBOOLEAN:
      return lua_pushfstring(L, "got boolean %s", lua_toboolean(L, idx) ? "true" : "false");
    default: return lua_pushfstring(L, "got %s", luaL_typename(L, idx));
  }
}

/* from{{1, 2, 3}, {4, 5, 6}}: a table of rows. Everything is checked before allocating;
 * raw access, so the two passes see the same values. */
static int matrix_from(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer rows = (lua_Integer)lua_rawlen(L, 1), cols = 0;
  luaL_argcheck(L, rows > 0, 1, "a matrix needs at least one row, got an empty table");
  for (lua_Integer i = 1; i <= rows; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "row %I must be a table of numbers, %s", i,
                                          describe(L, -1)));
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (i == 1) {
      cols = n;
      luaL_argcheck(L, n > 0, 1, "row 1 is empty");
    } else if (n != cols) {
      luaL_argerror(L, 1, lua_pushfstring(L, "row %I has %I value%s, expected %I like row 1",
                                          i, n, n == 1 ? "" : "s", cols));
    }
    for (lua_Integer j = 1; j <= cols; j++) {
      if (lua_rawgeti(L, -1, j) != LUA_TNUMBER)
        luaL_argerror(L, 1, lua_pushfstring(L, "row %I, column %I must be a number, %s", i, j,
                                            describe(L, -1)));
      lua_Number v = lua_tonumber(L, -1);
      if (isfinite(v) && fabs(v) > FLT_MAX)
        luaL_argerror(L, 1, lua_pushfstring(L, "row %I, column %I is %f, outside float32's "
                                            "range", i, j, v));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lmatrix *M = lmatrix_push(L, rows, cols, "tessera.matrix.from");
  for (lua_Integer i = 1; i <= rows; i++) {
    lua_rawgeti(L, 1, i);
    for (lua_Integer j = 1; j <= cols; j++) {
      lua_rawgeti(L, -1, j);
      M->m.data[(i - 1) + (j - 1) * rows] = (float)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return 1;
}

enum { FILE_NPY, FILE_CSV, FILE_UNKNOWN };

/* The file type from the extension, case-insensitively. */
static int file_kind(const char *path) {
  static const char *const ext[] = {".npy", ".csv"};
  size_t n = strlen(path);
  for (int k = 0; k < 2; k++) {
    if (n < 4) break;
    int same = 1;
    for (int c = 0; c < 4; c++) {
      char ch = path[n - 4 + c];
      if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
      same = same && ch == ext[k][c];
    }
    if (same) return k;
  }
  return FILE_UNKNOWN;
}

static int matrix_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int kind = file_kind(path);
  if (kind == FILE_UNKNOWN)
    return luaL_error(L, "tessera.matrix.load: '%s': unknown file extension (valid: .npy, "
                      ".csv)", path);
  tsr_matrix m;
  tsr_error err = {""};
  int st = kind == FILE_NPY ? tsr_npy_load(path, &m, &err) : tsr_csv_load(path, &m, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.matrix.load", st, &err);
  lmatrix_adopt(L, &m, "tessera.matrix.load");
  return 1;
}

/* ---- access ---- */

static int matrix_shape(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_pushinteger(L, M->m.rows);
  lua_pushinteger(L, M->m.cols);
  return 2;
}

static int matrix_get(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t i = check_index(L, 2, M->m.rows, "row");
  int64_t j = check_index(L, 3, M->m.cols, "column");
  lua_pushnumber(L, M->m.data[i + j * M->m.rows]);
  return 1;
}

static int matrix_set(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t i = check_index(L, 2, M->m.rows, "row");
  int64_t j = check_index(L, 3, M->m.cols, "column");
  M->m.data[i + j * M->m.rows] = check_value(L, 4, "value");
  return 0;
}

static int matrix_totable(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t rows = M->m.rows, cols = M->m.cols;
  luaL_checkstack(L, 2, NULL);
  lua_createtable(L, rows > INT32_MAX ? 0 : (int)rows, 0);
  for (int64_t i = 0; i < rows; i++) {
    lua_createtable(L, cols > INT32_MAX ? 0 : (int)cols, 0);
    for (int64_t j = 0; j < cols; j++) {
      lua_pushnumber(L, M->m.data[i + j * rows]);
      lua_rawseti(L, -2, j + 1);
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int matrix_sum(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_pushnumber(L, tsr_matrix_sum(&M->m));
  return 1;
}

static int push_extreme(lua_State *L, int want_max) {
  lmatrix *M = lmatrix_check(L, 1);
  float v = 0.0f;
  int st = want_max ? tsr_matrix_max(&M->m, &v) : tsr_matrix_min(&M->m, &v);
  if (st != TSR_OK)
    return luaL_error(L, "tessera.matrix.%s: a %I x %I matrix has no elements",
                      want_max ? "max" : "min", (lua_Integer)M->m.rows, (lua_Integer)M->m.cols);
  lua_pushnumber(L, v);
  return 1;
}

static int matrix_min(lua_State *L) { return push_extreme(L, 0); }
static int matrix_max(lua_State *L) { return push_extreme(L, 1); }

static int matrix_row(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t i = check_index(L, 2, M->m.rows, "row");
  lmatrix *R = lmatrix_push(L, 1, M->m.cols, "tessera.matrix.row");
  for (int64_t j = 0; j < M->m.cols; j++) R->m.data[j] = M->m.data[i + j * M->m.rows];
  return 1;
}

/* A rows x 1 view of column j: a column is contiguous in column-major storage. The view's
 * user value is the matrix that owns the memory (the root, for a view of a view). */
/* Pushes a view of count columns of the Matrix at index 1 from column first (0-based): its
 * data, kept alive through the user value. */
static void push_columns(lua_State *L, const lmatrix *M, int64_t first, int64_t count) {
  lmatrix *V = push_empty(L);
  if (M->owns)
    lua_pushvalue(L, 1);
  else
    lua_getiuservalue(L, 1, 1);
  lua_setiuservalue(L, -2, 1);
  V->m.rows = M->m.rows;
  V->m.cols = count;
  V->m.data = M->m.data + first * M->m.rows;
}

static int matrix_col(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  push_columns(L, M, check_index(L, 2, M->m.cols, "column"), 1);
  return 1;
}

/* M:cols(first [, last]) -> a view of columns first..last (1-based; last default first),
 * contiguous in column-major order, sharing M's data as M:col does. */
static int matrix_cols(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t first = check_index(L, 2, M->m.cols, "first column");
  int64_t last = lua_isnoneornil(L, 3) ? first : check_index(L, 3, M->m.cols, "last column");
  if (last < first)
    luaL_argerror(L, 3, lua_pushfstring(L, "last column %I comes before the first, %I",
                                        (lua_Integer)last + 1, (lua_Integer)first + 1));
  push_columns(L, M, first, last - first + 1);
  return 1;
}

/* matrix.hcat(A, B, ...) -> Matrix: the columns of A, then B's, ...; all with the same rows. */
static int matrix_hcat(lua_State *L) {
  const int n = lua_gettop(L);
  luaL_argcheck(L, n >= 1, 1, "a Matrix expected");
  int64_t rows = lmatrix_check(L, 1)->m.rows, cols = 0;
  for (int i = 1; i <= n; i++) {
    const lmatrix *M = lmatrix_check(L, i);
    if (M->m.rows != rows)
      luaL_argerror(L, i, lua_pushfstring(L, "it has %I rows, the first %I",
                                          (lua_Integer)M->m.rows, (lua_Integer)rows));
    if (M->m.cols > INT64_MAX - cols) luaL_argerror(L, i, "too many columns");
    cols += M->m.cols;
  }
  lmatrix *R = lmatrix_push_unfilled(L, rows, cols, "tessera.matrix.hcat");
  float *at = R->m.data;
  for (int i = 1; i <= n; i++) {
    const lmatrix *M = lmatrix_check(L, i);
    const size_t count = (size_t)M->m.rows * (size_t)M->m.cols;
    if (count > 0) memcpy(at, M->m.data, count * sizeof(float));
    at += count;
  }
  return 1;
}

static int matrix_T(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lmatrix *R = lmatrix_push(L, M->m.cols, M->m.rows, "tessera.matrix.T");
  tsr_matrix_transpose(&M->m, &R->m);
  return 1;
}

static lmatrix *push_copy(lua_State *L, const lmatrix *M, const char *who) {
  lmatrix *R = lmatrix_push(L, M->m.rows, M->m.cols, who);
  memcpy(R->m.data, M->m.data, (size_t)M->m.rows * (size_t)M->m.cols * sizeof(float));
  return R;
}

static int matrix_copy(lua_State *L) {
  push_copy(L, lmatrix_check(L, 1), "tessera.matrix.copy");
  return 1;
}

/* ---- in place ---- */

static int matrix_fill(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  tsr_matrix_fill(&M->m, check_value(L, 2, "value"));
  lua_settop(L, 1);
  return 1;
}

static int matrix_scale(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  tsr_matrix_scale(&M->m, check_value(L, 2, "scale"), &M->m);
  lua_settop(L, 1);
  return 1;
}

static int matrix_isfinite(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  int64_t i, j;
  float v;
  if (!tsr_matrix_find_nonfinite(&M->m, &i, &j, &v)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushinteger(L, i + 1);
  lua_pushinteger(L, j + 1);
  lua_pushnumber(L, v);
  return 4;
}

static int matrix_save(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int kind = file_kind(path);
  if (kind == FILE_UNKNOWN)
    return luaL_error(L, "tessera.matrix.save: '%s': unknown file extension (valid: .npy, "
                      ".csv)", path);
  tsr_error err = {""};
  int st = kind == FILE_NPY ? tsr_npy_save(path, &M->m, &err) : tsr_csv_save(path, &M->m, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.matrix.save", st, &err);
  return 0;
}

/* ---- arithmetic ---- */

/* "Matrix" for a matrix, else the Lua type name, for operand errors. */
static const char *operand(lua_State *L, int idx) {
  return lmatrix_test(L, idx) != NULL ? "Matrix" : luaL_typename(L, idx);
}

/* A scalar operand as float32, or an error naming the operation. */
static float scalar(lua_State *L, int idx, const char *verb) {
  lua_Number v = lua_tonumber(L, idx);
  if (isfinite(v) && fabs(v) > FLT_MAX)
    luaL_error(L, "cannot %s a Matrix by %f: it is outside float32's range", verb, v);
  return (float)v;
}

static int matrix_mul(lua_State *L) {
  int a_is = lmatrix_test(L, 1) != NULL, b_is = lmatrix_test(L, 2) != NULL;
  if (a_is && b_is) {
    lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2);
    if (A->m.cols != B->m.rows)
      return luaL_error(L, "cannot multiply a %I x %I matrix by a %I x %I matrix",
                        (lua_Integer)A->m.rows, (lua_Integer)A->m.cols,
                        (lua_Integer)B->m.rows, (lua_Integer)B->m.cols);
    lmatrix *C = lmatrix_push(L, A->m.rows, B->m.cols, "tessera.matrix product");
    tsr_error err = {""};
    int st = tsr_matrix_gemm(0, 0, 1.0f, &A->m, &B->m, 0.0f, &C->m, &err);
    if (st != TSR_OK) return laux_fail(L, "tessera.matrix product", st, &err);
    return 1;
  }
  int m_idx = a_is ? 1 : 2, s_idx = a_is ? 2 : 1;
  if ((a_is || b_is) && lua_type(L, s_idx) == LUA_TNUMBER) {
    lmatrix *M = lmatrix_check(L, m_idx);
    float s = scalar(L, s_idx, "multiply");
    lmatrix *R = lmatrix_push(L, M->m.rows, M->m.cols, "tessera.matrix scaling");
    tsr_matrix_scale(&M->m, s, &R->m);
    return 1;
  }
  return luaL_error(L, "cannot multiply a %s by a %s", operand(L, 1), operand(L, 2));
}

/* A + B and A - B: both matrices of one shape. */
static int elementwise(lua_State *L, int subtract) {
  if (lmatrix_test(L, 1) == NULL || lmatrix_test(L, 2) == NULL)
    return subtract ? luaL_error(L, "cannot subtract a %s from a %s", operand(L, 2),
                                 operand(L, 1))
                    : luaL_error(L, "cannot add a %s and a %s", operand(L, 1), operand(L, 2));
  lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2);
  if (A->m.rows != B->m.rows || A->m.cols != B->m.cols) {
    if (subtract)
      return luaL_error(L, "cannot subtract a %I x %I matrix from a %I x %I matrix",
                        (lua_Integer)B->m.rows, (lua_Integer)B->m.cols,
                        (lua_Integer)A->m.rows, (lua_Integer)A->m.cols);
    return luaL_error(L, "cannot add a %I x %I matrix and a %I x %I matrix",
                      (lua_Integer)A->m.rows, (lua_Integer)A->m.cols, (lua_Integer)B->m.rows,
                      (lua_Integer)B->m.cols);
  }
  lmatrix *R = lmatrix_push(L, A->m.rows, A->m.cols, "tessera.matrix arithmetic");
  if (subtract)
    tsr_matrix_sub(&A->m, &B->m, &R->m);
  else
    tsr_matrix_add(&A->m, &B->m, &R->m);
  return 1;
}

static int matrix_add(lua_State *L) { return elementwise(L, 0); }
static int matrix_sub(lua_State *L) { return elementwise(L, 1); }

static int matrix_unm(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lmatrix *R = lmatrix_push(L, M->m.rows, M->m.cols, "tessera.matrix arithmetic");
  tsr_matrix_scale(&M->m, -1.0f, &R->m);
  return 1;
}

static int matrix_div(lua_State *L) {
  if (lmatrix_test(L, 1) == NULL || lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "cannot divide a %s by a %s", operand(L, 1), operand(L, 2));
  lmatrix *M = lmatrix_check(L, 1);
  float s = scalar(L, 2, "divide");
  lmatrix *R = lmatrix_push(L, M->m.rows, M->m.cols, "tessera.matrix arithmetic");
  tsr_matrix_divide(&M->m, s, &R->m);
  return 1;
}

static int matrix_hadamard(lua_State *L) {
  lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2);
  if (A->m.rows != B->m.rows || A->m.cols != B->m.cols)
    luaL_argerror(L, 2, lua_pushfstring(L, "shape %I x %I differs from the matrix's %I x %I",
                                        (lua_Integer)B->m.rows, (lua_Integer)B->m.cols,
                                        (lua_Integer)A->m.rows, (lua_Integer)A->m.cols));
  lmatrix *R = lmatrix_push(L, A->m.rows, A->m.cols, "tessera.matrix.hadamard");
  tsr_matrix_hadamard(&A->m, &B->m, &R->m);
  return 1;
}

static int matrix_tostring(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_pushfstring(L, "Matrix(%I x %I)", (lua_Integer)M->m.rows, (lua_Integer)M->m.cols);
  return 1;
}

/* ---- placement ---- */

static const char *const placement_keys[] = {"H", "row", "to", "gain", "stretch", "shift",
                                             "loop", "period", NULL};

/* Field `key` of placement n (the table on top of the stack) as a number, or def when it is
 * absent; integer fields must be whole. Raises an argument error naming the placement. */
static lua_Number placement_number(lua_State *L, size_t n, const char *key, lua_Number def,
                                   int integer) {
  int t = lua_getfield(L, -1, key);
  lua_Number v = def;
  if (t == LUA_TNIL && integer) {
    luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: %s is missing", (lua_Integer)n, key));
  } else if (t != LUA_TNIL) {
    int isint = 0;
    if (integer) lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || (integer && !isint))
      luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: %s must be %s, %s", (lua_Integer)n,
                                          key, integer ? "an integer" : "a number",
                                          describe(L, -1)));
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* Reads placement n (the table on top of the stack) into *p; its matrix stays anchored in
 * the list. Types only: tsr_placement_check checks the values. */
static void read_placement(lua_State *L, size_t n, tsr_placement *p) {
  if (lua_type(L, -1) != LUA_TTABLE)
    luaL_argerror(L, 3, lua_pushfstring(L, "placement %I must be a table, %s", (lua_Integer)n,
                                        describe(L, -1)));
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; placement_keys[i] != NULL && !known; i++)
        known = strcmp(lua_tostring(L, -1), placement_keys[i]) == 0;
    if (!known)
      luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: unknown key '%s' (valid: H, row, to, "
                                          "gain, stretch, shift, loop, period)", (lua_Integer)n,
                                          luaL_tolstring(L, -1, NULL)));
  }
  lua_getfield(L, -1, "H");
  const lmatrix *H = lmatrix_test(L, -1);
  if (H == NULL)
    luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: H must be a Matrix, %s",
                                        (lua_Integer)n, describe(L, -1)));
  if (H->m.data == NULL)
    luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: H has been freed", (lua_Integer)n));
  lua_pop(L, 1);
  p->src = &H->m;
  p->row = (int64_t)placement_number(L, n, "row", 0, 1) - 1;
  p->to = (int64_t)placement_number(L, n, "to", 0, 1) - 1;
  p->gain = placement_number(L, n, "gain", 1, 0);
  p->stretch = placement_number(L, n, "stretch", 1, 0);
  p->shift = placement_number(L, n, "shift", 0, 0);
  p->period = placement_number(L, n, "period", (lua_Number)H->m.cols, 0);
  int t = lua_getfield(L, -1, "loop");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    luaL_argerror(L, 3, lua_pushfstring(L, "placement %I: loop must be a boolean, %s",
                                        (lua_Integer)n, describe(L, -1)));
  p->loop = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

/* matrix.place(rows, frames, placements) -> a rows x frames Matrix: the sum of the
 * placements {H =, row =, to =, gain = 1, stretch = 1, shift = 0 (frames), loop = false,
 * period = H's columns (frames)}, each row `row` of H stretched, shifted, looped and scaled
 * into row `to` (see tsr_matrix_place). */
static int matrix_place(lua_State *L) {
  lua_Integer rows = luaL_checkinteger(L, 1);
  lua_Integer frames = luaL_checkinteger(L, 2);
  luaL_argcheck(L, rows >= 0, 1, lua_pushfstring(L, "rows must be >= 0, got %I", rows));
  luaL_argcheck(L, frames >= 0, 2, lua_pushfstring(L, "frames must be >= 0, got %I", frames));
  luaL_checktype(L, 3, LUA_TTABLE);
  size_t count = (size_t)lua_rawlen(L, 3);
  if (count > SIZE_MAX / sizeof(tsr_placement))
    return luaL_argerror(L, 3, "too many placements");
  /* Scratch as a userdata: an error below leaves nothing to free. */
  tsr_placement *list = lua_newuserdatauv(L, count * sizeof *list + 1, 0);
  for (size_t n = 0; n < count; n++) {
    lua_rawgeti(L, 3, (lua_Integer)n + 1);
    read_placement(L, n + 1, &list[n]);
    lua_pop(L, 1);
  }
  tsr_error err = {""};
  if (tsr_placement_check(rows, list, count, &err) != TSR_OK)
    return luaL_argerror(L, 3, lua_pushstring(L, err.msg));
  lmatrix *M = lmatrix_push(L, rows, frames, "tessera.matrix.place");
  int st = tsr_matrix_place(&M->m, list, count, &err);
  if (st != TSR_OK) return laux_fail(L, "tessera.matrix.place", st, &err);
  return 1;
}

static const luaL_Reg matrix_functions[] = {
  {"new", matrix_new},
  {"place", matrix_place},
  {"from", matrix_from},
  {"hcat", matrix_hcat},
  {"load", matrix_load},
  {NULL, NULL}
};

static const luaL_Reg matrix_methods[] = {
  {"shape", matrix_shape},
  {"get", matrix_get},
  {"set", matrix_set},
  {"totable", matrix_totable},
  {"sum", matrix_sum},
  {"min", matrix_min},
  {"max", matrix_max},
  {"row", matrix_row},
  {"col", matrix_col},
  {"cols", matrix_cols},
  {"T", matrix_T},
  {"copy", matrix_copy},
  {"hadamard", matrix_hadamard},
  {"fill", matrix_fill},
  {"scale", matrix_scale},
  {"isfinite", matrix_isfinite},
  {"save", matrix_save},
  {NULL, NULL}
};

static const luaL_Reg matrix_metamethods[] = {
  {"__close", matrix_close},
  {"__tostring", matrix_tostring},
  {"__mul", matrix_mul},
  {"__add", matrix_add},
  {"__sub", matrix_sub},
  {"__unm", matrix_unm},
  {"__div", matrix_div},
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
