-- Stereo: the garzul loop decomposed in stereo (its templates shared by both channels, its
-- activations per channel: tessera.stereo) keeps its image; the amen break sits left of
-- centre and a copy of it, an octave down and quieter, on the right. Written as 24-bit
-- FLAC at 44.1 kHz.
--
--   bin/tessera mosaic examples/stereo_image.lua -o out/stereo_image.flac
local samples = "/usr/share/sonic-pi/samples/"

return {
  duration = 7.0,
  out = "stereo_image.flac",
  rate = 44100,
  format = "pcm24",
  sources = {
    drums = { file = samples .. "loop_amen.flac", k = 6, loss = "kl", max_iter = 150 },
    pads = { file = samples .. "loop_garzul.flac", k = 6, loss = "kl", max_iter = 150, stereo = true },
  },
  phase = "drums",
  layers = {
    { name = "pads, their own image", W = "pads", gain = 0.7 },
    { name = "drums left", W = "drums", pan = -0.6 },
    { name = "drums an octave down, right", W = "drums", pitch = -12, pan = 0.8, gain = 0.4 },
  },
}
