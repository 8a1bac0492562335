/* The convolutive NMF's passes on the block product (nmfd_block.h, at this CPU's SIMD level).
 * With Hbig the K x p matrix whose column j is hb_j (Hpad's kT floats from column j: see
 * nmfd.c), the model is L = Wr Hbig, and
 *   H's step: G = Wr' X (K x p; X the ratio, or V for the Euclidean loss), shifted and summed
 *     into Hpad's columns (column j's K entries land on Hpad's columns j..j+T-1); its
 *     denominators from (Wr'Wr) Hbig (Euclidean), Wr' Q (IS, other betas) or Wr's column
 *     sums (KL, nmfd.c). Wr' is a copy (Wt, its rows padded to a whole number of vectors),
 *     so that these products run down contiguous columns as the others do;
 *   W's step: X Hbig' and Wr (Hbig Hbig'), Q Hbig', or Hbig's row sums.
 * Column partitions (fixed by the shape) go through their columns in blocks of about 256 kB
 * of L: a block's L, ratio and products are formed while it is in cache, so V is read once
 * per half-step, in order, and no n x p scratch exists. Each partition sums W's step on its
 * own; row partitions add those sums in partition order, apply the update and form what the
 * next pass reads of their rows of W (Wp, Wt and their share of Wr'Wr). Every product sums
 * in an order fixed by the shape, so results do not depend on the thread count. */
#include "nmfd_internal.h"

#include <math.h>
#include <string.h>

/* out (k x (p + T - 1)) = the sum over columns j of G[:, j] (K x p) added at Hpad's column j
 * on: H's step from its kT-row form, in column order. */
static void shift_sum(const nmfd_state *m, const float *G, float *out) {
  const size_t k = (size_t)m->k, K = (size_t)m->K, Kp = (size_t)m->Kp;
  memset(out, 0, k * (size_t)(m->p + m->T - 1) * sizeof(float));
  for (int64_t j = 0; j < m->p; j++) nmfd_add(out + (size_t)j * k, G + (size_t)j * Kp, K);
}

/* count entries: the ratio into Y and Q beside it for IS and other betas (KL's is a block
 * kernel), as the kernels' prep and prep_beta (portable.h) form them (IS's product in
 * another order, see below). */
static void ratio_terms(const nmfd_state *m, const float *V, float *Y, float *Q, size_t count) {
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
  beta_terms(V, Y, Y, Q, count, m->beta);
}

/* Partition t's scratch: Y and Q (ld x SB each: a block's L, then its ratio) and its W-step
 * sums numW and denW (n x K each; partition 0's numW is the Euclidean step's too). */
static float *part_base(const nmfd_state *m, int t) { return m->gbuf + (size_t)t * m->gstride; }

/* Hbig's columns j0..j1-1 from Hpad (each partition forms its own). */
static void hbig_columns(nmfd_state *m, int64_t j0, int64_t j1) {
  const size_t K = (size_t)m->K, k = (size_t)m->k;
  for (int64_t j = j0; j < j1; j++)
    memcpy(m->Hbig + (size_t)j * K, m->Hpad + (size_t)j * k, K * sizeof(float));
}

/* Partition t: its columns in blocks of SB, each block's L, ratio and products formed while
 * the block is in cache (no n x p scratch): H's step into its columns of G (and G2), W's
 * into the partition's own sums. */
static void column_part(nmfd_state *m, int t) {
  const int n = (int)m->n, K = m->K, Kp = m->Kp, flags = m->flags, SB = m->block;
  const int64_t ld = m->ld;
  const size_t nK = (size_t)n * (size_t)K, nS = (size_t)ld * (size_t)SB;
  int64_t j0, j1;
  nmfd_range(m->p, m->parts, t, &j0, &j1);
  float *Y = part_base(m, t), *Q = Y + nS, *numW = Q + (m->two ? nS : 0), *denW = numW + nK;
  hbig_columns(m, j0, j1);
  for (int64_t b0 = j0; b0 < j1; b0 += SB) {
    const int B = (int)(j1 - b0 < SB ? j1 - b0 : SB);
    const int first = b0 == j0;
    const float *Hb = m->Hbig + (size_t)b0 * K;
    /* X: the block's ratio in Y, or for the Euclidean loss V itself: read where it is when
     * it fits in cache (m->direct), else read in order into Y at leading dimension ld (V's
     * own may map a row of every column to one L1 set). */
    const float *X = m->V + (size_t)b0 * n;
    int64_t ldx = n;
    if (!m->direct) {
      if (m->cls != CLS_EUC) m->bk->gemm(m->Wp, ld, n, K, Hb, 1, K, B, Y, ld, 0);
      for (int j = 0; j < B; j++) {
        const float *v = X + (size_t)j * n;
        float *y = Y + (size_t)j * ld;
        if (m->cls == CLS_EUC) memcpy(y, v, (size_t)n * sizeof(float));
        else if (m->cls == CLS_KL) m->bk->kl_ratio(v, y, (size_t)n);
        else ratio_terms(m, v, y, Q + (size_t)j * ld, (size_t)n);
      }
      X = Y;
      ldx = ld;
    }
    if (flags & NMFD_DO_H) {
      float *G = m->G + (size_t)b0 * Kp, *G2 = m->G2 + (size_t)b0 * Kp;
      m->bk->gemm(m->Wt, Kp, Kp, n, X, 1, ldx, B, G, Kp, 0);
      if (m->cls == CLS_EUC) m->bk->gemm(m->WtWf, Kp, Kp, K, Hb, 1, K, B, G2, Kp, 0);
      else if (m->two) m->bk->gemm(m->Wt, Kp, Kp, n, Q, 1, ld, B, G2, Kp, 0);
    }
    if ((flags & NMFD_DO_W) && !m->direct) {
      const int add = !first; /* the first block starts the sums */
      m->bk->gemm(X, ldx, n, B, Hb, K, 1, K, numW, n, add);
      if (m->two) m->bk->gemm(Q, ld, n, B, Hb, K, 1, K, denW, n, add);
    }
  }
}

static void column_task(void *ctx, int t) { column_part(ctx, t); }

/* Row partition t's rows i0..i1-1: runs of 16 (64 bytes), so that two workers rarely write
 * to one cache line of a column. */
static void row_range(const nmfd_state *m, int t, int64_t *i0, int64_t *i1) {
  nmfd_range(m->n / 16, m->row_parts, t, i0, i1);
  *i0 *= 16;
  *i1 = t + 1 == m->row_parts ? m->n : *i1 * 16;
}

/* What the passes read of Wr, for rows i0..i1-1 of partition t: Wp (Wr at leading dimension
 * ld), Wt (Wr') and, for the Euclidean loss, the rows' share of Wr'Wr. */
static void derive_rows(nmfd_state *m, int t, int64_t i0, int64_t i1) {
  const int64_t n = m->n;
  const int K = m->K;
  const size_t Kp = (size_t)m->Kp;
  for (int c = 0; c < K; c++)
    memcpy(m->Wp + (size_t)c * (size_t)m->ld + i0, m->Wr + (size_t)c * (size_t)n + i0,
           (size_t)(i1 - i0) * sizeof(float));
  for (int64_t i = i0; i < i1; i++)
    for (int c = 0; c < K; c++) m->Wt[(size_t)i * Kp + c] = m->Wr[(size_t)c * (size_t)n + i];
  if (m->cls == CLS_EUC)
    m->bk->gemm(m->Wt + (size_t)i0 * Kp, m->Kp, m->Kp, i1 - i0, m->Wp + i0, 1, m->ld, K,
                m->gram + (size_t)t * Kp * (size_t)K, m->Kp, 0);
}

static void derive_task(void *ctx, int t) {
  nmfd_state *m = ctx;
  int64_t i0, i1;
  row_range(m, t, &i0, &i1);
  derive_rows(m, t, i0, i1);
}

/* out (count floats) = the sum of parts partials count floats apart, in partition order. */
static void add_partials(const float *partials, int parts, size_t count, float *out) {
  memcpy(out, partials, count * sizeof(float));
  for (int q = 1; q < parts; q++) nmfd_add(out, partials + (size_t)q * count, count);
}

/* Partition 0's numW: after the row partitions add the others' to it, the total. */
static float *num_total(const nmfd_state *m) {
  return part_base(m, 0) + (size_t)m->ld * (size_t)m->block * (m->two ? 2 : 1);
}

/* Row partition t of W's step: the column partitions' sums added up in partition order, or
 * where the Euclidean loss reads V itself its rows of V Hbig' (its denominators are always
 * Wr (Hbig Hbig')), then the update of those rows and what the next pass reads of them. */
static void row_part(nmfd_state *m, int t) {
  const int64_t n = m->n;
  const int K = m->K;
  const size_t nK = (size_t)n * (size_t)K;
  int64_t i0, i1;
  row_range(m, t, &i0, &i1);
  float *num0 = num_total(m);
  float *den0 = m->two ? num0 + nK : m->denE;
  if (m->direct) {
    m->bk->gemm(m->V + i0, n, i1 - i0, m->p, m->Hbig, K, 1, K, num0 + i0, n, 0);
  } else {
    for (int q = 1; q < m->parts; q++) {
      const float *num = part_base(m, q) + (num0 - part_base(m, 0));
      for (int c = 0; c < K; c++) {
        const size_t at = (size_t)c * (size_t)n;
        nmfd_add(num0 + at + i0, num + at + i0, (size_t)(i1 - i0));
        if (m->two) nmfd_add(den0 + at + i0, num + nK + at + i0, (size_t)(i1 - i0));
      }
    }
  }
  if (m->cls == CLS_EUC)
    m->bk->gemm(m->Wp + i0, m->ld, i1 - i0, K, m->HHt, 1, K, K, m->denE + i0, n, 0);
  tsr_nmfd_apply_w_rows(m, i0, i1, num0, m->cls == CLS_KL ? NULL : den0);
  derive_rows(m, t, i0, i1);
}

static void row_task(void *ctx, int t) { row_part(ctx, t); }

void tsr_nmfd_blocks_pass(nmfd_state *m, int flags) {
  const int K = m->K;
  const size_t KK = (size_t)m->Kp * (size_t)K;
  m->flags = flags;
  if (!m->derived) tsr_pool_run(m->pool, m->row_parts, derive_task, m);
  m->derived = 1;
  if ((flags & NMFD_DO_H) && m->cls == CLS_EUC) add_partials(m->gram, m->row_parts, KK, m->WtWf);
  /* The Euclidean W step reading V where it lies needs no column pass: a pool round costs
   * more than forming Hbig on this thread. */
  const int columns = (flags & NMFD_DO_H) || !m->direct;
  if (columns) tsr_pool_run(m->pool, m->parts, column_task, m);
  if (flags & NMFD_DO_H) {
    shift_sum(m, m->G, m->numH);
    if (m->cls != CLS_KL) shift_sum(m, m->G2, m->denH);
  }
  if (!(flags & NMFD_DO_W)) return;
  if (m->cls == CLS_EUC) {
    if (!columns) hbig_columns(m, 0, m->p);
    m->bk->gemm(m->Hbig, K, K, m->p, m->Hbig, K, 1, K, m->HHt, K, 0);
  } else if (m->cls == CLS_KL) {
    for (int c = 0; c < K; c++) {
      double sum = 0.0;
      for (int64_t j = 0; j < m->p; j++) sum += m->Hbig[(size_t)j * K + (size_t)c];
      m->hstat[c] = sum;
    }
  }
  tsr_pool_run(m->pool, m->row_parts, row_task, m);
}

int tsr_nmfd_blocks_alloc(nmfd_state *m, tsr_error *err) {
  const size_t n = (size_t)m->n, p = (size_t)m->p, K = (size_t)m->K;
  /* Blocks of about 256 kB of Y, a multiple of 8 columns: in L2 while they are used. */
  size_t sb = (size_t)(1 << 16) / (n > 0 ? n : 1);
  sb = sb < 8 ? 8 : sb > 256 ? 256 : sb & ~(size_t)7;
  m->block = (int)sb;
  /* Wp, Y and Q's columns: n rounded up to whole 64-byte lines, an odd number of them or at
   * least not a multiple of 8, so that row i of consecutive columns falls in different L1
   * sets (at n = 1025, 4100-byte columns put them all in one set, as mu.c found). */
  size_t lines = (n + 15) / 16;
  while (lines % 8 == 0) lines++;
  m->ld = (int64_t)(lines * 16);
  const size_t ld = (size_t)m->ld;
  /* Wt's and G's rows: K rounded up to a whole number of vectors at every SIMD level. */
  m->Kp = (m->K + 15) / 16 * 16;
  const size_t Kp = (size_t)m->Kp;
  size_t nS, nK, Kxp, Kpxp, nKp, KpK, grams, per, count, bytes;
  if (n > INT32_MAX || p > INT32_MAX || m->K > INT32_MAX - 16 || tsr_mul_size(ld, sb, &nS) != 0 ||
      tsr_mul_size(ld, K, &nK) != 0 || tsr_mul_size(K, p, &Kxp) != 0 ||
      tsr_mul_size(Kp, p, &Kpxp) != 0 || tsr_mul_size(Kp, n, &nKp) != 0 ||
      tsr_mul_size(Kp, K, &KpK) != 0 ||
      tsr_mul_size(KpK, (size_t)m->row_parts + 2, &grams) != 0 ||
      (per = (nS + nK) * (m->two ? 2 : 1)) < nS || (per += 31) < 31 ||
      (per &= ~(size_t)31, tsr_mul_size(per, (size_t)m->parts, &count)) != 0 ||
      (count += Kxp) < Kxp || (count += 2 * Kpxp) < Kpxp || (count += 2 * nK + nKp) < nKp ||
      (count += grams) < grams || tsr_mul_size(count, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "the scratch space of an NMFD fit with n = %lld, p = %lld, k T = %d "
                 "overflows", (long long)m->n, (long long)m->p, m->K);
    return TSR_ELIMIT;
  }
  m->gstride = per;
  /* The Euclidean loss reads V itself where it fits in the last level of cache (8 MB):
   * row partitions then form V Hbig' straight from V, with no partial sums to move between
   * cores; a larger V is read in order, by column partitions (docs/DECISIONS.md). */
  m->direct = m->cls == CLS_EUC && n * p <= ((size_t)8 << 20) / sizeof(float);
  m->gbuf = tsr_alloc(bytes);
  if (m->gbuf == NULL) return tsr_alloc_failure(bytes, "the NMFD fit's scratch space", err);
  m->Hbig = m->gbuf + per * (size_t)m->parts;
  m->G = m->Hbig + Kxp;
  m->G2 = m->G + Kpxp;
  m->denE = m->G2 + Kpxp;
  m->Wp = m->denE + nK;
  m->Wt = m->Wp + nK;
  m->WtWf = m->Wt + nKp;
  m->HHt = m->WtWf + KpK;
  m->gram = m->HHt + KpK; /* the row partitions' shares of Wr'Wr */
  memset(m->Wt, 0, nKp * sizeof(float)); /* its padding rows stay 0 */
  return TSR_OK;
}
