-- A timbre swap: the rhythm of the amen break played by the sounds of the garzul loop.
-- garzul is decomposed into 8 spectral templates; their activations are fitted to the
-- amen break's spectrogram with the templates held fixed, so garzul's timbre follows the
-- drums' rhythm. The drums' own phase keeps the attacks sharp; a quiet layer of the
-- amen's own two strongest components keeps the groove audible underneath.
--
--   bin/tessera mosaic examples/timbre_swap.lua -o out/timbre_swap.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  sr = 22050,
  duration = 7.0, -- four bars of the 1.75-second break
  out = "timbre_swap.wav",
  sources = {
    drums = { file = samples .. "loop_amen.flac", k = 6, loss = "kl", max_iter = 150 },
    pads = { file = samples .. "loop_garzul.flac", k = 8, loss = "kl", max_iter = 150 },
  },
  phase = "drums",
  layers = {
    { name = "garzul on the amen", W = "pads", fit = true, target = "drums" },
    { name = "groove", W = "drums:1-2", gain = 0.25 },
  },
}
