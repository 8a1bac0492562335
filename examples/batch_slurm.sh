#!/usr/bin/env bash
# A whole collection decomposed on a Slurm cluster: one array task per shard, each running
# `tessera batch --shard I/N` with every core Slurm gives it, then one small job that merges
# the shard tables once every task has ended (ok or not).
#
#   COLLECTION=/data/ballroom OUT=/scratch/$USER/ballroom-nmf examples/batch_slurm.sh
#
# Run from a login node, the script submits itself as the array and submits the merge.
# Its arguments are sbatch options for the array, which win over the #SBATCH lines below;
# e.g. four tasks of two cores each on a small cluster:
#
#   COLLECTION=... OUT=... examples/batch_slurm.sh --array=1-4 --cpus-per-task=2
#
# OPTIONS holds the decomposition's options (default below); the script sets --jobs and
# --threads itself: one worker per core Slurm gives the task, one thread each, so a task
# uses its allocation even on nodes that do not bind tasks to their cores, and its factors
# are the bytes a one-machine `tessera batch` of the collection writes. `make test-cluster`
# proves it: a one-node Slurm started on the test machine runs this script as a 4-task
# array and its merge, whose results must equal a one-machine batch file for file
# (scripts/test-cluster.sh).
# The collection, OUT and the tessera checkout must be on a file system every node sees.
# A task that dies (node failure, time limit) is simply submitted again: its shard resumes,
# skipping every file whose outputs are complete (`sbatch --array=7 examples/batch_slurm.sh`).
#
#SBATCH --job-name=tessera-batch
#SBATCH --array=1-16
#SBATCH --cpus-per-task=8
#SBATCH --mem-per-cpu=1G
#SBATCH --time=04:00:00
#SBATCH --output=tessera-batch-%A_%a.log
set -euo pipefail

COLLECTION=${COLLECTION:?set COLLECTION to a folder of audio files or a manifest}
OUT=${OUT:?set OUT to the output folder}
TESSERA=${TESSERA:-$(cd "$(dirname "$0")/.." && pwd)/bin/tessera}
OPTIONS=${OPTIONS:--k 8 --loss kl --iter 200}
export COLLECTION OUT TESSERA OPTIONS

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # On the login node: the array, then the merge after all of its tasks.
  array=$(sbatch --parsable --export=ALL "$@" "$0")
  array=${array%%;*}
  merge=$(sbatch --parsable --dependency="afterany:$array" --job-name=tessera-merge \
    --export=ALL --output=tessera-merge-%j.log \
    --wrap "\"$TESSERA\" batch-merge \"$OUT\"/results.shard-*-of-*.csv -o \"$OUT/results\"")
  echo "submitted array job $array and merge job ${merge%%;*} into $OUT/results.csv"
  exit 0
fi

# Task I of N (the array is 1-based: --array=1-N, so I runs 1..N as --shard expects).
# Every task lists and sorts the whole collection the same way and keeps its own slice.
# shellcheck disable=SC2086 # OPTIONS is a list of options
"$TESSERA" batch "$COLLECTION" -o "$OUT" $OPTIONS \
  --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
  --jobs "${SLURM_CPUS_PER_TASK:-1}" --threads 1 --progress lines
