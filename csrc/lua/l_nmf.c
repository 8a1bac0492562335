/* tessera.core.nmf.fit: the NMF and NMFD fit, its options checked and resolved here, the
 * work done by the kernels in csrc/nmf/ (the Model's helpers: l_nmf_model.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../nmf.h"
#include "l_tessera.h"

static const char *const LOSS_NAMES[] = {"euclidean", "kl", "is", NULL};
static const double LOSS_BETAS[] = {2.0, 1.0, 0.0};

double lnmf_loss_beta(lua_State *L, int arg, const char *s, const char **name) {
  int i = 0;
  while (LOSS_NAMES[i] != NULL && strcmp(s, LOSS_NAMES[i]) != 0) i++;
  if (LOSS_NAMES[i] == NULL)
    luaL_argerror(L, arg, lua_pushfstring(L, "invalid loss '%s'; expected one of: euclidean, kl, "
                                          "is, or a number%s", s,
                                          laux_did_you_mean(L, s, LOSS_NAMES)));
  if (name != NULL) *name = LOSS_NAMES[i];
  return LOSS_BETAS[i];
}
static const char *const SOLVER_NAMES[] = {"mu", "cd", NULL};
static const char *const ORDER_NAMES[] = {"HW", "WH", "simultaneous", NULL};
/* Indexed like enum tsr_nmf_tol_rule. */
static const char *const TOL_RULE_NAMES[] = {"start", "last", NULL};
/* Indexed like enum tsr_nmf_init, then "custom". */
static const char *const INIT_NAMES[] = {"random", "uniform", "nndsvd", "nndsvda", "nndsvdar",
                                         "custom", NULL};
#define INIT_CUSTOM 5

static const char *const FIT_OPTIONS[] = {
  "k", "loss", "solver", "init", "W", "H", "seed", "order", "max_iter", "tol", "tol_rule",
  "update_W", "update_H", "alpha_W", "alpha_H", "l1_ratio", "on_iter", "every", "progress", "threads",
  "weights", "fixed_W", "fixed_H", "smooth_H", "allowed_H", "W_start", "H_start", "T", "max_memory", NULL};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "a, b, c" for an error message; pushed on the stack. */
static const char *push_names(lua_State *L, const char *const *names) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; names[i] != NULL; i++) {
    if (i > 0) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Option `key` of the table at arg as one of `names` (index returned), or def when absent. */
static int opt_name(lua_State *L, int arg, const char *key, const char *const *names, int def) {
  int t = lua_getfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (t != LUA_TSTRING)
    return luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string, got %s", key,
                                                 luaL_typename(L, -1)));
  const char *s = lua_tostring(L, -1);
  for (int i = 0; names[i] != NULL; i++)
    if (strcmp(s, names[i]) == 0) {
      lua_pop(L, 1);
      return i;
    }
  const char *list = push_names(L, names);
  const char *hint = laux_did_you_mean(L, s, names);
  return luaL_argerror(L, arg, lua_pushfstring(L, "invalid %s '%s'; expected one of: %s%s", key,
                                               s, list, hint));
}

/* The loss option (string name or number beta) at the top of `arg`'s field "loss". */
static double opt_loss(lua_State *L, int arg, const char **name) {
  int t = lua_getfield(L, arg, "loss");
  double beta = 2.0;
  *name = "euclidean";
  if (t == LUA_TNUMBER) {
    beta = lua_tonumber(L, -1);
    *name = NULL; /* a finite one: tsr_nmf_check_params */
  } else if (t == LUA_TSTRING) {
    beta = lnmf_loss_beta(L, arg, lua_tostring(L, -1), name);
  } else if (t != LUA_TNIL) {
    return luaL_argerror(L, arg, lua_pushfstring(L, "loss must be a string or a number, got %s",
                                                 luaL_typename(L, -1))), 0.0;
  }
  lua_pop(L, 1);
  return beta;
}

/* Integer option `key` as an int: its range is tsr_nmf_check_params's to check, and a value
 * beyond an int's is said to be outside it (`range`, the kernel's words). */
static int opt_int(lua_State *L, int arg, const char *key, int def, const char *range) {
  lua_Integer v = laux_opt_integer(L, arg, key, def);
  if (v < INT32_MIN || v > INT32_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s %s, got %I", key, range, v));
  return (int)v;
}

/* The Matrix in field `key` (NULL when absent), checked to be rows x cols. */
static lmatrix *opt_factor(lua_State *L, int arg, const char *key, int64_t rows, int64_t cols) {
  int t = lua_getfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  lmatrix *M = lmatrix_test(L, -1);
  if (M == NULL)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a Matrix, got %s", key,
                                          luaL_typename(L, -1)));
  if (M->m.data == NULL)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s has been freed", key));
  if (M->m.rows != rows || M->m.cols != cols)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be %I x %I, got %I x %I", key,
                                          (lua_Integer)rows, (lua_Integer)cols,
                                          (lua_Integer)M->m.rows, (lua_Integer)M->m.cols));
  lua_pop(L, 1); /* the options table keeps it alive */
  return M;
}


/* opts[key]: a list of distinct component numbers in 1..k, as k flags in a userdata left on
 * the stack (it lives as long as the call); NULL when the key is absent. */
static const unsigned char *opt_frozen(lua_State *L, int arg, const char *key, int k) {
  int t = lua_getfield(L, arg, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a list of component numbers, got %s",
                                          key, luaL_typename(L, -1)));
  int list = lua_gettop(L);
  unsigned char *flags = lua_newuserdatauv(L, (size_t)k, 0);
  memset(flags, 0, (size_t)k);
  lua_Integer len = luaL_len(L, list);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, list, i);
    int isnum = 0;
    lua_Integer c = lua_tointegerx(L, -1, &isnum);
    if (!isnum || c < 1 || c > k)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s[%I] must be a component number in 1..%d, got %s",
                                            key, i, k, luaL_tolstring(L, -1, NULL)));
    if (flags[c - 1])
      luaL_argerror(L, arg, lua_pushfstring(L, "%s lists component %I twice", key, c));
    flags[c - 1] = 1;
    lua_pop(L, 1);
  }
  lua_remove(L, list);
  return flags;
}

/* opts.smooth_H: one weight >= 0 for every component or a list of k of them, as k doubles in
 * a userdata left on the stack; NULL when absent or all 0. */
static const double *opt_smooth(lua_State *L, int arg, int k) {
  int t = lua_getfield(L, arg, "smooth_H");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  int given = lua_gettop(L);
  if (t != LUA_TNUMBER && t != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "smooth_H must be a number or a list of %d numbers, "
                                          "got %s", k, luaL_typename(L, -1)));
  if (t == LUA_TTABLE && luaL_len(L, given) != k)
    luaL_argerror(L, arg, lua_pushfstring(L, "smooth_H must list %d weights (one per component), "
                                          "got %I", k, (lua_Integer)luaL_len(L, given)));
  double *w = lua_newuserdatauv(L, (size_t)k * sizeof(double), 0);
  int any = 0;
  for (int a = 0; a < k; a++) {
    if (t == LUA_TTABLE) lua_geti(L, given, a + 1);
    else lua_pushvalue(L, given);
    int isnum = 0;
    double v = lua_tonumberx(L, -1, &isnum);
    if (!isnum || !(v >= 0.0) || !isfinite(v))
      luaL_argerror(L, arg, lua_pushfstring(L, "smooth_H weights must be finite numbers >= 0, "
                                            "got %s", luaL_tolstring(L, -1, NULL)));
    lua_pop(L, 1);
    w[a] = v;
    any |= v > 0.0;
  }
  lua_remove(L, given);
  return any ? w : NULL;
}

/* The state the kernel's on_check reaches the Lua side through. */
typedef struct fit_ctx {
  lua_State *L;
  int step;       /* stack index of the closure that records a check and calls on_iter */
  int failed;     /* on_iter raised; its error value is on top of the stack */
  int last;       /* last iteration recorded (-1: none) */
} fit_ctx;

/* Upvalues: the history table, on_iter (or nil). Arguments: iteration, loss. Returns
 * true when on_iter asked to stop. Runs under lua_pcall. */
static int fit_step(lua_State *L) {
  lua_Integer it = lua_tointeger(L, 1);
  lua_Number loss = lua_tonumber(L, 2);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, it);
  lua_setfield(L, -2, "iteration");
  lua_pushnumber(L, loss);
  lua_setfield(L, -2, "loss");
  lua_rawseti(L, lua_upvalueindex(1), (lua_Integer)luaL_len(L, lua_upvalueindex(1)) + 1);
  int stop = 0;
  if (it > 0 && !lua_isnil(L, lua_upvalueindex(2))) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushinteger(L, it);
    lua_pushnumber(L, loss);
    lua_call(L, 2, 1);
    stop = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  }
  lua_pushboolean(L, stop);
  return 1;
}

static int fit_on_check(void *ud, int iteration, double loss) {
  fit_ctx *c = ud;
  lua_State *L = c->L;
  if (c->failed) return 1;
  if (iteration <= c->last) return 0; /* a solver that reports check 0 itself as well */
  c->last = iteration;
  lua_pushvalue(L, c->step);
  lua_pushinteger(L, iteration);
  lua_pushnumber(L, loss);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    c->failed = 1; /* the error value stays on top for the binding to raise */
    return 1;
  }
  int stop = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return stop;
}

/* The options as resolved, what was used and the defaults: a table on the stack. */
static void push_options(lua_State *L, int k, int T, const char *loss_name,
                         const tsr_nmf_params *prm, int init, lua_Integer seed) {
  lua_createtable(L, 0, 21);
  lua_pushinteger(L, k);
  lua_setfield(L, -2, "k");
  if (T > 0) {
    lua_pushinteger(L, T);
    lua_setfield(L, -2, "T");
  }
  if (loss_name) lua_pushstring(L, loss_name);
  else lua_pushnumber(L, prm->beta);
  lua_setfield(L, -2, "loss");
  lua_pushnumber(L, prm->beta);
  lua_setfield(L, -2, "beta");
  lua_pushstring(L, SOLVER_NAMES[prm->solver]);
  lua_setfield(L, -2, "solver");
  lua_pushstring(L, INIT_NAMES[init]);
  lua_setfield(L, -2, "init");
  lua_pushinteger(L, seed);
  lua_setfield(L, -2, "seed");
  lua_pushstring(L, ORDER_NAMES[prm->order]);
  lua_setfield(L, -2, "order");
  lua_pushinteger(L, prm->max_iter);
  lua_setfield(L, -2, "max_iter");
  lua_pushnumber(L, prm->tol);
  lua_setfield(L, -2, "tol");
  lua_pushstring(L, TOL_RULE_NAMES[prm->tol_rule]);
  lua_setfield(L, -2, "tol_rule");
  lua_pushboolean(L, prm->update_W);
  lua_setfield(L, -2, "update_W");
  lua_pushboolean(L, prm->update_H);
  lua_setfield(L, -2, "update_H");
  lua_pushnumber(L, prm->alpha_W);
  lua_setfield(L, -2, "alpha_W");
  lua_pushnumber(L, prm->alpha_H);
  lua_setfield(L, -2, "alpha_H");
  lua_pushnumber(L, prm->l1_ratio);
  lua_setfield(L, -2, "l1_ratio");
  lua_pushinteger(L, prm->every);
  lua_setfield(L, -2, "every");
  lua_pushinteger(L, prm->threads > 0 ? prm->threads : tsr_nmf_default_threads());
  lua_setfield(L, -2, "threads");
}

/* nmf.fit(V, opts) -> W, H, info. See lua/tessera/nmf.lua for the options. */
static int nmf_fit(lua_State *L) {
  lmatrix *Vm = lmatrix_check(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int64_t n = Vm->m.rows, p = Vm->m.cols;
  /* Unknown keys are mistakes (max_iters, alpha_w, ...), not silently ignored. */
  laux_check_options(L, 2, FIT_OPTIONS);
  /* Listed above so the unknown-option message names every option of tessera.nmf;
   * lua/tessera/nmf_score.lua turns the first three into the start (W and H), and
   * lua/tessera/memory.lua applies max_memory, before the fit gets here. */
  for (int i = 0; i < 4; i++) {
    const char *key = i == 0 ? "allowed_H" : i == 1 ? "W_start" : i == 2 ? "H_start" : "max_memory";
    if (lua_getfield(L, 2, key) != LUA_TNIL)
      luaL_argerror(L, 2, lua_pushfstring(L, "%s is resolved by tessera.nmf, not core.nmf.fit", key));
    lua_pop(L, 1);
  }

  if (lua_getfield(L, 2, "k") == LUA_TNIL) luaL_argerror(L, 2, "k is required");
  lua_pop(L, 1);
  if (laux_opt_integer(L, 2, "k", 0) > INT32_MAX)
    luaL_argerror(L, 2, lua_pushfstring(L, "k is too large, got %I", laux_opt_integer(L, 2, "k", 0)));
  int k = opt_int(L, 2, "k", 0, "must be >= 1");
  int64_t mn = n < p ? n : p;
  /* T (convolutive NMF, nmf/nmfd.c): templates T frames long, W n x kT; 0 when absent. */
  int T = opt_int(L, 2, "T", 0, "must be >= 1");
  int conv = lua_getfield(L, 2, "T") != LUA_TNIL;
  lua_pop(L, 1);
  if (conv && T < 1) luaL_argerror(L, 2, lua_pushfstring(L, "T must be >= 1, got %d", T));
  int wcols = conv ? k * (T > 0 && k <= INT32_MAX / T ? T : 1) : k;

  /* The options by type here; their ranges by the one check of the kernel. */
  tsr_nmf_params prm;
  tsr_nmf_params_default(&prm);
  const char *loss_name;
  prm.beta = opt_loss(L, 2, &loss_name);
  prm.solver = opt_name(L, 2, "solver", SOLVER_NAMES, TSR_NMF_MU);
  prm.order = opt_name(L, 2, "order", ORDER_NAMES, TSR_NMF_ORDER_HW);
  prm.max_iter = opt_int(L, 2, "max_iter", prm.max_iter, "must be >= 0");
  prm.tol = laux_opt_number(L, 2, "tol", prm.tol);
  prm.tol_rule = opt_name(L, 2, "tol_rule", TOL_RULE_NAMES, TSR_NMF_TOL_START);
  prm.update_W = laux_opt_boolean(L, 2, "update_W", 1);
  prm.update_H = laux_opt_boolean(L, 2, "update_H", 1);
  prm.alpha_W = laux_opt_number(L, 2, "alpha_W", 0.0);
  int alpha_same = 1;
  if (lua_getfield(L, 2, "alpha_H") == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, -1), "same") != 0)
      luaL_argerror(L, 2, lua_pushfstring(L, "alpha_H must be a number or 'same', got '%s'",
                                          lua_tostring(L, -1)));
    lua_pop(L, 1);
  } else {
    lua_pop(L, 1);
    alpha_same = lua_getfield(L, 2, "alpha_H") == LUA_TNIL;
    lua_pop(L, 1);
  }
  prm.alpha_H = alpha_same ? prm.alpha_W : laux_opt_number(L, 2, "alpha_H", 0.0);
  prm.l1_ratio = laux_opt_number(L, 2, "l1_ratio", 0.0);
  prm.every = opt_int(L, 2, "every", prm.every, "must be >= 1");
  /* threads = 0 is the kernel's "OpenBLAS's count", which here is the option left out. */
  int threads_given = lua_getfield(L, 2, "threads") != LUA_TNIL;
  lua_pop(L, 1);
  prm.threads = opt_int(L, 2, "threads", 0, "must be in 1..64");
  if (threads_given && prm.threads == 0)
    luaL_argerror(L, 2, "threads must be in 1..64, got 0");
  (void)laux_opt_boolean(L, 2, "progress", 1); /* drawn by lua/tessera/nmf.lua */
  lua_Integer seed = laux_opt_integer(L, 2, "seed", 0);
  int t_on_iter = lua_getfield(L, 2, "on_iter");
  if (t_on_iter != LUA_TNIL && t_on_iter != LUA_TFUNCTION)
    luaL_argerror(L, 2, lua_pushfstring(L, "on_iter must be a function, got %s",
                                        luaL_typename(L, -1)));
  int on_iter_idx = lua_gettop(L); /* the function or nil, kept for the closure below */
  tsr_error err = {{0}};
  if (tsr_nmf_check_params(n, p, k, &prm, &err) != TSR_OK)
    luaL_argerror(L, n < 1 || p < 1 ? 1 : 2, lua_pushstring(L, err.msg));
  const char *who = conv ? "tessera.nmfd" : "tessera.nmf";

  lmatrix *M = opt_factor(L, 2, "weights", n, p);
  if (M != NULL) laux_check_entries(L, who, &M->m, "weights");
  prm.weights = M != NULL ? M->m.data : NULL;
  prm.frozen_W = opt_frozen(L, 2, "fixed_W", k);
  prm.frozen_H = opt_frozen(L, 2, "fixed_H", k);
  prm.smooth_H = opt_smooth(L, 2, k);
  if (prm.smooth_H != NULL && prm.solver == TSR_NMF_CD)
    luaL_argerror(L, 2, "smooth_H needs solver 'mu' (temporal continuity is a multiplicative "
                        "update's prior)");
  if (conv && tsr_nmfd_check(n, p, k, T, &prm, &err) != TSR_OK)
    luaL_argerror(L, 2, lua_pushstring(L, err.msg));
  lmatrix *W0 = opt_factor(L, 2, "W", n, wcols);
  lmatrix *H0 = opt_factor(L, 2, "H", k, p);
  int given = W0 != NULL || H0 != NULL;
  int init = opt_name(L, 2, "init", INIT_NAMES,
                      given ? INIT_CUSTOM
                      : k <= mn && !conv ? TSR_NMF_INIT_NNDSVDA : TSR_NMF_INIT_RANDOM);
  if (init == INIT_CUSTOM && !given) luaL_argerror(L, 2, "init 'custom' needs W or H");
  if (init != INIT_CUSTOM && given)
    luaL_argerror(L, 2, lua_pushfstring(L, "W and H are used only with init 'custom', got "
                                        "init '%s'", INIT_NAMES[init]));
  if (init >= TSR_NMF_INIT_NNDSVD && init <= TSR_NMF_INIT_NNDSVDAR && conv && T > 1)
    luaL_argerror(L, 2, lua_pushfstring(L, "init '%s' needs T = 1 (NMFD starts at 'random', "
                                        "'uniform' or 'custom'), got T = %d", INIT_NAMES[init], T));
  if (init >= TSR_NMF_INIT_NNDSVD && init <= TSR_NMF_INIT_NNDSVDAR && k > mn)
    luaL_argerror(L, 2, lua_pushfstring(L, "init '%s' needs k <= %I, the smaller of n and p, "
                                        "got %d", INIT_NAMES[init], (lua_Integer)mn, k));

  /* Data checks, then allocation. */
  laux_check_entries(L, who, &Vm->m, "V");
  if (W0) laux_check_entries(L, who, &W0->m, "W");
  if (H0) laux_check_entries(L, who, &H0->m, "H");
  lua_checkstack(L, 16);
  lmatrix *W = lmatrix_push(L, n, wcols, who);
  int w_idx = lua_gettop(L);
  lmatrix *H = lmatrix_push(L, k, p, who);
  int h_idx = lua_gettop(L);
  int status = TSR_OK;
  if (init == INIT_CUSTOM) {
    /* tessera.nmf (lua/tessera/nmf.lua) gives the missing factor its start. */
    if (W0 == NULL || H0 == NULL) luaL_argerror(L, 2, "init 'custom' here needs both W and H");
    memcpy(W->m.data, W0->m.data, (size_t)n * (size_t)wcols * sizeof(float));
    memcpy(H->m.data, H0->m.data, (size_t)k * (size_t)p * sizeof(float));
  } else {
    /* The start sees only what the fit sees: entries of weight 0 are zeros for it. */
    const float *Vinit = Vm->m.data;
    if (M != NULL) {
      lmatrix *seen = lmatrix_push_unfilled(L, n, p, "tessera.nmf");
      size_t count = (size_t)n * (size_t)p;
      for (size_t e = 0; e < count; e++)
        seen->m.data[e] = M->m.data[e] > 0.0f ? Vm->m.data[e] : 0.0f;
      Vinit = seen->m.data;
    }
    if (wcols == k) {
      status = tsr_nmf_init(Vinit, n, p, k, init, (uint64_t)seed, W->m.data, H->m.data, &err);
    } else {
      /* NMFD: the start of an NMF of rank kT (its scale sqrt(mean(V)/(kT)) fits the sum of
       * kT products), H its first k rows. */
      lmatrix *Hk = lmatrix_push(L, wcols, p, who);
      status = tsr_nmf_init(Vinit, n, p, wcols, init, (uint64_t)seed, W->m.data, Hk->m.data, &err);
      for (int64_t j = 0; j < p; j++)
        memcpy(H->m.data + j * k, Hk->m.data + j * wcols, (size_t)k * sizeof(float));
    }
    if (status != TSR_OK) return laux_fail(L, who, status, &err);
  }

  lua_newtable(L); /* history */
  int hist_idx = lua_gettop(L);
  lua_pushvalue(L, hist_idx);
  lua_pushvalue(L, on_iter_idx);
  lua_pushcclosure(L, fit_step, 2);
  fit_ctx ctx = {L, lua_gettop(L), 0, -1};
  double start = now_seconds();
  prm.on_check = fit_on_check;
  prm.ctx = &ctx;
  tsr_nmf_result res;
  if (conv)
    status = tsr_nmfd_fit(Vm->m.data, n, p, k, T, W->m.data, H->m.data, &prm, &res, &err);
  else
    status = tsr_nmf_fit(Vm->m.data, n, p, k, W->m.data, H->m.data, &prm, &res, &err);
  double seconds = now_seconds() - start;
  if (ctx.failed) return lua_error(L); /* on_iter's error, as it was raised */
  if (status != TSR_OK) return laux_fail(L, who, status, &err);

  lua_pushvalue(L, w_idx);
  lua_pushvalue(L, h_idx);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, res.iterations);
  lua_setfield(L, -2, "iterations");
  lua_pushboolean(L, res.converged);
  lua_setfield(L, -2, "converged");
  lua_pushboolean(L, res.stopped);
  lua_setfield(L, -2, "stopped");
  lua_pushnumber(L, res.loss);
  lua_setfield(L, -2, "loss");
  lua_pushnumber(L, seconds);
  lua_setfield(L, -2, "seconds");
  lua_pushvalue(L, hist_idx);
  lua_setfield(L, -2, "history");
  push_options(L, k, conv ? T : 0, loss_name, &prm, init, seed);
  lua_setfield(L, -2, "options");
  return 3;
}

void nmf_open(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, nmf_fit);
  lua_setfield(L, -2, "fit");
  nmf_model_functions(L);
  lua_setfield(L, -2, "nmf");
}
