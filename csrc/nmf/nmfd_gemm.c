/* The convolutive NMF's passes through sgemm, the path the fit takes when its n x p scratch
 * fits under the memory cap. With Hbig the K x p matrix whose column j is hb_j (Hpad's kT
 * floats from column j: see nmfd.c), the model is L = Wr Hbig, and
 *   H's step: G = Wr' X (K x p; X the ratio, or V for the Euclidean loss), shifted and summed
 *     into Hpad's columns (column j's K entries land on Hpad's columns j..j+T-1); its
 *     denominators from (Wr'Wr) Hbig (Euclidean), Wr' Q (IS, other betas) or Wr's column
 *     sums (KL, nmfd.c);
 *   W's step: X Hbig' and Wr (Hbig Hbig'), Q Hbig', or Hbig's row sums.
 * Column partitions (fixed by the shape) form L, the ratio and G; row partitions form W's
 * step and apply it. OpenBLAS runs each partition's products on the worker's thread, with
 * its own thread count at 1 (nmfd.c): how a product's sums go then depends on its shape
 * alone, and so do the results. */
#include "nmfd_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* out (k x (p + T - 1)) = the sum over columns j of G[:, j] (K x p) added at Hpad's column j
 * on: H's step from its kT-row form, in column order. */
static void shift_sum(const nmfd_state *m, const float *G, float *out) {
  const size_t k = (size_t)m->k, K = (size_t)m->K;
  memset(out, 0, k * (size_t)(m->p + m->T - 1) * sizeof(float));
  for (int64_t j = 0; j < m->p; j++) nmfd_add(out + (size_t)j * k, G + (size_t)j * K, K);
}

/* Columns j0..j1-1: Y = V / guard(Y) (KL); the ratio into Y and Q beside it for the others,
 * as the kernels' prep and prep_beta (portable.h) form them (IS's product in another
 * order, see below). */
static void ratio_terms(nmfd_state *m, int64_t j0, int64_t j1) {
  const size_t at = (size_t)j0 * (size_t)m->n, count = (size_t)(j1 - j0) * (size_t)m->n;
  const float *V = m->V + at;
  float *Y = m->Y + at, *Q = m->two ? m->Q + at : NULL;
  if (m->cls == CLS_KL) {
    for (size_t e = 0; e < count; e++) Y[e] = V[e] / (Y[e] < FLT_MIN ? EPS32 : Y[e]);
    return;
  }
  if (m->cls == CLS_IS) {
    for (size_t e = 0; e < count; e++) {
      float t = 1.0f / (Y[e] < FLT_MIN ? EPS32 : Y[e]);
      Q[e] = t;
      /* (V t) t: V / L is near 1 where the fit is, so where L is tiny (frames a shifted
       * template barely reaches) this stays finite when t t alone would overflow. */
      Y[e] = (V[e] * t) * t;
    }
    return;
  }
  const float br = (float)(m->beta - 2.0), bq = (float)(m->beta - 1.0);
  const int guard_r = m->beta < 2.0, guard_q = m->beta < 1.0;
  for (size_t e = 0; e < count; e++) {
    float y = Y[e];
    float yr = guard_r && y < FLT_MIN ? EPS32 : y;
    float yq = guard_q ? yr : y;
    float t = powf(yr, br);
    Y[e] = V[e] * t;
    Q[e] = y <= FLT_MAX ? yq * t : powf(yq, bq);
  }
}

/* X: the ratio, or V for the Euclidean loss. */
static const float *pass_x(const nmfd_state *m) { return m->cls == CLS_EUC ? m->V : m->Y; }

/* Column partition t: L and the ratio for its columns, then H's step's terms there. */
static void column_part(nmfd_state *m, int t) {
  const int n = (int)m->n, K = m->K;
  int64_t j0, j1;
  nmfd_range(m->p, m->parts, t, &j0, &j1);
  const int B = (int)(j1 - j0);
  if (B == 0) return;
  const float *Hb = m->Hbig + (size_t)j0 * K;
  if (m->cls != CLS_EUC) {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, K, 1.0f, m->Wr, n, Hb, K, 0.0f,
                m->Y + (size_t)j0 * n, n);
    ratio_terms(m, j0, j1);
  }
  if (!(m->flags & NMFD_DO_H)) return;
  const float *X = pass_x(m) + (size_t)j0 * n;
  float *G = m->G + (size_t)j0 * K, *G2 = m->G2 + (size_t)j0 * K;
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, n, 1.0f, m->Wr, n, X, n, 0.0f, G, K);
  if (m->cls == CLS_EUC)
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, K, B, K, 1.0f, m->WtWf, K, Hb, K, 0.0f,
                G2, K);
  else if (m->two)
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, n, 1.0f, m->Wr, n,
                m->Q + (size_t)j0 * n, n, 0.0f, G2, K);
}

/* Row partition t: W's step for its rows (over all of V's columns), then the update. */
static void row_part(nmfd_state *m, int t) {
  const int n = (int)m->n, p = (int)m->p, K = m->K;
  int64_t i0, i1;
  nmfd_range(m->n, m->row_parts, t, &i0, &i1);
  const int R = (int)(i1 - i0);
  if (R == 0) return;
  float *num = m->numW + i0, *den = m->denW + i0;
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, R, K, p, 1.0f, pass_x(m) + i0, n, m->Hbig,
              K, 0.0f, num, n);
  if (m->cls == CLS_EUC)
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, R, K, K, 1.0f, m->Wr + i0, n, m->HHt, K,
                0.0f, den, n);
  else if (m->two)
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, R, K, p, 1.0f, m->Q + i0, n, m->Hbig, K,
                0.0f, den, n);
  tsr_nmfd_apply_w_rows(m, i0, i1, m->numW, m->cls == CLS_KL ? NULL : m->denW,
                        m->rowden + (size_t)t * (size_t)K);
}

static void column_task(void *ctx, int t) { column_part(ctx, t); }
static void row_task(void *ctx, int t) { row_part(ctx, t); }

void tsr_nmfd_gemm_pass(nmfd_state *m, int flags) {
  const int n = (int)m->n, p = (int)m->p, K = m->K, k = m->k;
  for (int64_t j = 0; j < m->p; j++)
    memcpy(m->Hbig + (size_t)j * K, m->Hpad + (size_t)j * k, (size_t)K * sizeof(float));
  if ((flags & NMFD_DO_H) && m->cls == CLS_EUC)
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, K, n, 1.0f, m->Wr, n, m->Wr, n, 0.0f,
                m->WtWf, K);
  m->flags = flags;
  if ((flags & NMFD_DO_H) || m->cls != CLS_EUC) tsr_pool_run(m->pool, m->parts, column_task, m);
  if (flags & NMFD_DO_H) {
    shift_sum(m, m->G, m->numH);
    if (m->cls != CLS_KL) shift_sum(m, m->G2, m->denH);
  }
  if (!(flags & NMFD_DO_W)) return;
  if (m->cls == CLS_EUC) {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, K, K, p, 1.0f, m->Hbig, K, m->Hbig, K,
                0.0f, m->HHt, K);
  } else if (m->cls == CLS_KL) {
    for (int c = 0; c < K; c++) {
      double sum = 0.0;
      for (int64_t j = 0; j < m->p; j++) sum += m->Hbig[(size_t)j * K + (size_t)c];
      m->hstat[c] = sum;
    }
  }
  tsr_pool_run(m->pool, m->row_parts, row_task, m);
}

int tsr_nmfd_gemm_alloc(nmfd_state *m, tsr_error *err) {
  const size_t n = (size_t)m->n, p = (size_t)m->p, K = (size_t)m->K;
  size_t np_, nK, Kp, count, bytes;
  if (n > INT32_MAX || p > INT32_MAX || tsr_mul_size(n, p, &np_) != 0 ||
      tsr_mul_size(n, K, &nK) != 0 || tsr_mul_size(K, p, &Kp) != 0 ||
      (count = np_ * (m->two ? 2 : 1)) < np_ || (count += 3 * Kp) < Kp ||
      (count += 2 * nK) < nK || (count += 2 * K * K) < K * K ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "the scratch space of an NMFD fit with n = %lld, p = %lld, k T = %d "
                 "overflows", (long long)m->n, (long long)m->p, m->K);
    return TSR_ELIMIT;
  }
  m->gbuf = tsr_alloc(bytes);
  if (m->gbuf == NULL) return tsr_alloc_failure(bytes, "the NMFD fit's scratch space", err);
  m->Y = m->gbuf;
  m->Q = m->two ? m->Y + np_ : NULL;
  m->Hbig = m->Y + np_ * (m->two ? 2 : 1);
  m->G = m->Hbig + Kp;
  m->G2 = m->G + Kp;
  m->numW = m->G2 + Kp;
  m->denW = m->numW + nK;
  m->WtWf = m->denW + nK;
  m->HHt = m->WtWf + K * K;
  return TSR_OK;
}
