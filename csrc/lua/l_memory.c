/* The bindings' one allocation path. Every block of data behind a Lua object (a Matrix's,
 * an Audio's, a Spectrogram's) is a userdata of its own, held by the object's user value:
 * Lua's collector counts its bytes, so garbage is collected in step with what it really
 * holds, and the state's allocator charges them to the kernels' live count (memory.c), so
 * the memory cap limits everything the process holds. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "l_tessera.h"

/* The allocator a state had before, which still does the work. One slot per distinct
 * (function, ud) pair: every state made by luaL_newstate shares one. */
typedef struct counted_alloc {
  lua_Alloc f;
  void *ud;
} counted_alloc;

#define MAX_ALLOCATORS 16
static counted_alloc allocators[MAX_ALLOCATORS];
static int allocator_count = 0;
static pthread_mutex_t allocators_lock = PTHREAD_MUTEX_INITIALIZER;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  const counted_alloc *c = ud;
  size_t old = ptr != NULL ? osize : 0; /* with ptr NULL, osize is a type tag */
  if (nsize > old) {
    size_t grow = nsize - old;
    if (tsr_memory_account((ptrdiff_t)grow) != 0) return NULL; /* Lua collects, then retries */
    void *q = c->f(c->ud, ptr, osize, nsize);
    if (q == NULL) tsr_memory_account(-(ptrdiff_t)grow);
    return q;
  }
  void *q = c->f(c->ud, ptr, osize, nsize);
  if (q != NULL || nsize == 0) tsr_memory_account(-(ptrdiff_t)(old - nsize));
  return q;
}

/* glibc raises its mmap threshold to the size of each large block freed (up to 32 MB), after
 * which blocks that size come from the heap, and memory freed there stays mapped: the
 * process then holds more than its live count, past the cap. A fixed threshold keeps every
 * large block mapped on its own and given back to the system when freed. */
static void set_mmap_threshold(void) {
#ifdef M_MMAP_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

void lmem_count_heap(lua_State *L) {
  static pthread_once_t threshold_once = PTHREAD_ONCE_INIT;
  pthread_once(&threshold_once, set_mmap_threshold);
  void *ud = NULL;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (f == counting_alloc) return;
  counted_alloc *slot = NULL;
  pthread_mutex_lock(&allocators_lock);
  for (int i = 0; i < allocator_count && slot == NULL; i++)
    if (allocators[i].f == f && allocators[i].ud == ud) slot = &allocators[i];
  if (slot == NULL && allocator_count < MAX_ALLOCATORS) {
    slot = &allocators[allocator_count++];
    slot->f = f;
    slot->ud = ud;
  }
  pthread_mutex_unlock(&allocators_lock);
  if (slot == NULL) return; /* a program with that many allocators goes uncounted */
  /* What the heap holds already is charged now, since it is given back through us. */
  size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
  if (tsr_memory_account((ptrdiff_t)heap) != 0) return; /* a cap below an empty state */
  lua_setallocf(L, counting_alloc, slot);
}

void *lmem_push_block(lua_State *L, size_t bytes, int zero, const char *who,
                      const char *what) {
  tsr_error err = {""};
  if (bytes > SIZE_MAX - 128) {
    tsr_seterror(&err, "%s is too large", what);
    luaL_error(L, "%s: %s", who, err.msg);
  }
  size_t total = (bytes ? bytes : 1) + 63;
  if (tsr_memory_check(total, what, &err) != TSR_OK) {
    lua_gc(L, LUA_GCCOLLECT); /* garbage does not count against the cap */
    if (tsr_memory_check(total, what, &err) != TSR_OK) luaL_error(L, "%s: %s", who, err.msg);
  }
  char *block = lua_newuserdatauv(L, total, 0);
  float *data = (float *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
  tsr_advise_huge_pages(data, bytes);
  if (zero) memset(data, 0, bytes);
  return data;
}

void *lmem_adopt(lua_State *L, lua_CFunction copy, void *result, const char *who,
                 void (*release)(void *result)) {
  lua_pushcfunction(L, copy);
  lua_pushlightuserdata(L, result); /* nothing here allocates: no error before the pcall */
  lua_pushlightuserdata(L, (void *)who);
  int status = lua_pcall(L, 2, 1, 0);
  release(result);
  if (status != LUA_OK) {
    /* copy ran under lua_pcall, so its error has no position: give it the one of the
     * binding's caller, as a direct luaL_error would have. */
    if (lua_type(L, -1) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, -2);
      lua_concat(L, 2);
    }
    lua_error(L);
  }
  return lua_touserdata(L, -1);
}
