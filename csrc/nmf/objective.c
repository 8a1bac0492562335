/* The NMF objective: tsr_nmf_loss and its share of a column range (what the solvers add up
 * in a fixed order), and the fit's checks of it (the tracker of internal.h). */
#include "internal.h"

#include <math.h>
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
  const float *V, *W, *H;
  int64_t n, p;
  int k, parts;
  double beta;
  double part[MAX_PARTS];
} loss_job;

static void loss_task(void *ctx, int t) {
  loss_job *lj = ctx;
  int64_t j0 = lj->p * t / lj->parts, j1 = lj->p * (t + 1) / lj->parts;
  lj->part[t] = j0 < j1 ? tsr_nmf_loss_cols(lj->V, lj->W, lj->H, lj->n, j0, j1, lj->k, lj->beta)
                        : 0.0;
}

/* With pool NULL, a pool of `parts` threads of its own (or the caller alone, when even
 * that cannot be had: the sum is the same). */
static double loss_pool(tsr_pool *pool, const float *V, const float *W, const float *H,
                        int64_t n, int64_t p, int k, double beta, int parts) {
  loss_job lj = {.V = V, .W = W, .H = H, .n = n, .p = p, .k = k, .parts = parts, .beta = beta};
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

double tsr_nmf_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p,
                    int k, double beta) {
  if (n <= 0 || p <= 0) return 0.0;
  return loss_pool(NULL, V, W, H, n, p, k, beta, tsr_nmf_parts(0, p));
}

/* scikit-learn's convergence measure: sqrt(2 * its divergence), its Euclidean divergence
 * being half of ours. */
static double sk_error(int cls, double loss) {
  if (loss < 0.0) loss = 0.0;
  return sqrt(cls == CLS_EUC ? loss : 2.0 * loss);
}

static int report(const tsr_nmf_params *prm, int it, double loss) {
  return prm->on_check ? prm->on_check(prm->ctx, it, loss) : 0;
}


int tsr_nmf_track_start(tracker *tr, const tsr_nmf_params *prm, const float *V, const float *W,
                       const float *H, int64_t n, int64_t p, int k, int parts,
                       tsr_pool *pool) {
  tr->prm = prm;
  tr->given = 0;
  tr->pool = pool;
  tr->V = V, tr->W = W, tr->H = H;
  tr->n = n, tr->p = p, tr->k = k, tr->parts = parts;
  tr->cls = beta_class(prm->beta);
  tr->loss = loss_pool(tr->pool, V, W, H, n, p, k, prm->beta, parts);
  tr->e_init = tr->prev = sk_error(tr->cls, tr->loss);
  tr->checked = 1;
  return report(prm, 0, tr->loss);
}

int tsr_nmf_track_iteration(tracker *tr, int it) {
  tr->checked = 0;
  if (it % tr->prm->every != 0) return 0;
  if (!tr->given)
    tr->loss = loss_pool(tr->pool, tr->V, tr->W, tr->H, tr->n, tr->p, tr->k, tr->prm->beta,
                         tr->parts);
  tr->given = 0;
  tr->checked = 1;
  if (report(tr->prm, it, tr->loss)) return 1;
  if (tr->prm->tol > 0.0) {
    double e = sk_error(tr->cls, tr->loss);
    if (tr->e_init == 0.0 || (tr->prev - e) / tr->e_init < tr->prm->tol) return 2;
    tr->prev = e;
  }
  return 0;
}

double tsr_nmf_track_final(tracker *tr) {
  if (!tr->checked)
    tr->loss = loss_pool(tr->pool, tr->V, tr->W, tr->H, tr->n, tr->p, tr->k, tr->prm->beta,
                         tr->parts);
  return tr->loss;
}
