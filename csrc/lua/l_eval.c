/* tessera.core.eval: the bindings of the separation metrics (csrc/eval.h). They take Audio
 * and Matrix objects as they are; lua/tessera/eval.lua loads files, names the signals in
 * its messages ("reference 2 is silent") and assigns estimates to references. */
#include <string.h>

#include "../eval.h"
#include "l_tessera.h"

#define WHO "tessera.eval"

/* The mono Audio at index i of the list at arg. */
static const tsr_audio *list_audio(lua_State *L, int arg, lua_Integer i, const char *what) {
  lua_rawgeti(L, arg, i);
  laudio *A = luaL_testudata(L, -1, TSR_AUDIO_MT);
  if (A == NULL)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s %I must be an Audio, got %s", what, i,
                                          luaL_typename(L, -1)));
  if (A->a.channels != 1)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s %I has %d channels, expected 1", what, i,
                                          A->a.channels));
  lua_pop(L, 1); /* the list keeps it alive */
  return &A->a;
}

/* The samples of every Audio in the list at arg, all of `*len` samples (the first sets it
 * when *len < 0), into a scratch array of pointers left on the stack. */
static const float **list_samples(lua_State *L, int arg, const char *what, int *count,
                                  int64_t *len) {
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  if (n < 1 || n > 10000)
    luaL_argerror(L, arg, lua_pushfstring(L, "expected 1..10000 %ss, got %I", what, n));
  const float **x = lmem_push_block(L, (size_t)n * sizeof *x, 0, WHO ".bss", "signal list");
  for (lua_Integer i = 1; i <= n; i++) {
    const tsr_audio *a = list_audio(L, arg, i, what);
    if (*len < 0) *len = a->frames;
    if (a->frames != *len)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s %I has %I samples, expected %I", what, i,
                                            (lua_Integer)a->frames, (lua_Integer)*len));
    x[i - 1] = a->data;
  }
  *count = (int)n;
  return x;
}

/* A list of n_est lists of n_ref numbers from values[e * n_ref + j]. */
static void push_table(lua_State *L, const double *values, int n_est, int n_ref) {
  lua_createtable(L, n_est, 0);
  for (int e = 0; e < n_est; e++) {
    lua_createtable(L, n_ref, 0);
    for (int j = 0; j < n_ref; j++) {
      lua_pushnumber(L, values[e * n_ref + j]);
      lua_rawseti(L, -2, j + 1);
    }
    lua_rawseti(L, -2, e + 1);
  }
}

static const char *const BSS_OPTIONS[] = {"filter_length", NULL};

/* eval.bss(estimates, references [, {filter_length = 512}]) -> sdr, sir, sar: each a list
 * over estimates of lists over references (every pair). The signals are mono Audio of one
 * length, finite and not silent (lua/tessera/eval.lua checks that with names). */
static int eval_bss(lua_State *L) {
  laux_check_options(L, 3, BSS_OPTIONS);
  lua_Integer flen = laux_opt_integer(L, 3, "filter_length", TSR_BSS_FILTER);
  if (flen < 1 || flen > 65536)
    luaL_argerror(L, 3, lua_pushfstring(L, "filter_length must be in 1..65536, got %I", flen));
  int n_est = 0, n_ref = 0;
  int64_t len = -1;
  const float **ests = list_samples(L, 1, "estimate", &n_est, &len);
  const float **refs = list_samples(L, 2, "reference", &n_ref, &len);
  size_t pairs = (size_t)n_est * (size_t)n_ref;
  double *out = lmem_push_block(L, 3 * pairs * sizeof(double), 0, WHO ".bss", "the scores");
  tsr_error err = {{0}};
  int st = tsr_bss_eval(ests, n_est, refs, n_ref, len, (int)flen, out, out + pairs,
                        out + 2 * pairs, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".bss", st, &err);
  for (int k = 0; k < 3; k++) push_table(L, out + (size_t)k * pairs, n_est, n_ref);
  return 3;
}

/* eval.si_sdr(estimate, reference [, zero_mean = true]) -> si_sdr, sd_sdr (mono Audio of
 * one length). */
static int eval_si_sdr(lua_State *L) {
  laudio *y = laudio_check(L, 1), *s = laudio_check(L, 2);
  int zero_mean = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  if (y->a.channels != 1 || s->a.channels != 1)
    luaL_argerror(L, y->a.channels != 1 ? 1 : 2, "expected mono Audio");
  if (y->a.frames != s->a.frames)
    luaL_argerror(L, 2, lua_pushfstring(L, "reference has %I samples but the estimate %I",
                                        (lua_Integer)s->a.frames, (lua_Integer)y->a.frames));
  double si = 0.0, sd = 0.0;
  tsr_error err = {{0}};
  int st = tsr_si_sdr(y->a.data, s->a.data, y->a.frames, zero_mean, &si, &sd, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".si_sdr", st, &err);
  lua_pushnumber(L, si);
  lua_pushnumber(L, sd);
  return 2;
}

/* eval.spectral_convergence(V_ref, V_est) -> number (two magnitude Matrices). */
static int eval_spectral_convergence(lua_State *L) {
  lmatrix *ref = lmatrix_check(L, 1), *est = lmatrix_check(L, 2);
  double sc = 0.0;
  tsr_error err = {{0}};
  int st = tsr_spectral_convergence(&ref->m, &est->m, &sc, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".spectral_convergence", st, &err);
  lua_pushnumber(L, sc);
  return 1;
}

/* eval.scan(audio) -> energy (the sum of squares of every sample), or nil, frame, channel
 * and value (1-based) of the first NaN or Inf sample. */
static int eval_scan(lua_State *L) {
  laudio *A = laudio_check(L, 1);
  double total = 0.0;
  for (int c = 0; c < A->a.channels; c++) {
    const float *x = A->a.data + (size_t)c * (size_t)A->a.frames;
    double energy = 0.0;
    int64_t bad = tsr_eval_scan(x, A->a.frames, &energy);
    if (bad >= 0) {
      luaL_pushfail(L);
      lua_pushinteger(L, (lua_Integer)bad + 1);
      lua_pushinteger(L, c + 1);
      lua_pushnumber(L, x[bad]);
      return 4;
    }
    total += energy;
  }
  lua_pushnumber(L, total);
  return 1;
}

static const luaL_Reg eval_functions[] = {
  {"bss", eval_bss},
  {"si_sdr", eval_si_sdr},
  {"spectral_convergence", eval_spectral_convergence},
  {"scan", eval_scan},
  {NULL, NULL}
};

void eval_open(lua_State *L) {
  luaL_newlib(L, eval_functions);
  lua_setfield(L, -2, "eval");
}
