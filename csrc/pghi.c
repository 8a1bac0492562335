/* Phase-gradient heap integration (Prusa, Balazs and Sondergaard 2017) on tessera's STFT.
 *
 * For a Gaussian window e^(-pi t^2 / lambda), the log-magnitude s and the phase phi of the
 * STFT, phase referred to the window's centre, are the real and imaginary parts of an
 * analytic function, so (t in samples, w in cycles per sample)
 *     d phi / dt = 2 pi w + (1 / lambda) ds/dw,      d phi / dw = -lambda ds/dt,
 * and the phase follows from the magnitude up to a constant per region. The window in use
 * is replaced by its equivalent Gaussian (tsr_pghi_gamma). The derivatives are integrated
 * from the largest coefficient outwards, always from the largest one already known (a
 * max-heap), where they are most reliable; each step is the trapezoid rule between two
 * neighbours in time (one hop) or frequency (one bin).
 *
 * tessera's frames are windowed in place, so bin k of a frame is the window-centred STFT
 * times e^(-i pi k) (the window's centre is sample n_fft/2 of the frame): the integrated
 * phase gets pi*k added at the end. The time derivative of a window-centred phase does
 * not depend on where the frame is, so centred and uncentred frames take the same steps. */
#include "pghi.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define TSR_PI 3.14159265358979323846
#define TSR_TWO_PI 6.28318530717958647692

double tsr_pghi_gamma(int window) {
  switch (window) {
    case TSR_WINDOW_HANN: return 0.25645;
    case TSR_WINDOW_HAMMING: return 0.29794;
    default: return 0.0;
  }
}

/* x reduced to [-pi, pi]. */
static double wrap(double x) { return remainder(x, TSR_TWO_PI); }

/* ---- a max-heap of coefficients, by magnitude -----------------------------------------
 * Each entry carries its key: the front grows to a good part of the spectrogram, and a
 * key read through the index would miss the cache at every level. */

typedef struct entry {
  float key;
  uint32_t idx;
} entry;

typedef struct heap {
  entry *at;
  size_t n;
} heap;

static void heap_push(heap *h, float key, uint32_t idx) {
  size_t i = h->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->at[parent].key >= key) break;
    h->at[i] = h->at[parent];
    i = parent;
  }
  h->at[i] = (entry){key, idx};
}

static uint32_t heap_pop(heap *h) {
  entry *at = h->at;
  const uint32_t top = at[0].idx;
  const entry last = at[--h->n];
  const size_t n = h->n;
  size_t i = 0;
  for (;;) { /* the hole at i sinks to where `last` belongs */
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && at[child + 1].key > at[child].key) child++;
    if (at[child].key <= last.key) break;
    at[i] = at[child];
    i = child;
  }
  if (n > 0) at[i] = last;
  return top;
}

/* ---- the steps ------------------------------------------------------------------------ */

/* The scratch of one call, in one block: the phase steps between neighbours and the
 * marks of coefficients whose phase is known. */
typedef struct scratch {
  float *tstep; /* per hop, without the 2 pi hop k / n_fft of a stationary sine */
  float *fstep; /* per bin */
  uint32_t *seeds;
  entry *front;
  unsigned char *known;
} scratch;

/* Checks the geometry and the window, and that indices fit in 32 bits. */
static int check(const tsr_spectrogram *g, tsr_error *err) {
  int status = tsr_spectrogram_check(g, err);
  if (status != TSR_OK) return status;
  if (tsr_pghi_gamma(g->window) == 0.0) {
    const char *name = tsr_window_name(g->window);
    tsr_seterror(err, "pghi needs a hann or hamming window, got %s", name ? name : "?");
    return TSR_EINVAL;
  }
  if ((uint64_t)g->bins * (uint64_t)g->frames > UINT32_MAX) {
    tsr_seterror(err, "a %lld x %lld spectrogram has more coefficients than pghi takes "
                 "(2^32 - 1)", (long long)g->bins, (long long)g->frames);
    return TSR_ELIMIT;
  }
  return TSR_OK;
}

/* s = ln(max(mag, least)) into s (count floats): the floor keeps the derivatives next to
 * silence finite. */
static void log_magnitude(const float *mag, size_t count, float least, float *s) {
  for (size_t i = 0; i < count; i++) s[i] = logf(mag[i] > least ? mag[i] : least);
}

/* The phase steps from the log-magnitude s (bins x frames), by centred differences
 * (one-sided at the first and last frame; zero at DC and Nyquist, where the spectrum of a
 * real signal is symmetric). With lambda = gamma n^2 and hop a:
 *   a d phi/dt   = 2 pi a k / n + (a / (gamma n)) ds/dk   (the first term added later)
 *   d phi/dk     = -(gamma n / a) ds/dm                   (m: the frame) */
static void phase_steps(const float *s, const tsr_spectrogram *g, float *tstep, float *fstep) {
  const int64_t bins = g->bins, frames = g->frames;
  const double gamma = tsr_pghi_gamma(g->window), n = g->n_fft, a = g->hop;
  const double tscale = a / (gamma * n) / 2.0, fscale = -gamma * n / a;
  for (int64_t m = 0; m < frames; m++) {
    const float *col = s + m * bins;
    float *t = tstep + m * bins, *f = fstep + m * bins;
    t[0] = t[bins - 1] = 0.0f;
    for (int64_t k = 1; k < bins - 1; k++) t[k] = (float)(tscale * (col[k + 1] - col[k - 1]));
    const float *prev = m > 0 ? col - bins : col;
    const float *next = m < frames - 1 ? col + bins : col;
    const double scale = (m > 0 && m < frames - 1) ? fscale / 2.0 : fscale;
    for (int64_t k = 0; k < bins; k++) f[k] = (float)(scale * (next[k] - prev[k]));
  }
}

/* The phase advance over one hop of a stationary sine at bin k, 2 pi a k / n, reduced
 * exactly before it is multiplied (a k can be far larger than n). */
static double bin_advance(const tsr_spectrogram *g, int64_t k) {
  return TSR_TWO_PI * (double)(((int64_t)g->hop * k) % g->n_fft) / (double)g->n_fft;
}

/* Gives coefficient j (unknown, large) the phase of i plus `step` and puts it on the
 * front. */
static void reach(heap *front, const float *mag, unsigned char *known, float *phase,
                  uint32_t i, uint32_t j, double step) {
  if (known[j]) return;
  known[j] = 1;
  phase[j] = (float)wrap((double)phase[i] + step);
  heap_push(front, mag[j], j);
}

/* The bits of floats >= 0 order as the floats do. */
static uint32_t key_bits(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

/* The indices of the coefficients not yet known into out (returns how many), in
 * ascending order of magnitude, ties by index: a stable LSD radix sort of the magnitude's
 * bits in three passes (11, 11 and 10 bits), tmp as large as out. */
static size_t sort_unknown(const float *mag, const unsigned char *known, size_t count,
                           uint32_t *out, uint32_t *tmp) {
  size_t n = 0;
  for (size_t i = 0; i < count; i++)
    if (!known[i]) tmp[n++] = (uint32_t)i;
  uint32_t *from = tmp, *to = out;
  for (int shift = 0; shift < 32; shift += 11) {
    size_t start[2048] = {0};
    for (size_t j = 0; j < n; j++) start[(key_bits(mag[from[j]]) >> shift) & 2047]++;
    size_t sum = 0;
    for (int d = 0; d < 2048; d++) {
      size_t c = start[d];
      start[d] = sum;
      sum += c;
    }
    for (size_t j = 0; j < n; j++) to[start[(key_bits(mag[from[j]]) >> shift) & 2047]++] = from[j];
    uint32_t *t = from;
    from = to;
    to = t;
  }
  return n; /* an odd number of passes: the last wrote into out */
}

/* The heap integration proper: every coefficient not yet known (known[i] == 0) gets its
 * phase. The largest unknown one starts a region at phase 0; the front then spreads from
 * its largest member to its unknown neighbours until none is left, and the next region
 * starts from the largest coefficient still unknown. */
static void integrate(const float *mag, const tsr_spectrogram *g, scratch *w, float *phase) {
  const int64_t bins = g->bins, frames = g->frames;
  const size_t count = (size_t)bins * (size_t)frames;
  /* The front is empty until the first region starts: its room sorts the seeds. */
  size_t next = sort_unknown(mag, w->known, count, w->seeds, (uint32_t *)w->front);
  heap front = {w->front, 0};
  const float *ts = w->tstep, *fs = w->fstep;
  while (next > 0) {
    uint32_t start = w->seeds[--next];
    if (w->known[start]) continue;
    w->known[start] = 1;
    phase[start] = 0.0f;
    heap_push(&front, mag[start], start);
    while (front.n > 0) {
      uint32_t i = heap_pop(&front);
      int64_t m = (int64_t)i / bins, k = (int64_t)i % bins;
      double advance = bin_advance(g, k);
      if (m + 1 < frames)
        reach(&front, mag, w->known, phase, i, i + (uint32_t)bins,
              advance + 0.5 * ((double)ts[i] + ts[i + bins]));
      if (m > 0)
        reach(&front, mag, w->known, phase, i, i - (uint32_t)bins,
              -advance - 0.5 * ((double)ts[i] + ts[i - bins]));
      if (k + 1 < bins)
        reach(&front, mag, w->known, phase, i, i + 1, 0.5 * ((double)fs[i] + fs[i + 1]));
      if (k > 0)
        reach(&front, mag, w->known, phase, i, i - 1, -0.5 * ((double)fs[i] + fs[i - 1]));
    }
  }
}

int tsr_pghi(const float *mag, const tsr_spectrogram *geom, float *phase_out, tsr_error *err) {
  int status = check(geom, err);
  if (status != TSR_OK) return status;
  const int64_t bins = geom->bins, frames = geom->frames;
  const size_t count = (size_t)bins * (size_t)frames; /* < 2^32 (check) */

  float peak = 0.0f;
  for (size_t i = 0; i < count; i++)
    if (mag[i] > peak) peak = mag[i];
  if (!(peak > 0.0f)) { /* silence: any phase is as good */
    memset(phase_out, 0, count * sizeof(float));
    return TSR_OK;
  }
  /* The tolerance; kept above 0 (a peak under 1e-33) so that every log is finite. */
  float least = (float)(TSR_PGHI_TOL * peak);
  if (least < FLT_TRUE_MIN) least = FLT_TRUE_MIN;

  /* Per coefficient: two float steps, a place in the seeds' order, one on the front and a
   * mark. The front's entries first, so every array stays aligned. */
  size_t bytes;
  if (tsr_mul_size(count, sizeof(entry) + 2 * sizeof(float) + sizeof(uint32_t) + 1, &bytes) != 0)
    return tsr_alloc_failure(SIZE_MAX, "pghi's scratch", err);
  char *block = tsr_alloc(bytes);
  if (block == NULL) return tsr_alloc_failure(bytes, "pghi's scratch", err);
  scratch w;
  w.front = (entry *)block;
  w.tstep = (float *)(w.front + count);
  w.fstep = w.tstep + count;
  w.seeds = (uint32_t *)(w.fstep + count);
  w.known = (unsigned char *)(w.seeds + count);

  /* phase_out holds the log-magnitude until the steps are taken from it. */
  log_magnitude(mag, count, least, phase_out);
  phase_steps(phase_out, geom, w.tstep, w.fstep);

  /* Coefficients at or below the tolerance are known from the start: phase 0, never
   * reached. */
  for (size_t i = 0; i < count; i++) {
    w.known[i] = (unsigned char)!(mag[i] > least);
    phase_out[i] = 0.0f;
  }
  integrate(mag, geom, &w, phase_out);

  /* From the window's centre to the frame's first sample: pi k. */
  for (int64_t m = 0; m < frames; m++)
    for (int64_t k = 1; k < bins; k += 2) {
      size_t i = (size_t)(m * bins + k);
      if (mag[i] > least) phase_out[i] = (float)wrap((double)phase_out[i] + TSR_PI);
    }
  tsr_free(block);
  return TSR_OK;
}
