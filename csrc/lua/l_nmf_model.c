/* tessera.core.nmf's helpers for the Model in lua/tessera/nmf.lua: objectives (NMF and
 * convolutive), reconstructions, one component, normalising, reordering, describing and
 * correlating components. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

#include "../nmf.h"
#include "l_tessera.h"

/* Argument `arg`: a loss name or a finite beta (absent: 2, the Euclidean loss). */
static double arg_loss(lua_State *L, int arg) {
  double beta = 2.0;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    beta = lua_tonumber(L, arg);
    luaL_argcheck(L, isfinite(beta), arg, "beta must be finite");
  } else if (!lua_isnoneornil(L, arg)) {
    beta = lnmf_loss_beta(L, arg, luaL_checkstring(L, arg), NULL);
  }
  return beta;
}

/* nmf.loss(V, W, H [, loss]) -> the objective */
static int nmf_loss(lua_State *L) {
  lmatrix *V = lmatrix_check(L, 1), *W = lmatrix_check(L, 2), *H = lmatrix_check(L, 3);
  double beta = arg_loss(L, 4);
  int64_t n = V->m.rows, p = V->m.cols, k = W->m.cols;
  if (W->m.rows != n)
    luaL_argerror(L, 2, lua_pushfstring(L, "W must have %I rows like V, got %I", (lua_Integer)n,
                                        (lua_Integer)W->m.rows));
  if (H->m.rows != k || H->m.cols != p)
    luaL_argerror(L, 3, lua_pushfstring(L, "H must be %I x %I, got %I x %I", (lua_Integer)k,
                                        (lua_Integer)p, (lua_Integer)H->m.rows,
                                        (lua_Integer)H->m.cols));
  luaL_argcheck(L, k >= 1 && k <= INT32_MAX, 2, "W must have at least one column");
  laux_check_entries(L, "tessera.nmf.loss", &V->m, "V");
  laux_check_entries(L, "tessera.nmf.loss", &W->m, "W");
  laux_check_entries(L, "tessera.nmf.loss", &H->m, "H");
  if (lua_isnoneornil(L, 5)) {
    lua_pushnumber(L, tsr_nmf_loss(V->m.data, W->m.data, H->m.data, n, p, (int)k, beta));
    return 1;
  }
  lmatrix *M = lmatrix_check(L, 5);
  if (M->m.rows != n || M->m.cols != p)
    luaL_argerror(L, 5, lua_pushfstring(L, "weights must be %I x %I like V, got %I x %I",
                                        (lua_Integer)n, (lua_Integer)p, (lua_Integer)M->m.rows,
                                        (lua_Integer)M->m.cols));
  laux_check_entries(L, "tessera.nmf.loss", &M->m, "weights");
  lua_pushnumber(L, tsr_nmf_loss_weighted(V->m.data, M->m.data, W->m.data, H->m.data, n, p,
                                          (int)k, beta));
  return 1;
}

/* W and H at 1, 2 with matching k; returns k. */
static int check_pair(lua_State *L, lmatrix **W, lmatrix **H) {
  *W = lmatrix_check(L, 1);
  *H = lmatrix_check(L, 2);
  if ((*W)->m.cols != (*H)->m.rows)
    luaL_argerror(L, 2, lua_pushfstring(L, "H must have %I rows, one per column of W, got %I",
                                        (lua_Integer)(*W)->m.cols, (lua_Integer)(*H)->m.rows));
  return (int)(*W)->m.cols;
}

/* W (n x kT) and H (k x p) at wi, wi + 1 and T at arg (absent: 1), as a convolutive model;
 * returns k. */
static int check_conv(lua_State *L, int wi, int arg, lmatrix **W, lmatrix **H, int *T) {
  *W = lmatrix_check(L, wi);
  *H = lmatrix_check(L, wi + 1);
  lua_Integer t = luaL_optinteger(L, arg, 1);
  int64_t k = (*H)->m.rows, p = (*H)->m.cols;
  luaL_argcheck(L, t >= 1 && t <= (p > 1 ? p : 1), arg,
                lua_pushfstring(L, "T must be in 1..%I, got %I", (lua_Integer)p, t));
  luaL_argcheck(L, k <= INT32_MAX && (*W)->m.cols == k * t, wi + 1,
                lua_pushfstring(L, "H must have %I rows, one per template of W (%I columns, T = "
                                "%I), got %I", (lua_Integer)((*W)->m.cols / t),
                                (lua_Integer)(*W)->m.cols, t, (lua_Integer)k));
  *T = (int)t;
  return (int)k;
}

/* nmf.conv_loss(V, W, H, T [, loss]) -> the objective of the convolutive model */
static int nmf_conv_loss(lua_State *L) {
  lmatrix *V = lmatrix_check(L, 1), *W, *H;
  int T;
  int k = check_conv(L, 2, 4, &W, &H, &T);
  double beta = arg_loss(L, 5);
  if (V->m.rows != W->m.rows || V->m.cols != H->m.cols)
    luaL_argerror(L, 3, lua_pushfstring(L, "V must be %I x %I like W H, got %I x %I",
                                        (lua_Integer)W->m.rows, (lua_Integer)H->m.cols,
                                        (lua_Integer)V->m.rows, (lua_Integer)V->m.cols));
  laux_check_entries(L, "tessera.nmfd.loss", &V->m, "V");
  laux_check_entries(L, "tessera.nmfd.loss", &W->m, "W");
  laux_check_entries(L, "tessera.nmfd.loss", &H->m, "H");
  double loss = 0.0;
  tsr_error err = {{0}};
  int status = tsr_nmfd_loss(V->m.data, W->m.data, H->m.data, V->m.rows, V->m.cols, k, T, beta,
                             &loss, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.nmfd.loss", status, &err);
  lua_pushnumber(L, loss);
  return 1;
}

/* nmf.convolve(W, H, T [, components]) -> Matrix sum_t W_t H->t over the listed components
 * (1-based; all when absent) */
static int nmf_convolve(lua_State *L) {
  lmatrix *W, *H;
  int T;
  int k = check_conv(L, 1, 3, &W, &H, &T);
  unsigned char *sel = NULL;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    sel = lua_newuserdatauv(L, (size_t)k, 0);
    memset(sel, 0, (size_t)k);
    lua_Integer len = luaL_len(L, 4);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, 4, i);
      int ok = 0;
      lua_Integer c = lua_tointegerx(L, -1, &ok);
      lua_pop(L, 1);
      luaL_argcheck(L, ok && c >= 1 && c <= k, 4,
                    lua_pushfstring(L, "component %I of the list must be in 1..%d", i, k));
      sel[c - 1] = 1;
    }
  }
  lmatrix *out = lmatrix_push(L, W->m.rows, H->m.cols, "tessera.nmfd");
  tsr_nmfd_reconstruct(W->m.data, H->m.data, W->m.rows, H->m.cols, k, T, sel, out->m.data);
  return 1;
}

/* nmf.component(W, H, i) -> Matrix W[:, i] H[i, :], i 1-based */
static int nmf_component(lua_State *L) {
  lmatrix *W, *H;
  int k = check_pair(L, &W, &H);
  lua_Integer i = luaL_checkinteger(L, 3);
  luaL_argcheck(L, i >= 1 && i <= k, 3, lua_pushfstring(L, "component must be in 1..%d, got %I",
                                                        k, i));
  lmatrix *out = lmatrix_push(L, W->m.rows, H->m.cols, "tessera.nmf.component");
  tsr_nmf_component(W->m.data, H->m.data, W->m.rows, H->m.cols, k, (int)i - 1, out->m.data);
  return 1;
}

/* nmf.normalize(W, H [, T [, norm]]): in place; norm "l2" (the default), "sum" or "max" */
static int nmf_normalize(lua_State *L) {
  static const char *const norms[] = {"l2", "sum", "max", NULL};
  lmatrix *W, *H;
  int T;
  int k = check_conv(L, 1, 3, &W, &H, &T);
  int norm = luaL_checkoption(L, 4, "l2", norms);
  tsr_nmf_normalize(W->m.data, H->m.data, W->m.rows, H->m.cols, k, T, norm);
  return 0;
}

/* nmf.permute(W, H, perm [, T]): in place, new component i is old perm[i] (1-based) */
static int nmf_permute(lua_State *L) {
  lmatrix *W, *H;
  int T;
  int k = check_conv(L, 1, 4, &W, &H, &T);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_argcheck(L, luaL_len(L, 3) == k, 3, lua_pushfstring(L, "perm must have %d entries", k));
  int *perm = lua_newuserdatauv(L, (size_t)k * sizeof *perm, 0);
  for (int a = 0; a < k; a++) {
    lua_geti(L, 3, a + 1);
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    luaL_argcheck(L, ok && v >= 1 && v <= k, 3, "perm is not a permutation of 1..k");
    perm[a] = (int)v - 1;
  }
  tsr_error err = {{0}};
  int status = tsr_nmf_permute(W->m.data, H->m.data, W->m.rows, H->m.cols, k, T, perm, &err);
  if (status == TSR_EINVAL) return luaL_argerror(L, 3, "perm is not a permutation of 1..k");
  if (status != TSR_OK) return laux_fail(L, "tessera.nmf", status, &err);
  return 0;
}

static void push_numbers(lua_State *L, const double *x, int k) {
  lua_createtable(L, k, 0);
  for (int a = 0; a < k; a++) {
    lua_pushnumber(L, x[a]);
    lua_rawseti(L, -2, a + 1);
  }
}

/* nmf.describe(W, H [, T]) -> energy, centroid, center: per-component lists (see nmf.h) */
static int nmf_describe(lua_State *L) {
  lmatrix *W, *H;
  int T;
  int k = check_conv(L, 1, 3, &W, &H, &T);
  double *buf = lua_newuserdatauv(L, 3 * (size_t)(k > 0 ? k : 1) * sizeof *buf, 0);
  tsr_nmf_describe(W->m.data, H->m.data, W->m.rows, H->m.cols, k, T, buf, buf + k, buf + 2 * k);
  push_numbers(L, buf, k);
  push_numbers(L, buf + k, k);
  push_numbers(L, buf + 2 * k, k);
  return 3;
}

/* nmf.correlate(A, B, by) -> r[i][j], the Pearson correlation of A's and B's rows
 * (by = "rows") or columns (by = "cols") */
static int nmf_correlate(lua_State *L) {
  static const char *const by_names[] = {"rows", "cols", NULL};
  lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2);
  int by_rows = luaL_checkoption(L, 3, "rows", by_names) == 0;
  if (by_rows)
    luaL_argcheck(L, A->m.cols == B->m.cols, 2, lua_pushfstring(L, "rows of different lengths, "
                  "%I and %I", (lua_Integer)A->m.cols, (lua_Integer)B->m.cols));
  else
    luaL_argcheck(L, A->m.rows == B->m.rows, 2, lua_pushfstring(L, "columns of different "
                  "lengths, %I and %I", (lua_Integer)A->m.rows, (lua_Integer)B->m.rows));
  int64_t na = by_rows ? A->m.rows : A->m.cols, nb = by_rows ? B->m.rows : B->m.cols;
  luaL_argcheck(L, na <= 65536 && nb <= 65536, 1, "too many vectors to correlate");
  double *r = lua_newuserdatauv(L, (size_t)(na * nb > 0 ? na * nb : 1) * sizeof *r, 0);
  tsr_nmf_correlate(A->m.data, A->m.rows, A->m.cols, B->m.data, B->m.rows, B->m.cols, by_rows, r);
  lua_createtable(L, (int)na, 0);
  for (int64_t a = 0; a < na; a++) {
    lua_createtable(L, (int)nb, 0);
    for (int64_t b = 0; b < nb; b++) {
      lua_pushnumber(L, r[a + b * na]);
      lua_rawseti(L, -2, b + 1);
    }
    lua_rawseti(L, -2, a + 1);
  }
  return 1;
}

/* nmf.mkdir(path) -> true; an existing directory is fine */
static int nmf_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (mkdir(path, 0777) != 0) {
    int e = errno;
    if (!(e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
      return luaL_error(L, "tessera.nmf: cannot create directory '%s': %s", path, strerror(e));
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg model_functions[] = {
  {"loss", nmf_loss},
  {"conv_loss", nmf_conv_loss},
  {"convolve", nmf_convolve},
  {"component", nmf_component},
  {"normalize", nmf_normalize},
  {"permute", nmf_permute},
  {"describe", nmf_describe},
  {"correlate", nmf_correlate},
  {"mkdir", nmf_mkdir},
  {NULL, NULL}
};

void nmf_model_functions(lua_State *L) { luaL_setfuncs(L, model_functions, 0); }
