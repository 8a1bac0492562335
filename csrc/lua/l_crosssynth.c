/* tessera.core.crosssynth: the bindings of the "Let it Bee" kernels (csrc/crosssynth.c):
 * fit (activations of a target on a source's frames), constrain (one round of the three
 * constraints, for inspection) and apply (the source's complex frames combined by H).
 * lua/tessera/crosssynth.lua builds the audio-to-audio function on them. */
#include <limits.h>
#include <string.h>

#include "../crosssynth.h"
#include "l_tessera.h"

#define WHO "tessera.crosssynth"

/* Integer option `key` in lo..INT_MAX (hi when hi > 0). */
static int opt_int(lua_State *L, int arg, const char *key, lua_Integer def, lua_Integer lo,
                   lua_Integer hi) {
  lua_Integer v = laux_opt_integer(L, arg, key, def);
  if (hi > 0 && (v < lo || v > hi))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be in %I..%I, got %I", key, lo, hi, v));
  if (v < lo)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be >= %I, got %I", key, lo, v));
  if (v > INT_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be at most %I, got %I", key,
                                          (lua_Integer)INT_MAX, v));
  return (int)v;
}

/* The constraint parameters r, p, c of the options at arg (the paper's defaults). */
static void opt_constraints(lua_State *L, int arg, tsr_crosssynth_params *prm) {
  prm->r = opt_int(L, arg, "r", 3, 0, 0);
  prm->p = opt_int(L, arg, "p", 10, 1, 0);
  prm->c = opt_int(L, arg, "c", 3, 0, 0);
}

static const char *const FIT_OPTIONS[] = {"iter", "r", "p", "c", "seed", NULL};

/* crosssynth.fit(W, V [, {iter=20, r=3, p=10, c=3, seed=0}]) -> H, divergence
 * W: the source's magnitude (n x M), V: the target's (n x N); H is M x N. */
static int crosssynth_fit(lua_State *L) {
  lmatrix *W = lmatrix_check(L, 1);
  lmatrix *V = lmatrix_check(L, 2);
  laux_check_options(L, 3, FIT_OPTIONS);
  tsr_crosssynth_params prm;
  prm.iter = opt_int(L, 3, "iter", 20, 0, 100000);
  opt_constraints(L, 3, &prm);
  prm.seed = (uint64_t)laux_opt_integer(L, 3, "seed", 0);
  if (V->m.rows != W->m.rows)
    luaL_argerror(L, 2, lua_pushfstring(L, "V has %I rows but W has %I (the source and the "
                                           "target need the same STFT size)",
                                        (lua_Integer)V->m.rows, (lua_Integer)W->m.rows));
  lmatrix *H = lmatrix_push(L, W->m.cols, V->m.cols, WHO ".fit");
  tsr_error err = {{0}};
  double divergence = 0.0;
  int st = tsr_crosssynth_fit(&W->m, &V->m, &prm, &H->m, &divergence, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".fit", st, &err);
  lua_pushnumber(L, divergence);
  return 2;
}

static const char *const CONSTRAIN_OPTIONS[] = {"r", "p", "c", "damping", NULL};

/* crosssynth.constrain(H [, {r=3, p=10, c=3, damping=0}]) -> a new Matrix: one round of
 * the repetition, polyphony and continuity constraints on a copy of H. */
static int crosssynth_constrain(lua_State *L) {
  lmatrix *H = lmatrix_check(L, 1);
  laux_check_options(L, 2, CONSTRAIN_OPTIONS);
  tsr_crosssynth_params prm = {0, 0, 0, 0, 0};
  opt_constraints(L, 2, &prm);
  lua_Number damping = laux_opt_number(L, 2, "damping", 0.0);
  if (!(damping >= 0.0 && damping <= 1.0))
    luaL_argerror(L, 2, lua_pushfstring(L, "damping must be in [0, 1], got %f", damping));
  lmatrix *R = lmatrix_push(L, H->m.rows, H->m.cols, WHO ".constrain");
  if (H->m.rows > 0 && H->m.cols > 0)
    memcpy(R->m.data, H->m.data, (size_t)H->m.rows * (size_t)H->m.cols * sizeof(float));
  tsr_error err = {{0}};
  int st = tsr_crosssynth_constrain(&R->m, &prm, (float)damping, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".constrain", st, &err);
  return 1;
}

static const char *const APPLY_OPTIONS[] = {"length", NULL};

/* crosssynth.apply(S, H [, {length=}]) -> Spectrogram: S (the source's complex STFT,
 * bins x M) times H (M x N), with S's STFT settings; length (samples, for istft) must give
 * N frames, default the shortest signal that does. */
static int crosssynth_apply(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  lmatrix *H = lmatrix_check(L, 2);
  laux_check_options(L, 3, APPLY_OPTIONS);
  if (H->m.rows != S->s.frames)
    luaL_argerror(L, 2, lua_pushfstring(L, "H has %I rows but the spectrogram has %I frames",
                                        (lua_Integer)H->m.rows, (lua_Integer)S->s.frames));
  const int64_t N = H->m.cols;
  if (N < 1) luaL_argerror(L, 2, "H has no columns (the target has no frames)");
  tsr_spectrogram shape = S->s;
  shape.frames = N;
  shape.data = NULL;
  shape.length = shape.center ? (N - 1) * shape.hop : shape.n_fft + (N - 1) * shape.hop;
  lua_Integer length = laux_opt_integer(L, 3, "length", -1);
  if (length != -1) {
    tsr_stft_config cfg = {shape.n_fft, shape.hop, shape.window, shape.center};
    tsr_spectrogram geom;
    tsr_error gerr = {{0}};
    if (length < 0 || tsr_stft_geometry(&cfg, length, shape.sr, &geom, &gerr) != TSR_OK ||
        geom.frames != N)
      luaL_argerror(L, 3, lua_pushfstring(L, "length %I does not give %I frames with n_fft %d "
                                             "and hop %d", length, (lua_Integer)N, shape.n_fft,
                                          shape.hop));
    shape.length = length;
  }
  lspectrogram *Y = lspectrogram_push(L, &shape, WHO ".apply");
  tsr_error err = {{0}};
  int st = tsr_crosssynth_apply(&S->s, &H->m, &Y->s, &err);
  if (st != TSR_OK) return laux_fail(L, WHO ".apply", st, &err);
  return 1;
}

static const luaL_Reg crosssynth_functions[] = {
  {"fit", crosssynth_fit},
  {"constrain", crosssynth_constrain},
  {"apply", crosssynth_apply},
  {NULL, NULL}
};

void crosssynth_open(lua_State *L) {
  luaL_newlib(L, crosssynth_functions);
  lua_setfield(L, -2, "crosssynth");
}
