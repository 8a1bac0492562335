/* Separation metrics: BSS Eval's SDR, SIR and SAR (Vincent, Gribonval and Févotte 2006, as
 * mir_eval.separation.bss_eval_sources 0.7 computes them), the scale-invariant and
 * scale-dependent SDR (Le Roux, Wisdom, Erdogan and Hershey, ICASSP 2019) and the spectral
 * convergence of two magnitude spectrograms. Signals are mono float32; every sum is double. */
#ifndef TSR_EVAL_H
#define TSR_EVAL_H

#include "matrix.h"
#include "tessera.h"

/* The distortion filter length of bss_eval_sources: 512 taps. */
#define TSR_BSS_FILTER 512

/* BSS Eval of every estimate against every reference. Each estimate e is projected by least
 * squares on the span of the references' delayed copies (delays 0..flen-1): P_all e on all
 * of them, P_j e on reference j's alone. Then, over len + flen - 1 samples (e zero-padded),
 *   SDR = 10 log10(|P_j e|^2 / |e - P_j e|^2)
 *   SIR = 10 log10(|P_j e|^2 / |P_all e - P_j e|^2)
 *   SAR = 10 log10(|P_all e|^2 / |e - P_all e|^2)
 * (+inf when a denominator is 0), written to sdr/sir/sar[e * n_ref + j] (caller's arrays of
 * n_est * n_ref doubles). refs[j] and ests[e] are len samples each, finite, none all zero
 * (the caller checks; the solve would be singular). The normal equations are solved by LU
 * with partial pivoting (LAPACK dgesv, as numpy.linalg.solve), by least squares (dgelsd)
 * when the Gram matrix is exactly singular. Returns TSR_OK, TSR_EINVAL (sizes), TSR_ELIMIT
 * (over the memory cap or past LAPACK's int; err says how much), TSR_ENOMEM, or TSR_EIO
 * when interrupted ("interrupted"). */
int tsr_bss_eval(const float *const *ests, int n_est, const float *const *refs, int n_ref,
                 int64_t len, int flen, double *sdr, double *sir, double *sar, tsr_error *err);

/* Scale-invariant and scale-dependent SDR of estimate y against reference s (len samples).
 * With zero_mean, both are first shifted to zero mean. alpha = <y, s> / |s|^2, and
 *   SI-SDR = 10 log10(|alpha s|^2 / |alpha s - y|^2)
 *   SD-SDR = 10 log10(|alpha s|^2 / |s - y|^2)
 * (+inf when a denominator is 0; -inf when alpha is 0). TSR_EINVAL when len < 1 or s is
 * all zero (after the mean is removed: alpha is undefined), with err saying which. */
int tsr_si_sdr(const float *y, const float *s, int64_t len, int zero_mean, double *si_sdr,
               double *sd_sdr, tsr_error *err);

/* The spectral convergence | |ref| - |est| |_F / |ref|_F of two magnitude spectrograms of
 * the same shape (TSR_EINVAL otherwise, or when ref is all zero). */
int tsr_spectral_convergence(const tsr_matrix *ref, const tsr_matrix *est, double *out,
                             tsr_error *err);

/* The first sample of x (len) that is NaN or Inf: its 0-based index, or -1 when all are
 * finite. *energy receives the sum of squares of x (double), for the silence check. */
int64_t tsr_eval_scan(const float *x, int64_t len, double *energy);

#endif
