/* The Euclidean multiplicative updates for k > 8 in the orders HW and simultaneous, through
 * OpenBLAS: W'V and VH' are sgemm calls (two reads of V per iteration), the k x k products
 * small ones. */
#include "internal.h"

#include <cblas.h>
#include <string.h>

/* The Euclidean MU for k > 8 through OpenBLAS: W'V and VH' are sgemm calls (two reads of
 * V per iteration, but at the machine's FMA rate, which for large k matters more), the
 * small products too; only k x p and n x k scratch. */
static void gemm_apply(float *F, const float *N, const float *D, size_t count, float l1,
                       float l2) {
  for (size_t i = 0; i < count; i++) {
    float d = D[i];
    if (l1 > 0.0f) d += l1;
    if (l2 > 0.0f) d += l2 * F[i];
    F[i] *= N[i] / (d == 0.0f ? EPS32 : d);
  }
}

/* NH = W'V and DH = (W'W) H: the H update's numerator and denominator. */
static void gemm_h_terms(const float *V, const float *W, const float *H, int n, int p, int k,
                         float *G, float *NH, float *DH) {
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, p, n, 1.0f, W, n, V, n, 0.0f, NH, k);
  cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0f, W, n, W, n, 0.0f, G, k);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, p, k, 1.0f, G, k, H, k, 0.0f, DH, k);
}

/* NW = V H' and DW = W (H H'). */
static void gemm_w_terms(const float *V, const float *W, const float *H, int n, int p, int k,
                         float *G, float *NW, float *DW) {
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, p, 1.0f, V, n, H, k, 0.0f, NW, n);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, k, k, p, 1.0f, H, k, H, k, 0.0f, G, k);
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, k, k, 1.0f, W, n, G, k, 0.0f, DW, n);
}

int tsr_nmf_mu_gemm_fit(const float *V, int64_t n, int64_t p, int k, float *W, float *H,
                       const tsr_nmf_params *prm, int parts, tsr_nmf_result *res,
                       tsr_error *err) {
  if (tsr_nmf_check_blas_size(n, p, err) != TSR_OK) return TSR_ELIMIT;
  size_t nh = (size_t)k * (size_t)p, nw = (size_t)n * (size_t)k, count, bytes;
  if (tsr_mul_size(nh + nw, 2, &count) != 0 || (count += (size_t)k * k) < nh ||
      tsr_mul_size(count, sizeof(float), &bytes) != 0) {
    tsr_seterror(err, "the scratch space for k = %d overflows", k);
    return TSR_ELIMIT;
  }
  float *scratch = tsr_alloc(bytes);
  if (scratch == NULL) return tsr_alloc_failure(bytes, "the fit's scratch space", err);
  float *NH = scratch, *DH = NH + nh, *NW = DH + nh, *DW = NW + nw, *G = DW + nw;
  const nmf_update_consts uc = tsr_nmf_update_consts(prm, n, p);
  const float l1W = uc.l1W, l2W = uc.l2W, l1H = uc.l1H, l2H = uc.l2H;
  int ni = (int)n, pi = (int)p, updW = prm->update_W != 0, updH = prm->update_H != 0;
  int it = 0;
  tracker tr;
  /* The checks' objective on a pool of the fit's (its own pool per check when this one
   * cannot be had: the same sums). */
  tsr_pool *pool = parts > 1 ? tsr_pool_open(parts) : NULL;
  if (tsr_nmf_track_start(&tr, prm, V, W, H, n, p, k, 1, parts, pool, err)) {
    res->stopped = tr.status == TSR_OK;
  } else {
    for (it = 1; it <= prm->max_iter; it++) {
      if (prm->order == TSR_NMF_ORDER_SIMULTANEOUS) {
        if (updH) gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
        if (updW) gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
        if (updH) gemm_apply(H, NH, DH, nh, l1H, l2H);
        if (updW) gemm_apply(W, NW, DW, nw, l1W, l2W);
      } else if (prm->order == TSR_NMF_ORDER_WH) {
        if (updW) {
          gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
          gemm_apply(W, NW, DW, nw, l1W, l2W);
        }
        if (updH) {
          gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
          gemm_apply(H, NH, DH, nh, l1H, l2H);
        }
      } else {
        if (updH) {
          gemm_h_terms(V, W, H, ni, pi, k, G, NH, DH);
          gemm_apply(H, NH, DH, nh, l1H, l2H);
        }
        if (updW) {
          gemm_w_terms(V, W, H, ni, pi, k, G, NW, DW);
          gemm_apply(W, NW, DW, nw, l1W, l2W);
        }
      }
      int stop = tsr_nmf_track_iteration(&tr, it);
      if (stop) {
        tsr_nmf_track_record(res, stop);
        break;
      }
    }
    if (it > prm->max_iter) it = prm->max_iter;
  }
  res->iterations = it;
  if (tr.status == TSR_OK) res->loss = tsr_nmf_track_final(&tr);
  tsr_pool_close(pool);
  tsr_free(scratch);
  return tr.status;
}

