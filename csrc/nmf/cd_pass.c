/* The coordinate-descent pass over V: per block of columns Gᵀ = V_Jᵀ·W, the H update of
 * the block (the coordinate sweep, or the Euclidean MU rule), then V·Hᵀ += V_J·H_Jᵀ while
 * the block is in cache; or V·Hᵀ, Vᵀ·W or the exact objective alone. Chunks of columns keep
 * their partial sums apart, added in chunk order, so the thread count never shows. */
#include "cd_pass.h"

#include <float.h>
#include <string.h>

/* H's block (k x nb, column-major in H) into Ht (nb x k), and back. */
static void cd_h_to_ht(const float *Hj, int k, int nb, float *Ht) {
  for (int jj = 0; jj < nb; jj++)
    for (int t = 0; t < k; t++) Ht[jj + (int64_t)t * nb] = Hj[t + (int64_t)jj * k];
}

static void cd_ht_to_h(const float *Ht, int k, int nb, float *Hj) {
  for (int jj = 0; jj < nb; jj++)
    for (int t = 0; t < k; t++) Hj[t + (int64_t)jj * k] = Ht[jj + (int64_t)t * nb];
}

static double cd_block_norm2(const cd_pass *ps, const float *Vj, int nb, int *bad) {
  double s = 0.0;
  for (int jj = 0; jj < nb; jj++) s += ps->kr->col_norm2(Vj + (int64_t)jj * ps->n, ps->n, bad);
  return s;
}

/* The multiplicative update of a block of H held transposed (Ht, nb x k) from its Gᵀ
 * (nb x k): the same arithmetic as mu.c's mu_update_h, so scikit-learn's guards. */
static void cd_mu_block(float *Ht, int nb, int k, const float *Gt, const double *WtW, float l1,
                        float l2, float *den) {
  /* Every denominator first (the update uses the old column), the block's columns side by
   * side: independent sums, not one chain per entry. */
  for (int t = 0; t < k; t++) {
    double s[CD_BLOCK_MAX] = {0};
    for (int b = 0; b < k; b++) {
      const double q = WtW[t * k + b];
      const float *hb = Ht + (int64_t)b * nb;
      for (int jj = 0; jj < nb; jj++) s[jj] += q * hb[jj];
    }
    for (int jj = 0; jj < nb; jj++) {
      float d = (float)s[jj];
      if (l1 > 0.0f) d += l1;
      if (l2 > 0.0f) d += l2 * Ht[jj + (int64_t)t * nb];
      den[jj + (int64_t)t * nb] = d == 0.0f ? FLT_EPSILON : d;
    }
  }
  for (int64_t e = 0; e < (int64_t)nb * k; e++) Ht[e] *= Gt[e] / den[e];
}

size_t tsr_nmf_cd_free_scratch(int64_t m, int k) {
  return 2 * (size_t)m * (size_t)k + (size_t)k * (size_t)k;
}

double tsr_nmf_cd_sweep_free(const nmf_cd_kernels *kr, float *X, int64_t m, int64_t ldx, int k,
                             const float *A, int64_t lda, float l1, const float *Q,
                             const unsigned char *frozen, float *scratch) {
  int kf = 0;
  for (int t = 0; t < k; t++) kf += !frozen[t];
  if (kf == 0) return 0.0;
  float *Xf = scratch, *Af = Xf + m * kf, *Qf = Af + m * kf;
  for (int t = 0, a = 0; t < k; t++) {
    if (frozen[t]) continue;
    memcpy(Xf + a * m, X + t * ldx, (size_t)m * sizeof(float));
    float *af = Af + a * m;
    memcpy(af, A + t * lda, (size_t)m * sizeof(float));
    for (int r = 0, b = 0; r < k; r++) {
      const float q = Q[r + (int64_t)t * k];
      if (!frozen[r]) {
        Qf[a + (int64_t)(b++) * kf] = q;
        continue;
      }
      const float *xr = X + r * ldx;
      for (int64_t i = 0; i < m; i++) af[i] -= xr[i] * q;
    }
    a++;
  }
  double viol = kr->sweep(Xf, m, m, kf, Af, m, l1, Qf);
  for (int t = 0, a = 0; t < k; t++)
    if (!frozen[t]) memcpy(X + t * ldx, Xf + (a++) * m, (size_t)m * sizeof(float));
  return viol;
}

static void cd_pass_run_chunk(const cd_pass *ps, cd_chunk *me, const cd_worker *scratch) {
  const int64_t n = ps->n;
  const int k = ps->k;
  const int fused = ps->mode == CD_PASS_FUSED;
  const int vht = ps->mode == CD_PASS_VHT || (fused && ps->need_vht);
  me->viol = 0.0;
  me->cross = 0.0;
  me->vnorm2 = 0.0;
  me->loss = 0.0;
  me->bad = 0;
  memset(me->hh, 0, sizeof(double) * (size_t)k * (size_t)k);
  if (vht) memset(me->P, 0, sizeof(float) * (size_t)n * (size_t)k);
  const int64_t block = ps->kr->block;
  for (int64_t j0 = me->j_lo; j0 < me->j_hi; j0 += block) {
    const int nb = (int)(me->j_hi - j0 < block ? me->j_hi - j0 : block);
    const float *Vj = ps->V + j0 * n;
    const float *Vnext = j0 + block < me->j_hi ? Vj + block * n : NULL;
    float *Gt = scratch->Gt, *Ht = scratch->Ht;
    float *Hj = ps->H + j0 * k;
    if (ps->mode == CD_PASS_LOSS) {
      me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      continue;
    }
    if (ps->mode == CD_PASS_GT) {
      ps->kr->gt_block(ps->W, n, k, Vj, nb, Gt, Vnext);
      if (ps->check_v) me->vnorm2 += cd_block_norm2(ps, Vj, nb, &me->bad);
      if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      for (int t = 0; t < k; t++)
        memcpy(ps->Gfix + j0 + (int64_t)t * ps->p, Gt + (int64_t)t * nb,
               sizeof(float) * (size_t)nb);
      continue;
    }
    if (ps->mode == CD_PASS_VHT) {
      cd_h_to_ht(Hj, k, nb, Ht);
      ps->kr->vht_acc(me->P, n, k, Vj, nb, Ht, Vnext);
      if (ps->check_v) me->vnorm2 += cd_block_norm2(ps, Vj, nb, &me->bad); /* from cache */
      if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
      continue;
    }
    if (ps->Gfix != NULL) {
      for (int t = 0; t < k; t++)
        memcpy(Gt + (int64_t)t * nb, ps->Gfix + j0 + (int64_t)t * ps->p,
               sizeof(float) * (size_t)nb);
    } else {
      ps->kr->gt_block(ps->W, n, k, Vj, nb, Gt, vht ? NULL : Vnext);
    }
    cd_h_to_ht(Hj, k, nb, Ht);
    if (ps->rule != CD_RULE_MU && ps->frozen_H != NULL)
      me->viol += tsr_nmf_cd_sweep_free(ps->kr, Ht, nb, nb, k, Gt, nb, ps->l1h, ps->Qh,
                                        ps->frozen_H, scratch->free);
    else if (ps->rule != CD_RULE_MU)
      me->viol += ps->kr->sweep(Ht, nb, nb, k, Gt, nb, ps->l1h, ps->Qh);
    else if (ps->kr->mu_block && k <= 16 && nb <= 8)
      ps->kr->mu_block(Ht, nb, k, Gt, ps->WtW, ps->l1h, ps->l2h);
    else
      cd_mu_block(Ht, nb, k, Gt, ps->WtW, ps->l1h, ps->l2h, scratch->den);
    me->cross += cd_dot(Ht, Gt, (size_t)nb * (size_t)k);
    cd_gram_acc(Ht, nb, nb, k, me->hh);
    if (vht) ps->kr->vht_acc(me->P, n, k, Vj, nb, Ht, Vnext);
    cd_ht_to_h(Ht, k, nb, Hj);
    if (ps->want_loss) me->loss += tsr_nmf_loss_cols(ps->V, ps->W, ps->H, n, j0, j0 + nb, k, 2.0);
  }
}

/* Worker w's part of a pass: chunks until none is left. */
static void cd_pass_run_worker(cd_pass *ps, int w) {
  int c;
  while ((c = atomic_fetch_add(&ps->next, 1)) < ps->nchunks)
    cd_pass_run_chunk(ps, &ps->ch[c], &ps->wk[w]);
}

static void cd_pass_worker_fn(void *ctx, int w) { cd_pass_run_worker(ctx, w); }

void tsr_nmf_cd_pass_run(tsr_pool *pool, cd_pass *ps) {
  atomic_store(&ps->next, 0);
  tsr_pool_each(pool, cd_pass_worker_fn, ps);
}

void tsr_nmf_cd_reduce_vht(const nmf_cd_kernels *kr, float *VHt, const cd_chunk *ch, int nchunks,
                   size_t nk) {
  if (kr->reduce_vht) {
    const float *P[NMF_CHUNKS];
    for (int c = 0; c < nchunks; c++) P[c] = ch[c].P;
    kr->reduce_vht(VHt, P, nchunks, nk);
    return;
  }
  memcpy(VHt, ch[0].P, sizeof(float) * nk);
  for (int c = 1; c < nchunks; c++)
    for (size_t e = 0; e < nk; e++) VHt[e] += ch[c].P[e];
}
