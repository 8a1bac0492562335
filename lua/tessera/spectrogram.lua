--- tessera.spectrogram: functions of the Spectrogram type. The C table
-- tessera.core.spectrogram (from_polar) extended with helpers that need no data: the
-- window names, the bin frequencies and the frame count of a geometry, so a script can
-- plan sizes before it computes an STFT.
-- @module tessera.spectrogram
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, ipairs, math_type, pairs, tostring, type = error, ipairs, math.type, pairs, tostring, type
local format = string.format

local spectrogram = core.spectrogram
local MAX_NFFT = spectrogram.max_n_fft

--- The window names tessera.stft accepts: "hann", "hamming", "rect".
-- @table windows
spectrogram.windows = { "hann", "hamming", "rect" }

local function argerror(n, fname, msg)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
end

local function check_integer(value, n, fname, what)
  if math_type(value) ~= "integer" then
    argerror(n, fname, format("%s must be an integer, got %s", what,
      type(value) == "number" and tostring(value) or type(value)))
  end
end

--- fft_frequencies(sr, n_fft) -> {0, sr/n_fft, ..., sr/2}: the centre frequency in Hz of
-- each of the n_fft/2 + 1 bins (librosa.fft_frequencies; S:frequencies() for a Spectrogram).
-- @int sr the sample rate (> 0)
-- @int n_fft an even FFT size in 2..max_n_fft
-- @treturn table n_fft/2 + 1 frequencies in Hz
-- @raise `bad argument #2 to 'fft_frequencies' (n_fft must be an even integer in 2..N, got 3)`,
-- and for a non-integer or non-positive sr.
-- @usage local f = tessera.spectrogram.fft_frequencies(22050, 2048)   -- f[2] = 10.77 Hz
function spectrogram.fft_frequencies(sr, n_fft)
  check_integer(sr, 1, "fft_frequencies", "sr")
  check_integer(n_fft, 2, "fft_frequencies", "n_fft")
  if sr <= 0 then argerror(1, "fft_frequencies", format("sr must be positive, got %d", sr)) end
  if n_fft < 2 or n_fft > MAX_NFFT or n_fft % 2 ~= 0 then
    argerror(2, "fft_frequencies", format("n_fft must be an even integer in 2..%d, got %d",
      MAX_NFFT, n_fft))
  end
  local freqs = {}
  for b = 0, n_fft // 2 do freqs[b + 1] = b * sr / n_fft end
  return freqs
end

-- The options of tessera.stft, as its binding lists them (one list for both).
local STFT_OPTIONS = spectrogram.stft_options
local frame_options = {}
for _, key in ipairs(STFT_OPTIONS) do frame_options[key] = true end

--- frame_count(length [, {n_fft=2048, hop=n_fft/4, center=true}]) -> frames: how many
-- frames tessera.stft gives for a signal of `length` samples (stft's other options,
-- `window`, `magnitude`, `threads` and `max_memory`, are accepted and ignored, so the same
-- options table serves both).
-- @int length the signal's samples (>= n_fft)
-- @tab[opt] opts the options of @{tessera.stft}:
-- @int[opt=2048] opts.n_fft the FFT size
-- @int[opt=n_fft/4] opts.hop the hop
-- @bool[opt=true] opts.center frames centred (n_fft/2 zero padding at each end)
-- @treturn int the frame count
-- @raise `bad argument #2 to 'frame_count' (unknown option 'hops' (valid: ...))`; a hop
-- outside 1..n_fft; `length must be >= n_fft`.
-- @usage local frames = tessera.spectrogram.frame_count(#a, {hop = 256})
function spectrogram.frame_count(length, opts)
  check_integer(length, 1, "frame_count", "length")
  if opts ~= nil and type(opts) ~= "table" then
    argerror(2, "frame_count", "table expected, got " .. type(opts))
  end
  opts = opts or {}
  for key in pairs(opts) do
    if not frame_options[key] then
      argerror(2, "frame_count", format("unknown option '%s' (valid: %s)%s", tostring(key),
        table.concat(STFT_OPTIONS, ", "), did_you_mean(key, STFT_OPTIONS)))
    end
  end
  local n_fft = opts.n_fft or 2048
  check_integer(n_fft, 2, "frame_count", "n_fft")
  if n_fft < 2 or n_fft > MAX_NFFT or n_fft % 2 ~= 0 then
    argerror(2, "frame_count", format("n_fft must be an even integer in 2..%d, got %d",
      MAX_NFFT, n_fft))
  end
  local hop = opts.hop or (n_fft // 4 > 0 and n_fft // 4 or 1)
  check_integer(hop, 2, "frame_count", "hop")
  if hop < 1 or hop > n_fft then
    argerror(2, "frame_count", format("hop must be in 1..%d, got %d", n_fft, hop))
  end
  local center = opts.center
  if center == nil then center = true end
  if type(center) ~= "boolean" then
    argerror(2, "frame_count", "center must be a boolean, got " .. type(center))
  end
  if length < n_fft then
    argerror(1, "frame_count", format("length must be >= n_fft (%d), got %d", n_fft, length))
  end
  local pad = center and n_fft // 2 or 0
  return 1 + (length + 2 * pad - n_fft) // hop
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(spectrogram)
