/* Shared kernel services: status text, error details and the temporary-name-then-rename
 * protocol every file writer uses. Memory is memory.c's. */
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
#include <sys/stat.h>
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
    case TSR_EINTR: return "interrupted";
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

/* What a file that is not a regular one is, for messages. */
static const char *file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

int tsr_open_regular(const char *path, tsr_error *err) {
  /* O_NONBLOCK: opening a FIFO with no writer would wait forever. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    tsr_seterror(err, "cannot open '%s': %s", path, strerror(errno));
    return -1;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    tsr_seterror(err, "cannot read '%s': %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  if (S_ISDIR(sb.st_mode)) {
    tsr_seterror(err, "cannot read '%s': %s", path, strerror(EISDIR));
    close(fd);
    return -1;
  }
  if (!S_ISREG(sb.st_mode)) {
    tsr_seterror(err, "cannot read '%s': not a regular file (%s)", path, file_kind(sb.st_mode));
    close(fd);
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags != -1) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
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
  tsr_sync_folder_of(path); /* the rename itself survives a power cut */
  return TSR_OK;
}

void tsr_sync_folder_of(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    strcpy(dir, ".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}
