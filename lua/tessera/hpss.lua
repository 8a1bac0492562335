--- tessera.hpss: harmonic/percussive separation by median filtering (Fitzgerald 2010) with
-- Driedger's margins and residual (2014), in librosa.decompose.hpss's conventions, and the
-- percussiveness of NMF components. The kernels are C (csrc/hpss.c).
--
--   local parts = tessera.hpss(S, { kernel = {31, 31}, margin = 1, power = 2 })
--   parts.harmonic, parts.percussive, parts.residual  -- Spectrograms adding up to S
--   parts.masks.harmonic, parts.masks.percussive      -- Matrices in [0, 1]
--   tessera.hpss.percussiveness(model, S)             -- {share of component 1, ...}
--
-- Options: kernel (31): frames of the median along time (harmonic) and bins along
-- frequency (percussive), one integer for both or a pair {h, p}; any size >= 1, as
-- scipy.ndimage.median_filter's (mode 'reflect'; an even size takes the upper median).
-- margin (1): >= 1, one number or {h, p}. power (2): the soft masks' exponent. hard
-- (default: true when a margin is above 1): binary masks, harmonic where H > margin_h P,
-- percussive where P >= margin_p H (Driedger); soft masks otherwise, librosa's
-- H^power / (H^power + (margin_h P)^power). The residual is S minus the other two: with
-- soft masks and margin 1 it is (nearly) zero. threads: as tessera.stft's.
--
-- An Audio in: its STFT (n_fft, hop, window options, librosa's defaults) is separated and
-- each part comes back as Audio of the input's length (istft); parts.spectrogram is the STFT.
-- @module tessera.hpss
local core = require "tessera.core"

local error, format, pairs, setmetatable, type = error, string.format, pairs, setmetatable, type
local core_type = core.type

local hpss = {}

local STFT_KEYS = { n_fft = true, hop = true, window = true }

local function kind(v)
  return core_type(v) or type(v)
end

-- Separates the Spectrogram S; the errors of the options say "to 'hpss'".
local function separate(S, opts)
  local hpss = core.hpss.separate -- luacheck: ignore 431 (named so errors say "to 'hpss'")
  local H, P, R, mask_h, mask_p = hpss(S, opts)
  return { harmonic = H, percussive = P, residual = R,
           masks = { harmonic = mask_h, percussive = mask_p } }
end

--- tessera.hpss(x [, opts]) -> parts: harmonic, percussive and residual parts of a
-- Spectrogram (or an Audio, transformed with the STFT's defaults) by median filtering.
-- @function hpss
-- @tparam Spectrogram|Audio x what to separate
-- @tab[opt] opts options (all checked):
-- @param[opt=31] opts.kernel the medians' sizes: one integer or a pair {harmonic, percussive}
-- @param[opt=1] opts.margin Driedger's margin (>= 1), one number or a pair
-- @number[opt=2] opts.power the soft masks' exponent (librosa's)
-- @bool[opt=false] opts.hard binary masks
-- @int[opt] opts.threads worker threads
-- @treturn table {harmonic, percussive, residual (Spectrograms or Audio, as x), masks =
-- {harmonic, percussive}}
-- @raise an unknown option; a kernel < 1 or a margin < 1 (with the value).
-- @usage local parts = tessera.hpss(S, {kernel = {31, 31}, margin = 2})
-- parts.percussive:istft():save("drums.wav")
local function call(_, x, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #2 to 'hpss' (table expected, got %s)", type(opts)), 3)
  end
  local what = kind(x)
  if what == "Spectrogram" then
    return separate(x, opts)
  end
  if what ~= "Audio" then
    error(format("bad argument #1 to 'hpss' (Spectrogram or Audio expected, got %s)", what), 3)
  end
  local stft_opts, rest = {}, {}
  for key, v in pairs(opts or {}) do
    if STFT_KEYS[key] then stft_opts[key] = v else rest[key] = v end
  end
  stft_opts.threads = rest.threads
  local stft = core.stft
  local S = stft(x, stft_opts)
  local parts = separate(S, rest)
  return { harmonic = parts.harmonic:istft(), percussive = parts.percussive:istft(),
           residual = parts.residual:istft(), masks = parts.masks, spectrogram = S }
end

--- tessera.hpss.percussiveness(model, S [, opts]) -> {p_1, ..., p_k}: for each component of
-- the NMF or NMFD model (H k x p, fitted on S's magnitude), the share of its Wiener energy
-- (S's magnitude times W_i H_i / W H, squared and summed) that the percussive mask keeps,
-- in [0, 1]. opts: tessera.hpss's options, or mask = a percussive mask already computed
-- (parts.masks.percussive).
-- @tparam Model m an NMF or NMFD model fitted on S's magnitude
-- @tparam Spectrogram S the spectrogram
-- @tab[opt] opts tessera.hpss's options, or `mask` = a percussive mask already computed
-- @treturn table {p_1, ..., p_k} in [0, 1]
-- @raise when the model does not match S, or an option is unknown.
-- @usage local p = tessera.hpss.percussiveness(m, S)
function hpss.percussiveness(m, S, opts)
  if type(m) ~= "table" or kind(m.W) ~= "Matrix" or kind(m.H) ~= "Matrix" then
    error(format("bad argument #1 to 'percussiveness' (NMF model expected, got %s)", kind(m)), 2)
  end
  if kind(S) ~= "Spectrogram" then
    error(format("bad argument #2 to 'percussiveness' (Spectrogram expected, got %s)", kind(S)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(format("bad argument #3 to 'percussiveness' (table expected, got %s)", type(opts)), 2)
  end
  local n, p = S:shape()
  local wn = m.W:shape()
  local _, hp = m.H:shape()
  if wn ~= n or hp ~= p then
    error(format("bad argument #2 to 'percussiveness' (spectrogram is %d x %d but the model is "
      .. "%d x %d)", n, p, wn, hp), 2)
  end
  local mask = opts and opts.mask
  if mask ~= nil then
    if kind(mask) ~= "Matrix" then
      error(format("bad argument #3 to 'percussiveness' (mask must be a Matrix, got %s)",
        kind(mask)), 2)
    end
    local mr, mc = mask:shape()
    if mr ~= n or mc ~= p then
      error(format("bad argument #3 to 'percussiveness' (mask is %d x %d but the spectrogram "
        .. "is %d x %d)", mr, mc, n, p), 2)
    end
  else
    mask = separate(S, opts).masks.percussive
  end
  local percussiveness = core.hpss.mask_share
  local shares = percussiveness(m.W, m.H, S:magnitude(), mask, m.T)
  return shares
end

--- scipy.ndimage.median_filter of a Matrix along one axis (mode 'reflect'; an even
-- size takes the upper median).
-- @function median_filter
-- @tparam Matrix M the matrix
-- @int size the window (>= 1)
-- @string axis "time" (along a row) or "frequency" (along a column)
-- @treturn Matrix M's shape
-- @raise a size < 1 or an unknown axis (the valid names listed).
-- @usage local H = tessera.hpss.median_filter(V, 31, "time")
hpss.median_filter = core.hpss.median_filter

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(setmetatable(hpss, { __call = call }))
