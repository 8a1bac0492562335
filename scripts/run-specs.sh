#!/usr/bin/env bash
# Runs every busted spec twice: under the stock lua5.4 with the built module, then under
# bin/tessera-asan (AddressSanitizer + UndefinedBehaviorSanitizer, leak checks on). Ends
# with one line "N passed, N failed" adding up both passes, and fails on any failure, any
# sanitizer report, or a pass that did not report its counts.
set -uo pipefail
cd "$(dirname "$0")/.."

busted_script=$(command -v busted || echo /usr/bin/busted)
counts=$(mktemp)
trap 'rm -f "$counts"' EXIT

total_passed=0 total_failed=0 total_skipped=0 status=0

run_pass() {
  local name=$1; shift
  echo "== specs ($name)"
  rm -f "$counts"
  TESSERA_SPEC_COUNTS=$counts "$@" "$busted_script" "${SPEC_ARGS[@]}"
  local rc=$?
  if [ ! -s "$counts" ]; then
    echo "run-specs: the $name pass ended (status $rc) without reporting its counts" >&2
    total_failed=$((total_failed + 1)); status=1; return
  fi
  read -r p f s < "$counts"
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  total_skipped=$((total_skipped + s))
  if [ "$rc" -ne 0 ]; then
    [ "$f" -eq 0 ] && echo "run-specs: the $name pass exited with status $rc (sanitizer report?)" >&2 \
      && total_failed=$((total_failed + 1))
    status=1
  fi
}

SPEC_ARGS=("$@")
run_pass "lua5.4" lua5.4
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23:${ASAN_OPTIONS:-}" \
LSAN_OPTIONS="suppressions=$PWD/spec/support/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
  run_pass "sanitizers" bin/tessera-asan

echo
if [ "$total_skipped" -gt 0 ]; then
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
  echo "$total_passed passed, $total_failed failed"
fi
exit $status
