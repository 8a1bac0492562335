"""The Python peer of bench/batch_bench.lua: the same per-file work as `tessera batch` done
the way a scipy user would write it, with Debian's packages only.

  batch_bench.py pipeline LOOPS OUT WORKERS   each audio file of LOOPS: soundfile decode,
      mono mix, scipy.signal.resample_poly to 22050 Hz, scipy.signal.stft (periodic Hann 2048,
      hop 512, centred by n_fft/2 zeros), |.|, scikit-learn NMF (KL, MU, k = 8, 200 iterations,
      tol 0, nndsvda) and np.save of W and H into OUT/<name>/; a multiprocessing Pool of
      WORKERS processes, one BLAS/OpenMP thread each. Prints one JSON object: files, seconds
      (from the Pool's start to the last file), per-stage seconds summed over files, and each
      worker's peak resident memory (VmHWM).
  batch_bench.py stft WAV REPS   the best of REPS timings of scipy.signal.stft + np.abs on the
      (mono, float) WAV file; prints one JSON object.

Wall time of the whole command, imports included, is measured by the caller.
"""
import os

# One thread per worker, set before numpy loads OpenBLAS.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import soundfile  # noqa: E402
from sklearn.decomposition import NMF  # noqa: E402

SR, N_FFT, HOP, K, ITERS = 22050, 2048, 512, 8, 200


def peak_memory():
    """This process's VmHWM in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def spectrogram(y):
    _, _, Z = scipy.signal.stft(y, fs=SR, window="hann", nperseg=N_FFT, noverlap=N_FFT - HOP,
                                boundary="zeros", padded=True)
    return np.abs(Z)


def one_file(job):
    path, out = job
    t0 = time.perf_counter()
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1, dtype=np.float64).astype(np.float32)
    if sr != SR:
        g = np.gcd(SR, sr)
        x = scipy.signal.resample_poly(x, SR // g, sr // g).astype(np.float32)
    t1 = time.perf_counter()
    V = spectrogram(x).astype(np.float32)
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Maximum number of iterations reached" with tol 0
        model = NMF(n_components=K, beta_loss="kullback-leibler", solver="mu", max_iter=ITERS,
                    tol=0, init="nndsvda", random_state=0)
        W = model.fit_transform(V)
        H = model.components_
    t3 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "W.npy"), W)
    np.save(os.path.join(out, "H.npy"), H)
    t4 = time.perf_counter()
    return {"pid": os.getpid(), "peak": peak_memory(), "iterations": model.n_iter_,
            "stages": {"load": t1 - t0, "stft": t2 - t1, "nmf": t3 - t2, "save": t4 - t3}}


def pipeline(loops, out, workers):
    names = sorted(n for n in os.listdir(loops) if n.lower().endswith((".flac", ".wav")))
    jobs = [(os.path.join(loops, n), os.path.join(out, n)) for n in names]
    t0 = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        results = list(pool.imap_unordered(one_file, jobs, chunksize=1))
    seconds = time.perf_counter() - t0
    peaks = {}
    stages = {"load": 0.0, "stft": 0.0, "nmf": 0.0, "save": 0.0}
    for r in results:
        peaks[r["pid"]] = max(peaks.get(r["pid"], 0), r["peak"])
        for k, v in r["stages"].items():
            stages[k] += v
    assert all(r["iterations"] == ITERS for r in results)
    print(json.dumps({"files": len(results), "seconds": seconds, "stages": stages,
                      "worker_peaks": sorted(peaks.values())}))


def stft(wav, reps):
    y, sr = soundfile.read(wav, dtype="float32")
    assert sr == SR and y.ndim == 1
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        V = spectrogram(y)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"seconds": best, "shape": list(V.shape), "dtype": str(V.dtype),
                      "samples": len(y)}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "pipeline":
        pipeline(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "stft":
        stft(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: batch_bench.py pipeline LOOPS OUT WORKERS | stft WAV REPS")
