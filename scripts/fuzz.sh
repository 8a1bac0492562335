#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harnesses in fuzz/ with clang (ASan + UBSan, Debian's
# clang and libclang-rt-dev) against tessera's kernels, and runs each for FUZZ_SECONDS
# (default 60) on a copy of its seed corpus (fuzz/corpus/<name>, kept in the repo, so a
# run does not grow it). A crash, sanitizer report, leak or timeout fails the run; its
# input is kept in build/fuzz/artifacts/ to become a regression test.
#   FUZZ_SECONDS=20 scripts/fuzz.sh            every harness, 20 s each
#   scripts/fuzz.sh npy csv                    some of them
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${FUZZ_SECONDS:-60}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(audio npy csv params recipe)
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }

out=build/fuzz
mkdir -p "$out/obj/lua" "$out/artifacts"
# TSR_LIGHT_BUILD: nmf.c without forced inlining and unrolling (see there), which would take
# clang's instrumented build of that one file over ten minutes.
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -DTSR_LIGHT_BUILD -g -O1 -fno-omit-frame-pointer -fopenmp
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       $(pkg-config --cflags lua5.4 fftw3f sndfile samplerate openblas))
libs=($(pkg-config --libs lua5.4 fftw3f sndfile samplerate openblas) -llapacke -lm -lpthread -fopenmp)
kernels=(common matrix npy csv audio stft nmf nmf_cd hash listen)
bindings=($(sed -n 's/^BINDINGS = //p' Makefile))

# Objects: kernels for every harness, bindings too for the recipe loader. Rebuilt when the
# source or a header is newer.
objs=()
newest_header=$(ls -t csrc/*.h csrc/lua/*.h | head -1)
compile() { # source object
  if [ ! -e "$2" ] || [ "$1" -nt "$2" ] || [ "$newest_header" -nt "$2" ]; then
    echo "  CC-FUZZ $1"
    "$CLANG" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$1" -o "$2"
  fi
}
for k in "${kernels[@]}"; do compile "csrc/$k.c" "$out/obj/$k.o"; objs+=("$out/obj/$k.o"); done
binding_objs=()
for b in "${bindings[@]}"; do
  compile "csrc/lua/$b.c" "$out/obj/lua/$b.o"; binding_objs+=("$out/obj/lua/$b.o")
done
# The bindings may need kernels the list above does not name (new ones appear): take every
# kernel the Makefile links.
extra=()
for k in $(sed -n 's/^KERNELS = //p' Makefile); do
  case " ${kernels[*]} " in *" $k "*) ;; *) compile "csrc/$k.c" "$out/obj/$k.o"; extra+=("$out/obj/$k.o");; esac
done

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TESSERA_ROOT=$root OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

status=0
for h in "${harnesses[@]}"; do
  src=fuzz/fuzz_$h.c
  [ -f "$src" ] || { echo "fuzz: no harness '$h' ($src)" >&2; exit 2; }
  bin=$out/fuzz_$h
  link=("${objs[@]}" "${extra[@]}")
  [ "$h" = recipe ] && link+=("${binding_objs[@]}")
  echo "  LD-FUZZ $bin"
  "$CLANG" "${flags[@]}" -fsanitize=fuzzer "$src" "${link[@]}" "${libs[@]}" -o "$bin"
  work=$(mktemp -d)
  cp fuzz/corpus/"$h"/* "$work"/
  log=$out/$h.log
  echo "== fuzz $h (${seconds} s)"
  dict=()
  [ -f "fuzz/$h.dict" ] && dict=(-dict="fuzz/$h.dict")
  if "$bin" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/$h-" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz $h: ${runs:-?} executions, $cov, no crash"
  else
    status=1
    echo "fuzz $h: FAILED (log in $log, input in $out/artifacts/)" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -20 >&2
  fi
  rm -rf "$work"
done
exit $status
