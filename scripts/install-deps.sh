#!/usr/bin/env bash
# Installs tessera's build, run and test dependencies from Debian's packages.
# Idempotent: packages already present are not touched, and apt-get runs only when
# something is missing. TESSERA_SKIP_DEPS=1 skips it entirely (for packagers).
set -euo pipefail

[ "${TESSERA_SKIP_DEPS:-0}" = 1 ] && exit 0

packages=(
  # build and run
  build-essential pkg-config
  lua5.4 liblua5.4-dev
  libfftw3-dev libsndfile1-dev libsamplerate0-dev libopenblas-dev liblapacke-dev
  lua-argparse lua-cjson libreadline-dev
  lua-luv # tessera live: file events through libuv
  # pictures
  gnuplot-nox fonts-dejavu-core
  # real music for tests and examples
  sonic-pi-samples
  # tests: busted, and independent references
  lua-busted lua-check python3-numpy python3-sklearn python3-scipy python3-pil python3-soundfile
  python3-mir-eval # tessera.eval: mir_eval 0.7, the reference for SDR, SIR, SAR and onsets
  python3-mido # tessera.midi: the reference reader and writer of Standard MIDI Files
  chromium
  # robustness: make fuzz (libFuzzer) and make memcheck
  clang libclang-rt-dev valgrind
  parallel # tessera batch: the spec runs two shards at once with GNU parallel
  time # make bench: peak memory through /usr/bin/time -v
  lua-ldoc # doc: make doc (API reference)
  lua-markdown # doc: make doc (API reference), the doc comments' markdown
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
