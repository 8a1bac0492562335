/* NMF parameters: their defaults and their one check, for every solver and for the
 * bindings, which report its message as Lua's "bad argument" (csrc/lua/l_nmf.c). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tsr_nmf_params_default(tsr_nmf_params *prm) {
  memset(prm, 0, sizeof *prm);
  prm->beta = 2.0;
  prm->solver = TSR_NMF_MU;
  prm->order = TSR_NMF_ORDER_HW;
  prm->max_iter = 200;
  prm->tol = 1e-4;
  prm->update_W = 1;
  prm->update_H = 1;
  prm->alpha_W = 0.0;
  prm->alpha_H = 0.0;
  prm->l1_ratio = 0.0;
  prm->threads = 0;
  prm->every = 10;
  prm->on_check = NULL;
  prm->ctx = NULL;
}

/* x as Lua prints a float ("%.14g", and ".0" after an integral value), so that a message
 * reads the same as the number the caller wrote in Lua. */
static const char *number(double x, char buf[32]) {
  snprintf(buf, 32, "%.14g", x);
  if (buf[strspn(buf, "-0123456789")] == '\0') strcat(buf, ".0");
  return buf;
}

int tsr_nmf_check_params(int64_t n, int64_t p, int k, const tsr_nmf_params *prm,
                         tsr_error *err) {
  char a[32], b[32];
  if (n < 1 || p < 1) {
    tsr_seterror(err, "V must not be empty, got %lld x %lld", (long long)n, (long long)p);
    return TSR_EINVAL;
  }
  if (k < 1) {
    tsr_seterror(err, "k must be >= 1, got %d", k);
    return TSR_EINVAL;
  }
  if (!isfinite(prm->beta)) {
    tsr_seterror(err, "loss must be a finite beta, got %s", number(prm->beta, a));
    return TSR_EINVAL;
  }
  if (prm->solver != TSR_NMF_MU && prm->solver != TSR_NMF_CD) {
    tsr_seterror(err, "unknown solver %d", prm->solver);
    return TSR_EINVAL;
  }
  if (prm->solver == TSR_NMF_CD && prm->beta != 2.0) {
    const char *name = prm->beta == 1.0 ? "'kl'" : prm->beta == 0.0 ? "'is'" : number(prm->beta, a);
    tsr_seterror(err, "solver 'cd' needs the euclidean loss, got %s", name);
    return TSR_EINVAL;
  }
  if (prm->order < TSR_NMF_ORDER_HW || prm->order > TSR_NMF_ORDER_SIMULTANEOUS) {
    tsr_seterror(err, "unknown order %d", prm->order);
    return TSR_EINVAL;
  }
  if (prm->max_iter < 0) {
    tsr_seterror(err, "max_iter must be >= 0, got %d", prm->max_iter);
    return TSR_EINVAL;
  }
  if (!(prm->tol >= 0.0) || !isfinite(prm->tol)) {
    tsr_seterror(err, "tol must be a finite number >= 0, got %s", number(prm->tol, a));
    return TSR_EINVAL;
  }
  if (prm->every < 1) {
    tsr_seterror(err, "every must be >= 1, got %d", prm->every);
    return TSR_EINVAL;
  }
  if (!(prm->alpha_W >= 0.0) || !isfinite(prm->alpha_W)) {
    tsr_seterror(err, "alpha_W must be a finite number >= 0, got %s", number(prm->alpha_W, a));
    return TSR_EINVAL;
  }
  if (!(prm->alpha_H >= 0.0) || !isfinite(prm->alpha_H)) {
    tsr_seterror(err, "alpha_H must be a finite number >= 0, got %s", number(prm->alpha_H, b));
    return TSR_EINVAL;
  }
  if (!(prm->l1_ratio >= 0.0 && prm->l1_ratio <= 1.0)) {
    tsr_seterror(err, "l1_ratio must be in [0, 1], got %s", number(prm->l1_ratio, a));
    return TSR_EINVAL;
  }
  if (prm->smooth_H != NULL && prm->solver == TSR_NMF_CD) {
    tsr_seterror(err, "smooth_H needs solver 'mu' (temporal continuity is a multiplicative "
                 "update's prior)");
    return TSR_EINVAL;
  }
  if (prm->threads < 0 || prm->threads > MAX_PARTS) {
    tsr_seterror(err, "threads must be in 1..%d, got %d", MAX_PARTS, prm->threads); /* 0: default */
    return TSR_EINVAL;
  }
  return TSR_OK;
}
