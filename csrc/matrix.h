/* Dense float32 matrices, column-major (element (i, j) at data[i + j*rows]), so BLAS takes
 * them as they are. The struct is plain data: whoever allocates `data` frees it. */
#ifndef TSR_MATRIX_H
#define TSR_MATRIX_H

#include "tessera.h"

typedef struct tsr_matrix {
  int64_t rows, cols;
  float *data;
} tsr_matrix;

/* The kernels below never allocate unless they say so, and take 0-based indices. Every
 * matrix they are given is contiguous (a column of a matrix is one too), so element
 * (i, j) is always data[i + j*rows]. Matrices with 0 rows or 0 columns are valid. */

/* The number of elements and of bytes of a rows x cols matrix. Returns TSR_OK, or
 * TSR_EINVAL when a size is negative or the byte count overflows size_t. Either output
 * pointer may be NULL. */
int tsr_matrix_size(int64_t rows, int64_t cols, size_t *count, size_t *bytes);

/* Allocates m->data for a zero-filled rows x cols matrix (tsr_calloc) and sets the shape.
 * Returns TSR_OK, TSR_EINVAL (negative or overflowing size), TSR_ELIMIT (over the memory
 * cap) or TSR_ENOMEM, with details in err; on failure *m is {0, 0, NULL}. The caller owns
 * m->data and frees it with tsr_matrix_release. */
int tsr_matrix_alloc(tsr_matrix *m, int64_t rows, int64_t cols, tsr_error *err);

/* Frees m->data (tsr_free) and resets *m to {0, 0, NULL}; m == NULL is a no-op. */
void tsr_matrix_release(tsr_matrix *m);

/* C = alpha * op(A) * op(B) + beta * C through cblas_sgemm, op(X) being X or its transpose
 * when trans_x is nonzero. C must already have op(A)'s rows and op(B)'s columns and must
 * not overlap A or B. Returns TSR_OK, TSR_EINVAL when the shapes do not match (err names
 * them) or TSR_ELIMIT when a dimension exceeds BLAS's int. */
int tsr_matrix_gemm(int trans_a, int trans_b, float alpha, const tsr_matrix *A,
                    const tsr_matrix *B, float beta, tsr_matrix *C, tsr_error *err);

/* dst = src transposed; dst must be src->cols x src->rows and must not overlap src.
 * Returns TSR_OK or TSR_EINVAL (wrong shape). */
int tsr_matrix_transpose(const tsr_matrix *src, tsr_matrix *dst);

/* Element-wise out = a + b, a - b, a .* b over same-shaped matrices; out may be a or b.
 * Return TSR_OK or TSR_EINVAL when the shapes differ. */
int tsr_matrix_add(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out);
int tsr_matrix_sub(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out);
int tsr_matrix_hadamard(const tsr_matrix *a, const tsr_matrix *b, tsr_matrix *out);

/* out = s * a, same shape; out may be a. Returns TSR_OK or TSR_EINVAL. */
int tsr_matrix_scale(const tsr_matrix *a, float s, tsr_matrix *out);

/* out = a / s element by element (float division, so s = 0 gives Inf or NaN as IEEE
 * says), same shape; out may be a. Returns TSR_OK or TSR_EINVAL. */
int tsr_matrix_divide(const tsr_matrix *a, float s, tsr_matrix *out);

/* Sets every element to v. */
void tsr_matrix_fill(tsr_matrix *m, float v);

/* The sum of all elements, accumulated in double (0 for an empty matrix). */
double tsr_matrix_sum(const tsr_matrix *m);

/* The smallest / largest element into *out. NaN wins: any NaN makes the result NaN.
 * Returns TSR_OK, or TSR_EEMPTY for a matrix with no elements. */
int tsr_matrix_min(const tsr_matrix *m, float *out);
int tsr_matrix_max(const tsr_matrix *m, float *out);

/* TSR_OK when every element is finite; otherwise TSR_ENOTFINITE and err reads "the matrix
 * holds nan at row 3, column 1" (the first in column order, 1-based, nan/inf/-inf). */
int tsr_matrix_check_finite(const tsr_matrix *m, tsr_error *err);

/* Looks for the first NaN or Inf in storage (column-major) order. Returns 1 and sets
 * *row, *col (0-based) and *value when there is one, 0 when every element is finite. */
int tsr_matrix_find_nonfinite(const tsr_matrix *m, int64_t *row, int64_t *col, float *value);

/* One activation row put in place: row `row` of src scaled by gain, stretched in time by
 * stretch (2 plays it at half speed), delayed by shift frames and, when loop is nonzero,
 * repeated every period frames, to be added into row `to` of a placement's output.
 * Indices are 0-based; src is borrowed. */
typedef struct tsr_placement {
  const tsr_matrix *src;
  int64_t row, to;
  double gain, stretch, shift, period;
  int loop;
} tsr_placement;

/* out (rows x frames, allocated by the caller) = the sum of the count placements. Output
 * frame t reads source frame x = (t - shift) / stretch, looped: x modulo period, at most
 * the last frame; linearly interpolated between frames floor(x) and floor(x) + 1 (a looped
 * row wraps to frame 0 after its last, another holds its last). Without loop, frames that
 * fall outside 0..last add nothing. Each element sums its placements in list order in
 * double and is rounded to float once. Returns TSR_OK, or TSR_EINVAL with err naming the
 * placement (1-based) and the value: a row outside src or a target outside out, a source
 * without frames, gain or shift not finite, stretch or period not a positive finite number;
 * out is then left unchanged. */
int tsr_matrix_place(tsr_matrix *out, const tsr_placement *list, size_t count, tsr_error *err);

/* The checks of tsr_matrix_place alone, for an output of `rows` rows, so that a caller can
 * check before it allocates. Returns TSR_OK or TSR_EINVAL as tsr_matrix_place does. */
int tsr_placement_check(int64_t rows, const tsr_placement *list, size_t count, tsr_error *err);

/* The one search for a bad entry of A (rows x cols, column-major): the first NaN or
 * infinite one, or with negative_bad also the first negative one, in storage order.
 * Returns 1 and sets *row, *col (0-based) and *value when there is one, else 0. Every
 * check of entries (the factorisations', the savers', tsr_matrix_find_nonfinite) is this. */
int tsr_find_bad_entry(const float *A, int64_t rows, int64_t cols, int negative_bad,
                       int64_t *row, int64_t *col, float *value);

/* Checks that A (rows x cols) is finite and non-negative, as a factorisation needs its
 * inputs. Returns TSR_OK, or TSR_EINVAL (negative) / TSR_ENOTFINITE (NaN, Inf) with
 * "<name> has a negative entry (-0.25 at row 3, column 17)", "... a NaN entry (at row 2,
 * column 5)" or "... an infinite entry (inf at row 1, column 1)" in err (1-based). */
int tsr_check_entries(const float *A, int64_t rows, int64_t cols, const char *name,
                      tsr_error *err);

#endif
