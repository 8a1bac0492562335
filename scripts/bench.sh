#!/usr/bin/env bash
# make bench: times tessera's NMF against scikit-learn's on real music (loop_amen tiled to
# 10 s and to 3 min, STFT 2048/512) for MU Euclidean, MU KL and CD at k = 4 and 16, measures
# this machine's floor (bench/floor.c), and writes bench/results.md. One run, a few minutes.
# Needs what scripts/install-deps.sh installs and the built bin/tessera (make does both).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment has them, for both peers;
# the results header records them.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3 # Debian's, with numpy and scikit-learn
HOST=bin/tessera
[ -x "$HOST" ] || { echo "bench: $HOST is missing: run make first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# case algo k iters reps: the same count and repetitions for both peers (best of reps, so
# more of them ride out a busy machine). scikit-learn's KL on 3 min costs ~0.05-0.1 s an
# iteration, hence fewer there. The whole run takes about a minute on a quiet machine.
jobs=(
  "10s mu-euc 4 50 9"  "10s mu-euc 16 50 9"
  "10s mu-kl 4 50 7"   "10s mu-kl 16 50 7"
  "10s cd 4 50 9"      "10s cd 16 50 9"
  "3min mu-euc 4 40 7" "3min mu-euc 16 40 7"
  "3min mu-kl 4 10 4"  "3min mu-kl 16 10 4"
  "3min cd 4 40 7"     "3min cd 16 40 7"
)

echo "bench: building V and the shared initial factors" >&2
"$HOST" bench/bench.lua prepare "$work" > "$work/prepare.jsonl"

meta_format='{"date": "%s", "load": "%s", "cpu": "%s", "cores": "%s", "kernel": "%s", '
meta_format+='"openblas_env": "%s"}\n'
{
  # shellcheck disable=SC2059 # the format is ours
  printf "$meta_format" \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    "$(nproc)" "$(uname -sr)" \
    "$(env | grep -E '^OPENBLAS_(CORETYPE|L2_SIZE|NUM_THREADS)=' | tr '\n' ' ' || true)"
} > "$work/meta.jsonl"

echo "bench: measuring the floor (bench/floor.c)" >&2
cc -O3 -march=native -fopenmp -ffp-contract=fast -o "$work/floor" bench/floor.c
sizes=$("$HOST" bench/bench.lua sizes "$work")
# shellcheck disable=SC2086 # one argument per size
"$work/floor" $sizes > "$work/floor.jsonl"

# Job by job, tessera then scikit-learn, so that both see the machine in the same state.
echo "bench: timing tessera (one process per fit, for its peak memory) and scikit-learn" >&2
"$PY" bench/sk_bench.py "$work" "[]" > "$work/sklearn.jsonl"
: > "$work/tessera.jsonl"
for job in "${jobs[@]}"; do
  read -r c a k it reps <<< "$job"
  echo "  $c $a k=$k: $it iterations x $reps" >&2
  "$HOST" bench/bench.lua run "$work" "$c" "$a" "$k" "$it" "$reps" >> "$work/tessera.jsonl"
  "$PY" bench/sk_bench.py "$work" \
    "[{\"case\": \"$c\", \"algo\": \"$a\", \"k\": $k, \"iters\": $it, \"reps\": $reps}]" \
    >> "$work/sklearn.jsonl"
done

"$HOST" bench/bench.lua report "$work"
"$HOST" bench/batch_bench.lua >> bench/results.md # tessera batch end to end, and the STFT alone
