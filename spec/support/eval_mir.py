"""Test-only reference for spec/eval_spec.lua: mir_eval 0.7 (Debian's python3-mir-eval).

Reads a JSON file of cases (argv[1]):
  {"bss": [{"est": [wav, ...], "ref": [wav, ...]}, ...],
   "onsets": [{"est": [s, ...], "ref": [s, ...], "window": w}, ...]}
and prints one JSON object: for each bss case mir_eval.separation.bss_eval_sources'
sdr, sir, sar (per reference) and perm (0-based estimate of each reference); for each onset
case mir_eval.onset.f_measure's f, p, r. Infinities are written as the strings "inf"/"-inf".
"""
import json
import sys
import warnings

import numpy as np
import soundfile as sf
import mir_eval


def stack(paths):
    return np.stack([sf.read(p, dtype="float32")[0].astype(np.float64) for p in paths])


def times(v):
    # an empty Lua table arrives as {}
    return np.array(v if isinstance(v, list) else [], dtype=float)


def num(x):
    x = float(x)
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = {"bss": [], "onsets": []}
    warnings.simplefilter("ignore")
    for case in cases.get("bss", []):
        sdr, sir, sar, perm = mir_eval.separation.bss_eval_sources(
            stack(case["ref"]), stack(case["est"]))
        out["bss"].append({"sdr": [num(x) for x in sdr], "sir": [num(x) for x in sir],
                           "sar": [num(x) for x in sar], "perm": [int(p) for p in perm]})
    for case in cases.get("onsets", []):
        f, p, r = mir_eval.onset.f_measure(times(case["ref"]), times(case["est"]),
                                           window=case["window"])
        out["onsets"].append({"f": f, "p": p, "r": r})
    print(json.dumps(out))


main()
