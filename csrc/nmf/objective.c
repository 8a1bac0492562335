/* The NMF objective: tsr_nmf_loss and its share of a column range (what the solvers add up
 * in a fixed order), and the fit's checks of it (the tracker of internal.h). */
#include "internal.h"

#include "../matrix.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double tsr_nmf_loss_cols(const float *V, const float *W, const float *H, int64_t n, int64_t j0,
                         int64_t j1, int k, double beta) {
  const nmf_mu_kernels *kr = tsr_nmf_mu_kernels();
  int cls = beta_class(beta);
  double s = 0.0;
  int64_t j = j0;
  if (kr->kl_loss_cols && cls == CLS_KL && k <= 16) return kr->kl_loss_cols(V, W, H, n, j0, j1, k);
  if (kr->loss_group8 && cls != CLS_BETA)
    for (; j + 8 <= j1; j += 8) s += kr->loss_group8(cls, W, n, k, H + j * k, V + j * n);
  for (; j < j1; j++) s += kr->loss_col(cls, beta, W, n, k, H + j * k, V + j * n);
  return s;
}

/* The objective over `parts` column ranges as the pool's tasks, added in partition order. */
typedef struct loss_job {
  const float *V, *M, *W, *H;
  int64_t n, p;
  int k, T, parts;
  double beta;
  double part[MAX_PARTS];
} loss_job;

static void loss_task(void *ctx, int t) {
  loss_job *lj = ctx;
  int64_t j0 = lj->p * t / lj->parts, j1 = lj->p * (t + 1) / lj->parts;
  if (j0 >= j1) lj->part[t] = 0.0;
  else if (lj->T > 1)
    lj->part[t] = tsr_nmfd_loss_cols(lj->V, lj->W, lj->H, lj->n, j0, j1, lj->k, lj->T, lj->beta);
  else if (lj->M != NULL)
    lj->part[t] = tsr_nmf_loss_weighted_cols(lj->V, lj->M, lj->W, lj->H, lj->n, j0, j1, lj->k,
                                             lj->beta);
  else
    lj->part[t] = tsr_nmf_loss_cols(lj->V, lj->W, lj->H, lj->n, j0, j1, lj->k, lj->beta);
}

/* With pool NULL, a pool of `parts` threads of its own (or the caller alone, when even
 * that cannot be had: the sum is the same). M: the weights, or NULL. T > 1: the convolutive
 * model (W frame-reversed, H padded; see the tracker). */
static double loss_pool(tsr_pool *pool, const float *V, const float *M, const float *W,
                        const float *H, int64_t n, int64_t p, int k, int T, double beta,
                        int parts) {
  loss_job lj = {.V = V, .M = M, .W = W, .H = H, .n = n, .p = p, .k = k, .T = T,
                 .parts = parts, .beta = beta};
  tsr_pool *own = pool == NULL && parts > 1 ? tsr_pool_open(parts) : NULL;
  if (pool == NULL) pool = own;
  if (pool != NULL) {
    tsr_pool_run(pool, parts, loss_task, &lj);
  } else {
    for (int t = 0; t < parts; t++) loss_task(&lj, t);
  }
  tsr_pool_close(own);
  double s = 0.0;
  for (int t = 0; t < parts; t++) s += lj.part[t];
  return s;
}

/* Where a divergence is reported, a rounding below 0 (KL on denormal input) reads 0. */
static double floor_at_zero(double loss) { return loss < 0.0 ? 0.0 : loss; }

double tsr_nmf_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p,
                    int k, double beta) {
  if (n <= 0 || p <= 0) return 0.0;
  return floor_at_zero(loss_pool(NULL, V, NULL, W, H, n, p, k, 1, beta, tsr_nmf_parts(0, p)));
}

double tsr_nmf_loss_weighted(const float *V, const float *M, const float *W, const float *H,
                             int64_t n, int64_t p, int k, double beta) {
  if (n <= 0 || p <= 0) return 0.0;
  return floor_at_zero(loss_pool(NULL, V, M, W, H, n, p, k, 1, beta, tsr_nmf_parts(0, p)));
}

/* scikit-learn's convergence measure: sqrt(2 * its divergence), its Euclidean divergence
 * being half of ours. */
static double sk_error(int cls, double loss) {
  if (loss < 0.0) loss = 0.0;
  return sqrt(cls == CLS_EUC ? loss : 2.0 * loss);
}

static int report(const tsr_nmf_params *prm, int it, double loss) {
  return prm->on_check ? prm->on_check(prm->ctx, it, floor_at_zero(loss)) : 0;
}

static void diverged(const tsr_nmf_params *prm, int it, const char *what, tsr_error *err) {
  tsr_seterror(err, "the fit diverged at iteration %d: %s; likely an extreme beta (%g) or "
               "alpha (alpha_W %g, alpha_H %g), or V or the initial W and H near float32's "
               "limits", it, what, prm->beta, prm->alpha_W, prm->alpha_H);
}

int tsr_nmf_guard_factors(const tsr_nmf_params *prm, const float *W, int64_t n, int wcols,
                          const float *H, int64_t p, int k, int it, tsr_error *err) {
  if (tsr_interrupted()) {
    tsr_seterror(err, "interrupted at iteration %d", it);
    return TSR_EINTR;
  }
  const char *name = NULL;
  int64_t i = 0, j = 0;
  float x = 0.0f;
  if (prm->update_W && tsr_find_bad_entry(W, n, wcols, 0, &i, &j, &x)) name = "W";
  else if (prm->update_H && tsr_find_bad_entry(H, k, p, 0, &i, &j, &x)) name = "H";
  if (name == NULL) return TSR_OK;
  if (wcols > k && name[0] == 'W') { /* NMFD's W has its frames reversed: name the user's column */
    int T = wcols / k, a = (int)(j % k), frame = T - 1 - (int)(j / k);
    j = a + (int64_t)k * frame;
  }
  char what[128];
  snprintf(what, sizeof what, "the factors became NaN or infinite (%s has %s entry at row %lld, "
           "column %lld)", name, isnan(x) ? "a NaN" : "an infinite", (long long)i + 1,
           (long long)j + 1);
  diverged(prm, it, what, err);
  return TSR_ENOTFINITE;
}

int tsr_nmf_guard_loss(const tsr_nmf_params *prm, int it, double loss, tsr_error *err) {
  if (isfinite(loss)) return TSR_OK;
  diverged(prm, it, isnan(loss) ? "the objective became NaN"
                                : "the objective became infinite (WH overflows float32)", err);
  return TSR_ENOTFINITE;
}


int tsr_nmf_track_start(tracker *tr, const tsr_nmf_params *prm, const float *V, const float *W,
                       const float *H, int64_t n, int64_t p, int k, int T, int parts,
                       tsr_pool *pool, tsr_error *err) {
  tr->prm = prm;
  tr->err = err;
  tr->given = 0;
  tr->pool = pool;
  tr->V = V, tr->W = W, tr->H = H;
  tr->n = n, tr->p = p, tr->k = k, tr->T = T, tr->parts = parts;
  tr->cls = beta_class(prm->beta);
  tr->loss = loss_pool(tr->pool, V, prm->weights, W, H, n, p, k, T, prm->beta, parts);
  tr->e_init = tr->prev = sk_error(tr->cls, tr->loss);
  tr->checked = 1;
  tr->status = tsr_nmf_guard_loss(prm, 0, tr->loss, err);
  if (tr->status != TSR_OK) return 3;
  return report(prm, 0, tr->loss);
}

int tsr_nmf_track_iteration(tracker *tr, int it) {
  tr->checked = 0;
  /* A padded H's real columns start after its T - 1 zero ones. */
  const float *H = tr->H + (size_t)(tr->T - 1) * (size_t)tr->k;
  tr->status = tsr_nmf_guard_factors(tr->prm, tr->W, tr->n, tr->k * tr->T, H, tr->p, tr->k, it,
                                     tr->err);
  if (tr->status != TSR_OK) return 3;
  if (it % tr->prm->every != 0) return 0;
  if (!tr->given)
    tr->loss = loss_pool(tr->pool, tr->V, tr->prm->weights, tr->W, tr->H, tr->n, tr->p, tr->k,
                         tr->T, tr->prm->beta, tr->parts);
  tr->given = 0;
  tr->checked = 1;
  tr->status = tsr_nmf_guard_loss(tr->prm, it, tr->loss, tr->err);
  if (tr->status != TSR_OK) return 3;
  if (report(tr->prm, it, tr->loss)) return 1;
  if (tr->prm->tol > 0.0) {
    double e = sk_error(tr->cls, tr->loss);
    double base = tr->prm->tol_rule == TSR_NMF_TOL_LAST ? tr->prev : tr->e_init;
    if (base == 0.0 || (tr->prev - e) / base < tr->prm->tol) return 2;
    tr->prev = e;
  }
  return 0;
}

double tsr_nmf_track_final(tracker *tr) {
  if (!tr->checked)
    tr->loss = loss_pool(tr->pool, tr->V, tr->prm->weights, tr->W, tr->H, tr->n, tr->p, tr->k,
                         tr->T, tr->prm->beta, tr->parts);
  return floor_at_zero(tr->loss);
}
