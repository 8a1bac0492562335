-- tessera: music decomposition and music making with non-negative matrix factorization.
-- `require "tessera"` gives the public API; each area (tessera.matrix, tessera.audio, ...)
-- is a Lua module that extends the matching table of the C module tessera.core, and loads
-- on first use so a script pays only for what it touches.
local core = require "tessera.core"

local rawset, require = rawset, require

local tessera = {
  version = core.version,
  core = core,
}

local areas = {
  matrix = true, audio = true, spectrogram = true, nmf = true,
  plot = true, report = true, mosaic = true, cli = true,
  mixture = true, analysis = true, eval = true, compare = true, hpss = true, nmfd = true,
  pitch = true, morph = true, automation = true, stereo = true,
  score = true, midi = true,
}

setmetatable(tessera, {
  __index = function(t, key)
    if areas[key] then
      local module = require("tessera." .. key)
      rawset(t, key, module)
      return module
    end
    return nil
  end,
})

-- tessera.stft(audio [, opts]) -> Spectrogram, or its magnitude Matrix with
-- opts.magnitude = true; opts.max_memory (bytes) caps what this call may allocate, like
-- TESSERA_MAX_MEMORY.
function tessera.stft(audio, opts)
  local memory = require "tessera.memory"
  local rest, cap = memory.split(opts, "stft", 2, 2)
  local stft = core.stft -- called through this name, so errors say "to 'stft'"
  if cap then return memory.capped(cap, function() return stft(audio, rest) end) end
  return stft(audio, opts)
end

-- tessera.griffinlim(mag, like_S [, opts]) -> Audio, convergence (see tessera.listen)
tessera.griffinlim = core.griffinlim
-- tessera.pghi(mag, like_S) -> phase Matrix (see tessera.listen)
tessera.pghi = core.pghi

-- Errors leave tessera.stft at the caller's line (lua/tessera/entry.lua), as they leave
-- every area's public functions.
return require("tessera.entry").export(tessera, { "stft" })
