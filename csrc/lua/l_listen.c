/* Bindings of the listening kernels: core.griffinlim and core.pghi (phase reconstruction
 * for a magnitude that has no phase of its own) and core.listen.ratio (the soft mask that
 * lua/tessera/listen.lua uses to render NMF components with a mixture's phase). */
#include <math.h>
#include <string.h>

#include "../listen.h"
#include "../pghi.h"
#include "l_tessera.h"

/* An argument error naming `what` unless M is rows x cols. */
static void check_shape(lua_State *L, int arg, const char *what, const lmatrix *M,
                        int64_t rows, int64_t cols, const char *other) {
  if (M->m.rows != rows || M->m.cols != cols)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s is %I x %I but %s is %I x %I", what,
                                          (lua_Integer)M->m.rows, (lua_Integer)M->m.cols,
                                          other, (lua_Integer)rows, (lua_Integer)cols));
}

/* An argument error at the first NaN/Inf entry of M, or the first negative one when
 * nonneg, with its 1-based row and column. */
static void check_entries(lua_State *L, int arg, const char *what, const lmatrix *M,
                          int nonneg) {
  const int64_t rows = M->m.rows, count = M->m.rows * M->m.cols;
  for (int64_t k = 0; k < count; k++) {
    float v = M->m.data[k];
    if (isfinite(v) && !(nonneg && v < 0.0f)) continue;
    lua_Integer row = (lua_Integer)(k % rows) + 1, col = (lua_Integer)(k / rows) + 1;
    if (isnan(v))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s entry (%I, %I) is nan", what, row, col));
    if (isinf(v))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s entry (%I, %I) is %s", what, row, col,
                                            v > 0 ? "inf" : "-inf"));
    luaL_argerror(L, arg, lua_pushfstring(L, "%s entry (%I, %I) is negative (%f)", what, row,
                                          col, (lua_Number)v));
  }
}

/* An argument error unless PGHI can use the spectrogram's window. */
static void check_pghi_window(lua_State *L, int arg, const char *what,
                              const lspectrogram *like) {
  if (tsr_pghi_gamma(like->s.window) == 0.0) {
    const char *name = tsr_window_name(like->s.window);
    luaL_argerror(L, arg, lua_pushfstring(L, "%s needs a hann or hamming window, the "
                                             "spectrogram's is %s", what, name ? name : "?"));
  }
}

static const char *const griffinlim_options[] = {"iter", "momentum", "init", "seed", NULL};

/* griffinlim(mag, like [, {iter=32, momentum=0.99, init="random"|"pghi"|phase, seed=0}])
 *   -> Audio (like.length samples at like.sr), {convergence after 0..iter updates} */
static int listen_griffinlim(lua_State *L) {
  lmatrix *mag = lmatrix_check(L, 1);
  lspectrogram *like = lspectrogram_check(L, 2);
  laux_check_options(L, 3, griffinlim_options);
  lua_Integer iter = laux_opt_integer(L, 3, "iter", 32);
  if (iter < 0 || iter > 100000)
    luaL_argerror(L, 3, lua_pushfstring(L, "iter must be in 0..100000, got %I", iter));
  lua_Number momentum = laux_opt_number(L, 3, "momentum", 0.99);
  if (!(momentum >= 0.0 && momentum <= 1.0))
    luaL_argerror(L, 3, lua_pushfstring(L, "momentum must be in [0, 1], got %f", momentum));
  lua_Integer seed = laux_opt_integer(L, 3, "seed", 0);
  const lmatrix *init = NULL;
  int pghi = 0;
  if (!lua_isnoneornil(L, 3)) {
    int t = lua_getfield(L, 3, "init");
    if (t == LUA_TSTRING) {
      const char *name = lua_tostring(L, -1);
      pghi = strcmp(name, "pghi") == 0;
      static const char *const init_names[] = {"random", "pghi", NULL};
      if (!pghi && strcmp(name, "random") != 0)
        luaL_argerror(L, 3, lua_pushfstring(L, "init must be 'random', 'pghi' or a phase "
                                               "Matrix, got '%s'%s", name,
                                            laux_did_you_mean(L, name, init_names)));
    } else if (t != LUA_TNIL) {
      init = lmatrix_test(L, -1);
      if (init == NULL)
        luaL_argerror(L, 3, lua_pushfstring(L, "init must be 'random', 'pghi' or a phase "
                                               "Matrix, got %s", luaL_typename(L, -1)));
      init = lmatrix_check(L, -1); /* a view of a closed matrix is refused here */
    }
    lua_pop(L, 1); /* the options table keeps init alive */
  }
  if (pghi) check_pghi_window(L, 3, "init 'pghi'", like);
  check_shape(L, 1, "magnitude", mag, like->s.bins, like->s.frames, "the spectrogram");
  check_entries(L, 1, "magnitude", mag, 1);
  if (init != NULL) {
    check_shape(L, 3, "init", init, like->s.bins, like->s.frames, "the spectrogram");
    check_entries(L, 3, "init", init, 0);
  }

  /* The history is scratch owned by a userdata, so an error cannot strand it. */
  double *history = lua_newuserdatauv(L, (size_t)(iter + 1) * sizeof(double), 0);
  laudio *A = laudio_push(L, like->s.length, 1, like->s.sr, "tessera.griffinlim");
  tsr_griffinlim_params prm = {(int)iter, momentum, init ? init->m.data : NULL,
                               (uint64_t)seed, pghi};
  tsr_error err = {{0}};
  int status = tsr_griffinlim(mag->m.data, &like->s, &prm, A->a.data, history, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.griffinlim", status, &err);
  lua_createtable(L, (int)iter + 1, 0);
  for (lua_Integer t = 0; t <= iter; t++) {
    lua_pushnumber(L, history[t]);
    lua_rawseti(L, -2, t + 1);
  }
  return 2;
}

/* pghi(mag, like) -> Matrix of phases (radians, like's shape): phase-gradient heap
 * integration, for a spectrogram with like's geometry and a hann or hamming window */
static int listen_pghi(lua_State *L) {
  lmatrix *mag = lmatrix_check(L, 1);
  lspectrogram *like = lspectrogram_check(L, 2);
  check_pghi_window(L, 2, "pghi", like);
  check_shape(L, 1, "magnitude", mag, like->s.bins, like->s.frames, "the spectrogram");
  check_entries(L, 1, "magnitude", mag, 1);
  lmatrix *P = lmatrix_push_unfilled(L, like->s.bins, like->s.frames, "tessera.pghi");
  tsr_error err = {{0}};
  int status = tsr_pghi(mag->m.data, &like->s, P->m.data, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.pghi", status, &err);
  return 1;
}

/* listen.ratio(num, den [, zero=0]) -> Matrix num ./ den, `zero` where den is 0 */
static int listen_ratio(lua_State *L) {
  lmatrix *num = lmatrix_check(L, 1);
  lmatrix *den = lmatrix_check(L, 2);
  lua_Number zero = luaL_optnumber(L, 3, 0.0);
  luaL_argcheck(L, isfinite(zero), 3, "zero must be a finite number");
  check_shape(L, 2, "den", den, num->m.rows, num->m.cols, "num");
  lmatrix *R = lmatrix_push(L, num->m.rows, num->m.cols, "tessera.listen.ratio");
  tsr_listen_ratio(num->m.data, den->m.data, (size_t)num->m.rows * (size_t)num->m.cols,
                   (float)zero, R->m.data);
  return 1;
}

static const luaL_Reg listen_functions[] = {
  {"ratio", listen_ratio},
  {NULL, NULL}
};

void listen_open(lua_State *L) {
  luaL_newlib(L, listen_functions);
  lua_setfield(L, -2, "listen");
  lua_pushcfunction(L, listen_griffinlim);
  lua_setfield(L, -2, "griffinlim");
  lua_pushcfunction(L, listen_pghi);
  lua_setfield(L, -2, "pghi");
}
