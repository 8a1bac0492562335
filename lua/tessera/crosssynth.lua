-- tessera.crosssynth: "Let it Bee" cross-synthesis (Driedger, Prätzlich and Müller, ISMIR
-- 2015): the target re-played with the source's sounds. Every frame of the source's
-- magnitude spectrogram is a template (W, n x M); activations H (M x N) that make W·H
-- approximate the target's magnitude are fitted with KL updates and the paper's three
-- constraints (repetition, polyphony, continuity: see csrc/crosssynth.h), and the output
-- is the source's complex STFT frames combined by H, back to audio by the inverse STFT.
-- Also tessera.mosaic.crosssynth.
--
--   local y, info = tessera.mosaic.crosssynth {
--     source = "bees.wav", target = "let_it_be.wav", out = "mosaic.wav" }
local core = require "tessera.core"
local did_you_mean = require("tessera.args").did_you_mean

local error, ipairs, pairs, tostring, type = error, ipairs, pairs, tostring, type
local format = string.format
local concat, sort = table.concat, table.sort
local math_type = math.type

local audio = core.audio
local core_type = core.type

local crosssynth = {}

-- The options and their defaults (iter, r, p, c: the paper's).
crosssynth.defaults = {
  iter = 20, r = 3, p = 10, c = 3, seed = 0,
  sr = 22050, n_fft = 2048, hop = 512, window = "hann", normalize = 0.99,
}
local VALID = { "source", "target", "out", "iter", "r", "p", "c", "seed", "sr", "n_fft", "hop",
                "window", "normalize" }
local valid_set = {}
for _, k in ipairs(VALID) do valid_set[k] = true end

local WHO = "tessera.crosssynth"

local function fail(fmt, ...)
  error(WHO .. ": " .. format(fmt, ...), 0)
end

local function describe(v)
  if type(v) == "string" then return format("'%s'", v) end
  if type(v) == "number" then return tostring(v) end
  return type(v)
end

local function integer(opts, key, lo)
  local v = opts[key]
  if v == nil then return crosssynth.defaults[key] end
  if math_type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v == v
                                        and v ~= math.huge and v ~= -math.huge) then
    fail("%s must be an integer, got %s", key, describe(v))
  end
  v = math.tointeger(v)
  if lo and v < lo then fail("%s must be >= %d, got %d", key, lo, v) end
  return v
end

-- An Audio at sr, mono: a file name, a table {file=, offset=, duration=} or an Audio.
local function input(opts, key, sr)
  local v = opts[key]
  if v == nil then
    fail("%s is missing (a file name, an Audio or {file=, offset=, duration=})", key)
  end
  if type(v) == "string" then
    return audio.load(v, { sr = sr, mono = true }), v
  elseif type(v) == "table" and getmetatable(v) == nil then
    for k in pairs(v) do
      if k ~= "file" and k ~= "offset" and k ~= "duration" then
        fail("%s: unknown key %s (valid: file, offset, duration)%s", key, describe(k),
          did_you_mean(k, { "file", "offset", "duration" }))
      end
    end
    if type(v.file) ~= "string" then
      fail("%s.file must be a file name, got %s", key, describe(v.file))
    end
    local a = audio.load(v.file, { sr = sr, mono = true, offset = v.offset, duration = v.duration })
    return a, v.file
  elseif core_type(v) == "Audio" then
    local a = v
    if a.channels > 1 then a = a:mono() end
    if a.sr ~= sr then a = a:resample(sr) end
    return a, format("an Audio (%.2f s)", a:duration())
  end
  fail("%s must be a file name, an Audio or {file=, offset=, duration=}, got %s", key, describe(v))
end

-- crosssynth.crosssynth(opts) -> Audio, info. opts:
--   source, target: a file name, an Audio (mixed down and resampled as needed) or
--                   {file=, offset=, duration=} (seconds)
--   iter = 20       iterations (L in the paper)
--   r = 3           repetition restriction: frames on either side within which a source
--                   frame's activation must be the largest of its row (0: off)
--   p = 10          polyphony restriction: source frames kept per target frame
--   c = 3           continuity enhancement: H is summed along diagonals of 2c+1 (0: off)
--   seed = 0        H's random start
--   sr = 22050, n_fft = 2048, hop = 512, window = "hann"   the analysis (both files)
--   normalize = 0.99  true: peak 0.99; a number: that peak; false: as synthesised, scaled
--                   to peak 0.99 only if it would clip
--   out             a .wav or .flac file to write (atomically), optional
-- info: H (the M x N activations, a Matrix), divergence (KL of the fit), source_frames
-- (M), target_frames (N), samples, duration, sr, iter, r, p, c, peak (before levelling),
-- scale, seconds (wall-clock time), out, source and target (what they were).
function crosssynth.crosssynth(opts)
  local t0 = core.util.now()
  if type(opts) ~= "table" then
    error(format("bad argument #1 to 'crosssynth' (table expected, got %s)", type(opts)), 2)
  end
  local bad = {}
  for k in pairs(opts) do
    if not valid_set[k] then bad[#bad + 1] = k end
  end
  if #bad > 0 then
    sort(bad, function(a, b) return describe(a) < describe(b) end)
    fail("unknown option %s (valid: %s)%s", describe(bad[1]), concat(VALID, ", "),
      did_you_mean(bad[1], VALID))
  end
  local d = crosssynth.defaults
  local prm = {
    iter = integer(opts, "iter", 0), r = integer(opts, "r", 0), p = integer(opts, "p", 1),
    c = integer(opts, "c", 0), seed = integer(opts, "seed"),
  }
  local sr, n_fft, hop = integer(opts, "sr", 1), integer(opts, "n_fft", 2), integer(opts, "hop", 1)
  local window = opts.window or d.window
  if window ~= "hann" and window ~= "hamming" and window ~= "rect" then
    fail("window must be 'hann', 'hamming' or 'rect', got %s%s", describe(window),
      did_you_mean(window, { "hann", "hamming", "rect" }))
  end
  local normalize = opts.normalize
  if normalize == nil or normalize == true then
    normalize = d.normalize
  elseif normalize ~= false and not (type(normalize) == "number" and normalize > 0
                                     and normalize < math.huge) then
    fail("normalize must be a boolean or a peak > 0, got %s", describe(normalize))
  end
  local out = opts.out
  if out ~= nil then
    local ext = type(out) == "string" and out:match("%.(%w+)$")
    ext = ext and ext:lower()
    if ext ~= "wav" and ext ~= "flac" then
      fail("out must be a .wav or .flac file name, got %s", describe(out))
    end
  end

  local src, src_name = input(opts, "source", sr)
  local tgt, tgt_name = input(opts, "target", sr)
  for _, it in ipairs { { "source", src }, { "target", tgt } } do
    if #it[2] < n_fft then
      fail("the %s is shorter than one STFT frame (%d samples, n_fft %d)", it[1], #it[2], n_fft)
    end
  end
  local stft_opts = { n_fft = n_fft, hop = hop, window = window }
  local S = core.stft(src, stft_opts)
  local V = core.stft(tgt, stft_opts):magnitude()
  local H, divergence = core.crosssynth.fit(S:magnitude(), V, prm)
  local y = core.crosssynth.apply(S, H, { length = #tgt }):istft()

  local peak = y:peak()
  local scale = 1
  if normalize and peak > 0 then
    scale = normalize / peak
  elseif not normalize and peak > 1 then
    scale = 0.99 / peak
  end
  if scale ~= 1 then y = y:gain(scale) end
  if out ~= nil then y:save(out) end

  local M, N = H:shape()
  return y, {
    H = H, divergence = divergence, source_frames = M, target_frames = N,
    samples = #y, duration = #y / sr, sr = sr,
    iter = prm.iter, r = prm.r, p = prm.p, c = prm.c, seed = prm.seed,
    peak = peak, scale = scale, out = out, source = src_name, target = tgt_name,
    seconds = core.util.now() - t0,
  }
end

-- crosssynth.describe(info) -> one line for a terminal.
function crosssynth.describe(info)
  local what = info.out and format("wrote %s", info.out) or "synthesised"
  return format("%s: %s played with the sounds of %s, %.2f s at %d Hz; %d x %d activations, " ..
    "%d iterations (r %d, p %d, c %d), KL %.6g; %.2f s", what, info.target, info.source,
    info.duration, info.sr, info.source_frames, info.target_frames, info.iter, info.r, info.p,
    info.c, info.divergence, info.seconds)
end

-- Errors leave the public functions at the caller's line (lua/tessera/entry.lua).
return require("tessera.entry").export(crosssynth)
