#!/usr/bin/env bash
# make bench: times tessera's NMF against scikit-learn's on real music (loop_amen tiled to
# 10 s and to 3 min, STFT 2048/512) for MU Euclidean, MU KL and CD at k = 4 and 16, measures
# this machine's floor (bench/floor.c), and writes bench/results.md. One run, a few minutes.
# Needs what `scripts/install-deps.sh run test` installs and the built bin/tessera (make bench
# does both).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment has them, for both peers;
# the results header records them.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3 # Debian's, with numpy and scikit-learn
HOST=bin/tessera
[ -x "$HOST" ] || { echo "bench: $HOST is missing: run make first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# case algo k iters reps: both peers fit 1 and N = iters iterations, reps times each,
# interleaved (bench/sk_bench.py); best of reps. N is large enough that the N-iteration fit
# lasts well over the 1-iteration one on both sides, so that the marginal s/iter
# (T(N) - T(1)) / (N - 1) is not noise. scikit-learn's KL on 3 min costs ~0.05-0.1 s an
# iteration, hence a smaller N there. The whole run takes 2-4 minutes.
jobs=(
  "10s mu-euc 4 200 5"  "10s mu-euc 16 200 5"
  "10s mu-kl 4 100 5"   "10s mu-kl 16 100 5"
  "10s cd 4 200 5"      "10s cd 16 200 5"
  "3min mu-euc 4 60 5"  "3min mu-euc 16 60 5"
  "3min mu-kl 4 30 5"   "3min mu-kl 16 30 5"
  "3min cd 4 60 5"      "3min cd 16 60 5"
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

# Fit by fit, tessera and scikit-learn alternately, so that both see the machine in the
# same state; tessera runs in one process per job (its peak memory is that job's).
echo "bench: timing tessera and scikit-learn, interleaved" >&2
"$PY" bench/sk_bench.py config > "$work/sklearn.jsonl"
: > "$work/tessera.jsonl"
list=""
for job in "${jobs[@]}"; do
  read -r c a k it reps <<< "$job"
  list+="${list:+, }{\"case\": \"$c\", \"algo\": \"$a\", \"k\": $k, "
  list+="\"iters\": $it, \"reps\": $reps}"
done
"$PY" bench/sk_bench.py drive "$work" "$HOST" "[$list]" "$work/tessera.jsonl" "$work/sklearn.jsonl"

"$HOST" bench/bench.lua report "$work"
echo "bench: NMFD against the floor" >&2
"$HOST" bench/nmfd_bench.lua "$work" >> bench/results.md
echo "bench: live re-renders of the music-making features" >&2
"$HOST" bench/live_bench.lua >> bench/results.md
"$HOST" bench/batch_bench.lua >> bench/results.md # tessera batch end to end, and the STFT alone
bench/memory.sh bench/results.md # peak memory of real runs
