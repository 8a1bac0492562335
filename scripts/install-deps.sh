#!/usr/bin/env bash
# Installs tessera's dependencies from Debian's packages, by group, so that each make target
# installs only what it needs:
#   run      build, run, real music and pictures: make, make demo, make install
#   test     the specs' tools and independent references: make test, fuzz, memcheck, bench
#   doc      the API reference: make doc
#   cluster  a one-node Slurm and ssh to localhost: make test-cluster
# usage: scripts/install-deps.sh [GROUP...]   (no group: run)
#        scripts/install-deps.sh --list [GROUP...]   print the groups' packages, install nothing
# Idempotent: packages already present are not touched, and apt-get runs only when
# something is missing. TESSERA_SKIP_DEPS=1 skips it entirely (for packagers).
set -euo pipefail

group_run=(
  build-essential pkg-config
  lua5.4 liblua5.4-dev
  libfftw3-dev libsndfile1-dev libsamplerate0-dev libopenblas-dev liblapacke-dev
  lua-argparse lua-cjson libreadline-dev
  lua-luv # tessera live and batch: file events and worker processes through libuv
  # pictures
  gnuplot-nox fonts-dejavu-core
  # real music for the examples (and the tests)
  sonic-pi-samples
)

group_test=(
  # busted, luacheck (.ci/run), and independent references
  lua-busted lua-check python3-numpy python3-sklearn python3-scipy python3-pil python3-soundfile
  python3-mir-eval # tessera.eval: mir_eval 0.7, the reference for SDR, SIR, SAR and onsets
  python3-mido # tessera.midi: the reference reader and writer of Standard MIDI Files
  chromium # the HTML report, looked at in headless Chromium
  # robustness: make fuzz (libFuzzer) and make memcheck
  clang libclang-rt-dev valgrind
  parallel # tessera batch: the spec runs two shards at once with GNU parallel
  time # make bench: peak memory through /usr/bin/time -v
  luarocks # scripts/test-install.sh: luarocks make into a scratch tree
  man-db groff-base # the man page: rendered by man, checked by groff -ww
)

# make doc: the API reference from the doc comments (spec/doc_spec.lua builds it too, so
# the test targets install this group as well).
group_doc=(
  lua-ldoc
  lua-markdown # the doc comments' markdown
)

# make test-cluster: a single-node Slurm, and GNU parallel over ssh to localhost.
group_cluster=(
  slurm-wlm munge openssh-server openssh-client
)

list=0
if [ "${1:-}" = --list ]; then
  list=1
  shift
fi
[ $# -eq 0 ] && set -- run

packages=()
for g in "$@"; do
  case $g in
    run | test | doc | cluster) ;;
    *)
      echo "install-deps: unknown group '$g' (groups: run, test, doc, cluster)" >&2
      exit 2
      ;;
  esac
  declare -n group="group_$g"
  packages+=("${group[@]}")
  unset -n group
done

if [ $list = 1 ]; then
  [ ${#packages[@]} -eq 0 ] || printf '%s\n' "${packages[@]}"
  exit 0
fi

[ "${TESSERA_SKIP_DEPS:-0}" = 1 ] && exit 0
[ ${#packages[@]} -eq 0 ] && exit 0 # (dpkg-query with no name would list every package)

# One dpkg-query for them all: what is installed, then what of the list is not.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }' || true)
missing=()
for p in "${packages[@]}"; do
  grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Two makes at once (make test beside make bench) wait for each other's dpkg lock.
$sudo apt-get update -qq -o DPkg::Lock::Timeout=600
$sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
