/* The multiplicative-update solver (Lee-Seung for the Euclidean and KL losses, Fevotte-Idier's
 * heuristic for other beta-divergences) on fused passes: one read of V per iteration.
 *
 * Columns are split into a fixed number of partitions, taken by the pool's threads as they
 * come free; for each column j the H update reads V[:, j], W and H[:, j], forms (WH)[:, j]
 * in registers, and right away (the column is still in L1) the W update's contribution
 * V[:, j]-ratio * H[:, j]' is added to the partition's own n x k accumulator. No n x p
 * temporary exists. Partition sums are added in partition order, so the result does not
 * depend on the thread count. The loops come from the kernel table of this CPU (kernels.h).
 * The Euclidean MU in scikit-learn's order (W then H) runs instead on the CD solver's pass
 * (cd.c); the other orders use the loops here for k <= 8 and sgemm beyond (mu_gemm.c). */
#include "internal.h"

#include <math.h>
#include <string.h>

static void prep(int cls, double beta, const nmf_mu_kernels *kr, const float *W, int64_t n,
                 int k, const float *h, const float *v, float *r, float *q) {
  if (cls == CLS_BETA) kr->prep_beta(W, n, k, h, v, beta, r, q);
  else kr->prep(W, n, k, h, v, r, cls == CLS_IS ? q : NULL);
}

/* A pass's work; with kl512, LOSS_H sums the objective at the factors the pass starts from
 * in the H half-step, LOSS_W at the W and h the W half-step sees. */
enum { DO_H = 1, DO_W = 2, SIMUL = 4, LOSS_H = 8, LOSS_W = 16 };

typedef struct mu_state {
  const float *V;
  float *W, *H;
  int64_t n, p;
  int k, cls, simd, parts, flushW, flushH; /* simd: 0 portable, 1 AVX2, 2 AVX-512 */
  const nmf_mu_kernels *kr;
  double beta;
  float gamma;              /* Fevotte-Idier's exponent; 1 for beta in [1, 2] */
  float l1W, l2W, l1H, l2H; /* scikit-learn's scaled regularisation */
  /* Per partition, each in its own cache lines (fstride floats, dstride doubles):
   * accN, accD (ld x k each, rows n: the W update's numerator and, for IS and other betas,
   * denominator), r, q (n each: the column's ratios), 5k floats (the H update's numerators
   * of a group of four columns, or numerator and denominator dots, and the denominators);
   * stat: H H' (Euclidean, k x k) or H's row sums (KL), then the pass's objective. */
  float *fpart;
  double *stat;
  size_t fstride, dstride, statn;
  int two;
  /* shared */
  double *WtW, *wsum, *hstat;
  double pass_loss;         /* the objective a pass with LOSS_H or LOSS_W summed */
  float *wden;              /* k */
  float *hden;              /* k: the KL H update's denominators (mu_prep_h) */
  int fused;                /* the AVX2 loops: k <= 16 for KL and IS, k <= 8 Euclidean */
  int kl512;                /* the AVX-512 KL loops, on Wp and accumulators of stride ld */
  int64_t ld;               /* leading dimension of accN, accD and Wp: n, or for kl512 n
                             * rounded up to whole 64-byte lines, and to an odd number of
                             * them, so that row i of every column falls in another L1 set
                             * (at n = 1025, 4100-byte columns put all 16 in one 8-way set) */
  float *Wp;                /* kl512: W copied with leading dimension ld, 64-byte aligned */
  const float *zero_v, *zero_h; /* n and k zeros: padding for a partial group */
  tsr_pool *pool;           /* runs the partitions (fixed by the shape) as tasks */
  int flags;                /* the current pass's */
} mu_state;

static float *part_accN(const mu_state *m, int t) { return m->fpart + (size_t)t * m->fstride; }
static float *part_accD(const mu_state *m, int t) {
  return m->two ? part_accN(m, t) + (size_t)m->ld * m->k : NULL;
}
static float *part_r(const mu_state *m, int t) {
  return part_accN(m, t) + (size_t)m->ld * m->k * (m->two ? 2 : 1);
}
static float *part_q(const mu_state *m, int t) { return part_r(m, t) + m->n; }
static float *part_kbuf(const mu_state *m, int t) { return part_q(m, t) + m->n; }
static double *part_stat(const mu_state *m, int t) { return m->stat + (size_t)t * m->dstride; }

static void mu_prep_h(mu_state *m) {
  int64_t n = m->n;
  int k = m->k;
  if (m->cls == CLS_EUC && m->fused) {
    m->kr->gram(m->W, n, k, m->WtW);
    return;
  }
  if (m->cls == CLS_EUC) {
    for (int a = 0; a < k; a++)
      for (int b = a; b < k; b++) {
        const float *wa = m->W + a * n, *wb = m->W + b * n;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)wa[i] * wb[i];
        m->WtW[a * k + b] = m->WtW[b * k + a] = s;
      }
  } else if (m->cls == CLS_KL) {
    for (int a = 0; a < k; a++) {
      /* Not one chain of dependent adds, which cost a few percent of a small fit. */
      const float *wa = m->W + a * n;
      double s;
      if (m->simd == 2) {
        s = m->kr->sum_in_double(wa, n);
      } else
      {
        double part[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
          for (int e = 0; e < 8; e++) part[e] += wa[i + e];
        for (; i < n; i++) part[i % 8] += wa[i];
        s = ((part[0] + part[1]) + (part[2] + part[3])) +
            ((part[4] + part[5]) + (part[6] + part[7]));
      }
      m->wsum[a] = s == 0.0 ? 1.0 : s; /* scikit-learn: W_sum[W_sum == 0] = 1 */
      float d = (float)m->wsum[a];
      if (m->l1H > 0.0f) d += m->l1H;
      m->hden[a] = d == 0.0f ? EPS32 : d; /* mu_update_h's, when l2H does not add h */
    }
  }
}

/* h <- h * (num / den)^gamma with scikit-learn's denominators and guards. */
static void mu_update_h(const mu_state *m, float *h, const float *num, const float *dq,
                        float *den) {
  int k = m->k;
  if (m->cls == CLS_KL && m->l2H == 0.0f) { /* beta = 1: gamma is 1 */
    /* The same denominators for every column: mu_prep_h's. */
    for (int a = 0; a < k; a++) {
      float x = h[a] * (num[a] / m->hden[a]);
      h[a] = (m->flushH && x < (float)FLUSH) ? 0.0f : x;
    }
    return;
  }
  for (int a = 0; a < k; a++) {
    float d;
    if (m->cls == CLS_EUC) {
      double s = 0.0;
      for (int b = 0; b < k; b++) s += m->WtW[a * k + b] * h[b];
      d = (float)s;
    } else if (m->cls == CLS_KL) {
      d = (float)m->wsum[a];
    } else {
      d = dq[a];
    }
    if (m->l1H > 0.0f) d += m->l1H;
    if (m->l2H > 0.0f) d += m->l2H * h[a];
    den[a] = d == 0.0f ? EPS32 : d;
  }
  for (int a = 0; a < k; a++) {
    float delta = num[a] / den[a];
    if (m->gamma != 1.0f) delta = powf(delta, m->gamma);
    float x = h[a] * delta;
    h[a] = (m->flushH && x < (float)FLUSH) ? 0.0f : x;
  }
}

static void mu_add_stat(const mu_state *m, double *st, const float *h) {
  int k = m->k;
  if (m->cls == CLS_EUC) {
    for (int a = 0; a < k; a++)
      for (int b = 0; b < k; b++) st[a * k + b] += (double)h[a] * h[b];
  } else if (m->cls == CLS_KL) {
    for (int a = 0; a < k; a++) st[a] += h[a];
  }
}

/* The H update of one column of partition t. */
static void mu_h_column(const mu_state *m, int t, const float *v, float *h) {
  int64_t n = m->n;
  int k = m->k, cls = m->cls;
  float *num = part_kbuf(m, t), *dq = num + k, *den = dq + k;
  if (m->fused) {
    if (cls == CLS_EUC) m->kr->dots(m->W, n, k, v, num);
    else m->kr->hsweep(m->W, n, k, cls == CLS_IS, h, v, num, dq);
    mu_update_h(m, h, num, dq, den);
    return;
  }
  const float *x = v;
  float *r = part_r(m, t), *q = part_q(m, t);
  if (cls != CLS_EUC) {
    prep(cls, m->beta, m->kr, m->W, n, k, h, v, r, q);
    x = r;
  }
  m->kr->dots(m->W, n, k, x, num);
  if (m->two) m->kr->dots(m->W, n, k, q, dq);
  mu_update_h(m, h, num, dq, den);
}

/* Four columns' (some may be the zero padding) contribution to partition t's W update
 * sums; g of them are real. */
static void mu_w_group(const mu_state *m, int t, const float *const *v, const float *const *h,
                       int g) {
  int64_t n = m->n;
  int k = m->k, cls = m->cls;
  float *accN = part_accN(m, t), *accD = part_accD(m, t);
  double *st = part_stat(m, t);
  for (int c = 0; c < g; c++) mu_add_stat(m, st, h[c]);
  if (m->kl512) {
    st[m->statn] += m->kr->kl_wgroup(m->Wp, n, m->ld, k, h, v, accN, (m->flags & LOSS_W) != 0);
    return;
  }
  if (m->fused) {
    m->kr->wsweep(m->W, n, k, cls, h, v, accN, accD);
    return;
  }
  float *r = part_r(m, t), *q = part_q(m, t);
  for (int c = 0; c < g; c++) {
    const float *x = v[c];
    if (cls != CLS_EUC) {
      prep(cls, m->beta, m->kr, m->W, n, k, h[c], v[c], r, q);
      x = r;
    }
    m->kr->axpys(accN, n, k, x, h[c]);
    if (m->two) m->kr->axpys(accD, n, k, q, h[c]);
  }
}

/* Partition t's columns, four at a time: the H update of each column (DO_H), then the
 * group's contribution to the W update from the new H columns (DO_W), the columns of V
 * still in cache; with SIMUL the W contribution comes first, from the old H columns. */
static void mu_pass_part(mu_state *m, int t, int flags) {
  int64_t n = m->n, nk = m->ld * m->k;
  int k = m->k;
  int64_t j0 = m->p * t / m->parts, j1 = m->p * (t + 1) / m->parts;
  if (flags & DO_W) {
    float *accD = part_accD(m, t);
    memset(part_accN(m, t), 0, (size_t)nk * sizeof(float));
    if (accD) memset(accD, 0, (size_t)nk * sizeof(float));
  }
  memset(part_stat(m, t), 0, (m->statn + 1) * sizeof(double));
  for (int64_t j = j0; j < j1; j += 4) {
    int g = j1 - j < 4 ? (int)(j1 - j) : 4;
    const float *v[4], *hc[4];
    float *h[4];
    for (int c = 0; c < 4; c++) {
      v[c] = c < g ? m->V + (j + c) * n : m->zero_v;
      h[c] = c < g ? m->H + (j + c) * k : NULL;
      hc[c] = c < g ? h[c] : m->zero_h;
    }
    if ((flags & SIMUL) && (flags & DO_W)) mu_w_group(m, t, v, hc, g);
    if (flags & DO_H) {
      int c = 0;
      if (m->kl512) {
        /* The group's four numerators (padding columns included) in one sweep of W. */
        float *kb = part_kbuf(m, t), *den = kb + 4 * (size_t)k;
        float *num[4] = {kb, kb + k, kb + 2 * (size_t)k, kb + 3 * (size_t)k};
        part_stat(m, t)[m->statn] +=
            m->kr->kl_hgroup(m->Wp, n, m->ld, k, hc, v, num, (flags & LOSS_H) != 0);
        for (; c < g; c++) mu_update_h(m, h[c], num[c], NULL, den);
      }
      if (m->fused && m->cls == CLS_EUC && k <= 4) {
        /* Two columns per sweep of W; num and dq of the kbuf serve as the two sums. */
        float *num = part_kbuf(m, t), *num1 = num + k, *den = num1 + k;
        for (; c + 2 <= g; c += 2) {
          m->kr->dots2(m->W, n, k, v[c], v[c + 1], num, num1);
          mu_update_h(m, h[c], num, NULL, den);
          mu_update_h(m, h[c + 1], num1, NULL, den);
        }
      }
      for (; c < g; c++) mu_h_column(m, t, v[c], h[c]);
    }
    if (!(flags & SIMUL) && (flags & DO_W)) mu_w_group(m, t, v, hc, g);
  }
}

static void mu_pass_task(void *ctx, int t) {
  mu_state *m = ctx;
  mu_pass_part(m, t, m->flags);
}

static void mu_pass(mu_state *m, int flags) {
  int parts = m->parts;
  m->flags = flags;
  tsr_pool_run(m->pool, parts, mu_pass_task, m);
  if (flags & (LOSS_H | LOSS_W)) {
    double sum = 0.0;
    for (int t = 0; t < parts; t++) sum += part_stat(m, t)[m->statn];
    m->pass_loss = sum;
  }
  if (!(flags & DO_W)) return;
  /* Partition sums in partition order, into partition 0's buffers. */
  size_t nk = (size_t)m->ld * m->k;
  float *accN = part_accN(m, 0), *accD = part_accD(m, 0);
  if (m->simd == 2) {
    for (int t = 1; t < parts; t++) {
      m->kr->add_into(accN, part_accN(m, t), nk);
      if (accD) m->kr->add_into(accD, part_accD(m, t), nk);
    }
  } else
  for (int t = 1; t < parts; t++) {
    const float *a = part_accN(m, t);
    for (size_t i = 0; i < nk; i++) accN[i] += a[i];
    if (accD) {
      const float *d = part_accD(m, t);
      for (size_t i = 0; i < nk; i++) accD[i] += d[i];
    }
  }
  for (size_t s = 0; s < m->statn; s++) {
    double sum = 0.0;
    for (int t = 0; t < parts; t++) sum += part_stat(m, t)[s];
    m->hstat[s] = sum;
  }
  /* Leading dimension n for mu_apply_w; column a moves down, over columns already moved. */
  if (m->ld != m->n)
    for (int a = 1; a < m->k; a++) {
      memmove(accN + a * m->n, accN + a * m->ld, (size_t)m->n * sizeof(float));
      if (accD) memmove(accD + a * m->n, accD + a * m->ld, (size_t)m->n * sizeof(float));
    }
}

/* kl512's copy of W with leading dimension ld, after every change of W. */
static void mu_sync_wp(mu_state *m) {
  if (m->Wp == NULL) return;
  for (int a = 0; a < m->k; a++)
    memcpy(m->Wp + a * m->ld, m->W + a * m->n, (size_t)m->n * sizeof(float));
}

/* W <- W * (numerator / denominator)^gamma from the accumulated pass. */
static void mu_apply_w(mu_state *m) {
  int64_t n = m->n;
  int k = m->k;
  float *W = m->W, *den = m->wden, *accN = part_accN(m, 0), *accD = part_accD(m, 0);
  if (m->fused && k <= 8 && (m->gamma == 1.0f || m->gamma == 0.5f)) {
    float hh[64], hs[8];
    for (int a = 0; a < k * k; a++) hh[a] = m->cls == CLS_EUC ? (float)m->hstat[a] : 0.0f;
    for (int a = 0; a < k; a++) hs[a] = m->cls == CLS_KL ? (float)m->hstat[a] : 0.0f;
    m->kr->apply_w(W, n, k, m->cls, accN, accD, hh, hs, m->l1W, m->l2W, m->gamma == 0.5f,
                 m->flushW);
    mu_sync_wp(m);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    for (int a = 0; a < k; a++) {
      float d;
      if (m->cls == CLS_EUC) {
        double s = 0.0;
        for (int b = 0; b < k; b++) s += (double)W[i + b * n] * m->hstat[b * k + a];
        d = (float)s;
      } else if (m->cls == CLS_KL) {
        d = (float)m->hstat[a];
      } else {
        d = accD[i + a * n];
      }
      if (m->l1W > 0.0f) d += m->l1W;
      if (m->l2W > 0.0f) d += m->l2W * W[i + a * n];
      den[a] = d == 0.0f ? EPS32 : d;
    }
    for (int a = 0; a < k; a++) {
      float delta = accN[i + a * n] / den[a];
      if (m->gamma != 1.0f) delta = powf(delta, m->gamma);
      float x = W[i + a * n] * delta;
      W[i + a * n] = (m->flushW && x < (float)FLUSH) ? 0.0f : x;
    }
  }
  mu_sync_wp(m);
}

/* The fit's scratch (m->fpart and m->stat, their shared parts) and its pool: TSR_OK, or a
 * failure with nothing left allocated. */
static int mu_alloc(mu_state *m, int threads, tsr_error *err) {
  int64_t n = m->n;
  int k = m->k, parts = m->parts;
  /* Scratch: per partition 2n + (1 or 2) ld k + 5k floats and statn doubles, each rounded
   * up to whole 128-byte lines so partitions never share one; shared k*k + k + statn
   * doubles, 2k + n + k floats and for kl512 the ld x k copy of W. Well under one n x p
   * buffer. */
  size_t nk, per, nf, nd, fbytes, dbytes;
  if (tsr_mul_size((size_t)m->ld, (size_t)k, &nk) != 0 ||
      tsr_mul_size(nk, m->two ? 2 : 1, &per) != 0 ||
      (per += 2 * (size_t)n + 5 * (size_t)k + 31) < 2 * (size_t)n ||
      (per &= ~(size_t)31, tsr_mul_size(per, (size_t)parts, &nf)) != 0 ||
      (nf += 3 * (size_t)k + (size_t)n + 96) < (size_t)n ||
      (m->kl512 && (nf += nk) < nk) || tsr_mul_size(nf, sizeof(float), &fbytes) != 0) {
    tsr_seterror(err, "the scratch space for n = %lld, k = %d overflows", (long long)n, k);
    return TSR_ELIMIT;
  }
  m->fstride = per;
  m->dstride = (m->statn + 1 + 15) & ~(size_t)15;
  nd = m->dstride * (size_t)parts + (size_t)k * k + (size_t)k + m->statn;
  dbytes = nd * sizeof(double);
  float *fs = tsr_alloc(fbytes);
  if (fs == NULL) return tsr_alloc_failure(fbytes, "the fit's scratch space", err);
  double *ds = tsr_alloc(dbytes);
  if (ds == NULL) {
    tsr_free(fs);
    return tsr_alloc_failure(dbytes, "the fit's scratch space", err);
  }
  m->fpart = fs;
  m->wden = fs + m->fstride * (size_t)parts;
  m->hden = m->wden + ((size_t)k + 31) / 32 * 32;
  float *zeros = m->hden + ((size_t)k + 31) / 32 * 32;
  memset(zeros, 0, ((size_t)n + (size_t)k) * sizeof *zeros);
  m->zero_v = zeros;
  m->zero_h = zeros + n;
  if (m->kl512) {
    m->Wp = zeros + ((size_t)n + (size_t)k + 15) / 16 * 16; /* 64-byte aligned */
    mu_sync_wp(m);
  }
  m->stat = ds;
  m->WtW = m->stat + m->dstride * (size_t)parts;
  m->wsum = m->WtW + (size_t)k * k;
  m->hstat = m->wsum + k;
  m->pool = tsr_pool_open(threads < parts ? threads : parts);
  if (m->pool == NULL) {
    tsr_free(ds);
    tsr_free(fs);
    return tsr_alloc_failure(sizeof(void *), "the fit's thread pool", err);
  }
  return TSR_OK;
}

int tsr_nmf_mu_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                  const tsr_nmf_params *prm, int threads, tsr_nmf_result *res,
                  tsr_error *err) {
  /* Partitions from the shape, taken by the threads as they come free: the result is the
   * same for any thread count. */
  int parts = tsr_nmf_chunks(p);
  mu_state m;
  memset(&m, 0, sizeof m);
  m.V = V;
  m.W = W;
  m.H = H;
  m.n = n;
  m.p = p;
  m.k = k;
  m.beta = prm->beta;
  m.cls = beta_class(prm->beta);
  m.kr = tsr_nmf_mu_kernels();
  m.simd = m.kr->hsweep == NULL ? 0 : m.kr->kl_hgroup == NULL ? 1 : 2;
  m.parts = parts;
  const nmf_update_consts uc = tsr_nmf_update_consts(prm, n, p);
  m.gamma = uc.gamma;
  m.flushW = uc.flushW;
  m.flushH = uc.flushH;
  m.l1W = uc.l1W, m.l2W = uc.l2W, m.l1H = uc.l1H, m.l2H = uc.l2H;
  m.two = m.cls == CLS_IS || m.cls == CLS_BETA; /* denominators need a ratio */
  m.statn = m.cls == CLS_EUC ? (size_t)k * k : (size_t)k;
  m.fused = m.simd && (m.cls == CLS_EUC ? k <= 8 : m.cls != CLS_BETA && k <= 16);
  m.kl512 = m.fused && m.simd == 2 && m.cls == CLS_KL;
  m.ld = n;
  if (m.kl512) {
    int64_t lines = (n + 15) / 16;
    while (lines % 8 == 0) lines++; /* gcd(lines, 64 sets) <= 4: 16 columns, 16 sets */
    m.ld = lines * 16;
  }

  int status = mu_alloc(&m, threads, err);
  if (status != TSR_OK) return status;
  float *fs = m.fpart;
  double *ds = m.stat;

  int updW = prm->update_W != 0, updH = prm->update_H != 0;
  int order = prm->order, max_iter = prm->max_iter;
  int both_wh = order == TSR_NMF_ORDER_WH && updW && updH;
  /* kl512 sums a check's objective in a pass that reads V anyway: in order WH, the same
   * iteration's W half-step (LOSS_W); in the others, the next iteration's first sweep,
   * which starts from the checked factors (LOSS_H, or LOSS_W when H is fixed), with H kept
   * aside so that the fit can still stop at the checked iteration. */
  size_t hbytes = (size_t)k * (size_t)p * sizeof(float);
  float *Hkeep = m.kl512 && !both_wh && updH ? tsr_alloc(hbytes) : NULL;
  int can_defer = m.kl512 && !both_wh && (updH || updW) && (Hkeep != NULL || !updH);
  int it = 0, pending = 0, deferred = 0;
  tracker tr;
  if (tsr_nmf_track_start(&tr, prm, V, W, H, n, p, k, 1, parts, m.pool, err)) {
    res->stopped = tr.status == TSR_OK;
  } else {
    if (updH) mu_prep_h(&m);
    for (it = 1; it <= max_iter; it++) {
      int stop = 0;
      if (both_wh) {
        /* W then H. The pass that updates H for iteration t also gathers the W update of
         * iteration t+1 (it needs W_t and H_t, both at hand), which is applied at the
         * start of t+1, or dropped when the fit stops at t. */
        if (!pending) mu_pass(&m, DO_W);
        mu_apply_w(&m);
        mu_prep_h(&m);
        pending = it < max_iter;
        int fold = pending && m.kl512 && it % prm->every == 0;
        mu_pass(&m, DO_H | (pending ? DO_W : 0) | (fold ? LOSS_W : 0));
        if (fold) {
          tr.loss = m.pass_loss;
          tr.given = 1;
        }
      } else if (updH || updW) {
        /* H then W (with one factor fixed both orders are the same), or both from the
         * previous iterate. */
        int flags = (order == TSR_NMF_ORDER_SIMULTANEOUS ? SIMUL : 0) | (updH ? DO_H : 0) |
                    (updW ? DO_W : 0);
        if (deferred) {
          flags |= updH ? LOSS_H : LOSS_W;
          if (updH) memcpy(Hkeep, H, hbytes);
        }
        mu_pass(&m, flags);
        if (deferred) {
          deferred = 0;
          tr.loss = m.pass_loss;
          tr.given = 1;
          stop = tsr_nmf_track_iteration(&tr, it - 1);
          if (stop) {
            /* Back to the checked iteration: its H; W is still its own. */
            if (updH) memcpy(H, Hkeep, hbytes);
            it--;
            tsr_nmf_track_record(res, stop);
            break;
          }
        }
        if (updW) {
          mu_apply_w(&m);
          if (updH) mu_prep_h(&m);
        }
      }
      if (can_defer && it < max_iter && it % prm->every == 0) {
        deferred = 1;
        continue;
      }
      stop = tsr_nmf_track_iteration(&tr, it);
      if (stop) {
        tsr_nmf_track_record(res, stop);
        break;
      }
    }
    if (it > max_iter) it = max_iter;
  }
  res->iterations = it;
  if (tr.status == TSR_OK) res->loss = tsr_nmf_track_final(&tr);
  tsr_free(Hkeep);
  tsr_pool_close(m.pool);
  tsr_free(ds);
  tsr_free(fs);
  return tr.status;
}
