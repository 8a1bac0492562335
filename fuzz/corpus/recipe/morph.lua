-- Morph: a low drone turns into the high shimmer of ambi_lunar_land over eight seconds.
-- Each of the drone's templates slides along frequency into its partner (tessera.morph:
-- displacement interpolation, partners by nmf.match) while the drone's activations keep
-- playing, so the sound changes colour rather than crossfading.
--
--   bin/tessera mosaic examples/morph.lua -o out/morph.wav
local samples = "/usr/share/sonic-pi/samples/"

return {
  duration = 8.0,
  out = "morph.wav",
  sources = {
    drone = { file = samples .. "ambi_drone.flac", k = 4, loss = "kl", max_iter = 150 },
    shimmer = { file = samples .. "ambi_lunar_land.flac", k = 4, loss = "kl", max_iter = 150 },
  },
  phase = "drone",
  layers = {
    { name = "drone into shimmer", morph = { from = "drone", to = "shimmer", curve = "smooth" },
      H = "drone" },
  },
}
