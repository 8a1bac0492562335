/* tessera.core.util: hashing for cache keys and checksums, the clock, temporary names, the
 * memory cap, ceiling and live count, and the process chores of batch workers (dying with
 * the parent, locking an output folder). */
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../hash.h"
#include "../names.h"
#include "l_tessera.h"

/* util.sha256(string) -> hex digest */
static int util_sha256(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  tsr_sha256 h;
  unsigned char digest[32];
  char hex[65];
  tsr_sha256_init(&h);
  tsr_sha256_update(&h, data, len);
  tsr_sha256_final(&h, digest);
  tsr_hex(digest, sizeof digest, hex);
  lua_pushstring(L, hex);
  return 1;
}

/* util.sha256_file(path) -> hex digest; a file that cannot be read is an error. */
static int util_sha256_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  unsigned char digest[32];
  char hex[65];
  tsr_error err = {{0}};
  int status = tsr_sha256_file(path, digest, &err);
  if (status != TSR_OK) return laux_fail(L, "tessera.util.sha256_file", status, &err);
  tsr_hex(digest, sizeof digest, hex);
  lua_pushstring(L, hex);
  return 1;
}

/* Reads a size in bytes at arg (an integer >= 0; 0 means none). */
static size_t check_bytes(lua_State *L, int arg, const char *what) {
  lua_Integer bytes = luaL_checkinteger(L, arg);
  luaL_argcheck(L, bytes >= 0, arg, lua_pushfstring(L, "%s must be >= 0, got %I", what, bytes));
  return (size_t)bytes;
}

/* util.memory_cap([bytes]) -> the process cap on live bytes (0 = none); sets it when given. */
static int util_memory_cap(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) tsr_set_memory_cap(check_bytes(L, 1, "cap"));
  lua_pushinteger(L, (lua_Integer)tsr_memory_cap());
  return 1;
}

/* util.memory_ceiling([bytes [, budget]]) -> ceiling, budget: the temporary ceiling on live
 * bytes (0 = none) and the budget it stands for (what the call may add: messages name it);
 * sets them when given (a call's max_memory: what was live plus what the call may add). */
static int util_memory_ceiling(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    size_t ceiling = check_bytes(L, 1, "ceiling");
    size_t budget = lua_isnoneornil(L, 2) ? 0 : check_bytes(L, 2, "budget");
    tsr_set_memory_ceiling(ceiling, budget);
  }
  lua_pushinteger(L, (lua_Integer)tsr_memory_ceiling());
  lua_pushinteger(L, (lua_Integer)tsr_memory_ceiling_budget());
  return 2;
}

/* util.capped(cap, fn, ...) -> what fn(...) returns, fn allowed to hold at most cap bytes
 * more than are live when it starts (after a full collection). The previous ceiling is put
 * back in C, right after fn ends however it ends: code run in Lua at that point could need
 * memory (a call frame, a table) that the exhausted cap refuses, leaving the ceiling in
 * force for the rest of the process. */
static int util_capped(lua_State *L) {
  size_t cap = check_bytes(L, 1, "cap");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_gc(L, LUA_GCCOLLECT); /* garbage from before the call is not the call's */
  size_t previous = tsr_memory_ceiling(), previous_budget = tsr_memory_ceiling_budget();
  size_t ceiling = tsr_memory_in_use() + cap;
  if (previous == 0 || ceiling < previous) tsr_set_memory_ceiling(ceiling, cap);
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  tsr_set_memory_ceiling(previous, previous_budget);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - 1;
}

/* util.memory_in_use() -> the bytes live now: every Lua heap that loaded tessera.core (with
 * the data of every Matrix, Audio and Spectrogram in it) and the kernels' buffers. */
static int util_memory_in_use(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tsr_memory_in_use());
  return 1;
}

/* util.memory_check(bytes, what) -> true, or nil and the message ("<what> needs X, more
 * than ..."): whether `bytes` more may be allocated now under the cap, the ceiling and
 * the machine's memory, asked before the work that needs them starts. */
static int util_memory_check(lua_State *L) {
  lua_Number bytes = luaL_checknumber(L, 1);
  const char *what = luaL_checkstring(L, 2);
  luaL_argcheck(L, bytes >= 0, 1, "bytes must be >= 0");
  tsr_error err = {{0}};
  size_t n = bytes >= (lua_Number)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
  if (tsr_memory_check(n, what, &err) == TSR_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_pushfail(L);
  lua_pushstring(L, err.msg);
  return 2;
}

/* util.format_bytes(bytes) -> "512 bytes", "3.2 kB", "12.5 MB", "1.20 GB": the one way
 * tessera prints a size (tsr_format_bytes), for the Lua layer's messages. */
static int util_format_bytes(lua_State *L) {
  lua_Number bytes = luaL_checknumber(L, 1);
  luaL_argcheck(L, bytes >= 0, 1, "bytes must be >= 0");
  char buf[32];
  tsr_format_bytes(bytes >= (lua_Number)SIZE_MAX ? SIZE_MAX : (size_t)bytes, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

/* util.closest(name, {names...}) -> the name meant, or nil (tsr_closest_name): the one
 * "did you mean" of the Lua layer (args.did_you_mean). */
static int util_closest(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 2);
  const char **names = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *names, 0);
  lua_Integer m = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 2, i) == LUA_TSTRING) names[m++] = lua_tostring(L, -1); /* in the table */
    lua_pop(L, 1);
  }
  names[m] = NULL;
  const char *close = tsr_closest_name(name, names, (size_t)m);
  if (close == NULL) luaL_pushfail(L); else lua_pushstring(L, close);
  return 1;
}

/* util.check_file(path) -> true, or nil and "cannot read 'x': not a regular file (a FIFO)"
 * (or why it cannot be opened): the check every reader of inputs makes, for Lua code that
 * reads a path later or through another library. */
static int util_check_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tsr_error err = {{0}};
  int fd = tsr_open_regular(path, &err);
  if (fd < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  close(fd);
  lua_pushboolean(L, 1);
  return 1;
}

/* util.parse_size(text) -> bytes, or nil: "512M", "1.5G", "100k", "4096". */
static int util_parse_size(lua_State *L) {
  size_t bytes;
  if (tsr_parse_memory_size(luaL_checkstring(L, 1), &bytes) != 0 || bytes > (size_t)LUA_MAXINTEGER)
    return 0;
  lua_pushinteger(L, (lua_Integer)bytes);
  return 1;
}

/* util.now() -> seconds on a monotonic clock (wall time, for measuring how long things
 * take; os.clock counts processor time of every thread instead). */
static int util_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* util.tmp_path(path [, suffix]) -> a temporary name beside path (tsr_tmp_path, then the
 * suffix, e.g. ".npy" for a writer that goes by the extension), remembered so that an
 * interrupted host removes it if it is still there: Lua writers take their temporary
 * names here, then rename them into place. */
static int util_tmp_path(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t slen = 0;
  const char *suffix = luaL_optlstring(L, 2, "", &slen);
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, 4096);
  if (tsr_tmp_path(path, buf, 4096 - slen) != 0)
    return luaL_error(L, "tessera.util.tmp_path: path too long ('%s')", path);
  if (slen > 0) {
    memcpy(buf + strlen(buf), suffix, slen + 1);
    tsr_tmp_remember(buf);
  }
  luaL_pushresultsize(&b, strlen(buf));
  return 1;
}

/* util.die_with_parent(ppid): this process gets SIGKILL when its parent ends (Linux's
 * PR_SET_PDEATHSIG), and ends now if the parent is not ppid any more (it died before the
 * call). For batch workers: a coordinator killed with -9 takes them with it. */
static int util_die_with_parent(lua_State *L) {
  lua_Integer ppid = luaL_checkinteger(L, 1);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    return luaL_error(L, "tessera.util.die_with_parent: %s", strerror(errno));
  if ((lua_Integer)getppid() != ppid) _exit(1);
  return 0;
}

/* util.parent_alive(ppid) -> whether the parent is still ppid. */
static int util_parent_alive(lua_State *L) {
  lua_pushboolean(L, (lua_Integer)getppid() == luaL_checkinteger(L, 1));
  return 1;
}

#define LOCK_MT "tessera.Lock"

typedef struct flock_handle {
  int fd;
  char path[4096];
} flock_handle;

/* lock:release(): unlinks the lock file, then drops the lock; twice is harmless. */
static int lock_release(lua_State *L) {
  flock_handle *h = luaL_checkudata(L, 1, LOCK_MT);
  if (h->fd >= 0) {
    unlink(h->path); /* while held: a process waiting on this inode rechecks the path */
    close(h->fd);
    h->fd = -1;
  }
  return 0;
}

/* util.lock(path) -> a lock, or nil and "busy" when another process holds it, or nil and
 * the reason: an exclusive flock on the file path (made if missing), released by
 * lock:release(), __close or __gc, or when the process dies (so a kill -9 never leaves a
 * folder locked). */
static int util_lock(lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len < sizeof(((flock_handle *)0)->path), 1, "path too long");
  flock_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->fd = -1;
  memcpy(h->path, path, len + 1);
  luaL_setmetatable(L, LOCK_MT);
  for (int attempt = 0; attempt < 8; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      luaL_pushfail(L);
      lua_pushfstring(L, "cannot lock '%s': %s", path, strerror(errno));
      return 2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd);
      luaL_pushfail(L);
      if (e == EWOULDBLOCK) lua_pushliteral(L, "busy");
      else lua_pushfstring(L, "cannot lock '%s': %s", path, strerror(e));
      return 2;
    }
    /* The holder before us may have unlinked the file: ours must still be the one named. */
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
      h->fd = fd;
      return 1;
    }
    close(fd);
  }
  luaL_pushfail(L);
  lua_pushfstring(L, "cannot lock '%s': it keeps being replaced", path);
  return 2;
}

/* util.commit(tmp, path) -> true, or nil and "cannot write 'path': reason": tmp renamed
 * into place as every kernel writer does it (tsr_commit_file: tmp fsynced, refused after
 * an interrupt, the folder fsynced after the rename), for writers in Lua. */
static int util_commit(lua_State *L) {
  const char *tmp = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
  tsr_error err = {{0}};
  if (tsr_commit_file(tmp, path, &err) != TSR_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* util.sync_folder_of(path): fsyncs the folder holding path (after a rename in Lua). */
static int util_sync_folder_of(lua_State *L) {
  tsr_sync_folder_of(luaL_checkstring(L, 1));
  return 0;
}

static const luaL_Reg util_functions[] = {
  {"commit", util_commit},
  {"sync_folder_of", util_sync_folder_of},
  {"die_with_parent", util_die_with_parent},
  {"parent_alive", util_parent_alive},
  {"lock", util_lock},
  {"tmp_path", util_tmp_path},
  {"now", util_now},
  {"sha256", util_sha256},
  {"sha256_file", util_sha256_file},
  {"memory_cap", util_memory_cap},
  {"memory_ceiling", util_memory_ceiling},
  {"memory_in_use", util_memory_in_use},
  {"capped", util_capped},
  {"memory_check", util_memory_check},
  {"check_file", util_check_file},
  {"format_bytes", util_format_bytes},
  {"closest", util_closest},
  {"parse_size", util_parse_size},
  {NULL, NULL}
};

static const luaL_Reg lock_methods[] = {
  {"release", lock_release},
  {NULL, NULL}
};

static const luaL_Reg lock_metamethods[] = {
  {"__gc", lock_release},
  {"__close", lock_release},
  {NULL, NULL}
};

void util_open(lua_State *L) {
  luaL_newmetatable(L, LOCK_MT);
  luaL_setfuncs(L, lock_metamethods, 0);
  luaL_newlib(L, lock_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, util_functions);
  lua_setfield(L, -2, "util");
}
