-- The first demo (`make demo`): a real drum loop through the STFT and back.
-- Loads a loop at 22050 Hz mono, takes its spectrogram (n_fft 2048, hop 512), prints its
-- shape and a few numbers, inverts it and writes out/demo/<name>-roundtrip.wav.
--   bin/tessera examples/demo.lua [AUDIO_FILE]
local tessera = require "tessera"
local fs = require "tessera.fs"

local path = arg and arg[1] or "/usr/share/sonic-pi/samples/loop_amen.flac"
local name = path:match("([^/]+)$"):gsub("%.[^.]*$", "")
local outdir = "out/demo"
local outpath = outdir .. "/" .. name .. "-roundtrip.wav"

local a = tessera.audio.load(path, { sr = 22050 })
print(string.format("%s: %d samples at %d Hz, %.3f s, peak %.3f", path, #a, a.sr,
  a:duration(), a:peak()))

local S = tessera.stft(a, { n_fft = 2048, hop = 512 })
local bins, frames = S:shape()
print(string.format("spectrogram: %d frequency bins x %d frames", bins, frames))

-- Energy per bin is the sum over time of |X|^2; the loudest bin is where the loop's
-- weight sits (for a drum loop, the kick and bass, low in the spectrum).
local M = S:magnitude()
local best_bin, best_energy = 1, -1
for i = 1, bins do
  local energy = 0
  for j = 1, frames do
    local m = M:get(i, j)
    energy = energy + m * m
  end
  if energy > best_energy then best_bin, best_energy = i, energy end
end
local hz = (best_bin - 1) * a.sr / 2048
print(string.format("total magnitude %.1f; most energy in bin %d (%.1f Hz)", M:sum(), best_bin, hz))

-- The inverse: overlap-add with window-sum-square normalisation, trimmed to the input's
-- length, so the round trip should be exact up to float32 rounding.
local y = S:istft()
local err = a:mix(y, -1):rms() / a:rms()
print(string.format("round trip: %d samples back, relative RMS error %.2e", #y, err))

assert(fs.mkdir_p(outdir))
y:save(outpath)
print("wrote " .. outpath)
