-- make bench-compare: times tessera.compare on the issue's grid (5 methods x 6 k x 3 seeds)
-- on a 10-s mixture of four sonic-pi drum and bass stems, cold (every fit computed) and
-- warm (every fit from the cache), and writes the section "## compare grid" of
-- bench/results.md (replacing the previous one). Run with bin/tessera from the repository root.
local tessera = require "tessera"
local cache = require "tessera.cache"
local fs = require "tessera.fs"
local files = require "tessera.files"

local S = "/usr/share/sonic-pi/samples/"
local mix = tessera.mixture {
  duration = 10, sr = 22050, seed = 1, bpm = 120,
  stems = {
    { name = "kick", file = S .. "drum_bass_hard.flac", pattern = "x...x...|x.x.x..." },
    { name = "snare", file = S .. "drum_snare_hard.flac", pattern = "....x.......x..." },
    { name = "hat", file = S .. "drum_cymbal_closed.flac", every = 0.25, offset = 0.125, gain = 0.5 },
    { name = "bass", file = S .. "bass_hit_c.flac", pattern = "x.......x..x...." },
  },
}
local methods = { "cd", "mu-euclidean", "mu-kl", "is", "beta-0.5" }
local root = os.tmpname()
os.remove(root)
cache.root = root
local function load_avg()
  local text = fs.read_file("/proc/loadavg") or "?"
  return text:match("^(%S+ %S+ %S+)") or "?"
end
local load_before = load_avg()
local cold = tessera.compare(mix, nil, { methods = methods, progress = false })
local warm = tessera.compare(mix, nil, { methods = methods, progress = false })
local all = tessera.compare(mix, nil, { progress = false })
fs.remove_tree(root)

local lines = {
  "## compare grid: 5 methods x 6 k x 3 seeds",
  "",
  ("Written by `make bench-compare` (bench/compare_bench.lua) on %s; load average %s at the start, "
    .. "%s at the end (2 cores, shared)."):format(os.date("!%Y-%m-%d %H:%M UTC"), load_before, load_avg()),
  "A 10-s mixture of four stems (kick, snare, hi-hat, bass; 22050 Hz), STFT 1024/256, at most 200 "
    .. "iterations, tol 1e-4, SI-SDR only, one BLAS thread per fit.",
  "",
  "| run | fits | seconds | from the cache |",
  "| --- | --- | --- | --- |",
  ("| cold: %s | %d | %.1f | %d |"):format(table.concat(methods, ", "), cold.fits, cold.seconds, cold.cache.hits),
  ("| warm: the same grid again | %d | %.1f | %d |"):format(warm.fits, warm.seconds, warm.cache.hits),
  ("| all six methods (study added; the five from the cache) | %d | %.1f | %d |"):format(all.fits, all.seconds,
    all.cache.hits),
  "",
}
local path = "bench/results.md"
local text = fs.read_file(path) or ""
local section = table.concat(lines, "\n") .. "\n"
local start = text:find("## compare grid", 1, true)
if start then
  local stop = text:find("\n## ", start + 1, true)
  text = text:sub(1, start - 1) .. section .. (stop and text:sub(stop + 1) or "")
else
  text = text .. (text:sub(-1) == "\n" and "\n" or "\n\n") .. section
end
files.write_atomic(path, text, "compare_bench")
io.write(section)
