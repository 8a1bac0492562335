/* bin/tessera: the Lua 5.4 host. Runs scripts, -e chunks and stdin the way the stock lua
 * does (same `arg` table, same `...`), an interactive REPL, and the subcommands of
 * lua/tessera/cli.lua. tessera.core is linked in and preloaded, and package.path finds
 * the library from the executable (a checkout's lua/ or an install's share/lua/5.4), so
 * `require "tessera"` needs no environment.
 * Shaped after lua.c (Lua 5.4): one protected main, a message handler, Ctrl-C through a
 * hook set from the signal handler. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua/l_tessera.h"
#include "names.h"

#define PROGNAME "tessera"

/* The state the signal handler sets its hook on; only the handler reads it. */
static lua_State *globalL = NULL;

/* Tracebacks on errors: --debug or TESSERA_DEBUG set to something other than "" or "0". */
static int debug_mode = 0;

/* Exit status asked for by a subcommand (cli.main returning an integer). */
static int command_status = 0;

/* A bad option: "tessera: <what> '<option>'<after> (try 'tessera help')". */
static void print_usage_hint(const char *what, const char *option, const char *after) {
  fprintf(stderr, "%s: %s'%s'%s (try '%s help')\n", PROGNAME, what, option, after, PROGNAME);
  fflush(stderr);
}

/* One line on stderr, "tessera: <msg>" (msg may carry a traceback under --debug);
 * in the REPL (prefix NULL) the bare message, as lua.c does. */
static void l_message(const char *prefix, const char *msg) {
  if (prefix != NULL) fprintf(stderr, "%s: ", prefix);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Reports a failed status with the message on top of the stack, and pops it. */
static int report_as(lua_State *L, int status, const char *prefix) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(prefix, msg != NULL ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

static int report(lua_State *L, int status) { return report_as(L, status, PROGNAME); }

/* Hook installed by the SIGINT handler: the next Lua instruction raises. */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void set_signal(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART; /* as signal() does in lua.c: blocking reads resume */
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* A second Ctrl-C or SIGTERM while a C kernel runs (no hook can fire): remove the
 * temporaries left so far, then end the default way. */
static void lfatal(int sig) {
  tsr_tmp_cleanup(1);
  set_signal(sig, SIG_DFL);
  raise(sig);
}

/* A first Ctrl-C or SIGTERM interrupts the running Lua code (files being written are not
 * committed: tsr_interrupt); a second one ends the process. */
static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  tsr_interrupt();
  set_signal(SIGINT, lfatal);
  set_signal(SIGTERM, lfatal);
  (void)sig;
  lua_sethook(globalL, lstop, flag, 1);
}

/* Message handler: turns any error object into a string, with a traceback in debug mode. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (debug_mode)
    luaL_traceback(L, L, msg, 1);
  else
    lua_pushstring(L, msg);
  return 1;
}

/* Calls the function below narg arguments with the message handler and Ctrl-C armed. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  set_signal(SIGINT, laction);
  set_signal(SIGTERM, laction);
  int status = lua_pcall(L, narg, nres, base);
  set_signal(SIGINT, SIG_DFL);
  set_signal(SIGTERM, SIG_DFL);
  if (tsr_interrupted()) { /* the interrupted chunk has ended: remove what it left */
    tsr_tmp_cleanup(0);
    tsr_interrupt_clear();
  }
  /* A Ctrl-C that came after the code ended must not interrupt the next chunk. */
  if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

static void print_version(void) {
  printf("%s %s (%s)\n", PROGNAME, TSR_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* The global `arg`, as lua.c builds it: arg[0] is the script (or the command name),
 * arguments after it are positive, the executable and the options negative. With no
 * script, arg[0] is the executable. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;
  int narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* require(name) into the global `name`, for -l. */
static int dolibrary(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, name);
  return report(L, status);
}

/* Pushes arg[1..n] (the script's arguments) and returns n. */
static int push_args(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) status = docall(L, push_args(L), LUA_MULTRET);
  return report(L, status);
}

/* Protected part of a subcommand: require("tessera.cli").main(args), args at index 1. */
static int call_cli(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "tessera.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

/* Runs the subcommand argv[0] with its arguments argv[1..argc-1]. */
static int handle_command(lua_State *L, char **argv, int argc) {
  lua_pushcfunction(L, call_cli);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    int isint = 0;
    lua_Integer code = lua_tointegerx(L, -1, &isint);
    if (isint) command_status = (code >= 0 && code <= 255) ? (int)code : 1;
    lua_pop(L, 1);
  }
  return report(L, status);
}

/* A word that names a subcommand rather than a script: letters, digits, '-' and '_'
 * only (so "x.lua" or "./x" is always a script), and no regular file of that name. */
static int is_command(const char *s) {
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  for (const char *p = s; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '_'))
      return 0;
  struct stat st;
  return !(stat(s, &st) == 0 && S_ISREG(st.st_mode));
}

/* Module tessera.host, present only inside bin/tessera: what the host was built with. */
static int luaopen_tessera_host(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, TSR_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushliteral(L, LUA_RELEASE);
  lua_setfield(L, -2, "lua_release");
  lua_pushboolean(L, debug_mode);
  lua_setfield(L, -2, "debug");
  return 1;
}

/* Where the library's modules are, relative to ROOT (the folder above the real executable's
 * bin/): a checkout's lua/, or an install's share/lua/5.4 (make install, luarocks make). */
static const char *const module_dirs[] = {
    "lua", "share/lua/" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR};

/* Pushes "ROOT/DIR/?.lua;ROOT/DIR/?/init.lua" for the first of module_dirs that holds
 * tessera/init.lua; returns 0 (pushing nothing) when none does or the executable's path is
 * unknown (no /proc), leaving the default path to find an install elsewhere. */
static int push_module_path(lua_State *L) {
  char *exe = realpath("/proc/self/exe", NULL);
  char *slash = exe != NULL ? strrchr(exe, '/') : NULL; /* ".../bin/tessera" */
  if (slash != NULL) {
    *slash = '\0';
    slash = strrchr(exe, '/'); /* ".../bin" */
  }
  if (slash == NULL) {
    free(exe);
    return 0;
  }
  *slash = '\0';
  /* ROOT as a Lua string, so that no error below can strand the malloc'd path. */
  const char *root = lua_pushstring(L, exe);
  free(exe);
  int found = 0;
  for (size_t i = 0; !found && i < sizeof module_dirs / sizeof module_dirs[0]; i++) {
    const char *init = lua_pushfstring(L, "%s/%s/tessera/init.lua", root, module_dirs[i]);
    found = access(init, R_OK) == 0;
    lua_pop(L, 1);
    if (found)
      lua_pushfstring(L, "%s/%s/?.lua;%s/%s/?/init.lua", root, module_dirs[i], root, module_dirs[i]);
  }
  lua_remove(L, found ? -2 : -1); /* ROOT */
  return found;
}

/* package.path: TESSERA_LUA_PATH when set, else the library's folder found from the real
 * executable (push_module_path), in front of the default path. */
static void set_path(lua_State *L) {
  const char *custom = getenv("TESSERA_LUA_PATH");
  lua_getglobal(L, "package");
  if (custom != NULL && custom[0] != '\0') {
    lua_pushstring(L, custom);
  } else if (!push_module_path(L)) {
    lua_pop(L, 1);
    return;
  }
  lua_getfield(L, -2, "path");
  lua_pushfstring(L, "%s;%s", lua_tostring(L, -2), lua_tostring(L, -1));
  lua_setfield(L, -4, "path");
  lua_pop(L, 3);
}

/* LUA_INIT_5_4 or LUA_INIT: "@file" runs the file, anything else is a chunk. */
static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* The REPL's line reader: GNU readline (with history) on a terminal, plain getline
 * otherwise so piped input is read as it is. Returns a malloc'd line, NULL at end. */
static char *read_line(const char *prompt, int tty) {
  if (tty) return readline(prompt);
  fputs(prompt, stdout);
  fflush(stdout);
  char *line = NULL;
  size_t size = 0;
  ssize_t n = getline(&line, &size, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

static int repl_tty = 0;

static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL)
    return firstline ? "> " : ">> ";
  return luaL_tolstring(L, -1, NULL); /* leaves the global and the string */
}

/* Reads a line and pushes it; returns 0 at end of input. */
static int pushline(lua_State *L, int firstline) {
  int top = lua_gettop(L);
  const char *prompt = get_prompt(L, firstline);
  char *line = read_line(prompt, repl_tty);
  lua_settop(L, top);
  if (line == NULL) return 0;
  if (firstline && line[0] == '=') /* "=expr", as in lua 5.1 */
    lua_pushfstring(L, "return %s", line + 1);
  else
    lua_pushstring(L, line);
  free(line);
  return 1;
}

static void save_line(const char *line) {
  if (repl_tty && line[0] != '\0') add_history(line);
}

/* Tries the line as "return <line>;" so expressions print their value. */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
    save_line(line);
  } else {
    lua_pop(L, 2);
  }
  return status;
}

/* A syntax error at <eof> means the chunk goes on: pops the message and says so. */
static int incomplete(lua_State *L, int status) {
  static const char mark[] = "<eof>";
  const size_t marklen = sizeof mark - 1;
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= marklen && strcmp(msg + lmsg - marklen, mark) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* Reads continuation lines until the chunk compiles or fails for another reason. */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) {
      save_line(line);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Leaves one compiled chunk (or an error message) on an empty stack; -1 at end. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  int status = addreturn(L);
  if (status != LUA_OK) status = multiline(L);
  lua_remove(L, 1);
  return status;
}

/* Prints the chunk's results with the global print. */
static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(NULL, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
  }
}

/* The REPL starts with tessera loaded, as the globals `tessera` and its short name `t`
 * (each unless a script, -e or -l set it already), so `t.audio.load(...)` works at the first
 * prompt. A library that fails to load is reported and the REPL goes on without it. */
static void preload_tessera(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "tessera");
  int status = docall(L, 1, 1);
  if (status != LUA_OK) {
    report(L, status);
    return;
  }
  static const char *const names[] = {"tessera", "t"};
  for (int i = 0; i < 2; i++) {
    if (lua_getglobal(L, names[i]) == LUA_TNIL) {
      lua_pushvalue(L, -2);
      lua_setglobal(L, names[i]);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void doREPL(lua_State *L) {
  int status;
  repl_tty = isatty(STDIN_FILENO);
  preload_tessera(L);
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      l_print(L);
    else
      report_as(L, status, NULL);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
}

enum {
  HAS_ERROR = 1, /* bad option */
  HAS_I = 2,     /* -i */
  HAS_V = 4,     /* -v, --version */
  HAS_E = 8,     /* -e or -l: something runs before the script */
  HAS_HELP = 16  /* -h, --help */
};

/* Scans the options before the script or command. Returns the HAS_ flags; *first is the
 * index of the script or command (argc when there is none), or of the bad option. */
static int collect_args(char **argv, int argc, int *first) {
  int args = 0;
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') break; /* script, command or "-" (stdin) */
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--debug") == 0) {
      debug_mode = 1;
    } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
      args |= HAS_V;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      args |= HAS_HELP;
    } else if (strcmp(a, "-i") == 0) {
      args |= HAS_I | HAS_V;
    } else if ((a[1] == 'e' || a[1] == 'l') && a[2] == '\0') {
      if (i + 1 >= argc || argv[i + 1][0] == '-') { /* as lua.c: no option as argument */
        *first = i;
        return HAS_ERROR;
      }
      args |= HAS_E;
      i++;
    } else if ((a[1] == 'e' || a[1] == 'l') && a[2] != '\0') { /* -eCODE, -lNAME */
      args |= HAS_E;
    } else {
      *first = i;
      return HAS_ERROR;
    }
  }
  *first = i;
  return args;
}

/* Runs the -e and -l options in order; returns 0 if one failed. */
static int run_args(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && (a[1] == 'e' || a[1] == 'l')) {
      const char *extra = a[2] != '\0' ? a + 2 : argv[++i];
      int status = a[1] == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    }
  }
  return 1;
}

/* The protected main: returns true when everything ran. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int first;
  int args = collect_args(argv, argc, &first);
  luaL_checkversion(L);
  if (args == HAS_ERROR) {
    const char *a = argv[first];
    if ((a[1] == 'e' || a[1] == 'l') && a[2] == '\0')
      print_usage_hint("", a, " needs an argument");
    else {
      static const char *const options[] = {"--debug", "--version", "--help", "-v", "-h", "-i",
                                            "-e", "-l", NULL};
      const char *close = tsr_closest_name(a, options, (size_t)-1);
      char hint[64] = "";
      if (close != NULL) snprintf(hint, sizeof hint, "; did you mean '%s'?", close);
      print_usage_hint("unrecognized option ", a, hint);
    }
    return 0;
  }
  if (args & HAS_V) print_version();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_tessera_core);
  lua_setfield(L, -2, "tessera.core");
  lua_pushcfunction(L, luaopen_tessera_host);
  lua_setfield(L, -2, "tessera.host");
  lua_pop(L, 1);
  set_path(L);
  create_arg_table(L, argv, argc, first);
  /* Incremental, not lua.c's generational mode: tessera's heap is a few large blocks that
   * die young (a component's spectrogram and audio), and generational mode promotes those
   * that live through a minor collection, to be freed only by a major one (docs/DECISIONS.md). */
  lua_gc(L, LUA_GCINC, 0, 0, 0);
  if (handle_luainit(L) != LUA_OK) return 0;
  if (!run_args(L, argv, first)) return 0;
  if (args & HAS_HELP) {
    char *help[] = {"help"};
    if (handle_command(L, help, 1) != LUA_OK) return 0;
  }
  if (first < argc) {
    const char *target = argv[first];
    int command = strcmp(argv[first - 1], "--") != 0 && is_command(target);
    int status = command ? handle_command(L, argv + first, argc - first)
                         : handle_script(L, argv + first);
    if (status != LUA_OK) return 0;
  }
  if (args & HAS_I) {
    doREPL(L);
  } else if (first == argc && !(args & (HAS_E | HAS_V | HAS_HELP))) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      doREPL(L);
    } else if (dofile(L, NULL) != LUA_OK) {
      return 0;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  const char *dbg = getenv("TESSERA_DEBUG");
  debug_mode = dbg != NULL && dbg[0] != '\0' && strcmp(dbg, "0") != 0;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(PROGNAME, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int ok = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  if (status != LUA_OK || !ok) return EXIT_FAILURE;
  return command_status;
}
