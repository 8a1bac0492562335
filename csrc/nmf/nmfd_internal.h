/* What the convolutive NMF's files share (nmfd.c: the fit, its updates and the model's
 * helpers; nmfd_blocks.c: the passes, on the block products of nmfd_block.h). See nmfd.c for
 * the model and the layout. */
#ifndef TSR_NMFD_INTERNAL_H
#define TSR_NMFD_INTERNAL_H

#include "internal.h"

enum { NMFD_DO_H = 1, NMFD_DO_W = 2 };

/* The block product (nmfd_block.h), one table per instruction set (nmfd_kernels_*.c). */
typedef struct nmfd_block_kernels {
  /* C (m x N, ldc) = A B (+ C when add): A m x kin (lda), B's entry (x, q) at B[x bsi + q bsq] */
  void (*gemm)(const float *A, int64_t lda, int64_t m, int64_t kin, const float *B, int64_t bsi,
               int64_t bsq, int64_t N, float *C, int64_t ldc, int add);
  /* Y = V / guard(Y), count entries */
  void (*kl_ratio)(const float *V, float *Y, size_t count);
} nmfd_block_kernels;

extern const nmfd_block_kernels tsr_nmfd_block_generic;
extern const nmfd_block_kernels *const tsr_nmfd_block_avx2;   /* NULL where not built */
extern const nmfd_block_kernels *const tsr_nmfd_block_avx512; /* NULL where not built */
/* The table of the level this process runs (simd.h). */
const nmfd_block_kernels *tsr_nmfd_block_kernels(void);

typedef struct nmfd_state {
  const float *V;
  int64_t n, p;
  int k, T, K, Kp, cls, two, flushW, flushH; /* K = k T, Kp = K rounded up to 16; two:
                                              * denominators need q (IS, beta) */
  double beta;
  float gamma, l1W, l2W, l1H, l2H;
  const unsigned char *frozen_W, *frozen_H;
  const nmfd_block_kernels *bk;
  float *Wr;          /* n x K, frames reversed */
  float *Hpad;        /* k x (p + T - 1), the first T - 1 columns 0 */
  float *numH, *denH; /* k x (p + T - 1): H's step */
  double *wsum;       /* K: Wr's column sums (KL H step) */
  double *hstat;      /* K: sum_j hb_j (KL W step) */
  int parts;          /* column partitions, fixed by the shape */
  int row_parts;      /* row partitions of the block path's W step, fixed by the shape */
  tsr_pool *pool;
  int flags;          /* the current pass's NMFD_DO_H | NMFD_DO_W */
  /* The block path: per column partition gstride floats (Y, Q: ld x block each, Q when two;
   * numW, denW: n x K each, denW when two), then Hbig (K x p: column j is hb_j),
   * G and G2 (Kp x p: H's step before its shift-sum), denE (n x K: the Euclidean W step's
   * denominators), Wt (Kp x n: Wr', rows past K zero) and WtWf (Kp x K: Wr'Wr). */
  float *gbuf, *Hbig, *G, *G2, *denE, *Wt, *WtWf;
  float *Wp;          /* Wr with leading dimension ld, copied at each pass */
  float *HHt;         /* K x K: Hbig Hbig', the Euclidean W step's */
  float *gram;        /* per row partition, its share of Wr'Wr (Kp x K) */
  int direct;         /* Euclidean, V within 8 MB: the passes read V where it is (nmfd_blocks.c) */
  int derived;        /* Wp, Wt and Wr'Wr's shares are Wr's (the last W step formed them) */
  int64_t ld;         /* of Wp, Y and Q */
  size_t gstride;
  int block;          /* columns per block: about 256 kB of Y */
} nmfd_state;

static inline void nmfd_add(float *restrict acc, const float *restrict x, size_t count) {
  for (size_t i = 0; i < count; i++) acc[i] += x[i];
}

static inline void nmfd_range(int64_t total, int parts, int t, int64_t *i0, int64_t *i1) {
  *i0 = total * t / parts;
  *i1 = total * (t + 1) / parts;
}

/* W's update of rows i0..i1-1 from its numerators (n x K) and denominators: den (n x K), or
 * for the KL loss (den NULL) hstat's sums. */
void tsr_nmfd_apply_w_rows(nmfd_state *m, int64_t i0, int64_t i1, const float *num,
                           const float *den);

/* A pass over V for H's step (into numH, denH) and/or W's step (applied to Wr), and its
 * buffers, after the shared ones (nmfd.c): TSR_OK or an allocation failure. */
void tsr_nmfd_blocks_pass(nmfd_state *m, int flags);
int tsr_nmfd_blocks_alloc(nmfd_state *m, tsr_error *err);

#endif
