/* Shared kernel services: status text, error details, aligned allocation with an optional
 * memory cap, and the temporary-name-then-rename protocol every file writer uses. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "tessera.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

const char *tsr_strerror(int status) {
  switch (status) {
    case TSR_OK: return "no error";
    case TSR_ENOMEM: return "out of memory";
    case TSR_EINVAL: return "invalid argument";
    case TSR_EIO: return "input/output error";
    case TSR_EFORMAT: return "bad file format";
    case TSR_ENOTFINITE: return "data holds NaN or Inf";
    case TSR_EEMPTY: return "no data";
    case TSR_ELIMIT: return "exceeds the memory cap";
    default: return "unknown error";
  }
}

void tsr_seterror(tsr_error *err, const char *fmt, ...) {
  if (err == NULL) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
}

int tsr_mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return -1;
  *out = a * b;
  return 0;
}

/* 0 = not read yet; SIZE_MAX = no cap. Read once; races only rewrite the same value. */
static _Atomic size_t memory_cap = 0;

static size_t parse_memory_cap(const char *text) {
  if (text == NULL || *text == '\0') return SIZE_MAX;
  char *end = NULL;
  double value = strtod(text, &end);
  if (end == text || value <= 0) return SIZE_MAX;
  switch (*end) {
    case 'k': case 'K': value *= 1024.0; break;
    case 'm': case 'M': value *= 1024.0 * 1024.0; break;
    case 'g': case 'G': value *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
  }
  return value >= (double)SIZE_MAX ? SIZE_MAX : (size_t)value;
}

size_t tsr_memory_cap(void) {
  size_t cap = atomic_load(&memory_cap);
  if (cap == 0) {
    cap = parse_memory_cap(getenv("TESSERA_MAX_MEMORY"));
    atomic_store(&memory_cap, cap);
  }
  return cap == SIZE_MAX ? 0 : cap;
}

void tsr_set_memory_cap(size_t bytes) {
  atomic_store(&memory_cap, bytes == 0 ? SIZE_MAX : bytes);
}

/* Bytes live in tsr_alloc blocks plus what tsr_memory_account charged, and the ceiling on
 * that total (SIZE_MAX: none). Each block carries its size in a 64-byte header, so
 * tsr_free can give it back and the data stays 64-byte aligned. */
#define BLOCK_HEADER 64
/* Signed: another allocator may give back blocks it owned before it was counted. */
static _Atomic int64_t live_bytes = 0;
static _Atomic size_t memory_ceiling = SIZE_MAX;
static _Atomic size_t ceiling_refusals = 0;

/* Adds bytes to the live count unless that would pass the ceiling; 0 on success. */
static int charge(size_t bytes) {
  if (bytes > (size_t)INT64_MAX / 2) return -1;
  int64_t before = atomic_fetch_add(&live_bytes, (int64_t)bytes);
  size_t limit = atomic_load(&memory_ceiling);
  if (limit != SIZE_MAX && before + (int64_t)bytes > 0 &&
      (size_t)(before + (int64_t)bytes) > limit) {
    atomic_fetch_sub(&live_bytes, (int64_t)bytes);
    atomic_fetch_add(&ceiling_refusals, 1);
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
 * of a fresh block then maps 2 MB at a time instead of 4 KB (writing a new 63 MB block took
 * 8 ms instead of 34 here, mostly page faults). Only advice: nothing changes where THP is
 * off. */
static void advise_huge_pages(void *p, size_t bytes) {
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
  size_t cap = tsr_memory_cap(), machine = machine_memory();
  if (cap != 0 && bytes > cap) return NULL;
  if (machine != 0 && bytes > machine) return NULL;
  if (bytes == 0) bytes = 1;
  if (bytes > SIZE_MAX - BLOCK_HEADER || charge(bytes) != 0) return NULL;
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes + BLOCK_HEADER) != 0) {
    atomic_fetch_sub(&live_bytes, (int64_t)bytes);
    return NULL;
  }
  advise_huge_pages(p, bytes + BLOCK_HEADER);
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

void tsr_set_memory_ceiling(size_t bytes) {
  atomic_store(&memory_ceiling, bytes == 0 ? SIZE_MAX : bytes);
}

size_t tsr_memory_refusals(void) { return atomic_load(&ceiling_refusals); }

int tsr_memory_account(ptrdiff_t delta) {
  if (delta <= 0) {
    atomic_fetch_sub(&live_bytes, -(int64_t)delta);
    return 0;
  }
  return charge((size_t)delta);
}

/* The temporary names handed out lately, so an interrupted run can remove what it left
 * (tsr_tmp_cleanup). A ring: a name is overwritten long after its file was committed or
 * removed, and removing a committed name again is a no-op, so nothing needs unregistering. */
#define TMP_RING 64
#define TMP_NAME 1024
static char tmp_ring[TMP_RING][TMP_NAME];
static _Atomic unsigned tmp_next = 0;
static volatile sig_atomic_t interrupted = 0;

int tsr_tmp_path(const char *path, char *buf, size_t bufsize) {
  static _Atomic unsigned counter = 0;
  const char *slash = strrchr(path, '/');
  int dirlen = slash ? (int)(slash - path + 1) : 0;
  const char *base = slash ? slash + 1 : path;
  int n = snprintf(buf, bufsize, "%.*s.%s.tmp-%ld-%u", dirlen, path, base, (long)getpid(),
                   atomic_fetch_add(&counter, 1u));
  if (n < 0 || (size_t)n >= bufsize) return -1;
  tsr_tmp_remember(buf);
  return 0;
}

void tsr_tmp_remember(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= TMP_NAME) return;
  char *slot = tmp_ring[atomic_fetch_add(&tmp_next, 1u) % TMP_RING];
  slot[0] = '\0'; /* never a half-written name for a concurrent cleanup */
  memcpy(slot + 1, name + 1, n);
  slot[0] = name[0];
}

void tsr_interrupt(void) { interrupted = 1; }

void tsr_interrupt_clear(void) { interrupted = 0; }

int tsr_interrupted(void) { return interrupted != 0; }

/* Removes a folder's entries (one level: temporary folders hold plain files) and itself. */
static void remove_folder(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  char path[TMP_NAME + 256];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

void tsr_tmp_cleanup(int in_signal_handler) {
  for (int i = 0; i < TMP_RING; i++) {
    char *name = tmp_ring[i];
    if (name[0] == '\0') continue;
    if (unlink(name) != 0 && errno == EISDIR && !in_signal_handler) remove_folder(name);
    if (!in_signal_handler) name[0] = '\0';
  }
}

int tsr_finish_file(FILE *f, int ok, const char *tmp, const char *path, tsr_error *err) {
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    remove(tmp);
    tsr_seterror(err, "cannot write '%s': %s", path, strerror(e));
    return TSR_EIO;
  }
  return tsr_commit_file(tmp, path, err);
}

int tsr_commit_file(const char *tmp, const char *path, tsr_error *err) {
  /* After Ctrl-C or SIGTERM nothing new replaces a file: the run is being abandoned. */
  if (interrupted) {
    remove(tmp);
    tsr_seterror(err, "cannot write '%s': interrupted", path);
    return TSR_EIO;
  }
  int fd = open(tmp, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    tsr_seterror(err, "cannot write '%s': %s", path, strerror(e));
    return TSR_EIO;
  }
  return TSR_OK;
}
