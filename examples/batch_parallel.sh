#!/usr/bin/env bash
# A collection split across machines with GNU parallel over ssh: N shards, each machine runs
# `tessera batch --shard I/N` on its own slice with all its cores, then the shard tables are
# merged. With the defaults it runs two shards on this machine (":" is parallel's name for
# the local host), which is a way to try it:
#
#   examples/batch_parallel.sh /usr/share/sonic-pi/samples /tmp/sonic-pi-nmf
#   HOSTS=node1,node2,node3 SHARDS=3 examples/batch_parallel.sh /data/ballroom /shared/out
#
# Over ssh, every host needs the collection, the output folder and tessera at the same paths
# (a shared file system). A shard that fails part-way is rerun by running the same command
# again: every finished file is skipped. The factors are the bytes one machine's batch
# writes when the hosts pick the same OpenBLAS kernels (the same CPUs, or the same
# OPENBLAS_CORETYPE in their environment); else they agree to rounding. PARALLEL_SSH
# (e.g. "ssh -F my_config") is the ssh command parallel uses. `make test-cluster` runs this
# script over ssh to localhost (scripts/test-cluster.sh).
set -euo pipefail

COLLECTION=${1:?usage: batch_parallel.sh COLLECTION OUT}
OUT=${2:?usage: batch_parallel.sh COLLECTION OUT}
HOSTS=${HOSTS:-:}
SHARDS=${SHARDS:-2}
TESSERA=${TESSERA:-$(cd "$(dirname "$0")/.." && pwd)/bin/tessera}
OPTIONS=${OPTIONS:--k 8 --loss kl --iter 200}

# Over ssh, one shard at a time per host (-j1): tessera batch uses the host's cores itself,
# a worker per core. On this machine alone, all the shards at once, sharing its cores.
# One thread per worker either way: a worker's thread count changes the factors' last bits
# (the init's SVD), and one thread is what a one-machine batch of many files uses.
# parallel's exit status is the number of shards that had a failed file; the merge runs
# anyway.
if [ "$HOSTS" = ":" ]; then
  slots=$SHARDS
  jobs=$(( $(nproc) / SHARDS )); [ "$jobs" -ge 1 ] || jobs=1
  workers=(--jobs "$jobs" --threads 1)
else
  slots=1
  workers=(--threads 1)
fi
status=0
# shellcheck disable=SC2086 # OPTIONS is a list of options
seq 1 "$SHARDS" | parallel --will-cite -q --sshlogin "$HOSTS" -j "$slots" --line-buffer \
  "$TESSERA" batch "$COLLECTION" -o "$OUT" $OPTIONS "${workers[@]}" --progress lines \
  --shard "{}/$SHARDS" || status=$?

"$TESSERA" batch-merge "$OUT"/results.shard-*-of-"$SHARDS".csv -o "$OUT/results"
exit "$status"
