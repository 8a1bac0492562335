/* Convolutive NMF (NMFD; Smaragdis 2004, the NMF Toolbox's NMFD after Dittmar & Mueller 2016):
 * V ~ L = sum_{t < T} W_t H->t, the templates' frames W_t (n x k) against H shifted t columns
 * to the right. The multiplicative updates are those of one NMF with structured factors:
 * W stacked frame by frame is n x kT, and the matching kT x p factor has H->t as its block t,
 * so both half-steps are Lee-Seung's (Fevotte-Idier's for other betas) and lower the objective
 * as NMF's do. T = 1 is tsr_nmf_fit's MU.
 *
 * The trick that makes it a column pass: with W's frames reversed (Wr, block s holding frame
 * T-1-s) and H padded with T-1 zero columns in front (Hpad), L[:, j] = Wr . Hpad[:, j..j+T-1]
 * and Hpad's columns j..j+T-1 are kT contiguous floats. Every column is then an NMF column
 * of rank kT, run by the kernel table's loops (prep, dots, axpys: kernels.h) at the CPU's
 * SIMD level, reading V once per half-step with no n x p temporary:
 *   W half-step: numerator sum_j x_j hb_j' (x = V ratio, or V for the Euclidean loss), the
 *     denominator from sum_j hb_j (KL), Wr sum_j hb_j hb_j' (Euclidean) or sum_j q_j hb_j';
 *   H half-step: Wr' x_j is H's numerator for the kT entries of Hpad's columns j..j+T-1,
 *     added into a sliding window, and the denominators the same way (the Euclidean ones
 *     from (Wr'Wr) hb_j, the KL ones from Wr's column sums, fewer near the end, where
 *     shifted copies fall off V).
 * H's columns are not independent here (one column of H reaches T columns of V), so a
 * half-step is a whole pass then an update, never fused with the next one as mu.c does.
 * Columns are split into partitions fixed by the shape (tsr_nmf_chunks), each with its own
 * accumulators and window, summed in partition order: results do not depend on the thread
 * count. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DO_H = 1, DO_W = 2 };

typedef struct nmfd_state {
  const float *V;
  int64_t n, p;
  int k, T, K, cls, two, flushW, flushH; /* K = k T; two: denominators need q */
  double beta;
  float gamma, l1W, l2W, l1H, l2H;
  const unsigned char *frozen_W, *frozen_H;
  const nmf_mu_kernels *kr;
  float *Wr;      /* n x K, frames reversed */
  float *Hpad;    /* k x (p + T - 1), the first T - 1 columns 0 */
  float *numH, *denH; /* k x (p + T - 1): the H step, summed over the partitions */
  double *WtW;    /* K x K: Wr'Wr (Euclidean H step) */
  double *wsum;   /* K: Wr's column sums (KL H step) */
  double *hstat;  /* K x K: sum hb hb' (Euclidean), or K: sum hb (KL), for the W step */
  int parts;
  int64_t span;   /* the longest partition's columns + T - 1: a window's width */
  /* Per partition, fstride floats: accN, accD (n x K each; accD when two), r, q (n), g (K),
   * winN, winD (k x span); dstride doubles: its share of hstat. */
  float *fpart;
  double *dpart;
  size_t fstride, dstride, statn;
  tsr_pool *pool;
  int flags;
  /* The sgemm path (gemm): Y (n x p: L, then the ratio R), Q (n x p, when two), Hbig
   * (K x p: column j is hb_j), G and G2 (K x p: H's step before its shift-sum), numW and
   * denW (n x K per partition, summed into the first), WtWf (K x K), HHt (K x K per
   * partition). */
  int gemm;
  float *gbuf, *Y, *Q, *Hbig, *G, *G2, *numW, *denW, *WtWf, *HHt;
  float *rowden; /* K: apply_w's denominators of a row */
} nmfd_state;

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

static void part_range(const nmfd_state *m, int t, int64_t *j0, int64_t *j1) {
  *j0 = m->p * t / m->parts;
  *j1 = m->p * (t + 1) / m->parts;
}

/* x = the column's ratio (and q) from L[:, j] = Wr hb. */
static void prep(const nmfd_state *m, const float *hb, const float *v, float *r, float *q) {
  if (m->cls == CLS_BETA) m->kr->prep_beta(m->Wr, m->n, m->K, hb, v, m->beta, r, q);
  else m->kr->prep(m->Wr, m->n, m->K, hb, v, r, m->cls == CLS_IS ? q : NULL);
}

static void add_floats(float *restrict acc, const float *restrict x, size_t count) {
  for (size_t i = 0; i < count; i++) acc[i] += x[i];
}

static void pass_part(nmfd_state *m, int t) {
  const int64_t n = m->n;
  const int k = m->k, K = m->K, flags = m->flags;
  int64_t j0, j1;
  part_range(m, t, &j0, &j1);
  float *accN = part_accN(m, t), *accD = part_accD(m, t), *r = part_r(m, t), *q = part_q(m, t);
  float *g = part_g(m, t), *winN = part_winN(m, t), *winD = part_winD(m, t);
  double *st = part_stat(m, t);
  if (flags & DO_W) {
    memset(accN, 0, (size_t)n * (size_t)K * sizeof(float));
    if (m->two) memset(accD, 0, (size_t)n * (size_t)K * sizeof(float));
    memset(st, 0, m->statn * sizeof(double));
  }
  if (flags & DO_H) {
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
    if (flags & DO_H) {
      m->kr->dots(m->Wr, n, K, x, g);
      add_floats(winN + at, g, (size_t)K);
      if (m->two) {
        m->kr->dots(m->Wr, n, K, q, g);
        add_floats(winD + at, g, (size_t)K);
      } else if (m->cls == CLS_EUC) {
        for (int c = 0; c < K; c++) {
          const double *row = m->WtW + (size_t)c * (size_t)K;
          double s = 0.0;
          for (int b = 0; b < K; b++) s += row[b] * hb[b];
          winD[at + (size_t)c] += (float)s;
        }
      }
    }
    if (flags & DO_W) {
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

/* One pass over V, then the partitions' sums in partition order: H's step into numH and
 * denH, W's into partition 0's accumulators and hstat. */
static void gemm_pass(nmfd_state *m, int flags);

static void pass(nmfd_state *m, int flags) {
  if (m->gemm) {
    gemm_pass(m, flags);
    return;
  }
  m->flags = flags;
  tsr_pool_run(m->pool, m->parts, pass_task, m);
  const int k = m->k;
  if (flags & DO_H) {
    size_t width = (size_t)k * (size_t)(m->p + m->T - 1);
    memset(m->numH, 0, width * sizeof(float));
    memset(m->denH, 0, width * sizeof(float));
    for (int t = 0; t < m->parts; t++) {
      int64_t j0, j1;
      part_range(m, t, &j0, &j1);
      size_t at = (size_t)j0 * (size_t)k, len = (size_t)(j1 - j0 + m->T - 1) * (size_t)k;
      add_floats(m->numH + at, part_winN(m, t), len);
      add_floats(m->denH + at, part_winD(m, t), len);
    }
  }
  if (flags & DO_W) {
    size_t nk = (size_t)m->n * (size_t)m->K;
    for (int t = 1; t < m->parts; t++) {
      add_floats(part_accN(m, 0), part_accN(m, t), nk);
      if (m->two) add_floats(part_accD(m, 0), part_accD(m, t), nk);
    }
    for (size_t s = 0; s < m->statn; s++) {
      double sum = 0.0;
      for (int t = 0; t < m->parts; t++) sum += part_stat(m, t)[s];
      m->hstat[s] = sum;
    }
  }
}

/* out (k x (p + T - 1)) = the sum over columns j of G[:, j] (K x p) added at Hpad's columns
 * j..j+T-1: H's step from its kT-row form, in column order. */
static void shift_sum(const nmfd_state *m, const float *G, float *out) {
  const size_t k = (size_t)m->k, K = (size_t)m->K;
  memset(out, 0, k * (size_t)(m->p + m->T - 1) * sizeof(float));
  for (int64_t j = 0; j < m->p; j++) add_floats(out + (size_t)j * k, G + (size_t)j * K, K);
}

/* Columns j0..j1-1: Y = V / guard(Y) (KL); R into Y and Q beside it for the others, as the kernels' prep and
 * prep_beta (portable.h) form them column by column. */
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
      Y[e] = t * t * V[e];
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

/* Partition t's share of a pass through sgemm (OpenBLAS on one thread: the partitions are
 * the parallelism, fixed by the shape): L = Wr Hbig and the ratio for its columns, then H's
 * step's terms into its columns of G (and G2) and W's into its own n x K sums. X is the
 * ratio, or V for the Euclidean loss, whose denominators come from Gram matrices. */
static void gemm_part(nmfd_state *m, int t) {
  const int n = (int)m->n, K = m->K, flags = m->flags;
  int64_t j0, j1;
  part_range(m, t, &j0, &j1);
  const int B = (int)(j1 - j0);
  if (B == 0) return;
  const float *Hb = m->Hbig + (size_t)j0 * K, *X = m->V + (size_t)j0 * n;
  float *Y = m->Y + (size_t)j0 * n, *Q = m->two ? m->Q + (size_t)j0 * n : NULL;
  if (m->cls != CLS_EUC) {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, K, 1.0f, m->Wr, n, Hb, K, 0.0f,
                Y, n);
    ratio_terms(m, j0, j1);
    X = Y;
  }
  if (flags & DO_H) {
    float *G = m->G + (size_t)j0 * K, *G2 = m->G2 + (size_t)j0 * K;
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, n, 1.0f, m->Wr, n, X, n, 0.0f, G,
                K);
    if (m->cls == CLS_EUC)
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, K, B, K, 1.0f, m->WtWf, K, Hb, K,
                  0.0f, G2, K);
    else if (m->two)
      cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, n, 1.0f, m->Wr, n, Q, n, 0.0f,
                  G2, K);
  }
  if (flags & DO_W) {
    const size_t nK = (size_t)n * (size_t)K;
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, K, B, 1.0f, X, n, Hb, K, 0.0f,
                m->numW + (size_t)t * nK, n);
    if (m->cls == CLS_EUC)
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, K, K, B, 1.0f, Hb, K, Hb, K, 0.0f,
                  m->HHt + (size_t)t * K * K, K);
    else if (m->two)
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, K, B, 1.0f, Q, n, Hb, K, 0.0f,
                  m->denW + (size_t)t * nK, n);
  }
}

static void gemm_task(void *ctx, int t) { gemm_part(ctx, t); }

/* A pass on the sgemm path: the partitions, then their sums in partition order. */
static void gemm_pass(nmfd_state *m, int flags) {
  const int n = (int)m->n, K = m->K, k = m->k;
  for (int64_t j = 0; j < m->p; j++)
    memcpy(m->Hbig + (size_t)j * K, m->Hpad + (size_t)j * k, (size_t)K * sizeof(float));
  if ((flags & DO_H) && m->cls == CLS_EUC)
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, K, n, 1.0f, m->Wr, n, m->Wr, n, 0.0f,
                m->WtWf, K);
  m->flags = flags;
  tsr_pool_run(m->pool, m->parts, gemm_task, m);
  if (flags & DO_H) {
    shift_sum(m, m->G, m->numH);
    if (m->cls != CLS_KL) shift_sum(m, m->G2, m->denH);
  }
  if (!(flags & DO_W)) return;
  const size_t nK = (size_t)n * (size_t)K, KK = (size_t)K * (size_t)K;
  for (int t = 1; t < m->parts; t++) {
    add_floats(m->numW, m->numW + (size_t)t * nK, nK);
    if (m->two) add_floats(m->denW, m->denW + (size_t)t * nK, nK);
    if (m->cls == CLS_EUC) add_floats(m->HHt, m->HHt + (size_t)t * KK, KK);
  }
  if (m->cls == CLS_EUC) {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, K, K, 1.0f, m->Wr, n, m->HHt, K,
                0.0f, m->denW, n);
  } else if (m->cls == CLS_KL) {
    for (int c = 0; c < K; c++) {
      double sum = 0.0;
      for (int64_t j = 0; j < m->p; j++) sum += m->Hbig[(size_t)j * K + (size_t)c];
      m->hstat[c] = sum;
    }
  }
}

/* What H's step needs of the current Wr: Wr'Wr (Euclidean) or its column sums (KL). */
static void prep_h(nmfd_state *m) {
  const int64_t n = m->n;
  const int K = m->K;
  if (m->cls == CLS_EUC && !m->gemm) {
    for (int a = 0; a < K; a++)
      for (int b = a; b < K; b++) {
        const float *wa = m->Wr + (size_t)a * (size_t)n, *wb = m->Wr + (size_t)b * (size_t)n;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)wa[i] * wb[i];
        m->WtW[(size_t)a * K + b] = m->WtW[(size_t)b * K + a] = s;
      }
  } else if (m->cls == CLS_KL) {
    for (int c = 0; c < K; c++) {
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
}

/* f <- f * (num / (den + l1 + l2 f))^gamma, scikit-learn's guard and flush. */
static float mu_step(float f, float num, float d, float l1, float l2, float gamma, int flush) {
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

/* Row by row: a row's Euclidean denominators read the whole row of Wr before it changes. */
static void apply_w(nmfd_state *m) {
  const int64_t n = m->n;
  const int k = m->k, K = m->K;
  const float *accN = m->gemm ? m->numW : part_accN(m, 0);
  const float *accD = m->gemm ? m->denW : part_accD(m, 0);
  float *den = m->rowden;
  for (int64_t i = 0; i < n; i++) {
    for (int c = 0; c < K; c++) {
      const size_t e = (size_t)c * (size_t)n + (size_t)i;
      if (m->gemm && m->cls != CLS_KL) {
        den[c] = accD[e]; /* gemm_pass's: Wr (Hbig Hbig') or Q Hbig' */
      } else if (m->cls == CLS_EUC) {
        const double *g = m->hstat + (size_t)c * (size_t)K;
        double s = 0.0;
        for (int b = 0; b < K; b++) s += (double)m->Wr[(size_t)b * (size_t)n + (size_t)i] * g[b];
        den[c] = (float)s;
      } else {
        den[c] = m->cls == CLS_KL ? (float)m->hstat[c] : accD[e];
      }
    }
    for (int c = 0; c < K; c++) {
      if (m->frozen_W != NULL && m->frozen_W[c % k]) continue;
      const size_t e = (size_t)c * (size_t)n + (size_t)i;
      m->Wr[e] = mu_step(m->Wr[e], accN[e], den[c], m->l1W, m->l2W, m->gamma, m->flushW);
    }
  }
}

/* W (n x kT, frame t in columns k t ..) to and from Wr (frame t in block T - 1 - t). */
static void reverse_frames(float *to, const float *from, int64_t n, int k, int T) {
  size_t block = (size_t)n * (size_t)k;
  for (int t = 0; t < T; t++) memcpy(to + (size_t)(T - 1 - t) * block, from + (size_t)t * block,
                                     block * sizeof(float));
}

/* The sgemm path's buffers (see nmfd_state), freed by nmfd_free. */
static int gemm_alloc(nmfd_state *m, tsr_error *err) {
  const size_t n = (size_t)m->n, p = (size_t)m->p, K = (size_t)m->K, parts = (size_t)m->parts;
  size_t np_, nK, Kp, KK, count, bytes;
  if (tsr_mul_size(n, p, &np_) != 0 || tsr_mul_size(n, K, &nK) != 0 ||
      tsr_mul_size(nK, parts * (m->two ? 2 : 1), &nK) != 0 || tsr_mul_size(K, p, &Kp) != 0 ||
      tsr_mul_size(K, K * (parts + 1), &KK) != 0 ||
      (count = np_ * (m->two ? 2 : 1)) < np_ || (count += 3 * Kp) < Kp ||
      (count += nK + n * K) < nK || (count += KK) < KK ||
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
  /* Per partition n x K: numW's, then denW's (two); denW at least n x K (Euclidean). */
  m->denW = m->numW + n * K * parts;
  m->WtWf = m->denW + (m->two ? n * K * parts : n * K);
  m->HHt = m->WtWf + K * K;
  return TSR_OK;
}

/* The column pass's per-partition buffers (none for the sgemm path), Wr, Hpad, H's step,
 * the double statistics and the pool. */
static int nmfd_alloc(nmfd_state *m, int threads, tsr_error *err) {
  const size_t n = (size_t)m->n, K = (size_t)m->K, k = (size_t)m->k;
  const size_t width = k * (size_t)(m->p + m->T - 1);
  size_t nK, per = 0, shared, fbytes, dbytes;
  int over = tsr_mul_size(n, K, &nK) != 0 || tsr_mul_size(K, K, &m->statn) != 0;
  if (!over && !m->gemm)
    over = tsr_mul_size(k, (size_t)m->span, &per) != 0 || tsr_mul_size(per, 2, &per) != 0 ||
           (per += nK * (m->two ? 2 : 1)) < nK || (per += 2 * n + K + 31) < 2 * n;
  per &= ~(size_t)31;
  if (over || tsr_mul_size(per, (size_t)m->parts, &fbytes) != 0 ||
      (shared = nK + 3 * width + K) < nK || (fbytes += shared) < shared ||
      tsr_mul_size(fbytes, sizeof(float), &fbytes) != 0) {
    tsr_seterror(err, "the scratch space of an NMFD fit with n = %lld, k = %d, T = %d overflows",
                 (long long)m->n, m->k, m->T);
    return TSR_ELIMIT;
  }
  if (m->cls != CLS_EUC) m->statn = m->cls == CLS_KL ? K : 0;
  m->fstride = per;
  m->dstride = (m->statn + 15) & ~(size_t)15;
  dbytes = (m->dstride * (size_t)m->parts + 2 * K * K + K) * sizeof(double);
  float *fs = tsr_alloc(fbytes);
  if (fs == NULL) return tsr_alloc_failure(fbytes, "the NMFD fit's scratch space", err);
  double *ds = tsr_alloc(dbytes);
  if (ds == NULL) {
    tsr_free(fs);
    return tsr_alloc_failure(dbytes, "the NMFD fit's scratch space", err);
  }
  m->fpart = fs;
  m->Wr = fs + m->fstride * (size_t)m->parts;
  m->Hpad = m->Wr + nK;
  m->numH = m->Hpad + width;
  m->denH = m->numH + width;
  m->rowden = m->denH + width;
  m->dpart = ds;
  m->WtW = ds + m->dstride * (size_t)m->parts;
  m->hstat = m->WtW + K * K;
  m->wsum = m->hstat + K * K;
  m->pool = tsr_pool_open(threads < m->parts ? threads : m->parts);
  if (m->pool == NULL) return tsr_alloc_failure(sizeof(void *), "the NMFD fit's thread pool", err);
  return m->gemm ? gemm_alloc(m, err) : TSR_OK;
}

static void nmfd_free(nmfd_state *m) {
  tsr_free(m->gbuf);
  tsr_pool_close(m->pool);
  tsr_free(m->dpart);
  tsr_free(m->fpart);
}

static void iteration(nmfd_state *m, const tsr_nmf_params *prm) {
  const int updW = prm->update_W != 0, updH = prm->update_H != 0;
  if (prm->order == TSR_NMF_ORDER_SIMULTANEOUS) {
    if (updH) prep_h(m);
    pass(m, (updH ? DO_H : 0) | (updW ? DO_W : 0));
    if (updH) apply_h(m);
    if (updW) apply_w(m);
    return;
  }
  for (int half = 0; half < 2; half++) {
    int doW = (half == 0) == (prm->order == TSR_NMF_ORDER_WH);
    if (doW && updW) {
      pass(m, DO_W);
      apply_w(m);
    } else if (!doW && updH) {
      prep_h(m);
      pass(m, DO_H);
      apply_h(m);
    }
  }
}

/* The path for V n x p and K = kT: the sgemm one when K passes NMFD_GEMM_MIN_K (there the
 * products run at the machine's FMA rate, which the column loops, reading Wr from cache
 * once per column, do not reach; see docs/DECISIONS.md), the column pass below it.
 * TESSERA_NMFD_PATH=columns|gemm chooses one, for the specs that compare them. */
enum { NMFD_GEMM_MIN_K = 1 };

static int use_gemm(int64_t n, int64_t p, int K) {
  if (n > INT32_MAX || p > INT32_MAX) return 0;
  const char *forced = getenv("TESSERA_NMFD_PATH");
  if (forced != NULL && strcmp(forced, "columns") == 0) return 0;
  if (forced != NULL && strcmp(forced, "gemm") == 0) return 1;
  return K >= NMFD_GEMM_MIN_K;
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
  m.kr = tsr_nmf_mu_kernels();
  m.gamma = prm->beta < 1.0 ? (float)(1.0 / (2.0 - prm->beta))
            : prm->beta > 2.0 ? (float)(1.0 / (prm->beta - 1.0)) : 1.0f;
  m.flushW = prm->beta < 1.0;
  m.flushH = prm->beta <= 1.0;
  m.l1W = (float)((double)p * prm->alpha_W * prm->l1_ratio);
  m.l2W = (float)((double)p * prm->alpha_W * (1.0 - prm->l1_ratio));
  m.l1H = (float)((double)n * prm->alpha_H * prm->l1_ratio);
  m.l2H = (float)((double)n * prm->alpha_H * (1.0 - prm->l1_ratio));
  m.frozen_W = prm->frozen_W;
  m.frozen_H = prm->frozen_H;
  m.parts = tsr_nmf_chunks(p);
  m.span = (p + m.parts - 1) / m.parts + T - 1;
  m.gemm = use_gemm(n, p, m.K);
  /* The partitions are the parallelism: OpenBLAS runs each partition's products on the
   * worker's own thread (its thread count would change how it splits a product's sums). */
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  status = nmfd_alloc(&m, tsr_nmf_parts(prm->threads, p), err);
  if (status != TSR_OK) {
    nmfd_free(&m);
    openblas_set_num_threads(saved);
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
        res->stopped = stop == 1;
        res->converged = stop == 2;
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
  openblas_set_num_threads(saved);
  return status;
}

double tsr_nmfd_loss_cols(const float *V, const float *Wr, const float *Hpad, int64_t n,
                          int64_t j0, int64_t j1, int k, int T, double beta) {
  const nmf_mu_kernels *kr = tsr_nmf_mu_kernels();
  const int cls = beta_class(beta);
  double s = 0.0;
  for (int64_t j = j0; j < j1; j++) s += kr->loss_col(cls, beta, Wr, n, k * T, Hpad + j * k, V + j * n);
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
