/* tessera kernels: status codes, error details and allocation shared by every kernel.
 * Pure C: no Lua header may be included from any kernel (csrc/ outside csrc/lua/). */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TSR_VERSION "0.1.0"

typedef enum tsr_status {
  TSR_OK = 0,
  TSR_ENOMEM,     /* an allocation failed */
  TSR_EINVAL,     /* an argument is out of range */
  TSR_EIO,        /* a file could not be opened, read or written */
  TSR_EFORMAT,    /* a file is not in the format it claims */
  TSR_ENOTFINITE, /* the data holds NaN or Inf */
  TSR_EEMPTY,     /* there is no data */
  TSR_ELIMIT,     /* the request exceeds the memory cap */
  TSR_EINTR       /* the run was interrupted (Ctrl-C, SIGTERM, a recipe's time limit) */
} tsr_status;

/* A static, lowercase description of a status code; never NULL. */
const char *tsr_strerror(int status);

/* Details of a failure that a caller can show: kernels that fail for a reason worth
 * naming (a file, a position, a value) write it here. Callers may pass NULL. */
#define TSR_ERRMAX 512
typedef struct tsr_error {
  char msg[TSR_ERRMAX];
} tsr_error;

/* printf-style; does nothing when err is NULL. */
void tsr_seterror(tsr_error *err, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 2, 3)))
#endif
  ;

/* Multiplies a*b into *out; returns 0 on success, -1 on size_t overflow. */
int tsr_mul_size(size_t a, size_t b, size_t *out);

/* ---- Memory (memory.c) ----
 * One count of every live byte tessera holds: kernel buffers from tsr_alloc plus what the
 * bindings charge through tsr_memory_account (each Lua state's whole heap, where every
 * Matrix, Audio and Spectrogram keeps its data). One limit on that count: the smaller of the
 * process cap (TESSERA_MAX_MEMORY, a number with an optional K/M/G suffix; --max-memory) and
 * a temporary ceiling (a recipe's budget, one call's max_memory). 0 means none. */

/* 64-byte aligned scratch for SIMD/BLAS; NULL on failure, or when the block would take the
 * live count past the limit or is larger than the machine. Free with tsr_free. */
void *tsr_alloc(size_t bytes);
/* Like tsr_alloc, zero-filled. */
void *tsr_calloc(size_t count, size_t size);
/* Frees memory from tsr_alloc/tsr_calloc; NULL is a no-op. */
void tsr_free(void *p);

/* Charges (delta > 0) or gives back (delta <= 0) bytes of another allocator to the live
 * count; returns -1, charging nothing, when a charge would pass the limit. */
int tsr_memory_account(ptrdiff_t delta);
size_t tsr_memory_in_use(void);
/* The process cap (read from TESSERA_MAX_MEMORY on first use; unparsable there means none:
 * the host checks the variable and says so) and the temporary ceiling. */
size_t tsr_memory_cap(void);
void tsr_set_memory_cap(size_t bytes);
size_t tsr_memory_ceiling(void);
/* Sets the ceiling (0: none) and the budget it stands for (what it allowed above the live
 * count when set: the figure error messages give). */
void tsr_set_memory_ceiling(size_t bytes, size_t budget);
size_t tsr_memory_ceiling_budget(void);
/* The limit in force: the smaller of cap and ceiling (0 = none). */
size_t tsr_memory_limit(void);
/* How many requests the limit has refused since the process started. */
size_t tsr_memory_refusals(void);
/* TSR_OK when `bytes` more fit under the limit and the machine; otherwise TSR_ELIMIT (counted
 * as a refusal) and err reads "<what> needs 12.5 MB, more than the memory cap (10.0 MB)",
 * "... more than the 2.0 MB the memory cap (10.0 MB) leaves free", or, where a call's
 * ceiling binds, "... more than its memory budget (1.0 MB)". The one check
 * made before large requests, so the error names the thing, not a bare allocation failure. */
int tsr_memory_check(size_t bytes, const char *what, tsr_error *err);
/* Explains a tsr_alloc of `bytes` for `what` that returned NULL: TSR_ELIMIT with
 * tsr_memory_check's message when the limit refused it, else TSR_ENOMEM with "cannot
 * allocate <what> (12.5 MB): out of memory". */
int tsr_alloc_failure(size_t bytes, const char *what, tsr_error *err);
/* "512 bytes", "3.2 kB", "12.5 MB", "1.20 GB", "4.0 TB" (decimal units). */
void tsr_format_bytes(size_t bytes, char *buf, size_t bufsize);
/* Parses "1.5G", "512M", "100k", "4096" (bytes, optional B; "0": none): 0 and *bytes set,
 * or -1 for anything else (negative, not a number, trailing text, past SIZE_MAX / 2). */
int tsr_parse_memory_size(const char *text, size_t *bytes);
/* Asks for transparent huge pages on a large block (advice only). */
void tsr_advise_huge_pages(void *p, size_t bytes);

/* Atomic file output: a temporary name beside `path`, renamed into place on success.
 * tsr_tmp_path writes "<dir>/.<base>.tmp-<pid>-<n>" into buf (size bufsize); returns 0,
 * or -1 when it does not fit. tsr_commit_file renames tmp to path (fsyncing it first);
 * on failure it removes tmp and returns TSR_EIO with the reason in err. */
int tsr_tmp_path(const char *path, char *buf, size_t bufsize);
int tsr_commit_file(const char *tmp, const char *path, tsr_error *err);
/* fsyncs the folder that holds path (best effort): after a rename that publishes a file. */
void tsr_sync_folder_of(const char *path);
/* Ends a write through a FILE opened on tmp: closes f, then commits tmp to path when
 * every write succeeded (`ok` nonzero) and the close too; otherwise removes tmp and
 * returns TSR_EIO with errno's reason in err. */
int tsr_finish_file(FILE *f, int ok, const char *tmp, const char *path, tsr_error *err);

/* Opens path for reading only if it is a regular file (after links): a FIFO, device,
 * directory or socket is refused before anything waits on it ("cannot read 'x': not a
 * regular file (a FIFO)"). Returns a blocking descriptor the caller closes, or -1 with
 * the reason in err. The one check every reader of inputs goes through. */
int tsr_open_regular(const char *path, tsr_error *err);

/* Interrupted runs (the host's SIGINT/SIGTERM handler calls tsr_interrupt; async-signal-
 * safe): from then on tsr_commit_file refuses ("cannot write 'x': interrupted") and removes
 * its temporary, so the file in place stays the previous one. tsr_tmp_cleanup removes the
 * temporaries handed out lately by tsr_tmp_path (files, and folders of files unless
 * in_signal_handler, where only unlink is safe) that are still there: what writers cut
 * short by the interruption left. */
void tsr_interrupt(void);
void tsr_interrupt_clear(void); /* the interrupted work has ended: writes may commit again */
int tsr_interrupted(void);
void tsr_tmp_cleanup(int in_signal_handler);
/* Adds a temporary name made some other way (a tsr_tmp_path name with a suffix) to those
 * tsr_tmp_cleanup removes. */
void tsr_tmp_remember(const char *name);

#endif
