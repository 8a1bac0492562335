/* libFuzzer harness: STFT and NMF parameter handling from arbitrary numbers. The input is
 * read as raw ints and doubles (so NaN, Inf, negatives and extremes all occur): STFT
 * configurations go through tsr_stft_check and tsr_stft_geometry, and through a real
 * forward/inverse transform when the geometry is small; NMF parameters and a small V
 * (entries from the input too: negative, NaN, Inf, denormal) go through tsr_nmf_init and
 * tsr_nmf_fit. Sizes are kept small so one input runs in microseconds. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../csrc/nmf.h"
#include "../csrc/stft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct reader {
  const uint8_t *p;
  size_t left;
} reader;

static void take(reader *r, void *out, size_t n) {
  memset(out, 0, n);
  size_t k = r->left < n ? r->left : n;
  memcpy(out, r->p, k);
  r->p += k;
  r->left -= k;
}

static int32_t take_int(reader *r) {
  int32_t v;
  take(r, &v, sizeof v);
  return v;
}

static double take_double(reader *r) {
  double v;
  take(r, &v, sizeof v);
  return v;
}

static uint8_t take_byte(reader *r) {
  uint8_t v;
  take(r, &v, 1);
  return v;
}

static void fuzz_stft(reader *r) {
  tsr_stft_config cfg;
  cfg.n_fft = take_int(r);
  cfg.hop = take_int(r);
  cfg.window = take_int(r);
  cfg.center = take_int(r);
  int64_t len = (int64_t)take_int(r) * (take_byte(r) & 1 ? 65536 : 1);
  int sr = take_int(r);
  tsr_error err = {{0}};
  tsr_spectrogram s;
  if (tsr_stft_check(&cfg, &err) != TSR_OK) return;
  if (tsr_stft_geometry(&cfg, len, sr, &s, &err) != TSR_OK) return;
  size_t floats;
  if (tsr_spectrogram_floats(&s, &floats) != 0) return;
  if (cfg.n_fft > 512 || len > 4096 || floats > (1u << 16)) return;
  float *x = tsr_alloc((size_t)len * sizeof *x);
  float *y = tsr_alloc((size_t)len * sizeof *y);
  s.data = tsr_alloc(floats * sizeof *s.data);
  if (x != NULL && y != NULL && s.data != NULL) {
    for (int64_t i = 0; i < len; i++) x[i] = sinf((float)i * 0.1f);
    if (tsr_stft_forward(x, len, &cfg, &s, &err) == TSR_OK)
      (void)tsr_stft_inverse(&s, y, len, &err);
  }
  tsr_free(x);
  tsr_free(y);
  tsr_free(s.data);
}

static void fuzz_nmf(reader *r) {
  tsr_nmf_params prm;
  tsr_nmf_params_default(&prm);
  int64_t n = take_byte(r) % 17, p = take_byte(r) % 17; /* 0..16: empty shapes too */
  int k = (int8_t)take_byte(r);                       /* negative k too */
  prm.beta = take_double(r);
  prm.solver = take_byte(r) % 3; /* 2 is not a solver */
  prm.order = take_byte(r) % 4;
  prm.max_iter = take_byte(r) % 6;
  if (take_byte(r) & 1) prm.max_iter = -prm.max_iter;
  prm.tol = take_double(r);
  prm.alpha_W = take_double(r);
  prm.alpha_H = take_double(r);
  prm.l1_ratio = take_double(r);
  prm.update_W = take_byte(r) & 1;
  prm.update_H = take_byte(r) & 1;
  prm.every = (int8_t)take_byte(r);
  prm.threads = 1;
  int init = take_byte(r) % 6; /* 5 is not an init */
  uint64_t seed = take_byte(r);
  if (k > 16) k = 16;
  size_t nv = (size_t)(n * p), nw = (size_t)(n * (k > 0 ? k : 0)), nh = (size_t)((k > 0 ? k : 0) * p);
  float *V = tsr_alloc(nv * sizeof *V + 4), *W = tsr_alloc(nw * sizeof *W + 4),
        *H = tsr_alloc(nh * sizeof *H + 4);
  if (V != NULL && W != NULL && H != NULL) {
    int raw = take_byte(r) & 1; /* raw floats (any bits), or small non-negative values */
    for (size_t i = 0; i < nv; i++) {
      if (raw) {
        float f;
        take(r, &f, sizeof f);
        V[i] = f;
      } else {
        V[i] = (float)(take_byte(r) % 32) * 0.25f;
      }
    }
    tsr_error err = {{0}};
    if (tsr_nmf_init(V, n, p, k, init, seed, W, H, &err) == TSR_OK) {
      tsr_nmf_result res;
      (void)tsr_nmf_fit(V, n, p, k, W, H, &prm, &res, &err);
    }
  }
  tsr_free(V);
  tsr_free(W);
  tsr_free(H);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size};
  if (take_byte(&r) & 1)
    fuzz_nmf(&r);
  else
    fuzz_stft(&r);
  return 0;
}
