--- tessera: music decomposition and music making with non-negative matrix factorization.
-- `require "tessera"` gives the public API; each area (tessera.matrix, tessera.audio, ...)
-- is a Lua module that extends the matching table of the C module tessera.core, and loads
-- on first use so a script pays only for what it touches.
--
-- The areas, each a field of this table: @{tessera.matrix|matrix},
-- @{tessera.audio|audio}, @{tessera.spectrogram|spectrogram}, @{tessera.nmf|nmf},
-- @{tessera.nmfd|nmfd}, @{tessera.hpss|hpss}, @{tessera.stereo|stereo},
-- @{tessera.pitch|pitch}, @{tessera.morph|morph}, @{tessera.analysis|analysis},
-- @{tessera.eval|eval}, @{tessera.compare|compare}, @{tessera.mixture|mixture},
-- @{tessera.score|score}, @{tessera.automation|automation}, @{tessera.midi|midi},
-- @{tessera.plot|plot}, @{tessera.report|report}, @{tessera.mosaic|mosaic} (and its
-- @{recipes}), @{tessera.cli|cli}.
-- @module tessera
-- @usage
-- local tessera = require "tessera"
-- local a = tessera.audio.load("/usr/share/sonic-pi/samples/loop_amen.flac", {sr = 22050})
-- local S = tessera.stft(a)
-- local m = tessera.nmf(S, {k = 4, loss = "kl"})
-- m:audio(1, S):save("component1.wav")
local core = require "tessera.core"

local rawset, require = rawset, require

local tessera = {
  --- The version, as "major.minor.patch".
  version = core.version,
  --- The C module tessera.core (its tables are the areas' C parts; use the areas).
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

--- tessera.stft(audio [, opts]) -> Spectrogram, or its magnitude Matrix with
-- opts.magnitude = true; opts.max_memory (bytes) caps what this call may allocate, like
-- TESSERA_MAX_MEMORY. librosa's conventions: periodic window, centred frames.
-- @tparam Audio audio the signal (mono; use @{tessera.audio.Audio:mono|a:mono()} or
-- @{tessera.audio.Audio:channel|a:channel(c)} for a stereo sound)
-- @tab[opt] opts options (an unknown key is an error that lists the valid ones):
-- @int[opt=2048] opts.n_fft the FFT size, even, up to @{tessera.spectrogram.max_n_fft}
-- @int[opt=n_fft/4] opts.hop the hop in samples, 1..n_fft
-- @string[opt="hann"] opts.window "hann", "hamming" or "rect"
-- @bool[opt=true] opts.center frames centred (n_fft/2 zero padding at each end)
-- @bool[opt=false] opts.magnitude return |S| as a Matrix, made without the complex
-- spectrogram (the same bits as stft(a):magnitude())
-- @int[opt] opts.threads 1..64 (default: tessera's; the result does not depend on it)
-- @int[opt] opts.max_memory a cap in bytes on what this call allocates
-- @treturn Spectrogram|Matrix the spectrogram, or its magnitude
-- @raise `bad argument #2 to 'stft' (hop must be in 1..2048, got 0)`; an unknown option
-- or window name; a sound shorter than n_fft; an allocation over the cap ("stft needs
-- ... MB, more than the memory cap").
-- @usage local S = tessera.stft(a, {n_fft = 1024, hop = 256})
-- local V = tessera.stft(a, {magnitude = true})
function tessera.stft(audio, opts)
  local memory = require "tessera.memory"
  local rest, cap = memory.split(opts, "stft", 2, 2)
  local stft = core.stft -- called through this name, so errors say "to 'stft'"
  if cap then return memory.capped(cap, function() return stft(audio, rest) end) end
  return stft(audio, opts)
end

--- tessera.griffinlim(mag, like_S [, opts]) -> Audio, convergence (see tessera.listen):
-- a signal whose magnitude approaches mag, by the fast Griffin-Lim algorithm (Perraudin et
-- al. 2013) with momentum.
-- @tparam Matrix mag bins x frames, >= 0 (like_S's shape)
-- @tparam Spectrogram like_S the geometry (sr, n_fft, hop, window, length) to invert with
-- @tab[opt] opts options:
-- @int[opt=32] opts.iter iterations, 0..100000
-- @number[opt=0.99] opts.momentum 0 is the original Griffin-Lim
-- @param[opt="random"] opts.init "random", "pghi" (start from @{pghi}'s phase, far closer;
-- hann or hamming window) or a phase Matrix
-- @int[opt=0] opts.seed the random start's seed
-- @treturn Audio the signal (like_S.length samples at like_S.sr)
-- @treturn table the spectral convergence after 0..iter updates
-- @raise `bad argument #3 to 'griffinlim' (iter must be in 0..100000, got -1)`; mag not
-- like_S's shape or with a negative entry; init "pghi" with a rect window.
-- @usage local y, sc = tessera.griffinlim(m:component(2), S, {init = "pghi"})
-- @function griffinlim
tessera.griffinlim = core.griffinlim
--- tessera.pghi(mag, like_S) -> phase Matrix (see tessera.listen): phase-gradient heap
-- integration (Prusa et al. 2017), a phase from the magnitude alone, in one pass.
-- @tparam Matrix mag bins x frames, >= 0
-- @tparam Spectrogram like_S the geometry (a hann or hamming window)
-- @treturn Matrix the phase in radians, mag's shape
-- @raise `bad argument #2 to 'pghi' (pghi needs a hann or hamming window, the spectrogram's
-- is rect)`; mag not like_S's shape.
-- @usage local phi = tessera.pghi(V, S)
-- local a = tessera.spectrogram.from_polar(V, phi, S):istft()
-- @function pghi
tessera.pghi = core.pghi

-- Errors leave tessera.stft at the caller's line (lua/tessera/entry.lua), as they leave
-- every area's public functions.
return require("tessera.entry").export(tessera, { "stft" })
