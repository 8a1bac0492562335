-- Patterns: the amen break's activations edited as a score (tessera.score). The kick and
-- snare rows are quantised to sixteenths with a little swing and thinned to the two
-- strongest hits a bar; the hats play a euclidean 5-in-8 pattern instead of their own; a
-- pad from the garzul loop keeps a Bjorklund 3-in-8 pulse. Note values ("1/16", "1" = a
-- bar) use the tempo tessera.score finds in each source's activations.
--
--   bin/tessera mosaic examples/pattern.lua -o out/pattern.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  duration = 7.0,
  out = "pattern.wav",
  sources = {
    drums = { file = samples .. "loop_amen.flac", k = 4, loss = "kl", max_iter = 150 },
    pads = { file = samples .. "loop_garzul.flac", k = 4, loss = "kl", max_iter = 150 },
  },
  phase = "drums",
  layers = {
    { name = "kick and snare, swung", W = "drums:1-2",
      pattern = { { "quantize", "1/16", swing = 0.25 }, { "gate", 2, bar = "1" } } },
    { name = "hats, euclidean", W = "drums:3-4", gain = 0.7,
      pattern = { { "euclidean", 5, 8, step = "1/8" } } },
    { name = "pad pulse", W = "pads:1", gain = 0.5,
      pattern = { { "euclidean", 3, 8, step = "1/8" }, { "smooth", 3 } } },
  },
}
