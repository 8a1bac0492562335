/* Rational polyphase resampler, the conversion of scipy.signal.resample_poly with its
 * defaults: the filter designed in double (windowed sinc, Kaiser beta 5, normalised to
 * DC gain `up`), split into `up` phases, and each output sample one dot product of its
 * phase's taps with the input samples they meet (the zeros that upsampling would insert
 * are never multiplied). */
#include "resample.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Independent float accumulators of a dot product: the lanes of one 8-float (or two
 * 4-float) vector register, summed in a fixed order at the end, so the result does not
 * depend on the instruction set. Each phase's taps are padded to a multiple of LANES. */
#define LANES 8

/* scipy's defaults: half_len = 10 * max(up, down), window ('kaiser', 5.0). */
#define HALF_PER_FACTOR 10
#define KAISER_BETA 5.0

static const double PI = 3.14159265358979323846;

struct tsr_resampler {
  int64_t up, down;
  int64_t half; /* half the filter length: it has 2 * half + 1 taps */
  int64_t taps; /* taps per phase, a multiple of LANES */
  float *bank;  /* `up` rows of `taps`: phase p's taps in input order, zeros first; NULL for 1/1 */
};

static int64_t gcd64(int64_t a, int64_t b) {
  while (b != 0) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* The modified Bessel function I0 by its power series: every term is positive, so the sum
 * is accurate to the last bits (about 25 terms at x = 5). */
static double bessel_i0(double x) {
  const double q = x * x / 4.0;
  double term = 1.0, sum = 1.0;
  for (int k = 1; term > 1e-17 * sum; k++) {
    term *= q / ((double)k * (double)k);
    sum += term;
  }
  return sum;
}

/* scipy's firwin(2 * half + 1, 1 / max_rate, window=('kaiser', 5.0)) into h (double):
 * cutoff * sinc(cutoff * m) for m = -half..half, times a symmetric Kaiser window, scaled
 * so the taps sum to 1 (scipy's scale=True at DC). */
static void design(double *h, int64_t half, int64_t max_rate) {
  const double i0_beta = bessel_i0(KAISER_BETA);
  double sum = 0.0;
  for (int64_t i = 0; i <= 2 * half; i++) {
    const double m = (double)(i - half);
    const double x = PI * m / (double)max_rate;
    const double sinc = m == 0.0 ? 1.0 : sin(x) / x;
    const double r = m / (double)half;
    const double w = bessel_i0(KAISER_BETA * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
    h[i] = sinc / (double)max_rate * w;
    sum += h[i];
  }
  for (int64_t i = 0; i <= 2 * half; i++) h[i] /= sum;
}

tsr_status tsr_resampler_new(int64_t up, int64_t down, tsr_resampler **out, tsr_error *err) {
  *out = NULL;
  if (up < 1 || down < 1) {
    tsr_seterror(err, "resampling factors must be >= 1, got %lld/%lld", (long long)up,
                 (long long)down);
    return TSR_EINVAL;
  }
  const int64_t g = gcd64(up, down);
  up /= g;
  down /= g;
  const int64_t max_rate = up > down ? up : down;
  if (max_rate > TSR_RESAMPLE_MAX_FACTOR) {
    /* 20 max_rate + 1 can pass INT64_MAX: printed from a double */
    tsr_seterror(err, "the reduced ratio %lld/%lld needs a filter of %.0f taps (at most "
                      "%d: up and down over their gcd must be at most %d)",
                 (long long)up, (long long)down, 2.0 * HALF_PER_FACTOR * (double)max_rate + 1.0,
                 2 * HALF_PER_FACTOR * TSR_RESAMPLE_MAX_FACTOR + 1, TSR_RESAMPLE_MAX_FACTOR);
    return TSR_EINVAL;
  }
  tsr_resampler *r = tsr_calloc(1, sizeof *r);
  if (r == NULL) {
    tsr_seterror(err, "cannot allocate a resampler: %s", tsr_strerror(TSR_ENOMEM));
    return TSR_ENOMEM;
  }
  r->up = up;
  r->down = down;
  if (up == 1 && down == 1) { /* scipy returns a copy: no filter at all */
    *out = r;
    return TSR_OK;
  }
  r->half = HALF_PER_FACTOR * max_rate;
  const int64_t length = 2 * r->half + 1;
  /* Phase 0 meets the most taps: 0, up, 2 up, ... <= 2 half. */
  r->taps = (2 * r->half / up + 1 + LANES - 1) / LANES * LANES;
  const size_t h_bytes = (size_t)length * sizeof(double);
  const size_t bank_bytes = (size_t)(up * r->taps) * sizeof(float);
  double *h = tsr_alloc(h_bytes);
  r->bank = tsr_calloc((size_t)(up * r->taps), sizeof(float));
  if (h == NULL || r->bank == NULL) {
    char what[96];
    snprintf(what, sizeof what, "the %lld-tap filter of ratio %lld/%lld", (long long)length,
             (long long)up, (long long)down);
    const int st = tsr_alloc_failure(h_bytes > bank_bytes ? h_bytes : bank_bytes, what, err);
    tsr_free(h);
    tsr_resampler_free(r);
    return st;
  }
  design(h, r->half, max_rate);
  /* Output o of phase p = (o down + half) mod up and base = (o down + half) div up is
   * sum over m of h[p + m up] * x[base - m]; the row holds those taps in the order of x
   * (m descending) and ends at x[base], so the dot product reads the input forwards. */
  for (int64_t p = 0; p < up; p++) {
    float *row = r->bank + (size_t)(p * r->taps);
    for (int64_t m = 0; p + m * up < length; m++)
      row[r->taps - 1 - m] = (float)(h[p + m * up] * (double)up);
  }
  tsr_free(h);
  *out = r;
  return TSR_OK;
}

void tsr_resampler_free(tsr_resampler *r) {
  if (r == NULL) return;
  tsr_free(r->bank);
  tsr_free(r);
}

int64_t tsr_resampler_length(const tsr_resampler *r, int64_t n) {
  if (n < 0) return -1;
  /* ceil(n up / down) as (n div down) up + ceil((n mod down) up / down): no overflow in
   * the remainder's product (both factors are at most TSR_RESAMPLE_MAX_FACTOR). */
  const int64_t q = n / r->down, rem = n % r->down;
  if (q > (INT64_MAX - r->up) / r->up) return -1;
  return q * r->up + (rem * r->up + r->down - 1) / r->down;
}

/* x . g over `taps` (a multiple of LANES) samples, in LANES float accumulators. */
static float dot(const float *restrict x, const float *restrict g, int64_t taps) {
  float acc[LANES] = {0};
  for (int64_t j = 0; j < taps; j += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += x[j + l] * g[j + l];
  double s = 0.0;
  for (int l = 0; l < LANES / 2; l++) s += (double)acc[l] + (double)acc[l + LANES / 2];
  return (float)s;
}

tsr_status tsr_resampler_run(const tsr_resampler *r, const float *in, int64_t n, float *out,
                             tsr_error *err) {
  const int64_t nout = tsr_resampler_length(r, n);
  if (nout < 0) {
    tsr_seterror(err, "cannot resample %lld samples by %lld/%lld: the output is too long",
                 (long long)n, (long long)r->up, (long long)r->down);
    return TSR_EINVAL;
  }
  if (r->bank == NULL) {
    if (n > 0) memcpy(out, in, (size_t)n * sizeof(float));
    return TSR_OK;
  }
  const int64_t taps = r->taps;
  /* Near the edges a phase's taps reach past the signal: those outputs read a copy of
   * their input span with zeros outside the signal, as scipy's zero padding gives. */
  float *window = tsr_alloc((size_t)taps * sizeof(float));
  if (window == NULL) {
    char what[64];
    snprintf(what, sizeof what, "%lld samples of resampling scratch", (long long)taps);
    return tsr_alloc_failure((size_t)taps * sizeof(float), what, err);
  }
  /* (o down + half) split into base up + phase, advanced by down at each output. */
  int64_t phase = r->half % r->up, base = r->half / r->up;
  const int64_t carry = r->down / r->up, step = r->down % r->up;
  for (int64_t o = 0; o < nout; o++) {
    if ((o & 0xFFFF) == 0 && tsr_interrupted()) { /* Ctrl-C, SIGTERM, a time limit */
      tsr_free(window);
      tsr_seterror(err, "cannot resample: interrupted");
      return TSR_EIO;
    }
    const int64_t start = base - (taps - 1);
    const float *x;
    if (start >= 0 && start <= n - taps) {
      x = in + start;
    } else {
      for (int64_t j = 0; j < taps; j++) {
        const int64_t i = start + j;
        window[j] = i >= 0 && i < n ? in[i] : 0.0f;
      }
      x = window;
    }
    out[o] = dot(x, r->bank + (size_t)(phase * taps), taps);
    base += carry;
    phase += step;
    if (phase >= r->up) {
      phase -= r->up;
      base++;
    }
  }
  tsr_free(window);
  return TSR_OK;
}
