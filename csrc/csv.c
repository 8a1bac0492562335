/* CSV reader and writer for matrices. The reader makes two passes over a memory buffer:
 * the first finds the shape and checks that every row has as many fields as the first,
 * the second converts the numbers straight into the column-major matrix. */
#include "csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest field taken as a number; strtod needs a NUL-terminated copy. */
#define FIELD_MAX 128

typedef struct line {
  const char *start, *end; /* without the \n or \r\n */
} line;

/* The next line from *pos, or 0 at the end of the buffer. */
static int next_line(const char *buf, size_t len, size_t *pos, line *out) {
  if (*pos >= len) return 0;
  const char *s = buf + *pos;
  const char *nl = memchr(s, '\n', len - *pos);
  const char *e = nl != NULL ? nl : buf + len;
  *pos = (size_t)(e - buf) + (nl != NULL);
  if (e > s && e[-1] == '\r') e--;
  out->start = s;
  out->end = e;
  return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

static int is_blank(const line *l) {
  for (const char *p = l->start; p < l->end; p++)
    if (!is_space(*p)) return 0;
  return 1;
}

/* The field starting at p (up to the next comma or the line's end), trimmed. Returns the
 * position just past it. */
static const char *field(const char *p, const char *end, const char **fs, const char **fe) {
  const char *comma = memchr(p, ',', (size_t)(end - p));
  const char *stop = comma != NULL ? comma : end;
  const char *s = p, *e = stop;
  while (s < e && is_space(*s)) s++;
  while (e > s && is_space(e[-1])) e--;
  *fs = s;
  *fe = e;
  return stop;
}

/* 0 and *out when [s, e) is a whole number for strtod, -1 when it is not a number, -2
 * when it is one outside float32's finite range (inf and nan spelled out are taken). */
static int parse_number(const char *s, const char *e, double *out) {
  size_t n = (size_t)(e - s);
  if (n == 0 || n >= FIELD_MAX) return -1;
  char text[FIELD_MAX];
  memcpy(text, s, n);
  text[n] = '\0';
  char *stop = NULL;
  errno = 0;
  *out = strtod(text, &stop);
  if (stop != text + n) return -1;
  if (isinf(*out) && errno == ERANGE) return -2;
  return isfinite(*out) && fabs(*out) > FLT_MAX ? -2 : 0;
}

static long long count_fields(const line *l) {
  long long n = 1;
  for (const char *p = l->start; p < l->end; p++) n += *p == ',';
  return n;
}

/* A header is a first line none of whose fields is a number. */
static int is_header(const line *l) {
  const char *p = l->start;
  for (;;) {
    const char *fs, *fe;
    double v;
    p = field(p, l->end, &fs, &fe);
    if (parse_number(fs, fe, &v) != -1) return 0;
    if (p == l->end) return 1;
    p++;
  }
}

static void clear(tsr_matrix *out) {
  out->rows = 0;
  out->cols = 0;
  out->data = NULL;
}

int tsr_csv_parse(const char *buf, size_t len, tsr_matrix *out, tsr_error *err) {
  clear(out);
  /* Pass 1: the shape. */
  size_t pos = 0;
  line l;
  long long lineno = 0, first_blank = 0, first_data = 0, rows = 0;
  long long cols = 0;
  int header = 0;
  while (next_line(buf, len, &pos, &l)) {
    lineno++;
    if (is_blank(&l)) {
      if (first_blank == 0) first_blank = lineno;
      continue;
    }
    if (lineno == 1 && is_header(&l)) {
      header = 1;
      continue;
    }
    if (first_blank != 0) {
      tsr_seterror(err, "line %lld is blank (blank lines may only come at the end)",
                   first_blank);
      return TSR_EFORMAT;
    }
    long long n = count_fields(&l);
    if (first_data == 0) {
      first_data = lineno;
      cols = n;
    } else if (n != cols) {
      tsr_seterror(err, "line %lld has %lld %s, expected %lld as on line %lld", lineno, n,
                   n == 1 ? "column" : "columns", cols, first_data);
      return TSR_EFORMAT;
    }
    rows++;
  }
  if (rows == 0) {
    tsr_seterror(err, "%s", header ? "no data rows after the header"
                            : len == 0 ? "the file is empty" : "no data rows, only blank lines");
    return TSR_EFORMAT;
  }

  /* Pass 2: the numbers. */
  tsr_matrix m;
  int st = tsr_matrix_alloc(&m, rows, cols, err);
  if (st != TSR_OK) return st;
  pos = 0;
  lineno = 0;
  int64_t i = 0;
  while (next_line(buf, len, &pos, &l)) {
    lineno++;
    if (lineno < first_data || is_blank(&l)) continue;
    const char *p = l.start;
    for (int64_t j = 0; j < cols; j++, p++) {
      const char *fs, *fe;
      double v;
      p = field(p, l.end, &fs, &fe);
      int bad = parse_number(fs, fe, &v);
      if (bad != 0) {
        int shown = fe - fs > 40 ? 40 : (int)(fe - fs);
        tsr_seterror(err, bad == -1 ? "line %lld, column %lld: bad number '%.*s%s'"
                                    : "line %lld, column %lld: %.*s%s does not fit in float32",
                     lineno, (long long)j + 1, shown, fs, fe - fs > 40 ? "..." : "");
        tsr_matrix_release(&m);
        return TSR_EFORMAT;
      }
      m.data[i + j * rows] = (float)v;
    }
    i++;
  }
  *out = m;
  return TSR_OK;
}

int tsr_csv_load(const char *path, tsr_matrix *out, tsr_error *err) {
  clear(out);
  int fd = tsr_open_regular(path, err);
  if (fd < 0) return TSR_EIO;
  FILE *f = fdopen(fd, "rb");
  if (f == NULL) {
    tsr_seterror(err, "cannot open '%s': %s", path, strerror(errno));
    close(fd);
    return TSR_EIO;
  }
  /* Read the whole text into one buffer, doubling it as needed. */
  size_t cap = 1 << 16, len = 0;
  char *buf = tsr_alloc(cap);
  int st = TSR_OK;
  while (buf != NULL) {
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap) break;
    char *bigger = cap <= SIZE_MAX / 2 ? tsr_alloc(cap * 2) : NULL;
    if (bigger != NULL) memcpy(bigger, buf, len);
    tsr_free(buf);
    buf = bigger;
    cap *= 2;
  }
  if (buf == NULL) {
    tsr_seterror(err, "'%s': cannot allocate memory to read it", path);
    st = TSR_ENOMEM;
  } else if (ferror(f)) {
    tsr_seterror(err, "cannot read '%s': %s", path, strerror(errno));
    st = TSR_EIO;
  }
  fclose(f);
  if (st == TSR_OK) {
    tsr_error detail = {""};
    st = tsr_csv_parse(buf, len, out, &detail);
    if (st != TSR_OK) tsr_seterror(err, "'%s': %s", path, detail.msg);
  }
  tsr_free(buf);
  return st;
}

int tsr_csv_save(const char *path, const tsr_matrix *m, tsr_error *err) {
  if (m->rows == 0 || m->cols == 0) {
    tsr_seterror(err, "cannot save '%s': a %lld x %lld matrix has no values to write as CSV "
                 "(use .npy)", path, (long long)m->rows, (long long)m->cols);
    return TSR_EEMPTY;
  }
  tsr_error why = {""};
  if (tsr_matrix_check_finite(m, &why) != TSR_OK) {
    tsr_seterror(err, "cannot save '%s': %s (NaN and Inf are never written)", path, why.msg);
    return TSR_ENOTFINITE;
  }
  char tmp[4096];
  if (tsr_tmp_path(path, tmp, sizeof tmp) != 0) {
    tsr_seterror(err, "cannot write '%s': path too long", path);
    return TSR_EIO;
  }
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    tsr_seterror(err, "cannot write '%s': %s", path, strerror(errno));
    return TSR_EIO;
  }
  int ok = 1;
  for (int64_t i = 0; i < m->rows && ok; i++) {
    for (int64_t j = 0; j < m->cols && ok; j++)
      ok = fprintf(f, j ? ",%.9g" : "%.9g", (double)m->data[i + j * m->rows]) > 0;
    ok = ok && fputc('\n', f) != EOF;
  }
  return tsr_finish_file(f, ok, tmp, path, err);
}
