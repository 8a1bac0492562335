/* The one count of live memory and the one limit on it. Kernel buffers (tsr_alloc) and what
 * the bindings report through tsr_memory_account (each Lua state's heap, which holds every
 * Matrix, Audio and Spectrogram's data) add up to one number, and every allocation is
 * refused rather than take that number past the limit: the smaller of the process cap
 * (TESSERA_MAX_MEMORY) and a temporary ceiling (a recipe's budget, a call's max_memory). */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "tessera.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

/* 0 = not read yet; SIZE_MAX = no cap. Read once; races only rewrite the same value. */
static _Atomic size_t memory_cap = 0;

int tsr_parse_memory_size(const char *text, size_t *bytes) {
  char *end = NULL;
  if (text == NULL || *text == '\0') return -1;
  double value = strtod(text, &end);
  if (end == text || !(value >= 0)) return -1;
  double unit = 1.0;
  switch (*end) {
    case 'k': case 'K': unit = 1024.0; end++; break;
    case 'm': case 'M': unit = 1024.0 * 1024.0; end++; break;
    case 'g': case 'G': unit = 1024.0 * 1024.0 * 1024.0; end++; break;
    default: break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end != '\0') return -1;
  value *= unit;
  if (!(value < (double)SIZE_MAX / 2)) return -1;
  *bytes = value == 0 ? 0 : value < 1.0 ? 1 : (size_t)value;
  return 0;
}

size_t tsr_memory_cap(void) {
  size_t cap = atomic_load(&memory_cap);
  if (cap == 0) {
    size_t parsed;
    const char *text = getenv("TESSERA_MAX_MEMORY");
    cap = tsr_parse_memory_size(text, &parsed) == 0 && parsed > 0 ? parsed : SIZE_MAX;
    atomic_store(&memory_cap, cap);
  }
  return cap == SIZE_MAX ? 0 : cap;
}

void tsr_set_memory_cap(size_t bytes) {
  atomic_store(&memory_cap, bytes == 0 ? SIZE_MAX : bytes);
}

/* Each tsr_alloc block carries its size in a 64-byte header, so tsr_free can give it back
 * and the data stays 64-byte aligned. */
#define BLOCK_HEADER 64
/* Signed: a Lua state gives back at its close what it held before it was counted. */
static _Atomic int64_t live_bytes = 0;
static _Atomic size_t memory_ceiling = SIZE_MAX;
static _Atomic size_t ceiling_budget = 0; /* what the ceiling allowed when set, for messages */
static _Atomic size_t refusals = 0;

size_t tsr_memory_limit(void) {
  size_t cap = tsr_memory_cap(), ceiling = atomic_load(&memory_ceiling);
  if (cap == 0) return ceiling == SIZE_MAX ? 0 : ceiling;
  return ceiling < cap ? ceiling : cap;
}

/* Adds bytes to the live count unless that would pass the limit; 0 on success. */
static int charge(size_t bytes) {
  if (bytes > (size_t)INT64_MAX / 2) return -1;
  int64_t before = atomic_fetch_add(&live_bytes, (int64_t)bytes);
  size_t limit = tsr_memory_limit();
  if (limit != 0 && before + (int64_t)bytes > 0 && (size_t)(before + (int64_t)bytes) > limit) {
    atomic_fetch_sub(&live_bytes, (int64_t)bytes);
    atomic_fetch_add(&refusals, 1);
    return -1;
  }
  return 0;
}

/* The machine's memory and swap: a request beyond it can never be met, and refusing it
 * here makes it an error everywhere (the sanitizers' allocators would abort on it, and a
 * lazily mapped calloc would be killed while zeroing it). 0 when unknown. */
static size_t machine_memory(void) {
  static _Atomic size_t total = 0;
  size_t t = atomic_load(&total);
  if (t == 0) {
    struct sysinfo si;
    if (sysinfo(&si) != 0) return 0;
    t = ((size_t)si.totalram + (size_t)si.totalswap) * (size_t)si.mem_unit;
    atomic_store(&total, t);
  }
  return t;
}

/* Blocks of 4 MB or more ask for transparent huge pages, as NumPy does: the first touch
 * then maps 2 MB at a time instead of 4 KB. Only advice: nothing changes where THP is off. */
void tsr_advise_huge_pages(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  if (bytes < ((size_t)4 << 20)) return;
  uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t end = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void *tsr_alloc(size_t bytes) {
  size_t machine = machine_memory();
  if (machine != 0 && bytes > machine) return NULL;
  if (bytes == 0) bytes = 1;
  if (bytes > SIZE_MAX - BLOCK_HEADER || charge(bytes) != 0) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes + BLOCK_HEADER) != 0) {
    atomic_fetch_sub(&live_bytes, (int64_t)bytes);
    return NULL;
  }
  tsr_advise_huge_pages(p, bytes + BLOCK_HEADER);
  memcpy(p, &bytes, sizeof bytes);
  return (char *)p + BLOCK_HEADER;
}

void *tsr_calloc(size_t count, size_t size) {
  size_t bytes;
  if (tsr_mul_size(count, size, &bytes) != 0) return NULL;
  void *p = tsr_alloc(bytes);
  if (p != NULL) memset(p, 0, bytes);
  return p;
}

void tsr_free(void *p) {
  if (p == NULL) return;
  char *block = (char *)p - BLOCK_HEADER;
  size_t bytes;
  memcpy(&bytes, block, sizeof bytes);
  atomic_fetch_sub(&live_bytes, (int64_t)bytes);
  free(block);
}

size_t tsr_memory_in_use(void) {
  int64_t live = atomic_load(&live_bytes);
  return live > 0 ? (size_t)live : 0;
}

size_t tsr_memory_ceiling(void) {
  size_t c = atomic_load(&memory_ceiling);
  return c == SIZE_MAX ? 0 : c;
}

size_t tsr_memory_ceiling_budget(void) { return atomic_load(&ceiling_budget); }

void tsr_set_memory_ceiling(size_t bytes, size_t budget) {
  atomic_store(&ceiling_budget, bytes == 0 ? 0 : budget);
  atomic_store(&memory_ceiling, bytes == 0 ? SIZE_MAX : bytes);
}

size_t tsr_memory_refusals(void) { return atomic_load(&refusals); }

int tsr_memory_account(ptrdiff_t delta) {
  if (delta <= 0) {
    atomic_fetch_sub(&live_bytes, -(int64_t)delta);
    return 0;
  }
  return charge((size_t)delta);
}

void tsr_format_bytes(size_t bytes, char *buf, size_t bufsize) {
  double b = (double)bytes;
  if (bytes == 1) snprintf(buf, bufsize, "1 byte");
  else if (bytes < 1000) snprintf(buf, bufsize, "%zu bytes", bytes);
  else if (b < 1e6) snprintf(buf, bufsize, "%.1f kB", b / 1e3);
  else if (b < 1e9) snprintf(buf, bufsize, "%.1f MB", b / 1e6);
  else if (b < 1e12) snprintf(buf, bufsize, "%.2f GB", b / 1e9);
  else snprintf(buf, bufsize, "%.1f TB", b / 1e12);
}

int tsr_memory_check(size_t bytes, const char *what, tsr_error *err) {
  char need[32], have[32], left[32];
  size_t machine = machine_memory(), limit = tsr_memory_limit(), used = tsr_memory_in_use();
  tsr_format_bytes(bytes, need, sizeof need);
  if (machine != 0 && bytes > machine) {
    tsr_seterror(err, "%s needs %s, more than this machine has (memory and swap)", what, need);
    atomic_fetch_add(&refusals, 1);
    return TSR_ELIMIT;
  }
  if (limit == 0 || (used <= limit && bytes <= limit - used)) return TSR_OK;
  atomic_fetch_add(&refusals, 1);
  tsr_format_bytes(used < limit ? limit - used : 0, left, sizeof left);
  size_t cap = tsr_memory_cap();
  if (cap == 0 || limit < cap) { /* a call's budget binds: the total it sets means little */
    size_t budget = tsr_memory_ceiling_budget();
    tsr_format_bytes(budget, have, sizeof have);
    if (bytes > budget)
      tsr_seterror(err, "%s needs %s, more than its memory budget (%s)", what, need, have);
    else
      tsr_seterror(err, "%s needs %s, more than the %s its memory budget (%s) leaves free",
                   what, need, left, have);
    return TSR_ELIMIT;
  }
  tsr_format_bytes(limit, have, sizeof have);
  if (bytes > limit)
    tsr_seterror(err, "%s needs %s, more than the memory cap (%s)", what, need, have);
  else
    tsr_seterror(err, "%s needs %s, more than the %s the memory cap (%s) leaves free", what,
                 need, left, have);
  return TSR_ELIMIT;
}

int tsr_alloc_failure(size_t bytes, const char *what, tsr_error *err) {
  if (tsr_memory_check(bytes, what, err) != TSR_OK) return TSR_ELIMIT;
  char need[32];
  tsr_format_bytes(bytes, need, sizeof need);
  tsr_seterror(err, "cannot allocate %s (%s): out of memory", what, need);
  return TSR_ENOMEM;
}
