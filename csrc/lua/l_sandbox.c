/* tessera.core.sandbox: the CPU and memory budgets recipes run under (lua/tessera/sandbox.lua
 * builds the environment; this file enforces the limits, which pure Lua cannot).
 *
 * Memory: Lua's heap (with every Matrix, Audio and Spectrogram's data) and the kernels'
 * buffers are one live count (memory.c, l_memory.c); while a budgeted call runs, a ceiling
 * on that count is set at what was live plus the budget, so the recipe's Lua values and its
 * matrices/audio share one budget, checked before each allocation. A refused allocation is
 * Lua's ordinary "not enough memory" error, after an emergency collection; garbage does not
 * count.
 * CPU: a count hook on the state (and on every coroutine the recipe makes, through arm)
 * counts VM instructions; C loops a recipe can make long (table.move, table.sort) are
 * charged to it up front (charge). Once a budget is exceeded it stays exceeded: the hook
 * raises again at every instruction, so a recipe's own pcall cannot swallow the error.
 * While a budgeted call runs, the string metatable's __index is the recipe's string table
 * (limits.strings), so ("x"):find(p) goes through the same bounded functions as string.find.
 * Time: timed(seconds, fn) is a wall-clock limit on a whole render (the recipe and the
 * work it asks for). At the deadline a SIGALRM handler raises the interrupt flag Ctrl-C
 * raises (tsr_interrupt: C loops that poll it stop, no file is committed) and sets a hook
 * that raises in Lua, as lua.c's Ctrl-C does. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "l_tessera.h"

#define HOOK_STEP 1000 /* instructions between two looks at the CPU budget */

typedef struct budget {
  size_t memory;            /* bytes the call may add (0: no memory budget) */
  lua_Integer instructions; /* VM instructions the call may run (0: no CPU budget) */
  lua_Integer executed;
  size_t refusals; /* the limit's refusals when the call began: any more exceed the budget */
  int memory_exceeded, cpu_exceeded;
} budget;

/* The registry key of the budget in force. */
static const char budget_key = 0;

/* The budget in force in L's global state, or NULL. */
static budget *active(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &budget_key);
  budget *b = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return b;
}

/* ---- the wall clock ------------------------------------------------------------------ */

typedef struct deadline {
  int armed;
  double seconds;
  lua_State *L; /* the thread that armed it: the hook goes there */
  lua_Hook saved_hook;
  int saved_mask, saved_count;
  struct sigaction saved_action;
  struct itimerval saved_timer; /* a timer someone else had (libFuzzer's), put back */
  double last_raise; /* monotonic seconds of the hook's last error */
  double due;        /* monotonic seconds of the deadline */
} deadline;

static deadline clock_limit;
static volatile sig_atomic_t deadline_expired = 0;

static double monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void push_deadline(lua_State *L) {
  char secs[32];
  snprintf(secs, sizeof secs, "%g", clock_limit.seconds);
  lua_pushfstring(L, "the recipe exceeded its time limit (%s s)", secs);
}

/* Set by the SIGALRM handler once the deadline has passed: raises in Lua at the next call
 * or every 1000 instructions, but at most every 0.1 s, so that the host's own clean-up
 * after the first error (ceilings and hooks put back) runs to its end. */
static void deadline_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  double now = monotonic();
  if (now - clock_limit.last_raise < 0.1) return;
  clock_limit.last_raise = now;
  push_deadline(L);
  lua_error(L);
}

static void on_alarm(int sig) {
  (void)sig;
  /* Another timer's alarm (one pending from before ours was set): not the deadline.
   * clock_gettime is async-signal-safe. */
  if (monotonic() < clock_limit.due - 0.001) return;
  deadline_expired = 1;
  tsr_interrupt();
  lua_sethook(clock_limit.L, deadline_hook, LUA_MASKCALL | LUA_MASKCOUNT, 1000);
}

/* ---- CPU and memory -------------------------------------------------------------------- */

static void push_exceeded(lua_State *L, const budget *b) {
  if (deadline_expired)
    push_deadline(L);
  else if (b->cpu_exceeded)
    lua_pushfstring(L, "the recipe exceeded its CPU budget (%I instructions)",
                    (LUA_INTEGER)b->instructions);
  else {
    char size[32];
    tsr_format_bytes(b->memory, size, sizeof size);
    lua_pushfstring(L, "the recipe exceeded its memory budget (%s)", size);
  }
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  budget *b = active(L);
  if (b == NULL) { /* a coroutine armed by a call that has ended */
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  if (b->memory > 0 && tsr_memory_refusals() != b->refusals) b->memory_exceeded = 1;
  if (!b->cpu_exceeded && b->instructions > 0) {
    b->executed += HOOK_STEP;
    if (b->executed >= b->instructions) b->cpu_exceeded = 1;
  }
  if (b->cpu_exceeded || b->memory_exceeded || deadline_expired) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1); /* from now on, every instruction */
    push_exceeded(L, b);
    lua_error(L);
  }
}

/* [error object] -> a string, for an error that is not one: the object's __tostring (run
 * by the caller while the budgets are still in force), else "(error object is a table
 * value)". Raw access only: no __index or __metatable of the recipe's runs. */
static int plain_error(lua_State *L) {
  if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) == LUA_TSTRING) return 1;
  }
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

/* Replaces the error object on top of the stack by a string, under the budgets in force
 * (they are lifted only after this): the host never turns a recipe's object into text. */
static void make_plain_error(lua_State *L) {
  int t = lua_type(L, -1);
  if (t == LUA_TSTRING) return;
  if (t == LUA_TNUMBER) {
    lua_tostring(L, -1); /* in place; numbers have no metamethods */
    return;
  }
  const char *tname = lua_typename(L, t); /* a static string */
  lua_pushcfunction(L, plain_error);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", tname);
  }
}

/* sandbox.call(limits, fn, ...) -> true, results... | false, message. limits: {memory =
 * bytes, instructions = count}, each optional (absent or 0: unlimited). Calls fn like
 * pcall, under the budgets; an exceeded budget gives its own message whatever the error
 * that came out of fn. Budgets do not nest: an inner call inherits the outer one. */
static int sandbox_call(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lua_getfield(L, 1, "strings") != LUA_TNIL) luaL_argexpected(L, lua_istable(L, -1), 1, "strings table");
  lua_pop(L, 1);
  lua_Integer memory = laux_opt_integer(L, 1, "memory", 0);
  lua_Integer instructions = laux_opt_integer(L, 1, "instructions", 0);
  luaL_argcheck(L, memory >= 0, 1,
                lua_pushfstring(L, "memory must be >= 0, got %I", (LUA_INTEGER)memory));
  luaL_argcheck(L, instructions >= 0, 1,
                lua_pushfstring(L, "instructions must be >= 0, got %I",
                                (LUA_INTEGER)instructions));
  int nargs = lua_gettop(L) - 2;
  if (active(L) != NULL) { /* already budgeted: run under the outer budget */
    int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
    if (status != LUA_OK) make_plain_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 2);
    return lua_gettop(L) - 1;
  }
  /* The budget lives in a userdata anchored below everything for the whole call:
   * stack [budget, limits, fn, args...]. */
  budget *b = (budget *)lua_newuserdatauv(L, sizeof *b, 0);
  lua_insert(L, 1);
  b->memory = (size_t)memory;
  b->instructions = instructions;
  b->executed = 0;
  b->memory_exceeded = b->cpu_exceeded = 0;

  lua_gc(L, LUA_GCCOLLECT); /* garbage from before is not the recipe's */
  size_t saved_ceiling = tsr_memory_ceiling(), saved_budget = tsr_memory_ceiling_budget();
  if (memory > 0) {
    size_t ceiling = tsr_memory_in_use() + (size_t)memory;
    if (saved_ceiling != 0 && saved_ceiling < ceiling)
      tsr_set_memory_ceiling(saved_ceiling, saved_budget); /* the outer one binds */
    else
      tsr_set_memory_ceiling(ceiling, (size_t)memory);
  }
  lua_Hook saved_hook = lua_gethook(L);
  int saved_mask = lua_gethookmask(L), saved_count = lua_gethookcount(L);
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);

  /* The string metatable's __index: the recipe's string table while it runs. */
  lua_pushliteral(L, "");
  int has_string_mt = lua_getmetatable(L, -1);
  if (has_string_mt) {
    lua_remove(L, -2);                       /* [..., string mt] */
    lua_getfield(L, -1, "__index");          /* [..., mt, host index] */
    lua_getfield(L, 2, "strings");           /* [..., mt, host index, recipe's or nil] */
    if (lua_isnil(L, -1)) { /* none given: the host's stays */
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
    }
    lua_setfield(L, -3, "__index");          /* [..., mt, host index] */
    lua_insert(L, 3);
    lua_insert(L, 3);                        /* [budget, limits, mt, host index, fn, args] */
  } else {
    lua_pop(L, 1);
  }

  b->refusals = tsr_memory_refusals();
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  if (status != LUA_OK) make_plain_error(L);
  if (b->memory > 0 && tsr_memory_refusals() != b->refusals) b->memory_exceeded = 1;

  if (has_string_mt) {
    lua_pushvalue(L, 4);
    lua_setfield(L, 3, "__index");
    lua_remove(L, 3);
    lua_remove(L, 3); /* [budget, limits, results or message...] */
  }

  /* The host's Ctrl-C hook may have replaced ours meanwhile: leave it armed. */
  if (lua_gethook(L) == count_hook) lua_sethook(L, saved_hook, saved_mask, saved_count);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_key);
  tsr_set_memory_ceiling(saved_ceiling, saved_budget);

  int nres = lua_gettop(L) - 2; /* [budget, limits, results or message...] */
  if (b->cpu_exceeded || b->memory_exceeded || deadline_expired) {
    lua_settop(L, 2);
    lua_pushboolean(L, 0);
    push_exceeded(L, b);
    return 2;
  }
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, 3);
  return nres + 1;
}

/* sandbox.arm(co): puts the running budget's instruction hook on coroutine co (hooks are
 * per thread). Does nothing outside a budgeted call. */
static int sandbox_arm(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co != NULL, 1, "coroutine");
  if (active(L) != NULL) lua_sethook(co, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  return 0;
}

/* sandbox.exceeded() -> the message of an exceeded budget in force, or nil. */
static int sandbox_exceeded(lua_State *L) {
  budget *b = active(L);
  if (b == NULL || !(b->cpu_exceeded || b->memory_exceeded || deadline_expired)) return 0;
  push_exceeded(L, b);
  return 1;
}

/* sandbox.charge(n): adds n instructions to the running CPU budget (work a C loop will do
 * that no hook sees) and raises at once if that exceeds it. Nothing outside a budget. */
static int sandbox_charge(lua_State *L) {
  lua_Number n = luaL_checknumber(L, 1);
  budget *b = active(L);
  if (b == NULL) return 0;
  if (deadline_expired) {
    push_deadline(L);
    return lua_error(L);
  }
  if (b->instructions <= 0 || !(n > 0)) return 0;
  if (n >= (lua_Number)(b->instructions - b->executed)) {
    b->executed = b->instructions;
    b->cpu_exceeded = 1;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    push_exceeded(L, b);
    return lua_error(L);
  }
  b->executed += (lua_Integer)n;
  return 0;
}

/* Ends an armed deadline: the timer and SIGALRM's handler as they were (a previous timer
 * restarts with what it had left when the deadline was armed), the hook too. */
static void disarm(void) {
  setitimer(ITIMER_REAL, &clock_limit.saved_timer, NULL);
  sigaction(SIGALRM, &clock_limit.saved_action, NULL);
  if (lua_gethook(clock_limit.L) == deadline_hook)
    lua_sethook(clock_limit.L, clock_limit.saved_hook, clock_limit.saved_mask,
                clock_limit.saved_count);
  clock_limit.armed = 0;
}

/* sandbox.timed(seconds, fn, ...) -> true, results... | false, message. Calls fn like
 * pcall with a wall-clock limit of `seconds` (> 0; 0 or less: none). Past it, the
 * interrupt flag is raised (tsr_interrupt) and Lua code gets "the recipe exceeded its time
 * limit (N s)", which is then the message whatever error fn ended with; the flag is
 * cleared and the temporaries left are removed when fn has ended. Limits do not nest: an
 * inner call runs under the outer one. */
static int sandbox_timed(lua_State *L) {
  lua_Number seconds = luaL_checknumber(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 2;
  if (clock_limit.armed || !(seconds > 0)) {
    lua_pushboolean(L, lua_pcall(L, nargs, LUA_MULTRET, 0) == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
  }
  luaL_argcheck(L, seconds <= 1e6, 1, "seconds must be at most 1e6");
  clock_limit.armed = 1;
  clock_limit.seconds = seconds;
  clock_limit.L = L;
  clock_limit.last_raise = 0;
  clock_limit.due = monotonic() + seconds;
  clock_limit.saved_hook = lua_gethook(L);
  clock_limit.saved_mask = lua_gethookmask(L);
  clock_limit.saved_count = lua_gethookcount(L);
  deadline_expired = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, &clock_limit.saved_action);
  struct itimerval when;
  memset(&when, 0, sizeof when);
  when.it_value.tv_sec = (time_t)seconds;
  when.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
  if (when.it_value.tv_sec == 0 && when.it_value.tv_usec == 0) when.it_value.tv_usec = 1;
  setitimer(ITIMER_REAL, &when, &clock_limit.saved_timer);

  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  disarm();
  if (deadline_expired) {
    deadline_expired = 0;
    tsr_tmp_cleanup(0);
    tsr_interrupt_clear();
    lua_settop(L, 0);
    lua_pushboolean(L, 0);
    push_deadline(L);
    return 2;
  }
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

static const luaL_Reg sandbox_functions[] = {
  {"call", sandbox_call},
  {"charge", sandbox_charge},
  {"timed", sandbox_timed},
  {"arm", sandbox_arm},
  {"exceeded", sandbox_exceeded},
  {NULL, NULL}
};

void sandbox_open(lua_State *L) {
  luaL_newlib(L, sandbox_functions);
  lua_setfield(L, -2, "sandbox");
}
