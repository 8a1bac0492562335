/* Bindings of the spectral morph (csrc/morph.c): core.morph.spectra and core.morph.layer.
 * tessera.morph (lua/tessera/morph.lua) builds the public API on them. */
#include "l_tessera.h"
#include "../morph.h"

/* The position t at arg: a number in [0, 1]. */
static double check_t(lua_State *L, int arg, double t) {
  if (!(t >= 0.0 && t <= 1.0))
    luaL_argerror(L, arg, lua_pushfstring(L, "t must be in [0, 1], got %f", t));
  return t;
}

/* spectra(A, B, t) -> Matrix: column c is column c of A morphed toward column c of B at t
 * (tsr_morph_spectrum); A and B are n x k, finite and >= 0. */
static int morph_spectra(lua_State *L) {
  lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2);
  const double t = check_t(L, 3, luaL_checknumber(L, 3));
  laux_check_shape(L, 2, "B", B, A->m.rows, A->m.cols);
  laux_check_entries(L, "tessera.morph", &A->m, "A");
  laux_check_entries(L, "tessera.morph", &B->m, "B");
  lmatrix *out = lmatrix_push_unfilled(L, A->m.rows, A->m.cols, "tessera.morph");
  for (int64_t c = 0; c < A->m.cols; c++) {
    tsr_error err = {{0}};
    int status = tsr_morph_spectrum(A->m.data + c * A->m.rows, B->m.data + c * A->m.rows,
                                    A->m.rows, t, out->m.data + c * A->m.rows, &err);
    if (status != TSR_OK) return laux_fail(L, "tessera.morph", status, &err);
  }
  return 1;
}

/* layer(A, B, H, t) -> Matrix n x frames: the templates of A (n x k) moving toward B's
 * along t (a table of one position per frame of H, k x frames), times H (tsr_morph_layer). */
static int morph_layer(lua_State *L) {
  lmatrix *A = lmatrix_check(L, 1), *B = lmatrix_check(L, 2), *H = lmatrix_check(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  laux_check_shape(L, 2, "B", B, A->m.rows, A->m.cols);
  const int64_t frames = H->m.cols;
  if (H->m.rows != A->m.cols)
    luaL_argerror(L, 3, lua_pushfstring(L, "H has %I rows for %I templates",
                                        (lua_Integer)H->m.rows, (lua_Integer)A->m.cols));
  if (luaL_len(L, 4) != frames)
    luaL_argerror(L, 4, lua_pushfstring(L, "t has %I values for %I frames",
                                        (lua_Integer)luaL_len(L, 4), (lua_Integer)frames));
  laux_check_entries(L, "tessera.morph", &A->m, "A");
  laux_check_entries(L, "tessera.morph", &B->m, "B");
  laux_check_entries(L, "tessera.morph", &H->m, "H");
  lua_settop(L, 4);
  double *t = lmem_push_block(L, (size_t)(frames > 0 ? frames : 1) * sizeof(double), 0,
                              "tessera.morph", "the frames' positions");
  for (int64_t j = 0; j < frames; j++) {
    if (lua_geti(L, 4, j + 1) != LUA_TNUMBER)
      luaL_argerror(L, 4, lua_pushfstring(L, "t[%I] must be a number, got %s",
                                          (lua_Integer)(j + 1), luaL_typename(L, -1)));
    t[j] = check_t(L, 4, lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  lmatrix *out = lmatrix_push_unfilled(L, A->m.rows, frames, "tessera.morph");
  tsr_error err = {{0}};
  int status = tsr_morph_layer(A->m.data, B->m.data, A->m.rows, A->m.cols, H->m.data, frames,
                               t, out->m.data, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.morph", status, &err);
  return 1;
}

static const luaL_Reg morph_functions[] = {
  {"spectra", morph_spectra},
  {"layer", morph_layer},
  {NULL, NULL}
};

void morph_open(lua_State *L) {
  luaL_newlib(L, morph_functions);
  lua_setfield(L, -2, "morph");
}
