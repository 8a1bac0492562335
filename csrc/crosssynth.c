/* Cross-synthesis ("Let it Bee"): the constrained KL fit of a target's magnitude on a
 * source's own frames, and the complex synthesis (see crosssynth.h for the algorithm).
 * The two products per iteration (W·C and W^T·Q, with M in the hundreds) go through
 * OpenBLAS's sgemm; the constraints are plain loops over H, column by column, since H is
 * column-major. */
#include "crosssynth.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* The guard the NMF kernels use (scikit-learn's): a product W·C below FLT_MIN counts as
 * FLT_EPSILON in V / (W·C), so the ratio stays finite. */
#define GUARD FLT_EPSILON

int tsr_crosssynth_check(const tsr_crosssynth_params *prm, tsr_error *err) {
  if (prm == NULL) {
    tsr_seterror(err, "no parameters given");
    return TSR_EINVAL;
  }
  if (prm->iter < 0) {
    tsr_seterror(err, "iter must be >= 0, got %d", prm->iter);
    return TSR_EINVAL;
  }
  if (prm->r < 0) {
    tsr_seterror(err, "r must be >= 0, got %d", prm->r);
    return TSR_EINVAL;
  }
  if (prm->p < 1) {
    tsr_seterror(err, "p must be >= 1, got %d", prm->p);
    return TSR_EINVAL;
  }
  if (prm->c < 0) {
    tsr_seterror(err, "c must be >= 0, got %d", prm->c);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* ---- the constraints --------------------------------------------------------------- */

/* Scratch for one round of constraints on an M x N matrix. */
typedef struct scratch {
  float *a;            /* M x N: the matrix after repetition and polyphony */
  unsigned char *keep; /* M flags: which entries of a column survive undamped */
  float *heap;         /* min(p, M) floats: the p largest of a column */
} scratch;

static void scratch_free(scratch *s) {
  tsr_free(s->a);
  tsr_free(s->keep);
  tsr_free(s->heap);
  memset(s, 0, sizeof *s);
}

static int scratch_alloc(scratch *s, int64_t M, int64_t N, int p, tsr_error *err) {
  memset(s, 0, sizeof *s);
  size_t count;
  if (tsr_matrix_size(M, N, &count, NULL) != TSR_OK) {
    tsr_seterror(err, "a %lld x %lld activation matrix is too large", (long long)M,
                 (long long)N);
    return TSR_ELIMIT;
  }
  size_t heap = (int64_t)p < M ? (size_t)p : (size_t)M;
  s->a = tsr_alloc((count ? count : 1) * sizeof(float));
  s->keep = tsr_alloc(M ? (size_t)M : 1);
  s->heap = tsr_alloc((heap ? heap : 1) * sizeof(float));
  if (s->a == NULL || s->keep == NULL || s->heap == NULL) {
    scratch_free(s);
    char size[32];
    tsr_format_bytes(count * sizeof(float), size, sizeof size);
    tsr_seterror(err, "cannot allocate %s of scratch for a %lld x %lld activation matrix", size,
                 (long long)M, (long long)N);
    return TSR_ENOMEM;
  }
  return TSR_OK;
}

/* Repetition restriction from H into a: an entry keeps its value when it is the largest
 * of its row within r frames on either side (the earliest of equal maxima), else it is
 * multiplied by d. */
static void repetition(const float *h, float *a, unsigned char *keep, int64_t M, int64_t N,
                       int64_t r, float d) {
  for (int64_t t = 0; t < N; t++) {
    const float *x = h + t * M;
    float *y = a + t * M;
    memset(keep, 1, (size_t)M);
    int64_t lo = t - r < 0 ? 0 : t - r, hi = t + r >= N ? N - 1 : t + r;
    for (int64_t j = lo; j <= hi; j++) {
      const float *o = h + j * M;
      if (j < t) {
        for (int64_t m = 0; m < M; m++) keep[m] &= (unsigned char)(o[m] < x[m]);
      } else if (j > t) {
        for (int64_t m = 0; m < M; m++) keep[m] &= (unsigned char)(o[m] <= x[m]);
      }
    }
    for (int64_t m = 0; m < M; m++) y[m] = keep[m] ? x[m] : d * x[m];
  }
}

static void sift_down(float *heap, int64_t size, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, smallest = i;
    if (l < size && heap[l] < heap[smallest]) smallest = l;
    if (l + 1 < size && heap[l + 1] < heap[smallest]) smallest = l + 1;
    if (smallest == i) return;
    float tmp = heap[i];
    heap[i] = heap[smallest];
    heap[smallest] = tmp;
    i = smallest;
  }
}

/* Polyphony restriction of a, in place: in each column the p largest entries (the lower
 * rows first among equals) keep their values, the others are multiplied by d. A min-heap
 * of the p largest gives the threshold in O(M log p). */
static void polyphony(float *a, float *heap, int64_t M, int64_t N, int64_t p, float d) {
  if (p >= M) return;
  for (int64_t t = 0; t < N; t++) {
    float *x = a + t * M;
    memcpy(heap, x, (size_t)p * sizeof(float));
    for (int64_t i = p / 2 - 1; i >= 0; i--) sift_down(heap, p, i);
    for (int64_t m = p; m < M; m++)
      if (x[m] > heap[0]) {
        heap[0] = x[m];
        sift_down(heap, p, 0);
      }
    const float threshold = heap[0];
    int64_t above = 0;
    for (int64_t m = 0; m < M; m++) above += x[m] > threshold;
    int64_t equal_kept = p - above; /* how many entries equal to the threshold stay */
    for (int64_t m = 0; m < M; m++) {
      if (x[m] > threshold) continue;
      if (x[m] == threshold && equal_kept > 0) {
        equal_kept--;
        continue;
      }
      x[m] *= d;
    }
  }
}

/* Continuity enhancement from a into H: each entry the sum of a over the diagonal
 * (m+i, t+i), i in -c..c, within the matrix. */
static void continuity(const float *a, float *h, int64_t M, int64_t N, int64_t c) {
  if (c == 0) {
    memcpy(h, a, (size_t)M * (size_t)N * sizeof(float));
    return;
  }
  for (int64_t t = 0; t < N; t++) {
    float *y = h + t * M;
    memset(y, 0, (size_t)M * sizeof(float));
    for (int64_t i = -c; i <= c; i++) {
      int64_t j = t + i;
      if (j < 0 || j >= N) continue;
      const float *o = a + j * M;
      /* y[m] += o[m + i] for 0 <= m + i < M */
      int64_t lo = i < 0 ? -i : 0, hi = i > 0 ? M - i : M;
      for (int64_t m = lo; m < hi; m++) y[m] += o[m + i];
    }
  }
}

static void constrain(float *h, scratch *s, int64_t M, int64_t N,
                      const tsr_crosssynth_params *prm, float d) {
  repetition(h, s->a, s->keep, M, N, prm->r, d);
  polyphony(s->a, s->heap, M, N, prm->p, d);
  continuity(s->a, h, M, N, prm->c);
}

int tsr_crosssynth_constrain(tsr_matrix *H, const tsr_crosssynth_params *prm, float damping,
                             tsr_error *err) {
  int st = tsr_crosssynth_check(prm, err);
  if (st != TSR_OK) return st;
  if (!(damping >= 0.0f && damping <= 1.0f)) {
    tsr_seterror(err, "damping must be in [0, 1], got %g", (double)damping);
    return TSR_EINVAL;
  }
  if (H == NULL || H->rows < 0 || H->cols < 0 || (H->data == NULL && H->rows * H->cols > 0)) {
    tsr_seterror(err, "no activation matrix given");
    return TSR_EINVAL;
  }
  if (H->rows == 0 || H->cols == 0) return TSR_OK;
  scratch s;
  st = scratch_alloc(&s, H->rows, H->cols, prm->p, err);
  if (st != TSR_OK) return st;
  constrain(H->data, &s, H->rows, H->cols, prm, damping);
  scratch_free(&s);
  return TSR_OK;
}

/* ---- the fit ----------------------------------------------------------------------- */

/* splitmix64: a small, well-mixed generator, so the same seed gives the same start on
 * every platform. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* D(V | Y) = sum V log(V / Y) - V + Y, with Y guarded as in the update. */
static double kl_divergence(const float *v, const float *y, size_t count) {
  double sum = 0.0;
  for (size_t k = 0; k < count; k++) {
    double yk = y[k] < FLT_MIN ? (double)GUARD : (double)y[k];
    double vk = v[k];
    sum += vk > 0.0 ? vk * log(vk / yk) - vk + yk : yk;
  }
  return sum;
}

int tsr_crosssynth_fit(const tsr_matrix *W, const tsr_matrix *V,
                       const tsr_crosssynth_params *prm, tsr_matrix *H, double *divergence,
                       tsr_error *err) {
  int st = tsr_crosssynth_check(prm, err);
  if (st != TSR_OK) return st;
  if (W == NULL || V == NULL || H == NULL) {
    tsr_seterror(err, "W, V and H must be given");
    return TSR_EINVAL;
  }
  const int64_t n = W->rows, M = W->cols, N = V->cols;
  if (V->rows != n) {
    tsr_seterror(err, "W has %lld rows but V has %lld (the source and the target must have "
                 "the same frequency bins)", (long long)n, (long long)V->rows);
    return TSR_EINVAL;
  }
  if (H->rows != M || H->cols != N) {
    tsr_seterror(err, "H is %lld x %lld but must be %lld x %lld (source frames x target frames)",
                 (long long)H->rows, (long long)H->cols, (long long)M, (long long)N);
    return TSR_EINVAL;
  }
  if (n == 0 || M == 0) {
    tsr_seterror(err, "the source has no %s", n == 0 ? "frequency bins" : "frames");
    return TSR_EEMPTY;
  }
  if (n > INT_MAX || M > INT_MAX || N > INT_MAX) {
    tsr_seterror(err, "a %lld x %lld by %lld x %lld product exceeds BLAS's int", (long long)n,
                 (long long)M, (long long)n, (long long)N);
    return TSR_ELIMIT;
  }
  if ((st = tsr_check_entries(W->data, W->rows, W->cols, "W", err)) != TSR_OK) return st;
  if ((st = tsr_check_entries(V->data, V->rows, V->cols, "V", err)) != TSR_OK) return st;
  if (N == 0) {
    if (divergence) *divergence = 0.0;
    return TSR_OK;
  }

  /* Scratch: the constraints', W·C (then the ratio) n x N, W^T·Q M x N, W's column sums. */
  scratch s;
  st = scratch_alloc(&s, M, N, prm->p, err);
  if (st != TSR_OK) return st;
  tsr_matrix Y = {0, 0, NULL}, G = {0, 0, NULL};
  float *colsum = tsr_alloc((size_t)M * sizeof(float));
  if (colsum == NULL) {
    scratch_free(&s);
    tsr_seterror(err, "cannot allocate the column sums of a %lld x %lld W", (long long)n,
                 (long long)M);
    return TSR_ENOMEM;
  }
  if ((st = tsr_matrix_alloc(&Y, n, N, err)) != TSR_OK ||
      (st = tsr_matrix_alloc(&G, M, N, err)) != TSR_OK)
    goto done;

  for (int64_t m = 0; m < M; m++) {
    double sum = 0.0;
    for (int64_t f = 0; f < n; f++) sum += W->data[f + m * n];
    colsum[m] = (float)sum;
  }
  uint64_t state = prm->seed;
  const size_t hcount = (size_t)M * (size_t)N, ycount = (size_t)n * (size_t)N;
  for (size_t k = 0; k < hcount; k++)
    H->data[k] = (float)((next_random(&state) >> 40) + 1) * (1.0f / 16777216.0f);

  for (int l = 0; l < prm->iter; l++) {
    const float d = (float)(1.0 - (double)(l + 1) / (double)prm->iter);
    constrain(H->data, &s, M, N, prm, d);
    if ((st = tsr_matrix_gemm(0, 0, 1.0f, W, H, 0.0f, &Y, err)) != TSR_OK) goto done;
    for (size_t k = 0; k < ycount; k++) {
      float y = Y.data[k] < FLT_MIN ? GUARD : Y.data[k];
      Y.data[k] = V->data[k] / y;
    }
    if ((st = tsr_matrix_gemm(1, 0, 1.0f, W, &Y, 0.0f, &G, err)) != TSR_OK) goto done;
    for (int64_t t = 0; t < N; t++) {
      float *h = H->data + t * M;
      const float *g = G.data + t * M;
      /* A silent source frame (column sum 0) can explain nothing: its activation is 0. */
      for (int64_t m = 0; m < M; m++) h[m] = colsum[m] > 0.0f ? h[m] * (g[m] / colsum[m]) : 0.0f;
    }
  }
  if (divergence) {
    if ((st = tsr_matrix_gemm(0, 0, 1.0f, W, H, 0.0f, &Y, err)) != TSR_OK) goto done;
    *divergence = kl_divergence(V->data, Y.data, ycount);
  }
  st = TSR_OK;
done:
  tsr_matrix_release(&Y);
  tsr_matrix_release(&G);
  tsr_free(colsum);
  scratch_free(&s);
  return st;
}

/* ---- the synthesis ----------------------------------------------------------------- */

int tsr_crosssynth_apply(const tsr_spectrogram *S, const tsr_matrix *H, tsr_spectrogram *out,
                         tsr_error *err) {
  if (S == NULL || H == NULL || out == NULL) {
    tsr_seterror(err, "S, H and out must be given");
    return TSR_EINVAL;
  }
  if (H->rows != S->frames) {
    tsr_seterror(err, "H has %lld rows but the source has %lld frames", (long long)H->rows,
                 (long long)S->frames);
    return TSR_EINVAL;
  }
  if (out->bins != S->bins || out->frames != H->cols) {
    tsr_seterror(err, "the output is %lld x %lld but must be %lld x %lld", (long long)out->bins,
                 (long long)out->frames, (long long)S->bins, (long long)H->cols);
    return TSR_EINVAL;
  }
  const int64_t rows = 2 * S->bins, M = S->frames, N = H->cols;
  if (rows == 0 || N == 0) return TSR_OK;
  if (rows > INT_MAX || M > INT_MAX || N > INT_MAX) {
    tsr_seterror(err, "a %lld x %lld by %lld x %lld product exceeds BLAS's int",
                 (long long)S->bins, (long long)M, (long long)M, (long long)N);
    return TSR_ELIMIT;
  }
  if (M == 0) {
    memset(out->data, 0, (size_t)rows * (size_t)N * sizeof(float));
    return TSR_OK;
  }
  /* Interleaved (re, im) columns are real columns of 2 * bins floats: one real product
   * combines both parts, since H is real. */
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)N, (int)M, 1.0f,
              S->data, (int)rows, H->data, (int)M, 0.0f, out->data, (int)rows);
  return TSR_OK;
}
