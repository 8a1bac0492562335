"""scikit-learn's side of `make bench`: times non_negative_factorization on the same V,
W0 and H0 (.npy files the Lua driver wrote) with init='custom', tol=0 and a fixed iteration
count, and prints one JSON object per line: one record per job, or, for an empty job list,
the BLAS/numpy configuration. Run by scripts/bench.sh with Debian's /usr/bin/python3.

    sk_bench.py DATA_DIR JOBS_JSON
JOBS_JSON is a list of {"case", "algo", "k", "iters", "reps"}; algo is mu-euc, mu-kl or cd.
"""
import contextlib
import io
import json
import os
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.decomposition import non_negative_factorization

ALGOS = {
    "mu-euc": ("mu", "frobenius"),
    "mu-kl": ("mu", "kullback-leibler"),
    "cd": ("cd", "frobenius"),
}


def config():
    """What numpy runs on: its build's BLAS lines and, when threadpoolctl is there, the
    library actually loaded (kernel architecture, threads)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        np.show_config()
    # Keep the optimised BLAS/LAPACK sections' libraries and the SIMD summary.
    keep, section = [], ""
    for line in buf.getvalue().splitlines():
        text = line.strip()
        if not line.startswith(" ") and text.endswith(":"):
            section = text[:-1]
        elif section in ("blas_opt_info", "lapack_opt_info") and text.startswith("libraries"):
            keep.append("%s %s" % (section, text))
        elif text.startswith(("baseline =", "found =")):
            keep.append("SIMD " + text)
    info = {"numpy": np.__version__, "sklearn": sklearn.__version__,
            "show_config": keep,
            "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                    if k in os.environ}}
    try:
        from threadpoolctl import threadpool_info
        info["threadpoolctl"] = [
            {k: d.get(k) for k in ("internal_api", "version", "threading_layer",
                                   "architecture", "num_threads", "filepath")}
            for d in threadpool_info()]
    except ImportError:
        info["threadpoolctl"] = "not installed"
    return info


def time_job(data, job):
    solver, beta = ALGOS[job["algo"]]
    k = job["k"]
    # C order: scikit-learn's faster layout for these solvers (measured), so it gets it.
    X = np.ascontiguousarray(np.load(os.path.join(data, "V_%s.npy" % job["case"])),
                             dtype=np.float32)
    W0 = np.ascontiguousarray(np.load(os.path.join(data, "W0_%s_%d.npy" % (job["case"], k))),
                              dtype=np.float32)
    H0 = np.ascontiguousarray(np.load(os.path.join(data, "H0_%s_%d.npy" % (job["case"], k))),
                              dtype=np.float32)
    def fit(count):
        W, H = W0.copy(), H0.copy()
        t0 = time.perf_counter()
        W, H, n_iter = non_negative_factorization(
            X, W=W, H=H, n_components=k, init="custom", solver=solver, beta_loss=beta,
            max_iter=count, tol=0)
        seconds = time.perf_counter() - t0
        assert n_iter == count, (n_iter, job)
        return W, H, seconds

    best = float("inf")
    for _ in range(job["reps"]):
        W, H, seconds = fit(job["iters"])
        best = min(best, seconds)
    # A one-iteration fit: mostly what a fit costs besides its iterations.
    one = min(fit(1)[2] for _ in range(job["reps"]))
    R = X.astype(np.float64) - W.astype(np.float64) @ H.astype(np.float64)
    return {"case": job["case"], "algo": job["algo"], "k": k, "iters": job["iters"],
            "reps": job["reps"], "s_per_iter": best / job["iters"], "s_one_iter_fit": one,
            "euclidean": float((R * R).sum())}


def main():
    data, jobs = sys.argv[1], json.loads(sys.argv[2])
    warnings.filterwarnings("ignore")  # max_iter reached with tol=0 is the point here
    if not jobs:
        print(json.dumps({"config": config()}), flush=True)
    for job in jobs:
        print(json.dumps(time_job(data, job)), flush=True)


if __name__ == "__main__":
    main()
