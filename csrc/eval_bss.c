/* BSS Eval's source decomposition (bss_eval_sources): the least-squares projection of each
 * estimate on the references' delayed copies, with the correlations taken by FFT (double
 * precision FFTW) and the normal equations solved by LAPACK. The Gram matrix depends only on
 * the references, so it is built and factored once for every estimate, where mir_eval
 * rebuilds it for each (estimate, reference) pair; the numbers are the same. */
#include "eval.h"

#include <fftw3.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* FFTW's planner is not thread-safe; the double-precision library is only used here. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct bss_work {
  int n_ref, n_est, flen;
  int64_t len, span, nfft, bins, m; /* span = len + flen - 1, m = n_ref * flen */
  fftw_plan fwd, inv;
  double *real;       /* nfft: the FFTs' time side */
  fftw_complex *spec; /* bins: the FFTs' frequency side */
  fftw_complex *acc;  /* bins: a sum of filtered spectra */
  fftw_complex *refs; /* n_ref * bins: the references' spectra */
  double *gram;       /* m * m, column-major */
  double *blocks;     /* n_ref * flen * flen: the Gram matrix's diagonal blocks */
  double *rhs;        /* m * n_est: <delayed reference, estimate>, one column per estimate */
  double *x_all;      /* m * n_est: the filters onto all references */
  double *x_one;      /* m * n_est: the filters onto each reference alone (its rows) */
  double *proj_all, *proj_one; /* span each */
  lapack_int *pivots;          /* m */
} bss_work;

static int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

static void *take(size_t count, size_t size, size_t *total, int *failed) {
  size_t bytes;
  if (*failed || tsr_mul_size(count, size, &bytes) != 0 || bytes > SIZE_MAX - *total) {
    *failed = 1;
    return NULL;
  }
  void *p = tsr_alloc(bytes);
  if (p == NULL) *failed = 1;
  *total += bytes;
  return p;
}

static void work_free(bss_work *w) {
  pthread_mutex_lock(&plan_lock);
  if (w->fwd != NULL) fftw_destroy_plan(w->fwd);
  if (w->inv != NULL) fftw_destroy_plan(w->inv);
  pthread_mutex_unlock(&plan_lock);
  void *blocks[] = {w->real, w->spec, w->acc, w->refs, w->gram, w->blocks, w->rhs,
                    w->x_all, w->x_one, w->proj_all, w->proj_one, w->pivots};
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) tsr_free(blocks[i]);
}

/* Sizes, scratch and plans. */
static int work_init(bss_work *w, int n_est, int n_ref, int64_t len, int flen, tsr_error *err) {
  memset(w, 0, sizeof *w);
  w->n_ref = n_ref;
  w->n_est = n_est;
  w->flen = flen;
  w->len = len;
  w->span = len + flen - 1;
  w->nfft = next_pow2(w->span);
  w->bins = w->nfft / 2 + 1;
  w->m = (int64_t)n_ref * flen;
  if (w->nfft > INT_MAX || w->m > INT_MAX / 2) {
    tsr_seterror(err, "%d references of %lld samples are too many for one BSS Eval", n_ref,
                 (long long)len);
    return TSR_ELIMIT;
  }
  /* The Gram matrix dominates: say so before asking for it. */
  size_t gram_bytes, m = (size_t)w->m;
  if (tsr_mul_size(m * m, sizeof(double), &gram_bytes) != 0) gram_bytes = SIZE_MAX;
  char what[96];
  snprintf(what, sizeof what, "the %zu x %zu Gram matrix of BSS Eval", m, m);
  if (tsr_memory_check(gram_bytes, what, err) != TSR_OK) return TSR_ELIMIT;
  size_t total = 0, bins = (size_t)w->bins, cols = (size_t)n_est;
  int failed = 0;
  w->real = take((size_t)w->nfft, sizeof(double), &total, &failed);
  w->spec = take(bins, sizeof(fftw_complex), &total, &failed);
  w->acc = take(bins, sizeof(fftw_complex), &total, &failed);
  w->refs = take(bins * (size_t)n_ref, sizeof(fftw_complex), &total, &failed);
  w->gram = take(m * m, sizeof(double), &total, &failed);
  w->blocks = take((size_t)flen * (size_t)flen * (size_t)n_ref, sizeof(double), &total, &failed);
  w->rhs = take(m * cols, sizeof(double), &total, &failed);
  w->x_all = take(m * cols, sizeof(double), &total, &failed);
  w->x_one = take(m * cols, sizeof(double), &total, &failed);
  w->proj_all = take((size_t)w->span, sizeof(double), &total, &failed);
  w->proj_one = take((size_t)w->span, sizeof(double), &total, &failed);
  w->pivots = take(m, sizeof(lapack_int), &total, &failed);
  if (failed) return tsr_alloc_failure(total, "BSS Eval's scratch", err);
  /* FFTW_ESTIMATE plans without touching the arrays; tsr_alloc's alignment is FFTW's. */
  pthread_mutex_lock(&plan_lock);
  w->fwd = fftw_plan_dft_r2c_1d((int)w->nfft, w->real, w->spec, FFTW_ESTIMATE);
  w->inv = fftw_plan_dft_c2r_1d((int)w->nfft, w->acc, w->real, FFTW_ESTIMATE);
  pthread_mutex_unlock(&plan_lock);
  if (w->fwd == NULL || w->inv == NULL) {
    tsr_seterror(err, "FFTW cannot plan a %lld-point transform", (long long)w->nfft);
    return TSR_ENOMEM;
  }
  return TSR_OK;
}

/* The spectrum of x (n samples, zero-padded to nfft) into out. */
static void forward_float(bss_work *w, const float *x, int64_t n, fftw_complex *out) {
  for (int64_t t = 0; t < n; t++) w->real[t] = x[t];
  memset(w->real + n, 0, (size_t)(w->nfft - n) * sizeof(double));
  fftw_execute_dft_r2c(w->fwd, w->real, out);
}

static void forward_double(bss_work *w, const double *x, int64_t n, fftw_complex *out) {
  memcpy(w->real, x, (size_t)n * sizeof(double));
  memset(w->real + n, 0, (size_t)(w->nfft - n) * sizeof(double));
  fftw_execute_dft_r2c(w->fwd, w->real, out);
}

/* real[k] = sum_t a(t + k) b(t), circularly over nfft (linear, given the zero padding),
 * from the spectra a and b. */
static void correlate(bss_work *w, const fftw_complex *a, const fftw_complex *b) {
  const double scale = 1.0 / (double)w->nfft;
  for (int64_t k = 0; k < w->bins; k++) {
    w->acc[k][0] = (a[k][0] * b[k][0] + a[k][1] * b[k][1]) * scale;
    w->acc[k][1] = (a[k][1] * b[k][0] - a[k][0] * b[k][1]) * scale;
  }
  fftw_execute_dft_c2r(w->inv, w->acc, w->real);
}

/* G[(i,a), (j,b)] = <s_i delayed by a, s_j delayed by b> = c_ij[b - a], c_ij the
 * correlation of s_i with s_j (negative lags wrap around). Polls for interrupts. */
static int build_gram(bss_work *w, tsr_error *err) {
  const int64_t m = w->m, flen = w->flen, nfft = w->nfft;
  for (int i = 0; i < w->n_ref; i++) {
    for (int j = 0; j <= i; j++) {
      if (tsr_interrupted()) {
        tsr_seterror(err, "interrupted");
        return TSR_EIO;
      }
      correlate(w, w->refs + i * w->bins, w->refs + j * w->bins);
      for (int64_t b = 0; b < flen; b++)
        for (int64_t a = 0; a < flen; a++) {
          double c = w->real[(b - a + nfft) % nfft];
          w->gram[(i * flen + a) + (j * flen + b) * m] = c;
          w->gram[(j * flen + b) + (i * flen + a) * m] = c;
        }
    }
  }
  return TSR_OK;
}

/* rhs[(i,a), e] = <s_i delayed by a, estimate e>. */
static int build_rhs(bss_work *w, const float *const *ests, tsr_error *err) {
  const int64_t m = w->m, flen = w->flen, nfft = w->nfft;
  fftw_complex *est = w->spec; /* each estimate's spectrum, used before the next forward */
  for (int e = 0; e < w->n_est; e++) {
    if (tsr_interrupted()) {
      tsr_seterror(err, "interrupted");
      return TSR_EIO;
    }
    forward_float(w, ests[e], w->len, est);
    for (int i = 0; i < w->n_ref; i++) {
      correlate(w, w->refs + i * w->bins, est);
      for (int64_t a = 0; a < flen; a++) w->rhs[i * flen + a + e * m] = w->real[(nfft - a) % nfft];
    }
  }
  return TSR_OK;
}

/* Solves A X = B (A n x n, B n x nrhs with leading dimension ldb, both overwritten: X in B)
 * as numpy.linalg.solve does, falling back to the minimum-norm least squares solution, as
 * mir_eval does, when A is exactly singular; refill(ctx) then restores A and B first. */
static int solve(double *A, lapack_int n, double *B, lapack_int nrhs, lapack_int ldb,
                 lapack_int *pivots, void (*refill)(bss_work *, int), bss_work *w, int which,
                 tsr_error *err) {
  lapack_int info = LAPACKE_dgesv(LAPACK_COL_MAJOR, n, nrhs, A, n, pivots, B, ldb);
  if (info == 0) return TSR_OK;
  if (info < 0) {
    tsr_seterror(err, "LAPACK dgesv rejected argument %d", (int)-info);
    return TSR_EINVAL;
  }
  refill(w, which);
  double *sv = tsr_alloc((size_t)n * sizeof(double));
  if (sv == NULL) return tsr_alloc_failure((size_t)n * sizeof(double), "singular values", err);
  lapack_int rank = 0;
  info = LAPACKE_dgelsd(LAPACK_COL_MAJOR, n, n, nrhs, A, n, B, ldb, sv, -1.0, &rank);
  tsr_free(sv);
  if (info != 0) {
    tsr_seterror(err, "the least-squares projection did not converge (LAPACK dgelsd %d)",
                 (int)info);
    return TSR_EINVAL;
  }
  return TSR_OK;
}

/* Restores the system of reference `which` (-1: all of them) for a second solve. */
static void refill_system(bss_work *w, int which) {
  const int64_t m = w->m, flen = w->flen;
  if (which < 0) {
    build_gram(w, NULL); /* an interrupt here is seen at the next poll */
    memcpy(w->x_all, w->rhs, (size_t)(m * w->n_est) * sizeof(double));
    return;
  }
  memcpy(w->gram, w->blocks + (size_t)which * (size_t)(flen * flen),
         (size_t)(flen * flen) * sizeof(double));
  for (int e = 0; e < w->n_est; e++)
    memcpy(w->x_one + which * flen + e * m, w->rhs + which * flen + e * m,
           (size_t)flen * sizeof(double));
}

/* The filters: x_all from the whole Gram matrix, x_one block by block. The diagonal blocks
 * are kept before the whole matrix is factored in place; then its storage is reused. */
static int solve_filters(bss_work *w, tsr_error *err) {
  const int64_t m = w->m, flen = w->flen;
  for (int j = 0; j < w->n_ref; j++)
    for (int64_t b = 0; b < flen; b++)
      memcpy(w->blocks + (size_t)j * (size_t)(flen * flen) + b * flen,
             w->gram + (j * flen) + (j * flen + b) * m, (size_t)flen * sizeof(double));
  memcpy(w->x_all, w->rhs, (size_t)(m * w->n_est) * sizeof(double));
  memcpy(w->x_one, w->rhs, (size_t)(m * w->n_est) * sizeof(double));
  int st = solve(w->gram, (lapack_int)m, w->x_all, w->n_est, (lapack_int)m, w->pivots,
                 refill_system, w, -1, err);
  for (int j = 0; st == TSR_OK && j < w->n_ref; j++) {
    if (tsr_interrupted()) {
      tsr_seterror(err, "interrupted");
      return TSR_EIO;
    }
    memcpy(w->gram, w->blocks + (size_t)j * (size_t)(flen * flen),
           (size_t)(flen * flen) * sizeof(double));
    st = solve(w->gram, (lapack_int)flen, w->x_one + j * flen, w->n_est, (lapack_int)m,
               w->pivots, refill_system, w, j, err);
  }
  return st;
}

/* out[0..span) = sum over references i in first..last of filter x[i*flen..] applied to s_i. */
static void project(bss_work *w, const double *x, int first, int last, double *out) {
  memset(w->acc, 0, (size_t)w->bins * sizeof(fftw_complex));
  for (int i = first; i <= last; i++) {
    forward_double(w, x + (int64_t)i * w->flen, w->flen, w->spec);
    const fftw_complex *r = w->refs + i * w->bins;
    for (int64_t k = 0; k < w->bins; k++) {
      w->acc[k][0] += w->spec[k][0] * r[k][0] - w->spec[k][1] * r[k][1];
      w->acc[k][1] += w->spec[k][0] * r[k][1] + w->spec[k][1] * r[k][0];
    }
  }
  fftw_execute_dft_c2r(w->inv, w->acc, w->real);
  const double scale = 1.0 / (double)w->nfft;
  for (int64_t t = 0; t < w->span; t++) out[t] = w->real[t] * scale;
}

static double decibels(double num, double den) {
  return den == 0.0 ? INFINITY : 10.0 * log10(num / den);
}

/* The criteria of estimate e against every reference. */
static void criteria(bss_work *w, const float *est, int e, double *sdr, double *sir,
                     double *sar) {
  project(w, w->x_all + e * w->m, 0, w->n_ref - 1, w->proj_all);
  double all2 = 0.0, artif2 = 0.0;
  for (int64_t t = 0; t < w->span; t++) {
    double y = t < w->len ? est[t] : 0.0, p = w->proj_all[t];
    all2 += p * p;
    artif2 += (y - p) * (y - p);
  }
  for (int j = 0; j < w->n_ref; j++) {
    project(w, w->x_one + e * w->m, j, j, w->proj_one);
    double filt2 = 0.0, interf2 = 0.0, dist2 = 0.0;
    for (int64_t t = 0; t < w->span; t++) {
      double y = t < w->len ? est[t] : 0.0, p = w->proj_one[t];
      filt2 += p * p;
      interf2 += (w->proj_all[t] - p) * (w->proj_all[t] - p);
      dist2 += (y - p) * (y - p);
    }
    sdr[e * w->n_ref + j] = decibels(filt2, dist2);
    sir[e * w->n_ref + j] = decibels(filt2, interf2);
    sar[e * w->n_ref + j] = decibels(all2, artif2);
  }
}

int tsr_bss_eval(const float *const *ests, int n_est, const float *const *refs, int n_ref,
                 int64_t len, int flen, double *sdr, double *sir, double *sar, tsr_error *err) {
  if (n_est < 1 || n_ref < 1 || len < 1 || flen < 1) {
    tsr_seterror(err, "BSS Eval needs estimates, references, samples and a filter (got %d, "
                 "%d, %lld, %d)", n_est, n_ref, (long long)len, flen);
    return TSR_EINVAL;
  }
  if (len > INT64_MAX / 4) {
    tsr_seterror(err, "%lld samples are too many for BSS Eval", (long long)len);
    return TSR_ELIMIT;
  }
  bss_work w;
  int st = work_init(&w, n_est, n_ref, len, flen, err);
  for (int i = 0; st == TSR_OK && i < n_ref; i++)
    forward_float(&w, refs[i], len, w.refs + i * w.bins);
  if (st == TSR_OK) st = build_gram(&w, err);
  if (st == TSR_OK) st = build_rhs(&w, ests, err);
  if (st == TSR_OK) st = solve_filters(&w, err);
  for (int e = 0; st == TSR_OK && e < n_est; e++) {
    if (tsr_interrupted()) {
      tsr_seterror(err, "interrupted");
      st = TSR_EIO;
      break;
    }
    criteria(&w, ests[e], e, sdr, sir, sar);
  }
  work_free(&w);
  return st;
}
