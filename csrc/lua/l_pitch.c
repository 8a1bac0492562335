/* Bindings of the pitch shift (csrc/pitch.c): core.pitch.magnitude and core.pitch.phase.
 * tessera.pitch (lua/tessera/pitch.lua) builds the public API on them. */
#include <math.h>

#include "l_tessera.h"
#include "../pitch.h"

/* Semitones at arg (a number, or a table of `frames` numbers: a glide) as frequency ratios
 * 2^(s/12), in a scratch block pushed on the stack. */
static double *check_ratios(lua_State *L, int arg, int64_t frames, const char *who) {
  double *ratio = lmem_push_block(L, (size_t)(frames > 0 ? frames : 1) * sizeof(double), 0,
                                  who, "the frames' ratios");
  const int table = lua_type(L, arg) == LUA_TTABLE;
  if (!table && lua_type(L, arg) != LUA_TNUMBER)
    luaL_argerror(L, arg, lua_pushfstring(L, "semitones must be a number or a table of one per "
                                             "frame, got %s", luaL_typename(L, arg)));
  if (table && luaL_len(L, arg) != frames)
    luaL_argerror(L, arg, lua_pushfstring(L, "semitones has %I values for %I frames",
                                          (lua_Integer)luaL_len(L, arg), (lua_Integer)frames));
  for (int64_t t = 0; t < frames; t++) {
    double s;
    if (table) {
      if (lua_geti(L, arg, t + 1) != LUA_TNUMBER)
        luaL_argerror(L, arg, lua_pushfstring(L, "semitones[%I] must be a number, got %s",
                                              (lua_Integer)(t + 1), luaL_typename(L, -1)));
      s = lua_tonumber(L, -1);
      lua_pop(L, 1);
    } else {
      s = lua_tonumber(L, arg);
    }
    if (!(s >= -96.0 && s <= 96.0))
      luaL_argerror(L, arg, lua_pushfstring(L, "semitones must be in -96..96, got %f", s));
    ratio[t] = exp2(s / 12.0);
  }
  return ratio;
}

/* magnitude(M, semitones) -> Matrix: each column of M (bins x frames) shifted along
 * frequency by its semitones (tsr_pitch_magnitude). */
static int pitch_magnitude(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_settop(L, 2);
  const double *ratio = check_ratios(L, 2, M->m.cols, "tessera.pitch");
  lmatrix *out = lmatrix_push_unfilled(L, M->m.rows, M->m.cols, "tessera.pitch");
  tsr_pitch_magnitude(M->m.data, M->m.rows, M->m.cols, ratio, out->m.data);
  return 1;
}

/* phase(P, semitones, n_fft, hop) -> Matrix: the phase (radians, bins x frames) that goes
 * with the shifted magnitude (tsr_pitch_phase). */
static int pitch_phase(lua_State *L) {
  lmatrix *P = lmatrix_check(L, 1);
  const lua_Integer n_fft = luaL_checkinteger(L, 3), hop = luaL_checkinteger(L, 4);
  luaL_argcheck(L, n_fft >= 2 && n_fft % 2 == 0 && n_fft / 2 + 1 == P->m.rows, 3,
                lua_pushfstring(L, "n_fft must give %I bins, got %I", (lua_Integer)P->m.rows,
                                n_fft));
  luaL_argcheck(L, hop >= 1 && hop <= n_fft, 4,
                lua_pushfstring(L, "hop must be in 1..n_fft, got %I", hop));
  lua_settop(L, 4);
  const double *ratio = check_ratios(L, 2, P->m.cols, "tessera.pitch");
  lmatrix *out = lmatrix_push_unfilled(L, P->m.rows, P->m.cols, "tessera.pitch");
  tsr_pitch_phase(P->m.data, P->m.rows, P->m.cols, ratio, n_fft, hop, out->m.data);
  return 1;
}

static const luaL_Reg pitch_functions[] = {
  {"magnitude", pitch_magnitude},
  {"phase", pitch_phase},
  {NULL, NULL}
};

void pitch_open(lua_State *L) {
  luaL_newlib(L, pitch_functions);
  lua_setfield(L, -2, "pitch");
}
