"""scikit-learn 1.2 references for spec/nmf_spec.lua (run with /usr/bin/python3).

  nmf_sklearn.py fit V.npy W0.npy H0.npy BETA ITERATIONS [ALPHA_W ALPHA_H L1_RATIO]
      runs scikit-learn's "mu" solver from W0, H0 (tol 0, regularised when ALPHA_W etc. are
      given: ALPHA_H may be "same") and prints the objective of the
      result in tessera's convention: the Euclidean one is ||V - WH||^2, twice
      scikit-learn's _beta_divergence (which halves it); the others are the same.
  nmf_sklearn.py init V.npy K METHOD W.npy H.npy
      writes scikit-learn's _initialize_nmf(V, K, init=METHOD) factors.
"""
import sys
import warnings

import numpy as np
from sklearn.decomposition import non_negative_factorization
from sklearn.decomposition._nmf import _beta_divergence, _initialize_nmf


def main(argv):
    if argv[1] == "fit":
        V, W0, H0 = (np.load(p).astype(np.float32) for p in argv[2:5])
        beta, iterations = float(argv[5]), int(argv[6])
        alpha_W, alpha_H, l1_ratio = 0.0, "same", 0.0
        if len(argv) > 7:
            alpha_W = float(argv[7])
            alpha_H = argv[8] if argv[8] == "same" else float(argv[8])
            l1_ratio = float(argv[9])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            W, H, _ = non_negative_factorization(
                V, W=W0.copy(), H=H0.copy(), n_components=W0.shape[1], init="custom",
                solver="mu", beta_loss=beta, max_iter=iterations, tol=0, alpha_W=alpha_W,
                alpha_H=alpha_H, l1_ratio=l1_ratio)
        loss = _beta_divergence(V, W, H, beta)
        print(repr(float(loss * 2 if beta == 2 else loss)))
    elif argv[1] == "init":
        V = np.load(argv[2]).astype(np.float32)
        W, H = _initialize_nmf(V, int(argv[3]), init=argv[4], random_state=0)
        np.save(argv[5], W.astype(np.float32))
        np.save(argv[6], H.astype(np.float32))
    else:
        raise SystemExit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
