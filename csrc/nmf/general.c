/* The general multiplicative-update path, plainly written with sgemm, for what the fused
 * passes (mu.c, mu_gemm.c, cd.c's MU rule) do not carry: weights and frozen components.
 *
 * Weighted NMF: every entry of V counts with its weight M[i, j] >= 0 in the objective
 * sum M d_beta(V | WH) (a weight of 0 holds the entry out, as masked cross-validation does).
 * MU, any beta: the unweighted rules with M inside both terms, Y = WH formed by sgemm,
 *   H <- H * [W'(M V Y^(beta-2)) / (W'(M Y^(beta-1)) + l1 + l2 H)]^gamma
 * and the same for W with H' on the right; gamma, the guards and the flush below FLUSH as
 * the unweighted solvers (mu.c). Each half-step costs three products of n x p x k.
 * CD (Euclidean): each iteration is one coordinate-descent iteration (cd.c) on the EM
 * completion V~ = M'V + (1 - M')WH with M' = M / max M: the unweighted objective on V~ is
 * the weighted one plus sum (1 - M')(WH - W0H0)^2, which vanishes at the current factors,
 * so each iteration lowers the weighted objective (the alphas are divided by max M to keep
 * the same minimiser).
 *
 * Frozen components (prm->frozen_W, frozen_H): a half-step leaves their entries as they
 * are; the rules are separable by component, so the others still lower the objective.
 *
 * Temporal continuity (prm->smooth_H, Virtanen 2007): component a's cost grows by
 * c_a = w_a D0 sum_j (h_j - h_j-1)^2 / S with S = sum_j h_j^2 and D0 the objective at the
 * start (so that w is the same for any scale of V: c_a is a share of the divergence); its
 * gradient's positive part (2 w_a D0 m_j h_j / S, m_j the neighbours of frame j) joins H's
 * denominator, its negative part (2 w_a D0 ((h_j-1 + h_j+1) / S + h_j D / S^2), D the sum
 * of squared steps) the numerator: Virtanen's rule, not monotone by construction. */
#include "internal.h"
#include "portable.h"

#include <cblas.h>
#include <math.h>

double tsr_nmf_loss_weighted_cols(const float *V, const float *M, const float *W, const float *H,
                                  int64_t n, int64_t j0, int64_t j1, int k, double beta) {
  int cls = beta_class(beta);
  double s = 0.0;
  for (int64_t j = j0; j < j1; j++) {
    const float *v = V + j * n, *m = M + j * n, *h = H + j * k;
    for (int64_t i = 0; i < n; i++) {
      if (m[i] == 0.0f) continue; /* held out: 0 even where d is not finite */
      double y = 0.0;
      for (int a = 0; a < k; a++) y += (double)W[i + a * n] * h[a];
      s += (double)m[i] * entry_divergence(cls, beta, v[i], y);
    }
  }
  return s;
}

/* The scratch of a weighted fit: Y = WH, the two weighted terms R and Q (n x p each), and
 * the numerators and denominators of H's step (k x p) and W's (n x k). */
typedef struct weighted_state {
  const float *V, *M;
  float *W, *H;
  int64_t n, p;
  int k;
  double beta;
  float *Y, *R, *Q, *numH, *denH, *numW, *denW;
  double scale; /* the objective at the start: temporal continuity's unit */
} weighted_state;

static int weighted_alloc(weighted_state *s, tsr_error *err) {
  size_t np_, bytes;
  size_t nk = (size_t)s->n * (size_t)s->k, kp = (size_t)s->k * (size_t)s->p;
  if (tsr_mul_size((size_t)s->n, (size_t)s->p, &np_) != 0 || tsr_mul_size(np_, 3, &bytes) != 0 ||
      (bytes += 2 * (nk + kp)) < np_ || tsr_mul_size(bytes, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "the scratch space of a weighted %lld x %lld fit overflows",
                 (long long)s->n, (long long)s->p);
    return TSR_ELIMIT;
  }
  float *block = tsr_alloc(bytes);
  if (block == NULL) return tsr_alloc_failure(bytes, "the weighted fit's scratch space", err);
  s->Y = block;
  s->R = s->Y + np_;
  s->Q = s->R + np_;
  s->numH = s->Q + np_;
  s->denH = s->numH + kp;
  s->numW = s->denH + kp;
  s->denW = s->numW + nk;
  return TSR_OK;
}

static void form_wh(weighted_state *s) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)s->n, (int)s->p, s->k, 1.0f, s->W,
              (int)s->n, s->H, s->k, 0.0f, s->Y, (int)s->n);
}

/* R = M V g2(Y)^(beta-2) and Q = M g1(Y)^(beta-1), the guards of prep_beta (M NULL: 1). */
static void weighted_terms(weighted_state *s) {
  const size_t count = (size_t)s->n * (size_t)s->p;
  const int cls = beta_class(s->beta);
  const float *V = s->V, *M = s->M, *Y = s->Y;
  float *R = s->R, *Q = s->Q;
  const float br = (float)(s->beta - 2.0), bq = (float)(s->beta - 1.0);
  const int guard_r = s->beta < 2.0, guard_q = s->beta < 1.0;
  for (size_t e = 0; e < count; e++) {
    float y = Y[e], m = M != NULL ? M[e] : 1.0f;
    switch (cls) {
      case CLS_EUC:
        R[e] = m * V[e];
        Q[e] = m * y;
        break;
      case CLS_KL:
        R[e] = m * V[e] / (y < FLT_MIN ? EPS32 : y);
        Q[e] = m;
        break;
      default: {
        float yr = guard_r && y < FLT_MIN ? EPS32 : y;
        float yq = guard_q ? yr : y;
        R[e] = m * V[e] * powf(yr, br);
        Q[e] = m * powf(yq, bq);
      }
    }
  }
}

/* F <- F * [num / (den + l1 + l2 F)]^gamma, entries below FLUSH set to 0 when flush; F is
 * rows x cols, and a component is a column (W: by = 0) or a row (H: by = 1); frozen ones
 * are left as they are. */
static void mu_apply(float *F, const float *num, const float *den, int64_t rows, int64_t cols,
                     int by, const unsigned char *frozen, float l1, float l2, float gamma,
                     int flush) {
  for (int64_t j = 0; j < cols; j++) {
    if (by == 0 && frozen != NULL && frozen[j]) continue;
    for (int64_t i = 0; i < rows; i++) {
      if (by == 1 && frozen != NULL && frozen[i]) continue;
      size_t e = (size_t)j * (size_t)rows + (size_t)i;
      float d = den[e] + l1 + l2 * F[e];
      float ratio = num[e] / (d == 0.0f ? EPS32 : d);
      float f = F[e] * (gamma == 1.0f ? ratio : powf(ratio, gamma));
      F[e] = flush && f < FLUSH ? 0.0f : f;
    }
  }
}

/* Adds each smoothed row's continuity gradient (weights smooth times scale, the objective at
 * the start) to H's numerator (negative part) and denominator (positive part), from the
 * current H (k x p). */
static void add_continuity(const float *H, int k, int64_t p, const double *smooth, double scale,
                           float *numH, float *denH) {
  for (int a = 0; a < k; a++) {
    const double w = smooth[a];
    if (!(w > 0.0) || p < 2) continue;
    double S = 0.0, D = 0.0;
    for (int64_t j = 0; j < p; j++) {
      double h = H[a + j * k];
      S += h * h;
      if (j > 0) D += (h - H[a + (j - 1) * k]) * (h - H[a + (j - 1) * k]);
    }
    if (S == 0.0) continue;
    const double c = 2.0 * w * scale / S;
    for (int64_t j = 0; j < p; j++) {
      const size_t e = (size_t)(a + j * k);
      double h = H[e], around = 0.0;
      int neighbours = 0;
      if (j > 0) around += H[e - (size_t)k], neighbours++;
      if (j + 1 < p) around += H[e + (size_t)k], neighbours++;
      denH[e] += (float)(c * neighbours * h);
      numH[e] += (float)(c * around + c * h * D / S);
    }
  }
}

/* numH = W'R, denH = W'Q: H's step, from the terms of the current Y. */
static void terms_h(weighted_state *s) {
  int n = (int)s->n, p = (int)s->p, k = s->k;
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, p, n, 1.0f, s->W, n, s->R, n, 0.0f,
              s->numH, k);
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, p, n, 1.0f, s->W, n, s->Q, n, 0.0f,
              s->denH, k);
}

/* numW = R H', denW = Q H'. */
static void terms_w(weighted_state *s) {
  int n = (int)s->n, p = (int)s->p, k = s->k;
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, p, 1.0f, s->R, n, s->H, k, 0.0f,
              s->numW, n);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, p, 1.0f, s->Q, n, s->H, k, 0.0f,
              s->denW, n);
}

/* l: l1 and l2 of W, then of H. The simultaneous order takes both factors' terms from the
 * same Y before applying either. */
static void mu_iteration(weighted_state *s, const tsr_nmf_params *prm, const float l[4],
                         float gamma, int flushW, int flushH) {
  const int order = prm->order, updW = prm->update_W != 0, updH = prm->update_H != 0;
  const int64_t n = s->n, p = s->p, k = s->k;
  if (order == TSR_NMF_ORDER_SIMULTANEOUS) {
    form_wh(s);
    weighted_terms(s);
    if (updH) terms_h(s);
    if (updH && prm->smooth_H != NULL)
      add_continuity(s->H, s->k, s->p, prm->smooth_H, s->scale, s->numH, s->denH);
    if (updW) terms_w(s);
    if (updH) mu_apply(s->H, s->numH, s->denH, k, p, 1, prm->frozen_H, l[2], l[3], gamma, flushH);
    if (updW) mu_apply(s->W, s->numW, s->denW, n, k, 0, prm->frozen_W, l[0], l[1], gamma, flushW);
    return;
  }
  for (int half = 0; half < 2; half++) {
    int doW = (half == 0) == (order == TSR_NMF_ORDER_WH);
    if (doW ? !updW : !updH) continue;
    form_wh(s);
    weighted_terms(s);
    if (doW) {
      terms_w(s);
      mu_apply(s->W, s->numW, s->denW, n, k, 0, prm->frozen_W, l[0], l[1], gamma, flushW);
    } else {
      terms_h(s);
      if (prm->smooth_H != NULL)
        add_continuity(s->H, s->k, s->p, prm->smooth_H, s->scale, s->numH, s->denH);
      mu_apply(s->H, s->numH, s->denH, k, p, 1, prm->frozen_H, l[2], l[3], gamma, flushH);
    }
  }
}

/* V~ = M'V + (1 - M')Y with M' = M / mx, into R. */
static void em_completion(weighted_state *s, float inv_max) {
  const size_t count = (size_t)s->n * (size_t)s->p;
  form_wh(s);
  for (size_t e = 0; e < count; e++) {
    float m = s->M[e] * inv_max;
    s->R[e] = m * s->V[e] + (1.0f - m) * s->Y[e];
    if (s->R[e] < 0.0f) s->R[e] = 0.0f; /* rounding of 1 - m */
  }
}

static float max_weight(const float *M, size_t count) {
  float mx = 0.0f;
  for (size_t e = 0; e < count; e++) mx = M[e] > mx ? M[e] : mx;
  return mx;
}

int tsr_nmf_general_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                         const tsr_nmf_params *prm, int parts, tsr_nmf_result *res,
                         tsr_error *err) {
  if (tsr_nmf_check_blas_size(n, p, err) != TSR_OK) return TSR_ELIMIT;
  const float *M = prm->weights;
  float mx = M != NULL ? max_weight(M, (size_t)n * (size_t)p) : 1.0f;
  if (mx == 0.0f) {
    tsr_seterror(err, "weights are all 0: no entry of V is seen");
    return TSR_EINVAL;
  }
  const int cd = prm->solver == TSR_NMF_CD;
  weighted_state s = {.V = V, .M = M, .W = W, .H = H, .n = n, .p = p, .k = k, .beta = prm->beta};
  int status = weighted_alloc(&s, err);
  if (status != TSR_OK) return status;
  const nmf_update_consts uc = tsr_nmf_update_consts(prm, n, p);
  const float l[4] = {uc.l1W, uc.l2W, uc.l1H, uc.l2H};
  const float gamma = uc.gamma;
  const int flushW = uc.flushW, flushH = uc.flushH;
  /* One unweighted CD iteration per step, on the completion, with the scaled alphas. */
  tsr_nmf_params inner = *prm;
  inner.weights = NULL;
  inner.on_check = NULL;
  inner.max_iter = 1;
  inner.tol = 0.0;
  inner.every = 1;
  inner.alpha_W = prm->alpha_W / mx;
  inner.alpha_H = prm->alpha_H / mx;

  tsr_pool *pool = parts > 1 ? tsr_pool_open(parts) : NULL;
  tracker tr;
  int it = 0;
  if (tsr_nmf_track_start(&tr, prm, V, W, H, n, p, k, 1, parts, pool, err)) {
    res->stopped = tr.status == TSR_OK;
  } else {
    s.scale = tr.loss > 0.0 ? tr.loss : 0.0;
    for (it = 1; it <= prm->max_iter; it++) {
      if (cd) {
        em_completion(&s, 1.0f / mx);
        status = tsr_nmf_cd_fit(s.R, n, p, k, W, H, &inner, NULL, err);
        if (status != TSR_OK) break;
      } else {
        mu_iteration(&s, prm, l, gamma, flushW, flushH);
      }
      int stop = tsr_nmf_track_iteration(&tr, it);
      if (stop) {
        tsr_nmf_track_record(res, stop);
        break;
      }
    }
    if (it > prm->max_iter) it = prm->max_iter;
  }
  if (status == TSR_OK) status = tr.status;
  res->iterations = it;
  if (status == TSR_OK) res->loss = tsr_nmf_track_final(&tr);
  tsr_pool_close(pool);
  tsr_free(s.Y);
  return status;
}
