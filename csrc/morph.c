/* Displacement interpolation between spectra (see morph.h). */
#include "morph.h"

#include <string.h>

static double mass_of(const float *x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}

/* Adds mass m spread evenly over positions [x0, x1) to the bins of out (bin i covers
 * [i, i + 1)); an interval too narrow to split goes to the bin of x0. */
static void deposit(double *out, int64_t n, double x0, double x1, double m) {
  const double width = x1 - x0;
  int64_t i = (int64_t)x0;
  if (i > n - 1) i = n - 1;
  if (!(width > 1e-12)) {
    out[i] += m;
    return;
  }
  const double density = m / width;
  for (double from = x0; from < x1 && i < n; i++) {
    const double to = (double)(i + 1) < x1 ? (double)(i + 1) : x1;
    out[i] += density * (to - from);
    from = to;
  }
}

/* The next bin at or after i with mass, or n. */
static int64_t next_bin(const float *x, int64_t n, int64_t i) {
  while (i < n && !(x[i] > 0.0f)) i++;
  return i;
}

/* A piece of unit mass m lying on [a0, a1) in a and on [b0, b1) in b. */
typedef struct piece {
  double a0, a1, b0, b1, m;
} piece;

/* The pieces of the transport from a (mass ma > 0) to b (mass mb > 0), in order: the two
 * quantile functions walked together, each piece lying in one bin of a and one of b. At
 * most nnz(a) + nnz(b) pieces; returns how many. These do not depend on the position t, so
 * a layer computes them once per template pair. */
static int64_t pieces_of(const float *a, double ma, const float *b, double mb, int64_t n,
                         piece *out) {
  int64_t i = next_bin(a, n, 0), j = next_bin(b, n, 0), count = 0;
  double used_a = 0.0, used_b = 0.0; /* unit mass already taken from bins i and j */
  while (i < n && j < n) {
    const double da = a[i] / ma, db = b[j] / mb;
    const double left_a = da - used_a, left_b = db - used_b;
    const double m = left_a < left_b ? left_a : left_b;
    out[count++] = (piece){(double)i + used_a / da, (double)i + (used_a + m) / da,
                           (double)j + used_b / db, (double)j + (used_b + m) / db, m};
    used_a += m;
    used_b += m;
    /* A bin is used up when what is left of it is rounding. */
    if (da - used_a <= 1e-15 * (da > 1.0 ? da : 1.0)) {
      i = next_bin(a, n, i + 1);
      used_a = 0.0;
    }
    if (db - used_b <= 1e-15 * (db > 1.0 ? db : 1.0)) {
      j = next_bin(b, n, j + 1);
      used_b = 0.0;
    }
  }
  return count;
}

/* The pieces of a morph between a and b, and the masses; a spectrum with no mass takes the
 * other's shape (its pieces moving nowhere). */
static int64_t prepare(const float *a, const float *b, int64_t n, piece *pieces, double *ma,
                       double *mb) {
  *ma = mass_of(a, n);
  *mb = mass_of(b, n);
  if (*ma > 0.0 && *mb > 0.0) return pieces_of(a, *ma, b, *mb, n, pieces);
  if (*ma > 0.0) return pieces_of(a, *ma, a, *ma, n, pieces);
  if (*mb > 0.0) return pieces_of(b, *mb, b, *mb, n, pieces);
  return 0;
}

/* acc (n doubles) += the pieces at position t, times scale: each piece's mass lands evenly
 * on the straight-line interpolation of its two intervals. */
static void place_pieces(const piece *pieces, int64_t count, double t, double scale, int64_t n,
                         double *acc) {
  for (int64_t q = 0; q < count; q++) {
    const piece *pc = &pieces[q];
    deposit(acc, n, pc->a0 + t * (pc->b0 - pc->a0), pc->a1 + t * (pc->b1 - pc->a1), pc->m * scale);
  }
}

int tsr_morph_layer(const float *A, const float *B, int64_t n, int64_t k, const float *H,
                    int64_t frames, const double *t, float *out, tsr_error *err) {
  /* Every pair's pieces (at most 2 n each), once; then each frame places them where its t
   * says, in a column of doubles. Then each pair's two masses and its count of pieces. */
  const size_t cols = (size_t)(n > 0 ? n : 1), pairs = (size_t)(k > 0 ? k : 1);
  size_t piece_count, bytes;
  if (tsr_mul_size(2 * cols, pairs, &piece_count) != 0 ||
      tsr_mul_size(piece_count, sizeof(piece), &bytes) != 0 ||
      (bytes += cols * sizeof(double) + pairs * (2 * sizeof(double) + sizeof(int64_t))) <
        cols * sizeof(double))
    return tsr_alloc_failure(SIZE_MAX, "a morph's templates", err);
  piece *pieces = tsr_alloc(bytes);
  if (pieces == NULL) return tsr_alloc_failure(bytes, "a morph's templates", err);
  double *acc = (double *)(pieces + piece_count);
  double *mass = acc + n; /* k pairs of masses */
  int64_t *count = (int64_t *)(mass + 2 * k);
  for (int64_t c = 0; c < k; c++)
    count[c] = prepare(A + c * n, B + c * n, n, pieces + 2 * n * c, &mass[2 * c], &mass[2 * c + 1]);
  for (int64_t j = 0; j < frames; j++) {
    memset(acc, 0, (size_t)n * sizeof(double));
    for (int64_t c = 0; c < k; c++) {
      const float h = H[j * k + c];
      if (h == 0.0f) continue;
      const double total = (1.0 - t[j]) * mass[2 * c] + t[j] * mass[2 * c + 1];
      place_pieces(pieces + 2 * n * c, count[c], t[j], h * total, n, acc);
    }
    float *y = out + j * n;
    for (int64_t i = 0; i < n; i++) y[i] = (float)acc[i];
  }
  tsr_free(pieces);
  return TSR_OK;
}

int tsr_morph_spectrum(const float *a, const float *b, int64_t n, double t, float *out,
                       tsr_error *err) {
  const float one = 1.0f; /* a layer of one template, one frame, at full level */
  return tsr_morph_layer(a, b, n, 1, &one, 1, &t, out, err);
}
