/* Convolutive NMF (NMFD; Smaragdis 2004, the NMF Toolbox's NMFD after Dittmar & Mueller 2016):
 * V ~ L = sum_{t < T} W_t H->t, the templates' frames W_t (n x k) against H shifted t columns
 * to the right. The multiplicative updates are those of one NMF with structured factors:
 * W stacked frame by frame is n x kT, and the matching kT x p factor has H->t as its block t,
 * so both half-steps are Lee-Seung's (Fevotte-Idier's for other betas, with scikit-learn's
 * guards, exponent and flush) and lower the objective as NMF's do. T = 1 is tsr_nmf_fit's MU.
 *
 * The layout that makes every column of V an NMF column: with W's frames reversed (Wr, block
 * s holding frame T-1-s) and H padded with T-1 zero columns in front (Hpad), L[:, j] =
 * Wr hb_j, hb_j being Hpad's kT contiguous floats from column j (its columns j..j+T-1).
 * H's columns are not independent here (one column of H reaches T columns of V), so a
 * half-step is a whole pass over V (nmfd_blocks.c, on block products at the CPU's SIMD level:
 * nmfd_block.h), then the update. The pass splits its work into partitions fixed by the shape
 * and adds them up in a fixed order, so the results do not depend on the thread count. This
 * file: the fit, the updates, the objective and the model's reconstruction. */
#include "nmfd_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* The KL H step's denominators come from Wr's column sums. */
static void column_sums(nmfd_state *m) {
  const int64_t n = m->n;
  for (int c = 0; c < m->K; c++) {
    const float *w = m->Wr + (size_t)c * (size_t)n;
    double part[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int e = 0; e < 8; e++) part[e] += w[i + e];
    for (; i < n; i++) part[i % 8] += w[i];
    m->wsum[c] = ((part[0] + part[1]) + (part[2] + part[3])) +
                 ((part[4] + part[5]) + (part[6] + part[7]));
  }
}

/* f <- f * (num / (den + l1 + l2 f))^gamma, scikit-learn's guard and flush. */
static inline float mu_step(float f, float num, float d, float l1, float l2, float gamma,
                            int flush) {
  if (l1 > 0.0f) d += l1;
  if (l2 > 0.0f) d += l2 * f;
  float delta = num / (d == 0.0f ? EPS32 : d);
  if (gamma != 1.0f) delta = powf(delta, gamma);
  float x = f * delta;
  return flush && x < (float)FLUSH ? 0.0f : x;
}

static void apply_h(nmfd_state *m) {
  const int k = m->k, T = m->T;
  const int64_t p = m->p;
  for (int64_t col = T - 1; col < p + T - 1; col++) {
    /* Hpad's column col reaches V's columns col - s for the blocks s of Wr with col - s < p. */
    const int s0 = col - p + 1 > 0 ? (int)(col - p + 1) : 0;
    for (int a = 0; a < k; a++) {
      if (m->frozen_H != NULL && m->frozen_H[a]) continue;
      const size_t e = (size_t)col * (size_t)k + (size_t)a;
      float d;
      if (m->cls == CLS_KL) {
        double s = 0.0;
        for (int b = s0; b < T; b++) s += m->wsum[(size_t)b * k + a];
        d = (float)(s == 0.0 ? 1.0 : s); /* scikit-learn: W_sum[W_sum == 0] = 1 */
      } else {
        d = m->denH[e];
      }
      m->Hpad[e] = mu_step(m->Hpad[e], m->numH[e], d, m->l1H, m->l2H, m->gamma, m->flushH);
    }
  }
}

void tsr_nmfd_apply_w_rows(nmfd_state *m, int64_t i0, int64_t i1, const float *num,
                           const float *den) {
  const int64_t n = m->n;
  const int k = m->k;
  /* Lee-Seung's plain rule (no prior, gamma 1, no flush): a loop the compiler vectorises. */
  const int plain = m->l1W == 0.0f && m->l2W == 0.0f && m->gamma == 1.0f && !m->flushW;
  for (int c = 0; c < m->K; c++) {
    if (m->frozen_W != NULL && m->frozen_W[c % k]) continue;
    const size_t at = (size_t)c * (size_t)n;
    float *restrict w = m->Wr + at;
    const float *restrict nu = num + at;
    const float sum = den == NULL ? (float)m->hstat[c] : 0.0f;
    if (plain && den != NULL) {
      const float *restrict d = den + at;
      for (int64_t i = i0; i < i1; i++) w[i] *= nu[i] / (d[i] == 0.0f ? EPS32 : d[i]);
    } else if (plain) {
      const float d = sum == 0.0f ? EPS32 : sum;
      for (int64_t i = i0; i < i1; i++) w[i] *= nu[i] / d;
    } else {
      for (int64_t i = i0; i < i1; i++)
        w[i] = mu_step(w[i], nu[i], den != NULL ? den[at + i] : sum, m->l1W, m->l2W, m->gamma,
                       m->flushW);
    }
  }
}

/* W (n x kT, frame t in columns k t ..) to and from Wr (frame t in block T - 1 - t). */
static void reverse_frames(float *to, const float *from, int64_t n, int k, int T) {
  size_t block = (size_t)n * (size_t)k;
  for (int t = 0; t < T; t++) memcpy(to + (size_t)(T - 1 - t) * block, from + (size_t)t * block,
                                     block * sizeof(float));
}

/* One iteration in the fit's order; a pass with NMFD_DO_W applies W's step itself. */
static void iteration(nmfd_state *m, const tsr_nmf_params *prm) {
  const int updW = prm->update_W != 0, updH = prm->update_H != 0;
  if (prm->order == TSR_NMF_ORDER_SIMULTANEOUS) {
    /* H's step is summed before W changes; applying it after is the same. */
    if (updH && m->cls == CLS_KL) column_sums(m);
    tsr_nmfd_blocks_pass(m, (updH ? NMFD_DO_H : 0) | (updW ? NMFD_DO_W : 0));
    if (updH) apply_h(m);
    return;
  }
  for (int half = 0; half < 2; half++) {
    int doW = (half == 0) == (prm->order == TSR_NMF_ORDER_WH);
    if (doW && updW) {
      tsr_nmfd_blocks_pass(m, NMFD_DO_W);
    } else if (!doW && updH) {
      if (m->cls == CLS_KL) column_sums(m);
      tsr_nmfd_blocks_pass(m, NMFD_DO_H);
      apply_h(m);
    }
  }
}

/* Wr, Hpad, H's step, the statistics and the pool, then the pass's buffers. */
static int nmfd_alloc(nmfd_state *m, int threads, tsr_error *err) {
  const size_t n = (size_t)m->n, K = (size_t)m->K, k = (size_t)m->k;
  const size_t width = k * (size_t)(m->p + m->T - 1);
  const int most = m->parts > m->row_parts ? m->parts : m->row_parts;
  size_t nK, fbytes;
  if (tsr_mul_size(n, K, &nK) != 0 || (fbytes = nK + 3 * width) < nK ||
      tsr_mul_size(fbytes, sizeof(float), &fbytes) != 0) {
    tsr_seterror(err, "the scratch space of an NMFD fit with n = %lld, k = %d, T = %d overflows",
                 (long long)m->n, m->k, m->T);
    return TSR_ELIMIT;
  }
  m->Wr = tsr_alloc(fbytes);
  if (m->Wr == NULL) return tsr_alloc_failure(fbytes, "the NMFD fit's scratch space", err);
  m->Hpad = m->Wr + nK;
  m->numH = m->Hpad + width;
  m->denH = m->numH + width;
  m->hstat = tsr_alloc(2 * K * sizeof(double));
  if (m->hstat == NULL)
    return tsr_alloc_failure(2 * K * sizeof(double), "the NMFD fit's sums", err);
  m->wsum = m->hstat + K;
  m->pool = tsr_pool_open(threads < most ? threads : most);
  if (m->pool == NULL) return tsr_alloc_failure(sizeof(void *), "the NMFD fit's thread pool", err);
  return tsr_nmfd_blocks_alloc(m, err);
}

static void nmfd_free(nmfd_state *m) {
  tsr_free(m->gbuf);
  tsr_pool_close(m->pool);
  tsr_free(m->hstat);
  tsr_free(m->Wr);
}

int tsr_nmfd_check(int64_t n, int64_t p, int k, int T, const tsr_nmf_params *prm,
                   tsr_error *err) {
  int status = tsr_nmf_check_params(n, p, k, prm, err);
  if (status != TSR_OK) return status;
  if (T < 1 || T > p) {
    tsr_seterror(err, "T must be in 1..%lld (the frames of V), got %d", (long long)p, T);
    return TSR_EINVAL;
  }
  if ((int64_t)k * T > INT32_MAX / 2) {
    tsr_seterror(err, "k T must be at most %d, got %lld", INT32_MAX / 2, (long long)k * T);
    return TSR_EINVAL;
  }
  if (prm->solver != TSR_NMF_MU) {
    tsr_seterror(err, "NMFD needs solver 'mu', got 'cd'");
    return TSR_EINVAL;
  }
  if (prm->weights != NULL || prm->smooth_H != NULL) {
    tsr_seterror(err, "NMFD takes no %s", prm->weights != NULL ? "weights" : "smooth_H");
    return TSR_EINVAL;
  }
  return TSR_OK;
}

int tsr_nmfd_fit(const float *V, int64_t n, int64_t p, int k, int T, float *W, float *H,
                 const tsr_nmf_params *prm, tsr_nmf_result *res, tsr_error *err) {
  tsr_nmf_result local;
  if (res == NULL) res = &local;
  memset(res, 0, sizeof *res);
  if (V == NULL || W == NULL || H == NULL || prm == NULL) {
    tsr_seterror(err, "V, W, H and the parameters are required");
    return TSR_EINVAL;
  }
  int status = tsr_nmfd_check(n, p, k, T, prm, err);
  if (status == TSR_OK) status = tsr_check_entries(V, n, p, "V", err);
  if (status == TSR_OK) status = tsr_check_entries(W, n, (int64_t)k * T, "W", err);
  if (status == TSR_OK) status = tsr_check_entries(H, k, p, "H", err);
  if (status != TSR_OK) return status;

  nmfd_state m;
  memset(&m, 0, sizeof m);
  m.V = V;
  m.n = n;
  m.p = p;
  m.k = k;
  m.T = T;
  m.K = k * T;
  m.beta = prm->beta;
  m.cls = beta_class(prm->beta);
  m.two = m.cls == CLS_IS || m.cls == CLS_BETA;
  const nmf_update_consts uc = tsr_nmf_update_consts(prm, n, p);
  m.gamma = uc.gamma;
  m.flushW = uc.flushW;
  m.flushH = uc.flushH;
  m.l1W = uc.l1W, m.l2W = uc.l2W, m.l1H = uc.l1H, m.l2H = uc.l2H;
  m.frozen_W = prm->frozen_W;
  m.frozen_H = prm->frozen_H;
  m.parts = tsr_nmf_chunks(p);
  m.row_parts = tsr_nmf_chunks(n);
  m.bk = tsr_nmfd_block_kernels();
  status = nmfd_alloc(&m, tsr_nmf_parts(prm->threads, p), err);
  if (status != TSR_OK) {
    nmfd_free(&m);
    return status;
  }
  reverse_frames(m.Wr, W, n, k, T);
  memset(m.Hpad, 0, (size_t)k * (size_t)(T - 1) * sizeof(float));
  memcpy(m.Hpad + (size_t)k * (size_t)(T - 1), H, (size_t)k * (size_t)p * sizeof(float));

  tracker tr;
  int it = 0;
  if (tsr_nmf_track_start(&tr, prm, V, m.Wr, m.Hpad, n, p, k, T, m.parts, m.pool, err)) {
    res->stopped = tr.status == TSR_OK;
  } else {
    for (it = 1; it <= prm->max_iter; it++) {
      iteration(&m, prm);
      int stop = tsr_nmf_track_iteration(&tr, it);
      if (stop) {
        tsr_nmf_track_record(res, stop);
        break;
      }
    }
    if (it > prm->max_iter) it = prm->max_iter;
  }
  status = tr.status;
  res->iterations = it;
  if (status == TSR_OK) res->loss = tsr_nmf_track_final(&tr);
  reverse_frames(W, m.Wr, n, k, T);
  memcpy(H, m.Hpad + (size_t)k * (size_t)(T - 1), (size_t)k * (size_t)p * sizeof(float));
  nmfd_free(&m);
  return status;
}

double tsr_nmfd_loss_cols(const float *V, const float *Wr, const float *Hpad, int64_t n,
                          int64_t j0, int64_t j1, int k, int T, double beta) {
  const nmf_mu_kernels *kr = tsr_nmf_mu_kernels();
  const int cls = beta_class(beta);
  double s = 0.0;
  for (int64_t j = j0; j < j1; j++)
    s += kr->loss_col(cls, beta, Wr, n, k * T, Hpad + j * k, V + j * n);
  return s;
}

void tsr_nmfd_reconstruct(const float *W, const float *H, int64_t n, int64_t p, int k, int T,
                          const unsigned char *sel, float *out) {
  memset(out, 0, (size_t)n * (size_t)p * sizeof(float));
  for (int t = 0; t < T && t < p; t++)
    for (int a = 0; a < k; a++) {
      if (sel != NULL && !sel[a]) continue;
      /* out[:, t..p-1] += W_t[:, a] H[a, 0..p-t-1] */
      cblas_sger(CblasColMajor, (int)n, (int)(p - t), 1.0f, W + ((size_t)t * k + a) * (size_t)n,
                 1, H + a, k, out + (size_t)t * (size_t)n, (int)n);
    }
}

int tsr_nmfd_loss(const float *V, const float *W, const float *H, int64_t n, int64_t p, int k,
                  int T, double beta, double *loss, tsr_error *err) {
  size_t nK, width, bytes;
  if (tsr_mul_size((size_t)n, (size_t)k * (size_t)T, &nK) != 0 ||
      tsr_mul_size((size_t)k, (size_t)(p + T - 1), &width) != 0 || (bytes = nK + width) < nK ||
      tsr_mul_size(bytes, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "an NMFD objective with n = %lld, k = %d, T = %d overflows", (long long)n,
                 k, T);
    return TSR_ELIMIT;
  }
  float *Wr = tsr_alloc(bytes);
  if (Wr == NULL) return tsr_alloc_failure(bytes, "the NMFD objective's scratch space", err);
  float *Hpad = Wr + nK;
  reverse_frames(Wr, W, n, k, T);
  memset(Hpad, 0, (size_t)k * (size_t)(T - 1) * sizeof(float));
  memcpy(Hpad + (size_t)k * (size_t)(T - 1), H, (size_t)k * (size_t)p * sizeof(float));
  double s = tsr_nmfd_loss_cols(V, Wr, Hpad, n, 0, p, k, T, beta);
  tsr_free(Wr);
  *loss = s < 0.0 ? 0.0 : s;
  return TSR_OK;
}
