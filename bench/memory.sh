#!/usr/bin/env bash
# make bench (and make bench-memory): the peak memory of real runs, measured by
# /usr/bin/time -v (maximum resident set size), appended to bench/results.md as a section.
#  1. decompose of a 3-minute 44.1 kHz stereo file (eight different sonic-pi loops one after
#     another), k = 16, 500 iterations, with every component's audio written;
#  2. decompose of a 2.5-s loop with k = 400 (small V, many components);
#  3. batch --audio --max-memory 1G on the 3-minute file: the worker must stay under the cap
#     or record the file as failed with a clear message;
#  4. the same with --max-memory 200M, which the file cannot fit in: recorded as failed, and
#     the process never holds much more than the cap.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=$PWD/bin/tessera
[ -x "$HOST" ] || { echo "bench-memory: $HOST is missing: run make first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-memory: /usr/bin/time is missing (Debian's time)" >&2; exit 1; }
OUT=${1:-bench/results.md}
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
SAMPLES=/usr/share/sonic-pi/samples

echo "bench-memory: making the 3-minute stereo file" >&2
cat > "$work/make_inputs.lua" <<'LUA'
local tessera = require "tessera"
local loops = { "loop_amen_full", "loop_garzul", "loop_tabla", "loop_mika", "loop_compus",
                "loop_safari", "loop_3d_printer", "loop_weirdo" }
local mix, per = nil, 180 * 44100 // #loops
for _, name in ipairs(loops) do
  local part = tessera.audio.load(arg[1] .. "/" .. name .. ".flac", { sr = 44100, mono = false })
    :tile(per)
  mix = mix and mix .. part or part
end
mix:save(arg[2], { subtype = "pcm16" })
tessera.audio.load(arg[1] .. "/loop_electric.flac", { sr = 44100, mono = false })
  :save(arg[3], { subtype = "pcm16" })
LUA
"$HOST" "$work/make_inputs.lua" "$SAMPLES" "$work/three_minutes.wav" "$work/loop.wav"

# peak RSS in MB of a command; its status and stderr kept in $work/last.*
peak() {
  local status=0
  /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/last.out" 2> "$work/last.err" || status=$?
  echo "$status" > "$work/last.status"
  awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time.txt"
}

echo "bench-memory: decompose, 3 minutes, k = 16, 500 iterations, component audio" >&2
d3=$(peak "$HOST" decompose "$work/three_minutes.wav" -k 16 --iter 500 -o "$work/d3")
s3=$(cat "$work/last.status")
echo "bench-memory: decompose, 2.5-s loop, k = 400" >&2
d400=$(peak "$HOST" decompose "$work/loop.wav" -k 400 -o "$work/d400")
s400=$(cat "$work/last.status")
echo "bench-memory: batch --audio --max-memory 1G, the 3-minute file" >&2
mkdir -p "$work/in" && cp "$work/three_minutes.wav" "$work/in/"
b1=$(peak "$HOST" batch "$work/in" -o "$work/b1" --audio --max-memory 1G -k 16 --iter 500 \
       --progress lines)
sb1=$(cat "$work/last.status")
row=$(grep -h "three_minutes" "$work/b1/results.csv" 2>/dev/null | head -n 1 || true)
echo "bench-memory: batch --audio --max-memory 200M, the 3-minute file" >&2
b2=$(peak "$HOST" batch "$work/in" -o "$work/b2" --audio --max-memory 200M -k 16 --iter 500 \
       --progress lines)
sb2=$(cat "$work/last.status")
row2=$(grep -h "three_minutes" "$work/b2/results.csv" 2>/dev/null | head -n 1 || true)

{
  echo
  echo "## Peak memory (bench/memory.sh, $(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo
  echo "Maximum resident set size (MB = 2^20 bytes) of the largest process of each run, by"
  echo "/usr/bin/time -v. The 3-minute file is eight sonic-pi loops one after another, 44.1 kHz"
  echo "stereo, analysed at the default 22050 Hz. Before issue 14 the first run peaked at 3.0 GB"
  echo "and a k = 800 run on a 2.5-s loop at 3.4 GB."
  echo
  echo "| run | exit status | peak RSS | target |"
  echo "| --- | --- | --- | --- |"
  echo "| decompose, 3 min, k = 16, 500 iterations, component audio | $s3 | $d3 MB | < 500 MB |"
  echo "| decompose, 2.5-s loop, k = 400, component audio | $s400 | $d400 MB | < 150 MB |"
  echo "| batch --audio --max-memory 1G, the 3-minute file, k = 16 | $sb1 | $b1 MB | <= 1024 MB + a few |"
  echo "| batch --audio --max-memory 200M (200 MiB), the same | $sb2 | $b2 MB | <= 200 MB + a few, or failed |"
  echo
  echo "The batches' result rows:"
  echo
  echo "    ${row:-none}"
  echo "    ${row2:-none}"
} >> "$OUT"
echo "bench-memory: decompose 3 min k=16: $d3 MB; k=400: $d400 MB; batch 1G: $b1 MB;" \
  "batch 200M: $b2 MB" >&2
