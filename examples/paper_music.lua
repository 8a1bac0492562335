-- examples/paper_music.lua: the section "Making music" of examples/paper.lua. Each of
-- tessera's music-making recipes in examples/ is rendered from the cache, shown as its
-- text, a player and its spectrogram, with one measured sentence on what it did.
--
--   local section = dofile("examples/paper_music.lua")
--   section(report, { here = "examples", progress = fn })
local tessera = require "tessera"

local fmt = string.format

local SR, N_FFT, HOP = 22050, 2048, 512

local function read(path)
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return text
end

-- The spectral centroid (Hz) of magnitude V's frames first..last.
local function centroid(V, first, last)
  local n = V:shape()
  local c, m = 0, 0
  for j = first, last do
    for i = 1, n do
      local v = V:get(i, j)
      c, m = c + (i - 1) * v, m + v
    end
  end
  return m > 0 and c / m * SR / N_FFT or 0
end

-- What each recipe shows, and the sentence measured on its render.
local PIECES = {
  { file = "pitch_glide.lua", title = "Pitch and glides",
    says = function(_, s)
      return fmt("%d layers, %d template and activation pairs; the rising copy's templates move " ..
        "up an octave over %.1f s, the pad's stay a fourth down.", s.layers, s.components, s.duration)
    end },
  { file = "morph.lua", title = "A morph",
    says = function(_, s)
      local _, p = s.magnitude:shape()
      local tenth = math.max(1, p // 10)
      return fmt("The spectral centroid moves from %.0f Hz in the first tenth to %.0f Hz in the last, " ..
        "as the drone's templates slide into the shimmer's.", centroid(s.magnitude, 1, tenth),
        centroid(s.magnitude, p - tenth + 1, p))
    end },
  { file = "stereo_image.lua", title = "Stereo: a source's own image, pan and a chosen format",
    says = function(y, s)
      return fmt("%d channels at %d Hz; left RMS %.3f, right RMS %.3f (drums left of centre, their " ..
        "octave-down copy right, the pads in their own stereo image).", y.channels, s.sr,
        y:channel(1):rms(), y:channel(2):rms())
    end },
}

return function(report, opts)
  local here = opts.here or "examples"
  report:heading("Making music")
  report:paragraph("Recipes from examples/, each rendered from the cached decompositions: the " ..
    "text, a player and the magnitude spectrogram (the left channel's, for stereo).")
  for _, piece in ipairs(PIECES) do
    if opts.progress then opts.progress("making music: " .. piece.file) end
    local path = here .. "/" .. piece.file
    local y, s = tessera.mosaic.render(path, { write = false })
    report:heading(piece.title, 3)
    report:code(read(path), { lang = "lua" })
    report:paragraph(piece.says(y, s))
    report:players({ { audio = y, name = piece.file:gsub("%.lua$", ""), method = "recipe above" } })
    report:figure({ panels = { tessera.plot.spectrogram_panel(s.magnitude,
                                 { sr = SR, n_fft = N_FFT, hop = HOP, title = piece.title, logy = true }) } },
      { name = "music-" .. piece.file:gsub("%.lua$", ""), caption = "Magnitude spectrogram (dB)." })
  end
end
