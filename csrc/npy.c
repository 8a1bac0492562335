/* NumPy .npy reader and writer. The reader parses from a memory buffer and checks every
 * length against it before reading, because files come from anywhere (it is fuzzed); the
 * header dictionary is parsed as the small Python literal NumPy writes, not evaluated.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define MAX_DIMS 32 /* NumPy's own limit is 64; anything past 2 is refused anyway */

typedef struct dtype {
  char kind;   /* 'f', 'i' or 'u' */
  int size;    /* bytes per element */
  int swap;    /* 1 when the file's byte order is not the machine's */
  char descr[16];
} dtype;

typedef struct header {
  dtype type;
  int fortran;
  int ndim;
  int64_t dims[MAX_DIMS];
  int have_descr, have_order, have_shape;
} header;

typedef struct cursor {
  const char *p, *start, *end;
} cursor;

static int host_is_little(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void skip_space(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

/* "bad header: <what> at offset N near '<text>'", the text made printable. */
static int header_error(cursor *c, tsr_error *err, const char *what) {
  char near[24];
  size_t n = 0;
  for (const char *q = c->p; q < c->end && n < 16 && *q != '\n'; q++, n++)
    near[n] = (*q >= 32 && *q < 127 && *q != '\'') ? *q : '?';
  while (n > 0 && near[n - 1] == ' ') n--;
  near[n] = '\0';
  tsr_seterror(err, "bad header: %s at offset %td near '%s'", what, c->p - c->start, near);
  return TSR_EFORMAT;
}

static int accept(cursor *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted Python string without escapes, copied into out (size cap). */
static int parse_string(cursor *c, char *out, size_t cap, tsr_error *err) {
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return header_error(c, err, "expected a quoted string");
  char quote = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != quote) {
    if (*c->p == '\\') return header_error(c, err, "escapes in strings are not supported");
    if (n + 1 >= cap) return header_error(c, err, "string too long");
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return header_error(c, err, "unterminated string");
  c->p++;
  out[n] = '\0';
  return TSR_OK;
}

static int parse_word(cursor *c, const char *word) {
  size_t n = strlen(word);
  skip_space(c);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
    c->p += n;
    return 1;
  }
  return 0;
}

/* A non-negative decimal integer (Python 2 NumPy wrote a trailing L on longs). */
static int parse_dim(cursor *c, int64_t *out, tsr_error *err) {
  skip_space(c);
  if (c->p >= c->end || *c->p < '0' || *c->p > '9')
    return header_error(c, err, "expected a dimension");
  int64_t v = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    int d = *c->p - '0';
    if (v > (INT64_MAX - d) / 10) return header_error(c, err, "dimension too large");
    v = v * 10 + d;
    c->p++;
  }
  if (c->p < c->end && *c->p == 'L') c->p++;
  *out = v;
  return TSR_OK;
}

static int parse_shape(cursor *c, header *h, tsr_error *err) {
  if (!accept(c, '(')) return header_error(c, err, "expected '(' to open the shape");
  h->ndim = 0;
  if (accept(c, ')')) return TSR_OK;
  for (;;) {
    if (h->ndim == MAX_DIMS) return header_error(c, err, "too many dimensions");
    int st = parse_dim(c, &h->dims[h->ndim], err);
    if (st != TSR_OK) return st;
    h->ndim++;
    if (accept(c, ')')) return TSR_OK;
    if (!accept(c, ',')) return header_error(c, err, "expected ',' or ')' in the shape");
    if (accept(c, ')')) return TSR_OK;
  }
}

static int parse_descr(const char *s, dtype *t, tsr_error *err) {
  static const char supported[] = "f4, f8, i1, i2, i4, i8, u1, u2, u4, u8";
  snprintf(t->descr, sizeof t->descr, "%s", s);
  char order = s[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') goto bad;
  char kind = s[1];
  if (kind != 'f' && kind != 'i' && kind != 'u') goto bad;
  if (s[2] < '1' || s[2] > '8' || s[3] != '\0') goto bad;
  int size = s[2] - '0';
  if (kind == 'f' ? (size != 4 && size != 8) : (size != 1 && size != 2 && size != 4 && size != 8))
    goto bad;
  if (order == '|' && size != 1) goto bad; /* '|' means "no byte order", only for bytes */
  t->kind = kind;
  t->size = size;
  int little = host_is_little();
  t->swap = size > 1 && ((order == '<' && !little) || (order == '>' && little));
  return TSR_OK;
bad:
  tsr_seterror(err, "unsupported dtype '%s' (supported: %s)", t->descr, supported);
  return TSR_EFORMAT;
}

/* The header dictionary, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
static int parse_header(const char *text, size_t len, header *h, tsr_error *err) {
  cursor c = {text, text, text + len};
  memset(h, 0, sizeof *h);
  if (!accept(&c, '{')) return header_error(&c, err, "expected '{'");
  while (!accept(&c, '}')) {
    char key[32];
    int st = parse_string(&c, key, sizeof key, err);
    if (st != TSR_OK) return st;
    if (!accept(&c, ':')) return header_error(&c, err, "expected ':'");
    if (strcmp(key, "descr") == 0 && !h->have_descr) {
      char descr[16];
      skip_space(&c);
      if (c.p < c.end && *c.p == '[') {
        tsr_seterror(err, "structured dtypes are not supported (a matrix needs one number "
                     "per element)");
        return TSR_EFORMAT;
      }
      st = parse_string(&c, descr, sizeof descr, err);
      if (st == TSR_OK) st = parse_descr(descr, &h->type, err);
      if (st != TSR_OK) return st;
      h->have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !h->have_order) {
      if (parse_word(&c, "True")) h->fortran = 1;
      else if (parse_word(&c, "False")) h->fortran = 0;
      else return header_error(&c, err, "fortran_order must be True or False");
      h->have_order = 1;
    } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
      st = parse_shape(&c, h, err);
      if (st != TSR_OK) return st;
      h->have_shape = 1;
    } else {
      tsr_seterror(err, "bad header: unexpected or repeated key '%s'", key);
      return TSR_EFORMAT;
    }
    if (!accept(&c, ',')) {
      if (accept(&c, '}')) break;
      return header_error(&c, err, "expected ',' or '}'");
    }
  }
  skip_space(&c);
  if (c.p != c.end) return header_error(&c, err, "unexpected text after the dictionary");
  const char *missing = !h->have_descr ? "descr" : !h->have_order ? "fortran_order"
                        : !h->have_shape ? "shape" : NULL;
  if (missing != NULL) {
    tsr_seterror(err, "bad header: no '%s' key", missing);
    return TSR_EFORMAT;
  }
  return TSR_OK;
}

static void format_shape(const header *h, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "(");
  for (int d = 0; d < h->ndim && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)h->dims[d]);
  if (n < cap) snprintf(buf + n, cap - n, h->ndim == 1 ? ",)" : ")");
}

/* Element e of the data as a double (exact for every supported type but the 64-bit ints). */
static double read_elem(const unsigned char *p, const dtype *t) {
  unsigned char b[8];
  if (t->swap)
    for (int k = 0; k < t->size; k++) b[k] = p[t->size - 1 - k];
  else
    memcpy(b, p, (size_t)t->size);
  switch (t->kind) {
    case 'f':
      if (t->size == 4) {
        float f;
        memcpy(&f, b, 4);
        return f;
      } else {
        double d;
        memcpy(&d, b, 8);
        return d;
      }
    case 'i':
      switch (t->size) {
        case 1: { int8_t v; memcpy(&v, b, 1); return v; }
        case 2: { int16_t v; memcpy(&v, b, 2); return v; }
        case 4: { int32_t v; memcpy(&v, b, 4); return v; }
        default: { int64_t v; memcpy(&v, b, 8); return (double)v; }
      }
    default:
      switch (t->size) {
        case 1: { uint8_t v; memcpy(&v, b, 1); return v; }
        case 2: { uint16_t v; memcpy(&v, b, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, b, 4); return v; }
        default: { uint64_t v; memcpy(&v, b, 8); return (double)v; }
      }
  }
}

static void clear(tsr_matrix *out) {
  out->rows = 0;
  out->cols = 0;
  out->data = NULL;
}

int tsr_npy_parse(const void *buf, size_t len, tsr_matrix *out, tsr_error *err) {
  const unsigned char *bytes = buf;
  clear(out);
  if (len < MAGIC_LEN + 2 || memcmp(bytes, MAGIC, MAGIC_LEN) != 0) {
    if (len >= MAGIC_LEN && memcmp(bytes, MAGIC, MAGIC_LEN) == 0)
      tsr_seterror(err, "truncated preamble (the file has only %zu bytes)", len);
    else
      tsr_seterror(err, "not a .npy file (bad magic)");
    return TSR_EFORMAT;
  }
  int major = bytes[6], minor = bytes[7];
  size_t prelude, hlen;
  if (major == 1 && minor == 0) {
    prelude = 10;
    if (len < prelude) goto short_preamble;
    hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8;
  } else if ((major == 2 || major == 3) && minor == 0) {
    prelude = 12;
    if (len < prelude) goto short_preamble;
    hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
           (size_t)bytes[11] << 24;
  } else {
    tsr_seterror(err, "unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)",
                 major, minor);
    return TSR_EFORMAT;
  }
  if (hlen > len - prelude) {
    tsr_seterror(err, "the header (%zu bytes) runs past the end of the file (%zu bytes)", hlen,
                 len);
    return TSR_EFORMAT;
  }
  header h;
  int st = parse_header((const char *)bytes + prelude, hlen, &h, err);
  if (st != TSR_OK) return st;

  char shape[64 + 24 * MAX_DIMS];
  format_shape(&h, shape, sizeof shape);
  if (h.ndim != 1 && h.ndim != 2) {
    tsr_seterror(err, "a %d-d array (shape %s) is not a matrix; only 1-d and 2-d arrays load",
                 h.ndim, shape);
    return TSR_EFORMAT;
  }
  int64_t rows = h.dims[0], cols = h.ndim == 2 ? h.dims[1] : 1;
  size_t count, need;
  if (tsr_matrix_size(rows, cols, &count, NULL) != TSR_OK ||
      tsr_mul_size(count, (size_t)h.type.size, &need) != 0) {
    tsr_seterror(err, "shape %s is too large", shape);
    return TSR_EFORMAT;
  }
  size_t have = len - prelude - hlen;
  if (have < need) {
    tsr_seterror(err, "the data is truncated: shape %s of '%s' needs %zu bytes, the file "
                 "holds %zu", shape, h.type.descr, need, have);
    return TSR_EFORMAT;
  }
  /* Trailing bytes after the data are ignored, as np.load does. */
  tsr_matrix m;
  st = tsr_matrix_alloc(&m, rows, cols, err);
  if (st != TSR_OK) return st;
  const unsigned char *data = bytes + prelude + hlen;
  int in_storage_order = h.fortran || h.ndim == 1 || rows <= 1 || cols <= 1;
  if (h.type.kind == 'f' && h.type.size == 4 && !h.type.swap && in_storage_order) {
    memcpy(m.data, data, need);
  } else if (count > 0) { /* an empty shape may still have 10^10 rows: no loop over them */
    size_t sz = (size_t)h.type.size;
    for (int64_t i = 0; i < rows; i++) {
      for (int64_t j = 0; j < cols; j++) {
        size_t e = in_storage_order ? (size_t)i + (size_t)j * (size_t)rows
                                    : (size_t)i * (size_t)cols + (size_t)j;
        double v = read_elem(data + e * sz, &h.type);
        if (isfinite(v) && fabs(v) > FLT_MAX) {
          tsr_seterror(err, "value %g at row %lld, column %lld does not fit in float32", v,
                       (long long)i + 1, (long long)j + 1);
          tsr_matrix_release(&m);
          return TSR_EFORMAT;
        }
        m.data[i + j * rows] = (float)v;
      }
    }
  }
  *out = m;
  return TSR_OK;

short_preamble:
  tsr_seterror(err, "truncated preamble (the file has only %zu bytes)", len);
  return TSR_EFORMAT;
}

int tsr_npy_load(const char *path, tsr_matrix *out, tsr_error *err) {
  clear(out);
  int fd = tsr_open_regular(path, err);
  if (fd < 0) return TSR_EIO;
  struct stat sb;
  const char *why = NULL;
  if (fstat(fd, &sb) != 0) why = strerror(errno);
  else if (S_ISDIR(sb.st_mode)) why = "Is a directory";
  else if (!S_ISREG(sb.st_mode)) why = "not a regular file";
  if (why != NULL) {
    tsr_seterror(err, "cannot read '%s': %s", path, why);
    close(fd);
    return TSR_EIO;
  }
  size_t len = (size_t)sb.st_size;
  void *map = NULL;
  if (len > 0) {
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      tsr_seterror(err, "cannot read '%s': %s", path, strerror(errno));
      close(fd);
      return TSR_EIO;
    }
  }
  close(fd);
  tsr_error detail = {""};
  int st = tsr_npy_parse(map != NULL ? map : "", len, out, &detail);
  if (map != NULL) munmap(map, len);
  if (st != TSR_OK) tsr_seterror(err, "'%s': %s", path, detail.msg);
  return st;
}

int tsr_npy_save(const char *path, const tsr_matrix *m, tsr_error *err) {
  tsr_error why = {""};
  if (tsr_matrix_check_finite(m, &why) != TSR_OK) {
    tsr_seterror(err, "cannot save '%s': %s (NaN and Inf are never written)", path, why.msg);
    return TSR_ENOTFINITE;
  }
  /* Version 1.0 header, padded with spaces so the data starts on a 64-byte boundary. */
  char head[256];
  int n = snprintf(head + 10, sizeof head - 10,
                   "{'descr': '%cf4', 'fortran_order': True, 'shape': (%lld, %lld), }",
                   host_is_little() ? '<' : '>', (long long)m->rows, (long long)m->cols);
  size_t total = 10 + (size_t)n + 1;
  size_t padded = (total + 63) / 64 * 64;
  memset(head + 10 + n, ' ', padded - total);
  head[padded - 1] = '\n';
  memcpy(head, MAGIC, MAGIC_LEN);
  head[6] = 1;
  head[7] = 0;
  head[8] = (char)((padded - 10) & 0xff);
  head[9] = (char)((padded - 10) >> 8);

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
  size_t count = (size_t)m->rows * (size_t)m->cols;
  int ok = fwrite(head, 1, padded, f) == padded &&
           fwrite(m->data, sizeof(float), count, f) == count;
  return tsr_finish_file(f, ok, tmp, path, err);
}
