"""The timing driver of `make bench`: for each job, fits tessera (a `bin/tessera
bench/bench.lua serve` process of the job's own, over a pipe) and scikit-learn's
non_negative_factorization (here) on the same V, W0 and H0 (.npy files the Lua side wrote),
init='custom', tol=0, alternately: rep by rep, a 1-iteration fit and an N-iteration fit of
each peer, so both see the machine in the same state. Per peer it records the best time of
each count, the whole-fit s/iter T(N)/N and the marginal s/iter (T(N) - T(1)) / (N - 1),
which leaves out what a fit costs besides its iterations. Run by scripts/bench.sh with
Debian's /usr/bin/python3.

    sk_bench.py config                         the BLAS/numpy configuration, one JSON line
    sk_bench.py drive DATA_DIR HOST JOBS_JSON OUT_TESSERA OUT_SKLEARN
JOBS_JSON is a list of {"case", "algo", "k", "iters", "reps"}; algo is mu-euc, mu-kl or cd.
One JSON line per job is appended to each output file.
"""
import contextlib
import io
import json
import os
import subprocess
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


def load_job(data, job):
    k = job["k"]
    # C order: scikit-learn's faster layout for these solvers (measured), so it gets it.
    def load(name):
        return np.ascontiguousarray(np.load(os.path.join(data, name)), dtype=np.float32)
    return (load("V_%s.npy" % job["case"]), load("W0_%s_%d.npy" % (job["case"], k)),
            load("H0_%s_%d.npy" % (job["case"], k)))


def sk_fit(X, W0, H0, job, count):
    solver, beta = ALGOS[job["algo"]]
    W, H = W0.copy(), H0.copy()
    t0 = time.perf_counter()
    W, H, n_iter = non_negative_factorization(
        X, W=W, H=H, n_components=job["k"], init="custom", solver=solver, beta_loss=beta,
        max_iter=count, tol=0)
    seconds = time.perf_counter() - t0
    assert n_iter == count, (n_iter, job)
    return W, H, seconds


class Tessera:
    """One `bench.lua serve` process: a line with an iteration count in, the fit's seconds
    out."""
    def __init__(self, host, data, job):
        self.proc = subprocess.Popen(
            [host, "bench/bench.lua", "serve", data, job["case"], job["algo"], str(job["k"])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError("bench.lua serve ended early (exit %s)" % self.proc.wait())
        return json.loads(reply)

    def fit(self, count):
        return self.ask(str(count))["seconds"]

    def finish(self):
        out = self.ask("done")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise RuntimeError("bench.lua serve failed")
        return out


def summary(job, best1, bestn):
    n = job["iters"]
    return {"case": job["case"], "algo": job["algo"], "k": job["k"], "iters": n,
            "reps": job["reps"], "s_per_iter": bestn / n, "s_one_iter_fit": best1,
            "s_marginal": (bestn - best1) / (n - 1)}


def drive(data, host, jobs, out_t, out_s):
    for job in jobs:
        X, W0, H0 = load_job(data, job)
        ts = Tessera(host, data, job)
        t1 = tn = s1 = sn = float("inf")
        W = H = None
        for rep in range(job["reps"]):
            # Alternate which peer goes first, so neither always follows the other.
            order = ("t", "s") if rep % 2 == 0 else ("s", "t")
            for who in order:
                if who == "t":
                    t1 = min(t1, ts.fit(1))
                    tn = min(tn, ts.fit(job["iters"]))
                else:
                    s1 = min(s1, sk_fit(X, W0, H0, job, 1)[2])
                    W, H, seconds = sk_fit(X, W0, H0, job, job["iters"])
                    sn = min(sn, seconds)
        last = ts.finish()
        R = X.astype(np.float64) - W.astype(np.float64) @ H.astype(np.float64)
        rec_t = summary(job, t1, tn)
        rec_t.update(peak_rss_bytes=last["peak_rss_bytes"], euclidean=last["euclidean"])
        rec_s = summary(job, s1, sn)
        rec_s["euclidean"] = float((R * R).sum())
        with open(out_t, "a") as f:
            f.write(json.dumps(rec_t) + "\n")
        with open(out_s, "a") as f:
            f.write(json.dumps(rec_s) + "\n")
        print("  %s %s k=%d: marginal tessera %.3g ms, scikit-learn %.3g ms" % (
            job["case"], job["algo"], job["k"], rec_t["s_marginal"] * 1e3,
            rec_s["s_marginal"] * 1e3), file=sys.stderr, flush=True)


def main():
    warnings.filterwarnings("ignore")  # max_iter reached with tol=0 is the point here
    if sys.argv[1] == "config":
        print(json.dumps({"config": config()}), flush=True)
    elif sys.argv[1] == "drive":
        drive(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5], sys.argv[6])
    else:
        sys.exit("usage: sk_bench.py config | drive DATA_DIR HOST JOBS_JSON OUT_T OUT_S")


if __name__ == "__main__":
    main()
