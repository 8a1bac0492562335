-- Pitch: the garzul loop's pad, a fourth down under the amen break, then a copy that glides
-- up an octave over the whole piece. Each layer's templates move along frequency
-- (tessera.pitch) and their phase is the drums' shifted in step, as a phase vocoder does.
--
--   bin/tessera mosaic examples/pitch_glide.lua -o out/pitch_glide.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  duration = 7.0,
  out = "pitch_glide.wav",
  sources = {
    drums = { file = samples .. "loop_amen.flac", k = 6, loss = "kl", max_iter = 150 },
    pads = { file = samples .. "loop_garzul.flac", k = 6, loss = "kl", max_iter = 150 },
  },
  phase = "drums",
  layers = {
    { name = "drums", W = "drums" },
    { name = "pad a fourth down", W = "pads", pitch = -5, gain = 0.6 },
    { name = "rising copy", W = "pads", pitch = { from = 0, to = 12, shape = "smooth" }, gain = 0.3 },
  },
}
