--- tessera.pitch: pitch shifting by frequency scaling, on templates and spectrograms. What
-- sounds at frequency f moves to f 2^(s/12): each column is resampled along frequency
-- (linearly between bins), and the phase that goes with it is the source's, shifted in step
-- as a phase vocoder shifts it (each bin's advance between frames, its instantaneous
-- frequency, scaled by the same ratio). The extension of tessera.core.pitch.
--
--   local W5 = tessera.pitch.shift(m.W, -5)                 -- every template a fourth down
--   local glide = tessera.automation.values({from = 0, to = 12}, frames, sr, hop)
--   local V2 = tessera.pitch.shift(V, glide)                -- one shift per frame
--   local P2 = tessera.pitch.phase(S:phase(), glide, {n_fft = 2048, hop = 512})
-- @module tessera.pitch
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, pairs, tostring, type = error, pairs, tostring, type
local format = string.format

local pitch = core.pitch
--- The shifted magnitude: what @{shift} is (core's name).
-- @function magnitude
-- @tparam Matrix M bins x frames, >= 0
-- @param semitones a number or one per column
-- @treturn Matrix M's shape
-- @raise as @{shift}.
-- @usage local V2 = tessera.pitch.magnitude(V, 3)
local magnitude, phase = pitch.magnitude, pitch.phase

--- pitch.ratio(semitones) -> the frequency ratio 2^(semitones / 12).
-- @number semitones a finite number
-- @treturn number the ratio
-- @raise when semitones is not a finite number.
-- @usage print(tessera.pitch.ratio(12))   --> 2.0
function pitch.ratio(semitones)
  if type(semitones) ~= "number" then
    error(format("bad argument #1 to 'ratio' (number expected, got %s)", type(semitones)), 2)
  end
  return 2 ^ (semitones / 12)
end

--- pitch.shift(M, semitones) -> Matrix: each column of M (bins x columns: templates, or the
-- frames of a magnitude spectrogram) shifted by semitones (a number, or a table of one per
-- column: a glide). Semitones in -96..96. (core's magnitude itself, so that its argument
-- errors name 'shift'.)
-- @function shift
-- @tparam Matrix M bins x frames, >= 0
-- @param semitones a number, or a table with one per column (a glide), in -96..96
-- @treturn Matrix M's shape
-- @raise `bad argument #2 to 'shift' (...)` for semitones out of range or a table of the wrong
-- length.
-- @usage local W5 = tessera.pitch.shift(m.W, -5)
pitch.shift = magnitude

--- pitch.phase(P, semitones, {n_fft =, hop =}) -> Matrix: the phase (radians, bins x frames)
-- of a spectrogram whose magnitude pitch.shift moved by semitones, from its phase P.
-- @tparam Matrix P the source's phase, bins x frames
-- @param semitones a number or one per frame
-- @tab opts `n_fft` and `hop` of the spectrogram (required)
-- @treturn Matrix the shifted phase
-- @raise a missing n_fft or hop, or semitones out of range.
-- @usage local P2 = tessera.pitch.phase(S:phase(), 7, {n_fft = 2048, hop = 512})
function pitch.phase(P, semitones, opts)
  if type(opts) ~= "table" then
    error(format("bad argument #3 to 'phase' (options {n_fft =, hop =} expected, got %s)",
      type(opts)), 2)
  end
  for key in pairs(opts) do
    if key ~= "n_fft" and key ~= "hop" then
      error(format("bad argument #3 to 'phase' (unknown option '%s' (valid: n_fft, hop)%s)",
        tostring(key), did_you_mean(key, { "n_fft", "hop" })), 2)
    end
  end
  return phase(P, semitones, opts.n_fft, opts.hop)
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(pitch)
