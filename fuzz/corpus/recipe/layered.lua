-- A layered mosaic of components from four loops. The tabla's activations drive the
-- compus loop's templates, garzul's pad components ring underneath at half speed, the
-- amen's components are shifted by an eighth note against the beat, and the whole is
-- given a phase by Griffin-Lim (no source's phase fits a mix of four loops).
-- Component numbers are those of each decomposition (run `bin/tessera decompose` on a
-- loop to hear them one by one).
--
--   bin/tessera mosaic examples/layered.lua -o out/layered.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  sr = 22050,
  duration = 8.0,
  out = "layered.wav",
  sources = {
    tabla = { file = samples .. "loop_tabla.flac", duration = 4, k = 6, loss = "kl", max_iter = 150 },
    compus = { file = samples .. "loop_compus.flac", k = 6, loss = "kl", max_iter = 150 },
    garzul = { file = samples .. "loop_garzul.flac", duration = 4, k = 6, loss = "kl", max_iter = 150 },
    amen = { file = samples .. "loop_amen.flac", k = 4, loss = "kl", max_iter = 150 },
  },
  phase = "griffinlim",
  griffinlim = { iter = 48, momentum = 0.99, seed = 7 },
  layers = {
    { name = "compus played by the tabla", W = "compus:1-6", H = "tabla:1-6", gain = 1.0 },
    { name = "slow pads", W = "garzul:1-3", gain = 0.6, stretch = 2 },
    { name = "offbeat amen", W = "amen:1,3", gain = 0.5, shift = 60 / 137 / 2 },
    { name = "tabla accents", W = "tabla:2", gain = 0.3, shift = 0.5, loop = false },
  },
}
