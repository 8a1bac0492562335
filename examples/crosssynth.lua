-- "Let it Bee" cross-synthesis of two real loops: the mika loop (the target) re-played
-- with the sounds of the tabla loop (the source), then the reverse. Every frame of the
-- source's spectrogram is a template; the activations follow the target's spectrogram
-- under the paper's constraints, and the output is made of the source's own frames, so it
-- keeps the tabla's timbre while following mika's rhythm and pitch contour.
-- Prints one line per mosaic and how much closer its spectrogram is to the target's than
-- the source's own spectrogram is (correlation over all bins and frames).
--
--   bin/tessera examples/crosssynth.lua [OUTDIR]        (default out/crosssynth)
--
-- The same from the shell: bin/tessera crosssynth SOURCE TARGET -o OUT.wav
local tessera = require "tessera"
local crosssynth = require "tessera.crosssynth"
local fs = require "tessera.fs"

local samples = "/usr/share/sonic-pi/samples/"
local outdir = arg and arg[1] or "out/crosssynth"
assert(fs.mkdir_p(outdir))

-- Pearson correlation of two magnitude spectrograms of the same shape.
local function correlation(A, B)
  local a, b = A:totable(), B:totable()
  local n, sa, sb, saa, sbb, sab = 0, 0, 0, 0, 0, 0
  for i = 1, #a do
    for j = 1, #a[i] do
      local x, y = a[i][j], b[i][j]
      n, sa, sb = n + 1, sa + x, sb + y
      saa, sbb, sab = saa + x * x, sbb + y * y, sab + x * y
    end
  end
  local cov = sab / n - (sa / n) * (sb / n)
  return cov / math.sqrt((saa / n - (sa / n) ^ 2) * (sbb / n - (sb / n) ^ 2))
end

local function magnitude(a) return tessera.stft(a):magnitude() end

local function loop(name)
  return tessera.audio.load(samples .. "loop_" .. name .. ".flac", { sr = 22050, mono = true })
end

local mosaics = { { source = "tabla", target = "mika" }, { source = "mika", target = "tabla" } }
for _, pair in ipairs(mosaics) do
  local source, target = loop(pair.source), loop(pair.target)
  local out = string.format("%s/%s_played_by_%s.wav", outdir, pair.target, pair.source)
  local y, info = tessera.mosaic.crosssynth {
    source = source, target = target, out = out,
    iter = 20, r = 3, p = 10, c = 3, -- the paper's settings (also the defaults)
  }
  info.source, info.target = pair.source, pair.target
  print(crosssynth.describe(info))
  local own = #source >= #target and source:slice(1, #target) or source:tile(#target)
  local V = magnitude(target)
  print(string.format("  correlation with %s's spectrogram: the mosaic %.3f, %s itself %.3f",
    pair.target, correlation(magnitude(y), V), pair.source, correlation(magnitude(own), V)))
end
