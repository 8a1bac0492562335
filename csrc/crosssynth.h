/* Cross-synthesis, "Let it Bee" (Driedger, Prätzlich and Müller, ISMIR 2015): a target's
 * magnitude V (n x N) approximated as W·H where W (n x M) holds the source's own magnitude
 * frames, H fitted with the generalised KL divergence and three constraints that favour
 * sparse diagonal structures in H (runs of consecutive source frames), then the output's
 * complex spectrogram is the source's complex frames combined by H.
 *
 * One iteration l = 0..L-1 of the fit, with damping d = 1 - (l+1)/L (1 - 1/L at first, 0
 * in the last iteration, so the constraints tighten until they are strict):
 *   repetition:  R = H where H is the maximum of its row within r frames on either side,
 *                d * H elsewhere (a source frame is not repeated in quick succession)
 *   polyphony:   P = R for the p largest entries of each column, d * R elsewhere (at most
 *                p source frames sound at once)
 *   continuity:  C[m][t] = sum over i in -c..c of P[m+i][t+i] (activations spread along
 *                diagonals, so source frames keep playing in their own order)
 *   update:      H = C .* (W^T (V ./ (W C))) ./ (W^T 1)
 * Ties are broken towards the earlier frame (repetition) and the lower source frame
 * (polyphony), so "the maximum" and "the p largest" always pick exactly one and p. */
#ifndef TSR_CROSSSYNTH_H
#define TSR_CROSSSYNTH_H

#include "matrix.h"
#include "stft.h"
#include "tessera.h"

typedef struct tsr_crosssynth_params {
  int iter;      /* L >= 0 iterations (the paper: 20) */
  int r;         /* repetition neighbourhood, frames on either side, >= 0 (0: off; paper 3) */
  int p;         /* polyphony, activations kept per target frame, >= 1 (>= M: off; paper 10) */
  int c;         /* continuity, diagonal half-length (kernel 2c+1), >= 0 (0: off; paper 3) */
  uint64_t seed; /* H starts uniform random in (0, 1] from this seed */
} tsr_crosssynth_params;

/* TSR_OK, or TSR_EINVAL with the offending field in err ("r must be >= 0, got -1"). */
int tsr_crosssynth_check(const tsr_crosssynth_params *prm, tsr_error *err);

/* One round of the three constraints on H (M x N, in place) with damping factor `damping`
 * in [0, 1] (prm->iter and prm->seed are not read). Returns TSR_OK, TSR_EINVAL (bad
 * parameters or damping, with err) or TSR_ENOMEM (scratch). */
int tsr_crosssynth_constrain(tsr_matrix *H, const tsr_crosssynth_params *prm, float damping,
                             tsr_error *err);

/* Fits H (M x N, caller-allocated and owned, overwritten) so that W (n x M) · H
 * approximates V (n x N); W and V must be finite and >= 0. When divergence is not NULL it
 * receives the generalised KL divergence D(V | W H) of the result (in double). Returns
 * TSR_OK, TSR_EINVAL (shapes or parameters, with err), TSR_ENOTFINITE (a NaN/Inf entry
 * in W or V, named in err), TSR_ELIMIT (a dimension beyond BLAS's int, or over the
 * memory cap) or TSR_ENOMEM. Same inputs, same seed, same BLAS threads: same H. */
int tsr_crosssynth_fit(const tsr_matrix *W, const tsr_matrix *V,
                       const tsr_crosssynth_params *prm, tsr_matrix *H, double *divergence,
                       tsr_error *err);

/* out = S · H: each output frame the sum of the source's complex frames weighted by a
 * column of H (M = S->frames rows, N columns). out's data (caller's) must hold
 * S->bins x N complex entries: out->bins == S->bins, out->frames == H->cols. Returns
 * TSR_OK, TSR_EINVAL (shapes) or TSR_ELIMIT (beyond BLAS's int). */
int tsr_crosssynth_apply(const tsr_spectrogram *S, const tsr_matrix *H, tsr_spectrogram *out,
                         tsr_error *err);

#endif
