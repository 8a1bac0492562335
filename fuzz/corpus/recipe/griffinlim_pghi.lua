-- A phase of its own: the garzul loop's templates on the amen break's rhythm with no
-- source's phase at all. Griffin-Lim rebuilds one, starting from phase-gradient heap
-- integration (tessera.pghi) rather than at random: 16 iterations from PGHI sound cleaner
-- than 32 from noise.
--
--   bin/tessera mosaic examples/griffinlim_pghi.lua -o out/griffinlim_pghi.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  duration = 7.0,
  out = "griffinlim_pghi.wav",
  sources = {
    drums = { file = samples .. "loop_amen.flac", k = 6, loss = "kl", max_iter = 150 },
    pads = { file = samples .. "loop_garzul.flac", k = 8, loss = "kl", max_iter = 150 },
  },
  phase = "griffinlim",
  griffinlim = { init = "pghi", iter = 16 },
  layers = {
    { name = "garzul on the amen", W = "pads", fit = true, target = "drums" },
    { name = "groove", W = "drums:1-2", gain = 0.25 },
  },
}
