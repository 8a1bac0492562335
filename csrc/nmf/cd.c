/* Coordinate-descent (HALS) NMF for the Euclidean loss, with scikit-learn 1.2's "cd"
 * semantics: each iteration sweeps W's components with V·Hᵀ and H·Hᵀ, then H's components
 * with Wᵀ·V and Wᵀ·W, projecting onto x >= 0; l1 enters the gradient, l2 the hessian; it
 * stops when the projected-gradient violation falls to tol times the first iteration's.
 *
 * The two products with V are skinny (k is small), where BLAS runs far below the machine's
 * peak. So the H half-step and the next iteration's V·Hᵀ share one pass over V in column
 * blocks that stay in cache (cd_pass.c): Gᵀ = V_Jᵀ·W, sweep H_J, then V·Hᵀ += V_J·H_Jᵀ.
 * Columns of H are independent given Wᵀ·W, so this is the same algorithm, only fused.
 * The same pass serves the Euclidean multiplicative updates in scikit-learn's order (W then
 * H: tsr_nmf_mu_euc_fit), with the MU rule in place of the coordinate sweep. A pass can also
 * sum the exact objective column by column while each column is in cache, which gives the
 * final loss (and MU's checks) without a read of V of their own. */
#include "cd_pass.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

static void cd_gram_mirror(double *G, int k) {
  for (int t = 0; t < k; t++)
    for (int r = t + 1; r < k; r++) G[r + (int64_t)t * k] = G[t + (int64_t)r * k];
}

/* Wᵀ·W on the kernels' choice: AVX-512 where the table has it. */
static void cd_gram_w(const nmf_cd_kernels *kr, const float *W, int64_t n, int k, double *G) {
  if (kr->gram_acc && k <= 16 && n >= 8) {
    kr->gram_acc(W, n, n, k, G);
    return;
  }
  cd_gram_acc(W, n, n, k, G);
}

static void cd_gram_to_q(const double *G, int k, float l2, float *Q) {
  for (int64_t e = 0; e < (int64_t)k * k; e++) Q[e] = (float)G[e];
  for (int t = 0; t < k; t++) Q[t + (int64_t)t * k] += l2;
}

/* tr(A·B) for symmetric k x k A, B: the Frobenius inner product. */
static double cd_frob(const double *A, const double *B, int k) {
  double s = 0.0;
  for (int64_t e = 0; e < (int64_t)k * k; e++) s += A[e] * B[e];
  return s;
}

/* Allocation that tells the memory cap from a failed malloc. */
static void *cd_alloc(size_t count, size_t size, int *status) {
  size_t bytes;
  if (tsr_mul_size(count, size, &bytes) != 0) {
    if (*status == TSR_OK) *status = TSR_ELIMIT;
    return NULL;
  }
  void *ptr = tsr_alloc(bytes);
  if (ptr == NULL && *status == TSR_OK)
    *status = tsr_alloc_failure(bytes, "coordinate descent's scratch", NULL);
  return ptr;
}



typedef float cd_v8 __attribute__((vector_size(32))); /* two SSE or one AVX register */

/* The Euclidean multiplicative update of W, W ← W ∘ (V·Hᵀ) / (W·(H·Hᵀ) + l1 + l2 W), 0
 * denominators guarded as scikit-learn does; hh is H·Hᵀ in float (as scikit-learn has it),
 * 8 rows at a time with the k denominators of a row block in den (8k floats). */
static void cd_mu_w(float *W, int64_t n, int k, const float *VHt, const double *HHt, float l1,
                    float l2, float *hh, float *den) {
  for (int e = 0; e < k * k; e++) hh[e] = (float)HHt[e];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int a = 0; a < k; a++) {
      cd_v8 d = {0, 0, 0, 0, 0, 0, 0, 0}, w;
      for (int b = 0; b < k; b++) {
        memcpy(&w, W + (int64_t)b * n + i, sizeof w);
        d += w * hh[b * k + a];
      }
      memcpy(den + 8 * a, &d, sizeof d);
    }
    for (int a = 0; a < k; a++) {
      float *wa = W + (int64_t)a * n + i;
      const float *na = VHt + (int64_t)a * n + i;
      for (int l = 0; l < 8; l++) {
        float d = den[8 * a + l];
        if (l1 > 0.0f) d += l1;
        if (l2 > 0.0f) d += l2 * wa[l];
        wa[l] *= na[l] / (d == 0.0f ? FLT_EPSILON : d);
      }
    }
  }
  for (; i < n; i++) {
    for (int a = 0; a < k; a++) {
      float d = 0.0f;
      for (int b = 0; b < k; b++) d += W[i + (int64_t)b * n] * hh[b * k + a];
      den[a] = d;
    }
    for (int a = 0; a < k; a++) {
      float d = den[a], *w = W + i + (int64_t)a * n;
      if (l1 > 0.0f) d += l1;
      if (l2 > 0.0f) d += l2 * *w;
      *w *= VHt[i + (int64_t)a * n] / (d == 0.0f ? FLT_EPSILON : d);
    }
  }
}

static int cd_report(const tsr_nmf_params *prm, int it, double loss) {
  return prm->on_check != NULL ? prm->on_check(prm->ctx, it, loss < 0.0 ? 0.0 : loss) : 0;
}

/* A fit's scratch: V·Hᵀ, the Gram matrices, Vᵀ·W when W is fixed, MU's float copies, each
 * worker's block buffers, the chunks' partial sums, and the pool. */
typedef struct cd_scratch {
  float *VHt, *Qw, *Qh, *Gfix, *mus, *freeW;
  double *WtW, *HHt;
  cd_worker *wk;
  cd_chunk *ch;
  int want, nchunks;
  tsr_pool *pool;
} cd_scratch;

/* Closes what cd_scratch_open opened (all of it, or what it had when it failed). */
static void cd_scratch_close(cd_scratch *s) {
  tsr_pool_close(s->pool);
  for (int w = 0; s->wk != NULL && w < s->want; w++) {
    tsr_free(s->wk[w].Gt);
    tsr_free(s->wk[w].Ht);
    tsr_free(s->wk[w].den);
    tsr_free(s->wk[w].free);
  }
  tsr_free(s->wk);
  for (int c = 0; s->ch != NULL && c < s->nchunks; c++) {
    tsr_free(s->ch[c].P);
    tsr_free(s->ch[c].hh);
  }
  tsr_free(s->ch);
  tsr_free(s->mus);
  tsr_free(s->freeW);
  tsr_free(s->Gfix);
  tsr_free(s->HHt);
  tsr_free(s->WtW);
  tsr_free(s->Qh);
  tsr_free(s->Qw);
  tsr_free(s->VHt);
  memset(s, 0, sizeof *s);
}

/* The scratch for `want` workers and nchunks chunks of whole blocks; TSR_OK, or the first
 * failure (TSR_ENOMEM, TSR_ELIMIT) with s to be closed all the same. */
static int cd_scratch_open(cd_scratch *s, int64_t n, int64_t p, int k, const nmf_cd_kernels *kr,
                           int64_t nblocks, int nchunks, int want, int gfix, int mu,
                           const tsr_nmf_params *prm) {
  int status = TSR_OK;
  const size_t kk = (size_t)k * (size_t)k, nk = (size_t)n * (size_t)k;
  memset(s, 0, sizeof *s);
  s->want = want;
  s->nchunks = nchunks;
  s->VHt = cd_alloc(nk, sizeof(float), &status);
  s->Qw = cd_alloc(kk, sizeof(float), &status);
  s->Qh = cd_alloc(kk, sizeof(float), &status);
  s->WtW = cd_alloc(kk, sizeof(double), &status);
  s->HHt = cd_alloc(kk, sizeof(double), &status);
  s->Gfix = gfix ? cd_alloc((size_t)k * (size_t)p, sizeof(float), &status) : NULL;
  s->mus = mu ? cd_alloc(kk + 8 * (size_t)k, sizeof(float), &status) : NULL;
  s->freeW = prm->frozen_W != NULL
               ? cd_alloc(tsr_nmf_cd_free_scratch(n, k), sizeof(float), &status) : NULL;
  cd_worker *wk = s->wk = cd_alloc((size_t)want, sizeof(cd_worker), &status);
  if (wk != NULL) memset(wk, 0, sizeof(cd_worker) * (size_t)want);
  for (int w = 0; wk != NULL && w < want; w++) {
    wk[w].Gt = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
    wk[w].Ht = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
    wk[w].den = cd_alloc((size_t)CD_BLOCK_MAX * (size_t)k, sizeof(float), &status);
    if (prm->frozen_H != NULL)
      wk[w].free = cd_alloc(tsr_nmf_cd_free_scratch(CD_BLOCK_MAX, k), sizeof(float), &status);
  }
  cd_chunk *ch = s->ch = cd_alloc((size_t)nchunks, sizeof(cd_chunk), &status);
  if (ch != NULL) memset(ch, 0, sizeof(cd_chunk) * (size_t)nchunks);
  for (int c = 0; ch != NULL && c < nchunks; c++) {
    /* Whole blocks per chunk, as even as they come. */
    ch[c].j_lo = nblocks * c / nchunks * kr->block;
    ch[c].j_hi = nblocks * (c + 1) / nchunks * kr->block;
    if (ch[c].j_hi > p) ch[c].j_hi = p;
    ch[c].P = cd_alloc(nk, sizeof(float), &status);
    ch[c].hh = cd_alloc(kk, sizeof(double), &status);
  }
  s->pool = status == TSR_OK ? tsr_pool_open(want) : NULL;
  if (status == TSR_OK && s->pool == NULL) status = TSR_ENOMEM;
  return status;
}

/* Long on purpose (~200 lines): the iteration's W step, fused H pass and the two rules'
 * checks share the fit's running state (cross, exact, have_vht, the violations), which
 * functions of their own would pass around as one more struct.
 * Both solvers share the pass: HALS (rule CD_RULE_HALS, scikit-learn's "cd") and the
 * Euclidean multiplicative updates in scikit-learn's order, W then H (CD_RULE_MU, both
 * factors updated). One read of V per iteration either way. Check 0 and every `every`
 * iterations are reported; the final loss is exact, summed in the pass that ends the fit
 * when there is one (max_iter reached), else by a pass of its own. */
static int cd_solve(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                    const tsr_nmf_params *prm, int rule, tsr_nmf_result *res, tsr_error *err) {
  if (res != NULL) {
    res->iterations = 0;
    res->converged = 0;
    res->stopped = 0;
    res->loss = 0.0;
  }
  int status = TSR_OK; /* tsr_nmf_fit checked the parameters, W and H */
  size_t np_, nk, kp;
  if (tsr_mul_size((size_t)n, (size_t)p, &np_) != 0 ||
      tsr_mul_size((size_t)n, (size_t)k, &nk) != 0 ||
      tsr_mul_size((size_t)k, (size_t)p, &kp) != 0 || np_ > (size_t)INT64_MAX) {
    tsr_seterror(err, "a %lld x %lld factorisation with k %d is too large", (long long)n,
                 (long long)p, k);
    return TSR_ELIMIT;
  }

  const int mu = rule == CD_RULE_MU;
  /* The MU rule updates both factors (tsr_nmf_fit sends it nothing else). */
  const int upd_W = mu || prm->update_W != 0, upd_H = mu || prm->update_H != 0;
  const nmf_update_consts uc = tsr_nmf_update_consts(prm, n, p);
  const float l1w = uc.l1W, l2w = uc.l2W, l1h = uc.l1H, l2h = uc.l2H;

  const nmf_cd_kernels *kr = tsr_nmf_cd_kernels();
  const int64_t nblocks = (p + kr->block - 1) / kr->block;
  /* Chunks of at least NMF_CHUNK_MIN columns: below that, zeroing and adding up the chunks'
   * n x k partial sums costs more than the balance they buy. From the shape only, so the
   * result never depends on the thread count. */
  int64_t by_size = p / NMF_CHUNK_MIN;
  if (by_size < 1) by_size = 1;
  if (by_size > nblocks) by_size = nblocks;
  const int nchunks = by_size < NMF_CHUNKS ? (int)by_size : NMF_CHUNKS;
  int want = prm->threads > 0 ? prm->threads : openblas_get_num_threads();
  if (want < 1) want = 1;
  if (want > TSR_POOL_MAX_THREADS) want = TSR_POOL_MAX_THREADS;
  if (want > nchunks) want = nchunks;

  const size_t kk = (size_t)k * (size_t)k;
  cd_scratch sc;
  status = cd_scratch_open(&sc, n, p, k, kr, nblocks, nchunks, want, upd_H && !upd_W, mu, prm);
  if (status != TSR_OK) {
    tsr_seterror(err, "cannot allocate the %s solver's scratch for a %lld x %lld "
                 "factorisation with k %d", mu ? "mu" : "cd", (long long)n, (long long)p, k);
    goto done;
  }
  float *VHt = sc.VHt, *Qw = sc.Qw, *Qh = sc.Qh, *Gfix = sc.Gfix, *mus = sc.mus;
  double *WtW = sc.WtW, *HHt = sc.HHt;
  cd_chunk *ch = sc.ch;
  cd_worker *wk = sc.wk;
  tsr_pool *pool = sc.pool;

  cd_pass ps = {.mode = CD_PASS_VHT, .V = V, .n = n, .p = p, .k = k, .W = W, .H = H,
                .Gfix = Gfix, .Qh = Qh, .l1h = l1h, .frozen_H = prm->frozen_H, .kr = kr,
                .wk = wk, .ch = ch,
                .nchunks = nchunks, .rule = rule, .WtW = WtW, .l2h = l2h};

  /* The state every iteration starts from: V·Hᵀ and H·Hᵀ for the current H, Wᵀ·W. */
  memset(HHt, 0, sizeof(double) * kk);
  for (int64_t j = 0; j < p; j++) {
    const float *h = H + j * k;
    for (int t = 0; t < k; t++)
      for (int r = t; r < k; r++) HHt[t + (int64_t)r * k] += (double)h[t] * (double)h[r];
  }
  cd_gram_mirror(HHt, k);
  memset(WtW, 0, sizeof(double) * kk);
  cd_gram_w(kr, W, n, k, WtW);
  cd_gram_mirror(WtW, k);
  /* The first pass over V also checks it and sums ‖V‖²: V's one scan before the iterations.
   * It writes only scratch, so a bad V leaves W and H as they were. MU's checks are exact
   * (scikit-learn's tol rule compares them), so this pass sums check 0 too; HALS reports
   * check 0 from ‖V‖² − 2 tr(Wᵀ·V·Hᵀ) + tr(Wᵀ·W·H·Hᵀ), exact only without V·Hᵀ. */
  int have_vht = upd_W || !upd_H || prm->max_iter == 0; /* else W is fixed: Gfix */
  ps.mode = have_vht ? CD_PASS_VHT : CD_PASS_GT;
  ps.check_v = 1;
  ps.want_loss = mu || !have_vht;
  tsr_nmf_cd_pass_run(pool, &ps);
  ps.check_v = 0;
  double vnorm2 = 0.0, exact = 0.0;
  int bad = 0, exact_known = ps.want_loss;
  for (int c = 0; c < nchunks; c++) {
    vnorm2 += ch[c].vnorm2;
    exact += ch[c].loss;
    bad |= ch[c].bad;
  }
  if (bad) {
    status = tsr_check_entries(V, n, p, "V", err); /* names the first bad entry */
    goto done;
  }
  if (have_vht) tsr_nmf_cd_reduce_vht(kr, VHt, ch, nchunks, nk);

  double cross = 0.0; /* tr(Hᵀ·Wᵀ·V) for the current W and H */
  int cross_known = 0;
  double violation_init = 0.0;
  int it = 0;
  int converged = 0, stopped = 0;
  double loss0 = exact;
  if (!exact_known) {
    cross = cd_dot(W, VHt, nk);
    cross_known = 1;
    loss0 = vnorm2 - 2.0 * cross + cd_frob(WtW, HHt, k);
  }
  /* scikit-learn's MU convergence measure, sqrt(2 x its divergence) = sqrt(ours). */
  double e_init = sqrt(loss0 > 0.0 ? loss0 : 0.0), e_prev = e_init;
  status = tsr_nmf_guard_loss(prm, 0, loss0, err);
  if (status != TSR_OK) goto done;
  if (cd_report(prm, 0, loss0)) {
    stopped = 1;
    goto finish;
  }
  if (!upd_W && !upd_H) goto finish; /* nothing to fit: report the given factors' loss */

  for (it = 1; it <= prm->max_iter; it++) {
    const int last = it == prm->max_iter, check = it % prm->every == 0;
    double violation = 0.0;
    if (upd_W) {
      if (mu) {
        if (kr->mu_w && k <= 16) {
          for (size_t e = 0; e < kk; e++) mus[e] = (float)HHt[e]; /* as scikit-learn has it */
          kr->mu_w(W, n, k, VHt, mus, l1w, l2w);
        } else
          cd_mu_w(W, n, k, VHt, HHt, l1w, l2w, mus, mus + kk);
      } else {
        cd_gram_to_q(HHt, k, l2w, Qw);
        violation += prm->frozen_W != NULL
                       ? tsr_nmf_cd_sweep_free(kr, W, n, n, k, VHt, n, l1w, Qw, prm->frozen_W,
                                               sc.freeW)
                       : ps.kr->sweep(W, n, n, k, VHt, n, l1w, Qw);
      }
      memset(WtW, 0, sizeof(double) * kk);
      cd_gram_w(kr, W, n, k, WtW);
      cd_gram_mirror(WtW, k);
    }
    exact_known = 0;
    if (upd_H) {
      if (!mu) cd_gram_to_q(WtW, k, l2h, Qh);
      ps.mode = CD_PASS_FUSED;
      ps.need_vht = upd_W && !last; /* the last iteration's would go unused */
      ps.want_loss = last || (mu && check);
      tsr_nmf_cd_pass_run(pool, &ps);
      memset(HHt, 0, sizeof(double) * kk);
      cross = 0.0;
      exact = 0.0;
      for (int c = 0; c < nchunks; c++) {
        violation += ch[c].viol;
        cross += ch[c].cross;
        exact += ch[c].loss;
        for (size_t e = 0; e < kk; e++) HHt[e] += ch[c].hh[e];
      }
      cd_gram_mirror(HHt, k);
      if (ps.need_vht) tsr_nmf_cd_reduce_vht(kr, VHt, ch, nchunks, nk);
      have_vht = ps.need_vht;
      cross_known = 1;
      exact_known = ps.want_loss;
    } else {
      cross_known = 0;
    }
    status = tsr_nmf_guard_factors(prm, W, n, k, H, p, k, it, err);
    if (status != TSR_OK) goto done;

    if (mu) {
      if (check) {
        /* As mu.c's solver: report, then scikit-learn's tol rule on the change. */
        status = tsr_nmf_guard_loss(prm, it, exact, err);
        if (status != TSR_OK) goto done;
        if (cd_report(prm, it, exact)) {
          stopped = 1;
        } else if (prm->tol > 0.0) {
          double e = sqrt(exact > 0.0 ? exact : 0.0);
          double base = prm->tol_rule == TSR_NMF_TOL_LAST ? e_prev : e_init;
          if (base == 0.0 || (e_prev - e) / base < prm->tol) converged = 1;
          e_prev = e;
        }
      }
    } else {
      if (it == 1) violation_init = violation;
      /* scikit-learn stops when the first violation is 0 or the ratio falls to tol. */
      if (violation_init == 0.0 || violation / violation_init <= prm->tol) converged = 1;
      if (prm->on_check != NULL && check) {
        if (!cross_known) {
          cross = cd_dot(W, VHt, nk);
          cross_known = 1;
        }
        double loss = exact_known ? exact : vnorm2 - 2.0 * cross + cd_frob(WtW, HHt, k);
        status = tsr_nmf_guard_loss(prm, it, loss, err);
        if (status != TSR_OK) goto done;
        if (cd_report(prm, it, loss) != 0) stopped = 1;
      }
    }
    if (converged || stopped) break;
  }
  if (it > prm->max_iter) it = prm->max_iter;

finish:
  if (!exact_known) {
    ps.mode = CD_PASS_LOSS;
    ps.want_loss = 1;
    tsr_nmf_cd_pass_run(pool, &ps);
    exact = 0.0;
    for (int c = 0; c < nchunks; c++) exact += ch[c].loss;
  }
  if (res != NULL) {
    res->loss = exact < 0.0 ? 0.0 : exact;
    res->iterations = it;
    res->converged = converged;
    res->stopped = stopped;
  }

done:
  cd_scratch_close(&sc);
  return status;
}

int tsr_nmf_cd_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                   const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  return cd_solve(V, n, p, k, W, H, prm, CD_RULE_HALS, res, err);
}

int tsr_nmf_mu_euc_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                       const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  return cd_solve(V, n, p, k, W, H, prm, CD_RULE_MU, res, err);
}
