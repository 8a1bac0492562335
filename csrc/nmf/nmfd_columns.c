/* The convolutive NMF's column pass: every column of V is an NMF column of rank kT (Wr
 * against Hpad's kT contiguous floats from column j: see nmfd.c), run by the kernel table's
 * loops (prep, dots, axpys: kernels.h) at the CPU's SIMD level, with no n x p scratch:
 *   W's step: numerator sum_j x_j hb_j' (x = the ratio, or V for the Euclidean loss), the
 *     denominator from sum_j hb_j (KL), Wr sum_j hb_j hb_j' (Euclidean) or sum_j q_j hb_j';
 *   H's step: Wr' x_j holds H's numerator for the kT entries of Hpad's columns j..j+T-1,
 *     added into a sliding window, and the denominators the same way.
 * Columns are split into partitions fixed by the shape, each with its own accumulators and
 * window, summed in partition order: results do not depend on the thread count. The fit
 * takes this pass when the memory cap leaves no room for the sgemm path's n x p scratch. */
#include "nmfd_internal.h"

#include <string.h>

static float *part_accN(const nmfd_state *m, int t) { return m->fpart + (size_t)t * m->fstride; }
static float *part_accD(const nmfd_state *m, int t) {
  return part_accN(m, t) + (size_t)m->n * (size_t)m->K;
}
static float *part_r(const nmfd_state *m, int t) {
  return part_accD(m, t) + (m->two ? (size_t)m->n * (size_t)m->K : 0);
}
static float *part_q(const nmfd_state *m, int t) { return part_r(m, t) + m->n; }
static float *part_g(const nmfd_state *m, int t) { return part_q(m, t) + m->n; }
static float *part_winN(const nmfd_state *m, int t) { return part_g(m, t) + m->K; }
static float *part_winD(const nmfd_state *m, int t) {
  return part_winN(m, t) + (size_t)m->k * (size_t)m->span;
}
static double *part_stat(const nmfd_state *m, int t) { return m->dpart + (size_t)t * m->dstride; }

/* r (and q) from L[:, j] = Wr hb. */
static void prep(const nmfd_state *m, const float *hb, const float *v, float *r, float *q) {
  if (m->cls == CLS_BETA) m->kr->prep_beta(m->Wr, m->n, m->K, hb, v, m->beta, r, q);
  else m->kr->prep(m->Wr, m->n, m->K, hb, v, r, m->cls == CLS_IS ? q : NULL);
}

static void pass_part(nmfd_state *m, int t) {
  const int64_t n = m->n;
  const int k = m->k, K = m->K, flags = m->flags;
  int64_t j0, j1;
  nmfd_range(m->p, m->parts, t, &j0, &j1);
  float *accN = part_accN(m, t), *accD = part_accD(m, t), *r = part_r(m, t), *q = part_q(m, t);
  float *g = part_g(m, t), *winN = part_winN(m, t), *winD = part_winD(m, t);
  double *st = part_stat(m, t);
  if (flags & NMFD_DO_W) {
    memset(accN, 0, (size_t)n * (size_t)K * sizeof(float));
    if (m->two) memset(accD, 0, (size_t)n * (size_t)K * sizeof(float));
    memset(st, 0, m->statn * sizeof(double));
  }
  if (flags & NMFD_DO_H) {
    memset(winN, 0, (size_t)k * (size_t)m->span * sizeof(float));
    memset(winD, 0, (size_t)k * (size_t)m->span * sizeof(float));
  }
  for (int64_t j = j0; j < j1; j++) {
    const float *v = m->V + j * n, *hb = m->Hpad + j * k;
    const float *x = v;
    if (m->cls != CLS_EUC) {
      prep(m, hb, v, r, q);
      x = r;
    }
    /* Entry c of hb is Hpad[c % k, j + c / k]: in the window, offset (j - j0) k + c. */
    const size_t at = (size_t)(j - j0) * (size_t)k;
    if (flags & NMFD_DO_H) {
      m->kr->dots(m->Wr, n, K, x, g);
      nmfd_add(winN + at, g, (size_t)K);
      if (m->two) {
        m->kr->dots(m->Wr, n, K, q, g);
        nmfd_add(winD + at, g, (size_t)K);
      } else if (m->cls == CLS_EUC) {
        for (int c = 0; c < K; c++) {
          const double *row = m->WtW + (size_t)c * (size_t)K;
          double s = 0.0;
          for (int b = 0; b < K; b++) s += row[b] * hb[b];
          winD[at + (size_t)c] += (float)s;
        }
      }
    }
    if (flags & NMFD_DO_W) {
      m->kr->axpys(accN, n, K, x, hb);
      if (m->two) m->kr->axpys(accD, n, K, q, hb);
      if (m->cls == CLS_EUC) {
        for (int c = 0; c < K; c++) {
          if (hb[c] == 0.0f) continue;
          double *row = st + (size_t)c * (size_t)K, hc = hb[c];
          for (int b = 0; b < K; b++) row[b] += hc * hb[b];
        }
      } else if (m->cls == CLS_KL) {
        for (int c = 0; c < K; c++) st[c] += hb[c];
      }
    }
  }
}

static void pass_task(void *ctx, int t) { pass_part(ctx, t); }

/* Wr'Wr in double, what the Euclidean H step's denominators come from. */
static void gram(nmfd_state *m) {
  const int64_t n = m->n;
  const int K = m->K;
  for (int a = 0; a < K; a++)
    for (int b = a; b < K; b++) {
      const float *wa = m->Wr + (size_t)a * (size_t)n, *wb = m->Wr + (size_t)b * (size_t)n;
      double s = 0.0;
      for (int64_t i = 0; i < n; i++) s += (double)wa[i] * wb[i];
      m->WtW[(size_t)a * K + b] = m->WtW[(size_t)b * K + a] = s;
    }
}

void tsr_nmfd_columns_pass(nmfd_state *m, int flags) {
  if ((flags & NMFD_DO_H) && m->cls == CLS_EUC) gram(m);
  m->flags = flags;
  tsr_pool_run(m->pool, m->parts, pass_task, m);
  const int k = m->k;
  if (flags & NMFD_DO_H) {
    size_t width = (size_t)k * (size_t)(m->p + m->T - 1);
    memset(m->numH, 0, width * sizeof(float));
    memset(m->denH, 0, width * sizeof(float));
    for (int t = 0; t < m->parts; t++) {
      int64_t j0, j1;
      nmfd_range(m->p, m->parts, t, &j0, &j1);
      size_t at = (size_t)j0 * (size_t)k, len = (size_t)(j1 - j0 + m->T - 1) * (size_t)k;
      nmfd_add(m->numH + at, part_winN(m, t), len);
      nmfd_add(m->denH + at, part_winD(m, t), len);
    }
  }
  if (!(flags & NMFD_DO_W)) return;
  size_t nk = (size_t)m->n * (size_t)m->K;
  for (int t = 1; t < m->parts; t++) {
    nmfd_add(part_accN(m, 0), part_accN(m, t), nk);
    if (m->two) nmfd_add(part_accD(m, 0), part_accD(m, t), nk);
  }
  for (size_t s = 0; s < m->statn; s++) {
    double sum = 0.0;
    for (int t = 0; t < m->parts; t++) sum += part_stat(m, t)[s];
    m->hstat[s] = sum;
  }
  tsr_nmfd_apply_w_rows(m, 0, m->n, part_accN(m, 0), m->two ? part_accD(m, 0) : NULL,
                        m->rowden);
}

int tsr_nmfd_columns_alloc(nmfd_state *m, tsr_error *err) {
  const size_t n = (size_t)m->n, K = (size_t)m->K, k = (size_t)m->k;
  size_t nK, per, fbytes, dbytes;
  m->span = (m->p + m->parts - 1) / m->parts + m->T - 1;
  if (tsr_mul_size(n, K, &nK) != 0 || tsr_mul_size(k, (size_t)m->span, &per) != 0 ||
      tsr_mul_size(per, 2, &per) != 0 || (per += nK * (m->two ? 2 : 1)) < nK ||
      (per += 2 * n + K + 31) < 2 * n ||
      (per &= ~(size_t)31, tsr_mul_size(per, (size_t)m->parts, &fbytes)) != 0 ||
      tsr_mul_size(fbytes, sizeof(float), &fbytes) != 0) {
    tsr_seterror(err, "the scratch space of an NMFD fit with n = %lld, k = %d, T = %d overflows",
                 (long long)m->n, m->k, m->T);
    return TSR_ELIMIT;
  }
  m->fstride = per;
  m->dstride = (m->statn + 15) & ~(size_t)15;
  dbytes = (m->dstride * (size_t)m->parts + K * K) * sizeof(double);
  m->fpart = tsr_alloc(fbytes);
  if (m->fpart == NULL) return tsr_alloc_failure(fbytes, "the NMFD fit's scratch space", err);
  m->dpart = tsr_alloc(dbytes);
  if (m->dpart == NULL) return tsr_alloc_failure(dbytes, "the NMFD fit's scratch space", err);
  m->WtW = m->dpart + m->dstride * (size_t)m->parts;
  return TSR_OK;
}
