/* Bindings of the harmonic/percussive separation (csrc/hpss.c): core.hpss.separate,
 * core.hpss.median_filter and core.hpss.mask_share. tessera.hpss (lua/tessera/hpss.lua)
 * builds the public API on them. */
#include <math.h>
#include <string.h>

#include "l_tessera.h"
#include "../hpss.h"

/* Reads option `key` of the table at arg as one number for both parts or a pair {h, p}
 * (integers when `integer`), into *h and *p; absent: def for both. */
static void opt_pair(lua_State *L, int arg, const char *key, int integer, double def,
                     double *h, double *p) {
  const char *expected = integer ? "an integer or a pair {h, p} of integers"
                                 : "a number or a pair {h, p} of numbers";
  *h = *p = def;
  if (lua_isnoneornil(L, arg)) return;
  int t = lua_getfield(L, arg, key);
  if (t == LUA_TNUMBER && (!integer || lua_isinteger(L, -1))) {
    *h = *p = lua_tonumber(L, -1);
  } else if (t == LUA_TTABLE && luaL_len(L, -1) == 2) {
    double v[2];
    for (int i = 0; i < 2; i++) {
      int ti = lua_geti(L, -1, i + 1);
      if (ti != LUA_TNUMBER || (integer && !lua_isinteger(L, -1)))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be %s, got a pair holding %s", key,
                                              expected, ti == LUA_TNUMBER ? lua_tostring(L, -1)
                                                                          : luaL_typename(L, -1)));
      v[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    *h = v[0], *p = v[1];
  } else if (t != LUA_TNIL) {
    const char *got = t == LUA_TNUMBER ? lua_pushfstring(L, "%s", lua_tostring(L, -1))
                                       : luaL_typename(L, -1);
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be %s, got %s", key, expected, got));
  }
  lua_pop(L, 1);
}

/* Reads and checks the options of separate into *cfg (argument errors on bad ones). */
static void check_config(lua_State *L, int arg, tsr_hpss_config *cfg) {
  static const char *const options[] = {"kernel", "margin", "power", "hard", "threads", NULL};
  laux_check_options(L, arg, options);
  double kh, kp;
  opt_pair(L, arg, "kernel", 1, 31, &kh, &kp); /* librosa's default kernel_size */
  opt_pair(L, arg, "margin", 0, 1.0, &cfg->margin_h, &cfg->margin_p);
  cfg->power = laux_opt_number(L, arg, "power", 2.0);
  /* Driedger's separation with a residual is binary; librosa's soft masks stay at hand. */
  cfg->hard = laux_opt_boolean(L, arg, "hard", cfg->margin_h > 1.0 || cfg->margin_p > 1.0);
  lua_Integer threads = laux_opt_integer(L, arg, "threads", -1); /* -1: not given */
  if (threads != -1 && (threads < 1 || threads > 64))
    luaL_argerror(L, arg, lua_pushfstring(L, "threads must be in 1..64, got %I", threads));
  if (!(kh >= 1 && kh <= TSR_HPSS_MAX_KERNEL) || !(kp >= 1 && kp <= TSR_HPSS_MAX_KERNEL))
    luaL_argerror(L, arg, lua_pushfstring(L, "kernel sizes must be in 1..%d, got %I and %I",
                                          TSR_HPSS_MAX_KERNEL, (lua_Integer)kh,
                                          (lua_Integer)kp));
  cfg->kernel_h = (int64_t)kh, cfg->kernel_p = (int64_t)kp;
  cfg->threads = threads == -1 ? 0 : (int)threads; /* 0: tessera's default */
  tsr_error err = {{0}};
  if (tsr_hpss_check(cfg, &err) != TSR_OK) luaL_argerror(L, arg, lua_pushstring(L, err.msg));
}

/* separate(S [, {kernel = 31 | {h, p}, margin = 1 | {h, p}, power = 2, hard, threads}])
 * -> harmonic, percussive, residual (Spectrograms: S times each mask, the residual what is
 * left, so the three add up to S), mask_h, mask_p (Matrices). */
static int hpss_separate(lua_State *L) {
  lspectrogram *S = lspectrogram_check(L, 1);
  tsr_hpss_config cfg;
  check_config(L, 2, &cfg);
  lua_settop(L, 2);
  const int64_t bins = S->s.bins, frames = S->s.frames, count = bins * frames;
  lmatrix *mag = lmatrix_push_unfilled(L, bins, frames, "tessera.hpss"); /* 3 */
  tsr_spectrogram_magnitude(&S->s, mag->m.data);
  lmatrix *mh = lmatrix_push_unfilled(L, bins, frames, "tessera.hpss"); /* 4 */
  lmatrix *mp = lmatrix_push_unfilled(L, bins, frames, "tessera.hpss"); /* 5 */
  tsr_error err = {{0}};
  int status = tsr_hpss_masks(mag->m.data, bins, frames, &cfg, mh->m.data, mp->m.data, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.hpss", status, &err);
  lspectrogram *H = lspectrogram_push(L, &S->s, "tessera.hpss"); /* 6 */
  lspectrogram *P = lspectrogram_push(L, &S->s, "tessera.hpss"); /* 7 */
  lspectrogram *R = lspectrogram_push(L, &S->s, "tessera.hpss"); /* 8 */
  const float *z = S->s.data;
  for (int64_t e = 0; e < 2 * count; e++) {
    float h = z[e] * mh->m.data[e / 2], p = z[e] * mp->m.data[e / 2];
    H->s.data[e] = h;
    P->s.data[e] = p;
    /* In double, so that h + p + r gives z back to within r's own rounding. */
    R->s.data[e] = (float)((double)z[e] - h - p);
  }
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 5);
  return 5;
}

static const char *const axis_names[] = {"frequency", "time", NULL};

/* median_filter(M, size, axis) -> Matrix: scipy.ndimage.median_filter of M with a window of
 * `size` along "time" (a row) or "frequency" (a column), mode 'reflect'. */
static int hpss_median_filter(lua_State *L) {
  lmatrix *M = lmatrix_check(L, 1);
  lua_Integer size = luaL_checkinteger(L, 2);
  int axis = luaL_checkoption(L, 3, NULL, axis_names);
  if (size < 1 || size > TSR_HPSS_MAX_KERNEL)
    luaL_argerror(L, 2, lua_pushfstring(L, "size must be in 1..%d, got %I", TSR_HPSS_MAX_KERNEL,
                                        size));
  lmatrix *out = lmatrix_push_unfilled(L, M->m.rows, M->m.cols, "median_filter");
  tsr_error err = {{0}};
  int status = tsr_median_filter(M->m.data, M->m.rows, M->m.cols, axis, size, 0, out->m.data,
                                 &err);
  if (status != TSR_OK) return laux_fail(L, "median_filter", status, &err);
  return 1;
}

/* mask_share(W, H, magnitude, mask [, T]) -> {share of component 1, ...}: the part of each
 * component's Wiener energy the mask keeps (tsr_hpss_mask_share; T > 1: an NMFD model). */
static int hpss_mask_share(lua_State *L) {
  lmatrix *W = lmatrix_check(L, 1), *H = lmatrix_check(L, 2);
  lmatrix *mag = lmatrix_check(L, 3), *mask = lmatrix_check(L, 4);
  const lua_Integer T = luaL_optinteger(L, 5, 1);
  luaL_argcheck(L, T >= 1 && T <= W->m.cols, 5, "T must be in 1..W's columns");
  const int64_t bins = W->m.rows, k = W->m.cols / T, frames = H->m.cols;
  luaL_argcheck(L, k * T == W->m.cols, 1, "W's columns must be k T");
  laux_check_shape(L, 2, "H", H, k, frames);
  laux_check_shape(L, 3, "magnitude", mag, bins, frames);
  laux_check_shape(L, 4, "mask", mask, bins, frames);
  /* k doubles of scratch as a userdata (the one allocation path's: counted, never stranded). */
  double *out = lmem_push_block(L, (size_t)(k > 0 ? k : 1) * sizeof(double), 0, "percussiveness",
                                "the components' shares");
  tsr_error err = {{0}};
  int status = tsr_hpss_mask_share(W->m.data, H->m.data, bins, frames, k, T, mag->m.data,
                                   mask->m.data, out, &err);
  if (status != TSR_OK) return laux_fail(L, "percussiveness", status, &err);
  lua_createtable(L, (int)k, 0);
  for (int64_t i = 0; i < k; i++) {
    lua_pushnumber(L, out[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static const luaL_Reg hpss_functions[] = {
  {"separate", hpss_separate},
  {"median_filter", hpss_median_filter},
  {"mask_share", hpss_mask_share},
  {NULL, NULL}
};

void hpss_open(lua_State *L) {
  luaL_newlib(L, hpss_functions);
  lua_pushinteger(L, TSR_HPSS_MAX_KERNEL);
  lua_setfield(L, -2, "max_kernel");
  lua_setfield(L, -2, "hpss");
}
