-- examples/paper_music.lua: the section "Making music" of examples/paper.lua. Each of
-- tessera's music-making recipes in examples/ is rendered from the cache, shown as its
-- text, a player and its spectrogram, with one measured sentence on what it did; then
-- examples/midi_groove.lua's MIDI round trip, and a Griffin-Lim start from PGHI against a
-- random one.
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
  { file = "pattern.lua", title = "Patterns: activations edited as a score",
    says = function(_, s)
      return fmt("%d layers: swung and gated kick and snare, euclidean hats (5 in 8) and a pad " ..
        "pulse (3 in 8), %.1f s.", s.layers, s.duration)
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

  if opts.progress then opts.progress("making music: midi_groove.lua") end
  report:heading("MIDI out and in", 3)
  local mdir = (opts.outdir or "out/paper") .. "/midi_groove"
  local y = dofile(here .. "/midi_groove.lua")(mdir)
  local out_song, in_song = tessera.midi.read(mdir .. "/amen.mid"), tessera.midi.read(mdir .. "/groove.mid")
  local notes = 0
  for _, track in ipairs(out_song.tracks) do notes = notes + #track.events end
  report:paragraph(fmt("The amen break's components written as %s: %d tracks (tempo, then one " ..
    "per component), %d notes at %.1f BPM. " ..
    "A two-bar pattern written as %s (%d tracks) then plays the break's kick and snare templates " ..
    "(layer H = \"groove.mid\", notes = {[36] = 1, [38] = 2}).", "amen.mid", #out_song.tracks, notes,
    out_song.tempos[1].bpm, "groove.mid", #in_song.tracks))
  report:players({ { audio = y, name = "groove", method = "MIDI pattern, break's sounds" } })

  if opts.progress then opts.progress("making music: PGHI") end
  report:heading("A better start for Griffin-Lim", 3)
  local a = tessera.audio.load("/usr/share/sonic-pi/samples/loop_garzul.flac", { sr = SR, duration = 6 })
  local S = tessera.stft(a, { n_fft = N_FFT, hop = HOP })
  local V = S:magnitude()
  local rows = {}
  local heard = {}
  for _, init in ipairs { "random", "pghi" } do
    local g, sc = tessera.griffinlim(V, S, { iter = 32, init = init })
    rows[#rows + 1] = { init, fmt("%.3f", sc[1]), fmt("%.3f", sc[#sc]) }
    heard[#heard + 1] = { audio = g, name = "garzul, 32 iterations", method = "start: " .. init }
  end
  report:table(rows, { header = { "start", "spectral convergence at 0", "after 32 iterations" } })
  report:paragraph("The phase of loop_garzul's magnitude rebuilt by Griffin-Lim from a random " ..
    "start and from phase-gradient heap integration (tessera.pghi): lower is closer. In a " ..
    "recipe: phase = \"griffinlim\", griffinlim = {init = \"pghi\"} (examples/griffinlim_pghi.lua).")
  report:players(heard)
end
