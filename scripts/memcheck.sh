#!/usr/bin/env bash
# make memcheck: the busted specs under valgrind's memcheck (Debian's valgrind) with the
# plain build (lua5.4 + lua/tessera/core.so). Fails on any memory error and on any
# "definitely" or "indirectly lost" block; memory the libraries keep reachable until exit
# (OpenBLAS's buffers, FFTW's plans, libgomp's pool) is not a leak and is not counted.
# Child processes the specs start (bin/tessera ...) are not traced: they run the same code.
#   scripts/memcheck.sh                      every spec
#   scripts/memcheck.sh spec/matrix_spec.lua ...   some of them (CI: the fast subset)
set -uo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "memcheck: valgrind not found (scripts/install-deps.sh test installs it)" >&2; exit 1; }
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(spec/*_spec.lua)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# One OpenBLAS/OpenMP thread: valgrind serialises threads anyway, and fewer pools to track.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
status=0 passed=0 failed=0
for spec in "${specs[@]}"; do
  valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=42 \
    --suppressions=spec/support/valgrind.supp --log-file="$log" \
    lua5.4 /usr/bin/busted -o utfTerminal "$spec" >"$log.out" 2>&1
  rc=$?
  summary=$(grep -E "^[0-9]+ successes? / [0-9]+ failures?" "$log.out" | tail -1)
  if [ $rc -eq 0 ] && [ ! -s "$log" ]; then
    echo "memcheck $spec: clean ($summary)"
    passed=$((passed + 1))
  else
    echo "memcheck $spec: FAILED (status $rc; $summary)" >&2
    cat "$log" >&2
    tail -20 "$log.out" >&2
    failed=$((failed + 1)); status=1
  fi
  rm -f "$log.out"
done
echo "memcheck: $passed spec files clean, $failed with errors or leaks"
exit $status
