/* Matrix kernels: allocation with size checks, the BLAS product, transpose, element-wise
 * arithmetic and reductions over float32 column-major matrices (see matrix.h). */
#include "matrix.h"

#include <float.h>

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int tsr_matrix_size(int64_t rows, int64_t cols, size_t *count, size_t *bytes) {
  size_t n, b;
  if (rows < 0 || cols < 0) return TSR_EINVAL;
  if ((uint64_t)rows > SIZE_MAX || (uint64_t)cols > SIZE_MAX) return TSR_EINVAL;
  if (tsr_mul_size((size_t)rows, (size_t)cols, &n) != 0) return TSR_EINVAL;
  if (tsr_mul_size(n, sizeof(float), &b) != 0) return TSR_EINVAL;
  if (count != NULL) *count = n;
  if (bytes != NULL) *bytes = b;
  return TSR_OK;
}

int tsr_matrix_alloc(tsr_matrix *m, int64_t rows, int64_t cols, tsr_error *err) {
  size_t count, bytes;
  m->rows = 0;
  m->cols = 0;
  m->data = NULL;
  if (tsr_matrix_size(rows, cols, &count, &bytes) != TSR_OK) {
    tsr_seterror(err, "a %lld x %lld matrix is too large", (long long)rows, (long long)cols);
    return TSR_EINVAL;
  }
  float *data = tsr_calloc(count ? count : 1, sizeof(float));
  if (data == NULL) {
    char what[96];
    snprintf(what, sizeof what, "a %lld x %lld matrix", (long long)rows, (long long)cols);
    return tsr_alloc_failure(bytes, what, err);
  }
  m->rows = rows;
  m->cols = cols;
  m->data = data;
  return TSR_OK;
}

void tsr_matrix_release(tsr_matrix *m) {
  if (m == NULL) return;
  tsr_free(m->data);
  m->rows = 0;
  m->cols = 0;
  m->data = NULL;
}

/* Element count of a matrix already known to exist (its size was checked on allocation). */
static size_t count_of(const tsr_matrix *m) { return (size_t)m->rows * (size_t)m->cols; }

int tsr_matrix_gemm(int trans_a, int trans_b, float alpha, const tsr_matrix *A,
                    const tsr_matrix *B, float beta, tsr_matrix *C, tsr_error *err) {
  int64_t m = trans_a ? A->cols : A->rows, k = trans_a ? A->rows : A->cols;
  int64_t kb = trans_b ? B->cols : B->rows, n = trans_b ? B->rows : B->cols;
  if (k != kb || C->rows != m || C->cols != n) {
    tsr_seterror(err, "cannot multiply a %lld x %lld matrix by a %lld x %lld matrix into a "
                 "%lld x %lld one", (long long)m, (long long)k, (long long)kb, (long long)n,
                 (long long)C->rows, (long long)C->cols);
    return TSR_EINVAL;
  }
  if (A->rows > INT_MAX || A->cols > INT_MAX || B->rows > INT_MAX || B->cols > INT_MAX) {
    tsr_seterror(err, "a matrix dimension exceeds %d, the largest BLAS accepts", INT_MAX);
    return TSR_ELIMIT;
  }
  if (m == 0 || n == 0) return TSR_OK;
  if (k == 0) { /* BLAS would be asked for leading dimensions of 0; the product is empty */
    return tsr_matrix_scale(C, beta, C);
  }
  /* Leading dimensions are the stored row counts; k > 0 and m, n > 0 make them >= 1. */
  cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, A->data,
              (int)A->rows, B->data, (int)B->rows, beta, C->data, (int)C->rows);
  return TSR_OK;
}

int tsr_matrix_transpose(const tsr_matrix *src, tsr_matrix *dst) {
  if (dst->rows != src->cols || dst->cols != src->rows) return TSR_EINVAL;
  /* Tiles keep both the reads and the writes within a few cache lines. */
  enum { TILE = 32 };
  int64_t r = src->rows, c = src->cols;
  for (int64_t j0 = 0; j0 < c; j0 += TILE) {
    int64_t j1 = j0 + TILE < c ? j0 + TILE : c;
    for (int64_t i0 = 0; i0 < r; i0 += TILE) {
      int64_t i1 = i0 + TILE < r ? i0 + TILE : r;
      for (int64_t j = j0; j < j1; j++)
        for (int64_t i = i0; i < i1; i++) dst->data[j + i * c] = src->data[i + j * r];
    }
  }
  return TSR_OK;
}

static int same_shape(const tsr_matrix *a, const tsr_matrix *b) {
  return a->rows == b->rows && a->cols == b->cols;
}

int tsr_matrix_add(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out) {
  if (!same_shape(a, b) || !same_shape(a, out)) return TSR_EINVAL;
  size_t n = count_of(a);
  for (size_t i = 0; i < n; i++) out->data[i] = a->data[i] + b->data[i];
  return TSR_OK;
}

int tsr_matrix_sub(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out) {
  if (!same_shape(a, b) || !same_shape(a, out)) return TSR_EINVAL;
  size_t n = count_of(a);
  for (size_t i = 0; i < n; i++) out->data[i] = a->data[i] - b->data[i];
  return TSR_OK;
}

int tsr_matrix_hadamard(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out) {
  if (!same_shape(a, b) || !same_shape(a, out)) return TSR_EINVAL;
  size_t n = count_of(a);
  for (size_t i = 0; i < n; i++) out->data[i] = a->data[i] * b->data[i];
  return TSR_OK;
}

int tsr_matrix_scale(const tsr_matrix *a, float s, tsr_matrix *out) {
  if (!same_shape(a, out)) return TSR_EINVAL;
  size_t n = count_of(a);
  for (size_t i = 0; i < n; i++) out->data[i] = s * a->data[i];
  return TSR_OK;
}

int tsr_matrix_divide(const tsr_matrix *a, float s, tsr_matrix *out) {
  if (!same_shape(a, out)) return TSR_EINVAL;
  size_t n = count_of(a);
  for (size_t i = 0; i < n; i++) out->data[i] = a->data[i] / s;
  return TSR_OK;
}

void tsr_matrix_fill(tsr_matrix *m, float v) {
  size_t n = count_of(m);
  for (size_t i = 0; i < n; i++) m->data[i] = v;
}

double tsr_matrix_sum(const tsr_matrix *m) {
  size_t n = count_of(m);
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += m->data[i];
  return s;
}

static int extreme(const tsr_matrix *m, float *out, int want_max) {
  size_t n = count_of(m);
  if (n == 0) return TSR_EEMPTY;
  float best = m->data[0];
  for (size_t i = 0; i < n; i++) {
    float v = m->data[i];
    if (isnan(v)) {
      *out = v;
      return TSR_OK;
    }
    if (want_max ? v > best : v < best) best = v;
  }
  *out = best;
  return TSR_OK;
}

int tsr_matrix_min(const tsr_matrix *m, float *out) { return extreme(m, out, 0); }
int tsr_matrix_max(const tsr_matrix *m, float *out) { return extreme(m, out, 1); }

int tsr_matrix_check_finite(const tsr_matrix *m, tsr_error *err) {
  int64_t i, j;
  float v;
  if (!tsr_matrix_find_nonfinite(m, &i, &j, &v)) return TSR_OK;
  /* Spelled out: printf gives "-nan" for the NaN that 0/0 makes on x86. */
  const char *name = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  tsr_seterror(err, "the matrix holds %s at row %lld, column %lld", name, (long long)i + 1,
               (long long)j + 1);
  return TSR_ENOTFINITE;
}

int tsr_matrix_find_nonfinite(const tsr_matrix *m, int64_t *row, int64_t *col, float *value) {
  return tsr_find_bad_entry(m->data, m->rows, m->cols, 0, row, col, value);
}

int tsr_find_bad_entry(const float *A, int64_t rows, int64_t cols, int negative_bad,
                       int64_t *row, int64_t *col, float *value) {
  /* A column at a time: first whether it holds a bad entry at all, in a loop without an
   * early exit that the compiler vectorises (V can be tens of MB), then where. */
  const float low = negative_bad ? 0.0f : -FLT_MAX;
  /* No entries: a 0 x 10^12 matrix (a .npy may say so) has no column worth visiting. */
  if (rows <= 0 || cols <= 0) return 0;
  for (int64_t j = 0; j < cols; j++) {
    const float *c = A + j * rows;
    int bad = 0;
    for (int64_t i = 0; i < rows; i++) bad |= !(c[i] >= low && c[i] <= FLT_MAX);
    if (!bad) continue;
    for (int64_t i = 0; i < rows; i++) {
      if (c[i] >= low && c[i] <= FLT_MAX) continue;
      *row = i;
      *col = j;
      *value = c[i];
      return 1;
    }
  }
  return 0;
}

/* v as %g, NaN spelt "nan" (printf gives "-nan" for the NaN that 0/0 makes on x86). */
static const char *number_text(double v, char buf[32]) {
  if (isnan(v)) return "nan";
  snprintf(buf, 32, "%g", v);
  return buf;
}

/* The checks of tsr_matrix_place, one placement at a time; 1-based numbers in messages. */
static int check_placement(int64_t rows, const tsr_placement *p, size_t n, tsr_error *err) {
  char b[32];
  if (p->src == NULL || p->src->cols < 1) {
    tsr_seterror(err, "placement %zu: its matrix has no frames", n);
  } else if (p->row < 0 || p->row >= p->src->rows) {
    tsr_seterror(err, "placement %zu: row must be in 1..%lld, got %lld", n,
                 (long long)p->src->rows, (long long)p->row + 1);
  } else if (p->to < 0 || p->to >= rows) {
    tsr_seterror(err, "placement %zu: to must be in 1..%lld, got %lld", n, (long long)rows,
                 (long long)p->to + 1);
  } else if (!isfinite(p->gain)) {
    tsr_seterror(err, "placement %zu: gain must be finite, got %s", n, number_text(p->gain, b));
  } else if (!(isfinite(p->stretch) && p->stretch > 0)) {
    tsr_seterror(err, "placement %zu: stretch must be a positive number, got %s", n,
                 number_text(p->stretch, b));
  } else if (!isfinite(p->shift)) {
    tsr_seterror(err, "placement %zu: shift must be finite, got %s", n, number_text(p->shift, b));
  } else if (p->loop && !(isfinite(p->period) && p->period > 0)) {
    tsr_seterror(err, "placement %zu: period must be a positive number, got %s", n,
                 number_text(p->period, b));
  } else {
    return TSR_OK;
  }
  return TSR_EINVAL;
}

/* Frame x (0 <= x <= last) of the placement's source row, linearly interpolated. */
static double placed_sample(const tsr_placement *p, double x) {
  const tsr_matrix *src = p->src;
  int64_t last = src->cols - 1;
  double i = floor(x);
  double frac = x - i;
  int64_t at = (int64_t)i;
  double v0 = src->data[p->row + at * src->rows];
  if (frac == 0) return v0;
  double v1 = at < last ? src->data[p->row + (at + 1) * src->rows]
              : p->loop ? src->data[p->row] : v0;
  return v0 + (v1 - v0) * frac;
}

/* Sets *v to what placement p adds at output frame t and returns 1, or returns 0 when it
 * adds nothing there (an unlooped row before its start or past its end). */
static int placed_value(const tsr_placement *p, int64_t t, double *v) {
  double last = (double)(p->src->cols - 1);
  double x = ((double)t - p->shift) / p->stretch;
  if (p->loop) {
    x = fmod(x, p->period); /* as Lua's float %: the result takes the period's sign */
    if (x < 0) x += p->period;
    if (x > last) x = last; /* a period longer than the frames (rounding) */
  } else if (!(x >= 0 && x <= last)) {
    return 0;
  }
  *v = p->gain * placed_sample(p, x);
  return 1;
}

int tsr_placement_check(int64_t rows, const tsr_placement *list, size_t count, tsr_error *err) {
  for (size_t n = 0; n < count; n++) {
    int st = check_placement(rows, &list[n], n + 1, err);
    if (st != TSR_OK) return st;
  }
  return TSR_OK;
}

int tsr_matrix_place(tsr_matrix *out, const tsr_placement *list, size_t count, tsr_error *err) {
  int st = tsr_placement_check(out->rows, list, count, err);
  if (st != TSR_OK) return st;
  for (int64_t j = 0; j < out->rows; j++) {
    for (int64_t t = 0; t < out->cols; t++) {
      double acc = 0.0, v;
      for (size_t n = 0; n < count; n++)
        if (list[n].to == j && placed_value(&list[n], t, &v)) acc = acc + v;
      out->data[j + t * out->rows] = (float)acc;
    }
  }
  return TSR_OK;
}

int tsr_check_entries(const float *A, int64_t rows, int64_t cols, const char *name,
                      tsr_error *err) {
  int64_t i, j;
  float x;
  if (!tsr_find_bad_entry(A, rows, cols, 1, &i, &j, &x)) return TSR_OK;
  if (isnan(x)) /* printf would say nan or -nan after the sign bit */
    tsr_seterror(err, "%s has a NaN entry (at row %lld, column %lld)", name, (long long)i + 1,
                 (long long)j + 1);
  else
    tsr_seterror(err, "%s has %s entry (%g at row %lld, column %lld)", name,
                 isinf(x) ? "an infinite" : "a negative", (double)x, (long long)i + 1,
                 (long long)j + 1);
  return isfinite(x) ? TSR_EINVAL : TSR_ENOTFINITE;
}
