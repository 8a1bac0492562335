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
command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found (scripts/install-deps.sh test installs clang)" >&2; exit 1; }

out=build/fuzz
mkdir -p "$out/obj/lua" "$out/obj/nmf" "$out/artifacts"
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer -fopenmp-simd
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       $(pkg-config --cflags lua5.4 fftw3f fftw3 sndfile samplerate openblas))
libs=($(pkg-config --libs lua5.4 fftw3f fftw3 sndfile samplerate openblas) -llapacke -lm -lpthread)
# Every kernel and binding the Makefile links (make print-KERNELS: csrc/nmf/ included).
kernels=($(make -s --no-print-directory print-KERNELS))
bindings=($(make -s --no-print-directory print-BINDINGS))

# Objects: kernels for every harness, bindings too for the recipe loader. Rebuilt when the
# source or a header is newer.
objs=()
newest_header=$(ls -t csrc/*.h csrc/*/*.h | head -1)
# The Makefile's per-file flags, by the file's name: its instruction set, and the STFT's.
# The NMF's AVX2 and AVX-512 kernels at -O0: clang's optimiser, on their forced inlining
# and unrolling under the sanitizers, took over ten minutes a file (seconds at -O0, with
# every check still in place).
file_flags() { # source
  case $1 in
    *_avx2.c) echo -mavx2 -mfma ;;
    *_avx512.c) echo -mavx512f -mavx512vl -mavx2 -mfma ;;
    *_sha.c) echo -msha -msse4.1 -mssse3 ;;
  esac
  case $1 in csrc/nmf/*_avx2.c | csrc/nmf/*_avx512.c) echo -O0 ;; esac
  case $1 in csrc/stft*.c) echo -fno-math-errno -ffp-contract=off ;; esac
}
compile() { # source object
  if [ ! -e "$2" ] || [ "$1" -nt "$2" ] || [ "$newest_header" -nt "$2" ]; then
    echo "  CC-FUZZ $1"
    mkdir -p "$(dirname "$2")"
    # shellcheck disable=SC2046 # one argument per flag
    "$CLANG" "${flags[@]}" $(file_flags "$1") -fsanitize=fuzzer-no-link -c "$1" -o "$2"
  fi
}
for k in "${kernels[@]}"; do compile "csrc/$k.c" "$out/obj/$k.o"; objs+=("$out/obj/$k.o"); done
binding_objs=()
for b in "${bindings[@]}"; do
  compile "csrc/lua/$b.c" "$out/obj/lua/$b.o"; binding_objs+=("$out/obj/lua/$b.o")
done
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TESSERA_ROOT=$root OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

status=0
for h in "${harnesses[@]}"; do
  src=fuzz/fuzz_$h.c
  [ -f "$src" ] || { echo "fuzz: no harness '$h' ($src)" >&2; exit 2; }
  bin=$out/fuzz_$h
  link=("${objs[@]}")
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
