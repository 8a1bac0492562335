/* The NMF initialisations: scikit-learn's random start and its NNDSVD family (from V's exact
 * truncated SVD by randomised subspace iteration), and the study's uniform start, all drawn
 * from xoshiro256** so a seed gives the same start on every platform. */
#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Initialisation. The generator is xoshiro256** seeded through splitmix64; normals come
 * from Box-Muller in double, both values of a pair used. */

typedef struct rng {
  uint64_t s[4];
  int has_spare;
  double spare;
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void rng_seed(rng *g, uint64_t seed) {
  for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&seed);
  g->has_spare = 0;
  g->spare = 0.0;
}

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rng_next(rng *g) {
  uint64_t *s = g->s;
  uint64_t out = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return out;
}

/* Uniform on [0, 1) with 24 random bits: every value a float exactly. */
static float rng_uniform(rng *g) { return (float)(rng_next(g) >> 40) * 0x1.0p-24f; }

static double rng_normal(rng *g) {
  if (g->has_spare) {
    g->has_spare = 0;
    return g->spare;
  }
  double u1 = (double)((rng_next(g) >> 11) + 1) * 0x1.0p-53; /* (0, 1]: log is finite */
  double u2 = (double)(rng_next(g) >> 11) * 0x1.0p-53;
  double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
  g->spare = r * sin(a);
  g->has_spare = 1;
  return r * cos(a);
}

static double mean_of(const float *V, int64_t n, int64_t p) {
  double s = 0.0;
  for (int64_t j = 0; j < p; j++) {
    double c = 0.0;
    for (int64_t i = 0; i < n; i++) c += V[i + j * n];
    s += c;
  }
  return s / ((double)n * (double)p);
}

/* Orthonormalises the columns of A (rows x cols, rows >= cols) in place by Householder
 * QR; with R non-NULL the cols x cols triangular factor is copied there first. */
static int orthonormalise(double *A, int64_t rows, int cols, double *tau, double *R) {
  if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)rows, cols, A, (lapack_int)rows, tau) != 0)
    return -1;
  if (R != NULL)
    for (int j = 0; j < cols; j++)
      for (int i = 0; i < cols; i++) R[i + j * cols] = i <= j ? A[i + j * rows] : 0.0;
  return LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)rows, cols, cols, A, (lapack_int)rows, tau) == 0
             ? 0 : -1;
}

/* Y = scale V (V' Q), Q and Y n x l (leading dimension ld): one pass over V where AVX-512
 * is, else two sgemm calls through T (p x l). z: 4 * l floats. scale keeps Y near V's own
 * magnitude: V V' squares it, which overflows float from entries of about 1e19 on. */
static void gram_apply(const float *V, int64_t n, int64_t p, int l, const float *Q, int64_t ld,
                       float scale, float *Y, float *T, float *z) {
  const nmf_mu_kernels *kr = tsr_nmf_mu_kernels();
  if (kr->gram_apply) {
    (void)T;
    kr->gram_apply(V, n, p, l, Q, ld, scale, Y, z);
    return;
  }
  (void)z;
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, l, (int)n, scale, V, (int)n, Q,
              (int)ld, 0.0f, T, (int)p);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, l, (int)p, 1.0f, V, (int)n, T,
              (int)p, 0.0f, Y, (int)ld);
}

/* Between Q (n x l, leading dimension n, double) and its float copy on leading dimension ld. */
static void q_to_float(const double *Q, int64_t n, int l, float *Qf, int64_t ld) {
  for (int a = 0; a < l; a++)
    for (int64_t i = 0; i < n; i++) Qf[i + a * ld] = (float)Q[i + a * n];
}

/* Q (double, leading dimension n) from Qf (float, leading dimension ld); nonzero when an
 * entry is not finite (LAPACK's SVD can loop forever on an infinity). */
static int q_to_double(const float *Qf, int64_t ld, int64_t n, int l, double *Q) {
  int bad = 0;
  for (int a = 0; a < l; a++)
    for (int64_t i = 0; i < n; i++) {
      Q[i + a * n] = Qf[i + a * ld];
      bad |= !isfinite(Qf[i + a * ld]);
    }
  return bad;
}

/* The leading k singular triplets of V (n x p): U (n x k), S (k), Vt (k x p), in double.
 * Subspace iteration on l = min(k + 10, n, p) vectors, Q <- orth(V V' Q) (the products in
 * float, the rest in double), stopped when the leading k left Ritz vectors no longer move
 * (the part of each outside the previous span below 1e-12, or stuck at the float
 * products' rounding floor), then a Rayleigh-Ritz step as in scikit-learn's
 * randomized_svd, but run to convergence so the result is the exact truncated SVD to float
 * precision. */
static int svd_top(const float *V, int64_t n, int64_t p, int k, double *U, double *S,
                   double *Vt, tsr_error *err) {
  int64_t mn = n < p ? n : p;
  int l = (int)(k + 10 < mn ? k + 10 : mn);
  int64_t ld = ((n + 15) & ~(int64_t)15) + 32; /* gram_apply's Q and Y: see there */
  size_t big = (size_t)(n > p ? n : p) * (size_t)l;
  size_t bigf = (size_t)(ld > p ? ld : p) * (size_t)l;
  size_t nd = 2 * big + (size_t)l * p + 3 * (size_t)l * l + 2 * (size_t)l + 3 * (size_t)n * k +
              (size_t)k * k;
  size_t nf = 3 * bigf + 4 * (size_t)l;
  double *d = tsr_alloc(nd * sizeof *d);
  float *f = tsr_alloc(nf * sizeof *f);
  if (d == NULL || f == NULL) {
    tsr_free(d);
    tsr_free(f);
    return tsr_alloc_failure(nd * sizeof *d + nf * sizeof *f, "the truncated SVD", err);
  }
  double *Q = d, *Z = Q + big, *B = Z + big, *R = B + (size_t)l * p, *RU = R + (size_t)l * l,
         *RVt = RU + (size_t)l * l, *sv = RVt + (size_t)l * l, *tau = sv + l,
         *Uk = tau + l, *Uprev = Uk + (size_t)n * k, *Ub = Uprev + (size_t)n * k,
         *M = Ub + (size_t)n * k;
  float *Yf = f, *Zf = f + bigf, *Tf = Zf + bigf, *z = Tf + bigf;
  int status = TSR_OK;
  float vmax = 0.0f;
  for (size_t i = 0; i < (size_t)n * (size_t)p; i++) {
    if (!isfinite(V[i])) goto not_finite;
    vmax = fmaxf(vmax, fabsf(V[i]));
  }
  /* scale * |V V' Q| <= |V| for orthonormal Q; capped where V is so small that 1/vmax
   * itself would overflow. */
  float scale = vmax > 0.0f ? (float)fmin(1.0 / ((double)vmax * sqrt((double)n * (double)p)),
                                          1e30)
                            : 1.0f;
  rng g;
  rng_seed(&g, 0x6e6e647376640000u); /* fixed: the SVD does not depend on the fit's seed */
  for (size_t i = 0; i < (size_t)p * l; i++) Zf[i] = (float)rng_normal(&g);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, l, (int)p, scale, V, (int)n, Zf,
              (int)p, 0.0f, Yf, (int)n);
  if (q_to_double(Yf, n, n, l, Q) != 0) goto overflow;
  if (orthonormalise(Q, n, l, tau, NULL) != 0) goto lapack_failed;
  double last = 1.0;
  for (int it = 0; it < 200; it++) {
    q_to_float(Q, n, l, Zf, ld);
    gram_apply(V, n, p, l, Zf, ld, scale, Yf, Tf, z);
    if (q_to_double(Yf, ld, n, l, Q) != 0) goto overflow;
    if (orthonormalise(Q, n, l, tau, R) != 0) goto lapack_failed;
    if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', l, l, R, l, sv, RU, l, RVt, l) != 0)
      goto lapack_failed;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, k, l, 1.0, Q, (int)n, RU, l,
                0.0, Uk, (int)n);
    if (it > 0) {
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, (int)n, 1.0, Uprev, (int)n, Uk,
                  (int)n, 0.0, M, k);
      double worst = 0.0;
      for (int j = 0; j < k; j++) {
        double in = 0.0;
        for (int i = 0; i < k; i++) in += M[i + j * k] * M[i + j * k];
        if (1.0 - in > worst) worst = 1.0 - in;
      }
      /* Converged, or at the rounding floor of the float products (two iterations in a
       * row that barely move): more would not make it any more exact. */
      if (worst < 1e-12 || (worst < 1e-10 && last < 1e-10 && worst > 0.5 * last)) break;
      last = worst;
    }
    memcpy(Uprev, Uk, (size_t)n * k * sizeof *Uk);
  }
  /* Rayleigh-Ritz: B = Q' V (l x p), B = Ub S Vt. */
  q_to_float(Q, n, l, Yf, n);
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, l, (int)n, 1.0f, V, (int)n, Yf,
              (int)n, 0.0f, Zf, (int)p);
  for (int a = 0; a < l; a++)
    for (int64_t j = 0; j < p; j++) {
      if (!isfinite(Zf[j + (size_t)a * p])) goto overflow;
      B[a + j * l] = Zf[j + (size_t)a * p];
    }
  /* Z (p x l >= l x l) is free now and holds the l x p right vectors' transpose rows. */
  if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', l, (lapack_int)p, B, l, sv, RU, l, Z, l) != 0)
    goto lapack_failed;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, k, l, 1.0, Q, (int)n, RU, l, 0.0,
              Ub, (int)n);
  memcpy(U, Ub, (size_t)n * k * sizeof *U);
  for (int a = 0; a < k; a++) {
    S[a] = sv[a];
    for (int64_t j = 0; j < p; j++) Vt[a + j * k] = Z[a + j * l];
  }
  goto done;
not_finite:
  tsr_seterror(err, "the truncated SVD needs a finite V");
  status = TSR_EINVAL;
  goto done;
overflow:
  tsr_seterror(err, "the truncated SVD overflows float: V's largest entry is %g", (double)vmax);
  status = TSR_EINVAL;
  goto done;
lapack_failed:
  tsr_seterror(err, "the truncated SVD failed (LAPACK)");
  status = TSR_EINVAL;
done:
  tsr_free(d);
  tsr_free(f);
  return status;
}

/* Boutsidis-Gallopoulos NNDSVD as scikit-learn 1.2's _initialize_nmf writes it. */
static int init_nndsvd(const float *V, int64_t n, int64_t p, int k, int init, uint64_t seed,
                       float *W, float *H, tsr_error *err) {
  size_t nd = (size_t)n * k + (size_t)k + (size_t)k * p;
  double *d = tsr_alloc(nd * sizeof *d);
  if (d == NULL) return tsr_alloc_failure(nd * sizeof *d, "the NNDSVD initialisation", err);
  double *U = d, *S = U + (size_t)n * k, *Vt = S + k;
  int status = svd_top(V, n, p, k, U, S, Vt, err);
  if (status != TSR_OK) {
    tsr_free(d);
    return status;
  }
  for (int a = 0; a < k; a++) {
    const double *x = U + (size_t)a * n;
    double xp = 0.0, xn = 0.0, yp = 0.0, yn = 0.0;
    for (int64_t i = 0; i < n; i++) {
      if (x[i] > 0.0) xp += x[i] * x[i];
      else xn += x[i] * x[i];
    }
    for (int64_t j = 0; j < p; j++) {
      double y = Vt[a + j * k];
      if (y > 0.0) yp += y * y;
      else yn += y * y;
    }
    xp = sqrt(xp), xn = sqrt(xn), yp = sqrt(yp), yn = sqrt(yn);
    /* The leading pair is non-negative up to sign: its absolute values are used. */
    int absval = a == 0, positive = xp * yp > xn * yn;
    double sigma = absval ? 1.0 : positive ? xp * yp : xn * yn;
    double xs = absval ? 1.0 : positive ? xp : xn, ys = absval ? 1.0 : positive ? yp : yn;
    double lbd = sqrt(S[a] * sigma);
    double cx = xs > 0.0 ? lbd / xs : 0.0, cy = ys > 0.0 ? lbd / ys : 0.0;
    for (int64_t i = 0; i < n; i++) {
      double v = absval ? fabs(x[i]) : positive ? fmax(x[i], 0.0) : fmax(-x[i], 0.0);
      double w = cx * v;
      W[i + (size_t)a * n] = w < 1e-6 ? 0.0f : (float)w;
    }
    for (int64_t j = 0; j < p; j++) {
      double y = Vt[a + j * k];
      double v = absval ? fabs(y) : positive ? fmax(y, 0.0) : fmax(-y, 0.0);
      double h = cy * v;
      H[a + j * k] = h < 1e-6 ? 0.0f : (float)h;
    }
  }
  tsr_free(d);
  if (init == TSR_NMF_INIT_NNDSVD) return TSR_OK;
  double avg = mean_of(V, n, p);
  size_t nw = (size_t)n * k, nh = (size_t)k * p;
  if (init == TSR_NMF_INIT_NNDSVDA) {
    for (size_t i = 0; i < nw; i++)
      if (W[i] == 0.0f) W[i] = (float)avg;
    for (size_t i = 0; i < nh; i++)
      if (H[i] == 0.0f) H[i] = (float)avg;
  } else {
    rng g;
    rng_seed(&g, seed);
    for (size_t i = 0; i < nw; i++)
      if (W[i] == 0.0f) W[i] = (float)fabs(avg * rng_normal(&g) / 100.0);
    for (size_t i = 0; i < nh; i++)
      if (H[i] == 0.0f) H[i] = (float)fabs(avg * rng_normal(&g) / 100.0);
  }
  return TSR_OK;
}

int tsr_nmf_init(const float *V, int64_t n, int64_t p, int k, int init, uint64_t seed,
                 float *W, float *H, tsr_error *err) {
  if (n < 1 || p < 1 || k < 1) {
    tsr_seterror(err, "cannot initialise a %lld x %lld factorisation with k = %d", (long long)n,
                 (long long)p, k);
    return TSR_EINVAL;
  }
  int64_t mn = n < p ? n : p;
  size_t nw = (size_t)n * k, nh = (size_t)k * p;
  switch (init) {
    case TSR_NMF_INIT_RANDOM: {
      double avg = sqrt(mean_of(V, n, p) / k);
      rng g;
      rng_seed(&g, seed);
      for (size_t i = 0; i < nh; i++) H[i] = (float)fabs(avg * rng_normal(&g));
      for (size_t i = 0; i < nw; i++) W[i] = (float)fabs(avg * rng_normal(&g));
      return TSR_OK;
    }
    case TSR_NMF_INIT_UNIFORM: {
      rng g;
      rng_seed(&g, seed);
      for (size_t i = 0; i < nw; i++) W[i] = rng_uniform(&g);
      for (size_t i = 0; i < nh; i++) H[i] = rng_uniform(&g);
      return TSR_OK;
    }
    case TSR_NMF_INIT_NNDSVD:
    case TSR_NMF_INIT_NNDSVDA:
    case TSR_NMF_INIT_NNDSVDAR:
      if (k > mn) {
        tsr_seterror(err, "nndsvd initialisations need k <= %lld, the smaller of n and p, "
                     "got %d", (long long)mn, k);
        return TSR_EINVAL;
      }
      return init_nndsvd(V, n, p, k, init, seed, W, H, err);
    default:
      tsr_seterror(err, "unknown initialisation %d", init);
      return TSR_EINVAL;
  }
}
