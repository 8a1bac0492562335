/* The machine's floor for `make bench`: how fast this machine can read an n x p float32
 * array (STREAM-style), how many fused multiply-adds and float divisions per second it
 * sustains (vectorised), and how many multiply-adds a division displaces. Each rate is the
 * best of all cores and of one core: on a machine that other programs keep busy, a parallel
 * region waits for a descheduled thread and the one-core figure is the truer one. scripts/bench.sh compiles it with
 * -O3 -march=native -fopenmp and combines these rates with the bytes and operations one
 * NMF iteration must do (bench/README.md). Output: one JSON object on stdout.
 *
 *   floor N1xP1 [N2xP2 ...]    e.g. floor 1025x431 1025x7752 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 16 floats: one AVX-512 register, two AVX2 registers, four SSE ones: whatever the
 * machine has, GCC splits it into its widest vectors. */
typedef float vf __attribute__((vector_size(64)));

enum { CHAINS = 12 }; /* independent chains: enough to cover FMA and divide latency */

/* Best of `reps` wall-clock times of a full parallel read of a (count floats). */
static double read_seconds(const float *a, size_t count, int reps, double *sink) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double s = 0.0;
    double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : s)
    {
      int nt = omp_get_num_threads(), id = omp_get_thread_num();
      size_t lo = count * (size_t)id / (size_t)nt, hi = count * (size_t)(id + 1) / (size_t)nt;
      vf acc[4];
      memset(acc, 0, sizeof acc);
      size_t i = lo;
      for (; i + 64 <= hi; i += 64) {
        vf x[4];
        memcpy(x, a + i, sizeof x); /* unaligned-safe vector loads */
        for (int c = 0; c < 4; c++) acc[c] += x[c];
      }
      float tail = 0.0f;
      for (; i < hi; i++) tail += a[i];
      for (int c = 0; c < 4; c++)
        for (int l = 0; l < 16; l++) s += acc[c][l];
      s += tail;
    }
    double t = omp_get_wtime() - t0;
    if (t < best) best = t;
    *sink += s;
  }
  return best;
}

/* Fused multiply-adds per second on all cores (each counts as 2 flops in the output). */
static double fma_rate(float mul, float add, double *sink) {
  const long iters = 20000000;
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    double s = 0.0;
    double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : s)
    {
      vf acc[CHAINS], m, c;
      for (int l = 0; l < 16; l++) {
        m[l] = mul;
        c[l] = add;
      }
      for (int q = 0; q < CHAINS; q++)
        for (int l = 0; l < 16; l++) acc[q][l] = (float)(q + l) * 0.01f;
      for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int q = 0; q < CHAINS; q++) acc[q] = acc[q] * m + c;
      for (int q = 0; q < CHAINS; q++)
        for (int l = 0; l < 16; l++) s += acc[q][l];
    }
    double t = omp_get_wtime() - t0;
    if (t < best) best = t;
    *sink += s;
  }
  return (double)iters * CHAINS * 16 * omp_get_max_threads() / best;
}

/* Float divisions per second on all cores. */
static double div_rate(float divisor, double *sink) {
  const long iters = 2000000;
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    double s = 0.0;
    double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : s)
    {
      vf acc[CHAINS], d;
      for (int l = 0; l < 16; l++) d[l] = divisor;
      for (int q = 0; q < CHAINS; q++)
        for (int l = 0; l < 16; l++) acc[q][l] = 1.0f + (float)(q + l) * 0.01f;
      for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int q = 0; q < CHAINS; q++) acc[q] = acc[q] / d;
      for (int q = 0; q < CHAINS; q++)
        for (int l = 0; l < 16; l++) s += acc[q][l];
    }
    double t = omp_get_wtime() - t0;
    if (t < best) best = t;
    *sink += s;
  }
  return (double)iters * CHAINS * 16 * omp_get_max_threads() / best;
}

/* What one vector division costs the multiply-add pipes, in multiply-adds: on some cores
 * (AMD Zen 4: about 2.4) a division occupies an FMA pipe too, so a loop that needs both
 * cannot have both rates at once. Timed on one thread: CHAINS multiply-adds per step
 * against the same plus one division on a chain of its own. */
static double div_fma_slots(float mul, float add, float divisor, double *sink) {
  const long iters = 20000000;
  double best[2] = {1e30, 1e30};
  for (int r = 0; r < 3; r++)
    for (int with_div = 0; with_div < 2; with_div++) {
      vf acc[CHAINS], m, c, d, q;
      for (int l = 0; l < 16; l++) {
        m[l] = mul;
        c[l] = add;
        d[l] = divisor;
        q[l] = 1.0f + (float)l * 0.01f;
      }
      for (int k = 0; k < CHAINS; k++)
        for (int l = 0; l < 16; l++) acc[k][l] = (float)(k + l) * 0.01f;
      double t0 = omp_get_wtime();
      if (with_div) {
        for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
          for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + c;
          q = q / d;
        }
      } else {
        for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
          for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + c;
      }
      double t = omp_get_wtime() - t0;
      if (t < best[with_div]) best[with_div] = t;
      for (int k = 0; k < CHAINS; k++)
        for (int l = 0; l < 16; l++) *sink += acc[k][l];
      for (int l = 0; l < 16; l++) *sink += q[l];
    }
  double slots = (best[1] / best[0] - 1.0) * CHAINS;
  return slots > 0.0 ? slots : 0.0;
}

/* The best of rate(all threads) and rate(one thread). */
static double best_of_threads(double (*rate)(void *), void *arg) {
  int all = omp_get_max_threads();
  double r = rate(arg);
  if (all > 1) {
    omp_set_num_threads(1);
    double one = rate(arg);
    omp_set_num_threads(all);
    if (one > r) r = one;
  }
  return r;
}

typedef struct rate_arg {
  float mul, add, divisor;
  const float *v;
  size_t count;
  double sink;
} rate_arg;

static double fma_thunk(void *p) {
  rate_arg *a = p;
  return fma_rate(a->mul, a->add, &a->sink);
}

static double div_thunk(void *p) {
  rate_arg *a = p;
  return div_rate(a->divisor, &a->sink);
}

static double read_thunk(void *p) {
  rate_arg *a = p;
  return (double)(a->count * sizeof(float)) / read_seconds(a->v, a->count, 30, &a->sink);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor NxP [NxP ...]\n");
    return 2;
  }
  /* Volatile so that the compiler can fold neither the multiplier nor the divisor. */
  volatile float mul = 0.999999f, add = 1e-7f, divisor = 1.0000001f;
  rate_arg ra = {mul, add, divisor, NULL, 0, 0.0};
  printf("{\"threads\": %d, ", omp_get_max_threads());
  printf("\"fma_per_s\": %.6g, ", best_of_threads(fma_thunk, &ra));
  printf("\"div_per_s\": %.6g, ", best_of_threads(div_thunk, &ra));
  printf("\"div_fma_slots\": %.3g, ", div_fma_slots(mul, add, divisor, &ra.sink));
  printf("\"read_bytes_per_s\": {");
  for (int a = 1; a < argc; a++) {
    long n = 0, p = 0;
    if (sscanf(argv[a], "%ldx%ld", &n, &p) != 2 || n < 1 || p < 1) {
      fprintf(stderr, "floor: bad size '%s' (want NxP)\n", argv[a]);
      return 2;
    }
    size_t count = (size_t)n * (size_t)p;
    float *v = malloc(count * sizeof(float));
    if (v == NULL) {
      fprintf(stderr, "floor: cannot allocate %zu floats\n", count);
      return 1;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) v[i] = (float)(i % 1000) * 1e-3f;
    ra.v = v;
    ra.count = count;
    printf("%s\"%s\": %.6g", a > 1 ? ", " : "", argv[a], best_of_threads(read_thunk, &ra));
    free(v);
  }
  printf("}, \"sink\": %g}\n", ra.sink > 0 ? 1.0 : 0.0);
  return 0;
}
