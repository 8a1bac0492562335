/* The coordinate-descent pass (cd_pass.c) as the CD solver (cd.c) drives it: one read of
 * V in column blocks that stay in cache, split into chunks with partial sums of their own. */
#ifndef TSR_NMF_CD_PASS_H
#define TSR_NMF_CD_PASS_H

#include <stdatomic.h>

#include "internal.h"

enum {
  CD_BLOCK_MAX = 9, /* columns of V per step of the fused pass (nmf_cd_kernels.block): a
                     * few, so that V·Hᵀ finds them in L1 right after Gᵀ read them */
};

/* ---------------------------------------------------------------------------------------
 * The fused H pass and its thread pool. V's columns are cut into a fixed number of chunks,
 * each with its own partial sums; threads take chunks as they come free (a core that
 * another program holds up does not hold up the pass), and the partial sums are added in
 * chunk order, so the result does not depend on the threads at all. */
typedef struct cd_chunk {
  int64_t j_lo, j_hi; /* its columns of V */
  float *P;           /* n x k partial V·Hᵀ */
  double *hh;         /* k x k partial H·Hᵀ (upper triangle) */
  double viol, cross;
  double vnorm2;      /* ‖V‖² over its columns, on a pass with check_v */
  double loss;        /* exact ‖V − WH‖² over its columns, on a pass with want_loss */
  int bad;            /* V holds a negative, NaN or infinite entry there */
} cd_chunk;

typedef struct cd_worker {
  float *Gt, *Ht;     /* CD_BLOCK_MAX x k scratch */
  float *den;         /* CD_BLOCK_MAX x k: CD_RULE_MU's denominators for one block */
  float *free;        /* tsr_nmf_cd_sweep_free's scratch for a block, when H has frozen rows */
} cd_worker;

/* What one pass over V computes, each worker over its own columns. */
enum cd_pass_mode {
  CD_PASS_FUSED, /* Gᵀ block, sweep H's block, then V·Hᵀ += V_J·H_Jᵀ when need_vht */
  CD_PASS_VHT,   /* V·Hᵀ for the current H only */
  CD_PASS_GT,    /* Gfix = Vᵀ·W for the current (fixed) W only */
  CD_PASS_LOSS   /* the exact objective only */
};

/* How CD_PASS_FUSED updates H's block from Gᵀ = V_Jᵀ·W: scikit-learn's coordinate sweep, or
 * the Euclidean multiplicative update H ← H ∘ (WᵀV) / ((WᵀW) H + l1 + l2 H). */
enum cd_rule { CD_RULE_HALS, CD_RULE_MU };

typedef struct cd_pass {
  int mode;
  const float *V;
  int64_t n, p;
  int k;
  const float *W;     /* current W */
  float *H;           /* updated in place by CD_PASS_FUSED */
  float *Gfix;        /* Vᵀ·W (p x k) when W stays fixed: written by CD_PASS_GT, read by
                       * CD_PASS_FUSED instead of computing each block; else NULL */
  const float *Qh;    /* Wᵀ·W with l2_H on the diagonal */
  float l1h;
  const unsigned char *frozen_H; /* k flags: rows of H the sweep keeps, or NULL */
  int need_vht;       /* CD_PASS_FUSED: accumulate V·Hᵀ for the next W sweep */
  int check_v;        /* CD_PASS_VHT / CD_PASS_GT: also check V and sum ‖V‖² */
  int want_loss;      /* also sum the exact ‖V − WH‖² (after the update, for FUSED), each
                       * column while it is in cache: no pass of its own */
  int rule;           /* enum cd_rule */
  const double *WtW;  /* CD_RULE_MU: Wᵀ·W, the update's denominator */
  float l2h;          /* CD_RULE_MU: l2 on H (CD_RULE_HALS has it in Qh) */
  const nmf_cd_kernels *kr;
  cd_worker *wk;
  cd_chunk *ch;
  int nchunks;
  atomic_int next;    /* the next chunk to take */
} cd_pass;


/* Floats of tsr_nmf_cd_sweep_free's scratch for m rows. */
size_t tsr_nmf_cd_free_scratch(int64_t m, int k);

/* The coordinate sweep of X's free components only (frozen[t] set: column t of X kept as it
 * is): they are gathered into scratch with their gradient's share of the frozen ones moved
 * into A (A' = A - X_F Q_F,t, exact since the sweep's gradient is -(A - l1) + X Q), swept,
 * and put back. Returns the free components' summed |projected gradient|. */
double tsr_nmf_cd_sweep_free(const nmf_cd_kernels *kr, float *X, int64_t m, int64_t ldx, int k,
                             const float *A, int64_t lda, float l1, const float *Q,
                             const unsigned char *frozen, float *scratch);

/* Runs one pass on every worker of pool (chunks taken as workers come free). */
void tsr_nmf_cd_pass_run(tsr_pool *pool, cd_pass *ps);

/* V·Hᵀ = the chunks' partial sums added in chunk order (the same for any thread count). */
void tsr_nmf_cd_reduce_vht(const nmf_cd_kernels *kr, float *VHt, const cd_chunk *ch, int nchunks,
                   size_t nk);

/* G (k x k, double) += Xᵀ·X for X m x k column-major (leading dimension ldx); upper
 * triangle computed, then mirrored by the caller (cd_gram_mirror). Inline: the pass calls
 * it for every block. */
static inline void cd_gram_acc(const float *X, int64_t m, int64_t ldx, int k, double *G) {
  for (int t = 0; t < k; t++) {
    const float *xt = X + (int64_t)t * ldx;
    for (int r = t; r < k; r++) {
      const float *xr = X + (int64_t)r * ldx;
      double s[4] = {0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 4 <= m; i += 4)
        for (int l = 0; l < 4; l++) s[l] += (double)xt[i + l] * (double)xr[i + l];
      double acc = (s[0] + s[2]) + (s[1] + s[3]);
      for (; i < m; i++) acc += (double)xt[i] * (double)xr[i];
      G[t + (int64_t)r * k] += acc;
    }
  }
}

/* Σ a·b in double. */
static inline double cd_dot(const float *a, const float *b, size_t count) {
  double s = 0.0;
  for (size_t e = 0; e < count; e++) s += (double)a[e] * (double)b[e];
  return s;
}

#endif
