/* A fault-injection shim for spec/faults_spec.lua, loaded with LD_PRELOAD into bin/tessera:
 * after FAULT_AFTER bytes have gone to regular files through write() or fwrite(), either
 * raises FAULT_SIGNAL (a signal number: the signal arrives mid-write, at a known point) or,
 * with FAULT_ENOSPC=1, fails every further write with ENOSPC (a disk that fills up, for
 * machines where a small tmpfs cannot be mounted). Built by the spec with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static long long written = 0;
static int fired = 0;

static int regular(int fd) {
  struct stat st;
  return fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Returns 0 to let the write through, -1 to fail it with ENOSPC. */
static int account(int fd, size_t n) {
  if (!regular(fd)) return 0;
  const char *after = getenv("FAULT_AFTER");
  if (after == NULL) return 0;
  long long limit = atoll(after);
  if (getenv("FAULT_ENOSPC") != NULL) {
    if (written + (long long)n > limit) return -1;
    written += (long long)n;
    return 0;
  }
  written += (long long)n;
  const char *sig = getenv("FAULT_SIGNAL");
  if (!fired && sig != NULL && written > limit) {
    fired = 1;
    raise(atoi(sig));
  }
  return 0;
}

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t) = NULL;
  if (real == NULL) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  if (account(fd, n) != 0) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, n);
}

size_t fwrite(const void *buf, size_t size, size_t count, FILE *f) {
  static size_t (*real)(const void *, size_t, size_t, FILE *) = NULL;
  if (real == NULL) real = (size_t(*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
  if (account(fileno(f), size * count) != 0) {
    errno = ENOSPC;
    return 0;
  }
  return real(buf, size, count, f);
}

/* csv.c ends each row with fputc: counted, so a signal lands in CSV output too. */
int fputc(int c, FILE *f) {
  static int (*real)(int, FILE *) = NULL;
  if (real == NULL) real = (int (*)(int, FILE *))dlsym(RTLD_NEXT, "fputc");
  if (account(fileno(f), 1) != 0) {
    errno = ENOSPC;
    return EOF;
  }
  return real(c, f);
}

/* ... and writes its numbers with fprintf. */
int fprintf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(f, fmt, ap);
  va_end(ap);
  if (n > 0 && account(fileno(f), (size_t)n) != 0) {
    errno = ENOSPC;
    return -1;
  }
  return n;
}
